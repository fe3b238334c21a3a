//! `orgsync explain PERSON`: one person's path through scope and mapping, with who wrote each
//! deciding rule (git blame).

use crate::ExitStatus;
use std::fmt::Write as _;

use jiff::civil::Date;
use serde::Serialize;

use super::RefArg;
use super::{DirArg, ReportFormat};
use crate::pipeline;
use crate::render;
use orgsync_core::config::TargetConfig;
use orgsync_core::explain::{Explanation, Outcome, Placement, Step, explain, explain_linked};
use orgsync_core::plan::PlanInput;
use orgsync_core::vocabulary::{Plan, Safety};
use orgsync_repo::{BlameAt, BlameLine, CommitInfo};

/// Arguments of `explain`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The person: a source identifier (employee number) or an e-mail address.
    #[arg(value_name = "PERSON")]
    pub person: String,
    #[command(flatten)]
    pub dir: DirArg,
    #[command(flatten)]
    pub git_ref: RefArg,
    /// Explain as if today were DATE (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub at: Option<Date>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

/// Who wrote one deciding rule.
#[derive(Debug, Serialize)]
struct Authors {
    /// The rule.
    rule: String,
    /// Its file.
    file: String,
    /// Each of its lines with the commit that last changed it.
    lines: Vec<BlameLine>,
}

#[derive(Debug, Serialize)]
struct Output<'e> {
    #[serde(flatten)]
    explanation: &'e Explanation,
    /// Blame of every deciding rule that is written in the configuration.
    blame: &'e [Authors],
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitStatus> {
    let dir = &args.dir.dir;
    // The data files are read while the configuration is loaded; a configuration at another
    // ref, or one that turns out to read other files, reads them after.
    let prefetch = match args.git_ref.git_ref {
        None => pipeline::prefetch_linked(dir),
        Some(_) => None,
    };
    let loaded = pipeline::load(dir, args.git_ref.git_ref.as_deref())?;
    let today = pipeline::today(&loaded.config, args.at)?;
    let config = &loaded.config;
    let (e, plan) = if matches!(config.target, TargetConfig::AfasApplicants(_)) {
        // A create-only target plans on a view of its own (`pipeline::build`): the whole plan.
        let fetched = pipeline::fetch(&loaded)?;
        let plan = pipeline::make_plan_for(&loaded, &fetched, today);
        let e = explain(
            config,
            &fetched.source,
            &fetched.target,
            &plan,
            today,
            &args.person,
        )?;
        (e, plan)
    } else {
        // Only the people and accounts linked to this person, and only their part of the plan:
        // the same rules, a small part of a plan's time. Compared with the configuration of the
        // newest apply, as `plan` is: the same causes.
        let part = pipeline::fetch_linked(&loaded, &args.person, prefetch)?;
        let previous = loaded.previous_config();
        let placed = loaded.placed();
        let recorded = loaded.recorded_target();
        let input = PlanInput {
            config,
            source: &part.linked.source,
            target: &part.linked.target,
            today,
            created_at: String::new(),
            digests: Default::default(),
            recorded: recorded.as_ref(),
            capabilities: &part.capabilities,
            previous: previous.as_ref().map(|(c, _)| c),
            placed: Some(&placed),
        };
        explain_linked(input, &part.linked, part.source_empty, &args.person)?
    };

    let mut authors = Vec::new();
    if let Some(repo) = &loaded.repo {
        let at = match (&args.git_ref.git_ref, &loaded.commit) {
            (Some(_), Some(c)) => BlameAt::Commit(&c.commit.id),
            _ => BlameAt::WorkTree,
        };
        for step in e.decisive_steps() {
            let Some(location) = &step.location else {
                continue;
            };
            authors.push(Authors {
                rule: step.rule.clone(),
                file: location.file.clone(),
                lines: repo.blame(&location.file, &step.lines, at)?,
            });
        }
    }
    match args.format {
        ReportFormat::Json => super::out(
            &(serde_json::to_string_pretty(&Output {
                explanation: &e,
                blame: &authors,
            })? + "\n"),
        )?,
        ReportFormat::Text => {
            let origin = match (&args.git_ref.git_ref, &loaded.commit) {
                (Some(rev), Some(c)) => {
                    format!("the configuration at {rev} ({})", c.commit.short())
                }
                (None, Some(c)) if c.dirty => format!(
                    "the configuration in the work tree (HEAD {} with uncommitted changes)",
                    c.commit.short()
                ),
                (None, Some(c)) => format!("the configuration at HEAD ({})", c.commit.short()),
                _ => "the configuration (not in a git repository: no authors)".to_owned(),
            };
            super::out(&text(&e, &authors, &plan, &origin))?;
        }
    }
    Ok(ExitStatus::Success)
}

fn text(e: &Explanation, authors: &[Authors], plan: &Plan, origin: &str) -> String {
    let mut s = String::new();
    let p = &e.person;
    // Everything from HR (or git) is printed with its control characters escaped, as the plan
    // prints it: a name with an ANSI sequence or a line break must not retitle the terminal or
    // print a line of its own.
    let email = p
        .email
        .as_deref()
        .map(|m| format!(" <{}>", safe(m)))
        .unwrap_or_default();
    let _ = writeln!(
        s,
        "Person {} ({}{email}), as of {}, with {}\n",
        safe(&p.id),
        safe(&p.name),
        e.at,
        safe(origin)
    );
    let verdict = match &e.out_of_scope {
        None => "in scope".to_owned(),
        Some(why) => format!("out of scope: {}", safe(why)),
    };
    let _ = writeln!(s, "Scope: {verdict}");
    for step in &e.scope {
        write_step(&mut s, step, authors, "  ");
    }
    if e.in_scope {
        placements(&mut s, "Communities", &e.communities, authors);
        placements(&mut s, "Function groups", &e.function_groups, authors);
    }
    s.push('\n');
    if let Some(account) = &e.account {
        let _ = writeln!(s, "Target: {}", safe(&account.to_string()));
    } else if e.in_scope {
        s.push_str("Target: no account matches (identity.match)\n");
    }
    // Manual steps name their subjects: the person's are theirs, with only them as subject.
    let manual_steps: Vec<_> = plan
        .manual_steps
        .iter()
        .filter(|m| m.subjects.contains(&p.id))
        .map(|m| orgsync_core::vocabulary::ManualStep {
            count: 1,
            subjects: vec![p.id.clone()],
            ..m.clone()
        })
        .collect();
    if e.actions.is_empty() && e.diagnostics.is_empty() && manual_steps.is_empty() {
        s.push_str("The plan does nothing for this person.\n");
        return s;
    }
    // The person's part of the plan, rendered like the plan itself.
    let part = Plan {
        summary: Plan::count_actions(&e.actions),
        held: std::collections::BTreeMap::new(),
        actions: e.actions.clone(),
        manual_steps,
        diagnostics: e.diagnostics.clone(),
        safety: Safety {
            safe: true,
            violations: Vec::new(),
        },
        format_version: plan.format_version,
        created_at: plan.created_at.clone(),
        orgsync_version: plan.orgsync_version.clone(),
        at: plan.at,
        digests: plan.digests.clone(),
    };
    s.push('\n');
    s.push_str(&render::text(&part, &render::TextOptions { color: false }));
    s
}

fn placements(s: &mut String, title: &str, list: &[Placement], authors: &[Authors]) {
    if list.is_empty() {
        return;
    }
    let _ = writeln!(s, "\n{title}");
    for p in list {
        let source = match (&p.source, &p.source_name) {
            (Some(id), Some(name)) if name != id => format!("{id} \"{name}\""),
            (Some(id), _) => id.clone(),
            (None, _) => "(none)".to_owned(),
        };
        let target = match &p.target {
            Some(g) if g.is_new() => format!("{} (created by this plan)", g.name),
            Some(g) => format!("{} ({})", g.name, g.id),
            None if p.fallback => "nowhere: another of theirs is mapped".to_owned(),
            None => "nowhere: held".to_owned(),
        };
        let target = if p.fallback && p.target.is_some() {
            format!("{target}, the fallback")
        } else {
            target
        };
        let _ = writeln!(s, "  {} → {}", safe(&source), safe(&target));
        write_step(s, &p.rule, authors, "    ");
    }
}

fn write_step(s: &mut String, step: &Step, authors: &[Authors], indent: &str) {
    let mark = match (step.outcome, step.decisive) {
        (_, true) => "→",
        (Outcome::Matched, false) => "✓",
        (Outcome::NotMatched, false) => "✗",
    };
    let at = step
        .location
        .as_ref()
        .map(|l| format!("  ({}:{})", l.file, l.line))
        .unwrap_or_default();
    let _ = writeln!(s, "{indent}{mark} {}{}", safe(&step.rule), safe(&at));
    if !step.decisive {
        return;
    }
    let Some(a) = authors.iter().find(|a| a.rule == step.rule) else {
        return;
    };
    // One line per commit, newest first; the lines it wrote in brackets.
    let mut commits: Vec<(Option<&CommitInfo>, Vec<usize>)> = Vec::new();
    for b in &a.lines {
        match commits
            .iter_mut()
            .find(|(c, _)| c.map(|c| &c.id) == b.commit.as_ref().map(|c| &c.id))
        {
            Some((_, lines)) => lines.push(b.line),
            None => commits.push((b.commit.as_ref(), vec![b.line])),
        }
    }
    // Uncommitted lines first, then the newest commit.
    commits.sort_by_key(|(c, _)| {
        let when = c.and_then(|c| c.date.parse::<jiff::Timestamp>().ok());
        std::cmp::Reverse((c.is_none(), when))
    });
    for (commit, lines) in commits {
        let lines: Vec<String> = lines.iter().map(ToString::to_string).collect();
        let which = format!(
            "line{} {}",
            if lines.len() == 1 { "" } else { "s" },
            lines.join(", ")
        );
        match commit {
            Some(c) => {
                let _ = writeln!(
                    s,
                    "{indent}    written by {} on {} in {} \"{}\" ({which})",
                    safe(&c.author),
                    c.day(),
                    c.short(),
                    safe(&c.subject)
                );
            }
            None => {
                let _ = writeln!(s, "{indent}    not committed yet ({which})");
            }
        }
    }
}

/// `text` with its control characters (and bidirectional overrides) shown as escapes.
fn safe(text: &str) -> std::borrow::Cow<'_, str> {
    render::escape_control(text)
}
