//! Arbitrary bytes as a request URL: canonicalise + decide must never panic, the plain-URL
//! fast path must agree with the WHATWG parser, and the fast matcher with the reference.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| egress_policy_fuzz::policy::decide(data));
