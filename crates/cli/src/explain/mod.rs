//! What `explain` shows beyond the decision itself: what canonicalisation changed in the
//! request, and which rules matched it and why.

pub mod canonical_changes;
pub mod rule_match;
