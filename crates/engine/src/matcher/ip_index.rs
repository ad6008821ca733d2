//! IP and CIDR patterns: one hash map per distinct prefix length, probed with the address
//! masked to each length (at most 33 probes for IPv4, 129 for IPv6; in practice a handful).

use std::collections::HashMap;
use std::net::IpAddr;

use crate::host_pattern::{HostPattern, mask_v4, mask_v6};

/// Prefix length -> network bits -> rules.
type ByPrefix<K> = Vec<(u8, HashMap<K, Vec<u32>>)>;

/// IPv4 and IPv6 networks.
#[derive(Debug, Default)]
pub(super) struct IpIndex {
    v4: ByPrefix<u32>,
    v6: ByPrefix<u128>,
}

fn slot<K: std::hash::Hash + Eq>(table: &mut ByPrefix<K>, prefix: u8, key: K, rule: u32) {
    if !table.iter().any(|(p, _)| *p == prefix) {
        table.push((prefix, HashMap::new()));
    }
    if let Some((_, map)) = table.iter_mut().find(|(p, _)| *p == prefix) {
        map.entry(key).or_default().push(rule);
    }
}

impl IpIndex {
    /// Adds an IP or CIDR pattern; `false` for name patterns.
    pub(super) fn add(&mut self, pattern: &HostPattern, rule: u32) -> bool {
        let (addr, prefix) = match pattern {
            HostPattern::Ip(ip) => (*ip, if ip.is_ipv4() { 32 } else { 128 }),
            HostPattern::Cidr(c) => (c.addr, c.prefix),
            _ => return false,
        };
        match addr {
            IpAddr::V4(a) => slot(&mut self.v4, prefix, mask_v4(u32::from(a), prefix), rule),
            IpAddr::V6(a) => slot(&mut self.v6, prefix, mask_v6(u128::from(a), prefix), rule),
        }
        true
    }

    /// Appends the rules whose IP patterns contain `ip`.
    pub(super) fn candidates(&self, ip: IpAddr, out: &mut Vec<u32>) {
        match ip {
            IpAddr::V4(a) => lookup(&self.v4, |prefix| mask_v4(u32::from(a), prefix), out),
            IpAddr::V6(a) => lookup(&self.v6, |prefix| mask_v6(u128::from(a), prefix), out),
        }
    }
}

/// Appends the rules of every prefix length whose network (`network(prefix)`) is in `table`.
fn lookup<K: std::hash::Hash + Eq>(
    table: &ByPrefix<K>,
    network: impl Fn(u8) -> K,
    out: &mut Vec<u32>,
) {
    for (prefix, map) in table {
        if let Some(rules) = map.get(&network(*prefix)) {
            out.extend_from_slice(rules);
        }
    }
}
