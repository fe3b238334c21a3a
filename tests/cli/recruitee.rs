//! The `recruitee` source from the command line: the example configuration, the
//! `sandbox recruitee` emulator with `--config-out`, and what a plan shows of candidates
//! (names and e-mail masked in Markdown; birth date, phone and address nowhere).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use orgsync_sandbox::serve::Faults;

use crate::applicants::{AT, Setup};
use crate::common::{orgsync, repo};
use crate::http::commit_all;

#[test]
fn the_example_configuration_validates() {
    let r = orgsync(&["validate", "-C", "examples/recruitee"]);
    r.assert_code(0);
    r.assert_that(
        r.stdout.contains("RECRUITEE_TOKEN (for source.token)")
            && r.stdout.contains("AFAS_TOKEN (for target.token)"),
        "names both tokens",
    );
}

/// `orgsync sandbox recruitee --port 0 --config-out DIR` writes a configuration that plans
/// against the running emulator: one send per hired candidate.
#[test]
fn sandbox_recruitee_writes_a_configuration_that_plans() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cfg");
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("orgsync"))
        .args([
            "sandbox",
            "recruitee",
            "--port",
            "0",
            "--people",
            "30",
            "--today",
            AT,
        ])
        .arg("--config-out")
        .arg(&dir)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // "Recruitee emulator: http://127.0.0.1:PORT/c/89712 (30 candidates, N hired, as of …)."
    let hired: usize = first
        .split(" hired")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{first}"));
    commit_all(&dir);
    let out = Command::new(assert_cmd::cargo::cargo_bin("orgsync"))
        .args(["plan", "--format", "json", "--at", AT])
        .current_dir(&dir)
        .env("GIT_CEILING_DIRECTORIES", repo())
        .env("RECRUITEE_TOKEN", "sandbox-token")
        .env("AFAS_TOKEN", "sandbox-token")
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["summary"]["invite"], hired, "{first}");
}

/// The Markdown plan (the step summary) masks names and e-mail addresses; no output format
/// carries birth dates, phone numbers or addresses.
#[test]
fn plans_show_no_applicant_data() {
    let s = Setup::new(20, Faults::default(), false);
    let md = s.run(&["plan", "--format", "markdown", "--at", AT]);
    md.assert_code(0);
    s.assert_no_personal_data(&md.stdout, "the Markdown plan");
    assert!(
        md.stdout.contains("hmac-sha256:") || md.stdout.contains("Invite"),
        "{}",
        md.report()
    );
    for format in ["text", "json"] {
        let r = s.run(&["plan", "--format", format, "--at", AT]);
        r.assert_code(0);
        s.assert_no_applicant_data(&r.stdout, format);
    }
    let r = s.run(&["plan", "--at", AT, "--out", "plan.json"]);
    r.assert_code(0);
    let file = std::fs::read_to_string(s.dir.path().join("plan.json")).unwrap();
    s.assert_no_applicant_data(&file, "the plan file");
}

/// Issue 21: `validate --online` reported "the source and the target answer" in 0.0 s without
/// calling Recruitee, so a dead token or a hanging server passed. It reads one page of
/// candidates, and fails on a 401, a 5xx and a timeout as the other sources do.
#[test]
fn recruitee_validate_online_calls_recruitee_and_fails_on_401_5xx_and_timeouts() {
    use orgsync_sandbox::recruitee::{self, RecruiteeData};
    use orgsync_sandbox::serve::spawn;

    let s = Setup::new(5, Faults::default(), true);
    let ok = s.run(&["validate", "--online"]);
    ok.assert_code(0);

    // A dead token: Recruitee answers 401.
    let out = s
        .command(&["validate", "--online"])
        .env("RECRUITEE_TOKEN", "a-dead-token")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot check the source online") && stderr.contains("Recruitee"),
        "{stderr}"
    );

    let path = s.dir.path().join("orgsync.yaml");
    let yaml = std::fs::read_to_string(&path).unwrap();
    let start = yaml.find("  base_url: ").unwrap();
    let end = start + yaml[start..].find('\n').unwrap();
    let with_source = |url: &str| {
        let mut y = yaml.clone();
        y.replace_range(start..end, &format!("  base_url: {url}"));
        y.replacen(
            "  token: ${env:RECRUITEE_TOKEN}\n",
            "  token: ${env:RECRUITEE_TOKEN}\n  timeout_secs: 1\n  retries: 0\n",
            1,
        )
    };

    // A server error.
    let data = RecruiteeData::generate(3, 11, AT.parse().unwrap());
    let failing = spawn(
        recruitee::router(
            data.shared(),
            crate::applicants::REC_TOKEN,
            Faults {
                error_rate: 1.0,
                error_status: Some(503),
                ..Faults::default()
            },
        ),
        0,
    )
    .unwrap();
    std::fs::write(&path, with_source(&failing.url())).unwrap();
    let r = s.run(&["validate", "--online"]);
    r.assert_code(1);
    r.assert_that(
        r.stderr.contains("cannot check the source online") && r.stderr.contains("503"),
        "a 5xx fails the check",
    );

    // A server that never answers.
    let hanging = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", hanging.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in hanging.incoming() {
            held.push(c);
        }
    });
    std::fs::write(&path, with_source(&url)).unwrap();
    let started = std::time::Instant::now();
    let r = s.run(&["validate", "--online"]);
    r.assert_code(1);
    r.assert_that(
        r.stderr.contains("cannot check the source online"),
        "a timeout fails the check",
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}
