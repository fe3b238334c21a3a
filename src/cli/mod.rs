//! The command line: one file per subcommand. Commands return an exit code; `main` exits.

mod apply;
mod audit;
mod completions;
mod explain;
mod history;
mod import;
mod init;
mod man;
mod plan;
#[cfg(feature = "sandbox")]
mod sandbox;
mod schema;
mod show;
mod validate;

use crate::ExitStatus;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Keep a workforce app in line with an HR system, declaratively, from a git repository.
#[derive(Debug, Parser)]
#[command(
    name = "orgsync",
    version = crate::LONG_VERSION,
    about,
    long_about = None,
    propagate_version = true
)]
pub struct Cli {
    /// More output on stderr (-v: info, -vv: debug, -vvv: trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Colour on stdout and stderr: `auto` (each on a terminal only, never with `NO_COLOR`
    /// set; `CLICOLOR_FORCE` forces it), `always` or `never`.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t, global = true)]
    pub color: ColorChoice,
    /// Log lines on stderr: `text` for people, or `json` for machines (one JSON object per line:
    /// `timestamp`, `level`, `fields.message`, the fields and spans). Secrets are redacted in both.
    #[arg(
        long,
        value_enum,
        value_name = "FORMAT",
        env = "ORGSYNC_LOG_FORMAT",
        default_value_t,
        global = true
    )]
    pub log_format: LogFormat,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a working configuration with sample data, its schemas and the GitHub workflows.
    Init(init::Args),
    /// Check the configuration: schema and semantic checks, offline.
    Validate(validate::Args),
    /// Show what would change: fetch source and target, compare, print the plan.
    Plan(plan::Args),
    /// Apply a saved plan, or plan and apply in one step.
    Apply(apply::Args),
    /// Print a saved plan (text, Markdown or JSON), offline.
    Show(show::Args),
    /// One person's path through scope and mapping, with who wrote each deciding rule.
    Explain(explain::Args),
    /// The applies recorded as git notes (refs/notes/orgsync), newest first.
    History(history::Args),
    /// Audit evidence for a period (changes, applies, leavers, joiners, exceptions), or one
    /// person's lifecycle.
    Audit(audit::Args),
    /// Append a to-do mapping stub for every unmapped source community and function.
    Import(import::Args),
    /// Write the JSON Schemas of the configuration, the plan and the workspace.
    Schema(schema::Args),
    /// Local stand-ins for the systems: generated data for trying orgsync and benchmarks.
    #[cfg(feature = "sandbox")]
    Sandbox(sandbox::Args),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(completions::Args),
    /// Print the man page, or write all of them (one per subcommand) with --out DIR.
    Man(man::Args),
}

/// Output format of `validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// For people.
    Text,
    /// JSON for editors and CI: an invalid configuration gives the list of errors
    /// `[{file, line, column, path, message, hint}]`, a valid one `{valid, files, env, todos}`.
    Json,
}

/// `--ref REF`, shared by the commands that read a configuration.
#[derive(Debug, clap::Args)]
pub struct RefArg {
    /// Read the configuration from this commit, branch or tag (`main`, `v1.2`, `HEAD~1`) without
    /// checking it out. Data files (source.path, target.path) are still read from the work tree.
    #[arg(long = "ref", value_name = "REF")]
    pub git_ref: Option<String>,
}

/// The configuration directory argument shared by commands.
#[derive(Debug, clap::Args)]
pub struct DirArg {
    /// Configuration directory (its root holds orgsync.yaml).
    #[arg(short = 'C', long = "dir", value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
}

/// Runs a parsed command line. A configuration that does not validate is rendered here, with
/// every located error, before `main` prints the one-line summary.
pub fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    let result = run_command(cli);
    if let Err(e) = &result
        && let Some(invalid) = e.downcast_ref::<crate::pipeline::InvalidConfig>()
    {
        err(&validate::render_errors(&invalid.errors, stderr_color()));
    }
    result
}

fn run_command(cli: Cli) -> anyhow::Result<ExitStatus> {
    match cli.command {
        Command::Init(args) => init::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Apply(args) => apply::run(args),
        Command::Show(args) => show::run(args),
        Command::Explain(args) => explain::run(args),
        Command::History(args) => history::run(args),
        Command::Audit(args) => audit::run(args),
        Command::Import(args) => import::run(args),
        Command::Schema(args) => schema::run(args),
        #[cfg(feature = "sandbox")]
        Command::Sandbox(args) => sandbox::run(args),
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => man::run(args),
    }
}

/// How log lines are written (`--log-format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Lines for people (coloured on a terminal, see `--color`).
    #[default]
    Text,
    /// One JSON object per line, never coloured.
    Json,
}

/// The run's `--log-format`, set once by [`init_tracing`].
static LOG_FORMAT: std::sync::OnceLock<LogFormat> = std::sync::OnceLock::new();

/// Whether log lines are JSON (`--log-format json`): what else goes to stderr as a log line
/// (an apply's line per action) is JSON too.
pub fn json_logs() -> bool {
    LOG_FORMAT.get() == Some(&LogFormat::Json)
}

/// Logs to stderr; `-v` raises the level, `RUST_LOG` overrides it.
pub fn init_tracing(verbose: u8, format: LogFormat) {
    let _ = LOG_FORMAT.set(format);
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("orgsync={level}")));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Stderr)
        .with_target(false);
    let _ = match format {
        LogFormat::Text => logs.with_ansi(stderr_color()).try_init(),
        // Spans as a list, so a request's span (system, method, path) is in its line.
        LogFormat::Json => logs
            .json()
            .with_ansi(false)
            .with_current_span(false)
            .with_span_list(true)
            .try_init(),
    };
}

/// When to colour output (`--color`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set (`CLICOLOR_FORCE` forces it).
    #[default]
    Auto,
    /// Always, also into a file or a pipe.
    Always,
    /// Never.
    Never,
}

/// The run's `--color`, set once by `main` before anything is written.
static COLOR: std::sync::OnceLock<ColorChoice> = std::sync::OnceLock::new();

/// Sets the run's `--color` (the first call wins).
pub fn set_color(choice: ColorChoice) {
    let _ = COLOR.set(choice);
}

/// Whether to colour a stream that is (`terminal`) or is not a terminal.
fn color(terminal: bool) -> bool {
    match COLOR.get().copied().unwrap_or_default() {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            if std::env::var_os("CLICOLOR_FORCE").is_some_and(|v| v != "0") {
                return true;
            }
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && terminal
        }
    }
}

/// Whether to colour output written to stdout.
pub fn stdout_color() -> bool {
    color(std::io::stdout().is_terminal())
}

/// Whether to colour output written to stderr: messages and logs.
pub fn stderr_color() -> bool {
    color(std::io::stderr().is_terminal())
}

/// Writes rendered output to stdout. Broken pipes (`| head`) are not errors.
pub(crate) fn out(text: &str) -> anyhow::Result<()> {
    let text = orgsync_core::redact::scrub(text);
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// Writes messages for people to stderr.
pub(crate) fn err(text: &str) {
    let text = orgsync_core::redact::scrub(text);
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(text.as_bytes());
}

/// A `tracing` writer that scrubs each line before it reaches stderr.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stderr;

impl std::io::Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(orgsync_core::redact::scrub(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Stderr {
    type Writer = Stderr;

    fn make_writer(&'a self) -> Self::Writer {
        Stderr
    }
}
