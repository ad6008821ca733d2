//! The canonical order of keys and tables (DESIGN.md section 2: the order the language
//! reference introduces them). Keys not listed keep their relative order after the listed ones.

/// Top-level keys, values and tables alike.
pub const ROOT: &[&str] = &["version", "name", "defaults", "rules", "credentials"];

/// `[defaults]`
pub const DEFAULTS: &[&str] = &["action", "mode", "ip_literals", "query_in_logs"];

/// `[[rules]]`: what the rule is and does first, then its conditions.
pub const RULE: &[&str] = &[
    "id",
    "action",
    "hosts",
    "reason",
    "credential",
    "schemes",
    "ports",
    "methods",
    "paths",
    "path_regex",
    "customers",
    "tags",
    "mode",
];

/// `[credentials.ID]`
pub const CREDENTIAL: &[&str] = &[
    "kind",
    "algorithm",
    "secret",
    "key_id",
    "issuer",
    "audience",
    "ttl",
    "header",
    "prefix",
    "claims",
];

/// Sort rank of `key` in `order` (unknown keys after every known one).
pub fn rank(order: &[&str], key: &str) -> usize {
    order.iter().position(|k| *k == key).unwrap_or(order.len())
}
