//! Forwarding a request upstream: never following redirects, streaming the body, with the
//! header plan applied to a copy of the client's headers.

use egress_policy_engine::{Credential, Target};
use egress_policy_outbound::Token;
use egress_policy_outbound::headers::forward_plan;
use wasm_bindgen::{JsCast, JsValue};

/// Starts sending `request` to its own URL with `redirect: "manual"`, its body stream passed
/// through untouched, a disagreeing `Host` header dropped, and for inject the credential
/// header set in place of every client-supplied one, the override headers stripped and the
/// caller's `cf` options dropped with caching off. Returns the runtime's `fetch()` promise
/// (it resolves to the upstream response as it came, or rejects when the upstream is
/// unreachable: DNS, connection, TLS, ...) and the controller that aborts it. `Err` when the
/// outgoing request could not be built (the Worker then fails closed: 500).
pub fn forward(
    request: &web_sys::Request,
    target: &Target,
    inject: Option<(&Credential, &Token)>,
) -> Result<(js_sys::Promise, web_sys::AbortController), JsValue> {
    let incoming = request.headers();
    let host = incoming.get("host")?;
    // A pass needs only `Host`; an inject reads every name (to strip spellings and overrides).
    let names = match inject {
        Some(_) => header_names(&incoming)?,
        None => Vec::new(),
    };
    let plan = forward_plan(
        host.as_deref(),
        names.iter().map(String::as_str),
        target,
        inject,
    );
    let init = web_sys::RequestInit::new();
    if !plan.is_unchanged() {
        // The incoming headers are immutable: the plan is applied to a copy. (Unchanged, they
        // are the new request's headers as they are.)
        let headers = web_sys::Headers::new_with_headers(&incoming)?;
        for name in &plan.remove {
            headers.delete(name)?;
        }
        if let Some((name, value)) = &plan.set {
            headers.set(name, value.as_str())?;
        }
        init.set_headers(&headers);
    }
    let abort = web_sys::AbortController::new()?;
    init.set_signal(Some(&abort.signal()));
    // The Fetch default is "follow": a redirect's next hop would never meet the policy and
    // an injected token would ride along to it.
    init.set_redirect(web_sys::RequestRedirect::Manual);
    if inject.is_some() {
        // A response fetched with one customer's token must never be served from a cache to
        // anyone else: the caller's `cf` options (`cacheKey`, `cacheEverything`, `cacheTtl`,
        // `resolveOverride`, ...) are replaced by none, and the request is not cached.
        js_sys::Reflect::set(init.as_ref(), &"cf".into(), &js_sys::Object::new())?;
        init.set_cache(web_sys::RequestCache::NoStore);
    }
    // Same method, URL and body stream (not read, not buffered); only init's fields differ.
    let outgoing = web_sys::Request::new_with_request_and_init(request, &init)?;
    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    Ok((global.fetch_with_request(&outgoing), abort))
}

/// Every header name of `headers` except `Host` (given apart, with its value), as the Fetch
/// standard iterates them: lower case, each once.
fn header_names(headers: &web_sys::Headers) -> Result<Vec<String>, JsValue> {
    let mut names = Vec::new();
    for name in headers.keys() {
        names.extend(name?.as_string().filter(|name| name != "host"));
    }
    Ok(names)
}
