//! How the forwarded request's headers are planned (`headers::forward_plan`): what a pass
//! leaves alone, what an inject strips and sets. Applied the way `Headers.delete` then
//! `Headers.set` do (`common::apply`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::collections::BTreeMap;

use common::apply;
use egress_policy_engine::{Credential, JwtAlgorithm, Target};
use egress_policy_outbound::Token;
use egress_policy_outbound::headers::HeaderPlan;

fn target(host: &str, port: u16) -> Target {
    Target {
        scheme: "https".into(),
        host: host.into(),
        port,
        path: "/".into(),
        query: None,
    }
}

fn credential(header: &str, prefix: &str) -> Credential {
    Credential {
        id: "api".into(),
        algorithm: JwtAlgorithm::HS256,
        secret: "S".into(),
        key_id: None,
        next: None,
        issuer: "i".into(),
        audience: "a".into(),
        ttl: 60,
        header: header.into(),
        prefix: prefix.into(),
        claims: BTreeMap::new(),
        forward_headers: vec!["X-Api-Version".into()],
    }
}

fn list(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

fn plan_for(
    headers: &[(String, String)],
    target: &Target,
    inject: Option<(&Credential, &Token)>,
) -> HeaderPlan {
    common::plan(
        headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        target,
        inject,
    )
}

#[test]
fn pass_leaves_headers_alone() {
    let headers = list(&[
        ("Authorization", "Bearer client"),
        ("Host", "api.example.com"),
        ("X-Thing", "1"),
    ]);
    let plan = plan_for(&headers, &target("api.example.com", 443), None);
    assert!(plan.is_unchanged());
    let mut applied = headers.clone();
    apply(&plan, &mut applied);
    assert_eq!(applied, headers);
}

#[test]
fn inject_strips_mixed_case_duplicates_and_authorization() {
    let cred = credential("X-Api-Token", "Token ");
    let token = Token::new("minted".into());
    let mut headers = list(&[
        ("x-api-token", "spoof-1"),
        ("X-API-TOKEN", "spoof-2"),
        ("AUTHORIZATION", "Bearer spoof-3"),
        ("authorization", "Basic spoof-4"),
        ("Accept", "application/json"),
    ]);
    let plan = plan_for(
        &headers,
        &target("api.example.com", 443),
        Some((&cred, &token)),
    );
    assert_eq!(plan.remove, vec!["x-api-token", "authorization"]);
    apply(&plan, &mut headers);
    assert_eq!(
        headers,
        list(&[
            ("Accept", "application/json"),
            ("X-Api-Token", "Token minted")
        ])
    );
    assert!(!format!("{plan:?}").contains("minted"));
}

#[test]
fn inject_into_authorization_replaces_every_client_value() {
    let cred = credential("Authorization", "Bearer ");
    let token = Token::new("t0k".into());
    let mut headers = list(&[("authorization", "Bearer a"), ("Authorization", "Bearer b")]);
    let plan = plan_for(&headers, &target("h.test", 443), Some((&cred, &token)));
    apply(&plan, &mut headers);
    assert_eq!(headers, list(&[("Authorization", "Bearer t0k")]));
}

#[test]
fn inject_sets_the_header_even_when_the_client_sent_none() {
    let cred = credential("Authorization", "Bearer ");
    let token = Token::new("t".into());
    let mut headers = Vec::new();
    let plan = plan_for(&headers, &target("h.test", 443), Some((&cred, &token)));
    assert_eq!(plan.remove, vec!["authorization"]);
    apply(&plan, &mut headers);
    assert_eq!(headers, list(&[("Authorization", "Bearer t")]));
}

#[test]
fn inject_keeps_only_allowed_headers() {
    let cred = credential("X-Api-Token", "");
    let token = Token::new("minted".into());
    let mut headers = list(&[
        ("X_Api_Token", "spoof-1"),
        ("x_API-token", "spoof-2"),
        ("Authorization", "Bearer spoof-3"),
        ("AUTHORIZATION_", "not on the allow-list"),
        ("X-HTTP-Method-Override", "DELETE"),
        ("x_http_method", "DELETE"),
        ("X-Method-Override", "PUT"),
        ("X-Original-URL", "/admin"),
        ("x-rewrite-url", "/admin"),
        ("X-Forwarded-Host", "evil.test"),
        ("X_Forwarded_Prefix", "/admin"),
        ("x-forwarded-for", "10.0.0.1"),
        ("Forwarded", "host=evil.test"),
        ("X-Forwarded", "not on the allow-list"),
        ("Accept", "*/*"),
        ("content_type", "application/json"),
        ("x-api-version", "2026-01"),
    ]);
    let plan = plan_for(
        &headers,
        &target("api.example.com", 443),
        Some((&cred, &token)),
    );
    apply(&plan, &mut headers);
    assert_eq!(
        headers,
        list(&[
            ("Accept", "*/*"),
            ("content_type", "application/json"),
            ("x-api-version", "2026-01"),
            ("X-Api-Token", "minted"),
        ])
    );
    assert_eq!(
        plan.remove.iter().filter(|n| *n == "x-api-token").count(),
        1,
        "each name once: {:?}",
        plan.remove
    );
}

#[test]
fn pass_keeps_override_headers() {
    let headers = list(&[
        ("X-Forwarded-Host", "a.test"),
        ("X-HTTP-Method-Override", "PUT"),
    ]);
    assert!(plan_for(&headers, &target("a.test", 443), None).is_unchanged());
}

#[test]
fn host_header_disagreeing_with_the_url_is_dropped() {
    let t = target("api.example.com", 443);
    for agreeing in [
        "api.example.com",
        "API.Example.com",
        "api.example.com.",
        "api.example.com:443",
    ] {
        let plan = plan_for(&list(&[("Host", agreeing)]), &t, None);
        assert!(plan.is_unchanged(), "{agreeing} should be kept");
    }
    for disagreeing in [
        "evil.com",
        "api.example.com:8443",
        "api.example.com.evil.com",
        "api.example.com:x",
        "",
    ] {
        let plan = plan_for(&list(&[("host", disagreeing)]), &t, None);
        assert_eq!(plan.remove, vec!["host"], "{disagreeing} should be dropped");
    }
}

#[test]
fn ipv6_host_header() {
    let t = target("[::1]", 8080);
    assert!(plan_for(&list(&[("Host", "[::1]:8080")]), &t, None).is_unchanged());
    assert!(plan_for(&list(&[("Host", "[::1]")]), &t, None).is_unchanged());
    assert_eq!(
        plan_for(&list(&[("Host", "[::2]:8080")]), &t, None).remove,
        vec!["host"]
    );
    assert_eq!(
        plan_for(&list(&[("Host", "[::1")]), &t, None).remove,
        vec!["host"]
    );
}
