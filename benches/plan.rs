//! Plan benchmark: `cargo bench --bench plan [-- SIZES]` (default 10000 100000 1000000).
//!
//! For each size: generate a sandbox (`orgsync sandbox generate`: configuration, source export and
//! target workspace with realistic churn), then, each in a fresh process:
//! - `parse`: only parsing the same two files with serde_json — into `IgnoredAny` (syntax only),
//!   into plain typed rows (`Vec<Row>` + `TargetSnapshot`, what any sync script must at least do),
//!   and into `serde_json::Value`;
//! - `plan`: the real release binary, `orgsync plan -C DIR --at DATE --format json`, timed from
//!   spawn to exit (configuration, both fetches, digests, the plan, the JSON output), with its peak
//!   resident memory from `/usr/bin/time -f %M`.
//!
//! `ratio` is plan time over the typed parse. Timings are the best of several runs (one at 1M).
//!
//! `ORGSYNC_BENCH_BASELINE=/path/to/an/older/orgsync` adds a row per size for that binary, timed
//! in the same run on the same data (the two alternate, run by run): a before/after comparison
//! on a noisy machine.

#![allow(clippy::print_stdout)] // a benchmark prints its report

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use orgsync_sandbox::generate::{DEFAULT_TODAY, GenerateOptions, generate, write};

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if let Ok(mode) = std::env::var("ORGSYNC_BENCH_CHILD") {
        let dir = std::path::PathBuf::from(std::env::var("ORGSYNC_BENCH_DIR").expect("dir"));
        let runs: usize = std::env::var("ORGSYNC_BENCH_RUNS")
            .expect("runs")
            .parse()
            .expect("runs");
        match mode.as_str() {
            "parse" => parse_child(&dir, runs),
            _ => plan_child(&dir, runs),
        }
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this file without it: then a
    // small smoke run checks that the benchmark still works, without taking minutes.
    let bench = std::env::args().any(|a| a == "--bench");
    let sizes: Vec<usize> = if !args.is_empty() {
        args.iter()
            .map(|a| a.parse().expect("sizes are numbers"))
            .collect()
    } else if bench {
        vec![10_000, 100_000, 1_000_000]
    } else {
        vec![2_000]
    };
    println!(
        "{:>9}  {:>10}  {:>11}  {:>11}  {:>9}  {:>7}  {:>10}  {:>8}",
        "people",
        "parse(any)",
        "parse(typed)",
        "parse(Value)",
        "plan",
        "ratio",
        "peak RSS",
        "actions"
    );
    for size in sizes {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), &generate(&GenerateOptions::new(size, 42))).expect("write sandbox");
        let runs = if size >= 1_000_000 {
            1
        } else if size >= 100_000 {
            5
        } else {
            10
        };
        let parse = child("parse", dir.path(), runs, None);
        let baseline = std::env::var("ORGSYNC_BENCH_BASELINE").ok();
        let (plan, before) = match &baseline {
            // One run of each at a time, alternating, so that the machine's noise hits both.
            Some(bin) => {
                let (mut now, mut then) = (Vec::new(), Vec::new());
                for _ in 0..runs {
                    now.push(child("plan", dir.path(), 1, None));
                    then.push(child("plan", dir.path(), 1, Some(bin)));
                }
                (best_of(&now), Some(best_of(&then)))
            }
            None => (child("plan", dir.path(), runs, None), None),
        };
        let p: Vec<f64> = parse
            .split_whitespace()
            .map(|v| v.parse().expect("number"))
            .collect();
        let q: Vec<f64> = plan
            .split_whitespace()
            .map(|v| v.parse().expect("number"))
            .collect();
        println!(
            "{:>9}  {:>8.0}ms  {:>9.0}ms  {:>9.0}ms  {:>7.0}ms  {:>6.2}x  {:>6.0} MiB  {:>8}",
            size,
            p[0],
            p[1],
            p[2],
            q[0],
            q[0] / p[1],
            q[1],
            q[2]
        );
        if let Some(before) = before {
            let b: Vec<f64> = before
                .split_whitespace()
                .map(|v| v.parse().expect("number"))
                .collect();
            println!(
                "{:>9}  {:>8}    {:>9}    {:>9}    {:>7.0}ms  {:>6.2}x  {:>6.0} MiB  {:>8}  (baseline binary; this one is {:.1}% {})",
                "",
                "",
                "",
                "",
                b[0],
                b[0] / p[1],
                b[1],
                b[2],
                ((q[0] - b[0]) / b[0] * 100.0).abs(),
                if q[0] <= b[0] { "faster" } else { "slower" }
            );
        }
    }
}

/// The best (fastest) of several `plan` child outputs (`ms MiB actions`), with the largest
/// peak memory seen.
fn best_of(outputs: &[String]) -> String {
    let rows: Vec<Vec<f64>> = outputs
        .iter()
        .map(|o| {
            o.split_whitespace()
                .map(|v| v.parse().expect("number"))
                .collect()
        })
        .collect();
    let ms = rows.iter().map(|r| r[0]).fold(f64::MAX, f64::min);
    let mib = rows.iter().map(|r| r[1]).fold(0.0, f64::max);
    format!("{ms} {mib} {}", rows[0][2])
}

fn child(mode: &str, dir: &Path, runs: usize, bin: Option<&str>) -> String {
    let mut cmd = Command::new(std::env::current_exe().expect("bench binary"));
    cmd.env("ORGSYNC_BENCH_CHILD", mode)
        .env("ORGSYNC_BENCH_DIR", dir)
        .env("ORGSYNC_BENCH_RUNS", runs.to_string());
    match bin {
        Some(bin) => cmd.env("ORGSYNC_BENCH_BIN", bin),
        None => cmd.env_remove("ORGSYNC_BENCH_BIN"),
    };
    let out = cmd.output().expect("run child");
    assert!(
        out.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn best<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        let v = f();
        best = best.min(start.elapsed());
        last = Some(v);
    }
    (best, last.expect("at least one run"))
}

fn parse_child(dir: &Path, runs: usize) {
    let src = dir.join("source.json");
    let tgt = dir.join("workspace.json");
    let (parse_any, ()) = best(runs, || {
        let a = std::fs::read(&src).expect("read");
        let b = std::fs::read(&tgt).expect("read");
        let _: serde::de::IgnoredAny = serde_json::from_slice(&a).expect("json");
        let _: serde::de::IgnoredAny = serde_json::from_slice(&b).expect("json");
    });
    let (parse_value, ()) = best(runs, || {
        let a = std::fs::read(&src).expect("read");
        let b = std::fs::read(&tgt).expect("read");
        let _: serde_json::Value = serde_json::from_slice(&a).expect("json");
        let _: serde_json::Value = serde_json::from_slice(&b).expect("json");
    });
    let (parse_typed, ()) = best(runs, || {
        let a = std::fs::read(&src).expect("read");
        let b = std::fs::read(&tgt).expect("read");
        let _: Vec<Row> = serde_json::from_slice(&a).expect("json");
        let _: orgsync_core::model::TargetSnapshot = serde_json::from_slice(&b).expect("json");
    });
    println!("{} {} {}", ms(parse_any), ms(parse_typed), ms(parse_value));
}

/// One source row as a plain serde struct: what any sync script must at least do with the export.
#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Row {
    id: Option<String>,
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    start: Option<String>,
    end: Option<String>,
    community: Option<String>,
    community_name: Option<String>,
    function: Option<String>,
    function_name: Option<String>,
    department: Option<String>,
    department_name: Option<String>,
    manager: Option<String>,
}

/// Runs the real `orgsync plan` binary (release build) under `/usr/bin/time`, which reports the
/// process's peak resident memory. Prints: best wall time in ms, peak RSS in MiB, action count.
fn plan_child(dir: &Path, runs: usize) {
    let bin = std::env::var("ORGSYNC_BENCH_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_orgsync").to_owned());
    let bin = bin.as_str();
    let at = DEFAULT_TODAY.to_string();
    let mut best_ms = f64::MAX;
    let mut peak_kib = 0u64;
    let mut actions = 0usize;
    for _ in 0..runs {
        let start = Instant::now();
        let out = Command::new("/usr/bin/time")
            .args(["-f", "%M", bin, "plan", "-C"])
            .arg(dir)
            .args(["--at", &at, "--format", "json"])
            .env("NO_COLOR", "1")
            .output()
            .expect("/usr/bin/time runs orgsync");
        best_ms = best_ms.min(ms(start.elapsed()));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "orgsync plan failed: {stderr}");
        peak_kib = peak_kib.max(
            stderr
                .lines()
                .last()
                .and_then(|l| l.trim().parse().ok())
                .unwrap_or(0),
        );
        let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON plan");
        actions = plan["actions"].as_array().map_or(0, Vec::len);
    }
    println!("{best_ms} {} {actions}", peak_kib / 1024);
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
