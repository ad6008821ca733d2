//! The compiled artefact the Worker embeds and bundles carry: a checked header, the validated
//! model, then each domain list's compiled table.
//!
//! Layout (integers little-endian): magic `EGRESSPOL` + 0 (10 bytes), format version (u32),
//! serial (u64), payload length (u64), SHA-256 of the payload (32 bytes), payload. The serial
//! orders published policies: a Worker decides with the highest-serial policy it can verify,
//! embedded or bundled. The payload is the model's length (u64) and JSON (the file name and
//! the validated model, each list's names left out), then per list of the model, in id
//! order, its section's length (u64) and the section (an `fst` set: [`DomainTable`]'s
//! compiled form).
//!
//! Loading re-validates host patterns and path globs as the model is deserialised and
//! rebuilds the matcher, so the model of an artefact can never yield an engine that an
//! equivalent policy file would not. A list's table is used as it lies, vouched for by the
//! payload's checksum (and a bundle's signature) and by the automaton's own checksum,
//! verified once per load, so a damaged list is refused when it is loaded, never met at a
//! lookup.
//!
//! Format versions: 1, the first; 2 adds domain lists (`lists` in the model and on rules);
//! 3 carries each list as its compiled table instead of its names in the JSON; 4 adds the
//! serial to the header.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use std::ops::Range;
use std::sync::Arc;

use crate::domain_list::{DomainTable, SharedBytes};
use crate::model::PolicyModel;
use crate::policy::CompiledPolicy;

/// The first bytes of every artefact.
pub const ARTIFACT_MAGIC: &[u8; 10] = b"EGRESSPOL\0";
/// The artefact format this engine writes and reads.
pub const ARTIFACT_FORMAT_VERSION: u32 = 4;

/// The header's length: magic, version, serial, payload length, checksum.
pub const ARTIFACT_HEADER_LEN: usize = 10 + 4 + 8 + 8 + 32;

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

/// Why bytes are not a loadable artefact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArtifactError {
    /// Not an artefact at all.
    BadMagic,
    /// Written by an engine with another format version; recompile the policy.
    UnsupportedVersion(u32),
    /// Shorter than its header says.
    Truncated,
    /// The payload's checksum does not match.
    ChecksumMismatch,
    /// The payload does not decode into a valid policy.
    Invalid(String),
}

impl fmt::Display for ArtifactError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArtifactError::BadMagic => f.write_str("not a compiled egress policy (bad magic)"),
            ArtifactError::UnsupportedVersion(v) => write!(
                f,
                "compiled policy format version {v} is not supported (this engine reads {ARTIFACT_FORMAT_VERSION}); recompile the policy"
            ),
            ArtifactError::Truncated => f.write_str("compiled policy is truncated"),
            ArtifactError::ChecksumMismatch => f.write_str("compiled policy checksum mismatch"),
            ArtifactError::Invalid(e) => write!(f, "compiled policy is invalid: {e}"),
        }
    }
}

impl std::error::Error for ArtifactError {}

#[derive(Serialize)]
struct PayloadRef<'a> {
    file_name: &'a str,
    model: &'a PolicyModel,
}

#[derive(Deserialize)]
struct Payload {
    file_name: String,
    model: PolicyModel,
}

impl CompiledPolicy {
    /// Serialises the policy into an artefact (see the module docs for the layout).
    pub fn to_artifact(&self) -> Vec<u8> {
        // The names travel in the sections; the JSON keeps each list's other fields.
        let mut model = self.model().clone();
        for list in model.lists.values_mut() {
            list.domains = DomainTable::default();
        }
        let json = serde_json::to_vec(&PayloadRef {
            file_name: self.file_name(),
            model: &model,
        })
        // Serialising plain data structs with string keys cannot fail; an empty payload
        // would be rejected on load rather than silently accepted.
        .unwrap_or_default();
        let sections: Vec<&[u8]> = self
            .model()
            .lists
            .values()
            .map(|list| list.domains.section())
            .collect();
        let mut payload = Vec::with_capacity(
            8 + json.len() + sections.iter().map(|s| 8 + s.len()).sum::<usize>(),
        );
        for part in std::iter::once(json.as_slice()).chain(sections) {
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

    /// Loads an artefact written by [`CompiledPolicy::to_artifact`], checking magic, format
    /// version, length and checksum. Each list's table is copied out of `bytes`.
    pub fn from_artifact(bytes: &[u8]) -> Result<CompiledPolicy, ArtifactError> {
        load(bytes, None, |range| {
            bytes.get(range).map(SharedBytes::copied)
        })
    }

    /// Loads an artefact that lives as long as the program (the one embedded in the Worker),
    /// checking it like [`CompiledPolicy::from_artifact`]; the lists' tables are used where
    /// they lie in it, never copied.
    pub fn from_static_artifact(bytes: &'static [u8]) -> Result<CompiledPolicy, ArtifactError> {
        load(bytes, None, |range| SharedBytes::of_static(bytes, range))
    }

    /// Loads the artefact lying at `artifact` in `buffer` (a bundle, as read), whose payload's
    /// SHA-256 the caller has already computed: the Worker hashes it with the runtime's native
    /// `crypto.subtle` rather than in Wasm. `payload_sha256` must be the digest of exactly the
    /// bytes [`artifact_payload`] gives; it is compared with the checksum in the header as
    /// [`CompiledPolicy::from_artifact`] compares its own. The lists' tables are used where
    /// they lie in `buffer`, which the policy keeps: a 12 MB feed is never copied.
    pub fn from_shared_artifact(
        buffer: &Arc<Vec<u8>>,
        artifact: Range<usize>,
        payload_sha256: &[u8; 32],
    ) -> Result<CompiledPolicy, ArtifactError> {
        let bytes = buffer
            .get(artifact.clone())
            .ok_or(ArtifactError::Truncated)?;
        let at = artifact.start;
        load(bytes, Some(payload_sha256), |range| {
            SharedBytes::new(Arc::clone(buffer), at + range.start..at + range.end)
        })
    }
}

/// Checks the artefact `bytes`: its header, and its payload against `payload_sha256` (a digest
/// the caller computed) or, when `None`, against a SHA-256 computed here. Then loads it;
/// `section` gives a list table's bytes from their range in `bytes`, copied or shared.
fn load(
    bytes: &[u8],
    payload_sha256: Option<&[u8; 32]>,
    section: impl Fn(Range<usize>) -> Option<SharedBytes>,
) -> Result<CompiledPolicy, ArtifactError> {
    let (header, payload) = split_header(bytes)?;
    let intact = match payload_sha256 {
        Some(digest) => *digest == header.payload_sha256,
        None => Sha256::digest(payload).as_slice() == header.payload_sha256.as_slice(),
    };
    if !intact {
        return Err(ArtifactError::ChecksumMismatch);
    }
    let payload_at = bytes.len() - payload.len();
    let mut policy = load_payload(payload, |range| {
        section(payload_at + range.start..payload_at + range.end)
    })?;
    policy.set_serial(header.serial);
    Ok(policy)
}

/// Loads an artefact of this engine's format or of an earlier one, for auditors replaying
/// archived revisions (`replay --archive`): formats 1 and 2 carried a list's names joined in
/// the JSON, which are read, checked and compiled again here. The Worker never reads an
/// earlier format: a bundle of one is refused.
pub fn from_archived_artifact(bytes: &[u8]) -> Result<CompiledPolicy, ArtifactError> {
    match magic_and_version(bytes)?.0 {
        ARTIFACT_FORMAT_VERSION => return CompiledPolicy::from_artifact(bytes),
        1..=3 => {}
        other => return Err(ArtifactError::UnsupportedVersion(other)),
    }
    let (version, checksum, payload) = split_old_header(bytes)?;
    if Sha256::digest(payload).as_slice() != checksum.as_slice() {
        return Err(ArtifactError::ChecksumMismatch);
    }
    if version == 3 {
        // Format 3 is format 4 without the serial: the same payload.
        return load_payload(payload, |range| payload.get(range).map(SharedBytes::copied));
    }
    let invalid = |e: serde_json::Error| ArtifactError::Invalid(e.to_string());
    let mut value: serde_json::Value = serde_json::from_slice(payload).map_err(invalid)?;
    // The names come out of the JSON before the model is read (a model's JSON carries none).
    let mut names = std::collections::BTreeMap::new();
    if let Some(lists) = value
        .pointer_mut("/model/lists")
        .and_then(serde_json::Value::as_object_mut)
    {
        for (id, list) in lists.iter_mut() {
            if let Some(domains) = list.get_mut("domains") {
                let joined = domains.take();
                let joined = joined.as_str().ok_or_else(|| {
                    ArtifactError::Invalid(format!("list `{id}`: names are not a string"))
                })?;
                names.insert(id.clone(), joined.to_owned());
                *domains = serde_json::Value::String(String::new());
            }
        }
    }
    let mut decoded: Payload = serde_json::from_value(value).map_err(invalid)?;
    for (id, list) in &mut decoded.model.lists {
        let joined = names.get(id).map_or("", String::as_str);
        list.domains = DomainTable::from_joined(joined)
            .map_err(|e| ArtifactError::Invalid(format!("list `{id}`: {e}")))?;
    }
    CompiledPolicy::build(&decoded.file_name, decoded.model).map_err(ArtifactError::Invalid)
}

/// The payload of an artefact (the bytes its checksum covers), once its header is checked.
pub fn artifact_payload(bytes: &[u8]) -> Result<&[u8], ArtifactError> {
    split_header(bytes).map(|(_, payload)| payload)
}

/// Reads an artefact header of this engine's format (the first [`ARTIFACT_HEADER_LEN`] bytes
/// of an artefact; more are ignored).
pub fn read_header(bytes: &[u8]) -> Result<ArtifactHeader, ArtifactError> {
    let (version, rest) = magic_and_version(bytes)?;
    if version != ARTIFACT_FORMAT_VERSION {
        return Err(ArtifactError::UnsupportedVersion(version));
    }
    let (serial, rest) = rest
        .split_first_chunk::<8>()
        .ok_or(ArtifactError::Truncated)?;
    let (length, rest) = rest
        .split_first_chunk::<8>()
        .ok_or(ArtifactError::Truncated)?;
    let (checksum, _) = rest
        .split_first_chunk::<32>()
        .ok_or(ArtifactError::Truncated)?;
    Ok(ArtifactHeader {
        serial: u64::from_le_bytes(*serial),
        payload_len: usize::try_from(u64::from_le_bytes(*length))
            .map_err(|_| ArtifactError::Truncated)?,
        payload_sha256: *checksum,
    })
}

/// Checks magic, version (this engine's) and length; returns the header and the payload.
fn split_header(bytes: &[u8]) -> Result<(ArtifactHeader, &[u8]), ArtifactError> {
    let header = read_header(bytes)?;
    let payload = bytes
        .get(ARTIFACT_HEADER_LEN..)
        .filter(|payload| payload.len() == header.payload_len)
        .ok_or(ArtifactError::Truncated)?;
    Ok((header, payload))
}

/// The magic checked, the format version and what follows it.
fn magic_and_version(bytes: &[u8]) -> Result<(u32, &[u8]), ArtifactError> {
    let (magic, rest) = bytes
        .split_at_checked(ARTIFACT_MAGIC.len())
        .ok_or(ArtifactError::BadMagic)?;
    if magic != ARTIFACT_MAGIC {
        return Err(ArtifactError::BadMagic);
    }
    let (version, rest) = rest
        .split_first_chunk::<4>()
        .ok_or(ArtifactError::Truncated)?;
    Ok((u32::from_le_bytes(*version), rest))
}

/// Reads the header of an artefact of a format up to 3 (whose header has no serial): the
/// format version, the checksum and the payload.
fn split_old_header(bytes: &[u8]) -> Result<(u32, &[u8; 32], &[u8]), ArtifactError> {
    let (version, rest) = magic_and_version(bytes)?;
    let (length, rest) = rest
        .split_first_chunk::<8>()
        .ok_or(ArtifactError::Truncated)?;
    let (checksum, payload) = rest
        .split_first_chunk::<32>()
        .ok_or(ArtifactError::Truncated)?;
    let length =
        usize::try_from(u64::from_le_bytes(*length)).map_err(|_| ArtifactError::Truncated)?;
    if payload.len() != length {
        return Err(ArtifactError::Truncated);
    }
    Ok((version, checksum, payload))
}

/// Decodes a checksummed payload: the model, then one table section per list. `section`
/// gives the bytes of a range of the payload, shared or copied.
fn load_payload(
    payload: &[u8],
    section: impl Fn(Range<usize>) -> Option<SharedBytes>,
) -> Result<CompiledPolicy, ArtifactError> {
    let (json, mut rest) = next_part(payload)?;
    let mut decoded: Payload =
        serde_json::from_slice(json).map_err(|e| ArtifactError::Invalid(e.to_string()))?;
    for list in decoded.model.lists.values_mut() {
        let (part, after) = next_part(rest)?;
        let start = payload.len() - rest.len() + 8;
        let bytes = section(start..start + part.len()).ok_or(ArtifactError::Truncated)?;
        list.domains = DomainTable::from_section(bytes)
            .map_err(|e| ArtifactError::Invalid(format!("list `{}`: {e}", list.id)))?;
        rest = after;
    }
    if !rest.is_empty() {
        return Err(ArtifactError::Invalid(
            "bytes after the last list's table".to_owned(),
        ));
    }
    CompiledPolicy::build(&decoded.file_name, decoded.model).map_err(ArtifactError::Invalid)
}

/// One length-prefixed part of the payload, and what follows it.
fn next_part(bytes: &[u8]) -> Result<(&[u8], &[u8]), ArtifactError> {
    let (length, rest) = bytes
        .split_first_chunk::<8>()
        .ok_or(ArtifactError::Truncated)?;
    let length =
        usize::try_from(u64::from_le_bytes(*length)).map_err(|_| ArtifactError::Truncated)?;
    rest.split_at_checked(length)
        .ok_or(ArtifactError::Truncated)
}
