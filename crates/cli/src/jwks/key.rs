//! Reading the public half of a signing key from a PEM file: a PKCS#8 private key (what the
//! Worker secret holds) or an SPKI public key. Private material is parsed only to derive the
//! public key and is never printed, not even in error messages.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::elliptic_curve::sec1::ToSec1Point as _;

/// The public key of a supported type, as the big-endian bytes a JWK carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicKey {
    /// RSA modulus and exponent.
    Rsa {
        /// Modulus `n`.
        n: Vec<u8>,
        /// Public exponent `e`.
        e: Vec<u8>,
    },
    /// EC P-256 point.
    P256 {
        /// `x`
        x: Vec<u8>,
        /// `y`
        y: Vec<u8>,
    },
    /// EC P-384 point.
    P384 {
        /// `x`
        x: Vec<u8>,
        /// `y`
        y: Vec<u8>,
    },
    /// Ed25519 public key.
    Ed25519 {
        /// The 32-byte key.
        x: Vec<u8>,
    },
}

impl PublicKey {
    /// What kind of key this is, for messages.
    pub fn describe(&self) -> &'static str {
        match self {
            PublicKey::Rsa { .. } => "an RSA key",
            PublicKey::P256 { .. } => "an EC P-256 key",
            PublicKey::P384 { .. } => "an EC P-384 key",
            PublicKey::Ed25519 { .. } => "an Ed25519 key",
        }
    }

    /// RSA modulus size in bits (0 for other key types).
    pub fn rsa_bits(&self) -> usize {
        match self {
            PublicKey::Rsa { n, .. } => {
                let leading = n.first().map_or(8, |b| b.leading_zeros() as usize);
                n.len() * 8 - leading
            }
            _ => 0,
        }
    }
}

/// Whether the PEM held a private or a public key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// PKCS#8 (or PKCS#1 RSA) private key.
    Private,
    /// SPKI (or PKCS#1 RSA) public key.
    Public,
}

/// Why a key file is not usable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// No PEM block at all.
    NotPem,
    /// More than one key in the file.
    SeveralKeys(usize),
    /// A PEM block of a kind that is not a key (a certificate, parameters...).
    NotAKey(String),
    /// An encrypted PKCS#8 key.
    Encrypted,
    /// A SEC1 `EC PRIVATE KEY`: the Worker expects PKCS#8.
    Sec1,
    /// The DER inside did not decode as any supported key type.
    Unsupported(&'static str),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::NotPem => f.write_str("no PEM block found; expected `-----BEGIN PRIVATE KEY-----` (PKCS#8) or `-----BEGIN PUBLIC KEY-----`"),
            KeyError::SeveralKeys(n) => write!(f, "the file holds {n} PEM blocks; give a file with exactly one key"),
            KeyError::NotAKey(label) => write!(f, "the PEM block is `{label}`, not a key; expected `PRIVATE KEY` (PKCS#8) or `PUBLIC KEY`"),
            KeyError::Encrypted => f.write_str("the private key is encrypted; the Worker secret holds an unencrypted PKCS#8 key, and the public key (`openssl pkey -pubout`) is enough here"),
            KeyError::Sec1 => f.write_str("`EC PRIVATE KEY` (SEC1) is not what the Worker reads; convert it with `openssl pkcs8 -topk8 -nocrypt -in KEY.pem` or pass the public key"),
            KeyError::Unsupported(what) => write!(f, "the {what} is not an RSA, EC P-256, EC P-384 or Ed25519 key (or it is damaged)"),
        }
    }
}

/// Reads the single key in `pem_text` and returns its public half.
pub fn read_public_key(pem_text: &[u8]) -> Result<(PublicKey, KeySource), KeyError> {
    let blocks = pem::parse_many(pem_text).map_err(|_| KeyError::NotPem)?;
    let block = match blocks.as_slice() {
        [] => return Err(KeyError::NotPem),
        [one] => one,
        many => return Err(KeyError::SeveralKeys(many.len())),
    };
    let der = block.contents();
    match block.tag() {
        "PRIVATE KEY" => from_pkcs8(der).map(|k| (k, KeySource::Private)),
        "PUBLIC KEY" => from_spki(der).map(|k| (k, KeySource::Public)),
        "RSA PRIVATE KEY" => {
            use rsa::pkcs1::DecodeRsaPrivateKey as _;
            rsa::PrivateKey::from_pkcs1_der(der)
                .map(|k| (rsa_public(&k.to_public_key()), KeySource::Private))
                .map_err(|_| KeyError::Unsupported("PKCS#1 private key"))
        }
        "RSA PUBLIC KEY" => {
            use rsa::pkcs1::DecodeRsaPublicKey as _;
            rsa::PublicKey::from_pkcs1_der(der)
                .map(|k| (rsa_public(&k), KeySource::Public))
                .map_err(|_| KeyError::Unsupported("PKCS#1 public key"))
        }
        "ENCRYPTED PRIVATE KEY" => Err(KeyError::Encrypted),
        "EC PRIVATE KEY" => Err(KeyError::Sec1),
        other => Err(KeyError::NotAKey(other.chars().take(40).collect())),
    }
}

fn rsa_public(key: &rsa::PublicKey) -> PublicKey {
    use rsa::traits::PublicKeyParts as _;
    PublicKey::Rsa {
        n: key.n_bytes().into_vec(),
        e: key.e_bytes().into_vec(),
    }
}

fn from_pkcs8(der: &[u8]) -> Result<PublicKey, KeyError> {
    use rsa::pkcs8::DecodePrivateKey as _;
    if let Ok(key) = rsa::PrivateKey::from_pkcs8_der(der) {
        return Ok(rsa_public(&key.to_public_key()));
    }
    if let Ok(key) = p256::SecretKey::from_pkcs8_der(der) {
        let point = key.public_key().to_sec1_point(false);
        return ec_point(point.x(), point.y(), |x, y| PublicKey::P256 { x, y });
    }
    if let Ok(key) = p384::SecretKey::from_pkcs8_der(der) {
        let point = key.public_key().to_sec1_point(false);
        return ec_point(point.x(), point.y(), |x, y| PublicKey::P384 { x, y });
    }
    if let Ok(key) = ed25519_dalek::SigningKey::from_pkcs8_der(der) {
        return Ok(PublicKey::Ed25519 {
            x: key.verifying_key().to_bytes().to_vec(),
        });
    }
    Err(KeyError::Unsupported("PKCS#8 private key"))
}

fn from_spki(der: &[u8]) -> Result<PublicKey, KeyError> {
    use rsa::pkcs8::DecodePublicKey as _;
    if let Ok(key) = rsa::PublicKey::from_public_key_der(der) {
        return Ok(rsa_public(&key));
    }
    if let Ok(key) = p256::PublicKey::from_public_key_der(der) {
        let point = key.to_sec1_point(false);
        return ec_point(point.x(), point.y(), |x, y| PublicKey::P256 { x, y });
    }
    if let Ok(key) = p384::PublicKey::from_public_key_der(der) {
        let point = key.to_sec1_point(false);
        return ec_point(point.x(), point.y(), |x, y| PublicKey::P384 { x, y });
    }
    if let Ok(key) = ed25519_dalek::VerifyingKey::from_public_key_der(der) {
        return Ok(PublicKey::Ed25519 {
            x: key.to_bytes().to_vec(),
        });
    }
    Err(KeyError::Unsupported("public key"))
}

fn ec_point<X: AsRef<[u8]>>(
    x: Option<X>,
    y: Option<X>,
    make: impl FnOnce(Vec<u8>, Vec<u8>) -> PublicKey,
) -> Result<PublicKey, KeyError> {
    match (x, y) {
        (Some(x), Some(y)) => Ok(make(x.as_ref().to_vec(), y.as_ref().to_vec())),
        _ => Err(KeyError::Unsupported("EC key (point at infinity)")),
    }
}

/// Base64url without padding, as JWKs encode integers and points.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}
