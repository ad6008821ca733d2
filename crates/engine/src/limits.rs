//! Size limits on policies: a policy is trusted input, but a mistake (a generated file gone
//! wrong) must produce a diagnostic, not an engine that takes the Worker down.

/// Largest policy file accepted, in bytes.
pub const MAX_POLICY_BYTES: usize = 64 * 1024 * 1024;
/// Most rules in one policy.
pub const MAX_RULES: usize = 250_000;
/// Most credentials in one policy.
pub const MAX_CREDENTIALS: usize = 1_000;
/// Most entries in one list (`hosts`, `customers`, ...).
pub const MAX_LIST_LEN: usize = 10_000;
/// Longest free-text value (`reason`, `name`, ids, customer names, ...), in bytes.
pub const MAX_TEXT_LEN: usize = 1_024;
/// Longest `path_regex`, in bytes.
pub const MAX_REGEX_LEN: usize = 1_024;
/// Largest compiled `path_regex` (`regex::RegexBuilder::size_limit`).
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// Shortest and longest token lifetime, in seconds.
pub const TTL_RANGE: std::ops::RangeInclusive<i64> = 1..=86_400;
/// Longest token lifetime without a `long-ttl` warning, in seconds: a leaked token is of use
/// for its whole lifetime, and one hour is as long as common token services issue them.
pub const TTL_WARN_ABOVE: i64 = 3_600;
/// Most claims in one credential.
pub const MAX_CLAIMS: usize = 64;
/// Most `[lists.ID]` tables in one policy.
pub const MAX_LISTS: usize = 100;
/// Largest list file accepted, in bytes.
pub const MAX_LIST_FILE_BYTES: usize = 256 * 1024 * 1024;
/// Most names in one domain list (after canonicalisation, before duplicates are dropped).
pub const MAX_LIST_ENTRIES: usize = 5_000_000;
/// Most errors reported for one list file; the rest are counted in one last diagnostic.
pub const MAX_LIST_FILE_ERRORS: usize = 20;
