//! What every connector is opened with: the one async runtime the pipeline owns, where secrets
//! come from, and whether progress bars are drawn. A connector that talks HTTP needs nothing else
//! from the outside; its client ([`crate::http::HttpClient`]) brings timeouts, retries with
//! backoff and `Retry-After`, rate limits, concurrency bounds, typed errors and progress, so a new
//! connector is its wire format and little more.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use crate::ConnectorError;

/// A secret's value by the name of the environment variable that holds it.
pub type Lookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// What the pipeline hands every connector it opens. Cheap to clone.
#[derive(Clone)]
pub struct Kit {
    /// Started by the first connector that asks for it: a run of file connectors (`explain`
    /// of an export) starts no threads for it, nor waits for them at its end.
    runtime: Arc<Mutex<Option<Arc<tokio::runtime::Runtime>>>>,
    lookup: Lookup,
    progress: bool,
}

impl std::fmt::Debug for Kit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kit")
            .field("progress", &self.progress)
            .finish_non_exhaustive()
    }
}

impl Kit {
    /// A kit with its own runtime: secrets from `lookup`, progress bars when `progress`.
    ///
    /// One runtime serves every connector of a run: a multi-threaded one, so that the source
    /// and the target, read at the same time from two threads, each make progress (a
    /// current-thread runtime lets only one thread drive its I/O at a time).
    pub fn new(
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
        progress: bool,
    ) -> Result<Kit, ConnectorError> {
        Ok(Kit {
            runtime: Arc::default(),
            lookup: Arc::new(lookup),
            progress,
        })
    }

    /// The environment's value of variable `name`.
    pub fn lookup(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
    }

    /// The lookup itself, for a secret's `resolve`.
    pub fn secrets(&self) -> impl Fn(&str) -> Option<String> + '_ {
        move |name| self.lookup(name)
    }

    /// Whether to draw progress bars (on a terminal).
    pub fn progress(&self) -> bool {
        self.progress
    }

    /// The runtime, for a connector to keep: started by the first that asks.
    pub fn runtime(&self) -> Result<Arc<tokio::runtime::Runtime>, ConnectorError> {
        let mut runtime = self.runtime.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(runtime) = &*runtime {
            return Ok(Arc::clone(runtime));
        }
        let started = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("orgsync-io")
            .build()
            .map_err(|e| ConnectorError::Config(format!("cannot start the HTTP runtime: {e}")))?;
        let started = Arc::new(started);
        *runtime = Some(Arc::clone(&started));
        Ok(started)
    }

    /// Runs `future` to completion on the kit's runtime, from synchronous code.
    pub fn block_on<F: Future>(&self, future: F) -> Result<F::Output, ConnectorError> {
        Ok(self.runtime()?.block_on(future))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kit_starts_its_runtime_for_the_first_connector_that_asks_and_shares_it() {
        let kit = Kit::new(|_| None, false).unwrap();
        assert!(
            kit.runtime.lock().unwrap().is_none(),
            "no runtime before it is asked for"
        );
        let first = kit.runtime().unwrap();
        let clone = kit.clone();
        let again = clone.runtime().unwrap();
        assert!(
            Arc::ptr_eq(&first, &again),
            "one runtime for the kit and its clones"
        );
        assert_eq!(kit.block_on(async { 7 }).unwrap(), 7);
    }
}
