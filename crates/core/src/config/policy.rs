//! Identity, policy and safety: how people are matched to accounts, the rules of the sync (time
//! zone, lead time, retention, managed fields), and the limits over which a plan is unsafe to
//! apply. Types and their checks.

use std::collections::{BTreeMap, HashMap};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Config;
use super::error::{At, ConfigError};
use crate::closest::closest;

/// How people are matched to target accounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityConfig {
    /// Matching strategies in order; the first that finds an account wins.
    #[serde(rename = "match")]
    pub match_on: Vec<MatchKey>,
    /// Adopt an unmanaged account that matches by e-mail (it becomes managed). When false such an
    /// account is reported as `adoptable_account` and the person is held.
    pub adopt_unmanaged: bool,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig {
            match_on: vec![MatchKey::ExternalId, MatchKey::Email],
            adopt_unmanaged: false,
        }
    }
}

/// A way to match a person to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchKey {
    /// The account's external id equals the person's source identifier.
    ExternalId,
    /// The account's e-mail equals the person's, ignoring case.
    Email,
}

/// What to do with a source community that no mapping covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnmappedPolicy {
    /// Create a target community with the source name.
    Create,
    /// Do not create it and do not place people there; report it.
    #[default]
    Hold,
    /// Fail the plan.
    Error,
}

/// Fields of an account that orgsync compares and writes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ManagedField {
    /// First name.
    FirstName,
    /// Last name.
    LastName,
    /// E-mail address.
    Email,
    /// Community memberships (a change is a `move`).
    Communities,
    /// Function group memberships.
    FunctionGroups,
    /// The person's manager, set when an account is invited. Not in the default list: no target
    /// can write it yet, so it is listed as a manual step ("set the manager in …") for each
    /// invited person who has one.
    Manager,
}

/// The rules of the sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// IANA time zone in which employment dates and "today" are read.
    pub timezone: String,
    /// Invite people this many days before their first day.
    pub invite_lead_days: u32,
    /// Keep a removed account this many days (it can be restored) before anonymizing it.
    pub retention_days: u32,
    /// Ask the target to notify people when they move to another community.
    pub notify_transfers: bool,
    /// What to do with a source community that no mapping covers.
    pub unmapped_communities: UnmappedPolicy,
    /// The account fields orgsync compares and writes; everything else is left alone.
    pub managed_fields: Vec<ManagedField>,
    /// The audit policy (`orgsync audit`): the most days from a leaver's last contract day to
    /// the apply that removed their account. Leavers removed later are listed as over it.
    /// Unset: the lags are reported, none is judged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_removal_lag_days: Option<u32>,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            timezone: "Europe/Amsterdam".to_owned(),
            invite_lead_days: 7,
            retention_days: 30,
            notify_transfers: true,
            unmapped_communities: UnmappedPolicy::Hold,
            managed_fields: vec![
                ManagedField::FirstName,
                ManagedField::LastName,
                ManagedField::Email,
                ManagedField::Communities,
                ManagedField::FunctionGroups,
            ],
            max_removal_lag_days: None,
        }
    }
}

/// Safety limits. A plan over them is unsafe: apply refuses it without an explicit override
/// for that plan (`--allow-removals N`, `--allow-moves N`, …, or `--force`).
///
/// Every limit is a percentage (`"10%"`), a count (`25`), both (`{ percent: 10, count: 25 }`),
/// or `unlimited`, the only way to switch a limit off. Percentages are of the managed (active)
/// accounts — of the managed groups for `max_group_removals` — and are checked from 10 up: below
/// that a single change is already a large share. An empty limit (`{}`, all `null`) is an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SafetyConfig {
    /// Most accounts one plan may remove (deactivate). Default `"10%"`.
    pub max_removals: Limit,
    /// Most accounts one plan may anonymize (personal data blanked for good). Default `"10%"`.
    pub max_anonymizations: Limit,
    /// Most accounts one plan may move to other communities, notifying or not. Default `"25%"`.
    pub max_moves: Limit,
    /// Most moves in one plan that make the app e-mail the person (transfers with
    /// `notify_transfers` on), counted on their own: a swapped mapping e-mails everyone it
    /// moves. Default `"10%"`.
    pub max_notifying_moves: Limit,
    /// Most accounts one plan may update (names, e-mail, function groups). Default `"25%"`.
    pub max_updates: Limit,
    /// Most people one plan may invite, as a share of the managed accounts already there (may
    /// be over 100%) and/or a count. The first sync of an empty target is not limited by the
    /// percentage (fewer than 10 managed accounts). Default `"25%"`.
    pub max_invites: Limit,
    /// Most groups (communities and function groups) one plan may remove, as a share of the
    /// groups orgsync manages and/or a count. Default `"10%"`.
    pub max_group_removals: Limit,
    /// Allow removing target communities whose source identifiers are gone. Removing a community
    /// destroys its messages and shift takeovers; when false it is reported as orphaned instead.
    pub allow_community_removal: bool,
    /// Most people a first sync may invite: a plan for a target with fewer than 10 managed
    /// accounts (none, on a first sync), where the percentage limits do not hold yet, is unsafe
    /// when it invites more. Raise it in the pull request that adds the configuration (reviewed
    /// there: the plan shows it), like `first_sync_invites: 20000`. Default `100`.
    pub first_sync_invites: u64,
}

/// The default of `safety.first_sync_invites`: a pilot of a team or two passes, a whole
/// organisation needs the allowance written down.
pub const DEFAULT_FIRST_SYNC_INVITES: u64 = 100;

impl Default for SafetyConfig {
    fn default() -> Self {
        let pct = |p: &str| Limit::Percent(p.to_owned());
        SafetyConfig {
            max_removals: pct("10%"),
            max_anonymizations: pct("10%"),
            max_moves: pct("25%"),
            max_notifying_moves: pct("10%"),
            max_updates: pct("25%"),
            max_invites: pct("25%"),
            max_group_removals: pct("10%"),
            allow_community_removal: false,
            first_sync_invites: DEFAULT_FIRST_SYNC_INVITES,
        }
    }
}

impl SafetyConfig {
    /// Every limit with its key (`max_removals`, …) and what it counts (`removal`), in the order
    /// they are checked and reported.
    pub fn limits(&self) -> [(&'static str, &'static str, &Limit); 7] {
        [
            ("max_removals", "removal", &self.max_removals),
            (
                "max_anonymizations",
                "anonymization",
                &self.max_anonymizations,
            ),
            ("max_moves", "move", &self.max_moves),
            (
                "max_notifying_moves",
                "notifying move",
                &self.max_notifying_moves,
            ),
            ("max_updates", "update", &self.max_updates),
            ("max_invites", "invite", &self.max_invites),
            (
                "max_group_removals",
                "group removal",
                &self.max_group_removals,
            ),
        ]
    }
}

/// A safety limit: `"10%"`, `25`, `{ percent: 10, count: 25 }`, or `unlimited`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Limit {
    /// A count.
    Count(u64),
    /// No limit, written out: `unlimited`.
    Unlimited(NoLimit),
    /// A percentage, written `"10%"`.
    Percent(#[schemars(regex(pattern = r"^\d{1,3}(\.\d+)?%$"))] String),
    /// Both limits; the plan must stay within each.
    Both(LimitBoth),
}

/// The removal limit's former name.
pub type MaxRemovals = Limit;
/// The former name of [`LimitBoth`].
pub type MaxRemovalsBoth = LimitBoth;

/// `unlimited`: the one way to switch a limit off, so that it is never switched off by an
/// empty or mistyped value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoLimit {
    /// No limit: a plan may do any number of these changes.
    Unlimited,
}

impl Default for Limit {
    fn default() -> Self {
        Limit::Percent("10%".to_owned())
    }
}

/// Both a percentage and a count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitBoth {
    /// A percentage (checked from 10 managed accounts or groups up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<u32>,
    /// A count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
}

impl Limit {
    /// The limit as (percent, count).
    pub fn limits(&self) -> (Option<f64>, Option<u64>) {
        match self {
            Limit::Count(c) => (None, Some(*c)),
            Limit::Unlimited(NoLimit::Unlimited) => (None, None),
            Limit::Percent(p) => (p.trim_end_matches('%').parse().ok(), None),
            Limit::Both(b) => (b.percent.map(f64::from), b.count),
        }
    }
}

/// The IANA time zone `name`, from the system's time zone database as `jiff` finds it.
///
/// `jiff` lists the whole database directory (some sixty directories) the first time it looks a
/// name up, so that it can also find a name spelled in another case. A name as the database
/// spells it is read from its own file in that directory instead: the same file `jiff` would
/// read, under the same rules (not in the top `posix` and `right` directories, nor through a
/// linked directory, which `jiff` does not list). Anything else (another spelling, no such
/// file, a file that is not a time zone) is looked up by `jiff`, as before.
pub fn time_zone(name: &str) -> Result<jiff::tz::TimeZone, jiff::Error> {
    let parts: Vec<&str> = name.split('/').collect();
    let plain = parts.iter().all(|part| {
        !part.is_empty()
            && *part != "."
            && *part != ".."
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'+' | b'.'))
    }) && !matches!(parts[0], "posix" | "right");
    if plain && let Some(dir) = zoneinfo_dir() {
        let mut at = dir.clone();
        let listed = parts[..parts.len() - 1].iter().all(|part| {
            at.push(part);
            at.symlink_metadata().is_ok_and(|m| m.file_type().is_dir())
        });
        if listed
            && let Ok(data) = std::fs::read(dir.join(name))
            && let Ok(tz) = jiff::tz::TimeZone::tzif(name, &data)
        {
            return Ok(tz);
        }
    }
    jiff::tz::TimeZone::get(name)
}

/// The directory `jiff` reads its time zone database from: `TZDIR`, else the first of its
/// usual places that exists.
fn zoneinfo_dir() -> Option<std::path::PathBuf> {
    if cfg!(not(unix)) {
        return None;
    }
    if let Some(dir) = std::env::var_os("TZDIR") {
        return Some(dir.into());
    }
    [
        "/usr/share/zoneinfo",
        "/usr/share/lib/zoneinfo",
        "/etc/zoneinfo",
    ]
    .into_iter()
    .map(std::path::PathBuf::from)
    .find(|dir| dir.is_dir())
}

/// Values no run can use: an unknown time zone, no way to match, a percentage over 100%.
pub(crate) fn value_errors(config: &Config, at: At<'_>, errs: &mut Vec<ConfigError>) {
    if time_zone(&config.policy.timezone).is_err() {
        let zones: Vec<String> = jiff::tz::db().available().map(|n| n.to_string()).collect();
        let mut e = at(
            "/policy/timezone",
            format!("unknown time zone \"{}\"", config.policy.timezone),
        );
        e.hint = Some(
            match closest(&config.policy.timezone, zones.iter().map(String::as_str)) {
                Some(b) => format!("did you mean `{b}`?"),
                None => "use an IANA time zone name such as Europe/Amsterdam".into(),
            },
        );
        errs.push(e);
    }
    if config.identity.match_on.is_empty() {
        errs.push(
            at(
                "/identity/match",
                "needs at least one matching strategy".into(),
            )
            .hint("for example: match: [external_id, email]"),
        );
    }
    for (key, _, limit) in config.safety.limits() {
        // Invites are counted against the accounts already there and may be more than all of
        // them; every other limit counts changes to what exists.
        if key == "max_invites" {
            continue;
        }
        if let (Some(p), _) = limit.limits()
            && p > 100.0
        {
            let pointer = match limit {
                Limit::Both(_) => format!("/safety/{key}/percent"),
                _ => format!("/safety/{key}"),
            };
            let (verb, whole) = match key {
                "max_removals" => ("remove", "account"),
                "max_anonymizations" => ("anonymize", "account"),
                "max_moves" => ("move", "account"),
                "max_notifying_moves" => ("notify", "account"),
                "max_updates" => ("update", "account"),
                _ => ("remove", "group"),
            };
            errs.push(
                at(
                    &pointer,
                    format!(
                        "{p}% is more than 100%: a plan cannot {verb} more than every managed {whole}"
                    ),
                )
                .hint(format!(
                    "write a percentage up to 100%, like \"10%\", or a count of {whole}s, like 25"
                )),
            );
        }
    }
}

/// Settings that can never take effect: a strategy listed twice, adoption without e-mail
/// matching, no managed fields, an empty limit.
pub(crate) fn no_effect_errors(config: &Config, at: At<'_>, errs: &mut Vec<ConfigError>) {
    let mut seen: HashMap<MatchKey, usize> = HashMap::new();
    for (i, m) in config.identity.match_on.iter().enumerate() {
        if let Some(first) = seen.insert(*m, i) {
            seen.insert(*m, first);
            errs.push(
                at(
                    &format!("/identity/match/{i}"),
                    format!("`{}` is listed twice: the second time can never find an account the first did not", match_name(*m)),
                )
                .hint("list each strategy once, in the order to try them, like [external_id, email]"),
            );
        }
    }
    if config.identity.adopt_unmanaged && !config.identity.match_on.contains(&MatchKey::Email) {
        errs.push(
            at(
                "/identity/adopt_unmanaged",
                "adopt_unmanaged adopts accounts that match by e-mail, but identity.match has no `email`: nothing can ever be adopted".into(),
            )
            .hint("add `email` to identity.match, like [external_id, email], or remove adopt_unmanaged"),
        );
    }
    let fields = &config.policy.managed_fields;
    if fields.is_empty() {
        errs.push(
            at(
                "/policy/managed_fields",
                "no managed fields: orgsync would never update a name, an e-mail address or a membership".into(),
            )
            .hint("list the fields orgsync keeps in line, like [first_name, last_name, email, communities, function_groups] (the default, also when the key is left out)"),
        );
    }
    let mut seen_fields = BTreeMap::new();
    for (i, f) in fields.iter().enumerate() {
        if let Some(first) = seen_fields.insert(*f, i) {
            seen_fields.insert(*f, first);
            let name = serde_json::to_value(f)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            errs.push(
                at(
                    &format!("/policy/managed_fields/{i}"),
                    format!("`{name}` is listed twice"),
                )
                .hint("list each field once"),
            );
        }
    }
    for (key, noun, limit) in config.safety.limits() {
        if let Limit::Both(b) = limit
            && b.percent.is_none()
            && b.count.is_none()
        {
            let what = if key == "max_removals" {
                "remove every account".to_owned()
            } else {
                format!("make any number of {noun}s")
            };
            errs.push(
                at(
                    &format!("/safety/{key}"),
                    format!("an empty {noun} limit is no limit: a plan could {what}"),
                )
                .hint(format!("write a limit, like \"10%\", 25 or {{ percent: 10, count: 25 }}; to switch the limit off on purpose, write `{key}: unlimited`")),
            );
        }
    }
}

fn match_name(m: MatchKey) -> &'static str {
    match m {
        MatchKey::ExternalId => "external_id",
        MatchKey::Email => "email",
    }
}

#[cfg(test)]
mod tests {
    use super::time_zone;
    use crate::config::testing::{file, load, messages, one};
    use crate::config::{MaxRemovals, NoLimit};

    #[test]
    fn max_removals_over_100_percent_says_how_to_write_it() {
        let e = one("safety: { max_removals: \"150%\" }\n");
        assert!(e.message.starts_with("150% is more than 100%"));
        assert!(e.hint.is_some());
    }

    #[test]
    fn max_removals_unlimited_is_the_explicit_no_limit() {
        let c = load(&file("", "safety: { max_removals: unlimited }\n")).unwrap();
        assert_eq!(
            c.safety.max_removals,
            MaxRemovals::Unlimited(NoLimit::Unlimited)
        );
        assert_eq!(c.safety.max_removals.limits(), (None, None));
        for empty in [
            "{}",
            "{ percent: null }",
            "{ count: null }",
            "{ percent: null, count: null }",
        ] {
            let m = messages(&file("", &format!("safety: {{ max_removals: {empty} }}\n")));
            assert_eq!(
                m,
                [
                    "safety.max_removals: an empty removal limit is no limit: a plan could remove every account"
                ],
                "{empty}"
            );
        }
        // One limit of two is a limit.
        load(&file(
            "",
            "safety: { max_removals: { percent: 10, count: null } }\n",
        ))
        .unwrap();
    }

    #[test]
    fn a_time_zone_read_from_its_own_file_is_the_one_jiff_finds() {
        let instants: Vec<jiff::Timestamp> = [
            "1970-01-01T00:00:00Z",
            "2025-03-30T01:30:00Z",
            "2025-10-26T00:59:59Z",
            "2040-07-01T12:00:00Z",
        ]
        .iter()
        .map(|t| t.parse().unwrap())
        .collect();
        for name in [
            "Europe/Amsterdam",
            "UTC",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+5",
            "europe/amsterdam",
            "EUROPE/Amsterdam",
            "posix/Europe/Amsterdam",
            "right/UTC",
            "right/Europe/Amsterdam",
            "posix/UTC",
            "../zoneinfo/UTC",
            "./UTC",
            "Europe//Amsterdam",
            "/usr/share/zoneinfo/UTC",
            "zone.tab",
            "tzdata.zi",
            "Europe",
            "Nowhere/Else",
            "",
        ] {
            let ours = time_zone(name);
            let jiffs = jiff::tz::TimeZone::get(name);
            assert_eq!(ours.is_ok(), jiffs.is_ok(), "{name:?}");
            if let (Ok(ours), Ok(jiffs)) = (ours, jiffs) {
                assert_eq!(ours.iana_name(), jiffs.iana_name(), "{name:?}");
                for t in &instants {
                    assert_eq!(ours.to_offset(*t), jiffs.to_offset(*t), "{name:?} at {t}");
                }
            }
        }
    }
}
