//! The canonical order of keys and tables: the engine's field lists
//! ([`egress_policy_engine::fields`], the order the language reference introduces them). Keys
//! not listed keep their relative order after the listed ones.

pub use egress_policy_engine::fields::{CREDENTIAL, DEFAULTS, LIST, ROOT, RULE};

/// Sort rank of `key` in `order` (unknown keys after every known one).
pub fn rank(order: &[&str], key: &str) -> usize {
    order.iter().position(|k| *k == key).unwrap_or(order.len())
}
