//! `egress-policy jwks`: the JWK Set an API owner configures to verify injected tokens.

pub mod key;

use std::fmt;

use egress_policy_engine::{Credential, JwtAlgorithm};
use serde::Serialize;

use key::{KeyError, PublicKey, b64};

/// One JWK (RFC 7517/7518/8037) with only public members.
#[derive(Clone, Debug, Serialize)]
pub struct Jwk {
    /// `RSA`, `EC` or `OKP`.
    pub kty: &'static str,
    /// Credential `key_id`: the `kid` in every token's header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Always `sig`.
    #[serde(rename = "use")]
    pub use_: &'static str,
    /// The credential's algorithm.
    pub alg: &'static str,
    /// EC/OKP curve.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<&'static str>,
    /// RSA modulus.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA exponent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// EC x / OKP public key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// EC y.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
}

/// `{"keys":[...]}`
#[derive(Clone, Debug, Serialize)]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// Why no JWKS can be printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JwksError {
    /// HMAC credentials have no public key.
    Hmac {
        /// Credential id.
        credential: String,
        /// Its algorithm.
        algorithm: JwtAlgorithm,
    },
    /// The key file is unusable.
    Key(KeyError),
    /// The key does not fit the credential's algorithm.
    WrongKeyType {
        /// Credential id.
        credential: String,
        /// Its algorithm.
        algorithm: JwtAlgorithm,
        /// What the file holds.
        found: &'static str,
    },
    /// RSA keys shorter than 2048 bits are refused by verifiers (RFC 7518 3.3).
    WeakRsa(usize),
}

impl fmt::Display for JwksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwksError::Hmac {
                credential,
                algorithm,
            } => write!(
                f,
                "credential `{credential}` uses {algorithm} (HMAC): its key is a shared secret, so there is no public key to publish; give the API owner the secret through your secret manager instead"
            ),
            JwksError::Key(e) => e.fmt(f),
            JwksError::WrongKeyType {
                credential,
                algorithm,
                found,
            } => write!(
                f,
                "credential `{credential}` signs with {algorithm}, which needs {}, but the key file holds {found}",
                expected_key(*algorithm)
            ),
            JwksError::WeakRsa(bits) => write!(
                f,
                "the RSA key has {bits} bits; RS*/PS* need at least 2048 (RFC 7518 section 3.3)"
            ),
        }
    }
}

/// What key type an algorithm needs, for messages.
pub fn expected_key(algorithm: JwtAlgorithm) -> &'static str {
    match algorithm {
        JwtAlgorithm::HS256 | JwtAlgorithm::HS384 | JwtAlgorithm::HS512 => "a shared secret",
        JwtAlgorithm::RS256
        | JwtAlgorithm::RS384
        | JwtAlgorithm::RS512
        | JwtAlgorithm::PS256
        | JwtAlgorithm::PS384
        | JwtAlgorithm::PS512 => "an RSA key",
        JwtAlgorithm::ES256 => "an EC P-256 key",
        JwtAlgorithm::ES384 => "an EC P-384 key",
        JwtAlgorithm::EdDSA => "an Ed25519 key",
    }
}

/// Builds the JWK Set for `credential` from the PEM file's bytes.
pub fn jwks(credential: &Credential, pem: &[u8]) -> Result<JwkSet, JwksError> {
    let algorithm = credential.algorithm;
    if algorithm.is_hmac() {
        return Err(JwksError::Hmac {
            credential: credential.id.clone(),
            algorithm,
        });
    }
    let (public, _) = key::read_public_key(pem).map_err(JwksError::Key)?;
    let fits = matches!(
        (&public, algorithm),
        (
            PublicKey::Rsa { .. },
            JwtAlgorithm::RS256
                | JwtAlgorithm::RS384
                | JwtAlgorithm::RS512
                | JwtAlgorithm::PS256
                | JwtAlgorithm::PS384
                | JwtAlgorithm::PS512
        ) | (PublicKey::P256 { .. }, JwtAlgorithm::ES256)
            | (PublicKey::P384 { .. }, JwtAlgorithm::ES384)
            | (PublicKey::Ed25519 { .. }, JwtAlgorithm::EdDSA)
    );
    if !fits {
        return Err(JwksError::WrongKeyType {
            credential: credential.id.clone(),
            algorithm,
            found: public.describe(),
        });
    }
    // The Worker refuses the same keys at mint time (`CredentialError::WeakKey`).
    let min_bits = algorithm.min_key_bytes().unwrap_or(0).saturating_mul(8);
    if matches!(public, PublicKey::Rsa { .. }) && public.rsa_bits() < min_bits {
        return Err(JwksError::WeakRsa(public.rsa_bits()));
    }
    let mut jwk = Jwk {
        kty: "",
        kid: credential.key_id.clone(),
        use_: "sig",
        alg: algorithm.as_str(),
        crv: None,
        n: None,
        e: None,
        x: None,
        y: None,
    };
    match &public {
        PublicKey::Rsa { n, e } => {
            jwk.kty = "RSA";
            jwk.n = Some(b64(n));
            jwk.e = Some(b64(e));
        }
        PublicKey::P256 { x, y } | PublicKey::P384 { x, y } => {
            jwk.kty = "EC";
            jwk.crv = Some(if matches!(public, PublicKey::P256 { .. }) {
                "P-256"
            } else {
                "P-384"
            });
            jwk.x = Some(b64(x));
            jwk.y = Some(b64(y));
        }
        PublicKey::Ed25519 { x } => {
            jwk.kty = "OKP";
            jwk.crv = Some("Ed25519");
            jwk.x = Some(b64(x));
        }
    }
    Ok(JwkSet { keys: vec![jwk] })
}
