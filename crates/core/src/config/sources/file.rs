//! `source: { kind: file }`: a JSON, CSV or YAML export, with its column names configured.

use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ColumnOverrides, Columns};
use crate::config::error::{At, ConfigError};
use crate::config::{Config, TargetConfig};

/// A file export of people: one row per person, or one row per person and community/function
/// (rows with the same identifier are merged).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileSourceConfig {
    /// Path of the export, relative to the configuration directory.
    pub path: String,
    /// File format. Default: from the file extension (`.json`, `.csv`, `.yaml`/`.yml`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<FileFormat>,
    /// For JSON/YAML: the key holding the list of rows when the file is an object (AFAS exports
    /// put them under `rows`). Default: the file is the list itself, or its `rows` key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<String>,
    /// For CSV: the field delimiter, one character. Default `,`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    /// How dates are written, as a strftime pattern (`%d-%m-%Y`). Default: ISO 8601 dates; a
    /// time part (AFAS writes `2024-01-01T00:00:00Z` for local dates) is ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_format: Option<String>,
    /// Which column holds which field. Name only those that differ from orgsync's own field
    /// names (`id`, `email`, …): every field left out keeps its default.
    #[serde(default, deserialize_with = "Columns::deserialize_file")]
    #[schemars(with = "ColumnOverrides")]
    pub columns: Columns,
}

/// Format of a file export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    /// A JSON list of objects, or an object holding one.
    Json,
    /// Comma (or `delimiter`) separated values with a header row.
    Csv,
    /// A YAML list of mappings, or a mapping holding one.
    Yaml,
}

/// `source` of kind `file`.
pub(super) fn errors(
    f: &FileSourceConfig,
    config: &Config,
    at: At<'_>,
    errs: &mut Vec<ConfigError>,
) {
    if f.path.trim().is_empty() {
        errs.push(
            at("/source/path", "the export's path is empty".into())
                .hint("name the export file, relative to the configuration directory, like `hr-export.json`"),
        );
    }
    if let TargetConfig::File(t) = &config.target
        && !f.path.trim().is_empty()
        && normalize(&f.path) == normalize(&t.path)
    {
        errs.push(
            at(
                "/source/path",
                format!(
                    "source.path and target.path both name `{}`: apply would overwrite the HR export with the workspace",
                    f.path
                ),
            )
            .hint("the source is the export of the HR system, the target the app's workspace: they are two files"),
        );
    }
    let format = f.format.or_else(|| {
        match Path::new(&f.path)
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("json") => Some(FileFormat::Json),
            Some("csv") => Some(FileFormat::Csv),
            Some("yaml" | "yml") => Some(FileFormat::Yaml),
            _ => None,
        }
    });
    if let Some(d) = &f.delimiter {
        let one_char =
            d.chars().count() == 1 && d.is_ascii() && !matches!(d.as_str(), "\"" | "\n" | "\r");
        if !(one_char || d == "\\t" || d == "tab") {
            let what = if d.is_empty() {
                "the delimiter is empty".to_owned()
            } else {
                format!("\"{d}\" is not one character: CSV fields are split on one ASCII character")
            };
            errs.push(
                at("/source/delimiter", what)
                    .hint("write one character, like `;` or `|`, or `tab` for tab-separated files"),
            );
        } else if matches!(format, Some(FileFormat::Json | FileFormat::Yaml)) {
            errs.push(
                at(
                    "/source/delimiter",
                    format!(
                        "a delimiter only applies to CSV, and this export is {}",
                        format_name(format)
                    ),
                )
                .hint("remove `delimiter`, or set `format: csv` if the file really is CSV"),
            );
        }
    }
    if let Some(r) = &f.records {
        if r.trim().is_empty() {
            errs.push(
                at("/source/records", "the records key is empty".into()).hint(
                    "name the key that holds the list of rows, like `rows`, or remove `records` when the file is the list itself",
                ),
            );
        } else if format == Some(FileFormat::Csv) {
            errs.push(
                at(
                    "/source/records",
                    "`records` only applies to JSON and YAML exports, and this export is CSV"
                        .into(),
                )
                .hint("remove `records`: every line of a CSV file after the header is a row"),
            );
        }
    }
    if let Some(format) = &f.date_format
        && let Err(why) = check_date_format(format)
    {
        errs.push(
            at("/source/date_format", format!("the date format \"{format}\" {why}"))
                .hint("a date format needs the year, month and day as strftime fields, like `%d-%m-%Y` (31-12-2025) or `%m/%d/%Y`; leave it out for ISO dates (2025-12-31)"),
        );
    }
}

/// A date format is useful only if the dates it writes read back as the same dates.
fn check_date_format(format: &str) -> Result<(), String> {
    use jiff::civil::date;
    for d in [date(2031, 11, 23), date(2032, 2, 5)] {
        let text = jiff::fmt::strtime::format(format, d)
            .map_err(|e| format!("is not a strftime pattern: {e}"))?;
        match jiff::civil::Date::strptime(format, &text) {
            Ok(back) if back == d => {}
            Ok(back) => {
                return Err(format!(
                    "reads dates wrongly: {d} written with it is \"{text}\", which reads back as {back}"
                ));
            }
            Err(_) => {
                return Err(format!(
                    "cannot read a date: {d} written with it is \"{text}\", which does not read back as a date"
                ));
            }
        }
    }
    Ok(())
}

fn format_name(format: Option<FileFormat>) -> &'static str {
    match format {
        Some(FileFormat::Json) => "JSON",
        Some(FileFormat::Yaml) => "YAML",
        Some(FileFormat::Csv) => "CSV",
        None => "of unknown format",
    }
}

/// A relative path as compared: without `./` and with `/` separators.
fn normalize(path: &str) -> String {
    let p = path.trim().replace('\\', "/");
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            s => parts.push(s),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::{file, load, messages};

    #[test]
    fn date_formats_must_read_back_their_own_dates() {
        assert!(check_date_format("%d-%m-%Y").is_ok());
        assert!(check_date_format("%m/%d/%Y").is_ok());
        assert!(check_date_format("%Y%m%d").is_ok());
        assert!(check_date_format("DD-MM-YYYY").is_err());
        assert!(check_date_format("%d-%m").is_err());
        assert!(check_date_format("%Q").is_err());
        // Two-digit years read back as this century.
        assert!(check_date_format("%d-%m-%y").is_ok());
    }

    #[test]
    fn delimiters_are_one_character_or_tab() {
        for ok in [";", "|", "\\t", "tab"] {
            load(&file(&format!("  delimiter: \"{ok}\"\n"), "")).unwrap();
        }
        for bad in [";;", "", "\\\""] {
            let m = messages(&file(&format!("  delimiter: \"{bad}\"\n"), ""));
            assert_eq!(m.len(), 1, "{bad}: {m:?}");
            assert!(m[0].starts_with("source.delimiter: "), "{m:?}");
        }
    }
}
