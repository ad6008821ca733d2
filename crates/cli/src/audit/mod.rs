//! Auditor tools: `audit` (decision logs summarised in bounded memory) and `replay`
//! (logged decisions checked against a policy revision), plus loading that policy.

pub mod bounded;
pub mod html;
pub mod policy_file;
pub mod replay;
pub mod summary;
pub mod table;
pub mod text;
pub mod time;

pub use summary::Auditor;
