//! Reading a few members of every row of a JSON list of objects without tokenising the rest:
//! `explain` needs each row's identifier, address and groups of an export (and each account's
//! external id and address of a workspace), and reading every row member by member cost more
//! than the engine's whole plan for one person.
//!
//! [`stream_list_by`] reads the file through one reused buffer (no copy of the whole file, whose
//! page faults alone cost more than the rest), and finds, sixty-four bytes at a time, where the
//! strings are (from their quotes), then the braces, brackets and colons outside them: where each
//! row starts and ends and where each of the row's own members has its colon (a nested value's
//! colons are not the row's). A row is *plain* when it has no backslash: then, in a well-formed
//! document, the string before each of those colons is exactly a member's key and a string value
//! is exactly its bytes, so [`Row::members`] reads the members it wants by looking at the key
//! before each colon. Rows that are not plain are left to the caller ([`crate::skim`] reads
//! them member by member). Like the skimmer, this takes the document to be well-formed JSON as
//! far as it does not look; `plan` and `validate` read it whole and report where it is not.
//!
//! [`stream_list_halves`] reads a large file by two threads: the second from where a row seems
//! to start after the middle, the first up to there, checking that a row does start there
//! (reading on alone when not).

use std::io::Read;
use std::ops::Range;

use wide::u8x16;

/// How much is read at a time.
pub(crate) const CHUNK: usize = 1 << 18;

/// Each byte of a 64-byte block that is a quote, a bracket or brace (opening or closing), or a
/// colon, as a bit (bit `i` for byte `i`); and whether the block has a backslash.
fn masks(block: &[u8; 64]) -> ([u64; 3], bool) {
    let mut out = [0u64; 3];
    let mut backslash = u8x16::splat(0);
    let lanes: &[[u8; 16]; 4] = zerocopy_lanes(block);
    for (j, lane) in lanes.iter().enumerate() {
        let v = u8x16::new(*lane);
        // `{`/`[` and `}`/`]` differ from each other only in bit 0x20.
        let folded = v | u8x16::splat(0x20);
        let is = |x: u8x16, c: u8| x.cmp_eq(u8x16::splat(c));
        backslash |= is(v, b'\\');
        let m = [
            is(v, b'"'),
            is(folded, b'{') | is(folded, b'}'),
            is(v, b':'),
        ];
        for (o, m) in out.iter_mut().zip(m) {
            *o |= u64::from(m.move_mask() as u16) << (j * 16);
        }
    }
    (out, backslash.move_mask() != 0)
}

/// A block as four 16-byte lanes.
fn zerocopy_lanes(block: &[u8; 64]) -> &[[u8; 16]; 4] {
    let (lanes, rest) = block.as_chunks::<16>();
    debug_assert!(rest.is_empty());
    lanes
        .try_into()
        .unwrap_or_else(|_| unreachable!("64 is four lanes of 16"))
}

/// Bit `i` is the parity of the set bits `0..=i` of `x`: from an opening quote up to (not
/// including) its closing quote.
fn prefix_xor(mut x: u64) -> u64 {
    for s in [1, 2, 4, 8, 16, 32] {
        x ^= x << s;
    }
    x
}

/// One row of the list: its bytes, whether it is plain, and its members' colons.
pub(crate) struct Row<'b> {
    /// Where the row starts in the file.
    pub(crate) start: u64,
    /// The row, braces included.
    pub(crate) bytes: &'b [u8],
    /// No backslash.
    pub(crate) plain: bool,
    /// Where each member's colon is, from the row's start (meaningful in a plain row).
    colons: &'b [u32],
}

/// A member's value in a plain row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value<'b> {
    /// A string's content (a plain row has no escapes).
    Text(&'b [u8]),
    /// A number, as written.
    Number(&'b [u8]),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
}

/// The key at each member position of the previous row read by [`Row::members`], and what it
/// was wanted as: rows repeat their keys in the same order, so one comparison finds each.
#[derive(Default)]
pub(crate) struct KeyHints(Vec<(Quoted, Option<usize>)>);

/// A key with its quotes, `"key"`, and the words of it that [`Quoted::is_at`] compares: the
/// first and the last eight bytes (four for a short key), which together are all of it.
#[derive(Default)]
struct Quoted {
    text: Box<[u8]>,
    first: u64,
    last: u64,
}

impl Quoted {
    fn of(key: &[u8]) -> Quoted {
        let mut text = Vec::with_capacity(key.len() + 2);
        text.push(b'"');
        text.extend_from_slice(key);
        text.push(b'"');
        let n = text.len();
        let (first, last) = if n >= 8 {
            (word(&text, 0), word(&text, n - 8))
        } else if n >= 4 {
            (half(&text, 0), half(&text, n - 4))
        } else {
            (0, 0)
        };
        Quoted {
            text: text.into(),
            first,
            last,
        }
    }

    /// `b[..end]` ends with this quoted key (never with the default, which is no key).
    #[inline]
    fn is_at(&self, b: &[u8], end: usize) -> bool {
        let n = self.text.len();
        let Some(start) = end.checked_sub(n) else {
            return false;
        };
        match n {
            0 | 1 => false,
            8..=16 => word(b, start) == self.first && word(b, end - 8) == self.last,
            4..=7 => half(b, start) == self.first && half(b, end - 4) == self.last,
            _ => b[start..end] == *self.text,
        }
    }
}

/// The eight bytes of `b` at `at` as a word (0 past its end: never a word with a quote).
#[inline]
fn word(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8)
        .and_then(|w| <[u8; 8]>::try_from(w).ok())
        .map_or(0, u64::from_le_bytes)
}

/// [`word`] of four bytes.
#[inline]
fn half(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 4)
        .and_then(|w| <[u8; 4]>::try_from(w).ok())
        .map_or(0, |w| u64::from(u32::from_le_bytes(w)))
}

impl<'b> Row<'b> {
    /// Every member of a plain row whose key `wanted` knows (as an index into `out`), its value
    /// in `out` (the last, when a key is there twice, as the skimmer reads it). `None` when one
    /// of those values is an object or a list, or not JSON.
    pub(crate) fn members(
        &self,
        hints: &mut KeyHints,
        wanted: impl Fn(&[u8]) -> Option<usize>,
        out: &mut [Option<Value<'b>>],
    ) -> Option<()> {
        self.read_members(hints, wanted, out, false)
    }

    /// [`Row::members`], up to where every wanted member has been read: for rows whose reader
    /// refuses a key given twice (a workspace's accounts), where the first is as good as the last.
    pub(crate) fn first_members(
        &self,
        hints: &mut KeyHints,
        wanted: impl Fn(&[u8]) -> Option<usize>,
        out: &mut [Option<Value<'b>>],
    ) -> Option<()> {
        self.read_members(hints, wanted, out, true)
    }

    fn read_members(
        &self,
        hints: &mut KeyHints,
        wanted: impl Fn(&[u8]) -> Option<usize>,
        out: &mut [Option<Value<'b>>],
        first: bool,
    ) -> Option<()> {
        out.iter_mut().for_each(|v| *v = None);
        let b = self.bytes;
        let mut missing = out.len();
        if hints.0.len() < self.colons.len() {
            hints.0.resize_with(self.colons.len(), Default::default);
        }
        for (&colon, hint) in self.colons.iter().zip(&mut hints.0) {
            let mut end = colon as usize;
            while matches!(b[end - 1], b' ' | b'\n' | b'\r' | b'\t') {
                end -= 1;
            }
            if !hint.0.is_at(b, end) {
                // With no escapes in the row, the quote before the closing one opens the key.
                let open = memchr::memrchr(b'"', &b[..end - 1])?;
                let key = &b[open + 1..end - 1];
                *hint = (Quoted::of(key), wanted(key));
            }
            if let Some(i) = hint.1 {
                missing -= usize::from(out[i].is_none());
                out[i] = Some(value_at(b, colon as usize + 1)?);
                if first && missing == 0 {
                    break;
                }
            }
        }
        Some(())
    }

    /// The value of the member named `key` of a plain row (the last, when it is there twice, as
    /// the skimmer reads it); `Some(None)` when the row has no such member, `None` when the
    /// value is an object or a list, or not JSON.
    pub(crate) fn member(&self, key: &[u8]) -> Option<Option<Value<'b>>> {
        let b = self.bytes;
        let mut found = None;
        for &colon in self.colons {
            let mut end = colon as usize;
            while end > 0 && matches!(b[end - 1], b' ' | b'\n' | b'\r' | b'\t') {
                end -= 1;
            }
            // `"key"` right before the colon: with no escapes, its first quote opens the string.
            let Some(open) = end.checked_sub(key.len() + 2) else {
                continue;
            };
            if b[end - 1] == b'"' && b[open] == b'"' && &b[open + 1..end - 1] == key {
                found = Some(colon as usize + 1);
            }
        }
        match found {
            Some(at) => value_at(b, at).map(Some),
            None => Some(None),
        }
    }
}

/// Where the first quote of `text` is. Values are short: sixteen bytes at a time at first,
/// which costs less than the call that finds a far quote.
#[inline]
fn quote_in(text: &[u8]) -> Option<usize> {
    let mut at = 0;
    while at < 64 {
        let Some(lane) = text
            .get(at..at + 16)
            .and_then(|l| <[u8; 16]>::try_from(l).ok())
        else {
            break;
        };
        let found = u8x16::new(lane).cmp_eq(u8x16::splat(b'"')).move_mask();
        if found != 0 {
            return Some(at + found.trailing_zeros() as usize);
        }
        at += 16;
    }
    memchr::memchr(b'"', &text[at..]).map(|i| at + i)
}

/// `a == b` for two short keys of the same length, eight bytes at a time (a library compare
/// costs more to call than to run on these).
#[inline]
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (a8, a_rest) = a.as_chunks::<8>();
    let (b8, b_rest) = b.as_chunks::<8>();
    a8.iter()
        .zip(b8)
        .all(|(x, y)| u64::from_ne_bytes(*x) == u64::from_ne_bytes(*y))
        && a_rest.iter().zip(b_rest).all(|(x, y)| x == y)
}

/// The value at `at` (after white space) in a plain row; `None` for an object, a list or what is
/// not JSON.
fn value_at(b: &[u8], mut at: usize) -> Option<Value<'_>> {
    while b
        .get(at)
        .is_some_and(|c| matches!(c, b' ' | b'\n' | b'\r' | b'\t'))
    {
        at += 1;
    }
    let value = match *b.get(at)? {
        b'"' => {
            let text = &b[at + 1..];
            Value::Text(&text[..quote_in(text)?])
        }
        b'n' if b[at..].starts_with(b"null") => Value::Null,
        b't' if b[at..].starts_with(b"true") => Value::Bool(true),
        b'f' if b[at..].starts_with(b"false") => Value::Bool(false),
        b'-' | b'0'..=b'9' => {
            let len = b[at..]
                .iter()
                .position(|c| !matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                .unwrap_or(b.len() - at);
            Value::Number(&b[at..at + len])
        }
        _ => return None,
    };
    Some(value)
}

/// A row that has closed: its span in the file, and its colons in [`Splitter::colons`].
struct Closed {
    span: Range<u64>,
    plain: bool,
    colons: Range<usize>,
}

/// Where the rows are while the list is read, across reads.
struct Splitter {
    /// Brackets open: 1 inside the list, 2 inside a row, more inside a nested value.
    depth: usize,
    /// The open row's start.
    start: u64,
    /// Where the previous row ended (or just after the list's `[`).
    after: u64,
    /// The open row has a backslash.
    odd: bool,
    /// A row was seen.
    rows_seen: bool,
    /// Inside a string, and just after a backslash in one.
    in_string: bool,
    escape: bool,
    /// The colons of the rows closed since the last [`Splitter::take`], then of the open row.
    colons: Vec<u32>,
    /// Where the open row's colons start in `colons`.
    row_colons: usize,
    closed: Vec<Closed>,
    /// Where a row is guessed to start (another thread reads on from there): reading stops when a
    /// row starts exactly there, and the guess is dropped once anything else is seen from there on.
    stop: Option<u64>,
}

enum Step {
    Go,
    /// The list ended just before here.
    End(u64),
    /// A row starts at [`Splitter::stop`].
    Split,
    /// Not a list of objects.
    Fail,
}

impl Splitter {
    /// `buf` holds the file from `base` on.
    #[inline]
    fn open(&mut self, buf: &[u8], base: u64, at: u64) -> Step {
        let split = self.reached(at);
        self.depth += 1;
        if self.depth == 2 {
            // A row starts: since the previous one only a comma (not before the first) and white
            // space.
            let gap = &buf[(self.after - base) as usize..(at - base) as usize];
            let commas = gap.iter().filter(|&&c| c == b',').count();
            let blank = gap
                .iter()
                .all(|c| matches!(c, b',' | b' ' | b'\n' | b'\r' | b'\t'));
            if !blank || commas != usize::from(self.rows_seen) || buf[(at - base) as usize] != b'{'
            {
                return Step::Fail;
            }
            if split {
                return Step::Split;
            }
            self.start = at;
            self.odd = false;
            self.row_colons = self.colons.len();
        }
        Step::Go
    }

    /// Something structural at `at`: true when it is where the guessed row starts; the guess is
    /// dropped once it is passed.
    #[inline]
    fn reached(&mut self, at: u64) -> bool {
        match self.stop {
            Some(stop) if at >= stop => {
                self.stop = None;
                at == stop
            }
            _ => false,
        }
    }

    #[inline]
    fn close(&mut self, buf: &[u8], base: u64, at: u64) -> Step {
        self.reached(at);
        let Some(depth) = self.depth.checked_sub(1) else {
            return Step::Fail;
        };
        self.depth = depth;
        match depth {
            1 => {
                if at - self.start >= u64::from(u32::MAX) {
                    return Step::Fail;
                }
                self.closed.push(Closed {
                    span: self.start..at + 1,
                    plain: !self.odd,
                    colons: self.row_colons..self.colons.len(),
                });
                self.after = at + 1;
                self.rows_seen = true;
                Step::Go
            }
            0 => {
                let tail = &buf[(self.after - base) as usize..(at - base) as usize];
                if buf[(at - base) as usize] == b']'
                    && tail
                        .iter()
                        .all(|c| matches!(c, b' ' | b'\n' | b'\r' | b'\t'))
                {
                    Step::End(at + 1)
                } else {
                    Step::Fail
                }
            }
            _ => Step::Go,
        }
    }

    #[inline]
    fn colon(&mut self, at: u64) -> Step {
        if self.depth == 2 {
            self.colons_at(1, at);
        }
        Step::Go
    }

    /// The colons of `mask` in a block at `at` inside the open row (which may have opened in
    /// the block, after `at`: only the sums must be right, hence the wrapping arithmetic).
    #[inline]
    fn colons_at(&mut self, mut mask: u64, at: u64) {
        let from = at.wrapping_sub(self.start);
        while mask != 0 {
            // A row is at most 4 GiB: checked when it closes.
            self.colons
                .push(from.wrapping_add(u64::from(mask.trailing_zeros())) as u32);
            mask &= mask - 1;
        }
    }

    /// Reads `buf[from..]` (the file from `base` on).
    fn feed(&mut self, buf: &[u8], base: u64, from: usize) -> Step {
        let mut at = from;
        let mut padded = [b' '; 64];
        while at < buf.len() {
            let n = (buf.len() - at).min(64);
            let block: &[u8; 64] = match buf[at..].first_chunk() {
                Some(block) => block,
                None => {
                    // The last bytes read, padded with inert white space.
                    padded[..n].copy_from_slice(&buf[at..]);
                    &padded
                }
            };
            let ([quote, brace, colon], backslash) = masks(block);
            let pos = |i: usize| base + (at + i) as u64;
            let mut step = Step::Go;
            if !backslash && !self.escape {
                let carry = if self.in_string { u64::MAX } else { 0 };
                let inside = prefix_xor(quote) ^ carry;
                // The padding has no quote: the last bit is the state after the block.
                self.in_string = inside >> 63 == 1;
                let mut colon = colon & !inside;
                let mut braces = brace & !inside;
                // Between two braces the depth stays: the colons there are the open row's all
                // together, or none of them.
                while braces != 0 {
                    let i = braces.trailing_zeros() as usize;
                    braces &= braces - 1;
                    let before = colon & ((1 << i) - 1);
                    if self.depth == 2 {
                        self.colons_at(before, pos(0));
                    }
                    colon ^= before;
                    step = if block[i] | 0x20 == b'{' {
                        self.open(buf, base, pos(i))
                    } else {
                        self.close(buf, base, pos(i))
                    };
                    if !matches!(step, Step::Go) {
                        break;
                    }
                }
                // Most blocks have no brace: inside one row, only its colons.
                if matches!(step, Step::Go) && self.depth == 2 {
                    self.colons_at(colon, pos(0));
                }
            } else {
                // A backslash: this block a byte at a time.
                for (i, &c) in block[..n].iter().enumerate() {
                    if self.in_string {
                        if self.escape {
                            self.escape = false;
                        } else if c == b'\\' {
                            self.escape = true;
                            self.odd = true;
                        } else if c == b'"' {
                            self.in_string = false;
                        }
                        continue;
                    }
                    step = match c {
                        b'"' => {
                            self.in_string = true;
                            Step::Go
                        }
                        b'{' | b'[' => self.open(buf, base, pos(i)),
                        b'}' | b']' => self.close(buf, base, pos(i)),
                        b':' => self.colon(pos(i)),
                        _ => Step::Go,
                    };
                    if !matches!(step, Step::Go) {
                        break;
                    }
                }
            }
            if !matches!(step, Step::Go) {
                return step;
            }
            at += 64;
        }
        Step::Go
    }

    /// Hands each closed row to `row`, then forgets them.
    fn take(
        &mut self,
        buf: &[u8],
        base: u64,
        row: &mut impl FnMut(Row<'_>) -> Option<()>,
    ) -> Option<()> {
        for c in self.closed.drain(..) {
            let span = (c.span.start - base) as usize..(c.span.end - base) as usize;
            row(Row {
                start: c.span.start,
                bytes: &buf[span],
                plain: c.plain,
                colons: &self.colons[c.colons],
            })?;
        }
        // The open row's colons stay.
        self.colons.drain(..self.row_colons.min(self.colons.len()));
        self.row_colons = 0;
        Some(())
    }
}

/// What two threads read ([`stream_list_halves`]), the second's after the first's, without
/// copying them into one list (at a hundred thousand rows the copy and its page faults cost more
/// than a millisecond).
#[derive(Debug, Clone)]
pub(crate) struct Both<T> {
    first: Vec<T>,
    second: Vec<T>,
}

impl<T> Default for Both<T> {
    fn default() -> Both<T> {
        Vec::new().into()
    }
}

impl<T> Both<T> {
    pub(crate) fn push(&mut self, item: T) {
        if self.second.is_empty() {
            self.first.push(item);
        } else {
            self.second.push(item);
        }
    }

    /// `later`'s items after these.
    pub(crate) fn then(&mut self, later: Both<T>) {
        if self.second.is_empty() {
            // The usual case: the later list is kept as it is.
            self.second = later.first;
        } else {
            self.second.extend(later.first);
        }
        self.second.extend(later.second);
    }

    pub(crate) fn len(&self) -> usize {
        self.first.len() + self.second.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.first.iter().chain(&self.second)
    }

    /// The two lists, in order.
    pub(crate) fn halves(&self) -> [&[T]; 2] {
        [&self.first, &self.second]
    }

    pub(crate) fn first(&self) -> Option<&T> {
        self.first.first().or(self.second.first())
    }
}

impl<T> std::ops::Index<usize> for Both<T> {
    type Output = T;

    fn index(&self, i: usize) -> &T {
        match i.checked_sub(self.first.len()) {
            Some(j) => &self.second[j],
            None => &self.first[i],
        }
    }
}

impl<T> From<Vec<T>> for Both<T> {
    fn from(first: Vec<T>) -> Both<T> {
        Both {
            first,
            second: Vec::new(),
        }
    }
}

impl<T: PartialEq> PartialEq for Both<T> {
    fn eq(&self, other: &Both<T>) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

/// What surrounds the list in the file.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Around {
    /// Everything before the list's `[`.
    pub(crate) head: Vec<u8>,
    /// Everything after its `]`.
    pub(crate) tail: Vec<u8>,
}

/// How far into the file the list must start.
const HEAD: usize = 16 << 20;

/// Reads `input` to its end, `chunk` bytes at a time: `find(start)` says where the list's `[`
/// is once the start of the file read so far shows it (`None` until then: more is read, up to
/// [`HEAD`]); each of its rows is handed to `row` in order (which may stop it with `None`). `None`
/// when the list is not there, not a list of objects, or a row larger than 4 GiB.
pub(crate) fn stream_list_by(
    input: &mut impl Read,
    chunk: usize,
    find: impl FnMut(&[u8]) -> Option<usize>,
    mut row: impl FnMut(Row<'_>) -> Option<()>,
) -> Option<Around> {
    match stream_until(input, chunk, find, None, &mut row)? {
        (head, Ending::Tail(tail)) => Some(Around { head, tail }),
        (_, Ending::Split) => None,
    }
}

/// How reading a list ended.
enum Ending {
    /// At the list's end: what follows it.
    Tail(Vec<u8>),
    /// Where [`Splitter::stop`] guessed a row starts, and it does.
    Split,
}

/// [`stream_list_by`], stopping before a row that starts at `stop`: what precedes the list, and
/// how it ended.
fn stream_until(
    input: &mut impl Read,
    chunk: usize,
    mut find: impl FnMut(&[u8]) -> Option<usize>,
    stop: Option<u64>,
    row: &mut impl FnMut(Row<'_>) -> Option<()>,
) -> Option<(Vec<u8>, Ending)> {
    let mut buf = Window::default();
    let list = loop {
        let n = buf.fill(input, chunk)?;
        if let Some(at) = find(buf.get()) {
            break at;
        }
        if n == 0 || buf.get().len() > HEAD {
            return None;
        }
    };
    if buf.get().get(list) != Some(&b'[') {
        return None;
    }
    let head = buf.get()[..list].to_vec();
    let mut s = Splitter::at(list as u64 + 1, false);
    s.stop = stop;
    let ending = s.run(input, chunk, buf, 0, list + 1, row)?;
    Some((head, ending))
}

impl Splitter {
    /// Inside the list, before a row; `after` is where the previous row ended (or just after
    /// the list's `[`), `rows_seen` whether there was one.
    fn at(after: u64, rows_seen: bool) -> Splitter {
        Splitter {
            depth: 1,
            start: 0,
            after,
            odd: false,
            rows_seen,
            in_string: false,
            escape: false,
            colons: Vec::new(),
            row_colons: 0,
            closed: Vec::new(),
            stop: None,
        }
    }

    /// Reads on to where the list ends (or a guessed row starts); `buf` holds the file from
    /// `base` on, `done` bytes of it are read.
    fn run(
        &mut self,
        input: &mut impl Read,
        chunk: usize,
        mut buf: Window,
        mut base: u64,
        mut done: usize,
        row: &mut impl FnMut(Row<'_>) -> Option<()>,
    ) -> Option<Ending> {
        loop {
            let step = self.feed(buf.get(), base, done);
            self.take(buf.get(), base, row)?;
            match step {
                Step::Go => {}
                Step::End(end) => {
                    let mut tail = buf.get()[(end - base) as usize..].to_vec();
                    input.read_to_end(&mut tail).ok()?;
                    return Some(Ending::Tail(tail));
                }
                Step::Split => return Some(Ending::Split),
                Step::Fail => return None,
            }
            // Keep the open row (and what precedes it since the last row), read on.
            let keep = (self.after - base) as usize;
            buf.drop_front(keep);
            base = self.after;
            done = buf.get().len();
            if buf.fill(input, chunk)? == 0 {
                return None; // the file ends inside the list
            }
        }
    }
}

/// Files smaller than this are read by one thread.
pub(crate) const HALVES_FROM: u64 = 8 << 20;

/// [`stream_list_by`] of an open file, `chunk` bytes a read, by two threads when it holds at
/// least `from` bytes: the second reads from the first row that seems to start after the middle
/// (a `}`, a comma and a `{`, with white space between), handing its rows to `second`, while the
/// first reads up to there, handing its rows to `first`. The guess holds when the first thread,
/// reading from the start, finds a row starting exactly there: then both read exactly what one
/// thread would have. When it does not (the guess was inside a string or a nested value), the
/// first thread reads on to the end alone and what the second read is dropped. With the list,
/// whether the second thread's rows count (they follow the first's).
pub(crate) fn stream_list_halves<A, B>(
    file: &std::fs::File,
    chunk: usize,
    from: u64,
    find: impl FnMut(&[u8]) -> Option<usize>,
    first: A,
    second: B,
) -> Option<(Around, bool)>
where
    A: FnMut(Row<'_>) -> Option<()>,
    B: FnMut(Row<'_>) -> Option<()> + Send,
{
    let len = file.metadata().ok()?.len();
    let middle = (len >= from.max(2)).then_some(len / 2);
    stream_list_from(file, chunk, middle, find, first, second)
}

/// [`stream_list_halves`], the second thread reading from the first row that seems to start
/// after `middle` (with none, one thread reads it all).
fn stream_list_from<A, B>(
    file: &std::fs::File,
    chunk: usize,
    middle: Option<u64>,
    find: impl FnMut(&[u8]) -> Option<usize>,
    mut first: A,
    mut second: B,
) -> Option<(Around, bool)>
where
    A: FnMut(Row<'_>) -> Option<()>,
    B: FnMut(Row<'_>) -> Option<()> + Send,
{
    let guess = middle.and_then(|middle| guess_row(file, middle));
    let Some((close, open)) = guess else {
        let around = stream_list_by(&mut At { file, pos: 0 }, chunk, find, first)?;
        return Some((around, false));
    };
    std::thread::scope(|scope| {
        let later = scope.spawn(move || {
            let mut input = At {
                file,
                pos: close + 1,
            };
            let mut buf = Window::default();
            buf.fill(&mut input, chunk)?;
            let mut s = Splitter::at(close + 1, true);
            match s.run(&mut input, chunk, buf, close + 1, 0, &mut second)? {
                Ending::Tail(tail) => Some(tail),
                Ending::Split => None,
            }
        });
        let earlier = stream_until(
            &mut At { file, pos: 0 },
            chunk,
            find,
            Some(open),
            &mut first,
        );
        let tail = later
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        match earlier? {
            (head, Ending::Tail(tail)) => Some((Around { head, tail }, false)),
            (head, Ending::Split) => Some((Around { head, tail: tail? }, true)),
        }
    })
}

/// Where a row seems to start after `middle`: a `}`, a comma and a `{` with only white space
/// between, in the 64 KiB from there. The `}`'s and the `{`'s positions.
fn guess_row(file: &std::fs::File, middle: u64) -> Option<(u64, u64)> {
    let mut window = Vec::new();
    (&mut At { file, pos: middle })
        .take(64 << 10)
        .read_to_end(&mut window)
        .ok()?;
    let blank = |c: &u8| matches!(c, b' ' | b'\n' | b'\r' | b'\t');
    let mut from = 0;
    while let Some(i) = memchr::memchr(b'}', &window[from..]).map(|i| from + i) {
        let mut j = i + 1;
        while window.get(j).is_some_and(blank) {
            j += 1;
        }
        if window.get(j) == Some(&b',') {
            j += 1;
            while window.get(j).is_some_and(blank) {
                j += 1;
            }
            if window.get(j) == Some(&b'{') {
                return Some((middle + i as u64, middle + j as u64));
            }
        }
        from = i + 1;
    }
    None
}

/// A file read from `pos` on without moving its own position, so that two threads can read
/// one open file (the one that was opened, even when it has been replaced since).
struct At<'f> {
    file: &'f std::fs::File,
    pos: u64,
}

impl Read for At<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        #[cfg(unix)]
        let n = std::os::unix::fs::FileExt::read_at(self.file, buf, self.pos)?;
        #[cfg(windows)]
        let n = std::os::windows::fs::FileExt::seek_read(self.file, buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// The bytes of `file` at each of `spans` (rows [`stream_list_halves`] handed over). The file
/// that was streamed, still open: a workspace replaced since (by an apply's atomic rename) is
/// not mixed in.
pub(crate) fn read_spans(
    mut file: &std::fs::File,
    spans: impl Iterator<Item = Range<u64>>,
) -> std::io::Result<Vec<Vec<u8>>> {
    use std::io::{Seek, SeekFrom};
    spans
        .map(|span| {
            let mut out = vec![0; (span.end - span.start) as usize];
            file.seek(SeekFrom::Start(span.start))?;
            file.read_exact(&mut out)?;
            Ok(out)
        })
        .collect()
}

/// The bytes of a file read and not yet dropped: `bytes[..len]`. The bytes past `len` are
/// overwritten by the next read, so that a read does not zero its space first.
#[derive(Default)]
struct Window {
    bytes: Vec<u8>,
    len: usize,
}

impl Window {
    fn get(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Appends up to `chunk` bytes of `input` (fewer only at its end); how many.
    fn fill(&mut self, input: &mut impl Read, chunk: usize) -> Option<usize> {
        let end = self.len + chunk;
        if self.bytes.len() < end {
            self.bytes.resize(end, 0);
        }
        let mut n = 0;
        while n < chunk {
            match input.read(&mut self.bytes[self.len + n..end]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
        self.len += n;
        Some(n)
    }

    /// Drops the first `n` bytes.
    fn drop_front(&mut self, n: usize) {
        self.bytes.copy_within(n..self.len, 0);
        self.len -= n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each row as text with whether it is plain, read `chunk` bytes at a time.
    fn rows(json: &str, chunk: usize) -> Option<(Vec<(String, bool)>, Around)> {
        let mut out = Vec::new();
        let around = stream_list_by(
            &mut json.as_bytes(),
            chunk,
            |b| b.iter().position(|&c| c == b'['),
            |r| {
                let text = String::from_utf8(r.bytes.to_vec()).unwrap();
                assert_eq!(&json[r.start as usize..][..text.len()], text);
                out.push((text, r.plain));
                Some(())
            },
        )?;
        Some((out, around))
    }

    #[test]
    fn splits_rows_wherever_blocks_and_reads_end_and_marks_the_ones_with_escapes() {
        for pad in 0..70 {
            let p = " ".repeat(pad);
            let json = format!(
                "{p}{{\"rows\": [{{\"a\":\"x{{]:\"}},\n {{\"b\":\"q\\\"}}\"}},{{\"c\":[1,{{}}]}},{{}} ,{{\"d\":\"{p}\"}}]}}{p}"
            );
            let want = [
                ("{\"a\":\"x{]:\"}".to_owned(), true),
                ("{\"b\":\"q\\\"}\"}".to_owned(), false),
                ("{\"c\":[1,{}]}".to_owned(), true),
                ("{}".to_owned(), true),
                (format!("{{\"d\":\"{p}\"}}"), true),
            ];
            for chunk in [1, 7, 64, 1000] {
                let (got, around) = rows(&json, chunk).unwrap();
                assert_eq!(got, want, "pad {pad}, {chunk} bytes a read");
                assert_eq!(around.head, format!("{p}{{\"rows\": ").as_bytes());
                assert_eq!(around.tail, format!("}}{p}").as_bytes());
            }
        }
        assert_eq!(rows("[]", 1).unwrap().0, []);
        assert_eq!(rows(" [ \n ] ", 3).unwrap().0, []);
    }

    /// Rows as text, whether each is plain.
    type Rows = Vec<(String, bool)>;

    /// Rows as text read by two threads, the second from the first row that seems to start
    /// after `middle`; whether it did.
    fn rows_in_halves(
        file: &std::fs::File,
        chunk: usize,
        middle: u64,
    ) -> Option<(Rows, Around, bool)> {
        let (mut earlier, mut later) = (Vec::new(), Vec::new());
        let text = |r: Row<'_>| (String::from_utf8(r.bytes.to_vec()).unwrap(), r.plain);
        let (around, halves) = stream_list_from(
            file,
            chunk,
            Some(middle),
            |b| b.iter().position(|&c| c == b'['),
            |r| {
                earlier.push(text(r));
                Some(())
            },
            |r| {
                later.push(text(r));
                Some(())
            },
        )?;
        if halves {
            earlier.extend(later);
        }
        Some((earlier, around, halves))
    }

    #[test]
    fn two_threads_read_the_same_rows_as_one_wherever_the_second_starts() {
        // Rows that look like they end where they do not: in strings, in nested values.
        let row = |i: usize| match i % 4 {
            0 => format!("{{\"id\":\"{i}\",\"n\":\"a}}, {{b\"}}"),
            1 => format!("{{\"id\":{i},\"x\":{{\"y\":[{{\"z\":1}},{{\"z\":2}}]}}}}"),
            2 => format!("{{\"id\":\"{i}\",\"q\":\"\\\"}},{{\\\"\"}}"),
            _ => format!("{{\"id\":\"{i}\"}}"),
        };
        let list: Vec<String> = (0..12).map(row).collect();
        let docs = [
            format!("{{\"rows\": [{}] , \"n\": 1}}", list.join(",")),
            format!("[\n  {}\n]\n", list.join(" ,\n  ")),
            // Cut short, or not a list of rows after the middle: both give up.
            format!("[{}", list.join(",")),
            format!("[{}, 7]", list.join(",")),
        ];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rows.json");
        let mut split = 0;
        for doc in &docs {
            std::fs::write(&path, doc).unwrap();
            let file = std::fs::File::open(&path).unwrap();
            let one = rows(doc, 64);
            for middle in 0..doc.len() as u64 + 2 {
                for chunk in [3, 64] {
                    let two = rows_in_halves(&file, chunk, middle);
                    split += usize::from(two.as_ref().is_some_and(|t| t.2));
                    assert_eq!(
                        two.map(|(r, a, _)| (r, a)),
                        one,
                        "from {middle}, {chunk} bytes a read: {doc}"
                    );
                }
            }
        }
        assert!(split > 100, "the second thread read its half {split} times");
    }

    #[test]
    fn gives_up_on_a_list_of_anything_but_objects() {
        for json in [
            "[1,{}]",
            "[{},2]",
            "[\"a\"]",
            "[{},,{}]",
            "[{}{}]",
            "[[]]",
            "[{}",
            "[{\"a\":1}",
            "{}",
            "[{},]",
        ] {
            assert!(rows(json, 4).is_none(), "{json}");
        }
    }

    #[test]
    fn first_members_stop_at_the_first_of_each_and_members_read_the_last() {
        let json = r#"[{"x":1,"email":"a@x","id":"7","email":"b@x","id":{"not":"read"}}]"#;
        let wanted = |key: &[u8]| match key {
            b"id" => Some(0),
            b"email" => Some(1),
            _ => None,
        };
        let (mut first, mut last) = (Vec::new(), None);
        stream_list_by(
            &mut json.as_bytes(),
            CHUNK,
            |_| Some(0),
            |r| {
                let mut out: [Option<Value<'_>>; 2] = Default::default();
                r.first_members(&mut KeyHints::default(), wanted, &mut out)?;
                first = out.iter().map(|v| format!("{v:?}")).collect();
                // Every key: the second `id` is an object, which is not read.
                last = Some(
                    r.members(&mut KeyHints::default(), wanted, &mut out)
                        .is_none(),
                );
                Some(())
            },
        )
        .unwrap();
        assert_eq!(
            first,
            [r#"Some(Text([55]))"#, r#"Some(Text([97, 64, 120]))"#]
        );
        assert_eq!(
            last,
            Some(true),
            "members reads every key, the last `id` too"
        );
    }

    #[test]
    fn reads_a_member_of_a_plain_row_as_the_skimmer_does() {
        let json = r#"[{"id":"1","n":"a"},{"x":"id","id" : 22 ,"n":null},{"id":"3","id":"4"},
            {"n":"id"},{"id":true},{"id": "  ", "xid":"9"},{"id":{"a":1}},{"id":x}]"#;
        let mut got = Vec::new();
        stream_list_by(
            &mut json.as_bytes(),
            CHUNK,
            |_| Some(0),
            |r| {
                let v = r.member(b"id");
                got.push(match v {
                    Some(Some(Value::Text(t) | Value::Number(t))) => {
                        Some(Some(String::from_utf8(t.to_vec()).unwrap()))
                    }
                    Some(Some(Value::Bool(b))) => Some(Some(b.to_string())),
                    Some(Some(Value::Null)) => Some(None),
                    Some(None) => Some(Some("-".to_owned())),
                    None => None,
                });
                if r.bytes.starts_with(br#"{"x""#) {
                    assert_eq!(r.member(b"n"), Some(Some(Value::Null)));
                }
                Some(())
            },
        )
        .unwrap();
        let s = |v: &str| Some(Some(v.to_owned()));
        assert_eq!(
            got,
            [
                s("1"),
                s("22"),
                s("4"),
                s("-"),
                s("true"),
                s("  "),
                None,
                None
            ],
            "the value \"id\" is not a key; a later key wins; an object or a bare word is not read"
        );
    }
}
