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

/// A PKCS#8 PEM Ed25519 private key with a fixed seed (RFC 8410: a fixed prefix, then the
/// 32-byte seed), as `openssl genpkey -algorithm ed25519` writes one.
#[allow(dead_code, reason = "used by the bundle and replay tests only")]
pub fn ed25519_pem(seed: u8) -> String {
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(&[seed; 32]);
    pem::encode(&pem::Pem::new("PRIVATE KEY", der))
}
