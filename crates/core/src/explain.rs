//! The path of one person through the rules: which scope rules matched or not, where each of
//! their source communities and functions lands and which rule decided it, and what the plan
//! does to their account. Pure: it reads the engine's own results ([`scope::resolve`],
//! [`mapping::resolve`] and the [`Plan`]) rather than re-deciding anything, so `explain` can never
//! disagree with `plan`.
//!
//! Each deciding rule carries its place in the configuration (file, line and the lines the rule
//! spans), so that the CLI can add who wrote it (git blame).

use std::collections::BTreeSet;

use jiff::civil::Date;
use serde::Serialize;

use crate::config::Config;
use crate::focus;
use crate::identity::{self, Matching};
use crate::mapping::Kind;
use crate::mapping::{self, Groups, Mapping, Resolved};
use crate::model::{AccountStatus, Person, SourceSnapshot, TargetGroup, TargetSnapshot};
use crate::plan::{self, PlanInput};
use crate::scope::{self, OutOfScope, Patterns, Scope};
use crate::vocabulary::{Action, ConfigLocation, Diagnostic, GroupRef, Plan};

/// Why a person could not be explained.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    /// Nobody in the source or the target has that identifier or e-mail address.
    #[error(
        "no person with identifier or e-mail address `{0}` in the source, and no managed account for it in the target"
    )]
    NotFound(String),
    /// Several people share the e-mail address.
    #[error("{} people have the e-mail address `{query}` ({}): explain one of them by identifier", .ids.len(), .ids.join(", "))]
    Ambiguous {
        /// The e-mail address asked for.
        query: String,
        /// Their identifiers.
        ids: Vec<String>,
    },
}

/// How a rule relates to the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The rule applies to the person.
    Matched,
    /// The rule was checked and does not apply.
    NotMatched,
}

/// One rule on the person's path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// The rule, for people: `exclusion rule 2 (community 9000): head office …`.
    pub rule: String,
    /// Whether it applies.
    pub outcome: Outcome,
    /// This rule decided the outcome (left the person out, or placed a group).
    pub decisive: bool,
    /// Where the rule is written, when it is written at all (defaults are not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<ConfigLocation>,
    /// The lines of `location`'s file that make up the rule (an entry may span several).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<usize>,
}

/// Where one source community or function lands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Placement {
    /// The source identifier (`None` for the fallback of a person without functions).
    pub source: Option<String>,
    /// Its source name.
    pub source_name: Option<String>,
    /// The target group; `None` when it lands nowhere (held, or an unmapped function whose
    /// fallback does not apply because another of the person's functions is mapped).
    pub target: Option<GroupRef>,
    /// Unmapped under `functions.unmapped: { fallback: … }`: `target` is the fallback group
    /// when the person lands in it (none of their functions is mapped), else `None`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fallback: bool,
    /// The rule that decided.
    pub rule: Step,
}

/// A source person (or, for someone no longer in the source, the account's identifiers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExplainedPerson {
    /// Source identifier.
    pub id: String,
    /// Full name.
    pub name: String,
    /// E-mail address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// In the source at all.
    pub in_source: bool,
}

/// The whole path.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// Who.
    pub person: ExplainedPerson,
    /// The day the rules were evaluated for.
    pub at: Date,
    /// Scope rules in the order they are checked; the first decisive one leaves the person out.
    pub scope: Vec<Step>,
    /// In scope: takes part in the sync.
    pub in_scope: bool,
    /// Why not, when out of scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_of_scope: Option<String>,
    /// Where each source community lands (empty when communities are not managed).
    pub communities: Vec<Placement>,
    /// Where each source function (or department) lands.
    pub function_groups: Vec<Placement>,
    /// The target account of the person, when one matches (and how).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The plan's actions for the person.
    pub actions: Vec<Action>,
    /// The plan's diagnostics that concern the person.
    pub diagnostics: Vec<Diagnostic>,
}

impl Explanation {
    /// Every decisive step: the rules whose authors `explain` shows.
    pub fn decisive_steps(&self) -> impl Iterator<Item = &Step> {
        self.scope
            .iter()
            .chain(self.communities.iter().map(|p| &p.rule))
            .chain(self.function_groups.iter().map(|p| &p.rule))
            .filter(|s| s.decisive)
    }
}

/// Explains the plan `plan` (made from these inputs on `today`) for the person `query`, an
/// identifier or an e-mail address (case-insensitive).
pub fn explain(
    config: &Config,
    source: &SourceSnapshot,
    target: &TargetSnapshot,
    plan: &Plan,
    today: Date,
    query: &str,
) -> Result<Explanation, ExplainError> {
    let query = query.trim();
    let Some(person) = find_person(source, query)? else {
        return explain_absent(config, target, plan, today, query);
    };
    let scope = scope::resolve(config, source, today);
    let mapping = mapping::resolve(config, target, &scope);
    let account = || matched_account(config, target, &scope, person, today);
    Ok(explained(
        config, target, &scope, &mapping, plan, person, today, account,
    ))
}

/// Explains the person `query` (an identifier or an e-mail address) without the whole plan:
/// only the people and accounts linked to them ([`focus::linked`]) are resolved and planned
/// ([`plan::build_for`]) — a small part of a plan's time, with the same actions as the plan for
/// them. Returns that part of the plan too (its manual steps are the person's).
pub fn explain_person(
    input: PlanInput<'_>,
    query: &str,
) -> Result<(Explanation, Plan), ExplainError> {
    let linked = focus::linked(input.source, input.target, query);
    let source_empty = input.source.persons.is_empty();
    explain_linked(input, &linked, source_empty, query)
}

/// [`explain_person`] on `linked`, the part of the inputs linked to `query` (read whole and
/// restricted, or read from the systems for `query`'s keys alone); `source_empty` says whether
/// the whole source has nobody. `input`'s source and target are not looked at.
pub fn explain_linked(
    input: PlanInput<'_>,
    linked: &focus::Linked,
    source_empty: bool,
    query: &str,
) -> Result<(Explanation, Plan), ExplainError> {
    let input = PlanInput {
        source: &linked.source,
        target: &linked.target,
        ..input
    };
    let (config, source, target, today) = (input.config, input.source, input.target, input.today);
    let query = query.trim();
    let person = find_person(source, query)?;
    let scope = scope::resolve(config, source, today);
    let mapping = mapping::resolve(config, target, &scope);
    // Someone gone is explained by their account: the plan's removals need nobody's changes.
    let focus = plan::Focus {
        person: person.map_or("", |p| p.id.as_str()),
        source_empty,
    };
    let part = plan::build_for(input, &scope, &mapping, focus);
    let Some(person) = person else {
        let e = explain_absent(config, target, &part.plan, today, query)?;
        return Ok((e, part.plan));
    };
    let account = || {
        let (a, key) = part.account?;
        Some(describe_account(&target.accounts[a as usize], key))
    };
    let e = explained(
        config, target, &scope, &mapping, &part.plan, person, today, account,
    );
    Ok((e, part.plan))
}

/// The explanation of `person`, in the source, from the resolved scope and mapping and the plan
/// (or the person's part of it); `account` finds their account when no action names it.
#[allow(clippy::too_many_arguments)]
fn explained<'a>(
    config: &Config,
    target: &TargetSnapshot,
    scope: &Scope<'a>,
    mapping: &Mapping<'a>,
    plan: &Plan,
    person: &'a Person,
    today: Date,
    account: impl FnOnce() -> Option<String>,
) -> Explanation {
    let mut steps = scope_steps(config, scope, person, today);
    let out = scope.out_of_scope.get(person.id.as_str()).copied();
    let mut communities = Vec::new();
    let mut function_groups = Vec::new();
    if out.is_none() {
        let scoped = scope
            .persons
            .iter()
            .find(|sp| std::ptr::eq(sp.person, person));
        if let (Some(groups), Some(sp)) = (&mapping.communities, scoped) {
            for id in scope.communities(sp) {
                let name = scope.community_names.get(id).map(|n| (*n).to_owned());
                communities.push(place(
                    config,
                    Kind::Community,
                    groups,
                    &target.communities,
                    id,
                    name,
                ));
            }
        } else if mapping.communities.is_none() {
            steps.push(step(
                "communities are not synced: `communities` is not in policy.managed_fields"
                    .to_owned(),
                Outcome::Matched,
                false,
                explicit_location(config, "/policy/managed_fields"),
            ));
        }
        if let (Some(groups), Some(field), Some(sp)) =
            (&mapping.functions, scope.function_field, scoped)
        {
            let kind = Kind::Function(field);
            let ids = scope.functions(sp);
            let mut desired = Vec::new();
            mapping.desired_function_groups(scope, sp, &mut desired);
            // The fallback group, when the engine puts the person in it.
            let fallback = groups
                .fallback()
                .filter(|g| desired.contains(g))
                .map(|g| groups.get(g));
            for id in ids {
                let name = scope.function_names.get(id).map(|n| (*n).to_owned());
                let mut placed = place(config, kind, groups, &target.function_groups, id, name);
                if placed.fallback {
                    placed.target = fallback.cloned();
                    let noun = kind.noun();
                    placed.rule.rule.push_str(&if fallback.is_some() {
                        format!(": none of the person's {noun}s is mapped, so they land in the fallback")
                    } else {
                        format!(
                            ": another of the person's {noun}s is mapped, so the fallback does not apply"
                        )
                    });
                }
                function_groups.push(placed);
            }
            // Someone without any function: the fallback is their only placement.
            if let Some(g) = groups
                .fallback()
                .filter(|g| ids.is_empty() && desired.contains(g))
            {
                let why = format!("no {}: the fallback function group applies", kind.noun());
                function_groups.push(Placement {
                    source: None,
                    source_name: None,
                    target: Some(groups.get(g).clone()),
                    fallback: true,
                    rule: step(
                        why,
                        Outcome::Matched,
                        true,
                        explicit_location(config, "/functions/unmapped"),
                    ),
                });
            }
        }
    }

    let actions = person_actions(plan, &person.id);
    let account = actions
        .iter()
        .find_map(|a| a.target_id.clone())
        .map(|id| format!("account {id}"))
        .or_else(account);
    Explanation {
        person: ExplainedPerson {
            id: person.id.clone(),
            name: full_name(&person.first_name, &person.last_name, &person.id),
            email: person.email.clone(),
            in_source: true,
        },
        at: today,
        scope: steps,
        in_scope: out.is_none(),
        out_of_scope: out.map(|o| o.describe(config)),
        communities,
        function_groups,
        account,
        diagnostics: person_diagnostics(plan, person),
        actions,
    }
}

/// The person with identifier `query`, else the one with that e-mail address.
fn find_person<'s>(
    source: &'s SourceSnapshot,
    query: &str,
) -> Result<Option<&'s Person>, ExplainError> {
    if let Some(p) = source.persons.iter().find(|p| p.id == query) {
        return Ok(Some(p));
    }
    let by_email: Vec<&Person> = source
        .persons
        .iter()
        .filter(|p| {
            p.email
                .as_deref()
                .is_some_and(|e| identity::same_email(e, query))
        })
        .collect();
    match by_email.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        many => Err(ExplainError::Ambiguous {
            query: query.to_owned(),
            ids: many.iter().map(|p| p.id.clone()).collect(),
        }),
    }
}

/// Someone who is not in the source: only a managed account can say who they were.
fn explain_absent(
    config: &Config,
    target: &TargetSnapshot,
    plan: &Plan,
    today: Date,
    query: &str,
) -> Result<Explanation, ExplainError> {
    let account = target
        .accounts
        .iter()
        .filter(|a| a.managed)
        .find(|a| {
            a.external_id.as_deref() == Some(query)
                || a.email
                    .as_deref()
                    .is_some_and(|e| identity::same_email(e, query))
        })
        .ok_or_else(|| ExplainError::NotFound(query.to_owned()))?;
    let id = account
        .external_id
        .clone()
        .unwrap_or_else(|| account.id.clone());
    let person = Person {
        id: id.clone(),
        email: account.email.clone(),
        ..Person::default()
    };
    let actions = person_actions(plan, &id);
    let mut scope = vec![step(
        "not in the source: only its managed account is left".to_owned(),
        Outcome::NotMatched,
        true,
        None,
    )];
    // Retention is a policy too: say where it is set when it decides an anonymization.
    if actions
        .iter()
        .any(|a| a.kind() == crate::vocabulary::ActionKind::Anonymize)
    {
        scope.push(step(
            format!(
                "policy.retention_days: {} days have passed since the removal",
                config.policy.retention_days
            ),
            Outcome::Matched,
            true,
            explicit_location(config, "/policy/retention_days"),
        ));
    }
    Ok(Explanation {
        person: ExplainedPerson {
            id: id.clone(),
            name: full_name(&account.first_name, &account.last_name, &id),
            email: account.email.clone(),
            in_source: false,
        },
        at: today,
        scope,
        in_scope: false,
        out_of_scope: Some(format!(
            "not in the source; its managed account {} is {}",
            account.id,
            match account.status {
                AccountStatus::Active => "active",
                AccountStatus::Removed => "removed",
                AccountStatus::Anonymized => "anonymized",
            }
        )),
        communities: Vec::new(),
        function_groups: Vec::new(),
        account: Some(format!("account {}", account.id)),
        actions,
        diagnostics: person_diagnostics(plan, &person),
    })
}

/// The scope rules, in the order the engine applies them, up to the one that left the person out.
fn scope_steps(config: &Config, scope: &Scope<'_>, person: &Person, today: Date) -> Vec<Step> {
    let out = scope.out_of_scope.get(person.id.as_str()).copied();
    let mut steps = Vec::new();

    // 1. Exclusion rules: the first that matches wins, so every rule before it did not match.
    let matched = match out {
        Some(OutOfScope::Excluded(i)) => Some(i),
        _ => None,
    };
    for (i, rule) in config.exclude.iter().enumerate() {
        let hit = matched == Some(i);
        let condition = [
            rule.person.as_ref().map(|p| format!("person {p}")),
            rule.community.as_ref().map(|c| format!("community {c}")),
            rule.function.as_ref().map(|f| format!("function {f}")),
            rule.attribute
                .as_ref()
                .map(|a| match (&rule.equals, &rule.matches) {
                    (Some(v), _) => format!("{a} = {v}"),
                    (None, Some(m)) => format!("{a} matches {m}"),
                    (None, None) => a.clone(),
                }),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
        steps.push(entry_step(
            config,
            &format!("/exclude/{i}"),
            format!("exclusion rule {} ({condition}): {}", i + 1, rule.reason),
            if hit {
                Outcome::Matched
            } else {
                Outcome::NotMatched
            },
            hit,
            &[
                "reason",
                "person",
                "community",
                "function",
                "attribute",
                "equals",
                "matches",
            ],
        ));
        if hit {
            return steps;
        }
    }

    // 2. The employment window.
    let lead = config.policy.invite_lead_days;
    let window = describe_employments(person);
    let (outcome, verdict) = match out {
        Some(OutOfScope::NotStarted(d)) => (
            Outcome::NotMatched,
            format!("starts on {d}, more than {lead} days after {today}"),
        ),
        Some(OutOfScope::Ended(d)) => (
            Outcome::NotMatched,
            format!("the contract ended on {d}, before {today}"),
        ),
        _ => (
            Outcome::Matched,
            format!("within the window on {today} (invited up to {lead} days before the start)"),
        ),
    };
    let decisive = outcome == Outcome::NotMatched;
    // An ended contract is the source's doing; the lead time is configuration.
    let ended = matches!(out, Some(OutOfScope::Ended(_)));
    steps.push(step(
        format!("employment window: {window}; {verdict}"),
        outcome,
        decisive,
        explicit_location(config, "/policy/invite_lead_days").filter(|_| !ended),
    ));
    if decisive {
        return steps;
    }

    // 3. Test locations.
    if !config.test_locations.is_empty() {
        let patterns = Patterns::new(config.test_locations.iter().map(String::as_str), true);
        let only_test = out == Some(OutOfScope::OnlyTestLocations);
        let mut any = false;
        let mut seen: Vec<&str> = Vec::new();
        for c in person
            .employments
            .iter()
            .filter(|e| e.is_current(today))
            .filter_map(|e| e.community.as_deref())
        {
            if !scope.test_communities.contains(c) || seen.contains(&c) {
                continue;
            }
            seen.push(c);
            any = true;
            let name = scope.community_names.get(c).copied().unwrap_or(c);
            let pattern = [patterns.first_match(c), patterns.first_match(name)]
                .into_iter()
                .flatten()
                .min();
            let pointer = pattern.map(|i| format!("/test_locations/{i}"));
            steps.push(step(
                format!(
                    "test location: community {c} \"{name}\" matches {}; it is left out",
                    pattern
                        .and_then(|i| config.test_locations.get(i))
                        .map_or("a test-location pattern", String::as_str)
                ),
                Outcome::Matched,
                only_test,
                pointer.and_then(|p| config.locations.get(&p)),
            ));
        }
        if !any {
            steps.push(step(
                format!(
                    "test locations ({}): none of the person's communities",
                    config.test_locations.join(", ")
                ),
                Outcome::NotMatched,
                false,
                config.locations.get("/test_locations"),
            ));
        }
        if only_test {
            return steps;
        }
    }

    // 4. Partial sync.
    if let Some(include) = config
        .include
        .as_ref()
        .filter(|i| !i.communities.is_empty())
    {
        let not_included = out == Some(OutOfScope::NotIncluded);
        steps.push(step(
            format!(
                "partial sync: only communities {} are synced; {}",
                include.communities.join(", "),
                if not_included {
                    "none of the person's communities is included"
                } else {
                    "the person is in one of them"
                }
            ),
            if not_included {
                Outcome::NotMatched
            } else {
                Outcome::Matched
            },
            not_included,
            config.locations.get("/include"),
        ));
    }
    steps
}

/// Where source identifier `id` lands and the rule that decided it: the first mapping whose
/// `source` matches (rule 5: first mapping wins), else the target group that records the
/// identifier, else the unmapped policy. The landing itself is the engine's.
fn place(
    config: &Config,
    kind: Kind,
    groups: &Groups<'_>,
    target_groups: &[TargetGroup],
    id: &str,
    source_name: Option<String>,
) -> Placement {
    let resolved = groups.resolve(id);
    let landed = match resolved {
        Some(Resolved::Group(g)) => Some(groups.get(g).clone()),
        _ => None,
    };
    // Unmapped under a fallback: where it lands depends on the person's other functions (the
    // caller fills in the target).
    let fallback = resolved == Some(Resolved::Fallback);
    let (sources, base): (Vec<&[String]>, &str) = match kind {
        Kind::Community => (
            config
                .communities
                .iter()
                .map(|m| m.source.as_slice())
                .collect(),
            "/communities",
        ),
        Kind::Function(_) => (
            config
                .functions
                .iter()
                .flat_map(|f| &f.map)
                .map(|m| m.source.as_slice())
                .collect(),
            "/functions/map",
        ),
    };
    let mut entry_of = Vec::new();
    let patterns = Patterns::new(
        sources
            .iter()
            .enumerate()
            .flat_map(|(e, s)| s.iter().map(move |s| (e, s.as_str())))
            .map(|(e, s)| {
                entry_of.push(e);
                s
            })
            .collect::<Vec<_>>(),
        false,
    );
    let entry = patterns.first_match(id).map(|p| entry_of[p]);
    let target_name = |e: usize| match kind {
        Kind::Community => config.communities[e].target.clone(),
        Kind::Function(_) => config
            .functions
            .as_ref()
            .map(|f| f.map[e].target.clone())
            .unwrap_or_default(),
    };
    let noun = kind.noun();
    let group = kind.group_noun();
    let rule = if let Some(e) = entry {
        let target = target_name(e);
        let todo = match kind {
            Kind::Community => config.communities[e].todo,
            Kind::Function(_) => config.functions.as_ref().and_then(|f| f.map[e].todo),
        }
        .unwrap_or(false);
        let mut rule = format!(
            "mapping {} ({noun} {} → {group} \"{target}\")",
            e + 1,
            sources[e].join(", ")
        );
        if landed.as_ref().is_some_and(|g| g.is_new()) {
            rule.push_str(&format!(
                ": \"{target}\" does not exist in the target yet and is created by this plan"
            ));
        }
        if todo {
            rule.push_str(" [todo: written by orgsync import, still to be decided]");
        }
        if landed.is_none() {
            rule.push_str(&format!(
                ": \"{target}\" does not exist and an undecided stub creates nothing, so it is held"
            ));
        }
        entry_step(
            config,
            &format!("{base}/{e}"),
            rule,
            Outcome::Matched,
            true,
            &["source", "target", "name", "todo"],
        )
    } else if let Some(g) = target_groups
        .iter()
        .filter(|_| !fallback)
        .find(|g| g.source_ids.iter().any(|s| s == id))
    {
        step(
            format!(
                "no mapping; target {group} \"{}\" ({}) records source identifier {id}",
                g.name, g.id
            ),
            Outcome::Matched,
            true,
            None,
        )
    } else if let Some(g) = landed.as_ref().filter(|g| !g.is_new()) {
        step(
            format!(
                "no mapping; {noun} {id} carries the name of {group} \"{}\" ({}), whose identifiers vanished: a renamed identifier, the {group} is re-keyed",
                g.name, g.id
            ),
            Outcome::Matched,
            true,
            None,
        )
    } else {
        let (policy, pointer) = match kind {
            Kind::Community => (
                format!(
                    "policy.unmapped_communities: {}",
                    match config.policy.unmapped_communities {
                        crate::config::UnmappedPolicy::Create => "create",
                        crate::config::UnmappedPolicy::Hold => "hold",
                        crate::config::UnmappedPolicy::Error => "error",
                    }
                ),
                "/policy/unmapped_communities",
            ),
            Kind::Function(_) => (
                match config.functions.as_ref().map(|f| &f.unmapped) {
                    Some(crate::config::UnmappedFunctionPolicy::Fallback(f)) => {
                        format!("functions.unmapped: fallback \"{}\"", f.fallback)
                    }
                    Some(crate::config::UnmappedFunctionPolicy::Simple(
                        crate::config::UnmappedFunctionAction::Create,
                    )) => "functions.unmapped: create".to_owned(),
                    _ => "functions.unmapped: error".to_owned(),
                },
                "/functions/unmapped",
            ),
        };
        step(
            format!("no mapping for {noun} {id}; {policy}"),
            Outcome::Matched,
            true,
            explicit_location(config, pointer),
        )
    };
    Placement {
        source: Some(id.to_owned()),
        source_name,
        target: landed,
        fallback,
        rule,
    }
}

fn step(rule: String, outcome: Outcome, decisive: bool, location: Option<ConfigLocation>) -> Step {
    let lines = location.iter().map(|l| l.line).collect();
    Step {
        rule,
        outcome,
        decisive,
        location,
        lines,
    }
}

/// A step for a list entry at `pointer`, spanning the lines of its `keys`.
fn entry_step(
    config: &Config,
    pointer: &str,
    rule: String,
    outcome: Outcome,
    decisive: bool,
    keys: &[&str],
) -> Step {
    let location = config.locations.get(pointer);
    let lines: BTreeSet<usize> = location
        .iter()
        .map(|l| l.line)
        .chain(
            keys.iter()
                .filter_map(|k| config.locations.get(&format!("{pointer}/{k}")))
                .map(|l| l.line),
        )
        .collect();
    Step {
        rule,
        outcome,
        decisive,
        location,
        lines: lines.into_iter().collect(),
    }
}

/// The location of `pointer` only when the configuration sets it: `Locations` falls back to the
/// nearest written ancestor, which for a default would point at an unrelated line.
fn explicit_location(config: &Config, pointer: &str) -> Option<ConfigLocation> {
    let here = config.locations.get(pointer)?;
    let parent = pointer.rsplit_once('/').map_or("", |(p, _)| p);
    (config.locations.get(parent).as_ref() != Some(&here)).then_some(here)
}

fn person_actions(plan: &Plan, id: &str) -> Vec<Action> {
    use crate::vocabulary::ActionKind as K;
    plan.actions
        .iter()
        .filter(|a| {
            matches!(
                a.kind(),
                K::Invite | K::Update | K::Move | K::Restore | K::Remove | K::Anonymize
            ) && a.subject == id
        })
        .cloned()
        .collect()
}

/// Diagnostics about the person: by subject (their identifier, e-mail address, or one of their
/// communities or functions), or among the people a diagnostic about several concerns.
fn person_diagnostics(plan: &Plan, person: &Person) -> Vec<Diagnostic> {
    let email = person
        .email
        .as_deref()
        .and_then(identity::email_key)
        .map(|e| e.into_owned());
    // Only what is about the person. What is about one of their groups (not mapped, a renamed
    // identifier, a test location) counts everyone in it, which is the plan's to say: the
    // person's placements say what it means for them.
    plan.diagnostics
        .iter()
        .filter(|d| match &d.subject {
            Some(s) => s == &person.id || email.as_deref() == Some(s.to_lowercase().as_str()),
            None => d.concerns.contains(&person.id),
        })
        .cloned()
        .collect()
}

/// The account the person matches, as the plan matched it ([`Matching`]): for a person the plan
/// does not act on (nothing changes, or they are held).
fn matched_account(
    config: &Config,
    target: &TargetSnapshot,
    scope: &Scope<'_>,
    person: &Person,
    today: Date,
) -> Option<String> {
    let matching = Matching::of_scope(config, &target.accounts, scope, today);
    let i = scope
        .persons
        .iter()
        .map(|sp| sp.person)
        .chain(scope.untouched.iter().copied())
        .position(|p| std::ptr::eq(p, person))?;
    let (a, key) = matching.matched[i]?;
    Some(describe_account(&target.accounts[a as usize], key))
}

/// `account u-7 (managed, matched by external id)`.
fn describe_account(a: &crate::model::Account, key: crate::config::MatchKey) -> String {
    let managed = if a.managed { "managed" } else { "unmanaged" };
    format!(
        "account {} ({managed}, matched by {})",
        a.id,
        identity::matched_by(key)
    )
}

/// A person's employments for people: `employed 2020-01-01 to 2026-11-21 (1001), from
/// 2026-11-22, no end date (1002)`.
fn describe_employments(person: &Person) -> String {
    if person.employments.is_empty() {
        return "no employment dates".to_owned();
    }
    let parts: Vec<String> = person
        .employments
        .iter()
        .map(|e| {
            let dates = match (e.start, e.end) {
                (Some(s), Some(e)) => format!("{s} to {e}"),
                (Some(s), None) => format!("from {s}, no end date"),
                (None, Some(e)) => format!("until {e}"),
                (None, None) => "no dates".to_owned(),
            };
            match &e.community {
                Some(c) => format!("{dates} ({c})"),
                None => dates,
            }
        })
        .collect();
    format!("employed {}", parts.join("; "))
}

fn full_name(first: &str, last: &str, id: &str) -> String {
    let name = format!("{} {}", first.trim(), last.trim());
    let name = name.trim();
    if name.is_empty() {
        id.to_owned()
    } else {
        name.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CommunityMapping, ExclusionRule, OneOrMany};
    use crate::scope::testing::{self, TODAY, account, group, person, source, target};

    fn mapping(source: &str, target: &str) -> CommunityMapping {
        CommunityMapping {
            source: OneOrMany::One(source.to_owned()),
            target: target.to_owned(),
            name: None,
            todo: None,
            notify: None,
        }
    }

    fn explained(
        config: &Config,
        src: &SourceSnapshot,
        tgt: &TargetSnapshot,
        query: &str,
    ) -> Result<Explanation, ExplainError> {
        let plan = testing::plan(config, src, tgt);
        explain(config, src, tgt, &plan, TODAY, query)
    }

    #[test]
    fn the_first_matching_mapping_places_the_person_and_is_located() {
        let mut config = testing::config();
        let text = "communities:\n  - { source: \"1*\", target: A }\n  - { source: \"1001\", target: B }\n";
        config.communities = vec![mapping("1*", "A"), mapping("1001", "B")];
        testing::locate(&mut config, "communities", "communities.yaml", text);
        let src = source(vec![person("p1", &["1001"])], &[("1001", "Centrum")]);
        let tgt = target(vec![], vec![group("c-a", "A", &[], false)]);
        let e = explained(&config, &src, &tgt, "p1").unwrap();
        assert!(e.in_scope);
        assert_eq!(e.communities.len(), 1);
        let p = &e.communities[0];
        assert_eq!(p.target.as_ref().unwrap().name, "A");
        assert_eq!(p.source_name.as_deref(), Some("Centrum"));
        assert!(p.rule.decisive);
        assert!(
            p.rule
                .rule
                .starts_with("mapping 1 (community 1* → community \"A\")")
        );
        let loc = p.rule.location.as_ref().unwrap();
        assert_eq!((loc.file.as_str(), loc.line), ("communities.yaml", 2));
        assert_eq!(p.rule.lines, [2]);
        assert_eq!(e.actions.len(), 1);
        assert_eq!(e.actions[0].kind(), crate::vocabulary::ActionKind::Invite);
        assert_eq!(e.decisive_steps().count(), 1);
    }

    #[test]
    fn a_missing_mapping_target_is_created_and_explain_says_so() {
        let mut config = testing::config();
        config.communities = vec![mapping("1001", "Nowhere")];
        let src = source(vec![person("p1", &["1001"])], &[("1001", "Centrum")]);
        let tgt = target(vec![], vec![]);
        let e = explained(&config, &src, &tgt, "p1@example.com").unwrap();
        assert_eq!(e.person.id, "p1");
        let landed = e.communities[0].target.as_ref().expect("placed");
        assert_eq!(landed.id, "new:community:1001");
        assert!(
            e.communities[0]
                .rule
                .rule
                .contains("is created by this plan"),
            "{}",
            e.communities[0].rule.rule
        );
        assert_eq!(e.actions.len(), 1, "the invite");
    }

    #[test]
    fn an_exclusion_ends_the_path_and_earlier_rules_did_not_match() {
        let mut config = testing::config();
        let rule = |reason: &str, community: &str| ExclusionRule {
            reason: reason.to_owned(),
            person: None,
            community: Some(community.to_owned()),
            function: None,
            attribute: None,
            equals: None,
            matches: None,
        };
        config.exclude = vec![rule("not here", "2*"), rule("head office", "9000")];
        let src = source(vec![person("p1", &["9000"])], &[]);
        let tgt = target(vec![account("u1", "p1", &[])], vec![]);
        let e = explained(&config, &src, &tgt, "p1").unwrap();
        assert!(!e.in_scope);
        let outcomes: Vec<(Outcome, bool)> =
            e.scope.iter().map(|s| (s.outcome, s.decisive)).collect();
        assert_eq!(
            outcomes,
            [(Outcome::NotMatched, false), (Outcome::Matched, true)]
        );
        assert_eq!(e.out_of_scope.as_deref(), Some("excluded: head office"));
        assert_eq!(e.actions[0].kind(), crate::vocabulary::ActionKind::Remove);
        assert_eq!(e.account.as_deref(), Some("account u1"));
    }

    #[test]
    fn unmapped_falls_to_the_policy_and_someone_gone_is_explained_by_the_account() {
        let config = testing::config();
        let src = source(vec![person("p1", &["1001"])], &[("1001", "Centrum")]);
        let tgt = target(vec![account("u9", "gone", &[])], vec![]);
        let e = explained(&config, &src, &tgt, "p1").unwrap();
        assert!(
            e.communities[0]
                .rule
                .rule
                .ends_with("policy.unmapped_communities: hold")
        );
        assert_eq!(e.communities[0].rule.location, None);
        assert_eq!(e.communities[0].target, None, "held");
        // What is about the community (everyone it holds) is the plan's to say.
        assert!(e.diagnostics.is_empty(), "{:?}", e.diagnostics);

        let e = explained(&config, &src, &tgt, "gone").unwrap();
        assert!(!e.person.in_source);
        assert_eq!(e.actions[0].kind(), crate::vocabulary::ActionKind::Remove);
        assert!(matches!(
            explained(&config, &src, &tgt, "nobody"),
            Err(ExplainError::NotFound(_))
        ));
    }

    /// Regression (issue 18): explain found a diagnostic about several people by reading their
    /// identifiers in its message, which names five and "2 more": the seventh person without
    /// an e-mail address was told nothing about it.
    #[test]
    fn a_diagnostic_about_many_people_is_found_for_each_of_them() {
        let config = testing::config();
        let people: Vec<Person> = (1..=7)
            .map(|i| Person {
                email: None,
                ..person(&format!("p{i}"), &["1001"])
            })
            .collect();
        let src = source(people, &[("1001", "Centrum")]);
        let tgt = target(vec![], vec![]);
        for id in ["p1", "p7"] {
            let e = explained(&config, &src, &tgt, id).unwrap();
            assert!(
                e.diagnostics
                    .iter()
                    .any(|d| d.kind == crate::vocabulary::DiagnosticKind::MissingEmail),
                "{id}: {:?}",
                e.diagnostics
            );
        }
    }
}
