//! Checks that values mean something. Everything here is valid YAML of the right type that would
//! still do nothing, or something else than it says: an empty identifier that matches no one, a
//! rule on an attribute the source never delivers, a limit that is no limit, a delimiter that
//! splits nothing, a URL that is not one. Each is reported at its key with what to do instead,
//! rather than failing later in `plan` far from the line — or never failing at all.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use globset::GlobBuilder;

use super::error::{At, ConfigError, display_path};
use super::{
    AfasApplicantsTargetConfig, Config, FileFormat, FileSourceConfig, FunctionSourceField, Limit,
    MatchKey, OneOrMany, REQUIRED_COLUMNS, RecruiteeSourceConfig, RevolutTargetConfig,
    ScimTargetConfig, SourceConfig, TargetConfig,
};
use crate::closest::closest;

/// Every check of this module.
pub(crate) fn errors(config: &Config, at: At<'_>) -> Vec<ConfigError> {
    let mut errs = Vec::new();
    source_errors(config, at, &mut errs);
    target_errors(config, at, &mut errs);
    column_errors(config, at, &mut errs);
    column_reference_errors(config, at, &mut errs);
    mapping_errors(config, at, &mut errs);
    rule_errors(config, at, &mut errs);
    policy_errors(config, at, &mut errs);
    errs
}

// ---------------------------------------------------------------------------------------------
// Source and target

fn source_errors(config: &Config, at: At<'_>, errs: &mut Vec<ConfigError>) {
    match &config.source {
        SourceConfig::File(f) => file_source_errors(f, config, at, errs),
        SourceConfig::Afas(a) => {
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
        SourceConfig::Recruitee(r) => recruitee_errors(r, at, errs),
        SourceConfig::Google(g) => google_source_errors(g, at, errs),
        SourceConfig::Manusplus(m) => manusplus_source_errors(m, at, errs),
    }
}

/// `source` of kind `recruitee`.
fn recruitee_errors(r: &RecruiteeSourceConfig, at: At<'_>, errs: &mut Vec<ConfigError>) {
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

/// Where an AFAS applicant field's value may come from.
pub const APPLICANT_VALUES: [&str; 12] = [
    "first_name",
    "last_name",
    "email",
    "birth_date",
    "gender",
    "phone",
    "street",
    "house_number",
    "postal_code",
    "city",
    "country",
    "job",
];

/// `target` of kind `afas_applicants`.
fn applicants_errors(
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

fn url_errors(pointer: &str, url: &str, example: &str, at: At<'_>, errs: &mut Vec<ConfigError>) {
    if let Err(why) = http_url(url) {
        errs.push(
            at(pointer, format!("\"{url}\" is not an http(s) URL: {why}"))
                .hint(format!("write the whole URL, like `{example}`")),
        );
    }
}

fn google_source_errors(g: &super::GoogleSourceConfig, at: At<'_>, errs: &mut Vec<ConfigError>) {
    url_errors(
        "/source/base_url",
        &g.base_url,
        "https://admin.googleapis.com",
        at,
        errs,
    );
    if let Some(url) = &g.token_url {
        url_errors(
            "/source/token_url",
            url,
            "https://oauth2.googleapis.com/token",
            at,
            errs,
        );
    }
    let subject = g.subject.trim();
    if subject.is_empty() || !subject.contains('@') || subject.contains(char::is_whitespace) {
        errs.push(
            at("/source/subject", "the subject is not an e-mail address".into()).hint(
                "name the administrator the service account acts for (domain-wide delegation), like `admin@example.com`",
            ),
        );
    }
    if g.customer.trim().is_empty() {
        errs.push(
            at("/source/customer", "the customer is empty".into())
                .hint("write `my_customer` (the default) or your customer id, like `C01abc123`"),
        );
    }
    if g.external_id_type.trim().is_empty() {
        errs.push(
            at("/source/external_id_type", "the external id type is empty".into())
                .hint("write `organization` (the default) or the custom type that holds the employee number"),
        );
    }
    if !g.org_units.is_empty() && g.community_from != super::GoogleCommunityFrom::OrgUnit {
        errs.push(
            at(
                "/source/org_units",
                "org_units only applies with `community_from: org_unit`".into(),
            )
            .hint("remove org_units, or set `community_from: org_unit`"),
        );
    }
    for (i, glob) in g.org_units.iter().enumerate() {
        if !glob.starts_with('/') || globset::Glob::new(glob).is_err() {
            errs.push(
                at(
                    &format!("/source/org_units/{i}"),
                    format!("\"{glob}\" is not an org unit path glob"),
                )
                .hint(
                    "org unit paths start at the root `/`, like `/Stores/*` or `/Stores/Amsterdam`",
                ),
            );
        }
    }
}

fn manusplus_source_errors(
    m: &super::ManusPlusSourceConfig,
    at: At<'_>,
    errs: &mut Vec<ConfigError>,
) {
    url_errors(
        "/source/base_url",
        &m.base_url,
        "https://server.manus.plus/acme",
        at,
        errs,
    );
    for (key, value, hint) in [
        (
            "username",
            &m.username,
            "name the data service user, like `orgsync-data`",
        ),
        (
            "node",
            &m.node,
            "give the id of the organisation node to read, as ManusPlus shows it",
        ),
        ("client_id", &m.client_id, "write `employee` (the default)"),
    ] {
        if value.trim().is_empty() {
            errs.push(at(&format!("/source/{key}"), format!("source.{key} is empty")).hint(hint));
        }
    }
    let p = &m.paths;
    for (key, path) in [
        ("token", &p.token),
        ("nodes", &p.nodes),
        ("employees", &p.employees),
        ("contracts", &p.contracts),
        ("departments", &p.departments),
        ("functions", &p.functions),
    ] {
        if !path.starts_with('/') || path.contains('?') || path.contains(char::is_whitespace) {
            errs.push(
                at(&format!("/source/paths/{key}"), format!("\"{path}\" is not a path below base_url"))
                    .hint("write a path that starts with `/`, without a query, like `/api/node/{node}/employee`"),
            );
        }
    }
    let f = &m.fields;
    for (key, field) in [
        ("items", &f.items),
        ("id", &f.id),
        ("name", &f.name),
        ("node_parent", &f.node_parent),
        ("employee_number", &f.employee_number),
        ("first_name", &f.first_name),
        ("last_name", &f.last_name),
        ("email", &f.email),
        ("contract_employee", &f.contract_employee),
        ("contract_node", &f.contract_node),
        ("contract_start", &f.contract_start),
    ] {
        if field.trim().is_empty() {
            errs.push(
                at(&format!("/source/fields/{key}"), format!("the field name of `{key}` is empty"))
                    .hint("name the JSON key (or dotted path) that holds it; leave the key out for the default"),
            );
        }
    }
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

fn file_source_errors(
    f: &FileSourceConfig,
    config: &Config,
    at: At<'_>,
    errs: &mut Vec<ConfigError>,
) {
    if f.path.trim().is_empty() {
        errs.push(
            at("/source/path", "the export's path is empty".into())
                .hint("name the export file, relative to the configuration directory, like `hr-export.json`"),
        );
    }
    if let TargetConfig::File(t) = &config.target
        && !f.path.trim().is_empty()
        && normalize(&f.path) == normalize(&t.path)
    {
        errs.push(
            at(
                "/source/path",
                format!(
                    "source.path and target.path both name `{}`: apply would overwrite the HR export with the workspace",
                    f.path
                ),
            )
            .hint("the source is the export of the HR system, the target the app's workspace: they are two files"),
        );
    }
    let format = f.format.or_else(|| {
        match Path::new(&f.path)
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("json") => Some(FileFormat::Json),
            Some("csv") => Some(FileFormat::Csv),
            Some("yaml" | "yml") => Some(FileFormat::Yaml),
            _ => None,
        }
    });
    if let Some(d) = &f.delimiter {
        let one_char =
            d.chars().count() == 1 && d.is_ascii() && !matches!(d.as_str(), "\"" | "\n" | "\r");
        if !(one_char || d == "\\t" || d == "tab") {
            let what = if d.is_empty() {
                "the delimiter is empty".to_owned()
            } else {
                format!("\"{d}\" is not one character: CSV fields are split on one ASCII character")
            };
            errs.push(
                at("/source/delimiter", what)
                    .hint("write one character, like `;` or `|`, or `tab` for tab-separated files"),
            );
        } else if matches!(format, Some(FileFormat::Json | FileFormat::Yaml)) {
            errs.push(
                at(
                    "/source/delimiter",
                    format!(
                        "a delimiter only applies to CSV, and this export is {}",
                        format_name(format)
                    ),
                )
                .hint("remove `delimiter`, or set `format: csv` if the file really is CSV"),
            );
        }
    }
    if let Some(r) = &f.records {
        if r.trim().is_empty() {
            errs.push(
                at("/source/records", "the records key is empty".into()).hint(
                    "name the key that holds the list of rows, like `rows`, or remove `records` when the file is the list itself",
                ),
            );
        } else if format == Some(FileFormat::Csv) {
            errs.push(
                at(
                    "/source/records",
                    "`records` only applies to JSON and YAML exports, and this export is CSV"
                        .into(),
                )
                .hint("remove `records`: every line of a CSV file after the header is a row"),
            );
        }
    }
    if let Some(format) = &f.date_format
        && let Err(why) = check_date_format(format)
    {
        errs.push(
            at("/source/date_format", format!("the date format \"{format}\" {why}"))
                .hint("a date format needs the year, month and day as strftime fields, like `%d-%m-%Y` (31-12-2025) or `%m/%d/%Y`; leave it out for ISO dates (2025-12-31)"),
        );
    }
}

/// A date format is useful only if the dates it writes read back as the same dates.
fn check_date_format(format: &str) -> Result<(), String> {
    use jiff::civil::date;
    for d in [date(2031, 11, 23), date(2032, 2, 5)] {
        let text = jiff::fmt::strtime::format(format, d)
            .map_err(|e| format!("is not a strftime pattern: {e}"))?;
        match jiff::civil::Date::strptime(format, &text) {
            Ok(back) if back == d => {}
            Ok(back) => {
                return Err(format!(
                    "reads dates wrongly: {d} written with it is \"{text}\", which reads back as {back}"
                ));
            }
            Err(_) => {
                return Err(format!(
                    "cannot read a date: {d} written with it is \"{text}\", which does not read back as a date"
                ));
            }
        }
    }
    Ok(())
}

fn target_errors(config: &Config, at: At<'_>, errs: &mut Vec<ConfigError>) {
    match &config.target {
        TargetConfig::File(t) => {
            if t.path.trim().is_empty() {
                errs.push(
                    at("/target/path", "the workspace's path is empty".into()).hint(
                        "name the workspace file, relative to the configuration directory, like `workspace.json`",
                    ),
                );
            }
        }
        TargetConfig::Scim(s) => scim_errors(s, at, errs),
        TargetConfig::AfasApplicants(t) => applicants_errors(t, config, at, errs),
        TargetConfig::Revolut(r) => revolut_errors(r, at, errs),
    }
}

fn revolut_errors(r: &RevolutTargetConfig, at: At<'_>, errs: &mut Vec<ConfigError>) {
    if let Err(why) = http_url(&r.base_url) {
        errs.push(
            at(
                "/target/base_url",
                format!("\"{}\" is not an http(s) URL: {why}", r.base_url),
            )
            .hint("leave it out for Revolut's own (`https://b2b.revolut.com/api/1.0`), or write the whole base URL, like `http://127.0.0.1:8404/api/1.0` for the sandbox"),
        );
    }
    if !(1..=1000).contains(&r.page_size) {
        errs.push(
            at(
                "/target/page_size",
                format!(
                    "{} members per page: Revolut lists 1 to 1000 per page",
                    r.page_size
                ),
            )
            .hint("leave it out (100) or choose 1 to 1000"),
        );
    }
    if r.default_role.trim().is_empty() {
        errs.push(
            at("/target/default_role", "the default role is empty".into())
                .hint("use a role id from `GET /roles`, like `Member`"),
        );
    } else if r.default_role.trim().eq_ignore_ascii_case("owner") {
        errs.push(
            at(
                "/target/default_role",
                "the Owner role cannot be given: a business has one owner".into(),
            )
            .hint("use `Member`, `Admin` or a custom role's id"),
        );
    }
}

fn scim_errors(s: &ScimTargetConfig, at: At<'_>, errs: &mut Vec<ConfigError>) {
    if let Err(why) = http_url(&s.base_url) {
        errs.push(
            at(
                "/target/base_url",
                format!("\"{}\" is not an http(s) URL: {why}", s.base_url),
            )
            .hint(
                "write the whole base URL of the SCIM API, like `https://app.example.com/scim/v2`",
            ),
        );
    }
    let (c, f) = (&s.groups.community_prefix, &s.groups.function_group_prefix);
    for (key, prefix) in [("community_prefix", c), ("function_group_prefix", f)] {
        if prefix.trim().is_empty() {
            errs.push(
                at(
                    &format!("/target/groups/{key}"),
                    "the prefix is empty: every Group's externalId would start with it".into(),
                )
                .hint("orgsync tells communities and function groups apart by this prefix; keep the default (`community:`, `function:`) or choose another non-empty text"),
            );
        }
    }
    if !c.trim().is_empty()
        && !f.trim().is_empty()
        && (c.starts_with(f.as_str()) || f.starts_with(c.as_str()))
    {
        errs.push(
            at(
                "/target/groups/function_group_prefix",
                format!(
                    "the prefixes \"{c}\" and \"{f}\" cannot be told apart: {}",
                    if c == f {
                        "they are the same".to_owned()
                    } else {
                        "one starts with the other".to_owned()
                    }
                ),
            )
            .hint("communities and function groups are told apart by these prefixes of a Group's externalId: choose two that do not start with each other, like `community:` and `function:`"),
        );
    }
    if s.users.external_id_prefix.trim().is_empty() {
        errs.push(
            at(
                "/target/users/external_id_prefix",
                "the prefix is empty: every User with an externalId (Entra, Okta and others set one) would count as managed by orgsync, and could be changed or removed".into(),
            )
            .hint("keep the default `orgsync:` or choose another non-empty text that no other provisioning tool writes"),
        );
    }
}

/// The letters and digits of an environment number (AFAS writes `12345`; some environments have
/// letters, like `O12345AA`).
fn is_environment_number(env: &str) -> bool {
    !env.is_empty() && env.chars().all(|c| c.is_ascii_alphanumeric())
}

fn environment_hint(env: &str) -> String {
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

/// An absolute `http`/`https` URL with a host and no query or fragment.
fn http_url(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url.trim()).map_err(|e| e.to_string())?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "its scheme is `{}`, not http or https",
            parsed.scheme()
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("it has no host".to_owned());
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err("a base URL has no `?query` or `#fragment`: paths are added to it".to_owned());
    }
    Ok(())
}

fn describe_char(c: char) -> String {
    match c {
        ' ' => "a space".to_owned(),
        c if c.is_whitespace() => "white space".to_owned(),
        c => format!("`{c}`"),
    }
}

fn format_name(format: Option<FileFormat>) -> &'static str {
    match format {
        Some(FileFormat::Json) => "JSON",
        Some(FileFormat::Yaml) => "YAML",
        Some(FileFormat::Csv) => "CSV",
        None => "of unknown format",
    }
}

/// A relative path as compared: without `./` and with `/` separators.
fn normalize(path: &str) -> String {
    let p = path.trim().replace('\\', "/");
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            s => parts.push(s),
        }
    }
    parts.join("/")
}

// ---------------------------------------------------------------------------------------------
// Columns

/// Fields that describe the person. Two of them on one column is a copy-paste slip — except
/// `id` and `email`, for a source that identifies people by their address; the group fields
/// (community, function, department and their names) may share one, for an export with only
/// names, or whose departments are also its communities.
const PERSON_FIELDS: [&str; 8] = [
    "id",
    "email",
    "first_name",
    "last_name",
    "last_name_prefix",
    "start",
    "end",
    "manager",
];

fn column_errors(config: &Config, at: At<'_>, errs: &mut Vec<ConfigError>) {
    let columns = config.source_columns();
    let written = |field: &str| {
        config
            .locations
            .contains(&format!("/source/columns/{field}"))
    };
    let pointer = |field: &str| format!("/source/columns/{field}");
    for (field, column) in columns.fields() {
        if let Some(column) = column
            && column.trim().is_empty()
        {
            let hint = if REQUIRED_COLUMNS.contains(&field) {
                format!(
                    "name the column that holds the person's {}; it is required",
                    field.replace('_', " ")
                )
            } else {
                format!(
                    "name the column, or write `{field}: null` when the source has no such column"
                )
            };
            errs.push(at(&pointer(field), format!("the column of `{field}` is empty")).hint(hint));
        }
    }
    for (name, column) in &columns.attributes {
        let p = format!(
            "/source/columns/attributes/{}",
            super::yaml::escape_pointer(name)
        );
        if name.trim().is_empty() {
            errs.push(
                at(&p, "an attribute needs a name".into())
                    .hint("write `<attribute name>: <column>`, like `contract_type: Soort_medewerker_code`; exclusion rules use the name"),
            );
        } else if column.trim().is_empty() {
            errs.push(
                at(&p, format!("the column of attribute `{name}` is empty")).hint(
                    "name the column that holds it, like `contract_type: Soort_medewerker_code`",
                ),
            );
        }
    }
    // Two fields on one column.
    let default_label = match &config.source {
        SourceConfig::File(_) => "orgsync's default",
        SourceConfig::Afas(_) => "the AFAS default",
        SourceConfig::Recruitee(_) => "the Recruitee default",
        SourceConfig::Google(_) | SourceConfig::Manusplus(_) => "the default",
    };
    let mut seen: HashMap<&str, &str> = HashMap::new();
    for (field, column) in columns.fields() {
        let Some(column) = column.filter(|c| !c.trim().is_empty()) else {
            continue;
        };
        let Some(first) = seen.get(column).copied() else {
            seen.insert(column, field);
            continue;
        };
        let identified_by_email = matches!((first, field), ("id", "email") | ("email", "id"));
        if identified_by_email
            || (!PERSON_FIELDS.contains(&field) && !PERSON_FIELDS.contains(&first))
        {
            continue;
        }
        // Point at the one that was written; say where the other comes from.
        let (here, other) = if written(field) || !written(first) {
            (field, first)
        } else {
            (first, field)
        };
        let from = if written(other) {
            String::new()
        } else {
            format!(" ({default_label} of `{other}`)")
        };
        let mut hint = "give each field its own column; fix the one that was copied".to_owned();
        if !written(other) && !REQUIRED_COLUMNS.contains(&other) {
            hint.push_str(&format!(
                ", or write `{other}: null` if the source has no {}",
                other.replace('_', " ")
            ));
        }
        errs.push(
            at(
                &pointer(here),
                format!(
                    "`{here}` and `{other}` both read the column `{column}`{from}: one column cannot be both"
                ),
            )
            .hint(hint),
        );
    }
}

/// Rules that read a field the source does not deliver never match.
fn column_reference_errors(config: &Config, at: At<'_>, errs: &mut Vec<ConfigError>) {
    let columns = config.source_columns();
    let declared: Vec<&str> = columns.attributes.keys().map(String::as_str).collect();
    for (i, rule) in config.exclude.iter().enumerate() {
        if let Some(name) = &rule.attribute
            && !name.trim().is_empty()
            && !columns.attributes.contains_key(name)
        {
            let hint = match closest(name, declared.iter().copied()) {
                Some(best) => format!(
                    "did you mean `{best}`? The source delivers: {}",
                    declared.join(", ")
                ),
                None => format!(
                    "declare it under source.columns.attributes with the column that holds it, like `attributes: {{ {name}: <column> }}`{}",
                    if declared.is_empty() {
                        String::new()
                    } else {
                        format!(" (declared now: {})", declared.join(", "))
                    }
                ),
            };
            errs.push(
                at(
                    &format!("/exclude/{i}/attribute"),
                    format!(
                        "the source delivers no attribute `{name}` (source.columns.attributes does not name it): this rule can never match"
                    ),
                )
                .hint(hint),
            );
        }
        if rule.function.is_some() && columns.function.is_none() {
            errs.push(
                at(
                    &format!("/exclude/{i}/function"),
                    "source.columns.function is null: the source delivers no functions, so this rule can never match".into(),
                )
                .hint("name the function column in source.columns.function, or remove the rule"),
            );
        }
    }
    if let Some(f) = &config.functions {
        let (needed, column) = match f.from {
            FunctionSourceField::Function => ("function", &columns.function),
            FunctionSourceField::Department => ("department", &columns.department),
        };
        if column.is_none() {
            let pointer = if config.locations.contains("/functions/from") {
                "/functions/from"
            } else {
                "/functions"
            };
            errs.push(
                at(
                    pointer,
                    format!(
                        "function groups come from the {needed}s (functions.from: {needed}), but source.columns.{needed} is null: nobody would get a function group"
                    ),
                )
                .hint(format!("name the {needed} column in source.columns.{needed}, or take function groups from the other field")),
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Mappings, rules and policy

fn mapping_errors(config: &Config, at: At<'_>, errs: &mut Vec<ConfigError>) {
    let mut check = |base: &str, what: &str, i: usize, source: &OneOrMany, name: Option<&str>| {
        match source {
            OneOrMany::Many(ids) if ids.is_empty() => errs.push(
                at(
                    &format!("{base}/{i}/source"),
                    format!("the mapping lists no {what} identifiers: it can never apply"),
                )
                .hint("list at least one source identifier, like `source: [\"2001\", \"2002\"]`, or remove the mapping"),
            ),
            _ => {
                for (j, id) in source.as_slice().iter().enumerate() {
                    if id.trim().is_empty() {
                        let pointer = match source {
                            OneOrMany::One(_) => format!("{base}/{i}/source"),
                            OneOrMany::Many(_) => format!("{base}/{i}/source/{j}"),
                        };
                        errs.push(
                            at(&pointer, format!("the {what} identifier is empty: it matches no {what}"))
                                .hint("write the source identifier, like `source: \"1001\"`"),
                        );
                    }
                }
            }
        }
        if name.is_some_and(|n| n.trim().is_empty()) {
            errs.push(
                at(&format!("{base}/{i}/name"), "the source name is empty".into()).hint(
                    "write the source's name (it helps readers and detects renamed identifiers), or remove `name`",
                ),
            );
        }
    };
    for (i, m) in config.communities.iter().enumerate() {
        check("/communities", "community", i, &m.source, m.name.as_deref());
    }
    if let Some(f) = &config.functions {
        for (i, m) in f.map.iter().enumerate() {
            check(
                "/functions/map",
                "function",
                i,
                &m.source,
                m.name.as_deref(),
            );
        }
    }
    if let Some(include) = &config.include {
        if include.communities.is_empty() {
            let pointer = if config.locations.contains("/include/communities") {
                "/include/communities"
            } else {
                "/include"
            };
            errs.push(
                at(
                    pointer,
                    "the include list is empty, which switches partial sync off: everyone would be synced, as without `include`".into(),
                )
                .hint("list the source communities to sync, like `include: { communities: [\"1001\"] }`, or remove `include` to sync everything"),
            );
        }
        for (i, c) in include.communities.iter().enumerate() {
            if c.trim().is_empty() {
                errs.push(
                    at(
                        &format!("/include/communities/{i}"),
                        "the community identifier is empty: it includes no community".into(),
                    )
                    .hint("write the source identifier (or a glob), like \"1001\" or \"10*\""),
                );
            }
        }
    }
}

/// True when `pattern` (a case-insensitive glob) matches every one of `samples`: unrelated
/// values, so a pattern that matches them all matches everything.
fn matches_all(pattern: &str, samples: &[&str]) -> bool {
    GlobBuilder::new(pattern)
        .case_insensitive(true)
        .literal_separator(false)
        .build()
        .map(|g| g.compile_matcher())
        .is_ok_and(|m| samples.iter().all(|s| m.is_match(s)))
}

const SAMPLE_IDS: [&str; 3] = ["1001", "zq-X.9/ab", "Amsterdam Centrum"];
const SAMPLE_EMAILS: [&str; 2] = ["a@b.c", "zq.x-1@ops.host.invalid"];

fn rule_errors(config: &Config, at: At<'_>, errs: &mut Vec<ConfigError>) {
    for (i, r) in config.exclude.iter().enumerate() {
        if r.reason.trim().is_empty() {
            errs.push(
                at(&format!("/exclude/{i}/reason"), "the reason is empty".into()).hint(
                    "say why these people are not synced; the plan shows it, like `reason: interns are onboarded by hand`",
                ),
            );
        }
        for (key, value, what) in [
            ("person", &r.person, "person"),
            ("community", &r.community, "community"),
            ("function", &r.function, "function"),
        ] {
            let Some(v) = value else { continue };
            if v.trim().is_empty() {
                errs.push(
                    at(
                        &format!("/exclude/{i}/{key}"),
                        format!("the {what} identifier is empty: this rule can never match"),
                    )
                    .hint(format!(
                        "write the {what} identifier (or a glob) to exclude"
                    )),
                );
            } else if matches_all(v, &SAMPLE_IDS) {
                errs.push(
                    at(
                        &format!("/exclude/{i}/{key}"),
                        format!("\"{v}\" matches every {what} identifier: this rule excludes everyone"),
                    )
                    .hint("narrow the pattern, like \"90*\"; orgsync syncing nobody is never what a rule should do"),
                );
            }
        }
        if let Some(v) = &r.equals
            && v.is_empty()
        {
            errs.push(
                at(
                    &format!("/exclude/{i}/equals"),
                    "`equals` is empty: an empty value in the source means the attribute is absent, so this rule can never match".into(),
                )
                .hint("write the value to exclude, like `equals: intern`"),
            );
        }
        if let Some(v) = &r.matches
            && v.is_empty()
        {
            errs.push(
                at(
                    &format!("/exclude/{i}/matches"),
                    "`matches` is empty: it matches only an empty value, which the source never delivers".into(),
                )
                .hint("write a glob, like `matches: \"stag*\"`"),
            );
        }
    }
    for (i, t) in config.test_locations.iter().enumerate() {
        if t.trim().is_empty() {
            errs.push(
                at(
                    &format!("/test_locations/{i}"),
                    "the test-location pattern is empty".into(),
                )
                .hint("write a glob on community names or identifiers, like \"Test*\""),
            );
        } else if matches_all(t, &SAMPLE_IDS) {
            errs.push(
                at(
                    &format!("/test_locations/{i}"),
                    format!("\"{t}\" matches every community: every community would be a test location and nobody would be synced"),
                )
                .hint("narrow the pattern, like \"Test*\""),
            );
        }
    }
    for (i, r) in config.protected.iter().enumerate() {
        for (key, value) in [("email", &r.email), ("id", &r.id), ("pattern", &r.pattern)] {
            let Some(v) = value else { continue };
            let pointer = format!("/protected/{i}/{key}");
            if v.trim().is_empty() {
                errs.push(
                    at(&pointer, format!("the protected {key} is empty: it protects no account"))
                        .hint(match key {
                            "email" => "write the account's e-mail address, like `email: admin@example.com`",
                            "id" => "write the account id or source identifier",
                            _ => "write a glob on e-mail addresses, like `pattern: \"*@ops.example.com\"`",
                        }),
                );
            } else if key == "email" && !v.contains('@') {
                errs.push(
                    at(&pointer, format!("\"{v}\" is not an e-mail address: it protects no account"))
                        .hint("write the whole address, like `admin@example.com`; for an account id use `id:`, for several addresses `pattern:`"),
                );
            } else if key == "pattern" && matches_all(v, &SAMPLE_EMAILS) {
                errs.push(
                    at(&pointer, format!("\"{v}\" matches every e-mail address: every account would be protected and orgsync would change nothing"))
                        .hint("narrow the pattern to the accounts to protect, like \"*@ops.example.com\""),
                );
            }
        }
    }
}

fn policy_errors(config: &Config, at: At<'_>, errs: &mut Vec<ConfigError>) {
    let mut seen: HashMap<MatchKey, usize> = HashMap::new();
    for (i, m) in config.identity.match_on.iter().enumerate() {
        if let Some(first) = seen.insert(*m, i) {
            seen.insert(*m, first);
            errs.push(
                at(
                    &format!("/identity/match/{i}"),
                    format!("`{}` is listed twice: the second time can never find an account the first did not", match_name(*m)),
                )
                .hint("list each strategy once, in the order to try them, like [external_id, email]"),
            );
        }
    }
    if config.identity.adopt_unmanaged && !config.identity.match_on.contains(&MatchKey::Email) {
        errs.push(
            at(
                "/identity/adopt_unmanaged",
                "adopt_unmanaged adopts accounts that match by e-mail, but identity.match has no `email`: nothing can ever be adopted".into(),
            )
            .hint("add `email` to identity.match, like [external_id, email], or remove adopt_unmanaged"),
        );
    }
    let fields = &config.policy.managed_fields;
    if fields.is_empty() {
        errs.push(
            at(
                "/policy/managed_fields",
                "no managed fields: orgsync would never update a name, an e-mail address or a membership".into(),
            )
            .hint("list the fields orgsync keeps in line, like [first_name, last_name, email, communities, function_groups] (the default, also when the key is left out)"),
        );
    }
    let mut seen_fields = BTreeMap::new();
    for (i, f) in fields.iter().enumerate() {
        if let Some(first) = seen_fields.insert(*f, i) {
            seen_fields.insert(*f, first);
            let name = serde_json::to_value(f)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            errs.push(
                at(
                    &format!("/policy/managed_fields/{i}"),
                    format!("`{name}` is listed twice"),
                )
                .hint("list each field once"),
            );
        }
    }
    for (key, noun, limit) in config.safety.limits() {
        if let Limit::Both(b) = limit
            && b.percent.is_none()
            && b.count.is_none()
        {
            let what = if key == "max_removals" {
                "remove every account".to_owned()
            } else {
                format!("make any number of {noun}s")
            };
            errs.push(
                at(
                    &format!("/safety/{key}"),
                    format!("an empty {noun} limit is no limit: a plan could {what}"),
                )
                .hint(format!("write a limit, like \"10%\", 25 or {{ percent: 10, count: 25 }}; to switch the limit off on purpose, write `{key}: unlimited`")),
            );
        }
    }
}

fn match_name(m: MatchKey) -> &'static str {
    match m {
        MatchKey::ExternalId => "external_id",
        MatchKey::Email => "email",
    }
}

// ---------------------------------------------------------------------------------------------
// Data files

/// Checks of `source.path` and `target.path` that need the configuration directory: neither
/// may name a directory. (Naming a configuration file is caught while loading.)
pub fn data_path_errors(config: &Config, dir: &Path) -> Vec<ConfigError> {
    let at = |pointer: &str, message: String| {
        let loc = config.locations.get(pointer);
        let (file, line, column) = loc
            .map(|l| (l.file, l.line, l.column))
            .unwrap_or_else(|| ("orgsync.yaml".into(), 1, 1));
        ConfigError::new(
            &file,
            super::yaml::Mark { line, column },
            display_path(pointer),
            message,
        )
    };
    let mut errs = Vec::new();
    let mut check = |pointer: &str, path: &str, what: &str, example: &str| {
        if path.trim().is_empty() {
            return;
        }
        if dir.join(path).is_dir() {
            errs.push(
                at(
                    pointer,
                    format!("`{path}` is a directory, not the {what} file"),
                )
                .hint(format!("name the file itself, like `{example}`")),
            );
        }
    };
    if let SourceConfig::File(f) = &config.source {
        check("/source/path", &f.path, "export", "hr-export.json");
    }
    if let TargetConfig::File(t) = &config.target {
        check("/target/path", &t.path, "workspace", "workspace.json");
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::super::{Columns, Config, MaxRemovals, NoLimit, SourceConfig, load_files};
    use super::*;

    const FILE_TARGET: &str = "target: { kind: file, path: ws.json }\n";

    fn load(text: &str) -> Result<Config, Vec<ConfigError>> {
        load_files(vec![("orgsync.yaml".to_owned(), text.as_bytes().to_vec())]).map_err(|e| e.0)
    }

    fn afas(columns: &str, rest: &str) -> String {
        format!(
            "version: 1\nsource:\n  kind: afas\n  environment: \"12345\"\n  token: ${{env:AFAS_TOKEN}}\n{columns}{FILE_TARGET}{rest}"
        )
    }

    fn file(source_extra: &str, rest: &str) -> String {
        format!(
            "version: 1\nsource:\n  kind: file\n  path: hr.csv\n{source_extra}{FILE_TARGET}{rest}"
        )
    }

    fn messages(text: &str) -> Vec<String> {
        load(text)
            .expect_err("the configuration is invalid")
            .into_iter()
            .map(|e| format!("{}: {}", e.path, e.message))
            .collect()
    }

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
    fn partial_file_columns_keep_orgsyncs_names() {
        let c = load(&file("  columns: { id: Nummer }\n", "")).unwrap();
        let columns = c.source_columns();
        assert_eq!(columns.id, "Nummer");
        assert_eq!(columns.email, "email");
        assert_eq!(columns.manager.as_deref(), Some("manager"));
    }

    #[test]
    fn optional_columns_can_be_null() {
        let c = load(&afas(
            "  columns:\n    manager: null\n    department: null\n    last_name_prefix: null\n",
            "",
        ))
        .unwrap();
        let columns = c.source_columns();
        assert_eq!(columns.manager, None);
        assert_eq!(columns.department, None);
        assert_eq!(columns.last_name_prefix, None);
        assert_eq!(columns.function.as_deref(), Some("Functie_code"));
    }

    #[test]
    fn columns_in_use_leave_out_optional_columns_nothing_uses() {
        let keys = |c: &Config| -> Vec<String> {
            c.columns_in_use().into_iter().map(|(k, _)| k).collect()
        };
        let c = load(&afas("", "")).unwrap();
        let used = keys(&c);
        for field in REQUIRED_COLUMNS {
            assert!(used.contains(&format!("source.columns.{field}")), "{field}");
        }
        for unused in ["manager", "department", "department_name", "function"] {
            assert!(
                !used.contains(&format!("source.columns.{unused}")),
                "{unused}"
            );
        }
        // Used by a rule, or written down: checked.
        let c = load(&afas(
            "  columns: { manager: Leidinggevende }\n",
            "functions: { from: department }\n",
        ))
        .unwrap();
        let used = keys(&c);
        for field in ["manager", "department", "department_name"] {
            assert!(used.contains(&format!("source.columns.{field}")), "{field}");
        }
        let c = load(&afas("", "exclude: [{ reason: r, function: F-X }]\n")).unwrap();
        assert!(keys(&c).contains(&"source.columns.function".to_owned()));
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

    #[test]
    fn max_removals_unlimited_is_the_explicit_no_limit() {
        let c = load(&file("", "safety: { max_removals: unlimited }\n")).unwrap();
        assert_eq!(
            c.safety.max_removals,
            MaxRemovals::Unlimited(NoLimit::Unlimited)
        );
        assert_eq!(c.safety.max_removals.limits(), (None, None));
        for empty in [
            "{}",
            "{ percent: null }",
            "{ count: null }",
            "{ percent: null, count: null }",
        ] {
            let m = messages(&file("", &format!("safety: {{ max_removals: {empty} }}\n")));
            assert_eq!(
                m,
                [
                    "safety.max_removals: an empty removal limit is no limit: a plan could remove every account"
                ],
                "{empty}"
            );
        }
        // One limit of two is a limit.
        load(&file(
            "",
            "safety: { max_removals: { percent: 10, count: null } }\n",
        ))
        .unwrap();
    }

    #[test]
    fn date_formats_must_read_back_their_own_dates() {
        assert!(check_date_format("%d-%m-%Y").is_ok());
        assert!(check_date_format("%m/%d/%Y").is_ok());
        assert!(check_date_format("%Y%m%d").is_ok());
        assert!(check_date_format("DD-MM-YYYY").is_err());
        assert!(check_date_format("%d-%m").is_err());
        assert!(check_date_format("%Q").is_err());
        // Two-digit years read back as this century.
        assert!(check_date_format("%d-%m-%y").is_ok());
    }

    #[test]
    fn delimiters_are_one_character_or_tab() {
        for ok in [";", "|", "\\t", "tab"] {
            load(&file(&format!("  delimiter: \"{ok}\"\n"), "")).unwrap();
        }
        for bad in [";;", "", "\\\""] {
            let m = messages(&file(&format!("  delimiter: \"{bad}\"\n"), ""));
            assert_eq!(m.len(), 1, "{bad}: {m:?}");
            assert!(m[0].starts_with("source.delimiter: "), "{m:?}");
        }
    }

    #[test]
    fn group_fields_may_share_a_column_person_fields_may_not() {
        // Names as identifiers, and departments that are also the communities: meaningful.
        load(&file(
            "  columns: { community: Afdeling, community_name: Afdeling, department: Afdeling }\n",
            "",
        ))
        .unwrap();
        // People identified by their e-mail address.
        load(&file("  columns: { id: email }\n", "")).unwrap();
        let m = messages(&file("  columns: { start: Datum, end: Datum }\n", ""));
        assert_eq!(
            m,
            [
                "source.columns.end: `end` and `start` both read the column `Datum`: one column cannot be both"
            ]
        );
    }

    #[test]
    fn exclusion_on_an_undeclared_attribute_is_an_error() {
        let rule = "exclude: [{ reason: interns, attribute: contract_type, equals: intern }]\n";
        let m = messages(&file("", rule));
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(
            m[0].starts_with(
                "exclude[0].attribute: the source delivers no attribute `contract_type`"
            )
        );
        load(&file(
            "  columns: { attributes: { contract_type: Soort } }\n",
            rule,
        ))
        .unwrap();
    }

    #[test]
    fn urls_must_be_http_with_a_host() {
        assert!(http_url("https://app.example.com/scim/v2").is_ok());
        assert!(http_url("http://127.0.0.1:8402/scim/v2").is_ok());
        for bad in [
            "app.example.com/scim",
            "ftp://x.example/scim",
            "https://x.example/?a=1",
            "mailto:a@b.c",
            "",
        ] {
            assert!(http_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn source_path_naming_a_configuration_file_is_an_error() {
        let files = vec![
            (
                "orgsync.yaml".to_owned(),
                b"version: 1\nsource: { kind: file, path: ./communities.yaml }\ntarget: { kind: file, path: ws.json }\n".to_vec(),
            ),
            ("communities.yaml".to_owned(), b"communities: []\n".to_vec()),
        ];
        let errs = load_files(files).unwrap_err().0;
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert_eq!(
            errs[0].message,
            "`communities.yaml` is a configuration file, not the HR export"
        );
        // A YAML export (a list of rows) is data.
        let files = vec![
            (
                "orgsync.yaml".to_owned(),
                b"version: 1\nsource: { kind: file, path: people.yaml }\ntarget: { kind: file, path: ws.json }\n".to_vec(),
            ),
            ("people.yaml".to_owned(), b"- { id: \"1\" }\n".to_vec()),
        ];
        load_files(files).unwrap();
    }

    #[test]
    fn source_path_that_is_a_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("exports")).unwrap();
        std::fs::write(
            dir.path().join("orgsync.yaml"),
            "version: 1\nsource: { kind: file, path: exports }\ntarget: { kind: file, path: ws.json }\n",
        )
        .unwrap();
        let errs = super::super::load_dir(dir.path()).unwrap_err().0;
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert_eq!((errs[0].line, errs[0].path.as_str()), (2, "source.path"));
        assert_eq!(
            errs[0].source_line.as_deref(),
            Some("source: { kind: file, path: exports }")
        );
    }
}
