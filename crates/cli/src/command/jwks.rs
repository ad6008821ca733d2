//! `egress-policy jwks --credential ID [--policy POLICY] --key-file PEM`

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::jwks;
use crate::policy_source::{self, DEFAULT_POLICY};
use crate::suggest::did_you_mean;

/// Print the JWK Set (public key only, with `kid`, `alg`, `use`) that an API owner configures
/// to verify the tokens a credential injects.
///
/// The key file is the PKCS#8 private key PEM the Worker secret holds, or its public key PEM;
/// only the public part is ever printed. HMAC credentials have no public key and are refused.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The credential's id (`[credentials.ID]`).
    #[arg(long, value_name = "ID")]
    pub credential: String,
    /// The policy file.
    #[arg(long, value_name = "POLICY", default_value = DEFAULT_POLICY)]
    pub policy: PathBuf,
    /// PEM file with the credential's signing key (private PKCS#8 or public SPKI).
    #[arg(long, value_name = "PEM")]
    pub key_file: PathBuf,
}

/// Runs the subcommand.
pub fn run(args: &Args) -> ExitCode {
    match jwks_text(args) {
        Ok(text) => {
            let mut out = std::io::stdout().lock();
            match writeln!(out, "{text}").and_then(|()| out.flush()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(_) => ExitCode::from(1),
            }
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
    }
}

fn jwks_text(args: &Args) -> Result<String, String> {
    let loaded = policy_source::load(&args.policy).map_err(|e| e.to_string())?;
    let policy = &loaded.compiled.policy;
    let Some(credential) = policy.credential(&args.credential) else {
        let ids: Vec<&str> = policy.credentials().map(|c| c.id.as_str()).collect();
        let mut message = format!(
            "no credential `{}` in `{}`",
            args.credential,
            args.policy.display()
        );
        match did_you_mean(&args.credential, &ids) {
            Some(close) => message.push_str(&format!("; did you mean `{close}`?")),
            None if ids.is_empty() => message.push_str("; the policy defines no credentials"),
            None => message.push_str(&format!("; it defines: {}", ids.join(", "))),
        }
        return Err(message);
    };
    if credential.algorithm.is_hmac() {
        // Refused before the key file is even read: there is nothing public to derive.
        return jwks::jwks(credential, b"")
            .map(|_| String::new())
            .map_err(|e| e.to_string());
    }
    let pem = std::fs::read(&args.key_file)
        .map_err(|e| format!("cannot read key file `{}`: {e}", args.key_file.display()))?;
    let set = jwks::jwks(credential, &pem)
        .map_err(|e| format!("{e} (key file `{}`)", args.key_file.display()))?;
    if credential.key_id.is_none() {
        eprintln!(
            "warning: credential `{}` has no `key_id`: its tokens carry no `kid`, so verifiers cannot pick this key by id",
            credential.id
        );
    }
    serde_json::to_string_pretty(&set).map_err(|e| format!("cannot serialise the JWKS: {e}"))
}
