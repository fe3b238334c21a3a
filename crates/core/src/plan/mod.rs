//! Desired state (configuration + source) against actual state (target) → a [`Plan`].

pub mod compare;
pub use crate::digest;
mod engine;
pub mod manual;
pub mod safety;

pub use crate::vocabulary::*;
pub use engine::{PlanInput, build};
