#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The policy's meaning under hostile policies and requests: naming an IP never widens
//! access, no path spelling slips a block or carries a token out of scope, the method and the
//! identity are read one way. Every decision is also checked against the reference decider.

use egress_policy_engine::reference::ReferenceDecider;
use egress_policy_engine::{Action, CompiledPolicy, Decision, PathGlob, Request, compile};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::TestCaseError;

fn policy(text: &str) -> CompiledPolicy {
    match compile("hostile.toml", text) {
        Ok(c) => c.policy,
        Err(d) => panic!("{d}"),
    }
}

fn decide(p: &CompiledPolicy, method: &str, url: &str, customer: &str) -> Decision {
    let request = Request {
        method,
        url,
        customer: Some(customer),
        tags: Some(&[]),
    };
    let fast = p.decide(&request);
    assert_eq!(
        fast,
        ReferenceDecider::new(p).decide(&request),
        "fast and reference disagree on {method} {url}"
    );
    fast
}

/// (action, rule id, reason)
fn outcome(d: &Decision) -> (Action, Option<&str>, Option<&str>) {
    (
        d.action,
        d.rule.as_ref().map(|r| r.id.as_str()),
        d.reason_text(),
    )
}

const IP_STAGING: &str = r#"
version = 1

[[rules]]
id = "staged-metadata"
action = "block"
mode = "report"
hosts = ["169.254.0.0/16"]
reason = "metadata"

[[rules]]
id = "acme-no-raw-ips"
action = "block"
hosts = ["0.0.0.0/0", "::/0"]
customers = ["acme"]
reason = "acme may not use raw IPs"

[[rules]]
id = "globex-internal"
action = "pass"
hosts = ["10.0.0.0/8"]
customers = ["globex"]
methods = ["GET"]
paths = ["/status/**"]

[[rules]]
id = "v4-block"
action = "block"
hosts = ["192.0.2.0/24"]
reason = "documentation range"
"#;

#[test]
fn naming_an_ip_never_widens_access() {
    let p = policy(IP_STAGING);
    let refused = (Action::Block, None, Some("ip_literal"));
    // A report-mode rule reports, and the refusal still decides.
    let d = decide(
        &p,
        "GET",
        "http://169.254.169.254/latest/meta-data",
        "initech",
    );
    assert_eq!(outcome(&d), refused);
    assert!(d.would_block);
    assert_eq!(d.report_rule.unwrap().id, "staged-metadata");
    // A block meant for one customer lifts nothing for the others.
    for host in ["8.8.8.8", "[2001:db8::1]", "10.0.0.1"] {
        let d = decide(&p, "GET", &format!("http://{host}/"), "initech");
        assert_eq!(outcome(&d), refused, "{host}");
    }
    let d = decide(&p, "GET", "http://8.8.8.8/", "acme");
    assert_eq!(
        outcome(&d),
        (
            Action::Block,
            Some("acme-no-raw-ips"),
            Some("acme may not use raw IPs")
        )
    );
    // The naming rule lifts the refusal only when every one of its conditions holds.
    let lifted = (Action::Pass, Some("globex-internal"), None);
    assert_eq!(
        outcome(&decide(&p, "GET", "http://10.1.2.3/status/x", "globex")),
        lifted
    );
    assert_eq!(
        outcome(&decide(&p, "get", "http://10.1.2.3/status/x", "globex")),
        lifted
    );
    for (method, url, customer) in [
        ("POST", "http://10.1.2.3/status/x", "globex"),
        ("GET", "http://10.1.2.3/admin", "globex"),
        ("GET", "http://10.1.2.3/status/..%2F..%2Fadmin", "globex"),
        ("GET", "http://10.1.2.3/status/x", "initech"),
    ] {
        assert_eq!(
            outcome(&decide(&p, method, url, customer)),
            refused,
            "{method} {url} {customer}"
        );
    }
}

#[test]
fn ipv6_forms_embedding_ipv4_meet_ipv4_blocks() {
    let p = policy(IP_STAGING);
    // 192.0.2.1 = c000:201; Teredo carries it inverted (3fff:fdfe).
    for host in [
        "[64:ff9b::c000:201]",
        "[64:ff9b::192.0.2.1]",
        "[64:ff9b:1::c000:201]",
        "[::192.0.2.1]",
        "[::c000:201]",
        "[2002:c000:201::1]",
        "[2001:0:4136:e378:8000:63bf:3fff:fdfe]",
        "[::ffff:192.0.2.1]",
        "[::ffff:0:192.0.2.1]",
        "[::ffff:0:c000:201]",
    ] {
        let d = decide(&p, "GET", &format!("http://{host}/"), "initech");
        assert_eq!(
            outcome(&d),
            (Action::Block, Some("v4-block"), Some("documentation range")),
            "{host}"
        );
    }
    // Embedded forms only ever meet blocks: a pass rule naming the IPv4 range does not
    // open its IPv6 spellings, which stay refused.
    let d = decide(&p, "GET", "http://[64:ff9b::a01:203]/status/x", "globex");
    assert_eq!(outcome(&d), (Action::Block, None, Some("ip_literal")));
    // An unrelated IPv6 address is not read as IPv4.
    let allow = policy(
        "version = 1\n[defaults]\nip_literals = \"allow\"\n[[rules]]\nid = \"b\"\naction = \"block\"\nhosts = [\"192.0.2.0/24\"]\n",
    );
    let d = decide(&allow, "GET", "http://[2001:db8::c000:201]/", "c");
    assert_eq!(outcome(&d), (Action::Pass, None, None));
}

const PATHS: &str = r#"
version = 1

[[rules]]
id = "block-admin"
action = "block"
hosts = ["api.example.com", "public.example.com"]
paths = ["/admin/**"]
reason = "admin"

[[rules]]
id = "api"
action = "inject"
hosts = ["api.example.com"]
paths = ["/v1/**"]
credential = "jwt"

[[rules]]
id = "public"
action = "pass"
hosts = ["public.example.com"]
paths = ["/public/**"]
[credentials.jwt]
algorithm = "HS256"
secret = "KEY"
issuer = "i"
audience = "a"
ttl = 60
"#;

#[test]
fn no_path_spelling_slips_a_block() {
    let p = policy(PATHS);
    for path in [
        "/admin/x",
        "/admin",
        "//admin/x",
        "/admin;x/y",
        "/x/..%2Fadmin/y",
        "/x/..%2fadmin/y",
        "/x/..;/admin/y",
        "/x/..%5Cadmin/y",
        "/x/%252e%252e/admin/y",
        "/x/..%252Fadmin/y",
        "/Admin/x",
        "/ADMIN",
        "/admin./x",
        "/admin%00/x",
        "/%61dmin/x",
        "/x/%2e%2e/admin",
        "/admin%2Fx",
        "/v1/../admin",
    ] {
        let d = decide(&p, "GET", &format!("https://api.example.com{path}"), "acme");
        assert_eq!(
            outcome(&d),
            (Action::Block, Some("block-admin"), Some("admin")),
            "{path}"
        );
    }
    for path in ["/administrator", "/x/admin", "/adm%69n2"] {
        let d = decide(&p, "GET", &format!("https://api.example.com{path}"), "acme");
        assert_eq!(d.action, Action::Pass, "{path}");
    }
}

#[test]
fn a_token_never_leaves_its_path_scope() {
    let p = policy(PATHS);
    let injected = (Action::Inject, Some("api"), None);
    for path in ["/v1/users", "/v1", "/v1/a;b/c", "/v1//users", "/v1/%7Euser"] {
        let d = decide(&p, "GET", &format!("https://api.example.com{path}"), "acme");
        assert_eq!(outcome(&d), injected, "{path}");
        assert_eq!(d.credential.as_deref(), Some("jwt"));
    }
    for path in [
        "/v1/..%2F..%2Fother",
        "/v1/..%2fother",
        "/v1/..;/other",
        "/v1/x/..%5C..%5Cother",
        "/v1/%252e%252e/other",
        "/v1/..%252Fother",
    ] {
        let d = decide(&p, "GET", &format!("https://api.example.com{path}"), "acme");
        assert_eq!(
            outcome(&d),
            (Action::Block, Some("api"), Some("ambiguous_path")),
            "{path}"
        );
        assert_eq!(d.credential, None);
    }
    // Not in scope on the canonical path: no token, and not a refusal either.
    let d = decide(&p, "GET", "https://api.example.com/v2/..%2Fv1/x", "acme");
    assert_eq!(outcome(&d), (Action::Pass, None, None));
}

#[test]
fn an_allow_holds_only_on_every_reading() {
    let p = policy(
        "version = 1\n[defaults]\naction = \"block\"\n[[rules]]\nid = \"public\"\naction = \"pass\"\nhosts = [\"x.test\"]\npaths = [\"/public/**\"]\n",
    );
    for path in ["/public/a", "/public//a", "/public/a;v=1"] {
        let d = decide(&p, "GET", &format!("https://x.test{path}"), "acme");
        assert_eq!(outcome(&d), (Action::Pass, Some("public"), None), "{path}");
    }
    for path in [
        "/public/..%2Fprivate",
        "/public/..;/private",
        "/public/%2e%2e%2fprivate",
    ] {
        let d = decide(&p, "GET", &format!("https://x.test{path}"), "acme");
        assert_eq!(
            outcome(&d),
            (Action::Block, None, Some("default_action")),
            "{path}: the pass rule does not cover every reading"
        );
    }
}

/// The second review's spellings: a decoded `?` or `#` a proxy cuts at, IIS `%uXXXX`,
/// overlong UTF-8, fullwidth and other compatibility forms, whitespace a framework trims, a
/// suffix a router ignores, five rounds of encoding.
const SECOND_REVIEW_BLOCKED: &[&str] = &[
    "/admin%3Fx",
    "/admin%23/x",
    "/%u0061dmin/x",
    "/admin%C0%AFx",
    "/%EF%BD%81dmin/x",
    "/admin%09/x",
    "/%20admin/x",
    "/v1/..%20/admin",
    "/admin.json",
    "/x/%252525252e%252525252e/admin/y",
];

/// The same classes under an inject scope of `/v1/**`: each reads as a path outside it.
const SECOND_REVIEW_OUT_OF_SCOPE: &[&str] = &[
    "/v1/..%3F",
    "/v1/..%23/x",
    "/v1/%u002e%u002e/other",
    "/v1/..%C0%AFother",
    "/v1/%EF%BC%8E%EF%BC%8E/other",
    "/v1/%E2%80%A5/other",
    "/v1/..%09/other",
    "/v1/%20../other",
    "/v1/..%20/other",
    "/v1/%252525252e%252525252e/other",
];

#[test]
fn the_second_reviews_spellings_are_blocked() {
    let p = policy(PATHS);
    for path in SECOND_REVIEW_BLOCKED {
        let d = decide(&p, "GET", &format!("https://api.example.com{path}"), "acme");
        assert_eq!(
            outcome(&d),
            (Action::Block, Some("block-admin"), Some("admin")),
            "{path}"
        );
    }
    // Routers that ignore a trailing slash or a suffix reach an exact path too.
    let exact = policy(
        "version = 1\n[[rules]]\nid = \"b\"\naction = \"block\"\nhosts = [\"x.test\"]\npaths = [\"/admin\"]\n",
    );
    for path in ["/admin/", "/admin.json", "/admin.json/", "/%20admin%20/"] {
        let d = decide(&exact, "GET", &format!("https://x.test{path}"), "acme");
        assert_eq!(outcome(&d), (Action::Block, Some("b"), None), "{path}");
    }
}

#[test]
fn the_second_reviews_spellings_carry_no_token_out_of_scope() {
    let p = policy(PATHS);
    for path in SECOND_REVIEW_OUT_OF_SCOPE {
        let d = decide(&p, "GET", &format!("https://api.example.com{path}"), "acme");
        assert_eq!(
            outcome(&d),
            (Action::Block, Some("api"), Some("ambiguous_path")),
            "{path}"
        );
        assert_eq!(d.credential, None);
    }
    // Ordinary spellings of the same kinds stay in scope.
    for path in [
        "/v1/report.json",
        "/v1/my%20file.pdf",
        "/v1/caf%C3%A9",
        "/v1/a%3Fb",
    ] {
        let d = decide(&p, "GET", &format!("https://api.example.com{path}"), "acme");
        assert_eq!(outcome(&d), (Action::Inject, Some("api"), None), "{path}");
    }
}

#[test]
fn a_suffix_router_keeps_an_allow_from_covering_another_resource() {
    // A suffix-matching router serves `/public/admin.png` from `/public/admin`: a pass rule
    // naming an extension does not cover every reading, so it does not match.
    let p = policy(
        "version = 1\n[defaults]\naction = \"block\"\n[[rules]]\nid = \"png\"\naction = \"pass\"\nhosts = [\"x.test\"]\npaths = [\"/public/*.png\"]\n[[rules]]\nid = \"public\"\naction = \"pass\"\nhosts = [\"x.test\"]\npaths = [\"/public/**\"]\n",
    );
    let d = decide(&p, "GET", "https://x.test/public/admin.png", "acme");
    assert_eq!(outcome(&d), (Action::Pass, Some("public"), None));
}

#[test]
fn methods_are_read_the_way_the_runtime_sends_them() {
    let p = policy(PATHS);
    for method in ["TRACE", "trace", "TRACK", "CONNECT", "connect"] {
        let d = decide(&p, method, "https://api.example.com/v1/users", "acme");
        assert_eq!(
            outcome(&d),
            (Action::Block, Some("api"), Some("method_not_injectable")),
            "{method}"
        );
    }
    let scoped = policy(
        "version = 1\n[[rules]]\nid = \"no-deletes\"\naction = \"block\"\nmethods = [\"DELETE\"]\nhosts = [\"x.test\"]\n",
    );
    for method in ["DELETE", "delete", "Delete"] {
        let d = decide(&scoped, method, "https://x.test/", "acme");
        assert_eq!(d.action, Action::Block, "{method}");
    }
}

// ---------------------------------------------------------------- server models
//
// Each model is a plain, independent implementation of how one kind of upstream server reads
// a path. Whatever any of them reads, a block rule's glob must catch; an injected request's
// path must be in the inject rule's scope under every one of them.

fn decode_once(path: &str) -> String {
    String::from_utf8_lossy(&decode_bytes(path)).into_owned()
}

fn decode_bytes(path: &str) -> Vec<u8> {
    let bytes = path.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(v) = u8::from_str_radix(&path[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// IIS: `%uXXXX` is a UTF-16 code unit, besides `%XX`.
fn decode_iis(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(hex) = rest.strip_prefix("%u").or(rest.strip_prefix("%U"))
            && let Some(unit) = hex.get(..4).and_then(|h| u32::from_str_radix(h, 16).ok())
        {
            out.push(char::from_u32(unit).unwrap_or('\u{FFFD}'));
            rest = &hex[4..];
        } else {
            let len = rest.chars().next().unwrap().len_utf8();
            out.push_str(&rest[..len]);
            rest = &rest[len..];
        }
    }
    decode_once(&out)
}

/// A decoder that reads overlong UTF-8 (`C0 AF`, `E0 80 AF`) as the ASCII it encodes.
fn decode_overlong(path: &str) -> String {
    let bytes = decode_bytes(path);
    let mut fixed = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if (b == 0xC0 || b == 0xC1) && i + 1 < bytes.len() {
            fixed.push(((b & 1) << 6) | (bytes[i + 1] & 0x3F));
            i += 2;
        } else if b == 0xE0 && i + 2 < bytes.len() && bytes[i + 1] == 0x80 {
            fixed.push(bytes[i + 2] & 0x3F);
            i += 3;
        } else {
            fixed.push(b);
            i += 1;
        }
    }
    String::from_utf8_lossy(&fixed).into_owned()
}

/// NFKC as far as it reaches ASCII here: fullwidth forms and the dot leaders.
fn nfkc(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap().to_string(),
            '\u{2024}' | '\u{FE52}' => ".".to_owned(),
            '\u{2025}' => "..".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

/// Spring's path matching: segments trimmed (Java's `trim`), empty ones dropped.
fn trimmed(path: &str) -> String {
    let kept: Vec<&str> = path
        .split('/')
        .map(|s| s.trim_matches(|c: char| c <= ' '))
        .filter(|s| !s.is_empty())
        .collect();
    format!("/{}", kept.join("/"))
}

/// Suffix pattern matching: `/admin.json` served by `/admin`.
fn suffixless(path: &str) -> String {
    let (head, last) = path.rsplit_once('/').unwrap();
    match last.split_once('.') {
        Some((name, _)) if !name.is_empty() => format!("{head}/{name}"),
        _ => path.to_owned(),
    }
}

/// A proxy that decodes and then splits off a query or fragment.
fn cut_query(path: &str) -> String {
    path.split(['?', '#']).next().unwrap().to_owned()
}

fn decode_until_stable(path: &str) -> String {
    let mut current = path.to_owned();
    loop {
        let next = decode_once(&current);
        if next == current {
            return current;
        }
        current = next;
    }
}

fn resolve(path: &str) -> String {
    let mut stack: Vec<&str> = Vec::new();
    let parts: Vec<&str> = path[1..].split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        match *part {
            "." | ".." => {
                if *part == ".." {
                    stack.pop();
                }
                if i == parts.len() - 1 {
                    stack.push("");
                }
            }
            p => stack.push(p),
        }
    }
    format!("/{}", stack.join("/"))
}

/// (name, reading, compares case-insensitively)
fn server_readings(path: &str) -> Vec<(&'static str, String, bool)> {
    let decoded = decode_once(path).replace('\\', "/");
    let twice = decode_once(&decode_once(path)).replace('\\', "/");
    let merged = {
        let mut s = path.to_owned();
        while s.contains("//") {
            s = s.replace("//", "/");
        }
        s
    };
    let tomcat: String = path
        .split('/')
        .map(|seg| seg.split(';').next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("/");
    vec![
        ("as sent", path.to_owned(), false),
        ("decoding", resolve(&decoded), false),
        ("double decoding", resolve(&twice), false),
        (
            "recursive decoding",
            resolve(&decode_until_stable(path)),
            false,
        ),
        ("slash merging", resolve(&merged), false),
        ("matrix params", resolve(&tomcat), false),
        ("query cutting proxy", resolve(&cut_query(&decoded)), false),
        ("IIS", resolve(&decode_iis(path).replace('\\', "/")), false),
        ("overlong UTF-8", resolve(&decode_overlong(path)), false),
        ("NFKC", resolve(&nfkc(&decoded).replace('\\', "/")), false),
        ("Spring trimming", resolve(&trimmed(&decoded)), false),
        ("Spring suffix", suffixless(&resolve(&decoded)), false),
        ("case-insensitive", path.to_owned(), true),
        ("case-insensitive decoding", resolve(&decoded), true),
    ]
}

fn glob_catches(glob: &PathGlob, reading: &str, ignore_case: bool) -> bool {
    if ignore_case {
        glob.matches_ignoring_case(reading)
    } else {
        glob.matches(reading)
    }
}

fn hostile_path() -> impl Strategy<Value = String> {
    prop::collection::vec(
        select(
            &[
                "v1",
                "admin",
                "Admin",
                "x",
                "..",
                ".",
                "%2e%2e",
                "..;",
                "a;b",
                "",
                "%2F",
                "..%2F",
                "%252F",
                "..%5C",
                "%5C",
                "users",
                "%3F",
                "..%23",
                "%u002e%u002e",
                "%u0061dmin",
                "..%C0%AF",
                "%C0%AE%C0%AE",
                "%EF%BD%81dmin",
                "%EF%BC%8E%EF%BC%8E",
                "%E2%80%A5",
                "..%20",
                "%20admin",
                "admin%09",
                "admin.json",
                "x.",
                "%252525252e%252525252e",
            ][..],
        ),
        1..7,
    )
    .prop_map(|segments| format!("/{}", segments.join("/")))
}

/// Whatever a server model reads `path` as, a block of `block_glob` catches, and a token
/// given under `inject_glob` stays in scope.
fn servers_agree(path: &str, block_glob: &str, inject_glob: &str) -> Result<(), TestCaseError> {
    let text = format!(
        "version = 1\n[[rules]]\nid = \"b\"\naction = \"block\"\nhosts = [\"b.test\"]\npaths = [{block_glob:?}]\n\
         [[rules]]\nid = \"i\"\naction = \"inject\"\nhosts = [\"i.test\"]\npaths = [{inject_glob:?}]\ncredential = \"c\"\n\
         [credentials.c]\nalgorithm = \"HS256\"\nsecret = \"K\"\nissuer = \"i\"\naudience = \"a\"\nttl = 60\n"
    );
    let p = policy(&text);
    let blocked = decide(&p, "GET", &format!("https://b.test{path}"), "c");
    let target_path = blocked.target.as_ref().unwrap().path.clone();
    let block = PathGlob::parse(block_glob).unwrap();
    for (server, reading, ignore_case) in server_readings(&target_path) {
        if glob_catches(&block, &reading, ignore_case) {
            prop_assert_eq!(
                blocked.action,
                Action::Block,
                "{} server reads {} as {}, which {} matches",
                server,
                path,
                reading,
                block_glob
            );
        }
    }
    let injected = decide(&p, "GET", &format!("https://i.test{path}"), "c");
    if injected.action == Action::Inject {
        let scope = PathGlob::parse(inject_glob).unwrap();
        for (server, reading, ignore_case) in server_readings(&target_path) {
            if !ignore_case {
                prop_assert!(
                    scope.matches(&reading),
                    "token given for {} but the {} server reads {}",
                    path,
                    server,
                    reading
                );
            }
        }
    }
    Ok(())
}

/// The reviews' spellings through the property's check: each class is covered by a model,
/// whatever spellings the random runs draw.
#[test]
fn every_server_model_agrees_on_the_reviews_spellings() {
    for path in SECOND_REVIEW_BLOCKED
        .iter()
        .chain(SECOND_REVIEW_OUT_OF_SCOPE)
    {
        if let Err(e) = servers_agree(path, "/admin/**", "/v1/**") {
            panic!("{path}: {e}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn whatever_a_server_reads_a_block_catches_and_a_token_stays_in_scope(
        path in hostile_path(),
        block_glob in select(&["/admin/**", "/admin", "/x/admin/**", "/Admin/*"][..]),
        inject_glob in select(&["/v1/**", "/v1/users", "/v1/*/users"][..]),
    ) {
        servers_agree(&path, block_glob, inject_glob)?;
    }
}
