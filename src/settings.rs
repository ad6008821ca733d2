//! The Worker's settings, read from `env` once per isolate (`env` does not change within
//! one: a new value is a new deployment). Every name is documented in docs/deploy.md.
//!
//! - `EGRESS_UPSTREAM_TIMEOUT_MS`: how long a forwarded request may wait for the upstream's
//!   response headers (default 25,000, below the platform's 30 s grace after a caller
//!   leaves), then it is answered 504 `egress_upstream_timeout`.
//! - `EGRESS_LOG_KEY` (a secret, at least 32 bytes): the key of the log lines' chain
//!   (`hmac-sha256`); without it the chain is a plain hash (`sha256`).
//!   `EGRESS_LOG_CHECKPOINT_SECS` (60): how often an isolate writes a checkpoint line.
//!   `CF_VERSION_METADATA` (the version metadata binding): the Worker version lines name.
//! - Bundles, only with the KV namespace binding `EGRESS_POLICY_KV`:
//!   `EGRESS_BUNDLE_PUBLIC_KEY` (required), `EGRESS_BUNDLE_ENVIRONMENT` (required),
//!   `EGRESS_BUNDLE_KEY` (default `policy-bundle`; its head is read at `KEY:head`),
//!   `EGRESS_BUNDLE_REFRESH_SECS` (30, at least 1), `EGRESS_BUNDLE_WAIT_MS` (1,000),
//!   `EGRESS_BUNDLE_READ_TIMEOUT_MS` (10,000), `EGRESS_BUNDLE_MIN_SERIAL` (0).
//!
//! A setting that cannot be used is never guessed, and is logged once per isolate, naming the
//! setting, never its value: bundle settings that do not parse turn bundles off (the embedded
//! policy decides); an upstream timeout or checkpoint interval that does not parse is the
//! default; a log key that is too short is not used.

use std::cell::OnceCell;
use std::rc::Rc;

use egress_policy_engine::bundle::{public_key_from_text, valid_environment};
use egress_policy_outbound::bundle_state::{
    DEFAULT_READ_TIMEOUT_MS, DEFAULT_REFRESH_SECS, DEFAULT_WAIT_MS, Timing, Trust,
};
use wasm_bindgen::JsValue;
use worker::Env;

use crate::embedded;

/// The default of `EGRESS_UPSTREAM_TIMEOUT_MS`.
const DEFAULT_UPSTREAM_TIMEOUT_MS: u64 = 25_000;
/// The default of `EGRESS_LOG_CHECKPOINT_SECS`.
const DEFAULT_CHECKPOINT_SECS: u64 = 60;
/// The shortest `EGRESS_LOG_KEY` used (HMAC-SHA256's output size).
const MIN_LOG_KEY_BYTES: usize = 32;
/// The KV key read when `EGRESS_BUNDLE_KEY` is not set.
const DEFAULT_KEY: &str = "policy-bundle";

/// How this deployment takes up bundles.
pub struct BundleSettings {
    /// The KV key of the bundle (its head's is `KEY:head`).
    pub key: String,
    /// When to read.
    pub timing: Timing,
    /// What a bundle must satisfy: this Worker's environment, the key bundles must be signed
    /// with, the floor of their serials.
    pub trust: Trust<'static>,
}

/// Everything the Worker reads from `env` besides identity and credentials' secrets.
pub struct Settings {
    /// Milliseconds a forwarded request waits for the upstream's response headers.
    pub upstream_timeout_ms: u64,
    /// How bundles are taken up: `None` without the KV binding, or when a bundle setting
    /// cannot be used (named in `problems`).
    pub bundles: Option<Rc<BundleSettings>>,
    /// The key of the log lines' chain.
    pub log_key: Option<Vec<u8>>,
    /// Milliseconds between two checkpoint lines of an isolate.
    pub checkpoint_ms: u64,
    /// The Worker's version id, from the version metadata binding.
    pub worker_version: Option<String>,
    /// Whether the Analytics Engine binding `EGRESS_METRICS` is there (bindings do not
    /// change within an isolate; its object is still taken from each request's `env`).
    pub metrics: bool,
    /// What could not be used, as (event, reason naming the setting) for the log.
    pub problems: Vec<(&'static str, String)>,
}

thread_local! {
    static SETTINGS: OnceCell<Rc<Settings>> = const { OnceCell::new() };
}

/// The settings, read on the isolate's first request (its first line names what cannot be
/// used: `journal`).
pub fn settings(env: &Env) -> Rc<Settings> {
    SETTINGS.with(|cell| Rc::clone(cell.get_or_init(|| Rc::new(read(env)))))
}

/// The text of the Worker secret, variable or plain-text binding `name`, if it is set.
pub fn text(env: &Env, name: &str) -> Option<String> {
    present(env, &name.into()).and_then(|value| value.as_string())
}

/// `source[key]`, when set (not `undefined` or `null`).
pub fn present(source: &JsValue, key: &JsValue) -> Option<JsValue> {
    let value = js_sys::Reflect::get(source, key).ok()?;
    (!value.is_undefined() && !value.is_null()).then_some(value)
}

/// The whole number `name` holds, `default` when it is not set.
fn number(env: &Env, name: &str, default: u64) -> Result<u64, String> {
    text(env, name).map_or(Ok(default), |value| {
        value
            .trim()
            .parse()
            .map_err(|_| format!("{name} is not a whole number"))
    })
}

fn read(env: &Env) -> Settings {
    let mut problems = Vec::new();
    let mut or_default = |name: &str, default: u64| {
        number(env, name, default).unwrap_or_else(|problem| {
            problems.push(("settings", problem));
            default
        })
    };
    let upstream_timeout_ms =
        or_default("EGRESS_UPSTREAM_TIMEOUT_MS", DEFAULT_UPSTREAM_TIMEOUT_MS).max(1);
    let checkpoint_ms = or_default("EGRESS_LOG_CHECKPOINT_SECS", DEFAULT_CHECKPOINT_SECS)
        .max(1)
        .saturating_mul(1000);
    let log_key = text(env, "EGRESS_LOG_KEY").map(String::into_bytes);
    let short_key = matches!(&log_key, Some(key) if key.len() < MIN_LOG_KEY_BYTES);
    if short_key {
        problems.push((
            "settings",
            format!("EGRESS_LOG_KEY is shorter than {MIN_LOG_KEY_BYTES} bytes: the log chain is not keyed"),
        ));
    }
    let bundles = present(env, &"EGRESS_POLICY_KV".into()).and_then(|_| {
        let bundles =
            bundle_settings(env).map_err(|problem| problems.push(("policy_bundle", problem)));
        bundles.ok().map(Rc::new)
    });
    Settings {
        upstream_timeout_ms,
        bundles,
        log_key: log_key.filter(|_| !short_key),
        checkpoint_ms,
        worker_version: present(env, &"CF_VERSION_METADATA".into())
            .and_then(|metadata| present(&metadata, &"id".into()))
            .and_then(|id| id.as_string()),
        metrics: present(env, &"EGRESS_METRICS".into()).is_some(),
        problems,
    }
}

/// The bundle settings, or the one that cannot be used.
fn bundle_settings(env: &Env) -> Result<BundleSettings, String> {
    let key = text(env, "EGRESS_BUNDLE_PUBLIC_KEY")
        .as_deref()
        .and_then(public_key_from_text)
        .ok_or("EGRESS_BUNDLE_PUBLIC_KEY is missing or not an Ed25519 public key")?;
    let environment = text(env, "EGRESS_BUNDLE_ENVIRONMENT")
        .filter(|name| valid_environment(name))
        .ok_or("EGRESS_BUNDLE_ENVIRONMENT is missing or not an environment name")?;
    let setting = |name: &str, default: u64| number(env, name, default);
    Ok(BundleSettings {
        key: text(env, "EGRESS_BUNDLE_KEY").unwrap_or_else(|| DEFAULT_KEY.to_owned()),
        timing: Timing {
            refresh_ms: setting("EGRESS_BUNDLE_REFRESH_SECS", DEFAULT_REFRESH_SECS)?
                .max(1)
                .saturating_mul(1000),
            wait_ms: setting("EGRESS_BUNDLE_WAIT_MS", DEFAULT_WAIT_MS)?,
            read_timeout_ms: setting("EGRESS_BUNDLE_READ_TIMEOUT_MS", DEFAULT_READ_TIMEOUT_MS)?
                .max(1),
        },
        trust: Trust {
            key,
            environment,
            embedded: embedded::policy_ref(),
            min_serial: setting("EGRESS_BUNDLE_MIN_SERIAL", 0)?,
        },
    })
}
