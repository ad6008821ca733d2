//! Tokens for inject decisions: from the cache when fresh, else minted and cached.

use egress_policy_engine::{ClaimVars, Credential};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::claims::claims;
use crate::clock::{Clock, Random};
use crate::error::CredentialError;
use crate::signer::Signer;
use crate::token::Token;
use crate::token_cache::{TokenCache, TokenKey};

/// Mints and caches tokens for one isolate. `C` is the runtime: its clock and its random
/// source.
pub struct Minter<S, C> {
    signer: S,
    clock: C,
    cache: TokenCache,
}

impl<S: Signer, C: Clock + Random> Minter<S, C> {
    /// A minter with the default cache capacity.
    pub fn new(signer: S, clock: C) -> Self {
        Minter::with_cache(signer, clock, TokenCache::default())
    }

    /// A minter with a given (empty) cache.
    pub fn with_cache(signer: S, clock: C, cache: TokenCache) -> Self {
        Minter {
            signer,
            clock,
            cache,
        }
    }

    /// The token for `credential` with `vars`: a cached one while fresh, else a new one
    /// signed with the key from `secret(name)` (called only on a miss; `None` means the
    /// Worker secret is not set).
    pub fn token(
        &mut self,
        credential: &Credential,
        vars: &ClaimVars<'_>,
        secret: impl FnOnce(&str) -> Option<String>,
    ) -> Result<Token, CredentialError> {
        let now = self.clock.now_secs();
        let key = TokenKey::new(credential, vars);
        if let Some(token) = self.cache.get(&key, now) {
            return Ok(token.clone());
        }
        let secret = secret(&credential.secret).ok_or(CredentialError::SecretMissing)?;
        // 128 random bits: a verifier can refuse a replayed token; a cached token keeps its own.
        let mut jti = [0u8; 16];
        if !self.clock.fill(&mut jti) {
            return Err(CredentialError::SigningFailed);
        }
        let payload = claims(credential, vars, now, &URL_SAFE_NO_PAD.encode(jti));
        let token = self.signer.sign(credential, &secret, &payload)?;
        self.cache.insert(key, token.clone(), now, credential.ttl);
        Ok(token)
    }

    /// The signer (to inspect it in tests).
    pub fn signer(&self) -> &S {
        &self.signer
    }

    /// The clock (to move a fake one in tests).
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// Number of cached tokens.
    pub fn cached(&self) -> usize {
        self.cache.len()
    }
}
