//! `orgsync plan`: what would change, without changing anything.

use crate::ExitStatus;
use std::path::PathBuf;

use anyhow::Context;
use clap::ValueEnum;
use jiff::civil::Date;

use super::DirArg;
use super::RefArg;
use crate::pipeline::{self, Loaded, NoConfig};
use crate::render;
use orgsync_core::plan::compare::{self, Comparison};
use orgsync_core::vocabulary::Plan;

/// Output format of `plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// Like `terraform plan`, for people at a terminal.
    Text,
    /// For a pull-request comment or a CI step summary (personal data masked unless --show-pii).
    Markdown,
    /// The plan JSON contract (see README).
    Json,
}

/// Arguments of `plan`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub dir: DirArg,
    #[command(flatten)]
    pub git_ref: RefArg,
    /// Pull-request mode: also plan the configuration at REF (the pull request's base branch)
    /// against the same fetched data, and show first what the pull request itself changes.
    #[arg(long, value_name = "REF")]
    pub base: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Also write the plan as JSON to FILE, for `orgsync apply FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 2 when the plan has changes, 3 when it is unsafe (over a safety limit: it needs
    /// review and an override to apply); 0: no changes, 1: error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Show the target state before → after as a unified diff of canonical YAML.
    #[arg(long)]
    pub diff: bool,
    /// Plan as if today were DATE (YYYY-MM-DD), so plans reproduce.
    #[arg(long, value_name = "DATE")]
    pub at: Option<Date>,
    /// Markdown: show e-mail addresses and full names (masked by default).
    #[arg(long)]
    pub show_pii: bool,
    /// Also write the plan JSON with names and e-mail addresses masked to FILE, also when the
    /// plan has errors: for a shared CI artifact and for annotations (it cannot be applied).
    #[arg(long, value_name = "FILE")]
    pub masked_out: Option<PathBuf>,
    /// Also write the whole Markdown plan, nothing left out, to DIR/part-001.md, part-002.md, …
    /// each at most --part-chars characters (masked unless --show-pii): for one pull-request
    /// comment per part (the GitHub Action), also when the plan has errors.
    #[arg(long, value_name = "DIR")]
    pub markdown_parts: Option<PathBuf>,
    /// The `timeout-minutes` of the job that will apply this plan: the Markdown plan shows the
    /// apply's estimated duration and warns when it does not fit (GitHub's default is 360).
    #[arg(long, value_name = "MINUTES", env = "ORGSYNC_APPLY_TIMEOUT_MINUTES")]
    pub apply_timeout: Option<u32>,
    /// The most characters per Markdown part (GitHub takes 65,536 per comment).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PART_CHARS, requires = "markdown_parts")]
    pub part_chars: usize,
}

/// The default `--part-chars`: a part and the action's marker and links fit one GitHub comment.
pub(crate) const DEFAULT_PART_CHARS: usize = 64_000;

pub(crate) fn run(args: Args) -> anyhow::Result<ExitStatus> {
    let dir = &args.dir.dir;
    // Fetched once: in pull-request mode the base is planned against the same data.
    // In pull-request mode the base's configuration is the previous one: what its changes
    // follow from is this pull request's doing (the causes the head plan names).
    let mut base_config = None;
    let pipeline::Planned {
        loaded,
        fetched,
        today,
        plan,
    } = match &args.base {
        None => pipeline::plan(dir, args.git_ref.git_ref.as_deref(), args.at)?,
        Some(rev) => pipeline::plan_after(dir, args.git_ref.git_ref.as_deref(), args.at, |l| {
            let (commit, config) = base_config_at(l, rev)?;
            let previous = config.as_ref().ok().map(|c| (c.clone(), commit.id.clone()));
            base_config = Some((commit, config));
            Ok(previous)
        })?,
    };
    let base = match (&args.base, base_config) {
        (Some(rev), Some((commit, config))) => Some(plan_base(
            &loaded, rev, commit, config, &fetched, today, &plan,
        )?),
        _ => None,
    };

    let color = super::stdout_color();
    let estimate = fetched
        .pace
        .as_ref()
        .map(|pace| orgsync_core::estimate::estimate(&plan, pace));
    if let (Some(e), Some(limit)) = (&estimate, args.apply_timeout)
        && plan.has_changes()
        && !e.fits(limit)
    {
        super::err(&format!(
            "warning: the apply is estimated to take {} ({} requests to {}), longer than the apply job's {limit}-minute timeout\n",
            orgsync_core::estimate::duration_words(e.seconds),
            e.requests,
            e.pace.system
        ));
    }
    let markdown_options = render::MarkdownOptions {
        show_pii: args.show_pii,
        // With the applying job's timeout only: the estimate is for CI, and `show PLANFILE`
        // (no target to ask for its pace) prints what a plain `plan` printed.
        apply_estimate: estimate.filter(|_| args.apply_timeout.is_some()),
        apply_timeout_minutes: args.apply_timeout,
        ..render::MarkdownOptions::default()
    };
    let comparison = base.as_ref().map(|b| compare::compare(&b.plan, &plan));
    let view = base
        .as_ref()
        .zip(comparison.as_ref())
        .map(|(base, comparison)| render::PullRequestView {
            base_ref: &base.rev,
            base_commit: Some(&base.commit),
            base_problem: base.problem.as_deref(),
            comparison,
        });
    let markdown = |opts: &render::MarkdownOptions| match &view {
        None => render::markdown(&plan, opts),
        Some(view) => render::pull_request_markdown(view, &plan, opts),
    };
    let mut text = match (&base, &view, &comparison) {
        (Some(base), Some(view), Some(comparison)) => {
            let view = *view;
            match args.format {
                PlanFormat::Text => {
                    render::pull_request_text(&view, &plan, &render::TextOptions { color })
                }
                PlanFormat::Markdown => {
                    render::pull_request_markdown(&view, &plan, &markdown_options)
                }
                PlanFormat::Json => pull_request_json(&plan, base, comparison)?,
            }
        }
        _ => match args.format {
            PlanFormat::Text => render::text(&plan, &render::TextOptions { color }),
            PlanFormat::Markdown => render::markdown(&plan, &markdown_options),
            PlanFormat::Json => render::json(&plan),
        },
    };
    if args.diff {
        let after = orgsync_core::memory::apply_plan(&fetched.target, &plan, today)
            .map_err(|e| anyhow::anyhow!("cannot compute the state after the plan: {e}"))?;
        let diff = render::diff(&fetched.target, &after, color);
        text.push_str(if diff.is_empty() {
            "\nNo differences in the target state.\n"
        } else {
            "\n"
        });
        text.push_str(&diff);
    }
    super::out(&text)?;

    if let Some(path) = &args.masked_out {
        write_text(path, &render::masked_json(&plan))?;
    }
    if let Some(dir) = &args.markdown_parts {
        let whole = markdown(&render::MarkdownOptions {
            max_chars: usize::MAX,
            ..markdown_options.clone()
        });
        write_parts(dir, &whole, args.part_chars)?;
    }
    if plan.has_errors() {
        anyhow::bail!("the plan has errors (see the diagnostics above); nothing was written");
    }
    if let Some(path) = &args.out {
        write_plan(path, &plan)?;
        super::err(&format!(
            "Saved the plan to {}. Apply it with: orgsync apply {}\n",
            path.display(),
            path.display()
        ));
    }
    if !plan.safety.safe {
        let message = unsafe_message(&plan);
        if !args.detailed_exitcode {
            anyhow::bail!(message);
        }
        // Exit 3: the plan is fine but needs a person's review, which CI must tell from a
        // broken plan (1).
        super::err(&format!("warning: {message}\n"));
        std::mem::forget(fetched);
        return Ok(ExitStatus::Unsafe);
    }
    let code = if args.detailed_exitcode && plan.has_changes() {
        ExitStatus::Changes
    } else {
        ExitStatus::Success
    };
    // The process ends right after this: freeing a million people one allocation at a time
    // would only make the user wait (tens of milliseconds at 100k, seconds at 1M).
    std::mem::forget(fetched);
    Ok(code)
}

/// Why the plan is unsafe and which one-off overrides would apply it.
fn unsafe_message(plan: &Plan) -> String {
    use orgsync_core::plan::safety::LimitKind;
    let mut flags: Vec<String> = Vec::new();
    for v in &plan.safety.violations {
        if let Some(kind) = LimitKind::of_rule(&v.rule) {
            let flag = format!("{} {}", kind.flag(), kind.count(&plan.actions));
            if !flags.contains(&flag) {
                flags.push(flag);
            }
        }
    }
    let overrides = if flags.is_empty() {
        "--force".to_owned()
    } else {
        format!("{} (after review) or --force", flags.join(" "))
    };
    format!(
        "the plan is unsafe ({}); apply refuses it without {overrides}",
        plan.safety
            .violations
            .iter()
            .map(|v| v.message.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    )
}

/// The base side of pull-request mode.
struct Base {
    /// The ref as given.
    rev: String,
    /// Its commit.
    commit: String,
    /// Why there is no base plan to compare with (then the base plan is empty).
    problem: Option<String>,
    /// The base configuration's plan, on the head's fetched data.
    plan: Plan,
}

/// The commit `rev` names and its configuration.
fn base_config_at(
    head: &Loaded,
    rev: &str,
) -> anyhow::Result<(
    orgsync_core::ledger::CommitInfo,
    Result<orgsync_core::config::Config, NoConfig>,
)> {
    let repo = head
        .repo
        .as_ref()
        .context("--base needs the configuration directory to be inside a git repository")?;
    let commit = repo.commit(rev)?;
    let config = pipeline::config_at(repo, &commit, rev)?;
    Ok((commit, config))
}

/// Plans the configuration at `rev` against the head's fetched data. A base without a valid
/// configuration (the pull request adds or repairs it) compares as a plan that does nothing.
fn plan_base(
    head: &Loaded,
    rev: &str,
    commit: orgsync_core::ledger::CommitInfo,
    config: Result<orgsync_core::config::Config, NoConfig>,
    fetched: &pipeline::Fetched,
    today: jiff::civil::Date,
    head_plan: &Plan,
) -> anyhow::Result<Base> {
    let (plan, problem) = match config {
        Ok(config) => {
            let base = pipeline::base(&head.dir, config, commit.clone())?;
            (
                pipeline::make_plan_on_same_inputs(&base, fetched, today, head_plan),
                None,
            )
        }
        Err(problem) => {
            let problem = match problem {
                NoConfig::Missing(message) => message,
                NoConfig::Invalid(errors) => format!(
                    "the configuration at {rev} ({}) is invalid ({} error{})",
                    commit.short(),
                    errors.0.len(),
                    if errors.0.len() == 1 { "" } else { "s" }
                ),
            };
            let nothing = Plan {
                format_version: head_plan.format_version,
                created_at: head_plan.created_at.clone(),
                orgsync_version: head_plan.orgsync_version.clone(),
                at: head_plan.at,
                summary: Plan::count_actions(&[]),
                held: std::collections::BTreeMap::new(),
                actions: Vec::new(),
                manual_steps: Vec::new(),
                diagnostics: Vec::new(),
                safety: orgsync_core::vocabulary::Safety::default(),
                digests: orgsync_core::vocabulary::Digests::default(),
            };
            (nothing, Some(problem))
        }
    };
    Ok(Base {
        rev: rev.to_owned(),
        commit: commit.id,
        problem,
        plan,
    })
}

/// The head plan's JSON with an added top-level `pull_request` object (every other key is the
/// plan contract, unchanged).
fn pull_request_json(
    plan: &Plan,
    base: &Base,
    comparison: &Comparison<'_>,
) -> anyhow::Result<String> {
    let mut value = serde_json::to_value(plan)?;
    let mut section = serde_json::Map::new();
    let mut base_info = serde_json::Map::new();
    base_info.insert("ref".to_owned(), base.rev.clone().into());
    base_info.insert("commit".to_owned(), base.commit.clone().into());
    if let Some(problem) = &base.problem {
        base_info.insert("problem".to_owned(), problem.clone().into());
    }
    section.insert("base".to_owned(), base_info.into());
    section.insert(
        "summary".to_owned(),
        serde_json::to_value(comparison.summary())?,
    );
    if let serde_json::Value::Object(parts) = serde_json::to_value(comparison)? {
        section.extend(parts);
    }
    if let Some(object) = value.as_object_mut() {
        object.insert("pull_request".to_owned(), section.into());
    }
    let mut out = serde_json::to_string_pretty(&value)?;
    out.push('\n');
    Ok(out)
}

/// Writes `whole` split into parts of at most `part_chars` characters as DIR/part-001.md, …,
/// removing the parts of an earlier, longer plan.
pub(crate) fn write_parts(
    dir: &std::path::Path,
    whole: &str,
    part_chars: usize,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.starts_with("part-") && name.ends_with(".md") {
            std::fs::remove_file(&path)
                .with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    for (i, part) in render::split_markdown(whole, part_chars).iter().enumerate() {
        write_text(&dir.join(format!("part-{:03}.md", i + 1)), part)?;
    }
    Ok(())
}

/// Writes the plan file atomically: a reader never sees half a plan.
///
/// A plan file never holds a secret. Only data from the source or the target could bring one
/// in (a vendor echoing a token into a name): such a plan is refused, not saved with the value
/// in it — and not saved scrubbed either, since that would no longer be the plan that was made.
pub(crate) fn write_plan(path: &std::path::Path, plan: &Plan) -> anyhow::Result<()> {
    write_text(path, &render::json(plan))
}

/// Writes a rendered plan, refusing one that holds the value of a configured secret.
fn write_text(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    if orgsync_core::redact::scrub(text) != text {
        anyhow::bail!(
            "the plan holds the value of a configured secret (a source or target field carries it); it was not written to {}",
            path.display()
        );
    }
    write_atomically(path, text)
}

/// Writes `text` to `path` through a temporary file in the same directory, so that a reader sees
/// the old contents or the new, never half of them.
pub(crate) fn write_atomically(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write {}", path.display()))?;
    std::io::Write::write_all(&mut tmp, text.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
