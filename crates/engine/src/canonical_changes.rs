//! What canonicalisation changed between the URL as written and the request decided on, part
//! by part, with the steps that did it: why `ⓜalicious.com` was treated as `malicious.com`.
//! Made only when a decision is traced.

use url::{Host, Url};

use crate::decision::Target;
use crate::trace::Change;

/// The changes from `raw`, which parsed as `url`, to `target` (none when `raw` was canonical).
pub(crate) fn changes(raw: &str, url: &Url, target: &Target) -> Vec<Change> {
    let written = RawParts::split(raw);
    let port = target.port.to_string();
    // A path written empty is `/`, no change.
    let path = Some(written.path).filter(|p| !p.is_empty()).unwrap_or("/");
    let parts = [
        ("scheme", written.scheme, written.scheme, &*target.scheme),
        ("host", written.host, written.host, &*target.host),
        (
            "port",
            written.port.unwrap_or("(none)"),
            written.port.unwrap_or(""),
            &*port,
        ),
        ("path", written.path, path, &*target.path),
    ];
    let why = |part| match part {
        "scheme" => "lower-cased".to_owned(),
        "host" => host_steps(written.host, url, &target.host).join(", "),
        "port" if written.port.is_none() => format!("the default port of {}", target.scheme),
        "port" => "read as a number".to_owned(),
        _ => path_steps(path, url.path(), &target.path).join(", "),
    };
    let changed = parts
        .into_iter()
        .filter(|(_, _, compared, to)| compared != to);
    let changes = changed.map(|(part, from, _, to)| Change {
        part,
        from: from.to_owned(),
        to: to.to_owned(),
        why: why(part),
    });
    changes.collect()
}

/// The URL's parts as written, before any parsing rule applies.
struct RawParts<'a> {
    scheme: &'a str,
    host: &'a str,
    port: Option<&'a str>,
    path: &'a str,
}

impl<'a> RawParts<'a> {
    fn split(raw: &'a str) -> RawParts<'a> {
        let raw = raw.trim();
        let (scheme, rest) = raw.split_once(':').unwrap_or(("", raw));
        let rest = rest.trim_start_matches(['/', '\\']);
        let authority_end = rest.find(['/', '\\', '?', '#']).unwrap_or(rest.len());
        let (authority, after) = rest.split_at(authority_end);
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let (host, port) = match host_port.find(']') {
            Some(end) if host_port.starts_with('[') => {
                let (host, port) = host_port.split_at(end + 1);
                (host, port.strip_prefix(':'))
            }
            _ if host_port.starts_with('[') => (host_port, None),
            _ => match host_port.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (host_port, None),
            },
        };
        let path_end = after.find(['?', '#']).unwrap_or(after.len());
        RawParts {
            scheme,
            host,
            port: port.filter(|p| !p.is_empty()),
            path: after.get(..path_end).unwrap_or(after),
        }
    }
}

fn host_steps(raw: &str, url: &Url, canonical: &str) -> Vec<&'static str> {
    let mut steps = Vec::new();
    let parsed = url.host_str().unwrap_or_default();
    match url.host() {
        Some(Host::Ipv4(_)) if raw != parsed => steps.push("IPv4 spelling read as a dotted quad"),
        Some(Host::Ipv6(_)) if parsed != canonical => {
            steps.push("IPv4-mapped IPv6 read as the IPv4 address");
        }
        Some(Host::Domain(_)) if raw != parsed => {
            let lowered = raw.to_ascii_lowercase();
            steps.push(if lowered == parsed {
                "lower-cased"
            } else if raw.contains('%') {
                "percent-decoded and IDNA/UTS-46 mapped"
            } else if lowered.is_ascii() {
                "normalised by the WHATWG host parser"
            } else {
                "IDNA/UTS-46 mapped (width forms, `。`, Unicode to punycode)"
            });
        }
        _ => {}
    }
    if parsed.ends_with('.') && !canonical.ends_with('.') {
        steps.push("trailing dot removed");
    }
    if steps.is_empty() {
        steps.push("canonicalised");
    }
    steps
}

fn path_steps(raw: &str, parsed: &str, canonical: &str) -> Vec<&'static str> {
    let mut steps = Vec::new();
    if raw != parsed {
        if raw.contains('\\') {
            steps.push("backslashes read as slashes");
        }
        let lowered = raw.to_ascii_lowercase();
        if raw.split(['/', '\\']).any(|s| s == "." || s == "..") || lowered.contains("%2e") {
            steps.push("dot segments removed");
        }
        if steps.is_empty() {
            steps.push("percent-encoded by the URL parser");
        }
    }
    if parsed != canonical {
        steps.push("percent-encoded unreserved characters decoded");
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(raw: &str, target: (&str, &str, u16, &str)) -> Vec<String> {
        let (scheme, host, port, path) = target;
        let target = Target {
            scheme: scheme.into(),
            host: host.into(),
            port,
            path: path.into(),
            query: None,
        };
        changes(raw, &Url::parse(raw).unwrap(), &target)
            .iter()
            .map(|c| format!("{}: {} -> {} ({})", c.part, c.from, c.to, c.why))
            .collect()
    }

    #[test]
    fn explains_idna_default_port_and_path_steps() {
        assert_eq!(
            shown(
                "https://ⓜalicious.com./a/../%61dmin?q",
                ("https", "malicious.com", 443, "/admin")
            ),
            [
                "host: ⓜalicious.com. -> malicious.com (IDNA/UTS-46 mapped (width forms, `。`, Unicode to punycode), trailing dot removed)",
                "port: (none) -> 443 (the default port of https)",
                "path: /a/../%61dmin -> /admin (dot segments removed, percent-encoded unreserved characters decoded)",
            ]
        );
    }

    #[test]
    fn explains_ipv4_spellings_case_and_nothing_for_canonical_urls() {
        assert_eq!(
            shown("http://0x7f.1:8080/", ("http", "127.0.0.1", 8080, "/")),
            ["host: 0x7f.1 -> 127.0.0.1 (IPv4 spelling read as a dotted quad)"]
        );
        assert_eq!(
            shown(
                "HTTPS://API.Example.COM:443/x",
                ("https", "api.example.com", 443, "/x")
            ),
            [
                "scheme: HTTPS -> https (lower-cased)",
                "host: API.Example.COM -> api.example.com (lower-cased)"
            ]
        );
        assert!(shown("https://a.com:443/x", ("https", "a.com", 443, "/x")).is_empty());
        assert_eq!(
            shown("http://[::ffff:7f00:1]/", ("http", "127.0.0.1", 80, "/")),
            [
                "host: [::ffff:7f00:1] -> 127.0.0.1 (IPv4-mapped IPv6 read as the IPv4 address)",
                "port: (none) -> 80 (the default port of http)"
            ]
        );
    }
}
