//! Parsing one policy test file into its cases, every mistake reported with a source span.

use std::borrow::Cow;
use std::ops::Range;

use serde_json::Value;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use egress_policy_engine::diagnostic::{Location, locate as position};
use egress_policy_engine::did_you_mean;

/// Keys a `[[case]]` table may have.
const CASE_KEYS: [&str; 6] = ["name", "customer", "tags", "method", "url", "expect"];
/// The actions an `expect` can name.
const ACTIONS: [&str; 3] = ["block", "inject", "pass"];
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
    pub at: Option<Location>,
    /// Lower case, user input in backticks.
    pub message: String,
}

impl CaseError {
    /// `file:line:col: error: message`.
    pub fn render(&self, file_name: &str) -> String {
        let at = self.at.map(|at| format!(":{}:{}", at.line, at.column));
        let (at, message) = (at.unwrap_or_default(), &self.message);
        format!("{file_name}{at}: error: {message}")
    }
}

/// Parses a test file; every error is returned at once.
pub fn parse(text: &str) -> Result<Vec<TestCase>, Vec<CaseError>> {
    let mut reader = Reader {
        text,
        errors: Vec::new(),
    };
    let document = match DeTable::parse(text) {
        Ok(document) => document,
        Err(e) => {
            reader.error(e.span(), e.message());
            return Err(reader.errors);
        }
    };
    let mut cases = Vec::new();
    for (key, value) in document.get_ref().iter() {
        if key.get_ref().as_ref() != "case" {
            reader.unknown_key(key, "the file", &["case"]);
            continue;
        }
        let DeValue::Array(items) = value.get_ref() else {
            let must = "`case` must be an array of tables: write `[[case]]`";
            reader.error(Some(value.span()), must);
            continue;
        };
        for item in items.iter() {
            match item.get_ref() {
                DeValue::Table(table) => cases.extend(reader.case(table, item.span())),
                _ => reader.error(Some(item.span()), "each `case` must be a table"),
            }
        }
    }
    if cases.is_empty() && reader.errors.is_empty() {
        reader.error(None, "no test cases: add `[[case]]` tables");
    }
    match reader.errors.is_empty() {
        true => Ok(cases),
        false => Err(reader.errors),
    }
}

/// A test file being read, and the mistakes found so far.
struct Reader<'t> {
    text: &'t str,
    errors: Vec<CaseError>,
}

impl Reader<'_> {
    fn error(&mut self, span: Option<Range<usize>>, message: impl Into<String>) {
        let at = span.map(|s| position(self.text, s.start));
        let message = message.into();
        self.errors.push(CaseError { at, message });
    }

    fn case(&mut self, table: &DeTable<'_>, span: Range<usize>) -> Option<TestCase> {
        let before = self.errors.len();
        self.unknown_keys(table, "a case", &CASE_KEYS);
        let name = self.required(table, "name", &span);
        let url = self.required(table, "url", &span);
        let customer = self.string(table, "customer");
        let method = self.string(table, "method").unwrap_or_else(|| "GET".into());
        let tags = self.typed(table, "tags", "must be an array of strings", |v| {
            let items = v.as_array()?.iter().map(|item| item.get_ref().as_str());
            items.map(|item| item.map(str::to_owned)).collect()
        });
        let expect = match table.get("expect").map(|v| (v.get_ref(), v.span())) {
            Some((DeValue::Table(expect), at)) => self.expectation(expect, at),
            Some((_, at)) => {
                let must = "`expect` must be a table, e.g. `expect = { action = \"block\", rule = \"id\" }`";
                self.error(Some(at), must);
                None
            }
            None => {
                let needs = "a case needs `expect = { action = \"...\", rule = \"...\" }`";
                self.error(Some(span.clone()), needs);
                None
            }
        };
        if self.errors.len() != before {
            return None;
        }
        Some(TestCase {
            name: name?,
            line: position(self.text, span.start).line,
            customer,
            tags: tags.unwrap_or_default(),
            method,
            url: url?,
            expect: expect?,
        })
    }

    fn expectation(&mut self, table: &DeTable<'_>, span: Range<usize>) -> Option<Expectation> {
        let before = self.errors.len();
        self.unknown_keys(table, "`expect`", &EXPECT_KEYS);
        // Read in this order so that errors come in the order of the format's description.
        if table.get("action").is_none() {
            self.error(Some(span), "`expect` needs an `action`");
        }
        let must = "must be one of `block`, `inject`, `pass`";
        let action = |v: &DeValue<'_>| v.as_str().filter(|a| ACTIONS.contains(a)).map(Value::from);
        let action = self.typed(table, "action", must, action);
        let would_block = self.typed(table, "would_block", "must be `true` or `false`", |v| {
            v.as_bool().map(Value::from)
        });
        let [rule, report_rule, reason, credential] =
            ["rule", "report_rule", "reason", "credential"]
                .map(|key| self.string(table, key).map(Value::from));
        // `rule` is always checked: not given, no rule may decide.
        let rule = Some(rule.unwrap_or(Value::Null));
        let values = [action, rule, would_block, report_rule, reason, credential];
        let expect = EXPECT_KEYS.into_iter().zip(values);
        let expect = expect.filter_map(|(key, value)| Some((key, value?)));
        (self.errors.len() == before).then(|| expect.collect())
    }

    fn unknown_keys(&mut self, table: &DeTable<'_>, place: &str, known: &[&str]) {
        for (key, _) in table.iter() {
            if !known.contains(&key.get_ref().as_ref()) {
                self.unknown_key(key, place, known);
            }
        }
    }

    fn unknown_key(&mut self, key: &Spanned<Cow<'_, str>>, place: &str, known: &[&str]) {
        let name = key.get_ref().as_ref();
        let expected: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
        let expected = expected.join(", ");
        let message = match did_you_mean(name, known.iter().copied()) {
            Some(close) => format!(
                "unknown key `{name}` in {place}: did you mean `{close}`? (expected {expected})"
            ),
            None => format!("unknown key `{name}` in {place}; expected one of {expected}"),
        };
        self.error(Some(key.span()), message);
    }

    /// The value of `key` as `read` reads it, when given; when it does not read, an error
    /// says that it `must` be something else.
    fn typed<T>(
        &mut self,
        table: &DeTable<'_>,
        key: &str,
        must: &str,
        read: impl FnOnce(&DeValue<'_>) -> Option<T>,
    ) -> Option<T> {
        let value = table.get(key)?;
        let read = read(value.get_ref());
        if read.is_none() {
            self.error(Some(value.span()), format!("`{key}` {must}"));
        }
        read
    }

    fn string(&mut self, table: &DeTable<'_>, key: &str) -> Option<String> {
        self.typed(table, key, "must be a string", |v| {
            v.as_str().map(str::to_owned)
        })
    }

    fn required(&mut self, table: &DeTable<'_>, key: &str, span: &Range<usize>) -> Option<String> {
        if table.get(key).is_none() {
            self.error(Some(span.clone()), format!("a case needs `{key}`"));
            return None;
        }
        self.string(table, key)
    }
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
        assert_eq!(syntax[0].at.map(|at| at.line), Some(1));
    }
}
