//! JSON Schemas generated from the Rust types. They are committed under `schemas/` (editors
//! complete and check YAML with them) and used to validate configuration before deserialising.

use std::sync::OnceLock;

use schemars::generate::SchemaSettings;
use serde_json::Value;

use super::ConfigFile;
use crate::model::TargetSnapshot;
use crate::plan::Plan;

/// Every schema orgsync publishes, as (file name, schema).
pub fn all() -> Vec<(&'static str, Value)> {
    vec![
        ("orgsync.schema.json", generate::<ConfigFile>()),
        ("plan.schema.json", generate::<Plan>()),
        ("workspace.schema.json", generate::<TargetSnapshot>()),
    ]
}

/// The schema of one configuration file.
pub fn config_file() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(generate::<ConfigFile>)
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

/// A schema file's text as committed: pretty JSON with a trailing newline.
pub fn to_text(schema: &Value) -> String {
    let mut s = serde_json::to_string_pretty(schema).expect("schemas serialise");
    s.push('\n');
    s
}
