//! Tokens for inject decisions: from the cache when fresh, else minted (claims, signature) and cached.

use egress_policy_engine::{ClaimVars, Credential};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::error::CredentialError;
use crate::runtime::Runtime;
use crate::signer::Signer;
use crate::token::Token;
use crate::token_cache::{DEFAULT_CAPACITY, TokenCache, TokenKey};

/// Mints and caches tokens for one isolate. `C` is the runtime: its clock and its random
/// source.
pub struct Minter<S, C> {
    signer: S,
    clock: C,
    cache: TokenCache,
    /// The (credential, next secret) pairs whose next key was checked in this isolate.
    next_checked: Vec<(String, String)>,
}

impl<S: Signer, C: Runtime> Minter<S, C> {
    /// A minter with the default cache capacity.
    pub fn new(signer: S, clock: C) -> Self {
        Minter::with_cache(signer, clock, TokenCache::with_capacity(DEFAULT_CAPACITY))
    }

    /// A minter with a given (empty) cache.
    pub fn with_cache(signer: S, clock: C, cache: TokenCache) -> Self {
        Minter {
            signer,
            clock,
            cache,
            next_checked: Vec::new(),
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

    /// Whether `credential`'s next key could sign once it is the active one: checked (set,
    /// parses, signs) on the first call per (credential, next secret) of the isolate, then
    /// never again. `Some` says what is wrong, naming the secret, never its text, for a
    /// `settings` line; no request fails because of it, and no token is signed with it.
    pub fn check_next(
        &mut self,
        credential: &Credential,
        secret: impl FnOnce(&str) -> Option<String>,
    ) -> Option<String> {
        let next = credential.next.as_ref()?;
        let seen = |(id, name): &(String, String)| *id == credential.id && *name == next.secret;
        if self.next_checked.iter().any(seen) {
            return None;
        }
        self.next_checked
            .push((credential.id.clone(), next.secret.clone()));
        // The next key as the active one: parsed into the signer's key cache, ready for the swap.
        let swapped = Credential {
            secret: next.secret.clone(),
            key_id: Some(next.key_id.clone()),
            next: None,
            ..credential.clone()
        };
        let checked = secret(&next.secret)
            .ok_or(CredentialError::SecretMissing)
            .and_then(|text| self.signer.sign(&swapped, &text, &Map::new()));
        let alg = credential.algorithm;
        let problem = match checked.err()? {
            CredentialError::SecretMissing => "is not set".to_owned(),
            CredentialError::WeakKey => format!("is too short for {alg}"),
            _ => format!("is not a usable {alg} key"),
        };
        Some(format!(
            "{} (next_secret of credential {}) {problem}: tokens are still signed with the active key, but the swap to key {} would fail",
            next.secret, credential.id, next.key_id
        ))
    }

    /// The signer (to inspect it in tests).
    pub fn signer(&self) -> &S {
        &self.signer
    }

    /// Number of cached tokens.
    pub fn cached(&self) -> usize {
        self.cache.len()
    }
}

/// The payload: the rendered `claims` templates, `sub` (the customer unless a template sets
/// it), then the registered claims `iss`, `aud`, `iat`, `exp = iat + ttl` and `jti` (the
/// token's random id), which templates cannot override (`check` rejects them in `claims`
/// anyway).
pub fn claims(
    credential: &Credential,
    vars: &ClaimVars<'_>,
    iat: u64,
    jti: &str,
) -> Map<String, Value> {
    let mut payload = Map::new();
    for (name, template) in &credential.claims {
        payload.insert(name.clone(), Value::String(template.render(vars)));
    }
    payload
        .entry("sub")
        .or_insert_with(|| Value::String(vars.customer.to_owned()));
    payload.insert("iss".into(), Value::String(credential.issuer.clone()));
    payload.insert("aud".into(), Value::String(credential.audience.clone()));
    payload.insert("iat".into(), Value::from(iat));
    let exp = iat.saturating_add(u64::from(credential.ttl));
    payload.insert("exp".into(), Value::from(exp));
    payload.insert("jti".into(), Value::String(jti.to_owned()));
    payload
}
