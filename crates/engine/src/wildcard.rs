//! `*` wildcards within one host label or one path segment: the one matcher both use.

/// Whether `text` matches `pattern`, where `*` matches any run of characters (the caller
/// has already split on `.` or `/`, so a run never crosses a label or segment). It backtracks
/// only to the last `*`: at worst pattern length x text length steps, never exponential.
pub(crate) fn matches(pattern: &str, text: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == text;
    }
    let p = pattern.as_bytes();
    let t = text.as_bytes();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(c) if Some(c) == t.get(ti) => {
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
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|&c| c == b'*'))
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
