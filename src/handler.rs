//! The fetch export: the policy in force -> identity -> decide -> act -> forward or answer ->
//! one log line, once per intercepted request.
//!
//! Everything up to the upstream `fetch()` runs synchronously once the policy in force is
//! known (which may mean waiting for a read of the policy bundle, see `live`); the upstream
//! response is handled by one `then` on the runtime's own promise. No Rust executor is on the
//! request path: an `async` export drives every request through `wasm-bindgen-futures`' task
//! queue, which costs two `queueMicrotask` round trips per request for nothing this needs.

use std::cell::RefCell;

use egress_policy_engine::request::normalise_method;
use egress_policy_engine::{Action, ClaimVars, Decision, Identity, Reason, Request};
use egress_policy_outbound::log::{LogFacts, build};
use egress_policy_outbound::{ActionPlan, JwtSigner, LocalAnswer, LocalResponse, Minter, plan};
use wasm_bindgen::prelude::*;
use worker::Env;

use crate::forward::forward;
use crate::identity::identity;
use crate::journal;
use crate::live::{self, Active, Ready};
use crate::runtime::{DateClock, Thenable, abort_after, clear_timer, decision_id, guarded, now_ms};
use crate::settings::{settings, text};

thread_local! {
    /// Per-isolate token and key caches. Only borrowed synchronously, so concurrent
    /// requests of the isolate never contend for it.
    static MINTER: RefCell<Minter<JwtSigner, DateClock>> =
        RefCell::new(Minter::new(JwtSigner::default(), DateClock));

    /// `{ "content-type": "application/json" }`, made once per isolate: each Response copies
    /// it into headers of its own, so no `Headers` is built per answer.
    static JSON_HEADERS: JsValue =
        js_sys::JSON::parse(r#"{"content-type":"application/json"}"#).unwrap_or_default();
}

/// A handler the runtime calls with one value.
type Handler = Closure<dyn FnMut(JsValue) -> Result<JsValue, JsValue>>;

/// One request and its decision: all its log line is made of but how it ended.
struct Facts {
    env: Env,
    decision: Decision,
    decision_id: String,
    /// Who the request was made for (`tags` `None`: no tags parameter at all, refused
    /// `no_tags` where rules are scoped by tag; logged as no tags).
    identity: Identity,
    method: String,
    active: Active,
    arrived_ms: u64,
}

impl Facts {
    /// Writes this request's one decision log line: it ended with the upstream's status, or
    /// with the Worker's own answer.
    fn log(&self, ended: Result<u16, LocalAnswer>) {
        let facts = LogFacts {
            decision_id: &self.decision_id,
            identity: &self.identity,
            method: &self.method,
            policy: self.active.policy_ref(),
            defaults: self.active.policy().map(|policy| &policy.model().defaults),
            arrived_ms: self.arrived_ms,
            ended,
            duration_ms: now_ms().saturating_sub(self.arrived_ms),
        };
        journal::decision(&self.env, build(&self.decision, &facts));
    }

    /// Logs a local answer and makes it the Response to return: its status, `content-type:
    /// application/json` and its body, never forwarded.
    fn answer(&self, answer: LocalAnswer) -> Result<JsValue, JsValue> {
        self.log(Err(answer));
        let LocalResponse { status, body } = answer.response(&self.decision, &self.decision_id);
        let init = web_sys::ResponseInit::new();
        init.set_status(status);
        JSON_HEADERS.with(|headers| init.set_headers(headers));
        Ok(web_sys::Response::new_with_opt_str_and_init(Some(&body), &init)?.into())
    }
}

/// The Worker's fetch handler (worker-build's entry calls the export named `fetch` with the
/// request, `env` and `ctx`). Returns a Response, or a Promise of one when forwarding or when
/// the request waits for a read of the policy bundle first.
#[wasm_bindgen]
pub fn fetch(
    request: web_sys::Request,
    env: Env,
    ctx: worker::worker_sys::Context,
) -> Result<JsValue, JsValue> {
    let arrived_ms = now_ms();
    match live::ready(&env, |read| {
        // Should the runtime refuse it, the read still runs while this request does.
        let _kept_alive = ctx.wait_until(read).is_ok();
    }) {
        Ready::Now(active) => handle(&request, &env, &ctx, active, arrived_ms),
        Ready::After(read) => {
            let decide = Handler::once(move |_: JsValue| {
                handle(&request, &env, &ctx, live::current(), arrived_ms)
            });
            Ok(read
                .unchecked_ref::<Thenable>()
                .then_one(&decide.into_js_value())
                .into())
        }
    }
}

/// Decides with `active`, acts, and answers or forwards: the request path once the policy is
/// known.
fn handle(
    request: &web_sys::Request,
    env: &Env,
    ctx: &worker::worker_sys::Context,
    active: Active,
    arrived_ms: u64,
) -> Result<JsValue, JsValue> {
    let identity = identity(env, ctx);
    // Logged as the engine matched it (`patch` is `PATCH`), so the line replays to itself.
    let method = normalise_method(&request.method()).into_owned();
    let url = request.url();
    let decision = active.policy().and_then(|policy| {
        guarded(|| {
            policy.decide(&Request {
                method: &method,
                url: &url,
                customer: identity.customer.as_deref(),
                tags: identity.tags.as_deref(),
            })
        })
    });
    let facts = Facts {
        env: env.clone(),
        // The policy did not load or `decide` panicked: fail closed.
        decision: decision.unwrap_or(Decision {
            action: Action::Block,
            reason: Some(Reason::InternalError),
            ..Decision::default()
        }),
        decision_id: decision_id(arrived_ms),
        identity,
        method,
        active,
        arrived_ms,
    };
    match act(&facts, request, env) {
        Err(answer) => facts.answer(answer),
        Ok((upstream, abort)) => {
            let timeout_ms = settings(env).upstream_timeout_ms;
            let settled = settle(&upstream, abort, timeout_ms, facts);
            // The line is written when the upstream answers or times out, which may be after
            // the caller aborted its fetch or stopped waiting for it: `waitUntil` keeps the
            // request's context alive until then, so the line is never lost with the caller.
            let _kept_alive = ctx.wait_until(&settled).is_ok();
            Ok(settled.into())
        }
    }
}

/// Carries out the decision: answers, or (minting the token for inject) starts the forward,
/// whose `fetch()` promise and abort controller it returns.
fn act(
    facts: &Facts,
    request: &web_sys::Request,
    env: &Env,
) -> Result<(js_sys::Promise, web_sys::AbortController), LocalAnswer> {
    let decision = &facts.decision;
    let policy = facts.active.policy().ok_or(LocalAnswer::InternalError)?;
    let credentials = &policy.model().credentials;
    // Not decided by the policy (it did not load, or `decide` panicked).
    if matches!(decision.reason, Some(Reason::InternalError)) {
        return Err(LocalAnswer::InternalError);
    }
    let token;
    // Only unparsable URLs lack a target, and those are always blocked (planned here).
    let (target, inject) = match (plan(decision, |id| credentials.get(id)), &decision.target) {
        (ActionPlan::Answer(answer), _) => return Err(answer),
        (_, None) => return Err(LocalAnswer::InternalError),
        (ActionPlan::Pass, Some(target)) => (target, None),
        (ActionPlan::Inject(credential), Some(target)) => {
            let vars = ClaimVars {
                customer: facts.identity.customer.as_deref().unwrap_or_default(),
                tags: facts.identity.tags.as_deref().unwrap_or_default(),
                host: &target.host,
                rule: decision.rule.as_ref().map_or("", |rule| rule.id.as_str()),
            };
            let minted = guarded(|| {
                MINTER.with(|minter| {
                    let mut minter = minter.try_borrow_mut().ok()?;
                    if let Some(problem) = minter.check_next(credential, |name| text(env, name)) {
                        journal::next_key_problem(env, &problem, facts.active.policy_ref());
                    }
                    Some(minter.token(credential, &vars, |name| text(env, name)))
                })
            });
            token = minted.flatten().ok_or(LocalAnswer::InternalError)??;
            (target, Some((credential, &token)))
        }
    };
    forward(request, target, inject).map_err(|_| LocalAnswer::InternalError)
}

/// The upstream's `fetch()` promise, within `timeout_ms`: logs with the status and returns
/// the response as it came; or (the fetch rejected) answers 502; or (no response headers
/// within `timeout_ms`: the timer aborted the fetch, so it rejected) answers 504. One handler
/// for both outcomes, which runs once.
fn settle(
    upstream: &js_sys::Promise,
    abort: web_sys::AbortController,
    timeout_ms: u64,
    facts: Facts,
) -> js_sys::Promise {
    let timer_id = abort_after(&abort, timeout_ms);
    let done = Handler::once_assert_unwind_safe(move |value: JsValue| {
        clear_timer(timer_id);
        match value.dyn_into::<web_sys::Response>() {
            Ok(response) => {
                facts.log(Ok(response.status()));
                Ok(response.into())
            }
            Err(_) if abort.signal().aborted() => facts.answer(LocalAnswer::UpstreamTimeout),
            Err(_) => facts.answer(LocalAnswer::UpstreamUnreachable),
        }
    })
    .into_js_value();
    // Handed to the JS GC: the handler's Rust side is freed when its function is collected.
    upstream.unchecked_ref::<Thenable>().then_both(&done, &done)
}
