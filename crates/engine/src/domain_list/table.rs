//! The compiled form of a domain list: every canonical name, sorted and deduplicated, in one
//! string, plus one offset per name, plus an open-addressing hash index of name numbers. A
//! million-name feed costs its bytes plus 12 to 20 bytes a name in three allocations,
//! however many names it holds; a lookup hashes the name and compares one or two entries,
//! whatever the size of the list.
//!
//! The sorted order is what the artefact stores and what `diff` walks; the index is rebuilt
//! on every load, seeded per process so that a crafted feed cannot plan collisions.

use std::fmt;
use std::hash::BuildHasher;

use foldhash::fast::RandomState;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::entry::is_canonical_entry;

/// Sorted, deduplicated canonical domain names (`evil.com`, `xn--bcher-kva.example`).
#[derive(Clone, Default)]
pub struct DomainTable {
    /// The names in ascending byte order, joined by `\n` (no trailing newline). The artefact
    /// stores exactly this string.
    text: String,
    /// Where each name ends in `text` (exclusive); the next starts one byte later.
    ends: Vec<u32>,
    /// Linear-probing hash index: a power of two of slots, at least twice the number of
    /// names (so a probe always meets an empty slot), each 0 or a name's index + 1.
    slots: Vec<u32>,
    hasher: RandomState,
}

impl PartialEq for DomainTable {
    /// The same names (the offsets and the index follow from them).
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for DomainTable {}

impl fmt::Debug for DomainTable {
    /// The size, not the names: a table can hold millions.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "DomainTable({} names, {} bytes)",
            self.len(),
            self.text.len()
        )
    }
}

impl DomainTable {
    /// How many distinct names the table holds.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the table holds no name.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The `index`-th name in ascending order.
    pub fn get(&self, index: usize) -> Option<&str> {
        let end = usize::try_from(*self.ends.get(index)?).ok()?;
        let start = match index.checked_sub(1) {
            None => 0,
            Some(previous) => usize::try_from(*self.ends.get(previous)?).ok()? + 1,
        };
        self.text.get(start..end)
    }

    /// Every name, in ascending byte order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    /// Whether `name` is in the table (compared byte for byte).
    pub fn contains(&self, name: &str) -> bool {
        let mask = self.slots.len().wrapping_sub(1);
        let mut at = self.slot_of(name, mask);
        // Terminates: at most half the slots are taken.
        loop {
            match self.slots.get(at) {
                None | Some(0) => return false,
                Some(&taken) => {
                    if usize::try_from(taken - 1).ok().and_then(|i| self.get(i)) == Some(name) {
                        return true;
                    }
                }
            }
            at = (at + 1) & mask;
        }
    }

    fn slot_of(&self, name: &str, mask: usize) -> usize {
        // Truncating the hash to the platform's width keeps its low bits, the ones used.
        (self.hasher.hash_one(name) as usize) & mask
    }

    /// Builds the hash index over the names.
    fn with_index(mut self) -> Result<Self, String> {
        let capacity = (self.len().max(1) * 2).next_power_of_two();
        let mask = capacity - 1;
        let mut slots = vec![0u32; capacity];
        for index in 0..self.len() {
            let name = self.get(index).unwrap_or_default();
            let mut at = self.slot_of(name, mask);
            while slots.get(at).is_some_and(|&s| s != 0) {
                at = (at + 1) & mask;
            }
            let number = u32::try_from(index + 1).map_err(|_| too_large())?;
            if let Some(slot) = slots.get_mut(at) {
                *slot = number;
            }
        }
        self.slots = slots;
        Ok(self)
    }

    /// The names joined by `\n`, as the artefact stores them.
    pub fn as_joined(&self) -> &str {
        &self.text
    }

    /// Builds the table from names laid end to end in `staging`, each given as a byte range
    /// (`start`, `end`): sorts them, drops duplicates, and copies them once into the table.
    /// Fails when the table would outgrow its 32-bit offsets.
    pub(crate) fn from_staging(staging: &str, mut spans: Vec<(u32, u32)>) -> Result<Self, String> {
        // u32 to usize is lossless on every target the engine builds for (32 and 64 bit).
        let name =
            |&(start, end): &(u32, u32)| staging.get(start as usize..end as usize).unwrap_or("");
        spans.sort_unstable_by(|a, b| name(a).cmp(name(b)));
        spans.dedup_by(|a, b| name(a) == name(b));
        let bytes: usize = spans.iter().map(|s| name(s).len() + 1).sum();
        let mut text = String::with_capacity(bytes);
        let mut ends = Vec::with_capacity(spans.len());
        for span in &spans {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(name(span));
            ends.push(u32::try_from(text.len()).map_err(|_| too_large())?);
        }
        DomainTable {
            text,
            ends,
            ..DomainTable::default()
        }
        .with_index()
    }

    /// Reads the joined form back (an artefact's): every name must be canonical and the names
    /// strictly ascending, as [`DomainTable::from_staging`] writes them. Keeps `text`'s
    /// allocation.
    pub fn from_joined(text: String) -> Result<Self, String> {
        if text.is_empty() {
            return DomainTable::default().with_index();
        }
        let mut ends = Vec::with_capacity(text.len() / 16);
        let mut previous: Option<&str> = None;
        let mut offset = 0usize;
        for name in text.split('\n') {
            if !is_canonical_entry(name) {
                return Err(format!("`{name}` is not a canonical domain"));
            }
            if previous.is_some_and(|p| p >= name) {
                return Err(format!("`{name}` is out of order or repeated"));
            }
            previous = Some(name);
            offset += name.len();
            ends.push(u32::try_from(offset).map_err(|_| too_large())?);
            offset += 1;
        }
        DomainTable {
            text,
            ends,
            ..DomainTable::default()
        }
        .with_index()
    }
}

fn too_large() -> String {
    "the list's names take more than 4 GiB".to_owned()
}

impl Serialize for DomainTable {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for DomainTable {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        DomainTable::from_joined(text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(names: &[&str]) -> DomainTable {
        let mut staging = String::new();
        let mut spans = Vec::new();
        for n in names {
            let start = staging.len() as u32;
            staging.push_str(n);
            spans.push((start, staging.len() as u32));
        }
        DomainTable::from_staging(&staging, spans).unwrap()
    }

    #[test]
    fn sorts_deduplicates_and_finds() {
        let t = table(&["b.com", "a.com", "c.org", "a.com", "ab.com"]);
        assert_eq!(
            t.iter().collect::<Vec<_>>(),
            ["a.com", "ab.com", "b.com", "c.org"]
        );
        for n in ["a.com", "ab.com", "b.com", "c.org"] {
            assert!(t.contains(n), "{n}");
        }
        for n in ["", "a", "a.co", "com", "d.org", "b.com.", "zzz"] {
            assert!(!t.contains(n), "{n}");
        }
        assert_eq!(t.as_joined(), "a.com\nab.com\nb.com\nc.org");
    }

    #[test]
    fn joined_form_round_trips_and_is_checked() {
        let t = table(&["x.example", "a.example"]);
        let back = DomainTable::from_joined(t.as_joined().to_owned()).unwrap();
        assert_eq!(back, t);
        assert!(DomainTable::from_joined(String::new()).unwrap().is_empty());
        assert!(DomainTable::from_joined("b.com\na.com".into()).is_err());
        assert!(DomainTable::from_joined("a.com\na.com".into()).is_err());
        assert!(DomainTable::from_joined("A.com".into()).is_err());
        assert!(DomainTable::from_joined("*.a.com".into()).is_err());
        assert!(DomainTable::from_joined("a.com\n".into()).is_err());
        assert!(DomainTable::from_joined("10.0.0.1".into()).is_err());
    }

    #[test]
    fn finds_every_name_of_a_large_table() {
        let names: Vec<String> = (0..5000).map(|i| format!("n{i}.example")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let t = table(&refs);
        assert_eq!(t.len(), 5000);
        assert!(names.iter().all(|n| t.contains(n)));
        assert!((5000..6000).all(|i| !t.contains(&format!("n{i}.example"))));
        assert!(t.iter().zip(t.iter().skip(1)).all(|(a, b)| a < b));
    }

    #[test]
    fn empty_table() {
        let t = table(&[]);
        assert!(t.is_empty());
        assert!(!t.contains("a.com"));
        assert_eq!(t.get(0), None);
    }
}
