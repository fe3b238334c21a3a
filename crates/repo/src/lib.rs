//! The configuration repository, through libgit2 (`git2`, used nowhere else): the configuration
//! tree at any commit, blame of configuration lines, and the [`Ledger`] kept as git notes
//! ([`GitLedger`]: apply records and badges, one JSON object per line).
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
use serde::Serialize;

mod changes;
pub mod lease;
pub mod remote;
mod workdir;
pub use changes::{ConfigChange, ConfigHistory};
pub use workdir::{data_paths, load_dir};

use orgsync_core::ledger::{ApplyRecord, Badge, Ledger, LedgerError};
pub use orgsync_core::ledger::{CommitInfo, ConfigCommit, short};

/// The notes ref that holds apply records. Separate from `refs/notes/commits` so that a team's
/// own notes and orgsync's never mix; push it with `git push origin refs/notes/orgsync`.
pub const NOTES_REF: &str = "refs/notes/orgsync";

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
    // libgit2 handles may move between threads but not be shared: one caller at a time, so that
    // the configuration, the ledger and blame can share one repository.
    repo: std::sync::Mutex<Repository>,
    /// The configuration directory relative to the work tree root, `/`-separated; empty at the
    /// root.
    prefix: String,
}

impl fmt::Debug for ConfigRepo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigRepo")
            .field("path", &self.git().path())
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl ConfigRepo {
    fn git(&self) -> std::sync::MutexGuard<'_, Repository> {
        self.repo.lock().unwrap_or_else(|e| e.into_inner())
    }

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
        Ok(Some(ConfigRepo {
            repo: std::sync::Mutex::new(repo),
            prefix,
        }))
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
        let repo = self.git();
        let commit = repo
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
        let repo = self.git();
        match repo.head() {
            Ok(head) => Ok(Some(commit_info(
                &head.peel_to_commit().doing("read HEAD")?,
            ))),
            Err(e) if matches!(e.code(), ErrorCode::UnbornBranch | ErrorCode::NotFound) => Ok(None),
            Err(e) => Err(e).doing("read HEAD"),
        }
    }

    /// The configuration files at `commit`: every `*.yaml`/`*.yml` blob at the root of the
    /// configuration directory, as `config::load_files` takes them — the same selection
    /// [`load_dir`] makes in the work tree.
    pub fn config_files(&self, commit: &str) -> Result<Vec<(String, Vec<u8>)>, GitError> {
        let repo = self.git();
        let oid = Oid::from_str(commit).doing("parse a commit id")?;
        let tree = repo
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
            repo.find_tree(entry.id()).doing("read a tree")?
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
            let blob = repo.find_blob(entry.id()).doing("read a file")?;
            files.push((name.to_owned(), blob.content().to_vec()));
        }
        Ok(files)
    }

    /// True when the configuration files in the work tree differ from HEAD: a YAML file at the
    /// root of the configuration directory is modified, added, deleted, untracked or ignored
    /// (ignored files are read by `load_dir` but are in no commit). `data_paths` (the source and
    /// target files) are not configuration and do not count: `apply` writes the file target.
    pub fn config_dirty(&self, data_paths: &[&str]) -> Result<bool, GitError> {
        let repo = self.git();
        let mut opts = StatusOptions::new();
        opts.include_untracked(true)
            .include_ignored(true)
            .recurse_untracked_dirs(false)
            .recurse_ignored_dirs(false)
            .exclude_submodules(true);
        if !self.prefix.is_empty() {
            opts.pathspec(format!("{}/", self.prefix));
        }
        let statuses = repo
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
        let repo = self.git();
        let mut opts = BlameOptions::new();
        let committed;
        let buffered;
        let blame = match at {
            BlameAt::Commit(id) => {
                opts.newest_commit(Oid::from_str(id).doing("parse a commit id")?);
                committed = repo
                    .blame_file(Path::new(&path), Some(&mut opts))
                    .doing("blame a configuration file")?;
                &committed
            }
            BlameAt::WorkTree => {
                committed = match repo.blame_file(Path::new(&path), Some(&mut opts)) {
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
                let workdir = repo.workdir().unwrap_or(Path::new("."));
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
                let info = commit_info(&repo.find_commit(id).doing("read a commit")?);
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
        let repo = self.git();
        std::env::var("GITHUB_ACTOR")
            .ok()
            .filter(|a| !a.trim().is_empty())
            .or_else(|| repo.config().and_then(|c| c.get_string("user.name")).ok())
            .filter(|a| !a.trim().is_empty())
    }

    /// Appends `record` as one line to the note on `commit` under [`NOTES_REF`]. One line per
    /// apply, so that several applies on one commit (nightly runs) accumulate, and notes from two
    /// clones merge line by line ([`ConfigRepo::merge_notes`]).
    pub fn append_note(&self, commit: &str, record: &str) -> Result<(), GitError> {
        let repo = self.git();
        let oid = Oid::from_str(commit).doing("parse a commit id")?;
        let mut text = match repo.find_note(Some(NOTES_REF), oid) {
            Ok(note) => note.message().unwrap_or_default().to_owned(),
            Err(e) if e.code() == ErrorCode::NotFound => String::new(),
            Err(e) => return Err(e).doing("read the apply records"),
        };
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(record.trim_end());
        text.push('\n');
        let signature = signature(&repo)?;
        repo.note(&signature, &signature, Some(NOTES_REF), oid, &text, true)
            .doing("write the apply record")?;
        Ok(())
    }

    /// The repository's git directory (`.git`), for the git command line.
    pub fn git_dir(&self) -> PathBuf {
        self.git().path().to_owned()
    }

    /// The remote the configuration travels with: `origin`, else the only remote; `None`
    /// without one (or with several and no `origin`: which one is meant cannot be told).
    pub fn remote_name(&self) -> Option<String> {
        let repo = self.git();
        let names = repo.remotes().ok()?;
        let names: Vec<&str> = names.iter().flatten().flatten().collect();
        if names.contains(&"origin") {
            return Some("origin".to_owned());
        }
        match names.as_slice() {
            [only] => Some((*only).to_owned()),
            _ => None,
        }
    }

    /// True when the repository has a remote called `name`.
    pub fn has_remote(&self, name: &str) -> bool {
        self.git().find_remote(name).is_ok()
    }

    /// The object `refname` points at, `None` when it does not exist.
    pub fn ref_target(&self, refname: &str) -> Result<Option<String>, GitError> {
        match self.git().refname_to_id(refname) {
            Ok(oid) => Ok(Some(oid.to_string())),
            Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
            Err(e) => Err(e).doing("read a ref"),
        }
    }

    /// Deletes `refname` when it exists.
    pub fn delete_ref(&self, refname: &str) -> Result<(), GitError> {
        let repo = self.git();
        match repo.find_reference(refname) {
            Ok(mut r) => r.delete().doing("delete a ref"),
            Err(e) if e.code() == ErrorCode::NotFound => Ok(()),
            Err(e) => Err(e).doing("read a ref"),
        }
    }

    /// Writes a commit that no ref points at, with an empty tree and `message`: the body of a
    /// lease ([`crate::lease`]), pushed to the remote by id.
    pub fn loose_commit(&self, message: &str) -> Result<String, GitError> {
        let repo = self.git();
        let tree = repo
            .treebuilder(None)
            .and_then(|b| b.write())
            .doing("write an empty tree")?;
        let tree = repo.find_tree(tree).doing("read an empty tree")?;
        let signature = signature(&repo)?;
        let oid = repo
            .commit(None, &signature, &signature, message, &tree, &[])
            .doing("write a lease commit")?;
        Ok(oid.to_string())
    }

    /// The message of the commit `refname` points at.
    pub fn ref_message(&self, refname: &str) -> Result<Option<String>, GitError> {
        let repo = self.git();
        let oid = match repo.refname_to_id(refname) {
            Ok(oid) => oid,
            Err(e) if e.code() == ErrorCode::NotFound => return Ok(None),
            Err(e) => return Err(e).doing("read a ref"),
        };
        let commit = repo.find_commit(oid).doing("read a lease commit")?;
        Ok(Some(commit.message().unwrap_or_default().to_owned()))
    }

    /// Merges the notes at `theirs` (fetched from the remote) into [`NOTES_REF`]: a fast-forward
    /// when one side has all of the other's, else a merge commit whose notes hold, per commit,
    /// this clone's lines followed by the remote's lines this clone lacks. Records are lines
    /// (one JSON object each), so nothing is lost and nothing doubles, and the order of each
    /// side's lines is kept — unlike `git notes merge -s cat_sort_uniq`, which sorts them.
    /// Returns true when [`NOTES_REF`] changed.
    pub fn merge_notes(&self, theirs: &str) -> Result<bool, GitError> {
        let repo = self.git();
        let Some(theirs_tip) = repo.refname_to_id(theirs).ok() else {
            return Ok(false);
        };
        let ours_tip = match repo.refname_to_id(NOTES_REF) {
            Ok(oid) => oid,
            Err(e) if e.code() == ErrorCode::NotFound => {
                repo.reference(
                    NOTES_REF,
                    theirs_tip,
                    false,
                    "orgsync: notes from the remote",
                )
                .doing("write the notes ref")?;
                return Ok(true);
            }
            Err(e) => return Err(e).doing("read the notes ref"),
        };
        if ours_tip == theirs_tip
            || repo
                .graph_descendant_of(ours_tip, theirs_tip)
                .doing("compare notes histories")?
        {
            return Ok(false);
        }
        if repo
            .graph_descendant_of(theirs_tip, ours_tip)
            .doing("compare notes histories")?
        {
            repo.reference_matching(
                NOTES_REF,
                theirs_tip,
                true,
                ours_tip,
                "orgsync: notes fast-forwarded to the remote's",
            )
            .doing("fast-forward the notes ref")?;
            return Ok(true);
        }
        let read = |refname: &str| -> Result<BTreeMap<Oid, String>, GitError> {
            let mut out = BTreeMap::new();
            for item in repo.notes(Some(refname)).doing("read notes")? {
                let (_, annotated) = item.doing("read notes")?;
                let note = repo
                    .find_note(Some(refname), annotated)
                    .doing("read a note")?;
                out.insert(annotated, note.message().unwrap_or_default().to_owned());
            }
            Ok(out)
        };
        let mut merged = read(NOTES_REF)?;
        for (annotated, text) in read(theirs)? {
            let ours = merged.entry(annotated).or_default();
            let have: std::collections::HashSet<String> = ours.lines().map(str::to_owned).collect();
            for line in text.lines().filter(|l| !have.contains(*l)) {
                if !ours.is_empty() && !ours.ends_with('\n') {
                    ours.push('\n');
                }
                ours.push_str(line);
                ours.push('\n');
            }
        }
        let mut tree = repo.treebuilder(None).doing("build the notes tree")?;
        for (annotated, text) in &merged {
            let blob = repo.blob(text.as_bytes()).doing("write a note")?;
            tree.insert(annotated.to_string(), blob, 0o100_644)
                .doing("build the notes tree")?;
        }
        let tree = tree.write().doing("write the notes tree")?;
        let tree = repo.find_tree(tree).doing("read the notes tree")?;
        let signature = signature(&repo)?;
        let (ours, theirs) = (
            repo.find_commit(ours_tip).doing("read the notes")?,
            repo.find_commit(theirs_tip).doing("read the notes")?,
        );
        repo.commit(
            Some(NOTES_REF),
            &signature,
            &signature,
            "Notes merged by orgsync",
            &tree,
            &[&ours, &theirs],
        )
        .doing("write the merged notes")?;
        Ok(true)
    }

    /// Every note under [`NOTES_REF`] with the commit it annotates, in history order: a commit's
    /// note before its descendants' (notes on commits HEAD does not reach come last). Records
    /// carry their time to the second, so two applies within one second on two commits are told
    /// apart by this order, not by the order git lists notes in (by the annotated object's id).
    pub fn notes(&self) -> Result<Vec<(CommitInfo, String)>, GitError> {
        let repo = self.git();
        let iter = match repo.notes(Some(NOTES_REF)) {
            Ok(iter) => iter,
            Err(e) if e.code() == ErrorCode::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).doing("read the apply records"),
        };
        let mut out = Vec::new();
        for item in iter {
            let (_, annotated) = item.doing("read the apply records")?;
            let note = repo
                .find_note(Some(NOTES_REF), annotated)
                .doing("read an apply record")?;
            // A note on something other than a commit (a blob, a tree) is not orgsync's.
            let Ok(commit) = repo.find_commit(annotated) else {
                continue;
            };
            out.push((
                commit_info(&commit),
                note.message().unwrap_or_default().to_owned(),
            ));
        }
        let order = history_order(&repo);
        out.sort_by_key(|(c, _)| order.get(&c.id).copied().unwrap_or(usize::MAX));
        Ok(out)
    }
}

/// The git user, or `orgsync` when none is configured (a CI runner).
fn signature(repo: &Repository) -> Result<Signature<'static>, GitError> {
    repo.signature()
        .or_else(|_| Signature::now("orgsync", "orgsync@localhost"))
        .doing("make a signature for a commit")
}

/// Commit id → its position from the root in HEAD's history (topological: parents first).
fn history_order(repo: &Repository) -> std::collections::HashMap<String, usize> {
    let mut order = std::collections::HashMap::new();
    let Ok(mut walk) = repo.revwalk() else {
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

/// The ledger in the git notes of the configuration repository ([`NOTES_REF`]): records and
/// badges are lines of the note on the configuration commit.
pub struct GitLedger {
    repo: std::sync::Arc<ConfigRepo>,
    commit: String,
}

impl fmt::Debug for GitLedger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitLedger")
            .field("repo", &self.repo)
            .field("commit", &self.commit)
            .finish()
    }
}

impl GitLedger {
    /// The ledger of `repo`'s configuration directory; badges are written on `commit` (a full
    /// id), records on the commit they name.
    pub fn new(repo: std::sync::Arc<ConfigRepo>, commit: String) -> GitLedger {
        GitLedger { repo, commit }
    }

    fn repo(&self) -> &ConfigRepo {
        &self.repo
    }

    fn lines(&self) -> Result<Vec<String>, LedgerError> {
        let notes = self
            .repo()
            .notes()
            .map_err(|e| LedgerError(e.to_string()))?;
        Ok(notes.into_iter().map(|(_, text)| text).collect())
    }
}

impl Ledger for GitLedger {
    fn config_dir(&self) -> String {
        self.repo().prefix().to_owned()
    }

    fn actor(&self) -> String {
        self.repo().actor().unwrap_or_else(|| "unknown".to_owned())
    }

    fn records(&self) -> Result<Vec<ApplyRecord>, LedgerError> {
        let prefix = self.config_dir();
        Ok(self
            .lines()?
            .iter()
            .flat_map(|text| ApplyRecord::parse_note(text))
            .filter(|r| r.config_dir == prefix)
            .collect())
    }

    fn append_record(&self, record: &ApplyRecord) -> Result<(), LedgerError> {
        self.repo()
            .append_note(&record.config_commit, &record.to_line())
            .map_err(|e| LedgerError(e.to_string()))
    }

    fn badges(&self, target: &str) -> Result<Vec<Badge>, LedgerError> {
        let prefix = self.config_dir();
        Ok(self
            .lines()?
            .iter()
            .flat_map(|text| Badge::parse_note(text))
            .filter(|b| b.target == target && b.config_dir == prefix)
            .collect())
    }

    fn append_badge(&self, badge: &Badge) -> Result<(), LedgerError> {
        let line = serde_json::to_string(badge).expect("a badge serialises");
        self.repo()
            .append_note(&self.commit, &line)
            .map_err(|e| LedgerError(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use git2::{Repository, Signature, Time};

    use super::*;

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
}
