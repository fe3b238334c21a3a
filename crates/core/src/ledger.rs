//! The ledger: what orgsync remembers between runs, and the seam it is kept behind.
//!
//! After every apply orgsync writes an [`ApplyRecord`] (identifiers, counts and codes, never a
//! name or an e-mail address); create-only targets keep a [`Badge`] per subject sent, so that no
//! one is sent twice. The next plan reads them back: how many managed accounts the target held
//! ([`recorded_target`], the guard against a listing that lost everyone), which accounts orgsync
//! owns in a target without an ownership marker of its own ([`owned_accounts`], Revolut), what an
//! interrupted apply left. Where they are kept is the [`Ledger`]'s business: the `orgsync-repo`
//! crate keeps them in the configuration repository's git notes; tests keep them in memory.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::apply::run::ApplyReport;
use crate::plan::safety::RecordedTarget;
use crate::vocabulary::{ActionKind, Plan};

/// Version of the apply-record format written to notes.
/// Version 2: outcomes keep an error's class and status, never its message; an apply writes a
/// `started` record before it changes anything. Version 1 records (messages) are still read.
/// Version 3 (the audit report, `orgsync audit`): how the plan was approved (`approval`,
/// `reviewed_plan`), the safety overrides given and the limits the plan broke (`overrides`,
/// `violations`), the people held and their identifiers (`held`, `held_subjects`,
/// `manual_subjects`), and per outcome the reason as a code and its date (`reason`, `since`: a
/// leaver's contract end, a joiner's start). Older records still read; those fields are absent.
pub const RECORD_VERSION: u32 = 3;

/// The first record version that holds what the audit report needs (see [`RECORD_VERSION`]).
pub const AUDIT_RECORD_VERSION: u32 = 3;

/// A commit as people read it: id, author, date and subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitInfo {
    /// Full hex id.
    pub id: String,
    /// Author name (never the e-mail address: it is shown and may be recorded).
    pub author: String,
    /// Author date, RFC 3339 with the author's UTC offset.
    pub date: String,
    /// First line of the message.
    pub subject: String,
}

impl CommitInfo {
    /// The abbreviated id (7 characters), as `git log --oneline` shows it.
    pub fn short(&self) -> &str {
        short(&self.id)
    }

    /// The author date's day (`2026-11-20`).
    pub fn day(&self) -> &str {
        self.date.get(..10).unwrap_or(&self.date)
    }
}

/// The first 7 characters of a commit id.
pub fn short(id: &str) -> &str {
    id.get(..7).unwrap_or(id)
}

/// The commit a configuration came from. `dirty` when the configuration files in the work tree
/// differ from that commit (modified, added, deleted or untracked YAML files at the root of the
/// configuration directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigCommit {
    /// The commit.
    pub commit: CommitInfo,
    /// The work tree's configuration files differ from it.
    pub dirty: bool,
}

impl ConfigCommit {
    /// Suffix of a dirty commit in `digests.config_commit`, as `git describe --dirty` writes it.
    pub const DIRTY_SUFFIX: &'static str = "-dirty";

    /// Splits a recorded `config_commit` into (commit id, dirty).
    pub fn parse(recorded: &str) -> (&str, bool) {
        match recorded.strip_suffix(Self::DIRTY_SUFFIX) {
            Some(id) => (id, true),
            None => (recorded, false),
        }
    }
}

/// `<id>` or `<id>-dirty`: the form recorded in plan files.
impl fmt::Display for ConfigCommit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.commit.id)?;
        if self.dirty {
            f.write_str(Self::DIRTY_SUFFIX)?;
        }
        Ok(())
    }
}

/// One apply, as recorded in a note: one JSON object on one line.
///
/// Anyone who can read the repository can read its notes, so a record holds no personal data:
/// actions are identified by their kind and source identifier, and failure messages are scrubbed
/// of the names and e-mail addresses they might quote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplyRecord {
    /// [`RECORD_VERSION`].
    pub record_version: u32,
    /// When the apply finished (RFC 3339, UTC).
    pub time: String,
    /// Who applied: `GITHUB_ACTOR`, else the git user name.
    pub actor: String,
    /// The configuration directory, relative to the repository root (`""` at the root).
    pub config_dir: String,
    /// The configuration commit the record is attached to.
    pub config_commit: String,
    /// The configuration files in the work tree differed from that commit.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub config_dirty: bool,
    /// The commit the plan was made from, when it differs (`--allow-config-mismatch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_config_commit: Option<String>,
    /// sha256 of the applied plan's JSON.
    pub plan_digest: String,
    /// The day the plan was made for.
    pub at: Date,
    /// orgsync version that applied.
    pub orgsync_version: String,
    /// Count of the plan's actions per kind.
    pub summary: BTreeMap<ActionKind, usize>,
    /// Actions applied.
    pub succeeded: usize,
    /// Actions that failed.
    pub failed: usize,
    /// Creates that may have happened (no answer, not found within the lookup window).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unconfirmed: usize,
    /// Each attempted action's outcome, in plan order.
    pub outcomes: Vec<RecordedOutcome>,
    /// The target applied to (`file:<path>`, `scim:<base URL>`): a record of another target is
    /// not held against this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Managed accounts in the target after the apply: a later plan refuses a target that lists
    /// fewer than half of them (a listing that is probably incomplete).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_accounts: Option<usize>,
    /// The apply was interrupted (SIGINT, SIGTERM): the actions not attempted are counted in
    /// `not_attempted`, and the next plan holds them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// Actions not attempted because of the interrupt, by kind.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub not_attempted: BTreeMap<ActionKind, usize>,
    /// The plan's manual steps, left for a person and not done by this apply: subjects per
    /// missing capability (`manager`, `removal`, …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub manual_steps: BTreeMap<String, usize>,
    /// Written when the apply began, before anything changed: when no record of the same plan
    /// follows it, the apply was killed part-way, and the next plan finishes what it started.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub started: bool,
    /// The apply run's random identifier, the same in its `started` record and in the record of
    /// its end: a start is finished by its own run's record, not by another run that made the
    /// same plan in the same second (a re-run right after a kill). Absent in older records, which
    /// pair by plan digest and time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// How the applied plan was approved (version 3): `plan_file` (a saved plan, applied only
    /// because orgsync planned exactly that again), `reviewed` (`--reviewed`: the review record's
    /// actions, drift within the limits), `prompt` (planned and confirmed on a terminal) or
    /// `auto_approve` (planned and applied in one step without a question).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<String>,
    /// The digest of the reviewed plan (`--reviewed`), as the pull request's comment shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviewed_plan: Option<String>,
    /// The safety overrides given (version 3): `force` → 1, `allow_removals` → N, …
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub overrides: BTreeMap<String, u64>,
    /// The safety limits the plan broke (`max_removals`, …), applied under the overrides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<String>,
    /// People the plan left as they are until someone decides, by reason (the plan's `held`),
    /// and `protected_account`: protected accounts left alone (version 3).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub held: BTreeMap<String, usize>,
    /// The source identifiers of the people held, by reason, where the plan names them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub held_subjects: BTreeMap<String, Vec<String>>,
    /// The subjects of the manual steps left for a person, by missing capability.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub manual_subjects: BTreeMap<String, Vec<String>>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// What happened to one action, by source identifier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedOutcome {
    /// The action's kind.
    pub kind: ActionKind,
    /// The subject's source identifier.
    pub subject: String,
    /// Applied.
    pub ok: bool,
    /// Why it failed, as a class (`status`, `timeout`, `auth`, `action`, …; version 1 records
    /// hold a message with its personal data removed). Never a message: a vendor's answer may
    /// quote what it was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The HTTP status of the failure, when the system answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// A create that may have happened (see [`crate::connector::ConnectorError::Unconfirmed`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unconfirmed: bool,
    /// The account the target created or took over for the subject, for a target that keeps no
    /// ownership marker of its own (Revolut): an opaque id, never personal data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
    /// The target ids of the communities an applied invite, move or restore placed the account
    /// in (identifiers of the configuration's groups, never personal data): where orgsync last put
    /// the person, so that a later plan tells a hand edit in the app (a repair) from a transfer.
    /// Absent for other kinds, for groups the same apply created, and in older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placed: Option<Vec<String>>,
    /// Why, as a code (version 3): `contract_ended`, `not_in_source`, `out_of_scope` for a
    /// removal; `joined` for an invite or a restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The reason's date (version 3): a removal's contract end (its last day), an invite's start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Date>,
}

/// Why a person's account is invited, restored or removed, as the source says it on day `at`:
/// a code and the date it counts from (see [`RecordedOutcome::reason`]). `None` for other kinds.
pub fn reason_of(
    kind: ActionKind,
    person: Option<&crate::model::Person>,
    at: Date,
) -> Option<(&'static str, Option<Date>)> {
    match kind {
        ActionKind::Remove => Some(match person {
            None => ("not_in_source", None),
            Some(p) => {
                let ended = !p.employments.is_empty()
                    && p.employments
                        .iter()
                        .all(|e| e.end.is_some_and(|end| end < at));
                if ended {
                    (
                        "contract_ended",
                        p.employments.iter().filter_map(|e| e.end).max(),
                    )
                } else {
                    ("out_of_scope", None)
                }
            }
        }),
        ActionKind::Invite | ActionKind::Restore => {
            let p = person?;
            let current = p
                .employments
                .iter()
                .filter(|e| e.start.is_none_or(|s| s <= at) && e.end.is_none_or(|end| end >= at))
                .filter_map(|e| e.start)
                .max();
            let next = p
                .employments
                .iter()
                .filter_map(|e| e.start)
                .filter(|s| *s > at)
                .min();
            Some(("joined", current.or(next)))
        }
        _ => None,
    }
}

/// The communities `action` places its account in, as recorded in [`RecordedOutcome::placed`]:
/// `None` when it places none, or one the same apply creates (its id is not in the plan).
pub fn placed_by(action: &crate::vocabulary::Action) -> Option<Vec<String>> {
    use crate::vocabulary::Changes;
    let to = match &action.changes {
        Changes::Invite(i) => i.communities.as_deref()?,
        Changes::Move(m) => &m.communities.to,
        Changes::Restore(r) => &r.communities.as_ref()?.to,
        _ => return None,
    };
    if to.iter().any(|g| g.is_new()) {
        return None;
    }
    Some(to.iter().map(|g| g.id.clone()).collect())
}

/// True when `start`, a `started` record, is followed by the record of its end among
/// `records`: the same run's (see [`ApplyRecord::run`]), or, for a record without a run, one of
/// the same plan written at the same time or later. A start without an end is an apply that was
/// killed (kill -9, a lost runner).
pub fn start_ended<'r>(
    start: &ApplyRecord,
    mut records: impl Iterator<Item = &'r ApplyRecord>,
) -> bool {
    records.any(|r| {
        !r.started
            && match (&start.run, &r.run) {
                (Some(a), Some(b)) => a == b,
                (Some(_), None) => false,
                (None, _) => r.plan_digest == start.plan_digest && r.time >= start.time,
            }
    })
}

/// Where orgsync last placed each person in the target `key`, by its apply records: source
/// identifier → target community ids ([`RecordedOutcome::placed`]). A removal forgets the person.
pub fn placed(records: &[ApplyRecord], key: &str) -> HashMap<String, Vec<String>> {
    let mut records: Vec<&ApplyRecord> = records
        .iter()
        .filter(|r| !r.started && r.target.as_deref() == Some(key))
        .collect();
    records.sort_by(|a, b| a.time.cmp(&b.time));
    let mut out = HashMap::new();
    for o in records.iter().flat_map(|r| &r.outcomes).filter(|o| o.ok) {
        match (&o.placed, o.kind) {
            (Some(p), _) => {
                out.insert(o.subject.clone(), p.clone());
            }
            (None, ActionKind::Remove | ActionKind::Anonymize) => {
                out.remove(&o.subject);
            }
            _ => {}
        }
    }
    out
}

impl ApplyRecord {
    /// The record of applying `plan` with result `report`. `time` is RFC 3339.
    pub fn new(
        plan: &Plan,
        report: &ApplyReport,
        config_dir: &str,
        commit: &ConfigCommit,
        actor: String,
        time: String,
    ) -> ApplyRecord {
        let plan_config_commit = plan
            .digests
            .config_commit
            .as_deref()
            .filter(|c| *c != commit.to_string())
            .map(str::to_owned);
        let placements: HashMap<(ActionKind, &str), Vec<String>> = plan
            .actions
            .iter()
            .filter_map(|a| Some(((a.kind(), a.subject.as_str()), placed_by(a)?)))
            .collect();
        let outcomes = report
            .outcomes
            .iter()
            .map(|o| RecordedOutcome {
                placed: o
                    .ok
                    .then(|| placements.get(&(o.kind, o.subject.as_str())).cloned())
                    .flatten(),
                kind: o.kind,
                subject: o.subject.clone(),
                ok: o.ok,
                target_id: o.target_id.clone(),
                error: (!o.ok).then(|| o.class.clone().unwrap_or_else(|| "error".to_owned())),
                status: o.status,
                unconfirmed: o.unconfirmed,
                reason: None,
                since: None,
            })
            .collect();
        let mut held: BTreeMap<String, usize> = plan
            .held
            .iter()
            .map(|(k, n)| (k.as_str().to_owned(), *n))
            .collect();
        let mut held_subjects: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for d in &plan.diagnostics {
            if d.kind == crate::vocabulary::DiagnosticKind::ProtectedAccount {
                *held.entry(d.kind.as_str().to_owned()).or_default() += d.count.max(1);
            } else if plan.held.contains_key(&d.kind) && !d.concerns.0.is_empty() {
                let ids = held_subjects.entry(d.kind.as_str().to_owned()).or_default();
                ids.extend(d.concerns.0.iter().cloned());
                ids.sort();
                ids.dedup();
            }
        }
        let mut manual_subjects: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for m in &plan.manual_steps {
            manual_subjects
                .entry(m.capability.clone())
                .or_default()
                .extend(m.subjects.iter().cloned());
        }
        ApplyRecord {
            record_version: RECORD_VERSION,
            time,
            actor,
            config_dir: config_dir.to_owned(),
            config_commit: commit.commit.id.clone(),
            config_dirty: commit.dirty,
            plan_config_commit,
            plan_digest: crate::digest::of_json(plan),
            at: plan.at,
            orgsync_version: env!("CARGO_PKG_VERSION").to_owned(),
            summary: plan.summary.clone(),
            succeeded: report.succeeded(),
            failed: report.failed,
            unconfirmed: report.unconfirmed,
            outcomes,
            target: None,
            managed_accounts: report.managed_accounts,
            interrupted: report.interrupted,
            not_attempted: report.not_attempted.clone(),
            manual_steps: plan.manual_steps.iter().fold(BTreeMap::new(), |mut m, s| {
                *m.entry(s.capability.clone()).or_default() += s.count;
                m
            }),
            started: false,
            run: None,
            approval: None,
            reviewed_plan: None,
            overrides: BTreeMap::new(),
            violations: plan
                .safety
                .violations
                .iter()
                .map(|v| v.rule.clone())
                .collect(),
            held,
            held_subjects,
            manual_subjects,
        }
    }

    /// The record written when the apply of `plan` begins, before anything changes: the plan's
    /// digest and counts, no outcomes. `time` is RFC 3339.
    pub fn started(
        plan: &Plan,
        config_dir: &str,
        commit: &ConfigCommit,
        actor: String,
        time: String,
    ) -> ApplyRecord {
        ApplyRecord {
            started: true,
            managed_accounts: None,
            ..ApplyRecord::new(
                plan,
                &ApplyReport::default(),
                config_dir,
                commit,
                actor,
                time,
            )
        }
    }

    /// The record as one line of JSON.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("a record serialises to JSON")
    }

    /// The records in a note: one per line; lines that are not records (a person's own note) are
    /// skipped.
    pub fn parse_note(text: &str) -> Vec<ApplyRecord> {
        text.lines()
            .filter_map(|l| serde_json::from_str(l.trim()).ok())
            .collect()
    }
}

/// What a badge line says (create-only targets: AFAS applicants).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BadgeState {
    /// Written just before the POST: the send started.
    InFlight,
    /// AFAS created the applicant (or the lookup found it).
    Sent,
    /// AFAS answered and created nothing (a validation error): may be sent again.
    NotSent,
}

/// One badge line in the notes: identifiers only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Badge {
    /// Always `afas_applicant`: tells badge lines from apply records.
    pub badge: String,
    /// The target ([`target_key`]).
    pub target: String,
    /// The configuration directory, relative to the repository root.
    pub config_dir: String,
    /// The candidate (source) id.
    pub candidate: String,
    /// What happened.
    pub state: BadgeState,
    /// When (RFC 3339, UTC, nanoseconds).
    pub time: String,
    /// Who sent: `GITHUB_ACTOR`, else the git user name.
    pub actor: String,
    /// The applicant id AFAS answered with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applicant_id: Option<String>,
    /// Found by the lookup after an interrupted send, not sent again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub found: bool,
    /// An `in_flight` badge of a send that `target.resend` allowed: a resend is allowed once;
    /// if its answer is lost too, the candidate is held again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resend: bool,
    /// A `sent` badge a person vouched for: they checked AFAS after an unconfirmed send and
    /// listed the candidate under `target.sent` (its applicant id unknown to orgsync).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub checked: bool,
}

impl Badge {
    /// The badges among the lines of a note.
    pub fn parse_note(text: &str) -> Vec<Badge> {
        text.lines()
            .filter_map(|l| serde_json::from_str::<Badge>(l.trim()).ok())
            .filter(|b| b.badge == "afas_applicant")
            .collect()
    }
}

/// Why the ledger could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LedgerError(pub String);

/// Where orgsync keeps what it must remember between runs: apply records and badges. Defined
/// here, beside apply, so that apply and the connectors need no git; implemented over git notes
/// by `orgsync-repo` ([`MemoryLedger`] for tests).
pub trait Ledger: Send + Sync {
    /// The configuration directory the ledger is about, relative to the repository root (`""`
    /// at the root).
    fn config_dir(&self) -> String;
    /// Who applies: `GITHUB_ACTOR`, else the git user name, else `unknown`.
    fn actor(&self) -> String;
    /// Every apply record of this configuration directory (of any target), in history order.
    fn records(&self) -> Result<Vec<ApplyRecord>, LedgerError>;
    /// Appends `record`; it is durable when this returns.
    fn append_record(&self, record: &ApplyRecord) -> Result<(), LedgerError>;
    /// Every badge of `target` ([`Badge::target`]) for this configuration directory.
    fn badges(&self, target: &str) -> Result<Vec<Badge>, LedgerError>;
    /// Appends one badge; it is durable when this returns.
    fn append_badge(&self, badge: &Badge) -> Result<(), LedgerError>;
}

impl fmt::Debug for dyn Ledger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ledger")
            .field("config_dir", &self.config_dir())
            .finish_non_exhaustive()
    }
}

/// A ledger in memory: for tests, and for a run that must not remember anything.
#[derive(Debug, Default)]
pub struct MemoryLedger {
    /// The configuration directory.
    pub config_dir: String,
    /// The actor.
    pub actor: String,
    records: std::sync::Mutex<Vec<ApplyRecord>>,
    badges: std::sync::Mutex<Vec<Badge>>,
}

impl MemoryLedger {
    /// An empty ledger.
    pub fn new() -> MemoryLedger {
        MemoryLedger::default()
    }
}

impl Ledger for MemoryLedger {
    fn config_dir(&self) -> String {
        self.config_dir.clone()
    }
    fn actor(&self) -> String {
        self.actor.clone()
    }
    fn records(&self) -> Result<Vec<ApplyRecord>, LedgerError> {
        Ok(self
            .records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone())
    }
    fn append_record(&self, record: &ApplyRecord) -> Result<(), LedgerError> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(record.clone());
        Ok(())
    }
    fn badges(&self, target: &str) -> Result<Vec<Badge>, LedgerError> {
        Ok(self
            .badges
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|b| b.target == target)
            .cloned()
            .collect())
    }
    fn append_badge(&self, badge: &Badge) -> Result<(), LedgerError> {
        self.badges
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(badge.clone());
        Ok(())
    }
}

/// Which accounts orgsync created or took over in the target `key`, by its apply records: target
/// id → source identifier. For targets that keep no ownership marker of their own (Revolut).
/// Without records every account is foreign until adopted.
pub fn owned_accounts(records: &[ApplyRecord], key: &str) -> HashMap<String, String> {
    let mut owned = HashMap::new();
    let mut records: Vec<&ApplyRecord> = records
        .iter()
        .filter(|r| r.target.as_deref() == Some(key))
        .collect();
    records.sort_by(|a, b| a.time.cmp(&b.time));
    let mut by_subject: HashMap<&str, &str> = HashMap::new();
    for o in records.iter().flat_map(|r| &r.outcomes) {
        if o.ok
            && let Some(id) = &o.target_id
            && let Some(old) = by_subject.insert(&o.subject, id)
            && old != id
        {
            // A newer account of the same person (a rehire): the old one is gone.
            owned.remove(old);
        }
        if o.ok
            && let Some(id) = &o.target_id
        {
            owned.insert(id.clone(), o.subject.clone());
        }
    }
    owned
}

/// What the newest apply record of target `key` says the target holds: the managed accounts it
/// left, or — for records written before orgsync counted them — the accounts all recorded applies
/// invited, a lower bound. Records of another target are not held against this one (records
/// written before targets were named count for every target). `None` without records: the guard
/// then has nothing to compare with, as on a first sync.
pub fn recorded_target(records: &[ApplyRecord], key: &str) -> Option<RecordedTarget> {
    let records: Vec<&ApplyRecord> = records
        .iter()
        .filter(|r| r.target.as_deref().is_none_or(|t| t == key))
        .collect();
    // An apply that began and recorded nothing after (killed: kill -9, a lost runner) planned
    // the changes its plan counts; what is left of them is finished by the next plan without
    // counting against the limits again — the plan passed its check, or was allowed over it.
    // Its count of managed accounts is the newest finished apply's. A start is finished by the
    // record of the same plan written after it, wherever the merge of two clones' notes put
    // that line.
    let finished = |s: &ApplyRecord| start_ended(s, records.iter().copied());
    let newest_finished = records
        .iter()
        .filter(|r| !r.started)
        .max_by(|a, b| a.time.cmp(&b.time))
        .copied();
    let killed = records
        .iter()
        .filter(|r| r.started && !finished(r))
        .filter(|s| newest_finished.is_none_or(|f| s.time > f.time))
        .max_by(|a, b| a.time.cmp(&b.time))
        .copied();
    let newest = newest_finished.or(killed)?;
    let record = format!(
        "the apply of {} (commit {})",
        newest.time,
        short(&newest.config_commit)
    );
    let resumable = match killed {
        Some(started) => started.summary.clone(),
        None if newest.interrupted => newest.not_attempted.clone(),
        None => Default::default(),
    };
    if let Some(managed) = newest.managed_accounts {
        return Some(RecordedTarget {
            managed,
            counted: true,
            record,
            resumable,
        });
    }
    let invited = records
        .iter()
        .flat_map(|r| &r.outcomes)
        .filter(|o| o.ok && o.kind == ActionKind::Invite)
        .count();
    Some(RecordedTarget {
        managed: invited,
        counted: false,
        record: format!("the applies recorded up to {record}"),
        resumable,
    })
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::apply::run::Outcome;
    use crate::vocabulary::{Action, Changes, Digests, Invite, Safety};

    fn sample_plan() -> Plan {
        let action = Action {
            subject: "4302".to_owned(),
            target_id: None,
            name: "Lina Chaouch".to_owned(),
            changes: Changes::Invite(Invite {
                email: Some("lina.chaouch@example.com".to_owned()),
                first_name: Some("Lina".to_owned()),
                ..Invite::default()
            }),
            reason: "new in the source".to_owned(),
            cause: Default::default(),
        };
        let actions = vec![action.clone(), action];
        Plan {
            format_version: 1,
            created_at: "2026-11-22T10:00:00Z".to_owned(),
            orgsync_version: "0.1.0".to_owned(),
            at: jiff::civil::date(2026, 11, 22),
            summary: Plan::count_actions(&actions),
            held: Default::default(),
            actions,
            manual_steps: Vec::new(),
            diagnostics: Vec::new(),
            safety: Safety {
                safe: true,
                violations: Vec::new(),
            },
            digests: Digests {
                config_commit: Some("abc-dirty".to_owned()),
                ..Digests::default()
            },
        }
    }

    #[test]
    fn a_record_holds_no_personal_data() {
        let plan = sample_plan();
        let report = ApplyReport {
            outcomes: vec![
                Outcome {
                    kind: ActionKind::Invite,
                    subject: "4302".to_owned(),
                    ok: true,
                    error: None,
                    class: None,
                    status: None,
                    unconfirmed: false,
                    target_id: None,
                },
                Outcome {
                    kind: ActionKind::Invite,
                    subject: "4302".to_owned(),
                    ok: false,
                    error: Some(
                        "invite 4302: Lina Chaouch <lina.chaouch@example.com> exists as (other@example.com)"
                            .to_owned(),
                    ),
                    class: Some("status".to_owned()),
                    status: Some(409),
                    unconfirmed: false,
                    target_id: None,
                },
            ],
            failed: 1,
            ..ApplyReport::default()
        };
        let commit = ConfigCommit {
            commit: CommitInfo {
                id: "abc".to_owned(),
                author: "Alice".to_owned(),
                date: String::new(),
                subject: String::new(),
            },
            dirty: false,
        };
        let record = ApplyRecord::new(
            &plan,
            &report,
            "config",
            &commit,
            "alice".to_owned(),
            "2026-11-22T10:00:00Z".to_owned(),
        );
        let line = record.to_line();
        for personal in ["Lina", "Chaouch", "@example.com"] {
            assert!(!line.contains(personal), "{personal} in {line}");
        }
        // The failure is kept as its class and status, never its message (issue 19: a vendor's
        // answer may quote what it was sent, in any encoding).
        assert!(line.contains(r#""error":"status","status":409"#), "{line}");
        assert!(!line.contains("exists as"), "{line}");
        assert_eq!(record.plan_config_commit.as_deref(), Some("abc-dirty"));
        assert_eq!((record.succeeded, record.failed), (1, 1));
        assert!(!line.contains('\n'));
        assert_eq!(
            ApplyRecord::parse_note(&format!("a note by hand\n{line}\n")),
            [record]
        );
    }

    /// Regression (kill -9 strands people): a started record without its finished record is
    /// a killed apply, whose plan the next one finishes without counting it again; a start whose
    /// finished record exists is not, wherever a merge of two clones' notes put the lines.
    #[test]
    fn a_start_without_its_finish_is_a_killed_apply_whatever_the_line_order() {
        let commit = ConfigCommit {
            commit: CommitInfo {
                id: "abc".to_owned(),
                author: String::new(),
                date: String::new(),
                subject: String::new(),
            },
            dirty: false,
        };
        let plan = sample_plan();
        let at = |t: &str| t.to_owned();
        let mut earlier = ApplyRecord::new(
            &plan,
            &ApplyReport::default(),
            "",
            &commit,
            "a".to_owned(),
            at("2026-11-22T01:00:00Z"),
        );
        earlier.managed_accounts = Some(40);
        earlier.plan_digest = "earlier".to_owned();
        let started = ApplyRecord::started(
            &plan,
            "",
            &commit,
            "a".to_owned(),
            at("2026-11-22T02:00:00Z"),
        );
        let killed = recorded_target(&[earlier.clone(), started.clone()], "t").unwrap();
        assert_eq!(killed.managed, 40, "the newest finished apply's count");
        assert_eq!(
            killed.resumable[&ActionKind::Invite],
            2,
            "the killed plan's actions"
        );
        let mut finish = ApplyRecord::new(
            &plan,
            &ApplyReport::default(),
            "",
            &commit,
            "a".to_owned(),
            at("2026-11-22T02:00:00Z"),
        );
        finish.managed_accounts = Some(42);
        for records in [
            vec![earlier.clone(), started.clone(), finish.clone()],
            vec![earlier.clone(), finish.clone(), started.clone()],
        ] {
            let done = recorded_target(&records, "t").unwrap();
            assert_eq!(done.managed, 42);
            assert!(done.resumable.is_empty(), "{:?}", done.resumable);
        }
    }

    /// CI: an apply killed while it pushed its `started` record, run again at once, made the
    /// same plan in the same second; the re-run's end was taken for the killed run's, and the
    /// history and the audit lost the killed apply.
    #[test]
    fn a_killed_apply_rerun_in_the_same_second_is_still_a_killed_apply() {
        let plan = sample_plan();
        let commit = ConfigCommit {
            commit: CommitInfo {
                id: "c".repeat(40),
                author: "a".to_owned(),
                date: "2026-11-22T00:00:00Z".to_owned(),
                subject: "s".to_owned(),
            },
            dirty: false,
        };
        let time = "2026-11-22T02:00:00Z".to_owned();
        let mut killed = ApplyRecord::started(&plan, "", &commit, "a".to_owned(), time.clone());
        killed.run = Some("run-a".to_owned());
        let mut rerun_start =
            ApplyRecord::started(&plan, "", &commit, "a".to_owned(), time.clone());
        rerun_start.run = Some("run-b".to_owned());
        let mut rerun_end = ApplyRecord::new(
            &plan,
            &ApplyReport::default(),
            "",
            &commit,
            "a".to_owned(),
            time.clone(),
        );
        rerun_end.run = Some("run-b".to_owned());
        let records = [killed.clone(), rerun_start.clone(), rerun_end.clone()];
        assert!(
            !start_ended(&killed, records.iter()),
            "the killed run has no end"
        );
        assert!(
            start_ended(&rerun_start, records.iter()),
            "the re-run ended"
        );
        // Records without a run (older ones) still pair by plan and time.
        let (mut old_start, mut old_end) = (killed, rerun_end);
        old_start.run = None;
        old_end.run = None;
        assert!(start_ended(&old_start, [old_end].iter()));
    }

    #[test]
    fn reasons_give_the_contract_end_of_a_leaver_and_the_start_of_a_joiner() {
        use crate::model::{Employment, Person};
        let d = |s: &str| s.parse::<Date>().unwrap();
        let at = d("2025-03-10");
        let job = |start: &str, end: Option<&str>| Employment {
            start: Some(d(start)),
            end: end.map(d),
            ..Employment::default()
        };
        let leaver = Person {
            employments: vec![
                job("2020-01-01", Some("2023-05-31")),
                job("2023-06-01", Some("2025-03-07")),
            ],
            ..Person::default()
        };
        assert_eq!(
            reason_of(ActionKind::Remove, Some(&leaver), at),
            Some(("contract_ended", Some(d("2025-03-07"))))
        );
        let staying = Person {
            employments: vec![job("2020-01-01", None)],
            ..Person::default()
        };
        assert_eq!(
            reason_of(ActionKind::Remove, Some(&staying), at),
            Some(("out_of_scope", None))
        );
        assert_eq!(
            reason_of(ActionKind::Remove, None, at),
            Some(("not_in_source", None))
        );
        let joiner = Person {
            employments: vec![job("2025-03-13", None)],
            ..Person::default()
        };
        assert_eq!(
            reason_of(ActionKind::Invite, Some(&joiner), at),
            Some(("joined", Some(d("2025-03-13"))))
        );
        assert_eq!(
            reason_of(ActionKind::Invite, Some(&staying), at),
            Some(("joined", Some(d("2020-01-01"))))
        );
        assert_eq!(reason_of(ActionKind::Move, Some(&staying), at), None);
    }

    #[test]
    fn config_commit_round_trips_with_the_dirty_suffix() {
        let commit = ConfigCommit {
            commit: CommitInfo {
                id: "0123456789".to_owned(),
                author: String::new(),
                date: String::new(),
                subject: String::new(),
            },
            dirty: true,
        };
        assert_eq!(commit.to_string(), "0123456789-dirty");
        assert_eq!(
            ConfigCommit::parse("0123456789-dirty"),
            ("0123456789", true)
        );
        assert_eq!(ConfigCommit::parse("0123456789"), ("0123456789", false));
        assert_eq!(short("0123456789"), "0123456");
    }
}
