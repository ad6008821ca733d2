//! The compiled artefact the Worker embeds: a checked header, then the validated model.
//!
//! Layout: magic `EGRESSPOL` + 0 (10 bytes), format version (u32 LE), payload length (u64 LE),
//! SHA-256 of the payload (32 bytes), payload (JSON of the file name and the validated model).
//! A domain list's names travel as one JSON string, the canonical names sorted and joined by
//! newlines, not as an array of a million strings.
//! Loading re-validates host patterns, path globs and every listed name (canonical, strictly
//! ascending) as they are deserialised and rebuilds the matcher, so an artefact can never
//! yield an engine that an equivalent policy file would not.
//!
//! Format versions: 1, the first; 2 adds domain lists (`lists` in the model and on rules).

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::PolicyModel;
use crate::policy::CompiledPolicy;

/// The first bytes of every artefact.
pub const ARTIFACT_MAGIC: &[u8; 10] = b"EGRESSPOL\0";
/// The artefact format this engine writes and reads.
pub const ARTIFACT_FORMAT_VERSION: u32 = 2;

const HEADER_LEN: usize = 10 + 4 + 8 + 32;

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
        let payload = serde_json::to_vec(&PayloadRef {
            file_name: self.file_name(),
            model: self.model(),
        })
        // Serialising plain data structs with string keys cannot fail; an empty payload
        // would be rejected on load rather than silently accepted.
        .unwrap_or_default();
        let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
        out.extend_from_slice(ARTIFACT_MAGIC);
        out.extend_from_slice(&ARTIFACT_FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&Sha256::digest(&payload));
        out.extend_from_slice(&payload);
        out
    }

    /// Loads an artefact written by [`CompiledPolicy::to_artifact`], checking magic, format
    /// version, length and checksum.
    pub fn from_artifact(bytes: &[u8]) -> Result<CompiledPolicy, ArtifactError> {
        let (magic, rest) = bytes
            .split_at_checked(ARTIFACT_MAGIC.len())
            .ok_or(ArtifactError::BadMagic)?;
        if magic != ARTIFACT_MAGIC {
            return Err(ArtifactError::BadMagic);
        }
        let (version, rest) = rest
            .split_first_chunk::<4>()
            .ok_or(ArtifactError::Truncated)?;
        let version = u32::from_le_bytes(*version);
        if version != ARTIFACT_FORMAT_VERSION {
            return Err(ArtifactError::UnsupportedVersion(version));
        }
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
        if Sha256::digest(payload).as_slice() != checksum.as_slice() {
            return Err(ArtifactError::ChecksumMismatch);
        }
        let decoded: Payload =
            serde_json::from_slice(payload).map_err(|e| ArtifactError::Invalid(e.to_string()))?;
        CompiledPolicy::build(&decoded.file_name, decoded.model).map_err(ArtifactError::Invalid)
    }
}
