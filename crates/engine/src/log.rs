//! The decision log line (DESIGN.md section 4): one per intercepted request.
//!
//! The Worker writes it; `egress-policy audit` and `replay` read it back. The field order here
//! is the serialised order.

use serde::{Deserialize, Serialize};

use crate::decision::Action;

/// The schema version written in `v`.
pub const LOG_SCHEMA_VERSION: u32 = 1;

/// Which compiled policy decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRef {
    /// The policy's optional `name`.
    pub name: Option<String>,
    /// Lower-case hex SHA-256 of the policy source file's bytes.
    pub sha256: String,
}

impl PolicyRef {
    /// The reference logged when the Worker cannot tell which policy it embeds (the
    /// artefact and the build's own record both failed to load: a bug, never expected).
    pub fn unknown() -> Self {
        PolicyRef {
            name: None,
            sha256: String::from("unknown"),
        }
    }
}

/// One decision log line.
///
/// Never carries a token, a header value or a secret. `query` is present only when the policy
/// sets `query_in_logs = true`.
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
    /// Canonical path, without the query.
    pub path: Option<String>,
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
}
