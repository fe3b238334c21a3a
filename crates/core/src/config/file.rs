//! One configuration file: the sections it may hold and its version. A directory spreads the
//! sections over several files; `load` merges them into a [`Config`](super::Config).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{ConfigError, display_path};
use super::yaml::{Positions, escape_pointer};
use super::{
    CommunityMapping, ExclusionRule, FunctionsConfig, IdentityConfig, IncludeConfig, PolicyConfig,
    ProtectedRule, SafetyConfig, SourceConfig, TargetConfig,
};

/// The only configuration format version this build understands.
pub const SUPPORTED_VERSION: u32 = 1;

/// One YAML file of an orgsync configuration directory. Every section is optional here because a
/// directory may spread its sections over several files (`orgsync.yaml`, `communities.yaml`, …);
/// after merging, `version`, `source` and `target` are required.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "orgsync configuration file")]
pub struct ConfigFile {
    /// Configuration format version. Only `1` exists today.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// Where people are mastered: the HR or roster system (or an export of it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceConfig>,
    /// Where people must appear: the workforce app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetConfig>,
    /// How people in the source are matched to accounts in the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityConfig>,
    /// Time zone, lead time, retention and the other rules of the sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyConfig>,
    /// Limits that make a plan unsafe to apply without an explicit override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety: Option<SafetyConfig>,
    /// Accounts orgsync never changes or removes (administrators, service accounts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected: Option<Vec<ProtectedRule>>,
    /// Source communities (locations, departments, entities) mapped onto target communities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub communities: Option<Vec<CommunityMapping>>,
    /// How source functions (or departments) become target function groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub functions: Option<FunctionsConfig>,
    /// People who are not synced, each rule with the reason. The first matching rule wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<Vec<ExclusionRule>>,
    /// Case-insensitive globs on community names or identifiers (`Test*`, `Temp*`): such
    /// communities are treated as if they did not exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_locations: Option<Vec<String>>,
    /// Partial sync: when set, only people in these source communities are synced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<IncludeConfig>,
}

/// An unsupported `version`, reported before anything else is judged by this version's rules.
pub(crate) fn version_error(
    file: &str,
    value: &Value,
    positions: &Positions,
) -> Option<ConfigError> {
    let v = value.get("version")?;
    if v.as_u64() == Some(u64::from(SUPPORTED_VERSION)) || !v.is_number() {
        return None;
    }
    if v.is_f64() && v.as_f64() == Some(f64::from(SUPPORTED_VERSION)) {
        let n = SUPPORTED_VERSION;
        return Some(
            ConfigError::new(
                file,
                positions.value("/version"),
                "version",
                format!("the version is a whole number, not the decimal {v}"),
            )
            .hint(format!("write `version: {n}`")),
        );
    }
    Some(
        ConfigError::new(file, positions.value("/version"), "version", format!("unsupported configuration version {v}; this orgsync reads version {SUPPORTED_VERSION}"))
            .hint(format!("write `version: {SUPPORTED_VERSION}`, or upgrade orgsync if the file was written for a newer one")),
    )
}

/// Reads one file's sections, each on its own, so that an error in one section does not hide
/// the errors of the others. Sections named in `skip` (they already have schema errors) are
/// left out. The schema has already checked the shape, so an error here is a value the schema
/// cannot tell apart (`30.0` for a whole number): it is reported at its key, the value is
/// repaired, and the section is read again to find the next one. Returns the sections that
/// could be read, every error, and the names of the sections that could not be read.
///
/// A list section (`communities`, `exclude`, `protected`) whose schema errors are all inside
/// some of its entries (`skip` holds the key paths of the schema errors) is read without them:
/// each broken entry is replaced by a stand-in that matches nothing, and its key path
/// (`communities[2]`) is returned in the fourth list, so that what the checks say about the
/// stand-ins is dropped and the sound entries are still checked.
pub(crate) fn deserialize_sections(
    file: &str,
    value: &Value,
    positions: &Positions,
    skip: &std::collections::BTreeMap<String, Vec<String>>,
) -> (ConfigFile, Vec<ConfigError>, Vec<String>, Vec<String>) {
    let mut out = ConfigFile::default();
    let mut errors = Vec::new();
    let mut failed = Vec::new();
    let mut stand_ins = Vec::new();
    let Value::Object(map) = value else {
        return (out, errors, failed, stand_ins);
    };
    for (key, section) in map {
        if let (Some(paths), Value::Array(items), Some(stand_in)) =
            (skip.get(key), section, list_stand_in(key))
        {
            let index = |path: &str| -> Option<usize> {
                path.strip_prefix(key.as_str())?
                    .strip_prefix('[')?
                    .split(']')
                    .next()?
                    .parse()
                    .ok()
            };
            let broken: Option<Vec<usize>> = paths.iter().map(|p| index(p)).collect();
            if let Some(broken) = broken {
                let mut items = items.clone();
                for &i in &broken {
                    if let Some(item) = items.get_mut(i) {
                        *item = stand_in.clone();
                    }
                }
                let doc = serde_json::json!({ key.clone(): items });
                if let Ok(cf) = deserialize_file(file, doc, positions) {
                    merge(&mut out, cf);
                    stand_ins.extend(broken.iter().map(|i| format!("{key}[{i}]")));
                    continue;
                }
            }
        }
        // A section with schema errors is only probed for the errors the schema cannot see
        // (a decimal for a whole number): its other values are taken out one by one.
        let probe = skip.contains_key(key);
        let mut doc = serde_json::json!({ key.clone(): section.clone() });
        let mut ok = None;
        // Each round repairs one value; a section holds far fewer numbers than this.
        for _ in 0..200 {
            match deserialize_file(file, doc.clone(), positions) {
                Ok(cf) => {
                    ok = Some(cf);
                    break;
                }
                Err((e, pointer, Some(whole))) => {
                    errors.push(*e);
                    match doc.pointer_mut(&pointer) {
                        Some(slot) => *slot = whole,
                        None => break,
                    }
                }
                Err((e, pointer, None)) => {
                    if !probe {
                        errors.push(*e);
                        break;
                    }
                    // Take the value out of its mapping (a list's items would shift).
                    let Some((parent, last)) = pointer.rsplit_once('/') else {
                        break;
                    };
                    let last = last.replace("~1", "/").replace("~0", "~");
                    let removed = doc
                        .pointer_mut(parent)
                        .and_then(Value::as_object_mut)
                        .and_then(|m| m.remove(&last));
                    if removed.is_none() || parent.is_empty() {
                        break;
                    }
                }
            }
        }
        match ok {
            Some(cf) if !probe => merge(&mut out, cf),
            _ => failed.push(key.clone()),
        }
    }
    (out, errors, failed, stand_ins)
}

/// An entry of the list section `key` that matches nothing and raises nothing of its own.
fn list_stand_in(key: &str) -> Option<Value> {
    let nothing = "\u{1}";
    match key {
        "communities" => Some(serde_json::json!({ "source": [], "target": nothing })),
        "exclude" => Some(serde_json::json!({ "reason": nothing, "person": nothing })),
        "protected" => Some(serde_json::json!({ "email": format!("{nothing}@{nothing}") })),
        _ => None,
    }
}

/// Moves the sections `from` holds into `into`.
pub(crate) fn merge(into: &mut ConfigFile, from: ConfigFile) {
    macro_rules! take {
        ($($field:ident),*) => { $( if from.$field.is_some() { into.$field = from.$field; } )* };
    }
    take!(
        version,
        source,
        target,
        identity,
        policy,
        safety,
        protected,
        communities,
        functions,
        exclude,
        test_locations,
        include
    );
}

/// Reads sections; an error comes with its pointer and, for a whole number written as a
/// decimal, the whole number that repairs it.
#[allow(clippy::type_complexity)]
fn deserialize_file(
    file: &str,
    value: Value,
    positions: &Positions,
) -> Result<ConfigFile, (Box<ConfigError>, String, Option<Value>)> {
    let original = value.clone();
    serde_path_to_error::deserialize(value).map_err(|e| {
        let pointer: String = e
            .path()
            .iter()
            .filter_map(|seg| match seg {
                serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
                serde_path_to_error::Segment::Map { key } => Some(escape_pointer(key)),
                serde_path_to_error::Segment::Enum { .. }
                | serde_path_to_error::Segment::Unknown => None,
            })
            .map(|seg| format!("/{seg}"))
            .collect();
        let message = e.into_inner().to_string();
        // "invalid type: floating point `30.0`, expected u32": a whole number written as a decimal.
        let decimal = message
            .strip_prefix("invalid type: floating point `")
            .and_then(|rest| rest.split_once('`'))
            .filter(|(_, expected)| {
                expected.contains("expected u") || expected.contains("expected i")
            })
            .map(|(number, _)| number.to_owned())
            // A value of several forms (`25` or `"10%"`) says only that none matched: a whole
            // number written as a decimal is still the likely cause.
            .or_else(|| {
                original
                    .pointer(&pointer)
                    .filter(|v| v.is_f64())
                    .and_then(Value::as_f64)
                    .filter(|f| f.fract() == 0.0 && message.contains("untagged"))
                    .map(|f| format!("{f:.1}"))
            });
        let key = pointer.rsplit('/').next().unwrap_or_default().to_owned();
        let mut err = ConfigError::new(
            file,
            positions.value(&pointer),
            display_path(&pointer),
            match &decimal {
                Some(n) => format!("expected a whole number, found the decimal {n}"),
                None => message,
            },
        );
        let mut repair = None;
        if let Some(n) = decimal {
            let whole = n
                .parse::<f64>()
                .map_or(n.clone(), |f| format!("{}", f.trunc()));
            repair = whole.parse::<i64>().ok().map(Value::from);
            err = err.hint(format!("write `{key}: {whole}`, without a decimal point"));
        }
        (Box::new(err), pointer, repair)
    })
}
