//! The exit-status table: a closed standard output ends every command quietly with 141 (it
//! is found where the output is written, not by a panic hook), whatever it was doing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

const LOGS: &str = "crates/cli/tests/fixtures/logs";

#[test]
fn a_closed_stdout_ends_every_command_with_141() {
    let replay_policy = format!("{LOGS}/replay-policy.toml");
    let log = format!("{LOGS}/replay.jsonl");
    let commands: [&[&str]; 8] = [
        &["check"],
        &["test"],
        &["diff", "policy/policy.toml", "policy/policy.toml"],
        &["audit", &log],
        &["audit", "--json", &log],
        &["replay", "--policy", &replay_policy, &log],
        &["replay", "--json", "--policy", &replay_policy, &log],
        &[
            "fmt",
            "--check",
            "crates/cli/tests/fixtures/check/bad_rules.toml",
        ],
    ];
    for args in commands {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_egress-policy"))
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .args(args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(141), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("error: cannot write"),
            "{args:?}: {stderr}"
        );
    }
}
