//! The configuration repository's remote, through the git command line: the apply records
//! (git notes) travel with the configuration, and the apply lease ([`crate::lease`]) lives
//! there.
//!
//! The command line, not libgit2: it uses whatever the user's git uses to reach the remote —
//! credential helpers, SSH agents, `http.extraheader` set by `actions/checkout` — so that a
//! remote orgsync can reach is exactly one `git fetch` can. Every call runs with
//! `GIT_TERMINAL_PROMPT=0` (never waits for a password) and a time limit, in the C locale (its
//! messages are read), and says what failed without the remote's credentials.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::{ConfigRepo, GitError, NOTES_REF};

/// How long one git command may take before it is stopped: a remote that does not answer fails
/// the step instead of hanging the nightly.
pub const GIT_TIMEOUT: Duration = Duration::from_secs(60);

/// What can go wrong talking to the remote.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The remote could not be reached or refused the request (network, credentials, no push
    /// permission, git missing).
    #[error("cannot reach the remote `{remote}`: {message}")]
    Unreachable {
        /// The remote's name.
        remote: String,
        /// What git said, without credentials.
        message: String,
    },
    /// The repository itself.
    #[error(transparent)]
    Git(#[from] GitError),
}

/// The outcome of a push.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// The remote took it.
    Done,
    /// The remote refused it because the ref moved (not a fast-forward, or a stale lease).
    Rejected,
}

/// The remote of a configuration repository.
#[derive(Debug, Clone)]
pub struct Remote {
    git_dir: PathBuf,
    name: String,
}

impl Remote {
    /// The remote the configuration travels with ([`ConfigRepo::remote_name`]), if any.
    pub fn of(repo: &ConfigRepo) -> Option<Remote> {
        Some(Remote {
            git_dir: repo.git_dir(),
            name: repo.remote_name()?,
        })
    }

    /// The remote called `name`, if the repository has it.
    pub fn named(repo: &ConfigRepo, name: &str) -> Option<Remote> {
        repo.has_remote(name).then(|| Remote {
            git_dir: repo.git_dir(),
            name: name.to_owned(),
        })
    }

    /// The remote's name (`origin`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs git with `args` against this repository, within [`GIT_TIMEOUT`].
    pub(crate) fn run(&self, args: &[&str]) -> Result<Output, RemoteError> {
        let mut child = Command::new("git")
            .arg("--git-dir")
            .arg(&self.git_dir)
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C")
            .env("LANGUAGE", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| self.unreachable(&format!("cannot run git: {e}")))?;
        let start = Instant::now();
        // Read the pipes on their own threads: a chatty git never blocks on a full pipe.
        let stdout = child.stdout.take().map(read_all);
        let stderr = child.stderr.take().map(read_all);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if start.elapsed() > GIT_TIMEOUT => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(self.unreachable(&format!(
                        "git {} did not finish within {} s",
                        args.first().copied().unwrap_or_default(),
                        GIT_TIMEOUT.as_secs()
                    )));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => return Err(self.unreachable(&format!("git failed: {e}"))),
            }
        };
        let join = |h: Option<std::thread::JoinHandle<Vec<u8>>>| {
            h.and_then(|h| h.join().ok()).unwrap_or_default()
        };
        Ok(Output {
            status,
            stdout: join(stdout),
            stderr: join(stderr),
        })
    }

    pub(crate) fn unreachable(&self, message: &str) -> RemoteError {
        RemoteError::Unreachable {
            remote: self.name.clone(),
            message: without_credentials(message.trim()),
        }
    }

    /// Fetches `remote_ref` into the local `local_ref` (forced). `Ok(false)` when the remote has
    /// no such ref.
    pub(crate) fn fetch_ref(&self, remote_ref: &str, local_ref: &str) -> Result<bool, RemoteError> {
        let spec = format!("+{remote_ref}:{local_ref}");
        let out = self.run(&["fetch", "--quiet", "--no-tags", &self.name, &spec])?;
        if out.status.success() {
            return Ok(true);
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("couldn't find remote ref") {
            return Ok(false);
        }
        Err(self.unreachable(&stderr))
    }

    /// Pushes `src` to `dst`; with `expect`, only when the remote's `dst` is `expect` now (an
    /// empty `expect`: only when it does not exist) — git's `--force-with-lease`, checked by the
    /// remote under its ref lock: a compare-and-swap.
    pub(crate) fn push(
        &self,
        src: &str,
        dst: &str,
        expect: Option<&str>,
    ) -> Result<Pushed, RemoteError> {
        let spec = format!("{src}:{dst}");
        let lease;
        let mut args = vec!["push", "--porcelain", "--quiet"];
        if let Some(expect) = expect {
            lease = format!("--force-with-lease={dst}:{expect}");
            args.push(&lease);
        }
        args.extend([self.name.as_str(), spec.as_str()]);
        let out = self.run(&args)?;
        if out.status.success() {
            return Ok(Pushed::Done);
        }
        // `--porcelain` says per ref: `!` and `[rejected]` or `[remote rejected]` when the ref
        // was refused; anything else (no line at all) is a failure to talk to the remote.
        let stdout = String::from_utf8_lossy(&out.stdout);
        // A ref that moved meanwhile (another clone won the race) is a refusal; anything else
        // the remote refuses (no permission, a hook) is a failure.
        let refused = stdout.lines().any(|l| {
            l.starts_with('!')
                && (l.contains("stale info")
                    || l.contains("fetch first")
                    || l.contains("non-fast-forward")
                    || l.contains("failed to update ref")
                    || l.contains("failed to lock")
                    || l.contains("cannot lock ref"))
        });
        if refused {
            return Ok(Pushed::Rejected);
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(self.unreachable(&format!("{stderr}{stdout}")))
    }

    /// Brings the remote's apply records into this clone: fetches [`NOTES_REF`] and merges it
    /// into the local one ([`ConfigRepo::merge_notes`]). Returns whether the remote has records.
    pub fn pull_notes(&self, repo: &ConfigRepo) -> Result<bool, RemoteError> {
        let fetched = format!("refs/orgsync/fetched/notes-{}", std::process::id());
        let has = self.fetch_ref(NOTES_REF, &fetched)?;
        if has {
            let merged = repo.merge_notes(&fetched);
            repo.delete_ref(&fetched)?;
            merged?;
        }
        Ok(has)
    }

    /// Shares this clone's apply records: pushes [`NOTES_REF`]; when the remote's moved on
    /// meanwhile (another clone recorded an apply), merges theirs and pushes again.
    pub fn push_notes(&self, repo: &ConfigRepo) -> Result<(), RemoteError> {
        if repo.ref_target(NOTES_REF)?.is_none() {
            return Ok(());
        }
        for _ in 0..5 {
            if self.push(NOTES_REF, NOTES_REF, None)? == Pushed::Done {
                return Ok(());
            }
            self.pull_notes(repo)?;
        }
        Err(self
            .unreachable("the remote's apply records kept changing while they were being pushed"))
    }
}

fn read_all(mut pipe: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        buf
    })
}

/// `message` with the user information of every URL in it (`https://user:token@host/…`)
/// replaced by `***`: git names the remote's URL in its errors.
pub fn without_credentials(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c == '/' || c.is_whitespace() || c == '\'' || c == '"')
            .unwrap_or(tail.len());
        match tail[..end].rfind('@') {
            Some(at) => {
                out.push_str("***");
                out.push_str(&tail[at..end]);
            }
            None => out.push_str(&tail[..end]),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_urls_are_not_repeated() {
        assert_eq!(
            without_credentials(
                "fatal: unable to access 'https://x-access-token:ghs_abc@github.com/o/r/': 403"
            ),
            "fatal: unable to access 'https://***@github.com/o/r/': 403"
        );
        assert_eq!(
            without_credentials("ssh://git@host/x and file:///tmp/r"),
            "ssh://***@host/x and file:///tmp/r"
        );
    }
}
