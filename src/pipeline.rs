//! The pipeline every command shares: load the configuration (from the work tree or at a git
//! ref), open the connectors, fetch both sides, plan. Library code: it prints nothing; a
//! configuration that does not validate is an [`InvalidConfig`] error carrying the located
//! errors, which the command line renders.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use jiff::civil::Date;

use crate::config::{self, Config, SourceConfig, TargetConfig};
use crate::connectors::file_source::FileSource;
use crate::connectors::file_target::FileTarget;
use crate::connectors::{Source, Target, TargetCapabilities};
use crate::git::{ApplyRecord, CommitInfo, ConfigCommit, ConfigRepo, GitError};
use crate::model::{SourceSnapshot, TargetSnapshot};
use crate::plan::safety::RecordedTarget;
use crate::plan::{self, Digests, Plan, PlanInput, digest};

/// A configuration that does not validate: its located errors, and a one-line summary.
#[derive(Debug, thiserror::Error)]
#[error("{summary}")]
pub struct InvalidConfig {
    /// Every error, with file, line, column and key.
    pub errors: config::ErrorList,
    /// What was invalid and how to see why.
    pub summary: String,
}

/// Loads and validates the configuration directory `dir` from the work tree.
pub fn load_config(dir: &Path) -> anyhow::Result<Config> {
    config::load_dir(dir).map_err(|errors| {
        InvalidConfig {
            errors,
            summary: format!(
                "the configuration in {} is invalid (run `orgsync validate -C {}`)",
                dir.display(),
                dir.display()
            ),
        }
        .into()
    })
}

/// A configuration with the repository it lives in and the commit it came from.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    /// The repository whose work tree holds the configuration directory.
    pub repo: Option<ConfigRepo>,
    /// The configuration's commit: the `--ref` commit, or HEAD (dirty when the work tree's
    /// configuration files differ from it). `None` outside a repository or before its first
    /// commit.
    pub commit: Option<ConfigCommit>,
}

/// Loads the configuration of `dir`: from the work tree, or with `git_ref` from that commit.
pub fn load(dir: &Path, git_ref: Option<&str>) -> anyhow::Result<Loaded> {
    let repo = ConfigRepo::discover(dir)?;
    let Some(rev) = git_ref else {
        let config = load_config(dir)?;
        let commit = match &repo {
            Some(r) => match r.head()? {
                Some(commit) => Some(ConfigCommit {
                    dirty: r.config_dirty(&config.data_paths())?,
                    commit,
                }),
                None => None,
            },
            None => None,
        };
        return Ok(Loaded {
            config,
            repo,
            commit,
        });
    };
    let repo = repo.ok_or_else(|| not_a_repository(dir, rev))?;
    let commit = repo.commit(rev)?;
    let config = load_at(&repo, &commit, rev)?;
    Ok(Loaded {
        config,
        commit: Some(ConfigCommit {
            commit,
            dirty: false,
        }),
        repo: Some(repo),
    })
}

/// `--ref` outside a repository.
pub fn not_a_repository(dir: &Path, rev: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "--ref {rev}: {} is not inside a git repository",
        dir.display()
    )
}

/// Why a commit has no usable configuration.
#[derive(Debug)]
pub enum NoConfig {
    /// No orgsync.yaml in the configuration directory at that commit.
    Missing(String),
    /// It does not validate.
    Invalid(config::ErrorList),
}

/// The configuration directory at `commit`, loaded and validated.
pub fn config_at(
    repo: &ConfigRepo,
    commit: &CommitInfo,
    rev: &str,
) -> anyhow::Result<Result<Config, NoConfig>> {
    let files = match repo.config_files(&commit.id) {
        Ok(files) => files,
        Err(GitError::NoConfigDir { .. }) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    if !files.iter().any(|(name, _)| name == "orgsync.yaml") {
        let dir = if repo.prefix().is_empty() {
            "the repository root".to_owned()
        } else {
            format!("`{}`", repo.prefix())
        };
        return Ok(Err(NoConfig::Missing(format!(
            "there is no orgsync.yaml in {dir} at {rev} ({})",
            commit.short()
        ))));
    }
    Ok(config::load_files(files).map_err(NoConfig::Invalid))
}

/// Loads the configuration at `commit`.
fn load_at(repo: &ConfigRepo, commit: &CommitInfo, rev: &str) -> anyhow::Result<Config> {
    match config_at(repo, commit, rev)? {
        Ok(config) => Ok(config),
        Err(NoConfig::Missing(message)) => Err(anyhow::anyhow!(message)),
        Err(NoConfig::Invalid(errors)) => Err(InvalidConfig {
            errors,
            summary: format!(
                "the configuration at {rev} ({}) is invalid (run `orgsync validate --ref {rev}`)",
                commit.short()
            ),
        }
        .into()),
    }
}

/// Everything one plan was made from, and the plan.
#[derive(Debug)]
pub struct Planned {
    /// The configuration and its commit.
    pub loaded: Loaded,
    /// Both sides as read.
    pub fetched: Fetched,
    /// The day planned for.
    pub today: Date,
    /// The plan.
    pub plan: Plan,
}

/// The whole pipeline: load the configuration of `dir` (at `git_ref`), fetch both sides, plan
/// for `at` (default: today in the configured time zone).
pub fn plan(dir: &Path, git_ref: Option<&str>, at: Option<Date>) -> anyhow::Result<Planned> {
    let loaded = load(dir, git_ref)?;
    let today = today(&loaded.config, at)?;
    let fetched = fetch(&loaded.config, dir)?;
    let plan = make_plan_for(&loaded, &fetched, today);
    Ok(Planned {
        loaded,
        fetched,
        today,
        plan,
    })
}

/// [`make_plan`], recording the configuration's commit, with the target guard fed from the
/// configuration's apply records ([`recorded_target`]).
pub fn make_plan_for(loaded: &Loaded, fetched: &Fetched, today: Date) -> Plan {
    let recorded = recorded_target(loaded);
    let mut plan = make_plan(&loaded.config, fetched, today, recorded.as_ref());
    plan.digests.config_commit = loaded.commit.as_ref().map(ToString::to_string);
    plan
}

/// The target as apply records name it: `file:<path>` or `scim:<base URL>`.
pub fn target_key(config: &Config) -> String {
    match &config.target {
        TargetConfig::File(f) => format!("file:{}", f.path),
        TargetConfig::Scim(s) => format!("scim:{}", s.base_url.trim_end_matches('/')),
        TargetConfig::AfasApplicants(t) => crate::connectors::afas_applicants::target_key(t),
        TargetConfig::Revolut(r) => format!("revolut:{}", r.base_url.trim_end_matches('/')),
    }
}

/// Which accounts orgsync created or took over in this target, by the apply records (git notes)
/// of the configuration directory `dir`: target id → source identifier, newest record last. For
/// targets that keep no ownership marker of their own (Revolut). Empty outside a repository or
/// without records: then every account is foreign until adopted.
pub fn owned_accounts(config: &Config, dir: &Path) -> std::collections::HashMap<String, String> {
    let mut owned = std::collections::HashMap::new();
    let Ok(Some(repo)) = ConfigRepo::discover(dir) else {
        return owned;
    };
    let notes = match repo.notes() {
        Ok(notes) => notes,
        Err(e) => {
            tracing::warn!("cannot read the apply records: {e}");
            return owned;
        }
    };
    let key = target_key(config);
    let mut records: Vec<ApplyRecord> = notes
        .into_iter()
        .flat_map(|(_, text)| ApplyRecord::parse_note(&text))
        .filter(|r| r.config_dir == repo.prefix() && r.target.as_deref() == Some(key.as_str()))
        .collect();
    records.sort_by(|a, b| a.time.cmp(&b.time));
    let mut by_subject: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    for o in records.iter().flat_map(|r| &r.outcomes) {
        if o.ok
            && let Some(id) = &o.target_id
            && let Some(old) = by_subject.insert(&o.subject, id)
            && old != id
        {
            // A newer account of the same person (a rehire): the old one is gone.
            owned.remove(old);
        }
        if o.ok
            && let Some(id) = &o.target_id
        {
            owned.insert(id.clone(), o.subject.clone());
        }
    }
    owned
}

/// What this configuration directory's newest apply record (git notes) says its target holds:
/// the managed accounts it left, or — for records written before orgsync counted them — the
/// accounts all recorded applies invited, a lower bound. Records of another target are not
/// held against this one. `None` outside a repository, without records, or when the notes
/// cannot be read (the guard then has nothing to compare with, as on a first sync).
pub fn recorded_target(loaded: &Loaded) -> Option<RecordedTarget> {
    let repo = loaded.repo.as_ref()?;
    let notes = repo
        .notes()
        .map_err(|e| tracing::warn!("cannot read the apply records: {e}"))
        .ok()?;
    let key = target_key(&loaded.config);
    let records: Vec<(String, ApplyRecord)> = notes
        .into_iter()
        .flat_map(|(commit, text)| {
            ApplyRecord::parse_note(&text)
                .into_iter()
                .map(move |r| (commit.short().to_owned(), r))
        })
        .filter(|(_, r)| {
            r.config_dir == repo.prefix() && r.target.as_deref().is_none_or(|t| t == key)
        })
        .collect();
    let (commit, newest) = records.iter().max_by(|a, b| a.1.time.cmp(&b.1.time))?;
    let record = format!("the apply of {} (commit {commit})", newest.time);
    let resumable = if newest.interrupted {
        newest.not_attempted.clone()
    } else {
        Default::default()
    };
    if let Some(managed) = newest.managed_accounts {
        return Some(RecordedTarget {
            managed,
            counted: true,
            record,
            resumable,
        });
    }
    let invited = records
        .iter()
        .flat_map(|(_, r)| &r.outcomes)
        .filter(|o| o.ok && o.kind == crate::plan::ActionKind::Invite)
        .count();
    Some(RecordedTarget {
        managed: invited,
        counted: false,
        record: format!("the applies recorded up to {record}"),
        resumable,
    })
}

/// The plan of another configuration (a pull request's base) on the same fetched data: the input
/// digests are those of `same_inputs`, not computed a second time.
pub fn make_plan_on_same_inputs(
    loaded: &Loaded,
    fetched: &Fetched,
    today: Date,
    same_inputs: &Plan,
) -> Plan {
    build(PlanInput {
        config: &loaded.config,
        source: &fetched.source,
        target: &fetched.target,
        today,
        created_at: same_inputs.created_at.clone(),
        digests: Digests {
            config: loaded.config.digest.clone(),
            config_commit: loaded.commit.as_ref().map(ToString::to_string),
            source: same_inputs.digests.source.clone(),
            target: same_inputs.digests.target.clone(),
        },
        recorded: recorded_target(loaded).as_ref(),
        capabilities: &fetched.capabilities,
    })
}

/// [`plan::build`], through the planning guard of a create-only target: for `afas_applicants`
/// the engine sees only the candidates still to send and an empty target
/// ([`crate::connectors::afas_applicants::plan_view`]), so the plan can hold sends and nothing
/// else; each send gets the digest of the fields it will send.
fn build(input: PlanInput<'_>) -> Plan {
    let TargetConfig::AfasApplicants(t) = &input.config.target else {
        return plan::build(input);
    };
    use crate::connectors::afas_applicants as applicants;
    let view = applicants::plan_view(input.config, t, input.source, input.target);
    let mut plan = plan::build(PlanInput {
        config: &view.config,
        source: &view.source,
        target: &view.target,
        // The records count applicants sent, which the empty view does not list.
        recorded: None,
        ..input
    });
    let key = applicants::token(t, env_var).unwrap_or_default();
    applicants::annotate(
        t,
        key.trim().as_bytes(),
        input.source,
        &mut plan.actions,
        &mut plan.diagnostics,
    );
    if let Some(step) = view.manual_step() {
        plan.manual_steps.push(step);
    }
    plan.diagnostics.extend(view.diagnostics.iter().cloned());
    plan.diagnostics.sort_by(|a, b| {
        (b.severity, a.kind, &a.subject, &a.message)
            .cmp(&(a.severity, b.kind, &b.subject, &b.message))
    });
    if !view.held.is_empty() {
        *plan
            .held
            .entry(crate::plan::DiagnosticKind::SendInterrupted)
            .or_default() += view.held.len();
    }
    plan
}

/// "Today" in the configured time zone, or `--at`.
pub fn today(config: &Config, at: Option<Date>) -> anyhow::Result<Date> {
    if let Some(at) = at {
        return Ok(at);
    }
    let tz = jiff::tz::TimeZone::get(&config.policy.timezone)
        .with_context(|| format!("unknown time zone {}", config.policy.timezone))?;
    Ok(jiff::Timestamp::now().to_zoned(tz).date())
}

/// Opens the source connector.
pub fn open_source(config: &Config, dir: &Path) -> anyhow::Result<Box<dyn Source>> {
    match &config.source {
        SourceConfig::File(f) => Ok(Box::new(FileSource::new(dir, f))),
        SourceConfig::Afas(a) => Ok(Box::new(crate::connectors::afas::AfasSource::new(
            a,
            env_var,
            show_progress(),
        )?)),
        SourceConfig::Recruitee(r) => Ok(Box::new(
            crate::connectors::recruitee::RecruiteeSource::new(r, env_var, show_progress())?,
        )),
        SourceConfig::Google(g) => Ok(Box::new(crate::connectors::google::GoogleSource::new(
            g,
            env_var,
            show_progress(),
        )?)),
        SourceConfig::Manusplus(m) => Ok(Box::new(
            crate::connectors::manusplus::ManusPlusSource::new(m, env_var, show_progress())?,
        )),
    }
}

/// Opens the target connector.
pub fn open_target(config: &Config, dir: &Path) -> anyhow::Result<Box<dyn Target>> {
    match &config.target {
        TargetConfig::File(f) => Ok(Box::new(FileTarget::for_config(dir, f)?)),
        TargetConfig::Scim(s) => Ok(Box::new(crate::connectors::scim::ScimTarget::new(
            s,
            &config.policy.timezone,
            env_var,
            show_progress(),
        )?)),
        TargetConfig::AfasApplicants(t) => {
            use crate::connectors::afas_applicants::{AfasApplicantsTarget, GitBadges, target_key};
            let badges = GitBadges::open(dir, &target_key(t))?;
            Ok(Box::new(AfasApplicantsTarget::new(
                t,
                open_source(config, dir)?,
                Box::new(badges),
                env_var,
                show_progress(),
            )?))
        }
        TargetConfig::Revolut(r) => Ok(Box::new(crate::connectors::revolut::RevolutTarget::new(
            r,
            env_var,
            owned_accounts(config, dir),
            show_progress(),
        )?)),
    }
}

/// A secret's value from the environment.
fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Progress bars while fetching and applying: on a terminal only.
fn show_progress() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal()
}

/// `validate --online`: asks the API connectors whether their configuration works (the AFAS
/// GetConnector and its fields exist, the SCIM server answers and supports PATCH). Returns the
/// problems found, one line each; a connector that cannot be reached or refuses the token is an
/// error.
pub fn check_online(config: &Config) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
    if let SourceConfig::Afas(a) = &config.source {
        let source = crate::connectors::afas::AfasSource::new(a, env_var, false)?;
        problems.extend(
            source
                .check_online(&config.columns_in_use())
                .context("cannot check the source online")?,
        );
    }
    match &config.source {
        SourceConfig::Google(g) => problems.extend(
            crate::connectors::google::GoogleSource::new(g, env_var, false)?
                .check_online()
                .context("cannot check the source online")?,
        ),
        SourceConfig::Manusplus(m) => problems.extend(
            crate::connectors::manusplus::ManusPlusSource::new(m, env_var, false)?
                .check_online()
                .context("cannot check the source online")?,
        ),
        _ => {}
    }
    if let TargetConfig::Revolut(r) = &config.target {
        let target =
            crate::connectors::revolut::RevolutTarget::new(r, env_var, Default::default(), false)?;
        let mut roles: Vec<String> = Vec::new();
        if let Some(f) = &config.functions {
            roles.extend(f.map.iter().map(|m| m.target.clone()));
            if let crate::config::UnmappedFunctionPolicy::Fallback(fb) = &f.unmapped {
                roles.push(fb.fallback.clone());
            }
        }
        problems.extend(
            target
                .check_online(&roles)
                .context("cannot check the target online")?,
        );
    }
    if let TargetConfig::AfasApplicants(t) = &config.target {
        use crate::connectors::afas_applicants::{AfasApplicantsTarget, Badge, BadgeStore};
        /// Online checks read no badges.
        struct NoBadges;
        impl BadgeStore for NoBadges {
            fn read(&self) -> Result<Vec<Badge>, crate::connectors::ConnectorError> {
                Ok(Vec::new())
            }
            fn write(&self, _: &Badge) -> Result<(), crate::connectors::ConnectorError> {
                Ok(())
            }
            fn config_dir(&self) -> String {
                String::new()
            }
            fn actor(&self) -> String {
                String::new()
            }
        }
        struct NoSource;
        impl Source for NoSource {
            fn fetch(&mut self) -> Result<SourceSnapshot, crate::connectors::ConnectorError> {
                Ok(SourceSnapshot::default())
            }
        }
        let target =
            AfasApplicantsTarget::new(t, Box::new(NoSource), Box::new(NoBadges), env_var, false)?;
        problems.extend(
            target
                .check_online()
                .context("cannot check the target online")?,
        );
    }
    if let TargetConfig::Scim(s) = &config.target {
        let target =
            crate::connectors::scim::ScimTarget::new(s, &config.policy.timezone, env_var, false)?;
        problems.extend(
            target
                .check_online()
                .context("cannot check the target online")?,
        );
    }
    Ok(problems)
}

/// Inputs fetched for one plan.
#[derive(Debug)]
pub struct Fetched {
    pub source: SourceSnapshot,
    pub target: TargetSnapshot,
    /// What the target can do, as its connector declares: the engine plans only that.
    pub capabilities: TargetCapabilities,
}

/// Fetches both sides. A failed fetch is an error: never a partial plan.
///
/// The two systems are independent, so they are read at the same time (each connector is opened
/// and used inside its own thread).
pub fn fetch(config: &Config, dir: &Path) -> anyhow::Result<Fetched> {
    let (source, target) = std::thread::scope(|scope| {
        let source = scope.spawn(|| -> anyhow::Result<SourceSnapshot> {
            let start = Instant::now();
            let snapshot = open_source(config, dir)?
                .fetch()
                .context("cannot read the source")?;
            tracing::info!(
                people = snapshot.persons.len(),
                ms = millis(start),
                "read the source"
            );
            Ok(snapshot)
        });
        let start = Instant::now();
        let target = open_target(config, dir).and_then(|mut t| {
            let capabilities = t.capabilities();
            Ok((t.fetch().context("cannot read the target")?, capabilities))
        });
        if let Ok((t, _)) = &target {
            tracing::info!(
                accounts = t.accounts.len(),
                ms = millis(start),
                "read the target"
            );
        }
        let source = source
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (source, target)
    });
    let (target, capabilities) = target?;
    Ok(Fetched {
        source: source?,
        target,
        capabilities,
    })
}

fn millis(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Builds the plan from fetched inputs.
///
/// The input digests do not influence the plan, so they are computed on a second thread while the
/// plan is built.
pub fn make_plan(
    config: &Config,
    fetched: &Fetched,
    today: Date,
    recorded: Option<&RecordedTarget>,
) -> Plan {
    let (mut plan, (source, target)) = std::thread::scope(|scope| {
        let digests = scope.spawn(|| {
            let start = Instant::now();
            let digests = (
                digest::of_json(&fetched.source),
                digest::of_json(&fetched.target),
            );
            tracing::info!(ms = millis(start), "computed the input digests");
            digests
        });
        let start = Instant::now();
        let plan = build(PlanInput {
            config,
            source: &fetched.source,
            target: &fetched.target,
            today,
            created_at: jiff::Timestamp::now()
                .round(jiff::Unit::Second)
                .map(|t| t.to_string())
                .unwrap_or_default(),
            digests: Digests::default(),
            recorded,
            capabilities: &fetched.capabilities,
        });
        tracing::info!(actions = plan.actions.len(), ms = millis(start), "planned");
        (
            plan,
            digests
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
        )
    });
    plan.digests = Digests {
        config: config.digest.clone(),
        config_commit: None,
        source,
        target,
    };
    plan
}
