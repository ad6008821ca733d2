//! `explain`, run as the binary: human output (snapshots) and the JSON decision fields.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use support::run;

/// A frozen copy of the default policy, so line numbers and the sha256 stay put.
const POLICY: &str = "crates/cli/tests/fixtures/explain/policy.toml";

fn explain(args: &[&str]) -> String {
    let mut all = vec!["explain", "--policy", POLICY];
    all.extend_from_slice(args);
    let out = run(&all);
    assert_eq!(out.code, 0, "{}", out.stderr);
    out.stdout
}

#[test]
fn idn_spelling_of_a_blocked_host() {
    insta::assert_snapshot!(explain(&[
        "--customer",
        "customer-123",
        "https://ⓜalicious.com./x/../%61dmin"
    ]));
}

#[test]
fn ipv4_spelling_of_the_metadata_endpoint() {
    insta::assert_snapshot!(explain(&[
        "--customer",
        "customer-123",
        "http://0xa9fea9fe/latest/meta-data/"
    ]));
}

#[test]
fn injected_credential() {
    insta::assert_snapshot!(explain(&[
        "--customer",
        "customer-123",
        "--tags",
        "production,eu",
        "--method",
        "POST",
        "https://api.example.com/v1/orders"
    ]));
}

#[test]
fn report_mode_rule() {
    insta::assert_snapshot!(explain(&[
        "--customer",
        "customer-123",
        "https://xmr.nanopool.org/"
    ]));
}

#[test]
fn missing_customer_is_the_no_customer_refusal() {
    insta::assert_snapshot!(explain(&["https://api.example.com/v1/users"]));
}

#[test]
fn unnamed_ip_literal_and_unsupported_scheme_are_refusals() {
    let ip = explain(&["--customer", "c", "https://8.8.8.8/"]);
    assert!(ip.contains("decision:    block\n"), "{ip}");
    assert!(ip.contains("refused before any rule: `ip_literal`"), "{ip}");
    let ftp = explain(&["--customer", "c", "ftp://example.org/"]);
    assert!(ftp.contains("reason:      unsupported_scheme\n"), "{ftp}");
}

#[test]
fn json_has_the_log_lines_decision_fields() {
    let out = explain(&[
        "--customer",
        "customer-123",
        "--tags",
        "production",
        "--json",
        "https://API.example.com:443/v1/%75sers?q=1",
    ]);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let expected = serde_json::json!({
        "action": "inject",
        "would_block": false,
        "rule": "example-api",
        "rule_line": 84,
        "report_rule": null,
        "reason": null,
        "credential": "example-api-jwt",
        "method": "GET",
        "scheme": "https",
        "host": "api.example.com",
        "port": 443,
        "path": "/v1/users",
        "customer": "customer-123",
        "tags": ["production"],
        "policy": {
            "name": "platform-egress",
            "sha256": json["policy"]["sha256"].clone(),
        },
    });
    assert_eq!(json, expected);
    let source = std::fs::read(support::root().join(POLICY)).unwrap();
    let digest = <sha2::Sha256 as sha2::Digest>::digest(&source);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(json["policy"]["sha256"], hex);
}

#[test]
fn json_for_a_refusal_without_customer() {
    let out = explain(&["--json", "https://example.org/"]);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["action"], "block");
    assert_eq!(json["reason"], "no_customer");
    assert_eq!(json["customer"], serde_json::Value::Null);
    assert_eq!(json["rule"], serde_json::Value::Null);
    assert_eq!(json["rule_line"], serde_json::Value::Null);
}

#[test]
fn json_carries_the_query_only_when_the_policy_logs_it() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "version = 1\n[defaults]\nquery_in_logs = true\n[[rules]]\nid = \"b\"\naction = \"block\"\nhosts = [\"evil.example\"]\n",
    )
    .unwrap();
    let out = run(&[
        "explain",
        "--policy",
        policy.to_str().unwrap(),
        "--customer",
        "c",
        "--tags",
        "",
        "--json",
        "https://evil.example/p?q=1",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["query"], "q=1");
    assert_eq!(json["rule"], "b");
    assert_eq!(json["rule_line"], 4);
    assert_eq!(json["tags"], serde_json::json!([]));
    assert_eq!(json["policy"]["name"], serde_json::Value::Null);
}

#[test]
fn json_for_paths_servers_read_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "version = 1\n[[rules]]\nid = \"b\"\naction = \"block\"\nhosts = [\"api.test\"]\npaths = [\"/admin/**\"]\n\
         [[rules]]\nid = \"i\"\naction = \"inject\"\nhosts = [\"api.test\"]\npaths = [\"/v1/**\"]\ncredential = \"c\"\n\
         [credentials.c]\nalgorithm = \"HS256\"\nsecret = \"K\"\nissuer = \"i\"\naudience = \"a\"\nttl = 60\n",
    )
    .unwrap();
    let decide = |path: &str| {
        let out = run(&[
            "explain",
            "--policy",
            policy.to_str().unwrap(),
            "--customer",
            "c",
            "--json",
            &format!("https://api.test{path}"),
        ]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        (
            json["action"].clone(),
            json["rule"].clone(),
            json["reason"].clone(),
            json["credential"].clone(),
        )
    };
    for path in [
        "/admin%3Fx",
        "/%u0061dmin/x",
        "/admin%C0%AFx",
        "/%EF%BD%81dmin/x",
        "/%20admin/x",
        "/admin.json",
    ] {
        assert_eq!(
            decide(path),
            (
                "block".into(),
                "b".into(),
                serde_json::Value::Null,
                serde_json::Value::Null
            ),
            "{path}"
        );
    }
    for path in [
        "/v1/..%20/x",
        "/v1/%252525252e%252525252e/x",
        "/v1/%EF%BC%8E%EF%BC%8E/x",
    ] {
        assert_eq!(
            decide(path),
            (
                "block".into(),
                "i".into(),
                "ambiguous_path".into(),
                serde_json::Value::Null
            ),
            "{path}"
        );
    }
    assert_eq!(
        decide("/v1/report.json"),
        (
            "inject".into(),
            "i".into(),
            serde_json::Value::Null,
            "c".into()
        )
    );
}

#[test]
fn near_miss_says_why_the_inject_rule_did_not_apply() {
    insta::assert_snapshot!(explain(&[
        "--customer",
        "customer-123",
        "http://api.example.com/v1/users"
    ]));
}

#[test]
fn a_password_in_the_url_is_never_echoed() {
    let out = explain(&["--customer", "c", "https://user:s3cr3t@example.org/"]);
    assert!(!out.contains("s3cr3t"), "{out}");
    assert!(
        out.contains("request:     GET https://user:***@example.org/\n"),
        "{out}"
    );
    assert!(out.contains("reason:      userinfo_in_url\n"), "{out}");
}

#[test]
fn json_reads_who_and_how_as_the_worker_does() {
    let field = |args: &[&str], name: &str| -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let json: serde_json::Value = serde_json::from_str(&explain(&all)).unwrap();
        json[name].clone()
    };
    let url = "https://api.example.com/v1/users";
    // The method as the engine matched it and the Worker logs it.
    assert_eq!(
        field(
            &["--customer", "customer-123", "--method", "patch", url],
            "method"
        ),
        "PATCH"
    );
    // Tags as the Worker reads a comma-separated `customer_tags`: an empty entry is refused.
    assert_eq!(
        field(
            &[
                "--customer",
                "customer-123",
                "--tags",
                "production,,eu",
                url
            ],
            "reason"
        ),
        "invalid_tags"
    );
    assert_eq!(
        field(
            &[
                "--customer",
                "customer-123",
                "--tags",
                "production, eu",
                url
            ],
            "tags"
        ),
        serde_json::json!(["production", "eu"])
    );
    assert_eq!(
        field(&["--customer", "customer-123", "--tags", "", url], "tags"),
        serde_json::json!([])
    );
    // A customer that is not a clean name is refused, not repaired.
    for customer in [" customer-123", "customer 123", ""] {
        assert_eq!(
            field(&["--customer", customer, url], "reason"),
            "invalid_customer"
        );
    }
}

#[test]
fn why_names_the_refusals_of_hostile_requests() {
    let out = explain(&[
        "--customer",
        "customer-123",
        "https://api.example.com/v1/..%2F..%2Fadmin",
    ]);
    assert!(out.contains("reason:      ambiguous_path"), "{out}");
    assert!(out.contains("refused `ambiguous_path`"), "{out}");
    let out = explain(&[
        "--customer",
        "customer-123",
        "--method",
        "trace",
        "https://api.example.com/v1/x",
    ]);
    assert!(out.contains("refused `method_not_injectable`"), "{out}");
    let out = explain(&["--customer", "bad\u{7}name", "https://example.org/"]);
    assert!(
        out.contains("refused before any rule: `invalid_customer`"),
        "{out}"
    );
    assert!(!out.contains("please report"), "{out}");
}

#[test]
fn why_names_the_path_reading_the_engine_matched_on() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "version = 1\n[[rules]]\nid = \"b\"\naction = \"block\"\nhosts = [\"api.test\"]\npaths = [\"/admin\"]\n\
         [[rules]]\nid = \"p\"\naction = \"pass\"\nhosts = [\"api.test\"]\npaths = [\"/v1/**\"]\n",
    )
    .unwrap();
    let why = |url: &str| {
        let policy = policy.to_str().unwrap();
        let out = run(&["explain", "--policy", policy, "--customer", "c", url]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.stdout
    };
    // A block rule that holds on a reading of the path other than the canonical one.
    let out = why("https://api.test/admin%3Fx");
    assert!(
        out.contains("): host `api.test` matches `api.test`; path `/admin%3Fx` read as `/admin` matches `/admin`\n"),
        "{out}"
    );
    // A pass rule that holds on the canonical path but not on every reading.
    let out = why("https://api.test/v1/..%2Fadmin%2Fx");
    assert!(
        out.contains("names the host but does not match: p ("),
        "{out}"
    );
    assert!(
        out.contains(
            ": path `/v1/..%2Fadmin%2Fx` read as `/admin/x` matches none of its `paths`\n"
        ),
        "{out}"
    );
    // An inject rule refused for an ambiguous path: the reading it does not match.
    let out = explain(&[
        "--customer",
        "customer-123",
        "https://api.example.com/v1/..%2F..%2Fadmin",
    ]);
    assert!(
        out.contains("  not every reading matches: path `/v1/..%2F..%2Fadmin` read as `/admin` matches none of its `paths`\n"),
        "{out}"
    );
}

#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_egress-policy"))
        .current_dir(support::root())
        .args([
            "explain",
            "--policy",
            POLICY,
            "--customer",
            "customer-123",
            "https://example.org/",
        ])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
