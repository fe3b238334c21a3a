//! Desired state (configuration + source) against actual state (target) → a [`Plan`].

pub mod compare;
pub mod digest;
mod engine;
pub mod safety;

pub use crate::vocabulary::*;
pub use engine::{PlanInput, build};
