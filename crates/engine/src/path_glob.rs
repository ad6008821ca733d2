//! Path globs for a rule's `paths` condition: `*` matches within one path segment, a `**`
//! segment matches zero or more whole segments. Paths are case-sensitive.

use std::fmt;

use crate::canonical::canonical_path;
use crate::diagnostic::{Diagnostic, diag};
use crate::wildcard::{matches, star_match};

/// Longest path glob accepted.
pub const MAX_PATH_GLOB_LEN: usize = 1024;

/// A validated path glob such as `/v1/**` or `/v1/users/*/keys`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PathGlob {
    text: String,
}

impl fmt::Display for PathGlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl PathGlob {
    /// Parses a glob; it must start with `/`, use `**` only as a whole segment, and be written
    /// the way canonical request paths are (no dot segments, unreserved characters unescaped).
    /// The error is boxed: it is cold, and keeps the result small.
    pub fn parse(text: &str) -> Result<PathGlob, Box<Diagnostic>> {
        let canonical = canonical_path(text);
        let problem = if text.len() > MAX_PATH_GLOB_LEN {
            diag!(PatternTooLong: "path glob is {} bytes long", text.len())
                .with_label("too long")
                .with_hint(format!("path globs have at most {MAX_PATH_GLOB_LEN} bytes"))
        } else if !text.starts_with('/') {
            diag!(InvalidPathGlob: "path glob `{text}` does not start with `/`")
                .with_label("must start with `/`")
                .with_hint(format!("write `/{text}`"))
        } else if let Some(bad) = text.chars().find(|c| {
            c.is_control() || c.is_whitespace() || matches!(c, '?' | '#') || !c.is_ascii()
        }) {
            diag!(InvalidPathGlob: "path glob `{text}` contains `{}`", bad.escape_default())
                .with_label("not allowed in a path glob")
                .with_hint("paths are matched without the query; non-ASCII characters are written percent-encoded")
        } else if text.split('/').any(|seg| seg.contains("**") && seg != "**") {
            diag!(InvalidPathGlob: "path glob `{text}` uses `**` inside a segment")
                .with_label("`**` must be a whole segment")
                .with_hint("`*` matches within a segment, `/**/` any number of segments")
        } else if text.split('/').any(|seg| seg == "." || seg == "..") {
            diag!(NonCanonicalPath: "path glob `{text}` has a dot segment")
                .with_label("request paths never contain dot segments")
                .with_hint("write the path with `.` and `..` resolved")
        } else if canonical != text {
            diag!(NonCanonicalPath: "path glob `{text}` is not canonical")
                .with_label("request paths are compared in canonical form")
                .with_hint(format!("write `{canonical}`"))
        } else {
            return Ok(PathGlob {
                text: text.to_owned(),
            });
        };
        Err(Box::new(problem))
    }

    /// Whether the canonical request path matches.
    pub fn matches(&self, path: &str) -> bool {
        segments_match(&self.text, path)
    }

    /// Whether `path` matches with ASCII case ignored on both sides (the reading of a server
    /// that compares paths case-insensitively).
    pub fn matches_ignoring_case(&self, path: &str) -> bool {
        segments_match(&self.text.to_ascii_lowercase(), &path.to_ascii_lowercase())
    }

    /// The glob as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Wildcard matching over segments: `**` is the star, every other pattern segment matches
/// exactly one path segment.
fn segments_match(glob: &str, path: &str) -> bool {
    let pattern: Vec<&str> = glob.split('/').collect();
    let segments: Vec<&str> = path.split('/').collect();
    star_match(&pattern, &segments, |p| *p == "**", |p, s| matches(p, s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(glob: &str, path: &str) -> bool {
        PathGlob::parse(glob).unwrap().matches(path)
    }

    #[test]
    fn star_stays_in_segment_double_star_crosses() {
        assert!(m("/v1/**", "/v1/users/7"));
        assert!(m("/v1/**", "/v1"));
        assert!(!m("/v1/**", "/v10/users"));
        assert!(m("/v1/*", "/v1/users"));
        assert!(!m("/v1/*", "/v1/users/7"));
        assert!(m("/v1/users/*/keys", "/v1/users/7/keys"));
        assert!(m("/**/admin", "/a/b/admin"));
        assert!(m("/**/admin", "/admin"));
        assert!(m("/api-*.json", "/api-v2.json"));
        assert!(!m("/Admin", "/admin"));
    }

    #[test]
    fn rejects_bad_globs() {
        assert_eq!(
            PathGlob::parse("v1").unwrap_err().code.as_str(),
            "invalid-path-glob"
        );
        assert_eq!(
            PathGlob::parse("/v1**").unwrap_err().code.as_str(),
            "invalid-path-glob"
        );
        assert_eq!(
            PathGlob::parse("/a/../b").unwrap_err().code.as_str(),
            "non-canonical-path"
        );
        assert_eq!(
            PathGlob::parse("/%61dmin").unwrap_err().hint.as_deref(),
            Some("write `/admin`")
        );
    }
}
