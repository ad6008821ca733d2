//! The outbound Worker: a thin adapter from the Workers runtime to the policy engine.
//!
//! The request path: [`handler`] reads the customer ([`identity`]), asks the policy in force
//! ([`live`]: the embedded one ([`embedded`]), or a signed bundle taken up from Workers KV) for
//! a decision, acts on it with `egress_policy_outbound` (block answer,
//! token minting, header plan), forwards ([`forward`]) or answers ([`respond`]), and writes
//! exactly one decision log line ([`runtime::log_line`]).
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
mod live;
#[cfg(target_arch = "wasm32")]
mod respond;
#[cfg(target_arch = "wasm32")]
mod runtime;
