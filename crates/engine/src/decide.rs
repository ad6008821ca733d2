//! The decision order (docs/policy.md, "Decision order"), shared by the fast matcher and the
//! reference decider: they differ only in how they find candidate rules and match paths.
//!
//! 1. Refusals: the URL (`invalid_url`, `unsupported_scheme`, `userinfo_in_url`), the
//!    identity (`no_customer`, `invalid_customer`, `invalid_tags`, `no_tags`), and an IP-literal host that
//!    no enforcing rule matching the request names (`ip_literal`).
//! 2. Any matching enforcing block rule; report-mode ones are recorded.
//! 3. The first matching inject rule, unless the method echoes the token
//!    (`method_not_injectable`) or the path reads ambiguously (`ambiguous_path`).
//! 4. Any matching pass rule.
//! 5. `defaults.action`.
//!
//! Fail-closed both ways: a block rule's path conditions hold when any reading of the path
//! matches; a pass or inject rule's only when every reading does.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::canonical::{CanonicalHost, CanonicalUrl, canonicalise_traced};
use crate::conditions::{conditions_hold, has_path_conditions};
use crate::decision::{Action, Decision, Reason, Refusal, Target};
use crate::domain_list::DomainList;
use crate::identity;
use crate::model::{IpLiterals, Mode, PolicyModel, Rule};
use crate::path_readings::other_readings;
use crate::request::{NON_INJECTABLE_METHODS, Request, normalise_method};
use crate::trace::{Check, Event, HostMatch, PathFit, Tracer};

/// How a candidate rule's hosts matched the request's host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Via {
    /// An IP or CIDR pattern contains the IP-literal host: the rule names the address.
    Ip,
    /// A name pattern matched, or the rule has no `hosts`.
    Other,
    /// Only an IPv4 pattern containing the IPv4 address that the IPv6 host embeds
    /// ([`embedded_ipv4`]); such a match counts for block rules only.
    EmbeddedIpv4,
}

/// A rule whose hosts match and whose conditions other than the path hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Candidate {
    /// The rule's index (file order).
    pub index: usize,
    /// How its hosts matched.
    pub via: Via,
}

/// How a decider finds rules.
pub(crate) trait RuleSource {
    /// Every rule whose hosts match, ascending by index, each once (the strongest [`Via`]
    /// when several apply).
    fn candidates(&self, url: &CanonicalUrl, out: &mut Vec<Candidate>);
    /// How rule `index`'s path conditions fare on one reading of the path, optionally
    /// comparing case-insensitively.
    fn path_fit(&self, index: usize, reading: &str, ignore_case: bool) -> PathFit;
    /// Whether some rule has a `tags` condition: then a request without a tags parameter is
    /// refused (`no_tags`).
    fn scopes_by_tag(&self) -> bool;
}

/// The IPv4 address an IPv6 address carries, for the forms that reach that IPv4 host:
/// IPv4-compatible `::a.b.c.d` (`::/96`), SIIT's IPv4-translated `::ffff:0:a.b.c.d`
/// (`::ffff:0:0/96`), NAT64 `64:ff9b::/96` and the local-use
/// `64:ff9b:1::/48` in its /96 layout, 6to4 `2002:AABB:CCDD::/48`, and a Teredo client
/// (`2001:0::/32`, the address inverted in the last 32 bits). IPv4-mapped addresses never get
/// here: canonicalisation already made them IPv4.
pub fn embedded_ipv4(addr: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(addr);
    let low32 = |b: u128| Ipv4Addr::from(u32::try_from(b & 0xffff_ffff).unwrap_or_default());
    match addr.segments() {
        // IPv4-compatible, and NAT64 (well-known and local-use prefixes, /96 layout).
        [0, 0, 0, 0, 0, 0, _, _]
        | [0, 0, 0, 0, 0xffff, 0, _, _]
        | [0x64, 0xff9b, 0, 0, 0, 0, _, _]
        | [0x64, 0xff9b, 1, ..] => Some(low32(bits)),
        [0x2002, ..] => Some(low32(bits >> 80)),
        [0x2001, 0, ..] => Some(low32(!bits)),
        _ => None,
    }
}

/// The readings of the path, made on first use: most requests never meet a path condition.
/// A path with too many readings to weigh (`None`) is placed nowhere: every block rule's path
/// conditions hold on it, no pass or inject rule's do.
struct Readings<'a> {
    canonical: &'a str,
    /// The readings besides `canonical`, made on first use (`None` when too many).
    others: Option<Option<Vec<String>>>,
}

impl Readings<'_> {
    /// Whether the rule's path conditions hold: on `any` reading, case-sensitively or not
    /// (block rules), or on every reading (pass and inject rules: ignoring case never turns a
    /// match into a miss, so the case-sensitive comparison is the one that counts). Reported:
    /// the reading that decides (the first that matches, or that does not), or else the
    /// canonical path, as it fared.
    fn fit<'m>(
        &mut self,
        source: &impl RuleSource,
        index: usize,
        any: bool,
        tracer: &mut impl Tracer<'m>,
    ) -> bool {
        let canonical = self.canonical;
        let Some(others) = self.others.get_or_insert_with(|| other_readings(canonical)) else {
            tracer.record(|| Event::Check(Check::TooManyReadings(any)));
            return any;
        };
        let cases: &[bool] = if any { &[false, true] } else { &[false] };
        let mut first = None;
        for reading in std::iter::once(canonical).chain(others.iter().map(String::as_str)) {
            for &ignore_case in cases {
                let fit = source.path_fit(index, reading, ignore_case);
                if fit.holds() == any {
                    tracer.record(|| path_check(reading, ignore_case, fit));
                    return any;
                }
                first.get_or_insert(fit);
            }
        }
        // The readings start with the canonical path: `first` is its fit.
        let fit = first.unwrap_or(PathFit::NotInPaths);
        tracer.record(|| path_check(canonical, false, fit));
        !any
    }
}

/// The report of a path check.
fn path_check<'m>(reading: &str, ignore_case: bool, fit: PathFit) -> Event<'m> {
    Event::Check(Check::Path {
        reading: reading.to_owned(),
        ignore_case,
        fit,
    })
}

/// What the rules say once every candidate has been weighed.
#[derive(Default)]
struct Weighed<'m> {
    /// The first enforcing block rule.
    block: Option<&'m Rule>,
    /// The first inject rule whose conditions hold on the canonical path, and the refusal
    /// that stops it when there is one.
    inject: Option<(&'m Rule, Option<Refusal>)>,
    /// The first pass rule.
    pass: Option<&'m Rule>,
    /// The first report-mode block rule.
    report: Option<&'m Rule>,
    /// An enforcing rule that matches names the IP-literal host (or, for a block rule, the
    /// IPv4 address it embeds).
    names_ip: bool,
}

/// Weighs every candidate rule against the request (method already upper-cased).
fn weigh<'m>(
    model: &'m PolicyModel,
    source: &impl RuleSource,
    url: &CanonicalUrl,
    request: &Request<'_>,
    tracer: &mut impl Tracer<'m>,
) -> Weighed<'m> {
    let report_all = model.defaults.mode == Mode::Report;
    let mut candidates = Vec::new();
    source.candidates(url, &mut candidates);
    let mut readings = Readings {
        canonical: &url.path,
        others: None,
    };
    let mut weighed = Weighed::default();
    for Candidate { index, via } in candidates {
        let Some(rule) = model.rules.get(index) else {
            continue;
        };
        // An embedded IPv4 address counts for block rules only, so it never widens access.
        if via == Via::EmbeddedIpv4 && rule.action != Action::Block {
            continue;
        }
        tracer.record(|| Event::Rule(rule, host_match(model, rule, &url.host, via)));
        if !conditions_hold(rule, url, request, tracer) {
            continue;
        }
        let paths = has_path_conditions(rule);
        let enforcing = match rule.action {
            Action::Block => {
                if paths && !readings.fit(source, index, true, tracer) {
                    continue;
                }
                if rule.mode == Mode::Report || report_all {
                    weighed.report.get_or_insert(rule);
                    false
                } else {
                    weighed.block.get_or_insert(rule);
                    true
                }
            }
            Action::Pass => {
                if paths && !readings.fit(source, index, false, tracer) {
                    continue;
                }
                weighed.pass.get_or_insert(rule);
                true
            }
            Action::Inject => {
                // The canonical path first: the first inject rule it matches is the one.
                if paths {
                    let fit = source.path_fit(index, &url.path, false);
                    tracer.record(|| path_check(&url.path, false, fit));
                    if !fit.holds() {
                        continue;
                    }
                }
                let refusal = if NON_INJECTABLE_METHODS.contains(&request.method) {
                    Some(Refusal::MethodNotInjectable)
                } else if paths && !readings.fit(source, index, false, tracer) {
                    Some(Refusal::AmbiguousPath)
                } else {
                    None
                };
                weighed.inject.get_or_insert((rule, refusal));
                refusal.is_none()
            }
        };
        weighed.names_ip |= enforcing && via != Via::Other;
        tracer.record(|| Event::Matched);
    }
    weighed
}

fn refused(refusal: Refusal, target: Option<Target>) -> Decision {
    Decision {
        action: Action::Block,
        reason: Some(Reason::Refusal(refusal)),
        target,
        ..Decision::default()
    }
}

/// Decides one request against `model`, finding rules through `source`, reporting to
/// `tracer`.
pub(crate) fn decide<'m>(
    model: &'m PolicyModel,
    source: &impl RuleSource,
    request: &Request<'_>,
    tracer: &mut impl Tracer<'m>,
) -> Decision {
    let url = match canonicalise_traced(request.url, tracer) {
        Ok(url) => url,
        Err(r) => return refused(r.refusal, r.target),
    };
    if let Err(refusal) = identity::check(request.customer, request.tags, source.scopes_by_tag()) {
        return refused(refusal, Some(url.into_target()));
    }
    let method = normalise_method(request.method);
    let request = Request {
        method: &method,
        ..*request
    };
    let weighed = weigh(model, source, &url, &request, tracer);
    conclude(model, &weighed, url)
}

/// The decision once every candidate rule has been weighed: steps 1 (`ip_literal`) to 5.
fn conclude(model: &PolicyModel, weighed: &Weighed<'_>, url: CanonicalUrl) -> Decision {
    let report_all = model.defaults.mode == Mode::Report;
    let mut decision = Decision {
        would_block: weighed.report.is_some(),
        report_rule: weighed.report.map(Rule::rule_ref),
        ..Decision::default()
    };
    // The first would-block's reason; an IP-literal refusal comes first (step 1).
    let mut would_reason = weighed.report.map(rule_reason);

    if url.host.ip().is_some()
        && model.defaults.ip_literals == IpLiterals::Block
        && !weighed.names_ip
    {
        if !report_all {
            decision.action = Action::Block;
            decision.reason = Some(Reason::Refusal(Refusal::IpLiteral));
            decision.target = Some(url.into_target());
            return decision;
        }
        decision.would_block = true;
        would_reason = Some(Some(Reason::Refusal(Refusal::IpLiteral)));
    }
    decision.target = Some(url.into_target());

    if let Some(rule) = weighed.block {
        return ruled(decision, Action::Block, rule, rule_reason(rule));
    }
    if let Some((rule, Some(refusal))) = weighed.inject {
        let reason = Some(Reason::Refusal(refusal));
        return ruled(decision, Action::Block, rule, reason);
    }
    if let Some((rule, None)) = weighed.inject {
        decision = ruled(decision, Action::Inject, rule, None);
        decision.credential = rule.credential.clone();
    } else if let Some(rule) = weighed.pass {
        decision = ruled(decision, Action::Pass, rule, None);
    } else if model.defaults.action == Action::Block {
        if !report_all {
            decision.action = Action::Block;
            decision.reason = Some(Reason::DefaultAction);
            return decision;
        }
        decision.would_block = true;
        would_reason.get_or_insert(Some(Reason::DefaultAction));
    }
    if decision.would_block {
        decision.reason = would_reason.flatten();
    }
    decision
}

/// A block rule's own `reason`, if it gives one.
fn rule_reason(rule: &Rule) -> Option<Reason> {
    rule.reason.clone().map(Reason::Rule)
}

/// `decision` decided by `rule`.
fn ruled(mut decision: Decision, action: Action, rule: &Rule, reason: Option<Reason>) -> Decision {
    decision.action = action;
    decision.rule = Some(rule.rule_ref());
    decision.reason = reason;
    decision
}

/// How `rule`'s hosts match `host` (for the trace): the index found the rule, this names the
/// pattern or list entry. Matched through `via`.
fn host_match<'m>(
    model: &'m PolicyModel,
    rule: &'m Rule,
    host: &CanonicalHost,
    via: Via,
) -> Option<HostMatch<'m>> {
    if rule.applies_to_every_host() {
        return Some(HostMatch::Every);
    }
    if let (Via::EmbeddedIpv4, CanonicalHost::Ipv6(v6)) = (via, host) {
        let v4 = CanonicalHost::Ipv4(embedded_ipv4(*v6)?);
        let mut patterns = rule.hosts.iter().flatten();
        return patterns.find(|p| p.matches(&v4)).map(HostMatch::Embedded);
    }
    if let Some(pattern) = rule.hosts.iter().flatten().find(|p| p.matches(host)) {
        return Some(HostMatch::Pattern(pattern));
    }
    let CanonicalHost::Domain(name) = host else {
        return None;
    };
    let (list, entry) = list_match(model, rule, name)?;
    Some(HostMatch::List(list, entry.to_owned()))
}

/// The first list of `rule` (in the order the rule names them) that covers the canonical
/// `host`, and the listed name that does.
pub(crate) fn list_match<'m, 'h>(
    model: &'m PolicyModel,
    rule: &Rule,
    host: &'h str,
) -> Option<(&'m DomainList, &'h str)> {
    rule.lists
        .iter()
        .flatten()
        .filter_map(|id| model.lists.get(id))
        .find_map(|list| list.find(host).map(|entry| (list, entry)))
}
