//! The domain: people in the source, accounts and groups in the target, and snapshots of both.
//! Connectors produce these; the pure core (scope → mapping → plan) consumes them.

use std::collections::BTreeMap;

use jiff::civil::Date;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Someone in the source system.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Person {
    /// Source identifier (employee number). Unique in a snapshot.
    pub id: String,
    /// Work e-mail address.
    pub email: Option<String>,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// First day of employment, when known.
    pub start: Option<Date>,
    /// Last day of employment (inclusive), when it ends.
    pub end: Option<Date>,
    /// Source community identifiers.
    pub communities: Vec<String>,
    /// Source function identifiers.
    pub functions: Vec<String>,
    /// Source department identifiers.
    pub departments: Vec<String>,
    /// Source identifier of the manager.
    pub manager: Option<String>,
    /// Free attributes (contract type, …), for exclusion rules.
    pub attributes: BTreeMap<String, String>,
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
