//! Reading and compiling a policy file, the first step of every subcommand: the policy, then
//! the domain list files it names, read inside the policy file's directory
//! ([`crate::list_reader`]).

use std::path::{Path, PathBuf};

use egress_policy_engine::{Compiled, CompiledPolicy, Diagnostic, ListFiles, Severity};

use crate::error::CliError;

/// The policy every subcommand uses when none is given.
pub const DEFAULT_POLICY: &str = "policy/policy.toml";

/// A policy file's text, as read, with its list files.
#[derive(Debug)]
pub struct PolicySource {
    /// The path as the user gave it (diagnostics show it this way).
    pub path: PathBuf,
    /// The file's text.
    pub text: String,
    /// The list files the policy names, read (or not) relative to its directory; a file
    /// that cannot be read is reported by the compiler at the list's `file`.
    pub lists: ListFiles,
}

/// A policy that compiled.
pub struct LoadedPolicy {
    /// Where it came from.
    pub source: PolicySource,
    /// The compiled matcher and its warnings.
    pub compiled: Compiled,
}

impl PolicySource {
    /// Reads `path` as UTF-8 text, and the list files it names.
    pub fn read(path: &Path) -> Result<PolicySource, CliError> {
        let text = crate::error::read_text(path)?;
        let (lists, _) = crate::list_reader::read_lists(path, path, &text);
        Ok(PolicySource {
            path: path.to_path_buf(),
            text,
            lists,
        })
    }

    /// Renders a diagnostic against the file it points into (the policy or a list file).
    pub fn render(&self, diagnostic: &Diagnostic) -> String {
        diagnostic.render_with(&self.file_name(), &self.text, &self.lists)
    }

    /// The name and text of the file a diagnostic points into.
    pub fn source_of(&self, diagnostic: &Diagnostic) -> (String, &str) {
        match diagnostic.file.as_deref() {
            None => (self.file_name(), &self.text),
            Some(file) => match self.lists.get(file) {
                Some(list) => (list.display.clone(), list.contents.as_deref().unwrap_or("")),
                None => (file.clone(), ""),
            },
        }
    }

    /// The name diagnostics and explanations show for this file.
    pub fn file_name(&self) -> String {
        self.path.display().to_string()
    }

    /// Compiles the text with its list files; on failure every diagnostic (errors and
    /// warnings) is returned.
    pub fn compile(&self) -> Result<Compiled, Vec<Diagnostic>> {
        egress_policy_engine::compile_with_lists(&self.file_name(), &self.text, &self.lists)
            .map_err(|d| d.0)
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
            for diagnostic in &diagnostics {
                eprintln!("{}", source.render(diagnostic));
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
    let matching = diagnostics.iter().filter(|d| d.severity == severity);
    matching.count()
}

/// `2 errors, 1 warning`.
pub fn summary(diagnostics: &[Diagnostic]) -> String {
    let [errors, warnings] = [Severity::Error, Severity::Warning].map(|s| count(diagnostics, s));
    let (errors, warnings) = (counted(errors, "error"), counted(warnings, "warning"));
    format!("{errors}, {warnings}")
}

/// `3 rules`, `3 rules, 1 domain list of 1000000 names` for a policy with lists.
pub fn contents(policy: &CompiledPolicy) -> String {
    let model = policy.model();
    let rules = counted(model.rules.len(), "rule");
    let lists = model.lists.len();
    if lists == 0 {
        return rules;
    }
    let names = model.lists.values().map(|list| list.domains.len()).sum();
    let (lists, names) = (counted(lists, "domain list"), counted(names, "name"));
    format!("{rules}, {lists} of {names}")
}

/// `1 rule`, `2 rules`: `n` and the noun, plural unless `n` is one.
pub fn counted(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}
