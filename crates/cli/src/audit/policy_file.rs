//! Loading the policy that `replay` and `jwks` work against, with `check`'s diagnostics when
//! it does not compile.

use egress_policy_engine::{CompiledPolicy, Severity, compile};

/// Reads and compiles `path`. On failure the message to print (diagnostics included).
pub fn load(path: &str) -> Result<CompiledPolicy, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read policy `{path}`: {e}"))?;
    let text =
        String::from_utf8(bytes).map_err(|_| format!("policy `{path}` is not UTF-8 text"))?;
    compile(path, &text)
        .map(|c| c.policy)
        .map_err(|diagnostics| {
            let mut message = String::new();
            for d in diagnostics
                .0
                .iter()
                .filter(|d| d.severity == Severity::Error)
            {
                message.push_str(&d.render(path, &text));
                if !message.ends_with('\n') {
                    message.push('\n');
                }
            }
            message.push_str(&format!("policy `{path}` does not compile"));
            message
        })
}

/// The candidate closest to `wanted` by edit distance, if it is close enough to be a typo.
pub fn did_you_mean<'a>(
    wanted: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (wanted.chars().count() / 3).max(2);
    candidates
        .map(|c| (edit_distance(wanted, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, *c))
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous
                .get(j)
                .copied()
                .unwrap_or(usize::MAX)
                .saturating_add(usize::from(ca != *cb));
            let delete = previous
                .get(j + 1)
                .copied()
                .unwrap_or(usize::MAX)
                .saturating_add(1);
            let insert = current
                .get(j)
                .copied()
                .unwrap_or(usize::MAX)
                .saturating_add(1);
            current.push(substitute.min(delete).min(insert));
        }
        previous = current;
    }
    previous.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let names = ["example-api-jwt", "billing-jwt"];
        assert_eq!(
            did_you_mean("example-api-jtw", names.into_iter()),
            Some("example-api-jwt")
        );
        assert_eq!(
            did_you_mean("biling-jwt", names.into_iter()),
            Some("billing-jwt")
        );
        assert_eq!(did_you_mean("totally-different", names.into_iter()), None);
    }
}
