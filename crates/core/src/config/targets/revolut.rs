//! `target: { kind: revolut }`: Revolut Business team members.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::error::{At, ConfigError};
use crate::config::http::{HttpConfig, http_url};
use crate::config::secret::Secret;

/// Revolut Business team members (Business API `team-members`). Members are matched by e-mail
/// (case-insensitive), invited with a role, and removed for good (a DELETE: no retention, no
/// restore; a rehire is a new invitation). Roles are the target's function groups: map source
/// functions (or departments) onto Revolut role names in `functions.yaml`; without `functions`,
/// everyone is invited with `default_role`. Which members orgsync manages is kept in its apply
/// records (git notes): Revolut has no field to mark them.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevolutTargetConfig {
    /// Base URL of the Business API.
    #[serde(default = "default_revolut_base_url")]
    pub base_url: String,
    /// Access token: `${env:REVOLUT_TOKEN}`. Revolut access tokens live 40 minutes: refresh it
    /// before the run (orgsync does not run the OAuth refresh itself).
    pub token: Secret,
    /// Role id for invites when `functions` is not configured (default roles' ids are their
    /// names: `Member`, `Admin`; custom roles have a UUID, see `GET /roles`).
    #[serde(default = "default_revolut_role")]
    pub default_role: String,
    /// Members per page when listing (`limit`, 1–1000).
    #[serde(default = "default_revolut_page_size")]
    #[schemars(range(min = 1, max = 1000))]
    pub page_size: u32,
    /// Most requests per second (0: unlimited). Revolut publishes no number for this API
    /// [assumption]; set what your account allows.
    #[serde(default)]
    pub rate_limit: u32,
    /// Most requests in flight at once.
    #[serde(default = "default_revolut_concurrency")]
    #[schemars(range(min = 1))]
    pub concurrency: u32,
    /// Timeouts and retries.
    #[serde(flatten)]
    pub http: HttpConfig,
}

fn default_revolut_base_url() -> String {
    "https://b2b.revolut.com/api/1.0".to_owned()
}
fn default_revolut_role() -> String {
    "Member".to_owned()
}
fn default_revolut_page_size() -> u32 {
    100
}
fn default_revolut_concurrency() -> u32 {
    4
}

/// `target` of kind `revolut`.
pub(super) fn errors(r: &RevolutTargetConfig, at: At<'_>, errs: &mut Vec<ConfigError>) {
    if let Err(why) = http_url(&r.base_url) {
        errs.push(
            at(
                "/target/base_url",
                format!("\"{}\" is not an http(s) URL: {why}", r.base_url),
            )
            .hint("leave it out for Revolut's own (`https://b2b.revolut.com/api/1.0`), or write the whole base URL, like `http://127.0.0.1:8404/api/1.0` for the sandbox"),
        );
    }
    if !(1..=1000).contains(&r.page_size) {
        errs.push(
            at(
                "/target/page_size",
                format!(
                    "{} members per page: Revolut lists 1 to 1000 per page",
                    r.page_size
                ),
            )
            .hint("leave it out (100) or choose 1 to 1000"),
        );
    }
    if r.default_role.trim().is_empty() {
        errs.push(
            at("/target/default_role", "the default role is empty".into())
                .hint("use a role id from `GET /roles`, like `Member`"),
        );
    } else if r.default_role.trim().eq_ignore_ascii_case("owner") {
        errs.push(
            at(
                "/target/default_role",
                "the Owner role cannot be given: a business has one owner".into(),
            )
            .hint("use `Member`, `Admin` or a custom role's id"),
        );
    }
}
