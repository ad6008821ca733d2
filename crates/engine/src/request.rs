//! What the engine is asked about.

/// One intercepted request, as the Worker (or the CLI) hands it to [`crate::CompiledPolicy::decide`].
///
/// The engine decides on the URL only; headers are never consulted.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// HTTP method as sent (`GET`, `POST`, ...). Compared case-sensitively, upper case expected.
    pub method: &'a str,
    /// The absolute URL as the runtime serialised it.
    pub url: &'a str,
    /// The customer the outbound Worker was dispatched for; `None` (or an empty name) is refused
    /// (`no_customer`).
    pub customer: Option<&'a str>,
    /// The customer's tags.
    pub tags: &'a [String],
}
