//! Signing a token, behind a trait so the minting and caching logic tests with a fake.

use egress_policy_engine::Credential;
use jsonwebtoken::Header;
use serde_json::{Map, Value};

use crate::error::CredentialError;
use crate::keys::{JwtSigner, jose};
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
