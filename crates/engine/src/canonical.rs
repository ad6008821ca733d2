//! Request canonicalisation (docs/policy.md, "Request canonicalisation").
//!
//! The URL is parsed with WHATWG rules (the `url` crate: the rules the Workers runtime used),
//! which already lower-cases and IDNA-maps the host, reads every IPv4 spelling, turns `\` into
//! `/` and removes dot segments (`%2e%2e` included). On top of that: one trailing dot is
//! removed from the host, IPv4-mapped IPv6 becomes IPv4, and percent-encoded unreserved
//! characters in the path are decoded (RFC 3986 6.2.2.2).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use crate::canonical_changes::changes;
use crate::decision::{Refusal, Target};
use crate::path_decoding::percent_byte;
use crate::trace::{Event, NoTrace, Tracer};

/// The canonical host of a request.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CanonicalHost {
    /// A domain name: lower case, punycode, no trailing dot, no empty labels.
    Domain(String),
    /// An IPv4 address (also IPv4-mapped IPv6).
    Ipv4(Ipv4Addr),
    /// An IPv6 address.
    Ipv6(Ipv6Addr),
}

impl CanonicalHost {
    /// The address of an IP-literal host.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            CanonicalHost::Domain(_) => None,
            CanonicalHost::Ipv4(a) => Some(IpAddr::V4(*a)),
            CanonicalHost::Ipv6(a) => Some(IpAddr::V6(*a)),
        }
    }
}

impl fmt::Display for CanonicalHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CanonicalHost::Domain(d) => f.write_str(d),
            CanonicalHost::Ipv4(a) => write!(f, "{a}"),
            CanonicalHost::Ipv6(a) => write!(f, "[{a}]"),
        }
    }
}

/// A supported request scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// `http`
    Http,
    /// `https`
    Https,
}

named!(
    /// The lower-case name.
    pub fn as_str for Scheme { Http = "http", Https = "https" }
);

impl Scheme {
    /// The scheme's default port.
    pub(crate) fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// A request URL after canonicalisation: what rules are matched against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CanonicalUrl {
    /// `http` or `https`.
    pub scheme: Scheme,
    /// The canonical host.
    pub host: CanonicalHost,
    /// Explicit port or the scheme's default.
    pub port: u16,
    /// Dot segments removed, unreserved `%XX` decoded, other escapes upper-cased.
    pub path: String,
    /// The query without `?`.
    pub query: Option<String>,
}

impl CanonicalUrl {
    /// The [`Target`] reported in decisions, without copying.
    pub fn into_target(self) -> Target {
        Target {
            scheme: self.scheme.as_str().to_owned(),
            host: match self.host {
                CanonicalHost::Domain(d) => d,
                other => other.to_string(),
            },
            port: self.port,
            path: self.path,
            query: self.query,
        }
    }

    /// The [`Target`] reported in decisions.
    pub fn target(&self) -> Target {
        self.clone().into_target()
    }
}

/// Why a URL cannot be decided on by rules, with what could be read of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// The refusal code.
    pub refusal: Refusal,
    /// What could be read of the URL; `None` when it did not parse.
    pub target: Option<Target>,
}

/// Canonicalises a request URL, or says which refusal applies (`invalid_url`,
/// `unsupported_scheme`, `invalid_host`, `userinfo_in_url`).
///
/// Plain URLs take a fast path that agrees with the full parser by construction (and by the
/// differential tests); everything else goes through [`canonicalise_whatwg`].
pub fn canonicalise(raw: &str) -> Result<CanonicalUrl, Refused> {
    canonicalise_traced(raw, &mut NoTrace)
}

/// [`canonicalise`], reporting what changed to `tracer` (which takes the full parser: the
/// fast path changes nothing worth describing but the port, and agrees with it).
pub(crate) fn canonicalise_traced<'m, T: Tracer<'m>>(
    raw: &str,
    tracer: &mut T,
) -> Result<CanonicalUrl, Refused> {
    if !T::ON
        && let Some(url) = crate::canonical_fast::canonicalise_plain(raw)
    {
        return Ok(url);
    }
    whatwg(raw, tracer)
}

/// [`canonicalise`] through the full WHATWG parser only.
pub fn canonicalise_whatwg(raw: &str) -> Result<CanonicalUrl, Refused> {
    whatwg(raw, &mut NoTrace)
}

fn whatwg<'m>(raw: &str, tracer: &mut impl Tracer<'m>) -> Result<CanonicalUrl, Refused> {
    let url = Url::parse(raw).map_err(|_| Refused {
        refusal: Refusal::InvalidUrl,
        target: None,
    })?;
    let Some(&(_, scheme)) = Scheme::NAMES.iter().find(|(name, _)| *name == url.scheme()) else {
        let target = Target {
            scheme: url.scheme().to_owned(),
            host: url.host_str().unwrap_or("").to_owned(),
            port: url.port_or_known_default().unwrap_or(0),
            path: url.path().to_owned(),
            query: url.query().map(str::to_owned),
        };
        tracer.record(|| Event::Canonicalised(changes(raw, &url, &target)));
        return Err(Refused {
            refusal: Refusal::UnsupportedScheme,
            target: Some(target),
        });
    };
    let host = match url.host() {
        Some(Host::Domain(d)) => canonical_domain(d),
        Some(Host::Ipv4(a)) => Ok(CanonicalHost::Ipv4(a)),
        Some(Host::Ipv6(a)) => Ok(match a.to_ipv4_mapped() {
            Some(v4) => CanonicalHost::Ipv4(v4),
            None => CanonicalHost::Ipv6(a),
        }),
        None => Err(Refusal::InvalidUrl),
    };
    // No target: a hostile host is not echoed into the log as if it were a name.
    let host = host.map_err(|refusal| Refused {
        refusal,
        target: None,
    })?;
    let canonical = CanonicalUrl {
        scheme,
        host,
        port: url.port_or_known_default().unwrap_or(scheme.default_port()),
        path: canonical_path(url.path()),
        query: url.query().map(str::to_owned),
    };
    tracer.record(|| Event::Canonicalised(changes(raw, &url, &canonical.target())));
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Refused {
            refusal: Refusal::UserinfoInUrl,
            target: Some(canonical.target()),
        });
    }
    Ok(canonical)
}

/// One trailing dot removed; a name with empty labels left is not a host any resolver accepts,
/// so it is refused (`invalid_url`) rather than matched. WHATWG leaves characters such as
/// `;`, `"`, `'`, `*`, `!`, `$`, `&`, `(`, `)`, `+`, `,`, `=`, `` ` ``, `{`, `}` and `~` in a
/// domain: a name with any character but letters, digits, `-`, `_` and `.` cannot resolve
/// either, and would carry it into `{host}` claims; it is refused (`invalid_host`).
fn canonical_domain(domain: &str) -> Result<CanonicalHost, Refusal> {
    let name = domain.strip_suffix('.').unwrap_or(domain);
    if name.is_empty() || name.split('.').any(str::is_empty) {
        return Err(Refusal::InvalidUrl);
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(Refusal::InvalidHost);
    }
    Ok(CanonicalHost::Domain(name.to_owned()))
}

/// Decodes `%XX` of unreserved characters (ALPHA / DIGIT / `-` / `.` / `_` / `~`) and
/// upper-cases the hex digits of the escapes that stay (`%2f` -> `%2F`).
pub fn canonical_path(path: &str) -> String {
    if !path.contains('%') {
        return path.to_owned();
    }
    let mut out = String::with_capacity(path.len());
    let mut rest = path.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        let Some((decoded, escape)) = percent_byte(rest).zip(rest.get(..3)) else {
            // The path from the parser is ASCII (everything else is percent-encoded).
            out.push(char::from(b));
            rest = tail;
            continue;
        };
        if decoded.is_ascii_alphanumeric() || matches!(decoded, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(decoded));
        } else {
            out.extend(escape.iter().map(|c| char::from(c.to_ascii_uppercase())));
        }
        rest = rest.get(3..).unwrap_or_default();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_decoding() {
        assert_eq!(canonical_path("/%61dmin"), "/admin");
        assert_eq!(canonical_path("/a%2fb%7e"), "/a%2Fb~");
        assert_eq!(canonical_path("/100%"), "/100%");
        assert_eq!(canonical_path("/%zz%4"), "/%zz%4");
    }
}
