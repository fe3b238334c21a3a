//! `orgsync history [-C DIR]`: the applies recorded as git notes, newest first.

use crate::ExitStatus;
use std::fmt::Write as _;

use anyhow::Context;
use serde::Serialize;

use super::{DirArg, ReportFormat};
use orgsync_core::ledger::ApplyRecord;
use orgsync_core::vocabulary::ActionKind;
use orgsync_repo::{CommitInfo, ConfigRepo, NOTES_REF};

/// Arguments of `history`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub dir: DirArg,
    /// Show at most N applies.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Output format (json: a list of `{commit, record}`).
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

/// One apply with the configuration commit it is recorded on.
#[derive(Debug, Serialize)]
struct Entry {
    /// The configuration commit: id, author, date and subject of that configuration change.
    commit: CommitInfo,
    /// The record as written by `apply`.
    record: ApplyRecord,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitStatus> {
    let dir = &args.dir.dir;
    let repo = ConfigRepo::discover(dir)?.with_context(|| {
        format!(
            "{} is not inside a git repository: apply records are git notes ({NOTES_REF})",
            dir.display()
        )
    })?;
    pull_notes(&repo);
    let mut entries: Vec<(Entry, usize)> = records(&repo)?
        .into_iter()
        .map(|(commit, record, line)| (Entry { commit, record }, line))
        .collect();
    // Newest first. RFC 3339 in UTC sorts as text; applies within one second keep note order.
    entries.sort_by(|(a, i), (b, j)| {
        (&b.record.time, &b.commit.id, j).cmp(&(&a.record.time, &a.commit.id, i))
    });
    let mut entries: Vec<Entry> = entries.into_iter().map(|(e, _)| e).collect();
    if let Some(limit) = args.limit {
        entries.truncate(limit);
    }
    match args.format {
        ReportFormat::Json => super::out(&(serde_json::to_string_pretty(&entries)? + "\n"))?,
        ReportFormat::Text => super::out(&text(&entries, repo.prefix()))?,
    }
    Ok(ExitStatus::Success)
}

/// A fresh clone has no notes: brings the remote's first (a warning when it cannot).
pub(crate) fn pull_notes(repo: &ConfigRepo) {
    if let Some(remote) = crate::pipeline::remote(repo)
        && let Err(e) = remote.pull_notes(repo)
    {
        super::err(&format!(
            "warning: {e}; showing the records in this clone only\n"
        ));
    }
}

/// Every apply record of the repository's configuration directory, with the commit it is
/// recorded on and its line in that note (records are appended: a later line is a later
/// apply). A `started` record is kept only when its apply never recorded its end (killed
/// without a trace).
pub(crate) fn records(repo: &ConfigRepo) -> anyhow::Result<Vec<(CommitInfo, ApplyRecord, usize)>> {
    let mut entries = Vec::new();
    for (commit, text) in repo.notes()? {
        for (line, record) in ApplyRecord::parse_note(&text).into_iter().enumerate() {
            // One repository may hold several configuration directories: only this one's.
            if record.config_dir == repo.prefix() {
                entries.push((commit.clone(), record, line));
            }
        }
    }
    // A start is kept only when no record of its end follows (a killed apply).
    let keep: Vec<bool> = entries
        .iter()
        .map(|(_, r, _)| {
            !r.started || !orgsync_core::ledger::start_ended(r, entries.iter().map(|(_, e, _)| e))
        })
        .collect();
    let mut keep = keep.into_iter();
    entries.retain(|_| keep.next().unwrap_or(true));
    Ok(entries)
}

fn text(entries: &[Entry], prefix: &str) -> String {
    if entries.is_empty() {
        let dir = if prefix.is_empty() {
            String::new()
        } else {
            format!(" for {prefix}")
        };
        return format!(
            "No applies recorded{dir} ({NOTES_REF} holds none). Fetch them with: git fetch origin {NOTES_REF}:{NOTES_REF}\n"
        );
    }
    let mut s = String::new();
    for e in entries {
        let r = &e.record;
        let kinds: Vec<String> = ActionKind::ALL
            .iter()
            .filter_map(|k| {
                r.summary
                    .get(k)
                    .filter(|n| **n > 0)
                    .map(|n| format!("{n} {}", k.as_str()))
            })
            .collect();
        let kinds = if kinds.is_empty() {
            "no actions".to_owned()
        } else {
            kinds.join(", ")
        };
        if r.started {
            let _ = writeln!(
                s,
                "{}  started by {}, never finished (stopped without a trace: killed, a lost \
                 runner; the next apply finishes it) ({kinds})",
                r.time, r.actor,
            );
        } else {
            let _ = writeln!(
                s,
                "{}  applied by {}: {} succeeded, {} failed{} ({kinds})",
                r.time,
                r.actor,
                r.succeeded,
                r.failed,
                if r.unconfirmed > 0 {
                    format!(", {} unconfirmed", r.unconfirmed)
                } else {
                    String::new()
                }
            );
        }
        let _ = writeln!(
            s,
            "  config {} {} {}: {}{}",
            e.commit.short(),
            e.commit.day(),
            e.commit.author,
            e.commit.subject,
            if r.config_dirty {
                " (with uncommitted changes)"
            } else {
                ""
            }
        );
        if let Some(planned) = &r.plan_config_commit {
            let (id, dirty) = orgsync_repo::ConfigCommit::parse(planned);
            let _ = writeln!(
                s,
                "  plan made from {}{} (--allow-config-mismatch)",
                orgsync_repo::short(id),
                if dirty { "-dirty" } else { "" }
            );
        }
        let _ = writeln!(s, "  plan {} for {}", r.plan_digest, r.at);
        for o in r.outcomes.iter().filter(|o| !o.ok) {
            let _ = writeln!(
                s,
                "  {} {} {}: {}{}",
                if o.unconfirmed { "UNSURE" } else { "FAILED" },
                o.kind.as_str(),
                o.subject,
                o.error.as_deref().unwrap_or(""),
                o.status.map(|s| format!(" (HTTP {s})")).unwrap_or_default()
            );
        }
        s.push('\n');
    }
    s
}
