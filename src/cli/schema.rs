//! `orgsync schema [--out DIR]`.

use crate::ExitStatus;
use std::path::PathBuf;

use anyhow::Context;

use orgsync_core::config::schema;

/// Arguments of `schema`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write the schemas into this directory (committed as `schemas/`); without it, print the
    /// configuration schema.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitStatus> {
    let schemas = schema::all();
    match args.out {
        None => super::out(&schema::to_text(&schemas[0].1))?,
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            for (name, s) in &schemas {
                let path = dir.join(name);
                std::fs::write(&path, schema::to_text(s))
                    .with_context(|| format!("cannot write {}", path.display()))?;
                super::err(&format!("wrote {}\n", path.display()));
            }
        }
    }
    Ok(ExitStatus::Success)
}
