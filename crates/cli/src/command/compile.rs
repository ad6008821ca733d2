//! `egress-policy compile [POLICY] -o FILE`: the artefact the Worker embeds.

use std::path::PathBuf;
use std::process::ExitCode;

use sha2::{Digest, Sha256};

use crate::error::CliError;
use crate::policy_source::{self, DEFAULT_POLICY};

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
pub fn run(args: &Args) -> Result<ExitCode, CliError> {
    let loaded = policy_source::load(&args.policy)?;
    let file_name = loaded.source.file_name();
    // Warnings do not stop the build, but whoever compiles should see them.
    for warning in &loaded.compiled.warnings {
        eprintln!("{}", loaded.source.render(warning));
    }
    let policy = &loaded.compiled.policy;
    let artefact = policy.to_artifact();
    std::fs::write(&args.output, &artefact).map_err(|source| CliError::Write {
        path: args.output.clone(),
        source,
    })?;
    let rules = policy.rules().len();
    println!(
        "compiled {file_name} -> {}: {rules} rule{}{}, {} byte{}",
        args.output.display(),
        policy_source::plural(rules),
        policy_source::lists_summary(policy),
        artefact.len(),
        policy_source::plural(artefact.len()),
    );
    println!("policy sha256:   {}", policy.sha256());
    println!("artefact sha256: {}", hex(&Sha256::digest(&artefact)));
    Ok(ExitCode::SUCCESS)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
