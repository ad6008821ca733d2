//! `egress-policy replay [--policy POLICY] LOGS...`

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::PathBuf;

use egress_policy_engine::CompiledPolicy;
use serde::Serialize;

use crate::audit::replay::{Archive, Mismatch, Replay};
use crate::audit::report::short_sha;
use crate::audit::text::terminal_safe;
use crate::logs::{self, InputSummary, ProblemTally, ReadReport};
use crate::policy_source::{self, DEFAULT_POLICY};
use crate::{CliError, Outcome};

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
pub fn run(args: &Args) -> Result<Outcome, CliError> {
    let policy = policy_source::load(&args.policy)
        .map_err(|e| CliError::Unverified(Box::new(e)))?
        .compiled
        .policy;
    let mut replay = Replay::new(&policy);
    replay.archive = args.archive.clone().map(Archive::new);
    let mut out = std::io::stdout().lock();
    // A write that fails (a closed pipe: `| head`) stops the output; reading goes on to the
    // end (the visitor cannot stop it) and the error is returned then.
    let mut written = Ok(());
    let report = logs::read_all(&args.logs, &mut |location, log| {
        if let Some(m) = replay.check(location, &log)
            && written.is_ok()
        {
            written = write_mismatch(&mut out, args.json, &m);
        }
    });
    written?;
    let summary = summary_line(args, &policy, &replay, &report);
    if args.json {
        serde_json::to_writer(&mut out, &summary)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", text_summary(&summary))?;
    }
    let input_error = logs::report_input_errors(&report.inputs);
    Ok(if replay.mismatched > 0 {
        Outcome::Failed
    } else if input_error {
        Outcome::Unreadable
    } else {
        Outcome::Ok
    })
}

fn write_mismatch(out: &mut impl Write, json: bool, m: &Mismatch) -> io::Result<()> {
    if json {
        let line = MismatchLine {
            kind: "mismatch",
            mismatch: m,
        };
        serde_json::to_writer(&mut *out, &line)?;
        return writeln!(out);
    }
    writeln!(
        out,
        "{}: mismatch in decision {} ({} {}): logged {}; policy decides {} [differs: {}]",
        terminal_safe(&m.location.to_string()),
        terminal_safe(&m.decision_id),
        terminal_safe(&m.method),
        terminal_safe(&m.url),
        terminal_safe(&m.logged),
        terminal_safe(&m.decided),
        m.fields.join(", ")
    )
}

fn summary_line<'a>(
    args: &Args,
    policy: &'a CompiledPolicy,
    replay: &'a Replay<'_>,
    report: &'a ReadReport,
) -> SummaryLine<'a> {
    let revision = |(sha256, lines): (&'a String, u64), name: Option<&'a str>| SkippedLine {
        sha256,
        name,
        lines,
    };
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
            .map(|(sha256, lines)| revision((sha256, *lines), None))
            .collect(),
        archive_unloadable: replay.archive.as_ref().map(|a| &a.unloadable),
        skipped: replay
            .skipped
            .iter()
            .map(|(sha256, s)| revision((sha256, s.lines), s.name.as_deref()))
            .collect(),
        skipped_further_revisions: replay.skipped.other().map(|other| other.lines),
        verified: replay.compared > 0,
        malformed: &report.problems,
        inputs: &report.inputs,
    }
}

/// The text summary after the mismatch lines: the `--json` summary's figures, in words.
fn text_summary(s: &SummaryLine<'_>) -> String {
    let p = &s.policy;
    let mut lines = vec![
        format!(
            "replayed against `{}` ({}, sha256 {})",
            p.path,
            p.name.unwrap_or("unnamed"),
            p.sha256
        ),
        format!(
            "  {} decision lines read; {} compared, {} agree, {} differ",
            s.decisions, s.compared, s.agree, s.mismatched
        ),
    ];
    if !s.not_redecidable.is_empty() {
        let why = counts(s.not_redecidable);
        lines.push(format!("  not re-decidable (URL not fully logged): {why}"));
    }
    if s.path_redacted > 0 {
        let n = s.path_redacted;
        lines.push(format!(
            "  not re-decided: path redacted (path_in_logs): {n} lines"
        ));
    }
    for r in &s.from_archive {
        let (sha, n) = (short_sha(r.sha256), r.lines);
        lines.push(format!(
            "  re-decided with archived revision {sha}: {n} lines"
        ));
    }
    for (sha, why) in s.archive_unloadable.into_iter().flatten() {
        let (sha, why) = (terminal_safe(short_sha(sha)), terminal_safe(why));
        lines.push(format!("  archived revision {sha} not used: {why}"));
    }
    for r in &s.skipped {
        let (sha, name) = (short_sha(r.sha256), r.name.unwrap_or("unnamed"));
        let (sha, name, n) = (terminal_safe(sha), terminal_safe(name), r.lines);
        lines.push(format!(
            "  skipped, other revision {sha} ({name}): {n} lines"
        ));
    }
    if let Some(n) = s.skipped_further_revisions {
        lines.push(format!("  skipped, further revisions: {n} lines"));
    }
    let problems = s.malformed;
    if problems.total > 0 {
        let (total, kinds) = (problems.total, counts(&problems.by_kind));
        lines.push(format!("  malformed lines: {total} ({kinds})"));
        let examples = problems.examples.iter();
        lines.extend(examples.map(|e| format!("    {}", terminal_safe(&e.text()))));
    }
    if !s.verified {
        let warning = "warning: no line was decided by this policy revision; nothing was verified";
        lines.push(format!("  {warning}"));
    }
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// `a 1, b 2`
fn counts<K: std::fmt::Display>(map: &BTreeMap<K, u64>) -> String {
    let parts: Vec<String> = map.iter().map(|(k, v)| format!("{k} {v}")).collect();
    parts.join(", ")
}
