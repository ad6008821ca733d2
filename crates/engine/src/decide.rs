//! The decision order (DESIGN.md section 2, contract), shared by the fast matcher and the
//! reference decider: they differ only in how they find the rules that match.

use std::net::IpAddr;

use crate::canonical::{CanonicalUrl, canonicalise};
use crate::decision::{Action, DEFAULT_ACTION_REASON, Decision, Refusal, Target};
use crate::model::{IpLiterals, Mode, PolicyModel};
use crate::request::Request;

/// How a decider finds rules.
pub(crate) trait RuleSource {
    /// Whether any rule names `ip` with an IP or CIDR pattern (any action, conditions ignored).
    fn names_ip(&self, ip: IpAddr) -> bool;
    /// Indices of every rule whose hosts and conditions match, ascending (file order).
    fn matching(&self, url: &CanonicalUrl, request: &Request<'_>, out: &mut Vec<usize>);
}

fn refused(refusal: Refusal, target: Option<Target>) -> Decision {
    Decision {
        action: Action::Block,
        rule: None,
        reason: Some(refusal.code().to_owned()),
        would_block: false,
        report_rule: None,
        credential: None,
        target,
    }
}

/// Decides one request against `model`, finding rules through `source`.
pub(crate) fn decide(
    model: &PolicyModel,
    source: &impl RuleSource,
    request: &Request<'_>,
) -> Decision {
    let url = match canonicalise(request.url) {
        Ok(url) => url,
        Err(r) => return refused(r.refusal, r.target),
    };
    if request.customer.is_none_or(str::is_empty) {
        return refused(Refusal::NoCustomer, Some(url.target()));
    }
    let report_all = model.defaults.mode == Mode::Report;
    let mut would_block = false;
    // The first would-block's reason: `Some(None)` is a report rule without a reason.
    let mut would_reason: Option<Option<String>> = None;
    let mut report_rule = None;

    if let Some(ip) = url.host.ip()
        && model.defaults.ip_literals == IpLiterals::Block
        && !source.names_ip(ip)
    {
        if !report_all {
            return refused(Refusal::IpLiteral, Some(url.target()));
        }
        would_block = true;
        would_reason = Some(Some(Refusal::IpLiteral.code().to_owned()));
    }

    let mut matching = Vec::new();
    source.matching(&url, request, &mut matching);
    let (mut block, mut inject, mut pass) = (None, None, None);
    for rule in matching.iter().filter_map(|&i| model.rules.get(i)) {
        match rule.action {
            Action::Block if rule.mode == Mode::Report || report_all => {
                would_block = true;
                if report_rule.is_none() {
                    report_rule = Some(rule.rule_ref());
                }
                if would_reason.is_none() {
                    would_reason = Some(rule.reason.clone());
                }
            }
            Action::Block => {
                block.get_or_insert(rule);
            }
            Action::Inject => {
                inject.get_or_insert(rule);
            }
            Action::Pass => {
                pass.get_or_insert(rule);
            }
        }
    }

    let mut decision = Decision {
        action: Action::Pass,
        rule: None,
        reason: None,
        would_block,
        report_rule,
        credential: None,
        target: None,
    };
    decision.target = Some(url.into_target());
    if let Some(rule) = block {
        decision.action = Action::Block;
        decision.rule = Some(rule.rule_ref());
        decision.reason = rule.reason.clone();
        return decision;
    }
    if let Some(rule) = inject.or(pass) {
        decision.action = rule.action;
        decision.rule = Some(rule.rule_ref());
        decision.credential = rule.credential.clone();
    } else if model.defaults.action == Action::Block {
        if report_all {
            decision.would_block = true;
            would_reason.get_or_insert(Some(DEFAULT_ACTION_REASON.to_owned()));
        } else {
            decision.action = Action::Block;
            decision.reason = Some(DEFAULT_ACTION_REASON.to_owned());
            return decision;
        }
    }
    if decision.would_block {
        decision.reason = would_reason.flatten();
    }
    decision
}
