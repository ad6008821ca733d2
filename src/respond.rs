//! The Worker's own answers (403/500/502 JSON), never forwarded.

use egress_policy_outbound::LocalResponse;
use wasm_bindgen::JsValue;

/// A `web_sys::Response` with the status, `content-type: application/json` and the body.
pub fn local(answer: &LocalResponse) -> Result<web_sys::Response, JsValue> {
    let headers = web_sys::Headers::new()?;
    headers.set("content-type", "application/json")?;
    let init = web_sys::ResponseInit::new();
    init.set_status(answer.status);
    init.set_headers(&headers);
    web_sys::Response::new_with_opt_str_and_init(Some(&answer.body), &init)
}
