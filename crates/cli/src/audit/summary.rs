//! The audit aggregates: built line by line in bounded memory, then frozen into a
//! serialisable [`Summary`]: the `--json` output, and what [`super::report`] lays out for the
//! text and HTML outputs.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use egress_policy_engine::{Action, DecisionLog, Outcome, PolicySource};
use serde::Serialize;

use super::bounded::Capped;
use super::time::Timestamp;
use crate::logs::verify::Integrity;
use crate::logs::{InputSummary, ProblemTally, ReadReport};

/// Distinct customers, rules, revisions... counted by key before the rest are pooled.
const MAX_KEYS: usize = 10_000;
/// The key the pooled keys of a full [`Capped`] map are shown under.
const OTHER: &str = "(other)";

/// Decisions split by what was done (the line's `outcome`, derived for older lines): a
/// request that failed counts as `failed`, never as the action it was decided for, so an
/// inject answered with a 502 is not an injection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ActionCounts {
    /// All decisions.
    pub total: u64,
    /// Blocked (403).
    pub block: u64,
    /// Forwarded with a credential, and the upstream answered.
    pub inject: u64,
    /// Forwarded unchanged, and the upstream answered.
    pub pass: u64,
    /// Not completed: credential unavailable (502), internal error (500), upstream
    /// unreachable (502).
    pub failed: u64,
    /// Of all, how many a report-mode rule (or global report mode) would have blocked.
    pub would_block: u64,
}

impl ActionCounts {
    fn add(&mut self, log: &DecisionLog) {
        self.total += 1;
        match log.outcome() {
            Outcome::Blocked => self.block += 1,
            Outcome::Injected => self.inject += 1,
            Outcome::Forwarded => self.pass += 1,
            Outcome::Failed => self.failed += 1,
        }
        self.would_block += u64::from(log.would_block);
    }
}

/// The first and last time of some decisions.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Span {
    /// The earliest `ts`.
    pub first: Option<Timestamp>,
    /// The latest `ts`.
    pub last: Option<Timestamp>,
}

impl Span {
    fn widen(&mut self, t: &Timestamp) {
        if self.first.as_ref().is_none_or(|f| t < f) {
            self.first = Some(t.clone());
        }
        self.last = self.last.take().max(Some(t.clone()));
    }

    /// The first and last `ts` as written (empty when none was read).
    pub fn texts(&self) -> [String; 2] {
        [&self.first, &self.last].map(|t| t.as_ref().map_or(String::new(), |t| t.text().to_owned()))
    }
}

/// Accumulates decision lines.
#[derive(Debug, Default)]
pub struct Auditor {
    actions: ActionCounts,
    span: Span,
    bad_timestamps: u64,
    revisions: Capped<RevisionRow>,
    customers: Capped<ActionCounts, MAX_KEYS>,
    no_customer: ActionCounts,
    rules: Capped<ActionCounts, MAX_KEYS>,
    ruleless: Capped<ActionCounts>,
    blocked_hosts: Capped<u64, MAX_KEYS>,
    report_rules: Capped<ReportRuleRow>,
    credentials: Capped<CredentialRow>,
    errors: Capped<u64>,
    failures: Capped<u64>,
    statuses: BTreeMap<String, u64>,
}

impl Auditor {
    /// Counts one decision line.
    pub fn observe(&mut self, log: &DecisionLog) {
        self.actions.add(log);
        let ts = Timestamp::parse(&log.ts);
        match &ts {
            Some(t) => self.span.widen(t),
            None => self.bad_timestamps += 1,
        }
        self.observe_revision(log, ts.as_ref());
        match &log.customer {
            Some(customer) => self.customers.entry(customer).add(log),
            None => self.no_customer.add(log),
        }
        match &log.rule {
            Some(rule) => self.rules.entry(rule).add(log),
            // Without a rule, a block was a refusal or the default action (its reason is
            // the code); anything else was the default pass, whatever would-block reason the
            // line carries.
            None => {
                let key = match (log.action, &log.reason) {
                    (Action::Block, Some(reason)) => reason.as_str(),
                    _ => "",
                };
                self.ruleless.entry(key).add(log);
            }
        }
        let host = log.host.as_deref().unwrap_or("(no host)");
        if log.action == Action::Block {
            *self.blocked_hosts.entry(host) += 1;
        }
        if log.would_block {
            self.observe_report_rule(log, host);
        }
        let outcome = log.outcome();
        if let Some(credential) = &log.credential {
            let row = self.credentials.entry(credential);
            row.credential.clone_from(credential);
            if outcome == Outcome::Injected {
                row.injections += 1;
                *row.seen.entry(customer_label(log)) += 1;
            } else if outcome == Outcome::Failed {
                row.failed += 1;
                row.unavailable +=
                    u64::from(log.error.as_deref() == Some("credential_unavailable"));
            }
        }
        if outcome == Outcome::Failed {
            let error = log.error.as_deref().unwrap_or("no_upstream_status");
            let key = format!("{} {error}", log.action.as_str());
            *self.failures.entry(&key) += 1;
        }
        if let Some(error) = &log.error {
            *self.errors.entry(error) += 1;
        }
        *self.statuses.entry(status_class(log.status)).or_insert(0) += 1;
    }

    /// One row per revision and where it came from: the same policy embedded and as bundle 7
    /// are two rows. Lines of revisions past the first 1,000 count in the totals only.
    fn observe_revision(&mut self, log: &DecisionLog, ts: Option<&Timestamp>) {
        let policy = &log.policy;
        let source = policy.source.map_or("", PolicySource::as_str);
        let serial = policy.serial.map(|s| s.to_string()).unwrap_or_default();
        let name = policy.name.as_deref().unwrap_or("");
        let row = (self.revisions).entry(&format!("{}\n{name}\n{source}\n{serial}", policy.sha256));
        if row.counts.total == 0 {
            (row.name, row.sha256) = (policy.name.clone(), policy.sha256.clone());
            (row.source, row.serial) = (policy.source, policy.serial);
        }
        row.counts.add(log);
        if let Some(t) = ts {
            row.span.widen(t);
        }
    }

    /// Global report mode has no report rule: the would-block reason names it.
    fn observe_report_rule(&mut self, log: &DecisionLog, host: &str) {
        let key = rule_label(log.report_rule.as_ref(), log.reason.as_ref());
        let row = self.report_rules.entry(&key);
        row.rule = key;
        row.counts.add(log);
        *row.seen.entry(customer_label(log)) += 1;
        *row.seen_hosts.entry(host) += 1;
    }

    /// Freezes the aggregates together with what reading the inputs found; the top lists
    /// show `top` entries.
    pub fn finish(self, read: &ReadReport, top: usize) -> Summary {
        let notes = self.notes();
        let revisions = self.revisions.iter().map(|(_, r)| r.clone());
        let report_rules = self.report_rules.iter().map(|(_, r)| ReportRuleRow {
            customers_affected: r.seen.iter().count() as u64 + u64::from(r.seen.other().is_some()),
            customers: key_counts(&r.seen, top),
            hosts: key_counts(&r.seen_hosts, top),
            ..r.clone()
        });
        let credentials = self.credentials.iter().map(|(_, c)| CredentialRow {
            customers: key_counts(&c.seen, top),
            ..c.clone()
        });
        let (customers, rules) = (self.customer_rows(), self.rule_rows());
        let by_injections = |c: &CredentialRow| (Reverse(c.injections), c.credential.clone());
        Summary {
            integrity: read.integrity.clone(),
            inputs: read.inputs.clone(),
            decisions: self.actions.total,
            time_range: self.span.first.is_some().then_some(self.span),
            actions: self.actions,
            revisions: ranked(revisions, |r| {
                let [first, _] = r.span.texts();
                (first, r.sha256.clone())
            }),
            customers,
            rules,
            top_blocked_hosts: key_counts(&self.blocked_hosts, top),
            report_rules: ranked(report_rules, |r| (Reverse(r.counts.total), r.rule.clone())),
            credentials: ranked(credentials, by_injections),
            failures: key_counts(&self.failures, usize::MAX),
            upstream_errors: key_counts(&self.errors, usize::MAX),
            upstream_status: self.statuses,
            other_messages: read.other_messages,
            problems: read.problems.clone(),
            notes,
        }
    }

    /// Per customer, the lines without one last (key null), most decisions first.
    fn customer_rows(&self) -> Vec<CountRow> {
        let rows = entries(&self.customers).map(|(key, counts)| (Some(key), *counts));
        let none = (self.no_customer.total > 0).then_some((None, self.no_customer));
        let rows = rows
            .chain(none)
            .map(|(key, counts)| CountRow { key, counts });
        ranked(rows, |r| (Reverse(r.counts.total), r.key.clone()))
    }

    /// Per deciding rule, then per reason of the decisions no rule made, most first.
    fn rule_rows(&self) -> Vec<RuleRow> {
        let rules = entries(&self.rules).map(|(rule, counts)| (Some(rule), None, *counts));
        let reason = |r: &String| (!r.is_empty()).then(|| r.clone());
        let ruleless = self.ruleless.iter().map(|(r, c)| (None, reason(r), *c));
        let rows = (rules.chain(ruleless)).map(|(rule, reason, counts)| RuleRow {
            rule,
            reason,
            counts,
        });
        ranked(rows, |r| {
            (Reverse(r.counts.total), r.rule.clone(), r.reason.clone())
        })
    }

    /// Caveats about the figures.
    fn notes(&self) -> Vec<String> {
        let pooled = [("customer", &self.customers), ("rule", &self.rules)];
        let mut notes: Vec<String> = (pooled.iter())
            .filter(|(_, map)| map.other_observations() > 0)
            .map(|(what, map)| format!(
                "{} lines had a {what} beyond the first {MAX_KEYS} distinct ones and are counted under `{OTHER}`",
                map.other_observations()
            ))
            .collect();
        if self.bad_timestamps > 0 {
            notes.push(format!(
                "{} decision lines have a `ts` that is not an RFC 3339 UTC time; they are left out of the time range",
                self.bad_timestamps
            ));
        }
        notes
    }
}

/// `rows` sorted by `key`.
fn ranked<T, K: Ord>(rows: impl Iterator<Item = T>, key: impl FnMut(&T) -> K) -> Vec<T> {
    let mut rows: Vec<T> = rows.collect();
    rows.sort_by_key(key);
    rows
}

/// The entries of a capped map, then its pooled keys as `(other)`.
fn entries<V: Default, const N: usize>(map: &Capped<V, N>) -> impl Iterator<Item = (String, &V)> {
    (map.iter().map(|(k, v)| (k.clone(), v))).chain(map.other().map(|v| (OTHER.to_owned(), v)))
}

/// The `n` most counted keys of `map`, most first (ties by key).
fn key_counts<const N: usize>(map: &Capped<u64, N>, n: usize) -> Vec<KeyCount> {
    let rows = entries(map).map(|(key, count)| KeyCount { key, count: *count });
    let mut rows = ranked(rows, |r| (Reverse(r.count), r.key.clone()));
    rows.truncate(n);
    rows
}

/// A rule's row key: the rule, else `(no rule: reason)`.
pub fn rule_label(rule: Option<&String>, reason: Option<&String>) -> String {
    match (rule, reason) {
        (Some(rule), _) => rule.clone(),
        (None, Some(reason)) => format!("(no rule: {reason})"),
        (None, None) => "(no rule)".into(),
    }
}

fn customer_label(log: &DecisionLog) -> &str {
    log.customer.as_deref().unwrap_or("(no customer)")
}

fn status_class(status: Option<u16>) -> String {
    match status {
        None => "none".to_owned(),
        Some(s @ 100..=599) => format!("{}xx", s / 100),
        Some(_) => "other".to_owned(),
    }
}

/// A key and how often it was seen.
#[derive(Clone, Debug, Serialize)]
pub struct KeyCount {
    /// The key.
    pub key: String,
    /// Its count.
    pub count: u64,
}

/// Counts for one policy revision.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RevisionRow {
    /// The policy's `name`.
    pub name: Option<String>,
    /// Hex SHA-256 of the policy file.
    pub sha256: String,
    /// Where the Worker had it from (`embedded`, `bundle`); absent in older lines.
    pub source: Option<PolicySource>,
    /// The bundle's serial, for `bundle`.
    pub serial: Option<u64>,
    /// Its decisions.
    pub counts: ActionCounts,
    /// Its first and last `ts`.
    #[serde(flatten)]
    pub span: Span,
}

/// Counts for one customer (`key` null: lines without a customer).
#[derive(Clone, Debug, Serialize)]
pub struct CountRow {
    /// The customer.
    pub key: Option<String>,
    /// Its decisions.
    pub counts: ActionCounts,
}

/// Counts for one deciding rule, or for decisions no rule made (`rule` null, `reason` the
/// refusal code, `default_action`, or null for the default pass).
#[derive(Clone, Debug, Serialize)]
pub struct RuleRow {
    /// The deciding rule's id.
    pub rule: Option<String>,
    /// For rule-less decisions, their reason.
    pub reason: Option<String>,
    /// Its decisions.
    pub counts: ActionCounts,
}

/// What enforcing one report-mode rule would break.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ReportRuleRow {
    /// The report rule (or `(no rule: reason)` under global report mode).
    pub rule: String,
    /// The would-blocked decisions by their actual action.
    pub counts: ActionCounts,
    /// Distinct customers affected (`(other)` counts as one past the tracking limit).
    pub customers_affected: u64,
    /// The most affected customers.
    pub customers: Vec<KeyCount>,
    /// The most affected hosts.
    pub hosts: Vec<KeyCount>,
    #[serde(skip)]
    seen: Capped<u64>,
    #[serde(skip)]
    seen_hosts: Capped<u64>,
}

/// Injections of one credential.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CredentialRow {
    /// The credential id.
    pub credential: String,
    /// Requests forwarded with it that the upstream answered.
    pub injections: u64,
    /// Requests decided for it that did not complete (502/500): not injections.
    pub failed: u64,
    /// Of the failed, those refused with 502 because it could not be minted.
    pub unavailable: u64,
    /// The customers it was injected for most.
    pub customers: Vec<KeyCount>,
    #[serde(skip)]
    seen: Capped<u64>,
}

/// The whole audit.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Whether the lines are the lines the Worker wrote.
    pub integrity: Integrity,
    /// Per input file.
    pub inputs: Vec<InputSummary>,
    /// Decision lines counted.
    pub decisions: u64,
    /// First and last `ts`.
    pub time_range: Option<Span>,
    /// By action.
    pub actions: ActionCounts,
    /// By policy revision.
    pub revisions: Vec<RevisionRow>,
    /// By customer.
    pub customers: Vec<CountRow>,
    /// By deciding rule.
    pub rules: Vec<RuleRow>,
    /// Most blocked hosts.
    pub top_blocked_hosts: Vec<KeyCount>,
    /// Report-mode rules and what enforcing them would break.
    pub report_rules: Vec<ReportRuleRow>,
    /// Injections per credential.
    pub credentials: Vec<CredentialRow>,
    /// Requests that did not complete, by decided action and `error`
    /// (`inject credential_unavailable`), most frequent first.
    pub failures: Vec<KeyCount>,
    /// `error` values.
    pub upstream_errors: Vec<KeyCount>,
    /// Upstream status classes (`none`: not forwarded or failed).
    pub upstream_status: BTreeMap<String, u64>,
    /// Console messages that are not decision lines.
    pub other_messages: u64,
    /// Bad lines.
    pub problems: ProblemTally,
    /// Caveats about the figures.
    pub notes: Vec<String>,
}
