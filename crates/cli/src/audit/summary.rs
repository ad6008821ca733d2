//! The audit aggregates: built line by line in bounded memory, then frozen into a
//! serialisable [`Summary`] that the text, JSON and HTML outputs render.

use std::collections::BTreeMap;

use egress_policy_engine::{Action, DecisionLog, Outcome, PolicySource};
use serde::Serialize;

use super::bounded::{Capped, Hitter, TopK};
use super::time::Timestamp;
use crate::logs::{InputSummary, ProblemTally, ReadReport};

/// Distinct customers, rules, revisions... counted by key before the rest are pooled.
const MAX_KEYS: usize = 10_000;
/// Distinct keys inside one report rule or credential (customers affected).
const MAX_INNER_KEYS: usize = 1_000;
/// Hosts tracked per report rule for its top list.
const REPORT_HOSTS_TRACKED: usize = 200;

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
        if log.would_block {
            self.would_block += 1;
        }
    }
}

#[derive(Debug, Default)]
struct RevisionAgg {
    name: Option<String>,
    sha256: String,
    source: Option<PolicySource>,
    serial: Option<u64>,
    counts: ActionCounts,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
}

#[derive(Debug)]
struct ReportAgg {
    counts: ActionCounts,
    customers: Capped<u64>,
    hosts: TopK,
}

impl Default for ReportAgg {
    fn default() -> ReportAgg {
        ReportAgg {
            counts: ActionCounts::default(),
            customers: Capped::new(MAX_INNER_KEYS),
            hosts: TopK::new(REPORT_HOSTS_TRACKED),
        }
    }
}

#[derive(Debug)]
struct CredentialAgg {
    injections: u64,
    failed: u64,
    unavailable: u64,
    customers: Capped<u64>,
}

impl Default for CredentialAgg {
    fn default() -> CredentialAgg {
        CredentialAgg {
            injections: 0,
            failed: 0,
            unavailable: 0,
            customers: Capped::new(MAX_INNER_KEYS),
        }
    }
}

/// Accumulates decision lines.
#[derive(Debug)]
pub struct Auditor {
    top: usize,
    actions: ActionCounts,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    bad_timestamps: u64,
    revisions: Capped<RevisionAgg>,
    customers: Capped<ActionCounts>,
    no_customer: ActionCounts,
    rules: Capped<ActionCounts>,
    ruleless: Capped<ActionCounts>,
    blocked_hosts: TopK,
    report_rules: Capped<ReportAgg>,
    credentials: Capped<CredentialAgg>,
    errors: Capped<u64>,
    failures: Capped<u64>,
    statuses: BTreeMap<&'static str, u64>,
}

impl Auditor {
    /// `top` is how many entries the top lists show.
    pub fn new(top: usize) -> Auditor {
        Auditor {
            top,
            actions: ActionCounts::default(),
            first: None,
            last: None,
            bad_timestamps: 0,
            revisions: Capped::new(MAX_INNER_KEYS),
            customers: Capped::new(MAX_KEYS),
            no_customer: ActionCounts::default(),
            rules: Capped::new(MAX_KEYS),
            ruleless: Capped::new(MAX_INNER_KEYS),
            blocked_hosts: TopK::new(top.saturating_mul(50).max(1_000)),
            report_rules: Capped::new(MAX_INNER_KEYS),
            credentials: Capped::new(MAX_INNER_KEYS),
            errors: Capped::new(64),
            failures: Capped::new(64),
            statuses: BTreeMap::new(),
        }
    }

    /// Counts one decision line.
    pub fn observe(&mut self, log: &DecisionLog) {
        self.actions.add(log);
        let ts = Timestamp::parse(&log.ts);
        match &ts {
            Some(t) => {
                widen(&mut self.first, &mut self.last, t);
            }
            None => self.bad_timestamps += 1,
        }

        // One row per revision and where it came from: the same policy embedded and as
        // bundle 7 are two rows.
        let revision_key = format!(
            "{}\n{}\n{}\n{}",
            log.policy.sha256,
            log.policy.name.as_deref().unwrap_or(""),
            log.policy.source.map_or("", PolicySource::as_str),
            log.policy.serial.map(|s| s.to_string()).unwrap_or_default()
        );
        let revision = self.revisions.entry(&revision_key);
        if revision.counts.total == 0 {
            revision.name.clone_from(&log.policy.name);
            revision.sha256.clone_from(&log.policy.sha256);
            revision.source = log.policy.source;
            revision.serial = log.policy.serial;
        }
        revision.counts.add(log);
        if let Some(t) = &ts {
            widen(&mut revision.first, &mut revision.last, t);
        }

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
            self.blocked_hosts.add(host);
        }
        if log.would_block {
            // Global report mode has no report rule: the would-block reason names it.
            let key = match (&log.report_rule, &log.reason) {
                (Some(rule), _) => rule.clone(),
                (None, Some(reason)) => format!("(no rule: {reason})"),
                (None, None) => "(no rule)".to_string(),
            };
            let report = self.report_rules.entry(&key);
            report.counts.add(log);
            *report.customers.entry(customer_label(log)) += 1;
            report.hosts.add(host);
        }
        let outcome = log.outcome();
        if let Some(credential) = &log.credential {
            let agg = self.credentials.entry(credential);
            match outcome {
                Outcome::Injected => {
                    agg.injections += 1;
                    *agg.customers.entry(customer_label(log)) += 1;
                }
                Outcome::Failed => {
                    agg.failed += 1;
                    if log.error.as_deref() == Some("credential_unavailable") {
                        agg.unavailable += 1;
                    }
                }
                Outcome::Blocked | Outcome::Forwarded => {}
            }
        }
        if outcome == Outcome::Failed {
            let key = format!(
                "{} {}",
                log.action.as_str(),
                log.error.as_deref().unwrap_or("no_upstream_status")
            );
            *self.failures.entry(&key) += 1;
        }
        if let Some(error) = &log.error {
            *self.errors.entry(error) += 1;
        }
        *self.statuses.entry(status_class(log.status)).or_insert(0) += 1;
    }

    /// Freezes the aggregates together with what reading the inputs found.
    pub fn finish(self, read: ReadReport) -> Summary {
        let top = self.top;
        let mut notes = Vec::new();
        let mut pooled = |what: &str, n: u64| {
            if n > 0 {
                notes.push(format!(
                    "{n} lines had a {what} beyond the first {MAX_KEYS} distinct ones and are counted under `(other)`"
                ));
            }
        };
        pooled("customer", self.customers.other_observations());
        pooled("rule", self.rules.other_observations());
        if self.blocked_hosts.is_approximate() {
            notes.push("top blocked hosts are approximate (more distinct hosts than tracked): counts are upper bounds, `error` gives the slack".to_string());
        }
        if self.bad_timestamps > 0 {
            notes.push(format!(
                "{} decision lines have a `ts` that is not an RFC 3339 UTC time; they are left out of the time range",
                self.bad_timestamps
            ));
        }

        let mut revisions: Vec<RevisionRow> = self
            .revisions
            .iter()
            .map(|(_, r)| RevisionRow {
                name: r.name.clone(),
                sha256: r.sha256.clone(),
                source: r.source,
                serial: r.serial,
                counts: r.counts,
                first: r.first.as_ref().map(|t| t.text().to_string()),
                last: r.last.as_ref().map(|t| t.text().to_string()),
            })
            .collect();
        revisions.sort_by(|a, b| a.first.cmp(&b.first).then_with(|| a.sha256.cmp(&b.sha256)));

        let mut customers: Vec<CountRow> = self
            .customers
            .iter()
            .map(|(k, c)| CountRow {
                key: Some(k.clone()),
                counts: *c,
            })
            .collect();
        if let Some(other) = self.customers.other() {
            customers.push(CountRow {
                key: Some("(other)".into()),
                counts: *other,
            });
        }
        if self.no_customer.total > 0 {
            customers.push(CountRow {
                key: None,
                counts: self.no_customer,
            });
        }
        sort_rows(&mut customers);

        let mut rules: Vec<RuleRow> = self
            .rules
            .iter()
            .map(|(k, c)| RuleRow {
                rule: Some(k.clone()),
                reason: None,
                counts: *c,
            })
            .chain(self.rules.other().map(|c| RuleRow {
                rule: Some("(other)".into()),
                reason: None,
                counts: *c,
            }))
            .chain(self.ruleless.iter().map(|(reason, c)| RuleRow {
                rule: None,
                reason: (!reason.is_empty()).then(|| reason.clone()),
                counts: *c,
            }))
            .collect();
        rules.sort_by(|a, b| {
            b.counts
                .total
                .cmp(&a.counts.total)
                .then_with(|| a.rule.cmp(&b.rule))
                .then_with(|| a.reason.cmp(&b.reason))
        });

        let mut report_rules: Vec<ReportRuleRow> = self
            .report_rules
            .iter()
            .map(|(k, r)| ReportRuleRow {
                rule: k.clone(),
                counts: r.counts,
                customers_affected: r.customers.iter().count() as u64
                    + u64::from(r.customers.other().is_some()),
                customers: top_of(&r.customers, top),
                hosts: r.hosts.top(top),
            })
            .collect();
        report_rules.sort_by(|a, b| {
            b.counts
                .total
                .cmp(&a.counts.total)
                .then_with(|| a.rule.cmp(&b.rule))
        });

        let mut credentials: Vec<CredentialRow> = self
            .credentials
            .iter()
            .map(|(k, c)| CredentialRow {
                credential: k.clone(),
                injections: c.injections,
                failed: c.failed,
                unavailable: c.unavailable,
                customers: top_of(&c.customers, top),
            })
            .collect();
        credentials.sort_by(|a, b| {
            b.injections
                .cmp(&a.injections)
                .then_with(|| a.credential.cmp(&b.credential))
        });

        let mut errors: Vec<KeyCount> = self
            .errors
            .iter()
            .map(|(k, n)| KeyCount {
                key: k.clone(),
                count: *n,
            })
            .collect();
        errors.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));

        let mut failures: Vec<KeyCount> = self
            .failures
            .iter()
            .map(|(k, n)| KeyCount {
                key: k.clone(),
                count: *n,
            })
            .chain(self.failures.other().map(|n| KeyCount {
                key: "(other)".into(),
                count: *n,
            }))
            .collect();
        failures.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));

        Summary {
            inputs: read.inputs,
            decisions: self.actions.total,
            time_range: match (self.first, self.last) {
                (Some(first), Some(last)) => Some(TimeRange {
                    first: first.text().to_string(),
                    last: last.text().to_string(),
                }),
                _ => None,
            },
            actions: self.actions,
            revisions,
            customers,
            rules,
            top_blocked_hosts: self.blocked_hosts.top(top),
            report_rules,
            credentials,
            failures,
            upstream_errors: errors,
            upstream_status: self
                .statuses
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            other_messages: read.other_messages,
            problems: read.problems,
            notes,
        }
    }
}

fn widen(first: &mut Option<Timestamp>, last: &mut Option<Timestamp>, t: &Timestamp) {
    if first.as_ref().is_none_or(|f| t < f) {
        *first = Some(t.clone());
    }
    if last.as_ref().is_none_or(|l| t > l) {
        *last = Some(t.clone());
    }
}

fn customer_label(log: &DecisionLog) -> &str {
    log.customer.as_deref().unwrap_or("(no customer)")
}

fn status_class(status: Option<u16>) -> &'static str {
    match status {
        None => "none",
        Some(100..=199) => "1xx",
        Some(200..=299) => "2xx",
        Some(300..=399) => "3xx",
        Some(400..=499) => "4xx",
        Some(500..=599) => "5xx",
        Some(_) => "other",
    }
}

fn top_of(map: &Capped<u64>, n: usize) -> Vec<KeyCount> {
    let mut rows: Vec<KeyCount> = map
        .iter()
        .map(|(k, c)| KeyCount {
            key: k.clone(),
            count: *c,
        })
        .chain(map.other().map(|c| KeyCount {
            key: "(other)".into(),
            count: *c,
        }))
        .collect();
    rows.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    rows.truncate(n);
    rows
}

fn sort_rows(rows: &mut [CountRow]) {
    rows.sort_by(|a, b| {
        b.counts
            .total
            .cmp(&a.counts.total)
            .then_with(|| a.key.cmp(&b.key))
    });
}

/// First and last decision time.
#[derive(Clone, Debug, Serialize)]
pub struct TimeRange {
    /// Earliest `ts`.
    pub first: String,
    /// Latest `ts`.
    pub last: String,
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
#[derive(Clone, Debug, Serialize)]
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
    /// Its first `ts`.
    pub first: Option<String>,
    /// Its last `ts`.
    pub last: Option<String>,
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
#[derive(Clone, Debug, Serialize)]
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
    pub hosts: Vec<Hitter>,
}

/// Injections of one credential.
#[derive(Clone, Debug, Serialize)]
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
}

/// The whole audit.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Per input file.
    pub inputs: Vec<InputSummary>,
    /// Decision lines counted.
    pub decisions: u64,
    /// First and last `ts`.
    pub time_range: Option<TimeRange>,
    /// By action.
    pub actions: ActionCounts,
    /// By policy revision.
    pub revisions: Vec<RevisionRow>,
    /// By customer.
    pub customers: Vec<CountRow>,
    /// By deciding rule.
    pub rules: Vec<RuleRow>,
    /// Most blocked hosts.
    pub top_blocked_hosts: Vec<Hitter>,
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
