//! The answers the Worker gives itself, never forwarded: one [`LocalAnswer`] says both what
//! the caller gets (status and JSON body, listed in docs/decision-log.md) and what the
//! decision line records as its `error`, so the two cannot drift apart. No body carries a
//! secret, a secret's name, key material, a token or a header value.

use egress_policy_engine::Decision;
use serde_json::Value;

use crate::error::CredentialError;

/// Why the Worker answers a request itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalAnswer {
    /// The decision blocks it: 403 `egress_blocked`.
    Blocked,
    /// The credential of an inject decision could not be minted: 502
    /// `egress_credential_unavailable`.
    CredentialUnavailable,
    /// The forwarded fetch failed (DNS, connection, TLS, ...): 502 `egress_upstream_unreachable`.
    UpstreamUnreachable,
    /// The upstream sent no response within the timeout: 504 `egress_upstream_timeout`.
    UpstreamTimeout,
    /// The Worker itself failed (the policy did not load, deciding or minting panicked):
    /// 500 `egress_internal_error`.
    InternalError,
}

/// An answer as sent: status plus `application/json` body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalResponse {
    /// HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: String,
}

impl LocalAnswer {
    /// The `error` the decision line records: `None` for a block, which is no failure.
    pub fn code(self) -> Option<&'static str> {
        self.status_and_code().1
    }

    /// Its HTTP status, and the `error` the decision line records.
    fn status_and_code(self) -> (u16, Option<&'static str>) {
        match self {
            LocalAnswer::Blocked => (403, None),
            LocalAnswer::CredentialUnavailable => (502, Some("credential_unavailable")),
            LocalAnswer::UpstreamUnreachable => (502, Some("upstream_unreachable")),
            LocalAnswer::UpstreamTimeout => (504, Some("upstream_timeout")),
            LocalAnswer::InternalError => (500, Some("internal_error")),
        }
    }

    /// Whether the request had left for the upstream when the Worker answered it.
    pub fn sent(self) -> bool {
        matches!(
            self,
            LocalAnswer::UpstreamUnreachable | LocalAnswer::UpstreamTimeout
        )
    }

    /// The response for `decision`, whose id is `decision_id`:
    /// - 403 `{"error":"egress_blocked","rule":ID|null,"reason":TEXT|null,"decision_id":ID}`;
    /// - 502 `{"error":"egress_credential_unavailable","credential":ID,"decision_id":ID}` (the
    ///   credential's id comes from the policy and is safe to show; the secret's name and why
    ///   minting failed are not);
    /// - 502 `{"error":"egress_upstream_unreachable","decision_id":ID}`;
    /// - 504 `{"error":"egress_upstream_timeout","decision_id":ID}`;
    /// - 500 `{"error":"egress_internal_error","decision_id":ID}`.
    pub fn response(self, decision: &Decision, decision_id: &str) -> LocalResponse {
        let detail = match self {
            LocalAnswer::Blocked => format!(
                r#","rule":{},"reason":{}"#,
                json_text(decision.rule.as_ref().map(|rule| rule.id.as_str())),
                json_text(decision.reason_text()),
            ),
            LocalAnswer::CredentialUnavailable => {
                let credential = decision.credential.as_deref();
                format!(r#","credential":{}"#, json_text(credential))
            }
            _ => String::new(),
        };
        let (status, code) = self.status_and_code();
        // The body's `error` is the line's, prefixed; a block is no error in the line.
        let code = code.unwrap_or("blocked");
        let id = json_text(Some(decision_id));
        let body = format!(r#"{{"error":"egress_{code}"{detail},"decision_id":{id}}}"#);
        LocalResponse { status, body }
    }
}

impl From<CredentialError> for LocalAnswer {
    /// Every credential failure fails closed the same way: why is never shown.
    fn from(_: CredentialError) -> Self {
        LocalAnswer::CredentialUnavailable
    }
}

/// A JSON string literal (escaped) or `null`. Written by hand around serde_json's infallible
/// string escaping so the field order is the contract's whatever serde_json features the
/// workspace enables.
fn json_text(text: Option<&str>) -> String {
    text.map_or_else(|| "null".to_owned(), |text| Value::from(text).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use egress_policy_engine::{Action, Reason, Refusal, RuleRef};

    fn decision(rule: Option<&str>, reason: Option<Reason>) -> Decision {
        Decision {
            action: Action::Block,
            rule: rule.map(|id| RuleRef {
                id: id.into(),
                line: 3,
            }),
            reason,
            would_block: false,
            report_rule: None,
            credential: None,
            target: None,
        }
    }

    #[test]
    fn blocked_body_is_exact() {
        let r = LocalAnswer::Blocked.response(
            &decision(
                Some("block-malware"),
                Some(Reason::Rule("known \"malware\"".into())),
            ),
            "d-1",
        );
        assert_eq!(r.status, 403);
        assert_eq!(
            r.body,
            r#"{"error":"egress_blocked","rule":"block-malware","reason":"known \"malware\"","decision_id":"d-1"}"#
        );
    }

    #[test]
    fn blocked_by_refusal_has_null_rule() {
        let no_customer = Some(Reason::Refusal(Refusal::NoCustomer));
        let r = LocalAnswer::Blocked.response(&decision(None, no_customer), "d-2");
        assert_eq!(
            r.body,
            r#"{"error":"egress_blocked","rule":null,"reason":"no_customer","decision_id":"d-2"}"#
        );
        let r = LocalAnswer::Blocked.response(&decision(Some("r"), None), "d-3");
        assert_eq!(
            r.body,
            r#"{"error":"egress_blocked","rule":"r","reason":null,"decision_id":"d-3"}"#
        );
    }

    #[test]
    fn gateway_bodies_are_exact() {
        let mut inject = decision(Some("r"), None);
        inject.action = Action::Inject;
        inject.credential = Some("example-api-jwt".into());
        let r = LocalAnswer::CredentialUnavailable.response(&inject, "d-4");
        assert_eq!(r.status, 502);
        assert_eq!(
            r.body,
            r#"{"error":"egress_credential_unavailable","credential":"example-api-jwt","decision_id":"d-4"}"#
        );
        let r = LocalAnswer::UpstreamUnreachable.response(&inject, "d-5");
        assert_eq!(r.status, 502);
        assert_eq!(
            r.body,
            r#"{"error":"egress_upstream_unreachable","decision_id":"d-5"}"#
        );
        let r = LocalAnswer::InternalError.response(&inject, "d-6");
        assert_eq!(r.status, 500);
        assert_eq!(
            r.body,
            r#"{"error":"egress_internal_error","decision_id":"d-6"}"#
        );
        let r = LocalAnswer::UpstreamTimeout.response(&inject, "d-7");
        assert_eq!(r.status, 504);
        assert_eq!(
            r.body,
            r#"{"error":"egress_upstream_timeout","decision_id":"d-7"}"#
        );
    }

    #[test]
    fn each_answer_names_its_log_error() {
        let codes: Vec<_> = [
            LocalAnswer::Blocked,
            LocalAnswer::CredentialUnavailable,
            LocalAnswer::UpstreamUnreachable,
            LocalAnswer::UpstreamTimeout,
            LocalAnswer::InternalError,
        ]
        .into_iter()
        .map(LocalAnswer::code)
        .collect();
        assert_eq!(
            codes,
            [
                None,
                Some("credential_unavailable"),
                Some("upstream_unreachable"),
                Some("upstream_timeout"),
                Some("internal_error")
            ]
        );
    }
}
