//! The plan vocabulary — [`Plan`], [`Action`], [`Diagnostic`] — on the ground floor, so that
//! config, scope and mapping can speak it without depending on the plan engine. The plan is a value
//! (octoDNS, sync-team). The engine builds it, renderers print it, apply
//! executes it, and its JSON form is a stable contract (`format_version`).

mod action;

use std::collections::BTreeMap;

use jiff::civil::Date;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use action::*;

/// Version of the plan JSON format. Bumped only on incompatible changes.
pub const FORMAT_VERSION: u32 = 1;

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
    /// The source listing missed people the source still has when asked for each one directly
    /// (a page cut off, a filter gone wrong): their accounts are kept, not removed.
    ListingIncomplete,
    /// An account orgsync does not manage (invited by hand) has the e-mail address of a person
    /// who left: it keeps its access, and orgsync never touches it; a person should look.
    UnmanagedLeaver,
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
            DiagnosticKind::ListingIncomplete => "listing_incomplete",
            DiagnosticKind::UnmanagedLeaver => "unmanaged_leaver",
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
    /// The people (source identifiers) it is about when it is about several: how `explain`
    /// finds a person's diagnostics without reading the message.
    #[serde(skip)]
    #[schemars(skip)]
    pub concerns: Concerns,
}

/// Who a diagnostic is about, as the plan that made it knows. Not part of the plan JSON: a saved
/// plan's diagnostics name no one here, so two diagnostics that differ only in it are equal.
#[derive(Debug, Clone, Default)]
pub struct Concerns(pub Vec<String>);

impl Concerns {
    /// True when it names `id`.
    pub fn contains(&self, id: &str) -> bool {
        self.0.iter().any(|c| c == id)
    }
}

impl PartialEq for Concerns {
    fn eq(&self, _: &Concerns) -> bool {
        true
    }
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
    /// The git commit of the configuration the plan compared with (a pull request's base, or
    /// the configuration of the newest apply): the changes that follow from the difference are
    /// `cause: configuration`. Absent: none, every change is the source's. A re-plan (apply of
    /// the file, apply on merge) compares with the same one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_config_commit: Option<String>,
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
            *summary.entry(a.kind()).or_default() += 1;
        }
        summary
    }
}
