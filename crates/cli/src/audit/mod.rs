//! Auditor tools: `audit` (decision logs summarised in bounded memory) and `replay`
//! (logged decisions checked against a policy revision).

pub mod bounded;
pub mod html;
pub mod replay;
pub mod summary;
pub mod table;
pub mod text;
pub mod time;

pub use summary::Auditor;
