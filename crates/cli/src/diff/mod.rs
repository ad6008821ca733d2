//! The semantic diff of two policies, computed by probing their compiled matchers.
//!
//! 1. `probe_set`: representative requests from both policies' rules (every exact host, each
//!    wildcard's apex, a direct and a deeper subdomain, glob instantiations, CIDR edges and just
//!    outside them; per host the methods, schemes, ports and paths the rules that can match it
//!    list, each with one value outside; the customers and tags they name plus one customer
//!    neither names).
//! 2. `compare`: every probe decided by both policies; what differs is classified
//!    (newly blocked, newly allowed, enforce -> report, newly injected, ...).
//! 3. `group`: differences grouped by change kind, the deciding rule on each side, the
//!    customer/tag scope and the credential, so a reviewer reads a handful of lines.
//!
//! Two policies written differently that decide every probe alike produce no difference.

pub mod compare;
pub mod group;
pub mod list_probes;
pub mod path_samples;
pub mod probe_hosts;
pub mod probe_set;
pub mod render;
