#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! End to end on the default policy: compile, decide, artefact round trip, rule lines.

use egress_policy_engine::{Action, CompiledPolicy, Request, compile};

fn policy() -> (String, CompiledPolicy) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policy/policy.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let compiled = compile("policy/policy.toml", &text).unwrap();
    (text, compiled.policy)
}

fn decide(p: &CompiledPolicy, url: &str) -> (Action, Option<String>, Option<String>) {
    let d = p.decide(&Request {
        method: "GET",
        url,
        customer: Some("customer-1"),
        tags: Some(&[]),
    });
    let reason = d.reason_text().map(str::to_owned);
    (d.action, d.rule.map(|r| r.id), reason)
}

#[test]
fn default_policy_decides() {
    let (text, p) = policy();
    assert_eq!(
        decide(&p, "https://www.malicious.com/x").1.as_deref(),
        Some("block-malware")
    );
    assert_eq!(
        decide(&p, "https://api.example.com/v1/users").0,
        Action::Inject
    );
    assert_eq!(
        decide(&p, "https://api.example.com/v2/users").0,
        Action::Pass
    );
    assert_eq!(
        decide(&p, "http://0xa9fea9fe/latest").1.as_deref(),
        Some("block-cloud-metadata")
    );
    assert_eq!(
        decide(&p, "http://8.8.8.8/").2.as_deref(),
        Some("ip_literal")
    );
    assert_eq!(
        decide(&p, "ftp://example.com/").2.as_deref(),
        Some("unsupported_scheme")
    );
    // Rule lines point at the `[[rules]]` header.
    for rule in &p.model().rules {
        let line = text.lines().nth(rule.line as usize - 1).unwrap();
        assert_eq!(line, "[[rules]]", "rule {}", rule.id);
    }
    // The trace lists every matching rule, the decision only the deciding one.
    let matching = |r: &Request<'_>| -> Vec<String> {
        let (_, trace) = p.explain(r);
        let matched = trace.rules.iter().filter(|t| t.matched);
        matched.map(|t| t.rule.id.clone()).collect()
    };
    let r = Request {
        method: "GET",
        url: "https://api.example.com/v1/x",
        customer: Some("c"),
        tags: Some(&[]),
    };
    assert_eq!(matching(&r), ["example-api"]);
    let r = Request {
        method: "GET",
        url: "https://pool.supportxmr.com/",
        customer: Some("c"),
        tags: Some(&[]),
    };
    assert_eq!(matching(&r).len(), 1);
    assert!(p.decide(&r).would_block);
    let loaded = CompiledPolicy::load(egress_policy_engine::artifact::Artifact::Bytes(
        &p.to_artifact(),
    ))
    .unwrap();
    assert_eq!(loaded.model(), p.model());
    assert_eq!(loaded.sha256(), p.sha256());
}
