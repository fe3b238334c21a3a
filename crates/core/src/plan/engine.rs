//! The plan engine: desired state (configuration + source, through [`scope`] and [`mapping`])
//! against actual state (target) → a [`Plan`]. Pure: no I/O, no clock (`today` is an input).
//!
//! Who owns which account is [`identity`]'s to say. Only managed fields are compared and
//! written, only managed accounts are ever changed or removed, and only memberships of managed
//! groups ([`mapping::Groups::is_managed`]) are added or taken away: every other membership of a
//! managed account stays exactly as it is.
//!
//! [`scope`]: crate::scope
//! [`mapping`]: crate::mapping
//! [`identity`]: crate::identity

use std::collections::BTreeMap;

use foldhash::{HashSet, HashSetExt};

use jiff::civil::Date;

use super::safety;
use crate::capabilities::TargetCapabilities;
use crate::config::{Config, ManagedField, MatchKey};
use crate::identity::{self, Ambiguity, Matching, retention_passed};
use crate::mapping::{self, Groups, Mapping};
use crate::model::{Account, AccountStatus, Person, SourceSnapshot, TargetSnapshot};
use crate::scope::{self, Scope, ScopedPerson};
use crate::vocabulary::{
    AccountEdit, Action, Anonymize, Cause, Changes, Concerns, Diagnostic, DiagnosticKind, Digests,
    FieldChange, GroupRef, Invite, Move, Plan, Remove, Restore, Severity, Update,
};

/// Everything the engine needs. No I/O happens in [`build`].
#[derive(Debug, Clone)]
pub struct PlanInput<'a> {
    /// The merged configuration.
    pub config: &'a Config,
    /// What the source holds.
    pub source: &'a SourceSnapshot,
    /// What the target holds.
    pub target: &'a TargetSnapshot,
    /// "Today" in the configured time zone (`--at`).
    pub today: Date,
    /// RFC 3339 creation time to record.
    pub created_at: String,
    /// Digests of the inputs to record.
    pub digests: Digests,
    /// What the newest apply record says the target holds, for the target guard.
    pub recorded: Option<&'a safety::RecordedTarget>,
    /// What the target can do: the rest becomes manual steps ([`super::manual`]).
    pub capabilities: &'a TargetCapabilities,
    /// The configuration the target was last brought in line with: a pull request's base
    /// (`plan --base`), else the configuration of the newest apply recorded for this target. A
    /// change that follows from the difference is [`Cause::Configuration`]. `None`: unknown, and
    /// every change is the source's.
    pub previous: Option<&'a Config>,
    /// Where orgsync last placed people, by the apply records: source identifier → the target
    /// ids of the communities it placed them in. A person the app has elsewhere while the
    /// configuration still wants them where orgsync put them was moved by hand: putting them back
    /// is a [`Cause::Repair`].
    pub placed: Option<&'a std::collections::HashMap<String, Vec<String>>>,
}

/// Builds the plan. Problems that forbid a plan (an `error` policy, an empty source) are
/// diagnostics of severity error: the caller renders them and refuses to write or apply.
pub fn build(input: PlanInput<'_>) -> Plan {
    let mut scope = scope::resolve(input.config, input.source, input.today);
    let mut mapping = mapping::resolve(input.config, input.target, &scope);
    let previous = previous_view(&input);
    let previous = previous.as_ref().map(|(s, m)| Previous::new(s, m));
    let mut diagnostics = std::mem::take(&mut scope.diagnostics);
    diagnostics.append(&mut mapping.diagnostics);
    let actions = std::mem::take(&mut mapping.actions);
    plan_from(
        input,
        &scope,
        &mapping,
        previous,
        actions,
        diagnostics,
        None,
    )
    .0
}

/// The previous configuration's scope and mapping on the same data ([`PlanInput::previous`]),
/// only when it differs from this configuration.
fn previous_view<'a>(input: &PlanInput<'a>) -> Option<(Scope<'a>, Mapping<'a>)> {
    let previous = input.previous.filter(|p| p.digest != input.config.digest)?;
    let scope = scope::resolve(previous, input.source, input.today);
    let mapping = mapping::resolve(previous, input.target, &scope);
    Some((scope, mapping))
}

/// One person's part of the plan ([`build_for`]).
#[derive(Debug)]
pub struct PersonPlan {
    /// The plan's actions on the person and on groups, and its diagnostics (see [`build_for`]
    /// for what differs from the whole plan's).
    pub plan: Plan,
    /// The account the person matched (index into the target's accounts) and how.
    pub account: Option<(u32, MatchKey)>,
}

/// The plan for one person ([`Focus::person`], a source identifier), on the scope and mapping
/// of `input` (`scope`, `mapping`: [`scope::resolve`] and [`mapping::resolve`] of the same
/// inputs, which `explain` reads too): the same rules and the same decisions as [`build`] — but
/// only this person's changes are worked out; the people matched to an account this plan may
/// write are not looked at further. `input` may hold only the people and accounts linked to the
/// person ([`crate::focus`]): who owns an account is decided among them, and
/// [`Focus::source_empty`] says whether the whole source has nobody (an empty source plans no
/// removal). So the person's actions equal the plan's, and so do the diagnostics about them;
/// what counts the plan's actions (safety, the manual steps of a target that cannot do
/// everything) counts this person's part only.
pub fn build_for<'a>(
    input: PlanInput<'a>,
    scope: &Scope<'a>,
    mapping: &Mapping<'a>,
    focus: Focus<'_>,
) -> PersonPlan {
    let mut diagnostics = scope.diagnostics.clone();
    diagnostics.extend(mapping.diagnostics.iter().cloned());
    // The same causes as the whole plan: the previous configuration's view too.
    let previous = previous_view(&input);
    let previous = previous.as_ref().map(|(s, m)| Previous::new(s, m));
    let (plan, account) = plan_from(
        input,
        scope,
        mapping,
        previous,
        mapping.actions.clone(),
        diagnostics,
        Some(focus),
    );
    PersonPlan { plan, account }
}

/// Whose plan [`build_for`] works out.
#[derive(Debug, Clone, Copy)]
pub struct Focus<'p> {
    /// The person's source identifier (empty for someone not in the source: only removals).
    pub person: &'p str,
    /// The whole source has nobody (the input may hold only the people linked to the person).
    pub source_empty: bool,
}

/// [`build`] from a resolved scope and mapping; with `focus`, only that person's changes (see
/// [`build_for`]). Returns the focus's matched account too.
fn plan_from<'a>(
    input: PlanInput<'a>,
    scope: &Scope<'a>,
    mapping: &Mapping<'a>,
    previous: Option<Previous<'a, '_>>,
    mut actions: Vec<Action>,
    mut diagnostics: Vec<Diagnostic>,
    focus: Option<Focus<'_>>,
) -> (Plan, Option<(u32, MatchKey)>) {
    let PlanInput {
        config,
        source,
        target,
        today,
        created_at,
        digests,
        recorded,
        capabilities,
        previous: _,
        placed,
    } = input;
    let (managed_active, managed_groups) = safety::bases(target);
    let source_persons = match focus {
        // Someone, as far as the guard is concerned: it looks for none at all.
        Some(f) => usize::from(!f.source_empty),
        None => source.persons.len(),
    };
    let empty_source = safety::empty_source(config, source_persons, managed_active);
    let focus = focus.map(|f| f.person);

    let mut reconcile = Reconcile::new(config, target, today, scope, mapping);
    reconcile.previous = previous;
    reconcile.placed = placed;
    reconcile.keeps_memberships = capabilities.removal == crate::capabilities::Removal::Deactivate
        && (capabilities.communities || capabilities.function_groups);
    let focused_account = focus.and_then(|id| {
        let i = scope
            .persons
            .iter()
            .map(|sp| sp.person)
            .chain(scope.untouched.iter().copied())
            .position(|p| p.id == id)?;
        reconcile.matching.matched[i]
    });
    let mut held = BTreeMap::new();
    reconcile.people(&mut actions, &mut diagnostics, &mut held, focus);
    reconcile.leftovers(
        empty_source.is_none(),
        &source.unlisted,
        &mut actions,
        &mut diagnostics,
    );
    diagnostics.extend(empty_source);
    diagnostics.extend(crate::identity::unmanaged_leavers(
        &target.accounts,
        scope,
        source,
        &capabilities.system,
    ));
    let listed_managed = target.accounts.iter().filter(|a| a.managed).count();
    diagnostics.extend(safety::listed_target(config, listed_managed, recorded));

    // Only what the target can do is planned; the rest is listed for a person to do.
    let (mut actions, manual_steps, manual_diagnostics) =
        super::manual::restrict(capabilities, actions);
    diagnostics.extend(manual_diagnostics);

    let (safety, safety_diagnostics) =
        safety::check_resuming(config, &actions, managed_active, managed_groups, recorded);
    diagnostics.extend(safety_diagnostics);
    let mut safety = safety;
    if !capabilities.create_only {
        let (violation, diagnostic) =
            safety::first_sync(config, &actions, managed_active, recorded);
        if let Some(v) = violation {
            safety.violations.push(v);
            safety.safe = false;
        }
        diagnostics.extend(diagnostic);
    }

    actions.sort_by(|a, b| {
        (a.kind().phase(), a.kind(), &a.subject, &a.target_id).cmp(&(
            b.kind().phase(),
            b.kind(),
            &b.subject,
            &b.target_id,
        ))
    });
    diagnostics.sort_by(|a, b| {
        (b.severity, a.kind, &a.subject, &a.message)
            .cmp(&(a.severity, b.kind, &b.subject, &b.message))
    });

    let plan = Plan {
        format_version: crate::vocabulary::FORMAT_VERSION,
        created_at,
        orgsync_version: env!("CARGO_PKG_VERSION").to_owned(),
        at: today,
        summary: Plan::count_actions(&actions),
        held,
        actions,
        manual_steps,
        diagnostics,
        safety,
        digests,
    };
    (plan, focused_account)
}

/// The managed fields, as flags.
#[derive(Debug, Clone, Copy)]
struct Managed {
    first_name: bool,
    last_name: bool,
    email: bool,
    manager: bool,
}

/// People and accounts, matched.
struct Reconcile<'a, 's> {
    config: &'a Config,
    target: &'a TargetSnapshot,
    today: Date,
    scope: &'s Scope<'a>,
    mapping: &'s Mapping<'a>,
    managed: Managed,
    /// Who owns which account: the people in scope first, then the untouched ones (partial
    /// sync), whose accounts are claimed but never written.
    matching: Matching<'a>,
    /// Per account: matched by a person whose changes this plan writes to it (in scope, not
    /// held — for an ambiguous e-mail address, or while an expired account of theirs is
    /// anonymized —, not protected, managed or adopted).
    written: Vec<bool>,
    /// The previous configuration's scope and mapping, when it differs from this one.
    previous: Option<Previous<'a, 's>>,
    /// Where orgsync last placed people (see [`PlanInput::placed`]).
    placed: Option<&'a std::collections::HashMap<String, Vec<String>>>,
    /// The target deactivates (keeps removed accounts, with their memberships, through
    /// retention) and has groups: a removal says which memberships it keeps.
    keeps_memberships: bool,
}

/// The previous configuration's view of the same data: who was in scope and where they landed.
struct Previous<'a, 's> {
    scope: &'s Scope<'a>,
    mapping: &'s Mapping<'a>,
    /// Person id → index in `scope.persons`.
    index: std::collections::HashMap<&'a str, usize>,
}

impl<'a, 's> Previous<'a, 's> {
    fn new(scope: &'s Scope<'a>, mapping: &'s Mapping<'a>) -> Self {
        let index = scope
            .persons
            .iter()
            .enumerate()
            .map(|(i, sp)| (sp.person.id.as_str(), i))
            .collect();
        Previous {
            scope,
            mapping,
            index,
        }
    }

    /// True when the person was in scope under the previous configuration.
    fn in_scope(&self, id: &str) -> bool {
        self.index.contains_key(id)
    }
}

/// Why a person's communities change, and whether the move e-mails them.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Placement {
    /// The source changed (or nothing tells otherwise).
    Source,
    /// The configuration changed: the reason names the mappings; `notify` when one of them says
    /// `notify: true`.
    Configuration { reason: String, notify: bool },
    /// A hand edit in the app: orgsync puts the person back.
    Repair,
}

impl<'a, 's> Reconcile<'a, 's> {
    fn new(
        config: &'a Config,
        target: &'a TargetSnapshot,
        today: Date,
        scope: &'s Scope<'a>,
        mapping: &'s Mapping<'a>,
    ) -> Self {
        let fields = &config.policy.managed_fields;
        let managed = Managed {
            first_name: fields.contains(&ManagedField::FirstName),
            last_name: fields.contains(&ManagedField::LastName),
            email: fields.contains(&ManagedField::Email),
            manager: fields.contains(&ManagedField::Manager),
        };
        let matching = Matching::of_scope(config, &target.accounts, scope, today);
        let adopt = config.identity.adopt_unmanaged;
        let mut written = vec![false; target.accounts.len()];
        for (i, m) in matching.matched[..scope.persons.len()].iter().enumerate() {
            if let Some((a, _)) = *m {
                let account = &target.accounts[a as usize];
                written[a as usize] = matching.ambiguous[i].is_none()
                    && !matching.awaits_anonymization[i]
                    && !matching.protected[a as usize]
                    && (account.managed || adopt);
            }
        }
        Reconcile {
            config,
            target,
            today,
            scope,
            mapping,
            managed,
            matching,
            written,
            previous: None,
            placed: None,
            keeps_memberships: false,
        }
    }

    /// Why person `sp`'s communities change from what `account` has to `desired`: the
    /// configuration, when under the previous one the person belongs exactly where the account
    /// is; a repair, when both configurations want them where orgsync last placed them and the
    /// account is elsewhere; else the source.
    fn placement(&self, sp: &ScopedPerson<'a>, account: &Account, desired: &[u32]) -> Placement {
        let Some(groups) = &self.mapping.communities else {
            return Placement::Source;
        };
        let ids = group_ids;
        let has = |g: &Groups<'_>| managed_ids(g, &account.communities);
        let wanted = ids(groups, desired);
        if let Some(prev) = &self.previous
            && let Some(pg) = &prev.mapping.communities
        {
            let Some(&i) = prev.index.get(sp.person.id.as_str()) else {
                return Placement::Source;
            };
            let mut out = Vec::new();
            prev.mapping
                .desired_communities(prev.scope, &prev.scope.persons[i], &mut out);
            let before = ids(pg, &out);
            if before != wanted {
                // Held under the previous configuration (nowhere to go): it left them where
                // they are, which is what the app has.
                if !before.is_empty() && before != has(pg) {
                    return Placement::Source;
                }
                let mut changed = Vec::new();
                let mut notify = false;
                for id in self.scope.communities(sp) {
                    let (now, was) = (groups.lands_in(id), pg.lands_in(id));
                    if now != was {
                        changed.push(format!(
                            "community mapping {id} now maps to {now} (was {was})"
                        ));
                        notify |= groups.notifies(id);
                    }
                }
                let reason = if changed.is_empty() {
                    "the configuration changed".to_owned()
                } else {
                    changed.join("; ")
                };
                return Placement::Configuration { reason, notify };
            }
        }
        if let Some(placed) = self.placed
            && let Some(last) = placed.get(&sp.person.id)
        {
            let mut last = last.clone();
            last.sort_unstable();
            last.dedup();
            if last == wanted && has(groups) != wanted {
                return Placement::Repair;
            }
        }
        Placement::Source
    }

    /// Why person `sp`'s function groups change to `desired`, when the configuration is the
    /// reason (a function mapping now maps elsewhere; under the previous configuration the person
    /// belongs exactly where the account is): the reason, naming the mappings. `None`: the source.
    fn functions_by_configuration(
        &self,
        sp: &ScopedPerson<'a>,
        account: &Account,
        desired: &[u32],
    ) -> Option<String> {
        let groups = self.mapping.functions.as_ref()?;
        let prev = self.previous.as_ref()?;
        let pg = prev.mapping.functions.as_ref()?;
        let &i = prev.index.get(sp.person.id.as_str())?;
        let mut out = Vec::new();
        prev.mapping
            .desired_function_groups(prev.scope, &prev.scope.persons[i], &mut out);
        let before = group_ids(pg, &out);
        if before == group_ids(groups, desired) {
            return None;
        }
        if !before.is_empty() && before != managed_ids(pg, &account.function_groups) {
            return None;
        }
        let noun = match self.config.functions.as_ref().map(|f| f.from) {
            Some(crate::config::FunctionSourceField::Department) => "department",
            _ => "function",
        };
        let changed: Vec<String> = self
            .scope
            .functions(sp)
            .iter()
            .filter(|id| groups.lands_in(id) != pg.lands_in(id))
            .map(|id| {
                format!(
                    "{noun} mapping {id} now maps to {} (was {})",
                    groups.lands_in(id),
                    pg.lands_in(id)
                )
            })
            .collect();
        Some(if changed.is_empty() {
            "the configuration changed".to_owned()
        } else {
            changed.join("; ")
        })
    }

    /// Invites, updates, moves and restores for the people in scope; `held` counts, per
    /// reason, the people this plan leaves as they are.
    fn people(
        &self,
        actions: &mut Vec<Action>,
        diagnostics: &mut Vec<Diagnostic>,
        held: &mut BTreeMap<DiagnosticKind, usize>,
        focus: Option<&str>,
    ) {
        let mut shared: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let mut conflicting: Vec<&Person> = Vec::new();
        let mut missing_email: Vec<&str> = Vec::new();
        let mut no_community: Vec<&str> = Vec::new();
        let mut adoptable: Vec<&str> = Vec::new();
        let mut adoptable_people: Vec<&str> = Vec::new();
        let mut past_retention: Vec<&str> = Vec::new();
        let mut desired_c = Vec::new();
        let mut desired_f = Vec::new();
        let mut hold = |kind: DiagnosticKind| *held.entry(kind).or_default() += 1;

        for (i, sp) in self.scope.persons.iter().enumerate() {
            let p = sp.person;
            match self.matching.ambiguous[i] {
                // Held: which of them owns the address is for a person to decide. An account
                // they matched stays claimed.
                Some(Ambiguity::SharedEmail) => {
                    if let Some(e) = self.matching.emails[i].as_deref() {
                        shared.entry(e).or_default().push(&p.id);
                    }
                    hold(DiagnosticKind::DuplicateEmail);
                    continue;
                }
                Some(Ambiguity::ConflictingEmails) => {
                    conflicting.push(p);
                    hold(DiagnosticKind::ConflictingEmail);
                    continue;
                }
                None => {}
            }
            if self.matching.awaits_anonymization[i] {
                past_retention.push(&p.id);
                hold(DiagnosticKind::RetentionPassed);
                continue;
            }
            // Someone else, matched to an account this plan writes (not protected): what
            // changes for them does not change anything for the focus.
            if focus.is_some_and(|f| f != p.id)
                && let Some((a, _)) = self.matching.matched[i]
                && !self.matching.protected[a as usize]
                && (self.target.accounts[a as usize].managed
                    || self.config.identity.adopt_unmanaged)
            {
                continue;
            }
            let held_c = self
                .mapping
                .desired_communities(self.scope, sp, &mut desired_c);
            let held_f = self
                .mapping
                .desired_function_groups(self.scope, sp, &mut desired_f);
            let Some((a, key)) = self.matching.matched[i] else {
                if self.matching.emails[i].is_none() {
                    missing_email.push(&p.id);
                    hold(DiagnosticKind::MissingEmail);
                } else if self.mapping.communities.is_some() && desired_c.is_empty() {
                    // Without a target community the person is held: the unmapped-community
                    // diagnostics count those whose communities are held.
                    if held_c {
                        hold(self.mapping.community_hold_reason(self.scope, sp));
                    } else {
                        no_community.push(&p.id);
                        hold(DiagnosticKind::NoCommunity);
                    }
                } else {
                    // Invited into the communities that are decided; held from the others.
                    if held_c {
                        hold(self.mapping.community_hold_reason(self.scope, sp));
                    }
                    let mut invite = self.invite(sp, &desired_c, &desired_f);
                    if let Some(why) = self.invited_by_configuration(sp) {
                        invite.reason = why;
                        invite.cause = Cause::Configuration;
                    }
                    actions.push(invite);
                }
                continue;
            };
            let account = &self.target.accounts[a as usize];
            let adopt = self.config.identity.adopt_unmanaged;
            let desired = Desired {
                communities: &desired_c,
                function_groups: &desired_f,
                held_functions: held_f,
            };
            if self.matching.protected[a as usize] {
                if account.managed || adopt {
                    let changes = self.account_changes(p, a, &desired);
                    let mut fields: Vec<&str> = changes.edit.field_names();
                    if changes.communities.is_some() {
                        fields.push("communities");
                    }
                    if !fields.is_empty() {
                        diagnostics.push(protected_diagnostic(
                            account,
                            &format!("it differs from the source in {}", fields.join(", ")),
                        ));
                    }
                }
                continue;
            }
            if !account.managed && !adopt {
                adoptable.push(account_label(account));
                adoptable_people.push(&p.id);
                hold(DiagnosticKind::AdoptableAccount);
                continue;
            }
            // Some of their communities wait for a decision (unmapped under `hold`, a renamed
            // identifier, an undecided stub): they are held where they are, and counted so
            // that the plan never says the target matches while they wait.
            if held_c {
                hold(self.mapping.community_hold_reason(self.scope, sp));
            }
            let changes = self.account_changes(p, a, &desired);
            let placement = if changes.communities.is_some() && !changes.unplaced_communities {
                self.placement(sp, account, &desired_c)
            } else {
                Placement::Source
            };
            let functions = if changes.edit.function_groups.is_some() && !changes.unplaced_functions
            {
                self.functions_by_configuration(sp, account, &desired_f)
            } else {
                None
            };
            actions.extend(self.account_actions(p, account, key, changes, placement, functions));
        }

        for (email, ids) in shared {
            diagnostics.push(Diagnostic {
                kind: DiagnosticKind::DuplicateEmail,
                severity: Severity::Warning,
                message: format!(
                    "{} share the e-mail address {email} ({}): all are held",
                    scope::people(ids.len()),
                    ids.join(", ")
                ),
                subject: Some(email.to_owned()),
                count: ids.len(),
                hint: Some("give each person their own e-mail address in the source".to_owned()),
                location: None,
                concerns: Default::default(),
            });
        }
        for p in conflicting {
            let mut all: Vec<&str> = p.email.iter().map(String::as_str).collect();
            all.extend(p.conflicting_emails.iter().map(String::as_str));
            diagnostics.push(Diagnostic {
                kind: DiagnosticKind::ConflictingEmail,
                severity: Severity::Warning,
                message: format!(
                    "the source rows of person {} give {} different e-mail addresses ({}): held",
                    p.id,
                    all.len(),
                    all.join(", ")
                ),
                subject: Some(p.id.clone()),
                count: 1,
                hint: Some(
                    "two people may share this identifier: give each row of one person the same address, and each person their own identifier"
                        .to_owned(),
                ),
                location: None,
                concerns: Default::default(),
            });
        }
        if !missing_email.is_empty() {
            diagnostics.push(Diagnostic {
                kind: DiagnosticKind::MissingEmail,
                severity: Severity::Warning,
                message: format!(
                    "{} no e-mail address and cannot be invited: {}",
                    has(missing_email.len()),
                    examples(&missing_email)
                ),
                subject: None,
                count: missing_email.len(),
                hint: Some("add a work e-mail address in the source".to_owned()),
                location: None,
                concerns: concerns(&missing_email),
            });
        }
        if !no_community.is_empty() {
            diagnostics.push(Diagnostic {
                kind: DiagnosticKind::NoCommunity,
                severity: Severity::Warning,
                message: format!(
                    "{} no community in the source and cannot be invited: {}",
                    has(no_community.len()),
                    examples(&no_community)
                ),
                subject: None,
                count: no_community.len(),
                hint: Some(
                    "give their employment a location in the source (or check the `columns.community` column)"
                        .to_owned(),
                ),
                location: None,
                concerns: concerns(&no_community),
            });
        }
        if !past_retention.is_empty() {
            diagnostics.push(Diagnostic {
                kind: DiagnosticKind::RetentionPassed,
                severity: Severity::Warning,
                message: format!(
                    "{} back in the source, but their removed accounts are past the {}-day retention: the accounts are anonymized, not restored, and the people are held until then (invited on the next run): {}",
                    scope::people_are(past_retention.len()),
                    self.config.policy.retention_days,
                    examples(&past_retention)
                ),
                subject: None,
                count: past_retention.len(),
                hint: None,
                location: self.config.locations.get("/policy/retention_days"),
                concerns: concerns(&past_retention),
            });
        }
        if !adoptable.is_empty() {
            diagnostics.push(Diagnostic {
                kind: DiagnosticKind::AdoptableAccount,
                severity: Severity::Warning,
                // Regression (issue 20): "1 unmanaged account match people … are held".
                message: if adoptable.len() == 1 {
                    format!(
                        "1 unmanaged account matches a person in the source and is left alone, so that person is held: {}",
                        examples(&adoptable)
                    )
                } else {
                    format!(
                        "{} unmanaged accounts match people in the source and are left alone, so those people are held: {}",
                        adoptable.len(),
                        examples(&adoptable)
                    )
                },
                subject: None,
                count: adoptable.len(),
                hint: Some(
                    "set identity.adopt_unmanaged: true to let orgsync manage them".to_owned(),
                ),
                location: self.config.locations.get("/identity"),
                concerns: concerns(&adoptable_people),
            });
        }
    }

    /// Removes and anonymizes for managed accounts no one claimed.
    fn leftovers(
        &self,
        allow_removals: bool,
        unlisted_ids: &[String],
        actions: &mut Vec<Action>,
        diagnostics: &mut Vec<Diagnostic>,
    ) {
        let retention = i64::from(self.config.policy.retention_days);
        let mut in_scope: Option<HashSet<&str>> = None;
        let mut undated: Vec<&str> = Vec::new();
        let unlisted: HashSet<&str> = unlisted_ids.iter().map(String::as_str).collect();
        let mut kept: Vec<&str> = Vec::new();
        let mut kept_ids: Vec<&str> = Vec::new();
        for (a, account) in self.target.accounts.iter().enumerate() {
            if self.matching.claimed[a] || !account.managed {
                continue;
            }
            match account.status {
                AccountStatus::Active => {
                    if self.matching.protected[a] {
                        diagnostics.push(protected_diagnostic(
                            account,
                            "no one in scope matches it, but it is not removed",
                        ));
                        continue;
                    }
                    if !allow_removals || !self.in_reach(account) {
                        continue;
                    }
                    // The listing left this person out, the source has them: never a removal.
                    if account
                        .external_id
                        .as_deref()
                        .is_some_and(|id| unlisted.contains(id))
                    {
                        kept.push(account_label(account));
                        kept_ids.extend(account.external_id.as_deref());
                        continue;
                    }
                    let mut reason = self.removal_reason(account, &mut in_scope);
                    // Kept through retention, so that a restore finds the account where it
                    // was; dropped with the personal data when it is anonymized.
                    if self.keeps_memberships {
                        let kept: Vec<String> = [
                            dropped_memberships(
                                self.mapping.communities.as_ref(),
                                &account.communities,
                            ),
                            dropped_memberships(
                                self.mapping.functions.as_ref(),
                                &account.function_groups,
                            ),
                        ]
                        .into_iter()
                        .flatten()
                        .flat_map(|c| c.from)
                        .map(|g| g.name)
                        .collect();
                        if !kept.is_empty() {
                            reason = format!(
                                "{reason}; keeps its memberships ({}) while removed, dropped when anonymized",
                                kept.join(", ")
                            );
                        }
                    }
                    // In scope under the previous configuration, out of it now: the
                    // configuration's doing (an exclusion rule, a narrower include).
                    let by_configuration = account.external_id.as_deref().is_some_and(|x| {
                        self.previous.as_ref().is_some_and(|p| p.in_scope(x))
                            && self.scope.out_of_scope.contains_key(x)
                    });
                    actions.push(Action {
                        subject: account_subject(account),
                        target_id: Some(account.id.clone()),
                        name: account_name(account),
                        changes: Changes::Remove(Remove {
                            permanent: false,
                            removed_at: Some(self.today),
                        }),
                        reason,
                        cause: if by_configuration {
                            Cause::Configuration
                        } else {
                            Cause::Source
                        },
                    });
                }
                AccountStatus::Removed => {
                    if self.matching.protected[a] {
                        if retention_passed(self.config, account, self.today).is_some() {
                            diagnostics.push(protected_diagnostic(
                                account,
                                "its retention has passed, but it is not anonymized",
                            ));
                        }
                        continue;
                    }
                    if account.removed_at.is_none() {
                        // Retention needs a start: it counts from today, recorded on the account,
                        // so that the account is anonymized `retention_days` from now.
                        undated.push(account_label(account));
                        actions.push(Action {
                            subject: account_subject(account),
                            target_id: Some(account.id.clone()),
                            name: account_name(account),
                            changes: Changes::Update(Update {
                                edit: AccountEdit::default(),
                                removed_at: Some(self.today),
                            }),
                            reason: "removed without a removal date: retention counts from today"
                                .to_owned(),
                            cause: Default::default(),
                        });
                        continue;
                    }
                    if let Some(days) = retention_passed(self.config, account, self.today) {
                        let mut action = anonymize(account, days, retention);
                        // The memberships kept through retention go with the personal data.
                        if let Changes::Anonymize(an) = &mut action.changes {
                            an.communities = dropped_memberships(
                                self.mapping.communities.as_ref(),
                                &account.communities,
                            );
                            an.function_groups = dropped_memberships(
                                self.mapping.functions.as_ref(),
                                &account.function_groups,
                            );
                        }
                        actions.push(action);
                    }
                    debug_assert_eq!(
                        self.matching.expired[a],
                        retention_passed(self.config, account, self.today).is_some()
                    );
                }
                AccountStatus::Anonymized => {}
            }
        }
        if !kept.is_empty() {
            diagnostics.push(Diagnostic {
                kind: DiagnosticKind::ListingIncomplete,
                severity: Severity::Warning,
                message: format!(
                    "the source listing left out {} the source still has when asked directly: \
                     {} kept, not removed ({})",
                    if kept.len() == 1 {
                        "1 person".to_owned()
                    } else {
                        format!("{} people", kept.len())
                    },
                    if kept.len() == 1 {
                        "the account is"
                    } else {
                        "their accounts are"
                    },
                    examples(&kept)
                ),
                subject: None,
                count: kept.len(),
                hint: Some(
                    "the source returned an incomplete listing (a page cut off, a filter or \
                     permission change): check its connector; the people are kept until it lists \
                     them again"
                        .to_owned(),
                ),
                location: None,
                concerns: concerns(&kept_ids),
            });
        }
        if !undated.is_empty() {
            diagnostics.push(Diagnostic {
                kind: DiagnosticKind::MissingRemovalDate,
                severity: Severity::Info,
                message: format!(
                    "{} removed {} no removal date: retention counts from {} ({} days)",
                    undated.len(),
                    if undated.len() == 1 {
                        "account has"
                    } else {
                        "accounts have"
                    },
                    self.today,
                    self.config.policy.retention_days
                ),
                subject: None,
                count: undated.len(),
                hint: None,
                location: self.config.locations.get("/policy/retention_days"),
                concerns: Default::default(),
            });
        }
    }

    /// Under partial sync an account no one claims is removed only when it is in a community
    /// the sync covers: everything outside the include-list is left alone.
    fn in_reach(&self, account: &Account) -> bool {
        if self.scope.included.is_none() {
            return true;
        }
        let Some(groups) = &self.mapping.communities else {
            return true;
        };
        account.communities.iter().any(|id| groups.manages_id(id))
    }

    /// The `external_id` a written (or, for `None`, invited) account of person `id` should carry:
    /// the person's source identifier — orgsync's own bookkeeping, so that the next plan matches
    /// by it even after the e-mail address changes — unless another managed account stays
    /// active with that identifier after this plan (one this plan neither writes nor removes).
    /// Then none: two active accounts never claim one person, and an account matched to someone
    /// else must not keep pointing at a third.
    fn external_id_for<'p>(&self, a: Option<u32>, id: &'p str) -> Option<&'p str> {
        let kept_elsewhere = self.matching.by_external.all(id).iter().any(|&b| {
            let other = &self.target.accounts[b as usize];
            let stays_active = other.status == AccountStatus::Active
                && (self.matching.claimed[b as usize]
                    || self.matching.protected[b as usize]
                    || !self.in_reach(other));
            Some(b) != a && other.managed && stays_active && !self.written[b as usize]
        });
        (!kept_elsewhere).then_some(id)
    }

    /// Why an account no one claims is removed.
    fn removal_reason(&self, account: &Account, in_scope: &mut Option<HashSet<&'a str>>) -> String {
        let Some(x) = account.external_id.as_deref() else {
            return "no person in the source matches it".to_owned();
        };
        if let Some(out) = self.scope.out_of_scope.get(x) {
            return out.describe(self.config);
        }
        let in_scope = in_scope.get_or_insert_with(|| {
            let mut set = HashSet::with_capacity(self.scope.persons.len());
            set.extend(self.scope.persons.iter().map(|p| p.person.id.as_str()));
            set
        });
        if in_scope.contains(x) {
            "no person in scope matches it any more (identity.match)".to_owned()
        } else {
            "no longer in the source".to_owned()
        }
    }

    fn invite(
        &self,
        sp: &ScopedPerson<'_>,
        communities: &[u32],
        function_groups: &[u32],
    ) -> Action {
        let p = sp.person;
        let invite = Invite {
            // The e-mail address is always written: the target invites by it.
            email: p.email.as_deref().map(|e| e.trim().to_owned()),
            external_id: self.external_id_for(None, &p.id).map(str::to_owned),
            first_name: self.managed.first_name.then(|| p.first_name.clone()),
            last_name: self.managed.last_name.then(|| p.last_name.clone()),
            manager: self.managed.manager.then(|| p.manager.clone()),
            communities: self
                .mapping
                .communities
                .as_ref()
                .map(|groups| refs(groups, communities)),
            function_groups: self
                .mapping
                .functions
                .as_ref()
                .map(|groups| refs(groups, function_groups)),
            applicant: None,
        };
        let reason = match sp.starts {
            Some(start) => format!("new in the source, starts on {start}"),
            None => "new in the source".to_owned(),
        };
        Action {
            subject: p.id.clone(),
            target_id: None,
            name: person_name(p),
            changes: Changes::Invite(invite),
            reason,
            cause: Default::default(),
        }
    }

    /// Why a person without an account is invited, when the configuration is the reason: the
    /// previous configuration left them out of scope, or held them (their community mapped
    /// nowhere). `None`: the source is (a new hire).
    fn invited_by_configuration(&self, sp: &ScopedPerson<'a>) -> Option<String> {
        let prev = self.previous.as_ref()?;
        let Some(&i) = prev.index.get(sp.person.id.as_str()) else {
            return Some("in scope since this configuration change".to_owned());
        };
        let (groups, pg) = (
            self.mapping.communities.as_ref()?,
            prev.mapping.communities.as_ref()?,
        );
        let mut out = Vec::new();
        prev.mapping
            .desired_communities(prev.scope, &prev.scope.persons[i], &mut out);
        if !out.is_empty() {
            return None;
        }
        let changed: Vec<String> = self
            .scope
            .communities(sp)
            .iter()
            .filter(|id| groups.lands_in(id) != pg.lands_in(id))
            .map(|id| {
                format!(
                    "community mapping {id} now maps to {} (was {})",
                    groups.lands_in(id),
                    pg.lands_in(id)
                )
            })
            .collect();
        Some(if changed.is_empty() {
            "placed since this configuration change".to_owned()
        } else {
            changed.join("; ")
        })
    }

    /// What differs between a person and their account: managed fields, and memberships of
    /// managed groups only.
    fn account_changes(&self, p: &Person, a: u32, desired: &Desired<'_>) -> AccountChanges {
        let account = &self.target.accounts[a as usize];
        let mut edit = AccountEdit {
            adopt: !account.managed,
            ..AccountEdit::default()
        };
        // An account that carries the person's identifier keeps it; any other gets it when
        // nothing else keeps it (see `external_id_for`).
        if account.external_id.as_deref() != Some(p.id.as_str()) {
            let external_id = self.external_id_for(Some(a), &p.id);
            if account.external_id.as_deref() != external_id {
                edit.external_id = Some(FieldChange::new(
                    account.external_id.clone(),
                    external_id.map(str::to_owned),
                ));
            }
        }
        if self.managed.first_name && account.first_name != p.first_name {
            edit.first_name = Some(FieldChange::new(
                account.first_name.clone(),
                p.first_name.clone(),
            ));
        }
        if self.managed.last_name && account.last_name != p.last_name {
            edit.last_name = Some(FieldChange::new(
                account.last_name.clone(),
                p.last_name.clone(),
            ));
        }
        if self.managed.email
            && let Some(email) = p.email.as_deref().map(str::trim).filter(|e| !e.is_empty())
            // Byte-equal addresses are the same key: no need to build the keys.
            && account.email.as_deref().map(str::trim) != Some(email)
            && account.email.as_deref().and_then(identity::email_key) != identity::email_key(email)
        {
            edit.email = Some(FieldChange::new(
                account.email.clone(),
                Some(email.to_owned()),
            ));
        }
        if let Some(groups) = &self.mapping.functions
            // A person whose functions all land nowhere keeps their groups (no move to nothing).
            && !(desired.function_groups.is_empty() && desired.held_functions)
            && let Some(m) = Memberships::new(groups, &account.function_groups, desired.function_groups)
        {
            edit.function_groups = Some(FieldChange::new(m.from, m.to));
        }
        let communities = self.mapping.communities.as_ref().and_then(|groups| {
            // An empty desired set (all held, or no communities) never moves anyone to nothing.
            if desired.communities.is_empty() {
                return None;
            }
            Memberships::new(groups, &account.communities, desired.communities)
        });
        // A managed account in none of the groups of a kind orgsync manages was left half-made:
        // an apply created it and stopped (killed, cut off) before it placed it — memberships
        // are written after the account. Seen from the target alone, without any record.
        let unplaced = |groups: Option<&Groups<'_>>, current: &[String]| {
            account.managed
                && account.status == AccountStatus::Active
                && groups.is_some_and(|g| {
                    !current
                        .iter()
                        .any(|id| g.index_of(id).is_some_and(|i| g.is_managed(i)))
                })
        };
        AccountChanges {
            edit,
            communities,
            unplaced_communities: unplaced(self.mapping.communities.as_ref(), &account.communities),
            unplaced_functions: unplaced(self.mapping.functions.as_ref(), &account.function_groups),
        }
    }

    /// The actions for a matched, managed (or adopted) account: one `restore` for a removed
    /// account (within retention: see `people`), else an `update` and/or a `move`.
    fn account_actions(
        &self,
        p: &Person,
        account: &Account,
        key: MatchKey,
        changes: AccountChanges,
        placement: Placement,
        functions: Option<String>,
    ) -> Vec<Action> {
        let AccountChanges {
            edit,
            communities,
            unplaced_communities,
            unplaced_functions,
        } = changes;
        let adopting = !account.managed;
        let matched_by = identity::matched_by(key);
        let base = |changes, reason, cause| Action {
            subject: p.id.clone(),
            target_id: Some(account.id.clone()),
            name: person_name(p),
            changes,
            reason,
            cause,
        };
        const UNFINISHED: &str =
            "completes an earlier apply that stopped before placing the account";
        if account.status == AccountStatus::Removed {
            let when = account
                .removed_at
                .map(|d| format!(", removed on {d}"))
                .unwrap_or_default();
            let adopted = if adopting { " (adopted)" } else { "" };
            return vec![base(
                Changes::Restore(Restore {
                    edit,
                    removed_at: account.removed_at,
                    communities: communities.map(|m| FieldChange::new(m.from, m.to)),
                }),
                format!("back in the source{when}{adopted}"),
                Cause::Source,
            )];
        }
        let mut out = Vec::new();
        if !edit.is_empty() {
            let changed: Vec<&str> = edit
                .field_names()
                .into_iter()
                .filter_map(field_label)
                .collect();
            let mut parts = Vec::new();
            if adopting {
                parts.push(format!(
                    "adopts the unmanaged account matched by {matched_by}"
                ));
            } else if edit.external_id.is_some() {
                parts.push(format!(
                    "records the source identifier on the account matched by {matched_by}"
                ));
            }
            // Placing an unfinished account in its function groups finishes orgsync's own work;
            // anything else it changes is news from the source.
            let completion = unplaced_functions && edit.field_names() == ["function_groups"];
            // Only the function groups change, and a function mapping is why.
            let configured =
                functions.filter(|_| !completion && !adopting && changed == ["function groups"]);
            if completion {
                parts.push(format!("{UNFINISHED}: its function groups"));
            } else if let Some(why) = &configured {
                parts.push(why.clone());
            } else if !changed.is_empty() {
                parts.push(format!("{} changed in the source", changed.join(", ")));
            }
            out.push(base(
                Changes::Update(Update {
                    edit,
                    removed_at: None,
                }),
                parts.join("; "),
                if completion {
                    Cause::Completion
                } else if configured.is_some() {
                    Cause::Configuration
                } else {
                    Cause::Source
                },
            ));
        }
        if let Some(m) = communities {
            // A transfer leaves a managed community for another: the target tells the person.
            // Being placed (from none) or taken out of one of several is no transfer, and a
            // repair never notifies anyone.
            let transfer = !m.left.is_empty() && !m.joined.is_empty();
            let reason = match (m.left.is_empty(), m.joined.is_empty()) {
                (true, _) if unplaced_communities => {
                    format!("{UNFINISHED}: placed in {}", m.joined.join(", "))
                }
                (true, _) => format!("placed in {}", m.joined.join(", ")),
                (false, true) => format!("no longer in {}", m.left.join(", ")),
                (false, false) => {
                    format!(
                        "moved from {} to {}",
                        m.left.join(", "),
                        m.joined.join(", ")
                    )
                }
            };
            // Only a transfer in HR notifies by default; one the configuration causes notifies
            // when its mapping says `notify: true`; a repair or a completion never.
            let (reason, cause, notify) = match placement {
                _ if unplaced_communities => (reason, Cause::Completion, false),
                Placement::Source => (
                    reason,
                    Cause::Source,
                    transfer && self.config.policy.notify_transfers,
                ),
                Placement::Configuration { reason, notify } => {
                    (reason, Cause::Configuration, transfer && notify)
                }
                Placement::Repair => (
                    format!(
                        "moved by hand in the app: put back in {}",
                        m.to.iter()
                            .filter(|g| self
                                .mapping
                                .communities
                                .as_ref()
                                .is_some_and(|c| c.manages_id(&g.id)))
                            .map(|g| g.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    Cause::Repair,
                    false,
                ),
            };
            out.push(base(
                Changes::Move(Move {
                    communities: FieldChange::new(m.from, m.to),
                    notify,
                }),
                reason,
                cause,
            ));
        }
        out
    }
}

/// The target ids of groups `list` (indices into `g`), sorted, each once.
fn group_ids(g: &Groups<'_>, list: &[u32]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|i| g.get(*i).id.clone()).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The ids among an account's `memberships` of groups `g` manages, sorted, each once.
fn managed_ids(g: &Groups<'_>, memberships: &[String]) -> Vec<String> {
    let mut v: Vec<String> = memberships
        .iter()
        .filter(|id| g.manages_id(id))
        .cloned()
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// A person's desired groups (indices into the mapping's group tables).
struct Desired<'d> {
    communities: &'d [u32],
    function_groups: &'d [u32],
    held_functions: bool,
}

/// Differences between a person and their account.
struct AccountChanges {
    /// Field changes (and adoption, the recorded identifier, function groups).
    edit: AccountEdit,
    /// Community change.
    communities: Option<Memberships>,
    /// The account is managed, active and in none of the communities orgsync manages: an apply
    /// made it and stopped before placing it. Placing it is a completion.
    unplaced_communities: bool,
    /// Likewise for function groups.
    unplaced_functions: bool,
}

/// A change of an account's memberships of one kind: the groups orgsync manages become the
/// desired ones, every other membership is kept. `from` and `to` are the whole lists (as group
/// references, sorted by name then id), so the plan shows the account as it will be.
struct Memberships {
    from: Vec<GroupRef>,
    to: Vec<GroupRef>,
    /// Names of managed groups left.
    left: Vec<String>,
    /// Names of groups joined.
    joined: Vec<String>,
}

impl Memberships {
    /// `None` when the account is already where it should be.
    fn new(groups: &Groups<'_>, current: &[String], desired: &[u32]) -> Option<Memberships> {
        // Almost every account is where it should be: tell so without allocating. Every desired
        // group is among the current ones, and every current one that orgsync manages is desired.
        let settled = desired.iter().all(|g| {
            let id = &groups.get(*g).id;
            current.iter().any(|c| c == id)
        }) && current.iter().all(|id| match groups.index_of(id) {
            Some(g) if groups.is_managed(g) => desired.contains(&g),
            _ => true,
        });
        if settled {
            return None;
        }
        let mut left = Vec::new();
        // Memberships of groups orgsync does not manage: kept, and marked foreign.
        let mut kept: Vec<(String, String)> = Vec::new();
        let mut known: Vec<u32> = Vec::with_capacity(current.len());
        for id in current {
            match groups.index_of(id) {
                Some(g) if groups.is_managed(g) => {
                    if !desired.contains(&g) && !known.contains(&g) {
                        left.push(groups.get(g).name.clone());
                    }
                    known.push(g);
                }
                Some(g) => {
                    let r = groups.get(g);
                    kept.push((r.name.clone(), r.id.clone()));
                }
                // A group the target does not list: not ours, kept as it is.
                None => kept.push((id.clone(), id.clone())),
            }
        }
        let joined: Vec<String> = desired
            .iter()
            .filter(|g| !known.contains(g))
            .map(|g| groups.get(*g).name.clone())
            .collect();
        if left.is_empty() && joined.is_empty() {
            return None;
        }
        let to_list = |managed: &mut dyn Iterator<Item = u32>| {
            let mut list: Vec<(String, String, bool)> = managed
                .map(|g| {
                    let r = groups.get(g);
                    (r.name.clone(), r.id.clone(), false)
                })
                .chain(kept.iter().map(|(n, i)| (n.clone(), i.clone(), true)))
                .collect();
            list.sort_unstable();
            list.dedup();
            list.into_iter()
                .map(|(name, id, foreign)| GroupRef { id, name, foreign })
                .collect::<Vec<GroupRef>>()
        };
        Some(Memberships {
            from: to_list(&mut known.iter().copied()),
            to: to_list(&mut desired.iter().copied()),
            left,
            joined,
        })
    }
}

/// The memberships of managed groups among `current` (target group ids), all dropped; `None`
/// when there are none. Memberships of groups orgsync does not manage stay.
fn dropped_memberships(
    groups: Option<&Groups<'_>>,
    current: &[String],
) -> Option<FieldChange<Vec<GroupRef>>> {
    let groups = groups?;
    let mut idx: Vec<u32> = current
        .iter()
        .filter_map(|id| groups.index_of(id))
        .filter(|g| groups.is_managed(*g))
        .collect();
    groups.sort(&mut idx);
    (!idx.is_empty()).then(|| FieldChange::new(refs(groups, &idx), Vec::new()))
}

fn anonymize(account: &Account, days: i64, retention: i64) -> Action {
    let text = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    Action {
        subject: account_subject(account),
        target_id: Some(account.id.clone()),
        name: account_name(account),
        changes: Changes::Anonymize(Anonymize {
            email: account.email.clone(),
            first_name: text(&account.first_name),
            last_name: text(&account.last_name),
            external_id: account.external_id.clone(),
            communities: None,
            function_groups: None,
        }),
        reason: format!(
            "removed {} ago, retention is {}",
            days_phrase(days),
            days_phrase(retention)
        ),
        cause: Default::default(),
    }
}

/// Group references, in the order given (already sorted by name, then id).
fn refs(groups: &Groups<'_>, idx: &[u32]) -> Vec<GroupRef> {
    idx.iter()
        .map(|g| {
            let r = groups.get(*g);
            GroupRef {
                id: r.id.clone(),
                name: r.name.clone(),
                foreign: false,
            }
        })
        .collect()
}

fn field_label(field: &str) -> Option<&'static str> {
    match field {
        "first_name" => Some("first name"),
        "last_name" => Some("last name"),
        "email" => Some("e-mail"),
        "function_groups" => Some("function groups"),
        _ => None,
    }
}

fn person_name(p: &Person) -> String {
    let name = format!("{} {}", p.first_name.trim(), p.last_name.trim());
    let name = name.trim();
    if name.is_empty() {
        p.id.clone()
    } else {
        name.to_owned()
    }
}

fn account_name(a: &Account) -> String {
    let name = format!("{} {}", a.first_name.trim(), a.last_name.trim());
    let name = name.trim();
    if !name.is_empty() {
        name.to_owned()
    } else {
        account_label(a).to_owned()
    }
}

/// The source identifier of an account's person, else its target id.
fn account_subject(a: &Account) -> String {
    a.external_id.clone().unwrap_or_else(|| a.id.clone())
}

/// An account for people: its e-mail address, else its id.
fn account_label(a: &Account) -> &str {
    a.email.as_deref().unwrap_or(&a.id)
}

fn protected_diagnostic(account: &Account, what: &str) -> Diagnostic {
    Diagnostic {
        kind: DiagnosticKind::ProtectedAccount,
        severity: Severity::Info,
        message: format!(
            "protected account {} is left alone: {what}",
            account_label(account)
        ),
        subject: Some(account_label(account).to_owned()),
        count: 1,
        hint: None,
        location: None,
        concerns: Default::default(),
    }
}

/// "1 day" / "30 days".
fn days_phrase(n: i64) -> String {
    if n == 1 {
        "1 day".to_owned()
    } else {
        format!("{n} days")
    }
}

/// "1 person has" / "3 people have".
fn has(n: usize) -> String {
    if n == 1 {
        "1 person has".to_owned()
    } else {
        format!("{n} people have")
    }
}

/// The first few items, for a message.
/// The people a diagnostic is about, by source identifier.
fn concerns(ids: &[&str]) -> Concerns {
    Concerns(ids.iter().map(|id| (*id).to_owned()).collect())
}

fn examples(items: &[&str]) -> String {
    const SHOWN: usize = 5;
    let mut s = items[..items.len().min(SHOWN)].join(", ");
    if items.len() > SHOWN {
        s.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    s
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::config::{MaxRemovals, MaxRemovalsBoth, ProtectedRule};
    use crate::scope::testing::{
        TODAY, account, config, day, group, person, plan, set_end, set_functions, set_start,
        source, target,
    };
    use crate::vocabulary::{ActionKind, Severity};

    fn kinds(plan: &Plan) -> Vec<(ActionKind, &str)> {
        plan.actions
            .iter()
            .map(|a| (a.kind(), a.subject.as_str()))
            .collect()
    }

    fn diags(plan: &Plan, kind: DiagnosticKind) -> Vec<&Diagnostic> {
        plan.diagnostics.iter().filter(|d| d.kind == kind).collect()
    }

    fn action(plan: &Plan, kind: ActionKind) -> &Action {
        plan.actions
            .iter()
            .find(|a| a.kind() == kind)
            .expect("action of that kind")
    }

    fn ams() -> Vec<TargetGroup> {
        vec![
            group("t1", "Amsterdam Centrum", &["1001"], true),
            group("t2", "Utrecht", &["1007"], true),
        ]
    }

    use crate::model::TargetGroup;

    #[test]
    fn a_new_person_is_invited_with_every_managed_field() {
        let c = config();
        let mut p1 = person("1", &["1001", "1007"]);
        set_start(&mut p1, Some(day(3)));
        let p = plan(&c, &source(vec![p1], &[]), &target(vec![], ams()));
        assert_eq!(kinds(&p), [(ActionKind::Invite, "1")]);
        let invite = &p.actions[0];
        assert_eq!(
            invite.reason,
            format!("new in the source, starts on {}", day(3))
        );
        assert_eq!(invite.name, "Ann Person 1");
        let to = |f: &str| invite.changes.to_wire()[f].to.clone();
        assert_eq!(to("email"), json!("1@example.com"));
        assert_eq!(to("external_id"), json!("1"));
        assert_eq!(to("first_name"), json!("Ann"));
        assert_eq!(invite.changes.to_wire()["first_name"].from, Value::Null);
        assert_eq!(
            to("communities"),
            json!([{ "id": "t1", "name": "Amsterdam Centrum" }, { "id": "t2", "name": "Utrecht" }])
        );
        assert!(
            !invite.changes.to_wire().contains_key("function_groups"),
            "functions are not synced"
        );
        assert_eq!(p.summary[&ActionKind::Invite], 1);
        assert_eq!(p.summary[&ActionKind::Remove], 0);
    }

    #[test]
    fn people_match_by_external_id_then_email_ignoring_case() {
        let c = config();
        let mut by_email = account("u2", "2", &["t1"]);
        by_email.external_id = Some("old-2".to_owned());
        by_email.email = Some("2@EXAMPLE.com".to_owned());
        let s = source(vec![person("1", &["1001"]), person("2", &["1001"])], &[]);
        let t = target(vec![account("u1", "1", &["t1"]), by_email], ams());
        let p = plan(&c, &s, &t);
        // Person 2 matched u2 by e-mail: no invite, and orgsync records its identifier.
        assert_eq!(kinds(&p), [(ActionKind::Update, "2")]);
        let update = &p.actions[0];
        assert_eq!(update.target_id.as_deref(), Some("u2"));
        assert_eq!(
            update.changes.to_wire().keys().collect::<Vec<_>>(),
            ["external_id"]
        );
        assert_eq!(update.changes.to_wire()["external_id"].to, json!("2"));
    }

    #[test]
    fn the_first_strategy_in_the_configured_order_wins() {
        let mut c = config();
        // u1 carries person 1's identifier, u2 their e-mail address.
        let mut by_ext = account("u1", "1", &["t1"]);
        by_ext.email = Some("other@example.com".to_owned());
        let mut by_email = account("u2", "1", &["t1"]);
        by_email.external_id = None;
        let s = source(vec![person("1", &["1001"])], &[]);
        let t = target(vec![by_ext, by_email], ams());
        let ext_first = plan(&c, &s, &t);
        assert_eq!(
            action(&ext_first, ActionKind::Update).target_id.as_deref(),
            Some("u1")
        );
        assert_eq!(
            action(&ext_first, ActionKind::Remove).target_id.as_deref(),
            Some("u2")
        );

        c.identity.match_on = vec![MatchKey::Email, MatchKey::ExternalId];
        let email_first = plan(&c, &s, &t);
        assert_eq!(
            action(&email_first, ActionKind::Remove)
                .target_id
                .as_deref(),
            Some("u1")
        );
        let update = action(&email_first, ActionKind::Update);
        assert_eq!(update.target_id.as_deref(), Some("u2"));
    }

    #[test]
    fn anonymized_accounts_never_match() {
        let c = config();
        let mut gone = account("u1", "1", &[]);
        gone.status = AccountStatus::Anonymized;
        let p = plan(
            &c,
            &source(vec![person("1", &["1001"])], &[]),
            &target(vec![gone], ams()),
        );
        assert_eq!(kinds(&p), [(ActionKind::Invite, "1")]);
    }

    #[test]
    fn an_unmanaged_account_is_adopted_only_when_allowed() {
        let mut c = config();
        let mut manual = account("u1", "1", &["t1"]);
        manual.managed = false;
        manual.external_id = None;
        manual.first_name = "Annie".to_owned();
        let s = source(vec![person("1", &["1001"])], &[]);
        let t = target(vec![manual], ams());

        let held = plan(&c, &s, &t);
        assert!(
            held.actions.is_empty(),
            "no invite, no update: {:?}",
            kinds(&held)
        );
        let d = diags(&held, DiagnosticKind::AdoptableAccount);
        assert_eq!((d.len(), d[0].count), (1, 1));
        assert!(d[0].message.contains("1@example.com"));

        c.identity.adopt_unmanaged = true;
        let adopted = plan(&c, &s, &t);
        assert_eq!(kinds(&adopted), [(ActionKind::Update, "1")]);
        let update = &adopted.actions[0];
        assert_eq!(update.changes.to_wire()["managed"].from, json!(false));
        assert_eq!(update.changes.to_wire()["managed"].to, json!(true));
        assert_eq!(update.changes.to_wire()["first_name"].to, json!("Ann"));
        assert!(
            update
                .reason
                .starts_with("adopts the unmanaged account matched by e-mail")
        );
    }

    #[test]
    fn people_sharing_an_email_address_are_held_but_keep_their_account() {
        let c = config();
        let mut twin = person("2", &["1001"]);
        twin.email = Some("1@Example.com".to_owned());
        let mut changed = person("1", &["1007"]);
        changed.first_name = "Changed".to_owned();
        let s = source(vec![changed, twin, person("3", &["1001"])], &[]);
        let t = target(vec![account("u1", "1", &["t1"])], ams());
        let p = plan(&c, &s, &t);
        assert_eq!(
            kinds(&p),
            [(ActionKind::Invite, "3")],
            "no update, move or remove for u1"
        );
        let d = diags(&p, DiagnosticKind::DuplicateEmail);
        assert_eq!(d.len(), 1);
        assert_eq!(
            (d[0].subject.as_deref(), d[0].count),
            (Some("1@example.com"), 2)
        );
    }

    #[test]
    fn an_account_people_with_a_shared_address_match_only_by_it_is_kept() {
        let c = config();
        let mut twin = person("2", &["1001"]);
        twin.email = Some("1@example.com".to_owned());
        let mut shared = account("u1", "1", &["t1"]);
        shared.external_id = None;
        let s = source(vec![person("1", &["1001"]), twin], &[]);
        let p = plan(&c, &s, &target(vec![shared], ams()));
        assert!(p.actions.is_empty(), "{:?}", kinds(&p));
    }

    #[test]
    fn people_sharing_an_address_do_not_take_an_account_by_it() {
        let mut c = config();
        c.identity.match_on = vec![MatchKey::Email, MatchKey::ExternalId];
        let mut one = person("1", &["1001"]);
        one.email = Some("shared@example.com".to_owned());
        let mut two = person("2", &["1001"]);
        two.email = Some("shared@example.com".to_owned());
        // Person 3's account still carries the shared address.
        let mut theirs = account("u3", "3", &["t1"]);
        theirs.email = Some("shared@example.com".to_owned());
        let s = source(vec![one, two, person("3", &["1001"])], &[]);
        let p = plan(&c, &s, &target(vec![theirs], ams()));
        assert_eq!(
            kinds(&p),
            [(ActionKind::Update, "3")],
            "no invite for 3, no remove of u3"
        );
        assert_eq!(
            p.actions[0].changes.to_wire()["email"].to,
            json!("3@example.com")
        );
    }

    #[test]
    fn two_active_accounts_never_carry_one_source_identifier() {
        let mut c = config();
        c.identity.match_on = vec![MatchKey::Email];
        c.protected = vec![ProtectedRule {
            email: None,
            id: Some("u1".to_owned()),
            pattern: None,
        }];
        // A protected account carries person 1's identifier under another address.
        let mut admin = account("u1", "1", &["t1"]);
        admin.email = Some("admin@example.com".to_owned());
        let mut legacy = account("u2", "2", &["t1"]);
        legacy.external_id = Some("1".to_owned());
        let s = source(vec![person("1", &["1001"]), person("2", &["1001"])], &[]);
        let p = plan(&c, &s, &target(vec![admin, legacy], ams()));
        let invite = action(&p, ActionKind::Invite);
        assert_eq!(invite.subject, "1");
        assert_eq!(
            invite.changes.to_wire()["external_id"].to,
            Value::Null,
            "u1 keeps \"1\""
        );
        // u2, matched to person 2 by e-mail, gets person 2's identifier.
        assert_eq!(
            action(&p, ActionKind::Update).changes.to_wire()["external_id"].to,
            json!("2")
        );
    }

    #[test]
    fn a_person_without_email_and_account_is_not_invited() {
        let c = config();
        let mut a = person("1", &["1001"]);
        a.email = None;
        let mut b = person("2", &["1001"]);
        b.email = Some("  ".to_owned());
        let p = plan(&c, &source(vec![a, b], &[]), &target(vec![], ams()));
        assert!(p.actions.is_empty());
        let d = diags(&p, DiagnosticKind::MissingEmail);
        assert_eq!((d.len(), d[0].count), (1, 2));
        assert!(d[0].message.contains("1, 2"), "{}", d[0].message);
    }

    #[test]
    fn a_person_whose_communities_are_all_held_is_not_invited() {
        let c = config();
        let s = source(vec![person("1", &["1099"])], &[]);
        let p = plan(&c, &s, &target(vec![], ams()));
        assert!(p.actions.is_empty());
        assert_eq!(diags(&p, DiagnosticKind::UnmappedCommunity)[0].count, 1);
    }

    #[test]
    fn protected_accounts_are_never_changed_or_removed() {
        let mut c = config();
        c.protected = vec![
            ProtectedRule {
                email: Some("ADMIN@example.com".to_owned()),
                id: None,
                pattern: None,
            },
            ProtectedRule {
                email: None,
                id: Some("u3".to_owned()),
                pattern: None,
            },
            ProtectedRule {
                email: None,
                id: None,
                pattern: Some("*@ops.example.com".to_owned()),
            },
        ];
        let mut admin = account("u1", "1", &["t1"]);
        admin.email = Some("admin@example.com".to_owned());
        let mut ops = account("u2", "gone-2", &["t1"]);
        ops.email = Some("bot@OPS.example.com".to_owned());
        let by_id = account("u3", "gone-3", &["t1"]);
        let mut changed = person("1", &["1007"]);
        changed.email = Some("admin@example.com".to_owned());
        changed.last_name = "New".to_owned();
        let s = source(vec![changed], &[]);
        let p = plan(&c, &s, &target(vec![admin, ops, by_id], ams()));
        assert!(p.actions.is_empty(), "{:?}", kinds(&p));
        let d = diags(&p, DiagnosticKind::ProtectedAccount);
        assert_eq!(d.len(), 3);
        assert!(d.iter().all(|d| d.severity == Severity::Info));
    }

    #[test]
    fn only_managed_fields_are_compared_and_written() {
        let mut c = config();
        c.policy.managed_fields = vec![ManagedField::LastName];
        let mut changed = person("1", &["1007"]);
        changed.first_name = "Other".to_owned();
        changed.email = Some("new@example.com".to_owned());
        let s = source(vec![changed], &[]);
        let t = target(vec![account("u1", "1", &["t1"])], ams());
        assert!(plan(&c, &s, &t).actions.is_empty());

        c.policy.managed_fields.push(ManagedField::FirstName);
        let p = plan(&c, &s, &t);
        assert_eq!(kinds(&p), [(ActionKind::Update, "1")]);
        assert_eq!(
            p.actions[0].changes.to_wire().keys().collect::<Vec<_>>(),
            ["first_name"]
        );
        assert_eq!(p.actions[0].reason, "first name changed in the source");
    }

    #[test]
    fn an_email_change_is_an_update_but_not_a_change_of_case() {
        let c = config();
        let mut upper = person("1", &["1001"]);
        upper.email = Some("1@EXAMPLE.COM".to_owned());
        let t = target(vec![account("u1", "1", &["t1"])], ams());
        assert!(plan(&c, &source(vec![upper], &[]), &t).actions.is_empty());
        let mut other = person("1", &["1001"]);
        other.email = Some("ann@example.com".to_owned());
        let p = plan(&c, &source(vec![other], &[]), &t);
        assert_eq!(
            action(&p, ActionKind::Update).changes.to_wire()["email"].to,
            json!("ann@example.com")
        );
    }

    #[test]
    fn function_groups_compare_as_sets() {
        let mut c = config();
        c.functions = Some(crate::config::FunctionsConfig {
            from: crate::config::FunctionSourceField::Function,
            unmapped: crate::config::UnmappedFunctionPolicy::default(),
            map: vec![],
        });
        let mut p1 = person("1", &["1001"]);
        set_functions(&mut p1, &["F1", "F2"]);
        let mut a = account("u1", "1", &["t1"]);
        a.function_groups = vec!["g2".to_owned(), "g1".to_owned(), "g1".to_owned()];
        let mut t = target(vec![a], ams());
        t.function_groups = vec![
            group("g1", "Bar", &["F1"], true),
            group("g2", "Kitchen", &["F2"], true),
        ];
        let s = source(vec![p1], &[]);
        assert!(
            plan(&c, &s, &t).actions.is_empty(),
            "order and duplicates do not matter"
        );

        t.accounts[0].function_groups = vec!["g1".to_owned()];
        let p = plan(&c, &s, &t);
        let update = action(&p, ActionKind::Update);
        assert_eq!(
            update.changes.to_wire()["function_groups"].from,
            json!([{ "id": "g1", "name": "Bar" }])
        );
        assert_eq!(
            update.changes.to_wire()["function_groups"].to,
            json!([{ "id": "g1", "name": "Bar" }, { "id": "g2", "name": "Kitchen" }])
        );
        assert_eq!(update.reason, "function groups changed in the source");
        assert_eq!(update.cause, Cause::Source);

        // Regression (kill -9 strands people): in no managed function group at all, the account
        // was left half-made by an apply; placing it completes that apply and counts against no
        // limit, even when its communities were written.
        t.accounts[0].function_groups = vec!["x9".to_owned()];
        let mut limited = c.clone();
        limited.safety.max_updates = crate::config::Limit::Count(0);
        let p = plan(&limited, &s, &t);
        let update = action(&p, ActionKind::Update);
        assert_eq!(update.cause, Cause::Completion);
        assert_eq!(
            update.reason,
            "completes an earlier apply that stopped before placing the account: its function groups"
        );
        assert!(p.safety.safe, "{:?}", p.safety.violations);
    }

    #[test]
    fn a_community_change_is_a_move_with_the_transfer_notice() {
        let c = config();
        let s = source(vec![person("1", &["1007"])], &[]);
        let t = target(vec![account("u1", "1", &["t1", "x9"])], ams());
        let p = plan(&c, &s, &t);
        assert_eq!(kinds(&p), [(ActionKind::Move, "1")]);
        let mv = &p.actions[0];
        assert_eq!(
            mv.changes.to_wire()["communities"].from,
            json!([{ "id": "t1", "name": "Amsterdam Centrum" }, { "id": "x9", "name": "x9", "foreign": true }]),
        );
        // Regression: communities were written as a whole set, so every run took people out
        // of groups orgsync does not manage. A membership of a group it does not know stays.
        assert_eq!(
            mv.changes.to_wire()["communities"].to,
            json!([{ "id": "t2", "name": "Utrecht" }, { "id": "x9", "name": "x9", "foreign": true }])
        );
        assert_eq!(mv.changes.to_wire()["notify"].to, json!(true));
        assert_eq!(mv.reason, "moved from Amsterdam Centrum to Utrecht");
    }

    /// Regression (killed apply): an apply that created an account and was killed before it
    /// placed it left a managed account in no managed group. The next plan places it as orgsync's
    /// own unfinished work: it counts against no limit and e-mails no one.
    #[test]
    fn a_killed_apply_leaves_placement_that_is_completed_not_counted_and_not_notified() {
        let mut c = config();
        c.safety.max_moves = crate::config::Limit::Count(0);
        let s = source(vec![person("1", &["1001"]), person("2", &["1007"])], &[]);
        let t = target(
            vec![account("u1", "1", &[]), account("u2", "2", &["t1"])],
            ams(),
        );
        let p = plan(&c, &s, &t);
        let completion: Vec<_> = p
            .actions
            .iter()
            .filter(|a| a.cause == Cause::Completion)
            .collect();
        assert_eq!(completion.len(), 1, "{:#?}", p.actions);
        let done = completion[0];
        assert_eq!(
            (done.kind(), done.subject.as_str()),
            (ActionKind::Move, "1")
        );
        assert_eq!(
            done.reason,
            "completes an earlier apply that stopped before placing the account: placed in Amsterdam Centrum"
        );
        assert_eq!(done.changes.to_wire()["notify"].to, json!(false));
        // The transfer of person 2 is news from the source and meets the limit of 0 moves; the
        // completion does not.
        assert!(!p.safety.safe);
        assert_eq!(p.safety.violations[0].rule, "max_moves");
        assert_eq!(p.safety.violations[0].actual, 1);
        // Without the transfer the completion alone is safe.
        let s = source(vec![person("1", &["1001"])], &[]);
        let t = target(vec![account("u1", "1", &[])], ams());
        let p = plan(&c, &s, &t);
        assert!(p.safety.safe, "{:?}", p.safety.violations);
        assert_eq!(p.actions.len(), 1);
    }

    /// An account placed in a group orgsync manages is not unfinished: its move is news.
    #[test]
    fn a_placed_account_moves_for_a_source_cause() {
        let c = config();
        let s = source(vec![person("1", &["1007"])], &[]);
        let t = target(vec![account("u1", "1", &["t1"])], ams());
        let p = plan(&c, &s, &t);
        assert_eq!(p.actions[0].cause, Cause::Source);
        // An account in a group orgsync does not manage only is still unfinished.
        let t = target(vec![account("u1", "1", &["x9"])], ams());
        let p = plan(&c, &s, &t);
        assert_eq!(p.actions[0].cause, Cause::Completion);
    }

    /// Regression (a listing cut the same way on every read): people the listing left out but
    /// the source confirmed when asked directly keep their accounts; the others are removed.
    #[test]
    fn people_the_listing_left_out_but_the_source_has_are_not_removed() {
        let c = config();
        let mut s = source(vec![person("1", &["1001"])], &[]);
        s.unlisted = vec!["2".to_owned()];
        let t = target(
            vec![
                account("u1", "1", &["t1"]),
                account("u2", "2", &["t1"]),
                account("u3", "3", &["t1"]),
            ],
            ams(),
        );
        let p = plan(&c, &s, &t);
        assert_eq!(kinds(&p), [(ActionKind::Remove, "3")]);
        let d = diags(&p, DiagnosticKind::ListingIncomplete);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].severity, Severity::Warning);
        assert_eq!(d[0].count, 1);
        assert_eq!(d[0].concerns.0, ["2"]);
        assert!(
            d[0].message.contains("kept, not removed"),
            "{}",
            d[0].message
        );
    }

    #[test]
    fn a_person_whose_communities_are_held_is_not_moved_to_nothing() {
        let c = config();
        let s = source(vec![person("1", &["1099"])], &[]);
        let t = target(vec![account("u1", "1", &["t1"])], ams());
        let p = plan(&c, &s, &t);
        assert!(p.actions.is_empty(), "{:?}", kinds(&p));
    }

    #[test]
    fn accounts_of_people_who_left_scope_are_removed_with_the_reason() {
        let mut c = config();
        c.test_locations = vec!["Test*".to_owned()];
        let mut ended = person("1", &["1001"]);
        set_end(&mut ended, Some(jiff::civil::date(2026, 5, 31)));
        let s = source(
            vec![ended, person("2", &["9001"])],
            &[("9001", "Test site")],
        );
        let mut unmanaged = account("u4", "4", &["t1"]);
        unmanaged.managed = false;
        let t = target(
            vec![
                account("u1", "1", &["t1"]),
                account("u2", "2", &["t1"]),
                account("u3", "3", &["t1"]),
                unmanaged,
            ],
            ams(),
        );
        let mut c2 = c.clone();
        c2.safety.max_removals = MaxRemovals::Count(100);
        let p = plan(&c2, &s, &t);
        let removes: Vec<_> = p
            .actions
            .iter()
            .map(|a| {
                (
                    a.kind(),
                    a.target_id.as_deref().unwrap_or(""),
                    a.reason.as_str(),
                )
            })
            .collect();
        assert_eq!(
            removes,
            [
                (
                    ActionKind::Remove,
                    "u1",
                    "contract ended on 2026-05-31; keeps its memberships (Amsterdam Centrum) while removed, dropped when anonymized"
                ),
                (
                    ActionKind::Remove,
                    "u2",
                    "only in test locations; keeps its memberships (Amsterdam Centrum) while removed, dropped when anonymized"
                ),
                (
                    ActionKind::Remove,
                    "u3",
                    "no longer in the source; keeps its memberships (Amsterdam Centrum) while removed, dropped when anonymized"
                ),
            ],
            "never the unmanaged u4"
        );
        let remove = &p.actions[0];
        assert_eq!(remove.changes.to_wire()["status"].to, json!("removed"));
        assert_eq!(remove.changes.to_wire()["removed_at"].to, json!(TODAY));
    }

    #[test]
    fn a_removed_account_is_restored_in_one_action_within_retention() {
        let c = config();
        let mut removed = account("u1", "1", &["t1"]);
        removed.status = AccountStatus::Removed;
        removed.removed_at = Some(day(-30));
        removed.first_name = "Old".to_owned();
        let s = source(vec![person("1", &["1007"])], &[]);
        let p = plan(&c, &s, &target(vec![removed], ams()));
        assert_eq!(kinds(&p), [(ActionKind::Restore, "1")]);
        let restore = &p.actions[0];
        let wire = restore.changes.to_wire();
        let fields: Vec<_> = wire.keys().map(String::as_str).collect();
        assert_eq!(
            fields,
            ["communities", "first_name", "removed_at", "status"]
        );
        assert_eq!(restore.changes.to_wire()["status"].to, json!("active"));
        assert_eq!(restore.changes.to_wire()["removed_at"].to, Value::Null);
    }

    /// Regression: a removed account was restored however long ago it was removed, keeping
    /// personal data past retention. Past retention it is anonymized, the person held (and
    /// invited anew once the anonymized account no longer matches).
    #[test]
    fn restore_only_within_retention_days() {
        let c = config();
        let mut removed = account("u1", "1", &["t1"]);
        removed.status = AccountStatus::Removed;
        removed.removed_at = Some(day(-31));
        let s = source(vec![person("1", &["1007"])], &[]);
        let t = target(vec![removed], ams());
        let p = plan(&c, &s, &t);
        assert_eq!(kinds(&p), [(ActionKind::Anonymize, "1")]);
        assert_eq!(p.held[&DiagnosticKind::RetentionPassed], 1);
        assert_eq!(diags(&p, DiagnosticKind::RetentionPassed).len(), 1);
        let after = crate::memory::apply_plan(&t, &p, TODAY).unwrap();
        let next = plan(&c, &s, &after);
        assert_eq!(kinds(&next), [(ActionKind::Invite, "1")]);
    }

    /// Regression: a removed account without `removed_at` was kept forever, silently. Its
    /// retention now counts from the day the plan records the date.
    #[test]
    fn a_removed_account_without_a_removal_date_gets_one_and_a_diagnostic() {
        let c = config();
        let mut removed = account("u1", "gone", &["t1"]);
        removed.status = AccountStatus::Removed;
        let t = target(vec![removed, account("u2", "1", &["t1"])], ams());
        let s = source(vec![person("1", &["1001"])], &[]);
        let p = plan(&c, &s, &t);
        assert_eq!(kinds(&p), [(ActionKind::Update, "gone")]);
        assert_eq!(
            p.actions[0].changes.to_wire()["removed_at"].to,
            json!(TODAY)
        );
        assert_eq!(diags(&p, DiagnosticKind::MissingRemovalDate).len(), 1);
        let after = crate::memory::apply_plan(&t, &p, TODAY).unwrap();
        assert!(plan(&c, &s, &after).actions.is_empty());
    }

    /// Regression (issue 21): removed (deactivated) users kept their community and
    /// function-group memberships for good, anonymized or not, and no plan said so. The
    /// decision, for a target that deactivates: kept through retention (a restore finds the
    /// account where it was), said in the removal's reason; dropped with the personal data at
    /// anonymization, listed in the action (`communities: [Amsterdam Centrum] → []`). Memberships of
    /// groups orgsync does not manage stay.
    #[test]
    fn removed_accounts_keep_memberships_through_retention_and_lose_them_when_anonymized() {
        let c = config();
        let mut expired = account("u1", "gone", &["t1", "t9"]);
        expired.status = AccountStatus::Removed;
        expired.removed_at = Some(day(-31));
        let leaver = account("u2", "left", &["t1"]);
        let mut groups = ams();
        groups.push(group("t9", "Book club", &[], false));
        let t = target(vec![expired, leaver, account("u3", "1", &["t1"])], groups);
        let s = source(vec![person("1", &["1001"])], &[]);
        let p = plan(&c, &s, &t);
        assert_eq!(
            kinds(&p),
            [
                (ActionKind::Remove, "left"),
                (ActionKind::Anonymize, "gone")
            ]
        );
        assert!(
            p.actions[0].reason.ends_with(
                "; keeps its memberships (Amsterdam Centrum) while removed, dropped when anonymized"
            ),
            "{}",
            p.actions[0].reason
        );
        let wire = p.actions[1].changes.to_wire();
        assert_eq!(
            wire["communities"].from,
            json!([{"id": "t1", "name": "Amsterdam Centrum"}])
        );
        assert_eq!(wire["communities"].to, json!([]));
        let after = crate::memory::apply_plan(&t, &p, TODAY).unwrap();
        let by_id = |id: &str| after.accounts.iter().find(|a| a.id == id).unwrap();
        assert_eq!(
            by_id("u1").communities,
            ["t9"],
            "a foreign group's membership stays"
        );
        assert_eq!(by_id("u2").communities, ["t1"], "kept through retention");
        assert!(plan(&c, &s, &after).actions.is_empty());
        // The wire form reads back.
        let back = Changes::from_wire(ActionKind::Anonymize, wire).unwrap();
        assert_eq!(back, p.actions[1].changes);
    }

    /// Regression (issue 21): a group made by hand that no mapping names (a SCIM Group without
    /// a prefix, read as a community under `groups.other: community`) was listed among the
    /// person's communities in a move. It is kept — the lists carry it for targets that write
    /// whole lists — and marked `foreign`, so plans do not show it as a community.
    #[test]
    fn a_foreign_group_is_kept_in_a_move_but_marked_as_not_a_community() {
        let c = config();
        let mut groups = ams();
        groups.push(group("t9", "Book club", &[], false));
        let t = target(vec![account("u1", "1", &["t1", "t9"])], groups);
        let s = source(vec![person("1", &["1007"])], &[]);
        let p = plan(&c, &s, &t);
        assert_eq!(kinds(&p), [(ActionKind::Move, "1")]);
        let wire = p.actions[0].changes.to_wire();
        assert_eq!(
            wire["communities"].from,
            json!([{"id": "t1", "name": "Amsterdam Centrum"}, {"id": "t9", "name": "Book club", "foreign": true}])
        );
        assert_eq!(
            wire["communities"].to,
            json!([{"id": "t9", "name": "Book club", "foreign": true}, {"id": "t2", "name": "Utrecht"}])
        );
        assert!(
            !p.actions[0].reason.contains("Book club"),
            "{}",
            p.actions[0].reason
        );
        let after = crate::memory::apply_plan(&t, &p, TODAY).unwrap();
        let mut kept = after.accounts[0].communities.clone();
        kept.sort();
        assert_eq!(kept, ["t2", "t9"], "the hand-made group's membership stays");
        assert!(plan(&c, &s, &after).actions.is_empty());
        let back = Changes::from_wire(ActionKind::Move, wire).unwrap();
        assert_eq!(back, p.actions[0].changes);
    }

    #[test]
    fn removed_accounts_are_anonymized_only_strictly_after_retention() {
        let c = config();
        let removed = |id: &str, days_ago: i64| {
            let mut a = account(id, id, &["t1"]);
            a.status = AccountStatus::Removed;
            a.removed_at = Some(day(-days_ago));
            a
        };
        let t = target(vec![removed("u30", 30), removed("u31", 31)], ams());
        let p = plan(&c, &source(vec![person("1", &["1001"])], &[]), &t);
        let anonymize = action(&p, ActionKind::Anonymize);
        assert_eq!(anonymize.target_id.as_deref(), Some("u31"));
        assert_eq!(
            anonymize.reason,
            "removed 31 days ago, retention is 30 days"
        );
        assert_eq!(
            anonymize.changes.to_wire()["status"].to,
            json!("anonymized")
        );
        assert_eq!(anonymize.changes.to_wire()["email"].to, Value::Null);
        assert_eq!(p.summary[&ActionKind::Anonymize], 1);
    }

    #[test]
    fn actions_run_in_apply_order_and_diagnostics_most_severe_first() {
        let mut c = config();
        c.policy.unmapped_communities = crate::config::UnmappedPolicy::Create;
        c.safety.allow_community_removal = true;
        c.safety.max_removals = MaxRemovals::Count(100);
        let mut gone = account("u9", "9", &["t1"]);
        gone.status = AccountStatus::Removed;
        gone.removed_at = Some(day(-90));
        let mut back = account("u2", "2", &["t1"]);
        back.status = AccountStatus::Removed;
        back.removed_at = Some(day(-1));
        let mut renamed = account("u3", "3", &["t1"]);
        renamed.first_name = "Old".to_owned();
        let mut noemail = person("5", &["1001"]);
        noemail.email = None;
        let s = source(
            vec![
                person("1", &["2001"]),
                person("2", &["1001"]),
                person("3", &["1001"]),
                person("4", &["1007"]),
                noemail,
            ],
            &[("2001", "Den Haag")],
        );
        let mut groups = ams();
        groups.push(group("t8", "Closed", &["1888"], true));
        let t = target(
            vec![
                gone,
                back,
                renamed,
                account("u4", "4", &["t1"]),
                account("u7", "7", &["t1"]),
            ],
            groups,
        );
        let p = plan(&c, &s, &t);
        assert_eq!(
            kinds(&p),
            [
                (ActionKind::CreateCommunity, "2001"),
                (ActionKind::Invite, "1"),
                (ActionKind::Update, "3"),
                (ActionKind::Move, "4"),
                (ActionKind::Restore, "2"),
                (ActionKind::Remove, "7"),
                (ActionKind::Anonymize, "9"),
                (ActionKind::RemoveCommunity, "1888"),
            ]
        );
        let phases: Vec<u8> = p.actions.iter().map(|a| a.kind().phase()).collect();
        assert!(phases.is_sorted());
        assert_eq!(p.summary, Plan::count_actions(&p.actions));
        let severities: Vec<Severity> = p.diagnostics.iter().map(|d| d.severity).collect();
        assert!(severities.is_sorted_by(|a, b| a >= b), "{severities:?}");
    }

    fn managed(n: usize) -> Vec<Account> {
        (0..n)
            .map(|i| account(&format!("u{i}"), &format!("{i}"), &["t1"]))
            .collect()
    }

    /// A source that keeps `keep` of the accounts from `managed`.
    fn keeping(keep: usize) -> crate::model::SourceSnapshot {
        source(
            (0..keep)
                .map(|i| person(&format!("{i}"), &["1001"]))
                .collect(),
            &[],
        )
    }

    #[test]
    fn max_removals_as_a_count() {
        let mut c = config();
        c.safety.max_removals = MaxRemovals::Count(2);
        let t = target(managed(5), ams());
        let ok = plan(&c, &keeping(3), &t);
        assert!(ok.safety.safe);
        assert_eq!(ok.summary[&ActionKind::Remove], 2);
        let over = plan(&c, &keeping(2), &t);
        assert!(!over.safety.safe);
        assert_eq!(over.safety.violations[0].rule, "max_removals");
        assert_eq!(
            (
                over.safety.violations[0].limit,
                over.safety.violations[0].actual
            ),
            (2, 3)
        );
        let d = diags(&over, DiagnosticKind::Safety);
        assert_eq!(
            d[0].severity,
            Severity::Warning,
            "produced, but apply refuses it"
        );
        assert!(!over.has_errors());
    }

    #[test]
    fn max_removals_as_a_percentage_from_ten_managed_accounts_up() {
        let mut c = config();
        c.safety.max_removals = MaxRemovals::Percent("10%".to_owned());
        // Below 10 managed accounts a percentage says little: 1 of 9 would be 11%.
        let small = plan(&c, &keeping(8), &target(managed(9), ams()));
        assert!(small.safety.safe);
        let t = target(managed(20), ams());
        assert!(plan(&c, &keeping(18), &t).safety.safe, "2 of 20 is 10%");
        let over = plan(&c, &keeping(17), &t);
        assert!(!over.safety.safe);
        let v = &over.safety.violations[0];
        assert_eq!(
            (v.rule.as_str(), v.limit, v.actual),
            ("max_removals_percent", 2, 3)
        );

        c.safety.max_removals = MaxRemovals::Both(MaxRemovalsBoth {
            percent: Some(50),
            count: Some(1),
        });
        assert_eq!(plan(&c, &keeping(18), &t).safety.violations.len(), 1);
    }

    #[test]
    fn an_empty_source_is_an_error_and_removes_no_one() {
        let c = config();
        let p = plan(&c, &source(vec![], &[]), &target(managed(3), ams()));
        assert!(p.actions.iter().all(|a| a.kind() != ActionKind::Remove));
        assert!(p.has_errors());
        let d = diags(&p, DiagnosticKind::Safety);
        assert_eq!((d[0].severity, d[0].count), (Severity::Error, 3));
        // Without managed accounts an empty source is simply empty.
        assert!(!plan(&c, &source(vec![], &[]), &target(vec![], ams())).has_errors());
    }

    // --- Issue 9: employments, managed memberships, re-keying, first sync ---------------

    use crate::config::{
        CommunityMapping, FallbackPolicy, FunctionMapping, FunctionsConfig, IncludeConfig,
        OneOrMany, UnmappedFunctionPolicy, UnmappedPolicy,
    };
    use crate::model::Employment;
    use crate::scope::testing::employment;

    fn map(source: &str, target: &str) -> CommunityMapping {
        CommunityMapping {
            source: OneOrMany::One(source.to_owned()),
            target: target.to_owned(),
            name: None,
            todo: None,
            notify: None,
        }
    }

    fn converge(c: &Config, s: &SourceSnapshot, t: &TargetSnapshot) -> TargetSnapshot {
        let p = plan(c, s, t);
        assert!(!p.has_errors(), "{:?}", p.diagnostics);
        let after = crate::memory::apply_plan(t, &p, TODAY).expect("applies");
        let again = plan(c, s, &after);
        assert!(again.actions.is_empty(), "converged: {:?}", kinds(&again));
        after
    }

    /// Regression: the rows of one person were merged, so someone who drove for Delivery until
    /// 2022 was still placed in Delivery.
    #[test]
    fn ended_employment_rows_place_nobody() {
        let c = config();
        let mut p1 = person("1", &[]);
        p1.employments = vec![
            employment("2001", Some(day(-2000)), Some(day(-900))),
            employment("1001", Some(day(-899)), None),
        ];
        let s = source(vec![p1], &[]);
        let t = target(
            vec![],
            vec![
                group("t1", "Amsterdam Centrum", &["1001"], true),
                group("t9", "Delivery", &["2001"], true),
            ],
        );
        let p = plan(&c, &s, &t);
        assert_eq!(kinds(&p), [(ActionKind::Invite, "1")]);
        assert_eq!(
            p.actions[0].changes.to_wire()["communities"].to,
            json!([{ "id": "t1", "name": "Amsterdam Centrum" }])
        );
    }

    /// Regression: a transfer written as a new employment row ("Rotterdam from 2026-11-22"
    /// beside "Amsterdam until 2026-11-21") became "moved from Amsterdam to Amsterdam,
    /// Rotterdam" and never left Amsterdam. It is exactly one move, on its start day.
    #[test]
    fn a_new_row_transfer_is_exactly_one_move_on_its_start_day() {
        let c = config();
        let mut p1 = person("1", &[]);
        p1.employments = vec![
            employment("1001", Some(day(-400)), Some(day(-1))),
            employment("1007", Some(day(0)), None),
        ];
        let t = target(vec![account("u1", "1", &["t1"])], ams());
        let s = source(vec![p1.clone()], &[]);
        let p = plan(&c, &s, &t);
        assert_eq!(kinds(&p), [(ActionKind::Move, "1")]);
        let mv = &p.actions[0];
        assert_eq!(
            mv.changes.to_wire()["communities"].to,
            json!([{ "id": "t2", "name": "Utrecht" }])
        );
        assert_eq!(mv.reason, "moved from Amsterdam Centrum to Utrecht");
        assert_eq!(mv.changes.to_wire()["notify"].to, json!(true));
        converge(&c, &s, &t);

        // The day before, the new employment has not started: nothing moves yet, however
        // close it is (the lead time is for a first employment only).
        let mut before = p1;
        for e in &mut before.employments {
            e.start = e.start.map(|d| d.tomorrow().unwrap());
            e.end = e.end.map(|d| d.tomorrow().unwrap());
        }
        let p = plan(&c, &source(vec![before], &[]), &t);
        assert!(p.actions.is_empty(), "{:?}", kinds(&p));
    }

    /// `invite_lead_days` counts to a person's first employment; beyond it, no invite yet; an
    /// ended employment plus a future one beyond the lead time is a leaver for now.
    #[test]
    fn the_invite_lead_time_applies_to_the_first_employment() {
        let mut c = config();
        c.policy.invite_lead_days = 7;
        let mut soon = person("soon", &[]);
        soon.employments = vec![employment("1001", Some(day(5)), None)];
        let mut later = person("later", &[]);
        later.employments = vec![employment("1001", Some(day(30)), None)];
        let mut gap = person("gap", &[]);
        gap.employments = vec![
            employment("1001", Some(day(-300)), Some(day(-10))),
            employment("1007", Some(day(60)), None),
        ];
        let s = source(vec![soon, later, gap], &[]);
        let t = target(vec![account("u9", "gap", &["t1"])], ams());
        let mut c2 = c.clone();
        c2.safety.max_removals = crate::config::MaxRemovals::Count(10);
        let p = plan(&c2, &s, &t);
        assert_eq!(
            kinds(&p),
            [(ActionKind::Invite, "soon"), (ActionKind::Remove, "gap")]
        );
        assert_eq!(
            p.actions[0].reason,
            format!("new in the source, starts on {}", day(5))
        );
        assert_eq!(
            p.actions[1].reason,
            format!(
                "contract ended on {}; keeps its memberships (Amsterdam Centrum) while removed, dropped when anonymized",
                day(-10)
            )
        );
    }

    /// Regression: every membership of a managed account was compared and written as a whole
    /// set, so hand-made groups lost their members on every run.
    #[test]
    fn only_memberships_of_managed_groups_change() {
        let mut c = config();
        c.communities = vec![map("1007", "Utrecht")];
        c.functions = Some(FunctionsConfig {
            from: crate::config::FunctionSourceField::Function,
            unmapped: UnmappedFunctionPolicy::Fallback(FallbackPolicy {
                fallback: "No function".to_owned(),
            }),
            map: vec![FunctionMapping {
                source: OneOrMany::One("F1".to_owned()),
                target: "Kitchen".to_owned(),
                name: None,
                todo: None,
            }],
        });
        let mut p1 = person("1", &["1007"]);
        set_functions(&mut p1, &["F1"]);
        let mut a = account("u1", "1", &["t1", "hand"]);
        a.function_groups = vec!["g-hand".to_owned(), "g-nf".to_owned()];
        let mut t = target(
            vec![a],
            vec![
                group("t1", "Amsterdam Centrum", &["1001"], true),
                group("t2", "Utrecht", &[], false),
                group("hand", "Social club", &[], false),
            ],
        );
        t.function_groups = vec![
            group("g-k", "Kitchen", &[], false),
            group("g-nf", "No function", &[], false),
            group("g-hand", "Allergy trained", &[], false),
        ];
        let s = source(vec![p1], &[]);
        let p = plan(&c, &s, &t);
        let mv = action(&p, ActionKind::Move);
        assert_eq!(
            mv.changes.to_wire()["communities"].to,
            json!([{ "id": "hand", "name": "Social club", "foreign": true }, { "id": "t2", "name": "Utrecht" }])
        );
        let up = action(&p, ActionKind::Update);
        assert_eq!(
            up.changes.to_wire()["function_groups"].to,
            json!([{ "id": "g-hand", "name": "Allergy trained", "foreign": true }, { "id": "g-k", "name": "Kitchen" }])
        );
        let after = converge(&c, &s, &t);
        assert_eq!(after.accounts[0].communities, ["hand", "t2"]);
    }

    /// Regression: partial sync removed and moved people outside the include-list. They, their
    /// accounts and their memberships are left alone.
    #[test]
    fn partial_sync_leaves_people_and_memberships_outside_the_include_list_alone() {
        let mut c = config();
        c.include = Some(IncludeConfig {
            communities: vec!["1001".to_owned()],
        });
        c.safety.max_removals = crate::config::MaxRemovals::Count(10);
        let inside = person("in", &["1001", "1007"]);
        let outside = person("out", &["1007"]);
        let t = target(
            vec![
                account("u1", "in", &["t1", "t2"]),
                account("u2", "out", &["t2"]),
                // Left HR entirely; in a community outside the include-list.
                account("u3", "gone-out", &["t2"]),
                // Left HR entirely; in an included community.
                account("u4", "gone-in", &["t1"]),
            ],
            ams(),
        );
        let s = source(vec![inside, outside], &[]);
        let p = plan(&c, &s, &t);
        assert_eq!(kinds(&p), [(ActionKind::Remove, "gone-in")]);
        converge(&c, &s, &t);
    }

    /// Regression (first sync): into an empty target, the plan said "No changes" while 38
    /// people in scope were not provisioned. Mapping targets and the fallback are created.
    #[test]
    fn a_first_sync_into_an_empty_target_provisions_everyone() {
        let mut c = config();
        c.communities = vec![map("1001", "Amsterdam"), map("1007", "Utrecht")];
        c.functions = Some(FunctionsConfig {
            from: crate::config::FunctionSourceField::Function,
            unmapped: UnmappedFunctionPolicy::Fallback(FallbackPolicy {
                fallback: "No function".to_owned(),
            }),
            map: vec![],
        });
        let s = source(
            vec![
                person("1", &["1001"]),
                person("2", &["1007"]),
                person("3", &["1001"]),
            ],
            &[],
        );
        let t = TargetSnapshot::default();
        let p = plan(&c, &s, &t);
        assert_eq!(p.summary[&ActionKind::Invite], 3);
        assert_eq!(p.summary[&ActionKind::CreateCommunity], 2);
        assert_eq!(p.summary[&ActionKind::CreateFunctionGroup], 1);
        assert!(diags(&p, DiagnosticKind::MappingTargetMissing).is_empty());
        assert_eq!(p.held_count(), 0);
        converge(&c, &s, &t);
    }

    /// Regression: people held (here: an unmapped community under `hold`) were not counted,
    /// and the summary said the target matched.
    #[test]
    fn held_people_are_counted_by_reason() {
        let c = config();
        let s = source(
            vec![person("1", &["5555"]), person("2", &[]), {
                let mut p = person("3", &["1001"]);
                p.email = None;
                p
            }],
            &[],
        );
        let p = plan(&c, &s, &target(vec![], ams()));
        assert!(p.actions.is_empty());
        assert_eq!(p.held_count(), 3);
        assert_eq!(p.held[&DiagnosticKind::UnmappedCommunity], 1);
        assert_eq!(p.held[&DiagnosticKind::NoCommunity], 1);
        assert_eq!(p.held[&DiagnosticKind::MissingEmail], 1);
        // A person in scope without any community is said, not silently skipped.
        let none = diags(&p, DiagnosticKind::NoCommunity);
        assert_eq!((none.len(), none[0].count), (1, 1));
    }

    /// Regression: rows with one identifier and different e-mail addresses silently kept the
    /// first address. Both addresses are named and the person is held; their account stays.
    #[test]
    fn conflicting_emails_of_one_identifier_hold_the_person() {
        let c = config();
        let mut p1 = person("1", &["1007"]);
        p1.conflicting_emails = vec!["other@example.com".to_owned()];
        let t = target(vec![account("u1", "1", &["t1"])], ams());
        let p = plan(&c, &source(vec![p1], &[]), &t);
        assert!(p.actions.is_empty(), "{:?}", kinds(&p));
        let d = diags(&p, DiagnosticKind::ConflictingEmail);
        assert_eq!(d.len(), 1);
        assert!(
            d[0].message.contains("1@example.com, other@example.com"),
            "{}",
            d[0].message
        );
        assert_eq!(p.held[&DiagnosticKind::ConflictingEmail], 1);
    }

    /// Regression: a community and a function group created in one plan for the same numeric
    /// identifier shared the placeholder `new:100`, and the apply failed.
    #[test]
    fn a_community_and_a_function_with_one_identifier_are_created_apart() {
        let mut c = config();
        c.policy.unmapped_communities = UnmappedPolicy::Create;
        c.functions = Some(FunctionsConfig {
            from: crate::config::FunctionSourceField::Function,
            unmapped: UnmappedFunctionPolicy::Simple(crate::config::UnmappedFunctionAction::Create),
            map: vec![],
        });
        let mut p1 = person("1", &[]);
        p1.employments = vec![Employment {
            community: Some("100".to_owned()),
            function: Some("100".to_owned()),
            ..Employment::default()
        }];
        let mut s = source(vec![p1], &[("100", "Haarlem")]);
        s.functions = vec![crate::model::SourceGroup {
            id: "100".to_owned(),
            name: "Cook".to_owned(),
        }];
        let t = TargetSnapshot::default();
        let p = plan(&c, &s, &t);
        let invite = action(&p, ActionKind::Invite);
        assert_eq!(
            invite.changes.to_wire()["communities"].to[0]["id"],
            "new:community:100"
        );
        assert_eq!(
            invite.changes.to_wire()["function_groups"].to[0]["id"],
            "new:function_group:100"
        );
        let after = converge(&c, &s, &t);
        let a = &after.accounts[0];
        assert_eq!(after.communities[0].name, "Haarlem");
        assert_eq!(a.communities, [after.communities[0].id.clone()]);
        assert_eq!(after.function_groups[0].name, "Cook");
        assert_eq!(a.function_groups, [after.function_groups[0].id.clone()]);
    }

    /// E-mail addresses compare trimmed and in Unicode lower case, everywhere.
    #[test]
    fn emails_match_unicode_case_insensitively() {
        let mut c = config();
        c.identity.match_on = vec![crate::config::MatchKey::Email];
        let mut p1 = person("1", &["1001"]);
        p1.email = Some(" ÉLODIE@Example.com".to_owned());
        let mut a = account("u1", "x", &["t1"]);
        a.email = Some("élodie@example.COM".to_owned());
        let p = plan(&c, &source(vec![p1], &[]), &target(vec![a], ams()));
        assert_eq!(
            kinds(&p),
            [(ActionKind::Update, "1")],
            "matched, not invited"
        );
        assert!(!p.actions[0].changes.to_wire().contains_key("email"));
    }

    // Capabilities: the engine plans only what the target can do.

    fn plan_for(
        c: &Config,
        s: &crate::model::SourceSnapshot,
        t: &TargetSnapshot,
        caps: &TargetCapabilities,
    ) -> Plan {
        build(PlanInput {
            config: c,
            source: s,
            target: t,
            today: TODAY,
            created_at: "2026-06-15T02:00:00Z".to_owned(),
            digests: Digests::default(),
            recorded: None,
            capabilities: caps,
            previous: None,
            placed: None,
        })
    }

    #[test]
    fn create_only_plans_invites_and_lists_updates_and_removals_as_manual_steps() {
        let c = config();
        let caps = TargetCapabilities {
            create_only: true,
            ..TargetCapabilities::everything("AFAS")
        };
        let mut renamed = account("u1", "1", &["t1"]);
        renamed.first_name = "Old".to_owned();
        let s = source(vec![person("1", &["1001"]), person("3", &["1001"])], &[]);
        let t = target(vec![renamed, account("u2", "2", &["t1"])], ams());
        let p = plan_for(&c, &s, &t, &caps);
        assert_eq!(kinds(&p), [(ActionKind::Invite, "3")]);
        let steps: Vec<(ActionKind, &str, &[String])> = p
            .manual_steps
            .iter()
            .map(|m| (m.kind, m.capability.as_str(), m.subjects.as_slice()))
            .collect();
        assert_eq!(
            steps,
            [
                (ActionKind::Update, "create_only", &["1".to_owned()][..]),
                (ActionKind::Remove, "create_only", &["2".to_owned()][..]),
            ]
        );
        assert_eq!(p.manual_steps[1].what, "remove the record in AFAS");
        assert_eq!(diags(&p, DiagnosticKind::ManualStep).len(), 2);
        assert_eq!(p.summary[&ActionKind::Remove], 0);
    }

    #[test]
    fn a_plan_with_only_manual_steps_is_never_no_changes() {
        let c = config();
        let caps = TargetCapabilities {
            create_only: true,
            ..TargetCapabilities::everything("AFAS")
        };
        let s = source(vec![person("1", &["1001"])], &[]);
        let t = target(
            vec![account("u1", "1", &["t1"]), account("u2", "2", &["t1"])],
            ams(),
        );
        let p = plan_for(&c, &s, &t, &caps);
        assert!(p.actions.is_empty());
        assert!(
            p.has_changes(),
            "a manual step is a change a person must make"
        );
        assert!(!p.has_actions());
    }

    #[test]
    fn without_groups_group_actions_and_memberships_become_manual_steps() {
        let mut c = config();
        c.policy.unmapped_communities = UnmappedPolicy::Create;
        let caps = TargetCapabilities {
            communities: false,
            ..TargetCapabilities::everything("Revolut")
        };
        let s = source(
            vec![person("1", &["4001"]), person("2", &["1007"])],
            &[("4001", "Rotterdam")],
        );
        let t = target(vec![account("u2", "2", &["t1"])], ams());
        let p = plan_for(&c, &s, &t, &caps);
        assert!(
            p.actions
                .iter()
                .all(|a| !a.changes.to_wire().contains_key("communities")),
            "no membership is written: {:?}",
            p.actions
        );
        assert_eq!(kinds(&p), [(ActionKind::Invite, "1")]);
        let steps: Vec<(ActionKind, &str, &str)> = p
            .manual_steps
            .iter()
            .map(|m| (m.kind, m.what.as_str(), m.subjects[0].as_str()))
            .collect();
        assert_eq!(
            steps,
            [
                (
                    ActionKind::CreateCommunity,
                    "create the community in Revolut",
                    "4001"
                ),
                (
                    ActionKind::Invite,
                    "place in their communities in Revolut",
                    "1"
                ),
                (
                    ActionKind::Move,
                    "change the community memberships in Revolut",
                    "2"
                ),
            ]
        );
    }

    #[test]
    fn a_permanent_delete_says_removes_access_for_good_and_the_removal_limit_still_applies() {
        let mut c = config();
        c.safety.max_removals = MaxRemovals::Count(2);
        let caps = TargetCapabilities {
            removal: crate::capabilities::Removal::Delete,
            restore: false,
            ..TargetCapabilities::everything("Revolut")
        };
        let t = target(managed(5), ams());
        let p = plan_for(&c, &keeping(2), &t, &caps);
        assert_eq!(p.summary[&ActionKind::Remove], 3);
        for remove in p.actions.iter().filter(|a| a.kind() == ActionKind::Remove) {
            assert!(
                remove.reason.contains("removes access for good"),
                "{}",
                remove.reason
            );
            assert!(
                !remove.changes.to_wire().contains_key("removed_at"),
                "nothing is retained"
            );
            assert_eq!(remove.changes.to_wire()["status"].to, json!("deleted"));
        }
        assert!(!p.safety.safe, "3 removals are over the limit of 2");
        assert_eq!(p.safety.violations[0].rule, "max_removals");
        assert!(p.manual_steps.is_empty());
    }

    #[test]
    fn without_restore_a_returning_person_is_a_manual_step() {
        let c = config();
        let caps = TargetCapabilities {
            restore: false,
            ..TargetCapabilities::everything("Acme")
        };
        let mut gone = account("u1", "1", &["t1"]);
        gone.status = AccountStatus::Removed;
        gone.removed_at = Some(day(-3));
        let p = plan_for(
            &c,
            &source(vec![person("1", &["1001"])], &[]),
            &target(vec![gone], ams()),
            &caps,
        );
        assert!(p.actions.is_empty(), "{:?}", kinds(&p));
        assert_eq!(p.manual_steps[0].kind, ActionKind::Restore);
        assert_eq!(p.manual_steps[0].capability, "restore");
    }

    #[test]
    fn without_notify_a_transfer_moves_silently_and_asks_a_person_to_tell_them() {
        let c = config();
        let caps = TargetCapabilities {
            notify: false,
            ..TargetCapabilities::everything("the SCIM server")
        };
        let s = source(vec![person("1", &["1007"])], &[]);
        let t = target(vec![account("u1", "1", &["t1"])], ams());
        let with = plan(&c, &s, &t);
        assert_eq!(
            action(&with, ActionKind::Move).changes.to_wire()["notify"].to,
            json!(true)
        );
        let p = plan_for(&c, &s, &t, &caps);
        let mv = action(&p, ActionKind::Move);
        assert_eq!(
            mv.changes.to_wire()["notify"].to,
            json!(false),
            "nobody claims an e-mail is sent"
        );
        assert_eq!(p.manual_steps[0].capability, "notify");
        assert_eq!(p.manual_steps[0].subjects, ["1"]);
    }

    #[test]
    fn fields_the_target_cannot_write_become_manual_steps_and_leave_invites() {
        let mut c = config();
        c.policy.managed_fields.push(ManagedField::Manager);
        let caps = TargetCapabilities {
            fields: crate::capabilities::WritableFields {
                first_name: false,
                last_name: false,
                email: false,
                manager: false,
            },
            ..TargetCapabilities::everything("Revolut")
        };
        let mut new = person("2", &["1001"]);
        new.manager = Some("1".to_owned());
        let mut renamed = account("u1", "1", &["t1"]);
        renamed.first_name = "Old".to_owned();
        let s = source(vec![person("1", &["1001"]), new], &[]);
        let p = plan_for(&c, &s, &target(vec![renamed], ams()), &caps);
        assert_eq!(
            kinds(&p),
            [(ActionKind::Invite, "2")],
            "the rename is not planned"
        );
        let invite = &p.actions[0];
        assert!(
            invite.changes.to_wire().contains_key("email"),
            "an invite carries its address"
        );
        assert!(!invite.changes.to_wire().contains_key("first_name"));
        assert!(!invite.changes.to_wire().contains_key("manager"));
        let steps: Vec<(&str, &str)> = p
            .manual_steps
            .iter()
            .map(|m| (m.capability.as_str(), m.subjects[0].as_str()))
            .collect();
        assert_eq!(steps, [("manager", "2"), ("first_name", "1")]);
    }
}

/// Causes: a change of HR, of the configuration, or a repair of a hand edit (issue 20).
#[cfg(test)]
mod causes {
    use std::collections::HashMap;

    use serde_json::json;

    use super::*;
    use crate::config::{CommunityMapping, OneOrMany};
    use crate::model::{SourceSnapshot, TargetGroup};
    use crate::scope::testing::{TODAY, account, config, group, person, source, target};
    use crate::vocabulary::ActionKind;

    fn map(source: &str, target: &str) -> CommunityMapping {
        CommunityMapping {
            source: OneOrMany::One(source.to_owned()),
            target: target.to_owned(),
            name: None,
            todo: None,
            notify: None,
        }
    }

    fn groups() -> Vec<TargetGroup> {
        vec![
            group("t1", "Amsterdam Centrum", &["1001"], true),
            group("t2", "Rotterdam Centrum", &["1002"], true),
            group("t3", "Utrecht", &["1007"], true),
        ]
    }

    fn with(maps: Vec<CommunityMapping>, digest: &str) -> Config {
        let mut c = config();
        c.communities = maps;
        c.digest = digest.to_owned();
        c
    }

    fn plan_after(
        c: &Config,
        previous: Option<&Config>,
        placed: Option<&HashMap<String, Vec<String>>>,
        s: &SourceSnapshot,
        t: &TargetSnapshot,
    ) -> Plan {
        build(PlanInput {
            config: c,
            source: s,
            target: t,
            today: TODAY,
            created_at: "2026-06-15T02:00:00Z".to_owned(),
            digests: Digests::default(),
            recorded: None,
            capabilities: &crate::capabilities::TargetCapabilities::default(),
            previous,
            placed,
        })
    }

    fn moves(p: &Plan) -> Vec<(&str, Cause, bool, &str)> {
        p.actions
            .iter()
            .filter_map(|a| match &a.changes {
                Changes::Move(m) => {
                    Some((a.subject.as_str(), a.cause, m.notify, a.reason.as_str()))
                }
                _ => None,
            })
            .collect()
    }

    /// Regression (issue 20): swapping two community mappings in a pull request moved 312
    /// people with `notify: true` and the reason "moved from Amsterdam Centrum to Rotterdam
    /// Centrum", which reads like an HR transfer. The moves are the configuration's: they say
    /// which mapping changed and e-mail no one unless the mapping says `notify: true`.
    #[test]
    fn a_mapping_swap_emails_nobody_by_default() {
        let before = with(
            vec![
                map("1001", "Amsterdam Centrum"),
                map("1002", "Rotterdam Centrum"),
            ],
            "sha256:before",
        );
        let swapped = with(
            vec![
                map("1001", "Rotterdam Centrum"),
                map("1002", "Amsterdam Centrum"),
            ],
            "sha256:after",
        );
        // 1 and 2 stay where HR has them; 3 was transferred in HR (1001 → 1007) meanwhile.
        let s = source(
            vec![
                person("1", &["1001"]),
                person("2", &["1002"]),
                person("3", &["1007"]),
            ],
            &[],
        );
        let t = target(
            vec![
                account("u1", "1", &["t1"]),
                account("u2", "2", &["t2"]),
                account("u3", "3", &["t1"]),
            ],
            groups(),
        );
        let p = plan_after(&swapped, Some(&before), None, &s, &t);
        assert_eq!(
            moves(&p),
            [
                (
                    "1",
                    Cause::Configuration,
                    false,
                    "community mapping 1001 now maps to Rotterdam Centrum (was Amsterdam Centrum)"
                ),
                (
                    "2",
                    Cause::Configuration,
                    false,
                    "community mapping 1002 now maps to Amsterdam Centrum (was Rotterdam Centrum)"
                ),
                // A transfer in HR, in the same plan: the transfer notice as before.
                (
                    "3",
                    Cause::Source,
                    true,
                    "moved from Amsterdam Centrum to Utrecht"
                ),
            ]
        );
        // The JSON says the cause.
        let json = serde_json::to_value(&p.actions[0]).unwrap();
        assert_eq!(json["cause"], json!("configuration"));

        // Explicitly asked for: the mapping's own people are e-mailed, no one else.
        let mut notifying = swapped.clone();
        notifying.communities[0].notify = Some(true);
        let p = plan_after(&notifying, Some(&before), None, &s, &t);
        let notified: Vec<(&str, bool)> = moves(&p).iter().map(|m| (m.0, m.2)).collect();
        assert_eq!(notified, [("1", true), ("2", false), ("3", true)]);

        // Without a previous configuration every change is the source's, as before.
        let p = plan_after(&swapped, None, None, &s, &t);
        assert!(moves(&p).iter().all(|m| m.1 == Cause::Source && m.2));
        // The same configuration before and after: nothing is the configuration's.
        let p = plan_after(&swapped, Some(&swapped), None, &s, &t);
        assert!(moves(&p).iter().all(|m| m.1 == Cause::Source));
    }

    /// A person moved by hand in the app is put back where orgsync placed them (the records say
    /// where): a repair, which e-mails no one. Without the record it cannot be told from a
    /// transfer.
    #[test]
    fn a_hand_edit_in_the_app_is_repaired_without_an_email() {
        let c = with(vec![map("1001", "Amsterdam Centrum")], "sha256:c");
        let s = source(vec![person("1", &["1001"])], &[]);
        let t = target(vec![account("u1", "1", &["t2"])], groups());
        let placed = HashMap::from([("1".to_owned(), vec!["t1".to_owned()])]);
        let p = plan_after(&c, Some(&c), Some(&placed), &s, &t);
        assert_eq!(
            moves(&p),
            [(
                "1",
                Cause::Repair,
                false,
                "moved by hand in the app: put back in Amsterdam Centrum"
            )]
        );
        // orgsync last placed them in Rotterdam: HR moved them since, a transfer.
        let elsewhere = HashMap::from([("1".to_owned(), vec!["t2".to_owned()])]);
        let p = plan_after(&c, Some(&c), Some(&elsewhere), &s, &t);
        assert_eq!(moves(&p)[0].1, Cause::Source);
        assert!(moves(&p)[0].2);
    }

    /// A person the previous configuration held (their community mapped nowhere: left where
    /// they are) and this one maps: the configuration moves them.
    #[test]
    fn a_mapping_for_a_held_community_moves_people_by_configuration() {
        let before = with(vec![], "sha256:before");
        let after = with(vec![map("1009", "Rotterdam Centrum")], "sha256:after");
        let s = source(vec![person("1", &["1009"])], &[]);
        let t = target(vec![account("u1", "1", &["t1"])], groups());
        let p = plan_after(&after, Some(&before), None, &s, &t);
        assert_eq!(
            moves(&p),
            [(
                "1",
                Cause::Configuration,
                false,
                "community mapping 1009 now maps to Rotterdam Centrum (was nothing)"
            )]
        );
    }

    /// A function mapping that now maps elsewhere changes function groups: the configuration's
    /// doing, said as such ("function groups changed in the source" was not true).
    #[test]
    fn a_function_mapping_change_updates_function_groups_by_configuration() {
        use crate::config::{FunctionMapping, FunctionsConfig};
        use crate::scope::testing::set_functions;
        let functions = |target: &str| FunctionsConfig {
            from: crate::config::FunctionSourceField::Function,
            unmapped: crate::config::UnmappedFunctionPolicy::default(),
            map: vec![FunctionMapping {
                source: OneOrMany::One("F1".to_owned()),
                target: target.to_owned(),
                name: None,
                todo: None,
            }],
        };
        let mut before = with(vec![map("1001", "Amsterdam Centrum")], "sha256:before");
        before.functions = Some(functions("Bar"));
        let mut after = with(vec![map("1001", "Amsterdam Centrum")], "sha256:after");
        after.functions = Some(functions("Kitchen"));
        let mut p1 = person("1", &["1001"]);
        set_functions(&mut p1, &["F1"]);
        let mut a = account("u1", "1", &["t1"]);
        a.function_groups = vec!["g1".to_owned()];
        let mut t = target(vec![a], groups());
        t.function_groups = vec![
            group("g1", "Bar", &[], true),
            group("g2", "Kitchen", &[], true),
        ];
        let s = source(vec![p1], &[]);
        let p = plan_after(&after, Some(&before), None, &s, &t);
        let update = p
            .actions
            .iter()
            .find(|a| a.kind() == ActionKind::Update)
            .expect("an update");
        assert_eq!(
            (update.cause, update.reason.as_str()),
            (
                Cause::Configuration,
                "function mapping F1 now maps to Kitchen (was Bar)"
            )
        );
        // Without the previous configuration: the source's, as before.
        let p = plan_after(&after, None, None, &s, &t);
        assert_eq!(p.actions[0].cause, Cause::Source);
    }

    /// Regression (issue 20): "1 unmanaged account match people … are left alone".
    #[test]
    fn one_unmanaged_account_matches_one_person() {
        let c = with(vec![], "sha256:c");
        let mut manual = account("u1", "1", &["t1"]);
        manual.managed = false;
        let s = source(vec![person("1", &["1001"])], &[]);
        let p = plan_after(&c, None, None, &s, &target(vec![manual], groups()));
        let d = p
            .diagnostics
            .iter()
            .find(|d| d.kind == crate::vocabulary::DiagnosticKind::AdoptableAccount)
            .expect("a diagnostic");
        assert_eq!(
            d.message,
            "1 unmanaged account matches a person in the source and is left alone, so that person is held: 1@example.com"
        );
    }

    /// A mapping for a community whose people were held (unmapped) invites them: the
    /// configuration's doing, and the reason says which mapping.
    #[test]
    fn an_invite_a_new_mapping_causes_says_so() {
        let before = with(vec![map("1001", "Amsterdam Centrum")], "sha256:before");
        let after = with(
            vec![
                map("1001", "Amsterdam Centrum"),
                map("1003", "Rotterdam Centrum"),
            ],
            "sha256:after",
        );
        let s = source(vec![person("1", &["1003"]), person("2", &["1001"])], &[]);
        let t = target(vec![], groups());
        let p = plan_after(&after, Some(&before), None, &s, &t);
        let invites: Vec<(&str, Cause, &str)> = p
            .actions
            .iter()
            .filter(|a| a.kind() == ActionKind::Invite)
            .map(|a| (a.subject.as_str(), a.cause, a.reason.as_str()))
            .collect();
        assert_eq!(
            invites,
            [
                (
                    "1",
                    Cause::Configuration,
                    "community mapping 1003 now maps to Rotterdam Centrum (was nothing)"
                ),
                ("2", Cause::Source, "new in the source"),
            ]
        );
    }
}
