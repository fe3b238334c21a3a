//! The HTTP connectors end to end: the AFAS Profit emulator → `orgsync plan`/`apply` → a SCIM
//! server. The SCIM server is `scim2-server` from PyPI (a real implementation nobody here wrote;
//! `scripts/test.sh` installs it into `.venv` and puts it on PATH) or, where faults must be
//! injected on the target side, orgsync's own SCIM emulator.
//!
//! These tests fail — they never skip — when `scim2-server` is missing.

use std::collections::BTreeSet;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use orgsync_connectors::scim::ScimTarget;
use orgsync_connectors::{Kit, Target};
use orgsync_core::config::ScimTargetConfig;
use orgsync_core::model::{AccountStatus, TargetSnapshot};
use orgsync_sandbox::afas::{self, AfasData};
use orgsync_sandbox::generate::{GenerateOptions, generate};
use orgsync_sandbox::scim::{self as scim_emulator, ScimData};
use orgsync_sandbox::serve::{Faults, Running, spawn};
use serde_json::{Value, json};

use crate::common::{Run, repo};

pub(crate) const AFAS_TOKEN: &str = "afas-token-3f9c1e77d2";
pub(crate) const SCIM_TOKEN: &str = "scim-token-8b2d4a6e10";
pub(crate) const AT: &str = "2025-06-02";

/// `scim2-server` on a free port, stopped when dropped.
pub(crate) struct Scim2Server {
    child: Child,
    pub(crate) base_url: String,
    pub(crate) port: u16,
}

impl Scim2Server {
    pub(crate) fn start() -> Scim2Server {
        let port = free_port();
        let child = Command::new("scim2-server")
            .args(["--hostname", "127.0.0.1", "--port", &port.to_string()])
            .args(["--bearer-token", SCIM_TOKEN])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start scim2-server ({e}): these tests need it on PATH — run \
                     scripts/test.sh, or `pip install -r scripts/requirements-dev.txt` into a \
                     virtualenv and put its bin/ on PATH"
                )
            });
        let server = Scim2Server {
            child,
            base_url: format!("http://127.0.0.1:{port}/v2"),
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "scim2-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }
}

impl Drop for Scim2Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The generated organisation the AFAS emulator serves: 320 people in two locations.
pub(crate) fn afas_data() -> AfasData {
    afas_people(320)
}

/// A generated organisation of `n` people as the AFAS emulator serves it.
pub(crate) fn afas_people(n: usize) -> AfasData {
    let g = generate(&GenerateOptions::new(n, 7));
    AfasData::from_snapshot("orgsync_employees", &g.source)
}

pub(crate) fn start_afas(data: AfasData, faults: Faults) -> (Running, String) {
    let server = spawn(afas::router(data, AFAS_TOKEN, faults), 0).expect("AFAS emulator");
    let url = format!("{}{}", server.url(), afas::BASE_PATH);
    (server, url)
}

pub(crate) fn start_scim_emulator(faults: Faults) -> (Running, String) {
    let server = spawn(
        scim_emulator::router(ScimData::new(), SCIM_TOKEN, faults),
        0,
    )
    .expect("SCIM emulator");
    let url = format!("{}{}", server.url(), scim_emulator::BASE_PATH);
    (server, url)
}

/// A configuration for an empty target: every location and function is created, and the first
/// sync of everyone is allowed (`first_sync_invites`).
pub(crate) fn config_dir(
    afas_url: &str,
    scim_url: &str,
    extra_source: &str,
    extra_target: &str,
) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let yaml = format!(
        "version: 1
source:
  kind: afas
  environment: sandbox
  base_url: {afas_url}
  token: ${{env:AFAS_TOKEN}}
  page_size: 25
{extra_source}target:
  kind: scim
  base_url: {scim_url}
  token: ${{env:SCIM_TOKEN}}
{extra_target}policy:
  unmapped_communities: create
safety:
  max_removals: 5
  first_sync_invites: 1000
test_locations: [\"Test*\"]
functions:
  unmapped: create
"
    );
    std::fs::write(dir.path().join("orgsync.yaml"), yaml).expect("write the configuration");
    dir
}

/// Runs orgsync in `dir` with the tokens in the environment.
pub(crate) fn run(dir: &Path, args: &[&str]) -> Run {
    let mut cmd = assert_cmd::Command::cargo_bin("orgsync").expect("the orgsync binary is built");
    cmd.args(args)
        .arg("-C")
        .arg(dir)
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .env("AFAS_TOKEN", AFAS_TOKEN)
        .env("SCIM_TOKEN", SCIM_TOKEN)
        .env_remove("RUST_LOG");
    let output = cmd.output().expect("orgsync runs");
    Run {
        command: format!("orgsync {} -C {}", args.join(" "), dir.display()),
        dir: dir.to_owned(),
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn plan_json(dir: &Path) -> Value {
    let r = run(dir, &["plan", "--format", "json", "--at", AT]);
    r.assert_code(0);
    serde_json::from_str(&r.stdout).expect("plan JSON")
}

/// `{kind: count}` of the plan's non-zero summary entries.
fn summary(plan: &Value) -> Vec<(String, u64)> {
    plan["summary"]
        .as_object()
        .expect("summary")
        .iter()
        .filter(|(_, n)| n.as_u64() != Some(0))
        .map(|(k, n)| (k.clone(), n.as_u64().unwrap_or(0)))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn apply(dir: &Path) -> Run {
    let r = run(dir, &["apply", "--auto-approve", "--at", AT]);
    r.assert_code(0);
    r
}

/// Sends one UpdateConnector request to the AFAS emulator.
fn afas_update(afas_url: &str, method: reqwest::Method, path: &str, body: Option<Value>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let auth = orgsync_connectors::afas::authorization(AFAS_TOKEN);
    let status = rt.block_on(async {
        let mut r = reqwest::Client::new()
            .request(method, format!("{afas_url}{path}"))
            .header("authorization", auth);
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send().await.expect("the emulator answers").status()
    });
    assert!(status.is_success(), "{path}: {status}");
}

/// An in-scope person of the generated data (in a real location, no end date), by position.
fn people(data: &AfasData, n: usize) -> Vec<(String, String)> {
    let mut seen = BTreeSet::new();
    data.rows
        .iter()
        .filter(|r| r["Einddatum_contract"].is_null())
        .filter(|r| r["Organisatorische_eenheid_code"].as_str() != Some("0999"))
        .filter(|r| {
            r["Begindatum_contract"]
                .as_str()
                .is_some_and(|d| d < "2025-05-01")
        })
        .filter_map(|r| {
            let id = r["Medewerker"].as_str()?.to_owned();
            let community = r["Organisatorische_eenheid_code"].as_str()?.to_owned();
            seen.insert(id.clone()).then_some((id, community))
        })
        .take(n)
        .collect()
}

/// The target as people see it: accounts by external id with their group names, groups by name.
pub(crate) fn normalized(state: &TargetSnapshot) -> (BTreeSet<String>, BTreeSet<String>) {
    let name = |id: &str| {
        state
            .communities
            .iter()
            .chain(&state.function_groups)
            .find(|g| g.id == id)
            .map_or_else(|| id.to_owned(), |g| g.name.clone())
    };
    let accounts = state
        .accounts
        .iter()
        .map(|a| {
            let mut groups: Vec<String> = a
                .communities
                .iter()
                .chain(&a.function_groups)
                .map(|g| name(g))
                .collect();
            groups.sort();
            format!(
                "{:?} {:?} {:?} {:?}",
                a.external_id, a.email, a.status, groups
            )
        })
        .collect();
    let groups = state
        .communities
        .iter()
        .chain(&state.function_groups)
        .map(|g| format!("{} {:?}", g.name, g.source_ids))
        .collect();
    (accounts, groups)
}

pub(crate) fn read_scim(url: &str) -> TargetSnapshot {
    let cfg: ScimTargetConfig = serde_json::from_value(json!({
        "base_url": url, "token": "${env:SCIM_TOKEN}"
    }))
    .expect("config");
    ScimTarget::new(
        &cfg,
        "Europe/Amsterdam",
        &Kit::new(|_| Some(SCIM_TOKEN.to_owned()), false).expect("kit"),
    )
    .expect("target")
    .fetch()
    .expect("fetch")
}

/// No two accounts for one person or one address, and no two managed groups for one set of
/// source identifiers.
pub(crate) fn assert_no_duplicates(state: &TargetSnapshot) {
    let mut keys = BTreeSet::new();
    for (kind, groups) in [
        ("community", &state.communities),
        ("function", &state.function_groups),
    ] {
        for g in groups.iter().filter(|g| g.managed) {
            let key = format!("{kind} {} {:?}", g.name, g.source_ids);
            assert!(keys.insert(key.clone()), "two groups for {key}");
        }
    }
    let mut ids = BTreeSet::new();
    let mut emails = BTreeSet::new();
    for a in &state.accounts {
        if let Some(x) = &a.external_id {
            assert!(ids.insert(x.clone()), "two accounts for person {x}");
        }
        if let Some(e) = &a.email {
            assert!(emails.insert(e.to_lowercase()), "two accounts with {e}");
        }
    }
}

/// The scenario: a first sync into an empty scim2-server, then a move, a leaver, a new
/// hire and a new function in AFAS → a plan of exactly those → apply → an empty plan.
#[test]
fn afas_to_scim2_server_follows_hr_changes() {
    let scim = Scim2Server::start();
    let data = afas_data();
    let chosen = people(&data, 3);
    let (_afas, afas_url) = start_afas(data.clone(), Faults::default());
    let dir = config_dir(&afas_url, &scim.base_url, "", "");

    let online = run(dir.path(), &["validate", "--online"]);
    online.assert_code(0).assert_that(
        online
            .stdout
            .contains("Online: the source and the target answer"),
        "validate --online passes",
    );

    let first = plan_json(dir.path());
    let invites = first["summary"]["invite"].as_u64().unwrap_or(0);
    assert!(invites > 250, "{:?}", summary(&first));
    apply(dir.path());
    let again = run(dir.path(), &["plan", "--detailed-exitcode", "--at", AT]);
    again.assert_code(0).assert_that(
        again.stdout.contains("No changes"),
        "the second plan is empty",
    );
    let state = read_scim(&scim.base_url);
    assert_eq!(state.accounts.len() as u64, invites);
    assert_no_duplicates(&state);

    // HR changes: a move, a leaver, a new hire, a new function.
    let (mover, from) = &chosen[0];
    let to = data
        .rows
        .iter()
        .map(|r| {
            r["Organisatorische_eenheid_code"]
                .as_str()
                .unwrap_or_default()
        })
        .find(|c| c != from && *c != "0999" && !c.is_empty())
        .expect("a second location")
        .to_owned();
    let kn = |id: &str, fields: Value| json!({"KnEmployee": {"Element": {"@EmId": id, "Fields": fields}}});
    afas_update(
        &afas_url,
        reqwest::Method::PUT,
        "/connectors/KnEmployee",
        Some(kn(mover, json!({"Organisatorische_eenheid_code": to}))),
    );
    afas_update(
        &afas_url,
        reqwest::Method::PUT,
        "/connectors/KnEmployee",
        Some(kn(
            &chosen[1].0,
            json!({"Einddatum_contract": "2025-05-01T00:00:00Z"}),
        )),
    );
    afas_update(
        &afas_url,
        reqwest::Method::PUT,
        "/connectors/KnEmployee",
        Some(kn(
            &chosen[2].0,
            json!({"Functie_code": "F-NIGHT", "Functie_omschrijving": "Night Manager"}),
        )),
    );
    afas_update(
        &afas_url,
        reqwest::Method::POST,
        "/connectors/KnEmployee",
        Some(kn(
            "900001",
            json!({"Email_werk": "nina.nieuw@sandbox.example", "Roepnaam": "Nina",
                   "Achternaam": "Nieuw", "Begindatum_contract": "2025-06-01T00:00:00Z",
                   "Organisatorische_eenheid_code": from, "Functie_code": "F-WAIT",
                   "Functie_omschrijving": "Waiter"}),
        )),
    );

    let changes = plan_json(dir.path());
    assert_eq!(
        summary(&changes),
        [
            ("create_function_group".to_owned(), 1),
            ("invite".to_owned(), 1),
            ("move".to_owned(), 1),
            ("remove".to_owned(), 1),
            ("update".to_owned(), 1),
        ],
        "{changes:#}"
    );
    let subjects: BTreeSet<(String, String)> = changes["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap_or_default().to_owned(),
                a["subject"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("create_function_group", "F-NIGHT"),
        ("invite", "900001"),
        ("move", mover.as_str()),
        ("remove", chosen[1].0.as_str()),
        ("update", chosen[2].0.as_str()),
    ]
    .into_iter()
    .map(|(k, s)| (k.to_owned(), s.to_owned()))
    .collect();
    assert_eq!(subjects, expected);

    apply(dir.path());
    let last = run(dir.path(), &["plan", "--detailed-exitcode", "--at", AT]);
    last.assert_code(0)
        .assert_that(last.stdout.contains("No changes"), "converged");
    let state = read_scim(&scim.base_url);
    assert_no_duplicates(&state);
    let removed = state
        .accounts
        .iter()
        .find(|a| a.external_id.as_deref() == Some(chosen[1].0.as_str()))
        .expect("the leaver's account is kept");
    assert_eq!(removed.status, AccountStatus::Removed);
}

/// Faults on both sides (latency, 429 with Retry-After, 503s — half of them after the request
/// was processed) give the same end state as a run without faults, and no duplicate users.
#[test]
fn faults_give_the_same_end_state_and_no_duplicates() {
    let faults = Faults {
        latency_ms: 2,
        throttle_every: Some(9),
        retry_after: 0,
        error_rate: 0.15,
        fault_seed: 11,
        ..Faults::default()
    };
    let mut end_states = Vec::new();
    for faults in [Faults::default(), faults] {
        let (_afas, afas_url) = start_afas(afas_data(), faults.clone());
        let (_scim, scim_url) = start_scim_emulator(faults.clone());
        let dir = config_dir(&afas_url, &scim_url, "", "  concurrency: 8\n");
        // A rare action may still fail after its retries: the next apply converges.
        for _ in 0..3 {
            let r = run(dir.path(), &["apply", "--auto-approve", "--at", AT]);
            if r.code == 0 && r.stdout.contains(" 0 failed") {
                break;
            }
        }
        let last = run(dir.path(), &["plan", "--at", AT]);
        last.assert_code(0)
            .assert_that(last.stdout.contains("No changes"), "converged");
        let state = read_scim(&scim_url);
        assert_no_duplicates(&state);
        end_states.push(normalized(&state));
    }
    assert_eq!(end_states[0], end_states[1]);
}

/// Regression (issue 11): a cut last AFAS page was taken for the end, and the plan removed
/// people still in HR. With pages cut anywhere (the last one too), one in flight or several,
/// the plan is the plan of the whole data.
#[test]
fn cut_afas_pages_give_the_plan_of_the_whole_data() {
    let (_scim, scim_url) = start_scim_emulator(Faults::default());
    let (_afas, afas_url) = start_afas(afas_data(), Faults::default());
    let whole = plan_json(config_dir(&afas_url, &scim_url, "", "").path());
    for (every, concurrency) in [(2, 1), (3, 1), (4, 5), (13, 1)] {
        let cut = Faults {
            short_page_every: Some(every),
            ..Faults::default()
        };
        let (_afas, afas_url) = start_afas(afas_data(), cut);
        let dir = config_dir(
            &afas_url,
            &scim_url,
            &format!("  concurrency: {concurrency}\n"),
            "",
        );
        let plan = plan_json(dir.path());
        assert_eq!(
            (summary(&plan), &plan["actions"]),
            (summary(&whole), &whole["actions"]),
            "every {every}th page cut, {concurrency} in flight"
        );
    }
}

/// A fetch that fails part-way is an error and no plan: AFAS pages that are always cut, a page
/// cut short (SCIM), a server that keeps failing.
#[test]
fn a_fetch_that_fails_part_way_gives_no_plan() {
    let (_scim, scim_url) = start_scim_emulator(Faults::default());

    let always = Faults {
        short_page_every: Some(1),
        ..Faults::default()
    };
    let (_afas, afas_url) = start_afas(afas_data(), always);
    let dir = config_dir(&afas_url, &scim_url, "  concurrency: 1\n", "");
    let r = run(dir.path(), &["plan", "--at", AT]);
    r.assert_code(1)
        .assert_that(r.stdout.is_empty(), "no plan is printed")
        .assert_that(
            r.stderr.contains("Nothing was planned"),
            "the error says why",
        );

    let cut = Faults {
        short_page_every: Some(3),
        ..Faults::default()
    };

    let (_afas, afas_url) = start_afas(
        afas_data(),
        Faults {
            error_rate: 1.0,
            ..Faults::default()
        },
    );
    let dir = config_dir(&afas_url, &scim_url, "  retries: 2\n", "");
    let r = run(dir.path(), &["plan", "--at", AT]);
    r.assert_code(1)
        .assert_that(r.stdout.is_empty(), "no plan is printed")
        .assert_that(
            r.stderr.contains("503 Service Unavailable")
                && r.stderr.contains("gave up after 2 retries"),
            "the error names the status and the retries",
        );

    // SCIM: the target has more Users than one page, and a page comes back cut.
    let (_afas, afas_url) = start_afas(afas_data(), Faults::default());
    let dir = config_dir(&afas_url, &scim_url, "", "  page_size: 50\n");
    apply(dir.path());
    let (_cut_scim, cut_url) = {
        let state = read_scim(&scim_url);
        let data = ScimData::from_workspace(&state, &Default::default());
        let server = spawn(scim_emulator::router(data, SCIM_TOKEN, cut), 0).expect("SCIM emulator");
        let url = format!("{}{}", server.url(), scim_emulator::BASE_PATH);
        (server, url)
    };
    let dir = config_dir(&afas_url, &cut_url, "", "  page_size: 50\n");
    let r = run(dir.path(), &["plan", "--at", AT]);
    r.assert_code(1)
        .assert_that(r.stdout.is_empty(), "no plan is printed")
        .assert_that(r.stderr.contains("cut short"), "the error says why");
}

/// Tokens never reach the output, not even at -vvv, nor when they are refused.
#[test]
fn tokens_never_appear_in_output() {
    let (_afas, afas_url) = start_afas(afas_data(), Faults::default());
    let (_scim, scim_url) = start_scim_emulator(Faults::default());
    let dir = config_dir(&afas_url, &scim_url, "", "");
    let encoded = orgsync_connectors::afas::authorization(AFAS_TOKEN);
    let encoded = encoded.trim_start_matches("AfasToken ");
    for args in [
        &["-vvv", "plan", "--at", AT][..],
        &["-vvv", "apply", "--auto-approve", "--at", AT][..],
        &["-vvv", "validate", "--online"][..],
    ] {
        let r = run(dir.path(), args);
        r.assert_code(0);
        assert!(r.stderr.contains(" 200 OK "), "-vvv shows requests");
        for secret in [AFAS_TOKEN, SCIM_TOKEN, encoded] {
            assert!(
                !r.stdout.contains(secret) && !r.stderr.contains(secret),
                "a token leaked\n{}",
                r.report()
            );
        }
    }

    // An expired token: a clear error, still without the token.
    let (_afas, afas_url) = start_afas(
        afas_data(),
        Faults {
            expire_token_after: Some(2),
            ..Faults::default()
        },
    );
    let dir = config_dir(&afas_url, &scim_url, "  concurrency: 1\n", "");
    let r = run(dir.path(), &["-vvv", "plan", "--at", AT]);
    r.assert_code(1).assert_that(
        r.stderr.contains("refused the credentials")
            && r.stderr.contains("$AFAS_TOKEN (source.token)"),
        "the error says which token to renew",
    );
    assert!(!r.stderr.contains(AFAS_TOKEN) && !r.stderr.contains(encoded));
}

/// `orgsync sandbox afas` serves the generated people and writes a configuration that plans.
#[test]
fn sandbox_afas_serves_and_writes_a_configuration() {
    let out = tempfile::tempdir().expect("a temporary directory");
    let bin = assert_cmd::cargo::cargo_bin("orgsync");
    let port = free_port();
    let mut child = Command::new(bin)
        .args(["sandbox", "afas", "--people", "150", "--token", AFAS_TOKEN])
        .args([
            "--port",
            &port.to_string(),
            "--empty-target",
            "--config-out",
        ])
        .arg(out.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("orgsync sandbox afas starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the emulator did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_scim, scim_url) = start_scim_emulator(Faults::default());
    let yaml = std::fs::read_to_string(out.path().join("orgsync.yaml")).expect("config written");
    // The SCIM target starts empty: the configuration allows the first sync of everyone.
    assert!(yaml.contains("  first_sync_invites: 150\n"), "{yaml}");
    std::fs::write(
        out.path().join("orgsync.yaml"),
        yaml.replace("http://127.0.0.1:8402/scim/v2", &scim_url),
    )
    .expect("point it at the test's SCIM emulator");
    let r = run(out.path(), &["plan", "--at", AT]);
    let _ = child.kill();
    let _ = child.wait();
    r.assert_code(0).assert_that(
        r.stdout.contains("to invite"),
        "the plan invites the generated people",
    );
}

/// POSTs a User to a SCIM server as another provisioning tool would; returns its id.
fn scim_post_user(base_url: &str, user: Value) -> String {
    // reqwest is built without a bundled TLS provider; orgsync installs ring (see http.rs).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let r = reqwest::Client::new()
            .post(format!("{base_url}/Users"))
            .bearer_auth(SCIM_TOKEN)
            .header("content-type", "application/scim+json")
            .json(&user)
            .send()
            .await
            .expect("the server answers");
        assert!(r.status().is_success(), "POST /Users: {}", r.status());
        let body: Value = r.json().await.expect("a JSON answer");
        body["id"].as_str().expect("an id").to_owned()
    })
}

/// Regression: a SCIM User counted as managed whenever it had an `externalId`. Entra ID and
/// Okta set one on the Users they provision, so orgsync would have changed and removed them.
/// Against scim2-server (a real SCIM server), with Users another tool provisioned — one of them
/// the e-mail address of a person in HR — orgsync leaves them exactly as they are, and adopts
/// the matching one only when `adopt_unmanaged` says so, recording it in its own namespaced
/// `externalId`.
#[test]
fn users_another_tool_provisioned_with_an_external_id_are_never_changed_unless_adopted() {
    let scim = Scim2Server::start();
    let data = afas_data();
    let chosen = people(&data, 1);
    let (person, _) = &chosen[0];
    let email = data
        .rows
        .iter()
        .find(|r| r["Medewerker"].as_str() == Some(person))
        .and_then(|r| r["Email_werk"].as_str())
        .expect("an e-mail address")
        .to_owned();
    let (_afas, afas_url) = start_afas(data, Faults::default());
    let foreign = |user_name: &str, external_id: &str| {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": user_name,
            "externalId": external_id,
            "name": {"givenName": "Provisioned", "familyName": "Elsewhere"},
            "emails": [{"value": user_name, "primary": true}],
            "active": true,
        })
    };
    let entra = scim_post_user(
        &scim.base_url,
        foreign("it.admin@example.com", "5f0c2a7e-entra-object-id"),
    );
    // A Okta-provisioned User carrying the external id *and* e-mail of someone in HR.
    let okta = scim_post_user(&scim.base_url, foreign(&email, person));

    let dir = config_dir(&afas_url, &scim.base_url, "", "");
    let before = read_scim(&scim.base_url);
    let plan = plan_json(dir.path());
    let touched: Vec<&Value> = plan["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .filter(|a| {
            [entra.as_str(), okta.as_str()].contains(&a["target_id"].as_str().unwrap_or(""))
        })
        .collect();
    assert!(
        touched.is_empty(),
        "foreign Users are not acted on: {touched:?}"
    );
    assert!(
        plan["diagnostics"]
            .as_array()
            .expect("diagnostics")
            .iter()
            .any(|d| d["kind"] == "adoptable_account"),
        "the matching one is reported as adoptable"
    );
    apply(dir.path());
    apply(dir.path());
    let after = read_scim(&scim.base_url);
    for id in [&entra, &okta] {
        let was = before
            .accounts
            .iter()
            .find(|a| &a.id == id)
            .expect("listed");
        let now = after
            .accounts
            .iter()
            .find(|a| &a.id == id)
            .expect("still there");
        assert_eq!(was, now, "foreign User {id} is unchanged");
        assert!(!now.managed && now.status == AccountStatus::Active);
    }

    // Adoption is explicit, and recorded in orgsync's own ownership marker.
    let yaml = std::fs::read_to_string(dir.path().join("orgsync.yaml")).expect("config");
    std::fs::write(
        dir.path().join("orgsync.yaml"),
        format!("{yaml}identity:\n  adopt_unmanaged: true\n"),
    )
    .expect("write");
    let plan = plan_json(dir.path());
    let adopt: Vec<&Value> = plan["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .filter(|a| a["target_id"].as_str() == Some(okta.as_str()))
        .collect();
    assert!(!adopt.is_empty(), "the matching User is adopted: {plan:#}");
    apply(dir.path());
    let adopted = read_scim(&scim.base_url);
    let now = adopted
        .accounts
        .iter()
        .find(|a| a.id == okta)
        .expect("there");
    assert!(now.managed);
    assert_eq!(now.external_id.as_deref(), Some(person.as_str()));
    let other = adopted
        .accounts
        .iter()
        .find(|a| a.id == entra)
        .expect("there");
    assert!(
        !other.managed && other.status == AccountStatus::Active,
        "the other stays foreign"
    );
    let last = run(dir.path(), &["plan", "--detailed-exitcode", "--at", AT]);
    last.assert_code(0);
}

pub(crate) use crate::common::commit_all;

/// Regression (issue 11): a SCIM server that listed nobody after orgsync had provisioned it was
/// planned on as a first sync (everyone invited again, every group created twice). The plan is
/// now an error naming the apply record.
#[test]
fn a_scim_target_that_lists_nobody_after_an_apply_is_an_error() {
    let (_afas, afas_url) = start_afas(afas_data(), Faults::default());
    let port = free_port();
    let router = || scim_emulator::router(ScimData::new(), SCIM_TOKEN, Faults::default());
    let scim = spawn(router(), port).expect("SCIM emulator");
    let scim_url = format!("{}{}", scim.url(), scim_emulator::BASE_PATH);
    let dir = config_dir(&afas_url, &scim_url, "", "");
    commit_all(dir.path());
    let first = apply(dir.path());
    first.assert_that(
        first.stderr.contains("Recorded the apply"),
        "the apply is recorded",
    );

    // The same URL now answers with an empty list.
    drop(scim);
    let _empty = spawn(router(), port).expect("an empty SCIM emulator on the same port");
    let r = run(dir.path(), &["plan", "--at", AT]);
    r.assert_code(1).assert_that(
        r.stdout
            .contains("the target lists 0 managed accounts, but the apply of ")
            && r.stdout.contains("check the target connection"),
        "the plan says why",
    );
}

/// Issue 20: the plan estimates the apply's duration from the target's pace (here SCIM with
/// `rate_limit: 1`: some 900 requests at one a second) and warns, in the Markdown and on
/// stderr, when that does not fit the applying job's `timeout-minutes`.
#[test]
fn the_plan_warns_when_the_apply_will_not_fit_the_job_timeout() {
    let (_afas, afas_url) = start_afas(afas_data(), Faults::default());
    let (_scim, scim_url) = start_scim_emulator(Faults::default());
    let dir = config_dir(
        &afas_url,
        &scim_url,
        "",
        "  rate_limit: 1\n  concurrency: 2\n",
    );
    let short = run(
        dir.path(),
        &["plan", "--format", "markdown", "--apply-timeout", "5"],
    );
    assert!(
        short
            .stdout
            .contains("⚠️ **The apply will likely not finish within the job's timeout:** about ")
            && short.stdout.contains(
                "requests to the SCIM server, at most 1 per second, 2 at a time, ~250 ms each"
            )
            && short
                .stdout
                .contains("stops after 5 minutes (`timeout-minutes`)"),
        "{}",
        short.report()
    );
    assert!(
        short
            .stderr
            .contains("warning: the apply is estimated to take about ")
            && short
                .stderr
                .contains("longer than the apply job's 5-minute timeout"),
        "{}",
        short.report()
    );
    let long = run(
        dir.path(),
        &["plan", "--format", "markdown", "--apply-timeout", "600"],
    );
    assert!(
        long.stdout.contains("⏱️ **Apply estimate:** about ")
            && long
                .stdout
                .contains("fits the apply job's 600-minute timeout")
            && !long.stderr.contains("warning: the apply is estimated"),
        "{}",
        long.report()
    );
    let plain = run(dir.path(), &["plan", "--format", "markdown"]);
    assert!(
        !plain.stdout.contains("Apply estimate"),
        "{}",
        plain.report()
    );
}
