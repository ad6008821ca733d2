//! The policy that decides a request: the embedded one, or a signed bundle taken up from
//! Workers KV (`crates/outbound/src/bundle_state.rs` judges bundles; this file reads KV).
//!
//! Configuration, all in `env`; without `EGRESS_POLICY_KV` everything is as before bundles:
//! - `EGRESS_POLICY_KV`: the KV namespace binding holding the bundle;
//! - `EGRESS_BUNDLE_PUBLIC_KEY`: the Ed25519 public key bundles must be signed with
//!   (`egress-policy bundle --print-public-key`);
//! - `EGRESS_BUNDLE_KEY`: the KV key (default `policy-bundle`);
//! - `EGRESS_BUNDLE_REFRESH_SECS`: seconds between reads (default 30, at least 1);
//! - `EGRESS_BUNDLE_MIN_SERIAL`: bundles below this serial are refused even by a fresh
//!   isolate (which has no memory of the serials it saw), closing rollback across isolates.
//!
//! A KV binding without a usable public key takes up no bundle: the embedded policy decides
//! and the misconfiguration is logged once per isolate.

use std::cell::{OnceCell, RefCell};
use std::rc::Rc;
use std::sync::OnceLock;

use egress_policy_engine::bundle::{self, VerifyingKey, public_key_from_text};
use egress_policy_engine::{CompiledPolicy, PolicyRef, PolicySource};
use egress_policy_outbound::bundle_state::{
    BundleState, DEFAULT_REFRESH_SECS, Due, Fetched, LoadedBundle,
};
use wasm_bindgen::prelude::*;
use worker::Env;

use crate::embedded;
use crate::runtime::{Thenable, guarded, log_json, now_ms};

/// The KV key read when `EGRESS_BUNDLE_KEY` is not set.
const DEFAULT_KEY: &str = "policy-bundle";

/// How long an isolate's first request waits for the first read of the bundle. KV answers in
/// milliseconds when it is well; should it hang, the request is decided with the embedded
/// policy after this, and the read goes on in the background.
const FIRST_READ_WAIT_MS: i32 = 1000;

thread_local! {
    static STATE: RefCell<BundleState> = RefCell::new(BundleState::default());
    /// The bundle settings, read from `env` once per isolate (`env` does not change within
    /// one; parsing the key decompresses a curve point): `Err` holds the misconfiguration,
    /// logged once when it was found.
    static SETTINGS: OnceCell<Result<Settings, String>> = const { OnceCell::new() };
}

/// The policy deciding one request.
pub enum Active {
    /// The embedded policy (`None` if it failed to load: the Worker then fails closed).
    Embedded(Option<&'static CompiledPolicy>),
    /// A bundle taken up from KV.
    Bundle(Rc<LoadedBundle>),
}

impl Active {
    /// The policy, if one is loaded.
    pub fn policy(&self) -> Option<&CompiledPolicy> {
        match self {
            Active::Embedded(policy) => *policy,
            Active::Bundle(bundle) => Some(&bundle.policy),
        }
    }

    /// What decision lines name: the revision, its source and serial (made once per isolate
    /// or per bundle, never per request).
    pub fn policy_ref(&self) -> &PolicyRef {
        match self {
            Active::Embedded(_) => embedded_ref(),
            Active::Bundle(bundle) => &bundle.policy_ref,
        }
    }
}

/// The embedded policy's reference, naming its source.
fn embedded_ref() -> &'static PolicyRef {
    static UNKNOWN: OnceLock<PolicyRef> = OnceLock::new();
    guarded(embedded::policy_ref).unwrap_or_else(|| {
        UNKNOWN.get_or_init(|| PolicyRef::unknown().from_source(PolicySource::Embedded, None))
    })
}

/// How this deployment takes up bundles, as its `env` says.
#[derive(Clone)]
struct Settings {
    key: String,
    trusted: VerifyingKey,
    refresh_ms: u64,
    min_serial: u64,
}

/// A read to make: the KV binding and the settings.
struct Config {
    kv: JsValue,
    settings: Settings,
}

/// What to do before deciding a request.
pub enum Ready {
    /// Decide now with this policy.
    Now(Active),
    /// Decide when this promise settles (the isolate's first read of the bundle), with
    /// [`current`] then.
    After(js_sys::Promise),
}

/// The policy to decide with now, starting a background read of the bundle when one is due
/// (handed to `wait_until` so the read outlives the request).
pub fn ready(env: &Env, wait_until: impl FnOnce(&js_sys::Promise)) -> Ready {
    let Some(config) = config(env) else {
        return Ready::Now(current());
    };
    let due = STATE.with(|state| {
        state.try_borrow_mut().map_or(Due::No, |mut state| {
            state.due(now_ms(), config.settings.refresh_ms)
        })
    });
    match due {
        Due::No => Ready::Now(current()),
        Due::First => {
            let read = read(config);
            wait_until(&read);
            Ready::After(at_most(read, FIRST_READ_WAIT_MS))
        }
        Due::Refresh => {
            wait_until(&read(config));
            Ready::Now(current())
        }
    }
}

/// The policy deciding now: the bundle taken up, else the embedded one.
pub fn current() -> Active {
    let bundle = STATE.with(|state| state.try_borrow().ok().and_then(|s| s.current()));
    match bundle {
        Some(bundle) => Active::Bundle(bundle),
        None => Active::Embedded(guarded(embedded::policy).flatten()),
    }
}

/// The configuration, or `None` when bundles are not configured (or misconfigured: logged
/// once). Per request only the binding is looked up; the settings are read once.
fn config(env: &Env) -> Option<Config> {
    let kv = js_sys::Reflect::get(env, &JsValue::from_str("EGRESS_POLICY_KV")).ok()?;
    if kv.is_undefined() || kv.is_null() {
        return None;
    }
    let settings = SETTINGS.with(|cell| {
        cell.get_or_init(|| {
            let settings = settings(env);
            if let Err(problem) = &settings {
                report_misconfiguration(problem);
            }
            settings
        })
        .clone()
        .ok()
    })?;
    Some(Config { kv, settings })
}

/// Reads the bundle settings from `env`; the error names the setting at fault, never its value.
fn settings(env: &Env) -> Result<Settings, String> {
    let text = |name: &str| {
        js_sys::Reflect::get(env, &JsValue::from_str(name))
            .ok()
            .and_then(|value| value.as_string())
    };
    let number = |name: &str, default: u64| -> Result<u64, String> {
        match text(name) {
            None => Ok(default),
            Some(value) => value
                .trim()
                .parse()
                .map_err(|_| format!("{name} is not a whole number")),
        }
    };
    let trusted = text("EGRESS_BUNDLE_PUBLIC_KEY")
        .as_deref()
        .and_then(public_key_from_text)
        .ok_or("EGRESS_BUNDLE_PUBLIC_KEY is missing or not an Ed25519 public key")?;
    Ok(Settings {
        key: text("EGRESS_BUNDLE_KEY").unwrap_or_else(|| DEFAULT_KEY.to_owned()),
        trusted,
        refresh_ms: number("EGRESS_BUNDLE_REFRESH_SECS", DEFAULT_REFRESH_SECS)?
            .max(1)
            .saturating_mul(1000),
        min_serial: number("EGRESS_BUNDLE_MIN_SERIAL", 0)?,
    })
}

fn report_misconfiguration(problem: &str) {
    log_json(&serde_json::json!({
        "v": egress_policy_engine::LOG_SCHEMA_VERSION,
        "ts": egress_policy_outbound::time::rfc3339_millis(now_ms()),
        "event": "policy_bundle",
        "status": "misconfigured",
        "reason": problem,
        "active": embedded_ref(),
    }));
}

/// Reads the bundle from KV and takes it up (or not). The promise always resolves.
fn read(config: Config) -> js_sys::Promise {
    let Config { kv, settings } = config;
    let Settings {
        key,
        trusted,
        min_serial,
        ..
    } = settings;
    let key = JsValue::from_str(&key);
    let get = js_sys::Reflect::get(&kv, &JsValue::from_str("get"))
        .ok()
        .and_then(|get| get.dyn_into::<js_sys::Function>().ok());
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(
        &options,
        &JsValue::from_str("type"),
        &JsValue::from_str("arrayBuffer"),
    );
    let started = get.and_then(|get| {
        get.call2(&kv, &key, &options)
            .ok()
            .and_then(|value| value.dyn_into::<js_sys::Promise>().ok())
    });
    let Some(started) = started else {
        take_up(Fetched::Unreachable, &trusted, min_serial);
        return js_sys::Promise::resolve(&JsValue::UNDEFINED);
    };
    let trusted_on_error = trusted;
    let on_value = Closure::<dyn FnMut(JsValue) -> JsValue>::once(move |value: JsValue| {
        if value.is_null() || value.is_undefined() {
            take_up(Fetched::Absent, &trusted, min_serial);
            return JsValue::UNDEFINED;
        }
        let array = js_sys::Uint8Array::new(&value);
        // Lossless: a u32 fits the Worker's usize.
        let len = usize::try_from(array.length()).unwrap_or(usize::MAX);
        // Which bundle it is, and where its payload lies, is in its first bytes.
        let prefix = array
            .subarray(0, array.length().min(bundle::PREFIX_LEN as u32))
            .to_vec();
        if already_judged(&prefix, len) {
            // The bundle in use (or one refused before), read again at a refresh: nothing
            // is copied, hashed or checked.
            return JsValue::UNDEFINED;
        }
        let Some(digesting) = digest_payload(&array, &prefix, len) else {
            take_up(Fetched::Bytes(&array.to_vec()), &trusted, min_serial);
            return JsValue::UNDEFINED;
        };
        let array_on_failure = array.clone();
        let on_digest = Closure::<dyn FnMut(JsValue) -> JsValue>::once(move |digest: JsValue| {
            // The one copy of the bundle into Wasm memory; a policy taken up keeps it.
            let bytes = std::sync::Arc::new(array.to_vec());
            match <[u8; 32]>::try_from(js_sys::Uint8Array::new(&digest).to_vec()) {
                Ok(digest) => take_up(Fetched::Hashed(&bytes, digest), &trusted, min_serial),
                Err(_) => take_up(Fetched::Bytes(&bytes), &trusted, min_serial),
            }
            JsValue::UNDEFINED
        });
        // Should the runtime fail to hash, the engine hashes in Wasm: slower, same verdict.
        let on_failure = Closure::<dyn FnMut(JsValue) -> JsValue>::once(move |_: JsValue| {
            let bytes = array_on_failure.to_vec();
            take_up(Fetched::Bytes(&bytes), &trusted, min_serial);
            JsValue::UNDEFINED
        });
        digesting
            .unchecked_ref::<Thenable>()
            .then_both(&on_digest.into_js_value(), &on_failure.into_js_value())
            .into()
    });
    let on_error = Closure::<dyn FnMut(JsValue) -> JsValue>::once(move |_reason: JsValue| {
        take_up(Fetched::Unreachable, &trusted_on_error, min_serial);
        JsValue::UNDEFINED
    });
    started
        .unchecked_ref::<Thenable>()
        .then_both(&on_value.into_js_value(), &on_error.into_js_value())
}

/// Whether the value read (`len` bytes starting with `prefix`) is a bundle already judged;
/// if so, the read is recorded as done.
fn already_judged(prefix: &[u8], len: usize) -> bool {
    let now = now_ms();
    guarded(|| {
        STATE.with(|state| {
            state.try_borrow_mut().is_ok_and(|mut state| {
                let known = state.recognises(prefix, len);
                if known {
                    state.read_again(now);
                }
                known
            })
        })
    })
    .unwrap_or(false)
}

/// `crypto.subtle.digest("SHA-256", ...)` of the bundle's artefact payload, the bytes its
/// checksum covers: native code hashes a 20 MB feed many times faster than Wasm. `None` when
/// the bundle's lengths do not fit together (it is then refused on its own terms) or the
/// runtime offers no digest.
fn digest_payload(
    bundle: &js_sys::Uint8Array,
    prefix: &[u8],
    len: usize,
) -> Option<js_sys::Promise> {
    let range = bundle::payload_range(prefix, len)?;
    let get = |target: &JsValue, name: &str| js_sys::Reflect::get(target, &JsValue::from_str(name));
    let subtle = get(&get(&js_sys::global(), "crypto").ok()?, "subtle").ok()?;
    let digest = get(&subtle, "digest")
        .ok()?
        .dyn_into::<js_sys::Function>()
        .ok()?;
    let payload = bundle.subarray(
        u32::try_from(range.start).ok()?,
        u32::try_from(range.end).ok()?,
    );
    digest
        .call2(&subtle, &JsValue::from_str("SHA-256"), &payload)
        .ok()?
        .dyn_into::<js_sys::Promise>()
        .ok()
}

/// `promise`, or a promise resolved after `ms` milliseconds, whichever settles first.
fn at_most(promise: js_sys::Promise, ms: i32) -> js_sys::Promise {
    let timer = js_sys::Promise::new(&mut |resolve, _reject| {
        let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
        // Without a timer this promise never settles: the read alone is waited for.
        let _armed = global
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .is_ok();
    });
    let both = js_sys::Array::of2(&promise, &timer);
    js_sys::Promise::race(&both)
}

/// Judges what the read gave and logs the event, if it is news.
fn take_up(fetched: Fetched<'_>, trusted: &VerifyingKey, min_serial: u64) {
    let now = now_ms();
    let embedded = embedded_ref();
    let event = guarded(|| {
        STATE.with(|state| {
            state
                .try_borrow_mut()
                .ok()
                .and_then(|mut state| state.take_up(now, fetched, trusted, min_serial, embedded))
        })
    })
    .flatten();
    if let Some(event) = event {
        log_json(&event.line(now));
    }
}
