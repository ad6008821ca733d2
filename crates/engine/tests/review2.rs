#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The second outside security review (issue 14), one test per finding the engine decides or
//! `check` judges: tokens only over https to port 443 by default, secrets that name no
//! identity parameter or setting, identities in a safe alphabet, tag-scoped policies that
//! fail closed, list files inside the policy's directory, credential headers, hostile hosts,
//! long-lived tokens, and the shipped policies.

use std::path::Path;

use egress_policy_engine::{
    Action, CompiledPolicy, ListFiles, Request, Severity, compile, compile_with_lists, list_files,
};

const CREDENTIAL: &str = "\n[credentials.c]\nalgorithm = \"ES256\"\nsecret = \"API_KEY\"\nissuer = \"i\"\naudience = \"a\"\nttl = 300\n";

fn policy(text: &str) -> CompiledPolicy {
    match compile("p.toml", text) {
        Ok(c) => c.policy,
        Err(d) => panic!("{d}"),
    }
}

/// The codes of every diagnostic, errors and warnings, whether or not the policy compiles.
fn codes(text: &str) -> Vec<(Severity, &'static str)> {
    let diags = match compile("p.toml", text) {
        Ok(c) => c.warnings,
        Err(d) => d.0,
    };
    diags
        .iter()
        .map(|d| (d.severity, d.code.as_str()))
        .collect()
}

fn decide(p: &CompiledPolicy, method: &str, url: &str) -> (Action, Option<String>) {
    decide_as(p, method, url, Some("acme"), Some(&[]))
}

fn decide_as(
    p: &CompiledPolicy,
    method: &str,
    url: &str,
    customer: Option<&str>,
    tags: Option<&[String]>,
) -> (Action, Option<String>) {
    let d = p.decide(&Request {
        method,
        url,
        customer,
        tags,
    });
    (d.action, d.reason_text().map(str::to_owned))
}

fn inject_rule(extra: &str) -> String {
    format!(
        "version = 1\n[[rules]]\nid = \"api\"\naction = \"inject\"\nhosts = [\"billing.example.com\"]\ncredential = \"c\"\n{extra}{CREDENTIAL}"
    )
}

/// Item 1: an inject rule without `schemes` or `ports` injects only over https to port 443;
/// any other request falls through to the other rules and the default.
#[test]
fn inject_defaults_to_https_on_port_443() {
    let p = policy(&inject_rule(""));
    assert_eq!(
        decide(&p, "GET", "https://billing.example.com/x").0,
        Action::Inject
    );
    assert_eq!(
        decide(&p, "GET", "https://billing.example.com:443/x").0,
        Action::Inject
    );
    for url in [
        "http://billing.example.com/x",
        "https://billing.example.com:8080/x",
        "https://billing.example.com:0/x",
        "http://billing.example.com:443/x",
    ] {
        assert_eq!(decide(&p, "GET", url), (Action::Pass, None), "{url}");
    }
    // Falling through means the default decides: an allow-list blocks it.
    let allow_list = policy(&inject_rule("").replace(
        "version = 1\n",
        "version = 1\n[defaults]\naction = \"block\"\n",
    ));
    assert_eq!(
        decide(&allow_list, "GET", "http://billing.example.com/x"),
        (Action::Block, Some("default_action".to_owned()))
    );
    assert!(codes(&inject_rule("")).is_empty());
}

/// Item 1: opting out is explicit, and `check` warns where a rule does.
#[test]
fn inject_beyond_https_443_is_explicit_and_warned() {
    let http = inject_rule("schemes = [\"http\", \"https\"]\n");
    assert_eq!(codes(&http), [(Severity::Warning, "inject-over-http")]);
    let p = policy(&http);
    // Without `ports`, each scheme's default port.
    assert_eq!(
        decide(&p, "GET", "http://billing.example.com/x").0,
        Action::Inject
    );
    assert_eq!(
        decide(&p, "GET", "http://billing.example.com:8080/x").0,
        Action::Pass
    );

    let port = inject_rule("ports = [443, 8443]\n");
    assert_eq!(codes(&port), [(Severity::Warning, "inject-other-port")]);
    let p = policy(&port);
    assert_eq!(
        decide(&p, "GET", "https://billing.example.com:8443/x").0,
        Action::Inject
    );
    assert_eq!(
        decide(&p, "GET", "http://billing.example.com:8443/x").0,
        Action::Pass
    );
    // Writing the defaults out is no opt-out.
    assert!(codes(&inject_rule("schemes = [\"https\"]\nports = [443]\n")).is_empty());
    // Pass and block rules keep matching every scheme and port.
    let block =
        policy("version = 1\n[[rules]]\nid = \"b\"\naction = \"block\"\nhosts = [\"x.example\"]\n");
    assert_eq!(
        decide(&block, "GET", "http://x.example:8080/").0,
        Action::Block
    );
}

/// Item 2: a credential's secret never names an identity parameter or a setting of this
/// Worker, in any case.
#[test]
fn secrets_cannot_name_identity_parameters_or_settings() {
    for name in [
        "customer_name",
        "customer_tags",
        "customer_context",
        "CUSTOMER_NAME",
        "EGRESS_BUNDLE_PUBLIC_KEY",
        "EGRESS_IDENTITY_FROM_PROPS",
        "EGRESS_POLICY_KV",
        "egress_anything",
    ] {
        let text = inject_rule("").replace("API_KEY", name);
        let failed = compile("p.toml", &text).unwrap_err();
        let errors: Vec<&str> = failed
            .0
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| d.code.as_str())
            .collect();
        assert_eq!(errors, ["reserved-secret-name"], "{name}");
        let rendered: String = failed.0.iter().map(|d| d.render("p.toml", &text)).collect();
        assert!(rendered.contains("help: "), "{rendered}");
    }
    for name in ["API_KEY", "CUSTOMER_NAME_KEY", "EGRESSKEY", "MY_EGRESS_KEY"] {
        assert!(
            compile("p.toml", &inject_rule("").replace("API_KEY", name)).is_ok(),
            "{name}"
        );
    }
}

/// Item 3: a customer or tag followed by a character that renders as nothing, reorders the
/// text or combines with the letter before it is refused, and so never escapes the rules
/// scoped to the real customer.
#[test]
fn look_alike_identities_are_refused() {
    let p = policy(
        "version = 1\n[[rules]]\nid = \"no-acme\"\naction = \"block\"\ncustomers = [\"acme\"]\n[[rules]]\nid = \"no-prod\"\naction = \"block\"\ntags = [\"prod\"]\n",
    );
    for suffix in [
        '\u{202E}',
        '\u{2066}',
        '\u{3164}',
        '\u{E0001}',
        '\u{034F}',
        '\u{FE0F}',
        '\u{180E}',
        '\u{0301}',
    ] {
        let name = format!("acme{suffix}");
        assert_eq!(
            decide_as(&p, "GET", "https://x.example/", Some(&name), Some(&[])),
            (Action::Block, Some("invalid_customer".to_owned())),
            "{name:?}"
        );
        let tags = [format!("prod{suffix}")];
        assert_eq!(
            decide_as(&p, "GET", "https://x.example/", Some("other"), Some(&tags)),
            (Action::Block, Some("invalid_tags".to_owned())),
            "{name:?}"
        );
    }
    // A rule naming a customer outside the alphabet could never match: an error.
    let text =
        "version = 1\n[[rules]]\nid = \"b\"\naction = \"block\"\ncustomers = [\"Ünïcode\"]\n";
    assert_eq!(codes(text), [(Severity::Error, "invalid-identity-name")]);
}

/// Item 4: a policy that scopes a rule by tag says so in `check`, and refuses a request that
/// came with no tags parameter at all (`no_tags`); an explicit empty list is no tags.
#[test]
fn tag_scoped_policies_need_the_tags_parameter() {
    let text = "version = 1\n[[rules]]\nid = \"untrusted\"\naction = \"block\"\ntags = [\"untrusted\"]\n[[rules]]\nid = \"also\"\naction = \"block\"\nhosts = [\"x.example\"]\ntags = [\"b\"]\n";
    assert_eq!(codes(text), [(Severity::Warning, "tag-scoped-rule")]);
    let p = policy(text);
    let url = "https://anywhere.example/";
    assert_eq!(
        decide_as(&p, "GET", url, Some("acme"), None),
        (Action::Block, Some("no_tags".to_owned()))
    );
    assert_eq!(
        decide_as(&p, "GET", url, Some("acme"), Some(&[])),
        (Action::Pass, None)
    );
    assert_eq!(
        decide_as(
            &p,
            "GET",
            url,
            Some("acme"),
            Some(&["untrusted".to_owned()])
        )
        .0,
        Action::Block
    );
    // In report mode too: it is a refusal, not a rule.
    let report = policy(&text.replace(
        "version = 1\n",
        "version = 1\n[defaults]\nmode = \"report\"\n",
    ));
    assert_eq!(
        decide_as(&report, "GET", url, Some("acme"), None),
        (Action::Block, Some("no_tags".to_owned()))
    );
    // Without tag-scoped rules the parameter is not needed.
    let untagged =
        policy("version = 1\n[[rules]]\nid = \"b\"\naction = \"block\"\nhosts = [\"x.example\"]\n");
    assert_eq!(
        decide_as(&untagged, "GET", url, Some("acme"), None),
        (Action::Pass, None)
    );
    // `customer_tags = "required"` says the deployment passes them: no warning, and a
    // request without them is refused whatever the rules.
    let required = "version = 1\n[defaults]\ncustomer_tags = \"required\"\n";
    assert_eq!(codes(&text.replace("version = 1\n", required)), []);
    let strict = policy(&format!(
        "{required}[[rules]]\nid = \"b\"\naction = \"block\"\nhosts = [\"x.example\"]\n"
    ));
    assert_eq!(
        decide_as(&strict, "GET", url, Some("acme"), None),
        (Action::Block, Some("no_tags".to_owned()))
    );
    assert_eq!(
        decide_as(&strict, "GET", url, Some("acme"), Some(&[])),
        (Action::Pass, None)
    );
    assert_eq!(
        codes("version = 1\n[defaults]\ncustomer_tags = \"always\"\n"),
        [(Severity::Error, "unknown-value")]
    );
}

/// Item 5: a list file outside the policy's directory is never named to the reader and is
/// refused by `check`, whatever file the caller hands in for it.
#[test]
fn list_files_stay_inside_the_policy_directory() {
    for file in [
        "../../etc/passwd",
        "/etc/passwd",
        "/dev/zero",
        "lists/../../x",
        "C:\\x",
        "a\\..\\..\\x",
    ] {
        let text = format!(
            "version = 1\n[lists.l]\nfile = {file:?}\nmatch = \"exact\"\n[[rules]]\nid = \"b\"\naction = \"block\"\nlists = [\"l\"]\n"
        );
        assert!(list_files(&text).is_empty(), "{file}");
        let mut given = ListFiles::new();
        given.insert(file, file, "root:x:0:0:root:/root:/bin/bash\n".to_owned());
        let failed = compile_with_lists("p.toml", &text, &given).unwrap_err();
        let codes: Vec<&str> = failed.0.iter().map(|d| d.code.as_str()).collect();
        assert_eq!(codes, ["list-file-outside"], "{file}");
        let rendered: String = (failed.0.iter())
            .map(|d| d.render_with("p.toml", &text, &given))
            .collect();
        assert!(!rendered.contains("root:x"), "{rendered}");
    }
}

/// Item 8: a host with a character outside letters, digits, `-`, `_` and `.` (after IDNA
/// mapping) is refused before any rule, so it never reaches a `{host}` claim.
#[test]
fn hostile_hosts_are_refused() {
    let p = policy(&inject_rule("").replace("billing.example.com", "*.tenants.example.com"));
    for url in [
        "https://evil.com;.tenants.example.com/",
        "https://a\"b.tenants.example.com/",
        "https://a'b.tenants.example.com/",
        "https://a*b.tenants.example.com/",
        "https://a$b.tenants.example.com/",
        "https://a{b}.tenants.example.com/",
    ] {
        let d = p.decide(&Request {
            method: "GET",
            url,
            customer: Some("acme"),
            tags: Some(&[]),
        });
        assert_eq!(d.action, Action::Block, "{url}");
        assert_eq!(d.reason_text(), Some("invalid_host"), "{url}");
        assert!(d.target.is_none(), "{url}: the hostile host is not logged");
    }
    assert_eq!(
        decide(&p, "GET", "https://a_b.tenants.example.com/").0,
        Action::Inject
    );
}

/// Item 9: a token lifetime over an hour gets a warning; an hour does not.
#[test]
fn long_lived_tokens_are_warned() {
    let at = |ttl: u32| inject_rule("").replace("ttl = 300", &format!("ttl = {ttl}"));
    assert!(codes(&at(3600)).is_empty());
    assert_eq!(codes(&at(3601)), [(Severity::Warning, "long-ttl")]);
    assert_eq!(codes(&at(86_400)), [(Severity::Warning, "long-ttl")]);
    // `jti` is minted per token, never a template.
    let jti = inject_rule("").replace("ttl = 300", "ttl = 300\nclaims = { jti = \"fixed\" }");
    assert_eq!(codes(&jti), [(Severity::Error, "reserved-claim")]);
}

/// Item 7: the credential's `header` is never one a token must not travel in, and
/// `forward_headers` never lets one of those travel along.
#[test]
fn credential_headers_and_forwarded_headers() {
    for header in [
        "X-Original-Host",
        "X-Host",
        "Set-Cookie",
        "X-HTTP-Host-Override",
        "X-Original-Method",
        "X-Envoy-Original-Path",
    ] {
        let text = inject_rule("").replace("ttl = 300", &format!("ttl = 300\nheader = {header:?}"));
        assert_eq!(
            codes(&text),
            [(Severity::Error, "forbidden-credential-header")],
            "{header}"
        );
    }
    let forward = |names: &str| {
        inject_rule("").replace(
            "ttl = 300",
            &format!("ttl = 300\nforward_headers = [{names}]"),
        )
    };
    assert!(codes(&forward("\"X-Api-Version\", \"Notion-Version\"")).is_empty());
    assert_eq!(
        codes(&forward(
            "\"authorization\", \"X-Forwarded-Host\", \"Cookie\", \"a b\""
        )),
        [
            (Severity::Error, "forbidden-forward-header"),
            (Severity::Error, "forbidden-forward-header"),
            (Severity::Error, "forbidden-forward-header"),
            (Severity::Error, "invalid-header-name"),
        ]
    );
}

/// Item 10: the shipped policies pass their own lints (no warning at all: those scoped by tag
/// say the deployment passes tags) and the review's repros against them.
#[test]
fn shipped_policies_keep_their_scopes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for file in [
        "policy/policy.toml",
        "policy/examples/default-deny-allowlist.toml",
        "policy/examples/report-mode-rollout.toml",
    ] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        let compiled = compile(file, &text).unwrap();
        let warnings: Vec<String> = compiled
            .warnings
            .iter()
            .map(|w| w.render(file, &text))
            .collect();
        assert!(warnings.is_empty(), "{}", warnings.join("\n"));
    }
    let text = std::fs::read_to_string(root.join("policy/policy.toml")).unwrap();
    let p = policy(&text);
    let as_customer = |customer: &str, method: &str, url: &str| {
        let d = p.decide(&Request {
            method,
            url,
            customer: Some(customer),
            tags: Some(&[]),
        });
        (d.action, d.rule.map(|r| r.id), d.would_block)
    };
    assert_eq!(
        as_customer("customer-trial-7", "GET", "https://www.paste.ee/p/x"),
        (
            Action::Block,
            Some("block-trial-7-paste-sites".to_owned()),
            false
        )
    );
    for apex in ["https://nanopool.org/", "https://2miners.com/"] {
        assert_eq!(
            as_customer("c", "GET", apex),
            (Action::Pass, None, true),
            "{apex}"
        );
    }
    for (method, url) in [
        ("GET", "https://api.example.com:8443/v1/x"),
        ("GET", "https://api.example.com:0/v1/x"),
        ("PROPFIND", "https://api.example.com/v1/x"),
        ("GET", "http://api.example.com/v1/x"),
    ] {
        assert_eq!(
            as_customer("c", method, url),
            (Action::Pass, None, false),
            "{method} {url}"
        );
    }
    assert_eq!(
        as_customer("c", "GET", "https://api.example.com/v1/x").0,
        Action::Inject
    );
}
