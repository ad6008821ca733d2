//! The fast matcher: every host pattern sorted at build time into its cheapest lookup, so the
//! work per request depends on the host's number of labels, not on the number of rules.
//!
//! - exact names: one hash map;
//! - `*.suffix`: a hash map probed with each proper label suffix of the host;
//! - in-label globs: grouped by their literal tail (`ec2.*.amazonaws.com` under
//!   `amazonaws.com`) and probed with the same suffixes; the rare glob without a literal tail
//!   is checked for every host;
//! - IPs and CIDRs: a hash map per distinct prefix length;
//! - rules without `hosts`: always candidates.
//!
//! Candidates are merged into file order, then their conditions are checked.

mod host_index;
mod ip_index;

use std::net::IpAddr;

use regex::Regex;

use crate::canonical::{CanonicalHost, CanonicalUrl};
use crate::conditions::conditions_hold;
use crate::decide::RuleSource;
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
    /// Compiled `path_regex` per rule (same indices as the rules).
    path_regexes: Vec<Option<Regex>>,
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
            path_regexes.push(match &rule.path_regex {
                Some(p) => Some(
                    crate::validate::compile_path_regex(p)
                        .map_err(|e| format!("rule `{}`: invalid path_regex: {e}", rule.id))?,
                ),
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
    fn names_ip(&self, ip: IpAddr) -> bool {
        self.matcher.ips.any(ip)
    }

    fn matching(&self, url: &CanonicalUrl, request: &Request<'_>, out: &mut Vec<usize>) {
        let mut candidates: Vec<u32> = self.matcher.always.clone();
        match &url.host {
            CanonicalHost::Domain(host) => self.matcher.hosts.candidates(host, &mut candidates),
            other => {
                if let Some(ip) = other.ip() {
                    self.matcher.ips.candidates(ip, &mut candidates);
                }
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        for index in candidates {
            let i = index as usize;
            let (Some(rule), Some(regex)) = (self.rules.get(i), self.matcher.path_regexes.get(i))
            else {
                continue;
            };
            if conditions_hold(rule, regex.as_ref(), url, request) {
                out.push(i);
            }
        }
    }
}
