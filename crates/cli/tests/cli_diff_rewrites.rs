//! `diff` on mechanical rewrites of every shipped policy: rewrites that keep the meaning must
//! diff empty, and a change that does not must be found. Guards against a diff that is empty
//! because it probes too little, and against one that is noisy because it compares wording.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::path::{Path, PathBuf};

use support::run;
use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, value};

/// `policy/policy.toml` and `policy/examples/*.toml`.
fn shipped_policies() -> Vec<PathBuf> {
    let root = support::root();
    let mut policies = vec![root.join("policy/policy.toml")];
    for entry in std::fs::read_dir(root.join("policy/examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            policies.push(path);
        }
    }
    policies.sort();
    assert!(policies.len() >= 2);
    policies
}

fn rules(doc: &mut DocumentMut) -> &mut ArrayOfTables {
    doc["rules"].as_array_of_tables_mut().unwrap()
}

/// Every rule with several hosts becomes one rule per host (adjacent, so first-match order
/// among rules of one action is kept), each host list reversed first.
fn split_and_reverse(doc: &mut DocumentMut) {
    let old: Vec<Table> = rules(doc).iter().cloned().collect();
    let mut new = ArrayOfTables::new();
    for rule in old {
        let hosts: Option<Vec<String>> = rule.get("hosts").and_then(Item::as_array).map(|a| {
            let mut hosts: Vec<String> = a.iter().map(|h| h.as_str().unwrap().to_owned()).collect();
            hosts.reverse();
            hosts
        });
        match hosts {
            Some(hosts) if hosts.len() > 1 => {
                let id = rule["id"].as_str().unwrap().to_owned();
                for (i, host) in hosts.iter().enumerate() {
                    let mut part = rule.clone();
                    part["id"] = value(format!("{id}-part{i}"));
                    let mut list = toml_edit::Array::new();
                    list.push(host.as_str());
                    part["hosts"] = value(list);
                    new.push(part);
                }
            }
            _ => new.push(rule),
        }
    }
    doc["rules"] = Item::ArrayOfTables(new);
}

fn write(dir: &Path, name: &str, doc: &DocumentMut) -> String {
    let path = dir.join(name);
    std::fs::write(&path, doc.to_string()).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn split_rules_and_reordered_hosts_diff_empty() {
    let dir = tempfile::tempdir().unwrap();
    for policy in shipped_policies() {
        let text = std::fs::read_to_string(&policy).unwrap();
        let mut doc: DocumentMut = text.parse().unwrap();
        split_and_reverse(&mut doc);
        let rewritten = write(dir.path(), "rewritten.toml", &doc);
        let original = policy.to_str().unwrap();
        for (old, new) in [
            (original, rewritten.as_str()),
            (rewritten.as_str(), original),
        ] {
            let out = run(&["diff", old, new]);
            assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
            assert!(
                out.stdout.contains("\nno semantic change\n"),
                "{}",
                out.stdout
            );
        }
    }
}

#[test]
fn each_enforced_block_rule_moved_to_report_mode_is_a_widening() {
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for policy in shipped_policies() {
        let text = std::fs::read_to_string(&policy).unwrap();
        let doc: DocumentMut = text.parse().unwrap();
        let default = |key: &str| {
            doc.get("defaults")
                .and_then(|d| d.get(key))
                .and_then(Item::as_str)
                .map(str::to_owned)
        };
        // Under global report mode nothing is enforced to begin with, and under a default
        // block a reported rule's requests fall to that default and stay blocked: both are
        // correctly no widening, so only enforce/pass-by-default policies are mutated here.
        if default("mode").as_deref() == Some("report")
            || default("action").as_deref() == Some("block")
        {
            continue;
        }
        let count = doc["rules"].as_array_of_tables().unwrap().len();
        for index in 0..count {
            let mut changed = doc.clone();
            let rule = rules(&mut changed).get_mut(index).unwrap();
            let enforced_block = rule["action"].as_str() == Some("block")
                && rule.get("mode").and_then(Item::as_str) != Some("report");
            if !enforced_block {
                continue;
            }
            let id = rule["id"].as_str().unwrap().to_owned();
            rule["mode"] = value("report");
            let new = write(dir.path(), "report.toml", &changed);
            let out = run(&["diff", policy.to_str().unwrap(), &new, "--json"]);
            assert_eq!(out.code, 3, "{id}: {}{}", out.stdout, out.stderr);
            let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
            let found = json["changes"].as_array().unwrap().iter().any(|c| {
                c["kind"] == "enforce_to_report"
                    && c["old"]["rule"] == id.as_str()
                    && c["new"]["report_rule"] == id.as_str()
            });
            assert!(found, "{id}: {}", out.stdout);
            checked += 1;
        }
    }
    assert!(checked >= 4, "only {checked} block rules checked");
}

#[test]
fn each_inject_rule_removed_is_a_credential_removal() {
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for policy in shipped_policies() {
        let text = std::fs::read_to_string(&policy).unwrap();
        let doc: DocumentMut = text.parse().unwrap();
        let count = doc["rules"].as_array_of_tables().unwrap().len();
        for index in 0..count {
            let mut changed = doc.clone();
            let rule = rules(&mut changed).get(index).unwrap();
            if rule["action"].as_str() != Some("inject") {
                continue;
            }
            let id = rule["id"].as_str().unwrap().to_owned();
            rules(&mut changed).remove(index);
            let new = write(dir.path(), "removed.toml", &changed);
            let out = run(&["diff", policy.to_str().unwrap(), &new, "--json"]);
            assert!(out.code == 0 || out.code == 2, "{id}: {}", out.stderr);
            let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
            let found = json["changes"].as_array().unwrap().iter().any(|c| {
                (c["kind"] == "credential_removed" || c["kind"] == "newly_blocked")
                    && c["old"]["rule"] == id.as_str()
            });
            assert!(found, "{id}: {}", out.stdout);
            checked += 1;
        }
    }
    assert!(checked >= 1);
}
