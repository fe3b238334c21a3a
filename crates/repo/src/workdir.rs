//! The configuration directory in the work tree: its YAML files read from disk, handed to the
//! core's pure loader, and the checks of the data files it names that need the disk.

use std::path::Path;

use orgsync_core::config::{
    self, Config, ErrorList, ROOT_FILE, data_path_errors, missing_root, single,
};

/// Loads and validates the configuration directory `dir`: `orgsync.yaml` and every other
/// `*.yaml`/`*.yml` file at its root, except the data files named by `source.path`/`target.path`.
pub fn load_dir(dir: &Path) -> Result<Config, ErrorList> {
    let (files, not_files) = config_files(dir)?;
    if !files.iter().any(|(n, _)| n == ROOT_FILE) {
        let found: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        return Err(missing_root(&dir.display().to_string(), &found));
    }
    let loaded = config::load_files_in(files, |path| dir.join(path).is_dir());
    match (loaded, not_files.0.is_empty()) {
        (Ok(config), true) => Ok(config),
        (Ok(_), false) => Err(not_files),
        (Err(mut errors), _) => {
            errors.0.extend(not_files.0);
            errors
                .0
                .sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
            Err(errors)
        }
    }
}

/// The checks of `source.path` and `target.path` against the work tree (neither may be a
/// directory).
pub fn data_paths(config: &Config, dir: &Path) -> Vec<config::ConfigError> {
    data_path_errors(config, |path| dir.join(path).is_dir())
}

/// The YAML files at the root of `dir` as (name, contents); hidden files and directories are
/// not configuration. Second, an error for each `*.yaml` entry that is not a file (a directory
/// named `extra.yaml`, a link to nothing): it looks like configuration but is not read.
/// (file name, contents) of each configuration file.
type Files = Vec<(String, Vec<u8>)>;

fn config_files(dir: &Path) -> Result<(Files, ErrorList), ErrorList> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        single(
            &dir.display().to_string(),
            format!("cannot read the configuration directory: {e}"),
            None,
        )
    })?;
    let mut files = Vec::new();
    let mut not_files = ErrorList::default();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_yaml = name.ends_with(".yaml") || name.ends_with(".yml");
        if !is_yaml || name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        if !path.is_file() {
            let what = if path.is_dir() {
                "a directory"
            } else if path.symlink_metadata().is_ok_and(|m| m.is_symlink()) {
                "a link to nothing"
            } else {
                "not a regular file"
            };
            not_files.0.extend(
                single(
                    &name,
                    format!("`{name}` is {what}, not a configuration file: it is not read"),
                    Some(format!(
                        "every *.yaml and *.yml entry at the root of the configuration directory is read as configuration; rename `{name}` (without .yaml) or make it a file"
                    )),
                )
                .0
                .into_iter()
                .map(|e| e.without_excerpt()),
            );
            continue;
        }
        let bytes =
            std::fs::read(&path).map_err(|e| single(&name, format!("cannot read: {e}"), None))?;
        files.push((name, bytes));
    }
    Ok((files, not_files))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_root_file_lists_what_the_directory_holds() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("communities.yaml"), "communities: []\n").unwrap();
        let e = load_dir(dir.path()).unwrap_err().0.remove(0);
        assert!(
            e.message.ends_with("(it holds communities.yaml)"),
            "{}",
            e.message
        );
    }

    #[test]
    fn source_path_that_is_a_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("exports")).unwrap();
        std::fs::write(
            dir.path().join("orgsync.yaml"),
            "version: 1\nsource: { kind: file, path: exports }\ntarget: { kind: file, path: ws.json }\n",
        )
        .unwrap();
        let errs = load_dir(dir.path()).unwrap_err().0;
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert_eq!((errs[0].line, errs[0].path.as_str()), (2, "source.path"));
        assert_eq!(
            errs[0].source_line.as_deref(),
            Some("source: { kind: file, path: exports }")
        );
    }
}
