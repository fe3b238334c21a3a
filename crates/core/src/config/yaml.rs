//! YAML → a tree of nodes that remember where they were written.
//!
//! We build the tree from granit-parser's event stream (the saphyr-parser fork that serde-saphyr,
//! our YAML data reader, is built on: one YAML parser in the tree) ourselves instead of deserialising directly
//! because configuration errors must point at `file:line:column`, duplicate keys must be errors
//! (YAML says so; most libraries keep the last one silently), and alias expansion must be bounded
//! so that a "billion laughs" file is refused before it eats memory.

use std::collections::HashMap;

use granit_parser::{Event, Parser, ScalarStyle, Span};
use serde_json::{Map, Number, Value};

/// Most nodes a document may expand to, aliases included. Real configurations have a few
/// thousand; an alias bomb reaches billions.
pub const MAX_NODES: usize = 200_000;
/// Deepest nesting accepted.
pub const MAX_DEPTH: usize = 64;

/// A position in a file: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Mark {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1 (in characters).
    pub column: usize,
}

impl Mark {
    fn from_span(span: &Span) -> Mark {
        Mark {
            line: span.start.line(),
            column: span.start.col() + 1,
        }
    }
}

/// A YAML node with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where the node starts.
    pub mark: Mark,
    /// What it holds.
    pub value: NodeValue,
}

/// The value of a node, resolved with the YAML 1.2 core schema.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeValue {
    /// `~`, `null` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in file order; keys are strings (non-string keys are refused).
    Map(Vec<(Key, Node)>),
}

/// A mapping key with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// The key.
    pub name: String,
    /// Where it is written.
    pub mark: Mark,
}

/// A YAML problem, with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    /// Where.
    pub mark: Mark,
    /// JSON pointer of the value being read when the problem was found (`/policy/retention_days`;
    /// empty at the top of the file), so that even a syntax error names its key.
    pub pointer: String,
    /// What.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// While parsing, `pointer` is relative to where the parser stands unless this is set.
    absolute: bool,
}

impl YamlError {
    fn new(mark: Mark, message: impl Into<String>) -> Self {
        YamlError {
            mark,
            pointer: String::new(),
            message: message.into(),
            hint: None,
            absolute: false,
        }
    }
    fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

enum Frame {
    Seq {
        mark: Mark,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        mark: Mark,
        anchor: usize,
        entries: Vec<(Key, Node)>,
        pending_key: Option<Key>,
    },
}

/// Parses one YAML document. An empty document (or a file holding only comments) is `None`.
pub fn parse(text: &str) -> Result<Option<Node>, YamlError> {
    let mut stack: Vec<Frame> = Vec::new();
    // While parsing, an error's pointer is relative to where the parser stands; make it absolute.
    parse_into(text, &mut stack).map_err(|mut e| {
        if !e.absolute {
            e.pointer = format!("{}{}", stack_pointer(&stack), e.pointer);
            e.absolute = true;
        }
        e
    })
}

/// The JSON pointer of the value the parser is inside of.
fn stack_pointer(stack: &[Frame]) -> String {
    let mut pointer = String::new();
    for frame in stack {
        match frame {
            Frame::Seq { items, .. } => pointer.push_str(&format!("/{}", items.len())),
            Frame::Map {
                pending_key: Some(key),
                ..
            } => {
                pointer.push('/');
                pointer.push_str(&escape_pointer(&key.name));
            }
            Frame::Map { .. } => break,
        }
    }
    pointer
}

fn parse_into(text: &str, stack: &mut Vec<Frame>) -> Result<Option<Node>, YamlError> {
    let parser = Parser::new_from_str(text);
    let mut anchors: HashMap<usize, (Node, usize)> = HashMap::new();
    let mut budget: usize = 0;
    let mut root: Option<Node> = None;
    let mut documents = 0;

    for next in parser {
        let (event, span) = next.map_err(|e| scan_error(&e, text, stack))?;
        let mark = Mark::from_span(&span);
        let node = match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => continue,
            Event::DocumentStart(..) => {
                documents += 1;
                if documents > 1 {
                    return Err(
                        YamlError::new(mark, "more than one YAML document in this file")
                            .hint("remove the `---` separator: each file holds one document"),
                    );
                }
                continue;
            }
            Event::Alias(id) => {
                let (node, size) = anchors
                    .get(&id)
                    .ok_or_else(|| YamlError::new(mark, "alias refers to an unknown anchor"))?;
                budget = budget.saturating_add(*size);
                if budget > MAX_NODES {
                    return Err(alias_bomb(mark));
                }
                let mut node = node.clone();
                node.mark = mark;
                node
            }
            Event::Scalar(value, style, anchor, tag) => {
                budget += 1;
                if budget > MAX_NODES {
                    return Err(alias_bomb(mark));
                }
                let tag = tag.map(|t| format!("{}{}", t.handle(), t.suffix()));
                let node = Node {
                    mark,
                    value: resolve_scalar(&value, style, tag.as_deref(), mark)?,
                };
                if anchor != 0 {
                    anchors.insert(anchor, (node.clone(), 1));
                }
                node
            }
            Event::SequenceStart(_, anchor, _) => {
                push(
                    stack,
                    Frame::Seq {
                        mark,
                        anchor,
                        items: Vec::new(),
                    },
                    mark,
                )?;
                continue;
            }
            Event::MappingStart(_, anchor, _) => {
                push(
                    stack,
                    Frame::Map {
                        mark,
                        anchor,
                        entries: Vec::new(),
                        pending_key: None,
                    },
                    mark,
                )?;
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                budget += 1;
                let (node, anchor) = match stack.pop() {
                    Some(Frame::Seq {
                        mark,
                        anchor,
                        items,
                    }) => (
                        Node {
                            mark,
                            value: NodeValue::Seq(items),
                        },
                        anchor,
                    ),
                    Some(Frame::Map {
                        mark,
                        anchor,
                        entries,
                        ..
                    }) => (
                        Node {
                            mark,
                            value: NodeValue::Map(entries),
                        },
                        anchor,
                    ),
                    None => return Err(YamlError::new(mark, "unbalanced YAML structure")),
                };
                if anchor != 0 {
                    let size = count(&node);
                    anchors.insert(anchor, (node.clone(), size));
                }
                node
            }
            // Anchor metadata, unresolved aliases and comments come only when asked for in
            // granit-parser's options (an unknown alias is a scan error by default).
            _ => continue,
        };
        // Attach the finished node to its parent (or make it the root).
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                pending_key,
                ..
            }) => match pending_key.take() {
                None => {
                    let name = match node.value {
                        NodeValue::Str(s) => s,
                        NodeValue::Int(i) => i.to_string(),
                        NodeValue::Bool(b) => b.to_string(),
                        NodeValue::Null => {
                            return Err(YamlError::new(node.mark, "empty mapping key")
                                .hint("every key needs a name before its colon"));
                        }
                        _ => {
                            return Err(YamlError::new(
                                node.mark,
                                "a mapping key must be a plain string",
                            )
                            .hint("complex keys (lists or mappings as keys) are not supported"));
                        }
                    };
                    if let Some((first, _)) = entries.iter().find(|(k, _)| k.name == name) {
                        let mut err = YamlError::new(
                            node.mark,
                            format!(
                                "duplicate key `{name}` (first defined at line {})",
                                first.mark.line
                            ),
                        )
                        .hint("a key may appear once per mapping; keep one of the two (YAML does not merge them)");
                        err.pointer = format!("/{}", escape_pointer(&name));
                        return Err(err);
                    }
                    *pending_key = Some(Key {
                        name,
                        mark: node.mark,
                    });
                }
                Some(key) => entries.push((key, node)),
            },
        }
    }
    Ok(root)
}

fn push(stack: &mut Vec<Frame>, frame: Frame, mark: Mark) -> Result<(), YamlError> {
    if stack.len() >= MAX_DEPTH {
        return Err(YamlError::new(
            mark,
            format!("nesting deeper than {MAX_DEPTH} levels"),
        ));
    }
    stack.push(frame);
    Ok(())
}

fn alias_bomb(mark: Mark) -> YamlError {
    YamlError::new(mark, format!("aliases expand to more than {MAX_NODES} nodes"))
        .hint("this looks like a YAML alias bomb; orgsync configuration needs no anchors or aliases this deep")
}

fn count(node: &Node) -> usize {
    1 + match &node.value {
        NodeValue::Seq(items) => items.iter().map(count).sum(),
        NodeValue::Map(entries) => entries.iter().map(|(_, v)| 1 + count(v)).sum(),
        _ => 0,
    }
}

fn scan_error(e: &granit_parser::ScanError, text: &str, stack: &[Frame]) -> YamlError {
    let m = e.marker();
    let mark = Mark {
        line: m.line(),
        column: m.col() + 1,
    };
    use granit_parser::ErrorKind as K;
    let kind = e.kind();
    let info = e.info();
    let mut err = YamlError::new(mark, format!("invalid YAML: {info}"));
    let at_end = matches!(kind, K::UnclosedQuotedScalar);
    let quoted = at_end
        || matches!(
            kind,
            K::InvalidTrailingDoubleQuotedScalar
                | K::InvalidTrailingSingleQuotedScalar
                | K::InvalidQuotedScalarIndent
                | K::DocumentIndicatorInQuotedScalar
                | K::UnknownQuotedScalarEscape
        );
    // A quote or a `{`/`[` left open is reported where the parser gave up, often lines later;
    // point at the opening character instead, which is where the fix goes.
    if quoted
        && let Some(open) = open_quote(text, mark, at_end)
        && (at_end || open.line < mark.line)
    {
        let q = char_at(text, open).unwrap_or('"');
        err.mark = open;
        err.message = if open.line < mark.line {
            format!(
                "invalid YAML: the quote opened here is not closed on this line; the quoted text runs on to line {}",
                mark.line
            )
        } else {
            "invalid YAML: the quote opened here is never closed".to_owned()
        };
        return err.hint(format!("add the closing `{q}` on line {}", open.line));
    }
    if let Some((depth, open, bracket)) = open_flow(text, stack) {
        let close = if bracket == '{' { '}' } else { ']' };
        if open.line < mark.line {
            err.pointer = stack_pointer(&stack[..depth]);
            err.absolute = true;
            err.message = format!(
                "invalid YAML: the `{bracket}` opened here is not closed (the parser looked for `,` or `{close}` up to line {})",
                mark.line
            );
            err.mark = open;
            return err.hint(format!("add the closing `{close}` on line {}", open.line));
        }
        if matches!(
            kind,
            K::ExpectedFlowMappingSeparator
                | K::ExpectedFlowSequenceSeparator
                | K::UnexpectedEofFlowSequence
                | K::UnexpectedEofFlowMapping
                | K::UnexpectedEofImplicitFlowMapping
                | K::InvalidFlowScalarIndent
                | K::UnclosedFlowCollection { .. }
                | K::FlowMappingValueAdjacentCollection
        ) {
            return err.hint(format!(
                "close the `{bracket}` opened at column {} with `{close}`, and separate entries with `,`",
                open.column
            ));
        }
    }
    if matches!(
        kind,
        K::TabNotAllowed
            | K::TabInBlockIndentation
            | K::TabInIndentation
            | K::TabInPlainScalar
            | K::TabAtBlockScalarStart
    ) {
        // Point at the tab itself, not after it. The parser may report it at the start of the
        // scalar it was scanning, a line or more above the tab: then the tab is on a later line.
        let tab = text
            .lines()
            .enumerate()
            .skip(mark.line.saturating_sub(1))
            .find_map(|(n, line)| line.chars().position(|c| c == '\t').map(|i| (n + 1, i + 1)));
        if let Some((line, column)) = tab {
            if line != mark.line {
                err.message = "invalid YAML: a tab in the indentation".to_owned();
                err.pointer.clear();
                err.absolute = true;
            }
            err.mark.line = line;
            err.mark.column = column;
        }
        err = err.hint("indent with spaces; YAML does not allow tabs for indentation");
    } else if matches!(kind, K::UnknownAnchor) {
        err.message =
            "invalid YAML: `*` starts an alias, and no anchor of that name is defined".to_owned();
        err = err.hint("quote a value that starts with `*`, like a glob: \"*10\"");
    } else if matches!(kind, K::UnknownQuotedScalarEscape) {
        err.message =
            "invalid YAML: a backslash in double quotes starts an escape, and this is not one"
                .to_owned();
        err = err.hint("write the path with `/`, or in single quotes ('C:\\data\\hr.csv'), where a backslash is a backslash");
    } else if matches!(kind, K::SimpleKeyExpected) {
        err.message = "invalid YAML: a key without `:`".to_owned();
        err = err.hint("write `key: value`, with a colon and a space after the key");
    } else if matches!(kind, K::MappingValueNotAllowed)
        && let Some(line) = missing_colon_above(text, mark)
    {
        // `version 1` above `source: …`: the parser reads both lines as one text and trips on
        // the second line's `:`. The colon is missing on the line above.
        err.mark = Mark {
            line,
            column: 1 + indent_of(text, line),
        };
        err.message = "invalid YAML: a key without `:`".to_owned();
        err.pointer.clear();
        err.absolute = true;
        err = err.hint("write `key: value`, with a colon and a space after the key");
    } else if matches!(kind, K::MappingValueNotAllowed) {
        err.message = format!("invalid YAML: unexpected `:` ({info})");
        err = err.hint("keys of one mapping start in the same column: check this line's indentation against the line above it; a text value that contains `: ` must be quoted");
    } else if matches!(
        kind,
        K::InvalidIndentation
            | K::InvalidBlockScalarIndent
            | K::InvalidQuotedScalarIndent
            | K::InvalidFlowScalarIndent
    ) {
        err = err.hint("check the indentation of this line against the lines above it");
    } else if matches!(
        kind,
        K::ExpectedBlockMappingKey
            | K::ExpectedBlockSequenceEntry
            | K::UnexpectedEofBlockSequence
            | K::UnexpectedEofBlockMapping
            | K::BlockEntryInFlowCollection
            | K::BlockSequenceEntryNotAllowed
            | K::InvalidBlockEntryWhitespace
            | K::ZeroBlockScalarIndent
            | K::InvalidBlockScalarHeader
    ) {
        err = err.hint("check the indentation: keys of one mapping start in the same column, and every list item starts with `- `");
    }
    err
}

/// For a `:` that is not allowed on line `mark.line`: the line above it, when that line is text
/// without a `:` at the same indentation (a key whose colon was forgotten, read by the parser as
/// the start of a multi-line text).
fn missing_colon_above(text: &str, mark: Mark) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let here = lines.get(mark.line.checked_sub(1)?)?;
    let above = (1..mark.line).rev().find(|&n| {
        let l = lines[n - 1].trim();
        !l.is_empty() && !l.starts_with('#')
    })?;
    let line = lines[above - 1];
    let content = line.trim();
    let plain = !content.contains(':')
        && !content.starts_with(['-', '[', '{', '"', '\'', '|', '>', '&', '*', '!'])
        && content.contains(' ');
    let indent = |l: &str| l.len() - l.trim_start().len();
    (plain && indent(line) == indent(here)).then_some(above)
}

/// The indentation of line `line` (from 1), in characters.
fn indent_of(text: &str, line: usize) -> usize {
    text.lines()
        .nth(line.saturating_sub(1))
        .map_or(0, |l| l.chars().take_while(|c| *c == ' ').count())
}

/// The character at a mark.
fn char_at(text: &str, mark: Mark) -> Option<char> {
    text.lines()
        .nth(mark.line.checked_sub(1)?)?
        .chars()
        .nth(mark.column.checked_sub(1)?)
}

/// Where the quote that caused a quoted-scalar error was opened. At the end of the stream the
/// scanner reports the opening quote itself; for trailing content it reports the character after
/// the closing quote, and the opening one is the previous quote of the same kind.
fn open_quote(text: &str, mark: Mark, at_end: bool) -> Option<Mark> {
    if at_end {
        return matches!(char_at(text, mark)?, '"' | '\'').then_some(mark);
    }
    let close = Mark {
        line: mark.line,
        column: mark.column.checked_sub(1)?,
    };
    let q = char_at(text, close)?;
    if q != '"' && q != '\'' {
        return None;
    }
    let mut last = None;
    for (i, line) in text.lines().enumerate().take(close.line) {
        for (j, c) in line.chars().enumerate() {
            let here = Mark {
                line: i + 1,
                column: j + 1,
            };
            if here >= close {
                break;
            }
            if c == q {
                last = Some(here);
            }
        }
    }
    last
}

/// The innermost flow collection (`{ … }` or `[ … ]`) still open: its depth in the stack, where
/// it opens, and its bracket.
fn open_flow(text: &str, stack: &[Frame]) -> Option<(usize, Mark, char)> {
    stack.iter().enumerate().rev().find_map(|(depth, frame)| {
        let mark = match frame {
            Frame::Seq { mark, .. } | Frame::Map { mark, .. } => *mark,
        };
        match char_at(text, mark)? {
            c @ ('{' | '[') => Some((depth, mark, c)),
            _ => None,
        }
    })
}

fn resolve_scalar(
    v: &str,
    style: ScalarStyle,
    tag: Option<&str>,
    mark: Mark,
) -> Result<NodeValue, YamlError> {
    match tag {
        Some("tag:yaml.org,2002:str" | "!!str") => return Ok(NodeValue::Str(v.to_owned())),
        Some(t) if !t.starts_with("tag:yaml.org,2002:") && !t.starts_with("!!") => {
            return Err(YamlError::new(mark, format!("unsupported YAML tag `{t}`"))
                .hint("remove the tag; orgsync configuration uses plain values"));
        }
        _ => {}
    }
    if style != ScalarStyle::Plain {
        return Ok(NodeValue::Str(v.to_owned()));
    }
    Ok(match v {
        "" | "~" | "null" | "Null" | "NULL" => NodeValue::Null,
        "true" | "True" | "TRUE" => NodeValue::Bool(true),
        "false" | "False" | "FALSE" => NodeValue::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => NodeValue::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => NodeValue::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => NodeValue::Float(f64::NAN),
        _ => {
            if let Some(i) = parse_int(v) {
                NodeValue::Int(i)
            } else if looks_like_float(v) {
                v.parse::<f64>()
                    .map(NodeValue::Float)
                    .unwrap_or_else(|_| NodeValue::Str(v.to_owned()))
            } else {
                NodeValue::Str(v.to_owned())
            }
        }
    })
}

fn parse_int(v: &str) -> Option<i64> {
    if let Some(hex) = v.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).ok();
    }
    if let Some(oct) = v.strip_prefix("0o") {
        return i64::from_str_radix(oct, 8).ok();
    }
    let digits = v.strip_prefix(['-', '+']).unwrap_or(v);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        v.parse().ok()
    } else {
        None
    }
}

fn looks_like_float(v: &str) -> bool {
    let body = v.strip_prefix(['-', '+']).unwrap_or(v);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((a, b)) => {
            (!a.is_empty() || !b.is_empty())
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        }
        None => !mantissa.is_empty() && mantissa.bytes().all(|c| c.is_ascii_digit()),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|c| c.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

/// Where each value of a converted document was written: JSON pointer → (key mark, value mark).
#[derive(Debug, Clone, Default)]
pub struct Positions {
    map: HashMap<String, (Option<Mark>, Mark)>,
}

impl Positions {
    /// The mark of the value at `pointer`, or of its nearest ancestor.
    pub fn value(&self, pointer: &str) -> Mark {
        self.lookup(pointer, |(_, v)| *v)
    }

    /// The mark of the key holding `pointer` (the value's mark for list items), or of its nearest
    /// ancestor.
    pub fn key(&self, pointer: &str) -> Mark {
        self.lookup(pointer, |(k, v)| k.unwrap_or(*v))
    }

    /// Whether the document has a value at `pointer` itself (not only an ancestor).
    pub fn contains(&self, pointer: &str) -> bool {
        self.map.contains_key(pointer)
    }

    fn lookup(&self, pointer: &str, pick: impl Fn(&(Option<Mark>, Mark)) -> Mark) -> Mark {
        let mut p = pointer;
        loop {
            if let Some(entry) = self.map.get(p) {
                return pick(entry);
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return Mark { line: 1, column: 1 },
            }
        }
    }
}

/// Converts a node tree into JSON, recording every value's position.
pub fn to_json(node: &Node) -> (Value, Positions) {
    let mut positions = Positions::default();
    let value = convert(node, String::new(), None, &mut positions);
    (value, positions)
}

fn convert(node: &Node, pointer: String, key: Option<Mark>, pos: &mut Positions) -> Value {
    let value = match &node.value {
        NodeValue::Null => Value::Null,
        NodeValue::Bool(b) => Value::Bool(*b),
        NodeValue::Int(i) => Value::Number((*i).into()),
        NodeValue::Float(f) => Number::from_f64(*f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        NodeValue::Str(s) => Value::String(s.clone()),
        NodeValue::Seq(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, n)| convert(n, format!("{pointer}/{i}"), None, pos))
                .collect(),
        ),
        NodeValue::Map(entries) => {
            let mut map = Map::with_capacity(entries.len());
            for (k, v) in entries {
                let child = format!("{pointer}/{}", escape_pointer(&k.name));
                map.insert(k.name.clone(), convert(v, child, Some(k.mark), pos));
            }
            Value::Object(map)
        }
    };
    pos.map.insert(pointer, (key, node.mark));
    value
}

/// Escapes a JSON pointer segment (RFC 6901).
pub fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_core_schema_scalars() {
        let node = parse("a: 1\nb: '1'\nc: true\nd: ~\ne: 1.5\nf: text\ng: 0x1F\n")
            .unwrap()
            .unwrap();
        let (json, _) = to_json(&node);
        assert_eq!(
            json,
            serde_json::json!({"a":1,"b":"1","c":true,"d":null,"e":1.5,"f":"text","g":31})
        );
    }

    #[test]
    fn records_key_and_value_positions() {
        let node = parse("policy:\n  retention_days: 30\n").unwrap().unwrap();
        let (_, pos) = to_json(&node);
        assert_eq!(
            pos.key("/policy/retention_days"),
            Mark { line: 2, column: 3 }
        );
        assert_eq!(
            pos.value("/policy/retention_days"),
            Mark {
                line: 2,
                column: 19
            }
        );
        assert_eq!(
            pos.value("/policy/retention_days/deeper"),
            Mark {
                line: 2,
                column: 19
            }
        );
    }

    #[test]
    fn duplicate_key_is_an_error_naming_both_lines() {
        let err = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(err.mark.line, 3);
        assert!(
            err.message
                .contains("duplicate key `a` (first defined at line 1)"),
            "{}",
            err.message
        );
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            text.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"));
        }
        let err = parse(&text).unwrap_err();
        assert!(err.message.contains("aliases expand"), "{}", err.message);
    }

    #[test]
    fn small_aliases_expand() {
        let node = parse("base: &b {x: 1}\ncopy: *b\n").unwrap().unwrap();
        let (json, _) = to_json(&node);
        assert_eq!(json["copy"], serde_json::json!({"x": 1}));
    }

    #[test]
    fn errors_name_the_key_being_read() {
        let err = parse("policy:\n  retention_days: 30\n  retention_days: 60\n").unwrap_err();
        assert_eq!(err.pointer, "/policy/retention_days");
        let err = parse("a: 1\nlist:\n  - x\n  - !custom y\n").unwrap_err();
        assert_eq!(err.pointer, "/list/1");
    }

    #[test]
    fn unclosed_quote_points_at_the_opening_quote() {
        let text = "a:\n  - { s: \"1001, t: x }\n  - { s: \"1002\", t: y }\n";
        let err = parse(text).unwrap_err();
        assert_eq!(
            err.mark,
            Mark {
                line: 2,
                column: 10
            }
        );
        assert!(err.message.contains("runs on to line 3"), "{}", err.message);
        assert_eq!(err.hint.as_deref(), Some("add the closing `\"` on line 2"));

        let err = parse("a: 1\nb: 'never closed\n").unwrap_err();
        assert_eq!(err.mark, Mark { line: 2, column: 4 });
        assert!(err.message.contains("never closed"), "{}", err.message);
    }

    #[test]
    fn unclosed_flow_collection_points_at_its_bracket() {
        let err = parse("version: 1\nsource: { kind: file\ntarget: x\n").unwrap_err();
        assert_eq!(err.mark, Mark { line: 2, column: 9 });
        assert_eq!(err.pointer, "/source");
        assert!(
            err.message.contains("`{` opened here is not closed"),
            "{}",
            err.message
        );

        let err = parse("t: [\"a\", \"b\"\nsource: x\n").unwrap_err();
        assert_eq!(err.mark, Mark { line: 1, column: 4 });
        assert_eq!(err.pointer, "/t");
        assert_eq!(err.hint.as_deref(), Some("add the closing `]` on line 1"));
    }

    #[test]
    fn tab_error_points_at_the_tab() {
        let err = parse("target:\n\tkind: file\n").unwrap_err();
        assert_eq!(err.mark, Mark { line: 2, column: 1 });
        assert!(err.hint.unwrap().contains("indent with spaces"));
    }

    #[test]
    fn over_indented_key_says_what_is_wrong() {
        let err = parse("policy:\n  timezone: UTC\n    retention_days: 30\n").unwrap_err();
        assert_eq!(err.mark.line, 3);
        assert!(err.message.contains("unexpected `:`"), "{}", err.message);
        assert!(err.hint.unwrap().contains("same column"));
    }

    #[test]
    fn empty_document_is_none() {
        assert_eq!(parse("# only a comment\n").unwrap(), None);
        assert_eq!(parse("").unwrap(), None);
    }
}
