//! Configuration: the YAML files of a configuration directory, loaded into one [`Config`] and
//! checked, every problem reported at its file, line and key. The map:
//!
//! - `load.rs`: files → [`Config`]. Parses each file (`yaml.rs`, which keeps positions), checks
//!   it against the [`schema`], merges the sections, then runs the semantic checks of every
//!   section in a fixed order.
//! - One file per section, holding its types (serde + schemars; their doc comments are the
//!   schema's descriptions) and its checks: `file.rs` (the sections of one file, the version),
//!   `sources/` (one file per kind, plus the columns they share), `targets/` (one file per
//!   kind), `http.rs` (timeouts, retries and URLs of every HTTP connector), `mappings.rs`
//!   (communities, functions), `rules.rs` (exclude, test_locations, include, protected) and
//!   `policy.rs` (identity, policy, safety).
//! - `error.rs`: [`ConfigError`] and [`ErrorList`], which every check reports through.
//! - [`secret`]: the [`Secret`] type. Which fields hold one is read from the generated schema
//!   ([`schema::secret_pointers`]), not listed by hand.
//!
//! Every type is re-exported here: callers write `config::ScimTargetConfig`, whichever file it
//! lives in.

mod error;
mod file;
mod http;
mod load;
mod mappings;
mod policy;
mod rules;
pub mod schema;
pub mod secret;
mod sources;
mod targets;
#[cfg(test)]
mod testing;
pub mod yaml;

use std::collections::BTreeMap;

use serde::Deserialize;

pub use error::{ConfigError, ErrorList};
pub use file::{ConfigFile, SUPPORTED_VERSION};
pub use http::HttpConfig;
pub use load::{
    LoadError, ROOT_FILE, data_path_errors, export_column_problems, guess_source_and_target,
    load_files, load_files_in, missing_root, single, with_excerpts,
};
pub use mappings::{
    CommunityMapping, FallbackPolicy, FunctionMapping, FunctionSourceField, FunctionsConfig,
    OneOrMany, UnmappedFunctionAction, UnmappedFunctionPolicy,
};
pub use policy::{
    IdentityConfig, Limit, LimitBoth, ManagedField, MatchKey, MaxRemovals, MaxRemovalsBoth,
    NoLimit, PolicyConfig, SafetyConfig, UnmappedPolicy, time_zone,
};
pub use rules::{ExclusionRule, IncludeConfig, ProtectedRule};
pub use secret::{Secret, SecretError};
pub use sources::{
    AfasEnvironmentType, AfasSourceConfig, ColumnOverrides, Columns, FileFormat, FileSourceConfig,
    GoogleCommunityFrom, GoogleFunctionFrom, GooglePersonId, GoogleSourceConfig, ManusPlusFields,
    ManusPlusPaths, ManusPlusSourceConfig, REQUIRED_COLUMNS, RecruiteeFieldsConfig,
    RecruiteeHiredConfig, RecruiteeSourceConfig, SourceConfig,
};
pub use targets::{
    AfasApplicantLookup, AfasApplicantsTargetConfig, FileTargetConfig, RevolutTargetConfig,
    ScimGroupsConfig, ScimOtherGroups, ScimTargetConfig, ScimUsersConfig, TargetConfig,
    VacancyMapping, default_applicant_fields, default_gender_codes,
};

use crate::vocabulary::ConfigLocation;

/// A configuration directory, merged and validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// Format version.
    pub version: u32,
    /// The source system.
    pub source: SourceConfig,
    /// The target system.
    pub target: TargetConfig,
    /// Identity matching.
    pub identity: IdentityConfig,
    /// Rules of the sync.
    pub policy: PolicyConfig,
    /// Safety limits.
    pub safety: SafetyConfig,
    /// Accounts never changed or removed.
    pub protected: Vec<ProtectedRule>,
    /// Community mappings, in file order.
    pub communities: Vec<CommunityMapping>,
    /// Function mapping; `None` when function groups are not synced.
    pub functions: Option<FunctionsConfig>,
    /// Exclusion rules, in order.
    pub exclude: Vec<ExclusionRule>,
    /// Test-location globs.
    pub test_locations: Vec<String>,
    /// Partial sync.
    pub include: Option<IncludeConfig>,
    /// Where every value was written, for diagnostics.
    pub locations: Locations,
    /// sha256 over the configuration files (names and contents).
    pub digest: String,
    /// The configuration files, relative to the directory.
    pub files: Vec<String>,
}

/// Positions of configuration values: JSON pointer into the merged configuration (e.g.
/// `/communities/3/source`) → file, line and column.
#[derive(Debug, Clone, Default)]
pub struct Locations {
    sections: BTreeMap<String, (String, yaml::Positions)>,
}

impl Locations {
    pub(crate) fn insert(&mut self, section: &str, file: &str, positions: yaml::Positions) {
        self.sections
            .insert(section.to_owned(), (file.to_owned(), positions));
    }

    /// Where the value at `pointer` (e.g. `/communities/3`) was written.
    pub fn get(&self, pointer: &str) -> Option<ConfigLocation> {
        let section = pointer.trim_start_matches('/').split('/').next()?;
        let (file, positions) = self.sections.get(section)?;
        let mark = positions.key(pointer);
        Some(ConfigLocation {
            file: file.clone(),
            line: mark.line,
            column: mark.column,
        })
    }

    /// Whether the value at `pointer` was written in the configuration (not a default).
    pub fn contains(&self, pointer: &str) -> bool {
        let Some(section) = pointer.trim_start_matches('/').split('/').next() else {
            return false;
        };
        self.sections
            .get(section)
            .is_some_and(|(_, positions)| positions.contains(pointer))
    }

    /// The file that defines `section`.
    pub fn file_of(&self, section: &str) -> Option<&str> {
        self.sections.get(section).map(|(f, _)| f.as_str())
    }

    /// An error at the key of `pointer`: where the checks of the merged configuration report.
    /// A value nobody wrote (a default) is reported at the top of the root file.
    pub(crate) fn error(&self, pointer: &str, message: String) -> ConfigError {
        let (file, line, column) = self
            .get(pointer)
            .map(|l| (l.file, l.line, l.column))
            .unwrap_or_else(|| ("orgsync.yaml".into(), 1, 1));
        ConfigError::new(
            &file,
            yaml::Mark { line, column },
            error::display_path(pointer),
            message,
        )
    }

    /// `file:line` of `pointer`, for a message that names a second place (a duplicate's
    /// first); empty when the value was not written.
    pub(crate) fn file_line(&self, pointer: &str) -> String {
        self.get(pointer)
            .map(|l| format!("{}:{}", l.file, l.line))
            .unwrap_or_default()
    }
}

impl Config {
    /// Environment variables the configuration needs, with the key that needs each: every
    /// [`Secret`] it holds, wherever the schema has one, so that a new connector's secret is
    /// listed without being named here.
    pub fn required_env(&self) -> Vec<(String, String)> {
        let sections = serde_json::to_value(self.sections())
            .expect("configuration types serialise to JSON: their map keys are strings");
        schema::secrets_in(&sections)
            .into_iter()
            .filter_map(|(pointer, value)| {
                let secret = Secret::deserialize(value).ok()?;
                Some((secret.env_name()?.to_owned(), error::display_path(&pointer)))
            })
            .collect()
    }

    /// The merged sections, as one file holding them all would.
    fn sections(&self) -> ConfigFile {
        ConfigFile {
            version: Some(self.version),
            source: Some(self.source.clone()),
            target: Some(self.target.clone()),
            identity: Some(self.identity.clone()),
            policy: Some(self.policy.clone()),
            safety: Some(self.safety.clone()),
            protected: Some(self.protected.clone()),
            communities: Some(self.communities.clone()),
            functions: self.functions.clone(),
            exclude: Some(self.exclude.clone()),
            test_locations: Some(self.test_locations.clone()),
            include: self.include.clone(),
        }
    }

    /// Data files named by the source and target (not configuration files).
    pub fn data_paths(&self) -> Vec<&str> {
        let mut out = Vec::new();
        if let SourceConfig::File(f) = &self.source {
            out.push(f.path.as_str());
        }
        if let TargetConfig::File(f) = &self.target {
            out.push(f.path.as_str());
        }
        out
    }
}

impl Config {
    /// The source's columns, resolved (the connector's defaults with the overrides on top).
    pub fn source_columns(&self) -> &Columns {
        match &self.source {
            SourceConfig::File(f) => &f.columns,
            SourceConfig::Afas(a) => &a.columns,
            // The API sources build people from typed fields, not columns: orgsync's own names
            // stand in, so that the column checks have nothing to say about them.
            SourceConfig::Recruitee(_) | SourceConfig::Google(_) | SourceConfig::Manusplus(_) => {
                static OWN: std::sync::LazyLock<Columns> =
                    std::sync::LazyLock::new(Columns::default);
                &OWN
            }
        }
    }

    /// The source columns this configuration reads, as (key path, column), e.g.
    /// (`source.columns.email`, `Email_werk`): the required fields; the name fields that are
    /// not `null` (`last_name_prefix`, `community_name`); `function`/`function_name` when
    /// function groups come from functions or an exclusion tests a function;
    /// `department`/`department_name` with `functions.from: department`; every column the
    /// configuration names itself; and every attribute. What `validate --online` demands of
    /// the source.
    pub fn columns_in_use(&self) -> Vec<(String, String)> {
        let columns = self.source_columns();
        let from = self.functions.as_ref().map(|f| f.from);
        let by_function = from == Some(FunctionSourceField::Function)
            || self.exclude.iter().any(|r| r.function.is_some());
        let by_department = from == Some(FunctionSourceField::Department);
        let mut out = Vec::new();
        for (field, column) in columns.fields() {
            let Some(column) = column else { continue };
            let needed = match field {
                "function" | "function_name" => by_function,
                "department" | "department_name" => by_department,
                "manager" => false,
                _ => true,
            };
            let written = self.locations.contains(&format!("/source/columns/{field}"));
            if needed || written {
                out.push((format!("source.columns.{field}"), column.to_owned()));
            }
        }
        for (name, column) in &columns.attributes {
            out.push((format!("source.columns.attributes.{name}"), column.clone()));
        }
        if let SourceConfig::Afas(a) = &self.source
            && let Some(fields) = &a.order_by
        {
            for (i, field) in fields.iter().enumerate() {
                let field = field.trim().trim_start_matches('-');
                out.push((format!("source.order_by[{i}]"), field.to_owned()));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::{afas, load};

    #[test]
    fn columns_in_use_leave_out_optional_columns_nothing_uses() {
        let keys = |c: &Config| -> Vec<String> {
            c.columns_in_use().into_iter().map(|(k, _)| k).collect()
        };
        let c = load(&afas("", "")).unwrap();
        let used = keys(&c);
        for field in REQUIRED_COLUMNS {
            assert!(used.contains(&format!("source.columns.{field}")), "{field}");
        }
        for unused in ["manager", "department", "department_name", "function"] {
            assert!(
                !used.contains(&format!("source.columns.{unused}")),
                "{unused}"
            );
        }
        // Used by a rule, or written down: checked.
        let c = load(&afas(
            "  columns: { manager: Leidinggevende }\n",
            "functions: { from: department }\n",
        ))
        .unwrap();
        let used = keys(&c);
        for field in ["manager", "department", "department_name"] {
            assert!(used.contains(&format!("source.columns.{field}")), "{field}");
        }
        let c = load(&afas("", "exclude: [{ reason: r, function: F-X }]\n")).unwrap();
        assert!(keys(&c).contains(&"source.columns.function".to_owned()));
    }

    #[test]
    fn required_env_lists_the_secret_of_every_connector_kind() {
        let sources = [
            (
                "afas",
                "{ kind: afas, environment: \"12345\", token: \"${env:AFAS_TOKEN}\" }",
                "AFAS_TOKEN",
            ),
            (
                "recruitee",
                "{ kind: recruitee, company_id: \"12345\", token: { env: RECRUITEE_TOKEN } }",
                "RECRUITEE_TOKEN",
            ),
            (
                "google",
                "{ kind: google, credentials: \"${env:GOOGLE_KEY}\", subject: admin@example.com }",
                "GOOGLE_KEY",
            ),
            (
                "manusplus",
                "{ kind: manusplus, base_url: \"https://server.manus.plus/acme\", username: u, password: \"${env:MANUS_PASSWORD}\", node: \"1\" }",
                "MANUS_PASSWORD",
            ),
        ];
        let targets = [
            (
                "scim",
                "{ kind: scim, base_url: \"https://app.example.com/scim/v2\", token: \"${env:SCIM_TOKEN}\" }",
                "SCIM_TOKEN",
            ),
            (
                "revolut",
                "{ kind: revolut, token: \"${env:REVOLUT_TOKEN}\" }",
                "REVOLUT_TOKEN",
            ),
            (
                "afas_applicants",
                "{ kind: afas_applicants, environment: \"12345\", token: { env: AFAS_APPLICANTS_TOKEN } }",
                "AFAS_APPLICANTS_TOKEN",
            ),
        ];
        let kinds = schema::connector_secrets();
        assert!(!kinds.is_empty());
        for (section, kind, key) in kinds {
            let cases: &[(&str, &str, &str)] = if section == "source" {
                &sources
            } else {
                &targets
            };
            let Some((_, yaml, var)) = cases.iter().find(|(k, _, _)| *k == kind) else {
                panic!("no configuration of {section} kind {kind} in this test: add one")
            };
            let text = if section == "source" {
                format!("version: 1\nsource: {yaml}\ntarget: {{ kind: file, path: ws.json }}\n")
            } else {
                format!("version: 1\nsource: {{ kind: file, path: hr.json }}\ntarget: {yaml}\n")
            };
            let config = load(&text).unwrap_or_else(|e| panic!("{kind}: {e:#?}"));
            assert_eq!(
                config.required_env(),
                [((*var).to_owned(), format!("{section}.{key}"))],
                "{section} kind {kind}"
            );
        }
    }
}
