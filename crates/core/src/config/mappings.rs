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

/// Mappings whose sources overlap — a glob beside a literal it matches (`"10*"` and `"1001"`),
/// two globs that match one identifier — with different targets: an identifier goes to the
/// first mapping in file order that matches it, so the other one silently does not apply to it
/// (or the glob takes in more than meant). And community mappings whose source name is a test
/// location: such a community is never synced.
pub(crate) fn overlap_errors(config: &Config, at: At<'_>, errs: &mut Vec<ConfigError>) {
    let communities: Vec<(&OneOrMany, &str)> = config
        .communities
        .iter()
        .map(|m| (&m.source, m.target.as_str()))
        .collect();
    overlaps(&communities, "/communities", "community", config, errs, at);
    if let Some(f) = &config.functions {
        let functions: Vec<(&OneOrMany, &str)> = f
            .map
            .iter()
            .map(|m| (&m.source, m.target.as_str()))
            .collect();
        overlaps(&functions, "/functions/map", "function", config, errs, at);
    }
    let tests: Vec<(usize, globset::GlobMatcher)> = config
        .test_locations
        .iter()
        .enumerate()
        .filter_map(|(i, t)| compile(t).map(|g| (i, g)))
        .collect();
    for (i, m) in config.communities.iter().enumerate() {
        let Some(name) = m.name.as_deref() else {
            continue;
        };
        if let Some((t, _)) = tests.iter().find(|(_, g)| g.is_match(name)) {
            errs.push(
                at(
                    &format!("/communities/{i}/name"),
                    format!(
                        "community \"{name}\" is mapped to \"{}\" but its name matches the test location \"{}\" ({}): it is never synced",
                        m.target,
                        config.test_locations[*t],
                        config.locations.file_line(&format!("/test_locations/{t}"))
                    ),
                )
                .hint("test locations are never synced: remove the mapping or narrow test_locations"),
            );
        }
    }
}

fn compile(pattern: &str) -> Option<globset::GlobMatcher> {
    GlobBuilder::new(pattern)
        .case_insensitive(true)
        .build()
        .ok()
        .map(|g| g.compile_matcher())
}

fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '[', '{'])
}

/// Identifiers a glob matches, for comparing two globs: `*` as nothing and as `0`/`x`, `?` as
/// `0`/`x`, a class or an alternative by its first member. Not every identifier — enough to
/// find the overlaps people write (`"10*"` and `"1*"`, `"10*"` and `"1?01"`).
fn samples(glob: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        let choices: Vec<String> = match c {
            '*' => vec![String::new(), "0".into(), "x".into(), "00".into()],
            '?' => vec!["0".into(), "x".into()],
            '[' => {
                let mut first = None;
                let mut negated = false;
                if chars.peek() == Some(&'!') || chars.peek() == Some(&'^') {
                    negated = true;
                    chars.next();
                }
                for d in chars.by_ref() {
                    if d == ']' && first.is_some() {
                        break;
                    }
                    first.get_or_insert(d);
                }
                if negated {
                    vec!["~".into()]
                } else {
                    vec![first.map(String::from).unwrap_or_default()]
                }
            }
            '{' => {
                let mut first = String::new();
                let mut done = false;
                for d in chars.by_ref() {
                    if d == '}' {
                        break;
                    }
                    if d == ',' {
                        done = true;
                    }
                    if !done {
                        first.push(d);
                    }
                }
                vec![first]
            }
            '\\' => vec![chars.next().map(String::from).unwrap_or_default()],
            c => vec![c.to_string()],
        };
        if out.len() * choices.len() > 256 {
            out.truncate(256 / choices.len().max(1));
        }
        out = out
            .iter()
            .flat_map(|s| choices.iter().map(move |c| format!("{s}{c}")))
            .collect();
    }
    out
}

fn overlaps(
    mappings: &[(&OneOrMany, &str)],
    base: &str,
    what: &str,
    config: &Config,
    errs: &mut Vec<ConfigError>,
    at: At<'_>,
) {
    // (mapping index, pointer, pattern, matcher when a glob)
    let mut all: Vec<(usize, String, &str, Option<globset::GlobMatcher>)> = Vec::new();
    for (i, (source, _)) in mappings.iter().enumerate() {
        for (j, id) in source.as_slice().iter().enumerate() {
            let pointer = match source {
                OneOrMany::One(_) => format!("{base}/{i}/source"),
                OneOrMany::Many(_) => format!("{base}/{i}/source/{j}"),
            };
            let matcher = if is_glob(id) { compile(id) } else { None };
            if is_glob(id) && matcher.is_none() {
                continue; // an invalid glob is reported by itself
            }
            all.push((i, pointer, id.as_str(), matcher));
        }
    }
    // A glob beside literals of other mappings: one error at the glob, naming them all.
    for (i, pointer, pattern, glob) in &all {
        let Some(glob) = glob else { continue };
        let others: Vec<(&str, usize)> = all
            .iter()
            .filter(|(k, _, p, g)| {
                g.is_none() && k != i && mappings[*k].1 != mappings[*i].1 && glob.is_match(p)
            })
            .map(|(k, _, p, _)| (*p, *k))
            .collect();
        if others.is_empty() {
            continue;
        }
        let listed: Vec<String> = others
            .iter()
            .take(5)
            .map(|(p, k)| {
                format!(
                    "\"{p}\" → \"{}\" ({})",
                    mappings[*k].1,
                    config.locations.file_line(&format!("{base}/{k}"))
                )
            })
            .collect();
        let more = if others.len() > 5 {
            format!(" and {} more", others.len() - 5)
        } else {
            String::new()
        };
        let (p, k) = others[0];
        let winner = if k < *i {
            mappings[k].1
        } else {
            mappings[*i].1
        };
        errs.push(
            at(
                pointer,
                format!(
                    "the glob \"{pattern}\" → \"{}\" overlaps the {what} mapping{} {}{more}: an identifier goes to the first mapping that matches it (\"{p}\" to \"{winner}\")",
                    mappings[*i].1,
                    if others.len() == 1 { "" } else { "s" },
                    listed.join(", ")
                ),
            )
            .hint(format!(
                "narrow \"{pattern}\" so that it matches none of them (list the identifiers it is meant for, or write a tighter glob); each identifier should match one mapping"
            )),
        );
    }
    // Two globs of different targets that match one identifier: at the second.
    for (a, (i, _, pa, ga)) in all.iter().enumerate() {
        let Some(ga) = ga else { continue };
        for (k, pointer_b, pb, gb) in all.iter().skip(a + 1) {
            let Some(gb) = gb else { continue };
            if i == k || mappings[*i].1 == mappings[*k].1 || pa.eq_ignore_ascii_case(pb) {
                continue;
            }
            let shared = samples(pa)
                .into_iter()
                .find(|s| gb.is_match(s))
                .or_else(|| samples(pb).into_iter().find(|s| ga.is_match(s)));
            let Some(shared) = shared else { continue };
            errs.push(
                at(
                    pointer_b,
                    format!(
                        "the globs \"{pb}\" → \"{}\" and \"{pa}\" → \"{}\" ({}) overlap: both match \"{shared}\", which goes to the first, \"{}\"",
                        mappings[*k].1,
                        mappings[*i].1,
                        config.locations.file_line(&format!("{base}/{i}")),
                        mappings[*i].1
                    ),
                )
                .hint("narrow one of the globs so that each identifier matches one mapping"),
            );
        }
    }
}
