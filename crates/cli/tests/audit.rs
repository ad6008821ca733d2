//! `egress-policy audit` on hand-made, Logpush-style, gzip, corrupt, empty and huge logs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/logs")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// `audit --allow-unverified ARGS...`: these fixtures are schema 1 lines (no chain; their
/// verification is `tests/verify.rs`'s).
fn audit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_egress-policy"))
        .args(["audit", "--allow-unverified"])
        .args(args)
        .output()
        .unwrap()
}

fn audit_json(logs: &[&str]) -> Value {
    let mut args = vec!["--json"];
    args.extend(logs);
    let out = audit(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The row of `rows` whose `field` is `value`.
fn row<'a>(rows: &'a Value, field: &str, value: &str) -> &'a Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r[field] == value)
        .unwrap_or_else(|| panic!("no row with {field} = {value} in {rows}"))
}

/// The whole check for a log captured from a real run: it has decisions, every line is
/// readable, and every decision names its policy revision. (A capture from the Worker's
/// end-to-end tests is one `#[test]` calling this.)
fn assert_audits_cleanly(log: &str) -> Value {
    let s = audit_json(&[log]);
    assert!(s["decisions"].as_u64().unwrap() > 0, "{s}");
    assert_eq!(s["problems"]["total"], 0, "{}", s["problems"]);
    assert!(s["inputs"][0]["error"].is_null());
    for revision in s["revisions"].as_array().unwrap() {
        assert_eq!(revision["sha256"].as_str().unwrap().len(), 64, "{revision}");
    }
    let by_action = &s["actions"];
    assert_eq!(
        by_action["total"].as_u64(),
        Some(
            by_action["block"].as_u64().unwrap()
                + by_action["inject"].as_u64().unwrap()
                + by_action["pass"].as_u64().unwrap()
                + by_action["failed"].as_u64().unwrap()
        )
    );
    s
}

#[test]
fn summarises_per_customer_action_rule_revision_and_credential() {
    let s = assert_audits_cleanly(&fixture("replay.jsonl"));
    assert_eq!(s["decisions"], 16);
    // By outcome: the inject that got a 502 (credential unavailable) and the pass whose
    // upstream was unreachable are failures, not an injection and a pass.
    assert_eq!(s["actions"]["block"], 8);
    assert_eq!(s["actions"]["inject"], 2);
    assert_eq!(s["actions"]["pass"], 4);
    assert_eq!(s["actions"]["failed"], 2);
    assert_eq!(s["actions"]["would_block"], 2);
    assert_eq!(
        row(&s["failures"], "key", "inject credential_unavailable")["count"],
        1
    );
    assert_eq!(
        row(&s["failures"], "key", "pass upstream_unreachable")["count"],
        1
    );
    assert_eq!(s["time_range"]["first"], "2026-11-27T23:59:58Z");
    assert_eq!(s["time_range"]["last"], "2026-11-28T12:00:14.518Z");

    let revisions = s["revisions"].as_array().unwrap();
    assert_eq!(revisions.len(), 2);
    let current = row(
        &s["revisions"],
        "sha256",
        "d25a4c4359dbc6bcb344367ebeb40798c875115b134cd5327e731aa8bff6f092",
    );
    assert_eq!(current["counts"]["total"], 14);
    assert_eq!(current["name"], "replay-fixture");

    let a = row(&s["customers"], "key", "customer-a");
    assert_eq!(
        (a["counts"]["total"].as_u64(), a["counts"]["block"].as_u64()),
        (Some(8), Some(5))
    );
    let customers = s["customers"].as_array().unwrap();
    let none = customers.iter().find(|r| r["key"].is_null()).unwrap();
    assert_eq!(none["counts"]["block"], 1);

    assert_eq!(
        row(&s["rules"], "rule", "block-malware")["counts"]["block"],
        2
    );
    assert_eq!(
        row(&s["rules"], "reason", "ip_literal")["counts"]["block"],
        1
    );

    let hosts = &s["top_blocked_hosts"];
    assert_eq!(hosts.as_array().unwrap().len(), 8);
    assert!(
        hosts
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["key"] == "169.254.169.254")
    );

    let report = row(&s["report_rules"], "rule", "staged-tracker-block");
    assert_eq!(report["counts"]["total"], 2);
    assert_eq!(report["customers_affected"], 2);
    assert_eq!(report["hosts"][0]["key"], "tracker.example");
    assert_eq!(report["hosts"][0]["count"], 2);

    let credential = row(&s["credentials"], "credential", "example-api-jwt");
    assert_eq!(credential["injections"], 2);
    assert_eq!(credential["failed"], 1);
    assert_eq!(credential["unavailable"], 1);

    assert_eq!(
        row(&s["upstream_errors"], "key", "upstream_unreachable")["count"],
        1
    );
    assert_eq!(
        row(&s["upstream_errors"], "key", "credential_unavailable")["count"],
        1
    );
    assert_eq!(s["problems"]["total"], 0);
}

#[test]
fn gzip_and_logpush_exports_read_like_plain_lines() {
    let plain = audit_json(&[&fixture("replay.jsonl")]);
    let gz = audit_json(&[&fixture("replay.jsonl.gz")]);
    assert_eq!(plain["actions"], gz["actions"]);
    assert_eq!(plain["customers"], gz["customers"]);

    let logpush = audit_json(&[&fixture("logpush.jsonl")]);
    // 6 records + 2 in an array-wrapped export; the 9th message was cut by the Logs cap.
    assert_eq!(logpush["decisions"], 8);
    assert_eq!(logpush["other_messages"], 1);
    assert_eq!(logpush["problems"]["by_kind"]["truncated"], 1);
    assert_eq!(logpush["problems"]["examples"][0]["line"], 8);
}

#[test]
fn corrupt_lines_are_counted_with_their_location_and_never_fatal() {
    let s = audit_json(&[&fixture("corrupt.jsonl")]);
    assert_eq!(s["decisions"], 3);
    let p = &s["problems"];
    assert_eq!(p["total"], 10);
    assert_eq!(p["by_kind"]["truncated"], 2);
    assert_eq!(p["by_kind"]["invalid_json"], 1);
    assert_eq!(p["by_kind"]["unknown_version"], 2);
    assert_eq!(p["by_kind"]["invalid_decision"], 1);
    assert_eq!(p["by_kind"]["unrecognised"], 3);
    assert_eq!(p["by_kind"]["invalid_utf8"], 1);
    assert_eq!(p["unknown_versions"]["3"], 1);
    assert_eq!(p["unknown_versions"]["\"1\""], 1);
    let lines: Vec<u64> = p["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [2, 3, 5, 6, 7, 8, 9, 10, 11, 14]);
    assert!(s["notes"][0].as_str().unwrap().contains("`ts`"));

    let text = audit(&[&fixture("corrupt.jsonl")]);
    assert!(text.status.success());
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("malformed lines: 10"), "{text}");
    assert!(text.contains("corrupt.jsonl:14: truncated"), "{text}");
}

#[test]
fn html_report_is_self_contained_and_escapes_log_content() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("audit.html");
    let out = audit(&[
        &fixture("corrupt.jsonl"),
        &fixture("replay.jsonl"),
        "--html",
        page.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;.example"));
    assert!(
        !html.contains("<script"),
        "markup from a log line reached the page"
    );
    assert!(html.contains("<meter"));
    for forbidden in ["http://", "https://", "src=", "href="] {
        assert!(!html.contains(forbidden), "page refers to {forbidden}");
    }
}

#[test]
fn empty_and_missing_inputs() {
    let s = audit_json(&[&fixture("empty.jsonl")]);
    assert_eq!(s["decisions"], 0);
    assert!(s["time_range"].is_null());

    let out = audit(&[
        "--json",
        &fixture("replay.jsonl"),
        "/nonexistent/decisions.jsonl",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["decisions"], 16, "the readable input is still summarised");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("/nonexistent/decisions.jsonl: cannot open")
    );
}

#[test]
fn corrupt_gzip_reports_a_read_error_after_the_good_lines() {
    let dir = tempfile::tempdir().unwrap();
    let mut gz = std::fs::read(fixture("replay.jsonl.gz")).unwrap();
    let half = gz.len() / 2;
    gz.truncate(half);
    gz.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    let path = dir.path().join("broken.jsonl.gz");
    std::fs::write(&path, gz).unwrap();
    let out = audit(&["--json", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        s["inputs"][0]["error"]
            .as_str()
            .unwrap()
            .starts_with("read error after line")
    );
}

/// 200,000 generated lines (50,000 distinct blocked hosts, some corrupt) streamed through
/// standard input: correct counts, bounded top lists. The lines are produced on the fly and
/// never held by the test or the tool.
#[test]
fn streams_a_huge_log() {
    const LINES: u64 = 200_000;
    let mut child = Command::new(env!("CARGO_BIN_EXE_egress-policy"))
        .args(["audit", "--allow-unverified", "--json", "--top", "5", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let mut out = std::io::BufWriter::new(&mut stdin);
        for i in 0..LINES {
            if i % 1000 == 999 {
                writeln!(out, "{{\"v\":1,\"ts\":\"2026-11-28T").unwrap();
                continue;
            }
            let (action, host) = if i % 4 == 0 {
                ("block", format!("h{}.blocked.example", i % 50_000))
            } else {
                ("pass", "ok.example".to_string())
            };
            let host = if i % 3 == 0 {
                "hot.blocked.example".to_string()
            } else {
                host
            };
            let action = if host == "hot.blocked.example" {
                "block"
            } else {
                action
            };
            writeln!(
                out,
                r#"{{"v":1,"ts":"2026-11-28T12:{:02}:{:02}.000Z","decision_id":"d{i}","customer":"customer-{}","tags":[],"action":"{action}","would_block":false,"rule":null,"report_rule":null,"reason":null,"method":"GET","scheme":"https","host":"{host}","port":443,"path":"/","credential":null,"policy":{{"name":"big","sha256":"00"}},"status":null,"error":null,"duration_ms":1}}"#,
                (i / 60) % 60,
                i % 60,
                i % 7
            )
            .unwrap();
        }
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success());
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    let corrupt = LINES / 1000;
    assert_eq!(s["decisions"], LINES - corrupt);
    assert_eq!(s["problems"]["by_kind"]["truncated"], corrupt);
    assert_eq!(s["problems"]["examples"].as_array().unwrap().len(), 10);
    assert_eq!(s["customers"].as_array().unwrap().len(), 7);
    let top = s["top_blocked_hosts"].as_array().unwrap();
    assert_eq!(top.len(), 5);
    assert_eq!(top[0]["key"], "hot.blocked.example");
    // Every third line goes to the hot host (minus the corrupt ones among them).
    let hot = (0..LINES).filter(|i| i % 3 == 0 && i % 1000 != 999).count() as u64;
    assert_eq!(top[0]["count"], hot);
    let blocked = s["actions"]["block"].as_u64().unwrap();
    let expected_blocked = (0..LINES)
        .filter(|i| i % 1000 != 999 && (i % 4 == 0 || i % 3 == 0))
        .count() as u64;
    assert_eq!(blocked, expected_blocked);
}

/// The Worker's own log captured in its workerd end-to-end suite (see `tests/replay.rs`).
#[test]
fn the_workers_own_captured_log_audits_clean() {
    let s = assert_audits_cleanly(&fixture("captured-e2e.jsonl"));
    assert_eq!(s["revisions"].as_array().unwrap().len(), 1);
    assert!(s["actions"]["inject"].as_u64().unwrap() > 0);
    assert!(s["actions"]["block"].as_u64().unwrap() > 0);
}

/// An inject that answered 502 is a failure, not an injection, whether the line says so
/// (`outcome`, written by current Workers) or it is derived (older lines); every output
/// shows the failures.
#[test]
fn failed_injections_are_not_counted_as_injections() {
    let base = r#"{"v":1,"ts":"2026-11-28T12:00:00.000Z","decision_id":"d","customer":"acme","tags":[],"action":"inject","would_block":false,"rule":"api","report_rule":null,"reason":null,"method":"GET","scheme":"https","host":"api.example.com","port":443,"path":"/v1","credential":"api-jwt","policy":{"name":null,"sha256":"00"},"status":200,"error":null,"duration_ms":1}"#;
    let line = |patch: serde_json::Value| {
        let mut v: Value = serde_json::from_str(base).unwrap();
        for (k, x) in patch.as_object().unwrap() {
            v[k] = x.clone();
        }
        v.to_string()
    };
    let lines = [
        line(serde_json::json!({"outcome": "injected"})),
        line(serde_json::json!({})),
        line(
            serde_json::json!({"status": null, "error": "credential_unavailable", "outcome": "failed"}),
        ),
        line(serde_json::json!({"status": null, "error": "upstream_unreachable"})),
    ];
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("failed.jsonl");
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    let log = log.to_str().unwrap();

    let s = audit_json(&[log]);
    assert_eq!(s["actions"]["inject"], 2, "{}", s["actions"]);
    assert_eq!(s["actions"]["failed"], 2);
    let credential = row(&s["credentials"], "credential", "api-jwt");
    assert_eq!(credential["injections"], 2);
    assert_eq!(credential["failed"], 2);
    assert_eq!(credential["unavailable"], 1);
    assert_eq!(
        row(&s["failures"], "key", "inject upstream_unreachable")["count"],
        1
    );

    let text = String::from_utf8(audit(&[log]).stdout).unwrap();
    assert!(
        text.contains("outcomes: block 0, inject 2, pass 0, failed 2;"),
        "{text}"
    );
    assert!(
        text.contains("inject credential_unavailable 1, inject upstream_unreachable 1"),
        "{text}"
    );

    let page = dir.path().join("audit.html");
    assert!(
        audit(&[log, "--html", page.to_str().unwrap()])
            .status
            .success()
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("Failed requests"), "{html}");
    assert!(html.contains("inject credential_unavailable"), "{html}");
}

#[test]
fn revisions_are_counted_by_source_and_bundle_serial() {
    let base = r#"{"v":1,"ts":"2026-12-01T12:00:00.000Z","decision_id":"d","customer":"acme","tags":[],"action":"pass","would_block":false,"rule":null,"report_rule":null,"reason":"default_action","method":"GET","scheme":"https","host":"example.com","port":443,"path":"/","credential":null,"policy":{"name":"p","sha256":"00"},"status":200,"error":null,"duration_ms":1}"#;
    let with_policy = |policy: Value| {
        let mut v: Value = serde_json::from_str(base).unwrap();
        v["policy"] = policy;
        v.to_string()
    };
    let lines = [
        with_policy(serde_json::json!({"name": "p", "sha256": "00", "source": "embedded"})),
        with_policy(serde_json::json!({"name": "p", "sha256": "11", "source": "bundle", "serial": 7})),
        with_policy(serde_json::json!({"name": "p", "sha256": "11", "source": "bundle", "serial": 7})),
        with_policy(serde_json::json!({"name": "p", "sha256": "00"})),
        // A bundle event shares the stream: not a decision, not a problem.
        r#"{"v":1,"ts":"2026-12-01T12:00:00.000Z","event":"policy_bundle","status":"loaded","reason":null,"serial":7,"policy":null,"active":{"name":"p","sha256":"11","source":"bundle","serial":7}}"#.to_owned(),
    ];
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("bundles.jsonl");
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    let log = log.to_str().unwrap();

    let s = audit_json(&[log]);
    assert_eq!(s["decisions"], 4, "{s}");
    assert_eq!(s["problems"]["total"], 0, "{}", s["problems"]);
    let revisions = s["revisions"].as_array().unwrap();
    assert_eq!(revisions.len(), 3, "{revisions:?}");
    let bundle = revisions.iter().find(|r| r["source"] == "bundle").unwrap();
    assert_eq!(
        (
            bundle["serial"].as_u64(),
            bundle["counts"]["total"].as_u64()
        ),
        (Some(7), Some(2))
    );
    let text = String::from_utf8(audit(&[log]).stdout).unwrap();
    assert!(text.contains("bundle 7"), "{text}");
    assert!(text.contains("embedded"), "{text}");
}
