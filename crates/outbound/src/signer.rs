//! Signing a token, behind a trait so the minting and caching logic tests with a fake.

use egress_policy_engine::{Credential, JwtAlgorithm};
use jsonwebtoken::{Algorithm, Header};
use serde_json::{Map, Value};

use crate::error::CredentialError;
use crate::keys::KeyCache;
use crate::token::Token;

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

/// The real signer: `jsonwebtoken` with the RustCrypto backend, keys parsed once per secret
/// value ([`KeyCache`]). Header: `alg`, `typ: "JWT"`, and `kid` when the credential has one.
#[derive(Default)]
pub struct JwtSigner {
    keys: KeyCache,
}

impl JwtSigner {
    /// A signer with an empty key cache.
    pub fn new() -> JwtSigner {
        JwtSigner::default()
    }

    /// How many times a key was parsed so far.
    pub fn key_parses(&self) -> u64 {
        self.keys.parses()
    }
}

impl Signer for JwtSigner {
    fn sign(
        &mut self,
        credential: &Credential,
        secret: &str,
        claims: &Map<String, Value>,
    ) -> Result<Token, CredentialError> {
        let key = self
            .keys
            .key(&credential.secret, credential.algorithm, secret)?;
        let mut header = Header::new(jose_algorithm(credential.algorithm));
        header.kid = credential.key_id.clone();
        jsonwebtoken::encode(&header, claims, key)
            .map(Token::new)
            .map_err(|_| CredentialError::SigningFailed)
    }
}

/// The engine's algorithm as `jsonwebtoken`'s.
fn jose_algorithm(algorithm: JwtAlgorithm) -> Algorithm {
    match algorithm {
        JwtAlgorithm::HS256 => Algorithm::HS256,
        JwtAlgorithm::HS384 => Algorithm::HS384,
        JwtAlgorithm::HS512 => Algorithm::HS512,
        JwtAlgorithm::RS256 => Algorithm::RS256,
        JwtAlgorithm::RS384 => Algorithm::RS384,
        JwtAlgorithm::RS512 => Algorithm::RS512,
        JwtAlgorithm::PS256 => Algorithm::PS256,
        JwtAlgorithm::PS384 => Algorithm::PS384,
        JwtAlgorithm::PS512 => Algorithm::PS512,
        JwtAlgorithm::ES256 => Algorithm::ES256,
        JwtAlgorithm::ES384 => Algorithm::ES384,
        JwtAlgorithm::EdDSA => Algorithm::EdDSA,
    }
}
