//! The one error type of the configuration: a problem located in a file (line, column, key
//! path) with what to do about it. Every check — YAML syntax, schema, semantics — reports
//! through it, so that they all print alike.

use std::fmt;

use globset::GlobBuilder;
use serde::Serialize;

use super::yaml::Mark;

/// One problem in the configuration, located in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigError {
    /// File, relative to the configuration directory.
    pub file: String,
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
    /// Key path, like `policy.retention_days` or `communities[2].target` (empty for the file).
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The offending source line, for display.
    #[serde(skip)]
    pub source_line: Option<String>,
    /// Set for errors about something absent (a missing section, an empty file): quoting the
    /// line at their position would only mislead.
    #[serde(skip)]
    pub no_excerpt: bool,
}

impl ConfigError {
    /// An error at a position.
    pub fn new(
        file: &str,
        mark: Mark,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ConfigError {
            file: file.to_owned(),
            line: mark.line,
            column: mark.column,
            path: path.into(),
            message: message.into(),
            hint: None,
            source_line: None,
            no_excerpt: false,
        }
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Marks an error whose position has no line worth quoting.
    pub fn without_excerpt(mut self) -> Self {
        self.no_excerpt = true;
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)?;
        if let Some(h) = &self.hint {
            write!(f, " ({h})")?;
        }
        Ok(())
    }
}

/// Every error found in one run, sorted by file and position.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorList(pub Vec<ConfigError>);

impl ErrorList {
    pub(crate) fn push(&mut self, e: ConfigError) {
        self.0.push(e);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn finish(mut self) -> Self {
        self.0.sort_by(|a, b| {
            (&a.file, a.line, a.column, &a.message).cmp(&(&b.file, b.line, b.column, &b.message))
        });
        self.0
            .dedup_by(|a, b| a.file == b.file && a.line == b.line && a.message == b.message);
        self
    }
}

impl fmt::Display for ErrorList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.0 {
            writeln!(f, "{e}")?;
        }
        write!(
            f,
            "{} error{} in the configuration",
            self.0.len(),
            if self.0.len() == 1 { "" } else { "s" }
        )
    }
}

impl std::error::Error for ErrorList {}

/// JSON pointer `/communities/2/target` → `communities[2].target`.
pub fn display_path(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg);
        }
    }
    out
}

/// `at(pointer, message)`: an error placed at the key of `pointer` in the merged configuration
/// (or its nearest ancestor that was written). The checks take it rather than the positions, so
/// that they read as what they check.
pub(crate) type At<'a> = &'a dyn Fn(&str, String) -> ConfigError;

/// A pattern that does not compile as a glob, at `pointer`. The hint shows the escapes because the usual cause
/// is a `[` or `{` meant literally.
pub(crate) fn glob_error(at: At<'_>, pointer: &str, pattern: &str) -> Option<ConfigError> {
    let e = GlobBuilder::new(pattern)
        .case_insensitive(true)
        .build()
        .err()?;
    let reason = e.kind().to_string();
    Some(
        at(pointer, format!("invalid glob \"{pattern}\": {reason}")).hint(
            "globs use * (any text), ? (one character), [a-z] (a range) and {a,b} (either); to match [ or { literally, write [[] or [{]",
        ),
    )
}
