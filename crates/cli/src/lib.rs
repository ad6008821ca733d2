//! The decision-log reader of `audit` and `replay` ([`logs`]) as a library: the binary reads
//! logs with it, and the fuzz target `log_reader` reads arbitrary bytes with [`read_log_bytes`].

pub mod logs;

use egress_policy_engine::DecisionLog;

/// Reads `bytes` as one log input (plain or gzip), as `audit` and `replay` read a file: each
/// decision line goes to `visit`; the report says what else was found.
pub fn read_log_bytes(
    bytes: &[u8],
    visit: &mut dyn FnMut(&logs::Location, DecisionLog),
) -> logs::ReadReport {
    let mut report = logs::ReadReport::default();
    let opened = logs::input::decompressing(Box::new(bytes));
    let summary = logs::read_input("fuzz", opened, &mut report, visit);
    report.inputs.push(summary);
    report
}
