//! The human `explain` report: the request as written and as decided on, the decision, the
//! deciding rule quoted from the source, and why.

use std::fmt::Write as _;

use egress_policy_engine::{CompiledPolicy, Decision, Mode, Request, RuleRef, Trace};

use super::why;
use crate::source_position::line_text;

/// How many lines of a rule's table are quoted at most.
const MAX_RULE_LINES: usize = 12;

/// The human explanation of `decision`, traced as `trace`.
pub fn human(
    request: &Request<'_>,
    policy: &CompiledPolicy,
    (decision, trace): (&Decision, &Trace<'_>),
    file_name: &str,
    text: &str,
) -> String {
    let mut out = String::new();
    let tags = request.tags.unwrap_or_default();
    let tags = if tags.is_empty() {
        "none".to_owned()
    } else {
        tags.join(", ")
    };
    let _ = writeln!(
        out,
        "request:     {} {}",
        request.method,
        redact_userinfo(request.url)
    );
    let _ = writeln!(
        out,
        "customer:    {} (tags: {tags})",
        request.customer.unwrap_or("none")
    );
    match &decision.target {
        Some(t) => {
            let _ = writeln!(
                out,
                "canonical:   scheme {}, host {}, port {}, path {}",
                t.scheme, t.host, t.port, t.path
            );
            for change in &trace.changes {
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
    let report_all = policy.defaults().mode == Mode::Report;
    let why = why::why(request, decision, trace, report_all, file_name);
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
        decision.reason_text().unwrap_or("none")
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

/// `raw` with the password of any userinfo replaced by `***`, for display: a URL given on the
/// command line may carry a credential, and explanations end up in terminals and CI logs.
fn redact_userinfo(raw: &str) -> String {
    let Some(scheme_end) = raw.find("://").map(|i| i + 3) else {
        return raw.to_owned();
    };
    let (head, rest) = raw.split_at(scheme_end);
    let authority_end = rest.find(['/', '\\', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            format!("{head}{user}{hidden}@{host}{tail}")
        }
        None => raw.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact_userinfo("https://u:secret@x.com/a@b"),
            "https://u:***@x.com/a@b"
        );
        assert_eq!(redact_userinfo("https://u@x.com/"), "https://u@x.com/");
        assert_eq!(
            redact_userinfo("https://x.com/p?q=a@b"),
            "https://x.com/p?q=a@b"
        );
        assert_eq!(redact_userinfo("not a url"), "not a url");
    }
}
