//! `egress-policy`: the command line for policy authors and auditors.
//!
//! `main` only parses the arguments and dispatches; each subcommand lives in its own file under
//! `command/` and returns an [`Outcome`] or a [`CliError`]. [`exit_status`] maps both to the
//! exit status, the one table of which, [`EXIT_STATUSES`], `--help` prints and docs/policy.md
//! repeats. Commands write standard output with `write!` and `?`: a closed pipe (`| head`)
//! comes back as an error and ends the command quietly with 141, as a shell expects.

use std::io::ErrorKind;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use egress_policy_cli::{CliError, EXIT_STATUSES, Outcome, command};

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
        Ok(outcome) => return outcome as u8,
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
            Outcome::Tampered,
            Outcome::Unverified,
        ];
        for outcome in outcomes {
            let code = exit_status(Ok(outcome)).to_string();
            assert!(rows.iter().any(|(c, _)| *c == code), "{code}");
        }
    }
}
