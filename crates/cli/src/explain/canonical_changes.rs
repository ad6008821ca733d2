//! What canonicalisation changed between the URL as written and the request the engine decided
//! on, step by step, so a reader sees why `ⓜalicious.com` was treated as `malicious.com`.

use egress_policy_engine::Target;
use url::{Host, Url};

/// One visible change, e.g. host `ⓜalicious.com` -> `malicious.com` (IDNA/UTS-46 mapping).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// `scheme`, `host`, `port` or `path`.
    pub part: &'static str,
    /// As written in the URL.
    pub from: String,
    /// As decided on.
    pub to: String,
    /// Which canonicalisation step did it.
    pub why: String,
}

/// The changes from `raw` to `target` (empty when the URL was already canonical).
pub fn changes(raw: &str, target: &Target) -> Vec<Change> {
    let mut out = Vec::new();
    let Ok(url) = Url::parse(raw) else {
        return out;
    };
    let parts = RawParts::split(raw);
    if parts.scheme != target.scheme {
        out.push(Change {
            part: "scheme",
            from: parts.scheme.to_owned(),
            to: target.scheme.clone(),
            why: "lower-cased".to_owned(),
        });
    }
    if parts.host != target.host {
        out.push(Change {
            part: "host",
            from: parts.host.to_owned(),
            to: target.host.clone(),
            why: host_steps(parts.host, &url, &target.host).join(", "),
        });
    }
    match parts.port {
        None => out.push(Change {
            part: "port",
            from: "(none)".to_owned(),
            to: target.port.to_string(),
            why: format!("the default port of {}", target.scheme),
        }),
        Some(port) if port != target.port.to_string() => out.push(Change {
            part: "port",
            from: port.to_owned(),
            to: target.port.to_string(),
            why: "read as a number".to_owned(),
        }),
        Some(_) => {}
    }
    let raw_path = if parts.path.is_empty() {
        "/"
    } else {
        parts.path
    };
    if raw_path != target.path {
        out.push(Change {
            part: "path",
            from: parts.path.to_owned(),
            to: target.path.clone(),
            why: path_steps(raw_path, url.path(), &target.path).join(", "),
        });
    }
    out
}

/// `raw` with the password of any userinfo replaced by `***`, for display: a URL given on the
/// command line may carry a credential, and explanations end up in terminals and CI logs.
pub fn redact_userinfo(raw: &str) -> String {
    let Some(scheme_end) = raw.find("://").map(|i| i + 3) else {
        return raw.to_owned();
    };
    let (head, rest) = raw.split_at(scheme_end);
    let authority_end = rest.find(['/', '\\', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            format!("{head}{user}{hidden}@{host}{tail}")
        }
        None => raw.to_owned(),
    }
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
        let (host, port) = if host_port.starts_with('[') {
            match host_port.find(']') {
                Some(end) => {
                    let (host, port) = host_port.split_at(end + 1);
                    (host, port.strip_prefix(':'))
                }
                None => (host_port, None),
            }
        } else {
            match host_port.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (host_port, None),
            }
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

fn host_steps(raw: &str, url: &Url, canonical: &str) -> Vec<String> {
    let mut steps = Vec::new();
    let parsed = url.host_str().unwrap_or_default();
    match url.host() {
        Some(Host::Ipv4(_)) if raw != parsed => {
            steps.push("IPv4 spelling read as a dotted quad".to_owned());
        }
        Some(Host::Ipv6(_)) if parsed != canonical => {
            steps.push("IPv4-mapped IPv6 read as the IPv4 address".to_owned());
        }
        Some(Host::Domain(_)) if raw != parsed => {
            let lowered = raw.to_ascii_lowercase();
            if lowered == parsed {
                steps.push("lower-cased".to_owned());
            } else if raw.contains('%') {
                steps.push("percent-decoded and IDNA/UTS-46 mapped".to_owned());
            } else if lowered.is_ascii() {
                steps.push("normalised by the WHATWG host parser".to_owned());
            } else {
                steps
                    .push("IDNA/UTS-46 mapped (width forms, `。`, Unicode to punycode)".to_owned());
            }
        }
        _ => {}
    }
    if parsed.ends_with('.') && !canonical.ends_with('.') {
        steps.push("trailing dot removed".to_owned());
    }
    if steps.is_empty() {
        steps.push("canonicalised".to_owned());
    }
    steps
}

fn path_steps(raw: &str, parsed: &str, canonical: &str) -> Vec<String> {
    let mut steps = Vec::new();
    if raw != parsed {
        if raw.contains('\\') {
            steps.push("backslashes read as slashes".to_owned());
        }
        let lowered = raw.to_ascii_lowercase();
        if raw.split(['/', '\\']).any(|s| s == "." || s == "..") || lowered.contains("%2e") {
            steps.push("dot segments removed".to_owned());
        }
        if steps.is_empty() {
            steps.push("percent-encoded by the URL parser".to_owned());
        }
    }
    if parsed != canonical {
        steps.push("percent-encoded unreserved characters decoded".to_owned());
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(scheme: &str, host: &str, port: u16, path: &str) -> Target {
        Target {
            scheme: scheme.into(),
            host: host.into(),
            port,
            path: path.into(),
            query: None,
        }
    }

    #[test]
    fn explains_idna_default_port_and_path_steps() {
        let c = changes(
            "https://ⓜalicious.com./a/../%61dmin?q",
            &target("https", "malicious.com", 443, "/admin"),
        );
        let shown: Vec<String> = c
            .iter()
            .map(|c| format!("{}: {} -> {} ({})", c.part, c.from, c.to, c.why))
            .collect();
        assert_eq!(
            shown,
            [
                "host: ⓜalicious.com. -> malicious.com (IDNA/UTS-46 mapped (width forms, `。`, Unicode to punycode), trailing dot removed)",
                "port: (none) -> 443 (the default port of https)",
                "path: /a/../%61dmin -> /admin (dot segments removed, percent-encoded unreserved characters decoded)",
            ]
        );
    }

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact_userinfo("https://u:secret@x.com/a@b"),
            "https://u:***@x.com/a@b"
        );
        assert_eq!(redact_userinfo("https://u@x.com/"), "https://u@x.com/");
        assert_eq!(
            redact_userinfo("https://x.com/p?q=a@b"),
            "https://x.com/p?q=a@b"
        );
        assert_eq!(redact_userinfo("not a url"), "not a url");
    }

    #[test]
    fn explains_ipv4_spellings_case_and_nothing_for_canonical_urls() {
        let c = changes(
            "http://0x7f.1:8080/",
            &target("http", "127.0.0.1", 8080, "/"),
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].why, "IPv4 spelling read as a dotted quad");
        let c = changes(
            "HTTPS://API.Example.COM:443/x",
            &target("https", "api.example.com", 443, "/x"),
        );
        assert_eq!(c[0].part, "scheme");
        assert_eq!(c[1].why, "lower-cased");
        assert_eq!(c.len(), 2);
        assert!(changes("https://a.com:443/x", &target("https", "a.com", 443, "/x")).is_empty());
        let mapped = changes(
            "http://[::ffff:7f00:1]/",
            &target("http", "127.0.0.1", 80, "/"),
        );
        assert_eq!(mapped[0].why, "IPv4-mapped IPv6 read as the IPv4 address");
    }
}
