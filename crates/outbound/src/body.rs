//! The JSON bodies the Worker answers with itself (docs/decision-log.md lists them). None carries a
//! secret, a secret's name, key material, a token or a header value.

use egress_policy_engine::Decision;
use serde_json::Value;

/// Status of a blocked request.
pub const BLOCKED_STATUS: u16 = 403;
/// Status when a credential cannot be minted or the upstream cannot be reached.
pub const BAD_GATEWAY_STATUS: u16 = 502;
/// Status when the Worker itself failed (for example the embedded policy did not load).
pub const INTERNAL_ERROR_STATUS: u16 = 500;

/// An answer the Worker gives without forwarding: status plus `application/json` body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalResponse {
    /// HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: String,
}

/// `403 {"error":"egress_blocked","rule":ID|null,"reason":TEXT|null,"decision_id":ID}`.
pub fn blocked(decision: &Decision, decision_id: &str) -> LocalResponse {
    let rule = decision.rule.as_ref().map(|rule| rule.id.as_str());
    LocalResponse {
        status: BLOCKED_STATUS,
        body: format!(
            r#"{{"error":"egress_blocked","rule":{},"reason":{},"decision_id":{}}}"#,
            json_text(rule),
            json_text(decision.reason.as_deref()),
            json_text(Some(decision_id)),
        ),
    }
}

/// `502 {"error":"egress_credential_unavailable","credential":ID,"decision_id":ID}`.
///
/// The credential's id comes from the policy and is safe to show; the secret's name and
/// why minting failed are not shown.
pub fn credential_unavailable(credential: Option<&str>, decision_id: &str) -> LocalResponse {
    LocalResponse {
        status: BAD_GATEWAY_STATUS,
        body: format!(
            r#"{{"error":"egress_credential_unavailable","credential":{},"decision_id":{}}}"#,
            json_text(credential),
            json_text(Some(decision_id)),
        ),
    }
}

/// `502 {"error":"egress_upstream_unreachable","decision_id":ID}`: the forwarded fetch failed.
pub fn upstream_unreachable(decision_id: &str) -> LocalResponse {
    LocalResponse {
        status: BAD_GATEWAY_STATUS,
        body: format!(
            r#"{{"error":"egress_upstream_unreachable","decision_id":{}}}"#,
            json_text(Some(decision_id)),
        ),
    }
}

/// `500 {"error":"egress_internal_error","decision_id":ID}`: fails closed, never forwarded.
pub fn internal_error(decision_id: &str) -> LocalResponse {
    LocalResponse {
        status: INTERNAL_ERROR_STATUS,
        body: format!(
            r#"{{"error":"egress_internal_error","decision_id":{}}}"#,
            json_text(Some(decision_id)),
        ),
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
    use egress_policy_engine::{Action, RuleRef};

    fn block(rule: Option<&str>, reason: Option<&str>) -> Decision {
        Decision {
            action: Action::Block,
            rule: rule.map(|id| RuleRef {
                id: id.into(),
                line: 3,
            }),
            reason: reason.map(Into::into),
            would_block: false,
            report_rule: None,
            credential: None,
            target: None,
        }
    }

    #[test]
    fn blocked_body_is_exact() {
        let r = blocked(
            &block(Some("block-malware"), Some("known \"malware\"")),
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
        let r = blocked(&block(None, Some("no_customer")), "d-2");
        assert_eq!(
            r.body,
            r#"{"error":"egress_blocked","rule":null,"reason":"no_customer","decision_id":"d-2"}"#
        );
        let r = blocked(&block(Some("r"), None), "d-3");
        assert_eq!(
            r.body,
            r#"{"error":"egress_blocked","rule":"r","reason":null,"decision_id":"d-3"}"#
        );
    }

    #[test]
    fn gateway_bodies_are_exact() {
        let r = credential_unavailable(Some("example-api-jwt"), "d-4");
        assert_eq!(r.status, 502);
        assert_eq!(
            r.body,
            r#"{"error":"egress_credential_unavailable","credential":"example-api-jwt","decision_id":"d-4"}"#
        );
        let r = upstream_unreachable("d-5");
        assert_eq!(r.status, 502);
        assert_eq!(
            r.body,
            r#"{"error":"egress_upstream_unreachable","decision_id":"d-5"}"#
        );
        let r = internal_error("d-6");
        assert_eq!(r.status, 500);
        assert_eq!(
            r.body,
            r#"{"error":"egress_internal_error","decision_id":"d-6"}"#
        );
    }
}
