//! `egress-policy explain [--policy POLICY] --customer NAME [--tags a,b] [--method M] URL [--json]`:
//! how the policy decides one request, and why.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use egress_policy_engine::canonical::canonicalise;
use egress_policy_engine::{CompiledPolicy, Decision, PolicyRef, Request, RuleRef};
use serde::Serialize;

use crate::error::CliError;
use crate::explain::canonical_changes;
use crate::explain::rule_match::{self, Candidates, Probe, RuleMatch};
use crate::policy_source::{self, DEFAULT_POLICY};
use crate::source_position::line_text;

/// How many lines of a rule's table `explain` quotes at most.
const MAX_RULE_LINES: usize = 12;

/// Arguments of `explain`.
#[derive(Debug, clap::Args)]
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
    customer: Option<&'a str>,
    tags: &'a [String],
    policy: PolicyRef,
}

/// Runs `explain`; exit 0 whatever the decision (a refusal is an answer, not an error).
pub fn run(args: &Args) -> Result<ExitCode, CliError> {
    let loaded = policy_source::load(&args.policy)?;
    let policy = &loaded.compiled.policy;
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
                    "  {:<9} `{}` -> `{}` ({})",
                    change.part, change.from, change.to, change.why
                );
            }
        }
        None => {
            let _ = writeln!(out, "canonical:   the URL does not parse");
        }
    }
    let _ = writeln!(out, "decision:    {}", decision.action.as_str());
    match &decision.rule {
        Some(rule) => {
            let _ = writeln!(out, "rule:        {} ({file_name}:{})", rule.id, rule.line);
            out.push_str(&quote_rule(text, rule));
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
            (None, true) => "yes (policy in report mode)".to_owned(),
            (None, false) => "no".to_owned(),
        }
    );
    let _ = writeln!(
        out,
        "credential:  {}",
        decision.credential.as_deref().unwrap_or("none")
    );
    let _ = writeln!(out, "why:");
    for line in why(args, policy, decision, file_name) {
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
/// table or blank line.
fn quote_rule(text: &str, rule: &RuleRef) -> String {
    let mut out = String::new();
    let first = usize::try_from(rule.line).unwrap_or(usize::MAX);
    let width = (first + MAX_RULE_LINES).to_string().len();
    for number in first..first + MAX_RULE_LINES {
        let Some(line) = line_text(text, number) else {
            break;
        };
        let trimmed = line.trim_start();
        if number > first && (trimmed.is_empty() || trimmed.starts_with('[')) {
            break;
        }
        let _ = writeln!(out, "  {number:>width$} | {line}");
    }
    out
}

/// Why the decision came out as it did: the refusal, or the matching candidates in decision
/// order with the conditions that held.
fn why(args: &Args, policy: &CompiledPolicy, decision: &Decision, file_name: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let canonical = match canonicalise(&args.url) {
        Ok(canonical) => canonical,
        Err(refused) => {
            lines.push(format!(
                "refused before any rule: `{}` (the URL cannot be decided on by rules)",
                refused.refusal.code()
            ));
            return lines;
        }
    };
    if args.customer.is_none() {
        lines.push("refused before any rule: `no_customer` (no customer was given)".to_owned());
        return lines;
    }
    if decision.reason.as_deref() == Some("ip_literal") && decision.rule.is_none() {
        lines.push(
            "refused before any rule: `ip_literal` (an IP-literal host that no rule names, with `ip_literals = \"block\"`)"
                .to_owned(),
        );
        return lines;
    }
    let target = canonical.target();
    let probe = Probe {
        method: &args.method,
        scheme: &target.scheme,
        host: &canonical.host,
        port: canonical.port,
        path: &canonical.path,
        customer: args.customer.as_deref(),
        tags: &args.tags,
    };
    let rules = policy.rules();
    let Candidates {
        block,
        report,
        inject,
        pass,
    } = rule_match::candidates(rules, &probe);
    let describe = |kind: &str, found: &Option<(usize, RuleMatch)>| -> String {
        match found {
            Some((index, m)) => match rules.get(*index) {
                Some(rule) => format!(
                    "first matching {kind} rule: {} ({file_name}:{}): {}",
                    rule.id,
                    rule.line,
                    m.held.join("; ")
                ),
                None => format!("first matching {kind} rule: none"),
            },
            None => format!("first matching {kind} rule: none"),
        }
    };
    lines.push(describe("block", &block));
    if report.is_some() {
        lines.push(describe("report-mode block", &report));
    }
    lines.push(describe("inject", &inject));
    lines.push(describe("pass", &pass));
    let order = if block.is_some() {
        "a matching block rule in enforce mode decides (deny overrides inject and pass)"
    } else if inject.is_some() {
        "no enforcing block rule matched: the first matching inject rule decides"
    } else if pass.is_some() {
        "no block or inject rule matched: the first matching pass rule decides"
    } else {
        "no rule matched: `defaults.action` decides"
    };
    lines.push(order.to_owned());
    if decision.would_block && decision.action.as_str() != "block" {
        lines.push(
            "report mode: the request would have been blocked, so it is passed with `would_block = true`"
                .to_owned(),
        );
    }
    lines
}
