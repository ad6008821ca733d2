//! Validation: spanned TOML to the [`PolicyModel`], every problem reported at once.

mod credentials;
mod defaults;
mod lints;
mod lists;
mod rules;

pub(crate) use rules::compile_path_regex;

use std::collections::BTreeMap;
use std::ops::Range;

use toml::de::{DeTable, DeValue};

use crate::diagnostic::{Code, Diagnostic};
use crate::domain_list::ListFiles;
use crate::fields;
use crate::limits::{MAX_RULES, MAX_TEXT_LEN};
use crate::model::{Defaults, PolicyModel};
use crate::parse::{self, Fields};

/// Spans of a validated rule, for diagnostics that concern several rules.
#[derive(Clone, Debug, Default)]
pub(crate) struct RuleSpans {
    /// The `[[rules]]` table (or inline table).
    pub header: Range<usize>,
    /// Each entry of `hosts`, in order (empty when the rule has none).
    pub hosts: Vec<Range<usize>>,
}

/// Spans of a validated credential.
#[derive(Clone, Debug, Default)]
pub(crate) struct CredentialSpans {
    /// The key naming the credential.
    pub key: Range<usize>,
    /// The `claims` value, when given.
    pub claims: Option<Range<usize>>,
}

/// Validates a parsed document and the list files it names. Returns the model when there is
/// no error (its `sha256` left empty for the caller to fill in), plus every diagnostic
/// (errors and warnings) found.
pub(crate) fn validate(
    text: &str,
    root: &DeTable<'_>,
    root_span: Range<usize>,
    files: &ListFiles,
) -> (Option<PolicyModel>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let fields = Fields::read(root, fields::ROOT, "the policy", &mut diags);

    match fields.get("version") {
        None => diags.push(
            Diagnostic::new(Code::MissingField, "missing field `version`")
                .with_span(root_span.start..root_span.start)
                .with_hint("start the policy with `version = 1`"),
        ),
        Some(v) => {
            if let Some(n) = parse::integer(v, "`version`", &mut diags)
                && n != 1
            {
                diags.push(
                    Diagnostic::new(
                        Code::UnsupportedVersion,
                        format!("unsupported policy version `{n}`"),
                    )
                    .with_span(v.span())
                    .with_label("unsupported version")
                    .with_hint("this engine reads `version = 1`"),
                );
            }
        }
    }

    let name = fields.get("name").and_then(|v| {
        let s = parse::string(v, "`name`", &mut diags)?;
        if s.is_empty() || s.len() > MAX_TEXT_LEN || s.chars().any(char::is_control) {
            diags.push(
                Diagnostic::new(
                    Code::InvalidName,
                    "policy `name` must be 1 to 1024 printable characters",
                )
                .with_span(v.span())
                .with_label("invalid name"),
            );
            return None;
        }
        Some(s.to_owned())
    });

    let defaults = match fields.get("defaults") {
        Some(v) => parse::table(v, "`defaults`", &mut diags)
            .map(|t| defaults::validate(t, &mut diags))
            .unwrap_or_default(),
        None => Defaults::default(),
    };

    let (credentials, credential_spans) = match fields.get("credentials") {
        Some(v) => parse::table(v, "`credentials`", &mut diags)
            .map(|t| credentials::validate(t, &mut diags))
            .unwrap_or_default(),
        None => (BTreeMap::new(), BTreeMap::new()),
    };

    let (lists, list_spans) = match fields.get("lists") {
        Some(v) => parse::table(v, "`lists`", &mut diags)
            .map(|t| lists::validate(t, files, &mut diags))
            .unwrap_or_default(),
        None => (BTreeMap::new(), BTreeMap::new()),
    };

    let mut rules = Vec::new();
    let mut rule_spans = Vec::new();
    let mut mentioned = std::collections::HashSet::new();
    let mut mentioned_lists = std::collections::HashSet::new();
    if let Some(v) = fields.get("rules")
        && let Some(items) = parse::array(v, "`rules`", &mut diags)
    {
        if items.len() > MAX_RULES {
            diags.push(
                Diagnostic::new(
                    Code::TooManyRules,
                    format!("the policy has {} rules", items.len()),
                )
                .with_span(fields.key_span("rules").unwrap_or_else(|| v.span()))
                .with_label("too many rules")
                .with_hint(format!("a policy has at most {MAX_RULES} rules")),
            );
        } else {
            let mut checker = rules::RuleChecker::new(text, &credential_spans, &list_spans);
            for item in items {
                if let DeValue::Table(t) = item.get_ref() {
                    if let Some((rule, spans)) = checker.validate(t, item.span(), &mut diags) {
                        rules.push(rule);
                        rule_spans.push(spans);
                    }
                } else {
                    parse::table(item, "each `rules` entry", &mut diags);
                }
            }
            mentioned = checker.mentioned;
            mentioned_lists = checker.mentioned_lists;
        }
    }

    for (id, spans) in &list_spans {
        if !mentioned_lists.contains(id) {
            diags.push(
                Diagnostic::new(
                    Code::UnusedList,
                    format!("list `{id}` is not used by any rule"),
                )
                .with_span(spans.key.clone())
                .with_label("unused")
                .with_hint("remove it, or name it in a block rule's `lists`"),
            );
        }
    }

    lints::check(
        &rules,
        &rule_spans,
        &mentioned,
        &credentials,
        &credential_spans,
        &mut diags,
    );

    // A policy that declares the deployment passes tags with every request is past the
    // warning that tag-scoped rules need them.
    if defaults.tags_required {
        diags.retain(|d| d.code != crate::diagnostic::Code::TagScopedRule);
    }
    let has_errors = diags
        .iter()
        .any(|d| d.severity == crate::diagnostic::Severity::Error);
    let model = (!has_errors).then_some(PolicyModel {
        name,
        sha256: String::new(),
        defaults,
        rules,
        credentials,
        lists,
    });
    (model, diags)
}

/// Whether `id` is a valid rule or credential id: letters, digits, `-`, `_`, `.`.
pub(crate) fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}
