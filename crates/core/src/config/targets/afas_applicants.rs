//! `target: { kind: afas_applicants }`: hired candidates sent to AFAS Profit as applicants,
//! once (create-only).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::closest::closest;
use crate::config::error::{At, ConfigError};
use crate::config::http::{HttpConfig, http_url};
use crate::config::secret::Secret;
use crate::config::sources::{AfasEnvironmentType, environment_hint, is_environment_number};
use crate::config::{Config, SourceConfig};

/// AFAS Profit applicants: each hired candidate becomes an applicant through the UpdateConnector
/// `HrCreateApplicant`, once. AFAS does no duplicate detection, so orgsync keeps a badge per
/// candidate (who sent whom, when, the applicant id) in the git notes of the configuration
/// repository, written before and after each send: the configuration must be in git.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AfasApplicantsTargetConfig {
    /// The environment (participant) number, like `12345`. Required unless `base_url` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Which AFAS environment type: `production`, `test` or `accept`.
    #[serde(default)]
    pub environment_type: AfasEnvironmentType,
    /// The full base URL instead of one derived from `environment`, like
    /// `http://127.0.0.1:8401/ProfitRestServices`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The app connector token: `${env:AFAS_TOKEN}`.
    pub token: Secret,
    /// The UpdateConnector that creates an applicant.
    #[serde(default = "default_applicant_connector")]
    pub connector: String,
    /// AFAS field → where its value comes from: a person field (`first_name`, `last_name`,
    /// `email`; `name_prefix` and `last_name_without_prefix`: the last name split at a leading
    /// lowercase Dutch prefix, `de Wit` → `de` + `Wit`), an applicant attribute (`birth_date`,
    /// `gender`, `phone`, `street`, `house_number`, `house_number_addition`, `postal_code`,
    /// `city`, `country`, `job`, `field:<name>` for a mapped profile field; a one-line address in
    /// `street` is split when it is unambiguous), `vacancy` (from `vacancies`), or `=<text>` for
    /// a fixed value. Replaces the default mapping when given.
    #[serde(default = "default_applicant_fields")]
    pub fields: BTreeMap<String, String>,
    /// Gender values as the source writes them (case-insensitive) → AFAS's code.
    #[serde(default = "default_gender_codes")]
    pub gender_codes: BTreeMap<String, String>,
    /// A GetConnector listing the applicants in AFAS, to look up a candidate whose send was
    /// interrupted (a crash, a lost answer) before sending it again. Without it such a
    /// candidate is held for a person to check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookup: Option<AfasApplicantLookup>,
    /// Candidate ids a person checked by hand after an interrupted send (not in AFAS): sent
    /// again. A candidate with a confirmed send is never sent again, listed here or not.
    #[serde(default)]
    pub resend: Vec<String>,
    /// The opposite of `resend`: candidate ids a person found in AFAS after an unconfirmed
    /// send (the answer was lost, AFAS had processed it). Recorded as sent — a badge in the
    /// git notes at the next apply, `checked: true` — and never sent again, listed here or
    /// not afterwards.
    #[serde(default)]
    pub sent: Vec<String>,
    /// The AFAS vacancy (`VcSn`) of each hire, by the Recruitee job (offer) they were hired for:
    /// sent as the value `vacancy`. Without it no vacancy is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vacancies: Option<VacancyMapping>,
    /// Most calls in flight at once.
    #[serde(default = "default_applicant_concurrency")]
    #[schemars(range(min = 1))]
    pub concurrency: u32,
    /// Most requests per second (0: unlimited).
    #[serde(default)]
    pub rate_limit: u32,
    /// Timeouts and retries.
    #[serde(flatten)]
    pub http: HttpConfig,
}

/// Recruitee jobs → AFAS vacancies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VacancyMapping {
    /// Recruitee job (offer) id, or its title (case-insensitive) → the AFAS vacancy number
    /// (`VcSn`, "Volgnummer vacature"), like `"1192594": "14"`.
    #[serde(default)]
    pub map: BTreeMap<String, String>,
    /// The vacancy for a hire whose job is not in `map` (a warning names the job either way);
    /// without it such a hire is sent without a vacancy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
}

impl VacancyMapping {
    /// The vacancy of a hire for job `offer` titled `title`: mapped by id, else by title, else
    /// `None` (the caller falls back).
    pub fn mapped(&self, offer: Option<&str>, title: Option<&str>) -> Option<&str> {
        if let Some(v) = offer.and_then(|o| self.map.get(o.trim())) {
            return Some(v.as_str());
        }
        let title = title?.trim().to_lowercase();
        self.map
            .iter()
            .find(|(k, _)| k.trim().to_lowercase() == title)
            .map(|(_, v)| v.as_str())
    }
}

/// The GetConnector that lists applicants, for looking up an interrupted send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AfasApplicantLookup {
    /// Its id.
    pub connector: String,
    /// The field holding the applicant's e-mail address (compared case-insensitively).
    #[serde(default = "default_lookup_email")]
    pub email_field: String,
    /// The field holding the applicant's id.
    #[serde(default = "default_lookup_id")]
    pub id_field: String,
}

fn default_lookup_email() -> String {
    "Email".to_owned()
}
fn default_lookup_id() -> String {
    "Sollicitant".to_owned()
}
fn default_applicant_connector() -> String {
    "HrCreateApplicant".to_owned()
}
fn default_applicant_concurrency() -> u32 {
    1
}

/// The default AFAS field mapping [I: AFAS's person field codes as KnPerson uses them; check
/// them with `orgsync validate --online`, which reads the UpdateConnector's metainfo].
pub fn default_applicant_fields() -> BTreeMap<String, String> {
    [
        ("FiNm", "first_name"),
        ("Is", "name_prefix"),
        ("LaNm", "last_name_without_prefix"),
        ("DaBi", "birth_date"),
        ("ViGe", "gender"),
        ("EmAd", "email"),
        ("TeNr", "phone"),
        ("Ad", "street"),
        ("HmNr", "house_number"),
        ("HmAd", "house_number_addition"),
        ("ZpCd", "postal_code"),
        ("Rs", "city"),
        ("CoId", "country"),
        ("VcSn", "vacancy"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .collect()
}

/// The default gender codes [I: AFAS's `M`/`V`/`O`/`X`].
pub fn default_gender_codes() -> BTreeMap<String, String> {
    [
        ("male", "M"),
        ("man", "M"),
        ("m", "M"),
        ("female", "V"),
        ("woman", "V"),
        ("vrouw", "V"),
        ("f", "V"),
        ("v", "V"),
        ("other", "X"),
        ("non-binary", "X"),
        ("x", "X"),
        ("unknown", "O"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .collect()
}

/// Where an AFAS applicant field's value may come from.
pub(crate) const APPLICANT_VALUES: [&str; 16] = [
    "first_name",
    "last_name",
    "name_prefix",
    "last_name_without_prefix",
    "email",
    "birth_date",
    "gender",
    "phone",
    "street",
    "house_number",
    "house_number_addition",
    "postal_code",
    "city",
    "country",
    "job",
    "vacancy",
];

/// `target` of kind `afas_applicants`.
/// `target` of kind `afas_applicants`.
pub(super) fn errors(
    t: &AfasApplicantsTargetConfig,
    config: &Config,
    at: At<'_>,
    errs: &mut Vec<ConfigError>,
) {
    match (&t.environment, &t.base_url) {
        (None, None) => errs.push(
            at("/target", "the AFAS applicants target needs `environment` (its number, which gives the URL) or `base_url`".into())
                .hint("add `environment: \"12345\"`, or `base_url: <URL of ProfitRestServices>` for a proxy or the sandbox"),
        ),
        (Some(env), _) if !is_environment_number(env) => errs.push(
            at("/target/environment", format!("\"{env}\" is not an AFAS environment number: it holds letters and digits only"))
                .hint(environment_hint(env)),
        ),
        _ => {}
    }
    if let Some(url) = &t.base_url
        && let Err(why) = http_url(url)
    {
        errs.push(
            at("/target/base_url", format!("\"{url}\" is not an http(s) URL: {why}"))
                .hint("write the whole URL of ProfitRestServices, like `http://127.0.0.1:8401/ProfitRestServices`"),
        );
    }
    if t.connector.trim().is_empty() {
        errs.push(
            at(
                "/target/connector",
                "the UpdateConnector id is empty".into(),
            )
            .hint("leave it out for `HrCreateApplicant`"),
        );
    }
    if t.fields.is_empty() {
        errs.push(
            at("/target/fields", "no AFAS field is mapped: an applicant would be sent empty".into())
                .hint("leave `fields` out for the default mapping, or map AFAS fields, like `LaNm: last_name`"),
        );
    }
    let extra: Vec<String> = match &config.source {
        SourceConfig::Recruitee(r) => r
            .fields
            .extra
            .iter()
            .map(|n| format!("field:{n}"))
            .collect(),
        _ => Vec::new(),
    };
    for (field, value) in &t.fields {
        let pointer = format!("/target/fields/{field}");
        if field.trim().is_empty() {
            errs.push(
                at(&pointer, "an AFAS field name is empty".into())
                    .hint("write `<AFAS field>: <value>`, like `LaNm: last_name`"),
            );
            continue;
        }
        if value.starts_with('=') {
            continue;
        }
        let known = APPLICANT_VALUES.contains(&value.as_str())
            || extra.iter().any(|e| e == value)
            || (value.starts_with("field:")
                && !matches!(config.source, SourceConfig::Recruitee(_)));
        if !known {
            let mut candidates: Vec<&str> = APPLICANT_VALUES.to_vec();
            candidates.extend(extra.iter().map(String::as_str));
            let mut e = at(
                &pointer,
                format!("`{value}` is not a value orgsync has for an applicant"),
            );
            e = match closest(value, candidates.iter().copied()) {
                Some(c) => e.hint(format!("did you mean `{c}`? Values: {}, `field:<name>` for a profile field listed in source.fields.extra, or `=<text>` for a fixed text", APPLICANT_VALUES.join(", "))),
                None => e.hint(format!("values: {}, `field:<name>` for a profile field listed in source.fields.extra, or `=<text>` for a fixed text", APPLICANT_VALUES.join(", "))),
            };
            errs.push(e);
        }
    }
    for (i, id) in t.sent.iter().enumerate() {
        if t.resend.iter().any(|r| r.trim() == id.trim()) {
            errs.push(
                at(
                    &format!("/target/sent/{i}"),
                    format!("candidate {id} is listed under both `sent` (it is in AFAS) and `resend` (it is not)"),
                )
                .hint("keep it under `sent` when AFAS has the applicant, under `resend` when it does not"),
            );
        }
    }
    if let Some(v) = &t.vacancies {
        for (job, vacancy) in &v.map {
            let pointer = format!("/target/vacancies/map/{job}");
            if job.trim().is_empty() {
                errs.push(
                    at(&pointer, "a Recruitee job in the vacancy mapping is empty".into())
                        .hint("write `\"<job id or title>\": <AFAS vacancy number>`, like `\"1192594\": \"14\"`"),
                );
            }
            if vacancy.trim().is_empty() {
                errs.push(
                    at(&pointer, format!("job {job} maps to an empty AFAS vacancy"))
                        .hint("write the vacancy's number (VcSn, \"Volgnummer vacature\"), or leave the job out to use the fallback"),
                );
            }
        }
        if v.fallback.as_deref().is_some_and(|f| f.trim().is_empty()) {
            errs.push(
                at("/target/vacancies/fallback", "the fallback vacancy is empty".into())
                    .hint("write an AFAS vacancy number, or leave `fallback` out to send hires of unmapped jobs without a vacancy"),
            );
        }
        if !t.fields.values().any(|f| f == "vacancy") {
            errs.push(
                at(
                    "/target/vacancies",
                    "`vacancies` is set, but no AFAS field sends `vacancy`".into(),
                )
                .hint("add `VcSn: vacancy` to target.fields"),
            );
        }
    }
    if let Some(l) = &t.lookup {
        for (key, v) in [
            ("connector", &l.connector),
            ("email_field", &l.email_field),
            ("id_field", &l.id_field),
        ] {
            if v.trim().is_empty() {
                errs.push(
                    at(
                        &format!("/target/lookup/{key}"),
                        format!("the lookup's `{key}` is empty"),
                    )
                    .hint(
                        "name the GetConnector that lists applicants and its e-mail and id fields",
                    ),
                );
            }
        }
    }
}
