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
    let refusal = match &decision.reason {
        Some(Reason::Refusal(refusal)) => Some((*refusal, because(*refusal))),
        _ => None,
    };
    let (Some(target), None) = (
        &decision.target,
        refusal.filter(|_| decision.rule.is_none()),
    ) else {
        let (code, because) = refusal
            .map(|(r, because)| (r.code(), because))
            .unwrap_or_default();
        return Why {
            lines: vec![format!("refused before any rule: `{code}` ({because})")],
            deciding_pattern: None,
        };
    };
    let rendered = Rendered { request, target };
    let first = |action: Action, mode: Mode| {
        let mut matched = trace.rules.iter().filter(|r| r.matched);
        matched.find(|r| (r.rule.action, r.rule.mode) == (action, mode))
    };
    let block = first(Action::Block, Mode::Enforce);
    let inject = first(Action::Inject, Mode::Enforce);
    let pass = first(Action::Pass, Mode::Enforce);
    let report = first(Action::Block, Mode::Report).map(|r| ("report-mode block", Some(r)));
    let mut lines = Vec::new();
    for (kind, found) in [("block", block)]
        .into_iter()
        .chain(report)
        .chain([("inject", inject), ("pass", pass)])
    {
        lines.push(match found {
            Some(r) => {
                let held = rendered.held(r).join("; ");
                format!(
                    "first matching {kind} rule: {} ({file_name}:{}): {held}",
                    r.rule.id, r.rule.line
                )
            }
            None => format!("first matching {kind} rule: none"),
        });
    }
    let near_misses = trace
        .rules
        .iter()
        .filter(|r| !r.matched && !r.rule.applies_to_every_host());
    for r in near_misses.take(MAX_NEAR_MISSES) {
        if let Some(failed) = r.checks.last().filter(|c| !c.holds()) {
            let failed = rendered.check(r.rule, failed);
            let (id, line) = (&r.rule.id, r.rule.line);
            lines.push(format!(
                "names the host but does not match: {id} ({file_name}:{line}): {failed}"
            ));
        }
    }
    lines.push(
        match (block, inject, pass) {
            (Some(_), ..) if report_all => {
                "the policy is in report mode: the matching block rule is only reported"
            }
            (Some(_), ..) => {
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
    let deciding = decision.rule.as_ref().and_then(|d| {
        let mut deciding = [block, inject, pass].into_iter().flatten();
        deciding.find(|r| r.rule.id == d.id)
    });
    // Refused with a rule: an inject rule's refusal, and the reading that does not match.
    if let (Some((refusal, because)), Action::Block) = (refusal, decision.action) {
        lines.push(format!("refused `{}`: {because}", refusal.code()));
        let failed = deciding.and_then(|r| Some((r.rule, r.checks.last().filter(|c| !c.holds())?)));
        if let Some((rule, failed)) = failed {
            lines.push(format!(
                "not every reading matches: {}",
                rendered.check(rule, failed)
            ));
        }
    }
    if decision.would_block && decision.action != Action::Block {
        lines.push("report mode: the request would have been blocked; it goes through with `would_block = true`".to_owned());
    }
    Why {
        lines,
        deciding_pattern: deciding.and_then(|r| match r.host.as_ref()? {
            HostMatch::Pattern(p) | HostMatch::Embedded(p) => Some(p.to_string()),
            HostMatch::List(list, _) => Some(list.id.clone()),
            HostMatch::Every => None,
        }),
    }
}

/// Why a refusal applies.
fn because(refusal: Refusal) -> &'static str {
    match refusal {
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
        Refusal::AmbiguousPath => {
            "the inject rule matches the path as the engine reads it, but not every reading of it (docs/policy.md, \"Path readings\"): no token is given and nothing is forwarded"
        }
        Refusal::MethodNotInjectable => {
            "a token is never sent with TRACE, TRACK or CONNECT: nothing is forwarded"
        }
    }
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
