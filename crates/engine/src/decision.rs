//! What the engine answers for one request.

use serde::{Deserialize, Serialize};

/// What happens to a request.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Answer 403; never forwarded.
    Block,
    /// Forward with a freshly minted credential in place of any client-supplied one.
    Inject,
    /// Forward unchanged (the default `defaults.action`).
    #[default]
    Pass,
}

named!(
    /// The lower-case name used in policy files and logs.
    pub fn as_str for Action { Block = "block", Inject = "inject", Pass = "pass" }
);

/// A refusal that needs no rule: decision order step 1, plus URLs that do not parse.
///
/// Each has a fixed, documented code that appears as `reason` in the 403 body and the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// The URL did not parse under WHATWG rules (or has no host).
    InvalidUrl,
    /// The scheme is neither `http` nor `https`.
    UnsupportedScheme,
    /// The URL carries a username or password.
    UserinfoInUrl,
    /// The host has a character outside letters, digits, `-`, `_` and `.` after IDNA
    /// mapping (`evil.com;.example.com`, `a"b.example.com`): no resolver accepts it, and it
    /// must never reach a `{host}` claim or a log as if it were a name.
    InvalidHost,
    /// The outbound Worker was not given a customer.
    NoCustomer,
    /// The customer parameter is present but not a clean name (see [`crate::identity`]).
    InvalidCustomer,
    /// A tag is not a clean name, or the tags parameter is malformed.
    InvalidTags,
    /// The policy scopes rules by tag and the request came with no tags parameter at all
    /// (an explicit empty list is no tags, and fine): the deployment does not deliver tags,
    /// and a tag-scoped rule must not silently never match.
    NoTags,
    /// An IP-literal host that no enforcing rule matching the request names, with
    /// `ip_literals = "block"`.
    IpLiteral,
    /// An inject rule matched the path as the engine reads it, but not every plausible
    /// reading of it (`/v1/..%2Fadmin`): no token is given. The decision names the rule.
    AmbiguousPath,
    /// An inject rule matched a `TRACE`, `TRACK` or `CONNECT` request: a token is never sent
    /// with a method that echoes it back or opens a tunnel. The decision names the rule.
    MethodNotInjectable,
}

named!(
    /// The fixed reason code.
    pub fn code for Refusal {
        InvalidUrl = "invalid_url",
        UnsupportedScheme = "unsupported_scheme",
        UserinfoInUrl = "userinfo_in_url",
        InvalidHost = "invalid_host",
        NoCustomer = "no_customer",
        InvalidCustomer = "invalid_customer",
        InvalidTags = "invalid_tags",
        NoTags = "no_tags",
        IpLiteral = "ip_literal",
        AmbiguousPath = "ambiguous_path",
        MethodNotInjectable = "method_not_injectable",
    }
);

/// The reason code given when no rule matched and `defaults.action = "block"`.
pub const DEFAULT_ACTION_REASON: &str = "default_action";

/// Why a request was decided as it was: the `reason` of the 403 body and the log line, which
/// carry it as text ([`Reason::as_str`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// A refusal: its fixed code.
    Refusal(Refusal),
    /// A block rule's own `reason` text: the deciding rule's, or (with `would_block`) the
    /// report-mode rule's that would have blocked.
    Rule(String),
    /// No rule matched and `defaults.action = "block"`: [`DEFAULT_ACTION_REASON`].
    DefaultAction,
    /// The Worker could not decide (its policy did not load, or deciding failed):
    /// `internal_error`. Never given by the engine; the Worker logs it.
    InternalError,
}

impl Reason {
    /// The text written as `reason`: the code, or the rule's own text.
    pub fn as_str(&self) -> &str {
        match self {
            Reason::Refusal(refusal) => refusal.code(),
            Reason::Rule(text) => text,
            Reason::DefaultAction => DEFAULT_ACTION_REASON,
            Reason::InternalError => "internal_error",
        }
    }
}

impl Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A reference from a decision back to the rule in the policy source.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RuleRef {
    /// The rule's `id`.
    pub id: String,
    /// 1-based line of the rule's `[[rules]]` header in the policy file.
    pub line: u32,
}

/// The request as the engine saw it after canonicalisation (docs/policy.md, "Request canonicalisation").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// `http` or `https` (or whatever unsupported scheme was refused).
    pub scheme: String,
    /// Canonical host: lower case, punycode, no trailing dot; IPv4 dotted quad; IPv6 in brackets.
    pub host: String,
    /// Explicit port or the scheme's default.
    pub port: u16,
    /// Canonical path: dot segments removed, unreserved `%XX` decoded.
    pub path: String,
    /// The query string without `?`, if any.
    pub query: Option<String>,
}

/// The engine's answer for one request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// What to do.
    pub action: Action,
    /// The rule that decided, `None` for refusals and the default action.
    pub rule: Option<RuleRef>,
    /// Why: a refusal, the default action, or a block rule's `reason` text; with
    /// `would_block` on a request that goes through, what the block would have said.
    pub reason: Option<Reason>,
    /// A block rule in report mode (or any block under `mode = "report"`) matched.
    pub would_block: bool,
    /// The report-mode rule that would have blocked, first in file order.
    pub report_rule: Option<RuleRef>,
    /// For `inject`: the credential's id.
    pub credential: Option<String>,
    /// The canonicalised request; `None` only when the URL did not parse.
    pub target: Option<Target>,
}

impl Decision {
    /// The `reason` as the log line and the 403 body write it.
    pub fn reason_text(&self) -> Option<&str> {
        self.reason.as_ref().map(Reason::as_str)
    }
}
