//! `orgsync sandbox`: local stand-ins for the systems, for trying orgsync and for benchmarks.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::sandbox::generate::{GenerateOptions, generate, write};

/// Arguments of `sandbox`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: SandboxCommand,
}

/// Sandbox subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum SandboxCommand {
    /// Write a configuration, a source export and a target workspace with realistic churn.
    Generate {
        /// Number of people in the source.
        #[arg(long, default_value_t = 1000)]
        people: usize,
        /// Directory to write into (created if needed).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Random seed: the same seed gives the same files.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// The day the data is "as of" (YYYY-MM-DD): new hires start around it, leavers ended
        /// before it. Plan with the same `--at`.
        #[arg(long, value_name = "DATE")]
        today: Option<jiff::civil::Date>,
    },
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        SandboxCommand::Generate {
            people,
            out,
            seed,
            today,
        } => {
            let mut opts = GenerateOptions::new(people, seed);
            if let Some(today) = today {
                opts.today = today;
            }
            let generated = generate(&opts);
            write(&out, &generated)
                .with_context(|| format!("cannot write into {}", out.display()))?;
            super::err(&format!(
                "Wrote a sandbox of {people} people (as of {}) to {}. Try: orgsync plan -C {} --at {}\n",
                opts.today,
                out.display(),
                out.display(),
                opts.today
            ));
            Ok(ExitCode::SUCCESS)
        }
    }
}
