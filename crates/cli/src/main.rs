//! `egress-policy`: the command line for policy authors and auditors.
fn main() {}
