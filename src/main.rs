//! `orgsync`: args → run → exit code. The only place that exits.

mod cli;
mod pipeline;
mod render;

use std::process::ExitCode;

use clap::Parser;

/// The commit orgsync was built from (12 hex digits), or `unknown` outside a git checkout
/// (`build.rs`).
pub const GIT_COMMIT: &str = env!("ORGSYNC_GIT_COMMIT");

/// What `orgsync --version` prints after the name: `0.1.0 (rev 0123456789ab)`.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (rev ",
    env!("ORGSYNC_GIT_COMMIT"),
    ")"
);

/// How orgsync ends. The codes are part of the interface: CI acts on them (README: Exit codes),
/// so commands return one of these and only `main` turns it into a process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: done; a plan without changes.
    Success,
    /// 1: an error (an invalid configuration, a stale or edited plan, a failed apply, an unsafe
    /// plan without `--detailed-exitcode`, a usage error).
    Failure,
    /// 2: `plan --detailed-exitcode`: the plan has changes.
    Changes,
    /// 3: `plan --detailed-exitcode`: the plan is unsafe (it needs a person's review and an
    /// override), which CI must tell from a broken plan.
    Unsafe,
    /// 130 (128 + SIGINT, what shells report for Ctrl-C): an interrupted apply.
    Interrupted,
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> ExitCode {
        ExitCode::from(match status {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Changes => 2,
            ExitStatus::Unsafe => 3,
            ExitStatus::Interrupted => 130,
        })
    }
}

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // `--help` and `--version` are successes; every usage error is exit code 1, never 2:
            // with `--detailed-exitcode`, 2 means "the plan has changes" and CI acts on it.
            let _ = err.print();
            return if err.use_stderr() {
                ExitStatus::Failure
            } else {
                ExitStatus::Success
            }
            .into();
        }
    };
    cli::set_color(cli.color);
    cli::init_tracing(cli.verbose, cli.log_format);
    match cli::run(cli) {
        Ok(status) => status.into(),
        Err(err) => {
            #[allow(clippy::print_stderr)]
            {
                // Scrubbed: a vendor's message may quote a credential it was sent.
                eprintln!(
                    "error: {}",
                    orgsync_core::redact::scrub(&format!("{err:#}"))
                );
            }
            ExitStatus::Failure.into()
        }
    }
}
