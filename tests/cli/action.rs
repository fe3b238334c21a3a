//! The GitHub Action (`action.yml` → `scripts/github-action.sh`), run locally: the script against
//! the built `orgsync` and a fake GitHub REST API that records every request and keeps the pull
//! request's comments. Plus actionlint on the example workflows and on the action's inputs.
//!
//! Needs `bash`, `python3` and `git` (every GitHub runner has them), and `actionlint` on the PATH
//! (scripts/test.sh installs it from scripts/requirements-dev.txt into .venv); a missing tool fails
//! the test, it never skips it.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use crate::common::{git, repo};

const TOKEN: &str = "ghs_FAKEtoken0123456789abcdefSECRET";
const CONNECTOR_SECRET: &str = "afas-s3cr3t-value-do-not-print";

/// One request the fake API received.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

#[derive(Debug, Default)]
struct State {
    requests: Vec<Request>,
    /// The pull request's comments: (id, body).
    comments: Vec<(u64, String)>,
    next_id: u64,
    /// What `GET /repos/…/commits/{sha}/pulls` answers: the pull requests of a commit.
    pulls: Vec<serde_json::Value>,
    /// Artifacts of workflow runs: (run id, name, zip bytes).
    artifacts: Vec<(u64, String, Vec<u8>)>,
}

/// A fake GitHub REST API on 127.0.0.1: issue comments (list, create, update), a commit's pull
/// requests, a run's artifacts and their download (a redirect to "blob storage", as GitHub's is).
struct FakeGitHub {
    url: String,
    state: Arc<Mutex<State>>,
}

impl FakeGitHub {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local port");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let state = Arc::new(Mutex::new(State {
            next_id: 1000,
            ..State::default()
        }));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                serve(stream, &shared);
            }
        });
        Self { url, state }
    }

    fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    fn comments(&self) -> Vec<(u64, String)> {
        self.state.lock().unwrap().comments.clone()
    }

    /// Says that `sha` is the merge commit of pull request 7.
    fn merged_pull_request(&self, sha: &str) {
        self.state.lock().unwrap().pulls = vec![serde_json::json!({
            "number": 7, "merged_at": "2026-11-22T10:00:00Z", "merge_commit_sha": sha
        })];
    }

    /// An artifact of run `run`: the files of `dir`, zipped as upload-artifact zips them.
    fn add_artifact(&self, run: u64, name: &str, dir: &Path) {
        let zip = tempfile::tempdir().unwrap().keep().join("artifact.zip");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let out = Command::new("python3")
            .args(["-m", "zipfile", "-c"])
            .arg(&zip)
            .args(&files)
            .current_dir(dir)
            .output()
            .expect("python3 runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bytes = std::fs::read(&zip).unwrap();
        self.state
            .lock()
            .unwrap()
            .artifacts
            .push((run, name.to_owned(), bytes));
    }

    /// A comment someone else wrote, which the action must leave alone.
    fn add_comment(&self, body: &str) {
        let mut s = self.state.lock().unwrap();
        let id = s.next_id;
        s.next_id += 1;
        s.comments.push((id, body.to_owned()));
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.trim_end().split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
            headers.push((k.to_owned(), v.trim().to_owned()));
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).expect("read the body");
    let body = String::from_utf8(body).expect("a UTF-8 body");

    let mut s = state.lock().unwrap();
    s.requests.push(Request {
        method: method.clone(),
        path: path.clone(),
        headers,
        body: body.clone(),
    });
    let route = path.split('?').next().unwrap_or_default().to_owned();
    // The artifact download: GitHub answers 302 to a signed blob-storage URL, which must be
    // fetched without the token.
    if let Some(id) = route.strip_prefix("/download/") {
        drop(s);
        let mut stream = stream;
        let _ = write!(
            stream,
            "HTTP/1.1 302 Found\r\nLocation: /blob/{id}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        return;
    }
    if let Some(id) = route.strip_prefix("/blob/") {
        let index: usize = id.parse().unwrap_or(usize::MAX);
        let bytes = s.artifacts.get(index).map(|a| a.2.clone());
        drop(s);
        let mut stream = stream;
        match bytes {
            Some(b) => {
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    b.len()
                );
                let _ = stream.write_all(&b);
            }
            None => {
                let _ = write!(
                    stream,
                    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
        }
        return;
    }
    let (status, answer) = if method == "GET"
        && route.contains("/commits/")
        && route.ends_with("/pulls")
    {
        ("200 OK", serde_json::Value::Array(s.pulls.clone()))
    } else if method == "GET" && route.contains("/actions/runs/") && route.ends_with("/artifacts") {
        let run: u64 = route
            .split('/')
            .rev()
            .nth(1)
            .and_then(|r| r.parse().ok())
            .unwrap_or(0);
        let host = headers_host(&s.requests);
        let list: Vec<_> = s
            .artifacts
            .iter()
            .enumerate()
            .filter(|(_, a)| a.0 == run)
            .map(|(i, a)| {
                serde_json::json!({
                    "id": i, "name": a.1, "expired": false,
                    "archive_download_url": format!("http://{host}/download/{i}")
                })
            })
            .collect();
        (
            "200 OK",
            serde_json::json!({ "total_count": list.len(), "artifacts": list }),
        )
    } else if method == "GET" && route.ends_with("/issues/7/comments") {
        // Paged as GitHub pages it: `per_page` (default 30) and `page` (from 1).
        let query = |name: &str| {
            path.split_once('?')
                .and_then(|(_, q)| {
                    q.split('&')
                        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                })
                .and_then(|v| v.parse::<usize>().ok())
        };
        let (per_page, page) = (query("per_page").unwrap_or(30), query("page").unwrap_or(1));
        let list: Vec<_> = s
            .comments
            .iter()
            .skip(per_page * (page - 1))
            .take(per_page)
            .map(|(id, body)| serde_json::json!({ "id": id, "body": body, "user": { "login": "someone" } }))
            .collect();
        ("200 OK", serde_json::Value::Array(list))
    } else if method == "POST" && route.ends_with("/issues/7/comments") {
        let text = serde_json::from_str::<serde_json::Value>(&body).expect("a JSON body")["body"]
            .as_str()
            .expect("a body")
            .to_owned();
        if text.chars().count() > 65_536 {
            (
                "422 Unprocessable Entity",
                serde_json::json!({ "message": "body is too long" }),
            )
        } else {
            let id = s.next_id;
            s.next_id += 1;
            s.comments.push((id, text));
            ("201 Created", serde_json::json!({ "id": id }))
        }
    } else if method == "DELETE" && route.contains("/issues/comments/") {
        let id: u64 = route
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .parse()
            .unwrap_or(0);
        let before = s.comments.len();
        s.comments.retain(|(i, _)| *i != id);
        if s.comments.len() < before {
            ("204 No Content", serde_json::Value::Null)
        } else {
            (
                "404 Not Found",
                serde_json::json!({ "message": "Not Found" }),
            )
        }
    } else if method == "PATCH" && route.contains("/issues/comments/") {
        let id: u64 = route
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .parse()
            .unwrap_or(0);
        let text = serde_json::from_str::<serde_json::Value>(&body).expect("a JSON body")["body"]
            .as_str()
            .expect("a body")
            .to_owned();
        match s.comments.iter_mut().find(|(i, _)| *i == id) {
            Some(c) if text.chars().count() <= 65_536 => {
                c.1 = text;
                ("200 OK", serde_json::json!({ "id": id }))
            }
            Some(_) => (
                "422 Unprocessable Entity",
                serde_json::json!({ "message": "body is too long" }),
            ),
            None => (
                "404 Not Found",
                serde_json::json!({ "message": "Not Found" }),
            ),
        }
    } else {
        (
            "404 Not Found",
            serde_json::json!({ "message": "Not Found" }),
        )
    };
    drop(s);
    let answer = if answer.is_null() {
        String::new()
    } else {
        answer.to_string()
    };
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    );
}

/// The Host header of the newest request: where the fake API is reachable.
fn headers_host(requests: &[Request]) -> String {
    requests
        .last()
        .and_then(|r| {
            r.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("host"))
                .map(|(_, v)| v.clone())
        })
        .unwrap_or_default()
}

/// One run of the action's script, with everything it wrote.
#[derive(Debug)]
struct ActionRun {
    code: i32,
    stdout: String,
    stderr: String,
    summary: String,
    outputs: BTreeMap<String, String>,
}

/// A pretend runner: its temporary directory, event file, step summary and output files.
struct Runner {
    tmp: tempfile::TempDir,
    api: String,
}

impl Runner {
    fn new(api: &FakeGitHub) -> Self {
        let tmp = tempfile::tempdir().expect("a temporary directory");
        std::fs::create_dir_all(tmp.path().join("runner-temp")).unwrap();
        std::fs::write(
            tmp.path().join("event.json"),
            r#"{"action":"synchronize","number":7,"pull_request":{"number":7,"base":{"ref":"main"}}}"#,
        )
        .unwrap();
        Self {
            tmp,
            api: api.url.clone(),
        }
    }

    /// The event is a push to main (a merge), not a pull request.
    fn on_push(&self) {
        std::fs::write(
            self.tmp.path().join("event.json"),
            r#"{"ref":"refs/heads/main"}"#,
        )
        .unwrap();
    }

    /// Runs the script in `dir` with `env` on top of a GitHub-like environment.
    fn run(&self, dir: &Path, env: &[(&str, &str)]) -> ActionRun {
        let summary = self.tmp.path().join("step-summary.md");
        let outputs = self.tmp.path().join("github-output");
        std::fs::write(&summary, "").unwrap();
        std::fs::write(&outputs, "").unwrap();
        let bin = assert_cmd::cargo::cargo_bin("orgsync");
        let mut cmd = Command::new("bash");
        cmd.arg(repo().join("scripts/github-action.sh"))
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.tmp.path())
            .env("NO_COLOR", "1")
            .env("GIT_CEILING_DIRECTORIES", repo())
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_API_URL", &self.api)
            .env("GITHUB_SERVER_URL", "https://github.example")
            .env("GITHUB_REPOSITORY", "acme/people")
            .env("GITHUB_RUN_ID", "4242")
            .env("GITHUB_EVENT_NAME", "pull_request")
            .env("GITHUB_EVENT_PATH", self.tmp.path().join("event.json"))
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("GITHUB_OUTPUT", &outputs)
            .env("RUNNER_TEMP", self.tmp.path().join("runner-temp"))
            .env("ORGSYNC_BIN", &bin)
            .env("ORGSYNC_GITHUB_TOKEN", TOKEN)
            // GitHub's one second between comment writes, not waited for against the fake.
            .env("ORGSYNC_COMMENT_DELAY", "0")
            .env("AFAS_TOKEN", CONNECTOR_SECRET)
            .env("INPUT_COMMAND", "plan")
            .env("INPUT_SHOW_PII", "false")
            .env("INPUT_BASE_REF", "")
            .env("INPUT_ARGS", "--at 2026-11-22");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("bash runs (is bash installed?)");
        let outputs_text = std::fs::read_to_string(&outputs).unwrap();
        let mut parsed = BTreeMap::new();
        for line in outputs_text.lines() {
            let (k, v) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("a name=value output line: {line:?}"));
            // The last value written wins, as on GitHub.
            parsed.insert(k.to_owned(), v.to_owned());
        }
        ActionRun {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            summary: std::fs::read_to_string(&summary).unwrap(),
            outputs: parsed,
        }
    }
}

impl ActionRun {
    fn report(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}\n--- stderr\n{}\n--- outputs\n{:?}\n--- summary (first 2000 chars)\n{}",
            self.code,
            self.stdout,
            self.stderr,
            self.outputs,
            self.summary.chars().take(2000).collect::<String>()
        )
    }

    fn output(&self, name: &str) -> &str {
        self.outputs
            .get(name)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no output {name}\n{}", self.report()))
    }
}

/// A copy of examples/quickstart in a temporary directory, with `edit` applied to its orgsync.yaml.
fn quickstart_copy(edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let from = repo().join("examples/quickstart");
    for entry in std::fs::read_dir(&from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    let config = dir.path().join("orgsync.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, edit(text)).unwrap();
    dir
}

/// Neither the token nor a connector secret appears in anything the run printed or wrote, nor in
/// any request except the token in its Authorization header.
fn assert_no_secrets(run: &ActionRun, api: &FakeGitHub) {
    for secret in [TOKEN, CONNECTOR_SECRET] {
        assert!(
            !run.stdout.contains(secret),
            "a secret in stdout\n{}",
            run.report()
        );
        assert!(
            !run.stderr.contains(secret),
            "a secret in stderr\n{}",
            run.report()
        );
        assert!(
            !run.summary.contains(secret),
            "a secret in the step summary\n{}",
            run.report()
        );
        assert!(
            !run.outputs.values().any(|v| v.contains(secret)),
            "a secret in the outputs\n{}",
            run.report()
        );
        for r in api.requests() {
            assert!(
                !r.path.contains(secret) && !r.body.contains(secret),
                "a secret in a request: {r:?}"
            );
            for (k, v) in &r.headers {
                if v.contains(secret) {
                    assert!(
                        k.eq_ignore_ascii_case("authorization") && secret == TOKEN,
                        "a secret in header {k} of {} {}",
                        r.method,
                        r.path
                    );
                }
            }
        }
        for (_, body) in api.comments() {
            assert!(!body.contains(secret), "a secret in a comment");
        }
    }
}

const MARKER: &str = "<!-- orgsync:plan:config -->";

/// The config directory is `config` inside a workspace, as in a repository.
fn workspace_with(config: &Path) -> tempfile::TempDir {
    let ws = tempfile::tempdir().expect("a temporary directory");
    let dest = ws.path().join("config");
    std::fs::create_dir_all(&dest).unwrap();
    for entry in std::fs::read_dir(config).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dest.join(entry.file_name())).unwrap();
    }
    ws
}

#[test]
fn first_run_creates_the_comment_second_updates_it() {
    let api = FakeGitHub::start();
    api.add_comment("Looks good to me!");
    let runner = Runner::new(&api);
    let qs = quickstart_copy(|t| t);
    let ws = workspace_with(qs.path());

    let first = runner.run(ws.path(), &[("INPUT_CONFIG", "config")]);
    assert_eq!(first.code, 0, "{}", first.report());
    assert_eq!(first.output("has-changes"), "true", "{}", first.report());
    assert_eq!(first.output("safe"), "true");
    assert_eq!(
        first.output("summary"),
        "3 invite, 2 update, 1 move, 1 restore, 1 remove, 1 anonymize"
    );
    let plan_file = PathBuf::from(first.output("plan-file"));
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&plan_file).unwrap()).unwrap();
    assert_eq!(
        plan["summary"]["invite"], 3,
        "the plan-file output is the JSON plan"
    );
    assert!(
        first.summary.contains("## orgsync plan") && first.summary.contains("✅ **Safe:**"),
        "{}",
        first.report()
    );
    assert!(
        !first.summary.contains("lina.chaouch@"),
        "personal data masked by default"
    );

    let comments = api.comments();
    assert_eq!(
        comments.len(),
        2,
        "one comment added next to the reviewer's: {comments:?}"
    );
    let (id, body) = &comments[1];
    assert!(body.starts_with(MARKER), "{body}");
    assert!(
        body.contains("**Plan:** 3 to invite")
            && body.contains("https://github.example/acme/people/actions/runs/4242")
    );
    assert!(body.chars().count() <= 65_536);
    let methods: Vec<_> = api
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        methods,
        [
            "GET /repos/acme/people/issues/7/comments?per_page=100&page=1",
            "POST /repos/acme/people/issues/7/comments"
        ]
    );
    let auth = api.requests()[0]
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .cloned();
    assert_eq!(auth.map(|(_, v)| v), Some(format!("Bearer {TOKEN}")));

    // The second push to the pull request: the same comment is updated, no second one.
    let second = runner.run(ws.path(), &[("INPUT_CONFIG", "config")]);
    assert_eq!(second.code, 0, "{}", second.report());
    let after = api.comments();
    assert_eq!(after.len(), 2, "still one orgsync comment: {after:?}");
    assert_eq!(after[1].0, *id, "the same comment");
    assert_eq!(
        after[0].1, "Looks good to me!",
        "the reviewer's comment is untouched"
    );
    let methods: Vec<_> = api
        .requests()
        .iter()
        .skip(2)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        methods,
        [
            "GET /repos/acme/people/issues/7/comments?per_page=100&page=1".to_owned(),
            format!("PATCH /repos/acme/people/issues/comments/{id}")
        ]
    );
    assert_no_secrets(&first, &api);
    assert_no_secrets(&second, &api);

    // The same directory written differently is the same comment.
    let third = runner.run(ws.path(), &[("INPUT_CONFIG", "./config/")]);
    assert_eq!(third.code, 0, "{}", third.report());
    assert_eq!(
        api.comments().len(),
        2,
        "one comment per configuration directory"
    );
    assert_eq!(api.comments()[1].0, *id);
}

/// A busy pull request: the action's comment is on the second page of comments, and is found there.
#[test]
fn the_comment_is_found_beyond_the_first_page() {
    let api = FakeGitHub::start();
    let runner = Runner::new(&api);
    let ws = workspace_with(&repo().join("examples/quickstart"));
    for i in 0..120 {
        api.add_comment(&format!("review comment {i}"));
    }
    let first = runner.run(ws.path(), &[("INPUT_CONFIG", "config")]);
    assert_eq!(first.code, 0, "{}", first.report());
    assert_eq!(api.comments().len(), 121);
    let second = runner.run(ws.path(), &[("INPUT_CONFIG", "config")]);
    assert_eq!(second.code, 0, "{}", second.report());
    assert_eq!(api.comments().len(), 121, "updated, not added again");
    let last: Vec<_> = api
        .requests()
        .iter()
        .rev()
        .take(3)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        last,
        [
            "PATCH /repos/acme/people/issues/comments/1120",
            "GET /repos/acme/people/issues/7/comments?per_page=100&page=2",
            "GET /repos/acme/people/issues/7/comments?per_page=100&page=1",
        ]
    );
}

/// The plan JSON of a run (its `plan-file` output).
fn plan_of(run: &ActionRun) -> serde_json::Value {
    let text = std::fs::read_to_string(run.output("plan-file")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The orgsync plan comments on the pull request, in part order: (part number, id, body).
fn plan_comments(api: &FakeGitHub, config: &str) -> Vec<(usize, u64, String)> {
    let first = format!("<!-- orgsync:plan:{config} -->");
    let part = format!("<!-- orgsync:plan-part:{config}:");
    let mut out: Vec<(usize, u64, String)> = api
        .comments()
        .into_iter()
        .filter_map(|(id, body)| {
            if body.starts_with(&first) {
                Some((1, id, body))
            } else {
                let n = body.strip_prefix(&part)?.split(' ').next()?.parse().ok()?;
                Some((n, id, body))
            }
        })
        .collect();
    out.sort();
    out
}

/// Every action of `plan` is in `text`: one `- **…**` entry per action, and each account
/// action's source identifier.
fn assert_every_action_in(text: &str, plan: &serde_json::Value, what: &str) {
    let actions = plan["actions"].as_array().unwrap();
    let entries: Vec<&str> = text.lines().filter(|l| l.starts_with("- **")).collect();
    assert_eq!(
        entries.len(),
        actions.len(),
        "one entry per action in {what}"
    );
    let people: std::collections::HashSet<&str> = entries
        .iter()
        .filter_map(|l| l.split_once("(person ")?.1.split([',', ')']).next())
        .collect();
    for a in actions {
        let subject = a["subject"].as_str().unwrap();
        if ["invite", "update", "move", "restore", "remove", "anonymize"]
            .contains(&a["kind"].as_str().unwrap())
        {
            assert!(
                people.contains(subject),
                "person {subject} is not in {what}"
            );
        }
    }
}

/// Regression (issue 20): a plan over GitHub's comment limit was cut, with "run `orgsync plan
/// --format json`" (which needs credentials) as the only way to see the rest. Now every part is
/// a comment of its own, numbered, updated in place, and surplus parts are deleted when the plan
/// shrinks.
#[test]
fn an_oversized_plan_is_split_over_numbered_comments_updated_in_place() {
    let api = FakeGitHub::start();
    api.add_comment("Looks good to me!");
    let runner = Runner::new(&api);
    let qs = quickstart_copy(|t| t);
    let ws = workspace_with(qs.path());
    // The real limits are 65,536 characters and 1 MiB; small ones make the quickstart's plan
    // oversized.
    let small = [
        ("INPUT_CONFIG", "config"),
        ("ORGSYNC_COMMENT_LIMIT", "2400"),
        ("ORGSYNC_SUMMARY_LIMIT", "4000"),
        ("INPUT_APPLY_TIMEOUT_MINUTES", "30"),
    ];
    let run = runner.run(ws.path(), &small);
    assert_eq!(run.code, 0, "{}", run.report());
    let plan = plan_of(&run);
    let parts = plan_comments(&api, "config");
    let n = parts.len();
    assert!(n >= 3, "{n} parts");
    let mut whole = String::new();
    for (i, (part, _, body)) in parts.iter().enumerate() {
        assert_eq!(*part, i + 1, "parts 1 to {n}, each once");
        assert!(
            body.chars().count() <= 2400,
            "part {part}: {} chars",
            body.chars().count()
        );
        assert!(body.contains(&format!("plan part {part} of {n}")), "{body}");
        assert_eq!(
            body.matches("<details>").count(),
            body.matches("</details>").count(),
            "each part closes what it opens: {body}"
        );
        assert!(!body.contains("orgsync plan --format json"), "{body}");
        whole.push_str(body);
    }
    assert!(parts[0].2.starts_with(MARKER), "{}", parts[0].2);
    assert!(
        parts[0].2.contains("⏱️ **Apply estimate:** under a minute (written to the target file); fits the apply job's 30-minute timeout."),
        "{}",
        parts[0].2
    );
    assert!(
        parts[0]
            .2
            .contains(&format!("continues in the next {} orgsync comments", n - 1))
    );
    assert_every_action_in(&whole, &plan, "the comments");
    // Masked: no e-mail address, no full name.
    let export: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("examples/quickstart/hr-export.json")).unwrap(),
    )
    .unwrap();
    for row in export["rows"].as_array().unwrap() {
        let name = format!(
            "{} {}",
            row["Roepnaam"].as_str().unwrap_or_default(),
            row["Achternaam"].as_str().unwrap_or_default()
        );
        let email = row["Email_werk"].as_str().unwrap_or_default();
        assert!(!whole.contains(&name), "{name} in a comment");
        assert!(
            email.is_empty() || !whole.contains(email),
            "{email} in a comment"
        );
    }
    assert_eq!(whole.matches('@').count(), whole.matches("***@").count());
    // The summary: whole parts up to its limit, then where the rest is.
    assert!(run.summary.len() <= 4000, "{} bytes", run.summary.len());
    assert!(
        run.summary
            .contains("**The step summary ends here, after part ")
            && run
                .summary
                .contains("`plan.md` in the `orgsync-plan-config` artifact"),
        "{}",
        run.report()
    );
    // The artifact holds the whole masked plan.
    let md =
        std::fs::read_to_string(Path::new(run.output("artifact-dir")).join("plan.md")).unwrap();
    assert_every_action_in(&md, &plan, "plan.md");
    assert_no_secrets(&run, &api);

    // The same plan again: the same comments, updated in place, nothing added.
    let ids: Vec<u64> = parts.iter().map(|p| p.1).collect();
    let posts = |api: &FakeGitHub| api.requests().iter().filter(|r| r.method == "POST").count();
    let posted = posts(&api);
    let again = runner.run(ws.path(), &small);
    assert_eq!(again.code, 0, "{}", again.report());
    let after: Vec<u64> = plan_comments(&api, "config").iter().map(|p| p.1).collect();
    assert_eq!(after, ids);
    assert_eq!(posts(&api), posted, "no comment added");

    // The plan fits one comment now: part 1 stays, the other parts are deleted.
    let one = runner.run(ws.path(), &[("INPUT_CONFIG", "config")]);
    assert_eq!(one.code, 0, "{}", one.report());
    let left = plan_comments(&api, "config");
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].1, ids[0], "part 1 is the same comment");
    assert!(!left[0].2.contains("plan part"), "{}", left[0].2);
    assert_every_action_in(&left[0].2, &plan, "the one comment");
    let deletes = api
        .requests()
        .iter()
        .filter(|r| r.method == "DELETE")
        .count();
    assert_eq!(deletes, n - 1);
    assert_eq!(api.comments()[0].1, "Looks good to me!");
    assert!(one.summary.contains("## orgsync plan") && !one.summary.contains("ends here"));
}

/// Issue 20: a 20,000-person first sync is reviewable in full from the pull request: the step
/// summary (up to GitHub's 1 MiB) and the numbered comments (each within 65,536 characters)
/// together hold every action, masked.
#[test]
fn a_20000_person_plan_is_reviewable_in_full_from_the_pull_request() {
    let api = FakeGitHub::start();
    let runner = Runner::new(&api);
    let ws = tempfile::tempdir().unwrap();
    let config = ws.path().join("config");
    let out = crate::common::orgsync(&[
        "sandbox",
        "generate",
        "--people",
        "20000",
        "--today",
        "2026-11-22",
        "--out",
        config.to_str().unwrap(),
    ]);
    out.assert_code(0);
    // An empty target: everyone is invited.
    std::fs::remove_file(config.join("workspace.json")).unwrap();
    // The step's exit code is not the point here (a first sync of 20,000 may need an explicit
    // allowance): the review is. The masked plan of the artifact is written in every case.
    let run = runner.run(ws.path(), &[("INPUT_CONFIG", "config")]);
    let masked = Path::new(run.output("artifact-dir")).join("plan.masked.json");
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(masked).unwrap()).unwrap();
    let actions = plan["actions"].as_array().unwrap().len();
    assert!(actions >= 20_000, "{actions} actions\n{}", run.report());
    let parts = plan_comments(&api, "config");
    let n = parts.len();
    let mut whole = String::new();
    for (i, (part, _, body)) in parts.iter().enumerate() {
        assert_eq!(*part, i + 1);
        assert!(
            body.chars().count() <= 65_536,
            "part {part}: {}",
            body.chars().count()
        );
        whole.push_str(body);
    }
    assert!(n > 1, "{n} parts");
    assert_every_action_in(&whole, &plan, "the comments");
    assert!(
        run.summary.len() <= 1_048_576,
        "{} bytes",
        run.summary.len()
    );
    assert!(run.summary.len() > 900_000, "the summary uses its room");
    assert!(
        run.summary
            .contains(&format!(" of {n}** (GitHub shows at most 1,048,576 bytes"))
    );
    // Masked: no full name, no e-mail address of anyone in the source.
    let source: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(config.join("source.json")).unwrap())
            .unwrap();
    let rows = source
        .as_array()
        .or_else(|| source["rows"].as_array())
        .unwrap();
    // Every 997th person (a scan of the whole text per person is slow in a debug build).
    for row in rows.iter().step_by(997) {
        let email = row["email"].as_str().unwrap_or_default();
        let name = format!(
            "{} {}",
            row["first_name"].as_str().unwrap_or_default(),
            row["last_name"].as_str().unwrap_or_default()
        );
        for text in [&whole, &run.summary] {
            assert!(email.is_empty() || !text.contains(email), "{email} shown");
            assert!(!text.contains(&name), "{name} shown");
        }
    }
    assert_eq!(whole.matches('@').count(), whole.matches("***@").count());
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "20k plan: {actions} actions, {} characters masked in {n} comments, summary {} bytes",
            whole.chars().count(),
            run.summary.len()
        );
    }
}

#[test]
fn an_unsafe_plan_fails_the_step() {
    let api = FakeGitHub::start();
    let runner = Runner::new(&api);
    let qs = quickstart_copy(|t| t.replace("max_removals: \"10%\"", "max_removals: 0"));
    let ws = workspace_with(qs.path());
    let run = runner.run(ws.path(), &[("INPUT_CONFIG", "config")]);
    assert_eq!(run.code, 1, "{}", run.report());
    assert_eq!(run.output("safe"), "false");
    assert_eq!(run.output("has-changes"), "true");
    assert!(
        !run.output("plan-file").is_empty(),
        "the plan is still uploaded"
    );
    assert!(
        run.stdout
            .contains("::error::orgsync: the plan for config is unsafe"),
        "{}",
        run.report()
    );
    assert!(run.summary.contains("Unsafe"), "{}", run.report());
    let comments = api.comments();
    assert_eq!(comments.len(), 1, "the reviewers see why it failed");
    assert!(comments[0].1.contains("Unsafe"), "{}", comments[0].1);
    assert_no_secrets(&run, &api);
}

#[test]
fn an_invalid_configuration_fails_the_step() {
    let api = FakeGitHub::start();
    let runner = Runner::new(&api);
    let qs = quickstart_copy(|t| t.replace("version: 1", "version: 99"));
    let ws = workspace_with(qs.path());
    for command in ["plan", "validate"] {
        let run = runner.run(
            ws.path(),
            &[
                ("INPUT_CONFIG", "config"),
                ("INPUT_COMMAND", command),
                ("INPUT_ARGS", ""),
            ],
        );
        assert_eq!(run.code, 1, "{}", run.report());
        assert_eq!(run.output("safe"), "false");
        assert_eq!(run.output("has-changes"), "false");
        assert_eq!(run.output("plan-file"), "");
        assert!(run.stdout.contains("::error::orgsync"), "{}", run.report());
        assert!(
            run.summary.contains("version"),
            "orgsync's message is in the summary\n{}",
            run.report()
        );
        assert_no_secrets(&run, &api);
    }
    assert_eq!(api.comments().len(), 1, "one comment, updated");
}

#[test]
fn outside_a_pull_request_there_is_no_comment() {
    let api = FakeGitHub::start();
    let runner = Runner::new(&api);
    runner.on_push();
    let ws = workspace_with(&repo().join("examples/quickstart"));
    let run = runner.run(ws.path(), &[("INPUT_CONFIG", "config")]);
    assert_eq!(run.code, 0, "{}", run.report());
    assert!(api.requests().is_empty(), "{:?}", api.requests());
    assert!(run.summary.contains("## orgsync plan"));
}

/// The workspace as a clone: `config/` committed on main, pushed to a bare origin.
fn clone_with_origin(ws: &Path) -> tempfile::TempDir {
    let origin = tempfile::tempdir().unwrap();
    git(origin.path(), &["init", "-q", "--bare"]);
    git(ws, &["init", "-q", "-b", "main"]);
    git(ws, &["config", "user.name", "github-actions[bot]"]);
    git(ws, &["config", "user.email", "bot@example.com"]);
    std::fs::write(ws.join(".gitignore"), "config/*.json\n").unwrap();
    git(ws, &["add", "."]);
    git(ws, &["commit", "-q", "-m", "orgsync config"]);
    git(
        ws,
        &["remote", "add", "origin", origin.path().to_str().unwrap()],
    );
    git(ws, &["push", "-q", "-u", "origin", "main"]);
    origin
}

/// A pull request (the base branch `main` is in the clone as origin/main): the comment starts with
/// what the pull request itself changes.
#[test]
fn base_ref_plans_what_the_pull_request_changes() {
    let api = FakeGitHub::start();
    let runner = Runner::new(&api);
    let ws = workspace_with(&repo().join("examples/quickstart"));
    let _origin = clone_with_origin(ws.path());
    git(ws.path(), &["checkout", "-q", "-b", "map-den-haag"]);
    let communities = ws.path().join("config/communities.yaml");
    let text = std::fs::read_to_string(&communities).unwrap();
    let (before, after) = (
        r#"{ source: "1005", name: Den Haag"#,
        r#"{ source: "1015", name: Den Haag"#,
    );
    assert!(text.contains(before));
    std::fs::write(&communities, text.replace(before, after)).unwrap();
    git(ws.path(), &["commit", "-q", "-am", "map 1015"]);

    let run = runner.run(
        ws.path(),
        &[("INPUT_CONFIG", "config"), ("INPUT_BASE_REF", "main")],
    );
    assert_eq!(run.code, 0, "{}", run.report());
    let comments = api.comments();
    assert_eq!(comments.len(), 1);
    let body = &comments[0].1;
    assert!(body.contains("what this pull request changes"), "{body}");
    assert!(body.contains("Compared with `origin/main`"), "{body}");
    assert!(run.summary.contains("what this pull request changes"));
    assert_no_secrets(&run, &api);
}

/// `command: apply` in a clone: plans, applies with --auto-approve, and pushes the apply record
/// (refs/notes/orgsync) to origin; a second run has nothing to apply.
#[test]
fn apply_applies_and_pushes_the_notes() {
    let api = FakeGitHub::start();
    let runner = Runner::new(&api);
    runner.on_push();
    let ws = workspace_with(&repo().join("examples/quickstart"));
    let origin = clone_with_origin(ws.path());

    let apply = [("INPUT_CONFIG", "config"), ("INPUT_COMMAND", "apply")];
    let run = runner.run(ws.path(), &apply);
    assert_eq!(run.code, 0, "{}", run.report());
    assert_eq!(run.output("has-changes"), "true");
    assert!(run.summary.contains("**Applied:**"), "{}", run.report());
    let note = git(
        origin.path(),
        &["notes", "--ref", "orgsync", "show", "main"],
    );
    assert!(
        note.contains(&format!(
            "\"record_version\":{}",
            orgsync_core::ledger::RECORD_VERSION
        )) && note.contains("\"config_dir\""),
        "{note}"
    );
    assert!(api.requests().is_empty(), "no comment on a push");
    assert_no_secrets(&run, &api);

    let again = runner.run(ws.path(), &apply);
    assert_eq!(again.code, 0, "{}", again.report());
    assert_eq!(again.output("has-changes"), "false", "{}", again.report());
    assert_eq!(again.output("summary"), "no changes");
}

/// Every example workflow passes actionlint, and with `uses: ./` in a repository that holds
/// action.yml, actionlint also checks each `with:` against the action's inputs.
#[test]
fn example_workflows_pass_actionlint() {
    let found = Command::new("actionlint").arg("-version").output();
    assert!(
        found.as_ref().is_ok_and(|o| o.status.success()),
        "actionlint is not on the PATH: run scripts/test.sh (it installs scripts/requirements-dev.txt \
         into .venv and puts .venv/bin on the PATH), or `pip install -r scripts/requirements-dev.txt`"
    );
    let examples = repo().join("examples/github");
    let mut workflows: Vec<PathBuf> = std::fs::read_dir(&examples)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    workflows.sort();
    let names: Vec<_> = workflows
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "orgsync-applicants-hourly.yml",
            "orgsync-apply.yml",
            "orgsync-hygiene.yml",
            "orgsync-nightly.yml",
            "orgsync-plan.yml",
            "orgsync-tenants.yml"
        ]
    );

    // orgsync's own release workflow, too.
    let out = Command::new("actionlint")
        .args(&workflows)
        .arg(repo().join(".github/workflows/release.yml"))
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "actionlint:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let tmp = tempfile::tempdir().unwrap();
    let wf = tmp.path().join(".github/workflows");
    std::fs::create_dir_all(&wf).unwrap();
    std::fs::create_dir_all(tmp.path().join(".git")).unwrap();
    std::fs::copy(repo().join("action.yml"), tmp.path().join("action.yml")).unwrap();
    for p in &workflows {
        let text = std::fs::read_to_string(p).unwrap();
        assert!(
            text.contains("uses: your-org/orgsync@v1"),
            "{} uses the action",
            p.display()
        );
        std::fs::write(
            wf.join(p.file_name().unwrap()),
            text.replace("your-org/orgsync@v1", "./"),
        )
        .unwrap();
    }
    let out = Command::new("actionlint")
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "actionlint with the local action:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// action.yml is a composite action whose every `run` step names its shell, and it passes every
/// input to the script.
#[test]
fn action_yml_is_a_complete_composite_action() {
    let text = std::fs::read_to_string(repo().join("action.yml")).unwrap();
    assert!(text.contains("using: composite"));
    let runs = text.matches("\n      run: ").count();
    let shells = text.matches("\n      shell: bash").count();
    assert!(
        runs > 0 && runs == shells,
        "{runs} run steps, {shells} with a shell"
    );
    for input in [
        "command",
        "config",
        "base-ref",
        "github-token",
        "show-pii",
        "args",
        "version",
        "sha256",
        "release-repository",
        "reviewed",
        "commit-file-target",
        "apply-timeout-minutes",
        "upload-full-plan",
        "retention-days",
        "full-plan-retention-days",
    ] {
        assert!(text.contains(&format!("\n  {input}:\n")), "input {input}");
    }
    for output in [
        "has-changes",
        "safe",
        "summary",
        "plan-file",
        "plan-digest",
        "artifact-dir",
    ] {
        assert!(
            text.contains(&format!("steps.run.outputs.{output} }}")),
            "output {output}"
        );
    }
    for env in [
        "INPUT_COMMAND",
        "INPUT_CONFIG",
        "INPUT_BASE_REF",
        "INPUT_SHOW_PII",
        "INPUT_ARGS",
        "INPUT_REVIEWED",
        "INPUT_COMMIT_FILE_TARGET",
        "INPUT_APPLY_TIMEOUT_MINUTES",
        "ORGSYNC_GITHUB_TOKEN",
    ] {
        assert!(text.contains(&format!("{env}: ${{{{ inputs.")), "{env}");
    }
    assert!(text.contains("cargo install --locked --path \"$GITHUB_ACTION_PATH\""));
    assert!(text.contains("if: inputs.version == 'source'"));
    assert!(text.contains("scripts/install-orgsync.sh"));
    // The default artifact is the masked one; the full plan only when asked, briefly.
    assert!(text.contains("path: ${{ steps.run.outputs.artifact-dir }}"));
    assert!(text.contains("if: always() && inputs.upload-full-plan == 'true'"));
    assert!(text.contains("actions/upload-artifact@") && text.contains("actions/cache@"));
}

/// Every string of the quickstart's HR export that is personal: names and e-mail addresses.
fn quickstart_personal_data() -> Vec<String> {
    let text = std::fs::read_to_string(repo().join("examples/quickstart/hr-export.json")).unwrap();
    let export: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut out = Vec::new();
    for row in export["rows"].as_array().unwrap() {
        for key in ["Roepnaam", "Achternaam", "Email_werk"] {
            if let Some(v) = row[key].as_str().filter(|v| v.len() > 2) {
                out.push(v.to_owned());
            }
        }
    }
    out
}

/// Regression (issue 14): the artifact was the full JSON plan, names and addresses included, for
/// anyone with read access. Now the uploaded directory holds the masked plan and the review
/// record; the full plan stays on the runner.
#[test]
fn the_plan_artifact_is_masked_and_holds_the_review_record() {
    let api = FakeGitHub::start();
    let runner = Runner::new(&api);
    let ws = workspace_with(&repo().join("examples/quickstart"));
    let run = runner.run(ws.path(), &[("INPUT_CONFIG", "config")]);
    assert_eq!(run.code, 0, "{}", run.report());
    let dir = PathBuf::from(run.output("artifact-dir"));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["plan.masked.json", "plan.md", "review.json"]);
    let full = PathBuf::from(run.output("plan-file"));
    assert!(
        !full.starts_with(&dir),
        "the full plan is not in the artifact"
    );

    let masked = std::fs::read_to_string(dir.join("plan.masked.json")).unwrap();
    let review = std::fs::read_to_string(dir.join("review.json")).unwrap();
    let full_text = std::fs::read_to_string(&full).unwrap();
    let personal = quickstart_personal_data();
    let in_plan: Vec<&String> = personal
        .iter()
        .filter(|p| full_text.contains(&format!("\"{p}\"")))
        .collect();
    assert!(!in_plan.is_empty(), "the full plan names people");
    for p in &in_plan {
        assert!(
            !masked.contains(&format!("\"{p}\"")),
            "{p} in the masked plan"
        );
        assert!(!review.contains(p.as_str()), "{p} in the review record");
    }
    assert_eq!(masked.matches('@').count(), masked.matches("***@").count());

    // The comment names the reviewed plan, and says where the apply on merge finds it.
    let digest = run.output("plan-digest");
    assert!(digest.starts_with("sha256:"), "{digest}");
    assert!(review.contains(digest), "{review}");
    let body = &api.comments()[0].1;
    assert!(
        body.contains(&format!(
            "<!-- orgsync:review run=4242 artifact=orgsync-plan-config plan={digest} -->"
        )),
        "{body}"
    );
    assert!(
        body.contains(&format!("Reviewed plan `{digest}`")),
        "{body}"
    );
    assert_no_secrets(&run, &api);
}

/// Regression (issue 14): a plan with error diagnostics gave a comment saying "see the
/// diagnostics above" without them, because the script replaced the Markdown with stderr. Now
/// the comment and the summary list them, and each located one is an annotation on the file.
#[test]
fn a_plan_with_errors_shows_its_diagnostics_and_annotates_them() {
    let api = FakeGitHub::start();
    let runner = Runner::new(&api);
    let qs =
        quickstart_copy(|t| t.replace("unmapped_communities: hold", "unmapped_communities: error"));
    let ws = workspace_with(qs.path());
    let run = runner.run(ws.path(), &[("INPUT_CONFIG", "config")]);
    assert_eq!(run.code, 1, "{}", run.report());
    let body = &api.comments()[0].1;
    assert!(body.contains("unmapped_community"), "{body}");
    assert!(body.contains("The plan has errors"), "{body}");
    assert!(
        run.summary.contains("unmapped_community"),
        "{}",
        run.report()
    );
    let annotation = run
        .stdout
        .lines()
        .find(|l| l.starts_with("::error file=config/orgsync.yaml,line="))
        .unwrap_or_else(|| panic!("no annotation on config/orgsync.yaml\n{}", run.report()));
    assert!(
        annotation.contains("title=orgsync%3A unmapped_community::"),
        "{annotation}"
    );
    // Annotations are masked like the comment.
    for p in quickstart_personal_data() {
        if p.contains('@') {
            assert!(!run.stdout.contains(&p), "{p} in the log");
        }
    }
    assert!(!run.output("artifact-dir").is_empty());
    assert_no_secrets(&run, &api);
}

/// An invalid configuration is annotated with the file, line and column of each error.
#[test]
fn an_invalid_configuration_is_annotated_at_its_line() {
    let api = FakeGitHub::start();
    let runner = Runner::new(&api);
    let qs = quickstart_copy(|t| t.replace("  retention_days: 30", "  retention_dayz: 30"));
    let ws = workspace_with(qs.path());
    let run = runner.run(
        ws.path(),
        &[("INPUT_CONFIG", "config"), ("INPUT_COMMAND", "validate")],
    );
    assert_eq!(run.code, 1, "{}", run.report());
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("::error file=config/orgsync.yaml,line="))
        .unwrap_or_else(|| panic!("no annotation\n{}", run.report()));
    assert!(line.contains(",col=3,"), "{line}");
    assert!(line.contains("retention_dayz"), "{line}");
}

/// A clone with the quickstart committed, its plan made on "pull request 7" in run 4242, and the
/// artifact of that run in the fake API. Returns the clone, its origin and the merge commit.
fn reviewed_pull_request(
    api: &FakeGitHub,
    runner: &Runner,
) -> (tempfile::TempDir, tempfile::TempDir, String) {
    let ws = workspace_with(&repo().join("examples/quickstart"));
    let origin = clone_with_origin(ws.path());
    let plan = runner.run(ws.path(), &[("INPUT_CONFIG", "config")]);
    assert_eq!(plan.code, 0, "{}", plan.report());
    api.add_artifact(
        4242,
        "orgsync-plan-config",
        Path::new(plan.output("artifact-dir")),
    );
    let sha = git(ws.path(), &["rev-parse", "HEAD"]).trim().to_owned();
    api.merged_pull_request(&sha);
    runner.on_push();
    (ws, origin, sha)
}

/// Adds one person to the workspace's HR export: drift that arrives after the review.
fn hire(ws: &Path, id: &str) {
    let path = ws.join("config/hr-export.json");
    let mut export: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let rows = export["rows"].as_array_mut().unwrap();
    let mut row = rows[0].clone();
    row["Medewerker"] = serde_json::json!(id);
    row["Roepnaam"] = serde_json::json!("Noor");
    row["Achternaam"] = serde_json::json!(format!("Nieuw{id}"));
    row["Email_werk"] = serde_json::json!(format!("noor.{id}@grandhotels.example"));
    row["Begindatum_contract"] = serde_json::json!("2026-11-01T00:00:00Z");
    rows.push(row);
    std::fs::write(&path, serde_json::to_string_pretty(&export).unwrap()).unwrap();
}

/// Review = apply: on merge the action applies what the pull request's plan showed, applies the
/// HR change that arrived since within the limits and lists it apart, and says so on the pull
/// request. The artifact is fetched with the token sent to GitHub only, not to blob storage.
#[test]
fn apply_on_merge_applies_the_reviewed_plan_and_comments_applied() {
    let api = FakeGitHub::start();
    let runner = Runner::new(&api);
    let (ws, _origin, sha) = reviewed_pull_request(&api, &runner);
    hire(ws.path(), "4999");
    let run = runner.run(
        ws.path(),
        &[
            ("INPUT_CONFIG", "config"),
            ("INPUT_COMMAND", "apply"),
            ("GITHUB_SHA", &sha),
            ("GITHUB_EVENT_NAME", "push"),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.report());
    assert!(
        run.stdout
            .contains("applying the plan reviewed in pull request #7"),
        "{}",
        run.report()
    );
    assert!(
        run.stdout.contains("Arrived since the review") && run.stdout.contains("invite 4999"),
        "{}",
        run.report()
    );
    let applied = api
        .comments()
        .into_iter()
        .find(|(_, b)| b.contains("<!-- orgsync:applied:config -->"))
        .unwrap_or_else(|| panic!("no Applied comment: {:?}", api.comments()));
    assert!(applied.1.contains("**Applied:**"), "{}", applied.1);
    assert!(
        applied
            .1
            .contains("arrived since the review (within the safety limits): 1 invite"),
        "{}",
        applied.1
    );
    assert!(!applied.1.contains("noor."), "{}", applied.1);
    let blob = api
        .requests()
        .into_iter()
        .find(|r| r.path.starts_with("/blob/"))
        .expect("the artifact was downloaded");
    assert!(
        !blob
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("authorization")),
        "the token went to blob storage: {blob:?}"
    );
    assert!(run.summary.contains("**Applied:**"), "{}", run.report());
    assert_no_secrets(&run, &api);
}

/// Review = apply: a configuration that is not the reviewed one (another change landed between
/// the review and the merge) is not applied, and the workspace stays as it was.
#[test]
fn apply_on_merge_refuses_a_configuration_other_than_the_reviewed_one() {
    let api = FakeGitHub::start();
    let runner = Runner::new(&api);
    let (ws, _origin, _) = reviewed_pull_request(&api, &runner);
    let communities = ws.path().join("config/communities.yaml");
    let text = std::fs::read_to_string(&communities).unwrap();
    std::fs::write(
        &communities,
        text.replace(
            r#"{ source: "1005", name: Den Haag"#,
            r#"{ source: "1015", name: Den Haag"#,
        ),
    )
    .unwrap();
    git(ws.path(), &["commit", "-q", "-am", "another change"]);
    let sha = git(ws.path(), &["rev-parse", "HEAD"]).trim().to_owned();
    api.merged_pull_request(&sha);
    api.add_artifact(4242, "orgsync-plan-config", &{
        // The comment still names run 4242: the same artifact, reviewed before the change.
        let d = tempfile::tempdir().unwrap().keep();
        let zip = &api.state.lock().unwrap().artifacts[0].2.clone();
        std::fs::write(d.join("a.zip"), zip).unwrap();
        let out = Command::new("python3")
            .args(["-m", "zipfile", "-e", "a.zip", "."])
            .current_dir(&d)
            .output()
            .unwrap();
        assert!(out.status.success());
        std::fs::remove_file(d.join("a.zip")).unwrap();
        d
    });
    let before = std::fs::read_to_string(ws.path().join("config/workspace.json")).unwrap();
    // The nightly on the same commit (a schedule, `reviewed: auto`) is not held to the pull
    // request: it plans and applies within the limits. Checked first, on a copy.
    let copy = tempfile::tempdir().unwrap();
    git(
        copy.path(),
        &["clone", "-q", ws.path().to_str().unwrap(), "."],
    );
    for f in ["hr-export.json", "workspace.json"] {
        std::fs::copy(
            ws.path().join("config").join(f),
            copy.path().join("config").join(f),
        )
        .unwrap();
    }
    let nightly = runner.run(
        copy.path(),
        &[
            ("INPUT_CONFIG", "config"),
            ("INPUT_COMMAND", "apply"),
            ("GITHUB_SHA", &sha),
            ("GITHUB_EVENT_NAME", "schedule"),
            ("ORGSYNC_PUSH_NOTES", "false"),
        ],
    );
    assert_eq!(nightly.code, 0, "{}", nightly.report());
    assert!(
        !nightly.stdout.contains("reviewed in pull request"),
        "{}",
        nightly.report()
    );

    let run = runner.run(
        ws.path(),
        &[
            ("INPUT_CONFIG", "config"),
            ("INPUT_COMMAND", "apply"),
            ("GITHUB_SHA", &sha),
            ("GITHUB_EVENT_NAME", "push"),
        ],
    );
    assert_eq!(run.code, 1, "{}", run.report());
    assert!(
        run.stdout.contains("is not the one reviewed"),
        "{}",
        run.report()
    );
    let after = std::fs::read_to_string(ws.path().join("config/workspace.json")).unwrap();
    assert_eq!(before, after, "nothing was applied");
}

/// `reviewed: required` fails when the commit came from no pull request; nothing is applied.
#[test]
fn apply_with_review_required_fails_without_a_pull_request() {
    let api = FakeGitHub::start();
    let runner = Runner::new(&api);
    runner.on_push();
    let ws = workspace_with(&repo().join("examples/quickstart"));
    let _origin = clone_with_origin(ws.path());
    let sha = git(ws.path(), &["rev-parse", "HEAD"]).trim().to_owned();
    let before = std::fs::read_to_string(ws.path().join("config/workspace.json")).unwrap();
    let run = runner.run(
        ws.path(),
        &[
            ("INPUT_CONFIG", "config"),
            ("INPUT_COMMAND", "apply"),
            ("INPUT_REVIEWED", "required"),
            ("GITHUB_SHA", &sha),
        ],
    );
    assert_eq!(run.code, 1, "{}", run.report());
    assert!(
        run.stderr.contains("was not merged from a pull request")
            || run.stdout.contains("was not merged from a pull request"),
        "{}",
        run.report()
    );
    let after = std::fs::read_to_string(ws.path().join("config/workspace.json")).unwrap();
    assert_eq!(before, after, "nothing was applied");
}

/// A fake release of the built orgsync for `target`: the archive as scripts/release-build.sh
/// lays it out, and its .sha256.
fn fake_release(target: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let version = env!("CARGO_PKG_VERSION");
    let name = format!("orgsync-v{version}-{target}");
    let stage = dir.path().join("stage").join(&name);
    std::fs::create_dir_all(&stage).unwrap();
    std::fs::copy(
        assert_cmd::cargo::cargo_bin("orgsync"),
        stage.join("orgsync"),
    )
    .unwrap();
    let archive = format!("{name}.tar.gz");
    let out = Command::new("tar")
        .arg("-C")
        .arg(dir.path().join("stage"))
        .args(["-czf", &format!("../{archive}"), &name])
        .current_dir(dir.path().join("stage"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("sha256sum")
        .arg(&archive)
        .current_dir(dir.path())
        .output()
        .unwrap();
    std::fs::write(dir.path().join(format!("{archive}.sha256")), out.stdout).unwrap();
    dir
}

fn install(release: &Path, env: &[(&str, &str)]) -> (std::process::Output, tempfile::TempDir) {
    let dest = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("bash");
    cmd.arg(repo().join("scripts/install-orgsync.sh"))
        .env("ORGSYNC_VERSION", format!("v{}", env!("CARGO_PKG_VERSION")))
        .env("ORGSYNC_TARGET", "x86_64-unknown-linux-musl")
        .env(
            "ORGSYNC_RELEASE_URL",
            format!("file://{}", release.display()),
        )
        .env("ORGSYNC_INSTALL_DIR", dest.path())
        .env("GITHUB_PATH", dest.path().join("github-path"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    (cmd.output().expect("bash runs"), dest)
}

/// The action's install: the release archive is checked against its SHA-256 before the binary
/// is installed, and the installed binary is the version asked for.
#[test]
fn install_verifies_the_checksum_and_installs_the_release() {
    let release = fake_release("x86_64-unknown-linux-musl");
    let (out, dest) = install(release.path(), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{stderr}{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let installed = dest.path().join("orgsync");
    let version = Command::new(&installed).arg("--version").output().unwrap();
    assert!(
        String::from_utf8_lossy(&version.stdout)
            .starts_with(&format!("orgsync {}", env!("CARGO_PKG_VERSION")))
    );
    let path = std::fs::read_to_string(dest.path().join("github-path")).unwrap();
    assert_eq!(path.trim(), dest.path().to_str().unwrap());
}

/// A tampered archive (or a wrong pinned `sha256`) installs nothing and fails the step.
#[test]
fn install_refuses_an_archive_whose_checksum_does_not_match() {
    let release = fake_release("x86_64-unknown-linux-musl");
    let archive = release.path().join(format!(
        "orgsync-v{}-x86_64-unknown-linux-musl.tar.gz",
        env!("CARGO_PKG_VERSION")
    ));
    let pinned = "0".repeat(64);
    let (out, dest) = install(release.path(), &[("ORGSYNC_SHA256", &pinned)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("checksum mismatch"));
    assert!(!dest.path().join("orgsync").exists());

    let mut bytes = std::fs::read(&archive).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&archive, bytes).unwrap();
    let (out, dest) = install(release.path(), &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("checksum mismatch"));
    assert!(!dest.path().join("orgsync").exists());
}

/// A fresh clone of `origin`'s `branch`, with the identity the example workflows set.
fn fresh_clone(origin: &Path, branch: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    git(
        dir.path(),
        &["clone", "-q", "-b", branch, origin.to_str().unwrap(), "."],
    );
    git(dir.path(), &["config", "user.name", "github-actions[bot]"]);
    git(dir.path(), &["config", "user.email", "bot@example.com"]);
    dir
}

/// Regression (issue 20): `orgsync init`'s kit broke after its first CI apply: its file target
/// was written on the runner only while the apply record was pushed, so the next fresh checkout
/// failed ("the target lists 0 managed accounts, but the apply of … left 3"). Now the whole
/// cycle works, each step on a fresh clone: init → pull-request plan → merge → apply (which
/// commits the file target back) → the nightly, which plans no changes.
#[test]
fn the_init_kit_works_through_a_whole_ci_cycle_on_fresh_clones() {
    let api = FakeGitHub::start();
    let origin = tempfile::tempdir().unwrap();
    git(origin.path(), &["init", "-q", "--bare", "-b", "main"]);

    // The repository: `orgsync init orgsync` at its root, committed with `git add -A`.
    let start = tempfile::tempdir().unwrap();
    git(start.path(), &["init", "-q", "-b", "main"]);
    git(start.path(), &["config", "user.name", "someone"]);
    git(
        start.path(),
        &["config", "user.email", "someone@example.com"],
    );
    crate::common::orgsync_in(start.path(), &["init", "orgsync"]).assert_code(0);
    git(start.path(), &["add", "-A"]);
    let files = git(start.path(), &["ls-files"]);
    assert!(files.contains("orgsync/.gitignore"), "{files}");
    assert!(!files.contains(".lock"), "{files}");
    git(start.path(), &["commit", "-q", "-m", "orgsync init"]);
    git(
        start.path(),
        &["remote", "add", "origin", origin.path().to_str().unwrap()],
    );
    git(start.path(), &["push", "-q", "origin", "main"]);

    // A pull request on a fresh clone: map the function F-STOCK.
    let pr = fresh_clone(origin.path(), "main");
    git(pr.path(), &["checkout", "-q", "-b", "map-stock"]);
    let functions = pr.path().join("orgsync/functions.yaml");
    let text = std::fs::read_to_string(&functions).unwrap();
    std::fs::write(
        &functions,
        text.replace(
            "    - { source: F-OPS, target: Operations }\n",
            "    - { source: F-OPS, target: Operations }\n    - { source: F-STOCK, target: Stock }\n",
        ),
    )
    .unwrap();
    git(pr.path(), &["commit", "-q", "-am", "map F-STOCK"]);
    git(pr.path(), &["push", "-q", "origin", "map-stock"]);
    let runner = Runner::new(&api);
    let plan = runner.run(
        pr.path(),
        &[("INPUT_CONFIG", "orgsync"), ("INPUT_BASE_REF", "main")],
    );
    assert_eq!(plan.code, 0, "{}", plan.report());
    assert_eq!(plan.output("has-changes"), "true");
    let body = &plan_comments(&api, "orgsync")[0].2;
    assert!(body.contains("what this pull request changes"), "{body}");
    api.add_artifact(
        4242,
        "orgsync-plan-orgsync",
        Path::new(plan.output("artifact-dir")),
    );

    // The merge, and the apply on a fresh clone of main.
    git(pr.path(), &["checkout", "-q", "main"]);
    git(
        pr.path(),
        &["merge", "-q", "--no-ff", "-m", "Merge #7", "map-stock"],
    );
    git(pr.path(), &["push", "-q", "origin", "main"]);
    let merge = git(pr.path(), &["rev-parse", "HEAD"]).trim().to_owned();
    api.merged_pull_request(&merge);
    runner.on_push();
    let ci = fresh_clone(origin.path(), "main");
    let apply = runner.run(
        ci.path(),
        &[
            ("INPUT_CONFIG", "orgsync"),
            ("INPUT_COMMAND", "apply"),
            ("INPUT_REVIEWED", "required"),
            ("GITHUB_SHA", &merge),
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_REF_NAME", "main"),
        ],
    );
    assert_eq!(apply.code, 0, "{}", apply.report());
    assert!(
        apply
            .stdout
            .contains("applying the plan reviewed in pull request #7"),
        "{}",
        apply.report()
    );
    assert!(
        apply
            .stdout
            .contains("committed and pushed orgsync/workspace.json to main"),
        "{}",
        apply.report()
    );
    let log = git(origin.path(), &["log", "--format=%s", "main"]);
    assert!(
        log.starts_with("orgsync: the file target after the apply of "),
        "{log}"
    );
    assert!(log.lines().next().unwrap().ends_with("[skip ci]"), "{log}");
    let tracked = git(origin.path(), &["ls-tree", "-r", "--name-only", "main"]);
    assert!(tracked.contains("orgsync/workspace.json"), "{tracked}");
    assert!(!tracked.contains(".lock"), "{tracked}");
    let notes = git(origin.path(), &["notes", "--ref", "orgsync", "list"]);
    assert!(!notes.trim().is_empty(), "the apply record is pushed");

    // What went wrong before: a checkout without the committed file target (the merge commit
    // itself) has the apply's record but not its file, and the target guard refuses it.
    let stale = fresh_clone(origin.path(), "main");
    git(stale.path(), &["checkout", "-q", &merge]);
    let refused = runner.run(
        stale.path(),
        &[
            ("INPUT_CONFIG", "orgsync"),
            ("INPUT_COMMAND", "apply"),
            ("GITHUB_EVENT_NAME", "schedule"),
            ("ORGSYNC_PUSH_NOTES", "false"),
        ],
    );
    assert_eq!(refused.code, 1, "{}", refused.report());
    assert!(
        refused
            .summary
            .contains("the target lists 0 managed accounts, but the apply of"),
        "{}",
        refused.report()
    );

    // The next nightly, on a fresh clone: the target is what the apply left, nothing to do.
    let nightly_clone = fresh_clone(origin.path(), "main");
    let nightly = runner.run(
        nightly_clone.path(),
        &[
            ("INPUT_CONFIG", "orgsync"),
            ("INPUT_COMMAND", "apply"),
            ("GITHUB_EVENT_NAME", "schedule"),
            ("GITHUB_REF_NAME", "main"),
        ],
    );
    assert_eq!(nightly.code, 0, "{}", nightly.report());
    assert_eq!(
        nightly.output("has-changes"),
        "false",
        "{}",
        nightly.report()
    );
    assert_eq!(nightly.output("summary"), "no changes");
    assert!(
        !nightly.stdout.contains("committed"),
        "nothing to commit back: {}",
        nightly.report()
    );
    assert_no_secrets(&plan, &api);
    assert_no_secrets(&apply, &api);
    assert_no_secrets(&nightly, &api);
}
