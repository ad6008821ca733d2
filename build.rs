//! Compiles the policy into the Worker at build time.
//!
//! The policy is `EGRESS_POLICY` (relative paths resolved against the workspace root) or
//! `policy/policy.toml`; the domain list files it names are read relative to it, and each is
//! watched for changes like the policy. An invalid policy fails the build with every
//! diagnostic `check` prints (cargo shows a failed build script's stderr); warnings become
//! `cargo:warning=` lines. The compiled artefact is written to `$OUT_DIR/policy.bin` with its
//! serial, `EGRESS_POLICY_SERIAL`: required for the Worker (wasm32) build, where
//! `scripts/build-worker.sh` sets it (by default from the commit's time, so the same commit
//! builds the same bytes), 0 in native builds, which deploy nothing. The policy's reference
//! (name, SHA-256 and serial) is written beside it as Rust constants, `policy_ref.rs`, so the
//! Worker can name the policy even in the (should-not-happen) case that the artefact fails to
//! load.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use egress_policy_engine::Diagnostic;

#[path = "crates/cli/src/list_reader.rs"]
mod list_reader;

const DEFAULT_POLICY: &str = "policy/policy.toml";

fn main() -> ExitCode {
    println!("cargo:rerun-if-env-changed=EGRESS_POLICY");
    println!("cargo:rerun-if-env-changed=EGRESS_POLICY_SERIAL");
    let workspace = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let given = std::env::var("EGRESS_POLICY")
        .ok()
        .filter(|path| !path.is_empty())
        .unwrap_or_else(|| DEFAULT_POLICY.to_owned());
    let path = workspace.join(&given);
    // Named relative to the workspace when it lies inside it: the name is embedded in the
    // artefact, and the same commit must build the same bytes wherever it is checked out.
    let display = path
        .strip_prefix(&workspace)
        .map_or(given.clone(), |relative| relative.display().to_string());
    println!("cargo:rerun-if-changed={}", path.display());
    match build(&display, &path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

fn build(display: &str, path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("error: cannot read policy `{}`: {error}", path.display()))?;
    // The CLI's reader: only regular files inside the policy's directory, bounded.
    let (lists, watched) = list_reader::read_lists(path, Path::new(display), &text);
    for list_path in watched {
        println!("cargo:rerun-if-changed={}", list_path.display());
    }
    let serial = serial()?;
    let render = |diagnostic: &Diagnostic| diagnostic.render_with(display, &text, &lists);
    let mut compiled = egress_policy_engine::compile_with_lists(display, &text, &lists).map_err(
        |diagnostics| {
            let rendered: Vec<String> = diagnostics.0.iter().map(render).collect();
            format!(
                "{}\nerror: the policy `{display}` does not compile; the Worker was not built",
                rendered.join("\n")
            )
        },
    )?;
    for warning in &compiled.warnings {
        for line in render(warning).lines() {
            println!("cargo:warning={line}");
        }
    }
    compiled.policy.set_serial(serial);
    write("policy.bin", &compiled.policy.to_artifact())?;
    write(
        "policy_ref.rs",
        policy_ref_source(&compiled.policy).as_bytes(),
    )
}

/// The policy's name, SHA-256 and serial as Rust constants for `src/embedded.rs` (`{:?}` of a
/// `str` is a Rust string literal): the Worker names its policy without a JSON reader.
fn policy_ref_source(policy: &egress_policy_engine::CompiledPolicy) -> String {
    let reference = policy.policy_ref();
    format!(
        "pub const NAME: Option<&str> = {:?};\npub const SHA256: &str = {:?};\npub const SERIAL: u64 = {};\n",
        reference.name.as_deref(),
        reference.sha256,
        policy.serial(),
    )
}

/// Writes `$OUT_DIR/name`.
fn write(name: &str, bytes: &[u8]) -> Result<(), String> {
    let out_dir = std::env::var_os("OUT_DIR").ok_or("error: OUT_DIR is not set")?;
    let path = PathBuf::from(out_dir).join(name);
    std::fs::write(&path, bytes)
        .map_err(|error| format!("error: cannot write `{}`: {error}", path.display()))
}

/// The serial the policy is published under: `EGRESS_POLICY_SERIAL`, required for the Worker.
fn serial() -> Result<u64, String> {
    let wasm = std::env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|arch| arch == "wasm32");
    match std::env::var("EGRESS_POLICY_SERIAL") {
        Ok(text) => text.trim().parse().map_err(|_| {
            format!("error: EGRESS_POLICY_SERIAL is not a whole number: `{text}`")
        }),
        Err(_) if wasm => Err("error: EGRESS_POLICY_SERIAL is not set: build the Worker with `make build` (scripts/build-worker.sh sets it from the commit's time) or set it, as in `EGRESS_POLICY_SERIAL=300 make build`".to_owned()),
        Err(_) => Ok(0),
    }
}
