//! Deciding each test case with the compiled policy and comparing with what it expects.

use egress_policy_engine::{CompiledPolicy, Decision, Request};

use super::case_file::TestCase;

/// One expected field that the decision did not match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// `action`, `rule`, `would_block`, `report_rule`, `reason` or `credential`.
    pub field: &'static str,
    /// What the case expects, as shown in the report.
    pub expected: String,
    /// What the policy decided.
    pub actual: String,
}

/// Decides `case` with `policy`.
pub fn decide(policy: &CompiledPolicy, case: &TestCase) -> Decision {
    policy.decide(&Request {
        method: &case.method,
        url: &case.url,
        customer: case.customer.as_deref(),
        tags: Some(&case.tags),
    })
}

/// Every expected field the decision does not match (empty when the case passes). `action` and
/// `rule` are always compared; the other fields only when the case gives them.
pub fn compare(case: &TestCase, decision: &Decision) -> Vec<Mismatch> {
    let expect = &case.expect;
    let mut mismatches = vec![
        differs(
            "action",
            Some(expect.action.as_str()),
            Some(decision.action.as_str()),
        ),
        differs(
            "rule",
            expect.rule.as_deref(),
            decision.rule.as_ref().map(|r| r.id.as_str()),
        ),
    ];
    if let Some(would_block) = expect.would_block
        && would_block != decision.would_block
    {
        // Booleans are shown bare, strings in backticks.
        mismatches.push(Some(Mismatch {
            field: "would_block",
            expected: bool_text(would_block).to_owned(),
            actual: bool_text(decision.would_block).to_owned(),
        }));
    }
    if expect.report_rule.is_some() {
        mismatches.push(differs(
            "report_rule",
            expect.report_rule.as_deref(),
            decision.report_rule.as_ref().map(|r| r.id.as_str()),
        ));
    }
    if expect.reason.is_some() {
        mismatches.push(differs(
            "reason",
            expect.reason.as_deref(),
            decision.reason.as_deref(),
        ));
    }
    if expect.credential.is_some() {
        mismatches.push(differs(
            "credential",
            expect.credential.as_deref(),
            decision.credential.as_deref(),
        ));
    }
    mismatches.into_iter().flatten().collect()
}

fn differs(field: &'static str, expected: Option<&str>, actual: Option<&str>) -> Option<Mismatch> {
    (expected != actual).then(|| Mismatch {
        field,
        expected: shown(expected),
        actual: shown(actual),
    })
}

fn shown(value: Option<&str>) -> String {
    value.map_or_else(|| "none".to_owned(), |v| format!("`{v}`"))
}

fn bool_text(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

/// One line for a failing case: `file:line: FAIL name: expected action=... rule=..., got ...`.
/// `action` and `rule` are always shown for context, other fields when they differ.
pub fn failure_line(
    file_name: &str,
    case: &TestCase,
    decision: &Decision,
    mismatches: &[Mismatch],
) -> String {
    let mut expected = Vec::new();
    let mut actual = Vec::new();
    let always = [
        (
            "action",
            shown(Some(case.expect.action.as_str())),
            shown(Some(decision.action.as_str())),
        ),
        (
            "rule",
            shown(case.expect.rule.as_deref()),
            shown(decision.rule.as_ref().map(|r| r.id.as_str())),
        ),
    ];
    for (field, e, a) in always {
        expected.push(format!("{field}={e}"));
        actual.push(format!("{field}={a}"));
    }
    for m in mismatches
        .iter()
        .filter(|m| m.field != "action" && m.field != "rule")
    {
        expected.push(format!("{}={}", m.field, m.expected));
        actual.push(format!("{}={}", m.field, m.actual));
    }
    format!(
        "{file_name}:{}: FAIL {:?}: expected {}, got {}",
        case.line,
        case.name,
        expected.join(" "),
        actual.join(" ")
    )
}
