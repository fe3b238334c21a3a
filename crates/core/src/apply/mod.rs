//! Executing a plan against a target: the guards of an apply (errors, safety, staleness) and the
//! loop over its actions. What each action does to a state is [`crate::memory`]'s.
pub mod reviewed;
pub mod run;
pub mod verify;
