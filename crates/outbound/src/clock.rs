//! What minting needs from the runtime, time and randomness, behind traits so tests use fakes.

/// Wall-clock time in whole seconds since the Unix epoch.
///
/// The Worker implements it with `Date.now()`; tests with a settable fake.
pub trait Clock {
    /// Seconds since 1970-01-01T00:00:00Z.
    fn now_secs(&self) -> u64;
}

/// Cryptographically secure random bytes, for each token's `jti`.
///
/// The Worker implements it with `getrandom` (`crypto.getRandomValues`); tests with a fake.
pub trait Random {
    /// Fills `out` with random bytes; `false` when the runtime has none to give (the token is
    /// then not minted).
    fn fill(&self, out: &mut [u8]) -> bool;
}
