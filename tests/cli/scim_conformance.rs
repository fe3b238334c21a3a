//! `scim2 test` (scim2-tester, from the PyPI package scim2-cli) against orgsync's SCIM emulator,
//! with `scim2-server` as the control: both must pass every check, and the same number of
//! them. The emulator stands in for real SCIM servers in the other tests, so what it gets wrong
//! they would not see. When the control fails too, scim2-tester (or scim2-server) changed, not
//! the emulator: the message says which.
//!
//! Fails — never skips — when `scim2` or `scim2-server` is missing (`scripts/test.sh` installs
//! both into `.venv`).

use std::process::Command;

use orgsync_sandbox::generate::{GenerateOptions, generate};
use orgsync_sandbox::scim::{self as scim_emulator, ScimData};
use orgsync_sandbox::serve::{Faults, spawn};

use crate::http::{SCIM_TOKEN, Scim2Server};

/// What one `scim2 test` run said.
struct Conformance {
    passed: Vec<String>,
    /// Every other result line (ERROR, CRITICAL, SKIPPED, DEVIATION, …), with its reason.
    other: Vec<String>,
    exit: Option<i32>,
    output: String,
}

/// The statuses scim2-tester prints at the start of a result line.
const STATUSES: [&str; 7] = [
    "SUCCESS",
    "COMPLIANT",
    "ACCEPTABLE",
    "DEVIATION",
    "ERROR",
    "CRITICAL",
    "SKIPPED",
];

/// Runs `scim2 --url <url> test` against a loopback server; the token goes in
/// `SCIM_CLI_HEADERS` (the command line is visible to other users, as `scim2 --help` says).
fn scim2_test(url: &str) -> Conformance {
    assert!(
        url.starts_with("http://127.0.0.1:"),
        "scim2 test only runs against loopback: {url}"
    );
    let out = Command::new("scim2")
        .args(["--url", url, "test"])
        .env(
            "SCIM_CLI_HEADERS",
            format!("Authorization: Bearer {SCIM_TOKEN}"),
        )
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run scim2 ({e}): this test needs scim2-cli on PATH — run scripts/test.sh, \
                 or `pip install -r scripts/requirements-dev.txt` into a virtualenv and put its \
                 bin/ on PATH"
            )
        });
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let plain = strip_ansi(&output);
    let lines: Vec<&str> = plain.lines().collect();
    let mut passed = Vec::new();
    let mut other = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(status) = STATUSES.iter().find(|s| line.starts_with(&format!("{s} "))) else {
            continue;
        };
        let reason = lines
            .get(i + 1)
            .filter(|l| l.starts_with("  "))
            .map_or("", |l| l.trim());
        let entry = format!("{line} — {reason}");
        if *status == "SUCCESS" {
            passed.push(entry);
        } else {
            other.push(entry);
        }
    }
    Conformance {
        passed,
        other,
        exit: out.status.code(),
        output: plain,
    }
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl Conformance {
    fn all_passed(&self) -> bool {
        self.exit == Some(0) && self.other.is_empty() && !self.passed.is_empty()
    }

    fn report(&self, name: &str) -> String {
        format!(
            "{name}: {} checks passed, {} did not (exit {:?}):\n{}\n--- full output ---\n{}",
            self.passed.len(),
            self.other.len(),
            self.exit,
            self.other.join("\n"),
            self.output
        )
    }
}

#[test]
fn the_scim_emulator_passes_scim2_test_as_scim2_server_does() {
    // The control first: a real SCIM server nobody here wrote.
    let control = {
        let server = Scim2Server::start();
        scim2_test(&server.base_url)
    };
    assert!(
        control.all_passed(),
        "the CONTROL failed: scim2-server does not pass `scim2 test` any more, so scim2-tester \
         (scim2-cli) or scim2-server changed — check scripts/requirements-dev.txt, not the \
         emulator.\n{}",
        control.report("scim2-server")
    );

    // The emulator as `orgsync sandbox scim` serves it: seeded with a generated workspace.
    let generated = generate(&GenerateOptions::new(40, 7));
    let data = ScimData::from_workspace(&generated.workspace, &Default::default());
    let server = spawn(
        scim_emulator::router(data, SCIM_TOKEN, Faults::default()),
        0,
    )
    .expect("SCIM emulator");
    let emulator = scim2_test(&format!("{}{}", server.url(), scim_emulator::BASE_PATH));
    assert!(
        emulator.all_passed(),
        "the SCIM emulator fails `scim2 test` (scim2-server passes {} checks):\n{}",
        control.passed.len(),
        emulator.report("the emulator")
    );
    assert_eq!(
        emulator.passed.len(),
        control.passed.len(),
        "the emulator ran another number of checks than scim2-server: it publishes other \
         schemas or resource types.\n{}\n{}",
        emulator.report("the emulator"),
        control.report("scim2-server")
    );
}
