//! The probe set: representative requests drawn from the rules of both policies.

use std::collections::{BTreeMap, BTreeSet};

use egress_policy_engine::CompiledPolicy;
use egress_policy_engine::canonical::{CanonicalHost, canonicalise};
use egress_policy_engine::model::Rule;
use serde::Serialize;

use super::list_probes::list_hosts;
use super::path_samples::{glob_samples, regex_samples};
use super::probe_hosts::pattern_hosts;

/// Hosts standing for "every other host", as written in a URL: a host name that no policy is
/// expected to mention, an IPv4 address of TEST-NET-1 and an IPv6 address of the
/// documentation prefix.
const OTHER_HOSTS: [&str; 3] = ["egress-probe.example", "192.0.2.1", "[2001:db8::1]"];
/// A customer name standing for "every customer neither policy names".
const OTHER_CUSTOMER: &str = "egress-probe-customer";
/// Methods tried, in order, for "a method no rule lists".
const METHODS: [&str; 9] = [
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "CONNECT",
];
/// Ports tried, in order, for "a port no rule lists".
const OTHER_PORTS: [u16; 4] = [8443, 8080, 8000, 9443];
/// A path that stands for "every other path".
const OTHER_PATH: &str = "/egress-probe";

/// Which of the two policies a pattern came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    /// The policy before the change.
    Old,
    /// The policy after the change.
    New,
}

impl Side {
    /// `old` or `new`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Old => "old",
            Side::New => "new",
        }
    }
}

/// Who makes a probe request.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Audience {
    /// A customer named in either policy, or `None` for "every other customer".
    pub customer: Option<String>,
    /// Tags named in either policy: none, one, or all of them together (tags are the one
    /// many-valued input: a customer with two tags can match two rules at once).
    pub tags: Vec<String>,
}

/// The request line of a probe.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct RequestShape {
    /// HTTP method.
    pub method: String,
    /// `http` or `https`.
    pub scheme: &'static str,
    /// Explicit port.
    pub port: u16,
    /// Canonical path.
    pub path: String,
}

/// One probe host with every request shape and audience tried on it.
#[derive(Clone, Debug)]
pub struct HostProbe {
    /// As written in a URL (IPv6 in brackets).
    pub host: String,
    /// The patterns it was drawn from, e.g. `*.example.com` (old).
    pub origins: BTreeSet<(String, Side)>,
    /// Method, scheme, port and path combinations.
    pub requests: Vec<RequestShape>,
    /// Customer and tag combinations.
    pub audiences: Vec<Audience>,
}

/// Every probe for two policies.
#[derive(Clone, Debug)]
pub struct ProbeSet {
    /// Per host, the requests and audiences tried.
    pub hosts: Vec<HostProbe>,
    /// The customer name used for [`Audience`]s without a named customer.
    pub other_customer: String,
}

impl ProbeSet {
    /// How many requests are decided (under each policy).
    pub fn len(&self) -> usize {
        let hosts = self.hosts.iter();
        hosts.map(|h| h.requests.len() * h.audiences.len()).sum()
    }
}

/// The probe set for two policies.
pub fn probes(old: &CompiledPolicy, new: &CompiledPolicy) -> ProbeSet {
    let mut hosts: BTreeMap<String, BTreeSet<(String, Side)>> = BTreeMap::new();
    let sides = [(Side::Old, old), (Side::New, new)];
    for (side, policy) in sides {
        let rules = &policy.model().rules;
        for pattern in rules.iter().flat_map(|r| r.hosts.iter().flatten()) {
            let origin = (pattern.to_string(), side);
            for host in pattern_hosts(pattern) {
                hosts.entry(host).or_default().insert(origin.clone());
            }
        }
    }
    for (host, origin, side) in list_hosts(old, new) {
        hosts.entry(host).or_default().insert((origin, side));
    }
    for other in OTHER_HOSTS {
        hosts.entry(other.to_owned()).or_default();
    }
    let rules = || {
        sides
            .into_iter()
            .flat_map(|(_, p)| p.model().rules.iter().map(move |r| (p, r)))
    };
    // Only rules with conditions add probe values beyond the host, so only they are checked
    // against each host: a policy of many plain host rules stays linear in its size.
    let conditional: Vec<(&CompiledPolicy, &Rule)> =
        rules().filter(|(_, r)| has_conditions(r)).collect();
    let hosts = hosts.into_iter().filter_map(|(host, origins)| {
        let canonical = canonicalise(&format!("https://{host}/")).ok()?.host;
        let relevant = conditional
            .iter()
            .filter(|(p, r)| applies_to(p, r, &canonical));
        let relevant: Vec<&Rule> = relevant.map(|(_, r)| *r).collect();
        let (requests, audiences) = (request_shapes(&relevant), audiences(&relevant));
        Some(HostProbe {
            host,
            origins,
            requests,
            audiences,
        })
    });
    let other_customer = unnamed_customer(rules().map(|(_, r)| r));
    ProbeSet {
        hosts: hosts.collect(),
        other_customer,
    }
}

/// The customer name standing for "any other customer": one neither policy names.
fn unnamed_customer<'r>(rules: impl Iterator<Item = &'r Rule>) -> String {
    let named = rules.flat_map(|r| r.customers.iter().flatten());
    let named: BTreeSet<&str> = named.map(String::as_str).collect();
    let mut name = OTHER_CUSTOMER.to_owned();
    while named.contains(name.as_str()) {
        name.push('-');
    }
    name
}

fn has_conditions(rule: &Rule) -> bool {
    rule.effective_schemes().is_some()
        || rule.effective_ports().is_some()
        || rule.methods.is_some()
        || rule.paths.is_some()
        || rule.path_regex.is_some()
        || rule.customers.is_some()
        || rule.tags.is_some()
}

fn applies_to(policy: &CompiledPolicy, rule: &Rule, host: &CanonicalHost) -> bool {
    rule.applies_to_every_host()
        || rule.hosts.iter().flatten().any(|p| p.matches(host))
        || matches!(host, CanonicalHost::Domain(name) if policy.rule_list_match(rule, name).is_some())
}

/// Every combination of the methods, schemes, ports and paths the relevant rules list, each
/// dimension with one value outside the lists; dimensions no rule constrains get one value.
fn request_shapes(rules: &[&Rule]) -> Vec<RequestShape> {
    let methods = rules.iter().flat_map(|r| r.methods.iter().flatten());
    let methods = with_outside("GET", &methods.map(String::as_str).collect(), &METHODS);
    let ports = rules.iter().filter_map(|r| r.effective_ports());
    let ports: BTreeSet<u16> = ports.flatten().copied().collect();
    let either = |r: &&Rule| r.effective_schemes().is_some() || r.effective_ports().is_some();
    let schemes = match rules.iter().any(either) {
        true => vec![("https", 443), ("http", 80)],
        false => vec![("https", 443)],
    };
    let mut paths = vec!["/".to_owned()];
    let by_path = |r: &&Rule| r.paths.is_some() || r.path_regex.is_some();
    if rules.iter().any(by_path) {
        paths.push(OTHER_PATH.to_owned());
        for rule in rules {
            let globs = rule.paths.iter().flatten();
            paths.extend(globs.flat_map(|glob| glob_samples(&glob.to_string())));
            paths.extend(rule.path_regex.iter().flat_map(|r| regex_samples(r)));
        }
    }
    dedup(&mut paths);
    let mut shapes = Vec::new();
    for (scheme, default_port) in schemes {
        for port in with_outside(default_port, &ports, &OTHER_PORTS) {
            for (method, path) in methods.iter().flat_map(|m| paths.iter().map(|p| (*m, p))) {
                let (method, path) = (method.to_owned(), path.clone());
                shapes.push(RequestShape {
                    method,
                    scheme,
                    port,
                    path,
                });
            }
        }
    }
    shapes
}

/// `first`, then (when any are listed) the `listed` values and the first of `others` outside
/// them: each value once, in that order.
fn with_outside<T: Ord + Copy>(first: T, listed: &BTreeSet<T>, others: &[T]) -> Vec<T> {
    let mut values = vec![first];
    if !listed.is_empty() {
        values.extend(listed.iter().copied());
        values.extend(others.iter().find(|v| !listed.contains(v)).copied());
    }
    dedup(&mut values);
    values
}

/// The named customers of the relevant rules each alone plus "anyone else", crossed with no
/// tag, each named tag alone, and all named tags together.
fn audiences(rules: &[&Rule]) -> Vec<Audience> {
    let customers = rules.iter().flat_map(|r| r.customers.iter().flatten());
    let customers: BTreeSet<&String> = customers.collect();
    let tags: BTreeSet<&String> = rules.iter().flat_map(|r| r.tags.iter().flatten()).collect();
    let mut tag_sets: Vec<Vec<String>> = vec![Vec::new()];
    tag_sets.extend(tags.iter().map(|t| vec![(*t).clone()]));
    if tags.len() > 1 {
        tag_sets.push(tags.iter().map(|t| (*t).clone()).collect());
    }
    let mut out = Vec::new();
    for customer in customers.iter().map(|c| Some((*c).clone())).chain([None]) {
        for tags in &tag_sets {
            out.push(Audience {
                customer: customer.clone(),
                tags: tags.clone(),
            });
        }
    }
    out
}

fn dedup<T: Ord + Clone>(values: &mut Vec<T>) {
    let mut seen = BTreeSet::new();
    values.retain(|v| seen.insert(v.clone()));
}
