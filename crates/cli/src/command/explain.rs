//! `egress-policy explain [--policy POLICY] --customer NAME [--tags a,b] [--method M] URL [--json]`:
//! how the policy decides one request, and why.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use egress_policy_engine::canonical::canonicalise;
use egress_policy_engine::{
    Action, CompiledPolicy, Decision, Mode, PolicyRef, Refusal, Request, RuleRef,
};
use serde::Serialize;

use crate::error::CliError;
use crate::explain::canonical_changes;
use crate::explain::rule_match::{self, Candidates, Probe, RuleMatch};
use crate::policy_source::{self, DEFAULT_POLICY};
use crate::source_position::line_text;

/// How many rules that name the host but fail a condition `explain` lists at most.
const MAX_NEAR_MISSES: usize = 3;
/// How many lines of a rule's table `explain` quotes at most.
const MAX_RULE_LINES: usize = 12;

/// Arguments of `explain`.
#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    /// The policy file.
    #[arg(long, default_value = DEFAULT_POLICY)]
    policy: PathBuf,
    /// The customer the request is made for (omit it to see the `no_customer` refusal).
    #[arg(long)]
    customer: Option<String>,
    /// The customer's tags, comma-separated.
    #[arg(long, value_delimiter = ',')]
    tags: Vec<String>,
    /// The HTTP method.
    #[arg(long, default_value = "GET")]
    method: String,
    /// The request URL, exactly as the user Worker fetches it.
    url: String,
    /// Print one JSON object with the decision log's decision fields.
    #[arg(long)]
    json: bool,
}

/// The decision fields of the log line, plus `rule_line`.
#[derive(Debug, Serialize)]
struct JsonExplanation<'a> {
    action: &'static str,
    would_block: bool,
    rule: Option<&'a str>,
    rule_line: Option<u32>,
    report_rule: Option<&'a str>,
    reason: Option<&'a str>,
    credential: Option<&'a str>,
    method: &'a str,
    scheme: Option<&'a str>,
    host: Option<&'a str>,
    port: Option<u16>,
    path: Option<&'a str>,
    /// Only when the policy sets `query_in_logs = true`, as in the log line.
    #[serde(skip_serializing_if = "Option::is_none")]
    query: Option<&'a str>,
    customer: Option<&'a str>,
    tags: &'a [String],
    policy: PolicyRef,
}

/// Runs `explain`; exit 0 whatever the decision (a refusal is an answer, not an error).
pub fn run(args: &Args) -> Result<ExitCode, CliError> {
    let loaded = policy_source::load(&args.policy)?;
    let policy = &loaded.compiled.policy;
    let args = &Args {
        // `--tags ""` means no tags, not one empty tag.
        tags: args
            .tags
            .iter()
            .filter(|t| !t.is_empty())
            .cloned()
            .collect(),
        ..args.clone()
    };
    let decision = policy.decide(&Request {
        method: &args.method,
        url: &args.url,
        customer: args.customer.as_deref(),
        tags: &args.tags,
    });
    if args.json {
        let target = decision.target.as_ref();
        let json = JsonExplanation {
            action: decision.action.as_str(),
            would_block: decision.would_block,
            rule: decision.rule.as_ref().map(|r| r.id.as_str()),
            rule_line: decision.rule.as_ref().map(|r| r.line),
            report_rule: decision.report_rule.as_ref().map(|r| r.id.as_str()),
            reason: decision.reason.as_deref(),
            credential: decision.credential.as_deref(),
            method: &args.method,
            scheme: target.map(|t| t.scheme.as_str()),
            host: target.map(|t| t.host.as_str()),
            port: target.map(|t| t.port),
            path: target.map(|t| t.path.as_str()),
            query: target
                .and_then(|t| t.query.as_deref())
                .filter(|_| policy.defaults().query_in_logs),
            customer: args.customer.as_deref(),
            tags: &args.tags,
            policy: policy.policy_ref(),
        };
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        let file_name = loaded.source.file_name();
        print!(
            "{}",
            human(args, policy, &decision, &file_name, &loaded.source.text)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The human explanation.
fn human(
    args: &Args,
    policy: &CompiledPolicy,
    decision: &Decision,
    file_name: &str,
    text: &str,
) -> String {
    let mut out = String::new();
    let tags = if args.tags.is_empty() {
        "none".to_owned()
    } else {
        args.tags.join(", ")
    };
    let _ = writeln!(out, "request:     {} {}", args.method, args.url);
    let _ = writeln!(
        out,
        "customer:    {} (tags: {tags})",
        args.customer.as_deref().unwrap_or("none")
    );
    match &decision.target {
        Some(t) => {
            let _ = writeln!(
                out,
                "canonical:   scheme {}, host {}, port {}, path {}",
                t.scheme, t.host, t.port, t.path
            );
            for change in canonical_changes::changes(&args.url, t) {
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
    let why = why(args, policy, decision, file_name);
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

/// The "why" lines, and the host pattern of the deciding rule that matched.
struct Why {
    lines: Vec<String>,
    deciding_pattern: Option<String>,
}

/// Why the decision came out as it did: the refusal, or the matching candidates in decision
/// order with the conditions that held.
fn why(args: &Args, policy: &CompiledPolicy, decision: &Decision, file_name: &str) -> Why {
    let refused = |code: &str, because: &str| Why {
        lines: vec![format!("refused before any rule: `{code}` ({because})")],
        deciding_pattern: None,
    };
    let canonical = match canonicalise(&args.url) {
        Ok(canonical) => canonical,
        Err(refused_url) => {
            return refused(
                refused_url.refusal.code(),
                "the URL cannot be decided on by rules",
            );
        }
    };
    if args.customer.is_none() {
        return refused("no_customer", "no customer was given");
    }
    if decision.rule.is_none() && decision.reason.as_deref() == Some(Refusal::IpLiteral.code()) {
        return refused(
            "ip_literal",
            "an IP-literal host that no rule names, with `ip_literals = \"block\"`",
        );
    }
    let probe = Probe {
        method: &args.method,
        scheme: canonical.scheme.as_str(),
        host: &canonical.host,
        port: canonical.port,
        path: &canonical.path,
        customer: args.customer.as_deref(),
        tags: &args.tags,
    };
    let rules = policy.rules();
    let candidates = rule_match::candidates(rules, &probe);
    let Candidates {
        block,
        report,
        inject,
        pass,
        near_misses,
    } = &candidates;
    let describe = |kind: &str, found: &Option<(usize, RuleMatch)>| -> String {
        match found.as_ref().and_then(|(i, m)| Some((rules.get(*i)?, m))) {
            Some((rule, m)) => format!(
                "first matching {kind} rule: {} ({file_name}:{}): {}",
                rule.id,
                rule.line,
                m.held.join("; ")
            ),
            None => format!("first matching {kind} rule: none"),
        }
    };
    let mut lines = vec![describe("block", block)];
    if report.is_some() {
        lines.push(describe("report-mode block", report));
    }
    lines.push(describe("inject", inject));
    lines.push(describe("pass", pass));
    for (index, miss) in near_misses.iter().take(MAX_NEAR_MISSES) {
        if let (Some(rule), Some(failed)) = (rules.get(*index), &miss.failed) {
            lines.push(format!(
                "names the host but does not match: {} ({file_name}:{}): {failed}",
                rule.id, rule.line
            ));
        }
    }
    let global_report = policy.defaults().mode == Mode::Report;
    lines.push(
        match (block, inject, pass) {
            (Some(_), _, _) if global_report => {
                "the policy is in report mode: the matching block rule is only reported"
            }
            (Some(_), _, _) => {
                "a matching block rule in enforce mode decides (deny overrides inject and pass)"
            }
            (None, Some(_), _) => {
                "no enforcing block rule matched: the first matching inject rule decides"
            }
            (None, None, Some(_)) => {
                "no block or inject rule matched: the first matching pass rule decides"
            }
            (None, None, None) => "no rule matched: `defaults.action` decides",
        }
        .to_owned(),
    );
    if decision.would_block && decision.action != Action::Block {
        lines.push(
            "report mode: the request would have been blocked; it goes through with `would_block = true`"
                .to_owned(),
        );
    }
    let deciding = decision.rule.as_ref().and_then(|r| {
        [block, inject, pass]
            .into_iter()
            .flatten()
            .find(|(i, _)| rules.get(*i).is_some_and(|rule| rule.id == r.id))
    });
    if decision.rule.is_some() && deciding.is_none() {
        lines.push(
            "note: the deciding rule was not found by this explanation's re-check; please report this"
                .to_owned(),
        );
    }
    Why {
        lines,
        deciding_pattern: deciding.and_then(|(_, m)| m.pattern.clone()),
    }
}
