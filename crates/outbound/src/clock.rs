//! The time source for token lifetimes, behind a trait so tests use a fake clock.

/// Wall-clock time in whole seconds since the Unix epoch.
///
/// The Worker implements it with `Date.now()`; tests with a settable fake.
pub trait Clock {
    /// Seconds since 1970-01-01T00:00:00Z.
    fn now_secs(&self) -> u64;
}
