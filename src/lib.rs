//! orgsync: keep a workforce app in line with an HR system, declaratively, from a git repository.
//!
//! The pure core — [`config`] → [`scope`] → [`mapping`] → [`plan`] — does no I/O. [`connectors`]
//! read and write the systems; [`render`] prints plans; [`apply`] executes them; [`pipeline`]
//! is what every command shares (load, fetch, plan); [`cli`] parses arguments, calls it and
//! renders, for `main`.

pub mod apply;
pub mod capabilities;
pub mod cli;
pub mod closest;
pub mod config;
pub mod connectors;
pub mod digest;
pub mod explain;
pub mod git;
pub mod identity;
pub mod mapping;
pub mod model;
pub mod pipeline;
pub mod plan;
pub mod redact;
pub mod render;
pub mod sandbox;
pub mod scope;
pub mod vocabulary;

/// The commit orgsync was built from (12 hex digits), or `unknown` outside a git checkout
/// (`build.rs`).
pub const GIT_COMMIT: &str = env!("ORGSYNC_GIT_COMMIT");

/// What `orgsync --version` prints after the name: `0.1.0 (rev 0123456789ab)`.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (rev ",
    env!("ORGSYNC_GIT_COMMIT"),
    ")"
);
