//! A rule's conditions besides hosts: schemes, ports, methods, customers, tags, and the path
//! conditions (paths, path_regex). Each given list is an OR of its entries; every given
//! condition must hold. Path conditions are checked per reading of the path (see
//! [`crate::path_readings`]) by the decision order, not here.

use regex_lite::Regex;

use crate::canonical::CanonicalUrl;
use crate::model::Rule;
use crate::path_glob::PathGlob;
use crate::request::Request;
use crate::trace::{Check, Condition, Event, PathFit, Tracer};

/// Whether every condition of `rule` other than hosts and path conditions holds, schemes and
/// ports as [`Rule::effective_schemes`] and [`Rule::effective_ports`] give them, checked in
/// that order up to the first that fails. The request's method is already upper-cased.
pub(crate) fn conditions_hold<'m>(
    rule: &Rule,
    url: &CanonicalUrl,
    request: &Request<'_>,
    tracer: &mut impl Tracer<'m>,
) -> bool {
    // `None`: the rule has no such condition; `Some(entry)`: the entry the request's value
    // equals, if any.
    let mut holds = |condition, entry: Option<Option<usize>>| {
        entry.is_none_or(|entry| {
            tracer.record(|| Event::Check(Check::Listed(condition, entry)));
            entry.is_some()
        })
    };
    holds(
        Condition::Scheme,
        rule.effective_schemes()
            .map(|s| s.iter().position(|s| *s == url.scheme)),
    ) && holds(
        Condition::Port,
        rule.effective_ports()
            .map(|p| p.iter().position(|p| *p == url.port)),
    ) && holds(
        Condition::Method,
        rule.methods
            .as_ref()
            .map(|m| m.iter().position(|m| m == request.method)),
    ) && holds(
        Condition::Customer,
        rule.customers.as_ref().map(|c| {
            request
                .customer
                .and_then(|rc| c.iter().position(|c| c == rc))
        }),
    ) && holds(
        Condition::Tags,
        rule.tags.as_ref().map(|t| {
            request
                .tags
                .into_iter()
                .flatten()
                .find_map(|rt| t.iter().position(|t| t == rt))
        }),
    )
}

/// Whether `rule` has path conditions at all.
pub(crate) fn has_path_conditions(rule: &Rule) -> bool {
    rule.paths.is_some() || rule.path_regex.is_some()
}

/// How one reading of the path fares against the path conditions of `rule`. With
/// `ignore_case`, globs compare ASCII case-insensitively and `path_regex` is the
/// case-insensitive build of the rule's expression.
pub(crate) fn path_fit(
    rule: &Rule,
    path_regex: Option<&Regex>,
    reading: &str,
    ignore_case: bool,
) -> PathFit {
    let fits = |g: &PathGlob| match ignore_case {
        true => g.matches_ignoring_case(reading),
        false => g.matches(reading),
    };
    // `Some(None)`: the rule has paths, and none matches.
    let glob = rule.paths.as_ref().map(|globs| globs.iter().position(fits));
    if glob == Some(None) {
        return PathFit::NotInPaths;
    }
    if path_regex.is_some_and(|r| !r.is_match(reading)) {
        return PathFit::NotRegex;
    }
    PathFit::Holds(glob.flatten())
}
