//! `diff`, run as the binary on golden pairs of policies (tests/fixtures/diff): rewrites that
//! must diff empty, a narrowing (exit 0) and a widening (exit 3: 2 is a usage error).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use support::run;

const FIXTURES: &str = "crates/cli/tests/fixtures/diff";

fn diff(old: &str, new: &str, json: bool) -> support::Run {
    let old = format!("{FIXTURES}/{old}.toml");
    let new = format!("{FIXTURES}/{new}.toml");
    let mut args = vec!["diff", old.as_str(), new.as_str()];
    if json {
        args.push("--json");
    }
    run(&args)
}

#[test]
fn rewrites_that_decide_alike_diff_empty() {
    for rewrite in ["same_reordered", "same_split"] {
        for (old, new) in [("base", rewrite), (rewrite, "base")] {
            let out = diff(old, new, false);
            assert_eq!(out.code, 0, "{old} -> {new}: {}", out.stdout);
            assert!(
                out.stdout.contains("\nno semantic change\n"),
                "{old} -> {new}: {}",
                out.stdout
            );
            let json: serde_json::Value =
                serde_json::from_str(&diff(old, new, true).stdout).unwrap();
            assert_eq!(json["changes"], serde_json::json!([]));
            assert_eq!(json["widening"], false);
            assert!(json["probes"].as_u64().unwrap() > 40);
        }
    }
}

#[test]
fn a_policy_diffs_empty_against_itself() {
    let out = run(&["diff", "policy/policy.toml", "policy/policy.toml"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("no semantic change"));
}

#[test]
fn narrowing_exits_zero() {
    let out = diff("base", "narrowing", false);
    assert_eq!(out.code, 0, "{}", out.stdout);
    insta::assert_snapshot!("diff_narrowing", out.stdout);
    let json: serde_json::Value =
        serde_json::from_str(&diff("base", "narrowing", true).stdout).unwrap();
    let kinds: Vec<&str> = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["newly_blocked", "report_to_enforce", "credential_removed"]
    );
    let paste = &json["changes"][0];
    assert_eq!(
        paste["scope"],
        serde_json::json!({"kind": "customers", "customers": [null], "except": ["customer-trial"]})
    );
}

#[test]
fn widening_exits_three_and_names_what_is_newly_allowed() {
    let out = diff("base", "widening", false);
    assert_eq!(out.code, 3, "{}", out.stdout);
    insta::assert_snapshot!("diff_widening", out.stdout);
    let json: serde_json::Value =
        serde_json::from_str(&diff("base", "widening", true).stdout).unwrap();
    assert_eq!(json["widening"], true);
    let changes = json["changes"].as_array().unwrap();
    let unblocked = changes.iter().find(|c| c["kind"] == "unblocked").unwrap();
    assert_eq!(unblocked["old"]["rule"], "block-malware");
    assert_eq!(unblocked["new"]["action"], "pass");
    assert_eq!(unblocked["hosts"][0]["host"], "evil.org");
    let report = changes
        .iter()
        .find(|c| c["kind"] == "enforce_to_report")
        .unwrap();
    assert_eq!(report["new"]["report_rule"], "block-internal");
    let injected = changes
        .iter()
        .find(|c| c["kind"] == "newly_injected")
        .unwrap();
    assert_eq!(injected["new"]["credential"], "api-jwt");
    let hosts: Vec<&str> = injected["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["host"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["api-eu.example.com", "api.example.com"]);
    // The reverse change only narrows.
    assert_eq!(diff("widening", "base", false).code, 0);
}

#[test]
fn an_invalid_policy_exits_one() {
    let out = run(&[
        "diff",
        "policy/policy.toml",
        "crates/cli/tests/fixtures/check/bad_rules.toml",
    ]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("error[unknown-action]"),
        "{}",
        out.stderr
    );
}

#[test]
fn customers_with_several_tags_are_probed_together() {
    let out = diff("tags_first", "tags_swapped", true);
    assert_eq!(out.code, 3, "{}", out.stdout);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let changes = json["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1);
    let change = &changes[0];
    assert_eq!(change["kind"], "credential_changed");
    assert_eq!(change["old"]["credential"], "billing-eu");
    assert_eq!(change["new"]["credential"], "billing-us");
    assert_eq!(change["scope_text"], "only customers with tags `eu`, `us`");
}

#[test]
fn logging_settings_changes_are_noted() {
    let dir = tempfile::tempdir().unwrap();
    let rule = "[[rules]]\nid = \"b\"\naction = \"block\"\nhosts = [\"evil.example\"]\n";
    let old = dir.path().join("old.toml");
    let new = dir.path().join("new.toml");
    std::fs::write(&old, format!("version = 1\n{rule}")).unwrap();
    std::fs::write(
        &new,
        format!("version = 1\n[defaults]\npath_in_logs = 2\n{rule}"),
    )
    .unwrap();
    let (old, new) = (old.to_str().unwrap(), new.to_str().unwrap());
    let out = run(&["diff", old, new]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stdout
            .contains("note: `defaults.path_in_logs` changed from \"full\" to 2"),
        "{}",
        out.stdout
    );
    let back = run(&["diff", new, old]);
    assert!(
        back.stdout
            .contains("`defaults.path_in_logs` changed from 2 to \"full\""),
        "{}",
        back.stdout
    );
}
