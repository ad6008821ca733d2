//! The human `explain` report: the request as written and as decided on, the decision, the
//! deciding rule quoted from the source, and why.

use std::fmt::Write as _;

use egress_policy_engine::{Mode, Request, RuleRef};

use super::why;
use crate::policy_source::LoadedPolicy;

/// How many lines of a rule's table are quoted at most.
const MAX_RULE_LINES: usize = 12;

/// The human explanation of how the loaded policy decides `request`, from its trace.
pub fn human(request: &Request<'_>, loaded: &LoadedPolicy) -> String {
    let (policy, text) = (&loaded.compiled.policy, &loaded.source.text);
    let (decision, trace) = policy.explain(request);
    let file_name = &loaded.source.file_name();
    let mut out = String::new();
    let url = redact_userinfo(request.url);
    field(&mut out, "request", format!("{} {url}", request.method));
    let tags = request.tags.unwrap_or_default().join(", ");
    let tags = if tags.is_empty() { "none" } else { &tags };
    let customer = format!("{} (tags: {tags})", request.customer.unwrap_or("none"));
    field(&mut out, "customer", customer);
    let canonical = (decision.target.as_ref()).map(|t| {
        let (scheme, host, port, path) = (&t.scheme, &t.host, t.port, &t.path);
        format!("scheme {scheme}, host {host}, port {port}, path {path}")
    });
    let canonical = canonical.unwrap_or_else(|| "the URL does not parse".to_owned());
    field(&mut out, "canonical", canonical);
    // A URL that does not parse has no changes.
    for c in &trace.changes {
        let _ = writeln!(out, "  {:<9} {} -> {} ({})", c.part, c.from, c.to, c.why);
    }
    let report_all = policy.model().defaults.mode == Mode::Report;
    let (why, deciding_pattern) = why::why(request, &decision, &trace, report_all, file_name);
    field(&mut out, "decision", decision.action.as_str());
    let rule = decision.rule.as_ref();
    let at = |r: &RuleRef| format!("{} ({file_name}:{})", r.id, r.line);
    field(&mut out, "rule", rule.map_or("none".to_owned(), at));
    if let Some(rule) = rule {
        out.push_str(&quote_rule(text, rule, deciding_pattern.as_deref()));
    }
    field(&mut out, "reason", decision.reason_text().unwrap_or("none"));
    let would_block = match (&decision.report_rule, decision.would_block) {
        (Some(r), _) => format!("yes, report-mode rule {}", at(r)),
        (None, true) => "yes (the policy is in report mode)".to_owned(),
        (None, false) => "no".to_owned(),
    };
    field(&mut out, "would block", would_block);
    let credential = decision.credential.as_deref();
    field(&mut out, "credential", credential.unwrap_or("none"));
    out.push_str("why:\n");
    for line in &why {
        let _ = writeln!(out, "  {line}");
    }
    let name = policy.model().name.as_deref().unwrap_or("(unnamed)");
    let _ = writeln!(out, "policy:      {name} sha256 {}", policy.sha256());
    out
}

/// One `label:     value` line.
fn field(out: &mut String, label: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "{:<13}{value}", format!("{label}:"));
}

/// The rule's table as written, with line numbers: from its `[[rules]]` header to the next
/// table or blank line. The line holding the host pattern that matched is marked with `>`.
fn quote_rule(text: &str, rule: &RuleRef, pattern: Option<&str>) -> String {
    let mut out = String::new();
    let first = usize::try_from(rule.line).unwrap_or(usize::MAX);
    let width = (first + MAX_RULE_LINES).to_string().len();
    let quoted = pattern.map(|p| format!("\"{p}\""));
    let lines = text.lines().map(|l| l.strip_suffix('\r').unwrap_or(l));
    let numbered = (1..).zip(lines).skip_while(|(number, _)| *number < first);
    for (number, line) in numbered.take(MAX_RULE_LINES) {
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
