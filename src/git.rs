//! git, through libgit2 (`git2`): the configuration tree at any commit, blame of configuration
//! lines, and the apply records kept as git notes.
//!
//! The configuration directory may sit anywhere inside a repository (`-C deploy/orgsync`); paths
//! here are relative to it unless they say otherwise. Nothing in this module checks anything out
//! or writes to the work tree: reading the configuration at a ref and blaming it leave the work
//! tree alone, and notes live in their own ref ([`NOTES_REF`]).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use git2::{
    BlameOptions, ErrorCode, ObjectType, Oid, Repository, RepositoryOpenFlags, Signature,
    StatusOptions,
};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::apply::run::ApplyReport;
use crate::plan::{Action, ActionKind, Plan};

/// The notes ref that holds apply records. Separate from `refs/notes/commits` so that a team's
/// own notes and orgsync's never mix; push it with `git push origin refs/notes/orgsync`.
pub const NOTES_REF: &str = "refs/notes/orgsync";

/// Version of the apply-record format written to notes.
pub const RECORD_VERSION: u32 = 1;

/// What can go wrong reading or writing git.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The directory is not inside a git repository (or the repository has no work tree).
    #[error("{} is not inside a git repository with a work tree", .0.display())]
    NotARepository(PathBuf),
    /// A ref, branch, tag or commit that does not resolve to a commit.
    #[error("`{rev}` is not a commit in this repository: {message}")]
    UnknownRev {
        /// What was asked for.
        rev: String,
        /// libgit2's explanation.
        message: String,
    },
    /// The configuration directory does not exist in that commit.
    #[error("commit {commit} has no directory `{dir}`")]
    NoConfigDir {
        /// The commit (short id).
        commit: String,
        /// The directory, relative to the repository root.
        dir: String,
    },
    /// The repository has no commit yet.
    #[error("the repository has no commits yet")]
    NoCommits,
    /// Any other libgit2 error, with what orgsync was doing.
    #[error("git: cannot {doing}: {source}")]
    Git {
        /// What was being done ("read the notes").
        doing: &'static str,
        /// The libgit2 error.
        source: git2::Error,
    },
}

/// Adds what orgsync was doing to a libgit2 error.
trait Doing<T> {
    fn doing(self, what: &'static str) -> Result<T, GitError>;
}

impl<T> Doing<T> for Result<T, git2::Error> {
    fn doing(self, what: &'static str) -> Result<T, GitError> {
        self.map_err(|source| GitError::Git {
            doing: what,
            source,
        })
    }
}

/// A commit as people read it: id, author, date and subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitInfo {
    /// Full hex id.
    pub id: String,
    /// Author name (never the e-mail address: it is shown and may be recorded).
    pub author: String,
    /// Author date, RFC 3339 with the author's UTC offset.
    pub date: String,
    /// First line of the message.
    pub subject: String,
}

impl CommitInfo {
    /// The abbreviated id (7 characters), as `git log --oneline` shows it.
    pub fn short(&self) -> &str {
        short(&self.id)
    }

    /// The author date's day (`2026-11-20`).
    pub fn day(&self) -> &str {
        self.date.get(..10).unwrap_or(&self.date)
    }
}

/// The first 7 characters of a commit id.
pub fn short(id: &str) -> &str {
    id.get(..7).unwrap_or(id)
}

/// The commit a configuration came from. `dirty` when the configuration files in the work tree
/// differ from that commit (modified, added, deleted or untracked YAML files at the root of the
/// configuration directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigCommit {
    /// The commit.
    pub commit: CommitInfo,
    /// The work tree's configuration files differ from it.
    pub dirty: bool,
}

impl ConfigCommit {
    /// Suffix of a dirty commit in `digests.config_commit`, as `git describe --dirty` writes it.
    pub const DIRTY_SUFFIX: &'static str = "-dirty";

    /// Splits a recorded `config_commit` into (commit id, dirty).
    pub fn parse(recorded: &str) -> (&str, bool) {
        match recorded.strip_suffix(Self::DIRTY_SUFFIX) {
            Some(id) => (id, true),
            None => (recorded, false),
        }
    }
}

/// `<id>` or `<id>-dirty`: the form recorded in plan files.
impl fmt::Display for ConfigCommit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.commit.id)?;
        if self.dirty {
            f.write_str(Self::DIRTY_SUFFIX)?;
        }
        Ok(())
    }
}

/// Who last changed one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlameLine {
    /// Line number, from 1.
    pub line: usize,
    /// The commit that last changed it; `None` when the change is not committed yet.
    pub commit: Option<CommitInfo>,
}

/// Which version of a file to blame.
#[derive(Debug, Clone, Copy)]
pub enum BlameAt<'a> {
    /// The file as it is in this commit (full id).
    Commit(&'a str),
    /// The file as it is in the work tree: committed lines are blamed from HEAD, the others are
    /// "not committed yet".
    WorkTree,
}

/// A repository that holds a configuration directory.
pub struct ConfigRepo {
    repo: Repository,
    /// The configuration directory relative to the work tree root, `/`-separated; empty at the
    /// root.
    prefix: String,
}

impl fmt::Debug for ConfigRepo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigRepo")
            .field("path", &self.repo.path())
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl ConfigRepo {
    /// The repository whose work tree holds `dir`, or `None` when `dir` is not in one.
    pub fn discover(dir: &Path) -> Result<Option<ConfigRepo>, GitError> {
        // As git does, the search stops below the directories in GIT_CEILING_DIRECTORIES.
        let ceilings: Vec<std::ffi::OsString> = std::env::var_os("GIT_CEILING_DIRECTORIES")
            .map(|v| {
                std::env::split_paths(&v)
                    .map(PathBuf::into_os_string)
                    .collect()
            })
            .unwrap_or_default();
        let repo = match Repository::open_ext(dir, RepositoryOpenFlags::empty(), ceilings) {
            Ok(repo) => repo,
            Err(e) if e.code() == ErrorCode::NotFound => return Ok(None),
            Err(e) => return Err(e).doing("open the repository"),
        };
        let Some(workdir) = repo.workdir() else {
            return Ok(None);
        };
        let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_owned());
        let (workdir, dir) = (canonical(workdir), canonical(dir));
        let Ok(relative) = dir.strip_prefix(&workdir) else {
            return Err(GitError::NotARepository(dir));
        };
        let prefix = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        Ok(Some(ConfigRepo { repo, prefix }))
    }

    /// The configuration directory relative to the repository root (`""` at the root).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `file` (relative to the configuration directory) relative to the repository root.
    pub fn repo_path(&self, file: &str) -> String {
        if self.prefix.is_empty() {
            file.to_owned()
        } else {
            format!("{}/{file}", self.prefix)
        }
    }

    /// The commit `rev` names: a branch, tag, commit id or any revision git understands
    /// (`main`, `v1.2`, `HEAD~1`, `origin/main`).
    pub fn commit(&self, rev: &str) -> Result<CommitInfo, GitError> {
        let commit = self
            .repo
            .revparse_single(rev)
            .and_then(|o| o.peel_to_commit())
            .map_err(|e| GitError::UnknownRev {
                rev: rev.to_owned(),
                message: e.message().to_owned(),
            })?;
        Ok(commit_info(&commit))
    }

    /// The commit HEAD points at; `None` before the first commit.
    pub fn head(&self) -> Result<Option<CommitInfo>, GitError> {
        match self.repo.head() {
            Ok(head) => Ok(Some(commit_info(
                &head.peel_to_commit().doing("read HEAD")?,
            ))),
            Err(e) if matches!(e.code(), ErrorCode::UnbornBranch | ErrorCode::NotFound) => Ok(None),
            Err(e) => Err(e).doing("read HEAD"),
        }
    }

    /// The configuration files at `commit`: every `*.yaml`/`*.yml` blob at the root of the
    /// configuration directory, as `config::load_files` takes them — the same selection
    /// `config::load_dir` makes in the work tree.
    pub fn config_files(&self, commit: &str) -> Result<Vec<(String, Vec<u8>)>, GitError> {
        let oid = Oid::from_str(commit).doing("parse a commit id")?;
        let tree = self
            .repo
            .find_commit(oid)
            .and_then(|c| c.tree())
            .doing("read the commit's tree")?;
        let tree = if self.prefix.is_empty() {
            tree
        } else {
            let no_dir = || GitError::NoConfigDir {
                commit: short(commit).to_owned(),
                dir: self.prefix.clone(),
            };
            let entry = tree
                .get_path(Path::new(&self.prefix))
                .map_err(|_| no_dir())?;
            if entry.kind() != Some(ObjectType::Tree) {
                return Err(no_dir());
            }
            self.repo.find_tree(entry.id()).doing("read a tree")?
        };
        let mut files = Vec::new();
        for entry in tree.iter() {
            let Ok(name) = entry.name() else { continue };
            let is_yaml = name.ends_with(".yaml") || name.ends_with(".yml");
            if !is_yaml || name.starts_with('.') || entry.kind() != Some(ObjectType::Blob) {
                continue;
            }
            // Symbolic links are blobs too (mode 120000): load_dir follows them, a tree cannot.
            if entry.filemode() == 0o120000 {
                continue;
            }
            let blob = self.repo.find_blob(entry.id()).doing("read a file")?;
            files.push((name.to_owned(), blob.content().to_vec()));
        }
        Ok(files)
    }

    /// True when the configuration files in the work tree differ from HEAD: a YAML file at the
    /// root of the configuration directory is modified, added, deleted, untracked or ignored
    /// (ignored files are read by `load_dir` but are in no commit). `data_paths` (the source and
    /// target files) are not configuration and do not count: `apply` writes the file target.
    pub fn config_dirty(&self, data_paths: &[&str]) -> Result<bool, GitError> {
        let mut opts = StatusOptions::new();
        opts.include_untracked(true)
            .include_ignored(true)
            .recurse_untracked_dirs(false)
            .recurse_ignored_dirs(false)
            .exclude_submodules(true);
        if !self.prefix.is_empty() {
            opts.pathspec(format!("{}/", self.prefix));
        }
        let statuses = self
            .repo
            .statuses(Some(&mut opts))
            .doing("read the work tree's status")?;
        let data: Vec<&str> = data_paths
            .iter()
            .map(|p| p.trim_start_matches("./"))
            .collect();
        for entry in statuses.iter() {
            let Ok(path) = entry.path() else { continue };
            let name = if self.prefix.is_empty() {
                path
            } else {
                match path
                    .strip_prefix(&self.prefix)
                    .and_then(|p| p.strip_prefix('/'))
                {
                    Some(name) => name,
                    None => continue,
                }
            };
            let is_yaml = name.ends_with(".yaml") || name.ends_with(".yml");
            if name.contains('/') || !is_yaml || name.starts_with('.') || data.contains(&name) {
                continue;
            }
            if !entry.status().is_empty() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Who last changed `lines` of `file` (relative to the configuration directory), in the order
    /// given. Lines past the end of the file are left out.
    pub fn blame(
        &self,
        file: &str,
        lines: &[usize],
        at: BlameAt<'_>,
    ) -> Result<Vec<BlameLine>, GitError> {
        let path = self.repo_path(file);
        let mut opts = BlameOptions::new();
        let committed;
        let buffered;
        let blame = match at {
            BlameAt::Commit(id) => {
                opts.newest_commit(Oid::from_str(id).doing("parse a commit id")?);
                committed = self
                    .repo
                    .blame_file(Path::new(&path), Some(&mut opts))
                    .doing("blame a configuration file")?;
                &committed
            }
            BlameAt::WorkTree => {
                committed = match self.repo.blame_file(Path::new(&path), Some(&mut opts)) {
                    Ok(blame) => blame,
                    // Not in HEAD at all: every line is new.
                    Err(e) if e.code() == ErrorCode::NotFound => {
                        return Ok(lines
                            .iter()
                            .map(|&line| BlameLine { line, commit: None })
                            .collect());
                    }
                    Err(e) => return Err(e).doing("blame a configuration file"),
                };
                let workdir = self.repo.workdir().unwrap_or(Path::new("."));
                let contents = std::fs::read(workdir.join(&path)).unwrap_or_default();
                buffered = committed
                    .blame_buffer(&contents)
                    .doing("blame a configuration file")?;
                &buffered
            }
        };
        let mut out = Vec::new();
        let mut known: BTreeMap<Oid, CommitInfo> = BTreeMap::new();
        for &line in lines {
            let Some(hunk) = blame.get_line(line) else {
                continue;
            };
            let id = hunk.final_commit_id();
            let commit = if id.is_zero() {
                None
            } else if let Some(info) = known.get(&id) {
                Some(info.clone())
            } else {
                let info = commit_info(&self.repo.find_commit(id).doing("read a commit")?);
                known.insert(id, info.clone());
                Some(info)
            };
            out.push(BlameLine { line, commit });
        }
        Ok(out)
    }

    /// The name to record as the actor of an apply: `GITHUB_ACTOR` in GitHub Actions, else the
    /// git user (`user.name`).
    pub fn actor(&self) -> Option<String> {
        std::env::var("GITHUB_ACTOR")
            .ok()
            .filter(|a| !a.trim().is_empty())
            .or_else(|| {
                self.repo
                    .config()
                    .and_then(|c| c.get_string("user.name"))
                    .ok()
            })
            .filter(|a| !a.trim().is_empty())
    }

    /// Appends `record` as one line to the note on `commit` under [`NOTES_REF`]. One line per
    /// apply, so that several applies on one commit (nightly runs) accumulate, and notes from two
    /// clones merge with `git notes --ref orgsync merge -s cat_sort_uniq`.
    pub fn append_note(&self, commit: &str, record: &str) -> Result<(), GitError> {
        let oid = Oid::from_str(commit).doing("parse a commit id")?;
        let mut text = match self.repo.find_note(Some(NOTES_REF), oid) {
            Ok(note) => note.message().unwrap_or_default().to_owned(),
            Err(e) if e.code() == ErrorCode::NotFound => String::new(),
            Err(e) => return Err(e).doing("read the apply records"),
        };
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(record.trim_end());
        text.push('\n');
        let signature = self
            .repo
            .signature()
            .or_else(|_| Signature::now("orgsync", "orgsync@localhost"))
            .doing("make a signature for the notes commit")?;
        self.repo
            .note(&signature, &signature, Some(NOTES_REF), oid, &text, true)
            .doing("write the apply record")?;
        Ok(())
    }

    /// Every note under [`NOTES_REF`] with the commit it annotates, in history order: a commit's
    /// note before its descendants' (notes on commits HEAD does not reach come last). Records
    /// carry their time to the second, so two applies within one second on two commits are told
    /// apart by this order, not by the order git lists notes in (by the annotated object's id).
    pub fn notes(&self) -> Result<Vec<(CommitInfo, String)>, GitError> {
        let iter = match self.repo.notes(Some(NOTES_REF)) {
            Ok(iter) => iter,
            Err(e) if e.code() == ErrorCode::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).doing("read the apply records"),
        };
        let mut out = Vec::new();
        for item in iter {
            let (_, annotated) = item.doing("read the apply records")?;
            let note = self
                .repo
                .find_note(Some(NOTES_REF), annotated)
                .doing("read an apply record")?;
            // A note on something other than a commit (a blob, a tree) is not orgsync's.
            let Ok(commit) = self.repo.find_commit(annotated) else {
                continue;
            };
            out.push((
                commit_info(&commit),
                note.message().unwrap_or_default().to_owned(),
            ));
        }
        let order = self.history_order();
        out.sort_by_key(|(c, _)| order.get(&c.id).copied().unwrap_or(usize::MAX));
        Ok(out)
    }

    /// Commit id → its position from the root in HEAD's history (topological: parents first).
    fn history_order(&self) -> std::collections::HashMap<String, usize> {
        let mut order = std::collections::HashMap::new();
        let Ok(mut walk) = self.repo.revwalk() else {
            return order;
        };
        if walk
            .set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE)
            .is_err()
            || walk.push_head().is_err()
        {
            return order;
        }
        for (i, id) in walk.flatten().enumerate() {
            order.insert(id.to_string(), i);
        }
        order
    }
}

fn commit_info(commit: &git2::Commit<'_>) -> CommitInfo {
    let author = commit.author();
    let when = author.when();
    let date = jiff::Timestamp::from_second(when.seconds())
        .ok()
        .and_then(|t| {
            let offset = jiff::tz::Offset::from_seconds(when.offset_minutes() * 60).ok()?;
            Some(t.to_zoned(jiff::tz::TimeZone::fixed(offset)))
        })
        .map(|z| z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string())
        .unwrap_or_default();
    CommitInfo {
        id: commit.id().to_string(),
        author: author.name().unwrap_or_default().to_owned(),
        date,
        subject: String::from_utf8_lossy(commit.summary_bytes().unwrap_or_default()).into_owned(),
    }
}

/// One apply, as recorded in a note: one JSON object on one line.
///
/// Anyone who can read the repository can read its notes, so a record holds no personal data:
/// actions are identified by their kind and source identifier, and failure messages are scrubbed
/// of the names and e-mail addresses they might quote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplyRecord {
    /// [`RECORD_VERSION`].
    pub record_version: u32,
    /// When the apply finished (RFC 3339, UTC).
    pub time: String,
    /// Who applied: `GITHUB_ACTOR`, else the git user name.
    pub actor: String,
    /// The configuration directory, relative to the repository root (`""` at the root).
    pub config_dir: String,
    /// The configuration commit the record is attached to.
    pub config_commit: String,
    /// The configuration files in the work tree differed from that commit.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub config_dirty: bool,
    /// The commit the plan was made from, when it differs (`--allow-config-mismatch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_config_commit: Option<String>,
    /// sha256 of the applied plan's JSON.
    pub plan_digest: String,
    /// The day the plan was made for.
    pub at: Date,
    /// orgsync version that applied.
    pub orgsync_version: String,
    /// Count of the plan's actions per kind.
    pub summary: BTreeMap<ActionKind, usize>,
    /// Actions applied.
    pub succeeded: usize,
    /// Actions that failed.
    pub failed: usize,
    /// Each attempted action's outcome, in plan order.
    pub outcomes: Vec<RecordedOutcome>,
    /// The target applied to (`file:<path>`, `scim:<base URL>`): a record of another target is
    /// not held against this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Managed accounts in the target after the apply: a later plan refuses a target that lists
    /// fewer than half of them (a listing that is probably incomplete).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_accounts: Option<usize>,
    /// The apply was interrupted (SIGINT, SIGTERM): the actions not attempted are counted in
    /// `not_attempted`, and the next plan holds them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// Actions not attempted because of the interrupt, by kind.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub not_attempted: BTreeMap<ActionKind, usize>,
    /// The plan's manual steps, left for a person and not done by this apply: subjects per
    /// missing capability (`manager`, `removal`, …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub manual_steps: BTreeMap<String, usize>,
}

/// What happened to one action, by source identifier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedOutcome {
    /// The action's kind.
    pub kind: ActionKind,
    /// The subject's source identifier.
    pub subject: String,
    /// Applied.
    pub ok: bool,
    /// Why it failed, personal data removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The account the target created or took over for the subject, for a target that keeps no
    /// ownership marker of its own (Revolut): an opaque id, never personal data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
}

impl ApplyRecord {
    /// The record of applying `plan` with result `report`. `time` is RFC 3339.
    pub fn new(
        plan: &Plan,
        report: &ApplyReport,
        config_dir: &str,
        commit: &ConfigCommit,
        actor: String,
        time: String,
    ) -> ApplyRecord {
        let plan_config_commit = plan
            .digests
            .config_commit
            .as_deref()
            .filter(|c| *c != commit.to_string())
            .map(str::to_owned);
        // Outcomes follow plan order, with gaps where an interrupt left actions unattempted:
        // each outcome's action is the next one of its kind and subject.
        let mut actions = plan.actions.iter();
        let outcomes = report
            .outcomes
            .iter()
            .map(|o| {
                let same = |a: &&Action| a.kind == o.kind && a.subject == o.subject;
                let action = actions
                    .by_ref()
                    .find(same)
                    .or_else(|| plan.actions.iter().find(same));
                RecordedOutcome {
                    kind: o.kind,
                    subject: o.subject.clone(),
                    ok: o.ok,
                    target_id: o.target_id.clone(),
                    error: o.error.as_deref().map(|e| match action {
                        Some(action) => scrub(e, action),
                        None => REDACTED.to_owned(),
                    }),
                }
            })
            .collect();
        ApplyRecord {
            record_version: RECORD_VERSION,
            time,
            actor,
            config_dir: config_dir.to_owned(),
            config_commit: commit.commit.id.clone(),
            config_dirty: commit.dirty,
            plan_config_commit,
            plan_digest: crate::plan::digest::of_json(plan),
            at: plan.at,
            orgsync_version: env!("CARGO_PKG_VERSION").to_owned(),
            summary: plan.summary.clone(),
            succeeded: report.outcomes.len() - report.failed,
            failed: report.failed,
            outcomes,
            target: None,
            managed_accounts: report.managed_accounts,
            interrupted: report.interrupted,
            not_attempted: report.not_attempted.clone(),
            manual_steps: plan.manual_steps.iter().fold(BTreeMap::new(), |mut m, s| {
                *m.entry(s.capability.clone()).or_default() += s.count;
                m
            }),
        }
    }

    /// The record as one line of JSON.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("a record serialises to JSON")
    }

    /// The records in a note: one per line; lines that are not records (a person's own note) are
    /// skipped.
    pub fn parse_note(text: &str) -> Vec<ApplyRecord> {
        text.lines()
            .filter_map(|l| serde_json::from_str(l.trim()).ok())
            .collect()
    }
}

const REDACTED: &str = "<redacted>";

/// A failure message without the personal data it may quote: the action's name, the names and
/// e-mail addresses among its changes, and anything shaped like an e-mail address.
fn scrub(message: &str, action: &Action) -> String {
    let mut personal: Vec<&str> = vec![action.name.as_str()];
    for field in ["first_name", "last_name", "email"] {
        if let Some(change) = action.changes.get(field) {
            personal.extend(
                [change.from.as_str(), change.to.as_str()]
                    .into_iter()
                    .flatten(),
            );
        }
    }
    // Longest first, so "Jan de Vries" goes before "Jan".
    personal.sort_by_key(|p| std::cmp::Reverse(p.len()));
    let mut out = message.to_owned();
    for p in personal {
        let p = p.trim();
        if p.chars().count() >= 2 && p != action.subject {
            out = out.replace(p, REDACTED);
        }
    }
    out.split_inclusive(char::is_whitespace)
        .map(|word| {
            let core = word.trim_matches(|c: char| {
                c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '(' | ')' | ',' | ';')
            });
            if core.contains('@') && core.len() > 2 {
                word.replace(core, REDACTED)
            } else {
                word.to_owned()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use git2::{Repository, Signature, Time};
    use serde_json::json;

    use super::*;
    use crate::apply::run::Outcome;
    use crate::plan::{Change, Digests, Safety};

    /// A repository in a temporary directory, with `config/` committed by "Alice".
    struct Fixture {
        dir: tempfile::TempDir,
        repo: Repository,
    }

    impl Fixture {
        fn new() -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let repo = Repository::init(dir.path()).unwrap();
            Fixture { dir, repo }
        }

        fn config_dir(&self) -> std::path::PathBuf {
            self.dir.path().join("config")
        }

        fn write(&self, name: &str, text: &str) {
            std::fs::create_dir_all(self.config_dir()).unwrap();
            std::fs::write(self.config_dir().join(name), text).unwrap();
        }

        /// Commits the whole work tree as `author` at `day` seconds after the epoch.
        fn commit(&self, author: &str, seconds: i64, message: &str) -> String {
            let mut index = self.repo.index().unwrap();
            index
                .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
                .unwrap();
            index.write().unwrap();
            let tree = self.repo.find_tree(index.write_tree().unwrap()).unwrap();
            let sig = Signature::new(author, "a@example.test", &Time::new(seconds, 60)).unwrap();
            let parents: Vec<git2::Commit> = self
                .repo
                .head()
                .ok()
                .and_then(|h| h.peel_to_commit().ok())
                .into_iter()
                .collect();
            let parents: Vec<&git2::Commit> = parents.iter().collect();
            self.repo
                .commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
                .unwrap()
                .to_string()
        }

        fn open(&self) -> ConfigRepo {
            ConfigRepo::discover(&self.config_dir()).unwrap().unwrap()
        }
    }

    #[test]
    fn outside_a_repository_there_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(ConfigRepo::discover(dir.path()).unwrap().is_none());
    }

    #[test]
    fn config_files_at_a_commit_are_the_root_yaml_files_of_the_directory() {
        let f = Fixture::new();
        f.write("orgsync.yaml", "version: 1\n");
        f.write("communities.yml", "communities: []\n");
        f.write("hr.json", "[]");
        f.write(".hidden.yaml", "x: 1\n");
        std::fs::create_dir_all(f.config_dir().join("sub")).unwrap();
        std::fs::write(f.config_dir().join("sub/other.yaml"), "x: 1\n").unwrap();
        let first = f.commit("Alice", 1_700_000_000, "Initial configuration");
        f.write("orgsync.yaml", "version: 2\n");
        f.commit("Bob", 1_700_100_000, "Bump");

        let repo = f.open();
        assert_eq!(repo.prefix(), "config");
        let files = repo.config_files(&first).unwrap();
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["communities.yml", "orgsync.yaml"]);
        assert_eq!(files[1].1, b"version: 1\n");
        let head = repo.commit("HEAD").unwrap();
        assert_eq!(head.author, "Bob");
        assert_eq!(head.subject, "Bump");
        assert_eq!(head.date, "2023-11-16T03:00:00+01:00");
        assert_eq!(repo.commit("HEAD~1").unwrap().id, first);
        assert!(matches!(
            repo.commit("no-such-branch"),
            Err(GitError::UnknownRev { .. })
        ));
    }

    #[test]
    fn a_commit_without_the_directory_says_so() {
        let f = Fixture::new();
        std::fs::write(f.dir.path().join("README"), "x").unwrap();
        let first = f.commit("Alice", 1_700_000_000, "Readme");
        f.write("orgsync.yaml", "version: 1\n");
        f.commit("Alice", 1_700_000_100, "Config");
        let err = f.open().config_files(&first).unwrap_err();
        assert!(
            err.to_string().ends_with("has no directory `config`"),
            "{err}"
        );
    }

    #[test]
    fn dirty_means_the_configuration_files_differ_from_head() {
        let f = Fixture::new();
        f.write("orgsync.yaml", "version: 1\n");
        f.write("workspace.json", "{}");
        f.commit("Alice", 1_700_000_000, "Initial configuration");
        let repo = f.open();
        let data = ["workspace.json"];
        assert!(!repo.config_dirty(&data).unwrap());
        // The file target changes on every apply: not configuration.
        f.write("workspace.json", "{\"accounts\": []}");
        assert!(!repo.config_dirty(&data).unwrap());
        std::fs::write(f.dir.path().join("elsewhere.yaml"), "x: 1\n").unwrap();
        assert!(!repo.config_dirty(&data).unwrap());
        f.write("extra.yaml", "test_locations: []\n");
        assert!(repo.config_dirty(&data).unwrap());
        std::fs::remove_file(f.config_dir().join("extra.yaml")).unwrap();
        f.write("orgsync.yaml", "version: 1 # changed\n");
        assert!(repo.config_dirty(&data).unwrap());
    }

    #[test]
    fn blame_names_the_last_author_of_each_line() {
        let f = Fixture::new();
        f.write(
            "communities.yaml",
            "communities:\n  - { source: \"1\", target: A }\n",
        );
        let first = f.commit("Alice", 1_700_000_000, "Map 1");
        f.write(
            "communities.yaml",
            "communities:\n  - { source: \"1\", target: A }\n  - { source: \"2\", target: B }\n",
        );
        let second = f.commit("Bob", 1_700_100_000, "Map 2");
        let repo = f.open();
        let lines = repo
            .blame("communities.yaml", &[2, 3, 9], BlameAt::Commit(&second))
            .unwrap();
        let who: Vec<(usize, &str)> = lines
            .iter()
            .map(|b| (b.line, b.commit.as_ref().unwrap().author.as_str()))
            .collect();
        assert_eq!(who, [(2, "Alice"), (3, "Bob")]);
        assert_eq!(lines[0].commit.as_ref().unwrap().id, first);

        // The work tree: an uncommitted line has no commit yet.
        f.write(
            "communities.yaml",
            "communities:\n  - { source: \"1\", target: A }\n  - { source: \"2\", target: C }\n",
        );
        let lines = repo
            .blame("communities.yaml", &[2, 3], BlameAt::WorkTree)
            .unwrap();
        assert_eq!(lines[0].commit.as_ref().unwrap().author, "Alice");
        assert_eq!(lines[1].commit, None);
    }

    /// Regression: two applies within one second on two commits (a rehire right after a
    /// removal) came back in the order git lists notes (by commit id), so the older apply could
    /// pass for the newer and its member id win. Notes now come in history order.
    #[test]
    fn notes_come_in_history_order_whatever_the_commit_ids() {
        let f = Fixture::new();
        let mut ids = Vec::new();
        for i in 0..6 {
            f.write(
                "orgsync.yaml",
                &format!(
                    "version: 1
# {i}
"
                ),
            );
            ids.push(f.commit("Alice", 1_700_000_000, &format!("commit {i}")));
        }
        let repo = f.open();
        for (i, id) in ids.iter().enumerate().rev() {
            repo.append_note(id, &format!("{{\"n\":{i}}}")).unwrap();
        }
        let order: Vec<String> = repo
            .notes()
            .unwrap()
            .into_iter()
            .map(|(c, _)| c.id)
            .collect();
        assert_eq!(order, ids, "parents first");
    }

    #[test]
    fn notes_accumulate_one_record_per_line() {
        let f = Fixture::new();
        f.write("orgsync.yaml", "version: 1\n");
        let id = f.commit("Alice", 1_700_000_000, "Initial configuration");
        let repo = f.open();
        assert!(repo.notes().unwrap().is_empty());
        repo.append_note(&id, "{\"a\":1}").unwrap();
        repo.append_note(&id, "{\"a\":2}\n").unwrap();
        let notes = repo.notes().unwrap();
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].0.id, id);
        assert_eq!(notes[0].1, "{\"a\":1}\n{\"a\":2}\n");
        // The work tree is untouched: the notes live in their own ref.
        assert!(!repo.config_dirty(&[]).unwrap());
        assert!(
            f.repo
                .find_reference(NOTES_REF)
                .unwrap()
                .peel_to_commit()
                .is_ok()
        );
    }

    fn sample_plan() -> Plan {
        let action = Action {
            kind: ActionKind::Invite,
            subject: "4302".to_owned(),
            target_id: None,
            name: "Lina Chaouch".to_owned(),
            changes: BTreeMap::from([
                (
                    "email".to_owned(),
                    Change {
                        from: json!(null),
                        to: json!("lina.chaouch@example.com"),
                    },
                ),
                (
                    "first_name".to_owned(),
                    Change {
                        from: json!(null),
                        to: json!("Lina"),
                    },
                ),
            ]),
            reason: "new in the source".to_owned(),
        };
        let actions = vec![action.clone(), action];
        Plan {
            format_version: 1,
            created_at: "2026-11-22T10:00:00Z".to_owned(),
            orgsync_version: "0.1.0".to_owned(),
            at: jiff::civil::date(2026, 11, 22),
            summary: Plan::count_actions(&actions),
            held: Default::default(),
            actions,
            manual_steps: Vec::new(),
            diagnostics: Vec::new(),
            safety: Safety {
                safe: true,
                violations: Vec::new(),
            },
            digests: Digests {
                config_commit: Some("abc-dirty".to_owned()),
                ..Digests::default()
            },
        }
    }

    #[test]
    fn a_record_holds_no_personal_data() {
        let plan = sample_plan();
        let report = ApplyReport {
            outcomes: vec![
                Outcome {
                    kind: ActionKind::Invite,
                    subject: "4302".to_owned(),
                    ok: true,
                    error: None,
                    target_id: None,
                },
                Outcome {
                    kind: ActionKind::Invite,
                    subject: "4302".to_owned(),
                    ok: false,
                    error: Some(
                        "invite 4302: Lina Chaouch <lina.chaouch@example.com> exists as (other@example.com)"
                            .to_owned(),
                    ),
                    target_id: None,
                },
            ],
            failed: 1,
            ..ApplyReport::default()
        };
        let commit = ConfigCommit {
            commit: CommitInfo {
                id: "abc".to_owned(),
                author: "Alice".to_owned(),
                date: String::new(),
                subject: String::new(),
            },
            dirty: false,
        };
        let record = ApplyRecord::new(
            &plan,
            &report,
            "config",
            &commit,
            "alice".to_owned(),
            "2026-11-22T10:00:00Z".to_owned(),
        );
        let line = record.to_line();
        for personal in ["Lina", "Chaouch", "@example.com"] {
            assert!(!line.contains(personal), "{personal} in {line}");
        }
        assert!(line.contains("invite 4302: <redacted> <<redacted>> exists as (<redacted>)"));
        assert_eq!(record.plan_config_commit.as_deref(), Some("abc-dirty"));
        assert_eq!((record.succeeded, record.failed), (1, 1));
        assert!(!line.contains('\n'));
        assert_eq!(
            ApplyRecord::parse_note(&format!("a note by hand\n{line}\n")),
            [record]
        );
    }

    #[test]
    fn config_commit_round_trips_with_the_dirty_suffix() {
        let commit = ConfigCommit {
            commit: CommitInfo {
                id: "0123456789".to_owned(),
                author: String::new(),
                date: String::new(),
                subject: String::new(),
            },
            dirty: true,
        };
        assert_eq!(commit.to_string(), "0123456789-dirty");
        assert_eq!(
            ConfigCommit::parse("0123456789-dirty"),
            ("0123456789", true)
        );
        assert_eq!(ConfigCommit::parse("0123456789"), ("0123456789", false));
        assert_eq!(short("0123456789"), "0123456");
    }
}
