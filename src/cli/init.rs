//! `orgsync init DIR`: a configuration that works at once (a file source and a file target
//! with tiny sample data: `orgsync plan -C DIR` plans three invites), the JSON Schemas its
//! modelines point at, and the example GitHub workflows. It never overwrites a file: when any
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
const CONFIG: [(&str, &str); 4] = [
    ("orgsync.yaml", include_str!("init/orgsync.yaml")),
    ("communities.yaml", include_str!("init/communities.yaml")),
    ("functions.yaml", include_str!("init/functions.yaml")),
    ("people.csv", include_str!("init/people.csv")),
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
                notes.push(
                    "In .github/workflows/orgsync-*.yml, replace `your-org/orgsync@v1` with the \
                     orgsync repository and tag you use, and add the connectors' secrets to the \
                     `orgsync` environment."
                        .to_owned(),
                );
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
}
