//! `egress-policy explain [--policy POLICY] --customer NAME [--tags a,b] [--method M] URL [--json]`:
//! how the policy decides one request, and why.

use std::io::Write as _;
use std::path::PathBuf;

use egress_policy_engine::request::normalise_method;
use egress_policy_engine::{PolicyRef, Request, identity};
use serde::Serialize;

use crate::explain::{Query, human};
use crate::policy_source::{self, DEFAULT_POLICY};
use crate::{CliError, Outcome};

/// Arguments of `explain`.
#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    /// The policy file.
    #[arg(long, default_value = DEFAULT_POLICY)]
    policy: PathBuf,
    /// The customer the request is made for (omit it to see the `no_customer` refusal).
    #[arg(long)]
    customer: Option<String>,
    /// The customer's tags, comma-separated, read as the Worker reads a `customer_tags`
    /// string (an empty entry is kept, and refused as `invalid_tags`).
    #[arg(long)]
    tags: Option<String>,
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
pub fn run(args: &Args) -> Result<Outcome, CliError> {
    let loaded = policy_source::load(&args.policy)?;
    let policy = &loaded.compiled.policy;
    // One reading of the tags for the Worker and the CLI: `--tags ""` is no tags.
    let tags = args
        .tags
        .as_deref()
        .map(identity::tags_from_text)
        .unwrap_or_default();
    let query = Query {
        method: &args.method,
        url: &args.url,
        customer: args.customer.as_deref(),
        tags: &tags,
    };
    let decision = policy.decide(&Request {
        method: query.method,
        url: query.url,
        customer: query.customer,
        tags: Some(query.tags),
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
            // As the engine matched it and the Worker logs it (`get` is `GET`).
            method: &normalise_method(&args.method),
            scheme: target.map(|t| t.scheme.as_str()),
            host: target.map(|t| t.host.as_str()),
            port: target.map(|t| t.port),
            path: target.map(|t| t.path.as_str()),
            query: target
                .and_then(|t| t.query.as_deref())
                .filter(|_| policy.defaults().query_in_logs),
            customer: args.customer.as_deref(),
            tags: &tags,
            policy: policy.policy_ref(),
        };
        writeln!(
            std::io::stdout().lock(),
            "{}",
            serde_json::to_string_pretty(&json)?
        )?;
    } else {
        let file_name = loaded.source.file_name();
        write!(
            std::io::stdout().lock(),
            "{}",
            human::human(&query, policy, &decision, &file_name, &loaded.source.text)
        )?;
    }
    Ok(Outcome::Ok)
}
