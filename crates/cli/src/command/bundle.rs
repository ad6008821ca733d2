//! `egress-policy bundle [POLICY] --key-file KEY.pem --environment ENV -o BUNDLE [--after
//! CURRENT] [--serial N] [--archive DIR]`: a compiled policy, Ed25519-signed for one
//! environment, for a running Worker to take up from Workers KV; its head beside it, at
//! `BUNDLE.head`. `--print-public-key` prints the public key the Worker is configured with;
//! `bundle inspect FILE` says what a bundle (or a head) holds.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use egress_policy_engine::CompiledPolicy;
use egress_policy_engine::artifact::Artifact;
use egress_policy_engine::bundle::{self, HEAD_LEN, SigningKey};
use egress_policy_engine::time::rfc3339_millis;
use jsonwebtoken::EncodingKey;

use crate::error::{on_file, read, read_text, write};
use crate::policy_source::{self, DEFAULT_POLICY};
use crate::{CliError, Outcome};

/// Arguments of `bundle`.
#[derive(Debug, clap::Args)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = "Make the signing key once with `openssl genpkey -algorithm ed25519 -out bundle-signing.pem` and keep it off the Worker. Publish the bundle, then its head (docs/deploy.md):\n  wrangler kv key put --remote --binding EGRESS_POLICY_KV policy-bundle --path BUNDLE\n  wrangler kv key put --remote --binding EGRESS_POLICY_KV policy-bundle:head --path BUNDLE.head"
)]
pub struct Args {
    #[command(subcommand)]
    inspect: Option<Inspect>,
    /// The policy file.
    #[arg(default_value = DEFAULT_POLICY)]
    policy: PathBuf,
    /// The Ed25519 signing key, PKCS#8 PEM (`openssl genpkey -algorithm ed25519`).
    #[arg(long, value_name = "KEY.pem", required = true)]
    key_file: Option<PathBuf>,
    /// The environment the bundle is for (the Worker's `EGRESS_BUNDLE_ENVIRONMENT`): a Worker
    /// of another environment refuses it.
    #[arg(long, required_unless_present = "print_public_key")]
    environment: Option<String>,
    /// Where to write the bundle; its head goes to the same path plus `.head`.
    #[arg(short, long, required_unless_present = "print_public_key")]
    output: Option<PathBuf>,
    /// The bundle (or head) in force now: the new serial is above its serial.
    #[arg(long, value_name = "BUNDLE")]
    after: Option<PathBuf>,
    /// The serial. Default: the time in microseconds since the Unix epoch (above `--after`'s
    /// serial if the clock is behind), plus a random part below a millisecond, so two
    /// bundles made at once differ.
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

#[derive(Debug, clap::Subcommand)]
enum Inspect {
    /// Print what a bundle or its head holds: serial, policy, environment, signer, size, time.
    Inspect {
        /// A bundle, or the head written beside it.
        file: PathBuf,
        /// Check the signature with this public key (`--print-public-key`'s text).
        #[arg(long, value_name = "KEY")]
        public_key: Option<String>,
    },
}

/// Runs `bundle`.
pub fn run(args: &Args) -> Result<Outcome, CliError> {
    if let Some(Inspect::Inspect { file, public_key }) = &args.inspect {
        return inspect(file, public_key.as_deref());
    }
    let mut out = std::io::stdout().lock();
    let Some(key_file) = &args.key_file else {
        return Err(usage("--key-file"));
    };
    let key = signing_key(key_file)?;
    let signer = bundle::public_key_to_text(key.verifying_key().as_bytes());
    if args.print_public_key {
        writeln!(out, "{signer}")?;
        return Ok(Outcome::Ok);
    }
    let (Some(output), Some(environment)) = (&args.output, &args.environment) else {
        return Err(usage("--output and --environment"));
    };
    let loaded = policy_source::load(&args.policy)?;
    for warning in &loaded.compiled.warnings {
        eprintln!("{}", loaded.source.render(warning));
    }
    let mut policy = loaded.compiled.policy;
    let after = match &args.after {
        Some(path) => Some(read_head(path, &read(path)?)?.serial),
        None => None,
    };
    let serial = serial(args.serial, after)?;
    policy.set_serial(serial);
    let artefact = policy.to_artifact();
    let sealed = bundle::seal(&artefact, environment, now()?.as_secs(), &key).ok_or_else(|| {
        CliError::Usage(format!(
            "`{environment}` is not an environment name: 1 to {} ASCII letters, digits, `-`, `_` or `.`",
            bundle::ENVIRONMENT_LEN
        ))
    })?;
    let head_path = output.with_added_extension("head");
    write(output, &sealed)?;
    write(&head_path, bundle::head_of(&sealed).unwrap_or_default())?;
    if let Some(dir) = &args.archive {
        on_file("write", dir, std::fs::create_dir_all(dir))?;
        let archived = dir.join(format!("{}.artifact", policy.sha256()));
        write(&archived, &artefact)?;
        writeln!(out, "archived:        {}", archived.display())?;
    }
    writeln!(
        out,
        "bundled {} -> {}: serial {serial}, {} bytes; head {}\npolicy sha256:   {}\nenvironment:     {environment}\nsigned by:       {signer}",
        loaded.source.file_name(),
        output.display(),
        sealed.len(),
        head_path.display(),
        policy.sha256(),
    )?;
    Ok(Outcome::Ok)
}

/// The serial of a new bundle: the one asked for (above `after`), else the clock's
/// microseconds (above `after` too) plus a random part below a millisecond.
fn serial(asked: Option<u64>, after: Option<u64>) -> Result<u64, CliError> {
    let floor = after.map_or(0, |after| after.saturating_add(1));
    if let Some(serial) = asked {
        let after = floor.saturating_sub(1);
        let why = format!("--serial {serial} is not above the serial of --after ({after})");
        return (serial >= floor)
            .then_some(serial)
            .ok_or(CliError::Usage(why));
    }
    let micros = u64::try_from(now()?.as_micros()).unwrap_or(u64::MAX);
    // Seeded by the operating system for each process: two bundles made in the same
    // microsecond still differ.
    let jitter = RandomState::new().build_hasher().finish() % 1000;
    Ok(micros.max(floor).saturating_add(jitter))
}

fn now() -> Result<std::time::Duration, CliError> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| CliError::Usage("the clock is before 1970: pass --serial".to_owned()))
}

/// `bundle inspect`: the head's fields, and for a whole bundle its policy.
fn inspect(path: &Path, public_key: Option<&str>) -> Result<Outcome, CliError> {
    let mut out = std::io::stdout().lock();
    let bytes = read(path)?;
    let head = read_head(path, &bytes)?;
    writeln!(
        out,
        "{}\nserial:          {}\nenvironment:     {}\ncreated:         {}\nsigner:          {}\nbundle size:     {} bytes",
        path.display(),
        head.serial,
        head.environment,
        rfc3339_millis(head.created_secs.saturating_mul(1000)),
        bundle::public_key_to_text(&head.signer),
        head.bundle_len()
    )?;
    if bytes.len() != HEAD_LEN {
        let artefact = bytes.get(head.artifact_range()).unwrap_or_default();
        let policy = CompiledPolicy::load(Artifact::Bytes(artefact))
            .map_err(|e| CliError::Usage(format!("`{}`: {e}", path.display())))?;
        writeln!(
            out,
            "policy:          {}\npolicy sha256:   {}",
            policy.model().name.as_deref().unwrap_or("(no name)"),
            policy.sha256()
        )?;
    }
    let Some(text) = public_key else {
        writeln!(out, "signature:       not checked (pass --public-key)")?;
        return Ok(Outcome::Ok);
    };
    let trusted = bundle::public_key_from_text(text)
        .ok_or_else(|| CliError::Usage("--public-key is not an Ed25519 public key".to_owned()))?;
    if let Err(e) = bundle::verify_head(&head.bytes, &trusted, &head.environment) {
        writeln!(out, "signature:       refused: {e}")?;
        return Ok(Outcome::Failed);
    }
    writeln!(out, "signature:       verifies with {}", text.trim())?;
    Ok(Outcome::Ok)
}

/// The head of a bundle (`bytes`, read from `path`) or a head itself, read without checking
/// its signature.
fn read_head(path: &Path, bytes: &[u8]) -> Result<bundle::Head, CliError> {
    let head = if bytes.len() == HEAD_LEN {
        Some(bytes.to_vec())
    } else {
        bundle::head_of(bytes).filter(|_| bytes.len() > HEAD_LEN)
    };
    head.ok_or(bundle::BundleError::Truncated)
        .and_then(|head| bundle::read_head(&head))
        .map_err(|e| CliError::Usage(format!("`{}`: {e}", path.display())))
}

fn usage(what: &str) -> CliError {
    CliError::Usage(format!("{what} is required"))
}

/// The DER of every Ed25519 PKCS#8 v1 private key starts with these 16 bytes; the 32-byte seed
/// follows (RFC 8410, section 7), as `openssl genpkey -algorithm ed25519` writes it.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// The Ed25519 key of a PKCS#8 PEM file, read by `jsonwebtoken` as `jwks` reads keys. Errors
/// name the file, never its contents.
fn signing_key(path: &Path) -> Result<SigningKey, CliError> {
    let pem = read_text(path)?;
    let seed = EncodingKey::from_ed_pem(pem.as_bytes())
        .ok()
        .and_then(|key| {
            <[u8; 32]>::try_from(key.as_bytes().strip_prefix(&ED25519_PKCS8_PREFIX)?).ok()
        });
    seed.map(|seed| SigningKey::from_bytes(&seed)).ok_or_else(|| {
        CliError::Usage(format!(
            "`{}` is not an Ed25519 private key in PKCS#8 PEM (make one with `openssl genpkey -algorithm ed25519`)",
            path.display()
        ))
    })
}
