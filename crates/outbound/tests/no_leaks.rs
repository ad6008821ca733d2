//! The whole inject path natively (plan -> mint -> header plan -> log line): nothing the
//! client sent in headers, no token, no secret and no query reaches a body or a log line.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{FakeClock, credential};
use egress_policy_engine::{
    Action, ClaimVars, Decision, Defaults, Identity, JwtAlgorithm, PolicyRef, RuleRef, Target,
};
use egress_policy_outbound::log::{LogFacts, build};
use egress_policy_outbound::{ActionPlan, JwtSigner, LocalAnswer, Minter, plan};

const SECRET_VALUE: &str = "s3cr3t-hmac-key-value-of-32-bytes-or-more";
const CLIENT_AUTH: &str = "Bearer client-spoofed-token";
const CLIENT_COOKIE: &str = "session=client-cookie-value";
const QUERY: &str = "api_key=query-secret";

fn inject_decision() -> Decision {
    Decision {
        action: Action::Inject,
        rule: Some(RuleRef {
            id: "example-api".into(),
            line: 12,
        }),
        reason: None,
        would_block: false,
        report_rule: None,
        credential: Some("example-api-jwt".into()),
        target: Some(Target {
            scheme: "https".into(),
            host: "api.example.com".into(),
            port: 443,
            path: "/v1/users".into(),
            query: Some(QUERY.into()),
        }),
    }
}

fn log_line(decision: &Decision, ended: Result<u16, LocalAnswer>) -> String {
    let policy = PolicyRef {
        name: Some("platform-egress".into()),
        sha256: "0".repeat(64),
        source: None,
        serial: None,
    };
    let tags = vec!["prod".to_owned()];
    let facts = LogFacts {
        decision_id: "d-1",
        identity: &Identity {
            customer: Some("customer-123".to_owned()),
            tags: Some(tags),
        },
        method: "POST",
        policy: &policy,
        defaults: Some(&Defaults {
            query_in_logs: false,
            ..Defaults::default()
        }),
        arrived_ms: 1_795_867_200_000,
        ended,
        duration_ms: 3,
    };
    serde_json::to_string(&build(decision, &facts)).unwrap()
}

#[test]
fn inject_path_leaks_nothing() {
    let cred = credential("example-api-jwt", JwtAlgorithm::HS256, &[]);
    let decision = inject_decision();
    let ActionPlan::Inject(found) = plan(&decision, |id| (id == cred.id).then_some(&cred)) else {
        panic!("expected inject");
    };
    let mut minter = Minter::new(JwtSigner::default(), FakeClock::at(1_795_867_200));
    let vars = ClaimVars {
        customer: "customer-123",
        tags: &[],
        host: "api.example.com",
        rule: "example-api",
    };
    let token = minter
        .token(found, &vars, |_| Some(SECRET_VALUE.to_owned()))
        .unwrap();
    let client = [
        ("Authorization", CLIENT_AUTH),
        ("Cookie", CLIENT_COOKIE),
        ("Host", "evil.example"),
    ];
    let target = decision.target.as_ref().unwrap();
    let header_plan = common::plan(client, target, Some((found, &token)));
    let mut forwarded: Vec<(String, String)> = client
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    common::apply(&header_plan, &mut forwarded);
    assert_eq!(
        forwarded,
        // The cookie is not on the allow-list: it never travels with a token.
        vec![(
            "Authorization".to_owned(),
            format!("Bearer {}", token.as_str())
        )]
    );

    let line = log_line(&decision, Ok(200));
    let debug = format!("{header_plan:?} {token:?}");
    for forbidden in [
        token.as_str(),
        SECRET_VALUE,
        CLIENT_AUTH,
        "client-spoofed-token",
        CLIENT_COOKIE,
        "evil.example",
        QUERY,
        "query-secret",
        "EXAMPLE_API_JWT_KEY",
    ] {
        assert!(!line.contains(forbidden), "log line contains {forbidden}");
        assert!(
            !debug.contains(forbidden),
            "debug output contains {forbidden}"
        );
    }
    assert!(line.contains(r#""credential":"example-api-jwt""#));
}

#[test]
fn credential_failure_body_and_line_name_only_the_credential() {
    let cred = credential("example-api-jwt", JwtAlgorithm::ES256, &[]);
    let mut minter = Minter::new(JwtSigner::default(), FakeClock::at(1));
    let vars = ClaimVars {
        customer: "c",
        tags: &[],
        host: "api.example.com",
        rule: "example-api",
    };
    let error = minter
        .token(&cred, &vars, |_| Some(SECRET_VALUE.to_owned()))
        .unwrap_err();
    let answer = LocalAnswer::CredentialUnavailable.response(&inject_decision(), "d-1");
    let line = log_line(&inject_decision(), Err(LocalAnswer::CredentialUnavailable));
    assert!(line.contains(r#""error":"credential_unavailable""#));
    assert!(line.contains(r#""status":null"#));
    for text in [&answer.body, &line, &error.to_string()] {
        assert!(!text.contains(SECRET_VALUE), "{text}");
        assert!(!text.contains(&cred.secret), "{text}");
    }
}
