//! Desired state (configuration + source) against actual state (target) → a [`Plan`].

pub mod compare;
pub mod digest;
mod engine;
pub mod safety;
mod types;

pub use engine::{PlanInput, build};
pub use types::*;
