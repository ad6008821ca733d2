//! The compiled form of a domain list: a minimal acyclic automaton of its names (an `fst`
//! set), built once when the policy is compiled and used where it lies. The artefact stores
//! the automaton's bytes as they are; a load takes them without decoding, re-checking or
//! re-indexing a single name (the artefact's checksum, and a bundle's signature, vouch for
//! them), so a million-name feed loads without being decoded or copied: it stays in the
//! Worker's data, or in the one buffer a bundle was read into.
//!
//! The automaton shares the names' common prefixes and suffixes, so it is smaller than the
//! names' text (12.8 MB for 1,000,000 random names of 17 MB), and a lookup follows one
//! transition per byte of the name: its cost depends on the name's length, never on the
//! list's size, and no feed, however crafted, can make it longer.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use fst::{Set, SetBuilder, Streamer};

/// Sorted, deduplicated canonical domain names (`evil.com`, `xn--bcher-kva.example`).
#[derive(Clone, Default)]
pub struct DomainTable {
    /// The automaton, its bytes shared by the policy's clones; `None` for no names.
    set: Option<Set<SharedBytes>>,
}

/// A range of a shared buffer: a table's automaton where it lies, in the buffer an artefact
/// (or a whole bundle) was loaded from, or in the Worker's own data, with no copy of its own.
#[derive(Clone)]
pub struct SharedBytes {
    buffer: Buffer,
    range: Range<usize>,
}

#[derive(Clone)]
enum Buffer {
    Shared(Arc<Vec<u8>>),
    Static(&'static [u8]),
}

impl SharedBytes {
    /// `range` of `buffer`; `None` if it does not lie within it.
    pub fn new(buffer: Arc<Vec<u8>>, range: Range<usize>) -> Option<SharedBytes> {
        SharedBytes::within(Buffer::Shared(buffer), range)
    }

    /// `range` of bytes that live as long as the program (an artefact embedded in it).
    pub fn of_static(buffer: &'static [u8], range: Range<usize>) -> Option<SharedBytes> {
        SharedBytes::within(Buffer::Static(buffer), range)
    }

    /// A buffer of its own holding `bytes`.
    pub fn copied(bytes: &[u8]) -> SharedBytes {
        let buffer = Buffer::Shared(Arc::new(bytes.to_vec()));
        SharedBytes {
            buffer,
            range: 0..bytes.len(),
        }
    }

    fn within(buffer: Buffer, range: Range<usize>) -> Option<SharedBytes> {
        buffer.bytes().get(range.clone())?;
        Some(SharedBytes { buffer, range })
    }
}

impl Buffer {
    fn bytes(&self) -> &[u8] {
        match self {
            Buffer::Shared(buffer) => buffer,
            Buffer::Static(buffer) => buffer,
        }
    }
}

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        self.buffer
            .bytes()
            .get(self.range.clone())
            .unwrap_or_default()
    }
}

impl PartialEq for DomainTable {
    /// The same names: the minimal automaton of a set of names is unique, and so are its bytes.
    fn eq(&self, other: &Self) -> bool {
        self.section() == other.section()
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
            self.section().len()
        )
    }
}

impl DomainTable {
    /// How many distinct names the table holds.
    pub fn len(&self) -> usize {
        self.set.as_ref().map_or(0, Set::len)
    }

    /// Whether the table holds no name.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every name, in ascending byte order.
    pub fn iter(&self) -> impl Iterator<Item = String> + '_ {
        let mut stream = self.set.as_ref().map(Set::stream);
        // A table's names are canonical ASCII; anything else would be skipped, not invented.
        std::iter::from_fn(move || {
            loop {
                let name = stream.as_mut()?.next()?;
                if let Ok(name) = std::str::from_utf8(name) {
                    return Some(name.to_owned());
                }
            }
        })
    }

    /// Whether `name` is in the table (compared byte for byte).
    pub fn contains(&self, name: &str) -> bool {
        self.set.as_ref().is_some_and(|set| set.contains(name))
    }

    /// The compiled section, as the artefact stores it.
    pub(crate) fn section(&self) -> &[u8] {
        self.set.as_ref().map_or(&[], |set| set.as_fst().as_bytes())
    }

    /// Takes a section written by [`DomainTable::section`] as it is: its frame (format
    /// version, root, length) and the automaton's own checksum (CRC-32C over every byte) are
    /// checked, so a damaged automaton is refused here, never met by a lookup; the names are
    /// not decoded. An empty section is a table of no names.
    pub(crate) fn from_section(section: SharedBytes) -> Result<Self, String> {
        if section.as_ref().is_empty() {
            return Ok(DomainTable::default());
        }
        let set = Set::new(section)
            .map_err(|e| format!("a domain list section is not a name set: {e}"))?;
        set.as_fst()
            .verify()
            .map_err(|_| "a domain list section is damaged (its checksum does not match)")?;
        Ok(DomainTable { set: Some(set) })
    }

    /// Builds the table from names laid end to end in `staging`, each given as a byte range
    /// (`start`, `end`): sorts them, drops duplicates, and builds the automaton.
    pub(crate) fn from_staging(staging: &str, mut spans: Vec<(u32, u32)>) -> Result<Self, String> {
        // u32 to usize is lossless on every target the engine builds for (32 and 64 bit).
        let name =
            |&(start, end): &(u32, u32)| staging.get(start as usize..end as usize).unwrap_or("");
        spans.sort_unstable_by(|a, b| name(a).cmp(name(b)));
        spans.dedup_by(|a, b| name(a) == name(b));
        // No names: the same table as the default one, whichever way it was made.
        if spans.is_empty() {
            return Ok(DomainTable::default());
        }
        let failed = |e: fst::Error| format!("the list's names could not be compiled: {e}");
        let mut builder = SetBuilder::memory();
        for span in &spans {
            builder.insert(name(span)).map_err(failed)?;
        }
        let bytes = builder.into_inner().map_err(failed)?;
        DomainTable::from_section(SharedBytes::copied(&bytes))
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
        assert_eq!(
            t.iter().collect::<Vec<_>>(),
            ["a.com", "ab.com", "b.com", "c.org"]
        );
    }

    #[test]
    fn the_section_is_used_as_it_lies() {
        let t = table(&["x.example", "a.example"]);
        let back = DomainTable::from_section(SharedBytes::copied(t.section())).unwrap();
        assert_eq!(back, t);
        assert!(back.contains("x.example"));
        let mut buffer = b"before".to_vec();
        buffer.extend_from_slice(t.section());
        let range = 6..buffer.len();
        let shared = SharedBytes::new(Arc::new(buffer), range).unwrap();
        assert_eq!(DomainTable::from_section(shared).unwrap(), t);
        assert!(SharedBytes::new(Arc::new(vec![0; 4]), 2..5).is_none());
        let leaked: &'static [u8] = Vec::leak(t.section().to_vec());
        let fixed = SharedBytes::of_static(leaked, 0..leaked.len()).unwrap();
        assert_eq!(DomainTable::from_section(fixed).unwrap(), t);
        assert!(SharedBytes::of_static(leaked, 0..leaked.len() + 1).is_none());
        assert!(DomainTable::from_section(SharedBytes::copied(b"not an automaton")).is_err());
        assert!(
            DomainTable::from_section(SharedBytes::copied(&[]))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn finds_every_name_of_a_large_table() {
        let names: Vec<String> = (0..5000).map(|i| format!("n{i}.example")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let t = table(&refs);
        assert_eq!(t.len(), 5000);
        assert!(names.iter().all(|n| t.contains(n)));
        assert!((5000..6000).all(|i| !t.contains(&format!("n{i}.example"))));
        let listed: Vec<String> = t.iter().collect();
        assert!(listed.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn empty_table() {
        let t = table(&[]);
        assert!(t.is_empty());
        assert!(!t.contains("a.com"));
        assert_eq!(t.iter().next(), None);
        assert_eq!(t, DomainTable::default());
    }
}
