//! Domain lists (docs/policy.md, "Domain lists"): large threat feeds kept in their own files
//! and named by block rules (`lists = ["malware-feed"]`) like host patterns.
//!
//! The engine reads no files: the caller finds the files a policy names with [`list_files`],
//! reads them relative to the policy, and hands their text to
//! [`crate::compile_with_lists`] in a [`ListFiles`].

mod entry;
mod read;
mod table;

use std::collections::BTreeMap;

use toml::de::DeValue;

use crate::diagnostic::Diagnostic;

pub(crate) use read::read_list;
pub use table::{DomainTable, SharedBytes};

/// How a list file is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ListFormat {
    /// One domain a line.
    Domains,
    /// Hosts-file lines: `0.0.0.0 evil.com`, `127.0.0.1 a.com b.com`.
    Hosts,
}

named!(
    /// The name used in policy files.
    pub fn as_str for ListFormat { Domains = "domains", Hosts = "hosts" }
);

/// Which hosts a listed domain covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ListMatch {
    /// The listed host only.
    Exact,
    /// The listed domain and every subdomain of it, at any depth.
    Subdomains,
}

named!(
    /// The name used in policy files.
    pub fn as_str for ListMatch { Exact = "exact", Subdomains = "subdomains" }
);

/// One validated `[lists.ID]` table with its file's names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainList {
    /// The list's id (`[lists.ID]`), as rules name it.
    pub id: String,
    /// The `file` value as the policy writes it (relative to the policy file).
    pub file: String,
    /// How the file is written.
    pub format: ListFormat,
    /// Which hosts a listed name covers.
    pub matching: ListMatch,
    /// The canonical names, sorted and deduplicated.
    pub domains: DomainTable,
}

impl DomainList {
    /// The listed name that covers the canonical `host`, if any: `host` itself, or under
    /// `match = "subdomains"` the nearest listed parent domain (`a.b.evil.com` -> `b.evil.com`
    /// when both it and `evil.com` are listed). Whole labels only: `evil.com` never covers
    /// `notevil.com`.
    pub fn find<'h>(&self, host: &'h str) -> Option<&'h str> {
        if self.domains.contains(host) {
            return Some(host);
        }
        if self.matching == ListMatch::Exact {
            return None;
        }
        host.match_indices('.')
            .filter_map(|(dot, _)| host.get(dot + 1..))
            .find(|parent| self.domains.contains(parent))
    }
}

/// One list file as the caller read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListFile {
    /// How diagnostics name the file (its path as the caller resolved it).
    pub display: String,
    /// The file's text, or why it could not be read (reported as a diagnostic at the list's
    /// `file` value).
    pub contents: Result<String, ListFileError>,
}

/// Why the caller has no text for a list file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListFileError {
    /// It could not be read, and why (`unreadable-list-file`).
    Unreadable(String),
    /// It holds more than [`crate::limits::MAX_LIST_FILE_BYTES`] bytes; the caller stopped
    /// reading there (`list-file-too-large`).
    TooLarge,
}

/// The list files a policy names, keyed by the `file` value as the policy writes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListFiles {
    files: BTreeMap<String, ListFile>,
    /// Tables already compiled, by list id (a policy loaded from its artefact).
    compiled: BTreeMap<String, DomainTable>,
}

impl ListFiles {
    /// No list files: what [`crate::compile`] uses.
    pub fn new() -> ListFiles {
        ListFiles::default()
    }

    /// Records the text of the list file the policy names `file`, shown as `display`.
    pub fn insert(&mut self, file: &str, display: impl Into<String>, text: String) {
        self.put(file, display.into(), Ok(text));
    }

    fn put(&mut self, file: &str, display: String, contents: Result<String, ListFileError>) {
        (self.files).insert(file.to_owned(), ListFile { display, contents });
    }

    /// Records the compiled table of the list `id` (as an artefact carries it): the list is
    /// validated without reading its file.
    pub fn insert_compiled(&mut self, id: &str, table: DomainTable) {
        self.compiled.insert(id.to_owned(), table);
    }

    /// The compiled table given for the list `id`, if any.
    pub(crate) fn compiled(&self, id: &str) -> Option<&DomainTable> {
        self.compiled.get(id)
    }

    /// Records that the list file the policy names `file` could not be read, or is larger
    /// than a list file may be (the caller reads at most one byte more than the limit).
    pub fn insert_failed(&mut self, file: &str, display: impl Into<String>, why: ListFileError) {
        self.put(file, display.into(), Err(why));
    }

    /// The list file the policy names `file`.
    pub fn get(&self, file: &str) -> Option<&ListFile> {
        self.files.get(file)
    }

    /// The file a diagnostic points into, as `(name, text)`: the policy's own, or a list
    /// file's when the diagnostic is about one ([`Diagnostic::file`]).
    pub fn source_of<'a>(
        &'a self,
        diagnostic: &'a Diagnostic,
        policy_name: &'a str,
        policy_text: &'a str,
    ) -> (&'a str, &'a str) {
        match &diagnostic.file {
            None => (policy_name, policy_text),
            Some(file) => match self.files.get(file.as_str()) {
                Some(f) => (f.display.as_str(), f.contents.as_deref().unwrap_or("")),
                None => (file.as_str(), ""),
            },
        }
    }
}

/// Whether a list's `file` value names a file inside the policy file's directory: relative,
/// without a `..` segment, a `\` or a `:` (so no Windows drive or UNC path either). The text
/// is all that is judged here; a reader also resolves symbolic links and checks that the file
/// it opens is a regular file still inside the directory.
pub(crate) fn is_inside_policy_directory(file: &str) -> bool {
    !file.is_empty()
        && !file.starts_with('/')
        && !file.contains(['\\', ':'])
        && !file.split('/').any(|segment| segment == "..")
}

/// The `file` of every `[lists.ID]` table of the policy, each once, ordered by list id: the
/// files the caller reads before compiling. Empty when the policy names none or does not
/// parse (compiling reports why). A `file` outside the policy's directory
/// ([`is_inside_policy_directory`]) is left out: it is never read, and compiling refuses it.
pub fn list_files(policy_text: &str) -> Vec<String> {
    let Ok(root) = crate::parse::parse_document(policy_text) else {
        return Vec::new();
    };
    let Some(DeValue::Table(lists)) = root.get_ref().get("lists").map(|v| v.get_ref()) else {
        return Vec::new();
    };
    let mut files: Vec<String> = Vec::new();
    for (_, list) in lists {
        if let DeValue::Table(table) = list.get_ref()
            && let Some(DeValue::String(file)) = table.get("file").map(|v| v.get_ref())
            && is_inside_policy_directory(file)
            && !files.iter().any(|f| f == file.as_ref())
        {
            files.push(file.to_string());
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(names: &str, matching: ListMatch) -> DomainList {
        let (table, _) = read_list(names, ListFormat::Domains, matching);
        DomainList {
            id: "l".into(),
            file: "l.txt".into(),
            format: ListFormat::Domains,
            matching,
            domains: table.unwrap(),
        }
    }

    #[test]
    fn exact_and_subdomains() {
        let exact = list("evil.com\nb.evil.com\n", ListMatch::Exact);
        assert_eq!(exact.find("evil.com"), Some("evil.com"));
        assert_eq!(exact.find("a.evil.com"), None);
        let subs = list("evil.com\nb.evil.com\n", ListMatch::Subdomains);
        assert_eq!(subs.find("evil.com"), Some("evil.com"));
        assert_eq!(subs.find("a.evil.com"), Some("evil.com"));
        assert_eq!(subs.find("x.b.evil.com"), Some("b.evil.com"));
        for outside in ["notevil.com", "com", "evil.com.org", "evil.co", "xevil.com"] {
            assert_eq!(subs.find(outside), None, "{outside}");
        }
    }

    #[test]
    fn list_files_by_list_id() {
        let text = "version = 1\n[lists.b]\nfile = \"b.txt\"\n[lists.a]\nfile = \"a.txt\"\n[lists.c]\nfile = \"b.txt\"\n[lists.d]\nfile = 3\n";
        assert_eq!(list_files(text), ["a.txt", "b.txt"]);
        assert!(list_files("not toml [").is_empty());
        let escaping = "version = 1\n[lists.a]\nfile = \"../../etc/passwd\"\n[lists.b]\nfile = \"/dev/zero\"\n[lists.c]\nfile = \"C:\\\\x\"\n[lists.d]\nfile = \"ok/../x\"\n[lists.e]\nfile = \"feeds/a..b.txt\"\n";
        assert_eq!(list_files(escaping), ["feeds/a..b.txt"]);
        assert!(list_files("version = 1\nlists = 3\n").is_empty());
    }
}
