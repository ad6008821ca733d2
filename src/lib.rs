//! The outbound Worker: a thin adapter from the Workers runtime to the policy engine.
#![forbid(unsafe_code)]
