//! One module per subcommand; each exposes `Args` (clap) and `run`.

pub mod audit;
pub mod bundle;
pub mod check;
pub mod compile;
pub mod diff;
pub mod explain;
pub mod fmt;
pub mod jwks;
pub mod replay;
pub mod test;
