//! Whitespace and comments around keys, values and headers: comments are kept, everything
//! else is rewritten to one canonical spacing.

/// The comment lines in a decor string, trimmed, in order.
pub fn comments(raw: &str) -> Vec<String> {
    raw.lines()
        .map(str::trim)
        .filter(|l| l.starts_with('#'))
        .map(|l| l.trim_end().to_string())
        .collect()
}

/// Whether a blank line precedes the first comment (authors separate comment blocks so).
pub fn blank_before_comments(raw: &str) -> bool {
    for (newlines, line) in raw.split('\n').enumerate() {
        if line.trim_start().starts_with('#') {
            return newlines >= 1;
        }
    }
    false
}

/// The prefix of a key line or header: its comment lines, each on its own line, preceded by
/// a blank line when `blank` is set.
pub fn line_prefix(comments: &[String], blank: bool) -> String {
    let mut out = String::new();
    if blank {
        out.push('\n');
    }
    for c in comments {
        out.push_str(c);
        out.push('\n');
    }
    out
}

/// A trailing same-line comment as ` # text`, or nothing.
pub fn trailing_comment(raw: &str) -> String {
    match comments(raw).first() {
        Some(c) => format!(" {c}"),
        None => String::new(),
    }
}

/// The text before an item (its comment lines and blank lines), empty when there is none.
pub fn prefix_text(decor: &toml_edit::Decor) -> String {
    decor
        .prefix()
        .and_then(|p| p.as_str())
        .unwrap_or_default()
        .to_owned()
}

/// The text after an item (a same-line comment), empty when there is none.
pub fn suffix_text(decor: &toml_edit::Decor) -> String {
    decor
        .suffix()
        .and_then(|s| s.as_str())
        .unwrap_or_default()
        .to_owned()
}
