//! The keys of a policy file, per table, in the order the language reference introduces them.
//! One list for everything that names them: the validator's "unknown field" check and its
//! "expected one of" hint, and `egress-policy fmt`'s key order.

/// Top-level keys, values and tables alike.
pub const ROOT: &[&str] = &[
    "version",
    "name",
    "defaults",
    "rules",
    "credentials",
    "lists",
];

/// `[defaults]`
pub const DEFAULTS: &[&str] = &[
    "action",
    "mode",
    "ip_literals",
    "query_in_logs",
    "path_in_logs",
    "customer_tags",
];

/// `[[rules]]`: what the rule is and does first, then its conditions.
pub const RULE: &[&str] = &[
    "id",
    "action",
    "hosts",
    "lists",
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
    "next_secret",
    "next_key_id",
    "issuer",
    "audience",
    "ttl",
    "header",
    "prefix",
    "claims",
    "forward_headers",
];

/// `[lists.ID]`
pub const LIST: &[&str] = &["file", "format", "match"];
