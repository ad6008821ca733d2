//! The policy that decides a request: the newest signed one this isolate can verify, the
//! embedded one or a bundle taken up from Workers KV. `egress_policy_outbound::bundle_state`
//! decides when to read and judges what was read; this file reads KV and the cache.
//!
//! A read looks at the bundle's head (`KEY:head`, a few hundred bytes) and reads the bundle
//! itself only when the head is news and verifies. (Without a head in KV, the bundle is read
//! and its head taken from it: correct, not cheap.) The bundle's payload is then hashed with
//! the runtime's native `crypto.subtle.digest` before it is copied into Wasm memory, once.
//! An isolate's first read also looks in this location's cache (the Cache API), where
//! isolates keep the newest bundle they took up from KV: during a KV outage a fresh isolate
//! still decides with it, re-verified like anything read from KV.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use egress_policy_engine::bundle::{self, HEAD_LEN, Head};
use egress_policy_engine::{CompiledPolicy, PolicyRef};
use egress_policy_outbound::bundle_state::{
    BundleEvent, BundleState, Candidate, EventStatus, HeadVerdict, LoadedBundle, Origin, ReadEnd,
};
use futures_util::future::OptionFuture;
use js_sys::{Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, future_to_promise};
use worker::Env;

use crate::embedded;
/// The embedded policy's reference (source and serial), even should its load have failed.
pub use crate::embedded::policy_ref as embedded_ref;
use crate::journal;
use crate::runtime::{call, guarded, now_ms, sleep};
use crate::settings::{BundleSettings, settings};

thread_local! {
    static STATE: RefCell<BundleState> = RefCell::new(BundleState::default());
    /// The read under way and its id: requests that must wait for it share it.
    static UNDER_WAY: RefCell<Option<(u64, Promise)>> = const { RefCell::new(None) };
}

/// The policy deciding one request: a bundle taken up from KV (only ever one newer than the
/// embedded policy), else the embedded policy.
pub struct Active(Option<Rc<LoadedBundle>>);

impl Active {
    /// The policy, if one is loaded (`None` if the embedded one failed to load: the Worker
    /// then fails closed).
    pub fn policy(&self) -> Option<&CompiledPolicy> {
        match &self.0 {
            Some(bundle) => Some(&bundle.policy),
            None => guarded(embedded::policy).flatten(),
        }
    }

    /// What decision lines name: the revision, its source and serial (made once per isolate
    /// or per bundle, never per request).
    pub fn policy_ref(&self) -> &PolicyRef {
        self.0
            .as_ref()
            .map_or(embedded_ref(), |bundle| &bundle.policy_ref)
    }
}

/// What to do before deciding a request.
pub enum Ready {
    /// Decide now with this policy.
    Now(Active),
    /// Decide when this promise settles (a read, or the wait bound), with [`current`] then.
    After(Promise),
}

/// The policy to decide with now, or the read to wait for first; starts a read when one is
/// due (handed to `wait_until` so it outlives the request).
pub fn ready(env: &Env, wait_until: impl FnOnce(&Promise)) -> Ready {
    let kv = |bundles| Some((bundles, Reflect::get(env, &"EGRESS_POLICY_KV".into()).ok()?));
    let Some((bundles, kv)) = settings(env).bundles.clone().and_then(kv) else {
        return Ready::Now(current());
    };
    let reader = Rc::new(Reader {
        env: env.clone(),
        kv,
        settings: bundles,
    });
    let now = now_ms();
    let step = with_state(|state| state.ready(now, &reader.settings.timing)).unwrap_or_default();
    if let Some(id) = step.start {
        wait_until(&start(id, reader));
    }
    // The read to wait for: just started, or under way already.
    let under_way = step.wait.and_then(|_| UNDER_WAY.with_borrow(Clone::clone));
    match (step.wait, under_way) {
        (Some((id, until_ms)), Some((reading, read))) if reading == id => {
            let left = sleep(until_ms.saturating_sub(now));
            Ready::After(Promise::race(&js_sys::Array::of2(&read, &left)))
        }
        _ => Ready::Now(current()),
    }
}

/// The policy deciding now.
pub fn current() -> Active {
    Active(with_state(|state| state.current()).flatten())
}

fn with_state<T>(f: impl FnOnce(&mut BundleState) -> T) -> Option<T> {
    guarded(|| STATE.with(|state| state.try_borrow_mut().ok().map(|mut s| f(&mut s)))).flatten()
}

/// What a read needs: the request's `env` (for the journal), the KV binding, the settings.
struct Reader {
    env: Env,
    kv: JsValue,
    settings: Rc<BundleSettings>,
}

impl Reader {
    fn log(&self, event: Option<BundleEvent>) {
        if let Some(event) = event {
            journal::bundle_event(&self.env, &event);
        }
    }

    /// Where this deployment's bundle and head lie in the cache.
    fn cache_url(&self, part: &str) -> String {
        let key: String = js_sys::encode_uri_component(&self.settings.key).into();
        let version = bundle::BUNDLE_FORMAT_VERSION;
        let environment = &self.settings.trust.environment;
        format!("https://egress-policy.invalid/bundle/v{version}/{environment}/{key}/{part}")
    }
}

/// Starts read `id`: it settles when the read ends or its timeout passes, whichever is first
/// (a read that times out counts as failed; should it end later, what it verified is still
/// taken up, but it no longer counts for the schedule).
fn start(id: u64, reader: Rc<Reader>) -> Promise {
    let first = with_state(|state| !state.has_read()).unwrap_or(false);
    // Without a timer the timeout never comes; `BundleState::ready` gives up on the read.
    let timeout = sleep(reader.settings.timing.read_timeout_ms);
    let on_time = Rc::clone(&reader);
    let read = future_to_promise(async move {
        let end = read(&on_time, first).await;
        settle(id, end, &on_time);
        Ok(JsValue::UNDEFINED)
    });
    let either = future_to_promise(async move {
        let _ = JsFuture::from(Promise::race(&js_sys::Array::of2(&read, &timeout))).await;
        // A no-op when the read settled first: it is no longer the read under way.
        settle(id, ReadEnd::TimedOut, &reader);
        Ok(JsValue::UNDEFINED)
    });
    UNDER_WAY.set(Some((id, either.clone())));
    either
}

fn settle(id: u64, end: ReadEnd, reader: &Reader) {
    let now = now_ms();
    reader.log(with_state(|state| state.settle(id, now, end, &reader.settings.trust)).flatten());
}

/// One read: KV, and on an isolate's first read the cache beside it, both at once.
async fn read(reader: &Reader, first: bool) -> ReadEnd {
    let cached = OptionFuture::from(first.then(|| from_cache(reader)));
    futures_util::future::join(from_kv(reader), cached).await.0
}

/// Reads the head in KV, and the bundle when the head is news; takes it up, keeps it in the
/// cache for the isolates after this one.
async fn from_kv(reader: &Reader) -> ReadEnd {
    let kv = &reader.kv;
    let (head, value) = match kv_get(kv, &format!("{}:head", reader.settings.key)).await {
        Err(()) => return ReadEnd::Failed,
        Ok(Some(head)) => (copy_head(&head), None),
        // No head published beside the bundle: the bundle itself, read whole.
        Ok(None) => match kv_get(kv, &reader.settings.key).await {
            Err(()) => return ReadEnd::Failed,
            Ok(None) => return ReadEnd::Absent,
            Ok(Some(value)) => (head_of(&value), Some(value)),
        },
    };
    let Some(head) = judge(&head, reader, Origin::Kv) else {
        return ReadEnd::Answered;
    };
    let value = match value {
        Some(value) => value,
        None => match kv_get(kv, &reader.settings.key).await {
            Ok(value) => value.unwrap_or_else(|| Uint8Array::new_with_length(0)),
            Err(()) => {
                let _ = with_state(|state| state.abandon(&head));
                return ReadEnd::Failed;
            }
        },
    };
    if take(&head, &value, reader, Origin::Kv).await {
        keep_in_cache(&head, &value, reader).await;
    }
    ReadEnd::Answered
}

/// The bundle this location's cache holds, judged like one read from KV (`None` when there
/// is none to take up).
async fn from_cache(reader: &Reader) -> Option<bool> {
    let cache = open_cache().await?;
    let head = cache_get(&cache, &reader.cache_url("head")).await?;
    let head = judge(&copy_head(&head), reader, Origin::Cache)?;
    let Some(value) = cache_get(&cache, &reader.cache_url("bundle")).await else {
        let _ = with_state(|state| state.abandon(&head));
        return None;
    };
    Some(take(&head, &value, reader, Origin::Cache).await)
}

/// Judges a head; `Some` when its bundle is news to read.
fn judge(head: &[u8], reader: &Reader, from: Origin) -> Option<Head> {
    match with_state(|state| state.judge_head(head, &reader.settings.trust, from))? {
        HeadVerdict::Newer(head) => return Some(head),
        HeadVerdict::Refused(event) => reader.log(Some(event)),
        HeadVerdict::Known => {}
    }
    None
}

/// Takes up `value` as the bundle of `head`: its payload is hashed natively, and only a
/// value that fits the head is copied into Wasm, once. Whether it was taken up.
async fn take(head: &Head, value: &Uint8Array, reader: &Reader, from: Origin) -> bool {
    let value_head = head_of(value);
    let len = value.length() as usize;
    let fits = head.bundle_len() == len && *value_head == *head.bytes;
    let payload_sha256 = OptionFuture::from(fits.then(|| digest(value, head.payload_range())));
    let payload_sha256 = payload_sha256.await.flatten();
    let candidate = Candidate {
        head: &value_head,
        len,
        payload_sha256,
    };
    let copy = || Arc::new(value.to_vec());
    let trust = &reader.settings.trust;
    let event = with_state(|state| state.take_up(head, candidate, copy, trust, from)).flatten();
    let loaded = matches!(&event, Some(e) if e.status == EventStatus::Loaded);
    reader.log(event);
    loaded
}

/// Keeps a bundle just taken up from KV in this location's cache, unless the cache holds
/// one as new already. Best effort: the cache may evict it, or not be there at all (`None`
/// when it was not kept).
async fn keep_in_cache(head: &Head, value: &Uint8Array, reader: &Reader) -> Option<JsValue> {
    let cache = open_cache().await?;
    let head_url = reader.cache_url("head");
    if let Some(cached) = cache_get(&cache, &head_url).await
        && bundle::read_head(&copy_head(&cached)).is_ok_and(|c| c.serial >= head.serial)
    {
        return None;
    }
    // The bundle first: a head in the cache always has its bundle beside it.
    cache_put(&cache, &reader.cache_url("bundle"), value).await?;
    cache_put(&cache, &head_url, &Uint8Array::from(&*head.bytes)).await
}

/// `kv.get(key, "arrayBuffer")`: `Ok(None)` when there is no value, `Err` when the read
/// failed.
async fn kv_get(kv: &JsValue, key: &str) -> Result<Option<Uint8Array>, ()> {
    let value = invoke(kv, "get", &[&key.into(), &"arrayBuffer".into()])
        .await
        .ok_or(())?;
    Ok((!value.is_null() && !value.is_undefined()).then(|| Uint8Array::new(&value)))
}

/// Awaits [`call`]: `None` if it threw or rejected.
async fn invoke(target: &JsValue, name: &str, args: &[&JsValue]) -> Option<JsValue> {
    let started = call(target, name, args)?;
    JsFuture::from(Promise::resolve(&started)).await.ok()
}

/// The head of a bundle still in JS memory: its signed first bytes and its signature, the
/// only bytes copied before the head is judged.
fn head_of(value: &Uint8Array) -> Vec<u8> {
    let len = value.length();
    let signed = (HEAD_LEN - 64) as u32;
    if (len as usize) < HEAD_LEN {
        return value.to_vec();
    }
    let mut head = value.subarray(0, signed).to_vec();
    head.extend(value.subarray(len - 64, len).to_vec());
    head
}

/// A head value from KV or the cache, copied into Wasm: at most one byte more than a head
/// has, so a huge value under the head key costs nothing (and is refused as not a head).
fn copy_head(value: &Uint8Array) -> Vec<u8> {
    value
        .subarray(0, value.length().min(HEAD_LEN as u32 + 1))
        .to_vec()
}

/// `crypto.subtle.digest("SHA-256", ...)` of `range` of `value`: native code hashes a 20 MB
/// feed many times faster than Wasm. `None` if the runtime fails to.
async fn digest(value: &Uint8Array, range: std::ops::Range<usize>) -> Option<[u8; 32]> {
    let crypto = Reflect::get(&js_sys::global(), &"crypto".into()).ok()?;
    let subtle = Reflect::get(&crypto, &"subtle".into()).ok()?;
    let [start, end] = [range.start, range.end].map(u32::try_from);
    let payload = value.subarray(start.ok()?, end.ok()?);
    let hashed = invoke(&subtle, "digest", &[&"SHA-256".into(), &payload]).await?;
    <[u8; 32]>::try_from(Uint8Array::new(&hashed).to_vec()).ok()
}

async fn open_cache() -> Option<JsValue> {
    let caches = Reflect::get(&js_sys::global(), &"caches".into()).ok()?;
    invoke(&caches, "open", &[&"egress-policy".into()]).await
}

async fn cache_get(cache: &JsValue, url: &str) -> Option<Uint8Array> {
    let response = invoke(cache, "match", &[&url.into()]).await?;
    let body = invoke(&response, "arrayBuffer", &[]).await?;
    Some(Uint8Array::new(&body))
}

/// Puts `bytes` at `url`, as a response the cache keeps for a year (it may evict it sooner);
/// `None` if that failed.
async fn cache_put(cache: &JsValue, url: &str, bytes: &Uint8Array) -> Option<JsValue> {
    let headers = js_sys::JSON::parse(r#"{"cache-control":"public, max-age=31536000"}"#).ok()?;
    let init = web_sys::ResponseInit::new();
    init.set_headers(&headers);
    let response =
        web_sys::Response::new_with_opt_buffer_source_and_init(Some(bytes), &init).ok()?;
    invoke(cache, "put", &[&url.into(), &response]).await
}
