//! `orgsync man [--out DIR]`: the man page, generated from the command line's own definition
//! (clap_mangen). Without `--out` it prints `orgsync.1` (`orgsync man | man -l -`); with it, it
//! writes `orgsync.1` and a page per subcommand (`orgsync-plan.1`, …), as git and cargo ship
//! theirs, for a packager's `share/man/man1`.

use crate::ExitStatus;
use std::path::PathBuf;

use anyhow::Context;
use clap::CommandFactory;

/// Arguments of `man`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write orgsync.1 and one page per subcommand (orgsync-plan.1, …) into DIR; without it,
    /// print orgsync.1.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitStatus> {
    let cmd = super::Cli::command();
    match args.out {
        None => {
            let mut page = Vec::new();
            render(&clap_mangen::Man::new(cmd), &mut page)?;
            super::out(&String::from_utf8(page)?)?;
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            generate_to(cmd, &dir)
                .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
            super::err(&format!("wrote the man pages into {}\n", dir.display()));
        }
    }
    Ok(ExitStatus::Success)
}

/// The exit codes (`main`'s [`ExitStatus`] and the signals), as (code, meaning).
pub(crate) const EXIT_CODES: &[(&str, &str)] = &[
    ("0", "Success; a plan without changes."),
    (
        "1",
        "An error: an invalid configuration (validate names each problem's file, line and key), a plan with errors, a stale or edited plan file, a failed apply, a usage error, and an unsafe plan without --detailed-exitcode.",
    ),
    ("2", "plan --detailed-exitcode: the plan has changes."),
    (
        "3",
        "plan --detailed-exitcode: the plan is unsafe (over a safety limit); it needs a person's review and an override to apply.",
    ),
    (
        "130",
        "An interrupted apply (SIGINT or SIGTERM): the actions in flight finished, what was done is written and recorded.",
    ),
    (
        "143",
        "A second SIGTERM during an apply ended orgsync at once (a second SIGINT: 130).",
    ),
];

/// The environment variables orgsync reads, as (name, meaning). Connector secrets are named by
/// the configuration itself.
pub(crate) const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "NAME (as the configuration says)",
        "Connector credentials: every secret in the configuration is a reference ${env:NAME} or { env: NAME }; orgsync validate lists the ones a configuration needs.",
    ),
    (
        "NO_COLOR",
        "When set and not empty: no colour, also on a terminal (--color always overrides it).",
    ),
    (
        "CLICOLOR_FORCE",
        "When set and not 0: colour, as --color always.",
    ),
    (
        "RUST_LOG",
        "The log filter (like orgsync=debug); overrides the level of -v.",
    ),
    (
        "ORGSYNC_REMOTE",
        "The git remote the apply records (notes) and the apply lease are pushed to and read from, by name; none keeps both in this clone. Default: the remote the configuration repository travels with.",
    ),
    (
        "ORGSYNC_PROGRESS_SECS",
        "Off a terminal: seconds between progress lines of a long fetch or apply (default 10).",
    ),
    (
        "GITHUB_ACTOR",
        "Recorded as who applied (in GitHub Actions); otherwise the git user name.",
    ),
    (
        "COMPUTERNAME",
        "The host name recorded in the apply lease on Windows.",
    ),
    (
        "TZDIR",
        "The directory of the time zone database policy.timezone is read from; otherwise /usr/share/zoneinfo, /usr/share/lib/zoneinfo or /etc/zoneinfo, and the copy built into orgsync where none exists.",
    ),
];

/// `text` for roff: backslashes and hyphens escaped, no line starting with a control character.
fn roff(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with(['.', '\'']) {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

/// The EXIT STATUS and ENVIRONMENT sections.
fn extra_sections() -> String {
    let mut s = String::from(".SH \"EXIT STATUS\"\n");
    for (code, meaning) in EXIT_CODES {
        s.push_str(&format!(".TP\n\\fB{}\\fR\n{}\n", roff(code), roff(meaning)));
    }
    s.push_str(".SH ENVIRONMENT\n");
    for (name, meaning) in ENVIRONMENT {
        s.push_str(&format!(".TP\n\\fB{}\\fR\n{}\n", roff(name), roff(meaning)));
    }
    s
}

/// A page as clap_mangen renders it, with EXIT STATUS and ENVIRONMENT before VERSION.
fn render(man: &clap_mangen::Man, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    let mut head = Vec::new();
    man.render(&mut head)?;
    let head = String::from_utf8_lossy(&head).into_owned();
    // clap_mangen ends a page with its VERSION (and AUTHORS) sections: put ours before them.
    let at = head
        .find(".SH VERSION")
        .or_else(|| head.find(".SH AUTHORS"))
        .unwrap_or(head.len());
    w.write_all(&head.as_bytes()[..at])?;
    w.write_all(extra_sections().as_bytes())?;
    w.write_all(&head.as_bytes()[at..])
}

/// `orgsync.1` and a page per subcommand, as `clap_mangen::generate_to` writes them, each with
/// the extra sections.
fn generate_to(cmd: clap::Command, dir: &std::path::Path) -> std::io::Result<()> {
    fn generate(cmd: clap::Command, dir: &std::path::Path) -> std::io::Result<()> {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned() {
            generate(sub, dir)?;
        }
        let man = clap_mangen::Man::new(cmd);
        let mut file = std::fs::File::create(dir.join(man.get_filename()))?;
        render(&man, &mut file)?;
        std::io::Write::flush(&mut file)
    }
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    generate(cmd, dir)
}
