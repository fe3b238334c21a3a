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

use std::collections::BTreeMap;

use foldhash::{HashMap, HashMapExt, HashSet};

use crate::config::{
    Config, FunctionSourceField, ManagedField, UnmappedFunctionAction, UnmappedFunctionPolicy,
    UnmappedPolicy,
};
use crate::model::{TargetGroup, TargetSnapshot};
use crate::scope::{Patterns, Scope, ScopedPerson, is_glob, people, people_are};
use crate::vocabulary::{
    Action, ActionKind, Changes, CreateGroup, Diagnostic, DiagnosticKind, FieldChange, GroupRef,
    Rekey, RemoveGroup, Severity,
};

/// Where one source identifier lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolved {
    /// In this group (index into [`Groups::refs`]).
    Group(u32),
    /// Unmapped under `functions.unmapped: { fallback: … }`: the person lands in the fallback
    /// group only when none of their functions is mapped.
    Fallback,
    /// Nowhere: unmapped under `hold`/`error`, or held as a probably renamed identifier.
    Held,
}

/// The target groups of one kind (communities or function groups), existing and planned, and
/// where each source identifier in use lands.
#[derive(Debug, Clone)]
pub struct Groups<'a> {
    /// Existing target groups (in target order), then the groups this plan creates (with ids
    /// `new:<kind>:<subject>`).
    pub refs: Vec<GroupRef>,
    /// Per group: orgsync manages its memberships (a mapping names it, orgsync created it, it is
    /// the fallback, or this plan creates it; with partial sync, communities only within the
    /// include-list). Memberships of every other group are left exactly as they are.
    managed: Vec<bool>,
    /// Position of each group when sorted by name then id: plans list groups in that order.
    rank: Vec<u32>,
    by_target_id: HashMap<&'a str, u32>,
    resolved: HashMap<&'a str, Resolved>,
    /// The fallback group, when someone lands in it.
    fallback: Option<u32>,
    /// Source identifiers whose mapping says `notify: true`: a change of that mapping e-mails
    /// the people it moves.
    notify: HashSet<&'a str>,
    /// Why identifiers that land nowhere are held (`identifier_changed`, a `todo` stub),
    /// when it is not their unmapped policy.
    held_why: HashMap<&'a str, DiagnosticKind>,
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

    /// True when orgsync manages the memberships of group `g`.
    pub fn is_managed(&self, g: u32) -> bool {
        self.managed.get(g as usize).copied().unwrap_or(false)
    }

    /// True when the group with target id `id` is one whose memberships orgsync manages.
    pub fn manages_id(&self, id: &str) -> bool {
        self.index_of(id).is_some_and(|g| self.is_managed(g))
    }

    /// Why the people with held identifier `id` are held: a renamed identifier, an undecided
    /// stub, or else the unmapped policy (`unmapped_community`).
    pub fn held_reason(&self, id: &str) -> DiagnosticKind {
        self.held_why
            .get(id)
            .copied()
            .unwrap_or(DiagnosticKind::UnmappedCommunity)
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

    /// The fallback group, when someone lands in it.
    pub fn fallback(&self) -> Option<u32> {
        self.fallback
    }

    /// True when source identifier `id` is mapped by an entry that says `notify: true`.
    pub fn notifies(&self, id: &str) -> bool {
        self.notify.contains(id)
    }

    /// The name of where source identifier `id` lands: a group, the fallback, or `nothing`.
    pub fn lands_in(&self, id: &str) -> &str {
        match self.resolved.get(id) {
            Some(Resolved::Group(g)) => &self.refs[*g as usize].name,
            Some(Resolved::Fallback) => self
                .fallback
                .map_or("the fallback", |g| self.refs[g as usize].name.as_str()),
            _ => "nothing",
        }
    }

    /// Appends the groups `ids` land in to `out` (sorted); with no identifier landing in a
    /// group, the fallback when the person has no identifier or only fallback ones. True when
    /// some identifier lands nowhere.
    fn place<'s>(&self, ids: impl Iterator<Item = &'s str>, out: &mut Vec<u32>) -> bool {
        let mut held = false;
        let mut any = false;
        let mut to_fallback = true;
        for id in ids {
            any = true;
            match self.resolved.get(id) {
                Some(Resolved::Group(g)) => out.push(*g),
                Some(Resolved::Fallback) => {}
                _ => {
                    held = true;
                    to_fallback = false;
                }
            }
        }
        if out.is_empty()
            && (to_fallback || !any)
            && let Some(fb) = self.fallback
        {
            out.push(fb);
        }
        self.sort(out);
        held
    }
}

/// The mapping of one plan.
#[derive(Debug, Clone)]
pub struct Mapping<'a> {
    /// Communities; `None` when `communities` is not a managed field.
    pub communities: Option<Groups<'a>>,
    /// Function groups; `None` when functions are not synced (no `functions` section, or
    /// `function_groups` is not a managed field).
    pub functions: Option<Groups<'a>>,
    /// `create_*`, `update_*` and `remove_*` group actions.
    pub actions: Vec<Action>,
    /// Mapping diagnostics.
    pub diagnostics: Vec<Diagnostic>,
}

impl<'a> Mapping<'a> {
    /// Why a person some of whose communities are held is held: `identifier_changed` when one
    /// of them is a probably renamed identifier, else the first held one's reason.
    pub fn community_hold_reason(&self, scope: &Scope<'a>, p: &ScopedPerson<'a>) -> DiagnosticKind {
        let Some(groups) = &self.communities else {
            return DiagnosticKind::UnmappedCommunity;
        };
        let mut reason = None;
        for id in scope.communities(p) {
            if matches!(groups.resolve(id), Some(Resolved::Held) | None) {
                let why = groups.held_reason(id);
                if why == DiagnosticKind::IdentifierChanged {
                    return why;
                }
                reason.get_or_insert(why);
            }
        }
        reason.unwrap_or(DiagnosticKind::UnmappedCommunity)
    }

    /// A person's target communities into `out` (sorted by name, then id). Source communities
    /// that land nowhere (held) are left out. True when some community is held.
    pub fn desired_communities(
        &self,
        scope: &Scope<'a>,
        p: &ScopedPerson<'a>,
        out: &mut Vec<u32>,
    ) -> bool {
        out.clear();
        match &self.communities {
            Some(groups) => groups.place(scope.communities(p).iter().copied(), out),
            None => false,
        }
    }

    /// A person's target function groups into `out` (sorted by name, then id): where their
    /// functions land; the fallback group only when none of them is mapped. True when some
    /// function lands nowhere.
    pub fn desired_function_groups(
        &self,
        scope: &Scope<'a>,
        p: &ScopedPerson<'a>,
        out: &mut Vec<u32>,
    ) -> bool {
        out.clear();
        match &self.functions {
            Some(groups) => groups.place(scope.functions(p).iter().copied(), out),
            None => false,
        }
    }
}

/// What to do with a source identifier that no mapping covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unmapped<'a> {
    /// Create a group with the source name.
    Create,
    /// Place no one there (communities).
    Hold,
    /// Fail the plan.
    Error,
    /// Place such people in this function group (when none of their functions is mapped).
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
    fn group_nouns(self) -> &'static str {
        match self {
            Kind::Community => "communities",
            Kind::Function(_) => "function groups",
        }
    }
    fn create_kind(self) -> ActionKind {
        match self {
            Kind::Community => ActionKind::CreateCommunity,
            Kind::Function(_) => ActionKind::CreateFunctionGroup,
        }
    }
    fn create(self, g: CreateGroup) -> Changes {
        match self {
            Kind::Community => Changes::CreateCommunity(g),
            Kind::Function(_) => Changes::CreateFunctionGroup(g),
        }
    }
    fn rekey(self, r: Rekey) -> Changes {
        match self {
            Kind::Community => Changes::UpdateCommunity(r),
            Kind::Function(_) => Changes::UpdateFunctionGroup(r),
        }
    }
    fn remove(self, g: RemoveGroup) -> Changes {
        match self {
            Kind::Community => Changes::RemoveCommunity(g),
            Kind::Function(_) => Changes::RemoveFunctionGroup(g),
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
    /// A scoped person's source identifiers of this kind.
    fn ids<'s, 'a>(self, scope: &'s Scope<'a>, p: &ScopedPerson<'a>) -> &'s [&'a str] {
        match self {
            Kind::Community => scope.communities(p),
            Kind::Function(_) => scope.functions(p),
        }
    }
}

/// One YAML mapping entry, of either kind.
struct Entry<'a> {
    source: &'a [String],
    target: &'a str,
    name: Option<&'a str>,
    /// A stub of `orgsync import` still marked `todo: true`: not decided, so its target is not
    /// created when missing (its people are held), unlike a reviewed mapping's.
    todo: bool,
    /// `notify: true`: a change of this mapping e-mails the people it moves.
    notify: bool,
    pointer: String,
}

/// Everything the resolution of one kind needs.
struct KindInput<'a, 'c> {
    kind: Kind,
    config: &'c Config,
    scope: &'c Scope<'a>,
    entries: Vec<Entry<'a>>,
    target_groups: &'a [TargetGroup],
    /// Source identifiers that exist in the source.
    known: &'c HashSet<&'a str>,
    /// Source names by identifier.
    names: &'c HashMap<&'a str, &'a str>,
    unmapped: Unmapped<'a>,
    /// Partial sync: the include patterns (communities only).
    include: Option<Patterns>,
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
                foreign: false,
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
    actions: Vec<Action>,
    diagnostics: Vec<Diagnostic>,
}

/// Resolves the mapping of communities and function groups, plans group creation, re-keying and
/// removal, and reports mapping problems.
pub fn resolve<'a>(
    config: &'a Config,
    target: &'a TargetSnapshot,
    scope: &Scope<'a>,
) -> Mapping<'a> {
    let managed = |f| config.policy.managed_fields.contains(&f);
    let mut actions = Vec::new();
    let mut diagnostics = Vec::new();

    let communities = managed(ManagedField::Communities).then(|| {
        let input = KindInput {
            kind: Kind::Community,
            config,
            scope,
            entries: config
                .communities
                .iter()
                .enumerate()
                .map(|(i, m)| Entry {
                    source: m.source.as_slice(),
                    target: &m.target,
                    name: m.name.as_deref(),
                    todo: m.todo.unwrap_or(false),
                    notify: m.notify.unwrap_or(false),
                    pointer: format!("/communities/{i}"),
                })
                .collect(),
            target_groups: &target.communities,
            known: &scope.known_communities,
            names: &scope.community_names,
            unmapped: match config.policy.unmapped_communities {
                UnmappedPolicy::Create => Unmapped::Create,
                UnmappedPolicy::Hold => Unmapped::Hold,
                UnmappedPolicy::Error => Unmapped::Error,
            },
            include: scope.included.as_ref().and_then(|_| {
                config
                    .include
                    .as_ref()
                    .map(|inc| Patterns::new(inc.communities.iter().map(String::as_str), false))
            }),
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
        .zip(scope.function_field)
        .map(|(fc, field)| {
            let known: HashSet<&str> = scope.function_names.keys().copied().collect();
            let input = KindInput {
                kind: Kind::Function(field),
                config,
                scope,
                entries: fc
                    .map
                    .iter()
                    .enumerate()
                    .map(|(i, m)| Entry {
                        source: m.source.as_slice(),
                        target: &m.target,
                        name: m.name.as_deref(),
                        todo: m.todo.unwrap_or(false),
                        notify: false,
                        pointer: format!("/functions/map/{i}"),
                    })
                    .collect(),
                target_groups: &target.function_groups,
                known: &known,
                names: &scope.function_names,
                unmapped: match &fc.unmapped {
                    UnmappedFunctionPolicy::Simple(UnmappedFunctionAction::Create) => {
                        Unmapped::Create
                    }
                    UnmappedFunctionPolicy::Simple(UnmappedFunctionAction::Error) => {
                        Unmapped::Error
                    }
                    UnmappedFunctionPolicy::Fallback(f) => Unmapped::Fallback(&f.fallback),
                },
                include: None,
                policy_pointer: "/functions/unmapped",
            };
            let out = resolve_kind(input, target);
            actions.extend(out.actions);
            diagnostics.extend(out.diagnostics);
            out.groups
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
        scope,
        entries,
        target_groups,
        known,
        names,
        unmapped,
        include,
        policy_pointer,
    } = input;
    let loc = |pointer: &str| config.locations.get(pointer);

    // Source identifiers in use by in-scope people → number of those people.
    let mut used: HashMap<&str, usize> = HashMap::new();
    for sp in &scope.persons {
        for id in kind.ids(scope, sp) {
            *used.entry(id).or_default() += 1;
        }
    }

    let mut refs: Vec<GroupRef> = target_groups
        .iter()
        .map(|g| GroupRef {
            id: g.id.clone(),
            name: g.name.clone(),
            foreign: false,
        })
        .collect();
    let mut by_target_id: HashMap<&str, u32> = HashMap::new();
    let mut by_name: HashMap<&str, Vec<u32>> = HashMap::new();
    let mut by_source_id: HashMap<&str, Vec<u32>> = HashMap::new();
    for (i, g) in target_groups.iter().enumerate() {
        let i = index(i);
        by_target_id.entry(&g.id).or_insert(i);
        by_name.entry(&g.name).or_default().push(i);
        for s in &g.source_ids {
            let list = by_source_id.entry(s).or_default();
            if !list.contains(&i) {
                list.push(i);
            }
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
    let targeted: HashSet<&str> = entries.iter().map(|e| e.target).collect();
    let fallback_name = match unmapped {
        Unmapped::Fallback(name) => Some(name),
        _ => None,
    };

    // Stale mappings: literal sources that are not in the source.
    let mut stale: Vec<(usize, &str)> = Vec::new();
    for (e, entry) in entries.iter().enumerate() {
        for s in entry.source {
            if !is_glob(s) && !known.contains(s.as_str()) {
                stale.push((e, s));
            }
        }
    }
    let same_name = |a: &str, b: &str| a.to_lowercase() == b.to_lowercase();
    // A stale mapping whose name (or target) is `name`: the identifier was probably renamed.
    let renamed_mapping = |name: &str| {
        stale.iter().copied().find(|(e, _)| {
            let entry = &entries[*e];
            entry.name.is_some_and(|n| same_name(n, name)) || same_name(entry.target, name)
        })
    };
    // Managed groups whose recorded identifiers all vanished and that no mapping names: a new
    // identifier with the group's name is probably a renamed one.
    let vanished: Vec<u32> = target_groups
        .iter()
        .enumerate()
        .filter(|(_, g)| {
            g.managed
                && !g.source_ids.is_empty()
                && g.source_ids.iter().all(|s| !known.contains(s.as_str()))
                && !targeted.contains(g.name.as_str())
                && fallback_name != Some(g.name.as_str())
        })
        .map(|(i, _)| index(i))
        .collect();
    let renamed_group = |name: &str| {
        vanished
            .iter()
            .copied()
            .find(|g| same_name(&target_groups[*g as usize].name, name))
    };

    let mut created = NewByName {
        target_groups,
        existing: by_name,
        index_of: HashMap::new(),
        groups: Vec::new(),
    };

    let mut used_ids: Vec<(&str, usize)> = used.iter().map(|(k, v)| (*k, *v)).collect();
    used_ids.sort_unstable();
    let mut resolved: HashMap<&str, Resolved> = HashMap::with_capacity(used_ids.len());
    let mut held_why: HashMap<&str, DiagnosticKind> = HashMap::new();
    let mut unmapped_ids: Vec<(&str, usize)> = Vec::new();
    let mut unmapped_creates: Vec<(u32, &str)> = Vec::new();
    // Re-keyed groups → the new identifiers they record, and whether a mapping names them.
    let mut rekeyed: Vec<(u32, Vec<&str>, bool)> = Vec::new();
    // Undecided stubs (`todo: true`) whose target does not exist: people held, per entry.
    let mut undecided = vec![0usize; entries.len()];
    // Identifiers held as probably renamed: (id, count, old identifier, what was renamed).
    let mut renamed: Vec<(&str, usize, Renamed<'_>)> = Vec::new();

    let mut notify: HashSet<&str> = HashSet::default();
    for &(id, count) in &used_ids {
        let r = if let Some(e) = first_entry(id) {
            if entries[e].notify {
                notify.insert(id);
            }
            // A mapping in git names this target: it was reviewed, so it is created when missing
            // (unless it is an undecided stub).
            let name = entries[e].target;
            let is_fallback = fallback_name == Some(name);
            if entries[e].todo && !created.existing.contains_key(name) && !is_fallback {
                undecided[e] += count;
                held_why.insert(id, DiagnosticKind::MappingTargetMissing);
                Resolved::Held
            } else {
                let g = created.get_or_create(name, Some(id), is_fallback, &mut refs);
                created.note_resolved(name, id);
                // The mapping now names an identifier the existing managed group does not
                // record, and every identifier it records is gone (the admin followed an
                // `identifier_changed` hint): re-key it, so it records the live identifier.
                if let Some(group) = target_groups.get(g as usize)
                    && group.managed
                    && !group.source_ids.is_empty()
                    && !group.source_ids.iter().any(|s| s == id)
                    && group.source_ids.iter().all(|s| !known.contains(s.as_str()))
                {
                    match rekeyed.iter_mut().find(|(r, _, _)| *r == g) {
                        Some((_, ids, _)) => ids.push(id),
                        None => rekeyed.push((g, vec![id], true)),
                    }
                }
                Resolved::Group(g)
            }
        } else if let Some(g) = by_source_id.get(id).and_then(|l| l.first()) {
            Resolved::Group(*g)
        } else {
            let name = names.get(id).copied().unwrap_or(id);
            if let Some((e, old)) = renamed_mapping(name) {
                // Never a duplicate of a mapped group: the mapping needs the new identifier.
                renamed.push((id, count, Renamed::Mapping(e, old)));
                held_why.insert(id, DiagnosticKind::IdentifierChanged);
                Resolved::Held
            } else if let Some(g) = renamed_group(name) {
                if unmapped == Unmapped::Create {
                    match rekeyed.iter_mut().find(|(r, _, _)| *r == g) {
                        Some((_, ids, _)) => ids.push(id),
                        None => rekeyed.push((g, vec![id], false)),
                    }
                    renamed.push((id, count, Renamed::Group(g, true)));
                    Resolved::Group(g)
                } else {
                    renamed.push((id, count, Renamed::Group(g, false)));
                    unmapped_ids.push((id, count));
                    held_why.insert(id, DiagnosticKind::IdentifierChanged);
                    Resolved::Held
                }
            } else {
                unmapped_ids.push((id, count));
                match unmapped {
                    Unmapped::Create => {
                        let g = index(refs.len());
                        refs.push(GroupRef {
                            id: GroupRef::placeholder(kind.create_kind(), id),
                            name: name.to_owned(),
                            foreign: false,
                        });
                        unmapped_creates.push((g, id));
                        Resolved::Group(g)
                    }
                    Unmapped::Fallback(_) => Resolved::Fallback,
                    Unmapped::Hold | Unmapped::Error => Resolved::Held,
                }
            }
        };
        resolved.insert(id, r);
    }

    // The fallback group, when someone lands in it: no identifier at all, or only unmapped ones.
    // Count, per unmapped identifier, the people it sends there.
    let mut to_fallback: HashMap<&str, usize> = HashMap::new();
    let mut fallback = None;
    if let Some(name) = fallback_name {
        let mut anyone = false;
        for sp in &scope.persons {
            let ids = kind.ids(scope, sp);
            if ids
                .iter()
                .all(|id| resolved.get(id) == Some(&Resolved::Fallback))
            {
                anyone = true;
                for id in ids {
                    *to_fallback.entry(id).or_default() += 1;
                }
            }
        }
        if anyone {
            fallback = Some(created.get_or_create(name, None, true, &mut refs));
        }
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
        refs[ng.index as usize].id = GroupRef::placeholder(kind.create_kind(), &subject);
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
    // Re-keyed groups: they record the new identifiers; their people stay where they are.
    for (g, ids, by_mapping) in &rekeyed {
        let group = &target_groups[*g as usize];
        let mut to: Vec<&str> = ids.clone();
        to.sort_unstable();
        to.dedup();
        let old = group.source_ids.join(", ");
        let is_are = if group.source_ids.len() == 1 {
            "is"
        } else {
            "are"
        };
        let reason = if *by_mapping {
            format!(
                "its source {} {old} {is_are} gone and the mapping names {} {} now: the {} is re-keyed to record the live {}",
                plural(kind.noun(), group.source_ids.len()),
                plural(kind.noun(), to.len()),
                to.join(", "),
                kind.group_noun(),
                if to.len() == 1 { "one" } else { "ones" },
            )
        } else {
            format!(
                "its source {} {old} {is_are} gone and {} {} carries its name: a renamed identifier, so the {} is re-keyed, not duplicated",
                plural(kind.noun(), group.source_ids.len()),
                kind.noun(),
                to.join(", "),
                kind.group_noun()
            )
        };
        actions.push(Action {
            subject: to[0].to_owned(),
            target_id: Some(group.id.clone()),
            name: group.name.clone(),
            changes: kind.rekey(Rekey {
                source_ids: FieldChange::new(
                    group.source_ids.clone(),
                    to.iter().map(|s| (*s).to_owned()).collect(),
                ),
            }),
            reason,
            cause: Default::default(),
        });
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
            Unmapped::Fallback(fb) => {
                let count = to_fallback.get(id).copied().unwrap_or(0);
                (
                    Severity::Warning,
                    format!(
                        "{} would land in {fb}: {noun} {id} \"{name}\" is not mapped",
                        people(count)
                    ),
                    format!(
                        "map it: {{ source: \"{id}\", target: <{}> }}",
                        kind.group_noun()
                    ),
                )
            }
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
            count: to_fallback
                .get(id)
                .copied()
                .filter(|_| fallback_name.is_some())
                .unwrap_or(count),
            hint: Some(hint),
            location: loc(policy_pointer),
            concerns: Default::default(),
        });
    }

    for (e, &count) in undecided.iter().enumerate().filter(|(_, n)| **n > 0) {
        let entry = &entries[e];
        diagnostics.push(Diagnostic {
            kind: DiagnosticKind::MappingTargetMissing,
            severity: Severity::Warning,
            message: format!(
                "a mapping still marked `todo: true` targets {} \"{}\", which does not exist: {} not placed until it is decided",
                kind.group_noun(),
                entry.target,
                people_are(count)
            ),
            subject: Some(entry.target.to_owned()),
            count,
            hint: Some(format!(
                "set the target to an existing {} (or keep \"{}\" to have it created) and remove `todo: true`",
                kind.group_noun(),
                entry.target
            )),
            location: loc(&entry.pointer),
            concerns: Default::default(),
        });
    }
    for &(e, s) in &stale {
        let entry = &entries[e];
        diagnostics.push(Diagnostic {
            kind: DiagnosticKind::StaleMapping,
            severity: Severity::Warning,
            message: format!(
                "the mapping to \"{}\" names {} {s}, which is not in the source",
                entry.target,
                kind.noun()
            ),
            subject: Some(s.to_owned()),
            count: 0,
            hint: Some(format!("remove {s} from the mapping")),
            location: loc(&entry.pointer),
            concerns: Default::default(),
        });
    }
    for &(id, count, how) in &renamed {
        let name = names.get(id).copied().unwrap_or(id);
        let noun = kind.noun();
        let diagnostic = match how {
            Renamed::Mapping(e, old) => Diagnostic {
                kind: DiagnosticKind::IdentifierChanged,
                severity: Severity::Warning,
                message: format!(
                    "{noun} \"{name}\": probably renamed identifier {old} → {id}; {} held until the mapping names {id} (no duplicate is created)",
                    people_are(count)
                ),
                subject: Some(id.to_owned()),
                count,
                hint: Some(format!(
                    "replace {old} with {id} in the mapping to \"{}\"",
                    entries[e].target
                )),
                location: loc(&entries[e].pointer),
                concerns: Default::default(),
            },
            Renamed::Group(g, done) => {
                let group = &target_groups[g as usize];
                let old = group.source_ids.join(", ");
                if done {
                    Diagnostic {
                        kind: DiagnosticKind::IdentifierChanged,
                        severity: Severity::Info,
                        message: format!(
                            "{noun} \"{name}\": renamed identifier {old} → {id}; the {} is re-keyed and its people stay",
                            kind.group_noun()
                        ),
                        subject: Some(id.to_owned()),
                        count,
                        hint: None,
                        location: loc(policy_pointer),
                        concerns: Default::default(),
                    }
                } else {
                    Diagnostic {
                        kind: DiagnosticKind::IdentifierChanged,
                        severity: Severity::Warning,
                        message: format!(
                            "{noun} \"{name}\": probably renamed identifier {old} → {id} of {} \"{}\"",
                            kind.group_noun(),
                            group.name
                        ),
                        subject: Some(id.to_owned()),
                        count,
                        hint: Some(format!(
                            "map it: {{ source: \"{id}\", target: \"{}\" }}, or set {} to re-key the group",
                            group.name,
                            kind.create_hint()
                        )),
                        location: loc(policy_pointer),
                        concerns: Default::default(),
                    }
                }
            }
        };
        diagnostics.push(diagnostic);
    }

    // Managed groups whose source identifiers are all gone, and that were not re-keyed and are
    // not waiting for a decision about a renamed identifier (a group removed today could not be
    // mapped tomorrow).
    let orphans: Vec<&TargetGroup> = vanished
        .iter()
        .filter(|g| {
            !renamed
                .iter()
                .any(|(_, _, how)| matches!(how, Renamed::Group(r, _) if r == *g))
        })
        .map(|g| &target_groups[*g as usize])
        .collect();
    let duplicates = duplicate_groups(kind, target_groups, &by_source_id);
    let mut counted: Vec<&TargetGroup> = orphans.clone();
    counted.extend(duplicates.iter().flat_map(|d| d.groups.iter().copied()));
    let members = if counted.is_empty() {
        HashMap::new()
    } else {
        count_members(kind, &counted, target)
    };
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
                concerns: Default::default(),
            });
            continue;
        }
        actions.push(Action {
            subject: g
                .source_ids
                .first()
                .cloned()
                .unwrap_or_else(|| g.id.clone()),
            target_id: Some(g.id.clone()),
            name: g.name.clone(),
            changes: kind.remove(RemoveGroup {
                name: g.name.clone(),
            }),
            reason,
            cause: Default::default(),
        });
    }
    for d in duplicates {
        let list: Vec<String> = d
            .groups
            .iter()
            .map(|g| {
                let n = members.get(g.id.as_str()).copied().unwrap_or(0);
                format!("\"{}\" ({}, {})", g.name, g.id, people(n))
            })
            .collect();
        let message = match d.source_id {
            Some(id) => format!(
                "{} {} record source identifier {id}: {}; people land in the first",
                d.groups.len(),
                kind.group_nouns(),
                list.join(", ")
            ),
            None => format!(
                "{} managed {} share the name \"{}\": {}",
                d.groups.len(),
                kind.group_nouns(),
                d.groups[0].name,
                list.join(", ")
            ),
        };
        diagnostics.push(Diagnostic {
            kind: DiagnosticKind::DuplicateGroup,
            severity: Severity::Warning,
            message,
            subject: Some(
                d.source_id
                    .map_or_else(|| d.groups[0].name.clone(), str::to_owned),
            ),
            count: d.groups.len(),
            hint: Some(format!(
                "merge the duplicate {} in the target by hand, keeping the one with the most people",
                kind.group_nouns()
            )),
            location: None,
            concerns: Default::default(),
        });
    }

    // Whose memberships orgsync manages.
    let in_reach = |g: &TargetGroup| {
        let Some(include) = &include else {
            return true;
        };
        g.source_ids.iter().any(|s| include.is_match(s))
            || scope
                .included
                .iter()
                .flatten()
                .any(|id| first_entry(id).is_some_and(|e| entries[e].target == g.name))
            || entries.iter().any(|e| {
                e.target == g.name && e.source.iter().any(|s| !is_glob(s) && include.is_match(s))
            })
    };
    let mut managed: Vec<bool> = target_groups
        .iter()
        .map(|g| {
            (g.managed || targeted.contains(g.name.as_str()) || fallback_name == Some(&g.name))
                && in_reach(g)
        })
        .collect();
    managed.resize(refs.len(), true);
    // A group someone lands in is one orgsync places people in: it manages its memberships.
    for r in resolved.values() {
        if let Resolved::Group(g) = r {
            managed[*g as usize] = true;
        }
    }
    if let Some(g) = fallback {
        managed[g as usize] = true;
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
            managed,
            rank,
            by_target_id,
            resolved,
            fallback,
            notify,
            held_why,
        },
        actions,
        diagnostics,
    }
}

/// Why an unmapped identifier is taken for a renamed one.
#[derive(Debug, Clone, Copy)]
enum Renamed<'a> {
    /// A stale YAML mapping (entry index, old identifier) carries its name.
    Mapping(usize, &'a str),
    /// A managed group (index) whose identifiers vanished carries its name; re-keyed or not.
    Group(u32, bool),
}

/// Groups that collide: several record one source identifier, or several managed ones share a
/// name.
struct Duplicate<'t> {
    source_id: Option<&'t str>,
    groups: Vec<&'t TargetGroup>,
}

fn duplicate_groups<'t>(
    _kind: Kind,
    target_groups: &'t [TargetGroup],
    by_source_id: &HashMap<&'t str, Vec<u32>>,
) -> Vec<Duplicate<'t>> {
    let mut out: Vec<Duplicate<'t>> = by_source_id
        .iter()
        .filter(|(_, list)| list.len() > 1)
        .map(|(id, list)| Duplicate {
            source_id: Some(*id),
            groups: list.iter().map(|g| &target_groups[*g as usize]).collect(),
        })
        .collect();
    let mut by_name: BTreeMap<&str, Vec<&TargetGroup>> = BTreeMap::new();
    for g in target_groups.iter().filter(|g| g.managed) {
        by_name.entry(&g.name).or_default().push(g);
    }
    for (_, groups) in by_name {
        if groups.len() > 1 {
            // Already reported through a shared identifier: once is enough.
            let ids: Vec<&str> = groups.iter().map(|g| g.id.as_str()).collect();
            let reported = out.iter().any(|d| {
                d.groups.len() == ids.len() && d.groups.iter().all(|g| ids.contains(&g.id.as_str()))
            });
            if !reported {
                out.push(Duplicate {
                    source_id: None,
                    groups,
                });
            }
        }
    }
    out.sort_by(|a, b| (a.source_id, &a.groups[0].name).cmp(&(b.source_id, &b.groups[0].name)));
    out
}

/// Members of each of `groups`: accounts that still carry personal data.
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
    Action {
        subject,
        target_id: None,
        name: name.to_owned(),
        changes: kind.create(CreateGroup {
            name: name.to_owned(),
            source_ids: source_ids.iter().map(|s| (*s).to_owned()).collect(),
        }),
        reason,
        cause: Default::default(),
    }
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
    use crate::scope::testing::{
        account, config, group, locate, person, plan, set_departments, set_functions, sg, source,
        target,
    };
    use crate::vocabulary::{ActionKind, Diagnostic, DiagnosticKind, Plan, Severity};
    use serde_json::json;

    fn map(source: &[&str], target: &str) -> CommunityMapping {
        CommunityMapping {
            source: OneOrMany::Many(source.iter().map(|s| (*s).to_owned()).collect()),
            target: target.to_owned(),
            name: None,
            todo: None,
            notify: None,
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
            .map(|a| (a.kind(), a.subject.as_str()))
            .collect()
    }

    /// The target ids of an action's `changes.<field>.to`.
    fn to_ids(plan: &Plan, kind: ActionKind, field: &str) -> Vec<String> {
        let action = plan
            .actions
            .iter()
            .find(|a| a.kind() == kind)
            .expect("action");
        action.changes.to_wire()[field]
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
        assert_eq!(create.changes.to_wire()["source_ids"].to, json!(["1007"]));
        assert_eq!(
            to_ids(&p, ActionKind::Invite, "communities"),
            ["new:community:1007"]
        );
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
            .map(|a| {
                (
                    a.subject.as_str(),
                    a.changes.to_wire()["communities"].to.clone(),
                )
            })
            .collect();
        assert_eq!(
            invites,
            [
                ("1", json!([{ "id": "t1", "name": "Amsterdam" }])),
                ("2", json!([{ "id": "t3", "name": "Delivery" }])),
            ]
        );
    }

    /// Regression (first sync): a mapping target that does not exist yet was only reported
    /// (`mapping_target_missing`) under `hold`, and the plan said "No changes" while everyone in
    /// scope stayed unprovisioned. A mapping in git was reviewed: its target is created.
    #[test]
    fn a_first_sync_creates_the_mapping_targets_whatever_the_unmapped_policy() {
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

        for policy in [
            UnmappedPolicy::Hold,
            UnmappedPolicy::Create,
            UnmappedPolicy::Error,
        ] {
            c.policy.unmapped_communities = policy;
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
                created.actions[0].changes.to_wire()["source_ids"].to,
                json!(["2001", "2002"])
            );
            assert_eq!(
                to_ids(&created, ActionKind::Invite, "communities"),
                ["new:community:2001"]
            );
            assert!(diags(&created, DiagnosticKind::MappingTargetMissing).is_empty());
            assert!(!created.has_errors(), "{policy:?}");
        }
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

    fn with_functions(ids: &[&str], mut p: crate::model::Person) -> crate::model::Person {
        set_functions(&mut p, ids);
        p
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
            .map(|a| a.changes.to_wire()["function_groups"].to.clone())
            .collect();
        let no_fn = json!({ "id": "g2", "name": "No function" });
        let gr = json!({ "id": "g1", "name": "Guest Relations" });
        // Regression: someone with one mapped and one unmapped function landed in both the
        // mapped group and the fallback; the fallback is for people with no mapped function.
        assert_eq!(fgs, [json!([no_fn]), json!([gr]), json!([no_fn])]);
        let d = diags(&p, DiagnosticKind::UnmappedFunction);
        assert_eq!(d.len(), 1);
        assert_eq!(
            d[0].message,
            "1 person would land in No function: function F-NEW \"Teamlead Procurement\" is not mapped"
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
            ["new:function_group:No function"]
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
            .filter(|a| a.kind() == ActionKind::CreateFunctionGroup)
            .map(|a| (a.subject.as_str(), a.name.as_str()))
            .collect();
        assert_eq!(
            creates,
            [("F-BAR", "Bar"), ("F-NEW", "Teamlead Procurement")]
        );
        assert_eq!(
            to_ids(&p, ActionKind::Invite, "function_groups"),
            ["new:function_group:F-BAR", "new:function_group:F-NEW"]
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
        assert!(
            diags(&failed, DiagnosticKind::MappingTargetMissing).is_empty(),
            "a mapping target is created under error too"
        );
    }

    #[test]
    fn function_groups_can_come_from_departments() {
        let mut c = config();
        let mut f = functions(fallback("No function"), vec![fmap("D-KITCHEN", "Kitchen")]);
        f.from = FunctionSourceField::Department;
        c.functions = Some(f);
        let mut p1 = with_functions(&["F-COOK"], person("1", &["1001"]));
        set_departments(&mut p1, &["D-KITCHEN"]);
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
                "probably renamed identifier 1001 → 1011; 2 people are held until the mapping names 1011 (no duplicate is created)"
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
                .all(|a| a.kind() != ActionKind::RemoveCommunity)
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
            .filter(|a| a.kind() == ActionKind::RemoveCommunity)
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
            .filter(|a| a.kind() == ActionKind::RemoveFunctionGroup)
            .map(|a| (a.subject.as_str(), a.target_id.as_deref()))
            .collect();
        assert_eq!(removals, [("F-OLD", Some("g2"))]);
    }

    /// Regression: under `unmapped_communities: create`, a community whose identifier changed
    /// (1002 → 1012, same name) got a second "Utrecht" and its people "moved from Utrecht to
    /// Utrecht" with a transfer e-mail. The managed group is re-keyed; nobody moves.
    #[test]
    fn a_renamed_identifier_re_keys_the_managed_group_instead_of_duplicating_it() {
        let mut c = config();
        c.policy.unmapped_communities = UnmappedPolicy::Create;
        let s = source(
            vec![person("1", &["1012"]), person("2", &["1012"])],
            &[("1012", "Utrecht")],
        );
        let t = target(
            vec![account("u1", "1", &["t2"]), account("u2", "2", &["t2"])],
            vec![group("t2", "Utrecht", &["1002"], true)],
        );
        let p = plan(&c, &s, &t);
        assert_eq!(kinds(&p), [(ActionKind::UpdateCommunity, "1012")]);
        let rekey = &p.actions[0];
        assert_eq!(rekey.target_id.as_deref(), Some("t2"));
        assert_eq!(rekey.changes.to_wire()["source_ids"].from, json!(["1002"]));
        assert_eq!(rekey.changes.to_wire()["source_ids"].to, json!(["1012"]));
        let changed = diags(&p, DiagnosticKind::IdentifierChanged);
        assert_eq!((changed.len(), changed[0].severity), (1, Severity::Info));
        let after =
            crate::memory::apply_plan(&t, &p, crate::scope::testing::TODAY).expect("applies");
        assert_eq!(after.communities.len(), 1, "no duplicate");
        assert_eq!(after.communities[0].source_ids, ["1012"]);
        assert!(plan(&c, &s, &after).actions.is_empty());

        // Under `hold` it is a warning that names the group; nothing is created or moved.
        c.policy.unmapped_communities = UnmappedPolicy::Hold;
        let p = plan(&c, &s, &t);
        assert!(p.actions.is_empty(), "{:?}", kinds(&p));
        let changed = diags(&p, DiagnosticKind::IdentifierChanged);
        assert_eq!((changed.len(), changed[0].severity), (1, Severity::Warning));
        assert!(
            changed[0].message.contains("1002 → 1012"),
            "{}",
            changed[0].message
        );
    }

    /// The same for function groups: `functions.unmapped: create` re-keys a managed group.
    #[test]
    fn a_renamed_function_identifier_re_keys_its_group() {
        let mut c = config();
        c.functions = Some(functions(
            UnmappedFunctionPolicy::Simple(UnmappedFunctionAction::Create),
            vec![],
        ));
        let mut s = source(vec![with_functions(&["F-20"], person("1", &["1001"]))], &[]);
        s.functions = vec![sg("F-20", "Kitchen")];
        let mut a = account("u1", "1", &["t1"]);
        a.function_groups = vec!["g1".to_owned()];
        let mut t = fg_target(vec![group("g1", "Kitchen", &["F-10"], true)]);
        t.accounts = vec![a];
        let p = plan(&c, &s, &t);
        assert_eq!(kinds(&p), [(ActionKind::UpdateFunctionGroup, "F-20")]);
    }

    /// Regression: under `create`, a new identifier carrying the name of a stale YAML mapping
    /// created a duplicate while the plan's own warning said not to. It is held instead.
    #[test]
    fn a_renamed_identifier_of_a_stale_mapping_creates_no_duplicate() {
        let mut c = config();
        c.policy.unmapped_communities = UnmappedPolicy::Create;
        c.communities = vec![map(&["1002"], "Utrecht")];
        let s = source(vec![person("1", &["1012"])], &[("1012", "Utrecht")]);
        let t = target(
            vec![account("u1", "1", &["t2"])],
            vec![group("t2", "Utrecht", &[], false)],
        );
        let p = plan(&c, &s, &t);
        assert!(p.actions.is_empty(), "{:?}", kinds(&p));
        assert_eq!(diags(&p, DiagnosticKind::IdentifierChanged).len(), 1);
    }

    /// Regression (issue 21): under `create`, after the admin followed the
    /// `identifier_changed` hint and edited the mapping from 1002 to 1012, the next plan had no
    /// actions and the group kept recording 1002 (`externalId: community:1002`) for good. It is
    /// re-keyed once; the plan after that has no actions.
    #[test]
    fn a_followed_identifier_changed_hint_re_keys_the_mapped_group() {
        let mut c = config();
        c.policy.unmapped_communities = UnmappedPolicy::Create;
        c.communities = vec![map(&["1002"], "Utrecht")];
        let s = source(
            vec![person("1", &["1012"]), person("2", &["1012"])],
            &[("1012", "Utrecht")],
        );
        let t = target(
            vec![account("u1", "1", &["t2"]), account("u2", "2", &["t2"])],
            vec![group("t2", "Utrecht", &["1002"], true)],
        );
        let before = plan(&c, &s, &t);
        assert!(before.actions.is_empty(), "{:?}", kinds(&before));
        assert_eq!(before.held[&DiagnosticKind::IdentifierChanged], 2);

        // The hint followed.
        c.communities = vec![map(&["1012"], "Utrecht")];
        let p = plan(&c, &s, &t);
        assert_eq!(kinds(&p), [(ActionKind::UpdateCommunity, "1012")]);
        let rekey = &p.actions[0];
        assert_eq!(rekey.target_id.as_deref(), Some("t2"));
        assert_eq!(rekey.changes.to_wire()["source_ids"].from, json!(["1002"]));
        assert_eq!(rekey.changes.to_wire()["source_ids"].to, json!(["1012"]));
        assert!(
            rekey.reason.contains("the mapping names"),
            "{}",
            rekey.reason
        );
        assert_eq!(p.held_count(), 0);
        let after =
            crate::memory::apply_plan(&t, &p, crate::scope::testing::TODAY).expect("applies");
        assert_eq!(after.communities[0].source_ids, ["1012"]);
        assert!(plan(&c, &s, &after).actions.is_empty());

        // A group that still records a live identifier is not re-keyed.
        let s2 = source(
            vec![person("1", &["1012"]), person("2", &["1002"])],
            &[("1012", "Utrecht"), ("1002", "Utrecht")],
        );
        let p = plan(&c, &s2, &t);
        assert!(
            !kinds(&p).contains(&(ActionKind::UpdateCommunity, "1012")),
            "{:?}",
            kinds(&p)
        );
    }

    /// Regression (issue 21): people with accounts held by `identifier_changed` were not
    /// counted as held: the warning said "2 people are held", the plan said the target matched
    /// the configuration with `held: {}`.
    #[test]
    fn people_held_by_identifier_changed_are_counted_as_held() {
        let mut c = config();
        c.communities = vec![map(&["1002"], "Utrecht"), map(&["1001"], "Amsterdam")];
        let s = source(
            vec![
                person("1", &["1012"]),
                person("2", &["1012"]),
                person("3", &["1012"]),
                person("4", &["1001"]),
            ],
            &[("1012", "Utrecht"), ("1001", "Amsterdam")],
        );
        let t = target(
            vec![
                account("u1", "1", &["t2"]),
                account("u2", "2", &["t2"]),
                account("u4", "4", &["t1"]),
            ],
            vec![
                group("t2", "Utrecht", &["1002"], true),
                group("t1", "Amsterdam", &["1001"], true),
            ],
        );
        let p = plan(&c, &s, &t);
        assert!(p.actions.is_empty(), "{:?}", kinds(&p));
        let d = diags(&p, DiagnosticKind::IdentifierChanged);
        assert_eq!(d[0].count, 3);
        // Two with accounts, one not invited: all three held, for that reason.
        assert_eq!(p.held.get(&DiagnosticKind::IdentifierChanged), Some(&3));
        assert_eq!(p.held_count(), 3);
    }

    /// Two groups that record one identifier, or two managed groups with one name, are a
    /// diagnostic with counts (the duplicate a timed-out create leaves behind, say).
    #[test]
    fn duplicate_groups_are_reported_with_counts() {
        let c = config();
        let s = source(vec![person("1", &["1001"])], &[]);
        let t = target(
            vec![account("u1", "1", &["t1"]), account("u2", "2", &["t9"])],
            vec![
                group("t1", "Amsterdam", &["1001"], true),
                group("t9", "Amsterdam", &["1001"], true),
                group("t5", "Utrecht", &["1005"], true),
                group("t6", "Utrecht", &["1006"], true),
            ],
        );
        let p = plan(&c, &s, &t);
        let d = diags(&p, DiagnosticKind::DuplicateGroup);
        assert_eq!(d.len(), 2, "{d:?}");
        let by_id = d
            .iter()
            .find(|d| d.subject.as_deref() == Some("1001"))
            .unwrap();
        assert_eq!(by_id.count, 2);
        assert!(
            by_id.message.contains("\"Amsterdam\" (t9, 1 person)"),
            "{}",
            by_id.message
        );
        assert!(d.iter().any(|d| d.subject.as_deref() == Some("Utrecht")));
    }

    /// Found by the property test: under a fallback policy a function group whose identifier
    /// vanished while a new identifier carries its name was removed in the same plan that held
    /// that identifier's people "until it is mapped to this group". It is kept.
    #[test]
    fn a_group_a_renamed_identifier_may_belong_to_is_not_removed_meanwhile() {
        let mut c = config();
        c.functions = Some(functions(fallback("No function"), vec![]));
        let mut s = source(vec![with_functions(&["20"], person("1", &["1001"]))], &[]);
        s.functions = vec![sg("20", "Kitchen")];
        let t = fg_target(vec![group("g0", "Kitchen", &["40"], true)]);
        let p = plan(&c, &s, &t);
        assert!(
            !p.actions
                .iter()
                .any(|a| a.kind() == ActionKind::RemoveFunctionGroup),
            "{:?}",
            kinds(&p)
        );
        assert_eq!(diags(&p, DiagnosticKind::IdentifierChanged).len(), 1);
    }
}
