//! What a plan does that reaches people, which every summary leads with (as tfcmt puts destroys on
//! top): the e-mails the apps send (invitations, and transfer notices of moves that notify),
//! accounts taken away or anonymized, and a first sync. Everything else — updates, silent moves,
//! groups — follows.

use orgsync_core::plan::safety::FIRST_SYNC_RULE;
use orgsync_core::vocabulary::{Action, Cause, Changes, DiagnosticKind, Plan};

use super::thousands;

/// Counts of what reaches people in a set of actions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reach {
    /// Invites that e-mail an invitation (not the sends of a create-only target).
    pub invitations: usize,
    /// Moves that e-mail a transfer notice.
    pub notices: usize,
    /// Of `notices`, those a configuration change causes (its mapping says `notify: true`).
    pub configured_notices: usize,
    /// Accounts removed (deactivated or deleted).
    pub removals: usize,
    /// Accounts anonymized.
    pub anonymizations: usize,
}

impl Reach {
    /// What `actions` do to people.
    pub fn of<'a>(actions: impl IntoIterator<Item = &'a Action>) -> Reach {
        let mut r = Reach::default();
        for a in actions {
            match &a.changes {
                Changes::Invite(i) if i.applicant.is_none() => r.invitations += 1,
                Changes::Move(m) if m.notify => {
                    r.notices += 1;
                    if a.cause == Cause::Configuration {
                        r.configured_notices += 1;
                    }
                }
                Changes::Remove(_) => r.removals += 1,
                Changes::Anonymize(_) => r.anonymizations += 1,
                _ => {}
            }
        }
        r
    }

    /// People e-mailed: invitations and transfer notices.
    pub fn emails(&self) -> usize {
        self.invitations + self.notices
    }

    /// `e-mails 5 people (3 invitations, 2 transfer notices)`, or `e-mails nobody`.
    pub fn emails_phrase(&self) -> String {
        let n = self.emails();
        if n == 0 {
            return "e-mails nobody".to_owned();
        }
        let mut parts = Vec::new();
        if self.invitations > 0 {
            parts.push(count(self.invitations, "invitation", "invitations"));
        }
        if self.notices > 0 {
            let mut notices = count(self.notices, "transfer notice", "transfer notices");
            if self.configured_notices > 0 {
                notices.push_str(&format!(
                    ", {} asked for by a mapping's `notify: true`",
                    thousands(self.configured_notices)
                ));
            }
            parts.push(notices);
        }
        format!(
            "e-mails {} ({})",
            count(n, "person", "people"),
            parts.join(", ")
        )
    }

    /// `removes 2 accounts, anonymizes 1 account`; `None` when it takes nothing away.
    pub fn removals_phrase(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.removals > 0 {
            parts.push(format!(
                "removes {}",
                count(self.removals, "account", "accounts")
            ));
        }
        if self.anonymizations > 0 {
            parts.push(format!(
                "anonymizes {}",
                count(self.anonymizations, "account", "accounts")
            ));
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }

    /// `e-mails 5 people (…), removes 2 accounts`.
    pub fn sentence(&self) -> String {
        match self.removals_phrase() {
            Some(r) => format!("{}, {r}", self.emails_phrase()),
            None => self.emails_phrase(),
        }
    }
}

/// The first sync of `plan`, as its safety check put it: how many people it invites into a target
/// without managed accounts, and what `safety.first_sync_invites` allows. `None` unless the plan
/// is a first sync.
pub fn first_sync(plan: &Plan) -> Option<String> {
    plan.diagnostics
        .iter()
        .find(|d| d.kind == DiagnosticKind::Safety && d.subject.as_deref() == Some(FIRST_SYNC_RULE))
        .map(|d| {
            d.message
                .strip_prefix("unsafe plan: ")
                .unwrap_or(&d.message)
                .to_owned()
        })
}

/// What the whole plan does to people, for the top of a summary: `e-mails 3 people (3
/// invitations), removes 1 account; first sync: …`.
pub fn plan_sentence(plan: &Plan) -> String {
    let mut s = Reach::of(&plan.actions).sentence();
    if let Some(first) = first_sync(plan) {
        s.push_str("; ");
        s.push_str(&first);
    }
    s
}

/// `1 account` / `3 accounts`, digits grouped.
pub fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{} {many}", thousands(n))
    }
}
