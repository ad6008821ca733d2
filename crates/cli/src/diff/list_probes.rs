//! Hosts that exercise the domain lists of two policies. A feed can hold a million names, so
//! only a few are probed per list: first those one policy lists and the other does not (what
//! a feed update changes), then the first names, and a subdomain of each under
//! `match = "subdomains"`.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::iter::Peekable;

use egress_policy_engine::{CompiledPolicy, DomainList, ListMatch};

use super::probe_set::Side;

/// How the origin of a list probe starts: "list `ID`", never a host pattern's spelling.
pub const LIST_ORIGIN_PREFIX: &str = "list `";
/// Names probed per list and side that only that side lists.
const CHANGED_NAMES: usize = 8;
/// Names probed per list and side whatever changed: the rules naming the list may have.
const FIRST_NAMES: usize = 2;

/// `(host, origin, side)` for every probe drawn from the lists of `old` and `new`.
pub fn list_hosts(old: &CompiledPolicy, new: &CompiledPolicy) -> Vec<(String, String, Side)> {
    let ids: BTreeSet<&str> = old
        .lists()
        .chain(new.lists())
        .map(|l| l.id.as_str())
        .collect();
    let mut out = Vec::new();
    for id in ids {
        let (before, after) = (old.list(id), new.list(id));
        let origin = format!("{LIST_ORIGIN_PREFIX}{id}`");
        let subdomains = [before, after]
            .into_iter()
            .flatten()
            .any(|l| l.matching == ListMatch::Subdomains);
        let mut picked: Vec<(String, Side)> = Vec::new();
        if let (Some(b), Some(a)) = (before, after) {
            let (only_old, only_new) = only_in_each(b, a, CHANGED_NAMES);
            picked.extend(only_old.into_iter().map(|n| (n, Side::Old)));
            picked.extend(only_new.into_iter().map(|n| (n, Side::New)));
        }
        for (list, side) in [(before, Side::Old), (after, Side::New)] {
            if let Some(list) = list {
                let first = if before.is_some() && after.is_some() {
                    FIRST_NAMES
                } else {
                    CHANGED_NAMES
                };
                picked.extend(list.domains.iter().take(first).map(|n| (n, side)));
            }
        }
        for (name, side) in picked {
            out.push((name.clone(), origin.clone(), side));
            if subdomains {
                out.push((format!("probe.{name}"), origin.clone(), side));
            }
        }
    }
    out
}

/// Up to `limit` names only `a` lists and up to `limit` only `b` lists, in name order: one
/// merge of the two sorted tables.
fn only_in_each(a: &DomainList, b: &DomainList, limit: usize) -> (Vec<String>, Vec<String>) {
    let (mut left, mut right) = (a.domains.iter().peekable(), b.domains.iter().peekable());
    let (mut only_a, mut only_b) = (Vec::new(), Vec::new());
    while only_a.len() < limit || only_b.len() < limit {
        match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => take(&mut left, &mut only_a, limit),
            (None, Some(_)) => take(&mut right, &mut only_b, limit),
            (Some(x), Some(y)) => match x.cmp(y) {
                Ordering::Less => take(&mut left, &mut only_a, limit),
                Ordering::Greater => take(&mut right, &mut only_b, limit),
                Ordering::Equal => {
                    left.next();
                    right.next();
                }
            },
        }
    }
    (only_a, only_b)
}

/// How many names only `a` lists and how many only `b` lists: one merge of the two tables.
pub fn count_changes(a: &DomainList, b: &DomainList) -> (usize, usize) {
    let (mut left, mut right) = (a.domains.iter().peekable(), b.domains.iter().peekable());
    let (mut only_a, mut only_b) = (0usize, 0usize);
    loop {
        match (left.peek(), right.peek()) {
            (None, None) => return (only_a, only_b),
            (Some(_), None) => return (only_a + left.count(), only_b),
            (None, Some(_)) => return (only_a, only_b + right.count()),
            (Some(x), Some(y)) => match x.cmp(y) {
                Ordering::Less => {
                    only_a += 1;
                    left.next();
                }
                Ordering::Greater => {
                    only_b += 1;
                    right.next();
                }
                Ordering::Equal => {
                    left.next();
                    right.next();
                }
            },
        }
    }
}

fn take(names: &mut Peekable<impl Iterator<Item = String>>, out: &mut Vec<String>, limit: usize) {
    if let Some(name) = names.next()
        && out.len() < limit
    {
        out.push(name);
    }
}
