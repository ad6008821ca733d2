//! `egress-policy compile [POLICY] -o FILE`: the artefact the Worker embeds.

use std::io::Write as _;
use std::path::PathBuf;

use egress_policy_engine::sha256_hex;

use crate::policy_source::{self, DEFAULT_POLICY};
use crate::{CliError, Outcome};

/// Arguments of `compile`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The policy file.
    #[arg(default_value = DEFAULT_POLICY)]
    policy: PathBuf,
    /// Where to write the compiled artefact.
    #[arg(short, long)]
    output: PathBuf,
}

/// Runs `compile`: refuses (exit 1, diagnostics on stderr) a policy with errors.
pub fn run(args: &Args) -> Result<Outcome, CliError> {
    let loaded = policy_source::load(&args.policy)?;
    let file_name = loaded.source.file_name();
    // Warnings do not stop the build, but whoever compiles should see them.
    for warning in &loaded.compiled.warnings {
        eprintln!("{}", loaded.source.render(warning));
    }
    let policy = &loaded.compiled.policy;
    let artefact = policy.to_artifact();
    crate::error::write(&args.output, &artefact)?;
    writeln!(
        std::io::stdout().lock(),
        "compiled {file_name} -> {}: {}, {}\npolicy sha256:   {}\nartefact sha256: {}",
        args.output.display(),
        policy_source::contents(policy),
        policy_source::counted(artefact.len(), "byte"),
        policy.sha256(),
        sha256_hex(&artefact),
    )?;
    Ok(Outcome::Ok)
}
