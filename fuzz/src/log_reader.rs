//! The decision-log reader of `audit` and `replay`: `log_reader`. Arbitrary bytes (decision
//! lines, Logpush records, gzip) read as one log input: never a panic, every line counted, and
//! nothing kept per line grows with the line (run with `-malloc_limit_mb`, see the Makefile).

use egress_policy_cli::logs::MAX_EXAMPLES;
use egress_policy_cli::read_log_bytes;

/// The longest problem detail: it says what is wrong and never quotes the line.
pub const MAX_DETAIL_BYTES: usize = 200;

/// Reads arbitrary bytes as a log; checks the report's counts and bounds.
pub fn read_logs(data: &[u8]) {
    let mut visited = 0u64;
    let report = read_log_bytes(data, &mut |_, _| visited += 1);
    assert_eq!(report.decisions, visited, "decisions miscounted");
    let problems = &report.problems;
    assert_eq!(
        problems.total,
        problems.by_kind.values().sum::<u64>(),
        "problems miscounted"
    );
    for (kind, count) in &problems.by_kind {
        let examples = problems.examples.iter().filter(|e| e.kind == *kind).count();
        assert_eq!(
            examples as u64,
            (*count).min(MAX_EXAMPLES as u64),
            "examples of {kind} are not bounded"
        );
    }
    for example in &problems.examples {
        assert!(
            example.detail.len() <= MAX_DETAIL_BYTES,
            "a detail of {} bytes: {}",
            example.detail.len(),
            example.text()
        );
    }
    if !data.starts_with(&[0x1f, 0x8b]) {
        // A final line without `\n` counts; the empty input has none.
        let ends = data.is_empty() || data.ends_with(b"\n");
        let lines = data.split(|&b| b == b'\n').count() - usize::from(ends);
        let read: u64 = report.inputs.iter().map(|input| input.lines).sum();
        assert_eq!(read, lines as u64, "lines miscounted");
    }
}
