//! The `manusplus` source: employees, contracts and the organisation tree from ManusPlus.
//!
//! ManusPlus publishes no API specification. What public client code shows: the base URL is
//! `https://server.manus.plus/{client}`; a token comes from `POST {base}/app/token` with the
//! form `grant_type=password&client_id=employee&username=…&password=…` and answers
//! `access_token`; requests then carry `Authorization: Bearer …`; resources live under
//! `{base}/api/node/{nodeId}/…`. Everything else is an assumption [I], configurable
//! (`source.paths`, `source.fields`) and served as assumed by `orgsync sandbox manusplus`:
//!
//! - the token answer has `expires_in` (seconds; default one hour when absent); the token is
//!   renewed a minute before it expires and once when the API answers 401 (a new grant);
//! - the lists are `…/node`, `…/employee`, `…/contract`, `…/department`, `…/function` below the
//!   configured node, paged with `offset` and `limit`, answered as `{"items": […], "total": N}`
//!   (or a bare array, without a total);
//! - a contract is one employment: employee id, node id, department id, function id, start and
//!   end dates (ISO; a time part is ignored);
//! - nodes name their parent (`parentId`); a contract's community is its node's ancestor on
//!   `community_level` below the configured node.
//!
//! Paging: with a total, a page shorter than `limit` before the total is reached was cut: it is
//! read again (a cut is transient [I]), and a total that changes between pages, or rows that
//! never add up to it, fail the fetch. Without a total, a short page is read again before it is
//! taken for the last. Never a partial snapshot.
//!
//! Lookup ([`Source::lookup`]) reads the employee list again: no configured path reads one
//! employee by the number a person is known by (see the method).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Kit;
use super::http::{HttpClient, HttpError, HttpSettings};
use super::{ConnectorError, Source};
use orgsync_core::config::{ManusPlusFields, ManusPlusSourceConfig};
use orgsync_core::model::{Employment, Person, SourceGroup, SourceSnapshot};

const RENEW_BEFORE: Duration = Duration::from_secs(60);
/// Reads of one page that came back short before it is given up.
const PAGE_READS: usize = 4;

/// The value at a dotted `path` of `v`, as text (numbers too); empty and null are `None`.
pub fn field(v: &Value, path: &str) -> Option<String> {
    let mut here = v;
    for key in path.split('.') {
        here = here.get(key)?;
    }
    match here {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// An ISO date, with any time part ignored.
fn date(v: &str) -> Option<jiff::civil::Date> {
    v.get(..10).unwrap_or(v).parse().ok()
}

/// The lists read from ManusPlus.
#[derive(Debug, Clone, Default)]
pub struct Lists {
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

/// Builds the snapshot from the lists (pure: no I/O). `root` is the configured node,
/// `level` the community level below it.
pub fn snapshot(
    lists: &Lists,
    f: &ManusPlusFields,
    root: &str,
    level: u32,
) -> Result<SourceSnapshot, String> {
    let named = |items: &[Value]| -> HashMap<String, String> {
        items
            .iter()
            .filter_map(|i| {
                let id = field(i, &f.id)?;
                let name = field(i, &f.name).unwrap_or_else(|| id.clone());
                Some((id, name))
            })
            .collect()
    };
    let node_names = named(&lists.nodes);
    let departments = named(&lists.departments);
    let functions = named(&lists.functions);
    let parents: HashMap<String, Option<String>> = lists
        .nodes
        .iter()
        .filter_map(|n| Some((field(n, &f.id)?, field(n, &f.node_parent))))
        .collect();
    // A node's chain up to the root: [node, parent, …, root]; None when it is not below root.
    let chain = |node: &str| -> Option<Vec<String>> {
        let mut out = vec![node.to_owned()];
        let mut here = node.to_owned();
        while here != root {
            let parent = parents.get(&here)?.clone()?;
            if out.len() > 64 || out.contains(&parent) {
                return None;
            }
            out.push(parent.clone());
            here = parent;
        }
        Some(out)
    };
    let mut community_of: HashMap<String, Option<String>> = HashMap::new();

    let mut out = SourceSnapshot::default();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut number_of: HashMap<String, String> = HashMap::new();
    let mut manager_of: Vec<Option<String>> = Vec::new();
    for e in &lists.employees {
        let Some(id) = field(e, &f.id) else {
            return Err(format!("an employee has no `{}`", f.id));
        };
        let number = field(e, &f.employee_number).unwrap_or_else(|| id.clone());
        number_of.insert(id.clone(), number.clone());
        if let Some(&i) = index.get(&number) {
            // Two employees with one number: both e-mails are kept, so the person is held.
            let email = field(e, &f.email);
            let p: &mut Person = &mut out.persons[i];
            if let Some(email) = email
                && p.email.as_deref() != Some(email.as_str())
            {
                p.conflicting_emails.push(email);
            }
            index.insert(id, i);
            continue;
        }
        let last = match field(e, &f.last_name_prefix) {
            Some(prefix) => format!("{prefix} {}", field(e, &f.last_name).unwrap_or_default()),
            None => field(e, &f.last_name).unwrap_or_default(),
        };
        index.insert(id.clone(), out.persons.len());
        index.insert(number.clone(), out.persons.len());
        manager_of.push(field(e, &f.manager));
        out.persons.push(Person {
            id: number,
            email: field(e, &f.email),
            conflicting_emails: Vec::new(),
            first_name: field(e, &f.first_name).unwrap_or_default(),
            last_name: last.trim().to_owned(),
            employments: Vec::new(),
            manager: None,
            attributes: BTreeMap::new(),
        });
    }
    for (p, manager) in out.persons.iter_mut().zip(manager_of) {
        p.manager = manager
            .and_then(|m| number_of.get(&m).cloned())
            .filter(|m| *m != p.id);
    }
    let mut seen: [HashSet<String>; 3] = Default::default();
    for c in &lists.contracts {
        let what = field(c, &f.id).unwrap_or_else(|| "?".to_owned());
        let Some(employee) = field(c, &f.contract_employee) else {
            return Err(format!("contract {what} has no `{}`", f.contract_employee));
        };
        let Some(&i) = index.get(&employee) else {
            return Err(format!(
                "contract {what} belongs to employee {employee}, who is not in the employee list"
            ));
        };
        let start =
            match field(c, &f.contract_start) {
                Some(s) => Some(date(&s).ok_or_else(|| {
                    format!("contract {what}: `{}` is not a date", f.contract_start)
                })?),
                None => None,
            };
        let end =
            match field(c, &f.contract_end) {
                Some(s) => Some(date(&s).ok_or_else(|| {
                    format!("contract {what}: `{}` is not a date", f.contract_end)
                })?),
                None => None,
            };
        let community = match field(c, &f.contract_node) {
            Some(node) => community_of
                .entry(node.clone())
                .or_insert_with(|| {
                    let chain = chain(&node)?;
                    let depth = chain.len() - 1;
                    let level = level as usize;
                    (depth >= level).then(|| chain[depth - level].clone())
                })
                .clone(),
            None => None,
        };
        let department = field(c, &f.contract_department);
        let function = field(c, &f.contract_function);
        for (which, id, names, list) in [
            (0, &community, &node_names, &mut out.communities),
            (1, &function, &functions, &mut out.functions),
            (2, &department, &departments, &mut out.departments),
        ] {
            if let Some(id) = id
                && seen[which].insert(id.clone())
            {
                list.push(SourceGroup {
                    id: id.clone(),
                    name: names.get(id).cloned().unwrap_or_else(|| id.clone()),
                });
            }
        }
        out.persons[i].employments.push(Employment {
            start,
            end,
            community,
            function,
            department,
        });
    }
    Ok(out)
}

/// ManusPlus error bodies (OAuth-style `error`/`error_description`, or `message`) [I].
pub fn describe_error(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let text = |k: &str| v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    match (text("error"), text("error_description"), text("message")) {
        (_, Some(d), _) => Some(d.to_owned()),
        (_, _, Some(m)) => Some(m.to_owned()),
        (Some(e), _, _) => Some(e.to_owned()),
        _ => None,
    }
}

/// Reads people from ManusPlus.
pub struct ManusPlusSource {
    cfg: ManusPlusSourceConfig,
    password: String,
    client: Arc<HttpClient>,
    /// The token URL's client: the same retries, backoff and `Retry-After` as every request.
    grant: HttpClient,
    expires: Option<Instant>,
    grants: u64,
    rt: Arc<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for ManusPlusSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManusPlusSource")
            .field("base_url", &self.cfg.base_url)
            .finish_non_exhaustive()
    }
}

impl ManusPlusSource {
    /// A source for `cfg`; the password is resolved now from the kit's environment.
    pub fn new(cfg: &ManusPlusSourceConfig, kit: &Kit) -> Result<ManusPlusSource, ConnectorError> {
        let password = cfg
            .password
            .resolve("source.password", kit.secrets())
            .map_err(|e| ConnectorError::Config(e.to_string()))?;
        let mut settings = HttpSettings::new("ManusPlus", &cfg.base_url);
        settings.configure(&cfg.http);
        settings.concurrency = 1;
        settings.rate_limit = cfg.rate_limit;
        settings.progress = kit.progress();
        settings.credential_hint = match cfg.password.env_name() {
            Some(var) => format!("source.username and ${var} (source.password)"),
            None => "source.password".to_owned(),
        };
        let mut grant_settings = HttpSettings::new("ManusPlus", &cfg.base_url);
        grant_settings.configure(&cfg.http);
        grant_settings.concurrency = 1;
        grant_settings.credential_hint = settings.credential_hint.clone();
        let grant = HttpClient::anonymous(grant_settings, describe_error)?;
        let client = HttpClient::new(settings, "Bearer -", describe_error)?;
        Ok(ManusPlusSource {
            cfg: cfg.clone(),
            password,
            client: Arc::new(client),
            grant,
            expires: None,
            grants: 0,
            rt: kit.runtime()?,
        })
    }

    /// The client (request counts).
    pub fn client(&self) -> &HttpClient {
        &self.client
    }

    /// Tokens granted so far.
    pub fn grants(&self) -> u64 {
        self.grants
    }

    fn path(&self, template: &str) -> String {
        template.replace("{node}", &super::http::encode(&self.cfg.node))
    }

    async fn renew(&mut self) -> Result<(), ConnectorError> {
        let path = &self.cfg.paths.token;
        let form = [
            ("grant_type", "password"),
            ("client_id", self.cfg.client_id.as_str()),
            ("username", self.cfg.username.as_str()),
            ("password", self.password.as_str()),
        ];
        let body = match self.grant.post_form(path, &form).await {
            Ok(r) => r.body,
            Err(HttpError::Transport { message, .. }) => {
                return Err(ConnectorError::Transport {
                    message: format!(
                        "ManusPlus: the token URL {}{path} gave no token: {message}",
                        self.cfg.base_url.trim_end_matches('/')
                    ),
                    timed_out: false,
                });
            }
            // Whatever else it answered (its own message, already scrubbed), the password grant
            // was refused: after its retries, for a 429 or a 5xx.
            Err(e) => {
                let (status, detail) = match &e {
                    HttpError::Unauthorized { detail, .. } => {
                        (reqwest::StatusCode::UNAUTHORIZED, detail.clone())
                    }
                    HttpError::Status { status, detail, .. } => (*status, detail.clone()),
                    HttpError::Transport { .. } => unreachable!("handled above"),
                };
                return Err(ConnectorError::Auth(format!(
                    "ManusPlus refused the data service user ({status}{detail}): check \
                     source.username and {}",
                    self.client.settings().credential_hint
                )));
            }
        };
        let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let Some(token) = v.get("access_token").and_then(Value::as_str) else {
            return Err(ConnectorError::Auth(
                "ManusPlus: the token answer has no access_token".to_owned(),
            ));
        };
        orgsync_core::redact::register(token);
        self.client.set_authorization(&format!("Bearer {token}"))?;
        let lifetime = v.get("expires_in").and_then(Value::as_u64).unwrap_or(3600);
        self.expires = Some(Instant::now() + Duration::from_secs(lifetime));
        self.grants += 1;
        Ok(())
    }

    async fn get(&mut self, path: &str) -> Result<Vec<u8>, ConnectorError> {
        if self
            .expires
            .is_none_or(|e| Instant::now() + RENEW_BEFORE >= e)
        {
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
                    tracing::info!("ManusPlus: the token was refused; asking for a new one");
                    self.renew().await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// One page: its items and the total, when the answer has one.
    async fn page(
        &mut self,
        path: &str,
        offset: usize,
    ) -> Result<(Vec<Value>, Option<usize>), ConnectorError> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = format!(
            "{path}{sep}offset={offset}&limit={}",
            self.cfg.page_size.max(1)
        );
        let body = self.get(&url).await?;
        let v: Value = serde_json::from_slice(&body).map_err(|e| ConnectorError::Data {
            path: format!("{}{path}", self.client.settings().base_url),
            line: 0,
            message: format!("offset {offset}: the answer is not JSON: {e}"),
        })?;
        let f = &self.cfg.fields;
        match v {
            Value::Array(items) => Ok((items, None)),
            Value::Object(mut o) => {
                let total = o.get(&f.total).and_then(Value::as_u64).map(|t| t as usize);
                match o.remove(&f.items) {
                    Some(Value::Array(items)) => Ok((items, total)),
                    _ => Err(ConnectorError::Data {
                        path: format!("{}{path}", self.client.settings().base_url),
                        line: 0,
                        message: format!(
                            "offset {offset}: the answer has no list under `{}` \
                             (source.fields.items)",
                            f.items
                        ),
                    }),
                }
            }
            _ => Err(ConnectorError::Data {
                path: format!("{}{path}", self.client.settings().base_url),
                line: 0,
                message: format!("offset {offset}: the answer is not a list"),
            }),
        }
    }

    /// Every item of a list, page by page; see the module docs for how cut pages are caught.
    async fn list(&mut self, template: &str) -> Result<Vec<Value>, ConnectorError> {
        let path = self.path(template);
        let limit = self.cfg.page_size.max(1) as usize;
        let mut items: Vec<Value> = Vec::new();
        let mut known_total: Option<usize> = None;
        loop {
            let offset = items.len();
            let (mut page, mut total) = self.page(&path, offset).await?;
            let mut reads = 1;
            // Short of a full page: the end, or a cut. Read again until the answer is whole or
            // two reads agree (without a total), with the total as the judge when there is one.
            while page.len() < limit {
                let expected = total.map(|t| t.saturating_sub(offset).min(limit));
                if expected.is_some_and(|e| page.len() >= e) {
                    break;
                }
                if reads >= PAGE_READS {
                    if expected.is_none() {
                        break;
                    }
                    return Err(ConnectorError::Listing(format!(
                        "ManusPlus: {path} at offset {offset} came back with {} items on \
                         {reads} reads, short of the {} its total of {} promises: pages are \
                         being cut. Nothing was planned; try again",
                        page.len(),
                        expected.unwrap_or_default(),
                        total.unwrap_or_default()
                    )));
                }
                let (again, again_total) = self.page(&path, offset).await?;
                reads += 1;
                let agree = expected.is_none() && again.len() == page.len();
                if again.len() > page.len() {
                    page = again;
                    total = again_total;
                }
                if agree {
                    break;
                }
            }
            if let (Some(before), Some(now)) = (known_total, total)
                && before != now
            {
                return Err(ConnectorError::Listing(format!(
                    "ManusPlus: the total of {path} changed from {before} to {now} while it was \
                     read. Nothing was planned; try again"
                )));
            }
            known_total = known_total.or(total);
            let short = page.len() < limit;
            items.extend(page);
            if short || known_total.is_some_and(|t| items.len() >= t) {
                break;
            }
        }
        if let Some(t) = known_total
            && items.len() != t
        {
            return Err(ConnectorError::Listing(format!(
                "ManusPlus: {path} gave {} items but says it has {t}. Nothing was planned; try \
                 again",
                items.len()
            )));
        }
        Ok(items)
    }

    /// `validate --online`: the data service user gets a token, and every list path answers
    /// with a list. Returns the problems found (a path that answers 404, or not a list).
    pub fn check_online(&mut self) -> Result<Vec<String>, ConnectorError> {
        let rt = Arc::clone(&self.rt);
        rt.block_on(async {
            self.renew().await?;
            let p = self.cfg.paths.clone();
            let mut problems = Vec::new();
            for (key, template) in [
                ("nodes", &p.nodes),
                ("employees", &p.employees),
                ("contracts", &p.contracts),
                ("departments", &p.departments),
                ("functions", &p.functions),
            ] {
                let path = self.path(template);
                match self.page(&path, 0).await {
                    Ok(_) => {}
                    Err(ConnectorError::Data { message, .. }) => {
                        problems.push(format!("source.paths.{key}: {path}: {message}"));
                    }
                    Err(ConnectorError::NotFound(_)) => {
                        problems.push(format!(
                            "source.paths.{key}: {path} does not exist (404): check the path and source.node"
                        ));
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok(problems)
        })
    }

    async fn fetch_all(&mut self) -> Result<SourceSnapshot, ConnectorError> {
        let paths = self.cfg.paths.clone();
        let lists = Lists {
            nodes: self.list(&paths.nodes).await?,
            departments: self.list(&paths.departments).await?,
            functions: self.list(&paths.functions).await?,
            employees: self.list(&paths.employees).await?,
            contracts: self.list(&paths.contracts).await?,
        };
        let snapshot = snapshot(
            &lists,
            &self.cfg.fields,
            &self.cfg.node,
            self.cfg.community_level,
        )
        .map_err(|m| ConnectorError::Listing(format!("ManusPlus: {m}")))?;
        tracing::info!(
            employees = lists.employees.len(),
            contracts = lists.contracts.len(),
            requests = self.client.requests(),
            grants = self.grants,
            "fetched ManusPlus"
        );
        Ok(snapshot)
    }
}

impl Source for ManusPlusSource {
    fn fetch(&mut self) -> Result<SourceSnapshot, ConnectorError> {
        let rt = Arc::clone(&self.rt);
        rt.block_on(self.fetch_all())
    }

    /// Reads the employee list once more, every page with a fetch's checks, and returns the
    /// ids among `ids` that an employee there has (its employee number, else its own id, as
    /// the snapshot names people). Why not one request per person: `source.paths` names lists
    /// only — no path for one employee — and a person's id is the employee *number*, while a
    /// path for one employee would take ManusPlus's own employee id, which only the listing
    /// that lacked the person could have given. One re-read costs the employee list's pages
    /// (employees ÷ `page_size`, and a re-read of a short page). It finds a person a transient
    /// cut hid; a list cut the same way on every read hides them again, but a list with a
    /// total (the default shape) fails the fetch on that instead.
    fn lookup(&mut self, ids: &[String]) -> Result<Vec<String>, ConnectorError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rt = Arc::clone(&self.rt);
        let template = self.cfg.paths.employees.clone();
        let employees = rt.block_on(self.list(&template))?;
        let f = &self.cfg.fields;
        let numbers: HashSet<String> = employees
            .iter()
            .filter_map(|e| field(e, &f.employee_number).or_else(|| field(e, &f.id)))
            .collect();
        let found: Vec<String> = ids
            .iter()
            .filter(|id| numbers.contains(id.trim()))
            .cloned()
            .collect();
        tracing::info!(
            asked = ids.len(),
            found = found.len(),
            employees = employees.len(),
            "ManusPlus: people missing from the listing looked up in the employee list read again"
        );
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orgsync_sandbox::generate::{GenerateOptions, generate};
    use orgsync_sandbox::manusplus::{
        ManusPlusData, ManusPlusSettings, ROOT_NODE, USERNAME, community_node, router,
    };
    use orgsync_sandbox::serve::{Faults, Running, spawn};

    const PASSWORD: &str = "manus-test-password";

    fn hr() -> SourceSnapshot {
        generate(&GenerateOptions::new(60, 5)).source
    }

    fn start(data: &ManusPlusData, faults: Faults, settings: ManusPlusSettings) -> Running {
        spawn(router(data.clone(), PASSWORD, faults, settings), 0).unwrap()
    }

    fn source(server: &Running, extra: serde_json::Value) -> ManusPlusSource {
        let mut cfg = serde_json::json!({
            "base_url": format!("{}/sandbox", server.url()),
            "username": USERNAME,
            "password": "${env:MANUS_PASSWORD}",
            "node": ROOT_NODE,
            "page_size": 7,
        });
        cfg.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let cfg: ManusPlusSourceConfig = serde_json::from_value(cfg).unwrap();
        ManusPlusSource::new(
            &cfg,
            &Kit::new(move |_| Some(PASSWORD.to_owned()), false).unwrap(),
        )
        .unwrap()
    }

    fn fetch(data: &ManusPlusData, faults: Faults) -> Result<SourceSnapshot, ConnectorError> {
        let server = start(data, faults, ManusPlusSettings::default());
        source(&server, serde_json::json!({})).fetch()
    }

    /// The emulator holds the generated organisation; the source gives it back: the same
    /// people with the same employments, communities on level 1 (contracts on team nodes
    /// below a location count for the location), managers as employee numbers.
    #[test]
    fn people_and_employments_come_back_as_the_organisation_holds_them() {
        let hr = hr();
        let data = ManusPlusData::from_snapshot(&hr);
        let snapshot = fetch(&data, Faults::default()).unwrap();
        assert_eq!(snapshot.persons.len(), hr.persons.len());
        let several = snapshot
            .persons
            .iter()
            .filter(|p| p.employments.len() > 1)
            .count();
        assert!(several > 0, "some people have several contracts");
        for (got, want) in snapshot.persons.iter().zip(&hr.persons) {
            assert_eq!(got.id, want.id);
            assert_eq!(got.email, want.email);
            assert_eq!(got.last_name, want.last_name);
            assert_eq!(got.manager, want.manager);
            assert_eq!(got.employments.len(), want.employments.len());
            for (g, w) in got.employments.iter().zip(&want.employments) {
                assert_eq!((g.start, g.end), (w.start, w.end));
                assert_eq!(g.community, w.community.as_deref().map(community_node));
                assert_eq!(
                    g.department,
                    w.department.as_deref().map(ManusPlusData::department_id)
                );
            }
        }
        let names: Vec<&str> = snapshot
            .communities
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert!(names.contains(&"Amsterdam Centrum"), "{names:?}");
        // Level 2 is the teams: every community is then a team node.
        let server = start(&data, Faults::default(), ManusPlusSettings::default());
        let teams = source(&server, serde_json::json!({ "community_level": 2 }))
            .fetch()
            .unwrap();
        assert!(teams.communities.iter().all(|c| c.name.ends_with(" team")));
    }

    #[test]
    fn faults_give_the_whole_snapshot_or_an_error() {
        let data = ManusPlusData::from_snapshot(&hr());
        let whole = fetch(&data, Faults::default()).unwrap();
        for n in 2..=5 {
            let faults = Faults {
                short_page_every: Some(n),
                ..Faults::default()
            };
            assert_eq!(fetch(&data, faults).unwrap(), whole, "short_page_every {n}");
        }
        // With a total, a page cut on every read is caught.
        let every = Faults {
            short_page_every: Some(1),
            ..Faults::default()
        };
        let err = fetch(&data, every).unwrap_err().to_string();
        assert!(err.contains("Nothing was planned"), "{err}");
        let noisy = Faults {
            throttle_every: Some(4),
            retry_after: 0,
            error_rate: 0.15,
            reset_rate: 0.05,
            ..Faults::default()
        };
        let server = start(&data, noisy, ManusPlusSettings::default());
        let mut s = source(&server, serde_json::json!({ "retries": 8 }));
        assert_eq!(s.fetch().unwrap(), whole);
        assert!(s.client().throttled() > 0);
    }

    /// ManusPlus has no path for one employee that takes an employee number: the employee
    /// list is read again, once, and a person found there is found; one who is gone is not.
    #[test]
    fn lookup_reads_the_employee_list_again() {
        let hr = hr();
        let data = ManusPlusData::from_snapshot(&hr);
        let server = start(&data, Faults::default(), ManusPlusSettings::default());
        let mut s = source(&server, serde_json::json!({}));
        let present = hr.persons[hr.persons.len() / 2].id.clone();
        let ids = ["999999".to_owned(), present.clone()];
        assert_eq!(s.lookup(&ids).unwrap(), std::slice::from_ref(&present));
        // The employee list's pages (60 employees, 7 a page), and the grant.
        let pages = hr.persons.len().div_ceil(7) as u64;
        assert_eq!(s.client().requests(), pages);
        assert!(s.lookup(&[]).unwrap().is_empty());
        assert_eq!(
            s.client().requests(),
            pages,
            "nothing to ask, nothing asked"
        );
        // A cut page is read again, as in a fetch.
        let server = start(
            &data,
            Faults {
                short_page_every: Some(3),
                ..Faults::default()
            },
            ManusPlusSettings::default(),
        );
        let mut s = source(&server, serde_json::json!({}));
        assert_eq!(s.lookup(&ids).unwrap(), [present]);
    }

    #[test]
    fn an_expired_token_is_granted_again() {
        let data = ManusPlusData::from_snapshot(&hr());
        let whole = fetch(&data, Faults::default()).unwrap();
        let server = start(
            &data,
            Faults {
                expire_token_after: Some(4),
                ..Faults::default()
            },
            ManusPlusSettings::default(),
        );
        let mut s = source(&server, serde_json::json!({}));
        assert_eq!(s.fetch().unwrap(), whole);
        assert!(s.grants() > 2, "{}", s.grants());
        // A wrong password is refused at the grant, and the password is not in the message.
        let cfg: ManusPlusSourceConfig = serde_json::from_value(serde_json::json!({
            "base_url": format!("{}/sandbox", server.url()),
            "username": USERNAME, "password": "${env:MANUS_PASSWORD}", "node": ROOT_NODE,
        }))
        .unwrap();
        let err = ManusPlusSource::new(
            &cfg,
            &Kit::new(move |_| Some("wrong-password-123".into()), false).unwrap(),
        )
        .unwrap()
        .fetch()
        .unwrap_err()
        .to_string();
        assert!(err.contains("refused the data service user"), "{err}");
        assert!(!err.contains("wrong-password-123"), "{err}");
    }

    #[test]
    fn validate_online_names_a_path_that_does_not_exist() {
        let data = ManusPlusData::from_snapshot(&hr());
        let server = start(&data, Faults::default(), ManusPlusSettings::default());
        let mut good = source(&server, serde_json::json!({}));
        assert!(good.check_online().unwrap().is_empty());
        let mut bad = source(
            &server,
            serde_json::json!({ "paths": { "contracts": "/api/node/{node}/contracts" }, "retries": 0 }),
        );
        let problems = bad.check_online().unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("source.paths.contracts: "),
            "{problems:?}"
        );
    }

    #[test]
    fn field_paths_reach_into_objects_and_read_numbers() {
        let v = serde_json::json!({ "a": { "b": 12 }, "c": " x ", "d": "", "e": null });
        assert_eq!(field(&v, "a.b").as_deref(), Some("12"));
        assert_eq!(field(&v, "c").as_deref(), Some("x"));
        assert_eq!(field(&v, "d"), None);
        assert_eq!(field(&v, "e"), None);
        assert_eq!(field(&v, "a.x"), None);
        assert_eq!(date("2024-03-01T00:00:00"), "2024-03-01".parse().ok());
    }

    #[test]
    fn a_contract_of_an_unknown_employee_or_with_a_bad_date_fails() {
        let f = ManusPlusFields::default();
        let lists = Lists {
            employees: vec![serde_json::json!({ "id": "e1", "number": "100" })],
            contracts: vec![serde_json::json!({ "id": "c1", "employeeId": "e2" })],
            ..Lists::default()
        };
        let err = snapshot(&lists, &f, "root", 1).unwrap_err();
        assert!(err.contains("not in the employee list"), "{err}");
        let lists = Lists {
            employees: vec![serde_json::json!({ "id": "e1", "number": "100" })],
            contracts: vec![
                serde_json::json!({ "id": "c1", "employeeId": "e1", "startDate": "1-3-2024" }),
            ],
            ..Lists::default()
        };
        assert!(
            snapshot(&lists, &f, "root", 1)
                .unwrap_err()
                .contains("not a date")
        );
    }
}
