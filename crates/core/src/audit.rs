//! The audit report (`orgsync audit`): what an auditor asks for a period, answered from the
//! apply records and the configuration's history — the configuration changes with their pull
//! requests and approvers, every apply (how its plan was approved, the overrides it ran under,
//! interrupted or not), every leaver with the days from the contract's end to the removal,
//! every joiner from the start date to the invite, and the exceptions each apply went ahead
//! with. Also one person's whole lifecycle across all records.
//!
//! Identifiers, dates and codes only, as the records hold them: no name, no e-mail address.
//! Pure: the caller reads git and hands over [`Entry`]s and [`Change`]s.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jiff::civil::Date;
use schemars::JsonSchema;
use serde::Serialize;

use crate::ledger::{AUDIT_RECORD_VERSION, ApplyRecord, CommitInfo, short};
use crate::vocabulary::ActionKind;

/// The `kind` of the report's JSON.
pub const REPORT_KIND: &str = "orgsync-audit";

/// Version of the report's JSON format.
pub const FORMAT_VERSION: u32 = 1;

/// The fields an apply record older than [`AUDIT_RECORD_VERSION`] lacks.
pub const FIELDS_OLDER_RECORDS_LACK: [&str; 6] = [
    "approval",
    "overrides",
    "violations",
    "held",
    "reason",
    "since",
];

/// One apply record with the configuration commit it is recorded on.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The configuration commit.
    pub commit: CommitInfo,
    /// The record.
    pub record: ApplyRecord,
    /// The commit's position on HEAD's first-parent line, when it is on it.
    pub position: Option<usize>,
    /// A `started` record that no finished record of the same plan follows: the apply was
    /// killed (kill -9, a lost runner).
    pub killed: bool,
}

/// A commit of HEAD's first-parent line that changed the configuration.
#[derive(Debug, Clone)]
pub struct Change {
    /// The commit.
    pub commit: CommitInfo,
    /// Its whole message.
    pub message: String,
    /// A merge commit.
    pub merge: bool,
    /// Who wrote the merged branch (merges).
    pub proposer: Option<String>,
    /// The configuration files it changed.
    pub files: Vec<String>,
    /// Its position on the first-parent line.
    pub position: usize,
    /// The pull request's approving reviewers as the forge says (GitHub), when asked.
    pub forge_approvers: Option<Vec<String>>,
}

/// What the report covers.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// First day (inclusive).
    pub from: Date,
    /// Last day (inclusive).
    pub to: Date,
    /// `policy.max_removal_lag_days`.
    pub max_removal_lag_days: Option<u32>,
}

/// The report.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Report {
    /// Always [`REPORT_KIND`].
    pub kind: &'static str,
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// The configuration directory, relative to the repository root.
    pub config_dir: String,
    /// The period.
    pub period: Period,
    /// The policy the lags are judged by.
    pub policy: Policy,
    /// The figures.
    pub summary: Summary,
    /// Configuration changes committed in the period.
    pub configuration_changes: Vec<ChangeRow>,
    /// Applies of the period (by the day they applied for).
    pub applies: Vec<ApplyRow>,
    /// Accounts removed in the period.
    pub leavers: Vec<LeaverRow>,
    /// Accounts invited or restored in the period.
    pub joiners: Vec<JoinerRow>,
    /// What each apply went ahead with: people held, manual steps left, actions that failed.
    pub exceptions: Vec<ExceptionRow>,
    /// Applies recorded by an older orgsync, whose records lack fields the report needs.
    pub older_records: Vec<OlderRecords>,
}

/// The period, inclusive.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Period {
    /// First day.
    #[schemars(with = "String")]
    pub from: Date,
    /// Last day.
    #[schemars(with = "String")]
    pub to: Date,
}

/// The audit policy.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Policy {
    /// `policy.max_removal_lag_days`, when set.
    pub max_removal_lag_days: Option<u32>,
}

/// The figures of the period.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct Summary {
    /// Configuration changes.
    pub configuration_changes: usize,
    /// Configuration changes with no pull request or no approver on record.
    pub changes_without_approval: usize,
    /// Applies.
    pub applies: usize,
    /// Applies run with a safety override (`--allow-*`, `--force`).
    pub applies_with_overrides: usize,
    /// Applies interrupted or killed.
    pub applies_interrupted: usize,
    /// Accounts removed.
    pub leavers: usize,
    /// Removals whose lag is over `max_removal_lag_days`.
    pub leavers_over_policy: usize,
    /// Removals with no end date on record (no longer in the source, excluded, older records).
    pub leavers_without_end_date: usize,
    /// The longest lag, in days.
    pub max_removal_lag_days: Option<i64>,
    /// Accounts invited or restored.
    pub joiners: usize,
    /// Exception rows.
    pub exceptions: usize,
}

/// A configuration change.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ChangeRow {
    /// Full commit id.
    pub commit: String,
    /// Commit date (RFC 3339).
    pub date: String,
    /// The commit's author (for a merge, who merged).
    pub author: String,
    /// Who wrote the change: the merged branch's author, else the commit's.
    pub proposer: String,
    /// The commit's first line.
    pub subject: String,
    /// The pull request number, when the history says it.
    pub pull_request: Option<u64>,
    /// Who approved it.
    pub approvers: Vec<String>,
    /// Where the approvers come from: `github` (the pull request's approving reviews),
    /// `trailer` (`Reviewed-by:`/`Approved-by:` in the commit message), or null (none).
    pub approval_source: Option<String>,
    /// The configuration files changed.
    pub files: Vec<String>,
    /// The first apply with this change in effect: when it ran.
    pub first_applied: Option<String>,
    /// The day that apply applied for.
    #[schemars(with = "Option<String>")]
    pub first_applied_at: Option<Date>,
    /// The configuration commit of that apply.
    pub first_applied_commit: Option<String>,
    /// How that apply's plan was approved (`reviewed`, `plan_file`, …; null for older records).
    pub first_applied_approval: Option<String>,
}

/// An apply.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ApplyRow {
    /// When it finished (or, killed, when it began), RFC 3339.
    pub time: String,
    /// The day it applied for.
    #[schemars(with = "String")]
    pub at: Date,
    /// Who ran it.
    pub actor: String,
    /// The configuration commit.
    pub config_commit: String,
    /// The configuration files had uncommitted changes.
    pub config_dirty: bool,
    /// The pull request the configuration came from, when the history says it.
    pub pull_request: Option<u64>,
    /// How its plan was approved: `reviewed`, `plan_file`, `prompt`, `auto_approve`; null in
    /// older records.
    pub approval: Option<String>,
    /// The reviewed plan's digest (`reviewed`).
    pub reviewed_plan: Option<String>,
    /// The applied plan's digest.
    pub plan_digest: String,
    /// Actions planned, by kind.
    pub planned: BTreeMap<ActionKind, usize>,
    /// Actions applied.
    pub succeeded: usize,
    /// Actions failed.
    pub failed: usize,
    /// The overrides given (`allow_removals` → N, `force` → 1).
    pub overrides: BTreeMap<String, u64>,
    /// The safety limits the plan broke, applied under the overrides.
    pub violations: Vec<String>,
    /// `complete`, `interrupted` (SIGINT, SIGTERM: stopped cleanly, what was done recorded) or
    /// `killed` (began and recorded nothing after).
    pub outcome: &'static str,
    /// The record's version.
    pub record_version: u32,
}

/// A removed account.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LeaverRow {
    /// The person's source identifier.
    pub subject: String,
    /// Why (`contract_ended`, `not_in_source`, `out_of_scope`; null in older records).
    pub reason: Option<String>,
    /// The last day of the contract, when the source had one.
    #[schemars(with = "Option<String>")]
    pub end_date: Option<Date>,
    /// The day of the apply that removed the account.
    #[schemars(with = "String")]
    pub removed_at: Date,
    /// Days from the end date to the removal.
    pub lag_days: Option<i64>,
    /// The lag is over `max_removal_lag_days` (null without a policy or an end date).
    pub over_policy: Option<bool>,
    /// When the removal was applied.
    pub apply_time: String,
    /// Who ran that apply.
    pub actor: String,
    /// Its configuration commit.
    pub config_commit: String,
}

/// An invited (or restored) account.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct JoinerRow {
    /// The person's source identifier.
    pub subject: String,
    /// `invite` or `restore`.
    pub kind: ActionKind,
    /// The first day of the contract, when the record has it.
    #[schemars(with = "Option<String>")]
    pub start_date: Option<Date>,
    /// The day of the apply that invited the person.
    #[schemars(with = "String")]
    pub invited_at: Date,
    /// Days from the start date to the invite (negative: invited before the start).
    pub lag_days: Option<i64>,
    /// When the invite was applied.
    pub apply_time: String,
    /// Who ran that apply.
    pub actor: String,
    /// Its configuration commit.
    pub config_commit: String,
}

/// What an apply went ahead with, accepted by whoever ran it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ExceptionRow {
    /// The day of the apply.
    #[schemars(with = "String")]
    pub at: Date,
    /// When it ran.
    pub apply_time: String,
    /// Who ran it, and so accepted the exception.
    pub accepted_by: String,
    /// Its configuration commit.
    pub config_commit: String,
    /// `held` (left as they are until someone decides), `manual_step` (for a person to do by
    /// hand, not done by orgsync), `failed` or `unconfirmed` (an action).
    pub exception: &'static str,
    /// Why: the held reason, the missing capability, the failed action's kind and error class.
    pub code: String,
    /// How many.
    pub count: usize,
    /// Their source identifiers, where the record holds them.
    pub subjects: Vec<String>,
}

/// Applies recorded by an older orgsync.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct OlderRecords {
    /// The record version.
    pub record_version: u32,
    /// How many applies of the period.
    pub applies: usize,
    /// The fields their records lack.
    pub missing: Vec<&'static str>,
}

/// The pull request number a commit message names: `Merge pull request #12 from …` (GitHub's
/// merge commit) or `… (#12)` (a squash merge).
pub fn pull_request(message: &str) -> Option<u64> {
    let subject = message.lines().next().unwrap_or_default();
    if let Some(rest) = subject.strip_prefix("Merge pull request #") {
        return rest
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse().ok());
    }
    let inner = subject.trim_end().strip_suffix(')')?;
    let (_, n) = inner.rsplit_once("(#")?;
    n.parse().ok()
}

/// The approvers a commit message names in `Reviewed-by:` or `Approved-by:` trailers (the name,
/// without the address).
pub fn trailer_approvers(message: &str) -> Vec<String> {
    let mut out: Vec<String> = message
        .lines()
        .filter_map(|l| {
            let (key, value) = l.split_once(':')?;
            let key = key.trim().to_ascii_lowercase();
            (key == "reviewed-by" || key == "approved-by").then(|| {
                let value = value.trim();
                value
                    .split_once(" <")
                    .map_or(value, |(name, _)| name)
                    .trim()
                    .to_owned()
            })
        })
        .filter(|n| !n.is_empty())
        .collect();
    out.dedup();
    out
}

fn in_period(day: Date, o: &Options) -> bool {
    o.from <= day && day <= o.to
}

/// Days from `from` to `to`.
fn days(from: Date, to: Date) -> Option<i64> {
    from.until(to).ok().map(|s| i64::from(s.get_days()))
}

/// The day of an RFC 3339 date.
fn day_of(date: &str) -> Option<Date> {
    date.get(..10)?.parse().ok()
}

/// The pull request of the configuration at `position`: the newest change at or before it.
fn pull_request_at(changes: &[Change], position: Option<usize>) -> Option<u64> {
    let position = position?;
    changes
        .iter()
        .rev()
        .find(|c| c.position <= position)
        .and_then(|c| pull_request(&c.message))
}

/// Entries in apply order: by the day applied for, then time.
fn ordered(entries: &[Entry]) -> Vec<&Entry> {
    let mut out: Vec<&Entry> = entries.iter().collect();
    out.sort_by(|a, b| (a.record.at, &a.record.time).cmp(&(b.record.at, &b.record.time)));
    out
}

/// The report for a period. `entries` are every apply record of the configuration directory,
/// finished ones and killed starts (see [`Entry::killed`]); `changes` the configuration's
/// changes (HEAD's first-parent line).
pub fn report(config_dir: &str, entries: &[Entry], changes: &[Change], o: &Options) -> Report {
    let ordered = ordered(entries);
    let finished: Vec<&Entry> = ordered
        .iter()
        .copied()
        .filter(|e| !e.record.started)
        .collect();
    let mut configuration_changes = Vec::new();
    for c in changes {
        if !day_of(&c.commit.date).is_some_and(|d| in_period(d, o)) {
            continue;
        }
        let (approvers, source) = match &c.forge_approvers {
            Some(a) if !a.is_empty() => (a.clone(), Some("github")),
            _ => {
                let a = trailer_approvers(&c.message);
                let source = (!a.is_empty()).then_some("trailer");
                (a, source)
            }
        };
        let first = finished
            .iter()
            .find(|e| e.position.is_some_and(|p| p >= c.position));
        configuration_changes.push(ChangeRow {
            commit: c.commit.id.clone(),
            date: c.commit.date.clone(),
            author: c.commit.author.clone(),
            proposer: c
                .proposer
                .clone()
                .unwrap_or_else(|| c.commit.author.clone()),
            subject: c.commit.subject.clone(),
            pull_request: pull_request(&c.message),
            approvers,
            approval_source: source.map(str::to_owned),
            files: c.files.clone(),
            first_applied: first.map(|e| e.record.time.clone()),
            first_applied_at: first.map(|e| e.record.at),
            first_applied_commit: first.map(|e| e.record.config_commit.clone()),
            first_applied_approval: first.and_then(|e| e.record.approval.clone()),
        });
    }
    let period: Vec<&Entry> = ordered
        .iter()
        .copied()
        .filter(|e| in_period(e.record.at, o))
        .filter(|e| !e.record.started || e.killed)
        .collect();
    let mut applies = Vec::new();
    let mut leavers = Vec::new();
    let mut joiners = Vec::new();
    let mut exceptions = Vec::new();
    let mut older: BTreeMap<u32, usize> = BTreeMap::new();
    for e in &period {
        let r = &e.record;
        if r.record_version < AUDIT_RECORD_VERSION {
            *older.entry(r.record_version).or_default() += 1;
        }
        applies.push(ApplyRow {
            time: r.time.clone(),
            at: r.at,
            actor: r.actor.clone(),
            config_commit: r.config_commit.clone(),
            config_dirty: r.config_dirty,
            pull_request: pull_request_at(changes, e.position),
            approval: r.approval.clone(),
            reviewed_plan: r.reviewed_plan.clone(),
            plan_digest: r.plan_digest.clone(),
            planned: r
                .summary
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(k, n)| (*k, *n))
                .collect(),
            succeeded: r.succeeded,
            failed: r.failed,
            overrides: r.overrides.clone(),
            violations: r.violations.clone(),
            outcome: if e.killed {
                "killed"
            } else if r.interrupted {
                "interrupted"
            } else {
                "complete"
            },
            record_version: r.record_version,
        });
        if r.started {
            continue;
        }
        for out in r.outcomes.iter().filter(|x| x.ok) {
            match out.kind {
                ActionKind::Remove => {
                    let lag = out.since.and_then(|end| days(end, r.at));
                    leavers.push(LeaverRow {
                        subject: out.subject.clone(),
                        reason: out.reason.clone(),
                        end_date: out.since,
                        removed_at: r.at,
                        lag_days: lag,
                        over_policy: o
                            .max_removal_lag_days
                            .zip(lag)
                            .map(|(max, lag)| lag > i64::from(max)),
                        apply_time: r.time.clone(),
                        actor: r.actor.clone(),
                        config_commit: r.config_commit.clone(),
                    });
                }
                ActionKind::Invite | ActionKind::Restore => joiners.push(JoinerRow {
                    subject: out.subject.clone(),
                    kind: out.kind,
                    start_date: out.since,
                    invited_at: r.at,
                    lag_days: out.since.and_then(|start| days(start, r.at)),
                    apply_time: r.time.clone(),
                    actor: r.actor.clone(),
                    config_commit: r.config_commit.clone(),
                }),
                _ => {}
            }
        }
        let row = |exception, code: String, count, subjects: Vec<String>| ExceptionRow {
            at: r.at,
            apply_time: r.time.clone(),
            accepted_by: r.actor.clone(),
            config_commit: r.config_commit.clone(),
            exception,
            code,
            count,
            subjects,
        };
        for (code, n) in &r.held {
            let subjects = r.held_subjects.get(code).cloned().unwrap_or_default();
            exceptions.push(row("held", code.clone(), *n, subjects));
        }
        for (capability, n) in &r.manual_steps {
            let subjects = r
                .manual_subjects
                .get(capability)
                .cloned()
                .unwrap_or_default();
            exceptions.push(row("manual_step", capability.clone(), *n, subjects));
        }
        let mut failed: BTreeMap<(&'static str, String), Vec<String>> = BTreeMap::new();
        for x in r.outcomes.iter().filter(|x| !x.ok) {
            let what = if x.unconfirmed {
                "unconfirmed"
            } else {
                "failed"
            };
            let code = format!(
                "{} {}",
                x.kind.as_str(),
                x.error.as_deref().unwrap_or("error")
            );
            failed
                .entry((what, code))
                .or_default()
                .push(x.subject.clone());
        }
        for ((what, code), subjects) in failed {
            exceptions.push(row(what, code, subjects.len(), subjects));
        }
    }
    let summary = Summary {
        configuration_changes: configuration_changes.len(),
        changes_without_approval: configuration_changes
            .iter()
            .filter(|c| c.pull_request.is_none() || c.approvers.is_empty())
            .count(),
        applies: applies.len(),
        applies_with_overrides: applies.iter().filter(|a| !a.overrides.is_empty()).count(),
        applies_interrupted: applies.iter().filter(|a| a.outcome != "complete").count(),
        leavers: leavers.len(),
        leavers_over_policy: leavers
            .iter()
            .filter(|l| l.over_policy == Some(true))
            .count(),
        leavers_without_end_date: leavers.iter().filter(|l| l.end_date.is_none()).count(),
        max_removal_lag_days: leavers.iter().filter_map(|l| l.lag_days).max(),
        joiners: joiners.len(),
        exceptions: exceptions.len(),
    };
    Report {
        kind: REPORT_KIND,
        format_version: FORMAT_VERSION,
        config_dir: config_dir.to_owned(),
        period: Period {
            from: o.from,
            to: o.to,
        },
        policy: Policy {
            max_removal_lag_days: o.max_removal_lag_days,
        },
        summary,
        configuration_changes,
        applies,
        leavers,
        joiners,
        exceptions,
        older_records: older
            .into_iter()
            .map(|(record_version, applies)| OlderRecords {
                record_version,
                applies,
                missing: FIELDS_OLDER_RECORDS_LACK.to_vec(),
            })
            .collect(),
    }
}

/// One person's lifecycle across all apply records.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Lifecycle {
    /// Always `orgsync-audit-person`.
    pub kind: &'static str,
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// The person's source identifier.
    pub subject: String,
    /// What orgsync did to their account, oldest first.
    pub events: Vec<Event>,
}

/// One action on a person's account.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Event {
    /// The day of the apply.
    #[schemars(with = "String")]
    pub at: Date,
    /// When it ran.
    pub apply_time: String,
    /// The action (`invite`, `move`, `remove`, `restore`, `anonymize`, …).
    pub kind: ActionKind,
    /// Applied.
    pub ok: bool,
    /// Why it failed (an error class).
    pub error: Option<String>,
    /// Why, as a code (version 3 records).
    pub reason: Option<String>,
    /// The reason's date: the contract's end for a removal, its start for an invite.
    #[schemars(with = "Option<String>")]
    pub since: Option<Date>,
    /// Who ran the apply.
    pub actor: String,
    /// The configuration commit.
    pub config_commit: String,
    /// The pull request that configuration came from, when the history says it.
    pub pull_request: Option<u64>,
    /// How the plan was approved.
    pub approval: Option<String>,
}

/// Every recorded action on `subject`'s account, oldest first.
pub fn lifecycle(subject: &str, entries: &[Entry], changes: &[Change]) -> Lifecycle {
    let mut events = Vec::new();
    for e in ordered(entries) {
        let r = &e.record;
        for x in r.outcomes.iter().filter(|x| x.subject == subject) {
            events.push(Event {
                at: r.at,
                apply_time: r.time.clone(),
                kind: x.kind,
                ok: x.ok,
                error: x.error.clone(),
                reason: x.reason.clone(),
                since: x.since,
                actor: r.actor.clone(),
                config_commit: r.config_commit.clone(),
                pull_request: pull_request_at(changes, e.position),
                approval: r.approval.clone(),
            });
        }
    }
    Lifecycle {
        kind: "orgsync-audit-person",
        format_version: FORMAT_VERSION,
        subject: subject.to_owned(),
        events,
    }
}

fn or_dash<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "—".to_owned(), |v| v.to_string())
}

fn counts<K: std::fmt::Display, V: std::fmt::Display>(m: &BTreeMap<K, V>) -> String {
    if m.is_empty() {
        return "—".to_owned();
    }
    m.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A Markdown table cell: no pipe, no line break.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// The report as Markdown, for an issue or a pull request. `names`: source identifier → name,
/// only with `--show-pii`.
pub fn markdown(r: &Report, names: &BTreeMap<String, String>) -> String {
    let who = |id: &str| match names.get(id) {
        Some(n) => format!("{} ({})", cell(id), cell(n)),
        None => cell(id),
    };
    let s_ = &r.summary;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# orgsync audit: {} to {}{}\n",
        r.period.from,
        r.period.to,
        if r.config_dir.is_empty() {
            String::new()
        } else {
            format!(" ({})", r.config_dir)
        }
    );
    let _ = writeln!(s, "| | |\n|---|---|");
    let _ = writeln!(
        s,
        "| Configuration changes | {} ({} without a pull request or an approver) |",
        s_.configuration_changes, s_.changes_without_approval
    );
    let _ = writeln!(
        s,
        "| Applies | {} ({} with a safety override, {} interrupted) |",
        s_.applies, s_.applies_with_overrides, s_.applies_interrupted
    );
    let policy = match r.policy.max_removal_lag_days {
        Some(max) => format!("{} over the policy of {max} days", s_.leavers_over_policy),
        None => "no policy set (`policy.max_removal_lag_days`)".to_owned(),
    };
    let _ = writeln!(
        s,
        "| Leavers removed | {} ({policy}; longest lag {} days; {} without an end date) |",
        s_.leavers,
        or_dash(s_.max_removal_lag_days),
        s_.leavers_without_end_date
    );
    let _ = writeln!(s, "| Joiners invited | {} |", s_.joiners);
    let _ = writeln!(s, "| Exceptions | {} |\n", s_.exceptions);
    for o in &r.older_records {
        let _ = writeln!(
            s,
            "> {} apply record(s) were written by an older orgsync (record version {}): they \
             lack {}.\n",
            o.applies,
            o.record_version,
            o.missing.join(", ")
        );
    }
    let _ = writeln!(s, "## Configuration changes\n");
    if r.configuration_changes.is_empty() {
        let _ = writeln!(s, "None in the period.\n");
    } else {
        let _ = writeln!(
            s,
            "| Commit | Date | Proposed by | Pull request | Approved by | Files | First applied |\n|---|---|---|---|---|---|---|"
        );
        for c in &r.configuration_changes {
            let _ = writeln!(
                s,
                "| {} {} | {} | {} | {} | {} | {} | {} |",
                short(&c.commit),
                cell(&c.subject),
                c.date.get(..10).unwrap_or(&c.date),
                cell(&c.proposer),
                c.pull_request
                    .map_or("none".to_owned(), |n| format!("#{n}")),
                if c.approvers.is_empty() {
                    "**none**".to_owned()
                } else {
                    cell(&c.approvers.join(", "))
                },
                cell(&c.files.join(", ")),
                match (&c.first_applied_at, &c.first_applied_approval) {
                    (Some(at), Some(a)) => format!("{at} ({a})"),
                    (Some(at), None) => at.to_string(),
                    _ => "not yet".to_owned(),
                }
            );
        }
        s.push('\n');
    }
    let _ = writeln!(s, "## Applies\n");
    if r.applies.is_empty() {
        let _ = writeln!(s, "None in the period.\n");
    } else {
        let _ = writeln!(
            s,
            "| Day | Run by | Config | Approval | Planned | Applied / failed | Overrides | Outcome |\n|---|---|---|---|---|---|---|---|"
        );
        for a in &r.applies {
            let _ = writeln!(
                s,
                "| {} | {} | {}{} | {} | {} | {} / {} | {} | {} |",
                a.at,
                cell(&a.actor),
                short(&a.config_commit),
                a.pull_request
                    .map(|n| format!(" (#{n})"))
                    .unwrap_or_default(),
                a.approval.as_deref().unwrap_or("not recorded"),
                counts(
                    &a.planned
                        .iter()
                        .map(|(k, n)| (k.as_str(), *n))
                        .collect::<BTreeMap<_, _>>()
                ),
                a.succeeded,
                a.failed,
                if a.overrides.is_empty() {
                    "—".to_owned()
                } else {
                    format!(
                        "**{}**{}",
                        counts(&a.overrides),
                        if a.violations.is_empty() {
                            String::new()
                        } else {
                            format!(" (over {})", a.violations.join(", "))
                        }
                    )
                },
                a.outcome
            );
        }
        s.push('\n');
    }
    let _ = writeln!(s, "## Leavers\n");
    if r.leavers.is_empty() {
        let _ = writeln!(s, "None in the period.\n");
    } else {
        let _ = writeln!(
            s,
            "| Person | Reason | Contract ended | Removed | Lag (days) | Run by |\n|---|---|---|---|---|---|"
        );
        for l in &r.leavers {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {}{} | {} |",
                who(&l.subject),
                l.reason.as_deref().unwrap_or("not recorded"),
                or_dash(l.end_date),
                l.removed_at,
                or_dash(l.lag_days),
                if l.over_policy == Some(true) {
                    " **over policy**"
                } else {
                    ""
                },
                cell(&l.actor)
            );
        }
        s.push('\n');
    }
    let _ = writeln!(s, "## Joiners\n");
    if r.joiners.is_empty() {
        let _ = writeln!(s, "None in the period.\n");
    } else {
        let _ = writeln!(
            s,
            "| Person | Action | Starts | Invited | Lag (days) | Run by |\n|---|---|---|---|---|---|"
        );
        for j in &r.joiners {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} |",
                who(&j.subject),
                j.kind.as_str(),
                or_dash(j.start_date),
                j.invited_at,
                or_dash(j.lag_days),
                cell(&j.actor)
            );
        }
        s.push('\n');
    }
    let _ = writeln!(s, "## Exceptions\n");
    if r.exceptions.is_empty() {
        let _ = writeln!(s, "None in the period.\n");
    } else {
        let _ = writeln!(
            s,
            "| Day | Exception | Why | Count | Subjects | Accepted by |\n|---|---|---|---|---|---|"
        );
        for x in &r.exceptions {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} |",
                x.at,
                x.exception,
                cell(&x.code),
                x.count,
                cell(
                    &x.subjects
                        .iter()
                        .map(|id| who(id))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                cell(&x.accepted_by)
            );
        }
        s.push('\n');
    }
    s.push_str(
        "What this shows is what orgsync recorded (git notes `refs/notes/orgsync`) and what git \
         holds; changes made by hand in the app, or applies run with `--no-record`, are not in \
         it.\n",
    );
    s
}

/// One person's lifecycle as Markdown.
pub fn lifecycle_markdown(l: &Lifecycle, name: Option<&str>) -> String {
    let mut s = format!(
        "# orgsync audit: person {}{}\n\n",
        cell(&l.subject),
        name.map(|n| format!(" ({})", cell(n))).unwrap_or_default()
    );
    if l.events.is_empty() {
        s.push_str("No apply record names this person.\n");
        return s;
    }
    s.push_str("| Day | Action | Result | Reason | Since | Run by | Config | Approval |\n|---|---|---|---|---|---|---|---|\n");
    for e in &l.events {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {}{} | {} |",
            e.at,
            e.kind.as_str(),
            if e.ok {
                "applied".to_owned()
            } else {
                format!("failed ({})", e.error.as_deref().unwrap_or("error"))
            },
            e.reason.as_deref().unwrap_or("—"),
            or_dash(e.since),
            cell(&e.actor),
            short(&e.config_commit),
            e.pull_request
                .map(|n| format!(" (#{n})"))
                .unwrap_or_default(),
            e.approval.as_deref().unwrap_or("—")
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_requests_are_read_from_merge_and_squash_subjects() {
        assert_eq!(
            pull_request("Merge pull request #12 from acme/mapping\n\nMove F-BAR"),
            Some(12)
        );
        assert_eq!(pull_request("Map F-BAR to Kitchen (#7)"), Some(7));
        assert_eq!(pull_request("Map F-BAR to Kitchen"), None);
        assert_eq!(pull_request("Merge branch 'x'"), None);
    }

    #[test]
    fn approvers_come_from_reviewed_by_and_approved_by_trailers() {
        let message = "Merge pull request #3 from a/b\n\nReviewed-by: Rita Reviewer <rita@example.com>\nApproved-by: Sam\nSigned-off-by: Nobody\n";
        assert_eq!(trailer_approvers(message), ["Rita Reviewer", "Sam"]);
        assert!(trailer_approvers("no trailers").is_empty());
    }

    fn commit(id: &str, date: &str) -> CommitInfo {
        CommitInfo {
            id: id.to_owned(),
            author: "Mia".to_owned(),
            date: date.to_owned(),
            subject: String::new(),
        }
    }

    /// A version 2 record (before the audit fields) and a version 3 one of an interrupted apply.
    fn entries() -> Vec<Entry> {
        let v2 = r#"{"record_version":2,"time":"2025-03-03T02:00:00Z","actor":"bot","config_dir":"","config_commit":"aaaaaaa1","plan_digest":"sha256:1","at":"2025-03-03","orgsync_version":"0.1.0","summary":{"remove":1},"succeeded":1,"failed":0,"outcomes":[{"kind":"remove","subject":"7","ok":true}]}"#;
        let v3 = r#"{"record_version":3,"time":"2025-03-10T02:00:00Z","actor":"olga","config_dir":"","config_commit":"bbbbbbb2","plan_digest":"sha256:2","at":"2025-03-10","orgsync_version":"0.1.0","summary":{"remove":2,"invite":1},"succeeded":2,"failed":1,"outcomes":[{"kind":"remove","subject":"8","ok":true,"reason":"contract_ended","since":"2025-03-01"},{"kind":"invite","subject":"9","ok":true,"reason":"joined","since":"2025-03-12"},{"kind":"remove","subject":"10","ok":false,"error":"status","status":500}],"interrupted":true,"not_attempted":{"remove":1},"approval":"auto_approve","overrides":{"force":1},"violations":["max_removals"],"held":{"missing_email":1},"held_subjects":{"missing_email":["11"]}}"#;
        [(v2, 0), (v3, 1)]
            .into_iter()
            .map(|(line, position)| {
                let record = ApplyRecord::parse_note(line).remove(0);
                Entry {
                    commit: commit(&record.config_commit, "2025-03-01T10:00:00+00:00"),
                    record,
                    position: Some(position),
                    killed: false,
                }
            })
            .collect()
    }

    #[test]
    fn older_records_are_read_and_the_report_says_what_they_lack() {
        let o = Options {
            from: "2025-03-01".parse().unwrap(),
            to: "2025-03-31".parse().unwrap(),
            max_removal_lag_days: Some(5),
        };
        let r = report("", &entries(), &[], &o);
        assert_eq!(r.applies.len(), 2);
        assert_eq!(r.older_records.len(), 1);
        assert_eq!(r.older_records[0].record_version, 2);
        assert_eq!(r.older_records[0].applies, 1);
        assert!(r.older_records[0].missing.contains(&"since"));
        assert_eq!(r.applies[0].approval, None, "not recorded in version 2");
        // The version 2 removal: no end date, no lag, not judged.
        let old = r.leavers.iter().find(|l| l.subject == "7").unwrap();
        assert_eq!(
            (old.end_date, old.lag_days, old.over_policy),
            (None, None, None)
        );
        // The version 3 removal: 9 days after the contract's end, over the policy of 5.
        let new = r.leavers.iter().find(|l| l.subject == "8").unwrap();
        assert_eq!((new.lag_days, new.over_policy), (Some(9), Some(true)));
        assert_eq!(r.summary.leavers_without_end_date, 1);
        assert_eq!(r.summary.leavers_over_policy, 1);
        // Invited two days before the start.
        assert_eq!(r.joiners[0].lag_days, Some(-2));
        assert_eq!(r.applies[1].outcome, "interrupted");
        assert_eq!(r.summary.applies_with_overrides, 1);
        let kinds: Vec<(&str, &str)> = r
            .exceptions
            .iter()
            .map(|x| (x.exception, x.code.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [("held", "missing_email"), ("failed", "remove status")]
        );
        assert!(r.exceptions.iter().all(|x| x.accepted_by == "olga"));
        let md = markdown(&r, &BTreeMap::new());
        assert!(md.contains("record version 2"), "{md}");
        assert!(md.contains("**over policy**"), "{md}");
    }

    #[test]
    fn a_change_takes_effect_with_the_first_apply_at_or_after_its_commit() {
        let change = |id: &str, position, message: &str| Change {
            commit: commit(id, "2025-03-02T10:00:00+00:00"),
            message: message.to_owned(),
            merge: true,
            proposer: Some("Alice".to_owned()),
            files: vec!["functions.yaml".to_owned()],
            position,
            forge_approvers: None,
        };
        let changes = [
            change(
                "c1",
                1,
                "Merge pull request #4 from a/b\n\nReviewed-by: Rita",
            ),
            change("c2", 5, "direct"),
        ];
        let o = Options {
            from: "2025-03-01".parse().unwrap(),
            to: "2025-03-31".parse().unwrap(),
            max_removal_lag_days: None,
        };
        let r = report("", &entries(), &changes, &o);
        let c1 = &r.configuration_changes[0];
        assert_eq!(c1.pull_request, Some(4));
        assert_eq!(c1.approvers, ["Rita"]);
        assert_eq!(c1.first_applied_at, Some("2025-03-10".parse().unwrap()));
        assert_eq!(
            r.configuration_changes[1].first_applied, None,
            "not applied yet"
        );
        assert_eq!(r.summary.changes_without_approval, 1);
        assert_eq!(r.applies[1].pull_request, Some(4));
        let person = lifecycle("8", &entries(), &changes);
        assert_eq!(person.events.len(), 1);
        assert_eq!(person.events[0].since, Some("2025-03-01".parse().unwrap()));
    }
}
