//! Reading and compiling a policy file, the first step of every subcommand.

use std::path::{Path, PathBuf};

use egress_policy_engine::{Compiled, Diagnostic, Severity};

use crate::error::CliError;

/// The policy every subcommand uses when none is given.
pub const DEFAULT_POLICY: &str = "policy/policy.toml";

/// A policy file's text, as read.
#[derive(Debug)]
pub struct PolicySource {
    /// The path as the user gave it (diagnostics show it this way).
    pub path: PathBuf,
    /// The file's text.
    pub text: String,
}

/// A policy that compiled.
pub struct LoadedPolicy {
    /// Where it came from.
    pub source: PolicySource,
    /// The compiled matcher and its warnings.
    pub compiled: Compiled,
}

impl PolicySource {
    /// Reads `path` as UTF-8 text.
    pub fn read(path: &Path) -> Result<PolicySource, CliError> {
        let text = std::fs::read_to_string(path).map_err(|source| CliError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(PolicySource {
            path: path.to_path_buf(),
            text,
        })
    }

    /// The name diagnostics and explanations show for this file.
    pub fn file_name(&self) -> String {
        self.path.display().to_string()
    }

    /// Compiles the text; on failure every diagnostic (errors and warnings) is returned.
    pub fn compile(&self) -> Result<Compiled, Vec<Diagnostic>> {
        egress_policy_engine::compile(&self.file_name(), &self.text).map_err(|d| d.0)
    }
}

/// Reads and compiles `path` for a subcommand that needs a valid policy: on failure every
/// diagnostic is printed to stderr and the error says how many errors there were.
/// Warnings of a valid policy are not printed here: `check` is the place for them.
pub fn load(path: &Path) -> Result<LoadedPolicy, CliError> {
    let source = PolicySource::read(path)?;
    match source.compile() {
        Ok(compiled) => Ok(LoadedPolicy { source, compiled }),
        Err(diagnostics) => {
            let file_name = source.file_name();
            for diagnostic in &diagnostics {
                eprintln!("{}", diagnostic.render(&file_name, &source.text));
            }
            Err(CliError::InvalidPolicy {
                path: source.path,
                errors: count(&diagnostics, Severity::Error),
            })
        }
    }
}

/// How many diagnostics have `severity`.
pub fn count(diagnostics: &[Diagnostic], severity: Severity) -> usize {
    diagnostics
        .iter()
        .filter(|d| d.severity == severity)
        .count()
}

/// `2 errors, 1 warning`.
pub fn summary(diagnostics: &[Diagnostic]) -> String {
    let errors = count(diagnostics, Severity::Error);
    let warnings = count(diagnostics, Severity::Warning);
    format!(
        "{errors} error{}, {warnings} warning{}",
        plural(errors),
        plural(warnings)
    )
}

/// `"s"` unless `n` is one.
pub fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
