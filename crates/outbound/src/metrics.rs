//! One Analytics Engine data point per line the Worker writes, for the dashboards and alerts
//! of docs/deploy.md ("Metrics and alerts"). The layout is a contract (the SQL there reads
//! it): the customer is the index, so Analytics Engine samples per customer;
//!
//! | field | decision | checkpoint | policy_bundle |
//! | --- | --- | --- | --- |
//! | index1 | customer (`""` when none) | `""` | `""` |
//! | blob1 | `decision` | `checkpoint` | `policy_bundle` |
//! | blob2 | action | | status |
//! | blob3 | outcome | | |
//! | blob4 | rule | | |
//! | blob5 | report_rule | | |
//! | blob6 | reason | | reason |
//! | blob7 | credential | | |
//! | blob8 | error | | |
//! | blob9 | host | | |
//! | blob10 | policy sha256 | policy sha256 | policy sha256 (active) |
//! | blob11 | policy source | policy source | policy source (active) |
//! | blob12 | isolate | isolate | isolate |
//! | blob13 | decision_id | chain | |
//! | double1 | duration_ms | | |
//! | double2 | seq | seq | seq |
//! | double3 | would_block (0/1) | | |
//! | double4 | status (0 when none) | | |
//! | double5 | policy serial | policy serial | serial of the bundle read |
//! | double6 | sent (0/1) | | |
//!
//! Empty text is `""`, a missing number 0. The index is at most the first 96 bytes of the
//! customer (Analytics Engine refuses a longer index; a customer name may have 256). The data point also anchors the log: each one names
//! its isolate and sequence number outside the log channel, so `audit --anchors` finds lines
//! deleted from the log.

use egress_policy_engine::log::prefix;
use egress_policy_engine::{DecisionLog, PolicyRef, PolicySource};

use serde::Serialize;

/// The longest index Analytics Engine takes, in bytes.
pub const MAX_INDEX_BYTES: usize = 96;

/// A data point as `writeDataPoint` takes it, borrowing its text from the line.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DataPoint<'a> {
    /// The sampling key: the customer.
    pub indexes: [&'a str; 1],
    /// Text fields, by position (see the module docs).
    pub blobs: Vec<&'a str>,
    /// Numbers, by position: whole ones, which Analytics Engine stores as doubles (exact up
    /// to 2^53, far above any serial, sequence number or duration here).
    pub doubles: Vec<u64>,
}

/// The data point of a decision line.
pub fn decision(line: &DecisionLog) -> DataPoint<'_> {
    let customer = line.customer.as_deref().unwrap_or_default();
    DataPoint {
        indexes: [prefix(customer, MAX_INDEX_BYTES)],
        blobs: vec![
            "decision",
            line.action.as_str(),
            line.outcome().as_str(),
            line.rule.as_deref().unwrap_or_default(),
            line.report_rule.as_deref().unwrap_or_default(),
            line.reason.as_deref().unwrap_or_default(),
            line.credential.as_deref().unwrap_or_default(),
            line.error.as_deref().unwrap_or_default(),
            line.host.as_deref().unwrap_or_default(),
            &line.policy.sha256,
            line.policy.source.map_or("", PolicySource::as_str),
            line.trail.isolate.as_deref().unwrap_or_default(),
            &line.decision_id,
        ],
        doubles: vec![
            line.duration_ms,
            line.trail.seq.unwrap_or(0),
            u64::from(line.would_block),
            u64::from(line.status.unwrap_or(0)),
            line.policy.serial.unwrap_or(0),
            u64::from(line.sent()),
        ],
    }
}

/// The data point of an event line (`checkpoint` or `policy_bundle`): `status`, `reason` and
/// `serial` as the event has them, `policy` the policy deciding, `trail` its chain fields.
pub fn event<'a>(
    kind: &'a str,
    status: Option<&'a str>,
    reason: Option<&'a str>,
    serial: Option<u64>,
    policy: &'a PolicyRef,
    trail: &'a egress_policy_engine::log_chain::Trail,
) -> DataPoint<'a> {
    let status = status.unwrap_or_default();
    let reason = reason.unwrap_or_default();
    let sha256 = &policy.sha256;
    let source = policy.source.map_or("", PolicySource::as_str);
    let isolate = trail.isolate.as_deref().unwrap_or_default();
    let chain = trail.chain.as_deref().unwrap_or_default();
    let seq = trail.seq.unwrap_or(0);
    let serial = serial.or(policy.serial).unwrap_or(0);
    // The decision's layout, its fields an event does not have empty (module docs).
    DataPoint {
        indexes: [""],
        blobs: vec![
            kind, status, "", "", "", reason, "", "", "", sha256, source, isolate, chain,
        ],
        doubles: vec![0, seq, 0, 0, serial, 0],
    }
}
