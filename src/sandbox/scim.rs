//! A SCIM 2.0 service provider emulator, for demos and for load tests at rates a real test server
//! does not reach. In memory; Users and Groups with `filter` (`eq`, `sw`, `co` on one attribute),
//! `startIndex`/`count` paging, POST (409 on a taken `userName`), PATCH (`add`/`replace`/`remove`,
//! dotted paths, the enterprise extension, `members[value eq "…"]`), DELETE, weak ETags with
//! `If-Match` (412), and RFC 7644 error bodies. For conformance the tests use `scim2-server`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::serve::{Faults, Gate, Vendor, error, guarded};
use crate::config::ScimGroupsConfig;
use crate::model::{AccountStatus, TargetSnapshot};

/// The base path of the API.
pub const BASE_PATH: &str = "/scim/v2";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// The emulator's resources.
#[derive(Debug, Default, Clone)]
pub struct ScimData {
    users: BTreeMap<String, Value>,
    groups: BTreeMap<String, Value>,
    next_id: u64,
    version: u64,
}

impl ScimData {
    /// An empty service provider.
    pub fn new() -> ScimData {
        ScimData::default()
    }

    /// Users and Groups for a workspace, under orgsync's group convention (`convention`):
    /// managed groups get `<prefix><source ids>`, hand-made function groups `<function prefix>`
    /// with no ids (hand-made communities stay untagged, the `other: community` default).
    pub fn from_workspace(state: &TargetSnapshot, convention: &ScimGroupsConfig) -> ScimData {
        let mut data = ScimData::new();
        let mut ids = std::collections::HashMap::new();
        for a in &state.accounts {
            let mut user = json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "active": a.status == AccountStatus::Active,
            });
            match a.status {
                AccountStatus::Anonymized => {
                    user["userName"] = json!(format!("anonymized-{}@invalid", a.id));
                }
                _ => {
                    user["userName"] = json!(a.email.clone().unwrap_or_else(|| a.id.clone()));
                    user["name"] = json!({"givenName": a.first_name, "familyName": a.last_name});
                    user["displayName"] = json!(format!("{} {}", a.first_name, a.last_name).trim());
                    if let Some(e) = &a.email {
                        user["emails"] = json!([{ "value": e, "type": "work", "primary": true }]);
                    }
                    // orgsync's ownership record on its own accounts; an unmanaged account that
                    // carries an identifier got it from another provisioning tool.
                    match (&a.external_id, a.managed) {
                        (Some(x), true) => {
                            user["externalId"] = json!(format!(
                                "{}{x}",
                                crate::config::ScimUsersConfig::default().external_id_prefix
                            ));
                        }
                        (Some(x), false) => user["externalId"] = json!(x),
                        (None, _) => {}
                    }
                }
            }
            let id = data.insert_user(user);
            ids.insert(a.id.clone(), id);
        }
        for (groups, prefix, tag_hand_made) in [
            (&state.communities, &convention.community_prefix, false),
            (
                &state.function_groups,
                &convention.function_group_prefix,
                true,
            ),
        ] {
            for g in groups {
                let members: Vec<Value> = state
                    .accounts
                    .iter()
                    .filter(|a| a.communities.contains(&g.id) || a.function_groups.contains(&g.id))
                    .filter_map(|a| ids.get(&a.id))
                    .map(|id| json!({ "value": id }))
                    .collect();
                let mut group = json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": g.name,
                    "members": members,
                });
                if g.managed || tag_hand_made {
                    group["externalId"] = json!(format!("{prefix}{}", g.source_ids.join(",")));
                }
                data.insert_group(group);
            }
        }
        data
    }

    /// Number of Users.
    pub fn users(&self) -> usize {
        self.users.len()
    }

    fn stamp(&mut self, resource: &mut Value, kind: &str, id: &str, created: bool) {
        self.version += 1;
        let now = jiff::Timestamp::now().to_string();
        let meta = resource
            .as_object_mut()
            .map(|o| o.entry("meta").or_insert_with(|| json!({})));
        if let Some(meta) = meta {
            meta["resourceType"] = json!(kind);
            if created {
                meta["created"] = json!(now);
            }
            meta["lastModified"] = json!(now);
            meta["version"] = json!(format!("W/\"{}\"", self.version));
            meta["location"] = json!(format!("{BASE_PATH}/{kind}s/{id}"));
        }
        resource["id"] = json!(id);
    }

    fn insert_user(&mut self, mut user: Value) -> String {
        self.next_id += 1;
        let id = format!("{:08x}", self.next_id);
        self.stamp(&mut user, "User", &id, true);
        self.users.insert(id.clone(), user);
        id
    }

    fn insert_group(&mut self, mut group: Value) -> String {
        self.next_id += 1;
        let id = format!("{:08x}", self.next_id);
        self.stamp(&mut group, "Group", &id, true);
        self.groups.insert(id.clone(), group);
        id
    }
}

struct Emulator {
    data: Mutex<ScimData>,
    gate: Arc<Gate>,
}

/// The emulator's routes under [`BASE_PATH`], accepting `Bearer <token>`.
pub fn router(data: ScimData, token: &str, faults: Faults) -> Router {
    let gate = Arc::new(Gate::new(Vendor::Scim, format!("Bearer {token}"), faults));
    let state = Arc::new(Emulator {
        data: Mutex::new(data),
        gate: Arc::clone(&gate),
    });
    let api = Router::new()
        .route("/ServiceProviderConfig", get(service_provider_config))
        .route("/Users", get(list_users).post(create_user))
        .route(
            "/Users/{id}",
            get(get_user).patch(patch_user).delete(delete_user),
        )
        .route("/Groups", get(list_groups).post(create_group))
        .route(
            "/Groups/{id}",
            get(get_group).patch(patch_group).delete(delete_group),
        )
        .with_state(state);
    Router::new().nest(BASE_PATH, guarded(api, gate))
}

type Shared = State<Arc<Emulator>>;
type Params = Query<std::collections::HashMap<String, String>>;

fn lock(emu: &Emulator) -> std::sync::MutexGuard<'_, ScimData> {
    emu.data.lock().unwrap_or_else(|e| e.into_inner())
}

fn scim(status: StatusCode, body: &Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/scim+json"),
    );
    if let Some(v) = body["meta"]["version"].as_str()
        && let Ok(v) = HeaderValue::from_str(v)
    {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

fn fail(status: StatusCode, detail: &str) -> Response {
    error(Vendor::Scim, status, detail)
}

async fn service_provider_config() -> Response {
    scim(
        StatusCode::OK,
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "patch": { "supported": true },
            "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
            "filter": { "supported": true, "maxResults": 1000 },
            "changePassword": { "supported": false },
            "sort": { "supported": false },
            "etag": { "supported": true },
            "authenticationSchemes": [{ "type": "oauthbearertoken", "name": "Bearer token" }],
        }),
    )
}

/// `attr op "value"` for one attribute: `eq` (case-insensitive for userName), `sw`, `co`.
fn matches(resource: &Value, filter: &str) -> Result<bool, String> {
    let mut parts = filter.splitn(3, ' ');
    let (Some(attr), Some(op), Some(value)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("cannot parse the filter {filter}"));
    };
    let value = value
        .trim()
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .ok_or_else(|| format!("the filter value must be a quoted string: {filter}"))?
        .replace("\\\"", "\"");
    let actual: Vec<String> = match attr {
        "emails.value" | "emails" => resource["emails"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["value"].as_str().map(str::to_owned))
            .collect(),
        a => {
            let key = ["userName", "externalId", "displayName", "id"]
                .into_iter()
                .find(|k| k.eq_ignore_ascii_case(a))
                .ok_or_else(|| format!("filtering on {a} is not supported"))?;
            resource[key]
                .as_str()
                .map(str::to_owned)
                .into_iter()
                .collect()
        }
    };
    let fold = !attr.eq_ignore_ascii_case("externalId") && !attr.eq_ignore_ascii_case("id");
    let norm = |s: &str| if fold { s.to_lowercase() } else { s.to_owned() };
    let value = norm(&value);
    Ok(actual.iter().any(|a| {
        let a = norm(a);
        match op.to_ascii_lowercase().as_str() {
            "eq" => a == value,
            "sw" => a.starts_with(&value),
            "co" => a.contains(&value),
            _ => false,
        }
    }))
}

fn list(emu: &Emulator, groups: bool, q: &std::collections::HashMap<String, String>) -> Response {
    let data = lock(emu);
    let resources = if groups { &data.groups } else { &data.users };
    let mut found = Vec::new();
    for r in resources.values() {
        match q.get("filter") {
            Some(f) => match matches(r, f) {
                Ok(true) => found.push(r),
                Ok(false) => {}
                Err(e) => return fail(StatusCode::BAD_REQUEST, &e),
            },
            None => found.push(r),
        }
    }
    let num = |k: &str, d: usize| q.get(k).and_then(|v| v.parse::<usize>().ok()).unwrap_or(d);
    let start = num("startIndex", 1).max(1);
    let count = num("count", 100).min(1000);
    let total = found.len();
    let page: Vec<Value> = found
        .into_iter()
        .skip(start - 1)
        .take(count)
        .cloned()
        .collect();
    let items = page.len();
    let mut page = page;
    if items > 1 && emu.gate.cut_this_page() {
        page.truncate(items / 2);
    }
    scim(
        StatusCode::OK,
        &json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": items,
            "Resources": page,
        }),
    )
}

async fn list_users(State(emu): Shared, Query(q): Params) -> Response {
    list(&emu, false, &q)
}

async fn list_groups(State(emu): Shared, Query(q): Params) -> Response {
    list(&emu, true, &q)
}

async fn create_user(State(emu): Shared, axum::Json(body): axum::Json<Value>) -> Response {
    let Some(name) = body["userName"].as_str().filter(|n| !n.is_empty()) else {
        return fail(StatusCode::BAD_REQUEST, "userName is required");
    };
    let mut data = lock(&emu);
    let taken = data.users.values().any(|u| {
        u["userName"]
            .as_str()
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
    });
    if taken {
        let mut r = fail(StatusCode::CONFLICT, &format!("userName {name} is taken"));
        let body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
            "status": "409", "scimType": "uniqueness",
            "detail": format!("userName {name} is taken"),
        });
        *r.body_mut() = axum::body::Body::from(body.to_string());
        return r;
    }
    let id = data.insert_user(body);
    scim(StatusCode::CREATED, &data.users[&id])
}

async fn create_group(State(emu): Shared, axum::Json(body): axum::Json<Value>) -> Response {
    if body["displayName"].as_str().is_none_or(str::is_empty) {
        return fail(StatusCode::BAD_REQUEST, "displayName is required");
    }
    let mut data = lock(&emu);
    let id = data.insert_group(body);
    scim(StatusCode::CREATED, &data.groups[&id])
}

fn get_one(emu: &Emulator, groups: bool, id: &str) -> Response {
    let data = lock(emu);
    let resources = if groups { &data.groups } else { &data.users };
    match resources.get(id) {
        Some(r) => scim(StatusCode::OK, r),
        None => fail(StatusCode::NOT_FOUND, &format!("{id} not found")),
    }
}

async fn get_user(State(emu): Shared, Path(id): Path<String>) -> Response {
    get_one(&emu, false, &id)
}

async fn get_group(State(emu): Shared, Path(id): Path<String>) -> Response {
    get_one(&emu, true, &id)
}

fn delete_one(emu: &Emulator, groups: bool, id: &str) -> Response {
    let mut data = lock(emu);
    let resources = if groups {
        &mut data.groups
    } else {
        &mut data.users
    };
    match resources.remove(id) {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => fail(StatusCode::NOT_FOUND, &format!("{id} not found")),
    }
}

async fn delete_user(State(emu): Shared, Path(id): Path<String>) -> Response {
    delete_one(&emu, false, &id)
}

async fn delete_group(State(emu): Shared, Path(id): Path<String>) -> Response {
    delete_one(&emu, true, &id)
}

fn patch(emu: &Emulator, groups: bool, id: &str, headers: &HeaderMap, body: &Value) -> Response {
    let mut data = lock(emu);
    let resources = if groups { &data.groups } else { &data.users };
    let Some(current) = resources.get(id) else {
        return fail(StatusCode::NOT_FOUND, &format!("{id} not found"));
    };
    if let Some(expected) = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok())
        && expected != "*"
        && Some(expected) != current["meta"]["version"].as_str()
    {
        return fail(StatusCode::PRECONDITION_FAILED, "the resource has changed");
    }
    let mut resource = current.clone();
    for op in body["Operations"].as_array().into_iter().flatten() {
        if let Err(e) = apply_op(&mut resource, op) {
            return fail(StatusCode::BAD_REQUEST, &e);
        }
    }
    let kind = if groups { "Group" } else { "User" };
    data.stamp(&mut resource, kind, id, false);
    let resources = if groups {
        &mut data.groups
    } else {
        &mut data.users
    };
    resources.insert(id.to_owned(), resource.clone());
    scim(StatusCode::OK, &resource)
}

async fn patch_user(
    State(emu): Shared,
    Path(id): Path<String>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    patch(&emu, false, &id, &headers, &body)
}

async fn patch_group(
    State(emu): Shared,
    Path(id): Path<String>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    patch(&emu, true, &id, &headers, &body)
}

/// Splits a path into the object keys to walk: `name.givenName` → [name, givenName]; an
/// extension URN → [urn, attribute].
fn keys(path: &str) -> Vec<String> {
    if let Some(rest) = path.strip_prefix(ENTERPRISE) {
        let mut k = vec![ENTERPRISE.to_owned()];
        if let Some(attr) = rest.strip_prefix(':') {
            k.extend(attr.split('.').map(str::to_owned));
        }
        return k;
    }
    path.split('.').map(str::to_owned).collect()
}

fn apply_op(resource: &mut Value, op: &Value) -> Result<(), String> {
    let kind = op["op"].as_str().unwrap_or_default().to_ascii_lowercase();
    let value = op.get("value").cloned().unwrap_or(Value::Null);
    let Some(path) = op["path"].as_str() else {
        // No path: the value's attributes are added or replaced.
        let Value::Object(attrs) = value else {
            return Err("an operation without a path needs an object value".to_owned());
        };
        if let Value::Object(obj) = resource {
            obj.extend(attrs);
        }
        return Ok(());
    };
    if let Some(filter) = path
        .strip_prefix("members[")
        .and_then(|f| f.strip_suffix(']'))
    {
        let Some(member) = filter
            .strip_prefix("value eq \"")
            .and_then(|v| v.strip_suffix('"'))
        else {
            return Err(format!("unsupported member filter {filter}"));
        };
        if kind != "remove" {
            return Err("only remove takes a member filter".to_owned());
        }
        if let Some(list) = resource["members"].as_array_mut() {
            list.retain(|m| m["value"].as_str() != Some(member));
        }
        return Ok(());
    }
    let keys = keys(path);
    let (last, parents) = keys.split_last().ok_or("an empty path")?;
    let mut node = &mut *resource;
    for k in parents {
        if !node[k.as_str()].is_object() {
            if kind == "remove" {
                return Ok(());
            }
            node[k.as_str()] = Value::Object(Map::new());
        }
        node = &mut node[k.as_str()];
    }
    let Value::Object(obj) = node else {
        return Err(format!("{path} is not inside an object"));
    };
    match kind.as_str() {
        "remove" => {
            obj.remove(last);
        }
        "add" => match (obj.get_mut(last), value) {
            (Some(Value::Array(list)), Value::Array(new)) => {
                for v in new {
                    if !list.contains(&v) {
                        list.push(v);
                    }
                }
            }
            (_, v) => {
                obj.insert(last.clone(), v);
            }
        },
        "replace" => {
            obj.insert(last.clone(), value);
        }
        other => return Err(format!("unknown op {other}")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_ops_on_paths_members_and_the_extension() {
        let mut u =
            json!({"userName": "a", "name": {"givenName": "A"}, "members": [{"value": "1"}]});
        apply_op(
            &mut u,
            &json!({"op": "replace", "path": "name.familyName", "value": "B"}),
        )
        .unwrap();
        apply_op(
            &mut u,
            &json!({"op": "add", "path": "members", "value": [{"value": "1"}, {"value": "2"}]}),
        )
        .unwrap();
        apply_op(
            &mut u,
            &json!({"op": "remove", "path": "members[value eq \"1\"]"}),
        )
        .unwrap();
        apply_op(
            &mut u,
            &json!({"op": "replace", "path": format!("{ENTERPRISE}:department"), "value": "D"}),
        )
        .unwrap();
        apply_op(&mut u, &json!({"op": "remove", "path": "userName"})).unwrap();
        assert_eq!(
            u,
            json!({"name": {"givenName": "A", "familyName": "B"}, "members": [{"value": "2"}],
                   ENTERPRISE: {"department": "D"}})
        );
    }

    #[test]
    fn filters() {
        let u = json!({"userName": "Sanne@Example.com", "externalId": "E1"});
        assert!(matches(&u, "userName eq \"sanne@example.com\"").unwrap());
        assert!(matches(&u, "externalId eq \"E1\"").unwrap());
        assert!(!matches(&u, "externalId eq \"e1\"").unwrap());
        assert!(matches(&u, "userName sw \"sanne\"").unwrap());
        assert!(matches(&u, "title eq \"x\"").is_err());
    }
}
