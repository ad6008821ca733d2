//! Aligned plain-text tables for terminals. Cell text comes from logs (attacker-influenced),
//! so control characters are escaped: a forged host must not move the cursor or recolour the
//! terminal.

use std::fmt::Write as _;

/// A table with a header row; numeric columns are right-aligned.
pub struct Table {
    headers: Vec<&'static str>,
    numeric: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these columns; `numeric[i]` right-aligns column `i`.
    pub fn new(columns: &[(&'static str, bool)]) -> Table {
        Table {
            headers: columns.iter().map(|(h, _)| *h).collect(),
            numeric: columns.iter().map(|(_, n)| *n).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (cells are sanitised).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows
            .push(cells.iter().map(|c| terminal_safe(c)).collect());
    }

    /// Renders with two-space gutters, indented by two spaces.
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let header: Vec<String> = self.headers.iter().map(|h| (*h).to_string()).collect();
        self.line(&mut out, &widths, &header);
        for row in &self.rows {
            self.line(&mut out, &widths, row);
        }
        out
    }

    fn line(&self, out: &mut String, widths: &[usize], cells: &[String]) {
        let mut text = String::from(" ");
        for ((cell, width), numeric) in cells.iter().zip(widths).zip(&self.numeric) {
            if *numeric {
                let _ = write!(text, " {cell:>width$} ");
            } else {
                let _ = write!(text, " {cell:<width$} ");
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
}

/// `text` with control characters (ESC, CR, ...) shown as `\u{..}` escapes.
pub fn terminal_safe(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_columns_and_escapes_control_characters() {
        let mut t = Table::new(&[("host", false), ("count", true)]);
        t.row(vec!["a.example".into(), "7".into()]);
        t.row(vec!["evil\u{1b}[31m".into(), "1234".into()]);
        let text = t.render();
        assert_eq!(
            text,
            "  host            count\n  a.example           7\n  evil\\u{1b}[31m   1234\n"
        );
    }
}
