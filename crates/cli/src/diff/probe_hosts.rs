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
        HostPattern::Ip(ip) => ip_neighbourhood(*ip, 128),
        HostPattern::Cidr(cidr) => ip_neighbourhood(cidr.addr, cidr.prefix),
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

/// The edges of the network `addr/prefix` (a longer prefix is the address alone), the
/// addresses just inside them and just outside, as URL hosts.
fn ip_neighbourhood(addr: IpAddr, prefix: u8) -> Vec<String> {
    let (value, bits, max) = match addr {
        IpAddr::V4(a) => (u128::from(u32::from(a)), 32, u128::from(u32::MAX)),
        IpAddr::V6(a) => (u128::from(a), 128, u128::MAX),
    };
    let host_bits = bits - u32::from(prefix).min(bits);
    let mask = u128::MAX
        .checked_shr(128 - host_bits)
        .filter(|_| host_bits > 0)
        .unwrap_or(0);
    let first = value & !mask;
    let hosts = edges(first, first | mask, max).filter_map(|a| match addr {
        IpAddr::V4(_) => u32::try_from(a).ok().map(|a| Ipv4Addr::from(a).to_string()),
        // A mapped address is decided as IPv4; its IPv4 spelling is probed instead.
        IpAddr::V6(_) => Some(match Ipv6Addr::from(a).to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => format!("[{}]", Ipv6Addr::from(a)),
        }),
    });
    hosts.collect::<BTreeSet<String>>().into_iter().collect()
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
        assert_eq!(
            ip_neighbourhood("10.0.0.0".parse().unwrap(), 8),
            [
                "10.0.0.0",
                "10.0.0.1",
                "10.255.255.255",
                "11.0.0.0",
                "9.255.255.255"
            ]
        );
        assert_eq!(
            ip_neighbourhood("169.254.169.254".parse().unwrap(), 32),
            ["169.254.169.253", "169.254.169.254", "169.254.169.255"]
        );
        let hosts = ip_neighbourhood("fd00::".parse().unwrap(), 8);
        assert!(hosts.contains(&"[fd00::]".to_owned()), "{hosts:?}");
        assert!(hosts.contains(&"[fe00::]".to_owned()), "{hosts:?}");
        assert!(hosts.contains(&"[fcff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]".to_owned()));
        assert_eq!(
            ip_neighbourhood("0.0.0.0".parse().unwrap(), 0),
            ["0.0.0.0", "0.0.0.1", "255.255.255.255"]
        );
        assert_eq!(
            ip_neighbourhood("::".parse().unwrap(), 0),
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
