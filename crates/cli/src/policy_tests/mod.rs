//! Policy test files (`policy/tests/*.toml`) and running them against a compiled policy.
//!
//! The format, documented at the top of every shipped test file:
//!
//! ```toml
//! [[case]]
//! name = "malware subdomains are blocked"     # required, shown in the report
//! customer = "customer-123"                   # optional; omitted = no customer (refused)
//! tags = ["production"]                       # optional
//! method = "GET"                              # optional, default GET
//! url = "https://cdn.malicious.com/x"         # required
//! expect = { action = "block", rule = "block-malware" }
//! # expect keys: action (required); rule (omitted = no rule decides: refusals and the
//! # default action); optional would_block, report_rule, reason, credential (checked when given)
//! ```
//!
//! Unknown keys are errors reported with `file:line:col`.

pub mod case_file;
pub mod run;
