//! `source: { kind: recruitee }`: the candidates hired in Recruitee (applicant tracker).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::error::{At, ConfigError};
use crate::config::http::{HttpConfig, http_url};
use crate::config::secret::Secret;

/// Recruitee: people are the candidates with a placement in a hired stage. Each hired placement
/// is one employment (its job is the function, `hired_at` its start), so the scope rules work as
/// for an HR system. Birth date, gender, phone and address come from the candidate's detail
/// answer and are sent on the wire only: plans and records carry a digest of them.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecruiteeSourceConfig {
    /// The company id (a number, in Recruitee under Settings → Apps and plugins → Personal API
    /// tokens): the API is at `{base_url}/c/{company_id}`.
    pub company_id: String,
    /// The API's base URL; another one for the sandbox emulator or a proxy, like
    /// `http://127.0.0.1:8406`.
    #[serde(default = "default_recruitee_url")]
    pub base_url: String,
    /// The personal API token, sent as `Authorization: Bearer …`: `${env:RECRUITEE_TOKEN}`.
    pub token: Secret,
    /// Which placements count as hired.
    #[serde(default)]
    pub hired: RecruiteeHiredConfig,
    /// Names of the candidate's profile fields (in the detail answer's `fields`) that hold the
    /// applicant data AFAS receives. Matched case-insensitively on the field's `name`, or on its
    /// `kind` for Recruitee's built-in fields.
    #[serde(default)]
    pub fields: RecruiteeFieldsConfig,
    /// Candidates per page (`limit`, with `offset`).
    #[serde(default = "default_recruitee_page_size")]
    #[schemars(range(min = 1))]
    pub page_size: u32,
    /// Most calls in flight at once (the candidates' detail answers are read concurrently).
    #[serde(default = "default_recruitee_concurrency")]
    #[schemars(range(min = 1))]
    pub concurrency: u32,
    /// Most requests per second (0: unlimited).
    #[serde(default)]
    pub rate_limit: u32,
    /// Timeouts and retries.
    #[serde(flatten)]
    pub http: HttpConfig,
}

fn default_recruitee_url() -> String {
    "https://api.recruitee.com".to_owned()
}
fn default_recruitee_page_size() -> u32 {
    100
}
fn default_recruitee_concurrency() -> u32 {
    4
}

/// Which placements count as hired. By default a placement whose stage has the category `hire`
/// (Recruitee's own hired stage in every pipeline).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RecruiteeHiredConfig {
    /// The stage category that counts as hired.
    pub category: String,
    /// Stage names that count as hired instead of the category (case-insensitive), for a
    /// pipeline with a custom last stage. Empty: the category decides.
    pub stages: Vec<String>,
    /// Per job (its id or title): the stage names that count as hired for that job, instead of
    /// `stages` and the category.
    pub jobs: BTreeMap<String, Vec<String>>,
}

impl Default for RecruiteeHiredConfig {
    fn default() -> Self {
        RecruiteeHiredConfig {
            category: "hire".to_owned(),
            stages: Vec::new(),
            jobs: BTreeMap::new(),
        }
    }
}

/// The candidate profile fields that hold applicant data (names as in Recruitee; `null` leaves a
/// field out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RecruiteeFieldsConfig {
    /// First name, when the profile has it apart. Without it the first word of `name` is the
    /// first name.
    pub first_name: Option<String>,
    /// Last name, when the profile has it apart (with its prefix: `van der Berg`).
    pub last_name: Option<String>,
    /// Birth date (a date field).
    pub birth_date: Option<String>,
    /// Gender.
    pub gender: Option<String>,
    /// Street.
    pub street: Option<String>,
    /// House number.
    pub house_number: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// More profile fields to read, by name: each becomes the attribute `field:<name>`, for
    /// exclusion rules and the AFAS field mapping.
    pub extra: Vec<String>,
}

impl Default for RecruiteeFieldsConfig {
    fn default() -> Self {
        let o = |v: &str| Some(v.to_owned());
        RecruiteeFieldsConfig {
            first_name: None,
            last_name: None,
            birth_date: o("Date of birth"),
            gender: o("Gender"),
            street: o("Street"),
            house_number: o("House number"),
            postal_code: o("Postal code"),
            city: o("City"),
            country: o("Country"),
            extra: Vec::new(),
        }
    }
}

impl RecruiteeFieldsConfig {
    /// (attribute key, field name) of every applicant field that is read.
    pub fn named(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = [
            ("birth_date", &self.birth_date),
            ("gender", &self.gender),
            ("street", &self.street),
            ("house_number", &self.house_number),
            ("postal_code", &self.postal_code),
            ("city", &self.city),
            ("country", &self.country),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k.to_owned(), v.clone())))
        .collect();
        out.extend(self.extra.iter().map(|n| (format!("field:{n}"), n.clone())));
        out
    }
}

/// `source` of kind `recruitee`.
pub(super) fn errors(r: &RecruiteeSourceConfig, at: At<'_>, errs: &mut Vec<ConfigError>) {
    let id = r.company_id.trim();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        errs.push(
            at(
                "/source/company_id",
                format!("\"{}\" is not a Recruitee company id: orgsync puts it in the URL (/c/<company_id>/candidates), so it holds letters and digits only", r.company_id),
            )
            .hint("write the company's number, like `company_id: \"12345\"` (Recruitee shows it with the personal API tokens)"),
        );
    }
    if let Err(why) = http_url(&r.base_url) {
        errs.push(
            at("/source/base_url", format!("\"{}\" is not an http(s) URL: {why}", r.base_url))
                .hint("leave it out for https://api.recruitee.com, or write the emulator's, like `http://127.0.0.1:8406`"),
        );
    }
    if r.hired.category.trim().is_empty() && r.hired.stages.is_empty() && r.hired.jobs.is_empty() {
        errs.push(
            at(
                "/source/hired/category",
                "no stage would count as hired: the category is empty and no stages are named"
                    .into(),
            )
            .hint("keep `category: hire` (Recruitee's hired stage), or list `stages: [Hired]`"),
        );
    }
    for (key, value) in [
        ("first_name", &r.fields.first_name),
        ("last_name", &r.fields.last_name),
        ("birth_date", &r.fields.birth_date),
        ("gender", &r.fields.gender),
        ("street", &r.fields.street),
        ("house_number", &r.fields.house_number),
        ("postal_code", &r.fields.postal_code),
        ("city", &r.fields.city),
        ("country", &r.fields.country),
    ] {
        if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
            errs.push(
                at(&format!("/source/fields/{key}"), format!("the profile field of `{key}` is empty"))
                    .hint("name the candidate profile field as Recruitee shows it, like `Date of birth`, or write `null` to leave it out"),
            );
        }
    }
    for (i, name) in r.fields.extra.iter().enumerate() {
        if name.trim().is_empty() {
            errs.push(
                at(&format!("/source/fields/extra/{i}"), "the profile field name is empty".into())
                    .hint("name a candidate profile field, like `Shirt size`; it becomes the attribute `field:Shirt size`"),
            );
        }
    }
}
