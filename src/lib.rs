//! The outbound Worker: a thin adapter from the Workers runtime to the policy engine.
//!
//! The request path: [`handler`] learns the policy in force ([`live`]: the newest signed one
//! it can verify, embedded ([`embedded`]) or a bundle taken up from Workers KV, as its
//! [`settings`] say), reads the customer ([`identity`]), decides, acts on the decision with
//! `egress_policy_outbound` (a local answer, token minting, header plan), forwards
//! ([`forward`]) or answers itself, and writes exactly one decision log line
//! ([`journal`]).
//!
//! Everything but [`embedded`] is wasm32-only, so native `cargo test --workspace` stays fast
//! and still checks that the embedded policy artefact loads.
#![forbid(unsafe_code)]

pub mod embedded;

#[cfg(target_arch = "wasm32")]
mod forward;
#[cfg(target_arch = "wasm32")]
mod handler;
#[cfg(target_arch = "wasm32")]
mod identity;
#[cfg(target_arch = "wasm32")]
mod journal;
#[cfg(target_arch = "wasm32")]
mod live;
#[cfg(target_arch = "wasm32")]
mod runtime;
#[cfg(target_arch = "wasm32")]
mod settings;

/// Decodes the embedded policy when the Wasm module is instantiated, at the script's startup,
/// instead of on an isolate's first request: the platform starts isolates ahead of requests
/// where it can, and the customer's first fetch then does not wait for the policy's load.
/// A policy that does not load stays `None` and every request fails closed, as before.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn load_policy_at_startup() {
    let _loaded = runtime::guarded(embedded::policy);
}
