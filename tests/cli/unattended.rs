//! Unattended operation (issue 19): the nightly runs from fresh clones, sometimes twice at once,
//! and gets killed. Real git: a bare remote and clones of it, and the SCIM emulator or a file
//! workspace shared by the clones.
//!
//! CI runs a few rounds; the long loops are
//! `ORGSYNC_UNATTENDED_ROUNDS=20 cargo test --test cli unattended -- --test-threads 1 --nocapture`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use orgsync_connectors::scim::ScimTarget;
use orgsync_connectors::{Kit, Target};
use orgsync_core::config::ScimTargetConfig;
use orgsync_core::model::{AccountStatus, TargetSnapshot};
use orgsync_sandbox::scim::{self as scim_emulator, ScimData};
use orgsync_sandbox::serve::{Faults, Running, spawn};
use serde_json::Value;

use crate::common::{Run, git, repo};

const AT: &str = "2025-06-02";
const TOKEN: &str = "scim-token-unattended-19";

/// Rounds per loop: `ORGSYNC_UNATTENDED_ROUNDS`, 4 by default.
fn rounds() -> u64 {
    std::env::var("ORGSYNC_UNATTENDED_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4)
}

fn command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("orgsync"));
    cmd.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("SCIM_TOKEN", TOKEN)
        .env("GIT_CEILING_DIRECTORIES", repo())
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .env_remove("ORGSYNC_REMOTE")
        .env_remove("GITHUB_ACTOR")
        .env_remove("RUST_LOG");
    cmd
}

fn orgsync(dir: &Path, args: &[&str]) -> Run {
    let output = command(dir, args).output().expect("orgsync runs");
    Run {
        command: format!("orgsync {}", args.join(" ")),
        dir: dir.to_owned(),
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Starts `orgsync apply --auto-approve` with its output in files (a pipe's buffer would block
/// it before any signal lands).
fn start_apply(dir: &Path, name: &str) -> (Child, PathBuf, PathBuf) {
    let (out, err) = (
        dir.join(format!("{name}.out")),
        dir.join(format!("{name}.err")),
    );
    let child = command(dir, &["apply", "--auto-approve", "--at", AT])
        .stdout(Stdio::from(std::fs::File::create(&out).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&err).unwrap()))
        .spawn()
        .expect("orgsync starts");
    (child, out, err)
}

fn finish(child: Child, dir: &Path, out: &Path, err: &Path, what: &str) -> Run {
    let output = child.wait_with_output().expect("orgsync ends");
    Run {
        command: what.to_owned(),
        dir: dir.to_owned(),
        code: output.status.code().unwrap_or(-1),
        stdout: std::fs::read_to_string(out).unwrap_or_default(),
        stderr: std::fs::read_to_string(err).unwrap_or_default(),
    }
}

fn plan_json(dir: &Path) -> Value {
    let r = orgsync(dir, &["plan", "--format", "json", "--at", AT]);
    r.assert_code(0);
    serde_json::from_str(&r.stdout).expect("plan JSON")
}

fn start_scim() -> (Running, String) {
    let faults = Faults {
        latency_ms: 5,
        ..Faults::default()
    };
    let server =
        spawn(scim_emulator::router(ScimData::new(), TOKEN, faults), 0).expect("SCIM emulator");
    let url = format!("{}{}", server.url(), scim_emulator::BASE_PATH);
    (server, url)
}

fn scim_state(url: &str) -> TargetSnapshot {
    let config: ScimTargetConfig = serde_json::from_value(serde_json::json!({
        "base_url": url, "token": { "env": "SCIM_TOKEN" }
    }))
    .unwrap();
    let mut target = ScimTarget::new(
        &config,
        "Europe/Amsterdam",
        &Kit::new(|_| Some(TOKEN.to_owned()), false).unwrap(),
    )
    .unwrap();
    target.fetch().unwrap()
}

/// No two accounts for one person, no two groups of one name; every active account in a
/// community.
fn check_target(state: &TargetSnapshot, what: &str) {
    let mut ids = BTreeSet::new();
    for a in &state.accounts {
        if let Some(id) = &a.external_id {
            assert!(ids.insert(id.clone()), "two accounts for {id}: {what}");
        }
        if a.status == AccountStatus::Active {
            assert!(
                !a.communities.is_empty(),
                "{} has no community: {what}",
                a.email.as_deref().unwrap_or(&a.id)
            );
        }
    }
    for groups in [&state.communities, &state.function_groups] {
        let mut names = BTreeSet::new();
        for g in groups {
            assert!(
                names.insert(g.name.clone()),
                "two groups named {}: {what}",
                g.name
            );
        }
    }
}

/// A bare remote holding a generated organisation of `people` (limits as generated, with the
/// first sync's allowance written in, as its pull request would: no override anywhere below),
/// and `clones` clones of it.
struct Org {
    tmp: tempfile::TempDir,
    remote: PathBuf,
    clones: Vec<PathBuf>,
}

impl Org {
    fn new(people: usize, target: &str, clones: usize) -> Org {
        let tmp = tempfile::tempdir().unwrap();
        let seed = tmp.path().join("seed");
        crate::common::orgsync(&[
            "sandbox",
            "generate",
            "--people",
            &people.to_string(),
            "--out",
            seed.to_str().unwrap(),
        ])
        .assert_code(0);
        std::fs::remove_file(seed.join("workspace.json")).unwrap();
        let path = seed.join("orgsync.yaml");
        let yaml = std::fs::read_to_string(&path).unwrap();
        let yaml = yaml
            .replace("target:\n  kind: file\n  path: workspace.json\n", target)
            .replace(
                "  allow_community_removal: false\n",
                &format!("  allow_community_removal: false\n  first_sync_invites: {people}\n"),
            );
        assert!(yaml.contains(target), "the target is replaced");
        assert!(
            yaml.contains("first_sync_invites"),
            "the allowance is written"
        );
        std::fs::write(&path, yaml).unwrap();
        std::fs::write(seed.join(".gitignore"), "*.out\n*.err\n").unwrap();
        git(&seed, &["init", "-q", "-b", "main"]);
        git(&seed, &["add", "."]);
        git(&seed, &["commit", "-q", "-m", "configuration"]);
        let remote = tmp.path().join("remote.git");
        git(
            tmp.path(),
            &[
                "init",
                "-q",
                "--bare",
                "-b",
                "main",
                remote.to_str().unwrap(),
            ],
        );
        git(
            &seed,
            &["remote", "add", "origin", remote.to_str().unwrap()],
        );
        git(&seed, &["push", "-q", "origin", "main"]);
        let clones = (0..clones)
            .map(|i| {
                let c = tmp.path().join(format!("clone{i}"));
                git(
                    tmp.path(),
                    &["clone", "-q", remote.to_str().unwrap(), c.to_str().unwrap()],
                );
                c
            })
            .collect();
        Org {
            tmp,
            remote,
            clones,
        }
    }

    /// A clone made now: no notes of its own.
    fn fresh_clone(&self, name: &str) -> PathBuf {
        let c = self.tmp.path().join(name);
        git(
            self.tmp.path(),
            &[
                "clone",
                "-q",
                self.remote.to_str().unwrap(),
                c.to_str().unwrap(),
            ],
        );
        c
    }

    /// Points every clone at another SCIM URL: a fresh, empty target (and a target key no
    /// record names yet), committed and pushed from the first clone, pulled by the others.
    fn retarget(&self, old: &str, new: &str) {
        let first = &self.clones[0];
        let path = first.join("orgsync.yaml");
        let yaml = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, yaml.replace(old, new)).unwrap();
        git(first, &["commit", "-q", "-am", "another target"]);
        git(first, &["push", "-q", "origin", "main"]);
        for c in &self.clones[1..] {
            git(c, &["pull", "-q", "--ff-only", "origin", "main"]);
        }
    }
}

fn scim_target(url: &str) -> String {
    format!("target:\n  kind: scim\n  base_url: {url}\n  token: ${{env:SCIM_TOKEN}}\n")
}

/// Regression (two applies from two clones double everything): two clones apply one
/// configuration at the same moment, round after round, each time to a fresh SCIM target. The
/// lease on the shared remote lets one apply; the other refuses, saying who holds it, or runs
/// after and finds nothing to do. Never a second group or account.
#[test]
fn two_clones_applying_at_once_never_double_anything() {
    let (mut server, mut url) = start_scim();
    let org = Org::new(120, &scim_target(&url), 2);
    let (mut refused, mut after) = (0, 0);
    for round in 0..rounds() {
        if round > 0 {
            let (s, u) = start_scim();
            org.retarget(&url, &u);
            (server, url) = (s, u);
        }
        let a = start_apply(&org.clones[0], "a");
        let b = start_apply(&org.clones[1], "b");
        let a = finish(a.0, &org.clones[0], &a.1, &a.2, "apply in clone 0");
        let b = finish(b.0, &org.clones[1], &b.1, &b.2, "apply in clone 1");
        let what = format!("round {round}\n{}\n{}", a.report(), b.report());
        let applied = [&a, &b]
            .iter()
            .filter(|r| r.code == 0 && r.stdout.contains("Apply complete"))
            .count();
        assert_eq!(applied, 1, "exactly one applies: {what}");
        for r in [&a, &b] {
            if r.code == 1 {
                assert!(
                    r.stderr.contains("another apply holds the lease on scim:"),
                    "refused, saying why: {what}"
                );
                assert!(r.stderr.contains("Nothing was applied"), "{what}");
                refused += 1;
            } else if !r.stdout.contains("Apply complete") {
                r.assert_code(0);
                assert!(r.stdout.contains("Nothing to apply."), "{what}");
                after += 1;
            }
        }
        let state = scim_state(&url);
        check_target(&state, &what);
        assert!(!state.accounts.is_empty(), "{what}");
        let next = plan_json(&org.clones[1]);
        assert!(
            next["actions"].as_array().unwrap().is_empty(),
            "converged: {what}\n{next}"
        );
    }
    drop(server);
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "two clones: {} rounds, {refused} refused by the lease, {after} ran after it; 0 duplicates",
            rounds()
        );
    }
}

/// Regression (a fresh clone loses the guard): `git clone` does not fetch the notes. A fresh
/// clone fetches them from the remote, so a target that suddenly lists nobody is refused as in
/// the clone that applied; with the remote unreachable and no records of its own, an empty
/// listing is refused too; `ORGSYNC_REMOTE=none` is the documented way to plan offline.
#[test]
fn a_fresh_clone_keeps_the_target_guard() {
    let tmp = tempfile::tempdir().unwrap();
    let workspace = tmp.path().join("workspace.json");
    let target = format!(
        "target:\n  kind: file\n  path: {}\n  allow_outside_config_dir: true\n",
        workspace.display()
    );
    let org = Org::new(40, &target, 1);
    let first = &org.clones[0];
    let r = orgsync(first, &["apply", "--auto-approve", "--at", AT]);
    r.assert_code(0);
    // The apply shared its records: the remote has them.
    let notes = git(&org.remote, &["for-each-ref", "refs/notes/orgsync"]);
    assert!(
        !notes.trim().is_empty(),
        "the records were pushed\n{}",
        r.report()
    );
    // The target loses everything (a wrong path, another tenant, an emptied workspace).
    std::fs::remove_file(&workspace).unwrap();
    let fresh = org.fresh_clone("fresh");
    let plan = orgsync(&fresh, &["plan", "--at", AT]);
    plan.assert_code(1).assert_that(
        plan.stdout
            .contains("the target lists 0 managed accounts, but the apply of"),
        "the fresh clone knows what the target held",
    );
    let apply = orgsync(&fresh, &["apply", "--auto-approve", "--at", AT]);
    apply.assert_code(1);
    assert!(
        !workspace.exists(),
        "nothing was applied\n{}",
        apply.report()
    );

    // No remote to read, no records of its own: an empty listing is not a first sync.
    let offline = org.fresh_clone("offline");
    git(
        &offline,
        &["remote", "set-url", "origin", "/nonexistent/remote.git"],
    );
    let plan = orgsync(&offline, &["plan", "--at", AT]);
    plan.assert_code(1).assert_that(
        plan.stdout.contains("the target lists no managed account, and the apply records on `origin` could not be read"),
        "refused while the records cannot be read",
    );
    let mut cmd = command(&offline, &["plan", "--at", AT]);
    let out = cmd.env("ORGSYNC_REMOTE", "none").output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "ORGSYNC_REMOTE=none plans from this clone alone: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Regression (kill -9 strands people): an apply of a first sync is killed at a random moment,
/// then a plain `orgsync apply --auto-approve` — no override — finishes it: what the killed
/// apply left half-made is completed without counting against the limits and without an
/// e-mail, and afterwards every account is in its communities. A double Ctrl-C (orgsync stops
/// at once) likewise.
#[test]
fn a_killed_apply_is_finished_by_the_next_plain_apply() {
    let (mut server, mut url) = start_scim();
    let org = Org::new(500, &scim_target(&url), 1);
    let dir = &org.clones[0];
    // One whole apply, for the span the kills are spread over.
    let started = Instant::now();
    orgsync(dir, &["apply", "--auto-approve", "--at", AT]).assert_code(0);
    let span = started.elapsed().as_millis() as u64;
    let mut x: u64 = 19;
    let (mut during, mut completions) = (0, 0);
    for round in 0..rounds() * 2 {
        let (s, u) = start_scim();
        org.retarget(&url, &u);
        (server, url) = (s, u);
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = Duration::from_millis(span / 5 + (x >> 33) % (span * 4 / 5).max(1));
        let (child, out, err) = start_apply(dir, "killed");
        std::thread::sleep(delay);
        let pid = child.id().to_string();
        let double_int = round % 2 == 1;
        if double_int {
            let _ = Command::new("kill").args(["-INT", &pid]).status();
            std::thread::sleep(Duration::from_millis(30));
            let _ = Command::new("kill").args(["-INT", &pid]).status();
        } else {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
        }
        let run = finish(
            child,
            dir,
            &out,
            &err,
            &format!("apply (stopped after {delay:?})"),
        );
        let before = scim_state(&url);
        if !before.accounts.is_empty() && run.code != 0 {
            during += 1;
        }
        let next = plan_json(dir);
        let what = format!("round {round}: {}", run.report());
        assert_eq!(
            next["safety"]["safe"], true,
            "no override needed: {what}\n{}",
            next["safety"]
        );
        for a in next["actions"].as_array().unwrap() {
            if a["cause"] == "completion" {
                completions += 1;
                assert_ne!(
                    a["changes"]["notify"]["to"], true,
                    "a completion never e-mails: {what}"
                );
            }
        }
        let r = orgsync(dir, &["apply", "--auto-approve", "--at", AT]);
        r.assert_code(0);
        let done = orgsync(dir, &["plan", "--at", AT, "--detailed-exitcode"]);
        done.assert_code(0)
            .assert_that(done.stdout.contains("No changes."), "converged");
        check_target(&scim_state(&url), &what);
    }
    drop(server);
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "kill -9 / double Ctrl-C: {} rounds over {span} ms, {during} stopped mid-apply, \
             {completions} completions planned; all finished by a plain apply",
            rounds() * 2
        );
    }
}

/// Regression (kill -9 strands people): memberships were written in one batch at the end of a
/// phase, so a kill during the creates left every User created so far in no community. Now they
/// are written a few seconds behind the creates: killed half-way through 500 people (each
/// request 100 ms late), the Users without a community are only those of the last seconds.
#[test]
fn memberships_are_written_while_the_accounts_are_created() {
    let faults = Faults {
        latency_ms: 100,
        ..Faults::default()
    };
    let data = Arc::new(Mutex::new(ScimData::new()));
    let server = spawn(
        scim_emulator::router_shared(Arc::clone(&data), TOKEN, faults),
        0,
    )
    .expect("SCIM emulator");
    let url = format!("{}{}", server.url(), scim_emulator::BASE_PATH);
    let org = Org::new(500, &scim_target(&url), 1);
    let dir = &org.clones[0];
    let (mut child, out, err) = start_apply(dir, "killed");
    let users = || data.lock().unwrap().users_in_no_group();
    // When the first User appeared; the apply is killed at 250.
    let mut first: Option<Instant> = None;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(Instant::now() < deadline, "the apply created 250 Users");
        assert!(
            child.try_wait().expect("the apply runs").is_none(),
            "the apply ended before it was killed: {}",
            std::fs::read_to_string(&err).unwrap_or_default()
        );
        let (n, _) = users();
        if n > 0 && first.is_none() {
            first = Some(Instant::now());
        }
        if n >= 250 {
            let _ = Command::new("kill")
                .args(["-KILL", &child.id().to_string()])
                .status();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let run = finish(child, dir, &out, &err, "apply (killed)");
    let secs = first.map_or(1.0, |f| f.elapsed().as_secs_f64());
    // Requests the kill left in flight land (100 ms late).
    std::thread::sleep(Duration::from_millis(500));
    let (created, unplaced) = users();
    // Users per second, and what 2 s of writing behind (FLUSH_AFTER), a PATCH round trip and
    // the kill's own moment leave: 4 seconds' worth.
    let per_second = created as f64 / secs.max(0.1);
    let bound = (per_second * 4.0).ceil() as usize;
    assert!(
        unplaced <= bound && unplaced < created / 2,
        "{unplaced} of {created} Users in no group after a kill ({per_second:.0} Users/s: \
         at most {bound} expected): {}",
        run.report()
    );
    // And the next plain apply finishes the rest.
    let r = orgsync(dir, &["apply", "--auto-approve", "--at", AT]);
    r.assert_code(0);
    check_target(&scim_state(&url), "after the next apply");
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "killed at {created} Users ({per_second:.0}/s): {unplaced} in no group (bound {bound})"
        );
    }
}

/// Regression (the README's quickstart failed in a clone without push access): the apply lease
/// was taken on the remote for every target, so an apply to the quickstart's file workspace in a
/// clone of a repository one cannot push to refused ("cannot take the apply lease"). A file
/// target is this checkout's own workspace (with its own lock file): its lease stays local.
#[test]
fn a_file_target_applies_in_a_clone_whose_remote_cannot_be_reached() {
    let dir = crate::common::copy_example("quickstart");
    git(dir.path(), &["init", "-q", "-b", "main"]);
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-q", "-m", "quickstart"]);
    let gone = dir.path().join("no-such-remote.git");
    git(
        dir.path(),
        &["remote", "add", "origin", gone.to_str().unwrap()],
    );
    let r = orgsync(
        dir.path(),
        &["apply", "--auto-approve", "--at", "2026-11-20"],
    );
    r.assert_code(0).assert_that(
        r.stdout.contains("Apply complete"),
        "the quickstart applies",
    );
}
