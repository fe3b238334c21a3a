//! Explain benchmark: `cargo bench --bench explain [-- SIZES]` (default 100000).
//!
//! For each size: generate a sandbox (as `benches/plan.rs` does), read its configuration, source
//! and target once, then time in this process, on the same inputs:
//! - `plan`: the plan engine over everyone (`plan::build`), what `orgsync plan` computes;
//! - `explain`: `explain::explain` for one person, what `orgsync explain` computes after the same
//!   reads — for a sample of people, the slowest of them;
//!
//! and, end to end, the release binaries `orgsync plan --format json` and `orgsync explain ID`
//! (configuration, both reads, the work, the output), timed from spawn to exit.
//!
//! `ratio` is explain over plan. Timings are the best of several runs. `ORGSYNC_BENCH_PARTS=1`
//! also times the parts explain still computes over everyone: scope, mapping and account
//! matching.

#![allow(clippy::print_stdout)] // a benchmark prints its report

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use orgsync_connectors::file_source::FileSource;
use orgsync_connectors::file_target::FileTarget;
use orgsync_core::config::{Config, SourceConfig, TargetConfig};
use orgsync_core::connector::{Source, Target};
use orgsync_core::model::{SourceSnapshot, TargetSnapshot};
use orgsync_core::plan::{PlanInput, build};
use orgsync_core::vocabulary::Digests;
use orgsync_sandbox::generate::{DEFAULT_TODAY, GenerateOptions, generate, write};

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    // `cargo test --all-targets` runs this without `--bench`: a small smoke run.
    let bench = std::env::args().any(|a| a == "--bench");
    let sizes: Vec<usize> = if !args.is_empty() {
        args.iter()
            .map(|a| a.parse().expect("sizes are numbers"))
            .collect()
    } else if bench {
        vec![100_000]
    } else {
        vec![2_000]
    };
    let runs = if bench { 5 } else { 1 };
    println!(
        "{:>9}  {:>9}  {:>9}  {:>7}  {:>12}  {:>12}  {:>7}",
        "people", "plan", "explain", "ratio", "plan (CLI)", "explain (CLI)", "ratio"
    );
    for size in sizes {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), &generate(&GenerateOptions::new(size, 42))).expect("write sandbox");
        let (config, source, target) = read(dir.path());
        let capabilities = FileTarget::new(dir.path()).capabilities();
        let today = DEFAULT_TODAY;
        let (plan_time, plan) = best(runs, || {
            build(PlanInput {
                config: &config,
                source: &source,
                target: &target,
                today,
                created_at: String::new(),
                digests: Digests::default(),
                recorded: None,
                capabilities: &capabilities,
                previous: None,
                placed: None,
            })
        });
        // A sample across the source: people planned for and people left as they are.
        let sample: Vec<&str> = source
            .persons
            .iter()
            .step_by((source.persons.len() / 7).max(1))
            .map(|p| p.id.as_str())
            .chain(
                plan.actions
                    .iter()
                    .filter(|a| matches!(a.kind().as_str(), "invite" | "move" | "remove"))
                    .take(3)
                    .map(|a| a.subject.as_str()),
            )
            .collect();
        if std::env::var_os("ORGSYNC_BENCH_PARTS").is_some() {
            let (t_scope, scope) = best(runs, || {
                orgsync_core::scope::resolve(&config, &source, today)
            });
            let (t_mapping, mapping) = best(runs, || {
                orgsync_core::mapping::resolve(&config, &target, &scope)
            });
            let (t_matching, _) = best(runs, || {
                orgsync_core::identity::Matching::of_scope(&config, &target.accounts, &scope, today)
            });
            drop(mapping);
            println!(
                "parts: scope {:.1}ms, mapping {:.1}ms, matching {:.1}ms",
                ms(t_scope),
                ms(t_mapping),
                ms(t_matching)
            );
        }
        let mut explain_time = Duration::ZERO;
        for id in &sample {
            let (t, e) = best(runs, || {
                orgsync_core::explain::explain_person(
                    PlanInput {
                        config: &config,
                        source: &source,
                        target: &target,
                        today,
                        created_at: String::new(),
                        digests: Default::default(),
                        recorded: None,
                        capabilities: &capabilities,
                        previous: None,
                        placed: None,
                    },
                    id,
                )
            });
            e.expect("explained");
            explain_time = explain_time.max(t);
        }
        let at = today.to_string();
        let dir_arg = dir.path().to_str().expect("a UTF-8 path");
        let cli_plan = cli(
            runs,
            &["plan", "-C", dir_arg, "--at", &at, "--format", "json"],
        );
        let cli_explain = cli(runs, &["explain", sample[1], "-C", dir_arg, "--at", &at]);
        println!(
            "{:>9}  {:>7.1}ms  {:>7.1}ms  {:>6.3}x  {:>10.0}ms  {:>11.0}ms  {:>6.2}x",
            size,
            ms(plan_time),
            ms(explain_time),
            ms(explain_time) / ms(plan_time),
            ms(cli_plan),
            ms(cli_explain),
            ms(cli_explain) / ms(cli_plan),
        );
    }
}

/// The configuration, source and target of the sandbox in `dir`.
fn read(dir: &Path) -> (Config, SourceSnapshot, TargetSnapshot) {
    let config = orgsync_repo::load_dir(dir).expect("a valid configuration");
    let SourceConfig::File(s) = &config.source else {
        panic!("the sandbox reads a file")
    };
    let TargetConfig::File(t) = &config.target else {
        panic!("the sandbox writes a file")
    };
    let source = FileSource::new(dir, s).fetch().expect("the source");
    let target = FileTarget::for_config(dir, t)
        .expect("the target")
        .fetch()
        .expect("the target");
    (config, source, target)
}

/// The best wall time of `runs` runs of the release binary with `args`.
fn cli(runs: usize, args: &[&str]) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..runs {
        let start = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_orgsync"))
            .args(args)
            .env("NO_COLOR", "1")
            .env("GIT_CEILING_DIRECTORIES", "/")
            .output()
            .expect("orgsync runs");
        best = best.min(start.elapsed());
        assert!(
            out.status.success(),
            "orgsync {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    best
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

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
