//! `target: { kind: scim }`: any app that speaks SCIM 2.0.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::error::{At, ConfigError};
use crate::config::http::{HttpConfig, http_url};
use crate::config::secret::Secret;

/// A SCIM 2.0 service provider.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScimTargetConfig {
    /// Base URL of the SCIM API, e.g. `https://app.example.com/scim/v2`.
    pub base_url: String,
    /// Bearer token: `${env:SCIM_TOKEN}`.
    pub token: Secret,
    /// Most requests in flight at once.
    #[serde(default = "default_scim_concurrency")]
    #[schemars(range(min = 1))]
    pub concurrency: u32,
    /// Most requests per second (0: unlimited).
    #[serde(default)]
    pub rate_limit: u32,
    /// Timeouts and retries.
    #[serde(flatten)]
    pub http: HttpConfig,
    /// Resources per page when listing Users and Groups (`count`); servers may return fewer.
    #[serde(default = "default_scim_page_size")]
    #[schemars(range(min = 1))]
    pub page_size: u32,
    /// Most membership changes (members added or removed) in one Group PATCH. Servers limit
    /// it: AWS IAM Identity Center takes 100 per request, Miro limits the size of a PATCH. A
    /// PATCH the server answers with 413 (Payload Too Large) is split in halves and sent again.
    #[serde(default = "default_members_per_patch")]
    #[schemars(range(min = 1, max = 1000))]
    pub members_per_patch: u32,
    /// How communities and function groups are told apart among the SCIM Groups.
    #[serde(default)]
    pub groups: ScimGroupsConfig,
    /// How orgsync records which Users it manages.
    #[serde(default)]
    pub users: ScimUsersConfig,
}

/// The ownership record of SCIM Users. A User is managed by orgsync when its `externalId` is
/// `<external_id_prefix><source identifier>` (`orgsync:100042`): a namespaced value no other
/// provisioning tool writes (Entra ID and Okta set `externalId` on the Users they provision, to
/// their own values). Every other User is foreign: never changed or removed, unless adopted
/// (`identity.adopt_unmanaged`), which replaces its `externalId` by orgsync's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ScimUsersConfig {
    /// `externalId` prefix of the Users orgsync manages (not empty).
    pub external_id_prefix: String,
}

impl Default for ScimUsersConfig {
    fn default() -> Self {
        ScimUsersConfig {
            external_id_prefix: "orgsync:".to_owned(),
        }
    }
}

fn default_scim_concurrency() -> u32 {
    4
}
fn default_scim_page_size() -> u32 {
    100
}
fn default_members_per_patch() -> u32 {
    100
}

/// The SCIM group convention. SCIM has one kind of Group; orgsync keeps communities and function
/// groups apart by the Group's `externalId`: `<community_prefix><source ids>` and
/// `<function_group_prefix><source ids>` (source identifiers joined with `,`; empty for a
/// fallback group like "No function"). Groups orgsync creates carry such an `externalId` and are
/// managed (only managed groups are ever removed); a group made by hand can be tagged the same
/// way. Every other group is classified by `other`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ScimGroupsConfig {
    /// `externalId` prefix of community groups.
    pub community_prefix: String,
    /// `externalId` prefix of function groups.
    pub function_group_prefix: String,
    /// What a Group without either prefix is: `community`, `function_group`, or `ignore`.
    pub other: ScimOtherGroups,
}

impl Default for ScimGroupsConfig {
    fn default() -> Self {
        ScimGroupsConfig {
            community_prefix: "community:".to_owned(),
            function_group_prefix: "function:".to_owned(),
            other: ScimOtherGroups::Community,
        }
    }
}

/// What a SCIM Group without an orgsync prefix is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScimOtherGroups {
    /// A community made by hand: mappings may name it; it is never removed.
    #[default]
    Community,
    /// A function group made by hand: mappings may name it; it is never removed.
    FunctionGroup,
    /// Not orgsync's business: not read, never written.
    Ignore,
}

/// `target` of kind `scim`.
pub(super) fn errors(s: &ScimTargetConfig, at: At<'_>, errs: &mut Vec<ConfigError>) {
    if let Err(why) = http_url(&s.base_url) {
        errs.push(
            at(
                "/target/base_url",
                format!("\"{}\" is not an http(s) URL: {why}", s.base_url),
            )
            .hint(
                "write the whole base URL of the SCIM API, like `https://app.example.com/scim/v2`",
            ),
        );
    }
    let (c, f) = (&s.groups.community_prefix, &s.groups.function_group_prefix);
    for (key, prefix) in [("community_prefix", c), ("function_group_prefix", f)] {
        if prefix.trim().is_empty() {
            errs.push(
                at(
                    &format!("/target/groups/{key}"),
                    "the prefix is empty: every Group's externalId would start with it".into(),
                )
                .hint("orgsync tells communities and function groups apart by this prefix; keep the default (`community:`, `function:`) or choose another non-empty text"),
            );
        }
    }
    if !c.trim().is_empty()
        && !f.trim().is_empty()
        && (c.starts_with(f.as_str()) || f.starts_with(c.as_str()))
    {
        errs.push(
            at(
                "/target/groups/function_group_prefix",
                format!(
                    "the prefixes \"{c}\" and \"{f}\" cannot be told apart: {}",
                    if c == f {
                        "they are the same".to_owned()
                    } else {
                        "one starts with the other".to_owned()
                    }
                ),
            )
            .hint("communities and function groups are told apart by these prefixes of a Group's externalId: choose two that do not start with each other, like `community:` and `function:`"),
        );
    }
    if s.users.external_id_prefix.trim().is_empty() {
        errs.push(
            at(
                "/target/users/external_id_prefix",
                "the prefix is empty: every User with an externalId (Entra, Okta and others set one) would count as managed by orgsync, and could be changed or removed".into(),
            )
            .hint("keep the default `orgsync:` or choose another non-empty text that no other provisioning tool writes"),
        );
    }
}
