//! `orgsync man [--out DIR]`: the man page, generated from the command line's own definition
//! (clap_mangen). Without `--out` it prints `orgsync.1` (`orgsync man | man -l -`); with it, it
//! writes `orgsync.1` and a page per subcommand (`orgsync-plan.1`, …), as git and cargo ship
//! theirs, for a packager's `share/man/man1`.

use crate::ExitStatus;
use std::path::PathBuf;

use anyhow::Context;
use clap::CommandFactory;

/// Arguments of `man`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write orgsync.1 and one page per subcommand (orgsync-plan.1, …) into DIR; without it,
    /// print orgsync.1.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitStatus> {
    let cmd = super::Cli::command();
    match args.out {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut page)?;
            super::out(&String::from_utf8(page)?)?;
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(cmd, &dir)
                .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
            super::err(&format!("wrote the man pages into {}\n", dir.display()));
        }
    }
    Ok(ExitStatus::Success)
}
