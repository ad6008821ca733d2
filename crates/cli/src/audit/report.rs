//! The audit as readers see it: a title, a few lines, then titled sections of lines and
//! tables (columns and rows as data). Built once from the [`Summary`] and rendered by
//! [`super::text`] and [`super::html`], so the two outputs always show the same figures;
//! `--json` prints the [`Summary`] itself.

use super::summary::{ActionCounts, RevisionRow, Summary};

/// The whole report.
#[derive(Debug)]
pub struct Report {
    /// `egress-policy audit: N decisions`.
    pub title: String,
    /// The time range and the outcomes.
    pub lines: Vec<String>,
    /// The outcomes as bars (HTML only).
    pub chart: Vec<(String, u64)>,
    /// The sections, in order.
    pub sections: Vec<Section>,
    /// Caveats about the figures, last.
    pub notes: Vec<String>,
}

/// One titled part of the report: lines, then a table.
#[derive(Debug, Default)]
pub struct Section {
    /// Its heading.
    pub title: String,
    /// Its lines of text (values from logs included).
    pub lines: Vec<String>,
    /// Its table, if it has one.
    pub table: Option<Table>,
    /// The table's figures as bars (HTML only).
    pub chart: Vec<(String, u64)>,
}

/// A table: columns (name, right-aligned), then rows of cells.
#[derive(Debug)]
pub struct Table {
    /// Column names, and whether the column holds numbers.
    pub columns: Vec<(&'static str, bool)>,
    /// The rows, one cell per column.
    pub rows: Vec<Vec<String>>,
}

/// The counts columns every per-key table has.
const COUNT_COLUMNS: [(&str, bool); 6] = [
    ("total", true),
    ("block", true),
    ("inject", true),
    ("pass", true),
    ("failed", true),
    ("would_block", true),
];

/// Shortened sha256 shown next to policy names.
pub fn short_sha(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// Lays out the summary.
pub fn of(s: &Summary) -> Report {
    let a = &s.actions;
    let range = match &s.time_range {
        Some(range) => format!("{} .. {}", range.first, range.last),
        None => "(no valid timestamps)".to_owned(),
    };
    let outcomes = [
        ("block", a.block),
        ("inject", a.inject),
        ("pass", a.pass),
        ("failed", a.failed),
    ];
    let mut sections = Vec::new();
    if !s.failures.is_empty() {
        sections.push(Section {
            title: "failed requests (not completed, not counted as inject or pass)".to_owned(),
            lines: vec![joined(
                s.failures.iter().map(|f| format!("{} {}", f.key, f.count)),
            )],
            ..Section::default()
        });
    }
    sections.extend([
        inputs(s),
        revisions(s),
        customers(s),
        rules(s),
        blocked_hosts(s),
    ]);
    sections.extend([report_rules(s), credentials(s), upstream(s), malformed(s)]);
    let mut notes: Vec<String> = (s.other_messages > 0)
        .then(|| format!("other console messages ignored: {}", s.other_messages))
        .into_iter()
        .collect();
    notes.extend(s.notes.iter().map(|n| format!("note: {n}")));
    Report {
        title: format!("egress-policy audit: {} decisions", s.decisions),
        lines: vec![
            format!("time range: {range}"),
            format!(
                "outcomes: {}; would_block {}",
                joined(outcomes.iter().map(|(k, n)| format!("{k} {n}"))),
                a.would_block
            ),
        ],
        chart: outcomes
            .iter()
            .map(|(k, n)| ((*k).to_owned(), *n))
            .collect(),
        sections,
        notes,
    }
}

fn inputs(s: &Summary) -> Section {
    let columns = vec![
        ("file", false),
        ("lines", true),
        ("decisions", true),
        ("error", false),
    ];
    let rows = s.inputs.iter().map(|i| {
        let error = i.error.clone().unwrap_or_default();
        vec![
            i.file.clone(),
            i.lines.to_string(),
            i.decisions.to_string(),
            error,
        ]
    });
    section("inputs", columns, rows.collect())
}

fn revisions(s: &Summary) -> Section {
    let mut columns = vec![("name", false), ("sha256", false), ("source", false)];
    columns.extend(COUNT_COLUMNS.iter().take(5));
    columns.extend([("first", false), ("last", false)]);
    let rows = s.revisions.iter().map(|r| {
        let name = r.name.clone().unwrap_or_else(|| "(unnamed)".into());
        let mut row = vec![name, short_sha(&r.sha256).to_owned(), source_label(r)];
        row.extend(count_cells(&r.counts).into_iter().take(5));
        row.extend([
            r.first.clone().unwrap_or_default(),
            r.last.clone().unwrap_or_default(),
        ]);
        row
    });
    section("policy revisions", columns, rows.collect())
}

fn customers(s: &Summary) -> Section {
    let rows: Vec<(String, ActionCounts)> = (s.customers.iter())
        .map(|r| {
            (
                r.key.clone().unwrap_or_else(|| "(no customer)".into()),
                r.counts,
            )
        })
        .collect();
    let chart = rows
        .iter()
        .take(20)
        .map(|(key, c)| (key.clone(), c.total))
        .collect();
    Section {
        chart,
        ..counts_section("by customer", "customer", rows)
    }
}

fn rules(s: &Summary) -> Section {
    let rows = s.rules.iter().map(|r| {
        let key = match (&r.rule, &r.reason) {
            (Some(rule), _) => rule.clone(),
            (None, Some(reason)) => format!("(no rule: {reason})"),
            (None, None) => "(no rule)".into(),
        };
        (key, r.counts)
    });
    counts_section("by rule", "rule", rows.collect())
}

fn blocked_hosts(s: &Summary) -> Section {
    let rows = s.top_blocked_hosts.iter().map(|h| {
        let count = h.count.to_string();
        let count = if h.error > 0 {
            format!("<={count}")
        } else {
            count
        };
        vec![h.key.clone(), count]
    });
    let mut section = section(
        "top blocked hosts",
        vec![("host", false), ("blocked", true)],
        rows.collect(),
    );
    section.chart = s
        .top_blocked_hosts
        .iter()
        .map(|h| (h.key.clone(), h.count))
        .collect();
    section
}

fn report_rules(s: &Summary) -> Section {
    let columns = vec![
        ("rule", false),
        ("would_block", true),
        ("pass", true),
        ("inject", true),
        ("failed", true),
        ("customers", true),
        ("top customers", false),
        ("top hosts", false),
    ];
    let rows = s.report_rules.iter().map(|r| {
        let c = &r.counts;
        let mut row = vec![r.rule.clone()];
        row.extend(
            [c.total, c.pass, c.inject, c.failed, r.customers_affected].map(|n| n.to_string()),
        );
        row.push(joined(
            r.customers
                .iter()
                .map(|c| format!("{} ({})", c.key, c.count)),
        ));
        row.push(joined(
            r.hosts.iter().map(|h| format!("{} ({})", h.key, h.count)),
        ));
        row
    });
    section(
        "report-mode would-blocks (what enforcing would break)",
        columns,
        rows.collect(),
    )
}

fn credentials(s: &Summary) -> Section {
    let columns = vec![
        ("credential", false),
        ("injections", true),
        ("failed", true),
        ("unavailable", true),
        ("top customers", false),
    ];
    let rows = s.credentials.iter().map(|c| {
        let mut row = vec![c.credential.clone()];
        row.extend([c.injections, c.failed, c.unavailable].map(|n| n.to_string()));
        row.push(joined(
            c.customers
                .iter()
                .map(|k| format!("{} ({})", k.key, k.count)),
        ));
        row
    });
    section("injections per credential", columns, rows.collect())
}

fn upstream(s: &Summary) -> Section {
    let errors = match joined(
        s.upstream_errors
            .iter()
            .map(|e| format!("{} {}", e.key, e.count)),
    ) {
        none if none.is_empty() => "none".to_owned(),
        errors => errors,
    };
    let status = joined(s.upstream_status.iter().map(|(k, n)| format!("{k} {n}")));
    let lines = vec![format!("status: {status}"), format!("errors: {errors}")];
    Section {
        title: "upstream".to_owned(),
        lines,
        ..Section::default()
    }
}

fn malformed(s: &Summary) -> Section {
    let p = &s.problems;
    let mut lines: Vec<String> = p
        .by_kind
        .iter()
        .map(|(kind, n)| format!("{kind}: {n}"))
        .collect();
    let versions = p.unknown_versions.iter();
    lines.extend(versions.map(|(v, n)| format!("unknown version v={v}: {n}")));
    lines.extend(p.examples.iter().map(|e| e.text()));
    Section {
        title: format!("malformed lines: {}", p.total),
        lines,
        ..Section::default()
    }
}

fn section(title: &str, columns: Vec<(&'static str, bool)>, rows: Vec<Vec<String>>) -> Section {
    let table = Some(Table { columns, rows });
    Section {
        title: title.to_owned(),
        table,
        ..Section::default()
    }
}

fn counts_section(title: &str, key: &'static str, rows: Vec<(String, ActionCounts)>) -> Section {
    let mut columns = vec![(key, false)];
    columns.extend(COUNT_COLUMNS);
    let rows = rows.into_iter().map(|(key, counts)| {
        let mut row = vec![key];
        row.extend(count_cells(&counts));
        row
    });
    section(title, columns, rows.collect())
}

fn count_cells(c: &ActionCounts) -> [String; 6] {
    [c.total, c.block, c.inject, c.pass, c.failed, c.would_block].map(|n| n.to_string())
}

/// `a 1, b 2`
fn joined(parts: impl Iterator<Item = String>) -> String {
    parts.collect::<Vec<_>>().join(", ")
}

/// Where a revision came from, as the tables show it: `embedded`, `bundle 7`, or `-` for
/// lines written before the Worker said.
fn source_label(r: &RevisionRow) -> String {
    match (r.source, r.serial) {
        (Some(source), Some(serial)) => format!("{} {serial}", source.as_str()),
        (Some(source), None) => source.as_str().to_owned(),
        (None, _) => "-".to_owned(),
    }
}
