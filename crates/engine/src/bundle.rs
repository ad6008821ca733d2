//! Signed policy bundles: a compiled policy that a running Worker may take up from Workers KV
//! without a rebuild, trusted only when signed by the platform's Ed25519 key for the
//! Worker's own environment, and newer than the policy it has.
//!
//! Layout (integers little-endian):
//!
//! | bytes | field |
//! | --- | --- |
//! | 10 | magic `EGRESSBDL` + 0 |
//! | 4 | format version (u32) |
//! | 8 | when it was made, Unix seconds (u64): shown by `bundle inspect`, never trusted for order |
//! | 32 | the signer's Ed25519 public key (tells "signed by another key" from "tampered") |
//! | 64 | the environment it is for (ASCII, NUL-padded): a bundle never decides elsewhere |
//! | 8 | artefact length (u64) |
//! | n | the compiled artefact ([`CompiledPolicy::to_artifact`](crate::CompiledPolicy)), whose header holds the serial |
//! | 64 | Ed25519 signature over the bundle's head and the artefact's header (see below) |
//!
//! The signature covers every byte up to the artefact, and the artefact's own header: the
//! first [`ARTIFACT_HEADER_LEN`] bytes, which hold the serial and the SHA-256 of the rest of
//! it. So the signature binds every byte of the bundle through that checksum, and verifying
//! it costs the same for a bundle of a million names as for one of ten.
//!
//! The signed bytes and the signature together are the bundle's **head**
//! ([`HEAD_LEN`] bytes, [`head_of`]): published beside the bundle, it lets a Worker learn
//! whether a bundle is news by reading a few hundred bytes, and check its signature before a
//! single byte of the payload is hashed or copied ([`verify_head`]). A bundle then belongs to
//! its head when its first and last bytes are the head's ([`Head::fits`]); its payload is
//! authentic once its SHA-256 equals the head's checksum.
//!
//! Format versions: 1 signed every byte; 2 signed the heads; 3 adds the environment and the
//! creation time, and takes the serial from the artefact's header.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use ed25519_dalek::{Signature, Signer};
/// The key types bundles are sealed and opened with.
pub use ed25519_dalek::{SigningKey, VerifyingKey};

use crate::artifact::{self, ByteReader};

pub use crate::artifact::ARTIFACT_HEADER_LEN;

/// The first bytes of every bundle.
pub const BUNDLE_MAGIC: &[u8; 10] = b"EGRESSBDL\0";
/// The bundle format this engine writes and reads.
pub const BUNDLE_FORMAT_VERSION: u32 = 3;
/// The most bytes an environment name may have.
pub const ENVIRONMENT_LEN: usize = 64;

const PUBLIC_KEY_LEN: usize = 32;
const SIGNATURE_LEN: usize = 64;
/// The bundle's own fields before the artefact.
const ENVELOPE_LEN: usize = 10 + 4 + 8 + PUBLIC_KEY_LEN + ENVIRONMENT_LEN + 8;
/// The signed bytes: the envelope and the artefact's header.
const SIGNED_LEN: usize = ENVELOPE_LEN + ARTIFACT_HEADER_LEN;

/// How many bytes a bundle's head has: the signed bytes, then the signature.
pub const HEAD_LEN: usize = SIGNED_LEN + SIGNATURE_LEN;

/// Why bytes are not a bundle this Worker may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// Not a bundle at all.
    #[error("not a policy bundle (bad magic)")]
    BadMagic,
    /// Written in another bundle format: publish again with this version's CLI.
    #[error(
        "policy bundle format version {0} is not supported (this engine reads {BUNDLE_FORMAT_VERSION}); bundle the policy again"
    )]
    UnsupportedVersion(u32),
    /// Shorter or longer than its head says, or the head does not fit the bundle.
    #[error("policy bundle is truncated or has trailing bytes")]
    Truncated,
    /// Signed by a key other than the one this Worker trusts.
    #[error("policy bundle is signed by another key")]
    WrongKey,
    /// Claims the trusted key, but the signature does not verify: tampered or corrupt.
    #[error("policy bundle signature does not verify")]
    BadSignature,
    /// Signed for another environment (a staging bundle in production).
    #[error("policy bundle is signed for another environment")]
    WrongEnvironment,
}

impl BundleError {
    /// The fixed code logged for the refusal.
    pub fn code(self) -> &'static str {
        match self {
            BundleError::BadMagic => "not_a_bundle",
            BundleError::UnsupportedVersion(_) => "unsupported_version",
            BundleError::Truncated => "truncated",
            BundleError::WrongKey => "wrong_key",
            BundleError::BadSignature => "bad_signature",
            BundleError::WrongEnvironment => "wrong_environment",
        }
    }
}

/// What a bundle's head says, read without any check ([`read_head`]) or after its signature
/// verified ([`verify_head`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// The serial of the policy it carries (the artefact header's).
    pub serial: u64,
    /// When the bundle was made, Unix seconds (as the signer's clock said).
    pub created_secs: u64,
    /// The key it claims to be signed with.
    pub signer: [u8; PUBLIC_KEY_LEN],
    /// The environment it is for.
    pub environment: String,
    /// The artefact's length.
    pub artifact_len: usize,
    /// The SHA-256 of the artefact's payload: what the rest of the bundle must hash to.
    pub payload_sha256: [u8; 32],
    /// The head's own bytes ([`HEAD_LEN`]): a bundle is known by them exactly.
    pub bytes: Box<[u8]>,
}

impl Head {
    /// The length of the whole bundle this head belongs to.
    pub fn bundle_len(&self) -> usize {
        ENVELOPE_LEN + self.artifact_len + SIGNATURE_LEN
    }

    /// Where the artefact's payload (the bytes its checksum covers) lies in the bundle.
    pub fn payload_range(&self) -> std::ops::Range<usize> {
        SIGNED_LEN..ENVELOPE_LEN + self.artifact_len
    }

    /// Where the artefact lies in the bundle.
    pub fn artifact_range(&self) -> std::ops::Range<usize> {
        ENVELOPE_LEN..ENVELOPE_LEN + self.artifact_len
    }

    /// Whether `bundle` is the bundle of this head: its length, first and last bytes. (Its
    /// payload is authentic once it hashes to [`Head::payload_sha256`].)
    pub fn fits(&self, bundle: &[u8]) -> bool {
        bundle.len() == self.bundle_len()
            && head_of(bundle).is_some_and(|head| *head == *self.bytes)
    }
}

/// Signs `artifact` (which carries its serial) for `environment` with `key`, made at
/// `created_secs`. `None` when the environment is not a valid name ([`valid_environment`]).
pub fn seal(
    artifact: &[u8],
    environment: &str,
    created_secs: u64,
    key: &SigningKey,
) -> Option<Vec<u8>> {
    if !valid_environment(environment) {
        return None;
    }
    let mut out = Vec::with_capacity(ENVELOPE_LEN + artifact.len() + SIGNATURE_LEN);
    out.extend_from_slice(BUNDLE_MAGIC);
    out.extend_from_slice(&BUNDLE_FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&created_secs.to_le_bytes());
    out.extend_from_slice(key.verifying_key().as_bytes());
    // The name, NUL-padded: a valid name has at most `ENVIRONMENT_LEN` bytes.
    out.extend_from_slice(environment.as_bytes());
    out.resize(out.len() + ENVIRONMENT_LEN - environment.len(), 0);
    out.extend_from_slice(&(artifact.len() as u64).to_le_bytes());
    out.extend_from_slice(artifact);
    let signature = key.sign(out.get(..SIGNED_LEN.min(out.len()))?);
    out.extend_from_slice(&signature.to_bytes());
    Some(out)
}

/// Whether `name` may name an environment: 1 to [`ENVIRONMENT_LEN`] ASCII letters, digits,
/// `-`, `_` or `.`.
pub fn valid_environment(name: &str) -> bool {
    crate::is_name(name, ENVIRONMENT_LEN, b"-_.")
}

/// The head of a bundle: its signed first bytes and its last 64 (the signature). `None` when
/// it is too short to have one.
pub fn head_of(bundle: &[u8]) -> Option<Vec<u8>> {
    // The fewest bytes a bundle can have: an artefact of its header alone.
    if bundle.len() < HEAD_LEN {
        return None;
    }
    let tail = bundle.get(bundle.len() - SIGNATURE_LEN..)?;
    Some([bundle.get(..SIGNED_LEN)?, tail].concat())
}

/// Reads a head ([`HEAD_LEN`] bytes) without checking its signature: only to show it
/// (`bundle inspect`) or to compare serials of heads already trusted.
pub fn read_head(head: &[u8]) -> Result<Head, BundleError> {
    let mut reader = ByteReader(head);
    if reader.take(BUNDLE_MAGIC.len()) != Some(BUNDLE_MAGIC.as_slice()) {
        return Err(BundleError::BadMagic);
    }
    let version = reader.array().map(u32::from_le_bytes);
    match version.ok_or(BundleError::Truncated)? {
        BUNDLE_FORMAT_VERSION => {}
        other => return Err(BundleError::UnsupportedVersion(other)),
    }
    let fields = (
        reader.array().map(u64::from_le_bytes),
        reader.array::<PUBLIC_KEY_LEN>(),
        reader.array::<ENVIRONMENT_LEN>(),
        reader.length(),
        reader.array::<ARTIFACT_HEADER_LEN>(),
    );
    let (Some(created_secs), Some(signer), Some(field), Some(artifact_len), Some(header)) = fields
    else {
        return Err(BundleError::Truncated);
    };
    // What is left is the signature, and the artefact is as long as its header says.
    let header = artifact::read_header(&header)
        .ok()
        .filter(|h| h.payload_len.checked_add(ARTIFACT_HEADER_LEN) == Some(artifact_len))
        .filter(|_| reader.0.len() == SIGNATURE_LEN)
        .ok_or(BundleError::Truncated)?;
    // A valid name holds no NUL: the padding is every NUL after it.
    let environment = std::str::from_utf8(&field)
        .map(|field| field.trim_end_matches('\0'))
        .ok()
        .filter(|name| valid_environment(name))
        .ok_or(BundleError::Truncated)?
        .to_owned();
    Ok(Head {
        serial: header.serial,
        created_secs,
        signer,
        environment,
        artifact_len,
        payload_sha256: header.payload_sha256,
        bytes: head.into(),
    })
}

/// Checks a head against the one public key trusted and the Worker's own environment: its
/// fields, the key it names, its signature (strict Ed25519 verification), then its
/// environment. Nothing of the payload is read: the payload is authentic once it hashes to
/// the head's [`Head::payload_sha256`].
pub fn verify_head(
    head: &[u8],
    trusted: &VerifyingKey,
    environment: &str,
) -> Result<Head, BundleError> {
    let read = read_head(head)?;
    if &read.signer != trusted.as_bytes() {
        return Err(BundleError::WrongKey);
    }
    let (signed, signature) = head
        .split_at_checked(SIGNED_LEN)
        .ok_or(BundleError::Truncated)?;
    let signature: [u8; SIGNATURE_LEN] =
        signature.try_into().map_err(|_| BundleError::Truncated)?;
    trusted
        .verify_strict(signed, &Signature::from_bytes(&signature))
        .map_err(|_| BundleError::BadSignature)?;
    if read.environment != environment {
        return Err(BundleError::WrongEnvironment);
    }
    Ok(read)
}

/// Checks a whole bundle's head ([`verify_head`]) and that the bundle fits it. Returns the
/// head; the artefact lies at [`Head::artifact_range`], its payload still to be checked
/// against the checksum when it is loaded.
pub fn open(bundle: &[u8], trusted: &VerifyingKey, environment: &str) -> Result<Head, BundleError> {
    let head = head_of(bundle).ok_or(BundleError::Truncated)?;
    if read_head(&head)?.bundle_len() != bundle.len() {
        return Err(BundleError::Truncated);
    }
    verify_head(&head, trusted, environment)
}

/// The trusted public key from its text form: 32 bytes as base64 (standard or URL-safe,
/// padding optional) or as 64 hex digits.
pub fn public_key_from_text(text: &str) -> Option<VerifyingKey> {
    let text = text.trim();
    let hex = base16ct::mixed::decode_vec(text).ok();
    let bytes = hex
        .filter(|b| b.len() == PUBLIC_KEY_LEN)
        .or_else(|| base64_bytes(text))?;
    VerifyingKey::from_bytes(&bytes.try_into().ok()?).ok()
}

/// A public key's text form, as [`public_key_from_text`] reads it: unpadded URL-safe base64.
pub fn public_key_to_text(key: &[u8; PUBLIC_KEY_LEN]) -> String {
    URL_SAFE_NO_PAD.encode(key)
}

/// Standard or URL-safe base64, padded or not.
fn base64_bytes(text: &str) -> Option<Vec<u8>> {
    let digits = text.trim_end_matches('=');
    URL_SAFE_NO_PAD
        .decode(digits)
        .or_else(|_| STANDARD_NO_PAD.decode(digits))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn artefact(serial: u64) -> Vec<u8> {
        let text =
            "version = 1\n[[rules]]\nid = \"b\"\naction = \"block\"\nhosts = [\"evil.test\"]\n";
        let mut policy = crate::compile("p.toml", text).unwrap().policy;
        policy.set_serial(serial);
        policy.to_artifact()
    }

    fn sealed(serial: u64, env: &str, signer: u8) -> Vec<u8> {
        seal(&artefact(serial), env, 1_800_000_000, &key(signer)).unwrap()
    }

    #[test]
    fn a_sealed_bundle_opens_with_its_key_and_environment_only() {
        let bundle = sealed(7, "production", 1);
        let head = open(&bundle, &key(1).verifying_key(), "production").unwrap();
        assert_eq!(head.serial, 7);
        assert_eq!(head.created_secs, 1_800_000_000);
        assert_eq!(head.environment, "production");
        assert_eq!(head.bundle_len(), bundle.len());
        assert_eq!(*head.bytes, *head_of(&bundle).unwrap());
        assert_eq!(head.bytes.len(), HEAD_LEN);
        assert!(head.fits(&bundle));
        assert_eq!(
            open(&bundle, &key(2).verifying_key(), "production"),
            Err(BundleError::WrongKey)
        );
        assert_eq!(
            open(&bundle, &key(1).verifying_key(), "staging"),
            Err(BundleError::WrongEnvironment)
        );
    }

    #[test]
    fn the_head_alone_verifies_and_a_bundle_fits_only_its_own_head() {
        let bundle = sealed(7, "production", 1);
        let trusted = key(1).verifying_key();
        let head = verify_head(&head_of(&bundle).unwrap(), &trusted, "production").unwrap();
        let other = sealed(8, "production", 1);
        assert!(!head.fits(&other));
        let mut longer = bundle.clone();
        longer.insert(300, 0);
        assert!(!head.fits(&longer));
    }

    #[test]
    fn every_flipped_bit_of_the_head_is_refused() {
        let bundle = sealed(3, "production", 1);
        let head = head_of(&bundle).unwrap();
        let trusted = key(1).verifying_key();
        for i in 0..head.len() {
            for bit in [0x01, 0x80] {
                let mut tampered = head.clone();
                tampered[i] ^= bit;
                assert!(
                    verify_head(&tampered, &trusted, "production").is_err(),
                    "byte {i} bit {bit:#x} flipped was accepted"
                );
            }
        }
    }

    /// What the Worker does: verify the head, check the bundle fits it, hash the payload and
    /// load with the checksum compared. Every flipped byte of a real bundle is refused by one
    /// of them.
    #[test]
    fn every_flipped_byte_of_a_real_bundle_is_refused_by_open_or_load() {
        let bundle = sealed(3, "production", 1);
        let trusted = key(1).verifying_key();
        let accept = |bytes: &[u8]| {
            open(bytes, &trusted, "production")
                .ok()
                .and_then(|h| {
                    crate::CompiledPolicy::load(crate::artifact::Artifact::Bytes(
                        bytes.get(h.artifact_range())?,
                    ))
                    .ok()
                })
                .is_some()
        };
        assert!(accept(&bundle));
        for i in 0..bundle.len() {
            let mut tampered = bundle.clone();
            tampered[i] ^= 0x01;
            assert!(!accept(&tampered), "byte {i} flipped was accepted");
        }
    }

    #[test]
    fn the_payload_range_is_what_the_artefact_checksum_covers() {
        let artefact = artefact(3);
        let bundle = seal(&artefact, "production", 0, &key(1)).unwrap();
        let head = read_head(&head_of(&bundle).unwrap()).unwrap();
        assert_eq!(
            &bundle[head.payload_range()],
            &artefact[ARTIFACT_HEADER_LEN..]
        );
        assert_eq!(&bundle[head.artifact_range()], &artefact[..]);
    }

    #[test]
    fn a_forged_signer_field_does_not_help() {
        // Another key signs, then claims the trusted key: the signature cannot verify.
        let mut bundle = sealed(99, "production", 2);
        let trusted = key(1).verifying_key();
        bundle[22..54].copy_from_slice(trusted.as_bytes());
        assert_eq!(
            open(&bundle, &trusted, "production"),
            Err(BundleError::BadSignature)
        );
    }

    #[test]
    fn environments_are_names() {
        for good in ["production", "eu-west.1", "a", &"x".repeat(64)] {
            assert!(valid_environment(good), "{good}");
        }
        for bad in ["", "prod env", "prod\0", "é", &"x".repeat(65)] {
            assert!(!valid_environment(bad), "{bad:?}");
            assert!(seal(b"x", bad, 0, &key(1)).is_none());
        }
    }

    #[test]
    fn envelope_errors() {
        let trusted = key(1).verifying_key();
        let bundle = sealed(1, "production", 1);
        let open = |bytes: &[u8]| open(bytes, &trusted, "production");
        assert_eq!(open(b""), Err(BundleError::Truncated));
        let mut not_a_bundle = bundle.clone();
        not_a_bundle[..10].copy_from_slice(b"EGRESSPOL\0");
        assert_eq!(open(&not_a_bundle), Err(BundleError::BadMagic));
        assert_eq!(
            open(&bundle[..bundle.len() - 1]),
            Err(BundleError::Truncated)
        );
        let mut longer = bundle.clone();
        longer.push(0);
        assert_eq!(open(&longer), Err(BundleError::Truncated));
        let mut other_version = bundle.clone();
        other_version[10] = 2;
        assert_eq!(
            open(&other_version),
            Err(BundleError::UnsupportedVersion(2))
        );
        let mut huge_length = bundle;
        huge_length[118..126].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(open(&huge_length), Err(BundleError::Truncated));
    }

    #[test]
    fn public_key_text_round_trips_in_every_accepted_form() {
        let public = key(5).verifying_key();
        let text = public_key_to_text(public.as_bytes());
        assert_eq!(text.len(), 43);
        assert_eq!(public_key_from_text(&text), Some(public));
        assert_eq!(public_key_from_text(&format!(" {text}=\n")), Some(public));
        let standard = text.replace('-', "+").replace('_', "/");
        assert_eq!(public_key_from_text(&standard), Some(public));
        let hex: String = public
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(public_key_from_text(&hex), Some(public));
        assert_eq!(public_key_from_text("too short"), None);
        assert_eq!(public_key_from_text(""), None);
    }
}
