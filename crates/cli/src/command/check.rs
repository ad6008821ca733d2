//! `egress-policy check [POLICY]`: every diagnostic of a policy at once.

use std::io::Write as _;
use std::path::PathBuf;

use egress_policy_engine::{Diagnostic, Severity};
use serde::Serialize;

use crate::policy_source::{self, DEFAULT_POLICY, PolicySource};
use crate::{CliError, Outcome};
use egress_policy_engine::diagnostic::locate as position;

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
    // A policy that compiles has only warnings, and its contents are summed up.
    let compiled = source.compile();
    let policy = compiled.as_ref().ok().map(|compiled| &compiled.policy);
    let contents = policy.map(policy_source::contents);
    let diagnostics = compiled.map_or_else(|errors| errors, |compiled| compiled.warnings);
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Human => {
            for diagnostic in &diagnostics {
                writeln!(out, "{}", source.render(diagnostic))?;
            }
            let (file_name, summary) = (source.file_name(), policy_source::summary(&diagnostics));
            match contents {
                Some(contents) => writeln!(out, "{file_name}: ok, {summary} ({contents})")?,
                None => writeln!(out, "{file_name}: {summary}")?,
            }
        }
        Format::Json => {
            let json: Vec<JsonDiagnostic<'_>> = (diagnostics.iter())
                .map(|d| to_json(d, source.source_of(d)))
                .collect();
            writeln!(out, "{}", serde_json::to_string_pretty(&json)?)?;
        }
    }
    let errors = policy_source::count(&diagnostics, Severity::Error);
    Ok(Outcome::failed_if(errors > 0))
}

fn to_json<'a>(diagnostic: &'a Diagnostic, (file, text): (String, &str)) -> JsonDiagnostic<'a> {
    let span = diagnostic.span.as_ref();
    let [start, end] = [span.map(|s| s.start), span.map(|s| s.end)];
    let [start, end] = [start, end].map(|offset| offset.map(|o| position(text, o)));
    JsonDiagnostic {
        severity: diagnostic.severity.as_str(),
        code: diagnostic.code.as_str(),
        message: &diagnostic.message,
        file,
        line: start.map(|p| p.line),
        column: start.map(|p| p.column),
        end_line: end.map(|p| p.line),
        end_column: end.map(|p| p.column),
        label: diagnostic.label.as_deref(),
        hint: diagnostic.hint.as_deref(),
    }
}
