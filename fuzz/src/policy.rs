//! Policy text and request URLs: `parse_compile` and `decide`.

use std::sync::OnceLock;

use egress_policy_engine::artifact::Artifact;
use egress_policy_engine::canonical::{canonicalise, canonicalise_whatwg};
use egress_policy_engine::reference::ReferenceDecider;
use egress_policy_engine::{CompiledPolicy, Request, compile};

/// Parses and compiles arbitrary text; a compiled policy must round-trip through its artefact.
pub fn parse_compile(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(compiled) = compile("fuzz.toml", text) else {
        return;
    };
    let bytes = compiled.policy.to_artifact();
    let loaded = CompiledPolicy::load(Artifact::Bytes(&bytes));
    assert!(
        loaded.is_ok_and(|p| p.model() == compiled.policy.model()),
        "artefact does not round-trip"
    );
}

/// A fixed policy exercising every matcher strategy, used by [`decide`].
pub const FUZZ_POLICY: &str = r#"
version = 1
[defaults]
action = "pass"
ip_literals = "block"
[[rules]]
id = "b1"
action = "block"
hosts = ["malicious.com", "*.malicious.com", "ec2.*.amazonaws.com", "169.254.169.254", "10.0.0.0/8", "fd00::/8"]
[[rules]]
id = "r1"
action = "block"
mode = "report"
hosts = ["*.example.org"]
paths = ["/admin/**"]
[[rules]]
id = "i1"
action = "inject"
hosts = ["api.example.com"]
credential = "c"
path_regex = "^/v1/(users|orgs)/"
[[rules]]
id = "p1"
action = "pass"
customers = ["acme"]
tags = ["prod"]
methods = ["GET"]
[credentials.c]
algorithm = "HS256"
secret = "K"
issuer = "i"
audience = "a"
ttl = 60
"#;

/// The request a selector byte and a URL make: bit 0 picks the method, bit 1 the customer,
/// bits 2 and 3 the tags.
pub fn request<'a>(selector: u8, url: &'a str, tags: &'a [String]) -> Request<'a> {
    Request {
        method: if selector & 1 == 0 { "GET" } else { "POST" },
        url,
        customer: if selector & 2 == 0 {
            Some("acme")
        } else {
            None
        },
        tags: match selector & 12 {
            0 => Some(tags),
            4 => Some(&[]),
            _ => None,
        },
    }
}

/// Canonicalises and decides an arbitrary URL (the input's first byte picks the method and
/// customer) with the fast matcher, traced and not, and the reference; they must agree.
pub fn decide(data: &[u8]) {
    static POLICY: OnceLock<Option<CompiledPolicy>> = OnceLock::new();
    let policy = POLICY.get_or_init(|| compile("fuzz.toml", FUZZ_POLICY).ok().map(|c| c.policy));
    let Some(policy) = policy else {
        panic!("the fuzz policy does not compile");
    };
    let (selector, rest) = data.split_first().unwrap_or((&0, &[]));
    let Ok(url) = std::str::from_utf8(rest) else {
        return;
    };
    let tags = [String::from("prod")];
    let request = request(*selector, url, &tags);
    assert_eq!(
        canonicalise(url),
        canonicalise_whatwg(url),
        "the plain-URL fast path disagrees with the WHATWG parser on {url:?}"
    );
    let fast = policy.decide(&request);
    static REFERENCE: OnceLock<ReferenceDecider<'static>> = OnceLock::new();
    let reference = REFERENCE
        .get_or_init(|| ReferenceDecider::new(policy))
        .decide(&request);
    assert_eq!(
        fast, reference,
        "fast matcher and reference disagree on {url:?}"
    );
    assert_eq!(
        policy.explain(&request).0,
        fast,
        "the traced decision differs on {url:?}"
    );
}
