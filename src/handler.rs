//! The fetch export: identity -> decide -> act -> log, once per intercepted request.
//!
//! Everything up to the upstream `fetch()` runs synchronously; the only asynchronous step
//! is the upstream response, handled by one `then` on the runtime's own promise. No Rust
//! executor is involved: an `async` export (the `#[event(fetch)]` macro) drives every
//! request through `wasm-bindgen-futures`' task queue, which costs two `queueMicrotask`
//! round trips per request for nothing this handler needs.

use std::cell::RefCell;
use std::rc::Rc;

use egress_policy_engine::request::normalise_method;
use egress_policy_engine::{
    Action, ClaimVars, CompiledPolicy, Decision, Identity, PathInLogs, Request,
};
use egress_policy_outbound::body::{self, LocalResponse};
use egress_policy_outbound::log::{LogFacts, build};
use egress_policy_outbound::{ActionPlan, JwtSigner, Minter, RequestError, plan};
use wasm_bindgen::prelude::*;
use worker::Env;

use crate::forward::{ForwardError, forward};
use crate::identity::identity;
use crate::live::{self, Active, Ready};
use crate::respond;
use crate::runtime::{DateClock, Thenable, decision_id, guarded, log_line, now_ms, secret};

thread_local! {
    /// Per-isolate token and key caches. Only borrowed synchronously, so concurrent
    /// requests of the isolate never contend for it.
    static MINTER: RefCell<Minter<JwtSigner, DateClock>> =
        RefCell::new(Minter::new(JwtSigner::new(), DateClock));
}

/// What happens after the decision: a local answer now, or the upstream's promise.
enum Step {
    Answer(LocalResponse, Option<RequestError>),
    Forward(js_sys::Promise),
}

/// Everything the decision log line needs besides the outcome.
struct Facts {
    decision: Decision,
    decision_id: String,
    customer: Option<String>,
    tags: Vec<String>,
    method: String,
    active: Active,
    query_in_logs: bool,
    path_in_logs: PathInLogs,
    arrived_ms: u64,
}

impl Facts {
    /// Writes this request's one decision log line.
    fn log(&self, status: Option<u16>, error: Option<RequestError>) {
        log_line(&build(
            &self.decision,
            &LogFacts {
                decision_id: &self.decision_id,
                customer: self.customer.as_deref(),
                tags: &self.tags,
                method: &self.method,
                policy: self.active.policy_ref(),
                query_in_logs: self.query_in_logs,
                path_in_logs: self.path_in_logs,
                arrived_ms: self.arrived_ms,
                status,
                error,
                duration_ms: now_ms().saturating_sub(self.arrived_ms),
            },
        ));
    }

    /// Logs a local answer and turns it into the Response to return.
    fn answer(
        &self,
        answer: &LocalResponse,
        error: Option<RequestError>,
    ) -> Result<JsValue, JsValue> {
        self.log(None, error);
        respond::local(answer).map(JsValue::from)
    }
}

/// The Worker's fetch handler (worker-build's entry calls the export named `fetch` with the
/// request, `env` and `ctx`). Returns a Response, or a Promise of one when forwarding or when
/// the isolate's first read of a policy bundle must settle first.
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
        Ready::Now(active) => handle(request, env, ctx, active, arrived_ms),
        Ready::After(read) => {
            let decide = Closure::<dyn FnMut(JsValue) -> Result<JsValue, JsValue>>::once(
                move |_: JsValue| handle(request, env, ctx, live::current(), arrived_ms),
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
    request: web_sys::Request,
    env: Env,
    ctx: worker::worker_sys::Context,
    active: Active,
    arrived_ms: u64,
) -> Result<JsValue, JsValue> {
    let decision_id = decision_id(arrived_ms);
    let Identity { customer, tags } = identity(&env, &ctx);
    // `None`: no tags parameter at all (refused `no_tags` where rules are scoped by tag).
    let tags_given = tags.is_some();
    let tags = tags.unwrap_or_default();
    // Logged as the engine matched it (`patch` is `PATCH`), so the line replays to itself.
    let method = normalise_method(&request.method()).into_owned();
    let url = request.url();

    let policy = active.policy();
    let decided = policy.and_then(|policy| {
        guarded(|| {
            policy.decide(&Request {
                method: &method,
                url: &url,
                customer: customer.as_deref(),
                tags: tags_given.then_some(&tags[..]),
            })
        })
        .map(|decision| (policy, decision))
    });
    let (decision, step) = match decided {
        Some((policy, decision)) => {
            let step = act(
                policy,
                &decision,
                &decision_id,
                &request,
                &env,
                customer.as_deref(),
                &tags,
            );
            (decision, step)
        }
        // The policy did not load or `decide` panicked: fail closed.
        None => (
            internal_error_decision(),
            Step::Answer(
                body::internal_error(&decision_id),
                Some(RequestError::InternalError),
            ),
        ),
    };
    let query_in_logs = policy.is_some_and(|p| p.defaults().query_in_logs);
    let path_in_logs = policy
        .map(|p| p.defaults().path_in_logs)
        .unwrap_or_default();
    let facts = Facts {
        decision,
        decision_id,
        customer,
        tags,
        method,
        active,
        query_in_logs,
        path_in_logs,
        arrived_ms,
    };
    match step {
        Step::Answer(answer, error) => facts.answer(&answer, error),
        Step::Forward(upstream) => {
            let settled = settle(&upstream, facts);
            // The line is written when the upstream settles, which may be after the caller
            // aborted its fetch or stopped waiting for it: `waitUntil` keeps the request's
            // context alive until then, so the line is never lost with the caller. Should the
            // runtime refuse it, the request still goes on: the line is then written as
            // before, when the caller is still there to receive the response.
            let _kept_alive = ctx.wait_until(&settled).is_ok();
            Ok(settled.into())
        }
    }
}

/// The upstream promise, then: log with its status and return the response as it came, or
/// (the fetch rejected) log and answer 502. Exactly one of the two handlers runs, once.
fn settle(upstream: &js_sys::Promise, facts: Facts) -> js_sys::Promise {
    let pending = Rc::new(RefCell::new(Some(facts)));
    let on_rejected_pending = Rc::clone(&pending);
    let on_fulfilled =
        Closure::<dyn FnMut(JsValue) -> Result<JsValue, JsValue>>::own_assert_unwind_safe(
            move |value: JsValue| {
                let Some(facts) = pending.borrow_mut().take() else {
                    return Err(JsValue::from_str("settled twice"));
                };
                match value.dyn_into::<web_sys::Response>() {
                    Ok(response) => {
                        facts.log(Some(response.status()), None);
                        Ok(response.into())
                    }
                    Err(_) => facts.answer(
                        &body::internal_error(&facts.decision_id),
                        Some(RequestError::InternalError),
                    ),
                }
            },
        );
    let on_rejected =
        Closure::<dyn FnMut(JsValue) -> Result<JsValue, JsValue>>::own_assert_unwind_safe(
            move |_reason: JsValue| {
                let Some(facts) = on_rejected_pending.borrow_mut().take() else {
                    return Err(JsValue::from_str("settled twice"));
                };
                facts.answer(
                    &body::upstream_unreachable(&facts.decision_id),
                    Some(RequestError::UpstreamUnreachable),
                )
            },
        );
    // Handed to the JS GC: each handler's Rust side is freed when its function is collected.
    upstream
        .unchecked_ref::<Thenable>()
        .then_both(&on_fulfilled.into_js_value(), &on_rejected.into_js_value())
}

/// Carries out the decision: answer, or mint and start the forward, or start the forward.
fn act(
    policy: &CompiledPolicy,
    decision: &Decision,
    decision_id: &str,
    request: &web_sys::Request,
    env: &Env,
    customer: Option<&str>,
    tags: &[String],
) -> Step {
    let Some(target) = decision.target.as_ref() else {
        // Only unparsable URLs lack a target, and those are always blocked.
        return match plan(decision, decision_id, |_| None) {
            ActionPlan::Answer(answer) => Step::Answer(answer, None),
            _ => Step::Answer(
                body::internal_error(decision_id),
                Some(RequestError::InternalError),
            ),
        };
    };
    match plan(decision, decision_id, |id| policy.credential(id)) {
        ActionPlan::Answer(answer) => {
            let error =
                (decision.action == Action::Inject).then_some(RequestError::CredentialUnavailable);
            Step::Answer(answer, error)
        }
        ActionPlan::Pass => send(request, target, None, decision_id),
        ActionPlan::Inject(credential) => {
            let vars = ClaimVars {
                customer: customer.unwrap_or_default(),
                tags,
                host: &target.host,
                rule: decision.rule.as_ref().map_or("", |rule| rule.id.as_str()),
            };
            let minted = guarded(|| {
                MINTER.with(|minter| {
                    minter
                        .try_borrow_mut()
                        .ok()
                        .map(|mut minter| minter.token(credential, &vars, |name| secret(env, name)))
                })
            })
            .flatten();
            match minted {
                Some(Ok(token)) => send(request, target, Some((credential, &token)), decision_id),
                Some(Err(error)) => Step::Answer(
                    body::credential_unavailable(Some(&credential.id), decision_id),
                    Some(error.request_error()),
                ),
                None => Step::Answer(
                    body::internal_error(decision_id),
                    Some(RequestError::InternalError),
                ),
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
    decision_id: &str,
) -> Step {
    match forward(request, target, inject) {
        Ok(upstream) => Step::Forward(upstream),
        Err(ForwardError::Internal) => Step::Answer(
            body::internal_error(decision_id),
            Some(RequestError::InternalError),
        ),
    }
}

/// The decision logged when the embedded policy did not load or `decide` failed: blocked,
/// nothing else known.
fn internal_error_decision() -> Decision {
    Decision {
        action: Action::Block,
        rule: None,
        reason: Some(RequestError::InternalError.code().to_owned()),
        would_block: false,
        report_rule: None,
        credential: None,
        target: None,
    }
}
