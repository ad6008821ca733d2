//! `egress-policy jwks --credential ID [--policy POLICY] --key-file PEM [--next-key-file PEM]`:
//! the JWK Set an API owner configures to verify the tokens a credential injects (during a
//! rotation, with the next key beside the active one).
//!
//! The public key is derived by `jsonwebtoken`, the crate the Worker mints with, from the key
//! file: a PKCS#8 private key (what the Worker secret holds) or a public key. Private material
//! is parsed only to derive the public key and is never printed, not even in error messages.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use egress_policy_engine::{Credential, JwtAlgorithm, did_you_mean};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk as Derived};
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind, EncodingKey};
use serde::Serialize;

use crate::policy_source::{self, DEFAULT_POLICY};
use crate::{CliError, Outcome};

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
    /// PEM file with the credential's next key (`next_secret`), published beside the active
    /// one with the `kid` `next_key_id`, for a rotation without downtime.
    #[arg(long, value_name = "PEM")]
    pub next_key_file: Option<PathBuf>,
}

/// One JWK (RFC 7517/7518/8037): only public members, in the order this command has always
/// printed them (`kty`, `kid`, `use`, `alg`, then the key's own).
struct Jwk(Vec<(&'static str, String)>);

impl Serialize for Jwk {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

/// Runs the subcommand.
pub fn run(args: &Args) -> Result<Outcome, CliError> {
    let loaded = policy_source::load(&args.policy)?;
    let credentials = &loaded.compiled.policy.model().credentials;
    let Some(credential) = credentials.get(&args.credential) else {
        let ids: Vec<&str> = credentials.values().map(|c| c.id.as_str()).collect();
        let hint = match did_you_mean(&args.credential, ids.iter().copied()) {
            Some(close) => format!("did you mean `{close}`?"),
            None if ids.is_empty() => "the policy defines no credentials".to_owned(),
            None => format!("it defines: {}", ids.join(", ")),
        };
        let (id, policy) = (&args.credential, args.policy.display());
        let why = format!("no credential `{id}` in `{policy}`; {hint}");
        return Err(CliError::Usage(why));
    };
    let algorithm = credential.algorithm;
    if algorithm.is_hmac() {
        // Refused before the key file is even read: there is nothing public to derive.
        return Err(CliError::Usage(format!(
            "credential `{}` uses {algorithm} (HMAC): its key is a shared secret, so there is no public key to publish; give the API owner the secret through your secret manager instead",
            credential.id
        )));
    }
    let active = jwk_of_file(credential, credential.key_id.as_deref(), &args.key_file)?;
    let next = next_jwk(credential, args, &active)?;
    if credential.key_id.is_none() {
        eprintln!(
            "warning: credential `{}` has no `key_id`: its tokens carry no `kid`, so verifiers cannot pick this key by id",
            credential.id
        );
    }
    // `{"keys":[...]}`: the active key, then the next one.
    let keys: Vec<Jwk> = std::iter::once(active).chain(next).collect();
    let set = serde_json::to_string_pretty(&BTreeMap::from([("keys", keys)]))?;
    writeln!(std::io::stdout().lock(), "{set}")?;
    Ok(Outcome::Ok)
}

/// The next key's JWK (`kid` `next_key_id`), when `--next-key-file` is given: refused when
/// the policy names no next key, or when the file holds the active key again.
fn next_jwk(credential: &Credential, args: &Args, active: &Jwk) -> Result<Option<Jwk>, CliError> {
    let Some(file) = &args.next_key_file else {
        return Ok(None);
    };
    let Some(next) = &credential.next else {
        return Err(CliError::Usage(format!(
            "credential `{}` has no next key; name it in the policy first (`next_secret`, `next_key_id`)",
            credential.id
        )));
    };
    let jwk = jwk_of_file(credential, Some(&next.key_id), file)?;
    // Both carry a `kid` (a next key needs the active key's `key_id`): the rest is the key.
    if active.0.get(2..) == jwk.0.get(2..) {
        return Err(CliError::Usage(format!(
            "`{}` holds the same key as `{}`; the next key is a new one (`openssl genpkey`)",
            file.display(),
            args.key_file.display()
        )));
    }
    Ok(Some(jwk))
}

/// The public JWK of the key in `file`, with `kid`: [`jwk`], errors naming the file.
fn jwk_of_file(credential: &Credential, kid: Option<&str>, file: &Path) -> Result<Jwk, CliError> {
    let pem = std::fs::read(file)
        .map_err(|e| CliError::Usage(format!("cannot read key file `{}`: {e}", file.display())))?;
    jwk(credential, kid, &pem)
        .map_err(|e| CliError::Usage(format!("{e} (key file `{}`)", file.display())))
}

/// The public JWK of the key in `pem`, when it fits the credential's algorithm; the error
/// says what is wrong with the key, never what it holds.
fn jwk(credential: &Credential, kid: Option<&str>, pem: &[u8]) -> Result<Jwk, String> {
    use AlgorithmParameters::{EllipticCurve as Ec, OctetKeyPair as Okp, RSA as Rsa};
    use EllipticCurve::{Ed25519, P256, P384};
    let algorithm = credential.algorithm;
    let public = public_key(pem)?;
    let bits = match &public {
        Rsa(key) => rsa_bits(&key.n, &key.e),
        _ => usize::MAX,
    };
    let (found, kty, members) = match public {
        Rsa(key) => ("an RSA key".into(), "RSA", vec![("n", key.n), ("e", key.e)]),
        Ec(key) if matches!(key.curve, P256 | P384) => {
            let crv = if key.curve == P256 { "P-256" } else { "P-384" };
            let members = vec![("crv", crv.into()), ("x", key.x), ("y", key.y)];
            (format!("an EC {crv} key"), "EC", members)
        }
        Okp(key) if key.curve == Ed25519 => {
            let members = vec![("crv", "Ed25519".into()), ("x", key.x)];
            ("an Ed25519 key".into(), "OKP", members)
        }
        _ => return Err(unsupported("key")),
    };
    // RS* and PS* sign with RSA; HMAC credentials were refused before.
    let needs = match algorithm {
        JwtAlgorithm::ES256 => "an EC P-256 key",
        JwtAlgorithm::ES384 => "an EC P-384 key",
        JwtAlgorithm::EdDSA => "an Ed25519 key",
        _ => "an RSA key",
    };
    if found != needs {
        let id = &credential.id;
        return Err(format!(
            "credential `{id}` signs with {algorithm}, which needs {needs}, but the key file holds {found}"
        ));
    }
    // The Worker refuses the same keys at mint time (`CredentialError::WeakKey`).
    if bits < algorithm.min_key_bytes().unwrap_or(0).saturating_mul(8) {
        return Err(format!(
            "the RSA key has {bits} bits; RS*/PS* need at least 2048 (RFC 7518 section 3.3)"
        ));
    }
    let mut jwk = vec![("kty", kty.to_owned())];
    jwk.extend(kid.map(|kid| ("kid", kid.to_owned())));
    jwk.push(("use", "sig".to_owned()));
    jwk.push(("alg", algorithm.as_str().to_owned()));
    jwk.extend(members);
    Ok(Jwk(jwk))
}

/// The public half of the single key in `pem`: its PEM label says what the file holds, then
/// `jsonwebtoken` derives the public members from a private key, or reads a public one.
fn public_key(pem: &[u8]) -> Result<AlgorithmParameters, String> {
    let text = String::from_utf8_lossy(pem);
    let labels: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("-----BEGIN ")?.strip_suffix("-----"))
        .collect();
    let what = match labels.as_slice() {
        [] => return Err("no PEM block found; expected `-----BEGIN PRIVATE KEY-----` (PKCS#8) or `-----BEGIN PUBLIC KEY-----`".into()),
        ["PRIVATE KEY"] => "PKCS#8 private key",
        ["PUBLIC KEY"] => "public key",
        ["RSA PRIVATE KEY"] => "PKCS#1 private key",
        ["RSA PUBLIC KEY"] => "PKCS#1 public key",
        ["ENCRYPTED PRIVATE KEY"] => return Err("the private key is encrypted; the Worker secret holds an unencrypted PKCS#8 key, and the public key (`openssl pkey -pubout`) is enough here".into()),
        ["EC PRIVATE KEY"] => return Err("`EC PRIVATE KEY` (SEC1) is not what the Worker reads; convert it with `openssl pkcs8 -topk8 -nocrypt -in KEY.pem` or pass the public key".into()),
        [other] => {
            let label: String = other.chars().take(40).collect();
            return Err(format!("the PEM block is `{label}`, not a key; expected `PRIVATE KEY` (PKCS#8) or `PUBLIC KEY`"));
        }
        many => return Err(format!("the file holds {} PEM blocks; give a file with exactly one key", many.len())),
    };
    let private = |alg| move |key: EncodingKey| Derived::from_encoding_key(&key, alg);
    let public = |key: DecodingKey| Derived::from_decoding_key(&key, None);
    let readings: [&dyn Fn() -> jsonwebtoken::errors::Result<Derived>; 7] = [
        &|| EncodingKey::from_rsa_pem(pem).and_then(private(Algorithm::RS256)),
        &|| EncodingKey::from_ec_pem(pem).and_then(private(Algorithm::ES256)),
        &|| EncodingKey::from_ec_pem(pem).and_then(private(Algorithm::ES384)),
        &|| EncodingKey::from_ed_pem(pem).and_then(private(Algorithm::EdDSA)),
        &|| DecodingKey::from_rsa_pem(pem).and_then(public),
        &|| DecodingKey::from_ec_pem(pem).and_then(public),
        &|| DecodingKey::from_ed_pem(pem).and_then(public),
    ];
    readings
        .iter()
        .find_map(|read| read().ok())
        .map(|jwk| jwk.algorithm)
        .ok_or_else(|| unsupported(what))
}

fn unsupported(what: &str) -> String {
    format!("the {what} is not an RSA, EC P-256, EC P-384 or Ed25519 key (or it is damaged)")
}

/// The size in bits of the RSA modulus `n` (base64url, as in the JWK).
fn rsa_bits(n: &str, e: &str) -> usize {
    let key = DecodingKey::from_rsa_components(n, e);
    match key.as_ref().map(DecodingKey::kind) {
        Ok(DecodingKeyKind::RsaModulusExponent { n, .. }) => {
            let leading = n.first().map_or(8, |b| b.leading_zeros() as usize);
            (n.len() * 8).saturating_sub(leading)
        }
        _ => 0,
    }
}
