//! The `file` target: a JSON workspace (accounts, communities, function groups) standing in for
//! the workforce app, so the quickstart and the tests run offline.
//!
//! An apply holds an exclusive lock on `<path>.lock` from `begin_apply` to `finish_apply`, works
//! on the state in memory (what an action does is defined once, in [`orgsync_core::memory`]) and
//! replaces the file atomically at the end: a crash leaves either the old or the new workspace,
//! never half of one. The lock file is left in place: deleting it would let a third process lock
//! a new file while a second still holds the old one.
//!
//! What it refuses and cleans up:
//! - A file that is not a workspace (a JSON object with keys other than `accounts`,
//!   `communities`, `function_groups`) is never read as one, so never overwritten.
//! - A `path` outside the configuration directory needs `allow_outside_config_dir: true`.
//! - A symlinked workspace is written through: the file it points at is replaced, the link stays.
//! - The temporary file (owner-only permissions) of an apply killed half-way holds personal
//!   data: the next apply (or plan, when no apply holds the lock) removes it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{ApplyContext, ConnectorError, Target, TargetCapabilities};
use crate::file_source::{Found, email_hash, fx_hash_bytes, some_hash};
use crate::skim::{Scalar, Skim};
use crate::split;
use orgsync_core::config::FileTargetConfig;
use orgsync_core::focus::{Keys, TargetPart};
use orgsync_core::memory::MemoryTarget;
use orgsync_core::model::{Account, TargetGroup, TargetSnapshot};
use orgsync_core::vocabulary::Action;

/// A JSON workspace file.
#[derive(Debug)]
pub struct FileTarget {
    path: PathBuf,
    /// The held lock, between `begin_apply` and `finish_apply`.
    lock: Option<File>,
    /// The state being applied to, between `begin_apply` and `finish_apply`.
    state: Option<Working>,
}

/// The state of an apply in progress.
#[derive(Debug)]
enum Working {
    /// As read: nothing executed yet, nothing to write.
    Read(TargetSnapshot),
    /// Indexed for executing actions (built on the first one, so a no-op apply costs nothing).
    Applying(MemoryTarget),
}

impl FileTarget {
    /// A target on the workspace at `path`. A missing file is an empty workspace.
    pub fn new(path: &Path) -> FileTarget {
        FileTarget {
            path: path.to_owned(),
            lock: None,
            state: None,
        }
    }

    /// The target of a configuration in `dir`: refuses a path outside `dir` unless allowed.
    pub fn for_config(dir: &Path, cfg: &FileTargetConfig) -> Result<FileTarget, ConnectorError> {
        let path = dir.join(&cfg.path);
        if !cfg.allow_outside_config_dir && !inside(dir, &path) {
            return Err(ConnectorError::File {
                path: path.display().to_string(),
                message: format!(
                    "target.path is outside the configuration directory {}; set \
                     target.allow_outside_config_dir: true if orgsync should write there",
                    dir.display()
                ),
            });
        }
        Ok(FileTarget::new(&path))
    }

    /// The workspace's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock_path(&self) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(".lock");
        PathBuf::from(name)
    }

    fn file_error(&self, path: &Path, message: impl std::fmt::Display) -> ConnectorError {
        ConnectorError::File {
            path: path.display().to_string(),
            message: message.to_string(),
        }
    }

    /// Cleans up after an interrupted apply, unless one is running now.
    fn clean_up(&self) {
        match File::open(self.lock_path()) {
            Ok(lock) => {
                if lock.try_lock().is_ok() {
                    self.remove_stale_temp_files();
                    let _ = lock.unlock();
                }
            }
            // No lock file: no apply is running.
            Err(e) if e.kind() == io::ErrorKind::NotFound => self.remove_stale_temp_files(),
            Err(_) => {}
        }
    }

    fn read(&self) -> Result<TargetSnapshot, ConnectorError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(TargetSnapshot::default()),
            Err(e) => {
                return Err(self.file_error(&self.path, format!("cannot read the workspace: {e}")));
            }
        };
        self.parse(&bytes)
    }

    /// A workspace from its bytes.
    fn parse(&self, bytes: &[u8]) -> Result<TargetSnapshot, ConnectorError> {
        let workspace: Workspace =
            serde_json::from_slice(bytes).map_err(|e| ConnectorError::Data {
                path: self.path.display().to_string(),
                line: e.line(),
                message: format!(
                    "not an orgsync workspace ({e}); orgsync will not overwrite it: point \
                     target.path at a workspace or at a new file"
                ),
            })?;
        Ok(TargetSnapshot {
            accounts: workspace.accounts,
            communities: workspace.communities,
            function_groups: workspace.function_groups,
        })
    }

    /// The file to replace: the workspace, or what its symlink points at (the link stays).
    fn real_path(&self) -> PathBuf {
        std::fs::canonicalize(&self.path).unwrap_or_else(|_| self.path.clone())
    }

    /// The prefix of this workspace's temporary files.
    fn temp_prefix(&self) -> String {
        let name = self
            .real_path()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        format!(".orgsync-{name}-")
    }

    /// Removes temporary files an apply killed half-way left (they hold personal data). Only
    /// while holding the lock: an apply in progress owns its temporary file.
    fn remove_stale_temp_files(&self) {
        let real = self.real_path();
        let dir = match real.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        let prefix = self.temp_prefix();
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            // Ours, or the unnamed ones of orgsync 0.1 (`.orgsync-XXXXXX.tmp`) once they are old.
            let legacy = name.len() == ".orgsync-XXXXXX.tmp".len()
                && entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > std::time::Duration::from_secs(3600));
            if name.ends_with(".tmp")
                && (name.starts_with(&prefix) || legacy && name.starts_with(".orgsync-"))
            {
                match std::fs::remove_file(entry.path()) {
                    Ok(()) => tracing::warn!(
                        "removed {}, left by an apply that was interrupted",
                        entry.path().display()
                    ),
                    Err(e) => tracing::warn!("cannot remove {}: {e}", entry.path().display()),
                }
            }
        }
    }

    /// Writes the state next to the workspace, flushes it to disk and renames it over the
    /// workspace, keeping the old file's permissions.
    fn write_atomically(&self, state: &TargetSnapshot) -> Result<(), ConnectorError> {
        // Through a symlink: the temporary file goes next to the real file (a rename does not
        // cross file systems) and replaces it, so the link stays a link.
        let real = self.real_path();
        let dir = match real.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let err = |e: io::Error| self.file_error(&self.path, format!("cannot write: {e}"));
        let prefix = self.temp_prefix();
        let mut tmp = tempfile::Builder::new()
            .prefix(&prefix)
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(err)?;
        {
            let mut w = BufWriter::with_capacity(1 << 16, tmp.as_file_mut());
            orgsync_core::model::write_workspace(&mut w, state).map_err(err)?;
            w.flush().map_err(err)?;
        }
        if let Ok(meta) = std::fs::metadata(&real) {
            tmp.as_file()
                .set_permissions(meta.permissions())
                .map_err(err)?;
        }
        tmp.as_file().sync_all().map_err(err)?;
        tmp.persist(&real).map_err(|e| err(e.error))?;
        // Make the rename itself durable. Not every platform can open a directory; the data is
        // already safe on those that cannot.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    fn release(&mut self) {
        if let Some(lock) = self.lock.take() {
            // Closing the file releases the lock too; unlocking first says so explicitly.
            let _ = lock.unlock();
        }
        self.state = None;
    }
}

/// The workspace as a file: only orgsync's keys, so that another JSON file is never taken for
/// an empty workspace and replaced.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Workspace {
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    #[serde(default)]
    accounts: Vec<Account>,
    #[serde(default)]
    communities: Vec<TargetGroup>,
    #[serde(default)]
    function_groups: Vec<TargetGroup>,
}

/// Whether `path` is inside `dir`, judged by the real location of its directory (a `..` or a
/// symlinked directory does not get out; a workspace that is itself a symlink in `dir` is in).
fn inside(dir: &Path, path: &Path) -> bool {
    let Ok(dir) = std::fs::canonicalize(dir) else {
        return false;
    };
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match (std::fs::canonicalize(parent), path.file_name()) {
        (Ok(parent), Some(name)) => name != ".." && parent.join(name).starts_with(&dir),
        _ => false,
    }
}

impl Target for FileTarget {
    /// The file target is the Oneteam model in a file: everything orgsync plans.
    fn capabilities(&self) -> TargetCapabilities {
        TargetCapabilities::everything("the target file")
    }

    /// A local file: written once at the end, no requests.
    fn pace(&self) -> Option<orgsync_core::estimate::ApplyPace> {
        Some(orgsync_core::estimate::ApplyPace::local("the target file"))
    }

    fn fetch(&mut self) -> Result<TargetSnapshot, ConnectorError> {
        self.clean_up();
        self.read()
    }

    fn part(&mut self) -> Result<Option<Box<dyn TargetPart>>, ConnectorError> {
        self.clean_up();
        let Ok(file) = File::open(&self.path) else {
            // No workspace yet: reading it whole costs nothing.
            return Ok(None);
        };
        let start = std::time::Instant::now();
        if let Some(part) = WorkspacePart::stream(self, file, split::HALVES_FROM) {
            tracing::debug!(
                accounts = part.accounts.len(),
                ms = start.elapsed().as_millis() as u64,
                "read the workspace's accounts' external ids and addresses"
            );
            return Ok(Some(Box::new(part)));
        }
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(_) => return Ok(None),
        };
        Ok(WorkspacePart::skim(self, bytes).map(|p| Box::new(p) as Box<dyn TargetPart>))
    }

    fn begin_apply(&mut self) -> Result<TargetSnapshot, ConnectorError> {
        self.release();
        let lock_path = self.lock_path();
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| self.file_error(&lock_path, format!("cannot open the lock file: {e}")))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(ConnectorError::Locked(format!(
                    "another apply is running on {} (lock {})",
                    self.path.display(),
                    lock_path.display()
                )));
            }
            Err(TryLockError::Error(e)) => {
                return Err(self.file_error(&lock_path, format!("cannot lock: {e}")));
            }
        }
        self.lock = Some(lock);
        self.remove_stale_temp_files();
        match self.read() {
            Ok(state) => {
                self.state = Some(Working::Read(state.clone()));
                Ok(state)
            }
            Err(e) => {
                self.release();
                Err(e)
            }
        }
    }

    fn execute(&mut self, action: &Action, ctx: &mut ApplyContext) -> Result<(), ConnectorError> {
        // What an action does is `connectors::memory`'s to say; `MemoryTarget` is its indexed form
        // of `apply_action`, so a large plan does not scan every account per action.
        if let Some(Working::Read(state)) = self.state.take_if(|w| matches!(w, Working::Read(_))) {
            self.state = Some(Working::Applying(MemoryTarget::new(state)));
        }
        match &mut self.state {
            Some(Working::Applying(target)) => {
                target.apply(action, ctx).map_err(ConnectorError::Action)
            }
            _ => Err(ConnectorError::Action(
                "internal error: execute called outside an apply".to_owned(),
            )),
        }
    }

    fn finish_apply(&mut self) -> Result<(), ConnectorError> {
        let result = match &self.state {
            Some(Working::Applying(target)) => self.write_atomically(target.state()),
            _ => Ok(()),
        };
        self.release();
        result
    }
}

/// One person's part of a workspace, for `explain` ([`orgsync_core::focus`]): the accounts
/// skimmed once for their external ids and addresses; the linked ones are read, with every
/// group, by the workspace's own reader.
struct WorkspacePart {
    path: PathBuf,
    text: String,
    /// Each member of the workspace object: its key and the span of its value.
    members: Vec<(String, std::ops::Range<usize>)>,
    /// Each account's span, and the hashes of its external id and of its address's
    /// [`orgsync_core::identity::email_key`] (a match is then checked on the text).
    accounts: split::Both<AccountKeys>,
    /// The workspace as it was read through [`split::stream_list_halves`], still open: `text`
    /// is the workspace with no account, and the accounts' spans are in this file.
    streamed: Option<File>,
    /// The accounts whose hashes matched the keys linked so far.
    found: Found,
}

/// An account's span and the hashes of its external id and of its address's
/// [`orgsync_core::identity::email_key`], as [`some_hash`]es: 0 for none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct AccountKeys {
    span: (u32, u32),
    external_id: u64,
    email: u64,
}

impl AccountKeys {
    fn span(&self) -> std::ops::Range<usize> {
        self.span.0 as usize..self.span.1 as usize
    }
}

/// The keys [`WorkspacePart::accounts`] keeps, from an account's external id and address as
/// written (text or null: anything else is left to the reader, whole). `None` past 4 GiB.
fn account_keys(
    span: std::ops::Range<usize>,
    external_id: Option<&[u8]>,
    email: Option<&[u8]>,
) -> Option<AccountKeys> {
    Some(AccountKeys {
        span: (
            u32::try_from(span.start).ok()?,
            u32::try_from(span.end).ok()?,
        ),
        external_id: external_id.map_or(0, |x| some_hash(fx_hash_bytes(x))),
        email: email.and_then(email_hash).map_or(0, some_hash),
    })
}

/// The external id and address of the account object at the cursor, member by member.
fn skim_account(skim: &mut Skim<'_>) -> Option<AccountKeys> {
    let (mut external_id, mut email) = (None, None);
    let span = skim.object(|key, skim| {
        let is_email = match key.bytes() {
            b"external_id" => false,
            b"email" => true,
            _ => return skim.skip().map(drop),
        };
        let value = match skim.scalar()? {
            Scalar::Text(t) => Some(t),
            Scalar::Null => None,
            _ => return None,
        };
        if is_email {
            email = value;
        } else {
            external_id = value;
        }
        Some(())
    })?;
    account_keys(
        span,
        external_id.as_deref().map(str::as_bytes),
        email.as_deref().map(str::as_bytes),
    )
}

/// What one thread of [`WorkspacePart::stream`] keeps while it reads accounts.
#[derive(Default)]
struct AccountReader {
    hints: split::KeyHints,
    accounts: Vec<AccountKeys>,
}

impl AccountReader {
    /// A plain account is read where its two keys are, others member by member.
    fn read(&mut self, row: split::Row<'_>) -> Option<()> {
        let start = usize::try_from(row.start).ok()?;
        let span = start..start + row.bytes.len();
        let keys = if row.plain {
            let mut values: [Option<split::Value<'_>>; 2] = Default::default();
            // The workspace's reader refuses an account with a key given twice: the first of
            // each is read, and the rest of the account is not looked at.
            row.first_members(
                &mut self.hints,
                |key| match key {
                    b"external_id" => Some(0),
                    b"email" => Some(1),
                    _ => None,
                },
                &mut values,
            )?;
            let [external_id, email] = values.map(|v| match v {
                None | Some(split::Value::Null) => Some(None),
                Some(split::Value::Text(t)) => Some(Some(t)),
                Some(_) => None,
            });
            account_keys(span, external_id?, email?)?
        } else {
            let inner = skim_account(&mut Skim::new(row.bytes))?;
            let start = u32::try_from(start).ok()?;
            AccountKeys {
                span: (
                    start.checked_add(inner.span.0)?,
                    start.checked_add(inner.span.1)?,
                ),
                ..inner
            }
        };
        self.accounts.push(keys);
        Some(())
    }
}

impl WorkspacePart {
    /// `None` when the skimmer cannot read the workspace as the reader would (then it is read
    /// whole, and the reader reports what is wrong).
    fn skim(target: &FileTarget, bytes: Vec<u8>) -> Option<WorkspacePart> {
        let text = String::from_utf8(bytes).ok()?;
        let mut members = Vec::new();
        let mut accounts = Vec::new();
        let mut skim = Skim::new(text.as_bytes());
        skim.object(|key, skim| {
            let key = String::from_utf8(key.bytes().to_vec()).ok()?;
            if members.iter().any(|(k, _)| *k == key) {
                return None; // a key twice: the reader refuses it
            }
            let span = if key == "accounts" {
                let begin = skim.position();
                skim.list(|skim| {
                    accounts.push(skim_account(skim)?);
                    Some(())
                })?;
                begin..skim.position()
            } else {
                skim.skip()?
            };
            members.push((key, span));
            Some(())
        })?;
        skim.done().then_some(WorkspacePart {
            path: target.path.clone(),
            text,
            members,
            accounts: accounts.into(),
            streamed: None,
            found: Found::default(),
        })
    }

    /// [`WorkspacePart::skim`] through [`split::stream_list_halves`] (by two threads from
    /// `halves_from` bytes): the accounts are read as they come (a plain one up to its two keys,
    /// others member by member), the rest of the workspace is skimmed as before. `None` where
    /// the skimmer gives up, and also when the accounts do not start in the first 16 MB.
    fn stream(target: &FileTarget, file: File, halves_from: u64) -> Option<WorkspacePart> {
        let find = |first: &[u8]| {
            let mut skim = Skim::new(first);
            skim.eat(b'{')?;
            loop {
                let key = skim.key()?;
                if key.bytes() == b"accounts" {
                    // Its value's first byte, once read.
                    skim.peek()?;
                    return Some(skim.position());
                }
                skim.skip()?;
                skim.eat(b',')?;
            }
        };
        let mut earlier = AccountReader::default();
        let mut later = AccountReader::default();
        let (around, halves) = split::stream_list_halves(
            &file,
            split::CHUNK,
            halves_from,
            find,
            |row| earlier.read(row),
            |row| later.read(row),
        )?;
        let mut accounts = split::Both::from(earlier.accounts);
        if halves {
            accounts.then(later.accounts.into());
        }
        // The workspace without its accounts, skimmed for its other members.
        let mut rest = around.head;
        rest.extend_from_slice(b"[]");
        rest.extend_from_slice(&around.tail);
        let part = WorkspacePart::skim(target, rest)?;
        Some(WorkspacePart {
            accounts,
            streamed: Some(file),
            ..part
        })
    }

    /// The accounts `keys` link, as written: those whose hashes match one of the keys, read
    /// (a hash may match by chance: the account's own keys decide). `None` when one of them
    /// does not read as an account (the whole workspace is read then, for the reader's error).
    fn linked(&self, keys: &Keys) -> Option<Vec<(String, Account)>> {
        let spans = self
            .found
            .of(keys, &self.accounts, |a| (a.external_id, a.email))
            .into_iter()
            .map(|i| self.accounts[i].span());
        let raw: Vec<String> = if let Some(file) = &self.streamed {
            split::read_spans(file, spans.map(|s| s.start as u64..s.end as u64))
                .ok()?
                .into_iter()
                .map(String::from_utf8)
                .collect::<Result<_, _>>()
                .ok()?
        } else {
            spans.map(|s| self.text[s].to_owned()).collect()
        };
        raw.into_iter()
            .map(|raw| {
                let account = serde_json::from_str::<Account>(&raw).ok()?;
                Some((raw, account))
            })
            .filter(|found| found.as_ref().is_none_or(|(_, a)| keys.links_account(a)))
            .collect()
    }
}

impl TargetPart for WorkspacePart {
    fn link(&self, keys: &mut Keys) -> bool {
        let mut grew = false;
        for (_, a) in self.linked(keys).unwrap_or_default() {
            grew |= keys.add_account(&a);
        }
        grew
    }

    fn read(&self, keys: &Keys) -> Result<TargetSnapshot, ConnectorError> {
        let target = FileTarget::new(&self.path);
        let Some(linked) = self.linked(keys) else {
            return target.read()?.read(keys);
        };
        // The workspace with only the linked accounts, read by the workspace's reader.
        let mut json = String::from("{");
        for (key, span) in &self.members {
            if json.len() > 1 {
                json.push(',');
            }
            json.push_str(&serde_json::Value::from(key.as_str()).to_string());
            json.push(':');
            if key == "accounts" {
                let raw: Vec<&str> = linked.iter().map(|(raw, _)| raw.as_str()).collect();
                json.push('[');
                json.push_str(&raw.join(","));
                json.push(']');
            } else {
                json.push_str(&self.text[span.clone()]);
            }
        }
        json.push('}');
        match target.parse(json.as_bytes()) {
            Ok(snapshot) => Ok(snapshot),
            // Read whole, for the reader's error at its line.
            Err(_) => target.read()?.read(keys),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use jiff::civil::date;

    use super::*;
    use orgsync_core::model::{Account, AccountStatus, TargetGroup};
    use orgsync_core::vocabulary::{Changes, Invite};

    fn ctx() -> ApplyContext {
        ApplyContext {
            interrupt: Default::default(),
            today: date(2025, 6, 2),
            created: HashMap::new(),
            accounts: HashMap::new(),
            progress: Default::default(),
        }
    }

    fn invite(subject: &str, email: &str) -> Action {
        Action {
            subject: subject.to_owned(),
            target_id: None,
            name: "Anna de Vries".to_owned(),
            changes: Changes::Invite(Invite {
                email: Some(email.to_owned()),
                external_id: Some(subject.to_owned()),
                first_name: Some("Anna".to_owned()),
                last_name: Some("de Vries".to_owned()),
                ..Invite::default()
            }),
            reason: "new hire".to_owned(),
            cause: Default::default(),
        }
    }

    fn sample() -> TargetSnapshot {
        TargetSnapshot {
            accounts: vec![Account {
                id: "u-1".to_owned(),
                external_id: Some("100".to_owned()),
                email: Some("sanne@example.com".to_owned()),
                first_name: "Sanne".to_owned(),
                last_name: "Jansen".to_owned(),
                managed: true,
                status: AccountStatus::Active,
                removed_at: None,
                communities: vec!["c-1".to_owned()],
                function_groups: vec![],
                protected: false,
            }],
            communities: vec![TargetGroup {
                id: "c-1".to_owned(),
                name: "Amsterdam".to_owned(),
                source_ids: vec!["1001".to_owned()],
                managed: true,
            }],
            function_groups: vec![],
        }
    }

    use orgsync_core::model::write_workspace;

    fn write_sample(path: &Path, state: &TargetSnapshot) {
        let mut out = Vec::new();
        write_workspace(&mut out, state).unwrap();
        std::fs::write(path, out).unwrap();
    }

    #[test]
    fn the_workspace_is_streamed_to_the_same_accounts_as_the_skimmer_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("workspace.json");
        let mut state = sample();
        let mut other = state.accounts[0].clone();
        other.id = "u-2".to_owned();
        other.external_id = None;
        other.email = Some("Ann \"Q\" <ANN@example.com>".to_owned());
        state.accounts.push(other);
        for i in 3..9 {
            let mut more = state.accounts[0].clone();
            more.id = format!("u-{i}");
            more.external_id = Some(format!("10{i}"));
            more.email = Some(format!("Person{i}@Example.com"));
            state.accounts.push(more);
        }
        write_sample(&path, &state);
        let target = FileTarget::new(&path);
        let bytes = std::fs::read(&path).unwrap();
        let skimmed = WorkspacePart::skim(&target, bytes).unwrap();
        // By one thread, and by two.
        for halves_from in [u64::MAX, 0] {
            let streamed =
                WorkspacePart::stream(&target, File::open(&path).unwrap(), halves_from).unwrap();
            assert!(streamed.streamed.is_some());
            assert_eq!(streamed.accounts, skimmed.accounts);
            assert_eq!(streamed.accounts.len(), 8);
            // The same part for any keys.
            for query in [
                "100",
                "sanne@example.com",
                "ann \"q\" <ann@example.com>",
                "person7@example.com",
                "105",
                "nobody",
            ] {
                let keys = Keys::of_query(query);
                assert_eq!(
                    streamed.read(&keys).unwrap(),
                    skimmed.read(&keys).unwrap(),
                    "{query}"
                );
            }
        }
    }

    #[test]
    fn explain_reads_its_accounts_from_the_workspace_it_streamed_even_when_an_apply_replaced_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("workspace.json");
        let before = sample();
        write_sample(&path, &before);
        let mut target = FileTarget::new(&path);
        let part = target.part().unwrap().unwrap();
        // An apply writes a new workspace beside it and renames it over the old one: the bytes
        // at the streamed account's span are now something else.
        let mut after = before.clone();
        after.accounts[0].first_name = "A much longer first name, shifting every span".to_owned();
        after.accounts.insert(0, {
            let mut a = before.accounts[0].clone();
            a.id = "u-0".to_owned();
            a.external_id = Some("7".to_owned());
            a.email = Some("seven@example.com".to_owned());
            a
        });
        let new = dir.path().join("workspace.json.new");
        write_sample(&new, &after);
        std::fs::rename(&new, &path).unwrap();
        let keys = Keys::of_query("100");
        assert_eq!(part.read(&keys).unwrap(), before.read(&keys).unwrap());
    }

    #[test]
    fn missing_file_is_an_empty_workspace() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = FileTarget::new(&dir.path().join("workspace.json"));
        assert_eq!(t.fetch().unwrap(), TargetSnapshot::default());
    }

    #[test]
    fn workspace_round_trips_one_record_per_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("workspace.json");
        write_sample(&path, &sample());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\n    {\"id\":\"u-1\","), "{text}");
        assert!(text.contains("\"function_groups\": []"), "{text}");
        assert_eq!(FileTarget::new(&path).fetch().unwrap(), sample());

        let mut out = Vec::new();
        write_workspace(&mut out, &TargetSnapshot::default()).unwrap();
        let empty: TargetSnapshot = serde_json::from_slice(&out).unwrap();
        assert_eq!(empty, TargetSnapshot::default());
    }

    #[test]
    fn invalid_workspace_is_a_data_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("workspace.json");
        std::fs::write(&path, "{\n\"accounts\": [\n{\"id\": 1}]}").unwrap();
        match FileTarget::new(&path).fetch() {
            Err(ConnectorError::Data { line, message, .. }) => {
                assert_eq!(line, 3);
                assert!(message.starts_with("not an orgsync workspace"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn apply_writes_the_new_state_atomically_and_keeps_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("workspace.json");
        write_sample(&path, &sample());
        let mut t = FileTarget::new(&path);
        assert_eq!(t.begin_apply().unwrap(), sample());
        let mut ctx = ctx();
        t.execute(&invite("200", "anna@example.com"), &mut ctx)
            .unwrap();
        // Nothing is written before the apply finishes.
        assert_eq!(FileTarget::new(&path).fetch().unwrap(), sample());
        t.finish_apply().unwrap();

        let after = FileTarget::new(&path).fetch().unwrap();
        let ids: Vec<&str> = after.accounts.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["u-1", "u-2"]);
        assert_eq!(after.accounts[1].external_id.as_deref(), Some("200"));
        assert_eq!(after.accounts[1].email.as_deref(), Some("anna@example.com"));

        // Only the workspace and its lock file remain: no temporary files.
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["workspace.json", "workspace.json.lock"]);
    }

    /// Regression (issue 11): apply replaced a JSON file that was not a workspace
    /// (`{"important": true}`) with a workspace, exit 0.
    #[test]
    fn a_file_that_is_not_a_workspace_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("important.json");
        std::fs::write(&path, r#"{"important": true}"#).unwrap();
        let mut t = FileTarget::new(&path);
        assert!(t.fetch().is_err());
        match t.begin_apply() {
            Err(ConnectorError::Data { message, .. }) => {
                assert!(message.contains("will not overwrite"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            r#"{"important": true}"#
        );
    }

    /// Regression (issue 11): `target.path` could point anywhere.
    #[test]
    fn a_path_outside_the_configuration_directory_needs_an_opt_in() {
        let root = tempfile::tempdir().unwrap();
        let config = root.path().join("config");
        std::fs::create_dir(&config).unwrap();
        let cfg = |path: &str, allow: bool| FileTargetConfig {
            path: path.to_owned(),
            allow_outside_config_dir: allow,
        };
        for path in ["../workspace.json", "sub/../../workspace.json"] {
            let e = FileTarget::for_config(&config, &cfg(path, false)).unwrap_err();
            assert!(e.to_string().contains("allow_outside_config_dir"), "{e}");
        }
        assert!(FileTarget::for_config(&config, &cfg("../workspace.json", true)).is_ok());
        assert!(FileTarget::for_config(&config, &cfg("workspace.json", false)).is_ok());
        let abs = root.path().join("elsewhere.json");
        assert!(FileTarget::for_config(&config, &cfg(&abs.to_string_lossy(), false)).is_err());
    }

    /// Regression (issue 11): a symlinked workspace became a regular file.
    #[cfg(unix)]
    #[test]
    fn a_symlinked_workspace_is_written_through_the_link() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("data").join("workspace.json");
        std::fs::create_dir(real.parent().unwrap()).unwrap();
        write_sample(&real, &sample());
        let link = dir.path().join("workspace.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let mut t = FileTarget::new(&link);
        t.begin_apply().unwrap();
        t.execute(&invite("200", "anna@example.com"), &mut ctx())
            .unwrap();
        t.finish_apply().unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(FileTarget::new(&real).fetch().unwrap().accounts.len(), 2);
    }

    /// Regression (issue 11): kill -9 during a write left `.orgsync-*.tmp` files with personal
    /// data that nothing removed.
    #[test]
    fn temporary_files_left_by_an_interrupted_apply_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("workspace.json");
        write_sample(&path, &sample());
        let stale = dir.path().join(".orgsync-workspace.json-a1B2c3.tmp");
        std::fs::write(&stale, "personal data").unwrap();
        let other = dir.path().join(".orgsync-other.json-a1B2c3.tmp");
        std::fs::write(&other, "another workspace's apply in progress").unwrap();
        FileTarget::new(&path).fetch().unwrap();
        assert!(!stale.exists(), "plan removes it when no apply runs");
        std::fs::write(&stale, "personal data").unwrap();
        let mut t = FileTarget::new(&path);
        t.begin_apply().unwrap();
        assert!(!stale.exists(), "apply removes it");
        t.finish_apply().unwrap();
        assert!(other.exists(), "another workspace's file is not touched");
    }

    #[test]
    fn apply_creates_a_missing_workspace() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("workspace.json");
        let mut t = FileTarget::new(&path);
        assert_eq!(t.begin_apply().unwrap(), TargetSnapshot::default());
        t.execute(&invite("200", "anna@example.com"), &mut ctx())
            .unwrap();
        t.finish_apply().unwrap();
        assert_eq!(t.fetch().unwrap().accounts.len(), 1);
    }

    #[test]
    fn an_apply_without_actions_does_not_rewrite_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("workspace.json");
        std::fs::write(&path, serde_json::to_string_pretty(&sample()).unwrap()).unwrap();
        let before = std::fs::read(&path).unwrap();
        let mut t = FileTarget::new(&path);
        t.begin_apply().unwrap();
        t.finish_apply().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn second_apply_is_locked_out_until_the_first_finishes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("workspace.json");
        let mut first = FileTarget::new(&path);
        let mut second = FileTarget::new(&path);
        first.begin_apply().unwrap();
        match second.begin_apply() {
            Err(ConnectorError::Locked(message)) => {
                let p = path.display();
                assert_eq!(
                    message,
                    format!("another apply is running on {p} (lock {p}.lock)")
                );
            }
            other => panic!("expected a lock error, got {other:?}"),
        }
        // Reading needs no lock.
        second.fetch().unwrap();
        first.finish_apply().unwrap();
        second.begin_apply().unwrap();
        second.finish_apply().unwrap();
    }

    #[test]
    fn dropping_a_target_releases_its_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("workspace.json");
        {
            let mut crashed = FileTarget::new(&path);
            crashed.begin_apply().unwrap();
        }
        let mut t = FileTarget::new(&path);
        t.begin_apply().unwrap();
        t.finish_apply().unwrap();
    }

    #[test]
    fn a_failed_action_is_an_action_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("workspace.json");
        let mut t = FileTarget::new(&path);
        t.begin_apply().unwrap();
        let mut bad = invite("300", "x@example.com");
        if let Changes::Invite(i) = &mut bad.changes {
            i.email = None;
        }
        assert!(matches!(
            t.execute(&bad, &mut ctx()),
            Err(ConnectorError::Action(_))
        ));
        t.finish_apply().unwrap();
    }

    #[test]
    fn execute_outside_an_apply_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = FileTarget::new(&dir.path().join("workspace.json"));
        assert!(t.execute(&invite("1", "a@b.c"), &mut ctx()).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn rewriting_keeps_the_file_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("workspace.json");
        write_sample(&path, &sample());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let mut t = FileTarget::new(&path);
        t.begin_apply().unwrap();
        t.execute(&invite("200", "anna@example.com"), &mut ctx())
            .unwrap();
        t.finish_apply().unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
    }

    /// The runner and the file target together: a plan made against a workspace applies to it,
    /// and the same plan is stale afterwards.
    #[test]
    fn applies_to_a_file_workspace_once() {
        use orgsync_core::apply::run::{ApplyError, ApplyOptions, apply};
        use orgsync_core::vocabulary::{Plan, Safety};
        let dir = tempfile::tempdir().unwrap();
        let mut t = FileTarget::new(&dir.path().join("workspace.json"));
        let actions = vec![invite("p1", "p1@example.com")];
        let p = Plan {
            format_version: orgsync_core::vocabulary::FORMAT_VERSION,
            created_at: "2025-06-02T08:00:00Z".to_owned(),
            orgsync_version: "test".to_owned(),
            at: date(2025, 6, 2),
            summary: Plan::count_actions(&actions),
            held: Default::default(),
            actions,
            manual_steps: Vec::new(),
            diagnostics: vec![],
            safety: Safety {
                safe: true,
                violations: vec![],
            },
            digests: orgsync_core::vocabulary::Digests {
                target: orgsync_core::digest::of_json(&TargetSnapshot::default()),
                previous_config_commit: None,
                ..Default::default()
            },
        };
        let opts = ApplyOptions {
            today: date(2025, 6, 2),
            force: false,
            interrupt: Default::default(),
            allow: Default::default(),
        };
        let report = apply(&mut t, &p, &opts).unwrap();
        assert!(report.is_success(), "{report:?}");
        assert_eq!(t.fetch().unwrap().accounts.len(), 1);
        assert!(matches!(
            apply(&mut t, &p, &opts),
            Err(ApplyError::Stale { .. })
        ));
    }
}
