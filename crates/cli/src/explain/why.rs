//! Why a decision came out as it did, rendered from the engine's trace: the refusal, or the
//! first matching rule of each kind with the conditions that held, and the rules that name
//! the host but miss a condition. Nothing here evaluates a rule.

use egress_policy_engine::path_readings::MAX_READINGS;
use egress_policy_engine::request::normalise_method;
use egress_policy_engine::trace::{Check, Condition, HostMatch, PathFit, RuleTrace};
use egress_policy_engine::{
    Action, Decision, ListMatch, Mode, Reason, Refusal, Request, Rule, Target, Trace,
};

/// How many rules that name the host but fail a condition are listed at most.
const MAX_NEAR_MISSES: usize = 3;

/// The "why" lines, and the host pattern of the deciding rule that matched.
#[derive(Debug, Default)]
pub struct Why {
    /// One line per finding, in decision order.
    pub lines: Vec<String>,
    /// The host pattern of the deciding rule that matched the request, or the id of the
    /// domain list that covers the host.
    pub deciding_pattern: Option<String>,
}

/// Why `decision` came out as it did, from its `trace`.
pub fn why(
    request: &Request<'_>,
    decision: &Decision,
    trace: &Trace<'_>,
    report_all: bool,
    file_name: &str,
) -> Why {
    if let Some(Reason::Refusal(refusal)) = &decision.reason
        && decision.rule.is_none()
        && let Some(because) = before_rules(*refusal)
    {
        return Why {
            lines: vec![format!(
                "refused before any rule: `{}` ({because})",
                refusal.code()
            )],
            deciding_pattern: None,
        };
    }
    // Every request that reaches the rules has a target.
    let Some(target) = &decision.target else {
        return Why::default();
    };
    let rendered = Rendered { request, target };
    let first = |action: Action, mode: Mode| {
        let mut matched = trace.rules.iter().filter(|r| r.matched);
        matched.find(|r| (r.rule.action, r.rule.mode) == (action, mode))
    };
    let (block, report) = (first(Action::Block, Mode::Enforce), first(Action::Block, Mode::Report));
    let (inject, pass) = (first(Action::Inject, Mode::Enforce), first(Action::Pass, Mode::Enforce));
    let describe = |kind: &str, found: Option<&RuleTrace<'_>>| match found {
        Some(r) => format!(
            "first matching {kind} rule: {} ({file_name}:{}): {}",
            r.rule.id,
            r.rule.line,
            rendered.held(r).join("; ")
        ),
        None => format!("first matching {kind} rule: none"),
    };
    let mut lines = vec![describe("block", block)];
    if report.is_some() {
        lines.push(describe("report-mode block", report));
    }
    lines.push(describe("inject", inject));
    lines.push(describe("pass", pass));
    let near_misses = trace.rules.iter().filter(|r| !r.matched);
    for r in near_misses.filter(|r| !r.rule.applies_to_every_host()).take(MAX_NEAR_MISSES) {
        if let Some(failed) = r.checks.last().filter(|c| !c.holds()) {
            lines.push(format!(
                "names the host but does not match: {} ({file_name}:{}): {}",
                r.rule.id,
                r.rule.line,
                rendered.check(r.rule, failed)
            ));
        }
    }
    lines.push(deciding_line(block.is_some(), inject.is_some(), pass.is_some(), report_all).to_owned());
    lines.extend(refused_after_rules(decision));
    let deciding = decision.rule.as_ref().and_then(|d| {
        [block, inject, pass]
            .into_iter()
            .flatten()
            .find(|r| r.rule.id == d.id)
    });
    Why {
        lines,
        deciding_pattern: deciding.and_then(|r| match r.host.as_ref()? {
            HostMatch::Pattern(p) | HostMatch::Embedded(p) => Some(p.to_string()),
            HostMatch::List(list, _) => Some(list.id.clone()),
            HostMatch::Every => None,
        }),
    }
}

/// Why a refusal made before any rule was consulted applies; `None` for the refusals of a
/// matching inject rule.
fn before_rules(refusal: Refusal) -> Option<&'static str> {
    Some(match refusal {
        Refusal::InvalidUrl
        | Refusal::UnsupportedScheme
        | Refusal::UserinfoInUrl
        | Refusal::InvalidHost => "the URL cannot be decided on by rules",
        Refusal::NoCustomer => "no customer was given",
        Refusal::InvalidCustomer => {
            "the customer is not a clean name: 1 to 256 ASCII letters, digits or `-_.:@+=/`"
        }
        Refusal::InvalidTags => {
            "a tag is not a clean name (1 to 256 ASCII letters, digits or `-_.:@+=/`), or there are too many"
        }
        Refusal::NoTags => "the policy scopes rules by tag and no tags parameter was given",
        Refusal::IpLiteral => {
            "an IP-literal host that no matching enforcing rule names, with `ip_literals = \"block\"`"
        }
        Refusal::AmbiguousPath | Refusal::MethodNotInjectable => return None,
    })
}

/// Which kind of rule decides, by the first matching rule of each kind.
fn deciding_line(block: bool, inject: bool, pass: bool, report_all: bool) -> &'static str {
    match (block, inject, pass) {
        (true, ..) if report_all => {
            "the policy is in report mode: the matching block rule is only reported"
        }
        (true, ..) => "a matching block rule in enforce mode decides (deny overrides inject and pass)",
        (false, true, _) => "no enforcing block rule matched: the first matching inject rule decides",
        (false, false, true) => {
            "no block or inject rule matched: the first matching pass rule decides"
        }
        (false, false, false) => "no rule matched: `defaults.action` decides",
    }
}

/// The refusal of a matching inject rule, and report mode letting a block through.
fn refused_after_rules(decision: &Decision) -> Vec<String> {
    let mut lines = Vec::new();
    let because = match &decision.reason {
        Some(Reason::Refusal(Refusal::AmbiguousPath)) => Some(
            "the inject rule matches the path as the engine reads it, but not every reading of it (docs/policy.md, \"Path readings\"): no token is given and nothing is forwarded",
        ),
        Some(Reason::Refusal(Refusal::MethodNotInjectable)) => {
            Some("a token is never sent with TRACE, TRACK or CONNECT: nothing is forwarded")
        }
        _ => None,
    };
    if let (Some(because), Some(reason)) = (because, decision.reason_text()) {
        lines.push(format!("refused `{reason}`: {because}"));
    }
    if decision.would_block && decision.action != Action::Block {
        lines.push(
            "report mode: the request would have been blocked; it goes through with `would_block = true`"
                .to_owned(),
        );
    }
    lines
}

/// The request as decided on, to render checks against.
struct Rendered<'a> {
    request: &'a Request<'a>,
    target: &'a Target,
}

impl Rendered<'_> {
    /// What held for a matching rule, in the order checked: its hosts, then its conditions.
    fn held(&self, r: &RuleTrace<'_>) -> Vec<String> {
        let host = &self.target.host;
        let hosts = match &r.host {
            Some(HostMatch::Every) => "no `hosts`: applies to every host".to_owned(),
            Some(HostMatch::Pattern(p)) => format!("host `{host}` matches `{p}`"),
            Some(HostMatch::Embedded(p)) => {
                format!("host `{host}` embeds an IPv4 address that `{p}` names")
            }
            Some(HostMatch::List(list, entry)) => {
                let covers = match list.matching {
                    ListMatch::Exact => "",
                    ListMatch::Subdomains => " and its subdomains",
                };
                format!(
                    "host `{host}` matches list `{}` (entry `{entry}`{covers})",
                    list.id
                )
            }
            None => format!("host `{host}` matches"),
        };
        let checks = r.checks.iter().filter(|c| c.holds());
        std::iter::once(hosts)
            .chain(checks.map(|c| self.check(r.rule, c)))
            .collect()
    }

    /// One check of `rule`, held or failed.
    fn check(&self, rule: &Rule, check: &Check) -> String {
        let target = self.target;
        match check {
            Check::Listed(condition, entry) => {
                let (name, listed, actual) = self.listed(rule, *condition);
                match (entry.and_then(|i| listed.get(i)), condition) {
                    (Some(value), Condition::Tags) => format!("tag `{value}` is listed"),
                    (Some(value), _) => format!("{name} `{value}` is listed"),
                    (None, Condition::Customer) => match self.request.customer {
                        Some(customer) => format!("customer `{customer}` is not listed"),
                        None => "no customer".to_owned(),
                    },
                    (None, Condition::Tags) => format!("none of the tags [{actual}] is listed"),
                    (None, _) => format!("{name} `{actual}` is not in [{}]", listed.join(", ")),
                }
            }
            Check::Path {
                reading,
                ignore_case,
                fit,
            } => {
                let path = &target.path;
                let read = match (reading == path, ignore_case) {
                    (true, false) => format!("path `{path}`"),
                    (true, true) => format!("path `{path}` ignoring case"),
                    (false, false) => format!("path `{path}` read as `{reading}`"),
                    (false, true) => format!("path `{path}` read as `{reading}` ignoring case"),
                };
                let regex = rule.path_regex.as_deref().unwrap_or_default();
                match fit {
                    PathFit::Holds(glob) => {
                        let glob = glob.and_then(|i| rule.paths.as_ref()?.get(i));
                        let glob = glob.map(|g| format!("{read} matches `{g}`"));
                        let regex = rule
                            .path_regex
                            .as_ref()
                            .map(|r| format!("{read} matches regex `{r}`"));
                        glob.into_iter().chain(regex).collect::<Vec<_>>().join("; ")
                    }
                    PathFit::NotInPaths => format!("{read} matches none of its `paths`"),
                    PathFit::NotRegex => format!("{read} does not match regex `{regex}`"),
                }
            }
            Check::TooManyReadings(_) => format!(
                "path `{}` reads in more than {MAX_READINGS} ways: only block rules hold on it",
                target.path
            ),
        }
    }

    /// A listed condition's name, the rule's entries and the request's value.
    fn listed(&self, rule: &Rule, condition: Condition) -> (&'static str, Vec<String>, String) {
        let texts = |values: Option<&Vec<String>>| values.cloned().unwrap_or_default();
        match condition {
            Condition::Scheme => (
                "scheme",
                rule.effective_schemes()
                    .unwrap_or_default()
                    .iter()
                    .map(|s| s.as_str().to_owned())
                    .collect(),
                self.target.scheme.clone(),
            ),
            Condition::Port => (
                "port",
                rule.effective_ports()
                    .unwrap_or_default()
                    .iter()
                    .map(u16::to_string)
                    .collect(),
                self.target.port.to_string(),
            ),
            Condition::Method => (
                "method",
                texts(rule.methods.as_ref()),
                normalise_method(self.request.method).into_owned(),
            ),
            Condition::Customer => (
                "customer",
                texts(rule.customers.as_ref()),
                self.request.customer.unwrap_or_default().to_owned(),
            ),
            Condition::Tags => (
                "tags",
                texts(rule.tags.as_ref()),
                self.request.tags.unwrap_or_default().join(", "),
            ),
        }
    }
}
