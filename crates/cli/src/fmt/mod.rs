//! `egress-policy fmt`: one canonical layout for policy files, so reviews diff cleanly.
//!
//! Works on the TOML syntax tree (`toml_edit`), so comments survive: a comment above a key or
//! table header moves with it, a comment at the end of a line stays on that line, the comment
//! block at the top of the file stays at the top. The result is checked to hold exactly the
//! same data as the input before it is returned.

mod decor;

use egress_policy_engine::diagnostic::locate as position;
use egress_policy_engine::fields as order;
use toml_edit::{Array, Decor, DocumentMut, InlineTable, Item, Table, Value};

/// Arrays longer than this on one line are written one item per line.
pub const MAX_WIDTH: usize = 80;

/// Indentation of array items written one per line.
const INDENT: &str = "  ";

/// Why a file was not formatted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// Not valid TOML: the parser's message with line and column.
    #[error("not valid TOML: {0}")]
    Parse(String),
    /// The formatted text would not hold the same data (a bug: nothing is written).
    #[error("formatting would change the file's data; left unchanged (please report this)")]
    ChangedMeaning,
}

/// Formats a policy file's text.
pub fn format(text: &str) -> Result<String, FormatError> {
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| FormatError::Parse(parse_message(text, &e)))?;
    let before = data(text).ok_or(FormatError::ChangedMeaning)?;

    let header = take_file_header(doc.as_table_mut());
    promote_inline_tables(doc.as_table_mut());
    let root = doc.as_table_mut();
    let first = root.iter().all(|(_, item)| !item.is_value());
    format_table(root, "", order::ROOT, &mut Layout { position: 0, first });
    restore_file_header(root, header);
    let comments = doc.trailing().as_str().map(decor::comments);
    let comments = comments.unwrap_or_default();
    doc.set_trailing(decor::line_prefix(&comments, !comments.is_empty()));

    let text = doc.to_string();
    let body = text.trim_start_matches('\n').trim_end_matches('\n');
    let out = match body.trim().is_empty() {
        true => String::new(),
        false => format!("{body}\n"),
    };
    if data(&out) != Some(before) {
        return Err(FormatError::ChangedMeaning);
    }
    Ok(out)
}

/// The data a TOML text holds, without its layout: what `fmt` must never change. Tables
/// compare regardless of key order (sorted maps), arrays in order, scalars by type and value
/// (floats by their exact spelling, so `-0.0` and `nan` compare as written).
fn data(text: &str) -> Option<String> {
    toml::from_str::<toml::Table>(text)
        .ok()
        .map(|table| format!("{table:?}"))
}

fn parse_message(text: &str, e: &toml_edit::TomlError) -> String {
    let detail = e.message().trim();
    match e.span().map(|span| position(text, span.start)) {
        Some(at) => format!("{}:{}: {detail}", at.line, at.column),
        None => detail.to_owned(),
    }
}

/// The key order of the table `child` of the table `parent` (`""`: the file): `[defaults]`,
/// `[[rules]]`, `[credentials.ID]` and `[lists.ID]` take theirs; other tables keep theirs.
fn order_for(parent: &str, child: &str) -> &'static [&'static str] {
    match (parent, child) {
        ("", "defaults") => order::DEFAULTS,
        ("", "rules") => order::RULE,
        ("credentials", _) => order::CREDENTIAL,
        ("lists", _) => order::LIST,
        _ => &[],
    }
}

/// The comment block at the very top of the file belongs to the file, not to whichever key
/// happens to come first: it is detached before sorting and put back at the top after.
fn take_file_header(root: &mut Table) -> Vec<String> {
    let Some(mut key) = first_value(root).and_then(|first| root.key_mut(&first)) else {
        return Vec::new();
    };
    let comments = decor::comments(&decor::text(key.leaf_decor().prefix()));
    key.leaf_decor_mut().set_prefix("");
    comments
}

/// The key of the first `key = value` line of a table.
fn first_value(table: &Table) -> Option<String> {
    let mut values = table.iter().filter(|(_, item)| item.is_value());
    values.next().map(|(key, _)| key.to_owned())
}

fn restore_file_header(root: &mut Table, header: Vec<String>) {
    if header.is_empty() {
        return;
    }
    let prefix = decor::line_prefix(&header, false);
    let prepend = |decor: &mut Decor| {
        let existing = decor::text(decor.prefix());
        decor.set_prefix(format!("{prefix}{existing}"));
    };
    if let Some(mut key) = first_value(root).and_then(|first| root.key_mut(&first)) {
        prepend(key.leaf_decor_mut());
        return;
    }
    // No top-level values: the header goes above the first table.
    let tables = root.iter_mut().flat_map(|(_, item)| tables_of(item));
    if let Some(table) = tables.min_by_key(|t| t.position()) {
        prepend(table.decor_mut());
    }
}

/// The table an item is, or every table of an array of tables; none for a value.
fn tables_of(item: &mut Item) -> Vec<&mut Table> {
    match item {
        Item::Table(t) => vec![t],
        Item::ArrayOfTables(tables) => tables.iter_mut().collect(),
        _ => Vec::new(),
    }
}

/// `defaults = {..}`, `rules = [{..}, ..]`, `credentials = { id = {..} }` and
/// `lists = { id = {..} }` become `[defaults]`, `[[rules]]`, `[credentials.id]` and
/// `[lists.id]` tables: one rule per table.
fn promote_inline_tables(root: &mut Table) {
    for key in ["defaults", "credentials", "lists"] {
        promote_inline_table(root, key);
    }
    for key in ["credentials", "lists"] {
        let Some(by_id) = root.get_mut(key).and_then(Item::as_table_mut) else {
            continue;
        };
        let ids: Vec<String> = by_id.iter().map(|(k, _)| k.to_string()).collect();
        for id in ids {
            promote_inline_table(by_id, &id);
        }
        // `[credentials]` holding only `[credentials.ID]` tables needs no header of its own.
        if by_id.iter().all(|(_, item)| item.is_table()) {
            by_id.set_implicit(true);
        }
    }
    let Some(item) = root.get_mut("rules") else {
        return;
    };
    let inline = |v: &Value| v.as_inline_table().map(|t| promoted(t, v.decor()));
    let tables = item
        .as_array()
        .and_then(|a| a.iter().map(inline).collect::<Option<Vec<_>>>());
    if let Some(tables) = tables.filter(|t| !t.is_empty()) {
        *item = Item::ArrayOfTables(tables.into_iter().collect());
    }
}

fn promote_inline_table(parent: &mut Table, key: &str) {
    if let Some((key, item)) = parent.get_key_value_mut(key)
        && let Some(inline) = item.as_inline_table()
    {
        *item = Item::Table(promoted(inline, key.leaf_decor()));
    }
}

/// An inline table as a table of its own, with the comments above it (in `above`).
fn promoted(inline: &InlineTable, above: &Decor) -> Table {
    let comments = decor::comments(&decor::text(above.prefix()));
    let mut table = inline.clone().into_table();
    table.set_implicit(false);
    let prefix = decor::line_prefix(&comments, false);
    table.decor_mut().set_prefix(prefix);
    table
}

/// Where the next table header goes: its place in the file, and whether it is the first.
struct Layout {
    position: isize,
    first: bool,
}

/// Sorts a table's keys, spaces its values, then lays out each of its subtables (or every
/// table of an array of tables) in turn, in the canonical order.
fn format_table(table: &mut Table, key: &str, order: &[&str], layout: &mut Layout) {
    // Keys in `order` (the engine's field lists, the order the language reference introduces
    // them); keys not listed keep their relative order after the others.
    let rank = |name: &str| order.iter().position(|k| *k == name).unwrap_or(order.len());
    table.sort_values_by(|k1, _, k2, _| rank(k1.get()).cmp(&rank(k2.get())));
    format_values(table);
    let children = table
        .iter()
        .filter(|(_, i)| i.is_table() || i.is_array_of_tables());
    let children: Vec<String> = children.map(|(k, _)| k.to_string()).collect();
    for child in children {
        // A header key's own spacing (`[ defaults ]`, or what was left from `defaults =
        // {..}`) goes; comments above a header live in the table's decor, not the key's.
        if let Some(mut key) = table.key_mut(&child) {
            key.leaf_decor_mut().clear();
        }
        let order = order_for(key, &child);
        for t in table.get_mut(&child).map(tables_of).unwrap_or_default() {
            // Written under a header of its own, never as dotted keys (`defaults.mode = ..`).
            t.set_dotted(false);
            format_header(t, layout);
            format_table(t, &child, order, layout);
        }
    }
}

/// A table's place in the file, and its header: comments above it kept, a blank line before
/// every header but the first, a same-line comment kept.
fn format_header(table: &mut Table, layout: &mut Layout) {
    layout.position += 1;
    table.set_position(Some(layout.position));
    if !table.is_implicit() {
        let comments = decor::comments(&decor::text(table.decor().prefix()));
        let suffix = decor::trailing_comment(&decor::text(table.decor().suffix()));
        let blank = !std::mem::replace(&mut layout.first, false);
        let prefix = decor::line_prefix(&comments, blank);
        *table.decor_mut() = Decor::new(prefix, suffix);
    }
}

/// Canonical spacing for every `key = value` line of a table.
fn format_values(table: &mut Table) {
    let values = table.iter().filter(|(_, i)| i.is_value());
    let keys: Vec<String> = values.map(|(k, _)| k.to_string()).collect();
    for (index, name) in keys.iter().enumerate() {
        let Some((mut key, item)) = table.get_key_value_mut(name) else {
            continue;
        };
        let raw = decor::text(key.leaf_decor().prefix());
        let comments = decor::comments(&raw);
        let blank = index > 0 && !comments.is_empty() && decor::blank_before_comments(&raw);
        let prefix = decor::line_prefix(&comments, blank);
        *key.leaf_decor_mut() = Decor::new(prefix, " ");
        let key_width = key.get().len() + 3;
        if let Some(value) = item.as_value_mut() {
            let suffix = decor::trailing_comment(&decor::text(value.decor().suffix()));
            format_value(value, key_width);
            *value.decor_mut() = Decor::new(" ", suffix);
        }
    }
}

fn format_value(value: &mut Value, used_width: usize) {
    match value {
        Value::Array(array) => format_array(array, used_width),
        // Inline tables may hold comments in TOML 1.1; those are left as written.
        Value::InlineTable(inline) if !inline.to_string().contains('#') => {
            for (_, v) in inline.iter_mut() {
                format_value(v, 0);
            }
            inline.fmt();
        }
        _ => {}
    }
}

fn format_array(array: &mut Array, used_width: usize) {
    let commented = |d: &Decor| (decor::text(d.prefix()) + &decor::text(d.suffix())).contains('#');
    let trailing = array.trailing().as_str().unwrap_or_default();
    let has_comments = array.iter().any(|v| commented(v.decor())) || trailing.contains('#');
    for v in array.iter_mut() {
        format_value(v, 0);
    }
    // Each item as written, without the spacing around it (its decor holds no comment here).
    let items = array.iter().map(|v| v.to_string().trim().to_owned());
    let items: Vec<String> = items.collect();
    let width = used_width + 2 + items.iter().map(|i| i.len() + 2).sum::<usize>();
    let multiline_items = items.iter().any(|i| i.contains('\n'));
    if !has_comments && !multiline_items && width <= MAX_WIDTH {
        for (index, v) in array.iter_mut().enumerate() {
            *v.decor_mut() = Decor::new(if index == 0 { "" } else { " " }, "");
        }
        array.set_trailing("");
        array.set_trailing_comma(false);
        return;
    }
    for v in array.iter_mut() {
        let [prefix, suffix] = [v.decor().prefix(), v.decor().suffix()].map(decor::text);
        *v.decor_mut() = Decor::new(comment_lines(&prefix, &suffix) + INDENT, "");
    }
    let trailing = comment_lines(array.trailing().as_str().unwrap_or_default(), "");
    array.set_trailing(trailing);
    array.set_trailing_comma(!array.is_empty());
}

/// What goes before an item of an array written one item per line (or before its `]`): a
/// comment on the same line as the previous item (after its comma, or after `[`) stays on
/// that line, the other comments (of `raw`, then of `more`) each get a line of their own.
fn comment_lines(raw: &str, more: &str) -> String {
    let (same_line, own_lines) = raw.split_once('\n').unwrap_or((raw, ""));
    let mut out = decor::trailing_comment(same_line);
    for comment in [own_lines, more].map(decor::comments).concat() {
        out.push_str(&format!("\n{INDENT}{comment}"));
    }
    out + "\n"
}
