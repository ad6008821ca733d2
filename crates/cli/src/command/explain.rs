//! `egress-policy explain [--policy POLICY] --customer NAME [--tags a,b] [--method M] URL [--json]`:
//! how the policy decides one request, and why.

use std::io::Write as _;
use std::path::PathBuf;

use egress_policy_engine::{Request, identity};

use crate::explain::fields::Fields;
use crate::explain::human;
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

/// Runs `explain`; exit 0 whatever the decision (a refusal is an answer, not an error).
pub fn run(args: &Args) -> Result<Outcome, CliError> {
    let loaded = policy_source::load(&args.policy)?;
    let policy = &loaded.compiled.policy;
    // One reading of the tags for the Worker and the CLI: `--tags ""` is no tags.
    let tags = args.tags.as_deref().map(identity::tags_from_text);
    let tags = tags.unwrap_or_default();
    let request = Request {
        method: &args.method,
        url: &args.url,
        customer: args.customer.as_deref(),
        tags: Some(&tags),
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        let decision = policy.decide(&request);
        let fields = Fields::decided(&decision, &request, policy);
        writeln!(out, "{}", serde_json::to_string_pretty(&fields)?)?;
    } else {
        write!(out, "{}", human::human(&request, &loaded))?;
    }
    Ok(Outcome::Ok)
}
