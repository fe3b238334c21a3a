//! Helpers shared by the command-line tests: run the built binary, capture its exit code, stdout
//! and stderr as one snapshot with machine-specific paths filtered out, and report a failure with
//! everything needed to reproduce it.

use std::fmt::Write;
use std::path::{Path, PathBuf};

/// The repository root; commands run here unless a test says otherwise, so fixture paths in
/// snapshots are short and the same on every machine.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A finished run of `orgsync`.
#[derive(Debug)]
pub struct Run {
    /// The command line, as a person would type it.
    pub command: String,
    /// The working directory.
    pub dir: PathBuf,
    /// The exit code (`-1` when killed by a signal).
    pub code: i32,
    /// Everything written to stdout.
    pub stdout: String,
    /// Everything written to stderr.
    pub stderr: String,
}

/// Runs `orgsync ARGS` in the repository root.
pub fn orgsync(args: &[&str]) -> Run {
    orgsync_in(repo(), args)
}

/// Runs `orgsync ARGS` in `dir`, without colour and without inherited log settings.
pub fn orgsync_in(dir: &Path, args: &[&str]) -> Run {
    let mut cmd = assert_cmd::Command::cargo_bin("orgsync").expect("the orgsync binary is built");
    cmd.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("RUST_LOG")
        .env_remove("ORGSYNC_LOG_FORMAT")
        // The fixtures are not versioned configurations: orgsync must not find this repository
        // above them (plans would record its commit). Tests that want git build their own.
        .env("GIT_CEILING_DIRECTORIES", repo())
        .env_remove("GITHUB_ACTOR");
    let output = cmd.output().expect("orgsync runs");
    Run {
        command: command_line("orgsync", args),
        dir: dir.to_owned(),
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs `orgsync ARGS` through `sh -c` with the address space limited to `limit_kib` KiB, so a
/// run that tries to allocate without bound fails fast instead of exhausting the machine.
#[cfg(target_os = "linux")]
pub fn orgsync_with_memory_limit(limit_kib: u64, args: &[&str]) -> Run {
    let bin = assert_cmd::cargo::cargo_bin("orgsync");
    let script = format!("ulimit -v {limit_kib} && exec \"$0\" \"$@\"");
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg(&script)
        .arg(&bin)
        .args(args)
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("RUST_LOG")
        .env_remove("ORGSYNC_LOG_FORMAT");
    let output = cmd.output().expect("sh runs");
    Run {
        command: format!("(ulimit -v {limit_kib}; {})", command_line("orgsync", args)),
        dir: repo().to_owned(),
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn command_line(program: &str, args: &[&str]) -> String {
    let mut line = program.to_owned();
    for a in args {
        let plain = !a.is_empty()
            && a.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_./=:@%+,".contains(&b));
        if plain {
            let _ = write!(line, " {a}");
        } else {
            let _ = write!(line, " '{}'", a.replace('\'', r"'\''"));
        }
    }
    line
}

impl Run {
    /// Exit code, stdout and stderr in one string, for a snapshot. Paths are filtered by the
    /// insta settings of [`settings`].
    pub fn snapshot(&self) -> String {
        format!(
            "$ {}\nexit code: {}\n----- stdout -----\n{}----- stderr -----\n{}",
            self.command, self.code, self.stdout, self.stderr
        )
    }

    /// Everything needed to reproduce a failure: command, directory and both outputs.
    pub fn report(&self) -> String {
        format!(
            "command: {}\ndir:     {}\nexit code: {}\n----- stdout -----\n{}----- stderr -----\n{}",
            self.command,
            self.dir.display(),
            self.code,
            self.stdout,
            self.stderr
        )
    }

    /// Panics with [`Run::report`] unless the run exited with `code`.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert!(
            self.code == code,
            "expected exit code {code}, got {}\n{}",
            self.code,
            self.report()
        );
        self
    }

    /// Panics with [`Run::report`] unless `check` holds; `what` says what was expected.
    #[track_caller]
    pub fn assert_that(&self, check: bool, what: &str) -> &Self {
        assert!(check, "{what}\n{}", self.report());
        self
    }
}

/// insta settings for snapshots of runs: temporary directories and the repository path are
/// replaced by `[TEMP]` and `[REPO]`, and the snapshot's description records the command, so a
/// failing snapshot says how to reproduce it.
pub fn settings(run: &Run) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    // The snapshot starts with the command; the description adds where it ran.
    settings.set_description(format!("run in {}", relative_dir(&run.dir)));
    settings.set_omit_expression(true);
    for (pattern, name) in path_filters() {
        settings.add_filter(&pattern, name);
    }
    settings
}

/// (regex, replacement) pairs for the paths that differ between machines: a `tempfile`
/// directory (`<temp>/.tmpXXXXXX`) becomes `[TEMP]`, the repository `[REPO]`.
fn path_filters() -> Vec<(String, &'static str)> {
    let mut filters = Vec::new();
    for (path, name) in [
        (std::env::temp_dir(), "[TEMP]"),
        (repo().to_owned(), "[REPO]"),
    ] {
        let mut variants = vec![path.display().to_string()];
        if let Ok(canonical) = path.canonicalize() {
            variants.push(canonical.display().to_string());
        }
        for p in variants {
            let p = regex_escape(p.trim_end_matches('/'));
            if name == "[TEMP]" {
                filters.push((format!(r"{p}/\.tmp[0-9A-Za-z]+"), name));
            }
            filters.push((p, name));
        }
    }
    filters
}

fn relative_dir(dir: &Path) -> String {
    if let Ok(rel) = dir.strip_prefix(repo()) {
        return if rel.as_os_str().is_empty() {
            "the repository root".to_owned()
        } else {
            rel.display().to_string()
        };
    }
    if dir.starts_with(std::env::temp_dir()) {
        return "a temporary directory".to_owned();
    }
    dir.display().to_string()
}

fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A temporary directory holding `files` (name, contents); removed when dropped.
pub fn temp_config(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (name, contents) in files {
        std::fs::write(dir.path().join(name), contents).expect("write a fixture file");
    }
    dir
}

/// Copies a configuration directory (files only, one level deep) into a new temporary directory,
/// so a test can apply to it without touching the repository's copy.
pub fn copy_example(name: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let from = repo().join("examples").join(name);
    for entry in std::fs::read_dir(&from).expect("the example exists") {
        let entry = entry.expect("a directory entry");
        if entry.path().is_file() {
            std::fs::copy(entry.path(), tmp.path().join(entry.file_name())).expect("copy");
        }
    }
    tmp
}

/// Runs git in `dir` with a fixed identity, never finding this repository above it; fails the
/// test when git fails. Returns what git printed.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CEILING_DIRECTORIES", repo())
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .expect("git runs (is git installed?)");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Commits everything in `dir`, making it a repository on the first call, so that applies are
/// recorded (on the newest commit).
pub fn commit_all(dir: &Path) -> git2::Repository {
    let repo = git2::Repository::open(dir).unwrap_or_else(|_| {
        let repo = git2::Repository::init(dir).expect("git init");
        let mut config = repo.config().expect("repository config");
        config.set_str("user.name", "Carol Operator").expect("set");
        config
            .set_str("user.email", "carol@ops.example")
            .expect("set");
        repo
    });
    {
        let mut index = repo.index().expect("index");
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .expect("add");
        index.write().expect("write index");
        let tree = repo
            .find_tree(index.write_tree().expect("tree"))
            .expect("tree");
        let sig = repo.signature().expect("signature");
        let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        repo.commit(Some("HEAD"), &sig, &sig, "configuration", &tree, &parents)
            .expect("commit");
    }
    repo
}
