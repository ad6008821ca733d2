//! `audit` and `replay` verify the decision log (docs/decision-log.md, "Verifying the log") on
//! lines the Worker wrote in workerd (`tests/e2e/capture-chained-log.mjs`): one isolate keyed
//! with a test key (`chained-e2e.jsonl`, `chained-e2e.key`), one without a key
//! (`chained-plain-e2e.jsonl`). Each tampering exits 4 and is named; a log that cannot be
//! verified exits 5. Every `integrity` object printed validates against
//! `schemas/integrity.schema.json`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::Command;

use serde_json::{Value, json};

const LOGS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/logs");

fn fixture(name: &str) -> String {
    format!("{LOGS}/{name}")
}

/// The keyed capture's lines, parsed.
fn keyed() -> Vec<Value> {
    let text = std::fs::read_to_string(fixture("chained-e2e.jsonl")).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Runs `egress-policy ARGS... FILE` on `lines` written to a file: the exit status and the
/// `--json` output (the audit summary, or replay's summary line).
fn run(args: &[&str], lines: &[String]) -> (i32, Value) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("log.jsonl");
    std::fs::write(
        &file,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_egress-policy"))
        .args(args)
        .arg("--json")
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let json = stdout.lines().last().map_or(Value::Null, |l| {
        serde_json::from_str(l).unwrap_or_else(|_| serde_json::from_str(&stdout).unwrap())
    });
    // Every `integrity` object printed validates against its schema.
    let errors: Vec<String> = (integrity_schema().iter_errors(&json["integrity"]))
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{json:#}");
    (out.status.code().unwrap(), json)
}

/// `schemas/integrity.schema.json`.
fn integrity_schema() -> jsonschema::Validator {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../schemas/integrity.schema.json"
    );
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

fn audit(lines: &[Value], key: Option<&str>) -> (i32, Value) {
    let key_file = key.map(fixture);
    let mut args = vec!["audit"];
    if let Some(key) = &key_file {
        args.extend(["--log-key-file", key]);
    }
    let lines: Vec<String> = lines.iter().map(Value::to_string).collect();
    run(&args, &lines)
}

fn audit_keyed(lines: &[Value]) -> (i32, Value) {
    audit(lines, Some("chained-e2e.key"))
}

fn findings(summary: &Value) -> Value {
    summary["integrity"]["findings"]["by_kind"].clone()
}

fn decisions(lines: &[Value]) -> Vec<usize> {
    (0..lines.len())
        .filter(|i| lines[*i].get("decision_id").is_some())
        .collect()
}

#[test]
fn the_untouched_capture_verifies() {
    let lines = keyed();
    let (code, summary) = audit_keyed(&lines);
    assert_eq!(code, 0, "{summary:#}");
    let integrity = &summary["integrity"];
    assert_eq!(integrity["status"], "verified");
    assert_eq!(integrity["lines"], lines.len());
    assert_eq!(integrity["verified"], lines.len());
    assert!(integrity["isolates"][0]["checkpoints"].as_u64().unwrap() >= 2);
    // The plain SHA-256 chain verifies without a key.
    let plain = std::fs::read_to_string(fixture("chained-plain-e2e.jsonl")).unwrap();
    let plain: Vec<Value> = plain
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (code, summary) = audit(&plain, None);
    assert_eq!(
        (code, &summary["integrity"]["status"]),
        (0, &json!("verified"))
    );
    // With a key given, a plain chain is not accepted as verified: anyone can compute it.
    let (code, summary) = audit(&plain, Some("chained-e2e.key"));
    assert_eq!(code, 5);
    assert_eq!(summary["integrity"]["unverifiable"]["unkeyed"], plain.len());
}

#[test]
fn deleted_lines_are_gaps() {
    let lines = keyed();
    let middle = decisions(&lines)[2];
    for deleted in [1, 3] {
        let mut cut = lines.clone();
        cut.drain(middle..middle + deleted);
        let (code, summary) = audit_keyed(&cut);
        assert_eq!(code, 4, "{summary:#}");
        assert_eq!(findings(&summary), json!({"gap": 1}));
        assert_eq!(summary["integrity"]["isolates"][0]["missing"], deleted);
    }
}

#[test]
fn an_edited_line_breaks_its_chain() {
    let lines = keyed();
    let pass = *decisions(&lines)
        .iter()
        .find(|i| lines[**i]["action"] == "pass" && lines[**i]["would_block"] == false)
        .unwrap();
    for (field, value) in [
        ("customer", "other-customer"),
        ("host", "elsewhere.example"),
        ("decision_id", "00000000-0000-4000-8000-000000000000"),
    ] {
        let mut edited = lines.clone();
        edited[pass][field] = value.into();
        let (code, summary) = audit_keyed(&edited);
        assert_eq!(code, 4, "{field}");
        assert_eq!(findings(&summary), json!({"chain_break": 1}), "{field}");
        let example = &summary["integrity"]["findings"]["examples"][0]["detail"];
        let example = example.as_str().unwrap();
        let seq = lines[pass]["seq"].as_u64().unwrap();
        assert!(example.contains(&format!("seq {seq}:")), "{example}");
    }
}

#[test]
fn a_second_line_under_a_decision_id_is_a_conflict() {
    let mut lines = keyed();
    let first = decisions(&lines)[0];
    let mut forged = lines[first].clone();
    forged["action"] = "pass".into();
    lines.push(forged);
    let (code, summary) = audit_keyed(&lines);
    assert_eq!(code, 4);
    assert_eq!(findings(&summary)["conflict"], 2, "{summary:#}");
}

#[test]
fn shuffled_and_redelivered_lines_verify_and_count_once() {
    let lines = keyed();
    let (_, before) = audit_keyed(&lines);
    let mut shuffled: Vec<Value> = lines.iter().rev().cloned().collect();
    shuffled.extend(lines.iter().step_by(2).cloned());
    shuffled.swap(0, 3);
    let (code, summary) = audit_keyed(&shuffled);
    assert_eq!(code, 0, "{summary:#}");
    let redelivered = lines.len().div_ceil(2);
    assert_eq!(summary["integrity"]["redeliveries"], redelivered);
    assert_eq!(summary["integrity"]["verified"], lines.len());
    assert_eq!(summary["decisions"], before["decisions"]);
    assert_eq!(summary["actions"], before["actions"]);
}

#[test]
fn nothing_verifiable_exits_5() {
    assert_eq!(audit(&[], None).0, 5, "empty");
    let (code, summary) = audit(&keyed(), None);
    assert_eq!(code, 5, "keyed without the key");
    assert_eq!(
        summary["integrity"]["unverifiable"]["no_key"],
        keyed().len()
    );
    let v1 = fixture("captured-e2e.jsonl");
    let status = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_egress-policy"))
            .args(args)
            .output()
            .unwrap();
        out.status.code().unwrap()
    };
    assert_eq!(status(&["audit", &v1]), 5, "schema 1 lines carry no chain");
    assert_eq!(status(&["audit", "--allow-unverified", &v1]), 0);
}

#[test]
fn a_wrong_key_breaks_every_line() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("wrong.key");
    std::fs::write(&key, "another key of more than thirty-two bytes\n").unwrap();
    let lines: Vec<String> = keyed().iter().map(Value::to_string).collect();
    let (code, summary) = run(&["audit", "--log-key-file", key.to_str().unwrap()], &lines);
    assert_eq!(code, 4);
    assert_eq!(findings(&summary)["chain_break"], lines.len());
}

#[test]
fn a_tail_cut_before_a_checkpoint_is_a_gap() {
    let lines = keyed();
    let checkpoint = (1..lines.len())
        .rfind(|i| lines[*i]["event"] == "checkpoint")
        .unwrap();
    let mut cut = lines.clone();
    cut.drain(checkpoint - 2..checkpoint);
    let (code, summary) = audit_keyed(&cut);
    assert_eq!(code, 4);
    assert_eq!(findings(&summary), json!({"gap": 1}));
}

#[test]
fn an_invocation_that_died_without_a_line_is_reported() {
    let mut lines = keyed();
    lines.push(json!({"Outcome": "exceededCpu", "ScriptName": "egress-outbound", "Logs": []}));
    lines.push(json!({"Outcome": "exception", "ScriptName": "egress-outbound"}));
    let (code, summary) = audit_keyed(&lines);
    assert_eq!(code, 4);
    assert_eq!(findings(&summary), json!({"dead_invocation": 2}));
}

#[test]
fn replay_verifies_before_it_compares() {
    let policy = fixture("chained-e2e.policy.toml");
    let replay = |lines: &[Value]| {
        let lines: Vec<String> = lines.iter().map(Value::to_string).collect();
        let key = fixture("chained-e2e.key");
        run(
            &["replay", "--policy", &policy, "--log-key-file", &key],
            &lines,
        )
    };
    let lines = keyed();
    let (code, summary) = replay(&lines);
    assert_eq!(code, 0, "{summary:#}");
    assert_eq!(summary["integrity"]["status"], "verified");
    let mut cut = lines.clone();
    cut.remove(decisions(&lines)[1]);
    let (code, summary) = replay(&cut);
    assert_eq!(code, 4);
    assert_eq!(summary["integrity"]["findings"]["by_kind"]["gap"], 1);
}
