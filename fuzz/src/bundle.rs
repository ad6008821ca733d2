//! Signed policy bundles: `bundle`. Arbitrary bytes are opened against a fixed key as the
//! Worker takes a bundle up: never a panic, a policy or one of the documented refusal codes.

use std::sync::Arc;

use egress_policy_engine::CompiledPolicy;
use egress_policy_engine::artifact::Artifact;
use egress_policy_engine::bundle::{self, BundleError, SigningKey};
use sha2::{Digest, Sha256};

/// The environment the fuzzed Worker runs in.
pub const ENVIRONMENT: &str = "fuzz";

/// The seed of the one signing key trusted (the seeds in `fuzz/corpus/bundle/` are signed
/// with it).
pub const KEY_SEED: [u8; 32] = *b"egress-policy fuzz signing key!!";

/// Every reason a Worker refuses a bundle it has read (docs/deploy.md, "What the Worker does").
pub const REFUSALS: [&str; 7] = [
    "not_a_bundle",
    "unsupported_version",
    "truncated",
    "wrong_key",
    "bad_signature",
    "wrong_environment",
    "invalid_policy",
];

/// Opens a bundle. The first byte picks what the rest is: with bit 0 clear, a bundle, taken
/// as it is; with bit 0 set, an artefact's payload, sealed here with the trusted key (so the
/// fuzzer reaches the loading of signed bundles).
pub fn open_bundle(data: &[u8]) {
    let (selector, rest) = data.split_first().unwrap_or((&0, &[]));
    if selector & 1 == 0 {
        if let Err(code) = take_up(rest) {
            assert!(REFUSALS.contains(&code), "undocumented refusal {code}");
        }
        return;
    }
    let artifact = super::artifact::artifact_of(rest);
    let sealed = bundle::seal(
        &artifact,
        ENVIRONMENT,
        0,
        &SigningKey::from_bytes(&KEY_SEED),
    );
    let Some(sealed) = sealed else {
        panic!("sealing for `{ENVIRONMENT}` is refused");
    };
    match take_up(&sealed) {
        Ok(policy) => {
            let alone = CompiledPolicy::load(Artifact::Bytes(&artifact));
            assert!(
                alone.is_ok_and(|alone| alone.model() == policy.model()),
                "a bundled artefact loads otherwise than alone"
            );
        }
        Err(code) => assert_eq!(code, "invalid_policy", "a sealed bundle is refused"),
    }
}

/// What the Worker does with a bundle read from KV: verify its head, check that the bundle
/// fits it and that its payload hashes to the head's checksum, and load the artefact where it
/// lies; a refusal is its code.
pub fn take_up(bundle: &[u8]) -> Result<CompiledPolicy, &'static str> {
    let trusted = SigningKey::from_bytes(&KEY_SEED).verifying_key();
    let head = bundle::open(bundle, &trusted, ENVIRONMENT).map_err(BundleError::code)?;
    assert!(head.fits(bundle), "an opened bundle does not fit its head");
    let buffer = Arc::new(bundle.to_vec());
    let Some(payload) = buffer.get(head.payload_range()) else {
        panic!("an opened bundle has no payload");
    };
    let digest: [u8; 32] = Sha256::digest(payload).into();
    if digest != head.payload_sha256 {
        return Err("bad_signature");
    }
    let policy = CompiledPolicy::load(Artifact::Shared {
        buffer: &buffer,
        range: head.artifact_range(),
        payload_sha256: &digest,
    })
    .map_err(|_| "invalid_policy")?;
    assert_eq!(policy.serial(), head.serial, "the serial is not the head's");
    Ok(policy)
}
