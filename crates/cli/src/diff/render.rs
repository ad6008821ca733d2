//! `diff` output: readable text for a reviewer, or one JSON object for tools.

use std::io::{self, Write};

use serde::Serialize;

use egress_policy_engine::{Action, DEFAULT_ACTION_REASON, PolicyRef};

use super::compare::Outcome;
use super::group::{Group, HostChange};
use super::probe_set::RequestShape;

/// At most this many hosts per group in the human output (JSON lists all).
const MAX_HOSTS_SHOWN: usize = 12;
/// At most this many requests per host in the human output.
const MAX_REQUESTS_SHOWN: usize = 4;

/// A policy as the report names it.
#[derive(Clone, Debug, Serialize)]
pub struct PolicyLabel {
    /// The file as given.
    pub file: String,
    /// The policy's `name` and SHA-256, as a decision line names them.
    #[serde(flatten)]
    pub revision: PolicyRef,
}

/// Everything `diff` reports.
#[derive(Clone, Debug, Serialize)]
pub struct DiffReport {
    /// The policy before the change.
    pub old: PolicyLabel,
    /// The policy after the change.
    pub new: PolicyLabel,
    /// How many requests were decided under each policy.
    pub probes: usize,
    /// Whether any change widens what is allowed.
    pub widening: bool,
    /// The grouped changes, widening ones first.
    pub changes: Vec<Group>,
    /// Changes that do not alter decisions but matter for review (credential definitions,
    /// logging).
    pub notes: Vec<String>,
}

/// Writes the human report.
pub fn human(report: &DiffReport, out: &mut impl Write) -> io::Result<()> {
    let (old, new, probes) = (&report.old.file, &report.new.file, report.probes);
    writeln!(
        out,
        "semantic diff {old} -> {new} ({probes} probe requests decided under both)"
    )?;
    if report.changes.is_empty() {
        writeln!(out, "no semantic change")?;
    }
    for group in &report.changes {
        let tag = group.effect.tag();
        writeln!(out, "\n[{tag}] {}: {}", group.title, group.scope)?;
        writeln!(out, "  old: {}", outcome(&group.old, old))?;
        writeln!(out, "  new: {}", outcome(&group.new, new))?;
        for host in group.hosts.iter().take(MAX_HOSTS_SHOWN) {
            let origin = match host.from_patterns.is_empty() {
                true => "any other host".to_owned(),
                false => format!("from {}", host.from_patterns.join(", ")),
            };
            writeln!(out, "    {} [{origin}]: {}", host.host, requests(host))?;
        }
        let hidden = group.hosts.len().saturating_sub(MAX_HOSTS_SHOWN);
        if hidden > 0 {
            writeln!(out, "    ... and {hidden} more hosts (see --json)")?;
        }
    }
    if !report.notes.is_empty() {
        writeln!(out)?;
    }
    for note in &report.notes {
        writeln!(out, "note: {note}")?;
    }
    let changes = crate::policy_source::counted(report.changes.len(), "change");
    let widening = report.changes.iter().filter(|g| g.widening).count();
    let exit = if widening > 0 { " (exit 3)" } else { "" };
    writeln!(out, "\n{changes}, {widening} widening{exit}")
}

fn outcome(o: &Outcome, file: &str) -> String {
    let credential = (o.credential.as_ref()).map_or(String::new(), |c| format!(" `{c}`"));
    let blocked = o.action == Action::Block;
    let by = match (&o.rule, o.rule_line, o.reason.as_deref()) {
        (Some(id), Some(line), _) => format!(" by rule `{id}` ({file}:{line})"),
        (None, _, Some(code)) if blocked && code != DEFAULT_ACTION_REASON => {
            format!(" (refusal `{code}`)")
        }
        _ => " by the default action".to_owned(),
    };
    let reported = match (&o.report_rule, o.report_rule_line, o.reason.as_deref()) {
        _ if !o.would_block || blocked => String::new(),
        (Some(id), Some(line), _) => {
            format!(", would be blocked by report-mode rule `{id}` ({file}:{line})")
        }
        (None, _, Some(code)) => format!(", would be blocked (`{code}`, report mode)"),
        _ => ", would be blocked (report mode)".to_owned(),
    };
    format!("{}{credential}{by}{reported}", o.action.as_str())
}

fn requests(host: &HostChange) -> String {
    if host.all_requests {
        return "any request".to_owned();
    }
    let shown = host.requests.iter().take(MAX_REQUESTS_SHOWN).map(request);
    let shown = shown.collect::<Vec<_>>().join(", ");
    match host.requests.len().saturating_sub(MAX_REQUESTS_SHOWN) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}

fn request(r: &RequestShape) -> String {
    format!("{} {}:{}{}", r.method, r.scheme, r.port, r.path)
}
