//! The lines the Worker writes: one decision line per request, and the event lines beside
//! them (policy bundles, settings, checkpoints), each sealed into its isolate's chain.

use egress_policy_engine::log::{MAX_LOGGED_METHOD, MAX_LOGGED_QUERY, prefix};
use egress_policy_engine::log_chain::Trail;
use egress_policy_engine::{
    Decision, DecisionLog, Defaults, Identity, LOG_SCHEMA_VERSION, Outcome, PolicyRef, logged_path,
};
use serde::Serialize;

use crate::answer::LocalAnswer;
use egress_policy_engine::time::rfc3339_millis;

/// Everything the log line is made of besides the decision. Deliberately without headers,
/// tokens or secrets: what is not here cannot leak into the line.
#[derive(Clone, Copy, Debug)]
pub struct LogFacts<'a> {
    /// Unique id of this decision (also in 403/502 bodies).
    pub decision_id: &'a str,
    /// Who the request was made for (without a tags parameter: logged as no tags).
    pub identity: &'a Identity,
    /// The request's HTTP method.
    pub method: &'a str,
    /// The policy revision that decided.
    pub policy: &'a PolicyRef,
    /// The deciding policy's `[defaults]`, which say how much of the query and path the line
    /// keeps (`None`, no policy loaded: their defaults).
    pub defaults: Option<&'a Defaults>,
    /// Arrival time, milliseconds since the Unix epoch.
    pub arrived_ms: u64,
    /// How it ended: with the upstream's status, or with the Worker's own answer (whose
    /// [`LocalAnswer::code`] is the line's `error` and [`LocalAnswer::sent`] its `sent`).
    pub ended: Result<u16, LocalAnswer>,
    /// Milliseconds from arrival to the response.
    pub duration_ms: u64,
}

/// The log line for `decision`. The query string is included only when the policy sets
/// `query_in_logs = true`; the path is cut as `path_in_logs` says. `outcome` is derived from
/// the action, status and error ([`Outcome::of`]), so callers cannot contradict them.
pub fn build(decision: &Decision, facts: &LogFacts<'_>) -> DecisionLog {
    let target = decision.target.as_ref();
    let defaults = facts.defaults.cloned().unwrap_or_default();
    let path = target.map(|t| logged_path(&t.path, defaults.path_in_logs));
    let status = facts.ended.ok();
    let error = facts.ended.err().and_then(LocalAnswer::code);
    DecisionLog {
        v: LOG_SCHEMA_VERSION,
        ts: rfc3339_millis(facts.arrived_ms),
        decision_id: facts.decision_id.to_owned(),
        customer: facts.identity.customer.clone(),
        tags: facts.identity.tags.clone().unwrap_or_default(),
        action: decision.action,
        would_block: decision.would_block,
        rule: decision.rule.as_ref().map(|rule| rule.id.clone()),
        report_rule: decision.report_rule.as_ref().map(|rule| rule.id.clone()),
        reason: decision.reason_text().map(str::to_owned),
        method: prefix(facts.method, MAX_LOGGED_METHOD).to_owned(),
        scheme: target.map(|t| t.scheme.clone()),
        host: target.map(|t| t.host.clone()),
        port: target.map(|t| t.port),
        path_redacted: path.as_ref().is_some_and(|p| p.redacted),
        path: path.and_then(|p| p.path),
        query: target
            .and_then(|t| t.query.as_deref())
            .filter(|_| defaults.query_in_logs)
            .map(|query| prefix(query, MAX_LOGGED_QUERY).to_owned()),
        credential: decision.credential.clone(),
        policy: facts.policy.clone(),
        status,
        error: error.map(str::to_owned),
        duration_ms: facts.duration_ms,
        outcome: Some(Outcome::of(decision.action, status, error)),
        sent: Some(facts.ended.map_or_else(LocalAnswer::sent, |_| true)),
        trail: Trail::default(),
    }
}

/// A line that is not a decision: `{"v":2,"ts":..,"event":NAME,..}` with the event's fields
/// and its chain fields. It has no `decision_id`, so log readers tell it from decision lines.
#[derive(Clone, Debug, Serialize)]
pub struct EventLine<'a, B: Serialize> {
    /// The log schema version.
    pub v: u32,
    /// When it happened (RFC 3339, milliseconds).
    pub ts: String,
    /// What kind of event: `policy_bundle`, `settings`, `checkpoint`.
    pub event: &'static str,
    /// The event's own fields.
    #[serde(flatten)]
    pub body: &'a B,
    /// The isolate's chain.
    #[serde(flatten)]
    pub trail: Trail,
}

impl<'a, B: Serialize> EventLine<'a, B> {
    /// The `event` line with `body` at `now_ms`, its chain fields to be sealed.
    pub fn new(event: &'static str, now_ms: u64, body: &'a B) -> EventLine<'a, B> {
        EventLine {
            v: LOG_SCHEMA_VERSION,
            ts: rfc3339_millis(now_ms),
            event,
            body,
            trail: Trail::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use egress_policy_engine::{Action, PathInLogs, RuleRef, Target};
    use serde_json::{Value, json};

    fn decision() -> Decision {
        Decision {
            action: Action::Inject,
            rule: Some(RuleRef {
                id: "example-api".into(),
                line: 9,
            }),
            reason: None,
            would_block: true,
            report_rule: Some(RuleRef {
                id: "staged".into(),
                line: 3,
            }),
            credential: Some("example-api-jwt".into()),
            target: Some(Target {
                scheme: "https".into(),
                host: "api.example.com".into(),
                port: 443,
                path: "/v1/users".into(),
                query: Some("api_key=q-secret".into()),
            }),
        }
    }

    fn identity(tags: &[&str]) -> Identity {
        Identity {
            customer: Some("customer-123".into()),
            tags: Some(tags.iter().map(|tag| (*tag).to_owned()).collect()),
        }
    }

    fn defaults(query_in_logs: bool, path_in_logs: PathInLogs) -> Defaults {
        Defaults {
            query_in_logs,
            path_in_logs,
            ..Defaults::default()
        }
    }

    fn facts<'a>(
        policy: &'a PolicyRef,
        identity: &'a Identity,
        defaults: &'a Defaults,
    ) -> LogFacts<'a> {
        LogFacts {
            decision_id: "d-1",
            identity,
            method: "GET",
            policy,
            defaults: Some(defaults),
            arrived_ms: 1_795_867_200_123,
            ended: Ok(200),
            duration_ms: 12,
        }
    }

    #[test]
    fn line_has_the_contract_fields_in_order() {
        let policy = PolicyRef {
            name: Some("platform-egress".into()),
            sha256: "ab".repeat(32),
            source: None,
            serial: None,
        };
        let (who, defaults) = (identity(&["prod"]), defaults(false, PathInLogs::Full));
        let line =
            serde_json::to_string(&build(&decision(), &facts(&policy, &who, &defaults))).unwrap();
        let expected = json!({
            "v": 2, "ts": "2026-11-28T12:00:00.123Z", "decision_id": "d-1",
            "customer": "customer-123", "tags": ["prod"], "action": "inject",
            "would_block": true, "rule": "example-api", "report_rule": "staged",
            "reason": null, "method": "GET", "scheme": "https", "host": "api.example.com",
            "port": 443, "path": "/v1/users", "path_redacted": false,
            "credential": "example-api-jwt",
            "policy": {"name": "platform-egress", "sha256": "ab".repeat(32)},
            "status": 200, "error": null, "duration_ms": 12, "outcome": "injected",
            "sent": true,
        });
        assert_eq!(serde_json::from_str::<Value>(&line).unwrap(), expected);
        assert!(line.starts_with(r#"{"v":2,"ts":"#));
        assert!(!line.contains("q-secret"));
        assert!(!line.contains("\"query\""));
    }

    #[test]
    fn query_only_when_the_policy_asks() {
        let policy = PolicyRef {
            name: None,
            sha256: "00".into(),
            source: None,
            serial: None,
        };
        let (who, defaults) = (identity(&[]), defaults(true, PathInLogs::Full));
        let log = build(&decision(), &facts(&policy, &who, &defaults));
        assert_eq!(log.query.as_deref(), Some("api_key=q-secret"));
    }

    #[test]
    fn unparsed_url_and_errors() {
        let policy = PolicyRef {
            name: None,
            sha256: "00".into(),
            source: None,
            serial: None,
        };
        let mut d = decision();
        d.target = None;
        let (who, defaults) = (identity(&[]), defaults(true, PathInLogs::Full));
        let mut f = facts(&policy, &who, &defaults);
        f.ended = Err(LocalAnswer::UpstreamUnreachable);
        let log = build(&d, &f);
        assert_eq!(
            (log.scheme, log.host, log.port, log.path, log.query),
            (None, None, None, None, None)
        );
        assert_eq!(log.error.as_deref(), Some("upstream_unreachable"));
        assert_eq!(log.status, None);
        assert_eq!(log.outcome, Some(Outcome::Failed));
        assert!(!log.path_redacted);
    }

    #[test]
    fn path_is_cut_as_the_policy_says() {
        let policy = PolicyRef {
            name: None,
            sha256: "00".into(),
            source: None,
            serial: None,
        };
        let mut d = decision();
        if let Some(target) = d.target.as_mut() {
            target.path = "/hooks/T000/B111/s3cr3t".into();
        }
        let who = identity(&[]);
        let cut = |path_in_logs| {
            let defaults = defaults(false, path_in_logs);
            build(&d, &facts(&policy, &who, &defaults))
        };
        let log = cut(PathInLogs::Segments(2));
        assert_eq!(log.path.as_deref(), Some("/hooks/T000"));
        assert!(log.path_redacted);
        let line = serde_json::to_string(&log).unwrap();
        assert!(!line.contains("s3cr3t"), "{line}");

        let log = cut(PathInLogs::None);
        assert_eq!((log.path, log.path_redacted), (None, true));

        let log = cut(PathInLogs::Segments(4));
        assert_eq!(log.path.as_deref(), Some("/hooks/T000/B111/s3cr3t"));
        assert!(!log.path_redacted);
    }

    #[test]
    fn outcome_says_what_was_done() {
        let policy = PolicyRef {
            name: None,
            sha256: "00".into(),
            source: None,
            serial: None,
        };
        let cases = [
            (Action::Inject, Ok(200), Outcome::Injected),
            (
                Action::Inject,
                Err(LocalAnswer::CredentialUnavailable),
                Outcome::Failed,
            ),
            (Action::Pass, Ok(404), Outcome::Forwarded),
            (
                Action::Pass,
                Err(LocalAnswer::UpstreamUnreachable),
                Outcome::Failed,
            ),
            (Action::Block, Err(LocalAnswer::Blocked), Outcome::Blocked),
            (
                Action::Block,
                Err(LocalAnswer::InternalError),
                Outcome::Failed,
            ),
        ];
        for (action, ended, expected) in cases {
            let mut d = decision();
            d.action = action;
            let (who, defaults) = (identity(&[]), defaults(false, PathInLogs::Full));
            let mut f = facts(&policy, &who, &defaults);
            f.ended = ended;
            let log = build(&d, &f);
            assert_eq!(log.outcome, Some(expected), "{action:?} {ended:?}");
            let value = serde_json::to_value(&log).unwrap();
            assert_eq!(value["outcome"], json!(expected.as_str()));
        }
    }
}
