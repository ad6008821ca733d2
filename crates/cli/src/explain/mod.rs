//! What `explain` shows beyond the decision itself: what canonicalisation changed in the
//! request, which rules matched it and why, rendered for a person.

pub mod canonical_changes;
pub mod human;
pub mod rule_match;
pub mod why;

/// The request being explained, as given on the command line.
#[derive(Clone, Copy, Debug)]
pub struct Query<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// The URL exactly as given.
    pub url: &'a str,
    /// The customer, if any.
    pub customer: Option<&'a str>,
    /// The customer's tags.
    pub tags: &'a [String],
}
