//! "Did you mean" suggestions for misspelt names.

/// The candidate closest to `input` by edit distance, if it is close enough to be a likely typo.
pub fn did_you_mean<'c>(
    input: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    let lowered = input.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (edit_distance(&lowered, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= c.chars().count().max(input.chars().count()).div_ceil(3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// The help line for `input`, a name outside `candidates`: `did you mean `x`? ` before
/// `otherwise` when one of them is close.
pub(crate) fn hint<'c>(
    input: &str,
    candidates: impl IntoIterator<Item = &'c str>,
    otherwise: String,
) -> String {
    match did_you_mean(input, candidates) {
        Some(s) => format!("did you mean `{s}`? {otherwise}"),
        None => otherwise,
    }
}

/// Levenshtein distance over characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    // One row of the table at a time: `previous[j]` is the distance between the `a` read so
    // far minus its last character and the first `j` characters of `b`.
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut row = vec![i + 1];
        for (cb, above) in b.iter().zip(previous.windows(2)) {
            let (&[diagonal, up], Some(&left)) = (above, row.last()) else {
                break;
            };
            row.push(
                (diagonal + usize::from(ca != *cb))
                    .min(up + 1)
                    .min(left + 1),
            );
        }
        previous = row;
    }
    previous.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(did_you_mean("hsots", ["hosts", "reason"]), Some("hosts"));
        assert_eq!(
            did_you_mean("blok", ["block", "pass", "inject"]),
            Some("block")
        );
        assert_eq!(did_you_mean("xyz", ["block", "pass"]), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
