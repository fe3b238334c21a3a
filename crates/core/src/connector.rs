//! What a connector is, seen from the core: a [`Source`] (read side) and a [`Target`] (read side
//! and write side), the [`ApplyContext`] an apply hands to a target, and the one
//! [`ConnectorError`] they report. The connectors crate implements these against the systems;
//! tests implement them in memory. A dry run simply never calls the write side.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::civil::Date;

pub use crate::capabilities::{Removal, TargetCapabilities, WritableFields};
use crate::model::{SourceSnapshot, TargetSnapshot};
use crate::vocabulary::{Action, ActionKind, GroupRef};

/// A connector failure, by what a caller can do about it. Every message is ready to show: it
/// names the system (and the request), and a vendor's own words in it were already scrubbed of
/// every secret. `Display` is the message.
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
    /// The system's answers cannot be read as a whole: a page cut short, a total that does not
    /// match, rows that tie across pages, an answer that is not what the API documents. Reading
    /// again may help; planning on them would plan on a partial or wrong listing.
    #[error("{0}")]
    Listing(String),
    /// What the connector was given cannot work: a secret missing from the environment, a key
    /// that is not one, a value a header cannot carry.
    #[error("{0}")]
    Config(String),
    /// The system refused the credential (401, or a token grant it turned down).
    #[error("{0}")]
    Auth(String),
    /// The credential is not allowed to do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// Not there (404).
    #[error("{0}")]
    NotFound(String),
    /// The system kept throttling (429, or its own "over quota" answer) past the retries.
    #[error("{0}")]
    Throttled(String),
    /// Any other answer that is not a success, after the retries.
    #[error("{message}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// What happened.
        message: String,
    },
    /// No answer: a connection refused or reset, a body cut off, a timeout.
    #[error("{message}")]
    Transport {
        /// What happened.
        message: String,
        /// The request timed out: the system may still be working on it.
        timed_out: bool,
    },
    /// Another apply holds the lock.
    #[error("{0}")]
    Locked(String),
    /// One action could not be executed: the target's own reason.
    #[error("{0}")]
    Action(String),
    /// A create that may or may not have happened: no answer came, and what it creates did not
    /// show up within the documented lookup window. It is not sent again in this run; the next
    /// plan finds it, or plans it again.
    #[error("{0}")]
    Unconfirmed(String),
    /// The action was not started: the apply was interrupted first.
    #[error("not attempted: the apply was interrupted")]
    Interrupted,
}

impl ConnectorError {
    /// What kind of failure this is, as a code for records and reports: never the message (it
    /// may quote what a vendor sent back).
    pub fn class(&self) -> &'static str {
        match self {
            ConnectorError::File { .. } => "file",
            ConnectorError::Data { .. } => "data",
            ConnectorError::Listing(_) => "listing",
            ConnectorError::Config(_) => "config",
            ConnectorError::Auth(_) => "auth",
            ConnectorError::Forbidden(_) => "forbidden",
            ConnectorError::NotFound(_) => "not_found",
            ConnectorError::Throttled(_) => "throttled",
            ConnectorError::Status { .. } => "status",
            ConnectorError::Transport {
                timed_out: true, ..
            } => "timeout",
            ConnectorError::Transport { .. } => "transport",
            ConnectorError::Locked(_) => "locked",
            ConnectorError::Action(_) => "action",
            ConnectorError::Unconfirmed(_) => "unconfirmed",
            ConnectorError::Interrupted => "interrupted",
        }
    }

    /// The HTTP status the system answered with, when it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ConnectorError::Auth(_) => Some(401),
            ConnectorError::Forbidden(_) => Some(403),
            ConnectorError::NotFound(_) => Some(404),
            ConnectorError::Throttled(_) => Some(429),
            ConnectorError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// The read side of a source system.
pub trait Source {
    /// Reads everything. A fetch that fails part-way is an error, never a partial snapshot.
    fn fetch(&mut self) -> Result<SourceSnapshot, ConnectorError>;

    /// Which of `ids` — people the listing did not hold, whose accounts a plan would remove —
    /// the source has when asked for each one directly (AFAS: the GetConnector filtered on the
    /// identifier; Google: the user). A listing cut the same way on every read would otherwise
    /// remove someone. The default: the listing is the source (a file), so none.
    fn lookup(&mut self, ids: &[String]) -> Result<Vec<String>, ConnectorError> {
        let _ = ids;
        Ok(Vec::new())
    }

    /// A reader of one person's part of the source, for `explain` ([`crate::focus`]): it finds
    /// the people a few identifiers and addresses link without reading everyone (a file export
    /// skimmed for them). `None`, the default: `explain` reads everything and looks there.
    fn part(&mut self) -> Result<Option<Box<dyn crate::focus::SourcePart>>, ConnectorError> {
        Ok(None)
    }
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

/// One action of an apply, finished: what [`ActionProgress`] hands its sink.
#[derive(Debug, Clone, Copy)]
pub struct Finished<'a> {
    /// The action's kind.
    pub kind: ActionKind,
    /// Its subject (a source identifier).
    pub subject: &'a str,
    /// Why it failed (a sentence for people); `None` when it was done.
    pub error: Option<&'a str>,
    /// A create that may have happened ([`ConnectorError::Unconfirmed`]).
    pub unconfirmed: bool,
    /// How long it took, when the target timed it.
    pub elapsed: Option<Duration>,
}

type Sink = dyn Fn(Finished<'_>) + Send + Sync;

/// Tells the caller of an apply about each action as it finishes — a line per action in a CI
/// log, a progress bar on a terminal — so that a job killed half-way shows what was done.
/// Cheap to clone; the default tells nobody.
///
/// A target reports with [`ActionProgress::finished`] (the default [`Target::execute_batch`]
/// does); the apply runner reports, once the batch is over, every action the target did not, and
/// an action whose result changed afterwards (a membership written later failed).
#[derive(Clone, Default)]
pub struct ActionProgress(Option<Arc<ProgressInner>>);

struct ProgressInner {
    sink: Box<Sink>,
    /// The running batch: each action's kind and subject, and what was reported for it
    /// (`Some(true)`: done).
    batch: Mutex<Vec<(ActionKind, String, Option<bool>)>>,
}

impl std::fmt::Debug for ActionProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ActionProgress")
            .field(&self.0.is_some())
            .finish()
    }
}

impl ActionProgress {
    /// Reports every finished action to `sink` (called from any thread, one action at a time
    /// or concurrently: the sink serialises its output).
    pub fn new(sink: impl Fn(Finished<'_>) + Send + Sync + 'static) -> ActionProgress {
        ActionProgress(Some(Arc::new(ProgressInner {
            sink: Box::new(sink),
            batch: Mutex::new(Vec::new()),
        })))
    }

    /// For targets: action `i` of the batch handed to [`Target::execute_batch`] finished with
    /// `result`, `started` when it was sent. An action that never started (interrupted) is not
    /// reported.
    pub fn finished(&self, i: usize, result: Result<(), &ConnectorError>, started: Instant) {
        let Some(inner) = &self.0 else { return };
        if matches!(result, Err(ConnectorError::Interrupted)) {
            return;
        }
        let (kind, subject) = {
            let mut batch = inner.batch.lock().unwrap_or_else(|e| e.into_inner());
            let Some(entry) = batch.get_mut(i) else {
                return;
            };
            entry.2 = Some(result.is_ok());
            (entry.0, entry.1.clone())
        };
        let error = result.err().map(ToString::to_string);
        (inner.sink)(Finished {
            kind,
            subject: &subject,
            error: error.as_deref(),
            unconfirmed: matches!(result, Err(ConnectorError::Unconfirmed(_))),
            elapsed: Some(started.elapsed()),
        });
    }

    /// For the runner: a batch of `actions` starts.
    pub(crate) fn start_batch(&self, actions: &[&Action]) {
        if let Some(inner) = &self.0 {
            *inner.batch.lock().unwrap_or_else(|e| e.into_inner()) = actions
                .iter()
                .map(|a| (a.kind(), a.subject.clone(), None))
                .collect();
        }
    }

    /// For the runner: the final result of an action — `i`, its place in the batch, when it
    /// was handed to the target. Reported unless the target already reported the same.
    pub(crate) fn settle(&self, i: Option<usize>, outcome: Finished<'_>) {
        let Some(inner) = &self.0 else { return };
        let reported = i.and_then(|i| {
            inner
                .batch
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(i)
                .and_then(|e| e.2)
        });
        if reported != Some(outcome.error.is_none()) {
            (inner.sink)(outcome);
        }
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
    /// Where each finished action is reported as it finishes ([`ActionProgress::finished`]).
    pub progress: ActionProgress,
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

    /// How fast the target takes an apply (requests per action kind, in flight at once, per
    /// second), for the estimate of an apply's duration; `None` when unknown (no estimate).
    fn pace(&self) -> Option<crate::estimate::ApplyPace> {
        None
    }

    /// Reads everything.
    fn fetch(&mut self) -> Result<TargetSnapshot, ConnectorError>;

    /// A reader of one person's part of the target, for `explain` (see [`Source::part`]);
    /// `None`, the default: everything is read.
    fn part(&mut self) -> Result<Option<Box<dyn crate::focus::TargetPart>>, ConnectorError> {
        Ok(None)
    }

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
    /// ones did is still written. After a [`ConnectorError::Forbidden`] (a 403 on a write: the
    /// credential may not write, and the next write would be refused too) no further action
    /// starts either: those get [`ConnectorError::Interrupted`] as well.
    fn execute_batch(
        &mut self,
        actions: &[&Action],
        ctx: &mut ApplyContext,
    ) -> Vec<Result<(), ConnectorError>> {
        let mut forbidden = false;
        actions
            .iter()
            .enumerate()
            .map(|(i, a)| {
                if forbidden || ctx.interrupt.is_set() {
                    return Err(ConnectorError::Interrupted);
                }
                let started = Instant::now();
                let r = self.execute(a, ctx);
                ctx.progress.finished(i, r.as_ref().map(|_| ()), started);
                forbidden = matches!(r, Err(ConnectorError::Forbidden(_)));
                r
            })
            .collect()
    }

    /// Ends an apply: persists what `execute` did and releases the lock.
    fn finish_apply(&mut self) -> Result<(), ConnectorError>;
}
