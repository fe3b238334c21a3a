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
    /// Recruitee (applicant tracker): the candidates hired in a hire stage.
    Recruitee(RecruiteeSourceConfig),
    /// Google Workspace users through the Admin SDK Directory API (a service account).
    Google(GoogleSourceConfig),
    /// ManusPlus (workforce planning) through its REST API and a data service user.
    Manusplus(ManusPlusSourceConfig),
}

/// AFAS Profit: people come from a GetConnector (defined per customer, so its id and field names
/// are configuration).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AfasSourceConfig {
    /// The environment (participant) number, like `12345`: the API is at
    /// `https://{environment}.rest.afas.online/ProfitRestServices`. Required unless `base_url`
    /// is set; letters and digits only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Which AFAS environment type: `production`, `test` or `accept`.
    #[serde(default)]
    pub environment_type: AfasEnvironmentType,
    /// The full base URL instead of one derived from `environment` (for the sandbox emulator or
    /// a proxy), like `http://127.0.0.1:8401/ProfitRestServices`. With it, `environment` is not
    /// needed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The app connector token: `${env:AFAS_TOKEN}`.
    pub token: Secret,
    /// Id of the GetConnector with one row per employment.
    #[serde(default = "default_afas_connector")]
    pub connector: String,
    /// Rows per page (`take`).
    #[serde(default = "default_afas_page_size")]
    #[schemars(range(min = 1))]
    pub page_size: u32,
    /// Most calls in flight at once (AFAS asks for at most 5).
    #[serde(default = "default_afas_concurrency")]
    #[schemars(range(min = 1))]
    pub concurrency: u32,
    /// Field names of the GetConnector. Name only those that differ from AFAS's common field
    /// names: every field left out keeps its default, and optional ones can be `null`.
    #[serde(
        default = "Columns::afas",
        deserialize_with = "Columns::deserialize_afas"
    )]
    #[schemars(with = "ColumnOverrides")]
    pub columns: Columns,
    /// The fields that order the rows while paging (`orderbyfieldids`; `-Field` sorts
    /// descending). Together they must be unique per row: AFAS does not promise an order among
    /// rows that tie, so tied rows on both sides of a page boundary could be read twice or not
    /// at all (orgsync stops the fetch when it sees that). Default: the `id` and `start` columns
    /// (employee number and contract start date), since one person has a row per employment;
    /// add a per-row field such as the contract's sequence number when a person can have two
    /// employments starting on one day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_by: Option<Vec<String>>,
    /// Most requests per second (0: unlimited).
    #[serde(default)]
    pub rate_limit: u32,
    /// Timeouts and retries.
    #[serde(flatten)]
    pub http: HttpConfig,
}

/// How orgsync talks to a system over HTTP: the keys every API connector has, written at the
/// connector's own level (`source.timeout_secs`, `target.retries`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HttpConfig {
    /// Seconds before one request is given up. The system may still finish it: a create whose
    /// answer did not come is looked up before it is ever sent again.
    #[serde(default = "default_timeout_secs")]
    #[schemars(range(min = 1))]
    pub timeout_secs: u64,
    /// Retries of a request that failed with 429 (or the system's own "over quota" answer), a
    /// 5xx or a connection error, with exponential backoff and jitter; a `Retry-After` from the
    /// server is honoured. A create whose answer was lost is looked up, never re-sent blindly.
    /// 0: no retries.
    #[serde(default = "default_retries")]
    pub retries: u32,
}

impl Default for HttpConfig {
    fn default() -> HttpConfig {
        HttpConfig {
            timeout_secs: default_timeout_secs(),
            retries: default_retries(),
        }
    }
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

impl AfasSourceConfig {
    /// The fields the rows are ordered by while paging: `order_by`, or the `id` and `start`
    /// columns.
    pub fn order_fields(&self) -> Vec<String> {
        match &self.order_by {
            Some(fields) => fields.iter().map(|f| f.trim().to_owned()).collect(),
            None => vec![self.columns.id.clone(), self.columns.start.clone()],
        }
    }
}

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

/// ManusPlus: employees, their contracts (one employment each) and the organisation tree, read
/// with a "data service user". ManusPlus publishes no API specification: the token grant, the
/// resource paths and the field names are configuration, with defaults taken from public client
/// code and assumptions (see the README); the sandbox emulator serves exactly these defaults.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManusPlusSourceConfig {
    /// The customer's base URL: `https://server.manus.plus/{client}`.
    pub base_url: String,
    /// The data service user's name.
    pub username: String,
    /// The data service user's password: `${env:MANUS_PASSWORD}`.
    pub password: Secret,
    /// The `client_id` sent with the password grant (public clients send `employee`).
    #[serde(default = "default_manus_client_id")]
    pub client_id: String,
    /// The id of the organisation node whose employees are read (the top of the tree to sync).
    pub node: String,
    /// Which level of the organisation tree is a community: 0 is `node` itself, 1 its children,
    /// and so on. A contract on a deeper node belongs to its ancestor on this level; one above
    /// it has no community.
    #[serde(default = "default_manus_community_level")]
    pub community_level: u32,
    /// Items per page (`limit`).
    #[serde(default = "default_manus_page_size")]
    #[schemars(range(min = 1))]
    pub page_size: u32,
    /// Resource paths below `base_url`; `{node}` is replaced with `node`.
    #[serde(default)]
    pub paths: ManusPlusPaths,
    /// Field names in the JSON answers (a dotted path reaches into nested objects).
    #[serde(default)]
    pub fields: ManusPlusFields,
    /// Most requests per second (0: unlimited).
    #[serde(default)]
    pub rate_limit: u32,
    /// Timeouts and retries.
    #[serde(flatten)]
    pub http: HttpConfig,
}

fn default_manus_client_id() -> String {
    "employee".to_owned()
}
fn default_manus_community_level() -> u32 {
    1
}
fn default_manus_page_size() -> u32 {
    100
}

/// ManusPlus resource paths (below `base_url`; `{node}` is the configured node).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ManusPlusPaths {
    /// The password grant (`POST`, form-encoded). Default `/app/token`.
    pub token: String,
    /// The organisation tree below the node. Default `/api/node/{node}/node`.
    pub nodes: String,
    /// Employees. Default `/api/node/{node}/employee`.
    pub employees: String,
    /// Contracts, one per employment. Default `/api/node/{node}/contract`.
    pub contracts: String,
    /// Departments. Default `/api/node/{node}/department`.
    pub departments: String,
    /// Functions. Default `/api/node/{node}/function`.
    pub functions: String,
}

impl Default for ManusPlusPaths {
    fn default() -> Self {
        let s = |v: &str| v.to_owned();
        ManusPlusPaths {
            token: s("/app/token"),
            nodes: s("/api/node/{node}/node"),
            employees: s("/api/node/{node}/employee"),
            contracts: s("/api/node/{node}/contract"),
            departments: s("/api/node/{node}/department"),
            functions: s("/api/node/{node}/function"),
        }
    }
}

/// Field names of the ManusPlus answers. A list answer is an object with the items under
/// `items` and their total under `total` (or a bare array: then there is no total).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ManusPlusFields {
    /// The key of a list answer holding the items. Default `items`.
    pub items: String,
    /// The key of a list answer holding the number of items in all pages. Default `total`.
    pub total: String,
    /// Every item's own id. Default `id`.
    pub id: String,
    /// Every named item's name (nodes, departments, functions). Default `name`.
    pub name: String,
    /// A node's parent node id. Default `parentId`.
    pub node_parent: String,
    /// The employee number (the person's identifier). Default `number`.
    pub employee_number: String,
    /// Default `firstName`.
    pub first_name: String,
    /// A name prefix (`van der`), put before the last name. Default `prefix`.
    pub last_name_prefix: String,
    /// Default `lastName`.
    pub last_name: String,
    /// Work e-mail. Default `email`.
    pub email: String,
    /// The manager's employee id (resolved to the manager's employee number). Default `managerId`.
    pub manager: String,
    /// A contract's employee id. Default `employeeId`.
    pub contract_employee: String,
    /// A contract's node id. Default `nodeId`.
    pub contract_node: String,
    /// A contract's department id. Default `departmentId`.
    pub contract_department: String,
    /// A contract's function id. Default `functionId`.
    pub contract_function: String,
    /// A contract's first day (ISO date). Default `startDate`.
    pub contract_start: String,
    /// A contract's last day (ISO date; empty or null when open). Default `endDate`.
    pub contract_end: String,
}

impl Default for ManusPlusFields {
    fn default() -> Self {
        let s = |v: &str| v.to_owned();
        ManusPlusFields {
            items: s("items"),
            total: s("total"),
            id: s("id"),
            name: s("name"),
            node_parent: s("parentId"),
            employee_number: s("number"),
            first_name: s("firstName"),
            last_name_prefix: s("prefix"),
            last_name: s("lastName"),
            email: s("email"),
            manager: s("managerId"),
            contract_employee: s("employeeId"),
            contract_node: s("nodeId"),
            contract_department: s("departmentId"),
            contract_function: s("functionId"),
            contract_start: s("startDate"),
            contract_end: s("endDate"),
        }
    }
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

/// Recruitee: people are the candidates with a placement in a hired stage. Each hired placement
/// is one employment (its job is the function, `hired_at` its start), so the scope rules work as
/// for an HR system. Birth date, gender, phone and address come from the candidate's detail
/// answer and are sent on the wire only: plans and records carry a digest of them.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecruiteeSourceConfig {
    /// The company id (a number, in Recruitee under Settings → Apps and plugins → Personal API
    /// tokens): the API is at `{base_url}/c/{company_id}`.
    pub company_id: String,
    /// The API's base URL; another one for the sandbox emulator or a proxy, like
    /// `http://127.0.0.1:8406`.
    #[serde(default = "default_recruitee_url")]
    pub base_url: String,
    /// The personal API token, sent as `Authorization: Bearer …`: `${env:RECRUITEE_TOKEN}`.
    pub token: Secret,
    /// Which placements count as hired.
    #[serde(default)]
    pub hired: RecruiteeHiredConfig,
    /// Names of the candidate's profile fields (in the detail answer's `fields`) that hold the
    /// applicant data AFAS receives. Matched case-insensitively on the field's `name`, or on its
    /// `kind` for Recruitee's built-in fields.
    #[serde(default)]
    pub fields: RecruiteeFieldsConfig,
    /// Candidates per page (`limit`, with `offset`).
    #[serde(default = "default_recruitee_page_size")]
    #[schemars(range(min = 1))]
    pub page_size: u32,
    /// Most calls in flight at once (the candidates' detail answers are read concurrently).
    #[serde(default = "default_scim_concurrency")]
    #[schemars(range(min = 1))]
    pub concurrency: u32,
    /// Most requests per second (0: unlimited).
    #[serde(default)]
    pub rate_limit: u32,
    /// Timeouts and retries.
    #[serde(flatten)]
    pub http: HttpConfig,
}

fn default_recruitee_url() -> String {
    "https://api.recruitee.com".to_owned()
}
fn default_recruitee_page_size() -> u32 {
    100
}

/// Which placements count as hired. By default a placement whose stage has the category `hire`
/// (Recruitee's own hired stage in every pipeline).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RecruiteeHiredConfig {
    /// The stage category that counts as hired.
    pub category: String,
    /// Stage names that count as hired instead of the category (case-insensitive), for a
    /// pipeline with a custom last stage. Empty: the category decides.
    pub stages: Vec<String>,
    /// Per job (its id or title): the stage names that count as hired for that job, instead of
    /// `stages` and the category.
    pub jobs: BTreeMap<String, Vec<String>>,
}

impl Default for RecruiteeHiredConfig {
    fn default() -> Self {
        RecruiteeHiredConfig {
            category: "hire".to_owned(),
            stages: Vec::new(),
            jobs: BTreeMap::new(),
        }
    }
}

/// The candidate profile fields that hold applicant data (names as in Recruitee; `null` leaves a
/// field out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RecruiteeFieldsConfig {
    /// First name, when the profile has it apart. Without it the first word of `name` is the
    /// first name.
    pub first_name: Option<String>,
    /// Last name, when the profile has it apart (with its prefix: `van der Berg`).
    pub last_name: Option<String>,
    /// Birth date (a date field).
    pub birth_date: Option<String>,
    /// Gender.
    pub gender: Option<String>,
    /// Street.
    pub street: Option<String>,
    /// House number.
    pub house_number: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// More profile fields to read, by name: each becomes the attribute `field:<name>`, for
    /// exclusion rules and the AFAS field mapping.
    pub extra: Vec<String>,
}

impl Default for RecruiteeFieldsConfig {
    fn default() -> Self {
        let o = |v: &str| Some(v.to_owned());
        RecruiteeFieldsConfig {
            first_name: None,
            last_name: None,
            birth_date: o("Date of birth"),
            gender: o("Gender"),
            street: o("Street"),
            house_number: o("House number"),
            postal_code: o("Postal code"),
            city: o("City"),
            country: o("Country"),
            extra: Vec::new(),
        }
    }
}

impl RecruiteeFieldsConfig {
    /// (attribute key, field name) of every applicant field that is read.
    pub fn named(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = [
            ("birth_date", &self.birth_date),
            ("gender", &self.gender),
            ("street", &self.street),
            ("house_number", &self.house_number),
            ("postal_code", &self.postal_code),
            ("city", &self.city),
            ("country", &self.country),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k.to_owned(), v.clone())))
        .collect();
        out.extend(self.extra.iter().map(|n| (format!("field:{n}"), n.clone())));
        out
    }
}

/// AFAS Profit applicants: each hired candidate becomes an applicant through the UpdateConnector
/// `HrCreateApplicant`, once. AFAS does no duplicate detection, so orgsync keeps a badge per
/// candidate (who sent whom, when, the applicant id) in the git notes of the configuration
/// repository, written before and after each send: the configuration must be in git.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AfasApplicantsTargetConfig {
    /// The environment (participant) number, like `12345`. Required unless `base_url` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Which AFAS environment type: `production`, `test` or `accept`.
    #[serde(default)]
    pub environment_type: AfasEnvironmentType,
    /// The full base URL instead of one derived from `environment`, like
    /// `http://127.0.0.1:8401/ProfitRestServices`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The app connector token: `${env:AFAS_TOKEN}`.
    pub token: Secret,
    /// The UpdateConnector that creates an applicant.
    #[serde(default = "default_applicant_connector")]
    pub connector: String,
    /// AFAS field → where its value comes from: a person field (`first_name`, `last_name`,
    /// `email`), an applicant attribute (`birth_date`, `gender`, `phone`, `street`,
    /// `house_number`, `postal_code`, `city`, `country`, `field:<name>` for a mapped profile
    /// field), or `=<text>` for a fixed value. Replaces the default mapping when given.
    #[serde(default = "default_applicant_fields")]
    pub fields: BTreeMap<String, String>,
    /// Gender values as the source writes them (case-insensitive) → AFAS's code.
    #[serde(default = "default_gender_codes")]
    pub gender_codes: BTreeMap<String, String>,
    /// A GetConnector listing the applicants in AFAS, to look up a candidate whose send was
    /// interrupted (a crash, a lost answer) before sending it again. Without it such a
    /// candidate is held for a person to check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookup: Option<AfasApplicantLookup>,
    /// Candidate ids a person checked by hand after an interrupted send (not in AFAS): sent
    /// again. A candidate with a confirmed send is never sent again, listed here or not.
    #[serde(default)]
    pub resend: Vec<String>,
    /// Most calls in flight at once.
    #[serde(default = "default_applicant_concurrency")]
    #[schemars(range(min = 1))]
    pub concurrency: u32,
    /// Most requests per second (0: unlimited).
    #[serde(default)]
    pub rate_limit: u32,
    /// Timeouts and retries.
    #[serde(flatten)]
    pub http: HttpConfig,
}

/// The GetConnector that lists applicants, for looking up an interrupted send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AfasApplicantLookup {
    /// Its id.
    pub connector: String,
    /// The field holding the applicant's e-mail address (compared case-insensitively).
    #[serde(default = "default_lookup_email")]
    pub email_field: String,
    /// The field holding the applicant's id.
    #[serde(default = "default_lookup_id")]
    pub id_field: String,
}

fn default_lookup_email() -> String {
    "Email".to_owned()
}
fn default_lookup_id() -> String {
    "Sollicitant".to_owned()
}
fn default_applicant_connector() -> String {
    "HrCreateApplicant".to_owned()
}
fn default_applicant_concurrency() -> u32 {
    1
}

/// The default AFAS field mapping [I: AFAS's person field codes as KnPerson uses them; check
/// them with `orgsync validate --online`, which reads the UpdateConnector's metainfo].
pub fn default_applicant_fields() -> BTreeMap<String, String> {
    [
        ("FiNm", "first_name"),
        ("LaNm", "last_name"),
        ("DaBi", "birth_date"),
        ("ViGe", "gender"),
        ("EmAd", "email"),
        ("TeNr", "phone"),
        ("Ad", "street"),
        ("HmNr", "house_number"),
        ("ZpCd", "postal_code"),
        ("Rs", "city"),
        ("CoId", "country"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .collect()
}

/// The default gender codes [I: AFAS's `M`/`V`/`O`/`X`].
pub fn default_gender_codes() -> BTreeMap<String, String> {
    [
        ("male", "M"),
        ("man", "M"),
        ("m", "M"),
        ("female", "V"),
        ("woman", "V"),
        ("vrouw", "V"),
        ("f", "V"),
        ("v", "V"),
        ("other", "X"),
        ("non-binary", "X"),
        ("x", "X"),
        ("unknown", "O"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .collect()
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
    /// Which column holds which field. Name only those that differ from orgsync's own field
    /// names (`id`, `email`, …): every field left out keeps its default.
    #[serde(default, deserialize_with = "Columns::deserialize_file")]
    #[schemars(with = "ColumnOverrides")]
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

/// Which column (CSV header, JSON/YAML key, AFAS field) holds which field, resolved: the
/// connector's defaults with the configuration's overrides on top. Required fields always have a
/// column; an optional field is `None` when the source does not deliver it (`null` in the YAML).
///
/// In the YAML this is written as [`ColumnOverrides`]: a partial block keeps the connector's
/// default for every field it does not name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub community_name: Option<String>,
    /// Identifier of the person's function.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// Name of that function.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function_name: Option<String>,
    /// Identifier of the person's department (for `functions.from: department`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// Name of that department.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department_name: Option<String>,
    /// Identifier of the person's manager.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manager: Option<String>,
    /// Extra columns kept as attributes, for exclusion rules: attribute name → column.
    pub attributes: BTreeMap<String, String>,
}

/// The fields every source must deliver: they cannot be `null`.
pub const REQUIRED_COLUMNS: [&str; 7] = [
    "id",
    "email",
    "first_name",
    "last_name",
    "start",
    "end",
    "community",
];

impl Columns {
    /// AFAS Profit's common employee field names: the `afas` source's defaults.
    pub fn afas() -> Columns {
        let s = |v: &str| v.to_owned();
        let o = |v: &str| Some(v.to_owned());
        Columns {
            id: s("Medewerker"),
            email: s("Email_werk"),
            first_name: s("Roepnaam"),
            last_name: s("Achternaam"),
            last_name_prefix: o("Voorvoegsel"),
            start: s("Begindatum_contract"),
            end: s("Einddatum_contract"),
            community: s("Organisatorische_eenheid_code"),
            community_name: o("Organisatorische_eenheid_omschrijving"),
            function: o("Functie_code"),
            function_name: o("Functie_omschrijving"),
            department: o("Afdeling_code"),
            department_name: o("Afdeling_omschrijving"),
            manager: o("Persoonsnummer_leidinggevende"),
            attributes: BTreeMap::new(),
        }
    }

    /// Every field with its column, in a fixed order: (field name, column or `None`). Attributes
    /// are not included.
    pub fn fields(&self) -> [(&'static str, Option<&str>); 14] {
        fn r(s: &str) -> Option<&str> {
            Some(s)
        }
        fn o(s: &Option<String>) -> Option<&str> {
            s.as_deref()
        }
        [
            ("id", r(&self.id)),
            ("email", r(&self.email)),
            ("first_name", r(&self.first_name)),
            ("last_name", r(&self.last_name)),
            ("last_name_prefix", o(&self.last_name_prefix)),
            ("start", r(&self.start)),
            ("end", r(&self.end)),
            ("community", r(&self.community)),
            ("community_name", o(&self.community_name)),
            ("function", o(&self.function)),
            ("function_name", o(&self.function_name)),
            ("department", o(&self.department)),
            ("department_name", o(&self.department_name)),
            ("manager", o(&self.manager)),
        ]
    }

    /// These defaults with `overrides` on top: a field the overrides leave out keeps its
    /// default, `null` switches an optional field off.
    pub fn merged(mut self, overrides: ColumnOverrides) -> Columns {
        let ColumnOverrides {
            id,
            email,
            first_name,
            last_name,
            last_name_prefix,
            start,
            end,
            community,
            community_name,
            function,
            function_name,
            department,
            department_name,
            manager,
            attributes,
        } = overrides;
        macro_rules! set {
            ($($field:ident),*) => { $( if let Some(v) = $field { self.$field = v; } )* };
        }
        set!(
            id,
            email,
            first_name,
            last_name,
            last_name_prefix,
            start,
            end,
            community,
            community_name,
            function,
            function_name,
            department,
            department_name,
            manager
        );
        if let Some(a) = attributes {
            self.attributes = a;
        }
        self
    }

    /// `columns:` of a `file` source: orgsync's own names, with the configuration's overrides.
    pub(crate) fn deserialize_file<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Columns, D::Error> {
        ColumnOverrides::deserialize(d).map(|o| Columns::default().merged(o))
    }

    /// `columns:` of an `afas` source: AFAS's common field names, with the overrides.
    pub(crate) fn deserialize_afas<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Columns, D::Error> {
        ColumnOverrides::deserialize(d).map(|o| Columns::afas().merged(o))
    }
}

impl Default for Columns {
    /// orgsync's own field names: the `file` source's defaults.
    fn default() -> Self {
        let s = |v: &str| v.to_owned();
        let o = |v: &str| Some(v.to_owned());
        Columns {
            id: s("id"),
            email: s("email"),
            first_name: s("first_name"),
            last_name: s("last_name"),
            last_name_prefix: None,
            start: s("start"),
            end: s("end"),
            community: s("community"),
            community_name: o("community_name"),
            function: o("function"),
            function_name: o("function_name"),
            department: o("department"),
            department_name: o("department_name"),
            manager: o("manager"),
            attributes: BTreeMap::new(),
        }
    }
}

/// Which column holds which field. Name only what differs from the connector's defaults: every
/// field left out keeps its default (`file`: orgsync's own names, `id`, `email`, …; `afas`:
/// AFAS's common field names, `Medewerker`, `Email_werk`, …). Optional fields can be switched
/// off with `null` when the source does not have them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ColumnOverrides {
    /// The person's identifier (employee number); required in every row. Default `id` (file),
    /// `Medewerker` (afas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub id: Option<String>,
    /// Work e-mail address; required. Default `email` (file), `Email_werk` (afas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub email: Option<String>,
    /// First name; required. Default `first_name` (file), `Roepnaam` (afas: the name the person
    /// goes by).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub first_name: Option<String>,
    /// Last name, including any prefix unless `last_name_prefix` is set; required. Default
    /// `last_name` (file), `Achternaam` (afas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub last_name: Option<String>,
    /// Optional: a name prefix (`van der`) put before the last name. Default none (file),
    /// `Voorvoegsel` (afas); `null` switches it off.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_name_prefix: Option<Option<String>>,
    /// First day of employment; required. Default `start` (file), `Begindatum_contract` (afas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub start: Option<String>,
    /// Last day of employment (inclusive; empty when open-ended); required. Default `end`
    /// (file), `Einddatum_contract` (afas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub end: Option<String>,
    /// Identifier of the person's community (location, organisational unit); required. Default
    /// `community` (file), `Organisatorische_eenheid_code` (afas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub community: Option<String>,
    /// Optional: name of that community. Default `community_name` (file),
    /// `Organisatorische_eenheid_omschrijving` (afas); `null` switches it off.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub community_name: Option<Option<String>>,
    /// Optional: identifier of the person's function (needed by `functions.from: function` and
    /// exclusions by function). Default `function` (file), `Functie_code` (afas); `null`
    /// switches it off.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub function: Option<Option<String>>,
    /// Optional: name of that function. Default `function_name` (file), `Functie_omschrijving`
    /// (afas); `null` switches it off.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub function_name: Option<Option<String>>,
    /// Optional: identifier of the person's department (needed by `functions.from:
    /// department`). Default `department` (file), `Afdeling_code` (afas); `null` switches it off.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub department: Option<Option<String>>,
    /// Optional: name of that department. Default `department_name` (file),
    /// `Afdeling_omschrijving` (afas); `null` switches it off.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub department_name: Option<Option<String>>,
    /// Optional: identifier of the person's manager. Default `manager` (file),
    /// `Persoonsnummer_leidinggevende` (afas); `null` switches it off.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub manager: Option<Option<String>>,
    /// Extra columns kept as attributes, for exclusion rules: attribute name → column. An
    /// exclusion can only test an attribute named here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "BTreeMap<String, String>")]
    pub attributes: Option<BTreeMap<String, String>>,
}

/// A key that is present: `Some(value)`, where `null` is `Some(None)` (an absent key stays
/// `None` through `#[serde(default)]`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
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
    /// AFAS Profit applicants (UpdateConnector `HrCreateApplicant`): hired candidates are sent
    /// once, never updated or removed (create-only).
    AfasApplicants(AfasApplicantsTargetConfig),
    /// Revolut Business team members.
    Revolut(RevolutTargetConfig),
}

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
    /// The person's manager, set when an account is invited. Not in the default list: no target
    /// can write it yet, so it is listed as a manual step ("set the manager in …") for each
    /// invited person who has one.
    Manager,
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

/// Safety limits. A plan over them is unsafe: apply refuses it without an explicit override
/// for that plan (`--allow-removals N`, `--allow-moves N`, …, or `--force`).
///
/// Every limit is a percentage (`"10%"`), a count (`25`), both (`{ percent: 10, count: 25 }`),
/// or `unlimited`, the only way to switch a limit off. Percentages are of the managed (active)
/// accounts — of the managed groups for `max_group_removals` — and are checked from 10 up: below
/// that a single change is already a large share. An empty limit (`{}`, all `null`) is an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SafetyConfig {
    /// Most accounts one plan may remove (deactivate). Default `"10%"`.
    pub max_removals: Limit,
    /// Most accounts one plan may anonymize (personal data blanked for good). Default `"10%"`.
    pub max_anonymizations: Limit,
    /// Most accounts one plan may move to other communities, notifying or not. Default `"25%"`.
    pub max_moves: Limit,
    /// Most moves in one plan that make the app e-mail the person (transfers with
    /// `notify_transfers` on), counted on their own: a swapped mapping e-mails everyone it
    /// moves. Default `"10%"`.
    pub max_notifying_moves: Limit,
    /// Most accounts one plan may update (names, e-mail, function groups). Default `"25%"`.
    pub max_updates: Limit,
    /// Most people one plan may invite, as a share of the managed accounts already there (may
    /// be over 100%) and/or a count. The first sync of an empty target is not limited by the
    /// percentage (fewer than 10 managed accounts). Default `"25%"`.
    pub max_invites: Limit,
    /// Most groups (communities and function groups) one plan may remove, as a share of the
    /// groups orgsync manages and/or a count. Default `"10%"`.
    pub max_group_removals: Limit,
    /// Allow removing target communities whose source identifiers are gone. Removing a community
    /// destroys its messages and shift takeovers; when false it is reported as orphaned instead.
    pub allow_community_removal: bool,
}

impl Default for SafetyConfig {
    fn default() -> Self {
        let pct = |p: &str| Limit::Percent(p.to_owned());
        SafetyConfig {
            max_removals: pct("10%"),
            max_anonymizations: pct("10%"),
            max_moves: pct("25%"),
            max_notifying_moves: pct("10%"),
            max_updates: pct("25%"),
            max_invites: pct("25%"),
            max_group_removals: pct("10%"),
            allow_community_removal: false,
        }
    }
}

impl SafetyConfig {
    /// Every limit with its key (`max_removals`, …) and what it counts (`removal`), in the order
    /// they are checked and reported.
    pub fn limits(&self) -> [(&'static str, &'static str, &Limit); 7] {
        [
            ("max_removals", "removal", &self.max_removals),
            (
                "max_anonymizations",
                "anonymization",
                &self.max_anonymizations,
            ),
            ("max_moves", "move", &self.max_moves),
            (
                "max_notifying_moves",
                "notifying move",
                &self.max_notifying_moves,
            ),
            ("max_updates", "update", &self.max_updates),
            ("max_invites", "invite", &self.max_invites),
            (
                "max_group_removals",
                "group removal",
                &self.max_group_removals,
            ),
        ]
    }
}

/// A safety limit: `"10%"`, `25`, `{ percent: 10, count: 25 }`, or `unlimited`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Limit {
    /// A count.
    Count(u64),
    /// No limit, written out: `unlimited`.
    Unlimited(NoLimit),
    /// A percentage, written `"10%"`.
    Percent(#[schemars(regex(pattern = r"^\d{1,3}(\.\d+)?%$"))] String),
    /// Both limits; the plan must stay within each.
    Both(LimitBoth),
}

/// The removal limit's former name.
pub type MaxRemovals = Limit;
/// The former name of [`LimitBoth`].
pub type MaxRemovalsBoth = LimitBoth;

/// `unlimited`: the one way to switch a limit off, so that it is never switched off by an
/// empty or mistyped value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoLimit {
    /// No limit: a plan may do any number of these changes.
    Unlimited,
}

impl Default for Limit {
    fn default() -> Self {
        Limit::Percent("10%".to_owned())
    }
}

/// Both a percentage and a count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitBoth {
    /// A percentage (checked from 10 managed accounts or groups up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<u32>,
    /// A count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
}

impl Limit {
    /// The limit as (percent, count).
    pub fn limits(&self) -> (Option<f64>, Option<u64>) {
        match self {
            Limit::Count(c) => (None, Some(*c)),
            Limit::Unlimited(NoLimit::Unlimited) => (None, None),
            Limit::Percent(p) => (p.trim_end_matches('%').parse().ok(), None),
            Limit::Both(b) => (b.percent.map(f64::from), b.count),
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
