//! Skimming a JSON document: finding where its values are, and reading a few short strings,
//! without building anything. `explain` uses it to read one person's part of a file export or
//! workspace ([`orgsync_core::focus`]): the few rows that concern them are then parsed by the
//! file's own reader, so they mean exactly what they mean in a plan.
//!
//! The skimmer accepts well-formed JSON only as far as it looks; anything it does not expect
//! (and every malformed document) makes it give up (`None`), and the caller reads the whole file
//! with the real parser, which then reports the problem at its line.

use std::borrow::Cow;
use std::ops::Range;

/// A scalar as the skimmer saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scalar<'b> {
    /// A string, unescaped.
    Text(Cow<'b, str>),
    /// `null`.
    Null,
    /// A number, as written.
    Number(&'b str),
    /// `true` or `false`.
    Bool(bool),
    /// An object or a list (skipped).
    Nested,
}

/// A cursor over a JSON document.
pub(crate) struct Skim<'b> {
    b: &'b [u8],
    i: usize,
}

impl<'b> Skim<'b> {
    /// At the start of `b` (a byte-order mark is skipped).
    pub(crate) fn new(b: &'b [u8]) -> Skim<'b> {
        let i = if b.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
        Skim { b, i }
    }

    /// Where the cursor is (after white space).
    pub(crate) fn position(&mut self) -> usize {
        self.peek();
        self.i
    }

    /// Skips white space; the next byte, if any.
    pub(crate) fn peek(&mut self) -> Option<u8> {
        while let Some(&c) = self.b.get(self.i) {
            if matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                self.i += 1;
            } else {
                return Some(c);
            }
        }
        None
    }

    /// Takes `c` (after white space).
    pub(crate) fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// True at the end of the document (only white space left).
    pub(crate) fn done(&mut self) -> bool {
        self.peek().is_none()
    }

    /// A string at the cursor: its raw content (between the quotes) and whether it has escapes.
    fn raw_string(&mut self) -> Option<(Range<usize>, bool)> {
        self.eat(b'"')?;
        let start = self.i;
        let mut i = self.i;
        let mut escaped = false;
        loop {
            i = quote_or_backslash(self.b, i)?;
            if self.b[i] == b'"' {
                self.i = i + 1;
                return Some((start..i, escaped));
            }
            // A backslash and the character it escapes.
            escaped = true;
            i += 2;
        }
    }

    /// A string at the cursor, unescaped (borrowed when it has no escapes).
    pub(crate) fn string(&mut self) -> Option<Cow<'b, str>> {
        let (range, escaped) = self.raw_string()?;
        if escaped {
            // The rare case: let the real parser unescape it, quotes included.
            let quoted = &self.b[range.start - 1..range.end + 1];
            serde_json::from_slice::<String>(quoted)
                .ok()
                .map(Cow::Owned)
        } else {
            std::str::from_utf8(&self.b[range]).ok().map(Cow::Borrowed)
        }
    }

    /// The raw bytes of a string key, when it has no escapes (compared without unescaping).
    pub(crate) fn key(&mut self) -> Option<Key<'b>> {
        let (range, escaped) = self.raw_string()?;
        self.eat(b':')?;
        Some(if escaped {
            let quoted = &self.b[range.start - 1..range.end + 1];
            Key::Owned(serde_json::from_slice::<String>(quoted).ok()?)
        } else {
            Key::Raw(&self.b[range])
        })
    }

    /// Skips any value (its strings are not unescaped or checked); its span.
    pub(crate) fn skip(&mut self) -> Option<Range<usize>> {
        let start = self.position();
        if self.peek()? == b'"' {
            self.raw_string()?;
        } else {
            self.scalar()?;
        }
        Some(start..self.i)
    }

    /// A value at the cursor: a scalar as read, an object or list skipped.
    pub(crate) fn scalar(&mut self) -> Option<Scalar<'b>> {
        match self.peek()? {
            b'"' => self.string().map(Scalar::Text),
            b'n' => self.literal(b"null").map(|()| Scalar::Null),
            b't' => self.literal(b"true").map(|()| Scalar::Bool(true)),
            b'f' => self.literal(b"false").map(|()| Scalar::Bool(false)),
            b'-' | b'0'..=b'9' => {
                let start = self.i;
                while self
                    .b
                    .get(self.i)
                    .is_some_and(|c| matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                {
                    self.i += 1;
                }
                std::str::from_utf8(&self.b[start..self.i])
                    .ok()
                    .map(Scalar::Number)
            }
            b'{' | b'[' => self.nested().map(|()| Scalar::Nested),
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        self.b[self.i..]
            .starts_with(word)
            .then(|| self.i += word.len())
    }

    /// Skips an object or a list, strings and nesting included.
    fn nested(&mut self) -> Option<()> {
        let mut depth = 0usize;
        loop {
            match self.peek()? {
                b'{' | b'[' => {
                    depth += 1;
                    self.i += 1;
                }
                b'}' | b']' => {
                    depth -= 1;
                    self.i += 1;
                    if depth == 0 {
                        return Some(());
                    }
                }
                b'"' => {
                    self.raw_string()?;
                }
                _ => {
                    // A scalar, a comma or a colon: up to the next byte that matters.
                    let n = self.b[self.i..]
                        .iter()
                        .position(|c| matches!(c, b'{' | b'[' | b'}' | b']' | b'"'))?;
                    self.i += n;
                }
            }
        }
    }

    /// The members of the object at the cursor, one by one: `f(key, self)` must read or skip
    /// the value. Returns the object's span.
    pub(crate) fn object(
        &mut self,
        mut f: impl FnMut(Key<'b>, &mut Skim<'b>) -> Option<()>,
    ) -> Option<Range<usize>> {
        self.peek()?;
        let start = self.i;
        self.eat(b'{')?;
        if self.eat(b'}').is_some() {
            return Some(start..self.i);
        }
        loop {
            let key = self.key()?;
            f(key, self)?;
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(start..self.i);
                }
                _ => return None,
            }
        }
    }

    /// The elements of the list at the cursor, one by one: `f(self)` must read or skip each.
    pub(crate) fn list(&mut self, mut f: impl FnMut(&mut Skim<'b>) -> Option<()>) -> Option<()> {
        self.eat(b'[')?;
        if self.eat(b']').is_some() {
            return Some(());
        }
        loop {
            f(self)?;
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }
}

/// The first `"` or `\\` in `b` from `i`: eight bytes at a time (most strings are short, and a
/// search routine would spend more starting than searching).
fn quote_or_backslash(b: &[u8], mut i: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = b.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        // A zero byte of `x` sets its high bit here; a byte above a zero byte may be set too,
        // never one below: the lowest set bit is the first match.
        let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
        let m = zero(w ^ (u64::from(b'"') * ONES)) | zero(w ^ (u64::from(b'\\') * ONES));
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    b.get(i..)?
        .iter()
        .position(|&c| c == b'"' || c == b'\\')
        .map(|n| i + n)
}

/// An object's key.
pub(crate) enum Key<'b> {
    /// As written (no escapes).
    Raw(&'b [u8]),
    /// Unescaped.
    Owned(String),
}

impl Key<'_> {
    /// Its bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Key::Raw(b) => b,
            Key::Owned(s) => s.as_bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every value of a list of objects as the skimmer reads it, by key.
    fn rows(json: &str) -> Option<Vec<Vec<(String, Scalar<'_>)>>> {
        let mut s = Skim::new(json.as_bytes());
        let mut out = Vec::new();
        s.list(|s| {
            let mut row = Vec::new();
            s.object(|k, s| {
                row.push((String::from_utf8(k.bytes().to_vec()).ok()?, s.scalar()?));
                Some(())
            })?;
            out.push(row);
            Some(())
        })?;
        s.done().then_some(out)
    }

    #[test]
    fn reads_strings_numbers_literals_and_skips_nesting() {
        let json = "\u{feff}[ {\"id\": \"7\", \"n\": -1.5e3, \"t\": true, \"x\": null,\n \
                    \"deep\": {\"a\": [1, \"]}\", {\"b\": \"{\"}]}, \"e\": \"a\\\"b\\u00e9\"},\n{} ]";
        let rows = rows(json).expect("skimmed");
        assert_eq!(rows.len(), 2);
        let r = &rows[0];
        assert_eq!(r[0], ("id".to_owned(), Scalar::Text("7".into())));
        assert_eq!(r[1].1, Scalar::Number("-1.5e3"));
        assert_eq!(r[2].1, Scalar::Bool(true));
        assert_eq!(r[3].1, Scalar::Null);
        assert_eq!(r[4].1, Scalar::Nested);
        assert_eq!(r[5].1, Scalar::Text("a\"bé".into()));
        assert!(rows[1].is_empty());
    }

    #[test]
    fn finds_the_first_quote_or_backslash_wherever_it_is() {
        for len in 0..40 {
            for at in 0..len {
                for c in [b'"', b'\\'] {
                    let mut b = vec![b'a'; len];
                    b[at] = c;
                    // A later match and a byte just above a match change nothing.
                    if at + 1 < len {
                        b[at + 1] = b'"';
                    }
                    assert_eq!(quote_or_backslash(&b, 0), Some(at), "{len} {at}");
                    assert_eq!(quote_or_backslash(&b, at), Some(at));
                }
            }
            assert_eq!(quote_or_backslash(&vec![0xC3; len], 0), None);
        }
    }

    #[test]
    fn gives_up_on_what_is_not_json() {
        for bad in [
            "[{\"id\": \"7\"",
            "[{\"id\" \"7\"}]",
            "[{\"id\": \"7\"} {\"id\": \"8\"}]",
            "[{\"id\": nul}]",
            "[{\"id\": \"7\"}] x",
            "{\"id\": \"7\"}",
        ] {
            assert!(rows(bad).is_none(), "{bad}");
        }
    }
}
