//! IP and CIDR patterns: one hash map per distinct prefix length, probed with the address
//! masked to each length (at most 129 probes; in practice a handful).

use std::collections::HashMap;
use std::net::IpAddr;

use crate::host_pattern::{HostPattern, network_of};

/// IPv4 and IPv6 networks: prefix length -> network -> rules.
#[derive(Debug, Default)]
pub(super) struct IpIndex(Vec<(u8, HashMap<IpAddr, Vec<u32>>)>);

impl IpIndex {
    /// Adds an IP or CIDR pattern; `false` for name patterns.
    pub(super) fn add(&mut self, pattern: &HostPattern, rule: u32) -> bool {
        let (addr, prefix) = match pattern {
            HostPattern::Ip(ip) => (*ip, if ip.is_ipv4() { 32 } else { 128 }),
            HostPattern::Cidr(c) => (c.addr, c.prefix),
            _ => return false,
        };
        if !self.0.iter().any(|(p, _)| *p == prefix) {
            self.0.push((prefix, HashMap::new()));
        }
        if let Some((_, map)) = self.0.iter_mut().find(|(p, _)| *p == prefix) {
            map.entry(network_of(addr, prefix)).or_default().push(rule);
        }
        true
    }

    /// Appends the rules whose IP patterns contain `ip`: of every prefix length, those of the
    /// network `ip` is in (a network of the other family never equals it).
    pub(super) fn candidates(&self, ip: IpAddr, out: &mut Vec<u32>) {
        for (prefix, map) in &self.0 {
            if let Some(rules) = map.get(&network_of(ip, *prefix)) {
                out.extend_from_slice(rules);
            }
        }
    }
}
