//! Executing a plan against a target: the checks that guard an apply (errors, safety, staleness)
//! and the loop over its actions.
//!
//! The plan is applied only to the state it was made from: under the target's lock, the target
//! is read again and its digest compared with the plan's (Terraform's stale-plan rule). Actions
//! run in plan order, which is apply order. A failed action does not stop the others, except the
//! actions that need what it would have created: an invite into a community whose creation failed
//! fails too, without being attempted.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::connector::{ActionProgress, ApplyContext, ConnectorError, Finished, Interrupt, Target};
use crate::plan::safety::LimitKind;
use crate::vocabulary::{Action, ActionKind, Plan, Violation};

/// How to apply.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// "Today" in the configured time zone: recorded as `removed_at`.
    pub today: Date,
    /// Apply an unsafe plan anyway (`--force`).
    pub force: bool,
    /// Set by a signal handler to stop the apply between actions (see [`Interrupt`]).
    pub interrupt: Interrupt,
    /// One-off allowances for this plan: accept up to N changes of a kind over its safety limit
    /// (`--allow-removals N`, `--allow-moves N`, …).
    pub allow: BTreeMap<LimitKind, u64>,
}

/// What happened to one action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// The action's kind.
    pub kind: ActionKind,
    /// The action's subject (source identifier).
    pub subject: String,
    /// Whether it was applied.
    pub ok: bool,
    /// Why not, when it failed: a sentence for people (it may quote the system's answer, so it
    /// is shown, never recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What kind of failure ([`ConnectorError::class`]): what records keep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// The HTTP status of the failure, when the system answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// A create that may have happened: neither done nor failed (see
    /// [`ConnectorError::Unconfirmed`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unconfirmed: bool,
    /// The account the target says it created or took over for the subject
    /// ([`ApplyContext::record_account`]): the ownership record of targets without a marker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
}

/// The result of an apply that ran: one outcome per action attempted, in plan order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ApplyReport {
    /// Outcomes of the actions attempted, in plan order.
    pub outcomes: Vec<Outcome>,
    /// How many actions failed.
    pub failed: usize,
    /// How many creates are unconfirmed: they may have happened (no answer, not found within
    /// the lookup window); the next plan finds them or plans them again.
    #[serde(default)]
    pub unconfirmed: usize,
    /// Managed accounts in the target after the apply: those it held before, plus the invites
    /// and adoptions that succeeded (removed and anonymized accounts stay, and stay managed).
    /// Recorded, so that a later listing with far fewer is caught (`safety::listed_target`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_accounts: Option<usize>,
    /// The apply was interrupted: the actions after the outcomes were not attempted.
    pub interrupted: bool,
    /// The actions not attempted because of the interrupt, by kind.
    pub not_attempted: BTreeMap<ActionKind, usize>,
    /// The apply stopped at the first write the target refused with 403 (the credential may not
    /// write: every further write would be refused too): why, with a hint. The actions after it
    /// were not attempted (`not_attempted`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

impl ApplyReport {
    /// True when every action was applied.
    pub fn is_success(&self) -> bool {
        self.failed == 0 && self.unconfirmed == 0 && !self.interrupted && self.stopped.is_none()
    }

    /// How many actions were applied.
    pub fn succeeded(&self) -> usize {
        self.outcomes.iter().filter(|o| o.ok).count()
    }

    /// How many actions were not attempted.
    pub fn not_attempted_count(&self) -> usize {
        self.not_attempted.values().sum()
    }
}

/// Why an apply did not run (or could not be completed).
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The plan has error diagnostics.
    #[error("the plan has {count} error(s) and cannot be applied: fix them and plan again")]
    HasErrors {
        /// Number of error diagnostics.
        count: usize,
    },
    /// The plan breaks a safety limit and no override covers it.
    #[error("the plan is unsafe: {}; {hint}", describe(.violations))]
    Unsafe {
        /// The limits broken.
        violations: Vec<Violation>,
        /// Which override would apply it.
        hint: String,
    },
    /// The target changed since the plan was made.
    #[error("the target changed since this plan was made: plan again")]
    Stale {
        /// Target digest recorded in the plan.
        planned: String,
        /// Target digest now.
        actual: String,
    },
    /// The apply was interrupted before it started: nothing was done.
    #[error("Interrupt received before anything was applied: nothing was changed")]
    InterruptedBeforeStart,
    /// The target could not be locked, read or written.
    #[error(transparent)]
    Connector(#[from] ConnectorError),
}

fn describe(violations: &[Violation]) -> String {
    let v: Vec<&str> = violations.iter().map(|v| v.message.as_str()).collect();
    if v.is_empty() {
        "it is marked unsafe".to_owned()
    } else {
        v.join("; ")
    }
}

/// Applies `plan` to `target`. Refuses a plan with errors, an unsafe plan without an override
/// that covers it, and a stale plan; otherwise runs every action and reports each outcome. A
/// failed action makes the report fail, not the call: `Err` means the apply did not run or its
/// result could not be saved.
///
/// Once `opts.interrupt` is set, no new action starts: the actions in flight finish, the target
/// writes what was done (its memberships included) in `finish_apply`, and the report lists the
/// outcomes so far, `interrupted`, and what was not attempted. The next plan holds exactly that.
pub fn apply(
    target: &mut dyn Target,
    plan: &Plan,
    opts: &ApplyOptions,
) -> Result<ApplyReport, ApplyError> {
    apply_reporting(target, plan, opts, &ActionProgress::default())
}

/// [`apply`], telling `progress` about each action as it finishes (the outcomes in the report
/// are in plan order; these come in the order the actions finish).
pub fn apply_reporting(
    target: &mut dyn Target,
    plan: &Plan,
    opts: &ApplyOptions,
    progress: &ActionProgress,
) -> Result<ApplyReport, ApplyError> {
    let errors = plan.error_count();
    if errors > 0 {
        return Err(ApplyError::HasErrors { count: errors });
    }
    check_safety(plan, opts)?;
    if opts.interrupt.is_set() {
        return Err(ApplyError::InterruptedBeforeStart);
    }

    let snapshot = target.begin_apply()?;
    let actual = crate::digest::of_json(&snapshot);
    let managed_before = snapshot.accounts.iter().filter(|a| a.managed).count();
    drop(snapshot);
    if actual != plan.digests.target {
        // Nothing was executed: finishing only releases the lock. Staleness is the error to
        // report even if releasing fails.
        let _ = target.finish_apply();
        return Err(ApplyError::Stale {
            planned: plan.digests.target.clone(),
            actual,
        });
    }

    let mut ctx = ApplyContext {
        today: opts.today,
        interrupt: opts.interrupt.clone(),
        created: HashMap::new(),
        accounts: HashMap::new(),
        progress: progress.clone(),
    };
    let mut report = ApplyReport::default();
    // Managed accounts this apply adds: invites and adoptions that went through.
    let mut gained = 0;
    // One batch per run of actions of the same phase: a target may execute a batch
    // concurrently, since what an action depends on (a `new:` group) was created in an earlier
    // phase, whose outcome is known before the batch starts. Placeholders are replaced by the
    // created groups' ids here, once, so that no connector ever sees one.
    for batch in plan
        .actions
        .chunk_by(|a, b| a.kind().phase() == b.kind().phase())
    {
        if opts.interrupt.is_set() || report.stopped.is_some() {
            report.interrupted |= report.stopped.is_none();
            for action in batch {
                *report.not_attempted.entry(action.kind()).or_default() += 1;
            }
            continue;
        }
        let resolved: Vec<Result<Cow<'_, Action>, String>> = batch
            .iter()
            .map(|action| action.resolve_placeholders(&ctx.created))
            .collect();
        let runnable: Vec<&Action> = resolved
            .iter()
            .filter_map(|r| r.as_ref().ok().map(|a| a.as_ref()))
            .collect();
        progress.start_batch(&runnable);
        let executed = target.execute_batch(&runnable, &mut ctx);
        // A 403 on a write: the credential may not write. Stop there (the target started no
        // further action of the batch; no later batch starts).
        if report.stopped.is_none()
            && executed
                .iter()
                .any(|r| matches!(r, Err(ConnectorError::Forbidden(_))))
        {
            report.stopped = Some(
                "the target refused a write with 403: the credential is not allowed to make changes (a read-only token, or one without the scope to write; Revolut Business: the WRITE scope); every further write would be refused too, so the remaining actions were not attempted"
                    .to_owned(),
            );
        }
        let mut executed = executed.into_iter();
        // The place in `runnable` of the next action handed to the target.
        let mut handed = 0;
        for (action, r) in batch.iter().zip(resolved.iter()) {
            let in_batch = r.is_ok().then_some(handed);
            handed += usize::from(r.is_ok());
            // (message, class, status) of a failure.
            let result: Result<(), (String, &'static str, Option<u16>)> = match r {
                Err(e) => Err((e.clone(), "not_attempted", None)),
                Ok(_) => match executed.next() {
                    Some(Err(ConnectorError::Interrupted)) => {
                        report.interrupted |= report.stopped.is_none() || opts.interrupt.is_set();
                        *report.not_attempted.entry(action.kind()).or_default() += 1;
                        continue;
                    }
                    Some(r) => r.map_err(|e| (e.to_string(), e.class(), e.status())),
                    None => Err((
                        "internal error: the target returned no result".to_owned(),
                        "internal",
                        None,
                    )),
                },
            };
            let unconfirmed = matches!(&result, Err((_, "unconfirmed", _)));
            if unconfirmed {
                report.unconfirmed += 1;
            } else {
                report.failed += usize::from(result.is_err());
            }
            let target_id = match &result {
                Ok(()) => ctx.accounts.get(&action.subject).cloned(),
                Err(_) => None,
            };
            if result.is_ok() && (action.kind() == ActionKind::Invite || action.changes.adopts()) {
                gained += 1;
            }
            let (error, class, status) = match result {
                Ok(()) => (None, None, None),
                Err((message, class, status)) => (Some(message), Some(class.to_owned()), status),
            };
            progress.settle(
                in_batch,
                Finished {
                    kind: action.kind(),
                    subject: &action.subject,
                    error: error.as_deref(),
                    unconfirmed,
                    elapsed: None,
                },
            );
            report.outcomes.push(Outcome {
                kind: action.kind(),
                subject: action.subject.clone(),
                ok: error.is_none(),
                error,
                class,
                status,
                unconfirmed,
                target_id,
            });
        }
    }
    target.finish_apply()?;
    report.managed_accounts = Some(managed_before + gained);
    Ok(report)
}

/// Refuses an unsafe plan unless `--force`, or the one-off allowances cover it: every broken
/// limit is one a count override exists for (`--allow-removals N`, `--allow-moves N`, …) and the
/// plan makes at most N changes of that kind.
/// Why [`apply`] refuses `plan` before it touches the target: errors in the plan, or a safety
/// limit no override covers. Checked by the caller before it records that the apply starts: a
/// start recorded for a refused plan would read as a killed apply, whose plan the next one
/// finishes without counting it against the limits.
pub fn refusal(plan: &Plan, opts: &ApplyOptions) -> Result<(), ApplyError> {
    let errors = plan.error_count();
    if errors > 0 {
        return Err(ApplyError::HasErrors { count: errors });
    }
    check_safety(plan, opts)
}

fn check_safety(plan: &Plan, opts: &ApplyOptions) -> Result<(), ApplyError> {
    if plan.safety.safe || opts.force {
        return Ok(());
    }
    let mut kinds = BTreeSet::new();
    let mut other = false;
    for v in &plan.safety.violations {
        match LimitKind::of_rule(&v.rule) {
            Some(kind) => {
                kinds.insert(kind);
            }
            None => other = true,
        }
    }
    let needed: Vec<(LimitKind, u64)> = kinds
        .into_iter()
        .map(|k| (k, k.count(&plan.actions) as u64))
        .collect();
    let short: Vec<&(LimitKind, u64)> = needed
        .iter()
        .filter(|(k, n)| opts.allow.get(k).is_none_or(|allowed| allowed < n))
        .collect();
    if short.is_empty() && !other {
        return Ok(());
    }
    let hint = if other || short.is_empty() {
        "only --force applies it".to_owned()
    } else {
        let flags: Vec<String> = short
            .iter()
            .map(|(k, n)| format!("{} {n}", k.flag()))
            .collect();
        let too_small: Vec<String> = short
            .iter()
            .filter_map(|(k, n)| {
                opts.allow.get(k).map(|allowed| {
                    format!("{} {allowed} does not cover its {n} {}", k.flag(), k.noun())
                })
            })
            .collect();
        if too_small.is_empty() {
            let what: Vec<String> = short
                .iter()
                .map(|(k, n)| format!("{n} {}", k.noun()))
                .collect();
            format!(
                "review the {} and pass {}, or --force",
                what.join(" and "),
                flags.join(" ")
            )
        } else {
            format!(
                "{}: pass {} after reviewing them",
                too_small.join("; "),
                flags.join(" ")
            )
        }
    };
    Err(ApplyError::Unsafe {
        violations: plan.safety.violations.clone(),
        hint,
    })
}

#[cfg(test)]
mod tests {
    use crate::vocabulary::Severity;

    use jiff::civil::date;
    use serde_json::json;

    use super::*;
    use crate::model::TargetSnapshot;
    use crate::vocabulary::{Changes, Diagnostic, DiagnosticKind, Digests, GroupRef, Safety};

    /// A target that records what it is asked to do and fails the subjects it is told to.
    #[derive(Default)]
    struct FakeTarget {
        state: TargetSnapshot,
        fail: Vec<String>,
        /// Answer 403 for these subjects.
        forbid: Vec<String>,
        /// Raise the interrupt (as a signal would) while executing this subject.
        interrupt_at: Option<String>,
        executed: Vec<String>,
        begun: usize,
        finished: usize,
    }

    impl Target for FakeTarget {
        fn capabilities(&self) -> crate::connector::TargetCapabilities {
            crate::connector::TargetCapabilities::default()
        }
        fn fetch(&mut self) -> Result<TargetSnapshot, ConnectorError> {
            Ok(self.state.clone())
        }
        fn begin_apply(&mut self) -> Result<TargetSnapshot, ConnectorError> {
            self.begun += 1;
            Ok(self.state.clone())
        }
        fn execute(
            &mut self,
            action: &Action,
            ctx: &mut ApplyContext,
        ) -> Result<(), ConnectorError> {
            self.executed.push(action.subject.clone());
            if self.interrupt_at.as_deref() == Some(action.subject.as_str()) {
                ctx.interrupt.set();
            }
            // The runner resolves placeholders: a target never sees one.
            let text = serde_json::to_string(&action.changes.to_wire()).unwrap();
            assert!(
                !text.contains("\"id\":\"new:"),
                "a placeholder reached the target: {text}"
            );
            if self.forbid.contains(&action.subject) {
                return Err(ConnectorError::Forbidden(
                    "403: This action is forbidden".to_owned(),
                ));
            }
            if self.fail.contains(&action.subject) {
                return Err(ConnectorError::Action(format!(
                    "{} refused",
                    action.subject
                )));
            }
            if matches!(
                action.kind(),
                ActionKind::CreateCommunity | ActionKind::CreateFunctionGroup
            ) {
                ctx.record_created(action, format!("c-{}", action.subject));
            }
            Ok(())
        }
        fn finish_apply(&mut self) -> Result<(), ConnectorError> {
            self.finished += 1;
            Ok(())
        }
    }

    fn action(kind: ActionKind, subject: &str, communities: &[&str]) -> Action {
        let mut changes = Changes::bare(kind);
        if !communities.is_empty() {
            let refs: Vec<GroupRef> = communities
                .iter()
                .map(|id| GroupRef {
                    id: (*id).to_owned(),
                    name: format!("group {id}"),
                    foreign: false,
                })
                .collect();
            match &mut changes {
                Changes::Invite(i) => i.communities = Some(refs),
                Changes::Move(m) => m.communities.to = refs,
                other => panic!("no communities in a {:?}", other.kind()),
            }
        }
        Action {
            subject: subject.to_owned(),
            target_id: None,
            name: subject.to_owned(),
            changes,
            reason: String::new(),
            cause: Default::default(),
        }
    }

    fn plan(actions: Vec<Action>) -> Plan {
        Plan {
            format_version: crate::vocabulary::FORMAT_VERSION,
            created_at: "2025-06-02T08:00:00Z".to_owned(),
            orgsync_version: "test".to_owned(),
            at: date(2025, 6, 2),
            summary: Plan::count_actions(&actions),
            held: Default::default(),
            actions,
            manual_steps: Vec::new(),
            diagnostics: vec![],
            safety: Safety {
                safe: true,
                violations: vec![],
            },
            digests: Digests {
                target: crate::digest::of_json(&TargetSnapshot::default()),
                previous_config_commit: None,
                ..Digests::default()
            },
        }
    }

    fn unsafe_plan(removes: usize, rules: &[&str]) -> Plan {
        let actions = (0..removes)
            .map(|i| action(ActionKind::Remove, &format!("p{i}"), &[]))
            .collect();
        let mut p = plan(actions);
        p.safety = Safety {
            safe: false,
            violations: rules
                .iter()
                .map(|r| Violation {
                    rule: (*r).to_owned(),
                    message: format!("{r} broken"),
                    limit: 1,
                    actual: removes as u64,
                })
                .collect(),
        };
        p
    }

    fn opts() -> ApplyOptions {
        ApplyOptions {
            today: date(2025, 6, 2),
            force: false,
            interrupt: Interrupt::new(),
            allow: BTreeMap::new(),
        }
    }

    #[test]
    fn applies_every_action_in_order_and_reports_each() {
        let mut t = FakeTarget::default();
        let p = plan(vec![
            action(ActionKind::CreateCommunity, "1001", &[]),
            action(ActionKind::Invite, "p1", &["new:community:1001"]),
            action(ActionKind::Remove, "p2", &[]),
        ]);
        let report = apply(&mut t, &p, &opts()).unwrap();
        assert_eq!(t.executed, ["1001", "p1", "p2"]);
        assert_eq!((t.begun, t.finished), (1, 1));
        assert_eq!(report.failed, 0);
        assert!(report.is_success());
        assert_eq!(
            report.outcomes[1],
            Outcome {
                kind: ActionKind::Invite,
                subject: "p1".to_owned(),
                ok: true,
                error: None,
                class: None,
                status: None,
                unconfirmed: false,
                target_id: None
            }
        );
        assert_eq!(
            serde_json::to_value(&report.outcomes[0]).unwrap(),
            json!({"kind": "create_community", "subject": "1001", "ok": true})
        );
    }

    /// Issue 20 (CI logs): every action is reported once as it finishes — done or failed, with
    /// its time when the target ran it — and the actions the runner failed without running them
    /// (their group's create failed) are reported too.
    #[test]
    fn each_action_is_reported_once_as_it_finishes() {
        let mut t = FakeTarget {
            fail: vec!["1001".to_owned()],
            ..FakeTarget::default()
        };
        let p = plan(vec![
            action(ActionKind::CreateCommunity, "1001", &[]),
            action(ActionKind::CreateCommunity, "1002", &[]),
            action(ActionKind::Invite, "p1", &["new:community:1001"]),
            action(ActionKind::Invite, "p2", &["new:community:1002"]),
        ]);
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = std::sync::Arc::clone(&seen);
        let progress = ActionProgress::new(move |f| {
            sink.lock().unwrap().push((
                f.kind,
                f.subject.to_owned(),
                f.error.map(str::to_owned),
                f.elapsed.is_some(),
            ));
        });
        let report = apply_reporting(&mut t, &p, &opts(), &progress).unwrap();
        assert_eq!(report.failed, 2);
        let seen = seen.lock().unwrap().clone();
        let refused = Some("1001 refused".to_owned());
        assert_eq!(
            seen,
            [
                (
                    ActionKind::CreateCommunity,
                    "1001".to_owned(),
                    refused,
                    true
                ),
                (ActionKind::CreateCommunity, "1002".to_owned(), None, true),
                (ActionKind::Invite, "p2".to_owned(), None, true),
                (
                    ActionKind::Invite,
                    "p1".to_owned(),
                    report.outcomes[2].error.clone(),
                    false
                ),
            ]
        );
    }

    #[test]
    fn a_failed_create_fails_what_needs_it_and_nothing_else() {
        let mut t = FakeTarget {
            fail: vec!["1001".to_owned()],
            ..FakeTarget::default()
        };
        let p = plan(vec![
            action(ActionKind::CreateCommunity, "1001", &[]),
            action(ActionKind::CreateCommunity, "1002", &[]),
            action(ActionKind::Invite, "p1", &["c-7", "new:community:1001"]),
            action(ActionKind::Invite, "p2", &["new:community:1002"]),
            action(ActionKind::Move, "p3", &["new:community:1001"]),
            action(ActionKind::Remove, "p4", &[]),
        ]);
        let report = apply(&mut t, &p, &opts()).unwrap();
        // The dependents were not attempted; the others were.
        assert_eq!(t.executed, ["1001", "1002", "p2", "p4"]);
        assert_eq!(report.failed, 3);
        let failed: Vec<&str> = report
            .outcomes
            .iter()
            .filter(|o| !o.ok)
            .map(|o| o.subject.as_str())
            .collect();
        assert_eq!(failed, ["1001", "p1", "p3"]);
        assert_eq!(report.outcomes[0].error.as_deref(), Some("1001 refused"));
        assert_eq!(
            report.outcomes[2].error.as_deref(),
            Some(
                "not attempted: it needs the group \"group new:community:1001\" (new:community:1001), whose creation failed"
            )
        );
        assert_eq!(t.finished, 1);
    }

    #[test]
    fn a_stale_plan_is_refused_and_the_lock_released() {
        let mut t = FakeTarget::default();
        t.state.communities.push(crate::model::TargetGroup {
            id: "c-1".to_owned(),
            name: "Added by hand".to_owned(),
            ..Default::default()
        });
        let p = plan(vec![action(ActionKind::Invite, "p1", &[])]);
        let err = apply(&mut t, &p, &opts()).unwrap_err();
        assert!(matches!(err, ApplyError::Stale { .. }));
        assert_eq!(
            err.to_string(),
            "the target changed since this plan was made: plan again"
        );
        assert!(t.executed.is_empty());
        assert_eq!((t.begun, t.finished), (1, 1));
    }

    #[test]
    fn a_plan_with_errors_is_refused_even_with_force() {
        let mut t = FakeTarget::default();
        let mut p = plan(vec![]);
        p.diagnostics.push(Diagnostic {
            kind: DiagnosticKind::Safety,
            severity: Severity::Error,
            message: "the source returned no people".to_owned(),
            subject: None,
            count: 3,
            hint: None,
            location: None,
            concerns: Default::default(),
        });
        let force = ApplyOptions {
            force: true,
            ..opts()
        };
        let err = apply(&mut t, &p, &force).unwrap_err();
        assert!(matches!(err, ApplyError::HasErrors { count: 1 }));
        assert_eq!(t.begun, 0);
    }

    #[test]
    fn an_unsafe_plan_needs_an_override() {
        let p = unsafe_plan(3, &["max_removals", "max_removals_percent"]);
        let mut t = FakeTarget::default();
        let err = apply(&mut t, &p, &opts()).unwrap_err();
        assert!(matches!(err, ApplyError::Unsafe { .. }));
        assert_eq!(
            err.to_string(),
            "the plan is unsafe: max_removals broken; max_removals_percent broken; review the 3 \
             removals and pass --allow-removals 3, or --force"
        );
        assert_eq!(t.begun, 0);

        let too_few = ApplyOptions {
            allow: BTreeMap::from([(LimitKind::Removals, 2)]),
            ..opts()
        };
        let err = apply(&mut t, &p, &too_few).unwrap_err();
        assert!(
            err.to_string()
                .contains("--allow-removals 2 does not cover its 3 removals")
        );
        assert_eq!(t.begun, 0);

        let enough = ApplyOptions {
            allow: BTreeMap::from([(LimitKind::Removals, 3)]),
            ..opts()
        };
        assert_eq!(apply(&mut t, &p, &enough).unwrap().outcomes.len(), 3);

        let force = ApplyOptions {
            force: true,
            ..opts()
        };
        assert_eq!(apply(&mut t, &p, &force).unwrap().outcomes.len(), 3);
    }

    #[test]
    fn allow_removals_does_not_cover_other_violations() {
        let p = unsafe_plan(1, &["max_removals", "community_removal"]);
        let mut t = FakeTarget::default();
        let opts = ApplyOptions {
            allow: BTreeMap::from([(LimitKind::Removals, 100)]),
            ..opts()
        };
        let err = apply(&mut t, &p, &opts).unwrap_err();
        assert!(
            err.to_string().ends_with("only --force applies it"),
            "{err}"
        );
    }

    /// Regression (issue 11): only removal limits could be overridden, and only removals were
    /// limited. Each kind has its own override, and one kind's does not cover another's.
    #[test]
    fn each_kind_needs_its_own_allowance() {
        let mut actions: Vec<Action> = (0..3)
            .map(|i| action(ActionKind::Move, &format!("m{i}"), &[]))
            .collect();
        actions.extend((0..2).map(|i| action(ActionKind::Invite, &format!("i{i}"), &[])));
        let mut p = plan(actions);
        p.safety = Safety {
            safe: false,
            violations: ["max_moves_percent", "max_invites"]
                .iter()
                .map(|r| Violation {
                    rule: (*r).to_owned(),
                    message: format!("{r} broken"),
                    limit: 1,
                    actual: 3,
                })
                .collect(),
        };
        let mut t = FakeTarget::default();
        let err = apply(&mut t, &p, &opts()).unwrap_err();
        assert!(
            err.to_string().ends_with(
                "review the 3 moves and 2 invites and pass --allow-moves 3 --allow-invites 2, or --force"
            ),
            "{err}"
        );
        let moves_only = ApplyOptions {
            allow: BTreeMap::from([(LimitKind::Moves, 3), (LimitKind::Removals, 10)]),
            ..opts()
        };
        let err = apply(&mut t, &p, &moves_only).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("review the 2 invites and pass --allow-invites 2, or --force"),
            "{err}"
        );
        assert_eq!(t.begun, 0);
        let both = ApplyOptions {
            allow: BTreeMap::from([(LimitKind::Moves, 3), (LimitKind::Invites, 2)]),
            ..opts()
        };
        assert!(apply(&mut t, &p, &both).unwrap().is_success());
    }

    /// Regression (issue 11 §5): SIGINT killed apply at once, with no record of what was done.
    /// Now no action starts after the interrupt, the one in flight finishes, the target still
    /// writes (finish_apply), and the report says what was not attempted.
    #[test]
    fn an_interrupt_stops_starting_actions_and_still_finishes_the_apply() {
        let mut t = FakeTarget {
            interrupt_at: Some("p2".to_owned()),
            ..FakeTarget::default()
        };
        let p = plan(vec![
            action(ActionKind::CreateCommunity, "1001", &[]),
            action(ActionKind::Invite, "p1", &["new:community:1001"]),
            action(ActionKind::Invite, "p2", &[]),
            action(ActionKind::Invite, "p3", &[]),
            action(ActionKind::Remove, "p4", &[]),
            action(ActionKind::Anonymize, "p5", &[]),
        ]);
        let report = apply(&mut t, &p, &opts()).unwrap();
        assert_eq!(t.executed, ["1001", "p1", "p2"]);
        assert_eq!(t.finished, 1, "what was done is written");
        assert!(report.interrupted);
        assert!(!report.is_success());
        assert_eq!(report.failed, 0);
        let done: Vec<&str> = report.outcomes.iter().map(|o| o.subject.as_str()).collect();
        assert_eq!(done, ["1001", "p1", "p2"]);
        assert_eq!(
            report.not_attempted,
            BTreeMap::from([
                (ActionKind::Invite, 1),
                (ActionKind::Remove, 1),
                (ActionKind::Anonymize, 1)
            ])
        );
    }

    /// Issue 21: a read-only token gave 49 identical 403 failures. The first 403 on a write
    /// stops the apply: nothing after it starts, and the rest is recorded as not attempted
    /// (not as an interrupt).
    #[test]
    fn a_403_on_a_write_stops_the_apply() {
        let mut t = FakeTarget {
            forbid: vec!["p1".to_owned(), "p2".to_owned(), "p4".to_owned()],
            ..FakeTarget::default()
        };
        let p = plan(vec![
            action(ActionKind::Invite, "p1", &[]),
            action(ActionKind::Invite, "p2", &[]),
            action(ActionKind::Invite, "p3", &[]),
            action(ActionKind::Remove, "p4", &[]),
        ]);
        let report = apply(&mut t, &p, &opts()).unwrap();
        assert_eq!(t.executed, ["p1"], "nothing after the first 403 starts");
        assert_eq!(t.finished, 1);
        assert_eq!(report.failed, 1);
        assert!(!report.interrupted);
        assert!(report.stopped.as_deref().unwrap().contains("403"));
        assert!(!report.is_success());
        assert_eq!(
            report.not_attempted,
            BTreeMap::from([(ActionKind::Invite, 2), (ActionKind::Remove, 1)])
        );
    }

    #[test]
    fn an_interrupt_before_the_apply_starts_changes_nothing() {
        let mut t = FakeTarget::default();
        let o = opts();
        o.interrupt.set();
        let err = apply(
            &mut t,
            &plan(vec![action(ActionKind::Invite, "p1", &[])]),
            &o,
        )
        .unwrap_err();
        assert!(matches!(err, ApplyError::InterruptedBeforeStart));
        assert_eq!(t.begun, 0);
    }

    #[test]
    fn connector_errors_stop_the_apply() {
        struct Locked;
        impl Target for Locked {
            fn capabilities(&self) -> crate::connector::TargetCapabilities {
                crate::connector::TargetCapabilities::default()
            }
            fn fetch(&mut self) -> Result<TargetSnapshot, ConnectorError> {
                Ok(TargetSnapshot::default())
            }
            fn begin_apply(&mut self) -> Result<TargetSnapshot, ConnectorError> {
                Err(ConnectorError::Locked(
                    "another apply is running".to_owned(),
                ))
            }
            fn execute(&mut self, _: &Action, _: &mut ApplyContext) -> Result<(), ConnectorError> {
                unreachable!()
            }
            fn finish_apply(&mut self) -> Result<(), ConnectorError> {
                unreachable!()
            }
        }
        let err = apply(&mut Locked, &plan(vec![]), &opts()).unwrap_err();
        assert!(matches!(
            err,
            ApplyError::Connector(ConnectorError::Locked(_))
        ));
        assert_eq!(err.to_string(), "another apply is running");
    }
}
