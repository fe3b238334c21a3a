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

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // `--help` and `--version` are successes; every usage error is exit code 1, never 2:
            // with `--detailed-exitcode`, 2 means "the plan has changes" and CI acts on it.
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    cli::init_tracing(cli.verbose);
    match cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            #[allow(clippy::print_stderr)]
            {
                // Scrubbed: a vendor's message may quote a credential it was sent.
                eprintln!(
                    "error: {}",
                    orgsync_core::redact::scrub(&format!("{err:#}"))
                );
            }
            ExitCode::from(1)
        }
    }
}
