//! Validation: spanned TOML to the [`PolicyModel`], every problem reported at once.

mod credentials;
mod defaults;
mod lints;
mod lists;
mod rules;

pub(crate) use rules::compile_path_regex;

use std::ops::Range;

use toml::de::DeTable;

use crate::diagnostic::{Code, Diagnostic, Severity, diag};
use crate::domain_list::ListFiles;
use crate::fields;
use crate::limits::MAX_TEXT_LEN;
use crate::model::PolicyModel;
use crate::parse::{self, Fields, Value};
use crate::suggest::did_you_mean;

/// Validates a parsed document and the list files it names. Returns the model when there is
/// no error (its `sha256` left empty for the caller to fill in), plus every diagnostic
/// (errors and warnings) found.
pub(crate) fn validate(
    text: &str,
    root: &DeTable<'_>,
    root_span: Range<usize>,
    files: &ListFiles,
) -> (Option<PolicyModel>, Vec<Diagnostic>) {
    let diags = &mut Vec::new();
    let fields = Fields::read(root, fields::ROOT, "the policy", diags);
    let name = version_and_name(&fields, root_span, diags);
    let defaults = (fields.table("defaults", diags))
        .map(|t| defaults::validate(t, diags))
        .unwrap_or_default();
    let mut checker = rules::RuleChecker::new(text, defaults.tags_required);
    let credentials = (fields.table("credentials", diags))
        .map(|t| credentials::validate(t, &mut checker.credentials, diags))
        .unwrap_or_default();
    let lists = (fields.table("lists", diags))
        .map(|t| lists::validate(t, files, &mut checker.lists, diags))
        .unwrap_or_default();
    let (rules, headers) = checker.validate_all(&fields, diags);
    lints::check(&rules, &headers, &checker, &credentials, diags);
    let model = (errors(diags) == 0).then_some(PolicyModel {
        name,
        sha256: String::new(),
        defaults,
        rules,
        credentials,
        lists,
    });
    (model, std::mem::take(diags))
}

/// Checks `version` and returns the policy's `name`, if valid.
fn version_and_name(
    fields: &Fields<'_, '_>,
    root_span: Range<usize>,
    diags: &mut Vec<Diagnostic>,
) -> Option<String> {
    match fields.get("version") {
        None => diag!(MissingField: "missing field `version`")
            .with_span(root_span.start..root_span.start)
            .with_hint("start the policy with `version = 1`")
            .push_to(diags),
        Some(v) => {
            if let Some(n) = parse::integer(v, "`version`", diags)
                && n != 1
            {
                diag!(UnsupportedVersion: "unsupported policy version `{n}`")
                    .at(v.span(), "unsupported version")
                    .with_hint("this engine reads `version = 1`")
                    .push_to(diags);
            }
        }
    }
    let v = fields.get("name")?;
    let s = parse::string(v, "`name`", diags)?;
    if is_text(s) {
        return Some(s.to_owned());
    }
    diag!(InvalidName: "policy `name` must be 1 to {MAX_TEXT_LEN} bytes without control or bidirectional formatting characters")
        .at(v.span(), "invalid name")
        .fail(diags)
}

/// How many of `diags` are errors.
fn errors(diags: &[Diagnostic]) -> usize {
    diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count()
}

/// The error (`code`, for the caller to place) when `id` is not a valid rule, credential or
/// list id (`kind`): 1 to 128 letters, digits, `-`, `_` or `.`.
fn id_error(kind: &str, code: Code, id: &str) -> Option<Diagnostic> {
    (!crate::is_name(id, 128, b"-_.")).then(|| {
        Diagnostic::new(code, format!("{kind} id `{id}` is not valid"))
            .with_label("invalid id")
            .with_hint("ids are 1 to 128 letters, digits, `-`, `_` or `.`")
    })
}

/// Whether `s` is free text: 1 to [`MAX_TEXT_LEN`] bytes without control characters or
/// bidirectional formatting characters. Free text reaches log lines, answers and `audit`'s
/// tables, where a bidirectional override would make it read otherwise than it is stored.
fn is_text(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_TEXT_LEN
        && !s.chars().any(|c| c.is_control() || is_bidi_format(c))
}

/// The Unicode bidirectional formatting characters: marks, embeddings, overrides, isolates.
fn is_bidi_format(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A free-text string value ([`is_text`]), else an `invalid-text` error labelled `label`.
fn text<'a>(
    value: &'a Value<'_>,
    what: &str,
    label: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<&'a str> {
    let s = parse::string(value, what, diags)?;
    if is_text(s) {
        return Some(s);
    }
    diag!(InvalidText: "{what} must be 1 to {MAX_TEXT_LEN} bytes without control or bidirectional formatting characters")
        .at(value.span(), label)
        .fail(diags)
}

/// The error for a list or credential (`kind`) that no `[{kind}s.NAME]` table declares.
fn undeclared<'d>(
    code: Code,
    kind: &str,
    name: &str,
    declared: impl Iterator<Item = &'d String>,
) -> Diagnostic {
    let hint = match did_you_mean(name, declared.map(String::as_str)) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("define it in a `[{kind}s.{name}]` table"),
    };
    Diagnostic::new(code, format!("{kind} `{name}` is not defined"))
        .with_label(format!("no such {kind}"))
        .with_hint(hint)
}
