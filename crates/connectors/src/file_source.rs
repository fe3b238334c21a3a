//! The `file` source: a JSON, CSV or YAML export of an HR or roster system (AFAS, PMT, anything
//! without a public API), with its column names in the configuration.
//!
//! An export has one row per person, or — as HR systems write it — one row per employment, ended
//! ones included; rows with the same identifier make one [`Person`] with one [`Employment`] per
//! distinct row. A fetch reads the whole file and returns either
//! a complete snapshot or an error that names the file, the row and the column — never part of it.
//!
//! Exports of a large organisation run to a million rows, so the JSON and YAML readers do not build
//! a generic value per row: a serde seed picks only the configured keys into fixed slots, borrowing
//! from the input where it can, and every row is merged as soon as it is read.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use jiff::civil::Date;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{ConnectorError, Source};
use crate::skim::{Scalar, Skim};
use crate::split;
use orgsync_core::config::{Columns, FileFormat, FileSourceConfig};
use orgsync_core::focus::{Keys, SourcePart};
use orgsync_core::identity;
use orgsync_core::model::{Employment, Person, SourceGroup, SourceSnapshot};

/// Reads people from an export file.
#[derive(Debug, Clone)]
pub struct FileSource {
    path: PathBuf,
    cfg: FileSourceConfig,
}

impl FileSource {
    /// A source reading `cfg.path`, relative to the configuration directory `dir`. Nothing is
    /// read until [`Source::fetch`].
    pub fn new(dir: &Path, cfg: &FileSourceConfig) -> FileSource {
        FileSource {
            path: dir.join(&cfg.path),
            cfg: cfg.clone(),
        }
    }

    /// The export's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn format(&self) -> Result<FileFormat, ConnectorError> {
        if let Some(f) = self.cfg.format {
            return Ok(f);
        }
        let ext = self
            .path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("json") => Ok(FileFormat::Json),
            Some("csv") => Ok(FileFormat::Csv),
            Some("yaml") | Some("yml") => Ok(FileFormat::Yaml),
            _ => Err(self.file_error(
                "cannot tell the export's format from its extension: set `source.format` to \
                 json, csv or yaml",
            )),
        }
    }

    fn display(&self) -> String {
        self.path.display().to_string()
    }

    fn file_error(&self, message: impl Into<String>) -> ConnectorError {
        ConnectorError::File {
            path: self.display(),
            message: message.into(),
        }
    }

    fn data_error(&self, line: usize, message: impl Into<String>) -> ConnectorError {
        ConnectorError::Data {
            path: self.display(),
            line,
            message: message.into(),
        }
    }

    fn delimiter(&self) -> Result<u8, ConnectorError> {
        match self.cfg.delimiter.as_deref() {
            None => Ok(b','),
            Some("\\t") | Some("tab") => Ok(b'\t'),
            Some(d) if d.len() == 1 => Ok(d.as_bytes()[0]),
            Some(d) => Err(self.file_error(format!(
                "`source.delimiter` must be one ASCII character, not `{d}`"
            ))),
        }
    }

    fn read_json(&self, bytes: &[u8], layout: &Layout) -> Result<SourceSnapshot, ConnectorError> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        // Validating the whole file once is cheaper than validating every string in it.
        let text = std::str::from_utf8(bytes)
            .map_err(|e| self.file_error(format!("not UTF-8 ({e}): save the export as UTF-8")))?;
        let mut state = ReadState::new(layout);
        let mut de = serde_json::Deserializer::from_str(text);
        let result = DocSeed {
            state: &mut state,
            records: self.cfg.records.as_deref(),
            yaml: false,
        }
        .deserialize(&mut de)
        .and_then(|()| de.end());
        match result {
            Ok(()) => Ok(state.builder.finish()),
            Err(e) => Err(self.data_error(e.line(), state.message(&e.to_string()))),
        }
    }

    fn read_yaml(&self, bytes: &[u8], layout: &Layout) -> Result<SourceSnapshot, ConnectorError> {
        let text = std::str::from_utf8(bytes)
            .map_err(|e| self.file_error(format!("not UTF-8 ({e}): save the export as UTF-8")))?;
        // The default budget is sized for configuration files. An export is data: let it grow
        // with the input, which still bounds the work per byte (anchors and aliases keep their
        // default limits against YAML bombs).
        let mut budget = serde_saphyr::Budget::default();
        budget.max_events = budget.max_events.max(text.len());
        budget.max_nodes = budget.max_nodes.max(text.len());
        budget.max_total_scalar_bytes = budget.max_total_scalar_bytes.max(text.len());
        let mut options = serde_saphyr::Options::default();
        options.budget = Some(budget);
        let mut state = ReadState::new(layout);
        let records = self.cfg.records.as_deref();
        let result = serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| {
            DocSeed {
                state: &mut state,
                records,
                yaml: true,
            }
            .deserialize(de)
        });
        match result {
            Ok(()) => Ok(state.builder.finish()),
            Err(e) => {
                let line = e.location().map_or(0, |l| l.line() as usize);
                Err(self.data_error(line, state.message(&e.without_snippet().to_string())))
            }
        }
    }

    fn read_csv(&self, bytes: &[u8], layout: &Layout) -> Result<SourceSnapshot, ConnectorError> {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(self.delimiter()?)
            .has_headers(true)
            .from_reader(bytes);
        let csv_error = |e: csv::Error, row: Option<usize>| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            let message = match e.kind() {
                csv::ErrorKind::Utf8 { .. } => format!("{e}: save the export as UTF-8"),
                _ => e.to_string(),
            };
            match row {
                Some(row) => self.data_error(line, format!("row {row}: {message}")),
                None => self.data_error(line, message),
            }
        };
        let headers = reader.headers().map_err(|e| csv_error(e, None))?.clone();
        // Header index of each slot (the first matching header wins).
        let mut slot_col: Vec<Option<usize>> = vec![None; layout.slot_names.len()];
        for (i, header) in headers.iter().enumerate() {
            if let Some(k) = layout.lookup(header.trim()) {
                for &slot in &layout.keys[k].1 {
                    slot_col[slot].get_or_insert(i);
                }
            }
        }
        if slot_col[ID].is_none() {
            let found: Vec<&str> = headers.iter().map(str::trim).collect();
            return Err(self.data_error(
                1,
                format!(
                    "the header has no column `{}` (the person's identifier, `columns.id`); \
                     it has: {}",
                    layout.slot_names[ID],
                    found.join(", ")
                ),
            ));
        }
        let mut builder = Builder::new(layout);
        let mut record = csv::StringRecord::new();
        let mut row = 0;
        loop {
            match reader.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(csv_error(e, Some(row + 1))),
            }
            row += 1;
            let cells = |slot: usize| slot_col[slot].and_then(|i| record.get(i));
            if let Err(e) = builder.add_row(cells, row, None) {
                let line = record.position().map_or(0, |p| p.line() as usize);
                return Err(self.data_error(line, e.to_string()));
            }
        }
        Ok(builder.finish())
    }
}

impl Source for FileSource {
    fn part(&mut self) -> Result<Option<Box<dyn SourcePart>>, ConnectorError> {
        Ok(FileSourcePart::skim(self)?.map(|p| Box::new(p) as Box<dyn SourcePart>))
    }

    fn fetch(&mut self) -> Result<SourceSnapshot, ConnectorError> {
        let format = self.format()?;
        let bytes = std::fs::read(&self.path)
            .map_err(|e| self.file_error(format!("cannot read the export: {e}")))?;
        let layout = Layout::new(&self.cfg.columns, self.cfg.date_format.as_deref());
        match format {
            FileFormat::Json => self.read_json(&bytes, &layout),
            FileFormat::Csv => self.read_csv(&bytes, &layout),
            FileFormat::Yaml => self.read_yaml(&bytes, &layout),
        }
    }
}

/// The column layout of [`RowMerger`]: which configured column fills which field.
pub struct RowLayout(Layout);

impl RowLayout {
    /// The layout for `columns`; dates are ISO 8601 (a time part is ignored) unless
    /// `date_format` (a strftime pattern) says otherwise.
    pub fn new(columns: &Columns, date_format: Option<&str>) -> RowLayout {
        RowLayout(Layout::new(columns, date_format))
    }
}

impl fmt::Debug for RowLayout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RowLayout")
            .field("columns", &self.0.slot_names)
            .finish()
    }
}

/// Merges rows from several JSON documents (the pages of an API) into one snapshot, exactly as
/// the file source merges the rows of one export: rows with the same identifier become one
/// [`Person`], and for a person's own fields the first row with a value wins — so feed the
/// documents in order.
pub struct RowMerger<'l> {
    state: ReadState<'l>,
}

impl fmt::Debug for RowMerger<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RowMerger")
            .field("persons", &self.state.builder.persons.len())
            .finish()
    }
}

impl<'l> RowMerger<'l> {
    /// An empty merger.
    pub fn new(layout: &'l RowLayout) -> RowMerger<'l> {
        RowMerger {
            state: ReadState::new(&layout.0),
        }
    }

    /// Merges the rows of one JSON document: an object whose key `records` holds the list of
    /// rows (AFAS: `rows`). Returns the number of rows read. An error names the row (counted
    /// from 1 within this document) and the column.
    pub fn add_json(&mut self, json: &[u8], records: &str) -> Result<usize, String> {
        self.state.failure = None;
        self.state.row = None;
        self.state.no_rows = None;
        self.state.rows_read = 0;
        let mut de = serde_json::Deserializer::from_slice(json);
        let result = DocSeed {
            state: &mut self.state,
            records: Some(records),
            yaml: false,
        }
        .deserialize(&mut de)
        .and_then(|()| de.end());
        match result {
            Ok(()) => Ok(self.state.rows_read),
            Err(e) => Err(self.state.message(&e.to_string())),
        }
    }

    /// The merged snapshot (groups sorted by identifier).
    pub fn finish(self) -> SourceSnapshot {
        self.state.builder.finish()
    }
}

// Slots: the fields of a row, in a fixed order; attributes follow from `FIXED` on.
const ID: usize = 0;
const EMAIL: usize = 1;
const FIRST_NAME: usize = 2;
const LAST_NAME: usize = 3;
const LAST_NAME_PREFIX: usize = 4;
const START: usize = 5;
const END: usize = 6;
const COMMUNITY: usize = 7;
const COMMUNITY_NAME: usize = 8;
const FUNCTION: usize = 9;
const FUNCTION_NAME: usize = 10;
const DEPARTMENT: usize = 11;
const DEPARTMENT_NAME: usize = 12;
const MANAGER: usize = 13;
const FIXED: usize = 14;

/// Which column fills which slot.
struct Layout {
    /// Distinct column names and the slots each fills (one column may feed several fields).
    keys: Vec<(String, Vec<usize>)>,
    /// The column name of each slot, for messages (empty when unset).
    slot_names: Vec<String>,
    /// Attribute names, for slots `FIXED..`.
    attributes: Vec<String>,
    /// strftime pattern of dates, when not ISO.
    date_format: Option<String>,
}

impl Layout {
    fn new(columns: &Columns, date_format: Option<&str>) -> Layout {
        let mut slot_names = vec![
            columns.id.clone(),
            columns.email.clone(),
            columns.first_name.clone(),
            columns.last_name.clone(),
            columns.last_name_prefix.clone().unwrap_or_default(),
            columns.start.clone(),
            columns.end.clone(),
            columns.community.clone(),
            columns.community_name.clone().unwrap_or_default(),
            columns.function.clone().unwrap_or_default(),
            columns.function_name.clone().unwrap_or_default(),
            columns.department.clone().unwrap_or_default(),
            columns.department_name.clone().unwrap_or_default(),
            columns.manager.clone().unwrap_or_default(),
        ];
        debug_assert_eq!(slot_names.len(), FIXED);
        let mut attributes = Vec::new();
        for (name, column) in &columns.attributes {
            attributes.push(name.clone());
            slot_names.push(column.clone());
        }
        let mut keys: Vec<(String, Vec<usize>)> = Vec::new();
        for (slot, name) in slot_names.iter().enumerate() {
            if name.is_empty() {
                continue;
            }
            match keys.iter_mut().find(|(k, _)| k == name) {
                Some((_, slots)) => slots.push(slot),
                None => keys.push((name.clone(), vec![slot])),
            }
        }
        Layout {
            keys,
            slot_names,
            attributes,
            date_format: date_format.map(str::to_owned),
        }
    }

    /// Index into `keys` of a column name. A linear scan: there are about fifteen columns, and
    /// comparing short strings beats hashing them.
    fn lookup(&self, column: &str) -> Option<usize> {
        self.keys.iter().position(|(k, _)| k == column)
    }

    fn parse_date(&self, value: &str) -> Result<Date, String> {
        match &self.date_format {
            Some(format) => Date::strptime(format, value)
                .map_err(|_| format!("`{value}` is not a date (expected `{format}`)")),
            None => parse_iso_date(value).ok_or_else(|| {
                format!(
                    "`{value}` is not a date (expected YYYY-MM-DD; set `source.date_format` for \
                     another layout)"
                )
            }),
        }
    }
}

/// `YYYY-MM-DD`, optionally followed by a time (`T…` or ` …`) that is ignored: AFAS writes
/// `2024-01-01T00:00:00Z` for a date that is local to Amsterdam, so the `Z` must not shift it.
fn parse_iso_date(value: &str) -> Option<Date> {
    let b = value.as_bytes();
    if b.len() < 10 || (b.len() > 10 && !matches!(b[10], b'T' | b't' | b' ')) {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<i32> {
        b[r].iter().try_fold(0i32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + i32::from(c - b'0'))
        })
    };
    if b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    Date::new(
        i16::try_from(y).ok()?,
        i8::try_from(m).ok()?,
        i8::try_from(d).ok()?,
    )
    .ok()
}

/// A problem with one row.
#[derive(Debug)]
struct RowError {
    row: usize,
    column: Option<String>,
    message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(c) => write!(f, "row {}, column {}: {}", self.row, c, self.message),
            None => write!(f, "row {}: {}", self.row, self.message),
        }
    }
}

/// FxHash (rustc's hasher): much faster than SipHash on short identifiers. An export is not
/// adversarial input to a long-running service, so HashDoS resistance buys nothing here.
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl FxHasher {
    /// Mixes in one word.
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0xf135_7aea_2e62_a9c5);
    }

    /// What [`std::hash::Hasher::write`] mixes in for `bytes`: each whole word, then the rest
    /// (zero-padded) with its length. [`email_hash`] does the same with each word lower-cased.
    #[inline]
    fn words(bytes: &[u8]) -> (std::slice::ChunksExact<'_, u8>, u64, u64) {
        let chunks = bytes.chunks_exact(8);
        let rest = chunks.remainder();
        let mut tail = [0u8; 8];
        tail[..rest.len()].copy_from_slice(rest);
        (chunks, u64::from_le_bytes(tail), rest.len() as u64)
    }
}

/// A whole word of [`FxHasher::words`].
#[inline]
fn word(c: &[u8]) -> u64 {
    c.first_chunk::<8>().map_or(0, |w| u64::from_le_bytes(*w))
}

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let (chunks, tail, len) = FxHasher::words(bytes);
        for c in chunks {
            self.add(word(c));
        }
        self.add(tail ^ len);
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn finish(&self) -> u64 {
        // Spread the entropy into the high bits, which hashbrown uses for its control bytes.
        let h = self.0;
        (h ^ (h >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9) ^ (h >> 32)
    }
}

type FxBuild = std::hash::BuildHasherDefault<FxHasher>;
type FxMap<K, V> = HashMap<K, V, FxBuild>;

pub(crate) fn fx_hash(s: &str) -> u64 {
    fx_hash_bytes(s.as_bytes())
}

/// [`fx_hash`] of text not checked to be UTF-8.
pub(crate) fn fx_hash_bytes(b: &[u8]) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = FxBuild::default().build_hasher();
    h.write(b);
    h.finish()
}

/// [`fx_hash`] of the address's [`identity::email_key`] (`None` for a blank one, or one that is
/// not UTF-8). An ASCII address that needs no trimming is lower-cased and hashed eight bytes at a
/// time, as [`FxHasher::write`] hashes the lower-cased copy, without making one.
pub(crate) fn email_hash(email: &[u8]) -> Option<u64> {
    use std::hash::Hasher;
    // `str::trim`'s ASCII white space, and anything past ASCII, at either end: the long way.
    let plain = |c: &u8| !matches!(c, b'\t'..=b'\r' | b' ' | 0x80..);
    if !(email.first().is_some_and(plain) && email.last().is_some_and(plain)) {
        return email_key_hash(email);
    }
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let ones = |b: u8| u64::from_le_bytes([b; 8]);
    // Each upper-case ASCII letter of `w` (no byte past ASCII) with bit 0x20 set: the sums do not
    // carry out of a byte, so each byte's top bit says whether it is at least `A`, above `Z`.
    let lower = |w: u64| {
        let at_least_a = w.wrapping_add(ones(0x80 - b'A'));
        let above_z = w.wrapping_add(ones(0x7f - b'Z'));
        w | ((at_least_a & !above_z & HIGH) >> 2)
    };
    let mut h = FxHasher::default();
    let (chunks, tail, len) = FxHasher::words(email);
    for c in chunks {
        let w = word(c);
        if w & HIGH != 0 {
            return email_key_hash(email);
        }
        h.add(lower(w));
    }
    if tail & HIGH != 0 {
        return email_key_hash(email);
    }
    h.add(lower(tail) ^ len);
    Some(h.finish())
}

fn email_key_hash(email: &[u8]) -> Option<u64> {
    let e = std::str::from_utf8(email).ok()?;
    identity::email_key(e).map(|k| fx_hash(&k))
}

/// Person index by identifier, without a second copy of every identifier: keyed by the
/// identifier's hash and checked against the person, with the rare colliding identifiers in a
/// map of their own.
#[derive(Default)]
struct IdIndex {
    by_hash: FxMap<u64, usize>,
    collided: FxMap<Box<str>, usize>,
}

impl IdIndex {
    fn get(&self, id: &str, persons: &[Person]) -> Option<usize> {
        match self.by_hash.get(&fx_hash(id)) {
            Some(&i) if persons[i].id == id => Some(i),
            Some(_) => self.collided.get(id).copied(),
            None => None,
        }
    }

    /// Records a new identifier (one `get` returned `None` for).
    fn insert(&mut self, id: &str, i: usize) {
        match self.by_hash.entry(fx_hash(id)) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(i);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.collided.insert(Box::from(id), i);
            }
        }
    }
}

/// Source groups seen so far, by identifier. Identifiers are stored once per snapshot, however
/// many rows name them.
#[derive(Default)]
struct Groups {
    /// Identifiers of up to seven bytes (most are: `1001`, `F-MGR`), as one word ([`short`]);
    /// each map gives a group's index in `groups`, with [`NAMED`] once it has its name.
    short: FxMap<u64, usize>,
    /// Longer ones by their hash, checked against the group; identifiers whose hash an earlier
    /// one has, by themselves.
    index: FxMap<u64, usize>,
    collided: FxMap<Box<[u8]>, usize>,
    groups: Vec<(Box<str>, Option<Box<str>>)>,
}

/// In the maps of [`Groups`], beside a group's index: the group has its name.
const NAMED: usize = 1 << (usize::BITS - 1);

impl Groups {
    fn see(&mut self, id: &str, name: Option<&str>) {
        // A `str` is UTF-8: this does not give up.
        let _ = self.see_with(id.as_bytes(), || Some(name));
    }

    /// [`Groups::see`], the name asked for only while the group has none; `None` when `name`
    /// gives up, or a new identifier is not UTF-8.
    fn see_with<'n>(
        &mut self,
        id: &[u8],
        name: impl FnOnce() -> Option<Option<&'n str>>,
    ) -> Option<()> {
        let word = short(id);
        let hash = if word.is_some() { 0 } else { fx_hash_bytes(id) };
        let found = match word {
            Some(word) => self.short.get_mut(&word),
            None => match self.index.get_mut(&hash) {
                Some(i) if split::same(self.groups[*i & !NAMED].0.as_bytes(), id) => Some(i),
                Some(_) => self.collided.get_mut(id),
                None => None,
            },
        };
        match found {
            // Named: most rows, told apart without looking at the group.
            Some(i) if *i & NAMED != 0 => {}
            Some(i) => {
                let named = name()?.map(Box::from);
                if named.is_some() {
                    self.groups[*i].1 = named;
                    *i |= NAMED;
                }
            }
            None => {
                let text = std::str::from_utf8(id).ok()?;
                let name = name()?.map(Box::from);
                let i = self.groups.len() | if name.is_some() { NAMED } else { 0 };
                if let Some(word) = word {
                    self.short.insert(word, i);
                } else {
                    match self.index.entry(hash) {
                        std::collections::hash_map::Entry::Vacant(v) => {
                            v.insert(i);
                        }
                        std::collections::hash_map::Entry::Occupied(_) => {
                            self.collided.insert(Box::from(id), i);
                        }
                    }
                }
                self.groups.push((Box::from(text), name));
            }
        }
        Some(())
    }

    /// Sorted by identifier; a group that never had a name is named after its identifier.
    fn finish(self) -> Vec<SourceGroup> {
        let mut out: Vec<SourceGroup> = self
            .groups
            .into_iter()
            .map(|(id, name)| {
                let id = String::from(id);
                let name = name.map_or_else(|| id.clone(), String::from);
                SourceGroup { id, name }
            })
            .collect();
        out.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        out
    }
}

/// An identifier of up to seven bytes as one word: its bytes, then its length in the last byte
/// (so that no two identifiers share a word).
fn short(id: &[u8]) -> Option<u64> {
    // Built from loads that overlap where the length is not a power of two (each byte lands at
    // its own place either way), not by a copy into a buffer, which costs a call and a stalled
    // load on every row.
    let n = id.len();
    let at = |i: usize, bytes: u64| bytes << (8 * i);
    let four = |i: usize| {
        id[i..]
            .first_chunk::<4>()
            .map_or(0, |w| at(i, u64::from(u32::from_le_bytes(*w))))
    };
    let bytes = match n {
        0 => 0,
        1..=3 => {
            at(0, u64::from(id[0]))
                | at(n / 2, u64::from(id[n / 2]))
                | at(n - 1, u64::from(id[n - 1]))
        }
        4..=7 => four(0) | four(n - 4),
        _ => return None,
    };
    Some(bytes | at(7, n as u64))
}

/// Merges rows into people as they are read.
struct Builder<'l> {
    layout: &'l Layout,
    persons: Vec<Person>,
    by_id: IdIndex,
    communities: Groups,
    functions: Groups,
    departments: Groups,
}

fn fill(slot: &mut String, value: Option<&str>) {
    if slot.is_empty()
        && let Some(v) = value
    {
        v.clone_into(slot);
    }
}

impl<'l> Builder<'l> {
    fn new(layout: &'l Layout) -> Builder<'l> {
        Builder {
            layout,
            persons: Vec::new(),
            by_id: IdIndex::default(),
            communities: Groups::default(),
            functions: Groups::default(),
            departments: Groups::default(),
        }
    }

    /// Adds one row; `cell(slot)` is the raw value of a slot. `row` counts data rows from 1.
    /// `dates` are the row's start and end when the caller parsed them already.
    fn add_row<'c>(
        &mut self,
        cell: impl Fn(usize) -> Option<&'c str>,
        row: usize,
        dates: Option<[Option<Date>; 2]>,
    ) -> Result<(), RowError> {
        let get = |slot: usize| cell(slot).map(str::trim).filter(|s| !s.is_empty());
        let layout = self.layout;
        let error = |slot: usize, message: String| RowError {
            row,
            column: Some(layout.slot_names[slot].clone()),
            message,
        };
        let Some(id) = get(ID) else {
            return Err(error(
                ID,
                "no person identifier (the `columns.id` column is missing or empty)".to_owned(),
            ));
        };
        let date = |slot: usize| {
            get(slot)
                .map(|v| layout.parse_date(v).map_err(|m| error(slot, m)))
                .transpose()
        };
        let (start, end) = match dates {
            Some([start, end]) => (start, end),
            None => (date(START)?, date(END)?),
        };

        let community = get(COMMUNITY);
        if let Some(c) = community {
            self.communities.see(c, get(COMMUNITY_NAME));
        }
        let function = get(FUNCTION);
        if let Some(f) = function {
            self.functions.see(f, get(FUNCTION_NAME));
        }
        let department = get(DEPARTMENT);
        if let Some(d) = department {
            self.departments.see(d, get(DEPARTMENT_NAME));
        }

        let last_name = match (get(LAST_NAME_PREFIX), get(LAST_NAME)) {
            (Some(p), Some(l)) => Some(Cow::Owned(format!("{p} {l}"))),
            (p, l) => l.or(p).map(Cow::Borrowed),
        };

        let i = match self.by_id.get(id, &self.persons) {
            Some(i) => i,
            None => {
                let i = self.persons.len();
                self.by_id.insert(id, i);
                self.persons.push(Person {
                    id: id.to_owned(),
                    ..Person::default()
                });
                i
            }
        };
        let p = &mut self.persons[i];
        // For the person's own fields the first row that has a value wins; an e-mail address
        // that another row contradicts is recorded, and the engine holds the person.
        match (&p.email, get(EMAIL)) {
            (None, e) => p.email = e.map(str::to_owned),
            (Some(first), Some(e))
                if !identity::same_email(first, e)
                    && !p
                        .conflicting_emails
                        .iter()
                        .any(|c| identity::same_email(c, e)) =>
            {
                p.conflicting_emails.push(e.to_owned());
            }
            _ => {}
        }
        if p.manager.is_none() {
            p.manager = get(MANAGER).map(str::to_owned);
        }
        fill(&mut p.first_name, get(FIRST_NAME));
        fill(&mut p.last_name, last_name.as_deref());
        // Every row is an employment (ended ones too: scope decides which count today). A row
        // repeated verbatim adds nothing.
        let employment = Employment {
            start,
            end,
            community: community.map(str::to_owned),
            function: function.map(str::to_owned),
            department: department.map(str::to_owned),
        };
        if !p.employments.contains(&employment) {
            // Most people have one employment: without this, the first push reserves four.
            p.employments.reserve_exact(1);
            p.employments.push(employment);
        }
        for (k, name) in layout.attributes.iter().enumerate() {
            if let Some(v) = get(FIXED + k) {
                p.attributes
                    .entry(name.clone())
                    .or_insert_with(|| v.to_owned());
            }
        }
        Ok(())
    }

    fn finish(self) -> SourceSnapshot {
        SourceSnapshot {
            persons: self.persons,
            communities: self.communities.finish(),
            functions: self.functions.finish(),
            departments: self.departments.finish(),
            unlisted: Vec::new(),
            left: Vec::new(),
        }
    }
}

/// What the JSON/YAML reader carries through serde. serde errors cannot carry our row and
/// column, so a row's problem is kept here and the serde error only stops the parse.
struct ReadState<'l> {
    builder: Builder<'l>,
    /// A problem found in a row (bad date, missing id, …).
    failure: Option<RowError>,
    /// The row being read when the parser failed.
    row: Option<usize>,
    /// The file is an object without a list of rows.
    no_rows: Option<String>,
    /// Rows read by the last complete list of rows.
    rows_read: usize,
}

impl<'l> ReadState<'l> {
    fn new(layout: &'l Layout) -> ReadState<'l> {
        ReadState {
            builder: Builder::new(layout),
            failure: None,
            row: None,
            no_rows: None,
            rows_read: 0,
        }
    }

    /// The message for a failed parse whose serde error reads `parser`.
    fn message(&self, parser: &str) -> String {
        if let Some(f) = &self.failure {
            return f.to_string();
        }
        if let Some(m) = &self.no_rows {
            return m.clone();
        }
        match self.row {
            Some(row) => format!("row {row}: {parser}"),
            None => format!("not a valid export: {parser}"),
        }
    }
}

/// The whole document: a list of rows, or an object holding one.
struct DocSeed<'s, 'l> {
    state: &'s mut ReadState<'l>,
    records: Option<&'s str>,
    yaml: bool,
}

impl<'de> DeserializeSeed<'de> for DocSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DocSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of rows, or an object holding the list")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        RowsSeed {
            state: self.state,
            yaml: self.yaml,
        }
        .visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let wanted = self.records.unwrap_or("rows");
        let mut found = false;
        let mut keys = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if key == wanted && !found {
                found = true;
                map.next_value_seed(RowsSeed {
                    state: &mut *self.state,
                    yaml: self.yaml,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
                keys.push(key);
            }
        }
        if !found {
            let hint = if self.records.is_some() {
                "check `source.records`"
            } else {
                "set `source.records` to the key that holds the rows"
            };
            let message = format!(
                "the export is an object without a `{wanted}` list ({hint}); its keys: {}",
                keys.join(", ")
            );
            self.state.no_rows = Some(message.clone());
            return Err(de::Error::custom(message));
        }
        Ok(())
    }
}

/// The list of rows.
struct RowsSeed<'s, 'l> {
    state: &'s mut ReadState<'l>,
    yaml: bool,
}

impl<'de> DeserializeSeed<'de> for RowsSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RowsSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of rows")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let layout = self.state.builder.layout;
        let mut cells: Vec<Option<Cow<'de, str>>> = vec![None; layout.slot_names.len()];
        let mut hints = Vec::new();
        let mut row = 0;
        loop {
            row += 1;
            let seed = RowSeed {
                state: &mut *self.state,
                cells: &mut cells,
                hints: &mut hints,
                row,
                yaml: self.yaml,
            };
            match seq.next_element_seed(seed) {
                Ok(Some(())) => {}
                Ok(None) => {
                    self.state.rows_read = row - 1;
                    return Ok(());
                }
                Err(e) => {
                    self.state.row = Some(row);
                    return Err(e);
                }
            }
        }
    }
}

/// One row object: configured keys go to their slots, the rest is skipped unparsed. The row is
/// merged before the parser leaves it, so an error's line is the row's (for a date: the line of
/// the date itself).
struct RowSeed<'a, 'l, 'de> {
    state: &'a mut ReadState<'l>,
    cells: &'a mut Vec<Option<Cow<'de, str>>>,
    /// What the key at each position was in the previous row.
    hints: &'a mut Vec<Hint>,
    row: usize,
    yaml: bool,
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_, '_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl RowSeed<'_, '_, '_> {
    fn fail<E: de::Error>(&mut self, slot: Option<usize>, message: String) -> E {
        let layout = self.state.builder.layout;
        let e = RowError {
            row: self.row,
            column: slot.map(|s| layout.slot_names[s].clone()),
            message,
        };
        let text = e.to_string();
        self.state.failure = Some(e);
        E::custom(text)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a row object")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let layout = self.state.builder.layout;
        self.cells.iter_mut().for_each(|c| *c = None);
        let mut dates = [None, None];
        let mut position = 0;
        loop {
            if self.hints.len() <= position {
                self.hints.push(Hint::Unknown);
            }
            let hint = &mut self.hints[position];
            position += 1;
            let Some(key) = map.next_key_seed(KeySeed { layout, hint })? else {
                break;
            };
            let Some(k) = key else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let cell = map.next_value_seed(CellSeed { yaml: self.yaml })?;
            for &slot in &layout.keys[k].1 {
                let text = match &cell {
                    Cell::Text(text) => Some(text),
                    Cell::Null => None,
                    Cell::Other(kind) => {
                        let message = format!("expected a text or a number, found {kind}");
                        return Err(self.fail(Some(slot), message));
                    }
                };
                if slot == START || slot == END {
                    // Checked here, while the parser is still on this line.
                    let value = text.map(|t| t.trim()).filter(|t| !t.is_empty());
                    dates[slot - START] = match value.map(|v| layout.parse_date(v)).transpose() {
                        Ok(d) => d,
                        Err(message) => return Err(self.fail(Some(slot), message)),
                    };
                }
                self.cells[slot] = text.cloned();
            }
        }
        let cells = &*self.cells;
        match self
            .state
            .builder
            .add_row(|s| cells[s].as_deref(), self.row, Some(dates))
        {
            Ok(()) => Ok(()),
            Err(e) => {
                let text = e.to_string();
                self.state.failure = Some(e);
                Err(de::Error::custom(text))
            }
        }
    }
}

/// What a key position held in the previous row. Exports write every row's keys in the same
/// order, so checking the previous row's answer first saves a lookup per key.
enum Hint {
    Unknown,
    Column(usize),
    Ignored(Box<str>),
}

/// A row key, resolved to its index in `Layout::keys` without allocating.
struct KeySeed<'a> {
    layout: &'a Layout,
    hint: &'a mut Hint,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a column name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<usize>, E> {
        match &*self.hint {
            Hint::Column(k) if self.layout.keys[*k].0 == v => return Ok(Some(*k)),
            Hint::Ignored(name) if **name == *v => return Ok(None),
            _ => {}
        }
        let found = self.layout.lookup(v);
        *self.hint = match found {
            Some(k) => Hint::Column(k),
            None => Hint::Ignored(Box::from(v)),
        };
        Ok(found)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<usize>, E> {
        Ok(self.layout.lookup(&v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<usize>, E> {
        Ok(self.layout.lookup(&v.to_string()))
    }
}

/// One value of a row.
enum Cell<'de> {
    Text(Cow<'de, str>),
    Null,
    Other(&'static str),
}

/// Reads a cell. JSON numbers and booleans become their text (`1001` → "1001"). YAML scalars are
/// taken as written, so an employee number `007` keeps its zeros.
struct CellSeed {
    yaml: bool,
}

impl<'de> DeserializeSeed<'de> for CellSeed {
    type Value = Cell<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cell<'de>, D::Error> {
        if self.yaml {
            d.deserialize_option(CellVisitor { yaml: true })
        } else {
            d.deserialize_any(CellVisitor { yaml: false })
        }
    }
}

struct CellVisitor {
    yaml: bool,
}

impl<'de> Visitor<'de> for CellVisitor {
    type Value = Cell<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a text or a number")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Cell<'de>, E> {
        Ok(Cell::Text(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Cell<'de>, E> {
        Ok(Cell::Text(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Cell<'de>, E> {
        Ok(Cell::Text(Cow::Owned(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Cell<'de>, E> {
        Ok(Cell::Text(Cow::Owned(v.to_string())))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Cell<'de>, E> {
        Ok(Cell::Text(Cow::Owned(v.to_string())))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Cell<'de>, E> {
        Ok(Cell::Text(Cow::Owned(v.to_string())))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Cell<'de>, E> {
        Ok(Cell::Text(Cow::Borrowed(if v { "true" } else { "false" })))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Cell<'de>, E> {
        Ok(Cell::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Cell<'de>, E> {
        Ok(Cell::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Cell<'de>, D::Error> {
        if self.yaml {
            // A list or mapping under a configured key fails here with the parser's own message.
            d.deserialize_str(self)
        } else {
            d.deserialize_any(self)
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Cell<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Cell::Other("a list"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Cell<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Cell::Other("an object"))
    }
}

// ---------------------------------------------------------------------------------------------
// The export's columns, for `orgsync validate`.

/// The columns of an export: the CSV header, or every key any row of a JSON or YAML export
/// has; with the number of rows. Reads the whole file but keeps no values.
pub fn export_columns(
    dir: &Path,
    cfg: &FileSourceConfig,
) -> Result<(std::collections::BTreeSet<String>, usize), ConnectorError> {
    let source = FileSource::new(dir, cfg);
    let format = source.format()?;
    let bytes = std::fs::read(&source.path)
        .map_err(|e| source.file_error(format!("cannot read the export: {e}")))?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let mut keys = std::collections::BTreeSet::new();
    let mut rows = 0;
    match format {
        FileFormat::Csv => {
            let mut reader = csv::ReaderBuilder::new()
                .delimiter(source.delimiter()?)
                .has_headers(true)
                .from_reader(bytes);
            let headers = reader
                .headers()
                .map_err(|e| source.data_error(1, e.to_string()))?;
            keys.extend(headers.iter().map(|h| h.trim().to_owned()));
            let mut record = csv::StringRecord::new();
            while reader.read_record(&mut record).unwrap_or(false) {
                rows += 1;
            }
        }
        FileFormat::Json | FileFormat::Yaml => {
            let text = std::str::from_utf8(bytes).map_err(|e| {
                source.file_error(format!("not UTF-8 ({e}): save the export as UTF-8"))
            })?;
            let seed = KeysDoc {
                keys: &mut keys,
                rows: &mut rows,
                records: cfg.records.as_deref(),
            };
            let result = if format == FileFormat::Json {
                let mut de = serde_json::Deserializer::from_str(text);
                seed.deserialize(&mut de)
                    .and_then(|()| de.end())
                    .map_err(|e| source.data_error(e.line(), e.to_string()))
            } else {
                let mut budget = serde_saphyr::Budget::default();
                budget.max_events = budget.max_events.max(text.len());
                budget.max_nodes = budget.max_nodes.max(text.len());
                budget.max_total_scalar_bytes = budget.max_total_scalar_bytes.max(text.len());
                let mut options = serde_saphyr::Options::default();
                options.budget = Some(budget);
                serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| {
                    seed.deserialize(de)
                })
                .map_err(|e| {
                    let line = e.location().map_or(0, |l| l.line() as usize);
                    source.data_error(line, e.without_snippet().to_string())
                })
            };
            result?;
        }
    }
    Ok((keys, rows))
}

struct KeysDoc<'s> {
    keys: &'s mut std::collections::BTreeSet<String>,
    rows: &'s mut usize,
    records: Option<&'s str>,
}

impl<'de> DeserializeSeed<'de> for KeysDoc<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeysDoc<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of rows, or an object holding the list")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(KeysRow {
                keys: &mut *self.keys,
            })?
            .is_some()
        {
            *self.rows += 1;
        }
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let wanted = self.records.unwrap_or("rows");
        while let Some(key) = map.next_key::<String>()? {
            if key == wanted {
                map.next_value_seed(KeysDoc {
                    keys: &mut *self.keys,
                    rows: &mut *self.rows,
                    records: None,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct KeysRow<'s> {
    keys: &'s mut std::collections::BTreeSet<String>,
}

impl<'de> DeserializeSeed<'de> for KeysRow<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for KeysRow<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a row (an object)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if !self.keys.contains(key.as_ref()) {
                self.keys.insert(key.into_owned());
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }
}

/// One person's part of a JSON or CSV export, for `explain` ([`orgsync_core::focus`]): the
/// export skimmed once for each row's identifier, address and groups (a CSV export by the
/// reader's own CSV parser, without building anyone); the rows the keys link are
/// then parsed by [`FileSource`]'s own reader, so they read exactly as in a plan. The groups
/// are every row's, seen in the same order as a whole read sees them. Rows the person is not
/// linked to are not checked (a bad date there is for `plan` and `validate` to report).
pub struct FileSourcePart {
    source: FileSource,
    /// A CSV export (else JSON): its delimiter, and each slot's column.
    csv: Option<(u8, Vec<Option<usize>>)>,
    layout: Layout,
    /// The export, unless it was `streamed`.
    bytes: Vec<u8>,
    /// The export as it was read through [`split::stream_list_halves`], still open: the rows'
    /// spans are in it.
    streamed: Option<std::fs::File>,
    rows: split::Both<RowKeys>,
    communities: Vec<SourceGroup>,
    functions: Vec<SourceGroup>,
    departments: Vec<SourceGroup>,
    /// The rows whose hashes matched the keys linked so far.
    found: Found,
}

/// What linking needs of one row: the hashes let a pass over every row compare numbers; a
/// row they match is read again (from its span) and checked on its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RowKeys {
    span: (u32, u32),
    /// Of the identifier ([`some_hash`]).
    id_hash: u64,
    /// Of the address's [`identity::email_key`] ([`some_hash`]); 0 without one.
    email_hash: u64,
}

/// A hash that is never 0, so that 0 can stand for no address.
pub(crate) fn some_hash(h: u64) -> u64 {
    h.max(1)
}

/// The hashes of `keys`' identifiers and addresses ([`some_hash`]es), to pass over every row or
/// account with: most are told apart by one bit of a word.
#[derive(Default)]
pub(crate) struct KeyHashes {
    ids: Vec<u64>,
    emails: Vec<u64>,
    /// Bit `h >> 58` of each hash.
    bits: u64,
}

impl KeyHashes {
    pub(crate) fn of(keys: &Keys) -> KeyHashes {
        let hashes = |keys: &[String]| keys.iter().map(|k| some_hash(fx_hash(k))).collect();
        KeyHashes::new(hashes(keys.ids()), hashes(keys.emails()))
    }

    fn new(ids: Vec<u64>, emails: Vec<u64>) -> KeyHashes {
        let bits = ids.iter().chain(&emails).fold(0, |b, h| b | 1 << (h >> 58));
        KeyHashes { ids, emails, bits }
    }

    /// An identifier's or an address's hash (0 for none) is one of the keys'.
    #[inline]
    pub(crate) fn any(&self, id: u64, email: u64) -> bool {
        let bit = |h: u64| self.bits >> (h >> 58) & 1;
        let (id_bit, email_bit) = (bit(id), bit(email));
        // Nearly every item has neither bit: one test, no branch per hash.
        if id_bit | email_bit == 0 {
            return false;
        }
        (id_bit == 1 && id != 0 && self.ids.contains(&id))
            || (email_bit == 1 && email != 0 && self.emails.contains(&email))
    }
}

/// The rows (or accounts) whose hashes matched a key's, for every key hash looked for so far:
/// linking asks again and again with more keys, and only a new key's hash needs a pass over all
/// of them. What it holds is checked on the text by whoever asks, so rows of keys no longer
/// asked about do no harm.
#[derive(Default)]
pub(crate) struct Found(std::sync::Mutex<(KeyHashes, Vec<usize>)>);

impl Found {
    /// The indexes, in order, of the items (whose identifier and address hashes `hashes` gives
    /// in order) whose identifier or address hash is one of `keys`' (and of those found for
    /// earlier keys).
    pub(crate) fn of<T>(
        &self,
        keys: &Keys,
        items: &split::Both<T>,
        hashes: impl Fn(&T) -> (u64, u64),
    ) -> Vec<usize> {
        let wanted = KeyHashes::of(keys);
        let mut found = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (searched, rows) = &mut *found;
        let new = |wanted: &[u64], searched: &[u64]| {
            let new = wanted.iter().filter(|h| !searched.contains(h));
            new.copied().collect::<Vec<u64>>()
        };
        let fresh = KeyHashes::new(
            new(&wanted.ids, &searched.ids),
            new(&wanted.emails, &searched.emails),
        );
        if fresh.bits != 0 {
            // Each half as a slice of its own: a plain loop over a hundred thousand items, not an
            // index that picks the half on every one.
            let mut i = 0;
            for half in items.halves() {
                for item in half {
                    let (id, email) = hashes(item);
                    if fresh.any(id, email) {
                        rows.push(i);
                    }
                    i += 1;
                }
            }
            rows.sort_unstable();
            rows.dedup();
            searched.ids.extend(fresh.ids);
            searched.emails.extend(fresh.emails);
        }
        rows.clone()
    }
}

impl FileSourcePart {
    /// Skims the export; `None` when it is not a JSON list of row objects the skimmer can read
    /// as the reader would (then everything is read).
    fn skim(source: &FileSource) -> Result<Option<FileSourcePart>, ConnectorError> {
        let format = source.format()?;
        if format == FileFormat::Yaml {
            return Ok(None);
        }
        let start = std::time::Instant::now();
        let layout = Layout::new(&source.cfg.columns, source.cfg.date_format.as_deref());
        if format == FileFormat::Json {
            let file = std::fs::File::open(&source.path)
                .map_err(|e| source.file_error(format!("cannot read the export: {e}")))?;
            if let Some(Streamed { rows, groups }) = stream_rows(
                &file,
                split::CHUNK,
                split::HALVES_FROM,
                &layout,
                source.cfg.records.as_deref(),
            ) {
                tracing::debug!(
                    rows = rows.len(),
                    ms = start.elapsed().as_millis() as u64,
                    "read the export's rows' identifiers, addresses and groups"
                );
                let [communities, functions, departments] = groups.map(Groups::finish);
                return Ok(Some(FileSourcePart {
                    source: source.clone(),
                    csv: None,
                    layout,
                    bytes: Vec::new(),
                    streamed: Some(file),
                    rows,
                    communities,
                    functions,
                    departments,
                    found: Found::default(),
                }));
            }
        }
        let bytes = std::fs::read(&source.path)
            .map_err(|e| source.file_error(format!("cannot read the export: {e}")))?;
        let read = start.elapsed();
        let (skimmed, csv) = if format == FileFormat::Csv {
            let delimiter = source.delimiter()?;
            match skim_csv(&bytes, &layout, delimiter) {
                Some((s, columns)) => (Some((s.rows, s.groups)), Some((delimiter, columns))),
                None => (None, None),
            }
        } else {
            (
                skim_rows(&bytes, &layout, source.cfg.records.as_deref())
                    .map(|(rows, groups)| (rows.into(), groups)),
                None,
            )
        };
        let Some((rows, groups)) = skimmed else {
            tracing::debug!("the export is not a list of rows the skimmer reads: read whole");
            return Ok(None);
        };
        tracing::debug!(
            rows = rows.len(),
            read_ms = read.as_millis() as u64,
            skim_ms = (start.elapsed() - read).as_millis() as u64,
            "skimmed the export"
        );
        let [communities, functions, departments] = groups.map(Groups::finish);
        Ok(Some(FileSourcePart {
            source: source.clone(),
            csv,
            layout,
            bytes,
            streamed: None,
            rows,
            communities,
            functions,
            departments,
            found: Found::default(),
        }))
    }

    /// The rows that carry one of the keys, with their identifiers and addresses: those whose
    /// hashes match, read again and checked on their text. `None` when a streamed export can
    /// no longer be read where it was.
    fn linked(&self, keys: &Keys) -> Option<Vec<(&RowKeys, String, Option<String>)>> {
        let candidates: Vec<&RowKeys> = self
            .found
            .of(keys, &self.rows, |r| (r.id_hash, r.email_hash))
            .into_iter()
            .map(|i| &self.rows[i])
            .collect();
        let raw: Vec<Cow<'_, [u8]>> = match &self.streamed {
            Some(file) => split::read_spans(file, candidates.iter().map(|r| span_of(r)))
                .ok()?
                .into_iter()
                .map(Cow::Owned)
                .collect(),
            None => candidates
                .iter()
                .map(|r| {
                    Cow::Borrowed(
                        self.bytes
                            .get(r.span.0 as usize..r.span.1 as usize)
                            .unwrap_or_default(),
                    )
                })
                .collect(),
        };
        let mut out = Vec::new();
        let mut hints = Hints::new();
        for (row, raw) in candidates.into_iter().zip(&raw) {
            let (id, email) = self.keys_of(raw, &mut hints)?;
            if keys.has_id(&id) || keys.has_email(email.as_deref()) {
                out.push((row, id, email));
            }
        }
        Some(out)
    }

    /// A row's identifier and address as the skim read them, from its text.
    fn keys_of(&self, raw: &[u8], hints: &mut Hints) -> Option<(String, Option<String>)> {
        let text = |v: Option<&str>| {
            v.map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        match &self.csv {
            Some((delimiter, columns)) => {
                let mut reader = csv::ReaderBuilder::new()
                    .delimiter(*delimiter)
                    .has_headers(false)
                    .from_reader(raw);
                let mut record = csv::ByteRecord::new();
                reader.read_byte_record(&mut record).ok()?;
                let cell = |slot: usize| {
                    columns[slot]
                        .and_then(|i| record.get(i))
                        .and_then(|v| std::str::from_utf8(v).ok())
                };
                Some((text(cell(ID))?, text(cell(EMAIL))))
            }
            None => {
                let mut cells: [Option<Cow<'_, str>>; FIXED] = Default::default();
                skim_row(&mut Skim::new(raw), &self.layout, &KEYS, hints, &mut cells)?;
                Some((text(cells[ID].as_deref())?, text(cells[EMAIL].as_deref())))
            }
        }
    }
}

/// A row's span in the export.
fn span_of(row: &RowKeys) -> std::ops::Range<u64> {
    u64::from(row.span.0)..u64::from(row.span.1)
}

/// The slots that link a row: a linked row is read again for these alone.
const KEYS: [usize; 2] = [ID, EMAIL];

/// The slots a skim reads: what links a row and its groups.
const SKIMMED: [usize; 8] = [
    ID,
    EMAIL,
    COMMUNITY,
    COMMUNITY_NAME,
    FUNCTION,
    FUNCTION_NAME,
    DEPARTMENT,
    DEPARTMENT_NAME,
];

/// Each row's keys and the groups of all rows, as [`Builder::add_row`] sees them.
fn skim_rows(
    text: &[u8],
    layout: &Layout,
    records: Option<&str>,
) -> Option<(Vec<RowKeys>, [Groups; 3])> {
    let mut skim = Skim::new(text);
    if skim.peek()? == b'{' {
        // An object holding the list (the AFAS GetConnector shape): the first member named
        // `records` (default `rows`) is read, the rest skipped, as the reader does.
        let wanted = records.unwrap_or("rows").as_bytes();
        let mut found = None;
        skim.object(|key, skim| {
            if found.is_none() && key.bytes() == wanted {
                found = Some(skim_list(skim, layout)?);
                Some(())
            } else {
                skim.skip().map(drop)
            }
        })?;
        return found.filter(|_| skim.done());
    }
    let found = skim_list(&mut skim, layout)?;
    skim.done().then_some(found)
}

/// The list of rows at the cursor of `skim` ([`skim_rows`]).
fn skim_list(skim: &mut Skim<'_>, layout: &Layout) -> Option<(Vec<RowKeys>, [Groups; 3])> {
    let mut rows = Vec::new();
    let mut groups: [Groups; 3] = Default::default();
    let mut hints = Hints::new();
    let mut cells: [Option<Cow<'_, str>>; FIXED] = Default::default();
    skim.list(|skim| {
        let span = skim_row(skim, layout, &SKIMMED, &mut hints, &mut cells)?;
        let get = |slot: usize| {
            cells[slot]
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        let span = (
            u32::try_from(span.start).ok()?,
            u32::try_from(span.end).ok()?,
        );
        rows.push(row_keys(
            |slot| get(slot).map(str::as_bytes),
            |slot| Some(get(slot)),
            &mut groups,
            span,
        )?);
        Some(())
    })?;
    Some((rows, groups))
}

/// Key hints of [`skim_row`]: the key at each position of the previous row, and the slots it
/// fills (rows repeat their keys in the same order).
type Hints = Vec<(Box<[u8]>, Vec<usize>)>;

/// The `slots` (of [`SKIMMED`]) of the row object at the cursor into `cells`; its span. `hints`
/// serve one set of slots.
fn skim_row<'b>(
    skim: &mut Skim<'b>,
    layout: &Layout,
    slots: &[usize],
    hints: &mut Hints,
    cells: &mut [Option<Cow<'b, str>>; FIXED],
) -> Option<std::ops::Range<usize>> {
    cells.iter_mut().for_each(|c| *c = None);
    let mut position = 0;
    skim.object(|key, skim| {
        if hints.len() <= position {
            hints.push((Box::default(), Vec::new()));
        }
        let hint = &mut hints[position];
        position += 1;
        if *hint.0 != *key.bytes() {
            let slots = std::str::from_utf8(key.bytes())
                .ok()
                .and_then(|k| layout.lookup(k))
                .map(|k| {
                    layout.keys[k]
                        .1
                        .iter()
                        .copied()
                        .filter(|s| slots.contains(s))
                        .collect()
                })
                .unwrap_or_default();
            *hint = (key.bytes().into(), slots);
        }
        if hint.1.is_empty() {
            return skim.skip().map(drop);
        }
        let value = match skim.scalar()? {
            Scalar::Text(t) => Some(t),
            Scalar::Null => None,
            // Whole numbers read as written; other numbers as the reader prints them.
            Scalar::Number(n) if is_plain_integer(n) => Some(Cow::Borrowed(n)),
            Scalar::Bool(b) => Some(Cow::Borrowed(if b { "true" } else { "false" })),
            // A number the reader would reprint, or a list where a text belongs: read all.
            Scalar::Number(_) | Scalar::Nested => return None,
        };
        for &slot in &hint.1 {
            cells[slot].clone_from(&value);
        }
        Some(())
    })
}

/// What [`stream_rows`] (or [`skim_csv`]) read.
struct Streamed {
    rows: split::Both<RowKeys>,
    groups: [Groups; 3],
}

/// [`skim_rows`] through [`split::stream_list_halves`]: a plain row's identifier, address and
/// group identifiers are read where their keys are, a group's name only while the group has
/// none; other rows are skimmed. The spans are the rows' in the file. `None` where
/// [`skim_rows`] gives up, and also when the list does not start in the first 16 MB, or the file
/// is larger than 4 GiB. A file of `halves_from` bytes or more is read by two threads; the
/// second may then give up where one would not (a group name it cannot read, which the first
/// half had already named), and the export is read whole: the same answer, later.
fn stream_rows(
    file: &std::fs::File,
    chunk: usize,
    halves_from: u64,
    layout: &Layout,
    records: Option<&str>,
) -> Option<Streamed> {
    let wanted = records.unwrap_or("rows").as_bytes().to_vec();
    let find = |first: &[u8]| {
        let mut skim = Skim::new(first);
        match skim.peek()? {
            b'[' => Some(skim.position()),
            b'{' => {
                // The first member named `records` (the AFAS GetConnector shape).
                skim.eat(b'{')?;
                loop {
                    let key = skim.key()?;
                    if key.bytes() == wanted.as_slice() {
                        // Its value's first byte, once read.
                        skim.peek()?;
                        return Some(skim.position());
                    }
                    skim.skip()?;
                    skim.eat(b',')?;
                }
            }
            _ => None,
        }
    };
    let mut earlier = RowReader::new(layout);
    let mut later = RowReader::new(layout);
    let (around, halves) = split::stream_list_halves(
        file,
        chunk,
        halves_from,
        find,
        |row| earlier.read(row),
        |row| later.read(row),
    )?;
    let mut out = earlier.out;
    if halves {
        out.append(later.out);
    }
    let blank = |b: &[u8]| b.iter().all(|c| matches!(c, b' ' | b'\n' | b'\r' | b'\t'));
    let head = around
        .head
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(&around.head);
    if blank(head) {
        // The list is the document.
        return blank(&around.tail).then_some(out);
    }
    // What follows the list in the object holding it: skipped, as the reader does.
    let mut rest = b"{\"\":0".to_vec();
    rest.extend_from_slice(&around.tail);
    let mut skim = Skim::new(&rest);
    skim.object(|_, skim| skim.skip().map(drop))?;
    skim.done().then_some(out)
}

impl Streamed {
    /// `later`'s rows after these, as if one reader had read them all.
    fn append(&mut self, later: Streamed) {
        self.rows.then(later.rows);
        // A group's first name in file order: the earlier's, else the later's.
        for (groups, more) in self.groups.iter_mut().zip(later.groups) {
            for (id, name) in more.groups {
                groups.see(&id, name.as_deref());
            }
        }
    }
}

/// What one thread of [`stream_rows`] keeps while it reads rows.
struct RowReader<'l> {
    layout: &'l Layout,
    /// The distinct keys of the slots read from every row, and each slot's key among them.
    wanted_keys: Vec<&'l [u8]>,
    slot_keys: Vec<(usize, usize)>,
    hints: Hints,
    key_hints: split::KeyHints,
    out: Streamed,
}

impl<'l> RowReader<'l> {
    fn new(layout: &'l Layout) -> RowReader<'l> {
        let mut wanted_keys: Vec<&[u8]> = Vec::new();
        let mut slot_keys = Vec::new();
        for slot in [ID, EMAIL, COMMUNITY, FUNCTION, DEPARTMENT] {
            if let Some(key) = column(layout, slot) {
                let k = match wanted_keys.iter().position(|k| *k == key) {
                    Some(k) => k,
                    None => {
                        wanted_keys.push(key);
                        wanted_keys.len() - 1
                    }
                };
                slot_keys.push((slot, k));
            }
        }
        RowReader {
            layout,
            wanted_keys,
            slot_keys,
            hints: Hints::new(),
            key_hints: split::KeyHints::default(),
            out: Streamed {
                rows: split::Both::default(),
                groups: Default::default(),
            },
        }
    }

    fn read(&mut self, row: split::Row<'_>) -> Option<()> {
        let span = (
            u32::try_from(row.start).ok()?,
            u32::try_from(row.start + row.bytes.len() as u64).ok()?,
        );
        let Streamed { rows, groups } = &mut self.out;
        if !row.plain {
            let mut cells: [Option<Cow<'_, str>>; FIXED] = Default::default();
            let mut skim = Skim::new(row.bytes);
            skim_row(
                &mut skim,
                self.layout,
                &SKIMMED,
                &mut self.hints,
                &mut cells,
            )?;
            let get = |slot: usize| {
                cells[slot]
                    .as_deref()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
            };
            rows.push(row_keys(
                |slot| get(slot).map(str::as_bytes),
                |slot| Some(get(slot)),
                groups,
                span,
            )?);
            return Some(());
        }

        let mut values: [Option<split::Value<'_>>; 5] = Default::default();
        let wanted_keys = &self.wanted_keys;
        row.members(
            &mut self.key_hints,
            |key| wanted_keys.iter().position(|k| *k == key),
            &mut values,
        )?;
        let mut cells: [Option<&[u8]>; FIXED] = [None; FIXED];
        for (slot, key) in &self.slot_keys {
            cells[*slot] = read_value(values[*key].clone())?;
        }
        let layout = self.layout;
        let name = |slot: usize| match column(layout, slot) {
            Some(key) => read_text(row.member(key)?),
            None => Some(None),
        };
        rows.push(row_keys(|slot| cells[slot], name, groups, span)?);
        Some(())
    }
}

/// The key of `slot`'s column, unless it has none.
fn column(layout: &Layout, slot: usize) -> Option<&[u8]> {
    let name = layout.slot_names[slot].as_bytes();
    (!name.is_empty()).then_some(name)
}

/// A value of a plain row as [`skim_row`] reads it, trimmed and empty as absent: `None` when it
/// gives up. Its text is checked to be UTF-8 only where [`trim`] needs it: the reader checks
/// the rows that are read whole.
fn read_value(v: Option<split::Value<'_>>) -> Option<Option<&[u8]>> {
    let v: &[u8] = match v {
        None | Some(split::Value::Null) => return Some(None),
        Some(split::Value::Text(t)) => t,
        // Whole numbers read as written; other numbers as the reader prints them (give up).
        Some(split::Value::Number(n)) => std::str::from_utf8(n)
            .ok()
            .filter(|n| is_plain_integer(n))?
            .as_bytes(),
        Some(split::Value::Bool(b)) => {
            if b {
                b"true"
            } else {
                b"false"
            }
        }
    };
    let v = trim(v)?;
    Some((!v.is_empty()).then_some(v))
}

/// [`read_value`] as text (a group's name).
fn read_text(v: Option<split::Value<'_>>) -> Option<Option<&str>> {
    match read_value(v)? {
        Some(v) => std::str::from_utf8(v).ok().map(Some),
        None => Some(None),
    }
}

/// `v` trimmed as [`str::trim`] trims it: ASCII white space at once, and where an end is not
/// ASCII (which may be Unicode white space) as text (`None` when it is not UTF-8).
fn trim(v: &[u8]) -> Option<&[u8]> {
    // `str::trim`'s ASCII white space: `trim_ascii`'s and the vertical tab.
    let blank = |c: &u8| matches!(c, b'\t'..=b'\r' | b' ');
    let start = v.iter().position(|c| !blank(c)).unwrap_or(v.len());
    let end = v.iter().rposition(|c| !blank(c)).map_or(start, |i| i + 1);
    let t = &v[start..end];
    match (t.first(), t.last()) {
        (Some(&a), Some(&b)) if a >= 0x80 || b >= 0x80 => {
            std::str::from_utf8(t).ok().map(|t| t.trim().as_bytes())
        }
        _ => Some(t),
    }
}

/// One row's keys, its groups seen (as [`Builder::add_row`] sees them), from its values as the
/// reader takes them (`get`: trimmed, empty ones absent); `name(slot)` is a group name, asked for
/// only while the group has none. `None` for a row without an identifier (an error the reader
/// reports), or when `name` gives up.
fn row_keys<'v>(
    get: impl Fn(usize) -> Option<&'v [u8]>,
    name: impl Fn(usize) -> Option<Option<&'v str>>,
    groups: &mut [Groups; 3],
    span: (u32, u32),
) -> Option<RowKeys> {
    let id = get(ID)?;
    for (k, (g, n)) in [
        (COMMUNITY, COMMUNITY_NAME),
        (FUNCTION, FUNCTION_NAME),
        (DEPARTMENT, DEPARTMENT_NAME),
    ]
    .into_iter()
    .enumerate()
    {
        if let Some(v) = get(g) {
            groups[k].see_with(v, || name(n))?;
        }
    }
    let email = get(EMAIL);
    Some(RowKeys {
        span,
        id_hash: some_hash(fx_hash_bytes(id)),
        email_hash: email.and_then(email_hash).map_or(0, some_hash),
    })
}

/// [`skim_rows`] for a CSV export: the records read by the CSV parser [`FileSource::read_csv`]
/// uses, with the same header rules, only the skimmed columns looked at.
fn skim_csv(b: &[u8], layout: &Layout, delimiter: u8) -> Option<(Streamed, Vec<Option<usize>>)> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .from_reader(b);
    let headers = reader.headers().ok()?.clone();
    let mut slot_col: Vec<Option<usize>> = vec![None; layout.slot_names.len()];
    for (i, header) in headers.iter().enumerate() {
        if let Some(k) = layout.lookup(header.trim()) {
            for &slot in &layout.keys[k].1 {
                slot_col[slot].get_or_insert(i);
            }
        }
    }
    let mut rows = Vec::new();
    let mut groups: [Groups; 3] = Default::default();
    let mut record = csv::ByteRecord::new();
    while reader.read_byte_record(&mut record).ok()? {
        let mut cells: [Option<&str>; FIXED] = [None; FIXED];
        for slot in SKIMMED {
            if let Some(v) = slot_col[slot].and_then(|i| record.get(i)) {
                cells[slot] = Some(std::str::from_utf8(v).ok()?.trim()).filter(|v| !v.is_empty());
            }
        }
        let start = u32::try_from(record.position()?.byte()).ok()?;
        // Where it ends is where the next record starts.
        rows.push(row_keys(
            |slot| cells[slot].map(str::as_bytes),
            |slot| Some(cells[slot]),
            &mut groups,
            (start, start),
        )?);
    }
    let ends: Vec<u32> = rows
        .iter()
        .skip(1)
        .map(|r| r.span.0)
        .chain([u32::try_from(b.len()).ok()?])
        .collect();
    for (row, end) in rows.iter_mut().zip(ends) {
        row.span.1 = end;
    }
    Some((
        Streamed {
            rows: rows.into(),
            groups,
        },
        slot_col,
    ))
}

/// A JSON integer that reads back as the same text (no sign of zero, no exponent, fits 64 bits).
fn is_plain_integer(n: &str) -> bool {
    let digits = n.strip_prefix('-').unwrap_or(n);
    !digits.is_empty()
        && digits.len() <= 18
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" && !n.starts_with('-') || !digits.starts_with('0'))
}

impl SourcePart for FileSourcePart {
    fn link(&self, keys: &mut Keys) -> bool {
        // An export that cannot be read again links nothing more: `read` then reads it whole.
        let linked = self.linked(keys).unwrap_or_default();
        let mut grew = false;
        for (_, id, email) in linked {
            grew |= keys.add_id(&id);
            grew |= keys.add_email(email.as_deref());
        }
        grew
    }

    fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn read(&self, keys: &Keys) -> Result<SourceSnapshot, ConnectorError> {
        // The linked rows as a list of their own, read by the export's reader.
        let Some(linked) = self.linked(keys) else {
            // Gone or cut since it was read: read whole, for the reader's error.
            return self.source.clone().fetch()?.read(keys);
        };
        let linked = linked.into_iter().map(|(row, _, _)| row);
        let read = if self.csv.is_some() {
            // The header, then the linked records, each on a line of its own.
            let header = self
                .rows
                .first()
                .map_or(self.bytes.len(), |r| r.span.0 as usize);
            let mut csv = self.bytes[..header].to_vec();
            for row in linked {
                csv.extend_from_slice(&self.bytes[row.span.0 as usize..row.span.1 as usize]);
                if !csv.ends_with(b"\n") && !csv.ends_with(b"\r") {
                    csv.push(b'\n');
                }
            }
            self.source.read_csv(&csv, &self.layout)
        } else {
            let spans = linked.map(span_of);
            let raw: Vec<Cow<'_, [u8]>> = if let Some(file) = &self.streamed {
                match split::read_spans(file, spans) {
                    Ok(rows) => rows.into_iter().map(Cow::Owned).collect(),
                    // Gone or cut since it was read: read whole, for the reader's error.
                    Err(_) => return self.source.clone().fetch()?.read(keys),
                }
            } else {
                spans
                    .map(|s| Cow::Borrowed(&self.bytes[s.start as usize..s.end as usize]))
                    .collect()
            };
            let mut json = b"[".to_vec();
            for row in raw {
                if json.len() > 1 {
                    json.push(b',');
                }
                json.extend_from_slice(&row);
            }
            json.push(b']');
            self.source.read_json(&json, &self.layout)
        };
        match read {
            Ok(snapshot) => Ok(SourceSnapshot {
                persons: snapshot.persons,
                communities: self.communities.clone(),
                functions: self.functions.clone(),
                departments: self.departments.clone(),
                unlisted: Vec::new(),
                left: Vec::new(),
            }),
            // A row of theirs the reader refuses: read everything, for the error at its line.
            Err(_) => self.source.clone().fetch()?.read(keys),
        }
    }
}

#[cfg(test)]
mod tests {
    use orgsync_core::model::Employment;

    /// The distinct values of one employment field, in row order.
    fn all<'p>(p: &'p Person, f: impl Fn(&'p Employment) -> Option<&'p String>) -> Vec<&'p str> {
        let mut out: Vec<&str> = Vec::new();
        for v in p.employments.iter().filter_map(f) {
            if !out.contains(&v.as_str()) {
                out.push(v);
            }
        }
        out
    }

    use jiff::civil::date;

    use super::*;

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/exports")
    }

    fn config(path: &str, columns: Columns) -> FileSourceConfig {
        FileSourceConfig {
            path: path.to_owned(),
            format: None,
            records: None,
            delimiter: None,
            date_format: None,
            columns,
        }
    }

    /// Writes `content` as `name` in a temporary directory and reads it with `cfg`.
    fn load(
        name: &str,
        content: &str,
        cfg: FileSourceConfig,
    ) -> Result<SourceSnapshot, ConnectorError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(name), content).unwrap();
        FileSource::new(
            dir.path(),
            &FileSourceConfig {
                path: name.to_owned(),
                ..cfg
            },
        )
        .fetch()
    }

    fn load_json(content: &str) -> Result<SourceSnapshot, ConnectorError> {
        load("export.json", content, config("", Columns::default()))
    }

    fn data_error(result: Result<SourceSnapshot, ConnectorError>) -> (usize, String) {
        match result {
            Err(ConnectorError::Data { line, message, .. }) => (line, message),
            other => panic!("expected a data error, got {other:?}"),
        }
    }

    fn person<'a>(s: &'a SourceSnapshot, id: &str) -> &'a Person {
        s.persons.iter().find(|p| p.id == id).unwrap()
    }

    fn ids(groups: &[SourceGroup]) -> Vec<&str> {
        groups.iter().map(|g| g.id.as_str()).collect()
    }

    /// The AFAS GetConnector sample (`{"skip":0,"take":…,"rows":[…]}`), read with the
    /// `source:` block an AFAS customer writes: AFAS's field names, which `Columns::afas()` also
    /// gives, plus the contract type as an attribute.
    #[test]
    fn afas_export_with_afas_columns() {
        let yaml = r#"
path: afas-export.json
columns:
  id: Medewerker
  email: Email_werk
  first_name: Roepnaam
  last_name: Achternaam
  last_name_prefix: Voorvoegsel
  start: Begindatum_contract
  end: Einddatum_contract
  community: Organisatorische_eenheid_code
  community_name: Organisatorische_eenheid_omschrijving
  function: Functie_code
  function_name: Functie_omschrijving
  department: Afdeling_code
  department_name: Afdeling_omschrijving
  manager: Persoonsnummer_leidinggevende
  attributes:
    contract_type: Soort_medewerker_code
"#;
        let cfg: FileSourceConfig = serde_saphyr::from_str(yaml).unwrap();
        let mut afas = Columns::afas();
        afas.attributes.insert(
            "contract_type".to_owned(),
            "Soort_medewerker_code".to_owned(),
        );
        assert_eq!(cfg.columns, afas);
        let s = FileSource::new(&fixtures(), &cfg).fetch().unwrap();
        let order: Vec<&str> = s.persons.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(
            order,
            ["4001", "4002", "4003", "4005", "4006", "4007", "4008"]
        );

        let daan = person(&s, "4002");
        assert_eq!(daan.first_name, "Daan");
        assert_eq!(daan.last_name, "de Vries");
        assert_eq!(
            daan.email.as_deref(),
            Some("daan.devries@grandhotels.example")
        );
        // AFAS writes local dates with a `Z`: the date part is the date.
        assert_eq!(daan.employments[0].start, Some(date(2022, 5, 16)));
        assert_eq!(daan.employments[0].end, None);
        assert_eq!(daan.manager.as_deref(), Some("4001"));
        assert_eq!(all(daan, |e| e.community.as_ref()), ["1001"]);
        assert_eq!(all(daan, |e| e.function.as_ref()), ["F-GR"]);
        assert_eq!(all(daan, |e| e.department.as_ref()), ["D-FO"]);
        assert_eq!(daan.attributes["contract_type"], "VAST");
        assert_eq!(person(&s, "4003").last_name, "van den Berg");
        assert_eq!(
            person(&s, "4003").employments[0].end,
            Some(date(2025, 1, 31))
        );

        // Numbers become text; empty strings are absent.
        let tess = person(&s, "4007");
        assert_eq!(all(tess, |e| e.community.as_ref()), ["1002"]);
        assert_eq!(tess.email, None);
        assert_eq!(tess.last_name, "Bakker");

        assert_eq!(ids(&s.communities), ["1001", "1002", "9001"]);
        assert_eq!(s.communities[1].name, "Rotterdam Haven");
        assert_eq!(
            ids(&s.functions),
            ["F-GR", "F-HK", "F-HKS", "F-MGR", "F-RES", "F-TRN"]
        );
        assert_eq!(ids(&s.departments), ["D-FO", "D-HK", "D-MGT", "D-TRN"]);
    }

    /// Two employment rows of one person: one person with both employments, each with its own
    /// dates, community and function (regression: rows were merged into the union of all
    /// communities with the earliest start and the latest end).
    #[test]
    fn employment_rows_of_one_person_stay_employments() {
        let s = FileSource::new(&fixtures(), &config("afas-export.json", Columns::afas()))
            .fetch()
            .unwrap();
        let julia = person(&s, "4005");
        assert_eq!(s.persons.iter().filter(|p| p.id == "4005").count(), 1);
        assert_eq!(julia.employments.len(), 2);
        assert_eq!(all(julia, |e| e.community.as_ref()), ["1001", "1002"]);
        assert_eq!(all(julia, |e| e.function.as_ref()), ["F-HK", "F-HKS"]);
        assert_eq!(all(julia, |e| e.department.as_ref()), ["D-HK"]);
        // The first row with a value wins for the person's own fields.
        assert_eq!(julia.manager.as_deref(), Some("4001"));
    }

    #[test]
    fn ended_employment_rows_are_kept_with_their_own_dates() {
        let s = load_json(
            r#"[
            {"id": "1", "start": "2020-01-01", "end": "2021-06-30", "community": "A"},
            {"id": "1", "start": "2019-05-01", "end": "2024-12-31", "community": "B"},
            {"id": "1", "start": "2020-01-01", "end": "2021-06-30", "community": "A"}
        ]"#,
        )
        .unwrap();
        assert_eq!(s.persons.len(), 1);
        let p = &s.persons[0];
        assert_eq!(p.employments.len(), 2, "a repeated row adds nothing");
        assert_eq!(p.employments[0].start, Some(date(2020, 1, 1)));
        assert_eq!(p.employments[0].end, Some(date(2021, 6, 30)));
        assert_eq!(p.employments[0].community.as_deref(), Some("A"));
        assert_eq!(p.employments[1].end, Some(date(2024, 12, 31)));
        assert_eq!(p.employments[1].community.as_deref(), Some("B"));
    }

    #[test]
    fn rows_with_one_identifier_and_different_emails_are_recorded_as_a_conflict() {
        let s = load_json(
            r#"[
            {"id": "7", "email": "ann@x.test", "community": "A"},
            {"id": "7", "email": " ANN@x.test ", "community": "B"},
            {"id": "7", "email": "bob@x.test", "community": "C"}
        ]"#,
        )
        .unwrap();
        let p = &s.persons[0];
        assert_eq!(p.email.as_deref(), Some("ann@x.test"));
        assert_eq!(
            p.conflicting_emails,
            ["bob@x.test"],
            "case and spaces are no conflict"
        );
    }

    /// The PMT-like roster: `;`-separated, Dutch headers, dd-mm-yyyy dates, zero-padded
    /// employee numbers. This is the `source:` block a PMT customer writes.
    #[test]
    fn pmt_export_csv_with_delimiter_and_date_format() {
        let yaml = r#"
path: pmt-export.csv
delimiter: ";"
date_format: "%d-%m-%Y"
columns:
  id: personeelsnummer
  first_name: roepnaam
  last_name_prefix: tussenvoegsel
  last_name: achternaam
  email: email
  community: afdeling_code
  community_name: afdeling
  function: functie_code
  function_name: functie
  start: datum_in_dienst
  end: datum_uit_dienst
"#;
        let cfg: FileSourceConfig = serde_saphyr::from_str(yaml).unwrap();
        let s = FileSource::new(&fixtures(), &cfg).fetch().unwrap();
        let order: Vec<&str> = s.persons.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(order, ["00117", "00118", "00121", "00125", "00130"]);
        let bram = person(&s, "00118");
        assert_eq!(bram.last_name, "van der Linden");
        assert_eq!(bram.employments[0].start, Some(date(2016, 8, 15)));
        let noor = person(&s, "00121");
        assert_eq!(all(noor, |e| e.community.as_ref()), ["W014", "W012"]);
        assert_eq!(all(noor, |e| e.function.as_ref()), ["VK", "KA"]);
        // A transfer written as a new employment row: Amersfoort until 30 June, Utrecht from
        // 1 July.
        assert_eq!(noor.employments[0].start, Some(date(2023, 6, 1)));
        assert_eq!(noor.employments[0].end, Some(date(2025, 6, 30)));
        assert_eq!(noor.employments[1].start, Some(date(2025, 7, 1)));
        assert_eq!(noor.employments[1].end, None);
        assert_eq!(person(&s, "00130").email, None);
        assert_eq!(ids(&s.communities), ["DC01", "W012", "W014"]);
        assert_eq!(s.communities[0].name, "Distributiecentrum Nieuwegein");
        // No department column in this export: the default `department` column is absent.
        assert!(s.departments.is_empty());
    }

    #[test]
    fn json_date_error_names_row_and_column() {
        let mut rows = String::from("{\"rows\": [\n");
        for i in 1..=16 {
            rows.push_str(&format!(
                "{{\"Medewerker\": \"{i}\", \"Begindatum_contract\": \"2024-01-01T00:00:00Z\"}},\n"
            ));
        }
        rows.push_str("{\"Medewerker\": \"17\", \"Begindatum_contract\": \"31-02-2024\"}\n]}");
        let (line, message) = data_error(load("afas.json", &rows, config("", Columns::afas())));
        assert_eq!(line, 18);
        assert!(
            message.starts_with(
                "row 17, column Begindatum_contract: `31-02-2024` is not a date (expected"
            ),
            "{message}"
        );
    }

    #[test]
    fn csv_errors_name_row_line_and_column() {
        let cfg = FileSourceConfig {
            date_format: Some("%d-%m-%Y".to_owned()),
            ..config("", Columns::default())
        };
        let csv = "id,first_name,start\n1,Anna,01-02-2024\n2,Bas,2024-02-01\n";
        let (line, message) = data_error(load("x.csv", csv, cfg));
        assert_eq!(line, 3);
        assert_eq!(
            message,
            "row 2, column start: `2024-02-01` is not a date (expected `%d-%m-%Y`)"
        );

        let csv = "id,first_name\n1,Anna\n,Bas\n";
        let (line, message) = data_error(load("x.csv", csv, config("", Columns::default())));
        assert_eq!(line, 3);
        assert!(
            message.starts_with("row 2, column id: no person identifier"),
            "{message}"
        );
    }

    #[test]
    fn csv_without_the_id_column_is_an_error() {
        let (line, message) = data_error(load(
            "x.csv",
            "nummer;naam\n1;Anna\n",
            FileSourceConfig {
                delimiter: Some(";".to_owned()),
                ..config("", Columns::default())
            },
        ));
        assert_eq!(line, 1);
        assert!(message.contains("no column `id`"), "{message}");
        assert!(message.contains("nummer, naam"), "{message}");
    }

    #[test]
    fn row_without_id_is_an_error() {
        let (_, message) = data_error(load_json(r#"[{"id": "1"}, {"email": "a@b.c", "id": ""}]"#));
        assert!(
            message.starts_with("row 2, column id: no person identifier"),
            "{message}"
        );
    }

    #[test]
    fn missing_file_is_a_file_error() {
        let err = FileSource::new(
            Path::new("/nonexistent"),
            &config("hr.json", Columns::default()),
        )
        .fetch()
        .unwrap_err();
        assert!(matches!(err, ConnectorError::File { .. }));
        let text = err.to_string();
        assert!(
            text.starts_with("/nonexistent/hr.json: cannot read the export"),
            "{text}"
        );
    }

    #[test]
    fn malformed_json_is_a_data_error_with_line() {
        let (line, message) = data_error(load_json("[\n{\"id\": \"1\"},\n{\"id\": \"2\"\n"));
        assert_eq!(line, 4);
        assert!(message.starts_with("row 2:"), "{message}");
        let (line, message) = data_error(load_json("{\"id\": "));
        assert_eq!(line, 1);
        assert!(message.starts_with("not a valid export:"), "{message}");
    }

    #[test]
    fn object_without_rows_says_which_key_to_set() {
        let (_, message) = data_error(load_json(r#"{"data": [], "count": 0}"#));
        assert!(message.contains("without a `rows` list"), "{message}");
        assert!(message.contains("source.records"), "{message}");
        assert!(message.contains("data, count"), "{message}");
    }

    #[test]
    fn records_key_selects_the_list() {
        let cfg = FileSourceConfig {
            records: Some("data".to_owned()),
            ..config("", Columns::default())
        };
        let s = load(
            "x.json",
            r#"{"rows": "ignored", "data": [{"id": 1}, {"id": 2.0}, {"id": true}]}"#,
            cfg,
        )
        .unwrap();
        let order: Vec<&str> = s.persons.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(order, ["1", "2", "true"]);
    }

    #[test]
    fn an_object_in_a_configured_column_is_an_error() {
        let (_, message) = data_error(load_json(
            r#"[{"id": "1", "email": {"work": "a@b.c"}, "x": {"y": 1}}]"#,
        ));
        assert_eq!(
            message,
            "row 1, column email: expected a text or a number, found an object"
        );
    }

    #[test]
    fn yaml_export_keeps_values_as_written() {
        let yaml = "\
- id: 007
  first_name: James
  last_name: Bond
  start: 2024-01-01
  end: ~
  community: 0100
- id: 007
  community: 0200
  end:
";
        let cfg = FileSourceConfig {
            format: Some(FileFormat::Yaml),
            ..config("", Columns::default())
        };
        let s = load("export.txt", yaml, cfg).unwrap();
        assert_eq!(s.persons.len(), 1);
        let p = &s.persons[0];
        assert_eq!(p.id, "007");
        assert_eq!(all(p, |e| e.community.as_ref()), ["0100", "0200"]);
        assert_eq!(p.employments[0].start, Some(date(2024, 1, 1)));
        assert_eq!(p.employments[0].end, None);
    }

    #[test]
    fn yaml_errors_name_row_and_column() {
        let yaml = "rows:\n  - id: 1\n    start: 2024-13-01\n";
        let (line, message) = data_error(load("x.yaml", yaml, config("", Columns::default())));
        assert!(line >= 2, "{line}");
        assert!(
            message.starts_with("row 1, column start: `2024-13-01`"),
            "{message}"
        );
    }

    #[test]
    fn iso_dates() {
        assert_eq!(parse_iso_date("2024-01-01"), Some(date(2024, 1, 1)));
        assert_eq!(
            parse_iso_date("2024-01-01T00:00:00Z"),
            Some(date(2024, 1, 1))
        );
        assert_eq!(
            parse_iso_date("2024-12-31T23:00:00Z"),
            Some(date(2024, 12, 31))
        );
        assert_eq!(parse_iso_date("2024-01-01 08:00"), Some(date(2024, 1, 1)));
        assert_eq!(parse_iso_date("2024-02-30"), None);
        assert_eq!(parse_iso_date("01-01-2024"), None);
        assert_eq!(parse_iso_date("2024-01-011"), None);
        assert_eq!(parse_iso_date("2024-1-1"), None);
    }

    /// What a skim read, comparable across the skimmers: each row's span and hashes, and the
    /// groups.
    type Skimmed = (Vec<RowKeys>, [Vec<SourceGroup>; 3]);

    fn comparable(rows: impl Into<split::Both<RowKeys>>, groups: [Groups; 3]) -> Skimmed {
        (
            rows.into().iter().copied().collect(),
            groups.map(Groups::finish),
        )
    }

    /// Regression: a linked row was read again for its identifier and address by the whole
    /// skimmer, which gives up on a group name it cannot read (a decimal number) — one the
    /// stream never read, the group being named by an earlier row. Linking then stopped at
    /// that row: the person's address was never followed to their other row.
    #[test]
    fn a_linked_row_is_read_again_for_its_keys_alone_whatever_its_group_name() {
        let dir = tempfile::tempdir().unwrap();
        let rows = r#"[
            {"id": "1", "community": "1001", "community_name": "Amsterdam"},
            {"id": "2", "email": "ann@example.com", "community": "1001", "community_name": 1.5},
            {"id": "3", "email": "Ann@Example.com"}
        ]"#;
        std::fs::write(dir.path().join("export.json"), rows).unwrap();
        let mut source = FileSource::new(dir.path(), &config("export.json", Columns::default()));
        let part = source.part().unwrap().expect("the export is streamed");
        let mut keys = Keys::of_query("2");
        while part.link(&mut keys) {}
        assert_eq!(keys.ids(), ["2", "3"], "the address links the other row");
        let ids: Vec<String> = part
            .read(&keys)
            .unwrap()
            .persons
            .into_iter()
            .map(|p| p.id)
            .collect();
        assert_eq!(ids, ["2", "3"]);
    }

    #[test]
    fn an_address_hashes_as_its_email_key_does_and_a_value_trims_as_text_does() {
        let samples = [
            "ann@example.com",
            "Ann@Example.COM",
            "AZaz@[\\]^_`{|}~@09.",
            "  bo@example.com\t",
            "\u{b}x@y\u{b}",
            "\u{a0}nbsp@example.com",
            "Jérôme.Ünal@Example.com",
            "\u{212a}elvin@example.com",
            "a@b",
            "",
            "   ",
            "0123456789ABCDEFGHIJ@EXAMPLE.COM",
            "x\u{80}@example.com",
        ];
        for e in samples {
            for cut in 0..=e.len() {
                let Some(e) = e.get(..cut) else { continue };
                let want = identity::email_key(e).map(|k| fx_hash(&k));
                assert_eq!(email_hash(e.as_bytes()), want, "{e:?}");
                assert_eq!(trim(e.as_bytes()), Some(e.trim().as_bytes()), "{e:?}");
            }
        }
        // Not UTF-8: no address, and no trimming where an end needs it.
        assert_eq!(email_hash(b"\xffa@b"), None);
        assert_eq!(trim(b" \xff "), None);
    }

    #[test]
    fn a_short_identifier_is_its_bytes_and_length_in_one_word_and_a_group_keeps_its_first_name() {
        // The word as a byte-by-byte copy builds it, for every length and position of each byte.
        for n in 0..=8usize {
            for seed in 0..64u8 {
                let id: Vec<u8> = (0..n as u8)
                    .map(|i| seed.wrapping_mul(37).wrapping_add(i.wrapping_mul(101)))
                    .collect();
                let want = (n < 8).then(|| {
                    let mut w = [0u8; 8];
                    w[..n].copy_from_slice(&id);
                    w[7] = n as u8;
                    u64::from_le_bytes(w)
                });
                assert_eq!(short(&id), want, "{id:?}");
            }
        }
        // Identifiers that differ in length only, or in one byte, are different groups; a name is
        // taken from the first row that gives one, then kept.
        let mut groups = Groups::default();
        for (id, name) in [
            ("10", None),
            ("100", Some("A")),
            ("10", Some("B")),
            ("100", Some("C")),
            ("10", Some("D")),
            ("101", None),
            ("a-long-group-id", None),
            ("a-long-group-id", Some("E")),
            ("a-long-group-iD", Some("F")),
        ] {
            groups.see(id, name);
        }
        let got: Vec<(String, String)> = groups
            .finish()
            .into_iter()
            .map(|g| (g.id, g.name))
            .collect();
        let want = [
            ("10", "B"),
            ("100", "A"),
            ("101", "101"),
            ("a-long-group-iD", "F"),
            ("a-long-group-id", "E"),
        ];
        assert_eq!(
            got,
            want.map(|(i, n)| (i.to_owned(), n.to_owned())).to_vec()
        );
    }

    #[test]
    fn streaming_reads_the_same_rows_and_groups_as_the_skimmer_whatever_the_reads() {
        let columns = Columns {
            department: Some("afdeling".to_owned()),
            ..Columns::default()
        };
        let layout = Layout::new(&columns, None);
        let rows = r#"[
  {"id": "1", "email": "Ann@Example.com", "community": "1001", "community_name": "",
   "afdeling": 7, "extra": {"community": "9999", "id": "x"}, "tags": ["a:b", "{"]},
  {"id":2,"email":null,"community":"1001","community_name":"Amsterdam","function":true,"function":"F2"},
  {"id":"3","community":"1002","community":"1003","community_name":"Caf\u00e9 \"Noord\"",
   "email":"bo@example.com"},
  {"id": " 4 ", "email": "  ", "function": "F1", "function_name": "Chef", "community": null},
  {"community_name": "Late", "community": "1001", "id": "5", "email": "Ann@example.com"}
]"#;
        let docs = [
            rows.to_owned(),
            rows.replace('\n', "\r\n"),
            format!("\u{feff}{rows}"),
            format!(
                r#"{{"meta": {{"rows": 1, "n": [1, 2]}}, "rows": {rows}, "rows": [], "x": "y"}}"#
            ),
            // A value the skimmer gives up on, in a member it reads: both give up.
            r#"[{"id": "1", "community": 1.5}]"#.to_owned(),
            r#"[{"id": "1", "community": ["1001"]}]"#.to_owned(),
            // Not a list of rows.
            r#"[{"id": "1"}, 2]"#.to_owned(),
            r#"[{"id": "1"}, {"id": "2"]"#.to_owned(),
            r#"{"data": []}"#.to_owned(),
        ];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("export.json");
        let stream = |doc: &str, chunk, halves_from| {
            std::fs::write(&path, doc).unwrap();
            let file = std::fs::File::open(&path).unwrap();
            stream_rows(&file, chunk, halves_from, &layout, None)
        };
        for doc in &docs {
            let want = skim_rows(doc.as_bytes(), &layout, None).map(|(r, g)| comparable(r, g));
            for chunk in [1, 3, 64, 1 << 20] {
                // By one thread, and by two where a row seems to start after the middle.
                for halves_from in [u64::MAX, 0] {
                    let got = stream(doc, chunk, halves_from).map(|s| comparable(s.rows, s.groups));
                    assert_eq!(got, want, "{chunk} bytes a read: {doc}");
                }
            }
        }
        // Every row was read: the comparison is not of two failures.
        let streamed = stream(rows, 64, 0).unwrap();
        assert_eq!(streamed.rows.len(), 5);
        let [communities, functions, _] = streamed.groups.map(Groups::finish);
        let ids = |g: Vec<SourceGroup>| g.into_iter().map(|g| g.id).collect::<Vec<_>>();
        assert_eq!(ids(communities), ["1001", "1003"], "a row's later key wins");
        assert_eq!(ids(functions), ["F1", "F2"]);
    }

    #[test]
    fn unknown_extension_needs_a_format() {
        let err = load("export.xlsx", "", config("", Columns::default())).unwrap_err();
        assert!(err.to_string().contains("set `source.format`"), "{err}");
    }

    #[test]
    fn one_column_may_feed_two_fields_and_names_fill_in() {
        let columns = Columns {
            department: Some("afdeling".to_owned()),
            community: "afdeling".to_owned(),
            community_name: Some("afdeling_naam".to_owned()),
            ..Columns::default()
        };
        let s = load(
            "x.json",
            r#"[{"id": "1", "afdeling": "K1"}, {"id": "2", "afdeling": "K1", "afdeling_naam": "Keuken"}, {"id": "3", "afdeling": "K2"}]"#,
            config("", columns),
        )
        .unwrap();
        assert_eq!(all(&s.persons[0], |e| e.community.as_ref()), ["K1"]);
        assert_eq!(all(&s.persons[0], |e| e.department.as_ref()), ["K1"]);
        assert_eq!(s.communities[0].name, "Keuken");
        // Never named: named after its identifier.
        assert_eq!(s.communities[1].name, "K2");
    }

    #[test]
    fn bom_and_whitespace_are_ignored() {
        let s = load_json("\u{feff}[{\"id\": \" 1 \", \"email\": \"  \"}]").unwrap();
        assert_eq!(s.persons[0].id, "1");
        assert_eq!(s.persons[0].email, None);
        let s = load(
            "x.csv",
            "\u{feff}id , email\n1,a@b.c\n",
            config("", Columns::default()),
        )
        .unwrap();
        assert_eq!(s.persons[0].email.as_deref(), Some("a@b.c"));
    }
}
