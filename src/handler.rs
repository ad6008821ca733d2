//! The fetch event: identity -> decide -> act -> log, once per intercepted request.

use std::cell::RefCell;

use egress_policy_engine::{Action, ClaimVars, CompiledPolicy, Decision, PolicyRef, Request};
use egress_policy_outbound::body::{self, LocalResponse};
use egress_policy_outbound::log::{LogFacts, build};
use egress_policy_outbound::{ActionPlan, JwtSigner, Minter, RequestError, plan};
use worker::{Context, Env, event};

use crate::embedded;
use crate::forward::{ForwardError, forward};
use crate::identity::identity;
use crate::respond;
use crate::runtime::{DateClock, decision_id, guarded, log_line, now_ms, secret};

thread_local! {
    /// Per-isolate token and key caches. Only borrowed synchronously (never across an
    /// `await`), so concurrent requests of the isolate never contend for it.
    static MINTER: RefCell<Minter<JwtSigner, DateClock>> =
        RefCell::new(Minter::new(JwtSigner::new(), DateClock));
}

/// How one request ended, for the response and the log line.
struct Outcome {
    response: Result<web_sys::Response, LocalResponse>,
    status: Option<u16>,
    error: Option<RequestError>,
}

impl Outcome {
    fn answer(answer: LocalResponse, error: Option<RequestError>) -> Outcome {
        Outcome {
            response: Err(answer),
            status: None,
            error,
        }
    }
}

#[event(fetch)]
async fn fetch(
    request: web_sys::Request,
    env: Env,
    ctx: Context,
) -> worker::Result<web_sys::Response> {
    let arrived_ms = now_ms();
    let decision_id = decision_id(arrived_ms);
    let (customer, tags) = identity(&env, &ctx);
    let method = request.method();
    let url = request.url();

    let policy = guarded(embedded::policy).flatten();
    let decided = policy.and_then(|policy| {
        guarded(|| {
            policy.decide(&Request {
                method: &method,
                url: &url,
                customer: customer.as_deref(),
                tags: &tags,
            })
        })
        .map(|decision| (policy, decision))
    });
    let (decision, outcome) = match decided {
        Some((policy, decision)) => {
            let outcome = act(
                policy,
                &decision,
                &decision_id,
                &request,
                &env,
                customer.as_deref(),
                &tags,
            )
            .await;
            (decision, outcome)
        }
        // The policy did not load or `decide` panicked: fail closed.
        None => (
            internal_error_decision(),
            Outcome::answer(
                body::internal_error(&decision_id),
                Some(RequestError::InternalError),
            ),
        ),
    };

    let policy_ref = guarded(embedded::policy_ref).unwrap_or_else(|| PolicyRef {
        name: None,
        sha256: String::from("unknown"),
    });
    let query_in_logs = policy.is_some_and(|p| p.defaults().query_in_logs);
    log_line(&build(
        &decision,
        &LogFacts {
            decision_id: &decision_id,
            customer: customer.as_deref(),
            tags: &tags,
            method: &method,
            policy: &policy_ref,
            query_in_logs,
            arrived_ms,
            status: outcome.status,
            error: outcome.error,
            duration_ms: now_ms().saturating_sub(arrived_ms),
        },
    ));

    match outcome.response {
        Ok(upstream) => Ok(upstream),
        Err(answer) => respond::local(&answer).map_err(worker::Error::from),
    }
}

/// Carries out the decision: answer, or mint and forward, or forward.
async fn act(
    policy: &CompiledPolicy,
    decision: &Decision,
    decision_id: &str,
    request: &web_sys::Request,
    env: &Env,
    customer: Option<&str>,
    tags: &[String],
) -> Outcome {
    let Some(target) = decision.target.as_ref() else {
        // Only unparsable URLs lack a target, and those are always blocked.
        return match plan(decision, decision_id, |_| None) {
            ActionPlan::Answer(answer) => Outcome::answer(answer, None),
            _ => Outcome::answer(
                body::internal_error(decision_id),
                Some(RequestError::InternalError),
            ),
        };
    };
    match plan(decision, decision_id, |id| policy.credential(id)) {
        ActionPlan::Answer(answer) => {
            let error =
                (decision.action == Action::Inject).then_some(RequestError::CredentialUnavailable);
            Outcome::answer(answer, error)
        }
        ActionPlan::Pass => send(request, target, None, decision_id).await,
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
                Some(Ok(token)) => {
                    send(request, target, Some((credential, &token)), decision_id).await
                }
                Some(Err(error)) => Outcome::answer(
                    body::credential_unavailable(Some(&credential.id), decision_id),
                    Some(error.request_error()),
                ),
                None => Outcome::answer(
                    body::internal_error(decision_id),
                    Some(RequestError::InternalError),
                ),
            }
        }
    }
}

async fn send(
    request: &web_sys::Request,
    target: &egress_policy_engine::Target,
    inject: Option<(
        &egress_policy_engine::Credential,
        &egress_policy_outbound::Token,
    )>,
    decision_id: &str,
) -> Outcome {
    match forward(request, target, inject).await {
        Ok(upstream) => Outcome {
            status: Some(upstream.status()),
            response: Ok(upstream),
            error: None,
        },
        Err(ForwardError::Unreachable) => Outcome::answer(
            body::upstream_unreachable(decision_id),
            Some(RequestError::UpstreamUnreachable),
        ),
        Err(ForwardError::Internal) => Outcome::answer(
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
