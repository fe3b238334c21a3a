//! The plan vocabulary — [`Plan`], [`Action`], [`Diagnostic`] — on the ground floor, so that
//! config, scope and mapping can speak it without depending on the plan engine. The plan is a value
//! (octoDNS, sync-team). The engine builds it, renderers print it, apply
//! executes it, and its JSON form is a stable contract (`format_version`).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use jiff::civil::Date;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Version of the plan JSON format. Bumped only on incompatible changes.
pub const FORMAT_VERSION: u32 = 1;

/// What one action does.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Create a target community.
    CreateCommunity,
    /// Create a target function group.
    CreateFunctionGroup,
    /// Record new source identifiers on a managed community whose identifiers vanished while a
    /// new identifier carries its name (a renamed identifier): re-keyed, never duplicated.
    UpdateCommunity,
    /// The same for a managed function group.
    UpdateFunctionGroup,
    /// Create a managed account in its communities and function groups (the target invites).
    Invite,
    /// Managed fields differ: names, e-mail, function groups.
    Update,
    /// Community membership changes (a transfer).
    Move,
    /// A removed account whose person is back: reactivated, no new invite.
    Restore,
    /// Deactivate a managed account whose person left scope; kept for `retention_days`.
    Remove,
    /// Retention has passed: blank the personal data for good.
    Anonymize,
    /// Remove a target community (only with `allow_community_removal`).
    RemoveCommunity,
    /// Remove a target function group whose source identifiers are gone.
    RemoveFunctionGroup,
}

impl ActionKind {
    /// All kinds, in apply order.
    pub const ALL: [ActionKind; 12] = [
        ActionKind::CreateCommunity,
        ActionKind::CreateFunctionGroup,
        ActionKind::UpdateCommunity,
        ActionKind::UpdateFunctionGroup,
        ActionKind::Invite,
        ActionKind::Update,
        ActionKind::Move,
        ActionKind::Restore,
        ActionKind::Remove,
        ActionKind::Anonymize,
        ActionKind::RemoveCommunity,
        ActionKind::RemoveFunctionGroup,
    ];

    /// The phase in which apply runs this kind: create groups → invites, updates, moves, restores
    /// → removes → anonymizes → remove groups.
    pub fn phase(self) -> u8 {
        match self {
            ActionKind::CreateCommunity
            | ActionKind::CreateFunctionGroup
            | ActionKind::UpdateCommunity
            | ActionKind::UpdateFunctionGroup => 0,
            ActionKind::Invite | ActionKind::Update | ActionKind::Move | ActionKind::Restore => 1,
            ActionKind::Remove => 2,
            ActionKind::Anonymize => 3,
            ActionKind::RemoveCommunity | ActionKind::RemoveFunctionGroup => 4,
        }
    }

    /// snake_case name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::CreateCommunity => "create_community",
            ActionKind::CreateFunctionGroup => "create_function_group",
            ActionKind::UpdateCommunity => "update_community",
            ActionKind::UpdateFunctionGroup => "update_function_group",
            ActionKind::Invite => "invite",
            ActionKind::Update => "update",
            ActionKind::Move => "move",
            ActionKind::Restore => "restore",
            ActionKind::Remove => "remove",
            ActionKind::Anonymize => "anonymize",
            ActionKind::RemoveCommunity => "remove_community",
            ActionKind::RemoveFunctionGroup => "remove_function_group",
        }
    }
}

/// A reference to a target group inside an action. `id` is the target's id, or
/// `new:<kind>:<key>` for a group created earlier in the same plan by the `create_<kind>` action
/// whose `subject` is `<key>`: keyed by kind, since a community and a function often share a
/// numeric source identifier. The apply runner replaces placeholders by the created ids before
/// a connector sees the action.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub struct GroupRef {
    /// Target id, or `new:<kind>:<key>`.
    pub id: String,
    /// The group's name.
    pub name: String,
}

impl GroupRef {
    /// Prefix of ids that refer to groups created by the same plan.
    pub const NEW_PREFIX: &'static str = "new:";

    /// True when this refers to a group the same plan creates.
    pub fn is_new(&self) -> bool {
        self.id.starts_with(Self::NEW_PREFIX)
    }

    /// The placeholder id of the group that the `create_*` action of `kind` with `subject`
    /// creates: `new:community:1001`, `new:function_group:1001`.
    pub fn placeholder(kind: ActionKind, subject: &str) -> String {
        let noun = match kind {
            ActionKind::CreateFunctionGroup => "function_group",
            _ => "community",
        };
        format!("{}{noun}:{subject}", Self::NEW_PREFIX)
    }
}

/// One field's change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Change {
    /// Current value (`null` when none).
    pub from: Value,
    /// Desired value.
    pub to: Value,
}

/// One step of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Action {
    /// What it does.
    pub kind: ActionKind,
    /// The subject's source identifier: the person's id for account actions; the source
    /// community/function identifier (or, for a fallback group, its name) for group actions.
    pub subject: String,
    /// The target id of the account or group acted on, when it exists already.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
    /// Display name of the subject (a person's full name, a group's name).
    pub name: String,
    /// Field changes as `{field: {from, to}}`. Fields: `email`, `first_name`, `last_name`,
    /// `communities` and `function_groups` (lists of group references), `status`, `name`,
    /// `source_ids`, `notify` (moves: whether the target sends a transfer e-mail).
    #[serde(default)]
    pub changes: BTreeMap<String, Change>,
    /// Why, in a sentence.
    pub reason: String,
}

impl Action {
    /// `action` with every `new:<kind>:<key>` group reference replaced by the id of the group that
    /// this apply created for it (`created`, filled by the targets' `create_*`). An action that needs
    /// a group whose creation failed (or never ran) is not attempted: the error says which.
    pub fn resolve_placeholders(
        &self,
        created: &HashMap<String, String>,
    ) -> Result<Cow<'_, Action>, String> {
        let action = self;
        let mut needs = false;
        for change in action.changes.values() {
            for value in [&change.to, &change.from] {
                visit_new_refs(value, &mut |_| needs = true);
            }
        }
        if !needs {
            return Ok(Cow::Borrowed(action));
        }
        let mut action = action.clone();
        let mut missing: Option<String> = None;
        for change in action.changes.values_mut() {
            for value in [&mut change.to, &mut change.from] {
                replace_new_refs(
                    value,
                    &mut |placeholder, name| match created.get(placeholder) {
                        Some(id) => Some(id.clone()),
                        None => {
                            missing.get_or_insert_with(|| format!("\"{name}\" ({placeholder})"));
                            None
                        }
                    },
                );
            }
        }
        match missing {
            Some(group) => Err(format!(
                "not attempted: it needs the group {group}, whose creation failed"
            )),
            None => Ok(Cow::Owned(action)),
        }
    }
}

/// Calls `f` with every `new:` group id inside `value`.
fn visit_new_refs(value: &Value, f: &mut dyn FnMut(&str)) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(id)) = map.get("id")
                && id.starts_with(GroupRef::NEW_PREFIX)
            {
                f(id);
            }
            for v in map.values() {
                visit_new_refs(v, f);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| visit_new_refs(v, f)),
        _ => {}
    }
}

/// Replaces every `new:` group id inside `value` by what `f` returns for it (id, name).
fn replace_new_refs(value: &mut Value, f: &mut dyn FnMut(&str, &str) -> Option<String>) {
    match value {
        Value::Object(map) => {
            let name = map
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if let Some(Value::String(id)) = map.get_mut("id")
                && id.starts_with(GroupRef::NEW_PREFIX)
                && let Some(real) = f(id, &name)
            {
                *id = real;
            }
            for v in map.values_mut() {
                replace_new_refs(v, f);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| replace_new_refs(v, f)),
        _ => {}
    }
}

/// How bad a diagnostic is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// For the record.
    Info,
    /// Needs a look; the plan is still produced.
    Warning,
    /// The plan cannot be produced or applied.
    Error,
}

/// What a diagnostic is about.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DiagnosticKind {
    /// A source community no mapping covers.
    UnmappedCommunity,
    /// A source function no mapping covers.
    UnmappedFunction,
    /// A mapping names a source identifier that no longer exists.
    StaleMapping,
    /// A mapping still marked `todo: true` points at a target group that does not exist: it is
    /// not created until the mapping is decided (a reviewed mapping's target is created).
    MappingTargetMissing,
    /// A new source identifier carries the name of a mapped identifier that vanished.
    IdentifierChanged,
    /// A test location was left out.
    TestLocation,
    /// People left out by an exclusion rule.
    Excluded,
    /// Several people share one e-mail address: all are held.
    DuplicateEmail,
    /// A person has no e-mail address and cannot be invited.
    MissingEmail,
    /// An unmanaged account matches a person by e-mail and `adopt_unmanaged` is off.
    AdoptableAccount,
    /// A protected account was left alone.
    ProtectedAccount,
    /// A managed community whose source identifiers are gone, kept because community removal is
    /// not allowed.
    OrphanedCommunity,
    /// The plan is over a safety limit, or the source looks broken.
    Safety,
    /// A rule that can never match (an exclusion on an attribute no person carries).
    RuleNeverMatches,
    /// Two target groups record the same source identifier, or two managed groups share a name.
    DuplicateGroup,
    /// A person in scope has no community and cannot be placed.
    NoCommunity,
    /// Source rows with one identifier give different e-mail addresses: the person is held.
    ConflictingEmail,
    /// A removed account has no removal date: retention counts from the day it is recorded.
    MissingRemovalDate,
    /// A removed account whose person is back after retention has passed is not restored.
    RetentionPassed,
    /// Something the plan needs that the target's API cannot do: listed as a manual step for
    /// a person to do by hand, never done by orgsync.
    ManualStep,
    /// A create-only target (AFAS applicants): what the plan sends; nothing is updated or
    /// removed there.
    CreateOnly,
    /// Create-only targets (AFAS applicants): people sent before, by the badges in the apply
    /// records; never sent again.
    AlreadySent,
    /// A send that an apply started and never confirmed (a crash, a lost answer): looked up in
    /// the target before anything is sent, or held for a person to check.
    SendInterrupted,
}

impl DiagnosticKind {
    /// snake_case name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            DiagnosticKind::UnmappedCommunity => "unmapped_community",
            DiagnosticKind::UnmappedFunction => "unmapped_function",
            DiagnosticKind::StaleMapping => "stale_mapping",
            DiagnosticKind::MappingTargetMissing => "mapping_target_missing",
            DiagnosticKind::IdentifierChanged => "identifier_changed",
            DiagnosticKind::TestLocation => "test_location",
            DiagnosticKind::Excluded => "excluded",
            DiagnosticKind::DuplicateEmail => "duplicate_email",
            DiagnosticKind::MissingEmail => "missing_email",
            DiagnosticKind::AdoptableAccount => "adoptable_account",
            DiagnosticKind::ProtectedAccount => "protected_account",
            DiagnosticKind::OrphanedCommunity => "orphaned_community",
            DiagnosticKind::Safety => "safety",
            DiagnosticKind::RuleNeverMatches => "rule_never_matches",
            DiagnosticKind::DuplicateGroup => "duplicate_group",
            DiagnosticKind::NoCommunity => "no_community",
            DiagnosticKind::ConflictingEmail => "conflicting_email",
            DiagnosticKind::MissingRemovalDate => "missing_removal_date",
            DiagnosticKind::RetentionPassed => "retention_passed",
            DiagnosticKind::ManualStep => "manual_step",
            DiagnosticKind::CreateOnly => "create_only",
            DiagnosticKind::AlreadySent => "already_sent",
            DiagnosticKind::SendInterrupted => "send_interrupted",
        }
    }
}

/// Where in the configuration a diagnostic points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConfigLocation {
    /// File, relative to the configuration directory.
    pub file: String,
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
}

/// Something the plan's reader should know, shown before the actions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Diagnostic {
    /// What it is about.
    pub kind: DiagnosticKind,
    /// How bad.
    pub severity: Severity,
    /// A sentence for people.
    pub message: String,
    /// The source identifier (community, function, person) or e-mail it is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Number of people affected.
    pub count: usize,
    /// What to do about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The configuration line it points at, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<ConfigLocation>,
}

/// Something the plan needs that the target cannot do through its API (see
/// [`crate::capabilities::TargetCapabilities`]): a person does it by hand. orgsync never executes
/// it and never reports it as done; every plan that needs it lists it again until the target
/// shows it done (or the configuration stops asking for it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ManualStep {
    /// What to do by hand, for people: "set the manager in Revolut".
    pub what: String,
    /// The missing capability: `communities`, `function_groups`, `create_groups`, `removal`, `restore`,
    /// `notify`, `first_name`, `last_name`, `email`, `manager`, `create_only`.
    pub capability: String,
    /// The kind of the actions it stands in for (a removal the target cannot do is `remove`).
    pub kind: ActionKind,
    /// How many subjects.
    pub count: usize,
    /// Their source identifiers (people's ids, group identifiers), sorted: identifiers only,
    /// never names or e-mail addresses.
    pub subjects: Vec<String>,
}

/// A safety limit the plan breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Violation {
    /// Which limit: `max_removals`, `max_removals_percent`, `community_removal`.
    pub rule: String,
    /// A sentence for people.
    pub message: String,
    /// The limit.
    pub limit: u64,
    /// What the plan would do.
    pub actual: u64,
}

/// Whether the plan may be applied without an override.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Safety {
    /// No violations.
    pub safe: bool,
    /// The limits broken.
    pub violations: Vec<Violation>,
}

/// Digests tie a plan to the inputs it was made from.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Digests {
    /// sha256 of the configuration files.
    pub config: String,
    /// The git commit of the configuration, when it is in a repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_commit: Option<String>,
    /// sha256 of the source snapshot.
    pub source: String,
    /// sha256 of the target snapshot: apply refuses the plan when the target changed since.
    pub target: String,
}

/// The plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Plan {
    /// Version of this format.
    pub format_version: u32,
    /// When the plan was made (RFC 3339).
    pub created_at: String,
    /// orgsync version that made it.
    pub orgsync_version: String,
    /// The day the plan was made for (`--at`), in the configured time zone.
    #[schemars(with = "String")]
    pub at: Date,
    /// Count of actions per kind (every kind present, zeros included).
    pub summary: BTreeMap<ActionKind, usize>,
    /// People in scope whom this plan leaves as they are until someone decides, by reason (the
    /// diagnostic kind that says why: `unmapped_community`, `duplicate_email`, `missing_email`,
    /// `no_community`, `adoptable_account`, …). Empty when no one is held.
    #[serde(default)]
    pub held: BTreeMap<DiagnosticKind, usize>,
    /// Actions in apply order.
    pub actions: Vec<Action>,
    /// What the target cannot do and a person must do by hand, in apply order of the actions
    /// they stand in for. Absent when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manual_steps: Vec<ManualStep>,
    /// Diagnostics, most severe first.
    pub diagnostics: Vec<Diagnostic>,
    /// Safety verdict.
    pub safety: Safety,
    /// Input digests.
    pub digests: Digests,
}

impl Plan {
    /// True when the plan would change something, or asks for a manual step: a plan with manual
    /// steps is never "no changes".
    pub fn has_changes(&self) -> bool {
        !self.actions.is_empty() || !self.manual_steps.is_empty()
    }

    /// True when the plan has actions for orgsync to execute.
    pub fn has_actions(&self) -> bool {
        !self.actions.is_empty()
    }

    /// Number of subjects over all manual steps.
    pub fn manual_step_count(&self) -> usize {
        self.manual_steps.iter().map(|m| m.count).sum()
    }

    /// True when a diagnostic of severity error is present: such a plan must not be applied.
    pub fn has_errors(&self) -> bool {
        self.error_count() > 0
    }

    /// Number of people in scope this plan holds, whatever the reason.
    pub fn held_count(&self) -> usize {
        self.held.values().sum()
    }

    /// Number of diagnostics of severity error.
    pub fn error_count(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    /// The summary recomputed from the actions.
    pub fn count_actions(actions: &[Action]) -> BTreeMap<ActionKind, usize> {
        let mut summary: BTreeMap<ActionKind, usize> =
            ActionKind::ALL.iter().map(|k| (*k, 0)).collect();
        for a in actions {
            *summary.entry(a.kind).or_default() += 1;
        }
        summary
    }
}
