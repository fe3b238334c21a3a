//! What users of Terraform and ripgrep expect of a command line: `--version` with the commit,
//! shell completions, a man page, `show` for a saved plan, `init` for a new configuration.

use crate::common::{self, orgsync};

/// `--version` names the commit the binary was built from (`build.rs`), or `unknown` when it
/// was built outside a git checkout.
#[test]
fn version_names_the_git_commit() {
    let run = orgsync(&["--version"]);
    run.assert_code(0);
    let version = env!("CARGO_PKG_VERSION");
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(common::repo())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    match commit {
        Some(commit) => run.assert_that(
            run.stdout == format!("orgsync {version} (rev {commit})\n"),
            &format!("--version names the checkout's commit {commit}"),
        ),
        None => run.assert_that(
            run.stdout == format!("orgsync {version} (rev unknown)\n"),
            "--version says the commit is unknown outside a git checkout",
        ),
    };
    let sub = orgsync(&["plan", "--version"]);
    sub.assert_code(0)
        .assert_that(sub.stdout.contains("(rev "), "subcommands print it too");
}
