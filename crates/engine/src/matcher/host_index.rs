//! Host-name patterns: exact names, `*.suffix`, and globs grouped by their literal tail.

use std::collections::HashMap;

use crate::host_pattern::{HostPattern, glob_matches, literal_tail};

type FastMap<V> = HashMap<Box<str>, V, foldhash::fast::RandomState>;

/// The rules sharing one key: nearly always a single rule, kept without an allocation.
#[derive(Debug)]
enum RuleList {
    One(u32),
    Many(Vec<u32>),
}

impl RuleList {
    fn push(&mut self, rule: u32) {
        match self {
            RuleList::One(first) => *self = RuleList::Many(vec![*first, rule]),
            RuleList::Many(rules) => rules.push(rule),
        }
    }

    fn as_slice(&self) -> &[u32] {
        match self {
            RuleList::One(rule) => std::slice::from_ref(rule),
            RuleList::Many(rules) => rules,
        }
    }
}

fn add_to(map: &mut FastMap<RuleList>, key: &str, rule: u32) {
    match map.get_mut(key) {
        Some(rules) => rules.push(rule),
        None => {
            map.insert(key.into(), RuleList::One(rule));
        }
    }
}

/// Name patterns by strategy.
#[derive(Debug, Default)]
pub(super) struct HostIndex {
    exact: FastMap<RuleList>,
    subdomains: FastMap<RuleList>,
    globs_by_tail: FastMap<Vec<(u32, Box<str>)>>,
    tailless_globs: Vec<(u32, Box<str>)>,
}

impl HostIndex {
    /// An empty index sized for about `patterns` name patterns.
    pub(super) fn with_capacity(patterns: usize) -> HostIndex {
        HostIndex {
            exact: FastMap::with_capacity_and_hasher(patterns, Default::default()),
            subdomains: FastMap::with_capacity_and_hasher(patterns / 2, Default::default()),
            ..HostIndex::default()
        }
    }

    /// Adds a name pattern (IP patterns are the IP index's).
    pub(super) fn add(&mut self, pattern: &HostPattern, rule: u32) {
        match pattern {
            HostPattern::Exact(name) => add_to(&mut self.exact, name, rule),
            HostPattern::Subdomains(suffix) => add_to(&mut self.subdomains, suffix, rule),
            HostPattern::Glob(glob) => match literal_tail(glob) {
                "" => self.tailless_globs.push((rule, glob.as_str().into())),
                tail => self
                    .globs_by_tail
                    .entry(tail.into())
                    .or_default()
                    .push((rule, glob.as_str().into())),
            },
            HostPattern::Ip(_) | HostPattern::Cidr(_) => {}
        }
    }

    /// Appends the rules whose name patterns match `host` (unordered, maybe repeated).
    pub(super) fn candidates(&self, host: &str, out: &mut Vec<u32>) {
        if let Some(rules) = self.exact.get(host) {
            out.extend_from_slice(rules.as_slice());
        }
        // Every proper suffix that starts after a dot: `a.b.c` -> `b.c`, `c`.
        for (dot, _) in host.bytes().enumerate().filter(|&(_, b)| b == b'.') {
            let rest = host.get(dot + 1..).unwrap_or("");
            if let Some(rules) = self.subdomains.get(rest) {
                out.extend_from_slice(rules.as_slice());
            }
            if let Some(globs) = self.globs_by_tail.get(rest) {
                out.extend(
                    globs
                        .iter()
                        .filter(|(_, g)| glob_matches(g, host))
                        .map(|(r, _)| *r),
                );
            }
        }
        out.extend(
            self.tailless_globs
                .iter()
                .filter(|(_, g)| glob_matches(g, host))
                .map(|(r, _)| *r),
        );
    }
}
