//! What an action means, executed on a [`TargetSnapshot`] in memory exactly as a workspace target
//! would. The file target persists the result; tests apply plans with it. This is the single
//! source of truth for the effect of each action kind.
//!
//! Every action is idempotent where it can be: running a plan again after a crash converges and
//! never invites anyone twice.

use std::collections::HashMap;

use jiff::civil::Date;

use crate::connector::ApplyContext;
use crate::identity::same_email;
use crate::model::{Account, AccountStatus, TargetGroup, TargetSnapshot};
use crate::vocabulary::{
    AccountWrite, Action, Changes, CreateGroup, GroupRef, Invite, Plan, Rekey,
};

/// Prefix of account ids this target hands out (`u-1`, `u-2`, …).
const ACCOUNT_PREFIX: &str = "u-";
/// Prefix of community ids this target hands out.
const COMMUNITY_PREFIX: &str = "c-";
/// Prefix of function group ids this target hands out.
const FUNCTION_GROUP_PREFIX: &str = "g-";

/// Executes one action on `state`, whose group placeholders the apply runner already replaced
/// (`create_*` actions record the ids they create in `ctx.created`).
///
/// Looks accounts up by scanning (linear, no allocation): a caller that executes many actions on
/// one large state should keep a [`MemoryTarget`], whose indexes make each action constant-time.
pub fn apply_action(
    state: &mut TargetSnapshot,
    action: &Action,
    ctx: &mut ApplyContext,
) -> Result<(), String> {
    let mut target = MemoryTarget {
        state: std::mem::take(state),
        index: None,
        simulation: false,
    };
    let result = target.apply(action, ctx);
    *state = target.into_state();
    result
}

/// Applies every action of `plan`, in its order, to a copy of `state`: the target's state after
/// the plan, as far as the model holds it (a manager or an applicant's details are left out).
/// It does not judge the plan (errors, safety, staleness): that is the caller's job.
pub fn apply_plan(
    state: &TargetSnapshot,
    plan: &Plan,
    today: Date,
) -> Result<TargetSnapshot, String> {
    let mut ctx = ApplyContext {
        interrupt: Default::default(),
        today,
        created: HashMap::new(),
        accounts: HashMap::new(),
        progress: Default::default(),
    };
    let mut target = MemoryTarget::new(state.clone());
    target.simulation = true;
    for action in &plan.actions {
        action
            .resolve_placeholders(&ctx.created)
            .and_then(|resolved| target.apply(&resolved, &mut ctx))
            .map_err(|e| format!("{} {}: {e}", action.kind().as_str(), action.subject))?;
    }
    Ok(target.into_state())
}

/// A target snapshot that executes actions, with the account indexes that make applying many
/// actions linear overall.
#[derive(Debug, Clone)]
pub struct MemoryTarget {
    state: TargetSnapshot,
    /// `None`: look accounts up by scanning (one action on a state nobody indexed).
    index: Option<AccountIndex>,
    /// A simulation of another target (`plan --diff`): fields this model does not hold (a
    /// manager, an AFAS applicant's details) are left out. As a target of its own they are
    /// refused: the workspace would silently lose them.
    simulation: bool,
}

#[derive(Debug, Clone)]
struct AccountIndex {
    /// Account id → position.
    by_id: HashMap<String, usize>,
    /// External id → positions of accounts that carried it at some point (entries are checked
    /// on use, so a stale one is harmless).
    by_external_id: HashMap<String, Vec<usize>>,
    /// Next free number for `u-<n>` account ids.
    next_account: u64,
}

impl MemoryTarget {
    /// Wraps a snapshot and indexes its accounts.
    pub fn new(state: TargetSnapshot) -> MemoryTarget {
        let mut by_id = HashMap::with_capacity(state.accounts.len());
        let mut by_external_id: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, a) in state.accounts.iter().enumerate() {
            by_id.insert(a.id.clone(), i);
            if let Some(x) = &a.external_id {
                by_external_id.entry(x.clone()).or_default().push(i);
            }
        }
        let next_account =
            next_number(state.accounts.iter().map(|a| a.id.as_str()), ACCOUNT_PREFIX);
        MemoryTarget {
            state,
            index: Some(AccountIndex {
                by_id,
                by_external_id,
                next_account,
            }),
            simulation: false,
        }
    }

    /// The current state.
    pub fn state(&self) -> &TargetSnapshot {
        &self.state
    }

    /// The final state.
    pub fn into_state(self) -> TargetSnapshot {
        self.state
    }

    /// Executes one action.
    pub fn apply(&mut self, action: &Action, ctx: &mut ApplyContext) -> Result<(), String> {
        match &action.changes {
            Changes::CreateCommunity(g) => create_group(
                &mut self.state.communities,
                COMMUNITY_PREFIX,
                g,
                action,
                ctx,
            ),
            Changes::CreateFunctionGroup(g) => create_group(
                &mut self.state.function_groups,
                FUNCTION_GROUP_PREFIX,
                g,
                action,
                ctx,
            ),
            Changes::UpdateCommunity(r) => update_group(&mut self.state.communities, r, action),
            Changes::UpdateFunctionGroup(r) => {
                update_group(&mut self.state.function_groups, r, action)
            }
            Changes::Invite(i) => self.invite(action, i),
            Changes::Update(_) | Changes::Move(_) | Changes::Restore(_) => {
                let i = self.account(action)?;
                if self.state.accounts[i].status == AccountStatus::Anonymized {
                    return Err(format!(
                        "account {} is anonymized",
                        self.state.accounts[i].id
                    ));
                }
                match action.changes.account_write() {
                    Some(write) => self.write(i, write),
                    None => Ok(()),
                }
            }
            Changes::Remove(_) => {
                let i = self.account(action)?;
                let a = &mut self.state.accounts[i];
                match a.status {
                    AccountStatus::Active => {
                        a.status = AccountStatus::Removed;
                        a.removed_at = Some(ctx.today);
                        Ok(())
                    }
                    // Already done (a rerun after a crash): keep the first removal date.
                    AccountStatus::Removed => Ok(()),
                    AccountStatus::Anonymized => Err(format!("account {} is anonymized", a.id)),
                }
            }
            Changes::Anonymize(an) => {
                let i = self.account(action)?;
                let a = &mut self.state.accounts[i];
                if let Some(c) = &an.communities {
                    a.communities.retain(|g| !c.from.iter().any(|r| &r.id == g));
                }
                if let Some(f) = &an.function_groups {
                    a.function_groups
                        .retain(|g| !f.from.iter().any(|r| &r.id == g));
                }
                a.status = AccountStatus::Anonymized;
                a.email = None;
                a.first_name.clear();
                a.last_name.clear();
                a.external_id = None;
                Ok(())
            }
            Changes::RemoveCommunity(_) => {
                let id = group_id(action)?;
                self.state.communities.retain(|g| g.id != id);
                for a in &mut self.state.accounts {
                    a.communities.retain(|c| c != id);
                }
                Ok(())
            }
            Changes::RemoveFunctionGroup(_) => {
                let id = group_id(action)?;
                self.state.function_groups.retain(|g| g.id != id);
                for a in &mut self.state.accounts {
                    a.function_groups.retain(|c| c != id);
                }
                Ok(())
            }
        }
    }

    /// The account an action acts on, by its target id.
    fn account(&self, action: &Action) -> Result<usize, String> {
        let id = action
            .target_id
            .as_deref()
            .ok_or_else(|| "the action names no account".to_owned())?;
        let found = match &self.index {
            Some(ix) => ix.by_id.get(id).copied(),
            None => self.state.accounts.iter().position(|a| a.id == id),
        };
        found.ok_or_else(|| format!("account {id} does not exist"))
    }

    /// Creates a managed account, or — when the same invite already ran (an active managed
    /// account with this external id and e-mail exists) — brings that one in line instead.
    fn invite(&mut self, action: &Action, invite: &Invite) -> Result<(), String> {
        let email = invite
            .email
            .as_deref()
            .ok_or_else(|| "an invite needs an e-mail address".to_owned())?;
        let same_invite = |a: &Account| {
            a.managed
                && a.status == AccountStatus::Active
                && a.external_id.as_deref() == Some(action.subject.as_str())
                && a.email.as_deref().is_some_and(|e| same_email(e, email))
        };
        let accounts = &self.state.accounts;
        let existing = match &self.index {
            Some(ix) => ix
                .by_external_id
                .get(&action.subject)
                .into_iter()
                .flatten()
                .copied()
                .find(|i| same_invite(&accounts[*i])),
            None => accounts.iter().position(same_invite),
        };
        let i = match existing {
            Some(i) => i,
            None => {
                let n = match &mut self.index {
                    Some(ix) => {
                        ix.next_account += 1;
                        ix.next_account - 1
                    }
                    None => next_number(accounts.iter().map(|a| a.id.as_str()), ACCOUNT_PREFIX),
                };
                let id = format!("{ACCOUNT_PREFIX}{n}");
                let i = accounts.len();
                if let Some(ix) = &mut self.index {
                    ix.by_id.insert(id.clone(), i);
                    ix.by_external_id
                        .entry(action.subject.clone())
                        .or_default()
                        .push(i);
                }
                self.state.accounts.push(Account {
                    id,
                    external_id: Some(action.subject.clone()),
                    managed: true,
                    status: AccountStatus::Active,
                    ..Account::default()
                });
                i
            }
        };
        match action.changes.account_write() {
            Some(write) => self.write(i, write),
            None => Ok(()),
        }
    }

    /// Writes what an action writes to account `i`.
    fn write(&mut self, i: usize, write: AccountWrite<'_>) -> Result<(), String> {
        let AccountWrite {
            adopt,
            external_id,
            email,
            first_name,
            last_name,
            manager,
            reactivate,
            removed_at,
            communities,
            function_groups,
            // The target's transfer e-mail: nothing to store.
            notify: _,
            applicant,
        } = write;
        if manager.is_some() && !self.simulation {
            return Err("unknown account field manager".to_owned());
        }
        if applicant.is_some() && !self.simulation {
            return Err("unknown account field applicant".to_owned());
        }
        // Resolve group references first: they are checked against the groups that exist.
        let communities = communities
            .map(|refs| {
                resolve_groups(
                    refs,
                    &self.state.communities,
                    &self.state.accounts[i].communities,
                )
            })
            .transpose()?;
        let function_groups = function_groups
            .map(|refs| {
                resolve_groups(
                    refs,
                    &self.state.function_groups,
                    &self.state.accounts[i].function_groups,
                )
            })
            .transpose()?;
        let account = &mut self.state.accounts[i];
        if let Some(email) = email {
            account.email = email.map(str::to_owned);
        }
        if let Some(x) = external_id {
            account.external_id = x.map(str::to_owned);
            if let (Some(ix), Some(x)) = (&mut self.index, &account.external_id) {
                ix.by_external_id.entry(x.clone()).or_default().push(i);
            }
        }
        if let Some(v) = first_name {
            v.clone_into(&mut account.first_name);
        }
        if let Some(v) = last_name {
            v.clone_into(&mut account.last_name);
        }
        if adopt {
            account.managed = true;
        }
        if reactivate {
            account.status = AccountStatus::Active;
        }
        if let Some(d) = removed_at {
            account.removed_at = d;
        }
        if let Some(c) = communities {
            account.communities = c;
        }
        if let Some(f) = function_groups {
            account.function_groups = f;
        }
        Ok(())
    }
}

/// Creates a managed group, or reuses the managed group with the same name and source ids that
/// the same action created before (a rerun), and records its id for `new:<subject>`.
fn create_group(
    groups: &mut Vec<TargetGroup>,
    prefix: &str,
    create: &CreateGroup,
    action: &Action,
    ctx: &mut ApplyContext,
) -> Result<(), String> {
    let mut source_ids = create.source_ids.clone();
    let name = create.name.clone();
    let mut sorted = source_ids.clone();
    sorted.sort();
    let existing = groups.iter().find(|g| {
        let mut ids = g.source_ids.clone();
        ids.sort();
        g.managed && g.name == name && ids == sorted
    });
    let id = match existing {
        Some(g) => g.id.clone(),
        None => {
            let id = format!(
                "{prefix}{}",
                next_number(groups.iter().map(|g| g.id.as_str()), prefix)
            );
            source_ids.dedup();
            groups.push(TargetGroup {
                id: id.clone(),
                name,
                source_ids,
                managed: true,
            });
            id
        }
    };
    ctx.record_created(action, id);
    Ok(())
}

/// Records the new source identifiers on a group (re-keying a renamed identifier).
fn update_group(groups: &mut [TargetGroup], rekey: &Rekey, action: &Action) -> Result<(), String> {
    let id = group_id(action)?;
    let group = groups
        .iter_mut()
        .find(|g| g.id == id)
        .ok_or_else(|| format!("group {id} does not exist"))?;
    group.source_ids.clone_from(&rekey.source_ids.to);
    Ok(())
}

/// Target ids of a JSON list of group references (placeholders were replaced by the apply
/// runner). Every group must exist, except one the account is in already (a membership of a
/// group the target does not list is kept as it is, never added).
fn resolve_groups(
    refs: &[GroupRef],
    groups: &[TargetGroup],
    current: &[String],
) -> Result<Vec<String>, String> {
    let mut ids: Vec<String> = Vec::with_capacity(refs.len());
    for r in refs {
        let id = r.id.clone();
        if !groups.iter().any(|g| g.id == id) && !current.contains(&id) {
            return Err(format!("group \"{}\" ({id}) does not exist", r.name));
        }
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

fn group_id(action: &Action) -> Result<&str, String> {
    action
        .target_id
        .as_deref()
        .ok_or_else(|| "the action names no group".to_owned())
}

/// One more than the largest `<prefix><n>` among `ids` (1 when there is none).
fn next_number<'i>(ids: impl Iterator<Item = &'i str>, prefix: &str) -> u64 {
    ids.filter_map(|id| id.strip_prefix(prefix)?.parse::<u64>().ok())
        .max()
        .map_or(1, |n| n.saturating_add(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::testing::{TODAY, account, day, group, target};
    use crate::vocabulary::{
        AccountEdit, Anonymize, FieldChange, Move, Remove, RemoveGroup, Restore, Update,
    };

    fn ctx() -> ApplyContext {
        ApplyContext {
            interrupt: Default::default(),
            today: TODAY,
            created: HashMap::new(),
            accounts: HashMap::new(),
            progress: Default::default(),
        }
    }

    fn act(changes: Changes, subject: &str, target_id: Option<&str>) -> Action {
        Action {
            subject: subject.to_owned(),
            target_id: target_id.map(str::to_owned),
            name: subject.to_owned(),
            changes,
            reason: String::new(),
            cause: Default::default(),
        }
    }

    fn refs(groups: &[(&str, &str)]) -> Vec<GroupRef> {
        groups
            .iter()
            .map(|(id, name)| GroupRef {
                id: (*id).to_owned(),
                name: (*name).to_owned(),
                foreign: false,
            })
            .collect()
    }

    #[test]
    fn create_then_invite_resolves_new_groups_and_reruns_do_not_duplicate() {
        let mut state = target(
            vec![account("u-7", "0", &[])],
            vec![group("c-1", "Amsterdam", &[], false)],
        );
        let mut ctx = ctx();
        let create = act(
            Changes::CreateCommunity(CreateGroup {
                name: "Utrecht".to_owned(),
                source_ids: vec!["1007".to_owned()],
            }),
            "1007",
            None,
        );
        let invite = act(
            Changes::Invite(Invite {
                email: Some("ann@example.com".to_owned()),
                external_id: Some("1".to_owned()),
                first_name: Some("Ann".to_owned()),
                communities: Some(refs(&[
                    ("new:community:1007", "Utrecht"),
                    ("c-1", "Amsterdam"),
                ])),
                ..Invite::default()
            }),
            "1",
            None,
        );
        for _ in 0..2 {
            apply_action(&mut state, &create, &mut ctx).expect("create");
            let invite = invite.resolve_placeholders(&ctx.created).expect("resolved");
            apply_action(&mut state, &invite, &mut ctx).expect("invite");
        }
        assert_eq!(state.communities.len(), 2, "the rerun reuses the group");
        let created = &state.communities[1];
        assert_eq!((created.id.as_str(), created.managed), ("c-2", true));
        assert_eq!(created.source_ids, ["1007"]);
        assert_eq!(ctx.created["new:community:1007"], "c-2");
        assert_eq!(state.accounts.len(), 2, "the rerun does not invite twice");
        let a = &state.accounts[1];
        assert_eq!(a.id, "u-8");
        assert_eq!(a.external_id.as_deref(), Some("1"));
        assert!(a.managed && a.status == AccountStatus::Active);
        assert_eq!(a.communities, ["c-2", "c-1"]);
        assert_eq!(a.first_name, "Ann");
    }

    #[test]
    fn a_reference_to_a_group_that_does_not_exist_fails() {
        let mut state = target(vec![account("u1", "1", &[])], vec![]);
        let mv = act(
            Changes::Move(Move {
                communities: FieldChange::new(vec![], refs(&[("new:community:1007", "Utrecht")])),
                notify: false,
            }),
            "1",
            Some("u1"),
        );
        assert!(apply_action(&mut state, &mv, &mut ctx()).is_err());
        let mv = act(
            Changes::Move(Move {
                communities: FieldChange::new(vec![], refs(&[("c9", "X")])),
                notify: false,
            }),
            "1",
            Some("u1"),
        );
        assert!(apply_action(&mut state, &mv, &mut ctx()).is_err());
        let missing = act(
            Changes::Update(Update {
                edit: AccountEdit {
                    first_name: Some(FieldChange::new(String::new(), "B".to_owned())),
                    ..AccountEdit::default()
                },
                removed_at: None,
            }),
            "1",
            Some("nobody"),
        );
        assert!(apply_action(&mut state, &missing, &mut ctx()).is_err());
    }

    #[test]
    fn remove_restore_and_anonymize_change_the_lifecycle() {
        let mut state = target(
            vec![account("u1", "1", &["c-1"])],
            vec![group("c-1", "A", &[], true)],
        );
        let mut ctx = ctx();
        let remove = act(
            Changes::Remove(Remove {
                permanent: false,
                removed_at: Some(TODAY),
            }),
            "1",
            Some("u1"),
        );
        apply_action(&mut state, &remove, &mut ctx).expect("remove");
        assert_eq!(state.accounts[0].status, AccountStatus::Removed);
        assert_eq!(state.accounts[0].removed_at, Some(TODAY));
        ctx.today = day(5);
        apply_action(&mut state, &remove, &mut ctx).expect("remove again");
        assert_eq!(
            state.accounts[0].removed_at,
            Some(TODAY),
            "the first removal date stays"
        );

        let restore = act(
            Changes::Restore(Restore {
                edit: AccountEdit {
                    last_name: Some(FieldChange::new(String::new(), "New".to_owned())),
                    ..AccountEdit::default()
                },
                removed_at: Some(TODAY),
                communities: None,
            }),
            "1",
            Some("u1"),
        );
        apply_action(&mut state, &restore, &mut ctx).expect("restore");
        let a = &state.accounts[0];
        assert_eq!(
            (a.status, a.removed_at, a.last_name.as_str()),
            (AccountStatus::Active, None, "New")
        );

        let anonymize = act(Changes::Anonymize(Anonymize::default()), "1", Some("u1"));
        apply_action(&mut state, &anonymize, &mut ctx).expect("anonymize");
        let a = &state.accounts[0];
        assert_eq!(a.status, AccountStatus::Anonymized);
        assert_eq!((a.email.as_deref(), a.external_id.as_deref()), (None, None));
        assert!(a.first_name.is_empty() && a.last_name.is_empty());
    }

    #[test]
    fn removing_a_group_removes_its_memberships() {
        let mut state = target(
            vec![account("u1", "1", &["c-1", "c-2"])],
            vec![
                group("c-1", "A", &["1"], true),
                group("c-2", "B", &["2"], true),
            ],
        );
        let remove = act(
            Changes::RemoveCommunity(RemoveGroup {
                name: "A".to_owned(),
            }),
            "1",
            Some("c-1"),
        );
        apply_action(&mut state, &remove, &mut ctx()).expect("remove community");
        assert_eq!(state.communities.len(), 1);
        assert_eq!(state.accounts[0].communities, ["c-2"]);
    }
}
