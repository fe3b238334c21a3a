//! A ManusPlus emulator serving exactly the `manusplus` source's documented defaults (there is
//! no public specification; see `src/connectors/manusplus.rs`): `POST /{client}/app/token`
//! (password grant, `client_id=employee`), and below `/{client}/api/node/{node}` the lists
//! `node`, `employee`, `contract`, `department` and `function`, paged with `offset`/`limit` and
//! answered as `{"items": […], "total": N}`.
//!
//! The organisation tree: the root node, one node per location (level 1, the communities) and a
//! team node below some of them (level 2), where part of the contracts sit. Faults: the shared
//! ones; `--short-page-every N` cuts every Nth page with items to half (the total stays, so the
//! cut shows); `--expire-token-after N` refuses each token after N requests (401);
//! `--token-lifetime S` sets `expires_in`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::serve::{Credentials, Faults, Gate, TokenCheck, Vendor, echoing, error, guarded};
use orgsync_core::model::SourceSnapshot;

/// The client segment of the emulator's base URL (`http://127.0.0.1:8405/sandbox`).
pub const CLIENT: &str = "sandbox";
/// The root node's id.
pub const ROOT_NODE: &str = "3f1c2a9e-0000-4000-8000-000000000001";
/// The data service user's name.
pub const USERNAME: &str = "orgsync-data";

/// A stable UUID-shaped id for `kind` and `key`.
fn uuid(kind: u8, key: &str) -> String {
    let digest = <sha2::Sha256 as sha2::Digest>::digest(format!("{kind}:{key}").as_bytes());
    let h = hex::encode(&digest[..16]);
    format!(
        "{}-{}-4{}-8{}-{}",
        &h[..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// The node id of a community (level 1).
pub fn community_node(community: &str) -> String {
    uuid(1, community)
}

/// Settings of `sandbox manusplus`.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct ManusPlusSettings {
    /// `expires_in` of the tokens, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    pub token_lifetime: u64,
}

impl Default for ManusPlusSettings {
    fn default() -> Self {
        ManusPlusSettings {
            token_lifetime: 3600,
        }
    }
}

/// What the emulator serves.
#[derive(Debug, Clone, Default)]
pub struct ManusPlusData {
    /// Organisation nodes.
    pub nodes: Vec<Value>,
    /// Employees.
    pub employees: Vec<Value>,
    /// Contracts.
    pub contracts: Vec<Value>,
    /// Departments.
    pub departments: Vec<Value>,
    /// Functions.
    pub functions: Vec<Value>,
}

impl ManusPlusData {
    /// `source` as ManusPlus would hold it: a location node per community under the root, a
    /// team node under each, every second contract on the team; employee numbers as `number`;
    /// one contract per employment.
    pub fn from_snapshot(source: &SourceSnapshot) -> ManusPlusData {
        let mut nodes = vec![json!({ "id": ROOT_NODE, "name": "Organisatie", "parentId": null })];
        for c in &source.communities {
            let id = community_node(&c.id);
            nodes.push(json!({ "id": id, "name": c.name, "parentId": ROOT_NODE }));
            nodes.push(
                json!({ "id": uuid(2, &c.id), "name": format!("{} team", c.name), "parentId": id }),
            );
        }
        let group = |kind: u8, g: &orgsync_core::model::SourceGroup| json!({ "id": uuid(kind, &g.id), "code": g.id, "name": g.name });
        let departments: Vec<Value> = source.departments.iter().map(|g| group(3, g)).collect();
        let functions: Vec<Value> = source.functions.iter().map(|g| group(4, g)).collect();
        let employee_id = |number: &str| uuid(5, number);
        let mut employees = Vec::new();
        let mut contracts = Vec::new();
        for p in &source.persons {
            let (prefix, last) = match p.last_name.rfind(' ') {
                Some(i) if p.last_name.starts_with(char::is_lowercase) => {
                    (Some(&p.last_name[..i]), &p.last_name[i + 1..])
                }
                _ => (None, p.last_name.as_str()),
            };
            employees.push(json!({
                "id": employee_id(&p.id),
                "number": p.id,
                "firstName": p.first_name,
                "prefix": prefix,
                "lastName": last,
                "email": p.email,
                "managerId": p.manager.as_deref().map(employee_id),
            }));
            for (i, e) in p.employments.iter().enumerate() {
                let node = e.community.as_deref().map(|c| {
                    if (contracts.len() + i).is_multiple_of(2) {
                        uuid(2, c)
                    } else {
                        community_node(c)
                    }
                });
                contracts.push(json!({
                    "id": uuid(6, &format!("{}#{i}", p.id)),
                    "employeeId": employee_id(&p.id),
                    "nodeId": node,
                    "departmentId": e.department.as_deref().map(|d| uuid(3, d)),
                    "functionId": e.function.as_deref().map(|f| uuid(4, f)),
                    "startDate": e.start.map(|d| d.to_string()),
                    "endDate": e.end.map(|d| d.to_string()),
                }));
            }
        }
        ManusPlusData {
            nodes,
            employees,
            contracts,
            departments,
            functions,
        }
    }

    /// The function id ManusPlus gives a source function (for mappings).
    pub fn function_id(function: &str) -> String {
        uuid(4, function)
    }

    /// The department id ManusPlus gives a source department (for mappings).
    pub fn department_id(department: &str) -> String {
        uuid(3, department)
    }
}

struct Issued {
    expires: Instant,
    uses: u64,
}

struct Emulator {
    data: ManusPlusData,
    password: String,
    tokens: Arc<Mutex<HashMap<String, Issued>>>,
    settings: ManusPlusSettings,
    gate: Arc<Gate>,
    grants: AtomicU64,
    credentials: Credentials,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The emulator's routes under `/{CLIENT}`, accepting [`USERNAME`] with `password`.
pub fn router(
    data: ManusPlusData,
    password: &str,
    faults: Faults,
    settings: ManusPlusSettings,
) -> Router {
    router_with_credentials(data, password, faults, settings, Credentials::default())
}

/// [`router`], keeping in `credentials` every token the token URL issues.
pub fn router_with_credentials(
    data: ManusPlusData,
    password: &str,
    faults: Faults,
    settings: ManusPlusSettings,
    credentials: Credentials,
) -> Router {
    let token_faults = faults.clone();
    let tokens: Arc<Mutex<HashMap<String, Issued>>> = Arc::default();
    let book = Arc::clone(&tokens);
    let expire_after = faults.expire_token_after;
    let check: TokenCheck = Arc::new(move |presented: Option<&str>| {
        let Some(token) = presented.and_then(|h| h.strip_prefix("Bearer ")) else {
            return Err("no bearer token".to_owned());
        };
        let mut book = lock(&book);
        let Some(issued) = book.get_mut(token) else {
            return Err("invalid token".to_owned());
        };
        issued.uses += 1;
        if Instant::now() >= issued.expires || expire_after.is_some_and(|n| issued.uses > n) {
            return Err("the token has expired".to_owned());
        }
        Ok(())
    });
    let gate = Arc::new(Gate::with_check(Vendor::ManusPlus, check, faults));
    let state = Arc::new(Emulator {
        data,
        password: password.to_owned(),
        tokens,
        settings,
        gate: Arc::clone(&gate),
        grants: AtomicU64::new(0),
        credentials,
    });
    let api = Router::new()
        .route("/api/node/{node}/{resource}", get(list))
        .with_state(Arc::clone(&state));
    let grant = Router::new()
        .route("/app/token", post(token))
        .with_state(state);
    let client = echoing(grant, Vendor::ManusPlus, &token_faults).merge(guarded(api, gate));
    Router::new().nest(&format!("/{CLIENT}"), client)
}

type Shared = State<Arc<Emulator>>;

async fn token(State(emu): Shared, Form(form): Form<HashMap<String, String>>) -> Response {
    let get = |k: &str| form.get(k).map(String::as_str);
    if get("grant_type") != Some("password") {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "error": "unsupported_grant_type" })),
        )
            .into_response();
    }
    if get("client_id") != Some("employee")
        || get("username") != Some(USERNAME)
        || get("password") != Some(emu.password.as_str())
    {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({
                "error": "invalid_grant",
                "error_description": "The user name or password is incorrect.",
            })),
        )
            .into_response();
    }
    let n = emu.grants.fetch_add(1, Ordering::Relaxed) + 1;
    let token = format!("manus-sandbox-{n}-{:016x}", fastrand::u64(..));
    lock(&emu.credentials).push(token.clone());
    let lifetime = emu.settings.token_lifetime;
    lock(&emu.tokens).insert(
        token.clone(),
        Issued {
            expires: Instant::now() + Duration::from_secs(lifetime),
            uses: 0,
        },
    );
    axum::Json(json!({ "access_token": token, "token_type": "bearer", "expires_in": lifetime }))
        .into_response()
}

async fn list(
    State(emu): Shared,
    Path((node, resource)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if node != ROOT_NODE {
        return error(Vendor::ManusPlus, StatusCode::NOT_FOUND, "node not found");
    }
    let items = match resource.as_str() {
        "node" => &emu.data.nodes,
        "employee" => &emu.data.employees,
        "contract" => &emu.data.contracts,
        "department" => &emu.data.departments,
        "function" => &emu.data.functions,
        _ => return error(Vendor::ManusPlus, StatusCode::NOT_FOUND, "no such resource"),
    };
    let num = |k: &str, d: usize| q.get(k).and_then(|v| v.parse::<usize>().ok()).unwrap_or(d);
    let (offset, limit) = (num("offset", 0), num("limit", 100).clamp(1, 1000));
    let end = (offset + limit).min(items.len());
    let mut page: Vec<&Value> = items.get(offset..end).unwrap_or(&[]).iter().collect();
    if !page.is_empty() && emu.gate.cut_this_page() {
        page.truncate(page.len() / 2);
    }
    axum::Json(json!({ "items": page, "total": items.len(), "offset": offset, "limit": limit }))
        .into_response()
}
