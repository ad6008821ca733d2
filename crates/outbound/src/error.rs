//! Why a request did not complete. Messages never carry a secret, a key, a token or a header
//! value: they name what failed, not with what.

use std::fmt;

/// A credential that could not be minted. Every variant fails closed as
/// `credential_unavailable` (502, never forwarded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialError {
    /// The inject decision names a credential the policy does not define.
    UnknownCredential,
    /// The Worker secret holding the key is not set.
    SecretMissing,
    /// The secret's text is not a usable key for the credential's algorithm.
    InvalidKey,
    /// The key is usable but too weak for the algorithm: an HMAC key shorter than the hash
    /// output, an RSA modulus under 2048 bits ([`egress_policy_engine::JwtAlgorithm::min_key_bytes`]).
    WeakKey,
    /// The signer refused (for example a P-384 key for `ES256`), or the runtime had no
    /// randomness for the token's `jti`.
    SigningFailed,
}

impl fmt::Display for CredentialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CredentialError::UnknownCredential => "the policy does not define the credential",
            CredentialError::SecretMissing => "the credential's secret is not set",
            CredentialError::InvalidKey => {
                "the credential's secret is not a usable key for its algorithm"
            }
            CredentialError::WeakKey => "the credential's key is too short for its algorithm",
            CredentialError::SigningFailed => "signing the token failed",
        })
    }
}

impl std::error::Error for CredentialError {}

/// The `error` field of a decision log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestError {
    /// The upstream fetch failed (DNS, connection, TLS, ...).
    UpstreamUnreachable,
    /// The upstream sent no response within `EGRESS_UPSTREAM_TIMEOUT_MS`.
    UpstreamTimeout,
    /// An inject decision whose token could not be minted.
    CredentialUnavailable,
    /// Anything else that went wrong inside the Worker.
    InternalError,
}

impl RequestError {
    /// The code written in the log line.
    pub fn code(self) -> &'static str {
        match self {
            RequestError::UpstreamUnreachable => "upstream_unreachable",
            RequestError::UpstreamTimeout => "upstream_timeout",
            RequestError::CredentialUnavailable => "credential_unavailable",
            RequestError::InternalError => "internal_error",
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}
