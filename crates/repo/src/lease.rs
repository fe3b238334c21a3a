//! One apply per target at a time, across machines: the apply lease.
//!
//! The lease is a ref on the configuration repository's remote,
//! `refs/orgsync/leases/<key of the target>`, pointing at a commit whose message says who holds
//! it and until when ([`LeaseInfo`]). Taking it is a compare-and-swap the remote itself checks
//! under its ref lock (`git push --force-with-lease=<ref>:<what was read>`): of two clones, two
//! runners, or a laptop and CI, exactly one gets it. The holder renews it while it applies; a
//! holder that was killed stops renewing, and its lease expires. A holder on this host whose
//! process is gone is seen as gone at once, so that the next apply after a `kill -9` does not
//! wait for the expiry.
//!
//! Why the remote and not a marker in the target: every target would need one (SCIM, Revolut and
//! AFAS have nowhere neutral to put it, and a marker a target shows its users is a fake account
//! or group), while every clone and runner that applies already shares the remote and already
//! pushes the apply records there. Without a remote (or with `--local-lease`), the lease is a
//! lock file in the repository's git directory, held by the operating system: it covers this
//! clone only.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::ConfigRepo;
use crate::remote::{Pushed, Remote, RemoteError};

/// How long a lease lasts without renewal: a holder killed without a trace on another machine
/// blocks applies to its target this long at most.
pub const DEFAULT_TTL: Duration = Duration::from_secs(120);

/// Who holds a lease, and until when. The body of the lease commit, as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseInfo {
    /// The target (`scim:https://…`).
    pub target: String,
    /// Who applies: `GITHUB_ACTOR` or the git user.
    pub holder: String,
    /// The host the apply runs on.
    pub host: String,
    /// Its process id there.
    pub pid: u32,
    /// When it was taken (RFC 3339).
    pub acquired: String,
    /// When it lapses unless renewed (RFC 3339).
    pub expires: String,
    /// A random number: two takers on hosts of one name, with one pid, holder and second (two
    /// CI containers) would otherwise write the same commit, and git reports pushing a ref's
    /// own value "up to date" without checking the expected one — both would hold the lease.
    #[serde(default)]
    pub nonce: u64,
}

impl LeaseInfo {
    fn new(target: &str, holder: &str, acquired: jiff::Timestamp, ttl: Duration) -> LeaseInfo {
        LeaseInfo {
            target: target.to_owned(),
            holder: holder.to_owned(),
            host: hostname(),
            pid: std::process::id(),
            acquired: second(acquired),
            expires: second(after(ttl)),
            nonce: fastrand::u64(..),
        }
    }

    /// True when the lease has lapsed, or its holder ran on this host and runs no more.
    fn free(&self, now: jiff::Timestamp) -> bool {
        let lapsed = self
            .expires
            .parse::<jiff::Timestamp>()
            .is_ok_and(|expires| expires <= now);
        let gone = self.host == hostname() && self.pid != std::process::id() && !alive(self.pid);
        lapsed || gone
    }
}

/// Why a lease could not be taken (or was lost).
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// Another apply holds it.
    #[error(
        "another apply holds the lease on {}: {} on {} (pid {}) since {}; it lapses at {} unless \
         it is renewed, which it is every {} s while it runs{}",
        .info.target, .info.holder, .info.host, .info.pid, .info.acquired, .info.expires,
        .renew_secs,
        if .waited.is_zero() { String::new() } else { format!(" (waited {} s)", .waited.as_secs()) }
    )]
    Held {
        /// The holder.
        info: Box<LeaseInfo>,
        /// How long this apply waited for it.
        waited: Duration,
        /// How often a holder renews it.
        renew_secs: u64,
    },
    /// The lease ref holds something that is not an orgsync lease.
    #[error(
        "{refname} on `{remote}` is not an orgsync lease: remove it (git push {remote} :{refname}) \
         if nothing else uses it"
    )]
    Foreign {
        /// The remote.
        remote: String,
        /// The ref.
        refname: String,
    },
    /// The remote could not be reached or written.
    #[error(transparent)]
    Remote(#[from] RemoteError),
    /// The repository.
    #[error(transparent)]
    Git(#[from] crate::GitError),
    /// The lock file.
    #[error("cannot use the lock file {}: {source}", .path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// Where the lease is kept.
#[derive(Debug, Clone)]
pub enum Place {
    /// On the configuration repository's remote: seen by every clone.
    Remote(Remote),
    /// A lock file: seen by this host only.
    Local(PathBuf),
}

/// How to take a lease.
#[derive(Debug, Clone)]
pub struct LeaseOptions {
    /// Who applies.
    pub holder: String,
    /// How long the lease lasts without renewal ([`DEFAULT_TTL`]).
    pub ttl: Duration,
    /// How long to wait for another holder to finish before giving up; zero: give up at once.
    pub wait: Duration,
}

/// A lease taken: held until [`Lease::release`] or drop, renewed meanwhile on a thread of its own.
pub struct Lease {
    state: Arc<State>,
    renewer: Option<std::thread::JoinHandle<()>>,
}

struct State {
    place: Held,
    info: Mutex<LeaseInfo>,
    stop: AtomicBool,
    lost: AtomicBool,
    ttl: Duration,
}

enum Held {
    Remote {
        remote: Remote,
        repo: Arc<ConfigRepo>,
        refname: String,
        /// The lease commit the remote's ref points at: ours, as last pushed.
        own: Mutex<String>,
    },
    Local {
        _file: File,
        path: PathBuf,
    },
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("at", &self.location())
            .finish()
    }
}

/// The remote ref of `target`'s lease: a short key of the target, so that any URL makes a valid
/// ref name.
pub fn refname(target: &str) -> String {
    let key = git2::Oid::hash_object(git2::ObjectType::Blob, target.as_bytes())
        .map(|o| o.to_string()[..16].to_owned())
        .unwrap_or_else(|_| "target".to_owned());
    format!("refs/orgsync/leases/{key}")
}

/// The lock file of `target`'s lease in `dir`.
pub fn lock_file(dir: &Path, target: &str) -> PathBuf {
    let name = refname(target);
    let key = name.rsplit('/').next().unwrap_or("target");
    dir.join(format!("{key}.lock"))
}

impl Lease {
    /// Takes the lease on `target` at `place`, waiting up to `options.wait` for a holder to
    /// finish. `on_lost` runs (once, on the renewal thread) when the lease is lost while held:
    /// another apply took it after it lapsed (this one could not renew it in time).
    pub fn take(
        repo: Option<Arc<ConfigRepo>>,
        place: Place,
        target: &str,
        options: &LeaseOptions,
        on_lost: impl Fn() + Send + 'static,
    ) -> Result<Lease, LeaseError> {
        let held = match (place, repo) {
            (Place::Remote(remote), Some(repo)) => take_remote(remote, repo, target, options)?,
            (Place::Remote(_), None) => unreachable!("a remote belongs to a repository"),
            (Place::Local(path), _) => take_local(path, target, options)?,
        };
        let (place, info) = held;
        let state = Arc::new(State {
            place,
            info: Mutex::new(info),
            stop: AtomicBool::new(false),
            lost: AtomicBool::new(false),
            ttl: options.ttl,
        });
        let renewer = matches!(state.place, Held::Remote { .. }).then(|| {
            let state = Arc::clone(&state);
            std::thread::spawn(move || renew(&state, &on_lost))
        });
        Ok(Lease { state, renewer })
    }

    /// Where the lease is: `origin refs/orgsync/leases/…` or the lock file.
    pub fn location(&self) -> String {
        match &self.state.place {
            Held::Remote {
                remote, refname, ..
            } => format!("{} {refname}", remote.name()),
            Held::Local { path, .. } => path.display().to_string(),
        }
    }

    /// True when the lease is on the remote (seen by every clone).
    pub fn is_remote(&self) -> bool {
        matches!(self.state.place, Held::Remote { .. })
    }

    /// The lease as last written.
    pub fn info(&self) -> LeaseInfo {
        lock(&self.state.info).clone()
    }

    /// True when the lease was lost while held.
    pub fn lost(&self) -> bool {
        self.state.lost.load(Ordering::SeqCst)
    }

    /// Gives the lease back: the remote ref is deleted if it is still ours.
    pub fn release(mut self) -> Result<(), LeaseError> {
        self.stop_renewing();
        release(&self.state)
    }

    fn stop_renewing(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        if let Some(renewer) = self.renewer.take() {
            let _ = renewer.join();
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.renewer.is_some() {
            self.stop_renewing();
            let _ = release(&self.state);
        }
    }
}

fn release(state: &State) -> Result<(), LeaseError> {
    if let Held::Remote {
        remote,
        refname,
        own,
        ..
    } = &state.place
        && !state.lost.load(Ordering::SeqCst)
    {
        let own = lock(own).clone();
        // Deleted only if it is still ours; a lease someone took after ours lapsed stays theirs.
        remote.push("", refname, Some(&own))?;
    }
    Ok(())
}

type Taken = (Held, LeaseInfo);

fn take_remote(
    remote: Remote,
    repo: Arc<ConfigRepo>,
    target: &str,
    options: &LeaseOptions,
) -> Result<Taken, LeaseError> {
    let refname = refname(target);
    // Where this take reads the remote's lease: its own ref (two takes in one process must not
    // read each other's).
    let seen = format!(
        "refs/orgsync/fetched/lease-{}-{}-{:08x}",
        refname.rsplit('/').next().unwrap_or_default(),
        std::process::id(),
        fastrand::u32(..)
    );
    let start = Instant::now();
    let mut lost_races = 0;
    loop {
        let exists = remote.fetch_ref(&refname, &seen)?;
        let (expect, holder) = if exists {
            let oid = repo.ref_target(&seen)?.unwrap_or_default();
            let message = repo.ref_message(&seen)?.unwrap_or_default();
            repo.delete_ref(&seen)?;
            let Ok(info) = serde_json::from_str::<LeaseInfo>(message.trim()) else {
                return Err(LeaseError::Foreign {
                    remote: remote.name().to_owned(),
                    refname,
                });
            };
            (oid, Some(info))
        } else {
            (String::new(), None)
        };
        if let Some(info) = holder
            && !info.free(jiff::Timestamp::now())
        {
            let waited = start.elapsed();
            if waited >= options.wait {
                return Err(held(info, waited, options.ttl));
            }
            std::thread::sleep(Duration::from_secs(2).min(options.wait - waited));
            continue;
        }
        let info = LeaseInfo::new(target, &options.holder, jiff::Timestamp::now(), options.ttl);
        let oid = repo.loose_commit(&body(&info))?;
        match remote.push(&oid, &refname, Some(&expect))? {
            Pushed::Done => {
                return Ok((
                    Held::Remote {
                        remote,
                        repo,
                        refname,
                        own: Mutex::new(oid),
                    },
                    info,
                ));
            }
            // Another apply got there first: read again who holds it.
            Pushed::Rejected => {
                lost_races += 1;
                if lost_races > 20 {
                    return Err(remote
                        .unreachable("the lease ref kept changing while it was being taken")
                        .into());
                }
            }
        }
    }
}

fn take_local(path: PathBuf, target: &str, options: &LeaseOptions) -> Result<Taken, LeaseError> {
    let io = |source| LeaseError::Io {
        path: path.clone(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(io)?;
    let start = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) => {
                let waited = start.elapsed();
                if waited >= options.wait {
                    let mut text = String::new();
                    let _ = file.read_to_string(&mut text);
                    let info =
                        serde_json::from_str::<LeaseInfo>(text.trim()).unwrap_or_else(|_| {
                            LeaseInfo {
                                target: target.to_owned(),
                                holder: "another apply".to_owned(),
                                host: hostname(),
                                pid: 0,
                                acquired: "unknown".to_owned(),
                                expires: "its end".to_owned(),
                                nonce: 0,
                            }
                        });
                    return Err(held(info, waited, options.ttl));
                }
                std::thread::sleep(Duration::from_millis(200).min(options.wait - waited));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
    }
    // The lock is the operating system's and ends with the process: the text only says who.
    let info = LeaseInfo {
        expires: "the end of the apply".to_owned(),
        ..LeaseInfo::new(target, &options.holder, jiff::Timestamp::now(), options.ttl)
    };
    file.set_len(0).map_err(io)?;
    file.rewind().map_err(io)?;
    file.write_all(body(&info).as_bytes()).map_err(io)?;
    Ok((Held::Local { _file: file, path }, info))
}

/// Renews the lease every quarter of its lifetime until stopped; marks it lost (and calls
/// `on_lost`) when the remote says another apply holds it, or when it lapsed before a renewal
/// got through.
fn renew(state: &State, on_lost: &dyn Fn()) {
    let Held::Remote {
        remote,
        repo,
        refname,
        own,
    } = &state.place
    else {
        return;
    };
    let every = state.ttl / 4;
    let mut last = Instant::now();
    while !state.stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(100));
        if last.elapsed() < every {
            continue;
        }
        let info = LeaseInfo {
            expires: second(after(state.ttl)),
            ..lock(&state.info).clone()
        };
        let expect = lock(own).clone();
        let renewed = repo
            .loose_commit(&body(&info))
            .map_err(RemoteError::from)
            .and_then(|oid| Ok((remote.push(&oid, refname, Some(&expect))?, oid)));
        match renewed {
            Ok((Pushed::Done, oid)) => {
                *lock(own) = oid;
                *lock(&state.info) = info;
                last = Instant::now();
            }
            Ok((Pushed::Rejected, _)) => {
                state.lost.store(true, Ordering::SeqCst);
                on_lost();
                return;
            }
            Err(_) => {
                // The remote did not answer: try again soon, until the lease lapses.
                let expires = lock(&state.info).expires.parse::<jiff::Timestamp>();
                if expires.is_ok_and(|e| e <= jiff::Timestamp::now()) {
                    state.lost.store(true, Ordering::SeqCst);
                    on_lost();
                    return;
                }
                last = Instant::now() - every + Duration::from_secs(5).min(every);
            }
        }
    }
}

fn held(info: LeaseInfo, waited: Duration, ttl: Duration) -> LeaseError {
    LeaseError::Held {
        info: Box::new(info),
        waited,
        renew_secs: (ttl / 4).as_secs(),
    }
}

fn body(info: &LeaseInfo) -> String {
    serde_json::to_string(info).expect("a lease serialises")
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn after(d: Duration) -> jiff::Timestamp {
    let d = jiff::SignedDuration::try_from(d).unwrap_or(jiff::SignedDuration::MAX);
    jiff::Timestamp::now()
        .checked_add(d)
        .unwrap_or(jiff::Timestamp::MAX)
}

fn second(t: jiff::Timestamp) -> String {
    t.round(jiff::Unit::Second).unwrap_or(t).to_string()
}

/// This host's name.
fn hostname() -> String {
    #[cfg(unix)]
    {
        rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned()
    }
    #[cfg(not(unix))]
    {
        std::env::var("COMPUTERNAME").unwrap_or_else(|_| "unknown".to_owned())
    }
}

/// True when a process with this id runs on this host (or that cannot be told).
fn alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Some(pid) = i32::try_from(pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        else {
            return true;
        };
        // Signal 0: is there such a process (one of another user's answers "not permitted").
        match rustix::process::test_kill_process(pid) {
            Ok(()) => true,
            Err(e) => e != rustix::io::Errno::SRCH,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(wait: Duration) -> LeaseOptions {
        LeaseOptions {
            holder: "tester".to_owned(),
            ttl: Duration::from_secs(8),
            wait,
        }
    }

    #[test]
    fn a_local_lease_is_held_once_and_free_after_release() {
        let dir = tempfile::tempdir().unwrap();
        let path = lock_file(dir.path(), "scim:https://x");
        let first = Lease::take(
            None,
            Place::Local(path.clone()),
            "scim:https://x",
            &options(Duration::ZERO),
            || {},
        )
        .unwrap();
        let second = Lease::take(
            None,
            Place::Local(path.clone()),
            "scim:https://x",
            &options(Duration::ZERO),
            || {},
        );
        match second {
            Err(LeaseError::Held { info, .. }) => {
                assert_eq!(info.holder, "tester");
                assert_eq!(info.pid, std::process::id());
            }
            other => panic!("held expected: {other:?}"),
        }
        first.release().unwrap();
        Lease::take(
            None,
            Place::Local(path),
            "scim:https://x",
            &options(Duration::ZERO),
            || {},
        )
        .expect("free again");
    }

    #[test]
    fn a_lapsed_lease_or_a_gone_holder_on_this_host_is_free() {
        let now = jiff::Timestamp::now();
        let mut info = LeaseInfo::new("t", "h", now, Duration::from_secs(60));
        info.pid = std::process::id() + 1_000_000;
        assert!(info.free(now), "no such process on this host");
        info.host = "elsewhere".to_owned();
        assert!(!info.free(now), "another host: only the expiry tells");
        assert!(info.free(now + jiff::SignedDuration::from_secs(61)));
    }

    /// Regression (two holders at once, seen in CI): two takers with one holder name, host and
    /// pid in one second wrote the same lease commit, and git reports pushing a ref's own value
    /// "up to date" even under `--force-with-lease=<ref>:` (expected absent) — both held it.
    #[test]
    fn two_leases_taken_in_one_second_are_different_commits() {
        let now = jiff::Timestamp::now();
        let a = LeaseInfo::new("scim:x", "nightly", now, Duration::from_secs(120));
        let b = LeaseInfo::new("scim:x", "nightly", now, Duration::from_secs(120));
        assert_ne!(body(&a), body(&b));
    }

    #[test]
    fn refnames_are_valid_whatever_the_target() {
        let r = refname("scim:https://example.com/scim/v2?x=1 y");
        assert!(r.starts_with("refs/orgsync/leases/"));
        assert_eq!(r.len(), "refs/orgsync/leases/".len() + 16);
        assert_ne!(r, refname("scim:https://example.com/other"));
    }
}
