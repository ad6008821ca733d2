//! `[lists.ID]` tables, and the list files they name (read by the caller, given in
//! [`ListFiles`]).

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;

use toml::de::DeTable;

use crate::diagnostic::{Code, Diagnostic};
use crate::domain_list::{
    DomainList, DomainTable, ListFileError, ListFiles, ListFormat, ListMatch, ReadList,
    is_inside_policy_directory, read_list,
};
use crate::fields;
use crate::limits::{MAX_LIST_FILE_BYTES, MAX_LISTS, MAX_TEXT_LEN};
use crate::parse::{self, Fields};

use super::valid_id;

/// Spans of a declared list.
#[derive(Clone, Debug, Default)]
pub(crate) struct ListSpans {
    /// The key naming the list.
    pub key: Range<usize>,
}

type Validated = (BTreeMap<String, DomainList>, BTreeMap<String, ListSpans>);

/// Validates every list and reads its file; only valid lists are returned, spans for every
/// declared one (so rules naming an invalid list are not told it does not exist).
pub(super) fn validate(
    table: &DeTable<'_>,
    files: &ListFiles,
    diags: &mut Vec<Diagnostic>,
) -> Validated {
    let mut lists = BTreeMap::new();
    let mut spans = BTreeMap::new();
    if table.len() > MAX_LISTS {
        diags.push(
            Diagnostic::new(
                Code::TooManyLists,
                format!("the policy has {} lists", table.len()),
            )
            .with_hint(format!("at most {MAX_LISTS}; merge feeds into fewer files")),
        );
        return (lists, spans);
    }
    // A file named by several lists alike is read once (and its errors told once).
    let mut failed: HashSet<(&str, ListFormat, ListMatch)> = HashSet::new();
    for (key, value) in table {
        let id: &str = key.get_ref();
        if !valid_id(id) {
            diags.push(
                Diagnostic::new(Code::InvalidListId, format!("list id `{id}` is not valid"))
                    .with_span(key.span())
                    .with_label("invalid id")
                    .with_hint("ids are 1 to 128 letters, digits, `-`, `_` or `.`"),
            );
            continue;
        }
        spans.insert(id.to_owned(), ListSpans { key: key.span() });
        let Some(t) = parse::table(value, "a list", diags) else {
            continue;
        };
        let fields = Fields::read(t, fields::LIST, "a list", diags);
        let missing = |name: &str, hint: &str| {
            Diagnostic::new(
                Code::MissingField,
                format!("list `{id}` is missing `{name}`"),
            )
            .with_span(key.span())
            .with_label(format!("no `{name}`"))
            .with_hint(hint.to_owned())
        };
        let file = match fields.get("file") {
            None => {
                diags.push(missing(
                    "file",
                    "add `file = \"lists/NAME.txt\"`, relative to the policy file",
                ));
                None
            }
            Some(v) => parse::string(v, "`file`", diags).and_then(|s| {
                if s.is_empty() || s.len() > MAX_TEXT_LEN || s.chars().any(char::is_control) {
                    diags.push(
                        Diagnostic::new(
                            Code::InvalidText,
                            format!(
                                "`file` must be 1 to {MAX_TEXT_LEN} bytes without control characters"
                            ),
                        )
                        .with_span(v.span())
                        .with_label("invalid path"),
                    );
                    return None;
                }
                if !is_inside_policy_directory(s) {
                    diags.push(
                        Diagnostic::new(
                            Code::ListFileOutside,
                            format!("list file `{s}` is outside the policy file's directory"),
                        )
                        .with_span(v.span())
                        .with_label("not read")
                        .with_hint("put the list file in the policy's directory (or below it) and name it relatively, without `..`, `\\` or `:` (e.g. `lists/malware.txt`)"),
                    );
                    return None;
                }
                Some((s, v.span()))
            }),
        };
        let format = match fields.get("format") {
            None => Some(ListFormat::Domains),
            Some(v) => parse::keyword(
                v,
                "list format",
                Code::UnknownValue,
                &["domains", "hosts"],
                diags,
            )
            .map(|f| {
                if f == "hosts" {
                    ListFormat::Hosts
                } else {
                    ListFormat::Domains
                }
            }),
        };
        let matching = match fields.get("match") {
            None => {
                diags.push(missing(
                    "match",
                    "add `match = \"exact\"` (the listed hosts only) or `match = \"subdomains\"` (each listed domain and every subdomain of it)",
                ));
                None
            }
            Some(v) => parse::keyword(
                v,
                "list match",
                Code::UnknownValue,
                &["exact", "subdomains"],
                diags,
            )
            .map(|m| {
                if m == "subdomains" {
                    ListMatch::Subdomains
                } else {
                    ListMatch::Exact
                }
            }),
        };
        let (Some((file, file_span)), Some(format), Some(matching)) = (file, format, matching)
        else {
            continue;
        };
        if failed.contains(&(file, format, matching)) {
            continue;
        }
        let same = lists
            .values()
            .find(|l: &&DomainList| l.file == file && l.format == format && l.matching == matching);
        let domains = match same {
            Some(earlier) => Some(earlier.domains.clone()),
            None => read_file(id, file, file_span, format, matching, files, diags),
        };
        if domains.is_none() {
            failed.insert((file, format, matching));
        }
        if let Some(domains) = domains {
            lists.insert(
                id.to_owned(),
                DomainList {
                    id: id.to_owned(),
                    file: file.to_owned(),
                    format,
                    matching,
                    domains,
                },
            );
        }
    }
    (lists, spans)
}

/// The table of the list file the policy names `file`; every problem goes to `diags`
/// (those inside the file point into it).
fn read_file(
    id: &str,
    file: &str,
    file_span: Range<usize>,
    format: ListFormat,
    matching: ListMatch,
    files: &ListFiles,
    diags: &mut Vec<Diagnostic>,
) -> Option<DomainTable> {
    let at_file = |d: Diagnostic| d.with_span(file_span.clone());
    if let Some(table) = files.compiled(id) {
        return Some(table.clone());
    }
    let Some(given) = files.get(file) else {
        diags.push(
            at_file(Diagnostic::new(
                Code::MissingListFile,
                format!("the contents of list file `{file}` were not given"),
            ))
            .with_label("not read")
            .with_hint("list files are read relative to the policy file by the CLI and the Worker build; a program calling the engine passes them to `compile_with_lists`"),
        );
        return None;
    };
    let too_large = || {
        at_file(Diagnostic::new(
            Code::ListFileTooLarge,
            format!(
                "list file `{}` is longer than {MAX_LIST_FILE_BYTES} bytes",
                given.display
            ),
        ))
        .with_label("too large")
        .with_hint(format!(
            "a list file has at most {MAX_LIST_FILE_BYTES} bytes; split the feed"
        ))
    };
    let text = match &given.contents {
        Ok(text) if text.len() > MAX_LIST_FILE_BYTES => {
            diags.push(too_large());
            return None;
        }
        Ok(text) => text,
        Err(ListFileError::TooLarge) => {
            diags.push(too_large());
            return None;
        }
        Err(ListFileError::Unreadable(error)) => {
            diags.push(
                at_file(Diagnostic::new(
                    Code::UnreadableListFile,
                    format!("cannot read list file `{}`: {error}", given.display),
                ))
                .with_label("cannot be read")
                .with_hint("list files are relative to the policy file's directory"),
            );
            return None;
        }
    };
    let ReadList { table, diagnostics } = read_list(text, format, matching);
    diags.extend(diagnostics.into_iter().map(|d| d.in_file(file)));
    let table = table?;
    if table.is_empty() {
        diags.push(
            at_file(Diagnostic::new(
                Code::EmptyDomainList,
                format!("list `{id}`: `{}` holds no domain", given.display),
            ))
            .with_label("empty list")
            .with_hint("a feed that comes back empty is usually a failed download; remove the list from the rules if it is meant to be empty"),
        );
        return None;
    }
    Some(table)
}
