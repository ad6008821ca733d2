//! Why a decision came out as it did: the refusal, or the first matching rule of each kind
//! with the conditions that held, and the rules that name the host but miss a condition.

use egress_policy_engine::canonical::canonicalise;
use egress_policy_engine::request::normalise_method;
use egress_policy_engine::{Action, CompiledPolicy, Decision, Mode, Refusal, Request};

use super::Query;
use super::rule_match::{self, Candidates, Probe, RuleMatch};

/// How many rules that name the host but fail a condition are listed at most.
const MAX_NEAR_MISSES: usize = 3;

/// The "why" lines, and the host pattern of the deciding rule that matched.
pub struct Why {
    /// One line per finding, in decision order.
    pub lines: Vec<String>,
    /// The host pattern of the deciding rule that matched the request.
    pub deciding_pattern: Option<String>,
}

/// Why the decision came out as it did: the refusal, or the matching candidates in decision
/// order with the conditions that held.
pub fn why(
    query: &Query<'_>,
    policy: &CompiledPolicy,
    decision: &Decision,
    file_name: &str,
) -> Why {
    let refused = |code: &str, because: &str| Why {
        lines: vec![format!("refused before any rule: `{code}` ({because})")],
        deciding_pattern: None,
    };
    let canonical = match canonicalise(query.url) {
        Ok(canonical) => canonical,
        Err(refused_url) => {
            return refused(
                refused_url.refusal.code(),
                "the URL cannot be decided on by rules",
            );
        }
    };
    if decision.rule.is_none() {
        let reason = decision.reason.as_deref();
        for (refusal, because) in [
            (Refusal::NoCustomer, "no customer was given"),
            (
                Refusal::InvalidCustomer,
                "the customer is not a clean name: 1 to 256 ASCII letters, digits or `-_.:@+=/`",
            ),
            (
                Refusal::InvalidTags,
                "a tag is not a clean name (1 to 256 ASCII letters, digits or `-_.:@+=/`), or there are too many",
            ),
            (
                Refusal::IpLiteral,
                "an IP-literal host that no matching enforcing rule names, with `ip_literals = \"block\"`",
            ),
        ] {
            if reason == Some(refusal.code()) {
                return refused(refusal.code(), because);
            }
        }
    }
    let method = normalise_method(query.method);
    let matching: Vec<usize> = policy
        .matching_rules(&Request {
            method: query.method,
            url: query.url,
            customer: query.customer,
            tags: Some(query.tags),
        })
        .into_iter()
        .filter_map(|m| policy.rules().iter().position(|r| std::ptr::eq(r, m)))
        .collect();
    let probe = Probe {
        method: &method,
        scheme: canonical.scheme.as_str(),
        host: &canonical.host,
        port: canonical.port,
        path: &canonical.path,
        customer: query.customer,
        tags: query.tags,
    };
    let rules = policy.rules();
    let candidates = rule_match::candidates(policy, &matching, &probe);
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
    for (refusal, because) in [
        (
            Refusal::AmbiguousPath,
            "the inject rule matches the path as the engine reads it, but not every reading of it (docs/policy.md, \"Path readings\"): no token is given and nothing is forwarded",
        ),
        (
            Refusal::MethodNotInjectable,
            "a token is never sent with TRACE, TRACK or CONNECT: nothing is forwarded",
        ),
    ] {
        if decision.reason.as_deref() == Some(refusal.code()) {
            lines.push(format!("refused `{}`: {because}", refusal.code()));
        }
    }
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
