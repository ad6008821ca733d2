//! Hosts that exercise a host pattern: its own names and its nearest outsiders.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use egress_policy_engine::host_pattern::HostPattern;

/// Hosts that exercise one pattern: the pattern's own hosts and its nearest outsiders.
pub fn pattern_hosts(pattern: &HostPattern) -> Vec<String> {
    match pattern {
        HostPattern::Exact(name) => vec![name.clone()],
        HostPattern::Subdomains(suffix) => vec![
            suffix.clone(),
            format!("probe.{suffix}"),
            format!("deep.probe.{suffix}"),
        ],
        HostPattern::Glob(glob) => glob_hosts(glob),
        HostPattern::Ip(ip) => ip_neighbourhood(*ip, *ip),
        HostPattern::Cidr(cidr) => {
            let (first, last) = network_bounds(cidr.addr, cidr.prefix);
            ip_neighbourhood(first, last)
        }
    }
}

/// `api-*.example.com` -> `api-probe.example.com`, `api-.example.com`; a leading `*.` as one
/// and two labels.
fn glob_hosts(glob: &str) -> Vec<String> {
    let (prefixes, rest): (Vec<&str>, &str) = match glob.strip_prefix("*.") {
        Some(rest) => (vec!["probe.", "deep.probe."], rest),
        None => (vec![""], glob),
    };
    let mut out = Vec::new();
    for fill in ["probe", "p"] {
        let body = rest.replace('*', fill);
        for prefix in &prefixes {
            out.push(format!("{prefix}{body}"));
        }
    }
    out
}

/// The first and last address of a network.
fn network_bounds(addr: IpAddr, prefix: u8) -> (IpAddr, IpAddr) {
    match addr {
        IpAddr::V4(a) => {
            let host_bits = 32u32.saturating_sub(u32::from(prefix));
            let mask = u32::MAX.checked_shr(32 - host_bits).unwrap_or(0);
            let mask = if host_bits == 0 { 0 } else { mask };
            let first = u32::from(a) & !mask;
            (
                IpAddr::V4(Ipv4Addr::from(first)),
                IpAddr::V4(Ipv4Addr::from(first | mask)),
            )
        }
        IpAddr::V6(a) => {
            let host_bits = 128u32.saturating_sub(u32::from(prefix));
            let mask = if host_bits == 0 {
                0
            } else {
                u128::MAX.checked_shr(128 - host_bits).unwrap_or(0)
            };
            let first = u128::from(a) & !mask;
            (
                IpAddr::V6(Ipv6Addr::from(first)),
                IpAddr::V6(Ipv6Addr::from(first | mask)),
            )
        }
    }
}

/// The range's edges, the addresses just inside them and just outside, as URL hosts.
fn ip_neighbourhood(first: IpAddr, last: IpAddr) -> Vec<String> {
    let mut addresses = BTreeSet::new();
    match (first, last) {
        (IpAddr::V4(f), IpAddr::V4(l)) => {
            for a in edges(u32::from(f).into(), u32::from(l).into(), u32::MAX.into()) {
                if let Ok(a) = u32::try_from(a) {
                    addresses.insert(Ipv4Addr::from(a).to_string());
                }
            }
        }
        (IpAddr::V6(f), IpAddr::V6(l)) => {
            for a in edges(u128::from(f), u128::from(l), u128::MAX) {
                let ip = Ipv6Addr::from(a);
                // A mapped address is decided as IPv4; its IPv4 spelling is probed instead.
                match ip.to_ipv4_mapped() {
                    Some(v4) => addresses.insert(v4.to_string()),
                    None => addresses.insert(format!("[{ip}]")),
                };
            }
        }
        _ => {}
    }
    addresses.into_iter().collect()
}

/// Of the range `first..=last` in an address space ending at `max`: the address before it,
/// its first two, its last, and the one after it, those that exist.
fn edges(first: u128, last: u128, max: u128) -> impl Iterator<Item = u128> {
    [
        first.checked_sub(1),
        Some(first),
        first.checked_add(1).filter(|a| *a <= last),
        Some(last),
        last.checked_add(1).filter(|a| *a <= max),
    ]
    .into_iter()
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_probes_cover_edges_and_just_outside() {
        let (f, l) = network_bounds("10.0.0.0".parse().unwrap(), 8);
        assert_eq!(
            ip_neighbourhood(f, l),
            [
                "10.0.0.0",
                "10.0.0.1",
                "10.255.255.255",
                "11.0.0.0",
                "9.255.255.255"
            ]
        );
        let (f, l) = network_bounds("169.254.169.254".parse().unwrap(), 32);
        assert_eq!(
            ip_neighbourhood(f, l),
            ["169.254.169.253", "169.254.169.254", "169.254.169.255"]
        );
        let (f, l) = network_bounds("fd00::".parse().unwrap(), 8);
        let hosts = ip_neighbourhood(f, l);
        assert!(hosts.contains(&"[fd00::]".to_owned()), "{hosts:?}");
        assert!(hosts.contains(&"[fe00::]".to_owned()), "{hosts:?}");
        assert!(hosts.contains(&"[fcff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]".to_owned()));
        let (f, l) = network_bounds("0.0.0.0".parse().unwrap(), 0);
        assert_eq!(
            ip_neighbourhood(f, l),
            ["0.0.0.0", "0.0.0.1", "255.255.255.255"]
        );
        let (f, l) = network_bounds("::".parse().unwrap(), 0);
        assert_eq!(
            ip_neighbourhood(f, l),
            ["[::1]", "[::]", "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]"]
        );
    }

    #[test]
    fn glob_and_wildcard_hosts() {
        assert_eq!(
            glob_hosts("api-*.example.com"),
            ["api-probe.example.com", "api-p.example.com"]
        );
        assert_eq!(
            glob_hosts("*.ec2.*.aws.com"),
            [
                "probe.ec2.probe.aws.com",
                "deep.probe.ec2.probe.aws.com",
                "probe.ec2.p.aws.com",
                "deep.probe.ec2.p.aws.com"
            ]
        );
        assert_eq!(
            pattern_hosts(&HostPattern::Subdomains("x.com".into())),
            ["x.com", "probe.x.com", "deep.probe.x.com"]
        );
    }
}
