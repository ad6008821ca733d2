//! Forwarding a request upstream: never following redirects, streaming the body, with the
//! header plan applied to a copy of the client's headers.

use egress_policy_engine::{Credential, Target};
use egress_policy_outbound::Token;
use egress_policy_outbound::headers::forward_plan;
use wasm_bindgen::{JsCast, JsValue};

/// Why a forward could not start.
pub enum ForwardError {
    /// Building the outgoing request failed inside the Worker (fails closed: 500).
    Internal,
}

/// Starts sending `request` to its own URL with `redirect: "manual"`, its body stream passed
/// through untouched, a disagreeing `Host` header dropped, and for inject the credential
/// header set in place of every client-supplied one. Returns the runtime's `fetch()` promise:
/// it resolves to the upstream response as it came, or rejects when the upstream is
/// unreachable (DNS, connection, TLS, ...).
pub fn forward(
    request: &web_sys::Request,
    target: &Target,
    inject: Option<(&Credential, &Token)>,
) -> Result<js_sys::Promise, ForwardError> {
    let outgoing = outgoing(request, target, inject).map_err(|_| ForwardError::Internal)?;
    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    Ok(global.fetch_with_request(&outgoing))
}

fn outgoing(
    request: &web_sys::Request,
    target: &Target,
    inject: Option<(&Credential, &Token)>,
) -> Result<web_sys::Request, JsValue> {
    // The incoming headers are immutable: work on a copy.
    let headers = web_sys::Headers::new_with_headers(&request.headers())?;
    let host = headers.get("host")?;
    let plan = forward_plan(host.as_deref().map(|value| ("host", value)), target, inject);
    for name in &plan.remove {
        headers.delete(name)?;
    }
    if let Some((name, value)) = &plan.set {
        headers.set(name, value)?;
    }
    let init = web_sys::RequestInit::new();
    init.set_headers(&headers);
    // The Fetch default is "follow": a redirect's next hop would never meet the policy and
    // an injected token would ride along to it.
    init.set_redirect(web_sys::RequestRedirect::Manual);
    // Same method, URL and body stream (not read, not buffered); only init's fields differ.
    web_sys::Request::new_with_request_and_init(request, &init)
}
