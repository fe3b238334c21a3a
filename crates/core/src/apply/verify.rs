//! A plan file is not trusted: before `apply PLANFILE` runs anything, orgsync plans again from
//! the plan's recorded inputs — the same configuration, the same `at` day, the source and target
//! as they are now — and [`verify`] compares that plan with the file. Only a file that says
//! exactly what orgsync would plan is applied, and what is applied is the re-plan, so protected
//! accounts and the safety limits always come from the configuration, never from the file's own
//! verdict.
//!
//! Why re-plan rather than a checksum over the file: anyone who can edit the file can recompute
//! a checksum (orgsync holds no secret to sign with, and plan files travel through CI artifacts),
//! so a checksum only catches accidents. A re-plan catches every edit that changes what would
//! run, and the digests of configuration, source and target tell "the world moved on" (stale) from "the file
//! was edited" (changed).

use crate::vocabulary::{Action, Plan};

/// Why a plan file is not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanMismatch {
    /// The target no longer matches the plan's target digest.
    #[error("the target changed since this plan was made: plan again")]
    TargetChanged,
    /// The source no longer matches the plan's source digest.
    #[error("the source changed since this plan was made: plan again")]
    SourceChanged,
    /// The configuration is not the one the plan was made from.
    #[error("the configuration changed since this plan was made: plan again")]
    ConfigChanged,
    /// Another orgsync version made the plan; this one may plan differently.
    #[error(
        "this plan was made by orgsync {made_by} and this is orgsync {this}: plan again with this version"
    )]
    OtherVersion {
        /// The version recorded in the plan.
        made_by: String,
        /// This version.
        this: String,
    },
    /// The file says something orgsync would not plan from its recorded inputs.
    #[error(
        "this plan was changed after it was made: {}; nothing was applied. Make a new plan with `orgsync plan --out FILE`",
        .differences.join("; ")
    )]
    Changed {
        /// What differs, one phrase each (the first few).
        differences: Vec<String>,
    },
}

/// How many differences an error lists.
const SHOWN: usize = 5;

/// Compares a plan file with the plan orgsync makes now from the same recorded inputs.
pub fn verify(file: &Plan, replanned: &Plan) -> Result<(), PlanMismatch> {
    if file.orgsync_version != replanned.orgsync_version {
        return Err(PlanMismatch::OtherVersion {
            made_by: file.orgsync_version.clone(),
            this: replanned.orgsync_version.clone(),
        });
    }
    // The inputs first: a plan whose inputs moved on is stale, whatever else it says. A digest
    // that was edited reads as stale too, and nothing is applied either way.
    if file.digests.target != replanned.digests.target {
        return Err(PlanMismatch::TargetChanged);
    }
    if file.digests.source != replanned.digests.source {
        return Err(PlanMismatch::SourceChanged);
    }
    if file.digests.config != replanned.digests.config {
        return Err(PlanMismatch::ConfigChanged);
    }
    let mut differences = Vec::new();
    if file.format_version != replanned.format_version {
        differences.push("its format version".to_owned());
    }
    if file.at != replanned.at {
        differences.push("its date".to_owned());
    }
    if file.digests != replanned.digests {
        differences.push("its configuration commit".to_owned());
    }
    actions(&file.actions, &replanned.actions, &mut differences);
    if file.summary != replanned.summary {
        differences.push("its summary counts".to_owned());
    }
    if file.manual_steps != replanned.manual_steps {
        differences.push("its manual steps".to_owned());
    }
    if file.held != replanned.held {
        differences.push("its counts of people held".to_owned());
    }
    if file.diagnostics != replanned.diagnostics {
        let (f, r) = (file.diagnostics.len(), replanned.diagnostics.len());
        differences.push(match f.cmp(&r) {
            std::cmp::Ordering::Less => format!("{} diagnostic(s) removed", r - f),
            std::cmp::Ordering::Greater => format!("{} diagnostic(s) added", f - r),
            std::cmp::Ordering::Equal => "its diagnostics".to_owned(),
        });
    }
    if file.safety != replanned.safety {
        differences.push(format!(
            "its safety verdict (the file says {}, the configuration says {})",
            verdict(file),
            verdict(replanned)
        ));
    }
    if differences.is_empty() {
        return Ok(());
    }
    let more = differences.len().saturating_sub(SHOWN);
    differences.truncate(SHOWN);
    if more > 0 {
        differences.push(format!("and {more} more"));
    }
    Err(PlanMismatch::Changed { differences })
}

fn verdict(plan: &Plan) -> &'static str {
    if plan.safety.safe { "safe" } else { "unsafe" }
}

/// The differences between two action lists, as phrases naming the actions.
fn actions(file: &[Action], replanned: &[Action], out: &mut Vec<String>) {
    let before = out.len();
    let name = |a: &Action| format!("{} {}", a.kind().as_str(), a.subject);
    let key = |a: &Action| (a.kind(), a.subject.clone(), a.target_id.clone());
    let planned: std::collections::HashMap<_, &Action> =
        replanned.iter().map(|a| (key(a), a)).collect();
    let in_file: std::collections::HashMap<_, &Action> = file.iter().map(|a| (key(a), a)).collect();
    for a in file {
        match planned.get(&key(a)) {
            None => out.push(format!("an action orgsync did not plan: {}", name(a))),
            Some(p) if p.changes != a.changes => out.push(format!("the changes of {}", name(a))),
            Some(p) if p.reason != a.reason => out.push(format!("the reason of {}", name(a))),
            Some(p) if p.name != a.name => out.push(format!("the name in {}", name(a))),
            Some(_) => {}
        }
    }
    for a in replanned {
        if !in_file.contains_key(&key(a)) {
            out.push(format!("a planned action is missing: {}", name(a)));
        }
    }
    if out.len() == before && file != replanned {
        // The same actions, repeated or in another order: apply order is part of the plan.
        out.push(if file.len() != replanned.len() {
            "an action repeated".to_owned()
        } else {
            "the order of its actions".to_owned()
        });
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use jiff::civil::date;
    use serde_json::json;

    use super::*;
    use crate::vocabulary::{ActionKind, Changes, Digests, FieldChange, Safety, Violation};

    fn action(kind: ActionKind, subject: &str) -> Action {
        let mut changes = Changes::bare(kind);
        if let Changes::Update(u) = &mut changes {
            u.edit.email = Some(FieldChange::new(
                Some(format!("{subject}@old.example")),
                Some(format!("{subject}@new.example")),
            ));
        }
        Action {
            subject: subject.to_owned(),
            target_id: Some(format!("u-{subject}")),
            name: format!("Person {subject}"),
            changes,
            reason: "e-mail changed in the source".to_owned(),
            cause: Default::default(),
        }
    }

    fn plan() -> Plan {
        let actions = vec![
            action(ActionKind::Update, "1"),
            action(ActionKind::Remove, "2"),
        ];
        Plan {
            format_version: crate::vocabulary::FORMAT_VERSION,
            created_at: "2026-11-22T08:00:00Z".to_owned(),
            orgsync_version: "0.1.0".to_owned(),
            at: date(2026, 11, 22),
            summary: Plan::count_actions(&actions),
            held: BTreeMap::new(),
            actions,
            manual_steps: Vec::new(),
            diagnostics: vec![],
            safety: Safety {
                safe: false,
                violations: vec![Violation {
                    rule: "max_removals".to_owned(),
                    message: "too many".to_owned(),
                    limit: 0,
                    actual: 1,
                }],
            },
            digests: Digests {
                config: "sha256:c".to_owned(),
                config_commit: None,
                source: "sha256:s".to_owned(),
                target: "sha256:t".to_owned(),
                previous_config_commit: None,
            },
        }
    }

    fn changed(edit: impl FnOnce(&mut Plan)) -> Vec<String> {
        let mut file = plan();
        edit(&mut file);
        match verify(&file, &plan()) {
            Err(PlanMismatch::Changed { differences }) => differences,
            other => panic!("expected a changed plan, got {other:?}"),
        }
    }

    #[test]
    fn the_same_plan_made_later_is_accepted() {
        let mut file = plan();
        file.created_at = "2026-11-21T08:00:00Z".to_owned();
        assert_eq!(verify(&file, &plan()), Ok(()));
    }

    #[test]
    fn moved_inputs_are_stale_not_changed() {
        let mut file = plan();
        file.digests.target = "sha256:other".to_owned();
        assert_eq!(verify(&file, &plan()), Err(PlanMismatch::TargetChanged));
        let mut file = plan();
        file.digests.source = "sha256:other".to_owned();
        assert_eq!(verify(&file, &plan()), Err(PlanMismatch::SourceChanged));
        let mut file = plan();
        file.digests.config = "sha256:other".to_owned();
        assert_eq!(verify(&file, &plan()), Err(PlanMismatch::ConfigChanged));
    }

    /// Sets the `to` of `field` in `action`'s JSON form, as an edit of the plan file would.
    fn edit_wire(action: &mut Action, field: &str, to: serde_json::Value) {
        let mut wire = action.changes.to_wire();
        wire.get_mut(field).unwrap().to = to;
        action.changes = crate::vocabulary::Changes::from_wire(action.kind(), wire).unwrap();
    }

    #[test]
    fn every_edit_is_named() {
        assert_eq!(
            changed(|p| edit_wire(&mut p.actions[0], "email", json!("admin@example.com"))),
            ["the changes of update 1"]
        );
        assert_eq!(
            changed(|p| p.actions[1].reason = "left".to_owned()),
            ["the reason of remove 2"]
        );
        assert_eq!(
            changed(|p| {
                p.safety = Safety {
                    safe: true,
                    violations: vec![],
                }
            }),
            ["its safety verdict (the file says safe, the configuration says unsafe)"]
        );
        assert_eq!(
            changed(|p| p.actions.push(action(ActionKind::Anonymize, "3"))),
            ["an action orgsync did not plan: anonymize 3"]
        );
        assert_eq!(
            changed(|p| {
                p.actions.remove(1);
            }),
            ["a planned action is missing: remove 2"]
        );
        assert_eq!(
            changed(|p| p.actions.swap(0, 1)),
            ["the order of its actions"]
        );
        assert_eq!(
            changed(|p| p.actions.push(p.actions[1].clone())),
            ["an action repeated"]
        );
        assert_eq!(
            changed(|p| *p.summary.get_mut(&ActionKind::Remove).unwrap() = 0),
            ["its summary counts"]
        );
    }

    #[test]
    fn the_error_says_the_plan_was_changed() {
        let mut file = plan();
        file.actions[1].reason = "left".to_owned();
        let err = verify(&file, &plan()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "this plan was changed after it was made: the reason of remove 2; nothing was \
             applied. Make a new plan with `orgsync plan --out FILE`"
        );
    }
}
