//! `egress-policy`: the command line for policy authors and auditors.
//!
//! `main` only parses the arguments and dispatches; each subcommand lives in its own file under
//! `command/` and returns an [`Outcome`] or a [`CliError`]. [`exit_status`] maps both to the
//! exit status, the one table of which, [`EXIT_STATUSES`], `--help` prints and docs/policy.md
//! repeats. Commands write standard output with `write!` and `?`: a closed pipe (`| head`)
//! comes back as an error and ends the command quietly with 141, as a shell expects.

mod audit;
mod command;
mod diff;
mod error;
mod explain;
mod fmt;
mod list_reader;
mod policy_source;
mod policy_tests;
mod source_position;

use std::io::ErrorKind;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use egress_policy_cli::logs;

pub use error::CliError;

/// How a command that ran to its end ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to report.
    Ok,
    /// It found what it checks for: errors, a failing case, a mismatch, a refusal.
    Failed,
    /// `replay` could not read a log: not every line was verified.
    Unreadable,
    /// `diff`: the change widens access.
    Widens,
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
  4    reserved: log lines missing or altered (`audit`, `replay`)
  5    reserved: nothing verified (`replay`)
  141  standard output closed early (a reader such as `head` stopped reading)";

/// Check, compile, bundle, explain, test, diff, audit, replay and format egress policies.
#[derive(Debug, Parser)]
#[command(name = "egress-policy", version, about, propagate_version = true, after_help = EXIT_STATUSES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Report every diagnostic of a policy file; exit 1 on any error.
    Check(command::check::Args),
    /// Compile a policy into the artefact the Worker embeds.
    Compile(command::compile::Args),
    /// Compile and sign a policy bundle for a running Worker to take up from Workers KV.
    Bundle(command::bundle::Args),
    /// Show how the policy decides one request, and why.
    Explain(command::explain::Args),
    /// Run policy test cases (policy/tests/*.toml); exit 1 on any failure.
    Test(command::test::Args),
    /// Semantic diff of two policies for security review; exit 3 when the change widens access.
    Diff(command::diff::Args),
    /// Summarise decision logs for auditors (per customer, action, rule, revision).
    Audit(command::audit::Args),
    /// Re-decide logged requests with a policy; exit 1 when a logged decision differs.
    Replay(command::replay::Args),
    /// Print the JWK Set that verifies a credential's injected tokens.
    Jwks(command::jwks::Args),
    /// Format policy files canonically (comments kept); `--check` for CI.
    Fmt(command::fmt::Args),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Check(args) => command::check::run(&args),
        Command::Compile(args) => command::compile::run(&args),
        Command::Bundle(args) => command::bundle::run(&args),
        Command::Explain(args) => command::explain::run(&args),
        Command::Test(args) => command::test::run(&args),
        Command::Diff(args) => command::diff::run(&args),
        Command::Audit(args) => command::audit::run(&args),
        Command::Replay(args) => command::replay::run(&args),
        Command::Jwks(args) => command::jwks::run(&args),
        Command::Fmt(args) => command::fmt::run(&args),
    };
    ExitCode::from(exit_status(result))
}

/// The exit status of a command's result (see [`EXIT_STATUSES`]); errors are printed here.
fn exit_status(result: Result<Outcome, CliError>) -> u8 {
    let error = match result {
        Ok(Outcome::Ok) => return 0,
        Ok(Outcome::Failed) => return 1,
        Ok(Outcome::Unreadable) => return 2,
        Ok(Outcome::Widens) => return 3,
        Err(CliError::Output(e)) if e.kind() == ErrorKind::BrokenPipe => return 141,
        Err(error) => error,
    };
    eprintln!("error: {error}");
    if matches!(error, CliError::Unverified(_)) {
        2
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/policy.md lists the same exit statuses, word for word, and every outcome's
    /// status is one of them.
    #[test]
    fn the_exit_status_table_is_documented() {
        let docs = include_str!("../../../docs/policy.md");
        let rows: Vec<(&str, &str)> = (EXIT_STATUSES.lines().skip(1))
            .map(|row| row.trim().split_once(' ').unwrap())
            .collect();
        assert_eq!(rows.len(), 7);
        for (code, meaning) in &rows {
            let row = format!("| {code} | {} |", meaning.trim());
            assert!(docs.contains(&row), "docs/policy.md lacks the row `{row}`");
        }
        let outcomes = [
            Outcome::Ok,
            Outcome::Failed,
            Outcome::Unreadable,
            Outcome::Widens,
        ];
        for outcome in outcomes {
            let code = exit_status(Ok(outcome)).to_string();
            assert!(rows.iter().any(|(c, _)| *c == code), "{code}");
        }
    }
}
