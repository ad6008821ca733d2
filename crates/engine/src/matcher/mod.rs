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
//! - domain lists: each list's sorted table, searched for the host (and under
//!   `match = "subdomains"` each parent domain of it); the rules naming a list are candidates
//!   when it covers the host;
//! - rules without `hosts` or `lists`: always candidates.
//!
//! Candidates are merged into file order; the decision order checks their other conditions,
//! and their path conditions per reading of the path.

mod host_index;
mod ip_index;

use std::net::IpAddr;

use regex_lite::Regex;

use crate::canonical::{CanonicalHost, CanonicalUrl};
use crate::conditions::path_fit;
use crate::decide::{Candidate, RuleSource, Via, embedded_ipv4};
use crate::decision::Action;
use crate::model::PolicyModel;
use crate::trace::PathFit;

use host_index::HostIndex;
use ip_index::IpIndex;

/// The compiled index over a policy's rules.
#[derive(Debug)]
pub(crate) struct Matcher {
    hosts: HostIndex,
    ips: IpIndex,
    always: Vec<u32>,
    /// Per domain list of the model (in its id order), the rules that name it; the tables
    /// stay in the model.
    list_rules: Vec<Vec<u32>>,
    /// Compiled `path_regex` per rule (same indices as the rules), and for block rules its
    /// case-insensitive build (a block's path conditions also hold on a case-insensitive
    /// reading).
    path_regexes: Vec<Option<(Regex, Option<Regex>)>>,
    /// Some rule has a `tags` condition.
    scopes_by_tag: bool,
}

impl Matcher {
    /// Builds the index. Fails only on what validation already rejects (a `path_regex` that
    /// does not compile, a list that is not defined or on a non-block rule): every model it is
    /// given was validated, an artefact's too (it carries its source), so these only guard
    /// against a validation bug.
    pub(crate) fn build(model: &PolicyModel) -> Result<Matcher, String> {
        let rules = &model.rules;
        let list_ids: Vec<&String> = model.lists.keys().collect();
        let mut list_rules = vec![Vec::new(); list_ids.len()];
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
            if rule.applies_to_every_host() {
                always.push(index);
            }
            for pattern in rule.hosts.iter().flatten() {
                if !ips.add(pattern, index) {
                    hosts.add(pattern, index);
                }
            }
            for id in rule.lists.iter().flatten() {
                if rule.action != Action::Block {
                    return Err(format!(
                        "rule `{}`: lists are for block rules only",
                        rule.id
                    ));
                }
                let position = list_ids
                    .binary_search(&id)
                    .map_err(|_| format!("rule `{}`: list `{id}` is not defined", rule.id))?;
                if let Some(rules) = list_rules.get_mut(position) {
                    rules.push(index);
                }
            }
            let compile = |pattern: &str, ignore_case: bool| {
                crate::validate::compile_path_regex(pattern, ignore_case)
                    .map_err(|e| format!("rule `{}`: invalid path_regex: {e}", rule.id))
            };
            // Only block rules read paths case-insensitively.
            let block = rule.action == Action::Block;
            let regexes = rule.path_regex.as_deref().map(|p| {
                Ok::<_, String>((
                    compile(p, false)?,
                    block.then(|| compile(p, true)).transpose()?,
                ))
            });
            path_regexes.push(regexes.transpose()?);
        }
        Ok(Matcher {
            hosts,
            ips,
            always,
            list_rules,
            path_regexes,
            scopes_by_tag: model.defaults.tags_required || rules.iter().any(|r| r.tags.is_some()),
        })
    }

    /// A [`RuleSource`] over the model's rules and lists.
    pub(crate) fn source<'a>(&'a self, model: &'a PolicyModel) -> FastSource<'a> {
        FastSource {
            matcher: self,
            model,
        }
    }
}

/// The matcher paired with the rules and lists it indexes.
pub(crate) struct FastSource<'a> {
    matcher: &'a Matcher,
    model: &'a PolicyModel,
}

impl RuleSource for FastSource<'_> {
    fn candidates(&self, url: &CanonicalUrl, out: &mut Vec<Candidate>) {
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
                for (list, rules) in self.model.lists.values().zip(&self.matcher.list_rules) {
                    if !rules.is_empty() && list.find(host).is_some() {
                        found.extend(rules.iter().map(|&index| (index, Via::Other)));
                    }
                }
            }
            other => {
                if let Some(ip) = other.ip() {
                    self.matcher.ips.candidates(ip, &mut indices);
                    found.extend(indices.drain(..).map(|index| (index, Via::Ip)));
                    if let IpAddr::V6(v6) = ip
                        && let Some(v4) = embedded_ipv4(v6)
                    {
                        self.matcher.ips.candidates(IpAddr::V4(v4), &mut indices);
                        found.extend(indices.drain(..).map(|index| (index, Via::EmbeddedIpv4)));
                    }
                }
            }
        }
        // By index, the strongest way each rule matched first.
        found.sort_unstable();
        found.dedup_by_key(|(index, _)| *index);
        out.extend(found.into_iter().map(|(index, via)| Candidate {
            index: index as usize,
            via,
        }));
    }

    fn path_fit(&self, index: usize, reading: &str, ignore_case: bool) -> PathFit {
        let Some(rule) = self.model.rules.get(index) else {
            return PathFit::NotInPaths;
        };
        let regex = match self.matcher.path_regexes.get(index) {
            Some(Some((sensitive, insensitive))) => match (ignore_case, insensitive) {
                (false, _) => Some(sensitive),
                (true, Some(insensitive)) => Some(insensitive),
                // Only block rules read paths case-insensitively.
                (true, None) => return PathFit::NotRegex,
            },
            Some(None) => None,
            None => return PathFit::NotInPaths,
        };
        path_fit(rule, regex, reading, ignore_case)
    }

    fn scopes_by_tag(&self) -> bool {
        self.matcher.scopes_by_tag
    }
}
