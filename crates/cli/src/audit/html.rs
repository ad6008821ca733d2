//! The audit as one self-contained HTML page: inline CSS and inline SVG bar charts, no
//! scripts, no external fetches. Every value from the logs is escaped: hosts, paths and even
//! rule ids in a forged log line can carry markup.

use std::fmt::Write as _;

use super::summary::{ActionCounts, Summary};
use super::text::short_sha;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:70em}\
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;margin:.5em 0}th,td{padding:.25em .75em;border-bottom:1px solid #eee;text-align:left}\
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}code{background:#f4f4f4;padding:0 .2em}\
.note{color:#8a5a00}.bad{color:#a00}svg text{font-size:12px;font-family:system-ui,sans-serif}";

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
            c if c.is_control() && c != '\n' && c != '\t' => {
                let _ = write!(out, "&#xFFFD;");
            }
            c => out.push(c),
        }
    }
    out
}

/// A horizontal bar chart of labelled counts.
fn bar_chart(bars: &[(String, u64, &str)]) -> String {
    if bars.is_empty() {
        return String::new();
    }
    const LABEL_W: u64 = 260;
    const BAR_W: u64 = 420;
    const ROW_H: u64 = 22;
    let max = bars.iter().map(|b| b.1).max().unwrap_or(1).max(1);
    let height = ROW_H * bars.len() as u64 + 6;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" role=\"img\">",
        LABEL_W + BAR_W + 80
    );
    for (i, (label, value, colour)) in bars.iter().enumerate() {
        let y = ROW_H * i as u64 + 3;
        let width = (value * BAR_W).div_ceil(max);
        let label = truncate(label, 40);
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\
             <rect x=\"{LABEL_W}\" y=\"{y}\" width=\"{width}\" height=\"{}\" fill=\"{colour}\"/>\
             <text x=\"{}\" y=\"{}\">{value}</text>",
            LABEL_W - 6,
            y + 14,
            escape(&label),
            ROW_H - 6,
            LABEL_W + width + 4,
            y + 14,
        );
    }
    svg.push_str("</svg>");
    svg
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut short: String = text.chars().take(max - 1).collect();
        short.push('…');
        short
    }
}

fn table(out: &mut String, headers: &[(&str, bool)], rows: &[Vec<String>]) {
    out.push_str("<table><tr>");
    for (h, numeric) in headers {
        let class = if *numeric { " class=\"n\"" } else { "" };
        let _ = write!(out, "<th{class}>{}</th>", escape(h));
    }
    out.push_str("</tr>");
    for row in rows {
        out.push_str("<tr>");
        for (cell, (_, numeric)) in row.iter().zip(headers) {
            let class = if *numeric { " class=\"n\"" } else { "" };
            let _ = write!(out, "<td{class}>{}</td>", escape(cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>\n");
}

const COUNT_HEADERS: [(&str, bool); 6] = [
    ("total", true),
    ("block", true),
    ("inject", true),
    ("pass", true),
    ("failed", true),
    ("would_block", true),
];

fn count_row(key: String, c: &ActionCounts) -> Vec<String> {
    vec![
        key,
        c.total.to_string(),
        c.block.to_string(),
        c.inject.to_string(),
        c.pass.to_string(),
        c.failed.to_string(),
        c.would_block.to_string(),
    ]
}

fn count_headers(first: &'static str) -> Vec<(&'static str, bool)> {
    let mut h = vec![(first, false)];
    h.extend(COUNT_HEADERS);
    h
}

/// Renders the page.
pub fn render(s: &Summary) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <title>egress-policy audit</title><style>{STYLE}</style></head><body>\n\
         <h1>egress-policy audit</h1>\n"
    );
    let range = match &s.time_range {
        Some(r) => format!("{} .. {}", r.first, r.last),
        None => "no valid timestamps".to_string(),
    };
    let _ = writeln!(
        out,
        "<p><b>{}</b> decisions; time range {}; <span class=\"bad\">{}</span> malformed lines.</p>",
        s.decisions,
        escape(&range),
        s.problems.total
    );
    for note in &s.notes {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", escape(note));
    }

    out.push_str("<h2>Outcomes</h2>\n");
    let a = &s.actions;
    out.push_str(&bar_chart(&[
        ("block".into(), a.block, "#c0392b"),
        ("inject".into(), a.inject, "#2471a3"),
        ("pass".into(), a.pass, "#27ae60"),
        ("failed".into(), a.failed, "#7d3c98"),
        ("would_block".into(), a.would_block, "#d68910"),
    ]));
    if !s.failures.is_empty() {
        out.push_str(
            "<h3 class=\"bad\">Failed requests (not completed; not counted as inject or pass)</h3>\n",
        );
        let rows: Vec<Vec<String>> = s
            .failures
            .iter()
            .map(|f| vec![f.key.clone(), f.count.to_string()])
            .collect();
        table(
            &mut out,
            &[("action and error", false), ("requests", true)],
            &rows,
        );
    }

    out.push_str("<h2>Policy revisions</h2>\n");
    let rows: Vec<Vec<String>> = s
        .revisions
        .iter()
        .map(|r| {
            vec![
                r.name.clone().unwrap_or_else(|| "(unnamed)".into()),
                short_sha(&r.sha256).to_string(),
                super::text::source_label(r),
                r.counts.total.to_string(),
                r.first.clone().unwrap_or_default(),
                r.last.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &mut out,
        &[
            ("name", false),
            ("sha256", false),
            ("source", false),
            ("decisions", true),
            ("first", false),
            ("last", false),
        ],
        &rows,
    );

    out.push_str("<h2>By customer</h2>\n");
    let bars: Vec<(String, u64, &str)> = s
        .customers
        .iter()
        .take(20)
        .map(|r| {
            (
                r.key.clone().unwrap_or_else(|| "(no customer)".into()),
                r.counts.total,
                "#2471a3",
            )
        })
        .collect();
    out.push_str(&bar_chart(&bars));
    let rows: Vec<Vec<String>> = s
        .customers
        .iter()
        .map(|r| {
            count_row(
                r.key.clone().unwrap_or_else(|| "(no customer)".into()),
                &r.counts,
            )
        })
        .collect();
    table(&mut out, &count_headers("customer"), &rows);

    out.push_str("<h2>By rule</h2>\n");
    let rows: Vec<Vec<String>> = s
        .rules
        .iter()
        .map(|r| {
            let key = match (&r.rule, &r.reason) {
                (Some(rule), _) => rule.clone(),
                (None, Some(reason)) => format!("(no rule: {reason})"),
                (None, None) => "(no rule)".into(),
            };
            count_row(key, &r.counts)
        })
        .collect();
    table(&mut out, &count_headers("rule"), &rows);

    out.push_str("<h2>Top blocked hosts</h2>\n");
    let bars: Vec<(String, u64, &str)> = s
        .top_blocked_hosts
        .iter()
        .map(|h| (h.key.clone(), h.count, "#c0392b"))
        .collect();
    out.push_str(&bar_chart(&bars));
    if bars.is_empty() {
        out.push_str("<p>none</p>\n");
    }

    out.push_str("<h2>Report-mode would-blocks: what enforcing would break</h2>\n");
    if s.report_rules.is_empty() {
        out.push_str("<p>none</p>\n");
    }
    for r in &s.report_rules {
        let _ = writeln!(
            out,
            "<h3><code>{}</code>: {} requests, {} customers</h3>",
            escape(&r.rule),
            r.counts.total,
            r.customers_affected
        );
        let rows: Vec<Vec<String>> = r
            .hosts
            .iter()
            .map(|h| vec![h.key.clone(), h.count.to_string()])
            .collect();
        table(&mut out, &[("host", false), ("would block", true)], &rows);
        let rows: Vec<Vec<String>> = r
            .customers
            .iter()
            .map(|c| vec![c.key.clone(), c.count.to_string()])
            .collect();
        table(
            &mut out,
            &[("customer", false), ("would block", true)],
            &rows,
        );
    }

    out.push_str("<h2>Injections per credential</h2>\n");
    let rows: Vec<Vec<String>> = s
        .credentials
        .iter()
        .map(|c| {
            let customers: Vec<String> = c
                .customers
                .iter()
                .map(|k| format!("{} ({})", k.key, k.count))
                .collect();
            vec![
                c.credential.clone(),
                c.injections.to_string(),
                c.failed.to_string(),
                c.unavailable.to_string(),
                customers.join(", "),
            ]
        })
        .collect();
    table(
        &mut out,
        &[
            ("credential", false),
            ("injections", true),
            ("failed", true),
            ("unavailable", true),
            ("top customers", false),
        ],
        &rows,
    );

    out.push_str("<h2>Upstream</h2>\n");
    let mut rows: Vec<Vec<String>> = s
        .upstream_status
        .iter()
        .map(|(k, v)| vec![format!("status {k}"), v.to_string()])
        .collect();
    rows.extend(
        s.upstream_errors
            .iter()
            .map(|e| vec![format!("error {}", e.key), e.count.to_string()]),
    );
    table(&mut out, &[("what", false), ("count", true)], &rows);

    out.push_str("<h2>Malformed lines</h2>\n");
    let mut rows: Vec<Vec<String>> = s
        .problems
        .by_kind
        .iter()
        .map(|(k, v)| vec![(*k).to_string(), v.to_string()])
        .collect();
    rows.extend(
        s.problems
            .unknown_versions
            .iter()
            .map(|(k, v)| vec![format!("unknown version v={k}"), v.to_string()]),
    );
    table(&mut out, &[("kind", false), ("count", true)], &rows);
    let rows: Vec<Vec<String>> = s
        .problems
        .examples
        .iter()
        .map(|e| vec![e.location.to_string(), e.kind.to_string(), e.detail.clone()])
        .collect();
    table(
        &mut out,
        &[("where", false), ("kind", false), ("detail", false)],
        &rows,
    );

    out.push_str("<h2>Inputs</h2>\n");
    let rows: Vec<Vec<String>> = s
        .inputs
        .iter()
        .map(|i| {
            vec![
                i.file.clone(),
                i.lines.to_string(),
                i.decisions.to_string(),
                i.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &mut out,
        &[
            ("file", false),
            ("lines", true),
            ("decisions", true),
            ("error", false),
        ],
        &rows,
    );
    out.push_str("</body></html>\n");
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
        let svg = bar_chart(&[("<b>".into(), 3, "#000")]);
        assert!(svg.contains("&lt;b&gt;") && !svg.contains("<b>"));
    }
}
