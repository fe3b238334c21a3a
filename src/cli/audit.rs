//! `orgsync audit`: the evidence an auditor asks for a period — configuration changes with their
//! pull requests and approvers, applies, leavers with their deprovisioning lag, joiners and
//! exceptions — or one person's lifecycle (`--person ID`), from the apply records (git notes)
//! and the configuration's git history. The report itself is `orgsync_core::audit` (pure).

use crate::ExitStatus;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use jiff::civil::Date;
use serde_json::Value;

use super::DirArg;
use orgsync_core::audit::{self, Change, Entry, Options};
use orgsync_repo::{ConfigRepo, NOTES_REF};

/// Arguments of `audit`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["from", "person"])))]
pub struct Args {
    #[command(flatten)]
    pub dir: DirArg,
    /// First day of the period (YYYY-MM-DD, inclusive).
    #[arg(long, value_name = "DATE", requires = "to", conflicts_with = "person")]
    pub from: Option<Date>,
    /// Last day of the period (YYYY-MM-DD, inclusive).
    #[arg(long, value_name = "DATE", requires = "from")]
    pub to: Option<Date>,
    /// One person's lifecycle across all apply records, by source identifier.
    #[arg(long, value_name = "ID")]
    pub person: Option<String>,
    /// Output format: Markdown (for an issue or a pull request), CSV (one file per section,
    /// with --out) or JSON (schemas/audit.schema.json).
    #[arg(long, value_enum, default_value_t = AuditFormat::Markdown)]
    pub format: AuditFormat,
    /// Write the report into DIR (`audit.md`, `audit.json`, or one CSV file per section)
    /// instead of stdout.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Add people's names, read from the live source now (the records hold identifiers only).
    #[arg(long)]
    pub show_pii: bool,
    /// Read each pull request's approvers from its approving reviews on GitHub (the token in
    /// `GITHUB_TOKEN`, the repository in `GITHUB_REPOSITORY`, the API at `GITHUB_API_URL`, as in
    /// GitHub Actions). Without it, approvers come from the merge commits'
    /// `Reviewed-by:`/`Approved-by:` trailers.
    #[arg(long)]
    pub github: bool,
}

/// Output format of `audit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuditFormat {
    /// Markdown tables.
    Markdown,
    /// CSV, one file per section.
    Csv,
    /// JSON.
    Json,
}

/// The sections written as CSV files, in order: (file stem, JSON key).
pub const CSV_SECTIONS: [&str; 5] = [
    "configuration_changes",
    "applies",
    "leavers",
    "joiners",
    "exceptions",
];

pub(crate) fn run(args: Args) -> anyhow::Result<ExitStatus> {
    let dir = &args.dir.dir;
    let repo = ConfigRepo::discover(dir)?.with_context(|| {
        format!(
            "{} is not inside a git repository: apply records are git notes ({NOTES_REF})",
            dir.display()
        )
    })?;
    super::history::pull_notes(&repo);
    let history = repo.config_history()?;
    let entries: Vec<Entry> = super::history::records(&repo)?
        .into_iter()
        .map(|(commit, record, _)| Entry {
            position: history.positions.get(&commit.id).copied(),
            killed: record.started,
            commit,
            record,
        })
        .collect();
    let mut changes: Vec<Change> = history
        .changes
        .into_iter()
        .map(|c| Change {
            commit: c.commit,
            message: c.message,
            merge: c.merge,
            proposer: c.proposer,
            files: c.files,
            position: c.position,
            forge_approvers: None,
        })
        .collect();
    // Names only with --show-pii, from the live source: the configuration with its connectors.
    let names = if args.show_pii {
        source_names(&crate::pipeline::load(dir, None)?)?
    } else {
        BTreeMap::new()
    };
    if let Some(person) = &args.person {
        let lifecycle = audit::lifecycle(person, &entries, &changes);
        let name = names.get(person).map(String::as_str);
        return match args.format {
            AuditFormat::Json => {
                let mut value = serde_json::to_value(&lifecycle)?;
                if let Some(name) = name {
                    value["name"] = Value::String(name.to_owned());
                }
                emit(
                    &args,
                    "person.json",
                    &(serde_json::to_string_pretty(&value)? + "\n"),
                )
            }
            AuditFormat::Markdown => emit(
                &args,
                "person.md",
                &audit::lifecycle_markdown(&lifecycle, name),
            ),
            AuditFormat::Csv => {
                let value = serde_json::to_value(&lifecycle)?;
                emit(&args, "person.csv", &csv_of(&value["events"], &names)?)
            }
        };
    }
    let (Some(from), Some(to)) = (args.from, args.to) else {
        bail!("give the period with --from DATE --to DATE, or one person with --person ID");
    };
    if to < from {
        bail!("--to {to} is before --from {from}");
    }
    if args.github {
        github_approvers(&mut changes, from, to)?;
    }
    // The policy the lags are judged by: the configuration in the work tree.
    let config = crate::pipeline::load_config(dir)?;
    let options = Options {
        from,
        to,
        max_removal_lag_days: config.policy.max_removal_lag_days,
    };
    let report = audit::report(repo.prefix(), &entries, &changes, &options);
    match args.format {
        AuditFormat::Markdown => emit(&args, "audit.md", &audit::markdown(&report, &names)),
        AuditFormat::Json => {
            let mut value = serde_json::to_value(&report)?;
            add_names(&mut value, &names);
            emit(
                &args,
                "audit.json",
                &(serde_json::to_string_pretty(&value)? + "\n"),
            )
        }
        AuditFormat::Csv => {
            let Some(out) = &args.out else {
                bail!("CSV is one file per section: give the directory with --out DIR");
            };
            let value = serde_json::to_value(&report)?;
            create_dir(out)?;
            for section in CSV_SECTIONS {
                let text = match csv_of(&value[section], &names)? {
                    text if text.is_empty() => empty_csv(section)?,
                    text => text,
                };
                write(&out.join(format!("{section}.csv")), &text)?;
            }
            super::err(&format!(
                "Wrote {} to {}\n",
                CSV_SECTIONS.map(|s| format!("{s}.csv")).join(", "),
                out.display()
            ));
            Ok(ExitStatus::Success)
        }
    }
}

/// Writes `text` to stdout, or to `DIR/file` with `--out DIR`.
fn emit(args: &Args, file: &str, text: &str) -> anyhow::Result<ExitStatus> {
    match &args.out {
        Some(out) => {
            create_dir(out)?;
            let path = out.join(file);
            write(&path, text)?;
            super::err(&format!("Wrote {}\n", path.display()));
        }
        None => super::out(text)?,
    }
    Ok(ExitStatus::Success)
}

fn create_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    let text = orgsync_core::redact::scrub(text);
    std::fs::write(path, text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// A cell of a CSV file, from a JSON value: a list's items joined by `; `, an object's entries
/// as `key=value; …`, null as an empty cell.
pub fn csv_cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(csv_cell).collect::<Vec<_>>().join("; "),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k}={}", csv_cell(v)))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

/// A section (a JSON list of flat objects) as CSV: a header of the keys, one line per row; with
/// names (`--show-pii`), a `name` column after `subject`.
fn csv_of(rows: &Value, names: &BTreeMap<String, String>) -> anyhow::Result<String> {
    let rows = rows.as_array().cloned().unwrap_or_default();
    let mut w = csv::Writer::from_writer(Vec::new());
    let Some(first) = rows.first().and_then(Value::as_object) else {
        return Ok(String::new());
    };
    let mut header: Vec<String> = first.keys().cloned().collect();
    if !names.is_empty() && first.contains_key("subject") {
        header.insert(
            1 + header.iter().position(|k| k == "subject").unwrap_or(0),
            "name".to_owned(),
        );
    }
    w.write_record(&header)?;
    for row in &rows {
        let cells: Vec<String> = header
            .iter()
            .map(|k| {
                if k == "name" {
                    row.get("subject")
                        .and_then(Value::as_str)
                        .and_then(|s| names.get(s))
                        .cloned()
                        .unwrap_or_default()
                } else {
                    row.get(k).map(csv_cell).unwrap_or_default()
                }
            })
            .collect();
        w.write_record(&cells)?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

/// The header line of a section without rows: its columns, from the report's schema.
fn empty_csv(section: &str) -> anyhow::Result<String> {
    let schemas = orgsync_core::config::schema::all();
    let schema = schemas
        .iter()
        .find(|(name, _)| *name == "audit.schema.json")
        .map(|(_, s)| s)
        .context("the audit report's schema")?;
    let row = schema["properties"][section]["items"]["$ref"]
        .as_str()
        .and_then(|r| r.rsplit('/').next())
        .context("a section's rows")?;
    let columns: Vec<&String> = schema["$defs"][row]["properties"]
        .as_object()
        .context("a row's columns")?
        .keys()
        .collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(columns)?;
    Ok(String::from_utf8(w.into_inner()?)?)
}

/// Adds `name` to the rows of the report that name a person (`--show-pii`).
fn add_names(value: &mut Value, names: &BTreeMap<String, String>) {
    if names.is_empty() {
        return;
    }
    for section in ["leavers", "joiners"] {
        if let Some(rows) = value[section].as_array_mut() {
            for row in rows {
                let name = row["subject"].as_str().and_then(|s| names.get(s)).cloned();
                if let Some(name) = name {
                    row["name"] = Value::String(name);
                }
            }
        }
    }
}

/// Source identifier → name, from the live source (`--show-pii`).
fn source_names(loaded: &crate::pipeline::Loaded) -> anyhow::Result<BTreeMap<String, String>> {
    let mut source = crate::pipeline::open_source(loaded)?;
    let snapshot = source
        .fetch()
        .context("--show-pii reads names from the source, and the source could not be read")?;
    Ok(snapshot
        .persons
        .into_iter()
        .map(|p| {
            (
                p.id,
                format!("{} {}", p.first_name, p.last_name)
                    .trim()
                    .to_owned(),
            )
        })
        .collect())
}

/// Each pull request of the period's changes: its approving reviewers on GitHub (the newest
/// review of each reviewer counts, as GitHub's own "approved" does).
fn github_approvers(changes: &mut [Change], from: Date, to: Date) -> anyhow::Result<()> {
    use orgsync_connectors::http::{HttpClient, HttpSettings, runtime};
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let (Some(token), Some(repository)) = (var("GITHUB_TOKEN"), var("GITHUB_REPOSITORY")) else {
        bail!("--github needs GITHUB_TOKEN and GITHUB_REPOSITORY (owner/name) in the environment");
    };
    let api = var("GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".to_owned());
    let mut settings = HttpSettings::new("GitHub", &api);
    settings.credential_hint = "$GITHUB_TOKEN".to_owned();
    settings.media_type = "application/vnd.github+json";
    let client = HttpClient::new(settings, &format!("Bearer {token}"), |body| {
        serde_json::from_slice::<Value>(body)
            .ok()?
            .get("message")?
            .as_str()
            .map(str::to_owned)
    })?;
    let rt = runtime()?;
    for c in changes.iter_mut() {
        if !c
            .commit
            .day()
            .parse::<Date>()
            .is_ok_and(|d| from <= d && d <= to)
        {
            continue;
        }
        let Some(number) = audit::pull_request(&c.message) else {
            continue;
        };
        let path = format!("/repos/{repository}/pulls/{number}/reviews?per_page=100");
        let reviews: Value = rt
            .block_on(client.get(&path))
            .with_context(|| format!("cannot read the reviews of pull request #{number}"))?
            .json()
            .map_err(|e| anyhow::anyhow!("the reviews of pull request #{number}: {e}"))?;
        c.forge_approvers = Some(approvals(&reviews));
    }
    Ok(())
}

/// The reviewers whose newest deciding review (approved, changes requested, dismissed) approves,
/// sorted; comments do not change a verdict.
pub fn approvals(reviews: &Value) -> Vec<String> {
    let mut verdict: BTreeMap<String, bool> = BTreeMap::new();
    for r in reviews.as_array().into_iter().flatten() {
        let Some(login) = r["user"]["login"].as_str() else {
            continue;
        };
        match r["state"].as_str() {
            Some("APPROVED") => {
                verdict.insert(login.to_owned(), true);
            }
            Some("CHANGES_REQUESTED" | "DISMISSED") => {
                verdict.insert(login.to_owned(), false);
            }
            _ => {}
        }
    }
    verdict
        .into_iter()
        .filter_map(|(login, approved)| approved.then_some(login))
        .collect()
}
