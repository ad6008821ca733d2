//! Why a credential could not be minted. Messages never carry a secret, a key, a token or a header
//! value: they name what failed, not with what.

/// A credential that could not be minted. Every variant fails closed as
/// `credential_unavailable` (502, never forwarded).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// The Worker secret holding the key is not set.
    #[error("the credential's secret is not set")]
    SecretMissing,
    /// The secret's text is not a usable key for the credential's algorithm.
    #[error("the credential's secret is not a usable key for its algorithm")]
    InvalidKey,
    /// The key is usable but too weak for the algorithm: an HMAC key shorter than the hash
    /// output, an RSA modulus under 2048 bits ([`egress_policy_engine::JwtAlgorithm::min_key_bytes`]).
    #[error("the credential's key is too short for its algorithm")]
    WeakKey,
    /// The signer refused (for example a P-384 key for `ES256`), or the runtime had no
    /// randomness for the token's `jti`.
    #[error("signing the token failed")]
    SigningFailed,
}
