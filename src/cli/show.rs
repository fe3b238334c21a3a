//! `orgsync show PLANFILE [--format text|markdown|json] [--show-pii] [--masked] [--review-record]`:
//! a saved plan, rendered as `plan` renders it (`terraform show`); masked for sharing, or as the
//! review record that ties an apply on merge to it. Offline: it reads no configuration and no
//! system.

use crate::ExitStatus;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::plan::PlanFormat;
use crate::render;
use orgsync_core::vocabulary::{FORMAT_VERSION, Plan};

/// Arguments of `show`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A plan saved with `orgsync plan --out FILE`.
    #[arg(value_name = "PLANFILE")]
    pub plan: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Markdown: show e-mail addresses and full names (masked by default).
    #[arg(long)]
    pub show_pii: bool,
    /// JSON: mask names and e-mail addresses as the Markdown does (for a shared artifact; a
    /// masked plan cannot be applied).
    #[arg(long, conflicts_with = "show_pii")]
    pub masked: bool,
    /// Print the plan's review record instead: its digest and a fingerprint per action, no
    /// personal data. `apply --reviewed FILE` applies what it says, and drift only within the
    /// safety limits.
    #[arg(long, conflicts_with_all = ["masked", "show_pii"])]
    pub review_record: bool,
    /// Also write the whole Markdown plan, nothing left out, to DIR/part-001.md, … each at most
    /// --part-chars characters (masked unless --show-pii).
    #[arg(long, value_name = "DIR", conflicts_with = "review_record")]
    pub markdown_parts: Option<PathBuf>,
    /// The most characters per Markdown part (GitHub takes 65,536 per comment).
    #[arg(long, value_name = "N", default_value_t = super::plan::DEFAULT_PART_CHARS, requires = "markdown_parts")]
    pub part_chars: usize,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitStatus> {
    let plan = read_plan(&args.plan)?;
    if args.masked && args.format != PlanFormat::Json {
        bail!("--masked is for --format json (the Markdown is masked unless --show-pii)");
    }
    if args.review_record {
        super::out(&orgsync_core::apply::reviewed::ReviewRecord::of(&plan).to_json())?;
        return Ok(ExitStatus::Success);
    }
    if let Some(dir) = &args.markdown_parts {
        let whole = render::markdown(
            &plan,
            &render::MarkdownOptions {
                show_pii: args.show_pii,
                max_chars: usize::MAX,
                ..render::MarkdownOptions::default()
            },
        );
        super::plan::write_parts(dir, &whole, args.part_chars)?;
    }
    let text = match args.format {
        PlanFormat::Text => render::text(
            &plan,
            &render::TextOptions {
                color: super::stdout_color(),
            },
        ),
        PlanFormat::Markdown => render::markdown(
            &plan,
            &render::MarkdownOptions {
                show_pii: args.show_pii,
                ..render::MarkdownOptions::default()
            },
        ),
        PlanFormat::Json if args.masked => render::masked_json(&plan),
        PlanFormat::Json => render::json(&plan),
    };
    super::out(&text)?;
    Ok(ExitStatus::Success)
}

/// Reads a plan file, refusing anything that is not an orgsync plan of the format this binary
/// reads. The format version is checked before the plan's shape, so a plan of a newer orgsync
/// says so instead of failing on a field it does not know.
pub(crate) fn read_plan(path: &Path) -> anyhow::Result<Plan> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the plan {}", path.display()))?;
    let not_a_plan = || {
        format!(
            "{} is not an orgsync plan (write one with `orgsync plan --out FILE`)",
            path.display()
        )
    };
    let value: serde_json::Value = serde_json::from_str(&text).with_context(not_a_plan)?;
    let Some(version) = value.get("format_version") else {
        bail!("{}: it has no format_version", not_a_plan());
    };
    if version.as_u64() != Some(FORMAT_VERSION.into()) {
        bail!(
            "{} has plan format {version}; this orgsync reads format {FORMAT_VERSION}",
            path.display()
        );
    }
    serde_json::from_value(value).with_context(not_a_plan)
}
