//! The command-line tests: one integration-test binary (linking many small ones is slow), one
//! module per subcommand, and the helpers every module shares in `common`.
//!
//! Each test runs the real `orgsync` binary and pins its behaviour — exit code, stdout and stderr
//! together — with an insta snapshot under `tests/cli/snapshots/`. Review changed snapshots with
//! `cargo insta review`, or write them with `INSTA_UPDATE=always cargo test --test cli` and read
//! every one before committing.

mod action;
mod applicants;
mod apply;
mod audit;
mod canary;
mod causes;
mod common;
mod conventions;
mod creates;
mod faults;
mod file_target;
mod git;
mod google;
mod google_revolut;
mod http;
mod interrupt;
mod manusplus;
mod plan;
mod recruitee;
mod revolut;
mod schema;
mod scim_conformance;
mod secrets;
mod sources;
mod unattended;
mod validate;
