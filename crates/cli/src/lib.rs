//! The `egress-policy` commands as a library: `main.rs` parses the arguments and maps each
//! command's [`Outcome`] to its exit status; the fuzz target `log_reader` reads arbitrary bytes
//! with [`read_log_bytes`], the reader of `audit` and `replay` ([`logs`]).

mod audit;
pub mod command;
mod diff;
mod error;
mod explain;
mod fmt;
mod list_reader;
pub mod logs;
mod policy_source;
mod policy_tests;

pub use error::CliError;

/// How a command that ran to its end ended; its value is the exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to report.
    Ok = 0,
    /// It found what it checks for: errors, a failing case, a mismatch, a refusal.
    Failed = 1,
    /// `replay` could not read a log: not every line was verified.
    Unreadable = 2,
    /// `diff`: the change widens access.
    Widens = 3,
    /// `audit`, `replay`: log lines are missing or altered.
    Tampered = 4,
    /// `audit`, `replay`: nothing (or not everything) could be verified.
    Unverified = 5,
}

impl Outcome {
    /// [`Outcome::Failed`] when `failed`, else [`Outcome::Ok`].
    pub fn failed_if(failed: bool) -> Outcome {
        if failed { Outcome::Failed } else { Outcome::Ok }
    }
}

/// Every exit status and what it means, as `--help` prints it; docs/policy.md ("Exit
/// statuses") repeats it word for word, and [`exit_status`] is the only place that picks one.
/// Version 2 of this table (egress-policy 0.2.0): a widening `diff` exits 3, no longer 2.
pub const EXIT_STATUSES: &str = "Exit status:
  0    ok
  1    failed: the policy has errors, a test case fails, a logged decision differs, `fmt --check` would change a file, a signature is refused, or a file cannot be read or written
  2    usage error; `replay`: the policy or a log cannot be read, so not every line was verified
  3    `diff`: the change widens access
  4    `audit`, `replay`: log lines missing or altered (a gap, a conflict, a chain that does not verify, an invocation without its line)
  5    `audit`, `replay`: not every line verified (no line read, schema 1 lines, a keyed chain without `--log-key-file`, no line of the policy's revision); `--allow-unverified` exits 0 instead
  141  standard output closed early (a reader such as `head` stopped reading)";

use egress_policy_engine::DecisionLog;

/// Reads `bytes` as one log input (plain or gzip), as `audit` and `replay` read a file: each
/// decision line goes to `visit`; the report says what else was found.
pub fn read_log_bytes(
    bytes: &[u8],
    visit: &mut dyn FnMut(&logs::Location, DecisionLog),
) -> logs::ReadReport {
    let input = logs::input::decompressing(Box::new(bytes));
    logs::read_all([("fuzz".to_owned(), input)], None, visit)
}
