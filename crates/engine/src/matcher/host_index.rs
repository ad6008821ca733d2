//! Host-name patterns: exact names, `*.suffix`, and globs grouped by their literal tail.

use std::collections::HashMap;

use crate::host_pattern::{HostPattern, glob_matches};

type FastMap<V> = HashMap<Box<str>, V, foldhash::fast::RandomState>;

/// Name patterns by strategy.
#[derive(Debug, Default)]
pub(super) struct HostIndex {
    exact: FastMap<Vec<u32>>,
    subdomains: FastMap<Vec<u32>>,
    globs_by_tail: FastMap<Vec<(u32, Box<str>)>>,
    tailless_globs: Vec<(u32, Box<str>)>,
}

impl HostIndex {
    /// Adds a name pattern (IP patterns are the IP index's).
    pub(super) fn add(&mut self, pattern: &HostPattern, rule: u32) {
        match pattern {
            HostPattern::Exact(name) => self
                .exact
                .entry(name.as_str().into())
                .or_default()
                .push(rule),
            HostPattern::Subdomains(suffix) => self
                .subdomains
                .entry(suffix.as_str().into())
                .or_default()
                .push(rule),
            HostPattern::Glob(glob) => match literal_tail(glob) {
                Some(tail) => self
                    .globs_by_tail
                    .entry(tail.into())
                    .or_default()
                    .push((rule, glob.as_str().into())),
                None => self.tailless_globs.push((rule, glob.as_str().into())),
            },
            HostPattern::Ip(_) | HostPattern::Cidr(_) => {}
        }
    }

    /// Appends the rules whose name patterns match `host` (unordered, maybe repeated).
    pub(super) fn candidates(&self, host: &str, out: &mut Vec<u32>) {
        if let Some(rules) = self.exact.get(host) {
            out.extend_from_slice(rules);
        }
        // Every proper suffix that starts after a dot: `a.b.c` -> `b.c`, `c`.
        let mut rest = host;
        while let Some(dot) = rest.find('.') {
            rest = rest.get(dot + 1..).unwrap_or("");
            if let Some(rules) = self.subdomains.get(rest) {
                out.extend_from_slice(rules);
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

/// The labels after the last label holding a `*` (`ec2.*.amazonaws.com` -> `amazonaws.com`);
/// `None` when the last label itself holds one.
fn literal_tail(glob: &str) -> Option<&str> {
    let star = glob.rfind('*')?;
    let after = glob.get(star..)?;
    let dot = after.find('.')?;
    after.get(dot + 1..).filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails() {
        assert_eq!(literal_tail("ec2.*.amazonaws.com"), Some("amazonaws.com"));
        assert_eq!(literal_tail("*.api-*.example.com"), Some("example.com"));
        assert_eq!(literal_tail("example.*"), None);
    }
}
