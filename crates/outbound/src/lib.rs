//! The outbound Worker's logic, free of the Workers runtime so it tests natively.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
