//! The outbound Worker's logic, free of the Workers runtime so it tests natively.
//!
//! The request path as the Worker adapter (`src/` of the root package) walks it:
//! identity (the engine's `identity::read`) -> engine `decide` -> [`plan::plan`] -> for inject,
//! [`mint::Minter::token`] (claims, signing, token cache) -> [`headers::forward_plan`] ->
//! forward or answer locally ([`answer`]) -> one [`log::build`] line.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod answer;
pub mod bundle_state;
pub mod decision_id;
pub mod error;
pub mod headers;
pub mod log;
pub mod metrics;
pub mod mint;
pub mod plan;
pub mod runtime;
pub mod signer;
pub mod token;
pub mod token_cache;

pub use answer::{LocalAnswer, LocalResponse};
pub use error::CredentialError;
pub use mint::Minter;
pub use plan::{ActionPlan, plan};
pub use runtime::Runtime;
pub use signer::{JwtSigner, Signer};
pub use token::Token;
