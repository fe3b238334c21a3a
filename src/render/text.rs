//! The terminal plan, like `terraform plan`: what a new user reads first.

use std::fmt::Write as _;

use owo_colors::Style;

use super::{
    Sign, actions_by_kind, counts_sentence, format_change, held_sentence, kind_title,
    manual_sentence, manual_step_line, ordered_changes, people, severity_label, severity_tally,
    subject_ids, thousands,
};
use orgsync_core::vocabulary::{Action, Diagnostic, Plan, Severity};

/// How to render the terminal plan.
#[derive(Debug, Clone, Default)]
pub struct TextOptions {
    /// ANSI colour: green `+`, yellow `~`, red `-`, diagnostics by severity. The CLI turns it on
    /// for a terminal when `NO_COLOR` is unset. Default: off.
    pub color: bool,
}

/// The plan for a terminal: diagnostics, the actions grouped by kind in apply order, safety
/// violations, and a closing `Plan: …` line.
pub fn text(plan: &Plan, opts: &TextOptions) -> String {
    let paint = Painter { color: opts.color };
    let mut out = String::new();

    if !plan.diagnostics.is_empty() {
        let _ = writeln!(
            out,
            "{}\n",
            paint.paint(
                &format!("Diagnostics: {}", severity_tally(plan)),
                Style::new().bold()
            )
        );
        for diagnostic in &plan.diagnostics {
            write_diagnostic(&mut out, diagnostic, paint);
        }
    }

    let groups = actions_by_kind(plan);
    if !groups.is_empty() {
        let _ = writeln!(
            out,
            "orgsync will perform the following actions (as of {}):\n",
            plan.at
        );
        for (kind, actions) in &groups {
            let sign = Sign::of(*kind);
            let _ = writeln!(
                out,
                "{}",
                paint.paint(
                    &format!("{} ({})", kind_title(*kind), thousands(actions.len())),
                    Style::new().bold()
                )
            );
            for action in actions {
                write_action(&mut out, action, sign, paint);
            }
            out.push('\n');
        }
    }

    if !plan.manual_steps.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            paint.paint(
                &format!(
                    "Manual steps ({}): orgsync cannot do these and will not; do them by hand",
                    thousands(plan.manual_steps.len())
                ),
                Style::new().bold()
            )
        );
        for step in &plan.manual_steps {
            let _ = writeln!(
                out,
                "  {} {}",
                paint.paint("!", Style::new().yellow()),
                escape_control(&manual_step_line(step))
            );
        }
        out.push('\n');
    }

    if !plan.safety.safe {
        let _ = writeln!(
            out,
            "{} orgsync apply refuses it without --allow-removals N or --force.",
            paint.paint("Unsafe plan:", Style::new().red().bold())
        );
        for violation in &plan.safety.violations {
            let _ = writeln!(
                out,
                "  {} {}: {} (limit {}, planned {})",
                paint.paint("✗", Style::new().red()),
                violation.rule,
                violation.message,
                violation.limit,
                violation.actual
            );
        }
        out.push('\n');
    }

    let errors = plan.error_count();
    if errors > 0 {
        let _ = writeln!(
            out,
            "{} the plan has {} (see above) and cannot be applied.",
            paint.paint("Error:", Style::new().red().bold()),
            if errors == 1 {
                "1 error".to_owned()
            } else {
                format!("{} errors", thousands(errors))
            }
        );
    }

    let held = held_sentence(plan);
    let manual = manual_sentence(plan);
    match counts_sentence(plan) {
        Some(counts) => {
            // What reaches people first: e-mails, accounts taken away, a first sync.
            let _ = writeln!(
                out,
                "{} {}.",
                paint.paint("People:", Style::new().bold()),
                super::reach::plan_sentence(plan)
            );
            let _ = writeln!(
                out,
                "{} {counts}.",
                paint.paint("Plan:", Style::new().bold())
            );
            if let Some(manual) = &manual {
                let _ = writeln!(
                    out,
                    "{} {manual}.",
                    paint.paint("Manual:", Style::new().bold())
                );
            }
            if let Some(held) = &held {
                let _ = writeln!(out, "{} {held}.", paint.paint("Held:", Style::new().bold()));
            }
        }
        None if manual.is_some() => {
            let _ = writeln!(
                out,
                "{} {}.",
                paint.paint(
                    "No changes orgsync can make, but",
                    Style::new().yellow().bold()
                ),
                manual.unwrap_or_default()
            );
            if let Some(held) = &held {
                let _ = writeln!(out, "{} {held}.", paint.paint("Held:", Style::new().bold()));
            }
        }
        None if held.is_some() => {
            let _ = writeln!(
                out,
                "{} {}.",
                paint.paint("No changes, but", Style::new().yellow().bold()),
                held.unwrap_or_default()
            );
        }
        None => {
            let _ = writeln!(
                out,
                "{}",
                paint.paint(
                    "No changes. The target matches the configuration.",
                    Style::new().green()
                )
            );
        }
    }
    out
}

/// ```text
///   warning[unmapped_community]: Source community 4001 (Rotterdam Zuid) has no mapping; …
///     --> communities.yaml:1:1
///     = subject: 4001 · 4 people
///     = hint: Map 4001 in communities.yaml, …
/// ```
pub(super) fn write_diagnostic(out: &mut String, d: &Diagnostic, paint: Painter) {
    let style = match d.severity {
        Severity::Error => Style::new().red().bold(),
        Severity::Warning => Style::new().yellow().bold(),
        Severity::Info => Style::new().cyan().bold(),
    };
    let label = format!("{}[{}]", severity_label(d.severity), d.kind.as_str());
    let _ = writeln!(
        out,
        "  {}: {}",
        paint.paint(&label, style),
        escape_control(&d.message)
    );
    if let Some(location) = &d.location {
        let _ = writeln!(
            out,
            "    {} {}:{}:{}",
            paint.paint("-->", Style::new().blue()),
            location.file,
            location.line,
            location.column
        );
    }
    let mut about = Vec::new();
    if let Some(subject) = &d.subject {
        about.push(format!("subject: {}", escape_control(subject)));
    }
    if d.count > 0 {
        about.push(people(d.count));
    }
    if !about.is_empty() {
        let _ = writeln!(out, "    = {}", about.join(" · "));
    }
    if let Some(hint) = &d.hint {
        let _ = writeln!(out, "    = hint: {}", escape_control(hint));
    }
    out.push('\n');
}

/// ```text
///   ~ Piet Jansen (person 1002, account acc-2)
///       reason:    Managed fields differ from the source.
///       email:     piet@old.example.com → piet.jansen@example.com
/// ```
fn write_action(out: &mut String, action: &Action, sign: Sign, paint: Painter) {
    let style = match sign {
        Sign::Add => Style::new().green(),
        Sign::Change => Style::new().yellow(),
        Sign::Destroy => Style::new().red(),
    };
    let ids = subject_ids(action);
    let _ = write!(
        out,
        "  {} {}",
        paint.paint(&sign.symbol().to_string(), style.bold()),
        paint.paint(&escape_control(&action.name), Style::new().bold())
    );
    if !ids.is_empty() {
        let _ = write!(out, " ({ids})");
    }
    out.push('\n');

    let changes = ordered_changes(action);
    let width = changes
        .iter()
        .map(|(field, _)| field.chars().count())
        .chain(["reason".len(), "cause".len()])
        .max()
        .unwrap_or(0)
        + 1;
    if !action.reason.is_empty() {
        let _ = writeln!(
            out,
            "      {} {}",
            paint.paint(&format!("{:<width$}", "reason:"), Style::new().dimmed()),
            escape_control(&action.reason)
        );
    }
    if !action.cause.is_source() {
        let _ = writeln!(
            out,
            "      {} {}",
            paint.paint(&format!("{:<width$}", "cause:"), Style::new().dimmed()),
            action.cause.label()
        );
    }
    for (field, change) in &changes {
        let _ = writeln!(
            out,
            "      {:<width$} {}",
            format!("{field}:"),
            escape_control(&format_change(change, &|s| s.to_owned()))
        );
    }
}

/// Data (names from HR, messages that quote them) with its control characters shown as escapes
/// (`\u{1b}`, `\n`): an ANSI sequence or a line break in a name must not recolour the terminal
/// or print a line of its own — a name once printed a fake "No changes." line. The bidirectional
/// controls (U+202A–U+202E, U+2066–U+2069) too: a right-to-left override in a name would show
/// the rest of the line reversed.
pub(crate) fn escape_control(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() || is_bidi_control(c)) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || is_bidi_control(c) => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The Unicode bidirectional embedding, override and isolate controls.
pub(crate) fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Applies a style only when colour is on.
#[derive(Debug, Clone, Copy)]
pub(super) struct Painter {
    pub(super) color: bool,
}

impl Painter {
    pub(super) fn paint(self, s: &str, style: Style) -> String {
        if self.color {
            style.style(s).to_string()
        } else {
            s.to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{empty_plan, sample_plan};
    use super::*;

    fn plain(plan: &Plan) -> String {
        text(plan, &TextOptions { color: false })
    }

    #[test]
    fn every_action_kind() {
        insta::assert_snapshot!(plain(&sample_plan()));
    }

    /// Regression (issue 11): an HR name with a newline and ANSI escapes printed a fake
    /// "No changes." line and recoloured the terminal.
    #[test]
    fn control_characters_in_names_are_escaped() {
        let mut plan = sample_plan();
        plan.actions[0].name = "Eva\n\nNo changes.\u{1b}[2J\u{1b}[31m".to_owned();
        plan.actions[0].reason = "moved\rhere".to_owned();
        let out = plain(&plan);
        assert!(!out.contains('\u{1b}') && !out.contains('\r'), "{out}");
        assert!(!out.lines().any(|l| l.trim() == "No changes."), "{out}");
        assert!(out.contains("Eva\\n\\nNo changes.\\u{1b}[2J"), "{out}");
    }

    #[test]
    fn no_changes() {
        insta::assert_snapshot!(plain(&empty_plan()));
    }

    /// Regression (first sync): with everyone in scope held, the text said "No changes. The
    /// target matches the configuration." It says how many people are held, and why.
    #[test]
    fn no_changes_with_held_people_never_says_the_target_matches() {
        let mut plan = empty_plan();
        plan.held.insert(
            orgsync_core::vocabulary::DiagnosticKind::UnmappedCommunity,
            36,
        );
        plan.held
            .insert(orgsync_core::vocabulary::DiagnosticKind::MissingEmail, 2);
        let out = plain(&plan);
        assert!(!out.contains("matches the configuration"), "{out}");
        assert!(
            out.contains(
                "No changes, but 38 people in scope are held until someone decides (36: their community is not mapped, 2: no e-mail address); see the diagnostics."
            ),
            "{out}"
        );
        let md = crate::render::markdown(&plan, &crate::render::MarkdownOptions::default());
        assert!(!md.contains("matches the configuration"), "{md}");
        assert!(md.contains("38 people in scope are held"), "{md}");
        let mut with_actions = sample_plan();
        with_actions.held = plan.held.clone();
        assert!(plain(&with_actions).contains("Held: 38 people in scope are held"));
    }

    #[test]
    fn closing_line_lists_only_nonzero_kinds_in_apply_order() {
        let out = plain(&sample_plan());
        let last = out.lines().last().unwrap();
        assert_eq!(
            last,
            "Plan: 1 community to create, 1 function group to create, 2 to invite, 1 to update, \
             1 to move, 1 to restore, 1 to remove, 1 to anonymize, 1 community to remove, \
             1 function group to remove."
        );
    }

    #[test]
    fn colour_only_when_asked() {
        let plan = sample_plan();
        assert!(!plain(&plan).contains('\x1b'));
        let coloured = text(&plan, &TextOptions { color: true });
        assert!(coloured.contains("\x1b[32;1m+"), "green + for additions");
        assert!(coloured.contains("\x1b[33;1m~"), "yellow ~ for changes");
        assert!(coloured.contains("\x1b[31;1m-"), "red - for removals");
        assert!(coloured.contains("\x1b[31;1merror["), "errors in red");
    }
}
