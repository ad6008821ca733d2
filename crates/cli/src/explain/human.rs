//! The human `explain` report: the request as written and as decided on, the decision, the
//! deciding rule quoted from the source, and why.

use std::fmt::Write as _;

use egress_policy_engine::{CompiledPolicy, Decision, RuleRef};

use super::{Query, canonical_changes, why};
use crate::source_position::line_text;

/// How many lines of a rule's table are quoted at most.
const MAX_RULE_LINES: usize = 12;

/// The human explanation.
pub fn human(
    query: &Query<'_>,
    policy: &CompiledPolicy,
    decision: &Decision,
    file_name: &str,
    text: &str,
) -> String {
    let mut out = String::new();
    let tags = if query.tags.is_empty() {
        "none".to_owned()
    } else {
        query.tags.join(", ")
    };
    let _ = writeln!(
        out,
        "request:     {} {}",
        query.method,
        canonical_changes::redact_userinfo(query.url)
    );
    let _ = writeln!(
        out,
        "customer:    {} (tags: {tags})",
        query.customer.unwrap_or("none")
    );
    match &decision.target {
        Some(t) => {
            let _ = writeln!(
                out,
                "canonical:   scheme {}, host {}, port {}, path {}",
                t.scheme, t.host, t.port, t.path
            );
            for change in canonical_changes::changes(query.url, t) {
                let _ = writeln!(
                    out,
                    "  {:<9} {} -> {} ({})",
                    change.part, change.from, change.to, change.why
                );
            }
        }
        None => {
            let _ = writeln!(out, "canonical:   the URL does not parse");
        }
    }
    let why = why::why(query, policy, decision, file_name);
    let _ = writeln!(out, "decision:    {}", decision.action.as_str());
    match &decision.rule {
        Some(rule) => {
            let _ = writeln!(out, "rule:        {} ({file_name}:{})", rule.id, rule.line);
            out.push_str(&quote_rule(text, rule, why.deciding_pattern.as_deref()));
        }
        None => {
            let _ = writeln!(out, "rule:        none");
        }
    }
    let _ = writeln!(
        out,
        "reason:      {}",
        decision.reason.as_deref().unwrap_or("none")
    );
    let _ = writeln!(
        out,
        "would block: {}",
        match (&decision.report_rule, decision.would_block) {
            (Some(r), _) => format!("yes, report-mode rule {} ({file_name}:{})", r.id, r.line),
            (None, true) => "yes (the policy is in report mode)".to_owned(),
            (None, false) => "no".to_owned(),
        }
    );
    let _ = writeln!(
        out,
        "credential:  {}",
        decision.credential.as_deref().unwrap_or("none")
    );
    let _ = writeln!(out, "why:");
    for line in &why.lines {
        let _ = writeln!(out, "  {line}");
    }
    let _ = writeln!(
        out,
        "policy:      {} sha256 {}",
        policy.name().unwrap_or("(unnamed)"),
        policy.sha256()
    );
    out
}

/// The rule's table as written, with line numbers: from its `[[rules]]` header to the next
/// table or blank line. The line holding the host pattern that matched is marked with `>`.
fn quote_rule(text: &str, rule: &RuleRef, pattern: Option<&str>) -> String {
    let mut out = String::new();
    let first = usize::try_from(rule.line).unwrap_or(usize::MAX);
    let width = (first + MAX_RULE_LINES).to_string().len();
    let quoted = pattern.map(|p| format!("\"{p}\""));
    for number in first..first.saturating_add(MAX_RULE_LINES) {
        let Some(line) = line_text(text, number) else {
            break;
        };
        let trimmed = line.trim_start();
        if number > first && (trimmed.is_empty() || trimmed.starts_with('[')) {
            break;
        }
        let marker = match &quoted {
            Some(q) if line.contains(q.as_str()) => '>',
            _ => ' ',
        };
        let _ = writeln!(out, "{marker} {number:>width$} | {line}");
    }
    out
}
