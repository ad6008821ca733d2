//! `egress-policy audit LOGS... [--json] [--html FILE] [--top N]`

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::audit::{Auditor, html, text};
use crate::logs;

/// Summarise decision logs for auditors: per customer, action, rule and policy revision.
///
/// LOGS are decision-log files (JSON lines, Workers Logs / Logpush `workers_trace_events`
/// exports, Tail Worker events), plain or gzip; `-` reads standard input. Malformed lines are
/// counted and reported, never fatal. Exit 1 when an input could not be read to its end.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Log files (`-` for standard input).
    #[arg(required = true, value_name = "LOGS")]
    pub logs: Vec<String>,
    /// Print the summary as one JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Also write a self-contained HTML report to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// How many entries the top lists show.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top: usize,
}

/// Runs the subcommand.
pub fn run(args: &Args) -> ExitCode {
    let mut auditor = Auditor::new(args.top);
    let report = logs::read_all(&args.logs, &mut |_, log| auditor.observe(&log));
    let input_errors: Vec<String> = report
        .inputs
        .iter()
        .filter_map(|i| i.error.as_ref().map(|e| format!("{}: {e}", i.file)))
        .collect();
    let summary = auditor.finish(report);

    let body = if args.json {
        match serde_json::to_string_pretty(&summary) {
            Ok(json) => json + "\n",
            Err(e) => {
                eprintln!("error: cannot serialise the summary: {e}");
                return ExitCode::from(1);
            }
        }
    } else {
        text::render(&summary)
    };
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(body.as_bytes())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::from(1);
    }
    if let Some(path) = &args.html
        && let Err(e) = std::fs::write(path, html::render(&summary))
    {
        eprintln!("error: cannot write `{}`: {e}", path.display());
        return ExitCode::from(1);
    }
    for e in &input_errors {
        eprintln!("error: {e}");
    }
    if input_errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
