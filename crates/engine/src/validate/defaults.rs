//! The `[defaults]` table.

use toml::de::DeTable;

use crate::decision::Action;
use crate::diagnostic::Diagnostic;
use crate::fields;
use crate::model::{Defaults, IpLiterals, Mode};
use crate::parse::{self, Fields};

/// Reads `[defaults]`; fields not given (or invalid, with a diagnostic) keep their defaults.
pub(super) fn validate(table: &DeTable<'_>, diags: &mut Vec<Diagnostic>) -> Defaults {
    let fields = Fields::read(table, fields::DEFAULTS, "`[defaults]`", diags);
    let mut defaults = Defaults::default();
    if let Some(v) = fields.get("action") {
        match parse::keyword(
            v,
            "default action",
            "unknown-action",
            &["pass", "block"],
            diags,
        ) {
            Some("block") => defaults.action = Action::Block,
            Some(_) => defaults.action = Action::Pass,
            None => {}
        }
    }
    if let Some(v) = fields.get("mode")
        && let Some(m) = parse::keyword(v, "mode", "unknown-mode", &["enforce", "report"], diags)
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
            "unknown-value",
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
    defaults
}
