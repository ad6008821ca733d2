//! One module per subcommand.

pub mod audit;
pub mod fmt;
pub mod jwks;
pub mod replay;
