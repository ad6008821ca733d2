//! The readings of a request path that an upstream server plausibly makes.
//!
//! The engine decides on one canonical path (WHATWG-parsed, dot segments removed, unreserved
//! escapes decoded), but servers read the same bytes in other ways: they decode `%2F` and
//! `%5C` into separators (some decode twice, some until nothing changes, IIS also `%u002F`),
//! read overlong UTF-8 and fullwidth forms as ASCII, cut the path at a decoded `?` or `#`,
//! trim whitespace around segments, drop `;params` from segments (and so honour `..;`), strip
//! the trailing dots Windows ignores, route `/admin.json` to `/admin`, and may compare
//! case-insensitively. Rules are then matched fail-closed in both directions: a block rule's
//! path conditions hold when **any** reading matches; a pass rule's and an inject rule's only
//! when **every** reading does.
//!
//! The readings are the canonical path plus every combination of the `STEPS`, always applied
//! in their order; each step either leaves a spelling as it is or reads it its own way.
//! Case-insensitive comparison is one more reading: each reading also counts as matching a
//! block rule when it matches with ASCII case ignored on both sides.
//!
//! The set is bounded: a path that reads in more than [`MAX_READINGS`] ways is too ambiguous
//! to place, and [`readings`] says so instead of listing them.

pub use crate::path_decoding::MAX_DECODE_ROUNDS;
use crate::path_decoding::{decodings, fold};

/// Most readings of one path weighed.
pub const MAX_READINGS: usize = 64;

/// How a step reads a spelling: it pushes the other spellings it may be read as.
type Step = fn(&str, &mut Vec<String>);

/// The steps, in the order servers apply them; each keeps the spelling it is given as one
/// choice, except `resolve` (every server removes dot segments).
const STEPS: [(Step, bool); 12] = [
    // Tomcat drops `;params` before it decodes.
    (strip_params, true),
    (decodings, true),
    (fold, true),
    (backslashes, true),
    (truncate, true),
    (trim, true),
    (strip_params, true),
    (merge_slashes, true),
    (strip_trailing_dots, true),
    (resolve, false),
    // Express and Spring route `/admin/` to `/admin`.
    (drop_trailing_slash, true),
    // Suffix pattern matching (Spring) routes `/admin.json` to `/admin`.
    (cut_suffix, true),
];

/// The readings of `path` (a canonical request path) other than `path` itself, each once; or
/// `None` when there are more than [`MAX_READINGS`] readings in all. Most paths are read one
/// way only: their list is empty, and nothing is allocated.
pub(crate) fn other_readings(path: &str) -> Option<Vec<String>> {
    if !needs_readings(path) {
        return Some(Vec::new());
    }
    let mut set = vec![path.to_owned()];
    let mut alternatives = Vec::new();
    for (step, keep) in STEPS {
        let mut next = Vec::with_capacity(set.len());
        for spelling in set {
            step(&spelling, &mut alternatives);
            if keep {
                alternatives.insert(0, spelling);
            }
            for alternative in alternatives.drain(..) {
                if !next.contains(&alternative) {
                    if next.len() == MAX_READINGS {
                        return None;
                    }
                    next.push(alternative);
                }
            }
        }
        set = next;
    }
    // The canonical path is a reading as it is, and the caller's first.
    set.retain(|r| r != path);
    (set.len() < MAX_READINGS).then_some(set)
}

/// Every reading of `path`, the canonical path first: the order `decide` reads them in.
#[cfg(test)]
fn readings(path: &str) -> Option<Vec<String>> {
    other_readings(path).map(|others| std::iter::once(path.to_owned()).chain(others).collect())
}

/// Whether any step can change `path`: it holds an escape, a `;`, a `//`, a segment ending in
/// `.`, a last segment with a `.`, or a trailing `/` (canonical paths carry spaces, `?`, `#`,
/// `\` and non-ASCII characters only escaped).
fn needs_readings(path: &str) -> bool {
    let last = path.rsplit('/').next().unwrap_or_default();
    path.contains(['%', ';'])
        || path.contains("//")
        || path.contains("./")
        || last.contains('.')
        || (last.is_empty() && path != "/")
}

/// `\` read as `/` (Windows servers, and many others).
fn backslashes(path: &str, out: &mut Vec<String>) {
    if path.contains('\\') {
        out.push(path.replace('\\', "/"));
    }
}

/// The path up to a decoded `?` or `#`: a proxy that decodes and then splits the URL.
fn truncate(path: &str, out: &mut Vec<String>) {
    if let Some((kept, _)) = path.split_once(['?', '#']) {
        out.push(kept.to_owned());
    }
}

/// Whitespace and control characters trimmed from both ends of each segment (Java's `trim`,
/// as Spring's path matching uses it, and Unicode white space); `..%20` is `..`.
fn trim(path: &str, out: &mut Vec<String>) {
    map_segments(path, out, |segment| {
        segment.trim_matches(|c: char| c <= ' ' || c.is_whitespace())
    });
}

/// Dot segments removed (every server does this last).
fn resolve(path: &str, out: &mut Vec<String>) {
    out.push(remove_dot_segments(path));
}

/// The path without its trailing `/`.
fn drop_trailing_slash(path: &str, out: &mut Vec<String>) {
    if let Some(kept) = path.strip_suffix('/').filter(|k| !k.is_empty()) {
        out.push(kept.to_owned());
    }
}

/// The last segment cut at its first and at its last `.` (`/admin.json` and `/admin.` are
/// `/admin`, `/a.b.json` is also `/a.b`), unless the cut leaves it empty.
fn cut_suffix(path: &str, out: &mut Vec<String>) {
    let (head, last) = path.rsplit_once('/').unwrap_or_default();
    for cut in [last.find('.'), last.rfind('.')].into_iter().flatten() {
        if let Some(kept) = last.get(..cut).filter(|k| !k.is_empty()) {
            out.push(format!("{head}/{kept}"));
        }
    }
}

/// Each segment up to its first `;` (`/admin;x/y` is `/admin/y`, `..;` is `..`).
fn strip_params(path: &str, out: &mut Vec<String>) {
    if path.contains(';') {
        map_segments(path, out, |segment| {
            segment.split_once(';').map_or(segment, |(kept, _)| kept)
        });
    }
}

/// `//` (and longer runs) as `/`.
fn merge_slashes(path: &str, out: &mut Vec<String>) {
    if path.contains("//") {
        let mut merged = String::with_capacity(path.len());
        for c in path.chars() {
            if c != '/' || !merged.ends_with('/') {
                merged.push(c);
            }
        }
        out.push(merged);
    }
}

/// Trailing dots and spaces stripped from each segment (Windows), except `.` and `..` and
/// segments that would be left empty.
fn strip_trailing_dots(path: &str, out: &mut Vec<String>) {
    map_segments(path, out, |segment| {
        match segment.trim_end_matches(['.', ' ']) {
            "" => segment,
            stripped => stripped,
        }
    });
}

/// `path` with `f` applied to each segment, when that changes it.
fn map_segments<'a>(path: &'a str, out: &mut Vec<String>, f: impl Fn(&'a str) -> &'a str) {
    let mapped = path.split('/').map(f).collect::<Vec<_>>().join("/");
    if mapped != path {
        out.push(mapped);
    }
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
        readings(path).unwrap().iter().any(|r| r == reading)
    }

    #[test]
    fn plain_paths_have_one_reading() {
        for path in ["/v1/users/7", "/", "/Admin/X", "/v1.2/x", "/a.b/c"] {
            assert_eq!(readings(path).unwrap(), vec![path], "{path}");
        }
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
        assert_eq!(readings("//a").unwrap()[0], "//a");
    }

    #[test]
    fn the_second_review_findings() {
        for (path, reading) in [
            ("/admin%3Fx", "/admin"),
            ("/admin%23/x", "/admin"),
            ("/%u0061dmin/x", "/admin/x"),
            ("/admin%C0%AFx", "/admin/x"),
            ("/%EF%BD%81dmin/x", "/admin/x"),
            ("/admin%09/x", "/admin/x"),
            ("/%20admin/x", "/admin/x"),
            ("/v1/..%20/admin", "/admin"),
            ("/admin.json", "/admin"),
            ("/admin.", "/admin"),
            ("/admin/", "/admin"),
            ("/x/%252525252e%252525252e/admin/y", "/admin/y"),
        ] {
            assert!(has(path, reading), "{path} reads as {reading}");
        }
        // Suffixes: the last segment only, cut at its first and last dot, never to nothing.
        assert!(has("/a.b.json", "/a") && has("/a.b.json", "/a.b"));
        assert!(!has("/a.b/c", "/a/c"));
        assert_eq!(readings("/.well-known").unwrap(), vec!["/.well-known"]);
    }

    #[test]
    fn hostile_paths_stay_bounded() {
        // Deep encodings decode in linear time, and each round is one reading.
        let deep = format!("/{}2e", "%25".repeat(3000));
        assert!(readings(&deep).unwrap().len() <= MAX_DECODE_ROUNDS + 3);
        let wide = format!("/{}", "%25".repeat(3000));
        assert!(readings(&wide).unwrap().len() <= 3);
        // A path that reads in too many ways is not listed.
        let many = "/a;b/c%2Fd//e./f%3Fg/%20h/%u002e%C0%AE%EF%BC%8E/i%252e.j.k";
        assert_eq!(readings(many), None);
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
