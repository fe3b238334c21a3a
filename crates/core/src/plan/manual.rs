//! What the target cannot do: the engine's last step before safety. The actions the plan would
//! need are held against the target's [`TargetCapabilities`]; an action (or the part of one) that
//! the target cannot carry out becomes a [`ManualStep`] with a `manual_step` diagnostic. Nothing
//! is dropped silently and a manual step is never an action, so `apply` cannot execute it or
//! report it as done.
//!
//! The rules, one capability at a time:
//! - `create_only`: only invites (and group creation, if groups are supported) are planned;
//!   updates, moves, restores, removals, anonymizations, re-keys and group removals are manual.
//! - `communities` / `function_groups` off: group actions are manual; invites, updates and
//!   restores lose their membership changes (a manual "place in …" step when they had any), and a
//!   move is manual.
//! - `removal`: `Deactivate` is the engine's own model; `Delete` keeps each removal as an action
//!   (still counted against `max_removals`) that says "removes access for good" and records no
//!   `removed_at` (nothing is retained); `None` makes each removal manual.
//! - `restore` off: a restore is manual.
//! - `create_groups` off: group actions are manual; a membership of a group the plan would
//!   create is left out (with a manual step) until the group exists.
//! - `notify` off: a transfer is still a move, but without `notify` (the target sends no
//!   e-mail, so it no longer counts as a notifying move), plus a manual "tell them" step.
//! - fields: a change of a field the target cannot write leaves the update and becomes a manual
//!   step ("change the first name in …"); an update left with nothing is dropped. An invite
//!   leaves out the names the target cannot take (the invitee enters them); a manager it cannot
//!   set is a manual step.

use std::collections::BTreeMap;

use crate::capabilities::{Removal, TargetCapabilities};
use crate::vocabulary::{
    AccountEdit, Action, ActionKind, Changes, Diagnostic, DiagnosticKind, FieldChange, GroupRef,
    Invite, ManualStep, Move, Severity,
};

/// Splits `actions` into what the target can do and the manual steps for the rest. The manual
/// steps come in apply order of the actions they stand in for, each with one diagnostic.
pub fn restrict(
    caps: &TargetCapabilities,
    actions: Vec<Action>,
) -> (Vec<Action>, Vec<ManualStep>, Vec<Diagnostic>) {
    let mut steps = Steps::default();
    let mut kept = Vec::with_capacity(actions.len());
    for action in actions {
        if let Some(action) = restrict_one(caps, action, &mut steps) {
            kept.push(action);
        }
    }
    let steps = steps.finish(caps);
    let diagnostics = steps.iter().map(|s| diagnostic(caps, s)).collect();
    (kept, steps, diagnostics)
}

/// The manual steps being collected, keyed by (kind, capability, what).
#[derive(Default)]
struct Steps(BTreeMap<(u8, ActionKind, &'static str, String), Vec<String>>);

impl Steps {
    fn add(&mut self, kind: ActionKind, capability: &'static str, what: String, subject: &str) {
        self.0
            .entry((kind.phase(), kind, capability, what))
            .or_default()
            .push(subject.to_owned());
    }

    fn finish(self, _caps: &TargetCapabilities) -> Vec<ManualStep> {
        self.0
            .into_iter()
            .map(|((_, kind, capability, what), mut subjects)| {
                subjects.sort_unstable();
                subjects.dedup();
                ManualStep {
                    what,
                    capability: capability.to_owned(),
                    kind,
                    count: subjects.len(),
                    subjects,
                }
            })
            .collect()
    }
}

fn restrict_one(
    caps: &TargetCapabilities,
    mut action: Action,
    steps: &mut Steps,
) -> Option<Action> {
    let system = caps.system.as_str();
    let kind = action.kind();
    let subject = action.subject.clone();
    let mut manual = |capability: &'static str, what: String| {
        steps.add(kind, capability, what, &subject);
        None
    };

    if caps.create_only
        && !matches!(
            kind,
            ActionKind::Invite | ActionKind::CreateCommunity | ActionKind::CreateFunctionGroup
        )
    {
        return manual("create_only", create_only_what(kind, system));
    }
    let community_kind = matches!(
        kind,
        ActionKind::CreateCommunity | ActionKind::UpdateCommunity | ActionKind::RemoveCommunity
    );
    let function_kind = matches!(
        kind,
        ActionKind::CreateFunctionGroup
            | ActionKind::UpdateFunctionGroup
            | ActionKind::RemoveFunctionGroup
    );
    if community_kind && !caps.communities {
        return manual("communities", group_what(kind, system));
    }
    if function_kind && !caps.function_groups {
        return manual("function_groups", group_what(kind, system));
    }
    if (community_kind || function_kind) && !caps.create_groups {
        return manual("create_groups", group_what(kind, system));
    }
    match kind {
        ActionKind::Move if !caps.communities => {
            return manual(
                "communities",
                format!("change the community memberships in {system}"),
            );
        }
        ActionKind::Remove => match caps.removal {
            Removal::Deactivate => {}
            Removal::Delete => {
                if let Changes::Remove(r) = &mut action.changes {
                    r.permanent = true;
                    r.removed_at = None;
                }
                action.reason = format!(
                    "{}: removes access for good ({system} keeps no removed account: no retention, no restore; a rehire is a new invitation)",
                    action.reason
                );
            }
            Removal::None => {
                return manual("removal", format!("remove the account in {system}"));
            }
        },
        ActionKind::Restore if !caps.restore => {
            return manual("restore", format!("reactivate the account in {system}"));
        }
        ActionKind::Anonymize if caps.removal == Removal::None => {
            return manual(
                "removal",
                format!("blank the personal data of the account in {system}"),
            );
        }
        _ => {}
    }

    // Parts of account actions.
    let mut parts = Parts {
        caps,
        kind,
        subject: &subject,
        steps,
    };
    let keep = match &mut action.changes {
        Changes::Invite(i) => {
            parts.invite(i);
            true
        }
        Changes::Update(u) => {
            parts.edit(&mut u.edit);
            !(u.edit.is_empty() && u.removed_at.is_none())
        }
        Changes::Restore(r) => {
            parts.communities(&mut r.communities);
            parts.edit(&mut r.edit);
            true
        }
        Changes::Move(m) => parts.move_(m),
        Changes::Anonymize(a) => {
            // Memberships the target has no groups for are not its to drop.
            if !caps.communities {
                a.communities = None;
            }
            if !caps.function_groups {
                a.function_groups = None;
            }
            true
        }
        Changes::CreateCommunity(_)
        | Changes::CreateFunctionGroup(_)
        | Changes::UpdateCommunity(_)
        | Changes::UpdateFunctionGroup(_)
        | Changes::Remove(_)
        | Changes::RemoveCommunity(_)
        | Changes::RemoveFunctionGroup(_) => true,
    };
    keep.then_some(action)
}

/// Takes out of an account action the parts the target cannot do, as manual steps.
struct Parts<'a> {
    caps: &'a TargetCapabilities,
    kind: ActionKind,
    subject: &'a str,
    steps: &'a mut Steps,
}

impl Parts<'_> {
    fn step(&mut self, capability: &'static str, what: String) {
        self.steps.add(self.kind, capability, what, self.subject);
    }

    fn system(&self) -> &str {
        &self.caps.system
    }

    /// An invite: memberships the target cannot take, a manager it cannot set, names it cannot
    /// write (the invitee enters them). It always carries the address it invites.
    fn invite(&mut self, i: &mut Invite) {
        let system = self.system().to_owned();
        if !self.caps.communities
            && let Some(to) = i.communities.take()
            && !to.is_empty()
        {
            self.step(
                "communities",
                format!("place in their communities in {system}"),
            );
        }
        if !self.caps.function_groups
            && let Some(to) = i.function_groups.take()
            && !to.is_empty()
        {
            self.step(
                "function_groups",
                format!("place in their function groups in {system}"),
            );
        }
        if !self.caps.create_groups {
            for (field, list) in [
                ("communities", &mut i.communities),
                ("function_groups", &mut i.function_groups),
            ] {
                if let Some(to) = list {
                    self.drop_new(to, field);
                    if to.is_empty() {
                        *list = None;
                    }
                }
            }
        }
        if self.caps.one_function_group
            && let Some(to) = &i.function_groups
            && to.len() > 1
        {
            self.step(
                "function_groups",
                format!(
                    "choose one of {} in {system} (one function group each; invited with the default)",
                    names(to)
                ),
            );
            i.function_groups = None;
        }
        if let Some(manager) = &i.manager
            && !self.caps.fields.manager
        {
            if manager.is_some() {
                self.step("manager", format!("set the manager in {system}"));
            }
            i.manager = None;
        }
        if !self.caps.fields.first_name {
            i.first_name = None;
        }
        if !self.caps.fields.last_name {
            i.last_name = None;
        }
    }

    /// An update's or a restore's fields: function groups the target cannot take, and fields it
    /// cannot write, each a manual step.
    fn edit(&mut self, e: &mut AccountEdit) {
        let system = self.system().to_owned();
        if !self.caps.function_groups
            && let Some(c) = e.function_groups.take()
            && !c.to.is_empty()
        {
            self.step(
                "function_groups",
                format!("place in their function groups in {system}"),
            );
        }
        if !self.caps.create_groups
            && let Some(c) = &mut e.function_groups
        {
            self.drop_new(&mut c.to, "function_groups");
            if c.from == c.to {
                e.function_groups = None;
            }
        }
        if self.caps.one_function_group
            && let Some(c) = &mut e.function_groups
        {
            // One group each: the change is the group joined, which replaces the one held
            // (never a set of the new one and the old ones orgsync does not manage).
            let joined: Vec<GroupRef> =
                c.to.iter()
                    .filter(|g| !c.from.iter().any(|f| f.id == g.id))
                    .cloned()
                    .collect();
            if joined.len() == 1 {
                c.to = joined;
            } else {
                let what = if joined.is_empty() {
                    format!("take out of {} in {system}", names(&c.from))
                } else {
                    format!(
                        "choose one of {} in {system} (one function group each)",
                        names(&joined)
                    )
                };
                self.step("function_groups", what);
                e.function_groups = None;
            }
        }
        if !self.caps.change_function_groups
            && let Some(c) = e.function_groups.take()
        {
            self.step(
                "function_groups",
                format!(
                    "change their function group to {} in {system}",
                    names(&c.to)
                ),
            );
        }
        if !self.caps.fields.first_name && e.first_name.take().is_some() {
            self.step("first_name", format!("change the first name in {system}"));
        }
        if !self.caps.fields.last_name && e.last_name.take().is_some() {
            self.step("last_name", format!("change the last name in {system}"));
        }
        if !self.caps.fields.email && e.email.take().is_some() {
            self.step("email", format!("change the e-mail address in {system}"));
        }
    }

    /// A restore's communities.
    fn communities(&mut self, c: &mut Option<FieldChange<Vec<GroupRef>>>) {
        let system = self.system().to_owned();
        if !self.caps.communities
            && let Some(change) = c.take()
            && !change.to.is_empty()
        {
            self.step(
                "communities",
                format!("place in their communities in {system}"),
            );
        }
        if !self.caps.create_groups
            && let Some(change) = c
        {
            self.drop_new(&mut change.to, "communities");
            if change.from == change.to {
                *c = None;
            }
        }
    }

    /// A move: into groups that exist, and without an e-mail the target cannot send. False when
    /// nothing is left of it.
    fn move_(&mut self, m: &mut Move) -> bool {
        let system = self.system().to_owned();
        let mut keep = true;
        if !self.caps.create_groups {
            self.drop_new(&mut m.communities.to, "communities");
            keep = m.communities.from != m.communities.to;
        }
        if !self.caps.notify && m.notify {
            m.notify = false;
            self.step(
                "notify",
                format!("tell them of their transfer ({system} sends no transfer e-mail)"),
            );
        }
        keep
    }

    /// Leaves out of `list` the groups the plan would create (the target cannot create them):
    /// memberships of them wait until they exist, with a manual step. True when any was left out.
    fn drop_new(&mut self, list: &mut Vec<GroupRef>, field: &str) -> bool {
        let before = list.len();
        list.retain(|g| !g.is_new());
        let dropped = list.len() < before;
        if dropped {
            let system = self.system().to_owned();
            self.step(
                "create_groups",
                format!(
                    "place in the {} to be created in {system}",
                    field.replace('_', " ")
                ),
            );
        }
        dropped
    }
}

/// "\"Finance\"" / "\"Finance\", \"Member\"": group names, quoted.
fn names(groups: &[GroupRef]) -> String {
    let names: Vec<String> = groups.iter().map(|g| format!("\"{}\"", g.name)).collect();
    names.join(", ")
}

fn create_only_what(kind: ActionKind, system: &str) -> String {
    match kind {
        ActionKind::Update => format!("update the record in {system}"),
        ActionKind::Move => format!("change the community memberships in {system}"),
        ActionKind::Restore => format!("reactivate the record in {system}"),
        ActionKind::Remove => format!("remove the record in {system}"),
        ActionKind::Anonymize => format!("blank the personal data of the record in {system}"),
        _ => group_what(kind, system),
    }
}

fn group_what(kind: ActionKind, system: &str) -> String {
    match kind {
        ActionKind::CreateCommunity => format!("create the community in {system}"),
        ActionKind::UpdateCommunity => {
            format!("record the new source identifiers on the community in {system}")
        }
        ActionKind::RemoveCommunity => format!("remove the community in {system}"),
        ActionKind::CreateFunctionGroup => format!("create the function group in {system}"),
        ActionKind::UpdateFunctionGroup => {
            format!("record the new source identifiers on the function group in {system}")
        }
        ActionKind::RemoveFunctionGroup => format!("remove the function group in {system}"),
        _ => format!("do it in {system}"),
    }
}

fn diagnostic(caps: &TargetCapabilities, step: &ManualStep) -> Diagnostic {
    let noun = match step.kind {
        ActionKind::CreateCommunity | ActionKind::UpdateCommunity | ActionKind::RemoveCommunity => {
            if step.count == 1 {
                "1 community".to_owned()
            } else {
                format!("{} communities", step.count)
            }
        }
        ActionKind::CreateFunctionGroup
        | ActionKind::UpdateFunctionGroup
        | ActionKind::RemoveFunctionGroup => {
            if step.count == 1 {
                "1 function group".to_owned()
            } else {
                format!("{} function groups", step.count)
            }
        }
        _ => crate::scope::people(step.count),
    };
    Diagnostic {
        kind: DiagnosticKind::ManualStep,
        severity: Severity::Warning,
        message: format!(
            "manual step: {}: {noun} ({}); {} cannot do this through its API, so orgsync does not",
            step.what,
            step.kind.as_str(),
            caps.system
        ),
        subject: None,
        count: step.count,
        hint: Some(hint(step)),
        location: None,
        concerns: Default::default(),
    }
}

fn hint(step: &ManualStep) -> String {
    match step.capability.as_str() {
        "first_name" | "last_name" | "email" | "manager" => format!(
            "do it by hand, or take `{}` out of policy.managed_fields to stop comparing it",
            step.capability
        ),
        "communities" | "function_groups" => format!(
            "do it by hand, or take `{}` out of policy.managed_fields",
            step.capability
        ),
        _ => "do it by hand; the plan lists it until the target shows it done".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::vocabulary::Change;

    fn change(from: Value, to: Value) -> Change {
        Change { from, to }
    }

    fn caps() -> TargetCapabilities {
        TargetCapabilities::everything("Acme")
    }

    /// A `kind` action with `changes` (its JSON form) over what the kind always holds.
    fn action(kind: ActionKind, subject: &str, changes: &[(&str, Value, Value)]) -> Action {
        let mut wire = Changes::bare(kind).to_wire();
        wire.extend(
            changes
                .iter()
                .map(|(f, from, to)| (f.to_string(), change(from.clone(), to.clone()))),
        );
        Action::from_wire(
            kind,
            subject.to_owned(),
            (kind != ActionKind::Invite).then(|| format!("u{subject}")),
            format!("Person {subject}"),
            wire,
            "because".to_owned(),
        )
        .unwrap()
    }

    #[test]
    fn everything_keeps_every_action_as_it_is() {
        let actions = vec![
            action(ActionKind::CreateCommunity, "1001", &[]),
            action(
                ActionKind::Invite,
                "1",
                &[("email", json!(null), json!("a@x"))],
            ),
            action(
                ActionKind::Remove,
                "2",
                &[("status", json!("active"), json!("removed"))],
            ),
        ];
        let (kept, steps, diags) = restrict(&caps(), actions.clone());
        assert_eq!(kept, actions);
        assert!(steps.is_empty());
        assert!(diags.is_empty());
    }

    /// Issue 21: a Revolut member's role change was planned as `[Owner] → [Member, Owner]`. One
    /// function group each: a change is the group joined, never a set; and where the target
    /// cannot change it, a manual step naming it.
    #[test]
    fn one_function_group_is_never_a_set_and_a_change_the_target_cannot_make_is_manual() {
        let g = |id: &str, name: &str| json!({ "id": id, "name": name });
        let mut c = caps();
        c.one_function_group = true;
        let update = action(
            ActionKind::Update,
            "1",
            &[(
                "function_groups",
                json!([g("viewer", "Viewer")]),
                json!([g("member", "Member"), g("viewer", "Viewer")]),
            )],
        );
        let (kept, steps, _) = restrict(&c, vec![update.clone()]);
        assert!(steps.is_empty());
        assert_eq!(
            kept[0].changes.to_wire()["function_groups"].to,
            json!([g("member", "Member")])
        );

        c.change_function_groups = false;
        let two = action(
            ActionKind::Invite,
            "2",
            &[
                ("email", json!(null), json!("b@x")),
                (
                    "function_groups",
                    json!([]),
                    json!([g("fin", "Finance"), g("member", "Member")]),
                ),
            ],
        );
        let (kept, steps, diags) = restrict(&c, vec![update, two]);
        assert_eq!(kept.len(), 1, "the update left empty is dropped: {kept:?}");
        assert_eq!(kept[0].kind(), ActionKind::Invite);
        assert!(!kept[0].changes.to_wire().contains_key("function_groups"));
        let what: Vec<&str> = steps.iter().map(|s| s.what.as_str()).collect();
        assert_eq!(
            what,
            [
                "choose one of \"Finance\", \"Member\" in Acme (one function group each; invited with the default)",
                "change their function group to \"Member\" in Acme",
            ]
        );
        assert_eq!(diags.len(), 2);
    }

    #[test]
    fn a_permanent_delete_says_so_and_records_no_removal_date() {
        let mut c = caps();
        c.removal = Removal::Delete;
        let remove = action(
            ActionKind::Remove,
            "2",
            &[
                ("status", json!("active"), json!("removed")),
                ("removed_at", json!(null), json!("2026-06-15")),
            ],
        );
        let (kept, steps, _) = restrict(&c, vec![remove]);
        assert!(steps.is_empty());
        assert_eq!(kept[0].kind(), ActionKind::Remove);
        assert!(!kept[0].changes.to_wire().contains_key("removed_at"));
        assert_eq!(kept[0].changes.to_wire()["status"].to, json!("deleted"));
        assert!(
            kept[0].reason.contains("removes access for good"),
            "{}",
            kept[0].reason
        );
    }

    #[test]
    fn no_removal_makes_removals_manual_steps_with_a_diagnostic() {
        let mut c = caps();
        c.removal = Removal::None;
        let (kept, steps, diags) = restrict(
            &c,
            vec![
                action(ActionKind::Remove, "3", &[]),
                action(ActionKind::Remove, "2", &[]),
            ],
        );
        assert!(kept.is_empty());
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].kind, ActionKind::Remove);
        assert_eq!(steps[0].capability, "removal");
        assert_eq!(steps[0].subjects, ["2", "3"]);
        assert_eq!(steps[0].count, 2);
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].kind, DiagnosticKind::ManualStep);
        assert_eq!(diags[0].count, 2);
        assert!(diags[0].message.contains("remove the account in Acme"));
    }

    #[test]
    fn without_manager_support_each_invite_with_a_manager_is_a_manual_step() {
        let mut c = caps();
        c.system = "Revolut".to_owned();
        let (kept, steps, _) = restrict(
            &c,
            vec![
                action(
                    ActionKind::Invite,
                    "1",
                    &[("manager", json!(null), json!("9"))],
                ),
                action(
                    ActionKind::Invite,
                    "2",
                    &[("manager", json!(null), json!(null))],
                ),
            ],
        );
        assert_eq!(kept.len(), 2);
        assert!(
            kept.iter()
                .all(|a| !a.changes.to_wire().contains_key("manager"))
        );
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].what, "set the manager in Revolut");
        assert_eq!(steps[0].subjects, ["1"]);
    }
}
