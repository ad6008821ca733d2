//! Domain lists through the binary: list files read relative to the policy, their errors
//! rendered at `list-file:line:col`, `explain` naming the list and entry, `compile`,
//! `diff` probing names that changed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::path::Path;

use egress_policy_engine::{CompiledPolicy, Request, policy_sha256};
use support::run;

const FIXTURES: &str = "crates/cli/tests/fixtures/lists";

#[test]
fn check_reads_list_files_relative_to_the_policy() {
    let out = run(&["check", &format!("{FIXTURES}/policy.toml")]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        out.stdout,
        format!(
            "{FIXTURES}/policy.toml: ok, 0 errors, 0 warnings (2 rules, 2 domain lists of 5 names)\n"
        )
    );
}

#[test]
fn check_renders_list_file_errors_at_their_line_and_column() {
    let out = run(&["check", &format!("{FIXTURES}/broken.toml")]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    insta::assert_snapshot!("check_broken_lists", out.stdout);
}

#[test]
fn check_json_names_the_list_file() {
    let out = run(&[
        "check",
        "--format",
        "json",
        &format!("{FIXTURES}/broken.toml"),
    ]);
    assert_eq!(out.code, 1);
    let diagnostics: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    let wildcard = diagnostics
        .iter()
        .find(|d| d["code"] == "list-wildcard")
        .unwrap();
    assert_eq!(wildcard["file"], format!("{FIXTURES}/lists/bad.txt"));
    assert_eq!(
        (
            wildcard["line"].as_u64(),
            wildcard["column"].as_u64(),
            wildcard["end_column"].as_u64()
        ),
        (Some(3), Some(1), Some(15))
    );
    let syntax = diagnostics
        .iter()
        .find(|d| d["code"] == "list-syntax")
        .unwrap();
    assert_eq!(
        (syntax["line"].as_u64(), syntax["column"].as_u64()),
        (Some(4), Some(9))
    );
    let unreadable = diagnostics
        .iter()
        .find(|d| d["code"] == "unreadable-list-file")
        .unwrap();
    assert_eq!(unreadable["file"], format!("{FIXTURES}/broken.toml"));
    assert_eq!(unreadable["line"].as_u64(), Some(18));
}

#[test]
fn explain_names_the_list_and_the_entry() {
    let policy = format!("{FIXTURES}/policy.toml");
    let out = run(&[
        "explain",
        "--policy",
        &policy,
        "--customer",
        "c1",
        "https://cdn.Malware.example./x",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains(&format!(
            "first matching block rule: block-feed ({policy}:4): host `cdn.malware.example` matches list `malware-feed` (entry `malware.example` and its subdomains)"
        )),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains(">  7 | lists = [\"malware-feed\", \"ads\"]"),
        "{}",
        out.stdout
    );
    let exact = run(&[
        "explain",
        "--policy",
        &policy,
        "--customer",
        "c1",
        "https://tracker.example/",
    ]);
    assert!(
        exact
            .stdout
            .contains("host `tracker.example` matches list `ads` (entry `tracker.example`)"),
        "{}",
        exact.stdout
    );
    // Exact lists do not cover subdomains; hosts-file noise is not listed.
    for url in ["https://x.tracker.example/", "https://broadcasthost/"] {
        let out = run(&[
            "explain",
            "--policy",
            &policy,
            "--customer",
            "c1",
            "--json",
            url,
        ]);
        let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(json["action"], "pass", "{url}");
    }
}

#[test]
fn compile_carries_the_lists_and_their_revision() {
    let dir = tempfile::tempdir().unwrap();
    let artefact = dir.path().join("policy.bin");
    let policy = format!("{FIXTURES}/policy.toml");
    let out = run(&["compile", &policy, "-o", artefact.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains(": 2 rules, 2 domain lists of 5 names, "),
        "{}",
        out.stdout
    );
    let root = support::root();
    let read = |p: &str| std::fs::read(root.join(FIXTURES).join(p)).unwrap();
    let text = String::from_utf8(read("policy.toml")).unwrap();
    let (ads, malware) = (read("lists/ads.hosts"), read("lists/malware.txt"));
    let expected = policy_sha256(&text, [("ads", &ads[..]), ("malware-feed", &malware[..])]);
    assert!(
        out.stdout.contains(&format!("policy sha256:   {expected}")),
        "{}",
        out.stdout
    );
    let loaded = CompiledPolicy::load(egress_policy_engine::artifact::Artifact::Bytes(
        &std::fs::read(&artefact).unwrap(),
    ))
    .unwrap();
    assert_eq!(loaded.sha256(), expected);
    let decide = |url: &str| {
        loaded
            .decide(&Request {
                method: "GET",
                url,
                customer: Some("c1"),
                tags: Some(&[]),
            })
            .action
            .as_str()
    };
    assert_eq!(decide("https://a.b.evil.com/"), "block");
    assert_eq!(decide("https://notevil.com/"), "pass");
    assert_eq!(decide("https://xn--bcher-kva.example/"), "block");
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn diff_probes_names_a_feed_update_changes() {
    let dir = tempfile::tempdir().unwrap();
    let policy = "version = 1\n[lists.feed]\nfile = \"feed.txt\"\nmatch = \"subdomains\"\n[[rules]]\nid = \"feed\"\naction = \"block\"\nlists = [\"feed\"]\n";
    write(dir.path(), "old/policy.toml", policy);
    write(dir.path(), "new/policy.toml", policy);
    let common: String = (0..100).map(|i| format!("same-{i}.example\n")).collect();
    write(
        dir.path(),
        "old/feed.txt",
        &format!("{common}dropped.example\n"),
    );
    write(
        dir.path(),
        "new/feed.txt",
        &format!("{common}added.example\n"),
    );
    let old = dir.path().join("old/policy.toml");
    let new = dir.path().join("new/policy.toml");
    let out = run(&["diff", old.to_str().unwrap(), new.to_str().unwrap()]);
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("[WIDENS] newly allowed"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("    dropped.example [from list `feed` (old)]: any request"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("    probe.dropped.example [from list `feed` (old)]: any request"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("[narrows] newly blocked"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("    added.example [from list `feed` (new)]: any request"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("list `feed` changed: 1 name added, 1 removed (101 names now)"),
        "{}",
        out.stdout
    );
    // The same feed diffs empty.
    let same = run(&["diff", old.to_str().unwrap(), old.to_str().unwrap()]);
    assert_eq!(same.code, 0);
    assert!(
        same.stdout.contains("no semantic change"),
        "{}",
        same.stdout
    );
}
