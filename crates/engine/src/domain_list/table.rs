//! The compiled form of a domain list, laid out once when the policy is compiled and used
//! where it lies: one byte section per list, which the artefact stores as it is and a load
//! takes without decoding, re-checking or re-indexing a single name. The artefact's checksum
//! (and a bundle's signature) is what vouches for the names; the load checks only that the
//! section's parts fit together, in constant time, so a million-name feed loads in the time
//! of one copy of its bytes.
//!
//! Section layout (integers little-endian):
//!
//! | bytes | field |
//! | --- | --- |
//! | 4 | `n`, how many names (u32) |
//! | 4 | `m`, how many hash slots: a power of two, more than `n` (u32) |
//! | 8 | the hash key (u64) |
//! | 4 | the longest probe: every name sits at most this many slots after its hash's (u32) |
//! | 4 | `t`, the names' text length (u32) |
//! | 4n | where each name ends in the text, exclusive (u32 each) |
//! | 4m | the slots: 0, or a name's index + 1 (u32 each) |
//! | t | the names in ascending byte order, joined by `\n` |
//!
//! A lookup hashes the name with the table's key and compares at most `longest probe + 1`
//! entries. The compiler picks the key (deterministically, from the names) so that the
//! longest probe stays under [`MAX_PROBE`]: a feed crafted to collide can cost a lookup at
//! most that many comparisons, whatever the feed's size, and the bound is fixed before the
//! table is ever used.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::entry::is_canonical_entry;

/// The longest probe a compiled table may have: the worst case of one lookup, in comparisons.
pub const MAX_PROBE: u32 = 64;

/// Keys tried before compiling gives up (each is a fresh, independent layout; with slots at
/// most half full the first one all but always fits).
const KEY_ATTEMPTS: u64 = 32;

const HEADER_LEN: usize = 4 + 4 + 8 + 4 + 4;

/// Sorted, deduplicated canonical domain names (`evil.com`, `xn--bcher-kva.example`).
#[derive(Clone)]
pub struct DomainTable {
    /// The whole section, shared by the policy's clones.
    section: Arc<[u8]>,
    names: usize,
    slots: usize,
    key: u64,
    longest_probe: usize,
    text_len: usize,
}

impl Default for DomainTable {
    fn default() -> Self {
        // The empty layout always fits.
        DomainTable::lay_out(&[], &[]).unwrap_or_else(|_| DomainTable {
            section: Arc::from(Vec::new()),
            names: 0,
            slots: 0,
            key: 0,
            longest_probe: 0,
            text_len: 0,
        })
    }
}

impl PartialEq for DomainTable {
    /// The same names (the offsets and the index follow from them).
    fn eq(&self, other: &Self) -> bool {
        self.text() == other.text()
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
            self.text_len
        )
    }
}

impl DomainTable {
    /// How many distinct names the table holds.
    pub fn len(&self) -> usize {
        self.names
    }

    /// Whether the table holds no name.
    pub fn is_empty(&self) -> bool {
        self.names == 0
    }

    /// The `index`-th name in ascending order.
    pub fn get(&self, index: usize) -> Option<&str> {
        std::str::from_utf8(self.name_bytes(index)?).ok()
    }

    /// Every name, in ascending byte order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    /// Whether `name` is in the table (compared byte for byte).
    pub fn contains(&self, name: &str) -> bool {
        if self.names == 0 || self.slots == 0 {
            return false;
        }
        let mask = self.slots - 1;
        let start = slot_of(self.key, name.as_bytes(), mask);
        // At most `longest_probe + 1` comparisons: no listed name sits further away.
        (0..=self.longest_probe)
            .map_while(|step| match self.slot((start + step) & mask) {
                Some(0) | None => None,
                Some(taken) => Some(taken),
            })
            .any(|taken| {
                usize::try_from(taken - 1)
                    .ok()
                    .and_then(|index| self.name_bytes(index))
                    == Some(name.as_bytes())
            })
    }

    /// The names joined by `\n`.
    pub fn as_joined(&self) -> &str {
        std::str::from_utf8(self.text()).unwrap_or_default()
    }

    /// The compiled section, as the artefact stores it.
    pub(crate) fn section(&self) -> &[u8] {
        &self.section
    }

    /// Takes a section written by [`DomainTable::section`] as it is. Checks, in constant time,
    /// that its parts fit together; the names themselves are vouched for by the checksum of
    /// the artefact that carries them. Malformed contents could make lookups wrong, never
    /// unsafe or unbounded: every read is bounds-checked and every probe is bounded.
    pub(crate) fn from_section(section: &[u8]) -> Result<Self, String> {
        let bad = |what: &str| format!("a domain list section {what}");
        let u32_at = |at: usize| {
            read_u32(section, at)
                .and_then(|v| usize::try_from(v).ok())
                .ok_or_else(|| bad("is truncated"))
        };
        let names = u32_at(0)?;
        let slots = u32_at(4)?;
        let key = section
            .get(8..16)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_le_bytes)
            .ok_or_else(|| bad("is truncated"))?;
        let longest_probe = u32_at(16)?;
        let text_len = u32_at(20)?;
        if !slots.is_power_of_two() || slots <= names {
            return Err(bad("has a malformed index"));
        }
        if longest_probe > MAX_PROBE as usize {
            return Err(bad("has a probe longer than the engine allows"));
        }
        let expected = names
            .checked_add(slots)
            .and_then(|words| words.checked_mul(4))
            .and_then(|b| b.checked_add(HEADER_LEN))
            .and_then(|b| b.checked_add(text_len));
        if expected != Some(section.len()) {
            return Err(bad("does not have the length its header gives"));
        }
        Ok(DomainTable {
            section: Arc::from(section),
            names,
            slots,
            key,
            longest_probe,
            text_len,
        })
    }

    /// Builds the table from names laid end to end in `staging`, each given as a byte range
    /// (`start`, `end`): sorts them, drops duplicates, and lays out the section.
    /// Fails when the table would outgrow its 32-bit offsets.
    pub(crate) fn from_staging(staging: &str, mut spans: Vec<(u32, u32)>) -> Result<Self, String> {
        // u32 to usize is lossless on every target the engine builds for (32 and 64 bit).
        let name =
            |&(start, end): &(u32, u32)| staging.get(start as usize..end as usize).unwrap_or("");
        spans.sort_unstable_by(|a, b| name(a).cmp(name(b)));
        spans.dedup_by(|a, b| name(a) == name(b));
        let bytes: usize = spans.iter().map(|s| name(s).len() + 1).sum();
        let mut text = Vec::with_capacity(bytes);
        let mut ends = Vec::with_capacity(spans.len());
        for span in &spans {
            if !text.is_empty() {
                text.push(b'\n');
            }
            text.extend_from_slice(name(span).as_bytes());
            ends.push(u32::try_from(text.len()).map_err(|_| too_large())?);
        }
        DomainTable::lay_out(&text, &ends)
    }

    /// Reads the joined form back: every name must be canonical and the names strictly
    /// ascending, as [`DomainTable::as_joined`] writes them.
    pub fn from_joined(text: String) -> Result<Self, String> {
        if text.is_empty() {
            return Ok(DomainTable::default());
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
        DomainTable::lay_out(text.as_bytes(), &ends)
    }

    /// Lays out the section for sorted names `text` ending at `ends`: picks the first key
    /// whose index keeps every name within [`MAX_PROBE`] slots of its hash's slot.
    fn lay_out(text: &[u8], ends: &[u32]) -> Result<Self, String> {
        let names = ends.len();
        let slots = (names * 2).max(1).next_power_of_two();
        let mask = slots - 1;
        let name_at = |index: usize| -> &[u8] {
            let end = ends.get(index).map_or(0, |&e| e as usize);
            let start = index
                .checked_sub(1)
                .and_then(|previous| ends.get(previous))
                .map_or(0, |&e| e as usize + 1);
            text.get(start..end).unwrap_or_default()
        };
        let base = fold(0x6567_7265_7373_2d31, text);
        for attempt in 0..KEY_ATTEMPTS {
            let key = mix(base ^ attempt.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let mut index = vec![0u32; slots];
            let mut longest = 0usize;
            for number in 0..names {
                let mut at = slot_of(key, name_at(number), mask);
                let mut probe = 0usize;
                while index.get(at).is_some_and(|&taken| taken != 0) {
                    at = (at + 1) & mask;
                    probe += 1;
                }
                longest = longest.max(probe);
                if let Some(slot) = index.get_mut(at) {
                    *slot = u32::try_from(number + 1).map_err(|_| too_large())?;
                }
            }
            if longest <= MAX_PROBE as usize {
                return DomainTable::assemble(text, ends, &index, key, longest);
            }
        }
        Err(format!(
            "no layout of the list's {names} names keeps every lookup within {MAX_PROBE} probes"
        ))
    }

    fn assemble(
        text: &[u8],
        ends: &[u32],
        index: &[u32],
        key: u64,
        longest_probe: usize,
    ) -> Result<Self, String> {
        let word = |n: usize| u32::try_from(n).map_err(|_| too_large());
        let mut section =
            Vec::with_capacity(HEADER_LEN + 4 * (ends.len() + index.len()) + text.len());
        section.extend_from_slice(&word(ends.len())?.to_le_bytes());
        section.extend_from_slice(&word(index.len())?.to_le_bytes());
        section.extend_from_slice(&key.to_le_bytes());
        section.extend_from_slice(&word(longest_probe)?.to_le_bytes());
        section.extend_from_slice(&word(text.len())?.to_le_bytes());
        for end in ends.iter().chain(index) {
            section.extend_from_slice(&end.to_le_bytes());
        }
        section.extend_from_slice(text);
        Ok(DomainTable {
            section: Arc::from(section),
            names: ends.len(),
            slots: index.len(),
            key,
            longest_probe,
            text_len: text.len(),
        })
    }

    fn text(&self) -> &[u8] {
        let start = HEADER_LEN + 4 * (self.names + self.slots);
        self.section.get(start..).unwrap_or_default()
    }

    fn end(&self, index: usize) -> Option<usize> {
        usize::try_from(read_u32(&self.section, HEADER_LEN + 4 * index)?).ok()
    }

    fn slot(&self, at: usize) -> Option<u32> {
        read_u32(&self.section, HEADER_LEN + 4 * (self.names + at))
    }

    fn name_bytes(&self, index: usize) -> Option<&[u8]> {
        if index >= self.names {
            return None;
        }
        let end = self.end(index)?;
        let start = match index.checked_sub(1) {
            None => 0,
            Some(previous) => self.end(previous)? + 1,
        };
        self.text().get(start..end)
    }
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let word = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(<[u8; 4]>::try_from(word).ok()?))
}

/// The slot `name` hashes to under `key`.
fn slot_of(key: u64, name: &[u8], mask: usize) -> usize {
    // Truncating the hash to the platform's width keeps its low bits, the ones used.
    (mix(fold(key, name)) as usize) & mask
}

/// Folds `bytes` into `seed`, eight bytes at a time. The same on every platform: the layout
/// is computed natively and used in Wasm.
fn fold(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = seed ^ (bytes.len() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for chunk in bytes.chunks(8) {
        let word = chunk
            .iter()
            .enumerate()
            .fold(0u64, |w, (i, &b)| w | (u64::from(b) << (8 * i)));
        h = (h ^ word)
            .wrapping_mul(0xbf58_476d_1ce4_e5b9)
            .rotate_left(31);
    }
    h
}

/// A 64-bit finaliser (MurmurHash3's `fmix64`): every input bit reaches every output bit.
fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

fn too_large() -> String {
    "the list's names take more than 4 GiB".to_owned()
}

impl Serialize for DomainTable {
    /// The joined names (the artefact carries the compiled section instead).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_joined())
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
