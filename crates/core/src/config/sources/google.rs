//! `source: { kind: google }`: Google Workspace users through the Admin SDK Directory API.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::error::{At, ConfigError};
use crate::config::http::{HttpConfig, url_errors};
use crate::config::secret::Secret;

/// Google Workspace: users and organisational units from the Admin SDK Directory API, read
/// with a service account that has domain-wide delegation for the read-only directory scopes.
/// Suspended and archived users are leavers: they are left out, as if they were not in the source.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GoogleSourceConfig {
    /// The service account key: `${env:GOOGLE_SERVICE_ACCOUNT}`, holding either the key file's
    /// JSON itself or the path of the key file (keep the file outside the repository).
    pub credentials: Secret,
    /// The administrator the service account acts for (the JWT's `sub`), like
    /// `admin@example.com`.
    pub subject: String,
    /// The customer whose users are read: `my_customer` (the subject's own) or a customer id.
    #[serde(default = "default_google_customer")]
    pub customer: String,
    /// The Directory API's root URL (the sandbox emulator's for trying a configuration).
    #[serde(default = "default_google_base_url")]
    pub base_url: String,
    /// Where the signed JWT is exchanged for an access token. Default: the key file's
    /// `token_uri`, else `https://oauth2.googleapis.com/token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    /// Users per page (`maxResults`, 1 to 500).
    #[serde(default = "default_google_page_size")]
    #[schemars(range(min = 1, max = 500))]
    pub page_size: u32,
    /// The Directory API quota to stay within: queries per minute for this user and project
    /// (Google's default is 2,400). Requests are paced to it; 0: no pacing.
    #[serde(default = "default_google_queries_per_minute")]
    pub queries_per_minute: u32,
    /// Which identifier a person gets: `external_id` (the user's `externalIds` value of type
    /// `external_id_type`; the e-mail address when a user has none) or `id` (Google's own id).
    #[serde(default)]
    pub person_id: GooglePersonId,
    /// The `externalIds[].type` that holds the employee number (`organization`, or `custom`
    /// with `customType` matching this name).
    #[serde(default = "default_google_external_id_type")]
    pub external_id_type: String,
    /// Where a person's community comes from: `org_unit` (`orgUnitPath`), or the primary
    /// organization's `location` or `department`.
    #[serde(default)]
    pub community_from: GoogleCommunityFrom,
    /// With `community_from: org_unit`: globs on org unit paths (`/Stores/*`). A user's
    /// community is the deepest unit on their path (their own unit or one above it) that a glob
    /// matches; users under no matching unit have no community. Empty: the user's own unit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub org_units: Vec<String>,
    /// Where a person's function comes from: the primary organization's `title` or `department`.
    /// The department is always delivered too (for `functions.from: department`).
    #[serde(default)]
    pub function_from: GoogleFunctionFrom,
    /// Timeouts and retries.
    #[serde(flatten)]
    pub http: HttpConfig,
}

fn default_google_customer() -> String {
    "my_customer".to_owned()
}
fn default_google_base_url() -> String {
    "https://admin.googleapis.com".to_owned()
}
fn default_google_page_size() -> u32 {
    500
}
fn default_google_queries_per_minute() -> u32 {
    2400
}
fn default_google_external_id_type() -> String {
    "organization".to_owned()
}

/// The identifier of a Google user as a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GooglePersonId {
    /// The `externalIds` value of the configured type (the employee number); the e-mail address
    /// when the user has none.
    #[default]
    ExternalId,
    /// Google's own user id.
    Id,
}

/// Where a Google user's community comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GoogleCommunityFrom {
    /// The organisational unit (`orgUnitPath`): the path is the identifier, the unit's name the name.
    #[default]
    OrgUnit,
    /// The primary organization's `location`.
    Location,
    /// The primary organization's `department`.
    Department,
}

/// Where a Google user's function comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GoogleFunctionFrom {
    /// The primary organization's `title`.
    #[default]
    Title,
    /// The primary organization's `department`.
    Department,
}

/// `source` of kind `google`.
pub(super) fn errors(g: &GoogleSourceConfig, at: At<'_>, errs: &mut Vec<ConfigError>) {
    url_errors(
        "/source/base_url",
        &g.base_url,
        "https://admin.googleapis.com",
        at,
        errs,
    );
    if let Some(url) = &g.token_url {
        url_errors(
            "/source/token_url",
            url,
            "https://oauth2.googleapis.com/token",
            at,
            errs,
        );
    }
    let subject = g.subject.trim();
    if subject.is_empty() || !subject.contains('@') || subject.contains(char::is_whitespace) {
        errs.push(
            at("/source/subject", "the subject is not an e-mail address".into()).hint(
                "name the administrator the service account acts for (domain-wide delegation), like `admin@example.com`",
            ),
        );
    }
    if g.customer.trim().is_empty() {
        errs.push(
            at("/source/customer", "the customer is empty".into())
                .hint("write `my_customer` (the default) or your customer id, like `C01abc123`"),
        );
    }
    if g.external_id_type.trim().is_empty() {
        errs.push(
            at("/source/external_id_type", "the external id type is empty".into())
                .hint("write `organization` (the default) or the custom type that holds the employee number"),
        );
    }
    if !g.org_units.is_empty() && g.community_from != GoogleCommunityFrom::OrgUnit {
        errs.push(
            at(
                "/source/org_units",
                "org_units only applies with `community_from: org_unit`".into(),
            )
            .hint("remove org_units, or set `community_from: org_unit`"),
        );
    }
    for (i, glob) in g.org_units.iter().enumerate() {
        if !glob.starts_with('/') || globset::Glob::new(glob).is_err() {
            errs.push(
                at(
                    &format!("/source/org_units/{i}"),
                    format!("\"{glob}\" is not an org unit path glob"),
                )
                .hint(
                    "org unit paths start at the root `/`, like `/Stores/*` or `/Stores/Amsterdam`",
                ),
            );
        }
    }
}
