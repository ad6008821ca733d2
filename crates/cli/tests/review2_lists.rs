//! The second outside security review (issue 14), item 5, through the binary: a policy reads
//! only regular files inside its own directory, bounded, and never echoes another file's
//! contents. `build.rs` reads list files with the same code (`src/list_reader.rs` of this
//! crate, included by path).
#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::collections::BTreeMap;
use std::fs;

use serde_json::Value;
use support::run;

const SECRET: &str = "top-secret-line.example\nroot:x:0:0:root:/root:/bin/bash\n";

#[test]
fn list_files_outside_the_policy_directory_are_never_read() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    let dir = tmp.path().join("policy");
    fs::create_dir_all(&outside).unwrap();
    fs::create_dir_all(dir.join("lists/dir")).unwrap();
    let secret = outside.join("secret.txt");
    fs::write(&secret, SECRET).unwrap();
    fs::write(dir.join("lists/ok.txt"), "ok.example\n").unwrap();
    std::os::unix::fs::symlink(&secret, dir.join("lists/link.txt")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.join("lists/zero")).unwrap();
    std::os::unix::fs::symlink("ok.txt", dir.join("lists/inside-link.txt")).unwrap();
    // Sparse: over the limit without writing 256 MiB.
    fs::File::create(dir.join("lists/big.txt"))
        .unwrap()
        .set_len(257 * 1024 * 1024)
        .unwrap();

    let lists = [
        ("climbs", "../outside/secret.txt".to_owned()),
        ("absolute", secret.display().to_string()),
        ("symlink", "lists/link.txt".to_owned()),
        ("zero", "lists/zero".to_owned()),
        ("directory", "lists/dir".to_owned()),
        ("big", "lists/big.txt".to_owned()),
        ("ok", "lists/ok.txt".to_owned()),
        ("inside-link", "lists/inside-link.txt".to_owned()),
    ];
    let mut policy = String::from("version = 1\n");
    for (id, file) in &lists {
        policy += &format!("[lists.{id}]\nfile = {file:?}\nmatch = \"exact\"\n");
    }
    let ids: Vec<String> = lists.iter().map(|(id, _)| format!("{id:?}")).collect();
    policy += &format!(
        "[[rules]]\nid = \"b\"\naction = \"block\"\nlists = [{}]\n",
        ids.join(", ")
    );
    let path = dir.join("p.toml");
    fs::write(&path, &policy).unwrap();

    let json = run(&["check", "--format", "json", path.to_str().unwrap()]);
    assert_eq!(json.code, 1, "{}{}", json.stdout, json.stderr);
    let diagnostics: Vec<Value> = serde_json::from_str(&json.stdout).unwrap();
    let mut by_line: BTreeMap<u64, Vec<(String, String)>> = BTreeMap::new();
    for d in &diagnostics {
        by_line
            .entry(d["line"].as_u64().unwrap())
            .or_default()
            .push((
                d["code"].as_str().unwrap().to_owned(),
                d["message"].as_str().unwrap().to_owned(),
            ));
    }
    let at = |id: &str| {
        let line = policy
            .lines()
            .position(|l| l == format!("[lists.{id}]"))
            .unwrap() as u64
            + 2;
        by_line.get(&line).cloned().unwrap_or_default()
    };
    for id in ["climbs", "absolute"] {
        assert_eq!(at(id).len(), 1, "{id}: {:?}", at(id));
        assert_eq!(at(id)[0].0, "list-file-outside", "{id}");
    }
    for (id, why) in [
        (
            "symlink",
            "a symbolic link leads outside the policy file's directory",
        ),
        (
            "zero",
            "a symbolic link leads outside the policy file's directory",
        ),
        ("directory", "not a regular file"),
    ] {
        assert_eq!(at(id).len(), 1, "{id}: {:?}", at(id));
        assert_eq!(at(id)[0].0, "unreadable-list-file", "{id}");
        assert!(at(id)[0].1.ends_with(why), "{id}: {}", at(id)[0].1);
    }
    assert_eq!(at("big")[0].0, "list-file-too-large");
    assert!(at("ok").is_empty() && at("inside-link").is_empty());

    // Nothing of the file outside reaches the output, in either format.
    let human = run(&["check", path.to_str().unwrap()]);
    for out in [&json, &human] {
        for line in SECRET.lines() {
            assert!(!out.stdout.contains(line), "{}", out.stdout);
            assert!(!out.stderr.contains(line), "{}", out.stderr);
        }
    }
}
