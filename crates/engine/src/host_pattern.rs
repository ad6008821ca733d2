//! Host patterns (docs/policy.md): exact names, `*.suffix`, in-label globs, IPs and CIDRs.
//!
//! Parsing checks the grammar and that the pattern is written canonically; matching here is
//! the simple, obviously-correct form used by the reference decider. The fast matcher
//! (`crate::matcher`) indexes the same patterns.

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::canonical::CanonicalHost;
use crate::diagnostic::{Diagnostic, diag};

/// Longest host name DNS allows.
pub const MAX_HOST_LEN: usize = 253;
/// Longest DNS label.
pub const MAX_LABEL_LEN: usize = 63;

/// An IPv4 or IPv6 network: address with no host bits set, and a prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpCidr {
    /// The network address.
    pub addr: IpAddr,
    /// Prefix length in bits.
    pub prefix: u8,
}

impl IpCidr {
    /// Whether `ip` lies in this network (an IPv4 address never lies in an IPv6 network).
    pub fn contains(&self, ip: IpAddr) -> bool {
        // The network keeps the address's family: never equal across families.
        network_of(ip, self.prefix) == self.addr
    }
}

/// One validated entry of a rule's `hosts` list.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum HostPattern {
    /// `example.com`: that host only.
    Exact(String),
    /// `*.example.com`: every subdomain at any depth, never the apex. Holds `example.com`.
    Subdomains(String),
    /// A pattern with `*` inside labels (`api-*.example.com`), optionally with a leading
    /// any-depth `*.`. Holds the pattern text as written.
    Glob(String),
    /// A single address.
    Ip(IpAddr),
    /// A network.
    Cidr(IpCidr),
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPattern::Exact(h) | HostPattern::Glob(h) => f.write_str(h),
            HostPattern::Subdomains(s) => write!(f, "*.{s}"),
            HostPattern::Ip(ip) => write!(f, "{ip}"),
            HostPattern::Cidr(c) => write!(f, "{}/{}", c.addr, c.prefix),
        }
    }
}

impl HostPattern {
    /// Parses and validates one pattern as written in a policy: the pattern, `None` when it
    /// has errors. Errors and warnings go to `found`, spanless (the caller adds the span of
    /// the string).
    pub fn parse(text: &str, found: &mut Vec<Diagnostic>) -> Option<HostPattern> {
        if text.is_empty() {
            return diag!(EmptyHostPattern: "host pattern is empty")
                .with_label("empty")
                .fail(found);
        }
        if text.len() > MAX_HOST_LEN + 4 {
            return too_long(text).fail(found);
        }
        match parse_ip_pattern(text) {
            Some(parsed) => parsed.map_err(|d| d.push_to(found)).ok(),
            None => parse_name_pattern(text, found),
        }
    }

    /// Whether this pattern matches the canonical host (the simple form used by the reference).
    pub fn matches(&self, host: &CanonicalHost) -> bool {
        match (self, host) {
            (HostPattern::Exact(name), CanonicalHost::Domain(h)) => name == h,
            (HostPattern::Subdomains(suffix), CanonicalHost::Domain(h)) => {
                is_strict_subdomain(h, suffix)
            }
            (HostPattern::Glob(glob), CanonicalHost::Domain(h)) => glob_matches(glob, h),
            (HostPattern::Ip(ip), host) => host.ip() == Some(*ip),
            (HostPattern::Cidr(cidr), host) => host.ip().is_some_and(|ip| cidr.contains(ip)),
            _ => false,
        }
    }
}

/// Matches a host glob label by label: a leading `*.` covers one or more labels, `*` inside a
/// label covers any run of characters within that label.
pub fn glob_matches(glob: &str, host: &str) -> bool {
    let (any_depth, rest) = match glob.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, glob),
    };
    // The host has a label for each of the pattern's, and one or more in front of them
    // exactly when the pattern starts with `*.`; the pattern's labels match the host's last.
    let extra = host.split('.').count().checked_sub(rest.split('.').count());
    extra.is_some_and(|n| (n > 0) == any_depth)
        && (host.rsplit('.').zip(rest.rsplit('.'))).all(|(h, p)| crate::wildcard::matches(p, h))
}

/// Whether `host` lies under `parent` at any depth (never `parent` itself).
pub(crate) fn is_strict_subdomain(host: &str, parent: &str) -> bool {
    host.strip_suffix(parent)
        .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.'))
}

/// The labels after the last label holding a `*` (`ec2.*.amazonaws.com` -> `amazonaws.com`);
/// empty when the last label itself holds one.
pub(crate) fn literal_tail(glob: &str) -> &str {
    let after = glob.rfind('*').and_then(|star| glob.get(star..));
    let after = after.unwrap_or_default();
    after
        .find('.')
        .and_then(|dot| after.get(dot + 1..))
        .unwrap_or_default()
}

/// IP and CIDR patterns. `None` when `text` does not look like one (then it is a name).
fn parse_ip_pattern(text: &str) -> Option<Result<HostPattern, Diagnostic>> {
    let (addr_text, prefix_text) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let unbracketed = addr_text
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(addr_text);
    let looks_v6 = unbracketed.contains(':');
    let looks_v4 =
        unbracketed.contains('.') && unbracketed.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if !looks_v6 && !looks_v4 && prefix_text.is_none() {
        return None;
    }
    let Ok(addr) = unbracketed.parse::<IpAddr>() else {
        return Some(Err(diag!(InvalidIp: "`{addr_text}` is not a valid IP address")
            .with_label("invalid address")
            .with_hint("write an IPv4 dotted quad (`10.0.0.1`) or an IPv6 address (`fd00::1`), optionally with `/prefix`")));
    };
    let max_prefix: u8 = if addr.is_ipv4() { 32 } else { 128 };
    // One spelling of each prefix length: no sign, no leading zero.
    let prefix = prefix_text.map(|p| {
        let n = p.parse::<u8>().ok();
        n.filter(|n| *n <= max_prefix && n.to_string() == p)
    });
    if prefix == Some(None) {
        return Some(Err(diag!(InvalidCidr: "`{text}` is not a valid CIDR")
            .with_label("bad prefix length")
            .with_hint(format!(
                "the prefix length is a number from 0 to {max_prefix}"
            ))));
    }
    Some(ip_pattern(text, addr, prefix.flatten()))
}

/// The pattern of an address and prefix length, when `text` writes them canonically.
fn ip_pattern(text: &str, addr: IpAddr, prefix: Option<u8>) -> Result<HostPattern, Diagnostic> {
    // Requests with an IPv4-mapped IPv6 host are decided as the IPv4 address, so a mapped
    // pattern would never match: ask for the IPv4 spelling.
    let addr_mapped = match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4),
        IpAddr::V4(_) => None,
    };
    let (addr, prefix) = match (addr_mapped, prefix) {
        (Some(v4), Some(p)) if p >= 96 => (v4, Some(p - 96)),
        (Some(v4), None) => (v4, None),
        _ => (addr, prefix),
    };
    let canonical = match prefix.map(|p| (p, network_of(addr, p))) {
        Some((p, network)) if network != addr => {
            return Err(diag!(CidrHostBits: "CIDR `{text}` has host bits set")
                .with_label("host bits set")
                .with_hint(format!("write `{network}/{p}`")));
        }
        Some((p, _)) => HostPattern::Cidr(IpCidr { addr, prefix: p }),
        None => HostPattern::Ip(addr),
    };
    let spelled = canonical.to_string();
    if spelled != text {
        return Err(
            diag!(NonCanonicalIp: "IP pattern `{text}` is not canonical")
                .with_label("not in canonical form")
                .with_hint(format!("write `{spelled}`")),
        );
    }
    Ok(canonical)
}

/// The network of `addr`: its top `prefix` bits (all of them for a longer prefix).
pub(crate) fn network_of(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix.min(32)));
            IpAddr::V4(a & Ipv4Addr::from_bits(mask.unwrap_or(0)))
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix.min(128)));
            IpAddr::V6(a & Ipv6Addr::from_bits(mask.unwrap_or(0)))
        }
    }
}

/// Whether a label is one WHATWG would read as a number (so the host would be an IPv4 address).
pub fn is_numeric_label(label: &str) -> bool {
    match label
        .strip_prefix("0x")
        .or_else(|| label.strip_prefix("0X"))
    {
        Some(hex) => hex.bytes().all(|b| b.is_ascii_hexdigit()),
        None => !label.is_empty() && label.bytes().all(|b| b.is_ascii_digit()),
    }
}

fn parse_name_pattern(text: &str, found: &mut Vec<Diagnostic>) -> Option<HostPattern> {
    if text == "*" {
        return diag!(BareWildcard: "host pattern `*` matches every host")
            .with_label("bare wildcard")
            .with_hint("omit `hosts` to apply a block or pass rule to every host")
            .fail(found);
    }
    if text.contains("**") {
        return diag!(DoubleWildcard: "host pattern `{text}` contains `**`")
            .with_label("`**` is not host pattern syntax")
            .with_hint("a leading `*.` already matches subdomains at any depth; `*` inside a label matches within that label")
            .fail(found);
    }
    if let Some(bad) = text.chars().find(|c| {
        c.is_ascii() && !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '*'))
    }) {
        return diag!(InvalidHostChar: "host pattern `{text}` contains `{}`", bad.escape_default())
            .with_label("character not allowed in host names")
            .with_hint("host names use letters, digits, `-`, `_` and `.`; `*` is the wildcard")
            .fail(found);
    }
    let stripped = text.strip_suffix('.').unwrap_or(text);
    if stripped.split('.').any(str::is_empty) {
        return diag!(EmptyLabel: "host pattern `{text}` has an empty label")
            .with_label("empty label")
            .with_hint("labels are separated by single dots; remove the extra dot")
            .fail(found);
    }
    let Some(canonical) = canonical_name(stripped) else {
        return diag!(InvalidHost: "host pattern `{text}` is not a valid host name")
            .with_label("not a valid host name")
            .fail(found);
    };
    if canonical != text {
        let why = if text.ends_with('.') && stripped == canonical {
            "trailing dot"
        } else if !text.is_ascii() {
            "not punycode"
        } else if text.bytes().any(|b| b.is_ascii_uppercase()) {
            "not lower case"
        } else {
            "not canonical"
        };
        return diag!(NonCanonicalHost: "host pattern `{text}` is not canonical")
            .with_label(why)
            .with_hint(format!("write `{canonical}`"))
            .fail(found);
    }
    validate_canonical_name(text, found)
}

/// The canonical spelling of a host name pattern (lower case, UTS-46 mapped, punycode),
/// `None` when IDNA rejects it. `*` passes through untouched.
pub(crate) fn canonical_name(name: &str) -> Option<Cow<'_, str>> {
    let plain = name.bytes().all(|b| {
        b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.' | b'*')
    });
    if plain && !name.split('.').any(|l| l.starts_with("xn--")) {
        return Some(Cow::Borrowed(name));
    }
    idna::domain_to_ascii(name).ok().map(Cow::Owned)
}

fn validate_canonical_name(text: &str, found: &mut Vec<Diagnostic>) -> Option<HostPattern> {
    let errors_before = found.len();
    if text.len() > MAX_HOST_LEN {
        too_long(text).push_to(found);
    }
    if let Some(long) = text.split('.').find(|l| l.len() > MAX_LABEL_LEN) {
        diag!(LabelTooLong: "label `{long}` is longer than {MAX_LABEL_LEN} characters")
            .with_label("label too long")
            .push_to(found);
    }
    let (any_depth, body) = match text.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if text.rsplit('.').next().is_some_and(is_numeric_label) {
        let hint = match url::Host::parse(text) {
            Ok(url::Host::Ipv4(a)) => format!("write `{a}`"),
            _ => "write the address as a dotted quad or a CIDR (`10.0.0.0/8`)".to_owned(),
        };
        diag!(NumericFinalLabel: "host pattern `{text}` ends in a number")
            .with_label("a host ending in a number is an IPv4 address")
            .with_hint(hint)
            .push_to(found);
    }
    if found.len() > errors_before {
        return None;
    }
    let has_inner_wildcard = body.contains('*');
    // Patterns whose fixed part is a single label (or less) cover a whole top-level domain.
    let trailing_literal = body.rsplit('.').take_while(|l| !l.contains('*')).count();
    // Special-use names (RFC 6761, RFC 9476, ICANN's `.internal`) are not public top-level
    // domains: covering one whole (`*.localhost`, `*.internal`) is a deliberate choice.
    let special_use = any_depth && !has_inner_wildcard && SPECIAL_USE_TLDS.contains(&body);
    if (any_depth || has_inner_wildcard) && trailing_literal < 2 && !special_use {
        diag!(TldWidePattern: "host pattern `{text}` covers a whole top-level domain")
            .with_label("very broad pattern")
            .with_hint("name the registrable domain, e.g. `*.example.com`")
            .push_to(found);
    }
    Some(if has_inner_wildcard {
        HostPattern::Glob(text.to_owned())
    } else if any_depth {
        HostPattern::Subdomains(body.to_owned())
    } else {
        HostPattern::Exact(text.to_owned())
    })
}

fn too_long(text: &str) -> Diagnostic {
    diag!(PatternTooLong: "host pattern is {} bytes long", text.len())
        .with_label("too long")
        .with_hint(format!("host names have at most {MAX_HOST_LEN} characters"))
}

/// Single-label names reserved for special use, never delegated on the public internet.
pub(crate) const SPECIAL_USE_TLDS: [&str; 8] = [
    "alt",
    "example",
    "internal",
    "invalid",
    "local",
    "localhost",
    "onion",
    "test",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Severity;

    /// The pattern, its errors and its warnings.
    fn parse(text: &str) -> (Option<HostPattern>, Vec<Diagnostic>, Vec<Diagnostic>) {
        let mut found = Vec::new();
        let pattern = HostPattern::parse(text, &mut found);
        let (errors, warnings) = found
            .into_iter()
            .partition(|d| d.severity == Severity::Error);
        (pattern, errors, warnings)
    }

    #[test]
    fn literal_tails() {
        assert_eq!(literal_tail("ec2.*.amazonaws.com"), "amazonaws.com");
        assert_eq!(literal_tail("*.api-*.example.com"), "example.com");
        assert_eq!(literal_tail("example.*"), "");
    }

    #[test]
    fn tld_wide_warning_spares_special_use_names() {
        for text in ["*.com", "*.co", "api-*.com", "*.*"] {
            let (_, errors, warnings) = parse(text);
            let codes: Vec<_> = warnings.iter().map(|d| d.code.as_str()).collect();
            if errors.is_empty() {
                assert_eq!(codes, ["tld-wide-pattern"], "{text}");
            }
        }
        for text in ["*.localhost", "*.internal", "*.onion", "*.example.com"] {
            let (_, errors, warnings) = parse(text);
            assert!(
                errors.is_empty() && warnings.is_empty(),
                "{text}: {warnings:?}"
            );
        }
    }

    fn ok(text: &str) -> HostPattern {
        let (pattern, errors, _) = parse(text);
        assert!(errors.is_empty(), "{text}: {errors:?}");
        pattern.unwrap()
    }

    fn err(text: &str) -> Diagnostic {
        let (pattern, errors, _) = parse(text);
        assert!(pattern.is_none(), "{text} parsed");
        errors.into_iter().next().unwrap()
    }

    #[test]
    fn sorts_patterns_into_kinds() {
        assert_eq!(ok("example.com"), HostPattern::Exact("example.com".into()));
        assert_eq!(
            ok("*.example.com"),
            HostPattern::Subdomains("example.com".into())
        );
        assert_eq!(
            ok("api-*.example.com"),
            HostPattern::Glob("api-*.example.com".into())
        );
        assert_eq!(ok("10.0.0.0/8").to_string(), "10.0.0.0/8");
        assert_eq!(ok("fd00:ec2::254").to_string(), "fd00:ec2::254");
        assert!(matches!(ok("169.254.169.254"), HostPattern::Ip(_)));
    }

    #[test]
    fn rejects_bad_patterns_with_codes() {
        assert_eq!(err("*").code.as_str(), "bare-wildcard");
        assert_eq!(err("**.example.com").code.as_str(), "double-wildcard");
        assert_eq!(err("a..b").code.as_str(), "empty-label");
        assert_eq!(err("exa mple.com").code.as_str(), "invalid-host-char");
        assert_eq!(err("10.0.0.1/8").code.as_str(), "cidr-host-bits");
        assert_eq!(err("10.0.0.0/33").code.as_str(), "invalid-cidr");
        assert_eq!(err("999.1.1.1").code.as_str(), "invalid-ip");
        assert_eq!(err("::FFFF:1.2.3.4").code.as_str(), "non-canonical-ip");
        assert_eq!(err("*.10").code.as_str(), "numeric-final-label");
        let d = err("Malicious.com");
        assert_eq!(
            (d.code.as_str(), d.hint.as_deref()),
            ("non-canonical-host", Some("write `malicious.com`"))
        );
        assert_eq!(
            err("malicious.com.").hint.as_deref(),
            Some("write `malicious.com`")
        );
        assert_eq!(
            err("ｍalicious.com").hint.as_deref(),
            Some("write `malicious.com`")
        );
        assert_eq!(
            err("bücher.de").hint.as_deref(),
            Some("write `xn--bcher-kva.de`")
        );
    }

    #[test]
    fn warns_about_tld_wide_patterns() {
        assert_eq!(parse("*.com").2.len(), 1);
        assert_eq!(parse("example.*").2.len(), 1);
        assert!(parse("*.example.com").2.is_empty());
        assert!(parse("ec2.*.amazonaws.com").2.is_empty());
    }

    #[test]
    fn naive_matching() {
        let d = |h: &str| CanonicalHost::Domain(h.into());
        assert!(ok("*.example.com").matches(&d("a.b.example.com")));
        assert!(!ok("*.example.com").matches(&d("example.com")));
        assert!(!ok("*.example.com").matches(&d("notexample.com")));
        assert!(ok("ec2.*.amazonaws.com").matches(&d("ec2.us-east-1.amazonaws.com")));
        assert!(!ok("ec2.*.amazonaws.com").matches(&d("ec2.a.b.amazonaws.com")));
        assert!(ok("*.api-*.example.com").matches(&d("x.y.api-eu.example.com")));
        assert!(!ok("*.api-*.example.com").matches(&d("api-eu.example.com")));
        let ip = CanonicalHost::Ipv4(Ipv4Addr::new(10, 1, 2, 3));
        assert!(ok("10.0.0.0/8").matches(&ip));
        assert!(!ok("10.0.0.0/8").matches(&d("10.example.com")));
    }
}
