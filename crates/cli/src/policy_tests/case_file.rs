//! Parsing one policy test file into its cases, every mistake reported with a source span.

use std::ops::Range;

use serde_json::Value;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::source_position::position;
use crate::suggest::did_you_mean;

/// Keys a `[[case]]` table may have.
const CASE_KEYS: [&str; 6] = ["name", "customer", "tags", "method", "url", "expect"];
/// Keys an `expect` table may have.
const EXPECT_KEYS: [&str; 6] = [
    "action",
    "rule",
    "would_block",
    "report_rule",
    "reason",
    "credential",
];

/// One test case: a request and the decision it must get.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestCase {
    /// Shown in the report.
    pub name: String,
    /// 1-based line of the case in its file.
    pub line: usize,
    /// `None` asks for the `no_customer` refusal.
    pub customer: Option<String>,
    /// The customer's tags.
    pub tags: Vec<String>,
    /// HTTP method, `GET` unless given.
    pub method: String,
    /// The request URL exactly as the user Worker would fetch it.
    pub url: String,
    /// The decision it must get.
    pub expect: Expectation,
}

/// What a case expects: each field it checks, in [`EXPECT_KEYS`] order, with the value the
/// decision's must equal as `explain --json` writes it. `action` and `rule` are always
/// checked (`rule` null when not given: no rule may decide), the others only when given.
pub type Expectation = Vec<(&'static str, Value)>;

/// A mistake in a test file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseError {
    /// 1-based line and column, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// Lower case, user input in backticks.
    pub message: String,
}

impl CaseError {
    fn at(text: &str, span: Option<Range<usize>>, message: String) -> CaseError {
        let at = span.map(|s| position(text, s.start));
        CaseError {
            line: at.map(|p| p.line),
            column: at.map(|p| p.column),
            message,
        }
    }

    /// `file:line:col: error: message`.
    pub fn render(&self, file_name: &str) -> String {
        match (self.line, self.column) {
            (Some(line), Some(column)) => {
                format!("{file_name}:{line}:{column}: error: {}", self.message)
            }
            _ => format!("{file_name}: error: {}", self.message),
        }
    }
}

/// Parses a test file; every error is returned at once.
pub fn parse(text: &str) -> Result<Vec<TestCase>, Vec<CaseError>> {
    let document = DeTable::parse(text)
        .map_err(|e| vec![CaseError::at(text, e.span(), e.message().to_owned())])?;
    let mut errors = Vec::new();
    let mut cases = Vec::new();
    for (key, value) in document.get_ref().iter() {
        if key.get_ref().as_ref() != "case" {
            errors.push(unknown_key(text, key, "the file", &["case"]));
            continue;
        }
        let DeValue::Array(items) = value.get_ref() else {
            errors.push(CaseError::at(
                text,
                Some(value.span()),
                "`case` must be an array of tables: write `[[case]]`".to_owned(),
            ));
            continue;
        };
        for item in items.iter() {
            match item.get_ref() {
                DeValue::Table(table) => {
                    if let Some(case) = parse_case(text, table, item.span(), &mut errors) {
                        cases.push(case);
                    }
                }
                _ => errors.push(CaseError::at(
                    text,
                    Some(item.span()),
                    "each `case` must be a table".to_owned(),
                )),
            }
        }
    }
    if cases.is_empty() && errors.is_empty() {
        errors.push(CaseError::at(
            text,
            None,
            "no test cases: add `[[case]]` tables".to_owned(),
        ));
    }
    if errors.is_empty() {
        Ok(cases)
    } else {
        Err(errors)
    }
}

fn parse_case(
    text: &str,
    table: &DeTable<'_>,
    span: Range<usize>,
    errors: &mut Vec<CaseError>,
) -> Option<TestCase> {
    let before = errors.len();
    for (key, _) in table.iter() {
        if !CASE_KEYS.contains(&key.get_ref().as_ref()) {
            errors.push(unknown_key(text, key, "a case", &CASE_KEYS));
        }
    }
    let name = required_string(text, table, "name", &span, errors);
    let url = required_string(text, table, "url", &span, errors);
    let customer = optional_string(text, table, "customer", errors);
    let method = optional_string(text, table, "method", errors).unwrap_or_else(|| "GET".into());
    let tags = string_list(text, table, "tags", errors);
    let expect = match table.get("expect") {
        Some(value) => match value.get_ref() {
            DeValue::Table(expect) => parse_expectation(text, expect, value.span(), errors),
            _ => {
                errors.push(CaseError::at(
                    text,
                    Some(value.span()),
                    "`expect` must be a table, e.g. `expect = { action = \"block\", rule = \"id\" }`"
                        .to_owned(),
                ));
                None
            }
        },
        None => {
            errors.push(CaseError::at(
                text,
                Some(span.clone()),
                "a case needs `expect = { action = \"...\", rule = \"...\" }`".to_owned(),
            ));
            None
        }
    };
    if errors.len() != before {
        return None;
    }
    Some(TestCase {
        name: name?,
        line: position(text, span.start).line,
        customer,
        tags,
        method,
        url: url?,
        expect: expect?,
    })
}

fn parse_expectation(
    text: &str,
    table: &DeTable<'_>,
    span: Range<usize>,
    errors: &mut Vec<CaseError>,
) -> Option<Expectation> {
    for (key, _) in table.iter() {
        if !EXPECT_KEYS.contains(&key.get_ref().as_ref()) {
            errors.push(unknown_key(text, key, "`expect`", &EXPECT_KEYS));
        }
    }
    let before = errors.len();
    let mut expect = Vec::new();
    // In this order so that errors come in the order of the format's description.
    for key in ["action", "would_block", "rule", "report_rule", "reason", "credential"] {
        let Some(value) = table.get(key) else {
            match key {
                "action" => errors.push(CaseError::at(
                    text,
                    Some(span.clone()),
                    "`expect` needs an `action`".to_owned(),
                )),
                "rule" => expect.push((key, Value::Null)),
                _ => {}
            }
            continue;
        };
        let (parsed, must) = match key {
            "action" => (
                value
                    .get_ref()
                    .as_str()
                    .filter(|a| ["block", "inject", "pass"].contains(a))
                    .map(Value::from),
                "must be one of `block`, `inject`, `pass`",
            ),
            "would_block" => (
                value.get_ref().as_bool().map(Value::from),
                "must be `true` or `false`",
            ),
            _ => (value.get_ref().as_str().map(Value::from), "must be a string"),
        };
        match parsed {
            Some(parsed) => expect.push((key, parsed)),
            None => errors.push(CaseError::at(
                text,
                Some(value.span()),
                format!("`{key}` {must}"),
            )),
        }
    }
    expect.sort_by_key(|(key, _)| EXPECT_KEYS.iter().position(|k| k == key));
    (errors.len() == before).then_some(expect)
}

fn unknown_key(
    text: &str,
    key: &Spanned<std::borrow::Cow<'_, str>>,
    place: &str,
    known: &[&str],
) -> CaseError {
    let name = key.get_ref().as_ref();
    let expected = known
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let message = match did_you_mean(name, known) {
        Some(close) => {
            format!(
                "unknown key `{name}` in {place}: did you mean `{close}`? (expected {expected})"
            )
        }
        None => format!("unknown key `{name}` in {place}; expected one of {expected}"),
    };
    CaseError::at(text, Some(key.span()), message)
}

fn optional_string(
    text: &str,
    table: &DeTable<'_>,
    key: &str,
    errors: &mut Vec<CaseError>,
) -> Option<String> {
    let value = table.get(key)?;
    match value.get_ref().as_str() {
        Some(s) => Some(s.to_owned()),
        None => {
            errors.push(CaseError::at(
                text,
                Some(value.span()),
                format!("`{key}` must be a string"),
            ));
            None
        }
    }
}

fn required_string(
    text: &str,
    table: &DeTable<'_>,
    key: &str,
    span: &Range<usize>,
    errors: &mut Vec<CaseError>,
) -> Option<String> {
    if table.get(key).is_none() {
        errors.push(CaseError::at(
            text,
            Some(span.clone()),
            format!("a case needs `{key}`"),
        ));
        return None;
    }
    optional_string(text, table, key, errors)
}

fn string_list(
    text: &str,
    table: &DeTable<'_>,
    key: &str,
    errors: &mut Vec<CaseError>,
) -> Vec<String> {
    let Some(value) = table.get(key) else {
        return Vec::new();
    };
    let strings = value.get_ref().as_array().and_then(|items| {
        items
            .iter()
            .map(|item| item.get_ref().as_str().map(str::to_owned))
            .collect::<Option<Vec<String>>>()
    });
    strings.unwrap_or_else(|| {
        errors.push(CaseError::at(
            text,
            Some(value.span()),
            format!("`{key}` must be an array of strings"),
        ));
        Vec::new()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cases_with_defaults_and_lines() {
        let text = r#"# comment
[[case]]
name = "blocked"
customer = "acme"
url = "https://malicious.com/"
expect = { action = "block", rule = "block-malware" }

[[case]]
name = "no customer"
method = "POST"
tags = ["a", "b"]
url = "https://example.com/"
expect = { action = "block", reason = "no_customer", would_block = false }
"#;
        let cases = parse(text).unwrap();
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[0].line, 2);
        assert_eq!(cases[0].method, "GET");
        assert_eq!(
            cases[0].expect,
            [("action", "block".into()), ("rule", "block-malware".into())]
        );
        assert_eq!(cases[1].line, 8);
        assert_eq!(cases[1].customer, None);
        assert_eq!(cases[1].tags, ["a", "b"]);
        assert_eq!(
            cases[1].expect,
            [
                ("action", "block".into()),
                ("rule", Value::Null),
                ("would_block", false.into()),
                ("reason", "no_customer".into())
            ]
        );
    }

    #[test]
    fn reports_every_unknown_key_with_its_line() {
        let text = r#"[[case]]
name = "x"
url = "https://a.com/"
custmer = "acme"
expect = { acton = "block" }
"#;
        let errors = parse(text).unwrap_err();
        let rendered: Vec<String> = errors.iter().map(|e| e.render("t.toml")).collect();
        assert!(
            rendered[0].starts_with(
                "t.toml:4:1: error: unknown key `custmer` in a case: did you mean `customer`?"
            ),
            "{rendered:?}"
        );
        assert!(
            rendered
                .iter()
                .any(|r| r.starts_with("t.toml:5:12: error: unknown key `acton` in `expect`")),
            "{rendered:?}"
        );
        assert!(
            rendered
                .iter()
                .any(|r| r.contains("`expect` needs an `action`"))
        );
    }

    #[test]
    fn rejects_wrong_types_and_empty_files() {
        let text =
            "[[case]]\nname = 1\nurl = \"u\"\ntags = \"a\"\nexpect = { action = \"allow\" }\n";
        let errors = parse(text).unwrap_err();
        let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
        assert!(
            messages.contains(&"`name` must be a string"),
            "{messages:?}"
        );
        assert!(messages.contains(&"`tags` must be an array of strings"));
        assert!(messages.contains(&"`action` must be one of `block`, `inject`, `pass`"));
        let empty = parse("# nothing\n").unwrap_err();
        assert_eq!(empty[0].message, "no test cases: add `[[case]]` tables");
        let syntax = parse("[[case]\n").unwrap_err();
        assert_eq!(syntax[0].line, Some(1));
    }
}
