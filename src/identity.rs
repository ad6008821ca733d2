//! The customer and tags from the outbound Worker's parameters.
//!
//! As deployed, the dispatch namespace's `outbound.parameters` arrive as top-level `env` keys
//! (`env.customer_name`); locally, workerd/miniflare deliver a caller's parameters as
//! `ctx.props`. Only the two keys are read (never the whole `env`, which holds secrets), and
//! never anything from the request.

use egress_policy_outbound::identity::identity_from;
use serde_json::{Map, Value};
use wasm_bindgen::JsValue;
use worker::Env;
use worker::worker_sys::Context;

thread_local! {
    /// The two parameter names as JS strings, made once per isolate rather than per request.
    static KEYS: [(&'static str, JsValue); 2] = ["customer_name", "customer_tags"]
        .map(|key| (key, JsValue::from_str(key)));
}

/// (customer, tags) from `env`, else from `ctx.props` (read only when `env` names no customer).
pub fn identity(env: &Env, ctx: &Context) -> (Option<String>, Vec<String>) {
    identity_from(&parameters(env), || parameters(&ctx.props()))
}

/// The identity keys of a JS object as JSON: strings and arrays of strings only.
fn parameters(source: &JsValue) -> Value {
    let mut found = Map::new();
    if !source.is_object() {
        return Value::Object(found);
    }
    KEYS.with(|keys| {
        for (key, js_key) in keys {
            let Ok(value) = js_sys::Reflect::get(source, js_key) else {
                continue;
            };
            if let Some(text) = value.as_string() {
                found.insert((*key).to_owned(), Value::String(text));
            } else if js_sys::Array::is_array(&value) {
                let items = js_sys::Array::from(&value)
                    .iter()
                    .filter_map(|item| item.as_string())
                    .map(Value::String)
                    .collect();
                found.insert((*key).to_owned(), Value::Array(items));
            }
        }
    });
    Value::Object(found)
}
