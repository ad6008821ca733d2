//! A fast path for the common, plain URL: `http(s)://host[:port][/path][?query]` with a
//! lower-case ASCII host name and only characters WHATWG leaves untouched.
//!
//! It exists because full WHATWG parsing dominates decision time. It accepts only inputs on
//! which it provably agrees with the `url` crate, and returns `None` (use the full parser)
//! for anything else: upper case, IDN, `xn--` labels, IP literals and hosts ending in a
//! number, userinfo, backslashes, percent signs in host or path, dot segments, fragments,
//! tabs, spaces and any other character the parser would encode, strip or interpret. The
//! differential tests and the `decide` fuzz target check it against the full parser.

use crate::canonical::{CanonicalHost, CanonicalUrl, Scheme};

/// Canonicalises `raw` when it is plain enough; `None` means "use the full WHATWG parser".
pub(crate) fn canonicalise_plain(raw: &str) -> Option<CanonicalUrl> {
    let (scheme, rest) = if let Some(rest) = raw.strip_prefix("https://") {
        (Scheme::Https, rest)
    } else if let Some(rest) = raw.strip_prefix("http://") {
        (Scheme::Http, rest)
    } else {
        return None;
    };
    let bytes = rest.as_bytes();
    let authority_end = bytes
        .iter()
        .position(|&b| b == b'/' || b == b'?')
        .unwrap_or(bytes.len());
    let (authority, after) = rest.split_at_checked(authority_end)?;
    let (host, port) = match authority.as_bytes().iter().position(|&b| b == b':') {
        Some(colon) => (authority.get(..colon)?, Some(authority.get(colon + 1..)?)),
        None => (authority, None),
    };
    if !plain_host(host.as_bytes()) {
        return None;
    }
    let port = match port {
        None => scheme.default_port(),
        Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
            p.parse::<u16>().ok()?
        }
        Some(_) => return None,
    };
    let (path, query) = match after.as_bytes().iter().position(|&b| b == b'?') {
        Some(q) => (after.get(..q)?, Some(after.get(q + 1..)?)),
        None => (after, None),
    };
    if !plain_path(path.as_bytes()) || !query.is_none_or(|q| q.bytes().all(query_byte)) {
        return None;
    }
    Some(CanonicalUrl {
        scheme,
        host: CanonicalHost::Domain(host.to_owned()),
        port,
        path: if path.is_empty() {
            "/".to_owned()
        } else {
            path.to_owned()
        },
        query: query.map(str::to_owned),
    })
}

/// Lower-case ASCII letters, digits and `-` in non-empty labels, no `xn--` label, and a
/// last label that does not start with a digit (so WHATWG cannot read it as IPv4).
fn plain_host(host: &[u8]) -> bool {
    let mut label_start = 0usize;
    for (i, &b) in host.iter().enumerate() {
        if b == b'.' {
            if i == label_start {
                return false;
            }
            label_start = i + 1;
        } else if !(b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            || (i == label_start && host.get(i..i + 4) == Some(b"xn--"))
        {
            return false;
        }
    }
    host.get(label_start)
        .is_some_and(|first| !first.is_ascii_digit())
}

/// Bytes the WHATWG path and query states both copy verbatim: unreserved, sub-delims except
/// `'`, `:`, `@` and `/`.
fn common_verbatim(b: u8) -> bool {
    matches!(b,
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9'
        | b'-' | b'.' | b'_' | b'~'
        | b'!' | b'$' | b'&' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
        | b':' | b'@' | b'/')
}

/// The path state also copies `'` verbatim.
fn path_byte(b: u8) -> bool {
    common_verbatim(b) || b == b'\''
}

/// The special-query state encodes `'`; `?` and `%` stay as they are.
fn query_byte(b: u8) -> bool {
    common_verbatim(b) || b == b'?' || b == b'%'
}

/// Empty, or starting with `/`, made of verbatim characters and without dot segments.
fn plain_path(path: &[u8]) -> bool {
    path.is_empty()
        || (path.first() == Some(&b'/')
            && path.iter().all(|&b| path_byte(b))
            && !path.split(|&b| b == b'/').any(|s| s == b"." || s == b".."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::canonicalise_whatwg;

    #[test]
    fn agrees_with_the_full_parser_or_declines() {
        let cases = [
            "https://api.example.com/v1/users?x=1",
            "http://example.com",
            "http://example.com:8080",
            "https://example.com:0443/",
            "https://a-b.c/x;y=z/@user:pw/'quote'",
            "https://example.com/?",
            "https://example.com?q",
            "https://exa_mple.com/",
            "https://example.com/a/./b",
            "https://example.com/a/../b",
            "https://example.com/%61",
            "https://EXAMPLE.com/",
            "https://example.com./",
            "https://xn--bcher-kva.de/",
            "https://1.2.3.4/",
            "https://a.0x1/",
            "https://u@example.com/",
            "https://example.com:/",
            "https://example.com:99999/",
            "https://example.com/a b",
            "https://example.com/#frag",
            "https://example.com\\x",
            "https://example.com/?a'b",
            "https:///example.com/",
            "https://a..b/",
        ];
        for raw in cases {
            if let Some(fast) = canonicalise_plain(raw) {
                assert_eq!(Ok(fast), canonicalise_whatwg(raw), "{raw}");
            }
        }
        assert!(canonicalise_plain("https://api.example.com/v1/users?x=1").is_some());
        assert!(canonicalise_plain("https://EXAMPLE.com/").is_none());
        assert!(canonicalise_plain("https://1.2.3.4/").is_none());
        assert!(canonicalise_plain("https://example.com/a/../b").is_none());
    }
}
