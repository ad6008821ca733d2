#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The compiled artefact: round trip, every kind of damage is a clear error, and what an
//! artefact carries passes `check`'s validation when it is loaded.

/// Loads artefact bytes the one way there is.
fn load(bytes: &[u8]) -> Result<CompiledPolicy, ArtifactError> {
    CompiledPolicy::load(Artifact::Bytes(bytes))
}

use egress_policy_engine::artifact::{ARTIFACT_HEADER_LEN as HEADER, Artifact};
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
    let loaded = load(&p.to_artifact()).unwrap();
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
            tags: Some(&[]),
        };
        assert_eq!(loaded.decide(&r), p.decide(&r), "{url}");
    }
}

#[test]
fn damage_is_detected() {
    let bytes = policy().to_artifact();
    assert_eq!(load(b"").unwrap_err(), ArtifactError::BadMagic);
    assert_eq!(load(b"version = 1").unwrap_err(), ArtifactError::BadMagic);
    for other in [1u32, 2, 3, 4, 6] {
        let mut wrong = bytes.clone();
        wrong[10..14].copy_from_slice(&other.to_le_bytes());
        assert_eq!(
            load(&wrong).unwrap_err(),
            ArtifactError::UnsupportedVersion(other)
        );
    }
    assert_eq!(
        load(&bytes[..bytes.len() - 1]).unwrap_err(),
        ArtifactError::Truncated
    );
    assert_eq!(load(&bytes[..20]).unwrap_err(), ArtifactError::Truncated);
    let mut flipped = bytes.clone();
    let last = flipped.len() - 2;
    flipped[last] ^= 1;
    assert_eq!(load(&flipped).unwrap_err(), ArtifactError::ChecksumMismatch);
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
        let loaded = load(&p.to_artifact()).unwrap();
        assert_eq!(loaded.model().defaults.path_in_logs, expected, "{value}");
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
fn lists_travel_as_their_compiled_table() {
    let p = list_policy();
    let bytes = p.to_artifact();
    // The file name, the revision, the source (naming the list, not its names), then the
    // list's id and its compiled automaton.
    let parts = parts(&bytes[HEADER..]);
    assert_eq!(parts.len(), 5);
    assert_eq!(parts[0], b"p.toml");
    assert_eq!(parts[1], p.sha256().as_bytes());
    let source = std::str::from_utf8(&parts[2]).unwrap();
    assert_eq!(source, p.source());
    assert!(
        source.contains("[lists.feed]") && !source.contains("evil.com"),
        "{source}"
    );
    assert_eq!(parts[3], b"feed");
    assert!(!parts[4].is_empty());
    let loaded = load(&bytes).unwrap();
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
            tags: Some(&[]),
        };
        assert_eq!(loaded.decide(&r), p.decide(&r), "{url}");
    }
    assert_eq!(
        loaded
            .decide(&Request {
                method: "GET",
                url: "https://x.evil.com/",
                customer: Some("c"),
                tags: Some(&[]),
            })
            .action,
        egress_policy_engine::Action::Block
    );
}

/// Re-packs `payload` with a valid header, so only the payload's content is judged.
fn repack(payload: &[u8]) -> Vec<u8> {
    repack_as(
        egress_policy_engine::artifact::ARTIFACT_FORMAT_VERSION,
        payload,
    )
}

/// `payload` under a valid header of format `version` (formats up to 3 had no serial).
fn repack_as(version: u32, payload: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut out = Vec::new();
    out.extend_from_slice(egress_policy_engine::artifact::ARTIFACT_MAGIC);
    out.extend_from_slice(&version.to_le_bytes());
    if version >= 4 {
        out.extend_from_slice(&7u64.to_le_bytes());
    }
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&Sha256::digest(payload));
    out.extend_from_slice(payload);
    out
}

/// The payload's length-prefixed parts: file name, revision, source, then id and section per list.
fn parts(payload: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = payload;
    while !rest.is_empty() {
        let len = u64::from_le_bytes(rest[..8].try_into().unwrap()) as usize;
        out.push(rest[8..8 + len].to_vec());
        rest = &rest[8 + len..];
    }
    out
}

fn join(parts: &[Vec<u8>]) -> Vec<u8> {
    parts
        .iter()
        .flat_map(|p| (p.len() as u64).to_le_bytes().into_iter().chain(p.clone()))
        .collect()
}

#[test]
fn a_damaged_list_section_never_loads() {
    let bytes = list_policy().to_artifact();
    let good = parts(&bytes[HEADER..]);
    assert_eq!(good.len(), 5);
    assert!(load(&repack(&join(&good))).is_ok());
    let with_section = |section: Vec<u8>| {
        let mut parts = good.clone();
        parts[4] = section;
        repack(&join(&parts))
    };
    let section = &good[4];
    let mut other_version = section.clone();
    other_version[0] = 9;
    let damaged = [
        ("not an automaton", b"not an automaton, not at all".to_vec()),
        ("header only", section[..10].to_vec()),
        ("another format version", other_version),
    ];
    for (what, section) in damaged {
        let err = load(&with_section(section)).unwrap_err();
        assert!(matches!(err, ArtifactError::Invalid(_)), "{what}: {err:?}");
        assert!(err.to_string().contains("list `feed`"), "{what}: {err}");
    }
    // A missing section, or a part after the last one.
    assert!(load(&repack(&join(&good[..4]))).is_err());
    let mut extra = good.clone();
    extra.push(b"more".to_vec());
    assert!(load(&repack(&join(&extra))).is_err());
    // A list on a pass rule, or a rule naming a list the artefact lacks, never loads.
    let source = String::from_utf8(good[2].clone()).unwrap();
    for (from, to) in [
        ("action = \"block\"", "action = \"pass\""),
        ("lists = [\"feed\"]", "lists = [\"other\"]"),
    ] {
        let tampered = source.replace(from, to);
        assert_ne!(tampered, source);
        let mut parts = good.clone();
        parts[2] = tampered.into_bytes();
        assert!(matches!(
            load(&repack(&join(&parts))).unwrap_err(),
            ArtifactError::Invalid(_)
        ));
    }
}

/// An artefact made by another tool (its checksum right, a bundle's signature right) that
/// carries a policy `check` refuses never loads: a load is `check`'s validation. Each of
/// these passed the old loader, which trusted a validated model's JSON.
#[test]
fn an_artefact_never_carries_what_check_refuses() {
    let p = egress_policy_engine::compile(
        "p.toml",
        "version = 1\n[[rules]]\nid = \"api\"\naction = \"inject\"\nhosts = [\"api.example.com\"]\ncredential = \"jwt\"\n[credentials.jwt]\nkind = \"jwt\"\nalgorithm = \"HS256\"\nsecret = \"API_KEY\"\nissuer = \"i\"\naudience = \"a\"\nttl = 300\n",
    )
    .unwrap()
    .policy;
    let good = parts(&p.to_artifact()[HEADER..]);
    let source = String::from_utf8(good[2].clone()).unwrap();
    for (from, to, code) in [
        (
            "ttl = 300",
            "ttl = 300\nheader = \"Cookie\"",
            "forbidden-credential-header",
        ),
        (
            "secret = \"API_KEY\"",
            "secret = \"customer_name\"",
            "reserved-secret-name",
        ),
        ("ttl = 300", "ttl = 0", ""),
        ("algorithm = \"HS256\"", "algorithm = \"none\"", ""),
        (
            "action = \"inject\"",
            "action = \"inject\"\nmode = \"report\"",
            "",
        ),
    ] {
        let mut parts = good.clone();
        parts[2] = source.replace(from, to).into_bytes();
        assert_ne!(parts[2], good[2]);
        let err = load(&repack(&join(&parts))).unwrap_err();
        assert!(
            matches!(&err, ArtifactError::Invalid(message) if message.contains(code)),
            "{to}: {err:?}"
        );
    }
}

/// The checksum is what vouches for a section's names: any changed byte of it is caught
/// before the table is used.
#[test]
fn a_changed_name_is_caught_by_the_checksum() {
    let bytes = list_policy().to_artifact();
    let section = parts(&bytes[HEADER..]).pop().unwrap();
    for at in bytes.len() - section.len()..bytes.len() {
        let mut changed = bytes.clone();
        changed[at] ^= 0x04;
        assert_eq!(
            load(&changed).unwrap_err(),
            ArtifactError::ChecksumMismatch,
            "byte {at}"
        );
    }
}

/// A larger list survives the artefact: every name found, no other.
#[test]
fn large_tables_round_trip_and_find_every_name() {
    let names: Vec<String> = (0..50_000).map(|i| format!("n{i}.feed.example")).collect();
    let text = "version = 1\n[lists.feed]\nfile = \"feed.txt\"\nmatch = \"exact\"\n[[rules]]\nid = \"feed\"\naction = \"block\"\nlists = [\"feed\"]\n";
    let mut files = egress_policy_engine::ListFiles::new();
    files.insert("feed.txt", "feed.txt", names.join("\n"));
    let p = egress_policy_engine::compile_with_lists("p.toml", text, &files)
        .unwrap()
        .policy;
    let loaded = load(&p.to_artifact()).unwrap();
    let table = &loaded.model().lists["feed"].domains;
    assert_eq!(table.len(), names.len());
    assert!(names.iter().all(|n| table.contains(n)));
    assert!((50_000..51_000).all(|i| !table.contains(&format!("n{i}.feed.example"))));
}

/// The embedded artefact is loaded where it lies, with the same checks as any other.
#[test]
fn a_static_artefact_loads_in_place_with_the_same_checks() {
    let p = list_policy();
    let bytes: &'static [u8] = Vec::leak(p.to_artifact());
    let loaded = CompiledPolicy::load(Artifact::Static(bytes)).unwrap();
    assert_eq!(loaded.model(), p.model());
    let r = Request {
        method: "GET",
        url: "https://x.evil.com/",
        customer: Some("c"),
        tags: Some(&[]),
    };
    assert_eq!(loaded.decide(&r), p.decide(&r));
    let mut damaged = bytes.to_vec();
    let last = damaged.len() - 1;
    damaged[last] ^= 1;
    assert_eq!(
        CompiledPolicy::load(Artifact::Static(Vec::leak(damaged))).unwrap_err(),
        ArtifactError::ChecksumMismatch
    );
}

/// Artefacts of earlier formats (a validated model's JSON instead of the source) are
/// refused by their version: they are replayed from their policy file, whose revision their
/// lines name.
#[test]
fn artefacts_of_earlier_formats_are_refused_by_their_version() {
    let current = list_policy().to_artifact();
    for version in 1..=4 {
        let old = repack_as(version, &current[HEADER..]);
        assert_eq!(
            load(&old).unwrap_err(),
            ArtifactError::UnsupportedVersion(version)
        );
    }
}

/// The serial travels in the header, where a bundle's signature covers it.
#[test]
fn the_serial_survives_the_artefact() {
    let mut p = list_policy();
    assert_eq!(p.serial(), 0);
    p.set_serial(1_796_000_000_000_000);
    let bytes = p.to_artifact();
    let header = egress_policy_engine::artifact::read_header(&bytes).unwrap();
    assert_eq!(header.serial, 1_796_000_000_000_000);
    assert_eq!(header.payload_len, bytes.len() - HEADER);
    assert_eq!(load(&bytes).unwrap().serial(), 1_796_000_000_000_000);
}

/// An automaton damaged before the artefact's checksum was computed (a bug in a signer, or a
/// signer that damaged it on purpose) is refused when the artefact loads, by the automaton's
/// own checksum: a lookup never meets it. Thousands of random damages, none loads and none
/// panics.
#[test]
fn a_damaged_automaton_under_a_good_checksum_is_refused_at_load() {
    let bytes = list_policy().to_artifact();
    let good = parts(&bytes[HEADER..]);
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let section = &good[4];
    for round in 0..3_000 {
        let mut damaged = section.clone();
        for _ in 0..=(next() % 3) {
            let at = (next() % damaged.len() as u64) as usize;
            let bit = 1u8 << (next() % 8);
            damaged[at] ^= bit;
        }
        if damaged == *section {
            continue;
        }
        let mut parts = good.clone();
        parts[4] = damaged;
        let artefact = repack(&join(&parts));
        match std::panic::catch_unwind(|| load(&artefact)) {
            Ok(Err(ArtifactError::Invalid(message))) => {
                assert!(message.contains("list `feed`"), "round {round}: {message}")
            }
            Ok(other) => panic!("round {round}: a damaged automaton loaded: {other:?}"),
            Err(_) => panic!("round {round}: loading panicked"),
        }
    }
}

/// A credential's next key is part of the compiled policy: its revision covers it, and the
/// artefact (and so a bundle) carries it to the Worker.
#[test]
fn the_next_key_travels_in_the_artefact() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policy/policy.toml");
    let text = std::fs::read_to_string(path).unwrap().replace(
        "key_id = \"2026-11\"",
        "key_id = \"2026-11\"\nnext_secret = \"EXAMPLE_API_SIGNING_KEY_2027_05\"\nnext_key_id = \"2027-05\"",
    );
    let rotating = compile("policy.toml", &text).unwrap().policy;
    assert_ne!(rotating.sha256(), policy().sha256());
    let loaded = load(&rotating.to_artifact()).unwrap();
    let next = loaded
        .model()
        .credentials
        .get("example-api-jwt")
        .unwrap()
        .next
        .clone();
    assert_eq!(
        next,
        Some(egress_policy_engine::NextKey {
            secret: "EXAMPLE_API_SIGNING_KEY_2027_05".into(),
            key_id: "2027-05".into(),
        })
    );
}
