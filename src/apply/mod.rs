//! apply (being written).
pub mod memory;
pub mod run;
