//! A unified diff of the target state before and after a plan, as canonical YAML: the view a
//! reviewer already knows from `git diff`.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt::Write as _;

use owo_colors::Style;
use serde::Serialize;
use serde_saphyr::FlowSeq;
use similar::{ChangeTag, TextDiff};

use orgsync_core::model::{Account, AccountStatus, TargetGroup, TargetSnapshot};

/// Unified diff of two target states, or an empty string when they render the same. Colour:
/// red `-`, green `+`, cyan hunk headers. Each hunk header names the entry it starts in
/// (`@@ -9,7 +9,7 @@ - id: acc-3`), like git's function context, so a changed field far from
/// its `id` line still says whose it is.
pub fn diff(before: &TargetSnapshot, after: &TargetSnapshot, color: bool) -> String {
    let old = canonical_yaml(before);
    let new = canonical_yaml(after);
    if old == new {
        return String::new();
    }
    let text_diff = TextDiff::from_lines(&old, &new);
    let old_lines: Vec<&str> = old.lines().collect();
    let paint = |s: &str, style: Style| {
        if color {
            style.style(s).to_string()
        } else {
            s.to_owned()
        }
    };

    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}",
        paint("--- target (before)", Style::new().red().bold())
    );
    let _ = writeln!(
        out,
        "{}",
        paint("+++ target (after)", Style::new().green().bold())
    );
    for hunk in text_diff.unified_diff().context_radius(3).iter_hunks() {
        let start = hunk.ops().first().map_or(0, |op| op.old_range().start);
        let mut header = hunk.header().to_string();
        if let Some(context) = enclosing_entry(&old_lines, start) {
            header.push(' ');
            header.push_str(context);
        }
        let _ = writeln!(out, "{}", paint(&header, Style::new().cyan()));
        for change in hunk.iter_changes() {
            let line = format!("{}{}", change.tag(), change.value().trim_end_matches('\n'));
            let line = match change.tag() {
                ChangeTag::Delete => paint(&line, Style::new().red()),
                ChangeTag::Insert => paint(&line, Style::new().green()),
                ChangeTag::Equal => line,
            };
            let _ = writeln!(out, "{line}");
        }
    }
    out
}

/// The nearest line above `start` (in the old text) that opens a list entry or a top-level
/// section: `- id: acc-3`, or `accounts:` when the hunk starts before the first entry.
fn enclosing_entry<'a>(lines: &[&'a str], start: usize) -> Option<&'a str> {
    lines[..start.min(lines.len())]
        .iter()
        .rev()
        .find(|line| line.starts_with("- ") || (!line.starts_with(' ') && line.ends_with(':')))
        .copied()
}

/// One account as the reader sees it: groups by name, fields in a fixed order, most-changed
/// ones (status, groups) close to the `id` so the diff's context shows whose they are.
#[derive(Serialize)]
struct AccountView<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_id: Option<&'a str>,
    first_name: &'a str,
    last_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    removed_at: Option<String>,
    managed: bool,
    communities: FlowSeq<Vec<&'a str>>,
    function_groups: FlowSeq<Vec<&'a str>>,
}

#[derive(Serialize)]
struct GroupView<'a> {
    id: &'a str,
    name: &'a str,
    source_ids: FlowSeq<Vec<&'a str>>,
    managed: bool,
}

#[derive(Serialize)]
struct SnapshotView<'a> {
    accounts: Vec<AccountView<'a>>,
    communities: Vec<GroupView<'a>>,
    function_groups: Vec<GroupView<'a>>,
}

/// The target state as deterministic YAML: accounts and groups sorted by id, memberships by
/// group name (sorted; an id that resolves to no group is shown as the id).
fn canonical_yaml(snapshot: &TargetSnapshot) -> String {
    let community_names = names_by_id(&snapshot.communities);
    let function_group_names = names_by_id(&snapshot.function_groups);

    let mut accounts: Vec<&Account> = snapshot.accounts.iter().collect();
    accounts.sort_by(|a, b| natural_cmp(&a.id, &b.id));
    let accounts = accounts
        .into_iter()
        .map(|a| AccountView {
            id: &a.id,
            external_id: a.external_id.as_deref(),
            first_name: &a.first_name,
            last_name: &a.last_name,
            email: a.email.as_deref(),
            status: match a.status {
                AccountStatus::Active => "active",
                AccountStatus::Removed => "removed",
                AccountStatus::Anonymized => "anonymized",
            },
            removed_at: a.removed_at.map(|d| d.to_string()),
            managed: a.managed,
            communities: FlowSeq(resolve(&a.communities, &community_names)),
            function_groups: FlowSeq(resolve(&a.function_groups, &function_group_names)),
        })
        .collect();

    let view = SnapshotView {
        accounts,
        communities: group_views(&snapshot.communities),
        function_groups: group_views(&snapshot.function_groups),
    };
    serde_saphyr::to_string(&view)
        .expect("the target view holds only strings, booleans and lists, which YAML can express")
}

fn names_by_id(groups: &[TargetGroup]) -> HashMap<&str, &str> {
    groups
        .iter()
        .map(|g| (g.id.as_str(), g.name.as_str()))
        .collect()
}

fn resolve<'a>(ids: &'a [String], names: &HashMap<&str, &'a str>) -> Vec<&'a str> {
    let mut resolved: Vec<&str> = ids
        .iter()
        .map(|id| names.get(id.as_str()).copied().unwrap_or(id.as_str()))
        .collect();
    resolved.sort_unstable();
    resolved
}

fn group_views(groups: &[TargetGroup]) -> Vec<GroupView<'_>> {
    let mut views: Vec<GroupView<'_>> = groups
        .iter()
        .map(|g| GroupView {
            id: &g.id,
            name: &g.name,
            source_ids: FlowSeq(g.source_ids.iter().map(String::as_str).collect()),
            managed: g.managed,
        })
        .collect();
    views.sort_by(|a, b| natural_cmp(a.id, b.id));
    views
}

/// Orders ids the way people count: `acc-2` before `acc-10`. Runs of digits compare by value,
/// everything else by character; ties fall back to plain string order, so the order is total.
fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a, b);
    loop {
        match (x.chars().next(), y.chars().next()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let xe = x.find(|c: char| !c.is_ascii_digit()).unwrap_or(x.len());
                let ye = y.find(|c: char| !c.is_ascii_digit()).unwrap_or(y.len());
                let (xn, yn) = (
                    x[..xe].trim_start_matches('0'),
                    y[..ye].trim_start_matches('0'),
                );
                let by_value = xn.len().cmp(&yn.len()).then_with(|| xn.cmp(yn));
                if by_value != Ordering::Equal {
                    return by_value;
                }
                x = &x[xe..];
                y = &y[ye..];
            }
            (Some(c), Some(d)) => {
                if c != d {
                    return c.cmp(&d);
                }
                x = &x[c.len_utf8()..];
                y = &y[d.len_utf8()..];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    fn group(id: &str, name: &str, source_ids: &[&str], managed: bool) -> TargetGroup {
        TargetGroup {
            id: id.to_owned(),
            name: name.to_owned(),
            source_ids: source_ids.iter().map(|s| (*s).to_owned()).collect(),
            managed,
        }
    }

    fn account(id: &str, external_id: &str, name: (&str, &str), community: &str) -> Account {
        Account {
            id: id.to_owned(),
            external_id: Some(external_id.to_owned()),
            email: Some(format!("{}@example.com", name.0.to_lowercase())),
            first_name: name.0.to_owned(),
            last_name: name.1.to_owned(),
            managed: true,
            status: AccountStatus::Active,
            removed_at: None,
            communities: vec![community.to_owned()],
            function_groups: vec!["fg-1".to_owned()],
            protected: false,
        }
    }

    fn before() -> TargetSnapshot {
        TargetSnapshot {
            // Deliberately out of order: the rendering sorts by id.
            accounts: vec![
                account("acc-3", "1003", ("Sanne", "Bakker"), "c-1"),
                account("acc-2", "1002", ("Piet", "Janssen"), "c-1"),
                account("acc-6", "1006", ("Lotte", "de Boer"), "c-2"),
                Account {
                    id: "acc-9".to_owned(),
                    email: Some("admin@example.com".to_owned()),
                    first_name: "Site".to_owned(),
                    last_name: "Admin".to_owned(),
                    ..Account::default()
                },
            ],
            communities: vec![
                group("c-2", "Zandvoort", &["1009"], true),
                group("c-1", "Amsterdam Centrum", &["1001"], false),
            ],
            function_groups: vec![group("fg-1", "Guest Relations", &["F-GR"], false)],
        }
    }

    fn after() -> TargetSnapshot {
        let mut after = before();
        after
            .communities
            .push(group("c-3", "Utrecht", &["3001"], true));
        // Move Sanne to Utrecht, rename Piet, remove Lotte, invite Jan.
        after.accounts[0].communities = vec!["c-3".to_owned()];
        after.accounts[1].last_name = "Jansen".to_owned();
        after.accounts[2].status = AccountStatus::Removed;
        after.accounts[2].removed_at = Some(date(2025, 3, 1));
        after
            .accounts
            .push(account("acc-10", "1001", ("Jan", "de Vries"), "c-1"));
        after
    }

    #[test]
    fn target_state_diff() {
        insta::assert_snapshot!(diff(&before(), &after(), false));
    }

    #[test]
    fn canonical_yaml_is_sorted_and_shows_groups_by_name() {
        insta::assert_snapshot!(canonical_yaml(&before()));
    }

    #[test]
    fn ids_sort_like_numbers() {
        let mut ids = vec!["acc-10", "acc-2", "b", "acc-02", "a", "acc-1"];
        ids.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(ids, ["a", "acc-1", "acc-02", "acc-2", "acc-10", "b"]);
    }

    #[test]
    fn no_difference_is_empty() {
        assert_eq!(diff(&before(), &before(), false), "");
        assert_eq!(diff(&before(), &before(), true), "");
    }

    #[test]
    fn order_of_input_does_not_matter() {
        let mut shuffled = before();
        shuffled.accounts.reverse();
        shuffled.communities.reverse();
        assert_eq!(diff(&before(), &shuffled, false), "");
    }

    #[test]
    fn colour_only_when_asked() {
        assert!(!diff(&before(), &after(), false).contains('\x1b'));
        let coloured = diff(&before(), &after(), true);
        assert!(coloured.contains("\x1b[31m"));
        assert!(coloured.contains("\x1b[32m"));
    }
}
