//! Connectors: the only code that reads or writes the systems. Each has a read side that tests
//! can fake and a write side; a dry run simply never calls the write side.

pub mod afas;
pub mod afas_applicants;
pub mod file_source;
pub mod file_target;
pub mod google;
pub mod http;
pub mod kit;
pub mod manusplus;
pub mod progress;
pub mod recruitee;
pub mod revolut;
pub mod scim;
mod skim;
mod split;

pub use kit::Kit;
pub use orgsync_core::connector::{
    ActionProgress, ApplyContext, ConnectorError, Finished, Interrupt, Removal, Source, Target,
    TargetCapabilities, WritableFields,
};
