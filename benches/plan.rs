//! Plan engine benchmark: `cargo bench --bench plan [-- SIZES]` (default 10000 100000 1000000).
//!
//! For each size, in a fresh child process (so peak memory is that size's own): generate a
//! sandbox (config, source export, target workspace with churn), then time
//! - `parse`: parsing the two data files with serde_json (into `IgnoredAny`, and into `Value`);
//! - `plan`: everything `orgsync plan` does before printing — load and validate the configuration,
//!   read and map the source, read the target, digests, and the plan itself;
//!
//! and report wall times, the ratio plan/parse, and the process's peak resident memory (VmHWM).
//! Each timing is the best of several runs (one run at 1M people).

#![allow(clippy::print_stdout)] // a benchmark prints its report

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use orgsync::config;
use orgsync::connectors::file_source::FileSource;
use orgsync::connectors::file_target::FileTarget;
use orgsync::connectors::{Source, Target};
use orgsync::plan::{self, Digests, PlanInput, digest};
use orgsync::sandbox::generate::{DEFAULT_TODAY, GenerateOptions, generate, write};

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
    let sizes: Vec<usize> = if args.is_empty() {
        vec![10_000, 100_000, 1_000_000]
    } else {
        args.iter()
            .map(|a| a.parse().expect("sizes are numbers"))
            .collect()
    };
    println!(
        "{:>9}  {:>11}  {:>11}  {:>9}  {:>8}  {:>10}  {:>9}",
        "people", "parse(any)", "parse(Value)", "plan", "ratio", "peak RSS", "actions"
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
        let parse = child("parse", dir.path(), runs);
        let plan = child("plan", dir.path(), runs);
        let p: Vec<f64> = parse
            .split_whitespace()
            .map(|v| v.parse().expect("number"))
            .collect();
        let q: Vec<f64> = plan
            .split_whitespace()
            .map(|v| v.parse().expect("number"))
            .collect();
        println!(
            "{:>9}  {:>9.0}ms  {:>10.0}ms  {:>7.0}ms  {:>7.2}x  {:>6.0} MiB  {:>9}",
            size,
            p[0],
            p[1],
            q[0],
            q[0] / p[1],
            q[1],
            q[2]
        );
    }
}

fn child(mode: &str, dir: &Path, runs: usize) -> String {
    let out = Command::new(std::env::current_exe().expect("bench binary"))
        .env("ORGSYNC_BENCH_CHILD", mode)
        .env("ORGSYNC_BENCH_DIR", dir)
        .env("ORGSYNC_BENCH_RUNS", runs.to_string())
        .output()
        .expect("run child");
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
    println!("{} {}", ms(parse_any), ms(parse_value));
}

fn plan_child(dir: &Path, runs: usize) {
    let (plan_time, actions) = best(runs, || run_plan(dir));
    println!("{} {} {}", ms(plan_time), peak_rss_mib(), actions);
}

fn run_plan(dir: &Path) -> usize {
    let config = config::load_dir(dir).expect("valid sandbox config");
    let config::SourceConfig::File(source_cfg) = &config.source else {
        unreachable!("sandbox uses files")
    };
    let source = FileSource::new(dir, source_cfg).fetch().expect("source");
    let target = FileTarget::new(&dir.join("workspace.json"))
        .fetch()
        .expect("target");
    let digests = Digests {
        config: config.digest.clone(),
        config_commit: None,
        source: digest::of_json(&source),
        target: digest::of_json(&target),
    };
    let today = DEFAULT_TODAY;
    let plan = plan::build(PlanInput {
        config: &config,
        source: &source,
        target: &target,
        today,
        created_at: String::new(),
        digests,
    });
    plan.actions.len()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}
