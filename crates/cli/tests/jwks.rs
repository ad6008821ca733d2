//! `egress-policy jwks`: the printed JWK verifies a token minted by the Worker's own minting
//! code (`egress-policy-outbound`), for every key family; bad keys and credentials are refused.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use egress_policy_engine::{ClaimVars, Credential, compile};
use egress_policy_outbound::{JwtSigner, Minter, Runtime};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::Value;

fn keys(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keys")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn jwks(credential: &str, key_file: &str) -> (Option<i32>, String, String) {
    jwks_with(credential, key_file, &[])
}

fn jwks_with(credential: &str, key_file: &str, more: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_egress-policy"))
        .args([
            "jwks",
            "--policy",
            &keys("jwks-policy.toml"),
            "--credential",
            credential,
        ])
        .args(["--key-file", key_file])
        .args(more)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn credential(id: &str) -> Credential {
    let text = std::fs::read_to_string(keys("jwks-policy.toml")).unwrap();
    let compiled = compile("jwks-policy.toml", &text).unwrap();
    compiled.policy.model().credentials.get(id).unwrap().clone()
}

struct Now;

impl Runtime for Now {
    fn now_secs(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    fn fill(&self, out: &mut [u8]) -> bool {
        out.fill(7);
        true
    }
}

/// A token as the Worker mints it for `credential` with the key in `private_pem`.
fn worker_token(credential: &Credential, private_pem: &str) -> String {
    let pem = std::fs::read_to_string(private_pem).unwrap();
    let mut minter = Minter::new(JwtSigner::default(), Now);
    let vars = ClaimVars {
        customer: "customer-123",
        tags: &[],
        host: "api.example",
        rule: "rule",
    };
    let token = minter.token(credential, &vars, |_| Some(pem)).unwrap();
    token.as_str().to_string()
}

fn verify(
    token: &str,
    set: &JwkSet,
    credential: &Credential,
) -> Result<Value, jsonwebtoken::errors::Error> {
    let header = decode_header(token)?;
    let jwk = match &header.kid {
        Some(kid) => set.find(kid).unwrap(),
        None => &set.keys[0],
    };
    let key = DecodingKey::from_jwk(jwk)?;
    let algorithm: Algorithm = credential.algorithm.as_str().parse().unwrap();
    let mut validation = Validation::new(algorithm);
    validation.set_audience(&[&credential.audience]);
    validation.set_issuer(&[&credential.issuer]);
    decode::<Value>(token, &key, &validation).map(|d| d.claims)
}

const PUBLIC_MEMBERS: [&str; 9] = ["kty", "kid", "use", "alg", "crv", "n", "e", "x", "y"];

#[test]
fn printed_jwks_verify_tokens_the_worker_minted() {
    for (id, private, public) in [
        ("es256-jwt", "p256-private.pem", "p256-public.pem"),
        ("es384-jwt", "p384-private.pem", "p384-public.pem"),
        ("rs256-jwt", "rsa-private.pem", "rsa-public.pem"),
        ("ps256-jwt", "rsa-private.pem", "rsa-public.pem"),
        ("eddsa-jwt", "ed25519-private.pem", "ed25519-public.pem"),
    ] {
        let (code, from_private, stderr) = jwks(id, &keys(private));
        assert_eq!(code, Some(0), "{id}: {stderr}");
        let (_, from_public, _) = jwks(id, &keys(public));
        assert_eq!(
            from_private, from_public,
            "{id}: private and public key give the same JWKS"
        );

        let raw: Value = serde_json::from_str(&from_private).unwrap();
        let jwk = &raw["keys"][0];
        assert_eq!(raw["keys"].as_array().unwrap().len(), 1);
        for member in jwk.as_object().unwrap().keys() {
            assert!(
                PUBLIC_MEMBERS.contains(&member.as_str()),
                "{id}: `{member}` is not public"
            );
        }
        let cred = credential(id);
        assert_eq!(jwk["alg"], cred.algorithm.as_str());
        assert_eq!(jwk["use"], "sig");
        assert_eq!(jwk["kid"].as_str(), cred.key_id.as_deref());

        let set: JwkSet = serde_json::from_str(&from_private).unwrap();
        let token = worker_token(&cred, &keys(private));
        let claims = verify(&token, &set, &cred).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(claims["sub"], "customer-123");
    }
}

#[test]
fn a_token_signed_with_another_key_does_not_verify() {
    let cred = credential("es256-jwt");
    let (_, printed, _) = jwks("es256-jwt", &keys("p256-private.pem"));
    let set: JwkSet = serde_json::from_str(&printed).unwrap();
    let other_key =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../outbound/tests/keys/p256.pem");
    let token = worker_token(&cred, other_key.to_str().unwrap());
    assert!(verify(&token, &set, &cred).is_err());
}

#[test]
fn a_credential_without_key_id_gets_a_warning_and_no_kid() {
    let (code, stdout, stderr) = jwks("ps256-jwt", &keys("rsa-public.pem"));
    assert_eq!(code, Some(0));
    assert!(!stdout.contains("\"kid\""));
    assert!(stderr.contains("has no `key_id`"), "{stderr}");
}

#[test]
fn refusals_are_clear_and_print_nothing() {
    let cases: [(&str, &str, &str); 8] = [
        (
            "hs256-jwt",
            "does-not-exist.pem",
            "uses HS256 (HMAC): its key is a shared secret, so there is no public key to publish",
        ),
        (
            "es256-jwt",
            "rsa-private.pem",
            "signs with ES256, which needs an EC P-256 key, but the key file holds an RSA key",
        ),
        (
            "es384-jwt",
            "p256-public.pem",
            "needs an EC P-384 key, but the key file holds an EC P-256 key",
        ),
        (
            "rs256-jwt",
            "ed25519-private.pem",
            "needs an RSA key, but the key file holds an Ed25519 key",
        ),
        (
            "es256-jwt",
            "p256-sec1.pem",
            "`EC PRIVATE KEY` (SEC1) is not what the Worker reads",
        ),
        (
            "es256-jwt",
            "p256-encrypted.pem",
            "the private key is encrypted",
        ),
        (
            "es256-jwt",
            "p521-private.pem",
            "is not an RSA, EC P-256, EC P-384 or Ed25519 key",
        ),
        ("es256-jwt", "README.md", "no PEM block found"),
    ];
    for (id, file, expected) in cases {
        let (code, stdout, stderr) = jwks(id, &keys(file));
        assert_eq!(code, Some(1), "{id} {file}");
        assert!(stdout.is_empty(), "{id} {file}: {stdout}");
        assert!(stderr.contains(expected), "{id} {file}: {stderr}");
        let material = std::fs::read_to_string(keys(file)).unwrap_or_default();
        for line in material
            .lines()
            .filter(|l| l.len() > 20 && !l.starts_with("-----"))
        {
            assert!(
                !stderr.contains(line),
                "{id} {file}: key material in the message"
            );
        }
    }
}

#[test]
fn unknown_credentials_get_a_suggestion() {
    let (code, _, stderr) = jwks("es256-jtw", &keys("p256-private.pem"));
    assert_eq!(code, Some(1));
    assert!(stderr.contains("no credential `es256-jtw`"), "{stderr}");
    assert!(stderr.contains("did you mean `es256-jwt`?"), "{stderr}");
    let (_, _, stderr) = jwks("zzz", &keys("p256-private.pem"));
    assert!(
        stderr.contains("it defines: eddsa-jwt, es256-jwt"),
        "{stderr}"
    );
}

/// A rotation (docs/deploy.md, step 12): `--next-key-file` publishes the next key beside the
/// active one, each with its `kid`; the set verifies tokens the Worker signs before the swap
/// (active key, its `kid`) and after it (the former next key, the next `kid`).
#[test]
fn a_rotation_publishes_both_keys_and_verifies_tokens_of_either() {
    let next_file = keys("p256-next-private.pem");
    let (code, printed, stderr) = jwks_with(
        "es256-rotating",
        &keys("p256-private.pem"),
        &["--next-key-file", &next_file],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let raw: Value = serde_json::from_str(&printed).unwrap();
    let kids: Vec<&str> = raw["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, ["es256-2026-11", "es256-2027-05"]);
    let set: JwkSet = serde_json::from_str(&printed).unwrap();
    let before = credential("es256-rotating");
    let token = worker_token(&before, &keys("p256-private.pem"));
    let kid = decode_header(&token).unwrap().kid;
    assert_eq!(kid.as_deref(), Some("es256-2026-11"));
    assert!(verify(&token, &set, &before).is_ok());
    // After the swap the former next key signs, with the former next `kid`.
    let next = before.next.clone().unwrap();
    let after = Credential {
        secret: next.secret,
        key_id: Some(next.key_id),
        next: None,
        ..before.clone()
    };
    let token = worker_token(&after, &next_file);
    assert_eq!(
        decode_header(&token).unwrap().kid.as_deref(),
        Some("es256-2027-05")
    );
    assert!(verify(&token, &set, &after).is_ok());
    // The active key, under the next `kid`, does not verify the next key's token.
    let forged = JwkSet {
        keys: vec![set.keys[0].clone(), {
            let mut k = set.keys[0].clone();
            k.common.key_id = Some("es256-2027-05".into());
            k
        }],
    };
    assert!(verify(&token, &forged, &after).is_err());
}

#[test]
fn a_next_key_is_refused_when_it_does_not_fit() {
    let active = keys("p256-private.pem");
    let cases = [
        (
            "es256-rotating",
            "p384-private.pem",
            "needs an EC P-256 key, but the key file holds an EC P-384 key (key file `",
        ),
        ("es256-rotating", "p256-public.pem", "holds the same key as"),
        (
            "es256-jwt",
            "p256-next-private.pem",
            "credential `es256-jwt` has no next key; name it in the policy first",
        ),
        ("hs256-jwt", "p256-next-private.pem", "uses HS256 (HMAC)"),
    ];
    for (id, next, expected) in cases {
        let (code, stdout, stderr) = jwks_with(id, &active, &["--next-key-file", &keys(next)]);
        assert_eq!(code, Some(1), "{id} {next}");
        assert!(stdout.is_empty(), "{id} {next}: {stdout}");
        assert!(stderr.contains(expected), "{id} {next}: {stderr}");
    }
}
