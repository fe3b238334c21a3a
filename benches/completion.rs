//! Finishing a killed apply: `cargo bench --bench completion`.
//!
//! A first sync of 5,000 people (the generator's organisation) into an empty SCIM emulator, run
//! by the real `orgsync` binary from a git repository (so that it records a started record), is
//! killed (`kill -9`) half-way through its apply. Then a plain `orgsync apply --auto-approve` —
//! no override — finishes it. Reports the time of that completing apply (its own fetch and plan
//! included), what it planned (completions: accounts made and not yet placed; invites left), and
//! the time of an apply with nothing to do on the converged target, for scale.
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) it does a small smoke run.

#![allow(clippy::print_stdout)] // a benchmark prints its report

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use orgsync_sandbox::scim::{self as scim_emulator, ScimData};
use orgsync_sandbox::serve::{Faults, spawn};

const AT: &str = "2025-06-02";
const TOKEN: &str = "scim-token-completion-bench";

fn orgsync(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_orgsync"));
    cmd.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("SCIM_TOKEN", TOKEN)
        .env("GIT_CEILING_DIRECTORIES", dir.parent().unwrap_or(dir))
        .env("ORGSYNC_REMOTE", "none")
        .env_remove("RUST_LOG");
    cmd
}

fn run(dir: &Path, args: &[&str]) -> Output {
    let out = orgsync(dir, args).output().expect("orgsync runs");
    assert!(
        out.status.success(),
        "orgsync {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn git(dir: &Path, args: &[&str]) {
    let ok = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CEILING_DIRECTORIES", dir.parent().unwrap_or(dir))
        .env("GIT_AUTHOR_NAME", "bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.com")
        .env("GIT_COMMITTER_NAME", "bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.com")
        .status()
        .expect("git runs")
        .success();
    assert!(ok, "git {args:?}");
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let people = if full { 5_000 } else { 200 };
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let dir = tmp.path().join("c");
    run(
        tmp.path(),
        &[
            "sandbox",
            "generate",
            "--people",
            &people.to_string(),
            "--out",
            dir.to_str().expect("UTF-8"),
        ],
    );
    std::fs::remove_file(dir.join("workspace.json")).expect("the generated workspace");
    std::fs::write(dir.join(".gitignore"), "*.out\n*.err\n").expect("write");
    let path = dir.join("orgsync.yaml");
    let yaml = std::fs::read_to_string(&path).expect("the configuration");
    let serve = || {
        let faults = Faults {
            latency_ms: 2,
            ..Faults::default()
        };
        let server =
            spawn(scim_emulator::router(ScimData::new(), TOKEN, faults), 0).expect("SCIM emulator");
        let url = format!("{}{}", server.url(), scim_emulator::BASE_PATH);
        (server, url)
    };
    let retarget = |url: &str| {
        let text = yaml
            .replace(
                "target:\n  kind: file\n  path: workspace.json\n",
                &format!(
                    "target:\n  kind: scim\n  base_url: {url}\n  token: ${{env:SCIM_TOKEN}}\n"
                ),
            )
            // A first sync: its allowance written in, as its pull request would.
            .replace(
                "  max_removals: \"20%\"\n",
                "  max_removals: \"20%\"\n  first_sync_invites: 100000\n",
            );
        std::fs::write(&path, text).expect("write the configuration");
    };

    // An uninterrupted first sync, for the moment to kill at.
    let (server, url) = serve();
    retarget(&url);
    git(&dir, &["init", "-q"]);
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-q", "-m", "configuration"]);
    let start = Instant::now();
    run(&dir, &["apply", "--auto-approve", "--at", AT]);
    let whole = start.elapsed();
    drop(server);

    // The same first sync into a fresh target, killed half-way.
    let (_server, url) = serve();
    retarget(&url);
    let child = orgsync(&dir, &["apply", "--auto-approve", "--at", AT])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("orgsync starts");
    std::thread::sleep(whole / 2);
    let _ = Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status();
    let _ = child.wait_with_output();

    let plan = run(&dir, &["plan", "--format", "json", "--at", AT]);
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).expect("plan JSON");
    let actions = plan["actions"].as_array().expect("actions");
    let completions = actions
        .iter()
        .filter(|a| a["cause"] == "completion")
        .count();
    let invites = plan["summary"]["invite"].as_u64().unwrap_or(0);
    assert_eq!(plan["safety"]["safe"], true, "no override needed");

    let start = Instant::now();
    run(&dir, &["apply", "--auto-approve", "--at", AT]);
    let completing = start.elapsed();
    let start = Instant::now();
    let out = run(&dir, &["apply", "--auto-approve", "--at", AT]);
    let idle = start.elapsed();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Nothing to apply"),
        "converged"
    );
    println!(
        "completion after a kill at {people} people: whole first sync {}, killed at {}; the \
         next plain apply planned {completions} completions and {invites} invites left and ran \
         {} (an apply with nothing to do: {})",
        secs(whole),
        secs(whole / 2),
        secs(completing),
        secs(idle),
    );
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}
