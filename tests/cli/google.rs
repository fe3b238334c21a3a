//! The Google Workspace source end to end: the real `orgsync sandbox google --config-out` and
//! the real `orgsync plan`/`apply` against it, into the file target, with and without faults.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use orgsync_sandbox::generate::{GenerateOptions, generate};
use orgsync_sandbox::google::GoogleData;
use serde_json::Value;

use crate::common::{Run, repo};

const AT: &str = "2025-06-02";
const PEOPLE: usize = 150;

/// An `orgsync sandbox <kind>` process with its configuration written to a temporary directory,
/// killed when dropped.
pub(crate) struct Sandbox {
    child: Child,
    pub(crate) dir: tempfile::TempDir,
    /// What it printed before serving.
    pub(crate) banner: String,
}

impl Sandbox {
    pub(crate) fn start(kind: &str, extra: &[&str]) -> Sandbox {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("orgsync"))
            .args([
                "sandbox",
                kind,
                "--port",
                "0",
                "--people",
                &PEOPLE.to_string(),
            ])
            .arg("--config-out")
            .arg(dir.path())
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("orgsync sandbox starts");
        let mut banner = String::new();
        let mut lines = BufReader::new(child.stderr.take().expect("stderr"));
        let deadline = Instant::now() + Duration::from_secs(60);
        while !banner.contains("Press Ctrl-C") {
            assert!(
                Instant::now() < deadline,
                "the sandbox did not start: {banner}"
            );
            let mut line = String::new();
            if lines.read_line(&mut line).expect("read stderr") == 0 {
                panic!("the sandbox exited: {banner}");
            }
            banner.push_str(&line);
        }
        let addr = banner
            .split("http://")
            .nth(1)
            .and_then(|r| r.split(['/', ' ', ')']).next())
            .expect("an address in the banner")
            .to_owned();
        while TcpStream::connect(&addr).is_err() {
            assert!(Instant::now() < deadline, "the sandbox does not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Sandbox { child, dir, banner }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs orgsync in the sandbox's configuration directory with `env` set.
pub(crate) fn run(dir: &Path, env: &[(&str, String)], args: &[&str]) -> Run {
    let mut cmd = assert_cmd::Command::cargo_bin("orgsync").expect("the orgsync binary is built");
    cmd.args(args)
        .arg("-C")
        .arg(dir)
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .env("GIT_CEILING_DIRECTORIES", std::env::temp_dir())
        .env_remove("RUST_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let output = cmd.output().expect("orgsync runs");
    Run {
        command: format!("orgsync {} -C {}", args.join(" "), dir.display()),
        dir: dir.to_owned(),
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The plan's actions as (kind, subject), sorted.
pub(crate) fn actions(plan: &Value) -> BTreeSet<(String, String)> {
    plan["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| {
            let subject = ["subject", "target_id"]
                .iter()
                .find_map(|k| a.get(*k).and_then(Value::as_str))
                .unwrap_or_default();
            (
                a["kind"].as_str().unwrap_or_default().to_owned(),
                subject.to_owned(),
            )
        })
        .collect()
}

pub(crate) fn key_env(sandbox: &Sandbox) -> Vec<(&'static str, String)> {
    let key: PathBuf = sandbox.path().join(".secrets/google-service-account.json");
    assert!(key.is_file(), "the key file is written: {}", sandbox.banner);
    // The key stays out of git: ignored, and only referred to from the configuration.
    let ignore = std::fs::read_to_string(sandbox.path().join(".gitignore")).unwrap_or_default();
    assert!(ignore.lines().any(|l| l == ".secrets/"), "{ignore}");
    let yaml = std::fs::read_to_string(sandbox.path().join("orgsync.yaml")).expect("orgsync.yaml");
    assert!(
        yaml.contains("credentials: ${env:GOOGLE_SERVICE_ACCOUNT}") && !yaml.contains("PRIVATE")
    );
    assert!(
        !sandbox.banner.contains("PRIVATE"),
        "the banner names the file, not the key"
    );
    vec![("GOOGLE_SERVICE_ACCOUNT", key.display().to_string())]
}

/// The employee numbers of the users the emulator serves: (active, suspended).
fn users() -> (BTreeSet<String>, BTreeSet<String>) {
    let opts = GenerateOptions::new(PEOPLE, 42);
    let g = generate(&opts);
    let (mut active, mut suspended) = (BTreeSet::new(), BTreeSet::new());
    for u in GoogleData::from_snapshot(&g.source, opts.today).users {
        let id = u["externalIds"][0]["value"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if u["suspended"] == true {
            suspended.insert(id);
        } else {
            active.insert(id);
        }
    }
    (active, suspended)
}

/// `sandbox google --config-out` → `plan` → `apply` → `plan` again, with the emulator cutting
/// pages, answering quota 403s and 429s, failing 5xx and expiring tokens: the plan is the one a
/// clean emulator gives, suspended users are the removals, and after the apply nothing is left.
#[test]
fn google_to_file_target_with_faults_plans_what_a_clean_fetch_plans_and_converges() {
    let clean = Sandbox::start("google", &[]);
    let env = key_env(&clean);
    let plan = run(
        clean.path(),
        &env,
        &["plan", "--format", "json", "--at", AT],
    );
    plan.assert_code(0);
    let expected: Value = serde_json::from_str(&plan.stdout).expect("plan JSON");
    let expected = actions(&expected);
    let removes: BTreeSet<String> = expected
        .iter()
        .filter(|(k, _)| k == "remove")
        .map(|(_, s)| s.clone())
        .collect();
    assert!(!removes.is_empty(), "leavers are removed: {expected:?}");
    let (active, suspended) = users();
    assert!(
        removes.iter().all(|r| !active.contains(r)),
        "no active user is removed: {removes:?}"
    );
    assert!(
        removes.iter().any(|r| suspended.contains(r)),
        "suspended users are leavers: {removes:?} / {suspended:?}"
    );

    let faulty = Sandbox::start(
        "google",
        &[
            "--short-page-every",
            "3",
            "--quota-403-every",
            "4",
            "--throttle-every",
            "5",
            "--retry-after",
            "0",
            "--error-rate",
            "0.1",
            "--expire-token-after",
            "4",
        ],
    );
    let env = key_env(&faulty);
    let dir = faulty.path();
    // The configured page size is Google's 500: ask for small pages so that there are some.
    let yaml = std::fs::read_to_string(dir.join("orgsync.yaml")).expect("orgsync.yaml");
    let yaml = yaml.replace(
        "  queries_per_minute:",
        "  page_size: 20\n  queries_per_minute:",
    );
    std::fs::write(dir.join("orgsync.yaml"), yaml).expect("write orgsync.yaml");
    let plan = run(dir, &env, &["plan", "--format", "json", "--at", AT, "-v"]);
    plan.assert_code(0);
    let got: Value = serde_json::from_str(&plan.stdout).expect("plan JSON");
    assert_eq!(actions(&got), expected, "{}", plan.report());
    for secret in ["PRIVATE KEY", "ya29.", "Bearer "] {
        plan.assert_that(
            !plan.stderr.contains(secret) && !plan.stdout.contains(secret),
            &format!("nothing secret in the output ({secret})"),
        );
    }
    run(dir, &env, &["apply", "--auto-approve", "--at", AT]).assert_code(0);
    let again = run(dir, &env, &["plan", "--detailed-exitcode", "--at", AT]);
    again.assert_code(0);
    assert!(again.stdout.contains("No changes"), "{}", again.report());
}

/// `validate --online` with the right key passes; a key that does not verify, and a missing
/// key file: exit 1, a message that says what to
/// check, and never the key.
#[test]
fn a_wrong_or_missing_key_fails_the_plan_without_printing_it() {
    let sandbox = Sandbox::start("google", &[]);
    let dir = sandbox.path();
    let online = run(dir, &key_env(&sandbox), &["validate", "--online"]);
    online.assert_code(0).assert_that(
        online
            .stdout
            .contains("Online: the source and the target answer"),
        "validate --online gets a token and reads a user",
    );
    let missing = run(
        dir,
        &[("GOOGLE_SERVICE_ACCOUNT", "/nonexistent/key.json".to_owned())],
        &["plan", "--at", AT],
    );
    missing.assert_code(1).assert_that(
        missing
            .stderr
            .contains("cannot read the service account key file"),
        "a missing key file is named as such",
    );
    // A key of the right shape that the emulator does not know: a fresh one.
    let other = orgsync_sandbox::google::SandboxKey::generate()
        .key_file(&format!("{}/token", "http://127.0.0.1:1"));
    let wrong = run(
        dir,
        &[("GOOGLE_SERVICE_ACCOUNT", other.clone())],
        &["plan", "--at", AT],
    );
    wrong.assert_code(1).assert_that(
        wrong.stderr.contains("refused the service account")
            && wrong.stderr.contains("invalid_grant"),
        "the token URL's refusal is explained",
    );
    wrong.assert_that(
        !wrong.stderr.contains("PRIVATE KEY") && !wrong.stderr.contains(&other[40..80]),
        "the key is never printed",
    );
}
