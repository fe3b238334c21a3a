//! Review = apply: what ties the apply on merge to the plan reviewers saw on the pull request.
//!
//! A pull request's plan is made hours or days before the merge; by then HR has moved on, so the
//! plan file itself can no longer be applied (its source digest is stale). What was reviewed is
//! recorded instead as a [`ReviewRecord`]: the plan's digests and, per action, its kind, subject
//! and a fingerprint (sha256 of the whole action). It holds identifiers and hashes only, no names
//! and no addresses, so it can travel as a CI artifact.
//!
//! On merge, orgsync plans again and [`compare`]s: an action with a reviewed fingerprint is what
//! the reviewers saw; any other action arrived since (HR drift, or a target change) and is
//! applied only when, counted on its own, it stays within every safety limit
//! ([`Comparison::drift_safety`]); the configuration must be the reviewed one. Otherwise nothing
//! is applied and the reason is said.
//!
//! Pure: no I/O.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::digest;
use crate::plan::safety;
use crate::vocabulary::{Action, ActionKind, Plan, Safety};

/// The `kind` of a review record file.
pub const RECORD_KIND: &str = "orgsync-review";

/// Version of the review record's format.
pub const RECORD_FORMAT: u32 = 1;

/// What reviewers saw: identifiers and fingerprints of a plan's actions, and its digests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewRecord {
    /// Always [`RECORD_KIND`].
    pub kind: String,
    /// Version of this format.
    pub format_version: u32,
    /// sha256 of the reviewed plan's JSON: the digest the comment shows.
    pub plan: String,
    /// sha256 of the configuration files reviewed.
    pub config: String,
    /// The git commit of the configuration reviewed, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_commit: Option<String>,
    /// The day the plan was made for.
    pub at: String,
    /// The commit of the configuration the reviewed plan compared with (the pull request's
    /// base): the apply on merge compares with the same one, so that it names the same causes
    /// and e-mails exactly the people the review showed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_config_commit: Option<String>,
    /// The reviewed actions, in plan order.
    pub actions: Vec<ReviewedAction>,
}

/// One reviewed action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewedAction {
    /// What it does.
    pub kind: ActionKind,
    /// The subject's source identifier.
    pub subject: String,
    /// sha256 of the action's JSON: any change to any of its fields is another action.
    pub fingerprint: String,
}

impl ReviewRecord {
    /// The record of `plan`.
    pub fn of(plan: &Plan) -> ReviewRecord {
        ReviewRecord {
            kind: RECORD_KIND.to_owned(),
            format_version: RECORD_FORMAT,
            plan: plan_digest(plan),
            config: plan.digests.config.clone(),
            config_commit: plan.digests.config_commit.clone(),
            at: plan.at.to_string(),
            previous_config_commit: plan.digests.previous_config_commit.clone(),
            actions: plan
                .actions
                .iter()
                .map(|a| ReviewedAction {
                    kind: a.kind(),
                    subject: a.subject.clone(),
                    fingerprint: fingerprint(a),
                })
                .collect(),
        }
    }

    /// Reads a record, refusing anything else (a plan file given by mistake says so).
    pub fn parse(text: &str) -> Result<ReviewRecord, String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        match value.get("kind").and_then(|k| k.as_str()) {
            Some(RECORD_KIND) => {}
            _ if value.get("actions").is_some() && value.get("digests").is_some() => {
                return Err("this is a plan, not a review record (write one with `orgsync show PLANFILE --review-record`)".to_owned());
            }
            _ => {
                return Err(format!(
                    "not an orgsync review record (no \"kind\": \"{RECORD_KIND}\")"
                ));
            }
        }
        let record: ReviewRecord =
            serde_json::from_value(value).map_err(|e| format!("not a review record: {e}"))?;
        if record.format_version != RECORD_FORMAT {
            return Err(format!(
                "review record format {}; this orgsync reads format {RECORD_FORMAT}",
                record.format_version
            ));
        }
        Ok(record)
    }

    /// Pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        let mut out = serde_json::to_string_pretty(self).expect("a review record serialises");
        out.push('\n');
        out
    }
}

/// `sha256:…` of a plan's JSON (what `orgsync plan --out` writes, without its final newline).
pub fn plan_digest(plan: &Plan) -> String {
    digest::of_json(plan)
}

/// `sha256:…` of one action.
pub fn fingerprint(action: &Action) -> String {
    digest::of_json(action)
}

/// A plan made now, split by what reviewers saw.
#[derive(Debug)]
pub struct Comparison<'p> {
    /// Actions reviewers saw, unchanged.
    pub reviewed: Vec<&'p Action>,
    /// Actions nobody reviewed: they arrived since the review (or changed since).
    pub drift: Vec<&'p Action>,
    /// Reviewed actions the plan no longer makes (done meanwhile, or HR changed them).
    pub gone: Vec<ReviewedAction>,
}

/// Why a reviewed plan is not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewMismatch {
    /// The configuration being applied is not the reviewed one.
    #[error(
        "the configuration being applied ({now}) is not the one reviewed ({reviewed}): another change landed between the review and this apply. Nothing was applied; plan again and review, or let the scheduled apply take it within the safety limits"
    )]
    ConfigChanged {
        /// Digest reviewed.
        reviewed: String,
        /// Digest now.
        now: String,
    },
    /// What arrived since the review breaks a safety limit on its own.
    #[error(
        "{count} change(s) arrived since the review and, on their own, break the safety limits: {}. Nothing was applied; plan again and review them",
        .violations.join("; ")
    )]
    DriftUnsafe {
        /// The drift's size.
        count: usize,
        /// The limits broken, as sentences.
        violations: Vec<String>,
    },
}

/// Splits `now` (the plan made at apply time) by `record` (what was reviewed). Errors when the
/// configuration is not the reviewed one.
pub fn compare<'p>(record: &ReviewRecord, now: &'p Plan) -> Result<Comparison<'p>, ReviewMismatch> {
    if record.config != now.digests.config {
        return Err(ReviewMismatch::ConfigChanged {
            reviewed: short(&record.config),
            now: short(&now.digests.config),
        });
    }
    let seen: HashSet<&str> = record
        .actions
        .iter()
        .map(|a| a.fingerprint.as_str())
        .collect();
    let mut planned = HashSet::new();
    let (mut reviewed, mut drift) = (Vec::new(), Vec::new());
    for action in &now.actions {
        let print = fingerprint(action);
        if seen.contains(print.as_str()) {
            reviewed.push(action);
        } else {
            drift.push(action);
        }
        planned.insert(print);
    }
    let gone = record
        .actions
        .iter()
        .filter(|a| !planned.contains(&a.fingerprint))
        .cloned()
        .collect();
    Ok(Comparison {
        reviewed,
        drift,
        gone,
    })
}

impl Comparison<'_> {
    /// The drift alone against the configuration's safety limits, on the same bases as the plan
    /// (`managed_active` accounts, `managed_groups` groups).
    pub fn drift_safety(
        &self,
        config: &Config,
        managed_active: usize,
        managed_groups: usize,
    ) -> Safety {
        let drift: Vec<Action> = self.drift.iter().map(|a| (*a).clone()).collect();
        safety::check(config, &drift, managed_active, managed_groups).0
    }

    /// Refuses drift that breaks a limit.
    pub fn check_drift(&self, safety: &Safety) -> Result<(), ReviewMismatch> {
        if safety.safe {
            return Ok(());
        }
        Err(ReviewMismatch::DriftUnsafe {
            count: self.drift.len(),
            violations: safety
                .violations
                .iter()
                .map(|v| v.message.replacen("the plan", "they", 1))
                .collect(),
        })
    }

    /// Counts per kind of the drift, for the report.
    pub fn drift_counts(&self) -> BTreeMap<ActionKind, usize> {
        let mut out = BTreeMap::new();
        for a in &self.drift {
            *out.entry(a.kind()).or_insert(0) += 1;
        }
        out
    }
}

/// `sha256:0123456789ab`: enough to tell two digests apart in a sentence.
fn short(digest: &str) -> String {
    digest.chars().take("sha256:".len() + 12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocabulary::Changes;

    fn action(kind: ActionKind, subject: &str, to: &str) -> Action {
        let mut changes = Changes::bare(kind);
        if let Changes::Invite(invite) = &mut changes {
            invite.email = Some(to.to_owned());
        }
        Action {
            subject: subject.to_owned(),
            target_id: None,
            name: format!("Person {subject}"),
            changes,
            reason: "new in the source".to_owned(),
            cause: Default::default(),
        }
    }

    fn plan(actions: Vec<Action>) -> Plan {
        let mut plan: Plan = serde_json::from_value(serde_json::json!({
            "format_version": 1, "created_at": "2026-12-01T00:00:00Z", "orgsync_version": "0",
            "at": "2026-12-01", "summary": {}, "held": {}, "actions": [], "diagnostics": [],
            "safety": {"safe": true, "violations": []},
            "digests": {"config": "sha256:c", "source": "sha256:s", "target": "sha256:t"}
        }))
        .unwrap();
        plan.actions = actions;
        plan
    }

    #[test]
    fn the_record_holds_no_names_or_addresses() {
        let p = plan(vec![action(ActionKind::Invite, "1001", "jan@example.com")]);
        let text = ReviewRecord::of(&p).to_json();
        assert!(!text.contains("jan@example.com"), "{text}");
        assert!(!text.contains("Person 1001"), "{text}");
        assert!(text.contains("\"1001\""), "{text}");
        assert_eq!(ReviewRecord::parse(&text).unwrap(), ReviewRecord::of(&p));
    }

    #[test]
    fn unchanged_actions_are_reviewed_new_and_changed_ones_are_drift() {
        let reviewed = plan(vec![
            action(ActionKind::Invite, "1", "a@example.com"),
            action(ActionKind::Invite, "2", "b@example.com"),
            action(ActionKind::Invite, "3", "c@example.com"),
        ]);
        let record = ReviewRecord::of(&reviewed);
        let now = plan(vec![
            action(ActionKind::Invite, "1", "a@example.com"),
            // Same person, another address since the review: not what was reviewed.
            action(ActionKind::Invite, "2", "b2@example.com"),
            action(ActionKind::Invite, "4", "d@example.com"),
        ]);
        let cmp = compare(&record, &now).unwrap();
        let ids = |v: &[&Action]| v.iter().map(|a| a.subject.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&cmp.reviewed), ["1"]);
        assert_eq!(ids(&cmp.drift), ["2", "4"]);
        let gone: Vec<&str> = cmp.gone.iter().map(|a| a.subject.as_str()).collect();
        assert_eq!(gone, ["2", "3"]);
    }

    #[test]
    fn another_configuration_is_refused() {
        let record = ReviewRecord::of(&plan(vec![]));
        let mut now = plan(vec![]);
        now.digests.config = "sha256:other".to_owned();
        assert!(matches!(
            compare(&record, &now),
            Err(ReviewMismatch::ConfigChanged { .. })
        ));
    }

    #[test]
    fn a_plan_file_is_not_a_review_record() {
        let text = serde_json::to_string_pretty(&plan(vec![])).unwrap();
        let err = ReviewRecord::parse(&text).unwrap_err();
        assert!(err.contains("this is a plan"), "{err}");
    }
}
