//! Safety: limits that make a plan unsafe to apply without an explicit override, and the guard
//! against a source that returns nobody.

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
