//! One name of a domain list, canonicalised as host patterns are (lower case, UTS-46 mapped,
//! punycode, one trailing dot dropped) and checked: a list holds domain names only, never a
//! wildcard or an IP address.

use std::borrow::Cow;
use std::net::IpAddr;

use crate::host_pattern::{MAX_HOST_LEN, MAX_LABEL_LEN, canonical_name, is_numeric_label};

/// Why a list entry is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum EntryError {
    /// `*.example.com`, `ads*.example.com`.
    Wildcard,
    /// `10.0.0.1`, `::1`, `[::1]`, or a name ending in a number (WHATWG reads it as IPv4).
    IpAddress,
    /// Not a domain name; the text says why.
    Invalid(&'static str),
}

/// The canonical spelling of a list entry (`Evil.COM.` -> `evil.com`, `bücher.example` ->
/// `xn--bcher-kva.example`), or why it is not a domain name.
pub(crate) fn canonical_entry(raw: &str) -> Result<Cow<'_, str>, EntryError> {
    if plain_canonical(raw) {
        return Ok(Cow::Borrowed(raw));
    }
    if raw.contains('*') {
        return Err(EntryError::Wildcard);
    }
    let unbracketed = raw
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(raw);
    if unbracketed.contains(':') || unbracketed.parse::<IpAddr>().is_ok() {
        return Err(EntryError::IpAddress);
    }
    let name = raw.strip_suffix('.').unwrap_or(raw);
    if name.is_empty() || name.split('.').any(str::is_empty) {
        return Err(EntryError::Invalid("empty label"));
    }
    if name
        .bytes()
        .any(|b| b.is_ascii() && !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')))
    {
        return Err(EntryError::Invalid(
            "only letters, digits, `-`, `_` and `.` are allowed",
        ));
    }
    let canonical = canonical_name(name).ok_or(EntryError::Invalid("IDNA rejects this name"))?;
    check_canonical(&canonical)?;
    // A borrowed spelling of `name` is a borrow of `raw` too.
    Ok(match canonical {
        Cow::Borrowed(_) => Cow::Borrowed(name),
        Cow::Owned(owned) => Cow::Owned(owned),
    })
}

/// One pass over the common case, a name already canonical without punycode labels: lower
/// case letters, digits, `-`, `_`, labels of 1 to 63 bytes, at most 253 bytes, not ending in a
/// number. Every name it accepts, the full check accepts unchanged; anything else (upper
/// case, a trailing dot, `xn--`, non-ASCII, errors) takes the full check.
fn plain_canonical(name: &str) -> bool {
    let label_ok = |label: &str| {
        !label.is_empty() && label.len() <= MAX_LABEL_LEN && !label.starts_with("xn--")
    };
    if name.len() > MAX_HOST_LEN {
        return false;
    }
    let mut label_start = 0;
    for (i, b) in name.bytes().enumerate() {
        match b {
            b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => {}
            b'.' if name.get(label_start..i).is_some_and(label_ok) => label_start = i + 1,
            _ => return false,
        }
    }
    name.get(label_start..)
        .is_some_and(|last| label_ok(last) && !is_numeric_label(last))
}

/// Checks the canonical spelling: IDNA mapping can produce what the raw text did not show.
fn check_canonical(name: &str) -> Result<(), EntryError> {
    if name.is_empty() || name.split('.').any(str::is_empty) {
        return Err(EntryError::Invalid("empty label"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(EntryError::Invalid(
            "only letters, digits, `-`, `_` and `.` are allowed",
        ));
    }
    if name.len() > MAX_HOST_LEN {
        return Err(EntryError::Invalid("longer than 253 characters"));
    }
    if name.split('.').any(|l| l.len() > MAX_LABEL_LEN) {
        return Err(EntryError::Invalid("a label is longer than 63 characters"));
    }
    if name.rsplit('.').next().is_some_and(is_numeric_label) {
        return Err(EntryError::IpAddress);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonicalises_like_host_patterns() {
        for (raw, canonical) in [
            ("evil.com", "evil.com"),
            ("Evil.COM", "evil.com"),
            ("evil.com.", "evil.com"),
            ("bücher.example", "xn--bcher-kva.example"),
            ("ｍalicious.com", "malicious.com"),
            ("xn--bcher-kva.example", "xn--bcher-kva.example"),
            ("_dmarc.example.com", "_dmarc.example.com"),
            ("localhost", "localhost"),
        ] {
            assert_eq!(canonical_entry(raw).unwrap(), canonical, "{raw}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_domain() {
        assert_eq!(canonical_entry("*.evil.com"), Err(EntryError::Wildcard));
        assert_eq!(canonical_entry("ads*.evil.com"), Err(EntryError::Wildcard));
        for ip in [
            "10.0.0.1", "::1", "[::1]", "fd00::1", "10.1", "a.0x10", "evil.123",
        ] {
            assert_eq!(canonical_entry(ip), Err(EntryError::IpAddress), "{ip}");
        }
        for bad in [
            "",
            ".",
            "evil..com",
            ".evil.com",
            "evil.com..",
            "evil com",
            "evil/com",
            "ev@il.com",
            "||evil.com^",
        ] {
            assert!(
                matches!(canonical_entry(bad), Err(EntryError::Invalid(_))),
                "{bad}"
            );
        }
        let long_label = format!("{}.com", "a".repeat(64));
        assert!(canonical_entry(&long_label).is_err());
        let long_name = format!("{}com", "abcdefghi.".repeat(26));
        assert!(canonical_entry(&long_name).is_err());
    }

    #[test]
    fn the_plain_path_agrees_with_the_full_check() {
        let long_label = format!("{}.com", "a".repeat(64));
        let long_name = format!("{}com", "abcdefghi.".repeat(26));
        for name in [
            "evil.com",
            "a",
            "a-b_c.d0",
            "evil.123",
            "evil.0x1f",
            "1.2.3.4",
            "xn--bcher-kva.example",
            "evil.com.",
            ".evil.com",
            "a..b",
            "",
            "Evil.com",
            "*.evil.com",
            long_label.as_str(),
            long_name.as_str(),
        ] {
            if plain_canonical(name) {
                // Accepted on the plain path: the full check agrees, unchanged.
                let full = check_canonical(name)
                    .and_then(|()| canonical_name(name).ok_or(EntryError::Invalid("")));
                assert_eq!(full.as_deref(), Ok(name), "{name}");
            }
        }
        assert!(plain_canonical("evil.com"));
        assert!(!plain_canonical("evil.123"));
        assert!(!plain_canonical("xn--bcher-kva.example"));
        assert!(!plain_canonical(&long_label));
    }

    #[test]
    fn canonical_entries_are_recognised() {
        let is_canonical_entry = |name: &str| matches!(canonical_entry(name), Ok(c) if c == name);
        assert!(is_canonical_entry("evil.com"));
        assert!(!is_canonical_entry("evil.com."));
        assert!(!is_canonical_entry("Evil.com"));
        assert!(!is_canonical_entry("bücher.example"));
    }
}
