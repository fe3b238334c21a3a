//! JSON Schemas generated from the Rust types. They are committed under `schemas/` (editors
//! complete and check YAML with them) and used to validate configuration before deserialising.

use std::sync::OnceLock;

use schemars::generate::SchemaSettings;
use serde_json::Value;

use super::ConfigFile;
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
        (
            "plan.schema.json",
            with_id(generate::<Plan>(), "plan.schema.json"),
        ),
        (
            "workspace.schema.json",
            with_id(generate::<TargetSnapshot>(), "workspace.schema.json"),
        ),
    ]
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
