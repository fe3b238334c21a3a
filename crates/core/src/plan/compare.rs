//! Pull-request mode: the plan of the base configuration against the plan of the head
//! configuration, both made from the same fetched data, so that every difference between them is
//! the pull request's doing and everything they share would happen anyway (HR drift since the
//! last apply).
//!
//! Actions are the same when their kind, subject and target id are the same; an action both plans
//! have with different changes is `changed` (the pull request alters what happens to that
//! subject). Diagnostics are the same when their kind and subject are (their message, when they
//! have no subject): counts and line numbers may move without it being another problem.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use crate::vocabulary::{Action, ActionKind, Diagnostic, DiagnosticKind, Plan};

/// One subject's action in both plans, with different changes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Changed<'p> {
    /// The action at the base.
    pub base: &'p Action,
    /// The action at the head: what happens with the pull request.
    pub head: &'p Action,
}

/// The head plan split by cause.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Comparison<'p> {
    /// Actions only the head plan has: the pull request causes them.
    pub introduced: Vec<&'p Action>,
    /// Actions both plans have for one subject, with different changes.
    pub changed: Vec<Changed<'p>>,
    /// Actions only the base plan has: the pull request prevents them.
    pub withdrawn: Vec<&'p Action>,
    /// Actions identical in both plans: they happen with or without the pull request.
    #[serde(skip)]
    pub pending: Vec<&'p Action>,
    /// Diagnostics of the base plan that the head plan no longer has.
    pub diagnostics_fixed: Vec<&'p Diagnostic>,
    /// Diagnostics of the head plan that the base plan did not have.
    pub diagnostics_introduced: Vec<&'p Diagnostic>,
}

type ActionKey<'p> = (ActionKind, &'p str, Option<&'p str>);

fn action_key(a: &Action) -> ActionKey<'_> {
    (a.kind(), a.subject.as_str(), a.target_id.as_deref())
}

fn diagnostic_key(d: &Diagnostic) -> (DiagnosticKind, &str) {
    (d.kind, d.subject.as_deref().unwrap_or(&d.message))
}

/// Splits `head` against `base`. Linear in the number of actions.
pub fn compare<'p>(base: &'p Plan, head: &'p Plan) -> Comparison<'p> {
    let mut by_key: HashMap<ActionKey<'p>, Vec<usize>> = HashMap::with_capacity(base.actions.len());
    for (i, a) in base.actions.iter().enumerate() {
        by_key.entry(action_key(a)).or_default().push(i);
    }
    let mut used = vec![false; base.actions.len()];
    let mut out = Comparison::default();
    let mut unmatched = Vec::new();
    // Identical actions first, so that a subject with several actions of one kind pairs each with
    // its twin before anything is called changed.
    for h in &head.actions {
        let twin = by_key.get(&action_key(h)).and_then(|list| {
            list.iter()
                .copied()
                .find(|&i| !used[i] && base.actions[i].changes == h.changes)
        });
        match twin {
            Some(i) => {
                used[i] = true;
                out.pending.push(h);
            }
            None => unmatched.push(h),
        }
    }
    for h in unmatched {
        let other = by_key
            .get(&action_key(h))
            .and_then(|list| list.iter().copied().find(|&i| !used[i]));
        match other {
            Some(i) => {
                used[i] = true;
                out.changed.push(Changed {
                    base: &base.actions[i],
                    head: h,
                });
            }
            None => out.introduced.push(h),
        }
    }
    out.withdrawn = base
        .actions
        .iter()
        .zip(&used)
        .filter(|(_, used)| !**used)
        .map(|(a, _)| a)
        .collect();

    let base_keys: HashSet<_> = base.diagnostics.iter().map(diagnostic_key).collect();
    let head_keys: HashSet<_> = head.diagnostics.iter().map(diagnostic_key).collect();
    out.diagnostics_fixed = base
        .diagnostics
        .iter()
        .filter(|d| !head_keys.contains(&diagnostic_key(d)))
        .collect();
    out.diagnostics_introduced = head
        .diagnostics
        .iter()
        .filter(|d| !base_keys.contains(&diagnostic_key(d)))
        .collect();
    out
}

impl Comparison<'_> {
    /// True when the pull request changes nothing the plan does or reports.
    pub fn is_empty(&self) -> bool {
        self.introduced.is_empty()
            && self.changed.is_empty()
            && self.withdrawn.is_empty()
            && self.diagnostics_fixed.is_empty()
            && self.diagnostics_introduced.is_empty()
    }

    /// What the pull request makes happen: introduced actions and the head side of changed ones,
    /// in plan (apply) order.
    pub fn effect(&self) -> Vec<&Action> {
        let mut out: Vec<&Action> = self.introduced.clone();
        out.extend(self.changed.iter().map(|c| c.head));
        sort(&mut out);
        out
    }

    /// What the pull request prevents: withdrawn actions and the base side of changed ones.
    pub fn prevented(&self) -> Vec<&Action> {
        let mut out: Vec<&Action> = self.withdrawn.clone();
        out.extend(self.changed.iter().map(|c| c.base));
        sort(&mut out);
        out
    }

    /// Counts per kind (non-zero only) of each part, for JSON and summaries.
    pub fn summary(&self) -> BTreeMap<&'static str, BTreeMap<ActionKind, usize>> {
        BTreeMap::from([
            ("introduced", count(self.introduced.iter().copied())),
            ("changed", count(self.changed.iter().map(|c| c.head))),
            ("withdrawn", count(self.withdrawn.iter().copied())),
            ("pending", count(self.pending.iter().copied())),
        ])
    }
}

/// Plan order: phase, kind, subject, target id (as the engine sorts).
fn sort(actions: &mut [&Action]) {
    actions.sort_by(|a, b| {
        (a.kind().phase(), a.kind(), &a.subject, &a.target_id).cmp(&(
            b.kind().phase(),
            b.kind(),
            &b.subject,
            &b.target_id,
        ))
    });
}

/// Non-zero counts per kind.
pub fn count<'a>(actions: impl Iterator<Item = &'a Action>) -> BTreeMap<ActionKind, usize> {
    let mut out = BTreeMap::new();
    for a in actions {
        *out.entry(a.kind()).or_default() += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::vocabulary::{Changes, GroupRef, Severity};

    fn action(kind: ActionKind, subject: &str, to: &str) -> Action {
        let mut changes = Changes::bare(kind);
        let group = vec![GroupRef {
            id: to.to_owned(),
            name: to.to_owned(),
            foreign: false,
        }];
        match &mut changes {
            Changes::Invite(i) => i.communities = Some(group),
            Changes::Move(m) => m.communities.to = group,
            _ => {}
        }
        Action {
            subject: subject.to_owned(),
            target_id: Some(format!("u-{subject}")),
            name: format!("Person {subject}"),
            changes,
            reason: format!("reason {to}"),
            cause: Default::default(),
        }
    }

    fn diagnostic(kind: DiagnosticKind, subject: Option<&str>, message: &str) -> Diagnostic {
        Diagnostic {
            kind,
            severity: Severity::Warning,
            message: message.to_owned(),
            subject: subject.map(str::to_owned),
            count: 1,
            hint: None,
            location: None,
            concerns: Default::default(),
        }
    }

    fn plan(actions: Vec<Action>, diagnostics: Vec<Diagnostic>) -> Plan {
        Plan {
            format_version: 1,
            created_at: String::new(),
            orgsync_version: String::new(),
            at: jiff::civil::date(2026, 1, 1),
            summary: Plan::count_actions(&actions),
            held: Default::default(),
            actions,
            manual_steps: Vec::new(),
            diagnostics,
            safety: Default::default(),
            digests: Default::default(),
        }
    }

    #[test]
    fn splits_actions_by_cause() {
        let base = plan(
            vec![
                action(ActionKind::Invite, "1", "A"),
                action(ActionKind::Move, "2", "No function"),
                action(ActionKind::Remove, "3", "-"),
            ],
            vec![
                diagnostic(DiagnosticKind::UnmappedFunction, Some("F-1"), "12 people"),
                diagnostic(DiagnosticKind::MissingEmail, None, "1 person has no e-mail"),
            ],
        );
        let head = plan(
            vec![
                action(ActionKind::Invite, "1", "A"),
                action(ActionKind::Move, "2", "Guest Relations"),
                action(ActionKind::Move, "4", "Guest Relations"),
            ],
            vec![
                diagnostic(DiagnosticKind::MissingEmail, None, "1 person has no e-mail"),
                diagnostic(DiagnosticKind::StaleMapping, Some("F-9"), "stale"),
            ],
        );
        let c = compare(&base, &head);
        let subjects = |v: &[&Action]| v.iter().map(|a| a.subject.clone()).collect::<Vec<_>>();
        assert_eq!(subjects(&c.pending), ["1"]);
        assert_eq!(subjects(&c.introduced), ["4"]);
        assert_eq!(subjects(&c.withdrawn), ["3"]);
        assert_eq!(c.changed.len(), 1);
        assert_eq!(
            c.changed[0].base.changes.to_wire()["communities"].to,
            json!([{ "id": "No function", "name": "No function" }])
        );
        assert_eq!(subjects(&c.effect()), ["2", "4"]);
        assert_eq!(subjects(&c.prevented()), ["2", "3"]);
        assert_eq!(c.diagnostics_fixed.len(), 1);
        assert_eq!(c.diagnostics_fixed[0].subject.as_deref(), Some("F-1"));
        assert_eq!(c.diagnostics_introduced.len(), 1);
        assert_eq!(c.diagnostics_introduced[0].subject.as_deref(), Some("F-9"));
        assert_eq!(c.summary()["pending"][&ActionKind::Invite], 1);
        assert!(!c.is_empty());
    }

    #[test]
    fn identical_plans_leave_everything_pending() {
        let p = plan(
            vec![action(ActionKind::Invite, "1", "A")],
            vec![diagnostic(DiagnosticKind::StaleMapping, Some("x"), "m")],
        );
        let c = compare(&p, &p);
        assert!(c.is_empty());
        assert_eq!(c.pending.len(), 1);
    }

    #[test]
    fn a_diagnostic_whose_count_moved_is_the_same_problem() {
        let base = plan(
            vec![],
            vec![diagnostic(
                DiagnosticKind::UnmappedCommunity,
                Some("1006"),
                "2 people",
            )],
        );
        let head = plan(
            vec![],
            vec![diagnostic(
                DiagnosticKind::UnmappedCommunity,
                Some("1006"),
                "3 people",
            )],
        );
        assert!(compare(&base, &head).is_empty());
    }
}
