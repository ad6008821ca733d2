//! Signing a token, behind a trait so the minting and caching logic tests with a fake.

use egress_policy_engine::Credential;
use jsonwebtoken::Header;
use serde_json::{Map, Value};

use crate::error::CredentialError;
use crate::keys::{KeyCache, jose};
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
        let mut header = Header::new(jose(credential.algorithm)?);
        header.kid = credential.key_id.clone();
        jsonwebtoken::encode(&header, claims, key)
            .map(Token::new)
            .map_err(|_| CredentialError::SigningFailed)
    }
}
