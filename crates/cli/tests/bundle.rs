//! `egress-policy bundle`: a signed bundle the engine opens with the printed public key for its
//! environment, whose artefact is the policy's; its head beside it; serials that never
//! collide; `bundle inspect`; the archive copy; errors that never show the key.
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
        "--environment",
        "production",
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
    let opened = bundle::open(&bytes, &public, "production").unwrap();
    assert_eq!(opened.serial, 42);
    let artefact = &bytes[opened.artifact_range()];
    let policy =
        CompiledPolicy::load(egress_policy_engine::artifact::Artifact::Bytes(artefact)).unwrap();
    assert_eq!(policy.serial(), 42);
    let source = std::fs::read(support::root().join(POLICY)).unwrap();
    assert_eq!(policy.sha256(), egress_policy_engine::sha256_hex(&source));
    let archived = std::fs::read(archive.join(format!("{}.artifact", policy.sha256()))).unwrap();
    assert_eq!(archived, artefact);
    // The head beside it: a few hundred bytes that verify on their own.
    let head = std::fs::read(dir.path().join("bundle.bin.head")).unwrap();
    assert_eq!(head.len(), bundle::HEAD_LEN);
    assert!(head.len() < 300);
    assert_eq!(
        bundle::verify_head(&head, &public, "production").unwrap(),
        opened
    );

    let other = SigningKey::from_bytes(&[8; 32]).verifying_key();
    assert_eq!(
        bundle::open(&bytes, &other, "production"),
        Err(BundleError::WrongKey)
    );
    assert_eq!(
        bundle::open(&bytes, &public, "staging"),
        Err(BundleError::WrongEnvironment)
    );
}

/// Makes a bundle with `extra` arguments; returns its serial.
fn make(dir: &std::path::Path, name: &str, extra: &[&str]) -> Result<u64, String> {
    let key = key_file(dir, 1);
    let out = dir.join(name);
    let mut args = vec![
        "bundle",
        POLICY,
        "--key-file",
        key.to_str().unwrap(),
        "--environment",
        "production",
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let made = run(&args);
    if made.code != 0 {
        return Err(made.stderr);
    }
    let public = SigningKey::from_bytes(&[1; 32]).verifying_key();
    Ok(
        bundle::open(&std::fs::read(&out).unwrap(), &public, "production")
            .unwrap()
            .serial,
    )
}

/// `--after` the bundle in force: never a serial at or below it, even when the clock is
/// behind (its serial is far in the future here); and bundles made at the same moment from
/// the same predecessor differ.
#[test]
fn serials_never_collide_nor_go_back() {
    let dir = tempfile::tempdir().unwrap();
    let future = make(
        dir.path(),
        "future.bin",
        &["--serial", "9000000000000000000"],
    )
    .unwrap();
    let future_path = dir.path().join("future.bin");
    let next = make(
        dir.path(),
        "next.bin",
        &["--after", future_path.to_str().unwrap()],
    )
    .unwrap();
    assert!(next > future, "{next} > {future}");
    // From the head file too.
    let head = dir.path().join("future.bin.head");
    assert!(make(dir.path(), "h.bin", &["--after", head.to_str().unwrap()]).unwrap() > future);
    let mut serials = std::collections::BTreeSet::new();
    for i in 0..6 {
        let name = format!("same-{i}.bin");
        serials.insert(
            make(
                dir.path(),
                &name,
                &["--after", future_path.to_str().unwrap()],
            )
            .unwrap(),
        );
    }
    assert_eq!(serials.len(), 6, "{serials:?}");
    // An explicit serial at or below the predecessor's is refused.
    let refused = make(
        dir.path(),
        "refused.bin",
        &["--serial", "5", "--after", future_path.to_str().unwrap()],
    )
    .unwrap_err();
    assert!(
        refused.contains("is not above the serial of --after"),
        "{refused}"
    );
    let bad_env = run(&[
        "bundle",
        POLICY,
        "--key-file",
        key_file(dir.path(), 1).to_str().unwrap(),
        "--environment",
        "prod env",
        "-o",
        dir.path().join("x.bin").to_str().unwrap(),
    ]);
    assert_eq!(bad_env.code, 1);
    assert!(
        bad_env.stderr.contains("is not an environment name"),
        "{}",
        bad_env.stderr
    );
}

#[test]
fn inspect_says_what_a_bundle_and_its_head_hold() {
    let dir = tempfile::tempdir().unwrap();
    make(dir.path(), "b.bin", &["--serial", "1796000000000123"]).unwrap();
    let public =
        bundle::public_key_to_text(SigningKey::from_bytes(&[1; 32]).verifying_key().as_bytes());
    let whole = dir.path().join("b.bin");
    let shown = run(&[
        "bundle",
        "inspect",
        whole.to_str().unwrap(),
        "--public-key",
        &public,
    ]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    let source = std::fs::read(support::root().join(POLICY)).unwrap();
    for expected in [
        "serial:          1796000000000123".to_owned(),
        "environment:     production".to_owned(),
        format!("signer:          {public}"),
        format!(
            "bundle size:     {} bytes",
            std::fs::metadata(&whole).unwrap().len()
        ),
        format!(
            "policy sha256:   {}",
            egress_policy_engine::sha256_hex(&source)
        ),
        "policy:          platform-egress".to_owned(),
        format!("signature:       verifies with {public}"),
    ] {
        assert!(
            shown.stdout.contains(&expected),
            "{expected}\n{}",
            shown.stdout
        );
    }
    assert!(
        shown.stdout.contains("created:         20"),
        "{}",
        shown.stdout
    );
    let head = dir.path().join("b.bin.head");
    let shown = run(&["bundle", "inspect", head.to_str().unwrap()]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(shown.stdout.contains("serial:          1796000000000123"));
    assert!(shown.stdout.contains("signature:       not checked"));
    let other =
        bundle::public_key_to_text(SigningKey::from_bytes(&[2; 32]).verifying_key().as_bytes());
    let refused = run(&[
        "bundle",
        "inspect",
        head.to_str().unwrap(),
        "--public-key",
        &other,
    ]);
    assert_eq!(refused.code, 1);
    assert!(
        refused
            .stdout
            .contains("refused: policy bundle is signed by another key"),
        "{}",
        refused.stdout
    );
}

#[test]
fn the_serial_defaults_to_the_clock_and_grows() {
    let dir = tempfile::tempdir().unwrap();
    let first = make(dir.path(), "a.bin", &[]).unwrap();
    // 2026-01-01 in Unix microseconds: the default is the current time.
    assert!(first > 1_767_225_600_000_000, "{first}");
    let second = make(dir.path(), "b.bin", &[]).unwrap();
    assert!(second / 1000 >= first / 1000, "{second} after {first}");
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
        "--environment",
        "production",
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
        "--environment",
        "production",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("error"), "{}", refused.stderr);
    assert!(!out.exists());
}
