//! Real signing: every algorithm family's token verifies with `jsonwebtoken`'s decoder
//! against the matching public key, with the contract's header and claims.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::{FakeClock, credential};
use egress_policy_engine::{ClaimVars, JwtAlgorithm};
use egress_policy_outbound::{CredentialError, JwtSigner, Minter};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::Value;

const RSA: &str = include_str!("keys/rsa.pem");
const RSA_PUB: &str = include_str!("keys/rsa.pub.pem");
const P256: &str = include_str!("keys/p256.pem");
const P256_PUB: &str = include_str!("keys/p256.pub.pem");
const P384: &str = include_str!("keys/p384.pem");
const P384_PUB: &str = include_str!("keys/p384.pub.pem");
const ED25519: &str = include_str!("keys/ed25519.pem");
const ED25519_PUB: &str = include_str!("keys/ed25519.pub.pem");
/// At least 64 bytes: HS512's minimum (RFC 7518 section 3.2).
const HMAC: &str = "hmac secret text: used as UTF-8 bytes, ünïcode included, 64 bytes at least";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn vars(tags: &[String]) -> ClaimVars<'_> {
    ClaimVars {
        customer: "customer-123",
        tags,
        host: "api.example.com",
        rule: "example-api",
    }
}

/// Mints with the real signer and checks the token against `decoding`.
fn mint_and_verify(algorithm: JwtAlgorithm, secret: &str, decoding: &DecodingKey) {
    let iat = now();
    let mut minter = Minter::new(JwtSigner::default(), FakeClock::at(iat));
    let cred = credential("example-api-jwt", algorithm, &[("scope", "tenant:{tags}")]);
    let tags = vec!["prod".to_owned(), "eu".to_owned()];
    let token = minter
        .token(&cred, &vars(&tags), |_| Some(secret.to_owned()))
        .unwrap_or_else(|e| panic!("{algorithm}: {e}"));

    let header = decode_header(token.as_str()).unwrap();
    assert_eq!(format!("{:?}", header.alg), algorithm.as_str());
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    assert_eq!(header.kid.as_deref(), Some("2026-11"));

    let alg: Algorithm = algorithm.as_str().parse().unwrap();
    let mut validation = Validation::new(alg);
    validation.set_audience(&["api.example.com"]);
    validation.set_issuer(&["egress.platform.example"]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    let data = decode::<Value>(token.as_str(), decoding, &validation)
        .unwrap_or_else(|e| panic!("{algorithm}: {e}"));
    let claims = data.claims;
    assert_eq!(claims["sub"], "customer-123");
    assert_eq!(claims["scope"], "tenant:prod,eu");
    assert_eq!(claims["iat"], iat);
    assert_eq!(claims["exp"], iat + 300);

    // A different key must not verify it (the signature is real).
    let wrong = DecodingKey::from_secret(b"another key").unwrap();
    if algorithm.is_hmac() {
        assert!(decode::<Value>(token.as_str(), &wrong, &validation).is_err());
    }
}

#[test]
fn hmac_family() {
    let key = DecodingKey::from_secret(HMAC.as_bytes()).unwrap();
    for algorithm in [
        JwtAlgorithm::HS256,
        JwtAlgorithm::HS384,
        JwtAlgorithm::HS512,
    ] {
        mint_and_verify(algorithm, HMAC, &key);
    }
}

#[test]
fn rsa_family() {
    let key = DecodingKey::from_rsa_pem(RSA_PUB.as_bytes()).unwrap();
    for algorithm in [
        JwtAlgorithm::RS256,
        JwtAlgorithm::RS384,
        JwtAlgorithm::RS512,
        JwtAlgorithm::PS256,
        JwtAlgorithm::PS384,
        JwtAlgorithm::PS512,
    ] {
        mint_and_verify(algorithm, RSA, &key);
    }
}

#[test]
fn ecdsa_family() {
    let p256 = DecodingKey::from_ec_pem(P256_PUB.as_bytes()).unwrap();
    mint_and_verify(JwtAlgorithm::ES256, P256, &p256);
    let p384 = DecodingKey::from_ec_pem(P384_PUB.as_bytes()).unwrap();
    mint_and_verify(JwtAlgorithm::ES384, P384, &p384);
}

#[test]
fn eddsa() {
    let key = DecodingKey::from_ed_pem(ED25519_PUB.as_bytes()).unwrap();
    mint_and_verify(JwtAlgorithm::EdDSA, ED25519, &key);
}

#[test]
fn a_key_of_the_wrong_kind_is_unavailable_without_leaking_it() {
    for (algorithm, secret) in [
        (JwtAlgorithm::ES256, P384),
        (JwtAlgorithm::ES384, P256),
        (JwtAlgorithm::RS256, P256),
        (JwtAlgorithm::EdDSA, RSA),
        (JwtAlgorithm::ES256, "garbage"),
    ] {
        let mut minter = Minter::new(JwtSigner::default(), FakeClock::at(now()));
        let cred = credential("api", algorithm, &[]);
        let error = minter
            .token(&cred, &vars(&[]), |_| Some(secret.to_owned()))
            .unwrap_err();
        assert!(
            matches!(
                error,
                CredentialError::InvalidKey | CredentialError::SigningFailed
            ),
            "{algorithm}: {error:?}"
        );
        let message = error.to_string();
        assert!(!message.contains("BEGIN"), "{message}");
        assert!(!message.contains("API_KEY"), "{message}");
        assert_eq!(minter.cached(), 0);
    }
}

#[test]
fn keys_are_parsed_once_while_tokens_are_reminted() {
    let clock = FakeClock::at(now());
    let mut minter = Minter::new(JwtSigner::default(), clock.clone());
    let cred = credential("api", JwtAlgorithm::ES256, &[]);
    for customer in ["a", "b", "c"] {
        let v = ClaimVars {
            customer,
            tags: &[],
            host: "h",
            rule: "r",
        };
        minter.token(&cred, &v, |_| Some(P256.to_owned())).unwrap();
    }
    assert_eq!(minter.signer().key_parses(), 1);
}

/// During a rotation (`next_secret`, `next_key_id`): tokens are signed with the active key and
/// name its `kid`; the next key is checked once per isolate, and what is wrong with it is named
/// by the secret's name (never its text) without failing a request.
#[test]
fn a_next_key_is_checked_once_and_never_signs() {
    let mut cred = credential("api", JwtAlgorithm::ES256, &[]);
    cred.next = Some(egress_policy_engine::NextKey {
        secret: "API_KEY_2027_05".into(),
        key_id: "2027-05".into(),
    });
    let keys = |next: Option<&'static str>| {
        move |name: &str| match name {
            "API_KEY" => Some(P256.to_owned()),
            "API_KEY_2027_05" => next.map(str::to_owned),
            _ => None,
        }
    };
    let verify = |token: &str, public: &str| {
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_audience(&["api.example.com"]);
        let key = DecodingKey::from_ec_pem(public.as_bytes()).unwrap();
        decode::<Value>(token, &key, &validation).is_ok()
    };
    for (next, problem) in [
        (Some(P256), None),
        (
            None,
            Some(
                "API_KEY_2027_05 (next_secret of credential api) is not set: tokens are still signed with the active key, but the swap to key 2027-05 would fail",
            ),
        ),
        (
            Some(P384),
            Some(
                "API_KEY_2027_05 (next_secret of credential api) is not a usable ES256 key: tokens are still signed with the active key, but the swap to key 2027-05 would fail",
            ),
        ),
        (
            Some(ED25519),
            Some(
                "API_KEY_2027_05 (next_secret of credential api) is not a usable ES256 key: tokens are still signed with the active key, but the swap to key 2027-05 would fail",
            ),
        ),
    ] {
        let mut minter = Minter::new(JwtSigner::default(), FakeClock::at(now()));
        assert_eq!(minter.check_next(&cred, keys(next)).as_deref(), problem);
        assert_eq!(
            minter.check_next(&cred, keys(next)),
            None,
            "once per isolate"
        );
        let token = minter.token(&cred, &vars(&[]), keys(next)).unwrap();
        let token = token.as_str();
        assert_eq!(
            decode_header(token).unwrap().kid.as_deref(),
            Some("2026-11")
        );
        assert!(verify(token, P256_PUB));
        assert!(!verify(token, P384_PUB));
    }
    // Another next secret (a new bundle) is checked again; a credential without one never is.
    cred.next.as_mut().unwrap().secret = "API_KEY_2027_06".into();
    let mut minter = Minter::new(JwtSigner::default(), FakeClock::at(now()));
    assert!(minter.check_next(&cred, keys(Some(P256))).is_some());
    cred.next = None;
    assert_eq!(minter.check_next(&cred, |_| panic!("not read")), None);
}
