//! What a target system can do through its API: the seam between the connectors, which know
//! their system, and the pure engine, which plans only what the target can do.
//!
//! Each [`Target`](crate::connector::Target) declares its [`TargetCapabilities`]; the pipeline
//! passes them to the engine as data (the engine does no I/O and names no connector). Whatever a
//! plan would need beyond them becomes a **manual step** ([`crate::vocabulary::ManualStep`]) with
//! a `manual_step` diagnostic: never skipped silently, never executed, never reported as done.
//! The rules that turn actions into manual steps live in [`crate::plan::manual`].

/// How a target takes an account away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Soft removal: the account is deactivated with `removed_at`, kept `retention_days`, then
    /// anonymized (the Oneteam model, SCIM `active: false`).
    Deactivate,
    /// The account is deleted for good: no retention, no restore on the target's side, so a
    /// rehire is a new invitation (Revolut Business). Removals still count against the removal
    /// limit, and each one says "removes access for good".
    Delete,
    /// The API cannot take an account away: every removal is a manual step.
    None,
}

/// Which person fields a target can write on an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WritableFields {
    /// First name.
    pub first_name: bool,
    /// Last name.
    pub last_name: bool,
    /// E-mail address (of an existing account; an invite always carries it).
    pub email: bool,
    /// The person's manager.
    pub manager: bool,
}

impl WritableFields {
    /// Names and e-mail address, no manager.
    pub const NAMES_AND_EMAIL: WritableFields = WritableFields {
        first_name: true,
        last_name: true,
        email: true,
        manager: false,
    };
}

/// What a target can do. The engine plans only this; the rest is listed as manual steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetCapabilities {
    /// The system's name for people, in manual steps: "Revolut", "the SCIM server".
    pub system: String,
    /// Communities can be created, re-keyed, removed, and accounts placed in them.
    pub communities: bool,
    /// Function groups can be created, re-keyed, removed, and accounts placed in them.
    pub function_groups: bool,
    /// Groups (of the kinds above) can be created, re-keyed and removed. Without it the target's
    /// existing groups are only assigned (Revolut roles): a group to create is a manual step, and
    /// memberships of it are left out of the actions until it exists.
    pub create_groups: bool,
    /// How an account is taken away.
    pub removal: Removal,
    /// A removed account can be reactivated (within retention).
    pub restore: bool,
    /// The target can notify a person of a transfer (a move with `notify: true`).
    pub notify: bool,
    /// The person fields it can write.
    pub fields: WritableFields,
    /// Create-only: the target only receives new records (AFAS applicants). No update, move,
    /// restore, removal or anonymization is planned: each becomes a manual step.
    pub create_only: bool,
    /// An account's function groups can be changed after its invite. Off (Revolut: a role is
    /// given with the invitation, and changed in the Revolut Business app only), a change of an
    /// existing account's function groups is a manual step naming the new one.
    pub change_function_groups: bool,
    /// An account is in exactly one function group (Revolut: one role per member): an invite
    /// whose functions map onto several is a manual step, and a plan never gives a set.
    pub one_function_group: bool,
}

impl TargetCapabilities {
    /// Everything orgsync plans: the Oneteam model (the `file` target), with names, e-mail,
    /// groups, soft removal with retention, restore and transfer e-mails. No manager.
    pub fn everything(system: &str) -> TargetCapabilities {
        TargetCapabilities {
            system: system.to_owned(),
            communities: true,
            function_groups: true,
            create_groups: true,
            removal: Removal::Deactivate,
            restore: true,
            notify: true,
            fields: WritableFields::NAMES_AND_EMAIL,
            create_only: false,
            change_function_groups: true,
            one_function_group: false,
        }
    }
}

impl Default for TargetCapabilities {
    /// [`TargetCapabilities::everything`] for "the target".
    fn default() -> Self {
        TargetCapabilities::everything("the target")
    }
}
