#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Snapshot tests of rendered diagnostics for broken policies (`tests/fixtures/broken/`).
//! Every problem of a file is reported at once, with spans, labels and hints.

use std::path::Path;

use egress_policy_engine::{Diagnostic, Severity, compile};

fn fixture(name: &str) -> (String, Result<Vec<Diagnostic>, Vec<Diagnostic>>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/broken")
        .join(name);
    let text = std::fs::read_to_string(path).unwrap();
    let result = compile(name, &text).map(|c| c.warnings).map_err(|d| d.0);
    (text, result)
}

fn render(name: &str, text: &str, diags: &[Diagnostic]) -> String {
    for d in diags {
        assert!(
            !d.message.ends_with('.'),
            "message ends with a period: {}",
            d.message
        );
        assert!(
            d.code
                .as_str()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'-'),
            "code {}",
            d.code
        );
    }
    // Source order.
    let starts: Vec<usize> = diags
        .iter()
        .filter_map(|d| d.span.as_ref().map(|s| s.start))
        .collect();
    assert!(
        starts.windows(2).all(|w| w[0] <= w[1]),
        "diagnostics not in source order"
    );
    diags
        .iter()
        .map(|d| d.render(&format!("broken/{name}"), text))
        .collect::<Vec<_>>()
        .join("\n")
}

fn errors(name: &str) -> String {
    let (text, result) = fixture(name);
    let diags = result.expect_err("the policy should not compile");
    assert!(diags.iter().any(|d| d.severity == Severity::Error));
    render(name, &text, &diags)
}

macro_rules! broken {
    ($test:ident, $file:literal) => {
        #[test]
        fn $test() {
            insta::assert_snapshot!(errors($file));
        }
    };
}

broken!(toml_syntax, "syntax.toml");
broken!(unknown_fields_and_values, "unknown_fields.toml");
broken!(host_patterns, "hosts.toml");
broken!(rules_and_conditions, "rules.toml");
broken!(credentials, "credentials.toml");
broken!(version_and_types, "version.toml");
broken!(missing_version_and_inline_rules, "missing_version.toml");
broken!(forbidden_credential_headers, "credential_headers.toml");
broken!(key_rotation, "key_rotation.toml");

/// Every wrong `path_in_logs`: an unknown word, out of range both ways, the wrong type.
#[test]
fn path_in_logs_values() {
    let rendered: Vec<String> = ["\"ful\"", "33", "-1", "true", "[2]"]
        .iter()
        .map(|value| {
            let text = format!("version = 1\n[defaults]\npath_in_logs = {value}\n");
            let diags = compile("p.toml", &text).unwrap_err().0;
            assert!(diags.iter().all(|d| d.severity == Severity::Error));
            render("p.toml", &text, &diags)
        })
        .collect();
    insta::assert_snapshot!(rendered.join("\n"));
}

/// Free text (the policy's name, a rule's reason) with a bidirectional override or isolate
/// is refused: it would read otherwise than it is stored wherever it is shown.
#[test]
fn bidirectional_formatting_in_free_text_is_refused() {
    for text in [
        "version = 1\nname = \"egress \u{202E}lanretni\"\n",
        "version = 1\n[[rules]]\nid = \"b\"\naction = \"block\"\nhosts = [\"x.example\"]\nreason = \"ok\u{2066}\"\n",
    ] {
        let diags = compile("p.toml", text).unwrap_err().0;
        let codes: Vec<&str> = diags.iter().map(|d| d.code.as_str()).collect();
        assert!(
            codes == ["invalid-name"] || codes == ["invalid-text"],
            "{codes:?}"
        );
    }
    compile("p.toml", "version = 1\nname = \"égress ✓ עברית\"\n").unwrap();
}

#[test]
fn path_in_logs_accepts_its_values() {
    use egress_policy_engine::PathInLogs;
    for (value, expected) in [
        ("\"full\"", PathInLogs::Full),
        ("\"none\"", PathInLogs::None),
        ("0", PathInLogs::Segments(0)),
        ("2", PathInLogs::Segments(2)),
        ("32", PathInLogs::Segments(32)),
    ] {
        let text = format!("version = 1\n[defaults]\npath_in_logs = {value}\n");
        let compiled = compile("p.toml", &text).unwrap();
        assert_eq!(
            compiled.policy.model().defaults.path_in_logs,
            expected,
            "{value}"
        );
    }
    let compiled = compile("p.toml", "version = 1\n").unwrap();
    assert_eq!(
        compiled.policy.model().defaults.path_in_logs,
        PathInLogs::Full
    );
}

#[test]
fn warnings_only_policy_compiles() {
    let (text, result) = fixture("warnings_only.toml");
    let warnings = result.expect("warnings do not stop compilation");
    assert!(warnings.iter().all(|d| d.severity == Severity::Warning));
    insta::assert_snapshot!(render("warnings_only.toml", &text, &warnings));
}

#[test]
fn crlf_policies_render_like_lf_ones() {
    let (text, result) = fixture("hosts.toml");
    let lf = render("hosts.toml", &text, &result.unwrap_err());
    let crlf_text = text.replace('\n', "\r\n");
    let crlf = compile("hosts.toml", &crlf_text).unwrap_err().0;
    assert_eq!(render("hosts.toml", &crlf_text, &crlf), lf);
}

#[test]
fn diagnostics_without_span_render_with_file_name() {
    let d = Diagnostic::new(
        egress_policy_engine::diagnostic::Code::PolicyTooLarge,
        "the policy is 9 bytes long",
    )
    .with_hint("smaller");
    assert_eq!(
        d.render("p.toml", ""),
        "p.toml: error[policy-too-large]: the policy is 9 bytes long\n  = help: smaller\n"
    );
}

/// `path_regex` is the small engine's dialect: Unicode classes are refused with the reason,
/// and a pattern over the compiled size limit is named as such rather than as bad syntax.
#[test]
fn path_regex_dialect_errors_say_why() {
    let code_and_message = |pattern: &str| {
        let text = format!(
            "version = 1\n[[rules]]\nid = \"r\"\naction = \"block\"\nhosts = [\"a.test\"]\npath_regex = '{pattern}'\n"
        );
        let diags = compile("p.toml", &text).unwrap_err().0;
        assert_eq!(diags.len(), 1, "{pattern}: {diags:?}");
        (diags[0].code.as_str(), diags[0].message.clone())
    };
    let (code, message) = code_and_message(r"^/\p{L}+$");
    assert_eq!(code, "invalid-regex");
    assert!(message.contains("Unicode"), "{message}");
    let (code, _) = code_and_message(r"^/((a{1000}){1000}){1000}$");
    assert_eq!(code, "regex-too-large");
}

/// The catalogue of codes and docs/policy.md's table of diagnostics are the same: every code
/// documented with its severity, nothing documented that the engine cannot report.
#[test]
fn the_catalogue_is_the_documented_table() {
    use egress_policy_engine::diagnostic::Code;
    let docs =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/policy.md"))
            .unwrap();
    let table = docs
        .split("## Diagnostics (`check`)")
        .nth(1)
        .and_then(|section| section.split("\n## ").next())
        .unwrap();
    let mut documented = std::collections::BTreeMap::new();
    for row in table.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.split(" | ").collect();
        for code in cells[0].trim_start_matches("| ").split(", ") {
            documented.insert(code.trim_matches('`').to_owned(), cells[1].to_owned());
        }
    }
    let catalogue: std::collections::BTreeMap<String, String> = Code::NAMES
        .iter()
        .map(|(name, c)| (name.to_string(), c.severity().as_str().to_owned()))
        .collect();
    assert_eq!(documented, catalogue);
    // `--format json` writes each code as its catalogue name.
    for (name, code) in Code::NAMES {
        assert_eq!(serde_json::to_string(code).unwrap(), format!("\"{name}\""));
        assert_eq!(code.to_string(), *name);
    }
}
