//! `egress-policy check [POLICY]`: every diagnostic of a policy at once.

use std::io::Write as _;
use std::path::PathBuf;

use egress_policy_engine::{Diagnostic, Severity};
use serde::Serialize;

use crate::policy_source::{self, DEFAULT_POLICY, PolicySource};
use crate::source_position::position;
use crate::{CliError, Outcome};

/// Arguments of `check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The policy file.
    #[arg(default_value = DEFAULT_POLICY)]
    policy: PathBuf,
    /// `human` (rendered with the source underlined) or `json` (an array, for tools).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

/// How `check` prints diagnostics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `file:line:col: error[code]: message`, the source line underlined, the hint.
    Human,
    /// One JSON array of diagnostic objects.
    Json,
}

/// One diagnostic as `check --format json` prints it.
#[derive(Debug, Serialize)]
struct JsonDiagnostic<'a> {
    severity: &'static str,
    code: &'static str,
    message: &'a str,
    file: String,
    line: Option<usize>,
    column: Option<usize>,
    end_line: Option<usize>,
    end_column: Option<usize>,
    label: Option<&'a str>,
    hint: Option<&'a str>,
}

/// Runs `check`: failed when the policy has an error (warnings alone pass).
pub fn run(args: &Args) -> Result<Outcome, CliError> {
    let source = PolicySource::read(&args.policy)?;
    let (diagnostics, rules) = match source.compile() {
        Ok(compiled) => {
            let policy = &compiled.policy;
            let counts = (policy.rules().len(), policy_source::lists_summary(policy));
            (compiled.warnings, Some(counts))
        }
        Err(diagnostics) => (diagnostics, None),
    };
    let file_name = source.file_name();
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Human => {
            for diagnostic in &diagnostics {
                writeln!(out, "{}", source.render(diagnostic))?;
            }
            let summary = policy_source::summary(&diagnostics);
            match rules {
                Some((rules, lists)) => writeln!(
                    out,
                    "{file_name}: ok, {summary} ({rules} rule{}{lists})",
                    policy_source::plural(rules)
                )?,
                None => writeln!(out, "{file_name}: {summary}")?,
            }
        }
        Format::Json => {
            let json: Vec<JsonDiagnostic<'_>> = diagnostics
                .iter()
                .map(|d| {
                    let (file, text) = source.source_of(d);
                    to_json(d, file, text)
                })
                .collect();
            writeln!(out, "{}", serde_json::to_string_pretty(&json)?)?;
        }
    }
    Ok(Outcome::failed_if(
        diagnostics.iter().any(|d| d.severity == Severity::Error),
    ))
}

fn to_json<'a>(diagnostic: &'a Diagnostic, file_name: String, text: &str) -> JsonDiagnostic<'a> {
    let start = diagnostic.span.as_ref().map(|s| position(text, s.start));
    let end = diagnostic.span.as_ref().map(|s| position(text, s.end));
    JsonDiagnostic {
        severity: diagnostic.severity.as_str(),
        code: diagnostic.code.as_str(),
        message: &diagnostic.message,
        file: file_name,
        line: start.map(|p| p.line),
        column: start.map(|p| p.column),
        end_line: end.map(|p| p.line),
        end_column: end.map(|p| p.column),
        label: diagnostic.label.as_deref(),
        hint: diagnostic.hint.as_deref(),
    }
}
