//! `*` wildcards within one host label or one path segment, and `**` across path segments:
//! one matcher for all of them.

/// Whether `text` matches `pattern`, where `*` matches any run of characters (the caller
/// has already split on `.` or `/`, so a run never crosses a label or segment).
pub(crate) fn matches(pattern: &str, text: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == text;
    }
    star_match(
        pattern.as_bytes(),
        text.as_bytes(),
        |p| *p == b'*',
        |p, t| p == t,
    )
}

/// Whether the items of `text` match those of `pattern`, where an item that `is_star`
/// matches any run of items and every other item matches one item it `fits`. It backtracks
/// only to the last star: at worst pattern length x text length steps, never exponential.
pub(crate) fn star_match<P, T>(
    pattern: &[P],
    text: &[T],
    is_star: impl Fn(&P) -> bool,
    fits: impl Fn(&P, &T) -> bool,
) -> bool {
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while let Some(t) = text.get(ti) {
        match pattern.get(pi) {
            Some(p) if is_star(p) => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(p) if fits(p, t) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern
        .get(pi..)
        .is_some_and(|rest| rest.iter().all(is_star))
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn stars_match_runs_within_the_piece() {
        assert!(matches("api-*", "api-eu"));
        assert!(matches("api-*", "api-"));
        assert!(matches("*-prod-*", "x-prod-y"));
        assert!(matches("a*b*c", "abbbc"));
        assert!(!matches("a*b*c", "abbb"));
        assert!(!matches("api-*", "web-eu"));
        assert!(matches("exact", "exact"));
        assert!(!matches("exact", "exacts"));
        assert!(matches("**", ""));
    }
}
