//! Rendering what the engine reports about a decision: its fields as the log line writes them
//! (`explain --json`, `test`, `replay`), and for a person the request as written and as
//! decided on, the rules that matched it and why.

pub mod fields;
pub mod human;
pub mod why;
