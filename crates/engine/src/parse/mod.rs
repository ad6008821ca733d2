//! TOML to spanned values, and typed access to them that reports diagnostics.
//!
//! The policy is read with `toml`'s borrowed, spanned document (`DeTable`), so every
//! diagnostic can point at the key or value it is about.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diagnostic::{Code, Diagnostic, diag};
use crate::limits::MAX_LIST_LEN;
use crate::suggest::hint;

/// A spanned TOML value.
pub(crate) type Value<'i> = Spanned<DeValue<'i>>;

/// A string-valued enum (see [`keyword`]): what messages call it, the code of an unknown
/// value, and each accepted name with its value.
pub(crate) type Keyword<'a, T> = (&'a str, Code, &'a [(&'a str, T)]);

/// Parses the TOML text; syntax errors become `toml-syntax` diagnostics.
pub(crate) fn parse_document(text: &str) -> Result<Spanned<DeTable<'_>>, Vec<Diagnostic>> {
    let (doc, errors) = DeTable::parse_recoverable(text);
    if errors.is_empty() {
        return Ok(doc);
    }
    Err(errors
        .iter()
        .map(|e| {
            let message = e.message().trim().trim_end_matches('.');
            let first = message.lines().next().unwrap_or("invalid TOML");
            let mut d = diag!(TomlSyntax: "invalid TOML: {first}").with_label("here");
            d.span = e.span();
            d
        })
        .collect())
}

/// The fields of one table, checked against the known names (callers ask for known names
/// only, so an unknown key, reported once, is never read).
pub(crate) struct Fields<'a, 'i> {
    table: &'a DeTable<'i>,
}

impl<'a, 'i> Fields<'a, 'i> {
    /// Reads `table`, reporting every key not in `known` (with a "did you mean").
    pub(crate) fn read(
        table: &'a DeTable<'i>,
        known: &[&str],
        context: &str,
        diags: &mut Vec<Diagnostic>,
    ) -> Fields<'a, 'i> {
        for key in table.keys() {
            let name: &str = key.get_ref();
            if !known.contains(&name) {
                let expected = format!("expected one of {}", list(known));
                diag!(UnknownField: "unknown field `{name}` in {context}")
                    .at(key.span(), "unknown field")
                    .with_hint(hint(name, known.iter().copied(), expected))
                    .push_to(diags);
            }
        }
        Fields { table }
    }

    /// The value of `name`, if present.
    pub(crate) fn get(&self, name: &str) -> Option<&'a Value<'i>> {
        self.table.get(name)
    }

    /// The value of the keyword field `name` (see [`keyword`]), if present.
    pub(crate) fn keyword<T: Copy>(
        &self,
        name: &str,
        kw: Keyword<'_, T>,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<T> {
        keyword(self.get(name)?, kw, diags)
    }

    /// The table value of `name`, if present (else a `wrong-type` diagnostic).
    pub(crate) fn table(&self, name: &str, diags: &mut Vec<Diagnostic>) -> Option<&'a DeTable<'i>> {
        table(self.get(name)?, &format!("`{name}`"), diags)
    }

    /// The list value of `name`, if present, its entries checked by `item`; an empty list,
    /// and one of more than [`MAX_LIST_LEN`] entries, are errors.
    pub(crate) fn list<T>(
        &self,
        name: &str,
        diags: &mut Vec<Diagnostic>,
        mut item: impl FnMut(&Value<'i>, &mut Vec<Diagnostic>) -> Option<T>,
    ) -> Option<Vec<T>> {
        let value = self.get(name)?;
        let what = format!("`{name}`");
        let items = array(value, &what, diags)?;
        if items.is_empty() {
            return diag!(EmptyList: "{what} is empty")
                .at(value.span(), "matches nothing")
                .with_hint(format!(
                    "list at least one entry, or remove {what} to not restrict on it"
                ))
                .fail(diags);
        }
        if items.len() > MAX_LIST_LEN {
            return diag!(ListTooLong: "{what} has {} entries", items.len())
                .at(value.span(), "too many entries")
                .with_hint(format!(
                    "a list has at most {MAX_LIST_LEN} entries; split the rule"
                ))
                .fail(diags);
        }
        let checked: Vec<Option<T>> = items.iter().map(|v| item(v, diags)).collect();
        checked.into_iter().collect()
    }

    /// The span of the key `name`, if present.
    pub(crate) fn key_span(&self, name: &str) -> Option<Range<usize>> {
        self.table.get_key_value(name).map(|(k, _)| k.span())
    }
}

/// `a`, `b`, `c` as a backticked list.
pub(crate) fn list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    quoted.join(", ")
}

/// The value when `pick` finds it of the expected type, else a `wrong-type` diagnostic
/// (`{what} must be {expected}, found ...`).
fn typed<'a, 'i, T>(
    value: &'a Value<'i>,
    what: &str,
    expected: &str,
    diags: &mut Vec<Diagnostic>,
    pick: impl FnOnce(&'a DeValue<'i>) -> Option<T>,
) -> Option<T> {
    pick(value.get_ref()).or_else(|| {
        let found = value.get_ref().type_str();
        diag!(WrongType: "{what} must be {expected}, found {found}")
            .at(value.span(), format!("expected {expected}"))
            .fail(diags)
    })
}

/// The string value, or a `wrong-type` diagnostic.
pub(crate) fn string<'a>(
    value: &'a Value<'_>,
    what: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<&'a str> {
    typed(value, what, "a string", diags, DeValue::as_str)
}

/// The boolean value, or a `wrong-type` diagnostic.
pub(crate) fn boolean(value: &Value<'_>, what: &str, diags: &mut Vec<Diagnostic>) -> Option<bool> {
    typed(value, what, "a boolean", diags, DeValue::as_bool)
}

/// The integer value, or a `wrong-type`/`out-of-range` diagnostic.
pub(crate) fn integer(value: &Value<'_>, what: &str, diags: &mut Vec<Diagnostic>) -> Option<i64> {
    let i = typed(value, what, "an integer", diags, DeValue::as_integer)?;
    i64::from_str_radix(i.as_str(), i.radix()).ok().or_else(|| {
        diag!(OutOfRange: "{what} is out of range")
            .at(value.span(), "too large")
            .fail(diags)
    })
}

/// The array's elements, or a `wrong-type` diagnostic.
pub(crate) fn array<'a, 'i>(
    value: &'a Value<'i>,
    what: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<&'a [Value<'i>]> {
    typed(value, what, "an array", diags, |v| {
        v.as_array().map(AsRef::as_ref)
    })
}

/// The table, or a `wrong-type` diagnostic.
pub(crate) fn table<'a, 'i>(
    value: &'a Value<'i>,
    what: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<&'a DeTable<'i>> {
    typed(value, what, "a table", diags, DeValue::as_table)
}

/// A string-valued enum: the value `kw` pairs with the string, else an `unknown-...`
/// diagnostic with a "did you mean".
pub(crate) fn keyword<T: Copy>(
    value: &Value<'_>,
    kw: Keyword<'_, T>,
    diags: &mut Vec<Diagnostic>,
) -> Option<T> {
    one_of(string(value, kw.0, diags)?, value.span(), kw, diags)
}

/// The value `kw` pairs with `text`, else an `unknown {what}` diagnostic (`kw`'s code) at `span`.
pub(crate) fn one_of<T: Copy>(
    text: &str,
    span: Range<usize>,
    (what, code, choices): Keyword<'_, T>,
    diags: &mut Vec<Diagnostic>,
) -> Option<T> {
    if let Some((_, v)) = choices.iter().find(|(name, _)| *name == text) {
        return Some(*v);
    }
    let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
    let expected = format!("expected one of {}", list(&names));
    Diagnostic::new(code, format!("unknown {what} `{text}`"))
        .at(span, format!("unknown {what}"))
        .with_hint(hint(text, names, expected))
        .fail(diags)
}
