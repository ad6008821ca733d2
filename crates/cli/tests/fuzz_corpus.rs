//! The fuzz targets' seed corpora (`fuzz/corpus/<target>/`), replayed through the targets'
//! own properties (`fuzz/src/`) on stable: every seed, and every crash the fuzzer ever found
//! (kept as a seed), is checked again by every `cargo test`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../../../fuzz/src/lib.rs"]
mod properties;

use std::collections::BTreeSet;
use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn names(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// Runs every seed of `target` through its property; names each seed that breaks it.
fn replay(target: &str) {
    let (_, property) = properties::TARGETS
        .into_iter()
        .find(|(name, _)| *name == target)
        .unwrap();
    let dir = fuzz_dir().join("corpus").join(target);
    let seeds = names(&dir);
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    let broken: Vec<&String> = seeds
        .iter()
        .filter(|seed| {
            let data = fs::read(dir.join(seed)).unwrap();
            catch_unwind(AssertUnwindSafe(|| property(&data))).is_err()
        })
        .collect();
    assert!(broken.is_empty(), "{target}: seeds failing: {broken:?}");
}

#[test]
fn parse_compile_seeds_hold() {
    replay("parse_compile");
}

#[test]
fn decide_seeds_hold() {
    replay("decide");
}

#[test]
fn bundle_seeds_hold() {
    replay("bundle");
}

#[test]
fn artifact_seeds_hold() {
    replay("artifact");
}

#[test]
fn log_reader_seeds_hold() {
    replay("log_reader");
}

/// Every target has a corpus replayed here and a fuzz binary, and nothing else does.
#[test]
fn every_target_is_replayed() {
    let targets: BTreeSet<String> = properties::TARGETS
        .iter()
        .map(|(name, _)| name.to_string())
        .collect();
    assert_eq!(names(&fuzz_dir().join("corpus")), targets);
    let binaries: BTreeSet<String> = names(&fuzz_dir().join("fuzz_targets"))
        .iter()
        .map(|file| file.trim_end_matches(".rs").to_owned())
        .collect();
    assert_eq!(binaries, targets);
}

/// The refusal codes the bundle property accepts are the ones docs/deploy.md documents.
#[test]
fn bundle_refusals_are_documented() {
    let deploy = fs::read_to_string(fuzz_dir().join("../docs/deploy.md")).unwrap();
    for code in properties::bundle::REFUSALS {
        let quoted = [format!("`{code}`"), format!("\"{code}\"")];
        assert!(
            quoted.iter().any(|q| deploy.contains(q.as_str())),
            "{code} is not in docs/deploy.md"
        );
    }
}

/// The seeds reach past the checks they are meant to get through: bundles signed with the
/// fixed key open, artefact payloads load.
#[test]
fn seeds_reach_the_loader() {
    let corpus = fuzz_dir().join("corpus");
    let seeds = |target: &str| -> Vec<Vec<u8>> {
        names(&corpus.join(target))
            .iter()
            .map(|seed| fs::read(corpus.join(target).join(seed)).unwrap())
            .collect()
    };
    let opened = seeds("bundle")
        .iter()
        .filter(|seed| seed.first() == Some(&0))
        .filter(|seed| properties::bundle::take_up(&seed[1..]).is_ok())
        .count();
    assert!(opened > 0, "no bundle seed opens with the fixed key");
    let loaded = seeds("artifact")
        .iter()
        .map(|payload| properties::artifact::artifact_of(payload))
        .filter(|artifact| {
            let artifact = egress_policy_engine::artifact::Artifact::Bytes(artifact);
            egress_policy_engine::CompiledPolicy::load(artifact).is_ok()
        })
        .count();
    assert!(loaded > 0, "no artefact seed loads");
}
