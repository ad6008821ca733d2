//! Arbitrary bytes as a decision log (plain or gzip, decision lines or Logpush records): the
//! reader of `audit` and `replay` never panics and keeps its report bounded.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| egress_policy_fuzz::log_reader::read_logs(data));
