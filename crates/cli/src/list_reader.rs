//! Reading the domain list files a policy names, for every CLI command and for the Worker's
//! build script (`build.rs` includes this file with `#[path]`: it links the engine, not the
//! CLI, and the engine reads no files). One reader, so `check` and the build never disagree on
//! which files a policy may read.
//!
//! A policy reads only regular files inside its own directory: the engine's
//! [`list_files`] already leaves out names that are absolute or climb out with `..`; here each
//! file's path is resolved (symbolic links included) and must still lie inside the directory,
//! it must be a regular file (not `/dev/zero`, a FIFO or a directory), and at most one byte
//! more than a list file may hold is read. A file refused here is reported without a byte of
//! its contents.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use egress_policy_engine::limits::MAX_LIST_FILE_BYTES;
use egress_policy_engine::{ListFileError, ListFiles, list_files};

/// Reads every list file the policy `text` names, relative to the directory of `policy` (the
/// path to open). Diagnostics name each file relative to the directory of `shown` (the
/// policy's path as the user gave it). Also returns every path it looked at, for a build
/// script to watch. A file that cannot be read is recorded with the reason.
pub fn read_lists(policy: &Path, shown: &Path, text: &str) -> (ListFiles, Vec<PathBuf>) {
    let directory = match policy.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let shown_directory = shown.parent().unwrap_or(Path::new(""));
    let root = std::fs::canonicalize(directory).map_err(|e| describe(&e));
    let mut lists = ListFiles::new();
    let mut paths = Vec::new();
    for file in list_files(text) {
        let path = directory.join(&file);
        let display = shown_directory.join(&file).display().to_string();
        match read_inside(root.as_deref(), &path) {
            Ok(Some(contents)) => lists.insert(&file, display, contents),
            Ok(None) => lists.insert_failed(&file, display, ListFileError::TooLarge),
            Err(why) => lists.insert_failed(&file, display, ListFileError::Unreadable(why)),
        }
        paths.push(path);
    }
    (lists, paths)
}

/// The text of the regular file at `path` when it resolves inside `root`; `None` when it is
/// longer than a list file may be.
fn read_inside(root: Result<&Path, &String>, path: &Path) -> Result<Option<String>, String> {
    let root = root.map_err(|why| format!("cannot resolve the policy's directory: {why}"))?;
    let resolved = std::fs::canonicalize(path).map_err(|e| describe(&e))?;
    if !resolved.starts_with(root) {
        return Err("a symbolic link leads outside the policy file's directory".to_owned());
    }
    // Checked before opening: opening a FIFO would wait for a writer.
    let metadata = std::fs::metadata(&resolved).map_err(|e| describe(&e))?;
    if !metadata.is_file() {
        return Err("not a regular file".to_owned());
    }
    let limit = u64::try_from(MAX_LIST_FILE_BYTES).unwrap_or(u64::MAX);
    if metadata.len() > limit {
        return Ok(None);
    }
    // Bounded all the same: the file may grow while it is read.
    let mut bytes = Vec::new();
    std::fs::File::open(&resolved)
        .and_then(|file| file.take(limit.saturating_add(1)).read_to_end(&mut bytes))
        .map_err(|e| describe(&e))?;
    if bytes.len() > MAX_LIST_FILE_BYTES {
        return Ok(None);
    }
    String::from_utf8(bytes).map(Some).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let line = e
            .as_bytes()
            .get(..valid)
            .map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
            + 1;
        format!("not UTF-8 text (line {line})")
    })
}

/// The OS error text with its first letter in lower case, as all messages here are
/// (`No such file or directory (os error 2)` -> `no such file ...`).
pub fn describe(error: &std::io::Error) -> String {
    let text = error.to_string();
    let mut chars = text.chars();
    let first = chars.next().map(char::to_lowercase);
    first
        .map(|first| first.chain(chars).collect())
        .unwrap_or_default()
}
