//! Safety: limits that make a plan unsafe to apply without an explicit override, and the guards
//! against a source that returns nobody and a target that lists far fewer accounts than
//! orgsync's own apply records say it manages.
//!
//! Every kind of change with a blast radius has a limit (`safety.max_*`): removals,
//! anonymizations, moves, notifying moves on their own (a swapped mapping e-mails everyone it
//! moves), updates, invites and group removals. The apply runner and `plan --detailed-exitcode`
//! read the verdict; the override flags (`--allow-removals N`, …) are named here too, so the
//! verdict, its hint and the runner's check cannot drift apart.

use std::collections::BTreeMap;

use crate::config::Config;
use crate::model::{AccountStatus, TargetSnapshot};
use crate::vocabulary::{
    Action, ActionKind, Changes, Diagnostic, DiagnosticKind, Safety, Severity, Violation,
};

/// Managed accounts (or groups) from which percentage limits apply: below this a single change
/// is already a large percentage.
pub const PERCENT_FROM_MANAGED: usize = 10;

/// The rule (and `safety` key) of the first-sync allowance: a target where the percentage limits
/// do not hold yet (fewer than [`PERCENT_FROM_MANAGED`] managed accounts) may get at most
/// `safety.first_sync_invites` invites.
pub const FIRST_SYNC_RULE: &str = "first_sync_invites";

/// A kind of change that a safety limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LimitKind {
    /// `remove` actions.
    Removals,
    /// `anonymize` actions.
    Anonymizations,
    /// `move` actions, notifying or not.
    Moves,
    /// `move` actions that make the target e-mail the person.
    NotifyingMoves,
    /// `update` actions.
    Updates,
    /// `invite` actions.
    Invites,
    /// `remove_community` and `remove_function_group` actions.
    GroupRemovals,
}

impl LimitKind {
    /// Every kind, in the order limits are checked and reported.
    pub const ALL: [LimitKind; 7] = [
        LimitKind::Removals,
        LimitKind::Anonymizations,
        LimitKind::Moves,
        LimitKind::NotifyingMoves,
        LimitKind::Updates,
        LimitKind::Invites,
        LimitKind::GroupRemovals,
    ];

    /// The configuration key under `safety`, also the violation's rule (with `_percent` for the
    /// percentage).
    pub fn key(self) -> &'static str {
        match self {
            LimitKind::Removals => "max_removals",
            LimitKind::Anonymizations => "max_anonymizations",
            LimitKind::Moves => "max_moves",
            LimitKind::NotifyingMoves => "max_notifying_moves",
            LimitKind::Updates => "max_updates",
            LimitKind::Invites => "max_invites",
            LimitKind::GroupRemovals => "max_group_removals",
        }
    }

    /// The `apply` flag that accepts up to N of these for one plan.
    pub fn flag(self) -> &'static str {
        match self {
            LimitKind::Removals => "--allow-removals",
            LimitKind::Anonymizations => "--allow-anonymizations",
            LimitKind::Moves => "--allow-moves",
            LimitKind::NotifyingMoves => "--allow-notifying-moves",
            LimitKind::Updates => "--allow-updates",
            LimitKind::Invites => "--allow-invites",
            LimitKind::GroupRemovals => "--allow-group-removals",
        }
    }

    /// Plural noun: "removals", "notifying moves".
    pub fn noun(self) -> &'static str {
        match self {
            LimitKind::Removals => "removals",
            LimitKind::Anonymizations => "anonymizations",
            LimitKind::Moves => "moves",
            LimitKind::NotifyingMoves => "notifying moves",
            LimitKind::Updates => "updates",
            LimitKind::Invites => "invites",
            LimitKind::GroupRemovals => "group removals",
        }
    }

    /// "the plan {verb} 12 accounts".
    fn verb(self) -> &'static str {
        match self {
            LimitKind::Removals => "removes",
            LimitKind::Anonymizations => "anonymizes",
            LimitKind::Moves => "moves",
            LimitKind::NotifyingMoves => "moves and e-mails",
            LimitKind::Updates => "updates",
            LimitKind::Invites => "invites",
            LimitKind::GroupRemovals => "removes",
        }
    }

    /// What the count and the percentage are of: `n` of them.
    fn unit(self, n: usize) -> &'static str {
        match (self, n == 1) {
            (LimitKind::Invites, true) => "person",
            (LimitKind::Invites, false) => "people",
            (LimitKind::GroupRemovals, true) => "group",
            (LimitKind::GroupRemovals, false) => "groups",
            (_, true) => "account",
            (_, false) => "accounts",
        }
    }

    /// True when `action` counts against this limit. orgsync's own unfinished work (a
    /// [`Cause::Completion`](crate::vocabulary::Cause::Completion)) counts against none: no one
    /// decided anything new.
    pub fn counts(self, action: &Action) -> bool {
        if action.cause == crate::vocabulary::Cause::Completion {
            return false;
        }
        match self {
            LimitKind::Removals => action.kind() == ActionKind::Remove,
            LimitKind::Anonymizations => action.kind() == ActionKind::Anonymize,
            LimitKind::Moves => action.kind() == ActionKind::Move,
            LimitKind::NotifyingMoves => action.kind() == ActionKind::Move && notifies(action),
            LimitKind::Updates => action.kind() == ActionKind::Update,
            LimitKind::Invites => action.kind() == ActionKind::Invite,
            LimitKind::GroupRemovals => matches!(
                action.kind(),
                ActionKind::RemoveCommunity | ActionKind::RemoveFunctionGroup
            ),
        }
    }

    /// How many actions an interrupted apply left unattempted that this limit counts: for
    /// notifying moves, the moves (which of them notify is not recorded).
    fn resumable(self, resumable: &BTreeMap<ActionKind, usize>) -> usize {
        let of = |k: ActionKind| resumable.get(&k).copied().unwrap_or(0);
        match self {
            LimitKind::Removals => of(ActionKind::Remove),
            LimitKind::Anonymizations => of(ActionKind::Anonymize),
            LimitKind::Moves | LimitKind::NotifyingMoves => of(ActionKind::Move),
            LimitKind::Updates => of(ActionKind::Update),
            LimitKind::Invites => of(ActionKind::Invite),
            LimitKind::GroupRemovals => {
                of(ActionKind::RemoveCommunity) + of(ActionKind::RemoveFunctionGroup)
            }
        }
    }

    /// How many of `actions` count against this limit.
    pub fn count(self, actions: &[Action]) -> usize {
        actions.iter().filter(|a| self.counts(a)).count()
    }

    /// The kind a violation's rule belongs to (`max_moves_percent` → moves). `None` for rules
    /// no count override covers.
    pub fn of_rule(rule: &str) -> Option<LimitKind> {
        if rule == FIRST_SYNC_RULE {
            return Some(LimitKind::Invites);
        }
        let key = rule.strip_suffix("_percent").unwrap_or(rule);
        LimitKind::ALL.into_iter().find(|k| k.key() == key)
    }
}

/// True when a move asks the target to e-mail the person (`notify: true`).
fn notifies(action: &Action) -> bool {
    matches!(&action.changes, Changes::Move(m) if m.notify)
}

/// The bases of the percentage limits: the managed active accounts of the target, and the groups
/// orgsync manages.
pub fn bases(target: &TargetSnapshot) -> (usize, usize) {
    let accounts = target
        .accounts
        .iter()
        .filter(|a| a.managed && a.status == AccountStatus::Active)
        .count();
    let groups = target
        .communities
        .iter()
        .chain(&target.function_groups)
        .filter(|g| g.managed)
        .count();
    (accounts, groups)
}

/// `1 managed account` / `3 managed accounts`.
fn accounts(n: usize) -> String {
    if n == 1 {
        "1 managed account".to_owned()
    } else {
        format!("{n} managed accounts")
    }
}

/// The empty-source guard: a source that returns no people while managed accounts exist is far
/// more likely broken (an expired token, an empty export) than empty. The engine then plans no
/// removals at all and this error keeps the plan from being applied.
pub fn empty_source(config: &Config, persons: usize, managed_active: usize) -> Option<Diagnostic> {
    (persons == 0 && managed_active > 0).then(|| Diagnostic {
        kind: DiagnosticKind::Safety,
        severity: Severity::Error,
        message: format!(
            "the source returned no people while the target has {}: refusing to plan their removal",
            accounts(managed_active)
        ),
        subject: None,
        count: managed_active,
        hint: Some(
            "check the source connection and its export; orgsync never removes everyone".to_owned(),
        ),
        location: config.locations.get("/source"),
        concerns: Default::default(),
    })
}

/// What orgsync's apply records (git notes) say about the target, read by the pipeline: the
/// engine itself does no I/O.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedTarget {
    /// Managed accounts the target held after the newest recorded apply — or, for records
    /// written before orgsync counted them, the accounts the recorded applies invited.
    pub managed: usize,
    /// `managed` is a count after an apply (not a lower bound from older records).
    pub counted: bool,
    /// Which record, for the message: "the apply of 2026-11-22T02:00:14Z (commit abc1234)".
    pub record: String,
    /// When the newest apply was interrupted: the actions it did not attempt, by kind. That
    /// plan passed its safety check (or was allowed over it); finishing it is not a new blast
    /// radius, so up to these counts do not count against the limits again.
    pub resumable: BTreeMap<ActionKind, usize>,
}

/// Below this share of the recorded managed accounts (in percent), a target listing is taken
/// for an incomplete one.
pub const LISTED_TARGET_MIN_PERCENT: usize = 50;

/// The target guard: a listing with far fewer managed accounts than the newest apply record
/// left — fewer than half, or none while records exist — is far more likely broken (a wrong
/// workspace path, a token for another tenant, a server that lists nobody) than true. Planned
/// on, it would invite everyone again and create every group twice. An error: the plan is not
/// saved or applied.
pub fn listed_target(
    config: &Config,
    listed_managed: usize,
    recorded: Option<&RecordedTarget>,
) -> Option<Diagnostic> {
    let recorded = recorded.filter(|r| r.managed > 0)?;
    let too_few = listed_managed == 0
        || (recorded.counted
            && listed_managed * 100 < recorded.managed * LISTED_TARGET_MIN_PERCENT);
    too_few.then(|| Diagnostic {
        kind: DiagnosticKind::Safety,
        severity: Severity::Error,
        message: format!(
            "the target lists {}, but {} left {}{}: the listing is probably incomplete, so nothing is planned on it",
            accounts(listed_managed),
            recorded.record,
            recorded.managed,
            if recorded.counted { "" } else { " or more" },
        ),
        subject: None,
        count: recorded.managed - listed_managed.min(recorded.managed),
        hint: Some(format!(
            "check the target connection (its URL or path, the token's tenant) and that nobody emptied it: orgsync refuses a listing with fewer than {LISTED_TARGET_MIN_PERCENT}% of the managed accounts its newest apply record names (`orgsync history`)"
        )),
        location: config.locations.get("/target"),
        concerns: Default::default(),
    })
}

/// The target guard without records to compare with: when they exist but could not be read
/// (the configuration repository's remote did not answer, in a clone that has none of its own),
/// a target listing no managed account cannot be told from a first sync. Planned on, a lost
/// listing would invite everyone again. An error; a target that lists managed accounts plans as
/// usual (its safety limits apply to them).
pub fn unknown_records(config: &Config, listed_managed: usize, why: &str) -> Option<Diagnostic> {
    (listed_managed == 0).then(|| Diagnostic {
        kind: DiagnosticKind::Safety,
        severity: Severity::Error,
        message: format!(
            "the target lists no managed account, and {why}: a first sync cannot be told from a \
             listing that lost every account, so nothing is planned on it"
        ),
        subject: None,
        count: 0,
        hint: Some(
            "run again when the remote answers (the apply records come from it: `git fetch origin \
             refs/notes/orgsync:refs/notes/orgsync`); for a true first sync outside any shared \
             repository, set ORGSYNC_REMOTE=none"
                .to_owned(),
        ),
        location: config.locations.get("/target"),
        concerns: Default::default(),
    })
}

/// Checks `actions` against every `safety.max_*` limit. `managed_active` is the number of
/// managed active accounts in the target (the base of the account percentages), `managed_groups`
/// the number of groups orgsync manages (the base of `max_group_removals`). Over a limit the plan
/// is unsafe: apply refuses it unless overridden. The plan itself is still produced, with a
/// warning per broken limit.
pub fn check(
    config: &Config,
    actions: &[Action],
    managed_active: usize,
    managed_groups: usize,
) -> (Safety, Vec<Diagnostic>) {
    check_resuming(config, actions, managed_active, managed_groups, None)
}

/// [`check`], for a plan that may finish an interrupted apply (`recorded`, the newest apply
/// record of this target): up to as many actions of a kind as that apply left unattempted are
/// not counted again, and an info diagnostic says so.
pub fn check_resuming(
    config: &Config,
    actions: &[Action],
    managed_active: usize,
    managed_groups: usize,
    recorded: Option<&RecordedTarget>,
) -> (Safety, Vec<Diagnostic>) {
    let limits = config.safety.limits();
    let mut violations = Vec::new();
    let mut diagnostics = Vec::new();
    for (kind, (key, _, limit)) in LimitKind::ALL.into_iter().zip(limits) {
        debug_assert_eq!(kind.key(), key);
        let planned = kind.count(actions);
        let resumed = recorded.map_or(0, |r| kind.resumable(&r.resumable).min(planned));
        let n = planned - resumed;
        if resumed > 0
            && let Some(r) = recorded
        {
            diagnostics.push(Diagnostic {
                kind: DiagnosticKind::Safety,
                severity: Severity::Info,
                message: format!(
                    "{resumed} of the plan's {planned} {} finish {}, which was interrupted: they are not counted against safety.{key} again",
                    kind.noun(),
                    r.record
                ),
                subject: Some(key.to_owned()),
                count: resumed,
                hint: None,
                location: None,
                concerns: Default::default(),
            });
        }
        if n == 0 {
            continue;
        }
        let base = match kind {
            LimitKind::GroupRemovals => managed_groups,
            _ => managed_active,
        };
        let (percent, count) = limit.limits();
        // Regression (issue 20): "the plan removes 1 accounts".
        let (verb, unit, noun) = (kind.verb(), kind.unit(n), kind.noun());
        let actual = n as u64;
        let mut broken = Vec::new();
        if let Some(limit) = count
            && actual > limit
        {
            broken.push(Violation {
                rule: key.to_owned(),
                message: format!("the plan {verb} {n} {unit}; safety.{key} allows {limit}"),
                limit,
                actual,
            });
        }
        if let Some(pct) = percent
            && base >= PERCENT_FROM_MANAGED
            && (n as f64) * 100.0 > pct * base as f64
        {
            let share = n as f64 * 100.0 / base as f64;
            let of = match kind {
                LimitKind::GroupRemovals => "managed groups",
                _ => "managed accounts",
            };
            let amount = match kind {
                LimitKind::Invites => format!("{n} {unit} ({share:.0}% of {base} {of})"),
                _ => format!("{n} of {base} {of} ({share:.0}%)"),
            };
            broken.push(Violation {
                rule: format!("{key}_percent"),
                message: format!("the plan {verb} {amount}; safety.{key} allows {pct}%"),
                limit: (pct * base as f64 / 100.0).floor() as u64,
                actual,
            });
        }
        let flag = kind.flag();
        diagnostics.extend(broken.iter().map(|v| Diagnostic {
            kind: DiagnosticKind::Safety,
            severity: Severity::Warning,
            message: format!("unsafe plan: {}", v.message),
            subject: Some(v.rule.clone()),
            count: n,
            hint: Some(format!(
                "review the {noun}; apply refuses this plan without {flag} {n} or --force"
            )),
            location: config.locations.get(&format!("/safety/{key}")),
            concerns: Default::default(),
        }));
        violations.append(&mut broken);
    }
    (
        Safety {
            safe: violations.is_empty(),
            violations,
        },
        diagnostics,
    )
}

/// The first-sync rule: a target with fewer than [`PERCENT_FROM_MANAGED`] managed accounts, where
/// no percentage holds yet, may get at most `safety.first_sync_invites` invites. Over it the plan is
/// unsafe; within it, an info diagnostic (subject `first_sync_invites`) says how many people the
/// first sync invites and what the configuration allows, so that the review shows the allowance.
/// The engine adds it to [`check_resuming`]'s verdict, except for a create-only target (its
/// plans always see an empty target: each send is an invite).
pub fn first_sync(
    config: &Config,
    actions: &[Action],
    managed_active: usize,
    recorded: Option<&RecordedTarget>,
) -> (Option<Violation>, Option<Diagnostic>) {
    if managed_active >= PERCENT_FROM_MANAGED {
        return (None, None);
    }
    let planned = LimitKind::Invites.count(actions);
    let resumed = recorded.map_or(0, |r| {
        LimitKind::Invites.resumable(&r.resumable).min(planned)
    });
    let n = planned - resumed;
    if n == 0 {
        return (None, None);
    }
    let allowed = config.safety.first_sync_invites;
    let target = match managed_active {
        0 => "a target with no managed account".to_owned(),
        1 => "a target with 1 managed account".to_owned(),
        m => format!("a target with {m} managed accounts"),
    };
    let people = if n == 1 {
        "1 person".to_owned()
    } else {
        format!("{n} people")
    };
    let location = config
        .locations
        .get(&format!("/safety/{FIRST_SYNC_RULE}"))
        .or_else(|| config.locations.get("/safety"));
    if n as u64 > allowed {
        let message = format!(
            "first sync: the plan invites {people} into {target}; safety.{FIRST_SYNC_RULE} allows {allowed}"
        );
        let diagnostic = Diagnostic {
            kind: DiagnosticKind::Safety,
            severity: Severity::Warning,
            message: format!("unsafe plan: {message}"),
            subject: Some(FIRST_SYNC_RULE.to_owned()),
            count: n,
            hint: Some(format!(
                "a first sync of this size needs its allowance in the configuration, reviewed in the pull request: set `safety.{FIRST_SYNC_RULE}: {n}`; apply refuses this plan without it (or --allow-invites {n}, or --force)"
            )),
            location,
            concerns: Default::default(),
        };
        let violation = Violation {
            rule: FIRST_SYNC_RULE.to_owned(),
            message,
            limit: allowed,
            actual: n as u64,
        };
        return (Some(violation), Some(diagnostic));
    }
    let diagnostic = Diagnostic {
        kind: DiagnosticKind::Safety,
        severity: Severity::Info,
        message: format!(
            "first sync: the plan invites {people} into {target}, within safety.{FIRST_SYNC_RULE} ({allowed})"
        ),
        subject: Some(FIRST_SYNC_RULE.to_owned()),
        count: n,
        hint: None,
        location,
        concerns: Default::default(),
    };
    (None, Some(diagnostic))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::config::Limit;
    use crate::vocabulary::Changes;

    fn action(kind: ActionKind, i: usize, notify: bool) -> Action {
        let mut changes = Changes::bare(kind);
        if let Changes::Move(m) = &mut changes {
            m.notify = notify;
        }
        Action {
            subject: format!("p{i}"),
            target_id: Some(format!("u{i}")),
            name: format!("Person {i}"),
            changes,
            reason: String::new(),
            cause: Default::default(),
        }
    }

    fn many(kind: ActionKind, n: usize, notify: bool) -> Vec<Action> {
        (0..n).map(|i| action(kind, i, notify)).collect()
    }

    fn config() -> Config {
        crate::config::load_files(vec![(
            "orgsync.yaml".to_owned(),
            b"version: 1\nsource: { kind: file, path: hr.json }\ntarget: { kind: file, path: ws.json }\n"
                .to_vec(),
        )])
        .unwrap()
    }

    fn rules(safety: &Safety) -> Vec<&str> {
        safety.violations.iter().map(|v| v.rule.as_str()).collect()
    }

    /// The probe's case: a swapped community mapping moved and e-mailed 37 of 45 people, and
    /// the plan was "safe" because only removals were counted.
    #[test]
    fn a_swapped_mapping_that_moves_and_emails_most_people_is_unsafe() {
        let (safety, diagnostics) = check(&config(), &many(ActionKind::Move, 37, true), 45, 0);
        assert!(!safety.safe);
        assert_eq!(
            rules(&safety),
            ["max_moves_percent", "max_notifying_moves_percent"]
        );
        assert_eq!(
            safety.violations[1].message,
            "the plan moves and e-mails 37 of 45 managed accounts (82%); \
             safety.max_notifying_moves allows 10%"
        );
        assert_eq!(diagnostics.len(), 2);
        assert!(
            diagnostics[1]
                .hint
                .as_deref()
                .unwrap()
                .contains("--allow-notifying-moves 37")
        );
    }

    /// The probe's other case: 19,868 invites went through `--auto-approve` without a word.
    #[test]
    fn mass_invites_into_a_populated_target_are_unsafe() {
        let (safety, _) = check(
            &config(),
            &many(ActionKind::Invite, 19_868, false),
            2_000,
            0,
        );
        assert_eq!(rules(&safety), ["max_invites_percent"]);
        assert_eq!(
            safety.violations[0].message,
            "the plan invites 19868 people (993% of 2000 managed accounts); \
             safety.max_invites allows 25%"
        );
        // The first sync of an empty target is not limited by a percentage (but by the
        // first-sync allowance: see a_first_sync_of_thousands_needs_an_allowance).
        let allowed = config();
        assert!(
            check(&allowed, &many(ActionKind::Invite, 500, false), 0, 0)
                .0
                .safe
        );
    }

    /// Regression (issue 20): "the plan removes 1 accounts".
    #[test]
    fn one_removal_is_one_account_not_one_accounts() {
        let mut c = config();
        c.safety.max_removals = Limit::Count(0);
        c.safety.max_invites = Limit::Count(0);
        let mut actions = many(ActionKind::Remove, 1, false);
        actions.extend(many(ActionKind::Invite, 1, false));
        let (safety, _) = check(&c, &actions, 100, 0);
        let messages: Vec<&str> = safety
            .violations
            .iter()
            .map(|v| v.message.as_str())
            .collect();
        assert_eq!(
            messages,
            [
                "the plan removes 1 account; safety.max_removals allows 0",
                "the plan invites 1 person; safety.max_invites allows 0"
            ]
        );
        let d = empty_source(&c, 0, 1).expect("an error");
        assert!(
            d.message.contains("has 1 managed account:"),
            "{}",
            d.message
        );
    }

    /// Regression (issue 20): a first sync of 20,000 invites was "safe": percentages start at 10
    /// managed accounts and no count limit applied by default. A target with fewer than 10
    /// managed accounts gets at most `safety.first_sync_invites` (default 100) invites.
    #[test]
    fn a_first_sync_of_thousands_needs_an_allowance() {
        let check = |c: &Config, actions: &[Action], managed: usize, _groups: usize| {
            let (mut safety, mut diagnostics) = check(c, actions, managed, 0);
            let (v, d) = first_sync(c, actions, managed, None);
            safety.violations.extend(v);
            safety.safe = safety.violations.is_empty();
            diagnostics.extend(d);
            (safety, diagnostics)
        };
        let invites = many(ActionKind::Invite, 20_000, false);
        let (safety, diagnostics) = check(&config(), &invites, 0, 0);
        assert_eq!(rules(&safety), ["first_sync_invites"]);
        assert_eq!(
            safety.violations[0].message,
            "first sync: the plan invites 20000 people into a target with no managed account; \
             safety.first_sync_invites allows 100"
        );
        assert_eq!(
            LimitKind::of_rule("first_sync_invites"),
            Some(LimitKind::Invites)
        );
        let d = diagnostics
            .iter()
            .find(|d| d.subject.as_deref() == Some("first_sync_invites"))
            .expect("a diagnostic");
        assert!(
            d.hint
                .as_deref()
                .unwrap()
                .contains("first_sync_invites: 20000")
        );
        // A tiny target (3 managed accounts, no percentage yet) is held to it as well.
        assert!(!check(&config(), &invites, 3, 0).0.safe);
        // The default lets a pilot through.
        assert!(
            check(&config(), &many(ActionKind::Invite, 100, false), 0, 0)
                .0
                .safe
        );

        let mut allowed = config();
        allowed.safety.first_sync_invites = 20_000;
        let (safety, diagnostics) = check(&allowed, &invites, 0, 0);
        assert!(safety.safe, "{:?}", safety.violations);
        let info = diagnostics
            .iter()
            .find(|d| d.subject.as_deref() == Some("first_sync_invites"))
            .expect("the allowance is shown");
        assert_eq!(info.severity, Severity::Info);
        assert_eq!(
            info.message,
            "first sync: the plan invites 20000 people into a target with no managed account, \
             within safety.first_sync_invites (20000)"
        );
        // From 10 managed accounts on the percentages hold, not this rule.
        assert_eq!(
            rules(&check(&config(), &invites, 10, 0).0),
            ["max_invites_percent"]
        );
    }

    #[test]
    fn every_kind_has_a_default_limit() {
        let c = config();
        for (kind, n) in [
            (ActionKind::Remove, 11),
            (ActionKind::Anonymize, 11),
            (ActionKind::Update, 26),
            (ActionKind::RemoveFunctionGroup, 2),
        ] {
            let (safety, _) = check(&c, &many(kind, n, false), 100, 10);
            assert!(!safety.safe, "{kind:?}");
        }
        // Within every default: safe.
        let mut fine = many(ActionKind::Remove, 10, false);
        fine.extend(many(ActionKind::Move, 25, false));
        fine.extend(many(ActionKind::Update, 25, false));
        fine.extend(many(ActionKind::Invite, 25, false));
        assert!(check(&c, &fine, 100, 10).0.safe);
    }

    #[test]
    fn notifying_moves_are_counted_on_their_own() {
        let mut moves = many(ActionKind::Move, 5, false);
        moves.extend(many(ActionKind::Move, 5, true));
        let (safety, _) = check(&config(), &moves, 40, 0);
        // 10 of 40 moves is 25% (allowed); 5 notifying is 12.5% (over 10%).
        assert_eq!(rules(&safety), ["max_notifying_moves_percent"]);
    }

    #[test]
    fn counts_and_unlimited() {
        let mut c = config();
        c.safety.max_updates = Limit::Count(3);
        c.safety.max_moves = Limit::Unlimited(crate::config::NoLimit::Unlimited);
        c.safety.max_notifying_moves = Limit::Unlimited(crate::config::NoLimit::Unlimited);
        let mut actions = many(ActionKind::Update, 4, false);
        actions.extend(many(ActionKind::Move, 40, true));
        let (safety, _) = check(&c, &actions, 5, 0);
        assert_eq!(rules(&safety), ["max_updates"]);
        assert_eq!(
            (safety.violations[0].limit, safety.violations[0].actual),
            (3, 4)
        );
    }

    #[test]
    fn rules_name_their_kind() {
        assert_eq!(
            LimitKind::of_rule("max_moves_percent"),
            Some(LimitKind::Moves)
        );
        assert_eq!(
            LimitKind::of_rule("max_notifying_moves"),
            Some(LimitKind::NotifyingMoves)
        );
        assert_eq!(LimitKind::of_rule("community_removal"), None);
    }

    fn recorded(managed: usize, counted: bool) -> RecordedTarget {
        RecordedTarget {
            managed,
            counted,
            record: "the apply of 2026-11-22T02:00:14Z (commit abc1234)".to_owned(),
            resumable: BTreeMap::new(),
        }
    }

    /// Regression: an interrupted first sync left 250 of its 300 invites unattempted; the next
    /// plan, against the 50 accounts that now exist, invites 500% of them and was unsafe, so
    /// the nightly could never finish the apply it had started. Those invites were the
    /// interrupted plan's, checked then: they do not count again. Anything beyond does.
    #[test]
    fn finishing_an_interrupted_apply_is_not_counted_again() {
        let c = config();
        let mut interrupted = recorded(50, true);
        interrupted.resumable = BTreeMap::from([(ActionKind::Invite, 250)]);
        let invites = many(ActionKind::Invite, 250, false);
        assert!(
            !check(&c, &invites, 50, 0).0.safe,
            "without the record: unsafe"
        );
        let (safety, diagnostics) = check_resuming(&c, &invites, 50, 0, Some(&interrupted));
        assert!(safety.safe, "{safety:?}");
        assert!(
            diagnostics.iter().any(|d| d.severity == Severity::Info
                && d.message
                    .starts_with("250 of the plan's 250 invites finish the apply of")),
            "{diagnostics:?}"
        );
        // 20 more than were left (25% of 50 is 12): unsafe again.
        let more = many(ActionKind::Invite, 270, false);
        let (safety, _) = check_resuming(&c, &more, 50, 0, Some(&interrupted));
        assert!(!safety.safe, "{safety:?}");
        // Removals are not invites: an interrupted invite run allows no removal.
        let removals = many(ActionKind::Remove, 20, false);
        assert!(
            !check_resuming(&c, &removals, 50, 0, Some(&interrupted))
                .0
                .safe
        );
    }

    /// Regression (issue 11): a target that listed nobody was planned on like any other, as
    /// if orgsync had never made the accounts its records name.
    #[test]
    fn a_target_listing_far_below_the_records_is_an_error() {
        let c = crate::scope::testing::config();
        let r = recorded(40, true);
        let d = listed_target(&c, 0, Some(&r)).unwrap();
        assert_eq!((d.severity, d.count), (Severity::Error, 40));
        assert_eq!(
            d.message,
            "the target lists 0 managed accounts, but the apply of 2026-11-22T02:00:14Z (commit \
             abc1234) left 40: the listing is probably incomplete, so nothing is planned on it"
        );
        assert!(listed_target(&c, 19, Some(&r)).is_some());
        assert!(listed_target(&c, 20, Some(&r)).is_none());
        assert!(listed_target(&c, 45, Some(&r)).is_none());
        // Records from before the count: only an empty listing is refused.
        let old = recorded(40, false);
        assert!(listed_target(&c, 0, Some(&old)).is_some());
        assert!(listed_target(&c, 3, Some(&old)).is_none());
        // No record (a first sync), or a record of nothing managed.
        assert!(listed_target(&c, 0, None).is_none());
        assert!(listed_target(&c, 0, Some(&recorded(0, true))).is_none());
    }
}
