//! The configuration model. Every type here derives `JsonSchema`; its doc comments become the
//! descriptions editors show, so they are written for the person editing the YAML.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::secret::Secret;

/// The only configuration format version this build understands.
pub const SUPPORTED_VERSION: u32 = 1;

/// One YAML file of an orgsync configuration directory. Every section is optional here because a
/// directory may spread its sections over several files (`orgsync.yaml`, `communities.yaml`, …);
/// after merging, `version`, `source` and `target` are required.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "orgsync configuration file")]
pub struct ConfigFile {
    /// Configuration format version. Only `1` exists today.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// Where people are mastered: the HR or roster system (or an export of it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceConfig>,
    /// Where people must appear: the workforce app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetConfig>,
    /// How people in the source are matched to accounts in the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityConfig>,
    /// Time zone, lead time, retention and the other rules of the sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyConfig>,
    /// Limits that make a plan unsafe to apply without an explicit override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety: Option<SafetyConfig>,
    /// Accounts orgsync never changes or removes (administrators, service accounts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected: Option<Vec<ProtectedRule>>,
    /// Source communities (locations, departments, entities) mapped onto target communities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub communities: Option<Vec<CommunityMapping>>,
    /// How source functions (or departments) become target function groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub functions: Option<FunctionsConfig>,
    /// People who are not synced, each rule with the reason. The first matching rule wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<Vec<ExclusionRule>>,
    /// Case-insensitive globs on community names or identifiers (`Test*`, `Temp*`): such
    /// communities are treated as if they did not exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_locations: Option<Vec<String>>,
    /// Partial sync: when set, only people in these source communities are synced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<IncludeConfig>,
}

/// The source system.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceConfig {
    /// A JSON, CSV or YAML export (AFAS, PMT, or anything else), with its column names configured.
    File(FileSourceConfig),
    /// AFAS Profit through its REST GetConnectors.
    Afas(AfasSourceConfig),
}

/// AFAS Profit: people come from a GetConnector (defined per customer, so its id and field names
/// are configuration).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AfasSourceConfig {
    /// The environment (participant) number, e.g. `12345`: the API is at
    /// `https://{environment}.rest.afas.online/ProfitRestServices`.
    pub environment: String,
    /// Which AFAS environment type: `production`, `test` or `accept`.
    #[serde(default)]
    pub environment_type: AfasEnvironmentType,
    /// Override of the base URL (for the sandbox emulator or a proxy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The app connector token: `${env:AFAS_TOKEN}`.
    pub token: Secret,
    /// Id of the GetConnector with one row per employment.
    #[serde(default = "default_afas_connector")]
    pub connector: String,
    /// Rows per page (`take`).
    #[serde(default = "default_afas_page_size")]
    pub page_size: u32,
    /// Most calls in flight at once (AFAS asks for at most 5).
    #[serde(default = "default_afas_concurrency")]
    pub concurrency: u32,
    /// Field names of the GetConnector. Defaults are AFAS's common field names.
    #[serde(default = "Columns::afas")]
    pub columns: Columns,
    /// Most requests per second (0: unlimited).
    #[serde(default)]
    pub rate_limit: u32,
    /// Seconds before one request is given up (AFAS itself stops a call after 900 s).
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// Retries of a request that failed with 429, a 5xx or a connection error, with exponential
    /// backoff and jitter (a `Retry-After` from the server is honoured). 0: no retries.
    #[serde(default = "default_retries")]
    pub retries: u32,
}

fn default_timeout_secs() -> u64 {
    60
}
fn default_retries() -> u32 {
    5
}

fn default_afas_connector() -> String {
    "orgsync_employees".to_owned()
}
fn default_afas_page_size() -> u32 {
    1000
}
fn default_afas_concurrency() -> u32 {
    5
}

/// AFAS environment type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AfasEnvironmentType {
    /// `{env}.rest.afas.online`
    #[default]
    Production,
    /// `{env}.resttest.afas.online`
    Test,
    /// `{env}.restaccept.afas.online`
    Accept,
}

/// A file export of people: one row per person, or one row per person and community/function
/// (rows with the same identifier are merged).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileSourceConfig {
    /// Path of the export, relative to the configuration directory.
    pub path: String,
    /// File format. Default: from the file extension (`.json`, `.csv`, `.yaml`/`.yml`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<FileFormat>,
    /// For JSON/YAML: the key holding the list of rows when the file is an object (AFAS exports
    /// put them under `rows`). Default: the file is the list itself, or its `rows` key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<String>,
    /// For CSV: the field delimiter, one character. Default `,`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    /// How dates are written, as a strftime pattern (`%d-%m-%Y`). Default: ISO 8601 dates; a
    /// time part (AFAS writes `2024-01-01T00:00:00Z` for local dates) is ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_format: Option<String>,
    /// Which column holds which field. Unset columns default to orgsync's own field names.
    #[serde(default)]
    pub columns: Columns,
}

/// Format of a file export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    /// A JSON list of objects, or an object holding one.
    Json,
    /// Comma (or `delimiter`) separated values with a header row.
    Csv,
    /// A YAML list of mappings, or a mapping holding one.
    Yaml,
}

/// Column names of a file export. Each value is the column (or JSON key) in the export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Columns {
    /// The person's identifier (employee number). Required in every row.
    pub id: String,
    /// Work e-mail address.
    pub email: String,
    /// First name (AFAS: `Roepnaam`, the name the person goes by).
    pub first_name: String,
    /// Last name, including any prefix (`van der`).
    pub last_name: String,
    /// A column with a name prefix (AFAS `Voorvoegsel`) put before the last name, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name_prefix: Option<String>,
    /// First day of employment.
    pub start: String,
    /// Last day of employment (inclusive); empty when open-ended.
    pub end: String,
    /// Identifier of the person's community (location, organisational unit).
    pub community: String,
    /// Name of that community.
    pub community_name: String,
    /// Identifier of the person's function.
    pub function: String,
    /// Name of that function.
    pub function_name: String,
    /// Identifier of the person's department (for `functions.from: department`).
    pub department: String,
    /// Name of that department.
    pub department_name: String,
    /// Identifier of the person's manager.
    pub manager: String,
    /// Extra columns kept as attributes, for exclusion rules: attribute name → column.
    pub attributes: BTreeMap<String, String>,
}

impl Columns {
    /// AFAS Profit's common employee field names.
    pub fn afas() -> Columns {
        let s = |v: &str| v.to_owned();
        Columns {
            id: s("Medewerker"),
            email: s("Email_werk"),
            first_name: s("Roepnaam"),
            last_name: s("Achternaam"),
            last_name_prefix: Some(s("Voorvoegsel")),
            start: s("Begindatum_contract"),
            end: s("Einddatum_contract"),
            community: s("Organisatorische_eenheid_code"),
            community_name: s("Organisatorische_eenheid_omschrijving"),
            function: s("Functie_code"),
            function_name: s("Functie_omschrijving"),
            department: s("Afdeling_code"),
            department_name: s("Afdeling_omschrijving"),
            manager: s("Persoonsnummer_leidinggevende"),
            attributes: BTreeMap::new(),
        }
    }
}

impl Default for Columns {
    fn default() -> Self {
        let s = |v: &str| v.to_owned();
        Columns {
            id: s("id"),
            email: s("email"),
            first_name: s("first_name"),
            last_name: s("last_name"),
            last_name_prefix: None,
            start: s("start"),
            end: s("end"),
            community: s("community"),
            community_name: s("community_name"),
            function: s("function"),
            function_name: s("function_name"),
            department: s("department"),
            department_name: s("department_name"),
            manager: s("manager"),
            attributes: BTreeMap::new(),
        }
    }
}

/// The target system.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TargetConfig {
    /// A JSON workspace file (accounts, communities, function groups): the embedded default, for
    /// trying orgsync offline and for tests.
    File(FileTargetConfig),
    /// Any app that speaks SCIM 2.0.
    Scim(ScimTargetConfig),
}

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
    pub concurrency: u32,
    /// Most requests per second (0: unlimited).
    #[serde(default)]
    pub rate_limit: u32,
    /// Seconds before one request is given up.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// Retries of a request that failed with 429, a 5xx or a connection error, with exponential
    /// backoff and jitter (a `Retry-After` from the server is honoured). 0: no retries.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Resources per page when listing Users and Groups (`count`); servers may return fewer.
    #[serde(default = "default_scim_page_size")]
    pub page_size: u32,
    /// How communities and function groups are told apart among the SCIM Groups.
    #[serde(default)]
    pub groups: ScimGroupsConfig,
}

fn default_scim_concurrency() -> u32 {
    4
}
fn default_scim_page_size() -> u32 {
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

/// How people are matched to target accounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityConfig {
    /// Matching strategies in order; the first that finds an account wins.
    #[serde(rename = "match")]
    pub match_on: Vec<MatchKey>,
    /// Adopt an unmanaged account that matches by e-mail (it becomes managed). When false such an
    /// account is reported as `adoptable_account` and the person is held.
    pub adopt_unmanaged: bool,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig {
            match_on: vec![MatchKey::ExternalId, MatchKey::Email],
            adopt_unmanaged: false,
        }
    }
}

/// A way to match a person to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchKey {
    /// The account's external id equals the person's source identifier.
    ExternalId,
    /// The account's e-mail equals the person's, ignoring case.
    Email,
}

/// What to do with a source community that no mapping covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnmappedPolicy {
    /// Create a target community with the source name.
    Create,
    /// Do not create it and do not place people there; report it.
    #[default]
    Hold,
    /// Fail the plan.
    Error,
}

/// Fields of an account that orgsync compares and writes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ManagedField {
    /// First name.
    FirstName,
    /// Last name.
    LastName,
    /// E-mail address.
    Email,
    /// Community memberships (a change is a `move`).
    Communities,
    /// Function group memberships.
    FunctionGroups,
}

/// The rules of the sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// IANA time zone in which employment dates and "today" are read.
    pub timezone: String,
    /// Invite people this many days before their first day.
    pub invite_lead_days: u32,
    /// Keep a removed account this many days (it can be restored) before anonymizing it.
    pub retention_days: u32,
    /// Ask the target to notify people when they move to another community.
    pub notify_transfers: bool,
    /// What to do with a source community that no mapping covers.
    pub unmapped_communities: UnmappedPolicy,
    /// The account fields orgsync compares and writes; everything else is left alone.
    pub managed_fields: Vec<ManagedField>,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            timezone: "Europe/Amsterdam".to_owned(),
            invite_lead_days: 7,
            retention_days: 30,
            notify_transfers: true,
            unmapped_communities: UnmappedPolicy::Hold,
            managed_fields: vec![
                ManagedField::FirstName,
                ManagedField::LastName,
                ManagedField::Email,
                ManagedField::Communities,
                ManagedField::FunctionGroups,
            ],
        }
    }
}

/// Safety limits. A plan over them is unsafe: apply refuses it without an explicit override.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SafetyConfig {
    /// Most accounts one plan may remove: a percentage of managed accounts (`"10%"`, checked from
    /// 10 managed accounts up), a count (`25`), or both (`{ percent: 10, count: 25 }`).
    pub max_removals: MaxRemovals,
    /// Allow removing target communities whose source identifiers are gone. Removing a community
    /// destroys its messages and shift takeovers; when false it is reported as orphaned instead.
    pub allow_community_removal: bool,
}

/// A removal limit: `"10%"`, `25`, or `{ percent: 10, count: 25 }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum MaxRemovals {
    /// A count of accounts.
    Count(u64),
    /// A percentage of managed accounts, written `"10%"`.
    Percent(#[schemars(regex(pattern = r"^\d{1,3}(\.\d+)?%$"))] String),
    /// Both limits; the plan must stay within each.
    Both(MaxRemovalsBoth),
}

impl Default for MaxRemovals {
    fn default() -> Self {
        MaxRemovals::Percent("10%".to_owned())
    }
}

/// Both a percentage and a count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MaxRemovalsBoth {
    /// Percentage of managed accounts (checked from 10 managed accounts up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<u32>,
    /// Number of accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
}

impl MaxRemovals {
    /// The limit as (percent, count).
    pub fn limits(&self) -> (Option<f64>, Option<u64>) {
        match self {
            MaxRemovals::Count(c) => (None, Some(*c)),
            MaxRemovals::Percent(p) => (p.trim_end_matches('%').parse().ok(), None),
            MaxRemovals::Both(b) => (b.percent.map(f64::from), b.count),
        }
    }
}

/// An account orgsync must never change or remove. Give exactly one of the keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProtectedRule {
    /// E-mail address (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Target account id or source identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Case-insensitive glob on e-mail addresses (`*@ops.example.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
}

/// One or several source identifiers, each a literal or a glob (`"20*"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One identifier or glob.
    One(String),
    /// Several identifiers or globs.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The identifiers as a slice.
    pub fn as_slice(&self) -> &[String] {
        match self {
            OneOrMany::One(s) => std::slice::from_ref(s),
            OneOrMany::Many(v) => v,
        }
    }
}

/// Maps source community identifiers onto one target community (by its name in the target).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommunityMapping {
    /// Source identifier(s) or glob(s) on identifiers. Compared by identifier, never by name.
    pub source: OneOrMany,
    /// Name of the target community.
    pub target: String,
    /// The source community's name, for readers and for detecting a renamed identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Marks a stub written by `orgsync import` that still needs a decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub todo: Option<bool>,
}

/// How functions become function groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FunctionsConfig {
    /// Take function groups from the source's functions, or from its departments (the
    /// recommended option for ManusPlus).
    #[serde(default)]
    pub from: FunctionSourceField,
    /// What happens to a function no mapping covers.
    #[serde(default)]
    pub unmapped: UnmappedFunctionPolicy,
    /// Source function (or department) identifiers mapped onto target function groups.
    #[serde(default)]
    pub map: Vec<FunctionMapping>,
}

/// Where function groups come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FunctionSourceField {
    /// The person's functions.
    #[default]
    Function,
    /// The person's departments.
    Department,
}

/// What happens to a function that no mapping covers: `{ fallback: No function }`, `create` or
/// `error`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum UnmappedFunctionPolicy {
    /// `create` (a function group with the source name) or `error` (fail the plan).
    Simple(UnmappedFunctionAction),
    /// Place such people in this target function group (the "No function" bucket).
    Fallback(FallbackPolicy),
}

impl Default for UnmappedFunctionPolicy {
    fn default() -> Self {
        UnmappedFunctionPolicy::Fallback(FallbackPolicy {
            fallback: "No function".to_owned(),
        })
    }
}

/// `create` or `error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnmappedFunctionAction {
    /// Create a function group with the source function's name.
    Create,
    /// Fail the plan.
    Error,
}

/// `{ fallback: <function group> }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FallbackPolicy {
    /// Name of the target function group for people whose function is not mapped.
    pub fallback: String,
}

/// Maps source function identifiers onto one target function group (by its name in the target).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FunctionMapping {
    /// Source identifier(s) or glob(s) on identifiers.
    pub source: OneOrMany,
    /// Name of the target function group.
    pub target: String,
    /// The source function's name, for readers and for detecting a renamed identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Marks a stub written by `orgsync import` that still needs a decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub todo: Option<bool>,
}

/// An exclusion rule: a reason and exactly one condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExclusionRule {
    /// Why these people are not synced; shown in the plan.
    pub reason: String,
    /// A person identifier (or glob).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
    /// A source community identifier (or glob): its people are excluded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub community: Option<String>,
    /// A source function identifier (or glob): people with it are excluded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// An attribute name, with `equals` or `matches`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute: Option<String>,
    /// The attribute's value for this rule to match (exact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<String>,
    /// A case-insensitive glob on the attribute's value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matches: Option<String>,
}

/// Partial sync: limit the sync to part of the structure.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IncludeConfig {
    /// Source community identifiers (or globs); only their people are synced.
    #[serde(default)]
    pub communities: Vec<String>,
}
