//! Token minting and caching with a fake clock and a fake signer.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{FakeClock, FakeSigner, credential, fake_claims};
use egress_policy_engine::{ClaimVars, JwtAlgorithm};
use egress_policy_outbound::mint::claims;
use egress_policy_outbound::token_cache::TokenCache;
use egress_policy_outbound::{CredentialError, Minter};
use serde_json::{Value, json};

fn vars<'a>(customer: &'a str, tags: &'a [String], host: &'a str) -> ClaimVars<'a> {
    ClaimVars {
        customer,
        tags,
        host,
        rule: "example-api",
    }
}

fn secret(name: &str) -> Option<String> {
    Some(format!("value-of-{name}"))
}

#[test]
fn sub_defaults_to_the_customer() {
    let cred = credential("api", JwtAlgorithm::HS256, &[]);
    let payload = claims(&cred, &vars("acme", &[], "api.example.com"), 1_000, "id-1");
    assert_eq!(
        Value::Object(payload),
        json!({
            "sub": "acme",
            "iss": "egress.platform.example",
            "aud": "api.example.com",
            "iat": 1_000,
            "exp": 1_300,
            "jti": "id-1",
        })
    );
}

#[test]
fn templates_render_and_may_set_sub() {
    let tags = vec!["prod".to_owned(), "eu".to_owned()];
    let cred = credential(
        "api",
        JwtAlgorithm::HS256,
        &[
            ("sub", "tenant:{customer}"),
            ("scope", "{tags}@{host}/{rule}"),
        ],
    );
    let payload = claims(&cred, &vars("acme", &tags, "api.example.com"), 5, "id-2");
    assert_eq!(payload["sub"], "tenant:acme");
    assert_eq!(payload["scope"], "prod,eu@api.example.com/example-api");
    assert_eq!(payload["exp"], 305);
}

#[test]
fn cache_hit_until_shortly_before_expiry_then_remint() {
    let clock = FakeClock::at(10_000);
    let mut minter = Minter::new(FakeSigner::default(), clock.clone());
    let cred = credential("api", JwtAlgorithm::HS256, &[]);
    let v = vars("acme", &[], "api.example.com");

    let first = minter.token(&cred, &v, secret).unwrap();
    clock.set(10_239); // ttl 300, margin 60: still fresh
    let second = minter
        .token(&cred, &v, |_| {
            panic!("a cache hit must not read the secret")
        })
        .unwrap();
    assert_eq!(first, second);
    assert_eq!(minter.signer().minted, 1);

    clock.set(10_240);
    let third = minter.token(&cred, &v, secret).unwrap();
    assert_ne!(first, third);
    assert_eq!(minter.signer().minted, 2);
    let claims = fake_claims(&third);
    assert_eq!(claims["iat"], 10_240);
    assert_eq!(claims["exp"], 10_540);
}

#[test]
fn a_token_for_one_customer_is_never_returned_for_another() {
    let clock = FakeClock::at(1);
    let mut minter = Minter::new(FakeSigner::default(), clock);
    let cred = credential("api", JwtAlgorithm::HS256, &[]);
    let mut seen = Vec::new();
    // Interleave customers many times: every answer must carry its own customer.
    for round in 0..50 {
        for customer in ["acme", "globex", "acme-2", "ACME"] {
            let token = minter
                .token(&cred, &vars(customer, &[], "h"), secret)
                .unwrap();
            assert_eq!(fake_claims(&token)["sub"], customer, "round {round}");
            seen.push((customer, token));
        }
    }
    assert_eq!(minter.signer().minted, 4);
    for (customer, token) in &seen {
        for (other, other_token) in &seen {
            if customer != other {
                assert_ne!(token, other_token);
            }
        }
    }
}

#[test]
fn tags_are_part_of_the_key() {
    let mut minter = Minter::new(FakeSigner::default(), FakeClock::at(1));
    let cred = credential("api", JwtAlgorithm::HS256, &[("grp", "{tags}")]);
    let prod = vec!["prod".to_owned()];
    let dev = vec!["dev".to_owned()];
    let a = minter
        .token(&cred, &vars("acme", &prod, "h"), secret)
        .unwrap();
    let b = minter
        .token(&cred, &vars("acme", &dev, "h"), secret)
        .unwrap();
    assert_eq!(fake_claims(&a)["grp"], "prod");
    assert_eq!(fake_claims(&b)["grp"], "dev");
    assert_eq!(minter.signer().minted, 2);
}

#[test]
fn host_is_part_of_the_key_only_when_a_claim_uses_it() {
    let mut minter = Minter::new(FakeSigner::default(), FakeClock::at(1));
    let plain = credential("plain", JwtAlgorithm::HS256, &[]);
    minter
        .token(&plain, &vars("acme", &[], "a.example.com"), secret)
        .unwrap();
    minter
        .token(&plain, &vars("acme", &[], "b.example.com"), secret)
        .unwrap();
    assert_eq!(minter.signer().minted, 1);

    let per_host = credential("per-host", JwtAlgorithm::HS256, &[("aud2", "{host}")]);
    let a = minter
        .token(&per_host, &vars("acme", &[], "a.example.com"), secret)
        .unwrap();
    let b = minter
        .token(&per_host, &vars("acme", &[], "b.example.com"), secret)
        .unwrap();
    assert_eq!(fake_claims(&a)["aud2"], "a.example.com");
    assert_eq!(fake_claims(&b)["aud2"], "b.example.com");
    assert_eq!(minter.signer().minted, 3);
}

#[test]
fn credentials_do_not_share_tokens() {
    let mut minter = Minter::new(FakeSigner::default(), FakeClock::at(1));
    let one = credential("one", JwtAlgorithm::HS256, &[]);
    let two = credential("two", JwtAlgorithm::HS256, &[]);
    let a = minter.token(&one, &vars("acme", &[], "h"), secret).unwrap();
    let b = minter.token(&two, &vars("acme", &[], "h"), secret).unwrap();
    assert_ne!(a, b);
}

/// A new policy that redefines a credential under the same id (another audience, lifetime,
/// claim, secret or algorithm) never gets a token minted under the old definition.
#[test]
fn a_redefined_credential_never_reuses_a_token_of_the_old_definition() {
    let mut minter = Minter::new(FakeSigner::default(), FakeClock::at(1));
    let old = credential("api", JwtAlgorithm::HS256, &[("scope", "read")]);
    let v = vars("acme", &[], "h");
    let first = minter.token(&old, &v, secret).unwrap();
    assert_eq!(minter.token(&old, &v, secret).unwrap(), first);
    let redefinitions: [fn(&mut egress_policy_engine::Credential); 6] = [
        |c| c.audience = "billing.example.com".into(),
        |c| c.ttl = 60,
        |c| c.secret = "OTHER_KEY".into(),
        |c| c.algorithm = JwtAlgorithm::HS512,
        |c| c.key_id = Some("2027-01".into()),
        |c| {
            c.claims.insert(
                "scope".into(),
                egress_policy_engine::ClaimTemplate::parse("admin").unwrap(),
            );
        },
    ];
    for (i, redefine) in redefinitions.into_iter().enumerate() {
        let mut new = old.clone();
        redefine(&mut new);
        let token = minter.token(&new, &v, secret).unwrap();
        assert_ne!(token, first, "redefinition {i} reused the old token");
    }
    assert_eq!(minter.signer().minted, 7);
}

#[test]
fn missing_secret_and_signing_failures_are_not_cached() {
    let clock = FakeClock::at(1);
    let mut minter = Minter::new(FakeSigner::default(), clock);
    let cred = credential("api", JwtAlgorithm::HS256, &[]);
    let v = vars("acme", &[], "h");
    assert_eq!(
        minter.token(&cred, &v, |_| None),
        Err(CredentialError::SecretMissing)
    );
    let mut failing = Minter::new(
        FakeSigner {
            minted: 0,
            fail: Some(CredentialError::InvalidKey),
        },
        FakeClock::at(1),
    );
    assert_eq!(
        failing.token(&cred, &v, secret),
        Err(CredentialError::InvalidKey)
    );
    assert_eq!(failing.cached(), 0);
    // A later good secret works at once: nothing negative was cached.
    assert!(minter.token(&cred, &v, secret).is_ok());
}

#[test]
fn the_secret_is_looked_up_by_the_credentials_secret_name() {
    let mut minter = Minter::new(FakeSigner::default(), FakeClock::at(1));
    let cred = credential("example-api", JwtAlgorithm::HS256, &[]);
    let mut asked = None;
    minter
        .token(&cred, &vars("acme", &[], "h"), |name| {
            asked = Some(name.to_owned());
            Some("k".into())
        })
        .unwrap();
    assert_eq!(asked.as_deref(), Some("EXAMPLE_API_KEY"));
}

#[test]
fn cache_stays_bounded_under_many_customers() {
    let mut minter = Minter::with_cache(
        FakeSigner::default(),
        FakeClock::at(1),
        TokenCache::with_capacity(16),
    );
    let cred = credential("api", JwtAlgorithm::HS256, &[]);
    for n in 0..100 {
        let customer = format!("c{n}");
        let token = minter
            .token(&cred, &vars(&customer, &[], "h"), secret)
            .unwrap();
        assert_eq!(fake_claims(&token)["sub"], customer.as_str());
    }
    assert_eq!(minter.cached(), 16);
}
