//! The audit report as one self-contained HTML page: inline CSS and inline SVG bar charts, no
//! scripts, no external fetches. Every value from the logs is escaped: hosts, paths and even
//! rule ids in a forged log line can carry markup.

use std::fmt::Write as _;

use super::report::{Report, Table};

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:70em}\
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;margin:.5em 0}th,td{padding:.25em .75em;border-bottom:1px solid #eee;text-align:left}\
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}\
.note{color:#8a5a00}svg text{font-size:12px;font-family:system-ui,sans-serif}";

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

/// A horizontal bar chart of labelled counts.
fn bar_chart(bars: &[(String, u64)]) -> String {
    const LABEL_W: u64 = 260;
    const BAR_W: u64 = 420;
    const ROW_H: u64 = 22;
    if bars.is_empty() {
        return String::new();
    }
    let max = bars.iter().map(|b| b.1).max().unwrap_or(1).max(1);
    let height = ROW_H * bars.len() as u64 + 6;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" role=\"img\">",
        LABEL_W + BAR_W + 80
    );
    for ((label, value), y) in bars.iter().zip((3..).step_by(ROW_H as usize)) {
        let width = (value * BAR_W).div_ceil(max);
        let label: String = match label.chars().count() > 40 {
            true => label.chars().take(39).chain(['…']).collect(),
            false => label.clone(),
        };
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\
             <rect x=\"{LABEL_W}\" y=\"{y}\" width=\"{width}\" height=\"{}\" fill=\"#2471a3\"/>\
             <text x=\"{}\" y=\"{}\">{value}</text>",
            LABEL_W - 6,
            y + 14,
            escape(&label),
            ROW_H - 6,
            LABEL_W + width + 4,
            y + 14,
        );
    }
    svg + "</svg>\n"
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
        let svg = bar_chart(&[("<b>".into(), 3)]);
        assert!(svg.contains("&lt;b&gt;") && !svg.contains("<b>"));
    }
}
