//! `orgsync sandbox`: local stand-ins for the real systems, for trying a configuration without
//! credentials and for the tests.

pub mod afas;
pub mod generate;
pub mod google;
pub mod manusplus;
pub mod recruitee;
pub mod revolut;
pub mod scim;
pub mod serve;
