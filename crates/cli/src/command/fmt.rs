//! `egress-policy fmt [--check] [FILES...]`

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::fmt::format;

/// Format policy files canonically: stable order of tables and keys, one rule per `[[rules]]`
/// table, consistent spacing, arrays on one line when short; comments are kept.
///
/// Without FILES: `policy/policy.toml` and `policy/examples/*.toml` (`policy/tests/*.toml` are
/// test cases, not policies). `-` formats standard input to standard output. A file that is
/// not valid TOML is refused with its parse error. Exit 1 when `--check` finds a file that
/// would change, or when a file cannot be formatted.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Do not write; list the files that would change and exit 1 if any.
    #[arg(long)]
    pub check: bool,
    /// Policy files (`-` for standard input).
    #[arg(value_name = "FILES")]
    pub files: Vec<PathBuf>,
}

/// Runs the subcommand.
pub fn run(args: &Args) -> ExitCode {
    let files = if args.files.is_empty() {
        match default_files() {
            Ok(files) => files,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        }
    } else {
        args.files.clone()
    };
    let mut failed = false;
    let mut would_change = Vec::new();
    for file in &files {
        match format_file(file, args.check) {
            Ok(true) => would_change.push(file.display().to_string()),
            Ok(false) => {}
            Err(message) => {
                eprintln!("error: {message}");
                failed = true;
            }
        }
    }
    if args.check && !would_change.is_empty() {
        let mut out = std::io::stdout().lock();
        let mut text = String::from("would reformat:\n");
        for file in &would_change {
            text.push_str(&format!("  {file}\n"));
        }
        text.push_str("run `egress-policy fmt` to format them\n");
        let _ = out.write_all(text.as_bytes());
    }
    if failed || (args.check && !would_change.is_empty()) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// `policy/policy.toml` then `policy/examples/*.toml`, sorted.
fn default_files() -> Result<Vec<PathBuf>, String> {
    let main = PathBuf::from("policy/policy.toml");
    if !main.exists() {
        return Err("no FILES given and no `policy/policy.toml` here; run from the repository root or name the files".into());
    }
    let mut files = vec![main];
    let examples = Path::new("policy/examples");
    if let Ok(entries) = std::fs::read_dir(examples) {
        let mut found: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        found.sort();
        files.extend(found);
    }
    Ok(files)
}

/// Formats one file; `Ok(true)` when its text changes (written unless `check`).
fn format_file(path: &Path, check: bool) -> Result<bool, String> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        let formatted = format(&text).map_err(|e| format!("<stdin>:{e}"))?;
        if !check {
            let mut out = std::io::stdout().lock();
            out.write_all(formatted.as_bytes())
                .and_then(|()| out.flush())
                .map_err(|e| format!("cannot write standard output: {e}"))?;
        }
        return Ok(formatted != text);
    }
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read `{shown}`: {e}"))?;
    let formatted = format(&text).map_err(|e| match e {
        crate::fmt::FormatError::Parse(message) => format!("{shown}:{message}; not formatted"),
        other => format!("{shown}: {other}"),
    })?;
    if formatted == text {
        return Ok(false);
    }
    if !check {
        // Write beside the file, then rename: an interrupted run never leaves half a policy.
        let mut temp = path.as_os_str().to_owned();
        temp.push(".fmt-tmp");
        let temp = PathBuf::from(temp);
        std::fs::write(&temp, &formatted)
            .map_err(|e| format!("cannot write `{}`: {e}", temp.display()))?;
        std::fs::rename(&temp, path).map_err(|e| format!("cannot replace `{shown}`: {e}"))?;
    }
    Ok(true)
}
