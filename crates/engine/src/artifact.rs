//! The compiled artefact the Worker embeds, bundles carry and archives keep: a checked header,
//! the policy's source, then each domain list's compiled table.
//!
//! Layout (integers little-endian): magic `EGRESSPOL` + 0 (10 bytes), format version (u32),
//! serial (u64), payload length (u64), SHA-256 of the payload (32 bytes), payload. The serial
//! orders published policies: a Worker decides with the highest-serial policy it can verify,
//! embedded or bundled. The payload is a sequence of length-prefixed (u64) parts: the file
//! name, the revision (`policy.sha256`, hex), the policy's source text, then per domain list,
//! in id order, its id and its compiled table (an `fst` set: [`DomainTable`]'s compiled form).
//!
//! **There is one way to load a policy, and it is `check`'s**: a load parses and validates the
//! source exactly as `check` and `compile` do (every error refuses the artefact) and builds
//! the matcher, so no artefact, however it was made, can hold a policy `check` would refuse.
//! Only the lists' tables are not re-read from their files (which the artefact does not
//! carry): each is used as it lies, vouched for by the payload's checksum (and a bundle's
//! signature) and by the automaton's own checksum, verified at the load, so a damaged list is
//! refused when it is loaded, never met at a lookup.
//!
//! Format versions: 1, the first; 2 adds domain lists; 3 carries each list as its compiled
//! table; 4 adds the serial; 5 carries the policy's source instead of its validated model.
//! Only format 5 is read: an artefact keeps its source, so an archived revision replays with
//! the same validation as the day it was made; artefacts of earlier formats are replayed from
//! their policy file (`replay --policy`), whose revision their lines name.

use std::ops::Range;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::diagnostic::Severity;
use crate::domain_list::{DomainTable, ListFiles, SharedBytes};
use crate::policy::CompiledPolicy;

/// The first bytes of every artefact.
pub const ARTIFACT_MAGIC: &[u8; 10] = b"EGRESSPOL\0";
/// The artefact format this engine writes and reads.
pub const ARTIFACT_FORMAT_VERSION: u32 = 5;

/// The header's length: magic, version, serial, payload length, checksum.
pub const ARTIFACT_HEADER_LEN: usize = 10 + 4 + 8 + 8 + 32;

/// Why bytes are not a loadable artefact.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ArtifactError {
    /// Not an artefact at all.
    #[error("not a compiled egress policy (bad magic)")]
    BadMagic,
    /// Written by an engine with another format version: compile (or bundle) the policy again
    /// with this version.
    #[error(
        "compiled policy format version {0} is not supported (this engine reads {ARTIFACT_FORMAT_VERSION}); recompile the policy"
    )]
    UnsupportedVersion(u32),
    /// Shorter or longer than its header says.
    #[error("compiled policy is truncated")]
    Truncated,
    /// The payload's checksum does not match: altered or damaged after it was written.
    #[error("compiled policy checksum mismatch")]
    ChecksumMismatch,
    /// The payload does not hold a valid policy; the message says what `check` would say.
    #[error("compiled policy is invalid: {0}")]
    Invalid(String),
}

/// What an artefact's header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArtifactHeader {
    /// The policy's serial.
    pub serial: u64,
    /// The payload's length.
    pub payload_len: usize,
    /// The payload's SHA-256.
    pub payload_sha256: [u8; 32],
}

/// An artefact to load, and where its lists' tables are used from.
#[derive(Clone, Debug)]
pub enum Artifact<'a> {
    /// Bytes of the caller's: the payload is hashed here, each table copied out.
    Bytes(&'a [u8]),
    /// Bytes that live as long as the program (the artefact embedded in the Worker): the
    /// payload is hashed here, the tables used where they lie.
    Static(&'static [u8]),
    /// The artefact lying at `range` of `buffer` (a bundle as read), whose payload's SHA-256
    /// the caller has already computed (the Worker hashes natively, outside Wasm): the digest
    /// is compared with the header's checksum, and the tables are used where they lie in the
    /// buffer, which the policy keeps.
    Shared {
        /// The buffer holding the artefact.
        buffer: &'a Arc<Vec<u8>>,
        /// Where the artefact lies in it.
        range: Range<usize>,
        /// The SHA-256 of exactly the artefact's payload (the bytes after its header).
        payload_sha256: &'a [u8; 32],
    },
}

impl CompiledPolicy {
    /// Serialises the policy into an artefact (see the module docs for the layout).
    pub fn to_artifact(&self) -> Vec<u8> {
        let mut parts: Vec<&[u8]> = vec![
            self.file_name().as_bytes(),
            self.sha256().as_bytes(),
            self.source().as_bytes(),
        ];
        for list in self.model().lists.values() {
            parts.push(list.id.as_bytes());
            parts.push(list.domains.section());
        }
        let mut payload = Vec::with_capacity(parts.iter().map(|p| 8 + p.len()).sum());
        for part in parts {
            payload.extend_from_slice(&(part.len() as u64).to_le_bytes());
            payload.extend_from_slice(part);
        }
        let mut out = Vec::with_capacity(ARTIFACT_HEADER_LEN + payload.len());
        out.extend_from_slice(ARTIFACT_MAGIC);
        out.extend_from_slice(&ARTIFACT_FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&self.serial().to_le_bytes());
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&Sha256::digest(&payload));
        out.extend_from_slice(&payload);
        out
    }

    /// Loads an artefact written by [`CompiledPolicy::to_artifact`]: checks magic, format
    /// version, length and checksum, then compiles the source it carries as `check` does.
    pub fn load(artifact: Artifact<'_>) -> Result<CompiledPolicy, ArtifactError> {
        let (bytes, digest) = match &artifact {
            Artifact::Bytes(bytes) | Artifact::Static(bytes) => (*bytes, None),
            Artifact::Shared {
                buffer,
                range,
                payload_sha256,
            } => (
                buffer.get(range.clone()).ok_or(ArtifactError::Truncated)?,
                Some(*payload_sha256),
            ),
        };
        let (header, payload) = split_header(bytes)?;
        let intact = match digest {
            Some(digest) => *digest == header.payload_sha256,
            None => Sha256::digest(payload).as_slice() == header.payload_sha256.as_slice(),
        };
        if !intact {
            return Err(ArtifactError::ChecksumMismatch);
        }
        let at = bytes.len() - payload.len();
        // Where the bytes of `range` of the payload lie, copied or shared.
        let section = |range: Range<usize>| -> Option<SharedBytes> {
            let range = at + range.start..at + range.end;
            match &artifact {
                Artifact::Bytes(bytes) => bytes.get(range).map(SharedBytes::copied),
                Artifact::Static(bytes) => SharedBytes::of_static(bytes, range),
                Artifact::Shared {
                    buffer, range: r, ..
                } => SharedBytes::new(
                    Arc::clone(buffer),
                    r.start + range.start..r.start + range.end,
                ),
            }
        };
        let mut policy = load_payload(payload, section)?;
        policy.set_serial(header.serial);
        Ok(policy)
    }
}

/// Compiles a payload: its source, with its lists' tables.
fn load_payload(
    payload: &[u8],
    section: impl Fn(Range<usize>) -> Option<SharedBytes>,
) -> Result<CompiledPolicy, ArtifactError> {
    let mut parts = ByteReader(payload);
    let text = |bytes: Option<&[u8]>| -> Result<String, ArtifactError> {
        std::str::from_utf8(bytes.ok_or(ArtifactError::Truncated)?)
            .map(str::to_owned)
            .map_err(|_| ArtifactError::Invalid("a text part is not UTF-8".to_owned()))
    };
    let file_name = text(parts.part())?;
    let revision = text(parts.part())?;
    let source = text(parts.part())?;
    let mut tables = ListFiles::new();
    while !parts.0.is_empty() {
        let id = text(parts.part())?;
        let part = parts.part().ok_or(ArtifactError::Truncated)?;
        let end = payload.len() - parts.0.len();
        let bytes = section(end - part.len()..end).ok_or(ArtifactError::Truncated)?;
        let table = DomainTable::from_section(bytes)
            .map_err(|e| ArtifactError::Invalid(format!("list `{id}`: {e}")))?;
        tables.insert_compiled(&id, table);
    }
    // Loaded with `check`'s validation, the tables given compiled and the revision as recorded.
    // Only errors are reported: warnings are for the policy's authors, who saw them at build.
    crate::compile::compile_source(&file_name, &source, &tables, Some(revision))
        .map(|compiled| compiled.policy)
        .map_err(|mut all| {
            all.0.retain(|d| d.severity == Severity::Error);
            ArtifactError::Invalid(all.to_string().trim_end().to_owned())
        })
}

/// Reads an artefact header of this engine's format (the first [`ARTIFACT_HEADER_LEN`] bytes
/// of an artefact; more are ignored).
pub fn read_header(bytes: &[u8]) -> Result<ArtifactHeader, ArtifactError> {
    let mut fields = ByteReader(bytes);
    if fields.take(ARTIFACT_MAGIC.len()) != Some(ARTIFACT_MAGIC.as_slice()) {
        return Err(ArtifactError::BadMagic);
    }
    let version = fields.array().map(u32::from_le_bytes);
    match version.ok_or(ArtifactError::Truncated)? {
        ARTIFACT_FORMAT_VERSION => {}
        other => return Err(ArtifactError::UnsupportedVersion(other)),
    }
    let mut header = || {
        Some(ArtifactHeader {
            serial: u64::from_le_bytes(fields.array()?),
            payload_len: fields.length()?,
            payload_sha256: fields.array()?,
        })
    };
    header().ok_or(ArtifactError::Truncated)
}

/// Reads fixed-size fields off the front of a byte slice (artefact and bundle headers).
pub(crate) struct ByteReader<'a>(pub &'a [u8]);

impl<'a> ByteReader<'a> {
    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    /// The next `N` bytes.
    pub fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    /// A length: the next 8 bytes, a little-endian `u64` that fits a `usize`.
    pub fn length(&mut self) -> Option<usize> {
        usize::try_from(u64::from_le_bytes(self.array()?)).ok()
    }

    /// The next part prefixed with its length (as [`ByteReader::length`] reads it).
    pub fn part(&mut self) -> Option<&'a [u8]> {
        let length = self.length()?;
        self.take(length)
    }
}

/// Checks magic, version and length; returns the header and the payload.
fn split_header(bytes: &[u8]) -> Result<(ArtifactHeader, &[u8]), ArtifactError> {
    let header = read_header(bytes)?;
    let payload = bytes
        .get(ARTIFACT_HEADER_LEN..)
        .filter(|payload| payload.len() == header.payload_len)
        .ok_or(ArtifactError::Truncated)?;
    Ok((header, payload))
}
