//! `orgsync apply`: execute a saved plan, or plan and apply in one step.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use jiff::civil::Date;

use super::{DirArg, context};
use crate::apply::run::{ApplyOptions, apply};
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
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let dir = &args.dir.dir;
    let config = context::load_config(dir)?;
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
            let today = args.at.unwrap_or(plan.at);
            (plan, today)
        }
        None => {
            let today = context::today(&config, args.at)?;
            let fetched = context::fetch(&config, dir)?;
            let plan = context::make_plan(&config, &fetched, today);
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

    let mut target = context::open_target(&config, dir)?;
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
    Ok(if report.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
