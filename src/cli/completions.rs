//! `orgsync completions <SHELL>`: a completion script on stdout, generated from the command
//! line's own definition (clap_complete), so it never falls behind a new flag.

use crate::ExitStatus;
use clap::CommandFactory;
use clap_complete::Shell;

/// Arguments of `completions`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Install, for example:\n  \
    bash: orgsync completions bash > ~/.local/share/bash-completion/completions/orgsync\n  \
    zsh:  orgsync completions zsh > ~/.zfunc/_orgsync  (with fpath+=~/.zfunc before compinit)\n  \
    fish: orgsync completions fish > ~/.config/fish/completions/orgsync.fish\n  \
    PowerShell: orgsync completions powershell >> $PROFILE")]
pub struct Args {
    /// The shell to write the completion script for.
    #[arg(value_enum)]
    pub shell: Shell,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitStatus> {
    let mut cmd = super::Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "orgsync", &mut script);
    super::out(&String::from_utf8(script)?)?;
    Ok(ExitStatus::Success)
}
