//! The egress policy engine: a policy file compiled into one immutable matcher that decides,
//! per outbound request, whether to block it, inject a credential, or pass it.
//!
//! Pure by design: no I/O, no clock, no runtime. The same code runs natively (CLI, tests,
//! benchmarks) and in the Wasm outbound Worker.
//!
//! The request path: [`Request`] -> canonicalise -> [`CompiledPolicy::decide`] -> [`Decision`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod credential;
pub mod decision;
pub mod log;
pub mod request;

pub use credential::{ClaimTemplate, ClaimVars, Credential, JwtAlgorithm};
pub use decision::{Action, DEFAULT_ACTION_REASON, Decision, Refusal, RuleRef, Target};
pub use log::{DecisionLog, LOG_SCHEMA_VERSION, PolicyRef};
pub use request::Request;
