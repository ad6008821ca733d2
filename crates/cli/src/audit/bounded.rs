//! Counters whose memory is bounded whatever the log size: log content is attacker-influenced
//! (hosts, paths) and logs can be huge, so no map may grow with the number of lines.

use std::collections::{BTreeMap, BTreeSet, HashMap};

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

/// Approximate heavy hitters with the Space-Saving algorithm (Metwally et al. 2005): at most
/// `capacity` keys are tracked; a new key past capacity replaces the least counted one and
/// inherits its count as the error bound. Exact while fewer than `capacity` distinct keys
/// were seen, and any key seen more than `total / capacity` times is always present.
#[derive(Clone, Debug)]
pub struct TopK {
    capacity: usize,
    counts: HashMap<String, (u64, u64)>,
    by_count: BTreeSet<(u64, String)>,
    total: u64,
    evictions: u64,
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
    /// Tracks at most `capacity` keys (at least one).
    pub fn new(capacity: usize) -> TopK {
        TopK {
            capacity: capacity.max(1),
            counts: HashMap::new(),
            by_count: BTreeSet::new(),
            total: 0,
            evictions: 0,
        }
    }

    /// Counts one observation of `key`.
    pub fn add(&mut self, key: &str) {
        self.total += 1;
        if let Some((count, _)) = self.counts.get_mut(key) {
            self.by_count.remove(&(*count, key.to_string()));
            *count += 1;
            self.by_count.insert((*count, key.to_string()));
            return;
        }
        let (count, error) = if self.counts.len() < self.capacity {
            (1, 0)
        } else {
            let Some((min, victim)) = self.by_count.pop_first() else {
                return;
            };
            self.counts.remove(&victim);
            self.evictions += 1;
            (min + 1, min)
        };
        self.counts.insert(key.to_string(), (count, error));
        self.by_count.insert((count, key.to_string()));
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

    /// Whether counts may be overestimates (some key was evicted).
    pub fn is_approximate(&self) -> bool {
        self.evictions > 0
    }

    #[cfg(test)]
    /// Distinct keys currently tracked (never more than the capacity).
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
        assert!(t.tracked() <= 50);
        let top = t.top(1);
        assert_eq!(top[0].key, "heavy.example");
        assert!(top[0].count >= 25_000 && top[0].count - top[0].error <= 25_000);
        assert!(t.is_approximate());
        assert_eq!(t.total(), 100_000);
    }
}
