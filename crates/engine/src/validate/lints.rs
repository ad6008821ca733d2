//! Checks across rules and credentials: unused lists and credentials, inject rules that
//! overlap.

use std::collections::{BTreeMap, HashSet};
use std::hash::Hash;
use std::ops::Range;

use crate::credential::Credential;
use crate::decision::Action;
use crate::diagnostic::{Diagnostic, diag};
use crate::host_pattern::{HostPattern, glob_matches, is_strict_subdomain, literal_tail};
use crate::model::Rule;

use super::rules::RuleChecker;

/// More overlap warnings than this are summarised: the point is made.
const MAX_OVERLAP_WARNINGS: usize = 50;

pub(super) fn check(
    rules: &[Rule],
    headers: &[Range<usize>],
    checker: &RuleChecker<'_>,
    credentials: &BTreeMap<String, Credential>,
    diags: &mut Vec<Diagnostic>,
) {
    for (id, spans) in &checker.lists {
        if !checker.mentioned_lists.contains(id) {
            diag!(UnusedList: "list `{id}` is not used by any rule")
                .at(spans.clone(), "unused")
                .with_hint("remove it, or name it in a block rule's `lists`")
                .push_to(diags);
        }
    }
    // Every valid credential was declared: its key has a span.
    for (id, span) in &checker.credentials {
        if credentials.contains_key(id) && !checker.mentioned.contains(id) {
            diag!(UnusedCredential: "credential `{id}` is not used by any inject rule")
                .at(span.clone(), "unused")
                .with_hint("remove it, or name it in an inject rule's `credential`")
                .push_to(diags);
        }
    }
    let injects: Vec<(&Rule, &Range<usize>)> = (rules.iter().zip(headers))
        .filter(|(r, _)| r.action == Action::Inject)
        .collect();
    overlapping_injects(&injects, diags);
}

/// Warnings for pairs of inject rules that can match one request, at most
/// [`MAX_OVERLAP_WARNINGS`] of them and then how many more.
fn overlapping_injects(injects: &[(&Rule, &Range<usize>)], diags: &mut Vec<Diagnostic>) {
    let mut reported = 0usize;
    for (i, (a, _)) in injects.iter().enumerate() {
        for &(b, b_header) in injects.iter().skip(i + 1) {
            if !may_overlap(a, b) {
                continue;
            }
            reported += 1;
            if reported > MAX_OVERLAP_WARNINGS {
                continue;
            }
            let (first, second) = (&a.id, &b.id);
            diag!(OverlappingInject: "inject rules `{first}` and `{second}` can match the same request")
                .at(b_header.clone(), format!("`{first}` (line {}) wins for requests both match", a.line))
                .with_hint("narrow one rule's hosts or conditions so a request gets one credential by design")
                .push_to(diags);
        }
    }
    if reported > MAX_OVERLAP_WARNINGS {
        let more = reported - MAX_OVERLAP_WARNINGS;
        diag!(OverlappingInject: "{more} more pairs of overlapping inject rules").push_to(diags);
    }
}

/// Whether two rules can match one request. Conservative: "maybe" counts as yes, except
/// where a condition proves them disjoint (customers, schemes, ports, methods).
fn may_overlap(a: &Rule, b: &Rule) -> bool {
    if disjoint(a.customers.as_deref(), b.customers.as_deref())
        || disjoint(a.effective_schemes(), b.effective_schemes())
        || disjoint(a.effective_ports(), b.effective_ports())
        || disjoint(a.methods.as_deref(), b.methods.as_deref())
    {
        return false;
    }
    match (&a.hosts, &b.hosts) {
        (Some(ha), Some(hb)) => ha.iter().any(|x| hb.iter().any(|y| patterns_overlap(x, y))),
        _ => true,
    }
}

fn disjoint<T: Eq + Hash>(a: Option<&[T]>, b: Option<&[T]>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => {
            let set: HashSet<&T> = a.iter().collect();
            !b.iter().any(|x| set.contains(x))
        }
        _ => false,
    }
}

/// Whether some host can match both patterns (conservative for two globs).
fn patterns_overlap(a: &HostPattern, b: &HostPattern) -> bool {
    use HostPattern::{Cidr, Exact, Glob, Ip, Subdomains};
    match (a, b) {
        (Exact(x), Exact(y)) => x == y,
        (Exact(x), Subdomains(s)) | (Subdomains(s), Exact(x)) => is_strict_subdomain(x, s),
        (Exact(x), Glob(g)) | (Glob(g), Exact(x)) => glob_matches(g, x),
        (Subdomains(s), Subdomains(t)) => suffixes_compatible(s, t),
        (Subdomains(s), Glob(g)) | (Glob(g), Subdomains(s)) => {
            suffixes_compatible(s, literal_tail(g))
        }
        (Glob(g), Glob(h)) => suffixes_compatible(literal_tail(g), literal_tail(h)),
        (Ip(x), Ip(y)) => x == y,
        (Ip(x), Cidr(c)) | (Cidr(c), Ip(x)) => c.contains(*x),
        (Cidr(c), Cidr(d)) => c.contains(d.addr) || d.contains(c.addr),
        _ => false,
    }
}

/// Whether some host can end in both suffixes (an empty one ends every host).
fn suffixes_compatible(a: &str, b: &str) -> bool {
    a.is_empty() || b.is_empty() || a == b || is_strict_subdomain(a, b) || is_strict_subdomain(b, a)
}
