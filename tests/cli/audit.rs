//! `orgsync audit` (issue 22): a year of history built for real — weekly applies of changing
//! sandbox data with `--at`, mapping changes merged from branches and applied with their review
//! records, one `--allow-removals` override, one apply killed half-way — and the report's figures
//! checked against what the test did. The CSVs are read with Python's `csv` module and compared
//! with the JSON; the JSON is checked against its schema with check-jsonschema.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use jiff::ToSpan;
use jiff::civil::Date;
use serde_json::{Value, json};

use crate::common::repo;

const REVIEWER: &str = "Rita Reviewer";
const PROPOSER: &str = "Alice Author";
const MERGER: &str = "Mia Merger";
const NIGHTLY: &str = "nightly-bot";
const OPERATOR: &str = "olga-operator";
const MAX_LAG: i64 = 5;

/// Runs orgsync in `dir` as `actor` (GITHUB_ACTOR).
fn orgsync(dir: &Path, actor: &str, args: &[&str]) -> (i32, String, String) {
    let out = command(dir, actor, args).output().expect("orgsync runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn command(dir: &Path, actor: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("orgsync"));
    cmd.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("GIT_CEILING_DIRECTORIES", repo())
        .env("GITHUB_ACTOR", actor)
        .env_remove("ORGSYNC_REMOTE")
        .env_remove("RUST_LOG");
    cmd
}

fn ok(dir: &Path, actor: &str, args: &[&str]) -> String {
    let (code, out, err) = orgsync(dir, actor, args);
    assert_eq!(code, 0, "orgsync {args:?}:\n{out}\n{err}");
    out
}

/// git in `dir` as `who`, dated `day` 10:00 UTC.
fn git(dir: &Path, who: &str, day: Date, args: &[&str]) -> String {
    let date = format!("{day}T10:00:00+00:00");
    let email = format!(
        "{}@example.com",
        who.split(' ').next().unwrap().to_lowercase()
    );
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CEILING_DIRECTORIES", repo())
        .env("GIT_AUTHOR_NAME", who)
        .env("GIT_AUTHOR_EMAIL", &email)
        .env("GIT_COMMITTER_NAME", who)
        .env("GIT_COMMITTER_EMAIL", &email)
        .env("GIT_AUTHOR_DATE", &date)
        .env("GIT_COMMITTER_DATE", &date)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The source people, as `source.json` rows.
struct Source {
    path: PathBuf,
    rows: Vec<Value>,
}

impl Source {
    fn save(&self) {
        std::fs::write(
            &self.path,
            serde_json::to_string_pretty(&self.rows).unwrap(),
        )
        .unwrap();
    }

    fn end(&mut self, id: &str, end: Date) {
        let row = self.rows.iter_mut().find(|r| r["id"] == id).unwrap();
        row["end"] = json!(end.to_string());
    }

    fn hire(&mut self, id: &str, start: Date, email: Option<&str>) {
        let mut row = self.rows[0].clone();
        row["id"] = json!(id);
        row["email"] = json!(email);
        row["first_name"] = json!(format!("Firstname{id}"));
        row["last_name"] = json!(format!("Lastname{id}"));
        row["start"] = json!(start.to_string());
        row["end"] = Value::Null;
        row["manager"] = Value::Null;
        self.rows.push(row);
    }
}

/// What the test did, to check the report against.
#[derive(Default)]
struct Truth {
    /// subject → (end date, removal day).
    leavers: BTreeMap<String, (Date, Date)>,
    /// subject → (start date, invite day).
    joiners: BTreeMap<String, (Date, Date)>,
    /// (pull request, the day it was merged and applied).
    merges: Vec<(u64, Date)>,
    /// The direct commit's day.
    direct: Option<Date>,
    /// The day of the override.
    override_day: Option<Date>,
    /// The day of the killed apply.
    killed_day: Option<Date>,
}

/// A bare remote whose pre-receive hook waits while `block` exists (touching `waiting`): an
/// apply that pushes its `started` record there stops right after writing it.
fn blocking_remote(root: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let remote = root.join("remote.git");
    let (block, waiting) = (root.join("block"), root.join("waiting"));
    let out = Command::new("git")
        .args(["init", "-q", "--bare", remote.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let hook = remote.join("hooks/pre-receive");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\ncat >/dev/null\nif [ -f '{b}' ]; then touch '{w}'; while [ -f '{b}' ]; do sleep 0.05; done; rm -f '{w}'; fi\nexit 0\n",
            b = block.display(),
            w = waiting.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    (remote, block, waiting)
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Toggles one function between two function groups: a real mapping change.
fn toggle_mapping(functions: &Path, to_kitchen: bool) {
    let text = std::fs::read_to_string(functions).unwrap();
    let (from, to) = (r#"["F-WAIT", "F-BAR", "F-BARI""#, r#"["F-WAIT", "F-BARI""#);
    let (kitchen, kitchen_bar) = (
        r#"["F-CDP", "F-COOK", "F-DISH"]"#,
        r#"["F-CDP", "F-COOK", "F-DISH", "F-BAR"]"#,
    );
    let text = if to_kitchen {
        assert!(text.contains(from) && text.contains(kitchen), "{text}");
        text.replace(from, to).replace(kitchen, kitchen_bar)
    } else {
        assert!(text.contains(to) && text.contains(kitchen_bar), "{text}");
        text.replace(to, from).replace(kitchen_bar, kitchen)
    };
    std::fs::write(functions, text).unwrap();
}

/// A generated organisation of people employed on `d0` (so that every later invite and removal
/// is one a test made), an empty file target, the limits opened except `max_removals` (20%),
/// `max_removal_lag_days`, committed in a new repository.
fn setup(root: &Path, d0: Date) -> (PathBuf, Source) {
    let cfg = root.join("cfg");
    let (code, _, err) = orgsync(
        root,
        NIGHTLY,
        &[
            "sandbox",
            "generate",
            "--people",
            "160",
            "--today",
            &d0.to_string(),
            "--out",
            cfg.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    std::fs::remove_file(cfg.join("workspace.json")).unwrap();
    let path = cfg.join("source.json");
    let rows: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let day0 = d0.to_string();
    let mut rows: Vec<Value> = rows
        .into_iter()
        .filter(|r| {
            r["end"].is_null()
                && r["start"].as_str().is_some_and(|s| s <= day0.as_str())
                && r["email"].is_string()
        })
        .collect();
    let ids: BTreeSet<String> = rows
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    let mut emails = BTreeSet::new();
    rows.retain(|r| emails.insert(r["email"].as_str().unwrap().to_lowercase()));
    for r in &mut rows {
        if !r["manager"].as_str().is_some_and(|m| ids.contains(m)) {
            r["manager"] = Value::Null;
        }
    }
    let source = Source { path, rows };
    source.save();
    let yaml_path = cfg.join("orgsync.yaml");
    let yaml = std::fs::read_to_string(&yaml_path).unwrap();
    let yaml = yaml
        .replace(
            "  max_removals: \"20%\"\n",
            "  max_removals: \"20%\"\n  max_invites: unlimited\n  max_moves: unlimited\n  max_updates: unlimited\n  max_anonymizations: unlimited\n  first_sync_invites: 10000\n",
        )
        .replace(
            "  retention_days: 30\n",
            &format!("  retention_days: 30\n  max_removal_lag_days: {MAX_LAG}\n"),
        );
    assert!(yaml.contains("max_removal_lag_days") && yaml.contains("max_anonymizations"));
    std::fs::write(&yaml_path, yaml).unwrap();
    std::fs::write(cfg.join(".gitignore"), "source.json\nworkspace.json\n").unwrap();
    git(&cfg, MERGER, d0, &["init", "-q", "-b", "main"]);
    git(&cfg, MERGER, d0, &["add", "-A"]);
    git(
        &cfg,
        MERGER,
        d0,
        &["commit", "-q", "-m", "orgsync configuration"],
    );
    (cfg, source)
}

/// Builds the year; returns the temporary root, the configuration directory and what was done.
fn build_year() -> (tempfile::TempDir, PathBuf, Truth) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_owned();
    let d0: Date = "2025-01-06".parse().unwrap();
    let (cfg, mut source) = setup(&root, d0);
    let yaml_path = cfg.join("orgsync.yaml");
    let (remote, block, waiting) = blocking_remote(&root);
    git(
        &cfg,
        MERGER,
        d0,
        &["remote", "add", "origin", remote.to_str().unwrap()],
    );
    git(&cfg, MERGER, d0, &["push", "-q", "origin", "main"]);

    let at = |d: Date| d.to_string();
    ok(&cfg, NIGHTLY, &["apply", "--auto-approve", "--at", &at(d0)]);

    let mut truth = Truth::default();
    let mut active: Vec<String> = source
        .rows
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    active.reverse(); // leavers are taken from the end
    let mut pr = 0;
    let mut to_kitchen = true;
    for w in 1..=52i64 {
        let day = d0.checked_add((7 * w).days()).unwrap();
        // One leaver a week, their last day 1–4 days ago; every ninth week HR enters it late
        // (12 days ago: over the policy); in week 20 forty people leave at once (an override).
        let leaving = if w == 20 { 40 } else { 1 };
        for _ in 0..leaving {
            let id = active.pop().expect("people left to leave");
            let back = if w == 20 {
                1
            } else if w % 9 == 0 {
                12
            } else {
                1 + w % 4
            };
            let end = day.checked_sub(back.days()).unwrap();
            source.end(&id, end);
            truth.leavers.insert(id, (end, day));
        }
        // One joiner a week: starting in 3 days (invited ahead), or, every third week, entered
        // 2 days after the start.
        let id = format!("9{w:05}");
        let start = if w % 3 == 0 {
            day.checked_sub(2.days()).unwrap()
        } else {
            day.checked_add(3.days()).unwrap()
        };
        source.hire(&id, start, Some(&format!("joiner{w}@sandbox.example")));
        truth.joiners.insert(id, (start, day));
        if w == 3 {
            // Held from now on: no e-mail address to invite.
            source.hire("800003", day, None);
        }
        source.save();

        if [5, 18, 31, 44].contains(&w) {
            // A mapping change on a branch, its plan reviewed, merged with the approver's
            // trailer, and applied with the review record.
            pr += 1;
            let branch = format!("mapping-{pr}");
            let before = day.checked_sub(1.days()).unwrap();
            git(&cfg, PROPOSER, before, &["checkout", "-q", "-b", &branch]);
            toggle_mapping(&cfg.join("functions.yaml"), to_kitchen);
            to_kitchen = !to_kitchen;
            git(
                &cfg,
                PROPOSER,
                before,
                &["commit", "-q", "-am", "Move F-BAR"],
            );
            let plan = root.join("plan.json");
            ok(
                &cfg,
                PROPOSER,
                &["plan", "--at", &at(day), "--out", plan.to_str().unwrap()],
            );
            let review = ok(
                &cfg,
                PROPOSER,
                &["show", plan.to_str().unwrap(), "--review-record"],
            );
            let review_path = root.join("review.json");
            std::fs::write(&review_path, review).unwrap();
            git(&cfg, MERGER, day, &["checkout", "-q", "main"]);
            let message = format!(
                "Merge pull request #{pr} from acme/{branch}\n\nMove F-BAR\n\nReviewed-by: {REVIEWER} <rita@example.com>"
            );
            git(
                &cfg,
                MERGER,
                day,
                &["merge", "-q", "--no-ff", "-m", &message, &branch],
            );
            ok(
                &cfg,
                MERGER,
                &[
                    "apply",
                    "--reviewed",
                    review_path.to_str().unwrap(),
                    "--at",
                    &at(day),
                ],
            );
            truth.merges.push((pr, day));
            continue;
        }
        if w == 40 {
            // A change committed straight to main: no pull request, no approver.
            let yaml = std::fs::read_to_string(&yaml_path).unwrap();
            std::fs::write(
                &yaml_path,
                yaml.replace("retention_days: 30\n", "retention_days: 31\n"),
            )
            .unwrap();
            git(
                &cfg,
                "Dave Direct",
                day,
                &["commit", "-q", "-am", "Retention 31 days"],
            );
            truth.direct = Some(day);
        }
        if w == 20 {
            let (code, out, err) = orgsync(
                &cfg,
                NIGHTLY,
                &["apply", "--auto-approve", "--at", &at(day)],
            );
            assert_ne!(code, 0, "forty removals are over the limit:\n{out}\n{err}");
            ok(
                &cfg,
                OPERATOR,
                &[
                    "apply",
                    "--auto-approve",
                    "--allow-removals",
                    "40",
                    "--at",
                    &at(day),
                ],
            );
            truth.override_day = Some(day);
            continue;
        }
        if w == 30 {
            // Killed half-way: the `started` record is written (and being pushed) when the
            // runner dies; the operator then runs the week again.
            std::fs::write(&block, "").unwrap();
            let mut child = command(
                &cfg,
                NIGHTLY,
                &["apply", "--auto-approve", "--at", &at(day)],
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
            wait_for("the started record's push", Duration::from_secs(60), || {
                waiting.exists()
            });
            child.kill().unwrap();
            child.wait().unwrap();
            std::fs::remove_file(&block).unwrap();
            wait_for("the hook to end", Duration::from_secs(20), || {
                !waiting.exists()
            });
            std::thread::sleep(Duration::from_millis(300));
            truth.killed_day = Some(day);
        }
        ok(
            &cfg,
            NIGHTLY,
            &["apply", "--auto-approve", "--at", &at(day)],
        );
    }
    (tmp, cfg, truth)
}

fn days(from: Date, to: Date) -> i64 {
    i64::from(from.until(to).unwrap().get_days())
}

fn date(v: &Value) -> Date {
    v.as_str().unwrap().parse().unwrap()
}

#[test]
fn a_year_of_applies_gives_the_auditor_every_leaver_change_and_override() {
    let (tmp, cfg, truth) = build_year();
    let root = tmp.path();
    let (from, to) = ("2025-01-07", "2026-01-05");
    let json_out = root.join("json");
    ok(
        &cfg,
        NIGHTLY,
        &[
            "audit",
            "--from",
            from,
            "--to",
            to,
            "--format",
            "json",
            "--out",
            json_out.to_str().unwrap(),
        ],
    );
    let text = std::fs::read_to_string(json_out.join("audit.json")).unwrap();
    let report: Value = serde_json::from_str(&text).unwrap();

    // Every leaver, with the right lag, and those over the policy.
    let leavers: BTreeMap<String, (Date, Date, i64)> = report["leavers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            assert_eq!(l["reason"], "contract_ended", "{l}");
            (
                l["subject"].as_str().unwrap().to_owned(),
                (
                    date(&l["end_date"]),
                    date(&l["removed_at"]),
                    l["lag_days"].as_i64().unwrap(),
                ),
            )
        })
        .collect();
    let expected: BTreeMap<String, (Date, Date, i64)> = truth
        .leavers
        .iter()
        .map(|(id, (end, day))| (id.clone(), (*end, *day, days(*end, *day))))
        .collect();
    assert_eq!(leavers, expected);
    assert_eq!(
        report["leavers"].as_array().unwrap().len(),
        truth.leavers.len(),
        "each once"
    );
    let over: BTreeSet<&str> = report["leavers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["over_policy"] == true)
        .map(|l| l["subject"].as_str().unwrap())
        .collect();
    let expected_over: BTreeSet<&str> = expected
        .iter()
        .filter(|(_, (_, _, lag))| *lag > MAX_LAG)
        .map(|(id, _)| id.as_str())
        .collect();
    assert_eq!(over.len(), 5, "weeks 9, 18, 27, 36, 45");
    assert_eq!(over, expected_over);
    assert_eq!(report["summary"]["leavers_over_policy"], 5);
    assert_eq!(report["summary"]["max_removal_lag_days"], 12);
    assert_eq!(report["policy"]["max_removal_lag_days"], MAX_LAG);

    // Every joiner, from the start date to the invite.
    let joiners: BTreeMap<String, (Date, Date, i64)> = report["joiners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["subject"].as_str().unwrap().to_owned(),
                (
                    date(&j["start_date"]),
                    date(&j["invited_at"]),
                    j["lag_days"].as_i64().unwrap(),
                ),
            )
        })
        .collect();
    let expected: BTreeMap<String, (Date, Date, i64)> = truth
        .joiners
        .iter()
        .map(|(id, (start, day))| (id.clone(), (*start, *day, days(*start, *day))))
        .collect();
    assert_eq!(joiners, expected);

    // Every configuration change with its pull request and approver, and the direct one
    // without.
    let changes = report["configuration_changes"].as_array().unwrap();
    assert_eq!(changes.len(), truth.merges.len() + 1, "{changes:#?}");
    for (pr, day) in &truth.merges {
        let c = changes
            .iter()
            .find(|c| c["pull_request"] == *pr)
            .unwrap_or_else(|| panic!("pull request #{pr} in {changes:#?}"));
        assert_eq!(c["approvers"], json!([REVIEWER]), "{c}");
        assert_eq!(c["approval_source"], "trailer");
        assert_eq!(c["proposer"], PROPOSER);
        assert_eq!(c["author"], MERGER);
        assert_eq!(c["files"], json!(["functions.yaml"]));
        assert_eq!(c["first_applied_at"], day.to_string(), "{c}");
        assert_eq!(
            c["first_applied_approval"], "reviewed",
            "applied as reviewed: {c}"
        );
        assert_eq!(c["first_applied_commit"], c["commit"], "{c}");
    }
    let direct = changes
        .iter()
        .find(|c| c["pull_request"].is_null())
        .unwrap();
    assert_eq!(direct["author"], "Dave Direct");
    assert_eq!(direct["approvers"], json!([]));
    assert_eq!(direct["files"], json!(["orgsync.yaml"]));
    assert_eq!(
        direct["first_applied_at"],
        truth.direct.unwrap().to_string()
    );
    assert_eq!(report["summary"]["changes_without_approval"], 1);

    // The applies: one a week, the override with its actor, the killed one.
    let applies = report["applies"].as_array().unwrap();
    assert_eq!(applies.len(), 52 + 1, "52 weeks and the killed apply");
    let overridden: Vec<&Value> = applies
        .iter()
        .filter(|a| !a["overrides"].as_object().unwrap().is_empty())
        .collect();
    assert_eq!(overridden.len(), 1, "{overridden:#?}");
    let o = overridden[0];
    assert_eq!(o["actor"], OPERATOR);
    assert_eq!(o["overrides"], json!({"allow_removals": 40}));
    assert_eq!(o["violations"], json!(["max_removals_percent"]));
    assert_eq!(o["at"], truth.override_day.unwrap().to_string());
    assert_eq!(o["planned"]["remove"], 40);
    let killed: Vec<&Value> = applies
        .iter()
        .filter(|a| a["outcome"] != "complete")
        .collect();
    assert_eq!(killed.len(), 1, "{killed:#?}");
    assert_eq!(killed[0]["outcome"], "killed");
    assert_eq!(killed[0]["at"], truth.killed_day.unwrap().to_string());
    assert_eq!(report["summary"]["applies_interrupted"], 1);
    let reviewed = applies
        .iter()
        .filter(|a| a["approval"] == "reviewed")
        .count();
    assert_eq!(reviewed, truth.merges.len());
    assert!(applies.iter().all(|a| a["record_version"] == 3));
    for (pr, day) in &truth.merges {
        let a = applies
            .iter()
            .find(|a| a["at"] == day.to_string() && a["approval"] == "reviewed")
            .unwrap();
        assert_eq!(a["pull_request"], *pr);
        assert!(
            a["reviewed_plan"].as_str().unwrap().starts_with("sha256:"),
            "{a}"
        );
    }

    // The exceptions: the person without an e-mail address, held every week from week 3, and
    // who went ahead with it.
    let held: Vec<&Value> = report["exceptions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["exception"] == "held" && x["code"] == "missing_email")
        .collect();
    assert_eq!(held.len(), 50, "one finished apply a week, weeks 3 to 52");
    assert!(
        held.iter().all(|x| x["subjects"] == json!(["800003"])),
        "{held:#?}"
    );
    assert!(held.iter().any(|x| x["accepted_by"] == OPERATOR));

    // The JSON passes its schema (check-jsonschema, a validator nobody here wrote).
    let schema = repo().join("schemas/audit.schema.json");
    let out = Command::new("check-jsonschema")
        .arg("--schemafile")
        .arg(&schema)
        .arg(json_out.join("audit.json"))
        .output()
        .expect("check-jsonschema on the PATH (.venv/bin)");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The CSVs, one per section, read by Python's csv module, match the JSON.
    let csv_out = root.join("csv");
    ok(
        &cfg,
        NIGHTLY,
        &[
            "audit",
            "--from",
            from,
            "--to",
            to,
            "--format",
            "csv",
            "--out",
            csv_out.to_str().unwrap(),
        ],
    );
    let check = r#"
import csv, json, sys
report = json.load(open(sys.argv[1], encoding="utf-8"))
def cell(v):
    if v is None: return ""
    if isinstance(v, bool): return "true" if v else "false"
    if isinstance(v, str): return v
    if isinstance(v, list): return "; ".join(cell(x) for x in v)
    if isinstance(v, dict): return "; ".join(f"{k}={cell(x)}" for k, x in v.items())
    return str(v)
for section in ["configuration_changes", "applies", "leavers", "joiners", "exceptions"]:
    with open(f"{sys.argv[2]}/{section}.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    want = report[section]
    assert len(rows) == len(want), (section, len(rows), len(want))
    for got, row in zip(rows, want):
        assert list(got) == list(row), (section, list(got), list(row))
        for k, v in row.items():
            assert got[k] == cell(v), (section, k, got[k], v)
    print(section, len(rows))
"#;
    let out = Command::new("python3")
        .args(["-c", check])
        .arg(json_out.join("audit.json"))
        .arg(&csv_out)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // One person's lifecycle: invited in week 0, removed when their contract ended.
    let (leaver, (end, removed)) = truth.leavers.iter().next().unwrap();
    let person = ok(
        &cfg,
        NIGHTLY,
        &["audit", "--person", leaver, "--format", "json"],
    );
    let person: Value = serde_json::from_str(&person).unwrap();
    let events: Vec<(String, String)> = person["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_owned(),
                e["at"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        events.first().unwrap(),
        &("invite".to_owned(), "2025-01-06".to_owned())
    );
    let remove = person["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "remove")
        .unwrap();
    assert_eq!(remove["at"], removed.to_string());
    assert_eq!(remove["since"], end.to_string());
    assert_eq!(remove["reason"], "contract_ended");

    // No personal data in any output without --show-pii; names with it.
    let md = ok(&cfg, NIGHTLY, &["audit", "--from", from, "--to", to]);
    assert!(
        md.contains("## Leavers") && md.contains("over policy"),
        "{md}"
    );
    let source: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(cfg.join("source.json")).unwrap()).unwrap();
    let mut outputs = vec![md, text, ok(&cfg, NIGHTLY, &["audit", "--person", leaver])];
    for section in [
        "configuration_changes",
        "applies",
        "leavers",
        "joiners",
        "exceptions",
    ] {
        outputs.push(std::fs::read_to_string(csv_out.join(format!("{section}.csv"))).unwrap());
    }
    for p in &source {
        for field in ["email", "first_name", "last_name"] {
            let Some(value) = p[field].as_str() else {
                continue;
            };
            for o in &outputs {
                assert!(!o.contains(value), "{field} {value} in an audit output");
            }
        }
    }
    let leaver_row = source.iter().find(|p| p["id"] == leaver.as_str()).unwrap();
    let name = format!(
        "{} {}",
        leaver_row["first_name"].as_str().unwrap(),
        leaver_row["last_name"].as_str().unwrap()
    );
    let shown = ok(
        &cfg,
        NIGHTLY,
        &["audit", "--from", from, "--to", to, "--show-pii"],
    );
    assert!(shown.contains(&name), "--show-pii names {name}");
}

/// Regression (a refused apply lifted the limit for the next one): an apply refused over a
/// safety limit recorded that it started, before the limit was checked; the next plan read that
/// start as a killed apply and finished its removals without counting them against the limit.
#[test]
fn a_refused_unsafe_apply_records_nothing_and_the_next_is_refused_too() {
    let tmp = tempfile::tempdir().unwrap();
    let d0: Date = "2025-01-06".parse().unwrap();
    let (cfg, mut source) = setup(tmp.path(), d0);
    ok(
        &cfg,
        NIGHTLY,
        &["apply", "--auto-approve", "--at", "2025-01-06"],
    );
    let ids: Vec<String> = source
        .rows
        .iter()
        .take(40)
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    for id in &ids {
        source.end(id, "2025-01-10".parse().unwrap());
    }
    source.save();
    let notes = || {
        git(
            &cfg,
            MERGER,
            d0,
            &["notes", "--ref", "orgsync", "show", "HEAD"],
        )
    };
    let before = notes();
    for attempt in 0..2 {
        let (code, out, err) = orgsync(
            &cfg,
            NIGHTLY,
            &["apply", "--auto-approve", "--at", "2025-01-13"],
        );
        assert_eq!(
            code, 1,
            "attempt {attempt}: over max_removals, refused:\n{out}\n{err}"
        );
        assert!(
            err.contains("max_removals") || out.contains("max_removals"),
            "{err}"
        );
        assert_eq!(
            notes(),
            before,
            "attempt {attempt}: a refused apply records nothing"
        );
    }
}

/// A one-request-at-a-time HTTP server answering every request with `body` (JSON); returns its
/// base URL and the requests seen (request line and Authorization header).
fn reviews_server(body: &'static str) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = std::sync::Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = Vec::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if head.is_empty() || lower.starts_with("authorization:") {
                    head.push(line.trim().to_owned());
                }
            }
            log.lock().unwrap().push(head.join(" | "));
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, seen)
}

/// With `--github`, a pull request's approvers are its approving reviews on GitHub: the newest
/// deciding review of each reviewer counts, a comment decides nothing.
#[test]
fn approvers_are_read_from_the_pull_requests_reviews_on_github() {
    let tmp = tempfile::tempdir().unwrap();
    let d0: Date = "2025-01-06".parse().unwrap();
    let (cfg, _) = setup(tmp.path(), d0);
    let day: Date = "2025-02-03".parse().unwrap();
    git(&cfg, PROPOSER, day, &["checkout", "-q", "-b", "mapping"]);
    toggle_mapping(&cfg.join("functions.yaml"), true);
    git(&cfg, PROPOSER, day, &["commit", "-q", "-am", "Move F-BAR"]);
    git(&cfg, MERGER, day, &["checkout", "-q", "main"]);
    git(
        &cfg,
        MERGER,
        day,
        &[
            "merge",
            "-q",
            "--no-ff",
            "-m",
            "Merge pull request #17 from acme/mapping",
            "mapping",
        ],
    );
    let (url, seen) = reviews_server(
        r#"[{"user":{"login":"rita"},"state":"APPROVED"},
            {"user":{"login":"bob"},"state":"COMMENTED"},
            {"user":{"login":"carl"},"state":"APPROVED"},
            {"user":{"login":"carl"},"state":"CHANGES_REQUESTED"},
            {"user":{"login":"rita"},"state":"COMMENTED"}]"#,
    );
    let token = "ghs_audit-canary-token-0123456789";
    let args = [
        "audit",
        "--from",
        "2025-02-01",
        "--to",
        "2025-02-28",
        "--format",
        "json",
        "--github",
    ];
    let out = command(&cfg, NIGHTLY, &args)
        .env("GITHUB_TOKEN", token)
        .env("GITHUB_REPOSITORY", "acme/people")
        .env("GITHUB_API_URL", &url)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let changes = report["configuration_changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert_eq!(changes[0]["pull_request"], 17);
    assert_eq!(changes[0]["approvers"], json!(["rita"]));
    assert_eq!(changes[0]["approval_source"], "github");
    assert_eq!(
        *seen.lock().unwrap(),
        [format!(
            "GET /repos/acme/people/pulls/17/reviews?per_page=100 HTTP/1.1 | authorization: Bearer {token}"
        )]
    );
    assert!(!stdout.contains(token) && !stderr.contains(token));
    // Without the token, nothing is asked and nothing is guessed.
    let out = command(&cfg, NIGHTLY, &args)
        .env_remove("GITHUB_TOKEN")
        .env("GITHUB_REPOSITORY", "acme/people")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("GITHUB_TOKEN"));
}
