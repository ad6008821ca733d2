//! Whether the log read is the log the Worker wrote (docs/decision-log.md, "Verifying the
//! log"): each isolate's lines are taken in `seq` order whatever order the sink delivered
//! them in, each line's `chain` is recomputed from its predecessor's with the engine's own
//! [`chain_value`], and what is missing, delivered twice or contradicts another line is
//! found. Memory grows with the lines read (a few dozen bytes each, and the lines that came
//! before their predecessor): a gap can be anywhere in the log.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use egress_policy_engine::log_chain::{ChainAlg, Trail, chain_value, hex};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Location, ProblemTally, ReadReport, Visit, input, read_all, report_input_errors};
use crate::audit::bounded::bounded_key;
use crate::audit::report::counts;
use crate::{CliError, Outcome};

/// How `audit` and `replay` verify the log.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The Worker's `EGRESS_LOG_KEY` as set (trailing white space ignored): verifies
    /// `hmac-sha256` chains, which cannot be verified without it.
    #[arg(long, value_name = "FILE")]
    pub log_key_file: Option<PathBuf>,
    /// Exit 0 instead of 5 when lines could not be verified (schema 1 archives, no key, no
    /// line of the policy's revision); missing or altered lines still exit 4.
    #[arg(long)]
    pub allow_unverified: bool,
}

impl VerifyArgs {
    /// The chain key, when a key file was given.
    pub fn key(&self) -> Result<Option<Vec<u8>>, CliError> {
        let key = |path: &PathBuf| {
            let key = crate::error::read(path)?;
            let (file, n) = (path.display(), key.trim_ascii_end().len());
            let short = format!(
                "`{file}` holds {n} bytes: the Worker uses no `EGRESS_LOG_KEY` shorter than 32 bytes; give the file holding the key as set"
            );
            let key = key.get(..n).filter(|_| n >= 32).map(<[u8]>::to_vec);
            key.ok_or(CliError::Usage(short))
        };
        self.log_key_file.as_ref().map(key).transpose()
    }

    /// Reads `logs` ([`read_all`]), verifying their chains with the key file's key.
    pub fn read(&self, logs: &[String], visit: Visit<'_>) -> Result<ReadReport, CliError> {
        let opened = logs.iter().map(|name| (name.clone(), input::open(name)));
        Ok(read_all(opened, self.key()?, visit))
    }

    /// The command's outcome: missing or altered lines (4) first, then `failed` (1), then an
    /// input not read to its end (`unread`; each printed on stderr), then nothing (or not
    /// everything, or `none` of the policy's revision) verified (5) unless allowed.
    pub fn outcome(&self, r: &ReadReport, failed: bool, unread: Outcome, none: bool) -> Outcome {
        let unverified = r.integrity.status != VERIFIED || none;
        let input_error = report_input_errors(&r.inputs);
        match r.integrity.status {
            TAMPERED => Outcome::Tampered,
            _ if failed => Outcome::Failed,
            _ if input_error => unread,
            _ if unverified && !self.allow_unverified => Outcome::Unverified,
            _ => Outcome::Ok,
        }
    }
}

/// [`Integrity::status`] values.
const VERIFIED: &str = "verified";
const TAMPERED: &str = "tampered";

/// One isolate's chain as read.
#[derive(Clone, Debug, Default, Serialize)]
pub struct IsolateRow {
    /// The isolate's id.
    pub isolate: String,
    /// How its chain is computed (`chain_alg` of its first line read).
    pub chain_alg: String,
    /// Distinct lines read.
    pub lines: u64,
    /// Lowest and highest `seq` read.
    pub seqs: (u64, u64),
    /// `seq`s below the highest that no line has.
    pub missing: u64,
    /// Checkpoint lines.
    pub checkpoints: u64,
    /// Exact copies of lines already read, counted once.
    pub redeliveries: u64,
    /// Second, different lines at a `seq` already read.
    pub conflicts: u64,
    /// Lines whose `chain` does not verify.
    pub breaks: u64,
    /// Lines whose `chain` verifies.
    pub verified: u64,
}

/// The integrity of everything read: `audit`'s first section, in `replay`'s summary.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Integrity {
    /// The verdict: `verified` (every line read verifies, no gaps), `tampered` (lines
    /// missing, altered or contradicting, or an invocation without its line), `unverified`
    /// (nothing wrong found, but not every line could be verified).
    pub status: &'static str,
    /// Distinct lines read (decisions and chained events; a redelivery counts once).
    pub lines: u64,
    /// Of those, lines whose chain verifies.
    pub verified: u64,
    /// Lines that could not be verified, by why: `no_chain` (schema 1), `no_key` (a keyed
    /// chain without a key), `unkeyed` (a plain chain although a key was given), `after_gap`
    /// (the line before it is missing).
    pub unverifiable: BTreeMap<&'static str, u64>,
    /// Exact copies of lines already read (a sink's retries): counted once everywhere.
    pub redeliveries: u64,
    /// Missing, altered or contradicting lines, and invocations without a line, by kind:
    /// `gap`, `conflict`, `chain_break`, `dead_invocation`.
    pub findings: ProblemTally,
    /// Per isolate.
    pub isolates: Vec<IsolateRow>,
}

impl Integrity {
    /// The section's title and lines, as the text and HTML outputs show them.
    pub fn text(&self) -> (String, Vec<String>) {
        let title = match self.status {
            VERIFIED => "verified (every line's chain verifies, no gaps)",
            TAMPERED => "LINES MISSING OR ALTERED",
            _ => "NOT VERIFIED (nothing wrong found, not every line verifiable)",
        };
        let (n, verified, again) = (self.lines, self.verified, self.redeliveries);
        let isolates = self.isolates.len();
        let mut lines = vec![format!(
            "{n} lines in {isolates} isolates, {verified} verified; {again} redeliveries counted once"
        )];
        let why = counts(&self.unverifiable, false);
        lines.extend((!why.is_empty()).then(|| format!("not verifiable: {why}")));
        lines.extend(self.findings.examples.iter().map(|e| e.text()));
        (format!("integrity: {title}"), lines)
    }
}

/// A line's place in its isolate's chain.
#[derive(Debug)]
struct Slot {
    content: [u8; 32],
    chain: String,
    /// The line, kept until the line before it is read.
    pending: Option<(Value, Location)>,
}

#[derive(Debug, Default)]
struct Isolate {
    row: IsolateRow,
    slots: BTreeMap<u64, Slot>,
}

/// Verifies lines as they are read.
#[derive(Debug, Default)]
pub struct Verifier {
    key: Option<Vec<u8>>,
    isolates: BTreeMap<String, Isolate>,
    ids: HashMap<String, [u8; 32]>,
    report: Integrity,
}

impl Verifier {
    /// Verifies with `key` (hmac-sha256 chains), or without one.
    pub fn new(key: Option<Vec<u8>>) -> Verifier {
        Verifier {
            key,
            ..Verifier::default()
        }
    }

    /// Takes one line (a decision or an event); whether it counts: not a redelivery nor a
    /// second line at an isolate's `seq`.
    pub fn admit(&mut self, at: &Location, line: Value) -> bool {
        let trail = Trail::deserialize(&line).unwrap_or_default();
        let (Some(isolate), Some(seq), Some(_), Some(chain)) =
            (trail.isolate, trail.seq, trail.chain_alg, trail.chain)
        else {
            // Schema 1: read and counted, never verified (an event line then does not count).
            if line.get("decision_id").is_some() {
                self.report.lines += 1;
                *self.report.unverifiable.entry("no_chain").or_insert(0) += 1;
            }
            return true;
        };
        // The line's content without its chain value, for telling copies from conflicts.
        let content = chain_value(&[0; 32], &line, None);
        if let Some(id) = line.get("decision_id").and_then(Value::as_str) {
            let seen = self.ids.entry(id.to_owned()).or_insert(content);
            if *seen != content {
                let id = bounded_key(id);
                let what = format!("decision_id `{id}` again, with other content");
                self.report.findings.record(Some(at), "conflict", what);
            }
        }
        let key = bounded_key(&isolate).into_owned();
        let iso = self.isolates.entry(key.clone()).or_default();
        if let Some(slot) = iso.slots.get(&seq) {
            if slot.content == content && slot.chain == chain {
                iso.row.redeliveries += 1;
                self.report.redeliveries += 1;
            } else {
                iso.row.conflicts += 1;
                let what = format!("isolate {key} seq {seq}: a second, different line");
                self.report.findings.record(Some(at), "conflict", what);
            }
            return false;
        }
        self.report.lines += 1;
        iso.row.lines += 1;
        if iso.row.chain_alg.is_empty() {
            let alg = line.get("chain_alg").and_then(Value::as_str);
            iso.row.chain_alg = alg.unwrap_or_default().to_owned();
        }
        iso.row.checkpoints += u64::from(line.get("event") == Some(&"checkpoint".into()));
        let slot = Slot {
            content,
            chain,
            pending: Some((line, at.clone())),
        };
        iso.slots.insert(seq, slot);
        // This line is verified now if its predecessor was read; its successor if it waited.
        for seq in [seq, seq.saturating_add(1)] {
            check(iso, seq, self.key.as_deref(), &mut self.report);
        }
        true
    }

    /// An invocation that ended `outcome` (not `ok`) and wrote no decision line.
    pub fn dead(&mut self, at: &Location, outcome: &str) {
        let outcome = bounded_key(outcome);
        let what = format!("an invocation ended `{outcome}` without a decision line");
        let findings = &mut self.report.findings;
        findings.record(Some(at), "dead_invocation", what);
    }

    /// The verdict once every line was read: gaps found, lines left waiting counted.
    pub fn finish(mut self) -> Integrity {
        let report = &mut self.report;
        for (id, iso) in self.isolates {
            let mut row = iso.row;
            let mut next = 1;
            for (seq, slot) in &iso.slots {
                if *seq > next {
                    let (last, n) = (seq - 1, seq - next);
                    let what = format!("isolate {id}: seq {next}..={last} missing ({n} lines)");
                    report.findings.record(None, "gap", what);
                    row.missing += n;
                }
                next = seq.saturating_add(1);
                if slot.pending.is_some() {
                    *report.unverifiable.entry("after_gap").or_insert(0) += 1;
                }
            }
            let first = iso.slots.keys().next().copied().unwrap_or_default();
            row.seqs = (first, next.saturating_sub(1));
            row.isolate = id;
            report.isolates.push(row);
        }
        report.status = if report.findings.total > 0 {
            TAMPERED
        } else if report.lines > 0 && report.verified == report.lines {
            VERIFIED
        } else {
            "unverified"
        };
        self.report
    }
}

/// Verifies the line at `seq` if it waits and the line before it (or the chain's start) is
/// there; the line leaves the waiting state either way but when its predecessor is missing.
fn check(iso: &mut Isolate, seq: u64, key: Option<&[u8]>, report: &mut Integrity) {
    let previous = match seq.checked_sub(1) {
        Some(0) => Some([0; 32]),
        Some(before) => iso.slots.get(&before).map(|s| decode(&s.chain)),
        None => None,
    };
    let (Some(previous), Some(slot)) = (previous, iso.slots.get_mut(&seq)) else {
        return;
    };
    let Some((line, at)) = slot.pending.take() else {
        return;
    };
    let key = match line.get("chain_alg").map(ChainAlg::deserialize) {
        Some(Ok(ChainAlg::HmacSha256)) => key.map(Some).ok_or("no_key"),
        _ if key.is_some() => Err("unkeyed"),
        _ => Ok(None),
    };
    match key {
        Err(why) => *report.unverifiable.entry(why).or_insert(0) += 1,
        Ok(key) if hex(&chain_value(&previous, &line, key)) == slot.chain => {
            iso.row.verified += 1;
            report.verified += 1;
        }
        Ok(_) => {
            iso.row.breaks += 1;
            let what = format!("seq {seq}: its chain does not verify");
            report.findings.record(Some(&at), "chain_break", what);
        }
    }
}

/// A chain value's 32 bytes (zeros where it is not hex: its successor will not verify).
fn decode(text: &str) -> [u8; 32] {
    let mut bytes = [0; 32];
    for (i, byte) in bytes.iter_mut().enumerate() {
        let pair = text.get(2 * i..2 * i + 2).unwrap_or_default();
        *byte = u8::from_str_radix(pair, 16).unwrap_or_default();
    }
    bytes
}
