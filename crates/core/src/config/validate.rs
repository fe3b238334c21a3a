//! The checks that make configuration errors: schema errors translated into sentences a person
//! can act on, then semantic checks the schema cannot express.

use std::collections::{BTreeSet, HashMap};

use globset::GlobBuilder;
use jsonschema::error::{TypeKind, ValidationErrorKind};
use serde_json::Value;

use super::error::{ConfigError, display_path};
use super::yaml::{Mark, Positions};
use super::{Config, ConfigFile, SUPPORTED_VERSION};
use crate::closest::closest;

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
    let schema = super::schema::config_file();
    let validator = super::schema::config_validator();
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
                let best = closest(key, allowed.iter().map(String::as_str));
                let hint = match best {
                    Some(best) => Some(format!("did you mean `{best}`?")),
                    None if !allowed.is_empty() => {
                        Some(format!("allowed keys here: {}", allowed.join(", ")))
                    }
                    None => None,
                };
                let child = format!("{pointer}/{}", super::yaml::escape_pointer(key));
                let mut f = Found::new(child, true, format!("unknown key `{key}`"), hint);
                f.suggestion = best.map(str::to_owned);
                out.push(f);
            }
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            let hint = here
                .and_then(|h| {
                    h.pointer(&format!(
                        "/properties/{}",
                        super::yaml::escape_pointer(name)
                    ))
                })
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
                    .is_some_and(|f| super::REQUIRED_COLUMNS.contains(&f)) =>
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
            let secret = is_secret_path(&pointer);
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
            let hint = if secret {
                None
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
    if any_secret || (is_secret_path(pointer) && scalar) {
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
        (Value::Null, _) => Some("the value is missing after the colon".to_owned()),
        _ => None,
    }
}

/// The columns a source may lack (`null` in `source.columns`).
const OPTIONAL_COLUMNS: [&str; 7] = [
    "last_name_prefix",
    "community_name",
    "function",
    "function_name",
    "department",
    "department_name",
    "manager",
];

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

fn is_secret_path(pointer: &str) -> bool {
    ["/token", "/credentials", "/password"]
        .iter()
        .any(|end| pointer.ends_with(end))
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
    for (key, _, limit) in config.safety.limits() {
        // Invites are counted against the accounts already there and may be more than all of
        // them; every other limit counts changes to what exists.
        if key == "max_invites" {
            continue;
        }
        if let (Some(p), _) = limit.limits()
            && p > 100.0
        {
            let pointer = match limit {
                super::Limit::Both(_) => format!("/safety/{key}/percent"),
                _ => format!("/safety/{key}"),
            };
            let (verb, whole) = match key {
                "max_removals" => ("remove", "account"),
                "max_anonymizations" => ("anonymize", "account"),
                "max_moves" => ("move", "account"),
                "max_notifying_moves" => ("notify", "account"),
                "max_updates" => ("update", "account"),
                _ => ("remove", "group"),
            };
            errs.push(
                at(
                    &pointer,
                    format!(
                        "{p}% is more than 100%: a plan cannot {verb} more than every managed {whole}"
                    ),
                )
                .hint(format!(
                    "write a percentage up to 100%, like \"10%\", or a count of {whole}s, like 25"
                )),
            );
        }
    }

    // Globs.
    let mut check_glob = |pointer: String, pattern: &str| {
        if let Err(e) = GlobBuilder::new(pattern).case_insensitive(true).build() {
            let reason = e.kind().to_string();
            errs.push(
                at(&pointer, format!("invalid glob \"{pattern}\": {reason}")).hint(
                    "globs use * (any text), ? (one character), [a-z] (a range) and {a,b} (either); to match [ or { literally, write [[] or [{]",
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
        let conditions: Vec<&str> = [
            ("person", r.person.is_some()),
            ("community", r.community.is_some()),
            ("function", r.function.is_some()),
            ("attribute", r.attribute.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, set)| set.then_some(k))
        .collect();
        let value_only = r.attribute.is_none() && (r.equals.is_some() || r.matches.is_some());
        match conditions.as_slice() {
            [_] => {}
            // `equals`/`matches` without `attribute` is reported below, as that.
            [] if value_only => {}
            [] => errs.push(
                at(
                    &format!("/exclude/{i}"),
                    "this exclusion rule has no condition: it needs one of person, community, function or attribute".into(),
                )
                .hint("for example: { reason: …, community: \"9000\" }"),
            ),
            [first, .., last] => errs.push(
                at(
                    &format!("/exclude/{i}/{last}"),
                    format!(
                        "an exclusion rule takes exactly one condition; this one has {} ({})",
                        conditions.len(),
                        conditions.join(", ")
                    ),
                )
                .hint(format!(
                    "rules do not combine conditions: split it into one rule per condition, each with its own reason (a rule with `{first}` and one with `{last}` exclude people matching either)"
                )),
            ),
        }
        match (&r.attribute, &r.equals, &r.matches) {
            (Some(_), None, None) => errs.push(
                at(
                    &format!("/exclude/{i}/attribute"),
                    "an attribute rule needs `equals` (an exact value) or `matches` (a glob)"
                        .into(),
                )
                .hint("for example: { reason: …, attribute: contract_type, equals: intern }"),
            ),
            (Some(_), Some(_), Some(_)) => errs.push(
                at(
                    &format!("/exclude/{i}/matches"),
                    "give `equals` or `matches`, not both".into(),
                )
                .hint("keep `equals` for an exact value or `matches` for a glob"),
            ),
            (None, equals, _) if value_only => {
                let key = if equals.is_some() {
                    "equals"
                } else {
                    "matches"
                };
                errs.push(
                    at(
                        &format!("/exclude/{i}/{key}"),
                        format!("`{key}` needs `attribute`: which attribute should it test?"),
                    )
                    .hint("add `attribute: <name>` to this rule, e.g. `attribute: contract_type`; attributes are the extra columns named in source.columns.attributes"),
                )
            }
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
        let keys: Vec<&str> = [
            ("email", r.email.is_some()),
            ("id", r.id.is_some()),
            ("pattern", r.pattern.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, set)| set.then_some(k))
        .collect();
        if keys.len() != 1 {
            let (pointer, has) = match keys.last() {
                Some(last) => (
                    format!("/protected/{i}/{last}"),
                    format!("{} ({})", keys.len(), keys.join(", ")),
                ),
                None => (format!("/protected/{i}"), "none".to_owned()),
            };
            errs.push(
                at(
                    &pointer,
                    format!(
                        "a protected entry takes exactly one of email, id or pattern; this one has {has}"
                    ),
                )
                .hint("write one entry per account or pattern, e.g. `- { email: admin@example.com }` and `- { pattern: \"*@ops.example.com\" }`"),
            );
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

    // Values that would mean nothing.
    errs.extend(super::meaning::errors(config, &at));

    // Mappings: one identifier, one target; no duplicates; not excluded.
    // Exclusion rules on one field, compiled: (rule index, pattern, matcher).
    let exclusion_matchers = |field: fn(&super::ExclusionRule) -> Option<&str>| {
        config
            .exclude
            .iter()
            .enumerate()
            .filter_map(|(i, r)| field(r).map(|c| (i, c)))
            .filter_map(|(i, c)| {
                GlobBuilder::new(c)
                    .case_insensitive(true)
                    .build()
                    .ok()
                    .map(|g| (i, c, g.compile_matcher()))
            })
            .collect::<Vec<(usize, &str, globset::GlobMatcher)>>()
    };
    let community_rules = exclusion_matchers(|r| r.community.as_deref());
    let function_rules = exclusion_matchers(|r| r.function.as_deref());
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
        if let super::UnmappedFunctionPolicy::Fallback(fb) = &f.unmapped
            && fb.fallback.trim().is_empty()
        {
            errs.push(at(
                "/functions/unmapped/fallback",
                "the fallback function group needs a name".into(),
            ));
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
                if let Some(tests) = tests
                    && tests.iter().any(|g| g.is_match(id))
                {
                    errs.push(
                        at(&pointer, format!("{what} \"{id}\" is mapped to \"{target}\" but its identifier matches a test location"))
                            .hint("test locations are never synced: remove the mapping or narrow test_locations"),
                    );
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

/// Reads one file's sections. The schema has already checked the shape, so an error here is a
/// value the schema cannot tell apart (`30.0` for a whole number): it is reported at its key.
pub(crate) fn deserialize_file(
    file: &str,
    value: Value,
    positions: &Positions,
) -> Result<ConfigFile, Box<ConfigError>> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let pointer: String = e
            .path()
            .iter()
            .filter_map(|seg| match seg {
                serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
                serde_path_to_error::Segment::Map { key } => Some(super::yaml::escape_pointer(key)),
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
            .map(|(number, _)| number.to_owned());
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
        if let Some(n) = decimal {
            let whole = n
                .parse::<f64>()
                .map_or(n.clone(), |f| format!("{}", f.trunc()));
            err = err.hint(format!("write `{key}: {whole}`, without a decimal point"));
        }
        Box::new(err)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "version: 1\nsource: { kind: file, path: hr.json }\ntarget: { kind: file, path: ws.json }\n";

    /// The errors of an `orgsync.yaml` made of the valid head and `rest`.
    fn errors(rest: &str) -> Vec<ConfigError> {
        let text = format!("{HEAD}{rest}");
        super::super::load_files(vec![("orgsync.yaml".to_owned(), text.into_bytes())])
            .expect_err("the configuration is invalid")
            .0
    }

    fn one(rest: &str) -> ConfigError {
        let mut errs = errors(rest);
        assert_eq!(errs.len(), 1, "{errs:#?}");
        errs.remove(0)
    }

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
        let errs = super::super::load_files(vec![("orgsync.yaml".into(), text.into())])
            .unwrap_err()
            .0;
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert_eq!(
            errs[0].message,
            "\"1BAD\" is not a valid environment variable name"
        );

        let text = text.replace("{ env: 1BAD }", "\"${env:1BAD}\"");
        let errs = super::super::load_files(vec![("orgsync.yaml".into(), text.into())])
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
        let errs = super::super::load_files(vec![("orgsync.yaml".into(), text.into())])
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
        let errs = super::super::load_files(vec![("orgsync.yaml".into(), text.into())])
            .unwrap_err()
            .0;
        assert_eq!(errs[0].message, "expected a whole number, found \"1\"");
    }

    #[test]
    fn exclusion_rule_errors_name_the_keys() {
        let e = one("exclude:\n  - { reason: r, equals: intern }\n");
        assert_eq!(e.path, "exclude[0].equals");
        assert!(e.message.starts_with("`equals` needs `attribute`"));

        let e = one("exclude:\n  - { reason: r, community: \"9\", function: F }\n");
        assert_eq!(e.path, "exclude[0].function");
        assert!(e.message.ends_with("this one has 2 (community, function)"));
    }

    #[test]
    fn protected_entry_names_its_keys() {
        let e = one("protected:\n  - { email: a@b.c, pattern: \"*@b.c\" }\n");
        assert_eq!(e.path, "protected[0].pattern");
        assert!(e.message.ends_with("this one has 2 (email, pattern)"));
    }

    #[test]
    fn max_removals_over_100_percent_says_how_to_write_it() {
        let e = one("safety: { max_removals: \"150%\" }\n");
        assert!(e.message.starts_with("150% is more than 100%"));
        assert!(e.hint.is_some());
    }

    #[test]
    fn glob_hint_shows_the_right_escapes() {
        let e = one("test_locations: [\"Temp[0-9\"]\n");
        assert!(e.hint.unwrap().ends_with("write [[] or [{]"));
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
}
