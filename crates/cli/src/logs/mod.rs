//! Streaming decision-log reader shared by `audit` and `replay`.
//!
//! Inputs are files or `-` (standard input), plain or gzip. Each line is a decision line or a
//! log export record holding decision lines. Bad lines are counted with their `file:line` and
//! never stop the run. Memory stays bounded: one line buffer, counters, and at most
//! [`MAX_EXAMPLES`] example locations per problem kind.

pub mod input;
pub mod record;
pub mod verify;

use std::collections::BTreeMap;
use std::fmt;

use egress_policy_engine::DecisionLog;
use serde::Serialize;

use record::Item;
use record::problem;
pub use verify::{Integrity, Verifier};

/// Example locations kept per problem kind; the counts are always exact.
pub const MAX_EXAMPLES: usize = 10;

/// Distinct unknown `v` values counted individually before the rest are pooled.
const MAX_VERSIONS: usize = 16;

/// Where a decision line came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Location {
    /// The input as named on the command line (`-` for standard input).
    pub file: String,
    /// 1-based line number within the (decompressed) input.
    pub line: u64,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// One input's outcome.
#[derive(Clone, Debug, Default, Serialize)]
pub struct InputSummary {
    /// The input as named on the command line.
    pub file: String,
    /// Lines read (blank ones included).
    pub lines: u64,
    /// Decision lines found.
    pub decisions: u64,
    /// Why reading stopped early (the file could not be opened, corrupt gzip, I/O error).
    pub error: Option<String>,
}

/// A bad line kept as an example.
#[derive(Clone, Debug, Serialize)]
pub struct ProblemExample {
    /// `file:line`
    #[serde(flatten)]
    pub location: Option<Location>,
    /// The problem's code.
    pub kind: &'static str,
    /// What is wrong (never the line's content).
    pub detail: String,
}

impl ProblemExample {
    /// `file:line: kind: detail`, as the text outputs list it.
    pub fn text(&self) -> String {
        let at = self.location.as_ref().map(|l| format!("{l}: "));
        format!("{}{}: {}", at.unwrap_or_default(), self.kind, self.detail)
    }
}

/// Everything that was wrong with the inputs, with exact counts.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ProblemTally {
    /// Bad lines (or bad messages inside export records) in all.
    pub total: u64,
    /// Counts per problem code.
    pub by_kind: BTreeMap<&'static str, u64>,
    /// Counts per unknown `v` value (pooled under `other` past a few distinct values).
    pub unknown_versions: BTreeMap<String, u64>,
    /// The first few locations per kind.
    pub examples: Vec<ProblemExample>,
}

impl ProblemTally {
    /// Counts one problem of kind `kind` (a [`problem`] code, or a finding's), keeping
    /// the first few as examples.
    pub fn record(&mut self, at: Option<&Location>, kind: &'static str, mut detail: String) {
        self.total += 1;
        let count = self.by_kind.entry(kind).or_insert(0);
        *count += 1;
        if kind == problem::UNKNOWN_VERSION {
            let versions = &mut self.unknown_versions;
            let full = versions.len() >= MAX_VERSIONS && !versions.contains_key(&detail);
            let key = if full { "other" } else { &detail };
            *versions.entry(key.to_owned()).or_insert(0) += 1;
            detail = format!("unknown schema version v={detail}");
        }
        if *count <= MAX_EXAMPLES as u64 {
            let location = at.cloned();
            (self.examples).push(ProblemExample {
                location,
                kind,
                detail,
            });
        }
    }
}

/// What reading all inputs found besides the decision lines themselves.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ReadReport {
    /// Per input, in command-line order.
    pub inputs: Vec<InputSummary>,
    /// Decision lines handed to the visitor.
    pub decisions: u64,
    /// Console messages in export records that are not decision lines (ignored).
    pub other_messages: u64,
    /// Bad lines.
    pub problems: ProblemTally,
    /// Whether the lines are the lines the Worker wrote.
    pub integrity: Integrity,
}

/// What `audit` and `replay` do with each decision line read.
pub type Visit<'a> = &'a mut dyn FnMut(&Location, DecisionLog);

/// Prints `error: FILE: why` on stderr for each input that could not be read to its end;
/// whether there was one.
fn report_input_errors(inputs: &[InputSummary]) -> bool {
    let failed = inputs
        .iter()
        .filter_map(|i| Some((&i.file, i.error.as_ref()?)));
    let reported = failed.map(|(file, e)| eprintln!("error: {file}: {e}"));
    reported.count() > 0
}

/// An input's name, and its reader (plain or gzip) or why it could not be opened.
pub type Opened<'a> = (String, std::io::Result<Box<dyn std::io::BufRead + 'a>>);

/// Streams every input, calling `visit` for each decision line in order (a redelivered line
/// once), and verifies the log's chains with `key` ([`verify`]).
pub fn read_all<'a>(
    inputs: impl IntoIterator<Item = Opened<'a>>,
    key: Option<Vec<u8>>,
    visit: Visit<'_>,
) -> ReadReport {
    let mut report = ReadReport::default();
    let mut verifier = Verifier::new(key);
    for (file, opened) in inputs {
        let mut summary = InputSummary {
            file,
            ..InputSummary::default()
        };
        summary.error = match opened {
            Ok(reader) => read_input(&mut summary, reader, &mut report, &mut verifier, visit),
            Err(e) => Err(format!("cannot open: {e}")),
        }
        .err();
        report.inputs.push(summary);
    }
    report.integrity = verifier.finish();
    report
}

/// Reads one input, opened as `summary.file`, into `summary` and `report`; why it stopped
/// early, if it did.
fn read_input(
    summary: &mut InputSummary,
    mut reader: Box<dyn std::io::BufRead + '_>,
    report: &mut ReadReport,
    verifier: &mut Verifier,
    visit: Visit<'_>,
) -> Result<(), String> {
    let mut buf = Vec::new();
    let (file, line) = (summary.file.clone(), 0);
    let mut location = Location { file, line };
    loop {
        let read = input::read_line(&mut reader, &mut buf, input::MAX_LINE_BYTES);
        let read = read.map_err(|e| format!("read error after line {}: {e}", location.line))?;
        location.line += 1;
        match read {
            input::LineRead::Eof => return Ok(()),
            input::LineRead::TooLong => report.problems.record(
                Some(&location),
                problem::TOO_LONG,
                format!("line longer than {} bytes skipped", input::MAX_LINE_BYTES),
            ),
            input::LineRead::Line => {
                // One line counts once per problem kind, however many array elements or
                // messages inside it share the problem.
                let mut kinds_seen: Vec<&str> = Vec::new();
                record::classify_line(&buf, &mut |item| match item {
                    Item::Decision(line) => {
                        let (log, value) = *line;
                        if verifier.admit(&location, value) {
                            summary.decisions += 1;
                            report.decisions += 1;
                            visit(&location, log);
                        }
                    }
                    Item::Event(value) => {
                        report.other_messages += 1;
                        verifier.admit(&location, value);
                    }
                    Item::Dead(outcome) => verifier.dead(&location, &outcome),
                    Item::Problem(kind, detail) => {
                        if !kinds_seen.contains(&kind) {
                            kinds_seen.push(kind);
                            report.problems.record(Some(&location), kind, detail);
                        }
                    }
                    Item::OtherMessage => report.other_messages += 1,
                });
            }
        }
        summary.lines = location.line;
    }
}
