//! What `plan` and `apply` share: load the configuration, open the connectors, fetch, plan.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use jiff::civil::Date;

use crate::config::{self, Config, SourceConfig, TargetConfig};
use crate::connectors::file_source::FileSource;
use crate::connectors::file_target::FileTarget;
use crate::connectors::{Source, Target};
use crate::model::{SourceSnapshot, TargetSnapshot};
use crate::plan::{self, Digests, Plan, PlanInput, digest};

/// Loads the configuration, or renders its errors and fails.
pub(crate) fn load_config(dir: &Path) -> anyhow::Result<Config> {
    config::load_dir(dir).map_err(|errors| {
        super::err(&super::validate::render_errors(
            &errors,
            super::stderr_color(),
        ));
        anyhow::anyhow!(
            "the configuration in {} is invalid (run `orgsync validate -C {}`)",
            dir.display(),
            dir.display()
        )
    })
}

/// "Today" in the configured time zone, or `--at`.
pub(crate) fn today(config: &Config, at: Option<Date>) -> anyhow::Result<Date> {
    if let Some(at) = at {
        return Ok(at);
    }
    let tz = jiff::tz::TimeZone::get(&config.policy.timezone)
        .with_context(|| format!("unknown time zone {}", config.policy.timezone))?;
    Ok(jiff::Timestamp::now().to_zoned(tz).date())
}

/// Opens the source connector.
pub(crate) fn open_source(config: &Config, dir: &Path) -> anyhow::Result<Box<dyn Source>> {
    match &config.source {
        SourceConfig::File(f) => Ok(Box::new(FileSource::new(dir, f))),
        SourceConfig::Afas(_) => {
            bail!("the afas source connector is not available in this build yet")
        }
    }
}

/// Opens the target connector.
pub(crate) fn open_target(config: &Config, dir: &Path) -> anyhow::Result<Box<dyn Target>> {
    match &config.target {
        TargetConfig::File(f) => Ok(Box::new(FileTarget::new(&resolve(dir, &f.path)))),
        TargetConfig::Scim(_) => {
            bail!("the scim target connector is not available in this build yet")
        }
    }
}

fn resolve(dir: &Path, path: &str) -> PathBuf {
    dir.join(path)
}

/// Inputs fetched for one plan.
pub(crate) struct Fetched {
    pub source: SourceSnapshot,
    pub target: TargetSnapshot,
}

/// Fetches both sides. A failed fetch is an error: never a partial plan.
pub(crate) fn fetch(config: &Config, dir: &Path) -> anyhow::Result<Fetched> {
    let mut source = open_source(config, dir)?;
    let mut target = open_target(config, dir)?;
    let source = source.fetch().context("cannot read the source")?;
    let target = target.fetch().context("cannot read the target")?;
    Ok(Fetched { source, target })
}

/// Builds the plan from fetched inputs.
pub(crate) fn make_plan(config: &Config, fetched: &Fetched, today: Date) -> Plan {
    let digests = Digests {
        config: config.digest.clone(),
        config_commit: None,
        source: digest::of_json(&fetched.source),
        target: digest::of_json(&fetched.target),
    };
    plan::build(PlanInput {
        config,
        source: &fetched.source,
        target: &fetched.target,
        today,
        created_at: jiff::Timestamp::now()
            .round(jiff::Unit::Second)
            .map(|t| t.to_string())
            .unwrap_or_default(),
        digests,
    })
}
