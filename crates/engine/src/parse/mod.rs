//! TOML to spanned values, and typed access to them that reports diagnostics.
//!
//! The policy is read with `toml`'s borrowed, spanned document (`DeTable`), so every
//! diagnostic can point at the key or value it is about.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

use crate::diagnostic::{Code, Diagnostic};
use crate::suggest::did_you_mean;

/// A spanned TOML value.
pub(crate) type Value<'i> = Spanned<DeValue<'i>>;

/// Parses the TOML text; syntax errors become `toml-syntax` diagnostics.
pub(crate) fn parse_document(text: &str) -> Result<Spanned<DeTable<'_>>, Vec<Diagnostic>> {
    let (doc, errors) = DeTable::parse_recoverable(text);
    if errors.is_empty() {
        return Ok(doc);
    }
    Err(errors
        .iter()
        .map(|e| {
            let message = e.message().trim().trim_end_matches('.').to_owned();
            let first = message.lines().next().unwrap_or("invalid TOML").to_owned();
            let d = Diagnostic::new(Code::TomlSyntax, format!("invalid TOML: {first}"))
                .with_label("here");
            match e.span() {
                Some(span) => d.with_span(span),
                None => d,
            }
        })
        .collect())
}

/// The fields of one table, checked against the known names.
pub(crate) struct Fields<'a, 'i> {
    entries: Vec<(&'a Spanned<DeString<'i>>, &'a Value<'i>)>,
}

impl<'a, 'i> Fields<'a, 'i> {
    /// Reads `table`, reporting every key not in `known` (with a "did you mean").
    pub(crate) fn read(
        table: &'a DeTable<'i>,
        known: &[&str],
        context: &str,
        diags: &mut Vec<Diagnostic>,
    ) -> Fields<'a, 'i> {
        let mut entries = Vec::with_capacity(table.len());
        for (key, value) in table {
            let name: &str = key.get_ref();
            if known.contains(&name) {
                entries.push((key, value));
            } else {
                let mut d = Diagnostic::new(
                    Code::UnknownField,
                    format!("unknown field `{name}` in {context}"),
                )
                .with_span(key.span())
                .with_label("unknown field");
                d.hint = Some(match did_you_mean(name, known.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`? expected one of {}", list(known)),
                    None => format!("expected one of {}", list(known)),
                });
                diags.push(d);
            }
        }
        Fields { entries }
    }

    /// The value of `name`, if present.
    pub(crate) fn get(&self, name: &str) -> Option<&'a Value<'i>> {
        self.entries
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() as &str == name)
            .map(|(_, v)| *v)
    }

    /// The span of the key `name`, if present.
    pub(crate) fn key_span(&self, name: &str) -> Option<Range<usize>> {
        self.entries
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() as &str == name)
            .map(|(k, _)| k.span())
    }
}

/// `a`, `b`, `c` as a backticked list.
pub(crate) fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn wrong_type(what: &str, expected: &str, value: &Value<'_>) -> Diagnostic {
    Diagnostic::new(
        Code::WrongType,
        format!(
            "{what} must be {expected}, found {}",
            value.get_ref().type_str()
        ),
    )
    .with_span(value.span())
    .with_label(format!("expected {expected}"))
}

/// The string value, or a `wrong-type` diagnostic.
pub(crate) fn string<'a>(
    value: &'a Value<'_>,
    what: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<&'a str> {
    match value.get_ref() {
        DeValue::String(s) => Some(s.as_ref()),
        _ => {
            diags.push(wrong_type(what, "a string", value));
            None
        }
    }
}

/// The boolean value, or a `wrong-type` diagnostic.
pub(crate) fn boolean(value: &Value<'_>, what: &str, diags: &mut Vec<Diagnostic>) -> Option<bool> {
    match value.get_ref() {
        DeValue::Boolean(b) => Some(*b),
        _ => {
            diags.push(wrong_type(what, "a boolean", value));
            None
        }
    }
}

/// The integer value, or a `wrong-type`/`out-of-range` diagnostic.
pub(crate) fn integer(value: &Value<'_>, what: &str, diags: &mut Vec<Diagnostic>) -> Option<i64> {
    match value.get_ref() {
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) => Some(n),
            Err(_) => {
                diags.push(
                    Diagnostic::new(Code::OutOfRange, format!("{what} is out of range"))
                        .with_span(value.span())
                        .with_label("too large"),
                );
                None
            }
        },
        _ => {
            diags.push(wrong_type(what, "an integer", value));
            None
        }
    }
}

/// The array's elements, or a `wrong-type` diagnostic.
pub(crate) fn array<'a, 'i>(
    value: &'a Value<'i>,
    what: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<&'a [Value<'i>]> {
    match value.get_ref() {
        DeValue::Array(a) => Some(a),
        _ => {
            diags.push(wrong_type(what, "an array", value));
            None
        }
    }
}

/// The table, or a `wrong-type` diagnostic.
pub(crate) fn table<'a, 'i>(
    value: &'a Value<'i>,
    what: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<&'a DeTable<'i>> {
    match value.get_ref() {
        DeValue::Table(t) => Some(t),
        _ => {
            diags.push(wrong_type(what, "a table", value));
            None
        }
    }
}

/// A string-valued enum: the value when it is one of `allowed`, else an `unknown-value`
/// diagnostic with a "did you mean".
pub(crate) fn keyword<'a>(
    value: &'a Value<'_>,
    what: &str,
    code: Code,
    allowed: &[&str],
    diags: &mut Vec<Diagnostic>,
) -> Option<&'a str> {
    let text = string(value, what, diags)?;
    if allowed.contains(&text) {
        return Some(text);
    }
    let hint = match did_you_mean(text, allowed.iter().copied()) {
        Some(s) => format!("did you mean `{s}`? expected one of {}", list(allowed)),
        None => format!("expected one of {}", list(allowed)),
    };
    diags.push(
        Diagnostic::new(code, format!("unknown {what} `{text}`"))
            .with_span(value.span())
            .with_label(format!("unknown {what}"))
            .with_hint(hint),
    );
    None
}
