//! The domain: people in the source, accounts and groups in the target, and snapshots of both.
//! Connectors produce these; the pure core (scope → mapping → plan) consumes them.

use std::collections::BTreeMap;

use jiff::civil::Date;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Someone in the source system.
///
/// HR systems return one row per employment, ended ones included: the person's own fields come
/// from those rows, and each row is one [`Employment`]. Only the employments that are current on
/// the plan's day (or, for someone not yet employed, the first upcoming ones) place a person; see
/// [`crate::scope`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Person {
    /// Source identifier (employee number). Unique in a snapshot.
    pub id: String,
    /// Work e-mail address.
    pub email: Option<String>,
    /// Other e-mail addresses that rows with this identifier give: two people share one
    /// identifier, or the export is inconsistent. Such a person is held.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicting_emails: Vec<String>,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Employments, one per source row, in source order; ended ones included.
    pub employments: Vec<Employment>,
    /// Source identifier of the manager.
    pub manager: Option<String>,
    /// Free attributes (contract type, …), for exclusion rules.
    pub attributes: BTreeMap<String, String>,
}

/// One employment of a person: a source row's dates and placement.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Employment {
    /// First day, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<Date>,
    /// Last day (inclusive), when it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<Date>,
    /// Source community identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub community: Option<String>,
    /// Source function identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// Source department identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
}

impl Person {
    /// The person as export rows: one per employment, or a single row without employment data
    /// for someone who has none (how the emulators and the generator write an export).
    pub fn rows(&self) -> &[Employment] {
        if self.employments.is_empty() {
            std::slice::from_ref(&NO_EMPLOYMENT)
        } else {
            &self.employments
        }
    }
}

static NO_EMPLOYMENT: Employment = Employment {
    start: None,
    end: None,
    community: None,
    function: None,
    department: None,
};

impl Employment {
    /// True when the employment runs on `day` (both ends inclusive; open ends are open).
    pub fn is_current(&self, day: Date) -> bool {
        self.start.is_none_or(|s| s <= day) && self.end.is_none_or(|e| e >= day)
    }
}

/// A community, function or department as the source knows it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct SourceGroup {
    /// The source identifier: the only thing orgsync compares.
    pub id: String,
    /// Its name, for display and for creating target groups.
    pub name: String,
}

/// Everything read from the source.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SourceSnapshot {
    /// People, in source order.
    pub persons: Vec<Person>,
    /// Communities (locations, organisational units).
    pub communities: Vec<SourceGroup>,
    /// Functions.
    pub functions: Vec<SourceGroup>,
    /// Departments.
    pub departments: Vec<SourceGroup>,
    /// Source identifiers the listing did not hold but the source confirmed when asked for each
    /// one directly ([`crate::connector::Source::lookup`]): the listing was cut. Their accounts
    /// are kept, never removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unlisted: Vec<String>,
    /// People the source says left and leaves out of `persons` (Google: suspended and archived
    /// users), so that a plan can warn about an account orgsync does not manage that still
    /// carries a leaver's address ([`crate::identity::unmanaged_leavers`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left: Vec<LeftPerson>,
}

/// A person the source lists as gone (not in scope, not in `persons`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftPerson {
    /// Their source identifier.
    pub id: String,
    /// Their e-mail address.
    pub email: String,
}

/// Lifecycle of a target account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// Invited or active.
    #[default]
    Active,
    /// Deactivated; can be restored until it is anonymized.
    Removed,
    /// Personal data blanked for good.
    Anonymized,
}

/// A user in the target.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Account {
    /// The target's id for this account.
    pub id: String,
    /// The source identifier of the person, for managed accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// E-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// First name.
    #[serde(default)]
    pub first_name: String,
    /// Last name.
    #[serde(default)]
    pub last_name: String,
    /// Created or adopted by orgsync. orgsync never changes an unmanaged account.
    #[serde(default)]
    pub managed: bool,
    /// Lifecycle state.
    #[serde(default)]
    pub status: AccountStatus,
    /// When it was removed (for retention).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub removed_at: Option<Date>,
    /// Ids of the target communities it belongs to.
    #[serde(default)]
    pub communities: Vec<String>,
    /// Ids of the target function groups it belongs to.
    #[serde(default)]
    pub function_groups: Vec<String>,
    /// The target forbids managing it (Revolut's business owner): it is protected whatever
    /// `protected` says — never adopted, changed or removed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protected: bool,
}

/// A community or function group in the target.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct TargetGroup {
    /// The target's id.
    pub id: String,
    /// Its name. Sync never renames an existing group.
    pub name: String,
    /// Source identifiers recorded on the group (set when orgsync created it): a group that
    /// carries an identifier is mapped to it even without a YAML mapping.
    #[serde(default)]
    pub source_ids: Vec<String>,
    /// Created by orgsync (only managed groups are ever removed).
    #[serde(default)]
    pub managed: bool,
}

/// Everything read from the target.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct TargetSnapshot {
    /// Accounts.
    #[serde(default)]
    pub accounts: Vec<Account>,
    /// Communities.
    #[serde(default)]
    pub communities: Vec<TargetGroup>,
    /// Function groups.
    #[serde(default)]
    pub function_groups: Vec<TargetGroup>,
}

/// Writes a workspace as JSON with one record per line: small, and a change to one account is a
/// one-line diff. Readable by `serde_json` as a [`TargetSnapshot`].
pub fn write_workspace<W: std::io::Write>(
    w: &mut W,
    state: &TargetSnapshot,
) -> std::io::Result<()> {
    fn list<W: std::io::Write, T: Serialize>(
        w: &mut W,
        key: &str,
        items: &[T],
    ) -> std::io::Result<()> {
        write!(w, "  \"{key}\": [")?;
        for (i, item) in items.iter().enumerate() {
            w.write_all(if i == 0 { b"\n    " } else { b",\n    " })?;
            serde_json::to_writer(&mut *w, item)?;
        }
        if items.is_empty() {
            w.write_all(b"]")
        } else {
            w.write_all(b"\n  ]")
        }
    }
    w.write_all(b"{\n")?;
    list(w, "accounts", &state.accounts)?;
    w.write_all(b",\n")?;
    list(w, "communities", &state.communities)?;
    w.write_all(b",\n")?;
    list(w, "function_groups", &state.function_groups)?;
    w.write_all(b"\n}\n")
}
