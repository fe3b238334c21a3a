//! A SCIM 2.0 service provider emulator, for demos and for load tests at rates a real test server
//! does not reach. In memory; it passes `scim2 test` (scim2-tester) as scim2-server does
//! (`tests/cli/scim_conformance.rs`). What it serves, and announces in `/ServiceProviderConfig`:
//! - discovery: `/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas` (RFC 7643 §8.7.1's User,
//!   Group and enterprise User), each also by id;
//! - Users and Groups: POST (409 on a taken `userName`), GET, PUT (replace), PATCH
//!   (`add`/`replace`/`remove`, dotted paths, the enterprise extension, `members[value eq "…"]`),
//!   DELETE; `attributes`/`excludedAttributes` on every answer that holds a resource, and the
//!   schemas' `returned` rules (a password is stored, never returned);
//! - listings: `filter` (one comparison, see [`Filter`]), `startIndex`/`count` paging, and
//!   `POST /.search` (Users and Groups at once), `/Users/.search`, `/Groups/.search`;
//! - weak ETags (`meta.version`): `If-Match` on PUT, PATCH and DELETE (412), `If-None-Match` on
//!   GET (304);
//! - RFC 7644 §3.12 error bodies for every error: 404 for an unknown path or id, 405 for a method
//!   an endpoint does not take, 501 for `/Bulk` and `/Me` (bulk is announced as unsupported, as
//!   is sorting: `sortBy` is ignored).
//!
//! Users that orgsync manages carry its ownership marker, `externalId = "orgsync:<source id>"`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, LazyLock, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde_json::{Map, Value, json};

use super::serve::{Faults, Gate, Vendor, error, guarded};
use orgsync_core::config::ScimGroupsConfig;
use orgsync_core::model::{AccountStatus, TargetSnapshot};

/// The base path of the API.
pub const BASE_PATH: &str = "/scim/v2";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const CORE_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// The emulator's resources.
#[derive(Debug, Default, Clone)]
pub struct ScimData {
    users: BTreeMap<String, Value>,
    groups: BTreeMap<String, Value>,
    next_id: u64,
    version: u64,
    /// Well-formed `POST /Users` and `POST /Groups` requests that reached the handler (created,
    /// or refused as a taken `userName`): a slow create counts when it lands.
    pub creates_received: u64,
}

impl ScimData {
    /// An empty service provider.
    pub fn new() -> ScimData {
        ScimData::default()
    }

    /// How many Users there are, and how many of them are a member of no Group.
    pub fn users_in_no_group(&self) -> (usize, usize) {
        let members: std::collections::HashSet<&str> = self
            .groups
            .values()
            .filter_map(|g| g["members"].as_array())
            .flatten()
            .filter_map(|m| m["value"].as_str())
            .collect();
        let alone = self
            .users
            .keys()
            .filter(|id| !members.contains(id.as_str()))
            .count();
        (self.users.len(), alone)
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
                                orgsync_core::config::ScimUsersConfig::default().external_id_prefix
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

/// Users or Groups: the two resource types the emulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    User,
    Group,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Group => "Group",
        }
    }

    fn schema(self) -> &'static str {
        match self {
            Kind::User => CORE_USER,
            Kind::Group => CORE_GROUP,
        }
    }
}

impl ScimData {
    fn resources(&self, kind: Kind) -> &BTreeMap<String, Value> {
        match kind {
            Kind::User => &self.users,
            Kind::Group => &self.groups,
        }
    }

    fn resources_mut(&mut self, kind: Kind) -> &mut BTreeMap<String, Value> {
        match kind {
            Kind::User => &mut self.users,
            Kind::Group => &mut self.groups,
        }
    }

    fn user_name_taken(&self, name: &str, except: Option<&str>) -> bool {
        self.users.iter().any(|(id, u)| {
            Some(id.as_str()) != except
                && u["userName"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
    }
}

struct Emulator {
    data: Arc<Mutex<ScimData>>,
    gate: Arc<Gate>,
}

/// The emulator's routes under [`BASE_PATH`], accepting `Bearer <token>`.
pub fn router(data: ScimData, token: &str, faults: Faults) -> Router {
    router_shared(Arc::new(Mutex::new(data)), token, faults)
}

/// [`router`] over data the caller keeps a hold of: a test can look at what the server holds
/// and how many creates it received.
pub fn router_shared(data: Arc<Mutex<ScimData>>, token: &str, faults: Faults) -> Router {
    let gate = Arc::new(Gate::new(Vendor::Scim, format!("Bearer {token}"), faults));
    let state = Arc::new(Emulator {
        data,
        gate: Arc::clone(&gate),
    });
    let mut api = Router::new()
        .route("/ServiceProviderConfig", get(service_provider_config))
        .route("/ResourceTypes", get(resource_types))
        .route("/ResourceTypes/{id}", get(resource_type))
        .route("/Schemas", get(schemas))
        .route("/Schemas/{id}", get(schema))
        .route("/.search", post(search_all))
        .route("/Bulk", any(not_implemented))
        .route("/Me", any(not_implemented));
    for kind in [Kind::User, Kind::Group] {
        let collection = format!("/{}s", kind.name());
        api = api
            .route(
                &collection,
                get(move |s: Shared, h: HeaderMap, q: Params| async move {
                    list(&s, &[kind], &ListQuery::from_params(&q), &h)
                })
                .post(move |s: Shared, h: HeaderMap, q: Params, b: Bytes| async move {
                    create(&s, kind, &h, &Projection::from_params(&q), &b)
                }),
            )
            .route(
                &format!("{collection}/.search"),
                post(move |s: Shared, h: HeaderMap, b: Bytes| async move {
                    search(&s, &[kind], &h, &b)
                }),
            )
            .route(
                &format!("{collection}/{{id}}"),
                get(
                    move |s: Shared, Path(id): Path<String>, h: HeaderMap, q: Params| async move {
                        get_one(&s, kind, &id, &h, &Projection::from_params(&q))
                    },
                )
                .put(
                    move |s: Shared, Path(id): Path<String>, h: HeaderMap, q: Params, b: Bytes| async move {
                        replace(&s, kind, &id, &h, &Projection::from_params(&q), &b)
                    },
                )
                .patch(
                    move |s: Shared, Path(id): Path<String>, h: HeaderMap, q: Params, b: Bytes| async move {
                        patch(&s, kind, &id, &h, &Projection::from_params(&q), &b)
                    },
                )
                .delete(
                    move |s: Shared, Path(id): Path<String>, h: HeaderMap| async move {
                        delete_one(&s, kind, &id, &h)
                    },
                ),
            );
    }
    let api = api
        .fallback(not_found)
        .layer(middleware::map_response(method_not_allowed))
        .with_state(state);
    Router::new()
        .nest(BASE_PATH, guarded(api, gate))
        .fallback(not_found)
}

type Shared = State<Arc<Emulator>>;
type Params = Query<HashMap<String, String>>;

fn lock(emu: &Emulator) -> std::sync::MutexGuard<'_, ScimData> {
    emu.data.lock().unwrap_or_else(|e| e.into_inner())
}

/// A SCIM body, with the resource's version as its `ETag` when it has one.
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

/// An error with a `scimType` (RFC 7644 §3.12).
fn fail_typed(status: StatusCode, scim_type: &str, detail: &str) -> Response {
    scim(
        status,
        &json!({
            "schemas": [ERROR],
            "status": status.as_u16().to_string(),
            "scimType": scim_type,
            "detail": detail,
        }),
    )
}

async fn not_found(uri: axum::http::Uri) -> Response {
    fail(
        StatusCode::NOT_FOUND,
        &format!("no resource at {}", uri.path()),
    )
}

/// RFC 7644 §3.12: the operation is not supported (bulk and `/Me` are not; the
/// ServiceProviderConfig says so).
async fn not_implemented(uri: axum::http::Uri) -> Response {
    fail(
        StatusCode::NOT_IMPLEMENTED,
        &format!("{} is not supported by this service provider", uri.path()),
    )
}

/// A method a route does not take: axum's 405 (with its `Allow`) gets a SCIM error body.
async fn method_not_allowed(response: Response) -> Response {
    if response.status() != StatusCode::METHOD_NOT_ALLOWED {
        return response;
    }
    let mut r = fail(
        StatusCode::METHOD_NOT_ALLOWED,
        "this endpoint does not take that method",
    );
    if let Some(allow) = response.headers().get(header::ALLOW) {
        r.headers_mut().insert(header::ALLOW, allow.clone());
    }
    r
}

/// `http://host/scim/v2`, from the request's `Host` (a bare path without one).
fn base_url(headers: &HeaderMap) -> String {
    match headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        Some(host) => format!("http://{host}{BASE_PATH}"),
        None => BASE_PATH.to_owned(),
    }
}

/// The schemas the emulator serves: RFC 7643 §8.7.1's User, Group and enterprise User
/// representations (as scim2-server publishes them), without `meta`, which is added per request.
static SCHEMAS: LazyLock<Vec<Value>> =
    LazyLock::new(|| serde_json::from_str(include_str!("scim_schemas.json")).unwrap_or_default());

/// What the schemas say about attributes, as lower-case paths (`name.givenname`, the extension
/// URN as one segment).
struct Characteristics {
    /// Every attribute a filter or a projection may name.
    known: HashSet<Vec<String>>,
    /// `returned: never` (the password).
    never: Vec<Vec<String>>,
    /// `returned: always` besides `id` and `schemas`.
    always: Vec<Vec<String>>,
    /// `returned: request`.
    request: Vec<Vec<String>>,
}

static CHARACTERISTICS: LazyLock<Characteristics> = LazyLock::new(|| {
    let mut c = Characteristics {
        known: HashSet::new(),
        never: Vec::new(),
        always: Vec::new(),
        request: Vec::new(),
    };
    for common in [
        "id",
        "externalid",
        "schemas",
        "meta",
        "meta.resourcetype",
        "meta.created",
        "meta.lastmodified",
        "meta.version",
        "meta.location",
    ] {
        c.known
            .insert(common.split('.').map(str::to_owned).collect());
    }
    for schema in SCHEMAS.iter() {
        let id = schema["id"].as_str().unwrap_or_default().to_lowercase();
        let prefix: Vec<String> = if id == ENTERPRISE.to_lowercase() {
            c.known.insert(vec![id.clone()]);
            vec![id]
        } else {
            Vec::new()
        };
        for a in schema["attributes"].as_array().into_iter().flatten() {
            let mut path = prefix.clone();
            path.push(a["name"].as_str().unwrap_or_default().to_lowercase());
            let mut all = vec![(path.clone(), a)];
            for s in a["subAttributes"].as_array().into_iter().flatten() {
                let mut sub = path.clone();
                sub.push(s["name"].as_str().unwrap_or_default().to_lowercase());
                all.push((sub, s));
            }
            for (p, attr) in all {
                match attr["returned"].as_str() {
                    Some("never") => c.never.push(p.clone()),
                    Some("always") => c.always.push(p.clone()),
                    Some("request") => c.request.push(p.clone()),
                    _ => {}
                }
                c.known.insert(p);
            }
        }
    }
    c
});

/// An attribute path (RFC 7644 §3.10) as lower-case segments: `name.givenName` → [name,
/// givenname]; `urn:…:enterprise:2.0:User:manager.value` → [urn…user, manager, value]; a
/// core schema URN prefix is dropped.
fn attribute_path(name: &str) -> Vec<String> {
    let lower = name.trim().to_lowercase();
    let ext = ENTERPRISE.to_lowercase();
    if let Some(rest) = lower.strip_prefix(&ext) {
        let mut path = vec![ext];
        if let Some(attr) = rest.strip_prefix(':') {
            path.extend(attr.split('.').map(str::to_owned));
        }
        return path;
    }
    let mut rest = lower.as_str();
    for core in [CORE_USER, CORE_GROUP] {
        if let Some(r) = rest.strip_prefix(&format!("{}:", core.to_lowercase())) {
            rest = r;
        }
    }
    rest.split('.').map(str::to_owned).collect()
}

/// `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9).
#[derive(Debug, Default)]
struct Projection {
    attributes: Vec<Vec<String>>,
    excluded: Vec<Vec<String>>,
}

impl Projection {
    fn from_params(q: &HashMap<String, String>) -> Projection {
        let split = |key: &str| -> Vec<Vec<String>> {
            q.get(key)
                .map(|v| {
                    v.split(',')
                        .filter(|a| !a.trim().is_empty())
                        .map(attribute_path)
                        .collect()
                })
                .unwrap_or_default()
        };
        Projection {
            attributes: split("attributes"),
            excluded: split("excludedAttributes"),
        }
    }

    /// From a SearchRequest: arrays of names (a comma-separated string is taken too).
    fn from_search(body: &Value) -> Projection {
        let split = |key: &str| -> Vec<Vec<String>> {
            match &body[key] {
                Value::Array(names) => names
                    .iter()
                    .filter_map(Value::as_str)
                    .map(attribute_path)
                    .collect(),
                Value::String(s) => s
                    .split(',')
                    .filter(|a| !a.trim().is_empty())
                    .map(attribute_path)
                    .collect(),
                _ => Vec::new(),
            }
        };
        Projection {
            attributes: split("attributes"),
            excluded: split("excludedAttributes"),
        }
    }

    /// The representation a client gets of `resource`: never the `returned: never`
    /// attributes, `request` ones only when asked for, `id` and `schemas` always, and an
    /// absolute `meta.location`.
    fn render(&self, resource: &Value, base: &str) -> Value {
        let c = &*CHARACTERISTICS;
        let mut r = if self.attributes.is_empty() {
            resource.clone()
        } else {
            let mut keep = self.attributes.clone();
            keep.push(vec!["id".to_owned()]);
            keep.push(vec!["schemas".to_owned()]);
            keep.extend(c.always.iter().cloned());
            kept(resource, &keep)
        };
        for p in &c.never {
            drop_path(&mut r, p);
        }
        for p in &c.request {
            if !self.attributes.contains(p) {
                drop_path(&mut r, p);
            }
        }
        for p in &self.excluded {
            let always = p.len() == 1 && (p[0] == "id" || p[0] == "schemas");
            if !always && !c.always.contains(p) {
                drop_path(&mut r, p);
            }
        }
        if let Some(location) = r["meta"]["location"].as_str()
            && let Some(rest) = location.strip_prefix(BASE_PATH)
        {
            r["meta"]["location"] = json!(format!("{base}{rest}"));
        }
        r
    }
}

/// `value` with only the attributes on `paths` (an empty path keeps everything below it).
fn kept(value: &Value, paths: &[Vec<String>]) -> Value {
    if paths.iter().any(Vec::is_empty) {
        return value.clone();
    }
    match value {
        Value::Array(items) => Value::Array(items.iter().map(|i| kept(i, paths)).collect()),
        Value::Object(obj) => {
            let mut out = Map::new();
            for (k, v) in obj {
                let lk = k.to_lowercase();
                let below: Vec<Vec<String>> = paths
                    .iter()
                    .filter(|p| p[0] == lk)
                    .map(|p| p[1..].to_vec())
                    .collect();
                if !below.is_empty() {
                    out.insert(k.clone(), kept(v, &below));
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// Removes the attribute at `path` (case-insensitive; in every value of a multi-valued one).
fn drop_path(value: &mut Value, path: &[String]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    match value {
        Value::Array(items) => {
            for i in items {
                drop_path(i, path);
            }
        }
        Value::Object(obj) => {
            let Some(key) = obj.keys().find(|k| k.to_lowercase() == *first).cloned() else {
                return;
            };
            if rest.is_empty() {
                obj.shift_remove(&key);
            } else if let Some(child) = obj.get_mut(&key) {
                drop_path(child, rest);
            }
        }
        _ => {}
    }
}

/// `schemas` lists the core schema and the enterprise extension when the User has it
/// (RFC 7643 §3); an emptied extension is removed.
fn normalize_schemas(resource: &mut Value, kind: Kind) {
    let Value::Object(obj) = resource else {
        return;
    };
    let mut schemas = vec![json!(kind.schema())];
    if kind == Kind::User {
        match obj.get(ENTERPRISE) {
            Some(Value::Object(ext)) if !ext.is_empty() => schemas.push(json!(ENTERPRISE)),
            Some(_) => {
                obj.shift_remove(ENTERPRISE);
            }
            None => {}
        }
    }
    obj.insert("schemas".to_owned(), Value::Array(schemas));
}

fn resource_response(
    status: StatusCode,
    resource: &Value,
    headers: &HeaderMap,
    projection: &Projection,
) -> Response {
    let base = base_url(headers);
    let mut r = scim(status, &projection.render(resource, &base));
    if let Some(v) = resource["meta"]["version"].as_str()
        && let Ok(v) = HeaderValue::from_str(v)
    {
        r.headers_mut().insert(header::ETAG, v);
    }
    if status == StatusCode::CREATED
        && let Some(location) = resource["meta"]["location"].as_str()
        && let Some(rest) = location.strip_prefix(BASE_PATH)
        && let Ok(v) = HeaderValue::from_str(&format!("{base}{rest}"))
    {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

fn list_response(resources: Vec<Value>, total: usize, start: usize, items: usize) -> Response {
    scim(
        StatusCode::OK,
        &json!({
            "schemas": [LIST_RESPONSE],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": items,
            "Resources": resources,
        }),
    )
}

/// The most a listing page holds (`filter.maxResults`), and the page size when the client
/// names none.
const MAX_RESULTS: usize = 1000;

fn service_provider_config_body(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://datatracker.ietf.org/doc/html/rfc7644",
        "patch": { "supported": true },
        "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
        "filter": { "supported": true, "maxResults": MAX_RESULTS },
        "changePassword": { "supported": true },
        "sort": { "supported": false },
        "etag": { "supported": true },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "The token given to `orgsync sandbox scim --token`",
            "specUri": "https://datatracker.ietf.org/doc/html/rfc6750",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/ServiceProviderConfig"),
        },
    })
}

/// Only what is implemented is announced: PATCH, filters (see [`Filter`]), ETags (`If-Match`
/// on PUT, PATCH and DELETE, `If-None-Match` on GET), password writes (never returned); no
/// bulk, no sorting.
async fn service_provider_config(headers: HeaderMap) -> Response {
    scim(
        StatusCode::OK,
        &service_provider_config_body(&base_url(&headers)),
    )
}

fn resource_type_body(kind: Kind, base: &str) -> Value {
    let mut rt = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": kind.name(),
        "name": kind.name(),
        "description": match kind { Kind::User => "User Account", Kind::Group => "Group" },
        "endpoint": format!("/{}s", kind.name()),
        "schema": kind.schema(),
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{base}/ResourceTypes/{}", kind.name()),
        },
    });
    if kind == Kind::User {
        rt["schemaExtensions"] = json!([{ "schema": ENTERPRISE, "required": false }]);
    }
    rt
}

async fn resource_types(headers: HeaderMap) -> Response {
    let base = base_url(&headers);
    let all: Vec<Value> = [Kind::User, Kind::Group]
        .into_iter()
        .map(|k| resource_type_body(k, &base))
        .collect();
    let n = all.len();
    list_response(all, n, 1, n)
}

async fn resource_type(Path(id): Path<String>, headers: HeaderMap) -> Response {
    match [Kind::User, Kind::Group]
        .into_iter()
        .find(|k| k.name() == id)
    {
        Some(k) => scim(StatusCode::OK, &resource_type_body(k, &base_url(&headers))),
        None => fail(StatusCode::NOT_FOUND, &format!("no resource type {id}")),
    }
}

fn schema_body(schema: &Value, base: &str) -> Value {
    let mut s = schema.clone();
    s["meta"] = json!({
        "resourceType": "Schema",
        "location": format!("{base}/Schemas/{}", schema["id"].as_str().unwrap_or_default()),
    });
    s
}

async fn schemas(headers: HeaderMap) -> Response {
    let base = base_url(&headers);
    let all: Vec<Value> = SCHEMAS.iter().map(|s| schema_body(s, &base)).collect();
    let n = all.len();
    list_response(all, n, 1, n)
}

async fn schema(Path(id): Path<String>, headers: HeaderMap) -> Response {
    match SCHEMAS
        .iter()
        .find(|s| s["id"].as_str() == Some(id.as_str()))
    {
        Some(s) => scim(StatusCode::OK, &schema_body(s, &base_url(&headers))),
        None => fail(StatusCode::NOT_FOUND, &format!("no schema {id}")),
    }
}

/// One comparison (RFC 7644 §3.4.2.2): `attrPath op value` (`eq ne co sw ew gt ge lt le`) or
/// `attrPath pr`. Strings compare case-insensitively except `id`, `externalId` and member
/// values. `and`/`or`/`not` and value filters (`emails[type eq "work"]`) are not supported:
/// 400 `invalidFilter`.
#[derive(Debug)]
struct Filter {
    path: Vec<String>,
    op: String,
    value: Value,
}

impl Filter {
    fn parse(filter: &str) -> Result<Filter, String> {
        let filter = filter.trim();
        let (attr, rest) = filter
            .split_once(char::is_whitespace)
            .ok_or_else(|| format!("cannot parse the filter {filter}"))?;
        let rest = rest.trim_start();
        let (op, value) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        let op = op.to_ascii_lowercase();
        let path = attribute_path(attr);
        if attr.contains('[') || !CHARACTERISTICS.known.contains(&path) {
            return Err(format!("filtering on {attr} is not supported"));
        }
        let value = value.trim();
        let value = match op.as_str() {
            "pr" if value.is_empty() => Value::Null,
            "eq" | "ne" | "co" | "sw" | "ew" | "gt" | "ge" | "lt" | "le" => {
                let v: Value = serde_json::from_str(value)
                    .map_err(|_| format!("cannot parse the value in the filter {filter}"))?;
                if v.is_array() || v.is_object() {
                    return Err(format!("the filter value must be a scalar: {filter}"));
                }
                v
            }
            _ => return Err(format!("the filter {filter} is not supported")),
        };
        Ok(Filter { path, op, value })
    }

    fn matches(&self, resource: &Value) -> bool {
        let mut found = Vec::new();
        values_at(resource, &self.path, &mut found);
        // A complex attribute without a sub-attribute compares its `value` (RFC 7644 §3.4.2.2).
        let found: Vec<&Value> = found
            .into_iter()
            .map(|v| if v.is_object() { &v["value"] } else { v })
            .filter(|v| !v.is_null())
            .collect();
        if self.op == "pr" {
            return found.iter().any(|v| v.as_str() != Some(""));
        }
        let exact = matches!(
            self.path.iter().map(String::as_str).collect::<Vec<_>>()[..],
            ["id"] | ["externalid"] | ["members", "value"] | ["members"]
        );
        let any = |op: &str| {
            found.iter().any(|a| match (a, &self.value) {
                (Value::String(a), Value::String(v)) => {
                    let (a, v) = if exact {
                        (a.clone(), v.clone())
                    } else {
                        (a.to_lowercase(), v.to_lowercase())
                    };
                    match op {
                        "eq" => a == v,
                        "co" => a.contains(&v),
                        "sw" => a.starts_with(&v),
                        "ew" => a.ends_with(&v),
                        "gt" => a > v,
                        "ge" => a >= v,
                        "lt" => a < v,
                        "le" => a <= v,
                        _ => false,
                    }
                }
                (Value::Number(a), Value::Number(v)) => {
                    let (a, v) = (a.as_f64().unwrap_or(0.0), v.as_f64().unwrap_or(0.0));
                    match op {
                        "eq" => a == v,
                        "gt" => a > v,
                        "ge" => a >= v,
                        "lt" => a < v,
                        "le" => a <= v,
                        _ => false,
                    }
                }
                (a, v) => op == "eq" && *a == v,
            })
        };
        match self.op.as_str() {
            "ne" => !any("eq"),
            op => any(op),
        }
    }
}

/// Every value at `path` in `value` (keys case-insensitive, through multi-valued attributes).
fn values_at<'a>(value: &'a Value, path: &[String], out: &mut Vec<&'a Value>) {
    match (value, path.split_first()) {
        (Value::Array(items), _) => {
            for i in items {
                values_at(i, path, out);
            }
        }
        (v, None) => out.push(v),
        (Value::Object(obj), Some((first, rest))) => {
            if let Some((_, child)) = obj.iter().find(|(k, _)| k.to_lowercase() == *first) {
                values_at(child, rest, out);
            }
        }
        _ => {}
    }
}

/// A listing's parameters (RFC 7644 §3.4.2).
#[derive(Debug, Default)]
struct ListQuery {
    filter: Option<String>,
    start: i64,
    count: Option<i64>,
    projection: Projection,
}

impl ListQuery {
    fn from_params(q: &HashMap<String, String>) -> ListQuery {
        let num = |k: &str| q.get(k).and_then(|v| v.trim().parse::<i64>().ok());
        ListQuery {
            filter: q.get("filter").cloned(),
            start: num("startIndex").unwrap_or(1),
            count: num("count"),
            projection: Projection::from_params(q),
        }
    }

    fn from_search(body: &Value) -> ListQuery {
        let num = |k: &str| {
            body[k]
                .as_i64()
                .or_else(|| body[k].as_str().and_then(|v| v.trim().parse().ok()))
        };
        ListQuery {
            filter: body["filter"].as_str().map(str::to_owned),
            start: num("startIndex").unwrap_or(1),
            count: num("count"),
            projection: Projection::from_search(body),
        }
    }
}

fn list(emu: &Emulator, kinds: &[Kind], q: &ListQuery, headers: &HeaderMap) -> Response {
    let filter = match q.filter.as_deref().map(Filter::parse).transpose() {
        Ok(f) => f,
        Err(e) => return fail_typed(StatusCode::BAD_REQUEST, "invalidFilter", &e),
    };
    let data = lock(emu);
    let found: Vec<&Value> = kinds
        .iter()
        .flat_map(|k| data.resources(*k).values())
        .filter(|r| filter.as_ref().is_none_or(|f| f.matches(r)))
        .collect();
    // RFC 7644 §3.4.2.4: startIndex below 1 is 1, a negative count is 0.
    let start = usize::try_from(q.start.max(1)).unwrap_or(1);
    let count = q
        .count
        .map_or(MAX_RESULTS, |c| usize::try_from(c.max(0)).unwrap_or(0))
        .min(MAX_RESULTS);
    let total = found.len();
    let base = base_url(headers);
    let mut page: Vec<Value> = found
        .into_iter()
        .skip(start - 1)
        .take(count)
        .map(|r| q.projection.render(r, &base))
        .collect();
    let items = page.len();
    if items > 1 && emu.gate.cut_this_page() {
        page.truncate(items / 2);
    }
    // `itemsPerPage` keeps what the page should hold: a cut page shows as one.
    list_response(page, total, start, items)
}

fn json_body(body: &Bytes) -> Result<Value, Box<Response>> {
    serde_json::from_slice(body).map_err(|e| {
        Box::new(fail_typed(
            StatusCode::BAD_REQUEST,
            "invalidSyntax",
            &format!("the request body is not JSON: {e}"),
        ))
    })
}

/// `POST /.search` (RFC 7644 §3.4.3): Users and Groups at once.
async fn search_all(s: Shared, h: HeaderMap, b: Bytes) -> Response {
    search(&s, &[Kind::User, Kind::Group], &h, &b)
}

fn search(emu: &Emulator, kinds: &[Kind], headers: &HeaderMap, body: &Bytes) -> Response {
    match json_body(body) {
        Ok(b) => list(emu, kinds, &ListQuery::from_search(&b), headers),
        Err(r) => *r,
    }
}

/// The body of a create or a replace, without what the server owns (`id`, `meta`, a User's
/// `groups`: RFC 7643 §3.1, readOnly), checked for the required attributes.
fn writable(kind: Kind, body: &Bytes) -> Result<Map<String, Value>, Box<Response>> {
    let Value::Object(mut obj) = json_body(body)? else {
        return Err(Box::new(fail_typed(
            StatusCode::BAD_REQUEST,
            "invalidSyntax",
            "the request body must be a JSON object",
        )));
    };
    obj.retain(|k, _| {
        let k = k.to_lowercase();
        k != "id" && k != "meta" && !(kind == Kind::User && k == "groups")
    });
    let required = match kind {
        Kind::User => "userName",
        Kind::Group => "displayName",
    };
    if obj
        .get(required)
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(Box::new(fail_typed(
            StatusCode::BAD_REQUEST,
            "invalidValue",
            &format!("{required} is required"),
        )));
    }
    Ok(obj)
}

fn taken(name: &str) -> Response {
    fail_typed(
        StatusCode::CONFLICT,
        "uniqueness",
        &format!("userName {name} is taken"),
    )
}

fn create(
    emu: &Emulator,
    kind: Kind,
    headers: &HeaderMap,
    projection: &Projection,
    body: &Bytes,
) -> Response {
    let obj = match writable(kind, body) {
        Ok(o) => o,
        Err(r) => return *r,
    };
    let mut data = lock(emu);
    data.creates_received += 1;
    if kind == Kind::User
        && let Some(name) = obj["userName"].as_str()
        && data.user_name_taken(name, None)
    {
        return taken(name);
    }
    let mut resource = Value::Object(obj);
    normalize_schemas(&mut resource, kind);
    let id = match kind {
        Kind::User => data.insert_user(resource),
        Kind::Group => data.insert_group(resource),
    };
    resource_response(
        StatusCode::CREATED,
        &data.resources(kind)[&id],
        headers,
        projection,
    )
}

fn get_one(
    emu: &Emulator,
    kind: Kind,
    id: &str,
    headers: &HeaderMap,
    projection: &Projection,
) -> Response {
    let data = lock(emu);
    let Some(r) = data.resources(kind).get(id) else {
        return missing(kind, id);
    };
    if let Some(tag) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        && r["meta"]["version"]
            .as_str()
            .is_some_and(|v| tag == "*" || tag.split(',').any(|t| t.trim() == v))
    {
        let mut not_modified = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(v) = HeaderValue::from_str(r["meta"]["version"].as_str().unwrap_or_default()) {
            not_modified.headers_mut().insert(header::ETAG, v);
        }
        return not_modified;
    }
    resource_response(StatusCode::OK, r, headers, projection)
}

fn missing(kind: Kind, id: &str) -> Response {
    fail(
        StatusCode::NOT_FOUND,
        &format!("{} {id} not found", kind.name()),
    )
}

/// `If-Match` (RFC 7644 §3.14): 412 when it names another version.
fn precondition(headers: &HeaderMap, current: &Value) -> Result<(), Box<Response>> {
    match headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) {
        Some(expected)
            if expected != "*"
                && !current["meta"]["version"]
                    .as_str()
                    .is_some_and(|v| expected.split(',').any(|t| t.trim() == v)) =>
        {
            Err(Box::new(fail_typed(
                StatusCode::PRECONDITION_FAILED,
                "invalidVers",
                "the resource has changed",
            )))
        }
        _ => Ok(()),
    }
}

fn delete_one(emu: &Emulator, kind: Kind, id: &str, headers: &HeaderMap) -> Response {
    let mut data = lock(emu);
    let Some(current) = data.resources(kind).get(id) else {
        return missing(kind, id);
    };
    if let Err(r) = precondition(headers, current) {
        return *r;
    }
    data.resources_mut(kind).remove(id);
    StatusCode::NO_CONTENT.into_response()
}

/// `PUT` (RFC 7644 §3.5.1): the resource's attributes are replaced by the body's; `id`,
/// `meta` and `created` stay.
fn replace(
    emu: &Emulator,
    kind: Kind,
    id: &str,
    headers: &HeaderMap,
    projection: &Projection,
    body: &Bytes,
) -> Response {
    let obj = match writable(kind, body) {
        Ok(o) => o,
        Err(r) => return *r,
    };
    let mut data = lock(emu);
    let Some(current) = data.resources(kind).get(id).cloned() else {
        return missing(kind, id);
    };
    if let Err(r) = precondition(headers, &current) {
        return *r;
    }
    if kind == Kind::User
        && let Some(name) = obj["userName"].as_str()
        && data.user_name_taken(name, Some(id))
    {
        return taken(name);
    }
    let mut resource = Value::Object(obj);
    if kind == Kind::User && !current["groups"].is_null() {
        resource["groups"] = current["groups"].clone();
    }
    resource["meta"] = current["meta"].clone();
    normalize_schemas(&mut resource, kind);
    data.stamp(&mut resource, kind.name(), id, false);
    data.resources_mut(kind).insert(id.to_owned(), resource);
    resource_response(
        StatusCode::OK,
        &data.resources(kind)[id],
        headers,
        projection,
    )
}

fn patch(
    emu: &Emulator,
    kind: Kind,
    id: &str,
    headers: &HeaderMap,
    projection: &Projection,
    body: &Bytes,
) -> Response {
    let body = match json_body(body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let Some(ops) = body["Operations"].as_array() else {
        return fail_typed(
            StatusCode::BAD_REQUEST,
            "invalidSyntax",
            "a PatchOp needs Operations",
        );
    };
    let mut data = lock(emu);
    let Some(current) = data.resources(kind).get(id).cloned() else {
        return missing(kind, id);
    };
    if let Err(r) = precondition(headers, &current) {
        return *r;
    }
    let mut resource = current.clone();
    for op in ops {
        if let Err(e) = apply_op(&mut resource, op) {
            return fail_typed(StatusCode::BAD_REQUEST, "invalidPath", &e);
        }
    }
    // What the server owns stays as it was.
    for owned in ["id", "meta", "groups"] {
        if kind == Kind::Group && owned == "groups" {
            continue;
        }
        match current.get(owned) {
            Some(v) => resource[owned] = v.clone(),
            None => {
                if let Value::Object(o) = &mut resource {
                    o.shift_remove(owned);
                }
            }
        }
    }
    if kind == Kind::User {
        match resource["userName"].as_str() {
            Some(name) if !name.is_empty() => {
                if data.user_name_taken(name, Some(id)) {
                    return taken(name);
                }
            }
            _ => {
                return fail_typed(
                    StatusCode::BAD_REQUEST,
                    "mutability",
                    "userName is required",
                );
            }
        }
    }
    normalize_schemas(&mut resource, kind);
    data.stamp(&mut resource, kind.name(), id, false);
    data.resources_mut(kind).insert(id.to_owned(), resource);
    resource_response(
        StatusCode::OK,
        &data.resources(kind)[id],
        headers,
        projection,
    )
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
            obj.shift_remove(last);
        }
        "add" => match (obj.get_mut(last), value) {
            // A complex attribute gets the sub-attributes added (RFC 7644 §3.5.2.1).
            (Some(Value::Object(existing)), Value::Object(new)) => existing.extend(new),
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
        let u = json!({"userName": "Sanne@Example.com", "externalId": "E1", "active": true,
                       "emails": [{"value": "s@example.com", "primary": true}],
                       ENTERPRISE: {"employeeNumber": "7"}});
        let matches = |f: &str| Filter::parse(f).map(|f| f.matches(&u));
        assert_eq!(matches("userName eq \"sanne@example.com\""), Ok(true));
        assert_eq!(matches("externalId eq \"E1\""), Ok(true));
        assert_eq!(matches("externalId eq \"e1\""), Ok(false));
        assert_eq!(matches("userName sw \"sanne\""), Ok(true));
        assert_eq!(matches("userName ew \"example.com\""), Ok(true));
        assert_eq!(matches("emails eq \"S@example.com\""), Ok(true));
        assert_eq!(matches("emails.value co \"@example\""), Ok(true));
        assert_eq!(matches("active eq true"), Ok(true));
        assert_eq!(matches("title pr"), Ok(false));
        assert_eq!(matches("title ne \"x\""), Ok(true));
        assert_eq!(
            matches(&format!("{ENTERPRISE}:employeeNumber eq \"7\"")),
            Ok(true)
        );
        assert!(matches("shoeSize eq \"x\"").is_err());
        assert!(matches("emails[type eq \"work\"] pr").is_err());
        assert!(matches("userName eq unquoted").is_err());
    }
}
