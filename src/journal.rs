//! Every line the Worker writes: sealed into the isolate's chain (`isolate`, `seq`, `chain`,
//! its Worker and engine versions), written with `console.log` as one plain JS object (so
//! Workers Logs indexes its fields and Tail Workers receive it structured), and with an
//! Analytics Engine data point when the `EGRESS_METRICS` binding is there.
//!
//! The isolate's first line is a checkpoint, and so is its first line after every
//! `EGRESS_LOG_CHECKPOINT_SECS`: its data point is the anchor `audit --anchors` holds the log
//! to, outside the log channel (docs/decision-log.md, "What the chain proves").

use std::cell::RefCell;

use egress_policy_engine::log_chain::{Chain, Trail, hex};
use egress_policy_engine::{DecisionLog, PolicyRef};
use egress_policy_outbound::log::EventLine;
use egress_policy_outbound::metrics::{self, DataPoint};
use serde::Serialize;
use wasm_bindgen::JsValue;
use worker::Env;

use crate::live::embedded_ref;
use crate::runtime::{call, guarded, now_ms, random};
use crate::settings::settings;

/// An isolate's chain and when it last wrote a checkpoint.
struct Journal {
    chain: Chain,
    checkpoint_ms: u64,
    last_checkpoint_ms: Option<u64>,
}

thread_local! {
    static JOURNAL: RefCell<Option<Journal>> = const { RefCell::new(None) };
}

/// What a `misconfigured` line says: the setting at fault, never its value.
#[derive(Serialize)]
struct Misconfigured<'a> {
    status: &'static str,
    reason: &'a str,
    active: &'a PolicyRef,
}

/// Writes a decision line (after a checkpoint, when one is due).
pub fn decision(env: &Env, mut line: DecisionLog) {
    with_journal(env, |journal| {
        journal.checkpoint_if_due(env);
        journal.seal_and_write(&mut line, |l| &mut l.trail);
        record(env, || metrics::decision(&line));
    });
}

/// Writes a policy bundle event's line.
pub fn bundle_event(env: &Env, event: &egress_policy_outbound::bundle_state::BundleEvent) {
    with_journal(env, |journal| {
        let trail = journal.event(event.line(now_ms()));
        let status = serde_json::to_value(event.status).ok();
        record(env, || {
            metrics::event(
                "policy_bundle",
                status.as_ref().and_then(|s| s.as_str()),
                event.reason,
                event.serial,
                &event.active,
                &trail,
            )
        });
    });
}

/// Writes the `settings` line of a credential's next key that could not sign (its secret
/// named, never its value: `Minter::check_next`).
pub fn next_key_problem(env: &Env, reason: &str, active: &PolicyRef) {
    with_journal(env, |journal| {
        let trail = journal.misconfigured("settings", reason, active);
        let status = Some("misconfigured");
        record(env, || {
            metrics::event("settings", status, None, None, active, &trail)
        });
    });
}

impl Journal {
    /// The isolate's journal, its first lines written: a checkpoint, then what of the
    /// settings could not be used.
    fn new(env: &Env) -> Journal {
        let settings = settings(env);
        let mut journal = Journal {
            chain: Chain::new(
                isolate_id(),
                settings.worker_version.clone(),
                settings.log_key.clone(),
            ),
            checkpoint_ms: settings.checkpoint_ms,
            last_checkpoint_ms: None,
        };
        journal.checkpoint_if_due(env);
        for (event, reason) in &settings.problems {
            journal.misconfigured(event, reason, embedded_ref());
        }
        journal
    }

    /// Seals `line` into the chain and writes it with `console.log`, as one plain JS object
    /// (parsed from the text the seal wrote: the line is serialised once).
    fn seal_and_write<L: Serialize>(&mut self, line: &mut L, trail: impl Fn(&mut L) -> &mut Trail) {
        if let Ok(object) = js_sys::JSON::parse(&self.chain.seal(line, trail)) {
            web_sys::console::log_1(&object);
        }
    }

    /// Writes an event line; its chain fields, for its data point.
    fn event<B: Serialize>(&mut self, mut line: EventLine<'_, B>) -> Trail {
        self.seal_and_write(&mut line, |l| &mut l.trail);
        line.trail
    }

    /// Writes a `misconfigured` line of `event`; its chain fields, for its data point.
    fn misconfigured(&mut self, event: &'static str, reason: &str, active: &PolicyRef) -> Trail {
        let body = Misconfigured {
            status: "misconfigured",
            reason,
            active,
        };
        self.event(EventLine::new(event, now_ms(), &body))
    }

    /// The first line of the isolate, and the first after the interval, is preceded by a
    /// checkpoint.
    fn checkpoint_if_due(&mut self, env: &Env) {
        let now = now_ms();
        if self
            .last_checkpoint_ms
            .is_some_and(|last| now.saturating_sub(last) < self.checkpoint_ms)
        {
            return;
        }
        self.last_checkpoint_ms = Some(now);
        // A checkpoint line has no fields but its chain's.
        let trail = self.event(EventLine::new("checkpoint", now, &()));
        record(env, || {
            metrics::event("checkpoint", None, None, None, embedded_ref(), &trail)
        });
    }
}

/// Runs `f` with the isolate's journal, made on its first line.
fn with_journal(env: &Env, f: impl FnOnce(&mut Journal)) {
    let _done = guarded(|| {
        JOURNAL.with(|cell| {
            if let Ok(mut slot) = cell.try_borrow_mut() {
                f(slot.get_or_insert_with(|| Journal::new(env)));
            }
        });
    });
}

/// 64 random bits, as 16 hex digits; should the runtime's randomness fail, the time (still
/// told apart by `worker` and the chain).
fn isolate_id() -> String {
    let mut bytes = [0u8; 8];
    if !random(&mut bytes) {
        bytes = now_ms().to_be_bytes();
    }
    hex(&bytes)
}

/// `env.EGRESS_METRICS.writeDataPoint(point)`, not awaited (it returns nothing), when the
/// binding is there; `point` as a plain JS object (through JSON), as Analytics Engine takes it.
fn record<'a>(env: &Env, point: impl FnOnce() -> DataPoint<'a>) {
    if settings(env).metrics
        && let Ok(dataset) = js_sys::Reflect::get(env, &JsValue::from_str("EGRESS_METRICS"))
        && let Ok(json) = serde_json::to_string(&point())
        && let Ok(point) = js_sys::JSON::parse(&json)
    {
        let _ = call(&dataset, "writeDataPoint", &[&point]);
    }
}
