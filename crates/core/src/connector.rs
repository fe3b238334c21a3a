//! What a connector is, seen from the core: a [`Source`] (read side) and a [`Target`] (read side
//! and write side), the [`ApplyContext`] an apply hands to a target, and the one
//! [`ConnectorError`] they report. The connectors crate implements these against the systems;
//! tests implement them in memory. A dry run simply never calls the write side.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use jiff::civil::Date;

pub use crate::capabilities::{Removal, TargetCapabilities, WritableFields};
use crate::model::{SourceSnapshot, TargetSnapshot};
use crate::vocabulary::{Action, GroupRef};

/// A connector failure. The message never contains secrets.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// Reading or writing a local file failed.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The data read is not what the connector expects.
    #[error("{path}:{line}: {message}")]
    Data {
        /// The file or endpoint.
        path: String,
        /// Line or row number (1-based; 0 when unknown).
        line: usize,
        /// What went wrong.
        message: String,
    },
    /// Another apply holds the lock.
    #[error("{0}")]
    Locked(String),
    /// One action could not be executed.
    #[error("{0}")]
    Action(String),
    /// An API call failed (after its retries). Never holds a credential.
    #[error("{0}")]
    Http(String),
    /// The action was not started: the apply was interrupted first.
    #[error("not attempted: the apply was interrupted")]
    Interrupted,
}

/// The read side of a source system.
pub trait Source {
    /// Reads everything. A fetch that fails part-way is an error, never a partial snapshot.
    fn fetch(&mut self) -> Result<SourceSnapshot, ConnectorError>;
}

/// Set when the apply is asked to stop (SIGINT, SIGTERM): a target starts no new action,
/// finishes those in flight and writes what was done (memberships included), so that the next
/// plan holds only what was not done.
#[derive(Debug, Clone, Default)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    /// A flag nobody has set yet.
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    /// The flag itself, for a signal handler to set.
    pub fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.0)
    }

    /// Asks the apply to stop.
    pub fn set(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// True once the apply was asked to stop.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// State shared by the actions of one apply.
#[derive(Debug, Clone)]
pub struct ApplyContext {
    /// "Today", for `removed_at`.
    pub today: Date,
    /// Set when the apply is to stop: start no new action.
    pub interrupt: Interrupt,
    /// Ids of groups created during this apply: placeholder (`new:<kind>:<key>`) → target id.
    /// Targets fill it with [`ApplyContext::record_created`]; the apply runner reads it to replace
    /// placeholders before an action reaches a target.
    pub created: HashMap<String, String>,
    /// Accounts this apply created or took over, for a target that keeps no ownership marker of
    /// its own (Revolut): subject (source identifier) → target id. The apply runner records them in
    /// the outcomes, and so in the apply record (git notes), where the next plan reads them back.
    pub accounts: HashMap<String, String>,
}

impl ApplyContext {
    /// Records that this apply made account `id` (a target id) the managed account of
    /// `subject`.
    pub fn record_account(&mut self, subject: &str, id: String) {
        self.accounts.insert(subject.to_owned(), id);
    }

    /// Records that `create` (a `create_*` action) made the group with target id `id`.
    pub fn record_created(&mut self, create: &Action, id: String) {
        self.created
            .insert(GroupRef::placeholder(create.kind(), &create.subject), id);
    }
}

/// A target system: read side and write side.
pub trait Target {
    /// What this target can do through its API. The engine plans only that; the rest becomes
    /// manual steps in the plan. Declared, not discovered: it must not depend on the network.
    fn capabilities(&self) -> TargetCapabilities;

    /// Reads everything.
    fn fetch(&mut self) -> Result<TargetSnapshot, ConnectorError>;

    /// Starts an apply: takes whatever lock the target has and returns the current state, which
    /// apply compares with the plan's target digest.
    fn begin_apply(&mut self) -> Result<TargetSnapshot, ConnectorError>;

    /// Executes one action. Must be idempotent: after a crash, running the same plan again
    /// converges and never invites anyone twice.
    fn execute(&mut self, action: &Action, ctx: &mut ApplyContext) -> Result<(), ConnectorError>;

    /// Executes actions of one apply phase ([`crate::vocabulary::ActionKind::phase`]), returning one
    /// result per action in the same order. Within a phase no action depends on another (a
    /// `new:` group is created in an earlier phase), so a target may run them concurrently; the
    /// default runs them one by one with [`Target::execute`]. Once `ctx.interrupt` is set, no
    /// further action starts: those get [`ConnectorError::Interrupted`], and what the started
    /// ones did is still written.
    fn execute_batch(
        &mut self,
        actions: &[&Action],
        ctx: &mut ApplyContext,
    ) -> Vec<Result<(), ConnectorError>> {
        actions
            .iter()
            .map(|a| {
                if ctx.interrupt.is_set() {
                    Err(ConnectorError::Interrupted)
                } else {
                    self.execute(a, ctx)
                }
            })
            .collect()
    }

    /// Ends an apply: persists what `execute` did and releases the lock.
    fn finish_apply(&mut self) -> Result<(), ConnectorError>;
}
