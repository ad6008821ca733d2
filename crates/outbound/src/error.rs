//! Why a credential could not be minted. Messages never carry a secret, a key, a token or a header
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
