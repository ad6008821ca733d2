//! The validated policy: what `compile` builds from the TOML and the artefact stores.

use std::collections::BTreeMap;

use crate::canonical::Scheme;
use crate::credential::Credential;
use crate::decision::{Action, RuleRef};
use crate::domain_list::DomainList;
use crate::host_pattern::HostPattern;
use crate::path_glob::PathGlob;

/// Enforce or only report would-blocks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Blocks are enforced.
    #[default]
    Enforce,
    /// Would-blocks are logged (`would_block = true`) and the request goes on.
    Report,
}

named!(
    /// The lower-case name used in policy files.
    pub fn as_str for Mode { Enforce = "enforce", Report = "report" }
);

/// What happens to IP-literal hosts that no rule names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum IpLiterals {
    /// Refused with reason `ip_literal`.
    #[default]
    Block,
    /// Decided by the rules like any host.
    Allow,
}

/// How much of the request path decision logs keep (`defaults.path_in_logs`). Paths can carry
/// secrets (webhook URLs hold their token in the path), so a policy can log less of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PathInLogs {
    /// The whole canonical path (`"full"`).
    #[default]
    Full,
    /// No path at all (`"none"`): `path` is logged as `null`.
    None,
    /// Only the first N segments, N in [`PathInLogs::MAX_SEGMENTS`]'s range `0..=32`.
    Segments(u8),
}

impl PathInLogs {
    /// The largest segment count a policy may give.
    pub const MAX_SEGMENTS: u8 = 32;

    /// How the policy file writes it: `"full"`, `"none"` or the number.
    pub fn as_policy_value(self) -> String {
        match self {
            PathInLogs::Full => "\"full\"".to_owned(),
            PathInLogs::None => "\"none\"".to_owned(),
            PathInLogs::Segments(n) => n.to_string(),
        }
    }
}

/// The `[defaults]` table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Defaults {
    /// What a request no rule matches gets: [`Action::Pass`] or [`Action::Block`].
    pub action: Action,
    /// Global enforce or report mode.
    pub mode: Mode,
    /// IP-literal hosts that no rule names.
    pub ip_literals: IpLiterals,
    /// Whether decision logs carry the query string.
    pub query_in_logs: bool,
    /// How much of the path decision logs carry.
    pub path_in_logs: PathInLogs,
    /// `customer_tags = "required"`: the deployment passes the tags parameter with every
    /// request, and a request without it is refused `no_tags` (without it, only a policy with
    /// tag-scoped rules refuses such requests, and `check` warns).
    pub tags_required: bool,
}

/// One validated `[[rules]]` entry. `None` for a condition means "not given": it always holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Unique id.
    pub id: String,
    /// 1-based line of the rule's `[[rules]]` header.
    pub line: u32,
    /// block, inject or pass.
    pub action: Action,
    /// Per-rule mode (block rules only; always `Enforce` for others).
    pub mode: Mode,
    /// Host patterns; `None` with `lists` also `None` applies the rule to every host (block
    /// and pass rules only).
    pub hosts: Option<Vec<HostPattern>>,
    /// Ids of the domain lists whose hosts the rule also matches (block rules only). The
    /// host condition holds when `hosts` or `lists` matches.
    pub lists: Option<Vec<String>>,
    /// Shown in the 403 body and the log (block rules).
    pub reason: Option<String>,
    /// The credential an inject rule mints.
    pub credential: Option<String>,
    /// `schemes` condition.
    pub schemes: Option<Vec<Scheme>>,
    /// `ports` condition.
    pub ports: Option<Vec<u16>>,
    /// `methods` condition (upper case, compared exactly).
    pub methods: Option<Vec<String>>,
    /// `paths` condition.
    pub paths: Option<Vec<PathGlob>>,
    /// `path_regex` condition, as written (compiled when the policy is built).
    pub path_regex: Option<String>,
    /// `customers` condition.
    pub customers: Option<Vec<String>>,
    /// `tags` condition: any of the request's tags is listed.
    pub tags: Option<Vec<String>>,
}

impl Rule {
    /// Whether the rule names no hosts at all (neither `hosts` nor `lists`): it applies to
    /// every host.
    pub fn applies_to_every_host(&self) -> bool {
        self.hosts.is_none() && self.lists.is_none()
    }

    /// The schemes the rule matches: `schemes` as given, and for an inject rule without
    /// `schemes` only `https` (a token never travels in cleartext by omission). `None`: any.
    pub fn effective_schemes(&self) -> Option<&[Scheme]> {
        match (&self.schemes, self.action) {
            (Some(schemes), _) => Some(schemes),
            (None, Action::Inject) => Some(&[Scheme::Https]),
            (None, _) => None,
        }
    }

    /// The ports the rule matches: `ports` as given, and for an inject rule without `ports`
    /// the default port of each scheme it matches (443, and 80 when `schemes` names `http`):
    /// a token never goes to another port by omission. `None`: any.
    pub fn effective_ports(&self) -> Option<&[u16]> {
        let http = |s: &Scheme| *s == Scheme::Http;
        match (&self.ports, self.action, self.effective_schemes()) {
            (Some(ports), ..) => Some(ports),
            (None, Action::Inject, Some(s)) if s.iter().all(http) => Some(&[80]),
            (None, Action::Inject, Some(s)) if s.iter().any(http) => Some(&[80, 443]),
            (None, Action::Inject, _) => Some(&[443]),
            (None, ..) => None,
        }
    }

    /// The reference decisions carry.
    pub fn rule_ref(&self) -> RuleRef {
        RuleRef {
            id: self.id.clone(),
            line: self.line,
        }
    }
}

/// Everything validated about a policy: the artefact's payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyModel {
    /// The optional `name`.
    pub name: Option<String>,
    /// Lower-case hex SHA-256 of the source bytes, and of the list files' bytes when the
    /// policy has lists ([`crate::policy_sha256`]).
    pub sha256: String,
    /// `[defaults]`.
    pub defaults: Defaults,
    /// Rules in file order.
    pub rules: Vec<Rule>,
    /// Credentials by id.
    pub credentials: BTreeMap<String, Credential>,
    /// Domain lists by id.
    pub lists: BTreeMap<String, DomainList>,
}
