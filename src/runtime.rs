//! What the Worker needs from the JavaScript runtime: time, randomness, timers, calls.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

use egress_policy_outbound::Runtime;
use egress_policy_outbound::decision_id::uuid_v4;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// A runtime promise, seen only through its `then`, which takes the handlers as plain
    /// functions (js-sys's `Promise::then` wants `Closure`s tied to a Rust lifetime).
    pub type Thenable;

    /// `promise.then(on_fulfilled, on_rejected)`.
    #[wasm_bindgen(method, js_name = then)]
    pub fn then_both(
        this: &Thenable,
        on_fulfilled: &JsValue,
        on_rejected: &JsValue,
    ) -> js_sys::Promise;

    /// `promise.then(on_fulfilled)`.
    #[wasm_bindgen(method, js_name = then)]
    pub fn then_one(this: &Thenable, on_fulfilled: &JsValue) -> js_sys::Promise;
}

/// Milliseconds since the Unix epoch (`Date.now()`). Inside a Worker the clock advances
/// only across I/O, which is exactly what `duration_ms` is meant to measure.
#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "Date.now() is a whole number of milliseconds far below 2^53 (`as` saturates)"
)]
pub fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// What minting reads from the runtime: `Date.now()` in whole seconds, and random bytes for
/// each token's `jti` ([`random`]).
pub struct DateClock;

impl Runtime for DateClock {
    fn now_secs(&self) -> u64 {
        now_ms() / 1000
    }

    fn fill(&self, out: &mut [u8]) -> bool {
        random(out)
    }
}

/// Bytes drawn from `crypto.getRandomValues` at a time: a call into the runtime costs far more
/// than the 16 bytes a decision id needs, so an isolate draws them 256 ids at a time.
const POOL_BYTES: usize = 4096;

thread_local! {
    /// Random bytes not handed out yet: `POOL_BYTES` from the runtime, the first `.1` used.
    static POOL: RefCell<(Box<[u8; POOL_BYTES]>, usize)> =
        RefCell::new((Box::new([0; POOL_BYTES]), POOL_BYTES));

    /// `AbortController.prototype.abort`'s `call`, bound to it: `ABORT(controller)` is
    /// `controller.abort()`. Made once per isolate, so a request's timer costs no closure and
    /// no bound function of its own.
    static ABORT: Option<js_sys::Function> = web_sys::AbortController::new().ok().and_then(|c| {
        let abort = js_sys::Reflect::get(&c, &"abort".into()).ok()?;
        let call = js_sys::Reflect::get(&abort, &"call".into()).ok()?;
        Some(call.dyn_into::<js_sys::Function>().ok()?.bind0(&abort))
    });
}

/// Fills `out` with random bytes from `crypto.getRandomValues` (through a per-isolate pool,
/// each byte handed out once); `false` if the runtime has no randomness.
pub fn random(out: &mut [u8]) -> bool {
    POOL.with(|pool| {
        let Ok(mut pool) = pool.try_borrow_mut() else {
            return getrandom::fill(out).is_ok();
        };
        let (bytes, used) = &mut *pool;
        if POOL_BYTES.saturating_sub(*used) < out.len() {
            if getrandom::fill(bytes.as_mut_slice()).is_err() {
                return false;
            }
            *used = 0;
        }
        let end = used.saturating_add(out.len());
        match bytes.get(*used..end) {
            Some(fresh) => out.copy_from_slice(fresh),
            // Longer than the pool: straight from the runtime.
            None => return getrandom::fill(out).is_ok(),
        }
        *used = end;
        true
    })
}

/// A fresh decision id: a random UUID (bytes from [`random`]).
///
/// Should the runtime's randomness be unavailable, the id falls back to the arrival time
/// plus a per-isolate counter: still unique within the isolate, and visibly not random.
pub fn decision_id(arrived_ms: u64) -> String {
    let mut bytes = [0u8; 16];
    if random(&mut bytes) {
        return uuid_v4(bytes);
    }
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("t{arrived_ms:x}-{n:x}")
}

/// Calls `controller.abort()` after `ms` milliseconds (`setTimeout`, with [`ABORT`] and the
/// controller as its argument). The timer's id, for [`clear_timer`] (0 should the runtime
/// refuse the timer: the abort then never comes).
pub fn abort_after(controller: &web_sys::AbortController, ms: u64) -> i32 {
    ABORT.with(|abort| abort.as_ref().map_or(0, |f| set_timeout(f, ms, controller)))
}

/// A promise resolved (with `undefined`) after `ms` milliseconds (`setTimeout`); never
/// settles should the runtime refuse the timer.
pub fn sleep(ms: u64) -> js_sys::Promise {
    js_sys::Promise::new(&mut |resolve, _reject| {
        set_timeout(&resolve, ms, &JsValue::UNDEFINED);
    })
}

/// `setTimeout(callback, ms, argument)`: the timer's id, 0 should the runtime refuse it.
fn set_timeout(callback: &js_sys::Function, ms: u64, argument: &JsValue) -> i32 {
    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let ms = i32::try_from(ms).unwrap_or(i32::MAX);
    global
        .set_timeout_with_callback_and_timeout_and_arguments_1(callback, ms, argument)
        .unwrap_or(0)
}

/// `target[name](...args)`; `None` if it is no function or threw. Applied with
/// `Reflect.apply`: a binding may be an RPC stub, whose methods are proxies on which even
/// `.call` would name a remote method.
pub fn call(target: &JsValue, name: &str, args: &[&JsValue]) -> Option<JsValue> {
    let method = js_sys::Reflect::get(target, &name.into())
        .ok()
        .filter(JsValue::is_function)?
        .unchecked_into::<js_sys::Function>();
    let args: js_sys::Array = args.iter().copied().collect();
    js_sys::Reflect::apply(&method, target, &args).ok()
}

/// Cancels a timer no longer needed, so it holds nothing of the request open.
pub fn clear_timer(id: i32) {
    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    global.clear_timeout_with_handle(id);
}

/// Runs `f`, turning a panic into `None`.
///
/// Effective in the `--panic-unwind` build (the default of `scripts/build-worker.sh`): a panic
/// in the engine or a signing dependency then becomes a 500 answer plus its log line for this
/// request alone. In a `panic=abort` build a panic cannot be caught and this is a plain call.
pub fn guarded<T>(f: impl FnOnce() -> T) -> Option<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok()
}
