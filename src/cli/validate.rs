//! `orgsync validate [-C DIR] [--format text|json]`.

use std::fmt::Write;
use std::process::ExitCode;

use owo_colors::OwoColorize;

use super::{DirArg, ReportFormat};
use crate::config::{self, ConfigError, ErrorList};

/// Arguments of `validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub dir: DirArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    match config::load_dir(&args.dir.dir) {
        Ok(cfg) => {
            match args.format {
                ReportFormat::Json => super::out("[]\n")?,
                ReportFormat::Text => {
                    let mut s = format!(
                        "The configuration is valid: {} ({} community mapping{}, {} function mapping{}, {} exclusion rule{}).\n",
                        cfg.files.join(", "),
                        cfg.communities.len(),
                        plural(cfg.communities.len()),
                        cfg.functions.as_ref().map_or(0, |f| f.map.len()),
                        plural(cfg.functions.as_ref().map_or(0, |f| f.map.len())),
                        cfg.exclude.len(),
                        plural(cfg.exclude.len()),
                    );
                    let env = cfg.required_env();
                    if !env.is_empty() {
                        s.push_str("It needs these environment variables at run time:\n");
                        for (var, key) in env {
                            let _ = writeln!(s, "  {var} (for {key})");
                        }
                    }
                    super::out(&s)?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            match args.format {
                ReportFormat::Json => {
                    super::out(&(serde_json::to_string_pretty(&errors.0)? + "\n"))?
                }
                ReportFormat::Text => super::err(&render_errors(&errors, super::stderr_color())),
            }
            Ok(ExitCode::from(1))
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Renders configuration errors the way compilers do: message, location, the line, a caret, a hint.
pub fn render_errors(errors: &ErrorList, color: bool) -> String {
    let mut s = String::new();
    for e in &errors.0 {
        render_one(&mut s, e, color);
    }
    let n = errors.0.len();
    let summary = format!("the configuration has {n} error{}", plural(n));
    if color {
        let _ = writeln!(s, "{}: {summary}", "error".red().bold());
    } else {
        let _ = writeln!(s, "error: {summary}");
    }
    s
}

fn render_one(s: &mut String, e: &ConfigError, color: bool) {
    if color {
        let _ = writeln!(s, "{}: {}", "error".red().bold(), e.message.bold());
    } else {
        let _ = writeln!(s, "error: {}", e.message);
    }
    let key = if e.path.is_empty() {
        String::new()
    } else {
        format!(" at {}", e.path)
    };
    let _ = writeln!(s, "  --> {}:{}:{}{key}", e.file, e.line, e.column);
    if let Some(line) = &e.source_line {
        let gutter = e.line.to_string().len();
        let pad = " ".repeat(gutter);
        let line_text = line.replace('\t', "→");
        let start = e.column.saturating_sub(1);
        let width = line_text
            .chars()
            .skip(start)
            .take_while(|c| !c.is_whitespace() && *c != ':' && *c != ',' && *c != '}' && *c != ']')
            .count()
            .max(1);
        let caret = format!("{}{}", " ".repeat(start), "^".repeat(width));
        let _ = writeln!(s, "{pad} |");
        let _ = writeln!(s, "{} | {line_text}", e.line);
        if color {
            let _ = writeln!(s, "{pad} | {}", caret.red());
        } else {
            let _ = writeln!(s, "{pad} | {caret}");
        }
    }
    if let Some(h) = &e.hint {
        let _ = writeln!(s, "  = hint: {h}");
    }
    s.push('\n');
}
