//! Byte offsets into a source text turned into 1-based line and column numbers.

/// A 1-based line and column (the column counts characters, as editors do).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

/// The position of byte `offset` in `text`; an offset past the end (or inside a character)
/// is clamped to the nearest character boundary before it.
pub fn position(text: &str, offset: usize) -> Position {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    let before = text.get(..end).unwrap_or_default();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let column = before.get(line_start..).unwrap_or_default().chars().count() + 1;
    Position { line, column }
}

/// The text of 1-based line `line`, without its line ending.
pub fn line_text(text: &str, line: usize) -> Option<&str> {
    text.lines()
        .nth(line.checked_sub(1)?)
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_lines_and_character_columns() {
        let text = "a = 1\nhosts = [\"ⓜx\"]\n";
        assert_eq!(position(text, 0), Position { line: 1, column: 1 });
        assert_eq!(position(text, 6), Position { line: 2, column: 1 });
        let after_circle = text.find('x').unwrap();
        assert_eq!(
            position(text, after_circle),
            Position {
                line: 2,
                column: 12
            }
        );
        assert_eq!(position(text, 10_000), Position { line: 3, column: 1 });
        assert_eq!(line_text(text, 2), Some("hosts = [\"ⓜx\"]"));
        assert_eq!(line_text(text, 9), None);
    }
}
