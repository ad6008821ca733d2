//! `check` and `compile`, run as the binary: exit codes, diagnostics (snapshots), JSON, the
//! artefact.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use egress_policy_engine::CompiledPolicy;
use sha2::{Digest, Sha256};
use support::run;

const FIXTURES: &str = "crates/cli/tests/fixtures/check";

#[test]
fn default_policy_checks_clean_of_errors() {
    let out = run(&["check"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("policy/policy.toml: ok, 0 errors"),
        "{}",
        out.stdout
    );
}

#[test]
fn broken_policies_report_every_diagnostic() {
    for (fixture, errors) in [
        ("non_canonical_hosts", 9),
        ("bad_rules", 9),
        ("bad_credentials", 3),
        ("toml_syntax", 1),
    ] {
        let path = format!("{FIXTURES}/{fixture}.toml");
        let out = run(&["check", &path]);
        assert_eq!(out.code, 1, "{fixture}: {}", out.stdout);
        assert!(out.stderr.is_empty(), "{fixture}: {}", out.stderr);
        let summary = out.stdout.lines().last().unwrap();
        assert!(
            summary.starts_with(&format!("{path}: {errors} error")),
            "{fixture}: {summary}"
        );
        insta::assert_snapshot!(format!("check_{fixture}"), out.stdout);
    }
}

#[test]
fn warnings_alone_exit_zero() {
    let out = run(&["check", &format!("{FIXTURES}/warnings_only.toml")]);
    assert_eq!(out.code, 0);
    insta::assert_snapshot!("check_warnings_only", out.stdout);
}

#[test]
fn json_format_locates_each_diagnostic() {
    let out = run(&[
        "check",
        "--format",
        "json",
        &format!("{FIXTURES}/non_canonical_hosts.toml"),
    ]);
    assert_eq!(out.code, 1);
    let diagnostics: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(diagnostics.len(), 9);
    let first = &diagnostics[0];
    assert_eq!(first["severity"], "error");
    assert_eq!(first["code"], "non-canonical-host");
    assert_eq!(
        first["file"],
        format!("{FIXTURES}/non_canonical_hosts.toml")
    );
    assert_eq!(
        (first["line"].as_u64(), first["column"].as_u64()),
        (Some(8), Some(10))
    );
    assert_eq!(
        (first["end_line"].as_u64(), first["end_column"].as_u64()),
        (Some(8), Some(25))
    );
    assert_eq!(first["hint"], "write `malicious.com`");
    for d in &diagnostics {
        for key in [
            "message",
            "line",
            "column",
            "end_line",
            "end_column",
            "hint",
        ] {
            assert!(d.get(key).is_some(), "{key} missing in {d}");
        }
    }
}

#[test]
fn missing_policy_file_is_an_error_on_stderr() {
    let out = run(&["check", "no/such/policy.toml"]);
    assert_eq!(out.code, 1);
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr
            .starts_with("error: cannot read `no/such/policy.toml`"),
        "{}",
        out.stderr
    );
}

#[test]
fn compile_writes_an_artefact_that_loads_back() {
    let dir = tempfile::tempdir().unwrap();
    let artefact = dir.path().join("policy.bin");
    let out = run(&["compile", "-o", artefact.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let source = std::fs::read(support::root().join("policy/policy.toml")).unwrap();
    let source_sha: String = Sha256::digest(&source)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let bytes = std::fs::read(&artefact).unwrap();
    let artefact_sha: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let loaded =
        CompiledPolicy::load(egress_policy_engine::artifact::Artifact::Bytes(&bytes)).unwrap();
    assert_eq!(loaded.sha256(), source_sha);
    assert!(
        out.stdout
            .contains(&format!("policy sha256:   {source_sha}"))
    );
    assert!(
        out.stdout
            .contains(&format!("artefact sha256: {artefact_sha}"))
    );
    let rules = loaded.model().rules.len();
    assert!(
        out.stdout
            .contains(&format!(": {rules} rules, {} bytes", bytes.len())),
        "{}",
        out.stdout
    );
}

#[test]
fn compile_refuses_an_invalid_policy() {
    let dir = tempfile::tempdir().unwrap();
    let artefact = dir.path().join("policy.bin");
    let out = run(&[
        "compile",
        &format!("{FIXTURES}/bad_rules.toml"),
        "-o",
        artefact.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 1);
    assert!(!artefact.exists());
    assert!(
        out.stderr.contains("error[duplicate-rule-id]"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .trim_end()
            .ends_with(&format!("error: `{FIXTURES}/bad_rules.toml` has 9 errors")),
        "{}",
        out.stderr
    );
}

#[test]
fn usage_errors_exit_two() {
    let out = run(&["compile"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--output"), "{}", out.stderr);
}
