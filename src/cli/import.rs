//! `orgsync import`: the seeds' "fetch & map" screen as a pull request. Fetches source and target
//! and appends a mapping stub for every source community and function that people in scope have
//! and no mapping covers, marked `todo: true`, with a suggested target when a target group's name
//! is close.
//!
//! The YAML files are edited as text, never re-serialised: existing entries, their order, comments
//! and formatting stay exactly as they are; stubs are appended at the end of the list. The result
//! is validated before anything is kept.
//!
//! A stub's `target` is the source name, never a guess: when no target group has that exact name
//! the stub's people are held and the plan reports `mapping_target_missing` until someone sets the
//! target (under `create` policies the group is created with the source name, as the policy would
//! have done anyway). The close name, when there is one, is suggested in the stub's comment.

use crate::ExitStatus;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{Context, bail};
use jiff::civil::Date;

use super::DirArg;
use crate::pipeline;
use orgsync_core::config::{Config, FunctionSourceField, ManagedField};
use orgsync_core::model::{SourceGroup, SourceSnapshot, TargetGroup, TargetSnapshot};
use orgsync_core::scope::{self, Patterns, Scope};

/// Arguments of `import`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub dir: DirArg,
    /// Decide scope as if today were DATE (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub at: Option<Date>,
    /// Print the stubs instead of writing them.
    #[arg(long)]
    pub dry_run: bool,
}

/// An unmapped source identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stub {
    id: String,
    name: String,
    /// People in scope who have it.
    people: usize,
    /// A target group with a close name.
    suggestion: Option<String>,
}

/// The marker every stub's comment starts with.
const MARKER: &str = "TODO(orgsync import)";

pub(crate) fn run(args: Args) -> anyhow::Result<ExitStatus> {
    let dir = &args.dir.dir;
    let loaded = pipeline::load(dir, None)?;
    let config = &loaded.config;
    let today = pipeline::today(config, args.at)?;
    let fetched = pipeline::fetch(&loaded)?;
    let scope = scope::resolve(config, &fetched.source, today);
    let managed = |f| config.policy.managed_fields.contains(&f);

    // (section path, default file, item lines)
    let mut edits: Vec<(&[&str], &str, Vec<String>, usize)> = Vec::new();
    if managed(ManagedField::Communities) {
        let stubs = community_stubs(config, &fetched.target, &scope);
        if !stubs.is_empty() {
            let lines = stub_lines(&stubs, "community");
            edits.push((&["communities"], "communities.yaml", lines, stubs.len()));
        }
    }
    if managed(ManagedField::FunctionGroups)
        && let Some(functions) = &config.functions
    {
        let stubs = function_stubs(
            config,
            functions.from,
            &fetched.source,
            &fetched.target,
            &scope,
        );
        if !stubs.is_empty() {
            let lines = stub_lines(&stubs, "function group");
            edits.push((&["functions", "map"], "functions.yaml", lines, stubs.len()));
        }
    }
    if edits.is_empty() {
        super::out(
            "Nothing to import: every source community and function of the people in scope is mapped.\n",
        )?;
        return Ok(ExitStatus::Success);
    }

    // New contents per file, in order of first edit.
    let mut files: Vec<(String, Option<String>, String)> = Vec::new();
    let mut summary = Vec::new();
    let mut edit_files = Vec::new();
    for (path, default_file, lines, n) in &edits {
        let file = config
            .locations
            .file_of(path[0])
            .unwrap_or(default_file)
            .to_owned();
        let slot = match files.iter().position(|(f, _, _)| *f == file) {
            Some(i) => i,
            None => {
                let original = match std::fs::read_to_string(dir.join(&file)) {
                    Ok(text) => Some(text),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                    Err(e) => return Err(e).context(format!("cannot read {file}")),
                };
                let text = original.clone().unwrap_or_default();
                files.push((file.clone(), original, text));
                files.len() - 1
            }
        };
        files[slot].2 = append_to_list(&files[slot].2, path, lines)
            .map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
        edit_files.push(file.clone());
        summary.push(format!(
            "{n} {} stub{} to {file}",
            if path[0] == "communities" {
                "community"
            } else {
                "function"
            },
            if *n == 1 { "" } else { "s" }
        ));
    }

    if args.dry_run {
        let mut s = String::new();
        for ((path, _, lines, _), file) in edits.iter().zip(&edit_files) {
            let _ = writeln!(s, "# {file}: {}", path.join("."));
            for l in lines {
                let _ = writeln!(s, "{l}");
            }
        }
        let _ = writeln!(s, "\nDry run: would add {}.", summary.join(" and "));
        super::out(&s)?;
        return Ok(ExitStatus::Success);
    }

    for (file, _, text) in &files {
        super::plan::write_atomically(&dir.join(file), text)?;
    }
    // Keep the result only when it is a valid configuration with the stubs in it.
    let check = orgsync_repo::load_dir(dir)
        .map_err(|errors| super::validate::render_errors(&errors, super::stderr_color()));
    let added: usize = edits.iter().map(|(_, _, _, n)| n).sum();
    let ok = match &check {
        Ok(after) => {
            let count =
                |c: &Config| c.communities.len() + c.functions.as_ref().map_or(0, |f| f.map.len());
            count(after) == count(config) + added
        }
        Err(_) => false,
    };
    if !ok {
        for (file, original, _) in &files {
            let path = dir.join(file);
            match original {
                Some(text) => super::plan::write_atomically(&path, text)?,
                None => std::fs::remove_file(&path)
                    .with_context(|| format!("cannot remove {}", path.display()))?,
            }
        }
        if let Err(rendered) = check {
            super::err(&rendered);
        }
        bail!(
            "the stubs could not be added without breaking the configuration; nothing was changed (add them by hand: orgsync import --dry-run prints them)"
        );
    }
    super::out(&format!(
        "Added {}. Each is marked `todo: true`: set its target, remove the mark, and review the effect with `orgsync plan`.\n",
        summary.join(" and ")
    ))?;
    Ok(ExitStatus::Success)
}

/// Source communities of people in scope that no mapping covers and no target community records.
fn community_stubs(config: &Config, target: &TargetSnapshot, scope: &Scope<'_>) -> Vec<Stub> {
    let mut used: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &scope.persons {
        for c in scope.communities(p) {
            *used.entry(c).or_default() += 1;
        }
    }
    let sources = config.communities.iter().map(|m| m.source.as_slice());
    stubs(used, sources, &target.communities, |id| {
        scope
            .community_names
            .get(id)
            .copied()
            .unwrap_or(id)
            .to_owned()
    })
}

/// Source functions (or departments) of people in scope that no mapping covers and no target
/// function group records.
fn function_stubs(
    config: &Config,
    from: FunctionSourceField,
    source: &SourceSnapshot,
    target: &TargetSnapshot,
    scope: &Scope<'_>,
) -> Vec<Stub> {
    let listed: &[SourceGroup] = from.listed(source);
    let mut used: BTreeMap<&str, usize> = BTreeMap::new();
    for sp in &scope.persons {
        for f in scope.functions(sp) {
            *used.entry(f).or_default() += 1;
        }
    }
    let sources = config
        .functions
        .iter()
        .flat_map(|f| &f.map)
        .map(|m| m.source.as_slice());
    stubs(used, sources, &target.function_groups, |id| {
        listed
            .iter()
            .find(|g| g.id == id)
            .map_or(id, |g| g.name.as_str())
            .to_owned()
    })
}

/// The identifiers of `used` that no mapping pattern matches and no target group records, with a
/// suggestion among the target groups' names.
fn stubs<'s>(
    used: BTreeMap<&str, usize>,
    sources: impl Iterator<Item = &'s [String]>,
    groups: &[TargetGroup],
    name_of: impl Fn(&str) -> String,
) -> Vec<Stub> {
    let patterns: Vec<&str> = sources.flatten().map(String::as_str).collect();
    let mapped = Patterns::new(patterns, false);
    used.into_iter()
        .filter(|(id, _)| !mapped.is_match(id))
        .filter(|(id, _)| !groups.iter().any(|g| g.source_ids.iter().any(|s| s == id)))
        .map(|(id, people)| {
            let name = name_of(id);
            Stub {
                suggestion: suggest(&name, groups.iter().map(|g| g.name.as_str())),
                id: id.to_owned(),
                name,
                people,
            }
        })
        .collect()
}

/// The candidate whose name is close to `name`: equal ignoring case, a likely typo (edit
/// distance at most a third of the length), or all the words of one found in the other ("Guest
/// Relations Agent" and "Guest Relations").
fn suggest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
    let name_l = name.trim().to_lowercase();
    let words = |s: &str| -> Vec<String> { s.split_whitespace().map(str::to_owned).collect() };
    let name_words = words(&name_l);
    candidates
        .filter_map(|c| {
            let c_l = c.trim().to_lowercase();
            if c_l.is_empty() || name_l.is_empty() {
                return None;
            }
            let distance = strsim::damerau_levenshtein(&name_l, &c_l);
            let typo = orgsync_core::closest::is_typo(&name_l, &c_l);
            let c_words = words(&c_l);
            let (short, long) = if c_words.len() <= name_words.len() {
                (&c_words, &name_words)
            } else {
                (&name_words, &c_words)
            };
            let contained = short.iter().all(|w| long.contains(w));
            (typo || contained).then_some((distance, c))
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_owned())
}

/// The stubs as flow-mapping list entries with their comment, without indentation.
fn stub_lines(stubs: &[Stub], group: &str) -> Vec<String> {
    let q = |s: &str| serde_json::to_string(s).expect("strings serialise");
    stubs
        .iter()
        .map(|s| {
            let people = orgsync_core::scope::people(s.people);
            let hint = match &s.suggestion {
                Some(g) => format!("suggested target {} (a {group} with a close name)", q(g)),
                None => format!("no {group} has a close name"),
            };
            format!(
                "- {{ source: {}, name: {}, target: {}, todo: true }}  # {MARKER}: {people}; {hint}",
                q(&s.id),
                q(&s.name),
                q(&s.name)
            )
        })
        .collect()
}

/// Appends `items` (list entries starting with `- `, without indentation) at the end of the block
/// list at `path` (`["communities"]`, `["functions", "map"]`) in YAML `text`, changing nothing
/// else. Missing keys are added at the end of their parent; `key: []` becomes a block list. A list
/// written in flow style (`[a, b]`) cannot be appended to without rewriting it: that is an error.
fn append_to_list(text: &str, path: &[&str], items: &[String]) -> Result<String, String> {
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut lines: Vec<String> = text
        .lines()
        .map(|l| l.trim_end_matches('\r').to_owned())
        .collect();
    let indent = |l: &str| l.len() - l.trim_start_matches(' ').len();
    let content = |l: &str| {
        let t = l.trim();
        !t.is_empty() && !t.starts_with('#')
    };
    // The value after `key:` on a line, comment removed; `None` when the line is not that key.
    let value_of = |l: &str, key: &str| -> Option<String> {
        let rest = l.trim_start().strip_prefix(key)?.strip_prefix(':')?;
        if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
            return None;
        }
        let rest = match rest.find(" #") {
            Some(i) => &rest[..i],
            None => rest,
        };
        Some(rest.trim().to_owned())
    };
    let is_document_marker = |l: &str| l.starts_with("---") || l.starts_with("...");

    let (mut start, mut end) = (0usize, lines.len());
    let mut level = 0usize;
    for (depth, key) in path.iter().enumerate() {
        let last = depth + 1 == path.len();
        // Keys of this mapping sit at the indentation of its first content line.
        let found = (start..end)
            .find(|&i| content(&lines[i]))
            .map(|first| indent(&lines[first]))
            .and_then(|at| {
                level = at;
                (start..end).find(|&i| {
                    content(&lines[i])
                        && indent(&lines[i]) == at
                        && value_of(&lines[i], key).is_some()
                })
            });
        let Some(i) = found else {
            // Add the missing keys at the end of the parent, then the items.
            let at = (start..end)
                .rev()
                .find(|&i| content(&lines[i]))
                .map_or(start, |i| i + 1);
            let mut new = Vec::new();
            let mut pad = if depth == 0 { 0 } else { level };
            for k in &path[depth..] {
                new.push(format!("{}{k}:", " ".repeat(pad)));
                pad += 2;
            }
            new.extend(items.iter().map(|it| format!("{}{it}", " ".repeat(pad))));
            lines.splice(at..at, new);
            return Ok(join(&lines, newline));
        };
        let key_indent = indent(&lines[i]);
        let value = value_of(&lines[i], key).unwrap_or_default();
        // The key's block: until a line at most as indented (a list may sit at the key's own
        // indentation: `key:` then `- item`).
        let block_end = (i + 1..end)
            .find(|&j| {
                let l = &lines[j];
                content(l)
                    && (is_document_marker(l)
                        || indent(l) < key_indent
                        || (indent(l) == key_indent && !l.trim_start().starts_with('-')))
            })
            .unwrap_or(end);
        if !last {
            if !value.is_empty() {
                return Err(format!(
                    "`{key}` is written in flow style on line {}; write it as a block mapping so that import can add to it",
                    i + 1
                ));
            }
            start = i + 1;
            end = block_end;
            level = key_indent + 2;
            continue;
        }
        if value == "[]" {
            let l = &lines[i];
            let pos = l.find("[]").unwrap_or(l.len());
            let after = l[pos..].trim_start_matches("[]");
            let after = after.strip_prefix(' ').unwrap_or(after);
            lines[i] = format!("{}{after}", &l[..pos]).trim_end().to_owned();
        } else if !value.is_empty() {
            return Err(format!(
                "`{}` is written in flow style on line {} ({value}); write it as a block list, one `- ` entry per line, so that import can append to it",
                path.join("."),
                i + 1
            ));
        }
        let item_indent = (i + 1..block_end)
            .find(|&j| content(&lines[j]) && lines[j].trim_start().starts_with('-'))
            .map_or(key_indent + 2, |j| indent(&lines[j]));
        let at = (i + 1..block_end)
            .rev()
            .find(|&j| content(&lines[j]))
            .map_or(i + 1, |j| j + 1);
        let new = items
            .iter()
            .map(|it| format!("{}{it}", " ".repeat(item_indent)));
        lines.splice(at..at, new);
        return Ok(join(&lines, newline));
    }
    Err("empty path".to_owned())
}

fn join(lines: &[String], newline: &str) -> String {
    let mut s = lines.join(newline);
    s.push_str(newline);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items() -> Vec<String> {
        vec!["- { source: \"9\", target: \"X\", todo: true }  # TODO".to_owned()]
    }

    #[test]
    fn appends_after_the_last_entry_keeping_everything_else() {
        let text = "# header\ncommunities:\n  - { source: \"1\", target: A }  # first\n  # a comment\n  - source: \"2\"\n    target: B\n\n# trailing\ntest_locations: [\"Test*\"]\n";
        let out = append_to_list(text, &["communities"], &items()).unwrap();
        assert_eq!(
            out,
            "# header\ncommunities:\n  - { source: \"1\", target: A }  # first\n  # a comment\n  - source: \"2\"\n    target: B\n  - { source: \"9\", target: \"X\", todo: true }  # TODO\n\n# trailing\ntest_locations: [\"Test*\"]\n"
        );
    }

    #[test]
    fn nested_lists_indentless_lists_and_crlf() {
        let text = "functions:\r\n  from: function\r\n  map:\r\n  - { source: F, target: G }\r\n  unmapped: { fallback: No function }\r\nother: 1";
        let out = append_to_list(text, &["functions", "map"], &items()).unwrap();
        assert_eq!(
            out,
            "functions:\r\n  from: function\r\n  map:\r\n  - { source: F, target: G }\r\n  - { source: \"9\", target: \"X\", todo: true }  # TODO\r\n  unmapped: { fallback: No function }\r\nother: 1\r\n"
        );
    }

    #[test]
    fn missing_and_empty_lists_are_created() {
        let out = append_to_list(
            "functions:\n  from: function\n",
            &["functions", "map"],
            &items(),
        )
        .unwrap();
        assert_eq!(
            out,
            "functions:\n  from: function\n  map:\n    - { source: \"9\", target: \"X\", todo: true }  # TODO\n"
        );
        let out =
            append_to_list("communities: [] # none yet\n", &["communities"], &items()).unwrap();
        assert_eq!(
            out,
            "communities: # none yet\n  - { source: \"9\", target: \"X\", todo: true }  # TODO\n"
        );
        let out = append_to_list("", &["communities"], &items()).unwrap();
        assert_eq!(
            out,
            "communities:\n  - { source: \"9\", target: \"X\", todo: true }  # TODO\n"
        );
        let err = append_to_list(
            "communities: [{ source: \"1\", target: A }]\n",
            &["communities"],
            &items(),
        )
        .unwrap_err();
        assert!(err.contains("flow style"), "{err}");
    }

    #[test]
    fn suggestions_are_close_names_only() {
        let groups = ["Guest Relations", "Den Haag", "Kitchen", "No function"];
        let s = |n: &str| suggest(n, groups.iter().copied());
        assert_eq!(s("den haag").as_deref(), Some("Den Haag"));
        assert_eq!(s("Kitchn").as_deref(), Some("Kitchen"));
        assert_eq!(
            s("Guest Relations Agent").as_deref(),
            Some("Guest Relations")
        );
        assert_eq!(s("Teamlead Procurement"), None);
        assert_eq!(s("Haarlem"), None);
    }
}
