#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Every policy shipped in the repository compiles without errors.

use std::path::Path;

use egress_policy_engine::compile;

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .parent()
        .unwrap()
}

fn check(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let name = path.display().to_string();
    match compile(&name, &text) {
        Ok(c) => {
            for w in &c.warnings {
                eprintln!("{}", w.render(&name, &text));
            }
        }
        Err(d) => panic!("{name} does not compile:\n{d}"),
    }
}

#[test]
fn default_policy_compiles() {
    let path = repo_root().join("policy/policy.toml");
    check(&path);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("#:schema ../schemas/policy.schema.json\n"));
}

#[test]
fn example_policies_compile() {
    let dir = repo_root().join("policy/examples");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            check(&path);
            count += 1;
        }
    }
    assert!(
        count >= 2,
        "expected at least two example policies, found {count}"
    );
}
