//! "Did you mean" suggestions for misspelt names.

/// The candidate closest to `input` by edit distance, if it is close enough to be a likely typo.
pub fn did_you_mean<'c>(
    input: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    let lowered = input.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(&lowered, &c.to_lowercase()), c))
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
        // Levenshtein distance 3, the most allowed for 7 characters.
        assert_eq!(did_you_mean("kitten", ["sitting"]), Some("sitting"));
        assert_eq!(did_you_mean("kitten", ["sittingg"]), None);
    }
}
