//! Loading a configuration directory: read every YAML file, check each against the schema, merge
//! the sections, then run the semantic checks. All errors of all files are reported in one run.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::validate::{self, ConfigError, ErrorList};
use super::yaml::{self, Mark};
use super::{Config, ConfigFile, Locations};
use crate::plan::digest;

/// Loading failed: every error found.
pub type LoadError = ErrorList;

/// Largest configuration file accepted. Real ones are a few kilobytes; a bigger file is almost
/// certainly a data export in the wrong place.
pub const MAX_FILE_BYTES: usize = 1024 * 1024;

/// The root file of a configuration directory.
pub const ROOT_FILE: &str = "orgsync.yaml";

/// Loads and validates the configuration directory `dir`: `orgsync.yaml` and every other
/// `*.yaml`/`*.yml` file at its root, except the data files named by `source.path`/`target.path`.
pub fn load_dir(dir: &Path) -> Result<Config, ErrorList> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        single(
            &dir.display().to_string(),
            format!("cannot read the configuration directory: {e}"),
            None,
        )
    })?;
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_yaml = name.ends_with(".yaml") || name.ends_with(".yml");
        if !is_yaml || name.starts_with('.') || !entry.path().is_file() {
            continue;
        }
        let bytes = std::fs::read(entry.path())
            .map_err(|e| single(&name, format!("cannot read: {e}"), None))?;
        files.push((name, bytes));
    }
    if !files.iter().any(|(n, _)| n == ROOT_FILE) {
        return Err(single(
            ROOT_FILE,
            format!("no {ROOT_FILE} in {}", dir.display()),
            Some(
                "run orgsync in the configuration directory, or point at it with -C DIR".to_owned(),
            ),
        ));
    }
    load_files(files)
}

fn single(file: &str, message: String, hint: Option<String>) -> ErrorList {
    let mut e = ConfigError::new(file, Mark { line: 1, column: 1 }, "", message);
    e.hint = hint;
    ErrorList(vec![e])
}

struct Parsed {
    name: String,
    text: String,
    value: Value,
    positions: yaml::Positions,
}

/// Loads a configuration from (file name, contents) pairs — a directory, or a git tree.
pub fn load_files(mut files: Vec<(String, Vec<u8>)>) -> Result<Config, ErrorList> {
    files.sort_by(|a, b| (a.0 != ROOT_FILE, &a.0).cmp(&(b.0 != ROOT_FILE, &b.0)));
    let config_digest = {
        let mut all = Vec::new();
        for (name, bytes) in &files {
            all.extend_from_slice(name.as_bytes());
            all.push(0);
            all.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            all.extend_from_slice(bytes);
        }
        digest::of_bytes(&all)
    };

    let mut errors = ErrorList::default();
    let mut texts: BTreeMap<String, String> = BTreeMap::new();
    let mut parsed: Vec<Parsed> = Vec::new();
    let mut failed: Vec<ConfigError> = Vec::new();
    for (name, bytes) in files {
        match parse_file(&name, &bytes) {
            Ok(p) => parsed.push(p),
            Err(e) => failed.push(e),
        }
    }
    // Data files named by the source or the target are not configuration.
    let data_paths: Vec<String> = parsed
        .iter()
        .flat_map(|p| {
            ["/source/path", "/target/path"].map(|ptr| {
                p.value
                    .pointer(ptr)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
        })
        .flatten()
        .map(|p| p.trim_start_matches("./").to_owned())
        .collect();
    let is_data = |name: &str| data_paths.iter().any(|d| d == name);
    parsed.retain(|p| !is_data(&p.name));
    for e in failed {
        if !is_data(&e.file) {
            errors.push(e);
        }
    }

    // Schema, per file; then merge sections.
    let mut merged: BTreeMap<String, (String, Mark)> = BTreeMap::new();
    let mut files_ok: Vec<(Parsed, ConfigFile)> = Vec::new();
    for p in parsed {
        texts.insert(p.name.clone(), p.text.clone());
        if let Some(e) = validate::version_error(&p.name, &p.value, &p.positions) {
            errors.push(e);
        }
        let schema_errors = validate::schema_errors(&p.name, &p.value, &p.positions);
        if let Value::Object(map) = &p.value {
            for key in map.keys() {
                let mark = p.positions.key(&format!("/{}", yaml::escape_pointer(key)));
                if let Some((first_file, first_mark)) = merged.get(key) {
                    errors.push(
                        ConfigError::new(
                            &p.name,
                            mark,
                            key.clone(),
                            format!("section `{key}` is defined in two files: {first_file}:{} and {}:{}", first_mark.line, p.name, mark.line),
                        )
                        .hint("keep each section in one file"),
                    );
                } else {
                    merged.insert(key.clone(), (p.name.clone(), mark));
                }
            }
        }
        if !schema_errors.is_empty() {
            for e in schema_errors {
                errors.push(e);
            }
            continue;
        }
        match validate::deserialize_file(&p.name, p.value.clone()) {
            Ok(cf) => files_ok.push((p, cf)),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(attach_lines(errors, &texts));
    }

    // Assemble the merged configuration.
    let mut locations = Locations::default();
    let mut out = ConfigFile::default();
    let mut names = Vec::new();
    for (p, cf) in files_ok {
        if let Value::Object(map) = &p.value {
            for key in map.keys() {
                locations.insert(key, &p.name, p.positions.clone());
            }
        }
        names.push(p.name.clone());
        macro_rules! take {
            ($($field:ident),*) => { $( if cf.$field.is_some() { out.$field = cf.$field; } )* };
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
    let root_mark = Mark { line: 1, column: 1 };
    let missing = |key: &str, example: &str| {
        ConfigError::new(
            ROOT_FILE,
            root_mark,
            key,
            format!("missing required section `{key}`"),
        )
        .hint(format!("add it to {ROOT_FILE}, for example: {example}"))
    };
    if out.version.is_none() {
        errors.push(missing("version", "version: 1"));
    }
    if out.source.is_none() {
        errors.push(missing(
            "source",
            "source: { kind: file, path: hr-export.json }",
        ));
    }
    if out.target.is_none() {
        errors.push(missing(
            "target",
            "target: { kind: file, path: workspace.json }",
        ));
    }
    let (Some(version), Some(source), Some(target)) = (out.version, out.source, out.target) else {
        return Err(attach_lines(errors, &texts));
    };
    let config = Config {
        version,
        source,
        target,
        identity: out.identity.unwrap_or_default(),
        policy: out.policy.unwrap_or_default(),
        safety: out.safety.unwrap_or_default(),
        protected: out.protected.unwrap_or_default(),
        communities: out.communities.unwrap_or_default(),
        functions: out.functions,
        exclude: out.exclude.unwrap_or_default(),
        test_locations: out.test_locations.unwrap_or_default(),
        include: out.include,
        locations,
        digest: config_digest,
        files: names,
    };
    for e in validate::semantic_errors(&config) {
        errors.push(e);
    }
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(attach_lines(errors, &texts))
    }
}

fn attach_lines(errors: ErrorList, texts: &BTreeMap<String, String>) -> ErrorList {
    let mut errors = errors.finish();
    for e in &mut errors.0 {
        e.source_line = texts
            .get(&e.file)
            .and_then(|t| t.lines().nth(e.line.saturating_sub(1)))
            .map(str::to_owned);
    }
    errors
}

fn parse_file(name: &str, bytes: &[u8]) -> Result<Parsed, ConfigError> {
    let at = |mark: Mark, message: String| ConfigError::new(name, mark, "", message);
    let start = Mark { line: 1, column: 1 };
    if bytes.len() > MAX_FILE_BYTES {
        return Err(at(start, format!("file is {:.1} MB; configuration files are limited to 1 MB", bytes.len() as f64 / 1e6))
            .hint("is this a data export? Name it in source.path (it is then not read as configuration), or split the configuration"));
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let valid = &bytes[..e.valid_up_to()];
            let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
            let column = valid.iter().rev().take_while(|b| **b != b'\n').count() + 1;
            return Err(at(
                Mark { line, column },
                format!("not valid UTF-8 (byte {})", e.valid_up_to()),
            )
            .hint(
                "save the file as UTF-8; legacy encodings such as Windows-1252 are not supported",
            ));
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let node = yaml::parse(text).map_err(|e| {
        let mut err = at(e.mark, e.message);
        err.hint = e.hint;
        err.source_line = text
            .lines()
            .nth(e.mark.line.saturating_sub(1))
            .map(str::to_owned);
        err
    })?;
    let Some(node) = node else {
        return Err(at(start, "the file is empty".into()).hint(
            "add configuration sections (version, source, communities, …) or delete the file",
        ));
    };
    if !matches!(node.value, yaml::NodeValue::Map(_)) {
        return Err(at(node.mark, "expected a mapping of sections (version, source, communities, …) at the top of the file".into()));
    }
    let (value, positions) = yaml::to_json(&node);
    Ok(Parsed {
        name: name.to_owned(),
        text: text.to_owned(),
        value,
        positions,
    })
}
