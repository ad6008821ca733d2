#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The compiled artefact: round trip, and every kind of damage is a clear error.

use egress_policy_engine::{ArtifactError, CompiledPolicy, Request, compile};

fn policy() -> CompiledPolicy {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policy/policy.toml");
    compile(
        "policy/policy.toml",
        &std::fs::read_to_string(path).unwrap(),
    )
    .unwrap()
    .policy
}

#[test]
fn round_trip_keeps_model_and_decisions() {
    let p = policy();
    let loaded = CompiledPolicy::from_artifact(&p.to_artifact()).unwrap();
    assert_eq!(loaded.model(), p.model());
    assert_eq!(loaded.file_name(), "policy/policy.toml");
    assert_eq!(loaded.policy_ref(), p.policy_ref());
    for url in [
        "https://x.malicious.com/",
        "https://api.example.com/v1/a",
        "http://[::ffff:a9fe:a9fe]/",
        "https://ok.test/",
    ] {
        let r = Request {
            method: "GET",
            url,
            customer: Some("c"),
            tags: &[],
        };
        assert_eq!(loaded.decide(&r), p.decide(&r), "{url}");
    }
}

#[test]
fn damage_is_detected() {
    let bytes = policy().to_artifact();
    assert_eq!(
        CompiledPolicy::from_artifact(b"").unwrap_err(),
        ArtifactError::BadMagic
    );
    assert_eq!(
        CompiledPolicy::from_artifact(b"version = 1").unwrap_err(),
        ArtifactError::BadMagic
    );
    for other in [1u32, 3] {
        let mut wrong = bytes.clone();
        wrong[10..14].copy_from_slice(&other.to_le_bytes());
        assert_eq!(
            CompiledPolicy::from_artifact(&wrong).unwrap_err(),
            ArtifactError::UnsupportedVersion(other)
        );
    }
    assert_eq!(
        CompiledPolicy::from_artifact(&bytes[..bytes.len() - 1]).unwrap_err(),
        ArtifactError::Truncated
    );
    assert_eq!(
        CompiledPolicy::from_artifact(&bytes[..20]).unwrap_err(),
        ArtifactError::Truncated
    );
    let mut flipped = bytes.clone();
    let last = flipped.len() - 2;
    flipped[last] ^= 1;
    assert_eq!(
        CompiledPolicy::from_artifact(&flipped).unwrap_err(),
        ArtifactError::ChecksumMismatch
    );
    assert!(
        ArtifactError::UnsupportedVersion(2)
            .to_string()
            .contains("recompile")
    );
}

#[test]
fn path_in_logs_survives_the_artifact() {
    use egress_policy_engine::PathInLogs;
    for (value, expected) in [
        ("\"none\"", PathInLogs::None),
        ("3", PathInLogs::Segments(3)),
        ("\"full\"", PathInLogs::Full),
    ] {
        let text = format!("version = 1\n[defaults]\npath_in_logs = {value}\n");
        let p = egress_policy_engine::compile("p.toml", &text)
            .unwrap()
            .policy;
        let loaded = CompiledPolicy::from_artifact(&p.to_artifact()).unwrap();
        assert_eq!(loaded.defaults().path_in_logs, expected, "{value}");
    }
}
