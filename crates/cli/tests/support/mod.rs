//! Running the `egress-policy` binary from the workspace root, so paths in its output are the
//! short relative paths a user would type.

use std::path::{Path, PathBuf};

/// The workspace root (where `policy/policy.toml` lives).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// What one run of the binary produced.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `egress-policy ARGS...` in the workspace root.
pub fn run(args: &[&str]) -> Run {
    let output = assert_cmd::cargo::cargo_bin_cmd!("egress-policy")
        .current_dir(root())
        .args(args)
        .output()
        .expect("run egress-policy");
    Run {
        code: output.status.code().expect("exit code"),
        stdout: String::from_utf8(output.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("utf-8 stderr"),
    }
}
