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
    #[error("`{path}` has {errors} error{plural}", path = path.display(), plural = if *errors == 1 { "" } else { "s" })]
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

/// The bytes of the file at `path`; the error names it.
pub fn read(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|source| CliError::Read {
        path: path.to_owned(),
        source,
    })
}

/// The UTF-8 text of the file at `path`; the error names it.
pub fn read_text(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|source| CliError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Writes `bytes` to the file at `path`; the error names it.
pub fn write(path: &Path, bytes: impl AsRef<[u8]>) -> Result<(), CliError> {
    std::fs::write(path, bytes).map_err(|source| CliError::Write {
        path: path.to_owned(),
        source,
    })
}
