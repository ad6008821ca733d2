//! `egress-policy replay [--policy POLICY] LOGS...`

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::audit::replay::{Archive, Mismatch, Replay};
use crate::audit::table::terminal_safe;
use crate::audit::text::short_sha;
use egress_policy_engine::CompiledPolicy;

use crate::logs::{self, InputSummary, ProblemTally, ReadReport};
use crate::policy_source::{self, DEFAULT_POLICY};

/// Re-decide every logged request with POLICY and report each line whose logged decision
/// differs: the auditor's proof that the logs and the policy agree.
///
/// Only lines whose `policy.sha256` is POLICY's SHA-256 are compared; lines of other revisions
/// are reported as skipped, unless `--archive DIR` holds that revision (`egress-policy bundle
/// --archive DIR` writes `DIR/<sha256>.artifact`): then they are re-decided with it. `invalid_url` and `userinfo_in_url` refusals cannot be re-decided
/// (the log does not keep the URL part that caused them) and are counted apart, as are lines
/// whose path was cut by `defaults.path_in_logs` (`path_redacted`): never reported as
/// mismatches, since the logged path is not the request's.
/// Exit 0 when every compared line agrees, 1 on any mismatch, 2 when the policy or an input
/// could not be read.
///
/// `--json` prints JSON Lines instead: one `{"kind":"mismatch",...}` object per mismatch as it
/// is found (streamed, so memory does not grow with the logs), then one
/// `{"kind":"summary",...}` object.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The policy file.
    #[arg(long, value_name = "POLICY", default_value = DEFAULT_POLICY)]
    pub policy: PathBuf,
    /// Log files (`-` for standard input), plain or gzip.
    #[arg(required = true, value_name = "LOGS")]
    pub logs: Vec<String>,
    /// JSON Lines: each mismatch, then a summary (see above).
    #[arg(long)]
    pub json: bool,
    /// A directory of archived revisions (`bundle --archive`): lines of another revision
    /// found there are re-decided with it instead of skipped.
    #[arg(long, value_name = "DIR")]
    pub archive: Option<PathBuf>,
}

/// A mismatch as a `--json` line.
#[derive(Serialize)]
struct MismatchLine<'a> {
    kind: &'static str,
    #[serde(flatten)]
    mismatch: &'a Mismatch,
}

/// The `--json` summary line.
#[derive(Serialize)]
struct SummaryLine<'a> {
    kind: &'static str,
    policy: PolicyLine<'a>,
    decisions: u64,
    compared: u64,
    agree: u64,
    mismatched: u64,
    /// Lines of this revision that cannot be re-decided, by why.
    not_redecidable: &'a BTreeMap<&'static str, u64>,
    /// Lines of this revision not re-decided because their path was redacted.
    path_redacted: u64,
    /// Lines re-decided with an archived revision, per revision.
    from_archive: Vec<SkippedLine<'a>>,
    /// Archived revisions that could not be used, and why.
    archive_unloadable: Option<&'a BTreeMap<String, String>>,
    /// Lines of other policy revisions, per revision.
    skipped: Vec<SkippedLine<'a>>,
    /// Lines of further revisions past the per-revision cap, pooled.
    skipped_further_revisions: Option<u64>,
    /// `false` when no line was decided by this revision (nothing was verified).
    verified: bool,
    malformed: &'a ProblemTally,
    inputs: &'a [InputSummary],
}

#[derive(Serialize)]
struct PolicyLine<'a> {
    path: String,
    name: Option<&'a str>,
    sha256: &'a str,
}

#[derive(Serialize)]
struct SkippedLine<'a> {
    sha256: &'a str,
    name: Option<&'a str>,
    lines: u64,
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
    replay.archive = args.archive.clone().map(Archive::new);
    // Write errors (a closed pipe: `| head`) are ignored; the exit code still tells.
    let mut out = std::io::stdout().lock();
    let report = logs::read_all(&args.logs, &mut |location, log| {
        let Some(m) = replay.check(location, &log) else {
            return;
        };
        if args.json {
            let line = MismatchLine {
                kind: "mismatch",
                mismatch: &m,
            };
            if serde_json::to_writer(&mut out, &line).is_ok() {
                let _ = writeln!(out);
            }
        } else {
            let _ = writeln!(
                out,
                "{}: mismatch in decision {} ({} {}): logged {}; policy decides {} [differs: {}]",
                terminal_safe(&m.location.to_string()),
                terminal_safe(&m.decision_id),
                terminal_safe(&m.method),
                terminal_safe(&m.url),
                terminal_safe(&m.logged),
                terminal_safe(&m.decided),
                m.fields.join(", ")
            );
        }
    });

    if args.json {
        let summary = SummaryLine {
            kind: "summary",
            policy: PolicyLine {
                path: args.policy.display().to_string(),
                name: policy.name(),
                sha256: policy.sha256(),
            },
            decisions: report.decisions,
            compared: replay.compared,
            agree: replay.compared - replay.mismatched,
            mismatched: replay.mismatched,
            not_redecidable: &replay.not_redecidable,
            path_redacted: replay.path_redacted,
            from_archive: replay
                .from_archive
                .iter()
                .map(|(sha256, lines)| SkippedLine {
                    sha256,
                    name: None,
                    lines: *lines,
                })
                .collect(),
            archive_unloadable: replay.archive.as_ref().map(|a| &a.unloadable),
            skipped: replay
                .skipped
                .iter()
                .map(|(sha256, skipped)| SkippedLine {
                    sha256,
                    name: skipped.name.as_deref(),
                    lines: skipped.lines,
                })
                .collect(),
            skipped_further_revisions: replay.skipped.other().map(|other| other.lines),
            verified: replay.compared > 0,
            malformed: &report.problems,
            inputs: &report.inputs,
        };
        if serde_json::to_writer(&mut out, &summary).is_ok() {
            let _ = writeln!(out);
        }
    } else {
        print_summary(&mut out, args, &policy, &replay, &report);
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

/// The text summary after the mismatch lines.
fn print_summary(
    out: &mut impl Write,
    args: &Args,
    policy: &CompiledPolicy,
    replay: &Replay<'_>,
    report: &ReadReport,
) {
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
    if replay.path_redacted > 0 {
        let _ = writeln!(
            out,
            "  not re-decided: path redacted (path_in_logs): {} lines",
            replay.path_redacted
        );
    }
    for (sha, lines) in &replay.from_archive {
        let _ = writeln!(
            out,
            "  re-decided with archived revision {}: {lines} lines",
            short_sha(sha)
        );
    }
    if let Some(archive) = &replay.archive {
        for (sha, why) in &archive.unloadable {
            let _ = writeln!(
                out,
                "  archived revision {} not used: {}",
                terminal_safe(short_sha(sha)),
                terminal_safe(why)
            );
        }
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
}
