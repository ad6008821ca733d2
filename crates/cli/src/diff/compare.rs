//! Deciding every probe under both policies and classifying what changed.

use egress_policy_engine::{Action, CompiledPolicy, Decision, Reason, Request};
use serde::Serialize;

use std::collections::{BTreeMap, BTreeSet};

use super::probe_set::{ProbeSet, RequestShape};

/// What a difference means for security review.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Allowed before (passed or injected), blocked now.
    NewlyBlocked,
    /// Only reported before (`would_block`), enforced now.
    ReportToEnforce,
    /// Blocked before, passed or injected now without even a report.
    Unblocked,
    /// Blocked before, now only reported (`would_block = true`) and let through.
    EnforceToReport,
    /// Passed before, now gets a credential.
    NewlyInjected,
    /// Injected before, now gets a different credential.
    CredentialChanged,
    /// Injected before, now passed without a credential.
    CredentialRemoved,
    /// Same action, but now a report-mode rule would block it.
    NewlyReported,
    /// Same action, and no report-mode rule would block it any more.
    NoLongerReported,
}

impl ChangeKind {
    /// Whether the change lets something through that did not get through before, or sends a
    /// credential where it was not sent before (`diff` exits 3 on these).
    pub fn is_widening(self) -> bool {
        self.describe().0 == Effect::Widens
    }

    /// What the change does to what gets through, and the heading `diff` prints.
    pub fn describe(self) -> (Effect, &'static str) {
        use Effect::{Narrows, ReportOnly, Widens};
        match self {
            ChangeKind::NewlyBlocked => (Narrows, "newly blocked"),
            ChangeKind::ReportToEnforce => (Narrows, "now enforced (was report only)"),
            ChangeKind::Unblocked => (Widens, "newly allowed (was blocked)"),
            ChangeKind::EnforceToReport => (Widens, "now report only (was blocked)"),
            ChangeKind::NewlyInjected => (Widens, "newly injected (credential now sent)"),
            ChangeKind::CredentialChanged => (Widens, "credential changed"),
            ChangeKind::CredentialRemoved => {
                (Narrows, "credential removed (now passed without it)")
            }
            ChangeKind::NewlyReported => (ReportOnly, "newly reported by a report-mode rule"),
            ChangeKind::NoLongerReported => (ReportOnly, "no longer reported"),
        }
    }

    /// Classifies a pair of outcomes; `None` when they decide alike. The deciding rule and the
    /// reason text do not count: a rule split in two or renamed decides the same.
    pub fn classify(old: &Outcome, new: &Outcome) -> Option<ChangeKind> {
        use Action::{Block, Inject, Pass};
        match (old.action, new.action) {
            (Block, Block) => None,
            (Block, _) if new.would_block => Some(ChangeKind::EnforceToReport),
            (Block, _) => Some(ChangeKind::Unblocked),
            (_, Block) if old.would_block => Some(ChangeKind::ReportToEnforce),
            (_, Block) => Some(ChangeKind::NewlyBlocked),
            (Pass, Inject) => Some(ChangeKind::NewlyInjected),
            (Inject, Pass) => Some(ChangeKind::CredentialRemoved),
            (Inject, Inject) if old.credential != new.credential => {
                Some(ChangeKind::CredentialChanged)
            }
            _ => match (old.would_block, new.would_block) {
                (false, true) => Some(ChangeKind::NewlyReported),
                (true, false) => Some(ChangeKind::NoLongerReported),
                _ => None,
            },
        }
    }
}

/// What a change does to what gets through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// More gets through, or a credential goes where it did not.
    Widens,
    /// Less gets through, or a credential is no longer sent.
    Narrows,
    /// Only what is logged as `would_block` changes.
    ReportOnly,
}

impl Effect {
    /// The tag `diff` prints in front of a change.
    pub fn tag(self) -> &'static str {
        match self {
            Effect::Widens => "WIDENS",
            Effect::Narrows => "narrows",
            Effect::ReportOnly => "report",
        }
    }
}

/// The parts of a decision a review cares about, as `diff --json` shows them.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Outcome {
    /// What was done.
    pub action: Action,
    /// The deciding rule.
    pub rule: Option<String>,
    /// Its line.
    pub rule_line: Option<u32>,
    /// The refusal code or `default_action`, when no rule decided (a report-mode rule's own
    /// reason text is left out: `report_rule` names it).
    pub reason: Option<String>,
    /// The injected credential.
    pub credential: Option<String>,
    /// A report-mode rule (or report mode) would have blocked.
    pub would_block: bool,
    /// The report-mode rule that would have blocked.
    pub report_rule: Option<String>,
    /// Its line.
    #[serde(skip)]
    pub report_rule_line: Option<u32>,
}

impl Outcome {
    /// The review-relevant parts of `decision`.
    pub fn of(decision: &Decision) -> Outcome {
        let (rule, report_rule) = (decision.rule.as_ref(), decision.report_rule.as_ref());
        Outcome {
            action: decision.action,
            rule: rule.map(|r| r.id.clone()),
            rule_line: rule.map(|r| r.line),
            reason: match &decision.reason {
                Some(code @ (Reason::Refusal(_) | Reason::DefaultAction)) if rule.is_none() => {
                    Some(code.as_str().to_owned())
                }
                _ => None,
            },
            credential: decision.credential.clone(),
            would_block: decision.would_block,
            report_rule: report_rule.map(|r| r.id.clone()),
            report_rule_line: report_rule.map(|r| r.line),
        }
    }
}

/// The probes two policies decide differently: per change kind, the outcome on each side,
/// the host (index into [`ProbeSet::hosts`]) and the request (index into its requests), the
/// audiences (indices into its audiences) it happens for.
pub type Differences = BTreeMap<(ChangeKind, Outcome, Outcome, usize, usize), BTreeSet<usize>>;

/// Decides every probe under both policies and returns the differences.
pub fn differences(set: &ProbeSet, old: &CompiledPolicy, new: &CompiledPolicy) -> Differences {
    let mut out = Differences::new();
    for (host_index, host) in set.hosts.iter().enumerate() {
        for (request_index, shape) in host.requests.iter().enumerate() {
            let url = probe_url(&host.host, shape);
            for (audience_index, audience) in host.audiences.iter().enumerate() {
                let request = Request {
                    method: &shape.method,
                    url: &url,
                    customer: Some(audience.customer.as_deref().unwrap_or(&set.other_customer)),
                    tags: Some(&audience.tags),
                };
                let before = Outcome::of(&old.decide(&request));
                let after = Outcome::of(&new.decide(&request));
                if let Some(kind) = ChangeKind::classify(&before, &after) {
                    let point = (kind, before, after, host_index, request_index);
                    out.entry(point).or_default().insert(audience_index);
                }
            }
        }
    }
    out
}

/// `https://host:443/path`: the port is always explicit so port conditions see it.
pub fn probe_url(host: &str, shape: &RequestShape) -> String {
    format!("{}://{host}:{}{}", shape.scheme, shape.port, shape.path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(action: Action, credential: Option<&str>, would_block: bool) -> Outcome {
        Outcome {
            action,
            rule: None,
            rule_line: None,
            reason: None,
            credential: credential.map(str::to_owned),
            would_block,
            report_rule: None,
            report_rule_line: None,
        }
    }

    #[test]
    fn classifies_every_transition() {
        use Action::{Block, Inject, Pass};
        let cases = [
            (
                outcome(Block, None, false),
                outcome(Pass, None, false),
                Some(ChangeKind::Unblocked),
            ),
            (
                outcome(Block, None, false),
                outcome(Pass, None, true),
                Some(ChangeKind::EnforceToReport),
            ),
            (
                outcome(Pass, None, true),
                outcome(Block, None, false),
                Some(ChangeKind::ReportToEnforce),
            ),
            (
                outcome(Pass, None, false),
                outcome(Block, None, false),
                Some(ChangeKind::NewlyBlocked),
            ),
            (
                outcome(Pass, None, false),
                outcome(Inject, Some("c"), false),
                Some(ChangeKind::NewlyInjected),
            ),
            (
                outcome(Inject, Some("c"), false),
                outcome(Inject, Some("d"), false),
                Some(ChangeKind::CredentialChanged),
            ),
            (
                outcome(Inject, Some("c"), false),
                outcome(Pass, None, false),
                Some(ChangeKind::CredentialRemoved),
            ),
            (
                outcome(Pass, None, false),
                outcome(Pass, None, true),
                Some(ChangeKind::NewlyReported),
            ),
            (
                outcome(Inject, Some("c"), true),
                outcome(Inject, Some("c"), false),
                Some(ChangeKind::NoLongerReported),
            ),
            (
                outcome(Block, None, false),
                outcome(Block, None, true),
                None,
            ),
            (outcome(Pass, None, false), outcome(Pass, None, false), None),
        ];
        for (old, new, expected) in cases {
            assert_eq!(
                ChangeKind::classify(&old, &new),
                expected,
                "{old:?} -> {new:?}"
            );
        }
        assert!(ChangeKind::Unblocked.is_widening());
        assert!(ChangeKind::CredentialChanged.is_widening());
        assert!(!ChangeKind::NewlyBlocked.is_widening());
        assert!(!ChangeKind::NewlyReported.is_widening());
    }
}
