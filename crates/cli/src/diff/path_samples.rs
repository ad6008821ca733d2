//! Concrete request paths that exercise a rule's `paths` globs and `path_regex`.

use regex_syntax::hir::{Class, Hir, HirKind};

/// At most this many samples per glob or regex.
const MAX_SAMPLES: usize = 8;

/// Paths a glob matches: `*` as `probe`, `**` as nothing, an empty segment and two segments.
pub fn glob_samples(glob: &str) -> Vec<String> {
    let mut paths = vec![String::new()];
    for (index, segment) in glob.split('/').enumerate() {
        let slash = if index > 0 { "/" } else { "" };
        let variants = match segment {
            "**" => vec![
                String::new(),
                slash.to_owned(),
                format!("{slash}probe/deep"),
            ],
            _ => vec![format!("{slash}{}", segment.replace('*', "probe"))],
        };
        paths = product(&paths, &variants);
    }
    finish(paths)
}

/// Paths a regex matches, generated from its syntax tree: the first character of each class,
/// each alternative, repetitions at their minimum and once more. Approximate by nature: a
/// probe that does not match is simply another point where both policies are compared.
pub fn regex_samples(pattern: &str) -> Vec<String> {
    let Ok(hir) = regex_syntax::parse(pattern) else {
        return Vec::new();
    };
    let rooted = |s: String| format!("{}{s}", if s.starts_with('/') { "" } else { "/" });
    finish(generate(&hir).into_iter().map(rooted).collect())
}

fn generate(hir: &Hir) -> Vec<String> {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => vec![String::new()],
        HirKind::Literal(literal) => vec![String::from_utf8_lossy(&literal.0).into_owned()],
        HirKind::Class(class) => vec![class_sample(class).to_string()],
        HirKind::Capture(capture) => generate(&capture.sub),
        HirKind::Repetition(repetition) => {
            let once = generate(&repetition.sub);
            let minimum = usize::try_from(repetition.min).unwrap_or(1).min(4);
            let mut out: Vec<String> = once.iter().map(|s| s.repeat(minimum)).collect();
            if repetition.max != Some(repetition.min) {
                out.extend(once.iter().map(|s| s.repeat(minimum + 1)));
            }
            out.truncate(MAX_SAMPLES);
            out
        }
        HirKind::Concat(parts) => (parts.iter()).fold(vec![String::new()], |heads, part| {
            product(&heads, &generate(part))
        }),
        HirKind::Alternation(alternatives) => {
            let mut out: Vec<String> = alternatives.iter().flat_map(generate).collect();
            out.truncate(MAX_SAMPLES);
            out
        }
    }
}

/// Every head followed by every tail, in order, at most [`MAX_SAMPLES`] of them.
fn product(heads: &[String], tails: &[String]) -> Vec<String> {
    let all = heads
        .iter()
        .flat_map(|h| tails.iter().map(move |t| format!("{h}{t}")));
    all.take(MAX_SAMPLES).collect()
}

/// A readable member of the class: a lower-case letter or digit when the class has one.
fn class_sample(class: &Class) -> char {
    let ranges: Vec<(char, char)> = match class {
        Class::Unicode(unicode) => unicode.iter().map(|r| (r.start(), r.end())).collect(),
        Class::Bytes(bytes) => (bytes.iter())
            .map(|r| (char::from(r.start()), char::from(r.end())))
            .collect(),
    };
    let mut preferred = ['a', 'x', '0', '1', '-', '_'].into_iter();
    let found = preferred.find(|c| ranges.iter().any(|(s, e)| s <= c && c <= e));
    found.or(ranges.first().map(|r| r.0)).unwrap_or('a')
}

/// Keeps samples that are already canonical request paths (so the engine sees them as
/// written), without duplicates, in order.
fn finish(samples: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for mut sample in samples {
        if sample.is_empty() {
            sample.push('/');
        }
        let canonical = sample.starts_with('/')
            && sample
                .chars()
                .all(|c| c.is_ascii_graphic() && !matches!(c, '?' | '#' | '%' | '\\'))
            && !sample.split('/').any(|s| s == "." || s == "..");
        if canonical && !out.contains(&sample) {
            out.push(sample);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instantiates_globs() {
        assert_eq!(glob_samples("/v1/**"), ["/v1", "/v1/", "/v1/probe/deep"]);
        assert_eq!(glob_samples("/v1/*/keys"), ["/v1/probe/keys"]);
        assert_eq!(glob_samples("/admin"), ["/admin"]);
        assert_eq!(glob_samples("/**/x"), ["/x", "//x", "/probe/deep/x"]);
    }

    #[test]
    fn samples_regexes() {
        assert_eq!(
            regex_samples("^/v1/(users|orgs)/"),
            ["/v1/users/", "/v1/orgs/"]
        );
        assert_eq!(regex_samples(r"^/api/v[0-9]+$"), ["/api/v0", "/api/v00"]);
        assert_eq!(regex_samples("admin"), ["/admin"]);
        assert!(regex_samples("(").is_empty());
    }
}
