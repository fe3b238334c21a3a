//! The source system: where people are mastered. [`SourceConfig`] picks a kind; each kind has
//! its own file with its types and checks. The columns (which field is read from which column)
//! are shared by the kinds that read rows, and are checked here.

mod afas;
mod file;
mod google;
mod manusplus;
mod recruitee;

use std::collections::{BTreeMap, HashMap};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use afas::{AfasEnvironmentType, AfasSourceConfig};
pub(crate) use afas::{environment_hint, is_environment_number};
pub use file::{FileFormat, FileSourceConfig};
pub use google::{GoogleCommunityFrom, GoogleFunctionFrom, GooglePersonId, GoogleSourceConfig};
pub use manusplus::{ManusPlusFields, ManusPlusPaths, ManusPlusSourceConfig};
pub use recruitee::{RecruiteeFieldsConfig, RecruiteeHiredConfig, RecruiteeSourceConfig};

use super::error::{At, ConfigError};
use super::{Config, FunctionSourceField};
use crate::closest::closest;

/// The source system.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceConfig {
    /// A JSON, CSV or YAML export (AFAS, PMT, or anything else), with its column names configured.
    File(FileSourceConfig),
    /// AFAS Profit through its REST GetConnectors.
    Afas(AfasSourceConfig),
    /// Recruitee (applicant tracker): the candidates hired in a hire stage.
    Recruitee(RecruiteeSourceConfig),
    /// Google Workspace users through the Admin SDK Directory API (a service account).
    Google(GoogleSourceConfig),
    /// ManusPlus (workforce planning) through its REST API and a data service user.
    Manusplus(ManusPlusSourceConfig),
}

/// The checks of the source's kind.
pub(crate) fn errors(config: &Config, at: At<'_>, errs: &mut Vec<ConfigError>) {
    match &config.source {
        SourceConfig::File(f) => file::errors(f, config, at, errs),
        SourceConfig::Afas(a) => afas::errors(a, at, errs),
        SourceConfig::Recruitee(r) => recruitee::errors(r, at, errs),
        SourceConfig::Google(g) => google::errors(g, at, errs),
        SourceConfig::Manusplus(m) => manusplus::errors(m, at, errs),
    }
}

/// Which column (CSV header, JSON/YAML key, AFAS field) holds which field, resolved: the
/// connector's defaults with the configuration's overrides on top. Required fields always have a
/// column; an optional field is `None` when the source does not deliver it (`null` in the YAML).
///
/// In the YAML this is written as [`ColumnOverrides`]: a partial block keeps the connector's
/// default for every field it does not name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Columns {
    /// The person's identifier (employee number). Required in every row.
    pub id: String,
    /// Work e-mail address.
    pub email: String,
    /// First name (AFAS: `Roepnaam`, the name the person goes by).
    pub first_name: String,
    /// Last name, including any prefix (`van der`).
    pub last_name: String,
    /// A column with a name prefix (AFAS `Voorvoegsel`) put before the last name, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name_prefix: Option<String>,
    /// First day of employment.
    pub start: String,
    /// Last day of employment (inclusive); empty when open-ended.
    pub end: String,
    /// Identifier of the person's community (location, organisational unit).
    pub community: String,
    /// Name of that community.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub community_name: Option<String>,
    /// Identifier of the person's function.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// Name of that function.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function_name: Option<String>,
    /// Identifier of the person's department (for `functions.from: department`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// Name of that department.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department_name: Option<String>,
    /// Identifier of the person's manager.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manager: Option<String>,
    /// Extra columns kept as attributes, for exclusion rules: attribute name → column.
    pub attributes: BTreeMap<String, String>,
}

/// The fields every source must deliver: they cannot be `null`.
pub const REQUIRED_COLUMNS: [&str; 7] = [
    "id",
    "email",
    "first_name",
    "last_name",
    "start",
    "end",
    "community",
];

/// The columns a source may lack (`null` in `source.columns`).
pub(crate) const OPTIONAL_COLUMNS: [&str; 7] = [
    "last_name_prefix",
    "community_name",
    "function",
    "function_name",
    "department",
    "department_name",
    "manager",
];

impl Columns {
    /// AFAS Profit's common employee field names: the `afas` source's defaults.
    pub fn afas() -> Columns {
        let s = |v: &str| v.to_owned();
        let o = |v: &str| Some(v.to_owned());
        Columns {
            id: s("Medewerker"),
            email: s("Email_werk"),
            first_name: s("Roepnaam"),
            last_name: s("Achternaam"),
            last_name_prefix: o("Voorvoegsel"),
            start: s("Begindatum_contract"),
            end: s("Einddatum_contract"),
            community: s("Organisatorische_eenheid_code"),
            community_name: o("Organisatorische_eenheid_omschrijving"),
            function: o("Functie_code"),
            function_name: o("Functie_omschrijving"),
            department: o("Afdeling_code"),
            department_name: o("Afdeling_omschrijving"),
            manager: o("Persoonsnummer_leidinggevende"),
            attributes: BTreeMap::new(),
        }
    }

    /// Every field with its column, in a fixed order: (field name, column or `None`). Attributes
    /// are not included.
    pub fn fields(&self) -> [(&'static str, Option<&str>); 14] {
        fn r(s: &str) -> Option<&str> {
            Some(s)
        }
        fn o(s: &Option<String>) -> Option<&str> {
            s.as_deref()
        }
        [
            ("id", r(&self.id)),
            ("email", r(&self.email)),
            ("first_name", r(&self.first_name)),
            ("last_name", r(&self.last_name)),
            ("last_name_prefix", o(&self.last_name_prefix)),
            ("start", r(&self.start)),
            ("end", r(&self.end)),
            ("community", r(&self.community)),
            ("community_name", o(&self.community_name)),
            ("function", o(&self.function)),
            ("function_name", o(&self.function_name)),
            ("department", o(&self.department)),
            ("department_name", o(&self.department_name)),
            ("manager", o(&self.manager)),
        ]
    }

    /// These defaults with `overrides` on top: a field the overrides leave out keeps its
    /// default, `null` switches an optional field off.
    pub fn merged(mut self, overrides: ColumnOverrides) -> Columns {
        let ColumnOverrides {
            id,
            email,
            first_name,
            last_name,
            last_name_prefix,
            start,
            end,
            community,
            community_name,
            function,
            function_name,
            department,
            department_name,
            manager,
            attributes,
        } = overrides;
        macro_rules! set {
            ($($field:ident),*) => { $( if let Some(v) = $field { self.$field = v; } )* };
        }
        set!(
            id,
            email,
            first_name,
            last_name,
            last_name_prefix,
            start,
            end,
            community,
            community_name,
            function,
            function_name,
            department,
            department_name,
            manager
        );
        if let Some(a) = attributes {
            self.attributes = a;
        }
        self
    }

    /// `columns:` of a `file` source: orgsync's own names, with the configuration's overrides.
    pub(crate) fn deserialize_file<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Columns, D::Error> {
        ColumnOverrides::deserialize(d).map(|o| Columns::default().merged(o))
    }

    /// `columns:` of an `afas` source: AFAS's common field names, with the overrides.
    pub(crate) fn deserialize_afas<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Columns, D::Error> {
        ColumnOverrides::deserialize(d).map(|o| Columns::afas().merged(o))
    }
}

impl Default for Columns {
    /// orgsync's own field names: the `file` source's defaults.
    fn default() -> Self {
        let s = |v: &str| v.to_owned();
        let o = |v: &str| Some(v.to_owned());
        Columns {
            id: s("id"),
            email: s("email"),
            first_name: s("first_name"),
            last_name: s("last_name"),
            last_name_prefix: None,
            start: s("start"),
            end: s("end"),
            community: s("community"),
            community_name: o("community_name"),
            function: o("function"),
            function_name: o("function_name"),
            department: o("department"),
            department_name: o("department_name"),
            manager: o("manager"),
            attributes: BTreeMap::new(),
        }
    }
}

/// Which column holds which field. Name only what differs from the connector's defaults: every
/// field left out keeps its default (`file`: orgsync's own names, `id`, `email`, …; `afas`:
/// AFAS's common field names, `Medewerker`, `Email_werk`, …). Optional fields can be switched
/// off with `null` when the source does not have them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ColumnOverrides {
    /// The person's identifier (employee number); required in every row. Default `id` (file),
    /// `Medewerker` (afas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub id: Option<String>,
    /// Work e-mail address; required. Default `email` (file), `Email_werk` (afas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub email: Option<String>,
    /// First name; required. Default `first_name` (file), `Roepnaam` (afas: the name the person
    /// goes by).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub first_name: Option<String>,
    /// Last name, including any prefix unless `last_name_prefix` is set; required. Default
    /// `last_name` (file), `Achternaam` (afas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub last_name: Option<String>,
    /// Optional: a name prefix (`van der`) put before the last name. Default none (file),
    /// `Voorvoegsel` (afas); `null` switches it off.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_name_prefix: Option<Option<String>>,
    /// First day of employment; required. Default `start` (file), `Begindatum_contract` (afas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub start: Option<String>,
    /// Last day of employment (inclusive; empty when open-ended); required. Default `end`
    /// (file), `Einddatum_contract` (afas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub end: Option<String>,
    /// Identifier of the person's community (location, organisational unit); required. Default
    /// `community` (file), `Organisatorische_eenheid_code` (afas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub community: Option<String>,
    /// Optional: name of that community. Default `community_name` (file),
    /// `Organisatorische_eenheid_omschrijving` (afas); `null` switches it off.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub community_name: Option<Option<String>>,
    /// Optional: identifier of the person's function (needed by `functions.from: function` and
    /// exclusions by function). Default `function` (file), `Functie_code` (afas); `null`
    /// switches it off.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub function: Option<Option<String>>,
    /// Optional: name of that function. Default `function_name` (file), `Functie_omschrijving`
    /// (afas); `null` switches it off.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub function_name: Option<Option<String>>,
    /// Optional: identifier of the person's department (needed by `functions.from:
    /// department`). Default `department` (file), `Afdeling_code` (afas); `null` switches it off.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub department: Option<Option<String>>,
    /// Optional: name of that department. Default `department_name` (file),
    /// `Afdeling_omschrijving` (afas); `null` switches it off.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub department_name: Option<Option<String>>,
    /// Optional: identifier of the person's manager. Default `manager` (file),
    /// `Persoonsnummer_leidinggevende` (afas); `null` switches it off.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub manager: Option<Option<String>>,
    /// Extra columns kept as attributes, for exclusion rules: attribute name → column. An
    /// exclusion can only test an attribute named here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "BTreeMap<String, String>")]
    pub attributes: Option<BTreeMap<String, String>>,
}

/// A key that is present: `Some(value)`, where `null` is `Some(None)` (an absent key stays
/// `None` through `#[serde(default)]`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

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

/// Columns that cannot be read: an empty column name, an attribute without a name or column,
/// two fields on one column.
pub(crate) fn column_errors(config: &Config, at: At<'_>, errs: &mut Vec<ConfigError>) {
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
pub(crate) fn column_reference_errors(config: &Config, at: At<'_>, errs: &mut Vec<ConfigError>) {
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

#[cfg(test)]
mod tests {
    use crate::config::testing::{afas, file, load, messages};

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
}
