//! Errors a subcommand reports on stderr before exiting 1.
//!
//! Messages are lower case without a final period and never contain secrets or header values.

use std::path::PathBuf;

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
    /// The policy has errors; its diagnostics were already printed.
    #[error("`{path}` has {errors} error{plural}", path = path.display(), plural = if *errors == 1 { "" } else { "s" })]
    InvalidPolicy {
        /// The policy file.
        path: PathBuf,
        /// How many errors were printed.
        errors: usize,
    },
    /// A pattern for files (e.g. `policy/tests/*.toml`) matched nothing or could not be listed.
    #[error("{0}")]
    NoInput(String),
    /// The arguments or an input cannot be used; the message says why.
    #[error("{0}")]
    Usage(String),
    /// Output could not be serialised.
    #[error("cannot serialise output: {0}")]
    Json(#[from] serde_json::Error),
}

use crate::list_reader::describe as lower_first;
