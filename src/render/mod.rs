//! Renderers: the same [`Plan`] value as a terminal plan, a Markdown PR comment, the JSON contract,
//! and a unified diff of the target state.
//!
//! Renderers only render: they take data and return a `String`. Printing, paging and deciding
//! whether colour is wanted (a terminal, `NO_COLOR`) belong to the CLI.

mod diff;
mod json;
mod markdown;
mod masked;
mod parts;
mod pull_request;
mod reach;
mod text;

pub use diff::diff;
pub use json::json;
pub use markdown::{MarkdownOptions, markdown};
pub use masked::masked_json;
pub use parts::split_markdown;
pub use pull_request::{PullRequestView, pull_request_markdown, pull_request_text};
pub(crate) use text::escape_control;
pub use text::{TextOptions, text};

use std::collections::BTreeMap;

use serde_json::Value;

use orgsync_core::vocabulary::{Action, ActionKind, Change, DiagnosticKind, Plan, Severity};

/// Whether an action adds, changes or takes away: the `+` / `~` / `-` of the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sign {
    Add,
    Change,
    Destroy,
}

impl Sign {
    fn of(kind: ActionKind) -> Sign {
        match kind {
            ActionKind::CreateCommunity
            | ActionKind::CreateFunctionGroup
            | ActionKind::Invite
            | ActionKind::Restore => Sign::Add,
            ActionKind::Update
            | ActionKind::Move
            | ActionKind::UpdateCommunity
            | ActionKind::UpdateFunctionGroup => Sign::Change,
            ActionKind::Remove
            | ActionKind::Anonymize
            | ActionKind::RemoveCommunity
            | ActionKind::RemoveFunctionGroup => Sign::Destroy,
        }
    }

    fn symbol(self) -> char {
        match self {
            Sign::Add => '+',
            Sign::Change => '~',
            Sign::Destroy => '-',
        }
    }
}

/// True for actions on accounts (people), false for actions on groups.
fn is_account_kind(kind: ActionKind) -> bool {
    matches!(
        kind,
        ActionKind::Invite
            | ActionKind::Update
            | ActionKind::Move
            | ActionKind::Restore
            | ActionKind::Remove
            | ActionKind::Anonymize
    )
}

/// Section title for the actions of one kind.
fn kind_title(kind: ActionKind) -> &'static str {
    match kind {
        ActionKind::CreateCommunity => "Create communities",
        ActionKind::CreateFunctionGroup => "Create function groups",
        ActionKind::UpdateCommunity => "Re-key communities",
        ActionKind::UpdateFunctionGroup => "Re-key function groups",
        ActionKind::Invite => "Invite",
        ActionKind::Update => "Update",
        ActionKind::Move => "Move",
        ActionKind::Restore => "Restore",
        ActionKind::Remove => "Remove",
        ActionKind::Anonymize => "Anonymize",
        ActionKind::RemoveCommunity => "Remove communities",
        ActionKind::RemoveFunctionGroup => "Remove function groups",
    }
}

/// `3 to invite`, `1 community to create`: one part of the closing `Plan:` line.
fn kind_count_phrase(kind: ActionKind, n: usize) -> String {
    let count = thousands(n);
    let group = |one: &str, many: &str, verb: &str| {
        format!("{count} {} to {verb}", if n == 1 { one } else { many })
    };
    match kind {
        ActionKind::CreateCommunity => group("community", "communities", "create"),
        ActionKind::CreateFunctionGroup => group("function group", "function groups", "create"),
        ActionKind::UpdateCommunity => group("community", "communities", "re-key"),
        ActionKind::UpdateFunctionGroup => group("function group", "function groups", "re-key"),
        ActionKind::RemoveCommunity => group("community", "communities", "remove"),
        ActionKind::RemoveFunctionGroup => group("function group", "function groups", "remove"),
        ActionKind::Invite => format!("{count} to invite"),
        ActionKind::Update => format!("{count} to update"),
        ActionKind::Move => format!("{count} to move"),
        ActionKind::Restore => format!("{count} to restore"),
        ActionKind::Remove => format!("{count} to remove"),
        ActionKind::Anonymize => format!("{count} to anonymize"),
    }
}

/// Non-zero action counts in apply order, recomputed from the actions so that the counts always
/// agree with what is rendered.
fn nonzero_counts(plan: &Plan) -> Vec<(ActionKind, usize)> {
    let counts = Plan::count_actions(&plan.actions);
    ActionKind::ALL
        .iter()
        .map(|k| (*k, counts.get(k).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// `3 to invite, 1 to move, 2 to remove`, or `None` without actions.
fn counts_sentence(plan: &Plan) -> Option<String> {
    let parts: Vec<String> = nonzero_counts(plan)
        .into_iter()
        .map(|(k, n)| kind_count_phrase(k, n))
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// `2 manual steps (5 subjects) for a person to do by hand`, or `None` without manual steps.
fn manual_sentence(plan: &Plan) -> Option<String> {
    let steps = plan.manual_steps.len();
    if steps == 0 {
        return None;
    }
    let subjects = plan.manual_step_count();
    Some(format!(
        "{} ({} {}) for a person to do by hand: the target cannot do {} through its API",
        if steps == 1 {
            "1 manual step".to_owned()
        } else {
            format!("{} manual steps", thousands(steps))
        },
        thousands(subjects),
        if subjects == 1 { "subject" } else { "subjects" },
        if steps == 1 { "it" } else { "them" },
    ))
}

/// How many subject identifiers a manual step lists before "and N more".
const MANUAL_SUBJECTS_SHOWN: usize = 10;

/// `set the manager in Revolut: 3 people (invite): 1001, 1002, 1003`. Identifiers only.
fn manual_step_line(step: &orgsync_core::vocabulary::ManualStep) -> String {
    let noun = match step.kind {
        ActionKind::CreateCommunity | ActionKind::UpdateCommunity | ActionKind::RemoveCommunity => {
            if step.count == 1 {
                "1 community".to_owned()
            } else {
                format!("{} communities", thousands(step.count))
            }
        }
        ActionKind::CreateFunctionGroup
        | ActionKind::UpdateFunctionGroup
        | ActionKind::RemoveFunctionGroup => {
            if step.count == 1 {
                "1 function group".to_owned()
            } else {
                format!("{} function groups", thousands(step.count))
            }
        }
        _ => people(step.count),
    };
    let mut ids = step.subjects[..step.subjects.len().min(MANUAL_SUBJECTS_SHOWN)].join(", ");
    if step.subjects.len() > MANUAL_SUBJECTS_SHOWN {
        ids.push_str(&format!(
            " and {} more",
            thousands(step.subjects.len() - MANUAL_SUBJECTS_SHOWN)
        ));
    }
    format!("{}: {noun} ({}): {ids}", step.what, step.kind.as_str())
}

/// `5 people in scope are held (3: their community is not mapped, 2: no e-mail address)`, or
/// `None` when nobody is: the summary never says the target matches while people wait.
fn held_sentence(plan: &Plan) -> Option<String> {
    let total = plan.held_count();
    if total == 0 {
        return None;
    }
    let reasons: Vec<String> = plan
        .held
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(kind, n)| format!("{}: {}", thousands(*n), held_reason(*kind)))
        .collect();
    Some(format!(
        "{} in scope {} held until someone decides ({}); see the diagnostics",
        if total == 1 {
            "1 person".to_owned()
        } else {
            format!("{} people", thousands(total))
        },
        if total == 1 { "is" } else { "are" },
        reasons.join(", ")
    ))
}

/// Why people are held, by the diagnostic that says so.
fn held_reason(kind: DiagnosticKind) -> &'static str {
    match kind {
        DiagnosticKind::UnmappedCommunity => "their community is not mapped",
        DiagnosticKind::NoCommunity => "no community",
        DiagnosticKind::MissingEmail => "no e-mail address",
        DiagnosticKind::DuplicateEmail => "a shared e-mail address",
        DiagnosticKind::ConflictingEmail => "conflicting e-mail addresses",
        DiagnosticKind::AdoptableAccount => "an unmanaged account, adoption is off",
        DiagnosticKind::RetentionPassed => "their expired account is anonymized first",
        DiagnosticKind::IdentifierChanged => "their community's identifier changed",
        DiagnosticKind::MappingTargetMissing => "their mapping is still a to-do",
        other => other.as_str(),
    }
}

/// The actions of each kind, in apply order, each kind's actions in plan order.
fn actions_by_kind(plan: &Plan) -> Vec<(ActionKind, Vec<&Action>)> {
    let mut by_kind: BTreeMap<ActionKind, Vec<&Action>> = BTreeMap::new();
    for action in &plan.actions {
        by_kind.entry(action.kind()).or_default().push(action);
    }
    ActionKind::ALL
        .iter()
        .filter_map(|k| by_kind.remove(k).map(|actions| (*k, actions)))
        .collect()
}

/// `1 error, 2 warnings, 1 info`.
fn severity_tally(plan: &Plan) -> String {
    let count = |s: Severity| plan.diagnostics.iter().filter(|d| d.severity == s).count();
    let mut parts = Vec::new();
    let errors = count(Severity::Error);
    if errors > 0 {
        parts.push(format!(
            "{} error{}",
            thousands(errors),
            if errors == 1 { "" } else { "s" }
        ));
    }
    let warnings = count(Severity::Warning);
    if warnings > 0 {
        parts.push(format!(
            "{} warning{}",
            thousands(warnings),
            if warnings == 1 { "" } else { "s" }
        ));
    }
    let infos = count(Severity::Info);
    if infos > 0 {
        parts.push(format!("{} info", thousands(infos)));
    }
    parts.join(", ")
}

fn severity_label(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
}

/// `1 person` / `4 people`.
fn people(n: usize) -> String {
    if n == 1 {
        "1 person".to_owned()
    } else {
        format!("{} people", thousands(n))
    }
}

/// `1234567` → `1,234,567`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What identifies the subject besides its name: `person 1001, account acc-1` for accounts,
/// `source 3001, community c-9` for groups. Empty when there is nothing to add (a fallback group
/// whose subject is its own name, not created yet).
fn subject_ids(action: &Action) -> String {
    let mut parts = Vec::new();
    if is_account_kind(action.kind()) {
        parts.push(format!("person {}", action.subject));
    } else if action.subject != action.name {
        parts.push(format!("source {}", action.subject));
    }
    if let Some(id) = &action.target_id {
        let noun = match action.kind() {
            ActionKind::CreateCommunity | ActionKind::RemoveCommunity => "community",
            ActionKind::CreateFunctionGroup | ActionKind::RemoveFunctionGroup => "group",
            _ => "account",
        };
        parts.push(format!("{noun} {id}"));
    }
    parts.join(", ")
}

/// A change's value for people. Group references and lists of them show by name
/// (`[Amsterdam Centrum, Utrecht]`), `null` is `(none)`, the empty string `""`. `leaf` renders
/// each string (escaping, masking); it is given the field name's context by the caller.
fn format_value(value: &Value, leaf: &dyn Fn(&str) -> String) -> String {
    match value {
        Value::Null => "(none)".to_owned(),
        Value::String(s) if s.is_empty() => "\"\"".to_owned(),
        Value::String(s) => leaf(s),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => {
            let items: Vec<String> = items
                .iter()
                // A group orgsync does not manage is kept as it is: not one of the person's
                // communities or function groups as the plan shows them.
                .filter(|item| item.get("foreign") != Some(&Value::Bool(true)))
                .map(|item| match item {
                    Value::Null => "(none)".to_owned(),
                    _ => format_value(item, leaf),
                })
                .collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => match map.get("name") {
            // A group reference: people read names, not ids.
            Some(Value::String(name)) => leaf(name),
            _ => leaf(&Value::Object(map.clone()).to_string()),
        },
    }
}

/// An action's changes in the order a person reads them (name, e-mail, status, groups, …),
/// not the alphabetical order of the JSON map.
fn ordered_changes(action: &Action) -> Vec<(&'static str, Change)> {
    const ORDER: [&str; 9] = [
        "name",
        "first_name",
        "last_name",
        "email",
        "status",
        "communities",
        "function_groups",
        "notify",
        "source_ids",
    ];
    let mut changes: Vec<(&'static str, Change)> = action
        .changes
        .fields()
        .into_iter()
        .map(|f| {
            (
                f.field.as_str(),
                Change {
                    from: f.from.to_json(),
                    to: f.to.to_json(),
                },
            )
        })
        .collect();
    changes.sort_by_key(|(field, _)| {
        (
            ORDER.iter().position(|f| f == field).unwrap_or(ORDER.len()),
            *field,
        )
    });
    changes
}

/// `from → to`, or just `to` when there was nothing before (new accounts and groups).
fn format_change(change: &Change, leaf: &dyn Fn(&str) -> String) -> String {
    if change.from.is_null() {
        format_value(&change.to, leaf)
    } else {
        format!(
            "{} → {}",
            format_value(&change.from, leaf),
            format_value(&change.to, leaf)
        )
    }
}

/// Shared inputs for the renderers' tests: one plan with every action kind and several
/// diagnostics, and a plan without changes.
#[cfg(test)]
mod fixtures {
    use std::collections::BTreeMap;

    use jiff::civil::date;
    use serde_json::{Value, json};

    use orgsync_core::vocabulary::{
        Action, ActionKind, Change, Changes, ConfigLocation, Diagnostic, DiagnosticKind, Digests,
        FORMAT_VERSION, Plan, Safety, Severity, Violation,
    };

    fn changes(fields: &[(&str, Value, Value)]) -> BTreeMap<String, Change> {
        fields
            .iter()
            .map(|(field, from, to)| {
                (
                    (*field).to_owned(),
                    Change {
                        from: from.clone(),
                        to: to.clone(),
                    },
                )
            })
            .collect()
    }

    pub(super) fn action(
        kind: ActionKind,
        subject: &str,
        target_id: Option<&str>,
        name: &str,
        fields: &[(&str, Value, Value)],
        reason: &str,
    ) -> Action {
        // The fields given, over what an action of the kind always holds.
        let mut wire = Changes::bare(kind).to_wire();
        wire.extend(changes(fields));
        Action::from_wire(
            kind,
            subject.to_owned(),
            target_id.map(str::to_owned),
            name.to_owned(),
            wire,
            reason.to_owned(),
        )
        .unwrap()
    }

    fn diagnostic(
        kind: DiagnosticKind,
        severity: Severity,
        message: &str,
        subject: Option<&str>,
        count: usize,
        hint: Option<&str>,
        location: Option<(&str, usize, usize)>,
    ) -> Diagnostic {
        Diagnostic {
            kind,
            severity,
            message: message.to_owned(),
            subject: subject.map(str::to_owned),
            count,
            hint: hint.map(str::to_owned),
            location: location.map(|(file, line, column)| ConfigLocation {
                file: file.to_owned(),
                line,
                column,
            }),
            concerns: Default::default(),
        }
    }

    pub(super) fn plan_with(
        actions: Vec<Action>,
        diagnostics: Vec<Diagnostic>,
        safety: Safety,
    ) -> Plan {
        Plan {
            format_version: FORMAT_VERSION,
            created_at: "2025-03-01T08:00:00+01:00".to_owned(),
            orgsync_version: "0.1.0".to_owned(),
            at: date(2025, 3, 1),
            summary: Plan::count_actions(&actions),
            held: Default::default(),
            actions,
            manual_steps: Vec::new(),
            diagnostics,
            safety,
            digests: Digests {
                config: "sha256:5f1c0e".to_owned(),
                config_commit: Some("9b2d4e7".to_owned()),
                source: "sha256:a41d3b".to_owned(),
                target: "sha256:c07e92".to_owned(),
                previous_config_commit: None,
            },
        }
    }

    fn group(id: &str, name: &str) -> Value {
        json!({ "id": id, "name": name })
    }

    /// One action of every kind, five diagnostics, one safety violation.
    pub(super) fn sample_plan() -> Plan {
        let amsterdam = group("c-1", "Amsterdam Centrum");
        let utrecht = group("new:3001", "Utrecht");
        let no_function = group("new:No function", "No function");
        let guest_relations = group("fg-1", "Guest Relations");
        let actions = vec![
            action(
                ActionKind::CreateCommunity,
                "3001",
                None,
                "Utrecht",
                &[
                    ("name", Value::Null, json!("Utrecht")),
                    ("source_ids", json!([]), json!(["3001"])),
                ],
                "Source community 3001 is new and unmapped communities are created.",
            ),
            action(
                ActionKind::CreateFunctionGroup,
                "No function",
                None,
                "No function",
                &[
                    ("name", Value::Null, json!("No function")),
                    ("source_ids", json!([]), json!([])),
                ],
                "The fallback group for unmapped functions does not exist yet.",
            ),
            action(
                ActionKind::Invite,
                "1001",
                None,
                "Jan de Vries",
                &[
                    ("email", Value::Null, json!("jan.devries@example.com")),
                    ("external_id", Value::Null, json!("1001")),
                    ("first_name", Value::Null, json!("Jan")),
                    ("last_name", Value::Null, json!("de Vries")),
                    ("communities", json!([]), json!([amsterdam])),
                    ("function_groups", json!([]), json!([no_function])),
                ],
                "Starts on 2025-03-05, within the 7-day invite lead.",
            ),
            action(
                ActionKind::Invite,
                "1004",
                None,
                "Fatima el Amrani",
                &[
                    ("email", Value::Null, json!("f.elamrani@example.com")),
                    ("external_id", Value::Null, json!("1004")),
                    ("first_name", Value::Null, json!("Fatima")),
                    ("last_name", Value::Null, json!("el Amrani")),
                    ("communities", json!([]), json!([utrecht])),
                    ("function_groups", json!([]), json!([guest_relations])),
                ],
                "In the source since 2024-11-01 and not in the target.",
            ),
            action(
                ActionKind::Update,
                "1002",
                Some("acc-2"),
                "Piet Jansen",
                &[
                    (
                        "email",
                        json!("piet@old.example.com"),
                        json!("piet.jansen@example.com"),
                    ),
                    ("last_name", json!("Janssen"), json!("Jansen")),
                    (
                        "function_groups",
                        json!([guest_relations]),
                        json!([guest_relations, no_function]),
                    ),
                ],
                "Managed fields differ from the source.",
            ),
            action(
                ActionKind::Move,
                "1003",
                Some("acc-3"),
                "Sanne Bakker",
                &[
                    ("communities", json!([amsterdam]), json!([utrecht])),
                    ("notify", Value::Null, json!(true)),
                ],
                "Source community changed from 1001 to 3001.",
            ),
            action(
                ActionKind::Restore,
                "1005",
                Some("acc-5"),
                "Kees van Dijk",
                &[("status", json!("removed"), json!("active"))],
                "Back in scope within the 30-day retention (removed on 2025-02-10).",
            ),
            action(
                ActionKind::Remove,
                "1006",
                Some("acc-6"),
                "Lotte de Boer",
                &[("status", json!("active"), json!("removed"))],
                "Contract ended on 2025-02-28.",
            ),
            action(
                ActionKind::Anonymize,
                "1007",
                Some("acc-7"),
                "Mohammed Yilmaz",
                &[
                    ("status", json!("removed"), json!("anonymized")),
                    ("email", json!("m.yilmaz@example.com"), Value::Null),
                    ("first_name", json!("Mohammed"), Value::Null),
                    ("last_name", json!("Yilmaz"), Value::Null),
                ],
                "Removed on 2025-01-15; the 30-day retention has passed.",
            ),
            action(
                ActionKind::RemoveCommunity,
                "1009",
                Some("c-9"),
                "Zandvoort",
                &[("name", json!("Zandvoort"), Value::Null)],
                "Source community 1009 no longer exists and community removal is allowed.",
            ),
            action(
                ActionKind::RemoveFunctionGroup,
                "F-OLD",
                Some("fg-4"),
                "Night audit",
                &[("name", json!("Night audit"), Value::Null)],
                "Source function F-OLD no longer exists.",
            ),
        ];
        let diagnostics = vec![
            diagnostic(
                DiagnosticKind::DuplicateEmail,
                Severity::Error,
                "2 people share shared@example.com (1010 and 1011); both are held.",
                Some("shared@example.com"),
                2,
                Some("Give each person their own e-mail address in the HR system."),
                None,
            ),
            diagnostic(
                DiagnosticKind::UnmappedCommunity,
                Severity::Warning,
                "Source community 4001 (Rotterdam Zuid) has no mapping; its people are held.",
                Some("4001"),
                4,
                Some("Map 4001 in communities.yaml, or set policy.unmapped_communities: create."),
                Some(("communities.yaml", 1, 1)),
            ),
            diagnostic(
                DiagnosticKind::IdentifierChanged,
                Severity::Warning,
                "Source community 3001 (Utrecht) carries the name of 2001, which vanished: \
                 probably a renamed identifier.",
                Some("3001"),
                12,
                Some("Map 3001 to the community of 2001 instead of creating a duplicate."),
                Some(("communities.yaml", 3, 5)),
            ),
            diagnostic(
                DiagnosticKind::TestLocation,
                Severity::Info,
                "Test location T-01 (Test Amsterdam) was left out.",
                Some("T-01"),
                3,
                None,
                Some(("exclusions.yaml", 9, 17)),
            ),
            diagnostic(
                DiagnosticKind::Excluded,
                Severity::Info,
                "Excluded by rule \"interns are onboarded by hand\".",
                None,
                2,
                None,
                Some(("exclusions.yaml", 2, 5)),
            ),
            diagnostic(
                DiagnosticKind::MissingEmail,
                Severity::Info,
                "Jan de Vries's manager Anna Smit (1012) has no e-mail address and is not invited.",
                Some("1012"),
                1,
                None,
                None,
            ),
        ];
        let safety = Safety {
            safe: false,
            violations: vec![Violation {
                rule: "community_removal".to_owned(),
                message: "The plan removes 1 community; community removal destroys its messages \
                          and shift takeovers."
                    .to_owned(),
                limit: 0,
                actual: 1,
            }],
        };
        plan_with(actions, diagnostics, safety)
    }

    /// Nothing to do, nothing to report.
    pub(super) fn empty_plan() -> Plan {
        plan_with(
            Vec::new(),
            Vec::new(),
            Safety {
                safe: true,
                violations: Vec::new(),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    /// Regression (issue 21): a hand-made SCIM group without a prefix (`groups.other:
    /// community`) was listed among a person's communities in plans. A group orgsync does not
    /// manage is kept (the JSON lists it, `foreign: true`, for targets that write whole lists)
    /// but not shown as a community.
    #[test]
    fn group_lists_leave_out_groups_orgsync_does_not_manage() {
        let value = serde_json::json!([{ "id": "g-9", "name": "Book club", "foreign": true },
                                      { "id": "c-1", "name": "Amsterdam Centrum" }]);
        assert_eq!(
            format_value(&value, &|s| s.to_owned()),
            "[Amsterdam Centrum]"
        );
    }

    #[test]
    fn group_lists_show_names() {
        let value = serde_json::json!([{ "id": "c-1", "name": "Amsterdam Centrum" },
                                      { "id": "new:3001", "name": "Utrecht" }]);
        assert_eq!(
            format_value(&value, &|s| s.to_owned()),
            "[Amsterdam Centrum, Utrecht]"
        );
    }
    fn manual_plan(with_action: bool) -> Plan {
        let mut plan = if with_action {
            fixtures::plan_with(
                vec![fixtures::action(
                    ActionKind::Invite,
                    "1001",
                    None,
                    "Jan de Vries",
                    &[],
                    "new in the source",
                )],
                Vec::new(),
                orgsync_core::vocabulary::Safety {
                    safe: true,
                    violations: Vec::new(),
                },
            )
        } else {
            fixtures::empty_plan()
        };
        plan.manual_steps = vec![orgsync_core::vocabulary::ManualStep {
            what: "set the manager in Revolut".to_owned(),
            capability: "manager".to_owned(),
            kind: ActionKind::Invite,
            count: 12,
            subjects: (1..=12).map(|i| format!("{}", 2000 + i)).collect(),
        }];
        plan
    }

    /// A plan whose only changes are manual steps never says the target matches: every renderer
    /// lists the steps, by identifier, as not done by orgsync.
    #[test]
    fn manual_steps_are_shown_by_every_renderer_and_never_read_as_no_changes() {
        let plan = manual_plan(false);
        let text = text(&plan, &TextOptions::default());
        assert!(!text.contains("The target matches"), "{text}");
        assert!(
            text.contains("No changes orgsync can make, but 1 manual step (12 subjects)"),
            "{text}"
        );
        assert!(
            text.contains("Manual steps (1): orgsync cannot do these and will not"),
            "{text}"
        );
        assert!(
            text.contains("! set the manager in Revolut: 12 people (invite): 2001, 2002, 2003, 2004, 2005, 2006, 2007, 2008, 2009, 2010 and 2 more"),
            "{text}"
        );
        let md = markdown(&plan, &MarkdownOptions::default());
        assert!(!md.contains("The target matches"), "{md}");
        assert!(md.contains("### Manual steps (1)"), "{md}");
        assert!(
            md.contains("- [ ] set the manager in Revolut: 12 people (invite): 2001"),
            "{md}"
        );
        let value: Value = serde_json::from_str(&json(&plan)).unwrap();
        assert_eq!(value["manual_steps"][0]["capability"], "manager");
        assert_eq!(value["manual_steps"][0]["kind"], "invite");
        assert_eq!(value["manual_steps"][0]["count"], 12);
        assert_eq!(value["manual_steps"][0]["subjects"][11], "2012");
    }

    #[test]
    fn manual_steps_beside_actions_get_their_own_line() {
        let plan = manual_plan(true);
        let text = text(&plan, &TextOptions::default());
        assert!(
            text.contains(
                "Plan: 1 to invite.\nManual: 1 manual step (12 subjects) for a person to do by hand"
            ),
            "{text}"
        );
        let md = markdown(&plan, &MarkdownOptions::default());
        assert!(
            md.contains("✋ **Manual:** 1 manual step (12 subjects)"),
            "{md}"
        );
    }

    #[test]
    fn a_plan_without_manual_steps_has_no_manual_steps_key() {
        let value: Value = serde_json::from_str(&json(&fixtures::empty_plan())).unwrap();
        assert!(value.get("manual_steps").is_none());
    }
}
