//! Differences grouped for review: by change kind, the outcome on each side (rule,
//! credential), and the customer/tag scope, then by host.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use super::compare::{ChangeKind, Differences, Effect, Outcome};
use super::list_probes::LIST_ORIGIN_PREFIX;
use super::probe_set::{Audience, HostProbe, ProbeSet, RequestShape, Side};

/// Which customers a change applies to, relative to the customers and tags the policies name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scope {
    /// Every customer, whatever its tags.
    AllCustomers,
    /// These customers (`None`: every customer neither policy names), whatever their tags.
    Customers {
        /// The customers.
        customers: Vec<Option<String>>,
        /// The named customers it does not apply to.
        except: Vec<String>,
    },
    /// Customers with these tags (`None`: customers with no tag either policy names).
    Tags {
        /// The tag sets (empty: no tag either policy names).
        tags: Vec<Vec<String>>,
        /// The named tag sets it does not apply to.
        except: Vec<Vec<String>>,
    },
    /// These customer and tag combinations.
    Audiences {
        /// The combinations.
        audiences: Vec<Audience>,
    },
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag_labels = |tags: &[Vec<String>]| joined(tags.iter().map(|t| tag_label(t)), "; ");
        match self {
            Scope::AllCustomers => f.write_str("all customers"),
            Scope::Customers { customers, except } if customers.contains(&None) => {
                write!(f, "all customers except {}", quoted(except))
            }
            Scope::Customers { customers, .. } => {
                write!(f, "only customers {}", quoted(customers.iter().flatten()))
            }
            Scope::Tags { tags, except } if tags.contains(&Vec::new()) => {
                write!(f, "all customers except those with {}", tag_labels(except))
            }
            Scope::Tags { tags, .. } => write!(f, "only customers with {}", tag_labels(tags)),
            Scope::Audiences { audiences } => {
                f.write_str(&joined(audiences.iter().map(audience_label), "; "))
            }
        }
    }
}

fn joined(items: impl Iterator<Item = String>, separator: &str) -> String {
    items.collect::<Vec<_>>().join(separator)
}

fn quoted<'n>(names: impl IntoIterator<Item = &'n String>) -> String {
    joined(names.into_iter().map(|n| format!("`{n}`")), ", ")
}

/// "`acme` (tag `prod`)", "any other customer (no listed tag)"
fn audience_label(audience: &Audience) -> String {
    let customer = audience.customer.as_ref();
    let customer = customer.map_or_else(|| "any other customer".to_owned(), |c| format!("`{c}`"));
    format!("{customer} ({})", tag_label(&audience.tags))
}

fn tag_label(tags: &[String]) -> String {
    match tags {
        [] => "no listed tag".to_owned(),
        [tag] => format!("tag `{tag}`"),
        tags => format!("tags {}", quoted(tags)),
    }
}

/// One host of a group, with the requests to it that changed.
#[derive(Clone, Debug, Serialize)]
pub struct HostChange {
    /// The probed host.
    pub host: String,
    /// The patterns it was drawn from, e.g. "`*.example.com` (old)"; empty for the stand-ins
    /// for "any other host".
    pub from_patterns: Vec<String>,
    /// Every probed request to this host changed.
    pub all_requests: bool,
    /// The requests that changed (all of them when `all_requests`).
    pub requests: Vec<RequestShape>,
}

/// Differences that share kind, outcomes and scope, as `diff --json` shows them.
#[derive(Clone, Debug, Serialize)]
pub struct Group {
    /// What changed.
    pub kind: ChangeKind,
    /// Widens, narrows, or only changes what is reported.
    pub effect: Effect,
    /// The kind's heading.
    pub title: &'static str,
    /// Whether it widens what is allowed.
    pub widening: bool,
    /// The old policy's outcome.
    pub old: Outcome,
    /// The new policy's outcome.
    pub new: Outcome,
    /// Who it applies to.
    pub scope: Scope,
    /// The scope in words.
    pub scope_text: String,
    /// Where.
    pub hosts: Vec<HostChange>,
}

/// Groups differences; widening groups first, then by kind.
pub fn group(set: &ProbeSet, differences: Differences) -> Vec<Group> {
    type GroupKey = (ChangeKind, Outcome, Outcome, Scope);
    let mut groups: BTreeMap<GroupKey, BTreeMap<usize, Vec<usize>>> = BTreeMap::new();
    for ((kind, old, new, host, request), audiences) in differences {
        let Some(probe) = set.hosts.get(host) else {
            continue;
        };
        let scope = summarise(&probe.audiences, &audiences);
        let hosts = groups.entry((kind, old, new, scope)).or_default();
        hosts.entry(host).or_default().push(request);
    }
    let mut out: Vec<Group> = groups
        .into_iter()
        .map(|((kind, old, new, scope), hosts)| Group {
            kind,
            effect: kind.describe().0,
            title: kind.describe().1,
            widening: kind.is_widening(),
            old,
            new,
            scope_text: scope.to_string(),
            scope,
            hosts: (hosts.into_iter())
                .filter_map(|(host, requests)| Some(host_change(set.hosts.get(host)?, &requests)))
                .collect(),
        })
        .collect();
    out.sort_by_key(|g| (!g.widening, g.kind));
    out
}

/// The requests `requests` (indices) to the probed host `probe`.
fn host_change(probe: &HostProbe, requests: &[usize]) -> HostChange {
    HostChange {
        host: probe.host.clone(),
        from_patterns: origin_labels(&probe.origins),
        all_requests: requests.len() == probe.requests.len(),
        requests: (requests.iter())
            .filter_map(|r| probe.requests.get(*r).cloned())
            .collect(),
    }
}

/// "`*.example.com` (old, new)", "list `feed` (new)": each pattern or list once, with the
/// policies that name it.
fn origin_labels(origins: &BTreeSet<(String, Side)>) -> Vec<String> {
    let mut by_pattern: BTreeMap<&str, Vec<&'static str>> = BTreeMap::new();
    for (pattern, side) in origins {
        by_pattern.entry(pattern).or_default().push(side.as_str());
    }
    let labels = by_pattern.into_iter().map(|(pattern, sides)| {
        // A domain list's origin already reads "list `ID`" (never a host pattern).
        let sides = sides.join(", ");
        match pattern.starts_with(LIST_ORIGIN_PREFIX) {
            true => format!("{pattern} ({sides})"),
            false => format!("`{pattern}` ({sides})"),
        }
    });
    labels.collect()
}

/// Describes the audiences `hit` out of `grid` as compactly as the grid allows.
fn summarise(grid: &[Audience], hit: &BTreeSet<usize>) -> Scope {
    let hit: BTreeSet<&Audience> = hit.iter().filter_map(|i| grid.get(*i)).collect();
    if hit.len() == grid.len() {
        return Scope::AllCustomers;
    }
    if let Some((customers, except)) = whole(grid, &hit, |a| &a.customer) {
        let except = except.into_iter().flatten().collect();
        return Scope::Customers { customers, except };
    }
    if let Some((tags, except)) = whole(grid, &hit, |a| &a.tags) {
        return Scope::Tags { tags, except };
    }
    Scope::Audiences {
        audiences: hit.into_iter().cloned().collect(),
    }
}

/// Of the values of one dimension of the grid (its customers, or its tag sets): those all of
/// whose audiences were hit, and the others, when the first cover exactly the hits.
fn whole<K: Ord + Clone>(
    grid: &[Audience],
    hit: &BTreeSet<&Audience>,
    key: impl Fn(&Audience) -> &K,
) -> Option<(Vec<K>, Vec<K>)> {
    let values: BTreeSet<&K> = grid.iter().map(&key).collect();
    let (whole, others): (Vec<&K>, Vec<&K>) = values.into_iter().partition(|value| {
        let mut audiences = grid.iter().filter(|a| key(a) == *value);
        audiences.all(|a| hit.contains(a))
    });
    let covered = grid.iter().filter(|a| whole.contains(&key(a))).count();
    let owned = |values: Vec<&K>| values.into_iter().cloned().collect();
    (covered == hit.len()).then(|| (owned(whole), owned(others)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> Vec<Audience> {
        let mut out = Vec::new();
        for c in [Some("acme"), None] {
            for t in [vec!["prod".to_owned()], vec![]] {
                out.push(Audience {
                    customer: c.map(str::to_owned),
                    tags: t,
                });
            }
        }
        out
    }

    #[test]
    fn summarises_scopes() {
        let g = grid();
        let all: BTreeSet<usize> = (0..4).collect();
        assert_eq!(summarise(&g, &all), Scope::AllCustomers);
        let acme: BTreeSet<usize> = [0, 1].into();
        assert_eq!(
            summarise(&g, &acme),
            Scope::Customers {
                customers: vec![Some("acme".into())],
                except: vec![],
            }
        );
        assert_eq!(summarise(&g, &acme).to_string(), "only customers `acme`");
        let others: BTreeSet<usize> = [2, 3].into();
        assert_eq!(
            summarise(&g, &others).to_string(),
            "all customers except `acme`"
        );
        let untagged: BTreeSet<usize> = [1, 3].into();
        assert_eq!(
            summarise(&g, &untagged).to_string(),
            "all customers except those with tag `prod`"
        );
        let prod: BTreeSet<usize> = [0, 2].into();
        assert_eq!(
            summarise(&g, &prod),
            Scope::Tags {
                tags: vec![vec!["prod".into()]],
                except: vec![vec![]],
            }
        );
        assert_eq!(
            summarise(&g, &prod).to_string(),
            "only customers with tag `prod`"
        );
        let one: BTreeSet<usize> = [3].into();
        assert_eq!(
            summarise(&g, &one).to_string(),
            "any other customer (no listed tag)"
        );
    }
}
