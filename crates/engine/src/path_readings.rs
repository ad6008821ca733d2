//! The readings of a request path that an upstream server plausibly makes.
//!
//! The engine decides on one canonical path (WHATWG-parsed, dot segments removed, unreserved
//! escapes decoded), but servers read the same bytes in other ways: they decode `%2F` and
//! `%5C` into separators (some decode twice), merge `//`, drop `;params` from segments (and so
//! honour `..;`), strip the trailing dots Windows ignores, and may compare case-insensitively.
//! Rules are then matched fail-closed in both directions: a block rule's path conditions hold
//! when **any** reading matches; a pass rule's and an inject rule's only when **every**
//! reading does.
//!
//! The readings are the canonical path plus every combination of these steps, always applied
//! in this order and followed by dot-segment removal:
//! 1. decode every `%XX` once, or twice, ... up to [`MAX_DECODE_ROUNDS`] times (each round
//!    that changes the path is a reading of its own: a server that decodes once reads
//!    `/admin/%252F/..%5C` as `/admin/`, one that decodes until nothing changes as `/`), then
//!    read `\` as `/` and cut the path at the first NUL;
//! 2. drop everything from `;` to the end of each segment;
//! 3. merge runs of `/` into one;
//! 4. strip trailing `.` and space characters from each segment (unless that empties it).
//!
//! Case-insensitive comparison is the fifth reading: each reading also counts as matching a
//! block rule when it matches with ASCII case ignored on both sides.

use std::borrow::Cow;

/// Percent-decoding rounds in step 1 (`%25252F` is `/` after three).
pub const MAX_DECODE_ROUNDS: usize = 4;

/// The distinct readings of `path` (a canonical request path), the canonical path first.
pub fn readings(path: &str) -> Vec<String> {
    let mut out = vec![path.to_owned()];
    if !needs_readings(path) {
        return out;
    }
    for decoded in decodings(path) {
        for mask in 0u8..8 {
            let mut reading = Cow::Borrowed(decoded.as_str());
            if mask & 1 != 0 {
                reading = Cow::Owned(strip_params(&reading));
            }
            if mask & 2 != 0 {
                reading = Cow::Owned(merge_slashes(&reading));
            }
            if mask & 4 != 0 {
                reading = Cow::Owned(strip_trailing_dots(&reading));
            }
            let reading = remove_dot_segments(&reading);
            if !out.contains(&reading) {
                out.push(reading);
            }
        }
    }
    out
}

/// Step 1's outcomes: the path as it is, then decoded once, twice, ... for as long as a round
/// changes it (at most [`MAX_DECODE_ROUNDS`]), each with `\` read as `/` and cut at NUL.
fn decodings(path: &str) -> Vec<String> {
    let mut out = vec![path.to_owned()];
    let mut bytes = path.as_bytes().to_vec();
    for _ in 0..MAX_DECODE_ROUNDS {
        let decoded = decode_once(&bytes);
        if decoded == bytes {
            break;
        }
        bytes = decoded;
        out.push(finish_decoding(&bytes));
    }
    out
}

/// Whether any step can change `path`: it holds an escape, a `;`, a `//`, or a segment ending
/// in `.` (canonical paths carry spaces escaped, and `\` only escaped).
fn needs_readings(path: &str) -> bool {
    path.contains(['%', ';'])
        || path.contains("//")
        || path.split('/').any(|segment| segment.ends_with('.'))
}

/// The end of step 1 for decoded bytes: cut at the first NUL, `\` as `/`.
fn finish_decoding(decoded: &[u8]) -> String {
    let mut bytes = decoded.to_vec();
    if let Some(nul) = bytes.iter().position(|&b| b == 0) {
        bytes.truncate(nul);
    }
    for b in &mut bytes {
        if *b == b'\\' {
            *b = b'/';
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn decode_once(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).and_then(|c| hex_value(*c)),
                bytes.get(i + 2).and_then(|c| hex_value(*c)),
            )
        {
            out.push(hi * 16 + lo);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    out
}

fn hex_value(c: u8) -> Option<u8> {
    char::from(c)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Step 2: each segment up to its first `;` (`/admin;x/y` is `/admin/y`, `..;` is `..`).
fn strip_params(path: &str) -> String {
    map_segments(path, |segment| {
        segment.split_once(';').map_or(segment, |(kept, _)| kept)
    })
}

/// Step 3: `//` (and longer runs) as `/`.
fn merge_slashes(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if c != '/' || !out.ends_with('/') {
            out.push(c);
        }
    }
    out
}

/// Step 4: trailing dots and spaces stripped from each segment, except `.` and `..` and
/// segments that would be left empty.
fn strip_trailing_dots(path: &str) -> String {
    map_segments(path, |segment| {
        let stripped = segment.trim_end_matches(['.', ' ']);
        if stripped.is_empty() {
            segment
        } else {
            stripped
        }
    })
}

fn map_segments<'a>(path: &'a str, f: impl Fn(&'a str) -> &'a str) -> String {
    path.split('/').map(f).collect::<Vec<_>>().join("/")
}

/// RFC 3986 5.2.4 on a path of segments: `.` removed, `..` removes the segment before it
/// (never above the root). The result starts with `/`.
pub fn remove_dot_segments(path: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    let last = segments.len().saturating_sub(1);
    for (i, segment) in segments.iter().enumerate() {
        match *segment {
            "." | ".." => {
                if *segment == ".." {
                    kept.pop();
                }
                // A trailing dot segment leaves a trailing slash: `/a/b/..` is `/a/`.
                if i == last {
                    kept.push("");
                }
            }
            other => kept.push(other),
        }
    }
    format!("/{}", kept.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(path: &str, reading: &str) -> bool {
        readings(path).iter().any(|r| r == reading)
    }

    #[test]
    fn plain_paths_have_one_reading() {
        assert_eq!(readings("/v1/users/7"), vec!["/v1/users/7"]);
        assert_eq!(readings("/"), vec!["/"]);
        assert_eq!(readings("/Admin/X"), vec!["/Admin/X"]);
    }

    #[test]
    fn the_review_findings() {
        assert!(has("/v1/..%2F..%2Fadmin", "/admin"));
        assert!(has("//admin/x", "/admin/x"));
        assert!(has("/admin;x/y", "/admin/y"));
        assert!(has("/x/..%2Fadmin/y", "/admin/y"));
        assert!(has("/x/..;/admin/y", "/admin/y"));
        assert!(has("/x/..%5Cadmin", "/admin"));
        assert!(has("/x/%252e%252e/admin", "/admin"));
        assert!(has("/admin%00.png", "/admin"));
        assert!(has("/admin./x", "/admin/x"));
        // Found by the server-model property test: decoded once, `%252F` is `%2F`, one
        // segment, which `..` removes; decoded until stable it is `/`, and the path is `/`.
        assert!(has("/admin/%252F/..%5C", "/admin/"));
        assert!(has("/admin/%252F/..%5C", "/"));
        // The canonical path always comes first.
        assert_eq!(readings("//a").first().map(String::as_str), Some("//a"));
    }

    #[test]
    fn partial_readings_are_kept() {
        // A server that merges slashes but decodes nothing reads `/files/a%2Fb/x`.
        assert!(has("/files//a%2Fb/x", "/files/a%2Fb/x"));
        assert!(has("/files//a%2Fb/x", "/files/a/b/x"));
    }

    #[test]
    fn dot_segments() {
        assert_eq!(remove_dot_segments("/a/b/../c"), "/a/c");
        assert_eq!(remove_dot_segments("/../../a"), "/a");
        assert_eq!(remove_dot_segments("/a/b/.."), "/a/");
        assert_eq!(remove_dot_segments("/a/./b/."), "/a/b/");
        assert_eq!(remove_dot_segments("/"), "/");
        assert_eq!(remove_dot_segments("//a/../b"), "//b");
    }
}
