//! `orgsync sandbox`: local stand-ins for the real systems, for trying a configuration without
//! credentials and for the tests.

pub mod generate;
