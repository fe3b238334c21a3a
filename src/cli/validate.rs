//! `orgsync validate [-C DIR] [--format text|json]`.

use crate::ExitStatus;
use std::fmt::Write;

use owo_colors::OwoColorize;

use super::RefArg;
use super::{DirArg, ReportFormat};
use crate::pipeline::{self, NoConfig};
use orgsync_core::config::{Config, ConfigError, ErrorList};
use orgsync_repo::ConfigRepo;

/// Arguments of `validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub dir: DirArg,
    #[command(flatten)]
    pub git_ref: RefArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    /// Also check against the live systems: the AFAS GetConnector and its fields exist
    /// (metainfo), the SCIM server answers, accepts the token and supports PATCH.
    #[arg(long)]
    pub online: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitStatus> {
    let (loaded, at) = load(&args)?;
    // The data behind the configuration: the configured columns against the export.
    let loaded = match loaded {
        Ok(cfg) => {
            let (errors, warnings) = export_columns(&cfg, &args.dir.dir);
            if errors.is_empty() {
                Ok((cfg, warnings))
            } else {
                Err((ErrorList(errors), warnings))
            }
        }
        Err(errors) => Err((errors, Vec::new())),
    };
    match loaded {
        Ok((cfg, warnings)) => {
            match args.format {
                ReportFormat::Json if args.online => return online_json(&cfg, &warnings),
                ReportFormat::Json => super::out(&valid_json(&cfg, &warnings, None)?)?,
                ReportFormat::Text => {
                    if !warnings.is_empty() {
                        super::err(&render_warnings(&warnings, super::stderr_color()));
                    }
                    let mut s = format!(
                        "The configuration{at} is valid: {} ({} community mapping{}, {} function mapping{}, {} exclusion rule{}).\n",
                        cfg.files.join(", "),
                        cfg.communities.len(),
                        plural(cfg.communities.len()),
                        cfg.functions.as_ref().map_or(0, |f| f.map.len()),
                        plural(cfg.functions.as_ref().map_or(0, |f| f.map.len())),
                        cfg.exclude.len(),
                        plural(cfg.exclude.len()),
                    );
                    s.push_str(&todo_stubs(&cfg));
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
            if args.online {
                return online(&cfg);
            }
            Ok(ExitStatus::Success)
        }
        Err((errors, warnings)) => {
            match args.format {
                ReportFormat::Json => super::out(&invalid_json(&errors, &warnings)?)?,
                ReportFormat::Text => {
                    let mut s = String::new();
                    if !warnings.is_empty() {
                        s.push_str(&render_warnings(&warnings, super::stderr_color()));
                    }
                    s.push_str(&render_errors(&errors, super::stderr_color()));
                    super::err(&s);
                }
            }
            Ok(ExitStatus::Failure)
        }
    }
}

/// The configured columns of a `file` source against its export in the work tree `dir`, as
/// (errors, warnings).
/// An export that cannot be read is not judged here: `plan` reports it with its line.
fn export_columns(cfg: &Config, dir: &std::path::Path) -> (Vec<ConfigError>, Vec<ConfigError>) {
    let orgsync_core::config::SourceConfig::File(file) = &cfg.source else {
        return (Vec::new(), Vec::new());
    };
    let Ok((present, rows)) = orgsync_connectors::file_source::export_columns(dir, file) else {
        return (Vec::new(), Vec::new());
    };
    let (errors, warnings) = orgsync_core::config::export_column_problems(cfg, &present, rows);
    let quote = |mut e: ConfigError| {
        e.source_line = std::fs::read_to_string(dir.join(&e.file))
            .ok()
            .and_then(|t| t.lines().nth(e.line.saturating_sub(1)).map(str::to_owned));
        e
    };
    (
        errors.into_iter().map(quote).collect(),
        warnings.into_iter().map(quote).collect(),
    )
}

/// `--online`: the connectors' own checks against the live systems.
fn online(cfg: &Config) -> anyhow::Result<ExitStatus> {
    let problems = pipeline::check_online(cfg)?;
    if problems.is_empty() {
        super::out("Online: the source and the target answer and match the configuration.\n")?;
        return Ok(ExitStatus::Success);
    }
    let mut s = String::new();
    for p in &problems {
        let _ = writeln!(s, "error: {p}");
    }
    let _ = writeln!(
        s,
        "error: the online check found {} problem{}",
        problems.len(),
        plural(problems.len())
    );
    super::err(&s);
    Ok(ExitStatus::Failure)
}

/// The configuration of `-C DIR`, from the work tree or `--ref`, and " at REF (commit)" for
/// messages.
fn load(args: &Args) -> anyhow::Result<(Result<Config, ErrorList>, String)> {
    let dir = &args.dir.dir;
    let Some(rev) = args.git_ref.git_ref.as_deref() else {
        return Ok((orgsync_repo::load_dir(dir), String::new()));
    };
    let repo = ConfigRepo::discover(dir)?.ok_or_else(|| pipeline::not_a_repository(dir, rev))?;
    let commit = repo.commit(rev)?;
    let at = format!(" at {rev} ({})", commit.short());
    match pipeline::config_at(&repo, &commit, rev)? {
        // Data files are read from the work tree, whatever the commit: check them there.
        Ok(config) => {
            let errors = orgsync_repo::data_paths(&config, dir);
            if errors.is_empty() {
                Ok((Ok(config), at))
            } else {
                Ok((Err(ErrorList(errors)), at))
            }
        }
        Err(NoConfig::Invalid(errors)) => Ok((Err(errors), at)),
        Err(NoConfig::Missing(message)) => Err(anyhow::anyhow!(message)),
    }
}

/// A mapping stub written by `orgsync import` that still carries `todo: true`.
struct Todo<'a> {
    /// `community` or `function`.
    kind: &'static str,
    /// Its JSON pointer into the configuration (`/communities/3`).
    pointer: String,
    source: &'a [String],
    target: &'a str,
}

/// The mapping stubs still marked `todo: true`, communities first, in file order.
fn todos(cfg: &Config) -> Vec<Todo<'_>> {
    let mut out = Vec::new();
    for (i, m) in cfg.communities.iter().enumerate() {
        if m.todo == Some(true) {
            out.push(Todo {
                kind: "community",
                pointer: format!("/communities/{i}"),
                source: m.source.as_slice(),
                target: &m.target,
            });
        }
    }
    for (i, m) in cfg.functions.iter().flat_map(|f| f.map.iter()).enumerate() {
        if m.todo == Some(true) {
            out.push(Todo {
                kind: "function",
                pointer: format!("/functions/map/{i}"),
                source: m.source.as_slice(),
                target: &m.target,
            });
        }
    }
    out
}

/// `--online --format json`: one JSON document, the online check's problems in it (exit 1 when
/// there are any), nothing else on stdout.
fn online_json(cfg: &Config, warnings: &[ConfigError]) -> anyhow::Result<ExitStatus> {
    let problems = pipeline::check_online(cfg)?;
    let failed = !problems.is_empty();
    super::out(&valid_json(cfg, warnings, Some(problems))?)?;
    Ok(if failed {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

/// `--format json`, valid or not, is one object of one shape (`schemas/validate.schema.json`):
/// `{valid, files, errors, warnings, env, todos[, online]}`.
fn valid_json(
    cfg: &Config,
    warnings: &[ConfigError],
    online: Option<Vec<String>>,
) -> anyhow::Result<String> {
    let env: Vec<serde_json::Value> = cfg
        .required_env()
        .into_iter()
        .map(|(name, key)| serde_json::json!({ "name": name, "for": key }))
        .collect();
    let todos: Vec<serde_json::Value> = todos(cfg)
        .into_iter()
        .map(|t| {
            let location = cfg.locations.get(&t.pointer);
            serde_json::json!({
                "kind": t.kind,
                "source": t.source,
                "target": t.target,
                "path": t.pointer,
                "file": location.as_ref().map(|l| l.file.as_str()),
                "line": location.as_ref().map(|l| l.line),
                "column": location.as_ref().map(|l| l.column),
            })
        })
        .collect();
    let warnings: Vec<ConfigError> = warnings.to_vec();
    let mut value = serde_json::json!({
        "valid": true,
        "files": cfg.files,
        "errors": [],
        "warnings": warnings,
        "env": env,
        "todos": todos,
    });
    if let Some(problems) = online {
        value["online"] = serde_json::json!({ "ok": problems.is_empty(), "problems": problems });
    }
    Ok(serde_json::to_string_pretty(&value)? + "\n")
}

/// `--format json` for an invalid configuration: the same object, `valid: false`.
fn invalid_json(errors: &ErrorList, warnings: &[ConfigError]) -> anyhow::Result<String> {
    let warnings: Vec<ConfigError> = warnings.to_vec();
    let value = serde_json::json!({
        "valid": false,
        "files": [],
        "errors": errors.0,
        "warnings": warnings,
        "env": [],
        "todos": [],
    });
    Ok(serde_json::to_string_pretty(&value)? + "\n")
}

/// The to-do stubs as a sentence with where they are, for the text report.
fn todo_stubs(cfg: &Config) -> String {
    let at = todos(cfg);
    if at.is_empty() {
        return String::new();
    }
    let places: Vec<String> = at
        .iter()
        .filter_map(|t| cfg.locations.get(&t.pointer))
        .map(|l| format!("{}:{}", l.file, l.line))
        .collect();
    format!(
        "{} mapping{} still marked `todo: true` (written by orgsync import; decide the target, then remove the mark): {}\n",
        at.len(),
        if at.len() == 1 { " is" } else { "s are" },
        places.join(", ")
    )
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

/// Renders warnings like errors, headed `warning:`.
fn render_warnings(warnings: &[ConfigError], color: bool) -> String {
    let mut s = String::new();
    for w in warnings {
        let mut one = String::new();
        render_one(&mut one, w, color);
        // The first line says `error: `; a warning says so instead.
        let one = if color {
            one.replacen(
                &"error".red().bold().to_string(),
                &"warning".yellow().bold().to_string(),
                1,
            )
        } else {
            one.replacen("error: ", "warning: ", 1)
        };
        s.push_str(&one);
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
        let rest: String = line_text.chars().skip(start).collect();
        let redacted = orgsync_core::redact::REDACTED;
        // A redacted value is underlined whole, brackets and all.
        let width = if rest.starts_with(redacted) {
            redacted.chars().count()
        } else {
            rest.chars()
                .take_while(|c| {
                    !c.is_whitespace() && *c != ':' && *c != ',' && *c != '}' && *c != ']'
                })
                .count()
                .max(1)
        };
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
