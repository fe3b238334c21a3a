//! Audit benchmark: `cargo bench --bench audit [-- PEOPLE]` (default 10000).
//!
//! Builds a configuration repository with a year of weekly applies recorded as git notes — a first
//! sync inviting everyone, then every week 1% leavers, 1% joiners and 0.5% moves, a configuration
//! change every four weeks (a pull request with its approver) — and times the real binary, `orgsync
//! audit -C DIR --from … --to …`, from spawn to exit, for each format (JSON, the CSV files,
//! Markdown): reading the notes and the history, the report and writing it. Best of 5 runs.
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) a small smoke run at 500 people.

#![allow(clippy::print_stdout)] // a benchmark prints its report

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use serde_json::json;

const WEEKS: i64 = 52;

fn git(dir: &Path, day: &str, args: &[&str]) -> String {
    let date = format!("{day}T10:00:00+00:00");
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CEILING_DIRECTORIES", dir.parent().unwrap_or(dir))
        .env("GIT_AUTHOR_NAME", "Alice Author")
        .env("GIT_AUTHOR_EMAIL", "alice@example.com")
        .env("GIT_COMMITTER_NAME", "Mia Merger")
        .env("GIT_COMMITTER_EMAIL", "mia@example.com")
        .env("GIT_AUTHOR_DATE", &date)
        .env("GIT_COMMITTER_DATE", &date)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn outcome(kind: &str, subject: usize, reason: Option<(&str, String)>) -> serde_json::Value {
    let mut o = json!({"kind": kind, "subject": subject.to_string(), "ok": true});
    if let Some((code, since)) = reason {
        o["reason"] = json!(code);
        o["since"] = json!(since);
    }
    o
}

/// Writes the repository: configuration commits and one apply record a week.
fn build(dir: &Path, people: usize) {
    let bin = env!("CARGO_BIN_EXE_orgsync");
    let cfg = dir.join("cfg");
    let out = Command::new(bin)
        .args([
            "sandbox",
            "generate",
            "--people",
            &people.to_string(),
            "--out",
        ])
        .arg(&cfg)
        .output()
        .expect("orgsync runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let d0: jiff::civil::Date = "2025-01-06".parse().unwrap();
    let day = |w: i64| {
        d0.checked_add(jiff::Span::new().days(7 * w))
            .unwrap()
            .to_string()
    };
    git(&cfg, &day(0), &["init", "-q", "-b", "main"]);
    git(&cfg, &day(0), &["add", "-A"]);
    git(
        &cfg,
        &day(0),
        &["commit", "-q", "-m", "orgsync configuration"],
    );
    let mut notes: Vec<(String, String)> = Vec::new();
    let mut next_id = people;
    let mut leaving = 0usize;
    for w in 0..WEEKS {
        if w > 0 && w % 4 == 0 {
            let path = cfg.join("functions.yaml");
            let mut text = std::fs::read_to_string(&path).unwrap();
            let _ = writeln!(text, "# reviewed change {w}");
            std::fs::write(&path, text).unwrap();
            git(
                &cfg,
                &day(w),
                &[
                    "commit",
                    "-q",
                    "-am",
                    &format!("Mapping change (#{w})\n\nReviewed-by: Rita Reviewer"),
                ],
            );
        }
        let mut outcomes = Vec::new();
        if w == 0 {
            for id in 0..people {
                outcomes.push(outcome(
                    "invite",
                    id,
                    Some(("joined", "2020-01-01".to_owned())),
                ));
            }
        } else {
            let end = d0
                .checked_add(jiff::Span::new().days(7 * w - 3))
                .unwrap()
                .to_string();
            for _ in 0..people / 100 {
                outcomes.push(outcome(
                    "remove",
                    leaving,
                    Some(("contract_ended", end.clone())),
                ));
                leaving += 1;
                outcomes.push(outcome("invite", next_id, Some(("joined", day(w)))));
                next_id += 1;
            }
            for i in 0..people / 200 {
                outcomes.push(outcome("move", leaving + 1000 + i, None));
            }
        }
        let record = json!({
            "record_version": 3, "time": format!("{}T02:17:00Z", day(w)), "actor": "nightly-bot",
            "config_dir": "", "config_commit": git(&cfg, &day(w), &["rev-parse", "HEAD"]),
            "plan_digest": format!("sha256:{w:064}"), "at": day(w), "orgsync_version": "0.1.0",
            "summary": {"invite": outcomes.iter().filter(|o| o["kind"] == "invite").count()},
            "succeeded": outcomes.len(), "failed": 0, "outcomes": outcomes,
            "target": "file:workspace.json", "managed_accounts": people,
            "approval": if w % 4 == 0 { "reviewed" } else { "auto_approve" },
            "held": {"missing_email": 3}, "held_subjects": {"missing_email": ["1", "2", "3"]},
        });
        let commit = record["config_commit"].as_str().unwrap().to_owned();
        match notes.last_mut() {
            Some((c, text)) if *c == commit => {
                text.push_str(&record.to_string());
                text.push('\n');
            }
            _ => notes.push((commit, record.to_string() + "\n")),
        }
    }
    for (commit, text) in notes {
        let file = dir.join("note.txt");
        std::fs::write(&file, text).unwrap();
        git(
            &cfg,
            "2026-01-05",
            &[
                "notes",
                "--ref",
                "orgsync",
                "add",
                "-f",
                "-F",
                file.to_str().unwrap(),
                &commit,
            ],
        );
    }
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let people: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .map(|a| a.parse().expect("PEOPLE is a number"))
        .unwrap_or(if bench { 10_000 } else { 500 });
    let runs = if bench { 5 } else { 1 };
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let start = Instant::now();
    build(tmp.path(), people);
    println!(
        "{people} people, {WEEKS} weekly applies: repository built in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    let cfg = tmp.path().join("cfg");
    let bin = env!("CARGO_BIN_EXE_orgsync");
    println!("{:>9}  {:>10}", "format", "audit (ms)");
    for format in ["json", "csv", "markdown"] {
        let mut best = f64::MAX;
        for run in 0..runs {
            let out_dir = tmp.path().join(format!("out-{format}-{run}"));
            let t = Instant::now();
            let out = Command::new(bin)
                .args([
                    "audit",
                    "--from",
                    "2025-01-01",
                    "--to",
                    "2026-01-31",
                    "--format",
                    format,
                    "--out",
                ])
                .arg(&out_dir)
                .current_dir(&cfg)
                .env("GIT_CEILING_DIRECTORIES", tmp.path())
                .env("ORGSYNC_REMOTE", "none")
                .output()
                .expect("orgsync runs");
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            best = best.min(ms);
            if format == "json" && run == 0 {
                let report: serde_json::Value = serde_json::from_str(
                    &std::fs::read_to_string(out_dir.join("audit.json")).unwrap(),
                )
                .unwrap();
                let leavers = report["leavers"].as_array().unwrap().len();
                assert_eq!(
                    leavers,
                    (WEEKS as usize - 1) * (people / 100),
                    "every leaver"
                );
                println!(
                    "  ({} applies, {leavers} leavers, {} joiners, {} configuration changes)",
                    report["applies"].as_array().unwrap().len(),
                    report["joiners"].as_array().unwrap().len(),
                    report["configuration_changes"].as_array().unwrap().len()
                );
            }
        }
        println!("{format:>9}  {best:>10.0}");
    }
}
