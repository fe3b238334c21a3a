//! Rules about people and accounts: who is not synced (`exclude`), which communities are test
//! locations (`test_locations`), the partial sync (`include`), and the accounts orgsync never
//! touches (`protected`). Types and their checks.

use std::collections::HashMap;

use globset::GlobBuilder;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Config;
use super::error::{At, ConfigError, glob_error};

/// An account orgsync must never change or remove. Give exactly one of the keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProtectedRule {
    /// E-mail address (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Target account id or source identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Case-insensitive glob on e-mail addresses (`*@ops.example.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
}

/// An exclusion rule: a reason and exactly one condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExclusionRule {
    /// Why these people are not synced; shown in the plan.
    pub reason: String,
    /// A person identifier (or glob).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
    /// A source community identifier (or glob): its people are excluded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub community: Option<String>,
    /// A source function identifier (or glob): people with it are excluded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// An attribute name, with `equals` or `matches`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute: Option<String>,
    /// The attribute's value for this rule to match (exact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<String>,
    /// A case-insensitive glob on the attribute's value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matches: Option<String>,
}

/// Partial sync: limit the sync to part of the structure.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IncludeConfig {
    /// Source community identifiers (or globs); only their people are synced.
    #[serde(default)]
    pub communities: Vec<String>,
}

/// Rules that are malformed: a pattern that is not a glob, an exclusion without exactly one
/// condition, a protected entry without exactly one key, a duplicate.
pub(crate) fn shape_errors(config: &Config, at: At<'_>, errs: &mut Vec<ConfigError>) {
    let mut check_glob =
        |pointer: String, pattern: &str| errs.extend(glob_error(at, &pointer, pattern));
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
                        config.locations.file_line(&format!("/exclude/{first}"))
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
                    config
                        .locations
                        .file_line(&format!("/test_locations/{first}"))
                ),
            ));
        }
    }
}

/// Rules that reach no one or everyone: an empty include list or identifier, an empty reason,
/// a pattern that matches every identifier or address.
pub(crate) fn reach_errors(config: &Config, at: At<'_>, errs: &mut Vec<ConfigError>) {
    if let Some(include) = &config.include {
        if include.communities.is_empty() {
            let pointer = if config.locations.contains("/include/communities") {
                "/include/communities"
            } else {
                "/include"
            };
            errs.push(
                at(
                    pointer,
                    "the include list is empty, which switches partial sync off: everyone would be synced, as without `include`".into(),
                )
                .hint("list the source communities to sync, like `include: { communities: [\"1001\"] }`, or remove `include` to sync everything"),
            );
        }
        for (i, c) in include.communities.iter().enumerate() {
            if c.trim().is_empty() {
                errs.push(
                    at(
                        &format!("/include/communities/{i}"),
                        "the community identifier is empty: it includes no community".into(),
                    )
                    .hint("write the source identifier (or a glob), like \"1001\" or \"10*\""),
                );
            }
        }
    }
    for (i, r) in config.exclude.iter().enumerate() {
        if r.reason.trim().is_empty() {
            errs.push(
                at(&format!("/exclude/{i}/reason"), "the reason is empty".into()).hint(
                    "say why these people are not synced; the plan shows it, like `reason: interns are onboarded by hand`",
                ),
            );
        }
        for (key, value, what) in [
            ("person", &r.person, "person"),
            ("community", &r.community, "community"),
            ("function", &r.function, "function"),
        ] {
            let Some(v) = value else { continue };
            if v.trim().is_empty() {
                errs.push(
                    at(
                        &format!("/exclude/{i}/{key}"),
                        format!("the {what} identifier is empty: this rule can never match"),
                    )
                    .hint(format!(
                        "write the {what} identifier (or a glob) to exclude"
                    )),
                );
            } else if matches_all(v, &SAMPLE_IDS) {
                errs.push(
                    at(
                        &format!("/exclude/{i}/{key}"),
                        format!("\"{v}\" matches every {what} identifier: this rule excludes everyone"),
                    )
                    .hint("narrow the pattern, like \"90*\"; orgsync syncing nobody is never what a rule should do"),
                );
            }
        }
        if let Some(v) = &r.equals
            && v.is_empty()
        {
            errs.push(
                at(
                    &format!("/exclude/{i}/equals"),
                    "`equals` is empty: an empty value in the source means the attribute is absent, so this rule can never match".into(),
                )
                .hint("write the value to exclude, like `equals: intern`"),
            );
        }
        if let Some(v) = &r.matches
            && v.is_empty()
        {
            errs.push(
                at(
                    &format!("/exclude/{i}/matches"),
                    "`matches` is empty: it matches only an empty value, which the source never delivers".into(),
                )
                .hint("write a glob, like `matches: \"stag*\"`"),
            );
        }
    }
    for (i, t) in config.test_locations.iter().enumerate() {
        if t.trim().is_empty() {
            errs.push(
                at(
                    &format!("/test_locations/{i}"),
                    "the test-location pattern is empty".into(),
                )
                .hint("write a glob on community names or identifiers, like \"Test*\""),
            );
        } else if matches_all(t, &SAMPLE_IDS) {
            errs.push(
                at(
                    &format!("/test_locations/{i}"),
                    format!("\"{t}\" matches every community: every community would be a test location and nobody would be synced"),
                )
                .hint("narrow the pattern, like \"Test*\""),
            );
        }
    }
    for (i, r) in config.protected.iter().enumerate() {
        for (key, value) in [("email", &r.email), ("id", &r.id), ("pattern", &r.pattern)] {
            let Some(v) = value else { continue };
            let pointer = format!("/protected/{i}/{key}");
            if v.trim().is_empty() {
                errs.push(
                    at(&pointer, format!("the protected {key} is empty: it protects no account"))
                        .hint(match key {
                            "email" => "write the account's e-mail address, like `email: admin@example.com`",
                            "id" => "write the account id or source identifier",
                            _ => "write a glob on e-mail addresses, like `pattern: \"*@ops.example.com\"`",
                        }),
                );
            } else if key == "email" && !v.contains('@') {
                errs.push(
                    at(&pointer, format!("\"{v}\" is not an e-mail address: it protects no account"))
                        .hint("write the whole address, like `admin@example.com`; for an account id use `id:`, for several addresses `pattern:`"),
                );
            } else if key == "pattern" && matches_all(v, &SAMPLE_EMAILS) {
                errs.push(
                    at(&pointer, format!("\"{v}\" matches every e-mail address: every account would be protected and orgsync would change nothing"))
                        .hint("narrow the pattern to the accounts to protect, like \"*@ops.example.com\""),
                );
            }
        }
    }
}

/// True when `pattern` (a case-insensitive glob) matches every one of `samples`: unrelated
/// values, so a pattern that matches them all matches everything.
fn matches_all(pattern: &str, samples: &[&str]) -> bool {
    GlobBuilder::new(pattern)
        .case_insensitive(true)
        .literal_separator(false)
        .build()
        .map(|g| g.compile_matcher())
        .is_ok_and(|m| samples.iter().all(|s| m.is_match(s)))
}

const SAMPLE_IDS: [&str; 3] = ["1001", "zq-X.9/ab", "Amsterdam Centrum"];
const SAMPLE_EMAILS: [&str; 2] = ["a@b.c", "zq.x-1@ops.host.invalid"];

#[cfg(test)]
mod tests {
    use crate::config::testing::one;

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
    fn glob_hint_shows_the_right_escapes() {
        let e = one("test_locations: [\"Temp[0-9\"]\n");
        assert!(e.hint.unwrap().ends_with("write [[] or [{]"));
    }
}
