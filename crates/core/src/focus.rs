//! What one person's plan depends on: the people and accounts linked to them by an identifier or
//! an e-mail address, followed until nothing new is linked. `explain` plans on these alone.
//!
//! Why that is exact: the rules that decide one person's actions look at other people and
//! accounts only through shared keys — who owns an account is decided among the people whose
//! identifier is its external id or whose address is its address ([`crate::identity`]), a
//! shared address is shared with the people who have it, and an expired account blocks the
//! people with its keys. Scope and mapping look at a person's own rows, the configuration and
//! the target's groups, which are kept whole. Following keys to closure takes in every person and
//! account any of those rules can reach from the person; what is left out cannot change what
//! happens to them. `explain_of_one_person_equals_the_explanation_from_the_whole_plan` checks it
//! against the whole plan.

use crate::connector::ConnectorError;
use crate::identity::email_key;
use foldhash::HashSet;

use crate::model::{Account, Person, SourceGroup, SourceSnapshot, TargetSnapshot};

/// Identifiers and e-mail keys ([`email_key`]) that link people and accounts. A handful: they
/// are compared one by one, which is cheaper than hashing a hundred thousand names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keys {
    /// Source identifiers (an account's external id is one).
    ids: Vec<String>,
    /// E-mail addresses, as [`email_key`]s.
    emails: Vec<String>,
}

/// `raw` is the address whose [`email_key`] is `key`; without allocating for the usual ASCII
/// address.
fn email_is(raw: &str, key: &str) -> bool {
    let raw = raw.trim();
    if raw.is_ascii() {
        // ASCII lower-cases to itself in length: a different length is a different address.
        raw.len() == key.len() && raw.eq_ignore_ascii_case(key)
    } else {
        email_key(raw).is_some_and(|e| e == key)
    }
}

impl Keys {
    /// The keys of a query as `explain` takes it: an identifier or an e-mail address.
    pub fn of_query(query: &str) -> Keys {
        let query = query.trim();
        let mut keys = Keys::default();
        if !query.is_empty() {
            keys.ids.push(query.to_owned());
        }
        keys.emails.extend(email_key(query).map(|e| e.into_owned()));
        keys
    }

    /// The identifiers.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    /// The e-mail keys.
    pub fn emails(&self) -> &[String] {
        &self.emails
    }

    /// One of the identifiers is `id`.
    pub fn has_id(&self, id: &str) -> bool {
        self.ids.iter().any(|k| k == id)
    }

    /// One of the addresses is `email` (compared as [`email_key`]s).
    pub fn has_email(&self, email: Option<&str>) -> bool {
        email.is_some_and(|e| self.emails.iter().any(|k| email_is(e, k)))
    }

    /// The person carries one of the keys.
    pub fn links_person(&self, p: &Person) -> bool {
        self.has_id(&p.id)
            || self.has_email(p.email.as_deref())
            || p.conflicting_emails.iter().any(|e| self.has_email(Some(e)))
    }

    /// The account carries one of the keys.
    pub fn links_account(&self, a: &Account) -> bool {
        a.external_id.as_deref().is_some_and(|x| self.has_id(x))
            || self.has_email(a.email.as_deref())
    }

    /// Adds an identifier; true when it was new.
    pub fn add_id(&mut self, id: &str) -> bool {
        let new = !id.is_empty() && !self.has_id(id);
        if new {
            self.ids.push(id.to_owned());
        }
        new
    }

    /// Adds an address (as its [`email_key`]); true when it was new.
    pub fn add_email(&mut self, email: Option<&str>) -> bool {
        match email.and_then(email_key) {
            Some(e) if !self.emails.iter().any(|k| *k == e) => {
                self.emails.push(e.into_owned());
                true
            }
            _ => false,
        }
    }

    /// Adds the person's keys; true when one was new.
    pub fn add_person(&mut self, p: &Person) -> bool {
        let mut grew = self.add_id(&p.id);
        grew |= self.add_email(p.email.as_deref());
        for e in &p.conflicting_emails {
            grew |= self.add_email(Some(e));
        }
        grew
    }

    /// Adds the account's keys; true when one was new.
    pub fn add_account(&mut self, a: &Account) -> bool {
        let grew = a.external_id.as_deref().is_some_and(|x| self.add_id(x));
        grew | self.add_email(a.email.as_deref())
    }
}

/// The part of the source and the target linked to `query` (see the module documentation), in
/// their original order, with the groups and everything that is not a person or an account
/// kept whole.
#[derive(Debug, Clone)]
pub struct Linked {
    /// The linked people, with the source's group lists.
    pub source: SourceSnapshot,
    /// The linked accounts, with all the target's groups.
    pub target: TargetSnapshot,
}

/// Follows `query`'s keys through `source` and `target` until nothing new links.
pub fn linked(source: &SourceSnapshot, target: &TargetSnapshot, query: &str) -> Linked {
    let mut keys = Keys::of_query(query);
    loop {
        // Collected first: the keys cannot change while they are being read.
        let people: Vec<&Person> = source
            .persons
            .iter()
            .filter(|p| keys.links_person(p))
            .collect();
        let accounts: Vec<&Account> = target
            .accounts
            .iter()
            .filter(|a| keys.links_account(a))
            .collect();
        let mut grew = false;
        for p in &people {
            grew |= keys.add_person(p);
        }
        for a in &accounts {
            grew |= keys.add_account(a);
        }
        if !grew {
            // Nothing new: these are all the keys link.
            return Linked {
                source: SourceSnapshot {
                    persons: people.into_iter().cloned().collect(),
                    ..with_every_group(source)
                },
                target: TargetSnapshot {
                    accounts: accounts.into_iter().cloned().collect(),
                    communities: target.communities.clone(),
                    function_groups: target.function_groups.clone(),
                },
            };
        }
    }
}

/// A source read for a person's keys alone (a file skimmed for them), or a whole snapshot.
pub trait SourcePart: Send {
    /// Adds to `keys` the keys of every person they link (following them within the source
    /// too); true when one was new.
    fn link(&self, keys: &mut Keys) -> bool;
    /// The whole source has nobody (an empty source plans no removal).
    fn is_empty(&self) -> bool;
    /// The people `keys` link, with every group of the source ([`Linked::source`]).
    fn read(&self, keys: &Keys) -> Result<SourceSnapshot, ConnectorError>;
}

/// A target read for a person's keys alone, or a whole snapshot.
pub trait TargetPart: Send {
    /// Adds to `keys` the keys of every account they link; true when one was new.
    fn link(&self, keys: &mut Keys) -> bool;
    /// The accounts `keys` link, with every group of the target ([`Linked::target`]).
    fn read(&self, keys: &Keys) -> Result<TargetSnapshot, ConnectorError>;
}

impl SourcePart for SourceSnapshot {
    fn link(&self, keys: &mut Keys) -> bool {
        let mut grew = false;
        for p in &self.persons {
            if keys.links_person(p) {
                grew |= keys.add_person(p);
            }
        }
        grew
    }

    fn is_empty(&self) -> bool {
        self.persons.is_empty()
    }

    fn read(&self, keys: &Keys) -> Result<SourceSnapshot, ConnectorError> {
        Ok(SourceSnapshot {
            persons: self
                .persons
                .iter()
                .filter(|p| keys.links_person(p))
                .cloned()
                .collect(),
            ..with_every_group(self)
        })
    }
}

impl TargetPart for TargetSnapshot {
    fn link(&self, keys: &mut Keys) -> bool {
        let mut grew = false;
        for a in &self.accounts {
            if keys.links_account(a) {
                grew |= keys.add_account(a);
            }
        }
        grew
    }

    fn read(&self, keys: &Keys) -> Result<TargetSnapshot, ConnectorError> {
        Ok(TargetSnapshot {
            accounts: self
                .accounts
                .iter()
                .filter(|a| keys.links_account(a))
                .cloned()
                .collect(),
            communities: self.communities.clone(),
            function_groups: self.function_groups.clone(),
        })
    }
}

/// What `query` links in `source` and `target`, read from each for the keys alone: the two are
/// asked in turn until neither links anything new.
pub fn read_linked(
    source: &dyn SourcePart,
    target: &dyn TargetPart,
    query: &str,
) -> Result<Linked, ConnectorError> {
    let mut keys = Keys::of_query(query);
    while source.link(&mut keys) | target.link(&mut keys) {}
    Ok(Linked {
        source: source.read(&keys)?,
        target: target.read(&keys)?,
    })
}

/// The source without its people, its group lists holding every group a person uses that they
/// do not list (by its identifier, which is its name then, as scope names it): which groups
/// the source has at all decides whether a mapping is stale or an identifier was renamed, and
/// so where the person lands.
fn with_every_group(source: &SourceSnapshot) -> SourceSnapshot {
    let mut lists = [
        source.communities.clone(),
        source.functions.clone(),
        source.departments.clone(),
    ];
    let mut seen: [HashSet<&str>; 3] = [
        source.communities.iter().map(|g| g.id.as_str()).collect(),
        source.functions.iter().map(|g| g.id.as_str()).collect(),
        source.departments.iter().map(|g| g.id.as_str()).collect(),
    ];
    for e in source.persons.iter().flat_map(|p| &p.employments) {
        for (k, id) in [&e.community, &e.function, &e.department]
            .into_iter()
            .enumerate()
        {
            if let Some(id) = id.as_deref()
                && seen[k].insert(id)
            {
                lists[k].push(SourceGroup {
                    id: id.to_owned(),
                    name: id.to_owned(),
                });
            }
        }
    }
    let [communities, functions, departments] = lists;
    SourceSnapshot {
        persons: Vec::new(),
        communities,
        functions,
        departments,
        unlisted: source.unlisted.clone(),
        left: source.left.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(id: &str, email: &str) -> Person {
        Person {
            id: id.to_owned(),
            email: Some(email.to_owned()),
            ..Person::default()
        }
    }

    fn account(id: &str, ext: &str, email: &str) -> Account {
        Account {
            id: id.to_owned(),
            external_id: Some(ext.to_owned()),
            email: Some(email.to_owned()),
            ..Account::default()
        }
    }

    #[test]
    fn keys_are_followed_through_people_and_accounts_until_nothing_new_links() {
        // 1 → (by address) account u-2 → (by its external id) person 2 → account u-3 by
        // address; person 9 and account u-9 share nothing with them.
        let source = SourceSnapshot {
            persons: vec![
                person("1", "Ann@Example.com"),
                person("2", "bo@example.com"),
                person("9", "zed@example.com"),
            ],
            ..SourceSnapshot::default()
        };
        let target = TargetSnapshot {
            accounts: vec![
                account("u-2", "2", "ann@example.com"),
                account("u-3", "77", "BO@example.com"),
                account("u-9", "9", "zed@example.com"),
            ],
            ..TargetSnapshot::default()
        };
        let l = linked(&source, &target, "1");
        let ids: Vec<&str> = l.source.persons.iter().map(|p| p.id.as_str()).collect();
        let accounts: Vec<&str> = l.target.accounts.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["1", "2"]);
        assert_eq!(accounts, ["u-2", "u-3"]);
        // By address, in any case.
        let l = linked(&source, &target, " ZED@example.com ");
        assert_eq!(l.source.persons.len(), 1);
        assert_eq!(l.target.accounts[0].id, "u-9");
        // Nobody.
        let l = linked(&source, &target, "nobody");
        assert!(l.source.persons.is_empty() && l.target.accounts.is_empty());
        // Read side by side, a part at a time: the same.
        for q in ["1", "2", "9", "bo@example.com", "nobody"] {
            let a = linked(&source, &target, q);
            let b = read_linked(&source, &target, q).unwrap();
            assert_eq!((a.source, a.target), (b.source, b.target), "{q}");
        }
    }

    #[test]
    fn a_conflicting_address_links_too() {
        let mut p = person("1", "a@example.com");
        p.conflicting_emails.push("b@example.com".to_owned());
        let source = SourceSnapshot {
            persons: vec![p, person("2", "b@example.com")],
            ..SourceSnapshot::default()
        };
        let l = linked(&source, &TargetSnapshot::default(), "1");
        assert_eq!(l.source.persons.len(), 2);
    }
}
