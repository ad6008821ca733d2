//! The second outside security review (issue 14), the Worker's side natively: weak keys are
//! refused at mint time, every token carries a random `jti` (kept while cached), and only
//! allow-listed client headers travel with a token.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{FakeClock, credential};
use egress_policy_engine::{ClaimVars, Credential, JwtAlgorithm, Target};
use egress_policy_outbound::{CredentialError, JwtSigner, LocalAnswer, Minter, Runtime, Token};
use serde_json::Value;

const RSA_2048: &str = include_str!("keys/rsa.pem");
const RSA_1024: &str = include_str!("keys/rsa1024.pem");

fn vars() -> ClaimVars<'static> {
    ClaimVars {
        customer: "acme",
        tags: &[],
        host: "api.example.com",
        rule: "api",
    }
}

fn mint(algorithm: JwtAlgorithm, key: &str) -> Result<Token, CredentialError> {
    let mut minter = Minter::new(JwtSigner::default(), FakeClock::at(1_800_000_000));
    let result = minter.token(&credential("api", algorithm, &[]), &vars(), |_| {
        Some(key.to_owned())
    });
    if result.is_err() {
        assert_eq!(minter.cached(), 0, "a refused key caches nothing");
    }
    result
}

/// The claims of a real JWT, read without verifying (the signature is not the point here).
fn payload(token: &Token) -> Value {
    use base64::Engine as _;
    let part = token.as_str().split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// Item 2: an HMAC key shorter than its hash (RFC 7518 section 3.2) or an RSA key under 2048
/// bits is refused with its own error, fails closed as `credential_unavailable`, and no
/// message carries anything of the key.
#[test]
fn weak_keys_are_refused_at_mint_time() {
    for (algorithm, min) in [
        (JwtAlgorithm::HS256, 32),
        (JwtAlgorithm::HS384, 48),
        (JwtAlgorithm::HS512, 64),
    ] {
        let short = "k".repeat(min - 1);
        let error = mint(algorithm, &short).unwrap_err();
        assert_eq!(error, CredentialError::WeakKey, "{algorithm}");
        assert_eq!(
            LocalAnswer::from(error).code(),
            Some("credential_unavailable")
        );
        assert!(!error.to_string().contains(&short), "{error}");
        assert!(mint(algorithm, &"k".repeat(min)).is_ok(), "{algorithm}");
    }
    for algorithm in [JwtAlgorithm::RS256, JwtAlgorithm::PS512] {
        let error = mint(algorithm, RSA_1024).unwrap_err();
        assert_eq!(error, CredentialError::WeakKey, "{algorithm}");
        assert!(!error.to_string().contains("BEGIN"), "{error}");
        assert!(mint(algorithm, RSA_2048).is_ok(), "{algorithm}");
    }
    // A key the cache holds for HS256 is judged again for HS512.
    let mut minter = Minter::new(JwtSigner::default(), FakeClock::at(1));
    let key = "k".repeat(32);
    let hs256 = credential("api", JwtAlgorithm::HS256, &[]);
    let mut hs512 = hs256.clone();
    hs512.algorithm = JwtAlgorithm::HS512;
    hs512.id = "api-512".into();
    assert!(minter.token(&hs256, &vars(), |_| Some(key.clone())).is_ok());
    assert_eq!(
        minter.token(&hs512, &vars(), |_| Some(key.clone())),
        Err(CredentialError::WeakKey)
    );
}

/// Item 9: every token carries a `jti` of 128 random bits (base64url), different for every
/// token minted; a cached token keeps its own.
#[test]
fn every_token_has_its_own_jti() {
    let clock = FakeClock::at(1_800_000_000);
    let mut minter = Minter::new(JwtSigner::default(), clock.clone());
    let cred = credential("api", JwtAlgorithm::ES256, &[]);
    let key = || Some(include_str!("keys/p256.pem").to_owned());
    let first = minter.token(&cred, &vars(), |_| key()).unwrap();
    let jti = payload(&first)["jti"].as_str().unwrap().to_owned();
    assert_eq!(jti.len(), 22, "{jti}");
    assert!(
        jti.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{jti}"
    );
    let cached = minter.token(&cred, &vars(), |_| key()).unwrap();
    assert_eq!(payload(&cached)["jti"], jti.as_str());
    clock.set(1_800_000_000 + 300);
    let fresh = minter.token(&cred, &vars(), |_| key()).unwrap();
    assert_ne!(payload(&fresh)["jti"], jti.as_str());
}

/// A runtime without randomness: no token, nothing cached.
struct NoRandom;

impl Runtime for NoRandom {
    fn now_secs(&self) -> u64 {
        1
    }

    fn fill(&self, _: &mut [u8]) -> bool {
        false
    }
}

#[test]
fn no_randomness_no_token() {
    let mut minter = Minter::new(JwtSigner::default(), NoRandom);
    let error = minter
        .token(
            &credential("api", JwtAlgorithm::HS256, &[]),
            &vars(),
            |_| Some("k".repeat(32)),
        )
        .unwrap_err();
    assert_eq!(error, CredentialError::SigningFailed);
    assert_eq!(minter.cached(), 0);
}

fn target() -> Target {
    Target {
        scheme: "https".into(),
        host: "api.example.com".into(),
        port: 443,
        path: "/v1".into(),
        query: None,
    }
}

/// Item 7: on inject only allow-listed headers travel with the token; the override headers
/// the review found (and anything else not on the list) are removed, in any spelling.
#[test]
fn only_allowed_headers_travel_with_a_token() {
    let mut cred: Credential = credential("api", JwtAlgorithm::HS256, &[]);
    cred.forward_headers = vec!["Notion-Version".into()];
    let token = Token::new("t".into());
    let client = [
        ("X-Original-Host", "evil.test"),
        ("X-Host", "evil.test"),
        ("x_http_host_override", "evil.test"),
        ("X-Original-Method", "DELETE"),
        ("X-Envoy-Original-Path", "/admin"),
        ("Cookie", "session=1"),
        ("X-Custom", "1"),
        ("Accept", "application/json"),
        ("If-None-Match", "\"e\""),
        ("Notion-Version", "2022-06-28"),
    ];
    let plan = common::plan(client, &target(), Some((&cred, &token)));
    let mut forwarded: Vec<(String, String)> = client
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    common::apply(&plan, &mut forwarded);
    let names: Vec<&str> = forwarded.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["Accept", "If-None-Match", "Notion-Version", "Authorization"]
    );
    // A pass carries no token: headers go as sent.
    assert!(common::plan(client, &target(), None).is_unchanged());
}
