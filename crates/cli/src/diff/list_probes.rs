//! Hosts that exercise the domain lists of two policies. A feed can hold a million names, so
//! only a few are probed per list: first those one policy lists and the other does not (what
//! a feed update changes), then the first names, and a subdomain of each under
//! `match = "subdomains"`.

use std::collections::BTreeSet;

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
    let lists = old.model().lists.values().chain(new.model().lists.values());
    let ids: BTreeSet<&str> = lists.map(|l| l.id.as_str()).collect();
    let mut out = Vec::new();
    for id in ids {
        let (before, after) = (old.model().lists.get(id), new.model().lists.get(id));
        let origin = format!("{LIST_ORIGIN_PREFIX}{id}`");
        let by_subdomain = |l: &DomainList| l.matching == ListMatch::Subdomains;
        let subdomains = [before, after].into_iter().flatten().any(by_subdomain);
        let mut picked: Vec<(String, Side)> = Vec::new();
        let first = match (before, after) {
            (Some(b), Some(a)) => {
                // Hosts are collected in a map: the order they are picked in does not matter.
                picked.extend(only_in(b, a).take(CHANGED_NAMES).map(|n| (n, Side::Old)));
                picked.extend(only_in(a, b).take(CHANGED_NAMES).map(|n| (n, Side::New)));
                FIRST_NAMES
            }
            _ => CHANGED_NAMES,
        };
        for (list, side) in [(before, Side::Old), (after, Side::New)] {
            let names = list.iter().flat_map(|l| l.domains.iter().take(first));
            picked.extend(names.map(|name| (name, side)));
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

/// How many names only `a` lists and how many only `b` lists.
pub fn count_changes(a: &DomainList, b: &DomainList) -> (usize, usize) {
    (only_in(a, b).count(), only_in(b, a).count())
}

/// The names `a` lists and `b` does not, in name order.
fn only_in<'a>(a: &'a DomainList, b: &'a DomainList) -> impl Iterator<Item = String> + 'a {
    a.domains.iter().filter(|name| !b.domains.contains(name))
}
