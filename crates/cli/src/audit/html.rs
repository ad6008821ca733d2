//! The audit report as one self-contained HTML page: inline CSS and `<meter>` bar charts, no
//! scripts, no external fetches. Every value from the logs is escaped: hosts, paths and even
//! rule ids in a forged log line can carry markup.

use std::fmt::Write as _;

use super::report::{Report, Table};

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:70em}\
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;margin:.5em 0}th,td{padding:.25em .75em;border-bottom:1px solid #eee;text-align:left}\
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}\
.note{color:#8a5a00}table.chart td{border:0;padding:0 .5em}meter{width:30em}";

/// Renders the page.
pub fn render(report: &Report) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <title>egress-policy audit</title><style>{STYLE}</style></head><body>\n<h1>{}</h1>\n",
        escape(&report.title)
    );
    paragraphs(&mut out, &report.lines, "");
    out.push_str(&bar_chart(&report.chart));
    for section in &report.sections {
        let mut title = section.title.clone();
        if let Some(first) = title.get_mut(..1) {
            first.make_ascii_uppercase();
        }
        let _ = writeln!(out, "<h2>{}</h2>", escape(&title));
        paragraphs(&mut out, &section.lines, "");
        out.push_str(&bar_chart(&section.chart));
        match &section.table {
            Some(table) if table.rows.is_empty() => out.push_str("<p>none</p>\n"),
            Some(table) => html_table(&mut out, table),
            None => {}
        }
    }
    paragraphs(&mut out, &report.notes, " class=\"note\"");
    out.push_str("</body></html>\n");
    out
}

fn paragraphs(out: &mut String, lines: &[String], class: &str) {
    for line in lines {
        let _ = writeln!(out, "<p{class}>{}</p>", escape(line));
    }
}

fn html_table(out: &mut String, table: &Table) {
    let class = |numeric: bool| if numeric { " class=\"n\"" } else { "" };
    out.push_str("<table><tr>");
    for (name, numeric) in &table.columns {
        let _ = write!(out, "<th{}>{}</th>", class(*numeric), escape(name));
    }
    out.push_str("</tr>");
    for row in &table.rows {
        out.push_str("<tr>");
        for (cell, (_, numeric)) in row.iter().zip(&table.columns) {
            let _ = write!(out, "<td{}>{}</td>", class(*numeric), escape(cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>\n");
}

/// A bar chart of labelled counts: a table of `<meter>` bars (no script, no image).
fn bar_chart(bars: &[(String, u64)]) -> String {
    let max = bars.iter().map(|b| b.1).max().unwrap_or(1).max(1);
    let rows = bars.iter().map(|(label, n)| {
        let label = escape(label);
        format!("<tr><td>{label}</td><td><meter max=\"{max}\" value=\"{n}\"></meter></td><td class=\"n\">{n}</td></tr>")
    });
    let rows: String = rows.collect();
    match bars.is_empty() {
        true => String::new(),
        false => format!("<table class=\"chart\">{rows}</table>\n"),
    }
}

/// Escapes text for HTML element content and attribute values (and SVG text).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push_str("&#xFFFD;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<script>alert('x')</script>&\"\u{1b}"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;&#xFFFD;"
        );
    }

    #[test]
    fn charts_escape_labels() {
        let chart = bar_chart(&[("<b>".into(), 3)]);
        assert!(chart.contains("&lt;b&gt;") && !chart.contains("<b>"));
    }
}
