//! The least a Rust outbound Worker can do: forward the request as it came and, once the
//! upstream answered, log one decision-shaped object (built as JSON text, parsed, logged,
//! as egress-policy does). No policy, no identity, no header copy. Its first request against
//! a warm one is the floor of any Rust/Wasm outbound Worker in this harness.
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub fn fetch(
    request: web_sys::Request,
    _env: worker::Env,
    _ctx: worker::worker_sys::Context,
) -> Result<JsValue, JsValue> {
    let started = js_sys::Date::now();
    let url = request.url();
    let method = request.method();
    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let upstream = global.fetch_with_request(&request);
    let log = Closure::<dyn FnMut(JsValue) -> JsValue>::once(move |response: JsValue| {
        let status = response
            .dyn_ref::<web_sys::Response>()
            .map_or(0, web_sys::Response::status);
        let line = format!(
            r#"{{"v":1,"ts":{started},"decision_id":"00000000-0000-4000-8000-000000000000","customer":"acme","tags":[],"action":"pass","would_block":false,"rule":null,"report_rule":null,"reason":null,"method":{method:?},"url":{url:?},"credential":null,"policy":{{"name":"floor","sha256":"0"}},"status":{status},"error":null,"duration_ms":{}}}"#,
            js_sys::Date::now() - started
        );
        let object = js_sys::JSON::parse(&line).unwrap_or_else(|_| JsValue::from_str(&line));
        web_sys::console::log_1(&object);
        response
    });
    // The handler is handed to the JS GC, which frees its Rust side once it has run.
    let then: js_sys::Function = js_sys::Reflect::get(&upstream, &JsValue::from_str("then"))?.dyn_into()?;
    then.call1(&upstream, &log.into_js_value())
}
