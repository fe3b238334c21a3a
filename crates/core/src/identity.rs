//! Identity: which target account is whose (design.md 9), and which accounts are protected.
//! Pure. The plan engine and `explain` both use [`Matching`], so that they can never disagree
//! about who owns an account.
//!
//! - People are matched to accounts by the strategies of `identity.match`, one strategy at a time
//!   over everybody, so that a strategy earlier in the list always wins and no account is claimed
//!   twice.
//! - E-mail addresses compare by [`email_key`] everywhere: trimmed, Unicode lower case.
//! - People who share an e-mail address, or whose source rows give conflicting ones, never match
//!   by e-mail: the address cannot tell whose account it is. An account left unclaimed that only
//!   they match by it is still theirs (claimed, never removed), just not known whose.

use std::borrow::Cow;
use std::collections::hash_map::Entry;

use jiff::civil::Date;

use foldhash::{HashMap, HashMapExt, HashSet};

use crate::config::{Config, MatchKey, ProtectedRule};
use crate::model::{Account, AccountStatus, Person, SourceSnapshot};
use crate::scope::{OutOfScope, Patterns, Scope};
use crate::vocabulary::{Concerns, Diagnostic, DiagnosticKind, Severity};

/// An e-mail address as a matching key: trimmed, in Unicode lower case; `None` when empty.
/// Borrows when it is already in that form (the common case: no allocation per person).
pub fn email_key(email: &str) -> Option<Cow<'_, str>> {
    let e = email.trim();
    if e.is_empty() {
        None
    } else if e.is_ascii() {
        // The common case, checked a word at a time: no per-character Unicode lookup.
        if e.bytes().any(|b| b.is_ascii_uppercase()) {
            Some(Cow::Owned(e.to_ascii_lowercase()))
        } else {
            Some(Cow::Borrowed(e))
        }
    } else if e.chars().any(char::is_uppercase) {
        Some(Cow::Owned(e.to_lowercase()))
    } else {
        Some(Cow::Borrowed(e))
    }
}

/// True when two addresses are the same by [`email_key`] (two empty ones are not).
pub fn same_email(a: &str, b: &str) -> bool {
    match (email_key(a), email_key(b)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// Accounts orgsync must never change or remove (`protected`).
#[derive(Debug)]
pub struct Protection {
    emails: HashSet<String>,
    ids: HashSet<String>,
    patterns: Patterns,
}

impl Protection {
    /// Compiles the rules.
    pub fn new(rules: &[ProtectedRule]) -> Protection {
        Protection {
            emails: rules
                .iter()
                .filter_map(|r| r.email.as_deref())
                .filter_map(email_key)
                .map(Cow::into_owned)
                .collect(),
            ids: rules.iter().filter_map(|r| r.id.clone()).collect(),
            // Patterns are globs on e-mail addresses: literals compare ignoring case too.
            patterns: Patterns::new(rules.iter().filter_map(|r| r.pattern.as_deref()), true),
        }
    }

    /// True when a rule covers the account (by target id, source identifier or e-mail).
    pub fn covers(&self, a: &Account) -> bool {
        let key = a.email.as_deref().and_then(email_key);
        self.covers_keyed(a, key.as_deref())
    }

    /// [`Protection::covers`], with the account's e-mail key already made.
    fn covers_keyed(&self, a: &Account, email_key: Option<&str>) -> bool {
        if !self.ids.is_empty()
            && (self.ids.contains(&a.id)
                || a.external_id.as_ref().is_some_and(|x| self.ids.contains(x)))
        {
            return true;
        }
        let Some(email) = a.email.as_deref() else {
            return false;
        };
        (!self.emails.is_empty() && email_key.is_some_and(|e| self.emails.contains(e)))
            || (!self.patterns.is_empty() && self.patterns.is_match(email.trim()))
    }
}

/// Which account wins when several share a key; `None` for accounts that never match
/// (anonymized). Without adoption a managed account comes before an unmanaged one (which could
/// only hold the person); otherwise target order decides. Only what no plan changes may count:
/// a preference that moved with a restore, a removal or an adoption would match someone else on
/// the next run.
fn preference(a: &Account, adopt_unmanaged: bool) -> Option<u8> {
    match a.status {
        AccountStatus::Anonymized => None,
        _ if adopt_unmanaged || a.managed => Some(0),
        _ => Some(1),
    }
}

/// Accounts by a matching key. Almost every key has one account; the few that have more keep
/// them all, most preferred first, so that when the best is claimed by someone else the next
/// can still match.
#[derive(Debug, Default)]
pub struct AccountsBy<'k> {
    one: HashMap<Cow<'k, str>, u32>,
    more: HashMap<Cow<'k, str>, Vec<u32>>,
}

impl<'k> AccountsBy<'k> {
    fn with_capacity(n: usize) -> Self {
        AccountsBy {
            one: HashMap::with_capacity(n),
            more: HashMap::new(),
        }
    }

    fn insert(&mut self, key: Cow<'k, str>, i: u32) {
        match self.one.entry(key) {
            Entry::Vacant(v) => {
                v.insert(i);
            }
            Entry::Occupied(o) => {
                let first = *o.get();
                self.more
                    .entry(o.key().clone())
                    .or_insert_with(|| vec![first])
                    .push(i);
            }
        }
    }

    /// Orders the accounts of shared keys by preference (then target order).
    fn finish(mut self, accounts: &[Account], adopt_unmanaged: bool) -> Self {
        for (key, list) in &mut self.more {
            list.sort_by_key(|i| (preference(&accounts[*i as usize], adopt_unmanaged), *i));
            if let Some(best) = self.one.get_mut(key) {
                *best = list[0];
            }
        }
        self
    }

    /// Every account for `key`.
    pub fn all(&self, key: &str) -> &[u32] {
        match self.more.get(key) {
            Some(list) => list,
            None => self.one.get(key).map_or(&[], std::slice::from_ref),
        }
    }

    /// The most preferred account for `key` that is not claimed yet.
    fn first_unclaimed(&self, key: &str, claimed: &[bool]) -> Option<u32> {
        match self.more.get(key) {
            Some(list) => list.iter().copied().find(|a| !claimed[*a as usize]),
            None => self.one.get(key).copied().filter(|a| !claimed[*a as usize]),
        }
    }
}

/// Why a person's e-mail address cannot identify them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ambiguity {
    /// Someone else has the same address.
    SharedEmail,
    /// The person's own source rows give different addresses.
    ConflictingEmails,
}

/// People matched to accounts.
#[derive(Debug)]
pub struct Matching<'a> {
    /// Per person (in the order given): their e-mail key.
    pub emails: Vec<Option<Cow<'a, str>>>,
    /// Per person: why their e-mail address cannot identify them, if it cannot.
    pub ambiguous: Vec<Option<Ambiguity>>,
    /// Per person: the account they claimed and by which strategy.
    pub matched: Vec<Option<(u32, MatchKey)>>,
    /// Per account: claimed by someone (then it is never removed).
    pub claimed: Vec<bool>,
    /// Per account: protected.
    pub protected: Vec<bool>,
    /// Per account: removed by orgsync longer than `retention_days` ago. Such an account never
    /// matches: it is anonymized, not restored.
    pub expired: Vec<bool>,
    /// Per person: an expired account carries their identifier or e-mail address. They are held
    /// until it is anonymized (a new account beside it could collide with it in the target).
    pub awaits_anonymization: Vec<bool>,
    /// Accounts (not anonymized) by external id.
    pub by_external: AccountsBy<'a>,
}

impl<'a> Matching<'a> {
    /// Matches the people of a scope, as the plan engine does: those in scope first, then those
    /// outside a partial sync's include-list (their accounts are kept, never written).
    pub fn of_scope(
        config: &Config,
        accounts: &'a [Account],
        scope: &Scope<'a>,
        today: Date,
    ) -> Matching<'a> {
        let persons: Vec<&'a Person> = scope
            .persons
            .iter()
            .map(|sp| sp.person)
            .chain(scope.untouched.iter().copied())
            .collect();
        Matching::new(config, accounts, &persons, today)
    }

    /// Matches `persons` to `accounts` by `identity.match`.
    pub fn new(
        config: &Config,
        accounts: &'a [Account],
        persons: &[&'a Person],
        today: Date,
    ) -> Matching<'a> {
        let adopt = config.identity.adopt_unmanaged;
        let mut by_external = AccountsBy::with_capacity(accounts.len());
        let mut by_email = AccountsBy::with_capacity(accounts.len());
        // Each account's e-mail key, once: for matching and for protection.
        let account_emails: Vec<Option<Cow<'a, str>>> = accounts
            .iter()
            .map(|a| a.email.as_deref().and_then(email_key))
            .collect();
        let protection = Protection::new(&config.protected);
        // An account the target forbids managing (Revolut's owner) is protected whatever the
        // rules say.
        let protected: Vec<bool> = if config.protected.is_empty() {
            accounts.iter().map(|a| a.protected).collect()
        } else {
            accounts
                .iter()
                .zip(&account_emails)
                .map(|(a, e)| a.protected || protection.covers_keyed(a, e.as_deref()))
                .collect()
        };
        // A protected account is never anonymized, so it never expires either.
        let expired: Vec<bool> = accounts
            .iter()
            .zip(&protected)
            .map(|(a, p)| a.managed && !p && retention_passed(config, a, today).is_some())
            .collect();
        let mut expired_keys: HashSet<Cow<'a, str>> = HashSet::default();
        for (i, a) in accounts.iter().enumerate() {
            if expired[i] {
                expired_keys.extend(a.external_id.as_deref().map(Cow::Borrowed));
                expired_keys.extend(account_emails[i].clone());
                continue;
            }
            if preference(a, adopt).is_none() {
                continue;
            }
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            if let Some(x) = a.external_id.as_deref().filter(|x| !x.is_empty()) {
                by_external.insert(Cow::Borrowed(x), i);
            }
            if let Some(e) = account_emails[i as usize].clone() {
                by_email.insert(e, i);
            }
        }
        let by_external = by_external.finish(accounts, adopt);
        let by_email = by_email.finish(accounts, adopt);

        let emails: Vec<Option<Cow<'a, str>>> = persons
            .iter()
            .map(|p| p.email.as_deref().and_then(email_key))
            .collect();
        let ambiguous: Vec<Option<Ambiguity>> = {
            let mut count: HashMap<&str, u32> = HashMap::with_capacity(emails.len());
            for e in emails.iter().flatten() {
                *count.entry(e.as_ref()).or_default() += 1;
            }
            emails
                .iter()
                .zip(persons)
                .map(|(e, p)| {
                    if !p.conflicting_emails.is_empty() {
                        Some(Ambiguity::ConflictingEmails)
                    } else if e
                        .as_deref()
                        .is_some_and(|e| count.get(e).is_some_and(|n| *n > 1))
                    {
                        Some(Ambiguity::SharedEmail)
                    } else {
                        None
                    }
                })
                .collect()
        };

        let mut matched: Vec<Option<(u32, MatchKey)>> = vec![None; persons.len()];
        let mut claimed = vec![false; accounts.len()];
        let mut done: Vec<MatchKey> = Vec::new();
        for &key in &config.identity.match_on {
            if done.contains(&key) {
                continue;
            }
            done.push(key);
            for (i, p) in persons.iter().enumerate() {
                if matched[i].is_some() {
                    continue;
                }
                let found = match key {
                    MatchKey::ExternalId => by_external.first_unclaimed(p.id.as_str(), &claimed),
                    MatchKey::Email if ambiguous[i].is_none() => emails[i]
                        .as_deref()
                        .and_then(|e| by_email.first_unclaimed(e, &claimed)),
                    MatchKey::Email => None,
                };
                if let Some(a) = found {
                    claimed[a as usize] = true;
                    matched[i] = Some((a, key));
                }
            }
        }
        // An account left unclaimed that people with an ambiguous address match by it is theirs,
        // just not known whose: it is kept (claimed), never removed for a typo in the source.
        if done.contains(&MatchKey::Email) {
            for (i, e) in emails.iter().enumerate() {
                if ambiguous[i].is_some()
                    && matched[i].is_none()
                    && let Some(a) = e
                        .as_deref()
                        .and_then(|e| by_email.first_unclaimed(e, &claimed))
                {
                    claimed[a as usize] = true;
                    matched[i] = Some((a, MatchKey::Email));
                }
            }
        }

        let awaits_anonymization = if expired_keys.is_empty() {
            vec![false; persons.len()]
        } else {
            persons
                .iter()
                .zip(&emails)
                .map(|(p, e)| {
                    expired_keys.contains(p.id.as_str())
                        || e.as_deref().is_some_and(|e| expired_keys.contains(e))
                })
                .collect()
        };

        Matching {
            expired,
            awaits_anonymization,
            emails,
            ambiguous,
            matched,
            claimed,
            protected,
            by_external,
        }
    }
}

/// Warnings for active accounts orgsync does not manage (invited by hand, never adopted) whose
/// e-mail address is that of a leaver — a source person out of scope because every employment
/// ended, or one the source lists as gone ([`SourceSnapshot::left`]: a suspended Google user) —
/// and of no one in scope: such an account keeps its access, and orgsync never touches
/// it (it is foreign), so the plan says so. `system` names the target ("Revolut").
pub fn unmanaged_leavers(
    accounts: &[Account],
    scope: &Scope<'_>,
    source: &SourceSnapshot,
    system: &str,
) -> Vec<Diagnostic> {
    // Start from the active unmanaged accounts (usually few, often none): the people are
    // looked at only for their addresses. E-mail key → the accounts' indexes.
    let mut candidates: HashMap<Cow<'_, str>, Vec<usize>> = HashMap::new();
    for (i, a) in accounts.iter().enumerate() {
        if !a.managed
            && a.status == AccountStatus::Active
            && let Some(key) = a.email.as_deref().and_then(email_key)
        {
            candidates.entry(key).or_default().push(i);
        }
    }
    if candidates.is_empty() {
        return Vec::new();
    }
    // Someone in scope owns the address: not a leaver's account.
    for p in scope
        .persons
        .iter()
        .map(|sp| sp.person)
        .chain(scope.untouched.iter().copied())
    {
        if let Some(key) = p.email.as_deref().and_then(email_key) {
            candidates.remove(&key);
        }
    }
    // Account index → (the leaver's identifier, the day their last contract ended when it did).
    let mut leavers: HashMap<usize, (&str, Option<Date>)> = HashMap::new();
    for l in &source.left {
        for &i in email_key(&l.email)
            .and_then(|k| candidates.get(&k))
            .into_iter()
            .flatten()
        {
            leavers.insert(i, (l.id.as_str(), None));
        }
    }
    for p in &source.persons {
        if let Some(OutOfScope::Ended(date)) = scope.out_of_scope.get(p.id.as_str())
            && let Some(indexes) = p
                .email
                .as_deref()
                .and_then(email_key)
                .and_then(|k| candidates.get(&k))
        {
            for &i in indexes {
                leavers.insert(i, (p.id.as_str(), Some(*date)));
            }
        }
    }
    let mut out = Vec::new();
    for (i, a) in accounts.iter().enumerate() {
        let Some(&(id, ended)) = leavers.get(&i) else {
            continue;
        };
        let Some(email) = a.email.as_deref() else {
            continue;
        };
        let why = match ended {
            Some(date) => format!("every contract ended, the last on {date}"),
            None => "gone from the source".to_owned(),
        };
        out.push(Diagnostic {
            kind: DiagnosticKind::UnmanagedLeaver,
            severity: Severity::Warning,
            message: format!(
                "unmanaged account {email} matches a leaver by e-mail ({id}: {why}): it keeps its access in {system}; orgsync never changes or removes an account it did not invite or adopt"
            ),
            subject: Some(email.to_owned()),
            count: 1,
            hint: Some(format!(
                "check it and remove it in {system} by hand if they should no longer have access"
            )),
            location: None,
            concerns: Concerns(vec![(*id).to_owned()]),
        });
    }
    out
}

/// Whether a removed account is past retention: the days since its removal, when more than
/// `retention_days`. An account without a removal date is within retention (the plan records
/// the date, so that retention starts).
pub fn retention_passed(config: &Config, account: &Account, today: Date) -> Option<i64> {
    if account.status != AccountStatus::Removed {
        return None;
    }
    let days = today.duration_since(account.removed_at?).as_secs() / 86_400;
    (days > i64::from(config.policy.retention_days)).then_some(days)
}

/// How an account was matched, for people.
pub fn matched_by(key: MatchKey) -> &'static str {
    match key {
        MatchKey::ExternalId => "external id",
        MatchKey::Email => "e-mail",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_keys_are_trimmed_and_unicode_lower_case() {
        assert_eq!(
            email_key("  Ann@Example.COM ").as_deref(),
            Some("ann@example.com")
        );
        assert_eq!(email_key("ÉMILE@x.test").as_deref(), Some("émile@x.test"));
        assert!(same_email("Émile@X.test", " émile@x.TEST"));
        assert!(!same_email("", " "));
        assert!(matches!(email_key("a@x.test"), Some(Cow::Borrowed(_))));
    }
}
