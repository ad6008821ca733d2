//! The audit report as text for terminals: sections under blank lines, aligned tables. Text
//! from logs is attacker-influenced, so control characters are escaped: a forged host must
//! not move the cursor or recolour the terminal.

use std::fmt::Write as _;

use super::report::{Report, Table};

/// Renders the whole report.
pub fn render(report: &Report) -> String {
    let mut out = format!("{}\n", report.title);
    for line in &report.lines {
        let _ = writeln!(out, "{}", terminal_safe(line));
    }
    for section in &report.sections {
        let _ = writeln!(out, "\n{}", section.title);
        for line in &section.lines {
            let _ = writeln!(out, "  {}", terminal_safe(line));
        }
        match &section.table {
            Some(table) if table.rows.is_empty() => out.push_str("  (none)\n"),
            Some(table) => out.push_str(&aligned(table)),
            None => {}
        }
    }
    for note in &report.notes {
        let _ = writeln!(out, "{}", terminal_safe(note));
    }
    out
}

/// The table with a header row, indented by two spaces, two-space gutters, numeric columns
/// right-aligned.
fn aligned(table: &Table) -> String {
    let header = table.columns.iter().map(|(name, _)| name.clone()).collect();
    let safe = |row: &Vec<String>| row.iter().map(|c| terminal_safe(c)).collect();
    let cells = table.rows.iter().map(safe);
    let rows: Vec<Vec<String>> = std::iter::once(header).chain(cells).collect();
    let mut widths = vec![0; table.columns.len()];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let mut line = String::from(" ");
        for ((cell, width), (_, numeric)) in row.iter().zip(&widths).zip(&table.columns) {
            let _ = match numeric {
                true => write!(line, " {cell:>width$} "),
                false => write!(line, " {cell:<width$} "),
            };
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
}

/// `text` with control characters (ESC, CR, ...) shown as `\u{..}` escapes.
pub fn terminal_safe(text: &str) -> String {
    text.chars()
        .map(|c| match c.is_control() {
            true => c.escape_unicode().to_string(),
            false => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_columns_and_escapes_control_characters() {
        let table = Table {
            columns: vec![("host".into(), false), ("count".into(), true)],
            rows: vec![
                vec!["a.example".into(), "7".into()],
                vec!["evil\u{1b}[31m".into(), "1234".into()],
            ],
        };
        assert_eq!(
            aligned(&table),
            "  host            count\n  a.example           7\n  evil\\u{1b}[31m   1234\n"
        );
    }
}
