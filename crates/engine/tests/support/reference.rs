//! The naive reference decider: scans every rule in file order with the simplest matching
//! code (host globs through a regular expression each). Tests and fuzzing check the fast
//! matcher against it; it is not meant for production use.

use std::collections::{HashMap, HashSet};

use regex_lite::Regex;

use crate::canonical::{CanonicalHost, CanonicalUrl};
use crate::decide::{Candidate, RuleSource, Via, decide, embedded_ipv4};
use crate::decision::{Action, Decision};
use crate::domain_list::ListMatch;
use crate::host_pattern::HostPattern;
use crate::policy::CompiledPolicy;
use crate::request::Request;
use crate::trace::{NoTrace, PathFit};

/// Decides like [`CompiledPolicy::decide`], by scanning every rule.
#[derive(Debug)]
pub struct ReferenceDecider<'p> {
    policy: &'p CompiledPolicy,
    globs: HashMap<String, Regex>,
    /// Per rule: each path glob as a regular expression, case-sensitive and not.
    path_globs: Vec<Vec<(Regex, Regex)>>,
    /// Per rule: `path_regex`, case-sensitive and not.
    path_regexes: Vec<Option<(Regex, Regex)>>,
    /// Per list id: every listed name in a hash set, and whether it covers subdomains.
    lists: HashMap<String, (HashSet<String>, bool)>,
}

/// A host glob as a regular expression: a leading `*.` is one or more labels, `*` elsewhere
/// any run of non-dot characters.
pub fn glob_regex(glob: &str) -> String {
    let (any_depth, rest) = match glob.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, glob),
    };
    let body: Vec<String> = rest
        .split('.')
        .map(|label| {
            label
                .split('*')
                .map(regex_lite::escape)
                .collect::<Vec<_>>()
                .join("[^.]*")
        })
        .collect();
    format!(
        "^{}{}$",
        if any_depth { r"(?:[^.]+\.)+" } else { "" },
        body.join(r"\.")
    )
}

/// A path glob as a regular expression: a `**` segment is any number of whole segments, `*`
/// any run of non-slash characters; with `ignore_case`, ASCII letters match either case.
pub fn path_glob_regex(glob: &str, ignore_case: bool) -> String {
    let literal = |text: &str| -> String {
        text.chars()
            .map(|c| {
                if ignore_case && c.is_ascii_alphabetic() {
                    format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())
                } else {
                    regex_lite::escape(&c.to_string())
                }
            })
            .collect()
    };
    let body: String = glob
        .split('/')
        .skip(1)
        .map(|segment| match segment {
            "**" => "(?:/[^/]*)*".to_owned(),
            _ => format!(
                "/{}",
                segment
                    .split('*')
                    .map(literal)
                    .collect::<Vec<_>>()
                    .join("[^/]*")
            ),
        })
        .collect();
    format!("^{body}$")
}

impl<'p> ReferenceDecider<'p> {
    /// Prepares the reference decider for `policy`. Patterns that fail to compile make the
    /// rule match nothing (they cannot occur in a validated policy).
    pub fn new(policy: &'p CompiledPolicy) -> ReferenceDecider<'p> {
        let mut globs = HashMap::new();
        for rule in &policy.model().rules {
            for pattern in rule.hosts.iter().flatten() {
                if let HostPattern::Glob(g) = pattern
                    && let Ok(re) = Regex::new(&glob_regex(g))
                {
                    globs.insert(g.clone(), re);
                }
            }
        }
        let both = |sensitive: Result<Regex, regex_lite::Error>,
                    insensitive: Result<Regex, regex_lite::Error>| {
            sensitive.ok().zip(insensitive.ok())
        };
        let path_globs = policy
            .model()
            .rules
            .iter()
            .map(|r| {
                r.paths
                    .iter()
                    .flatten()
                    .filter_map(|g| {
                        both(
                            Regex::new(&path_glob_regex(g.as_str(), false)),
                            Regex::new(&path_glob_regex(g.as_str(), true)),
                        )
                    })
                    .collect()
            })
            .collect();
        let path_regexes = policy
            .model()
            .rules
            .iter()
            .map(|r| {
                r.path_regex.as_deref().and_then(|p| {
                    both(
                        Regex::new(p),
                        regex_lite::RegexBuilder::new(p)
                            .case_insensitive(true)
                            .build(),
                    )
                })
            })
            .collect();
        let lists = policy
            .model()
            .lists
            .values()
            .map(|list| {
                let names = list.domains.iter().collect();
                (
                    list.id.clone(),
                    (names, list.matching == ListMatch::Subdomains),
                )
            })
            .collect();
        ReferenceDecider {
            policy,
            globs,
            path_globs,
            path_regexes,
            lists,
        }
    }

    /// The decision, found by scanning every rule.
    pub fn decide(&self, request: &Request<'_>) -> Decision {
        decide(self.policy.model(), self, request, &mut NoTrace)
    }

    /// Whether list `id` covers `host`: the host is listed, or (subdomains) one of the names
    /// left after dropping its leading labels one by one is.
    fn list_matches(&self, id: &str, host: &CanonicalHost) -> bool {
        let (CanonicalHost::Domain(host), Some((names, subdomains))) = (host, self.lists.get(id))
        else {
            return false;
        };
        let mut rest = host.as_str();
        loop {
            if names.contains(rest) {
                return true;
            }
            match rest.split_once('.') {
                Some((_, parent)) if *subdomains => rest = parent,
                _ => return false,
            }
        }
    }

    /// How `pattern` matches `host`, if it does.
    fn host_matches(&self, pattern: &HostPattern, host: &CanonicalHost) -> Option<Via> {
        let matched = match (pattern, host) {
            (HostPattern::Glob(g), CanonicalHost::Domain(h)) => {
                self.globs.get(g).is_some_and(|re| re.is_match(h))
            }
            _ => pattern.matches(host),
        };
        if matched {
            return Some(
                if matches!(pattern, HostPattern::Ip(_) | HostPattern::Cidr(_)) {
                    Via::Ip
                } else {
                    Via::Other
                },
            );
        }
        let CanonicalHost::Ipv6(v6) = host else {
            return None;
        };
        embedded_ipv4(*v6)
            .filter(|v4| pattern.matches(&CanonicalHost::Ipv4(*v4)))
            .map(|_| Via::EmbeddedIpv4)
    }
}

impl RuleSource for ReferenceDecider<'_> {
    fn candidates(&self, url: &CanonicalUrl, out: &mut Vec<Candidate>) {
        for (index, rule) in self.policy.model().rules.iter().enumerate() {
            let via = if rule.applies_to_every_host() {
                Some(Via::Other)
            } else {
                let by_pattern = rule
                    .hosts
                    .iter()
                    .flatten()
                    .filter_map(|p| self.host_matches(p, &url.host))
                    .min();
                let by_list = rule
                    .lists
                    .iter()
                    .flatten()
                    .any(|id| self.list_matches(id, &url.host))
                    .then_some(Via::Other);
                by_pattern.into_iter().chain(by_list).min()
            };
            if let Some(via) = via {
                out.push(Candidate { index, via });
            }
        }
    }

    fn path_fit(&self, index: usize, reading: &str, ignore_case: bool) -> PathFit {
        let Some(rule) = self.policy.model().rules.get(index) else {
            return PathFit::NotInPaths;
        };
        if ignore_case && rule.action != Action::Block {
            return PathFit::NotInPaths;
        }
        let pick = |(sensitive, insensitive): &(Regex, Regex)| {
            if ignore_case {
                insensitive.is_match(reading)
            } else {
                sensitive.is_match(reading)
            }
        };
        let globs = self.path_globs.get(index).map(|g| g.iter().position(pick));
        let glob = match (&rule.paths, globs) {
            (None, _) => None,
            (Some(_), Some(Some(glob))) => Some(glob),
            (Some(_), _) => return PathFit::NotInPaths,
        };
        match self.path_regexes.get(index) {
            Some(Some(regex)) if !pick(regex) => PathFit::NotRegex,
            _ => PathFit::Holds(glob),
        }
    }

    fn scopes_by_tag(&self) -> bool {
        self.policy.model().rules.iter().any(|r| r.tags.is_some())
    }
}
