//! `egress-policy audit`: decision logs summarised for auditors, in bounded memory.

pub mod bounded;
pub mod html;
pub mod summary;
pub mod table;
pub mod text;
pub mod time;

pub use summary::Auditor;
