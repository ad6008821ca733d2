//! Whitespace and comments around keys, values and headers: comments are kept, everything
//! else is rewritten to one canonical spacing.

use toml_edit::RawString;

/// The comment lines in a decor string, trimmed, in order.
pub fn comments(raw: &str) -> Vec<String> {
    let comments = raw.lines().map(str::trim).filter(|l| l.starts_with('#'));
    comments.map(str::to_owned).collect()
}

/// Whether a blank line precedes the first comment (authors separate comment blocks so).
pub fn blank_before_comments(raw: &str) -> bool {
    let comment = |line: &str| line.trim_start().starts_with('#');
    raw.split('\n')
        .position(comment)
        .is_some_and(|newlines| newlines >= 1)
}

/// The prefix of a key line or header: its comment lines, each on its own line, preceded by
/// a blank line when `blank` is set.
pub fn line_prefix(comments: &[String], blank: bool) -> String {
    let blank = if blank { "\n" } else { "" };
    let lines: String = comments.iter().map(|c| format!("{c}\n")).collect();
    format!("{blank}{lines}")
}

/// A trailing same-line comment as ` # text`, or nothing.
pub fn trailing_comment(raw: &str) -> String {
    comments(raw)
        .first()
        .map_or(String::new(), |c| format!(" {c}"))
}

/// The text of a decor's prefix (the comment and blank lines before an item) or suffix (a
/// same-line comment), empty when there is none.
pub fn text(raw: Option<&RawString>) -> String {
    raw.and_then(RawString::as_str)
        .unwrap_or_default()
        .to_owned()
}
