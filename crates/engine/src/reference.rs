//! The naive reference decider: scans every rule in file order with the simplest matching
//! code (host globs through a regular expression each). Tests and fuzzing check the fast
//! matcher against it; it is not meant for production use.

use std::collections::HashMap;
use std::net::IpAddr;

use regex::Regex;

use crate::canonical::{CanonicalHost, CanonicalUrl};
use crate::conditions::conditions_hold;
use crate::decide::{RuleSource, decide};
use crate::decision::Decision;
use crate::host_pattern::HostPattern;
use crate::policy::CompiledPolicy;
use crate::request::Request;

/// Decides like [`CompiledPolicy::decide`], by scanning every rule.
#[derive(Debug)]
pub struct ReferenceDecider<'p> {
    policy: &'p CompiledPolicy,
    globs: HashMap<String, Regex>,
    path_regexes: Vec<Option<Regex>>,
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
                .map(regex::escape)
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

impl<'p> ReferenceDecider<'p> {
    /// Prepares the reference decider for `policy`. Patterns that fail to compile make the
    /// rule match nothing (they cannot occur in a validated policy).
    pub fn new(policy: &'p CompiledPolicy) -> ReferenceDecider<'p> {
        let mut globs = HashMap::new();
        for rule in policy.rules() {
            for pattern in rule.hosts.iter().flatten() {
                if let HostPattern::Glob(g) = pattern
                    && let Ok(re) = Regex::new(&glob_regex(g))
                {
                    globs.insert(g.clone(), re);
                }
            }
        }
        let path_regexes = policy
            .rules()
            .iter()
            .map(|r| r.path_regex.as_deref().and_then(|p| Regex::new(p).ok()))
            .collect();
        ReferenceDecider {
            policy,
            globs,
            path_regexes,
        }
    }

    /// The decision, found by scanning every rule.
    pub fn decide(&self, request: &Request<'_>) -> Decision {
        decide(self.policy.model(), self, request)
    }

    fn host_matches(&self, pattern: &HostPattern, host: &CanonicalHost) -> bool {
        match (pattern, host) {
            (HostPattern::Glob(g), CanonicalHost::Domain(h)) => {
                self.globs.get(g).is_some_and(|re| re.is_match(h))
            }
            _ => pattern.matches(host),
        }
    }
}

impl RuleSource for ReferenceDecider<'_> {
    fn names_ip(&self, ip: IpAddr) -> bool {
        let host = match ip {
            IpAddr::V4(a) => CanonicalHost::Ipv4(a),
            IpAddr::V6(a) => CanonicalHost::Ipv6(a),
        };
        self.policy
            .rules()
            .iter()
            .flat_map(|r| r.hosts.iter().flatten())
            .any(|p| p.is_ip() && p.matches(&host))
    }

    fn matching(&self, url: &CanonicalUrl, request: &Request<'_>, out: &mut Vec<usize>) {
        for (i, rule) in self.policy.rules().iter().enumerate() {
            let hosts_match = rule
                .hosts
                .as_ref()
                .is_none_or(|hs| hs.iter().any(|p| self.host_matches(p, &url.host)));
            let regex = self.path_regexes.get(i).and_then(Option::as_ref);
            if hosts_match && conditions_hold(rule, regex, url, request) {
                out.push(i);
            }
        }
    }
}
