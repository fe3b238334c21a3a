//! Records the git commit orgsync is built from, for `orgsync --version`.
//!
//! Dependency-free on purpose: it asks the `git` command, and a build without git or outside a
//! checkout of this repository (`cargo install` from a tarball) says `unknown` instead of
//! failing. `ORGSYNC_GIT_COMMIT` set at build time wins (a packager that knows the commit).

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=ORGSYNC_GIT_COMMIT");
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let commit = match std::env::var("ORGSYNC_GIT_COMMIT") {
        Ok(c) if !c.trim().is_empty() => c.trim().to_owned(),
        _ => commit_of(&manifest_dir).unwrap_or_else(|| "unknown".to_owned()),
    };
    println!("cargo:rustc-env=ORGSYNC_GIT_COMMIT={commit}");
}

/// The short commit of the checkout at `dir`, when `dir` is the top of a git work tree (not a
/// crate unpacked somewhere inside another repository). Registers the files that change when
/// HEAD moves, so the next build notices a new commit.
fn commit_of(dir: &Path) -> Option<String> {
    let top = git(dir, &["rev-parse", "--show-toplevel"])?;
    if std::fs::canonicalize(&top).ok()? != std::fs::canonicalize(dir).ok()? {
        return None;
    }
    // A linked work tree has its own HEAD (git-dir) and shares its refs (git-common-dir).
    let git_dir = absolute(dir, &git(dir, &["rev-parse", "--git-dir"])?);
    let common_dir = absolute(dir, &git(dir, &["rev-parse", "--git-common-dir"])?);
    println!("cargo:rerun-if-changed={}", git_dir.join("HEAD").display());
    if let Some(reference) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        let loose = common_dir.join(&reference);
        if loose.exists() {
            println!("cargo:rerun-if-changed={}", loose.display());
        }
    }
    let packed = common_dir.join("packed-refs");
    if packed.exists() {
        println!("cargo:rerun-if-changed={}", packed.display());
    }
    git(dir, &["rev-parse", "--short=12", "HEAD"])
}

fn absolute(dir: &Path, path: &str) -> PathBuf {
    let path = Path::new(path);
    if path.is_absolute() {
        path.to_owned()
    } else {
        dir.join(path)
    }
}

/// `git ARGS` in `dir`, its trimmed stdout on success; `None` when git is missing or fails.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}
