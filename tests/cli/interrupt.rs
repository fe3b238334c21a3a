//! Interrupted applies (issue 11 §5): SIGINT and kill -9 at random moments of a first sync,
//! against the file target and the SCIM emulator. After each interrupt the next plan holds only
//! what was not done, with true reasons and no notification, and one more apply converges with
//! no duplicate account or group.
//!
//! CI runs a few moments per target and signal. The long loop (20 moments each) is
//! `ORGSYNC_INTERRUPT_MOMENTS=20 cargo test --test cli interrupt -- --test-threads 1`.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use orgsync_connectors::scim::ScimTarget;
use orgsync_connectors::{Kit, Target};
use orgsync_core::config::ScimTargetConfig;
use orgsync_core::model::TargetSnapshot;
use orgsync_sandbox::scim::{self as scim_emulator, ScimData};
use orgsync_sandbox::serve::{Faults, Running, spawn};
use serde_json::Value;

use crate::common::{Run, git, repo};

const AT: &str = "2025-06-02";
const TOKEN: &str = "scim-token-interrupt-51";

/// How many moments per target and signal: `ORGSYNC_INTERRUPT_MOMENTS`, 3 by default.
fn moments() -> u64 {
    std::env::var("ORGSYNC_INTERRUPT_MOMENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    Int,
    Kill,
}

/// A generated organisation of `people` with an empty target, limits opened for a first sync
/// and its resumption (an interrupted first sync leaves more invites than 25% of what exists).
fn sandbox(people: usize, scim_url: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c");
    let r = orgsync(
        repo(),
        &[
            "sandbox",
            "generate",
            "--people",
            &people.to_string(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    r.assert_code(0);
    std::fs::remove_file(out.join("workspace.json")).unwrap();
    let path = out.join("orgsync.yaml");
    let mut yaml = std::fs::read_to_string(&path).unwrap();
    yaml = yaml.replace(
        "  max_removals: \"20%\"\n",
        &format!("  max_removals: \"20%\"\n  max_invites: unlimited\n  max_moves: unlimited\n  max_updates: unlimited\n  first_sync_invites: {people}\n"),
    );
    if let Some(url) = scim_url {
        yaml = yaml.replace(
            "target:\n  kind: file\n  path: workspace.json\n",
            &format!("target:\n  kind: scim\n  base_url: {url}\n  token: ${{env:SCIM_TOKEN}}\n"),
        );
        assert!(yaml.contains("kind: scim"), "the target is SCIM");
    }
    std::fs::write(&path, yaml).unwrap();
    dir
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

fn command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("orgsync"));
    cmd.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("SCIM_TOKEN", TOKEN)
        .env("GIT_CEILING_DIRECTORIES", repo())
        .env_remove("RUST_LOG");
    cmd
}

fn plan_json(dir: &Path) -> Value {
    let r = orgsync(dir, &["plan", "--format", "json", "--at", AT]);
    r.assert_code(0);
    serde_json::from_str(&r.stdout).expect("plan JSON")
}

/// Starts an apply, signals it after `delay`, and returns its run.
fn interrupted_apply(dir: &Path, delay: Duration, signal: Signal) -> Run {
    // Files, not pipes: a plan longer than a pipe's buffer would block orgsync until it is
    // read, and every signal would land before the apply.
    let (out, err) = (dir.join("apply.out"), dir.join("apply.err"));
    let child = command(dir, &["apply", "--auto-approve", "--at", AT])
        .stdout(Stdio::from(std::fs::File::create(&out).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&err).unwrap()))
        .spawn()
        .expect("orgsync starts");
    std::thread::sleep(delay);
    let pid = child.id().to_string();
    let sig = match signal {
        Signal::Int => "-INT",
        Signal::Kill => "-KILL",
    };
    // The process may have finished already: then there is nothing to signal.
    let _ = Command::new("kill").args([sig, &pid]).status();
    let output = child.wait_with_output().expect("orgsync ends");
    Run {
        command: format!("orgsync apply (kill {sig} after {delay:?})"),
        dir: dir.to_owned(),
        code: output.status.code().unwrap_or(-1),
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
    }
}

/// (kind, subject) of every action.
fn keys(plan: &Value) -> Vec<(String, String)> {
    plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap().to_owned(),
                a["subject"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The next plan after an interrupt holds only what the first plan had (or, after kill -9, the
/// memberships of an invite that ran without them), with true reasons, and never notifies anyone.
/// After SIGINT nothing needs repairing: the memberships of every completed action were written.
fn check_leftover(first: &Value, next: &Value, run: &Run, repairs: bool) {
    let planned: BTreeSet<(String, String)> = keys(first).into_iter().collect();
    let invited: BTreeSet<&str> = planned
        .iter()
        .filter(|(k, _)| k == "invite")
        .map(|(_, s)| s.as_str())
        .collect();
    for a in next["actions"].as_array().unwrap() {
        let (kind, subject) = (a["kind"].as_str().unwrap(), a["subject"].as_str().unwrap());
        let reason = a["reason"].as_str().unwrap_or_default();
        let what = format!("{kind} {subject} ({reason:?}) after {}", run.report());
        if planned.contains(&(kind.to_owned(), subject.to_owned())) {
            let original = first["actions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|o| o["kind"] == kind && o["subject"] == subject)
                .unwrap();
            assert_eq!(a["reason"], original["reason"], "the same reason: {what}");
        } else {
            // An invite whose User exists but whose memberships were not written (kill -9
            // between the two): placed in its groups, never "moved", never notified.
            assert!(invited.contains(subject), "only what was planned: {what}");
            assert!(repairs, "SIGINT leaves nothing to repair: {what}");
            // orgsync's own unfinished work, said as such: never news from the source.
            assert_eq!(a["cause"], "completion", "a completion: {what}");
            match kind {
                "move" => assert!(
                    reason.starts_with(
                        "completes an earlier apply that stopped before placing the account: \
                         placed in"
                    ),
                    "a true reason: {what}"
                ),
                "update" => assert!(
                    a["changes"]
                        .as_object()
                        .unwrap()
                        .keys()
                        .all(|k| k == "function_groups"),
                    "only the memberships are repaired: {what}"
                ),
                _ => panic!("an unexpected repair: {what}"),
            }
        }
        if kind == "move" {
            assert_eq!(
                a["changes"]["notify"]["to"], false,
                "a repair never notifies: {what}"
            );
        }
    }
}

/// No two accounts for one person, no two groups of one name.
fn check_no_duplicates(state: &TargetSnapshot) {
    let mut ids = BTreeSet::new();
    for a in &state.accounts {
        if let Some(id) = &a.external_id {
            assert!(ids.insert(id.clone()), "two accounts for {id}");
        }
    }
    for groups in [&state.communities, &state.function_groups] {
        let mut names = BTreeSet::new();
        for g in groups {
            assert!(names.insert(g.name.clone()), "two groups named {}", g.name);
        }
    }
}

/// Random moments over `0..span_ms`, one in each of `moments()` equal slices, so that even a
/// short loop hits the start, the middle and the end of an apply (deterministic: seeded).
fn delays(seed: u64, span_ms: u64) -> Vec<Duration> {
    let n = moments();
    let mut x = seed;
    (0..n)
        .map(|i| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let within = (x >> 33) % 1000;
            Duration::from_millis(span_ms * (i * 1000 + within) / (n * 1000))
        })
        .collect()
}

/// What one interrupted run hit.
#[derive(Debug, Default)]
struct Tally {
    /// Stopped before the apply started (nothing written).
    before: u64,
    /// Stopped mid-apply (SIGINT: "Apply interrupted"; kill -9: killed).
    during: u64,
    /// Finished before the signal.
    after: u64,
}

/// For each moment: a fresh empty target (`reset`), an apply interrupted at that moment, the
/// leftover plan checked, then one more apply that must converge with no duplicates.
fn converge(dir: &Path, reset: &dyn Fn(), state: &dyn Fn() -> TargetSnapshot, signal: Signal) {
    // The moments span one uninterrupted apply, from the process start to its end.
    reset();
    let started = std::time::Instant::now();
    orgsync(dir, &["apply", "--auto-approve", "--at", AT]).assert_code(0);
    let span_ms = u64::try_from(started.elapsed().as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    let mut tally = Tally::default();
    for delay in delays(if signal == Signal::Int { 1 } else { 2 }, span_ms) {
        reset();
        let first = plan_json(dir);
        let run = interrupted_apply(dir, delay, signal);
        if std::env::var_os("ORGSYNC_INTERRUPT_DEBUG").is_some() {
            #[allow(clippy::print_stderr)]
            {
                eprintln!(
                    "{delay:?}: {}",
                    run.report()
                        .lines()
                        .rev()
                        .take(4)
                        .collect::<Vec<_>>()
                        .join(" | ")
                );
            }
        }
        match (signal, run.code) {
            (_, 0) => tally.after += 1,
            (Signal::Int, 130) if run.stdout.contains("Interrupt received: the apply stopped") => {
                tally.during += 1;
                run.assert_that(run.stdout.contains("not attempted"), "what is left is said");
            }
            (Signal::Int, 130) => tally.before += 1,
            (Signal::Kill, -1) if !state().accounts.is_empty() => tally.during += 1,
            (Signal::Kill, -1) => tally.before += 1,
            _ => panic!("unexpected exit\n{}", run.report()),
        }
        let next = plan_json(dir);
        check_leftover(&first, &next, &run, signal == Signal::Kill);
        check_no_duplicates(&state());
        let r = orgsync(dir, &["apply", "--auto-approve", "--at", AT]);
        r.assert_code(0);
        let done = orgsync(dir, &["plan", "--at", AT, "--detailed-exitcode"]);
        done.assert_code(0)
            .assert_that(done.stdout.contains("No changes."), "converged");
        check_no_duplicates(&state());
    }
    // The loop's figure, for BENCHMARKS.md and the closing note (`--nocapture`).
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "{signal:?}: {} moments over {span_ms} ms, {tally:?}; all converged",
            moments()
        );
    }
}

fn file_state(dir: &Path) -> TargetSnapshot {
    match std::fs::read(dir.join("workspace.json")) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap(),
        Err(_) => TargetSnapshot::default(),
    }
}

#[test]
fn interrupted_applies_to_a_file_workspace_converge() {
    for signal in [Signal::Int, Signal::Kill] {
        let tmp = sandbox(3000, None);
        let dir = tmp.path().join("c");
        let reset = || {
            let _ = std::fs::remove_file(dir.join("workspace.json"));
        };
        converge(&dir, &reset, &|| file_state(&dir), signal);
    }
}

fn start_scim() -> (Running, String) {
    let faults = Faults {
        latency_ms: 10,
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

#[test]
fn interrupted_applies_to_scim_converge() {
    for signal in [Signal::Int, Signal::Kill] {
        // A fresh emulator for every moment, on a port the configuration is rewritten to.
        let server = std::cell::RefCell::new(start_scim());
        let tmp = sandbox(300, Some(&server.borrow().1));
        let dir = tmp.path().join("c");
        let reset = || {
            let old = server.borrow().1.clone();
            *server.borrow_mut() = start_scim();
            let path = dir.join("orgsync.yaml");
            let yaml = std::fs::read_to_string(&path).unwrap();
            std::fs::write(&path, yaml.replace(&old, &server.borrow().1)).unwrap();
        };
        converge(&dir, &reset, &|| scim_state(&server.borrow().1), signal);
    }
}

/// Regression: an interrupted first sync left more invites than `max_invites` (25%) allows
/// against the accounts that then existed, so the plan that would finish it was unsafe and the
/// nightly could never complete the apply it had started. The invites the interrupted apply
/// recorded as not attempted were checked with its plan: they do not count again.
#[test]
fn an_interrupted_first_sync_resumes_within_the_invite_limit() {
    let (_server, url) = start_scim();
    let tmp = sandbox(1000, Some(&url));
    let dir = tmp.path().join("c");
    let path = dir.join("orgsync.yaml");
    let yaml = std::fs::read_to_string(&path).unwrap();
    assert!(yaml.contains("  max_invites: unlimited\n"));
    std::fs::write(&path, yaml.replace("  max_invites: unlimited\n", "")).unwrap();
    std::fs::write(dir.join(".gitignore"), "*.out\n*.err\n").unwrap();
    git(&dir, &["init", "-q"]);
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-q", "-m", "config"]);

    // Interrupt until at least 10 accounts exist (percentages count from 10) and most invites
    // are left: each later apply has to resume the one before.
    let mut interrupted = None;
    for ms in [300, 300, 500, 500, 800, 800, 1200, 1200, 2000] {
        let run = interrupted_apply(&dir, Duration::from_millis(ms), Signal::Int);
        assert_eq!(
            run.code,
            130,
            "interrupted, not refused or finished\n{}",
            run.report()
        );
        let during = run.stdout.contains("Interrupt received: the apply stopped");
        if during && scim_state(&url).accounts.len() >= 10 {
            interrupted = Some(run);
            break;
        }
    }
    let run = interrupted.expect("one of the moments lands during the apply");
    let managed = scim_state(&url).accounts.len();
    let plan = plan_json(&dir);
    let invites = plan["summary"]["invite"].as_u64().unwrap();
    assert!(
        invites * 4 > managed as u64,
        "more invites are left ({invites}) than 25% of the {managed} accounts\n{}",
        run.report()
    );
    assert_eq!(plan["safety"]["safe"], true, "{}", plan["safety"]);
    assert!(
        plan["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["message"].as_str().unwrap_or_default().contains(
                "which was interrupted: they are not counted against safety.max_invites again"
            )),
        "the plan says why: {}",
        plan["diagnostics"]
    );
    orgsync(&dir, &["apply", "--auto-approve", "--at", AT]).assert_code(0);
    let done = orgsync(&dir, &["plan", "--at", AT, "--detailed-exitcode"]);
    done.assert_code(0)
        .assert_that(done.stdout.contains("No changes."), "converged");
}

/// Regression (issue 18): before the apply starts, an interrupt ended orgsync from a watcher
/// thread (`process::exit`). `main` owns the exit now: an interrupt during a slow fetch still
/// ends orgsync at once — without waiting for the fetch — with 130, the same sentence, and
/// nothing written.
#[test]
fn an_interrupt_during_the_fetch_ends_at_once_and_changes_nothing() {
    let faults = Faults {
        latency_ms: 3_000,
        ..Faults::default()
    };
    let server: Running =
        spawn(scim_emulator::router(ScimData::new(), TOKEN, faults), 0).expect("SCIM emulator");
    let url = format!("{}{}", server.url(), scim_emulator::BASE_PATH);
    let dir = sandbox(20, Some(&url));
    let d = dir.path().join("c");
    let start = std::time::Instant::now();
    let run = interrupted_apply(&d, Duration::from_millis(500), Signal::Int);
    let took = start.elapsed();
    run.assert_code(130).assert_that(
        run.stderr
            .contains("Interrupt received before anything was applied: nothing was changed."),
        "it says nothing was changed",
    );
    assert!(
        took < Duration::from_millis(2_500),
        "it did not wait for the fetch: {took:?}"
    );
    assert!(
        !run.stdout.contains("Apply complete") && !run.stdout.contains("  ok "),
        "nothing was applied: {}",
        run.stdout
    );
}

/// Regression (issue 20: CI logs): off a terminal an apply printed a progress line every 10 s
/// and every action's result only at the end, so a job killed by `timeout-minutes` showed
/// little. Now each action is a line on stderr as it finishes (`invite 4001: done (0.1 s)`),
/// written at once: a kill -9 right after the first ones still leaves them in the log. The
/// count lines count every action of the plan, group creates included, with one decimal rates.
#[test]
fn apply_off_a_terminal_prints_each_action_as_it_finishes() {
    let faults = Faults {
        latency_ms: 150,
        ..Faults::default()
    };
    let server =
        spawn(scim_emulator::router(ScimData::new(), TOKEN, faults), 0).expect("SCIM emulator");
    let url = format!("{}{}", server.url(), scim_emulator::BASE_PATH);
    let tmp = sandbox(60, Some(&url));
    let dir = tmp.path().join("c");
    let plan = plan_json(&dir);
    let planned = keys(&plan);
    let creates = planned
        .iter()
        .filter(|(k, _)| k.starts_with("create_"))
        .count();
    assert!(creates > 0, "the plan creates groups");

    let (out, err) = (dir.join("apply.out"), dir.join("apply.err"));
    let mut child = command(&dir, &["apply", "--auto-approve", "--at", AT])
        .env("ORGSYNC_PROGRESS_SECS", "0.3")
        .stdout(Stdio::from(std::fs::File::create(&out).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&err).unwrap()))
        .spawn()
        .expect("orgsync starts");
    let is_line = |l: &str| l.contains(": done (") || l.contains(": failed");
    let started = std::time::Instant::now();
    let mut still_running = false;
    while started.elapsed() < Duration::from_secs(60) {
        let text = std::fs::read_to_string(&err).unwrap_or_default();
        if text.lines().filter(|l| is_line(l)).count() >= 3 {
            still_running = child.try_wait().unwrap().is_none();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let stdout = std::fs::read_to_string(&out).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err).unwrap_or_default();
    assert!(
        still_running,
        "the lines came while the apply ran, not at its end:\n{stderr}"
    );
    assert!(
        !stdout.contains("Apply complete"),
        "killed half-way: {stdout}"
    );
    let lines: Vec<&str> = stderr.lines().filter(|l| is_line(l)).collect();
    assert!(lines.len() >= 3, "{stderr}");
    for line in &lines {
        // `kind subject: done (0.1 s)`: an action of the plan, no name, no e-mail address.
        let (head, rest) = line.split_once(": ").expect("kind subject: result");
        let (kind, subject) = head.split_once(' ').expect("kind subject");
        assert!(
            planned.contains(&(kind.to_owned(), subject.to_owned())),
            "an action of the plan: {line}"
        );
        assert!(!line.contains('@'), "no e-mail address: {line}");
        let took = rest
            .strip_prefix("done (")
            .and_then(|r| r.strip_suffix(" s)"))
            .expect("done with its time");
        assert!(
            took.parse::<f64>().is_ok() && took.split('.').nth(1).map(str::len) == Some(1),
            "{line}"
        );
    }

    // The rest, to its end: every action of its plan has its line, and the count lines count
    // them all (creates included) with one-decimal rates.
    let rest = plan_json(&dir);
    let total = keys(&rest).len();
    let run = orgsync(&dir, &["apply", "--auto-approve", "--at", AT]);
    run.assert_code(0);
    for (kind, subject) in keys(&rest) {
        let line = format!("{kind} {subject}: done (");
        assert_eq!(
            run.stderr.lines().filter(|l| l.starts_with(&line)).count(),
            1,
            "one line for {kind} {subject}\n{}",
            run.stderr
        );
    }
    let first_total = planned.len();
    let counts: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("applying: "))
        .collect();
    assert!(!counts.is_empty(), "count lines every 0.3 s:\n{stderr}");
    for l in counts {
        assert!(l.contains(&format!("/{first_total} done after ")), "{l}");
        let rate = l.rsplit_once('(').expect("a rate").1;
        let digits = rate.trim_end_matches("/s)").split('.').nth(1).map(str::len);
        assert_eq!(digits, Some(1), "one decimal: {l}");
    }
    assert!(total > 0 && total < first_total, "the kill left part of it");
}
