//! A rendered Markdown plan in parts of a bounded size, so that the whole plan fits GitHub's
//! limits (65,536 characters per comment, 1 MiB per step summary) without leaving anything out:
//! the GitHub Action posts one comment per part.
//!
//! The split is at line boundaries. A part that ends inside a collapsed `<details>` section (or
//! a code fence) closes it, and the next part reopens it with the same title marked
//! "(continued)", so every part renders on its own. Joined, the parts hold every line of the
//! document, in order.

/// Splits `text` into parts of at most `max_chars` characters each (a `max_chars` below
/// [`MIN_PART_CHARS`] counts as that). A line longer than a part is cut at character
/// boundaries; nothing is dropped. An empty document is one empty part.
pub fn split_markdown(text: &str, max_chars: usize) -> Vec<String> {
    let max = max_chars.max(MIN_PART_CHARS);
    let mut parts = Vec::new();
    let mut part = Part::default();
    // The line that opened the section the current line is in: `<details>` or a code fence.
    let mut details: Option<String> = None;
    let mut fence: Option<String> = None;
    for line in text.split_inclusive('\n') {
        let opens_details = details.is_none() && fence.is_none() && line.starts_with("<details>");
        let closes_details = details.is_some() && fence.is_none() && line.trim() == "</details>";
        let toggles_fence = line.trim_start().starts_with("```");
        // What a part must end with if it ends after this line.
        let after = |d: bool, f: bool| closing(d, f);
        let in_details = (details.is_some() || opens_details) && !closes_details;
        let in_fence = fence.is_some() != toggles_fence;
        let need = chars(line) + after(in_details, in_fence).chars().count();
        if part.chars + need > max && part.has_content {
            // Close what is open before this line, reopen it in the next part.
            part.push(&closing(details.is_some(), fence.is_some()));
            parts.push(std::mem::take(&mut part).text);
            if let Some(open) = &details {
                part.push(&continued(open));
                part.push("\n");
            }
            if let Some(open) = &fence {
                part.push(open);
            }
        }
        if part.chars + need > max {
            // A line longer than a whole part: cut it.
            let mut rest = line;
            while part.chars + chars(rest) + after(in_details, in_fence).chars().count() > max {
                // The cut piece, its line break and the closing fit.
                let room = max
                    .saturating_sub(
                        part.chars + chars(&closing(details.is_some(), fence.is_some())) + 1,
                    )
                    .max(1);
                let cut = rest.char_indices().nth(room).map_or(rest.len(), |(i, _)| i);
                part.push(&rest[..cut]);
                part.push("\n");
                part.has_content = true;
                part.push(&closing(details.is_some(), fence.is_some()));
                parts.push(std::mem::take(&mut part).text);
                if let Some(open) = &details {
                    part.push(&continued(open));
                    part.push("\n");
                }
                if let Some(open) = &fence {
                    part.push(open);
                }
                rest = &rest[cut..];
            }
            part.push(rest);
        } else {
            part.push(line);
        }
        part.has_content |= !line.trim().is_empty();
        if opens_details {
            details = Some(line.to_owned());
        } else if closes_details {
            details = None;
        }
        if toggles_fence {
            fence = match fence {
                Some(_) => None,
                None => Some(line.to_owned()),
            };
        }
    }
    // Only blank lines left over (or nothing at all) add no part, unless there is none yet.
    if part.has_content || parts.is_empty() {
        parts.push(part.text);
    }
    parts
}

/// The smallest part: room for a section's title, its closing and a line.
pub const MIN_PART_CHARS: usize = 400;

#[derive(Default)]
struct Part {
    text: String,
    chars: usize,
    /// Holds a line of the document, not only a reopened section's title.
    has_content: bool,
}

impl Part {
    fn push(&mut self, s: &str) {
        self.text.push_str(s);
        self.chars += chars(s);
    }
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// What closes the open sections at the end of a part.
fn closing(details: bool, fence: bool) -> String {
    let mut out = String::new();
    if fence {
        out.push_str("```\n");
    }
    if details {
        out.push_str("\n</details>\n");
    }
    out
}

/// `<details><summary>… Invite (20,000)</summary>` → `… Invite (20,000) (continued)</summary>`.
fn continued(open: &str) -> String {
    match open.find("</summary>") {
        Some(i) => format!("{} (continued){}", &open[..i], &open[i..]),
        None => open.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(items: usize) -> String {
        let mut s = String::from("## orgsync plan\n\n**Plan:** many to invite.\n\n### Actions\n\n");
        s.push_str("<details><summary><code>+</code> Invite (many)</summary>\n\n");
        for i in 0..items {
            s.push_str(&format!(
                "- **P. S.** (person {i:05}): New in the source.\n"
            ));
            s.push_str(&format!("  - email: `p***@example.com` {i}\n"));
        }
        s.push_str("\n</details>\n\n<sub>footer</sub>\n");
        s
    }

    /// Every line of the document is in exactly one part, in order; each part is within the
    /// limit and has its `<details>` balanced.
    #[test]
    fn parts_hold_every_line_within_the_limit() {
        let text = doc(2_000);
        for max in [400, 1_000, 5_000, 65_000] {
            let parts = split_markdown(&text, max);
            assert!(parts.len() > 1 || text.chars().count() <= max, "{max}");
            for p in &parts {
                assert!(
                    p.chars().count() <= max,
                    "{max}: {} chars",
                    p.chars().count()
                );
                assert_eq!(
                    p.matches("<details>").count(),
                    p.matches("</details>").count(),
                    "{max}: {p}"
                );
            }
            let joined: Vec<&str> = parts
                .iter()
                .flat_map(|p| p.lines())
                .filter(|l| l.starts_with("- **") || l.starts_with("  - "))
                .collect();
            let original: Vec<&str> = text
                .lines()
                .filter(|l| l.starts_with("- **") || l.starts_with("  - "))
                .collect();
            assert_eq!(joined, original, "{max}");
            if parts.len() > 1 {
                assert!(
                    parts[1].starts_with(
                        "<details><summary><code>+</code> Invite (many) (continued)</summary>\n"
                    ),
                    "{}",
                    parts[1]
                );
            }
        }
    }

    #[test]
    fn a_small_document_is_one_part() {
        let text = doc(3);
        assert_eq!(split_markdown(&text, 65_000), vec![text.clone()]);
        assert_eq!(split_markdown("", 65_000), vec![String::new()]);
    }

    #[test]
    fn a_line_longer_than_a_part_is_cut_not_dropped() {
        let long = "x".repeat(2_500);
        let text = format!("a\n{long}\nb\n");
        let parts = split_markdown(&text, 1_000);
        assert!(parts.iter().all(|p| p.chars().count() <= 1_000));
        let xs: usize = parts.iter().map(|p| p.matches('x').count()).sum();
        assert_eq!(xs, 2_500);
        assert!(parts.last().unwrap().ends_with("b\n"));
    }

    #[test]
    fn a_code_fence_is_closed_and_reopened() {
        let mut text = String::from("## failed\n\n```text\n");
        for i in 0..200 {
            text.push_str(&format!("error line {i}\n"));
        }
        text.push_str("```\n");
        let parts = split_markdown(&text, 500);
        assert!(parts.len() > 1);
        for p in &parts {
            assert_eq!(p.matches("```").count() % 2, 0, "{p}");
        }
    }
}
