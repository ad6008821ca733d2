//! A rule's conditions besides hosts: schemes, ports, methods, customers, tags, and the path
//! conditions (paths, path_regex). Each given list is an OR of its entries; every given
//! condition must hold. Path conditions are checked per reading of the path (see
//! [`crate::path_readings`]) by the decision order, not here.

use regex_lite::Regex;

use crate::canonical::CanonicalUrl;
use crate::model::Rule;
use crate::request::Request;

/// Whether every condition of `rule` other than hosts and path conditions holds, schemes and
/// ports as [`Rule::effective_schemes`] and [`Rule::effective_ports`] give them. The
/// request's method is already upper-cased.
pub(crate) fn conditions_hold(rule: &Rule, url: &CanonicalUrl, request: &Request<'_>) -> bool {
    rule.effective_schemes()
        .is_none_or(|s| s.contains(&url.scheme))
        && rule.effective_ports().is_none_or(|p| p.contains(&url.port))
        && rule
            .methods
            .as_ref()
            .is_none_or(|m| m.iter().any(|m| m == request.method))
        && rule
            .customers
            .as_ref()
            .is_none_or(|c| request.customer.is_some_and(|rc| c.iter().any(|c| c == rc)))
        && rule
            .tags
            .as_ref()
            .is_none_or(|t| request.tags.into_iter().flatten().any(|rt| t.contains(rt)))
}

/// Whether `rule` has path conditions at all.
pub(crate) fn has_path_conditions(rule: &Rule) -> bool {
    rule.paths.is_some() || rule.path_regex.is_some()
}

/// Whether the path conditions of `rule` hold for one reading of the path. With
/// `ignore_case`, globs compare ASCII case-insensitively and `path_regex` is the
/// case-insensitive build of the rule's expression.
pub(crate) fn path_conditions_hold(
    rule: &Rule,
    path_regex: Option<&Regex>,
    reading: &str,
    ignore_case: bool,
) -> bool {
    rule.paths.as_ref().is_none_or(|globs| {
        globs.iter().any(|g| {
            if ignore_case {
                g.matches_ignoring_case(reading)
            } else {
                g.matches(reading)
            }
        })
    }) && path_regex.is_none_or(|r| r.is_match(reading))
}
