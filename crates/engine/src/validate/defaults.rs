//! The `[defaults]` table.

use toml::de::{DeTable, DeValue};

use crate::decision::Action;
use crate::diagnostic::{Code, Diagnostic};
use crate::fields;
use crate::model::{Defaults, IpLiterals, Mode, PathInLogs};
use crate::parse::{self, Fields, Value};

/// Reads `[defaults]`; fields not given (or invalid, with a diagnostic) keep their defaults.
pub(super) fn validate(table: &DeTable<'_>, diags: &mut Vec<Diagnostic>) -> Defaults {
    let fields = Fields::read(table, fields::DEFAULTS, "`[defaults]`", diags);
    let mut defaults = Defaults::default();
    if let Some(v) = fields.get("action") {
        match parse::keyword(
            v,
            "default action",
            Code::UnknownAction,
            &["pass", "block"],
            diags,
        ) {
            Some("block") => defaults.action = Action::Block,
            Some(_) => defaults.action = Action::Pass,
            None => {}
        }
    }
    if let Some(v) = fields.get("mode")
        && let Some(m) = parse::keyword(v, "mode", Code::UnknownMode, &["enforce", "report"], diags)
    {
        defaults.mode = if m == "report" {
            Mode::Report
        } else {
            Mode::Enforce
        };
    }
    if let Some(v) = fields.get("ip_literals")
        && let Some(m) = parse::keyword(
            v,
            "`ip_literals` value",
            Code::UnknownValue,
            &["block", "allow"],
            diags,
        )
    {
        defaults.ip_literals = if m == "allow" {
            IpLiterals::Allow
        } else {
            IpLiterals::Block
        };
    }
    if let Some(v) = fields.get("query_in_logs")
        && let Some(b) = parse::boolean(v, "`query_in_logs`", diags)
    {
        defaults.query_in_logs = b;
    }
    if let Some(v) = fields.get("path_in_logs")
        && let Some(p) = path_in_logs(v, diags)
    {
        defaults.path_in_logs = p;
    }
    if let Some(v) = fields.get("customer_tags")
        && let Some(m) = parse::keyword(
            v,
            "`customer_tags` value",
            Code::UnknownValue,
            &["optional", "required"],
            diags,
        )
    {
        defaults.tags_required = m == "required";
    }
    defaults
}

/// What `path_in_logs` accepts, for hints.
const PATH_IN_LOGS_HINT: &str =
    "write \"full\" (the whole path), \"none\" (no path) or 0 to 32 (the first N path segments)";

/// `"full"`, `"none"` or a segment count in `0..=32`.
fn path_in_logs(v: &Value<'_>, diags: &mut Vec<Diagnostic>) -> Option<PathInLogs> {
    match v.get_ref() {
        DeValue::String(word) => match word.as_ref() {
            "full" => Some(PathInLogs::Full),
            "none" => Some(PathInLogs::None),
            other => {
                let hint = match crate::suggest::did_you_mean(other, ["full", "none"]) {
                    Some(s) => format!("did you mean `{s}`? {PATH_IN_LOGS_HINT}"),
                    None => PATH_IN_LOGS_HINT.to_owned(),
                };
                diags.push(
                    Diagnostic::new(
                        Code::UnknownValue,
                        format!("unknown `path_in_logs` value `{other}`"),
                    )
                    .with_span(v.span())
                    .with_label("unknown `path_in_logs` value")
                    .with_hint(hint),
                );
                None
            }
        },
        DeValue::Integer(_) => {
            let n = parse::integer(v, "`path_in_logs`", diags)?;
            let segments = u8::try_from(n)
                .ok()
                .filter(|n| *n <= PathInLogs::MAX_SEGMENTS);
            if segments.is_none() {
                diags.push(
                    Diagnostic::new(
                        Code::PathInLogsOutOfRange,
                        format!("`path_in_logs` of {n} segments is out of range"),
                    )
                    .with_span(v.span())
                    .with_label("out of range")
                    .with_hint(PATH_IN_LOGS_HINT),
                );
            }
            segments.map(PathInLogs::Segments)
        }
        _ => {
            diags.push(
                Diagnostic::new(
                    Code::WrongType,
                    format!(
                        "`path_in_logs` must be a string or an integer, found {}",
                        v.get_ref().type_str()
                    ),
                )
                .with_span(v.span())
                .with_label("expected \"full\", \"none\" or an integer")
                .with_hint(PATH_IN_LOGS_HINT),
            );
            None
        }
    }
}
