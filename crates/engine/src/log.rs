//! The decision log line: one per intercepted request.
//!
//! The Worker writes it; `egress-policy audit` and `replay` read it back. The field order here
//! is the serialised order.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::decision::Action;
use crate::log_chain::Trail;
use crate::model::PathInLogs;

/// The schema version written in `v`.
pub const LOG_SCHEMA_VERSION: u32 = 2;

/// The most bytes of the path a line keeps (a longer path is cut, `path_redacted`).
pub const MAX_LOGGED_PATH: usize = 2048;
/// The most bytes of the query a line keeps (with `query_in_logs`).
pub const MAX_LOGGED_QUERY: usize = 1024;
/// The most bytes of the method a line keeps: a policy's methods have at most 32, so a
/// longer method decides the same once cut.
pub const MAX_LOGGED_METHOD: usize = 64;

/// Which compiled policy decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRef {
    /// The policy's optional `name`.
    pub name: Option<String>,
    /// Lower-case hex SHA-256 of the policy source file's bytes.
    pub sha256: String,
    /// Where the Worker's deciding policy came from; absent outside the Worker (`explain`)
    /// and in lines written before bundles existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<PolicySource>,
    /// The bundle's serial when `source` is `bundle`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<u64>,
}

/// Where the Worker's deciding policy came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicySource {
    /// Compiled into the Worker at build time.
    Embedded,
    /// A signed bundle taken up from Workers KV.
    Bundle,
}

named!(
    /// The name logged.
    pub fn as_str for PolicySource { Embedded = "embedded", Bundle = "bundle" }
);

impl PolicyRef {
    /// This reference, naming where the policy came from.
    pub fn from_source(mut self, source: PolicySource, serial: Option<u64>) -> Self {
        self.source = Some(source);
        self.serial = serial;
        self
    }
}

/// What the Worker did with a request, as the log line records it (`outcome`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Answered 403 locally, never forwarded.
    Blocked,
    /// Forwarded unchanged and the upstream answered.
    Forwarded,
    /// Forwarded with a token and the upstream answered.
    Injected,
    /// Not completed: the credential could not be minted (502), an internal error (500) or
    /// the upstream was unreachable (502). The line's `error` says which.
    Failed,
}

impl Outcome {
    /// The outcome of a request from what was decided and what happened. An `error` always
    /// means the request failed, whatever was decided (an internal error is logged as a
    /// `block`); a forward without an upstream status did not complete either.
    pub fn of(action: Action, status: Option<u16>, error: Option<&str>) -> Outcome {
        if error.is_some() {
            return Outcome::Failed;
        }
        match (action, status) {
            (Action::Block, _) => Outcome::Blocked,
            (_, None) => Outcome::Failed,
            (Action::Inject, Some(_)) => Outcome::Injected,
            (Action::Pass, Some(_)) => Outcome::Forwarded,
        }
    }
}

named!(
    /// The lower-case name written in the log.
    pub fn as_str for Outcome {
        Blocked = "blocked", Forwarded = "forwarded", Injected = "injected", Failed = "failed"
    }
);

/// The path as a decision log line carries it under `defaults.path_in_logs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedPath {
    /// What is logged as `path`: the whole path, its first N segments, or nothing.
    pub path: Option<String>,
    /// Whether anything of the path was left out.
    pub redacted: bool,
}

/// How much of the canonical `path` a log line keeps under `setting`. With N segments the
/// path is cut after its N-th segment (`/hooks/T000/B111/secret` with 2 is `/hooks/T000`);
/// a path of at most N segments is kept whole and is not redacted. Whatever the setting, at
/// most [`MAX_LOGGED_PATH`] bytes are kept, so a line stays far below the 16,384 characters
/// Logpush keeps of an event's logs.
pub fn logged_path(path: &str, setting: PathInLogs) -> LoggedPath {
    let kept: Cow<'_, str> = match setting {
        PathInLogs::Full => Cow::Borrowed(path),
        PathInLogs::None => {
            return LoggedPath {
                path: None,
                redacted: true,
            };
        }
        PathInLogs::Segments(n) => {
            let body = path.strip_prefix('/').unwrap_or(path);
            let kept: Vec<&str> = body.split('/').take(usize::from(n)).collect();
            Cow::Owned(format!("/{}", kept.join("/")))
        }
    };
    let kept = prefix(&kept, MAX_LOGGED_PATH);
    LoggedPath {
        redacted: kept != path,
        path: Some(kept.to_owned()),
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
pub fn prefix(text: &str, max: usize) -> &str {
    text.get(..text.floor_char_boundary(max))
        .unwrap_or_default()
}

/// One decision log line.
///
/// Never carries a token, a header value or a secret. `query` is present only when the policy
/// sets `query_in_logs = true`; `path` is cut or left out as `path_in_logs` says (a path may
/// carry a secret, such as a webhook's token).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DecisionLog {
    /// Schema version, [`LOG_SCHEMA_VERSION`].
    pub v: u32,
    /// RFC 3339 UTC time the request arrived, millisecond precision.
    pub ts: String,
    /// Unique id of this decision; also in the 403/502 body.
    pub decision_id: String,
    /// The customer the request was made for; `null` when none was given.
    pub customer: Option<String>,
    /// The customer's tags (empty when none).
    #[serde(default)]
    pub tags: Vec<String>,
    /// What was done.
    pub action: Action,
    /// A report-mode block rule matched.
    pub would_block: bool,
    /// The deciding rule's id.
    pub rule: Option<String>,
    /// The report-mode rule that would have blocked.
    pub report_rule: Option<String>,
    /// Refusal code, `default_action`, or the block rule's reason.
    pub reason: Option<String>,
    /// The HTTP method.
    pub method: String,
    /// Canonical scheme; `null` when the URL did not parse.
    pub scheme: Option<String>,
    /// Canonical host; `null` when the URL did not parse.
    pub host: Option<String>,
    /// Port (explicit or the scheme's default).
    pub port: Option<u16>,
    /// Canonical path, without the query, cut to `defaults.path_in_logs`; `null` when the URL
    /// did not parse or the policy logs no path.
    pub path: Option<String>,
    /// Whether `path` leaves out some of the request's path (`path_in_logs`). A redacted
    /// path is not the request's: `replay` does not re-decide it. `false` in older lines.
    #[serde(default)]
    pub path_redacted: bool,
    /// The query string (only with `query_in_logs = true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// For `inject`: the credential id (never the token).
    pub credential: Option<String>,
    /// The policy revision that decided.
    pub policy: PolicyRef,
    /// Upstream status; `null` when not forwarded or the upstream failed.
    pub status: Option<u16>,
    /// Why the request did not complete: `upstream_unreachable`, `credential_unavailable`,
    /// `internal_error`; `null` otherwise.
    #[serde(default)]
    pub error: Option<String>,
    /// Milliseconds from arrival to the upstream's response headers (or the local answer).
    pub duration_ms: u64,
    /// What was done: blocked, forwarded, injected or failed. Absent from older lines: use
    /// [`DecisionLog::outcome`], which derives it for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// Whether the request left for the upstream (with its token, for an inject), whatever
    /// the upstream then did: an inject that failed upstream delivered its token. Absent from
    /// schema 1 lines: [`DecisionLog::sent`] derives it for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent: Option<bool>,
    /// The isolate's chain (schema 2): absent from schema 1 lines.
    #[serde(flatten)]
    pub trail: Trail,
}

impl DecisionLog {
    /// Whether the request left for the upstream: as logged, or derived for schema 1 lines
    /// (an upstream status, or an upstream error, means it did).
    pub fn sent(&self) -> bool {
        self.sent.unwrap_or_else(|| {
            self.status.is_some()
                || matches!(
                    self.error.as_deref(),
                    Some("upstream_unreachable" | "upstream_timeout")
                )
        })
    }

    /// The line's outcome, derived from action, status and error when an older line lacks it.
    pub fn outcome(&self) -> Outcome {
        self.outcome
            .unwrap_or_else(|| Outcome::of(self.action, self.status, self.error.as_deref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logged(path: &str, setting: PathInLogs) -> (Option<String>, bool) {
        let l = logged_path(path, setting);
        (l.path, l.redacted)
    }

    #[test]
    fn full_keeps_the_path() {
        assert_eq!(
            logged("/a/b/c", PathInLogs::Full),
            (Some("/a/b/c".into()), false)
        );
    }

    #[test]
    fn none_logs_no_path() {
        assert_eq!(logged("/a", PathInLogs::None), (None, true));
        assert_eq!(logged("/", PathInLogs::None), (None, true));
    }

    #[test]
    fn segments_cut_after_the_nth() {
        let hook = "/hooks/T000/B111/secret";
        assert_eq!(
            logged(hook, PathInLogs::Segments(2)),
            (Some("/hooks/T000".into()), true)
        );
        assert_eq!(
            logged(hook, PathInLogs::Segments(1)),
            (Some("/hooks".into()), true)
        );
        assert_eq!(
            logged(hook, PathInLogs::Segments(0)),
            (Some("/".into()), true)
        );
        assert_eq!(
            logged(hook, PathInLogs::Segments(4)),
            (Some(hook.into()), false)
        );
        assert_eq!(
            logged(hook, PathInLogs::Segments(32)),
            (Some(hook.into()), false)
        );
        assert_eq!(
            logged("/", PathInLogs::Segments(0)),
            (Some("/".into()), false)
        );
        // A trailing slash is an empty last segment: dropping it changes the path.
        assert_eq!(
            logged("/a/b/", PathInLogs::Segments(2)),
            (Some("/a/b".into()), true)
        );
        assert_eq!(
            logged("/a/b/", PathInLogs::Segments(3)),
            (Some("/a/b/".into()), false)
        );
    }

    #[test]
    fn outcome_follows_action_status_and_error() {
        use Outcome::*;
        assert_eq!(Outcome::of(Action::Block, None, None), Blocked);
        assert_eq!(Outcome::of(Action::Pass, Some(200), None), Forwarded);
        assert_eq!(Outcome::of(Action::Pass, Some(503), None), Forwarded);
        assert_eq!(Outcome::of(Action::Inject, Some(401), None), Injected);
        assert_eq!(
            Outcome::of(Action::Inject, None, Some("credential_unavailable")),
            Failed
        );
        assert_eq!(
            Outcome::of(Action::Block, None, Some("internal_error")),
            Failed
        );
        assert_eq!(
            Outcome::of(Action::Pass, None, Some("upstream_unreachable")),
            Failed
        );
        assert_eq!(Outcome::of(Action::Inject, None, None), Failed);
    }
}
