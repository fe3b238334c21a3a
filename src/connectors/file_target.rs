//! The `file` target: a JSON workspace (accounts, communities, function groups) standing in for
//! the workforce app, so the quickstart and the tests run offline.
//!
//! An apply holds an exclusive lock on `<path>.lock` from `begin_apply` to `finish_apply`, works
//! on the state in memory (what an action does is defined once, in [`crate::connectors::memory`]) and
//! replaces the file atomically at the end: a crash leaves either the old or the new workspace,
//! never half of one. The lock file is left in place: deleting it would let a third process lock
//! a new file while a second still holds the old one.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{ApplyContext, ConnectorError, Target};
use crate::connectors::memory::MemoryTarget;
use crate::model::TargetSnapshot;
use crate::vocabulary::Action;

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

    fn read(&self) -> Result<TargetSnapshot, ConnectorError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(TargetSnapshot::default()),
            Err(e) => {
                return Err(self.file_error(&self.path, format!("cannot read the workspace: {e}")));
            }
        };
        serde_json::from_slice(&bytes).map_err(|e| ConnectorError::Data {
            path: self.path.display().to_string(),
            line: e.line(),
            message: format!("not a valid workspace: {e}"),
        })
    }

    /// Writes the state next to the workspace, flushes it to disk and renames it over the
    /// workspace, keeping the old file's permissions.
    fn write_atomically(&self, state: &TargetSnapshot) -> Result<(), ConnectorError> {
        let dir = match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let err = |e: io::Error| self.file_error(&self.path, format!("cannot write: {e}"));
        let mut tmp = tempfile::Builder::new()
            .prefix(".orgsync-")
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(err)?;
        {
            let mut w = BufWriter::with_capacity(1 << 16, tmp.as_file_mut());
            write_workspace(&mut w, state).map_err(err)?;
            w.flush().map_err(err)?;
        }
        if let Ok(meta) = std::fs::metadata(&self.path) {
            tmp.as_file()
                .set_permissions(meta.permissions())
                .map_err(err)?;
        }
        tmp.as_file().sync_all().map_err(err)?;
        tmp.persist(&self.path).map_err(|e| err(e.error))?;
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

impl Target for FileTarget {
    fn fetch(&mut self) -> Result<TargetSnapshot, ConnectorError> {
        self.read()
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

/// Writes a workspace as JSON with one record per line: small, and a change to one account is a
/// one-line diff. Readable by `serde_json` as a [`TargetSnapshot`].
pub fn write_workspace<W: Write>(w: &mut W, state: &TargetSnapshot) -> io::Result<()> {
    fn list<W: Write, T: Serialize>(w: &mut W, key: &str, items: &[T]) -> io::Result<()> {
        write!(w, "  \"{key}\": [")?;
        for (i, item) in items.iter().enumerate() {
            w.write_all(if i == 0 { b"\n    " } else { b",\n    " })?;
            serde_json::to_writer(&mut *w, item)?;
        }
        if items.is_empty() {
            w.write_all(b"]")
        } else {
            w.write_all(b"\n  ]")
        }
    }
    w.write_all(b"{\n")?;
    list(w, "accounts", &state.accounts)?;
    w.write_all(b",\n")?;
    list(w, "communities", &state.communities)?;
    w.write_all(b",\n")?;
    list(w, "function_groups", &state.function_groups)?;
    w.write_all(b"\n}\n")
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use jiff::civil::date;
    use serde_json::json;

    use super::*;
    use crate::model::{Account, AccountStatus, TargetGroup};
    use crate::plan::{ActionKind, Change};

    fn ctx() -> ApplyContext {
        ApplyContext {
            interrupt: Default::default(),
            today: date(2025, 6, 2),
            created: HashMap::new(),
        }
    }

    fn invite(subject: &str, email: &str) -> Action {
        let mut changes = BTreeMap::new();
        for (field, value) in [
            ("email", json!(email)),
            ("first_name", json!("Anna")),
            ("last_name", json!("de Vries")),
        ] {
            changes.insert(
                field.to_owned(),
                Change {
                    from: serde_json::Value::Null,
                    to: value,
                },
            );
        }
        Action {
            kind: ActionKind::Invite,
            subject: subject.to_owned(),
            target_id: None,
            name: "Anna de Vries".to_owned(),
            changes,
            reason: "new hire".to_owned(),
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

    fn write_sample(path: &Path, state: &TargetSnapshot) {
        let mut out = Vec::new();
        write_workspace(&mut out, state).unwrap();
        std::fs::write(path, out).unwrap();
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
                assert!(message.starts_with("not a valid workspace"), "{message}");
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
        bad.changes.remove("email");
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
}
