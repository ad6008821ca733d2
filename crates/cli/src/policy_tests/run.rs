//! Deciding each test case with the compiled policy and comparing with what it expects.

use egress_policy_engine::Request;
use serde_json::Value;

use super::case_file::TestCase;
use crate::explain::fields::pairs;

/// The request of `case`.
pub fn request(case: &TestCase) -> Request<'_> {
    Request {
        method: &case.method,
        url: &case.url,
        customer: case.customer.as_deref(),
        tags: Some(&case.tags),
    }
}

/// The expected fields the decision (its [`Fields`](crate::explain::fields::Fields) as
/// JSON) does not match: none when the case passes.
pub fn differing(case: &TestCase, decided: &Value) -> Vec<&'static str> {
    let differ = |(field, expected): &&(&str, Value)| decided.get(field) != Some(expected);
    let differing = case.expect.iter().filter(differ);
    differing.map(|(field, _)| *field).collect()
}

/// One line for a failing case: `file:line: FAIL name: expected action=... rule=..., got ...`.
/// `action` and `rule` are always shown for context, other fields when they differ; strings
/// in backticks, booleans bare.
pub fn failure_line(
    file_name: &str,
    case: &TestCase,
    decided: &Value,
    differing: &[&str],
) -> String {
    let shown = |value: Option<&Value>| match value {
        None | Some(Value::Null) => "none".to_owned(),
        Some(Value::String(text)) => format!("`{text}`"),
        Some(other) => other.to_string(),
    };
    // `action` and `rule` are always expected; the other fields when given.
    let expected = |f: &str| case.expect.iter().find(|(k, _)| *k == f).map(|(_, v)| v);
    let expected = pairs(differing, |f| shown(expected(f)));
    let actual = pairs(differing, |f| shown(decided.get(f)));
    let (line, name) = (case.line, &case.name);
    format!("{file_name}:{line}: FAIL {name:?}: expected {expected}, got {actual}")
}
