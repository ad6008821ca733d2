//! The `[defaults]` table.

use toml::de::{DeTable, DeValue};

use crate::decision::Action;
use crate::diagnostic::{Code, Diagnostic, diag};
use crate::fields;
use crate::model::{Defaults, IpLiterals, PathInLogs};
use crate::parse::{self, Fields, Value};
use crate::suggest::hint;

use super::rules::MODE;

/// Reads `[defaults]`; fields not given (or invalid, with a diagnostic) keep their defaults.
pub(super) fn validate(table: &DeTable<'_>, diags: &mut Vec<Diagnostic>) -> Defaults {
    let fields = Fields::read(table, fields::DEFAULTS, "`[defaults]`", diags);
    let actions = [("pass", Action::Pass), ("block", Action::Block)];
    let ip_literals = [("block", IpLiterals::Block), ("allow", IpLiterals::Allow)];
    let tags = [("optional", false), ("required", true)];
    let action = ("default action", Code::UnknownAction, &actions[..]);
    let ip_literals = ("`ip_literals` value", Code::UnknownValue, &ip_literals[..]);
    let tags = ("`customer_tags` value", Code::UnknownValue, &tags[..]);
    // Every field's default is its type's: `Defaults::default()`.
    Defaults {
        action: (fields.keyword("action", action, diags)).unwrap_or_default(),
        mode: (fields.keyword("mode", MODE, diags)).unwrap_or_default(),
        ip_literals: (fields.keyword("ip_literals", ip_literals, diags)).unwrap_or_default(),
        query_in_logs: (fields.get("query_in_logs"))
            .and_then(|v| parse::boolean(v, "`query_in_logs`", diags))
            .unwrap_or_default(),
        path_in_logs: (fields.get("path_in_logs"))
            .and_then(|v| path_in_logs(v, diags))
            .unwrap_or_default(),
        tags_required: (fields.keyword("customer_tags", tags, diags)).unwrap_or_default(),
    }
}

/// What `path_in_logs` accepts, for hints.
const PATH_IN_LOGS_HINT: &str =
    "write \"full\" (the whole path), \"none\" (no path) or 0 to 32 (the first N path segments)";

/// `"full"`, `"none"` or a segment count in `0..=32`.
fn path_in_logs(v: &Value<'_>, diags: &mut Vec<Diagnostic>) -> Option<PathInLogs> {
    let found = v.get_ref().type_str();
    match v.get_ref() {
        DeValue::String(word) => match word.as_ref() {
            "full" => Some(PathInLogs::Full),
            "none" => Some(PathInLogs::None),
            other => diag!(UnknownValue: "unknown `path_in_logs` value `{other}`")
                .at(v.span(), "unknown `path_in_logs` value")
                .with_hint(hint(other, ["full", "none"], PATH_IN_LOGS_HINT.to_owned()))
                .fail(diags),
        },
        DeValue::Integer(_) => {
            let n = parse::integer(v, "`path_in_logs`", diags)?;
            let segments = u8::try_from(n)
                .ok()
                .filter(|n| *n <= PathInLogs::MAX_SEGMENTS);
            segments.map(PathInLogs::Segments).or_else(|| {
                diag!(PathInLogsOutOfRange: "`path_in_logs` of {n} segments is out of range")
                    .at(v.span(), "out of range")
                    .with_hint(PATH_IN_LOGS_HINT)
                    .fail(diags)
            })
        }
        _ => diag!(WrongType: "`path_in_logs` must be a string or an integer, found {found}")
            .at(v.span(), "expected \"full\", \"none\" or an integer")
            .with_hint(PATH_IN_LOGS_HINT)
            .fail(diags),
    }
}
