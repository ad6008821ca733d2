//! `egress-policy bundle [POLICY] --key-file KEY.pem -o BUNDLE [--serial N] [--archive DIR]`:
//! a compiled policy, Ed25519-signed, for a running Worker to take up from Workers KV.
//! `--print-public-key` prints the public key the Worker is configured with instead.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use egress_policy_engine::bundle::{self, SigningKey};

use crate::error::CliError;
use crate::policy_source::{self, DEFAULT_POLICY};

/// Arguments of `bundle`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Make the signing key once with `openssl genpkey -algorithm ed25519 -out bundle-signing.pem` and keep it off the Worker. Publish with `wrangler kv key put --binding EGRESS_POLICY_KV policy-bundle --path BUNDLE` (add --local for the local emulation)."
)]
pub struct Args {
    /// The policy file.
    #[arg(default_value = DEFAULT_POLICY)]
    policy: PathBuf,
    /// The Ed25519 signing key, PKCS#8 PEM (`openssl genpkey -algorithm ed25519`).
    #[arg(long, value_name = "KEY.pem")]
    key_file: PathBuf,
    /// Where to write the bundle.
    #[arg(short, long, required_unless_present = "print_public_key")]
    output: Option<PathBuf>,
    /// The bundle's serial; a Worker takes up only a serial above the one it has. Default:
    /// the current Unix time in seconds, which increases from one bundle to the next.
    #[arg(long)]
    serial: Option<u64>,
    /// Also write the compiled artefact to DIR/<policy sha256>.artifact, so that `replay
    /// --archive DIR` can re-decide the lines of this revision later.
    #[arg(long, value_name = "DIR")]
    archive: Option<PathBuf>,
    /// Print the public key (the Worker's `EGRESS_BUNDLE_PUBLIC_KEY`) and exit.
    #[arg(long)]
    print_public_key: bool,
}

/// Runs `bundle`.
pub fn run(args: &Args) -> Result<ExitCode, CliError> {
    let key = signing_key(&args.key_file)?;
    if args.print_public_key {
        println!("{}", bundle::public_key_to_text(&key.verifying_key()));
        return Ok(ExitCode::SUCCESS);
    }
    let Some(output) = &args.output else {
        return Err(CliError::Usage("--output is required".to_owned()));
    };
    let loaded = policy_source::load(&args.policy)?;
    let file_name = loaded.source.file_name();
    for warning in &loaded.compiled.warnings {
        eprintln!("{}", warning.render(&file_name, &loaded.source.text));
    }
    let policy = &loaded.compiled.policy;
    let serial = match args.serial {
        Some(serial) => serial,
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| CliError::Usage("the clock is before 1970: pass --serial".to_owned()))?
            .as_secs(),
    };
    let artefact = policy.to_artifact();
    let sealed = bundle::seal(&artefact, serial, &key);
    write(output, &sealed)?;
    if let Some(dir) = &args.archive {
        std::fs::create_dir_all(dir).map_err(|source| CliError::Write {
            path: dir.clone(),
            source,
        })?;
        let archived = archive_path(dir, policy.sha256());
        write(&archived, &artefact)?;
        println!("archived:        {}", archived.display());
    }
    println!(
        "bundled {file_name} -> {}: serial {serial}, {} bytes",
        output.display(),
        sealed.len()
    );
    println!("policy sha256:   {}", policy.sha256());
    println!(
        "signed by:       {}",
        bundle::public_key_to_text(&key.verifying_key())
    );
    Ok(ExitCode::SUCCESS)
}

/// Where the archive keeps the artefact of the policy revision `sha256`.
pub fn archive_path(dir: &Path, sha256: &str) -> PathBuf {
    dir.join(format!("{sha256}.artifact"))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    std::fs::write(path, bytes).map_err(|source| CliError::Write {
        path: path.to_owned(),
        source,
    })
}

/// The Ed25519 key of a PKCS#8 PEM file. Errors name the file, never its contents.
fn signing_key(path: &Path) -> Result<SigningKey, CliError> {
    use ed25519_dalek::pkcs8::DecodePrivateKey as _;
    let text = std::fs::read_to_string(path).map_err(|source| CliError::Read {
        path: path.to_owned(),
        source,
    })?;
    SigningKey::from_pkcs8_pem(&text).map_err(|_| {
        CliError::Usage(format!(
            "`{}` is not an Ed25519 private key in PKCS#8 PEM (make one with `openssl genpkey -algorithm ed25519`)",
            path.display()
        ))
    })
}
