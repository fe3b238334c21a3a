//! The `google` source: people from Google Workspace (Admin SDK Directory API), read with a
//! service account.
//!
//! - Auth: the service account signs a JWT (RS256; `iss` its e-mail, `scope` the read-only
//!   directory scopes, `aud` the token URL, `sub` the administrator it acts for, `exp` one hour
//!   after `iat`) and exchanges it at the token URL (`grant_type=urn:ietf:params:oauth:grant-
//!   type:jwt-bearer`) for an access token. The token is renewed a minute before it expires,
//!   and once more when the API answers 401 anyway (revoked, clock skew). The key — the key
//!   file's JSON or its path, from `${env:…}` — is never printed: it is registered with
//!   [`orgsync_core::redact`] and only its `client_email` appears in messages.
//! - Paging: `maxResults` (500) and `nextPageToken`, one page after the other (each page's token
//!   comes with the page before). Google's pages may hold fewer users than asked for while a
//!   `nextPageToken` follows, so a short page is normal; what a client *can* see is a body cut
//!   off mid-answer (a transport error, retried), a body that is not JSON (retried), a user twice
//!   (an error), an invalid page token (400: an error, never a restart from the first page) and
//!   a last page that ended early: a page without `nextPageToken` is read again with the same
//!   token, and a read that goes on (a token, or more users) shows that the first was cut
//!   [I: Google page tokens can be used twice; they are cursors, not one-time tickets].
//! - Quota: requests are paced to `queries_per_minute` (Google's 2,400 per user and project);
//!   403 `userRateLimitExceeded`/`quotaExceeded`/`rateLimitExceeded` and 429 are throttles,
//!   retried with backoff (and `Retry-After`) on the shared client's throttle budget.
//! - Suspended and archived users are leavers: they are left out of the snapshot.
//! - Lookup ([`Source::lookup`]): a person the listing lacked is asked for directly, one
//!   request at a time — `users.get` by Google id, or a search on the external id (and
//!   `users.get` by e-mail for a person known by their e-mail); found only when active.
//! - Manager relations name the manager's e-mail; they are resolved to the manager's person id.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::Kit;
use super::http::{HttpClient, HttpError, HttpSettings};
use super::{ConnectorError, Source};
use orgsync_core::config::{
    GoogleCommunityFrom, GoogleFunctionFrom, GooglePersonId, GoogleSourceConfig,
};
use orgsync_core::model::{Employment, Person, SourceGroup, SourceSnapshot};

/// The default token URL (Google's OAuth 2.0 token endpoint).
pub const DEFAULT_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// The scopes requested: users and org units, read-only.
pub const SCOPES: [&str; 2] = [
    "https://www.googleapis.com/auth/admin.directory.user.readonly",
    "https://www.googleapis.com/auth/admin.directory.orgunit.readonly",
];
/// The grant type of a JWT bearer assertion (RFC 7523).
pub const JWT_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// How long before its expiry a token is renewed.
const RENEW_BEFORE: Duration = Duration::from_secs(60);
/// Most reads of a page that came back without `nextPageToken`, to confirm it is the last.
const CONFIRM_READS: usize = 4;

/// The fields of a service account key file that are used.
#[derive(Clone, Deserialize)]
pub struct ServiceAccountKey {
    /// The service account's e-mail (`iss`).
    pub client_email: String,
    /// The PKCS#8 PEM private key.
    pub private_key: String,
    /// The key's id (the JWT header's `kid`).
    #[serde(default)]
    pub private_key_id: Option<String>,
    /// The token URL the key file names.
    #[serde(default)]
    pub token_uri: Option<String>,
}

impl std::fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .finish_non_exhaustive()
    }
}

/// Reads the key from the secret's value: the key file's JSON, or the path of the key file.
/// Messages never quote the value.
pub fn read_key(value: &str) -> Result<ServiceAccountKey, ConnectorError> {
    let value = value.trim();
    let (text, from) = if value.starts_with('{') {
        (
            value.to_owned(),
            "the JSON in source.credentials".to_owned(),
        )
    } else {
        let text = std::fs::read_to_string(value).map_err(|e| {
            ConnectorError::Config(format!(
                "Google Workspace: cannot read the service account key file that \
                 source.credentials names: {}",
                e.kind()
            ))
        })?;
        orgsync_core::redact::register(&text);
        (text, "the key file source.credentials names".to_owned())
    };
    let key: ServiceAccountKey = serde_json::from_str(&text).map_err(|e| {
        ConnectorError::Config(format!(
            "Google Workspace: {from} is not a service account key (JSON with client_email and \
             private_key): {} at line {}",
            e.classify_str(),
            e.line()
        ))
    })?;
    orgsync_core::redact::register(&key.private_key);
    Ok(key)
}

trait Classify {
    fn classify_str(&self) -> &'static str;
}

impl Classify for serde_json::Error {
    fn classify_str(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "a read error",
            serde_json::error::Category::Syntax => "invalid JSON",
            serde_json::error::Category::Data => "a missing or wrong field",
            serde_json::error::Category::Eof => "JSON cut short",
        }
    }
}

/// The claims of the assertion.
#[derive(Debug, serde::Serialize, Deserialize)]
pub struct Claims {
    /// The service account.
    pub iss: String,
    /// Space-separated scopes.
    pub scope: String,
    /// The token URL.
    pub aud: String,
    /// The administrator acted for.
    pub sub: String,
    /// Issued at (Unix seconds).
    pub iat: u64,
    /// Expires (Unix seconds), at most an hour after `iat`.
    pub exp: u64,
}

/// A signed assertion for `key`, acting for `subject`, for `token_url`, issued at `now`.
pub fn assertion(
    key: &ServiceAccountKey,
    subject: &str,
    token_url: &str,
    now: u64,
) -> Result<String, ConnectorError> {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = key.private_key_id.clone();
    let claims = Claims {
        iss: key.client_email.clone(),
        scope: SCOPES.join(" "),
        aud: token_url.to_owned(),
        sub: subject.to_owned(),
        iat: now,
        exp: now + 3600,
    };
    let signing =
        jsonwebtoken::EncodingKey::from_rsa_pem(key.private_key.as_bytes()).map_err(|_| {
            ConnectorError::Config(format!(
                "Google Workspace: the private_key of service account {} is not an RSA key in PEM",
                key.client_email
            ))
        })?;
    jsonwebtoken::encode(&header, &claims, &signing).map_err(|e| {
        ConnectorError::Config(format!(
            "Google Workspace: cannot sign the assertion: {}",
            orgsync_core::redact::scrub(&e.to_string())
        ))
    })
}

/// A Google error body as a sentence: its message and the first reason.
pub fn describe_error(body: &[u8]) -> Option<String> {
    let e: ErrorBody = serde_json::from_slice(body).ok()?;
    let reason = e.error.errors.first().map(|r| r.reason.as_str());
    Some(match reason {
        Some(r) if !r.is_empty() => format!("{} ({r})", e.error.message),
        _ => e.error.message,
    })
}

/// OAuth 2.0 error bodies of the token URL: `{"error": "invalid_grant", "error_description":
/// "Invalid JWT Signature."}` (RFC 6749 §5.2).
pub fn oauth_error(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct OAuthError {
        error: String,
        #[serde(default)]
        error_description: String,
    }
    let e: OAuthError = serde_json::from_slice(body).ok()?;
    Some(
        format!("{} {}", e.error, e.error_description)
            .trim_end()
            .to_owned(),
    )
}

/// Quota errors: 403 with reason `userRateLimitExceeded`, `quotaExceeded` or
/// `rateLimitExceeded` are throttles (Google's "slow down"), not refusals.
pub fn quota_error(status: reqwest::StatusCode, body: &[u8]) -> bool {
    if status != reqwest::StatusCode::FORBIDDEN {
        return false;
    }
    serde_json::from_slice::<ErrorBody>(body).is_ok_and(|e| {
        e.error.errors.iter().any(|r| {
            matches!(
                r.reason.as_str(),
                "userRateLimitExceeded" | "quotaExceeded" | "rateLimitExceeded"
            )
        })
    })
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    message: String,
    #[serde(default)]
    errors: Vec<ErrorReason>,
}

#[derive(Deserialize)]
struct ErrorReason {
    #[serde(default)]
    reason: String,
}

/// A Directory API user (the fields orgsync reads).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct User {
    /// Google's id.
    pub id: String,
    /// The primary e-mail address.
    pub primary_email: String,
    /// Names.
    pub name: UserName,
    /// Suspended: a leaver.
    pub suspended: bool,
    /// Archived: a leaver.
    pub archived: bool,
    /// `/` is the root.
    pub org_unit_path: String,
    /// Employee numbers and other ids.
    pub external_ids: Vec<TypedValue>,
    /// Job data; the `primary` one (or the first) is used.
    pub organizations: Vec<Organization>,
    /// Relations; `type: manager` names the manager's e-mail.
    pub relations: Vec<TypedValue>,
}

/// `name`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UserName {
    /// First name.
    pub given_name: String,
    /// Last name.
    pub family_name: String,
}

/// `{value, type, customType}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TypedValue {
    /// The value.
    pub value: String,
    /// The type (`organization`, `manager`, `custom`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// With `type: custom`, its name.
    pub custom_type: Option<String>,
}

/// `organizations[]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Organization {
    /// Job title.
    pub title: Option<String>,
    /// Department.
    pub department: Option<String>,
    /// Location.
    pub location: Option<String>,
    /// The primary organization.
    pub primary: bool,
}

/// An org unit: its path and name.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OrgUnit {
    /// `/Stores/Amsterdam`.
    pub org_unit_path: String,
    /// `Amsterdam`.
    pub name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsersPage {
    #[serde(default)]
    users: Vec<User>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrgUnitsPage {
    #[serde(default)]
    organization_units: Vec<OrgUnit>,
}

/// Builds the snapshot from the users and org units as the API sent them (pure: no I/O).
pub fn snapshot(
    cfg: &GoogleSourceConfig,
    users: &[User],
    org_units: &[OrgUnit],
) -> Result<SourceSnapshot, String> {
    let globs: Vec<globset::GlobMatcher> = cfg
        .org_units
        .iter()
        .map(|g| {
            globset::GlobBuilder::new(g)
                .literal_separator(true)
                .build()
                .map(|g| g.compile_matcher())
                .map_err(|e| format!("source.org_units: {e}"))
        })
        .collect::<Result<_, _>>()?;
    let unit_names: HashMap<&str, &str> = org_units
        .iter()
        .map(|u| (u.org_unit_path.as_str(), u.name.as_str()))
        .collect();
    let person_id = |u: &User| person_id(cfg, u);
    // Every user's e-mail (leavers too): a manager may be suspended and still be named.
    let by_email: HashMap<String, String> = users
        .iter()
        .map(|u| (u.primary_email.trim().to_lowercase(), person_id(u)))
        .collect();
    let mut out = SourceSnapshot::default();
    let mut seen_groups: [HashSet<String>; 3] = Default::default();
    let mut add_group = |which: usize, list: &mut Vec<SourceGroup>, id: &str, name: &str| {
        if seen_groups[which].insert(id.to_owned()) {
            list.push(SourceGroup {
                id: id.to_owned(),
                name: name.to_owned(),
            });
        }
    };
    // Leavers: out of the persons, but known, for the plan's unmanaged-leaver warning.
    out.left = users
        .iter()
        .filter(|u| u.suspended || u.archived)
        .filter(|u| !u.primary_email.trim().is_empty())
        .map(|u| orgsync_core::model::LeftPerson {
            id: person_id(u),
            email: u.primary_email.trim().to_owned(),
        })
        .collect();
    let mut index: HashMap<String, usize> = HashMap::new();
    for u in users.iter().filter(|u| !u.suspended && !u.archived) {
        let id = person_id(u);
        if id.is_empty() {
            return Err(format!(
                "a user (Google id {}) has neither an identifier nor an e-mail address",
                u.id
            ));
        }
        let email = Some(u.primary_email.trim().to_owned()).filter(|e| !e.is_empty());
        if let Some(&i) = index.get(&id) {
            // Two users with one employee number: both e-mails are recorded, so the person is
            // held with a diagnostic instead of one of them being synced at random.
            let first: &mut Person = &mut out.persons[i];
            if let Some(e) = email
                && first.email.as_deref() != Some(e.as_str())
            {
                first.conflicting_emails.push(e);
            }
            continue;
        }
        let org = u
            .organizations
            .iter()
            .find(|o| o.primary)
            .or(u.organizations.first());
        let text = |v: Option<&Option<String>>| {
            v.and_then(|v| v.as_deref())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let department = text(org.map(|o| &o.department));
        let community = match cfg.community_from {
            GoogleCommunityFrom::OrgUnit => {
                let path = u.org_unit_path.trim();
                let unit = if globs.is_empty() {
                    Some(path.to_owned()).filter(|p| !p.is_empty())
                } else {
                    ancestors(path).find(|p| globs.iter().any(|g| g.is_match(p)))
                };
                if let Some(unit) = &unit {
                    let name = unit_names
                        .get(unit.as_str())
                        .copied()
                        .unwrap_or_else(|| unit.rsplit('/').find(|s| !s.is_empty()).unwrap_or("/"));
                    add_group(0, &mut out.communities, unit, name);
                }
                unit
            }
            GoogleCommunityFrom::Location => text(org.map(|o| &o.location)),
            GoogleCommunityFrom::Department => department.clone(),
        };
        if cfg.community_from != GoogleCommunityFrom::OrgUnit
            && let Some(c) = &community
        {
            add_group(0, &mut out.communities, c, c);
        }
        let function = match cfg.function_from {
            GoogleFunctionFrom::Title => text(org.map(|o| &o.title)),
            GoogleFunctionFrom::Department => department.clone(),
        };
        if let Some(f) = &function {
            add_group(1, &mut out.functions, f, f);
        }
        if let Some(d) = &department {
            add_group(2, &mut out.departments, d, d);
        }
        let manager = u
            .relations
            .iter()
            .find(|r| r.kind == "manager")
            .and_then(|r| by_email.get(&r.value.trim().to_lowercase()))
            .filter(|m| **m != id)
            .cloned();
        index.insert(id.clone(), out.persons.len());
        out.persons.push(Person {
            id,
            email,
            conflicting_emails: Vec::new(),
            first_name: u.name.given_name.trim().to_owned(),
            last_name: u.name.family_name.trim().to_owned(),
            employments: vec![Employment {
                start: None,
                end: None,
                community,
                function,
                department,
            }],
            manager,
            attributes: Default::default(),
        });
    }
    Ok(out)
}

/// The person id of a user: Google's id, or the external id of the configured type (else the
/// lower-cased primary e-mail), as `source.person_id` says.
fn person_id(cfg: &GoogleSourceConfig, u: &User) -> String {
    match cfg.person_id {
        GooglePersonId::Id => u.id.clone(),
        GooglePersonId::ExternalId => u
            .external_ids
            .iter()
            .find(|x| {
                !x.value.trim().is_empty()
                    && (x.kind == cfg.external_id_type
                        || x.kind == "custom"
                            && x.custom_type.as_deref() == Some(&cfg.external_id_type))
            })
            .map(|x| x.value.trim().to_owned())
            .unwrap_or_else(|| u.primary_email.trim().to_lowercase()),
    }
}

/// A Directory API search value (`query`): single-quoted, with `'` and `\` escaped, so that
/// spaces and operators in it are part of the value.
fn quoted(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// `/a/b/c`, `/a/b`, `/a`, `/`: a path and the units above it, deepest first.
fn ancestors(path: &str) -> impl Iterator<Item = String> + '_ {
    let path = path.trim_end_matches('/');
    let mut next = Some(if path.is_empty() { "/" } else { path });
    std::iter::from_fn(move || {
        let here = next?;
        next = match here.rfind('/') {
            Some(0) if here != "/" => Some("/"),
            Some(0) | None => None,
            Some(i) => Some(&here[..i]),
        };
        Some(here.to_owned())
    })
}

/// An access token and when it stops working.
struct Token {
    expires: Instant,
}

/// Reads people from Google Workspace.
pub struct GoogleSource {
    cfg: GoogleSourceConfig,
    key: ServiceAccountKey,
    token_url: String,
    client: Arc<HttpClient>,
    /// The token URL's client: the same retries, backoff and `Retry-After` as every request.
    grant: HttpClient,
    token: Option<Token>,
    grants: u64,
    /// Taken out while a fetch runs on it (the fetch borrows the source mutably).
    rt: Arc<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for GoogleSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleSource")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl GoogleSource {
    /// A source for `cfg`; the credentials are resolved now from the kit's environment.
    pub fn new(cfg: &GoogleSourceConfig, kit: &Kit) -> Result<GoogleSource, ConnectorError> {
        let value = cfg
            .credentials
            .resolve("source.credentials", kit.secrets())
            .map_err(|e| ConnectorError::Config(e.to_string()))?;
        let key = read_key(&value)?;
        let token_url = cfg
            .token_url
            .clone()
            .or_else(|| key.token_uri.clone())
            .unwrap_or_else(|| DEFAULT_TOKEN_URL.to_owned());
        let mut settings = HttpSettings::new("Google Workspace", &cfg.base_url);
        settings.configure(&cfg.http);
        // One page after the other: each page's token comes with the page before.
        settings.concurrency = 1;
        settings.rate_limit = cfg.queries_per_minute.div_ceil(60);
        settings.progress = kit.progress();
        settings.credential_hint = match cfg.credentials.env_name() {
            Some(var) => format!(
                "${var} (source.credentials: service account {}, acting for source.subject)",
                key.client_email
            ),
            None => "source.credentials".to_owned(),
        };
        let mut grant_settings = HttpSettings::new("Google Workspace", &token_url);
        grant_settings.configure(&cfg.http);
        grant_settings.concurrency = 1;
        grant_settings.credential_hint = settings.credential_hint.clone();
        let grant = HttpClient::anonymous(grant_settings, oauth_error)?;
        // No token yet: the first request gets one.
        let client =
            HttpClient::new(settings, "Bearer -", describe_error)?.with_throttle(quota_error);
        Ok(GoogleSource {
            cfg: cfg.clone(),
            key,
            token_url,
            client: Arc::new(client),
            grant,
            token: None,
            grants: 0,
            rt: kit.runtime()?,
        })
    }

    /// The client (request counts for benchmarks and tests).
    pub fn client(&self) -> &HttpClient {
        &self.client
    }

    /// Access tokens obtained so far.
    pub fn grants(&self) -> u64 {
        self.grants
    }

    /// A fresh access token from the token URL, set on the client.
    async fn renew(&mut self) -> Result<(), ConnectorError> {
        let now = jiff::Timestamp::now().as_second().max(0) as u64;
        let jwt = assertion(&self.key, &self.cfg.subject, &self.token_url, now)?;
        // The signed assertion buys access tokens for as long as it lives: as secret as the key,
        // and a token URL that refuses it may quote it back.
        orgsync_core::redact::register(&jwt);
        let form = [("grant_type", JWT_GRANT), ("assertion", jwt.as_str())];
        let body = match self.grant.post_form("", &form).await {
            Ok(r) => r.body,
            Err(HttpError::Transport { message, .. }) => {
                return Err(ConnectorError::Transport {
                    message: format!(
                        "Google Workspace: the token URL {} did not answer: {message}",
                        self.token_url
                    ),
                    timed_out: false,
                });
            }
            // Whatever else it answered (the error the OAuth body names, already scrubbed), the
            // grant was refused: after its retries, for a 429 or a 5xx.
            Err(e) => {
                let (status, detail) = match &e {
                    HttpError::Unauthorized { detail, .. } => {
                        (reqwest::StatusCode::UNAUTHORIZED, detail.clone())
                    }
                    HttpError::Status { status, detail, .. } => (*status, detail.clone()),
                    HttpError::Transport { .. } => unreachable!("handled above"),
                };
                return Err(ConnectorError::Auth(format!(
                    "Google Workspace refused the service account {} acting for source.subject \
                     at the token URL ({status}{detail}): check that the key is current, that \
                     domain-wide delegation grants the scopes {} and that the subject is an \
                     administrator",
                    self.key.client_email,
                    SCOPES.join(", ")
                )));
            }
        };
        #[derive(Deserialize)]
        struct Granted {
            access_token: String,
            #[serde(default)]
            expires_in: Option<u64>,
        }
        let granted: Granted = serde_json::from_slice(&body).map_err(|e| {
            ConnectorError::Auth(format!(
                "Google Workspace: the token URL sent no access token: {}",
                e.classify_str()
            ))
        })?;
        orgsync_core::redact::register(&granted.access_token);
        self.client
            .set_authorization(&format!("Bearer {}", granted.access_token))?;
        let lifetime = Duration::from_secs(granted.expires_in.unwrap_or(3600));
        self.token = Some(Token {
            expires: Instant::now() + lifetime,
        });
        self.grants += 1;
        tracing::debug!(
            lifetime_s = lifetime.as_secs(),
            "Google Workspace: new access token"
        );
        Ok(())
    }

    /// `GET path` with a current token: renewed before it expires, and once on a 401.
    async fn get(&mut self, path: &str) -> Result<Vec<u8>, ConnectorError> {
        let due = self
            .token
            .as_ref()
            .is_none_or(|t| Instant::now() + RENEW_BEFORE >= t.expires);
        if due {
            self.renew().await?;
        }
        // A 401 means the token expired or was revoked: get a new one and try again. A token
        // can also run out during one request's own retries (a 5xx, then 401), so a few
        // renewals in a row are allowed before the refusal stands.
        let mut renewals = 0;
        loop {
            match self.client.get(path).await {
                Ok(r) => return Ok(r.body),
                Err(HttpError::Unauthorized { .. }) if renewals < 3 => {
                    renewals += 1;
                    tracing::info!("Google Workspace: the access token was refused; renewing it");
                    self.renew().await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// One page of users, parsed; a body that is not a page is read again (up to `retries`).
    async fn page(&mut self, token: Option<&str>) -> Result<UsersPage, ConnectorError> {
        let list = format!(
            "/admin/directory/v1/users?customer={}&maxResults={}&projection=basic",
            super::http::encode(&self.cfg.customer),
            self.cfg.page_size.clamp(1, 500)
        );
        self.page_of(&list, self.cfg.page_size.clamp(1, 500), token)
            .await
    }

    /// One page of the users `list` (a `users.list` path with its query) asks for, at most
    /// `max` of them.
    async fn page_of(
        &mut self,
        list: &str,
        max: u32,
        token: Option<&str>,
    ) -> Result<UsersPage, ConnectorError> {
        let mut path = list.to_owned();
        if let Some(t) = token {
            path.push_str("&pageToken=");
            path.push_str(&super::http::encode(t));
        }
        let mut attempt = 0;
        loop {
            let body = self.get(&path).await?;
            match serde_json::from_slice::<UsersPage>(&body) {
                Ok(page) => {
                    if page.users.len() > max as usize {
                        return Err(ConnectorError::Listing(format!(
                            "Google Workspace: a page held {} users, more than maxResults {max}",
                            page.users.len(),
                        )));
                    }
                    return Ok(page);
                }
                Err(e) if attempt < self.cfg.http.retries => {
                    attempt += 1;
                    tracing::warn!(
                        "Google Workspace: a page of users was not JSON ({}); reading it again",
                        e.classify_str()
                    );
                }
                Err(e) => {
                    return Err(ConnectorError::Listing(format!(
                        "Google Workspace: a page of users was not JSON ({}) on {} reads. \
                         Nothing was planned; try again",
                        e.classify_str(),
                        attempt + 1
                    )));
                }
            }
        }
    }

    /// Confirms `page`, which came back without `nextPageToken`: the last page — or one cut
    /// short that lost its token. It is read again with the same token until two reads agree;
    /// a read that goes on (a token, or more users) wins. Returns the page, the reads made and
    /// whether the first read was cut.
    async fn confirm_last(
        &mut self,
        list: &str,
        max: u32,
        token: Option<&str>,
        mut page: UsersPage,
    ) -> Result<(UsersPage, u64, bool), ConnectorError> {
        let mut reads = 0;
        let mut cut = false;
        for _ in 1..CONFIRM_READS {
            let again = self.page_of(list, max, token).await?;
            reads += 1;
            if again.next_page_token.is_some() || again.users.len() > page.users.len() {
                cut = true;
                page = again;
                if page.next_page_token.is_some() {
                    return Ok((page, reads, cut));
                }
                continue;
            }
            if again.users.len() == page.users.len() {
                return Ok((page, reads, cut));
            }
        }
        Err(ConnectorError::Listing(format!(
            "Google Workspace: the last page of users came back with a different number of \
             users on each of {CONFIRM_READS} reads: it may have been cut short. Nothing was \
             planned; try again"
        )))
    }

    /// `users.get`: the user whose key (Google id, or a primary or alias e-mail) is `key`;
    /// `None` when Google has no such user (404).
    async fn user(&mut self, key: &str) -> Result<Option<User>, ConnectorError> {
        let path = format!(
            "/admin/directory/v1/users/{}?projection=basic",
            super::http::encode(key)
        );
        match self.get(&path).await {
            Ok(body) => serde_json::from_slice::<User>(&body)
                .map(Some)
                .map_err(|e| {
                    ConnectorError::Listing(format!(
                        "Google Workspace: the answer for user {key} is not a user ({})",
                        e.classify_str()
                    ))
                }),
            Err(ConnectorError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The users a `users.list` search (`query`) finds, every page of them, a page without
    /// `nextPageToken` confirmed as in a listing.
    async fn search(&mut self, query: &str) -> Result<Vec<User>, ConnectorError> {
        let list = format!(
            "/admin/directory/v1/users?customer={}&maxResults=500&projection=basic&query={}",
            super::http::encode(&self.cfg.customer),
            super::http::encode(query)
        );
        let mut users = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut page = self.page_of(&list, 500, token.as_deref()).await?;
            if page.next_page_token.is_none() {
                page = self
                    .confirm_last(&list, 500, token.as_deref(), page)
                    .await?
                    .0;
            }
            users.extend(page.users);
            match page.next_page_token {
                Some(next) if !next.is_empty() => token = Some(next),
                _ => return Ok(users),
            }
        }
    }

    /// Which of `ids` Google has as an active user, asked for one at a time (the client sends
    /// one request at a time): with `person_id: id`, `users.get` by the id; with `person_id:
    /// external_id`, a search on the external id (`query=externalId='…'`), and for an id that
    /// is an e-mail (a user without an external id of the type is known by it) `users.get` by
    /// that e-mail when the search found nobody. A user counts when its person id is the id, as
    /// the listing would give it, and it is neither suspended nor archived (those are leavers).
    async fn lookup_users(&mut self, ids: &[String]) -> Result<Vec<String>, ConnectorError> {
        let requests = self.client.requests();
        let mut found = Vec::new();
        for id in ids {
            let key = id.trim();
            if key.is_empty() {
                continue;
            }
            let users: Vec<User> = match self.cfg.person_id {
                GooglePersonId::Id => self.user(key).await?.into_iter().collect(),
                GooglePersonId::ExternalId => {
                    let mut users = self.search(&format!("externalId={}", quoted(key))).await?;
                    if key.contains('@') && !users.iter().any(|u| person_id(&self.cfg, u) == key) {
                        users.extend(self.user(key).await?);
                    }
                    users
                }
            };
            if users
                .iter()
                .any(|u| !u.suspended && !u.archived && person_id(&self.cfg, u) == key)
            {
                found.push(id.clone());
            }
        }
        tracing::info!(
            asked = ids.len(),
            found = found.len(),
            requests = self.client.requests() - requests,
            "Google Workspace: people missing from the listing looked up directly"
        );
        Ok(found)
    }

    /// `validate --online`: a token is granted (key, delegation, subject), one user can be
    /// read, and with `org_units` globs each matches an org unit. Returns the problems found.
    pub fn check_online(&mut self) -> Result<Vec<String>, ConnectorError> {
        let rt = Arc::clone(&self.rt);
        rt.block_on(async {
            let path = format!(
                "/admin/directory/v1/users?customer={}&maxResults=1&projection=basic",
                super::http::encode(&self.cfg.customer)
            );
            self.get(&path).await?;
            let mut problems = Vec::new();
            if self.cfg.community_from == GoogleCommunityFrom::OrgUnit
                && !self.cfg.org_units.is_empty()
            {
                let path = format!(
                    "/admin/directory/v1/customer/{}/orgunits?type=all",
                    super::http::encode(&self.cfg.customer)
                );
                let body = self.get(&path).await?;
                let units = serde_json::from_slice::<OrgUnitsPage>(&body)
                    .map(|p| p.organization_units)
                    .unwrap_or_default();
                for (i, glob) in self.cfg.org_units.iter().enumerate() {
                    let Ok(matcher) = globset::GlobBuilder::new(glob)
                        .literal_separator(true)
                        .build()
                        .map(|g| g.compile_matcher())
                    else {
                        continue;
                    };
                    if !units.iter().any(|u| matcher.is_match(&u.org_unit_path)) {
                        problems.push(format!(
                            "source.org_units[{i}]: `{glob}` matches none of the {} org units",
                            units.len()
                        ));
                    }
                }
            }
            Ok(problems)
        })
    }

    async fn fetch_all(&mut self) -> Result<SourceSnapshot, ConnectorError> {
        let bar = self.client.progress(None, "Google users");
        let mut users: Vec<User> = Vec::new();
        let mut ids: HashSet<String> = HashSet::new();
        let mut token: Option<String> = None;
        let mut pages = 0u64;
        let mut recovered_cuts = 0u64;
        loop {
            let mut page = self.page(token.as_deref()).await?;
            pages += 1;
            if page.next_page_token.is_none() {
                // The last page — or one cut short that lost its token.
                let list = format!(
                    "/admin/directory/v1/users?customer={}&maxResults={}&projection=basic",
                    super::http::encode(&self.cfg.customer),
                    self.cfg.page_size.clamp(1, 500)
                );
                let max = self.cfg.page_size.clamp(1, 500);
                let (confirmed, reads, cut) = self
                    .confirm_last(&list, max, token.as_deref(), page)
                    .await?;
                page = confirmed;
                pages += reads;
                recovered_cuts += u64::from(cut);
            }
            for u in page.users {
                if !ids.insert(u.id.clone()) {
                    return Err(ConnectorError::Listing(format!(
                        "Google Workspace: user {} came back on two pages: the directory \
                         changed while it was read, or paging went wrong. Nothing was planned; \
                         try again",
                        u.id
                    )));
                }
                users.push(u);
            }
            bar.set_position(users.len() as u64);
            match page.next_page_token {
                Some(next) if !next.is_empty() => token = Some(next),
                _ => break,
            }
        }
        bar.finish_and_clear();
        let org_units = if self.cfg.community_from == GoogleCommunityFrom::OrgUnit {
            let path = format!(
                "/admin/directory/v1/customer/{}/orgunits?type=all",
                super::http::encode(&self.cfg.customer)
            );
            let body = self.get(&path).await?;
            serde_json::from_slice::<OrgUnitsPage>(&body)
                .map_err(|e| {
                    ConnectorError::Listing(format!(
                        "Google Workspace: the org units answer is not JSON: {}",
                        e.classify_str()
                    ))
                })?
                .organization_units
        } else {
            Vec::new()
        };
        let snapshot = snapshot(&self.cfg, &users, &org_units)
            .map_err(|m| ConnectorError::Listing(format!("Google Workspace: {m}")))?;
        tracing::info!(
            users = users.len(),
            persons = snapshot.persons.len(),
            pages,
            recovered_cuts,
            requests = self.client.requests(),
            throttled = self.client.throttled(),
            "fetched the Google Workspace users"
        );
        Ok(snapshot)
    }
}

impl Source for GoogleSource {
    fn fetch(&mut self) -> Result<SourceSnapshot, ConnectorError> {
        let rt = Arc::clone(&self.rt);
        rt.block_on(self.fetch_all())
    }

    fn lookup(&mut self, ids: &[String]) -> Result<Vec<String>, ConnectorError> {
        let rt = Arc::clone(&self.rt);
        rt.block_on(self.lookup_users(ids))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orgsync_sandbox::generate::{GenerateOptions, generate};
    use orgsync_sandbox::google::{ADMIN, GoogleData, GoogleFaults, SandboxKey, router};
    use orgsync_sandbox::serve::{Faults, Running, spawn};

    fn data() -> (GoogleData, SourceSnapshot) {
        let opts = GenerateOptions::new(60, 5);
        let g = generate(&opts);
        (GoogleData::from_snapshot(&g.source, opts.today), g.source)
    }

    fn start(data: &GoogleData, faults: Faults, google: GoogleFaults) -> Running {
        spawn(
            router(data.clone(), SandboxKey::shared(), faults, google),
            0,
        )
        .unwrap()
    }

    fn config(server: &Running, extra: serde_json::Value) -> GoogleSourceConfig {
        let mut cfg = serde_json::json!({
            "credentials": "${env:GOOGLE_SERVICE_ACCOUNT}",
            "subject": ADMIN,
            "base_url": server.url(),
            "page_size": 7,
            "queries_per_minute": 0,
        });
        cfg.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::from_value(cfg).unwrap()
    }

    fn source(server: &Running, extra: serde_json::Value) -> GoogleSource {
        let key = SandboxKey::shared().key_file(&format!("{}/token", server.url()));
        GoogleSource::new(
            &config(server, extra),
            &Kit::new(move |_| Some(key.clone()), false).unwrap(),
        )
        .unwrap()
    }

    fn fetch(
        data: &GoogleData,
        faults: Faults,
        google: GoogleFaults,
    ) -> Result<SourceSnapshot, ConnectorError> {
        let server = start(data, faults, google);
        source(&server, serde_json::json!({})).fetch()
    }

    #[test]
    fn people_come_from_the_active_users_with_their_org_unit_title_and_manager() {
        let (data, hr) = data();
        let snapshot = fetch(&data, Faults::default(), GoogleFaults::default()).unwrap();
        let suspended = data.users.iter().filter(|u| u["suspended"] == true).count();
        assert!(suspended > 0, "the generated data has leavers");
        assert_eq!(snapshot.persons.len(), data.users.len() - suspended);
        let managed = snapshot
            .persons
            .iter()
            .filter(|p| p.manager.is_some())
            .count();
        assert!(managed > 0);
        for p in &snapshot.persons {
            let original = hr.persons.iter().find(|h| h.id == p.id).expect("same ids");
            assert_eq!(p.email, original.email);
            if let Some(m) = &p.manager {
                // The relation named an e-mail; the person's manager is an employee number.
                assert_eq!(Some(m), original.manager.as_ref());
            }
            let e = &p.employments[0];
            let unit = e.community.as_deref().unwrap();
            assert!(unit.starts_with("/Locations/"), "{unit}");
        }
        let amsterdam = snapshot
            .communities
            .iter()
            .find(|c| c.id == "/Locations/Amsterdam Centrum")
            .unwrap();
        assert_eq!(amsterdam.name, "Amsterdam Centrum");
    }

    #[test]
    fn cut_pages_give_every_user_or_an_error_never_a_partial_snapshot() {
        let (data, _) = data();
        let whole = fetch(&data, Faults::default(), GoogleFaults::default()).unwrap();
        for n in 2..=6 {
            let faults = Faults {
                short_page_every: Some(n),
                ..Faults::default()
            };
            let cut = fetch(&data, faults, GoogleFaults::default())
                .unwrap_or_else(|e| panic!("short_page_every {n}: {e}"));
            assert_eq!(cut, whole, "short_page_every {n}");
        }
        // A page cut on every read (`N = 1`) cannot be told from a last page: Google sends no
        // totals. That limit is documented; the plan's safety limits are the net behind it.
    }

    /// A page of users cut on every read looks like the last page (Google sends no totals),
    /// so the listing lacks people; `users.get` finds them. A suspended user (a leaver) and one
    /// Google does not have are not found.
    #[test]
    fn lookup_by_google_id_finds_users_the_listing_lacks_but_not_leavers_or_the_gone() {
        let (data, _) = data();
        let every = Faults {
            short_page_every: Some(1),
            ..Faults::default()
        };
        let server = start(&data, every, GoogleFaults::default());
        let mut s = source(&server, serde_json::json!({ "person_id": "id" }));
        let listed = s.fetch().unwrap();
        let active: Vec<String> = data
            .users
            .iter()
            .filter(|u| u["suspended"] == false)
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect();
        let missing: Vec<String> = active
            .iter()
            .filter(|id| listed.persons.iter().all(|p| p.id != **id))
            .cloned()
            .collect();
        assert!(!missing.is_empty(), "the cut listing lacks active users");
        let suspended = data
            .users
            .iter()
            .find(|u| u["suspended"] == true)
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .unwrap();
        let mut ids = vec![suspended, "100000000000000000000".to_owned()];
        ids.extend(missing.iter().cloned());
        let requests = s.client().requests();
        assert_eq!(s.lookup(&ids).unwrap(), missing);
        assert_eq!(s.client().requests() - requests, ids.len() as u64);
    }

    /// With employee numbers from `externalIds`, a person is looked up with a search on the
    /// external id; an e-mail (the id of a user without one) with `users.get`.
    #[test]
    fn lookup_by_external_id_searches_and_falls_back_to_the_e_mail() {
        let (mut data, hr) = data();
        // A user without an external id is known by their e-mail.
        data.users[1]["externalIds"] = serde_json::json!([]);
        let no_number = data.users[1]["primaryEmail"]
            .as_str()
            .unwrap()
            .to_lowercase();
        for faults in [
            Faults::default(),
            Faults {
                short_page_every: Some(2),
                ..Faults::default()
            },
        ] {
            let server = start(&data, faults, GoogleFaults::default());
            let mut s = source(&server, serde_json::json!({}));
            let active = hr.persons[0].id.clone();
            let leaver = data
                .users
                .iter()
                .find(|u| u["suspended"] == true)
                .map(|u| u["externalIds"][0]["value"].as_str().unwrap().to_owned())
                .unwrap();
            // Someone whose number is a substring of another's is not them.
            let part = active[..active.len() - 1].to_owned();
            let ids = [
                leaver,
                "999999".to_owned(),
                part,
                active.clone(),
                no_number.clone(),
                "nobody@example.com".to_owned(),
            ];
            assert_eq!(s.lookup(&ids).unwrap(), [active, no_number.clone()]);
        }
    }

    #[test]
    fn quota_errors_and_429s_are_retried_within_the_budget() {
        let (data, _) = data();
        let whole = fetch(&data, Faults::default(), GoogleFaults::default()).unwrap();
        let server = start(
            &data,
            Faults {
                throttle_every: Some(5),
                retry_after: 0,
                error_rate: 0.1,
                ..Faults::default()
            },
            GoogleFaults {
                quota_403_every: Some(3),
                ..GoogleFaults::default()
            },
        );
        let mut s = source(&server, serde_json::json!({ "retries": 8 }));
        assert_eq!(s.fetch().unwrap(), whole);
        assert!(s.client().throttled() >= 3, "{}", s.client().throttled());
    }

    #[test]
    fn the_quota_per_minute_is_kept_to() {
        let (data, _) = data();
        // 600 a minute: 10 a second. The pages (9 of 7 users, a re-read of the last) and the
        // org units take about a second at that pace, and none is refused.
        let server = start(
            &data,
            Faults::default(),
            GoogleFaults {
                quota_per_minute: 600,
                ..GoogleFaults::default()
            },
        );
        let mut s = source(&server, serde_json::json!({ "queries_per_minute": 600 }));
        let started = Instant::now();
        s.fetch().unwrap();
        assert_eq!(
            s.client().throttled(),
            0,
            "the client stayed within the quota"
        );
        let requests = s.client().requests();
        assert!(requests >= 10, "{requests}");
        assert!(started.elapsed() >= Duration::from_millis(100 * (requests - 2)));
    }

    #[test]
    fn an_expired_token_is_renewed_and_the_fetch_goes_on() {
        let (data, _) = data();
        let whole = fetch(&data, Faults::default(), GoogleFaults::default()).unwrap();
        let server = start(
            &data,
            Faults {
                expire_token_after: Some(3),
                ..Faults::default()
            },
            GoogleFaults::default(),
        );
        let mut s = source(&server, serde_json::json!({}));
        assert_eq!(s.fetch().unwrap(), whole);
        assert!(s.grants() >= 3, "{}", s.grants());
        // A token that lives less than the renewal margin is renewed before every request.
        let server = start(
            &data,
            Faults::default(),
            GoogleFaults {
                token_lifetime: 30,
                ..GoogleFaults::default()
            },
        );
        let mut s = source(&server, serde_json::json!({}));
        assert_eq!(s.fetch().unwrap(), whole);
        assert_eq!(s.grants(), s.client().requests());
    }

    #[test]
    fn the_token_url_checks_the_assertion() {
        let (data, _) = data();
        let server = start(&data, Faults::default(), GoogleFaults::default());
        let err = source(
            &server,
            serde_json::json!({ "subject": "someone@example.com" }),
        )
        .fetch()
        .unwrap_err()
        .to_string();
        assert!(err.contains("unauthorized_client"), "{err}");
        // Another key than the one the emulator knows: the signature does not verify.
        let other = SandboxKey::generate().key_file(&format!("{}/token", server.url()));
        let err = GoogleSource::new(
            &config(&server, serde_json::json!({})),
            &Kit::new(move |_| Some(other.clone()), false).unwrap(),
        )
        .unwrap()
        .fetch()
        .unwrap_err()
        .to_string();
        assert!(err.contains("invalid_grant"), "{err}");
        assert!(!err.contains("PRIVATE KEY"), "{err}");
        // The audience is the token URL: a token URL elsewhere is refused.
        let err = source(
            &server,
            serde_json::json!({ "token_url": format!("{}/token/", server.url()) }),
        )
        .fetch()
        .unwrap_err()
        .to_string();
        assert!(err.contains("refused"), "{err}");
    }

    /// Regression (issue 19, the JWT assertion leaked): a token URL that quotes the request it
    /// refuses sends the signed assertion back, and the assertion — good for an hour of access
    /// tokens — was registered with no redaction, so the refusal printed it whole.
    #[test]
    fn an_assertion_quoted_by_a_refusing_token_url_is_scrubbed() {
        use orgsync_sandbox::serve::Credentials;
        let (data, _) = data();
        let sent = Credentials::default();
        let echo = Faults {
            echo_authorization: true,
            echo_request: true,
            ..Faults::default()
        };
        let server = spawn(
            orgsync_sandbox::google::router_with_credentials(
                data,
                SandboxKey::shared(),
                echo,
                GoogleFaults::default(),
                sent.clone(),
            ),
            0,
        )
        .unwrap();
        let err = source(
            &server,
            serde_json::json!({ "subject": "someone@example.com" }),
        )
        .fetch()
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("unauthorized_client") && err.contains("[request: POST /token"),
            "the token URL quoted the request: {err}"
        );
        let assertion = sent.lock().unwrap()[0].clone();
        let signature = assertion.rsplit('.').next().unwrap();
        assert!(!err.contains(signature), "{err}");
        assert!(!err.contains(&assertion[..40]), "{err}");
    }

    #[test]
    fn validate_online_checks_the_grant_and_the_org_unit_globs() {
        let (data, _) = data();
        let server = start(&data, Faults::default(), GoogleFaults::default());
        let mut s = source(
            &server,
            serde_json::json!({ "org_units": ["/Locations/*", "/Stores/*"] }),
        );
        assert_eq!(
            s.check_online().unwrap(),
            [format!(
                "source.org_units[1]: `/Stores/*` matches none of the {} org units",
                data.org_units.len()
            )]
        );
        let err = source(&server, serde_json::json!({ "subject": "x@example.com" }))
            .check_online()
            .unwrap_err()
            .to_string();
        assert!(err.contains("unauthorized_client"), "{err}");
    }

    /// A page token the server no longer accepts is an error, and so is a user on two pages:
    /// never a restart from the first page, never a partial snapshot.
    #[test]
    fn an_invalid_page_token_or_a_repeated_user_fails_the_fetch() {
        use axum::extract::Query;
        use std::collections::HashMap as Map;
        for (second, expected) in [
            (None, "Invalid Input: pageToken"),
            (
                Some(
                    serde_json::json!({ "users": [{ "id": "1", "primaryEmail": "a@example.com" }] }),
                ),
                "came back on two pages",
            ),
        ] {
            let app = axum::Router::new()
                .route(
                    "/token",
                    axum::routing::post(|| async {
                        axum::Json(serde_json::json!({ "access_token": "t", "expires_in": 3600 }))
                    }),
                )
                .route(
                    "/admin/directory/v1/users",
                    axum::routing::get(move |Query(q): Query<Map<String, String>>| {
                        let second = second.clone();
                        async move {
                            match (q.get("pageToken"), second) {
                                (None, _) => axum::Json(serde_json::json!({
                                    "users": [{ "id": "1", "primaryEmail": "a@example.com" }],
                                    "nextPageToken": "p2",
                                }))
                                .into_response(),
                                (Some(_), Some(page)) => axum::Json(page).into_response(),
                                (Some(_), None) => (
                                    axum::http::StatusCode::BAD_REQUEST,
                                    axum::Json(orgsync_sandbox::serve::google_error_body(
                                        axum::http::StatusCode::BAD_REQUEST,
                                        "invalid",
                                        "Invalid Input: pageToken",
                                    )),
                                )
                                    .into_response(),
                            }
                        }
                    }),
                );
            use axum::response::IntoResponse as _;
            let server = spawn(app, 0).unwrap();
            let err = source(&server, serde_json::json!({}))
                .fetch()
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{err}");
        }
    }

    fn user(id: &str, email: &str, unit: &str) -> User {
        User {
            id: id.to_owned(),
            primary_email: email.to_owned(),
            org_unit_path: unit.to_owned(),
            ..User::default()
        }
    }

    fn cfg(extra: serde_json::Value) -> GoogleSourceConfig {
        let mut cfg = serde_json::json!({ "credentials": "${env:K}", "subject": ADMIN });
        cfg.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::from_value(cfg).unwrap()
    }

    #[test]
    fn org_unit_globs_pick_the_deepest_matching_unit_above_a_user() {
        let users = [
            user("1", "a@example.com", "/Stores/Amsterdam/Kitchen"),
            user("2", "b@example.com", "/Stores/Rotterdam"),
            user("3", "c@example.com", "/HQ"),
        ];
        let units = [OrgUnit {
            org_unit_path: "/Stores/Amsterdam".into(),
            name: "Amsterdam".into(),
        }];
        let s = snapshot(
            &cfg(serde_json::json!({ "org_units": ["/Stores/*"] })),
            &users,
            &units,
        )
        .unwrap();
        let community = |i: usize| s.persons[i].employments[0].community.clone();
        assert_eq!(community(0).as_deref(), Some("/Stores/Amsterdam"));
        assert_eq!(community(1).as_deref(), Some("/Stores/Rotterdam"));
        assert_eq!(community(2), None);
        assert_eq!(s.communities[0].name, "Amsterdam");
        assert_eq!(
            s.communities[1].name, "Rotterdam",
            "the last segment when unlisted"
        );
        let exact = snapshot(&cfg(serde_json::json!({})), &users, &units).unwrap();
        assert_eq!(
            exact.persons[0].employments[0].community.as_deref(),
            Some("/Stores/Amsterdam/Kitchen")
        );
        assert_eq!(ancestors("/").collect::<Vec<_>>(), ["/"]);
        assert_eq!(ancestors("/a/b").collect::<Vec<_>>(), ["/a/b", "/a", "/"]);
    }

    #[test]
    fn identifiers_leavers_managers_and_organizations() {
        let mut a = user("g1", "Ann@Example.com", "/");
        a.external_ids = vec![TypedValue {
            value: "E1".into(),
            kind: "organization".into(),
            custom_type: None,
        }];
        a.organizations = vec![
            Organization {
                title: Some("Cook".into()),
                department: Some("Kitchen".into()),
                location: Some("Amsterdam".into()),
                primary: false,
            },
            Organization {
                title: Some("Chef".into()),
                department: Some("Kitchen".into()),
                location: Some("Rotterdam".into()),
                primary: true,
            },
        ];
        let mut b = user("g2", "bob@example.com", "/");
        b.relations = vec![TypedValue {
            value: "ann@example.com".into(),
            kind: "manager".into(),
            custom_type: None,
        }];
        let mut gone = user("g3", "carl@example.com", "/");
        gone.suspended = true;
        let mut archived = user("g4", "dora@example.com", "/");
        archived.archived = true;
        let mut twin = user("g5", "ann.other@example.com", "/");
        twin.external_ids = a.external_ids.clone();
        let users = [a, b, gone, archived, twin];
        let s = snapshot(
            &cfg(serde_json::json!({ "community_from": "location", "function_from": "title" })),
            &users,
            &[],
        )
        .unwrap();
        assert_eq!(
            s.persons.len(),
            2,
            "suspended and archived users are leavers"
        );
        let (ann, bob) = (&s.persons[0], &s.persons[1]);
        assert_eq!(ann.id, "E1");
        assert_eq!(bob.id, "bob@example.com", "no external id: the e-mail");
        assert_eq!(
            bob.manager.as_deref(),
            Some("E1"),
            "the manager's e-mail resolved"
        );
        assert_eq!(ann.conflicting_emails, ["ann.other@example.com"]);
        let e = &ann.employments[0];
        assert_eq!(
            e.community.as_deref(),
            Some("Rotterdam"),
            "the primary organization"
        );
        assert_eq!(e.function.as_deref(), Some("Chef"));
        assert_eq!(e.department.as_deref(), Some("Kitchen"));
        let by_id = snapshot(
            &cfg(serde_json::json!({ "person_id": "id", "function_from": "department" })),
            &users,
            &[],
        )
        .unwrap();
        assert_eq!(by_id.persons[0].id, "g1");
        assert_eq!(
            by_id.persons[0].employments[0].function.as_deref(),
            Some("Kitchen")
        );
    }

    #[test]
    fn quota_403s_are_throttles_other_403s_are_not() {
        let quota = serde_json::to_vec(&orgsync_sandbox::serve::google_error_body(
            reqwest::StatusCode::FORBIDDEN,
            "userRateLimitExceeded",
            "Quota exceeded",
        ))
        .unwrap();
        let forbidden = serde_json::to_vec(&orgsync_sandbox::serve::google_error_body(
            reqwest::StatusCode::FORBIDDEN,
            "forbidden",
            "Not Authorized to access this resource/api",
        ))
        .unwrap();
        assert!(quota_error(reqwest::StatusCode::FORBIDDEN, &quota));
        assert!(!quota_error(reqwest::StatusCode::FORBIDDEN, &forbidden));
        assert!(!quota_error(reqwest::StatusCode::BAD_REQUEST, &quota));
        assert_eq!(
            describe_error(&forbidden).unwrap(),
            "Not Authorized to access this resource/api (forbidden)"
        );
    }

    #[test]
    fn the_key_is_never_in_debug_output_or_errors() {
        let key = SandboxKey::shared().key_file("http://127.0.0.1:1/token");
        let parsed = read_key(&key).unwrap();
        assert!(!format!("{parsed:?}").contains("PRIVATE"));
        let err = read_key("{\"client_email\": \"x\", \"private_key\": 5}")
            .unwrap_err()
            .to_string();
        assert!(
            !err.contains('5') || !err.contains("private_key\": 5"),
            "{err}"
        );
        let err = read_key("/nonexistent/key.json").unwrap_err().to_string();
        assert!(err.contains("cannot read"), "{err}");
    }
}
