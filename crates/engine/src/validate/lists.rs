//! `[lists.ID]` tables, and the list files they name (read by the caller, given in
//! [`ListFiles`]).

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use toml::de::DeTable;

use crate::diagnostic::{Code, Diagnostic, diag};
use crate::domain_list::{
    DomainList, DomainTable, ListFileError, ListFiles, ListFormat, ListMatch,
    is_inside_policy_directory, read_list,
};
use crate::fields;
use crate::limits::{MAX_LIST_FILE_BYTES, MAX_LISTS};
use crate::parse::{self, Fields, Keyword, Value};

use super::{id_error, text};

/// `format`'s and `match`'s names.
const FORMAT: Keyword<'static, ListFormat> = ("list format", Code::UnknownValue, ListFormat::NAMES);
const MATCH: Keyword<'static, ListMatch> = ("list match", Code::UnknownValue, ListMatch::NAMES);

/// What a list reads: its `file`, how it is written and which hosts a name covers.
type Source<'a> = (&'a str, ListFormat, ListMatch);

/// Validates every list and reads its file; only valid lists are returned, the span of the
/// key of every declared one put in `spans` (so rules naming an invalid list are not told it
/// does not exist).
pub(super) fn validate(
    table: &DeTable<'_>,
    files: &ListFiles,
    spans: &mut BTreeMap<String, Range<usize>>,
    diags: &mut Vec<Diagnostic>,
) -> BTreeMap<String, DomainList> {
    if table.len() > MAX_LISTS {
        diag!(TooManyLists: "the policy has {} lists", table.len())
            .with_hint(format!("at most {MAX_LISTS}; merge feeds into fewer files"))
            .push_to(diags);
        return BTreeMap::new();
    }
    // A file named by several lists alike is read once (and its errors told once).
    let mut read: HashMap<Source<'_>, Option<DomainTable>> = HashMap::new();
    let valid = table.iter().filter_map(|(key, value)| {
        let id: &str = key.get_ref();
        if let Some(d) = id_error("list", Code::InvalidListId, id) {
            return d.with_span(key.span()).fail(diags);
        }
        spans.insert(id.to_owned(), key.span());
        let (source, file_span) = list_source(id, key.span(), value, diags)?;
        let domains = (read.entry(source))
            .or_insert_with(|| read_file(id, source, file_span, files, diags))
            .clone()?;
        let (file, format, matching) = source;
        let list = DomainList {
            id: id.to_owned(),
            file: file.to_owned(),
            format,
            matching,
            domains,
        };
        Some((list.id.clone(), list))
    });
    valid.collect()
}

/// The fields of one `[lists.ID]` table: what it reads, and the span of its `file`.
fn list_source<'a>(
    id: &str,
    key_span: Range<usize>,
    value: &'a Value<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Option<(Source<'a>, Range<usize>)> {
    let table = parse::table(value, "a list", diags)?;
    let fields = Fields::read(table, fields::LIST, "a list", diags);
    let missing = |name: &str, hint: &str| {
        diag!(MissingField: "list `{id}` is missing `{name}`")
            .at(key_span.clone(), format!("no `{name}`"))
            .with_hint(hint)
    };
    let file = match fields.get("file") {
        None => missing(
            "file",
            "add `file = \"lists/NAME.txt\"`, relative to the policy file",
        )
        .fail(diags),
        Some(v) => file(v, diags),
    };
    let format = (fields.get("format")).map_or(Some(ListFormat::Domains), |v| {
        parse::keyword(v, FORMAT, diags)
    });
    let matching = match fields.get("match") {
        None => missing("match", "add `match = \"exact\"` (the listed hosts only) or `match = \"subdomains\"` (each listed domain and every subdomain of it)")
            .fail(diags),
        Some(v) => parse::keyword(v, MATCH, diags),
    };
    let (file, file_span) = file?;
    Some(((file, format?, matching?), file_span))
}

/// The `file` value, and its span: a path inside the policy file's directory.
fn file<'a>(v: &'a Value<'_>, diags: &mut Vec<Diagnostic>) -> Option<(&'a str, Range<usize>)> {
    let s = text(v, "`file`", "invalid path", diags)?;
    if is_inside_policy_directory(s) {
        return Some((s, v.span()));
    }
    diag!(ListFileOutside: "list file `{s}` is outside the policy file's directory")
        .at(v.span(), "not read")
        .with_hint("put the list file in the policy's directory (or below it) and name it relatively, without `..`, `\\` or `:` (e.g. `lists/malware.txt`)")
        .fail(diags)
}

/// The table of the list file the policy names `file`; every problem goes to `diags`
/// (those inside the file point into it).
fn read_file(
    id: &str,
    (file, format, matching): Source<'_>,
    file_span: Range<usize>,
    files: &ListFiles,
    diags: &mut Vec<Diagnostic>,
) -> Option<DomainTable> {
    if let Some(table) = files.compiled(id) {
        return Some(table.clone());
    }
    let Some(given) = files.get(file) else {
        return diag!(MissingListFile: "the contents of list file `{file}` were not given")
            .at(file_span, "not read")
            .with_hint("list files are read relative to the policy file by the CLI and the Worker build; a program calling the engine passes them to `compile_with_lists`")
            .fail(diags);
    };
    let shown = &given.display;
    let text = match &given.contents {
        Ok(text) if text.len() <= MAX_LIST_FILE_BYTES => text,
        Ok(_) | Err(ListFileError::TooLarge) => {
            let limit = MAX_LIST_FILE_BYTES;
            return diag!(ListFileTooLarge: "list file `{shown}` is longer than {limit} bytes")
                .at(file_span, "too large")
                .with_hint(format!(
                    "a list file has at most {limit} bytes; split the feed"
                ))
                .fail(diags);
        }
        Err(ListFileError::Unreadable(error)) => {
            return diag!(UnreadableListFile: "cannot read list file `{shown}`: {error}")
                .at(file_span, "cannot be read")
                .with_hint("list files are relative to the policy file's directory")
                .fail(diags);
        }
    };
    let (table, diagnostics) = read_list(text, format, matching);
    diags.extend(diagnostics.into_iter().map(|d| d.in_file(file)));
    let table = table?;
    if !table.is_empty() {
        return Some(table);
    }
    diag!(EmptyDomainList: "list `{id}`: `{shown}` holds no domain")
        .at(file_span, "empty list")
        .with_hint("a feed that comes back empty is usually a failed download; remove the list from the rules if it is meant to be empty")
        .fail(diags)
}
