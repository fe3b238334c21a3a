//! `orgsync apply`: execute a saved plan, or plan and apply in one step.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use jiff::civil::Date;

use super::DirArg;
use super::RefArg;
use crate::apply::run::{ApplyOptions, ApplyReport, apply};
use crate::git::{ApplyRecord, ConfigCommit};
use crate::pipeline::{self, Loaded};
use crate::plan::Plan;
use crate::render;

/// Arguments of `apply`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A plan saved with `orgsync plan --out FILE`. Without it, orgsync plans and applies in one step.
    #[arg(value_name = "PLANFILE")]
    pub plan: Option<PathBuf>,
    #[command(flatten)]
    pub dir: DirArg,
    #[command(flatten)]
    pub git_ref: RefArg,
    /// Do not ask for confirmation (required when not on a terminal).
    #[arg(long)]
    pub auto_approve: bool,
    /// Apply an unsafe plan anyway (over the removal limits).
    #[arg(long)]
    pub force: bool,
    /// Accept up to N removals even when that is over `safety.max_removals`.
    #[arg(long, value_name = "N")]
    pub allow_removals: Option<u64>,
    /// Plan as if today were DATE (YYYY-MM-DD); also the date recorded as `removed_at`.
    #[arg(long, value_name = "DATE")]
    pub at: Option<Date>,
    /// Apply a plan file made from another configuration commit than the one being applied.
    #[arg(long)]
    pub allow_config_mismatch: bool,
    /// Do not record the apply as a git note (refs/notes/orgsync) on the configuration commit.
    #[arg(long)]
    pub no_record: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let dir = &args.dir.dir;
    let loaded = pipeline::load(dir, args.git_ref.git_ref.as_deref())?;
    let config = &loaded.config;
    let color = super::stdout_color();
    let (plan, today) = match &args.plan {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the plan {}", path.display()))?;
            let plan: Plan = serde_json::from_str(&text)
                .with_context(|| format!("{} is not an orgsync plan", path.display()))?;
            if plan.format_version != crate::plan::FORMAT_VERSION {
                bail!(
                    "{} has plan format {}; this orgsync reads format {}",
                    path.display(),
                    plan.format_version,
                    crate::plan::FORMAT_VERSION
                );
            }
            check_config_commit(&plan, &loaded, args.allow_config_mismatch)?;
            let today = args.at.unwrap_or(plan.at);
            (plan, today)
        }
        None => {
            let today = pipeline::today(config, args.at)?;
            let fetched = pipeline::fetch(config, dir)?;
            let plan = pipeline::make_plan_for(&loaded, &fetched, today);
            super::out(&render::text(&plan, &render::TextOptions { color }))?;
            if plan.has_errors() {
                bail!("the plan has errors (see the diagnostics above); nothing was applied");
            }
            (plan, today)
        }
    };
    if !plan.has_changes() {
        super::out("Nothing to apply.\n")?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.plan.is_some() {
        super::out(&render::text(&plan, &render::TextOptions { color }))?;
    }
    if !args.auto_approve {
        if !std::io::stdin().is_terminal() {
            bail!("not on a terminal: pass --auto-approve to apply without confirmation");
        }
        super::out("\nDo you want to apply these actions? Only 'yes' will be accepted: ")?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if answer.trim() != "yes" {
            super::out("Apply cancelled.\n")?;
            return Ok(ExitCode::from(1));
        }
    }

    let mut target = pipeline::open_target(config, dir)?;
    let opts = ApplyOptions {
        today,
        force: args.force,
        allow_removals: args.allow_removals,
    };
    let report = apply(target.as_mut(), &plan, &opts)?;
    let mut s = String::from("\n");
    for o in &report.outcomes {
        match &o.error {
            None => s.push_str(&format!("  ok      {} {}\n", o.kind.as_str(), o.subject)),
            Some(e) => s.push_str(&format!(
                "  FAILED  {} {}: {e}\n",
                o.kind.as_str(),
                o.subject
            )),
        }
    }
    let ok = report.outcomes.len() - report.failed;
    s.push_str(&format!(
        "\nApply complete: {ok} succeeded, {} failed.\n",
        report.failed
    ));
    super::out(&s)?;
    if args.no_record {
        super::err("Not recorded (--no-record).\n");
    } else {
        record(&loaded, &plan, &report)?;
    }
    Ok(if report.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Refuses a plan file made from another configuration commit than the one being applied: the
/// reviewed plan must be the plan of the configuration whose commit records the apply. A commit
/// with uncommitted configuration changes (`-dirty`) only matches when the configuration is
/// byte for byte the same (its digest).
fn check_config_commit(plan: &Plan, loaded: &Loaded, allow: bool) -> anyhow::Result<()> {
    let planned = plan.digests.config_commit.as_deref();
    let current = loaded.commit.as_ref().map(ToString::to_string);
    let same = match (planned.map(ConfigCommit::parse), loaded.commit.as_ref()) {
        (None, None) => true,
        (Some((id, dirty)), Some(now)) => {
            id == now.commit.id
                && (!(dirty || now.dirty) || plan.digests.config == loaded.config.digest)
        }
        _ => false,
    };
    if same {
        return Ok(());
    }
    let describe = |c: Option<&str>| match c {
        Some(c) => {
            let (id, dirty) = ConfigCommit::parse(c);
            format!(
                "commit {}{}",
                crate::git::short(id),
                if dirty {
                    " with uncommitted changes"
                } else {
                    ""
                }
            )
        }
        None => "a configuration outside any git repository".to_owned(),
    };
    let (planned, current) = (describe(planned), describe(current.as_deref()));
    if allow {
        super::err(&format!(
            "warning: the plan was made from {planned}; applying it with the configuration at {current} (--allow-config-mismatch)\n"
        ));
        return Ok(());
    }
    bail!(
        "the plan was made from {planned}, but the configuration being applied is at {current}: plan again, or pass --allow-config-mismatch to apply it anyway"
    )
}

/// Records the apply as a git note on the configuration commit, or says why it cannot.
fn record(loaded: &Loaded, plan: &Plan, report: &ApplyReport) -> anyhow::Result<()> {
    let (Some(repo), Some(commit)) = (&loaded.repo, &loaded.commit) else {
        let why = if loaded.repo.is_some() {
            "the repository has no commits yet"
        } else {
            "the configuration is not in a git repository"
        };
        super::err(&format!("Not recorded: {why}.\n"));
        return Ok(());
    };
    let time = jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map(|t| t.to_string())
        .unwrap_or_default();
    let actor = repo.actor().unwrap_or_else(|| "unknown".to_owned());
    let mut record = ApplyRecord::new(plan, report, repo.prefix(), commit, actor, time);
    record.target = Some(pipeline::target_key(&loaded.config));
    repo.append_note(&commit.commit.id, &record.to_line())
        .context("the apply ran, but recording it failed")?;
    super::err(&format!(
        "Recorded the apply on {}{} ({}): git notes --ref orgsync show {}\n",
        commit.commit.short(),
        if commit.dirty {
            ", whose configuration files have uncommitted changes"
        } else {
            ""
        },
        crate::git::NOTES_REF,
        commit.commit.short()
    ));
    Ok(())
}
