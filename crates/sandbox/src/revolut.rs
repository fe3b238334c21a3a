//! A Revolut Business `team-members` emulator, faithful to the documented wire format
//! (`vendor-apis.md`; developer.revolut.com: the Business API's Team members operations and the
//! "Manage team members" guide). What the API has, and only that:
//! - `GET /team-members?limit=N&created_before=ISO`: newest first (`created_at` descending, then
//!   id), `limit` 1–1000 (default 100, else 400), `created_before` strict. Members created in
//!   the same millisecond share a `created_at`, as they do at Revolut.
//! - `POST /team-members {"email","role_id"}` → 201 with `email`, `id`, `role_id`, `created_at`,
//!   `updated_at` (400 for an unknown role — `Invalid role: …`, or `Business role … not found`
//!   for a UUID —, the owner's role, a bad address; 422 for an address already invited);
//!   `DELETE /team-members/{id}` → 204 (404 unknown, 422 `Cannot modify owner`).
//! - `GET /roles?limit=N&created_before=ISO`: paged like the members; each role has `id`,
//!   `name`, `created_at`, `updated_at`. Default roles' ids are lower case as in the documented
//!   example (`owner`, `admin`, `member`, `viewer`), names capitalised (`Owner`, `Member`); a
//!   custom role's id is a UUID. The owner's `role_id` is `owner`.
//! - No role change and no single-member read: the documentation has neither ("if you want to
//!   change it later, you can do so in the Revolut Business app").
//! - A read-only token ([`RevolutData::read_only`]): every write answers 403
//!   `{"code": 9002, "message": "This action is forbidden"}`, as for a token without `WRITE`.
//! - errors `{"code": …, "message": "…"}`, and the shared [`Faults`] in front.
//!
//! Seeded with an owner and foreign members (people no HR system knows), several of them sharing
//! one `created_at`, so that paging has ties to get through.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete as delete_route, get};
use jiff::{Timestamp, Unit};
use serde_json::{Value, json};

use super::serve::{Faults, Gate, Vendor, error, guarded};

/// The base path of the API.
pub const BASE_PATH: &str = "/api/1.0";

/// The owner's role id (as the documented example writes it).
pub const OWNER: &str = "owner";

/// The `Member` role's id.
pub const MEMBER: &str = "member";

/// The id of the custom `Finance` role every emulated business has.
pub const FINANCE_ROLE: &str = "6f1c2b7e-0d4a-4c55-9a3e-1f0b8e7d2c11";

/// One team member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxMember {
    /// Id (a UUID-shaped string).
    pub id: String,
    /// E-mail address.
    pub email: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// `created`, `active`, …
    pub state: String,
    /// Role id.
    pub role_id: String,
    /// Creation time (millisecond precision).
    pub created_at: Timestamp,
}

impl SandboxMember {
    fn to_json(&self) -> Value {
        let at = ms(self.created_at);
        json!({
            "id": self.id,
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "state": self.state,
            "role_id": self.role_id,
            "created_at": at,
            "updated_at": at,
        })
    }
}

fn ms(t: Timestamp) -> String {
    t.round(Unit::Millisecond)
        .unwrap_or(t)
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// The emulator's team and roles.
#[derive(Debug, Clone)]
pub struct RevolutData {
    /// Members by id.
    pub members: BTreeMap<String, SandboxMember>,
    /// Roles: id → name.
    pub roles: BTreeMap<String, String>,
    /// The token may only read (no `WRITE` scope): every write answers 403.
    pub read_only: bool,
    next_id: u64,
    /// Creation time of the next member when a test pins it (ties on purpose).
    pub pinned_now: Option<Timestamp>,
    /// `POST /team-members` requests that reached the handler (accepted or not).
    pub invites_received: u64,
    /// `GET /team-members` (listing) requests that reached the handler.
    pub lists_received: u64,
}

impl Default for RevolutData {
    fn default() -> Self {
        RevolutData::new()
    }
}

impl RevolutData {
    /// A business with the default roles (`owner`, `admin`, `member`, `viewer`), a custom
    /// `Finance` role, and no members.
    pub fn new() -> RevolutData {
        let roles = [
            (OWNER, "Owner"),
            ("admin", "Admin"),
            (MEMBER, "Member"),
            ("viewer", "Viewer"),
            (FINANCE_ROLE, "Finance"),
        ]
        .into_iter()
        .map(|(i, n)| (i.to_owned(), n.to_owned()))
        .collect();
        RevolutData {
            members: BTreeMap::new(),
            roles,
            read_only: false,
            next_id: 1,
            pinned_now: None,
            invites_received: 0,
            lists_received: 0,
        }
    }

    /// The seed: an owner and `foreign` members no HR system knows, in threes sharing one
    /// `created_at`.
    pub fn seeded(foreign: usize) -> RevolutData {
        let mut d = RevolutData::new();
        let base: Timestamp = "2024-03-01T09:00:00.000Z".parse().expect("a timestamp");
        d.add(
            "owner@acme-business.example",
            "Olivia",
            "Owner",
            OWNER,
            base,
        );
        for i in 0..foreign {
            let at = base + jiff::SignedDuration::from_secs(60 * (1 + (i / 3) as i64));
            d.add(
                &format!("contractor{}@external.example", i + 1),
                "Casey",
                &format!("Contractor {}", i + 1),
                MEMBER,
                at,
            );
        }
        d
    }

    /// Adds a member created at `at`; returns its id.
    pub fn add(
        &mut self,
        email: &str,
        first: &str,
        last: &str,
        role: &str,
        at: Timestamp,
    ) -> String {
        let n = self.next_id;
        self.next_id += 1;
        let id = format!("7e1d{n:04x}-0000-4000-8000-{n:012x}");
        self.members.insert(
            id.clone(),
            SandboxMember {
                id: id.clone(),
                email: email.to_owned(),
                first_name: first.to_owned(),
                last_name: last.to_owned(),
                state: "active".to_owned(),
                role_id: role.to_owned(),
                created_at: at.round(Unit::Millisecond).unwrap_or(at),
            },
        );
        id
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// True without members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

/// The emulator's router (under [`BASE_PATH`]), accepting `Bearer <token>`, with `faults`. The
/// data stays reachable through `shared` (for tests).
pub fn router_shared(data: Arc<Mutex<RevolutData>>, token: &str, faults: Faults) -> Router {
    let gate = Arc::new(Gate::new(
        Vendor::Revolut,
        format!("Bearer {token}"),
        faults,
    ));
    let emulator = Arc::new(SharedEmulator {
        data,
        gate: Arc::clone(&gate),
    });
    let api = Router::new()
        .route("/team-members", get(list).post(create))
        .route("/team-members/{id}", delete_route(delete))
        .route("/roles", get(roles))
        .fallback(|| async { error(Vendor::Revolut, StatusCode::NOT_FOUND, "Not found") })
        .with_state(emulator);
    guarded(Router::new().nest(BASE_PATH, api), gate)
}

/// [`router_shared`] for data nobody else holds.
pub fn router(data: RevolutData, token: &str, faults: Faults) -> Router {
    router_shared(Arc::new(Mutex::new(data)), token, faults)
}

struct SharedEmulator {
    data: Arc<Mutex<RevolutData>>,
    gate: Arc<Gate>,
}

type St = State<Arc<SharedEmulator>>;

fn fail(status: StatusCode, message: &str) -> Response {
    error(Vendor::Revolut, status, message)
}

/// `limit` and `created_before` of a listing, or the 400 for bad ones.
fn paging(q: &BTreeMap<String, String>) -> Result<(usize, Option<Timestamp>), Box<Response>> {
    let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
        None => 100,
        Some(Ok(n)) if (1..=1000).contains(&n) => n,
        Some(_) => {
            return Err(Box::new(fail(
                StatusCode::BAD_REQUEST,
                "Parameter limit must be a valid integer in range: [1, 1000].",
            )));
        }
    };
    let before = match q.get("created_before").map(|b| b.parse::<Timestamp>()) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(_)) => {
            return Err(Box::new(fail(
                StatusCode::BAD_REQUEST,
                "created_before must be an ISO 8601 date-time",
            )));
        }
    };
    Ok((limit, before))
}

/// The answer to a write with a read-only token.
fn forbidden() -> Response {
    error_coded(StatusCode::FORBIDDEN, 9002, "This action is forbidden")
}

/// An error with Revolut's own code (the documented examples).
fn error_coded(status: StatusCode, code: u32, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "code": code, "message": message })),
    )
        .into_response()
}

async fn list(State(s): St, Query(q): Query<BTreeMap<String, String>>) -> Response {
    let (limit, before) = match paging(&q) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let mut page: Vec<Value> = {
        let mut d = s.data.lock().unwrap_or_else(|e| e.into_inner());
        d.lists_received += 1;
        let mut members: Vec<&SandboxMember> = d
            .members
            .values()
            .filter(|m| before.is_none_or(|b| m.created_at < b))
            .collect();
        members.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
        members
            .into_iter()
            .take(limit)
            .map(SandboxMember::to_json)
            .collect()
    };
    let items = page.len();
    if items > 1 && s.gate.cut_this_page() {
        page.truncate(items / 2);
    }
    (StatusCode::OK, axum::Json(Value::Array(page))).into_response()
}

async fn create(State(s): St, body: Bytes) -> Response {
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return fail(StatusCode::BAD_REQUEST, "the body is not JSON");
    };
    let email = v.get("email").and_then(Value::as_str).unwrap_or_default();
    let role = v.get("role_id").and_then(Value::as_str).unwrap_or_default();
    if !email.contains('@') || email.trim() != email {
        return fail(StatusCode::BAD_REQUEST, "invalid email address provided");
    }
    let mut d = s.data.lock().unwrap_or_else(|e| e.into_inner());
    d.invites_received += 1;
    if d.read_only {
        return forbidden();
    }
    if !d.roles.contains_key(role) || role == OWNER {
        return if role.len() == 36 && role.matches('-').count() == 4 {
            error_coded(
                StatusCode::BAD_REQUEST,
                3053,
                &format!("Business role {role} not found"),
            )
        } else {
            error_coded(
                StatusCode::BAD_REQUEST,
                3402,
                &format!("Invalid role: {role}"),
            )
        };
    }
    if d.members
        .values()
        .any(|m| m.email.eq_ignore_ascii_case(email))
    {
        return error_coded(
            StatusCode::UNPROCESSABLE_ENTITY,
            33005,
            "Team member with given email has already been invited.",
        );
    }
    let now = d.pinned_now.unwrap_or_else(Timestamp::now);
    let id = d.add(email, "", "", role, now);
    let mut m = d.members[&id].clone();
    m.state = "created".to_owned();
    d.members.insert(id.clone(), m.clone());
    let body = json!({
        "email": m.email,
        "id": m.id,
        "role_id": m.role_id,
        "created_at": ms(m.created_at),
        "updated_at": ms(m.created_at),
    });
    (StatusCode::CREATED, axum::Json(body)).into_response()
}

async fn delete(State(s): St, Path(id): Path<String>) -> Response {
    let mut d = s.data.lock().unwrap_or_else(|e| e.into_inner());
    if d.read_only {
        return forbidden();
    }
    match d.members.get(&id) {
        None => error_coded(StatusCode::NOT_FOUND, 3006, "Resource not found"),
        Some(m) if m.role_id == OWNER => error_coded(
            StatusCode::UNPROCESSABLE_ENTITY,
            3547,
            "Cannot modify owner",
        ),
        Some(_) => {
            d.members.remove(&id);
            StatusCode::NO_CONTENT.into_response()
        }
    }
}

/// When the roles were made: the default ones with the business, custom ones a second later
/// each (in id order), so that listing them newest first is a paging like the members'.
fn role_created_at(d: &RevolutData, id: &str) -> Timestamp {
    let base: Timestamp = "2023-09-07T09:21:12.962Z".parse().expect("a timestamp");
    let default = ["owner", "admin", "member", "viewer"];
    if default.contains(&id) {
        return base;
    }
    let n = d
        .roles
        .keys()
        .filter(|k| !default.contains(&k.as_str()))
        .position(|k| k == id)
        .unwrap_or(0);
    base + jiff::SignedDuration::from_secs(1 + n as i64)
}

async fn roles(State(s): St, Query(q): Query<BTreeMap<String, String>>) -> Response {
    let (limit, before) = match paging(&q) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let d = s.data.lock().unwrap_or_else(|e| e.into_inner());
    let mut roles: Vec<(Timestamp, &String, &String)> = d
        .roles
        .iter()
        .map(|(id, name)| (role_created_at(&d, id), id, name))
        .filter(|(at, _, _)| before.is_none_or(|b| *at < b))
        .collect();
    roles.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    let roles: Vec<Value> = roles
        .into_iter()
        .take(limit)
        .map(|(at, id, name)| {
            json!({ "id": id, "name": name, "created_at": ms(at), "updated_at": ms(at) })
        })
        .collect();
    (StatusCode::OK, axum::Json(Value::Array(roles))).into_response()
}
