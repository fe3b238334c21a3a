//! The configuration's changes, for the audit report: HEAD's first-parent line, and on it the
//! commits that changed a configuration file (a YAML file at the root of the configuration
//! directory), with their full messages (pull request, approvers) and, for a merge, who wrote
//! the branch.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use git2::{ObjectType, Oid, Repository};

use super::{ConfigRepo, Doing, GitError, commit_info};
use orgsync_core::ledger::CommitInfo;

/// A commit on HEAD's first-parent line that changed the configuration.
#[derive(Debug, Clone)]
pub struct ConfigChange {
    /// The commit: a merge, a squashed pull request, or a direct commit.
    pub commit: CommitInfo,
    /// Its whole message (trailers such as `Reviewed-by:` included).
    pub message: String,
    /// A merge commit: its second parent is the merged branch.
    pub merge: bool,
    /// For a merge, the author of the merged branch's newest commit: who proposed the change.
    pub proposer: Option<String>,
    /// The configuration files changed, relative to the configuration directory.
    pub files: Vec<String>,
    /// Its position on the first-parent line, from the root.
    pub position: usize,
}

/// HEAD's first-parent line, as the audit reads it.
#[derive(Debug, Default)]
pub struct ConfigHistory {
    /// The configuration changes, oldest first.
    pub changes: Vec<ConfigChange>,
    /// Commit id → position on the first-parent line, from the root.
    pub positions: HashMap<String, usize>,
}

impl ConfigRepo {
    /// The commits of HEAD's first-parent line that changed the configuration, oldest first,
    /// and every commit's position on that line. Empty before the first commit.
    pub fn config_history(&self) -> Result<ConfigHistory, GitError> {
        let repo = self.git();
        let Ok(head) = repo.head().and_then(|h| h.peel_to_commit()) else {
            return Ok(ConfigHistory::default());
        };
        let mut line = vec![head];
        while let Ok(parent) = line[line.len() - 1].parent(0) {
            line.push(parent);
        }
        line.reverse();
        let mut history = ConfigHistory::default();
        let mut before: BTreeMap<String, Oid> = BTreeMap::new();
        for (position, commit) in line.iter().enumerate() {
            history.positions.insert(commit.id().to_string(), position);
            let files = self.yaml_blobs(&repo, commit)?;
            let mut changed: Vec<String> = files
                .iter()
                .filter(|(name, id)| before.get(*name) != Some(id))
                .map(|(name, _)| name.clone())
                .collect();
            changed.extend(before.keys().filter(|n| !files.contains_key(*n)).cloned());
            changed.sort();
            if !changed.is_empty() {
                let merge = commit.parent_count() > 1;
                let proposer = if merge {
                    commit
                        .parent(1)
                        .ok()
                        .map(|c| c.author().name().unwrap_or_default().to_owned())
                } else {
                    None
                };
                history.changes.push(ConfigChange {
                    commit: commit_info(commit),
                    message: String::from_utf8_lossy(commit.message_bytes()).into_owned(),
                    merge,
                    proposer,
                    files: changed,
                    position,
                });
            }
            before = files;
        }
        Ok(history)
    }

    /// The YAML files at the root of the configuration directory in `commit`: name → blob id.
    fn yaml_blobs(
        &self,
        repo: &Repository,
        commit: &git2::Commit<'_>,
    ) -> Result<BTreeMap<String, Oid>, GitError> {
        let tree = commit.tree().doing("read the commit's tree")?;
        let tree = if self.prefix.is_empty() {
            tree
        } else {
            match tree.get_path(Path::new(&self.prefix)) {
                Ok(entry) if entry.kind() == Some(ObjectType::Tree) => {
                    repo.find_tree(entry.id()).doing("read a tree")?
                }
                _ => return Ok(BTreeMap::new()),
            }
        };
        Ok(tree
            .iter()
            .filter_map(|entry| {
                let name = entry.name().ok()?;
                let is_yaml = name.ends_with(".yaml") || name.ends_with(".yml");
                (is_yaml && !name.starts_with('.') && entry.kind() == Some(ObjectType::Blob))
                    .then(|| (name.to_owned(), entry.id()))
            })
            .collect())
    }
}
