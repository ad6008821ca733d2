//! `egress-policy`: the command line for policy authors and auditors.

mod audit;
mod command;
mod fmt;
mod jwks;
mod logs;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Check, compile, explain, test, diff, audit and replay egress policies.
#[derive(Debug, Parser)]
#[command(name = "egress-policy", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Audit(command::audit::Args),
    Replay(command::replay::Args),
    Jwks(command::jwks::Args),
    Fmt(command::fmt::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Audit(args) => command::audit::run(&args),
        Command::Replay(args) => command::replay::run(&args),
        Command::Jwks(args) => command::jwks::run(&args),
        Command::Fmt(args) => command::fmt::run(&args),
    }
}
