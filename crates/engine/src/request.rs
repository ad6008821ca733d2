//! What the engine is asked about.

use std::borrow::Cow;

/// One intercepted request, as the Worker (or the CLI) hands it to [`crate::CompiledPolicy::decide`].
///
/// The engine decides on the URL only; headers are never consulted.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// HTTP method as sent. Matched upper-cased ([`normalise_method`]): the runtime sends
    /// `get` as `GET`, so `explain --method get` must decide what the Worker decides.
    pub method: &'a str,
    /// The absolute URL as the runtime serialised it.
    pub url: &'a str,
    /// The customer as read by [`crate::identity::read`] (or given to the CLI): `None` is
    /// refused (`no_customer`), a name that is not clean too (`invalid_customer`).
    pub customer: Option<&'a str>,
    /// The customer's tags; one that is not a clean name is refused (`invalid_tags`). `None`
    /// when no tags parameter was given at all: refused (`no_tags`) by a policy that scopes
    /// rules by tag. The CLI gives `Some` (the customer's tags, none unless told).
    pub tags: Option<&'a [String]>,
}

/// The method as matched and logged: ASCII upper case (the Workers runtime upper-cases every
/// method it sends).
pub fn normalise_method(method: &str) -> Cow<'_, str> {
    if method.bytes().any(|b| b.is_ascii_lowercase()) {
        Cow::Owned(method.to_ascii_uppercase())
    } else {
        Cow::Borrowed(method)
    }
}

/// Methods that never carry an injected token: `TRACE` and `TRACK` echo the request (and so
/// the token) back to the caller, `CONNECT` opens a tunnel to wherever the caller likes.
pub const NON_INJECTABLE_METHODS: &[&str] = &["TRACE", "TRACK", "CONNECT"];
