//! Pull-request mode (`orgsync plan --base REF`): the pull request's own effect first — what it
//! makes happen, what it prevents, the diagnostics it fixes and introduces — then the pending
//! changes that happen anyway, then the full plan as usual.
//!
//! The effect is summarised, not listed: actions with the same kind and the same change are one
//! line ("moves 12 people from No function to Guest Relations"), with the source identifiers of
//! the people concerned; the full plan below has every detail. Lines name groups, fields and
//! reasons, never people.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt::Write as _;

use owo_colors::Style;

use super::markdown::{Pii, diagnostic_item, md_escape};
use super::reach::Reach;
use super::text::{Painter, write_diagnostic};
use super::{MarkdownOptions, Sign, TextOptions, kind_count_phrase, people, thousands};
use orgsync_core::plan::compare::{Comparison, count};
use orgsync_core::vocabulary::{Action, ActionKind, Cause, Changes, GroupRef, Plan};

/// The comparison and what it was made against.
#[derive(Debug, Clone, Copy)]
pub struct PullRequestView<'a> {
    /// The base ref as given (`main`, `origin/main`).
    pub base_ref: &'a str,
    /// The base commit, when the ref resolved.
    pub base_commit: Option<&'a str>,
    /// Why the base has no plan (no configuration there, or an invalid one): then everything in
    /// the head plan counts as the pull request's.
    pub base_problem: Option<&'a str>,
    /// Base plan against head plan.
    pub comparison: &'a Comparison<'a>,
}

/// Most summary lines per list and diagnostics per list; the full plan follows anyway.
const MAX_LINES: usize = 25;
/// Most source identifiers listed on one summary line.
const MAX_SUBJECTS: usize = 10;

/// One summary line: actions of one kind with the same change.
struct Effect {
    kind: ActionKind,
    sentence: String,
    subjects: Vec<String>,
}

/// Groups actions by kind and change, in plan order of first appearance.
fn effects(actions: &[&Action]) -> Vec<Effect> {
    let mut out: Vec<Effect> = Vec::new();
    let mut index: HashMap<(ActionKind, String), usize> = HashMap::new();
    for a in actions {
        match index.entry((a.kind(), describe(a))) {
            Entry::Occupied(e) => out[*e.get()].subjects.push(a.subject.clone()),
            Entry::Vacant(e) => {
                out.push(Effect {
                    kind: a.kind(),
                    sentence: e.key().1.clone(),
                    subjects: vec![a.subject.clone()],
                });
                e.insert(out.len() - 1);
            }
        }
    }
    for e in &mut out {
        e.sentence = sentence(e.kind, e.subjects.len(), &e.sentence);
    }
    out
}

/// The change an action makes, without its subject: equal for actions that do the same thing.
/// A change the configuration causes names it, a repair says so, and a move that e-mails says
/// that it does.
fn describe(a: &Action) -> String {
    let mut s = describe_change(a);
    match a.cause {
        Cause::Configuration => {
            let _ = write!(s, " ({})", a.reason);
        }
        Cause::Repair => s.push_str(" (repairs a hand edit in the app)"),
        Cause::Completion => s.push_str(" (completes an earlier apply)"),
        Cause::Source => {}
    }
    if matches!(&a.changes, Changes::Move(m) if m.notify) {
        s.push_str(" — e-mails them a transfer notice");
    }
    s
}

fn describe_change(a: &Action) -> String {
    let into = |communities: Option<&[GroupRef]>, function_groups: Option<&[GroupRef]>| {
        let mut s = match communities {
            Some(c) => format!("into {}", group_names(c)),
            None => String::new(),
        };
        if let Some(f) = function_groups {
            let _ = write!(s, " ({})", group_names(f));
        }
        s.trim().to_owned()
    };
    match &a.changes {
        Changes::Invite(i) => into(i.communities.as_deref(), i.function_groups.as_deref()),
        Changes::Restore(r) => into(
            r.communities.as_ref().map(|c| c.to.as_slice()),
            r.edit.function_groups.as_ref().map(|c| c.to.as_slice()),
        ),
        Changes::Move(m) => {
            let (from, to) = (
                group_names(&m.communities.from),
                group_names(&m.communities.to),
            );
            if from == "(none)" {
                format!("into {to}")
            } else {
                format!("from {from} to {to}")
            }
        }
        Changes::Update(u) => {
            let mut fields: Vec<&str> = u
                .edit
                .field_names()
                .into_iter()
                .filter(|f| !matches!(*f, "external_id" | "managed"))
                .collect();
            if u.removed_at.is_some() {
                fields.push("removed_at");
            }
            match &u.edit.function_groups {
                Some(c) if fields == ["function_groups"] => format!(
                    "{FUNCTION_GROUPS_FROM}{} to {}",
                    group_names(&c.from),
                    group_names(&c.to)
                ),
                _ => {
                    let labels: Vec<&str> = fields
                        .iter()
                        .map(|f| match *f {
                            "first_name" => "first name",
                            "last_name" => "last name",
                            "email" => "e-mail",
                            "function_groups" => "function groups",
                            other => other,
                        })
                        .collect();
                    labels.join(", ")
                }
            }
        }
        Changes::Remove(_) | Changes::Anonymize(_) => a.reason.clone(),
        Changes::CreateCommunity(_)
        | Changes::CreateFunctionGroup(_)
        | Changes::UpdateCommunity(_)
        | Changes::UpdateFunctionGroup(_)
        | Changes::RemoveCommunity(_)
        | Changes::RemoveFunctionGroup(_) => a.name.clone(),
    }
}

/// The moves of `head` that e-mail a transfer notice because the configuration changed and its
/// mapping says `notify: true`: listed on their own, since the review exists to catch them.
fn configured_notices(head: &Plan) -> Vec<&Action> {
    head.actions
        .iter()
        .filter(|a| {
            a.cause == Cause::Configuration && matches!(&a.changes, Changes::Move(m) if m.notify)
        })
        .collect()
}

/// How [`describe`] starts a change of function groups only.
const FUNCTION_GROUPS_FROM: &str = "function groups from ";

fn sentence(kind: ActionKind, n: usize, what: &str) -> String {
    let who = people(n);
    let with = |verb: &str, sep: &str| {
        if what.is_empty() {
            format!("{verb} {who}")
        } else {
            format!("{verb} {who}{sep}{what}")
        }
    };
    match kind {
        ActionKind::Invite => with("invites", " "),
        ActionKind::Restore => with("restores", " "),
        ActionKind::Move => with("moves", " "),
        // Function groups are not communities: no transfer, no "move".
        ActionKind::Update if what.starts_with(FUNCTION_GROUPS_FROM) => format!(
            "changes the function groups of {who} from {}",
            &what[FUNCTION_GROUPS_FROM.len()..]
        ),
        ActionKind::Update => with("updates", ": "),
        ActionKind::Remove => with("removes", ": "),
        ActionKind::Anonymize => with("anonymizes", ": "),
        ActionKind::CreateCommunity => format!("creates community {what}"),
        ActionKind::CreateFunctionGroup => format!("creates function group {what}"),
        ActionKind::UpdateCommunity => format!("re-keys community {what}"),
        ActionKind::UpdateFunctionGroup => format!("re-keys function group {what}"),
        ActionKind::RemoveCommunity => format!("removes community {what}"),
        ActionKind::RemoveFunctionGroup => format!("removes function group {what}"),
    }
}

/// `Amsterdam Centrum, Utrecht` from a list of group references; `(none)` for an empty list.
fn group_names(groups: &[GroupRef]) -> String {
    let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
    if names.is_empty() {
        "(none)".to_owned()
    } else {
        names.join(", ")
    }
}

/// `4040, 4041 and 3 more`.
fn subjects(list: &[String]) -> String {
    let shown = &list[..list.len().min(MAX_SUBJECTS)];
    let mut s = shown.join(", ");
    if list.len() > shown.len() {
        let _ = write!(s, " and {} more", thousands(list.len() - shown.len()));
    }
    s
}

/// `3 to invite, 1 to move`, or `nothing`.
fn counts(actions: &[&Action]) -> String {
    let parts: Vec<String> = count(actions.iter().copied())
        .into_iter()
        .map(|(k, n)| kind_count_phrase(k, n))
        .collect();
    if parts.is_empty() {
        "nothing".to_owned()
    } else {
        parts.join(", ")
    }
}

fn compared_with(view: &PullRequestView<'_>) -> String {
    match view.base_commit {
        Some(c) => format!("{} ({})", view.base_ref, orgsync_repo::short(c)),
        None => view.base_ref.to_owned(),
    }
}

/// The pull request's effect for a terminal, followed by the full plan.
pub fn pull_request_text(view: &PullRequestView<'_>, head: &Plan, opts: &TextOptions) -> String {
    let paint = Painter { color: opts.color };
    let cmp = view.comparison;
    let bold = Style::new().bold();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}\n",
        paint.paint(
            &format!(
                "This pull request, compared with {} on the same live data (as of {}):",
                compared_with(view),
                head.at
            ),
            bold
        )
    );
    if let Some(problem) = view.base_problem {
        let _ = writeln!(
            out,
            "  Note: {problem}; the whole plan is shown as this pull request's.\n"
        );
    }
    if cmp.is_empty() {
        out.push_str("  It changes nothing in the plan.\n\n");
    }
    let list = |out: &mut String, title: &str, actions: &[&Action]| {
        if actions.is_empty() {
            return;
        }
        let _ = writeln!(out, "  {title}");
        let all = effects(actions);
        for e in all.iter().take(MAX_LINES) {
            let sign = Sign::of(e.kind);
            let style = match sign {
                Sign::Add => Style::new().green().bold(),
                Sign::Change => Style::new().yellow().bold(),
                Sign::Destroy => Style::new().red().bold(),
            };
            let _ = writeln!(
                out,
                "    {} {} [{}]",
                paint.paint(&sign.symbol().to_string(), style),
                e.sentence,
                subjects(&e.subjects)
            );
        }
        if all.len() > MAX_LINES {
            let _ = writeln!(out, "    … {} more", thousands(all.len() - MAX_LINES));
        }
        out.push('\n');
    };
    list(
        &mut out,
        "It makes the app e-mail these people (a mapping it changes says `notify: true`):",
        &configured_notices(head),
    );
    list(&mut out, "It makes these changes:", &cmp.effect());
    list(
        &mut out,
        "It prevents these changes (they happen without it):",
        &cmp.prevented(),
    );
    let diagnostics =
        |out: &mut String, title: &str, list: &[&orgsync_core::vocabulary::Diagnostic]| {
            if list.is_empty() {
                return;
            }
            let _ = writeln!(out, "  {title}\n");
            for d in list.iter().take(MAX_LINES) {
                write_diagnostic(out, d, paint);
            }
            if list.len() > MAX_LINES {
                let _ = writeln!(out, "  … {} more\n", thousands(list.len() - MAX_LINES));
            }
        };
    diagnostics(&mut out, "Diagnostics it fixes:", &cmp.diagnostics_fixed);
    diagnostics(
        &mut out,
        "Diagnostics it introduces:",
        &cmp.diagnostics_introduced,
    );
    let _ = writeln!(
        out,
        "{} {}.\n",
        paint.paint(
            "Pending changes that happen anyway (not caused by this pull request):",
            bold
        ),
        counts(&cmp.pending)
    );
    out.push_str("The whole plan at the head of this pull request:\n\n");
    out.push_str(&super::text(head, opts));
    out
}

/// One line for the top of the comment: what the pull request changes, the warnings it fixes
/// and introduces, what happens on merge anyway, and whether the plan is safe:
/// `this PR: 2 changes, fixes 5 warnings, introduces 1; 9 pending HR changes apply on merge too; safe`.
pub fn verdict(cmp: &Comparison<'_>, head: &Plan) -> String {
    let mut line = format!("on merge: {}; ", reach(cmp, head));
    line.push_str(&changes_verdict(cmp, head));
    line
}

/// What reaches people on merge, with the pull request's own share: `e-mails 5 people (3
/// invitations, 2 transfer notices), 2 by this PR; removes 1 account; first sync: …`.
fn reach(cmp: &Comparison<'_>, head: &Plan) -> String {
    let all = Reach::of(&head.actions);
    let own = Reach::of(cmp.effect());
    let mut parts = vec![all.emails_phrase()];
    if all.emails() > 0 {
        let last = parts.len() - 1;
        parts[last].push_str(&if own.emails() == all.emails() {
            ", all by this PR".to_owned()
        } else {
            format!(", {} by this PR", super::thousands(own.emails()))
        });
    }
    if let Some(removals) = all.removals_phrase() {
        let taken = own.removals + own.anonymizations;
        parts.push(if taken == all.removals + all.anonymizations {
            format!("{removals}, all by this PR")
        } else {
            format!("{removals}, {} by this PR", super::thousands(taken))
        });
    }
    if let Some(first) = super::reach::first_sync(head) {
        parts.push(first);
    }
    parts.join("; ")
}

/// The rest of the verdict: the pull request's changes, diagnostics, what is pending, safety.
fn changes_verdict(cmp: &Comparison<'_>, head: &Plan) -> String {
    let own = cmp.introduced.len() + cmp.changed.len() + cmp.withdrawn.len();
    let plural = |n: usize, one: &str, many: &str| {
        if n == 1 {
            format!("{n} {one}")
        } else {
            format!("{n} {many}")
        }
    };
    let mut parts = vec![if own == 0 {
        "no changes".to_owned()
    } else {
        plural(own, "change", "changes")
    }];
    let (fixed, introduced) = (
        cmp.diagnostics_fixed.len(),
        cmp.diagnostics_introduced.len(),
    );
    if fixed > 0 {
        parts.push(format!(
            "fixes {}",
            plural(fixed, "diagnostic", "diagnostics")
        ));
    }
    if introduced > 0 {
        parts.push(format!(
            "introduces {}",
            plural(introduced, "diagnostic", "diagnostics")
        ));
    }
    let mut line = format!("this PR: {}", parts.join(", "));
    if !cmp.pending.is_empty() {
        let n = cmp.pending.len();
        line.push_str(&format!(
            "; {} on merge too",
            plural(n, "pending HR change applies", "pending HR changes apply")
        ));
    }
    let errors = head.error_count();
    line.push_str(if errors > 0 {
        "; has errors: not applicable"
    } else if head.safety.safe {
        "; safe"
    } else {
        "; unsafe: over the safety limits"
    });
    line
}

/// The pull request's effect as Markdown, followed by the full plan, within `opts.max_chars`.
/// Personal data is masked as in [`super::markdown`].
pub fn pull_request_markdown(
    view: &PullRequestView<'_>,
    head: &Plan,
    opts: &MarkdownOptions,
) -> String {
    let pii = Pii::new(head, opts.show_pii);
    let cmp = view.comparison;
    let mut out = String::from("## orgsync: what this pull request changes\n\n");
    let _ = writeln!(out, "**Verdict:** {}\n", verdict(cmp, head));
    let commit = view
        .base_commit
        .map(|c| format!(" (`{}`)", orgsync_repo::short(c)))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "Compared with `{}`{commit} on the same live data (as of {}).\n",
        view.base_ref.replace('`', "'"),
        head.at
    );
    if let Some(problem) = view.base_problem {
        let _ = writeln!(
            out,
            "> **Note:** {}; the whole plan is shown as this pull request's.\n",
            pii.text(problem)
        );
    }
    if cmp.is_empty() {
        out.push_str("This pull request **changes nothing** in the plan.\n\n");
    }
    let list = |out: &mut String, title: &str, actions: &[&Action]| {
        if actions.is_empty() {
            return;
        }
        let _ = writeln!(out, "{title}\n");
        let all = effects(actions);
        for e in all.iter().take(MAX_LINES) {
            let _ = writeln!(
                out,
                "- `{}` {} <sub>({})</sub>",
                Sign::of(e.kind).symbol(),
                pii.text(&e.sentence),
                md_escape(&subjects(&e.subjects))
            );
        }
        if all.len() > MAX_LINES {
            let _ = writeln!(out, "- _… {} more_", thousands(all.len() - MAX_LINES));
        }
        out.push('\n');
    };
    list(
        &mut out,
        "**It makes the app e-mail these people** (a mapping it changes says `notify: true`):",
        &configured_notices(head),
    );
    list(&mut out, "**It makes these changes:**", &cmp.effect());
    list(
        &mut out,
        "**It prevents these changes** (they happen without it):",
        &cmp.prevented(),
    );
    let diagnostics =
        |out: &mut String, title: &str, list: &[&orgsync_core::vocabulary::Diagnostic]| {
            if list.is_empty() {
                return;
            }
            let _ = writeln!(out, "{title}\n");
            for d in list.iter().take(MAX_LINES) {
                out.push_str(&diagnostic_item(d, &pii));
            }
            if list.len() > MAX_LINES {
                let _ = writeln!(out, "- _… {} more_", thousands(list.len() - MAX_LINES));
            }
            out.push('\n');
        };
    diagnostics(
        &mut out,
        "**Diagnostics it fixes:**",
        &cmp.diagnostics_fixed,
    );
    diagnostics(
        &mut out,
        "**Diagnostics it introduces:**",
        &cmp.diagnostics_introduced,
    );
    let _ = writeln!(
        out,
        "**Pending changes that happen anyway** (HR changes since the last apply, not this pull \
         request): {}.\n",
        counts(&cmp.pending)
    );

    let used = out.chars().count();
    if used >= opts.max_chars {
        // Only a tiny limit gets here: keep the start.
        let mut cut: String = out.chars().take(opts.max_chars).collect();
        if let Some(i) = cut.rfind('\n') {
            cut.truncate(i + 1);
        }
        return cut;
    }
    let rest = MarkdownOptions {
        max_chars: opts.max_chars - used,
        ..opts.clone()
    };
    out.push_str(&super::markdown(head, &rest));
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use orgsync_core::plan::compare::compare;
    use orgsync_core::vocabulary::{Change, Digests, Safety};

    fn fg_update(subject: &str, from: &str, to: &str) -> Action {
        Action::from_wire(
            ActionKind::Update,
            subject.to_owned(),
            Some(format!("u-{subject}")),
            format!("Jan de Vries{subject}"),
            BTreeMap::from([(
                "function_groups".to_owned(),
                Change {
                    from: json!([{ "id": "g-8", "name": from }]),
                    to: json!([{ "id": "g-1", "name": to }]),
                },
            )]),
            "function groups changed in the source".to_owned(),
        )
        .unwrap()
    }

    fn plan(actions: Vec<Action>) -> Plan {
        Plan {
            format_version: 1,
            created_at: String::new(),
            orgsync_version: "0.1.0".to_owned(),
            at: jiff::civil::date(2026, 11, 22),
            summary: Plan::count_actions(&actions),
            held: Default::default(),
            actions,
            manual_steps: Vec::new(),
            diagnostics: Vec::new(),
            safety: Safety {
                safe: true,
                violations: Vec::new(),
            },
            digests: Digests::default(),
        }
    }

    #[test]
    fn the_verdict_is_one_line_at_the_top() {
        let base = plan(vec![fg_update("7", "A", "B")]);
        let head = plan(vec![
            fg_update("1", "No function", "Guest Relations"),
            fg_update("2", "No function", "Guest Relations"),
            fg_update("7", "A", "B"),
        ]);
        let cmp = compare(&base, &head);
        assert_eq!(
            verdict(&cmp, &head),
            "on merge: e-mails nobody; this PR: 2 changes; 1 pending HR change applies on merge too; safe"
        );
        let view = PullRequestView {
            base_ref: "main",
            base_commit: None,
            base_problem: None,
            comparison: &cmp,
        };
        let md = pull_request_markdown(&view, &head, &MarkdownOptions::default());
        let second = md.lines().nth(2).unwrap_or_default();
        assert_eq!(
            second,
            "**Verdict:** on merge: e-mails nobody; this PR: 2 changes; 1 pending HR change applies on merge too; safe"
        );
        let mut unsafe_head = head.clone();
        unsafe_head.safety.safe = false;
        let same = compare(&head, &unsafe_head);
        assert!(
            verdict(&same, &unsafe_head)
                .starts_with("on merge: e-mails nobody; this PR: no changes; 3 pending HR changes"),
            "{}",
            verdict(&same, &unsafe_head)
        );
        assert!(verdict(&same, &unsafe_head).ends_with("; unsafe: over the safety limits"));
    }

    fn community_move(subject: &str, from: &str, to: &str, notify: bool, cause: Cause) -> Action {
        let mut a = Action::from_wire(
            ActionKind::Move,
            subject.to_owned(),
            Some(format!("u-{subject}")),
            format!("Jan de Vries{subject}"),
            BTreeMap::from([
                (
                    "communities".to_owned(),
                    Change {
                        from: json!([{ "id": "c-1", "name": from }]),
                        to: json!([{ "id": "c-2", "name": to }]),
                    },
                ),
                (
                    "notify".to_owned(),
                    Change {
                        from: json!(null),
                        to: json!(notify),
                    },
                ),
            ]),
            format!("community mapping 1001 now maps to {to} (was {from})"),
        )
        .unwrap();
        a.cause = cause;
        a
    }

    /// Regression (issue 20): the verdict of a mapping swap said "this PR: 447 changes … safe"
    /// while 312 people were to be e-mailed. It leads with what reaches people on merge.
    #[test]
    fn the_verdict_leads_with_the_people_it_emails() {
        let swap = |notify: bool| {
            plan(vec![
                community_move("1", "Amsterdam", "Rotterdam", notify, Cause::Configuration),
                community_move("2", "Amsterdam", "Rotterdam", false, Cause::Configuration),
                community_move("7", "Utrecht", "Delft", true, Cause::Source),
            ])
        };
        let base = plan(vec![community_move(
            "7",
            "Utrecht",
            "Delft",
            true,
            Cause::Source,
        )]);
        let head = swap(false);
        let cmp = compare(&base, &head);
        assert_eq!(
            verdict(&cmp, &head),
            "on merge: e-mails 1 person (1 transfer notice), 0 by this PR; this PR: 2 changes; \
             1 pending HR change applies on merge too; safe"
        );
        let head = swap(true);
        let cmp = compare(&base, &head);
        assert!(
            verdict(&cmp, &head).starts_with(
                "on merge: e-mails 2 people (2 transfer notices, 1 asked for by a mapping's \
                 `notify: true`), 1 by this PR; this PR: 2 changes"
            ),
            "{}",
            verdict(&cmp, &head)
        );
        // The notifications the configuration asks for are listed on their own.
        let view = PullRequestView {
            base_ref: "main",
            base_commit: None,
            base_problem: None,
            comparison: &cmp,
        };
        let md = pull_request_markdown(&view, &head, &MarkdownOptions::default());
        let listed = md
            .find("**It makes the app e-mail these people**")
            .expect("listed");
        assert!(
            md[listed..].contains(
                "moves 1 person from Amsterdam to Rotterdam (community mapping 1001 now maps to \
                 Rotterdam (was Amsterdam)) — e-mails them a transfer notice"
            ),
            "{md}"
        );
    }

    #[test]
    fn the_effect_is_one_line_per_kind_and_change() {
        let base = plan(vec![fg_update("7", "A", "B")]);
        let head = plan(vec![
            fg_update("1", "No function", "Guest Relations"),
            fg_update("2", "No function", "Guest Relations"),
            fg_update("7", "A", "B"),
        ]);
        let cmp = compare(&base, &head);
        let view = PullRequestView {
            base_ref: "main",
            base_commit: Some("0123456789abcdef"),
            base_problem: None,
            comparison: &cmp,
        };
        let text = pull_request_text(&view, &head, &TextOptions { color: false });
        // Regression (issue 20): function group updates were called "moves".
        assert!(
            text.contains(
                "    ~ changes the function groups of 2 people from No function to Guest Relations [1, 2]\n"
            ),
            "{text}"
        );
        assert!(text.contains("compared with main (0123456)"), "{text}");
        assert!(
            text.contains(
                "Pending changes that happen anyway (not caused by this pull request): 1 to update."
            ),
            "{text}"
        );
        let md = pull_request_markdown(&view, &head, &MarkdownOptions::default());
        assert!(
            md.starts_with("## orgsync: what this pull request changes\n"),
            "{md}"
        );
        let effect = md.find("changes the function groups of 2 people").unwrap();
        assert!(effect < md.find("## orgsync plan").unwrap(), "{md}");
        // Names stay masked in the full plan below.
        assert!(!md.contains("Jan de Vries"), "{md}");

        let small = MarkdownOptions {
            max_chars: 700,
            ..MarkdownOptions::default()
        };
        assert!(pull_request_markdown(&view, &head, &small).chars().count() <= 700);
    }
}
