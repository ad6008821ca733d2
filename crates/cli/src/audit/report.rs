//! The audit as readers see it: a title, a few lines, then titled sections of lines and
//! tables (columns and rows as data). Built once from the [`Summary`] and rendered by
//! [`super::text`] and [`super::html`], so the two outputs always show the same figures;
//! `--json` prints the [`Summary`] itself.

use std::fmt::Display;

use super::summary::{ActionCounts, KeyCount, RevisionRow, RuleRow, Span, Summary, rule_label};

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

/// A table: columns (name, whether it holds numbers), then rows of cells.
#[derive(Debug)]
pub struct Table {
    /// Column names, and whether the column holds numbers (right-aligned).
    pub columns: Vec<(String, bool)>,
    /// The rows, one cell per column.
    pub rows: Vec<Vec<String>>,
}

/// Shortened sha256 shown next to policy names.
pub fn short_sha(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// Lays out the summary.
pub fn of(s: &Summary) -> Report {
    let a = &s.actions;
    let range = match s.time_range.as_ref().map(Span::texts) {
        Some([first, last]) => format!("{first} .. {last}"),
        None => "(no valid timestamps)".to_owned(),
    };
    let outcomes = [
        ("block", a.block),
        ("inject", a.inject),
        ("pass", a.pass),
        ("failed", a.failed),
    ];
    let outcomes = Vec::from(outcomes.map(|(k, n)| (k.to_owned(), n)));
    let mut sections = vec![integrity(s)];
    let failed = "failed requests (not completed, not counted as inject or pass)";
    let failures = listed(&s.failures, false);
    sections.extend((!s.failures.is_empty()).then(|| text(failed, vec![failures])));
    sections.extend([inputs(s), revisions(s), customers(s), rules(s)]);
    sections.extend([blocked_hosts(s), report_rules(s), credentials(s)]);
    sections.extend([upstream(s), malformed(s)]);
    let ignored = (s.other_messages > 0).then_some(s.other_messages);
    let mut notes = Vec::from_iter(ignored.map(|n| format!("other console messages ignored: {n}")));
    notes.extend(s.notes.iter().map(|n| format!("note: {n}")));
    let listed = counts(outcomes.iter().map(|(k, n)| (k, n)), false);
    Report {
        title: format!("egress-policy audit: {} decisions", s.decisions),
        lines: vec![
            format!("time range: {range}"),
            format!("outcomes: {listed}; would_block {}", a.would_block),
        ],
        chart: outcomes,
        sections,
        notes,
    }
}

/// First: whether the figures below are the log the Worker wrote.
fn integrity(s: &Summary) -> Section {
    let (title, lines) = s.integrity.text();
    let rows = s.integrity.isolates.iter().map(|i| {
        let (n, m) = (i.redeliveries, i.checkpoints);
        let figures = [i.lines, i.verified, i.missing, n, i.conflicts, i.breaks, m];
        let seqs = format!("{}..{}", i.seqs.0, i.seqs.1);
        let mut row = vec![i.isolate.clone(), i.chain_alg.clone(), seqs];
        row.extend(figures.map(|n| n.to_string()));
        row
    });
    let columns = "isolate, chain, seq, lines#, verified#, missing#, redelivered#, conflicts#, breaks#, checkpoints#";
    Section {
        title,
        lines,
        ..section("", columns, rows)
    }
}

fn inputs(s: &Summary) -> Section {
    let rows = s.inputs.iter().map(|i| {
        let (lines, decisions) = (i.lines.to_string(), i.decisions.to_string());
        let error = i.error.clone().unwrap_or_default();
        vec![i.file.clone(), lines, decisions, error]
    });
    section("inputs", "file, lines#, decisions#, error", rows)
}

fn revisions(s: &Summary) -> Section {
    let rows = s.revisions.iter().map(|r| {
        let name = r.name.clone().unwrap_or_else(|| "(unnamed)".into());
        let mut row = vec![name, short_sha(&r.sha256).to_owned(), source_label(r)];
        row.extend(count_cells(&r.counts).into_iter().take(5));
        row.extend(r.span.texts());
        row
    });
    let columns = "name, sha256, source, total#, block#, inject#, pass#, failed#, first, last";
    section("policy revisions", columns, rows)
}

fn customers(s: &Summary) -> Section {
    let key = |key: &Option<String>| key.clone().unwrap_or_else(|| "(no customer)".into());
    let rows = s.customers.iter().map(|r| (key(&r.key), r.counts));
    let chart = s.customers.iter().take(20);
    let chart = chart.map(|r| (key(&r.key), r.counts.total)).collect();
    Section {
        chart,
        ..counts_section("customer", rows)
    }
}

fn rules(s: &Summary) -> Section {
    let row = |r: &RuleRow| (rule_label(r.rule.as_ref(), r.reason.as_ref()), r.counts);
    counts_section("rule", s.rules.iter().map(row))
}

fn blocked_hosts(s: &Summary) -> Section {
    let hosts = &s.top_blocked_hosts;
    let row = |h: &KeyCount| vec![h.key.clone(), h.count.to_string()];
    let rows = hosts.iter().map(row);
    let chart = hosts.iter().map(|h| (h.key.clone(), h.count)).collect();
    Section {
        chart,
        ..section("top blocked hosts", "host, blocked#", rows)
    }
}

fn report_rules(s: &Summary) -> Section {
    let rows = s.report_rules.iter().map(|r| {
        let c = &r.counts;
        let mut row = vec![r.rule.clone()];
        row.extend(
            [c.total, c.pass, c.inject, c.failed, r.customers_affected].map(|n| n.to_string()),
        );
        row.extend([listed(&r.customers, true), listed(&r.hosts, true)]);
        row
    });
    let title = "report-mode would-blocks (what enforcing would break)";
    let columns =
        "rule, would_block#, pass#, inject#, failed#, customers#, top customers, top hosts";
    section(title, columns, rows)
}

fn credentials(s: &Summary) -> Section {
    let rows = s.credentials.iter().map(|c| {
        let mut row = vec![c.credential.clone()];
        row.extend([c.injections, c.failed, c.unavailable].map(|n| n.to_string()));
        row.push(listed(&c.customers, true));
        row
    });
    let columns = "credential, injections#, failed#, unavailable#, top customers";
    section("injections per credential", columns, rows)
}

fn upstream(s: &Summary) -> Section {
    let errors = listed(&s.upstream_errors, false);
    let errors = (!errors.is_empty()).then_some(errors);
    let status = format!("status: {}", counts(&s.upstream_status, false));
    let errors = format!("errors: {}", errors.as_deref().unwrap_or("none"));
    text("upstream", vec![status, errors])
}

fn malformed(s: &Summary) -> Section {
    let p = &s.problems;
    let kinds = p.by_kind.iter().map(|(kind, n)| format!("{kind}: {n}"));
    let versions = p.unknown_versions.iter();
    let versions = versions.map(|(v, n)| format!("unknown version v={v}: {n}"));
    let examples = p.examples.iter().map(|e| e.text());
    let lines = kinds.chain(versions).chain(examples).collect();
    text(&format!("malformed lines: {}", p.total), lines)
}

/// A section of lines only.
fn text(title: &str, lines: Vec<String>) -> Section {
    let title = title.to_owned();
    Section {
        title,
        lines,
        ..Section::default()
    }
}

/// A section of one table; `columns` names them, separated by `, `, numeric ones marked `#`.
fn section(title: &str, columns: &str, rows: impl Iterator<Item = Vec<String>>) -> Section {
    let columns = columns.split(", ");
    let columns = columns.map(|c| c.strip_suffix('#').map_or((c, false), |c| (c, true)));
    let columns = columns.map(|(name, numeric)| (name.to_owned(), numeric));
    let table = Table {
        columns: columns.collect(),
        rows: rows.collect(),
    };
    Section {
        title: title.to_owned(),
        table: Some(table),
        ..Section::default()
    }
}

/// A table of keys and their counts by outcome, titled `by KEY`.
fn counts_section(key: &str, rows: impl Iterator<Item = (String, ActionCounts)>) -> Section {
    let columns = format!("{key}, total#, block#, inject#, pass#, failed#, would_block#");
    let rows = rows.map(|(key, counts)| [[key].as_slice(), &count_cells(&counts)].concat());
    section(&format!("by {key}"), &columns, rows)
}

fn count_cells(c: &ActionCounts) -> [String; 6] {
    [c.total, c.block, c.inject, c.pass, c.failed, c.would_block].map(|n| n.to_string())
}

/// `a 1, b 2`, or `a (1), b (2)` when `br`.
pub fn counts<K: Display, N: Display>(pairs: impl IntoIterator<Item = (K, N)>, br: bool) -> String {
    let (open, close) = if br { (" (", ")") } else { (" ", "") };
    let pair = |(k, n): (K, N)| format!("{k}{open}{n}{close}");
    pairs.into_iter().map(pair).collect::<Vec<_>>().join(", ")
}

/// [`counts`] of key counts.
fn listed(rows: &[KeyCount], bracketed: bool) -> String {
    counts(rows.iter().map(|r| (&r.key, r.count)), bracketed)
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
