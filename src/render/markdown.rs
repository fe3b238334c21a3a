//! The plan as Markdown, for a pull-request comment or a GitHub step summary.
//!
//! Two constraints shape it. Personal data: a PR comment is readable by everyone with access to
//! the repository, so e-mail addresses and names are masked unless asked otherwise. Size: GitHub
//! rejects comments over 65,536 characters, so the rendering has a hard limit and, when a plan is
//! too big, keeps what a reviewer needs first (summary, safety, diagnostics) and says what it
//! left out.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use super::{
    Sign, actions_by_kind, counts_sentence, format_change, format_value, held_sentence,
    is_account_kind, kind_title, manual_sentence, manual_step_line, nonzero_counts,
    ordered_changes, people, severity_label, severity_tally, subject_ids, thousands,
};
use orgsync_core::vocabulary::{Action, ActionKind, Diagnostic, Field, FieldValue, Plan, Severity};

/// How to render the Markdown plan.
#[derive(Debug, Clone)]
pub struct MarkdownOptions {
    /// Show e-mail addresses and names in full. Default: off — `jan.devries@example.com`
    /// shows as `j***@example.com` and `Jan de Vries` as `J. V.`.
    pub show_pii: bool,
    /// Hard limit on the length of the output, in characters. Default:
    /// [`MarkdownOptions::DEFAULT_MAX_CHARS`], under GitHub's 65,536-character comment limit.
    pub max_chars: usize,
    /// How long the apply is estimated to take on the target, shown under the verdict.
    pub apply_estimate: Option<orgsync_core::estimate::ApplyEstimate>,
    /// The `timeout-minutes` of the job that applies: the estimate says whether it fits.
    pub apply_timeout_minutes: Option<u32>,
}

impl MarkdownOptions {
    /// The default `max_chars`.
    pub const DEFAULT_MAX_CHARS: usize = 60_000;
}

impl Default for MarkdownOptions {
    fn default() -> Self {
        MarkdownOptions {
            show_pii: false,
            max_chars: Self::DEFAULT_MAX_CHARS,
            apply_estimate: None,
            apply_timeout_minutes: None,
        }
    }
}

/// The plan as Markdown: heading, summary table, safety verdict, diagnostics, then the actions
/// in collapsed `<details>` blocks per kind. Never longer than `opts.max_chars` characters.
pub fn markdown(plan: &Plan, opts: &MarkdownOptions) -> String {
    let pii = Pii::new(plan, opts.show_pii);
    let mut head = head(plan, &pii);
    if plan.has_changes() {
        head.push_str(&estimate_line(opts));
    }
    let footer = footer(plan);
    let diagnostics: Vec<Item> = plan
        .diagnostics
        .iter()
        .map(|d| Item::new(diagnostic_item(d, &pii)))
        .collect();
    let blocks: Vec<Block> = actions_by_kind(plan)
        .into_iter()
        .map(|(kind, actions)| Block {
            kind,
            items: actions
                .iter()
                .map(|a| Item::new(action_item(a, &pii)))
                .collect(),
        })
        .collect();

    let full = Layout {
        diagnostics_shown: diagnostics.len(),
        blocks_shown: blocks.iter().map(|b| b.items.len()).collect(),
    };
    let out = assemble(plan, &head, &diagnostics, &blocks, &full, &footer, opts);
    if char_len(&out) <= opts.max_chars {
        return out;
    }
    let layout = fit(plan, &head, &diagnostics, &blocks, &footer, opts);
    let out = assemble(plan, &head, &diagnostics, &blocks, &layout, &footer, opts);
    hard_truncate(out, opts.max_chars)
}

/// A rendered list entry and its length in characters.
struct Item {
    text: String,
    chars: usize,
}

impl Item {
    fn new(text: String) -> Item {
        let chars = char_len(&text);
        Item { text, chars }
    }
}

/// The actions of one kind.
struct Block {
    kind: ActionKind,
    items: Vec<Item>,
}

/// How many diagnostics, and how many actions of each block, to show.
struct Layout {
    diagnostics_shown: usize,
    blocks_shown: Vec<usize>,
}

fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// Heading, counts, summary table and safety verdict: always shown in full.
fn head(plan: &Plan, pii: &Pii) -> String {
    let mut out = String::from("## orgsync plan\n\n");
    match counts_sentence(plan) {
        Some(counts) => {
            // What reaches people first: e-mails, accounts taken away, a first sync.
            let _ = writeln!(
                out,
                "**People:** {}.\n",
                pii.text(&super::reach::plan_sentence(plan))
            );
            let _ = writeln!(out, "**Plan:** {counts} (as of {}).\n", plan.at);
            out.push_str("| Action | Count |\n| :-- | --: |\n");
            let counts = nonzero_counts(plan);
            for (kind, n) in &counts {
                let _ = writeln!(
                    out,
                    "| `{} {}` | {} |",
                    Sign::of(*kind).symbol(),
                    kind.as_str(),
                    thousands(*n)
                );
            }
            let total: usize = counts.iter().map(|(_, n)| n).sum();
            let _ = writeln!(out, "| **Total** | **{}** |\n", thousands(total));
            if let Some(manual) = manual_sentence(plan) {
                let _ = writeln!(out, "✋ **Manual:** {manual}.\n");
            }
            if let Some(held) = held_sentence(plan) {
                let _ = writeln!(out, "⏸️ **Held:** {held}.\n");
            }
        }
        None if !plan.manual_steps.is_empty() => {
            let _ = writeln!(
                out,
                "**No changes orgsync can make**, but {} (as of {}).\n",
                manual_sentence(plan).unwrap_or_default(),
                plan.at
            );
            if let Some(held) = held_sentence(plan) {
                let _ = writeln!(out, "⏸️ **Held:** {held}.\n");
            }
        }
        None => match held_sentence(plan) {
            Some(held) => {
                let _ = writeln!(out, "**No changes**, but {held} (as of {}).\n", plan.at);
            }
            None => {
                let _ = writeln!(
                    out,
                    "**No changes.** The target matches the configuration (as of {}).\n",
                    plan.at
                );
            }
        },
    }

    if !plan.manual_steps.is_empty() {
        let _ = writeln!(
            out,
            "### Manual steps ({})\n\norgsync cannot do these through the target's API and does not; do them by hand. They are listed again until the target shows them done.\n",
            thousands(plan.manual_steps.len())
        );
        for step in &plan.manual_steps {
            let _ = writeln!(out, "- [ ] {}", pii.text(&manual_step_line(step)));
        }
        out.push('\n');
    }

    let errors = plan.error_count();
    if errors > 0 {
        let _ = writeln!(
            out,
            "⛔ **Cannot be applied:** the plan has {} (see Diagnostics).\n",
            if errors == 1 {
                "1 error".to_owned()
            } else {
                format!("{} errors", thousands(errors))
            }
        );
    }
    if !plan.safety.safe {
        out.push_str(
            "⚠️ **Unsafe:** `orgsync apply` refuses this plan without `--allow-removals N` or \
             `--force`.\n\n",
        );
        for v in &plan.safety.violations {
            let _ = writeln!(
                out,
                "- `{}`: {} (limit {}, planned {})",
                v.rule.replace('`', "'"),
                pii.text(&v.message),
                thousands(usize::try_from(v.limit).unwrap_or(usize::MAX)),
                thousands(usize::try_from(v.actual).unwrap_or(usize::MAX)),
            );
        }
        if !plan.safety.violations.is_empty() {
            out.push('\n');
        }
    } else if errors == 0 && plan.has_changes() {
        out.push_str("✅ **Safe:** within every safety limit.\n\n");
    }
    out
}

/// `⏱️ Apply estimate: about 12 min (…)`, and whether it fits the job's `timeout-minutes`.
fn estimate_line(opts: &MarkdownOptions) -> String {
    let Some(e) = &opts.apply_estimate else {
        return String::new();
    };
    let pace = &e.pace;
    let how = if pace.request_ms == 0 && pace.rate_limit == 0 {
        format!("written to {}", md_escape(&pace.system))
    } else {
        let rate = if pace.rate_limit > 0 {
            format!(
                "at most {} per second, ",
                thousands(pace.rate_limit as usize)
            )
        } else {
            String::new()
        };
        format!(
            "{} request{} to {}, {rate}{} at a time, ~{} ms each",
            thousands(usize::try_from(e.requests).unwrap_or(usize::MAX)),
            if e.requests == 1 { "" } else { "s" },
            md_escape(&pace.system),
            pace.concurrency,
            pace.request_ms
        )
    };
    let words = orgsync_core::estimate::duration_words(e.seconds);
    match opts.apply_timeout_minutes {
        Some(limit) if !e.fits(limit) => format!(
            "⚠️ **The apply will likely not finish within the job's timeout:** {words} ({how}), \
             and the apply job stops after {limit} minutes (`timeout-minutes`). Raise it (and \
             the action's `apply-timeout-minutes`), or let it run in several jobs: a stopped \
             apply records what it did and the next run continues.\n\n"
        ),
        Some(limit) => format!(
            "⏱️ **Apply estimate:** {words} ({how}); fits the apply job's {limit}-minute timeout.\n\n"
        ),
        None => format!("⏱️ **Apply estimate:** {words} ({how}).\n\n"),
    }
}

/// Version and digests, so an auditor can tie the comment to the plan file.
fn footer(plan: &Plan) -> String {
    let commit = plan
        .digests
        .config_commit
        .as_deref()
        .map(|c| format!(" at {c}"))
        .unwrap_or_default();
    format!(
        "<sub>orgsync {} · plan made {} · config {}{commit} · source {} · target {}</sub>\n",
        md_escape(&plan.orgsync_version),
        md_escape(&plan.created_at),
        md_escape(&plan.digests.config),
        md_escape(&plan.digests.source),
        md_escape(&plan.digests.target),
    )
}

fn diagnostics_heading(plan: &Plan) -> String {
    format!("### Diagnostics: {}\n\n", severity_tally(plan))
}

const ACTIONS_HEADING: &str = "### Actions\n\n";

pub(super) fn diagnostic_item(d: &Diagnostic, pii: &Pii) -> String {
    let marker = match d.severity {
        Severity::Error => "⛔",
        Severity::Warning => "⚠️",
        Severity::Info => "ℹ️",
    };
    let mut out = format!(
        "- {marker} **{}** `{}`: {}\n",
        severity_label(d.severity),
        d.kind.as_str(),
        pii.text(&d.message)
    );
    let mut about = Vec::new();
    if let Some(subject) = &d.subject {
        about.push(format!("subject {}", pii.text(subject)));
    }
    if d.count > 0 {
        about.push(people(d.count));
    }
    if let Some(loc) = &d.location {
        about.push(format!(
            "at `{}:{}:{}`",
            loc.file.replace('`', "'"),
            loc.line,
            loc.column
        ));
    }
    if !about.is_empty() {
        let _ = writeln!(out, "  - {}", about.join(" · "));
    }
    if let Some(hint) = &d.hint {
        let _ = writeln!(out, "  - hint: {}", pii.text(hint));
    }
    out
}

fn action_item(action: &Action, pii: &Pii) -> String {
    let name = if is_account_kind(action.kind()) {
        pii.name(&action.name)
    } else {
        pii.text(&action.name)
    };
    let mut out = format!("- **{name}**");
    let ids = subject_ids(action);
    if !ids.is_empty() {
        let _ = write!(out, " ({})", md_escape(&ids));
    }
    if !action.reason.is_empty() {
        let _ = write!(out, ": {}", pii.text(&action.reason));
    }
    if !action.cause.is_source() {
        let _ = write!(out, " _({})_", action.cause.label());
    }
    out.push('\n');
    for (field, change) in ordered_changes(action) {
        let leaf = |s: &str| match field {
            "email" => pii.email(s),
            "first_name" | "last_name" => pii.name_part(s),
            _ => pii.text(s),
        };
        let shown = if change.from != change.to
            && !change.from.is_null()
            && format_value(&change.from, &leaf) == format_value(&change.to, &leaf)
        {
            // Masking hid the difference ("Janssen → Jansen" is "J. → J."): say it changed.
            format!("{} (changed)", format_value(&change.to, &leaf))
        } else {
            format_change(&change, &leaf)
        };
        let _ = writeln!(out, "  - {}: {shown}", md_escape(field));
    }
    out
}

/// `<details><summary><code>+</code> Invite (2)</summary>`, or `(20 of 50,000 shown)`.
fn block_open(kind: ActionKind, total: usize, shown: usize) -> String {
    let count = if shown == total {
        thousands(total)
    } else {
        format!("{} of {} shown", thousands(shown), thousands(total))
    };
    format!(
        "<details><summary><code>{}</code> {} ({count})</summary>\n\n",
        Sign::of(kind).symbol(),
        kind_title(kind)
    )
}

const BLOCK_CLOSE: &str = "\n</details>\n\n";

fn block_trailer(omitted: usize) -> String {
    format!("- _… {} more not shown_\n", thousands(omitted))
}

fn diagnostics_trailer(omitted: usize) -> String {
    format!(
        "- _… {} more diagnostic{} not shown_\n",
        thousands(omitted),
        if omitted == 1 { "" } else { "s" }
    )
}

/// The closing note when something was left out, e.g. "… 1,234 more actions not shown
/// (1,200 invite, 34 remove); `--markdown-parts DIR` writes the whole plan."
fn omission_note(
    omitted_actions: &[(ActionKind, usize)],
    omitted_diagnostics: usize,
    max_chars: usize,
) -> String {
    let mut parts = Vec::new();
    let actions: usize = omitted_actions.iter().map(|(_, n)| n).sum();
    if actions > 0 {
        let by_kind: Vec<String> = omitted_actions
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| format!("{} {}", thousands(*n), k.as_str()))
            .collect();
        parts.push(format!(
            "{} more action{} ({})",
            thousands(actions),
            if actions == 1 { "" } else { "s" },
            by_kind.join(", ")
        ));
    }
    if omitted_diagnostics > 0 {
        parts.push(format!(
            "{} more diagnostic{}",
            thousands(omitted_diagnostics),
            if omitted_diagnostics == 1 { "" } else { "s" }
        ));
    }
    if parts.is_empty() {
        return String::new();
    }
    format!(
        "**… {} not shown** (this summary is limited to {} characters). The whole plan, \
         nothing left out: `--markdown-parts DIR` (of `orgsync plan`, or of `orgsync show \
         PLANFILE`, offline) writes it in comment-sized parts; the GitHub Action posts every \
         part.\n\n",
        parts.join(" and "),
        thousands(max_chars)
    )
}

fn assemble(
    plan: &Plan,
    head: &str,
    diagnostics: &[Item],
    blocks: &[Block],
    layout: &Layout,
    footer: &str,
    opts: &MarkdownOptions,
) -> String {
    let mut out = String::from(head);
    if !diagnostics.is_empty() {
        out.push_str(&diagnostics_heading(plan));
        for item in &diagnostics[..layout.diagnostics_shown] {
            out.push_str(&item.text);
        }
        let omitted = diagnostics.len() - layout.diagnostics_shown;
        if omitted > 0 {
            out.push_str(&diagnostics_trailer(omitted));
        }
        out.push('\n');
    }
    let mut omitted_actions = Vec::new();
    if layout.blocks_shown.iter().any(|n| *n > 0) {
        out.push_str(ACTIONS_HEADING);
    }
    for (block, &shown) in blocks.iter().zip(&layout.blocks_shown) {
        let total = block.items.len();
        if shown < total {
            omitted_actions.push((block.kind, total - shown));
        }
        if shown == 0 {
            continue;
        }
        out.push_str(&block_open(block.kind, total, shown));
        for item in &block.items[..shown] {
            out.push_str(&item.text);
        }
        if shown < total {
            out.push_str(&block_trailer(total - shown));
        }
        out.push_str(BLOCK_CLOSE);
    }
    out.push_str(&omission_note(
        &omitted_actions,
        diagnostics.len() - layout.diagnostics_shown,
        opts.max_chars,
    ));
    out.push_str(footer);
    out
}

/// Chooses what to show when the full rendering is too long. Heading, summary, safety and
/// footer always stay. Diagnostics come next, as many as fit. The actions share what is left:
/// kinds whose block fits an equal share are shown whole and give back what they don't use;
/// the bigger ones split the rest evenly, so fifty thousand invites cannot crowd out the one
/// removal a reviewer must see.
fn fit(
    plan: &Plan,
    head: &str,
    diagnostics: &[Item],
    blocks: &[Block],
    footer: &str,
    opts: &MarkdownOptions,
) -> Layout {
    // Reserve room for the longest the closing note can be.
    let all_actions: Vec<(ActionKind, usize)> =
        blocks.iter().map(|b| (b.kind, b.items.len())).collect();
    let note = omission_note(&all_actions, diagnostics.len(), opts.max_chars);
    let mut budget = opts
        .max_chars
        .saturating_sub(char_len(head) + char_len(footer) + char_len(&note));

    // Diagnostics.
    let mut diagnostics_shown = diagnostics.len();
    if !diagnostics.is_empty() {
        let fixed = char_len(&diagnostics_heading(plan)) + 1;
        let full: usize = fixed + diagnostics.iter().map(|d| d.chars).sum::<usize>();
        if full <= budget {
            budget -= full;
        } else {
            let mut avail =
                budget.saturating_sub(fixed + char_len(&diagnostics_trailer(diagnostics.len())));
            diagnostics_shown = 0;
            for d in diagnostics {
                if d.chars > avail {
                    break;
                }
                avail -= d.chars;
                diagnostics_shown += 1;
            }
            budget = 0;
        }
    }

    // Actions.
    let mut blocks_shown = vec![0; blocks.len()];
    budget = budget.saturating_sub(char_len(ACTIONS_HEADING));
    let full_size = |b: &Block| {
        char_len(&block_open(b.kind, b.items.len(), b.items.len()))
            + b.items.iter().map(|i| i.chars).sum::<usize>()
            + char_len(BLOCK_CLOSE)
    };
    let sizes: Vec<usize> = blocks.iter().map(full_size).collect();
    let mut by_size: Vec<usize> = (0..blocks.len()).collect();
    by_size.sort_by_key(|&i| sizes[i]);
    let mut allowance = vec![0; blocks.len()];
    let mut pending = &by_size[..];
    while let Some((&i, rest)) = pending.split_first() {
        let share = budget / pending.len();
        if sizes[i] > share {
            break;
        }
        allowance[i] = sizes[i];
        budget -= sizes[i];
        pending = rest;
    }
    for &i in pending {
        allowance[i] = budget / pending.len();
    }

    // Fill in apply order; what a block cannot use passes to the next one.
    let mut carry = 0;
    for (i, block) in blocks.iter().enumerate() {
        let allowed = allowance[i] + carry;
        let total = block.items.len();
        if sizes[i] <= allowed {
            blocks_shown[i] = total;
            carry = allowed - sizes[i];
            continue;
        }
        let fixed = char_len(&block_open(block.kind, total, total.saturating_sub(1)))
            + char_len(&block_trailer(total))
            + char_len(BLOCK_CLOSE);
        let mut avail = allowed.saturating_sub(fixed);
        let mut shown = 0;
        for item in &block.items {
            if item.chars > avail {
                break;
            }
            avail -= item.chars;
            shown += 1;
        }
        blocks_shown[i] = shown;
        carry = if shown == 0 { allowed } else { avail };
    }
    Layout {
        diagnostics_shown,
        blocks_shown,
    }
}

/// Last resort when even the parts that always stay are over the limit (a tiny `max_chars`):
/// cut at a character boundary and say so.
fn hard_truncate(out: String, max_chars: usize) -> String {
    if char_len(&out) <= max_chars {
        return out;
    }
    const CUT: &str = "\n\n… (truncated)\n";
    let keep = max_chars.saturating_sub(char_len(CUT));
    let mut cut: String = out.chars().take(keep).collect();
    if max_chars >= char_len(CUT) {
        cut.push_str(CUT);
    }
    cut
}

/// Escapes text for inline Markdown: it shows as written, never as formatting, HTML or a table
/// cell boundary; line breaks become spaces so a list entry stays one entry. An underscore
/// inside a word (`unmapped_communities`) cannot start emphasis and stays as it is, for
/// readable source.
pub(super) fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev = None;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let intraword = |p: Option<char>, n: Option<&char>| {
            p.is_some_and(char::is_alphanumeric) && n.is_some_and(|n| n.is_alphanumeric())
        };
        match c {
            '_' if intraword(prev, chars.peek()) => out.push(c),
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '#' | '&' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            // ANSI escapes, other control characters and bidirectional overrides from HR data,
            // shown, never obeyed.
            c if c.is_control() || super::text::is_bidi_control(c) => {
                out.extend(c.escape_unicode())
            }
            _ => out.push(c),
        }
        prev = Some(c);
    }
    out
}

/// Masks personal data for Markdown output, or only escapes it when `show` is set.
///
/// The scheme: an e-mail address keeps its first character and its domain
/// (`jan.devries@example.com` → `j***@example.com`); a person's name becomes the initials of its
/// first and last words (`Jan de Vries` → `J. V.`, `Cher` → `C.`), and a first or last name on
/// its own its initial (`de Vries` → `V.`). Initials rather than a pseudonym such as a short
/// hash: a hash of a name is no more private (anyone holding the staff list computes it: names
/// are a small dictionary) and says nothing to a reviewer, while initials next to the source
/// identifier the plan shows anyway are enough to find the person in HR. E-mail addresses are recognised anywhere by their shape and
/// always set in code spans (no mailto link, no accidental `@mention`); names are recognised in
/// free text (reasons, messages, hints) only when they are the name of a person the plan acts
/// on: a name the plan does not carry as data cannot be found.
pub(super) struct Pii {
    show: bool,
    /// Full name → masked name, for the people the plan acts on.
    names: HashMap<String, String>,
    /// First words of those names: most words in a message start no name at all.
    first_words: HashSet<String>,
    longest: usize,
}

impl Pii {
    pub(super) fn new(plan: &Plan, show: bool) -> Pii {
        let mut pii = Pii {
            show,
            names: HashMap::new(),
            first_words: HashSet::new(),
            longest: 0,
        };
        if show {
            return pii;
        }
        for action in plan.actions.iter().filter(|a| is_account_kind(a.kind())) {
            pii.learn(&action.name);
            // Names before and after a rename can be mentioned too.
            let fields = action.changes.fields();
            let part = |field: Field, to: bool| {
                fields.iter().find(|f| f.field == field).and_then(|f| {
                    match if to { f.to } else { f.from } {
                        FieldValue::Text(t) => Some(t.to_owned()),
                        _ => None,
                    }
                })
            };
            for to in [false, true] {
                if let (Some(first), Some(last)) =
                    (part(Field::FirstName, to), part(Field::LastName, to))
                {
                    pii.learn(&format!("{first} {last}"));
                }
            }
        }
        pii
    }

    fn learn(&mut self, full: &str) {
        let full = full.trim();
        // A one-word name would match that word everywhere; it is masked where it is data
        // (action names), not in free text.
        if full.split_whitespace().count() < 2 {
            return;
        }
        let first = full
            .split(|c: char| !c.is_alphanumeric())
            .next()
            .unwrap_or_default();
        if first.is_empty() {
            return;
        }
        self.first_words.insert(first.to_owned());
        self.longest = self.longest.max(full.len());
        self.names.insert(full.to_owned(), mask_name(full));
    }

    /// Free text: escaped, e-mail addresses masked and in code spans, known names masked.
    pub(super) fn text(&self, s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some((start, end)) = find_email(rest) {
            out.push_str(&md_escape(&self.mask_names(&rest[..start])));
            out.push_str(&self.email(&rest[start..end]));
            rest = &rest[end..];
        }
        out.push_str(&md_escape(&self.mask_names(rest)));
        out
    }

    /// Free text outside Markdown (the masked JSON plan, annotations): e-mail addresses and
    /// known names masked, nothing escaped.
    pub(super) fn plain(&self, s: &str) -> String {
        if self.show {
            return s.to_owned();
        }
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some((start, end)) = find_email(rest) {
            out.push_str(&self.mask_names(&rest[..start]));
            out.push_str(&mask_email(&rest[start..end]));
            rest = &rest[end..];
        }
        out.push_str(&self.mask_names(rest));
        out
    }

    /// A value known to be an e-mail address.
    fn email(&self, s: &str) -> String {
        let shown = if self.show {
            s.to_owned()
        } else {
            mask_email(s)
        };
        code_span(&shown)
    }

    /// A value known to be a person's full name.
    fn name(&self, s: &str) -> String {
        if self.show {
            md_escape(s)
        } else {
            md_escape(&mask_name(s))
        }
    }

    /// A value known to be a first or a last name on its own.
    fn name_part(&self, s: &str) -> String {
        if self.show {
            md_escape(s)
        } else {
            md_escape(&initial(s))
        }
    }

    /// Replaces every known full name in `s`, at word boundaries, longest first.
    fn mask_names(&self, s: &str) -> String {
        if self.show || self.names.is_empty() {
            return s.to_owned();
        }
        let mut out = String::with_capacity(s.len());
        let mut i = 0;
        let mut after_word = false;
        while let Some(c) = s[i..].chars().next() {
            if c.is_alphanumeric()
                && !after_word
                && let Some((len, masked)) = self.name_at(&s[i..])
            {
                out.push_str(masked);
                i += len;
                // "… Jan de Vries." must not become "… J. V..".
                if masked.ends_with('.') && s[i..].starts_with('.') {
                    i += 1;
                }
                after_word = false;
                continue;
            }
            out.push(c);
            after_word = c.is_alphanumeric();
            i += c.len_utf8();
        }
        out
    }

    /// The longest known name that `s` starts with, ending at a word boundary.
    fn name_at(&self, s: &str) -> Option<(usize, &str)> {
        let first_end = s.find(|c: char| !c.is_alphanumeric()).unwrap_or(s.len());
        if !self.first_words.contains(&s[..first_end]) {
            return None;
        }
        let mut best = None;
        let mut prev_alnum = false;
        for (j, c) in s.char_indices().chain([(s.len(), ' ')]) {
            if j > self.longest {
                break;
            }
            if prev_alnum
                && !c.is_alphanumeric()
                && let Some(masked) = self.names.get(&s[..j])
            {
                best = Some((j, masked.as_str()));
            }
            prev_alnum = c.is_alphanumeric();
        }
        best
    }
}

/// `Jan de Vries` → `J. V.`, `Cher` → `C.`: the initials of the first and the last word, so
/// neither the given name nor the family name is shown.
pub(super) fn mask_name(full: &str) -> String {
    let words: Vec<&str> = full.split_whitespace().collect();
    match words.as_slice() {
        [] => String::new(),
        [only] => initial(only),
        [first, .., last] => format!("{} {}", initial(first), initial(last)),
    }
}

/// `de Vries` → `V.`: the initial of the last word.
pub(super) fn initial(s: &str) -> String {
    s.split_whitespace()
        .last()
        .and_then(|w| w.chars().next())
        .map(|c| format!("{c}."))
        .unwrap_or_default()
}

/// `jan.devries@example.com` → `j***@example.com`.
pub(super) fn mask_email(s: &str) -> String {
    match s.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

fn code_span(s: &str) -> String {
    if s.contains('`') {
        format!("`` {s} ``")
    } else {
        format!("`{s}`")
    }
}

/// The byte range of the first e-mail address in `s`: `local@domain.tld`, ASCII only.
fn find_email(s: &str) -> Option<(usize, usize)> {
    let bytes = s.as_bytes();
    let local_char = |b: u8| b.is_ascii_alphanumeric() || b"._%+-".contains(&b);
    let domain_char = |b: u8| b.is_ascii_alphanumeric() || b".-".contains(&b);
    let mut from = 0;
    while let Some(at) = s[from..].find('@').map(|p| p + from) {
        let mut start = at;
        while start > 0 && local_char(bytes[start - 1]) {
            start -= 1;
        }
        while start < at && bytes[start] == b'.' {
            start += 1;
        }
        let mut end = at + 1;
        while end < bytes.len() && domain_char(bytes[end]) {
            end += 1;
        }
        // A sentence's full stop is not part of the domain.
        while end > at + 1 && matches!(bytes[end - 1], b'.' | b'-') {
            end -= 1;
        }
        let domain = &s[at + 1..end];
        if start < at && domain.contains('.') && !domain.starts_with('.') {
            return Some((start, end));
        }
        from = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::super::fixtures::{action, empty_plan, plan_with, sample_plan};
    use super::*;
    use orgsync_core::vocabulary::Safety;

    #[test]
    fn masked() {
        insta::assert_snapshot!(markdown(&sample_plan(), &MarkdownOptions::default()));
    }

    #[test]
    fn with_pii() {
        let opts = MarkdownOptions {
            show_pii: true,
            ..MarkdownOptions::default()
        };
        insta::assert_snapshot!(markdown(&sample_plan(), &opts));
    }

    #[test]
    fn no_changes() {
        insta::assert_snapshot!(markdown(&empty_plan(), &MarkdownOptions::default()));
    }

    /// What a reviewer sees when the plan is over the limit: everything before the actions, a
    /// share of every kind, and the note.
    #[test]
    fn truncated() {
        let opts = MarkdownOptions {
            max_chars: 3_900,
            ..MarkdownOptions::default()
        };
        let out = markdown(&sample_plan(), &opts);
        assert!(char_len(&out) <= opts.max_chars);
        insta::assert_snapshot!(out);
    }

    #[test]
    fn masking_leaves_no_address_or_full_name() {
        let out = markdown(&sample_plan(), &MarkdownOptions::default());
        for pii in [
            "jan.devries@",
            "shared@",
            "piet@",
            "m.yilmaz@",
            "Jan de Vries",
            "de Vries",
            "Janssen",
            "Yilmaz",
            "Fatima el Amrani",
        ] {
            assert!(!out.contains(pii), "{pii} leaked:\n{out}");
        }
        assert!(out.contains("`j***@example.com`"));
        assert!(out.contains("**J. V.**"));
    }

    /// Regression (issue 14): the Markdown plan masked last names but showed first names in
    /// full, while the README says names are masked.
    #[test]
    fn first_names_are_masked_too() {
        let out = markdown(&sample_plan(), &MarkdownOptions::default());
        for first in [
            "Jan", "Fatima", "Piet", "Sanne", "Kees", "Lotte", "Mohammed",
        ] {
            let leaks = out
                .split(|c: char| !c.is_alphanumeric())
                .any(|word| word == first);
            assert!(!leaks, "the first name {first} leaked:\n{out}");
        }
        let shown = markdown(
            &sample_plan(),
            &MarkdownOptions {
                show_pii: true,
                ..MarkdownOptions::default()
            },
        );
        assert!(shown.contains("Jan de Vries"), "{shown}");
    }

    #[test]
    fn masks_names_in_free_text_at_word_boundaries() {
        let plan = plan_with(
            vec![action(
                ActionKind::Remove,
                "1",
                Some("a"),
                "Jan de Vries",
                &[],
                "Jan de Vries left; Jan de Vriesland is someone else.",
            )],
            Vec::new(),
            Safety {
                safe: true,
                violations: Vec::new(),
            },
        );
        let pii = Pii::new(&plan, false);
        assert_eq!(
            pii.text("Jan de Vries left; Jan de Vriesland is someone else."),
            "J. V. left; Jan de Vriesland is someone else."
        );
        assert_eq!(pii.text("Ask Jan de Vries."), "Ask J. V.");
        assert_eq!(pii.text("Jan de Vries's manager"), "J. V.'s manager");
    }

    #[test]
    fn finds_email_addresses_in_text() {
        let s = "Write to jan.de-vries+hr@mail.example.com. Or not@all";
        let (start, end) = find_email(s).unwrap();
        assert_eq!(&s[start..end], "jan.de-vries+hr@mail.example.com");
        assert_eq!(find_email("@ and a@b and x@.com"), None);
        assert_eq!(mask_email("jan@example.com"), "j***@example.com");
        assert_eq!(mask_name("Jan de Vries"), "J. V.");
        assert_eq!(mask_name("Anna-Maria van den Berg"), "A. B.");
        assert_eq!(mask_name("Cher"), "C.");
    }

    #[test]
    fn escapes_markdown_in_data() {
        let plan = plan_with(
            vec![action(
                ActionKind::CreateCommunity,
                "X|1",
                None,
                "<b>R&D</b> *team*",
                &[],
                "line one\nline two",
            )],
            Vec::new(),
            Safety {
                safe: true,
                violations: Vec::new(),
            },
        );
        let out = markdown(&plan, &MarkdownOptions::default());
        assert!(out.contains(r"- **\<b\>R\&D\</b\> \*team\*** (source X\|1): line one line two"));
    }

    /// Regression (issue 11): ANSI escapes in HR names reached the Markdown plan raw.
    #[test]
    fn control_characters_in_data_are_escaped() {
        let plan = plan_with(
            vec![action(
                ActionKind::CreateCommunity,
                "X1",
                None,
                "Red\u{1b}[31m Team\u{7}",
                &[],
                "why",
            )],
            Vec::new(),
            Safety {
                safe: true,
                violations: Vec::new(),
            },
        );
        let out = markdown(&plan, &MarkdownOptions::default());
        assert!(!out.contains('\u{1b}') && !out.contains('\u{7}'), "{out}");
        assert!(out.contains(r"Red\u{1b}\[31m Team\u{7}"), "{out}");
    }

    /// Fifty thousand invites and a handful of removals: the comment stays under the limit,
    /// keeps the summary, shows some of every kind, and says what it left out.
    #[test]
    fn huge_plan_fits_the_limit() {
        let mut actions: Vec<Action> = (0..50_000)
            .map(|i| {
                action(
                    ActionKind::Invite,
                    &format!("{i:05}"),
                    None,
                    &format!("Person{i} Surname{i}"),
                    &[(
                        "email",
                        Value::Null,
                        Value::String(format!("person{i}@example.com")),
                    )],
                    "New in the source.",
                )
            })
            .collect();
        actions.extend((0..5).map(|i| {
            action(
                ActionKind::Remove,
                &format!("9{i:04}"),
                Some(&format!("acc-{i}")),
                &format!("Leaver{i} Surname"),
                &[],
                "Contract ended.",
            )
        }));
        let plan = plan_with(
            actions,
            sample_plan().diagnostics,
            Safety {
                safe: true,
                violations: Vec::new(),
            },
        );
        let opts = MarkdownOptions::default();
        let out = markdown(&plan, &opts);
        assert!(char_len(&out) <= opts.max_chars, "{} chars", char_len(&out));
        assert!(out.contains("**Plan:** 50,000 to invite, 5 to remove"));
        assert!(out.contains("| `+ invite` | 50,000 |"));
        assert!(out.contains("### Diagnostics: 1 error, 2 warnings, 3 info"));
        assert!(out.contains("Remove (5)"), "small kinds are shown whole");
        assert!(out.contains("**L. S.**"));
        let note = out
            .lines()
            .find(|l| l.contains("more actions"))
            .expect("an omission note");
        assert!(
            note.contains("`--markdown-parts DIR`") && !note.contains("--format json"),
            "{note}"
        );
        let shown = out.matches("\n- **P. S.** (person ").count();
        assert!(note.starts_with(&format!("**… {} more actions (", thousands(50_000 - shown))));
        assert!(shown > 100, "uses the room it has: {shown} shown");
        assert!(out.contains(&format!("({} of 50,000 shown)", thousands(shown))));
    }

    /// Issue 20: the plan says how long the apply will take on the target, and warns when
    /// that does not fit the apply job's `timeout-minutes`.
    #[test]
    fn the_apply_estimate_is_shown_and_warns_over_the_timeout() {
        use orgsync_core::estimate::{ApplyPace, RequestsPerAction, estimate};
        let plan = sample_plan();
        let pace = ApplyPace {
            system: "the SCIM server".to_owned(),
            concurrency: 1,
            rate_limit: 1,
            request_ms: 250,
            requests: RequestsPerAction {
                invite: 1000,
                ..RequestsPerAction::ONE_EACH
            },
        };
        let e = estimate(&plan, &pace);
        let out = |timeout| {
            markdown(
                &plan,
                &MarkdownOptions {
                    apply_estimate: Some(e.clone()),
                    apply_timeout_minutes: timeout,
                    ..MarkdownOptions::default()
                },
            )
        };
        let over = out(Some(30));
        assert!(
            over.contains(
                "⚠️ **The apply will likely not finish within the job's timeout:** about"
            ) && over.contains("at most 1 per second, 1 at a time, ~250 ms each")
                && over.contains("stops after 30 minutes"),
            "{over}"
        );
        let within = out(Some(360));
        assert!(
            within.contains("⏱️ **Apply estimate:** about ")
                && within.contains("fits the apply job's 360-minute timeout"),
            "{within}"
        );
        assert!(!markdown(&plan, &MarkdownOptions::default()).contains("Apply estimate"));
        let local = markdown(
            &plan,
            &MarkdownOptions {
                apply_estimate: Some(estimate(&plan, &ApplyPace::local("the target file"))),
                ..MarkdownOptions::default()
            },
        );
        assert!(
            local.contains("⏱️ **Apply estimate:** under a minute (written to the target file)."),
            "{local}"
        );
    }

    #[test]
    fn diagnostics_alone_overflowing_are_truncated() {
        let mut plan = sample_plan();
        let many = plan.diagnostics[1].clone();
        plan.diagnostics = vec![many; 2_000];
        let opts = MarkdownOptions {
            max_chars: 20_000,
            ..MarkdownOptions::default()
        };
        let out = markdown(&plan, &opts);
        assert!(char_len(&out) <= opts.max_chars);
        assert!(out.contains("| **Total** | **11** |"));
        assert!(out.contains("more diagnostics not shown_"));
        assert!(out.contains("11 more actions ("));
        assert!(out.contains("more diagnostics not shown** (this summary"));
    }

    #[test]
    fn never_over_the_limit() {
        for max_chars in [0, 5, 100, 1_000, 2_500, 4_000] {
            let opts = MarkdownOptions {
                max_chars,
                ..MarkdownOptions::default()
            };
            let out = markdown(&sample_plan(), &opts);
            assert!(char_len(&out) <= max_chars, "{max_chars}: {out}");
        }
    }
}
