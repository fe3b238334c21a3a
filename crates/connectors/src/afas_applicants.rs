//! The `afas_applicants` target: hired candidates become AFAS Profit applicants through the
//! UpdateConnector `HrCreateApplicant`, once each. Create-only: nothing is ever updated or
//! removed in AFAS.
//!
//! AFAS does no duplicate detection — posting one person twice makes two applicants — so
//! orgsync keeps a **badge** per candidate: who sent whom, when, and the applicant id AFAS gave
//! (Recruitee's AFAS badge). Badges are lines in the git notes of the configuration repository
//! (`refs/notes/orgsync`, next to the apply records, on the configuration commit), and hold
//! identifiers only. Each send writes one *before* the POST (`in_flight`) and one after it
//! (`sent` with the applicant id, or `not_sent` when AFAS answered that it created nothing).
//!
//! - A `sent` badge is final: that candidate is never sent again, whatever the plan says.
//! - An `in_flight` badge without an answer (a crash, kill -9, a timeout or a lost 5xx whose
//!   request AFAS may have processed) is never resent blindly: with `target.lookup` the
//!   candidate is looked up in AFAS by e-mail first (found: recorded as sent; not found: sent);
//!   without it the candidate is held with a diagnostic until a person checked AFAS and listed
//!   it under `target.resend` — or, when AFAS has it (the answer was lost, the request was
//!   processed), under `target.sent`: recorded as sent (a `checked` badge at the next apply),
//!   never sent again.
//! - A 5xx or a lost connection on the POST is not retried (only a 429, which AFAS answers before
//!   doing anything). A 500 with an AFAS error message is AFAS's answer to an invalid applicant
//!   (`externalMessage`): that candidate fails with the message, the others go on
//!   [I: AFAS answers validation errors with a 500 and creates nothing].
//!
//! Plans carry no applicant data: an invite holds the candidate id, name and e-mail as any
//! invite does (masked in Markdown), plus `applicant`: an HMAC-SHA256 (keyed with the AFAS
//! token) of the exact fields that will be sent. Apply reads the candidates again and refuses a
//! candidate whose fields no longer give that digest.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::Sha256;

use super::Kit;
use super::afas::{authorization, describe_error, encode, permanent_error};
use super::http::{HttpClient, HttpError, HttpSettings};
use super::{
    ApplyContext, ConnectorError, Removal, Source, Target, TargetCapabilities, WritableFields,
};
use orgsync_core::config::{AfasApplicantsTargetConfig, Config, ManagedField};
use orgsync_core::identity::same_email;
use orgsync_core::ledger::Ledger;
pub use orgsync_core::ledger::{Badge, BadgeState};
use orgsync_core::model::{Account, Person, SourceSnapshot, TargetSnapshot};
use orgsync_core::vocabulary::{
    Action, ActionKind, Changes, Diagnostic, DiagnosticKind, ManualStep, Severity,
};

/// The target as apply records and badges name it.
pub fn target_key(cfg: &AfasApplicantsTargetConfig) -> String {
    format!("afas_applicants:{}", base_url(cfg))
}

/// The base URL: `base_url`, or the environment's own.
pub fn base_url(cfg: &AfasApplicantsTargetConfig) -> String {
    super::afas::profit_url(
        cfg.base_url.as_deref(),
        cfg.environment.as_deref(),
        cfg.environment_type,
    )
}

/// A candidate's state from its badges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidateState {
    /// The state.
    pub state: BadgeState,
    /// The applicant id, once sent.
    pub applicant_id: Option<String>,
    /// The newest send was a resend (`target.resend`), not to be allowed again.
    pub resent: bool,
}

/// Each candidate's state from its badges, in time order: `sent` is final; otherwise the
/// newest badge decides.
pub fn states(badges: &[Badge]) -> BTreeMap<String, CandidateState> {
    let mut sorted: Vec<&Badge> = badges.iter().collect();
    sorted.sort_by(|a, b| a.time.cmp(&b.time));
    let mut out: BTreeMap<String, CandidateState> = BTreeMap::new();
    for b in sorted {
        let now = CandidateState {
            state: b.state,
            applicant_id: b.applicant_id.clone(),
            resent: b.resend,
        };
        let entry = out
            .entry(b.candidate.clone())
            .or_insert_with(|| now.clone());
        if entry.state != BadgeState::Sent {
            let resent = entry.resent || b.resend;
            *entry = CandidateState { resent, ..now };
        }
    }
    out
}

/// True when `target.resend` lets candidate `id` in state `s` be sent again: its send is
/// unconfirmed, a person listed it, and it was not resent before.
pub fn may_resend(s: &CandidateState, id: &str, resend: &[String]) -> bool {
    s.state == BadgeState::InFlight && !s.resent && resend.iter().any(|r| r.trim() == id)
}

/// Prefix of the account ids of candidates whose send is unconfirmed.
pub const IN_FLIGHT_PREFIX: &str = "in_flight:";

/// Prefix of the account ids of candidates a person listed under `target.sent` whose `checked`
/// badge is not written yet (the next apply writes it).
pub const CHECKED_PREFIX: &str = "checked:";

/// True when `target.sent` lists candidate `id`.
pub fn listed_sent(id: &str, sent: &[String]) -> bool {
    sent.iter().any(|s| s.trim() == id)
}

/// The candidates listed under `target.sent` whose badges do not say `sent` yet: the ones the
/// next apply records as sent (`checked`).
pub fn unrecorded_checks(badges: &[Badge], sent: &[String]) -> Vec<String> {
    let states = states(badges);
    let mut out: Vec<String> = sent
        .iter()
        .map(|s| s.trim().to_owned())
        .filter(|id| !id.is_empty())
        .filter(|id| states.get(id).is_none_or(|s| s.state != BadgeState::Sent))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The badges as a target snapshot: a managed account per candidate sent (its id the applicant
/// id) or listed under `sent` (`checked:<id>` until its badge is written), an unmanaged
/// `in_flight:<id>` account per unconfirmed send (unless listed under `resend`). AFAS's own
/// applicants are not listed: orgsync never touches them.
pub fn snapshot(badges: &[Badge], resend: &[String], sent: &[String]) -> TargetSnapshot {
    let mut accounts: Vec<Account> = unrecorded_checks(badges, sent)
        .into_iter()
        .map(|candidate| Account {
            id: format!("{CHECKED_PREFIX}{candidate}"),
            external_id: Some(candidate),
            managed: true,
            ..Account::default()
        })
        .collect();
    let checked: std::collections::HashSet<String> = accounts
        .iter()
        .filter_map(|a| a.external_id.clone())
        .collect();
    accounts.extend(
        states(badges)
            .into_iter()
            .filter(|(candidate, _)| !checked.contains(candidate))
            .filter_map(|(candidate, s)| match s.state {
                BadgeState::Sent => Some(Account {
                    id: s
                        .applicant_id
                        .unwrap_or_else(|| format!("candidate:{candidate}")),
                    external_id: Some(candidate),
                    managed: true,
                    ..Account::default()
                }),
                BadgeState::InFlight if !may_resend(&s, &candidate, resend) => Some(Account {
                    id: format!("{IN_FLIGHT_PREFIX}{candidate}"),
                    external_id: Some(candidate),
                    managed: false,
                    ..Account::default()
                }),
                _ => None,
            }),
    );
    accounts.sort_by(|a, b| a.id.cmp(&b.id));
    TargetSnapshot {
        accounts,
        communities: Vec::new(),
        function_groups: Vec::new(),
    }
}

/// What the plan engine sees for a create-only applicants target — the planning guard that
/// keeps such a plan to sends: the candidates already sent (and, without a lookup, those whose
/// send is unconfirmed) are taken out of the source, the target lists no one (so nothing can be
/// updated or removed), and only names and e-mail are managed (an applicant has no communities).
#[derive(Debug)]
pub struct PlanView {
    /// The configuration the engine plans with.
    pub config: Config,
    /// The candidates still to send.
    pub source: SourceSnapshot,
    /// An empty target.
    pub target: TargetSnapshot,
    /// Already sent, unconfirmed sends.
    pub diagnostics: Vec<Diagnostic>,
    /// People held (unconfirmed sends without a lookup), by source id.
    pub held: Vec<String>,
}

impl PlanView {
    /// The manual step for the held candidates, if any: a person checks AFAS for them.
    pub fn manual_step(&self) -> Option<ManualStep> {
        (!self.held.is_empty()).then(|| ManualStep {
            what: "look for these candidates in AFAS (an earlier send was not confirmed); list \
                   the ones there under target.sent, the ones not there under target.resend"
                .to_owned(),
            capability: "lookup".to_owned(),
            kind: ActionKind::Invite,
            count: self.held.len(),
            subjects: self.held.clone(),
        })
    }
}

/// The [`PlanView`] of `config` (whose target is `afas_applicants`) on fetched inputs.
pub fn plan_view(
    config: &Config,
    t: &AfasApplicantsTargetConfig,
    source: &SourceSnapshot,
    target: &TargetSnapshot,
) -> PlanView {
    let mut view_config = config.clone();
    view_config.policy.managed_fields = vec![
        ManagedField::FirstName,
        ManagedField::LastName,
        ManagedField::Email,
    ];
    view_config.functions = None;
    view_config.communities = Vec::new();
    let sent: std::collections::HashSet<&str> = target
        .accounts
        .iter()
        .filter(|a| a.managed && !a.id.starts_with(CHECKED_PREFIX))
        .filter_map(|a| a.external_id.as_deref())
        .collect();
    // Listed under `target.sent` by a person who checked AFAS; the next apply records them.
    let checked_by_hand: std::collections::HashSet<&str> = target
        .accounts
        .iter()
        .filter(|a| a.managed && a.id.starts_with(CHECKED_PREFIX))
        .filter_map(|a| a.external_id.as_deref())
        .collect();
    let mut vouched: Vec<&str> = Vec::new();
    let in_flight: std::collections::HashSet<&str> = target
        .accounts
        .iter()
        .filter(|a| !a.managed && a.id.starts_with(IN_FLIGHT_PREFIX))
        .filter_map(|a| a.external_id.as_deref())
        .collect();
    let lookup = t.lookup.is_some();
    let mut already = 0;
    let mut held: Vec<&str> = Vec::new();
    let mut checked = 0;
    let persons: Vec<Person> = source
        .persons
        .iter()
        .filter(|p| {
            if sent.contains(p.id.as_str()) {
                already += 1;
                return false;
            }
            if checked_by_hand.contains(p.id.as_str()) {
                vouched.push(&p.id);
                return false;
            }
            if in_flight.contains(p.id.as_str()) {
                if lookup {
                    checked += 1;
                } else {
                    held.push(&p.id);
                    return false;
                }
            }
            true
        })
        .cloned()
        .collect();
    let mut diagnostics = Vec::new();
    if already > 0 {
        diagnostics.push(Diagnostic {
            kind: DiagnosticKind::AlreadySent,
            severity: Severity::Info,
            message: format!(
                "{already} hired candidate{} {} sent to AFAS before (badges in the git notes): never sent again",
                if already == 1 { "" } else { "s" },
                if already == 1 { "was" } else { "were" },
            ),
            subject: None,
            count: already,
            hint: None,
            location: None,
            concerns: Default::default(),
        });
    }
    if checked > 0 {
        diagnostics.push(Diagnostic {
            kind: DiagnosticKind::SendInterrupted,
            severity: Severity::Info,
            message: format!(
                "{checked} candidate{} whose send an earlier apply did not confirm: looked up in AFAS (GetConnector {}) by e-mail before anything is sent",
                if checked == 1 { "" } else { "s" },
                t.lookup.as_ref().map(|l| l.connector.as_str()).unwrap_or_default()
            ),
            subject: None,
            count: checked,
            hint: None,
            location: None,
            concerns: Default::default(),
        });
    }
    for id in &vouched {
        diagnostics.push(Diagnostic {
            kind: DiagnosticKind::AlreadySent,
            severity: Severity::Info,
            message: format!(
                "candidate {id}: a person checked that AFAS has the applicant (target.sent): recorded as sent (a badge in the git notes) by the next apply, never sent again"
            ),
            subject: Some((*id).to_owned()),
            count: 1,
            hint: None,
            location: config
                .locations
                .get("/target/sent")
                .or_else(|| config.locations.get("/target")),
            concerns: Default::default(),
        });
    }
    for id in &held {
        diagnostics.push(Diagnostic {
            kind: DiagnosticKind::SendInterrupted,
            severity: Severity::Warning,
            message: format!(
                "candidate {id}: an earlier apply started sending it and never heard back; AFAS may have created the applicant, so it is not sent again"
            ),
            subject: Some((*id).to_owned()),
            count: 1,
            hint: Some(format!(
                "manual step: look for the candidate in AFAS (HR → Werving en selectie → Sollicitant). If it is there, add `{id}` to target.sent; if it is not, to target.resend; or configure target.lookup to let orgsync look"
            )),
            location: config.locations.get("/target"),
            concerns: Default::default(),
        });
    }
    diagnostics.extend(vacancy_diagnostics(t, &config.locations, &persons));
    PlanView {
        config: view_config,
        source: SourceSnapshot {
            persons,
            ..source.clone()
        },
        target: TargetSnapshot::default(),
        diagnostics,
        held: {
            let mut held: Vec<String> = held.iter().map(|h| (*h).to_owned()).collect();
            held.sort();
            held
        },
    }
}

/// Dutch last-name prefixes (tussenvoegsels), lowercase as they are written after a first
/// name; a prefix written with a capital (`De Smet`) is part of the name and stays.
const NAME_PREFIXES: [&str; 27] = [
    "van", "de", "der", "den", "het", "ten", "ter", "te", "'t", "in", "op", "aan", "bij", "uit",
    "voor", "onder", "over", "von", "vom", "zu", "zum", "zur", "da", "di", "du", "le", "la",
];

/// The last name split into (prefix, the rest): the leading lowercase Dutch prefixes, when a
/// name follows them (`van der Berg` → `van der`, `Berg`; `De Smet` and `Bakker` stay whole).
pub fn split_prefix(last_name: &str) -> (String, String) {
    let words: Vec<&str> = last_name.split_whitespace().collect();
    let n = words
        .iter()
        .take_while(|w| NAME_PREFIXES.contains(*w))
        .count();
    if n == 0 || n == words.len() {
        return (String::new(), words.join(" "));
    }
    (words[..n].join(" "), words[n..].join(" "))
}

/// A Dutch address on one line, split: street, house number, addition, postal code, city.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressParts {
    /// The street.
    pub street: String,
    /// The house number (digits).
    pub house_number: String,
    /// The addition to the house number (`A`, `2`, `bis`), or empty.
    pub addition: String,
    /// The postal code as `1234 AB`.
    pub postal_code: String,
    /// The city.
    pub city: String,
}

/// `line` split when it is unambiguous: exactly one Dutch postal code (`1234 AB` or `1234AB`),
/// before it a street and a house number (with an addition: `12A`, `12-A`, `12 A`, `12-2`),
/// after it a city; a comma between them is allowed. Anything else: `None` (sent whole).
pub fn split_address(line: &str) -> Option<AddressParts> {
    let tokens: Vec<&str> = line
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| !t.is_empty())
        .collect();
    let is_digits = |t: &str| t.len() == 4 && t.bytes().all(|b| b.is_ascii_digit());
    let is_letters = |t: &str| t.len() == 2 && t.bytes().all(|b| b.is_ascii_uppercase());
    // Postal codes: (first token, tokens taken).
    let mut codes = Vec::new();
    for i in 0..tokens.len() {
        let t = tokens[i];
        if t.len() == 6 && is_digits(&t[..4]) && is_letters(&t[4..]) {
            codes.push((i, 1));
        } else if is_digits(t) && tokens.get(i + 1).is_some_and(|n| is_letters(n)) {
            codes.push((i, 2));
        }
    }
    let [(at, taken)] = codes.as_slice() else {
        return None;
    };
    let (before, after) = (&tokens[..*at], &tokens[at + taken..]);
    let code: String = tokens[*at..at + taken].concat();
    let city = after.join(" ");
    // The house number: the last token starting with a digit, then at most one addition.
    let n = before
        .iter()
        .rposition(|t| t.starts_with(|c: char| c.is_ascii_digit()))?;
    if n == 0 || before.len() - n > 2 || city.is_empty() {
        return None;
    }
    let number_token = before[n];
    let digits: String = number_token
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let mut addition = number_token[digits.len()..]
        .trim_start_matches(['-', '/'])
        .to_owned();
    if let Some(extra) = before.get(n + 1) {
        if !addition.is_empty() || extra.chars().count() > 4 {
            return None;
        }
        addition = extra.trim_start_matches(['-', '/']).to_owned();
    }
    let street = before[..n].join(" ");
    // A PO box is no street address (AFAS keeps it as a postal address).
    if street.eq_ignore_ascii_case("postbus") || street.eq_ignore_ascii_case("antwoordnummer") {
        return None;
    }
    Some(AddressParts {
        street,
        house_number: digits,
        addition,
        postal_code: format!("{} {}", &code[..4], &code[4..]),
        city,
    })
}

/// The job (offer) id and title a hire was hired for: their first hired placement.
fn hired_job(p: &Person) -> (Option<&str>, Option<&str>) {
    (
        p.employments.iter().find_map(|e| e.function.as_deref()),
        p.attributes.get("job").map(String::as_str),
    )
}

/// The AFAS vacancy of hire `p`: mapped by their job, else the fallback; `None` without
/// `vacancies`.
pub fn vacancy<'c>(cfg: &'c AfasApplicantsTargetConfig, p: &Person) -> Option<&'c str> {
    let v = cfg.vacancies.as_ref()?;
    let (offer, title) = hired_job(p);
    v.mapped(offer, title).or(v.fallback.as_deref())
}

/// The AFAS fields of an applicant: `cfg.fields` applied to `p`. Empty values are left out.
pub fn payload(cfg: &AfasApplicantsTargetConfig, p: &Person) -> Map<String, Value> {
    let mut out = Map::new();
    // A one-line address in `street` with none of its parts given apart: split when it is
    // unambiguous, else sent as it is.
    let attr = |k: &str| {
        p.attributes
            .get(k)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    };
    let address = attr("street")
        .filter(|_| {
            ["house_number", "postal_code", "city"]
                .iter()
                .all(|k| attr(k).is_none())
        })
        .and_then(split_address);
    let (prefix, base) = split_prefix(&p.last_name);
    for (field, from) in &cfg.fields {
        let value: Option<String> = if let Some(fixed) = from.strip_prefix('=') {
            Some(fixed.to_owned())
        } else {
            match (from.as_str(), &address) {
                ("first_name", _) => Some(p.first_name.clone()),
                ("last_name", _) => Some(p.last_name.clone()),
                ("name_prefix", _) => Some(prefix.clone()),
                ("last_name_without_prefix", _) => Some(base.clone()),
                ("email", _) => p.email.clone(),
                ("gender", _) => p.attributes.get("gender").map(|g| {
                    let key = g.trim().to_lowercase();
                    cfg.gender_codes
                        .iter()
                        .find(|(k, _)| k.to_lowercase() == key)
                        .map_or_else(|| g.trim().to_owned(), |(_, code)| code.clone())
                }),
                ("birth_date", _) => p
                    .attributes
                    .get("birth_date")
                    .map(|d| d.get(..10).unwrap_or(d).to_owned()),
                ("vacancy", _) => vacancy(cfg, p).map(str::to_owned),
                ("street", Some(a)) => Some(a.street.clone()),
                ("house_number", Some(a)) => Some(a.house_number.clone()),
                ("house_number_addition", Some(a)) => Some(a.addition.clone()),
                ("postal_code", Some(a)) => Some(a.postal_code.clone()),
                ("city", Some(a)) => Some(a.city.clone()),
                (other, _) => p.attributes.get(other).cloned(),
            }
        };
        if let Some(v) = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) {
            out.insert(field.clone(), Value::String(v));
        }
    }
    out
}

/// Warnings for the hires to send whose job `target.vacancies` does not map: per job, how many,
/// and what is sent instead (the fallback, or no vacancy).
pub fn vacancy_diagnostics(
    cfg: &AfasApplicantsTargetConfig,
    locations: &orgsync_core::config::Locations,
    persons: &[Person],
) -> Vec<Diagnostic> {
    let Some(v) = &cfg.vacancies else {
        return Vec::new();
    };
    let mut unmapped: BTreeMap<String, (String, usize)> = BTreeMap::new();
    for p in persons {
        let (offer, title) = hired_job(p);
        if v.mapped(offer, title).is_none() {
            let key = offer.or(title).unwrap_or("?").to_owned();
            let entry = unmapped
                .entry(key)
                .or_insert_with(|| (title.unwrap_or_default().to_owned(), 0));
            entry.1 += 1;
        }
    }
    unmapped
        .into_iter()
        .map(|(job, (title, count))| Diagnostic {
            kind: DiagnosticKind::UnmappedFunction,
            severity: Severity::Warning,
            message: format!(
                "{count} hire{} for Recruitee job {job} \"{title}\", which target.vacancies.map does not name: {}",
                if count == 1 { "" } else { "s" },
                match &v.fallback {
                    Some(fb) => format!("sent with the fallback vacancy {fb}"),
                    None => "sent without a vacancy".to_owned(),
                }
            ),
            subject: Some(job.clone()),
            count,
            hint: Some(format!(
                "map it under target.vacancies.map: \"{job}\": <AFAS vacancy number>"
            )),
            location: locations
                .get("/target/vacancies")
                .or_else(|| locations.get("/target")),
            concerns: Default::default(),
        })
        .collect()
}

/// `hmac-sha256:<hex>` of the candidate id and its payload, keyed with `key` (the AFAS token):
/// a plan can show that the data is unchanged without carrying it, and without the key nobody
/// can test guesses (birth dates are few) against it.
pub fn payload_digest(key: &[u8], candidate: &str, payload: &Map<String, Value>) -> String {
    let message = serde_json::to_vec(&json!({ "candidate": candidate, "fields": payload }))
        .expect("a payload serialises");
    format!("hmac-sha256:{}", hex::encode(hmac_sha256(key, &message)))
}

/// HMAC-SHA256 (RFC 2104) of `message` under `key`.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    use hmac::{KeyInit, Mac};
    let mut mac =
        hmac::Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// Adds the payload digest to every invite of `actions` (the plan's), from the candidates in
/// `source`; and says in a diagnostic what the plan does.
pub fn annotate(
    cfg: &AfasApplicantsTargetConfig,
    key: &[u8],
    source: &SourceSnapshot,
    actions: &mut [Action],
    diagnostics: &mut Vec<Diagnostic>,
) {
    let by_id: HashMap<&str, &Person> = source.persons.iter().map(|p| (p.id.as_str(), p)).collect();
    let mut sends = 0;
    for a in actions
        .iter_mut()
        .filter(|a| a.kind() == ActionKind::Invite)
    {
        let Some(p) = by_id.get(a.subject.as_str()) else {
            continue;
        };
        sends += 1;
        if let Changes::Invite(invite) = &mut a.changes {
            invite.applicant = Some(payload_digest(key, &p.id, &payload(cfg, p)));
        }
        a.reason = format!("hired; send to AFAS as an applicant ({})", cfg.connector);
    }
    if sends > 0 {
        diagnostics.push(Diagnostic {
            kind: DiagnosticKind::CreateOnly,
            severity: Severity::Info,
            message: format!(
                "send {sends} hired candidate{} to AFAS as applicant{} ({}); create-only: nothing in AFAS is updated or removed",
                if sends == 1 { "" } else { "s" },
                if sends == 1 { "" } else { "s" },
                cfg.connector
            ),
            subject: None,
            count: sends,
            hint: None,
            location: None,
            concerns: Default::default(),
        });
    }
}

/// `message` without any of the payload's values (an AFAS message may quote them).
fn scrub(message: &str, payload: &Map<String, Value>) -> String {
    let mut values: Vec<&str> = payload
        .values()
        .filter_map(Value::as_str)
        .filter(|v| v.chars().count() >= 2)
        .collect();
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    let mut out = message.to_owned();
    for v in values {
        out = out.replace(v, orgsync_core::redact::REDACTED);
    }
    orgsync_core::redact::scrub(&out).into_owned()
}

/// Writes a `checked` sent badge (the applicant id unknown) for each candidate a person listed
/// under `target.sent` whose badges do not say sent yet; their ids. Every apply does this first,
/// also one with nothing to send.
pub fn record_checks(
    cfg: &AfasApplicantsTargetConfig,
    ledger: &dyn Ledger,
) -> Result<Vec<String>, ConnectorError> {
    let key = target_key(cfg);
    let badges = ledger
        .badges(&key)
        .map_err(|e| ConnectorError::Action(format!("cannot read the badges: {e}")))?;
    let ids = unrecorded_checks(&badges, &cfg.sent);
    for id in &ids {
        let badge = Badge {
            badge: "afas_applicant".to_owned(),
            target: key.clone(),
            config_dir: ledger.config_dir(),
            candidate: id.clone(),
            state: BadgeState::Sent,
            time: jiff::Timestamp::now()
                .strftime("%Y-%m-%dT%H:%M:%S%.9fZ")
                .to_string(),
            actor: ledger.actor(),
            applicant_id: None,
            found: false,
            resend: false,
            checked: true,
        };
        ledger
            .append_badge(&badge)
            .map_err(|e| ConnectorError::Action(format!("cannot write the badge: {e}")))?;
    }
    Ok(ids)
}

/// Sends applicants to AFAS.
pub struct AfasApplicantsTarget {
    cfg: AfasApplicantsTargetConfig,
    client: Arc<HttpClient>,
    rt: Arc<tokio::runtime::Runtime>,
    source: Box<dyn Source>,
    ledger: Arc<dyn Ledger>,
    key: String,
    hmac_key: Vec<u8>,
    candidates: HashMap<String, Person>,
    states: BTreeMap<String, CandidateState>,
}

impl std::fmt::Debug for AfasApplicantsTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AfasApplicantsTarget")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// The AFAS token of `cfg`, resolved with `lookup` (the digest key and the credential).
pub fn token(
    cfg: &AfasApplicantsTargetConfig,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, ConnectorError> {
    cfg.token
        .resolve("target.token", lookup)
        .map_err(|e| ConnectorError::Config(e.to_string()))
}

impl AfasApplicantsTarget {
    /// A target for `cfg` that reads the candidates again from `source` at apply time and keeps
    /// its badges in `ledger`.
    pub fn new(
        cfg: &AfasApplicantsTargetConfig,
        source: Box<dyn Source>,
        ledger: Arc<dyn Ledger>,
        kit: &Kit,
    ) -> Result<AfasApplicantsTarget, ConnectorError> {
        let token = token(cfg, kit.secrets())?;
        let mut settings = HttpSettings::new("AFAS Profit", &base_url(cfg));
        settings.configure(&cfg.http);
        settings.concurrency = cfg.concurrency.max(1) as usize;
        settings.rate_limit = cfg.rate_limit;
        settings.progress = kit.progress();
        settings.credential_hint = cfg.token.hint("target.token");
        let client = HttpClient::new(settings, &authorization(&token), describe_error)?
            .with_permanent(permanent_error);
        Ok(AfasApplicantsTarget {
            cfg: cfg.clone(),
            client: Arc::new(client),
            rt: kit.runtime()?,
            source,
            ledger,
            key: target_key(cfg),
            hmac_key: token.trim().as_bytes().to_vec(),
            candidates: HashMap::new(),
            states: BTreeMap::new(),
        })
    }

    /// The badges of this target in the ledger.
    fn read_badges(&self) -> Result<Vec<Badge>, ConnectorError> {
        self.ledger
            .badges(&self.key)
            .map_err(|e| ConnectorError::Action(format!("cannot read the badges: {e}")))
    }

    /// The client (request counts).
    pub fn client(&self) -> &HttpClient {
        &self.client
    }

    fn badge(
        &self,
        candidate: &str,
        state: BadgeState,
        applicant: Option<String>,
        found: bool,
    ) -> Badge {
        Badge {
            badge: "afas_applicant".to_owned(),
            target: self.key.clone(),
            config_dir: self.ledger.config_dir(),
            candidate: candidate.to_owned(),
            state,
            time: jiff::Timestamp::now()
                .strftime("%Y-%m-%dT%H:%M:%S%.9fZ")
                .to_string(),
            actor: self.ledger.actor(),
            applicant_id: applicant,
            found,
            resend: false,
            checked: false,
        }
    }

    /// Writes a `checked` sent badge for each candidate listed under `target.sent` whose
    /// badges do not say sent yet.
    fn record_checked(&mut self) -> Result<(), ConnectorError> {
        if !record_checks(&self.cfg, self.ledger.as_ref())?.is_empty() {
            self.states = states(&self.read_badges()?);
        }
        Ok(())
    }

    fn record(&mut self, badge: Badge) -> Result<(), ConnectorError> {
        self.ledger
            .append_badge(&badge)
            .map_err(|e| ConnectorError::Action(format!("cannot write the badge: {e}")))?;
        let resent = badge.resend
            || self
                .states
                .get(&badge.candidate)
                .is_some_and(|s| s.resent && s.state != BadgeState::NotSent);
        self.states.insert(
            badge.candidate.clone(),
            CandidateState {
                state: badge.state,
                applicant_id: badge.applicant_id,
                resent,
            },
        );
        Ok(())
    }

    /// `validate --online`: the UpdateConnector exists and has every mapped field, every
    /// mandatory field is mapped, and the lookup GetConnector has its fields.
    pub fn check_online(&self) -> Result<Vec<String>, ConnectorError> {
        self.rt.block_on(async {
            let mut problems = Vec::new();
            let c = &self.cfg.connector;
            let path = format!("/metainfo/update/{}", encode(c));
            let meta = match self.client.get(&path).await {
                Ok(r) => r,
                Err(e) if matches!(e.status().map(|s| s.as_u16()), Some(404 | 500)) => {
                    return Ok(vec![format!(
                        "target.connector: AFAS has no UpdateConnector {c} for this app connector \
                         (add it under Update Connectoren in the app connector, with the id \
                         HrCreateApplicant)"
                    )]);
                }
                Err(e) => return Err(e.into()),
            };
            #[derive(Deserialize)]
            struct Meta {
                #[serde(default)]
                fields: Vec<Field>,
            }
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct Field {
                field_id: String,
                #[serde(default)]
                mandatory: bool,
                #[serde(default)]
                label: Option<String>,
            }
            let meta: Meta = meta.json().map_err(|m| ConnectorError::Data {
                path: format!("{}{path}", self.client.settings().base_url),
                line: 0,
                message: m,
            })?;
            let have: Vec<&str> = meta.fields.iter().map(|f| f.field_id.as_str()).collect();
            for field in self.cfg.fields.keys() {
                if !have.iter().any(|h| h == field) {
                    let near = orgsync_core::closest::closest(field, have.iter().copied())
                        .map(|c| format!(" (did you mean {c}?)"))
                        .unwrap_or_default();
                    problems.push(format!(
                        "target.fields.{field}: the UpdateConnector {c} has no field {field}{near}"
                    ));
                }
            }
            for f in meta.fields.iter().filter(|f| f.mandatory) {
                if !self.cfg.fields.contains_key(&f.field_id) {
                    problems.push(format!(
                        "target.fields: {c} requires {}{}, which is not mapped",
                        f.field_id,
                        f.label
                            .as_deref()
                            .map(|l| format!(" ({l})"))
                            .unwrap_or_default()
                    ));
                }
            }
            if let Some(l) = &self.cfg.lookup {
                let path = format!("/metainfo/get/{}", encode(&l.connector));
                match self.client.get(&path).await {
                    Ok(r) => {
                        #[derive(Deserialize)]
                        struct GetMeta {
                            #[serde(default)]
                            fields: Vec<GetField>,
                        }
                        #[derive(Deserialize)]
                        struct GetField {
                            id: String,
                        }
                        let m: GetMeta = r.json().map_err(|m| ConnectorError::Data {
                            path: format!("{}{path}", self.client.settings().base_url),
                            line: 0,
                            message: m,
                        })?;
                        for (key, field) in [("email_field", &l.email_field), ("id_field", &l.id_field)] {
                            if !m.fields.iter().any(|f| f.id == *field) {
                                problems.push(format!(
                                    "target.lookup.{key}: the GetConnector {} has no field {field}",
                                    l.connector
                                ));
                            }
                        }
                    }
                    Err(e) if matches!(e.status().map(|s| s.as_u16()), Some(404 | 500)) => {
                        problems.push(format!(
                            "target.lookup.connector: AFAS has no GetConnector {} for this app connector",
                            l.connector
                        ));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(problems)
        })
    }

    /// The applicant id of `email` in AFAS, through the lookup GetConnector.
    async fn lookup(&self, email: &str) -> Result<Option<String>, ConnectorError> {
        let Some(l) = &self.cfg.lookup else {
            return Ok(None);
        };
        let path = format!(
            "/connectors/{}?filterfieldids={}&filtervalues={}&operatortypes=1&skip=0&take=10&orderbyfieldids={}",
            encode(&l.connector),
            encode(&l.email_field),
            encode(email),
            encode(&l.id_field),
        );
        let r = self.client.get(&path).await?;
        #[derive(Deserialize)]
        struct Rows {
            rows: Vec<Map<String, Value>>,
        }
        let rows: Rows = r.json().map_err(|m| ConnectorError::Data {
            path: format!(
                "{}/connectors/{}",
                self.client.settings().base_url,
                l.connector
            ),
            line: 0,
            message: m,
        })?;
        Ok(rows
            .rows
            .iter()
            .find(|row| {
                row.get(&l.email_field)
                    .and_then(Value::as_str)
                    .is_some_and(|e| same_email(e, email))
            })
            .map(|row| match row.get(&l.id_field) {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            }))
    }

    fn send(&mut self, action: &Action) -> Result<(), ConnectorError> {
        let id = action.subject.as_str();
        if let Some(s) = self.states.get(id)
            && s.state == BadgeState::Sent
        {
            tracing::info!(
                "candidate {id} was sent before (applicant {}): not sent again",
                s.applicant_id.as_deref().unwrap_or("?")
            );
            return Ok(());
        }
        let Some(person) = self.candidates.get(id).cloned() else {
            return Err(ConnectorError::Action(format!(
                "candidate {id} is not among the hired candidates any more: not sent; plan again"
            )));
        };
        let fields = payload(&self.cfg, &person);
        let digest = payload_digest(&self.hmac_key, id, &fields);
        let planned = match &action.changes {
            Changes::Invite(invite) => invite.applicant.as_deref(),
            _ => None,
        };
        if planned != Some(digest.as_str()) {
            return Err(ConnectorError::Action(format!(
                "candidate {id}'s data changed since the plan was made (its applicant digest \
                 differs): not sent; plan again and review"
            )));
        }
        let email = person.email.clone().unwrap_or_default();
        let state = self.states.get(id).cloned();
        let resend = state
            .as_ref()
            .is_some_and(|s| may_resend(s, id, &self.cfg.resend));
        if let Some(s) = &state
            && s.state == BadgeState::InFlight
            && !resend
        {
            if self.cfg.lookup.is_none() {
                return Err(ConnectorError::Action(format!(
                    "candidate {id}: an earlier send was never confirmed and target.lookup is \
                     not configured: not sent again (check AFAS, then list it under \
                     target.resend)"
                )));
            }
            if let Some(found) = self.rt.block_on(self.lookup(&email))? {
                let badge = self.badge(id, BadgeState::Sent, Some(found.clone()), true);
                self.record(badge)?;
                tracing::info!(
                    "candidate {id} was found in AFAS as applicant {found}: not sent again"
                );
                return Ok(());
            }
        }
        // The badge before the send: after a crash from here on, the candidate is looked up or
        // held, never sent blindly.
        let mut badge = self.badge(id, BadgeState::InFlight, None, false);
        badge.resend = resend;
        self.record(badge)?;
        let connector = self.cfg.connector.clone();
        let body = json!({ connector.clone(): { "Element": { "Fields": fields } } });
        let path = format!("/connectors/{}", encode(&connector));
        let answer = self.rt.block_on(self.client.send_create(&path, &body));
        match answer {
            Ok(r) => {
                let applicant = r.json::<Value>().ok().and_then(|v| {
                    v.get("results")?
                        .get(&connector)?
                        .as_object()?
                        .values()
                        .next()
                        .map(|k| match k {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                });
                let badge = self.badge(id, BadgeState::Sent, applicant, false);
                self.record(badge)
            }
            Err(e) => self.failed(id, &email, &fields, e),
        }
    }

    /// A POST that failed: AFAS's refusal (nothing created) or an answer that never came (maybe
    /// created).
    fn failed(
        &mut self,
        id: &str,
        email: &str,
        fields: &Map<String, Value>,
        e: HttpError,
    ) -> Result<(), ConnectorError> {
        let status = e.status().map(|s| s.as_u16());
        let afas_message = describe_error(e.body());
        // After any failure the lookup, when there is one, says what happened.
        if self.cfg.lookup.is_some()
            && let Ok(Some(found)) = self.rt.block_on(self.lookup(email))
        {
            let badge = self.badge(id, BadgeState::Sent, Some(found.clone()), true);
            self.record(badge)?;
            tracing::warn!(
                "candidate {id}: the answer was lost, but AFAS has it as applicant {found}"
            );
            return Ok(());
        }
        let refused = match status {
            Some(500) => afas_message.is_some(),
            Some(s) => (400..500).contains(&s) && s != 408,
            None => false,
        };
        if refused {
            let badge = self.badge(id, BadgeState::NotSent, None, false);
            self.record(badge)?;
            let message = afas_message.unwrap_or_else(|| e.to_string());
            return Err(ConnectorError::Action(format!(
                "AFAS refused the applicant: {}",
                scrub(&message, fields)
            )));
        }
        Err(ConnectorError::Action(format!(
            "{}: the answer was lost and AFAS may have created the applicant; not sent again \
             ({})",
            scrub(&e.to_string(), fields),
            if self.cfg.lookup.is_some() {
                "the next apply looks it up first"
            } else {
                "held for a person to check: see the plan's manual step"
            }
        )))
    }
}

/// What the applicants target can do: create applicants, nothing else (create-only). No
/// groups, no removal, no restore, no transfer e-mail; names and e-mail only as sent.
pub fn capabilities() -> TargetCapabilities {
    TargetCapabilities {
        system: "AFAS".to_owned(),
        communities: false,
        function_groups: false,
        create_groups: false,
        removal: Removal::None,
        restore: false,
        notify: false,
        fields: WritableFields {
            first_name: false,
            last_name: false,
            email: false,
            manager: false,
        },
        create_only: true,
        change_function_groups: false,
        one_function_group: false,
    }
}

impl Target for AfasApplicantsTarget {
    fn capabilities(&self) -> TargetCapabilities {
        capabilities()
    }

    /// The configured `concurrency` (1 by default) and `rate_limit`: one UpdateConnector
    /// request per applicant sent.
    fn pace(&self) -> Option<orgsync_core::estimate::ApplyPace> {
        let settings = self.client.settings();
        Some(orgsync_core::estimate::ApplyPace {
            system: "AFAS".to_owned(),
            concurrency: u32::try_from(settings.concurrency).unwrap_or(u32::MAX),
            rate_limit: settings.rate_limit,
            request_ms: 500,
            requests: orgsync_core::estimate::RequestsPerAction::ONE_EACH,
        })
    }

    fn fetch(&mut self) -> Result<TargetSnapshot, ConnectorError> {
        Ok(snapshot(
            &self.read_badges()?,
            &self.cfg.resend,
            &self.cfg.sent,
        ))
    }

    fn begin_apply(&mut self) -> Result<TargetSnapshot, ConnectorError> {
        let source = self.source.fetch()?;
        self.candidates = source
            .persons
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();
        let badges = self.read_badges()?;
        self.states = states(&badges);
        // What the plan saw (its digest is checked), before the candidates a person vouched
        // for under `target.sent` become badges: they are not sent either way.
        let planned = snapshot(&badges, &self.cfg.resend, &self.cfg.sent);
        self.record_checked()?;
        Ok(planned)
    }

    fn execute(&mut self, action: &Action, _ctx: &mut ApplyContext) -> Result<(), ConnectorError> {
        if action.kind() != ActionKind::Invite {
            return Err(ConnectorError::Action(format!(
                "the AFAS applicants target is create-only: it cannot {} (a manual step in AFAS)",
                action.kind().as_str()
            )));
        }
        self.send(action)
    }

    fn finish_apply(&mut self) -> Result<(), ConnectorError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn badge(candidate: &str, state: BadgeState, time: &str) -> Badge {
        Badge {
            badge: "afas_applicant".into(),
            target: "afas_applicants:x".into(),
            config_dir: String::new(),
            candidate: candidate.into(),
            state,
            time: time.into(),
            actor: "a".into(),
            applicant_id: (state == BadgeState::Sent).then(|| format!("A{candidate}")),
            found: false,
            resend: false,
            checked: false,
        }
    }

    #[test]
    fn sent_is_final_and_the_newest_badge_decides_otherwise() {
        let b = [
            badge("1", BadgeState::InFlight, "2026-01-01T00:00:01.000000000Z"),
            badge("1", BadgeState::Sent, "2026-01-01T00:00:02.000000000Z"),
            badge("1", BadgeState::InFlight, "2026-01-01T00:00:03.000000000Z"),
            badge("2", BadgeState::InFlight, "2026-01-01T00:00:01.000000000Z"),
            badge("3", BadgeState::InFlight, "2026-01-01T00:00:01.000000000Z"),
            badge("3", BadgeState::NotSent, "2026-01-01T00:00:02.000000000Z"),
        ];
        let s = states(&b);
        assert_eq!(s["1"].state, BadgeState::Sent);
        assert_eq!(s["1"].applicant_id.as_deref(), Some("A1"));
        assert_eq!(s["2"].state, BadgeState::InFlight);
        assert_eq!(s["3"].state, BadgeState::NotSent);
        let snap = snapshot(&b, &[], &[]);
        let ids: Vec<(&str, bool)> = snap
            .accounts
            .iter()
            .map(|a| (a.id.as_str(), a.managed))
            .collect();
        assert_eq!(ids, [("A1", true), ("in_flight:2", false)]);
        // A person checked candidate 2 by hand: it may be sent again.
        assert_eq!(snapshot(&b, &["2".into()], &[]).accounts.len(), 1);
        // Once: a resend whose answer is lost too is held again, listed or not.
        let mut again = b.to_vec();
        let mut resent = badge("2", BadgeState::InFlight, "2026-01-01T00:00:09.000000000Z");
        resent.resend = true;
        again.push(resent);
        assert_eq!(snapshot(&again, &["2".into()], &[]).accounts.len(), 2);
    }

    #[test]
    fn badges_are_told_apart_from_apply_records() {
        let text = format!(
            "{}\n{{\"record_version\":1}}\nnot json\n",
            serde_json::to_string(&badge("7", BadgeState::Sent, "t")).unwrap()
        );
        let parsed = Badge::parse_note(&text);
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].candidate, "7");
    }

    /// A hire as the Recruitee source makes one: hired for job (offer) 1192594 "Barista".
    fn hire(first: &str, last: &str, street: Option<&str>) -> Person {
        let mut p = Person {
            id: "46000002".into(),
            first_name: first.into(),
            last_name: last.into(),
            email: Some("s.dewit@example.nl".into()),
            employments: vec![orgsync_core::model::Employment {
                function: Some("1192594".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        p.attributes.insert("job".into(), "Barista".into());
        if let Some(street) = street {
            p.attributes.insert("street".into(), street.into());
        }
        p
    }

    fn default_cfg(extra: Value) -> AfasApplicantsTargetConfig {
        let mut v = json!({ "base_url": "http://127.0.0.1:1/ProfitRestServices", "token": "t" });
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().cloned().unwrap_or_default());
        serde_json::from_value(v).unwrap()
    }

    /// Regression (issue 21): "de Wit" went whole into `LaNm` although KnPerson has the prefix
    /// field `Is` (Voorvoegsel). The default fields send `Is: de`, `LaNm: Wit`; a capitalised
    /// prefix (Flemish `De Smet`) is part of the name.
    #[test]
    fn the_dutch_name_prefix_goes_to_is_not_la_nm() {
        let cfg = default_cfg(json!({}));
        let fields = payload(&cfg, &hire("Sanne", "de Wit", None));
        assert_eq!(fields["Is"], json!("de"));
        assert_eq!(fields["LaNm"], json!("Wit"));
        assert_eq!(fields["FiNm"], json!("Sanne"));
        let fields = payload(&cfg, &hire("Jan", "van der Berg", None));
        assert_eq!(
            (&fields["Is"], &fields["LaNm"]),
            (&json!("van der"), &json!("Berg"))
        );
        for whole in ["De Smet", "Bakker", "van"] {
            let fields = payload(&cfg, &hire("Piet", whole, None));
            assert_eq!(fields["LaNm"], json!(whole));
            assert!(!fields.contains_key("Is"), "{whole}: {fields:?}");
        }
        // `last_name` is still the whole last name, for a mapping that wants it so.
        let cfg = default_cfg(
            json!({ "fields": { "FiNm": "first_name", "LaNm": "last_name", "EmAd": "email" } }),
        );
        assert_eq!(
            payload(&cfg, &hire("Sanne", "de Wit", None))["LaNm"],
            json!("de Wit")
        );
    }

    /// Regression (issue 21): a one-line address landed whole in the street field (`Ad`) with
    /// postal code and city empty. Split when unambiguous; sent whole otherwise.
    #[test]
    fn a_one_line_address_is_split_into_street_number_postal_code_and_city() {
        let cfg = default_cfg(json!({}));
        let fields = payload(
            &cfg,
            &hire(
                "Sanne",
                "de Wit",
                Some("Keizersgracht 123-A, 1015 CJ Amsterdam"),
            ),
        );
        assert_eq!(fields["Ad"], json!("Keizersgracht"));
        assert_eq!(fields["HmNr"], json!("123"));
        assert_eq!(fields["HmAd"], json!("A"));
        assert_eq!(fields["ZpCd"], json!("1015 CJ"));
        assert_eq!(fields["Rs"], json!("Amsterdam"));
        let split = |l: &str| {
            split_address(l).map(|a| (a.street, a.house_number, a.addition, a.postal_code, a.city))
        };
        let parts = |a: &str, b: &str, c: &str, d: &str, e: &str| {
            Some((a.into(), b.into(), c.into(), d.into(), e.into()))
        };
        assert_eq!(
            split("Laan van Meerdervoort 5 2517AA Den Haag"),
            parts("Laan van Meerdervoort", "5", "", "2517 AA", "Den Haag")
        );
        assert_eq!(
            split("Oudegracht 12 bis, 3511 AP Utrecht"),
            parts("Oudegracht", "12", "bis", "3511 AP", "Utrecht")
        );
        assert_eq!(
            split("1e Helmersstraat 7-2, 1054 DA Amsterdam"),
            parts("1e Helmersstraat", "7", "2", "1054 DA", "Amsterdam")
        );
        // Ambiguous or not Dutch: sent whole in the street field.
        for whole in [
            "Postbus 123, 1000 AA Amsterdam",
            "Keizersgracht 123, Amsterdam",
            "10 Downing Street, London SW1A 2AA",
            "Keizersgracht 1, 1015 CJ Amsterdam 1016 AB",
        ] {
            assert_eq!(split(whole), None, "{whole}");
        }
        let fields = payload(
            &cfg,
            &hire("Sanne", "de Wit", Some("Keizersgracht 123, Amsterdam")),
        );
        assert_eq!(fields["Ad"], json!("Keizersgracht 123, Amsterdam"));
        assert!(!fields.contains_key("Rs") && !fields.contains_key("ZpCd"));
        // Parts given apart are never overridden.
        let mut p = hire("Sanne", "de Wit", Some("Keizersgracht"));
        p.attributes.insert("house_number".into(), "123".into());
        let fields = payload(&cfg, &p);
        assert_eq!(
            (&fields["Ad"], &fields["HmNr"]),
            (&json!("Keizersgracht"), &json!("123"))
        );
    }

    /// Issue 21: the vacancy (`VcSn`) comes from the hire's Recruitee job through
    /// `target.vacancies` (by job id or title), with a fallback; an unmapped job is a warning.
    #[test]
    fn the_vacancy_comes_from_the_recruitee_job_with_a_fallback() {
        let none = default_cfg(json!({}));
        assert!(!payload(&none, &hire("A", "B", None)).contains_key("VcSn"));
        let by_id = default_cfg(json!({ "vacancies": { "map": { "1192594": "14" } } }));
        assert_eq!(payload(&by_id, &hire("A", "B", None))["VcSn"], json!("14"));
        let by_title =
            default_cfg(json!({ "vacancies": { "map": { "barista": "15" }, "fallback": "1" } }));
        assert_eq!(
            payload(&by_title, &hire("A", "B", None))["VcSn"],
            json!("15")
        );
        let fallback =
            default_cfg(json!({ "vacancies": { "map": { "999": "15" }, "fallback": "1" } }));
        let p = hire("A", "B", None);
        assert_eq!(payload(&fallback, &p)["VcSn"], json!("1"));
        let config = orgsync_core::config::Locations::default();
        let d = vacancy_diagnostics(&fallback, &config, &[p.clone(), p.clone()]);
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].count, d[0].severity), (2, Severity::Warning));
        assert!(
            d[0].message.contains("1192594 \"Barista\""),
            "{}",
            d[0].message
        );
        assert!(
            d[0].message.contains("fallback vacancy 1"),
            "{}",
            d[0].message
        );
        let unmapped = default_cfg(json!({ "vacancies": { "map": { "999": "15" } } }));
        assert!(!payload(&unmapped, &p).contains_key("VcSn"));
        let d = vacancy_diagnostics(&unmapped, &config, &[p]);
        assert!(
            d[0].message.contains("without a vacancy"),
            "{}",
            d[0].message
        );
        assert!(vacancy_diagnostics(&by_id, &config, &[hire("A", "B", None)]).is_empty());
    }

    #[test]
    fn the_digest_is_keyed_and_follows_every_field() {
        let mut fields = Map::new();
        fields.insert("DaBi".into(), json!("1990-04-01"));
        let a = payload_digest(b"token-1", "7", &fields);
        assert_eq!(a, payload_digest(b"token-1", "7", &fields));
        assert_ne!(a, payload_digest(b"token-2", "7", &fields));
        assert_ne!(a, payload_digest(b"token-1", "8", &fields));
        fields.insert("DaBi".into(), json!("1990-04-02"));
        assert_ne!(a, payload_digest(b"token-1", "7", &fields));
        assert!(!a.contains("1990"));
    }

    /// Regression (issue 18): the hand-written HMAC's only test would have passed for a plain
    /// keyed hash. RFC 4231's HMAC-SHA256 vectors: test cases 1, 2, 3, 4, 6 (a key longer than
    /// the block) and 7.
    #[test]
    fn the_payload_digest_is_hmac_sha256_by_rfc_4231() {
        let cases: [(Vec<u8>, Vec<u8>, &str); 6] = [
            (
                vec![0x0b; 20],
                b"Hi There".to_vec(),
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?".to_vec(),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                vec![0xaa; 20],
                vec![0xdd; 50],
                "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
            ),
            (
                (1..=25).collect(),
                vec![0xcd; 50],
                "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
            ),
            (
                vec![0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
            (
                vec![0xaa; 131],
                b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm."
                    .to_vec(),
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
            ),
        ];
        for (key, data, mac) in cases {
            assert_eq!(hex::encode(hmac_sha256(&key, &data)), mac);
        }
    }

    #[test]
    fn messages_lose_the_values_they_quote() {
        let mut fields = Map::new();
        fields.insert("DaBi".into(), json!("1990-13-45"));
        fields.insert("LaNm".into(), json!("de Vries"));
        assert_eq!(
            scrub("Geboortedatum 1990-13-45 van de Vries is ongeldig", &fields),
            "Geboortedatum [redacted] van [redacted] is ongeldig"
        );
    }

    /// The ledger is a seam (issue 18): the target keeps its badges through the `Ledger` trait,
    /// so a test keeps them in memory — and an apply run twice on one ledger sends once.
    #[test]
    fn badges_go_through_the_ledger_seam_and_nobody_is_sent_twice() {
        use orgsync_core::connector::Source;
        use orgsync_core::ledger::{Ledger, MemoryLedger};
        use orgsync_core::model::{Employment, SourceSnapshot};
        use orgsync_core::vocabulary::{Changes, Invite};
        use orgsync_sandbox::afas::{AfasData, Applicants, BASE_PATH, router_with_applicants};
        use orgsync_sandbox::serve::{Faults, spawn};

        struct Hired(SourceSnapshot);
        impl Source for Hired {
            fn fetch(&mut self) -> Result<SourceSnapshot, ConnectorError> {
                Ok(self.0.clone())
            }
        }
        let person = Person {
            id: "42".to_owned(),
            email: Some("ann.jansen@example.com".to_owned()),
            first_name: "Ann".to_owned(),
            last_name: "Jansen".to_owned(),
            employments: vec![Employment::default()],
            ..Person::default()
        };
        let source = SourceSnapshot {
            persons: vec![person.clone()],
            ..SourceSnapshot::default()
        };
        let sent = Applicants::default();
        let server = spawn(
            router_with_applicants(
                AfasData::from_snapshot("orgsync_employees", &SourceSnapshot::default()),
                "afas-token-seam-1",
                Faults::default(),
                sent.clone(),
            ),
            0,
        )
        .unwrap();
        let cfg: AfasApplicantsTargetConfig = serde_json::from_value(json!({
            "base_url": format!("{}{BASE_PATH}", server.url()),
            "token": "${env:AFAS_TOKEN}",
        }))
        .unwrap();
        let kit = Kit::new(|_| Some("afas-token-seam-1".to_owned()), false).unwrap();
        let ledger = Arc::new(MemoryLedger::new());
        let fields = payload(&cfg, &person);
        let invite = Action {
            subject: "42".to_owned(),
            target_id: None,
            name: "Ann Jansen".to_owned(),
            changes: Changes::Invite(Invite {
                email: person.email.clone(),
                external_id: Some("42".to_owned()),
                applicant: Some(payload_digest(b"afas-token-seam-1", "42", &fields)),
                ..Invite::default()
            }),
            reason: "hired".to_owned(),
            cause: Default::default(),
        };
        for _ in 0..2 {
            let mut target = AfasApplicantsTarget::new(
                &cfg,
                Box::new(Hired(source.clone())),
                ledger.clone(),
                &kit,
            )
            .unwrap();
            target.begin_apply().unwrap();
            let mut ctx = ApplyContext {
                today: jiff::civil::date(2026, 1, 1),
                interrupt: Default::default(),
                created: Default::default(),
                accounts: Default::default(),
                progress: Default::default(),
            };
            target.execute(&invite, &mut ctx).unwrap();
            target.finish_apply().unwrap();
        }
        assert_eq!(sent.lock().unwrap().len(), 1, "sent once over two applies");
        let badges = ledger.badges(&target_key(&cfg)).unwrap();
        let states: Vec<BadgeState> = badges.iter().map(|b| b.state).collect();
        assert_eq!(states, [BadgeState::InFlight, BadgeState::Sent]);
    }
}
