//! The secret canary across every other connector (issue 19): `secrets.rs` runs it for AFAS and
//! SCIM; here each remaining flow — Google Workspace → Revolut, ManusPlus → SCIM, Recruitee →
//! AFAS applicants — runs with canary secrets (each with `+` and `/`, some with `-`, `.` and
//! `_`) against emulators whose every error body quotes the request in plain, URL-encoded and
//! base64 forms, the token URLs' refusals included. Every command under `-vvv` and every error
//! path (throttles that are retried, a wrong secret, a 500 on every request, a token that
//! expires), then a grep of ALL output — stdout, stderr, every file the commands wrote and the
//! git notes — for every secret in every form it travels in: the configured secrets, the
//! service account key's PEM body, the JWT assertions orgsync signed and the access tokens the
//! emulators issued. And no apply record (git note) holds a person's e-mail address: records
//! keep status codes and error classes only. `orgsync audit` runs in every flow too.

use std::path::Path;
use std::sync::{Arc, Mutex};

use orgsync_sandbox::afas::{self, AfasData, Applicants};
use orgsync_sandbox::generate::{GenerateOptions, generate};
use orgsync_sandbox::google::{self, GoogleData, GoogleFaults, SandboxKey};
use orgsync_sandbox::manusplus::{self, ManusPlusData, ManusPlusSettings};
use orgsync_sandbox::recruitee::{self, RecruiteeData};
use orgsync_sandbox::revolut::{self, RevolutData};
use orgsync_sandbox::scim::{self as scim_emulator, ScimData};
use orgsync_sandbox::serve::{Credentials, Faults, Running, spawn};

use crate::common::{Run, commit_all};
use crate::secrets::{Corpus, OTHER_TOKEN, SCIM_CANARY, echo, forms};

const REVOLUT_CANARY: &str = "canary+revolut/T5mQ8xW2kZ";
const MANUS_CANARY: &str = "canary+manus/P3v-J7n.B1_qX";
const RECRUITEE_CANARY: &str = "canary+recruitee/H6c-D2s.F9w_L";
const APPLICANTS_CANARY: &str = "canary+afas/applicants-M4gK8.rZ1_yV";
/// The day plans are made for (Google, ManusPlus).
const AT: &str = "2025-06-02";
/// The day of the Recruitee data.
const RECRUITEE_AT: &str = "2026-06-01";
const PEOPLE: usize = 40;

/// A committed configuration directory and the environment orgsync runs with.
struct Bench {
    dir: tempfile::TempDir,
    repo: git2::Repository,
    env: Vec<(&'static str, String)>,
}

impl Bench {
    fn new(yaml: &str, env: Vec<(&'static str, String)>) -> Bench {
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::write(dir.path().join("orgsync.yaml"), yaml).expect("write orgsync.yaml");
        let repo = commit_all(dir.path());
        Bench { dir, repo, env }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `orgsync ARGS -C DIR` with the secrets in the environment.
    fn run(&self, args: &[&str]) -> Run {
        let mut cmd =
            assert_cmd::Command::cargo_bin("orgsync").expect("the orgsync binary is built");
        cmd.args(args);
        let mut command = format!("orgsync {}", args.join(" "));
        // `show` reads a plan file, not a configuration.
        if !args.contains(&"show") {
            cmd.arg("-C").arg(self.path());
            command.push_str(&format!(" -C {}", self.path().display()));
        }
        cmd.current_dir(self.path())
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .env_remove("GITHUB_ACTOR");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let output = cmd.output().expect("orgsync runs");
        Run {
            command,
            dir: self.path().to_owned(),
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Runs `args`, adds the output to `corpus`, and checks the exit code.
    fn step(&self, corpus: &mut Corpus, args: &[&str], code: i32) -> Run {
        let r = self.run(args);
        r.assert_code(code);
        corpus.run(&r);
        r
    }

    /// Every file in the directory and every note, into `corpus`; the number of notes.
    fn collect(&self, corpus: &mut Corpus) -> usize {
        corpus.files(self.path());
        corpus.notes(&self.repo)
    }
}

/// Every command, all succeeding: validate (offline and online), plan in every format, to a
/// file with its masked copy and (`diff`) as a state diff, the saved plan shown and its review
/// record, apply of the saved plan and of a fresh one with their reports, explain and history.
fn every_command(corpus: &mut Corpus, b: &Bench, at: &str, person: &str, diff: bool) {
    let file = |name: &str| b.path().join(name).display().to_string();
    let (plan, masked) = (file("plan.json"), file("plan.masked.json"));
    let (report, again) = (file("report.json"), file("report-again.json"));
    b.step(corpus, &["validate"], 0);
    b.step(corpus, &["-vvv", "validate", "--online"], 0);
    for format in ["text", "markdown", "json"] {
        b.step(corpus, &["-vvv", "plan", "--at", at, "--format", format], 0);
    }
    if diff {
        b.step(corpus, &["plan", "--at", at, "--diff", "--show-pii"], 0);
    }
    b.step(
        corpus,
        &[
            "-vvv",
            "plan",
            "--at",
            at,
            "--out",
            &plan,
            "--masked-out",
            &masked,
        ],
        0,
    );
    b.step(corpus, &["show", &plan, "--format", "markdown"], 0);
    b.step(corpus, &["show", &plan, "--review-record"], 0);
    b.step(
        corpus,
        &[
            "-vvv",
            "apply",
            &plan,
            "--auto-approve",
            "--at",
            at,
            "--report",
            &report,
        ],
        0,
    );
    b.step(
        corpus,
        &[
            "-vvv",
            "--log-format",
            "json",
            "apply",
            "--auto-approve",
            "--at",
            at,
            "--report",
            &again,
        ],
        0,
    );
    b.step(corpus, &["-vvv", "explain", person, "--at", at], 0);
    b.step(corpus, &["history"], 0);
    // The audit report (issue 22): identifiers only, and no secret in any format.
    let (from, to) = ("2000-01-01", "2100-12-31");
    for args in [
        &["audit", "--from", from, "--to", to, "--format", "markdown"][..],
        &["audit", "--from", from, "--to", to, "--format", "json"],
        &["audit", "--person", person, "--format", "json"],
    ] {
        let r = b.step(corpus, args, 0);
        r.assert_that(
            !r.stdout.contains('@'),
            "no e-mail address in the audit report",
        );
    }
    for written in [&plan, &masked, &report, &again] {
        assert!(Path::new(written).is_file(), "{written} was written");
    }
}

/// Asserts that the error paths ran: echoing error bodies, retried.
fn assert_exercised(corpus: &Corpus, what: &[&str]) {
    for needle in [
        "(the request had Authorization: ",
        "[base64url: ",
        "429 Too Many Requests",
        "retrying in",
    ]
    .iter()
    .chain(what)
    {
        assert!(
            corpus.contains(needle),
            "the runs never showed {needle:?}: an error path was not exercised"
        );
    }
}

/// `secret` with its forms, for [`Corpus::leaks_of`].
fn canary(name: &str, secret: &str) -> (String, Vec<(String, String)>) {
    (name.to_owned(), forms(secret))
}

/// The issued or received credentials an emulator kept, each with its forms.
fn credentials(what: &str, kept: &Credentials) -> Vec<(String, Vec<(String, String)>)> {
    let kept = kept.lock().unwrap_or_else(|e| e.into_inner());
    assert!(!kept.is_empty(), "no {what} was issued");
    kept.iter()
        .map(|c| {
            let short: String = c.chars().take(24).collect();
            (format!("{what} {short}…"), forms(c))
        })
        .collect()
}

/// The PEM body of a private key (the base64 between the armour lines) with its forms, and
/// each of its lines as it is.
fn pem_body(name: &str, pem: &str) -> (String, Vec<(String, String)>) {
    let lines: Vec<&str> = pem
        .lines()
        .filter(|l| !l.starts_with("-----") && !l.trim().is_empty())
        .collect();
    let body = lines.concat();
    assert!(
        body.contains('+') && body.contains('/'),
        "the key's body has a + and a /"
    );
    let mut all = forms(&body);
    for (i, line) in lines.iter().enumerate() {
        all.push((
            format!("line {} of the PEM body", i + 1),
            (*line).to_owned(),
        ));
    }
    (format!("{name} (PEM body)"), all)
}

/// Asserts that no secret leaked.
fn assert_no_leaks(corpus: &Corpus, secrets: &[(String, Vec<(String, String)>)]) {
    let leaks = corpus.leaks_of(secrets);
    assert!(
        leaks.is_empty(),
        "a secret leaked ({} runs, {} texts searched):\n{}",
        corpus.runs,
        corpus.texts.len(),
        leaks.join("\n")
    );
}

/// Asserts that no git note holds any of `emails` (in any case).
fn assert_no_emails_in_notes(corpus: &Corpus, emails: &[String]) {
    let mut found = Vec::new();
    let mut notes = 0;
    for (place, text) in &corpus.texts {
        if !place.starts_with("git note") {
            continue;
        }
        notes += 1;
        let text = text.to_lowercase();
        for e in emails {
            if text.contains(&e.to_lowercase()) {
                found.push(format!("{place}: {e}"));
            }
        }
    }
    assert!(notes > 0, "no apply records were read");
    assert!(
        found.is_empty(),
        "an apply record holds personal data:\n{}",
        found.join("\n")
    );
}

/// Servers that stop with the test.
type Servers = Vec<Running>;

// ---------------------------------------------------------------------------------------------
// Google Workspace → Revolut Business.

/// A Google emulator with the shared key, keeping the credentials it sees and issues; its URL.
fn google_server(data: &GoogleData, faults: Faults, kept: &Credentials) -> (Running, String) {
    let server = spawn(
        google::router_with_credentials(
            data.clone(),
            SandboxKey::shared(),
            echo(faults),
            GoogleFaults::default(),
            Arc::clone(kept),
        ),
        0,
    )
    .expect("the Google emulator");
    let url = server.url();
    (server, url)
}

fn revolut_server(token: &str, faults: Faults) -> (Running, String) {
    let data = Arc::new(Mutex::new(RevolutData::seeded(3)));
    let server = spawn(revolut::router_shared(data, token, echo(faults)), 0).expect("Revolut");
    let url = format!("{}{}", server.url(), revolut::BASE_PATH);
    (server, url)
}

fn google_revolut_yaml(google: &str, revolut: &str, retries: u32) -> String {
    format!(
        "version: 1
source:
  kind: google
  credentials: ${{env:GOOGLE_SERVICE_ACCOUNT}}
  subject: {admin}
  base_url: {google}
  token_url: {google}/token
  page_size: 10
  retries: {retries}
target:
  kind: revolut
  base_url: {revolut}
  token: ${{env:REVOLUT_TOKEN}}
  default_role: Member
  retries: {retries}
identity:
  match: [external_id, email]
  adopt_unmanaged: true
policy:
  timezone: Europe/Amsterdam
  managed_fields: [email, function_groups]
  unmapped_communities: create
safety:
  max_removals: \"20%\"
protected:
  - email: owner@acme-business.example
functions:
  from: function
  unmapped: {{ fallback: Member }}
  map: []
",
        admin = google::ADMIN,
    )
}

#[test]
fn canary_google_to_revolut() {
    let g = generate(&GenerateOptions::new(PEOPLE, 7));
    let data = GoogleData::from_snapshot(&g.source, AT.parse().expect("a date"));
    let person = g.source.persons[0].id.clone();
    let emails: Vec<String> = g
        .source
        .persons
        .iter()
        .filter_map(|p| p.email.clone())
        .collect();
    let kept = Credentials::default();
    let key = SandboxKey::shared();
    // The key file lives outside the configuration directory (whose files are searched).
    let keys = tempfile::tempdir().expect("a temporary directory");
    let key_path = keys.path().join("google-service-account.json");
    let mut corpus = Corpus::default();
    let mut servers = Servers::new();
    let bench = |google: &str, revolut: &str, retries: u32, key: String| {
        Bench::new(
            &google_revolut_yaml(google, revolut, retries),
            vec![
                ("GOOGLE_SERVICE_ACCOUNT", key),
                ("REVOLUT_TOKEN", REVOLUT_CANARY.to_owned()),
            ],
        )
    };
    let path = key_path.display().to_string();

    // Every command, against servers that answer every 7th request with 429 (retried) and
    // Google access tokens that expire after 5 requests (a 401, a new grant).
    let (s, google_url) = google_server(
        &data,
        Faults {
            throttle_every: Some(7),
            expire_token_after: Some(5),
            ..Faults::default()
        },
        &kept,
    );
    servers.push(s);
    std::fs::write(&key_path, key.key_file(&format!("{google_url}/token")))
        .expect("write the key file");
    let (s, revolut_url) = revolut_server(
        REVOLUT_CANARY,
        Faults {
            throttle_every: Some(7),
            ..Faults::default()
        },
    );
    servers.push(s);
    let b = bench(&google_url, &revolut_url, 5, path.clone());
    every_command(&mut corpus, &b, AT, &person, true);
    assert!(b.collect(&mut corpus) >= 1, "the applies were recorded");

    // A key the token URL does not know (its JSON in the variable): a 400 invalid_grant that
    // quotes the assertion; and a Revolut that wants another token: 401s.
    let other_key = SandboxKey::generate();
    {
        let (_google, google_url) = google_server(&data, Faults::default(), &kept);
        let (_revolut, revolut_url) = revolut_server(REVOLUT_CANARY, Faults::default());
        let (_refusing, refusing_url) = revolut_server(OTHER_TOKEN, Faults::default());
        let wrong = bench(
            &google_url,
            &revolut_url,
            5,
            other_key.key_file(&format!("{google_url}/token")),
        );
        wrong.step(&mut corpus, &["-vvv", "validate", "--online"], 1);
        let r = wrong.step(&mut corpus, &["-vvv", "plan", "--at", AT], 1);
        r.assert_that(
            r.stderr.contains("invalid_grant"),
            "the token URL refused the assertion",
        );
        wrong.collect(&mut corpus);
        let right_key = bench(&google_url, &refusing_url, 5, path.clone());
        let r = right_key.step(&mut corpus, &["-vvv", "plan", "--at", AT], 1);
        r.assert_that(r.stderr.contains("401"), "Revolut refused the token");
        right_key.step(
            &mut corpus,
            &["-vvv", "apply", "--auto-approve", "--at", AT],
            1,
        );
        right_key.collect(&mut corpus);
    }
    // A 500 on every request (the token URL aside), retried.
    {
        let fail = Faults {
            error_rate: 1.0,
            error_status: Some(500),
            ..Faults::default()
        };
        let (_google, google_url) = google_server(&data, fail.clone(), &kept);
        let (_revolut, revolut_url) = revolut_server(REVOLUT_CANARY, fail);
        let b = bench(&google_url, &revolut_url, 2, path.clone());
        b.step(&mut corpus, &["-vvv", "validate", "--online"], 1);
        b.step(&mut corpus, &["-vvv", "plan", "--at", AT], 1);
        b.collect(&mut corpus);
    }
    // A Revolut token that expires during the apply: failed invites, quoting 401s, recorded.
    {
        let (_google, google_url) = google_server(&data, Faults::default(), &kept);
        let (_revolut, revolut_url) = revolut_server(
            REVOLUT_CANARY,
            Faults {
                expire_token_after: Some(12),
                ..Faults::default()
            },
        );
        let b = bench(&google_url, &revolut_url, 5, path.clone());
        let r = b.run(&["-vvv", "apply", "--auto-approve", "--at", AT]);
        assert_ne!(r.code, 0, "{}", r.report());
        corpus.run(&r);
        assert!(b.collect(&mut corpus) >= 1, "the failed apply was recorded");
    }
    drop(servers);

    assert_exercised(&corpus, &["[request: POST /token", "invalid_grant"]);
    let mut secrets = vec![
        canary("the Revolut token", REVOLUT_CANARY),
        pem_body("the service account key", &key.private_pem),
        pem_body("the unknown service account key", &other_key.private_pem),
    ];
    secrets.extend(credentials("Google credential", &kept));
    assert_no_leaks(&corpus, &secrets);
    assert_no_emails_in_notes(&corpus, &emails);
}

// ---------------------------------------------------------------------------------------------
// ManusPlus → SCIM.

fn manusplus_server(data: &ManusPlusData, faults: Faults, kept: &Credentials) -> (Running, String) {
    let server = spawn(
        manusplus::router_with_credentials(
            data.clone(),
            MANUS_CANARY,
            echo(faults),
            ManusPlusSettings::default(),
            Arc::clone(kept),
        ),
        0,
    )
    .expect("the ManusPlus emulator");
    let url = format!("{}/{}", server.url(), manusplus::CLIENT);
    (server, url)
}

fn scim_server(token: &str, faults: Faults) -> (Running, String) {
    let server = spawn(
        scim_emulator::router(ScimData::new(), token, echo(faults)),
        0,
    )
    .expect("the SCIM emulator");
    let url = format!("{}{}", server.url(), scim_emulator::BASE_PATH);
    (server, url)
}

fn manusplus_scim_yaml(manus: &str, scim: &str, retries: u32) -> String {
    format!(
        "version: 1
source:
  kind: manusplus
  base_url: {manus}
  username: {user}
  password: ${{env:MANUS_PASSWORD}}
  node: {node}
  community_level: 1
  page_size: 10
  retries: {retries}
target:
  kind: scim
  base_url: {scim}
  token: ${{env:SCIM_TOKEN}}
  concurrency: 1
  retries: {retries}
policy:
  unmapped_communities: create
safety:
  max_removals: 5
test_locations: [\"Test*\"]
functions:
  unmapped: create
",
        user = manusplus::USERNAME,
        node = manusplus::ROOT_NODE,
    )
}

#[test]
fn canary_manusplus_to_scim() {
    let g = generate(&GenerateOptions::new(PEOPLE, 7));
    let data = ManusPlusData::from_snapshot(&g.source);
    let person = g.source.persons[0].id.clone();
    let emails: Vec<String> = g
        .source
        .persons
        .iter()
        .filter_map(|p| p.email.clone())
        .collect();
    let kept = Credentials::default();
    // The server wants MANUS_CANARY; a wrong password is a secret all the same.
    let wrong_password = "canary+wrong/manus-Z9.x_Y";
    let mut corpus = Corpus::default();
    let bench = |manus: &str, scim: &str, retries: u32, password: &str| {
        Bench::new(
            &manusplus_scim_yaml(manus, scim, retries),
            vec![
                ("MANUS_PASSWORD", password.to_owned()),
                ("SCIM_TOKEN", SCIM_CANARY.to_owned()),
            ],
        )
    };

    // Every command: every 7th request a 429, tokens that expire after 4 requests.
    {
        let (_manus, manus_url) = manusplus_server(
            &data,
            Faults {
                throttle_every: Some(7),
                expire_token_after: Some(4),
                ..Faults::default()
            },
            &kept,
        );
        let (_scim, scim_url) = scim_server(
            SCIM_CANARY,
            Faults {
                throttle_every: Some(7),
                ..Faults::default()
            },
        );
        let b = bench(&manus_url, &scim_url, 5, MANUS_CANARY);
        every_command(&mut corpus, &b, AT, &person, true);
        assert!(b.collect(&mut corpus) >= 1, "the applies were recorded");
    }
    // A wrong password: the token URL's 400 quotes the form it was sent; a SCIM server that
    // wants another token: 401s.
    {
        let (_manus, manus_url) = manusplus_server(&data, Faults::default(), &kept);
        let (_scim, scim_url) = scim_server(SCIM_CANARY, Faults::default());
        let (_refusing, refusing_url) = scim_server(OTHER_TOKEN, Faults::default());
        let wrong = bench(&manus_url, &scim_url, 5, wrong_password);
        wrong.step(&mut corpus, &["-vvv", "validate", "--online"], 1);
        let r = wrong.step(&mut corpus, &["-vvv", "plan", "--at", AT], 1);
        r.assert_that(
            r.stderr.contains("refused the data service user"),
            "the token URL refused the password",
        );
        wrong.collect(&mut corpus);
        let right = bench(&manus_url, &refusing_url, 5, MANUS_CANARY);
        let r = right.step(&mut corpus, &["-vvv", "plan", "--at", AT], 1);
        r.assert_that(r.stderr.contains("401"), "SCIM refused the token");
        right.collect(&mut corpus);
    }
    // A 500 on every request (the token URL aside), retried.
    {
        let fail = Faults {
            error_rate: 1.0,
            error_status: Some(500),
            ..Faults::default()
        };
        let (_manus, manus_url) = manusplus_server(&data, fail.clone(), &kept);
        let (_scim, scim_url) = scim_server(SCIM_CANARY, fail);
        let b = bench(&manus_url, &scim_url, 2, MANUS_CANARY);
        b.step(&mut corpus, &["-vvv", "validate", "--online"], 1);
        b.step(&mut corpus, &["-vvv", "plan", "--at", AT], 1);
        b.collect(&mut corpus);
    }

    // A SCIM token that expires during the apply: failed creates, quoting 401s, recorded.
    {
        let (_manus, manus_url) = manusplus_server(&data, Faults::default(), &kept);
        let (_scim, scim_url) = scim_server(
            SCIM_CANARY,
            Faults {
                expire_token_after: Some(12),
                ..Faults::default()
            },
        );
        let b = bench(&manus_url, &scim_url, 5, MANUS_CANARY);
        let r = b.run(&["-vvv", "apply", "--auto-approve", "--at", AT]);
        assert_ne!(r.code, 0, "{}", r.report());
        corpus.run(&r);
        assert!(b.collect(&mut corpus) >= 1, "the failed apply was recorded");
    }

    assert_exercised(
        &corpus,
        &["[request: POST /app/token", "password is incorrect"],
    );
    let mut secrets = vec![
        canary("the ManusPlus password", MANUS_CANARY),
        canary("the wrong ManusPlus password", wrong_password),
        canary("the SCIM token", SCIM_CANARY),
    ];
    secrets.extend(credentials("ManusPlus token", &kept));
    assert_no_leaks(&corpus, &secrets);
    assert_no_emails_in_notes(&corpus, &emails);
}

// ---------------------------------------------------------------------------------------------
// Recruitee → AFAS applicants.

/// Both emulators; the configuration's YAML (with `retries`), and the candidates' e-mails.
struct Hiring {
    _servers: (Running, Running),
    yaml: String,
}

impl Hiring {
    fn start(
        data: RecruiteeData,
        recruitee_token: &str,
        afas_token: &str,
        faults: Faults,
    ) -> Hiring {
        let company = data.company_id.clone();
        let rec = spawn(
            recruitee::router(data.shared(), recruitee_token, echo(faults.clone())),
            0,
        )
        .expect("the Recruitee emulator");
        let empty = AfasData {
            connector: "orgsync_employees".into(),
            rows: Vec::new(),
            fields: Vec::new(),
            key: "Medewerker".into(),
        };
        let afas_server = spawn(
            afas::router_with_applicants(empty, afas_token, echo(faults), Applicants::default()),
            0,
        )
        .expect("the AFAS emulator");
        let yaml = recruitee::config_yaml(
            &rec.url(),
            &company,
            &format!("{}{}", afas_server.url(), afas::BASE_PATH),
        );
        Hiring {
            _servers: (rec, afas_server),
            yaml,
        }
    }

    fn bench(&self, retries: u32) -> Bench {
        let yaml = self
            .yaml
            .replace(
                "  token: ${env:AFAS_TOKEN}\n",
                &format!("  token: ${{env:AFAS_TOKEN}}\n  timeout_secs: 5\n  retries: {retries}\n"),
            )
            .replace(
                "  token: ${env:RECRUITEE_TOKEN}\n",
                &format!("  token: ${{env:RECRUITEE_TOKEN}}\n  retries: {retries}\n"),
            );
        Bench::new(
            &yaml,
            vec![
                ("RECRUITEE_TOKEN", RECRUITEE_CANARY.to_owned()),
                ("AFAS_TOKEN", APPLICANTS_CANARY.to_owned()),
            ],
        )
    }
}

fn candidates() -> RecruiteeData {
    RecruiteeData::generate(30, 11, RECRUITEE_AT.parse().expect("a date"))
}

#[test]
fn canary_recruitee_to_afas_applicants() {
    let data = candidates();
    let hired = data.hired();
    let person = hired[0].clone();
    let emails: Vec<String> = data
        .candidates
        .iter()
        .filter_map(|c| c["emails"][0].as_str().map(str::to_owned))
        .collect();
    assert!(emails.len() >= 30, "every candidate has an e-mail");
    let mut corpus = Corpus::default();

    // Every command: every 20th request a 429 (a 429 slows Recruitee's client down to a
    // request a second for a while: more would make every run slow).
    {
        let h = Hiring::start(
            candidates(),
            RECRUITEE_CANARY,
            APPLICANTS_CANARY,
            Faults {
                throttle_every: Some(20),
                ..Faults::default()
            },
        );
        let b = h.bench(5);
        // No `--diff`: the state after a plan of applicants cannot be computed ("unknown
        // account field applicant"), a limitation of its own.
        every_command(&mut corpus, &b, RECRUITEE_AT, &person, false);
        assert!(b.collect(&mut corpus) >= 1, "the applies were recorded");
    }
    // AFAS refuses one applicant (a 500 with its validation error, quoting the request).
    {
        let mut bad = candidates();
        bad.set_field(&person, "Date of birth", "31-02-1990");
        let h = Hiring::start(bad, RECRUITEE_CANARY, APPLICANTS_CANARY, Faults::default());
        let b = h.bench(5);
        let r = b.step(
            &mut corpus,
            &["-vvv", "apply", "--auto-approve", "--at", RECRUITEE_AT],
            1,
        );
        r.assert_that(
            r.stdout.contains("AFAS refused the applicant"),
            "AFAS refused the applicant",
        );
        b.step(&mut corpus, &["history"], 0);
        assert!(b.collect(&mut corpus) >= 1, "the failed apply was recorded");
    }
    // Servers that want other tokens: 401s from both.
    {
        let h = Hiring::start(candidates(), OTHER_TOKEN, OTHER_TOKEN, Faults::default());
        let b = h.bench(5);
        b.step(&mut corpus, &["-vvv", "validate", "--online"], 1);
        b.step(&mut corpus, &["-vvv", "plan", "--at", RECRUITEE_AT], 1);
        b.step(
            &mut corpus,
            &["-vvv", "apply", "--auto-approve", "--at", RECRUITEE_AT],
            1,
        );
        b.collect(&mut corpus);
    }
    // A 500 on every request, retried.
    {
        let h = Hiring::start(
            candidates(),
            RECRUITEE_CANARY,
            APPLICANTS_CANARY,
            Faults {
                error_rate: 1.0,
                error_status: Some(500),
                ..Faults::default()
            },
        );
        let b = h.bench(2);
        b.step(&mut corpus, &["-vvv", "validate", "--online"], 1);
        b.step(&mut corpus, &["-vvv", "plan", "--at", RECRUITEE_AT], 1);
        b.collect(&mut corpus);
    }

    assert_exercised(&corpus, &["AFAS refused the applicant"]);
    assert_no_leaks(
        &corpus,
        &[
            canary("the Recruitee token", RECRUITEE_CANARY),
            canary("the AFAS token (and HMAC key)", APPLICANTS_CANARY),
        ],
    );
    assert_no_emails_in_notes(&corpus, &emails);
}
