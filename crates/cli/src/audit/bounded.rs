//! Counters whose memory is bounded whatever the log size: log content is attacker-influenced
//! (hosts, paths) and logs can be huge, so no map may grow with the number of lines.

use std::borrow::Cow;
use std::collections::BTreeMap;

/// Longest key kept, in bytes: host names have at most 253 characters, and a forged line must
/// not make each tracked key a megabyte long.
pub const MAX_KEY_BYTES: usize = 256;

/// `key`, cut at a character boundary to [`MAX_KEY_BYTES`] and marked with `…` when cut.
pub fn bounded_key(key: &str) -> Cow<'_, str> {
    if key.len() <= MAX_KEY_BYTES {
        return Cow::Borrowed(key);
    }
    let end = key.floor_char_boundary(MAX_KEY_BYTES);
    Cow::Owned(format!("{}…", key.get(..end).unwrap_or_default()))
}

/// A map that is exact for its first `N` distinct keys (1,000 unless said); later new keys
/// are pooled into [`Capped::other`] (their values are still counted, just not by key).
#[derive(Clone, Debug, Default)]
pub struct Capped<V, const N: usize = 1_000> {
    entries: BTreeMap<String, V>,
    other: Option<V>,
    other_observations: u64,
}

impl<V: Default, const N: usize> Capped<V, N> {
    /// The value for `key`, or the pooled value once the map is full.
    pub fn entry(&mut self, key: &str) -> &mut V {
        let key = bounded_key(key);
        let key = key.as_ref();
        if self.entries.contains_key(key) || self.entries.len() < N {
            return self.entries.entry(key.to_string()).or_default();
        }
        self.other_observations += 1;
        self.other.get_or_insert_with(V::default)
    }

    /// The keyed entries, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &V)> {
        self.entries.iter()
    }

    /// The pooled value of keys that did not fit, if any.
    pub fn other(&self) -> Option<&V> {
        self.other.as_ref()
    }

    /// How many observations went to the pool.
    pub fn other_observations(&self) -> u64 {
        self.other_observations
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_pools_keys_past_capacity() {
        let mut m: Capped<u64, 2> = Capped::default();
        for k in ["a", "b", "c", "a", "d"] {
            *m.entry(k) += 1;
        }
        let keyed: Vec<(String, u64)> = m.iter().map(|(k, v)| (k.clone(), *v)).collect();
        assert_eq!(keyed, vec![("a".into(), 2), ("b".into(), 1)]);
        assert_eq!(m.other(), Some(&2));
        assert_eq!(m.other_observations(), 2);
    }

    #[test]
    fn long_keys_are_cut() {
        let long = "é".repeat(300);
        let key = bounded_key(&long);
        assert!(key.len() <= MAX_KEY_BYTES + '…'.len_utf8() && key.ends_with('…'));
        assert_eq!(bounded_key("short"), "short");
    }
}
