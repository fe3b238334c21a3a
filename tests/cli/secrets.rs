//! The secret canary (issue 11 §6): canary values in the AFAS and SCIM tokens, emulators that
//! quote the `Authorization` header in their error bodies, every command and error path, and
//! a grep of ALL output — stdout, stderr, every file the commands wrote (plan files included)
//! and the apply records in git notes — for the canary in every form it travels in.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use orgsync_sandbox::afas;
use orgsync_sandbox::generate::{GenerateOptions, generate};
use orgsync_sandbox::scim::{self as scim_emulator, ScimData};
use orgsync_sandbox::serve::{Faults, Running, spawn};

use crate::common::Run;
use crate::http::{AT, afas_people, commit_all, config_dir, free_port};

/// The canaries: with `+` and `/`, so that their percent-encoding differs from them.
const AFAS_CANARY: &str = "canary+afas/K7q2Wm9xZ4";
pub(crate) const SCIM_CANARY: &str = "canary+scim/R8vN3pL6tY";
/// The tokens a "wrong token" server accepts instead.
pub(crate) const OTHER_TOKEN: &str = "the-token-the-server-wants";

/// Every form a canary travels in: plain, base64 (standard and URL-safe, padded or not), the
/// AfasToken XML and its base64, percent-encoded (as a URL path or query writes it, as a form
/// body does, every byte but letters and digits as an echoing server writes it, each of those
/// encoded once more as an echo of a form body is, in upper and lower case), and as a Bearer
/// header; and inside a longer base64 text at every alignment.
pub(crate) fn forms(canary: &str) -> Vec<(String, String)> {
    let xml = format!("<token><version>1</version><data>{canary}</data></token>");
    let mut out = vec![
        ("plain".to_owned(), canary.to_owned()),
        ("AfasToken XML".to_owned(), xml.clone()),
        ("Bearer".to_owned(), format!("Bearer {canary}")),
    ];
    let mut percents = Vec::new();
    for (name, keep) in [
        ("percent-encoded", "-._~"),
        ("form-urlencoded", "*-._"),
        ("percent-encoded (every byte but letters and digits)", ""),
    ] {
        let once = percent(canary, keep);
        percents.push((name.to_owned(), once.clone()));
        percents.push((format!("{name}, then encoded again"), percent(&once, "")));
    }
    // Once encoded first: a form is named after what makes it (the forms often coincide).
    percents.sort_by_key(|(name, _)| name.contains("again"));
    for (name, value) in &percents {
        out.push((name.clone(), value.clone()));
        out.push((format!("{name} (lower case)"), lower_hex(value)));
    }
    for (what, plain) in [("", canary), (" of the AfasToken XML", xml.as_str())] {
        for (name, engine) in [
            ("base64", base64::engine::general_purpose::STANDARD),
            ("base64url", base64::engine::general_purpose::URL_SAFE),
        ] {
            let encoded = engine.encode(plain);
            out.push((
                format!("{name}{what} (unpadded)"),
                encoded.trim_end_matches('=').to_owned(),
            ));
            out.push((format!("{name}{what}"), encoded));
        }
    }
    // Inside a longer base64 text (a whole request encoded at once), the canary may start at
    // any byte: the characters only its own bytes decide, for each alignment.
    let mut inside = vec![
        (String::new(), canary.to_owned()),
        (
            " of the Bearer header".to_owned(),
            format!("Bearer {canary}"),
        ),
    ];
    for (name, value) in &percents {
        inside.push((format!(" of the canary {name}"), value.clone()));
    }
    for (what, plain) in inside {
        for offset in 0..3usize {
            let mut bytes = vec![0u8; offset];
            bytes.extend_from_slice(plain.as_bytes());
            let (skip, end) = ((offset * 8).div_ceil(6), bytes.len() * 8 / 6);
            for (name, engine) in [
                ("base64", base64::engine::general_purpose::STANDARD_NO_PAD),
                (
                    "base64url",
                    base64::engine::general_purpose::URL_SAFE_NO_PAD,
                ),
            ] {
                out.push((
                    format!("{name}{what} inside a longer text (offset {offset})"),
                    engine.encode(&bytes)[skip..end].to_owned(),
                ));
            }
        }
    }
    // One form per value: the first name it got.
    let mut seen = std::collections::HashSet::new();
    out.retain(|(_, value)| seen.insert(value.clone()));
    out
}

/// The part of `line` around `needle` (echoed requests make lines long).
fn around(line: &str, needle: &str) -> String {
    let at = line.find(needle).unwrap_or(0);
    let mut start = at.saturating_sub(160);
    while !line.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (at + needle.len() + 160).min(line.len());
    while !line.is_char_boundary(end) {
        end += 1;
    }
    let (open, close) = (
        if start > 0 { "…" } else { "" },
        if end < line.len() { "…" } else { "" },
    );
    format!("{open}{}{close}", &line[start..end])
}

/// `text` with every byte but ASCII letters, digits and those in `keep` as `%XX` (upper-case
/// hex); a form body's space as `+` when `+` is encoded anyway.
fn percent(text: &str, keep: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || keep.as_bytes().contains(&b) {
            out.push(char::from(b));
        } else if b == b' ' && keep == "*-._" {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `text` with the hex digits of its `%XX` escapes in lower case.
fn lower_hex(text: &str) -> String {
    let mut out = String::new();
    let mut left = 0;
    for c in text.chars() {
        if c == '%' {
            left = 2;
            out.push(c);
        } else if left > 0 {
            left -= 1;
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Everything the runs printed and wrote, by where it came from.
#[derive(Default)]
pub(crate) struct Corpus {
    pub(crate) texts: Vec<(String, String)>,
    pub(crate) runs: usize,
}

impl Corpus {
    pub(crate) fn run(&mut self, r: &Run) {
        self.runs += 1;
        self.texts
            .push((format!("stdout of `{}`", r.command), r.stdout.clone()));
        self.texts
            .push((format!("stderr of `{}`", r.command), r.stderr.clone()));
    }

    /// Every file under `dir` (a work tree: `.git` holds compressed objects; the notes are read
    /// with git).
    pub(crate) fn files(&mut self, dir: &Path) {
        let mut stack = vec![dir.to_owned()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).expect("read a directory").flatten() {
                let path = entry.path();
                if path.file_name().is_some_and(|n| n == ".git") {
                    continue;
                }
                if path.is_dir() {
                    stack.push(path);
                } else if let Ok(bytes) = std::fs::read(&path) {
                    self.texts.push((
                        format!("file {}", path.display()),
                        String::from_utf8_lossy(&bytes).into_owned(),
                    ));
                }
            }
        }
    }

    /// The apply records: every note on `refs/notes/orgsync`.
    pub(crate) fn notes(&mut self, repo: &git2::Repository) -> usize {
        let Ok(notes) = repo.notes(Some("refs/notes/orgsync")) else {
            return 0;
        };
        let mut n = 0;
        for (_, annotated) in notes.flatten() {
            if let Ok(note) = repo.find_note(Some("refs/notes/orgsync"), annotated) {
                n += 1;
                self.texts.push((
                    format!("git note on {annotated}"),
                    note.message().unwrap_or_default().to_owned(),
                ));
            }
        }
        n
    }

    /// Every leak of the AFAS and SCIM canaries: where, which canary form, and the line it is on.
    fn leaks(&self) -> Vec<String> {
        self.leaks_of(&[
            (AFAS_CANARY.to_owned(), forms(AFAS_CANARY)),
            (SCIM_CANARY.to_owned(), forms(SCIM_CANARY)),
        ])
    }

    /// Every leak of `secrets` (each named, with the forms it travels in) in every text: where,
    /// which secret in which form, and the line it is on.
    pub(crate) fn leaks_of(&self, secrets: &[(String, Vec<(String, String)>)]) -> Vec<String> {
        let mut found = Vec::new();
        for (secret, forms) in secrets {
            for (form, value) in forms {
                for (place, text) in &self.texts {
                    if let Some(line) = text.lines().find(|l| l.contains(value.as_str())) {
                        found.push(format!(
                            "{place}: {form} of {secret}: {}",
                            around(line, value)
                        ));
                    }
                }
            }
        }
        found
    }

    pub(crate) fn contains(&self, needle: &str) -> bool {
        self.texts.iter().any(|(_, t)| t.contains(needle))
    }
}

/// A configuration directory that is a git repository (so apply records its notes).
struct Workspace {
    dir: tempfile::TempDir,
    repo: git2::Repository,
}

impl Workspace {
    fn new(afas_url: &str, scim_url: &str) -> Workspace {
        let dir = config_dir(afas_url, scim_url, "  concurrency: 1\n", "");
        let repo = commit_all(dir.path());
        Workspace { dir, repo }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `orgsync ARGS -C DIR` with the canaries in the token variables.
    fn run(&self, args: &[&str]) -> Run {
        let mut cmd =
            assert_cmd::Command::cargo_bin("orgsync").expect("the orgsync binary is built");
        cmd.args(args)
            .arg("-C")
            .arg(self.path())
            .current_dir(self.path())
            .env("NO_COLOR", "1")
            .env("AFAS_TOKEN", AFAS_CANARY)
            .env("SCIM_TOKEN", SCIM_CANARY)
            .env_remove("RUST_LOG")
            .env_remove("GITHUB_ACTOR");
        let output = cmd.output().expect("orgsync runs");
        Run {
            command: format!("orgsync {} -C {}", args.join(" "), self.path().display()),
            dir: self.path().to_owned(),
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// `faults`, with every error body quoting the request.
pub(crate) fn echo(faults: Faults) -> Faults {
    Faults {
        echo_authorization: true,
        echo_request: true,
        ..faults
    }
}

fn afas_server(token: &str, faults: Faults) -> (Running, String) {
    let server = spawn(afas::router(afas_people(40), token, echo(faults)), 0).expect("AFAS");
    let url = format!("{}{}", server.url(), afas::BASE_PATH);
    (server, url)
}

fn scim_server(token: &str, faults: Faults) -> (Running, String) {
    let server = spawn(
        scim_emulator::router(ScimData::new(), token, echo(faults)),
        0,
    )
    .expect("SCIM emulator");
    let url = format!("{}{}", server.url(), scim_emulator::BASE_PATH);
    (server, url)
}

/// Runs `args`, adds the output to `corpus`, and checks the exit code.
fn step(corpus: &mut Corpus, w: &Workspace, args: &[&str], code: i32) -> Run {
    let r = w.run(args);
    r.assert_code(code);
    corpus.run(&r);
    r
}

#[test]
fn secrets_never_reach_output_files_or_apply_records() {
    let mut corpus = Corpus::default();
    let person = generate(&GenerateOptions::new(40, 7)).source.persons[0]
        .id
        .clone();

    // Every command against servers that take the canaries (and quote the header in every
    // error they send: a 429 every 7th AFAS request, so -vvv shows retries).
    let (_afas, afas_url) = afas_server(
        AFAS_CANARY,
        Faults {
            throttle_every: Some(7),
            ..Faults::default()
        },
    );
    let (_scim, scim_url) = scim_server(SCIM_CANARY, Faults::default());
    let w = Workspace::new(&afas_url, &scim_url);
    let plan_file = w.path().join("plan.json");
    let plan_file = plan_file.to_str().expect("a UTF-8 path");
    step(&mut corpus, &w, &["validate"], 0);
    step(&mut corpus, &w, &["-vvv", "validate", "--online"], 0);
    for format in ["text", "markdown", "json"] {
        step(
            &mut corpus,
            &w,
            &["-vvv", "plan", "--at", AT, "--format", format],
            0,
        );
    }
    step(
        &mut corpus,
        &w,
        &["plan", "--at", AT, "--diff", "--show-pii"],
        0,
    );
    step(
        &mut corpus,
        &w,
        &["plan", "--at", AT, "--out", plan_file],
        0,
    );
    step(
        &mut corpus,
        &w,
        &["-vvv", "apply", plan_file, "--auto-approve", "--at", AT],
        0,
    );
    // JSON logs (`--log-format json`) are scrubbed as the text logs are.
    step(
        &mut corpus,
        &w,
        &[
            "-vvv",
            "--log-format",
            "json",
            "apply",
            "--auto-approve",
            "--at",
            AT,
        ],
        0,
    );
    step(&mut corpus, &w, &["explain", &person, "--at", AT], 0);
    step(&mut corpus, &w, &["history"], 0);
    step(&mut corpus, &w, &["import", "--dry-run", "--at", AT], 0);
    corpus.files(w.path());
    let applies = corpus.notes(&w.repo);
    assert!(applies >= 1, "the applies were recorded in git notes");
    assert!(
        corpus.contains("(the request had Authorization: "),
        "the throttled requests got the echoing error bodies"
    );
    assert!(
        corpus.contains("[base64url: "),
        "the whole request came back encoded"
    );

    // Error paths, each against its own servers.
    // A wrong token: 401s whose bodies quote the header orgsync sent.
    {
        let (_afas, afas_url) = afas_server(OTHER_TOKEN, Faults::default());
        let (_scim, scim_url) = scim_server(OTHER_TOKEN, Faults::default());
        let w = Workspace::new(&afas_url, &scim_url);
        step(&mut corpus, &w, &["-vvv", "validate", "--online"], 1);
        step(&mut corpus, &w, &["-vvv", "plan", "--at", AT], 1);
        step(
            &mut corpus,
            &w,
            &["-vvv", "--log-format=json", "plan", "--at", AT],
            1,
        );
        step(
            &mut corpus,
            &w,
            &["-vvv", "apply", "--auto-approve", "--at", AT],
            1,
        );
        corpus.files(w.path());
    }
    // A 500 on every request, quoting the header, retried under -vvv.
    {
        let fail = Faults {
            error_rate: 1.0,
            error_status: Some(500),
            ..Faults::default()
        };
        let (_afas, afas_url) = afas_server(AFAS_CANARY, fail.clone());
        let (_scim, scim_url) = scim_server(SCIM_CANARY, fail);
        let w = Workspace::new(&afas_url, &scim_url);
        step(&mut corpus, &w, &["-vvv", "validate", "--online"], 1);
        step(&mut corpus, &w, &["-vvv", "plan", "--at", AT], 1);
        corpus.files(w.path());
    }
    // A SCIM token that expires during apply: failed actions with quoting 401s, recorded.
    {
        let (_afas, afas_url) = afas_server(AFAS_CANARY, Faults::default());
        let (_scim, scim_url) = scim_server(
            SCIM_CANARY,
            Faults {
                expire_token_after: Some(12),
                ..Faults::default()
            },
        );
        let w = Workspace::new(&afas_url, &scim_url);
        let r = w.run(&[
            "-vvv",
            "--log-format",
            "json",
            "apply",
            "--auto-approve",
            "--at",
            AT,
        ]);
        assert_ne!(r.code, 0, "{}", r.report());
        corpus.run(&r);
        corpus.files(w.path());
        corpus.notes(&w.repo);
    }
    // Servers that are down.
    {
        let down = |port: u16| format!("http://127.0.0.1:{port}");
        let w = Workspace::new(
            &format!("{}{}", down(free_port()), afas::BASE_PATH),
            &format!("{}{}", down(free_port()), scim_emulator::BASE_PATH),
        );
        step(&mut corpus, &w, &["-vvv", "validate", "--online"], 1);
        step(&mut corpus, &w, &["-vvv", "plan", "--at", AT], 1);
        corpus.files(w.path());
    }

    // The sandbox writes a configuration for the token it serves: references, never the value.
    sandbox_config(&mut corpus);

    let leaks = corpus.leaks();
    assert!(
        leaks.is_empty(),
        "a secret leaked ({} runs, {} texts searched):\n{}",
        corpus.runs,
        corpus.texts.len(),
        leaks.join("\n")
    );
}

/// A source that carries a token's value in a field (a vendor echoing it into a name): the plan
/// shows it scrubbed and `--out` refuses to save it, rather than writing a secret to a file.
#[test]
fn a_plan_that_would_hold_a_secret_is_not_written() {
    let mut g = generate(&GenerateOptions::new(40, 7));
    g.source.persons[0].first_name = SCIM_CANARY.to_owned();
    let data = afas::AfasData::from_snapshot("orgsync_employees", &g.source);
    let afas_server = spawn(afas::router(data, AFAS_CANARY, Faults::default()), 0).expect("AFAS");
    let afas_url = format!("{}{}", afas_server.url(), afas::BASE_PATH);
    let (_scim, scim_url) = scim_server(SCIM_CANARY, Faults::default());
    let w = Workspace::new(&afas_url, &scim_url);
    let plan_file = w.path().join("plan.json");
    let mut corpus = Corpus::default();
    let r = step(
        &mut corpus,
        &w,
        &[
            "plan",
            "--at",
            AT,
            "--show-pii",
            "--out",
            plan_file.to_str().expect("a UTF-8 path"),
        ],
        1,
    );
    r.assert_that(
        r.stderr
            .contains("the plan holds the value of a configured secret")
            && r.stdout.contains("[redacted]"),
        "the plan is printed scrubbed and not saved",
    );
    assert!(!plan_file.exists(), "no plan file was written");
    corpus.files(w.path());
    let leaks = corpus.leaks();
    assert!(leaks.is_empty(), "a secret leaked:\n{}", leaks.join("\n"));
}

/// `orgsync sandbox afas --token CANARY --config-out DIR`: the files it writes. (Its banner
/// prints the token on purpose: the user typed it and must export it.)
fn sandbox_config(corpus: &mut Corpus) {
    let out = tempfile::tempdir().expect("a temporary directory");
    let port = free_port();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("orgsync"))
        .args(["sandbox", "afas", "--people", "20", "--token", AFAS_CANARY])
        .args(["--port", &port.to_string(), "--config-out"])
        .arg(out.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("orgsync sandbox afas starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the emulator did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let written: Vec<PathBuf> = std::fs::read_dir(out.path())
        .expect("the configuration was written")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(
        !written.is_empty(),
        "sandbox afas --config-out wrote nothing"
    );
    corpus.files(out.path());
}
