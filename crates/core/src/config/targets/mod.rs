//! The target system: where people must appear. [`TargetConfig`] picks a kind; each kind has
//! its own file with its types and checks.

mod afas_applicants;
mod file;
mod revolut;
mod scim;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use afas_applicants::{
    AfasApplicantLookup, AfasApplicantsTargetConfig, VacancyMapping, default_applicant_fields,
    default_gender_codes,
};
pub use file::FileTargetConfig;
pub use revolut::RevolutTargetConfig;
pub use scim::{ScimGroupsConfig, ScimOtherGroups, ScimTargetConfig, ScimUsersConfig};

use super::Config;
use super::error::{At, ConfigError};

/// The target system.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TargetConfig {
    /// A JSON workspace file (accounts, communities, function groups): the embedded default, for
    /// trying orgsync offline and for tests.
    File(FileTargetConfig),
    /// Any app that speaks SCIM 2.0.
    Scim(ScimTargetConfig),
    /// AFAS Profit applicants (UpdateConnector `HrCreateApplicant`): hired candidates are sent
    /// once, never updated or removed (create-only).
    AfasApplicants(AfasApplicantsTargetConfig),
    /// Revolut Business team members.
    Revolut(RevolutTargetConfig),
}

/// The checks of the target's kind.
pub(crate) fn errors(config: &Config, at: At<'_>, errs: &mut Vec<ConfigError>) {
    match &config.target {
        TargetConfig::File(t) => file::errors(t, at, errs),
        TargetConfig::Scim(s) => scim::errors(s, at, errs),
        TargetConfig::AfasApplicants(t) => afas_applicants::errors(t, config, at, errs),
        TargetConfig::Revolut(r) => revolut::errors(r, at, errs),
    }
}
