//! A rule's conditions besides hosts: schemes, ports, methods, paths, path_regex, customers,
//! tags. Each given list is an OR of its entries; every given condition must hold.

use regex::Regex;

use crate::canonical::CanonicalUrl;
use crate::model::Rule;
use crate::request::Request;

/// Whether every condition of `rule` holds for the request (hosts are checked elsewhere).
pub(crate) fn conditions_hold(
    rule: &Rule,
    path_regex: Option<&Regex>,
    url: &CanonicalUrl,
    request: &Request<'_>,
) -> bool {
    rule.schemes
        .as_ref()
        .is_none_or(|s| s.contains(&url.scheme))
        && rule.ports.as_ref().is_none_or(|p| p.contains(&url.port))
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
            .is_none_or(|t| request.tags.iter().any(|rt| t.contains(rt)))
        && rule
            .paths
            .as_ref()
            .is_none_or(|p| p.iter().any(|g| g.matches(&url.path)))
        && path_regex.is_none_or(|r| r.is_match(&url.path))
}
