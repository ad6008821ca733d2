//! `egress-policy`: the command line for policy authors and auditors.

mod audit;
mod command;
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Audit(args) => command::audit::run(&args),
    }
}
