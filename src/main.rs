//! `orgsync`: args → run → exit code. The only place that exits.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = orgsync::cli::Cli::parse();
    orgsync::cli::init_tracing(cli.verbose);
    match orgsync::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("error: {err:#}");
            }
            ExitCode::from(1)
        }
    }
}
