//! The fetch export: the policy in force -> identity -> decide -> act -> forward or answer ->
//! one log line, once per intercepted request.
//!
//! Everything up to the upstream `fetch()` runs synchronously once the policy in force is
//! known (which may mean waiting for a read of the policy bundle, see `live`); the upstream
//! response is handled by one `then` on the runtime's own promise. No Rust executor is on the
//! request path: an `async` export drives every request through `wasm-bindgen-futures`' task
//! queue, which costs two `queueMicrotask` round trips per request for nothing this needs.

use std::cell::RefCell;
use std::rc::Rc;

use egress_policy_engine::request::normalise_method;
use egress_policy_engine::{Action, ClaimVars, Decision, Identity, Reason, Request};
use egress_policy_outbound::log::{LogFacts, build};
use egress_policy_outbound::{ActionPlan, JwtSigner, LocalAnswer, Minter, RequestError, plan};
use wasm_bindgen::prelude::*;
use worker::Env;

use crate::forward::forward;
use crate::identity::identity;
use crate::journal;
use crate::live::{self, Active, Ready};
use crate::respond;
use crate::runtime::{
    DateClock, Thenable, clear_timer, decision_id, guarded, now_ms, secret, timer,
};
use crate::settings::settings;

thread_local! {
    /// Per-isolate token and key caches. Only borrowed synchronously, so concurrent
    /// requests of the isolate never contend for it.
    static MINTER: RefCell<Minter<JwtSigner, DateClock>> =
        RefCell::new(Minter::new(JwtSigner::new(), DateClock));
}

/// What happens after the decision: a local answer now, or the upstream's response.
enum Step {
    Answer(LocalAnswer),
    /// The upstream's `fetch()` promise and what aborts it.
    Forward(js_sys::Promise, web_sys::AbortController),
}

/// One request and its decision: all its log line is made of but what happened.
struct Facts {
    env: Env,
    decision: Decision,
    decision_id: String,
    customer: Option<String>,
    tags: Vec<String>,
    method: String,
    active: Active,
    arrived_ms: u64,
}

impl Facts {
    /// Writes this request's one decision log line. The request left for the upstream when it
    /// got a status or failed upstream.
    fn log(&self, status: Option<u16>, error: Option<RequestError>) {
        let defaults = self.active.policy().map(|policy| policy.defaults());
        let sent = status.is_some()
            || matches!(
                error,
                Some(RequestError::UpstreamUnreachable | RequestError::UpstreamTimeout)
            );
        journal::decision(
            &self.env,
            build(
                &self.decision,
                &LogFacts {
                    decision_id: &self.decision_id,
                    customer: self.customer.as_deref(),
                    tags: &self.tags,
                    method: &self.method,
                    policy: self.active.policy_ref(),
                    query_in_logs: defaults.is_some_and(|d| d.query_in_logs),
                    path_in_logs: defaults.map(|d| d.path_in_logs).unwrap_or_default(),
                    arrived_ms: self.arrived_ms,
                    status,
                    error,
                    duration_ms: now_ms().saturating_sub(self.arrived_ms),
                    sent,
                },
            ),
        );
    }

    /// Logs a local answer and makes it the Response to return.
    fn answer(&self, answer: LocalAnswer) -> Result<JsValue, JsValue> {
        self.log(None, answer.error());
        respond::local(&answer.response(&self.decision, &self.decision_id)).map(JsValue::from)
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
            let decide = Closure::<dyn FnMut(JsValue) -> Result<JsValue, JsValue>>::once(
                move |_: JsValue| handle(&request, &env, &ctx, live::current(), arrived_ms),
            );
            Ok(read
                .unchecked_ref::<Thenable>()
                .then_one(&decide.into_js_value())
                .into())
        }
    }
}

/// Decides with `active` and acts: the request path once the policy is known.
fn handle(
    request: &web_sys::Request,
    env: &Env,
    ctx: &worker::worker_sys::Context,
    active: Active,
    arrived_ms: u64,
) -> Result<JsValue, JsValue> {
    let Identity { customer, tags } = identity(env, ctx);
    // `None`: no tags parameter at all (refused `no_tags` where rules are scoped by tag).
    let tags_given = tags.is_some();
    let tags = tags.unwrap_or_default();
    // Logged as the engine matched it (`patch` is `PATCH`), so the line replays to itself.
    let method = normalise_method(&request.method()).into_owned();
    let url = request.url();
    let decision = active.policy().and_then(|policy| {
        guarded(|| {
            policy.decide(&Request {
                method: &method,
                url: &url,
                customer: customer.as_deref(),
                tags: tags_given.then_some(&tags[..]),
            })
        })
    });
    let decided = decision.is_some();
    let facts = Facts {
        env: env.clone(),
        decision: decision.unwrap_or_else(internal_error_decision),
        decision_id: decision_id(arrived_ms),
        customer,
        tags,
        method,
        active,
        arrived_ms,
    };
    let step = if decided {
        act(&facts, request, env)
    } else {
        // The policy did not load or `decide` panicked: fail closed.
        Step::Answer(LocalAnswer::InternalError)
    };
    match step {
        Step::Answer(answer) => facts.answer(answer),
        Step::Forward(upstream, abort) => {
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

/// The upstream promise, or the timeout, whichever comes first: log with the status and
/// return the response as it came; or (the fetch rejected) answer 502; or (no response
/// headers within `timeout_ms`) abort the upstream and answer 504. Exactly one of the two
/// handlers runs, once.
fn settle(
    upstream: &js_sys::Promise,
    abort: web_sys::AbortController,
    timeout_ms: u64,
    facts: Facts,
) -> js_sys::Promise {
    let (expiry, timer_id) = timer(timeout_ms);
    let pending = Rc::new(RefCell::new(Some(facts)));
    let on_rejected_pending = Rc::clone(&pending);
    let on_fulfilled =
        Closure::<dyn FnMut(JsValue) -> Result<JsValue, JsValue>>::own_assert_unwind_safe(
            move |value: JsValue| {
                let Some(facts) = pending.borrow_mut().take() else {
                    return Err(JsValue::from_str("settled twice"));
                };
                if value.is_undefined() {
                    // The timer won: no response headers in time.
                    abort.abort();
                    return facts.answer(LocalAnswer::UpstreamTimeout);
                }
                clear_timer(timer_id);
                match value.dyn_into::<web_sys::Response>() {
                    Ok(response) => {
                        facts.log(Some(response.status()), None);
                        Ok(response.into())
                    }
                    Err(_) => facts.answer(LocalAnswer::InternalError),
                }
            },
        );
    let on_rejected =
        Closure::<dyn FnMut(JsValue) -> Result<JsValue, JsValue>>::own_assert_unwind_safe(
            move |_reason: JsValue| {
                clear_timer(timer_id);
                let Some(facts) = on_rejected_pending.borrow_mut().take() else {
                    return Err(JsValue::from_str("settled twice"));
                };
                facts.answer(LocalAnswer::UpstreamUnreachable)
            },
        );
    // Handed to the JS GC: each handler's Rust side is freed when its function is collected.
    js_sys::Promise::race(&js_sys::Array::of2(upstream, &expiry))
        .unchecked_ref::<Thenable>()
        .then_both(&on_fulfilled.into_js_value(), &on_rejected.into_js_value())
}

/// Carries out the decision: answer, or mint and start the forward, or start the forward.
fn act(facts: &Facts, request: &web_sys::Request, env: &Env) -> Step {
    let decision = &facts.decision;
    let (Some(policy), Some(target)) = (facts.active.policy(), decision.target.as_ref()) else {
        // Only unparsable URLs lack a target, and those are always blocked.
        return Step::Answer(match plan(decision, |_| None) {
            ActionPlan::Answer(answer) => answer,
            _ => LocalAnswer::InternalError,
        });
    };
    match plan(decision, |id| policy.credential(id)) {
        ActionPlan::Answer(answer) => Step::Answer(answer),
        ActionPlan::Pass => send(request, target, None),
        ActionPlan::Inject(credential) => {
            let vars = ClaimVars {
                customer: facts.customer.as_deref().unwrap_or_default(),
                tags: &facts.tags,
                host: &target.host,
                rule: decision.rule.as_ref().map_or("", |rule| rule.id.as_str()),
            };
            let minted = guarded(|| {
                MINTER.with(|minter| {
                    minter.try_borrow_mut().ok().map(|mut minter| {
                        if let Some(problem) =
                            minter.check_next(credential, |name| secret(env, name))
                        {
                            journal::next_key_problem(env, &problem, facts.active.policy_ref());
                        }
                        minter.token(credential, &vars, |name| secret(env, name))
                    })
                })
            })
            .flatten();
            match minted {
                Some(Ok(token)) => send(request, target, Some((credential, &token))),
                Some(Err(error)) => Step::Answer(error.into()),
                None => Step::Answer(LocalAnswer::InternalError),
            }
        }
    }
}

fn send(
    request: &web_sys::Request,
    target: &egress_policy_engine::Target,
    inject: Option<(
        &egress_policy_engine::Credential,
        &egress_policy_outbound::Token,
    )>,
) -> Step {
    match forward(request, target, inject) {
        Ok((upstream, abort)) => Step::Forward(upstream, abort),
        Err(_) => Step::Answer(LocalAnswer::InternalError),
    }
}

/// The decision logged when the policy did not load or `decide` failed: blocked, nothing else
/// known.
fn internal_error_decision() -> Decision {
    Decision {
        action: Action::Block,
        rule: None,
        reason: Some(Reason::InternalError),
        would_block: false,
        report_rule: None,
        credential: None,
        target: None,
    }
}
