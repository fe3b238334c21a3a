//! The `afas` source: people from an AFAS Profit GetConnector over ProfitRestServices.
//!
//! - Auth: `Authorization: AfasToken <base64 of the token XML>`. The environment variable may
//!   hold the token XML (`<token><version>1</version><data>…</data></token>`), just its hex data,
//!   or the base64 form: all three are accepted [I: clients differ in what they store].
//! - Paging: `skip`/`take`, always with `orderbyfieldids` (AFAS promises no order otherwise).
//!   The order is `source.order_by`, by default the employee number *and* the contract start
//!   date: a GetConnector has one row per employment, so the employee number alone repeats, and
//!   AFAS orders rows that tie as it likes on each request (an SQL `ORDER BY` with an offset) —
//!   tied rows on both sides of a page boundary could be read twice or not at all. Several
//!   fields go comma-separated, `-Field` descending, as public AFAS clients send them [I: AFAS's
//!   help asks to sort on "a unique field, or a combination of fields" but shows no syntax].
//! - Ties: the default key still ties for two employments of one person that start on one day
//!   (a full-time and a part-time contract). The last run of rows of a page that share a key is
//!   held back until the next page shows whether the run goes on there; a run that crosses a
//!   page boundary is read again directly — the GetConnector filtered on the key's values,
//!   `filterfieldids=Medewerker,Begindatum_contract&filtervalues=…&operatortypes=1,1` — and
//!   exactly those rows stand for that key (what the pages gave for it is dropped; they must be
//!   among them). A tie costs that read and its confirmation (a short page, see below): about
//!   three requests. A configured `order_by` promises a key unique per row, so a tie there
//!   fails the fetch and names the fields, as does a tie that cannot be read again (1,000 rows
//!   or more on one key): never a snapshot that may miss a row.
//! - Lookup ([`Source::lookup`]): people the listing lacked are asked for directly, the
//!   GetConnector filtered on the id column, ids OR-ed (`;`) as many per request as the query
//!   string allows (AFAS refuses queries over 2,049 characters), each such read confirmed as a
//!   listing is. A value with a `,` or `;` (AFAS's separators) is asked for with "contains" on
//!   its longest part, and only rows that equal it count.
//! - Pages are fetched concurrently within the client's bound (AFAS asks for at most 5 calls at
//!   once) and merged strictly in page order, with the same row-merging rules as the `file`
//!   source. AFAS sends no totals: its help says to page until a page comes back empty, and the
//!   last page with rows holds fewer than `take`. A page can also come back short because it was cut, and a cut last page looks just
//!   like the end — that once planned the removal of people still in HR. So a short page is
//!   never trusted as it is: with nothing else in flight, it is read again until its longest
//!   answer has come back twice (a cut only ever loses rows), then the rows after it are asked
//!   for and must be none, and any later page already read must be empty. A page that comes
//!   back whole on a second read was cut, and paging goes on. Assumptions [I]: a cut is
//!   transient (reading the page again gives it whole, at least twice in six reads), AFAS
//!   never sends fewer rows than `take` before its last page (a server that caps `take` is
//!   caught by the read after the short page, and fails the fetch with a hint to lower
//!   `page_size`), and the data does not change while it is read (changes that show are
//!   errors; try again).
//! - Dates look like `2024-01-01T00:00:00Z` but are Amsterdam local dates: the time part is
//!   ignored, never converted.
//! - GetConnectors are defined per customer, so the connector id and every field name are
//!   configuration; `orgsync validate --online` checks them through `metainfo`.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::task::JoinSet;

use super::Kit;
use super::file_source::{RowLayout, RowMerger};
use super::http::{HttpClient, HttpSettings, Response};
use super::{ConnectorError, Source};
use orgsync_core::config::{AfasEnvironmentType, AfasSourceConfig};
use orgsync_core::model::SourceSnapshot;

/// Reads people from an AFAS Profit GetConnector.
#[derive(Debug)]
pub struct AfasSource {
    cfg: AfasSourceConfig,
    client: Arc<HttpClient>,
    /// Reads pages with `client`; cheap to hand to a task.
    reader: Reader,
    /// One runtime for the source's life: the client's pooled connections belong to it.
    rt: Arc<tokio::runtime::Runtime>,
}

/// The base URL of a configuration: `base_url`, or the environment's own.
pub fn base_url(cfg: &AfasSourceConfig) -> String {
    profit_url(
        cfg.base_url.as_deref(),
        cfg.environment.as_deref(),
        cfg.environment_type,
    )
}

/// The ProfitRestServices URL of an AFAS environment (`12345` of type test:
/// `https://12345.resttest.afas.online/ProfitRestServices`), or `base_url` when one is given.
/// The one rule for the source and the applicants target alike.
pub fn profit_url(
    base_url: Option<&str>,
    environment: Option<&str>,
    kind: AfasEnvironmentType,
) -> String {
    if let Some(url) = base_url {
        return url.trim_end_matches('/').to_owned();
    }
    let kind = match kind {
        AfasEnvironmentType::Production => "rest",
        AfasEnvironmentType::Test => "resttest",
        AfasEnvironmentType::Accept => "restaccept",
    };
    // Validation makes sure one of `base_url` and `environment` is set.
    format!(
        "https://{}.{kind}.afas.online/ProfitRestServices",
        environment.unwrap_or_default()
    )
}

/// The `Authorization` header value for a token as users store it (see the module docs).
pub fn authorization(token: &str) -> String {
    let token = token.trim();
    let engine = base64::engine::general_purpose::STANDARD;
    let already_encoded = engine
        .decode(token)
        .ok()
        .is_some_and(|d| d.starts_with(b"<token>"));
    let encoded = if already_encoded {
        token.to_owned()
    } else if token.starts_with("<token>") {
        engine.encode(token)
    } else {
        engine.encode(format!(
            "<token><version>1</version><data>{token}</data></token>"
        ))
    };
    format!("AfasToken {encoded}")
}

/// AFAS error bodies: `{"externalMessage": "…", "errorNumber": …, "profitLogReference": "…"}`.
pub fn describe_error(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct AfasErrorBody {
        external_message: Option<String>,
        error_number: Option<i64>,
        profit_log_reference: Option<String>,
    }
    let e: AfasErrorBody = serde_json::from_slice(body).ok()?;
    let mut out = e.external_message.filter(|m| !m.is_empty())?;
    if let Some(n) = e.error_number {
        out.push_str(&format!(" (error {n}"));
        if let Some(r) = e.profit_log_reference {
            out.push_str(&format!(", log reference {r}"));
        }
        out.push(')');
    }
    Some(out)
}

/// AFAS answers some deterministic errors with a 500 like any failure: a GetConnector or field
/// that does not exist (a typo in the configuration) says so in `externalMessage`. Retrying those
/// only delays the error, so the shared client does not; a 500 without such a message (a server
/// timeout, maintenance) is retried as before.
pub fn permanent_error(status: reqwest::StatusCode, body: &[u8]) -> bool {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct AfasErrorBody {
        external_message: Option<String>,
    }
    if status != reqwest::StatusCode::INTERNAL_SERVER_ERROR {
        return false;
    }
    let Ok(e) = serde_json::from_slice::<AfasErrorBody>(body) else {
        return false;
    };
    let message = e.external_message.unwrap_or_default().to_lowercase();
    [
        "bestaat niet",
        "does not exist",
        "niet gevonden",
        "not found",
    ]
    .iter()
    .any(|m| message.contains(m))
}

pub(crate) use super::http::encode;

impl AfasSource {
    /// A source for `cfg`; the token is resolved now from the kit's environment.
    /// `progress`: draw a progress bar while fetching (on a terminal).
    pub fn new(cfg: &AfasSourceConfig, kit: &Kit) -> Result<AfasSource, ConnectorError> {
        let token = cfg
            .token
            .resolve("source.token", kit.secrets())
            .map_err(|e| ConnectorError::Config(e.to_string()))?;
        let mut settings = HttpSettings::new("AFAS Profit", &base_url(cfg));
        settings.configure(&cfg.http);
        settings.concurrency = cfg.concurrency.max(1) as usize;
        settings.rate_limit = cfg.rate_limit;
        settings.progress = kit.progress();
        settings.credential_hint = cfg.token.hint("source.token");
        let client = HttpClient::new(settings, &authorization(&token), describe_error)?
            .with_permanent(permanent_error);
        let client = Arc::new(client);
        Ok(AfasSource {
            cfg: cfg.clone(),
            reader: Reader {
                client: Arc::clone(&client),
                connector: Arc::from(cfg.connector.as_str()),
            },
            client,
            rt: kit.runtime()?,
        })
    }

    /// The client (for request counts in benchmarks).
    pub fn client(&self) -> &HttpClient {
        &self.client
    }

    /// Checks online that the GetConnector exists and has every field in `columns` (key path,
    /// field name: what the configuration uses, [`orgsync_core::config::Config::columns_in_use`]).
    /// Returns the problems found (empty: all good); an unreachable server or a refused token is
    /// an error.
    ///
    /// `/metainfo` lists the GetConnectors the app connector may use, so a misspelt id is
    /// reported with a "did you mean" before `/metainfo/get/{id}` is asked for it (AFAS answers
    /// an unknown id there with a 500, which is not worth retrying).
    pub fn check_online(
        &self,
        columns: &[(String, String)],
    ) -> Result<Vec<String>, ConnectorError> {
        self.rt.block_on(async {
            let connector = &self.cfg.connector;
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct Listing {
                get_connectors: Option<Vec<Listed>>,
            }
            #[derive(Deserialize)]
            struct Listed {
                id: String,
            }
            let listing: Option<Vec<String>> = match self.client.get("/metainfo").await {
                Ok(r) => r
                    .json::<Listing>()
                    .ok()
                    .and_then(|l| l.get_connectors)
                    .map(|l| l.into_iter().map(|c| c.id).collect()),
                // An older Profit or a proxy without the listing: ask for the connector itself.
                Err(e) if e.status().is_some_and(|s| s.as_u16() == 404) => None,
                Err(e) => return Err(e.into()),
            };
            if let Some(ids) = &listing
                && !ids.iter().any(|id| id.eq_ignore_ascii_case(connector))
            {
                return Ok(vec![unknown_connector(connector, ids)]);
            }
            let path = format!("/metainfo/get/{}", encode(connector));
            let response = match self.client.get(&path).await {
                Ok(r) => r,
                Err(e) if e.status().is_some_and(|s| s.as_u16() == 404) => {
                    return Ok(vec![unknown_connector(connector, &[])]);
                }
                Err(e) => return Err(e.into()),
            };
            #[derive(Deserialize)]
            struct Meta {
                #[serde(default)]
                fields: Vec<Field>,
            }
            #[derive(Deserialize)]
            struct Field {
                id: String,
            }
            let meta: Meta = response.json().map_err(|m| self.data_error(&path, m))?;
            let have: Vec<&str> = meta.fields.iter().map(|f| f.id.as_str()).collect();
            Ok(missing_fields(columns, &have, connector))
        })
    }

    fn data_error(&self, path: &str, message: impl Into<String>) -> ConnectorError {
        ConnectorError::Data {
            path: format!("{}{path}", self.client.settings().base_url),
            line: 0,
            message: message.into(),
        }
    }

    async fn fetch_pages(&self) -> Result<SourceSnapshot, ConnectorError> {
        let layout = RowLayout::new(&self.cfg.columns, None);
        let mut merge = Merge {
            merger: RowMerger::new(&layout),
            tail: None,
            reread: 0,
        };
        let paging = Paging::new(&self.cfg);
        let reader = &self.reader;
        let take = paging.take;
        let window = self.client.settings().concurrency as u64;
        let bar = self.client.progress(None, "AFAS rows");

        let mut in_flight: JoinSet<(u64, Result<Response, super::http::HttpError>)> =
            JoinSet::new();
        let mut arrived: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
        let mut next_page = 0u64;
        let mut next_merge = 0u64;
        loop {
            while (in_flight.len() as u64) < window {
                let client = Arc::clone(&self.client);
                let page = next_page;
                let path = paging.path(page * take);
                in_flight.spawn(async move { (page, client.get(&path).await) });
                next_page += 1;
            }
            if let Some(body) = arrived.remove(&next_merge) {
                let skip = next_merge * take;
                let rows = reader.rows(&body, skip)?.len();
                if rows as u64 == take {
                    bar.inc(self.add_page(&mut merge, &paging, &body, skip).await?);
                    next_merge += 1;
                    continue;
                }
                // A short page is the last one — or one that was cut. Confirm it before
                // trusting it, with nothing else in flight: first collect what is.
                while let Some(joined) = in_flight.join_next().await {
                    let (page, result) = joined.map_err(join_error)?;
                    arrived.insert(page, result?.body);
                }
                match reader.confirm(&paging, next_merge, body).await? {
                    Confirmed::Full(body) => {
                        bar.inc(self.add_page(&mut merge, &paging, &body, skip).await?);
                        next_merge += 1;
                        continue;
                    }
                    Confirmed::Last(body) => {
                        let rows = self.add_page(&mut merge, &paging, &body, skip).await?;
                        bar.inc(rows);
                        for (page, later) in arrived.range(next_merge + 1..) {
                            let more = reader.rows(later, page * take)?.len();
                            if more > 0 {
                                return Err(ConnectorError::Listing(format!(
                                    "AFAS Profit: the page at skip {skip} came back with {rows} \
                                     of {take} rows on two reads, so it should be the last, but \
                                     the page at skip {} has {more} rows: the data changed while \
                                     it was read, or a page was cut short. Nothing was planned; \
                                     try again",
                                    page * take
                                )));
                            }
                        }
                        next_merge += 1;
                        break;
                    }
                }
            }
            // Any failed page fails the fetch (after its retries); dropping the set cancels the
            // other requests.
            let Some(joined) = in_flight.join_next().await else {
                return Err(ConnectorError::Listing(format!(
                    "AFAS Profit: the page at skip {} was never requested",
                    next_merge * take
                )));
            };
            let (page, result) = joined.map_err(join_error)?;
            arrived.insert(page, result?.body);
            if next_merge > 50_000_000 / take {
                return Err(ConnectorError::Listing(
                    "AFAS Profit: more than 50 million rows: the server seems to ignore `skip`"
                        .to_owned(),
                ));
            }
        }
        self.settle(&mut merge, &paging).await?;
        bar.finish_and_clear();
        let snapshot = merge.merger.finish();
        tracing::info!(
            persons = snapshot.persons.len(),
            pages = next_merge,
            ties_read_again = merge.reread,
            requests = self.client.requests(),
            "fetched the AFAS GetConnector {}",
            self.cfg.connector
        );
        Ok(snapshot)
    }

    /// Merges the page at `skip` (the pages come in order) and returns its row count. The
    /// page's last run of rows that share an ordering key is held back: the next page may go on
    /// with that key, and rows that tie across a page boundary are settled by
    /// [`AfasSource::settle`] first.
    async fn add_page(
        &self,
        merge: &mut Merge<'_>,
        paging: &Paging,
        body: &[u8],
        skip: u64,
    ) -> Result<u64, ConnectorError> {
        let reader = &self.reader;
        let rows = reader.rows(body, skip)?;
        let n = rows.len();
        // The rows that go on with the held-back run.
        let mut first = 0;
        if let Some(tail) = &mut merge.tail {
            while first < n && paging.key(rows[first]) == tail.key {
                first += 1;
            }
            if first > 0 {
                tail.rows
                    .extend(rows[..first].iter().map(|r| r.get().to_owned()));
                tail.crossed.get_or_insert(skip);
            }
            if first == n {
                return Ok(n as u64);
            }
            self.settle(merge, paging).await?;
        }
        if first == n {
            return Ok(n as u64);
        }
        let key = paging.key(rows[n - 1]);
        let mut last = n - 1;
        while last > first && paging.key(rows[last - 1]) == key {
            last -= 1;
        }
        let middle: Vec<&str> = rows[first..last].iter().map(|r| r.get()).collect();
        merge_rows(reader, &mut merge.merger, &middle, skip + first as u64)?;
        merge.tail = Some(Tail {
            key,
            rows: rows[last..].iter().map(|r| r.get().to_owned()).collect(),
            skip: skip + last as u64,
            crossed: None,
        });
        Ok(n as u64)
    }

    /// Merges the held-back run of rows. When it crossed a page boundary, AFAS may have put
    /// its rows in another order for each page (it promises no order among rows that tie), so
    /// one may have been read twice and another not at all: with the default order, its rows
    /// are read again directly — the GetConnector filtered on the key's values — and exactly
    /// those rows stand for the key. They must hold every row the pages gave (else the data
    /// changed while it was read). A configured `order_by` is a promise that the key is unique
    /// per row; a tie shows it is not, and fails the fetch, as does a key that cannot be asked
    /// for.
    async fn settle(&self, merge: &mut Merge<'_>, paging: &Paging) -> Result<(), ConnectorError> {
        let reader = &self.reader;
        let Some(tail) = merge.tail.take() else {
            return Ok(());
        };
        let Some(boundary) = tail.crossed else {
            let rows: Vec<&str> = tail.rows.iter().map(String::as_str).collect();
            return merge_rows(reader, &mut merge.merger, &rows, tail.skip);
        };
        let tie = |why: &str| {
            ConnectorError::Listing(format!(
                "AFAS Profit: the rows at skip {} and {boundary} both have {} = {}: AFAS \
                 promises no order among rows that tie, so paging may have read one of them \
                 twice and another not at all{why}. Nothing was planned; set source.order_by \
                 to fields that are unique per row together (add the contract's sequence \
                 number, for instance)",
                boundary - 1,
                paging.fields.join(", "),
                tail.key.join(", "),
            ))
        };
        if self.cfg.order_by.is_some() {
            return Err(tie(""));
        }
        let Some(filter) = Filter::all_of(&paging.fields, &tail.key) else {
            return Err(tie(
                ", and their rows cannot be asked for directly (a value that is nothing but \
                 `,` and `;`)",
            ));
        };
        let tied = paging.filtered(TIED_TAKE, &filter);
        let body = reader.get(&tied.path(0)).await?;
        let body = match reader.rows(&body, 0)?.len() as u64 {
            TIED_TAKE => None,
            _ => match reader.confirm(&tied, 0, body).await? {
                Confirmed::Last(body) => Some(body),
                Confirmed::Full(_) => None,
            },
        };
        let Some(body) = body else {
            return Err(tie(&format!(
                ", and {TIED_TAKE} or more rows share that key, too many to read again at once"
            )));
        };
        // The filter may find more than the key (a contains, a database that ignores case).
        let direct: Vec<&str> = reader
            .rows(&body, 0)?
            .into_iter()
            .filter(|r| paging.key(r) == tail.key)
            .map(RawValue::get)
            .collect();
        if tail.rows.iter().any(|r| !direct.contains(&r.as_str())) {
            return Err(ConnectorError::Listing(format!(
                "AFAS Profit: the rows with {} = {} were read again directly, and {} came back, \
                 without one that the pages held: the data changed while it was read. Nothing \
                 was planned; try again",
                paging.fields.join(", "),
                tail.key.join(", "),
                direct.len()
            )));
        }
        tracing::debug!(
            key = %tail.key.join(", "),
            paged = tail.rows.len(),
            direct = direct.len(),
            "AFAS Profit: rows that tie across the page boundary at skip {boundary} read again"
        );
        merge.reread += 1;
        merge_rows(reader, &mut merge.merger, &direct, tail.skip)
    }

    /// Which of `ids` the GetConnector has a row for, asked for directly: the GetConnector
    /// filtered on the id column, as many ids OR-ed per request as the query string allows,
    /// those requests in flight at once within the client's bound, each read to its end the
    /// way a listing is (a short page is read again before it is trusted).
    async fn lookup_ids(&self, ids: &[String]) -> Result<Vec<String>, ConnectorError> {
        let column = self.cfg.columns.id.clone();
        let paging = Paging::new(&self.cfg);
        let mut wanted: Vec<&str> = ids
            .iter()
            .map(|i| i.trim())
            .filter(|i| !i.is_empty())
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        let mut batches: Vec<Filter> = Vec::new();
        let mut batch = Filter::default();
        for id in &wanted {
            let Some(condition) = Filter::condition(&column, id) else {
                return Err(ConnectorError::Listing(format!(
                    "AFAS Profit: employee `{id}` cannot be asked for directly: a value that is \
                     nothing but `,` and `;` cannot be a GetConnector filter value"
                )));
            };
            let mut more = Filter {
                groups: batch.groups.clone(),
            };
            more.groups.push(vec![condition.clone()]);
            if batch.groups.is_empty()
                || paging.filtered(paging.take, &more).query_len() <= QUERY_LIMIT
            {
                batch = more;
            } else {
                batches.push(std::mem::take(&mut batch));
                batch.groups.push(vec![condition]);
            }
        }
        if !batch.groups.is_empty() {
            batches.push(batch);
        }
        let requests = self.client.requests();
        let mut reads: JoinSet<Result<Vec<Vec<u8>>, ConnectorError>> = JoinSet::new();
        for filter in &batches {
            let reader = self.reader.clone();
            let filtered = paging.filtered(paging.take, filter);
            reads.spawn(async move { reader.read_all(&filtered).await });
        }
        let reader = &self.reader;
        let mut found: std::collections::HashSet<String> = std::collections::HashSet::new();
        while let Some(joined) = reads.join_next().await {
            for body in joined.map_err(join_error)?? {
                for row in reader.rows(&body, 0)? {
                    let id = field_text(row, &column);
                    found.insert(id.trim().to_owned());
                }
            }
        }
        let out: Vec<String> = ids
            .iter()
            .filter(|i| found.contains(i.trim()))
            .cloned()
            .collect();
        tracing::info!(
            asked = wanted.len(),
            found = out.len(),
            requests = self.client.requests() - requests,
            "AFAS Profit: people missing from the listing looked up directly"
        );
        Ok(out)
    }
}

/// Rows per request when rows that tie are read again: more would not be read at once.
const TIED_TAKE: u64 = 1000;

/// The longest query string (after `?`) sent: AFAS answers longer ones (over 2,049
/// characters) with a 404.
const QUERY_LIMIT: usize = 2000;

/// Pages merged in order, with the last run of rows that share an ordering key held back.
struct Merge<'l> {
    merger: RowMerger<'l>,
    tail: Option<Tail>,
    /// Runs of tied rows that crossed a page boundary and were read again.
    reread: u64,
}

/// The run of rows at the end of the pages merged so far that share one ordering key.
struct Tail {
    key: Vec<String>,
    /// The rows as sent.
    rows: Vec<String>,
    /// The skip of the run's first row.
    skip: u64,
    /// The skip of the first page boundary the run crossed, if it did.
    crossed: Option<u64>,
}

/// Merges `rows` (JSON objects as sent; the first at `skip`) into `merger`.
fn merge_rows(
    reader: &Reader,
    merger: &mut RowMerger<'_>,
    rows: &[&str],
    skip: u64,
) -> Result<(), ConnectorError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut doc = String::with_capacity(rows.iter().map(|r| r.len() + 1).sum::<usize>() + 12);
    doc.push_str("{\"rows\":[");
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            doc.push(',');
        }
        doc.push_str(r);
    }
    doc.push_str("]}");
    merger
        .add_json(doc.as_bytes(), "rows")
        .map_err(|m| reader.data_error(format!("the rows from skip {skip}: {m}")))?;
    Ok(())
}

/// Reads pages of one GetConnector: cheap to clone into a task.
#[derive(Debug, Clone)]
struct Reader {
    client: Arc<HttpClient>,
    connector: Arc<str>,
}

impl Reader {
    fn data_error(&self, message: impl Into<String>) -> ConnectorError {
        ConnectorError::Data {
            path: format!(
                "{}/connectors/{}",
                self.client.settings().base_url,
                self.connector
            ),
            line: 0,
            message: message.into(),
        }
    }

    async fn get(&self, path: &str) -> Result<Vec<u8>, ConnectorError> {
        Ok(self.client.get(path).await?.body)
    }

    /// The rows of the page at `skip`, as sent.
    fn rows<'b>(&self, body: &'b [u8], skip: u64) -> Result<Vec<&'b RawValue>, ConnectorError> {
        #[derive(Deserialize)]
        struct RawPage<'a> {
            #[serde(borrow)]
            rows: Vec<&'a RawValue>,
        }
        serde_json::from_slice::<RawPage<'_>>(body)
            .map(|p| p.rows)
            .map_err(|e| {
                self.data_error(format!(
                    "page at skip {skip}: unexpected response body: {e}"
                ))
            })
    }

    /// Every page of `paging` (a filtered read: few rows), one after the other; a short page
    /// is confirmed as in a listing.
    async fn read_all(&self, paging: &Paging) -> Result<Vec<Vec<u8>>, ConnectorError> {
        let mut pages = Vec::new();
        for page in 0.. {
            if page > 50_000_000 / paging.take {
                return Err(ConnectorError::Listing(
                    "AFAS Profit: more than 50 million rows: the server seems to ignore `skip`"
                        .to_owned(),
                ));
            }
            let body = self.get(&paging.path(page * paging.take)).await?;
            if self.rows(&body, page * paging.take)?.len() as u64 == paging.take {
                pages.push(body);
                continue;
            }
            match self.confirm(paging, page, body).await? {
                Confirmed::Full(body) => pages.push(body),
                Confirmed::Last(body) => {
                    pages.push(body);
                    break;
                }
            }
        }
        Ok(pages)
    }

    /// Confirms a short page (fewer rows than `take`; `first` is how it came back): AFAS sends
    /// no totals, so a page cut short cannot be told from the last page by itself. The page is
    /// read again, one request at a time with nothing else in flight, until the longest of
    /// these answers has come back twice (a cut only ever loses rows) and holds at least as many
    /// rows as the first; then the rows after it must be none. A page that comes back whole was
    /// cut before, and paging goes on.
    async fn confirm(
        &self,
        paging: &Paging,
        page: u64,
        first: Vec<u8>,
    ) -> Result<Confirmed, ConnectorError> {
        let take = paging.take;
        let skip = page * take;
        let first_rows = self.rows(&first, skip)?.len();
        // Only reads made here, one after the other, are compared: the first one was made among
        // others, and two cut answers can look alike.
        let mut reads: Vec<Vec<u8>> = Vec::new();
        let agreed = loop {
            if reads.len() >= CONFIRM_READS {
                let counts: Result<Vec<String>, _> = std::iter::once(&first)
                    .chain(&reads)
                    .map(|b| self.rows(b, skip).map(|r| r.len().to_string()))
                    .collect();
                return Err(ConnectorError::Listing(format!(
                    "AFAS Profit: the page at skip {skip} came back with {} of {take} rows on \
                     {} reads: pages keep being cut short or the data keeps changing, so it \
                     may be incomplete. Nothing was planned; try again",
                    counts?.join(", "),
                    CONFIRM_READS + 1
                )));
            }
            let body = self.get(&paging.path(skip)).await?;
            if self.rows(&body, skip)?.len() as u64 == take {
                return Ok(Confirmed::Full(body));
            }
            reads.push(body);
            if let Some(i) = self.agreed(&reads, skip, first_rows)? {
                break reads.swap_remove(i);
            }
        };
        let rows = self.rows(&agreed, skip)?.len() as u64;
        if rows > 0 {
            let after = self.get(&paging.path(skip + rows)).await?;
            let more = self.rows(&after, skip + rows)?.len();
            if more > 0 {
                return Err(ConnectorError::Listing(format!(
                    "AFAS Profit: the page at skip {skip} came back with {rows} of {take} rows \
                     on two reads, but {more} more rows follow them: the server sends fewer rows \
                     than asked (set source.page_size to {rows} or less), or the data changed \
                     while it was read. Nothing was planned; try again"
                )));
            }
        }
        Ok(Confirmed::Last(agreed))
    }

    /// The read among `reads` (of one page) with the most rows, when another read came back
    /// with the same rows (in any order) and it has at least `at_least`.
    fn agreed(
        &self,
        reads: &[Vec<u8>],
        skip: u64,
        at_least: usize,
    ) -> Result<Option<usize>, ConnectorError> {
        // Compared as sets: rows that tie on the ordering key may come in another order on
        // each read, within the page too.
        let rows: Vec<Vec<&str>> = reads
            .iter()
            .map(|b| {
                let mut rows: Vec<&str> = self.rows(b, skip)?.iter().map(|r| r.get()).collect();
                rows.sort_unstable();
                Ok(rows)
            })
            .collect::<Result<_, ConnectorError>>()?;
        let most = rows.iter().map(Vec::len).max().unwrap_or(0);
        if most < at_least {
            return Ok(None);
        }
        for (i, a) in rows.iter().enumerate().filter(|(_, r)| r.len() == most) {
            if rows.iter().skip(i + 1).any(|b| b == a) {
                return Ok(Some(i));
            }
        }
        Ok(None)
    }
}

/// Reads of a short page made to confirm it (besides the first) before the fetch gives up.
const CONFIRM_READS: usize = 6;

/// What reading a short page again showed.
enum Confirmed {
    /// It came back whole: the first answer was cut, paging goes on.
    Full(Vec<u8>),
    /// It is the last page.
    Last(Vec<u8>),
}

/// How pages are asked for.
#[derive(Clone)]
struct Paging {
    take: u64,
    /// `/connectors/{id}`, encoded.
    connector: String,
    /// The `orderbyfieldids` value, encoded.
    order: String,
    /// The ordering fields, without a `-`.
    fields: Vec<String>,
    /// `&filterfieldids=…&filtervalues=…&operatortypes=…`, or nothing: the whole listing.
    filter: String,
}

impl Paging {
    fn new(cfg: &AfasSourceConfig) -> Paging {
        let order = cfg.order_fields();
        Paging {
            take: u64::from(cfg.page_size.max(1)),
            connector: encode(&cfg.connector),
            order: order
                .iter()
                .map(|f| encode(f))
                .collect::<Vec<_>>()
                .join(","),
            fields: order
                .iter()
                .map(|f| f.trim_start_matches('-').to_owned())
                .collect(),
            filter: String::new(),
        }
    }

    /// The same order, `take` rows per page, of the rows `filter` lets through.
    fn filtered(&self, take: u64, filter: &Filter) -> Paging {
        Paging {
            take,
            filter: filter.query(),
            ..self.clone()
        }
    }

    fn path(&self, skip: u64) -> String {
        format!(
            "/connectors/{}?skip={skip}&take={}&orderbyfieldids={}{}",
            self.connector, self.take, self.order, self.filter
        )
    }

    /// The length of the query string of the first page.
    fn query_len(&self) -> usize {
        let path = self.path(0);
        path.len() - path.find('?').map_or(path.len(), |i| i + 1)
    }

    /// A row's values of the ordering fields, as text.
    fn key(&self, row: &RawValue) -> Vec<String> {
        let row: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(row.get()).unwrap_or_default();
        self.fields.iter().map(|f| text(row.get(f))).collect()
    }
}

/// A field's value as text: a string as it is, a number as written, null or absent as empty.
fn text(value: Option<&serde_json::Value>) -> String {
    match value {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// The value of `field` in a row, as text.
fn field_text(row: &RawValue, field: &str) -> String {
    let row: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(row.get()).unwrap_or_default();
    text(row.get(field))
}

/// A GetConnector filter (`filterfieldids`, `filtervalues`, `operatortypes`): groups of
/// conditions (field, operator, value); a row passes when it meets every condition of one
/// group. AFAS separates the conditions of a group with `,` and the groups with `;`, in all
/// three parameters alike (vendor-apis.md; public AFAS clients send OR-ed groups so).
#[derive(Debug, Clone, Default)]
struct Filter {
    groups: Vec<Vec<(String, u8, String)>>,
}

impl Filter {
    /// The condition that `field` is `value`, as AFAS can be asked it: `=` (operator 1); an
    /// empty value is "field is empty" (8); a value with a `,` or `;` in it cannot be a filter
    /// value (AFAS splits there), so it is asked for by its longest part without them with
    /// "contains" (6, `%part%`), and the caller keeps only the rows that equal it. A date-time
    /// is sent without the `Z` AFAS writes after it, as public clients send them [I]. `None`:
    /// a value that is nothing but separators.
    fn condition(field: &str, value: &str) -> Option<(String, u8, String)> {
        if value.is_empty() {
            return Some((field.to_owned(), 8, String::new()));
        }
        if !value.contains([',', ';']) {
            return Some((field.to_owned(), 1, without_zone(value).to_owned()));
        }
        let part = value
            .split([',', ';'])
            .max_by_key(|p| p.len())
            .filter(|p| !p.is_empty())?;
        Some((field.to_owned(), 6, format!("%{part}%")))
    }

    /// The rows whose `fields` are `values`, one each.
    fn all_of(fields: &[String], values: &[String]) -> Option<Filter> {
        let group = fields
            .iter()
            .zip(values)
            .map(|(f, v)| Filter::condition(f, v))
            .collect::<Option<Vec<_>>>()?;
        Some(Filter {
            groups: vec![group],
        })
    }

    /// `&filterfieldids=…&filtervalues=…&operatortypes=…`, each part encoded, `;` as `%3B`.
    fn query(&self) -> String {
        let join = |part: &dyn Fn(&(String, u8, String)) -> String| {
            self.groups
                .iter()
                .map(|g| g.iter().map(part).collect::<Vec<_>>().join(","))
                .collect::<Vec<_>>()
                .join("%3B")
        };
        format!(
            "&filterfieldids={}&filtervalues={}&operatortypes={}",
            join(&|c| encode(&c.0)),
            join(&|c| encode(&c.2)),
            join(&|c| c.1.to_string()),
        )
    }
}

/// `2024-01-01T00:00:00Z` → `2024-01-01T00:00:00`: AFAS writes Amsterdam local time with a `Z`.
fn without_zone(value: &str) -> &str {
    let b = value.as_bytes();
    if b.len() >= 20 && b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && value.ends_with('Z') {
        &value[..value.len() - 1]
    } else {
        value
    }
}

fn join_error(e: tokio::task::JoinError) -> ConnectorError {
    ConnectorError::Transport {
        message: format!("AFAS Profit: a request task failed: {e}"),
        timed_out: false,
    }
}

/// "AFAS has no GetConnector `x`", with the closest of the ones it has.
fn unknown_connector(connector: &str, have: &[String]) -> String {
    let have: Vec<&str> = have.iter().map(String::as_str).collect();
    let hint = match orgsync_core::closest::closest(connector, have.iter().copied()) {
        Some(close) => format!("did you mean `{close}`?"),
        None if !have.is_empty() && have.len() <= 10 => {
            format!("the app connector may use: {}", have.join(", "))
        }
        None => "import it in Profit and add it to the app connector".to_owned(),
    };
    format!(
        "source.connector: AFAS has no GetConnector `{connector}` that this token may use ({hint})"
    )
}

/// The fields among `columns` (key path, field name) that the GetConnector lacks, as messages.
fn missing_fields(columns: &[(String, String)], have: &[&str], connector: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (key, field) in columns {
        if have.contains(&field.as_str()) {
            continue;
        }
        let optional = key
            .strip_prefix("source.columns.")
            .filter(|f| !f.contains('.') && !orgsync_core::config::REQUIRED_COLUMNS.contains(f));
        let hint = match (
            orgsync_core::closest::closest(field, have.iter().copied()),
            optional,
        ) {
            (Some(close), _) => format!(" (did you mean `{close}`?)"),
            (None, Some(f)) => format!(" (set `columns.{f}: null` if it has no such field)"),
            (None, None) => String::new(),
        };
        out.push(format!(
            "{key}: the GetConnector `{connector}` has no field `{field}`{hint}"
        ));
    }
    out
}

impl Source for AfasSource {
    fn fetch(&mut self) -> Result<SourceSnapshot, ConnectorError> {
        self.rt.block_on(self.fetch_pages())
    }

    fn lookup(&mut self, ids: &[String]) -> Result<Vec<String>, ConnectorError> {
        self.rt.block_on(self.lookup_ids(ids))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orgsync_core::config::Columns;
    use orgsync_sandbox::afas::{AfasData, AfasFaults, router, router_with_faults};
    use orgsync_sandbox::generate::{GenerateOptions, generate};
    use orgsync_sandbox::serve::{Faults, spawn};

    const TOKEN: &str = "afas-test-token";

    /// People as AFAS returns them: one row per employment, so employee numbers repeat.
    fn hr() -> AfasData {
        let data = AfasData::from_snapshot(
            "orgsync_employees",
            &generate(&GenerateOptions::new(60, 5)).source,
        );
        let mut ids: Vec<&str> = data
            .rows
            .iter()
            .filter_map(|r| r["Medewerker"].as_str())
            .collect();
        let rows = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert!(ids.len() < rows, "some people have several employment rows");
        data
    }

    fn source_config(url: &str, extra: serde_json::Value) -> AfasSourceConfig {
        let mut cfg = serde_json::json!({ "base_url": url, "token": "${env:AFAS_TOKEN}" });
        cfg.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::from_value(cfg).unwrap()
    }

    /// Fetches `data` from the emulator with `faults`; `extra` adds source configuration.
    fn fetch(
        data: &AfasData,
        faults: Faults,
        extra: serde_json::Value,
    ) -> Result<SourceSnapshot, ConnectorError> {
        let server = spawn(router(data.clone(), TOKEN, faults), 0).unwrap();
        let url = format!("{}{}", server.url(), orgsync_sandbox::afas::BASE_PATH);
        let cfg = source_config(&url, extra);
        AfasSource::new(
            &cfg,
            &Kit::new(move |_| Some(TOKEN.to_owned()), false).unwrap(),
        )?
        .fetch()
    }

    fn cut_every(n: u64) -> Faults {
        Faults {
            short_page_every: Some(n),
            ..Faults::default()
        }
    }

    /// Regression (issue 11): the last page came back cut, the page after it empty, and the
    /// fetch took that for the end: 18 removals were planned instead of 7 and apply deactivated
    /// 11 people still in HR. A short page is now read again before it is trusted.
    #[test]
    fn a_cut_last_page_is_read_again_not_taken_for_the_end() {
        let data = hr();
        let page_size = 7;
        assert_ne!(data.rows.len() % page_size, 0, "the last page is short");
        let pages = data.rows.len().div_ceil(page_size) as u64;
        let extra = serde_json::json!({ "page_size": page_size, "concurrency": 1 });
        let whole = fetch(&data, Faults::default(), extra.clone()).unwrap();
        // With one request at a time, the last page with rows is the `pages`-th one served.
        let cut = fetch(&data, cut_every(pages), extra).unwrap();
        assert_eq!(cut.persons.len(), whole.persons.len());
        assert_eq!(cut, whole);
    }

    /// The emulator's `--short-page-every N` (pages cut anywhere, the last one too), with one
    /// page or five in flight: every fetch returns every row. When every page is cut
    /// (`N = 1`) nothing can be trusted, and the fetch fails.
    #[test]
    fn cut_pages_give_every_row_or_an_error_never_a_partial_snapshot() {
        let data = hr();
        for concurrency in [1, 5] {
            let extra = serde_json::json!({ "page_size": 7, "concurrency": concurrency });
            let whole = fetch(&data, Faults::default(), extra.clone()).unwrap();
            for n in 2..=9 {
                let cut = fetch(&data, cut_every(n), extra.clone()).unwrap_or_else(|e| {
                    panic!("short_page_every {n}, {concurrency} in flight: {e}")
                });
                assert_eq!(cut, whole, "short_page_every {n}, {concurrency} in flight");
            }
            let err = fetch(&data, cut_every(1), extra).unwrap_err().to_string();
            assert!(err.contains("Nothing was planned"), "{err}");
        }
    }

    /// Regression (issue 11): pages were ordered by the employee number alone, which repeats
    /// across a person's employment rows, and AFAS orders tied rows differently per request:
    /// rows on both sides of a page boundary could be read twice or not at all. The default
    /// order is now employee number and contract start, and a key that still ties across a
    /// boundary fails the fetch.
    #[test]
    fn pages_are_ordered_by_a_key_unique_per_row() {
        let data = hr();
        // A page size that puts a page boundary between two rows of one person.
        let mut ids: Vec<&str> = data
            .rows
            .iter()
            .filter_map(|r| r["Medewerker"].as_str())
            .collect();
        ids.sort_unstable();
        let page_size = (1..ids.len())
            .find(|&i| i >= 2 && ids[i - 1] == ids[i])
            .unwrap();
        let extra = serde_json::json!({ "page_size": page_size, "concurrency": 1 });
        let cfg = source_config("http://127.0.0.1:1/ProfitRestServices", extra.clone());
        assert_eq!(cfg.order_fields(), ["Medewerker", "Begindatum_contract"]);
        let everything = fetch(
            &data,
            Faults::default(),
            serde_json::json!({ "page_size": 10000 }),
        )
        .unwrap();
        assert_eq!(fetch(&data, Faults::default(), extra).unwrap(), everything);

        let by_id = serde_json::json!({ "page_size": page_size, "concurrency": 1, "order_by": ["Medewerker"] });
        let err = fetch(&data, Faults::default(), by_id)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("both have Medewerker = ") && err.contains("source.order_by"),
            "{err}"
        );
    }

    /// Regression: two rows of one person that tie on the ordering key came back in another
    /// order on each read of the last page, so its reads never agreed and every fetch failed.
    #[test]
    fn rows_that_tie_within_the_last_page_still_confirm_it() {
        let mut data = hr();
        let communities = ["1001", "1002", "1003", "1004", "1005", "1006"];
        for community in communities {
            let mut row = data.rows[0].clone();
            row.insert("Medewerker".into(), "999999".into());
            row.insert("Organisatorische_eenheid_code".into(), community.into());
            data.rows.push(row);
        }
        let page_size = (7..20).find(|p| data.rows.len() % p >= 6).unwrap();
        let extra = serde_json::json!({ "page_size": page_size, "concurrency": 1 });
        let snapshot = fetch(&data, Faults::default(), extra).unwrap();
        let twice = snapshot.persons.iter().find(|p| p.id == "999999").unwrap();
        assert_eq!(twice.employments.len(), communities.len());
    }

    /// Each person's employments in one order: rows that tie on the ordering key come in
    /// another order on every read (AFAS promises none among them), and the file source keeps
    /// the order of its file.
    fn sorted(mut snapshot: SourceSnapshot) -> SourceSnapshot {
        for p in &mut snapshot.persons {
            p.employments.sort_by_key(|e| format!("{e:?}"));
        }
        snapshot
    }

    /// The ordering keys of `data`'s rows in the order AFAS serves them by default.
    fn default_keys(data: &AfasData) -> Vec<(String, String)> {
        let mut keys: Vec<(String, String)> = data
            .rows
            .iter()
            .map(|r| {
                (
                    text(r.get("Medewerker")),
                    text(r.get("Begindatum_contract")),
                )
            })
            .collect();
        keys.sort();
        keys
    }

    /// Regression: a person with two employments starting on one day (1% of the generated
    /// people: a second location) ties on the default order, and when the pair fell across a
    /// page boundary the whole fetch failed — on one night, not the next, as page edges moved.
    /// Such rows are now read again directly, and the snapshot is the file source's.
    #[test]
    fn rows_that_tie_across_page_edges_are_read_again_and_give_the_file_snapshot() {
        // Seed 3 puts 5 ties on edges of 7-row pages and 2 on edges of 100-row pages.
        let g = generate(&GenerateOptions::new(5000, 3));
        let data = AfasData::from_snapshot("orgsync_employees", &g.source);
        let dir = tempfile::tempdir().unwrap();
        orgsync_sandbox::generate::write(dir.path(), &g).unwrap();
        let file_cfg =
            serde_json::from_value(serde_json::json!({ "path": "source.json" })).unwrap();
        let file = super::super::file_source::FileSource::new(dir.path(), &file_cfg)
            .fetch()
            .unwrap();
        let keys = default_keys(&data);
        for page_size in [7, 100] {
            let edges = (page_size..keys.len())
                .step_by(page_size)
                .filter(|&i| keys[i - 1] == keys[i])
                .count();
            assert!(
                edges > 0,
                "page size {page_size}: a tie falls on a page edge"
            );
            for concurrency in [1, 5] {
                let extra =
                    serde_json::json!({ "page_size": page_size, "concurrency": concurrency });
                let afas = fetch(&data, Faults::default(), extra).unwrap_or_else(|e| {
                    panic!(
                        "page size {page_size}, {concurrency} in flight, {edges} tied edges: {e}"
                    )
                });
                assert_eq!(
                    sorted(afas),
                    sorted(file.clone()),
                    "page size {page_size}, {concurrency} in flight"
                );
            }
        }
        // Cut pages on top of the ties: still every row, once.
        let extra = serde_json::json!({ "page_size": 7 });
        let cut = fetch(&data, cut_every(3), extra).unwrap();
        assert_eq!(sorted(cut), sorted(file));
    }

    /// A tie that runs over more than one page boundary (more rows of one key than a page
    /// holds) is read again as a whole.
    #[test]
    fn a_tie_longer_than_a_page_is_read_again_as_a_whole() {
        let mut data = hr();
        let at = data.rows.len() / 2;
        let template = data.rows[at].clone();
        for community in [
            "2001", "2002", "2003", "2004", "2005", "2006", "2007", "2008",
        ] {
            let mut row = template.clone();
            row.insert("Organisatorische_eenheid_code".into(), community.into());
            data.rows.push(row);
        }
        let person = text(template.get("Medewerker"));
        let whole = fetch(
            &data,
            Faults::default(),
            serde_json::json!({ "page_size": 10000 }),
        )
        .unwrap();
        let tied = whole.persons.iter().find(|p| p.id == person).unwrap();
        assert!(tied.employments.len() >= 9);
        for page_size in [3, 4, 5] {
            let extra = serde_json::json!({ "page_size": page_size, "concurrency": 2 });
            let paged = fetch(&data, Faults::default(), extra).unwrap();
            assert_eq!(
                sorted(paged),
                sorted(whole.clone()),
                "page size {page_size}"
            );
        }
    }

    /// A listing whose last page comes back one row short on every read (AFAS sends no totals,
    /// so nothing shows it) lacks the person on that row; asked for directly, AFAS has them.
    /// Someone AFAS does not have is not found.
    #[test]
    fn lookup_finds_a_person_the_listing_lacks_and_not_one_who_is_gone() {
        let mut data = hr();
        let mut last = data.rows[0].clone();
        last.insert("Medewerker".into(), "999999".into());
        last.insert("Email_werk".into(), "laatste@example.com".into());
        data.rows.push(last);
        let present = text(data.rows[0].get("Medewerker"));
        let server = spawn(
            router_with_faults(
                data.clone(),
                TOKEN,
                Faults::default(),
                AfasFaults { cut_last_row: true },
            ),
            0,
        )
        .unwrap();
        let url = format!("{}{}", server.url(), orgsync_sandbox::afas::BASE_PATH);
        let cfg = source_config(&url, serde_json::json!({ "page_size": 7 }));
        let mut source = AfasSource::new(
            &cfg,
            &Kit::new(move |_| Some(TOKEN.to_owned()), false).unwrap(),
        )
        .unwrap();
        let listed = source.fetch().unwrap();
        assert!(
            listed.persons.iter().all(|p| p.id != "999999"),
            "the cut hides them"
        );
        assert!(listed.persons.iter().any(|p| p.id == present));
        let ids = ["999999".to_owned(), "555555".to_owned(), present.clone()];
        assert_eq!(source.lookup(&ids).unwrap(), ["999999", present.as_str()]);
    }

    /// Many ids go in a few requests (as many OR-ed as the query string allows), and cut pages
    /// do not make anyone look gone.
    #[test]
    fn lookup_asks_for_many_ids_in_few_requests_and_survives_cut_pages() {
        let data = hr();
        let mut present: Vec<String> = data
            .rows
            .iter()
            .map(|r| text(r.get("Medewerker")))
            .collect();
        present.sort();
        present.dedup();
        let gone: Vec<String> = (0..150).map(|i| format!("8{i:05}")).collect();
        let ids: Vec<String> = gone.iter().chain(&present).cloned().collect();
        for faults in [Faults::default(), cut_every(2)] {
            let server = spawn(router(data.clone(), TOKEN, faults), 0).unwrap();
            let url = format!("{}{}", server.url(), orgsync_sandbox::afas::BASE_PATH);
            let cfg = source_config(&url, serde_json::json!({ "page_size": 25 }));
            let mut source = AfasSource::new(
                &cfg,
                &Kit::new(move |_| Some(TOKEN.to_owned()), false).unwrap(),
            )
            .unwrap();
            assert_eq!(source.lookup(&ids).unwrap(), present);
            let requests = source.client().requests();
            assert!(requests < 40, "{requests} requests for {} ids", ids.len());
        }
    }

    #[test]
    fn filters_say_equal_empty_or_contains_and_drop_the_zone_of_a_date() {
        let f = Filter::all_of(
            &["Medewerker".to_owned(), "Begindatum_contract".to_owned()],
            &["100 001".to_owned(), "2024-01-01T00:00:00Z".to_owned()],
        )
        .unwrap();
        assert_eq!(
            f.query(),
            "&filterfieldids=Medewerker,Begindatum_contract\
             &filtervalues=100%20001,2024-01-01T00%3A00%3A00&operatortypes=1,1"
        );
        assert_eq!(
            Filter::condition("Nr", ""),
            Some(("Nr".to_owned(), 8, String::new()))
        );
        assert_eq!(
            Filter::condition("Nr", "A,BC;D"),
            Some(("Nr".to_owned(), 6, "%BC%".to_owned()))
        );
        assert_eq!(Filter::condition("Nr", ",;"), None);
        let or = Filter {
            groups: vec![
                vec![Filter::condition("Nr", "1").unwrap()],
                vec![Filter::condition("Nr", "2").unwrap()],
            ],
        };
        assert_eq!(
            or.query(),
            "&filterfieldids=Nr%3BNr&filtervalues=1%3B2&operatortypes=1%3B1"
        );
    }

    /// A server that sends fewer rows than `take` on every page (a proxy capping pages) is not
    /// taken to have ended after its first page: the read after the short page finds more.
    #[test]
    fn a_server_that_caps_pages_fails_the_fetch_with_a_hint() {
        use axum::extract::{Query, State};
        let data = hr();
        let rows = Arc::new(data.rows.clone());
        let app = axum::Router::new()
            .route(
                "/ProfitRestServices/connectors/{id}",
                axum::routing::get(
                    |State(rows): State<Arc<Vec<serde_json::Map<String, serde_json::Value>>>>,
                     Query(q): Query<std::collections::HashMap<String, String>>| async move {
                        let num = |k: &str| q[k].parse::<usize>().unwrap();
                        let (skip, take) = (num("skip"), num("take").min(5));
                        let page: Vec<_> = rows.iter().skip(skip).take(take).cloned().collect();
                        axum::Json(serde_json::json!({ "skip": skip, "take": take, "rows": page }))
                    },
                ),
            )
            .with_state(rows);
        let server = spawn(app, 0).unwrap();
        let url = format!("{}/ProfitRestServices", server.url());
        let cfg = source_config(&url, serde_json::json!({ "page_size": 7 }));
        let err = AfasSource::new(
            &cfg,
            &Kit::new(move |_| Some(TOKEN.to_owned()), false).unwrap(),
        )
        .unwrap()
        .fetch()
        .unwrap_err()
        .to_string();
        assert!(err.contains("set source.page_size to 5 or less"), "{err}");
    }

    #[test]
    fn authorization_accepts_xml_hex_or_base64() {
        let xml = "<token><version>1</version><data>ABC123</data></token>";
        let expected = format!(
            "AfasToken {}",
            base64::engine::general_purpose::STANDARD.encode(xml)
        );
        assert_eq!(authorization("ABC123"), expected);
        assert_eq!(authorization(xml), expected);
        assert_eq!(authorization(&expected["AfasToken ".len()..]), expected);
    }

    #[test]
    fn base_url_per_environment_type() {
        let mut cfg: AfasSourceConfig = serde_json::from_value(serde_json::json!({
            "environment": "12345", "token": "${env:AFAS_TOKEN}"
        }))
        .unwrap();
        assert_eq!(
            base_url(&cfg),
            "https://12345.rest.afas.online/ProfitRestServices"
        );
        cfg.environment_type = AfasEnvironmentType::Test;
        assert_eq!(
            base_url(&cfg),
            "https://12345.resttest.afas.online/ProfitRestServices"
        );
        cfg.base_url = Some("http://127.0.0.1:1/ProfitRestServices/".to_owned());
        assert_eq!(base_url(&cfg), "http://127.0.0.1:1/ProfitRestServices");
    }

    #[test]
    fn a_misspelled_get_connector_is_not_retried() {
        let missing = br#"{"externalMessage":"GetConnector orgsync_employes bestaat niet","errorNumber":-2147180999,"profitLogReference":"x"}"#;
        let timeout =
            br#"{"externalMessage":"Time-out","errorNumber":-1,"profitLogReference":"x"}"#;
        let status = reqwest::StatusCode::INTERNAL_SERVER_ERROR;
        assert!(permanent_error(status, missing));
        assert!(!permanent_error(status, timeout));
        assert!(!permanent_error(status, b""));
        assert!(!permanent_error(
            reqwest::StatusCode::SERVICE_UNAVAILABLE,
            missing
        ));
    }

    #[test]
    fn error_bodies_read_as_a_sentence() {
        let body = br#"{"externalMessage":"Veld bestaat niet","errorNumber":-2147180999,"profitLogReference":"abc"}"#;
        assert_eq!(
            describe_error(body).unwrap(),
            "Veld bestaat niet (error -2147180999, log reference abc)"
        );
        assert_eq!(describe_error(b""), None);
    }

    #[test]
    fn unknown_connector_offers_the_closest_listed_one() {
        let have = [
            "Profit_Medewerkers".to_owned(),
            "Profit_Debiteuren".to_owned(),
        ];
        assert_eq!(
            unknown_connector("Profit_Medewerker", &have),
            "source.connector: AFAS has no GetConnector `Profit_Medewerker` that this token may \
             use (did you mean `Profit_Medewerkers`?)"
        );
        assert!(
            unknown_connector("xyz", &have)
                .ends_with("(the app connector may use: Profit_Medewerkers, Profit_Debiteuren)")
        );
    }

    #[test]
    fn missing_optional_field_says_it_can_be_null() {
        let columns = [
            (
                "source.columns.manager".to_owned(),
                "Leidinggevende".to_owned(),
            ),
            ("source.columns.id".to_owned(), "Nummer".to_owned()),
        ];
        assert_eq!(
            missing_fields(&columns, &["Medewerker"], "c"),
            [
                "source.columns.manager: the GetConnector `c` has no field `Leidinggevende` (set \
                 `columns.manager: null` if it has no such field)",
                "source.columns.id: the GetConnector `c` has no field `Nummer`",
            ]
        );
    }

    #[test]
    fn missing_fields_name_the_key_and_a_close_field() {
        let have = [
            "Medewerker",
            "Email_werk",
            "Roepnaam",
            "Achternaam",
            "Voorvoegsel",
            "Begindatum_contract",
            "Einddatum_contract",
            "Organisatorische_eenheid_code",
            "Organisatorische_eenheid_omschrijving",
            "Functie_code",
            "Functie_omschrijving",
            "Afdeling_code",
            "Afdeling_omschrijving",
            "Persoonsnummer_leidinggevende",
        ];
        let all = |c: &Columns| -> Vec<(String, String)> {
            c.fields()
                .into_iter()
                .filter_map(|(f, col)| Some((format!("source.columns.{f}"), col?.to_owned())))
                .collect()
        };
        assert!(missing_fields(&all(&Columns::afas()), &have, "c").is_empty());
        let mut columns = Columns::afas();
        columns.email = "Email_Werk2".to_owned();
        assert_eq!(
            missing_fields(&all(&columns), &have, "c"),
            [
                "source.columns.email: the GetConnector `c` has no field `Email_Werk2` (did you mean \
              `Email_werk`?)"
            ]
        );
    }
}
