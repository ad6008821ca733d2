//! `egress-policy`: the command line for policy authors and auditors.
//!
//! `main` only parses the arguments and dispatches; each subcommand lives in its own file under
//! `command/`. Exit codes: 0 ok, 1 failure or error, 2 a usage error (clap's own convention) or,
//! for `diff` only, a change that widens what the policy allows, and for `replay` only, a policy
//! or log input that could not be read (1 there means a logged decision differs).

mod audit;
mod command;
mod diff;
mod error;
mod explain;
mod fmt;
mod jwks;
mod list_reader;
mod logs;
mod policy_source;
mod policy_tests;
mod source_position;
mod suggest;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Check, compile, bundle, explain, test, diff, audit, replay and format egress policies.
#[derive(Debug, Parser)]
#[command(
    name = "egress-policy",
    version,
    about,
    propagate_version = true,
    after_help = "Exit status: 0 ok, 1 failure or error, 2 usage error; `diff` also exits 2 when the change widens what is allowed, `replay` when the policy or a log cannot be read."
)]
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
    /// Semantic diff of two policies for security review; exit 2 when the change widens access.
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
    exit_quietly_on_closed_stdout();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Check(args) => command::check::run(&args),
        Command::Compile(args) => command::compile::run(&args),
        Command::Bundle(args) => command::bundle::run(&args),
        Command::Explain(args) => command::explain::run(&args),
        Command::Test(args) => command::test::run(&args),
        Command::Diff(args) => command::diff::run(&args),
        Command::Audit(args) => Ok(command::audit::run(&args)),
        Command::Replay(args) => Ok(command::replay::run(&args)),
        Command::Jwks(args) => Ok(command::jwks::run(&args)),
        Command::Fmt(args) => Ok(command::fmt::run(&args)),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `egress-policy audit logs | head` closes our stdout early. Rust ignores SIGPIPE, so the
/// next `println!` panics with "failed printing to stdout: Broken pipe" and a backtrace.
/// Exit as a program killed by SIGPIPE would (status 141, nothing printed) instead; every
/// other panic keeps the default report.
fn exit_quietly_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}
