//! The `scim` target: any app that speaks SCIM 2.0 (RFC 7643/7644).
//!
//! How orgsync's model maps onto SCIM:
//! - **Accounts** are Users. A managed account carries the person's source identifier as
//!   `externalId`; a User without one is unmanaged and never written (unless adopted). `userName`
//!   and the primary work e-mail are the person's e-mail address; the enterprise extension gets
//!   `employeeNumber` (the source identifier) and `department` (the first community's name).
//! - **Communities and function groups** are Groups, told apart by `externalId`:
//!   `community:<source ids>` / `function:<source ids>` (ids joined with `,`; prefixes
//!   configurable in `target.groups`). Those are managed; other Groups are classified by
//!   `target.groups.other`. Memberships are the Groups' `members`, written with PATCH `add` /
//!   `remove` ops, per group, written while the phase runs (a full PATCH or 2 s behind the
//!   creates: [`write_memberships_as_they_come`]).
//! - **remove** is `active: false`; **restore** is `active: true`; the removal date (for
//!   retention) is the inactive User's `meta.lastModified`, read in the policy's time zone [I:
//!   SCIM has no removal date; a later edit of the User restarts the clock, which only ever delays
//!   anonymization]. **anonymize** replaces `userName` by `anonymized-<id>@invalid`, removes the
//!   names, e-mails, `externalId` and the enterprise attributes, and keeps `active: false`.
//! - A move's transfer e-mail has no SCIM equivalent: `notify` is not sent.
//! - Writes to a User send `If-Match` with its `meta.version` when the ServiceProviderConfig
//!   announces ETags; a 412 fails that action ("plan again"). Membership PATCHes are
//!   commutative add/remove ops and go without `If-Match`, so concurrent ones do not collide.
//! - Creates are idempotent at any slowness: a POST that may have created the resource (no
//!   answer, a lost connection, a 5xx) or meets a 409 is followed by lookups of the ownership
//!   key (`externalId`; for Users also `userName`) and what is found is adopted (see [`Doubt`]).
//!   After a timeout the server may still be creating it: it is looked for with backoff for
//!   [`no_answer_window`] — three times `timeout_secs`, 10 s to 5 minutes — and never POSTed
//!   again in this run; not found by then, the action is [`ConnectorError::Unconfirmed`] and
//!   the next plan finds it or plans it again.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::Kit;
use super::afas::encode;
use super::http::{HttpClient, HttpError, HttpSettings, Response};
use super::{ActionProgress, ApplyContext, ConnectorError, Interrupt, Target, TargetCapabilities};
use orgsync_core::config::{ScimGroupsConfig, ScimOtherGroups, ScimTargetConfig};
use orgsync_core::identity::same_email;
use orgsync_core::model::{Account, AccountStatus, TargetGroup, TargetSnapshot};
use orgsync_core::vocabulary::{
    AccountWrite, Action, Changes, CreateGroup, GroupRef, Invite, Rekey,
};

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// `userName` of an anonymized account: `anonymized-<id>@invalid` (RFC 2606's `.invalid`).
const ANONYMIZED_PREFIX: &str = "anonymized-";
const ANONYMIZED_SUFFIX: &str = "@invalid";
/// Membership changes per PATCH request when the configuration does not say
/// (`target.members_per_patch`): what AWS IAM Identity Center allows.
pub const MEMBERS_PER_PATCH: usize = 100;

/// A SCIM 2.0 service provider.
#[derive(Debug)]
pub struct ScimTarget {
    groups: ScimGroupsConfig,
    /// `externalId` prefix of managed Users (the ownership record).
    user_prefix: String,
    page_size: u32,
    /// Most membership changes per Group PATCH (`target.members_per_patch`).
    members_per_patch: usize,
    tz: TimeZone,
    client: Arc<HttpClient>,
    /// One runtime for the target's life: the client's pooled connections belong to it.
    rt: Arc<tokio::runtime::Runtime>,
    /// The state being applied to, between `begin_apply` and `finish_apply`.
    mirror: Option<Arc<Mutex<Mirror>>>,
    /// Actions of a batch started at once: the client's bound, so that an interrupt stops every
    /// action not yet started instead of finding them all queued for a request slot.
    starts: usize,
}

/// SCIM error bodies: `{"status": "409", "scimType": "uniqueness", "detail": "…"}`.
pub fn describe_error(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct ScimErrorBody {
        detail: Option<String>,
        scim_type: Option<String>,
    }
    let e: ScimErrorBody = serde_json::from_slice(body).ok()?;
    match (e.detail.filter(|d| !d.is_empty()), e.scim_type) {
        (Some(d), Some(t)) => Some(format!("{d} ({t})")),
        (Some(d), None) => Some(d),
        (None, Some(t)) => Some(t),
        (None, None) => None,
    }
}

/// What the server announces in `/ServiceProviderConfig`.
#[derive(Debug, Clone, Copy, Default)]
struct Features {
    patch: bool,
    etag: bool,
}

/// The target as last read and as changed since, with what writes need: versions and userNames.
#[derive(Debug, Default)]
struct Mirror {
    state: TargetSnapshot,
    /// Account id → position.
    by_id: HashMap<String, usize>,
    /// Version (`ETag`) of each User, when known and current.
    versions: HashMap<String, String>,
    /// `userName` of each User.
    user_names: HashMap<String, String>,
    features: Features,
}

impl Mirror {
    fn new(
        state: TargetSnapshot,
        versions: HashMap<String, String>,
        user_names: HashMap<String, String>,
        features: Features,
    ) -> Mirror {
        let by_id = state
            .accounts
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.clone(), i))
            .collect();
        Mirror {
            state,
            by_id,
            versions,
            user_names,
            features,
        }
    }

    fn account(&self, id: &str) -> Option<&Account> {
        self.by_id.get(id).map(|&i| &self.state.accounts[i])
    }

    fn account_mut(&mut self, id: &str) -> Option<&mut Account> {
        self.by_id.get(id).map(|&i| &mut self.state.accounts[i])
    }

    fn groups(&self, kind: GroupKind) -> &Vec<TargetGroup> {
        match kind {
            GroupKind::Community => &self.state.communities,
            GroupKind::FunctionGroup => &self.state.function_groups,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GroupKind {
    Community,
    FunctionGroup,
}

/// One membership change, and the action that asked for it.
#[derive(Debug, Clone)]
struct Membership {
    group: String,
    user: String,
    add: bool,
    kind: GroupKind,
}

/// What an action did besides its own requests: memberships to write (within seconds, by the
/// phase's membership writer), a group it created.
#[derive(Debug, Default)]
struct Effect {
    memberships: Vec<Membership>,
    created: Option<(String, String)>,
}

impl ScimTarget {
    /// A target for `cfg`; the token is resolved now from the kit's environment. `timezone` is the policy's,
    /// for reading removal dates; `progress` draws progress bars on a terminal.
    pub fn new(
        cfg: &ScimTargetConfig,
        timezone: &str,
        kit: &Kit,
    ) -> Result<ScimTarget, ConnectorError> {
        let token = cfg
            .token
            .resolve("target.token", kit.secrets())
            .map_err(|e| ConnectorError::Config(e.to_string()))?;
        let mut settings = HttpSettings::new("SCIM", &cfg.base_url);
        settings.configure(&cfg.http);
        settings.concurrency = cfg.concurrency.max(1) as usize;
        settings.rate_limit = cfg.rate_limit;
        settings.progress = kit.progress();
        settings.media_type = "application/scim+json";
        settings.credential_hint = cfg.token.hint("target.token");
        let client = HttpClient::new(settings, &format!("Bearer {token}"), describe_error)?;
        let tz = orgsync_core::config::time_zone(timezone)
            .map_err(|e| ConnectorError::Config(format!("unknown time zone {timezone}: {e}")))?;
        Ok(ScimTarget {
            groups: cfg.groups.clone(),
            user_prefix: cfg.users.external_id_prefix.clone(),
            page_size: cfg.page_size.max(1),
            members_per_patch: (cfg.members_per_patch as usize).max(1),
            tz,
            client: Arc::new(client),
            rt: kit.runtime()?,
            mirror: None,
            starts: cfg.concurrency.max(1) as usize,
        })
    }

    /// The client (for request counts in benchmarks).
    pub fn client(&self) -> &HttpClient {
        &self.client
    }

    /// Checks online that the server answers, accepts the token and supports PATCH. Returns the
    /// problems found.
    pub fn check_online(&self) -> Result<Vec<String>, ConnectorError> {
        self.rt.block_on(async {
            let features = self.discover().await?;
            self.client.get("/Users?startIndex=1&count=1").await?;
            let mut problems = Vec::new();
            if !features.patch {
                problems.push(
                    "target.base_url: the SCIM server does not announce PATCH support, which \
                     orgsync needs for memberships and deactivation"
                        .to_owned(),
                );
            }
            Ok(problems)
        })
    }

    async fn discover(&self) -> Result<Features, ConnectorError> {
        let response = self.client.get("/ServiceProviderConfig").await?;
        let config: Value = response
            .json()
            .map_err(|m| ConnectorError::Listing(format!("SCIM: /ServiceProviderConfig: {m}")))?;
        let supported = |key: &str| config[key]["supported"].as_bool().unwrap_or(false);
        Ok(Features {
            patch: supported("patch"),
            etag: supported("etag"),
        })
    }

    /// Every resource of `/Users` or `/Groups`. The first page gives the total (`totalResults`)
    /// and how many resources the server sends per page (it may send fewer than `count`, RFC
    /// 7644 §3.4.2.4); the other pages are fetched concurrently from their `startIndex`, and a
    /// page that comes back shorter than the others is continued where it stopped. Never a
    /// partial snapshot: a page holding fewer resources than its `itemsPerPage` says, a page
    /// from another `startIndex` than asked, a `totalResults` that changes between pages, a
    /// listing whose resources do not add up to it, or resources beyond it (read once the
    /// listing is complete) fail the fetch.
    async fn list(&self, resource: &'static str) -> Result<Vec<Value>, ConnectorError> {
        let count = u64::from(self.page_size);
        let first = page(&self.client, resource, 1, count).await?;
        let total = first.total;
        let same_total = |p: &Page, start: u64| -> Result<(), ConnectorError> {
            if p.total == total {
                return Ok(());
            }
            Err(ConnectorError::Listing(format!(
                "SCIM: {resource}: the first page announced {total} resources, the page at \
                 startIndex {start} {}: the list changed while it was read. Nothing was \
                 planned; try again",
                p.total
            )))
        };
        let mut pages: BTreeMap<u64, Page> = BTreeMap::new();
        let first_len = first.resources.len() as u64;
        pages.insert(1, first);
        if first_len > 0 && first_len < total {
            // The server may cap `count`: page by what it gives.
            let step = first_len;
            let mut set: JoinSet<(u64, Result<Page, ConnectorError>)> = JoinSet::new();
            let mut start = 1 + step;
            while start <= total {
                let client = Arc::clone(&self.client);
                let s = start;
                set.spawn(async move { (s, page(&client, resource, s, step).await) });
                start += step;
            }
            while let Some(joined) = set.join_next().await {
                let (s, result) = joined.map_err(|e| ConnectorError::Transport {
                    message: format!("SCIM: a page request failed: {e}"),
                    timed_out: false,
                })?;
                let p = result?;
                same_total(&p, s)?;
                pages.insert(s, p);
            }
            // Continue pages the server cut off early (fewer than the others, allowed by RFC
            // 7644) from where they stopped.
            let mut filled: BTreeMap<u64, Page> = BTreeMap::new();
            for (s, p) in std::mem::take(&mut pages) {
                let len = p.resources.len() as u64;
                filled.insert(s, p);
                let mut at = s + len;
                let end = (s + step).min(total + 1);
                while at < end {
                    let extra = page(&self.client, resource, at, end - at).await?;
                    same_total(&extra, at)?;
                    if extra.resources.is_empty() {
                        break;
                    }
                    let n = extra.resources.len() as u64;
                    filled.insert(at, extra);
                    at += n;
                }
            }
            pages = filled;
        }
        let mut out = Vec::with_capacity(total as usize);
        let mut seen = std::collections::HashSet::new();
        for (_, p) in pages {
            for r in p.resources {
                let id = r["id"].as_str().unwrap_or_default().to_owned();
                if seen.insert(id) {
                    out.push(r);
                }
            }
        }
        if out.len() as u64 != total {
            return Err(ConnectorError::Listing(format!(
                "SCIM: {resource}: the server announced {total} resources but listed {}: the \
                 list changed while it was read, or a page was cut short. Nothing was planned; \
                 try again",
                out.len()
            )));
        }
        // A `totalResults` that counts less than there is (this page only, a stale count) would
        // end the listing early: what lies beyond it must be nothing.
        let beyond = page(&self.client, resource, total + 1, 1).await?;
        if !beyond.resources.is_empty() || beyond.total != total {
            return Err(ConnectorError::Listing(format!(
                "SCIM: {resource}: the server announced {total} resources, but lists more after \
                 them (totalResults {} at startIndex {}): its totalResults cannot be trusted, or \
                 the list changed while it was read. Nothing was planned",
                beyond.total,
                total + 1
            )));
        }
        Ok(out)
    }

    async fn read(&self) -> Result<(Mirror, Features), ConnectorError> {
        let features = self.discover().await?;
        let (users, groups) = tokio::try_join!(self.list("/Users"), self.list("/Groups"))?;
        let mut versions = HashMap::new();
        let mut user_names = HashMap::new();
        let mut accounts: Vec<Account> = Vec::with_capacity(users.len());
        for u in &users {
            let Some(account) = self.account(u) else {
                continue;
            };
            if let Some(v) = u["meta"]["version"].as_str() {
                versions.insert(account.id.clone(), v.to_owned());
            }
            if let Some(n) = u["userName"].as_str() {
                user_names.insert(account.id.clone(), n.to_owned());
            }
            accounts.push(account);
        }
        accounts.sort_by(|a, b| a.id.cmp(&b.id));
        let index: HashMap<String, usize> = accounts
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.clone(), i))
            .collect();
        let mut state = TargetSnapshot {
            accounts,
            communities: Vec::new(),
            function_groups: Vec::new(),
        };
        for g in &groups {
            let Some((kind, group)) = self.group(g) else {
                continue;
            };
            for m in g["members"].as_array().into_iter().flatten() {
                let Some(i) = m["value"].as_str().and_then(|v| index.get(v)) else {
                    continue;
                };
                let a = &mut state.accounts[*i];
                match kind {
                    GroupKind::Community => a.communities.push(group.id.clone()),
                    GroupKind::FunctionGroup => a.function_groups.push(group.id.clone()),
                }
            }
            match kind {
                GroupKind::Community => state.communities.push(group),
                GroupKind::FunctionGroup => state.function_groups.push(group),
            }
        }
        state.communities.sort_by(|a, b| a.id.cmp(&b.id));
        state.function_groups.sort_by(|a, b| a.id.cmp(&b.id));
        for a in &mut state.accounts {
            a.communities.sort();
            a.function_groups.sort();
        }
        tracing::info!(
            users = state.accounts.len(),
            groups = groups.len(),
            requests = self.client.requests(),
            "read the SCIM target"
        );
        Ok((Mirror::new(state, versions, user_names, features), features))
    }

    /// A User as an account.
    fn account(&self, u: &Value) -> Option<Account> {
        let id = u["id"].as_str()?.to_owned();
        let user_name = u["userName"].as_str().unwrap_or_default();
        let anonymized =
            user_name.starts_with(ANONYMIZED_PREFIX) && user_name.ends_with(ANONYMIZED_SUFFIX);
        // Managed: orgsync's namespaced externalId. A foreign one (Entra, Okta, a script) says
        // nothing about the person and is not exposed.
        let external_id = u["externalId"]
            .as_str()
            .filter(|_| !anonymized && !self.user_prefix.is_empty())
            .and_then(|x| x.strip_prefix(self.user_prefix.as_str()))
            .filter(|x| !x.is_empty())
            .map(str::to_owned);
        let emails = u["emails"].as_array();
        let email = emails
            .and_then(|list| {
                list.iter()
                    .find(|e| e["primary"].as_bool() == Some(true))
                    .or_else(|| list.first())
            })
            .and_then(|e| e["value"].as_str())
            .map(str::to_owned)
            .or_else(|| (user_name.contains('@') && !anonymized).then(|| user_name.to_owned()));
        let active = u["active"].as_bool().unwrap_or(true);
        let status = if anonymized {
            AccountStatus::Anonymized
        } else if active {
            AccountStatus::Active
        } else {
            AccountStatus::Removed
        };
        let removed_at = (status == AccountStatus::Removed)
            .then(|| self.local_date(u["meta"]["lastModified"].as_str()?))
            .flatten();
        Some(Account {
            managed: external_id.is_some() || anonymized,
            external_id,
            email: if anonymized { None } else { email },
            first_name: u["name"]["givenName"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            last_name: u["name"]["familyName"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            status,
            removed_at,
            id,
            communities: Vec::new(),
            function_groups: Vec::new(),
            protected: false,
        })
    }

    fn local_date(&self, timestamp: &str) -> Option<Date> {
        let t: jiff::Timestamp = timestamp.parse().ok()?;
        Some(t.to_zoned(self.tz.clone()).date())
    }

    /// A Group as a community or function group, by the convention.
    fn group(&self, g: &Value) -> Option<(GroupKind, TargetGroup)> {
        let id = g["id"].as_str()?.to_owned();
        let name = g["displayName"].as_str().unwrap_or_default().to_owned();
        let external = g["externalId"].as_str().unwrap_or_default();
        let tagged = |prefix: &str| {
            (!prefix.is_empty())
                .then(|| external.strip_prefix(prefix))
                .flatten()
        };
        let (kind, source_ids) = if let Some(ids) = tagged(&self.groups.community_prefix) {
            (GroupKind::Community, Some(ids))
        } else if let Some(ids) = tagged(&self.groups.function_group_prefix) {
            (GroupKind::FunctionGroup, Some(ids))
        } else {
            match self.groups.other {
                ScimOtherGroups::Community => (GroupKind::Community, None),
                ScimOtherGroups::FunctionGroup => (GroupKind::FunctionGroup, None),
                ScimOtherGroups::Ignore => return None,
            }
        };
        Some((
            kind,
            TargetGroup {
                id,
                name,
                managed: source_ids.is_some(),
                source_ids: source_ids
                    .into_iter()
                    .flat_map(|ids| ids.split(','))
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            },
        ))
    }

    fn prefix(&self, kind: GroupKind) -> &str {
        match kind {
            GroupKind::Community => &self.groups.community_prefix,
            GroupKind::FunctionGroup => &self.groups.function_group_prefix,
        }
    }

    /// Runs one phase's actions: each account's or group's actions in order, different ones
    /// concurrently (within the client's bound), and meanwhile their membership changes, a few
    /// seconds behind ([`write_memberships_as_they_come`]), so a kill leaves little unwritten
    /// (and the next plan completes it).
    ///
    /// Once `interrupt` is set no lane starts another action (those are
    /// [`ConnectorError::Interrupted`]); the actions in flight finish, and the memberships of
    /// every action that completed are still written, so an interrupted apply never leaves a
    /// created User in no group.
    async fn run_batch(
        &self,
        mirror: Arc<Mutex<Mirror>>,
        actions: &[&Action],
        interrupt: &Interrupt,
        progress: &ActionProgress,
    ) -> (Vec<Result<(), ConnectorError>>, Vec<(String, String)>) {
        // Actions on the same account or group run in order, in one task.
        let mut lanes: Vec<Vec<usize>> = Vec::new();
        let mut lane_of: HashMap<String, usize> = HashMap::new();
        for (i, a) in actions.iter().enumerate() {
            let key = match &a.target_id {
                Some(id) => format!("id:{id}"),
                None => format!("{}:{}", a.kind().as_str(), a.subject),
            };
            let lane = *lane_of.entry(key).or_insert_with(|| {
                lanes.push(Vec::new());
                lanes.len() - 1
            });
            lanes[lane].push(i);
        }
        let ctx = Arc::new(Ctx {
            client: Arc::clone(&self.client),
            mirror: Arc::clone(&mirror),
            prefixes: [
                self.prefix(GroupKind::Community).to_owned(),
                self.prefix(GroupKind::FunctionGroup).to_owned(),
            ],
            user_prefix: self.user_prefix.clone(),
            interrupt: interrupt.clone(),
        });
        let starts = Arc::new(tokio::sync::Semaphore::new(self.starts));
        // Memberships are written while the phase runs, a few seconds behind the creates.
        let (flush_tx, flush_rx) = tokio::sync::mpsc::unbounded_channel();
        let flusher = tokio::spawn(write_memberships_as_they_come(
            Arc::clone(&self.client),
            Arc::clone(&mirror),
            flush_rx,
            self.members_per_patch,
        ));
        let mut set: JoinSet<Vec<(usize, Result<Effect, ConnectorError>)>> = JoinSet::new();
        for lane in lanes {
            let ctx = Arc::clone(&ctx);
            let lane_actions: Vec<(usize, Action)> =
                lane.iter().map(|&i| (i, actions[i].clone())).collect();
            let progress = progress.clone();
            let interrupt = interrupt.clone();
            let starts = Arc::clone(&starts);
            let flush_tx = flush_tx.clone();
            set.spawn(async move {
                let mut out = Vec::with_capacity(lane_actions.len());
                for (i, action) in lane_actions {
                    let _slot = starts.acquire().await;
                    if interrupt.is_set() {
                        // Not started: left for the next plan. (`None` below.)
                        break;
                    }
                    let started = std::time::Instant::now();
                    let mut result = ctx.execute(&action).await;
                    // Done once its request is: a membership written later that fails is
                    // reported again by the apply runner.
                    progress.finished(i, result.as_ref().map(|_| ()), started);
                    if let Ok(effect) = &mut result {
                        for m in std::mem::take(&mut effect.memberships) {
                            // The writer outlives the lanes; a closed channel cannot happen.
                            let _ = flush_tx.send((i, m));
                        }
                    }
                    out.push((i, result));
                }
                out
            });
        }
        let mut results: Vec<Option<Result<Effect, ConnectorError>>> =
            (0..actions.len()).map(|_| None).collect();
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok(done) => {
                    for (i, r) in done {
                        results[i] = Some(r);
                    }
                }
                Err(e) => tracing::error!("an apply task failed: {e}"),
            }
        }

        // Whatever is still waiting (the lanes are done: the channel closes).
        drop(flush_tx);
        let mut failures = match flusher.await {
            Ok(failures) => failures,
            Err(e) => {
                tracing::error!("the membership writer failed: {e}");
                HashMap::new()
            }
        };
        let mut created_ids = Vec::new();
        for r in results.iter().flatten().flatten() {
            if let Some(c) = &r.created {
                created_ids.push(c.clone());
            }
        }
        let out = results
            .into_iter()
            .enumerate()
            .map(|(i, r)| match (r, failures.remove(&i)) {
                (Some(Ok(_)), None) => Ok(()),
                (Some(Ok(_)), Some(e)) => Err(ConnectorError::Action(e)),
                (Some(Err(e)), _) => Err(e),
                (None, _) if interrupt.is_set() => Err(ConnectorError::Interrupted),
                (None, _) => Err(ConnectorError::Action(
                    "internal error: the action was not run".to_owned(),
                )),
            })
            .collect();
        (out, created_ids)
    }
}

/// A group's membership changes (with the actions that asked for them) and how their PATCH went.
type MembershipPatch = (Vec<(usize, Membership)>, Result<(), String>);

/// Membership changes wait at most this long before they are written: a kill during a phase
/// leaves at most this much (and the requests in flight) of its memberships unwritten.
const FLUSH_AFTER: Duration = Duration::from_secs(2);

/// Writes the membership changes the lanes send, while they run: when one group has a full
/// PATCH (`limit` changes) waiting, when the oldest change has waited [`FLUSH_AFTER`],
/// and what is left when the channel closes. One write at a time, so two PATCHes of one group
/// never race. Returns the actions whose memberships failed, with the error.
async fn write_memberships_as_they_come(
    client: Arc<HttpClient>,
    mirror: Arc<Mutex<Mirror>>,
    mut changes: tokio::sync::mpsc::UnboundedReceiver<(usize, Membership)>,
    limit: usize,
) -> HashMap<usize, String> {
    let mut failures = HashMap::new();
    let mut pending: Vec<(usize, Membership)> = Vec::new();
    let mut per_group: HashMap<String, usize> = HashMap::new();
    let mut oldest: Option<tokio::time::Instant> = None;
    loop {
        let next = match oldest {
            Some(t) => tokio::time::timeout_at(t + FLUSH_AFTER, changes.recv())
                .await
                .ok(),
            None => Some(changes.recv().await),
        };
        let full = match next {
            Some(Some(change)) => {
                oldest.get_or_insert_with(tokio::time::Instant::now);
                let waiting = per_group.entry(change.1.group.clone()).or_default();
                *waiting += 1;
                let full = *waiting >= limit;
                pending.push(change);
                full
            }
            // The channel closed: the phase's actions are done.
            Some(None) => break,
            // The oldest change has waited long enough.
            None => true,
        };
        if full {
            write_memberships(
                &client,
                &mirror,
                std::mem::take(&mut pending),
                &mut failures,
                limit,
            )
            .await;
            per_group.clear();
            oldest = None;
        }
    }
    write_memberships(&client, &mirror, pending, &mut failures, limit).await;
    failures
}

/// Writes `changes`, one PATCH per group (and per `limit` changes), concurrently within the
/// client's bound; a PATCH answered with 413 is split in halves and sent again. A written
/// change goes into the mirror, a failed PATCH fails every action that needed it (into
/// `failures`).
async fn write_memberships(
    client: &Arc<HttpClient>,
    mirror: &Mutex<Mirror>,
    changes: Vec<(usize, Membership)>,
    failures: &mut HashMap<usize, String>,
    limit: usize,
) {
    let mut per_group: BTreeMap<String, Vec<(usize, Membership)>> = BTreeMap::new();
    for (i, m) in changes {
        per_group.entry(m.group.clone()).or_default().push((i, m));
    }
    let mut set: JoinSet<Vec<MembershipPatch>> = JoinSet::new();
    for (group, changes) in per_group {
        for chunk in changes.chunks(limit.max(1)) {
            let chunk = chunk.to_vec();
            let client = Arc::clone(client);
            let group = group.clone();
            set.spawn(async move { patch_members_splitting(&client, &group, chunk).await });
        }
    }
    while let Some(joined) = set.join_next().await {
        let Ok(patches) = joined else {
            continue;
        };
        for (chunk, result) in patches {
            match result {
                Ok(()) => {
                    let mut m = mirror.lock().unwrap_or_else(|e| e.into_inner());
                    for (_, change) in &chunk {
                        if let Some(a) = m.account_mut(&change.user) {
                            let list = match change.kind {
                                GroupKind::Community => &mut a.communities,
                                GroupKind::FunctionGroup => &mut a.function_groups,
                            };
                            if change.add {
                                if !list.contains(&change.group) {
                                    list.push(change.group.clone());
                                }
                            } else {
                                list.retain(|g| g != &change.group);
                            }
                        }
                    }
                }
                Err(e) => {
                    for (i, _) in &chunk {
                        failures.entry(*i).or_insert_with(|| e.clone());
                    }
                }
            }
        }
    }
}

/// One group's PATCH of `chunk`; one answered 413 (Payload Too Large: the server's own limit is
/// lower than `members_per_patch`) is split in halves, each sent again, down to single changes.
async fn patch_members_splitting(
    client: &HttpClient,
    group: &str,
    chunk: Vec<(usize, Membership)>,
) -> Vec<MembershipPatch> {
    let mut out = Vec::new();
    let mut todo = vec![chunk];
    while let Some(chunk) = todo.pop() {
        match patch_members(client, group, &chunk).await {
            Err(e) if e.status().map(|s| s.as_u16()) == Some(413) && chunk.len() > 1 => {
                tracing::info!(
                    "SCIM: the PATCH of {} memberships of group {group} was too large (413): sent in halves",
                    chunk.len()
                );
                let (a, b) = chunk.split_at(chunk.len() / 2);
                todo.push(b.to_vec());
                todo.push(a.to_vec());
            }
            result => out.push((
                chunk,
                result.map_err(|e| format!("memberships of group {group}: {e}")),
            )),
        }
    }
    out
}

/// One page of a list.
struct Page {
    total: u64,
    resources: Vec<Value>,
}

async fn page(
    client: &HttpClient,
    resource: &str,
    start: u64,
    count: u64,
) -> Result<Page, ConnectorError> {
    let path = format!("{resource}?startIndex={start}&count={count}");
    let response = client.get(&path).await?;
    let body: Value = response
        .json()
        .map_err(|m| ConnectorError::Listing(format!("SCIM: {resource}: {m}")))?;
    let resources = match &body["Resources"] {
        Value::Array(list) => list.clone(),
        Value::Null => Vec::new(),
        _ => {
            return Err(ConnectorError::Listing(format!(
                "SCIM: {resource}: `Resources` is not a list"
            )));
        }
    };
    let total = body["totalResults"].as_u64().ok_or_else(|| {
        ConnectorError::Listing(format!(
            "SCIM: {resource}: the response has no totalResults"
        ))
    })?;
    // An answer from another place in the list (a server that ignores `startIndex`) would
    // repeat resources and leave others out.
    if let Some(answered) = body["startIndex"].as_u64()
        && answered != start
        && !resources.is_empty()
    {
        return Err(ConnectorError::Listing(format!(
            "SCIM: {resource}: asked for the page at startIndex {start}, the server answered \
             the one at {answered}: it does not page as RFC 7644 says. Nothing was planned"
        )));
    }
    if let Some(items) = body["itemsPerPage"].as_u64()
        && items != resources.len() as u64
    {
        return Err(ConnectorError::Listing(format!(
            "SCIM: {resource} at startIndex {start}: the page announces {items} resources but \
             holds {}: it was cut short. Nothing was planned; try again",
            resources.len()
        )));
    }
    Ok(Page { total, resources })
}

/// Adds and removes members of one group in one PATCH.
async fn patch_members(
    client: &HttpClient,
    group: &str,
    changes: &[(usize, Membership)],
) -> Result<(), HttpError> {
    let adds: Vec<Value> = changes
        .iter()
        .filter(|(_, m)| m.add)
        .map(|(_, m)| json!({ "value": m.user }))
        .collect();
    let mut ops = Vec::new();
    if !adds.is_empty() {
        ops.push(json!({ "op": "add", "path": "members", "value": adds }));
    }
    for (_, m) in changes.iter().filter(|(_, m)| !m.add) {
        ops.push(json!({
            "op": "remove",
            "path": format!("members[value eq \"{}\"]", m.user),
        }));
    }
    let body = json!({ "schemas": [PATCH_OP], "Operations": ops });
    client
        .send(Method::PATCH, &format!("/Groups/{group}"), Some(&body), &[])
        .await
        .map(|_| ())
}

/// What every task of a batch shares.
struct Ctx {
    client: Arc<HttpClient>,
    mirror: Arc<Mutex<Mirror>>,
    prefixes: [String; 2],
    /// `externalId` prefix of managed Users.
    user_prefix: String,
    /// Set when the apply is interrupted: a look for an unsure create stops (unconfirmed).
    interrupt: Interrupt,
}

impl Ctx {
    fn mirror(&self) -> std::sync::MutexGuard<'_, Mirror> {
        self.mirror.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs one action. Creates (groups, invites) can end unconfirmed
    /// ([`ConnectorError::Unconfirmed`]); every other failure is the action's own.
    async fn execute(&self, action: &Action) -> Result<Effect, ConnectorError> {
        match &action.changes {
            Changes::CreateCommunity(g) => self.create_group(action, g, GroupKind::Community).await,
            Changes::CreateFunctionGroup(g) => {
                self.create_group(action, g, GroupKind::FunctionGroup).await
            }
            Changes::Invite(i) => self.invite(action, i).await,
            _ => self.change(action).await.map_err(ConnectorError::Action),
        }
    }

    /// Runs an action that creates nothing.
    async fn change(&self, action: &Action) -> Result<Effect, String> {
        match &action.changes {
            Changes::CreateCommunity(_) | Changes::CreateFunctionGroup(_) | Changes::Invite(_) => {
                Err("internal error: a create reached the change path".to_owned())
            }
            Changes::UpdateCommunity(r) => self.rekey_group(action, r, GroupKind::Community).await,
            Changes::UpdateFunctionGroup(r) => {
                self.rekey_group(action, r, GroupKind::FunctionGroup).await
            }
            Changes::Update(_) | Changes::Move(_) | Changes::Restore(_) => {
                let id = target_id(action)?;
                let status = self.mirror().account(id).map(|a| a.status);
                match (status, action.changes.account_write()) {
                    (None, _) => Err(format!("account {id} does not exist")),
                    (Some(AccountStatus::Anonymized), _) => {
                        Err(format!("account {id} is anonymized"))
                    }
                    (Some(_), Some(write)) => self.write_account(id, write).await,
                    (Some(_), None) => Ok(Effect::default()),
                }
            }
            Changes::Remove(_) => {
                let id = target_id(action)?;
                let status = self.mirror().account(id).map(|a| a.status);
                match status {
                    None => Err(format!("account {id} does not exist")),
                    // Already done (a rerun after a crash).
                    Some(AccountStatus::Removed) => Ok(Effect::default()),
                    Some(AccountStatus::Anonymized) => Err(format!("account {id} is anonymized")),
                    Some(AccountStatus::Active) => {
                        let ops = vec![json!({"op": "replace", "path": "active", "value": false})];
                        self.patch_user(id, ops).await?;
                        let mut m = self.mirror();
                        if let Some(a) = m.account_mut(id) {
                            a.status = AccountStatus::Removed;
                        }
                        Ok(Effect::default())
                    }
                }
            }
            Changes::Anonymize(an) => {
                let id = target_id(action)?;
                if self.mirror().account(id).is_none() {
                    return Err(format!("account {id} does not exist"));
                }
                let ops = vec![
                    json!({"op": "replace", "path": "userName",
                           "value": format!("{ANONYMIZED_PREFIX}{id}{ANONYMIZED_SUFFIX}")}),
                    json!({"op": "replace", "path": "active", "value": false}),
                    json!({"op": "remove", "path": "name"}),
                    json!({"op": "remove", "path": "displayName"}),
                    json!({"op": "remove", "path": "emails"}),
                    json!({"op": "remove", "path": "externalId"}),
                    json!({"op": "remove", "path": ENTERPRISE}),
                ];
                self.patch_user(id, ops).await?;
                let mut m = self.mirror();
                if let Some(a) = m.account_mut(id) {
                    a.status = AccountStatus::Anonymized;
                    a.email = None;
                    a.first_name.clear();
                    a.last_name.clear();
                    a.external_id = None;
                }
                drop(m);
                // The memberships of managed groups kept through retention go too.
                let mut effect = Effect::default();
                for (dropped, kind) in [
                    (&an.communities, GroupKind::Community),
                    (&an.function_groups, GroupKind::FunctionGroup),
                ] {
                    for g in dropped.iter().flat_map(|c| &c.from) {
                        effect.memberships.push(Membership {
                            group: g.id.clone(),
                            user: id.to_owned(),
                            add: false,
                            kind,
                        });
                    }
                }
                Ok(effect)
            }
            Changes::RemoveCommunity(_) | Changes::RemoveFunctionGroup(_) => {
                let id = target_id(action)?;
                match self
                    .client
                    .send(Method::DELETE, &format!("/Groups/{id}"), None, &[])
                    .await
                {
                    Ok(_) => {}
                    Err(e) if e.status().is_some_and(|s| s.as_u16() == 404) => {}
                    Err(e) => return Err(e.to_string()),
                }
                let mut m = self.mirror();
                m.state.communities.retain(|g| g.id != id);
                m.state.function_groups.retain(|g| g.id != id);
                for a in &mut m.state.accounts {
                    a.communities.retain(|g| g != id);
                    a.function_groups.retain(|g| g != id);
                }
                Ok(Effect::default())
            }
        }
    }

    /// Records new source identifiers on a managed group: its `externalId` becomes
    /// `<prefix><ids>`. Idempotent: a rerun writes the same value.
    async fn rekey_group(
        &self,
        action: &Action,
        rekey: &Rekey,
        kind: GroupKind,
    ) -> Result<Effect, String> {
        let id = target_id(action)?;
        let source_ids = rekey.source_ids.to.clone();
        if !self.mirror().groups(kind).iter().any(|g| g.id == id) {
            return Err(format!("group {id} does not exist"));
        }
        let external_id = format!("{}{}", self.prefixes[kind as usize], source_ids.join(","));
        let body = json!({
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "externalId", "value": external_id}],
        });
        self.client
            .send(Method::PATCH, &format!("/Groups/{id}"), Some(&body), &[])
            .await
            .map_err(|e| e.to_string())?;
        let mut m = self.mirror();
        let groups = match kind {
            GroupKind::Community => &mut m.state.communities,
            GroupKind::FunctionGroup => &mut m.state.function_groups,
        };
        if let Some(g) = groups.iter_mut().find(|g| g.id == id) {
            g.source_ids = source_ids;
        }
        Ok(Effect::default())
    }

    /// Creates a managed group, or reuses the one the same action created before (a rerun).
    async fn create_group(
        &self,
        action: &Action,
        create: &CreateGroup,
        kind: GroupKind,
    ) -> Result<Effect, ConnectorError> {
        let mut source_ids = create.source_ids.clone();
        source_ids.dedup();
        let name = create.name.clone();
        let mut sorted = source_ids.clone();
        sorted.sort();
        let existing = self.mirror().groups(kind).iter().find_map(|g| {
            let mut ids = g.source_ids.clone();
            ids.sort();
            (g.managed && g.name == name && ids == sorted).then(|| g.id.clone())
        });
        let id = match existing {
            Some(id) => id,
            None => {
                let prefix = &self.prefixes[kind as usize];
                let external_id = format!("{prefix}{}", source_ids.join(","));
                let body = json!({
                    "schemas": [GROUP_SCHEMA],
                    "displayName": name,
                    "externalId": external_id,
                });
                let id = self.create("/Groups", &body, &external_id, None).await?.0;
                let mut m = self.mirror();
                let group = TargetGroup {
                    id: id.clone(),
                    name,
                    source_ids,
                    managed: true,
                };
                match kind {
                    GroupKind::Community => m.state.communities.push(group),
                    GroupKind::FunctionGroup => m.state.function_groups.push(group),
                }
                id
            }
        };
        Ok(Effect {
            memberships: Vec::new(),
            created: Some((GroupRef::placeholder(action.kind(), &action.subject), id)),
        })
    }

    /// POSTs a resource, never twice blindly ([`create_once`]): it is looked for by its
    /// ownership key — `externalId`, then `userName` for Users — and adopted when found. A 409
    /// for a resource that is not ours is the conflict.
    async fn create(
        &self,
        resource: &str,
        body: &Value,
        external_id: &str,
        user_name: Option<&str>,
    ) -> Result<(String, Option<String>), ConnectorError> {
        let create = Create {
            client: &self.client,
            path: resource,
            body,
            key: if user_name.is_some() {
                "externalId, then userName"
            } else {
                "externalId"
            },
            resource: external_id,
            interrupt: &self.interrupt,
        };
        create_once(
            &create,
            |r| resource_id(r).map(|id| (id, version(r))),
            || self.find_own(resource, external_id, user_name),
            |error| match user_name {
                Some(n) => format!(
                    "{error}: another account already uses {n}; adopt it with \
                     `identity.adopt_unmanaged` or resolve the conflict by hand"
                ),
                None => error.to_string(),
            },
        )
        .await
    }

    /// The resource this orgsync would have created: its ownership key, `externalId` (and for
    /// Users the `userName`), matches.
    async fn find_own(
        &self,
        resource: &str,
        external_id: &str,
        user_name: Option<&str>,
    ) -> Result<Option<(String, Option<String>)>, String> {
        let mut found = self
            .search(
                resource,
                &format!("externalId eq \"{}\"", escape(external_id)),
            )
            .await?;
        if found.is_empty()
            && let Some(name) = user_name
        {
            found = self
                .search(resource, &format!("userName eq \"{}\"", escape(name)))
                .await?;
        }
        let ours = found.iter().find(|r| {
            r["externalId"].as_str() == Some(external_id)
                && user_name
                    .is_none_or(|n| r["userName"].as_str().is_some_and(|u| same_email(u, n)))
        });
        Ok(ours.filter(|r| r["id"].is_string()).map(|r| {
            (
                r["id"].as_str().unwrap_or_default().to_owned(),
                r["meta"]["version"].as_str().map(str::to_owned),
            )
        }))
    }

    async fn search(&self, resource: &str, filter: &str) -> Result<Vec<Value>, String> {
        let path = format!("{resource}?filter={}", encode(filter));
        let r = self.client.get(&path).await.map_err(|e| e.to_string())?;
        let body: Value = r.json()?;
        Ok(body["Resources"].as_array().cloned().unwrap_or_default())
    }

    /// Creates a managed account, or — when the same invite already ran (a managed, active
    /// account with this external id and e-mail) — brings that one in line instead.
    async fn invite(&self, action: &Action, invite: &Invite) -> Result<Effect, ConnectorError> {
        let email = invite.email.clone().ok_or_else(|| {
            ConnectorError::Action("an invite needs an e-mail address".to_owned())
        })?;
        // Checked before anything is written.
        let communities = self
            .resolve(invite.communities.as_deref(), GroupKind::Community)
            .map_err(ConnectorError::Action)?;
        let function_groups = self
            .resolve(invite.function_groups.as_deref(), GroupKind::FunctionGroup)
            .map_err(ConnectorError::Action)?;
        let same_invite = |a: &Account| {
            a.managed
                && a.status == AccountStatus::Active
                && a.external_id.as_deref() == Some(action.subject.as_str())
                && a.email.as_deref().is_some_and(|e| same_email(e, &email))
        };
        let existing = self
            .mirror()
            .state
            .accounts
            .iter()
            .find(|a| same_invite(a))
            .map(|a| a.id.clone());
        if let Some(id) = existing
            && let Some(write) = action.changes.account_write()
        {
            return self
                .write_account(&id, write)
                .await
                .map_err(ConnectorError::Action);
        }
        let first = invite.first_name.clone().unwrap_or_default();
        let last = invite.last_name.clone().unwrap_or_default();
        let mut enterprise = json!({ "employeeNumber": action.subject });
        if let Some(name) = first_group_name(invite.communities.as_deref()) {
            enterprise["department"] = json!(name);
        }
        let external_id = format!("{}{}", self.user_prefix, action.subject);
        let body = json!({
            "schemas": [USER_SCHEMA, ENTERPRISE],
            "userName": email,
            "externalId": external_id,
            "name": { "givenName": first, "familyName": last },
            "displayName": display_name(&first, &last),
            "emails": [{ "value": email, "type": "work", "primary": true }],
            "active": true,
            ENTERPRISE: enterprise,
        });
        let (id, version) = self
            .create("/Users", &body, &external_id, Some(&email))
            .await?;
        {
            let mut m = self.mirror();
            if m.by_id.contains_key(&id) {
                // Adopted our own earlier result; bring it in line below.
            } else {
                let i = m.state.accounts.len();
                m.by_id.insert(id.clone(), i);
                m.state.accounts.push(Account {
                    id: id.clone(),
                    external_id: Some(action.subject.clone()),
                    email: Some(email.clone()),
                    first_name: first.clone(),
                    last_name: last.clone(),
                    managed: true,
                    status: AccountStatus::Active,
                    removed_at: None,
                    communities: Vec::new(),
                    function_groups: Vec::new(),
                    protected: false,
                });
                m.user_names.insert(id.clone(), email.clone());
            }
            match version {
                Some(v) => m.versions.insert(id.clone(), v),
                None => m.versions.remove(&id),
            };
        }
        let mut effect = Effect::default();
        self.memberships(&id, Some(communities), Some(function_groups), &mut effect);
        Ok(effect)
    }

    /// Target ids of a change's group references (placeholders were replaced by the apply runner).
    /// `None` when the change is absent.
    fn resolve(&self, refs: Option<&[GroupRef]>, kind: GroupKind) -> Result<Vec<String>, String> {
        let Some(refs) = refs else {
            return Ok(Vec::new());
        };
        let m = self.mirror();
        let groups = m.groups(kind);
        let mut ids = Vec::with_capacity(refs.len());
        for r in refs {
            let id = r.id.clone();
            if !groups.iter().any(|g| g.id == id) {
                return Err(format!("group \"{}\" ({id}) does not exist", r.name));
            }
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// The membership changes that make account `id`'s groups the desired ones.
    fn memberships(
        &self,
        id: &str,
        communities: Option<Vec<String>>,
        function_groups: Option<Vec<String>>,
        effect: &mut Effect,
    ) {
        let m = self.mirror();
        let (current_c, current_f) = m
            .account(id)
            .map(|a| (a.communities.clone(), a.function_groups.clone()))
            .unwrap_or_default();
        for (desired, current, kind) in [
            (communities, current_c, GroupKind::Community),
            (function_groups, current_f, GroupKind::FunctionGroup),
        ] {
            let Some(desired) = desired else { continue };
            for g in desired.iter().filter(|g| !current.contains(g)) {
                effect.memberships.push(Membership {
                    group: g.clone(),
                    user: id.to_owned(),
                    add: true,
                    kind,
                });
            }
            for g in current.iter().filter(|g| !desired.contains(g)) {
                effect.memberships.push(Membership {
                    group: g.clone(),
                    user: id.to_owned(),
                    add: false,
                    kind,
                });
            }
        }
    }

    /// Writes what an action writes to account `id`: one PATCH of the User for its fields, and
    /// membership changes for its groups.
    async fn write_account(&self, id: &str, write: AccountWrite<'_>) -> Result<Effect, String> {
        let AccountWrite {
            // Managed is the externalId (written below).
            adopt: _,
            external_id,
            email,
            first_name,
            last_name,
            manager,
            reactivate,
            removed_at,
            communities,
            function_groups,
            // SCIM has no transfer e-mail.
            notify: _,
            applicant,
        } = write;
        if manager.is_some() {
            return Err("unknown account field manager".to_owned());
        }
        if applicant.is_some() {
            return Err("unknown account field applicant".to_owned());
        }
        let community_ids = communities
            .map(|c| self.resolve(Some(c), GroupKind::Community))
            .transpose()?;
        let function_group_ids = function_groups
            .map(|c| self.resolve(Some(c), GroupKind::FunctionGroup))
            .transpose()?;
        let (mut first, mut last, user_name, old_email) = {
            let m = self.mirror();
            let a = m
                .account(id)
                .ok_or_else(|| format!("account {id} does not exist"))?;
            (
                a.first_name.clone(),
                a.last_name.clone(),
                m.user_names.get(id).cloned(),
                a.email.clone(),
            )
        };
        // The operations in the order of the plan's fields (by name), as a server sees them.
        let mut ops = Vec::new();
        let mut names_changed = false;
        if let Some(list) = communities
            && let Some(name) = first_group_name(Some(list))
        {
            ops.push(json!({"op": "replace",
                "path": format!("{ENTERPRISE}:department"), "value": name}));
        }
        match email {
            Some(Some(email)) => {
                ops.push(json!({"op": "replace", "path": "emails",
                    "value": [{"value": email, "type": "work", "primary": true}]}));
                // userName follows the e-mail address when it was the address.
                let follows = match (&user_name, &old_email) {
                    (Some(n), Some(old)) => same_email(n, old),
                    (Some(n), None) => n.contains('@'),
                    (None, _) => true,
                };
                if follows {
                    ops.push(json!({"op": "replace", "path": "userName", "value": email}));
                }
            }
            Some(None) => ops.push(json!({"op": "remove", "path": "emails"})),
            None => {}
        }
        // The ownership record: orgsync's namespaced externalId (an adoption replaces a
        // foreign one).
        match external_id {
            Some(Some(x)) => ops.push(json!({"op": "replace", "path": "externalId",
                "value": format!("{}{x}", self.user_prefix)})),
            Some(None) => ops.push(json!({"op": "remove", "path": "externalId"})),
            None => {}
        }
        if let Some(v) = first_name {
            v.clone_into(&mut first);
            names_changed = true;
            ops.push(json!({"op": "replace", "path": "name.givenName", "value": first}));
        }
        if let Some(v) = last_name {
            v.clone_into(&mut last);
            names_changed = true;
            ops.push(json!({"op": "replace", "path": "name.familyName", "value": last}));
        }
        // The removal date is the server's `meta.lastModified`: recording one (for a removed
        // User that has none) touches the User, which sets it.
        if let Some(Some(_)) = removed_at
            && !reactivate
        {
            ops.push(json!({"op": "replace", "path": "active", "value": false}));
        }
        if reactivate {
            ops.push(json!({"op": "replace", "path": "active", "value": true}));
        }
        if names_changed {
            ops.push(json!({"op": "replace", "path": "displayName",
                "value": display_name(&first, &last)}));
        }
        if !ops.is_empty() {
            self.patch_user(id, ops).await?;
        }
        {
            let mut m = self.mirror();
            if let Some(Some(e)) = email
                && m.user_names
                    .get(id)
                    .zip(old_email.as_ref())
                    .is_some_and(|(n, o)| same_email(n, o))
            {
                m.user_names.insert(id.to_owned(), e.to_owned());
            }
            if let Some(a) = m.account_mut(id) {
                a.first_name = first;
                a.last_name = last;
                if let Some(e) = email {
                    a.email = e.map(str::to_owned);
                }
                if let Some(x) = external_id {
                    a.managed = x.is_some() || a.managed;
                    a.external_id = x.map(str::to_owned);
                }
                if reactivate {
                    a.status = AccountStatus::Active;
                    a.removed_at = None;
                }
            }
        }
        let mut effect = Effect::default();
        self.memberships(id, community_ids, function_group_ids, &mut effect);
        Ok(effect)
    }

    /// PATCHes a User, with `If-Match` when the server does ETags.
    async fn patch_user(&self, id: &str, ops: Vec<Value>) -> Result<(), String> {
        let path = format!("/Users/{id}");
        let (etag, known) = {
            let m = self.mirror();
            (m.features.etag, m.versions.get(id).cloned())
        };
        let if_match = match (etag, known) {
            (false, _) => None,
            (true, Some(v)) => Some(v),
            // Our own earlier write changed it: read the current one.
            (true, None) => {
                let r = self.client.get(&path).await.map_err(|e| e.to_string())?;
                version(&r)
            }
        };
        let headers: Vec<(&'static str, String)> =
            if_match.map(|v| ("if-match", v)).into_iter().collect();
        let body = json!({ "schemas": [PATCH_OP], "Operations": ops });
        match self
            .client
            .send(Method::PATCH, &path, Some(&body), &headers)
            .await
        {
            Ok(r) => {
                let mut m = self.mirror();
                match version(&r) {
                    Some(v) => m.versions.insert(id.to_owned(), v),
                    None => m.versions.remove(id),
                };
                Ok(())
            }
            Err(e) if e.status().is_some_and(|s| s.as_u16() == 412) => Err(format!(
                "{e}: the account changed on the server since it was read; plan again"
            )),
            Err(e) => Err(e.to_string()),
        }
    }
}

fn target_id(action: &Action) -> Result<&str, String> {
    action
        .target_id
        .as_deref()
        .ok_or_else(|| "the action names no account or group".to_owned())
}

/// The `id` of a created resource.
fn resource_id(r: &Response) -> Result<String, String> {
    let body: Value = r.json()?;
    body["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "the server returned no id for the created resource".to_owned())
}

/// The resource's version: the `ETag` header, or `meta.version` in the body.
fn version(r: &Response) -> Option<String> {
    if let Some(v) = r.header("etag") {
        return Some(v.to_owned());
    }
    let body: Value = serde_json::from_slice(&r.body).ok()?;
    body["meta"]["version"].as_str().map(str::to_owned)
}

fn display_name(first: &str, last: &str) -> String {
    format!("{first} {last}").trim().to_owned()
}

fn first_group_name(groups: Option<&[GroupRef]>) -> Option<String> {
    groups?.first().map(|g| g.name.clone())
}

/// How long a create that got no answer is looked for before it is called unconfirmed: three
/// times the request timeout — the server was still at it when the client gave up, and may take
/// as long again and more — at least 10 s, at most 5 minutes (an apply must end; what lands
/// later is found by the next plan). With the default `timeout_secs: 60`, 3 minutes.
pub(crate) fn no_answer_window(timeout: Duration) -> Duration {
    (timeout * 3).clamp(Duration::from_secs(10), Duration::from_secs(300))
}

/// When to look within a window, counted from the failure: at once, then with backoff (steps
/// doubling from 250 ms, none longer than a tenth of the window or 1 s, whichever is more), and
/// a last time when the window ends.
pub(crate) fn lookup_schedule(window: Duration) -> Vec<Duration> {
    let longest = (window / 10).max(Duration::from_secs(1));
    let mut at = vec![Duration::ZERO];
    let (mut next, mut step) = (Duration::ZERO, Duration::from_millis(250));
    loop {
        next += step;
        if next >= window {
            break;
        }
        at.push(next);
        step = (step * 2).min(longest);
    }
    if window > Duration::ZERO {
        at.push(window);
    }
    at
}

/// Why a create that failed may have happened all the same, which says how long to look for it
/// and what not finding it means. (Shared with the Revolut target.)
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Doubt {
    /// 409: something with the key exists. One look says whether it is the one this create makes
    /// (adopted) or another (the conflict).
    Conflict,
    /// A 5xx: the server answered, so it is done with the request. A look at once and one half a
    /// second later (for lists that lag behind writes); not there then, it was not made.
    Answered,
    /// The connection was lost after the request went out — a reset, a connection closed, an
    /// answer cut off — `after` so long. The server may have made it, or be making it still:
    /// looked for for three times as long as it had the request, at least 2 s (at most
    /// [`no_answer_window`]); not there then, it was not made.
    Lost {
        /// How long the request had been under way.
        after: Duration,
    },
    /// No answer within the timeout: the server may still be making it. Looked for for
    /// [`no_answer_window`]; not there then is not knowing: unconfirmed, never sent again.
    TimedOut,
}

impl Doubt {
    /// The doubt a failed create leaves, `elapsed` after it was sent; `None` when the server
    /// refused it (it was certainly not made).
    pub(crate) fn of(error: &HttpError, elapsed: Duration) -> Option<Doubt> {
        match error.status() {
            Some(s) if s == reqwest::StatusCode::CONFLICT => Some(Doubt::Conflict),
            Some(s) if s.is_server_error() => Some(Doubt::Answered),
            Some(_) => None,
            None if error.timed_out() => Some(Doubt::TimedOut),
            None => Some(Doubt::Lost { after: elapsed }),
        }
    }

    /// How long to look, for a client whose requests time out after `timeout`.
    pub(crate) fn window(self, timeout: Duration) -> Duration {
        match self {
            Doubt::Conflict => Duration::ZERO,
            Doubt::Answered => Duration::from_millis(500),
            Doubt::Lost { after } => {
                (after * 3).clamp(Duration::from_secs(2), no_answer_window(timeout))
            }
            Doubt::TimedOut => no_answer_window(timeout),
        }
    }

    /// When to look, counted from the failure.
    pub(crate) fn schedule(self, timeout: Duration) -> Vec<Duration> {
        match self {
            Doubt::Conflict => vec![Duration::ZERO],
            Doubt::Answered => vec![Duration::ZERO, Duration::from_millis(500)],
            Doubt::Lost { .. } | Doubt::TimedOut => lookup_schedule(self.window(timeout)),
        }
    }

    /// Whether not finding it by the end of the window means it was not made. Only a timeout
    /// leaves that open: the server may be slower still.
    pub(crate) fn confirms_absence(self) -> bool {
        self != Doubt::TimedOut
    }

    /// What the log says before looking by `key` for `window`: what is known, and what is done.
    pub(crate) fn looking(self, key: &str, window: Duration) -> Option<String> {
        match self {
            Doubt::Conflict => None,
            Doubt::Answered => Some(format!(
                "the server answered, so it is done with it: looking for it by {key} (now and \
                 in 0.5 s)"
            )),
            Doubt::Lost { .. } => Some(format!(
                "it may have been made: looking for it by {key} for up to {}",
                seconds(window)
            )),
            Doubt::TimedOut => Some(format!(
                "looking for it by {key} for up to {}",
                seconds(window)
            )),
        }
    }
}

/// What looking for a create's result came to.
#[derive(Debug)]
pub(crate) enum Looked<T> {
    /// There it is.
    Found(T),
    /// Not there at the last look.
    Absent,
    /// The last look failed (or the apply was interrupted): nobody knows.
    Unknown(String),
}

/// Looks with `look` at each of `schedule`'s moments (counted from now) until it finds it. An
/// interrupt stops the waiting between looks (the result is then unknown); a look that fails is
/// tried again at the next moment, and only the last one decides between absent and unknown.
pub(crate) async fn look_for<T, F, Fut>(
    schedule: &[Duration],
    interrupt: &Interrupt,
    mut look: F,
) -> Looked<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, String>>,
{
    let start = tokio::time::Instant::now();
    let mut last = Looked::Unknown("not looked".to_owned());
    for &at in schedule {
        // Sleep in short steps, so that an interrupt is seen within a fifth of a second.
        loop {
            let now = tokio::time::Instant::now();
            if now >= start + at {
                break;
            }
            if interrupt.is_set() {
                return Looked::Unknown("the apply was interrupted while looking".to_owned());
            }
            tokio::time::sleep((start + at - now).min(Duration::from_millis(200))).await;
        }
        last = match look().await {
            Ok(Some(found)) => return Looked::Found(found),
            Ok(None) => Looked::Absent,
            Err(e) => Looked::Unknown(e),
        };
    }
    last
}

/// One create to make once: where it goes, and how the log names it.
pub(crate) struct Create<'a> {
    /// The client.
    pub(crate) client: &'a HttpClient,
    /// The collection POSTed to (`/Groups`).
    pub(crate) path: &'a str,
    /// What is POSTed.
    pub(crate) body: &'a Value,
    /// What it is looked for by, for the log (`externalId`).
    pub(crate) key: &'a str,
    /// Which one it is, for the log (`community:1001`): never a credential or an address.
    pub(crate) resource: &'a str,
    /// Stops the looking (the create is then unconfirmed).
    pub(crate) interrupt: &'a Interrupt,
}

/// POSTs `create` and makes sure it is made at most once, whatever the server's slowness. Every
/// target that creates goes through here (SCIM Users and Groups, Revolut invites):
/// - an answer: `parse` reads what was made;
/// - a failure that may have made it ([`Doubt`]): `look` looks for it on the doubt's schedule;
///   found, it is adopted (the create succeeded);
/// - not found after a timeout (the server may still be making it): never POSTed again in this
///   run — [`ConnectorError::Unconfirmed`], and the next plan finds it or plans it again; the
///   same when the looks themselves fail, or the apply is interrupted while looking;
/// - not found after a 5xx or a lost connection, once the server had time to finish: it was not
///   made, and it is POSTed again, up to `retries` times;
/// - a 409 not found as ours: `conflict` says what conflicts.
///
/// The log says what is known at each step, never "not made" without having looked.
pub(crate) async fn create_once<T, P, L, LF, C>(
    create: &Create<'_>,
    parse: P,
    mut look: L,
    conflict: C,
) -> Result<T, ConnectorError>
where
    P: Fn(&Response) -> Result<T, String>,
    L: FnMut() -> LF,
    LF: std::future::Future<Output = Result<Option<T>, String>>,
    C: Fn(&HttpError) -> String,
{
    let Create {
        client,
        path,
        body,
        key,
        resource,
        interrupt,
    } = create;
    let settings = client.settings();
    let what = format!("{}: POST {path}", settings.system);
    let mut retry = 0u32;
    loop {
        let sent = std::time::Instant::now();
        let error = match client.send_create(path, body).await {
            Ok(r) => return parse(&r).map_err(ConnectorError::Action),
            Err(e) => e,
        };
        let Some(doubt) = Doubt::of(&error, sent.elapsed()) else {
            // A 403 stays one: the apply stops there (the credential may not write).
            if error.status() == Some(reqwest::StatusCode::FORBIDDEN) {
                return Err(ConnectorError::from(error));
            }
            return Err(ConnectorError::Action(error.to_string()));
        };
        let window = doubt.window(settings.timeout);
        if let Some(line) = doubt.looking(key, window) {
            tracing::warn!(resource, "{error}; {line}");
        }
        let looked = look_for(&doubt.schedule(settings.timeout), interrupt, &mut look).await;
        match (looked, doubt) {
            (Looked::Found(found), Doubt::Conflict) => return Ok(found),
            (Looked::Found(found), _) => {
                tracing::warn!(resource, "{what}: found it: adopted");
                return Ok(found);
            }
            (Looked::Absent, Doubt::Conflict) => {
                return Err(ConnectorError::Action(conflict(&error)));
            }
            (Looked::Unknown(why), Doubt::Conflict) => {
                return Err(ConnectorError::Action(format!(
                    "{}; and looking up whether it is orgsync's failed: {why}",
                    conflict(&error)
                )));
            }
            (Looked::Absent, _) if doubt.confirms_absence() => {
                if retry >= settings.retries {
                    tracing::warn!(
                        resource,
                        "{what}: not found: it was not made; no retries left"
                    );
                    return Err(ConnectorError::Action(error.to_string()));
                }
                retry += 1;
                tracing::warn!(
                    resource,
                    "{what}: not found after {}: it was not made; sending it again (retry {retry} \
                     of {})",
                    seconds(window),
                    settings.retries
                );
            }
            (Looked::Absent, _) => {
                tracing::warn!(
                    resource,
                    "{what}: not found within {}: unconfirmed, not sent again",
                    seconds(window)
                );
                return Err(ConnectorError::Unconfirmed(format!(
                    "{error}; not found by {key} within {}: it may still appear; not sent again \
                     (the next plan finds it or plans it again)",
                    seconds(window)
                )));
            }
            (Looked::Unknown(why), _) => {
                tracing::warn!(
                    resource,
                    "{what}: could not look for it ({why}): unconfirmed, not sent again"
                );
                return Err(ConnectorError::Unconfirmed(format!(
                    "{error}; and looking for it failed ({why}): it may have been made; not sent \
                     again (the next plan finds it or plans it again)"
                )));
            }
        }
    }
}

/// `12 s`, `0.5 s`.
pub(crate) fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// Escapes a value inside a SCIM filter string literal.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

impl Target for ScimTarget {
    /// Groups, soft removal (`active: false`) and restore; names and e-mail. SCIM has no
    /// transfer e-mail, and orgsync does not write the enterprise `manager`.
    fn capabilities(&self) -> TargetCapabilities {
        TargetCapabilities {
            notify: false,
            ..TargetCapabilities::everything("the SCIM server")
        }
    }

    /// The configured `concurrency` and `rate_limit`. An invite is a POST of the User and a
    /// PATCH of each group it joins (a community and a function group); a move or a change of
    /// function groups patches the groups left and joined; other account changes are one PATCH
    /// of the User; a group is one request.
    fn pace(&self) -> Option<orgsync_core::estimate::ApplyPace> {
        let settings = self.client.settings();
        Some(orgsync_core::estimate::ApplyPace {
            system: "the SCIM server".to_owned(),
            concurrency: u32::try_from(settings.concurrency).unwrap_or(u32::MAX),
            rate_limit: settings.rate_limit,
            request_ms: 250,
            requests: orgsync_core::estimate::RequestsPerAction {
                invite: 3,
                update: 2,
                move_: 2,
                restore: 3,
                remove: 1,
                anonymize: 1,
                group: 1,
            },
        })
    }

    fn fetch(&mut self) -> Result<TargetSnapshot, ConnectorError> {
        let (mirror, _) = self.rt.block_on(self.read())?;
        Ok(mirror.state)
    }

    fn begin_apply(&mut self) -> Result<TargetSnapshot, ConnectorError> {
        let (mirror, features) = self.rt.block_on(self.read())?;
        if !features.patch {
            return Err(ConnectorError::Config(
                "SCIM: the server does not announce PATCH support, which orgsync needs".to_owned(),
            ));
        }
        let state = mirror.state.clone();
        self.mirror = Some(Arc::new(Mutex::new(mirror)));
        Ok(state)
    }

    fn execute(&mut self, action: &Action, ctx: &mut ApplyContext) -> Result<(), ConnectorError> {
        // A batch of one of its own: its place 0 is not the caller's batch's.
        let progress = std::mem::take(&mut ctx.progress);
        let result = self
            .execute_batch(&[action], ctx)
            .pop()
            .unwrap_or_else(|| Err(ConnectorError::Action("no result".to_owned())));
        ctx.progress = progress;
        result
    }

    fn execute_batch(
        &mut self,
        actions: &[&Action],
        ctx: &mut ApplyContext,
    ) -> Vec<Result<(), ConnectorError>> {
        let Some(mirror) = self.mirror.clone() else {
            return actions
                .iter()
                .map(|_| {
                    Err(ConnectorError::Action(
                        "internal error: execute called outside an apply".to_owned(),
                    ))
                })
                .collect();
        };
        let (results, created) = self.rt.block_on(self.run_batch(
            mirror,
            actions,
            &ctx.interrupt.clone(),
            &ctx.progress.clone(),
        ));
        ctx.created.extend(created);
        results
    }

    fn finish_apply(&mut self) -> Result<(), ConnectorError> {
        // Every write went to the server as it was executed: nothing to persist.
        self.mirror = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How [`listing_server`] pages.
    #[derive(Clone, Copy, PartialEq)]
    enum Paging {
        /// At most 7 resources per page, whatever `count` says (allowed by RFC 7644).
        Capped,
        /// 3 resources on every other page, all that was asked for on the others (allowed).
        Irregular,
        /// `totalResults` counts this page only.
        TotalOfThePage,
        /// One more user after the first page was read (the list changed).
        Growing,
        /// Always the first page, whatever `startIndex` says.
        IgnoresStartIndex,
    }

    /// A SCIM server with 23 Users and no Groups that pages as `paging` says.
    fn listing_server(paging: Paging) -> orgsync_sandbox::serve::Running {
        use axum::extract::{Query, State};
        use std::sync::atomic::{AtomicU64, Ordering};
        let reads = Arc::new(AtomicU64::new(0));
        let list = move |State(reads): State<Arc<AtomicU64>>,
                         axum::extract::Path(resource): axum::extract::Path<String>,
                         Query(q): Query<HashMap<String, String>>| async move {
            let read = reads.fetch_add(1, Ordering::Relaxed);
            let num = |k: &str, d: u64| q.get(k).and_then(|v| v.parse().ok()).unwrap_or(d);
            let users = if resource == "Groups" {
                0
            } else if paging == Paging::Growing && read > 0 {
                24
            } else {
                23
            };
            let mut start = num("startIndex", 1).max(1);
            if paging == Paging::IgnoresStartIndex {
                start = 1;
            }
            let mut count = num("count", 100);
            match paging {
                Paging::Capped => count = count.min(7),
                Paging::Irregular if (start / 5) % 2 == 1 => count = count.min(3),
                _ => {}
            }
            let resources: Vec<Value> = (start..=users)
                .take(count as usize)
                .map(|i| {
                    json!({ "id": format!("u{i}"), "userName": format!("u{i}@x.example"),
                                 "externalId": format!("{i}"), "active": true })
                })
                .collect();
            let total = if paging == Paging::TotalOfThePage {
                resources.len() as u64
            } else {
                users
            };
            axum::Json(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                "totalResults": total, "startIndex": start,
                "itemsPerPage": resources.len(), "Resources": resources,
            }))
        };
        let app = axum::Router::new()
            .route(
                "/scim/v2/ServiceProviderConfig",
                axum::routing::get(|| async {
                    axum::Json(json!({ "patch": { "supported": true } }))
                }),
            )
            .route("/scim/v2/{resource}", axum::routing::get(list))
            .with_state(reads);
        orgsync_sandbox::serve::spawn(app, 0).unwrap()
    }

    fn list_users(paging: Paging) -> Result<TargetSnapshot, ConnectorError> {
        let server = listing_server(paging);
        let cfg: ScimTargetConfig = serde_json::from_value(json!({
            "base_url": format!("{}/scim/v2", server.url()),
            "token": "${env:T}", "page_size": 10, "retries": 0,
        }))
        .unwrap();
        ScimTarget::new(
            &cfg,
            "Europe/Amsterdam",
            &Kit::new(|_| Some("t".to_owned()), false).unwrap(),
        )?
        .fetch()
    }

    /// RFC 7644 lets a server send fewer resources than `count`: such short pages never end
    /// the listing early, whether every page is short or only some are.
    #[test]
    fn short_scim_pages_do_not_end_the_listing() {
        for paging in [Paging::Capped, Paging::Irregular] {
            let state = list_users(paging).unwrap_or_else(|e| panic!("{e}"));
            let mut ids: Vec<&str> = state.accounts.iter().map(|a| a.id.as_str()).collect();
            ids.sort_by_key(|id| id[1..].parse::<u32>().unwrap());
            let all: Vec<String> = (1..=23).map(|i| format!("u{i}")).collect();
            assert_eq!(ids, all);
        }
    }

    /// A listing whose `totalResults` disagrees with what was read fails the fetch: a total
    /// that counts one page (more lie beyond it), a total that changes between pages, a
    /// server that ignores `startIndex`.
    #[test]
    fn a_scim_listing_that_disagrees_with_its_total_is_an_error() {
        for (paging, expected) in [
            (Paging::TotalOfThePage, "lists more after them"),
            (Paging::Growing, "the list changed while it was read"),
            (Paging::IgnoresStartIndex, "does not page as RFC 7644 says"),
        ] {
            let err = list_users(paging).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
        }
    }

    fn target(other: ScimOtherGroups) -> ScimTarget {
        let cfg: ScimTargetConfig = serde_json::from_value(json!({
            "base_url": "http://127.0.0.1:9/scim/v2",
            "token": "${env:T}",
            "groups": { "other": match other {
                ScimOtherGroups::Community => "community",
                ScimOtherGroups::FunctionGroup => "function_group",
                ScimOtherGroups::Ignore => "ignore",
            }}
        }))
        .unwrap();
        ScimTarget::new(
            &cfg,
            "Europe/Amsterdam",
            &Kit::new(|_| Some("t".to_owned()), false).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn groups_follow_the_convention() {
        let t = target(ScimOtherGroups::Ignore);
        let (kind, g) = t
            .group(&json!({"id": "g1", "displayName": "Delivery", "externalId": "community:2001,2002"}))
            .unwrap();
        assert_eq!(kind, GroupKind::Community);
        assert_eq!(g.source_ids, ["2001", "2002"]);
        assert!(g.managed);
        let (kind, g) = t
            .group(&json!({"id": "g2", "displayName": "No function", "externalId": "function:"}))
            .unwrap();
        assert_eq!(kind, GroupKind::FunctionGroup);
        assert!(g.managed && g.source_ids.is_empty());
        assert!(
            t.group(&json!({"id": "g3", "displayName": "Admins"}))
                .is_none()
        );
        let t = target(ScimOtherGroups::Community);
        let (kind, g) = t
            .group(&json!({"id": "g3", "displayName": "News"}))
            .unwrap();
        assert_eq!(kind, GroupKind::Community);
        assert!(!g.managed);
    }

    #[test]
    fn users_become_accounts() {
        let t = target(ScimOtherGroups::Community);
        let a = t
            .account(&json!({
                "id": "u1", "userName": "x@example.com", "externalId": "orgsync:100001",
                "name": {"givenName": "Sanne", "familyName": "de Vries"},
                "emails": [{"value": "old@example.com"}, {"value": "sanne@example.com", "primary": true}],
                "active": false,
                "meta": {"lastModified": "2025-06-01T23:30:00Z"}
            }))
            .unwrap();
        assert!(a.managed);
        assert_eq!(a.external_id.as_deref(), Some("100001"));
        assert_eq!(a.email.as_deref(), Some("sanne@example.com"));
        assert_eq!(a.status, AccountStatus::Removed);
        // 23:30 UTC is the next day in Amsterdam.
        assert_eq!(a.removed_at, Some(jiff::civil::date(2025, 6, 2)));
        let anon = t
            .account(&json!({"id": "u2", "userName": "anonymized-u2@invalid", "active": false}))
            .unwrap();
        assert_eq!(anon.status, AccountStatus::Anonymized);
        assert!(anon.managed && anon.email.is_none());
        let hand = t
            .account(&json!({"id": "u3", "userName": "admin@example.com"}))
            .unwrap();
        assert!(!hand.managed);
        assert_eq!(hand.email.as_deref(), Some("admin@example.com"));
        assert_eq!(hand.status, AccountStatus::Active);
    }

    /// Regression: a User counted as managed whenever it had an `externalId`, so orgsync would
    /// change and remove the Users Entra ID or Okta provisioned (they set one too). Only
    /// orgsync's namespaced value marks a managed User.
    #[test]
    fn users_provisioned_by_another_tool_are_foreign_whatever_their_external_id() {
        let t = target(ScimOtherGroups::Community);
        for foreign in [
            "100001",
            "8f3c2a1e-5b7d-4c1a-9e2f-0a1b2c3d4e5f",
            "orgsync",
            "ORGSYNC:1",
            "orgsync:",
        ] {
            let a = t
                .account(&json!({"id": "u9", "userName": "ann@example.com", "externalId": foreign}))
                .unwrap();
            assert!(!a.managed, "{foreign}");
            assert_eq!(a.external_id, None, "{foreign}");
        }
    }

    /// Regression (outside tester): a create that timed out was looked for only as long as the
    /// timeout (2 s) before it was POSTed again, so a create that took 6 s was made twice. A
    /// create without an answer is now looked for three timeouts, at least 10 s and at most 5
    /// minutes, with backoff; a 5xx (the server is done) now and 0.5 s later; a 409 once.
    /// A SCIM server whose Group PATCH takes at most `max` membership changes (adds plus
    /// removes) and answers 413 above that, as AWS IAM Identity Center (100) does; it records
    /// the size of every PATCH it took.
    fn patch_limited_server(
        max: usize,
    ) -> (orgsync_sandbox::serve::Running, Arc<Mutex<Vec<usize>>>) {
        let taken = Arc::new(Mutex::new(Vec::new()));
        let patch = move |State(taken): State<Arc<Mutex<Vec<usize>>>>,
                          axum::Json(body): axum::Json<Value>| async move {
            let n: usize = body["Operations"]
                .as_array()
                .unwrap()
                .iter()
                .map(|op| op["value"].as_array().map_or(1, Vec::len))
                .sum();
            if n > max {
                return (
                    axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                    axum::Json(json!({
                        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                        "status": "413", "detail": "Too many members in one request",
                    })),
                );
            }
            taken.lock().unwrap().push(n);
            (axum::http::StatusCode::NO_CONTENT, axum::Json(json!({})))
        };
        use axum::extract::State;
        let app = axum::Router::new()
            .route("/scim/v2/Groups/{id}", axum::routing::patch(patch))
            .with_state(Arc::clone(&taken));
        (orgsync_sandbox::serve::spawn(app, 0).unwrap(), taken)
    }

    fn memberships(n: usize) -> Vec<(usize, Membership)> {
        (0..n)
            .map(|i| {
                (
                    i,
                    Membership {
                        group: "g1".into(),
                        user: format!("u{i}"),
                        add: i % 5 != 0,
                        kind: GroupKind::Community,
                    },
                )
            })
            .collect()
    }

    /// Regression (issue 21): memberships went out 200 per PATCH (`MEMBERS_PER_PATCH`), twice
    /// what AWS IAM Identity Center takes; Miro limits the size of a PATCH too. The batch is a
    /// target setting, `members_per_patch`, 100 by default, and a PATCH answered with 413 is
    /// split in halves and sent again.
    #[test]
    fn memberships_are_patched_within_the_setting_and_split_on_413() {
        let cfg = |extra: Value| -> ScimTargetConfig {
            let mut v = json!({ "base_url": "http://127.0.0.1:1/scim/v2", "token": "${env:T}", "retries": 0 });
            v.as_object_mut()
                .unwrap()
                .extend(extra.as_object().cloned().unwrap());
            serde_json::from_value(v).unwrap()
        };
        assert_eq!(cfg(json!({})).members_per_patch, 100, "a safe default");
        let kit = Kit::new(|_| Some("t".to_owned()), false).unwrap();

        for (setting, max, sizes) in [
            // Within the server's limit: 250 changes in 100, 100, 50.
            (100, 100, vec![50, 100, 100]),
            // Above it (a server with a lower limit): 200 → 413 → 100 + 100; 50 fits.
            (200, 100, vec![50, 100, 100]),
            // Far above it: halved until each part fits.
            (250, 40, vec![31, 31, 31, 31, 31, 31, 32, 32]),
        ] {
            let (server, taken) = patch_limited_server(max);
            let target = ScimTarget::new(
                &cfg(json!({
                    "base_url": format!("{}/scim/v2", server.url()),
                    "members_per_patch": setting,
                })),
                "Europe/Amsterdam",
                &kit,
            )
            .unwrap();
            let mirror = Mutex::new(Mirror::default());
            let mut failures = HashMap::new();
            target.rt.block_on(write_memberships(
                &target.client,
                &mirror,
                memberships(250),
                &mut failures,
                target.members_per_patch,
            ));
            assert!(failures.is_empty(), "{setting}/{max}: {failures:?}");
            let mut got = taken.lock().unwrap().clone();
            got.sort_unstable();
            assert_eq!(got, sizes, "setting {setting}, server limit {max}");
            assert_eq!(got.iter().sum::<usize>(), 250);
        }

        // A single change the server still refuses fails its action, with the server's words.
        let (server, _) = patch_limited_server(0);
        let target = ScimTarget::new(
            &cfg(json!({ "base_url": format!("{}/scim/v2", server.url()) })),
            "Europe/Amsterdam",
            &kit,
        )
        .unwrap();
        let mirror = Mutex::new(Mirror::default());
        let mut failures = HashMap::new();
        target.rt.block_on(write_memberships(
            &target.client,
            &mirror,
            memberships(3),
            &mut failures,
            100,
        ));
        assert_eq!(failures.len(), 3, "{failures:?}");
        assert!(
            failures[&0].contains("413") || failures[&0].contains("Too many"),
            "{}",
            failures[&0]
        );
    }

    #[test]
    fn an_unanswered_create_is_looked_for_three_timeouts_and_at_least_10_s() {
        let s = Duration::from_secs;
        assert_eq!(no_answer_window(s(2)), s(10));
        assert_eq!(no_answer_window(s(4)), s(12));
        assert_eq!(no_answer_window(s(60)), s(180));
        assert_eq!(no_answer_window(s(900)), s(300), "bounded: an apply ends");

        for window in [s(2), s(10), s(12), s(180), s(300)] {
            let at = lookup_schedule(window);
            assert_eq!(at[0], Duration::ZERO, "a look at once: {at:?}");
            assert_eq!(
                *at.last().unwrap(),
                window,
                "a last look at the end: {at:?}"
            );
            let steps: Vec<Duration> = at.windows(2).map(|w| w[1] - w[0]).collect();
            assert!(steps.iter().all(|d| *d > Duration::ZERO), "{at:?}");
            let longest = (window / 10).max(s(1));
            assert!(
                steps.iter().all(|d| *d <= longest),
                "patient, not idle: {at:?}"
            );
            // Backoff: the steps grow until they reach the longest (the last one is what is left).
            let body = &steps[..steps.len() - 1];
            assert!(body.windows(2).all(|w| w[0] <= w[1]), "{at:?}");
            assert!(at.len() <= 40, "a bounded number of looks: {}", at.len());
        }
        assert_eq!(
            lookup_schedule(s(10)),
            [
                0, 250, 750, 1_750, 2_750, 3_750, 4_750, 5_750, 6_750, 7_750, 8_750, 9_750, 10_000
            ]
            .map(Duration::from_millis)
        );

        let timeout = s(2);
        assert_eq!(Doubt::Conflict.schedule(timeout), [Duration::ZERO]);
        assert_eq!(
            Doubt::Answered.schedule(timeout),
            [Duration::ZERO, Duration::from_millis(500)]
        );
        assert_eq!(Doubt::TimedOut.window(timeout), s(10));
        let reset = Doubt::Lost {
            after: Duration::from_millis(30),
        };
        assert_eq!(
            reset.window(timeout),
            s(2),
            "a lost connection: at least 2 s"
        );
        let late_reset = Doubt::Lost { after: s(30) };
        assert_eq!(
            late_reset.window(s(60)),
            s(90),
            "three times as long as it had it"
        );
        assert_eq!(
            late_reset.window(s(5)),
            s(15),
            "never longer than a timeout's"
        );
        assert!(
            !Doubt::TimedOut.confirms_absence(),
            "a timeout: unconfirmed"
        );
        assert!(Doubt::Answered.confirms_absence() && reset.confirms_absence());

        let transport = |timed_out| HttpError::Transport {
            system: "SCIM",
            method: Method::POST,
            path: "/Groups".to_owned(),
            message: "timed out".to_owned(),
            retried: String::new(),
            timed_out,
        };
        let status = |code| HttpError::Status {
            system: "SCIM",
            method: Method::POST,
            path: "/Groups".to_owned(),
            status: reqwest::StatusCode::from_u16(code).unwrap(),
            detail: String::new(),
            retried: String::new(),
            body: Vec::new(),
            throttled: false,
        };
        let ms = Duration::from_millis(40);
        assert_eq!(Doubt::of(&transport(true), ms), Some(Doubt::TimedOut));
        assert_eq!(
            Doubt::of(&transport(false), ms),
            Some(Doubt::Lost { after: ms })
        );
        assert_eq!(Doubt::of(&status(503), ms), Some(Doubt::Answered));
        assert_eq!(Doubt::of(&status(409), ms), Some(Doubt::Conflict));
        assert_eq!(Doubt::of(&status(400), ms), None, "refused: not made");
    }

    #[test]
    fn scim_errors_read_as_a_sentence() {
        let body = br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","scimType":"uniqueness","detail":"userName taken"}"#;
        assert_eq!(describe_error(body).unwrap(), "userName taken (uniqueness)");
    }
}
