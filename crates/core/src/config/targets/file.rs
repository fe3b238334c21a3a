//! `target: { kind: file }`: a JSON workspace file, for trying orgsync offline and for tests.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::error::{At, ConfigError};

/// A JSON workspace file.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileTargetConfig {
    /// Path of the workspace, relative to the configuration directory. Created on first apply.
    pub path: String,
    /// Allow `path` outside the configuration directory. Off by default: a mistyped `../` must
    /// not let an apply replace some other file.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_outside_config_dir: bool,
}

/// `target` of kind `file`.
pub(super) fn errors(t: &FileTargetConfig, at: At<'_>, errs: &mut Vec<ConfigError>) {
    if t.path.trim().is_empty() {
        errs.push(
            at("/target/path", "the workspace's path is empty".into()).hint(
                "name the workspace file, relative to the configuration directory, like `workspace.json`",
            ),
        );
    }
}
