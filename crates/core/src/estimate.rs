//! How long an apply will take, estimated from the plan and the target's pace: the requests
//! each kind of action costs on that target, how many it takes at once, how many per second it
//! allows, and how long one takes. Pure: the connectors declare their [`ApplyPace`] (from their
//! configured `concurrency` and `rate_limit`), the CLI renders the [`ApplyEstimate`].
//!
//! The model follows how apply runs: phase by phase ([`ActionKind::phase`]), each phase's
//! requests `concurrency` at a time, never faster than `rate_limit`. A phase takes
//! `max(requests / rate, ⌈requests / concurrency⌉ × request time)`. Retries, 429 waits and a
//! slow server make a real apply longer, so the estimate is a floor to plan a job's timeout by,
//! not a promise.

use std::collections::BTreeMap;

use crate::vocabulary::{ActionKind, Plan};

/// Requests one action of each kind costs on a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestsPerAction {
    /// An invite (the account and its group memberships).
    pub invite: u32,
    /// An update of fields or function groups.
    pub update: u32,
    /// A move to other communities.
    pub move_: u32,
    /// A restore of a removed account.
    pub restore: u32,
    /// A removal.
    pub remove: u32,
    /// An anonymization.
    pub anonymize: u32,
    /// A group created, re-keyed or removed.
    pub group: u32,
}

impl RequestsPerAction {
    /// One request per action of every kind.
    pub const ONE_EACH: RequestsPerAction = RequestsPerAction {
        invite: 1,
        update: 1,
        move_: 1,
        restore: 1,
        remove: 1,
        anonymize: 1,
        group: 1,
    };

    /// The requests one action of `kind` costs.
    pub fn of(&self, kind: ActionKind) -> u32 {
        match kind {
            ActionKind::Invite => self.invite,
            ActionKind::Update => self.update,
            ActionKind::Move => self.move_,
            ActionKind::Restore => self.restore,
            ActionKind::Remove => self.remove,
            ActionKind::Anonymize => self.anonymize,
            ActionKind::CreateCommunity
            | ActionKind::CreateFunctionGroup
            | ActionKind::UpdateCommunity
            | ActionKind::UpdateFunctionGroup
            | ActionKind::RemoveCommunity
            | ActionKind::RemoveFunctionGroup => self.group,
        }
    }
}

/// How fast a target takes an apply, as its connector declares it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplyPace {
    /// The system, for the sentence: "the SCIM server".
    pub system: String,
    /// Requests in flight at once (at least 1).
    pub concurrency: u32,
    /// Most requests per second (the configured `rate_limit`); 0: no limit known.
    pub rate_limit: u32,
    /// Typical time of one request, round trip included, in milliseconds.
    pub request_ms: u32,
    /// Requests per action kind.
    pub requests: RequestsPerAction,
}

impl ApplyPace {
    /// A local target (a file): no requests, a negligible time per action.
    pub fn local(system: &str) -> ApplyPace {
        ApplyPace {
            system: system.to_owned(),
            concurrency: 1,
            rate_limit: 0,
            request_ms: 0,
            requests: RequestsPerAction::ONE_EACH,
        }
    }
}

/// The estimate for one plan on one target.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplyEstimate {
    /// Requests the apply sends.
    pub requests: u64,
    /// Estimated time, in seconds (rounded up).
    pub seconds: u64,
    /// The pace it assumes.
    pub pace: ApplyPace,
}

impl ApplyEstimate {
    /// Whether it fits a job of `timeout_minutes`, with a fifth of the job left for the
    /// checkout, the install, the plan and the records.
    pub fn fits(&self, timeout_minutes: u32) -> bool {
        self.seconds * 5 <= u64::from(timeout_minutes) * 60 * 4
    }
}

/// Estimates how long applying `plan` takes at `pace`.
pub fn estimate(plan: &Plan, pace: &ApplyPace) -> ApplyEstimate {
    let mut kinds: BTreeMap<ActionKind, u64> = BTreeMap::new();
    for action in &plan.actions {
        *kinds.entry(action.kind()).or_default() += 1;
    }
    estimate_counts(&kinds, pace)
}

/// Estimates how long applying `counts` actions of each kind takes at `pace`.
pub fn estimate_counts(counts: &BTreeMap<ActionKind, u64>, pace: &ApplyPace) -> ApplyEstimate {
    let mut phases: BTreeMap<u8, u64> = BTreeMap::new();
    for (kind, n) in counts {
        *phases.entry(kind.phase()).or_default() += n * u64::from(pace.requests.of(*kind));
    }
    let concurrency = u64::from(pace.concurrency.max(1));
    let mut millis: u64 = 0;
    for requests in phases.values() {
        let by_latency = requests.div_ceil(concurrency) * u64::from(pace.request_ms);
        let by_rate = if pace.rate_limit > 0 {
            (requests * 1000).div_ceil(u64::from(pace.rate_limit))
        } else {
            0
        };
        millis += by_latency.max(by_rate);
    }
    ApplyEstimate {
        requests: phases.values().sum(),
        seconds: millis.div_ceil(1000),
        pace: pace.clone(),
    }
}

/// `under a minute`, `about 12 min`, `about 2 h 5 min`.
pub fn duration_words(seconds: u64) -> String {
    let minutes = seconds.div_ceil(60);
    if seconds < 60 {
        "under a minute".to_owned()
    } else if minutes < 60 {
        format!("about {minutes} min")
    } else if minutes.is_multiple_of(60) {
        format!("about {} h", minutes / 60)
    } else {
        format!("about {} h {} min", minutes / 60, minutes % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(kinds: &[(ActionKind, u64)]) -> BTreeMap<ActionKind, u64> {
        kinds.iter().copied().collect()
    }

    fn scim(rate_limit: u32) -> ApplyPace {
        ApplyPace {
            system: "the SCIM server".to_owned(),
            concurrency: 4,
            rate_limit,
            request_ms: 250,
            requests: RequestsPerAction {
                invite: 3,
                ..RequestsPerAction::ONE_EACH
            },
        }
    }

    #[test]
    fn the_rate_limit_or_the_concurrency_bounds_each_phase() {
        let c = counts(&[(ActionKind::Invite, 20_000)]);
        // 60,000 requests, 4 at a time at 250 ms: 3,750 s.
        let free = estimate_counts(&c, &scim(0));
        assert_eq!(free.requests, 60_000);
        assert_eq!(free.seconds, 3_750);
        // At 10 requests/s: 6,000 s.
        let limited = estimate_counts(&c, &scim(10));
        assert_eq!(limited.seconds, 6_000);
        assert_eq!(duration_words(limited.seconds), "about 1 h 40 min");
        assert!(!limited.fits(30) && !limited.fits(120) && limited.fits(360));
        assert!(estimate_counts(&counts(&[]), &scim(10)).fits(1));
    }

    #[test]
    fn phases_add_up() {
        let c = counts(&[(ActionKind::Invite, 3), (ActionKind::Remove, 1)]);
        // Invites: 9 requests, ⌈9/4⌉ × 250 ms = 750 ms; the removal 250 ms: 1 s in all.
        assert_eq!(estimate_counts(&c, &scim(0)).seconds, 1);
        assert_eq!(
            estimate_counts(&c, &ApplyPace::local("the target file")).seconds,
            0
        );
        assert_eq!(duration_words(0), "under a minute");
        assert_eq!(duration_words(61), "about 2 min");
        assert_eq!(duration_words(7_200), "about 2 h");
    }
}
