//! `egress-policy replay [--policy POLICY] LOGS...`

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::audit::replay::Replay;
use crate::audit::table::terminal_safe;
use crate::audit::text::short_sha;
use crate::logs;
use crate::policy_source::{self, DEFAULT_POLICY};

/// Re-decide every logged request with POLICY and report each line whose logged decision
/// differs: the auditor's proof that the logs and the policy agree.
///
/// Only lines whose `policy.sha256` is POLICY's SHA-256 are compared; lines of other revisions
/// are reported as skipped. `invalid_url` and `userinfo_in_url` refusals cannot be re-decided
/// (the log does not keep the URL part that caused them) and are counted apart.
/// Exit 0 when every compared line agrees, 1 on any mismatch, 2 when the policy or an input
/// could not be read.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The policy file.
    #[arg(long, value_name = "POLICY", default_value = DEFAULT_POLICY)]
    pub policy: PathBuf,
    /// Log files (`-` for standard input), plain or gzip.
    #[arg(required = true, value_name = "LOGS")]
    pub logs: Vec<String>,
}

/// Runs the subcommand.
pub fn run(args: &Args) -> ExitCode {
    let policy = match policy_source::load(&args.policy) {
        Ok(loaded) => loaded.compiled.policy,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut replay = Replay::new(&policy);
    // Write errors (a closed pipe: `| head`) are ignored; the exit code still tells.
    let mut out = std::io::stdout().lock();
    let report = logs::read_all(&args.logs, &mut |location, log| {
        if let Some(m) = replay.check(location, &log) {
            let _ = writeln!(
                out,
                "{}: mismatch in decision {} ({} {}): logged {}; policy decides {} [differs: {}]",
                terminal_safe(&m.location.to_string()),
                terminal_safe(&m.decision_id),
                terminal_safe(&log.method),
                terminal_safe(&m.url),
                terminal_safe(&m.logged),
                terminal_safe(&m.decided),
                m.fields.join(", ")
            );
        }
    });

    let _ = writeln!(
        out,
        "replayed against `{}` ({}, sha256 {})",
        args.policy.display(),
        policy.name().unwrap_or("unnamed"),
        policy.sha256()
    );
    let _ = writeln!(
        out,
        "  {} decision lines read; {} compared, {} agree, {} differ",
        report.decisions,
        replay.compared,
        replay.compared - replay.mismatched,
        replay.mismatched
    );
    if !replay.not_redecidable.is_empty() {
        let parts: Vec<String> = replay
            .not_redecidable
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let _ = writeln!(
            out,
            "  not re-decidable (URL not fully logged): {}",
            parts.join(", ")
        );
    }
    for (sha, skipped) in replay.skipped.iter() {
        let _ = writeln!(
            out,
            "  skipped, other revision {} ({}): {} lines",
            terminal_safe(short_sha(sha)),
            terminal_safe(skipped.name.as_deref().unwrap_or("unnamed")),
            skipped.lines
        );
    }
    if let Some(other) = replay.skipped.other() {
        let _ = writeln!(out, "  skipped, further revisions: {} lines", other.lines);
    }
    if report.problems.total > 0 {
        let parts: Vec<String> = report
            .problems
            .by_kind
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let _ = writeln!(
            out,
            "  malformed lines: {} ({})",
            report.problems.total,
            parts.join(", ")
        );
        for e in &report.problems.examples {
            let _ = writeln!(
                out,
                "    {}: {}: {}",
                terminal_safe(&e.location.to_string()),
                e.kind,
                terminal_safe(&e.detail)
            );
        }
    }
    if replay.compared == 0 {
        let _ = writeln!(
            out,
            "  warning: no line was decided by this policy revision; nothing was verified"
        );
    }
    let mut input_error = false;
    for input in &report.inputs {
        if let Some(e) = &input.error {
            eprintln!("error: {}: {e}", input.file);
            input_error = true;
        }
    }
    if replay.mismatched > 0 {
        ExitCode::from(1)
    } else if input_error {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}
