#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Table-driven tests of docs/policy.md: host patterns, canonicalisation (with a bypass
//! corpus), the refusals and the decision order. Every case is decided by the fast matcher
//! and by the naive reference, which must agree.

use egress_policy_engine::reference::ReferenceDecider;
use egress_policy_engine::{Action, CompiledPolicy, Decision, Request, compile};

const POLICY: &str = r#"
version = 1
name = "semantics"
[defaults]
action = "pass"
ip_literals = "block"

[[rules]]
id = "block-malware"
action = "block"
hosts = ["malicious.com", "*.malicious.com"]
reason = "malware"

[[rules]]
id = "block-evil-sub"
action = "block"
hosts = ["*.evil.org"]

[[rules]]
id = "block-ec2-glob"
action = "block"
hosts = ["ec2.*.amazonaws.com", "api-*.glob.test"]
reason = "glob"

[[rules]]
id = "block-meta"
action = "block"
hosts = ["169.254.169.254", "127.0.0.0/8", "fd00:ec2::254", "::1"]
reason = "metadata"

[[rules]]
id = "pass-internal-ip"
action = "pass"
hosts = ["10.1.2.3"]

[[rules]]
id = "report-tracker"
action = "block"
mode = "report"
hosts = ["tracker.test", "api.example.com"]
reason = "tracking"

[[rules]]
id = "block-admin"
action = "block"
hosts = ["paths.test"]
paths = ["/admin/**", "/v1/*/secret"]
reason = "admin"

[[rules]]
id = "block-regex"
action = "block"
hosts = ["paths.test"]
path_regex = "^/internal/[0-9]+$"

[[rules]]
id = "block-acme-only"
action = "block"
hosts = ["scoped.test"]
customers = ["acme"]
reason = "acme scoped"

[[rules]]
id = "api"
action = "inject"
hosts = ["api.example.com"]
credential = "api-jwt"
schemes = ["https"]
ports = [443]
methods = ["GET", "POST"]

[[rules]]
id = "inject-tagged"
action = "inject"
hosts = ["tagged.test"]
credential = "api-jwt"
tags = ["prod"]

[[rules]]
id = "pass-api"
action = "pass"
hosts = ["api.example.com", "tagged.test"]

[[rules]]
id = "block-api-delete"
action = "block"
hosts = ["api.example.com"]
methods = ["DELETE"]
reason = "no deletes"

[credentials.api-jwt]
algorithm = "HS256"
secret = "API_KEY"
issuer = "egress"
audience = "api"
ttl = 60
"#;

fn policy(text: &str) -> CompiledPolicy {
    match compile("semantics.toml", text) {
        Ok(c) => c.policy,
        Err(d) => panic!("{d}"),
    }
}

fn decide_with(
    p: &CompiledPolicy,
    method: &str,
    url: &str,
    customer: Option<&str>,
    tags: &[&str],
) -> Decision {
    let tags: Vec<String> = tags.iter().map(|t| (*t).to_owned()).collect();
    let request = Request {
        method,
        url,
        customer,
        tags: Some(&tags),
    };
    let fast = p.decide(&request);
    let reference = ReferenceDecider::new(p).decide(&request);
    assert_eq!(
        fast, reference,
        "fast and reference disagree on {method} {url}"
    );
    fast
}

/// (url, expected action, expected rule id or reason code)
fn check_table(p: &CompiledPolicy, cases: &[(&str, Action, Option<&str>)]) {
    for (url, action, expect) in cases {
        let d = decide_with(p, "GET", url, Some("customer-1"), &[]);
        assert_eq!(d.action, *action, "{url}: {d:?}");
        let got = d.rule.as_ref().map(|r| r.id.as_str()).or(d.reason_text());
        assert_eq!(got, *expect, "{url}: {d:?}");
    }
}

#[test]
fn host_pattern_grammar() {
    let p = policy(POLICY);
    use Action::{Block, Pass};
    check_table(
        &p,
        &[
            ("https://malicious.com/", Block, Some("block-malware")),
            ("https://a.b.c.malicious.com/", Block, Some("block-malware")),
            // `*.` never matches the apex.
            ("https://evil.org/", Pass, None),
            ("https://x.evil.org/", Block, Some("block-evil-sub")),
            ("https://deep.x.evil.org/", Block, Some("block-evil-sub")),
            // In-label `*` never crosses a dot.
            (
                "https://ec2.us-east-1.amazonaws.com/",
                Block,
                Some("block-ec2-glob"),
            ),
            ("https://ec2.a.b.amazonaws.com/", Pass, None),
            ("https://ec2.amazonaws.com/", Pass, None),
            ("https://api-v2.glob.test/", Block, Some("block-ec2-glob")),
            ("https://api-.glob.test/", Block, Some("block-ec2-glob")),
            ("https://x.api-v2.glob.test/", Pass, None),
            ("https://apiv2.glob.test/", Pass, None),
            // Substrings and look-alike suffixes are other hosts.
            ("https://notmalicious.com/", Pass, None),
            ("https://malicious.com.evil.net/", Pass, None),
            ("https://malicious.community/", Pass, None),
            // IP and CIDR patterns.
            (
                "http://169.254.169.254/latest/meta-data",
                Block,
                Some("block-meta"),
            ),
            ("http://127.0.0.1/", Block, Some("block-meta")),
            ("http://127.255.0.9/", Block, Some("block-meta")),
            ("http://[fd00:ec2::254]/", Block, Some("block-meta")),
            ("http://[::1]/", Block, Some("block-meta")),
            ("http://10.1.2.3/", Pass, Some("pass-internal-ip")),
        ],
    );
}

#[test]
fn bypass_corpus() {
    let p = policy(POLICY);
    use Action::{Block, Pass};
    let blocked = Some("block-malware");
    check_table(
        &p,
        &[
            // Case and trailing dot.
            ("https://MALICIOUS.com/", Block, blocked),
            ("https://Malicious.COM./", Block, blocked),
            ("https://www.malicious.com./", Block, blocked),
            // IDN look-alikes and width forms map to the ASCII name under UTS-46.
            ("https://ｍalicious.com/", Block, blocked),
            ("https://ⓜⓐⓛⓘⓒⓘⓞⓤⓢ.com/", Block, blocked),
            ("https://ＭＡＬＩＣＩＯＵＳ．ＣＯＭ/", Block, blocked),
            // Ideographic full stop and percent-encoded dots in the host.
            ("https://malicious。com/", Block, blocked),
            ("https://malicious%2ecom/", Block, blocked),
            ("https://malicious%2Ecom/", Block, blocked),
            ("https://www%2emalicious%2ecom/", Block, blocked),
            // Userinfo: the host is what follows `@`, and userinfo is refused anyway.
            (
                "https://allowed.com@malicious.com/",
                Block,
                Some("userinfo_in_url"),
            ),
            (
                "https://malicious.com:pw@allowed.com/",
                Block,
                Some("userinfo_in_url"),
            ),
            ("https://user@allowed.com/", Block, Some("userinfo_in_url")),
            // Backslashes are slashes under WHATWG for http(s).
            ("https:\\\\malicious.com\\x", Block, blocked),
            // WHATWG ends the authority at `\`: this goes to allowed.com, like the runtime's fetch.
            ("https://allowed.com\\@malicious.com/", Pass, None),
            // IPv4 spellings of 169.254.169.254 and 127.0.0.1.
            ("http://2852039166/", Block, Some("block-meta")),
            ("http://0xA9FEA9FE/", Block, Some("block-meta")),
            ("http://0xa9.0xfe.0xa9.0xfe/", Block, Some("block-meta")),
            ("http://0251.0376.0251.0376/", Block, Some("block-meta")),
            ("http://169.254.43518/", Block, Some("block-meta")),
            ("http://0x7f.1/", Block, Some("block-meta")),
            ("http://127.1/", Block, Some("block-meta")),
            ("http://017700000001/", Block, Some("block-meta")),
            ("http://2130706433/", Block, Some("block-meta")),
            ("http://127.0.0.1./", Block, Some("block-meta")),
            // IPv6 and IPv4-mapped IPv6.
            (
                "http://[::ffff:169.254.169.254]/",
                Block,
                Some("block-meta"),
            ),
            ("http://[::ffff:a9fe:a9fe]/", Block, Some("block-meta")),
            ("http://[::ffff:7f00:1]/", Block, Some("block-meta")),
            ("http://[0:0:0:0:0:0:0:1]/", Block, Some("block-meta")),
            ("http://[FD00:EC2:0::254]/", Block, Some("block-meta")),
            ("http://[::ffff:10.1.2.3]/", Pass, Some("pass-internal-ip")),
            // Unnamed IP literals are refused (ip_literals = "block").
            ("http://8.8.8.8/", Block, Some("ip_literal")),
            ("http://[2001:db8::1]/", Block, Some("ip_literal")),
            ("http://134744072/", Block, Some("ip_literal")),
            // Host names with empty labels are not hosts: refused as invalid.
            ("https://malicious.com../", Block, Some("invalid_url")),
            ("https://.malicious.com/", Block, Some("invalid_url")),
        ],
    );
}

#[test]
fn path_canonicalisation() {
    let p = policy(POLICY);
    use Action::{Block, Pass};
    check_table(
        &p,
        &[
            ("https://paths.test/admin/users", Block, Some("block-admin")),
            ("https://paths.test/admin", Block, Some("block-admin")),
            (
                "https://paths.test/v1/../admin/x",
                Block,
                Some("block-admin"),
            ),
            (
                "https://paths.test/v1/%2e%2e/admin/x",
                Block,
                Some("block-admin"),
            ),
            (
                "https://paths.test/v1/%2E%2E/admin/x",
                Block,
                Some("block-admin"),
            ),
            (
                "https://paths.test/v1/.%2e/admin/x",
                Block,
                Some("block-admin"),
            ),
            ("https://paths.test/./admin/x", Block, Some("block-admin")),
            ("https://paths.test/%61dmin/x", Block, Some("block-admin")),
            (
                "https://paths.test/%61%64%6D%69%6E/x",
                Block,
                Some("block-admin"),
            ),
            ("https://paths.test\\admin\\x", Block, Some("block-admin")),
            ("https://paths.test/v1/x/secret", Block, Some("block-admin")),
            ("https://paths.test/v1/x/y/secret", Pass, None),
            // `%2F` is not a segment separator: it stays encoded.
            (
                "https://paths.test/v1/x%2Fy/secret",
                Block,
                Some("block-admin"),
            ),
            // A block's paths hold on any reading of the path: servers that decode `%2F`,
            // merge `//`, drop `;params` or compare case-insensitively read these as
            // `/admin/x`.
            ("https://paths.test/admin%2Fx", Block, Some("block-admin")),
            ("https://paths.test/Admin/x", Block, Some("block-admin")),
            ("https://paths.test//admin/x", Block, Some("block-admin")),
            ("https://paths.test/admin;x/y", Block, Some("block-admin")),
            (
                "https://paths.test/x/..%2Fadmin/y",
                Block,
                Some("block-admin"),
            ),
            (
                "https://paths.test/x/..;/admin/y",
                Block,
                Some("block-admin"),
            ),
            ("https://paths.test/INTERNAL/42", Block, Some("block-regex")),
            (
                "https://paths.test/internal//42",
                Block,
                Some("block-regex"),
            ),
            ("https://paths.test/administrator", Pass, None),
            ("https://paths.test/internal/42", Block, Some("block-regex")),
            (
                "https://paths.test/internal/%34%32",
                Block,
                Some("block-regex"),
            ),
            (
                "https://paths.test/internal/42?x=1",
                Block,
                Some("block-regex"),
            ),
            ("https://paths.test/internal/42/x", Pass, None),
        ],
    );
    let d = decide_with(
        &p,
        "GET",
        "https://paths.test/a/%7euser/%2f?q=%41",
        Some("c"),
        &[],
    );
    let t = d.target.unwrap();
    assert_eq!(
        (t.path.as_str(), t.query.as_deref()),
        ("/a/~user/%2F", Some("q=%41"))
    );
}

#[test]
fn ports_and_schemes() {
    let p = policy(POLICY);
    let d = decide_with(&p, "GET", "https://api.example.com/", Some("c"), &[]);
    assert_eq!((d.action, d.target.unwrap().port), (Action::Inject, 443));
    let d = decide_with(&p, "GET", "https://api.example.com:443/", Some("c"), &[]);
    assert_eq!(d.action, Action::Inject);
    // Port 8443 fails the inject rule's `ports`, so the pass rule decides.
    let d = decide_with(&p, "GET", "https://api.example.com:8443/", Some("c"), &[]);
    assert_eq!(
        (d.action, d.rule.unwrap().id.as_str()),
        (Action::Pass, "pass-api")
    );
    let d = decide_with(&p, "GET", "http://api.example.com/", Some("c"), &[]);
    assert_eq!((d.action, d.target.unwrap().port), (Action::Pass, 80));
    for url in [
        "ftp://malicious.com/",
        "file:///etc/passwd",
        "data:text/plain,hi",
        "ws://x.test/",
        "javascript:alert(1)",
    ] {
        let d = decide_with(&p, "GET", url, Some("c"), &[]);
        assert_eq!(
            (d.action, d.reason_text()),
            (Action::Block, Some("unsupported_scheme")),
            "{url}"
        );
    }
}

#[test]
fn malformed_urls_are_blocked() {
    let p = policy(POLICY);
    for url in [
        "",
        "not a url",
        "https://",
        "http://[::1/",
        "http://exa mple.com/",
        "https://a%00b.com/",
        "//malicious.com/",
        "http://1.2.3.4.5/",
        "http://999.1.1.1/",
        "\u{0}",
    ] {
        let d = decide_with(&p, "GET", url, Some("c"), &[]);
        assert_eq!(
            (d.action, d.reason_text()),
            (Action::Block, Some("invalid_url")),
            "{url:?}"
        );
    }
}

#[test]
fn refusal_order_and_no_customer() {
    let p = policy(POLICY);
    let d = decide_with(&p, "GET", "https://example.net/", None, &[]);
    assert_eq!(d.reason_text(), Some("no_customer"));
    // Present but not a clean name: refused, never repaired.
    for customer in [
        "",
        " customer-1",
        "customer-1 ",
        "a b",
        "a\u{0}",
        "a\u{200B}",
    ] {
        let d = decide_with(&p, "GET", "https://example.net/", Some(customer), &[]);
        assert_eq!(
            (d.action, d.reason_text()),
            (Action::Block, Some("invalid_customer")),
            "{customer:?}"
        );
    }
    for tag in ["", " prod", "a,b", "x\ty"] {
        let d = decide_with(&p, "GET", "https://example.net/", Some("c"), &[tag]);
        assert_eq!(d.reason_text(), Some("invalid_tags"), "{tag:?}");
    }
    // Scheme before userinfo before customer.
    let d = decide_with(&p, "GET", "ftp://u@example.net/", None, &[]);
    assert_eq!(d.reason_text(), Some("unsupported_scheme"));
    let d = decide_with(&p, "GET", "https://u@example.net/", None, &[]);
    assert_eq!(d.reason_text(), Some("userinfo_in_url"));
    let d = decide_with(&p, "GET", "http://8.8.8.8/", None, &[]);
    assert_eq!(d.reason_text(), Some("no_customer"));
}

#[test]
fn decision_order_deny_overrides_and_report_mode() {
    let p = policy(POLICY);
    // Report rule matches api.example.com: recorded, evaluation goes on to the inject rule.
    let d = decide_with(&p, "GET", "https://api.example.com/v1", Some("c"), &[]);
    assert_eq!(d.action, Action::Inject);
    assert_eq!(d.rule.as_ref().unwrap().id, "api");
    assert_eq!(d.credential.as_deref(), Some("api-jwt"));
    assert!(d.would_block);
    assert_eq!(d.report_rule.as_ref().unwrap().id, "report-tracker");
    assert_eq!(d.reason_text(), Some("tracking"));
    // A block rule later in the file beats the earlier inject rule.
    let d = decide_with(&p, "DELETE", "https://api.example.com/v1", Some("c"), &[]);
    assert_eq!(
        (d.action, d.rule.as_ref().unwrap().id.as_str()),
        (Action::Block, "block-api-delete")
    );
    assert_eq!(d.reason_text(), Some("no deletes"));
    assert!(d.would_block);
    // Report rule alone: passes with would_block.
    let d = decide_with(&p, "GET", "https://tracker.test/", Some("c"), &[]);
    assert_eq!(
        (d.action, d.rule.as_ref(), d.would_block),
        (Action::Pass, None, true)
    );
    assert_eq!(d.reason_text(), Some("tracking"));
    // Customer-scoped block.
    let d = decide_with(&p, "GET", "https://scoped.test/", Some("acme"), &[]);
    assert_eq!(d.action, Action::Block);
    let d = decide_with(&p, "GET", "https://scoped.test/", Some("other"), &[]);
    assert_eq!((d.action, d.would_block), (Action::Pass, false));
    // Tags: inject only for tagged customers, else the pass rule.
    let d = decide_with(
        &p,
        "GET",
        "https://tagged.test/",
        Some("c"),
        &["dev", "prod"],
    );
    assert_eq!(
        (d.action, d.rule.unwrap().id.as_str()),
        (Action::Inject, "inject-tagged")
    );
    let d = decide_with(&p, "GET", "https://tagged.test/", Some("c"), &["dev"]);
    assert_eq!(
        (d.action, d.rule.unwrap().id.as_str()),
        (Action::Pass, "pass-api")
    );
    // Rule lines are reported.
    let d = decide_with(&p, "GET", "https://malicious.com/", Some("c"), &[]);
    assert_eq!(d.rule.unwrap().line, 8);
}

#[test]
fn default_block_and_global_report_mode() {
    let base = r#"
version = 1
[defaults]
action = "block"
mode = "MODE"
ip_literals = "block"
[[rules]]
id = "ok"
action = "pass"
hosts = ["ok.test"]
[[rules]]
id = "bad"
action = "block"
hosts = ["bad.test"]
reason = "bad host"
[[rules]]
id = "bad-report"
action = "block"
mode = "report"
hosts = ["bad.test", "ok.test"]
"#;
    let enforce = policy(&base.replace("MODE", "enforce"));
    let d = decide_with(&enforce, "GET", "https://other.test/", Some("c"), &[]);
    assert_eq!(
        (d.action, d.reason_text(), &d.rule),
        (Action::Block, Some("default_action"), &None)
    );
    let d = decide_with(&enforce, "GET", "https://ok.test/", Some("c"), &[]);
    assert_eq!(
        (d.action, d.would_block, d.reason),
        (Action::Pass, true, None)
    );
    assert_eq!(d.report_rule.unwrap().id, "bad-report");

    let report = policy(&base.replace("MODE", "report"));
    let d = decide_with(&report, "GET", "https://other.test/", Some("c"), &[]);
    assert_eq!(
        (d.action, d.would_block, d.reason_text()),
        (Action::Pass, true, Some("default_action"))
    );
    let d = decide_with(&report, "GET", "https://bad.test/", Some("c"), &[]);
    assert_eq!(
        (d.action, d.would_block, d.reason_text()),
        (Action::Pass, true, Some("bad host"))
    );
    assert_eq!(d.report_rule.unwrap().id, "bad");
    let d = decide_with(&report, "GET", "http://8.8.8.8/", Some("c"), &[]);
    assert_eq!(
        (d.action, d.would_block, d.reason_text()),
        (Action::Pass, true, Some("ip_literal"))
    );
    // Safety refusals always block, report mode or not.
    for (url, code) in [
        ("ftp://x.test/", "unsupported_scheme"),
        ("https://u@x.test/", "userinfo_in_url"),
        ("nope", "invalid_url"),
    ] {
        let d = decide_with(&report, "GET", url, Some("c"), &[]);
        assert_eq!((d.action, d.reason_text()), (Action::Block, Some(code)));
    }
    let d = decide_with(&report, "GET", "https://x.test/", None, &[]);
    assert_eq!(
        (d.action, d.reason_text()),
        (Action::Block, Some("no_customer"))
    );
}

#[test]
fn ip_literals_allow_and_only_a_matching_enforcing_rule_lifts_the_refusal() {
    let allow = policy("version = 1\n[defaults]\nip_literals = \"allow\"\n");
    let d = decide_with(&allow, "GET", "http://8.8.8.8/", Some("c"), &[]);
    assert_eq!((d.action, d.reason), (Action::Pass, None));
    // A rule naming the IP lifts the refusal only for requests it matches.
    let named = policy(
        "version = 1\n[[rules]]\nid = \"r\"\naction = \"pass\"\nhosts = [\"8.8.8.0/24\"]\ncustomers = [\"acme\"]\n",
    );
    let d = decide_with(&named, "GET", "http://8.8.8.8/", Some("other"), &[]);
    assert_eq!(
        (d.action, &d.rule, d.reason_text()),
        (Action::Block, &None, Some("ip_literal"))
    );
    let d = decide_with(&named, "GET", "http://8.8.8.8/", Some("acme"), &[]);
    assert_eq!(
        (d.action, d.rule.map(|r| r.id)),
        (Action::Pass, Some("r".into()))
    );
    let d = decide_with(&named, "GET", "http://8.8.4.4/", Some("other"), &[]);
    assert_eq!(d.reason_text(), Some("ip_literal"));
}
