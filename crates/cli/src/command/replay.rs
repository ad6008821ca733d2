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
        if let Some(m) = replay.check(location, &log) {
            print_mismatch(&mut out, args.json, &m);
        }
    });
    let summary = summary(args, &policy, &replay, &report);
    if args.json {
        if serde_json::to_writer(&mut out, &summary).is_ok() {
            let _ = writeln!(out);
        }
    } else {
        print_summary(&mut out, &summary);
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

/// One mismatch, as a JSON line or a line of text.
fn print_mismatch(out: &mut impl Write, json: bool, m: &Mismatch) {
    if json {
        let line = MismatchLine {
            kind: "mismatch",
            mismatch: m,
        };
        if serde_json::to_writer(&mut *out, &line).is_ok() {
            let _ = writeln!(out);
        }
        return;
    }
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

/// The totals, as the `--json` summary line writes them and the text summary shows them.
fn summary<'a>(
    args: &Args,
    policy: &'a CompiledPolicy,
    replay: &'a Replay<'_>,
    report: &'a ReadReport,
) -> SummaryLine<'a> {
    SummaryLine {
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
    }
}

/// The text summary after the mismatch lines.
fn print_summary(out: &mut impl Write, s: &SummaryLine<'_>) {
    let _ = writeln!(
        out,
        "replayed against `{}` ({}, sha256 {})",
        s.policy.path,
        s.policy.name.unwrap_or("unnamed"),
        s.policy.sha256
    );
    let _ = writeln!(
        out,
        "  {} decision lines read; {} compared, {} agree, {} differ",
        s.decisions, s.compared, s.agree, s.mismatched
    );
    if !s.not_redecidable.is_empty() {
        let parts: Vec<String> = s
            .not_redecidable
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let parts = parts.join(", ");
        let _ = writeln!(out, "  not re-decidable (URL not fully logged): {parts}");
    }
    if s.path_redacted > 0 {
        let _ = writeln!(
            out,
            "  not re-decided: path redacted (path_in_logs): {} lines",
            s.path_redacted
        );
    }
    for archived in &s.from_archive {
        let (sha, lines) = (short_sha(archived.sha256), archived.lines);
        let _ = writeln!(
            out,
            "  re-decided with archived revision {sha}: {lines} lines"
        );
    }
    for (sha, why) in s.archive_unloadable.into_iter().flatten() {
        let (sha, why) = (terminal_safe(short_sha(sha)), terminal_safe(why));
        let _ = writeln!(out, "  archived revision {sha} not used: {why}");
    }
    for skipped in &s.skipped {
        let _ = writeln!(
            out,
            "  skipped, other revision {} ({}): {} lines",
            terminal_safe(short_sha(skipped.sha256)),
            terminal_safe(skipped.name.unwrap_or("unnamed")),
            skipped.lines
        );
    }
    if let Some(lines) = s.skipped_further_revisions {
        let _ = writeln!(out, "  skipped, further revisions: {lines} lines");
    }
    print_malformed(out, s.malformed);
    if !s.verified {
        let _ = writeln!(
            out,
            "  warning: no line was decided by this policy revision; nothing was verified"
        );
    }
}

/// The malformed lines, by kind, and the first few.
fn print_malformed(out: &mut impl Write, problems: &ProblemTally) {
    if problems.total == 0 {
        return;
    }
    let parts: Vec<String> = problems
        .by_kind
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let _ = writeln!(
        out,
        "  malformed lines: {} ({})",
        problems.total,
        parts.join(", ")
    );
    for e in &problems.examples {
        let _ = writeln!(
            out,
            "    {}: {}: {}",
            terminal_safe(&e.location.to_string()),
            e.kind,
            terminal_safe(&e.detail)
        );
    }
}
