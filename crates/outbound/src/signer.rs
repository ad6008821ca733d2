//! Signing a token: behind a trait so the minting and caching logic tests with a fake, and
//! the real signer with its parsed keys, cached because PEM parsing costs far more than
//! signing a token.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::mem::{Discriminant, discriminant};

use egress_policy_engine::{Credential, JwtAlgorithm};
use jsonwebtoken::{Algorithm, AlgorithmFamily, EncodingKey, Header};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::error::CredentialError;
use crate::token::Token;

/// The engine's algorithm as `jsonwebtoken`'s: both spell JOSE's names.
fn jose(algorithm: JwtAlgorithm) -> Result<Algorithm, CredentialError> {
    let parsed = algorithm.as_str().parse();
    parsed.map_err(|_| CredentialError::SigningFailed)
}

/// A secret's text as a key of `family`: HMAC takes its UTF-8 bytes, RSA (RS*, PS*) PEM,
/// PKCS#8 or PKCS#1, ECDSA (ES*) and Ed25519 PKCS#8 PEM. An RSA modulus must have `min_len`
/// bytes (the same for every RS* and PS* algorithm, so the key serves them all).
fn parse(
    family: AlgorithmFamily,
    secret: &str,
    min_len: usize,
) -> Result<EncodingKey, CredentialError> {
    let parsed = match family {
        AlgorithmFamily::Hmac => EncodingKey::from_secret(secret.as_bytes()),
        AlgorithmFamily::Rsa => EncodingKey::from_rsa_pem(secret.as_bytes()),
        AlgorithmFamily::Ec => EncodingKey::from_ec_pem(secret.as_bytes()),
        AlgorithmFamily::Ed => EncodingKey::from_ed_pem(secret.as_bytes()),
    };
    // The parser's error may quote the input: drop it, keep only that it failed.
    let key = parsed.map_err(|_| CredentialError::InvalidKey)?;
    if family == AlgorithmFamily::Rsa && rsa_modulus_bytes(&key)? < min_len {
        return Err(CredentialError::WeakKey);
    }
    Ok(key)
}

/// The modulus length of an RSA key as `jsonwebtoken` holds it (PKCS#1 DER, whatever PEM it
/// came from), read with the `rsa` crate it signs with.
fn rsa_modulus_bytes(key: &EncodingKey) -> Result<usize, CredentialError> {
    use rsa::pkcs1::DecodeRsaPrivateKey as _;
    use rsa::traits::PublicKeyParts as _;
    rsa::PrivateKey::from_pkcs1_der(key.as_bytes())
        .map(|key| key.size())
        .map_err(|_| CredentialError::InvalidKey)
}

struct CachedKey {
    /// SHA-256 of the secret's text: a changed secret is parsed again.
    digest: [u8; 32],
    /// The key, or why the text is none: a bad key fails every request alike without being
    /// parsed again for each (parsing and checking an RSA key costs far more than a lookup).
    key: Result<EncodingKey, CredentialError>,
}

/// The real signer ([`Signer`]): `jsonwebtoken` with the RustCrypto backend.
/// Header: `alg`, `typ: "JWT"`, and `kid` when the credential has one. Its keys are kept per
/// (secret name, algorithm family), each remembered with the hash of the secret text it was
/// parsed from, unusable ones too. At most one key per pair is kept (a new secret value
/// replaces the old key), so the cache is bounded by the policy's credentials.
#[derive(Default)]
pub struct JwtSigner {
    keys: HashMap<(String, Discriminant<AlgorithmFamily>), CachedKey>,
    parses: u64,
}

impl JwtSigner {
    /// How many times a key was parsed so far (for tests of the caching).
    pub fn key_parses(&self) -> u64 {
        self.parses
    }

    /// The key for `algorithm` from the secret named `secret_name` whose text is `secret`,
    /// parsed only when this (name, family, text) was not seen last.
    fn key(
        &mut self,
        secret_name: &str,
        algorithm: JwtAlgorithm,
        secret: &str,
    ) -> Result<&EncodingKey, CredentialError> {
        // An HMAC key shorter than the algorithm's hash output is refused, whichever
        // algorithm the cached key was parsed for (the same text serves HS256 and HS512).
        let min_len = algorithm.min_key_bytes().unwrap_or(0);
        if algorithm.is_hmac() && secret.len() < min_len {
            return Err(CredentialError::WeakKey);
        }
        let family = jose(algorithm)?.family();
        let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        let cached = match self
            .keys
            .entry((secret_name.to_owned(), discriminant(&family)))
        {
            Entry::Occupied(cached) if cached.get().digest == digest => cached.into_mut(),
            slot => {
                self.parses = self.parses.saturating_add(1);
                let key = parse(family, secret, min_len);
                slot.insert_entry(CachedKey { digest, key }).into_mut()
            }
        };
        cached.key.as_ref().map_err(|err| *err)
    }
}

/// Turns a credential, its secret's text and a payload into a signed token.
pub trait Signer {
    /// Signs `claims` for `credential` with the key held in `secret` (the secret's text).
    fn sign(
        &mut self,
        credential: &Credential,
        secret: &str,
        claims: &Map<String, Value>,
    ) -> Result<Token, CredentialError>;
}

impl Signer for JwtSigner {
    fn sign(
        &mut self,
        credential: &Credential,
        secret: &str,
        claims: &Map<String, Value>,
    ) -> Result<Token, CredentialError> {
        let key = self.key(&credential.secret, credential.algorithm, secret)?;
        let mut header = Header::new(jose(credential.algorithm)?);
        header.kid = credential.key_id.clone();
        jsonwebtoken::encode(&header, claims, key)
            .map(Token::new)
            .map_err(|_| CredentialError::SigningFailed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EC_KEY: &str = include_str!("../tests/keys/p256.pem");

    #[test]
    fn parses_once_per_secret_value() {
        let mut cache = JwtSigner::default();
        cache.key("EC", JwtAlgorithm::ES256, EC_KEY).unwrap();
        cache.key("EC", JwtAlgorithm::ES256, EC_KEY).unwrap();
        assert_eq!(cache.key_parses(), 1);
        let one = "1".repeat(64);
        cache.key("HMAC", JwtAlgorithm::HS256, &one).unwrap();
        cache.key("HMAC", JwtAlgorithm::HS512, &one).unwrap();
        assert_eq!(cache.key_parses(), 2);
        // A rotated secret is parsed again and replaces the old key.
        cache
            .key("HMAC", JwtAlgorithm::HS256, &"2".repeat(32))
            .unwrap();
        assert_eq!(cache.key_parses(), 3);
        assert_eq!(cache.keys.len(), 2);
    }

    #[test]
    fn bad_keys_are_invalid_without_detail() {
        let mut cache = JwtSigner::default();
        for (algorithm, text) in [
            (JwtAlgorithm::RS256, "not a pem"),
            (
                JwtAlgorithm::ES256,
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            ),
            (JwtAlgorithm::EdDSA, EC_KEY),
        ] {
            let err = cache.key("K", algorithm, text).map(|_| ()).unwrap_err();
            assert_eq!(err, CredentialError::InvalidKey);
        }
    }

    #[test]
    fn a_bad_key_is_not_parsed_again_until_its_text_changes() {
        let mut cache = JwtSigner::default();
        for _ in 0..3 {
            let err = cache
                .key("EC", JwtAlgorithm::ES256, "not a pem")
                .map(|_| ());
            assert_eq!(err, Err(CredentialError::InvalidKey));
        }
        assert_eq!(cache.key_parses(), 1);
        cache.key("EC", JwtAlgorithm::ES256, EC_KEY).unwrap();
        assert_eq!(cache.key_parses(), 2);
    }
}
