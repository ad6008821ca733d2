//! Compiles the policy into the Worker at build time.
fn main() {}
