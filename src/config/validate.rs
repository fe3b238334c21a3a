//! Configuration errors, and the checks that make them: schema errors translated into sentences a
//! person can act on, then semantic checks the schema cannot express.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use globset::GlobBuilder;
use jsonschema::error::{TypeKind, ValidationErrorKind};
use serde::Serialize;
use serde_json::Value;

use super::yaml::{Mark, Positions};
use super::{Config, ConfigFile, SUPPORTED_VERSION};

/// One problem in the configuration, located in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigError {
    /// File, relative to the configuration directory.
    pub file: String,
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
    /// Key path, like `policy.retention_days` or `communities[2].target` (empty for the file).
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The offending source line, for display.
    #[serde(skip)]
    pub source_line: Option<String>,
}

impl ConfigError {
    /// An error at a position.
    pub fn new(
        file: &str,
        mark: Mark,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ConfigError {
            file: file.to_owned(),
            line: mark.line,
            column: mark.column,
            path: path.into(),
            message: message.into(),
            hint: None,
            source_line: None,
        }
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)?;
        if let Some(h) = &self.hint {
            write!(f, " ({h})")?;
        }
        Ok(())
    }
}

/// Every error found in one run, sorted by file and position.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorList(pub Vec<ConfigError>);

impl ErrorList {
    pub(crate) fn push(&mut self, e: ConfigError) {
        self.0.push(e);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn finish(mut self) -> Self {
        self.0.sort_by(|a, b| {
            (&a.file, a.line, a.column, &a.message).cmp(&(&b.file, b.line, b.column, &b.message))
        });
        self.0
            .dedup_by(|a, b| a.file == b.file && a.line == b.line && a.message == b.message);
        self
    }
}

impl fmt::Display for ErrorList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.0 {
            writeln!(f, "{e}")?;
        }
        write!(
            f,
            "{} error{} in the configuration",
            self.0.len(),
            if self.0.len() == 1 { "" } else { "s" }
        )
    }
}

impl std::error::Error for ErrorList {}

/// JSON pointer `/communities/2/target` → `communities[2].target`.
pub fn display_path(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg);
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
}

/// Validates one file's JSON against the configuration schema and translates every error.
pub(crate) fn schema_errors(file: &str, value: &Value, positions: &Positions) -> Vec<ConfigError> {
    let schema = super::schema::config_file();
    let validator = super::schema::config_validator();
    let mut found = Vec::new();
    for err in validator.iter_errors(value) {
        translate(&err, value, schema, &mut found);
    }
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
        out.push(Found {
            pointer,
            at_key,
            message,
            hint,
        });
    };
    match err.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let allowed = allowed_keys(schema, err.schema_path().as_str());
            for key in unexpected {
                let hint = match closest(key, allowed.iter().map(String::as_str)) {
                    Some(best) => Some(format!("did you mean `{best}`?")),
                    None if !allowed.is_empty() => {
                        Some(format!("allowed keys here: {}", allowed.join(", ")))
                    }
                    None => None,
                };
                let child = format!("{pointer}/{}", super::yaml::escape_pointer(key));
                push(out, child, true, format!("unknown key `{key}`"), hint);
            }
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            push(
                out,
                pointer,
                true,
                format!("missing required key `{name}`"),
                None,
            );
        }
        ValidationErrorKind::Type { kind } => {
            let expected = type_names(kind);
            let secret = is_secret_path(&pointer);
            let hint = match (instance, expected.as_str()) {
                (Value::Number(n), e) if e.contains("string") => Some(format!(
                    "quote it to make it text: \"{n}\" (identifiers are text: 0123 would lose its zero)"
                )),
                (Value::String(_), e) if e.contains("integer") || e.contains("number") => {
                    Some("write the number without quotes".to_owned())
                }
                (Value::Null, _) => Some("the value is missing after the colon".to_owned()),
                _ => None,
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
            if pattern.contains("env:") {
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
            push(
                out,
                pointer,
                false,
                format!("must be at least {limit}, found {}", describe(instance)),
                None,
            );
        }
        ValidationErrorKind::Maximum { limit }
        | ValidationErrorKind::ExclusiveMaximum { limit } => {
            push(
                out,
                pointer,
                false,
                format!("must be at most {limit}, found {}", describe(instance)),
                None,
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
            translate_alternatives(context, &pointer, instance, root, schema, out);
        }
        _ => push(out, pointer, false, err.to_string(), None),
    }
}

/// A value that matched none of several alternatives: pick the alternative the user most likely
/// meant and report its errors, instead of "not valid under any of the schemas".
fn translate_alternatives(
    context: &[Vec<jsonschema::ValidationError<'static>>],
    pointer: &str,
    instance: &Value,
    root: &Value,
    schema: &Value,
    out: &mut Vec<Found>,
) {
    let any_secret = context.iter().flatten().any(|e| matches!(e.kind(), ValidationErrorKind::Pattern { pattern } if pattern.contains("env:")));
    if any_secret {
        out.push(Found {
            pointer: pointer.to_owned(),
            at_key: false,
            message: literal_secret_message(),
            hint: Some(literal_secret_hint()),
        });
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
        let kinds: Vec<String> = context
            .iter()
            .flatten()
            .filter_map(|e| match e.kind() {
                ValidationErrorKind::Constant { expected_value } => Some(plain(expected_value)),
                ValidationErrorKind::Enum { options } => options
                    .as_array()
                    .map(|a| a.iter().map(plain).collect::<Vec<_>>().join(", ")),
                _ => None,
            })
            .collect();
        let hint = kind
            .as_str()
            .and_then(|k| closest(k, kinds.iter().map(String::as_str)))
            .map(|b| format!("did you mean `{b}`?"));
        out.push(Found {
            pointer: kind_pointer,
            at_key: false,
            message: format!(
                "unknown kind {}; expected one of: {}",
                describe(kind),
                kinds.join(", ")
            ),
            hint,
        });
        return;
    }
    // Every alternative is a constant (documented enum variants): "not one of: a, b, c".
    let consts: Vec<String> = context
        .iter()
        .flatten()
        .filter(|e| e.instance_path().as_str() == pointer)
        .filter_map(|e| match e.kind() {
            ValidationErrorKind::Constant { expected_value } => Some(plain(expected_value)),
            ValidationErrorKind::Enum { options } => options
                .as_array()
                .map(|a| a.iter().map(plain).collect::<Vec<_>>().join(", ")),
            _ => None,
        })
        .collect();
    if !consts.is_empty() && instance.is_string() {
        let hint = instance
            .as_str()
            .and_then(|s| closest(s, consts.iter().map(String::as_str)))
            .map(|b| format!("did you mean `{b}`?"));
        out.push(Found {
            pointer: pointer.to_owned(),
            at_key: false,
            message: format!(
                "{} is not one of: {}",
                describe(instance),
                consts.join(", ")
            ),
            hint,
        });
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
        let hint = match instance {
            Value::Number(n) => Some(format!("quote it to make it text: \"{n}\"")),
            _ => None,
        };
        out.push(Found {
            pointer: pointer.to_owned(),
            at_key: false,
            message: format!(
                "expected {}, found {}",
                names.join(" or "),
                describe(instance)
            ),
            hint,
        });
        return;
    }
    // Otherwise the alternative that got furthest into the value, then the one with fewest errors.
    let best = context.iter().max_by_key(|b| {
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

fn literal_secret_message() -> String {
    "a secret must not be written in the configuration (this is a literal value)".to_owned()
}

fn literal_secret_hint() -> String {
    "reference an environment variable instead: ${env:NAME} or { env: NAME }; if this value was ever committed, rotate it".to_owned()
}

fn is_secret_path(pointer: &str) -> bool {
    pointer.ends_with("/token")
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

/// The candidate closest to `word`, when it is close enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let word_l = word.to_lowercase();
    candidates
        .map(|c| (strsim::damerau_levenshtein(&word_l, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
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
            let names: Vec<&str> = ts.iter().map(|t| name(&t.to_string())).collect();
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

// ---------------------------------------------------------------------------------------------
// Semantic checks

/// Checks what the schema cannot: globs, duplicates, contradictions, supported values.
pub(crate) fn semantic_errors(config: &Config) -> Vec<ConfigError> {
    let mut errs = Vec::new();
    let at = |pointer: &str, message: String| {
        let loc = config.locations.get(pointer);
        let (file, line, column) = loc
            .map(|l| (l.file, l.line, l.column))
            .unwrap_or_else(|| ("orgsync.yaml".into(), 1, 1));
        ConfigError::new(&file, Mark { line, column }, display_path(pointer), message)
    };
    let where_ = |pointer: &str| {
        config
            .locations
            .get(pointer)
            .map(|l| format!("{}:{}", l.file, l.line))
            .unwrap_or_default()
    };

    if jiff::tz::TimeZone::get(&config.policy.timezone).is_err() {
        let zones: Vec<String> = jiff::tz::db().available().map(|n| n.to_string()).collect();
        let mut e = at(
            "/policy/timezone",
            format!("unknown time zone \"{}\"", config.policy.timezone),
        );
        e.hint = Some(
            match closest(&config.policy.timezone, zones.iter().map(String::as_str)) {
                Some(b) => format!("did you mean `{b}`?"),
                None => "use an IANA time zone name such as Europe/Amsterdam".into(),
            },
        );
        errs.push(e);
    }
    if config.identity.match_on.is_empty() {
        errs.push(
            at(
                "/identity/match",
                "needs at least one matching strategy".into(),
            )
            .hint("for example: match: [external_id, email]"),
        );
    }
    if let (Some(p), _) = config.safety.max_removals.limits() {
        if p > 100.0 {
            errs.push(at(
                "/safety/max_removals",
                format!("{p}% is more than 100%"),
            ));
        }
    }

    // Globs.
    let mut check_glob = |pointer: String, pattern: &str| {
        if let Err(e) = GlobBuilder::new(pattern).case_insensitive(true).build() {
            let reason = e.kind().to_string();
            errs.push(
                at(&pointer, format!("invalid glob \"{pattern}\": {reason}")).hint(
                    "globs use * and ?; escape [ and { with [[] or write the identifier literally",
                ),
            );
        }
    };
    for (i, m) in config.communities.iter().enumerate() {
        for (j, s) in m.source.as_slice().iter().enumerate() {
            let p = match &m.source {
                super::OneOrMany::One(_) => format!("/communities/{i}/source"),
                super::OneOrMany::Many(_) => format!("/communities/{i}/source/{j}"),
            };
            check_glob(p, s);
        }
    }
    if let Some(f) = &config.functions {
        for (i, m) in f.map.iter().enumerate() {
            for (j, s) in m.source.as_slice().iter().enumerate() {
                let p = match &m.source {
                    super::OneOrMany::One(_) => format!("/functions/map/{i}/source"),
                    super::OneOrMany::Many(_) => format!("/functions/map/{i}/source/{j}"),
                };
                check_glob(p, s);
            }
        }
    }
    for (i, t) in config.test_locations.iter().enumerate() {
        check_glob(format!("/test_locations/{i}"), t);
    }
    if let Some(inc) = &config.include {
        for (i, c) in inc.communities.iter().enumerate() {
            check_glob(format!("/include/communities/{i}"), c);
        }
    }
    for (i, r) in config.exclude.iter().enumerate() {
        for (key, v) in [
            ("person", &r.person),
            ("community", &r.community),
            ("function", &r.function),
            ("matches", &r.matches),
        ] {
            if let Some(v) = v {
                check_glob(format!("/exclude/{i}/{key}"), v);
            }
        }
    }
    for (i, r) in config.protected.iter().enumerate() {
        if let Some(p) = &r.pattern {
            check_glob(format!("/protected/{i}/pattern"), p);
        }
    }

    // Exclusion rules: exactly one condition.
    let mut seen_rules: HashMap<String, usize> = HashMap::new();
    for (i, r) in config.exclude.iter().enumerate() {
        let conditions = [
            r.person.is_some(),
            r.community.is_some(),
            r.function.is_some(),
            r.attribute.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if conditions != 1 {
            errs.push(
                at(&format!("/exclude/{i}"), format!("an exclusion rule needs exactly one of person, community, function or attribute; this one has {conditions}"))
                    .hint("split it into several rules, each with its own reason"),
            );
        }
        match (&r.attribute, &r.equals, &r.matches) {
            (Some(_), None, None) => errs.push(at(
                &format!("/exclude/{i}/attribute"),
                "an attribute rule needs `equals` or `matches`".into(),
            )),
            (Some(_), Some(_), Some(_)) => errs.push(at(
                &format!("/exclude/{i}"),
                "give `equals` or `matches`, not both".into(),
            )),
            (None, Some(_), _) | (None, _, Some(_)) => errs.push(
                at(
                    &format!("/exclude/{i}"),
                    "`equals`/`matches` only go with `attribute`".into(),
                )
                .hint("add `attribute: <name>`"),
            ),
            _ => {}
        }
        let key = format!(
            "{:?}{:?}{:?}{:?}{:?}{:?}",
            r.person, r.community, r.function, r.attribute, r.equals, r.matches
        );
        if let Some(first) = seen_rules.insert(key, i) {
            errs.push(
                at(
                    &format!("/exclude/{i}"),
                    format!(
                        "duplicate exclusion rule: same condition as the rule at {}",
                        where_(&format!("/exclude/{first}"))
                    ),
                )
                .hint("remove one of them"),
            );
        }
    }
    for (i, r) in config.protected.iter().enumerate() {
        let n = [r.email.is_some(), r.id.is_some(), r.pattern.is_some()]
            .iter()
            .filter(|b| **b)
            .count();
        if n != 1 {
            errs.push(at(
                &format!("/protected/{i}"),
                format!(
                    "a protected entry needs exactly one of email, id or pattern; this one has {n}"
                ),
            ));
        }
    }
    let mut seen_tests: HashMap<String, usize> = HashMap::new();
    for (i, t) in config.test_locations.iter().enumerate() {
        if let Some(first) = seen_tests.insert(t.to_lowercase(), i) {
            errs.push(at(
                &format!("/test_locations/{i}"),
                format!(
                    "duplicate test location \"{t}\" (also at {})",
                    where_(&format!("/test_locations/{first}"))
                ),
            ));
        }
    }

    // Mappings: one identifier, one target; no duplicates; not excluded.
    let community_rules: Vec<(usize, &str, globset::GlobMatcher)> = config
        .exclude
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.community.as_deref().map(|c| (i, c)))
        .filter_map(|(i, c)| {
            GlobBuilder::new(c)
                .case_insensitive(true)
                .build()
                .ok()
                .map(|g| (i, c, g.compile_matcher()))
        })
        .collect();
    let function_rules: Vec<(usize, &str, globset::GlobMatcher)> = config
        .exclude
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.function.as_deref().map(|c| (i, c)))
        .filter_map(|(i, c)| {
            GlobBuilder::new(c)
                .case_insensitive(true)
                .build()
                .ok()
                .map(|g| (i, c, g.compile_matcher()))
        })
        .collect();
    let tests: Vec<globset::GlobMatcher> = config
        .test_locations
        .iter()
        .filter_map(|t| {
            GlobBuilder::new(t)
                .case_insensitive(true)
                .build()
                .ok()
                .map(|g| g.compile_matcher())
        })
        .collect();

    let communities: Vec<(&super::OneOrMany, &str)> = config
        .communities
        .iter()
        .map(|m| (&m.source, m.target.as_str()))
        .collect();
    check_mappings(
        &communities,
        "/communities",
        "community",
        &community_rules,
        Some(&tests),
        config,
        &mut errs,
        &at,
        &where_,
    );
    if let Some(f) = &config.functions {
        let functions: Vec<(&super::OneOrMany, &str)> = f
            .map
            .iter()
            .map(|m| (&m.source, m.target.as_str()))
            .collect();
        check_mappings(
            &functions,
            "/functions/map",
            "function",
            &function_rules,
            None,
            config,
            &mut errs,
            &at,
            &where_,
        );
        if let super::UnmappedFunctionPolicy::Fallback(fb) = &f.unmapped {
            if fb.fallback.trim().is_empty() {
                errs.push(at(
                    "/functions/unmapped/fallback",
                    "the fallback function group needs a name".into(),
                ));
            }
        }
    }
    errs
}

#[allow(clippy::too_many_arguments)]
fn check_mappings(
    mappings: &[(&super::OneOrMany, &str)],
    base: &str,
    what: &str,
    exclusions: &[(usize, &str, globset::GlobMatcher)],
    tests: Option<&[globset::GlobMatcher]>,
    config: &Config,
    errs: &mut Vec<ConfigError>,
    at: &dyn Fn(&str, String) -> ConfigError,
    where_: &dyn Fn(&str) -> String,
) {
    let mut seen: HashMap<&str, (usize, &str)> = HashMap::new();
    for (i, (source, target)) in mappings.iter().enumerate() {
        if target.trim().is_empty() {
            errs.push(at(
                &format!("{base}/{i}/target"),
                "the target name is empty".into(),
            ));
        }
        let mut in_entry = BTreeSet::new();
        for (j, id) in source.as_slice().iter().enumerate() {
            let pointer = match source {
                super::OneOrMany::One(_) => format!("{base}/{i}/source"),
                super::OneOrMany::Many(_) => format!("{base}/{i}/source/{j}"),
            };
            if !in_entry.insert(id.as_str()) {
                errs.push(at(
                    &pointer,
                    format!("{what} \"{id}\" is listed twice in this mapping"),
                ));
                continue;
            }
            match seen.get(id.as_str()) {
                Some((first, first_target)) if first_target == target => errs.push(
                    at(&pointer, format!("duplicate mapping: {what} \"{id}\" → \"{target}\" is already at {}", where_(&format!("{base}/{first}"))))
                        .hint("remove one of them"),
                ),
                Some((first, first_target)) => errs.push(
                    at(
                        &pointer,
                        format!(
                            "{what} \"{id}\" is mapped to two targets: \"{first_target}\" ({}) and \"{target}\"",
                            where_(&format!("{base}/{first}"))
                        ),
                    )
                    .hint("a source identifier maps to one target; keep the right one"),
                ),
                None => {
                    seen.insert(id.as_str(), (i, target));
                }
            }
            let literal = !id.contains(['*', '?', '[', '{']);
            if literal {
                if let Some((rule, pattern, _)) = exclusions.iter().find(|(_, _, g)| g.is_match(id))
                {
                    let reason = &config.exclude[*rule].reason;
                    errs.push(
                        at(
                            &pointer,
                            format!(
                                "{what} \"{id}\" is mapped to \"{target}\" but excluded by the rule \"{reason}\" ({what}: {pattern}, at {}): the mapping can never apply",
                                where_(&format!("/exclude/{rule}"))
                            ),
                        )
                        .hint("remove the mapping or the exclusion"),
                    );
                }
                if let Some(tests) = tests {
                    if tests.iter().any(|g| g.is_match(id)) {
                        errs.push(
                            at(&pointer, format!("{what} \"{id}\" is mapped to \"{target}\" but its identifier matches a test location"))
                                .hint("test locations are never synced: remove the mapping or narrow test_locations"),
                        );
                    }
                }
            }
        }
    }
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
    Some(
        ConfigError::new(file, positions.value("/version"), "version", format!("unsupported configuration version {v}; this orgsync reads version {SUPPORTED_VERSION}"))
            .hint(format!("write `version: {SUPPORTED_VERSION}`, or upgrade orgsync if the file was written for a newer one")),
    )
}

/// Checks one file's raw shape before merging (the file holds a mapping of sections).
pub(crate) fn deserialize_file(file: &str, value: Value) -> Result<ConfigFile, ConfigError> {
    serde_json::from_value(value).map_err(|e| {
        ConfigError::new(
            file,
            Mark { line: 1, column: 1 },
            "",
            format!("cannot read the configuration: {e}"),
        )
    })
}
