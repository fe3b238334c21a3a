//! An action of the plan, typed: each kind carries its own payload ([`Changes`]), so a target
//! matches on the variants and the compiler — not a string key — tells it that a field exists.
//! The JSON form is the plan contract, unchanged: `changes: {field: {from, to}}` with the fields in
//! name order. [`Changes::fields`] is the one place that turns a payload into that form (the JSON,
//! and the detail lines renderers print); [`Changes::from_wire`] is the one place that reads it
//! back, strictly — a field the kind does not have, or a value of the wrong type, is refused.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use jiff::civil::Date;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

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
    /// A group orgsync does not manage (made by hand, and no mapping names it): its membership
    /// is kept as it is, listed so that a target writing the whole list keeps it. Plans do not
    /// show it among the person's communities or function groups.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub foreign: bool,
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

// As the plan JSON writes it: `{from, to}`, any JSON values; the wire form of a `FieldChange`.
/// One field's change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Change {
    /// Current value (`null` when none).
    pub from: Value,
    /// Desired value.
    pub to: Value,
}

/// One field's change, typed: what the target holds (`from`) and what it will hold (`to`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange<T> {
    /// What the account or group holds now.
    pub from: T,
    /// What it will hold.
    pub to: T,
}

impl<T> FieldChange<T> {
    /// A change from `from` to `to`.
    pub fn new(from: T, to: T) -> FieldChange<T> {
        FieldChange { from, to }
    }
}

/// Create a community or a function group (`create_community`, `create_function_group`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateGroup {
    /// The group's name.
    pub name: String,
    /// The source identifiers it stands for (recorded on the group).
    pub source_ids: Vec<String>,
}

/// Record new source identifiers on a managed group whose identifiers vanished while a new one
/// carries its name (`update_community`, `update_function_group`): re-keyed, never duplicated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rekey {
    /// The recorded identifiers, before and after.
    pub source_ids: FieldChange<Vec<String>>,
}

/// Remove a group orgsync created (`remove_community`, `remove_function_group`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoveGroup {
    /// The group's name.
    pub name: String,
}

/// Create a managed account: the target invites the person. Every field is what the new account
/// gets; `None` is a field the invite does not write.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Invite {
    /// The address the target invites (always written).
    pub email: Option<String>,
    /// The person's source identifier, recorded on the account (its ownership record), when
    /// nothing else keeps it.
    pub external_id: Option<String>,
    /// First name, when managed and the target takes it.
    pub first_name: Option<String>,
    /// Last name, likewise.
    pub last_name: Option<String>,
    /// The manager's source identifier (`Some(None)`: none), when `manager` is managed.
    pub manager: Option<Option<String>>,
    /// The communities to place the account in, when communities are synced.
    pub communities: Option<Vec<GroupRef>>,
    /// The function groups, when function groups are synced.
    pub function_groups: Option<Vec<GroupRef>>,
    /// Create-only targets (AFAS applicants): a keyed digest of exactly what will be sent.
    pub applicant: Option<String>,
}

/// The managed fields of an existing account that differ from the source (updates and
/// restores). `None` is a field that does not change.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccountEdit {
    /// An unmanaged account is adopted: it becomes managed (`managed: false → true`).
    pub adopt: bool,
    /// The source identifier recorded on the account.
    pub external_id: Option<FieldChange<Option<String>>>,
    /// First name.
    pub first_name: Option<FieldChange<String>>,
    /// Last name.
    pub last_name: Option<FieldChange<String>>,
    /// E-mail address.
    pub email: Option<FieldChange<Option<String>>>,
    /// Function groups: the whole lists (memberships of groups orgsync does not manage are in
    /// both).
    pub function_groups: Option<FieldChange<Vec<GroupRef>>>,
}

impl AccountEdit {
    /// True when nothing changes.
    pub fn is_empty(&self) -> bool {
        let AccountEdit {
            adopt,
            external_id,
            first_name,
            last_name,
            email,
            function_groups,
        } = self;
        !adopt
            && external_id.is_none()
            && first_name.is_none()
            && last_name.is_none()
            && email.is_none()
            && function_groups.is_none()
    }

    /// The plan's names of the fields that change, in name order (as the JSON lists them).
    pub fn field_names(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let AccountEdit {
            adopt,
            external_id,
            first_name,
            last_name,
            email,
            function_groups,
        } = self;
        if email.is_some() {
            out.push(Field::Email.as_str());
        }
        if external_id.is_some() {
            out.push(Field::ExternalId.as_str());
        }
        if first_name.is_some() {
            out.push(Field::FirstName.as_str());
        }
        if function_groups.is_some() {
            out.push(Field::FunctionGroups.as_str());
        }
        if last_name.is_some() {
            out.push(Field::LastName.as_str());
        }
        if *adopt {
            out.push(Field::Managed.as_str());
        }
        out
    }
}

/// Managed fields differ (`update`); or a removed account that has no removal date gets one, so
/// that retention starts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Update {
    /// The fields that change.
    pub edit: AccountEdit,
    /// A removal date recorded on a removed account that had none (`removed_at: null → date`).
    pub removed_at: Option<Date>,
}

/// Community memberships change (`move`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    /// The whole lists (memberships of groups orgsync does not manage are in both).
    pub communities: FieldChange<Vec<GroupRef>>,
    /// The target e-mails the person about the transfer.
    pub notify: bool,
}

/// A removed account whose person is back: reactivated (`status: removed → active`), no new
/// invite.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Restore {
    /// The fields that change as well.
    pub edit: AccountEdit,
    /// The removal date the account had (cleared).
    pub removed_at: Option<Date>,
    /// Community memberships, when they change as well.
    pub communities: Option<FieldChange<Vec<GroupRef>>>,
}

/// Take a managed account away (`status: active → removed`, or `deleted` on a target that
/// keeps no removed accounts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remove {
    /// Deleted for good (the target keeps no removed account: no retention, no restore).
    pub permanent: bool,
    /// The removal date recorded (deactivation only).
    pub removed_at: Option<Date>,
}

/// Blank a removed account's personal data for good (`status: removed → anonymized`). Each
/// `Some` is a value the account holds now and loses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Anonymize {
    /// E-mail address.
    pub email: Option<String>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// The recorded source identifier.
    pub external_id: Option<String>,
    /// Memberships of managed communities, dropped (`to` is empty): kept while the account was
    /// removed (retention), they go with its personal data.
    pub communities: Option<FieldChange<Vec<GroupRef>>>,
    /// Memberships of managed function groups, dropped likewise.
    pub function_groups: Option<FieldChange<Vec<GroupRef>>>,
}

/// What an invite, an update, a move or a restore writes to an account: each `Some` is written,
/// everything else stays as it is. Targets write accounts from this and destructure it whole, so
/// a field added to a payload reaches every target through the compiler.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccountWrite<'a> {
    /// The account becomes managed (an adoption).
    pub adopt: bool,
    /// The source identifier recorded on the account (`Some(None)`: cleared).
    pub external_id: Option<Option<&'a str>>,
    /// E-mail address (`Some(None)`: cleared).
    pub email: Option<Option<&'a str>>,
    /// First name.
    pub first_name: Option<&'a str>,
    /// Last name.
    pub last_name: Option<&'a str>,
    /// The manager's source identifier (`Some(None)`: none).
    pub manager: Option<Option<&'a str>>,
    /// Reactivated (a restore).
    pub reactivate: bool,
    /// The removal date: recorded (`Some(Some(day))`) or cleared (`Some(None)`, a restore).
    pub removed_at: Option<Option<Date>>,
    /// The communities the account is in afterwards (all of them: memberships of groups orgsync
    /// does not manage are in the list).
    pub communities: Option<&'a [GroupRef]>,
    /// The function groups afterwards, likewise.
    pub function_groups: Option<&'a [GroupRef]>,
    /// The target e-mails the person about a transfer.
    pub notify: bool,
    /// Create-only targets: the digest of what is sent.
    pub applicant: Option<&'a str>,
}

impl<'a> AccountWrite<'a> {
    fn edit(edit: &'a AccountEdit) -> AccountWrite<'a> {
        let AccountEdit {
            adopt,
            external_id,
            first_name,
            last_name,
            email,
            function_groups,
        } = edit;
        AccountWrite {
            adopt: *adopt,
            external_id: external_id.as_ref().map(|c| c.to.as_deref()),
            email: email.as_ref().map(|c| c.to.as_deref()),
            first_name: first_name.as_ref().map(|c| c.to.as_str()),
            last_name: last_name.as_ref().map(|c| c.to.as_str()),
            function_groups: function_groups.as_ref().map(|c| c.to.as_slice()),
            ..AccountWrite::default()
        }
    }
}

/// What an action changes: one variant per [`ActionKind`], each with its own payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changes {
    /// `create_community`.
    CreateCommunity(CreateGroup),
    /// `create_function_group`.
    CreateFunctionGroup(CreateGroup),
    /// `update_community`: a re-key.
    UpdateCommunity(Rekey),
    /// `update_function_group`: a re-key.
    UpdateFunctionGroup(Rekey),
    /// `invite`.
    Invite(Invite),
    /// `update`.
    Update(Update),
    /// `move`.
    Move(Move),
    /// `restore`.
    Restore(Restore),
    /// `remove`.
    Remove(Remove),
    /// `anonymize`.
    Anonymize(Anonymize),
    /// `remove_community`.
    RemoveCommunity(RemoveGroup),
    /// `remove_function_group`.
    RemoveFunctionGroup(RemoveGroup),
}

/// A field of the plan JSON's `changes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// `applicant`
    Applicant,
    /// `communities`
    Communities,
    /// `email`
    Email,
    /// `external_id`
    ExternalId,
    /// `first_name`
    FirstName,
    /// `function_groups`
    FunctionGroups,
    /// `last_name`
    LastName,
    /// `managed`
    Managed,
    /// `manager`
    Manager,
    /// `name`
    Name,
    /// `notify`
    Notify,
    /// `removed_at`
    RemovedAt,
    /// `source_ids`
    SourceIds,
    /// `status`
    Status,
}

impl Field {
    /// The name in the plan JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Applicant => "applicant",
            Field::Communities => "communities",
            Field::Email => "email",
            Field::ExternalId => "external_id",
            Field::FirstName => "first_name",
            Field::FunctionGroups => "function_groups",
            Field::LastName => "last_name",
            Field::Managed => "managed",
            Field::Manager => "manager",
            Field::Name => "name",
            Field::Notify => "notify",
            Field::RemovedAt => "removed_at",
            Field::SourceIds => "source_ids",
            Field::Status => "status",
        }
    }
}

/// A value in a field's change, borrowed from the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValue<'a> {
    /// Nothing (`null`).
    Null,
    /// Text: a name, an address, an identifier, a status.
    Text(&'a str),
    /// A flag.
    Bool(bool),
    /// A day.
    Date(Date),
    /// Group references.
    Groups(&'a [GroupRef]),
    /// Source identifiers.
    Ids(&'a [String]),
}

impl FieldValue<'_> {
    /// `Text`, or `Null` for `None`.
    fn text(v: Option<&str>) -> FieldValue<'_> {
        v.map_or(FieldValue::Null, FieldValue::Text)
    }

    /// True for `Null`.
    pub fn is_null(&self) -> bool {
        matches!(self, FieldValue::Null)
    }

    /// The value as the plan JSON writes it.
    pub fn to_json(&self) -> Value {
        match *self {
            FieldValue::Null => Value::Null,
            FieldValue::Text(s) => Value::String(s.to_owned()),
            FieldValue::Bool(b) => Value::Bool(b),
            FieldValue::Date(d) => Value::String(d.to_string()),
            FieldValue::Groups(g) => serde_json::to_value(g).unwrap_or_default(),
            FieldValue::Ids(ids) => {
                Value::Array(ids.iter().map(|s| Value::String(s.clone())).collect())
            }
        }
    }
}

impl Serialize for FieldValue<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            FieldValue::Null => s.serialize_unit(),
            FieldValue::Text(t) => s.serialize_str(t),
            FieldValue::Bool(b) => s.serialize_bool(b),
            FieldValue::Date(d) => d.serialize(s),
            FieldValue::Groups(g) => g.serialize(s),
            FieldValue::Ids(ids) => ids.serialize(s),
        }
    }
}

/// One field of an action's changes, as the plan shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDiff<'a> {
    /// Which field.
    pub field: Field,
    /// What it holds now.
    pub from: FieldValue<'a>,
    /// What it will hold.
    pub to: FieldValue<'a>,
}

impl Serialize for FieldDiff<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Change", 2)?;
        st.serialize_field("from", &self.from)?;
        st.serialize_field("to", &self.to)?;
        st.end()
    }
}

/// Status values of the plan JSON.
const ACTIVE: &str = "active";
const REMOVED: &str = "removed";
const DELETED: &str = "deleted";
const ANONYMIZED: &str = "anonymized";

impl Changes {
    /// The kind of action these changes make.
    pub fn kind(&self) -> ActionKind {
        match self {
            Changes::CreateCommunity(_) => ActionKind::CreateCommunity,
            Changes::CreateFunctionGroup(_) => ActionKind::CreateFunctionGroup,
            Changes::UpdateCommunity(_) => ActionKind::UpdateCommunity,
            Changes::UpdateFunctionGroup(_) => ActionKind::UpdateFunctionGroup,
            Changes::Invite(_) => ActionKind::Invite,
            Changes::Update(_) => ActionKind::Update,
            Changes::Move(_) => ActionKind::Move,
            Changes::Restore(_) => ActionKind::Restore,
            Changes::Remove(_) => ActionKind::Remove,
            Changes::Anonymize(_) => ActionKind::Anonymize,
            Changes::RemoveCommunity(_) => ActionKind::RemoveCommunity,
            Changes::RemoveFunctionGroup(_) => ActionKind::RemoveFunctionGroup,
        }
    }

    /// The changes of a `kind` action that does nothing beyond what the kind itself does: an
    /// invite without fields, an update of nothing, a removal without a date, a group without a
    /// name. For tests that need an action of each kind.
    #[doc(hidden)]
    pub fn bare(kind: ActionKind) -> Changes {
        let group = || CreateGroup {
            name: String::new(),
            source_ids: Vec::new(),
        };
        let rekey = || Rekey {
            source_ids: FieldChange::new(Vec::new(), Vec::new()),
        };
        let gone = || RemoveGroup {
            name: String::new(),
        };
        match kind {
            ActionKind::CreateCommunity => Changes::CreateCommunity(group()),
            ActionKind::CreateFunctionGroup => Changes::CreateFunctionGroup(group()),
            ActionKind::UpdateCommunity => Changes::UpdateCommunity(rekey()),
            ActionKind::UpdateFunctionGroup => Changes::UpdateFunctionGroup(rekey()),
            ActionKind::Invite => Changes::Invite(Invite::default()),
            ActionKind::Update => Changes::Update(Update::default()),
            ActionKind::Move => Changes::Move(Move {
                communities: FieldChange::new(Vec::new(), Vec::new()),
                notify: false,
            }),
            ActionKind::Restore => Changes::Restore(Restore::default()),
            ActionKind::Remove => Changes::Remove(Remove {
                permanent: false,
                removed_at: None,
            }),
            ActionKind::Anonymize => Changes::Anonymize(Anonymize::default()),
            ActionKind::RemoveCommunity => Changes::RemoveCommunity(gone()),
            ActionKind::RemoveFunctionGroup => Changes::RemoveFunctionGroup(gone()),
        }
    }

    /// The account fields an update or a restore changes.
    pub fn edit(&self) -> Option<&AccountEdit> {
        match self {
            Changes::Update(u) => Some(&u.edit),
            Changes::Restore(r) => Some(&r.edit),
            _ => None,
        }
    }

    /// What an invite, an update, a move or a restore writes to its account; `None` for the
    /// other kinds.
    pub fn account_write(&self) -> Option<AccountWrite<'_>> {
        Some(match self {
            Changes::Invite(i) => {
                let Invite {
                    email,
                    external_id,
                    first_name,
                    last_name,
                    manager,
                    communities,
                    function_groups,
                    applicant,
                } = i;
                AccountWrite {
                    email: Some(email.as_deref()),
                    external_id: Some(external_id.as_deref()),
                    first_name: first_name.as_deref(),
                    last_name: last_name.as_deref(),
                    manager: manager.as_ref().map(Option::as_deref),
                    communities: communities.as_deref(),
                    function_groups: function_groups.as_deref(),
                    applicant: applicant.as_deref(),
                    ..AccountWrite::default()
                }
            }
            Changes::Update(u) => {
                let Update { edit, removed_at } = u;
                AccountWrite {
                    removed_at: removed_at.map(Some),
                    ..AccountWrite::edit(edit)
                }
            }
            Changes::Move(m) => {
                let Move {
                    communities,
                    notify,
                } = m;
                AccountWrite {
                    communities: Some(&communities.to),
                    notify: *notify,
                    ..AccountWrite::default()
                }
            }
            Changes::Restore(r) => {
                let Restore {
                    edit,
                    removed_at,
                    communities,
                } = r;
                AccountWrite {
                    reactivate: true,
                    removed_at: removed_at.map(|_| None),
                    communities: communities.as_ref().map(|c| c.to.as_slice()),
                    ..AccountWrite::edit(edit)
                }
            }
            _ => return None,
        })
    }

    /// True when the action makes an unmanaged account managed (an adoption).
    pub fn adopts(&self) -> bool {
        self.edit().is_some_and(|e| e.adopt)
    }

    /// Every field that changes, in name order: the plan JSON's `changes`, and the detail lines
    /// renderers print. The one place a payload becomes fields.
    pub fn fields<'a>(&'a self) -> Vec<FieldDiff<'a>> {
        use FieldValue as V;
        let mut out: Vec<FieldDiff<'a>> = Vec::new();
        let mut push = |field: Field, from: FieldValue<'a>, to: FieldValue<'a>| {
            out.push(FieldDiff { field, from, to });
        };
        match self {
            Changes::CreateCommunity(g) | Changes::CreateFunctionGroup(g) => {
                let CreateGroup { name, source_ids } = g;
                push(Field::Name, V::Null, V::Text(name));
                push(Field::SourceIds, V::Ids(&[]), V::Ids(source_ids));
            }
            Changes::UpdateCommunity(r) | Changes::UpdateFunctionGroup(r) => {
                let Rekey { source_ids } = r;
                push(
                    Field::SourceIds,
                    V::Ids(&source_ids.from),
                    V::Ids(&source_ids.to),
                );
            }
            Changes::RemoveCommunity(g) | Changes::RemoveFunctionGroup(g) => {
                let RemoveGroup { name } = g;
                push(Field::Name, V::Text(name), V::Null);
            }
            Changes::Invite(i) => {
                let Invite {
                    email,
                    external_id,
                    first_name,
                    last_name,
                    manager,
                    communities,
                    function_groups,
                    applicant,
                } = i;
                push(Field::Email, V::Null, V::text(email.as_deref()));
                push(Field::ExternalId, V::Null, V::text(external_id.as_deref()));
                if let Some(v) = first_name {
                    push(Field::FirstName, V::Null, V::Text(v));
                }
                if let Some(v) = last_name {
                    push(Field::LastName, V::Null, V::Text(v));
                }
                if let Some(v) = manager {
                    push(Field::Manager, V::Null, V::text(v.as_deref()));
                }
                if let Some(v) = communities {
                    push(Field::Communities, V::Groups(&[]), V::Groups(v));
                }
                if let Some(v) = function_groups {
                    push(Field::FunctionGroups, V::Groups(&[]), V::Groups(v));
                }
                if let Some(v) = applicant {
                    push(Field::Applicant, V::Null, V::Text(v));
                }
            }
            Changes::Update(u) => {
                let Update { edit, removed_at } = u;
                edit_fields(edit, &mut push);
                if let Some(d) = removed_at {
                    push(Field::RemovedAt, V::Null, V::Date(*d));
                }
            }
            Changes::Move(m) => {
                let Move {
                    communities,
                    notify,
                } = m;
                push(
                    Field::Communities,
                    V::Groups(&communities.from),
                    V::Groups(&communities.to),
                );
                push(Field::Notify, V::Null, V::Bool(*notify));
            }
            Changes::Restore(r) => {
                let Restore {
                    edit,
                    removed_at,
                    communities,
                } = r;
                edit_fields(edit, &mut push);
                push(Field::Status, V::Text(REMOVED), V::Text(ACTIVE));
                if let Some(d) = removed_at {
                    push(Field::RemovedAt, V::Date(*d), V::Null);
                }
                if let Some(c) = communities {
                    push(Field::Communities, V::Groups(&c.from), V::Groups(&c.to));
                }
            }
            Changes::Remove(r) => {
                let Remove {
                    permanent,
                    removed_at,
                } = r;
                let to = if *permanent { DELETED } else { REMOVED };
                push(Field::Status, V::Text(ACTIVE), V::Text(to));
                if let Some(d) = removed_at {
                    push(Field::RemovedAt, V::Null, V::Date(*d));
                }
            }
            Changes::Anonymize(a) => {
                let Anonymize {
                    email,
                    first_name,
                    last_name,
                    external_id,
                    communities,
                    function_groups,
                } = a;
                push(Field::Status, V::Text(REMOVED), V::Text(ANONYMIZED));
                if let Some(c) = communities {
                    push(Field::Communities, V::Groups(&c.from), V::Groups(&c.to));
                }
                if let Some(c) = function_groups {
                    push(Field::FunctionGroups, V::Groups(&c.from), V::Groups(&c.to));
                }
                for (field, v) in [
                    (Field::Email, email),
                    (Field::FirstName, first_name),
                    (Field::LastName, last_name),
                    (Field::ExternalId, external_id),
                ] {
                    if let Some(v) = v {
                        push(field, V::Text(v), V::Null);
                    }
                }
            }
        }
        out.sort_by_key(|f| f.field.as_str());
        out
    }

    /// The wire form: `{field: {from, to}}`.
    pub fn to_wire(&self) -> BTreeMap<String, Change> {
        self.fields()
            .into_iter()
            .map(|f| {
                (
                    f.field.as_str().to_owned(),
                    Change {
                        from: f.from.to_json(),
                        to: f.to.to_json(),
                    },
                )
            })
            .collect()
    }

    /// The lists of group references in the changes, in the order the JSON shows them (field
    /// name, then `to` before `from`): where placeholders are replaced.
    fn group_lists_mut(&mut self) -> Vec<&mut Vec<GroupRef>> {
        let mut lists: Vec<&mut Vec<GroupRef>> = Vec::new();
        match self {
            Changes::Invite(i) => {
                lists.extend(i.communities.as_mut());
                lists.extend(i.function_groups.as_mut());
            }
            Changes::Update(u) => {
                if let Some(c) = u.edit.function_groups.as_mut() {
                    lists.extend([&mut c.to, &mut c.from]);
                }
            }
            Changes::Move(m) => lists.extend([&mut m.communities.to, &mut m.communities.from]),
            Changes::Restore(r) => {
                if let Some(c) = r.communities.as_mut() {
                    lists.extend([&mut c.to, &mut c.from]);
                }
                if let Some(c) = r.edit.function_groups.as_mut() {
                    lists.extend([&mut c.to, &mut c.from]);
                }
            }
            Changes::Anonymize(a) => {
                if let Some(c) = a.communities.as_mut() {
                    lists.push(&mut c.from);
                }
                if let Some(c) = a.function_groups.as_mut() {
                    lists.push(&mut c.from);
                }
            }
            Changes::CreateCommunity(_)
            | Changes::CreateFunctionGroup(_)
            | Changes::UpdateCommunity(_)
            | Changes::UpdateFunctionGroup(_)
            | Changes::Remove(_)
            | Changes::RemoveCommunity(_)
            | Changes::RemoveFunctionGroup(_) => {}
        }
        lists
    }

    /// True when a group reference is a placeholder for a group the same plan creates.
    pub fn needs_new_groups(&self) -> bool {
        self.fields().iter().any(|f| {
            [f.from, f.to]
                .iter()
                .any(|v| matches!(v, FieldValue::Groups(g) if g.iter().any(GroupRef::is_new)))
        })
    }

    /// Reads the wire form of a `kind` action back, strictly: every field the kind writes, of
    /// the type it writes, and nothing else.
    pub fn from_wire(
        kind: ActionKind,
        changes: BTreeMap<String, Change>,
    ) -> Result<Changes, String> {
        let mut w = Wire(changes);
        let changes = match kind {
            ActionKind::CreateCommunity | ActionKind::CreateFunctionGroup => {
                let name = w.required(Field::Name, |c| {
                    null(&c.from)?;
                    text(&c.to)
                })?;
                let source_ids = w.required(Field::SourceIds, |c| {
                    ids(&c.from)?
                        .is_empty()
                        .then_some(())
                        .ok_or("expected []")?;
                    ids(&c.to)
                })?;
                let g = CreateGroup { name, source_ids };
                if kind == ActionKind::CreateCommunity {
                    Changes::CreateCommunity(g)
                } else {
                    Changes::CreateFunctionGroup(g)
                }
            }
            ActionKind::UpdateCommunity | ActionKind::UpdateFunctionGroup => {
                let source_ids = w.required(Field::SourceIds, |c| {
                    Ok(FieldChange::new(ids(&c.from)?, ids(&c.to)?))
                })?;
                let r = Rekey { source_ids };
                if kind == ActionKind::UpdateCommunity {
                    Changes::UpdateCommunity(r)
                } else {
                    Changes::UpdateFunctionGroup(r)
                }
            }
            ActionKind::RemoveCommunity | ActionKind::RemoveFunctionGroup => {
                let name = w.required(Field::Name, |c| {
                    null(&c.to)?;
                    text(&c.from)
                })?;
                let g = RemoveGroup { name };
                if kind == ActionKind::RemoveCommunity {
                    Changes::RemoveCommunity(g)
                } else {
                    Changes::RemoveFunctionGroup(g)
                }
            }
            ActionKind::Invite => {
                let new = |c: &Change| null(&c.from);
                let new_list = |c: &Change| {
                    groups(&c.from)?
                        .is_empty()
                        .then_some(())
                        .ok_or("expected []")?;
                    groups(&c.to)
                };
                Changes::Invite(Invite {
                    email: w.required(Field::Email, |c| {
                        new(c)?;
                        opt_text(&c.to)
                    })?,
                    external_id: w.required(Field::ExternalId, |c| {
                        new(c)?;
                        opt_text(&c.to)
                    })?,
                    first_name: w.optional(Field::FirstName, |c| {
                        new(c)?;
                        text(&c.to)
                    })?,
                    last_name: w.optional(Field::LastName, |c| {
                        new(c)?;
                        text(&c.to)
                    })?,
                    manager: w.optional(Field::Manager, |c| {
                        new(c)?;
                        opt_text(&c.to)
                    })?,
                    communities: w.optional(Field::Communities, new_list)?,
                    function_groups: w.optional(Field::FunctionGroups, new_list)?,
                    applicant: w.optional(Field::Applicant, |c| {
                        new(c)?;
                        text(&c.to)
                    })?,
                })
            }
            ActionKind::Update => {
                let edit = w.edit()?;
                let removed_at = w.optional(Field::RemovedAt, |c| {
                    null(&c.from)?;
                    date(&c.to)
                })?;
                Changes::Update(Update { edit, removed_at })
            }
            ActionKind::Move => Changes::Move(Move {
                communities: w.required(Field::Communities, group_change)?,
                notify: w.required(Field::Notify, |c| {
                    null(&c.from)?;
                    c.to.as_bool()
                        .ok_or_else(|| "expected true or false".to_owned())
                })?,
            }),
            ActionKind::Restore => {
                let edit = w.edit()?;
                w.required(Field::Status, |c| status(c, REMOVED, &[ACTIVE]))?;
                Changes::Restore(Restore {
                    edit,
                    removed_at: w.optional(Field::RemovedAt, |c| {
                        null(&c.to)?;
                        date(&c.from)
                    })?,
                    communities: w.optional(Field::Communities, group_change)?,
                })
            }
            ActionKind::Remove => {
                let to = w.required(Field::Status, |c| status(c, ACTIVE, &[REMOVED, DELETED]))?;
                Changes::Remove(Remove {
                    permanent: to == DELETED,
                    removed_at: w.optional(Field::RemovedAt, |c| {
                        null(&c.from)?;
                        date(&c.to)
                    })?,
                })
            }
            ActionKind::Anonymize => {
                w.required(Field::Status, |c| status(c, REMOVED, &[ANONYMIZED]))?;
                let gone = |c: &Change| {
                    null(&c.to)?;
                    text(&c.from)
                };
                let dropped = |c: &Change| {
                    let g = group_change(c)?;
                    if g.to.is_empty() {
                        Ok(g)
                    } else {
                        Err("expected [] after: anonymizing drops memberships".to_owned())
                    }
                };
                Changes::Anonymize(Anonymize {
                    email: w.optional(Field::Email, gone)?,
                    first_name: w.optional(Field::FirstName, gone)?,
                    last_name: w.optional(Field::LastName, gone)?,
                    external_id: w.optional(Field::ExternalId, gone)?,
                    communities: w.optional(Field::Communities, dropped)?,
                    function_groups: w.optional(Field::FunctionGroups, dropped)?,
                })
            }
        };
        w.finish(kind)?;
        Ok(changes)
    }
}

/// The fields of an account edit, for [`Changes::fields`].
fn edit_fields<'a>(
    edit: &'a AccountEdit,
    push: &mut impl FnMut(Field, FieldValue<'a>, FieldValue<'a>),
) {
    use FieldValue as V;
    let AccountEdit {
        adopt,
        external_id,
        first_name,
        last_name,
        email,
        function_groups,
    } = edit;
    if *adopt {
        push(Field::Managed, V::Bool(false), V::Bool(true));
    }
    if let Some(c) = external_id {
        push(
            Field::ExternalId,
            V::text(c.from.as_deref()),
            V::text(c.to.as_deref()),
        );
    }
    if let Some(c) = first_name {
        push(Field::FirstName, V::Text(&c.from), V::Text(&c.to));
    }
    if let Some(c) = last_name {
        push(Field::LastName, V::Text(&c.from), V::Text(&c.to));
    }
    if let Some(c) = email {
        push(
            Field::Email,
            V::text(c.from.as_deref()),
            V::text(c.to.as_deref()),
        );
    }
    if let Some(c) = function_groups {
        push(Field::FunctionGroups, V::Groups(&c.from), V::Groups(&c.to));
    }
}

/// The wire form being read: fields are taken out one by one; what is left is unknown.
struct Wire(BTreeMap<String, Change>);

impl Wire {
    fn take<T>(
        &mut self,
        field: Field,
        read: impl FnOnce(&Change) -> Result<T, String>,
    ) -> Result<Option<T>, String> {
        match self.0.remove(field.as_str()) {
            None => Ok(None),
            Some(c) => read(&c)
                .map(Some)
                .map_err(|e| format!("changes.{}: {e}", field.as_str())),
        }
    }

    fn required<T>(
        &mut self,
        field: Field,
        read: impl FnOnce(&Change) -> Result<T, String>,
    ) -> Result<T, String> {
        self.take(field, read)?
            .ok_or_else(|| format!("changes.{} is missing", field.as_str()))
    }

    fn optional<T>(
        &mut self,
        field: Field,
        read: impl FnOnce(&Change) -> Result<T, String>,
    ) -> Result<Option<T>, String> {
        self.take(field, read)
    }

    fn edit(&mut self) -> Result<AccountEdit, String> {
        let opt_text_change =
            |c: &Change| Ok(FieldChange::new(opt_text(&c.from)?, opt_text(&c.to)?));
        let text_change = |c: &Change| Ok(FieldChange::new(text(&c.from)?, text(&c.to)?));
        Ok(AccountEdit {
            adopt: self
                .optional(Field::Managed, |c| match (&c.from, &c.to) {
                    (Value::Bool(false), Value::Bool(true)) => Ok(()),
                    _ => Err("expected false → true".to_owned()),
                })?
                .is_some(),
            external_id: self.optional(Field::ExternalId, opt_text_change)?,
            first_name: self.optional(Field::FirstName, text_change)?,
            last_name: self.optional(Field::LastName, text_change)?,
            email: self.optional(Field::Email, opt_text_change)?,
            function_groups: self.optional(Field::FunctionGroups, group_change)?,
        })
    }

    fn finish(self, kind: ActionKind) -> Result<(), String> {
        match self.0.keys().next() {
            None => Ok(()),
            Some(field) => Err(format!(
                "changes.{field}: not a field a {} changes",
                kind.as_str()
            )),
        }
    }
}

fn null(v: &Value) -> Result<(), String> {
    if v.is_null() {
        Ok(())
    } else {
        Err(format!("expected null, got {v}"))
    }
}

fn text(v: &Value) -> Result<String, String> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("expected a string, got {v}"))
}

fn opt_text(v: &Value) -> Result<Option<String>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        other => Err(format!("expected a string or null, got {other}")),
    }
}

fn date(v: &Value) -> Result<Date, String> {
    text(v)?
        .parse()
        .map_err(|e| format!("expected a date (YYYY-MM-DD): {e}"))
}

fn ids(v: &Value) -> Result<Vec<String>, String> {
    serde_json::from_value(v.clone()).map_err(|e| format!("expected identifiers: {e}"))
}

fn groups(v: &Value) -> Result<Vec<GroupRef>, String> {
    serde_json::from_value(v.clone()).map_err(|e| format!("expected group references: {e}"))
}

fn group_change(c: &Change) -> Result<FieldChange<Vec<GroupRef>>, String> {
    Ok(FieldChange::new(groups(&c.from)?, groups(&c.to)?))
}

/// A status change from `from` to one of `to`; the `to` it names.
fn status(c: &Change, from: &str, to: &[&'static str]) -> Result<&'static str, String> {
    if c.from.as_str() != Some(from) {
        return Err(format!("expected \"{from}\" before, got {}", c.from));
    }
    to.iter()
        .copied()
        .find(|t| c.to.as_str() == Some(*t))
        .ok_or_else(|| format!("expected {} after, got {}", to.join(" or "), c.to))
}

/// Why an action is in the plan: what changed.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The source (HR) changed: a new hire, a leaver, a transfer, a changed name.
    #[default]
    Source,
    /// orgsync's own unfinished work: an apply stopped (killed, cut off) after it created an
    /// account and before it placed it. Finished without notifying anyone, and not counted
    /// against the safety limits: no one decided anything new.
    Completion,
    /// A change of the configuration: a mapping now maps elsewhere, a rule now includes or
    /// excludes someone. The reason names which (`community mapping 1001 now maps to Rotterdam
    /// Centrum (was Amsterdam Centrum)`). Such a move notifies only when the mapping says so
    /// (`notify: true`).
    Configuration,
    /// A hand edit in the app is undone: orgsync puts back what it placed (the apply records say
    /// where it last placed the person, and the configuration still wants them there). Never
    /// notifies.
    Repair,
}

impl Cause {
    /// True for [`Cause::Source`], the cause the plan JSON leaves unsaid.
    pub fn is_source(&self) -> bool {
        *self == Cause::Source
    }

    /// What people read: `HR`, `configuration`, `repair`, `completion`.
    pub fn label(self) -> &'static str {
        match self {
            Cause::Source => "HR",
            Cause::Completion => "completion",
            Cause::Configuration => "configuration",
            Cause::Repair => "repair",
        }
    }
}

/// One step of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// The subject's source identifier: the person's id for account actions; the source
    /// community/function identifier (or, for a fallback group, its name) for group actions.
    pub subject: String,
    /// The target id of the account or group acted on, when it exists already.
    pub target_id: Option<String>,
    /// Display name of the subject (a person's full name, a group's name).
    pub name: String,
    /// What it changes; its variant is the action's kind.
    pub changes: Changes,
    /// Why, in a sentence.
    pub reason: String,
    /// What changed, that it is planned.
    pub cause: Cause,
}

// The plan JSON form of an action: the contract (and its schema) that `Action` reads and writes.
// Its doc comments are the schema's descriptions.
/// One step of the plan.
#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "Action")]
struct ActionWire {
    /// What it does.
    kind: ActionKind,
    /// The subject's source identifier: the person's id for account actions; the source
    /// community/function identifier (or, for a fallback group, its name) for group actions.
    subject: String,
    /// The target id of the account or group acted on, when it exists already.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target_id: Option<String>,
    /// Display name of the subject (a person's full name, a group's name).
    name: String,
    /// Field changes as `{field: {from, to}}`. Fields: `email`, `first_name`, `last_name`,
    /// `communities` and `function_groups` (lists of group references), `status`, `name`,
    /// `source_ids`, `notify` (moves: whether the target sends a transfer e-mail).
    #[serde(default)]
    changes: BTreeMap<String, Change>,
    /// Why, in a sentence.
    reason: String,
    /// What changed: `configuration` for a change of the configuration (the reason names the
    /// mapping or rule; such a move e-mails only when that mapping says `notify: true`),
    /// `repair` for a hand edit in the app that orgsync undoes (never notifies), `completion` for
    /// orgsync's own unfinished work (an apply stopped after it created an account and before it
    /// placed it: finished without notifying anyone, and not counted against the safety limits).
    /// Absent: the source (HR) changed.
    #[serde(default, skip_serializing_if = "Cause::is_source")]
    cause: Cause,
}

impl Serialize for Action {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeStruct};

        struct Fields<'a>(&'a Changes);
        impl Serialize for Fields<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let fields = self.0.fields();
                let mut map = s.serialize_map(Some(fields.len()))?;
                for f in &fields {
                    map.serialize_entry(f.field.as_str(), f)?;
                }
                map.end()
            }
        }

        let n = 5 + usize::from(self.target_id.is_some()) + usize::from(!self.cause.is_source());
        let mut st = s.serialize_struct("Action", n)?;
        st.serialize_field("kind", &self.kind())?;
        st.serialize_field("subject", &self.subject)?;
        match &self.target_id {
            Some(id) => st.serialize_field("target_id", id)?,
            None => st.skip_field("target_id")?,
        }
        st.serialize_field("name", &self.name)?;
        st.serialize_field("changes", &Fields(&self.changes))?;
        st.serialize_field("reason", &self.reason)?;
        if self.cause.is_source() {
            st.skip_field("cause")?;
        } else {
            st.serialize_field("cause", &self.cause)?;
        }
        st.end()
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = ActionWire::deserialize(d)?;
        let changes = Changes::from_wire(w.kind, w.changes).map_err(|e| {
            serde::de::Error::custom(format!("{} {}: {e}", w.kind.as_str(), w.subject))
        })?;
        Ok(Action {
            subject: w.subject,
            target_id: w.target_id,
            name: w.name,
            changes,
            reason: w.reason,
            cause: w.cause,
        })
    }
}

impl JsonSchema for Action {
    fn schema_name() -> Cow<'static, str> {
        ActionWire::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        ActionWire::schema_id()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        ActionWire::json_schema(generator)
    }
}

impl Action {
    /// An action from its JSON form (what the plan file holds), read as strictly as a plan file
    /// is: every field its kind writes, of the type it writes, and nothing else.
    pub fn from_wire(
        kind: ActionKind,
        subject: impl Into<String>,
        target_id: Option<String>,
        name: impl Into<String>,
        changes: BTreeMap<String, Change>,
        reason: impl Into<String>,
    ) -> Result<Action, String> {
        Ok(Action {
            subject: subject.into(),
            target_id,
            name: name.into(),
            changes: Changes::from_wire(kind, changes)?,
            reason: reason.into(),
            cause: Cause::Source,
        })
    }

    /// What it does.
    pub fn kind(&self) -> ActionKind {
        self.changes.kind()
    }

    /// `action` with every `new:<kind>:<key>` group reference replaced by the id of the group that
    /// this apply created for it (`created`, filled by the targets' `create_*`). An action that needs
    /// a group whose creation failed (or never ran) is not attempted: the error says which.
    pub fn resolve_placeholders(
        &self,
        created: &HashMap<String, String>,
    ) -> Result<Cow<'_, Action>, String> {
        if !self.changes.needs_new_groups() {
            return Ok(Cow::Borrowed(self));
        }
        let mut action = self.clone();
        let mut missing: Option<String> = None;
        for list in action.changes.group_lists_mut() {
            for g in list.iter_mut().filter(|g| g.is_new()) {
                match created.get(&g.id) {
                    Some(id) => g.id.clone_from(id),
                    None => {
                        missing.get_or_insert_with(|| format!("\"{}\" ({})", g.name, g.id));
                    }
                }
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
