//! The pipeline every command shares: load the configuration (from the work tree or at a git
//! ref), open the connectors, fetch both sides, plan. Library code: it prints nothing; a
//! configuration that does not validate is an [`InvalidConfig`] error carrying the located
//! errors, which the command line renders.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use jiff::civil::Date;

use orgsync_connectors::file_source::FileSource;
use orgsync_connectors::file_target::FileTarget;
use orgsync_connectors::{Kit, Source, Target, TargetCapabilities};
use orgsync_core::config::{self, Config, SourceConfig, TargetConfig};
use orgsync_core::digest;
use orgsync_core::ledger::{self, ApplyRecord, Ledger};
use orgsync_core::model::{SourceSnapshot, TargetSnapshot};
use orgsync_core::plan::safety::RecordedTarget;
use orgsync_core::plan::{self, PlanInput};
use orgsync_core::vocabulary::{Digests, Plan};
use orgsync_repo::{CommitInfo, ConfigCommit, ConfigRepo, GitError, GitLedger};

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
    orgsync_repo::load_dir(dir).map_err(|errors| {
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

/// Everything a command needs about where it runs, loaded once and handed down: the
/// configuration (from the work tree or at a ref), the repository it lives in, its commit, and
/// the ledger with the apply records read from it.
#[derive(Debug)]
pub struct Loaded {
    /// The configuration directory, as given (`-C`): data files are read relative to it.
    pub dir: PathBuf,
    pub config: Config,
    /// The repository whose work tree holds the configuration directory.
    pub repo: Option<Arc<ConfigRepo>>,
    /// The configuration's commit: the `--ref` commit, or HEAD (dirty when the work tree's
    /// configuration files differ from it). `None` outside a repository or before its first
    /// commit.
    pub commit: Option<ConfigCommit>,
    /// Where apply records and badges are kept: the git notes of the configuration commit.
    /// `None` outside a repository or before its first commit (nothing is remembered).
    pub ledger: Option<Arc<dyn Ledger>>,
    /// This configuration directory's apply records (all targets), read once, in history order.
    pub records: Vec<ApplyRecord>,
    /// Whether the records were brought from the repository's remote first.
    pub records_from: RecordsFrom,
    /// What every connector of this run is opened with: the one async runtime, the environment
    /// secrets come from, progress bars on a terminal.
    pub kit: Kit,
}

impl Loaded {
    /// A configuration with its repository and commit; the ledger is opened on the commit and
    /// its records read.
    fn new(
        dir: &Path,
        config: Config,
        repo: Option<Arc<ConfigRepo>>,
        commit: Option<ConfigCommit>,
    ) -> anyhow::Result<Loaded> {
        let records_from = match &repo {
            Some(repo) => pull_records(repo),
            None => RecordsFrom::Local,
        };
        let ledger: Option<Arc<dyn Ledger>> = match (&repo, &commit) {
            (Some(repo), Some(commit)) => Some(Arc::new(GitLedger::new(
                Arc::clone(repo),
                commit.commit.id.clone(),
            ))),
            _ => None,
        };
        let records = ledger
            .as_ref()
            .map(|l| {
                l.records().unwrap_or_else(|e| {
                    tracing::warn!("cannot read the apply records: {e}");
                    Vec::new()
                })
            })
            .unwrap_or_default();
        Ok(Loaded {
            dir: dir.to_owned(),
            config,
            repo,
            commit,
            ledger,
            records,
            records_from,
            kit: kit()?,
        })
    }

    /// The configuration of the same directory at `rev` (a commit of the same repository),
    /// sharing the repository and the records already read.
    pub fn at(&self, rev: &str) -> anyhow::Result<Loaded> {
        let repo = self
            .repo
            .as_ref()
            .ok_or_else(|| not_a_repository(&self.dir, rev))?;
        let commit = repo.commit(rev)?;
        let config = load_at(repo, &commit, rev)?;
        let commit = ConfigCommit {
            commit,
            dirty: false,
        };
        Ok(Loaded {
            dir: self.dir.clone(),
            config,
            ledger: Some(Arc::new(GitLedger::new(
                Arc::clone(repo),
                commit.commit.id.clone(),
            ))),
            commit: Some(commit),
            repo: Some(Arc::clone(repo)),
            records: self.records.clone(),
            records_from: self.records_from.clone(),
            kit: self.kit.clone(),
        })
    }

    /// The target as apply records name it ([`target_key`]).
    pub fn target_key(&self) -> String {
        target_key(&self.config)
    }

    /// What the newest apply record says this target holds, for the target guard.
    pub fn recorded_target(&self) -> Option<RecordedTarget> {
        ledger::recorded_target(&self.records, &self.target_key())
    }

    /// Which accounts orgsync created or took over in this target, by the apply records: target
    /// id → source identifier. For targets that keep no ownership marker of their own
    /// (Revolut); empty outside a repository or without records: then every account is foreign
    /// until adopted.
    pub fn owned_accounts(&self) -> HashMap<String, String> {
        ledger::owned_accounts(&self.records, &self.target_key())
    }

    /// Where orgsync last placed each person in this target, by the apply records (see
    /// [`ledger::placed`]): a plan tells a hand edit in the app from a transfer by it.
    pub fn placed(&self) -> HashMap<String, Vec<String>> {
        ledger::placed(&self.records, &self.target_key())
    }

    /// The configuration of the newest finished apply recorded for this target: what the target
    /// was last brought in line with, so that a plan can tell which changes this configuration
    /// causes. `None` without such a record, for an apply of a dirty work tree, or when that
    /// commit's configuration cannot be loaded.
    pub fn previous_config(&self) -> Option<(Config, String)> {
        let key = self.target_key();
        let newest = self
            .records
            .iter()
            .filter(|r| !r.started && r.target.as_deref() == Some(key.as_str()))
            .max_by(|a, b| a.time.cmp(&b.time))?;
        if newest.config_dirty {
            return None;
        }
        let config = self.config_at_commit(&newest.config_commit)?;
        Some((config, newest.config_commit.clone()))
    }

    /// This configuration directory's configuration at commit `id`, when it can be loaded.
    pub fn config_at_commit(&self, id: &str) -> Option<Config> {
        let repo = self.repo.as_ref()?;
        let commit = repo.commit(id).ok()?;
        match config_at(repo, &commit, id) {
            Ok(Ok(config)) => Some(config),
            Ok(Err(_)) | Err(_) => {
                tracing::info!(
                    commit = commit.short(),
                    "the previous configuration cannot be loaded: every change is the source's"
                );
                None
            }
        }
    }
}

/// Where a run's apply records came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordsFrom {
    /// This clone only: no remote (or `ORGSYNC_REMOTE=none`), or outside git.
    Local,
    /// The remote's records were merged in first.
    Remote {
        /// The remote's name.
        remote: String,
    },
    /// The remote could not be read: this clone's records only.
    Unreachable {
        /// The remote's name.
        remote: String,
        /// Why (without credentials).
        error: String,
    },
}

/// The environment variable that names the remote records and the lease live on; `none` keeps
/// both in this clone.
pub const REMOTE_ENV: &str = "ORGSYNC_REMOTE";

/// The configuration repository's remote, unless `ORGSYNC_REMOTE=none`; `ORGSYNC_REMOTE=name`
/// picks one.
pub fn remote(repo: &ConfigRepo) -> Option<orgsync_repo::remote::Remote> {
    match std::env::var(REMOTE_ENV).ok().as_deref().map(str::trim) {
        Some("none") => None,
        Some(name) if !name.is_empty() => orgsync_repo::remote::Remote::named(repo, name),
        _ => orgsync_repo::remote::Remote::of(repo),
    }
}

/// Brings the remote's apply records into this clone (`git clone` does not fetch notes), so
/// that a fresh clone keeps every safety check that reads them.
fn pull_records(repo: &ConfigRepo) -> RecordsFrom {
    let Some(remote) = remote(repo) else {
        return RecordsFrom::Local;
    };
    let start = Instant::now();
    match remote.pull_notes(repo) {
        Ok(has) => {
            tracing::info!(
                remote = remote.name(),
                records = has,
                ms = millis(start),
                "fetched the apply records"
            );
            RecordsFrom::Remote {
                remote: remote.name().to_owned(),
            }
        }
        Err(e) => {
            tracing::warn!("cannot fetch the apply records: {e}");
            RecordsFrom::Unreachable {
                remote: remote.name().to_owned(),
                error: e.to_string(),
            }
        }
    }
}

/// Loads the configuration of `dir`: from the work tree, or with `git_ref` from that commit.
pub fn load(dir: &Path, git_ref: Option<&str>) -> anyhow::Result<Loaded> {
    let repo = ConfigRepo::discover(dir)?.map(Arc::new);
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
        return Loaded::new(dir, config, repo, commit);
    };
    let repo = repo.ok_or_else(|| not_a_repository(dir, rev))?;
    let commit = repo.commit(rev)?;
    let config = load_at(&repo, &commit, rev)?;
    let commit = ConfigCommit {
        commit,
        dirty: false,
    };
    Loaded::new(dir, config, Some(repo), Some(commit))
}

/// A configuration planned as another one's base (`plan --base`): no repository of its own, no
/// records.
pub fn base(dir: &Path, config: Config, commit: CommitInfo) -> anyhow::Result<Loaded> {
    Loaded::new(
        dir,
        config,
        None,
        Some(ConfigCommit {
            commit,
            dirty: false,
        }),
    )
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
    let fetched = fetch(&loaded)?;
    let plan = make_plan_for(&loaded, &fetched, today);
    Ok(Planned {
        loaded,
        fetched,
        today,
        plan,
    })
}

/// [`plan`], with the changes that follow from the configuration `previous` gives (a pull
/// request's base) caused by the configuration; `previous` returning `None` falls back to the
/// newest apply's configuration, as [`plan`] does.
pub fn plan_after(
    dir: &Path,
    git_ref: Option<&str>,
    at: Option<Date>,
    previous: impl FnOnce(&Loaded) -> anyhow::Result<Option<(Config, String)>>,
) -> anyhow::Result<Planned> {
    let loaded = load(dir, git_ref)?;
    let today = today(&loaded.config, at)?;
    let fetched = fetch(&loaded)?;
    let plan = match previous(&loaded)? {
        Some((config, id)) => make_plan_after(&loaded, &fetched, today, Some((&config, &id))),
        None => make_plan_for(&loaded, &fetched, today),
    };
    Ok(Planned {
        loaded,
        fetched,
        today,
        plan,
    })
}

/// [`make_plan`], recording the configuration's commit, with the target guard fed from the
/// configuration's apply records ([`Loaded::recorded_target`]).
///
/// The previous configuration (what the changes are compared with, to tell the configuration's
/// from HR's) is the newest apply's ([`Loaded::previous_config`]).
pub fn make_plan_for(loaded: &Loaded, fetched: &Fetched, today: Date) -> Plan {
    let previous = loaded.previous_config();
    make_plan_after(
        loaded,
        fetched,
        today,
        previous.as_ref().map(|(c, id)| (c, id.as_str())),
    )
}

/// [`make_plan_for`] compared with the configuration at `previous_commit`, exactly as a plan
/// file or a review record recorded it (`digests.previous_config_commit`): a re-plan names the
/// same causes and notifies the same people. `None`: compared with nothing.
pub fn make_plan_as(
    loaded: &Loaded,
    fetched: &Fetched,
    today: Date,
    previous_commit: Option<&str>,
) -> Plan {
    let previous = previous_commit.and_then(|id| Some((loaded.config_at_commit(id)?, id)));
    make_plan_after(
        loaded,
        fetched,
        today,
        previous.as_ref().map(|(c, id)| (c, *id)),
    )
}

/// [`make_plan_for`], with the changes that follow from `previous` (a pull request's base
/// configuration, or the newest apply's: the configuration and its commit) caused by the
/// configuration.
pub fn make_plan_after(
    loaded: &Loaded,
    fetched: &Fetched,
    today: Date,
    previous: Option<(&Config, &str)>,
) -> Plan {
    let recorded = loaded.recorded_target();
    let placed = loaded.placed();
    let history = History {
        recorded: recorded.as_ref(),
        previous: previous.map(|(c, _)| c),
        placed: Some(&placed),
    };
    let mut plan = make_plan(&loaded.config, fetched, today, history);
    plan.digests.previous_config_commit = previous.map(|(_, id)| id.to_owned());
    plan.digests.config_commit = loaded.commit.as_ref().map(ToString::to_string);
    if let RecordsFrom::Unreachable { remote, error } = &loaded.records_from
        && recorded.is_none()
        && let Some(d) = orgsync_core::plan::safety::unknown_records(
            &loaded.config,
            orgsync_core::plan::safety::bases(&fetched.target).0,
            &format!("the apply records on `{remote}` could not be read ({error})"),
        )
    {
        plan.diagnostics.insert(0, d);
    }
    plan
}

/// The target as apply records name it: `file:<path>` or `scim:<base URL>`.
pub fn target_key(config: &Config) -> String {
    match &config.target {
        TargetConfig::File(f) => format!("file:{}", f.path),
        TargetConfig::Scim(s) => format!("scim:{}", s.base_url.trim_end_matches('/')),
        TargetConfig::AfasApplicants(t) => orgsync_connectors::afas_applicants::target_key(t),
        TargetConfig::Revolut(r) => format!("revolut:{}", r.base_url.trim_end_matches('/')),
    }
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
            previous_config_commit: None,
        },
        recorded: loaded.recorded_target().as_ref(),
        capabilities: &fetched.capabilities,
        previous: None,
        placed: None,
    })
}

/// [`plan::build`], through the planning guard of a create-only target: for `afas_applicants`
/// the engine sees only the candidates still to send and an empty target
/// ([`orgsync_connectors::afas_applicants::plan_view`]), so the plan can hold sends and nothing
/// else; each send gets the digest of the fields it will send.
fn build(input: PlanInput<'_>) -> Plan {
    let TargetConfig::AfasApplicants(t) = &input.config.target else {
        return plan::build(input);
    };
    use orgsync_connectors::afas_applicants as applicants;
    let view = applicants::plan_view(input.config, t, input.source, input.target);
    let mut plan = plan::build(PlanInput {
        config: &view.config,
        source: &view.source,
        target: &view.target,
        // The records count applicants sent, which the empty view does not list.
        recorded: None,
        previous: None,
        placed: None,
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
            .entry(orgsync_core::vocabulary::DiagnosticKind::SendInterrupted)
            .or_default() += view.held.len();
    }
    plan
}

/// "Today" in the configured time zone, or `--at`.
pub fn today(config: &Config, at: Option<Date>) -> anyhow::Result<Date> {
    if let Some(at) = at {
        return Ok(at);
    }
    let tz = orgsync_core::config::time_zone(&config.policy.timezone)
        .with_context(|| format!("unknown time zone {}", config.policy.timezone))?;
    Ok(jiff::Timestamp::now().to_zoned(tz).date())
}

/// Opens the source connector.
pub fn open_source(loaded: &Loaded) -> anyhow::Result<Box<dyn Source>> {
    let (config, dir) = (&loaded.config, loaded.dir.as_path());
    match &config.source {
        SourceConfig::File(f) => Ok(Box::new(FileSource::new(dir, f))),
        SourceConfig::Afas(a) => Ok(Box::new(orgsync_connectors::afas::AfasSource::new(
            a,
            &loaded.kit,
        )?)),
        SourceConfig::Recruitee(r) => Ok(Box::new(
            orgsync_connectors::recruitee::RecruiteeSource::new(r, &loaded.kit)?,
        )),
        SourceConfig::Google(g) => Ok(Box::new(orgsync_connectors::google::GoogleSource::new(
            g,
            &loaded.kit,
        )?)),
        SourceConfig::Manusplus(m) => Ok(Box::new(
            orgsync_connectors::manusplus::ManusPlusSource::new(m, &loaded.kit)?,
        )),
    }
}

/// Opens the target connector.
pub fn open_target(loaded: &Loaded) -> anyhow::Result<Box<dyn Target>> {
    let (config, dir) = (&loaded.config, loaded.dir.as_path());
    match &config.target {
        TargetConfig::File(f) => Ok(Box::new(FileTarget::for_config(dir, f)?)),
        TargetConfig::Scim(s) => Ok(Box::new(orgsync_connectors::scim::ScimTarget::new(
            s,
            &config.policy.timezone,
            &loaded.kit,
        )?)),
        TargetConfig::AfasApplicants(t) => {
            use orgsync_connectors::afas_applicants::AfasApplicantsTarget;
            Ok(Box::new(AfasApplicantsTarget::new(
                t,
                open_source(loaded)?,
                badge_ledger(loaded)?,
                &loaded.kit,
            )?))
        }
        TargetConfig::Revolut(r) => Ok(Box::new(orgsync_connectors::revolut::RevolutTarget::new(
            r,
            loaded.owned_accounts(),
            &loaded.kit,
        )?)),
    }
}

/// The ledger the afas_applicants target keeps its badges in: it needs one, or it could send
/// someone twice.
fn badge_ledger(loaded: &Loaded) -> anyhow::Result<Arc<dyn Ledger>> {
    let need = "the afas_applicants target keeps its badges (who was sent to AFAS, when) in \
                the git notes of the configuration repository, so that nobody is sent twice";
    let dir = loaded.dir.display();
    match (&loaded.repo, &loaded.ledger) {
        (_, Some(ledger)) => Ok(Arc::clone(ledger)),
        (None, _) => anyhow::bail!(
            "{dir} is not in a git repository: {need}; run `git init` and commit the configuration"
        ),
        (Some(_), None) => anyhow::bail!(
            "the repository of {dir} has no commit yet: {need}; commit the configuration"
        ),
    }
}

/// A secret's value from the environment.
fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The kit of a run: one runtime, secrets from the environment, progress bars on a terminal
/// only.
fn kit() -> anyhow::Result<Kit> {
    use std::io::IsTerminal;
    Ok(Kit::new(env_var, std::io::stderr().is_terminal())?)
}

/// `validate --online`: asks the API connectors whether their configuration works (the AFAS
/// GetConnector and its fields exist, the SCIM server answers and supports PATCH). Returns the
/// problems found, one line each; a connector that cannot be reached or refuses the token is an
/// error.
pub fn check_online(config: &Config) -> anyhow::Result<Vec<String>> {
    let kit = Kit::new(env_var, false)?;
    let mut problems = Vec::new();
    if let SourceConfig::Afas(a) = &config.source {
        let source = orgsync_connectors::afas::AfasSource::new(a, &kit)?;
        problems.extend(
            source
                .check_online(&config.columns_in_use())
                .context("cannot check the source online")?,
        );
    }
    match &config.source {
        SourceConfig::Google(g) => problems.extend(
            orgsync_connectors::google::GoogleSource::new(g, &kit)?
                .check_online()
                .context("cannot check the source online")?,
        ),
        SourceConfig::Manusplus(m) => problems.extend(
            orgsync_connectors::manusplus::ManusPlusSource::new(m, &kit)?
                .check_online()
                .context("cannot check the source online")?,
        ),
        SourceConfig::Recruitee(r) => problems.extend(
            orgsync_connectors::recruitee::RecruiteeSource::new(r, &kit)?
                .check_online()
                .context("cannot check the source online")?,
        ),
        _ => {}
    }
    if let TargetConfig::Revolut(r) = &config.target {
        let target = orgsync_connectors::revolut::RevolutTarget::new(r, Default::default(), &kit)?;
        let mut roles: Vec<String> = Vec::new();
        if let Some(f) = &config.functions {
            roles.extend(f.map.iter().map(|m| m.target.clone()));
            if let orgsync_core::config::UnmappedFunctionPolicy::Fallback(fb) = &f.unmapped {
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
        use orgsync_connectors::afas_applicants::AfasApplicantsTarget;
        // Online checks read no badges.
        let no_badges = Arc::new(ledger::MemoryLedger::new());
        struct NoSource;
        impl Source for NoSource {
            fn fetch(&mut self) -> Result<SourceSnapshot, orgsync_connectors::ConnectorError> {
                Ok(SourceSnapshot::default())
            }
        }
        let target = AfasApplicantsTarget::new(t, Box::new(NoSource), no_badges, &kit)?;
        problems.extend(
            target
                .check_online()
                .context("cannot check the target online")?,
        );
    }
    if let TargetConfig::Scim(s) = &config.target {
        let target = orgsync_connectors::scim::ScimTarget::new(s, &config.policy.timezone, &kit)?;
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
    /// How fast it takes an apply, for the duration estimate (`None`: unknown).
    pub pace: Option<orgsync_core::estimate::ApplyPace>,
}

/// Fetches both sides. A failed fetch is an error: never a partial plan.
///
/// The two systems are independent, so they are read at the same time (each connector is opened
/// and used inside its own thread).
pub fn fetch(loaded: &Loaded) -> anyhow::Result<Fetched> {
    let (source, target) = std::thread::scope(|scope| {
        let source = scope.spawn(|| -> anyhow::Result<SourceSnapshot> {
            let start = Instant::now();
            let snapshot = open_source(loaded)?
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
        let target = open_target(loaded).and_then(|mut t| {
            let capabilities = (t.capabilities(), t.pace());
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
    let (target, (capabilities, pace)) = target?;
    let mut source = source?;
    confirm_absences(loaded, &mut source, &target)?;
    Ok(Fetched {
        source,
        target,
        capabilities,
        pace,
    })
}

/// What explaining one person reads ([`fetch_linked`]).
pub struct FetchedPart {
    /// The people and accounts linked to the person, with every group.
    pub linked: orgsync_core::focus::Linked,
    /// The whole source has nobody.
    pub source_empty: bool,
    /// What the target can do.
    pub capabilities: TargetCapabilities,
}

/// What [`read_parts`] reads: each side's part, and what the target can do.
type Parts = (
    Box<dyn orgsync_core::focus::SourcePart>,
    Box<dyn orgsync_core::focus::TargetPart>,
    TargetCapabilities,
);

/// Each side's part ([`Source::part`], [`Target::part`]: a JSON export or workspace, skimmed),
/// or the whole of it where the connector cannot read a part; both at the same time, as
/// [`fetch`] reads them. Each connector is opened on the thread that reads it.
fn read_parts(
    source: impl FnOnce() -> anyhow::Result<Box<dyn Source>> + Send,
    target: impl FnOnce() -> anyhow::Result<Box<dyn Target>>,
) -> anyhow::Result<Parts> {
    use orgsync_core::focus::{SourcePart, TargetPart};
    let (source, target) = std::thread::scope(|scope| {
        let source = scope.spawn(|| -> anyhow::Result<Box<dyn SourcePart>> {
            let start = Instant::now();
            let mut source = source()?;
            let part: Box<dyn SourcePart> = match source.part().context("cannot read the source")? {
                Some(part) => part,
                None => Box::new(source.fetch().context("cannot read the source")?),
            };
            tracing::debug!(ms = millis(start), "read the source for the person's keys");
            Ok(part)
        });
        let target = target().and_then(|mut t| {
            let start = Instant::now();
            let capabilities = t.capabilities();
            let part: Box<dyn TargetPart> = match t.part().context("cannot read the target")? {
                Some(part) => part,
                None => Box::new(t.fetch().context("cannot read the target")?),
            };
            tracing::debug!(ms = millis(start), "read the target for the person's keys");
            Ok((part, capabilities))
        });
        let source = source
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (source, target)
    });
    let (target, capabilities) = target?;
    Ok((source?, target, capabilities))
}

/// The parts of the data [`prefetch_linked`] started reading, and the sections they were read
/// for.
pub struct Prefetch {
    dir: PathBuf,
    source: SourceConfig,
    target: TargetConfig,
    reads: std::thread::JoinHandle<anyhow::Result<Parts>>,
}

/// Starts reading the data for `explain` from the `source` and `target` sections of `dir`'s
/// orgsync.yaml as written, while the configuration is loaded and checked: reading the files is
/// most of `explain`'s time. Only for an export and a workspace that are files inside `dir`, as
/// written. [`fetch_linked`] uses what was read only when the loaded configuration has the same
/// two sections; a configuration that does not load is reported as ever, and what was read is
/// dropped.
pub fn prefetch_linked(dir: &Path) -> Option<Prefetch> {
    let root = std::fs::read(dir.join(config::ROOT_FILE)).ok()?;
    let (source, target) = config::guess_source_and_target(&root)?;
    let (SourceConfig::File(s), TargetConfig::File(t)) = (&source, &target) else {
        return None;
    };
    let inside = |path: &str| {
        Path::new(path).components().all(|c| {
            matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        })
    };
    if !inside(&s.path) || !inside(&t.path) {
        return None;
    }
    let target_connector = FileTarget::for_config(dir, t).ok()?;
    let (dir_owned, s) = (dir.to_owned(), s.clone());
    let reads = std::thread::spawn(move || {
        read_parts(
            || Ok(Box::new(FileSource::new(&dir_owned, &s)) as Box<dyn Source>),
            || Ok(Box::new(target_connector) as Box<dyn Target>),
        )
    });
    Some(Prefetch {
        dir: dir.to_owned(),
        source,
        target,
        reads,
    })
}

impl Prefetch {
    /// The loaded configuration reads the data as the guess did.
    fn holds_for(&self, loaded: &Loaded) -> bool {
        loaded.dir == self.dir
            && same_json(&loaded.config.source, &self.source)
            && same_json(&loaded.config.target, &self.target)
    }

    fn join(self) -> anyhow::Result<Parts> {
        self.reads
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}

/// Two sections are the same by what they serialize to (they have no `PartialEq`); never when
/// one does not serialize.
fn same_json<T: serde::Serialize>(a: &T, b: &T) -> bool {
    match (serde_json::to_value(a), serde_json::to_value(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Reads the people and accounts linked to `query` ([`orgsync_core::focus`]): each connector
/// that can ([`Source::part`], [`Target::part`]) reads the keys' part alone; the others are read
/// whole and looked at there ([`read_parts`]). What `prefetch` read is used when it was read
/// for this configuration. The source is asked about the linked people its listing left out, as
/// a plan asks about everyone's.
pub fn fetch_linked(
    loaded: &Loaded,
    query: &str,
    prefetch: Option<Prefetch>,
) -> anyhow::Result<FetchedPart> {
    let start = Instant::now();
    let (source, target, capabilities) = match prefetch {
        Some(prefetch) if prefetch.holds_for(loaded) => prefetch.join()?,
        other => {
            // Read for another configuration: waited for, not used.
            drop(other.map(Prefetch::join));
            read_parts(|| open_source(loaded), || open_target(loaded))?
        }
    };
    let mut linked = orgsync_core::focus::read_linked(source.as_ref(), target.as_ref(), query)
        .context("cannot read the person's part")?;
    tracing::info!(
        people = linked.source.persons.len(),
        accounts = linked.target.accounts.len(),
        ms = millis(start),
        "read the people and accounts linked to the person"
    );
    confirm_absences(loaded, &mut linked.source, &linked.target)?;
    Ok(FetchedPart {
        linked,
        source_empty: source.is_empty(),
        capabilities,
    })
}

/// Asks the source, person by person, for everyone with a managed, active account whom the
/// listing did not hold: those are the removals a plan would make. A listing cut the same way on
/// every read (a page the server drops, a filter that changed) would otherwise remove people who
/// never left. Whom the source confirms goes into [`SourceSnapshot::unlisted`]: the plan keeps
/// their accounts and says so. A failed lookup fails the read: no removal is made on a listing
/// that could not be checked.
fn confirm_absences(
    loaded: &Loaded,
    source: &mut SourceSnapshot,
    target: &orgsync_core::model::TargetSnapshot,
) -> anyhow::Result<()> {
    let listed: std::collections::HashSet<&str> =
        source.persons.iter().map(|p| p.id.as_str()).collect();
    let mut absent: Vec<String> = target
        .accounts
        .iter()
        .filter(|a| a.managed && a.status == orgsync_core::model::AccountStatus::Active)
        .filter_map(|a| a.external_id.as_deref())
        .filter(|id| !listed.contains(id))
        .map(str::to_owned)
        .collect();
    if absent.is_empty() {
        return Ok(());
    }
    absent.sort();
    absent.dedup();
    let start = Instant::now();
    let mut found = open_source(loaded)?.lookup(&absent).with_context(|| {
        format!(
            "cannot confirm that {} {} left the source, so nothing is removed",
            absent.len(),
            if absent.len() == 1 {
                "person"
            } else {
                "people"
            }
        )
    })?;
    found.retain(|id| absent.binary_search(id).is_ok());
    found.sort();
    found.dedup();
    tracing::info!(
        asked = absent.len(),
        found = found.len(),
        ms = millis(start),
        "asked the source for the people its listing left out"
    );
    if !found.is_empty() {
        tracing::warn!(
            people = found.len(),
            "the source listing left out people the source still has: they are kept"
        );
    }
    source.unlisted = found;
    Ok(())
}

fn millis(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// What a plan knows from before: the newest apply record, the configuration the target was last
/// brought in line with, and where orgsync last placed people.
#[derive(Debug, Clone, Copy, Default)]
pub struct History<'a> {
    /// The newest apply record's view of the target (the target guard).
    pub recorded: Option<&'a RecordedTarget>,
    /// The previous configuration ([`PlanInput::previous`]).
    pub previous: Option<&'a Config>,
    /// Where orgsync last placed people ([`PlanInput::placed`]).
    pub placed: Option<&'a HashMap<String, Vec<String>>>,
}

/// Builds the plan from fetched inputs.
///
/// The input digests do not influence the plan, so they are computed on a second thread while the
/// plan is built.
pub fn make_plan(config: &Config, fetched: &Fetched, today: Date, history: History<'_>) -> Plan {
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
            recorded: history.recorded,
            capabilities: &fetched.capabilities,
            previous: history.previous,
            placed: history.placed,
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
        previous_config_commit: None,
    };
    plan
}
