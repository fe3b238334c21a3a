//! Mapping: which target community or function group each source identifier lands in, what the
//! unmapped policies create or hold, and which managed target groups lost their source.
//!
//! Everything is decided once per distinct source identifier (a few thousand), never per person
//! (up to a million): the engine then places each person with hash lookups.
//!
//! Rules (design.md 5–8): groups are compared by **identifier, never by name**. The effective
//! mapping of a source identifier is the first YAML mapping whose `source` matches it (its target
//! looked up by name), else the target group that records the identifier in its `source_ids`,
//! else the unmapped policy. Existing target groups are never renamed.

use foldhash::{HashMap, HashMapExt, HashSet};

use serde_json::{Value, json};

use crate::config::{
    Config, FunctionSourceField, ManagedField, UnmappedFunctionAction, UnmappedFunctionPolicy,
    UnmappedPolicy,
};
use crate::model::{Person, SourceGroup, SourceSnapshot, TargetGroup, TargetSnapshot};
use crate::plan::{Action, ActionKind, Change, Diagnostic, DiagnosticKind, GroupRef, Severity};
use crate::scope::{Patterns, Scope, ScopedPerson, is_glob, people, people_are};

/// Where one source identifier lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolved {
    /// In this group (index into [`Groups::refs`]).
    Group(u32),
    /// Nowhere: unmapped under `hold`/`error`, or its mapping's target is missing.
    Held,
}

/// The target groups of one kind (communities or function groups), existing and planned, and
/// where each source identifier in use lands.
#[derive(Debug, Clone)]
pub struct Groups<'a> {
    /// Existing target groups (in target order), then the groups this plan creates (with ids
    /// `new:<subject>`).
    pub refs: Vec<GroupRef>,
    /// Position of each group when sorted by name then id: plans list groups in that order.
    rank: Vec<u32>,
    by_target_id: HashMap<&'a str, u32>,
    resolved: HashMap<&'a str, Resolved>,
}

impl<'a> Groups<'a> {
    /// The group with target id `id`.
    pub fn index_of(&self, id: &str) -> Option<u32> {
        self.by_target_id.get(id).copied()
    }

    /// Where source identifier `id` lands; `None` for identifiers no in-scope person uses.
    pub fn resolve(&self, id: &str) -> Option<Resolved> {
        self.resolved.get(id).copied()
    }

    /// Sorts group indices by name then id and drops duplicates.
    pub fn sort(&self, groups: &mut Vec<u32>) {
        groups.sort_unstable_by_key(|g| self.rank.get(*g as usize).copied().unwrap_or(u32::MAX));
        groups.dedup();
    }

    /// The reference of group `g`.
    pub fn get(&self, g: u32) -> &GroupRef {
        &self.refs[g as usize]
    }

    /// Appends the groups `ids` land in to `out`; true when some identifier lands nowhere.
    fn place<'s>(&self, ids: impl Iterator<Item = &'s str>, out: &mut Vec<u32>) -> bool {
        let mut held = false;
        for id in ids {
            match self.resolved.get(id) {
                Some(Resolved::Group(g)) => out.push(*g),
                _ => held = true,
            }
        }
        held
    }
}

/// Function groups: the groups plus where they come from and the fallback bucket.
#[derive(Debug, Clone)]
pub struct FunctionGroups<'a> {
    /// The groups.
    pub groups: Groups<'a>,
    /// Functions or departments.
    pub from: FunctionSourceField,
    /// The fallback group ("No function"), when configured and someone lands in it.
    pub fallback: Option<u32>,
}

impl FunctionGroups<'_> {
    /// The source identifiers that make up a person's function groups.
    pub fn source_ids<'p>(&self, p: &'p Person) -> &'p [String] {
        match self.from {
            FunctionSourceField::Function => &p.functions,
            FunctionSourceField::Department => &p.departments,
        }
    }
}

/// The mapping of one plan.
#[derive(Debug, Clone)]
pub struct Mapping<'a> {
    /// Communities; `None` when `communities` is not a managed field.
    pub communities: Option<Groups<'a>>,
    /// Function groups; `None` when functions are not synced (no `functions` section, or
    /// `function_groups` is not a managed field).
    pub functions: Option<FunctionGroups<'a>>,
    /// `create_*` and `remove_*` group actions.
    pub actions: Vec<Action>,
    /// Mapping diagnostics.
    pub diagnostics: Vec<Diagnostic>,
}

impl<'a> Mapping<'a> {
    /// A person's target communities into `out` (sorted by name, then id). Source communities
    /// that land nowhere (held, or their mapping's target is missing) are left out.
    pub fn desired_communities(&self, scope: &Scope<'a>, p: &ScopedPerson<'a>, out: &mut Vec<u32>) {
        out.clear();
        if let Some(groups) = &self.communities {
            groups.place(scope.communities(p).iter().copied(), out);
            groups.sort(out);
        }
    }

    /// A person's target function groups into `out` (sorted by name, then id). A person with no
    /// functions at all lands in the fallback group when there is one. Returns true when some
    /// function lands nowhere.
    pub fn desired_function_groups(&self, p: &Person, out: &mut Vec<u32>) -> bool {
        out.clear();
        let Some(f) = &self.functions else {
            return false;
        };
        let ids = f.source_ids(p);
        let held = f.groups.place(ids.iter().map(String::as_str), out);
        if ids.is_empty()
            && let Some(fb) = f.fallback
        {
            out.push(fb);
        }
        f.groups.sort(out);
        held
    }
}

/// What to do with a source identifier that no mapping covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unmapped<'a> {
    /// Create a group with the source name; missing mapping targets are created too.
    Create,
    /// Place no one there (communities).
    Hold,
    /// Fail the plan.
    Error,
    /// Place such people in this function group. It is created when missing whatever the
    /// policy: the configuration names it explicitly, so it is wanted (unlike a mapping target
    /// that may be a typo, which only `create` creates).
    Fallback(&'a str),
}

/// The two kinds of groups, for wording and pointers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Community,
    Function(FunctionSourceField),
}

impl Kind {
    pub(crate) fn noun(self) -> &'static str {
        match self {
            Kind::Community => "community",
            Kind::Function(FunctionSourceField::Function) => "function",
            Kind::Function(FunctionSourceField::Department) => "department",
        }
    }
    pub(crate) fn group_noun(self) -> &'static str {
        match self {
            Kind::Community => "community",
            Kind::Function(_) => "function group",
        }
    }
    fn create(self) -> ActionKind {
        match self {
            Kind::Community => ActionKind::CreateCommunity,
            Kind::Function(_) => ActionKind::CreateFunctionGroup,
        }
    }
    fn remove(self) -> ActionKind {
        match self {
            Kind::Community => ActionKind::RemoveCommunity,
            Kind::Function(_) => ActionKind::RemoveFunctionGroup,
        }
    }
    fn unmapped_diag(self) -> DiagnosticKind {
        match self {
            Kind::Community => DiagnosticKind::UnmappedCommunity,
            Kind::Function(_) => DiagnosticKind::UnmappedFunction,
        }
    }
    fn create_hint(self) -> &'static str {
        match self {
            Kind::Community => "policy.unmapped_communities: create",
            Kind::Function(_) => "functions.unmapped: create",
        }
    }
}

/// One YAML mapping entry, of either kind.
struct Entry<'a> {
    source: &'a [String],
    target: &'a str,
    name: Option<&'a str>,
    pointer: String,
}

/// Everything the resolution of one kind needs.
struct KindInput<'a, 'c> {
    kind: Kind,
    config: &'c Config,
    entries: Vec<Entry<'a>>,
    target_groups: &'a [TargetGroup],
    /// Source identifiers in use by in-scope people → number of those people.
    used: HashMap<&'a str, usize>,
    /// Source identifiers that exist in the source.
    known: &'c HashSet<&'a str>,
    /// Source names by identifier.
    names: &'c HashMap<&'a str, &'a str>,
    unmapped: Unmapped<'a>,
    /// In-scope people without any identifier of this kind (they land in the fallback).
    without: usize,
    /// Where the unmapped policy is configured.
    policy_pointer: &'static str,
}

/// A group this plan creates.
struct NewGroup<'a> {
    index: u32,
    name: String,
    /// Created because the configuration names it as the fallback.
    fallback: bool,
    /// Source identifiers in use that land in it.
    resolved_ids: Vec<&'a str>,
}

/// Groups looked up by target name, created by this plan when missing.
struct NewByName<'a> {
    target_groups: &'a [TargetGroup],
    /// Existing target groups by name; several groups may share one (rule 5 creates a group per
    /// identifier even when the name is taken).
    existing: HashMap<&'a str, Vec<u32>>,
    /// Created groups by name → index into `groups`.
    index_of: HashMap<&'a str, usize>,
    groups: Vec<NewGroup<'a>>,
}

impl<'a> NewByName<'a> {
    /// The group named `name` for source identifier `id`: existing, or created by this plan
    /// (once per name). Of several groups with that name, the one that records `id` wins, else
    /// the first: a group this plan creates for a mapping records its identifiers, so the next
    /// plan finds the same group again.
    fn get_or_create(
        &mut self,
        name: &'a str,
        id: Option<&str>,
        fallback: bool,
        refs: &mut Vec<GroupRef>,
    ) -> u32 {
        if let Some(candidates) = self.existing.get(name) {
            let records_id = |g: &&u32| {
                id.is_some_and(|id| {
                    self.target_groups[**g as usize]
                        .source_ids
                        .iter()
                        .any(|s| s == id)
                })
            };
            if let Some(g) = candidates.iter().find(records_id).or(candidates.first()) {
                return *g;
            }
        }
        let groups = &mut self.groups;
        let n = *self.index_of.entry(name).or_insert_with(|| {
            let index = index(refs.len());
            refs.push(GroupRef {
                id: String::new(),
                name: name.to_owned(),
            });
            groups.push(NewGroup {
                index,
                name: name.to_owned(),
                fallback,
                resolved_ids: Vec::new(),
            });
            groups.len() - 1
        });
        groups[n].fallback |= fallback;
        groups[n].index
    }

    /// Records that source identifier `id` lands in the created group `name`.
    fn note_resolved(&mut self, name: &str, id: &'a str) {
        if let Some(n) = self.index_of.get(name) {
            self.groups[*n].resolved_ids.push(id);
        }
    }
}

struct KindOutput<'a> {
    groups: Groups<'a>,
    fallback: Option<u32>,
    actions: Vec<Action>,
    diagnostics: Vec<Diagnostic>,
}

/// Resolves the mapping of communities and function groups, plans group creation and removal,
/// and reports mapping problems.
pub fn resolve<'a>(
    config: &'a Config,
    source: &'a SourceSnapshot,
    target: &'a TargetSnapshot,
    scope: &Scope<'a>,
) -> Mapping<'a> {
    let managed = |f| config.policy.managed_fields.contains(&f);
    let mut actions = Vec::new();
    let mut diagnostics = Vec::new();

    let communities = managed(ManagedField::Communities).then(|| {
        let mut used: HashMap<&str, usize> = HashMap::new();
        for p in &scope.persons {
            for c in scope.communities(p) {
                *used.entry(c).or_default() += 1;
            }
        }
        let input = KindInput {
            kind: Kind::Community,
            config,
            entries: config
                .communities
                .iter()
                .enumerate()
                .map(|(i, m)| Entry {
                    source: m.source.as_slice(),
                    target: &m.target,
                    name: m.name.as_deref(),
                    pointer: format!("/communities/{i}"),
                })
                .collect(),
            target_groups: &target.communities,
            used,
            known: &scope.known_communities,
            names: &scope.community_names,
            unmapped: match config.policy.unmapped_communities {
                UnmappedPolicy::Create => Unmapped::Create,
                UnmappedPolicy::Hold => Unmapped::Hold,
                UnmappedPolicy::Error => Unmapped::Error,
            },
            without: 0,
            policy_pointer: "/policy/unmapped_communities",
        };
        let out = resolve_kind(input, target);
        actions.extend(out.actions);
        diagnostics.extend(out.diagnostics);
        out.groups
    });

    let functions = config
        .functions
        .as_ref()
        .filter(|_| managed(ManagedField::FunctionGroups))
        .map(|fc| {
            let pick = |p: &'a Person| -> &'a [String] {
                match fc.from {
                    FunctionSourceField::Function => &p.functions,
                    FunctionSourceField::Department => &p.departments,
                }
            };
            let listed: &[SourceGroup] = match fc.from {
                FunctionSourceField::Function => &source.functions,
                FunctionSourceField::Department => &source.departments,
            };
            let mut names: HashMap<&str, &str> = listed
                .iter()
                .map(|g| (g.id.as_str(), g.name.as_str()))
                .collect();
            for p in &source.persons {
                for f in pick(p) {
                    names.entry(f).or_insert(f);
                }
            }
            let known: HashSet<&str> = names.keys().copied().collect();
            let mut used: HashMap<&str, usize> = HashMap::new();
            let mut without = 0;
            for sp in &scope.persons {
                let ids = pick(sp.person);
                if ids.is_empty() {
                    without += 1;
                }
                for (i, f) in ids.iter().enumerate() {
                    if !ids[..i].contains(f) {
                        *used.entry(f.as_str()).or_default() += 1;
                    }
                }
            }
            let input = KindInput {
                kind: Kind::Function(fc.from),
                config,
                entries: fc
                    .map
                    .iter()
                    .enumerate()
                    .map(|(i, m)| Entry {
                        source: m.source.as_slice(),
                        target: &m.target,
                        name: m.name.as_deref(),
                        pointer: format!("/functions/map/{i}"),
                    })
                    .collect(),
                target_groups: &target.function_groups,
                used,
                known: &known,
                names: &names,
                unmapped: match &fc.unmapped {
                    UnmappedFunctionPolicy::Simple(UnmappedFunctionAction::Create) => {
                        Unmapped::Create
                    }
                    UnmappedFunctionPolicy::Simple(UnmappedFunctionAction::Error) => {
                        Unmapped::Error
                    }
                    UnmappedFunctionPolicy::Fallback(f) => Unmapped::Fallback(&f.fallback),
                },
                without,
                policy_pointer: "/functions/unmapped",
            };
            let out = resolve_kind(input, target);
            actions.extend(out.actions);
            diagnostics.extend(out.diagnostics);
            FunctionGroups {
                groups: out.groups,
                from: fc.from,
                fallback: out.fallback,
            }
        });

    Mapping {
        communities,
        functions,
        actions,
        diagnostics,
    }
}

/// Resolves one kind of group.
fn resolve_kind<'a>(input: KindInput<'a, '_>, target: &'a TargetSnapshot) -> KindOutput<'a> {
    let KindInput {
        kind,
        config,
        entries,
        target_groups,
        used,
        known,
        names,
        unmapped,
        without,
        policy_pointer,
    } = input;
    let loc = |pointer: &str| config.locations.get(pointer);

    let mut refs: Vec<GroupRef> = target_groups
        .iter()
        .map(|g| GroupRef {
            id: g.id.clone(),
            name: g.name.clone(),
        })
        .collect();
    let mut by_target_id: HashMap<&str, u32> = HashMap::new();
    let mut by_name: HashMap<&str, Vec<u32>> = HashMap::new();
    let mut by_source_id: HashMap<&str, u32> = HashMap::new();
    for (i, g) in target_groups.iter().enumerate() {
        let i = index(i);
        by_target_id.entry(&g.id).or_insert(i);
        by_name.entry(&g.name).or_default().push(i);
        for s in &g.source_ids {
            by_source_id.entry(s).or_insert(i);
        }
    }

    // Every source pattern of every entry, flattened; pattern index → entry index.
    let mut entry_of = Vec::new();
    let patterns = Patterns::new(
        entries
            .iter()
            .enumerate()
            .flat_map(|(e, entry)| entry.source.iter().map(move |s| (e, s.as_str())))
            .map(|(e, s)| {
                entry_of.push(e);
                s
            })
            .collect::<Vec<_>>(),
        false,
    );
    let first_entry = |id: &str| patterns.first_match(id).map(|p| entry_of[p]);

    let can_create = matches!(unmapped, Unmapped::Create);
    let fallback_name = match unmapped {
        Unmapped::Fallback(name) => Some(name),
        _ => None,
    };

    let mut created = NewByName {
        target_groups,
        existing: by_name,
        index_of: HashMap::new(),
        groups: Vec::new(),
    };

    let mut fallback = None;
    if let Some(name) = fallback_name
        && without > 0
    {
        fallback = Some(created.get_or_create(name, None, true, &mut refs));
    }

    let mut used_ids: Vec<(&str, usize)> = used.iter().map(|(k, v)| (*k, *v)).collect();
    used_ids.sort_unstable();
    let mut resolved: HashMap<&str, Resolved> = HashMap::with_capacity(used_ids.len());
    let mut missing_count = vec![0usize; entries.len()];
    let mut unmapped_ids: Vec<(&str, usize)> = Vec::new();
    let mut unmapped_creates: Vec<(u32, &str)> = Vec::new();

    for &(id, count) in &used_ids {
        let r = if let Some(e) = first_entry(id) {
            let name = entries[e].target;
            if created.existing.contains_key(name) || can_create || fallback_name == Some(name) {
                let is_fallback = fallback_name == Some(name);
                let g = created.get_or_create(name, Some(id), is_fallback, &mut refs);
                created.note_resolved(name, id);
                Resolved::Group(g)
            } else {
                missing_count[e] += count;
                Resolved::Held
            }
        } else if let Some(g) = by_source_id.get(id) {
            Resolved::Group(*g)
        } else {
            unmapped_ids.push((id, count));
            match unmapped {
                Unmapped::Create => {
                    let g = index(refs.len());
                    let name = names.get(id).copied().unwrap_or(id);
                    refs.push(GroupRef {
                        id: new_id(id),
                        name: name.to_owned(),
                    });
                    unmapped_creates.push((g, id));
                    Resolved::Group(g)
                }
                Unmapped::Fallback(name) => {
                    let g = created.get_or_create(name, None, true, &mut refs);
                    fallback = Some(g);
                    Resolved::Group(g)
                }
                Unmapped::Hold | Unmapped::Error => Resolved::Held,
            }
        };
        resolved.insert(id, r);
    }

    let mut actions = Vec::new();
    let mut diagnostics = Vec::new();

    // Groups created for a target name (YAML mapping targets and the fallback).
    for ng in &created.groups {
        // The mapped literal identifiers present in the source whose mapping targets this
        // name, then identifiers that reached it through a glob.
        let mut source_ids: Vec<&str> = Vec::new();
        for entry in entries.iter().filter(|e| e.target == ng.name) {
            for s in entry.source {
                let s = s.as_str();
                let lands_here = first_entry(s).is_some_and(|e| entries[e].target == ng.name);
                if !is_glob(s) && known.contains(s) && lands_here && !source_ids.contains(&s) {
                    source_ids.push(s);
                }
            }
        }
        let mut via_glob: Vec<&str> = ng
            .resolved_ids
            .iter()
            .copied()
            .filter(|s| !source_ids.contains(s))
            .collect();
        via_glob.sort_unstable();
        source_ids.extend(via_glob);
        let subject = match (ng.fallback, source_ids.first()) {
            (false, Some(first)) => (*first).to_owned(),
            _ => ng.name.clone(),
        };
        refs[ng.index as usize].id = new_id(&subject);
        let reason = if ng.fallback {
            format!(
                "the fallback {} for unmapped {}s does not exist yet",
                kind.group_noun(),
                kind.noun()
            )
        } else {
            format!(
                "a mapping targets {} \"{}\", which does not exist yet",
                kind.group_noun(),
                ng.name
            )
        };
        actions.push(create_action(kind, subject, &ng.name, &source_ids, reason));
    }
    for (g, id) in &unmapped_creates {
        let name = refs[*g as usize].name.clone();
        let reason = format!(
            "{} {id} \"{name}\" is new in the source and not mapped",
            kind.noun()
        );
        actions.push(create_action(kind, (*id).to_owned(), &name, &[id], reason));
    }

    // Unmapped identifiers.
    for &(id, count) in &unmapped_ids {
        let name = names.get(id).copied().unwrap_or(id);
        let noun = kind.noun();
        let (severity, message, hint) = match unmapped {
            Unmapped::Create => continue,
            Unmapped::Hold => (
                Severity::Warning,
                format!(
                    "{} not placed: {noun} {id} \"{name}\" is not mapped",
                    people_are(count)
                ),
                format!(
                    "map it: {{ source: \"{id}\", target: <{}> }}, or set {}",
                    kind.group_noun(),
                    kind.create_hint()
                ),
            ),
            Unmapped::Fallback(fb) => (
                Severity::Warning,
                format!(
                    "{} would land in {fb}: {noun} {id} \"{name}\" is not mapped",
                    people(count)
                ),
                format!(
                    "map it: {{ source: \"{id}\", target: <{}> }}",
                    kind.group_noun()
                ),
            ),
            Unmapped::Error => (
                Severity::Error,
                format!(
                    "{noun} {id} \"{name}\" is not mapped ({}); the unmapped policy is error",
                    people(count)
                ),
                format!(
                    "map it: {{ source: \"{id}\", target: <{}> }}",
                    kind.group_noun()
                ),
            ),
        };
        diagnostics.push(Diagnostic {
            kind: kind.unmapped_diag(),
            severity,
            message,
            subject: Some(id.to_owned()),
            count,
            hint: Some(hint),
            location: loc(policy_pointer),
        });
    }

    // Stale mappings, and renamed identifiers.
    let mut stale: Vec<(usize, &str)> = Vec::new();
    for (e, entry) in entries.iter().enumerate() {
        for s in entry.source {
            if !is_glob(s) && !known.contains(s.as_str()) {
                stale.push((e, s));
                diagnostics.push(Diagnostic {
                    kind: DiagnosticKind::StaleMapping,
                    severity: Severity::Warning,
                    message: format!(
                        "the mapping to \"{}\" names {} {s}, which is not in the source",
                        entry.target,
                        kind.noun()
                    ),
                    subject: Some(s.clone()),
                    count: 0,
                    hint: Some(format!("remove {s} from the mapping")),
                    location: loc(&entry.pointer),
                });
            }
        }
    }
    for &(id, count) in &unmapped_ids {
        let name = names.get(id).copied().unwrap_or(id);
        let renamed = stale.iter().find(|(e, _)| {
            let entry = &entries[*e];
            let same = |n: &str| n.to_lowercase() == name.to_lowercase();
            entry.name.is_some_and(same) || same(entry.target)
        });
        if let Some(&(e, old)) = renamed {
            diagnostics.push(Diagnostic {
                kind: DiagnosticKind::IdentifierChanged,
                severity: Severity::Warning,
                message: format!(
                    "{} \"{name}\": probably renamed identifier {old} → {id}; map {id} instead of creating a duplicate",
                    kind.noun()
                ),
                subject: Some(id.to_owned()),
                count,
                hint: Some(format!(
                    "replace {old} with {id} in the mapping to \"{}\"",
                    entries[e].target
                )),
                location: loc(&entries[e].pointer),
            });
        }
    }

    // Mappings whose target does not exist and will not be created.
    for (e, entry) in entries.iter().enumerate() {
        if created.existing.contains_key(entry.target)
            || can_create
            || fallback_name == Some(entry.target)
        {
            continue;
        }
        let count = missing_count[e];
        diagnostics.push(Diagnostic {
            kind: DiagnosticKind::MappingTargetMissing,
            severity: Severity::Warning,
            message: format!(
                "a mapping targets {} \"{}\", which does not exist in the target and will not be created: {} not placed there",
                kind.group_noun(),
                entry.target,
                people_are(count)
            ),
            subject: Some(entry.target.to_owned()),
            count,
            hint: Some(format!(
                "create \"{}\" in the target, correct the name, or set {}",
                entry.target,
                kind.create_hint()
            )),
            location: loc(&entry.pointer),
        });
    }

    // Managed groups whose source identifiers are all gone.
    let targeted: HashSet<&str> = entries.iter().map(|e| e.target).collect();
    let orphans: Vec<&TargetGroup> = target_groups
        .iter()
        .filter(|g| {
            g.managed
                && !g.source_ids.is_empty()
                && g.source_ids.iter().all(|s| !known.contains(s.as_str()))
                && !targeted.contains(g.name.as_str())
                && fallback_name != Some(g.name.as_str())
        })
        .collect();
    if !orphans.is_empty() {
        let members = count_members(kind, &orphans, target);
        for g in orphans {
            let ids = g.source_ids.join(", ");
            let count = members.get(g.id.as_str()).copied().unwrap_or(0);
            let reason = format!(
                "its source {} {ids} {} no longer in the source",
                plural(kind.noun(), g.source_ids.len()),
                if g.source_ids.len() == 1 { "is" } else { "are" },
            );
            if kind == Kind::Community && !config.safety.allow_community_removal {
                diagnostics.push(Diagnostic {
                    kind: DiagnosticKind::OrphanedCommunity,
                    severity: Severity::Warning,
                    message: format!(
                        "community \"{}\" is kept although {reason}; {} {} in it",
                        g.name,
                        people(count),
                        if count == 1 { "is" } else { "are" }
                    ),
                    subject: g.source_ids.first().cloned(),
                    count,
                    hint: Some(
                        "removing a community destroys its messages and shift takeovers: remove it by hand, or set safety.allow_community_removal: true".to_owned(),
                    ),
                    location: loc("/safety/allow_community_removal"),
                });
                continue;
            }
            let mut changes = std::collections::BTreeMap::new();
            changes.insert(
                "name".to_owned(),
                Change {
                    from: Value::String(g.name.clone()),
                    to: Value::Null,
                },
            );
            actions.push(Action {
                kind: kind.remove(),
                subject: g
                    .source_ids
                    .first()
                    .cloned()
                    .unwrap_or_else(|| g.id.clone()),
                target_id: Some(g.id.clone()),
                name: g.name.clone(),
                changes,
                reason,
            });
        }
    }

    let mut order: Vec<u32> = (0..index(refs.len())).collect();
    order.sort_by(|a, b| {
        let (a, b) = (&refs[*a as usize], &refs[*b as usize]);
        (&a.name, &a.id).cmp(&(&b.name, &b.id))
    });
    let mut rank = vec![0u32; refs.len()];
    for (pos, g) in order.into_iter().enumerate() {
        rank[g as usize] = index(pos);
    }

    KindOutput {
        groups: Groups {
            refs,
            rank,
            by_target_id,
            resolved,
        },
        fallback,
        actions,
        diagnostics,
    }
}

/// Members of each orphaned group: accounts that still carry personal data.
fn count_members<'t>(
    kind: Kind,
    groups: &[&'t TargetGroup],
    target: &TargetSnapshot,
) -> HashMap<&'t str, usize> {
    let mut members: HashMap<&str, usize> = groups.iter().map(|g| (g.id.as_str(), 0)).collect();
    for a in &target.accounts {
        if a.status == crate::model::AccountStatus::Anonymized {
            continue;
        }
        let ids = match kind {
            Kind::Community => &a.communities,
            Kind::Function(_) => &a.function_groups,
        };
        for id in ids {
            if let Some(n) = members.get_mut(id.as_str()) {
                *n += 1;
            }
        }
    }
    members
}

fn create_action(
    kind: Kind,
    subject: String,
    name: &str,
    source_ids: &[&str],
    reason: String,
) -> Action {
    let mut changes = std::collections::BTreeMap::new();
    changes.insert(
        "name".to_owned(),
        Change {
            from: Value::Null,
            to: Value::String(name.to_owned()),
        },
    );
    changes.insert(
        "source_ids".to_owned(),
        Change {
            from: json!([]),
            to: json!(source_ids),
        },
    );
    Action {
        kind: kind.create(),
        subject,
        target_id: None,
        name: name.to_owned(),
        changes,
        reason,
    }
}

/// `new:<subject>`: how actions refer to a group created earlier in the same plan.
fn new_id(subject: &str) -> String {
    format!("{}{subject}", GroupRef::NEW_PREFIX)
}

fn index(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

fn plural(noun: &str, n: usize) -> String {
    if n == 1 {
        format!("{noun} identifier")
    } else {
        format!("{noun} identifiers")
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{
        CommunityMapping, FallbackPolicy, FunctionMapping, FunctionSourceField, FunctionsConfig,
        OneOrMany, UnmappedFunctionAction, UnmappedFunctionPolicy, UnmappedPolicy,
    };
    use crate::model::TargetSnapshot;
    use crate::plan::{ActionKind, Diagnostic, DiagnosticKind, Plan, Severity};
    use crate::scope::testing::{account, config, group, locate, person, plan, sg, source, target};
    use serde_json::json;

    fn map(source: &[&str], target: &str) -> CommunityMapping {
        CommunityMapping {
            source: OneOrMany::Many(source.iter().map(|s| (*s).to_owned()).collect()),
            target: target.to_owned(),
            name: None,
            todo: None,
        }
    }

    fn fmap(source: &str, target: &str) -> FunctionMapping {
        FunctionMapping {
            source: OneOrMany::One(source.to_owned()),
            target: target.to_owned(),
            name: None,
            todo: None,
        }
    }

    fn diags(plan: &Plan, kind: DiagnosticKind) -> Vec<&Diagnostic> {
        plan.diagnostics.iter().filter(|d| d.kind == kind).collect()
    }

    fn kinds(plan: &Plan) -> Vec<(ActionKind, &str)> {
        plan.actions
            .iter()
            .map(|a| (a.kind, a.subject.as_str()))
            .collect()
    }

    /// The target ids of an action's `changes.<field>.to`.
    fn to_ids(plan: &Plan, kind: ActionKind, field: &str) -> Vec<String> {
        let action = plan
            .actions
            .iter()
            .find(|a| a.kind == kind)
            .expect("action");
        action.changes[field]
            .to
            .as_array()
            .expect("list")
            .iter()
            .map(|r| r["id"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    #[test]
    fn an_unknown_identifier_is_new_even_when_a_community_has_its_name() {
        let mut c = config();
        c.policy.unmapped_communities = UnmappedPolicy::Create;
        let s = source(vec![person("1", &["1007"])], &[("1007", "Utrecht")]);
        let t = target(vec![], vec![group("t1", "Utrecht", &[], false)]);
        let p = plan(&c, &s, &t);
        assert_eq!(
            kinds(&p),
            [
                (ActionKind::CreateCommunity, "1007"),
                (ActionKind::Invite, "1")
            ]
        );
        let create = &p.actions[0];
        assert_eq!(create.name, "Utrecht");
        assert_eq!(create.changes["source_ids"].to, json!(["1007"]));
        assert_eq!(to_ids(&p, ActionKind::Invite, "communities"), ["new:1007"]);
    }

    #[test]
    fn the_first_yaml_mapping_wins_over_later_ones_and_over_recorded_source_ids() {
        let mut c = config();
        c.communities = vec![map(&["10*"], "Amsterdam"), map(&["1001"], "Utrecht")];
        let s = source(vec![person("1", &["1001"]), person("2", &["2001"])], &[]);
        let t = target(
            vec![],
            vec![
                group("t1", "Amsterdam", &[], false),
                group("t2", "Utrecht", &["1001"], true),
                group("t3", "Delivery", &["2001"], true),
            ],
        );
        let p = plan(&c, &s, &t);
        let invites: Vec<_> = p
            .actions
            .iter()
            .map(|a| (a.subject.as_str(), a.changes["communities"].to.clone()))
            .collect();
        assert_eq!(
            invites,
            [
                ("1", json!([{ "id": "t1", "name": "Amsterdam" }])),
                ("2", json!([{ "id": "t3", "name": "Delivery" }])),
            ]
        );
    }

    #[test]
    fn a_missing_mapping_target_is_created_under_create_and_reported_otherwise() {
        let mut c = config();
        c.communities = vec![map(&["2001", "2002", "2999"], "Delivery")];
        locate(
            &mut c,
            "communities",
            "communities.yaml",
            "communities:\n  - { source: [\"2001\", \"2002\", \"2999\"], target: Delivery }\n",
        );
        let s = source(
            vec![person("1", &["2002"]), person("2", &["2002"])],
            &[("2001", "Delivery A"), ("2002", "Delivery B")],
        );
        let t = target(vec![], vec![]);

        let held = plan(&c, &s, &t);
        assert!(
            held.actions.is_empty(),
            "nobody is placed: {:?}",
            kinds(&held)
        );
        let missing = diags(&held, DiagnosticKind::MappingTargetMissing);
        assert_eq!(missing.len(), 1);
        assert_eq!(
            (missing[0].count, missing[0].severity),
            (2, Severity::Warning)
        );
        assert_eq!(missing[0].location.as_ref().map(|l| l.line), Some(2));

        c.policy.unmapped_communities = UnmappedPolicy::Create;
        let created = plan(&c, &s, &t);
        assert_eq!(
            kinds(&created),
            [
                (ActionKind::CreateCommunity, "2001"),
                (ActionKind::Invite, "1"),
                (ActionKind::Invite, "2")
            ]
        );
        assert_eq!(created.actions[0].name, "Delivery");
        assert_eq!(
            created.actions[0].changes["source_ids"].to,
            json!(["2001", "2002"])
        );
        assert_eq!(
            to_ids(&created, ActionKind::Invite, "communities"),
            ["new:2001"]
        );
        assert!(diags(&created, DiagnosticKind::MappingTargetMissing).is_empty());
    }

    #[test]
    fn unmapped_communities_hold_or_fail_the_plan() {
        let mut c = config();
        let s = source(
            vec![person("1", &["1007"]), person("2", &["1007", "1001"])],
            &[("1007", "Utrecht")],
        );
        let t = target(vec![], vec![group("t1", "Amsterdam", &["1001"], true)]);
        let held = plan(&c, &s, &t);
        assert_eq!(
            kinds(&held),
            [(ActionKind::Invite, "2")],
            "1 has nowhere to go"
        );
        assert_eq!(to_ids(&held, ActionKind::Invite, "communities"), ["t1"]);
        let d = diags(&held, DiagnosticKind::UnmappedCommunity);
        assert_eq!(d.len(), 1);
        assert_eq!(
            d[0].message,
            "2 people are not placed: community 1007 \"Utrecht\" is not mapped"
        );
        assert_eq!((d[0].severity, d[0].count), (Severity::Warning, 2));
        assert!(d[0].hint.as_deref().is_some_and(|h| h.contains("1007")));
        assert!(!held.has_errors());

        c.policy.unmapped_communities = UnmappedPolicy::Error;
        let failed = plan(&c, &s, &t);
        assert_eq!(
            diags(&failed, DiagnosticKind::UnmappedCommunity)[0].severity,
            Severity::Error
        );
        assert!(failed.has_errors());
    }

    fn functions(unmapped: UnmappedFunctionPolicy, map: Vec<FunctionMapping>) -> FunctionsConfig {
        FunctionsConfig {
            from: FunctionSourceField::Function,
            unmapped,
            map,
        }
    }

    fn fallback(name: &str) -> UnmappedFunctionPolicy {
        UnmappedFunctionPolicy::Fallback(FallbackPolicy {
            fallback: name.to_owned(),
        })
    }

    fn with_functions(ids: &[&str], p: crate::model::Person) -> crate::model::Person {
        crate::model::Person {
            functions: ids.iter().map(|f| (*f).to_owned()).collect(),
            ..p
        }
    }

    fn fg_target(groups: Vec<crate::model::TargetGroup>) -> TargetSnapshot {
        TargetSnapshot {
            accounts: vec![],
            communities: vec![group("t1", "Amsterdam", &["1001"], true)],
            function_groups: groups,
        }
    }

    #[test]
    fn unmapped_functions_land_in_the_fallback_group() {
        let mut c = config();
        c.functions = Some(functions(
            fallback("No function"),
            vec![fmap("F-GR", "Guest Relations")],
        ));
        let mut s = source(
            vec![
                with_functions(&["F-NEW"], person("1", &["1001"])),
                with_functions(&["F-NEW", "F-GR"], person("2", &["1001"])),
                with_functions(&[], person("3", &["1001"])),
            ],
            &[],
        );
        s.functions = vec![
            sg("F-NEW", "Teamlead Procurement"),
            sg("F-GR", "Guest Relations"),
        ];
        let t = fg_target(vec![
            group("g1", "Guest Relations", &[], false),
            group("g2", "No function", &[], false),
        ]);
        let p = plan(&c, &s, &t);
        let fgs: Vec<_> = p
            .actions
            .iter()
            .map(|a| a.changes["function_groups"].to.clone())
            .collect();
        let no_fn = json!({ "id": "g2", "name": "No function" });
        let gr = json!({ "id": "g1", "name": "Guest Relations" });
        assert_eq!(fgs, [json!([no_fn]), json!([gr, no_fn]), json!([no_fn])]);
        let d = diags(&p, DiagnosticKind::UnmappedFunction);
        assert_eq!(d.len(), 1);
        assert_eq!(
            d[0].message,
            "2 people would land in No function: function F-NEW \"Teamlead Procurement\" is not mapped"
        );
        assert_eq!(d[0].severity, Severity::Warning);
    }

    #[test]
    fn a_person_without_functions_lands_in_the_fallback_group() {
        let mut c = config();
        c.functions = Some(functions(fallback("No function"), vec![]));
        let s = source(vec![with_functions(&[], person("1", &["1001"]))], &[]);
        let p = plan(
            &c,
            &s,
            &fg_target(vec![group("g1", "No function", &[], false)]),
        );
        assert_eq!(to_ids(&p, ActionKind::Invite, "function_groups"), ["g1"]);
        assert!(diags(&p, DiagnosticKind::UnmappedFunction).is_empty());
    }

    #[test]
    fn a_missing_fallback_group_is_created_even_without_the_create_policy() {
        let mut c = config();
        c.functions = Some(functions(fallback("No function"), vec![]));
        let s = source(
            vec![with_functions(&["F-NEW"], person("1", &["1001"]))],
            &[],
        );
        let p = plan(&c, &s, &fg_target(vec![]));
        assert_eq!(
            kinds(&p),
            [
                (ActionKind::CreateFunctionGroup, "No function"),
                (ActionKind::Invite, "1")
            ]
        );
        assert_eq!(
            to_ids(&p, ActionKind::Invite, "function_groups"),
            ["new:No function"]
        );
    }

    #[test]
    fn unmapped_functions_are_created_with_the_source_name_or_fail_the_plan() {
        let mut c = config();
        c.functions = Some(functions(
            UnmappedFunctionPolicy::Simple(UnmappedFunctionAction::Create),
            vec![fmap("F-BAR", "Bar")],
        ));
        let mut s = source(
            vec![with_functions(&["F-NEW", "F-BAR"], person("1", &["1001"]))],
            &[],
        );
        s.functions = vec![sg("F-NEW", "Teamlead Procurement"), sg("F-BAR", "Barista")];
        let p = plan(&c, &s, &fg_target(vec![]));
        let creates: Vec<_> = p
            .actions
            .iter()
            .filter(|a| a.kind == ActionKind::CreateFunctionGroup)
            .map(|a| (a.subject.as_str(), a.name.as_str()))
            .collect();
        assert_eq!(
            creates,
            [("F-BAR", "Bar"), ("F-NEW", "Teamlead Procurement")]
        );
        assert_eq!(
            to_ids(&p, ActionKind::Invite, "function_groups"),
            ["new:F-BAR", "new:F-NEW"]
        );

        c.functions = Some(functions(
            UnmappedFunctionPolicy::Simple(UnmappedFunctionAction::Error),
            vec![fmap("F-BAR", "Bar")],
        ));
        let failed = plan(&c, &s, &fg_target(vec![]));
        assert!(failed.has_errors());
        assert_eq!(
            diags(&failed, DiagnosticKind::UnmappedFunction)[0]
                .subject
                .as_deref(),
            Some("F-NEW")
        );
        let missing = diags(&failed, DiagnosticKind::MappingTargetMissing);
        assert_eq!(
            (missing.len(), missing[0].count),
            (1, 1),
            "Bar is not created under error"
        );
    }

    #[test]
    fn function_groups_can_come_from_departments() {
        let mut c = config();
        let mut f = functions(fallback("No function"), vec![fmap("D-KITCHEN", "Kitchen")]);
        f.from = FunctionSourceField::Department;
        c.functions = Some(f);
        let mut p1 = with_functions(&["F-COOK"], person("1", &["1001"]));
        p1.departments = vec!["D-KITCHEN".to_owned()];
        let s = source(vec![p1], &[]);
        let t = fg_target(vec![group("g1", "Kitchen", &[], false)]);
        let p = plan(&c, &s, &t);
        assert_eq!(to_ids(&p, ActionKind::Invite, "function_groups"), ["g1"]);
        assert!(
            diags(&p, DiagnosticKind::UnmappedFunction).is_empty(),
            "functions are ignored"
        );
    }

    #[test]
    fn without_a_functions_section_function_groups_are_left_alone() {
        let c = config();
        let s = source(
            vec![with_functions(&["F-NEW"], person("1", &["1001"]))],
            &[],
        );
        let mut t = fg_target(vec![group("g1", "Kitchen", &["F-OLD"], true)]);
        let mut a = account("u1", "1", &["t1"]);
        a.function_groups = vec!["g1".to_owned()];
        t.accounts.push(a);
        let p = plan(&c, &s, &t);
        assert!(p.actions.is_empty(), "{:?}", kinds(&p));
        assert!(diags(&p, DiagnosticKind::UnmappedFunction).is_empty());
    }

    #[test]
    fn stale_mappings_and_renamed_identifiers_are_reported() {
        let mut c = config();
        c.test_locations = vec!["Test*".to_owned()];
        c.communities = vec![
            CommunityMapping {
                name: Some("Amsterdam Centrum".to_owned()),
                ..map(&["1001"], "Amsterdam")
            },
            map(&["9001", "3*"], "Lab"),
        ];
        locate(
            &mut c,
            "communities",
            "communities.yaml",
            "communities:\n  - { source: \"1001\", target: Amsterdam, name: Amsterdam Centrum }\n  - { source: [\"9001\", \"3*\"], target: Lab }\n",
        );
        let s = source(
            vec![person("1", &["1011"]), person("2", &["1011"])],
            &[("1011", "amsterdam centrum"), ("9001", "Test kitchen")],
        );
        let t = target(vec![], vec![group("t1", "Amsterdam", &[], false)]);
        let p = plan(&c, &s, &t);
        let stale: Vec<_> = diags(&p, DiagnosticKind::StaleMapping)
            .iter()
            .map(|d| {
                (
                    d.subject.clone().unwrap_or_default(),
                    d.location.as_ref().map(|l| l.line),
                )
            })
            .collect();
        assert_eq!(
            stale,
            [("1001".to_owned(), Some(2)), ("9001".to_owned(), Some(3))],
            "a test location counts as gone; globs are never stale"
        );
        let renamed = diags(&p, DiagnosticKind::IdentifierChanged);
        assert_eq!(renamed.len(), 1);
        assert_eq!(renamed[0].subject.as_deref(), Some("1011"));
        assert_eq!(renamed[0].count, 2);
        assert!(
            renamed[0].message.contains(
                "probably renamed identifier 1001 → 1011; map 1011 instead of creating a duplicate"
            ),
            "{}",
            renamed[0].message
        );
        assert_eq!(renamed[0].location.as_ref().map(|l| l.line), Some(2));
    }

    #[test]
    fn a_renamed_identifier_is_recognised_by_the_target_name_of_a_stale_mapping_too() {
        let mut c = config();
        c.communities = vec![map(&["2001"], "Delivery")];
        let s = source(vec![person("1", &["2011"])], &[("2011", "DELIVERY")]);
        let p = plan(
            &c,
            &s,
            &target(vec![], vec![group("t1", "Delivery", &[], false)]),
        );
        let renamed = diags(&p, DiagnosticKind::IdentifierChanged);
        assert_eq!(renamed.len(), 1);
        assert!(
            renamed[0].message.contains("2001 → 2011"),
            "{}",
            renamed[0].message
        );
    }

    #[test]
    fn existing_groups_are_never_renamed() {
        let c = config();
        let s = source(vec![person("1", &["1001"])], &[("1001", "Amsterdam Zuid")]);
        let t = target(
            vec![account("u1", "1", &["t1"])],
            vec![group("t1", "Amsterdam", &["1001"], true)],
        );
        assert!(plan(&c, &s, &t).actions.is_empty());
    }

    #[test]
    fn a_managed_community_whose_source_is_gone_is_orphaned_unless_removal_is_allowed() {
        let mut c = config();
        c.communities = vec![map(&["1001"], "Mapped")];
        let s = source(vec![person("1", &["2001"])], &[("2001", "Utrecht")]);
        let t = target(
            vec![account("u1", "1", &["t2"]), account("u2", "2", &["t1"])],
            vec![
                group("t1", "Old site", &["1005"], true),
                group("t2", "Utrecht", &["2001"], true),
                group("t3", "Mapped", &["1001"], true),
                group("t4", "Manual", &["1006"], false),
                group("t5", "Manual too", &[], true),
            ],
        );
        let p = plan(&c, &s, &t);
        assert!(
            p.actions
                .iter()
                .all(|a| a.kind != ActionKind::RemoveCommunity)
        );
        let orphaned = diags(&p, DiagnosticKind::OrphanedCommunity);
        assert_eq!(
            orphaned.len(),
            1,
            "only t1: t3 is a mapping target, t4/t5 are not orgsync's"
        );
        assert_eq!(
            (orphaned[0].subject.as_deref(), orphaned[0].count),
            (Some("1005"), 1)
        );

        c.safety.allow_community_removal = true;
        let p = plan(&c, &s, &t);
        let removals: Vec<_> = p
            .actions
            .iter()
            .filter(|a| a.kind == ActionKind::RemoveCommunity)
            .map(|a| a.target_id.as_deref())
            .collect();
        assert_eq!(removals, [Some("t1")]);
        assert!(diags(&p, DiagnosticKind::OrphanedCommunity).is_empty());
    }

    #[test]
    fn a_managed_function_group_whose_source_is_gone_is_removed_but_never_the_fallback() {
        let mut c = config();
        c.functions = Some(functions(
            fallback("No function"),
            vec![fmap("F-X", "Mapped")],
        ));
        let s = source(vec![with_functions(&["F-GR"], person("1", &["1001"]))], &[]);
        let t = fg_target(vec![
            group("g1", "Guest Relations", &["F-GR"], true),
            group("g2", "Old", &["F-OLD"], true),
            group("g3", "No function", &["F-GONE"], true),
            group("g4", "Mapped", &["F-X"], true),
        ]);
        let p = plan(&c, &s, &t);
        let removals: Vec<_> = p
            .actions
            .iter()
            .filter(|a| a.kind == ActionKind::RemoveFunctionGroup)
            .map(|a| (a.subject.as_str(), a.target_id.as_deref()))
            .collect();
        assert_eq!(removals, [("F-OLD", Some("g2"))]);
    }
}
