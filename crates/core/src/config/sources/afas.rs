//! `source: { kind: afas }`: AFAS Profit through its REST GetConnectors. The environment (its
//! number and type) is shared with the `afas_applicants` target.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ColumnOverrides, Columns};
use crate::config::error::{At, ConfigError};
use crate::config::http::{HttpConfig, http_url};
use crate::config::secret::Secret;

/// AFAS Profit: people come from a GetConnector (defined per customer, so its id and field names
/// are configuration).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AfasSourceConfig {
    /// The environment (participant) number, like `12345`: the API is at
    /// `https://{environment}.rest.afas.online/ProfitRestServices`. Required unless `base_url`
    /// is set; letters and digits only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Which AFAS environment type: `production`, `test` or `accept`.
    #[serde(default)]
    pub environment_type: AfasEnvironmentType,
    /// The full base URL instead of one derived from `environment` (for the sandbox emulator or
    /// a proxy), like `http://127.0.0.1:8401/ProfitRestServices`. With it, `environment` is not
    /// needed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The app connector token: `${env:AFAS_TOKEN}`.
    pub token: Secret,
    /// Id of the GetConnector with one row per employment.
    #[serde(default = "default_afas_connector")]
    pub connector: String,
    /// Rows per page (`take`).
    #[serde(default = "default_afas_page_size")]
    #[schemars(range(min = 1))]
    pub page_size: u32,
    /// Most calls in flight at once (AFAS asks for at most 5).
    #[serde(default = "default_afas_concurrency")]
    #[schemars(range(min = 1))]
    pub concurrency: u32,
    /// Field names of the GetConnector. Name only those that differ from AFAS's common field
    /// names: every field left out keeps its default, and optional ones can be `null`.
    #[serde(
        default = "Columns::afas",
        deserialize_with = "Columns::deserialize_afas"
    )]
    #[schemars(with = "ColumnOverrides")]
    pub columns: Columns,
    /// The fields that order the rows while paging (`orderbyfieldids`; `-Field` sorts
    /// descending). Together they must be unique per row: AFAS does not promise an order among
    /// rows that tie, so tied rows on both sides of a page boundary could be read twice or not
    /// at all (orgsync stops the fetch when it sees that). Default: the `id` and `start` columns
    /// (employee number and contract start date), since one person has a row per employment;
    /// add a per-row field such as the contract's sequence number when a person can have two
    /// employments starting on one day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_by: Option<Vec<String>>,
    /// Most requests per second (0: unlimited).
    #[serde(default)]
    pub rate_limit: u32,
    /// Timeouts and retries.
    #[serde(flatten)]
    pub http: HttpConfig,
}

fn default_afas_connector() -> String {
    "orgsync_employees".to_owned()
}
fn default_afas_page_size() -> u32 {
    1000
}
fn default_afas_concurrency() -> u32 {
    5
}

impl AfasSourceConfig {
    /// The fields the rows are ordered by while paging: `order_by`, or the `id` and `start`
    /// columns.
    pub fn order_fields(&self) -> Vec<String> {
        match &self.order_by {
            Some(fields) => fields.iter().map(|f| f.trim().to_owned()).collect(),
            None => vec![self.columns.id.clone(), self.columns.start.clone()],
        }
    }
}

/// AFAS environment type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AfasEnvironmentType {
    /// `{env}.rest.afas.online`
    #[default]
    Production,
    /// `{env}.resttest.afas.online`
    Test,
    /// `{env}.restaccept.afas.online`
    Accept,
}

/// `source` of kind `afas`.
pub(super) fn errors(a: &AfasSourceConfig, at: At<'_>, errs: &mut Vec<ConfigError>) {
    match (&a.environment, &a.base_url) {
        (None, None) => errs.push(
            at(
                "/source",
                "the AFAS source needs `environment` (its number, which gives the URL) or `base_url`".into(),
            )
            .hint("add `environment: \"12345\"` (your AFAS environment number: https://12345.rest.afas.online), or `base_url: <URL of ProfitRestServices>` for a proxy or the sandbox"),
        ),
        (Some(env), _) if !is_environment_number(env) => errs.push(
            at(
                "/source/environment",
                format!(
                    "\"{env}\" is not an AFAS environment number: orgsync builds the host name from it (https://<environment>.rest.afas.online), so it holds letters and digits only"
                ),
            )
            .hint(environment_hint(env)),
        ),
        _ => {}
    }
    if let Some(url) = &a.base_url
        && let Err(why) = http_url(url)
    {
        errs.push(
            at("/source/base_url", format!("\"{url}\" is not an http(s) URL: {why}"))
                .hint("write the whole URL of ProfitRestServices, like `https://12345.rest.afas.online/ProfitRestServices` or `http://127.0.0.1:8401/ProfitRestServices`"),
        );
    }
    let connector = a.connector.trim();
    if connector.is_empty() {
        errs.push(
            at("/source/connector", "the GetConnector id is empty".into()).hint(
                "name the GetConnector with one row per employment, like `orgsync_employees` (the default, also when the key is left out)",
            ),
        );
    } else if let Some(c) = connector
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        errs.push(
            at(
                "/source/connector",
                format!(
                    "\"{}\" is not a GetConnector id: it holds {}",
                    a.connector,
                    describe_char(c)
                ),
            )
            .hint("a GetConnector id holds letters, digits, `_`, `-` and `.` only, like `Profit_Employees`; it is the id in Profit, not its description or a URL"),
        );
    }
    order_by_errors(a.order_by.as_deref(), at, errs);
}

/// `source.order_by`: the fields AFAS orders the pages by, one per entry.
fn order_by_errors(order_by: Option<&[String]>, at: At<'_>, errs: &mut Vec<ConfigError>) {
    let Some(fields) = order_by else { return };
    let hint = "list GetConnector fields that are unique per row together, like `[Medewerker, Begindatum_contract]` (the default when the key is left out)";
    if fields.is_empty() {
        errs.push(
            at(
                "/source/order_by",
                "source.order_by is empty: pages without an order can skip or repeat rows".into(),
            )
            .hint(hint),
        );
        return;
    }
    for (i, field) in fields.iter().enumerate() {
        let name = field.trim().trim_start_matches('-');
        let problem = if name.is_empty() {
            Some("is empty".to_owned())
        } else {
            name.chars()
                .find(|c| *c == ',' || c.is_whitespace())
                .map(|c| match c {
                    ',' => "holds a comma".to_owned(),
                    c => format!("holds {}", describe_char(c)),
                })
        };
        if let Some(problem) = problem {
            errs.push(
                at(
                    &format!("/source/order_by/{i}"),
                    format!("\"{field}\" is not a GetConnector field: it {problem}"),
                )
                .hint("one field id per entry, like `Begindatum_contract` (`-Begindatum_contract` sorts descending)"),
            );
        }
    }
}

/// The letters and digits of an environment number (AFAS writes `12345`; some environments have
/// letters, like `O12345AA`).
pub(crate) fn is_environment_number(env: &str) -> bool {
    !env.is_empty() && env.chars().all(|c| c.is_ascii_alphanumeric())
}

pub(crate) fn environment_hint(env: &str) -> String {
    // `https://12345.rest.afas.online/…` or `12345.rest.afas.online`: the number is the first label.
    let host = env
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let first = host.split(['.', '/']).next().unwrap_or_default();
    if host.contains(".afas.") && is_environment_number(first) {
        format!(
            "write only the number: `environment: \"{first}\"` (orgsync adds the rest of the URL; `environment_type` picks rest, resttest or restaccept)"
        )
    } else {
        "write only the environment number, like `environment: \"12345\"`; to reach another URL (a proxy, the sandbox), set `base_url` instead".to_owned()
    }
}

fn describe_char(c: char) -> String {
    match c {
        ' ' => "a space".to_owned(),
        c if c.is_whitespace() => "white space".to_owned(),
        c => format!("`{c}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SourceConfig;
    use crate::config::testing::{FILE_TARGET, afas, load, messages};

    #[test]
    fn partial_afas_columns_keep_the_afas_defaults() {
        let c = load(&afas(
            "  columns:\n    attributes: { contract_type: Soort_medewerker_code }\n",
            "",
        ))
        .unwrap();
        let SourceConfig::Afas(a) = &c.source else {
            panic!("an AFAS source")
        };
        let mut expected = Columns::afas();
        expected
            .attributes
            .insert("contract_type".into(), "Soort_medewerker_code".into());
        assert_eq!(a.columns, expected);
    }

    #[test]
    fn afas_order_by_names_fields_one_per_entry() {
        let c = load(&afas(
            "  order_by: [Medewerker, -Begindatum_contract, Volgnummer]\n",
            "",
        ))
        .unwrap();
        let SourceConfig::Afas(a) = &c.source else {
            panic!("an AFAS source")
        };
        assert_eq!(
            a.order_fields(),
            ["Medewerker", "-Begindatum_contract", "Volgnummer"]
        );
        assert!(
            c.columns_in_use()
                .contains(&("source.order_by[2]".to_owned(), "Volgnummer".to_owned()))
        );
        assert_eq!(
            messages(&afas("  order_by: []\n", "")),
            [
                "source.order_by: source.order_by is empty: pages without an order can skip or repeat rows"
            ]
        );
        assert_eq!(
            messages(&afas(
                "  order_by: [\"Medewerker,Begindatum_contract\", \"\"]\n",
                ""
            )),
            [
                "source.order_by[0]: \"Medewerker,Begindatum_contract\" is not a GetConnector field: it holds a comma",
                "source.order_by[1]: \"\" is not a GetConnector field: it is empty",
            ]
        );
    }

    #[test]
    fn afas_environment_is_optional_with_a_base_url() {
        let text = format!(
            "version: 1\nsource:\n  kind: afas\n  base_url: http://127.0.0.1:8401/ProfitRestServices\n  token: ${{env:AFAS_TOKEN}}\n{FILE_TARGET}"
        );
        load(&text).unwrap();
        let text = text.replace("  base_url: http://127.0.0.1:8401/ProfitRestServices\n", "");
        assert_eq!(
            messages(&text),
            [
                "source: the AFAS source needs `environment` (its number, which gives the URL) or `base_url`"
            ]
        );
    }

    #[test]
    fn afas_environment_with_url_characters_is_refused() {
        for env in [
            "12345.rest.afas.online",
            "https://12345.rest.afas.online",
            "123 45",
        ] {
            let text = afas("", "").replace("\"12345\"", &format!("\"{env}\""));
            let errs = load(&text).unwrap_err();
            assert_eq!(errs.len(), 1, "{errs:#?}");
            assert_eq!(errs[0].path, "source.environment");
        }
        let e = &load(&afas("", "").replace("\"12345\"", "https://12345.rest.afas.online"))
            .unwrap_err()[0];
        assert!(
            e.hint
                .as_deref()
                .unwrap()
                .contains("`environment: \"12345\"`")
        );
    }
}
