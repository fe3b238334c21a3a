//! The plan engine. (Being written.)

use jiff::civil::Date;

use super::{Digests, Plan};
use crate::config::Config;
use crate::model::{SourceSnapshot, TargetSnapshot};

/// Everything the engine needs. No I/O happens in [`build`].
#[derive(Debug, Clone)]
pub struct PlanInput<'a> {
    /// The merged configuration.
    pub config: &'a Config,
    /// What the source holds.
    pub source: &'a SourceSnapshot,
    /// What the target holds.
    pub target: &'a TargetSnapshot,
    /// "Today" in the configured time zone (`--at`).
    pub today: Date,
    /// RFC 3339 creation time to record.
    pub created_at: String,
    /// Digests of the inputs to record.
    pub digests: Digests,
}

/// Builds the plan. Problems that forbid a plan (an `error` policy, an empty source) are
/// diagnostics of severity error: the caller renders them and refuses to write or apply.
pub fn build(input: PlanInput<'_>) -> Plan {
    let _ = input;
    unimplemented_placeholder()
}

fn unimplemented_placeholder() -> Plan {
    panic!("plan engine not written yet")
}
