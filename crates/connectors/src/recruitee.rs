//! The `recruitee` source: hired candidates from Recruitee's API.
//!
//! - `GET {base}/c/{company}/candidates?limit=L&offset=O`, `Authorization: Bearer <personal API
//!   token>`. The answer is wrapped: `{"candidates":[…],"generated_at":…,"references":[…]}`. A
//!   candidate has one `name`, `emails[]`, `phones[]` and `placements[]` (one per job, with
//!   `offer_id`, `stage_id` and `hired_at`); stages and jobs are in `references` (`type:
//!   "Stage"` with `category`, `type: "Offer"` with `title`). Confirmed from answers captured in
//!   public client code; `hired_in_this_placement` is not reliable there, so orgsync goes by the
//!   stage.
//! - A placement is hired when its stage's category is `source.hired.category` (`hire`), or
//!   its stage name is listed in `hired.stages` or, for its job, in `hired.jobs`.
//! - Address, birth date and gender come only from the detail answer
//!   (`GET …/candidates/{id}`: `{"candidate":{…,"fields":[…]}}`), read for hired candidates only.
//!   [I] A profile field is `{"name" | "kind", "values":[{"text" | "date" | "value": …}]}`:
//!   orgsync matches `source.fields` on `name`, else `kind`, and takes the first value.
//! - Paging [I: Recruitee documents `limit`/`offset` but no order or total]: pages are read in
//!   turn; a short page is read again until its longest answer came back twice (a cut only loses
//!   candidates), then the next offset is asked for and must be empty (a cut page looks like the
//!   last one); rows there mean the page was cut, and paging goes on after what it held. [I] A
//!   cut is transient: a page read again comes back whole at least twice in six reads. A candidate that comes back on two pages means the order moved while paging
//!   (rows that tie on the sort key): then everything is read again in one unpaged request,
//!   which Recruitee answers with every candidate.
//! - `validate --online` reads one page of candidates ([`RecruiteeSource::check_online`]).
//! - Lookup ([`Source::lookup`]): a person the listing lacked is asked for directly, `GET
//!   …/candidates/{id}`, and found only while a placement is still hired.
//! - A person's `id` is the candidate id; the e-mail is the first of `emails`; the name is split
//!   at its first word unless `source.fields.first_name`/`last_name` name profile fields (a
//!   Dutch prefix such as `van der` stays with the last name) [I]. Each hired placement is one
//!   employment: its job (offer id) is the function, `hired_at`'s date its start.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;
use tokio::task::JoinSet;

use super::Kit;
use super::http::{HttpClient, HttpSettings};
use super::{ConnectorError, Source};
use orgsync_core::config::RecruiteeSourceConfig;
use orgsync_core::model::{Employment, Person, SourceGroup, SourceSnapshot};

/// Reads hired candidates from Recruitee.
#[derive(Debug)]
pub struct RecruiteeSource {
    cfg: RecruiteeSourceConfig,
    client: Arc<HttpClient>,
    rt: Arc<tokio::runtime::Runtime>,
}

/// Recruitee's error bodies [I]: `{"error": ["…"]}` or `{"error": "…"}`, `{"message": "…"}`.
pub fn describe_error(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let e = v
        .get("error")
        .or_else(|| v.get("errors"))
        .or_else(|| v.get("message"))?;
    match e {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("; "),
        )
        .filter(|s| !s.is_empty()),
        _ => None,
    }
}

/// A candidate as the list and detail answers carry it (the fields orgsync reads).
#[derive(Debug, Clone, Deserialize)]
pub struct Candidate {
    /// The candidate id.
    pub id: u64,
    /// One name string.
    #[serde(default)]
    pub name: Option<String>,
    /// E-mail addresses.
    #[serde(default)]
    pub emails: Vec<String>,
    /// Phone numbers.
    #[serde(default)]
    pub phones: Vec<String>,
    /// One per job.
    #[serde(default)]
    pub placements: Vec<Placement>,
    /// Profile fields (detail answer only).
    #[serde(default)]
    pub fields: Vec<Value>,
}

/// A candidate's placement on one job.
#[derive(Debug, Clone, Deserialize)]
pub struct Placement {
    /// The job (offer) id.
    #[serde(default)]
    pub offer_id: Option<u64>,
    /// The stage it is in.
    #[serde(default)]
    pub stage_id: Option<u64>,
    /// When it was hired.
    #[serde(default)]
    pub hired_at: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ListAnswer {
    candidates: Vec<Candidate>,
    #[serde(default)]
    references: Vec<Value>,
}

#[derive(Debug, Deserialize)]
struct DetailAnswer {
    candidate: Candidate,
    /// Stages and jobs, when the detail answer carries them [I].
    #[serde(default)]
    references: Vec<Value>,
}

/// Stages and jobs from `references`.
#[derive(Debug, Default)]
struct References {
    /// stage id → (name, category).
    stages: HashMap<u64, (String, String)>,
    /// job id → title.
    jobs: HashMap<u64, String>,
}

impl References {
    fn add(&mut self, refs: &[Value]) {
        for r in refs {
            let Some(id) = r.get("id").and_then(Value::as_u64) else {
                continue;
            };
            let text = |k: &str| {
                r.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            match r.get("type").and_then(Value::as_str) {
                Some("Stage") => {
                    self.stages.insert(id, (text("name"), text("category")));
                }
                Some("Offer") => {
                    self.jobs.insert(id, text("title"));
                }
                _ => {}
            }
        }
    }
}

impl RecruiteeSource {
    /// A source for `cfg`; the token is resolved now from the kit's environment.
    pub fn new(cfg: &RecruiteeSourceConfig, kit: &Kit) -> Result<RecruiteeSource, ConnectorError> {
        let token = cfg
            .token
            .resolve("source.token", kit.secrets())
            .map_err(|e| ConnectorError::Config(e.to_string()))?;
        let base = format!(
            "{}/c/{}",
            cfg.base_url.trim_end_matches('/'),
            cfg.company_id.trim()
        );
        let mut settings = HttpSettings::new("Recruitee", &base);
        settings.configure(&cfg.http);
        settings.concurrency = cfg.concurrency.max(1) as usize;
        settings.rate_limit = cfg.rate_limit;
        settings.progress = kit.progress();
        settings.credential_hint = cfg.token.hint("source.token");
        let client = HttpClient::new(
            settings,
            &format!("Bearer {}", token.trim()),
            describe_error,
        )?;
        Ok(RecruiteeSource {
            cfg: cfg.clone(),
            client: Arc::new(client),
            rt: kit.runtime()?,
        })
    }

    /// The client (request counts).
    pub fn client(&self) -> &HttpClient {
        &self.client
    }

    fn data_error(&self, path: &str, message: impl Into<String>) -> ConnectorError {
        ConnectorError::Data {
            path: format!("{}{path}", self.client.settings().base_url),
            line: 0,
            message: message.into(),
        }
    }

    async fn page(&self, path: &str) -> Result<ListAnswer, ConnectorError> {
        let r = self.client.get(path).await?;
        r.json::<ListAnswer>()
            .map_err(|m| self.data_error(path, format!("unexpected response body: {m}")))
    }

    /// The page at `path` read until its longest answer has come back twice (a cut only ever
    /// loses candidates), at most six times; an answer that never repeats fails the fetch.
    async fn confirmed(&self, path: &str, first: ListAnswer) -> Result<ListAnswer, ConnectorError> {
        let mut lengths = vec![first.candidates.len()];
        let mut best = first;
        for _ in 0..5 {
            let again = self.page(path).await?;
            lengths.push(again.candidates.len());
            if again.candidates.len() > best.candidates.len() {
                best = again;
            }
            let n = best.candidates.len();
            if lengths.iter().filter(|l| **l == n).count() >= 2 {
                return Ok(best);
            }
        }
        Err(ConnectorError::Listing(format!(
            "Recruitee: {path} came back with {lengths:?} candidates on six reads: a page is              being cut short. Nothing was planned; try again"
        )))
    }

    /// Every candidate, with the references of every page.
    async fn list(&self) -> Result<(Vec<Candidate>, References), ConnectorError> {
        let limit = u64::from(self.cfg.page_size.max(1));
        let mut refs = References::default();
        let mut out: Vec<Candidate> = Vec::new();
        let mut seen: BTreeSet<u64> = BTreeSet::new();
        let mut offset = 0u64;
        loop {
            let path = format!("/candidates?limit={limit}&offset={offset}");
            let mut answer = self.page(&path).await?;
            if (answer.candidates.len() as u64) < limit {
                // A short page is the last one, or one cut short.
                answer = self.confirmed(&path, answer).await?;
            }
            let n = answer.candidates.len() as u64;
            refs.add(&answer.references);
            for c in answer.candidates {
                if !seen.insert(c.id) {
                    tracing::warn!(
                        "Recruitee: candidate {} came back on two pages (the order moved while \
                         paging); reading every candidate in one request instead",
                        c.id
                    );
                    return self.unpaged(seen.len()).await;
                }
                out.push(c);
            }
            if n == limit {
                offset += limit;
                continue;
            }
            // Nothing may follow the last page; rows after it mean it was cut: page on.
            let next = format!("/candidates?limit={limit}&offset={}", offset + n);
            let after = self.page(&next).await?;
            if after.candidates.is_empty() {
                break;
            }
            tracing::warn!("Recruitee: the page at offset {offset} was cut short; paging on");
            offset += n;
            if offset > 10_000_000 {
                return Err(ConnectorError::Listing(
                    "Recruitee: more than 10 million candidates: the server seems to ignore `offset`"
                        .to_owned(),
                ));
            }
        }
        Ok((out, refs))
    }

    /// Every candidate in one request (Recruitee answers without `limit`/`offset` with all of
    /// them), confirmed like a short page; it must hold at least the `at_least` distinct
    /// candidates paging saw.
    async fn unpaged(
        &self,
        at_least: usize,
    ) -> Result<(Vec<Candidate>, References), ConnectorError> {
        let first = self.page("/candidates").await?;
        let answer = self.confirmed("/candidates", first).await?;
        let mut refs = References::default();
        refs.add(&answer.references);
        let mut seen = BTreeSet::new();
        let candidates: Vec<Candidate> = answer
            .candidates
            .into_iter()
            .filter(|c| seen.insert(c.id))
            .collect();
        if candidates.len() < at_least {
            return Err(ConnectorError::Listing(format!(
                "Recruitee: the list of every candidate came back with {} candidates, fewer \
                 than the {at_least} paging had seen: it was cut short. Nothing was planned; \
                 try again",
                candidates.len()
            )));
        }
        Ok((candidates, refs))
    }

    async fn fetch_all(&self) -> Result<SourceSnapshot, ConnectorError> {
        let (candidates, refs) = self.list().await?;
        let hired: Vec<Candidate> = candidates
            .into_iter()
            .filter(|c| !hired_placements(&self.cfg, c, &refs).is_empty())
            .collect();
        // Detail answers, concurrently within the client's bound.
        let mut details: JoinSet<Result<(usize, Candidate), ConnectorError>> = JoinSet::new();
        for (i, c) in hired.iter().enumerate() {
            let client = Arc::clone(&self.client);
            let path = format!("/candidates/{}", c.id);
            let base = client.settings().base_url.clone();
            details.spawn(async move {
                let r = client.get(&path).await?;
                let d: DetailAnswer = r.json().map_err(|m| ConnectorError::Data {
                    path: format!("{base}{path}"),
                    line: 0,
                    message: format!("unexpected response body: {m}"),
                })?;
                Ok((i, d.candidate))
            });
        }
        let mut full: Vec<Option<Candidate>> = vec![None; hired.len()];
        while let Some(joined) = details.join_next().await {
            let (i, c) = joined.map_err(|e| ConnectorError::Transport {
                message: format!("Recruitee: a request task failed: {e}"),
                timed_out: false,
            })??;
            full[i] = Some(c);
        }
        let mut persons = Vec::with_capacity(hired.len());
        let mut jobs: BTreeMap<String, String> = BTreeMap::new();
        for (listed, detail) in hired.iter().zip(full) {
            // The list's placements decide (the detail answer may omit references).
            let mut c = detail.unwrap_or_else(|| listed.clone());
            c.placements.clone_from(&listed.placements);
            let person = to_person(&self.cfg, &c, &refs);
            for e in &person.employments {
                if let Some(f) = &e.function {
                    let title = f
                        .parse::<u64>()
                        .ok()
                        .and_then(|id| refs.jobs.get(&id).cloned())
                        .unwrap_or_else(|| f.clone());
                    jobs.insert(f.clone(), title);
                }
            }
            persons.push(person);
        }
        // Recruitee promises no order (candidates that tie on `created_at` come in another order
        // on every request): sorted by id, the same data gives the same snapshot and digest.
        persons.sort_by_key(|p| (p.id.parse::<u64>().unwrap_or(u64::MAX), p.id.clone()));
        tracing::info!(
            hired = persons.len(),
            requests = self.client.requests(),
            "fetched the Recruitee candidates"
        );
        Ok(SourceSnapshot {
            persons,
            communities: Vec::new(),
            functions: jobs
                .into_iter()
                .map(|(id, name)| SourceGroup { id, name })
                .collect(),
            departments: Vec::new(),
            unlisted: Vec::new(),
            left: Vec::new(),
        })
    }
}

impl RecruiteeSource {
    /// `validate --online`: one page of candidates (`GET …/candidates?limit=1&offset=0`) with
    /// the token, read as the listing reads it. A refused token (401), a server error or a
    /// timeout (after the configured retries) is an error, as for the other sources.
    pub fn check_online(&self) -> Result<Vec<String>, ConnectorError> {
        self.rt
            .block_on(self.page("/candidates?limit=1&offset=0"))?;
        Ok(Vec::new())
    }
}

impl Source for RecruiteeSource {
    fn fetch(&mut self) -> Result<SourceSnapshot, ConnectorError> {
        self.rt.block_on(self.fetch_all())
    }

    fn lookup(&mut self, ids: &[String]) -> Result<Vec<String>, ConnectorError> {
        self.rt.block_on(self.lookup_candidates(ids))
    }
}

impl RecruiteeSource {
    /// Which of `ids` are candidates that are hired today: `GET /candidates/{id}` for each
    /// (concurrently within the client's bound; a 404 is a candidate that is gone), and a
    /// candidate counts only while a placement is hired by `source.hired`, as the listing
    /// decides it. Stages come from the detail answer's `references`; when it names none of a
    /// placement's stage, from one list request's (`/candidates?limit=1`), once.
    async fn lookup_candidates(&self, ids: &[String]) -> Result<Vec<String>, ConnectorError> {
        let requests = self.client.requests();
        let mut asks: JoinSet<Result<Option<(String, DetailAnswer)>, ConnectorError>> =
            JoinSet::new();
        for id in ids {
            // A candidate id is a number: anything else is no candidate.
            if id.trim().parse::<u64>().is_err() {
                continue;
            }
            let client = Arc::clone(&self.client);
            let id = id.clone();
            let base = client.settings().base_url.clone();
            asks.spawn(async move {
                let path = format!("/candidates/{}", id.trim());
                let r = match client.get(&path).await {
                    Ok(r) => r,
                    Err(e) if e.status().is_some_and(|s| s.as_u16() == 404) => return Ok(None),
                    Err(e) => return Err(e.into()),
                };
                let d: DetailAnswer = r.json().map_err(|m| ConnectorError::Data {
                    path: format!("{base}{path}"),
                    line: 0,
                    message: format!("unexpected response body: {m}"),
                })?;
                Ok(Some((id, d)))
            });
        }
        let mut answers = Vec::new();
        while let Some(joined) = asks.join_next().await {
            let answer = joined.map_err(|e| ConnectorError::Transport {
                message: format!("Recruitee: a request task failed: {e}"),
                timed_out: false,
            })??;
            answers.extend(answer);
        }
        let mut listed: Option<References> = None;
        let mut found = std::collections::HashSet::new();
        for (id, answer) in answers {
            let mut refs = References::default();
            refs.add(&answer.references);
            let unknown = answer
                .candidate
                .placements
                .iter()
                .any(|p| p.stage_id.is_some_and(|s| !refs.stages.contains_key(&s)));
            if unknown {
                if listed.is_none() {
                    let mut list = References::default();
                    list.add(&self.page("/candidates?limit=1&offset=0").await?.references);
                    listed = Some(list);
                }
                if let Some(list) = &listed {
                    for (stage, named) in &list.stages {
                        refs.stages.entry(*stage).or_insert_with(|| named.clone());
                    }
                    for (job, title) in &list.jobs {
                        refs.jobs.entry(*job).or_insert_with(|| title.clone());
                    }
                }
            }
            if !hired_placements(&self.cfg, &answer.candidate, &refs).is_empty() {
                found.insert(id);
            }
        }
        let out: Vec<String> = ids.iter().filter(|i| found.contains(*i)).cloned().collect();
        tracing::info!(
            asked = ids.len(),
            found = out.len(),
            requests = self.client.requests() - requests,
            "Recruitee: people missing from the listing looked up directly"
        );
        Ok(out)
    }
}

/// The placements of `c` that count as hired.
fn hired_placements<'c>(
    cfg: &RecruiteeSourceConfig,
    c: &'c Candidate,
    refs: &References,
) -> Vec<&'c Placement> {
    c.placements
        .iter()
        .filter(|p| {
            let Some((name, category)) = p.stage_id.and_then(|s| refs.stages.get(&s)) else {
                return false;
            };
            let job_id = p.offer_id.map(|j| j.to_string()).unwrap_or_default();
            let job_title = p
                .offer_id
                .and_then(|j| refs.jobs.get(&j))
                .cloned()
                .unwrap_or_default();
            let per_job = cfg.hired.jobs.iter().find(|(job, _)| {
                **job == job_id || (!job_title.is_empty() && job.eq_ignore_ascii_case(&job_title))
            });
            let named =
                |stages: &[String]| stages.iter().any(|s| s.trim().eq_ignore_ascii_case(name));
            match per_job {
                Some((_, stages)) => named(stages),
                None if !cfg.hired.stages.is_empty() => named(&cfg.hired.stages),
                None => {
                    !category.is_empty() && category.eq_ignore_ascii_case(cfg.hired.category.trim())
                }
            }
        })
        .collect()
}

/// The first value of the profile field named `name` (by `name`, else `kind`).
fn field_value(fields: &[Value], name: &str) -> Option<String> {
    let name = name.trim();
    let matches = |f: &&Value, key: &str| {
        f.get(key)
            .and_then(Value::as_str)
            .is_some_and(|n| n.trim().eq_ignore_ascii_case(name))
    };
    let field = fields
        .iter()
        .find(|f| matches(f, "name"))
        .or_else(|| fields.iter().find(|f| matches(f, "kind")))?;
    let first = field.get("values")?.as_array()?.first()?;
    let text = match first {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Object(o) => ["text", "date", "value", "name", "number"]
            .iter()
            .find_map(|k| match o.get(*k) {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            })?,
        _ => return None,
    };
    let text = text.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// Name prefixes that belong to the last name (`Jan van der Berg` → `Jan`, `van der Berg`).
const PREFIXES: [&str; 16] = [
    "van", "de", "der", "den", "het", "ten", "ter", "te", "von", "da", "di", "du", "le", "la",
    "'t", "in",
];

/// `name` as (first name, last name): the first word, and the rest; a run of words before a
/// lowercase name prefix stays in the first name only when no prefix follows the first word.
pub fn split_name(name: &str) -> (String, String) {
    let words: Vec<&str> = name.split_whitespace().collect();
    match words.as_slice() {
        [] => (String::new(), String::new()),
        [one] => ((*one).to_owned(), String::new()),
        _ => {
            let cut = words
                .iter()
                .enumerate()
                .skip(1)
                .find(|(_, w)| PREFIXES.contains(w))
                .map_or(1, |(i, _)| i);
            (words[..cut].join(" "), words[cut..].join(" "))
        }
    }
}

/// A hired candidate as a [`Person`].
fn to_person(cfg: &RecruiteeSourceConfig, c: &Candidate, refs: &References) -> Person {
    let (mut first, mut last) = split_name(c.name.as_deref().unwrap_or_default());
    if let Some(f) = cfg
        .fields
        .first_name
        .as_deref()
        .and_then(|n| field_value(&c.fields, n))
    {
        first = f;
    }
    if let Some(l) = cfg
        .fields
        .last_name
        .as_deref()
        .and_then(|n| field_value(&c.fields, n))
    {
        last = l;
    }
    let mut attributes = BTreeMap::new();
    if let Some(phone) = c.phones.iter().map(|p| p.trim()).find(|p| !p.is_empty()) {
        attributes.insert("phone".to_owned(), phone.to_owned());
    }
    for (key, name) in cfg.fields.named() {
        if let Some(v) = field_value(&c.fields, &name) {
            attributes.insert(key, v);
        }
    }
    let mut employments: Vec<Employment> = hired_placements(cfg, c, refs)
        .into_iter()
        .map(|p| Employment {
            start: p
                .hired_at
                .as_deref()
                .and_then(|t| t.get(..10))
                .and_then(|d| d.parse().ok()),
            end: None,
            community: None,
            function: p.offer_id.map(|j| j.to_string()),
            department: None,
        })
        .collect();
    employments.sort_by(|a, b| (a.start, &a.function).cmp(&(b.start, &b.function)));
    if let Some(job) = employments.first().and_then(|e| e.function.as_deref()) {
        let title = job
            .parse::<u64>()
            .ok()
            .and_then(|id| refs.jobs.get(&id).cloned())
            .unwrap_or_else(|| job.to_owned());
        attributes.insert("job".to_owned(), title);
    }
    Person {
        id: c.id.to_string(),
        email: c
            .emails
            .iter()
            .map(|e| e.trim())
            .find(|e| !e.is_empty())
            .map(str::to_owned),
        conflicting_emails: Vec::new(),
        first_name: first,
        last_name: last,
        employments,
        manager: None,
        attributes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orgsync_sandbox::recruitee::{RecruiteeData, router};
    use orgsync_sandbox::serve::{Faults, spawn};

    const TOKEN: &str = "recruitee-token-51c0";

    fn config(url: &str, page_size: u32) -> RecruiteeSourceConfig {
        serde_json::from_value(serde_json::json!({
            "company_id": "89712",
            "base_url": url,
            "token": "${env:RT}",
            "page_size": page_size,
            "retries": 3,
            "fields": { "extra": ["Shirt size"] },
        }))
        .unwrap()
    }

    fn fetch(
        data: RecruiteeData,
        faults: Faults,
        page_size: u32,
    ) -> Result<SourceSnapshot, ConnectorError> {
        let server = spawn(router(data.shared(), TOKEN, faults), 0).unwrap();
        let cfg = config(&server.url(), page_size);
        let mut source = RecruiteeSource::new(
            &cfg,
            &Kit::new(move |_| Some(TOKEN.to_owned()), false).unwrap(),
        )
        .unwrap();
        source.fetch()
    }

    fn ids(s: &SourceSnapshot) -> Vec<String> {
        let mut ids: Vec<String> = s.persons.iter().map(|p| p.id.clone()).collect();
        ids.sort();
        ids
    }

    fn data() -> RecruiteeData {
        RecruiteeData::generate(97, 5, "2026-06-01".parse().unwrap())
    }

    #[test]
    fn every_hired_candidate_once_with_the_detail_fields() {
        let d = data();
        let mut want = d.hired();
        want.sort();
        let s = fetch(d.clone(), Faults::default(), 10).unwrap();
        assert_eq!(ids(&s), want);
        let p = &s.persons[0];
        for key in [
            "birth_date",
            "gender",
            "phone",
            "street",
            "house_number",
            "postal_code",
            "city",
            "country",
            "field:Shirt size",
            "job",
        ] {
            assert!(
                p.attributes.contains_key(key),
                "{key} missing: {:?}",
                p.attributes
            );
        }
        assert!(p.email.as_deref().is_some_and(|e| e.contains('@')));
        assert_eq!(
            p.employments.len(),
            1,
            "only the hired placement is an employment"
        );
        assert!(p.employments[0].start.is_some());
        assert!(!s.functions.is_empty());
    }

    /// A candidate hired after the listing was read is not in it; asked for directly, they
    /// are found. A candidate still in an earlier stage, and one Recruitee does not have, are
    /// not.
    #[test]
    fn lookup_finds_a_hired_candidate_the_listing_lacks_but_not_others() {
        let d = data();
        let hired = d.hired();
        let waiting: Vec<String> = d
            .candidates
            .iter()
            .map(|c| c["id"].to_string())
            .filter(|id| !hired.contains(id))
            .collect();
        let shared = d.shared();
        let server = spawn(router(shared.clone(), TOKEN, Faults::default()), 0).unwrap();
        let mut source = RecruiteeSource::new(
            &config(&server.url(), 10),
            &Kit::new(move |_| Some(TOKEN.to_owned()), false).unwrap(),
        )
        .unwrap();
        let listed = source.fetch().unwrap();
        shared
            .lock()
            .unwrap()
            .hire(&waiting[0], "2026-06-01".parse().unwrap());
        assert!(listed.persons.iter().all(|p| p.id != waiting[0]));
        let ids = [
            "12345".to_owned(),
            waiting[1].clone(),
            waiting[0].clone(),
            hired[0].clone(),
            "not-a-number".to_owned(),
        ];
        let before = source.client().requests();
        assert_eq!(
            source.lookup(&ids).unwrap(),
            [waiting[0].clone(), hired[0].clone()]
        );
        assert_eq!(
            source.client().requests() - before,
            4,
            "one request per candidate id"
        );
    }

    #[test]
    fn the_same_data_gives_the_same_snapshot_whatever_order_ties_come_in() {
        let d = data();
        let server = spawn(router(d.shared(), TOKEN, Faults::default()), 0).unwrap();
        let cfg = config(&server.url(), 7);
        let mut source = RecruiteeSource::new(
            &cfg,
            &Kit::new(move |_| Some(TOKEN.to_owned()), false).unwrap(),
        )
        .unwrap();
        let first = orgsync_core::digest::of_json(&source.fetch().unwrap());
        for _ in 0..3 {
            assert_eq!(
                orgsync_core::digest::of_json(&source.fetch().unwrap()),
                first
            );
        }
    }

    #[test]
    fn candidates_that_tie_on_the_sort_key_are_neither_lost_nor_doubled() {
        // Import batches share created_at, and the emulator orders ties anew on every request.
        let d = data();
        let mut want = d.hired();
        want.sort();
        for page in [3, 7, 50] {
            let s = fetch(d.clone(), Faults::default(), page).unwrap();
            assert_eq!(ids(&s), want, "page size {page}");
        }
    }

    #[test]
    fn a_cut_page_is_read_again_not_taken_for_the_end() {
        let d = data();
        let mut want = d.hired();
        want.sort();
        // Assumption, as for AFAS: a cut is transient (a page read again comes back whole at
        // least twice in six reads); a server that cuts every answer the same way cannot be
        // told from a smaller one.
        for every in [2, 3, 5] {
            let faults = Faults {
                short_page_every: Some(every),
                ..Faults::default()
            };
            match fetch(d.clone(), faults, 20) {
                Ok(s) => assert_eq!(ids(&s), want, "cut every {every}"),
                Err(e) => assert!(
                    e.to_string().contains("Nothing was planned"),
                    "cut every {every}: {e}"
                ),
            }
        }
    }

    #[test]
    fn throttling_with_retry_after_slows_down_and_completes() {
        let d = data();
        let mut want = d.hired();
        want.sort();
        let faults = Faults {
            throttle_every: Some(4),
            retry_after: 1,
            ..Faults::default()
        };
        let s = fetch(d, faults, 25).unwrap();
        assert_eq!(ids(&s), want);
    }

    #[test]
    fn an_expired_token_fails_the_fetch_and_names_the_variable() {
        // The server quotes the Authorization header in its error body, as some proxies do.
        let faults = Faults {
            expire_token_after: Some(2),
            echo_authorization: true,
            ..Faults::default()
        };
        let e = fetch(data(), faults, 10).unwrap_err().to_string();
        assert!(e.contains("401") && e.contains("$RT"), "{e}");
        assert!(!e.contains(TOKEN), "{e}");
    }

    #[test]
    fn hired_is_the_stage_category_or_the_named_stages_per_job() {
        let d = data();
        let server = spawn(router(d.clone().shared(), TOKEN, Faults::default()), 0).unwrap();
        let mut cfg = config(&server.url(), 100);
        // The offer stage counts for the Barista job only.
        cfg.hired
            .jobs
            .insert("Barista".into(), vec!["offer".into()]);
        let mut source = RecruiteeSource::new(
            &cfg,
            &Kit::new(move |_| Some(TOKEN.to_owned()), false).unwrap(),
        )
        .unwrap();
        let s = source.fetch().unwrap();
        let barista = 1_192_594u64;
        for p in &s.persons {
            for e in &p.employments {
                if e.function.as_deref() == Some(&barista.to_string()) {
                    let c = d
                        .candidates
                        .iter()
                        .find(|c| c["id"].as_u64().is_some_and(|n| n.to_string() == p.id))
                        .unwrap();
                    let stage = c["placements"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|pl| pl["offer_id"] == serde_json::json!(barista))
                        .unwrap()["stage_id"]
                        .clone();
                    assert_eq!(
                        stage,
                        serde_json::json!(orgsync_sandbox::recruitee::OFFER_STAGE)
                    );
                }
            }
        }
        assert!(s.persons.iter().any(|p| {
            p.employments
                .iter()
                .any(|e| e.function.as_deref() == Some("1192594"))
        }));
    }

    #[test]
    fn names_split_at_the_first_word_and_keep_prefixes_with_the_last_name() {
        assert_eq!(
            split_name("Jan van der Berg"),
            ("Jan".into(), "van der Berg".into())
        );
        assert_eq!(
            split_name("Anna  Maria   de Vries"),
            ("Anna Maria".into(), "de Vries".into())
        );
        assert_eq!(
            split_name("Wilma Roelendsen"),
            ("Wilma".into(), "Roelendsen".into())
        );
        assert_eq!(split_name("Cher"), ("Cher".into(), String::new()));
        assert_eq!(split_name("  "), (String::new(), String::new()));
    }

    #[test]
    fn profile_fields_by_name_then_kind_first_value() {
        let fields = vec![
            serde_json::json!({"kind": "date_of_birth", "name": null, "values": [{"date": "1990-04-01"}]}),
            serde_json::json!({"kind": "single_line", "name": "Gender", "values": [{"text": "female"}]}),
            serde_json::json!({"kind": "single_line", "name": "Empty", "values": []}),
        ];
        assert_eq!(
            field_value(&fields, "date_of_birth").as_deref(),
            Some("1990-04-01")
        );
        assert_eq!(field_value(&fields, "gender").as_deref(), Some("female"));
        assert_eq!(field_value(&fields, "Empty"), None);
        assert_eq!(field_value(&fields, "Missing"), None);
    }

    #[test]
    fn error_bodies_read_as_a_sentence() {
        assert_eq!(
            describe_error(br#"{"error":["Not found"]}"#).as_deref(),
            Some("Not found")
        );
        assert_eq!(
            describe_error(br#"{"message":"Unauthorized"}"#).as_deref(),
            Some("Unauthorized")
        );
        assert_eq!(describe_error(b"<html>"), None);
    }
}
