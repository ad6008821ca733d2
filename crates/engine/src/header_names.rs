//! Header names: which client headers travel with an injected token (an allow-list), which
//! names a credential's token may not be carried in, and which headers upstreams may obey to
//! redirect a request. One place for `check` (which judges a credential's `header` and
//! `forward_headers`) and the Worker (which forwards only allowed headers on inject).
//!
//! Names compare case-insensitively with `_` equal to `-`: nginx, CGI and many frameworks read
//! `X_Forwarded_Host` as `X-Forwarded-Host`, so a spelling with underscores must not slip by.

/// The client headers an injected request keeps (besides the credential's own
/// `forward_headers`): what an ordinary API call needs to say what it sends and what it
/// accepts. Every other client header is removed on inject, so no header the policy did not
/// foresee (an override an upstream obeys, a cookie, a second credential) travels with a
/// token.
pub const FORWARDED_ON_INJECT: &[&str] = &[
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "cache-control",
    "content-encoding",
    "content-language",
    "content-length",
    "content-type",
    "idempotency-key",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "range",
    "traceparent",
    "tracestate",
    "user-agent",
    "x-request-id",
];

/// Headers that frame or route the request itself, or belong to responses: a token there
/// would break or steer the request, or never be read. Then the hop-by-hop headers (RFC 9110
/// section 7.6.1, plus the non-standard `Proxy-Connection`): proxies drop or consume them, so
/// a token there is lost or handed to a proxy.
const FRAMING_OR_HOP_BY_HOP: &[&str] = &[
    "host",
    "cookie",
    "set-cookie",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
    "proxy-connection",
];

/// Headers some upstreams (or proxies in front of them) obey to change the method, the path
/// or the host they route.
const OVERRIDE: &[&str] = &[
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "x-http-host-override",
    "x-host",
    "x-rewrite-url",
    "forwarded",
];

/// Families of override headers: every `X-Forwarded-*` (`-For`, `-Host`, `-Proto`,
/// `-Prefix`...), `X-Original-*` (`-URL`, `-Host`, `-Method`, `-URI`...) and `X-Envoy-*`
/// (`-Original-Path`...).
const OVERRIDE_PREFIXES: &[&str] = &["x-forwarded-", "x-original-", "x-envoy-"];

/// Whether two header names are the same header: ASCII case-insensitive, `_` equal to `-`.
pub fn same_header_name(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| fold(x) == fold(y))
}

/// Whether `name` is a header upstreams may obey to redirect the request: the method and
/// host overrides, `X-Rewrite-URL`, `Forwarded` and the `X-Forwarded-*`, `X-Original-*` and
/// `X-Envoy-*` families.
pub fn is_override_header(name: &str) -> bool {
    OVERRIDE.iter().any(|h| same_header_name(h, name))
        || OVERRIDE_PREFIXES.iter().any(|prefix| {
            name.get(..prefix.len())
                .is_some_and(|head| same_header_name(head, prefix))
        })
}

/// Whether a credential may not use `name` as its `header`, nor forward it with its token:
/// `Host`, `Cookie`, `Set-Cookie`, `Content-Length`, `Transfer-Encoding`, the hop-by-hop
/// headers, and every [override header](is_override_header).
pub fn is_forbidden_credential_header(name: &str) -> bool {
    FRAMING_OR_HOP_BY_HOP
        .iter()
        .any(|h| same_header_name(h, name))
        || is_override_header(name)
}

/// Whether a client header travels with an injected token: one of [`FORWARDED_ON_INJECT`]
/// or of the credential's `forward_headers`.
pub fn is_forwarded_on_inject(name: &str, extra: &[String]) -> bool {
    FORWARDED_ON_INJECT
        .iter()
        .copied()
        .chain(extra.iter().map(String::as_str))
        .any(|h| same_header_name(h, name))
}

/// Whether `name` is an HTTP field name (an RFC 9110 token) of at most 128 bytes.
pub fn is_header_token(name: &str) -> bool {
    crate::is_name(name, 128, b"!#$%&'*+-.^_`|~")
}

fn fold(b: u8) -> u8 {
    match b {
        b'_' => b'-',
        _ => b.to_ascii_lowercase(),
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
            "Set-Cookie",
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
            "X-Original-Host",
            "X-Original-Method",
            "X-Host",
            "X-HTTP-Host-Override",
            "X-Envoy-Original-Path",
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
            "X-Hosts",
            "TEE",
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
        assert!(is_override_header("x-envoy-original-path"));
        assert!(!is_override_header("Host"));
        assert!(!is_override_header("Connection"));
        assert!(!is_override_header("X-Forwarded"));
        assert!(!is_override_header("X-Forwardedx-For"));
    }

    #[test]
    fn the_inject_allow_list() {
        for name in ["Accept", "content_type", "If-None-Match", "User-Agent"] {
            assert!(is_forwarded_on_inject(name, &[]), "{name}");
        }
        for name in [
            "Cookie",
            "X-Original-Host",
            "X-Custom",
            "Authorization",
            "Host",
        ] {
            assert!(!is_forwarded_on_inject(name, &[]), "{name}");
        }
        assert!(is_forwarded_on_inject(
            "x_api_version",
            &["X-Api-Version".to_owned()]
        ));
    }
}
