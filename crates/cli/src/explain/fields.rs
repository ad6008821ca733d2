//! A decision as its log line writes it, made in one place: the fields `explain --json`
//! prints (with `rule_line`) and `test` and `replay` compare (by name, with a logged line).

use std::borrow::Cow;

use egress_policy_engine::request::normalise_method;
use egress_policy_engine::{Action, CompiledPolicy, Decision, PolicyRef, Request};
use serde::Serialize;
use serde_json::Value;

/// The decision fields of a log line, plus `rule_line`, and the policy, in `explain --json`'s
/// order.
#[derive(Debug, Serialize)]
pub struct Fields<'a> {
    action: Action,
    would_block: bool,
    rule: Option<&'a str>,
    rule_line: Option<u32>,
    report_rule: Option<&'a str>,
    reason: Option<&'a str>,
    credential: Option<&'a str>,
    method: Cow<'a, str>,
    scheme: Option<&'a str>,
    host: Option<&'a str>,
    port: Option<u16>,
    path: Option<&'a str>,
    /// Only when the policy sets `query_in_logs = true`, as in the log line.
    #[serde(skip_serializing_if = "Option::is_none")]
    query: Option<&'a str>,
    customer: Option<&'a str>,
    tags: &'a [String],
    policy: PolicyRef,
}

impl<'a> Fields<'a> {
    /// The fields of `decision`, which `policy` made for `request`.
    pub fn decided(
        decision: &'a Decision,
        request: &Request<'a>,
        policy: &CompiledPolicy,
    ) -> Fields<'a> {
        let target = decision.target.as_ref();
        Fields {
            action: decision.action,
            would_block: decision.would_block,
            rule: decision.rule.as_ref().map(|r| r.id.as_str()),
            rule_line: decision.rule.as_ref().map(|r| r.line),
            report_rule: decision.report_rule.as_ref().map(|r| r.id.as_str()),
            reason: decision.reason_text(),
            credential: decision.credential.as_deref(),
            // As the engine matched it and the Worker logs it (`get` is `GET`).
            method: normalise_method(request.method),
            scheme: target.map(|t| t.scheme.as_str()),
            host: target.map(|t| t.host.as_str()),
            port: target.map(|t| t.port),
            path: target.map(|t| t.path.as_str()),
            query: target
                .and_then(|t| t.query.as_deref())
                .filter(|_| policy.model().defaults.query_in_logs),
            customer: request.customer,
            tags: request.tags.unwrap_or_default(),
            policy: policy.policy_ref(),
        }
    }

    /// As JSON, to compare by field name (`null` for a field not written).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// `field=value` for `action` and `rule`, then every other field of `fields` (those that
/// differ), each value as `value` shows it: how `replay` tells a mismatch and `test` a
/// failing case.
pub fn pairs(fields: &[&str], value: impl Fn(&str) -> String) -> String {
    let others = fields.iter().filter(|f| !matches!(**f, "action" | "rule"));
    let shown = ["action", "rule"].iter().chain(others);
    let pairs: Vec<String> = shown.map(|f| format!("{f}={}", value(f))).collect();
    pairs.join(" ")
}
