//! orgsync's pure core. The sync is a function: configuration → [`scope`] → [`mapping`] →
//! [`identity`] → [`plan`], from values to a value. Nothing here reads the network, a clock, git
//! or an environment variable it was not handed; the compiler keeps it so (this crate has no
//! HTTP client, async runtime or git library to call).
//!
//! Besides the sync itself, the core defines the seams the outside plugs into: [`connector`] (what
//! a source and a target are), [`ledger`] (where apply records, ownership and badges are kept),
//! and [`apply`], the loop that drives a target through a plan.

pub mod apply;
pub mod audit;
pub mod capabilities;
pub mod closest;
pub mod config;
pub mod connector;
pub mod digest;
pub mod estimate;
pub mod explain;
pub mod focus;
pub mod identity;
pub mod ledger;
pub mod mapping;
pub mod memory;
pub mod model;
pub mod plan;
pub mod redact;
pub mod scope;
pub mod vocabulary;
