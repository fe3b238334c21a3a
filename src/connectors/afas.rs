//! The `afas` source: people from an AFAS Profit GetConnector over ProfitRestServices.
//!
//! - Auth: `Authorization: AfasToken <base64 of the token XML>`. The environment variable may
//!   hold the token XML (`<token><version>1</version><data>…</data></token>`), just its hex data,
//!   or the base64 form: all three are accepted [I: clients differ in what they store].
//! - Paging: `skip`/`take` with `orderbyfieldids` set to the identifier field (AFAS does not
//!   promise a stable order otherwise). Pages are fetched concurrently within the client's bound
//!   (AFAS asks for at most 5 calls at once) and merged strictly in page order, with the same
//!   row-merging rules as the `file` source. AFAS sends no totals: orgsync pages until a page
//!   comes back empty, so a page that comes back short while a later one still has rows is
//!   caught and fails the fetch. A cut on the very last page cannot be told from the end [I].
//! - Dates look like `2024-01-01T00:00:00Z` but are Amsterdam local dates: the time part is
//!   ignored, never converted.
//! - GetConnectors are defined per customer, so the connector id and every field name are
//!   configuration; `orgsync validate --online` checks them through `metainfo`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;
use tokio::task::JoinSet;

use super::file_source::{RowLayout, RowMerger};
use super::http::{HttpClient, HttpSettings, Response, runtime};
use super::{ConnectorError, Source};
use crate::config::{AfasEnvironmentType, AfasSourceConfig};
use crate::model::SourceSnapshot;

/// Reads people from an AFAS Profit GetConnector.
#[derive(Debug)]
pub struct AfasSource {
    cfg: AfasSourceConfig,
    client: Arc<HttpClient>,
    /// One runtime for the source's life: the client's pooled connections belong to it.
    rt: tokio::runtime::Runtime,
}

/// The base URL of a configuration: `base_url`, or the environment's own.
pub fn base_url(cfg: &AfasSourceConfig) -> String {
    if let Some(url) = &cfg.base_url {
        return url.trim_end_matches('/').to_owned();
    }
    let kind = match cfg.environment_type {
        AfasEnvironmentType::Production => "rest",
        AfasEnvironmentType::Test => "resttest",
        AfasEnvironmentType::Accept => "restaccept",
    };
    // Validation makes sure one of `base_url` and `environment` is set.
    format!(
        "https://{}.{kind}.afas.online/ProfitRestServices",
        cfg.environment.as_deref().unwrap_or_default()
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

/// Percent-encodes a query value.
pub(crate) fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl AfasSource {
    /// A source for `cfg`; the token is resolved now with `lookup` (normally the environment).
    /// `progress`: draw a progress bar while fetching (on a terminal).
    pub fn new(
        cfg: &AfasSourceConfig,
        lookup: impl Fn(&str) -> Option<String>,
        progress: bool,
    ) -> Result<AfasSource, ConnectorError> {
        let token = cfg
            .token
            .resolve("source.token", lookup)
            .map_err(|e| ConnectorError::Http(e.to_string()))?;
        let mut settings = HttpSettings::new("AFAS Profit", &base_url(cfg));
        settings.timeout = Duration::from_secs(cfg.timeout_secs.max(1));
        settings.retries = cfg.retries;
        settings.concurrency = cfg.concurrency.max(1) as usize;
        settings.rate_limit = cfg.rate_limit;
        settings.progress = progress;
        settings.credential_hint = match cfg.token.env_name() {
            Some(var) => format!("${var} (source.token)"),
            None => "source.token".to_owned(),
        };
        let client = HttpClient::new(settings, &authorization(&token), describe_error)?
            .with_permanent(permanent_error);
        Ok(AfasSource {
            cfg: cfg.clone(),
            client: Arc::new(client),
            rt: runtime()?,
        })
    }

    /// The client (for request counts in benchmarks).
    pub fn client(&self) -> &HttpClient {
        &self.client
    }

    /// Checks online that the GetConnector exists and has every field in `columns` (key path,
    /// field name: what the configuration uses, [`crate::config::Config::columns_in_use`]).
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
        let mut merger = RowMerger::new(&layout);
        let take = u64::from(self.cfg.page_size.max(1));
        let window = self.client.settings().concurrency as u64;
        let connector = encode(&self.cfg.connector);
        let order = encode(&self.cfg.columns.id);
        let bar = self.client.progress(None, "AFAS rows");

        let mut in_flight: JoinSet<(u64, Result<Response, super::http::HttpError>)> =
            JoinSet::new();
        let mut arrived: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
        let mut next_page = 0u64;
        let mut next_merge = 0u64;
        // The first page with fewer than `take` rows, and its row count.
        let mut short: Option<(u64, usize)> = None;
        loop {
            // Keep the window full until the end is known; then only what confirms it: after a
            // short page with rows, the next one must come back empty.
            let last_needed = short.map(|(p, rows)| if rows > 0 { p + 1 } else { p });
            while (in_flight.len() as u64) < window && last_needed.is_none_or(|l| next_page <= l) {
                let client = Arc::clone(&self.client);
                let page = next_page;
                let path = format!(
                    "/connectors/{connector}?skip={}&take={take}&orderbyfieldids={order}",
                    page * take
                );
                in_flight.spawn(async move { (page, client.get(&path).await) });
                next_page += 1;
            }
            let Some(joined) = in_flight.join_next().await else {
                break;
            };
            let (page, result) = joined.map_err(|e| {
                ConnectorError::Http(format!("AFAS Profit: a page request failed: {e}"))
            })?;
            // Any failed page fails the fetch (after its retries); dropping the set cancels the
            // other requests.
            arrived.insert(page, result?.body);
            while let Some(body) = arrived.remove(&next_merge) {
                let skip = next_merge * take;
                let rows = merger.add_json(&body, "rows").map_err(|m| {
                    self.data_error(
                        &format!("/connectors/{connector}"),
                        format!("page at skip {skip}: {m}"),
                    )
                })?;
                bar.inc(rows as u64);
                match short {
                    None if (rows as u64) < take => short = Some((next_merge, rows)),
                    Some((p, got)) if rows > 0 => {
                        return Err(ConnectorError::Http(format!(
                            "AFAS Profit: the page at skip {} came back with {got} of {take} rows, \
                             but the page at skip {skip} has {rows} more: a page was cut short, so \
                             the data is incomplete. Nothing was planned; try again",
                            p * take
                        )));
                    }
                    _ => {}
                }
                next_merge += 1;
            }
            if next_merge > 50_000_000 / take {
                return Err(ConnectorError::Http(
                    "AFAS Profit: more than 50 million rows: the server seems to ignore `skip`"
                        .to_owned(),
                ));
            }
        }
        bar.finish_and_clear();
        let snapshot = merger.finish();
        tracing::info!(
            persons = snapshot.persons.len(),
            pages = next_merge,
            requests = self.client.requests(),
            "fetched the AFAS GetConnector {}",
            self.cfg.connector
        );
        Ok(snapshot)
    }
}

/// "AFAS has no GetConnector `x`", with the closest of the ones it has.
fn unknown_connector(connector: &str, have: &[String]) -> String {
    let have: Vec<&str> = have.iter().map(String::as_str).collect();
    let hint = match crate::closest::closest(connector, have.iter().copied()) {
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
            .filter(|f| !f.contains('.') && !crate::config::REQUIRED_COLUMNS.contains(f));
        let hint = match (
            crate::closest::closest(field, have.iter().copied()),
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Columns;

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
