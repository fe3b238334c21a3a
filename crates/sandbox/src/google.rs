//! A Google Workspace emulator: the Admin SDK Directory API's `users.list` (`maxResults`,
//! `pageToken`/`nextPageToken`, a search `query` on `externalId`, `email`, `isSuspended` and
//! `isArchived`, Google's user JSON and error bodies), `users.get` (`users/{userKey}`: by id or
//! primary e-mail, a 404 `notFound` otherwise) and `orgunits.list`, behind
//! an OAuth token endpoint that verifies the service account's JWT assertion the way Google
//! does: RS256 signature against the emulator's key, `iss` the service account, `aud` the token
//! URL (`http://<host>/token`), `exp` at most an hour after `iat`, `scope` with the directory
//! read-only scope and `sub` the administrator.
//!
//! The key pair is made at start (or read with `--key-file`); the emulator hands out the key
//! file a configuration needs. Faults, besides the shared ones: `--quota-per-minute N` answers
//! requests over the quota with 403 `userRateLimitExceeded` (no `Retry-After`, as Google);
//! `--quota-403-every N` answers every Nth users request with 403 `quotaExceeded`;
//! `--short-page-every N` cuts every Nth page of users to half and drops its `nextPageToken`
//! (an early end, the one cut a client can mistake for the last page); `--expire-token-after N`
//! refuses each access token after N requests (401), and `--token-lifetime S` sets
//! `expires_in`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde_json::{Value, json};

use super::serve::{
    Credentials, Faults, Gate, TokenCheck, Vendor, echoing, error, google_error_body, guarded,
};
use orgsync_core::model::SourceSnapshot;

/// The grant type of a service account's token request (RFC 7523), as Google's OAuth 2.0 for
/// server-to-server applications documents it.
const JWT_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The read-only directory scope a user listing needs.
const USER_SCOPE: &str = "https://www.googleapis.com/auth/admin.directory.user.readonly";

/// The claims of a service account's assertion that the token URL checks.
#[derive(Debug, serde::Deserialize)]
struct Claims {
    /// Space-separated scopes.
    scope: String,
    /// The administrator acted for.
    sub: String,
    /// Issued at (Unix seconds).
    iat: u64,
    /// Expires (Unix seconds).
    exp: u64,
}

/// The administrator the emulator lets the service account act for.
pub const ADMIN: &str = "admin@example.com";
/// The service account's e-mail.
pub const CLIENT_EMAIL: &str = "orgsync@orgsync-sandbox.iam.gserviceaccount.com";

/// The emulator's service account key pair.
#[derive(Clone)]
pub struct SandboxKey {
    /// PKCS#8 PEM private key (what the key file holds).
    pub private_pem: String,
    /// PKCS#1 DER public key (what the token endpoint verifies with).
    public_der: Vec<u8>,
    /// The key's id.
    pub key_id: String,
}

impl std::fmt::Debug for SandboxKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl SandboxKey {
    /// A fresh 2048-bit RSA key pair (no network).
    pub fn generate() -> SandboxKey {
        use rsa::Generate as _;
        let key = rsa::PrivateKey::generate();
        SandboxKey::from_private(&key)
    }

    fn from_private(key: &rsa::PrivateKey) -> SandboxKey {
        use rsa::pkcs1::EncodeRsaPublicKey as _;
        use rsa::pkcs8::EncodePrivateKey as _;
        let private_pem = key
            .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
            .map(|p| p.to_string())
            .unwrap_or_default();
        let public_der = key
            .to_public_key()
            .to_pkcs1_der()
            .map(|d| d.as_bytes().to_vec())
            .unwrap_or_default();
        let digest = <sha2::Sha256 as sha2::Digest>::digest(&public_der);
        SandboxKey {
            private_pem,
            public_der,
            key_id: hex::encode(&digest[..20]),
        }
    }

    /// The key from a service account key file's JSON (`--key-file`).
    pub fn from_json(text: &str) -> Result<SandboxKey, String> {
        use rsa::pkcs8::DecodePrivateKey as _;
        let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let pem = v["private_key"]
            .as_str()
            .ok_or("the key file has no private_key")?;
        let key = rsa::PrivateKey::from_pkcs8_pem(pem)
            .map_err(|_| "private_key is not a PKCS#8 RSA key".to_owned())?;
        let mut out = SandboxKey::from_private(&key);
        if let Some(id) = v["private_key_id"].as_str() {
            out.key_id = id.to_owned();
        }
        Ok(out)
    }

    /// One key for a whole test process: making one takes a moment.
    pub fn shared() -> &'static SandboxKey {
        static KEY: std::sync::LazyLock<SandboxKey> =
            std::sync::LazyLock::new(SandboxKey::generate);
        &KEY
    }

    /// The service account key file's JSON, naming `token_uri`.
    pub fn key_file(&self, token_uri: &str) -> String {
        let v = json!({
            "type": "service_account",
            "project_id": "orgsync-sandbox",
            "private_key_id": self.key_id,
            "private_key": self.private_pem,
            "client_email": CLIENT_EMAIL,
            "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
        });
        serde_json::to_string_pretty(&v).unwrap_or_default()
    }
}

/// Google-specific faults and settings of `sandbox google`.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct GoogleFaults {
    /// The Directory API quota: queries per minute (0: none). Over it: 403 userRateLimitExceeded.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub quota_per_minute: u32,
    /// Answer every Nth users request with 403 quotaExceeded.
    #[arg(long, value_name = "N")]
    pub quota_403_every: Option<u64>,
    /// `expires_in` of the access tokens, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    pub token_lifetime: u64,
}

impl Default for GoogleFaults {
    fn default() -> Self {
        GoogleFaults {
            quota_per_minute: 0,
            quota_403_every: None,
            token_lifetime: 3600,
        }
    }
}

/// What the emulator serves: Directory API users and org units.
#[derive(Debug, Clone, Default)]
pub struct GoogleData {
    /// Users as the API returns them.
    pub users: Vec<Value>,
    /// Org units (`orgUnitPath`, `name`, `parentOrgUnitPath`, `orgUnitId`).
    pub org_units: Vec<Value>,
}

/// The org unit path of a community name.
pub fn org_unit_path(name: &str) -> String {
    format!("/Locations/{name}")
}

impl GoogleData {
    /// The people of `source` as Google users on `today`: each in the org unit
    /// `/Locations/<community name>` of their current (or else latest) employment, the function's
    /// name as the title, the department's name, the employee number in `externalIds`
    /// (`organization`), the manager as a relation by e-mail; people whose employments have all
    /// ended are suspended (leavers stay in Google for a while).
    pub fn from_snapshot(source: &SourceSnapshot, today: jiff::civil::Date) -> GoogleData {
        let name = |groups: &[orgsync_core::model::SourceGroup], id: &str| {
            groups
                .iter()
                .find(|g| g.id == id)
                .map_or_else(|| id.to_owned(), |g| g.name.clone())
        };
        let emails: HashMap<&str, &str> = source
            .persons
            .iter()
            .filter_map(|p| Some((p.id.as_str(), p.email.as_deref()?)))
            .collect();
        let mut units: Vec<String> = Vec::new();
        let mut users = Vec::with_capacity(source.persons.len());
        for (i, p) in source.persons.iter().enumerate() {
            let current = p
                .employments
                .iter()
                .find(|e| e.is_current(today))
                .or_else(|| p.employments.iter().max_by_key(|e| e.start));
            let left = !p.employments.is_empty()
                && p.employments
                    .iter()
                    .all(|e| e.end.is_some_and(|d| d < today));
            let unit = current
                .and_then(|e| e.community.as_deref())
                .map(|c| org_unit_path(&name(&source.communities, c)))
                .unwrap_or_else(|| "/".to_owned());
            if unit != "/" && !units.contains(&unit) {
                units.push(unit.clone());
            }
            let mut org = serde_json::Map::new();
            org.insert("primary".into(), json!(true));
            org.insert("customType".into(), json!(""));
            if let Some(f) = current.and_then(|e| e.function.as_deref()) {
                org.insert("title".into(), json!(name(&source.functions, f)));
            }
            if let Some(d) = current.and_then(|e| e.department.as_deref()) {
                org.insert("department".into(), json!(name(&source.departments, d)));
            }
            if let Some(c) = current.and_then(|e| e.community.as_deref()) {
                org.insert("location".into(), json!(name(&source.communities, c)));
            }
            let mut user = json!({
                "kind": "admin#directory#user",
                "id": format!("1{:020}", 1_000_003 * (i as u64 + 1)),
                "primaryEmail": p.email,
                "name": {
                    "givenName": p.first_name,
                    "familyName": p.last_name,
                    "fullName": format!("{} {}", p.first_name, p.last_name),
                },
                "isAdmin": false,
                "suspended": left,
                "archived": false,
                "orgUnitPath": unit,
                "externalIds": [{ "value": p.id, "type": "organization" }],
                "organizations": [Value::Object(org)],
            });
            if let Some(m) = p.manager.as_deref().and_then(|m| emails.get(m)) {
                user["relations"] = json!([{ "value": m, "type": "manager" }]);
            }
            users.push(user);
        }
        let mut org_units = vec![json!({
            "kind": "admin#directory#orgUnit", "name": "Locations", "orgUnitPath": "/Locations",
            "orgUnitId": "id:03ph8a2z0locations", "parentOrgUnitPath": "/",
        })];
        for (i, u) in units.iter().enumerate() {
            org_units.push(json!({
                "kind": "admin#directory#orgUnit",
                "name": u.trim_start_matches("/Locations/"),
                "orgUnitPath": u,
                "orgUnitId": format!("id:03ph8a2z{i:06}"),
                "parentOrgUnitPath": "/Locations",
            }));
        }
        GoogleData { users, org_units }
    }
}

struct Issued {
    expires: Instant,
    uses: u64,
}

struct Emulator {
    data: GoogleData,
    key: jsonwebtoken::DecodingKey,
    key_id: String,
    tokens: Arc<Mutex<HashMap<String, Issued>>>,
    google: GoogleFaults,
    quota: Option<DefaultDirectRateLimiter>,
    user_requests: AtomicU64,
    grants: AtomicU64,
    gate: Arc<Gate>,
    secret: u64,
    credentials: Credentials,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The emulator's routes: `POST /token`, and under `/admin/directory/v1` the users and org units.
pub fn router(data: GoogleData, key: &SandboxKey, faults: Faults, google: GoogleFaults) -> Router {
    router_with_credentials(data, key, faults, google, Credentials::default())
}

/// [`router`], keeping in `credentials` every assertion the token URL is sent (valid or not)
/// and every access token it issues.
pub fn router_with_credentials(
    data: GoogleData,
    key: &SandboxKey,
    faults: Faults,
    google: GoogleFaults,
    credentials: Credentials,
) -> Router {
    let token_faults = faults.clone();
    let tokens: Arc<Mutex<HashMap<String, Issued>>> = Arc::default();
    let expire_after = faults.expire_token_after;
    let book = Arc::clone(&tokens);
    let check: TokenCheck = Arc::new(move |presented: Option<&str>| {
        let Some(token) = presented.and_then(|h| h.strip_prefix("Bearer ")) else {
            return Err("Request is missing required authentication credential".to_owned());
        };
        let mut book = lock(&book);
        let Some(issued) = book.get_mut(token) else {
            return Err("Request had invalid authentication credentials".to_owned());
        };
        issued.uses += 1;
        if Instant::now() >= issued.expires || expire_after.is_some_and(|n| issued.uses > n) {
            return Err(
                "Request had invalid authentication credentials: the access token expired"
                    .to_owned(),
            );
        }
        Ok(())
    });
    let gate = Arc::new(Gate::with_check(Vendor::Google, check, faults));
    let quota = std::num::NonZeroU32::new(google.quota_per_minute).map(|n| {
        let burst = std::num::NonZeroU32::new((n.get() / 60).max(1)).unwrap_or(n);
        RateLimiter::direct(Quota::per_minute(n).allow_burst(burst))
    });
    let secret = fastrand::u64(..);
    let state = Arc::new(Emulator {
        data,
        key: jsonwebtoken::DecodingKey::from_rsa_der(&key.public_der),
        key_id: key.key_id.clone(),
        tokens,
        google,
        quota,
        user_requests: AtomicU64::new(0),
        grants: AtomicU64::new(0),
        gate: Arc::clone(&gate),
        secret,
        credentials,
    });
    let api = Router::new()
        .route("/admin/directory/v1/users", get(list_users))
        .route("/admin/directory/v1/users/{user_key}", get(get_user))
        .route(
            "/admin/directory/v1/customer/{customer}/orgunits",
            get(list_org_units),
        )
        .with_state(Arc::clone(&state));
    let grant = Router::new().route("/token", post(token)).with_state(state);
    echoing(grant, Vendor::Google, &token_faults).merge(guarded(api, gate))
}

type Shared = State<Arc<Emulator>>;

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

async fn token(
    State(emu): Shared,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if form.get("grant_type").map(String::as_str) != Some(JWT_GRANT) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Invalid grant_type",
        );
    }
    let Some(assertion) = form.get("assertion") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing assertion",
        );
    };
    lock(&emu.credentials).push(assertion.clone());
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let audience = format!("http://{host}/token");
    let header = match jsonwebtoken::decode_header(assertion) {
        Ok(h) => h,
        Err(_) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Invalid JWT"),
    };
    if header.alg != jsonwebtoken::Algorithm::RS256 {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid JWT: the algorithm must be RS256",
        );
    }
    if header.kid.as_deref().is_some_and(|k| k != emu.key_id) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid JWT Signature: unknown key id",
        );
    }
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[audience.as_str()]);
    validation.set_issuer(&[CLIENT_EMAIL]);
    validation.set_required_spec_claims(&["exp", "iat", "aud", "iss", "sub"]);
    let claims = match jsonwebtoken::decode::<Claims>(assertion, &emu.key, &validation) {
        Ok(d) => d.claims,
        Err(e) => {
            use jsonwebtoken::errors::ErrorKind;
            let why = match e.kind() {
                ErrorKind::InvalidSignature => "Invalid JWT Signature.",
                ErrorKind::InvalidAudience => "Invalid JWT: the audience is not this token URL",
                ErrorKind::InvalidIssuer => "Invalid JWT: unknown service account",
                ErrorKind::ExpiredSignature => "Invalid JWT: Token must be a short-lived token",
                _ => "Invalid JWT",
            };
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", why);
        }
    };
    if claims.exp < claims.iat || claims.exp - claims.iat > 3600 {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe",
        );
    }
    if !claims.scope.split(' ').any(|s| s == USER_SCOPE) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "The directory read-only scope was not requested",
        );
    }
    if !claims.sub.eq_ignore_ascii_case(ADMIN) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.",
        );
    }
    let n = emu.grants.fetch_add(1, Ordering::Relaxed) + 1;
    let access = format!("ya29.sandbox-{n}-{:016x}", fastrand::u64(..));
    lock(&emu.credentials).push(access.clone());
    let lifetime = emu.google.token_lifetime;
    lock(&emu.tokens).insert(
        access.clone(),
        Issued {
            expires: Instant::now() + Duration::from_secs(lifetime),
            uses: 0,
        },
    );
    axum::Json(json!({ "access_token": access, "expires_in": lifetime, "token_type": "Bearer" }))
        .into_response()
}

fn google_error(status: StatusCode, reason: &str, message: &str) -> Response {
    (
        status,
        axum::Json(google_error_body(status, reason, message)),
    )
        .into_response()
}

fn over_quota(emu: &Emulator) -> Option<Response> {
    if let Some(q) = &emu.quota
        && q.check().is_err()
    {
        return Some(google_error(
            StatusCode::FORBIDDEN,
            "userRateLimitExceeded",
            "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user'",
        ));
    }
    None
}

/// `o<offset>.<check>`, base64url: opaque to clients, and checked.
fn page_token(emu: &Emulator, offset: usize) -> String {
    let check = (offset as u64 ^ emu.secret).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("o{offset}.{check:x}"))
}

fn read_page_token(emu: &Emulator, token: &str) -> Option<usize> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (offset, _) = text.strip_prefix('o')?.split_once('.')?;
    let offset: usize = offset.parse().ok()?;
    (page_token(emu, offset) == token).then_some(offset)
}

async fn list_users(State(emu): Shared, Query(q): Query<HashMap<String, String>>) -> Response {
    if let Some(r) = over_quota(&emu) {
        return r;
    }
    let n = emu.user_requests.fetch_add(1, Ordering::Relaxed) + 1;
    if emu
        .google
        .quota_403_every
        .is_some_and(|k| k > 0 && n.is_multiple_of(k))
    {
        return google_error(
            StatusCode::FORBIDDEN,
            "quotaExceeded",
            "Quota exceeded for quota group 'default'",
        );
    }
    if !q.contains_key("customer") && !q.contains_key("domain") {
        return google_error(StatusCode::BAD_REQUEST, "badRequest", "Bad Request");
    }
    let max = match q.get("maxResults").map(|m| m.parse::<usize>()) {
        None => 100,
        Some(Ok(m)) if (1..=500).contains(&m) => m,
        Some(_) => {
            return google_error(
                StatusCode::BAD_REQUEST,
                "invalid",
                "Invalid Input: maxResults",
            );
        }
    };
    let offset = match q.get("pageToken") {
        None => 0,
        Some(t) => match read_page_token(&emu, t) {
            Some(o) => o,
            None => {
                return google_error(
                    StatusCode::BAD_REQUEST,
                    "invalid",
                    "Invalid Input: pageToken",
                );
            }
        },
    };
    let matching: Vec<&Value> = match q.get("query").map(|query| Search::parse(query)) {
        None => emu.data.users.iter().collect(),
        Some(Ok(search)) => emu
            .data
            .users
            .iter()
            .filter(|u| search.matches(u))
            .collect(),
        Some(Err(())) => {
            return google_error(StatusCode::BAD_REQUEST, "invalid", "Invalid Input: query");
        }
    };
    let end = (offset + max).min(matching.len());
    let mut users: Vec<&Value> = matching.get(offset..end).unwrap_or(&[]).to_vec();
    let mut next = (end < matching.len()).then(|| page_token(&emu, end));
    if !users.is_empty() && emu.gate.cut_this_page() {
        users.truncate(users.len() / 2);
        next = None;
    }
    let mut body =
        json!({ "kind": "admin#directory#users", "etag": "\"sandbox\"", "users": users });
    if let Some(next) = next {
        body["nextPageToken"] = json!(next);
    }
    axum::Json(body).into_response()
}

/// `users.get`: the user whose id or primary e-mail (case aside) is `user_key`.
async fn get_user(
    State(emu): Shared,
    axum::extract::Path(user_key): axum::extract::Path<String>,
) -> Response {
    if let Some(r) = over_quota(&emu) {
        return r;
    }
    let found = emu.data.users.iter().find(|u| {
        u["id"].as_str() == Some(user_key.as_str())
            || u["primaryEmail"]
                .as_str()
                .is_some_and(|e| e.eq_ignore_ascii_case(&user_key))
    });
    match found {
        Some(u) => axum::Json(u).into_response(),
        None => google_error(
            StatusCode::NOT_FOUND,
            "notFound",
            "Resource Not Found: userKey",
        ),
    }
}

/// A `users.list` search: clauses separated by spaces, all of which must hold, each
/// `field=value` (exact) or `field:value` (contains), the value bare or single-quoted with `\'`
/// and `\\` escapes, as Google's "Search for users" guide writes them. The fields the emulator
/// knows: `externalId` (any of the user's external ids), `email` (the primary e-mail),
/// `isSuspended`, `isArchived`; text compares without regard to case [I]. Another field is a
/// 400, as an invalid query is at Google.
#[derive(Debug)]
struct Search {
    clauses: Vec<(String, char, String)>,
}

impl Search {
    fn parse(query: &str) -> Result<Search, ()> {
        let mut clauses = Vec::new();
        let mut chars = query.trim().chars().peekable();
        while chars.peek().is_some() {
            let mut field = String::new();
            let op = loop {
                match chars.next() {
                    Some(c @ ('=' | ':')) => break c,
                    Some(c) if c.is_alphanumeric() => field.push(c),
                    _ => return Err(()),
                }
            };
            let mut value = String::new();
            if chars.peek() == Some(&'\'') {
                chars.next();
                loop {
                    match chars.next() {
                        Some('\\') => value.push(chars.next().ok_or(())?),
                        Some('\'') => break,
                        Some(c) => value.push(c),
                        None => return Err(()),
                    }
                }
            } else {
                while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                    value.push(c);
                }
            }
            if !["externalId", "email", "isSuspended", "isArchived"].contains(&field.as_str()) {
                return Err(());
            }
            clauses.push((field, op, value.to_lowercase()));
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
        }
        Ok(Search { clauses })
    }

    fn matches(&self, user: &Value) -> bool {
        self.clauses.iter().all(|(field, op, value)| {
            let holds = |text: &str| {
                let text = text.to_lowercase();
                if *op == '=' {
                    text == *value
                } else {
                    text.contains(value.as_str())
                }
            };
            match field.as_str() {
                "externalId" => user["externalIds"]
                    .as_array()
                    .is_some_and(|ids| ids.iter().any(|x| x["value"].as_str().is_some_and(holds))),
                "email" => user["primaryEmail"].as_str().is_some_and(holds),
                "isSuspended" => holds(&user["suspended"].as_bool().unwrap_or(false).to_string()),
                "isArchived" => holds(&user["archived"].as_bool().unwrap_or(false).to_string()),
                _ => false,
            }
        })
    }
}

async fn list_org_units(
    State(emu): Shared,
    axum::extract::Path(customer): axum::extract::Path<String>,
) -> Response {
    if let Some(r) = over_quota(&emu) {
        return r;
    }
    if customer != "my_customer" && customer != "C0sandbox" {
        return error(
            Vendor::Google,
            StatusCode::NOT_FOUND,
            "Resource Not Found: customer",
        );
    }
    axum::Json(json!({
        "kind": "admin#directory#orgUnits",
        "etag": "\"sandbox\"",
        "organizationUnits": emu.data.org_units,
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_match_external_ids_and_e_mails_exactly_or_in_part() {
        let user = json!({
            "primaryEmail": "Anna.de.Vries@example.com",
            "suspended": true,
            "externalIds": [{ "value": "100 001", "type": "organization" }],
        });
        let finds = |q: &str| Search::parse(q).unwrap().matches(&user);
        assert!(finds("externalId='100 001'"));
        assert!(!finds("externalId=100"));
        assert!(finds("externalId:100"));
        assert!(finds("email=anna.de.vries@example.com isSuspended=true"));
        assert!(!finds("email=anna.de.vries@example.com isSuspended=false"));
        assert!(Search::parse("externalId='it\\'s'").unwrap().clauses[0].2 == "it's");
        assert!(Search::parse("orgTitle=Chef").is_err());
        assert!(Search::parse("externalId='open").is_err());
    }
}
