//! The customer and tags from the outbound Worker's parameters, read by the engine's one
//! function (`egress_policy_engine::identity::read`, which the CLI uses too).
//!
//! As deployed, the dispatch namespace's `outbound.parameters` arrive as top-level `env` keys:
//! flat (`env.customer_name`, `env.customer_tags`) or nested as the platform's documented
//! example has them (`env.customer_context.customer_name`). `ctx.props` (how workerd delivers
//! a caller's parameters locally) is read only when `env` sets `EGRESS_IDENTITY_FROM_PROPS`:
//! otherwise any Worker able to bind to this one could name any customer with `props`.
//!
//! Only these keys are copied out of JS (never the whole `env`, which holds secrets), and
//! nothing from the request. Values are copied as they are, not cleaned: a customer that is
//! present but not a clean name is refused by the engine, never repaired here.

use egress_policy_engine::Identity;
use egress_policy_engine::identity::{
    CONTEXT_PARAM, CUSTOMER_PARAM, PROPS_OPT_IN, TAGS_PARAM, read,
};
use serde_json::{Map, Value};
use wasm_bindgen::JsValue;
use worker::Env;
use worker::worker_sys::Context;

use crate::settings::present;

/// The parameter names identity reads, as JS strings made once per isolate: customer, tags,
/// context, opt-in.
type Keys = [JsValue; 4];

thread_local! {
    static KEYS: Keys =
        [CUSTOMER_PARAM, TAGS_PARAM, CONTEXT_PARAM, PROPS_OPT_IN].map(JsValue::from_str);
}

/// The request's identity: from `env`, else (only when `env` opts in) from `ctx.props`.
pub fn identity(env: &Env, ctx: &Context) -> Identity {
    KEYS.with(|keys| {
        let mut env_params = parameters(env, keys, false);
        let [_, _, _, opt_in] = keys;
        if let Some(opt_in) = get(env, opt_in) {
            env_params.insert(PROPS_OPT_IN.to_owned(), opt_in);
        }
        read(&Value::Object(env_params), || {
            Value::Object(parameters(&ctx.props(), keys, false))
        })
    })
}

/// The identity keys of one parameter object (`env` or `props`), those present: the flat
/// customer and tags, and (unless it is the `nested` one) the `customer_context` object with
/// its own two keys. A source that is no object has none (a context that is none names no
/// clean customer).
fn parameters(source: &JsValue, keys: &Keys, nested: bool) -> Map<String, Value> {
    let mut found = Map::new();
    let [customer, tags, context, _] = keys;
    if !source.is_object() {
        return found;
    }
    for (name, key) in [(CUSTOMER_PARAM, customer), (TAGS_PARAM, tags)] {
        if let Some(value) = get(source, key) {
            found.insert(name.to_owned(), value);
        }
    }
    if !nested && let Some(context) = present(source, context) {
        let context = parameters(&context, keys, true);
        found.insert(CONTEXT_PARAM.to_owned(), Value::Object(context));
    }
    found
}

/// One parameter as JSON, `None` when absent or null. Strings and booleans as they are, an
/// array as its items; anything else becomes a value that is not a string (the engine reads
/// it as no clean name and refuses it), so a mistyped parameter is never taken as absent.
fn get(source: &JsValue, key: &JsValue) -> Option<Value> {
    let value = present(source, key)?;
    Some(if js_sys::Array::is_array(&value) {
        Value::Array(
            js_sys::Array::from(&value)
                .iter()
                .map(|item| scalar(&item))
                .collect(),
        )
    } else {
        scalar(&value)
    })
}

/// A string or boolean as it is; anything else as an empty object (not a string).
fn scalar(value: &JsValue) -> Value {
    let scalar = value.as_string().map(Value::String);
    let scalar = scalar.or_else(|| value.as_bool().map(Value::Bool));
    scalar.unwrap_or_else(|| Value::Object(Map::new()))
}
