//! JSON Schemas generated from the Rust types. They are committed under `schemas/` (editors
//! complete and check YAML with them) and used to validate configuration before deserialising;
//! the validator's errors are translated here into sentences a person can act on, placed at
//! their key.

use std::sync::OnceLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use schemars::generate::SchemaSettings;
use serde_json::Value;

use super::ConfigFile;
use super::Secret;
use super::error::{ConfigError, display_path};
use super::sources::{OPTIONAL_COLUMNS, REQUIRED_COLUMNS};
use super::yaml::{Positions, escape_pointer};
use crate::closest::closest;
use crate::model::TargetSnapshot;
use crate::vocabulary::Plan;

/// Where the schemas are published: each schema's `$id` is this plus its file name. Versioned by
/// the formats they describe (configuration `version: 1`, plan `format_version: 1`), so an
/// `$id` never changes meaning; a new format gets a new path.
pub const SCHEMA_BASE_URL: &str = "https://orgsync.dev/schemas/v1/";

/// Every schema orgsync publishes, as (file name, schema).
pub fn all() -> Vec<(&'static str, Value)> {
    vec![
        ("orgsync.schema.json", config_schema()),
        ("plan.schema.json", plan_schema()),
        (
            "workspace.schema.json",
            with_id(generate::<TargetSnapshot>(), "workspace.schema.json"),
        ),
        ("validate.schema.json", validate_schema()),
        ("explain.schema.json", explain_schema()),
        ("history.schema.json", history_schema()),
        (
            "audit.schema.json",
            with_id(generate::<crate::audit::Report>(), "audit.schema.json"),
        ),
    ]
}

/// The plan: the generated schema of [`Plan`], with the keys added around it — `masked` (the
/// plan of `--masked-out`) and `pull_request` (`plan --base … --format json`).
fn plan_schema() -> Value {
    let mut schema = with_id(generate::<Plan>(), "plan.schema.json");
    let action = serde_json::json!({ "$ref": "#/$defs/Action" });
    let diagnostic = serde_json::json!({ "$ref": "#/$defs/Diagnostic" });
    let counts = serde_json::json!({
        "type": "object",
        "propertyNames": { "$ref": "#/$defs/ActionKind" },
        "additionalProperties": { "type": "integer", "minimum": 0 }
    });
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        props.insert(
            "masked".to_owned(),
            serde_json::json!({
                "description": "Set in the plan `plan --masked-out FILE` writes: names and e-mail addresses are masked. Absent from the plan itself.",
                "const": true
            }),
        );
        props.insert(
            "pull_request".to_owned(),
            serde_json::json!({
                "description": "With `plan --base REF --format json`: what this change does compared with the plan of the base commit. Every other key is the head's plan.",
                "type": "object",
                "properties": {
                    "base": {
                        "description": "The base the head was compared with.",
                        "type": "object",
                        "properties": {
                            "ref": { "type": "string", "description": "The base as given (`--base`)." },
                            "commit": { "type": "string", "description": "Its commit id." },
                            "problem": { "type": "string", "description": "Why the base could not be planned, when it could not: then everything counts as introduced." }
                        },
                        "required": ["ref", "commit"],
                        "additionalProperties": false
                    },
                    "summary": {
                        "description": "Counts per action kind: introduced by this change, changed by it, withdrawn by it, and pending (in both plans alike).",
                        "type": "object",
                        "properties": {
                            "introduced": counts, "changed": counts, "withdrawn": counts, "pending": counts
                        },
                        "required": ["introduced", "changed", "withdrawn", "pending"],
                        "additionalProperties": counts
                    },
                    "introduced": { "type": "array", "items": action, "description": "Actions only the head plan has." },
                    "changed": {
                        "type": "array",
                        "description": "Actions on the same subject that differ: the base's and the head's.",
                        "items": {
                            "type": "object",
                            "properties": { "base": action, "head": action },
                            "required": ["base", "head"],
                            "additionalProperties": false
                        }
                    },
                    "withdrawn": { "type": "array", "items": action, "description": "Actions only the base plan has." },
                    "diagnostics_fixed": { "type": "array", "items": diagnostic },
                    "diagnostics_introduced": { "type": "array", "items": diagnostic }
                },
                "required": ["base", "summary"]
            }),
        );
    }
    schema
}

/// The `$defs` of the plan schema that `names` need (with what they refer to), for the schemas
/// of outputs that quote actions and diagnostics: one definition, kept in step.
fn plan_defs(names: &[&str]) -> Value {
    let plan = generate::<Plan>();
    let defs = plan.get("$defs").cloned().unwrap_or_default();
    let mut out = serde_json::Map::new();
    let mut todo: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    while let Some(name) = todo.pop() {
        if out.contains_key(&name) {
            continue;
        }
        let Some(def) = defs.get(&name) else { continue };
        let text = def.to_string();
        for part in text.split("\"#/$defs/").skip(1) {
            if let Some(end) = part.find('"') {
                todo.push(part[..end].to_owned());
            }
        }
        out.insert(name, def.clone());
    }
    Value::Object(out)
}

/// A draft 2020-12 schema named `name`, with `body`'s keys.
fn output_schema(name: &str, title: &str, mut body: Value) -> Value {
    let mut out = serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": format!("{SCHEMA_BASE_URL}{name}"),
        "title": title,
    });
    if let (Some(out), Some(body)) = (out.as_object_mut(), body.as_object_mut()) {
        out.append(body);
    }
    out
}

/// `orgsync validate --format json`: one object, valid or not.
fn validate_schema() -> Value {
    let problem = serde_json::json!({
        "type": "object",
        "properties": {
            "file": { "type": "string", "minLength": 1, "description": "File, relative to the configuration directory." },
            "line": { "type": "integer", "minimum": 1 },
            "column": { "type": "integer", "minimum": 1 },
            "path": { "type": "string", "description": "Key path, like `policy.retention_days` or `communities[2].source` (empty for the file)." },
            "message": { "type": "string", "minLength": 1, "description": "What is wrong." },
            "hint": { "type": "string", "minLength": 1, "description": "What to do about it." }
        },
        "required": ["file", "line", "column", "path", "message"],
        "additionalProperties": false
    });
    output_schema(
        "validate.schema.json",
        "orgsync validate --format json",
        serde_json::json!({
            "description": "The report of `orgsync validate --format json`: the same object whether the configuration is valid or not. Exit status 1 when `valid` is false (or an `--online` check found problems).",
            "type": "object",
            "properties": {
                "valid": { "type": "boolean", "description": "No errors: `errors` is empty." },
                "files": { "type": "array", "items": { "type": "string" }, "description": "The configuration files read (empty when invalid)." },
                "errors": { "type": "array", "items": { "$ref": "#/$defs/Problem" }, "description": "Every error found, by file and position." },
                "warnings": { "type": "array", "items": { "$ref": "#/$defs/Problem" }, "description": "Problems that do not make the configuration invalid (an optional column no row of the export has)." },
                "env": {
                    "type": "array",
                    "description": "The environment variables the configuration needs at run time.",
                    "items": {
                        "type": "object",
                        "properties": { "name": { "type": "string" }, "for": { "type": "string", "description": "The key that needs it." } },
                        "required": ["name", "for"],
                        "additionalProperties": false
                    }
                },
                "todos": {
                    "type": "array",
                    "description": "Mappings still marked `todo: true` (written by `orgsync import`).",
                    "items": {
                        "type": "object",
                        "properties": {
                            "kind": { "enum": ["community", "function"] },
                            "source": { "type": "array", "items": { "type": "string" } },
                            "target": { "type": "string" },
                            "path": { "type": "string", "description": "JSON pointer into the configuration." },
                            "file": { "type": ["string", "null"] },
                            "line": { "type": ["integer", "null"] },
                            "column": { "type": ["integer", "null"] }
                        },
                        "required": ["kind", "source", "target", "path", "file", "line", "column"],
                        "additionalProperties": false
                    }
                },
                "online": {
                    "type": "object",
                    "description": "With `--online`: the checks against the live systems.",
                    "properties": {
                        "ok": { "type": "boolean" },
                        "problems": { "type": "array", "items": { "type": "string" } }
                    },
                    "required": ["ok", "problems"],
                    "additionalProperties": false
                }
            },
            "required": ["valid", "files", "errors", "warnings", "env", "todos"],
            "additionalProperties": false,
            "$defs": { "Problem": problem }
        }),
    )
}

/// `orgsync explain PERSON --format json`.
fn explain_schema() -> Value {
    let mut defs = plan_defs(&["Action", "Diagnostic", "ConfigLocation"]);
    let step = serde_json::json!({
        "type": "object",
        "properties": {
            "rule": { "type": "string", "description": "The rule, in words." },
            "outcome": { "enum": ["matched", "not_matched"] },
            "decisive": { "type": "boolean", "description": "This rule decided the outcome." },
            "location": { "$ref": "#/$defs/ConfigLocation" },
            "lines": { "type": "array", "items": { "type": "integer", "minimum": 1 } }
        },
        "required": ["rule", "outcome", "decisive"]
    });
    let placement = serde_json::json!({
        "type": "object",
        "properties": {
            "source": { "type": ["string", "null"] },
            "source_name": { "type": ["string", "null"] },
            "target": {
                "oneOf": [
                    { "type": "null" },
                    {
                        "type": "object",
                        "properties": { "id": { "type": "string" }, "name": { "type": "string" } },
                        "required": ["id", "name"]
                    }
                ]
            },
            "rule": { "$ref": "#/$defs/Step" }
        },
        "required": ["source", "source_name", "target", "rule"]
    });
    if let Some(d) = defs.as_object_mut() {
        d.insert("Step".to_owned(), step);
        d.insert("Placement".to_owned(), placement);
        d.insert("Commit".to_owned(), commit_schema());
    }
    output_schema(
        "explain.schema.json",
        "orgsync explain --format json",
        serde_json::json!({
            "description": "Why one person is or is not synced, and where they land: every rule on the path, the plan's actions and diagnostics for them, and who wrote each deciding rule.",
            "type": "object",
            "properties": {
                "person": {
                    "type": "object",
                    "properties": {
                        "id": { "type": "string" },
                        "name": { "type": "string" },
                        "email": { "type": "string" },
                        "in_source": { "type": "boolean" }
                    },
                    "required": ["id", "name", "in_source"]
                },
                "at": { "type": "string", "format": "date", "description": "The day the rules were evaluated for." },
                "scope": { "type": "array", "items": { "$ref": "#/$defs/Step" } },
                "in_scope": { "type": "boolean" },
                "out_of_scope": { "type": "string" },
                "communities": { "type": "array", "items": { "$ref": "#/$defs/Placement" } },
                "function_groups": { "type": "array", "items": { "$ref": "#/$defs/Placement" } },
                "account": { "type": "string" },
                "actions": { "type": "array", "items": { "$ref": "#/$defs/Action" } },
                "diagnostics": { "type": "array", "items": { "$ref": "#/$defs/Diagnostic" } },
                "blame": {
                    "type": "array",
                    "description": "Who wrote each deciding rule (empty outside a git repository).",
                    "items": {
                        "type": "object",
                        "properties": {
                            "rule": { "type": "string" },
                            "file": { "type": "string" },
                            "lines": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "line": { "type": "integer", "minimum": 1 },
                                        "commit": { "oneOf": [{ "type": "null" }, { "$ref": "#/$defs/Commit" }], "description": "`null`: not committed yet." }
                                    },
                                    "required": ["line", "commit"]
                                }
                            }
                        },
                        "required": ["rule", "file", "lines"]
                    }
                }
            },
            "required": ["person", "at", "scope", "in_scope", "communities", "function_groups", "actions", "diagnostics", "blame"],
            "$defs": defs
        }),
    )
}

/// A configuration commit as explain and history print it (`CommitInfo`).
fn commit_schema() -> Value {
    serde_json::json!({
        "type": "object",
        "properties": {
            "id": { "type": "string" },
            "author": { "type": "string" },
            "date": { "type": "string" },
            "subject": { "type": "string" }
        },
        "required": ["id", "author", "date", "subject"]
    })
}

/// `orgsync history --format json`: a list of applies, each with its configuration commit.
fn history_schema() -> Value {
    let mut defs = plan_defs(&["ActionKind"]);
    if let Some(d) = defs.as_object_mut() {
        d.insert("Commit".to_owned(), commit_schema());
    }
    output_schema(
        "history.schema.json",
        "orgsync history --format json",
        serde_json::json!({
            "description": "The apply records (git notes) of this configuration directory, newest first. A record holds no personal data.",
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "commit": { "$ref": "#/$defs/Commit", "description": "The configuration commit the record is on." },
                    "record": {
                        "type": "object",
                        "description": "The record as `apply` wrote it (newer orgsync versions may add keys).",
                        "properties": {
                            "record_version": { "type": "integer", "minimum": 1 },
                            "time": { "type": "string" },
                            "actor": { "type": "string" },
                            "config_dir": { "type": "string" },
                            "config_commit": { "type": "string" },
                            "config_dirty": { "type": "boolean" },
                            "plan_config_commit": { "type": "string" },
                            "plan_digest": { "type": "string" },
                            "at": { "type": "string", "format": "date" },
                            "orgsync_version": { "type": "string" },
                            "summary": {
                                "type": "object",
                                "propertyNames": { "$ref": "#/$defs/ActionKind" },
                                "additionalProperties": { "type": "integer", "minimum": 0 }
                            },
                            "succeeded": { "type": "integer", "minimum": 0 },
                            "failed": { "type": "integer", "minimum": 0 },
                            "unconfirmed": { "type": "integer", "minimum": 0 },
                            "outcomes": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "kind": { "$ref": "#/$defs/ActionKind" },
                                        "subject": { "type": "string" },
                                        "ok": { "type": "boolean" },
                                        "error": { "type": "string" },
                                        "status": { "type": "integer" },
                                        "unconfirmed": { "type": "boolean" },
                                        "target_id": { "type": "string" }
                                    },
                                    "required": ["kind", "subject", "ok"]
                                }
                            },
                            "target": { "type": "string" },
                            "managed_accounts": { "type": "integer", "minimum": 0 }
                        },
                        "required": ["record_version", "time", "actor", "config_dir", "config_commit", "plan_digest", "at", "orgsync_version", "summary", "succeeded", "failed", "outcomes"]
                    }
                },
                "required": ["commit", "record"],
                "additionalProperties": false
            },
            "$defs": defs
        }),
    )
}

/// `schema` with `"$id": "<SCHEMA_BASE_URL><name>"` right after `$schema`: a stable name that
/// editors and validators outside this repository can key the schema on.
fn with_id(schema: Value, name: &str) -> Value {
    let Value::Object(map) = schema else {
        return schema;
    };
    let mut out = serde_json::Map::new();
    let mut rest = map.into_iter();
    let id = Value::String(format!("{SCHEMA_BASE_URL}{name}"));
    for (key, value) in rest.by_ref() {
        let is_schema = key == "$schema";
        out.insert(key, value);
        if is_schema {
            break;
        }
    }
    out.insert("$id".to_owned(), id);
    out.extend(rest);
    Value::Object(out)
}

/// The schema of one configuration file.
pub fn config_file() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(config_schema)
}

/// The compiled validator for configuration files.
pub fn config_validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        jsonschema::validator_for(config_file())
            .expect("the generated configuration schema compiles")
    })
}

fn generate<T: schemars::JsonSchema>() -> Value {
    let generator = SchemaSettings::draft2020_12().into_generator();
    generator.into_root_schema_for::<T>().to_value()
}

fn config_schema() -> Value {
    let mut schema = generate::<ConfigFile>();
    bound_integers(&mut schema);
    with_id(schema, "orgsync.schema.json")
}

/// Adds the bounds of the Rust integer type to every integer schema (`"format": "uint32"` →
/// `"maximum": 4294967295`): without them a number too large for its field passes the schema
/// and only fails deserialising, where its position is unknown.
fn bound_integers(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            let bounds: Option<(i128, i128)> = match map.get("format").and_then(Value::as_str) {
                Some("uint8") => Some((0, u8::MAX.into())),
                Some("uint16") => Some((0, u16::MAX.into())),
                Some("uint32") => Some((0, u32::MAX.into())),
                Some("uint64" | "uint") => Some((0, u64::MAX.into())),
                Some("int32") => Some((i32::MIN.into(), i32::MAX.into())),
                Some("int64" | "int") => Some((i64::MIN.into(), i64::MAX.into())),
                _ => None,
            };
            if let Some((min, max)) = bounds {
                let number = |n: i128| {
                    u64::try_from(n)
                        .map(Value::from)
                        .unwrap_or_else(|_| Value::from(n as i64))
                };
                map.entry("minimum").or_insert_with(|| number(min));
                map.entry("maximum").or_insert_with(|| number(max));
            }
            for v in map.values_mut() {
                bound_integers(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(bound_integers),
        _ => {}
    }
}

/// A schema file's text as committed: pretty JSON with a trailing newline.
pub fn to_text(schema: &Value) -> String {
    let mut s = serde_json::to_string_pretty(schema).expect("schemas serialise");
    s.push('\n');
    s
}

// ---------------------------------------------------------------------------------------------
// Secret fields

/// Where the configuration holds a [`Secret`]: the JSON pointer of every property whose schema
/// is `Secret`'s, read from the generated schema, so that a connector's new secret field is
/// treated as one (in schema errors, in quoted lines, by `Config::required_env`) without anyone
/// naming it. A `*` segment stands for any list index or map key. In schema order, each once.
pub fn secret_pointers() -> &'static [String] {
    static POINTERS: OnceLock<Vec<String>> = OnceLock::new();
    POINTERS.get_or_init(|| {
        let mut out: Vec<String> = Vec::new();
        for (_, pointer) in secret_fields(config_file()) {
            if !out.contains(&pointer) {
                out.push(pointer);
            }
        }
        out
    })
}

/// Whether `pointer` (into one file, or the merged configuration) is a secret field.
pub(crate) fn is_secret(pointer: &str) -> bool {
    secret_pointers().iter().any(|pattern| {
        let (mut want, mut have) = (pattern.split('/'), pointer.split('/'));
        loop {
            match (want.next(), have.next()) {
                (None, None) => return true,
                (Some(w), Some(h)) if w == "*" || w == h => {}
                _ => return false,
            }
        }
    })
}

/// The secret fields `value` (one file, or the merged configuration) holds, as (pointer, value),
/// in the order of [`secret_pointers`].
pub(crate) fn secrets_in(value: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    for pattern in secret_pointers() {
        let mut found = vec![(String::new(), value)];
        for segment in pattern.split('/').skip(1) {
            found = found
                .into_iter()
                .flat_map(|(at, v)| -> Vec<(String, &Value)> {
                    match (segment, v) {
                        ("*", Value::Array(items)) => items
                            .iter()
                            .enumerate()
                            .map(|(i, c)| (format!("{at}/{i}"), c))
                            .collect(),
                        ("*", Value::Object(map)) => map
                            .iter()
                            .map(|(k, c)| (format!("{at}/{}", escape_pointer(k)), c))
                            .collect(),
                        _ => v
                            .pointer(&format!("/{segment}"))
                            .map(|c| (format!("{at}/{segment}"), c))
                            .into_iter()
                            .collect(),
                    }
                })
                .collect();
        }
        out.extend(found);
    }
    out
}

/// Every reference to `Secret` in `schema`, as (where in the schema, the pointer of the value it
/// describes): once per alternative that holds it.
fn secret_fields(schema: &Value) -> Vec<(String, String)> {
    let secret = secret_ref();
    let mut out = Vec::new();
    walk_secrets(schema, schema, "", "", &secret, &mut Vec::new(), &mut out);
    out
}

/// The `$ref` by which the schema names the `Secret` type.
fn secret_ref() -> String {
    format!(
        "#/$defs/{}",
        <Secret as schemars::JsonSchema>::schema_name()
    )
}

/// Adds the references to `Secret` below `node`, which sits at `location` in the schema and
/// describes the value at `pointer`.
fn walk_secrets<'a>(
    root: &'a Value,
    node: &'a Value,
    location: &str,
    pointer: &str,
    secret: &str,
    refs: &mut Vec<&'a str>,
    out: &mut Vec<(String, String)>,
) {
    let mut walk = |node: &'a Value, location: String, pointer: String, refs: &mut Vec<&'a str>| {
        walk_secrets(root, node, &location, &pointer, secret, refs, out);
    };
    if let Some(r) = node.get("$ref").and_then(Value::as_str) {
        if r == secret {
            out.push((format!("{location}/$ref"), pointer.to_owned()));
            return;
        }
        // A type that contains itself would be walked for ever.
        if !refs.contains(&r)
            && let Some(target) = root.pointer(r.trim_start_matches('#'))
        {
            refs.push(r);
            walk(
                target,
                r.trim_start_matches('#').to_owned(),
                pointer.to_owned(),
                refs,
            );
            refs.pop();
        }
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        let branches = node
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        for (i, branch) in branches.enumerate() {
            walk(
                branch,
                format!("{location}/{key}/{i}"),
                pointer.to_owned(),
                refs,
            );
        }
    }
    for (name, property) in node
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let name = escape_pointer(name);
        walk(
            property,
            format!("{location}/properties/{name}"),
            format!("{pointer}/{name}"),
            refs,
        );
    }
    for key in ["items", "additionalProperties"] {
        if let Some(child) = node.get(key).filter(|c| c.is_object()) {
            walk(
                child,
                format!("{location}/{key}"),
                format!("{pointer}/*"),
                refs,
            );
        }
    }
}

/// (section, kind, key) of every connector kind's secret field, read from the schema's
/// alternatives of `source` and `target` themselves: what the tests hold the derived pointers
/// and `Config::required_env` against.
#[cfg(test)]
pub(crate) fn connector_secrets() -> Vec<(String, String, String)> {
    let schema = config_file();
    let secret = secret_ref();
    let mut out = Vec::new();
    for (section, def) in [("source", "SourceConfig"), ("target", "TargetConfig")] {
        let kinds = schema["$defs"][def]["oneOf"]
            .as_array()
            .expect("kinds are alternatives");
        for kind in kinds {
            let name = kind["properties"]["kind"]["const"]
                .as_str()
                .expect("a kind");
            for (key, property) in kind["properties"].as_object().into_iter().flatten() {
                if property.get("$ref").and_then(Value::as_str) == Some(secret.as_str()) {
                    out.push((section.to_owned(), name.to_owned(), key.clone()));
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Schema errors

/// A schema error before it is placed in a file: where (pointer; key or value), what, hint.
struct Found {
    pointer: String,
    at_key: bool,
    message: String,
    hint: Option<String>,
    /// For an unknown key: the known key it is probably a typo of.
    suggestion: Option<String>,
    /// For a missing required key: its name.
    missing: Option<String>,
}

impl Found {
    fn new(
        pointer: impl Into<String>,
        at_key: bool,
        message: String,
        hint: Option<String>,
    ) -> Self {
        Found {
            pointer: pointer.into(),
            at_key,
            message,
            hint,
            suggestion: None,
            missing: None,
        }
    }
}

/// Validates one file's JSON against the configuration schema and translates every error.
pub(crate) fn schema_errors(file: &str, value: &Value, positions: &Positions) -> Vec<ConfigError> {
    let schema = config_file();
    let validator = config_validator();
    let mut found = Vec::new();
    for err in validator.iter_errors(value) {
        translate(&err, value, schema, &mut found);
    }
    // A misspelt required key is one problem, not two: "unknown key `traget` (did you mean
    // `target`?)" says it all, so drop the "missing required key `target`" beside it.
    let typos: Vec<(String, String)> = found
        .iter()
        .filter_map(|f| {
            let parent = &f.pointer[..f.pointer.rfind('/')?];
            Some((parent.to_owned(), f.suggestion.clone()?))
        })
        .collect();
    found.retain(|f| {
        f.missing
            .as_ref()
            .is_none_or(|m| !typos.iter().any(|(p, s)| *p == f.pointer && s == m))
    });
    found
        .into_iter()
        .map(|f| {
            let mark = if f.at_key {
                positions.key(&f.pointer)
            } else {
                positions.value(&f.pointer)
            };
            let mut e = ConfigError::new(file, mark, display_path(&f.pointer), f.message);
            e.hint = f.hint;
            e
        })
        .collect()
}

fn translate(
    err: &jsonschema::ValidationError<'_>,
    root: &Value,
    schema: &Value,
    out: &mut Vec<Found>,
) {
    let pointer = err.instance_path().as_str().to_owned();
    let instance = root.pointer(&pointer).unwrap_or(&Value::Null);
    let push = |out: &mut Vec<Found>,
                pointer: String,
                at_key: bool,
                message: String,
                hint: Option<String>| {
        out.push(Found::new(pointer, at_key, message, hint));
    };
    // The schema of the value that failed (the keyword's parent), for descriptions and defaults.
    let schema_path = err.schema_path().as_str();
    let here = schema_path
        .rfind('/')
        .and_then(|i| schema_at(schema, &schema_path[..i]));
    match err.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let allowed = allowed_keys(schema, err.schema_path().as_str());
            for key in unexpected {
                let child = format!("{pointer}/{}", escape_pointer(key));
                // A non-breaking space (pasted from a web page or a word processor) is not
                // indentation: it becomes part of the key.
                if key.contains('\u{a0}') {
                    let bare = key.replace('\u{a0}', " ");
                    let mut f = Found::new(
                        child,
                        true,
                        format!("unknown key `{}`: it holds a non-breaking space (U+00A0)", bare.trim()),
                        Some("indent with ordinary spaces; a non-breaking space pasted from a web page or a document is read as part of the key".to_owned()),
                    );
                    f.suggestion =
                        closest(bare.trim(), allowed.iter().map(String::as_str)).map(str::to_owned);
                    out.push(f);
                    continue;
                }
                if key == "<<" {
                    out.push(Found::new(
                        child,
                        true,
                        "`<<` (a YAML merge key) is not supported".to_owned(),
                        Some("YAML 1.2 has no merge keys: write the keys out, or reuse a whole value with an anchor (`&name`) and an alias (`*name`)".to_owned()),
                    ));
                    continue;
                }
                let best = closest(key, allowed.iter().map(String::as_str));
                let hint = match best {
                    Some(best) => Some(format!("did you mean `{best}`?")),
                    None if !allowed.is_empty() => {
                        Some(format!("allowed keys here: {}", allowed.join(", ")))
                    }
                    None => None,
                };
                let mut f = Found::new(child, true, format!("unknown key `{key}`"), hint);
                f.suggestion = best.map(str::to_owned);
                out.push(f);
            }
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            let hint = here
                .and_then(|h| h.pointer(&format!("/properties/{}", escape_pointer(name))))
                .and_then(|p| p.get("description"))
                .and_then(Value::as_str)
                .map(|d| format!("add `{name}: …` ({})", first_sentence(d)));
            let mut f = Found::new(
                pointer,
                true,
                format!("missing required key `{name}`"),
                hint,
            );
            f.missing = Some(name.to_owned());
            out.push(f);
        }
        ValidationErrorKind::Type { .. }
            if instance.is_null()
                && pointer
                    .strip_prefix("/source/columns/")
                    .is_some_and(|f| REQUIRED_COLUMNS.contains(&f)) =>
        {
            let field = &pointer["/source/columns/".len()..];
            push(
                out,
                pointer.clone(),
                false,
                format!("`{field}` is a required column: it cannot be `null`"),
                Some(format!(
                    "name the column that holds it, or leave `{field}` out for the default; only the optional columns ({}) can be `null`",
                    OPTIONAL_COLUMNS.join(", ")
                )),
            );
        }
        ValidationErrorKind::Type { kind } => {
            let expected = type_names(kind);
            let secret = is_secret(&pointer);
            let key = pointer
                .rsplit('/')
                .next()
                .filter(|k| !k.is_empty() && !k.bytes().all(|b| b.is_ascii_digit()));
            let example = match (key, here.and_then(|h| h.get("default"))) {
                (Some(k), Some(d)) if !d.is_array() && !d.is_object() => {
                    format!(", for example `{k}: {}`", plain(d))
                }
                _ => String::new(),
            };
            let list_item = pointer
                .rsplit('/')
                .next()
                .is_some_and(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()));
            let hint = if secret {
                None
            } else if instance.is_null() && list_item {
                Some(
                    "the list item is empty: write the entry after the `-`, or remove the line"
                        .to_owned(),
                )
            } else {
                type_hint(instance, &expected, &example)
            };
            let found = if secret {
                kind_of(instance)
            } else {
                describe(instance)
            };
            push(
                out,
                pointer,
                false,
                format!("expected {expected}, found {found}"),
                hint,
            );
        }
        ValidationErrorKind::Enum { options } => {
            let opts: Vec<String> = options
                .as_array()
                .map(|a| a.iter().map(plain).collect())
                .unwrap_or_default();
            let hint = instance
                .as_str()
                .and_then(|s| closest(s, opts.iter().map(String::as_str)))
                .map(|b| format!("did you mean `{b}`?"));
            push(
                out,
                pointer,
                false,
                format!("{} is not one of: {}", describe(instance), opts.join(", ")),
                hint,
            );
        }
        ValidationErrorKind::Constant { expected_value } => {
            push(
                out,
                pointer,
                false,
                format!(
                    "expected `{}`, found {}",
                    plain(expected_value),
                    describe(instance)
                ),
                None,
            );
        }
        ValidationErrorKind::Pattern { pattern } => {
            if pattern.as_str() == ENV_NAME_PATTERN {
                push(
                    out,
                    pointer,
                    false,
                    format!(
                        "{} is not a valid environment variable name",
                        describe(instance)
                    ),
                    Some(env_name_hint()),
                );
            } else if pattern.contains("env:") {
                push(
                    out,
                    pointer,
                    false,
                    literal_secret_message(),
                    Some(literal_secret_hint()),
                );
            } else if pattern.contains('%') {
                push(
                    out,
                    pointer,
                    false,
                    format!(
                        "expected a percentage like \"10%\", found {}",
                        describe(instance)
                    ),
                    None,
                );
            } else {
                push(
                    out,
                    pointer,
                    false,
                    format!(
                        "{} does not match the pattern `{pattern}`",
                        describe(instance)
                    ),
                    None,
                );
            }
        }
        ValidationErrorKind::Minimum { limit }
        | ValidationErrorKind::ExclusiveMinimum { limit } => {
            let key = pointer.rsplit('/').next().unwrap_or_default();
            let hint = here
                .and_then(|h| h.get("default"))
                .filter(|d| d.is_number())
                .map(|d| format!("for example `{key}: {d}` (the default)"));
            push(
                out,
                pointer,
                false,
                format!("must be at least {limit}, found {}", describe(instance)),
                hint,
            );
        }
        ValidationErrorKind::Maximum { limit }
        | ValidationErrorKind::ExclusiveMaximum { limit } => {
            let key = pointer.rsplit('/').next().unwrap_or_default();
            let hint = here
                .and_then(|h| h.get("default"))
                .filter(|d| d.is_number())
                .map(|d| format!("for example `{key}: {d}` (the default)"));
            push(
                out,
                pointer,
                false,
                format!("{} is too large: at most {limit}", describe(instance)),
                hint,
            );
        }
        ValidationErrorKind::MinItems { limit } => {
            push(
                out,
                pointer,
                false,
                format!("needs at least {limit} item(s)"),
                None,
            );
        }
        ValidationErrorKind::MinLength { limit } => {
            push(
                out,
                pointer,
                false,
                format!("must be at least {limit} character(s) long"),
                None,
            );
        }
        ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context } => {
            translate_alternatives(context, here, &pointer, instance, root, schema, out);
        }
        _ => push(out, pointer, false, err.to_string(), None),
    }
}

/// A value that matched none of several alternatives: pick the alternative the user most likely
/// meant and report its errors, instead of "not valid under any of the schemas".
fn translate_alternatives(
    context: &[Vec<jsonschema::ValidationError<'static>>],
    here: Option<&Value>,
    pointer: &str,
    instance: &Value,
    root: &Value,
    schema: &Value,
    out: &mut Vec<Found>,
) {
    // A secret written as a value (text, or a number) is a literal secret, whatever else is
    // wrong with it; its value is never repeated.
    let any_secret = context.iter().flatten().any(|e| matches!(e.kind(), ValidationErrorKind::Pattern { pattern } if pattern.contains("env:")));
    let scalar = matches!(
        instance,
        Value::String(_) | Value::Number(_) | Value::Bool(_)
    );
    if any_secret || (is_secret(pointer) && scalar) {
        let found = match instance
            .as_str()
            .and_then(|s| s.trim().strip_prefix("${env:"))
        {
            // `${env:1BAD}` is a reference with a bad name, not a secret: say so.
            Some(rest) => Found::new(
                pointer,
                false,
                format!(
                    "{} is not a valid environment variable reference: `{}` is not a variable name",
                    describe(instance),
                    rest.trim_end_matches('}')
                ),
                Some(env_name_hint()),
            ),
            None => Found::new(
                pointer,
                false,
                literal_secret_message(),
                Some(literal_secret_hint()),
            ),
        };
        out.push(found);
        return;
    }
    // An alternative whose only complaint is the value's type is not the one the user meant
    // (`null` for an optional section, a number for "10%"); when others remain, judge by them.
    let wrong_type = |b: &Vec<jsonschema::ValidationError<'static>>| {
        b.iter().all(|e| {
            e.instance_path().as_str() == pointer
                && matches!(e.kind(), ValidationErrorKind::Type { .. })
        })
    };
    let mut viable: Vec<&Vec<jsonschema::ValidationError<'static>>> =
        context.iter().filter(|b| !wrong_type(b)).collect();
    // A number out of range (`max_removals: -5`) meant the number's form, not a keyword's.
    let out_of_range = |b: &Vec<jsonschema::ValidationError<'static>>| {
        !b.is_empty()
            && b.iter().all(|e| {
                e.instance_path().as_str() == pointer
                    && matches!(
                        e.kind(),
                        ValidationErrorKind::Minimum { .. }
                            | ValidationErrorKind::Maximum { .. }
                            | ValidationErrorKind::ExclusiveMinimum { .. }
                            | ValidationErrorKind::ExclusiveMaximum { .. }
                    )
            })
    };
    if instance.is_number() && viable.iter().filter(|b| out_of_range(b)).count() == 1 {
        viable.retain(|b| out_of_range(b));
    }
    // A mapping (`{ fallbak: No function }`) meant the form that is a mapping: the alternative
    // that looked inside it (an unknown or a missing key, an error below it).
    let looked_inside = |b: &Vec<jsonschema::ValidationError<'static>>| {
        b.iter().any(|e| {
            e.instance_path().as_str() != pointer
                || matches!(
                    e.kind(),
                    ValidationErrorKind::AdditionalProperties { .. }
                        | ValidationErrorKind::Required { .. }
                )
        })
    };
    if instance.is_object()
        && viable.iter().any(|b| looked_inside(b))
        && !viable.iter().all(|b| looked_inside(b))
    {
        viable.retain(|b| looked_inside(b));
    }
    // A keyword alternative (`unlimited`) beside a pattern (`"10%"`): the keyword was meant only
    // when the text is a likely typo of it; otherwise judge by the other forms.
    let keyword = |b: &Vec<jsonschema::ValidationError<'static>>| {
        b.iter()
            .all(|e| e.instance_path().as_str() == pointer && keywords(e).is_some())
    };
    if viable.len() > 1 && viable.iter().any(|b| keyword(b)) && !viable.iter().all(|b| keyword(b)) {
        let words: Vec<String> = viable
            .iter()
            .filter(|b| keyword(b))
            .flat_map(|b| b.iter())
            .filter_map(keywords)
            .flatten()
            .collect();
        if let Some(best) = instance
            .as_str()
            .and_then(|s| closest(s, words.iter().map(String::as_str)))
        {
            out.push(Found::new(
                pointer,
                false,
                format!("{} is not a valid value here", describe(instance)),
                Some(format!("did you mean `{best}`?")),
            ));
            return;
        }
        viable.retain(|b| !keyword(b));
    }
    if let [branch] = viable.as_slice() {
        let start = out.len();
        for e in *branch {
            translate(e, root, schema, out);
        }
        // A value with several forms (`"10%"`, `25` or `{ percent, count }`): when the error
        // itself has no hint, the forms are the hint.
        let form_count = context
            .iter()
            .filter(|b| {
                !b.iter().any(|e| {
                    matches!(e.kind(), ValidationErrorKind::Type { kind: TypeKind::Single(t) } if t.to_string() == "null")
                })
            })
            .count();
        let description = here
            .and_then(|h| h.get("description"))
            .and_then(Value::as_str);
        if let (true, Some(d)) = (form_count >= 2, description) {
            let forms = first_sentence(d);
            for f in out[start..].iter_mut().filter(|f| f.pointer == pointer) {
                f.hint = Some(match f.hint.take() {
                    Some(h) => format!("{h} ({forms})"),
                    None => forms.clone(),
                });
            }
        }
        return;
    }
    // Tagged enums (`kind: file`): the branch whose `kind` matched is the one meant.
    let kind_pointer = format!("{pointer}/kind");
    if let Some(kind) = instance.get("kind") {
        let kind_failed = |branch: &Vec<jsonschema::ValidationError<'static>>| {
            branch
                .iter()
                .any(|e| e.instance_path().as_str() == kind_pointer)
        };
        if let Some(branch) = context.iter().find(|b| !kind_failed(b)) {
            for e in branch {
                translate(e, root, schema, out);
            }
            return;
        }
        let kinds = allowed_values(context.iter().flatten());
        let hint = kind
            .as_str()
            .and_then(|k| closest(k, kinds.iter().map(String::as_str)))
            .map(|b| format!("did you mean `{b}`?"));
        out.push(Found::new(
            kind_pointer,
            false,
            format!(
                "unknown kind {}; expected one of: {}",
                describe(kind),
                kinds.join(", ")
            ),
            hint,
        ));
        return;
    }
    // Every alternative is a constant (documented enum variants): "not one of: a, b, c".
    let consts = allowed_values(
        context
            .iter()
            .flatten()
            .filter(|e| e.instance_path().as_str() == pointer),
    );
    if !consts.is_empty() && instance.is_string() {
        let hint = instance
            .as_str()
            .and_then(|s| closest(s, consts.iter().map(String::as_str)))
            .map(|b| format!("did you mean `{b}`?"));
        out.push(Found::new(
            pointer.to_owned(),
            false,
            format!(
                "{} is not one of: {}",
                describe(instance),
                consts.join(", ")
            ),
            hint,
        ));
        return;
    }
    // Every alternative failed on the value's type: "expected a string or a list, found …".
    let all_type = context.iter().all(|b| {
        b.iter().all(|e| {
            e.instance_path().as_str() == pointer
                && matches!(e.kind(), ValidationErrorKind::Type { .. })
        })
    });
    if all_type {
        let mut names: Vec<String> = context
            .iter()
            .flatten()
            .filter_map(|e| match e.kind() {
                ValidationErrorKind::Type { kind } => Some(type_names(kind)),
                _ => None,
            })
            .collect();
        names.dedup();
        // `nothing` is the branch of an optional value; nobody means to write nothing.
        if names.len() > 1 {
            names.retain(|n| n != "nothing");
        }
        let expected = names.join(" or ");
        let hint = type_hint(instance, &expected, "");
        out.push(Found::new(
            pointer,
            false,
            format!("expected {expected}, found {}", describe(instance)),
            hint,
        ));
        return;
    }
    // Otherwise the alternative that got furthest into the value, then the one with fewest errors.
    let candidates = if viable.is_empty() {
        context.iter().collect()
    } else {
        viable
    };
    let best = candidates.into_iter().max_by_key(|b| {
        let depth = b
            .iter()
            .map(|e| e.instance_path().as_str().len())
            .max()
            .unwrap_or(0);
        (depth, usize::MAX - b.len())
    });
    if let Some(branch) = best {
        for e in branch {
            translate(e, root, schema, out);
        }
    }
}

/// The words an error accepts when it only accepts fixed words (`const`/`enum`, possibly behind
/// a `oneOf` of them); `None` for any other error.
fn keywords(e: &jsonschema::ValidationError<'_>) -> Option<Vec<String>> {
    match e.kind() {
        ValidationErrorKind::Constant { expected_value } => Some(vec![plain(expected_value)]),
        ValidationErrorKind::Enum { options } => {
            Some(options.as_array()?.iter().map(plain).collect())
        }
        ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context } => {
            let mut out = Vec::new();
            for e in context.iter().flatten() {
                out.extend(keywords(e)?);
            }
            Some(out)
        }
        _ => None,
    }
}

/// What to do about a value of the wrong type. `example` is `, for example `key: default``
/// when the schema has a default, or empty.
fn type_hint(instance: &Value, expected: &str, example: &str) -> Option<String> {
    match (instance, expected) {
        (Value::Number(n), e) if e.contains("string") => Some(format!(
            "quote it to make it text: \"{n}\" (identifiers are text: 0123 would lose its zero)"
        )),
        (Value::String(v), e) if e.contains("whole number") || e.contains("a number") => {
            if v.trim().parse::<f64>().is_ok() {
                Some("write the number without quotes".to_owned())
            } else {
                Some(format!("write a number in digits{example}"))
            }
        }
        (Value::String(v), "true or false") => {
            let word = v.to_lowercase();
            if ["yes", "no", "on", "off", "y", "n"].contains(&word.as_str()) {
                Some(format!(
                    "YAML 1.2 reads `{v}` as text, not as a yes/no: write `true` or `false`"
                ))
            } else {
                Some("write `true` or `false`, without quotes".to_owned())
            }
        }
        (Value::Array(_), "a mapping") => Some(
            "this is written as a list (lines starting with `- `): write its settings as `key: value` lines without the leading `- `".to_owned(),
        ),
        (Value::Object(_), e) if e.starts_with("a list") => Some(
            "write a list: one item per line, each starting with `- `, or `[a, b]` on one line"
                .to_owned(),
        ),
        (Value::String(v), e) if e.starts_with("a list") && v.starts_with('-') => Some(
            "a list item starts with `- `, a dash and a space".to_owned(),
        ),
        (Value::String(v), e) if e.starts_with("a list") => Some(format!(
            "write a list, even of one item: [\"{v}\"]"
        )),
        (Value::String(_) | Value::Number(_) | Value::Bool(_), "a mapping") => Some(
            "write its keys on the lines below it, indented (`key: value`), or `{ key: value, … }` on one line".to_owned(),
        ),
        (Value::Null, _) => Some("the value is missing after the colon".to_owned()),
        _ => None,
    }
}

/// The pattern of an environment variable name in the generated schema (see `secret.rs`).
const ENV_NAME_PATTERN: &str = "^[A-Za-z_][A-Za-z0-9_]*$";

fn env_name_hint() -> String {
    "a variable name starts with a letter or `_` and holds only letters, digits and `_`, like AFAS_TOKEN".to_owned()
}

/// The schema at `path`, following a `$ref` found there.
fn schema_at<'a>(schema: &'a Value, path: &str) -> Option<&'a Value> {
    let node = schema.pointer(path)?;
    match node.get("$ref").and_then(Value::as_str) {
        Some(r) => schema.pointer(r.trim_start_matches('#')),
        None => Some(node),
    }
}

/// The first sentence of a schema description, to quote inside a hint.
fn first_sentence(description: &str) -> String {
    let text = description.replace('\n', " ");
    // The first ". " that ends a sentence: not the one of an abbreviation like "e.g.".
    let end = text
        .match_indices(". ")
        .map(|(i, _)| i)
        .find(|&i| !["e.g", "i.e", "etc"].iter().any(|a| text[..i].ends_with(a)))
        .unwrap_or(text.len());
    let sentence = text[..end].trim_end_matches('.');
    let mut chars = sentence.chars();
    match (chars.next(), chars.next()) {
        (Some(a), Some(b)) if a.is_uppercase() && !b.is_uppercase() => {
            a.to_lowercase().chain(sentence.chars().skip(1)).collect()
        }
        _ => sentence.to_owned(),
    }
}

/// The values that `const`/`enum` errors say would have been accepted.
fn allowed_values<'e>(
    errors: impl Iterator<Item = &'e jsonschema::ValidationError<'static>>,
) -> Vec<String> {
    errors
        .filter_map(|e| match e.kind() {
            ValidationErrorKind::Constant { expected_value } => Some(plain(expected_value)),
            ValidationErrorKind::Enum { options } => options
                .as_array()
                .map(|a| a.iter().map(plain).collect::<Vec<_>>().join(", ")),
            _ => None,
        })
        .collect()
}

fn literal_secret_message() -> String {
    "a secret must not be written in the configuration (this is a literal value)".to_owned()
}

fn literal_secret_hint() -> String {
    "reference an environment variable instead: ${env:NAME} or { env: NAME }; if this value was ever committed, rotate it".to_owned()
}

/// Property names of the object schema an `additionalProperties` error came from.
fn allowed_keys(schema: &Value, schema_path: &str) -> Vec<String> {
    let parent = schema_path
        .strip_suffix("/additionalProperties")
        .unwrap_or(schema_path);
    let mut node = schema.pointer(parent);
    // Follow a `$ref` at that spot, if the path stopped at one.
    if let Some(r) = node.and_then(|n| n.get("$ref")).and_then(Value::as_str) {
        node = schema.pointer(r.trim_start_matches('#'));
    }
    let mut keys: Vec<String> = node
        .and_then(|n| n.get("properties"))
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

fn type_names(kind: &TypeKind) -> String {
    let name = |t: &str| match t {
        "string" => "a string",
        "integer" => "a whole number",
        "number" => "a number",
        "boolean" => "true or false",
        "array" => "a list",
        "object" => "a mapping",
        "null" => "nothing",
        _ => "a value",
    };
    match kind {
        TypeKind::Single(t) => name(&t.to_string()).to_owned(),
        TypeKind::Multiple(ts) => {
            // `null` is how the schema says "optional"; nobody means to write nothing.
            let mut names: Vec<&str> = ts
                .iter()
                .map(|t| t.to_string())
                .filter(|t| t != "null")
                .map(|t| name(&t))
                .collect();
            if names.is_empty() {
                names.push("nothing");
            }
            names.join(" or ")
        }
    }
}

fn kind_of(v: &Value) -> String {
    match v {
        Value::Null => "nothing".into(),
        Value::Bool(_) => "true/false".into(),
        Value::Number(_) => "a number".into(),
        Value::String(_) => "a string".into(),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "nothing".into(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) if s.chars().count() > 40 => {
            format!("\"{}…\"", s.chars().take(37).collect::<String>())
        }
        Value::String(s) => format!("\"{s}\""),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::one;

    #[test]
    fn unknown_key_in_an_optional_section_is_not_a_type_error() {
        for (rest, key, best) in [
            (
                "policy:\n  retention_day: 30\n",
                "retention_day",
                "retention_days",
            ),
            ("safety:\n  max_removal: 5\n", "max_removal", "max_removals"),
        ] {
            let e = one(rest);
            assert_eq!(e.message, format!("unknown key `{key}`"));
            assert_eq!(e.hint.unwrap(), format!("did you mean `{best}`?"));
        }
    }

    #[test]
    fn max_removals_in_words_asks_for_a_percentage() {
        let e = one("safety: { max_removals: ten percent }\n");
        assert_eq!(
            e.message,
            "expected a percentage like \"10%\", found \"ten percent\""
        );
        assert!(e.hint.unwrap().contains("`{ percent: 10, count: 25 }`"));
    }

    #[test]
    fn misspelt_required_key_is_one_error() {
        let e = one("communities:\n  - { source: \"1\", traget: X }\n");
        assert_eq!(e.message, "unknown key `traget`");
        assert_eq!(e.path, "communities[0].traget");
    }

    #[test]
    fn missing_required_key_hint_comes_from_its_description() {
        let e = one("communities:\n  - { source: \"1\" }\n");
        assert_eq!(e.message, "missing required key `target`");
        assert_eq!(
            e.hint.as_deref(),
            Some("add `target: …` (name of the target community)")
        );
    }

    #[test]
    fn bad_environment_variable_names_are_named_as_such() {
        let text = "version: 1\nsource: { kind: afas, environment: \"1\", token: { env: 1BAD } }\ntarget: { kind: file, path: ws.json }\n";
        let errs = crate::config::load_files(vec![("orgsync.yaml".into(), text.into())])
            .unwrap_err()
            .0;
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert_eq!(
            errs[0].message,
            "\"1BAD\" is not a valid environment variable name"
        );

        let text = text.replace("{ env: 1BAD }", "\"${env:1BAD}\"");
        let errs = crate::config::load_files(vec![("orgsync.yaml".into(), text.into())])
            .unwrap_err()
            .0;
        assert_eq!(
            errs[0].message,
            "\"${env:1BAD}\" is not a valid environment variable reference: `1BAD` is not a variable name"
        );
    }

    #[test]
    fn a_number_as_secret_is_a_literal_secret_and_not_repeated() {
        let text = "version: 1\nsource: { kind: afas, environment: \"1\", token: 8675309 }\ntarget: { kind: file, path: ws.json }\n";
        let errs = crate::config::load_files(vec![("orgsync.yaml".into(), text.into())])
            .unwrap_err()
            .0;
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert_eq!(errs[0].message, literal_secret_message());
        assert!(!format!("{errs:?}").contains("8675309"));
    }

    #[test]
    fn type_errors_hint_at_the_fix() {
        let e = one("safety: { allow_community_removal: yes }\n");
        assert_eq!(e.message, "expected true or false, found \"yes\"");
        assert!(e.hint.unwrap().starts_with("YAML 1.2 reads `yes` as text"));

        let e = one("policy:\n  - timezone: UTC\n");
        assert_eq!(e.message, "expected a mapping, found a list");
        assert!(e.hint.unwrap().contains("without the leading `- `"));

        let e = one("policy: { retention_days: thirty }\n");
        assert_eq!(
            e.hint.as_deref(),
            Some("write a number in digits, for example `retention_days: 30`")
        );

        let text = "version: \"1\"\nsource: { kind: file, path: hr.json }\ntarget: { kind: file, path: ws.json }\n";
        let errs = crate::config::load_files(vec![("orgsync.yaml".into(), text.into())])
            .unwrap_err()
            .0;
        assert_eq!(errs[0].message, "expected a whole number, found \"1\"");
    }

    #[test]
    fn first_sentence_reads_inside_a_hint() {
        assert_eq!(first_sentence("Name of the group."), "name of the group");
        assert_eq!(first_sentence("A limit. More text."), "a limit");
        assert_eq!(first_sentence("IANA zone."), "IANA zone");
        // Regression: the AFAS `environment` hint was cut off at "e.g".
        assert_eq!(
            first_sentence("The number, e.g. `12345`: the API. More."),
            "the number, e.g. `12345`: the API"
        );
    }

    #[test]
    fn every_reference_to_secret_in_the_schema_is_found() {
        fn refs(v: &Value, at: &str, secret: &str, out: &mut Vec<String>) {
            match v {
                Value::Object(map) => {
                    for (k, c) in map {
                        let here = format!("{at}/{}", escape_pointer(k));
                        if k == "$ref" && c.as_str() == Some(secret) {
                            out.push(here);
                        } else {
                            refs(c, &here, secret, out);
                        }
                    }
                }
                Value::Array(items) => {
                    for (i, c) in items.iter().enumerate() {
                        refs(c, &format!("{at}/{i}"), secret, out);
                    }
                }
                _ => {}
            }
        }
        let schema = config_file();
        let mut everywhere = Vec::new();
        refs(schema, "", "#/$defs/Secret", &mut everywhere);
        let mut found: Vec<String> = secret_fields(schema).into_iter().map(|(l, _)| l).collect();
        everywhere.sort();
        found.sort();
        found.dedup();
        assert!(everywhere.len() >= 7, "{everywhere:#?}");
        assert_eq!(found, everywhere);
    }

    #[test]
    fn every_connector_kinds_secret_is_in_the_derived_list() {
        let kinds = connector_secrets();
        for (section, kind, key) in &kinds {
            let pointer = format!("/{section}/{key}");
            assert!(
                secret_pointers().contains(&pointer) && is_secret(&pointer),
                "{section} kind {kind}: {pointer} is not among {:?}",
                secret_pointers()
            );
        }
        for known in [
            "source afas token",
            "source recruitee token",
            "source google credentials",
            "source manusplus password",
            "target scim token",
            "target revolut token",
            "target afas_applicants token",
        ] {
            assert!(
                kinds
                    .iter()
                    .any(|(s, k, f)| format!("{s} {k} {f}") == known),
                "{known}: {kinds:?}"
            );
        }
    }

    #[test]
    fn a_key_named_like_a_secret_is_a_secret_only_if_its_type_is() {
        assert!(is_secret("/source/token"));
        assert!(!is_secret("/source/paths/token"));
        assert!(!is_secret("/source"));
        let text = "version: 1\nsource: { kind: manusplus, base_url: \"https://server.manus.plus/acme\", username: u, password: \"${env:MANUS_PASSWORD}\", node: \"1\", paths: { token: 5 } }\ntarget: { kind: file, path: ws.json }\n";
        let errs = crate::config::load_files(vec![("orgsync.yaml".into(), text.into())])
            .unwrap_err()
            .0;
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert_eq!(errs[0].path, "source.paths.token");
        assert_eq!(errs[0].message, "expected a string, found the number 5");
    }
}
