//! Mappings: source communities onto target communities (`communities`), and source functions
//! or departments onto target function groups (`functions`). Types and their checks.

use std::collections::{BTreeSet, HashMap};

use globset::GlobBuilder;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::error::{At, ConfigError, glob_error};
use super::{Config, ExclusionRule};

/// One or several source identifiers, each a literal or a glob (`"20*"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One identifier or glob.
    One(String),
    /// Several identifiers or globs.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The identifiers as a slice.
    pub fn as_slice(&self) -> &[String] {
        match self {
            OneOrMany::One(s) => std::slice::from_ref(s),
            OneOrMany::Many(v) => v,
        }
    }
}

/// Maps source community identifiers onto one target community (by its name in the target).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommunityMapping {
    /// Source identifier(s) or glob(s) on identifiers. Compared by identifier, never by name.
    pub source: OneOrMany,
    /// Name of the target community.
    pub target: String,
    /// The source community's name, for readers and for detecting a renamed identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Marks a stub written by `orgsync import` that still needs a decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub todo: Option<bool>,
    /// E-mail the people a change of this mapping moves (`true`). A move caused by a change of
    /// the configuration (this mapping now maps elsewhere) e-mails no one unless its mapping says
    /// so; transfers in HR notify as `policy.notify_transfers` says. Remove it once applied, or the
    /// next change of this mapping e-mails its people too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<bool>,
}

/// How functions become function groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FunctionsConfig {
    /// Take function groups from the source's functions, or from its departments (the
    /// recommended option for ManusPlus).
    #[serde(default)]
    pub from: FunctionSourceField,
    /// What happens to a function no mapping covers.
    #[serde(default)]
    pub unmapped: UnmappedFunctionPolicy,
    /// Source function (or department) identifiers mapped onto target function groups.
    #[serde(default)]
    pub map: Vec<FunctionMapping>,
}

/// Where function groups come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FunctionSourceField {
    /// The person's functions.
    #[default]
    Function,
    /// The person's departments.
    Department,
}

/// What happens to a function that no mapping covers: `{ fallback: No function }`, `create` or
/// `error`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum UnmappedFunctionPolicy {
    /// `create` (a function group with the source name) or `error` (fail the plan).
    Simple(UnmappedFunctionAction),
    /// Place such people in this target function group (the "No function" bucket).
    Fallback(FallbackPolicy),
}

impl Default for UnmappedFunctionPolicy {
    fn default() -> Self {
        UnmappedFunctionPolicy::Fallback(FallbackPolicy {
            fallback: "No function".to_owned(),
        })
    }
}

/// `create` or `error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnmappedFunctionAction {
    /// Create a function group with the source function's name.
    Create,
    /// Fail the plan.
    Error,
}

/// `{ fallback: <function group> }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FallbackPolicy {
    /// Name of the target function group for people whose function is not mapped.
    pub fallback: String,
}

/// Maps source function identifiers onto one target function group (by its name in the target).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FunctionMapping {
    /// Source identifier(s) or glob(s) on identifiers.
    pub source: OneOrMany,
    /// Name of the target function group.
    pub target: String,
    /// The source function's name, for readers and for detecting a renamed identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Marks a stub written by `orgsync import` that still needs a decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub todo: Option<bool>,
}

/// Mapping sources that do not compile as globs.
pub(crate) fn glob_errors(config: &Config, at: At<'_>, errs: &mut Vec<ConfigError>) {
    let mut check_glob =
        |pointer: String, pattern: &str| errs.extend(glob_error(at, &pointer, pattern));
    for (i, m) in config.communities.iter().enumerate() {
        for (j, s) in m.source.as_slice().iter().enumerate() {
            let p = match &m.source {
                OneOrMany::One(_) => format!("/communities/{i}/source"),
                OneOrMany::Many(_) => format!("/communities/{i}/source/{j}"),
            };
            check_glob(p, s);
        }
    }
    if let Some(f) = &config.functions {
        for (i, m) in f.map.iter().enumerate() {
            for (j, s) in m.source.as_slice().iter().enumerate() {
                let p = match &m.source {
                    OneOrMany::One(_) => format!("/functions/map/{i}/source"),
                    OneOrMany::Many(_) => format!("/functions/map/{i}/source/{j}"),
                };
                check_glob(p, s);
            }
        }
    }
}

/// Mappings that can never apply: no source identifiers, an empty identifier or name.
pub(crate) fn empty_errors(config: &Config, at: At<'_>, errs: &mut Vec<ConfigError>) {
    let mut check = |base: &str, what: &str, i: usize, source: &OneOrMany, name: Option<&str>| {
        match source {
            OneOrMany::Many(ids) if ids.is_empty() => errs.push(
                at(
                    &format!("{base}/{i}/source"),
                    format!("the mapping lists no {what} identifiers: it can never apply"),
                )
                .hint("list at least one source identifier, like `source: [\"2001\", \"2002\"]`, or remove the mapping"),
            ),
            _ => {
                for (j, id) in source.as_slice().iter().enumerate() {
                    if id.trim().is_empty() {
                        let pointer = match source {
                            OneOrMany::One(_) => format!("{base}/{i}/source"),
                            OneOrMany::Many(_) => format!("{base}/{i}/source/{j}"),
                        };
                        errs.push(
                            at(&pointer, format!("the {what} identifier is empty: it matches no {what}"))
                                .hint("write the source identifier, like `source: \"1001\"`"),
                        );
                    }
                }
            }
        }
        if name.is_some_and(|n| n.trim().is_empty()) {
            errs.push(
                at(&format!("{base}/{i}/name"), "the source name is empty".into()).hint(
                    "write the source's name (it helps readers and detects renamed identifiers), or remove `name`",
                ),
            );
        }
    };
    for (i, m) in config.communities.iter().enumerate() {
        check("/communities", "community", i, &m.source, m.name.as_deref());
    }
    if let Some(f) = &config.functions {
        for (i, m) in f.map.iter().enumerate() {
            check(
                "/functions/map",
                "function",
                i,
                &m.source,
                m.name.as_deref(),
            );
        }
    }
}

/// Mappings that contradict each other or the rules (an identifier mapped twice or to two
/// targets, or mapped while an exclusion or a test location takes it out), and targets left
/// without a name.
pub(crate) fn conflict_errors(config: &Config, at: At<'_>, errs: &mut Vec<ConfigError>) {
    // Exclusion rules on one field, compiled: (rule index, pattern, matcher).
    let exclusion_matchers = |field: fn(&ExclusionRule) -> Option<&str>| {
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

    let communities: Vec<(&OneOrMany, &str)> = config
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
        errs,
        at,
    );
    if let Some(f) = &config.functions {
        let functions: Vec<(&OneOrMany, &str)> = f
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
            errs,
            at,
        );
        if let UnmappedFunctionPolicy::Fallback(fb) = &f.unmapped
            && fb.fallback.trim().is_empty()
        {
            errs.push(at(
                "/functions/unmapped/fallback",
                "the fallback function group needs a name".into(),
            ));
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn check_mappings(
    mappings: &[(&OneOrMany, &str)],
    base: &str,
    what: &str,
    exclusions: &[(usize, &str, globset::GlobMatcher)],
    tests: Option<&[globset::GlobMatcher]>,
    config: &Config,
    errs: &mut Vec<ConfigError>,
    at: At<'_>,
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
                OneOrMany::One(_) => format!("{base}/{i}/source"),
                OneOrMany::Many(_) => format!("{base}/{i}/source/{j}"),
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
                    at(&pointer, format!("duplicate mapping: {what} \"{id}\" → \"{target}\" is already at {}", config.locations.file_line(&format!("{base}/{first}"))))
                        .hint("remove one of them"),
                ),
                Some((first, first_target)) => errs.push(
                    at(
                        &pointer,
                        format!(
                            "{what} \"{id}\" is mapped to two targets: \"{first_target}\" ({}) and \"{target}\"",
                            config.locations.file_line(&format!("{base}/{first}"))
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
                                config.locations.file_line(&format!("/exclude/{rule}"))
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
