//! Auditor tools: `audit` (decision logs summarised in bounded memory, laid out once as a
//! report of sections for text and HTML) and `replay` (logged decisions checked against a
//! policy revision).

pub mod bounded;
pub mod html;
pub mod replay;
pub mod report;
pub mod summary;
pub mod text;
pub mod time;

pub use summary::Auditor;
