//! Minted tokens kept per isolate until shortly before they expire.
//!
//! Keyed by the credential's whole definition, the customer and tags, plus host and rule when
//! a claim template uses `{host}`/`{rule}`: a token minted for one customer (or tag set, host,
//! rule) is never handed out for another, because the key is exactly what the token was made
//! from. The definition is every field of the credential (a digest of all of it, so a field
//! added later is covered too): after a new policy changes a credential's audience, claims,
//! lifetime or secret, no token minted under the old definition is handed out. The key itself
//! is the value of the secret the definition names, and an isolate's secrets never change (a
//! new secret value is a new deployment, with new isolates).
//!
//! Refresh: a token is reused while more than `min(60 s, ttl / 5)` of its lifetime remains, so
//! an upstream never receives a token about to expire in flight, and short-lived tokens are
//! still reused for most of their life. Bounded: at most `capacity` entries; a full cache first
//! drops every entry due for refresh, then the one expiring soonest.

use std::collections::HashMap;

use egress_policy_engine::{ClaimVars, Credential};
use sha2::{Digest, Sha256};

use crate::token::Token;

/// Entries kept at most by default: many customers times a few credentials.
pub const DEFAULT_CAPACITY: usize = 4096;

/// What a token was made from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TokenKey {
    definition: [u8; 32],
    customer: String,
    tags: Vec<String>,
    /// Host and rule, when a claim template uses them.
    request: Option<(String, String)>,
}

impl TokenKey {
    /// The key for minting `credential` with `vars`.
    pub fn new(credential: &Credential, vars: &ClaimVars<'_>) -> TokenKey {
        let request = credential.depends_on_request();
        TokenKey {
            definition: definition(credential),
            customer: vars.customer.to_owned(),
            tags: vars.tags.to_vec(),
            request: request.then(|| (vars.host.to_owned(), vars.rule.to_owned())),
        }
    }
}

/// SHA-256 of the credential's every field, as serialised (fed to the hash as it is
/// written, so nothing is allocated).
fn definition(credential: &Credential) -> [u8; 32] {
    let mut hashing = Sha256::new();
    // Plain data with string keys: serialising it cannot fail. Were it to, the id alone still
    // keeps credentials apart, and the digest of the partial output is what is kept.
    let _written = serde_json::to_writer(&mut hashing, credential);
    hashing.finalize().into()
}

#[derive(Clone, Debug)]
struct Entry {
    token: Token,
    /// First second at which the token is no longer handed out.
    refresh_at: u64,
}

/// The per-isolate token cache.
#[derive(Debug)]
pub struct TokenCache {
    entries: HashMap<TokenKey, Entry>,
    capacity: usize,
}

impl TokenCache {
    /// An empty cache holding at most `capacity` tokens (at least one).
    pub fn with_capacity(capacity: usize) -> TokenCache {
        TokenCache {
            entries: HashMap::new(),
            capacity: capacity.max(1),
        }
    }

    /// The cached token for `key` if it is still fresh at `now` (seconds).
    pub fn get(&self, key: &TokenKey, now: u64) -> Option<&Token> {
        self.entries
            .get(key)
            .filter(|entry| now < entry.refresh_at)
            .map(|entry| &entry.token)
    }

    /// Remembers `token`, minted at `iat` with lifetime `ttl` seconds.
    pub fn insert(&mut self, key: TokenKey, token: Token, iat: u64, ttl: u32) {
        let exp = iat.saturating_add(u64::from(ttl));
        // A token is no longer handed out a fifth of its lifetime (at most a minute) before
        // it expires.
        let refresh_at = exp.saturating_sub(u64::from(ttl / 5).min(60));
        if refresh_at <= iat {
            // Too short-lived to be reused: do not evict anything for it.
            self.entries.remove(&key);
            return;
        }
        if !self.entries.contains_key(&key) && self.entries.len() >= self.capacity {
            self.make_room(iat);
        }
        self.entries.insert(key, Entry { token, refresh_at });
    }

    /// Number of tokens held.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    fn make_room(&mut self, now: u64) {
        self.entries.retain(|_, entry| now < entry.refresh_at);
        if self.entries.len() >= self.capacity {
            let soonest = self
                .entries
                .iter()
                .min_by_key(|(_, entry)| entry.refresh_at)
                .map(|(key, _)| key.clone());
            if let Some(key) = soonest {
                self.entries.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(customer: &str) -> TokenKey {
        TokenKey {
            definition: [0; 32],
            customer: customer.into(),
            tags: vec![],
            request: None,
        }
    }

    fn token(text: &str) -> Token {
        Token::new(text.into())
    }

    #[test]
    fn margin_is_a_fifth_of_the_ttl_capped_at_a_minute() {
        // (ttl, the last second a token minted at 0 is handed out)
        for (ttl, last) in [(300, 239), (3600, 3539), (100, 79), (4, 3)] {
            let mut cache = TokenCache::with_capacity(DEFAULT_CAPACITY);
            cache.insert(key("a"), token("t"), 0, ttl);
            assert!(cache.get(&key("a"), last).is_some(), "{ttl}");
            assert!(cache.get(&key("a"), last + 1).is_none(), "{ttl}");
        }
    }

    #[test]
    fn fresh_until_the_margin() {
        let mut cache = TokenCache::with_capacity(DEFAULT_CAPACITY);
        cache.insert(key("a"), token("t"), 1_000, 300);
        assert_eq!(cache.get(&key("a"), 1_000), Some(&token("t")));
        assert_eq!(cache.get(&key("a"), 1_239), Some(&token("t")));
        assert_eq!(cache.get(&key("a"), 1_240), None);
        assert_eq!(cache.get(&key("b"), 1_000), None);
    }

    #[test]
    fn full_cache_evicts_stale_then_soonest() {
        let mut cache = TokenCache::with_capacity(2);
        cache.insert(key("a"), token("a"), 0, 100); // refresh at 80
        cache.insert(key("b"), token("b"), 50, 100); // refresh at 130
        cache.insert(key("c"), token("c"), 90, 100); // a is stale at 90: dropped
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(&key("b"), 90), Some(&token("b")));
        assert_eq!(cache.get(&key("c"), 90), Some(&token("c")));
        cache.insert(key("d"), token("d"), 91, 100); // none stale: b (soonest) goes
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(&key("b"), 91), None);
        assert_eq!(cache.get(&key("c"), 91), Some(&token("c")));
        assert_eq!(cache.get(&key("d"), 91), Some(&token("d")));
        // Replacing an existing key never evicts another.
        cache.insert(key("d"), token("d2"), 92, 100);
        assert_eq!(cache.get(&key("c"), 92), Some(&token("c")));
        assert_eq!(cache.get(&key("d"), 92), Some(&token("d2")));
    }

    #[test]
    fn tokens_too_short_lived_are_not_kept() {
        let mut cache = TokenCache::with_capacity(DEFAULT_CAPACITY);
        cache.insert(key("a"), token("t"), 10, 0);
        assert_eq!(cache.len(), 0);
    }
}
