//! `orgsync plan`: what would change, without changing anything.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::ValueEnum;
use jiff::civil::Date;

use super::{DirArg, context};
use crate::plan::Plan;
use crate::render;

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
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Also write the plan as JSON to FILE, for `orgsync apply FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 2 when the plan has changes (0: no changes, 1: error).
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
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let dir = &args.dir.dir;
    let config = context::load_config(dir)?;
    let today = context::today(&config, args.at)?;
    let fetched = context::fetch(&config, dir)?;
    let plan = context::make_plan(&config, &fetched, today);

    let color = super::stdout_color();
    let mut text = match args.format {
        PlanFormat::Text => render::text(&plan, &render::TextOptions { color }),
        PlanFormat::Markdown => render::markdown(
            &plan,
            &render::MarkdownOptions {
                show_pii: args.show_pii,
                ..render::MarkdownOptions::default()
            },
        ),
        PlanFormat::Json => render::json(&plan),
    };
    if args.diff {
        let after = crate::apply::memory::apply_plan(&fetched.target, &plan, today)
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
        anyhow::bail!(
            "the plan is unsafe ({}); apply refuses it without --allow-removals N or --force",
            plan.safety
                .violations
                .iter()
                .map(|v| v.message.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Writes the plan file atomically: a reader never sees half a plan.
pub(crate) fn write_plan(path: &std::path::Path, plan: &Plan) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write {}", path.display()))?;
    std::io::Write::write_all(&mut tmp, render::json(plan).as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
