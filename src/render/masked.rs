//! The plan JSON with personal data masked: what the GitHub Action uploads as its artifact by
//! default, readable by everyone with read access to the repository for the artifact's life.
//!
//! It has the shape of the plan contract (so scripts read it like a plan), with the masking of
//! the Markdown comment: a person's name becomes initials, first and last names their initial,
//! and every e-mail address, wherever it appears, `j***@example.com`. Identifiers (the source's
//! person ids, target ids) stay: a reviewer needs them to find the person in HR, and they are
//! what the plan already shows in the comment. A masked plan cannot be applied — `apply` checks
//! it against a re-plan and it will not match — and says so in its `masked` key.

use serde_json::Value;

use super::is_account_kind;
use super::markdown::{Pii, initial, mask_name};
use orgsync_core::vocabulary::Plan;

/// Fields of an account action that hold one name part each.
const NAME_PARTS: [&str; 2] = ["first_name", "last_name"];

/// The plan as pretty JSON with names and e-mail addresses masked, and `"masked": true` at the
/// top.
pub fn masked_json(plan: &Plan) -> String {
    let pii = Pii::new(plan, false);
    let mut plan = plan.clone();
    // Which actions are about accounts, in plan order: their name parts mask to initials.
    let accounts: Vec<bool> = plan
        .actions
        .iter()
        .map(|a| is_account_kind(a.kind()))
        .collect();
    for (action, &account) in plan.actions.iter_mut().zip(&accounts) {
        if account {
            action.name = mask_name(&action.name);
        } else {
            action.name = pii.plain(&action.name);
        }
        action.reason = pii.plain(&action.reason);
    }
    for d in &mut plan.diagnostics {
        d.message = pii.plain(&d.message);
        d.subject = d.subject.as_deref().map(|s| pii.plain(s));
        d.hint = d.hint.as_deref().map(|s| pii.plain(s));
    }
    for v in &mut plan.safety.violations {
        v.message = pii.plain(&v.message);
    }
    let mut value = serde_json::to_value(&plan).expect("a plan always serialises to JSON");
    // The changes, masked in their JSON form: every value, wherever it sits.
    if let Some(actions) = value.get_mut("actions").and_then(Value::as_array_mut) {
        for (action, &account) in actions.iter_mut().zip(&accounts) {
            let Some(changes) = action.get_mut("changes").and_then(Value::as_object_mut) else {
                continue;
            };
            for (field, change) in changes.iter_mut() {
                let part = account && NAME_PARTS.contains(&field.as_str());
                mask_value(change, &pii, part);
            }
        }
    }
    if let Value::Object(map) = &mut value {
        map.insert("masked".to_owned(), Value::Bool(true));
    }
    let mut out = serde_json::to_string_pretty(&value).expect("JSON values serialise");
    out.push('\n');
    out
}

/// Masks every string in `value`: a name part to its initial, anything else as free text.
fn mask_value(value: &mut Value, pii: &Pii, name_part: bool) {
    match value {
        Value::String(s) if name_part => *s = initial(s),
        Value::String(s) => *s = pii.plain(s),
        Value::Array(items) => items.iter_mut().for_each(|v| mask_value(v, pii, name_part)),
        Value::Object(map) => map.values_mut().for_each(|v| mask_value(v, pii, name_part)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::sample_plan;
    use super::*;

    /// Every name and address of the sample plan, as it is before masking.
    fn personal_strings(plan: &Plan) -> Vec<String> {
        let mut out = Vec::new();
        for a in plan.actions.iter().filter(|a| is_account_kind(a.kind())) {
            if a.name.split_whitespace().count() > 1 {
                out.push(a.name.clone());
            }
            for field in ["email", "first_name", "last_name"] {
                if let Some(c) = a.changes.to_wire().get(field) {
                    for v in [&c.from, &c.to] {
                        if let Some(s) = v.as_str().filter(|s| s.len() > 1) {
                            out.push(s.to_owned());
                        }
                    }
                }
            }
        }
        out
    }

    #[test]
    fn masked_plan_holds_no_name_or_address_of_the_plan() {
        let plan = sample_plan();
        let personal = personal_strings(&plan);
        assert!(!personal.is_empty(), "the fixture must have personal data");
        let masked = masked_json(&plan);
        for s in &personal {
            assert!(!masked.contains(&format!("\"{s}\"")), "{s} in {masked}");
        }
        // Every address keeps one character of its local part and no more.
        let ats = masked.matches('@').count();
        assert!(ats > 0, "{masked}");
        assert_eq!(masked.matches("***@").count(), ats, "{masked}");
    }

    #[test]
    fn masked_plan_keeps_the_contract_and_the_identifiers() {
        let plan = sample_plan();
        let value: Value = serde_json::from_str(&masked_json(&plan)).unwrap();
        assert_eq!(value["masked"], Value::Bool(true));
        assert_eq!(value["digests"]["config"], plan.digests.config.as_str());
        let subjects: Vec<&str> = value["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["subject"].as_str().unwrap())
            .collect();
        let expected: Vec<&str> = plan.actions.iter().map(|a| a.subject.as_str()).collect();
        assert_eq!(subjects, expected);
    }
}
