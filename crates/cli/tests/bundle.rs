//! `egress-policy bundle`: a signed bundle the engine opens with the printed public key, whose
//! artefact is the policy's; the archive copy; errors that never show the key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use egress_policy_engine::CompiledPolicy;
use egress_policy_engine::bundle::{self, BundleError, SigningKey};
use support::run;

/// A policy without domain lists: its revision is `sha256sum` of the file.
const POLICY: &str = "crates/cli/tests/fixtures/explain/policy.toml";

/// A signing key file with a fixed seed in `dir`.
fn key_file(dir: &std::path::Path, seed: u8) -> std::path::PathBuf {
    let key = dir.join("signing.pem");
    std::fs::write(&key, support::ed25519_pem(seed)).unwrap();
    key
}

#[test]
fn a_bundle_opens_with_the_printed_public_key_and_carries_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), 7);
    let key = key.to_str().unwrap();
    let out = dir.path().join("bundle.bin");
    let archive = dir.path().join("archive");

    let printed = run(&["bundle", "--key-file", key, "--print-public-key"]);
    assert_eq!(printed.code, 0, "{}", printed.stderr);
    let public = bundle::public_key_from_text(&printed.stdout).unwrap();
    assert_eq!(public, SigningKey::from_bytes(&[7; 32]).verifying_key());

    let made = run(&[
        "bundle",
        POLICY,
        "--key-file",
        key,
        "--serial",
        "42",
        "-o",
        out.to_str().unwrap(),
        "--archive",
        archive.to_str().unwrap(),
    ]);
    assert_eq!(made.code, 0, "{}", made.stderr);
    assert!(made.stdout.contains("serial 42"), "{}", made.stdout);

    let bytes = std::fs::read(&out).unwrap();
    let opened = bundle::open(&bytes, &public).unwrap();
    assert_eq!(opened.serial, 42);
    let policy = CompiledPolicy::from_artifact(opened.artifact).unwrap();
    let source = std::fs::read(support::root().join(POLICY)).unwrap();
    assert_eq!(policy.sha256(), egress_policy_engine::sha256_hex(&source));
    let archived = std::fs::read(archive.join(format!("{}.artifact", policy.sha256()))).unwrap();
    assert_eq!(archived, opened.artifact);

    let other = SigningKey::from_bytes(&[8; 32]).verifying_key();
    assert_eq!(bundle::open(&bytes, &other), Err(BundleError::WrongKey));
}

#[test]
fn the_serial_defaults_to_the_clock_and_grows() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), 1);
    let out = dir.path().join("b.bin");
    let made = run(&[
        "bundle",
        POLICY,
        "--key-file",
        key.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(made.code, 0, "{}", made.stderr);
    let public = SigningKey::from_bytes(&[1; 32]).verifying_key();
    let serial = bundle::open(&std::fs::read(&out).unwrap(), &public)
        .unwrap()
        .serial;
    // 2026-01-01 in Unix seconds: the default is the current time.
    assert!(serial > 1_767_225_600, "{serial}");
}

#[test]
fn a_key_that_is_not_ed25519_is_refused_without_showing_it() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("not-ed25519.pem");
    let secret_text = "-----BEGIN PRIVATE KEY-----\nTk9UQUtFWXNlY3JldC1tYXRlcmlhbA==\n-----END PRIVATE KEY-----\n";
    std::fs::write(&key, secret_text).unwrap();
    let out = dir.path().join("b.bin");
    let refused = run(&[
        "bundle",
        POLICY,
        "--key-file",
        key.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("is not an Ed25519 private key"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stderr.contains("Tk9UQUtF"), "{}", refused.stderr);
    assert!(!out.exists());
}

#[test]
fn an_invalid_policy_is_not_bundled() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), 1);
    let out = dir.path().join("b.bin");
    let refused = run(&[
        "bundle",
        "crates/cli/tests/fixtures/check/bad_credentials.toml",
        "--key-file",
        key.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("error"), "{}", refused.stderr);
    assert!(!out.exists());
}
