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

use super::{Location, MAX_EXAMPLES};
use crate::audit::bounded::bounded_key;
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
        let Some(path) = &self.log_key_file else {
            return Ok(None);
        };
        let mut key = crate::error::read(path)?;
        key.truncate(key.trim_ascii_end().len());
        if key.len() < 32 {
            return Err(CliError::Usage(format!(
                "`{}` holds {} bytes: the Worker uses no `EGRESS_LOG_KEY` shorter than 32 bytes; give the file holding the key as set",
                path.display(),
                key.len()
            )));
        }
        Ok(Some(key))
    }

    /// The command's outcome: missing or altered lines (4) first, then what the command
    /// itself `found`, then nothing (or not everything) verified (5) unless allowed.
    pub fn outcome(&self, integrity: &Integrity, found: Outcome, unchecked: bool) -> Outcome {
        match integrity.status {
            Status::Tampered => Outcome::Tampered,
            _ if found != Outcome::Ok => found,
            Status::Unverified if !self.allow_unverified => Outcome::Unverified,
            _ if unchecked && !self.allow_unverified => Outcome::Unverified,
            _ => Outcome::Ok,
        }
    }
}

/// The verdict on the log as a whole.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every line read verifies and no isolate's chain has a gap.
    Verified,
    /// Lines are missing, altered or contradict each other, or an invocation has no line.
    Tampered,
    /// Nothing wrong found, but not every line could be verified.
    #[default]
    Unverified,
}

/// What was found, counted by kind, with the first few examples.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Findings {
    /// Findings in all.
    pub total: u64,
    /// Per kind: `gap`, `conflict`, `chain_break`, `dead_invocation`.
    pub by_kind: BTreeMap<&'static str, u64>,
    /// `kind: where: what`, the first [`MAX_EXAMPLES`] of each kind.
    pub examples: Vec<String>,
}

impl Findings {
    fn add(&mut self, kind: &'static str, detail: String) {
        self.total += 1;
        let count = self.by_kind.entry(kind).or_insert(0);
        *count += 1;
        if *count <= MAX_EXAMPLES as u64 {
            self.examples.push(format!("{kind}: {detail}"));
        }
    }
}

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
    /// The verdict.
    pub status: Status,
    /// Whether a chain key was given.
    pub keyed: bool,
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
    /// Missing, altered or contradicting lines, and invocations without a line.
    pub findings: Findings,
    /// Per isolate.
    pub isolates: Vec<IsolateRow>,
}

impl Integrity {
    /// The section's title and lines, as the text and HTML outputs show them.
    pub fn text(&self) -> (String, Vec<String>) {
        let title = match self.status {
            Status::Verified => "integrity: verified (every line's chain verifies, no gaps)",
            Status::Tampered => "integrity: LINES MISSING OR ALTERED",
            Status::Unverified => {
                "integrity: NOT VERIFIED (nothing wrong found, not every line verifiable)"
            }
        };
        let mut lines = vec![format!(
            "{} lines in {} isolates, {} verified{}; {} redeliveries counted once",
            self.lines,
            self.isolates.len(),
            self.verified,
            if self.keyed { " with the key" } else { "" },
            self.redeliveries
        )];
        if !self.unverifiable.is_empty() {
            let why: Vec<String> = (self.unverifiable.iter())
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            lines.push(format!("not verifiable: {}", why.join(", ")));
        }
        lines.extend(self.findings.examples.iter().cloned());
        (title.to_owned(), lines)
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
        let report = Integrity {
            keyed: key.is_some(),
            ..Integrity::default()
        };
        Verifier {
            key,
            report,
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
                let what = format!("{at}: decision_id `{id}` again, with other content");
                self.report.findings.add("conflict", what);
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
                let what = format!("{at}: isolate {key} seq {seq}: a second, different line");
                self.report.findings.add("conflict", what);
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
        let what = format!("{at}: an invocation ended `{outcome}` without a decision line");
        self.report.findings.add("dead_invocation", what);
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
                    report.findings.add("gap", what);
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
            Status::Tampered
        } else if report.lines > 0 && report.verified == report.lines {
            Status::Verified
        } else {
            Status::Unverified
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
    let key = match line
        .get("chain_alg")
        .and_then(|a| ChainAlg::deserialize(a).ok())
    {
        Some(ChainAlg::HmacSha256) => key.map(Some).ok_or("no_key"),
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
            let what = format!("{at}: seq {seq}: its chain does not verify");
            report.findings.add("chain_break", what);
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
