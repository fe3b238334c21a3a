//! The git workflow on real repositories built in temporary directories: the configuration at a
//! ref, pull-request plans, explain with blame, apply records in git notes, plan files tied to a
//! commit, import, and the pre-commit hook. Where the git CLI is installed, what orgsync writes is
//! cross-checked with it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use git2::{IndexAddOption, Repository, Signature, Time};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::{Run, copy_example, orgsync_in, repo, settings};

const AT: &str = "2026-11-22";

/// A repository holding the quickstart configuration under `config/`, committed on `main` by
/// Alice; commit times are fixed so that runs are reproducible.
struct Fixture {
    tmp: tempfile::TempDir,
    repo: Repository,
    main: String,
}

impl Fixture {
    fn quickstart() -> Fixture {
        let tmp = tempfile::tempdir().expect("a temporary directory");
        let repo = Repository::init(tmp.path()).expect("git init");
        repo.set_head("refs/heads/main").expect("HEAD → main");
        let mut config = repo.config().expect("repository config");
        config.set_str("user.name", "Carol Operator").expect("set");
        config
            .set_str("user.email", "carol@ops.example")
            .expect("set");
        let from = repo_root().join("examples/quickstart");
        std::fs::create_dir(tmp.path().join("config")).expect("mkdir");
        for entry in std::fs::read_dir(&from).expect("the quickstart exists") {
            let entry = entry.expect("an entry");
            std::fs::copy(
                entry.path(),
                tmp.path().join("config").join(entry.file_name()),
            )
            .expect("copy");
        }
        let mut f = Fixture {
            tmp,
            repo,
            main: String::new(),
        };
        f.main = f.commit("HEAD", "Alice Example", 0, "Initial configuration");
        f
    }

    fn path(&self) -> &Path {
        self.tmp.path()
    }

    fn config(&self) -> PathBuf {
        self.path().join("config")
    }

    /// Commits the work tree to `reference` as `author`, `day` days after a fixed date.
    fn commit(&self, reference: &str, author: &str, day: i64, message: &str) -> String {
        let mut index = self.repo.index().expect("index");
        index
            .add_all(["*"], IndexAddOption::DEFAULT, None)
            .expect("add");
        index.write().expect("write index");
        let tree = self
            .repo
            .find_tree(index.write_tree().expect("tree"))
            .expect("tree");
        let email = format!("{}@example.test", author.split(' ').next().unwrap_or("x"));
        let when = Time::new(1_763_200_000 + day * 86_400, 60);
        let sig = Signature::new(author, &email, &when).expect("signature");
        let parent = self.repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        self.repo
            .commit(Some(reference), &sig, &sig, message, &tree, &parents)
            .expect("commit")
            .to_string()
    }

    /// Commits `edits` to a new branch `name` on top of main, by Bob, then restores the work
    /// tree to main: the branch exists only in git, as a pull request's head does in CI.
    fn branch(&self, name: &str, message: &str, edits: &[(&str, &str, &str)]) -> String {
        for (file, from, to) in edits {
            replace(&self.config().join(file), from, to);
        }
        let id = self.commit(&format!("refs/heads/{name}"), "Bob Builder", 1, message);
        let main = self
            .repo
            .find_object(git2::Oid::from_str(&self.main).expect("oid"), None)
            .expect("main");
        self.repo
            .reset(&main, git2::ResetType::Hard, None)
            .expect("reset");
        id
    }

    fn run(&self, args: &[&str]) -> Run {
        orgsync_in(self.path(), args)
    }

    /// `orgsync ARGS` with extra environment variables.
    fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = assert_cmd::Command::cargo_bin("orgsync").expect("the binary");
        cmd.args(args)
            .current_dir(self.path())
            .env("NO_COLOR", "1")
            .env_remove("GITHUB_ACTOR")
            .env_remove("RUST_LOG");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let output = cmd.output().expect("orgsync runs");
        Run {
            command: format!("orgsync {}", args.join(" ")),
            dir: self.path().to_owned(),
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// `git ARGS` in the repository, when the git CLI is installed.
    fn git(&self, args: &[&str]) -> Option<String> {
        let output = std::process::Command::new("git")
            .args(args)
            .current_dir(self.path())
            .output()
            .ok()?;
        assert!(
            output.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Some(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// The work tree's files and HEAD, to show that a command left them alone.
    fn state(&self) -> (String, Vec<(PathBuf, Vec<u8>)>) {
        let head = self
            .repo
            .head()
            .expect("HEAD")
            .target()
            .expect("id")
            .to_string();
        let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(self.config())
            .expect("dir")
            .map(|e| {
                let p = e.expect("entry").path();
                let bytes = std::fs::read(&p).expect("read");
                (p, bytes)
            })
            .collect();
        files.sort();
        (head, files)
    }
}

fn repo_root() -> &'static Path {
    repo()
}

fn replace(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).expect("read");
    assert!(
        text.contains(from),
        "{} does not contain {from:?}",
        path.display()
    );
    std::fs::write(path, text.replacen(from, to, 1)).expect("write");
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON: {e}\n{}", run.report()))
}

/// The pull request of the tests: maps Haarlem (1006, two new people) onto Amsterdam Zuid and
/// Teamlead Procurement (F-TLP) onto Management.
fn pull_request(f: &Fixture) -> String {
    f.branch(
        "pr",
        "Map Haarlem and Teamlead Procurement",
        &[
            (
                "communities.yaml",
                "  - { source: \"1002\", name: Amsterdam Zuid, target: Amsterdam Zuid }\n",
                "  - { source: \"1002\", name: Amsterdam Zuid, target: Amsterdam Zuid }\n  - { source: \"1006\", name: Haarlem, target: Amsterdam Zuid }\n",
            ),
            (
                "functions.yaml",
                "    - { source: F-NIGHT, name: Night Auditor, target: Guest Relations }\n",
                "    - { source: F-NIGHT, name: Night Auditor, target: Guest Relations }\n    - { source: F-TLP, name: Teamlead Procurement, target: Management }\n",
            ),
        ],
    )
}

/// (kind, subject, changes) of every action of a plan JSON.
fn actions(plan: &Value) -> BTreeSet<(String, String, String)> {
    plan["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap().to_owned(),
                a["subject"].as_str().unwrap().to_owned(),
                a["changes"].to_string(),
            )
        })
        .collect()
}

fn kinds_and_subjects(list: &Value) -> BTreeSet<(String, String)> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap().to_owned(),
                a["subject"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pair(kind: &str, subject: &str) -> (String, String) {
    (kind.to_owned(), subject.to_owned())
}

#[test]
fn plan_base_names_exactly_the_changes_the_pull_request_introduces() {
    let f = Fixture::quickstart();
    let pr = pull_request(&f);
    let before = f.state();

    let base = f.run(&[
        "plan", "-C", "config", "--ref", "main", "--at", AT, "--format", "json",
    ]);
    let head = f.run(&[
        "plan", "-C", "config", "--ref", "pr", "--at", AT, "--format", "json",
    ]);
    let run = f.run(&[
        "plan", "-C", "config", "--ref", "pr", "--base", "main", "--at", AT, "--format", "json",
    ]);
    run.assert_code(0);
    let (base, head, both) = (json(&base), json(&head), json(&run));
    let section = &both["pull_request"];

    // Exactly: Haarlem's two new people are invited into Amsterdam Zuid; the two Teamlead
    // Procurement people go to Management instead of No function.
    assert_eq!(
        kinds_and_subjects(&section["introduced"]),
        BTreeSet::from([pair("invite", "4401"), pair("invite", "4402")])
    );
    let changed: BTreeSet<(String, String)> = section["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["base"]["kind"], c["head"]["kind"]);
            (
                c["head"]["kind"].as_str().unwrap().to_owned(),
                c["head"]["subject"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        changed,
        BTreeSet::from([pair("invite", "4303"), pair("update", "4024")])
    );
    assert_eq!(section["withdrawn"], Value::Array(vec![]));
    assert_eq!(section["base"]["commit"], f.main.as_str());
    assert_eq!(both["digests"]["config_commit"], pr.as_str());

    // Cross-check with the two plans made separately: what differs is the pull request's; the
    // rest is pending anyway.
    let (b, h) = (actions(&base), actions(&head));
    let differs: BTreeSet<(String, String)> = h
        .difference(&b)
        .map(|(k, s, _)| (k.clone(), s.clone()))
        .collect();
    let mut effect = kinds_and_subjects(&section["introduced"]);
    effect.extend(changed);
    assert_eq!(effect, differs);
    let pending: usize = section["summary"]["pending"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap() as usize)
        .sum();
    assert_eq!(pending, h.intersection(&b).count());
    assert!(pending > 0, "the quickstart has HR drift pending");

    // Diagnostics: the unmapped Haarlem and F-TLP warnings are fixed.
    let fixed: BTreeSet<(String, String)> = section["diagnostics_fixed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap().to_owned(),
                d["subject"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        fixed,
        BTreeSet::from([
            pair("unmapped_community", "1006"),
            pair("unmapped_function", "F-TLP")
        ])
    );
    // The plan contract is unchanged around the added section.
    for key in ["format_version", "summary", "diagnostics", "safety"] {
        assert_eq!(both[key], head[key], "{key}");
    }
    // The same digests; the head plan also records the base it was compared with.
    let mut digests = both["digests"].clone();
    let previous = digests
        .as_object_mut()
        .unwrap()
        .remove("previous_config_commit");
    assert_eq!(digests, head["digests"]);
    assert_eq!(previous, Some(section["base"]["commit"].clone()));
    // The same actions; knowing the base, the head plan names the configuration as the cause of
    // what the base's configuration would not do (the invites of the newly mapped 1006).
    let without_cause = |plan: &Value| -> Vec<Value> {
        plan["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                let mut a = a.clone();
                let o = a.as_object_mut().unwrap();
                o.remove("cause");
                o.remove("reason");
                a
            })
            .collect()
    };
    assert_eq!(without_cause(&both), without_cause(&head));
    let configured: Vec<&str> = both["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["cause"] == "configuration")
        .map(|a| a["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        configured,
        [
            "community mapping 1006 now maps to Amsterdam Zuid (was nothing)",
            "community mapping 1006 now maps to Amsterdam Zuid (was nothing)"
        ]
    );

    // Nothing was checked out or written.
    assert_eq!(f.state(), before);
}

#[test]
fn plan_base_as_text_and_markdown_puts_the_pull_request_first() {
    let f = Fixture::quickstart();
    pull_request(&f);
    let run = f.run(&[
        "plan", "-C", "config", "--ref", "pr", "--base", "main", "--at", AT,
    ]);
    run.assert_code(0);
    let mut s = settings(&run);
    s.add_filter(r"\b[0-9a-f]{40}\b", "[COMMIT]");
    s.add_filter(r"\b[0-9a-f]{7}\b", "[SHORT]");
    s.bind(|| insta::assert_snapshot!(run.snapshot()));

    let md = f.run(&[
        "plan", "-C", "config", "--ref", "pr", "--base", "main", "--at", AT, "--format", "markdown",
    ]);
    md.assert_code(0);
    let out = &md.stdout;
    let effect = out
        .find("invites 1 person into Amsterdam Zuid (Service)")
        .unwrap_or_else(|| panic!("no effect line\n{out}"));
    let full = out.find("## orgsync plan").expect("the full plan follows");
    assert!(effect < full, "{out}");
    assert!(
        out.starts_with("## orgsync: what this pull request changes\n"),
        "{out}"
    );
    // Personal data stays masked.
    for personal in ["Pieter van Os", "Lina Chaouch", "lina.chaouch@"] {
        assert!(!out.contains(personal), "{personal} in\n{out}");
    }
}

#[test]
fn plan_base_when_the_base_has_no_configuration_shows_everything_as_the_pull_requests() {
    let f = Fixture::quickstart();
    // A base commit without the configuration directory.
    std::fs::write(f.path().join("README"), "hello").unwrap();
    let empty = {
        let tree = f.repo.treebuilder(None).unwrap();
        let mut tree = tree;
        let blob = f.repo.blob(b"hello").unwrap();
        tree.insert("README", blob, 0o100644).unwrap();
        let tree = f.repo.find_tree(tree.write().unwrap()).unwrap();
        let sig = Signature::new(
            "Alice Example",
            "a@example.test",
            &Time::new(1_763_000_000, 0),
        )
        .unwrap();
        f.repo
            .commit(Some("refs/heads/empty"), &sig, &sig, "Empty", &tree, &[])
            .unwrap()
            .to_string()
    };
    let run = f.run(&[
        "plan", "-C", "config", "--base", "empty", "--at", AT, "--format", "json",
    ]);
    run.assert_code(0);
    let v = json(&run);
    assert_eq!(v["pull_request"]["base"]["commit"], empty.as_str());
    assert!(
        v["pull_request"]["base"]["problem"]
            .as_str()
            .unwrap()
            .starts_with("there is no orgsync.yaml in `config` at empty"),
        "{}",
        run.report()
    );
    assert_eq!(
        v["pull_request"]["introduced"].as_array().unwrap().len(),
        v["actions"].as_array().unwrap().len()
    );
}

#[test]
fn explain_shows_who_wrote_the_mapping_that_placed_a_person() {
    let f = Fixture::quickstart();
    let pr = pull_request(&f);
    let run = f.run(&["explain", "4401", "-C", "config", "--ref", "pr", "--at", AT]);
    run.assert_code(0);
    let out = &run.stdout;
    assert!(
        out.contains("  1006 \"Haarlem\" → Amsterdam Zuid (c-2)\n"),
        "{}",
        run.report()
    );
    assert!(
        out.contains(&format!(
            "written by Bob Builder on 2025-11-16 in {} \"Map Haarlem and Teamlead Procurement\" (line 6)",
            &pr[..7]
        )),
        "{}",
        run.report()
    );
    let mut s = settings(&run);
    s.add_filter(r"\b[0-9a-f]{40}\b", "[COMMIT]");
    s.add_filter(r"\b[0-9a-f]{7}\b", "[SHORT]");
    s.bind(|| insta::assert_snapshot!(run.snapshot()));

    // By e-mail address, from the work tree (main): Haarlem is not mapped there, and the rule
    // that decides is the unmapped policy, written by Alice.
    let run = f.run(&[
        "explain",
        "Pieter.VanOs@grandhotels.example",
        "-C",
        "config",
        "--at",
        AT,
        "--format",
        "json",
    ]);
    run.assert_code(0);
    let v = json(&run);
    assert_eq!(v["person"]["id"], "4303");
    assert_eq!(v["actions"][0]["kind"], "invite");
    let blame = v["blame"].as_array().unwrap();
    assert!(!blame.is_empty(), "{}", run.report());
    for rule in blame {
        for line in rule["lines"].as_array().unwrap() {
            assert_eq!(
                line["commit"]["author"],
                "Alice Example",
                "{}",
                run.report()
            );
            assert_eq!(line["commit"]["id"], f.main.as_str());
        }
    }

    // An uncommitted change is "not committed yet".
    replace(
        &f.config().join("functions.yaml"),
        "    - { source: F-MGR, name: Location Manager, target: Management }\n",
        "    - { source: F-MGR, name: Location Manager (edited), target: Management }\n",
    );
    let run = f.run(&["explain", "4001", "-C", "config", "--at", AT]);
    run.assert_code(0).assert_that(
        run.stdout.contains("not committed yet (line 16)")
            && run.stdout.contains("HEAD")
            && run.stdout.contains("uncommitted changes"),
        "the edited mapping line is uncommitted",
    );

    let run = f.run(&["explain", "nobody@example.com", "-C", "config", "--at", AT]);
    run.assert_code(1).assert_that(
        run.stderr
            .contains("no person with identifier or e-mail address `nobody@example.com`"),
        "an unknown person is an error",
    );
}

/// Every e-mail address and name in the quickstart's source and target.
fn personal_data() -> Vec<String> {
    let dir = repo_root().join("examples/quickstart");
    let mut out = Vec::new();
    let hr: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("hr-export.json")).unwrap())
            .unwrap();
    let rows = hr.get("rows").unwrap_or(&hr).as_array().unwrap().clone();
    for r in rows {
        for key in ["Email_werk", "Roepnaam", "Achternaam"] {
            if let Some(s) = r[key].as_str() {
                out.push(s.to_owned());
            }
        }
    }
    let ws: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("workspace.json")).unwrap())
            .unwrap();
    for a in ws["accounts"].as_array().unwrap() {
        for key in ["email", "first_name", "last_name"] {
            if let Some(s) = a[key].as_str() {
                out.push(s.to_owned());
            }
        }
    }
    out.retain(|s| s.chars().count() >= 3);
    out.sort();
    out.dedup();
    out
}

#[test]
fn apply_records_a_note_that_history_lists_and_git_shows() {
    let f = Fixture::quickstart();
    let plan_file = f.path().join("plan.json");
    f.run(&[
        "plan",
        "-C",
        "config",
        "--at",
        AT,
        "--out",
        plan_file.to_str().unwrap(),
    ])
    .assert_code(0);
    let run = f.run_env(
        &["apply", "plan.json", "-C", "config", "--auto-approve"],
        &[("GITHUB_ACTOR", "octocat")],
    );
    run.assert_code(0).assert_that(
        run.stderr.contains(&format!(
            "Recorded the apply on {} (refs/notes/orgsync): git notes --ref orgsync show {}",
            &f.main[..7],
            &f.main[..7]
        )),
        "apply says where it recorded",
    );

    // A second apply on the same commit (HR changed, the configuration did not): the records
    // accumulate, one per line, and the actor is the git user outside GitHub Actions.
    replace(
        &f.config().join("hr-export.json"),
        "\"Roepnaam\": \"Sanne\"",
        "\"Roepnaam\": \"Sanna\"",
    );
    f.run(&["apply", "-C", "config", "--auto-approve", "--at", AT])
        .assert_code(0);

    let history = f.run(&["history", "-C", "config"]);
    history.assert_code(0);
    let out = &history.stdout;
    let second = out.find("applied by Carol Operator: 1 succeeded, 0 failed (1 update)");
    let first = out.find("applied by octocat: 9 succeeded, 0 failed");
    assert!(
        matches!((second, first), (Some(s), Some(f)) if s < f),
        "newest first\n{}",
        history.report()
    );
    assert!(
        out.contains(&format!(
            "  config {} 2025-11-15 Alice Example: Initial configuration\n",
            &f.main[..7]
        )),
        "{}",
        history.report()
    );
    let mut s = settings(&history);
    s.add_filter(r"\b[0-9a-f]{7}\b", "[SHORT]");
    s.add_filter(r"sha256:[0-9a-f]{64}", "sha256:[DIGEST]");
    s.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[TIME]");
    s.bind(|| insta::assert_snapshot!(history.snapshot()));

    let entries = json(&f.run(&["history", "-C", "config", "--format", "json"]));
    let first = &entries[1]["record"];
    assert_eq!(first["actor"], "octocat");
    assert_eq!(first["config_commit"], f.main.as_str());
    assert_eq!(first["config_dir"], "config");
    // The digest is sha256 of the plan's canonical (compact) JSON.
    let plan: Value = serde_json::from_str(&std::fs::read_to_string(&plan_file).unwrap()).unwrap();
    let digest = format!(
        "sha256:{}",
        hex::encode(Sha256::digest(serde_json::to_string(&plan).unwrap()))
    );
    assert_eq!(first["plan_digest"], digest.as_str());
    let outcomes = first["outcomes"].as_array().unwrap();
    assert_eq!(outcomes.len(), plan["actions"].as_array().unwrap().len());
    assert!(outcomes.iter().all(|o| o["ok"] == true));

    // The git CLI reads the same note; it holds no names and no e-mail addresses.
    let note = match f.git(&["notes", "--ref", "orgsync", "show", &f.main]) {
        Some(note) => note,
        None => {
            let repo = f
                .repo
                .find_note(
                    Some("refs/notes/orgsync"),
                    git2::Oid::from_str(&f.main).unwrap(),
                )
                .unwrap();
            repo.message().unwrap().to_owned()
        }
    };
    // Each apply writes a started record before its first action, and its outcome after.
    assert_eq!(note.lines().count(), 4, "{note}");
    assert_eq!(
        note.lines()
            .filter(|l| l.contains(r#""started":true"#))
            .count(),
        2,
        "{note}"
    );
    assert!(note.contains(&digest), "{note}");
    assert!(!note.contains('@'), "{note}");
    for personal in personal_data().iter().chain([&"Sanna".to_owned()]) {
        assert!(
            !note.contains(personal.as_str()),
            "{personal} in the note:\n{note}"
        );
    }
}

#[test]
fn no_record_and_no_repository_record_nothing() {
    let f = Fixture::quickstart();
    let run = f.run(&[
        "apply",
        "-C",
        "config",
        "--auto-approve",
        "--at",
        AT,
        "--no-record",
    ]);
    run.assert_code(0).assert_that(
        run.stderr.contains("Not recorded (--no-record)."),
        "says so",
    );
    assert!(f.repo.find_reference("refs/notes/orgsync").is_err());
    let history = f.run(&["history", "-C", "config"]);
    history.assert_code(0).assert_that(
        history.stdout.starts_with("No applies recorded for config"),
        "no records",
    );

    let dir = copy_example("quickstart");
    let run = orgsync_in(dir.path(), &["apply", "--auto-approve", "--at", AT]);
    run.assert_code(0).assert_that(
        run.stderr
            .contains("Not recorded: the configuration is not in a git repository."),
        "apply works outside a repository and says it recorded nothing",
    );
    let history = orgsync_in(dir.path(), &["history"]);
    history.assert_code(1).assert_that(
        history.stderr.contains("is not inside a git repository"),
        "history needs a repository",
    );
}

#[test]
fn plan_files_record_the_config_commit_and_apply_refuses_another() {
    let f = Fixture::quickstart();
    f.run(&["plan", "-C", "config", "--at", AT, "--out", "plan.json"])
        .assert_code(0);
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(f.path().join("plan.json")).unwrap())
            .unwrap();
    assert_eq!(plan["digests"]["config_commit"], f.main.as_str());

    // An uncommitted configuration change marks the commit dirty; data files do not count.
    replace(
        &f.config().join("workspace.json"),
        "\"accounts\"",
        "\"accounts\"",
    );
    replace(
        &f.config().join("orgsync.yaml"),
        "retention_days: 30",
        "retention_days: 31",
    );
    f.run(&["plan", "-C", "config", "--at", AT, "--out", "dirty.json"])
        .assert_code(0);
    let dirty: Value =
        serde_json::from_str(&std::fs::read_to_string(f.path().join("dirty.json")).unwrap())
            .unwrap();
    assert_eq!(
        dirty["digests"]["config_commit"],
        format!("{}-dirty", f.main).as_str()
    );

    // Commit the change: the first plan is now from another commit.
    let next = f.commit(
        "HEAD",
        "Alice Example",
        2,
        "Keep removed accounts a day longer",
    );
    let run = f.run(&["apply", "plan.json", "-C", "config", "--auto-approve"]);
    run.assert_code(1).assert_that(
        run.stderr.contains(&format!(
            "the plan was made from commit {}, but the configuration being applied is at commit {}: plan again, or pass --allow-config-mismatch",
            &f.main[..7],
            &next[..7]
        )),
        "a plan from another commit is refused",
    );
    // The dirty plan had the same configuration as the new commit, but it was not made from it.
    f.run(&["apply", "dirty.json", "-C", "config", "--auto-approve"])
        .assert_code(1);

    let run = f.run(&[
        "apply",
        "plan.json",
        "-C",
        "config",
        "--auto-approve",
        "--allow-config-mismatch",
    ]);
    run.assert_code(0).assert_that(
        run.stderr
            .contains("warning: the plan was made from commit"),
        "warns",
    );
    let entries = json(&f.run(&["history", "-C", "config", "--format", "json"]));
    assert_eq!(entries[0]["record"]["config_commit"], next.as_str());
    assert_eq!(entries[0]["record"]["plan_config_commit"], f.main.as_str());
    assert_eq!(
        entries[0]["commit"]["subject"],
        "Keep removed accounts a day longer"
    );
}

#[test]
fn validate_and_plan_read_the_config_at_a_ref_without_touching_the_work_tree() {
    let f = Fixture::quickstart();
    std::fs::write(f.config().join("communities.yaml"), "communities: [\n").unwrap();
    let before = f.state();

    f.run(&["validate", "-C", "config"]).assert_code(1);
    let run = f.run(&["validate", "-C", "config", "--ref", "main"]);
    run.assert_code(0).assert_that(
        run.stdout.starts_with(&format!(
            "The configuration at main ({}) is valid: orgsync.yaml",
            &f.main[..7]
        )),
        "validates the committed configuration",
    );
    let plan = f.run(&[
        "plan", "-C", "config", "--ref", "main", "--at", AT, "--format", "json",
    ]);
    plan.assert_code(0);
    assert_eq!(json(&plan)["digests"]["config_commit"], f.main.as_str());
    assert_eq!(f.state(), before);

    let run = f.run(&["validate", "-C", "config", "--ref", "no-such-branch"]);
    run.assert_code(1).assert_that(
        run.stderr
            .contains("`no-such-branch` is not a commit in this repository"),
        "an unknown ref is named",
    );
    let dir = copy_example("quickstart");
    let run = orgsync_in(dir.path(), &["validate", "--ref", "main"]);
    run.assert_code(1).assert_that(
        run.stderr.contains("is not inside a git repository"),
        "no repo",
    );
}

#[test]
fn import_appends_todo_stubs_and_keeps_everything_else() {
    let dir = copy_example("quickstart");
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    let (communities, functions) = (read("communities.yaml"), read("functions.yaml"));

    let run = orgsync_in(dir.path(), &["import", "--at", AT]);
    run.assert_code(0);
    settings(&run).bind(|| insta::assert_snapshot!(run.snapshot()));

    // Existing lines, order and comments are untouched; the stubs come after them.
    let after = read("communities.yaml");
    assert!(after.starts_with(&communities), "{after}");
    assert_eq!(
        &after[communities.len()..],
        "  - { source: \"1006\", name: \"Haarlem\", target: \"Haarlem\", todo: true }  # TODO(orgsync import): 2 people; no community has a close name\n  \
         - { source: \"1015\", name: \"Den Haag\", target: \"Den Haag\", todo: true }  # TODO(orgsync import): 5 people; suggested target \"Den Haag\" (a community with a close name)\n"
    );
    let after = read("functions.yaml");
    assert!(after.starts_with(&functions), "{after}");
    assert!(
        after[functions.len()..].starts_with("    - { source: \"F-TLP\", name: \"Teamlead Procurement\", target: \"Teamlead Procurement\", todo: true }"),
        "{after}"
    );

    let validate = orgsync_in(dir.path(), &["validate"]);
    validate.assert_code(0).assert_that(
        validate.stdout.contains(
            "3 mappings are still marked `todo: true` (written by orgsync import; decide the target, then remove the mark): communities.yaml:10, communities.yaml:11, functions.yaml:19",
        ),
        "validate lists the stubs",
    );
    // A stub whose target does not exist holds its people and says so.
    let plan = orgsync_in(dir.path(), &["plan", "--at", AT, "--format", "json"]);
    plan.assert_code(0);
    let missing: Vec<String> = json(&plan)["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "mapping_target_missing")
        .map(|d| d["subject"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(missing, ["Haarlem", "Teamlead Procurement"]);

    let again = orgsync_in(dir.path(), &["import", "--at", AT]);
    again.assert_code(0).assert_that(
        again.stdout.starts_with("Nothing to import"),
        "import is idempotent",
    );
}

#[test]
fn pre_commit_hook_runs_orgsync_validate() {
    let text = std::fs::read_to_string(repo_root().join(".pre-commit-hooks.yaml")).unwrap();
    let hooks: Vec<Value> = serde_saphyr::from_str(&text).expect("valid YAML");
    let hook = hooks
        .iter()
        .find(|h| h["id"] == "orgsync-validate")
        .expect("an orgsync-validate hook");
    assert_eq!(hook["entry"], "orgsync validate");
    assert_eq!(hook["pass_filenames"], false);
    assert!(matches!(hook["language"].as_str(), Some("rust" | "system")));
}

/// Regression (issue 11): a target that listed nobody — a workspace emptied by hand — was
/// planned on like a first sync. The apply record now counts the managed accounts it left, and
/// a plan on a listing with fewer than half of them is an error.
#[test]
fn a_target_listing_far_below_the_apply_records_is_an_error() {
    let f = Fixture::quickstart();
    f.run(&["apply", "-C", "config", "--auto-approve", "--at", AT])
        .assert_code(0);
    let note = f
        .git(&["notes", "--ref", "orgsync", "show", &f.main])
        .unwrap_or_default();
    if !note.is_empty() {
        let record: Value = serde_json::from_str(note.lines().last().unwrap()).expect("a record");
        assert_eq!(record["target"], "file:workspace.json");
        assert!(
            record["managed_accounts"].as_u64().unwrap() > 20,
            "{record}"
        );
    }

    let workspace = f.config().join("workspace.json");
    std::fs::write(
        &workspace,
        r#"{"accounts": [], "communities": [], "function_groups": []}"#,
    )
    .expect("empty the workspace");
    let plan = f.run(&["plan", "-C", "config", "--at", AT]);
    plan.assert_code(1).assert_that(
        plan.stdout
            .contains("the target lists 0 managed accounts, but the apply of ")
            && plan.stdout.contains("the listing is probably incomplete"),
        "the plan says why",
    );
    let apply = f.run(&["apply", "-C", "config", "--auto-approve", "--at", AT]);
    apply.assert_code(1).assert_that(
        apply.stderr.contains("nothing was applied"),
        "nothing is applied",
    );
}
