//! The `revolut` target: Revolut Business team members (Business API `team-members`).
//!
//! How orgsync's model maps onto Revolut:
//! - **Accounts** are team members, listed newest first with `created_before` paging and matched
//!   by e-mail (case-insensitive, the engine's one comparison). Revolut has no field orgsync could
//!   mark its members with, so **which members orgsync manages** is its own record: the apply
//!   records (git notes) keep, per invite or adoption, the member id orgsync created or took over
//!   ([`ApplyContext::record_account`]); the pipeline reads them back into [`Ownership`]. Every
//!   other member is foreign and never changed or removed (adoption by e-mail with
//!   `identity.adopt_unmanaged: true`, the seed's Revolut behaviour).
//! - **The owner** is never adopted, changed or removed, whatever `protected` says: its account
//!   is marked protected ([`Account::protected`]). It is recognised by its role: the role id
//!   `owner` compared without case (Revolut's documentation writes `owner`, `Owner` and
//!   `OWNER`), or the role `GET /roles` names `Owner`.
//! - **Roles** are the function groups: `GET /roles` lists them (paged like the members); a
//!   person's function group (from `functions.yaml`, onto role names) is the role they are
//!   invited with. One role per member: an invite whose functions map onto several is a manual
//!   step. Revolut's API has no role change ("you can do so in the Revolut Business app"): a
//!   change is a manual step naming the new role. A role named in the configuration
//!   (`default_role`, a mapping's target) is found by [`resolve_role`] — the one rule for
//!   `validate --online`, the plan and the apply: by id, then by id or name without case.
//!   Without `functions`, everyone gets `default_role`. Revolut roles cannot be created through
//!   the API: that is a manual step.
//! - A **403** on a write (a token without the `WRITE` scope) stops the apply: no further
//!   action starts ([`ConnectorError::Forbidden`]).
//! - **remove** is `DELETE /team-members/{id}`: permanent, no retention and no restore on
//!   Revolut's side, so a rehire is a new invitation. A 404 means it is gone already (done);
//!   Revolut refuses the owner with 422, which fails that action only.
//! - Names, e-mail address and manager cannot be written through the API; communities do not
//!   exist; Revolut sends no transfer e-mail: the capabilities say so, and the plan lists what
//!   would need them as manual steps.
//! - Invites are idempotent at any slowness: a POST that may have created the member (no
//!   answer, a lost connection, a 5xx) or meets a 409 is followed by looks for a member with the
//!   address among the newest members, and what is found is taken as the invite's result — the
//!   rules every creating target shares ([`create_once`]). After a timeout the invite is never
//!   sent again in this run: not found within three times `timeout_secs` (10 s to 5 minutes), it
//!   is [`ConnectorError::Unconfirmed`], and the next plan finds the member or plans the invite
//!   again. A look pages newest first and stops at members older than the invite (by the
//!   server's clock, read from its `Date` header, less [`CLOCK_MARGIN`]): it never lists the
//!   whole team.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::http::{HttpClient, HttpSettings, Response, encode};
use super::scim::{Create, create_once};
use super::{
    ApplyContext, ConnectorError, Interrupt, Kit, Removal, Target, TargetCapabilities,
    WritableFields,
};
use orgsync_core::config::RevolutTargetConfig;
use orgsync_core::identity::same_email;
use orgsync_core::model::{Account, AccountStatus, TargetGroup, TargetSnapshot};
use orgsync_core::vocabulary::{AccountEdit, Action, ActionKind, Changes, GroupRef, Update};

/// The owner's role id, compared without case (the documentation writes `owner`, `Owner` and
/// `OWNER`).
pub const OWNER_ROLE: &str = "owner";

/// How much older than the invite (by the server's clock) a member may be and still be looked
/// at as the invite's result: the `Date` header is to the second, and the server that stamps it
/// need not be the one that stamps `created_at`.
pub const CLOCK_MARGIN: jiff::SignedDuration = jiff::SignedDuration::from_secs(5);

/// Which members orgsync manages: member id → the person's source identifier, from the apply
/// records.
pub type Ownership = HashMap<String, String>;

/// A team member as Revolut lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct Member {
    /// Its id.
    pub id: String,
    /// E-mail address.
    pub email: String,
    /// First name (empty until the invitee signs up).
    #[serde(default)]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// `created`, `confirmed`, `waiting`, `active`, `locked`, `disabled`.
    #[serde(default)]
    pub state: Option<String>,
    /// Role id (`Owner`, `Admin`, `Member`, or a custom role's UUID).
    #[serde(default)]
    pub role_id: Option<String>,
    /// ISO 8601 creation time: the paging key.
    pub created_at: String,
}

/// A role as `GET /roles` lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct Role {
    /// Its id: `owner`, `admin`, `member`, … for default roles, a UUID for a custom one.
    pub id: String,
    /// Its name (`Owner`, `Member`, `Finance`).
    #[serde(default)]
    pub name: Option<String>,
    /// ISO 8601 creation time: the paging key.
    #[serde(default)]
    pub created_at: Option<String>,
}

impl Role {
    /// Its name, or its id without one.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }

    /// The owner's role: by id or name, without case.
    pub fn is_owner(&self) -> bool {
        self.id.eq_ignore_ascii_case(OWNER_ROLE) || self.label().eq_ignore_ascii_case("Owner")
    }
}

/// True when a member's `role_id` is the owner's: the id `owner` without case, or a role
/// `GET /roles` names `Owner`.
pub fn is_owner_role(role_id: &str, roles: &[Role]) -> bool {
    role_id.eq_ignore_ascii_case(OWNER_ROLE)
        || roles.iter().any(|r| r.id == role_id && r.is_owner())
}

/// The role a configuration names (`default_role`, a function mapping's target): the role with
/// that id, else the one whose id or name it is without case. The owner's role is never one to
/// give. The one rule of `validate --online`, the plan (the function groups' names) and the
/// apply.
pub fn resolve_role<'r>(name: &str, roles: &'r [Role]) -> Option<&'r Role> {
    let name = name.trim();
    let givable = || roles.iter().filter(|r| !r.is_owner());
    givable()
        .find(|r| r.id == name)
        .or_else(|| givable().find(|r| r.id.eq_ignore_ascii_case(name)))
        .or_else(|| givable().find(|r| r.label().eq_ignore_ascii_case(name)))
}

/// Revolut error bodies: `{"code": 404, "message": "…"}`.
pub fn describe_error(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct RevolutError {
        message: Option<String>,
    }
    let e: RevolutError = serde_json::from_slice(body).ok()?;
    e.message.filter(|m| !m.is_empty())
}

/// A Revolut Business account's team.
#[derive(Debug)]
pub struct RevolutTarget {
    client: Arc<HttpClient>,
    rt: Arc<tokio::runtime::Runtime>,
    page_size: u32,
    default_role: String,
    owned: Ownership,
    /// The members as last read (and as changed since): id → member.
    members: HashMap<String, Member>,
    /// The roles as last read.
    roles: Vec<Role>,
}

impl RevolutTarget {
    /// A target for `cfg`; the token is resolved now from the kit's environment. `owned` says
    /// which members orgsync manages (from the apply records).
    pub fn new(
        cfg: &RevolutTargetConfig,
        owned: Ownership,
        kit: &Kit,
    ) -> Result<RevolutTarget, ConnectorError> {
        let token = cfg
            .token
            .resolve("target.token", kit.secrets())
            .map_err(|e| ConnectorError::Config(e.to_string()))?;
        let mut settings = HttpSettings::new("Revolut Business", &cfg.base_url);
        settings.configure(&cfg.http);
        settings.concurrency = cfg.concurrency.max(1) as usize;
        settings.rate_limit = cfg.rate_limit;
        settings.progress = kit.progress();
        settings.credential_hint = match cfg.token.env_name() {
            Some(var) => format!("${var} (target.token; Revolut access tokens live 40 minutes)"),
            None => "target.token".to_owned(),
        };
        let client = HttpClient::new(settings, &format!("Bearer {token}"), describe_error)?;
        Ok(RevolutTarget {
            client: Arc::new(client),
            rt: kit.runtime()?,
            page_size: cfg.page_size.clamp(1, 1000),
            default_role: cfg.default_role.trim().to_owned(),
            owned,
            members: HashMap::new(),
            roles: Vec::new(),
        })
    }

    /// `validate --online`: the token reads the team and its roles, `default_role` is a role of
    /// the business found as the apply finds it ([`resolve_role`]), and every role the
    /// configuration names (`role_names`: the function mappings' targets and the fallback) is
    /// one by the name `GET /roles` gives, as the plan finds it (a near miss — another case, an
    /// id — is named with the role's name). Roles cannot be created through the API, so a missing one is a
    /// problem here, not a surprise in the plan. One line per problem.
    pub fn check_online(&self, role_names: &[String]) -> Result<Vec<String>, ConnectorError> {
        self.rt.block_on(self.client.get("/team-members?limit=1"))?;
        let roles = self.roles()?;
        let mut known: Vec<&str> = roles
            .iter()
            .filter(|r| !r.is_owner())
            .map(Role::label)
            .collect();
        known.sort();
        let known = known.join(", ");
        let mut problems = Vec::new();
        if resolve_role(&self.default_role, &roles).is_none() {
            problems.push(format!(
                "target.default_role: \"{}\" is not a role of this Revolut business (roles: {known})",
                self.default_role,
            ));
        }
        let mut named: Vec<&String> = role_names.iter().collect();
        named.sort();
        named.dedup();
        for name in named {
            // The plan finds a mapping's role as a function group: by the name GET /roles gives.
            if roles
                .iter()
                .any(|r| !r.is_owner() && r.label() == name.as_str())
            {
                continue;
            }
            match resolve_role(name, &roles) {
                Some(r) => problems.push(format!(
                    "functions.yaml: the role \"{name}\" is named \"{}\" at Revolut: a mapping names its role as GET /roles names it",
                    r.label()
                )),
                None => problems.push(format!(
                    "functions.yaml: the role \"{name}\" does not exist at Revolut (roles: {known}); roles cannot be created through the API: create it in the Revolut Business app, or map onto an existing one"
                )),
            }
        }
        Ok(problems)
    }

    /// The HTTP client (for its counters).
    pub fn client(&self) -> &HttpClient {
        &self.client
    }

    /// Every member. Pages newest first with `created_before`; two members can share a
    /// `created_at`, so each next page asks for what was created *up to and including* the
    /// oldest time seen (`created_before` = that time + 1 µs, Revolut's filter being strict) and
    /// drops the members it has seen. The listing ends with a page that brings nothing new,
    /// so a page cut short is read past, not taken for the end. A page that is all one
    /// timestamp and brings nothing new is asked again with the largest page (1000); more than
    /// that sharing one instant is an error, never a partial listing.
    pub fn list_members(&self) -> Result<Vec<Member>, ConnectorError> {
        self.rt
            .block_on(list_members_with(&self.client, self.page_size, None))
    }

    /// Every role. `GET /roles` pages like the members (newest first, `created_before`, `limit`
    /// up to 1000): a full page is followed by the page before its oldest `created_at`, roles
    /// already seen dropped.
    fn roles(&self) -> Result<Vec<Role>, ConnectorError> {
        self.rt.block_on(async {
            let data = |message: String| ConnectorError::Data {
                path: "GET /roles".to_owned(),
                line: 0,
                message,
            };
            let mut out: Vec<Role> = Vec::new();
            let mut seen: HashSet<String> = HashSet::new();
            let mut path = "/roles?limit=1000".to_owned();
            loop {
                let response = self.client.get(&path).await?;
                let page = list_body::<Role>(&response.body, "roles").map_err(data)?;
                let full = page.len() >= 1000;
                let oldest = page.iter().filter_map(|r| r.created_at.clone()).min();
                let mut new = 0;
                for r in page {
                    if seen.insert(r.id.clone()) {
                        new += 1;
                        out.push(r);
                    }
                }
                match oldest {
                    Some(oldest) if full && new > 0 => {
                        // Up to and including the oldest time: ties are kept, repeats dropped.
                        let next = oldest
                            .parse::<jiff::Timestamp>()
                            .ok()
                            .and_then(|t| t.checked_add(jiff::SignedDuration::from_micros(1)).ok())
                            .map_or(oldest, |t| t.to_string());
                        path = format!("/roles?limit=1000&created_before={}", encode(&next));
                    }
                    _ => return Ok(out),
                }
            }
        })
    }

    fn read(&mut self) -> Result<TargetSnapshot, ConnectorError> {
        let members = self.list_members()?;
        self.roles = self.roles()?;
        self.members = members.iter().map(|m| (m.id.clone(), m.clone())).collect();
        let mut accounts: Vec<Account> = members.iter().map(|m| self.account(m)).collect();
        accounts.sort_by(|a, b| a.id.cmp(&b.id));
        let mut function_groups: Vec<TargetGroup> = self
            .roles
            .iter()
            .filter(|r| !r.is_owner())
            .map(|r| TargetGroup {
                name: r.label().to_owned(),
                id: r.id.clone(),
                source_ids: Vec::new(),
                managed: false,
            })
            .collect();
        function_groups.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(TargetSnapshot {
            accounts,
            communities: Vec::new(),
            function_groups,
        })
    }

    fn account(&self, m: &Member) -> Account {
        let owner = self.is_owner(m);
        let person = self.owned.get(&m.id).filter(|_| !owner);
        Account {
            id: m.id.clone(),
            external_id: person.cloned(),
            email: Some(m.email.clone()),
            first_name: m.first_name.clone().unwrap_or_default(),
            last_name: m.last_name.clone().unwrap_or_default(),
            managed: person.is_some(),
            status: AccountStatus::Active,
            removed_at: None,
            communities: Vec::new(),
            function_groups: m.role_id.iter().cloned().collect(),
            protected: owner,
        }
    }

    /// The business owner: never adopted, changed or removed.
    fn is_owner(&self, m: &Member) -> bool {
        m.role_id
            .as_deref()
            .is_some_and(|r| is_owner_role(r, &self.roles))
    }

    /// The role id of `default_role`, resolved as `validate --online` does.
    fn default_role_id(&self) -> Result<String, String> {
        if self.roles.is_empty() {
            // Not read (an apply always reads first): sent as written.
            return Ok(self.default_role.clone());
        }
        resolve_role(&self.default_role, &self.roles)
            .map(|r| r.id.clone())
            .ok_or_else(|| {
                format!(
                    "target.default_role: \"{}\" is not a role of this Revolut business",
                    self.default_role
                )
            })
    }

    /// The role an invite or update asks for: its one function group (`groups`, what the
    /// member's function groups become), or the default.
    fn role_of(&self, groups: Option<&[GroupRef]>) -> Result<String, String> {
        let Some(groups) = groups else {
            return self.default_role_id();
        };
        let ids: Vec<&str> = groups.iter().map(|g| g.id.as_str()).collect();
        match ids.as_slice() {
            [] => self.default_role_id(),
            [one] if is_owner_role(one, &self.roles) => {
                Err("the Owner role cannot be given through the API".to_owned())
            }
            [one] => Ok((*one).to_owned()),
            more => Err(format!(
                "a Revolut member has one role, and the plan gives {} ({}): map the person's functions onto one role",
                more.len(),
                more.join(", ")
            )),
        }
    }

    /// The e-mail address and role of an invite.
    fn invite_of(&self, action: &Action) -> Result<(String, String), String> {
        let Changes::Invite(invite) = &action.changes else {
            return Err(format!("{} is not an invite", action.kind().as_str()));
        };
        let email = invite
            .email
            .as_deref()
            .ok_or_else(|| "an invite needs an e-mail address".to_owned())?
            .trim()
            .to_owned();
        Ok((email, self.role_of(invite.function_groups.as_deref())?))
    }

    fn invite(&mut self, action: &Action, ctx: &mut ApplyContext) -> Result<(), ConnectorError> {
        let (email, role) = self.invite_of(action).map_err(ConnectorError::Action)?;
        let m = self.rt.block_on(send_invite(
            Arc::clone(&self.client),
            self.page_size,
            Invitation {
                email,
                role,
                person: action.subject.clone(),
            },
            ctx.interrupt.clone(),
        ))?;
        ctx.record_account(&action.subject, m.id.clone());
        self.members.insert(m.id.clone(), m);
        Ok(())
    }

    fn update(&mut self, action: &Action, ctx: &mut ApplyContext) -> Result<(), String> {
        let id = action
            .target_id
            .clone()
            .ok_or_else(|| "an update needs the member's id".to_owned())?;
        if !self.members.contains_key(&id) {
            return Err(format!("team member {id} is gone"));
        }
        let Changes::Update(update) = &action.changes else {
            return Err(format!("{} is not an update", action.kind().as_str()));
        };
        let Update { edit, removed_at } = update;
        let AccountEdit {
            adopt,
            external_id,
            // Names and addresses are the member's own in Revolut: the plan lists them as
            // manual steps (`fields`), never as changes.
            first_name: _,
            last_name: _,
            email: _,
            function_groups,
        } = edit;
        if removed_at.is_some() {
            return Err("Revolut keeps no removed members to date".to_owned());
        }
        if function_groups.is_some() {
            // The plan lists a role change as a manual step (capabilities): Revolut's API has none.
            return Err(
                "Revolut's API cannot change a member's role: change it in the Revolut Business app"
                    .to_owned(),
            );
        }
        if self.members.get(&id).is_some_and(|m| self.is_owner(m)) {
            return Err("Revolut's business owner is never managed".to_owned());
        }
        // Adoption or a recorded identifier: orgsync's own record, in the apply record.
        if *adopt || external_id.is_some() {
            ctx.record_account(&action.subject, id);
        }
        Ok(())
    }

    fn remove(&mut self, action: &Action) -> Result<(), ConnectorError> {
        let refuse = |m: &str| Err(ConnectorError::Action(m.to_owned()));
        let Some(id) = action.target_id.clone() else {
            return refuse("a removal needs the member's id");
        };
        if self.members.get(&id).is_some_and(|m| self.is_owner(m)) {
            return refuse("Revolut's business owner cannot be removed");
        }
        let result = self.rt.block_on(self.client.send(
            Method::DELETE,
            &format!("/team-members/{}", encode(&id)),
            None,
            &[],
        ));
        match result {
            Ok(_) => {}
            // Gone already: a retry after a lost answer, or removed by hand.
            Err(e) if e.status() == Some(reqwest::StatusCode::NOT_FOUND) => {}
            Err(e) if e.status() == Some(reqwest::StatusCode::UNPROCESSABLE_ENTITY) => {
                return Err(ConnectorError::Action(format!(
                    "Revolut refused the removal (the business owner cannot be removed): {e}"
                )));
            }
            // A 403 stays one: the apply stops there.
            Err(e) if e.status() == Some(reqwest::StatusCode::FORBIDDEN) => return Err(e.into()),
            Err(e) => return Err(ConnectorError::Action(e.to_string())),
        }
        self.members.remove(&id);
        Ok(())
    }
}

/// The members, newest first — all of them, or with `since` (by this machine's clock) only those
/// created since then: paging stops at the first page that reaches older members. `since` is
/// moved onto the server's clock with the first answer's `Date` header (never later, and less
/// [`CLOCK_MARGIN`]); an answer without one lists everyone.
async fn list_members_with(
    client: &HttpClient,
    page_size: u32,
    since: Option<jiff::Timestamp>,
) -> Result<Vec<Member>, ConnectorError> {
    let data = |message: String| ConnectorError::Data {
        path: "GET /team-members".to_owned(),
        line: 0,
        message,
    };
    let mut seen: HashSet<String> = HashSet::new();
    let mut out: Vec<Member> = Vec::new();
    let mut before: Option<String> = None;
    let mut limit = page_size;
    // `since` on the server's clock, once the first answer told it.
    let mut cutoff: Option<Option<jiff::Timestamp>> = None;
    loop {
        let mut path = format!("/team-members?limit={limit}");
        if let Some(b) = &before {
            path.push_str(&format!("&created_before={}", encode(b)));
        }
        let response = client.get(&path).await?;
        let cutoff = *cutoff.get_or_insert_with(|| {
            let since = since?;
            let offset = clock_offset(&response, jiff::Timestamp::now())?;
            since
                .checked_add(offset.min(jiff::SignedDuration::ZERO) - CLOCK_MARGIN)
                .ok()
        });
        let page: Vec<Member> = list_body(&response.body, "team-members").map_err(data)?;
        let mut oldest: Option<jiff::Timestamp> = None;
        let mut new = 0usize;
        for m in &page {
            let at: jiff::Timestamp = m.created_at.parse().map_err(|e| {
                data(format!(
                    "member {} has created_at \"{}\": {e}",
                    m.id, m.created_at
                ))
            })?;
            oldest = Some(oldest.map_or(at, |o| o.min(at)));
            if seen.insert(m.id.clone()) && cutoff.is_none_or(|c| at >= c) {
                new += 1;
                out.push(m.clone());
            }
        }
        let Some(oldest) = oldest else {
            return Ok(out);
        };
        // Newest first: everything created since the cutoff is read.
        if cutoff.is_some_and(|c| oldest < c) {
            return Ok(out);
        }
        if new > 0 {
            // Next: everything up to and including the oldest time seen (ties included).
            let next = oldest
                .checked_add(jiff::SignedDuration::from_micros(1))
                .unwrap_or(oldest);
            before = Some(next.to_string());
            continue;
        }
        // Nothing new: the page holds only members of the oldest time, all seen.
        if page.len() as u64 >= u64::from(limit) {
            if limit < 1000 {
                limit = 1000;
                continue;
            }
            return Err(data(format!(
                "more than 1000 team members share the creation time {oldest}: they cannot be paged through without losing some"
            )));
        }
        // Every member of that time is seen: go strictly before it. An empty answer there
        // is the end; a page cut short earlier is read past this way.
        let strictly = oldest.to_string();
        if before.as_deref() == Some(strictly.as_str()) {
            return Ok(out);
        }
        before = Some(strictly);
    }
}

/// One invite: to whom, with which role, for which person (the log names the person, never the
/// address).
struct Invitation {
    email: String,
    role: String,
    person: String,
}

/// Sends one invite, never twice blindly ([`create_once`]): after a failure that may have
/// created the member, it is looked for by e-mail among the members created since the invite
/// was first sent; found, it is the invite's result.
async fn send_invite(
    client: Arc<HttpClient>,
    page_size: u32,
    invitation: Invitation,
    interrupt: Interrupt,
) -> Result<Member, ConnectorError> {
    let Invitation {
        email,
        role,
        person,
    } = invitation;
    let body = json!({ "email": email, "role_id": role });
    let since = jiff::Timestamp::now();
    let create = Create {
        client: &client,
        path: "/team-members",
        body: &body,
        key: "e-mail",
        resource: &person,
        interrupt: &interrupt,
    };
    create_once(
        &create,
        |r| r.json::<Member>(),
        || find_invited(&client, page_size, &email, since),
        |e| format!("{e}: a team member with this address already exists"),
    )
    .await
}

/// The member with `email` among those created since `since` (this machine's clock).
async fn find_invited(
    client: &HttpClient,
    page_size: u32,
    email: &str,
    since: jiff::Timestamp,
) -> Result<Option<Member>, String> {
    let members = list_members_with(client, page_size, Some(since))
        .await
        .map_err(|e| e.to_string())?;
    Ok(members.into_iter().find(|m| same_email(&m.email, email)))
}

/// The server's clock minus this machine's, from an answer's `Date` header, `received` when it
/// came. `Date` is to the second and stamped before the answer arrived, so this is never later
/// than the truth.
fn clock_offset(r: &Response, received: jiff::Timestamp) -> Option<jiff::SignedDuration> {
    let date = jiff::fmt::rfc2822::parse(r.header("date")?).ok()?;
    Some(date.timestamp().duration_since(received))
}

/// A list answer: a JSON array, or an object holding one (tolerated [assumption]: the
/// documentation shows arrays).
fn list_body<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<Vec<T>, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the {what} answer is not JSON: {e}"))?;
    let list = match value {
        Value::Array(_) => value,
        Value::Object(mut map) => match map.remove(what).or_else(|| map.remove("data")) {
            Some(v @ Value::Array(_)) => v,
            _ => return Err(format!("the {what} answer holds no list")),
        },
        _ => return Err(format!("the {what} answer holds no list")),
    };
    serde_json::from_value(list).map_err(|e| format!("unexpected {what} answer: {e}"))
}

impl Target for RevolutTarget {
    /// Invite with one role, delete for good. No role change (the Revolut Business app does
    /// it), no communities, no names, e-mail or manager, no transfer e-mail, no restore, no role
    /// creation.
    fn capabilities(&self) -> TargetCapabilities {
        TargetCapabilities {
            system: "Revolut".to_owned(),
            communities: false,
            function_groups: true,
            create_groups: false,
            removal: Removal::Delete,
            restore: false,
            notify: false,
            fields: WritableFields {
                first_name: false,
                last_name: false,
                email: false,
                manager: false,
            },
            create_only: false,
            change_function_groups: false,
            one_function_group: true,
        }
    }

    /// The configured `concurrency` and `rate_limit`: one request per invite (an invitation),
    /// update (the member's role) or removal (a delete).
    fn pace(&self) -> Option<orgsync_core::estimate::ApplyPace> {
        let settings = self.client.settings();
        Some(orgsync_core::estimate::ApplyPace {
            system: "Revolut".to_owned(),
            concurrency: u32::try_from(settings.concurrency).unwrap_or(u32::MAX),
            rate_limit: settings.rate_limit,
            request_ms: 400,
            requests: orgsync_core::estimate::RequestsPerAction::ONE_EACH,
        })
    }

    fn fetch(&mut self) -> Result<TargetSnapshot, ConnectorError> {
        self.read()
    }

    fn begin_apply(&mut self) -> Result<TargetSnapshot, ConnectorError> {
        self.read()
    }

    fn execute(&mut self, action: &Action, ctx: &mut ApplyContext) -> Result<(), ConnectorError> {
        let result = match action.kind() {
            ActionKind::Invite => return self.invite(action, ctx),
            ActionKind::Update => self.update(action, ctx),
            ActionKind::Remove => return self.remove(action),
            other => Err(format!(
                "Revolut cannot {}: the plan should have listed it as a manual step",
                other.as_str()
            )),
        };
        result.map_err(ConnectorError::Action)
    }

    /// Invites of one phase go out concurrently (the client's `concurrency` and `rate_limit`
    /// bound them); everything else runs one by one. Once the apply is interrupted no new invite
    /// starts.
    fn execute_batch(
        &mut self,
        actions: &[&Action],
        ctx: &mut ApplyContext,
    ) -> Vec<Result<(), ConnectorError>> {
        let concurrent = actions.len() > 1
            && self.client.settings().concurrency > 1
            && actions.iter().all(|a| a.kind() == ActionKind::Invite);
        if !concurrent {
            let mut forbidden = false;
            return actions
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    if forbidden || ctx.interrupt.is_set() {
                        return Err(ConnectorError::Interrupted);
                    }
                    let started = std::time::Instant::now();
                    let r = self.execute(a, ctx);
                    ctx.progress.finished(i, r.as_ref().map(|_| ()), started);
                    forbidden = matches!(r, Err(ConnectorError::Forbidden(_)));
                    r
                })
                .collect();
        }
        let prepared: Vec<Result<(String, String), String>> =
            actions.iter().map(|a| self.invite_of(a)).collect();
        let mut results: Vec<Option<Result<Member, Option<ConnectorError>>>> =
            (0..actions.len()).map(|_| None).collect();
        let slots = Arc::new(tokio::sync::Semaphore::new(
            self.client.settings().concurrency.max(1),
        ));
        // Set at the first 403: the token may not write, so no further invite starts.
        let forbidden = Arc::new(std::sync::atomic::AtomicBool::new(false));
        self.rt.block_on(async {
            let mut set = tokio::task::JoinSet::new();
            for (i, p) in prepared.iter().enumerate() {
                let (email, role) = match p {
                    Ok(p) => p.clone(),
                    Err(e) => {
                        results[i] = Some(Err(Some(ConnectorError::Action(e.clone()))));
                        continue;
                    }
                };
                let invitation = Invitation {
                    email,
                    role,
                    person: actions[i].subject.clone(),
                };
                let client = Arc::clone(&self.client);
                let interrupt = ctx.interrupt.clone();
                let page_size = self.page_size;
                let slots = Arc::clone(&slots);
                let forbidden = Arc::clone(&forbidden);
                let progress = ctx.progress.clone();
                set.spawn(async move {
                    use std::sync::atomic::Ordering;
                    // Started only when a slot frees, so an interrupt (or a 403) stops the rest.
                    let _slot = slots.acquire_owned().await;
                    if interrupt.is_set() || forbidden.load(Ordering::SeqCst) {
                        return (i, Err(None));
                    }
                    let started = std::time::Instant::now();
                    let result = send_invite(client, page_size, invitation, interrupt).await;
                    if matches!(result, Err(ConnectorError::Forbidden(_))) {
                        forbidden.store(true, Ordering::SeqCst);
                    }
                    progress.finished(i, result.as_ref().map(|_| ()), started);
                    (i, result.map_err(Some))
                });
            }
            while let Some(joined) = set.join_next().await {
                if let Ok((i, r)) = joined {
                    results[i] = Some(r);
                }
            }
        });
        actions
            .iter()
            .zip(results)
            .map(|(action, r)| match r {
                Some(Ok(m)) => {
                    ctx.record_account(&action.subject, m.id.clone());
                    self.members.insert(m.id.clone(), m);
                    Ok(())
                }
                Some(Err(None)) => Err(ConnectorError::Interrupted),
                Some(Err(Some(e))) => Err(e),
                None => Err(ConnectorError::Action(
                    "the invite's task did not finish".to_owned(),
                )),
            })
            .collect()
    }

    fn finish_apply(&mut self) -> Result<(), ConnectorError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `GET /roles` as Revolut documents it: lower-case default ids, capitalised names.
    fn roles(owner_id: &str) -> Vec<Role> {
        [
            (owner_id, "Owner"),
            ("member", "Member"),
            ("viewer", "Viewer"),
            ("a40b6121-350b-4d2e-9ba1-9dab61a18d46", "Finance"),
        ]
        .into_iter()
        .map(|(id, name)| Role {
            id: id.to_owned(),
            name: Some(name.to_owned()),
            created_at: Some("2023-09-07T09:21:12.962303Z".to_owned()),
        })
        .collect()
    }

    /// Issue 21: `default_role: "Member"` was "not a role" where its id is `member`, and the
    /// owner was known only as `Owner`.
    #[test]
    fn roles_resolve_by_id_then_id_or_name_without_case_and_the_owner_by_role() {
        for owner in ["owner", "Owner", "OWNER"] {
            let r = roles(owner);
            assert_eq!(resolve_role("Member", &r).unwrap().id, "member");
            assert_eq!(resolve_role("member", &r).unwrap().id, "member");
            assert_eq!(
                resolve_role("finance", &r).unwrap().id,
                "a40b6121-350b-4d2e-9ba1-9dab61a18d46"
            );
            assert!(resolve_role("Owner", &r).is_none(), "never given");
            assert!(resolve_role("Staff", &r).is_none());
            assert!(is_owner_role(owner, &r));
            assert!(!is_owner_role("member", &r));
        }
        // A custom id whose role is named Owner is the owner's too.
        let mut r = roles("x");
        r[0].id = "0098ac28-b92f-435e-a3a2-2829d3918dfb".to_owned();
        assert!(is_owner_role("0098ac28-b92f-435e-a3a2-2829d3918dfb", &r));
    }
}
