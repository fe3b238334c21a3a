//! Helpers of the unit tests that load a configuration from text.

use super::{Config, ConfigError, load_files};

pub(crate) const FILE_TARGET: &str = "target: { kind: file, path: ws.json }\n";

pub(crate) fn load(text: &str) -> Result<Config, Vec<ConfigError>> {
    load_files(vec![("orgsync.yaml".to_owned(), text.as_bytes().to_vec())]).map_err(|e| e.0)
}

pub(crate) fn afas(columns: &str, rest: &str) -> String {
    format!(
        "version: 1\nsource:\n  kind: afas\n  environment: \"12345\"\n  token: ${{env:AFAS_TOKEN}}\n{columns}{FILE_TARGET}{rest}"
    )
}

pub(crate) fn file(source_extra: &str, rest: &str) -> String {
    format!("version: 1\nsource:\n  kind: file\n  path: hr.csv\n{source_extra}{FILE_TARGET}{rest}")
}

pub(crate) fn messages(text: &str) -> Vec<String> {
    load(text)
        .expect_err("the configuration is invalid")
        .into_iter()
        .map(|e| format!("{}: {}", e.path, e.message))
        .collect()
}

const HEAD: &str =
    "version: 1\nsource: { kind: file, path: hr.json }\ntarget: { kind: file, path: ws.json }\n";

/// The errors of an `orgsync.yaml` made of the valid head and `rest`.
pub(crate) fn errors(rest: &str) -> Vec<ConfigError> {
    let text = format!("{HEAD}{rest}");
    load_files(vec![("orgsync.yaml".to_owned(), text.into_bytes())])
        .expect_err("the configuration is invalid")
        .0
}

pub(crate) fn one(rest: &str) -> ConfigError {
    let mut errs = errors(rest);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    errs.remove(0)
}
