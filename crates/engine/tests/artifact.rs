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

fn list_policy() -> CompiledPolicy {
    let text = "version = 1\n[lists.feed]\nfile = \"feed.txt\"\nformat = \"hosts\"\nmatch = \"subdomains\"\n[[rules]]\nid = \"feed\"\naction = \"block\"\nlists = [\"feed\"]\nreason = \"threat feed\"\n";
    let mut files = egress_policy_engine::ListFiles::new();
    files.insert(
        "feed.txt",
        "feed.txt",
        "0.0.0.0 evil.com\n0.0.0.0 Bücher.example\n127.0.0.1 a.test b.test\n".to_owned(),
    );
    egress_policy_engine::compile_with_lists("p.toml", text, &files)
        .unwrap()
        .policy
}

#[test]
fn lists_survive_the_artifact_compactly() {
    let p = list_policy();
    let bytes = p.to_artifact();
    // One newline-joined string of canonical names, not an array of strings.
    let payload = String::from_utf8_lossy(&bytes[54..]);
    assert!(
        payload.contains(r#""domains":"a.test\nb.test\nevil.com\nxn--bcher-kva.example""#),
        "{payload}"
    );
    let loaded = CompiledPolicy::from_artifact(&bytes).unwrap();
    assert_eq!(loaded.model(), p.model());
    assert_eq!(loaded.policy_ref(), p.policy_ref());
    for url in [
        "https://evil.com/",
        "https://x.evil.com/",
        "https://notevil.com/",
        "https://cdn.bücher.example/",
        "https://b.test/",
        "https://c.test/",
    ] {
        let r = Request {
            method: "GET",
            url,
            customer: Some("c"),
            tags: &[],
        };
        assert_eq!(loaded.decide(&r), p.decide(&r), "{url}");
    }
    assert_eq!(
        loaded
            .decide(&Request {
                method: "GET",
                url: "https://x.evil.com/",
                customer: Some("c"),
                tags: &[],
            })
            .action,
        egress_policy_engine::Action::Block
    );
}

/// Re-packs `payload` with a valid header, so only the payload's content is judged.
fn repack(payload: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut out = Vec::new();
    out.extend_from_slice(egress_policy_engine::artifact::ARTIFACT_MAGIC);
    out.extend_from_slice(&egress_policy_engine::artifact::ARTIFACT_FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&Sha256::digest(payload));
    out.extend_from_slice(payload);
    out
}

#[test]
fn a_list_table_is_revalidated_on_load() {
    let bytes = list_policy().to_artifact();
    let payload = String::from_utf8(bytes[54..].to_vec()).unwrap();
    let good = r#""a.test\nb.test\nevil.com\nxn--bcher-kva.example""#;
    assert!(CompiledPolicy::from_artifact(&repack(payload.as_bytes())).is_ok());
    for bad in [
        r#""b.test\na.test\nevil.com\nxn--bcher-kva.example""#,
        r#""a.test\na.test\nevil.com\nxn--bcher-kva.example""#,
        r#""a.test\nB.test\nevil.com\nxn--bcher-kva.example""#,
        r#""*.test\nb.test\nevil.com\nxn--bcher-kva.example""#,
        r#""10.0.0.1\nb.test\nevil.com\nxn--bcher-kva.example""#,
    ] {
        let tampered = payload.replace(good, bad);
        assert_ne!(tampered, payload);
        let err = CompiledPolicy::from_artifact(&repack(tampered.as_bytes())).unwrap_err();
        assert!(matches!(err, ArtifactError::Invalid(_)), "{bad}: {err:?}");
    }
    // A list on a pass rule, or a rule naming a list the artefact lacks, never loads.
    let on_pass = payload.replace(r#""action":"block""#, r#""action":"pass""#);
    assert_ne!(on_pass, payload);
    assert!(CompiledPolicy::from_artifact(&repack(on_pass.as_bytes())).is_err());
    let unknown = payload.replace(r#""lists":["feed"]"#, r#""lists":["other"]"#);
    assert_ne!(unknown, payload);
    assert!(CompiledPolicy::from_artifact(&repack(unknown.as_bytes())).is_err());
}
