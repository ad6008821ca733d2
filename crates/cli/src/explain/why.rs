//! Why a decision came out as it did, rendered from the engine's trace: the refusal, or the
//! first matching rule of each kind with the conditions that held, and the rules that name
//! the host but miss a condition. Nothing here evaluates a rule.

use egress_policy_engine::Action::{Block, Inject, Pass};
use egress_policy_engine::Mode::{Enforce, Report};
use egress_policy_engine::path_readings::MAX_READINGS;
use egress_policy_engine::request::normalise_method;
use egress_policy_engine::trace::{Check, Condition, HostMatch, PathFit, RuleTrace};
use egress_policy_engine::{
    Action, Decision, ListMatch, Mode, Reason, Refusal, Request, Rule, Target, Trace,
};

/// How many rules that name the host but fail a condition are listed at most.
const MAX_NEAR_MISSES: usize = 3;

/// Why `decision` came out as it did, from its `trace`: one line per finding, in decision
/// order, and the host pattern of the deciding rule that matched the request (or the id of
/// the domain list that covers the host).
pub fn why(
    request: &Request<'_>,
    decision: &Decision,
    trace: &Trace<'_>,
    report_all: bool,
    file_name: &str,
) -> (Vec<String>, Option<String>) {
    // A refusal without a rule (an inject rule's refusal has one) comes before any rule.
    let refused = match (&decision.reason, &decision.rule) {
        (Some(Reason::Refusal(refusal)), None) => Some(*refusal),
        _ => None,
    };
    let (Some(target), None) = (&decision.target, refused) else {
        let code = refused.map_or("", Refusal::code);
        let because = refused.map_or("", because);
        return (
            vec![format!("refused before any rule: `{code}` ({because})")],
            None,
        );
    };
    let rendered = Rendered {
        request,
        target,
        file_name,
    };
    let first = |action: Action, mode: Mode| {
        let mut matched = trace.rules.iter().filter(|r| r.matched);
        matched.find(|r| (r.rule.action, r.rule.mode) == (action, mode))
    };
    let (block, report) = (first(Block, Enforce), first(Block, Report));
    let (inject, pass) = (first(Inject, Enforce), first(Pass, Enforce));
    let mut lines = vec![rendered.first("block", block)];
    lines.extend(report.map(|r| rendered.first("report-mode block", Some(r))));
    lines.push(rendered.first("inject", inject));
    lines.push(rendered.first("pass", pass));
    let near_misses = trace.rules.iter().filter(|r| !r.matched);
    let near_misses = near_misses.filter(|r| !r.rule.applies_to_every_host());
    let near_misses = near_misses.take(MAX_NEAR_MISSES);
    lines.extend(near_misses.filter_map(|r| rendered.near_miss(r)));
    let found = [block, inject, pass].map(|r| r.is_some());
    lines.push(deciding_line(found, report_all).to_owned());
    let mut deciding = [block, inject, pass].into_iter().flatten();
    let deciding = deciding.find(|r| decision.rule.as_ref().is_some_and(|d| d.id == r.rule.id));
    lines.extend(rendered.after_rules(decision, deciding));
    let deciding_pattern = deciding.and_then(|r| match r.host.as_ref()? {
        HostMatch::Pattern(p) | HostMatch::Embedded(p) => Some(p.to_string()),
        HostMatch::List(list, _) => Some(list.id.clone()),
        HostMatch::Every => None,
    });
    (lines, deciding_pattern)
}

/// Which kind of rule decides, by whether a block, inject and pass rule matched.
fn deciding_line(found: [bool; 3], report_all: bool) -> &'static str {
    match found {
        [true, ..] if report_all => {
            "the policy is in report mode: the matching block rule is only reported"
        }
        [true, ..] => {
            "a matching block rule in enforce mode decides (deny overrides inject and pass)"
        }
        [false, true, _] => {
            "no enforcing block rule matched: the first matching inject rule decides"
        }
        [false, false, true] => {
            "no block or inject rule matched: the first matching pass rule decides"
        }
        [false, false, false] => "no rule matched: `defaults.action` decides",
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

/// The request as decided on, to render checks against, and the policy's file name.
struct Rendered<'a> {
    request: &'a Request<'a>,
    target: &'a Target,
    file_name: &'a str,
}

impl Rendered<'_> {
    /// The first matching rule of a kind, and what held for it.
    fn first(&self, kind: &str, found: Option<&RuleTrace<'_>>) -> String {
        let file_name = self.file_name;
        match found {
            Some(r) => {
                let (id, line, held) = (&r.rule.id, r.rule.line, self.held(r).join("; "));
                format!("first matching {kind} rule: {id} ({file_name}:{line}): {held}")
            }
            None => format!("first matching {kind} rule: none"),
        }
    }

    /// An inject rule's refusal, with the reading that does not match, and report mode
    /// letting a block through.
    fn after_rules(&self, decision: &Decision, deciding: Option<&RuleTrace<'_>>) -> Vec<String> {
        let mut lines = Vec::new();
        if let (Some(Reason::Refusal(refusal)), Block) = (&decision.reason, decision.action) {
            let (code, because) = (refusal.code(), because(*refusal));
            lines.push(format!("refused `{code}`: {because}"));
            let failed = deciding.and_then(|r| self.failed(r));
            lines.extend(failed.map(|f| format!("not every reading matches: {f}")));
        }
        if decision.would_block && decision.action != Action::Block {
            lines.push("report mode: the request would have been blocked; it goes through with `would_block = true`".to_owned());
        }
        lines
    }

    /// A rule that names the host but does not match, and the condition that failed.
    fn near_miss(&self, r: &RuleTrace<'_>) -> Option<String> {
        let failed = self.failed(r)?;
        let (id, line, file_name) = (&r.rule.id, r.rule.line, self.file_name);
        Some(format!(
            "names the host but does not match: {id} ({file_name}:{line}): {failed}"
        ))
    }

    /// The condition `r` failed on (its last check), if it failed one.
    fn failed(&self, r: &RuleTrace<'_>) -> Option<String> {
        Some(self.check(r.rule, r.checks.last().filter(|c| !c.holds())?))
    }

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
                let id = &list.id;
                let covers = match list.matching {
                    ListMatch::Exact => "",
                    ListMatch::Subdomains => " and its subdomains",
                };
                format!("host `{host}` matches list `{id}` (entry `{entry}`{covers})")
            }
            None => format!("host `{host}` matches"),
        };
        let checks = r.checks.iter().filter(|c| c.holds());
        let checks = checks.map(|c| self.check(r.rule, c));
        std::iter::once(hosts).chain(checks).collect()
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
                let read_as = Some(reading).filter(|r| *r != path);
                let read_as = read_as.map_or(String::new(), |r| format!(" read as `{r}`"));
                let case = if *ignore_case { " ignoring case" } else { "" };
                let read = format!("path `{path}`{read_as}{case}");
                let regex = rule.path_regex.as_deref();
                match fit {
                    PathFit::Holds(glob) => {
                        let glob = glob.and_then(|i| rule.paths.as_ref()?.get(i));
                        let glob = glob.map(|g| format!("{read} matches `{g}`"));
                        let regex = regex.map(|r| format!("{read} matches regex `{r}`"));
                        glob.into_iter().chain(regex).collect::<Vec<_>>().join("; ")
                    }
                    PathFit::NotInPaths => format!("{read} matches none of its `paths`"),
                    PathFit::NotRegex => {
                        let regex = regex.unwrap_or_default();
                        format!("{read} does not match regex `{regex}`")
                    }
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
        let (target, request) = (self.target, self.request);
        let all = |entries: &Option<Vec<String>>| entries.clone().unwrap_or_default();
        match condition {
            Condition::Scheme => {
                let schemes = rule.effective_schemes().unwrap_or_default().iter();
                let schemes = schemes.map(|s| s.as_str().to_owned()).collect();
                ("scheme", schemes, target.scheme.clone())
            }
            Condition::Port => {
                let ports = rule.effective_ports().unwrap_or_default().iter();
                let ports = ports.map(u16::to_string).collect();
                ("port", ports, target.port.to_string())
            }
            Condition::Method => {
                let method = normalise_method(request.method).into_owned();
                ("method", all(&rule.methods), method)
            }
            Condition::Customer => {
                let customer = request.customer.unwrap_or_default().to_owned();
                ("customer", all(&rule.customers), customer)
            }
            Condition::Tags => {
                let tags = request.tags.unwrap_or_default().join(", ");
                ("tags", all(&rule.tags), tags)
            }
        }
    }
}
