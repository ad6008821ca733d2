//! The egress policy engine: a policy file compiled into one immutable matcher that decides,
//! per outbound request, whether to block it, inject a credential, or pass it.
//!
//! Pure by design: no I/O, no clock, no runtime. The same code runs natively (CLI, tests,
//! benchmarks) and in the Wasm outbound Worker.
//!
//! The request path: [`Request`] -> [`canonical::canonicalise`] -> [`CompiledPolicy::decide`]
//! -> [`Decision`]. The policy path: text -> [`compile`] (parse, validate, build the matcher)
//! -> [`CompiledPolicy`] -> [`CompiledPolicy::to_artifact`] for the Worker to embed. A policy
//! with domain lists names its list files ([`list_files`]); the caller reads them and calls
//! [`compile_with_lists`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// `named!(pub fn as_str for Type { Variant = "name", .. })`: the names a fieldless enum has
/// in policy files and logs, as the method, as `Type::NAMES` (for parsing, in this order) and
/// as its `Display`.
macro_rules! named {
    ($(#[$doc:meta])* $vis:vis fn $method:ident for $ty:ident { $($variant:ident = $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every variant with its name, in the order hints list them.
            pub const NAMES: &[(&str, $ty)] = &[$(($name, $ty::$variant)),+];

            $(#[$doc])*
            $vis fn $method(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.$method())
            }
        }
    };
}

/// Whether `text` is 1 to `max` bytes, each an ASCII letter or digit or one of `extra`: the
/// shape of every name a policy or the Worker's settings give (ids, customers, environments,
/// secrets, methods, header names).
pub(crate) fn is_name(text: &str, max: usize, extra: &[u8]) -> bool {
    (1..=max).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
}

pub mod artifact;
pub mod bundle;
pub mod canonical;
mod canonical_changes;
mod canonical_fast;
mod compile;
mod conditions;
pub mod credential;
mod decide;
mod decision;
pub mod diagnostic;
mod diagnostic_code;
mod domain_list;
pub mod fields;
pub mod header_names;
pub mod host_pattern;
pub mod identity;
pub mod limits;
pub mod log;
pub mod log_chain;
mod matcher;
pub mod model;
mod parse;
mod path_decoding;
mod path_glob;
pub mod path_readings;
mod policy;
/// Test support, never in a production build: the naive decider the property tests and the
/// fuzz targets check the matcher against. It lives with the tests; it plugs into the
/// engine's private decision plumbing, hence compiled in here under the `testing` feature.
#[cfg(feature = "testing")]
#[doc(hidden)]
#[path = "../tests/support/reference.rs"]
pub mod reference;
pub mod request;
mod suggest;
pub mod time;
pub mod trace;
mod validate;
mod wildcard;

pub use artifact::ArtifactError;
pub use canonical::{CanonicalHost, CanonicalUrl, Scheme, canonicalise};
pub use compile::{Compiled, compile, compile_with_lists, policy_sha256, sha256_hex};
pub use credential::{ClaimTemplate, ClaimVars, Credential, JwtAlgorithm, NextKey};
pub use decide::embedded_ipv4;
pub use decision::{Action, DEFAULT_ACTION_REASON, Decision, Reason, Refusal, RuleRef, Target};
pub use diagnostic::{Diagnostic, Diagnostics, Severity};
pub use domain_list::{DomainList, ListFileError, ListFiles, ListFormat, ListMatch, list_files};
pub use host_pattern::HostPattern;
pub use identity::Identity;
pub use log::{DecisionLog, LOG_SCHEMA_VERSION, Outcome, PolicyRef, PolicySource, logged_path};
pub use model::{Defaults, Mode, PathInLogs, PolicyModel, Rule};
pub use path_glob::PathGlob;
pub use policy::CompiledPolicy;
pub use request::Request;
/// "Did you mean" for the CLI's own names (credentials, test-case keys): one edit distance.
pub use suggest::did_you_mean;
pub use trace::Trace;
