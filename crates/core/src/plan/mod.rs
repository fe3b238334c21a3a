//! Desired state (configuration + source) against actual state (target) → a
//! [`Plan`](crate::vocabulary::Plan), whose words live in [`crate::vocabulary`].

pub mod compare;
mod engine;
pub mod manual;
pub mod safety;

pub use engine::{Focus, PersonPlan, PlanInput, build, build_for};
