//! Header names a credential may not be carried in, and the headers the Worker strips from a
//! forwarded request because they can redirect it upstream. One list for `check` (which
//! refuses such a credential `header`) and the Worker (which strips them on inject).
//!
//! Names compare case-insensitively with `_` equal to `-`: nginx, CGI and many frameworks read
//! `X_Forwarded_Host` as `X-Forwarded-Host`, so a spelling with underscores must not slip by.

/// Headers that frame or route the request itself: a token there would break or steer it.
const FRAMING: &[&str] = &["host", "cookie", "content-length", "transfer-encoding"];

/// Hop-by-hop headers (RFC 9110 section 7.6.1, plus the non-standard `Proxy-Connection`):
/// proxies drop or consume them, so a token there is lost or handed to a proxy.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
    "proxy-connection",
];

/// Headers some upstreams obey to change the method or the path they route: the Worker
/// strips them when it injects, so the token goes only to the request the policy decided.
const OVERRIDE: &[&str] = &[
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "x-original-url",
    "x-rewrite-url",
    "forwarded",
];

/// Every `X-Forwarded-*` header (`-For`, `-Host`, `-Proto`, `-Prefix`...) is an override too.
const OVERRIDE_PREFIX: &str = "x-forwarded-";

/// Whether two header names are the same header: ASCII case-insensitive, `_` equal to `-`.
pub fn same_header_name(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| fold(x) == fold(y))
}

/// Whether `name` is a header upstreams may obey to redirect the request: the method
/// overrides, `X-Original-URL`, `X-Rewrite-URL`, `Forwarded` and any `X-Forwarded-*`.
pub fn is_override_header(name: &str) -> bool {
    OVERRIDE.iter().any(|h| same_header_name(h, name)) || has_override_prefix(name)
}

/// Whether a credential may not use `name` as its `header`: `Host`, `Cookie`,
/// `Content-Length`, `Transfer-Encoding`, the hop-by-hop headers, and every
/// [override header](is_override_header).
pub fn is_forbidden_credential_header(name: &str) -> bool {
    FRAMING
        .iter()
        .chain(HOP_BY_HOP)
        .any(|h| same_header_name(h, name))
        || is_override_header(name)
}

fn has_override_prefix(name: &str) -> bool {
    name.get(..OVERRIDE_PREFIX.len())
        .is_some_and(|head| same_header_name(head, OVERRIDE_PREFIX))
}

fn fold(b: u8) -> u8 {
    if b == b'_' {
        b'-'
    } else {
        b.to_ascii_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compare_case_insensitively_with_underscores_as_dashes() {
        assert!(same_header_name("X-Forwarded-Host", "x_forwarded_host"));
        assert!(same_header_name("AUTHORIZATION", "authorization"));
        assert!(!same_header_name("X-Api-Token", "X-Api-Tokens"));
        assert!(!same_header_name("X-Api-Token", "X.Api-Token"));
        assert!(!same_header_name("", "a"));
    }

    #[test]
    fn forbidden_credential_headers() {
        for name in [
            "Host",
            "cookie",
            "Content_Length",
            "TRANSFER-ENCODING",
            "Connection",
            "Keep-Alive",
            "Proxy-Authenticate",
            "proxy_authorization",
            "TE",
            "Trailer",
            "Upgrade",
            "Proxy-Connection",
            "X-HTTP-Method-Override",
            "x-http-method",
            "X-Method-Override",
            "X-Original-URL",
            "X_Rewrite_URL",
            "Forwarded",
            "X-Forwarded-For",
            "x_forwarded_host",
        ] {
            assert!(is_forbidden_credential_header(name), "{name}");
        }
        for name in [
            "Authorization",
            "X-Api-Token",
            "X-Metrics-Token",
            "Hosts",
            "Forwarded-For",
            "X-Forwarded",
            "TEE",
            "Set-Cookie",
        ] {
            assert!(!is_forbidden_credential_header(name), "{name}");
        }
    }

    #[test]
    fn override_headers_are_the_redirecting_subset() {
        assert!(is_override_header("X-Forwarded-Prefix"));
        assert!(is_override_header("X_FORWARDED_PROTO"));
        assert!(is_override_header("forwarded"));
        assert!(is_override_header("X-Original-Url"));
        assert!(!is_override_header("Host"));
        assert!(!is_override_header("Connection"));
        assert!(!is_override_header("X-Forwarded"));
        assert!(!is_override_header("X-Forwardedx-For"));
    }
}
