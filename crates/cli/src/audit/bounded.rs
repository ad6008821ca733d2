//! Counters whose memory is bounded whatever the log size: log content is attacker-influenced
//! (hosts, paths) and logs can be huge, so no map may grow with the number of lines.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

/// Longest key kept, in bytes: host names have at most 253 characters, and a forged line must
/// not make each tracked key a megabyte long.
pub const MAX_KEY_BYTES: usize = 256;

/// `key`, cut at a character boundary to [`MAX_KEY_BYTES`] and marked with `…` when cut.
pub fn bounded_key(key: &str) -> Cow<'_, str> {
    if key.len() <= MAX_KEY_BYTES {
        return Cow::Borrowed(key);
    }
    let mut end = MAX_KEY_BYTES;
    while !key.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}…", key.get(..end).unwrap_or_default()))
}

/// A map that is exact for its first `capacity` distinct keys; later new keys are pooled into
/// [`Capped::other`] (their values are still counted, just not by key).
#[derive(Clone, Debug)]
pub struct Capped<V> {
    capacity: usize,
    entries: BTreeMap<String, V>,
    other: Option<V>,
    other_observations: u64,
}

impl<V: Default> Capped<V> {
    /// An empty map keeping at most `capacity` keys.
    pub fn new(capacity: usize) -> Capped<V> {
        Capped {
            capacity,
            entries: BTreeMap::new(),
            other: None,
            other_observations: 0,
        }
    }

    /// The value for `key`, or the pooled value once the map is full.
    pub fn entry(&mut self, key: &str) -> &mut V {
        let key = bounded_key(key);
        let key = key.as_ref();
        if self.entries.contains_key(key) || self.entries.len() < self.capacity {
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

/// Approximate heavy hitters in bounded memory (a batched Space-Saving / Misra-Gries
/// variant): keys are counted exactly until `2 * capacity` distinct keys are tracked; then
/// only the `capacity` most counted stay. A key first seen (or seen again) after such a prune
/// starts at the highest count pruned so far (the `floor`), which is its possible error: the
/// reported count is never below the true count and at most `error` above it. Exact while no
/// prune happened; a key more frequent than about `total / capacity` is never pruned.
#[derive(Clone, Debug)]
pub struct TopK {
    capacity: usize,
    counts: HashMap<String, (u64, u64)>,
    floor: u64,
    total: u64,
    pruned: bool,
}

/// One reported heavy hitter.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Hitter {
    /// The key (a host, a customer).
    pub key: String,
    /// Its count (an overestimate by at most `error`).
    pub count: u64,
    /// 0 when exact.
    pub error: u64,
}

impl TopK {
    /// Keeps at least `capacity` keys (at least one) and at most twice as many.
    pub fn new(capacity: usize) -> TopK {
        TopK {
            capacity: capacity.max(1),
            counts: HashMap::new(),
            floor: 0,
            total: 0,
            pruned: false,
        }
    }

    /// Counts one observation of `key`.
    pub fn add(&mut self, key: &str) {
        let key = bounded_key(key);
        let key = key.as_ref();
        self.total += 1;
        if let Some((count, _)) = self.counts.get_mut(key) {
            *count += 1;
            return;
        }
        self.counts
            .insert(key.to_string(), (self.floor + 1, self.floor));
        if self.counts.len() >= self.capacity.saturating_mul(2) {
            self.prune();
        }
    }

    fn prune(&mut self) {
        let mut all: Vec<(String, (u64, u64))> = self.counts.drain().collect();
        all.sort_by(|a, b| b.1.0.cmp(&a.1.0).then_with(|| a.0.cmp(&b.0)));
        let removed = all.split_off(self.capacity.min(all.len()));
        if let Some(highest) = removed.iter().map(|(_, (count, _))| *count).max() {
            self.floor = self.floor.max(highest);
            self.pruned = true;
        }
        self.counts = all.into_iter().collect();
    }

    /// The `n` most counted keys, highest first (ties by key).
    pub fn top(&self, n: usize) -> Vec<Hitter> {
        let mut all: Vec<Hitter> = self
            .counts
            .iter()
            .map(|(key, &(count, error))| Hitter {
                key: key.clone(),
                count,
                error,
            })
            .collect();
        all.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
        all.truncate(n);
        all
    }

    /// Whether counts may be overestimates (some key was pruned).
    pub fn is_approximate(&self) -> bool {
        self.pruned
    }

    #[cfg(test)]
    /// Distinct keys currently tracked (never `2 * capacity` or more).
    pub fn tracked(&self) -> usize {
        self.counts.len()
    }

    #[cfg(test)]
    /// Observations in all.
    pub fn total(&self) -> u64 {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_pools_keys_past_capacity() {
        let mut m: Capped<u64> = Capped::new(2);
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
        let mut t = TopK::new(2);
        t.add(&long);
        let key = &t.top(1)[0].key;
        assert!(key.len() <= MAX_KEY_BYTES + '…'.len_utf8() && key.ends_with('…'));
        assert_eq!(bounded_key("short"), "short");
    }

    #[test]
    fn topk_is_exact_below_capacity() {
        let mut t = TopK::new(10);
        for k in ["x", "y", "x", "z", "x", "y"] {
            t.add(k);
        }
        let top = t.top(2);
        assert_eq!((top[0].key.as_str(), top[0].count), ("x", 3));
        assert_eq!((top[1].key.as_str(), top[1].count), ("y", 2));
        assert!(!t.is_approximate());
    }

    #[test]
    fn topk_keeps_heavy_hitters_among_many_distinct_keys() {
        let mut t = TopK::new(50);
        for i in 0..100_000u32 {
            if i % 4 == 0 {
                t.add("heavy.example");
            } else {
                t.add(&format!("h{i}.example"));
            }
        }
        assert!(t.tracked() < 100);
        let top = t.top(1);
        assert_eq!(top[0].key, "heavy.example");
        assert!(top[0].count >= 25_000 && top[0].count - top[0].error <= 25_000);
        assert!(t.is_approximate());
        assert_eq!(t.total(), 100_000);
    }
}
