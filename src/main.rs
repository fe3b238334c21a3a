//! `orgsync`: args → run → exit code. The only place that exits.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match orgsync::cli::Cli::try_parse() {
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
    orgsync::cli::init_tracing(cli.verbose);
    match orgsync::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            #[allow(clippy::print_stderr)]
            {
                // Scrubbed: a vendor's message may quote a credential it was sent.
                eprintln!("error: {}", orgsync::redact::scrub(&format!("{err:#}")));
            }
            ExitCode::from(1)
        }
    }
}
