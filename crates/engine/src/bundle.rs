//! Signed policy bundles: a compiled policy that a running Worker may take up from Workers KV
//! without a rebuild, trusted only when signed by the platform's Ed25519 key and newer than
//! the one it has.
//!
//! Layout (integers little-endian):
//!
//! | bytes | field |
//! | --- | --- |
//! | 10 | magic `EGRESSBDL` + 0 |
//! | 4 | format version (u32) |
//! | 8 | serial (u64): strictly increasing from one published bundle to the next |
//! | 32 | the signer's Ed25519 public key (tells "signed by another key" from "tampered") |
//! | 8 | artefact length (u64) |
//! | n | the compiled artefact ([`CompiledPolicy::to_artifact`](crate::CompiledPolicy)) |
//! | 64 | Ed25519 signature over the bundle's head and the artefact's header (see below) |
//!
//! The signature covers every byte up to the artefact, and the artefact's own header: the
//! first [`ARTIFACT_HEADER_LEN`] bytes, which hold the SHA-256 of the rest of it. So the
//! signature binds every byte of the bundle through that checksum, and verifying it costs
//! the same for a bundle of a million names as for one of ten: the megabytes are hashed once,
//! by the artefact's checksum check, which the Worker hands to the runtime's native
//! `crypto.subtle.digest` ([`payload_range`] says which bytes).
//!
//! [`open`] checks the envelope and the signature only. **The artefact it returns is
//! authentic only once its checksum is checked**: load it with
//! [`CompiledPolicy::from_artifact`](crate::CompiledPolicy::from_artifact) or
//! [`from_shared_artifact`](crate::CompiledPolicy::from_shared_artifact), then
//! compare serials.
//!
//! Format versions: 1 signed every byte; 2 signs the heads, as above.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use ed25519_dalek::{Signature, Signer};
/// The key types bundles are sealed and opened with.
pub use ed25519_dalek::{SigningKey, VerifyingKey};

/// The first bytes of every bundle.
pub const BUNDLE_MAGIC: &[u8; 10] = b"EGRESSBDL\0";
/// The bundle format this engine writes and reads.
pub const BUNDLE_FORMAT_VERSION: u32 = 2;

/// How many of the artefact's first bytes the signature covers: its magic, version, length
/// and the SHA-256 of its payload.
pub const ARTIFACT_HEADER_LEN: usize = 10 + 4 + 8 + 32;

/// The bundle's own head: magic, version, serial, signer, artefact length.
const HEAD_LEN: usize = 10 + 4 + 8 + PUBLIC_KEY_LEN + 8;

/// How many first bytes of a bundle say which bundle it is and where its payload lies: all
/// that [`peek_serial`] and [`payload_range`] read.
pub const PREFIX_LEN: usize = HEAD_LEN + ARTIFACT_HEADER_LEN;

const PUBLIC_KEY_LEN: usize = 32;
const SIGNATURE_LEN: usize = 64;

/// Why bytes are not a bundle this Worker may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BundleError {
    /// Not a bundle at all.
    BadMagic,
    /// Written in another bundle format.
    UnsupportedVersion(u32),
    /// Shorter or longer than its header says.
    Truncated,
    /// Signed by a key other than the one this Worker trusts.
    WrongKey,
    /// Claims the trusted key, but the signature does not verify: tampered or corrupt.
    BadSignature,
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
        }
    }
}

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BundleError::BadMagic => f.write_str("not a policy bundle (bad magic)"),
            BundleError::UnsupportedVersion(v) => write!(
                f,
                "policy bundle format version {v} is not supported (this engine reads {BUNDLE_FORMAT_VERSION})"
            ),
            BundleError::Truncated => {
                f.write_str("policy bundle is truncated or has trailing bytes")
            }
            BundleError::WrongKey => f.write_str("policy bundle is signed by another key"),
            BundleError::BadSignature => f.write_str("policy bundle signature does not verify"),
        }
    }
}

impl std::error::Error for BundleError {}

/// A bundle whose signature verified: its serial and the artefact it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenedBundle<'a> {
    /// The bundle's serial.
    pub serial: u64,
    /// The compiled artefact, not yet loaded.
    pub artifact: &'a [u8],
    /// Where the artefact starts in the bundle's bytes.
    pub artifact_at: usize,
}

/// Signs `artifact` as bundle number `serial` with `key`.
pub fn seal(artifact: &[u8], serial: u64, key: &SigningKey) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        BUNDLE_MAGIC.len() + 4 + 8 + PUBLIC_KEY_LEN + 8 + artifact.len() + SIGNATURE_LEN,
    );
    out.extend_from_slice(BUNDLE_MAGIC);
    out.extend_from_slice(&BUNDLE_FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&serial.to_le_bytes());
    out.extend_from_slice(key.verifying_key().as_bytes());
    out.extend_from_slice(&(artifact.len() as u64).to_le_bytes());
    out.extend_from_slice(artifact);
    let signed = out.get(..signed_len(artifact.len())).unwrap_or_default();
    let signature = key.sign(signed);
    out.extend_from_slice(&signature.to_bytes());
    out
}

/// How many leading bytes of a bundle carrying an artefact of `artifact_len` bytes are signed.
fn signed_len(artifact_len: usize) -> usize {
    HEAD_LEN + artifact_len.min(ARTIFACT_HEADER_LEN)
}

/// Where the artefact's payload (the bytes its checksum covers) lies in a bundle of
/// `total_len` bytes, read from the bundle's first bytes (`head`, at least its head and the
/// artefact's header; more is ignored). `None` when the lengths do not fit together: such a
/// bundle is refused by [`open`] anyway. Nothing here is verified.
pub fn payload_range(head: &[u8], total_len: usize) -> Option<std::ops::Range<usize>> {
    let mut reader = Reader { rest: head };
    reader.take(HEAD_LEN - 8)?;
    let artifact_len = usize::try_from(u64::from_le_bytes(reader.array().ok()?)).ok()?;
    let end = HEAD_LEN.checked_add(artifact_len)?;
    (artifact_len >= ARTIFACT_HEADER_LEN && end.checked_add(SIGNATURE_LEN)? == total_len)
        .then_some(HEAD_LEN + ARTIFACT_HEADER_LEN..end)
}

/// Checks a bundle against the one public key trusted (`trusted`): its envelope, the key it
/// names and its signature (strict Ed25519 verification). The artefact's payload is not read:
/// its checksum, checked when it is loaded, is what the signature vouches for.
pub fn open<'a>(bytes: &'a [u8], trusted: &VerifyingKey) -> Result<OpenedBundle<'a>, BundleError> {
    let mut reader = Reader { rest: bytes };
    if reader
        .take(BUNDLE_MAGIC.len())
        .ok_or(BundleError::BadMagic)?
        != BUNDLE_MAGIC
    {
        return Err(BundleError::BadMagic);
    }
    let version = u32::from_le_bytes(reader.array()?);
    if version != BUNDLE_FORMAT_VERSION {
        return Err(BundleError::UnsupportedVersion(version));
    }
    let serial = u64::from_le_bytes(reader.array()?);
    let signer: [u8; PUBLIC_KEY_LEN] = reader.array()?;
    let len =
        usize::try_from(u64::from_le_bytes(reader.array()?)).map_err(|_| BundleError::Truncated)?;
    let artifact = reader.take(len).ok_or(BundleError::Truncated)?;
    let signed_len = signed_len(artifact.len());
    let signature: [u8; SIGNATURE_LEN] = reader.array()?;
    if !reader.rest.is_empty() {
        return Err(BundleError::Truncated);
    }
    if &signer != trusted.as_bytes() {
        return Err(BundleError::WrongKey);
    }
    let signed = bytes.get(..signed_len).ok_or(BundleError::Truncated)?;
    trusted
        .verify_strict(signed, &Signature::from_bytes(&signature))
        .map_err(|_| BundleError::BadSignature)?;
    Ok(OpenedBundle {
        serial,
        artifact,
        artifact_at: HEAD_LEN,
    })
}

/// The serial a bundle claims, read from its header without any check: only to recognise a
/// bundle already judged. `None` when the bytes do not start like a bundle of this format.
pub fn peek_serial(bytes: &[u8]) -> Option<u64> {
    let mut reader = Reader { rest: bytes };
    if reader.take(BUNDLE_MAGIC.len())? != BUNDLE_MAGIC {
        return None;
    }
    let version = u32::from_le_bytes(reader.array().ok()?);
    (version == BUNDLE_FORMAT_VERSION)
        .then(|| reader.array().ok().map(u64::from_le_bytes))
        .flatten()
}

/// The trusted public key from its text form: 32 bytes as base64 (standard or URL-safe,
/// padding optional) or as 64 hex digits.
pub fn public_key_from_text(text: &str) -> Option<VerifyingKey> {
    let text = text.trim();
    let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex_bytes(text)?
    } else {
        base64_bytes(text)?
    };
    let array: [u8; PUBLIC_KEY_LEN] = bytes.try_into().ok()?;
    VerifyingKey::from_bytes(&array).ok()
}

/// A public key's text form, as [`public_key_from_text`] reads it: unpadded URL-safe base64.
pub fn public_key_to_text(key: &VerifyingKey) -> String {
    URL_SAFE_NO_PAD.encode(key.as_bytes())
}

fn hex_bytes(text: &str) -> Option<Vec<u8>> {
    text.as_bytes()
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}

/// Standard or URL-safe base64, padded or not.
fn base64_bytes(text: &str) -> Option<Vec<u8>> {
    let digits = text.trim_end_matches('=');
    URL_SAFE_NO_PAD
        .decode(digits)
        .or_else(|_| STANDARD_NO_PAD.decode(digits))
        .ok()
}

/// Reads fixed-size fields off the front of a byte slice.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.rest.split_at_checked(n)?;
        self.rest = rest;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], BundleError> {
        self.take(N)
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(BundleError::Truncated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn a_sealed_bundle_opens_with_its_key_only() {
        let bundle = seal(b"artefact bytes", 7, &key(1));
        let opened = open(&bundle, &key(1).verifying_key()).unwrap();
        assert_eq!(
            opened,
            OpenedBundle {
                serial: 7,
                artifact: b"artefact bytes",
                artifact_at: 62,
            }
        );
        assert_eq!(
            open(&bundle, &key(2).verifying_key()),
            Err(BundleError::WrongKey)
        );
    }

    #[test]
    fn every_flipped_bit_is_refused() {
        let bundle = seal(b"a small artefact", 3, &key(1));
        let trusted = key(1).verifying_key();
        for i in 0..bundle.len() {
            let mut tampered = bundle.clone();
            tampered[i] ^= 0x01;
            assert!(
                open(&tampered, &trusted).is_err(),
                "byte {i} flipped was accepted"
            );
        }
    }

    fn artefact() -> Vec<u8> {
        let text =
            "version = 1\n[[rules]]\nid = \"b\"\naction = \"block\"\nhosts = [\"evil.test\"]\n";
        crate::compile("p.toml", text).unwrap().policy.to_artifact()
    }

    /// What the Worker does: open, then load with the checksum checked. Every flipped byte of
    /// a real bundle is refused by one or the other, the payload's by the checksum the
    /// signature covers.
    #[test]
    fn every_flipped_byte_of_a_real_bundle_is_refused_by_open_or_load() {
        let artefact = artefact();
        let bundle = seal(&artefact, 3, &key(1));
        let trusted = key(1).verifying_key();
        let accept = |bytes: &[u8]| {
            open(bytes, &trusted)
                .ok()
                .and_then(|o| crate::CompiledPolicy::from_artifact(o.artifact).ok())
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
        let artefact = artefact();
        let bundle = seal(&artefact, 3, &key(1));
        let range = payload_range(&bundle[..200], bundle.len()).unwrap();
        assert_eq!(
            &bundle[range],
            crate::artifact::artifact_payload(&artefact).unwrap()
        );
        assert_eq!(payload_range(&bundle[..200], bundle.len() + 1), None);
        assert_eq!(payload_range(&bundle[..20], bundle.len()), None);
        let tiny = seal(b"x", 1, &key(1));
        assert_eq!(payload_range(&tiny, tiny.len()), None);
    }

    #[test]
    fn a_forged_signer_field_does_not_help() {
        // Another key signs, then claims the trusted key: the signature cannot verify.
        let mut bundle = seal(b"evil", 99, &key(2));
        let trusted = key(1).verifying_key();
        bundle[22..54].copy_from_slice(trusted.as_bytes());
        assert_eq!(open(&bundle, &trusted), Err(BundleError::BadSignature));
    }

    #[test]
    fn the_serial_can_be_peeked_unchecked() {
        let bundle = seal(b"x", 77, &key(1));
        assert_eq!(peek_serial(&bundle), Some(77));
        assert_eq!(peek_serial(&bundle[..20]), None);
        assert_eq!(peek_serial(b"EGRESSPOL\0"), None);
    }

    #[test]
    fn envelope_errors() {
        let trusted = key(1).verifying_key();
        let bundle = seal(b"x", 1, &key(1));
        assert_eq!(open(b"", &trusted), Err(BundleError::BadMagic));
        assert_eq!(
            open(b"EGRESSPOL\0rest", &trusted),
            Err(BundleError::BadMagic)
        );
        assert_eq!(
            open(&bundle[..bundle.len() - 1], &trusted),
            Err(BundleError::Truncated)
        );
        let mut longer = bundle.clone();
        longer.push(0);
        assert_eq!(open(&longer, &trusted), Err(BundleError::Truncated));
        let mut other_version = bundle.clone();
        other_version[10] = 1;
        assert_eq!(
            open(&other_version, &trusted),
            Err(BundleError::UnsupportedVersion(1))
        );
        let mut huge_length = bundle;
        huge_length[54..62].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(open(&huge_length, &trusted), Err(BundleError::Truncated));
    }

    #[test]
    fn public_key_text_round_trips_in_every_accepted_form() {
        let public = key(5).verifying_key();
        let text = public_key_to_text(&public);
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
