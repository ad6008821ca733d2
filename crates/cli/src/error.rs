//! Errors a subcommand returns; `main` prints them on stderr and maps them to exit statuses.
//!
//! Messages are lower case without a final period and never contain secrets or header values.

use std::io;
use std::path::{Path, PathBuf};

use crate::list_reader::describe as lower_first;

/// Why a subcommand could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A file could not be read or written.
    #[error("cannot {verb} `{}`: {}", path.display(), lower_first(source))]
    File {
        /// `read` or `write`.
        verb: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Standard output could not be written; a closed pipe (`| head`) ends the command quietly.
    #[error("cannot write standard output: {}", lower_first(.0))]
    Output(#[from] std::io::Error),
    /// The policy has errors; its diagnostics were already printed.
    #[error("`{}` has {}", path.display(), crate::policy_source::counted(*errors, "error"))]
    InvalidPolicy {
        /// The policy file.
        path: PathBuf,
        /// How many errors were printed.
        errors: usize,
    },
    /// The arguments or an input cannot be used; the message says why.
    #[error("{0}")]
    Usage(String),
    /// Output could not be serialised.
    #[error("cannot serialise output: {0}")]
    Json(#[from] serde_json::Error),
    /// `replay`'s policy could not be read, so nothing was verified (its own exit status).
    #[error("{0}")]
    Unverified(Box<CliError>),
}

/// What became of the `verb` (`read`, `write`) on `path`: the error names both.
pub fn on_file<T>(verb: &'static str, path: &Path, result: io::Result<T>) -> Result<T, CliError> {
    let path = path.to_owned();
    result.map_err(|source| CliError::File { verb, path, source })
}

/// The bytes of the file at `path`; the error names it.
pub fn read(path: &Path) -> Result<Vec<u8>, CliError> {
    on_file("read", path, std::fs::read(path))
}

/// The UTF-8 text of the file at `path`; the error names it.
pub fn read_text(path: &Path) -> Result<String, CliError> {
    on_file("read", path, std::fs::read_to_string(path))
}

/// The `*.toml` files in the directory `dir`, sorted.
pub fn toml_files(dir: &Path) -> Result<Vec<PathBuf>, CliError> {
    let entries = on_file("read", dir, std::fs::read_dir(dir))?.filter_map(Result::ok);
    let paths = entries.map(|entry| entry.path());
    let toml = |p: &PathBuf| p.extension().is_some_and(|e| e == "toml") && p.is_file();
    let mut files: Vec<PathBuf> = paths.filter(toml).collect();
    files.sort();
    Ok(files)
}

/// Writes `bytes` to the file at `path`; the error names it.
pub fn write(path: &Path, bytes: impl AsRef<[u8]>) -> Result<(), CliError> {
    on_file("write", path, std::fs::write(path, bytes))
}
