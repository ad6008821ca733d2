//! The Worker's settings, read from `env` once per isolate (`env` does not change within
//! one: a new value is a new deployment). Every name is documented in docs/deploy.md.
//!
//! - `EGRESS_UPSTREAM_TIMEOUT_MS`: how long a forwarded request may wait for the upstream's
//!   response headers (default 25,000, below the platform's 30 s grace after a caller
//!   leaves), then it is answered 504 `egress_upstream_timeout`.
//! - Bundles, only with the KV namespace binding `EGRESS_POLICY_KV`:
//!   `EGRESS_BUNDLE_PUBLIC_KEY` (required), `EGRESS_BUNDLE_ENVIRONMENT` (required),
//!   `EGRESS_BUNDLE_KEY` (default `policy-bundle`; its head is read at `KEY:head`),
//!   `EGRESS_BUNDLE_REFRESH_SECS` (30, at least 1), `EGRESS_BUNDLE_WAIT_MS` (1,000),
//!   `EGRESS_BUNDLE_READ_TIMEOUT_MS` (10,000), `EGRESS_BUNDLE_MIN_SERIAL` (0).
//!
//! A setting that cannot be used is never guessed, and is logged once per isolate, naming the
//! setting, never its value: bundle settings that do not parse turn bundles off (the embedded
//! policy decides); an upstream timeout that does not parse is the default.

use std::cell::OnceCell;
use std::rc::Rc;

use egress_policy_engine::bundle::{VerifyingKey, public_key_from_text, valid_environment};
use egress_policy_outbound::bundle_state::{
    DEFAULT_READ_TIMEOUT_MS, DEFAULT_REFRESH_SECS, DEFAULT_WAIT_MS, Timing,
};
use wasm_bindgen::JsValue;
use worker::Env;

/// The default of `EGRESS_UPSTREAM_TIMEOUT_MS`.
const DEFAULT_UPSTREAM_TIMEOUT_MS: u64 = 25_000;
/// The KV key read when `EGRESS_BUNDLE_KEY` is not set.
const DEFAULT_KEY: &str = "policy-bundle";

/// How this deployment takes up bundles.
pub struct BundleSettings {
    /// The KV key of the bundle.
    pub key: String,
    /// The KV key of its head.
    pub head_key: String,
    /// This Worker's environment.
    pub environment: String,
    /// The key bundles must be signed with.
    pub trusted: VerifyingKey,
    /// When to read.
    pub timing: Timing,
    /// Bundles below this serial are refused.
    pub min_serial: u64,
}

/// Everything the Worker reads from `env` besides identity and secrets.
pub struct Settings {
    /// Milliseconds a forwarded request waits for the upstream's response headers.
    pub upstream_timeout_ms: u64,
    /// Why `EGRESS_UPSTREAM_TIMEOUT_MS` was not used, if it was not.
    pub timeout_problem: Option<String>,
    /// `None` without the KV binding; `Err` names the setting that cannot be used.
    pub bundles: Option<Result<Rc<BundleSettings>, String>>,
}

thread_local! {
    static SETTINGS: OnceCell<Rc<Settings>> = const { OnceCell::new() };
}

/// The settings, read on the isolate's first request (which logs what cannot be used).
pub fn settings(env: &Env) -> Rc<Settings> {
    SETTINGS.with(|cell| {
        Rc::clone(cell.get_or_init(|| {
            let settings = read(env);
            let problems = [
                settings.timeout_problem.as_deref().map(|p| ("settings", p)),
                match &settings.bundles {
                    Some(Err(problem)) => Some(("policy_bundle", problem.as_str())),
                    _ => None,
                },
            ];
            for (event, problem) in problems.into_iter().flatten() {
                report_misconfiguration(event, problem);
            }
            Rc::new(settings)
        }))
    })
}

/// One line naming a setting that cannot be used (never its value).
fn report_misconfiguration(event: &str, problem: &str) {
    let now = crate::runtime::now_ms();
    crate::runtime::log_json(&serde_json::json!({
        "v": egress_policy_engine::LOG_SCHEMA_VERSION,
        "ts": egress_policy_engine::time::rfc3339_millis(now),
        "event": event,
        "status": "misconfigured",
        "reason": problem,
        "active": crate::live::embedded_ref(),
    }));
}

fn read(env: &Env) -> Settings {
    let text = |name: &str| {
        js_sys::Reflect::get(env, &JsValue::from_str(name))
            .ok()
            .and_then(|value| value.as_string())
    };
    let number = |name: &str, default: u64| -> Result<u64, String> {
        text(name).map_or(Ok(default), |value| {
            value
                .trim()
                .parse()
                .map_err(|_| format!("{name} is not a whole number"))
        })
    };
    let bound = js_sys::Reflect::get(env, &JsValue::from_str("EGRESS_POLICY_KV"))
        .is_ok_and(|kv| !kv.is_undefined() && !kv.is_null());
    let bundles = bound.then(|| {
        let trusted = text("EGRESS_BUNDLE_PUBLIC_KEY")
            .as_deref()
            .and_then(public_key_from_text)
            .ok_or("EGRESS_BUNDLE_PUBLIC_KEY is missing or not an Ed25519 public key")?;
        let environment = text("EGRESS_BUNDLE_ENVIRONMENT")
            .filter(|name| valid_environment(name))
            .ok_or("EGRESS_BUNDLE_ENVIRONMENT is missing or not an environment name")?;
        let key = text("EGRESS_BUNDLE_KEY").unwrap_or_else(|| DEFAULT_KEY.to_owned());
        Ok(Rc::new(BundleSettings {
            head_key: format!("{key}:head"),
            key,
            environment,
            trusted,
            timing: Timing {
                refresh_ms: number("EGRESS_BUNDLE_REFRESH_SECS", DEFAULT_REFRESH_SECS)?
                    .max(1)
                    .saturating_mul(1000),
                wait_ms: number("EGRESS_BUNDLE_WAIT_MS", DEFAULT_WAIT_MS)?,
                read_timeout_ms: number("EGRESS_BUNDLE_READ_TIMEOUT_MS", DEFAULT_READ_TIMEOUT_MS)?
                    .max(1),
            },
            min_serial: number("EGRESS_BUNDLE_MIN_SERIAL", 0)?,
        }))
    });
    let timeout = number("EGRESS_UPSTREAM_TIMEOUT_MS", DEFAULT_UPSTREAM_TIMEOUT_MS);
    Settings {
        upstream_timeout_ms: timeout
            .as_ref()
            .map_or(DEFAULT_UPSTREAM_TIMEOUT_MS, |ms| (*ms).max(1)),
        timeout_problem: timeout.err(),
        bundles,
    }
}
