//! The human-readable audit report.

use std::fmt::Write as _;

use super::summary::{ActionCounts, Summary};
use super::table::{Table, terminal_safe};

const COUNT_COLUMNS: [(&str, bool); 6] = [
    ("total", true),
    ("block", true),
    ("inject", true),
    ("pass", true),
    ("failed", true),
    ("would_block", true),
];

fn count_cells(c: &ActionCounts) -> Vec<String> {
    [c.total, c.block, c.inject, c.pass, c.failed, c.would_block]
        .iter()
        .map(u64::to_string)
        .collect()
}

fn counts_table(first: &'static str, rows: impl Iterator<Item = (String, ActionCounts)>) -> Table {
    let mut columns = vec![(first, false)];
    columns.extend(COUNT_COLUMNS);
    let mut table = Table::new(&columns);
    for (key, counts) in rows {
        let mut cells = vec![key];
        cells.extend(count_cells(&counts));
        table.row(cells);
    }
    table
}

/// Shortened sha256 shown next to policy names.
pub fn short_sha(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// Renders the whole report.
pub fn render(s: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "egress-policy audit: {} decisions", s.decisions);
    match &s.time_range {
        Some(range) => {
            let _ = writeln!(
                out,
                "time range: {} .. {}",
                terminal_safe(&range.first),
                terminal_safe(&range.last)
            );
        }
        None => out.push_str("time range: (no valid timestamps)\n"),
    }
    let a = &s.actions;
    let _ = writeln!(
        out,
        "outcomes: block {}, inject {}, pass {}, failed {}; would_block {}",
        a.block, a.inject, a.pass, a.failed, a.would_block
    );
    if !s.failures.is_empty() {
        let failures: Vec<String> = s
            .failures
            .iter()
            .map(|f| format!("{} {}", f.key, f.count))
            .collect();
        let _ = writeln!(
            out,
            "failed (not completed, not counted as inject or pass): {}",
            terminal_safe(&failures.join(", "))
        );
    }

    out.push_str("\ninputs\n");
    let mut inputs = Table::new(&[
        ("file", false),
        ("lines", true),
        ("decisions", true),
        ("error", false),
    ]);
    for i in &s.inputs {
        inputs.row(vec![
            i.file.clone(),
            i.lines.to_string(),
            i.decisions.to_string(),
            i.error.clone().unwrap_or_default(),
        ]);
    }
    out.push_str(&inputs.render());

    out.push_str("\npolicy revisions\n");
    let mut revisions = Table::new(&[
        ("name", false),
        ("sha256", false),
        ("source", false),
        ("total", true),
        ("block", true),
        ("inject", true),
        ("pass", true),
        ("failed", true),
        ("first", false),
        ("last", false),
    ]);
    for r in &s.revisions {
        revisions.row(vec![
            r.name.clone().unwrap_or_else(|| "(unnamed)".into()),
            short_sha(&r.sha256).to_string(),
            source_label(r),
            r.counts.total.to_string(),
            r.counts.block.to_string(),
            r.counts.inject.to_string(),
            r.counts.pass.to_string(),
            r.counts.failed.to_string(),
            r.first.clone().unwrap_or_default(),
            r.last.clone().unwrap_or_default(),
        ]);
    }
    out.push_str(&revisions.render());

    out.push_str("\nby customer\n");
    let customers = s.customers.iter().map(|r| {
        (
            r.key.clone().unwrap_or_else(|| "(no customer)".into()),
            r.counts,
        )
    });
    out.push_str(&counts_table("customer", customers).render());

    out.push_str("\nby rule\n");
    let rules = s.rules.iter().map(|r| {
        let key = match (&r.rule, &r.reason) {
            (Some(rule), _) => rule.clone(),
            (None, Some(reason)) => format!("(no rule: {reason})"),
            (None, None) => "(no rule)".into(),
        };
        (key, r.counts)
    });
    out.push_str(&counts_table("rule", rules).render());

    out.push_str("\ntop blocked hosts\n");
    if s.top_blocked_hosts.is_empty() {
        out.push_str("  (none)\n");
    } else {
        let mut hosts = Table::new(&[("host", false), ("blocked", true)]);
        for h in &s.top_blocked_hosts {
            let count = if h.error > 0 {
                format!("<={}", h.count)
            } else {
                h.count.to_string()
            };
            hosts.row(vec![h.key.clone(), count]);
        }
        out.push_str(&hosts.render());
    }

    out.push_str("\nreport-mode would-blocks (what enforcing would break)\n");
    if s.report_rules.is_empty() {
        out.push_str("  (none)\n");
    }
    for r in &s.report_rules {
        let _ = writeln!(
            out,
            "  {}: {} requests would be blocked (now passed {}, injected {}, failed {}), {} customers",
            terminal_safe(&r.rule),
            r.counts.total,
            r.counts.pass,
            r.counts.inject,
            r.counts.failed,
            r.customers_affected
        );
        let customers: Vec<String> = r
            .customers
            .iter()
            .map(|c| format!("{} ({})", c.key, c.count))
            .collect();
        let hosts: Vec<String> = r
            .hosts
            .iter()
            .map(|h| format!("{} ({})", h.key, h.count))
            .collect();
        let _ = writeln!(
            out,
            "    customers: {}",
            terminal_safe(&customers.join(", "))
        );
        let _ = writeln!(out, "    hosts: {}", terminal_safe(&hosts.join(", ")));
    }

    out.push_str("\ninjections per credential\n");
    if s.credentials.is_empty() {
        out.push_str("  (none)\n");
    } else {
        let mut creds = Table::new(&[
            ("credential", false),
            ("injections", true),
            ("failed", true),
            ("unavailable", true),
            ("top customers", false),
        ]);
        for c in &s.credentials {
            let customers: Vec<String> = c
                .customers
                .iter()
                .map(|k| format!("{} ({})", k.key, k.count))
                .collect();
            creds.row(vec![
                c.credential.clone(),
                c.injections.to_string(),
                c.failed.to_string(),
                c.unavailable.to_string(),
                customers.join(", "),
            ]);
        }
        out.push_str(&creds.render());
    }

    out.push_str("\nupstream\n");
    let statuses: Vec<String> = s
        .upstream_status
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let _ = writeln!(out, "  status: {}", statuses.join(", "));
    if s.upstream_errors.is_empty() {
        out.push_str("  errors: none\n");
    } else {
        let errors: Vec<String> = s
            .upstream_errors
            .iter()
            .map(|e| format!("{} {}", e.key, e.count))
            .collect();
        let _ = writeln!(out, "  errors: {}", terminal_safe(&errors.join(", ")));
    }

    let p = &s.problems;
    let _ = writeln!(out, "\nmalformed lines: {}", p.total);
    for (kind, n) in &p.by_kind {
        let _ = writeln!(out, "  {kind}: {n}");
    }
    for (version, n) in &p.unknown_versions {
        let _ = writeln!(out, "  unknown version v={}: {n}", terminal_safe(version));
    }
    for e in &p.examples {
        let _ = writeln!(
            out,
            "  {}:{}: {}: {}",
            terminal_safe(&e.location.file),
            e.location.line,
            e.kind,
            terminal_safe(&e.detail)
        );
    }
    if s.other_messages > 0 {
        let _ = writeln!(out, "other console messages ignored: {}", s.other_messages);
    }
    for note in &s.notes {
        let _ = writeln!(out, "note: {note}");
    }
    out
}

/// Where a revision came from, as the tables show it: `embedded`, `bundle 7`, or `-` for
/// lines written before the Worker said.
pub fn source_label(r: &super::summary::RevisionRow) -> String {
    match (r.source, r.serial) {
        (Some(source), Some(serial)) => format!("{} {serial}", source.as_str()),
        (Some(source), None) => source.as_str().to_owned(),
        (None, _) => "-".to_owned(),
    }
}
