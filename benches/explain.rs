//! Explain benchmark: `cargo bench --bench explain [-- SIZES]` (default 100000).
//!
//! For each size: generate a sandbox (as `benches/plan.rs` does), then time, best of several
//! runs, for a sample of people (the slowest of them counts). The runs take turns (a plan, then
//! each person's explain, again and again), so that a slow phase of a shared machine slows both
//! sides of a ratio, not one:
//! - `engine`: on the same configuration, source and target already in memory, the plan engine
//!   over everyone (`plan::build`) against `explain::explain_person` for one person (the people
//!   and accounts linked to them, then their part of the plan);
//! - `files`: in this process, what each command does from the files: `plan` reads the export
//!   and the workspace whole and plans; `explain` streams both for each row's keys and groups
//!   (`Source::part`, `Target::part`), reads the linked rows and accounts again and explains;
//! - `CLI`: the release binaries `orgsync plan --format json` and `orgsync explain ID`
//!   (configuration, reads, the work, the output), from spawn to exit.
//!
//! `ratio` is explain over plan. `ORGSYNC_BENCH_PARTS=1` also prints each sampled person's time;
//! `ORGSYNC_BENCH_BIN=PATH` times another build of orgsync in the `CLI` row (an earlier commit's,
//! to compare).

#![allow(clippy::print_stdout)] // a benchmark prints its report

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use orgsync_connectors::file_source::FileSource;
use orgsync_connectors::file_target::FileTarget;
use orgsync_core::config::{Config, SourceConfig, TargetConfig};
use orgsync_core::connector::{Source, Target, TargetCapabilities};
use orgsync_core::explain::explain_linked;
use orgsync_core::focus::read_linked;
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
    let runs = if bench { 9 } else { 1 };
    println!(
        "{:>9}  {:>7}  {:>9}  {:>9}  {:>7}",
        "people", "", "plan", "explain", "ratio"
    );
    for size in sizes {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), &generate(&GenerateOptions::new(size, 42))).expect("write sandbox");
        let (config, source, target) = read(dir.path());
        let capabilities = FileTarget::new(dir.path()).capabilities();
        let today = DEFAULT_TODAY;
        let plan = build(input(&config, &source, &target, &capabilities));
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
        let (plan_time, explain_time) = in_turns(
            "in the engine",
            runs,
            &sample,
            || {
                build(input(&config, &source, &target, &capabilities));
            },
            |id| {
                orgsync_core::explain::explain_person(
                    input(&config, &source, &target, &capabilities),
                    id,
                )
                .expect("explained");
            },
        );
        // From the files, in this process.
        let (plan_files, explain_files) = in_turns(
            "from the files",
            runs,
            &sample,
            || {
                let (config, source, target) = read(dir.path());
                build(input(&config, &source, &target, &capabilities));
            },
            |id| {
                let config = orgsync_repo::load_dir(dir.path()).expect("a valid configuration");
                let (SourceConfig::File(s), TargetConfig::File(t)) =
                    (&config.source, &config.target)
                else {
                    panic!("the sandbox reads and writes files")
                };
                let source = FileSource::new(dir.path(), s)
                    .part()
                    .expect("the source")
                    .expect("a JSON export is skimmed");
                let target = FileTarget::for_config(dir.path(), t)
                    .expect("the target")
                    .part()
                    .expect("the target")
                    .expect("a workspace is skimmed");
                let linked = read_linked(source.as_ref(), target.as_ref(), id).expect("read");
                let input = input(&config, &linked.source, &linked.target, &capabilities);
                explain_linked(input, &linked, source.is_empty(), id).expect("explained");
            },
        );

        let at = today.to_string();
        let dir_arg = dir.path().to_str().expect("a UTF-8 path");
        let cli_sample: Vec<&str> = sample.iter().step_by(3).copied().collect();
        let (cli_plan, cli_explain) = in_turns(
            "from the command line",
            runs,
            &cli_sample,
            || cli(&["plan", "-C", dir_arg, "--at", &at, "--format", "json"]),
            |id| cli(&["explain", id, "-C", dir_arg, "--at", &at]),
        );
        for (what, plan, explain) in [
            ("engine", plan_time, explain_time),
            ("files", plan_files, explain_files),
            ("CLI", cli_plan, cli_explain),
        ] {
            println!(
                "{:>9}  {:>7}  {:>7.1}ms  {:>7.1}ms  {:>6.3}x",
                size,
                what,
                ms(plan),
                ms(explain),
                ms(explain) / ms(plan),
            );
        }
    }
}

/// The plan's input on `DEFAULT_TODAY`, with no records and no previous configuration.
fn input<'a>(
    config: &'a Config,
    source: &'a SourceSnapshot,
    target: &'a TargetSnapshot,
    capabilities: &'a TargetCapabilities,
) -> PlanInput<'a> {
    PlanInput {
        config,
        source,
        target,
        today: DEFAULT_TODAY,
        created_at: String::new(),
        digests: Digests::default(),
        recorded: None,
        capabilities,
        previous: None,
        placed: None,
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

/// One run of the release binary with `args`, which must succeed.
fn cli(args: &[&str]) {
    let bin = std::env::var_os("ORGSYNC_BENCH_BIN")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_orgsync").into());
    let out = Command::new(bin)
        .args(args)
        .env("NO_COLOR", "1")
        .env("GIT_CEILING_DIRECTORIES", "/")
        .output()
        .expect("orgsync runs");
    assert!(
        out.status.success(),
        "orgsync {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The best time of `runs` runs of `plan`, and the slowest of the best times of `runs` runs of
/// `explain` for each of `ids`. The runs take turns: a plan, then each explain, `runs` times.
fn in_turns(
    what: &str,
    runs: usize,
    ids: &[&str],
    mut plan: impl FnMut(),
    mut explain: impl FnMut(&str),
) -> (Duration, Duration) {
    let timed = |f: &mut dyn FnMut()| {
        let start = Instant::now();
        f();
        start.elapsed()
    };
    let mut plan_best = Duration::MAX;
    let mut explain_best = vec![Duration::MAX; ids.len()];
    for _ in 0..runs {
        plan_best = plan_best.min(timed(&mut || plan()));
        for (best, id) in explain_best.iter_mut().zip(ids) {
            *best = (*best).min(timed(&mut || explain(id)));
        }
    }
    if std::env::var_os("ORGSYNC_BENCH_PARTS").is_some() {
        for (id, t) in ids.iter().zip(&explain_best) {
            println!("  {id}: {:.1}ms {what}", ms(*t));
        }
    }
    (
        plan_best,
        explain_best.into_iter().max().unwrap_or_default(),
    )
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
