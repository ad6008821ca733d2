//! What minting needs from the runtime, time and randomness, behind a trait so tests use fakes.

/// Wall-clock time and cryptographically secure random bytes (for each token's `jti`).
///
/// The Worker implements it with `Date.now()` and `getrandom` (`crypto.getRandomValues`);
/// tests with a settable fake.
pub trait Runtime {
    /// Seconds since 1970-01-01T00:00:00Z.
    fn now_secs(&self) -> u64;

    /// Fills `out` with random bytes; `false` when the runtime has none to give (the token is
    /// then not minted).
    fn fill(&self, out: &mut [u8]) -> bool;
}
