//! `orgsync init DIR`: a configuration that works at once (a file source and a file target
//! with tiny sample data: `orgsync plan -C DIR` plans three invites), a `.gitignore` (the file
//! target's lock and temporary files; the target file itself is committed, by the apply
//! workflow after each apply), the JSON Schemas its modelines point at, and the example GitHub
//! workflows. It never overwrites a file: when any
//! of them exists, it writes nothing.

use crate::ExitStatus;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, bail};

use orgsync_core::config::schema;

/// Arguments of `init`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The configuration directory to create (e.g. `orgsync`, as the workflows expect).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Do not write the GitHub workflows (.github/workflows/orgsync-*.yml in the current
    /// directory).
    #[arg(long)]
    pub no_workflows: bool,
}

/// The configuration files, as (name, contents).
const CONFIG: [(&str, &str); 5] = [
    ("orgsync.yaml", include_str!("init/orgsync.yaml")),
    ("communities.yaml", include_str!("init/communities.yaml")),
    ("functions.yaml", include_str!("init/functions.yaml")),
    ("people.csv", include_str!("init/people.csv")),
    // The file target's lock and an interrupted apply's temporary files stay out of git; the
    // target file itself (workspace.json) is committed: the apply workflow commits it back.
    (".gitignore", include_str!("init/gitignore")),
];

/// The example workflows of `examples/github/`, for `.github/workflows/`.
const WORKFLOWS: [(&str, &str); 4] = [
    (
        "orgsync-plan.yml",
        include_str!("../../examples/github/orgsync-plan.yml"),
    ),
    (
        "orgsync-apply.yml",
        include_str!("../../examples/github/orgsync-apply.yml"),
    ),
    (
        "orgsync-nightly.yml",
        include_str!("../../examples/github/orgsync-nightly.yml"),
    ),
    (
        "orgsync-hygiene.yml",
        include_str!("../../examples/github/orgsync-hygiene.yml"),
    ),
];

/// The directory the example workflows assume the configuration is in.
const EXAMPLE_DIR: &str = "orgsync";

pub(crate) fn run(args: Args) -> anyhow::Result<ExitStatus> {
    let dir = &args.dir;
    let mut files: Vec<(PathBuf, String)> = CONFIG
        .iter()
        .map(|(name, text)| (dir.join(name), (*text).to_owned()))
        .collect();
    for (name, value) in schema::all() {
        files.push((dir.join("schemas").join(name), schema::to_text(&value)));
    }
    let mut notes = Vec::new();
    if !args.no_workflows {
        match workflow_dir(dir) {
            Some(rel) => {
                for (name, text) in WORKFLOWS {
                    files.push((
                        Path::new(".github/workflows").join(name),
                        for_directory(text, &rel),
                    ));
                }
                notes.push(format!(
                    "In .github/workflows/orgsync-*.yml, replace `your-org/orgsync@v1` with the \
                     orgsync repository and tag you use. Create two GitHub environments: \
                     `{READ_ENVIRONMENT}` (plan, hygiene: read-only credentials) and \
                     `{APPLY_ENVIRONMENT}` (apply, nightly: write credentials, deployment branch \
                     `main`), and add the connectors' secrets to them under the names the \
                     configuration reads (`AFAS_TOKEN`, `SCIM_TOKEN`, …: `orgsync validate -C {}` \
                     lists them). The sample's file target ({}/workspace.json) is state in git: \
                     the apply workflows commit it back after each apply.",
                    rel_or_dot(&rel),
                    rel_or_dot(&rel),
                ));
            }
            None => notes.push(format!(
                "Wrote no GitHub workflows: {} is not inside the current directory. Run `orgsync \
                 init` from the repository root, or copy them from examples/github/.",
                dir.display()
            )),
        }
    }

    let existing: Vec<String> = files
        .iter()
        .filter(|(path, _)| path.symlink_metadata().is_ok())
        .map(|(path, _)| path.display().to_string())
        .collect();
    if !existing.is_empty() {
        bail!(
            "orgsync init writes nothing over existing files, and these exist: {} (move them \
             away, or init another directory)",
            existing.join(", ")
        );
    }
    for (path, text) in &files {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        // `create_new`: a file that appeared since the check above is still not overwritten.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }

    let mut s = String::new();
    for (path, _) in &files {
        s.push_str(&format!("wrote {}\n", path.display()));
    }
    let shown = dir.display();
    s.push_str(&format!(
        "\nA configuration with sample data is ready. Next:\n  orgsync validate -C {shown}\n  \
         orgsync plan -C {shown}\nthen point source and target at your systems (see the README's \
         configuration reference). The schemas in {shown}/schemas/ are this orgsync's; after an \
         upgrade, refresh them with `orgsync schema --out {shown}/schemas`.\n"
    ));
    for note in notes {
        s.push_str(&note);
        s.push('\n');
    }
    super::err(&s);
    Ok(ExitStatus::Success)
}

/// The GitHub environment of the read-only jobs (plan, hygiene), as the workflows name it.
const READ_ENVIRONMENT: &str = "orgsync-read";
/// The GitHub environment of the applying jobs (apply, nightly).
const APPLY_ENVIRONMENT: &str = "orgsync-apply";

fn rel_or_dot(rel: &str) -> &str {
    if rel.is_empty() { "." } else { rel }
}

/// `dir` as the workflows name it: relative to the current directory, with `/`, or `None` when
/// it is not inside it.
fn workflow_dir(dir: &Path) -> Option<String> {
    let relative = if dir.is_absolute() {
        let cwd = std::env::current_dir().ok()?;
        dir.strip_prefix(&cwd).ok()?.to_owned()
    } else {
        dir.to_owned()
    };
    let mut parts = Vec::new();
    for c in relative.components() {
        match c {
            Component::Normal(p) => parts.push(p.to_str()?.to_owned()),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(parts.join("/"))
}

/// An example workflow for the configuration directory `rel` instead of `orgsync/`.
fn for_directory(text: &str, rel: &str) -> String {
    let (paths, config) = if rel.is_empty() {
        ("**".to_owned(), ".".to_owned())
    } else {
        (format!("{rel}/**"), rel.to_owned())
    };
    text.replace(&format!("\"{EXAMPLE_DIR}/**\""), &format!("\"{paths}\""))
        .replace(
            &format!("config: {EXAMPLE_DIR}\n"),
            &format!("config: {config}\n"),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflows_follow_the_directory() {
        let plan = for_directory(WORKFLOWS[0].1, "hr/orgsync");
        assert!(plan.contains("\"hr/orgsync/**\""), "{plan}");
        assert!(plan.contains("config: hr/orgsync\n"), "{plan}");
        assert!(!plan.contains("config: orgsync\n"), "{plan}");
        for (_, text) in WORKFLOWS {
            assert!(text.contains(&format!("config: {EXAMPLE_DIR}\n")));
        }
        assert_eq!(workflow_dir(Path::new("./a/b")).as_deref(), Some("a/b"));
        assert_eq!(workflow_dir(Path::new("../a")), None);
        assert_eq!(workflow_dir(Path::new(".")).as_deref(), Some(""));
    }

    /// Regression (issue 20): `init` said to put the secrets in "the `orgsync` environment"
    /// while its workflows use two others, and the workflows passed `ONETEAM_TOKEN`, a name the
    /// README never uses.
    #[test]
    fn environment_and_secret_names_match_the_workflows() {
        for (name, text) in WORKFLOWS {
            for line in text
                .lines()
                .filter(|l| l.trim_start().starts_with("environment:"))
            {
                let env = line
                    .split(':')
                    .nth(1)
                    .unwrap()
                    .split('#')
                    .next()
                    .unwrap()
                    .trim();
                assert!(
                    [READ_ENVIRONMENT, APPLY_ENVIRONMENT].contains(&env),
                    "{name}: environment {env}"
                );
            }
            assert!(!text.contains("ONETEAM"), "{name}");
            assert!(
                text.contains("SCIM_TOKEN: ${{ secrets.SCIM_TOKEN }}"),
                "{name}"
            );
        }
        let readme = include_str!("../../README.md");
        for env in [READ_ENVIRONMENT, APPLY_ENVIRONMENT] {
            assert!(readme.contains(&format!("`{env}`")), "README names {env}");
        }
        assert!(readme.contains("${env:SCIM_TOKEN}") && readme.contains("${env:AFAS_TOKEN}"));
    }
}
