//! `egress-policy replay [--policy POLICY] LOGS...`

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::PathBuf;

use egress_policy_engine::PolicyRef;
use serde::Serialize;

use crate::audit::replay::{Mismatch, Replay, Skipped};
use crate::audit::report::{counts, short_sha};
use crate::audit::text::terminal_safe;
use crate::logs::verify::{Integrity, VerifyArgs};
use crate::logs::{InputSummary, ProblemTally};
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
/// The log's chains are verified first (see `audit`). Exit 0 when every line verifies and
/// every compared line agrees; 4 when lines are missing or altered, 1 on any mismatch, 2 when
/// the policy or an input could not be read, 5 when not every line was verified or none was
/// of this revision (the first of these that applies).
///
/// `--json` prints JSON Lines instead: one `{"kind":"mismatch",...}` object per mismatch as it
/// is found (streamed, never held in memory), then one
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
    #[command(flatten)]
    pub verify: VerifyArgs,
}

/// The `--json` summary line, `"kind": "summary"` first.
#[derive(Serialize)]
#[serde(tag = "kind", rename = "summary")]
struct SummaryLine<'a> {
    policy: PolicyLine,
    decisions: u64,
    compared: u64,
    agree: u64,
    mismatched: u64,
    /// Lines of this revision that cannot be re-decided, by why.
    not_redecidable: &'a BTreeMap<&'static str, u64>,
    /// Lines of this revision not re-decided because their path was redacted.
    path_redacted: u64,
    /// Lines re-decided with an archived revision, per revision.
    from_archive: Vec<&'a Skipped>,
    /// Archived revisions that could not be used, and why.
    archive_unloadable: Option<&'a BTreeMap<String, String>>,
    /// Lines of other policy revisions, per revision.
    skipped: Vec<&'a Skipped>,
    /// Lines of further revisions past the per-revision cap, pooled.
    skipped_further_revisions: Option<u64>,
    /// `false` when no line was decided by this revision (nothing was verified).
    verified: bool,
    integrity: &'a Integrity,
    malformed: &'a ProblemTally,
    inputs: &'a [InputSummary],
}

#[derive(Serialize)]
struct PolicyLine {
    path: String,
    /// The policy's `name` and SHA-256, as a decision line names them.
    #[serde(flatten)]
    revision: PolicyRef,
}

/// Runs the subcommand.
pub fn run(args: &Args) -> Result<Outcome, CliError> {
    let policy = policy_source::load(&args.policy)
        .map_err(|e| CliError::Unverified(Box::new(e)))?
        .compiled
        .policy;
    let mut replay = Replay::new(&policy, args.archive.clone());
    let mut out = std::io::stdout().lock();
    // A write that fails (a closed pipe: `| head`) stops the output; reading goes on to the
    // end (the visitor cannot stop it) and the error is returned then.
    let mut written = Ok(());
    let report = args.verify.read(&args.logs, &mut |location, log| {
        if let Some(m) = replay.check(location, &log)
            && written.is_ok()
        {
            written = write_mismatch(&mut out, args.json, &m);
        }
    })?;
    written?;
    let (path, revision) = (args.policy.display().to_string(), policy.policy_ref());
    let summary = SummaryLine {
        policy: PolicyLine { path, revision },
        decisions: report.decisions,
        compared: replay.compared,
        agree: replay.compared - replay.mismatched,
        mismatched: replay.mismatched,
        not_redecidable: &replay.not_redecidable,
        path_redacted: replay.path_redacted,
        from_archive: replay.from_archive.values().collect(),
        archive_unloadable: replay.archive.as_ref().map(|a| &a.unloadable),
        skipped: replay.skipped.iter().map(|(_, s)| s).collect(),
        skipped_further_revisions: replay.skipped.other().map(|other| other.lines),
        verified: replay.compared > 0,
        integrity: &report.integrity,
        malformed: &report.problems,
        inputs: &report.inputs,
    };
    if args.json {
        serde_json::to_writer(&mut out, &summary)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", text_summary(&summary))?;
    }
    let (failed, unchecked) = (replay.mismatched > 0, replay.compared == 0);
    Ok(args
        .verify
        .outcome(&report, failed, Outcome::Unreadable, unchecked))
}

fn write_mismatch(out: &mut impl Write, json: bool, m: &Mismatch) -> io::Result<()> {
    if json {
        serde_json::to_writer(&mut *out, m)?;
        return writeln!(out);
    }
    let (at, id, fields) = (&m.location, &m.decision_id, m.fields.join(", "));
    let (logged, decided, method, url) = (&m.logged, &m.decided, &m.method, &m.url);
    let line = format!(
        "{at}: mismatch in decision {id} ({method} {url}): logged {logged}; policy decides {decided} [differs: {fields}]"
    );
    writeln!(out, "{}", terminal_safe(&line))
}

/// The text summary after the mismatch lines: the `--json` summary's figures, in words.
fn text_summary(s: &SummaryLine<'_>) -> String {
    let (p, problems) = (&s.policy, s.malformed);
    let (title, integrity) = s.integrity.text();
    let (name, sha) = (p.revision.name.as_deref(), &p.revision.sha256);
    let name = name.unwrap_or("unnamed");
    let (read, agree) = ((s.decisions, s.compared), (s.agree, s.mismatched));
    let compared = format!("{} decision lines read; {} compared", read.0, read.1);
    let mut lines = vec![
        format!("replayed against `{}` ({name}, sha256 {sha})", p.path),
        format!("{compared}, {} agree, {} differ", agree.0, agree.1),
        title,
    ];
    lines.extend(integrity.iter().map(|l| format!("  {l}")));
    let (why, n) = (counts(s.not_redecidable, false), s.path_redacted);
    let why = (!why.is_empty()).then(|| format!("not re-decidable (URL not fully logged): {why}"));
    let redacted = format!("not re-decided: path redacted (path_in_logs): {n} lines");
    lines.extend(why.into_iter().chain((n > 0).then_some(redacted)));
    for r in &s.from_archive {
        let (sha, n) = (short_sha(&r.sha256), r.lines);
        lines.push(format!(
            "re-decided with archived revision {sha}: {n} lines"
        ));
    }
    for (sha, why) in s.archive_unloadable.into_iter().flatten() {
        let sha = short_sha(sha);
        lines.push(format!("archived revision {sha} not used: {why}"));
    }
    for r in &s.skipped {
        let (sha, name) = (short_sha(&r.sha256), r.name.as_deref().unwrap_or("unnamed"));
        let n = r.lines;
        lines.push(format!("skipped, other revision {sha} ({name}): {n} lines"));
    }
    let further = s.skipped_further_revisions;
    lines.extend(further.map(|n| format!("skipped, further revisions: {n} lines")));
    if problems.total > 0 {
        let (total, kinds) = (problems.total, counts(&problems.by_kind, false));
        lines.push(format!("malformed lines: {total} ({kinds})"));
        lines.extend(problems.examples.iter().map(|e| format!("  {}", e.text())));
    }
    let warning = "warning: no line was decided by this policy revision; nothing was verified";
    lines.extend((!s.verified).then_some(warning.to_owned()));
    let indent = |(i, l): (usize, &String)| if i == 0 { l.clone() } else { format!("  {l}") };
    let lines = lines.iter().enumerate().map(indent);
    lines.map(|l| format!("{}\n", terminal_safe(&l))).collect()
}
