//! Streaming decision-log reader shared by `audit` and `replay`.
//!
//! Inputs are files or `-` (standard input), plain or gzip. Each line is a decision line or a
//! log export record holding decision lines. Bad lines are counted with their `file:line` and
//! never stop the run. Memory stays bounded: one line buffer, counters, and at most
//! [`MAX_EXAMPLES`] example locations per problem kind.

pub mod input;
pub mod record;

use std::collections::BTreeMap;
use std::fmt;

use egress_policy_engine::DecisionLog;
use serde::Serialize;

use record::Item;
pub use record::Problem;

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
#[derive(Clone, Debug, Serialize)]
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
    pub location: Location,
    /// The problem's code.
    pub kind: &'static str,
    /// What is wrong (never the line's content).
    pub detail: String,
}

impl ProblemExample {
    /// `file:line: kind: detail`, as the text outputs list it.
    pub fn text(&self) -> String {
        format!("{}: {}: {}", self.location, self.kind, self.detail)
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
    fn record(&mut self, location: &Location, kind: Problem, detail: String) {
        self.total += 1;
        let count = self.by_kind.entry(kind.code()).or_insert(0);
        *count += 1;
        let keep_example = *count <= MAX_EXAMPLES as u64;
        if kind == Problem::UnknownVersion {
            let known = self.unknown_versions.contains_key(&detail);
            let key = if known || self.unknown_versions.len() < MAX_VERSIONS {
                detail.clone()
            } else {
                "other".to_string()
            };
            *self.unknown_versions.entry(key).or_insert(0) += 1;
        }
        if keep_example {
            let detail = if kind == Problem::UnknownVersion {
                format!("unknown schema version v={detail}")
            } else {
                detail
            };
            self.examples.push(ProblemExample {
                location: location.clone(),
                kind: kind.code(),
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
}

/// Prints `error: FILE: why` on stderr for each input that could not be read to its end;
/// whether there was one.
pub fn report_input_errors(inputs: &[InputSummary]) -> bool {
    let mut any = false;
    for input in inputs {
        if let Some(e) = &input.error {
            eprintln!("error: {}: {e}", input.file);
            any = true;
        }
    }
    any
}

/// Streams every input, calling `visit` for each decision line in order.
pub fn read_all(inputs: &[String], visit: &mut dyn FnMut(&Location, DecisionLog)) -> ReadReport {
    let mut report = ReadReport::default();
    for name in inputs {
        let summary = read_one(name, &mut report, visit);
        report.inputs.push(summary);
    }
    report
}

fn read_one(
    name: &str,
    report: &mut ReadReport,
    visit: &mut dyn FnMut(&Location, DecisionLog),
) -> InputSummary {
    read_input(name, input::open(name), report, visit)
}

/// Reads one input, opened (or not) as `name`, into `report`.
pub(crate) fn read_input(
    name: &str,
    opened: std::io::Result<Box<dyn std::io::BufRead + '_>>,
    report: &mut ReadReport,
    visit: &mut dyn FnMut(&Location, DecisionLog),
) -> InputSummary {
    let mut summary = InputSummary {
        file: name.to_string(),
        lines: 0,
        decisions: 0,
        error: None,
    };
    let mut reader = match opened {
        Ok(reader) => reader,
        Err(e) => {
            summary.error = Some(format!("cannot open: {e}"));
            return summary;
        }
    };
    let mut buf = Vec::new();
    let mut location = Location {
        file: name.to_string(),
        line: 0,
    };
    loop {
        let read = match input::read_line(&mut reader, &mut buf, input::MAX_LINE_BYTES) {
            Ok(read) => read,
            Err(e) => {
                summary.error = Some(format!("read error after line {}: {e}", location.line));
                break;
            }
        };
        location.line += 1;
        match read {
            input::LineRead::Eof => break,
            input::LineRead::TooLong => report.problems.record(
                &location,
                Problem::TooLong,
                format!("line longer than {} bytes skipped", input::MAX_LINE_BYTES),
            ),
            input::LineRead::Line => {
                // One line counts once per problem kind, however many array elements or
                // messages inside it share the problem.
                let mut kinds_seen: Vec<Problem> = Vec::new();
                record::classify_line(&buf, &mut |item| match item {
                    Item::Decision(log) => {
                        summary.decisions += 1;
                        report.decisions += 1;
                        visit(&location, *log);
                    }
                    Item::Problem(kind, detail) => {
                        if !kinds_seen.contains(&kind) {
                            kinds_seen.push(kind);
                            report.problems.record(&location, kind, detail);
                        }
                    }
                    Item::OtherMessage => report.other_messages += 1,
                });
            }
        }
        summary.lines = location.line;
    }
    summary
}
