//! `egress-policy replay`: logged decisions re-decided against the policy revision that made
//! them; a mismatch must be found.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[allow(dead_code, reason = "only the key helper is used here")]
mod support;

use std::path::PathBuf;
use std::process::{Command, Output};

fn path(relative: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(relative)
        .to_string_lossy()
        .into_owned()
}

fn logs(name: &str) -> String {
    path(&format!("tests/fixtures/logs/{name}"))
}

/// `replay --allow-unverified`: these fixtures are schema 1 lines (no chain).
fn replay(policy: &str, inputs: &[&str]) -> (Option<i32>, String, String) {
    let mut args = vec!["replay", "--allow-unverified", "--policy", policy];
    args.extend_from_slice(inputs);
    cli(&args)
}

/// The whole check for a log captured from a real run: every line was decided by `policy`,
/// and replaying agrees on every one. (A capture from the Worker's end-to-end tests is one
/// `#[test]` calling this.)
fn assert_log_agrees_with_policy(policy: &str, log: &str) {
    let (code, stdout, stderr) = replay(policy, &[log]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(!stdout.contains("mismatch"), "{stdout}");
    assert!(!stdout.contains("nothing was verified"), "{stdout}");
    assert!(!stdout.contains("malformed"), "{stdout}");
}

fn fixture_policy() -> String {
    logs("replay-policy.toml")
}

#[test]
fn a_log_that_agrees_replays_clean() {
    assert_log_agrees_with_policy(&fixture_policy(), &logs("replay.jsonl"));
    let (_, stdout, _) = replay(&fixture_policy(), &[&logs("replay.jsonl")]);
    assert!(
        stdout.contains("16 decision lines read; 12 compared, 12 agree, 0 differ"),
        "{stdout}"
    );
    assert!(
        stdout
            .contains("not re-decidable (URL not fully logged): invalid_url 1, userinfo_in_url 1"),
        "{stdout}"
    );
    assert!(
        stdout.contains("skipped, other revision ec48e73799a9 (replay-fixture): 2 lines"),
        "{stdout}"
    );
    assert!(
        stdout.contains("sha256 d25a4c4359dbc6bcb344367ebeb40798c875115b134cd5327e731aa8bff6f092")
    );
}

#[test]
fn gzip_and_logpush_inputs_replay_too() {
    assert_log_agrees_with_policy(&fixture_policy(), &logs("replay.jsonl.gz"));
    let (code, stdout, _) = replay(&fixture_policy(), &[&logs("logpush.jsonl")]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stdout.contains("8 decision lines read; 8 compared, 8 agree, 0 differ"),
        "{stdout}"
    );
    assert!(
        stdout.contains("malformed lines: 1 (truncated 1)"),
        "{stdout}"
    );
}

#[test]
fn mismatches_are_found_with_their_location() {
    let (code, stdout, _) = replay(&fixture_policy(), &[&logs("replay-mismatch.jsonl")]);
    assert_eq!(code, Some(1), "{stdout}");
    let mismatches: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains(": mismatch in decision"))
        .collect();
    assert_eq!(mismatches.len(), 2, "{stdout}");
    assert!(mismatches[0].contains("replay-mismatch.jsonl:1: mismatch in decision d-0001"));
    assert!(mismatches[0].contains("logged action=block rule=block-malware-old; policy decides action=block rule=block-malware [differs: rule]"));
    assert!(mismatches[1].contains("replay-mismatch.jsonl:7: mismatch in decision d-0007 (GET https://api.example.com:443/v2/users)"));
    assert!(mismatches[1].contains("[differs: action, rule, credential]"));
    assert!(
        stdout.contains("16 decision lines read; 12 compared, 10 agree, 2 differ"),
        "{stdout}"
    );
}

#[test]
fn a_forged_line_with_markup_in_the_host_is_a_mismatch() {
    let (code, stdout, _) = replay(&fixture_policy(), &[&logs("corrupt.jsonl")]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains("corrupt.jsonl:12: mismatch in decision d-xss"),
        "{stdout}"
    );
    assert!(stdout.contains("malformed lines: 10"), "{stdout}");
}

#[test]
fn another_revision_is_skipped_not_compared() {
    // The same decisions judged by a different file (one more comment) are all skipped.
    let dir = tempfile::tempdir().unwrap();
    let edited = dir.path().join("edited.toml");
    let mut text = std::fs::read_to_string(fixture_policy()).unwrap();
    text.push_str("# edited\n");
    std::fs::write(&edited, text).unwrap();
    let (code, stdout, _) = replay(edited.to_str().unwrap(), &[&logs("replay.jsonl")]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("0 compared"), "{stdout}");
    assert!(
        stdout.contains("skipped, other revision d25a4c4359db (replay-fixture): 14 lines"),
        "{stdout}"
    );
    assert!(stdout.contains("nothing was verified"), "{stdout}");
}

#[test]
fn unusable_policy_or_input_exits_2() {
    let (code, _, stderr) = replay("/nonexistent/policy.toml", &[&logs("replay.jsonl")]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("cannot read `/nonexistent/policy.toml`"),
        "{stderr}"
    );

    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.toml");
    std::fs::write(
        &broken,
        "version = 1\n[[rules]]\nid = \"x\"\naction = \"explode\"\n",
    )
    .unwrap();
    let (code, _, stderr) = replay(broken.to_str().unwrap(), &[&logs("replay.jsonl")]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("has 1 error"), "{stderr}");

    let (code, _, stderr) = replay(
        &fixture_policy(),
        &[&logs("replay.jsonl"), "/nonexistent/log"],
    );
    assert_eq!(code, Some(2));
    assert!(stderr.contains("/nonexistent/log: cannot open"), "{stderr}");
}

/// A real capture: the decision lines the Worker logged during its workerd end-to-end suite
/// (`CAPTURE_LOGS=... node --test tests/e2e/*.test.mjs`, Worker built with
/// `tests/e2e/policy.toml`, copied beside it so later edits of the suite's policy do not turn
/// every line into "other revision").
#[test]
fn the_workers_own_captured_log_replays_clean() {
    assert_log_agrees_with_policy(
        &logs("captured-e2e.policy.toml"),
        &logs("captured-e2e.jsonl"),
    );
}

/// `replay --json`: its JSON Lines, parsed.
fn replay_json(policy: &str, inputs: &[&str]) -> (Option<i32>, Vec<serde_json::Value>) {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_egress-policy"))
        .args(["replay", "--allow-unverified", "--json", "--policy", policy])
        .args(inputs)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    (out.status.code(), lines)
}

#[test]
fn json_lists_each_mismatch_then_a_summary() {
    let (code, lines) = replay_json(&fixture_policy(), &[&logs("replay-mismatch.jsonl")]);
    assert_eq!(code, Some(1));
    assert_eq!(lines.len(), 3, "{lines:?}");
    let first = &lines[0];
    assert_eq!(first["kind"], "mismatch");
    assert!(
        first["file"]
            .as_str()
            .unwrap()
            .ends_with("replay-mismatch.jsonl")
    );
    assert_eq!(first["line"], 1);
    assert_eq!(first["decision_id"], "d-0001");
    assert_eq!(first["differs"], serde_json::json!(["rule"]));
    assert_eq!(first["logged"], "action=block rule=block-malware-old");
    assert_eq!(first["decided"], "action=block rule=block-malware");
    assert_eq!(lines[1]["line"], 7);
    assert_eq!(
        lines[1]["differs"],
        serde_json::json!(["action", "rule", "credential"])
    );
    assert_eq!(lines[1]["url"], "https://api.example.com:443/v2/users");

    let summary = &lines[2];
    assert_eq!(summary["kind"], "summary");
    assert_eq!(summary["policy"]["name"], "replay-fixture");
    assert_eq!(
        summary["policy"]["sha256"],
        "d25a4c4359dbc6bcb344367ebeb40798c875115b134cd5327e731aa8bff6f092"
    );
    assert_eq!(summary["decisions"], 16);
    assert_eq!(summary["compared"], 12);
    assert_eq!(summary["agree"], 10);
    assert_eq!(summary["mismatched"], 2);
    assert_eq!(
        summary["not_redecidable"],
        serde_json::json!({"invalid_url": 1, "userinfo_in_url": 1})
    );
    assert_eq!(summary["skipped"][0]["lines"], 2);
    assert_eq!(summary["verified"], true);
    assert_eq!(summary["malformed"]["total"], 0);
}

#[test]
fn json_summary_of_the_captured_log_and_of_an_unusable_input() {
    let (code, lines) = replay_json(
        &logs("captured-e2e.policy.toml"),
        &[&logs("captured-e2e.jsonl")],
    );
    assert_eq!(code, Some(0));
    assert_eq!(lines.len(), 1, "no mismatch line: {lines:?}");
    assert_eq!(lines[0]["compared"], lines[0]["agree"]);
    assert!(lines[0]["compared"].as_u64().unwrap() > 300);

    let (code, lines) = replay_json(&fixture_policy(), &["/nonexistent/log"]);
    assert_eq!(code, Some(2));
    assert_eq!(lines[0]["verified"], false);
    assert!(
        lines[0]["inputs"][0]["error"]
            .as_str()
            .unwrap()
            .contains("cannot open")
    );
}

#[test]
fn lines_with_a_redacted_path_are_counted_not_redecided() {
    let text = std::fs::read_to_string(logs("replay.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    // Logged as decided by a rule the policy does not have: compared, it would differ.
    let mut wrong = first.clone();
    wrong["rule"] = "no-such-rule".into();
    let mut redacted = wrong.clone();
    redacted["path"] = "/a".into();
    redacted["path_redacted"] = true.into();
    let mut no_path = wrong.clone();
    no_path["path"] = serde_json::Value::Null;
    no_path["path_redacted"] = true.into();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("redacted.jsonl");
    std::fs::write(&file, format!("{first}\n{redacted}\n{no_path}\n")).unwrap();
    let file = file.to_string_lossy().into_owned();

    let (code, stdout, stderr) = replay(&fixture_policy(), &[&file]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(!stdout.contains("mismatch"), "{stdout}");
    assert!(
        stdout.contains("3 decision lines read; 1 compared, 1 agree, 0 differ"),
        "{stdout}"
    );
    assert!(
        stdout.contains("not re-decided: path redacted (path_in_logs): 2 lines"),
        "{stdout}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_egress-policy"))
        .args([
            "replay",
            "--allow-unverified",
            "--json",
            "--policy",
            &fixture_policy(),
            &file,
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["kind"], "summary", "{stdout}");
    assert_eq!(summary["path_redacted"], 2);
    assert_eq!(summary["compared"], 1);
    assert_eq!(summary["mismatched"], 0);

    // Without the flag the same line is a mismatch: the counting above is what spares it.
    std::fs::write(dir.path().join("wrong.jsonl"), format!("{wrong}\n")).unwrap();
    let wrong_file = dir
        .path()
        .join("wrong.jsonl")
        .to_string_lossy()
        .into_owned();
    let (code, stdout, _) = replay(&fixture_policy(), &[&wrong_file]);
    assert_eq!(code, Some(1), "{stdout}");
}

/// Runs the binary with `args`.
fn cli(args: &[&str]) -> (Option<i32>, String, String) {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_egress-policy"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn archived_revisions_re_decide_their_own_lines() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let head = "version = 1\n[defaults]\naction = \"pass\"\n";
    let old = file(
        "old.toml",
        &format!(
            "{head}\n[[rules]]\nid = \"emergency\"\naction = \"block\"\nhosts = [\"evil.test\"]\n"
        ),
    );
    let new = file("new.toml", head);
    let key = file("key.pem", &support::ed25519_pem(3));
    let archive = dir.path().join("archive");
    let archive = archive.to_str().unwrap();
    let bundle = dir.path().join("b.bin");
    let (code, out, err) = cli(&[
        "bundle",
        &old,
        "--key-file",
        &key,
        "--environment",
        "production",
        "--serial",
        "1",
        "-o",
        bundle.to_str().unwrap(),
        "--archive",
        archive,
    ]);
    assert_eq!(code, Some(0), "{out}{err}");

    // Lines the old revision decided, as explain writes them, plus the fields only logs have.
    let line = |url: &str, falsify: bool| {
        let (code, out, _) = cli(&[
            "explain",
            "--policy",
            &old,
            "--customer",
            "acme",
            "--json",
            url,
        ]);
        assert_eq!(code, Some(0));
        let mut v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let o = v.as_object_mut().unwrap();
        o.remove("rule_line");
        o.insert("v".into(), 1.into());
        o.insert("ts".into(), "2026-12-01T00:00:00.000Z".into());
        o.insert("decision_id".into(), format!("d-{url}").into());
        o.insert("status".into(), serde_json::Value::Null);
        o.insert("error".into(), serde_json::Value::Null);
        o.insert("duration_ms".into(), 1.into());
        if falsify {
            o.insert("action".into(), "pass".into());
            o.insert("rule".into(), serde_json::Value::Null);
        }
        v.to_string()
    };
    let good = file(
        "good.jsonl",
        &[
            line("https://evil.test/x", false),
            line("https://ok.test/", false),
        ]
        .join("\n"),
    );
    let (code, out, err) = cli(&["replay", "--allow-unverified", "--policy", &new, &good]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("skipped, other revision"), "{out}");
    let (code, out, err) = cli(&[
        "replay",
        "--allow-unverified",
        "--policy",
        &new,
        "--archive",
        archive,
        &good,
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("2 compared, 2 agree, 0 differ"), "{out}");
    assert!(out.contains("re-decided with archived revision"), "{out}");

    let forged = file("forged.jsonl", &line("https://evil.test/x", true));
    let (code, out, _) = cli(&[
        "replay",
        "--allow-unverified",
        "--policy",
        &new,
        "--archive",
        archive,
        &forged,
    ]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("mismatch"), "{out}");

    // An archive file that is not the revision it is named for is never used.
    let (_, out, _) = cli(&["compile", &new, "-o", &format!("{archive}/x.bin")]);
    assert!(out.contains("policy sha256"));
    for entry in std::fs::read_dir(archive).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "artifact") {
            std::fs::copy(format!("{archive}/x.bin"), &p).unwrap();
        }
    }
    let (code, out, _) = cli(&[
        "replay",
        "--allow-unverified",
        "--policy",
        &new,
        "--archive",
        archive,
        &good,
    ]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("not used: holds revision"), "{out}");
    assert!(out.contains("skipped, other revision"), "{out}");
}
