//! `egress-policy fmt [--check] [FILES...]`

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{on_file, read_text, toml_files, write};
use crate::fmt::{FormatError, format};
use crate::{CliError, Outcome};

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

/// Runs the subcommand: failed when `--check` finds a file that would change, or a file
/// cannot be formatted (each one is reported; the others are still formatted).
pub fn run(args: &Args) -> Result<Outcome, CliError> {
    let files = if args.files.is_empty() {
        default_files()?
    } else {
        args.files.clone()
    };
    let mut failed = false;
    let mut would_change = String::new();
    for file in &files {
        match format_file(file, args.check) {
            Ok(true) => would_change.push_str(&format!("  {}\n", file.display())),
            Ok(false) => {}
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
            }
        }
    }
    let check_failed = args.check && !would_change.is_empty();
    if check_failed {
        let mut out = std::io::stdout().lock();
        write!(out, "would reformat:\n{would_change}")?;
        writeln!(out, "run `egress-policy fmt` to format them")?;
    }
    Ok(Outcome::failed_if(failed || check_failed))
}

/// `policy/policy.toml` then `policy/examples/*.toml`, sorted.
fn default_files() -> Result<Vec<PathBuf>, CliError> {
    let main = PathBuf::from("policy/policy.toml");
    if !main.exists() {
        return Err(CliError::Usage("no FILES given and no `policy/policy.toml` here; run from the repository root or name the files".into()));
    }
    let examples = toml_files(Path::new("policy/examples")).unwrap_or_default();
    Ok(std::iter::once(main).chain(examples).collect())
}

/// Formats one file; `Ok(true)` when its text changes (written unless `check`).
fn format_file(path: &Path, check: bool) -> Result<bool, CliError> {
    if path == Path::new("-") {
        let text = std::io::read_to_string(std::io::stdin())
            .map_err(|e| CliError::Usage(format!("cannot read standard input: {e}")))?;
        let formatted = format(&text).map_err(|e| CliError::Usage(format!("<stdin>:{e}")))?;
        if !check {
            let mut out = std::io::stdout().lock();
            out.write_all(formatted.as_bytes())?;
            out.flush()?;
        }
        return Ok(formatted != text);
    }
    let text = read_text(path)?;
    let formatted = format(&text).map_err(|e| {
        CliError::Usage(match e {
            FormatError::Parse(message) => format!("{}:{message}; not formatted", path.display()),
            other => format!("{}: {other}", path.display()),
        })
    })?;
    if formatted == text {
        return Ok(false);
    }
    if !check {
        // Write beside the file, then rename: an interrupted run never leaves half a policy.
        let temp = path.with_added_extension("fmt-tmp");
        write(&temp, &formatted)?;
        on_file("write", path, std::fs::rename(&temp, path))?;
    }
    Ok(true)
}
