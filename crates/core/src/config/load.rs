//! Loading a configuration directory: read every YAML file, check each against the schema, merge
//! the sections, then run the semantic checks of every section. All errors of all files are
//! reported in one run.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::error::{ConfigError, ErrorList, display_path};
use super::file::{deserialize_sections, merge, version_error};
use super::yaml::{self, Mark};
use super::{
    Config, ConfigFile, Locations, SourceConfig, TargetConfig, mappings, policy, rules, schema,
    sources, targets,
};
use crate::digest;
use crate::redact::REDACTED;

/// Loading failed: every error found.
pub type LoadError = ErrorList;

/// Largest configuration file accepted. Real ones are a few kilobytes; a bigger file is almost
/// certainly a data export in the wrong place.
pub const MAX_FILE_BYTES: usize = 1024 * 1024;

/// The root file of a configuration directory.
pub const ROOT_FILE: &str = "orgsync.yaml";

/// The error for a configuration directory without [`ROOT_FILE`], naming the YAML files it
/// holds (`found`) and where it is (`dir`).
pub fn missing_root(dir: &str, found: &[&str]) -> ErrorList {
    let mut found = found.to_vec();
    found.sort_unstable();
    let found = if found.is_empty() {
        "it holds no YAML files".to_owned()
    } else {
        format!("it holds {}", found.join(", "))
    };
    single(
        ROOT_FILE,
        format!("no {ROOT_FILE} in {dir} ({found})"),
        Some(format!(
            "{ROOT_FILE} is the root file of a configuration (version, source, target): run orgsync in the configuration directory, or point at it with -C DIR"
        )),
    )
}

/// One error at the top of `file`.
pub fn single(file: &str, message: String, hint: Option<String>) -> ErrorList {
    let mut e = ConfigError::new(file, Mark { line: 1, column: 1 }, "", message);
    e.hint = hint;
    ErrorList(vec![e])
}

/// `errors` with the configuration line each one points at (from `files`, the configuration's
/// (name, contents)), to print.
pub fn with_excerpts(errors: ErrorList, files: &[(String, Vec<u8>)]) -> ErrorList {
    let texts: BTreeMap<String, String> = files
        .iter()
        .map(|(name, bytes)| (name.clone(), String::from_utf8_lossy(bytes).into_owned()))
        .collect();
    attach_lines(errors, &texts, &[])
}

struct Parsed {
    name: String,
    text: String,
    value: Value,
    positions: yaml::Positions,
}

/// The `source` and `target` sections of [`ROOT_FILE`] alone, as written, with nothing checked:
/// a guess at what [`load_files_in`] will make of them, for work that can start before it is
/// done and is dropped when the guess turns out wrong (`explain` starts reading the data).
pub fn guess_source_and_target(root: &[u8]) -> Option<(SourceConfig, TargetConfig)> {
    let parsed = parse_file(ROOT_FILE, root).ok()?;
    let section = |key: &str| parsed.value.get(key).cloned();
    Some((
        serde_json::from_value(section("source")?).ok()?,
        serde_json::from_value(section("target")?).ok()?,
    ))
}

/// Loads a configuration from (file name, contents) pairs — a directory, or a git tree.
pub fn load_files(files: Vec<(String, Vec<u8>)>) -> Result<Config, ErrorList> {
    load_files_in(files, |_| false)
}

/// [`load_files`], with the checks of `source.path` and `target.path` that need the
/// configuration directory (`is_dir` says whether a path relative to it is a directory).
pub fn load_files_in(
    mut files: Vec<(String, Vec<u8>)>,
    is_dir: impl Fn(&str) -> bool,
) -> Result<Config, ErrorList> {
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
            Err(e) => failed.push(*e),
        }
    }
    // Data files named by the source or the target are not configuration — unless what they
    // name is a configuration file: `orgsync.yaml`, or a file of nothing but sections.
    let mut data_paths: Vec<String> = Vec::new();
    for p in &parsed {
        for ptr in ["/source/path", "/target/path"] {
            let Some(path) = p.value.pointer(ptr).and_then(Value::as_str) else {
                continue;
            };
            let path = path.trim_start_matches("./").to_owned();
            match parsed.iter().find(|c| c.name == path) {
                Some(named) if is_configuration(named) => {
                    let what = if ptr == "/source/path" {
                        "the HR export"
                    } else {
                        "the workspace"
                    };
                    errors.push(
                        ConfigError::new(
                            &p.name,
                            p.positions.value(ptr),
                            display_path(ptr),
                            format!("`{path}` is a configuration file, not {what}"),
                        )
                        .hint(format!(
                            "name the data file here (like `{}`); configuration files are read as configuration",
                            if ptr == "/source/path" { "hr-export.json" } else { "workspace.json" }
                        )),
                    );
                }
                _ => data_paths.push(path),
            }
        }
    }
    let is_data = |name: &str| data_paths.iter().any(|d| d == name);
    parsed.retain(|p| !is_data(&p.name));
    let secrets: Vec<String> = parsed
        .iter()
        .flat_map(|p| schema::secrets_in(&p.value))
        .filter_map(|(_, value)| literal_secret(value))
        .collect();
    for e in failed {
        if !is_data(&e.file) {
            errors.push(e);
        }
    }

    // Schema, per file; then merge sections. A section with an error is left out of the merged
    // configuration (and remembered in `broken`), so that every other section is still read and
    // checked: all the errors of a run, not the first few.
    let any_unparsed = !errors.is_empty();
    let mut merged: BTreeMap<String, (String, Mark)> = BTreeMap::new();
    let mut broken: BTreeSet<String> = BTreeSet::new();
    // Entries of list sections read as stand-ins (`communities[2]`): nothing is said about them.
    let mut broken_entries: Vec<String> = Vec::new();
    let mut files_ok: Vec<(Parsed, ConfigFile)> = Vec::new();
    for p in parsed {
        texts.insert(p.name.clone(), p.text.clone());
        // A file of another version is not judged by this version's rules.
        let version_error = version_error(&p.name, &p.value, &p.positions);
        let other_version = version_error.is_some();
        if let Some(e) = version_error {
            errors.push(e);
        }
        let schema_errors = schema::schema_errors(&p.name, &p.value, &p.positions);
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
                    broken.insert(key.clone());
                } else {
                    merged.insert(key.clone(), (p.name.clone(), mark));
                }
            }
        }
        if other_version {
            errors.0.extend(schema_errors);
            if let Value::Object(map) = &p.value {
                broken.extend(map.keys().cloned());
            }
            continue;
        }
        // The sections the schema errors are in.
        let mut skip: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for e in &schema_errors {
            skip.entry(section_of(&e.path))
                .or_default()
                .push(e.path.clone());
        }
        errors.0.extend(schema_errors);
        let (cf, deserialize_errors, failed, stand_ins) =
            deserialize_sections(&p.name, &p.value, &p.positions, &skip);
        errors.0.extend(deserialize_errors);
        broken.extend(failed);
        broken_entries.extend(stand_ins);
        files_ok.push((p, cf));
    }
    // A file that does not parse may hold any section: nothing across sections can be judged.
    if any_unparsed {
        return Err(attach_lines(errors, &texts, &secrets));
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
        merge(&mut out, cf);
    }
    let root_mark = Mark { line: 1, column: 1 };
    let missing = |key: &str, example: &str| {
        // `version:` with nothing after it is written, but empty: point at it.
        if let Some(at) = locations.get(&format!("/{key}")) {
            return ConfigError::new(
                &at.file,
                Mark {
                    line: at.line,
                    column: at.column,
                },
                key,
                format!("section `{key}` is empty"),
            )
            .hint(format!("give it a value, for example: {example}"));
        }
        ConfigError::new(
            ROOT_FILE,
            root_mark,
            key,
            format!("missing required section `{key}`"),
        )
        .hint(format!("add it to {ROOT_FILE}, for example: {example}"))
        .without_excerpt()
    };
    if out.version.is_none() && !broken.contains("version") {
        errors.push(missing("version", "version: 1"));
    }
    if out.source.is_none() && !broken.contains("source") {
        errors.push(missing(
            "source",
            "source: { kind: file, path: hr-export.json }",
        ));
    }
    if out.target.is_none() && !broken.contains("target") {
        errors.push(missing(
            "target",
            "target: { kind: file, path: workspace.json }",
        ));
    }
    // A missing required section is broken too: what reads it cannot be checked. A stand-in
    // takes its place, and no check that reads it runs.
    if out.version.is_none() {
        broken.insert("version".to_owned());
    }
    if out.source.is_none() {
        broken.insert("source".to_owned());
    }
    if out.target.is_none() {
        broken.insert("target".to_owned());
    }
    let stand_in_source = || {
        serde_json::from_value::<SourceConfig>(
            serde_json::json!({ "kind": "file", "path": "hr-export.json" }),
        )
        .expect("a file source")
    };
    let stand_in_target = || {
        serde_json::from_value::<TargetConfig>(
            serde_json::json!({ "kind": "file", "path": "workspace.json" }),
        )
        .expect("a file target")
    };
    let config = Config {
        version: out.version.unwrap_or(super::file::SUPPORTED_VERSION),
        source: out.source.unwrap_or_else(stand_in_source),
        target: out.target.unwrap_or_else(stand_in_target),
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
    let about_stand_in = |e: &ConfigError| {
        broken_entries.iter().any(|b| {
            e.path
                .strip_prefix(b.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
        })
    };
    for e in semantic_errors(&config, &broken) {
        if !about_stand_in(&e) {
            errors.push(e);
        }
    }
    if !broken.contains("source") && !broken.contains("target") {
        errors.0.extend(data_path_errors(&config, is_dir));
    }
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(attach_lines(errors, &texts, &secrets))
    }
}

/// The section an error's key path is in (`policy.retention_days` → `policy`).
fn section_of(path: &str) -> String {
    path.split(['.', '[']).next().unwrap_or_default().to_owned()
}

/// The checks of the merged configuration, section by section: what the schema cannot express.
/// Most of it is valid YAML of the right type that would still do nothing, or something else
/// than it says (an identifier that matches no one, a limit that is no limit, a URL that is not
/// one); each is reported at its key with what to do instead, rather than failing later in
/// `plan`, far from the line, or never at all.
///
/// The order of the calls is the order in which errors at one spot are listed (the list is
/// sorted by position, and of two equal messages on one line the first is kept), so it stays as
/// it was when the checks were written.
///
/// A check runs only when none of the sections it reads is `broken` (has an error of its own,
/// or is missing): judged against a stand-in, it would report what is not there.
fn semantic_errors(config: &Config, broken: &BTreeSet<String>) -> Vec<ConfigError> {
    let at = |pointer: &str, message: String| config.locations.error(pointer, message);
    let mut errs = Vec::new();
    type Check = fn(&Config, super::error::At<'_>, &mut Vec<ConfigError>);
    // (the check, the sections it reads)
    let checks: [(Check, &[&str]); 12] = [
        (policy::value_errors, &["policy", "identity", "safety"]),
        (mappings::glob_errors, &["communities", "functions"]),
        (
            rules::shape_errors,
            &[
                "test_locations",
                "include",
                "exclude",
                "protected",
                "source",
            ],
        ),
        (sources::errors, &["source", "target"]),
        (targets::errors, &["target", "source"]),
        (sources::column_errors, &["source"]),
        (
            sources::column_reference_errors,
            &["source", "exclude", "functions"],
        ),
        (mappings::empty_errors, &["communities", "functions"]),
        (
            rules::reach_errors,
            &[
                "include",
                "exclude",
                "test_locations",
                "protected",
                "communities",
                "functions",
                "source",
            ],
        ),
        (
            policy::no_effect_errors,
            &["identity", "policy", "safety", "target", "source"],
        ),
        (
            mappings::conflict_errors,
            &[
                "communities",
                "functions",
                "exclude",
                "test_locations",
                "include",
            ],
        ),
        (
            mappings::overlap_errors,
            &["communities", "functions", "test_locations"],
        ),
    ];
    for (check, reads) in checks {
        if reads.iter().all(|s| !broken.contains(*s)) {
            check(config, &at, &mut errs);
        }
    }
    // The checks of one section at a time also run for the sound sections beside a broken one;
    // what they say about a broken section (judged on its stand-in) is dropped.
    let per_section: [Check; 5] = [
        policy::value_errors,
        mappings::glob_errors,
        rules::shape_errors,
        sources::column_errors,
        mappings::empty_errors,
    ];
    for (check, reads) in checks {
        let blocked = reads.iter().any(|s| broken.contains(*s));
        if !blocked || !per_section.iter().any(|c| std::ptr::fn_addr_eq(*c, check)) {
            continue;
        }
        let mut found = Vec::new();
        check(config, &at, &mut found);
        errs.extend(
            found
                .into_iter()
                .filter(|e| !broken.contains(&section_of(&e.path))),
        );
    }
    errs
}

/// Checks of `source.path` and `target.path` that need the configuration directory: neither
/// may name a directory (`is_dir` says, for a path relative to the configuration directory).
/// Naming a configuration file is caught while loading.
pub fn data_path_errors(config: &Config, is_dir: impl Fn(&str) -> bool) -> Vec<ConfigError> {
    let at = |pointer: &str, message: String| config.locations.error(pointer, message);
    let mut errs = Vec::new();
    let mut check = |pointer: &str, path: &str, what: &str, example: &str| {
        if path.trim().is_empty() {
            return;
        }
        if is_dir(path) {
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
        if !t.allow_outside_config_dir && escapes(&t.path) {
            errs.push(
                at(
                    "/target/path",
                    format!(
                        "`{}` is outside the configuration directory: orgsync writes the workspace there",
                        t.path
                    ),
                )
                .hint("name a file inside the configuration directory, like `workspace.json`, or set `allow_outside_config_dir: true` in `target` if orgsync should write there"),
            );
        }
    }
    errs
}

/// Whether a path relative to the configuration directory leads out of it, as written: an
/// absolute path (`/etc/passwd`, `C:\x`, `~/x`) or one whose `..` climb above it.
fn escapes(path: &str) -> bool {
    let path = path.trim();
    if path.starts_with(['/', '\\', '~']) || path.get(1..3).is_some_and(|s| s == ":\\" || s == ":/")
    {
        return true;
    }
    let mut depth: i64 = 0;
    for part in path.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    false
}

/// The configured columns of a `file` source checked against the export: `present` holds the
/// columns (CSV header, or the keys of any row) of an export of `rows` rows. Returns (errors,
/// warnings). A column the configuration names for a required field that no row has is an
/// error — every person would lack it (an end date: every employment open-ended, leavers kept) —
/// and so is one it uses (functions, departments, an attribute of an exclusion rule); an
/// optional column that is named but not used is a warning, and so is a required field's
/// default column (except `end`'s: an export of open-ended employments has none). An export
/// without rows is not judged.
pub fn export_column_problems(
    config: &Config,
    present: &BTreeSet<String>,
    rows: usize,
) -> (Vec<ConfigError>, Vec<ConfigError>) {
    let (mut errors, mut warnings) = (Vec::new(), Vec::new());
    let SourceConfig::File(file) = &config.source else {
        return (errors, warnings);
    };
    if rows == 0 {
        return (errors, warnings);
    }
    let columns = config.source_columns();
    let in_use: Vec<String> = config
        .columns_in_use()
        .into_iter()
        .map(|(key, _)| key)
        .collect();
    let near = |column: &str| {
        crate::closest::closest(column, present.iter().map(String::as_str))
            .map(|c| format!("did you mean `{c}`? "))
            .unwrap_or_default()
    };
    let export = &file.path;
    let mut check = |pointer: String, key: String, column: &str, required: bool, used: bool| {
        if present.contains(column) {
            return;
        }
        // A column the configuration names itself is checked; of the defaults only the
        // required ones (an export without end dates is one of open-ended employments).
        let written = config.locations.contains(&pointer);
        let is_error = written && (required || used);
        let field = key.rsplit('.').next().unwrap_or_default();
        if !written && (!required || field == "end") {
            return;
        }
        let what = if written {
            format!("`{column}`")
        } else {
            format!("`{column}` (the default of `{key}`)")
        };
        let consequence = if required {
            match field {
                "id" => "no person could be identified".to_owned(),
                "email" => "nobody would have an e-mail address".to_owned(),
                "end" => "every employment would count as open-ended, so leavers would be kept"
                    .to_owned(),
                "start" => "no employment would have a start date".to_owned(),
                "community" => "nobody would be in a community".to_owned(),
                _ => format!("every person's {} would be blank", field.replace('_', " ")),
            }
        } else if used {
            format!("`{key}` is used, and would be empty for every person")
        } else {
            format!("`{key}` would be empty for every person")
        };
        let e = config
            .locations
            .error(
                if written { &pointer } else { "/source" },
                format!("no row of the export `{export}` ({rows} row{}) has the column {what}: {consequence}", if rows == 1 { "" } else { "s" }),
            )
            .hint(format!(
                "{}name a column the export has{}",
                near(column),
                if required {
                    String::new()
                } else {
                    format!(", or write `{}: null` if it has none", pointer.rsplit('/').next().unwrap_or_default())
                }
            ));
        if is_error {
            errors.push(e);
        } else {
            warnings.push(e);
        }
    };
    for (field, column) in columns.fields() {
        let Some(column) = column.filter(|c| !c.trim().is_empty()) else {
            continue;
        };
        let key = format!("source.columns.{field}");
        let used = matches!(field, "function" | "department") && in_use.contains(&key);
        check(
            format!("/source/columns/{field}"),
            key,
            column,
            super::sources::REQUIRED_COLUMNS.contains(&field),
            used,
        );
    }
    for (name, column) in &columns.attributes {
        if column.trim().is_empty() {
            continue;
        }
        let used = config
            .exclude
            .iter()
            .any(|r| r.attribute.as_deref() == Some(name.as_str()));
        check(
            format!("/source/columns/attributes/{}", yaml::escape_pointer(name)),
            format!("source.columns.attributes.{name}"),
            column,
            false,
            used,
        );
    }
    (errors, warnings)
}

/// A parsed YAML file that is configuration: the root file, or a mapping whose every key is a
/// section (a YAML export is a list of rows, or a mapping holding one).
fn is_configuration(file: &Parsed) -> bool {
    if file.name == ROOT_FILE {
        return true;
    }
    let sections = schema::config_file()
        .get("properties")
        .and_then(Value::as_object);
    match (&file.value, sections) {
        (Value::Object(map), Some(sections)) => {
            !map.is_empty() && map.keys().all(|k| sections.contains_key(k))
        }
        _ => false,
    }
}

/// Adds the offending line to each error that has none yet (files that failed to parse already
/// carry theirs), with any literal secret on it redacted: the line is printed.
fn attach_lines(
    errors: ErrorList,
    texts: &BTreeMap<String, String>,
    secrets: &[String],
) -> ErrorList {
    let mut errors = errors.finish();
    for e in &mut errors.0 {
        if e.source_line.is_none() && !e.no_excerpt {
            e.source_line = texts
                .get(&e.file)
                .and_then(|t| t.lines().nth(e.line.saturating_sub(1)))
                .map(str::to_owned);
        }
        e.source_line = e.source_line.take().map(|l| redact(&l, secrets));
    }
    errors
}

/// The value of a secret field when it is a literal (anything but an environment reference).
fn literal_secret(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => match super::Secret::parse(s) {
            super::Secret::Literal(l) => Some(l),
            super::Secret::Env(_) => None,
        },
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A source line as it may be shown: literal secrets replaced by [`REDACTED`]. Known literal
/// values are replaced wherever they appear; in addition, whatever follows the key of a secret
/// field (`token:`, `credentials:`, …) is replaced unless it is an environment reference, which
/// also covers files that did not parse.
pub(crate) fn redact(line: &str, secrets: &[String]) -> String {
    let mut out = line.to_owned();
    // Longest first: a secret that contains another is replaced whole, not half.
    let mut values: Vec<&str> = secrets.iter().map(|s| s.trim()).collect();
    values.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for s in values {
        if s.chars().count() >= 4 {
            out = out.replace(s, REDACTED);
        }
    }
    // The keys of the secret fields (`token`, `credentials`, …), wherever they are written.
    let mut keys: Vec<String> = Vec::new();
    for pointer in schema::secret_pointers() {
        let key = pointer.rsplit('/').next().unwrap_or_default();
        let key = key.replace("~1", "/").replace("~0", "~");
        if !key.is_empty() && key != "*" && !keys.contains(&key) {
            keys.push(key);
        }
    }
    for key in &keys {
        let mut from = 0;
        while let Some(i) = out[from..].find(key).map(|i| i + from) {
            from = i + key.len();
            let before_ok = out[..i]
                .chars()
                .next_back()
                .is_none_or(|c| c.is_whitespace() || matches!(c, '{' | ',' | '"' | '\''));
            let after = out[from..].trim_start_matches(['"', '\'']).trim_start();
            let Some(value) = after.strip_prefix(':') else {
                continue;
            };
            if !before_ok || !(value.is_empty() || value.starts_with([' ', '\t'])) {
                continue;
            }
            let value_start = out.len() - value.trim_start().len();
            let value = &out[value_start..];
            if value.is_empty()
                || value.starts_with("${env:")
                || value.starts_with('{')
                || value.starts_with('#')
                || value.starts_with(REDACTED)
            {
                continue;
            }
            let in_flow = out[..i].matches('{').count() > out[..i].matches('}').count();
            let len = match value.chars().next() {
                Some(q @ ('"' | '\'')) => value[1..].find(q).map_or(value.len(), |j| j + 2),
                _ if in_flow => value.find([',', '}']).unwrap_or(value.len()),
                _ => value.find(" #").unwrap_or(value.len()),
            };
            out.replace_range(value_start..value_start + len, REDACTED);
            from = value_start + REDACTED.len();
        }
    }
    out
}

/// One file, parsed; the error is boxed because it is rare and large.
fn parse_file(name: &str, bytes: &[u8]) -> Result<Parsed, Box<ConfigError>> {
    let at = |mark: Mark, message: String| ConfigError::new(name, mark, "", message);
    let start = Mark { line: 1, column: 1 };
    if bytes.len() > MAX_FILE_BYTES {
        return Err(Box::new(at(start, format!("the file is {:.1} MB; configuration files are limited to 1 MB", bytes.len() as f64 / 1e6))
            .hint("is this a data export? Name it in source.path (it is then not read as configuration), or split the configuration")
            .without_excerpt()));
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let valid = &bytes[..e.valid_up_to()];
            let line_start = valid.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
            // `valid` is UTF-8, so the column can be counted in characters like every other mark.
            let column =
                std::str::from_utf8(&valid[line_start..]).map_or(1, |s| s.chars().count() + 1);
            let line_end = bytes[line_start..]
                .iter()
                .position(|b| *b == b'\n')
                .map_or(bytes.len(), |i| line_start + i);
            let byte = bytes[e.valid_up_to()];
            // Bytes 0xA0..=0xFF are the same characters in Latin-1 and Windows-1252.
            let guess = if byte >= 0xA0 {
                format!(" (`{}` in Windows-1252 or Latin-1)", char::from(byte))
            } else {
                String::new()
            };
            let mut err = at(
                Mark { line, column },
                format!("the file is not valid UTF-8: byte 0x{byte:02X} here{guess}"),
            )
            .hint(
                "save the file as UTF-8; legacy encodings such as Windows-1252 or Latin-1 are not supported",
            );
            err.source_line = Some(
                String::from_utf8_lossy(&bytes[line_start..line_end])
                    .trim_end_matches('\r')
                    .to_owned(),
            );
            return Err(Box::new(err));
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let node = yaml::parse(text).map_err(|e| {
        let mut err = ConfigError::new(name, e.mark, display_path(&e.pointer), e.message);
        err.hint = e.hint;
        err.source_line = text
            .lines()
            .nth(e.mark.line.saturating_sub(1))
            .map(str::to_owned);
        Box::new(err)
    })?;
    let Some(node) = node else {
        let message = if text.trim().is_empty() {
            "the file is empty"
        } else {
            "the file holds no configuration, only comments"
        };
        return Err(Box::new(
            at(start, message.into())
                .hint(
                    "add configuration sections (version, source, communities, …) or delete the file",
                )
                .without_excerpt(),
        ));
    };
    if !matches!(node.value, yaml::NodeValue::Map(_)) {
        let found = match node.value {
            yaml::NodeValue::Seq(_) => "a list",
            _ => "a single value",
        };
        let mut err = at(
            node.mark,
            format!(
                "expected a mapping of sections (version, source, communities, …) at the top of the file, found {found}"
            ),
        )
        .hint("write each section as `key: value` at the start of a line, like `version: 1`, without a leading `- `");
        err.source_line = text
            .lines()
            .nth(node.mark.line.saturating_sub(1))
            .map(str::to_owned);
        return Err(Box::new(err));
    }
    let (value, positions) = yaml::to_json(&node);
    Ok(Parsed {
        name: name.to_owned(),
        text: text.to_owned(),
        value,
        positions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "version: 1\nsource: { kind: file, path: hr.json }\ntarget: { kind: file, path: ws.json }\n";

    fn errors(files: &[(&str, &[u8])]) -> Vec<ConfigError> {
        let files = files
            .iter()
            .map(|(n, b)| ((*n).to_owned(), b.to_vec()))
            .collect();
        load_files(files)
            .expect_err("the configuration is invalid")
            .0
    }

    fn one(text: &str) -> ConfigError {
        let mut errs = errors(&[(ROOT_FILE, text.as_bytes())]);
        assert_eq!(errs.len(), 1, "{errs:#?}");
        errs.remove(0)
    }

    #[test]
    fn syntax_errors_keep_their_source_line() {
        let e = one("version: 1\npolicy:\n  a: 1\n  a: 2\n");
        assert_eq!(e.source_line.as_deref(), Some("  a: 2"));
        assert_eq!(e.path, "policy.a");
    }

    #[test]
    fn literal_secrets_are_redacted_from_quoted_lines() {
        let text = "version: 1\nsource: { kind: file, path: hr.json }\ntarget: { kind: scim, base_url: 5, token: hunter2-secret }\n";
        let errs = errors(&[(ROOT_FILE, text.as_bytes())]);
        assert_eq!(errs.len(), 2, "{errs:#?}");
        for e in errs {
            let line = e.source_line.unwrap();
            assert!(!line.contains("hunter2"), "{line}");
            assert!(line.contains("token: [redacted] }"), "{line}");
        }
    }

    #[test]
    fn redact_covers_every_way_of_writing_a_token() {
        let r = |l: &str| redact(l, &[]);
        assert_eq!(r("  token: abc def"), "  token: [redacted]");
        assert_eq!(r("  token: 'a,b' # c"), "  token: [redacted] # c");
        assert_eq!(
            r("{ token: \"x}y\", base_url: u }"),
            "{ token: [redacted], base_url: u }"
        );
        assert_eq!(
            r("{ token: abc, kind: scim }"),
            "{ token: [redacted], kind: scim }"
        );
        assert_eq!(
            r("  token: ${env:SCIM_TOKEN}"),
            "  token: ${env:SCIM_TOKEN}"
        );
        assert_eq!(r("  token: { env: X }"), "  token: { env: X }");
        assert_eq!(r("  tokens: abc"), "  tokens: abc");
        assert_eq!(r("  my_token: abc"), "  my_token: abc");
        assert_eq!(
            redact("anchor: &t s3cret-value", &["s3cret-value".to_owned()]),
            "anchor: &t [redacted]"
        );
    }

    #[test]
    fn missing_sections_quote_no_line() {
        let e = one("version: 1\ntarget: { kind: file, path: ws.json }\n");
        assert_eq!(e.message, "missing required section `source`");
        assert_eq!(e.source_line, None);
    }

    #[test]
    fn non_utf8_names_the_byte_and_counts_columns_in_characters() {
        let e = errors(&[(ROOT_FILE, b"version: 1\nname: \"\xc3\xa9t\xe9\"\n")]).remove(0);
        assert_eq!((e.line, e.column), (2, 10));
        assert!(e.message.contains("byte 0xE9"), "{}", e.message);
        assert!(e.message.contains("`é` in Windows-1252"), "{}", e.message);
        assert_eq!(e.source_line.as_deref(), Some("name: \"ét\u{fffd}\""));
    }

    #[test]
    fn comments_only_is_not_called_empty() {
        assert_eq!(one("").message, "the file is empty");
        assert_eq!(
            one("# nothing yet\n").message,
            "the file holds no configuration, only comments"
        );
    }

    #[test]
    fn top_level_list_says_what_was_found() {
        let e = one("- version: 1\n");
        assert!(e.message.ends_with("found a list"), "{}", e.message);
        assert!(e.hint.unwrap().contains("without a leading `- `"));
        assert_eq!(e.source_line.as_deref(), Some("- version: 1"));
    }

    /// Regression (issue 20): `invite_lead_days: 7.0` showed only after the other errors were
    /// fixed — a schema error in a file stopped the checks of every section.
    #[test]
    fn a_schema_error_does_not_hide_the_errors_of_other_sections() {
        let text = "version: 1\nsource: { kind: file, path: hr.json }\ntarget: { kind: file, path: ws.json }\nidentity: { adopt_unmanagd: true }\npolicy: { invite_lead_days: 7.0, timezone: Europe/Amsterdm }\nsafety: { max_moves: 1.0, max_invites: 2.0 }\n";
        let errs = errors(&[(ROOT_FILE, text.as_bytes())]);
        let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "identity.adopt_unmanagd",
                "policy.invite_lead_days",
                "policy.timezone",
                "safety.max_moves",
                "safety.max_invites"
            ],
            "{errs:#?}"
        );
    }

    /// A section with an error is not judged by the checks that read it: an exclusion rule on
    /// an attribute is not "undeclared" because `source` itself is broken.
    #[test]
    fn a_broken_section_raises_no_errors_in_the_sections_that_read_it() {
        let text = "version: 1\nsource: { kind: file, path: hr.json, colums: {} }\ntarget: { kind: file, path: ws.json }\nexclude:\n  - { reason: interns, attribute: contract_type, equals: STG }\n";
        let errs = errors(&[(ROOT_FILE, text.as_bytes())]);
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert_eq!(errs[0].path, "source.colums");
    }

    #[test]
    fn a_target_path_escapes_when_absolute_or_climbing_out() {
        for path in [
            "/etc/passwd",
            "../outside.json",
            "a/../../b.json",
            "~/ws.json",
            "C:\\ws.json",
        ] {
            assert!(escapes(path), "{path}");
        }
        for path in [
            "workspace.json",
            "./data/ws.json",
            "data/../ws.json",
            "a..b.json",
        ] {
            assert!(!escapes(path), "{path}");
        }
    }

    #[test]
    fn valid_configuration_loads() {
        load_files(vec![(ROOT_FILE.to_owned(), VALID.as_bytes().to_vec())]).unwrap();
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
}
