//! The fast matcher: every host pattern sorted at build time into its cheapest lookup, so the
//! work per request depends on the host's number of labels, not on the number of rules.
//!
//! - exact names: one hash map;
//! - `*.suffix`: a hash map probed with each proper label suffix of the host;
//! - in-label globs: grouped by their literal tail (`ec2.*.amazonaws.com` under
//!   `amazonaws.com`) and probed with the same suffixes; the rare glob without a literal tail
//!   is checked for every host;
//! - IPs and CIDRs: a hash map per distinct prefix length (an IPv6 host that embeds an IPv4
//!   address is looked up under both);
//! - rules without `hosts`: always candidates.
//!
//! Candidates are merged into file order, then their conditions are checked; path conditions
//! are checked by the decision order, per reading of the path.

mod host_index;
mod ip_index;

use std::net::IpAddr;

use regex::Regex;

use crate::canonical::{CanonicalHost, CanonicalUrl};
use crate::conditions::{conditions_hold, path_conditions_hold};
use crate::decide::{Candidate, RuleSource, Via, embedded};
use crate::decision::Action;
use crate::model::Rule;
use crate::request::Request;

use host_index::HostIndex;
use ip_index::IpIndex;

/// The compiled index over a policy's rules.
#[derive(Debug)]
pub(crate) struct Matcher {
    hosts: HostIndex,
    ips: IpIndex,
    always: Vec<u32>,
    /// Compiled `path_regex` per rule (same indices as the rules), and for block rules its
    /// case-insensitive build (a block's path conditions also hold on a case-insensitive
    /// reading).
    path_regexes: Vec<Option<(Regex, Option<Regex>)>>,
}

impl Matcher {
    /// Builds the index. Fails only when a `path_regex` does not compile (validation already
    /// rejected those, so this guards artefacts built elsewhere).
    pub(crate) fn build(rules: &[Rule]) -> Result<Matcher, String> {
        let patterns = rules
            .iter()
            .map(|r| r.hosts.as_ref().map_or(0, Vec::len))
            .sum();
        let mut hosts = HostIndex::with_capacity(patterns);
        let mut ips = IpIndex::default();
        let mut always = Vec::new();
        let mut path_regexes = Vec::with_capacity(rules.len());
        for (index, rule) in rules.iter().enumerate() {
            let index = u32::try_from(index).map_err(|_| "too many rules".to_owned())?;
            match &rule.hosts {
                None => always.push(index),
                Some(patterns) => {
                    for pattern in patterns {
                        if !ips.add(pattern, index) {
                            hosts.add(pattern, index);
                        }
                    }
                }
            }
            let compile = |pattern: &str, ignore_case: bool| {
                crate::validate::compile_path_regex(pattern, ignore_case)
                    .map_err(|e| format!("rule `{}`: invalid path_regex: {e}", rule.id))
            };
            path_regexes.push(match &rule.path_regex {
                Some(p) => Some((
                    compile(p, false)?,
                    match rule.action {
                        Action::Block => Some(compile(p, true)?),
                        _ => None,
                    },
                )),
                None => None,
            });
        }
        Ok(Matcher {
            hosts,
            ips,
            always,
            path_regexes,
        })
    }

    /// A [`RuleSource`] over these rules.
    pub(crate) fn source<'a>(&'a self, rules: &'a [Rule]) -> FastSource<'a> {
        FastSource {
            matcher: self,
            rules,
        }
    }
}

/// The matcher paired with the rules it indexes.
pub(crate) struct FastSource<'a> {
    matcher: &'a Matcher,
    rules: &'a [Rule],
}

impl RuleSource for FastSource<'_> {
    fn candidates(&self, url: &CanonicalUrl, request: &Request<'_>, out: &mut Vec<Candidate>) {
        let mut found: Vec<(u32, Via)> = self
            .matcher
            .always
            .iter()
            .map(|&index| (index, Via::Other))
            .collect();
        let mut indices = Vec::new();
        match &url.host {
            CanonicalHost::Domain(host) => {
                self.matcher.hosts.candidates(host, &mut indices);
                found.extend(indices.drain(..).map(|index| (index, Via::Other)));
            }
            other => {
                if let Some(ip) = other.ip() {
                    self.matcher.ips.candidates(ip, &mut indices);
                    found.extend(indices.drain(..).map(|index| (index, Via::Ip)));
                    if let Some(v4) = embedded(ip) {
                        self.matcher.ips.candidates(IpAddr::V4(v4), &mut indices);
                        found.extend(indices.drain(..).map(|index| (index, Via::EmbeddedIpv4)));
                    }
                }
            }
        }
        // By index, the strongest way each rule matched first.
        found.sort_unstable();
        found.dedup_by_key(|(index, _)| *index);
        for (index, via) in found {
            let index = index as usize;
            if let Some(rule) = self.rules.get(index)
                && conditions_hold(rule, url, request)
            {
                out.push(Candidate { index, via });
            }
        }
    }

    fn path_holds(&self, index: usize, reading: &str, ignore_case: bool) -> bool {
        let Some(rule) = self.rules.get(index) else {
            return false;
        };
        let regex = match self.matcher.path_regexes.get(index) {
            Some(Some((sensitive, insensitive))) => match (ignore_case, insensitive) {
                (false, _) => Some(sensitive),
                (true, Some(insensitive)) => Some(insensitive),
                // Only block rules read paths case-insensitively.
                (true, None) => return false,
            },
            Some(None) => None,
            None => return false,
        };
        path_conditions_hold(rule, regex, reading, ignore_case)
    }
}
