//! "Did you mean": the one place that decides whether a name is close to another, for every
//! suggestion orgsync makes (configuration keys and values, AFAS GetConnectors and fields,
//! `orgsync import`'s suggested targets).

/// True when `a` and `b` differ by what a typo does: ignoring case, an edit distance
/// (Damerau–Levenshtein) of at most a third of the longer one's length (at least 1).
pub fn is_typo(a: &str, b: &str) -> bool {
    distance(a, b) <= limit(a, b)
}

/// The candidate closest to `word`, when it is close enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (distance(word, c), c))
        .filter(|(d, c)| *d <= limit(word, c))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn distance(a: &str, b: &str) -> usize {
    strsim::damerau_levenshtein(&a.to_lowercase(), &b.to_lowercase())
}

fn limit(a: &str, b: &str) -> usize {
    (a.chars().count().max(b.chars().count()) / 3).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_are_close_other_words_are_not() {
        let names = ["orgsync_employees", "Email_werk", "managed_fields"];
        assert_eq!(
            closest("orgsync_employes", names.iter().copied()),
            Some("orgsync_employees")
        );
        assert_eq!(
            closest("Mail_werk", names.iter().copied()),
            Some("Email_werk")
        );
        assert_eq!(
            closest("MANAGED_FIELDS", names.iter().copied()),
            Some("managed_fields")
        );
        assert_eq!(closest("timezone", names.iter().copied()), None);
        assert!(is_typo("Kichen", "Kitchen"));
        assert!(!is_typo("Bar", "Kitchen"));
    }
}
