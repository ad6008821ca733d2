//! `egress-policy audit LOGS... [--json] [--html FILE] [--top N]`

use std::io::Write as _;
use std::path::PathBuf;

use crate::audit::{Auditor, html, report, text};
use crate::error::write;
use crate::logs::verify::VerifyArgs;
use crate::{CliError, Outcome};

/// Verify decision logs, then summarise them for auditors: per customer, action, rule and
/// policy revision.
///
/// LOGS are decision-log files (JSON lines, Workers Logs / Logpush `workers_trace_events`
/// exports, Tail Worker events), plain or gzip; `-` reads standard input. Each isolate's
/// chain is verified first (gaps, redeliveries, conflicts, chain values): exit 4 when lines
/// are missing or altered, 1 when an input could not be read to its end, 5 when not every
/// line was verified. Malformed lines are counted and reported.
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
    #[command(flatten)]
    pub verify: VerifyArgs,
}

/// Runs the subcommand.
pub fn run(args: &Args) -> Result<Outcome, CliError> {
    let mut auditor = Auditor::default();
    let read = args
        .verify
        .read(&args.logs, &mut |_, log| auditor.observe(&log))?;
    let summary = auditor.finish(&read, args.top);
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&summary)?)?;
    } else {
        write!(out, "{}", text::render(&report::of(&summary)))?;
    }
    out.flush()?;
    if let Some(path) = &args.html {
        write(path, html::render(&report::of(&summary)))?;
    }
    Ok(args.verify.outcome(&read, false, Outcome::Failed, false))
}
