//! `source: { kind: manusplus }`: ManusPlus (workforce planning) through its REST API.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::error::{At, ConfigError};
use crate::config::http::{HttpConfig, url_errors};
use crate::config::secret::Secret;

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

/// `source` of kind `manusplus`.
pub(super) fn errors(m: &ManusPlusSourceConfig, at: At<'_>, errs: &mut Vec<ConfigError>) {
    url_errors(
        "/source/base_url",
        &m.base_url,
        "https://server.manus.plus/acme",
        at,
        errs,
    );
    for (key, value, hint) in [
        (
            "username",
            &m.username,
            "name the data service user, like `orgsync-data`",
        ),
        (
            "node",
            &m.node,
            "give the id of the organisation node to read, as ManusPlus shows it",
        ),
        ("client_id", &m.client_id, "write `employee` (the default)"),
    ] {
        if value.trim().is_empty() {
            errs.push(at(&format!("/source/{key}"), format!("source.{key} is empty")).hint(hint));
        }
    }
    let p = &m.paths;
    for (key, path) in [
        ("token", &p.token),
        ("nodes", &p.nodes),
        ("employees", &p.employees),
        ("contracts", &p.contracts),
        ("departments", &p.departments),
        ("functions", &p.functions),
    ] {
        if !path.starts_with('/') || path.contains('?') || path.contains(char::is_whitespace) {
            errs.push(
                at(&format!("/source/paths/{key}"), format!("\"{path}\" is not a path below base_url"))
                    .hint("write a path that starts with `/`, without a query, like `/api/node/{node}/employee`"),
            );
        }
    }
    let f = &m.fields;
    for (key, field) in [
        ("items", &f.items),
        ("id", &f.id),
        ("name", &f.name),
        ("node_parent", &f.node_parent),
        ("employee_number", &f.employee_number),
        ("first_name", &f.first_name),
        ("last_name", &f.last_name),
        ("email", &f.email),
        ("contract_employee", &f.contract_employee),
        ("contract_node", &f.contract_node),
        ("contract_start", &f.contract_start),
    ] {
        if field.trim().is_empty() {
            errs.push(
                at(&format!("/source/fields/{key}"), format!("the field name of `{key}` is empty"))
                    .hint("name the JSON key (or dotted path) that holds it; leave the key out for the default"),
            );
        }
    }
}
