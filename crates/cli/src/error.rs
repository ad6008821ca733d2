//! Errors a subcommand returns; `main` prints them on stderr and maps them to exit statuses.
//!
//! Messages are lower case without a final period and never contain secrets or header values.

use std::path::{Path, PathBuf};

use crate::list_reader::describe as lower_first;

/// Why a subcommand could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A file could not be read.
    #[error("cannot read `{}`: {}", path.display(), lower_first(source))]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("cannot write `{}`: {}", path.display(), lower_first(source))]
    Write {
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

/// What became of reading `path`: the error names it.
pub fn reading<T>(path: &Path, result: std::io::Result<T>) -> Result<T, CliError> {
    let path = path.to_owned();
    result.map_err(|source| CliError::Read { path, source })
}

/// What became of writing `path`: the error names it.
pub fn writing<T>(path: &Path, result: std::io::Result<T>) -> Result<T, CliError> {
    let path = path.to_owned();
    result.map_err(|source| CliError::Write { path, source })
}

/// The bytes of the file at `path`; the error names it.
pub fn read(path: &Path) -> Result<Vec<u8>, CliError> {
    reading(path, std::fs::read(path))
}

/// The UTF-8 text of the file at `path`; the error names it.
pub fn read_text(path: &Path) -> Result<String, CliError> {
    reading(path, std::fs::read_to_string(path))
}

/// The `*.toml` files in the directory `dir`, sorted.
pub fn toml_files(dir: &Path) -> Result<Vec<PathBuf>, CliError> {
    let entries = reading(dir, std::fs::read_dir(dir))?.filter_map(Result::ok);
    let paths = entries.map(|entry| entry.path());
    let toml = |p: &PathBuf| p.extension().is_some_and(|e| e == "toml") && p.is_file();
    let mut files: Vec<PathBuf> = paths.filter(toml).collect();
    files.sort();
    Ok(files)
}

/// Writes `bytes` to the file at `path`; the error names it.
pub fn write(path: &Path, bytes: impl AsRef<[u8]>) -> Result<(), CliError> {
    writing(path, std::fs::write(path, bytes))
}
