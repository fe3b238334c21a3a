//! Safety: limits that make a plan unsafe to apply without an explicit override, and the guards
//! against a source that returns nobody and a target that lists far fewer accounts than
//! orgsync's own apply records say it manages.

use super::{Diagnostic, DiagnosticKind, Safety, Severity, Violation};
use crate::config::Config;

/// Managed accounts from which the percentage limit applies: below this a single removal is
/// already a large percentage.
pub const PERCENT_FROM_MANAGED: usize = 10;

/// The empty-source guard: a source that returns no people while managed accounts exist is far
/// more likely broken (an expired token, an empty export) than empty. The engine then plans no
/// removals at all and this error keeps the plan from being applied.
pub fn empty_source(config: &Config, persons: usize, managed_active: usize) -> Option<Diagnostic> {
    (persons == 0 && managed_active > 0).then(|| Diagnostic {
        kind: DiagnosticKind::Safety,
        severity: Severity::Error,
        message: format!(
            "the source returned no people while the target has {managed_active} managed accounts: refusing to plan their removal"
        ),
        subject: None,
        count: managed_active,
        hint: Some("check the source connection and its export; orgsync never removes everyone".to_owned()),
        location: config.locations.get("/source"),
    })
}

/// What orgsync's apply records (git notes) say about the target, read by the pipeline: the
/// engine itself does no I/O.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedTarget {
    /// Managed accounts the target held after the newest recorded apply — or, for records
    /// written before orgsync counted them, the accounts the recorded applies invited.
    pub managed: usize,
    /// `managed` is a count after an apply (not a lower bound from older records).
    pub counted: bool,
    /// Which record, for the message: "the apply of 2026-11-22T02:00:14Z (commit abc1234)".
    pub record: String,
}

/// Below this share of the recorded managed accounts (in percent), a target listing is taken
/// for an incomplete one.
pub const LISTED_TARGET_MIN_PERCENT: usize = 50;

/// The target guard: a listing with far fewer managed accounts than the newest apply record
/// left — fewer than half, or none while records exist — is far more likely broken (a wrong
/// workspace path, a token for another tenant, a server that lists nobody) than true. Planned
/// on, it would invite everyone again and create every group twice. An error: the plan is not
/// saved or applied.
pub fn listed_target(
    config: &Config,
    listed_managed: usize,
    recorded: Option<&RecordedTarget>,
) -> Option<Diagnostic> {
    let recorded = recorded.filter(|r| r.managed > 0)?;
    let too_few = listed_managed == 0
        || (recorded.counted
            && listed_managed * 100 < recorded.managed * LISTED_TARGET_MIN_PERCENT);
    too_few.then(|| Diagnostic {
        kind: DiagnosticKind::Safety,
        severity: Severity::Error,
        message: format!(
            "the target lists {listed_managed} managed accounts, but {} left {}{}: the listing is probably incomplete, so nothing is planned on it",
            recorded.record,
            recorded.managed,
            if recorded.counted { "" } else { " or more" },
        ),
        subject: None,
        count: recorded.managed - listed_managed.min(recorded.managed),
        hint: Some(format!(
            "check the target connection (its URL or path, the token's tenant) and that nobody emptied it: orgsync refuses a listing with fewer than {LISTED_TARGET_MIN_PERCENT}% of the managed accounts its newest apply record names (`orgsync history`)"
        )),
        location: config.locations.get("/target"),
    })
}

/// Checks the number of `remove` actions against `safety.max_removals`. `managed_active` is the
/// number of managed active accounts in the target. Over a limit the plan is unsafe: apply
/// refuses it unless overridden. The plan itself is still produced, with a warning.
pub fn check_removals(
    config: &Config,
    removals: usize,
    managed_active: usize,
) -> (Safety, Vec<Diagnostic>) {
    let (percent, count) = config.safety.max_removals.limits();
    let mut violations = Vec::new();
    let actual = removals as u64;
    if let Some(limit) = count
        && actual > limit
    {
        violations.push(Violation {
            rule: "max_removals".to_owned(),
            message: format!(
                "the plan removes {removals} accounts; safety.max_removals allows {limit}"
            ),
            limit,
            actual,
        });
    }
    if let Some(pct) = percent
        && managed_active >= PERCENT_FROM_MANAGED
        && (removals as f64) * 100.0 > pct * managed_active as f64
    {
        let share = removals as f64 * 100.0 / managed_active as f64;
        violations.push(Violation {
            rule: "max_removals_percent".to_owned(),
            message: format!(
                "the plan removes {removals} of {managed_active} managed accounts ({share:.0}%); safety.max_removals allows {pct}%"
            ),
            limit: (pct * managed_active as f64 / 100.0).floor() as u64,
            actual,
        });
    }
    let diagnostics = violations
        .iter()
        .map(|v| {
            Diagnostic {
            kind: DiagnosticKind::Safety,
            severity: Severity::Warning,
            message: format!("unsafe plan: {}", v.message),
            subject: Some(v.rule.clone()),
            count: removals,
            hint: Some(
                "review the removals; apply refuses this plan without --allow-removals N or --force"
                    .to_owned(),
            ),
            location: config.locations.get("/safety/max_removals"),
        }
        })
        .collect();
    (
        Safety {
            safe: violations.is_empty(),
            violations,
        },
        diagnostics,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded(managed: usize, counted: bool) -> RecordedTarget {
        RecordedTarget {
            managed,
            counted,
            record: "the apply of 2026-11-22T02:00:14Z (commit abc1234)".to_owned(),
        }
    }

    /// Regression (issue 11): a target that listed nobody was planned on like any other, as
    /// if orgsync had never made the accounts its records name.
    #[test]
    fn a_target_listing_far_below_the_records_is_an_error() {
        let c = crate::scope::testing::config();
        let r = recorded(40, true);
        let d = listed_target(&c, 0, Some(&r)).unwrap();
        assert_eq!((d.severity, d.count), (Severity::Error, 40));
        assert_eq!(
            d.message,
            "the target lists 0 managed accounts, but the apply of 2026-11-22T02:00:14Z (commit \
             abc1234) left 40: the listing is probably incomplete, so nothing is planned on it"
        );
        assert!(listed_target(&c, 19, Some(&r)).is_some());
        assert!(listed_target(&c, 20, Some(&r)).is_none());
        assert!(listed_target(&c, 45, Some(&r)).is_none());
        // Records from before the count: only an empty listing is refused.
        let old = recorded(40, false);
        assert!(listed_target(&c, 0, Some(&old)).is_some());
        assert!(listed_target(&c, 3, Some(&old)).is_none());
        // No record (a first sync), or a record of nothing managed.
        assert!(listed_target(&c, 0, None).is_none());
        assert!(listed_target(&c, 0, Some(&recorded(0, true))).is_none());
    }
}
