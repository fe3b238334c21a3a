//! `orgsync apply`: execute a saved plan, or plan and apply in one step.

use crate::ExitStatus;
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use jiff::civil::Date;

use super::DirArg;
use super::RefArg;
use crate::pipeline::{self, Loaded};
use crate::render;
use orgsync_connectors::Interrupt;
use orgsync_core::apply::run::{ApplyOptions, ApplyReport, apply_reporting};
use orgsync_core::apply::verify::verify;
use orgsync_core::config::TargetConfig;
use orgsync_core::ledger::{ApplyRecord, ConfigCommit};
use orgsync_core::plan::safety::LimitKind;
use orgsync_core::vocabulary::Plan;
use orgsync_repo::lease::{self, Lease, LeaseError, LeaseOptions, Place};

/// Arguments of `apply`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A plan saved with `orgsync plan --out FILE`. Without it, orgsync plans and applies in one step.
    #[arg(value_name = "PLANFILE")]
    pub plan: Option<PathBuf>,
    #[command(flatten)]
    pub dir: DirArg,
    #[command(flatten)]
    pub git_ref: RefArg,
    /// Do not ask for confirmation (required, without a terminal, to plan and apply in one step).
    /// A saved plan is applied without a question: saving it and reviewing it was the approval,
    /// and orgsync refuses it unless it plans exactly that again.
    #[arg(long)]
    pub auto_approve: bool,
    /// Apply an unsafe plan anyway, whatever safety limits it breaks.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub allow: Allowances,
    /// Plan as if today were DATE (YYYY-MM-DD); also the date recorded as `removed_at`.
    #[arg(long, value_name = "DATE")]
    pub at: Option<Date>,
    /// Apply a plan file made from another configuration commit than the one being applied.
    #[arg(long)]
    pub allow_config_mismatch: bool,
    /// Do not record the apply as a git note (refs/notes/orgsync) on the configuration commit.
    #[arg(long)]
    pub no_record: bool,
    /// Review = apply: plan now and apply only if what reviewers saw still holds. FILE is the
    /// review record of the reviewed plan (`orgsync show PLANFILE --review-record`). The
    /// configuration must be the reviewed one; actions that arrived since the review (HR drift)
    /// are listed apart and applied only when, on their own, they stay within every safety
    /// limit. No question is asked: the review was the approval.
    #[arg(long, value_name = "FILE", conflicts_with = "plan")]
    pub reviewed: Option<PathBuf>,
    /// Write what the apply did, as counts (no names, no addresses), to FILE as JSON: for CI
    /// to report ("Applied: …").
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// How long to wait for another apply to the same target (another clone, runner or laptop)
    /// to finish, in seconds, before giving up. By default an apply gives up at once.
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub lock_timeout: u64,
}

/// One-off overrides of the safety limits, for the plan being applied only: each accepts up to N
/// changes of its kind over `safety.max_*`. A plan that makes more than N of them is still refused.
#[derive(Debug, clap::Args)]
pub struct Allowances {
    /// Accept up to N removals over `safety.max_removals`, for this plan.
    #[arg(long, value_name = "N")]
    pub allow_removals: Option<u64>,
    /// Accept up to N anonymizations over `safety.max_anonymizations`, for this plan.
    #[arg(long, value_name = "N")]
    pub allow_anonymizations: Option<u64>,
    /// Accept up to N moves over `safety.max_moves`, for this plan.
    #[arg(long, value_name = "N")]
    pub allow_moves: Option<u64>,
    /// Accept up to N moves that e-mail the person over `safety.max_notifying_moves`, for this plan.
    #[arg(long, value_name = "N")]
    pub allow_notifying_moves: Option<u64>,
    /// Accept up to N updates over `safety.max_updates`, for this plan.
    #[arg(long, value_name = "N")]
    pub allow_updates: Option<u64>,
    /// Accept up to N invites over `safety.max_invites`, for this plan.
    #[arg(long, value_name = "N")]
    pub allow_invites: Option<u64>,
    /// Accept up to N group removals over `safety.max_group_removals`, for this plan.
    #[arg(long, value_name = "N")]
    pub allow_group_removals: Option<u64>,
}

impl Allowances {
    /// The allowances given, by kind.
    fn by_kind(&self) -> BTreeMap<LimitKind, u64> {
        [
            (LimitKind::Removals, self.allow_removals),
            (LimitKind::Anonymizations, self.allow_anonymizations),
            (LimitKind::Moves, self.allow_moves),
            (LimitKind::NotifyingMoves, self.allow_notifying_moves),
            (LimitKind::Updates, self.allow_updates),
            (LimitKind::Invites, self.allow_invites),
            (LimitKind::GroupRemovals, self.allow_group_removals),
        ]
        .into_iter()
        .filter_map(|(k, n)| n.map(|n| (k, n)))
        .collect()
    }
}

/// Catches SIGINT and SIGTERM (Ctrl-C, a cancelled CI job, `timeout-minutes`). Before the apply
/// starts nothing has been written, so the first signal ends orgsync at once ([`until_interrupted`]
/// gives `main` the exit). During the apply the first signal only sets the returned flag: the
/// runner starts no new action, the actions in flight finish, what was done is written and
/// recorded. A second signal ends orgsync at once (signal-hook's conditional shutdown, inside the
/// signal handler itself).
fn catch_interrupts() -> anyhow::Result<(Interrupt, Arc<AtomicBool>)> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let interrupt = Interrupt::new();
    for (signal, code) in [(SIGINT, 130), (SIGTERM, 143)] {
        signal_hook::flag::register_conditional_shutdown(signal, code, interrupt.flag())
            .context("cannot catch interrupts")?;
        signal_hook::flag::register(signal, interrupt.flag()).context("cannot catch interrupts")?;
    }
    let applying = Arc::new(AtomicBool::new(false));
    let (watched, started) = (interrupt.clone(), Arc::clone(&applying));
    // A signal handler may not print: this thread says what happens once the apply runs.
    std::thread::spawn(move || {
        while !watched.is_set() {
            std::thread::sleep(Duration::from_millis(50));
        }
        if started.load(Ordering::SeqCst) {
            super::err(
                "\nInterrupt received: starting no new action; finishing those in flight and \
                 writing what was done (interrupt again to stop at once).\n",
            );
        }
    });
    Ok((interrupt, applying))
}

/// Runs `work` on a thread of its own until it is done or an interrupt comes, whichever is first.
/// Before the apply starts nothing has been written: the user should not wait for a fetch, a plan
/// or an answer they no longer want, so on an interrupt this returns `None` at once and the work
/// is abandoned (the process ends right after, through `main`).
fn until_interrupted<T: Send + 'static>(
    interrupt: &Interrupt,
    work: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let worker = std::thread::spawn(work);
    loop {
        if worker.is_finished() {
            return Some(
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            );
        }
        if interrupt.is_set() {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What an apply applies, once loaded, planned and checked.
struct Prepared {
    loaded: Loaded,
    plan: Plan,
    today: Date,
    review: Option<ReviewCounts>,
    lease: Lease,
    /// The plan's invites, restores and removals: reason codes and dates, for the record.
    reasons: Reasons,
}

/// Subject → (reason code, its date), from the source the plan was made from (see
/// [`orgsync_core::ledger::reason_of`]).
type Reasons = std::collections::HashMap<
    (orgsync_core::vocabulary::ActionKind, String),
    (String, Option<Date>),
>;

fn reasons(plan: &Plan, fetched: &pipeline::Fetched) -> Reasons {
    let wanted: std::collections::HashSet<&str> =
        plan.actions.iter().map(|a| a.subject.as_str()).collect();
    let persons: std::collections::HashMap<&str, &orgsync_core::model::Person> = fetched
        .source
        .persons
        .iter()
        .filter(|p| wanted.contains(p.id.as_str()))
        .map(|p| (p.id.as_str(), p))
        .collect();
    plan.actions
        .iter()
        .filter_map(|a| {
            let (code, since) = orgsync_core::ledger::reason_of(
                a.kind(),
                persons.get(a.subject.as_str()).copied(),
                plan.at,
            )?;
            Some(((a.kind(), a.subject.clone()), (code.to_owned(), since)))
        })
        .collect()
}

/// Takes the apply lease on the configuration's target: on the repository's remote, seen by
/// every clone and runner; without one (or `ORGSYNC_REMOTE=none`), a lock file in this clone.
/// Lost while applying (it lapsed and another apply took it), the apply stops as on an
/// interrupt.
fn take_lease(loaded: &Loaded, args: &Args, interrupt: &Interrupt) -> anyhow::Result<Lease> {
    let target = loaded.target_key();
    // A file target is the workspace in this checkout: another clone's apply writes its own
    // copy, so a lease across clones guards nothing there — and would need push access to the
    // remote (the quickstart in a clone of orgsync itself could not apply).
    let remote = match &loaded.config.target {
        TargetConfig::File(_) => None,
        _ => loaded.repo.as_deref().and_then(pipeline::remote),
    };
    let place = match (&remote, &loaded.repo) {
        (Some(remote), _) => Place::Remote(remote.clone()),
        (None, Some(repo)) => Place::Local(lease::lock_file(
            &repo.git_dir().join("orgsync").join("leases"),
            &target,
        )),
        (None, None) => {
            let dir = loaded
                .dir
                .canonicalize()
                .unwrap_or_else(|_| loaded.dir.clone());
            let key = lease::refname(&dir.display().to_string());
            let key = key.rsplit('/').next().unwrap_or_default();
            Place::Local(lease::lock_file(
                &std::env::temp_dir().join("orgsync-leases").join(key),
                &target,
            ))
        }
    };
    let options = LeaseOptions {
        holder: loaded
            .repo
            .as_ref()
            .and_then(|r| r.actor())
            .unwrap_or_else(|| "unknown".to_owned()),
        ttl: lease::DEFAULT_TTL,
        wait: Duration::from_secs(args.lock_timeout),
    };
    let flag = interrupt.flag();
    let lease = Lease::take(loaded.repo.clone(), place, &target, &options, move || {
        super::err(
            "\nThe apply lease lapsed and another apply took it: starting no new action; \
             finishing those in flight and writing what was done.\n",
        );
        flag.store(true, Ordering::SeqCst);
    })
    .map_err(|e| match e {
        e @ LeaseError::Held { .. } => anyhow::anyhow!(
            "{e}. Nothing was applied: run again when it is done{}",
            if args.lock_timeout == 0 {
                ", or wait for it with --lock-timeout SECONDS"
            } else {
                ""
            }
        ),
        e @ LeaseError::Remote(_) => anyhow::Error::new(e).context(
            "cannot take the apply lease, which keeps two applies to one target apart across \
             clones; nothing was applied (with no other clone or runner applying to this target, \
             ORGSYNC_REMOTE=none takes it in this clone only)",
        ),
        e => anyhow::Error::new(e).context("cannot take the apply lease; nothing was applied"),
    })?;
    tracing::info!(at = lease.location(), "took the apply lease");
    Ok(lease)
}

/// Loads the configuration, takes the apply lease, and makes the plan to apply under it: the
/// saved plan, checked against a re-plan, or a plan made now (printed), checked against the
/// review record with `--reviewed`.
fn prepare(args: &Args, interrupt: &Interrupt) -> anyhow::Result<Prepared> {
    let dir = &args.dir.dir;
    let loaded = pipeline::load(dir, args.git_ref.git_ref.as_deref())?;
    let lease = take_lease(&loaded, args, interrupt)?;
    let config = &loaded.config;
    let color = super::stdout_color();
    let mut review = None;
    let reasons_found;
    let (plan, today) = match &args.plan {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the plan {}", path.display()))?;
            let plan = read_plan(path, &text)?;
            if plan.format_version != orgsync_core::vocabulary::FORMAT_VERSION {
                bail!(
                    "{} has plan format {}; this orgsync reads format {}",
                    path.display(),
                    plan.format_version,
                    orgsync_core::vocabulary::FORMAT_VERSION
                );
            }
            let mismatch = check_config_commit(&plan, &loaded, args.allow_config_mismatch)?;
            let (trusted, fetched) = replan(&plan, &loaded, mismatch)?;
            let today = args.at.unwrap_or(plan.at);
            reasons_found = reasons(&trusted, &fetched);
            (trusted, today)
        }
        None => {
            let today = pipeline::today(config, args.at)?;
            let record = args
                .reviewed
                .as_deref()
                .map(read_review_record)
                .transpose()?;
            let fetched = pipeline::fetch(&loaded)?;
            // On merge, compare with the configuration the review compared with (the pull
            // request's base): the same causes, the same people e-mailed.
            let plan = match &record {
                Some(r) => pipeline::make_plan_as(
                    &loaded,
                    &fetched,
                    today,
                    r.previous_config_commit.as_deref(),
                ),
                None => pipeline::make_plan_for(&loaded, &fetched, today),
            };
            super::out(&render::text(&plan, &render::TextOptions { color }))?;
            if plan.has_errors() {
                bail!("the plan has errors (see the diagnostics above); nothing was applied");
            }
            if let Some(record) = &record {
                review = Some(check_reviewed(record, &plan, &fetched, config)?);
            }
            reasons_found = reasons(&plan, &fetched);
            (plan, today)
        }
    };
    Ok(Prepared {
        loaded,
        plan,
        today,
        review,
        lease,
        reasons: reasons_found,
    })
}

/// What the apply record says about the run beyond the plan and its outcomes (record version
/// 3): how the plan was approved, the overrides given, each subject's reason and its date.
struct RunFacts<'a> {
    /// This run's random identifier, in its `started` record and in the record of its end.
    run: String,
    approval: &'static str,
    reviewed_plan: Option<String>,
    overrides: BTreeMap<String, u64>,
    reasons: &'a Reasons,
}

impl<'a> RunFacts<'a> {
    fn of(args: &Args, review: Option<&ReviewCounts>, reasons: &'a Reasons) -> RunFacts<'a> {
        let approval = if args.reviewed.is_some() {
            "reviewed"
        } else if args.plan.is_some() {
            "plan_file"
        } else if args.auto_approve {
            "auto_approve"
        } else {
            "prompt"
        };
        let mut overrides: BTreeMap<String, u64> = args
            .allow
            .by_kind()
            .into_iter()
            .map(|(kind, n)| (kind.key().replacen("max_", "allow_", 1), n))
            .collect();
        if args.force {
            overrides.insert("force".to_owned(), 1);
        }
        use std::hash::{BuildHasher, Hasher};
        let run = format!(
            "{:016x}",
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
        );
        RunFacts {
            run,
            approval,
            reviewed_plan: review.map(|r| r.plan.clone()),
            overrides,
            reasons,
        }
    }

    fn fill(&self, record: &mut ApplyRecord) {
        record.run = Some(self.run.clone());
        record.approval = Some(self.approval.to_owned());
        record.reviewed_plan.clone_from(&self.reviewed_plan);
        record.overrides.clone_from(&self.overrides);
        for o in &mut record.outcomes {
            if let Some((code, since)) = self.reasons.get(&(o.kind, o.subject.clone())) {
                o.reason = Some(code.clone());
                o.since = *since;
            }
        }
    }
}

/// What main says when the apply was stopped before it started.
fn stopped_before_start() -> ExitStatus {
    super::err("\nInterrupt received before anything was applied: nothing was changed.\n");
    ExitStatus::Interrupted
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitStatus> {
    let (interrupt, applying) = catch_interrupts()?;
    let args = Arc::new(args);
    let prepared = {
        let (args, interrupt) = (Arc::clone(&args), interrupt.clone());
        until_interrupted(&interrupt.clone(), move || prepare(&args, &interrupt))
    };
    let Some(prepared) = prepared else {
        return Ok(stopped_before_start());
    };
    let Prepared {
        loaded,
        plan,
        today,
        review,
        lease,
        reasons,
    } = prepared?;
    let run = RunFacts::of(&args, review.as_ref(), &reasons);
    let color = super::stdout_color();
    if !plan.has_actions() {
        // Nothing to send, but candidates a person vouched for under `target.sent` are
        // recorded (their badges) all the same.
        if !args.no_record
            && let orgsync_core::config::TargetConfig::AfasApplicants(t) = &loaded.config.target
            && let Some(ledger) = &loaded.ledger
        {
            let ids = orgsync_connectors::afas_applicants::record_checks(t, ledger.as_ref())?;
            if !ids.is_empty() {
                super::out(&format!(
                    "Recorded as sent (target.sent, checked by a person): {}.\n",
                    ids.join(", ")
                ))?;
                share_records(&loaded);
            }
        }
        if plan.manual_steps.is_empty() {
            super::out("Nothing to apply.\n")?;
        } else {
            super::out(&format!(
                "Nothing for orgsync to apply; {} (see the plan). They are not done.\n",
                manual_left(&plan)
            ))?;
        }
        if let Some(path) = &args.report {
            write_report(path, &ApplyReport::default(), review.as_ref())?;
        }
        return Ok(ExitStatus::Success);
    }
    if args.plan.is_some() {
        super::out(&render::text(&plan, &render::TextOptions { color }))?;
    }
    // `terraform apply PLANFILE` asks nothing: the saved plan was the review (and `verify` has
    // just made sure it is what orgsync plans now). Planning and applying in one step asks.
    if !args.auto_approve && args.plan.is_none() && args.reviewed.is_none() {
        if !std::io::stdin().is_terminal() {
            bail!("not on a terminal: pass --auto-approve to apply without confirmation");
        }
        super::out("\nDo you want to apply these actions? Only 'yes' will be accepted: ")?;
        let answer = until_interrupted(&interrupt, || {
            let mut answer = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut answer)
                .map(|_| answer)
        });
        let Some(answer) = answer else {
            return Ok(stopped_before_start());
        };
        if answer?.trim() != "yes" {
            super::out("Apply cancelled.\n")?;
            return Ok(ExitStatus::Failure);
        }
    }

    let mut target = pipeline::open_target(&loaded)?;
    let opts = ApplyOptions {
        today,
        force: args.force,
        interrupt,
        allow: args.allow.by_kind(),
    };
    // A refused plan records nothing: its start would read as a killed apply, whose plan the
    // next one finishes without counting it against the safety limits.
    orgsync_core::apply::run::refusal(&plan, &opts)?;
    if !args.no_record {
        // Said before anything is done: a killed apply (kill -9, a lost runner) leaves this
        // record, and the next plan finishes its plan without counting it again.
        record_started(&loaded, &plan, &run)?;
    }
    applying.store(true, Ordering::SeqCst);
    // Each action as it finishes: a bar over all of them on a terminal, a line each in a CI log.
    let (progress, applying) =
        orgsync_connectors::progress::apply(plan.actions.len() as u64, true, super::json_logs());
    let result = apply_reporting(target.as_mut(), &plan, &opts, &progress);
    drop(applying);
    let report = match result {
        Err(e @ orgsync_core::apply::run::ApplyError::InterruptedBeforeStart) => {
            super::err(&format!("{e}.\n"));
            return Ok(ExitStatus::Interrupted);
        }
        result => result?,
    };
    let mut s = String::from("\n");
    for o in &report.outcomes {
        match &o.error {
            None => s.push_str(&format!("  ok      {} {}\n", o.kind.as_str(), o.subject)),
            Some(e) => s.push_str(&format!(
                "  {}  {} {}: {e}\n",
                if o.unconfirmed { "UNSURE" } else { "FAILED" },
                o.kind.as_str(),
                o.subject
            )),
        }
    }
    let ok = report.succeeded();
    let unsure = if report.unconfirmed > 0 {
        format!(
            ", {} unconfirmed (made or not, nobody can tell yet: never sent again blindly; the \
             next plan finds them or plans them again)",
            report.unconfirmed
        )
    } else {
        String::new()
    };
    if let Some(why) = &report.stopped {
        let left: Vec<String> = report
            .not_attempted
            .iter()
            .map(|(kind, n)| format!("{n} {}", kind.as_str()))
            .collect();
        s.push_str(&format!(
            "\nApply stopped: {why}. {ok} succeeded, {} failed{unsure}, {} not attempted ({}). \
             Give the token the right to write (or use one that has it) and apply again.\n",
            report.failed,
            report.not_attempted_count(),
            left.join(", ")
        ));
    } else if report.interrupted {
        let left: Vec<String> = report
            .not_attempted
            .iter()
            .map(|(kind, n)| format!("{n} {}", kind.as_str()))
            .collect();
        s.push_str(&format!(
            "\nInterrupt received: the apply stopped with {ok} succeeded, {} failed{unsure}, {} \
             not attempted ({}). What was done is written; plan again to see what is left, or \
             apply again to finish.\n",
            report.failed,
            report.not_attempted_count(),
            left.join(", ")
        ));
    } else {
        s.push_str(&format!(
            "\nApply complete: {ok} succeeded, {} failed{unsure}.\n",
            report.failed
        ));
    }
    if !plan.manual_steps.is_empty() {
        s.push_str(&format!(
            "Not done by orgsync: {} (listed in the plan).\n",
            manual_left(&plan)
        ));
    }
    super::out(&s)?;
    if let Some(path) = &args.report {
        write_report(path, &report, review.as_ref())?;
    }
    if args.no_record {
        super::err("Not recorded (--no-record).\n");
    } else {
        record(&loaded, &plan, &report, &run)?;
    }
    let lost = lease.lost();
    if let Err(e) = lease.release() {
        tracing::warn!("cannot release the apply lease (it lapses on its own): {e}");
    }
    if lost {
        super::err("The apply lease was lost during the apply; the apply stopped early.\n");
    }
    Ok(if report.interrupted {
        ExitStatus::Interrupted
    } else if report.failed > 0 || report.unconfirmed > 0 || report.stopped.is_some() {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

/// A plan file, read. A file that is a plan of this format but holds an action orgsync never
/// writes (a field its kind does not have, a value of the wrong type) was edited: it is refused as
/// such, like any other edit.
fn read_plan(path: &Path, text: &str) -> anyhow::Result<Plan> {
    let err = match serde_json::from_str::<Plan>(text) {
        Ok(plan) => return Ok(plan),
        Err(e) => e,
    };
    let looks_like_a_plan = serde_json::from_str::<serde_json::Value>(text).is_ok_and(|v| {
        v.get("format_version").and_then(serde_json::Value::as_u64)
            == Some(u64::from(orgsync_core::vocabulary::FORMAT_VERSION))
            && v.get("actions").is_some_and(serde_json::Value::is_array)
    });
    if looks_like_a_plan {
        let changed = orgsync_core::apply::verify::PlanMismatch::Changed {
            differences: vec![format!("an action orgsync does not write ({err})")],
        };
        return Err(changed.into());
    }
    Err(anyhow::Error::new(err).context(format!("{} is not an orgsync plan", path.display())))
}

/// What `--reviewed` found: the counts for the report.
#[derive(Debug, serde::Serialize)]
struct ReviewCounts {
    /// The reviewed plan's digest.
    plan: String,
    /// Actions planned now exactly as reviewed.
    reviewed: usize,
    /// Actions that arrived since the review, by kind.
    drift: BTreeMap<orgsync_core::vocabulary::ActionKind, usize>,
    /// Reviewed actions no longer planned.
    gone: usize,
}

/// Reads a review record (`--reviewed`).
fn read_review_record(path: &Path) -> anyhow::Result<orgsync_core::apply::reviewed::ReviewRecord> {
    use orgsync_core::apply::reviewed::ReviewRecord;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the review record {}", path.display()))?;
    ReviewRecord::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Applies `--reviewed`: the plan made now against the review record. Prints what was reviewed
/// and what arrived since (identifiers only); refuses another configuration and drift over the
/// safety limits.
fn check_reviewed(
    record: &orgsync_core::apply::reviewed::ReviewRecord,
    plan: &Plan,
    fetched: &pipeline::Fetched,
    config: &orgsync_core::config::Config,
) -> anyhow::Result<ReviewCounts> {
    use orgsync_core::apply::reviewed::compare;
    let cmp = compare(record, plan)?;
    let (accounts, groups) = orgsync_core::plan::safety::bases(&fetched.target);
    let drift_safety = cmp.drift_safety(config, accounts, groups);
    let mut s = format!(
        "\nReviewed plan {}: {} of its {} action(s) are planned now as reviewed.\n",
        record.plan,
        cmp.reviewed.len(),
        record.actions.len()
    );
    if cmp.drift.is_empty() {
        s.push_str("Nothing arrived since the review.\n");
    } else {
        s.push_str(&format!(
            "Arrived since the review (not reviewed; applied only within the safety limits): {}\n",
            count_words(&cmp.drift_counts())
        ));
        for a in &cmp.drift {
            s.push_str(&format!("  {} {}\n", a.kind().as_str(), a.subject));
        }
    }
    if !cmp.gone.is_empty() {
        s.push_str(&format!(
            "{} reviewed action(s) are no longer planned (done meanwhile, or changed since):\n",
            cmp.gone.len()
        ));
        for a in &cmp.gone {
            s.push_str(&format!("  {} {}\n", a.kind.as_str(), a.subject));
        }
    }
    super::out(&s)?;
    cmp.check_drift(&drift_safety)?;
    Ok(ReviewCounts {
        plan: record.plan.clone(),
        reviewed: cmp.reviewed.len(),
        drift: cmp.drift_counts(),
        gone: cmp.gone.len(),
    })
}

/// `2 invite, 1 remove`.
fn count_words(counts: &BTreeMap<orgsync_core::vocabulary::ActionKind, usize>) -> String {
    counts
        .iter()
        .map(|(k, n)| format!("{n} {}", k.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Writes `--report FILE`: counts only.
fn write_report(
    path: &Path,
    report: &ApplyReport,
    review: Option<&ReviewCounts>,
) -> anyhow::Result<()> {
    let mut applied: BTreeMap<orgsync_core::vocabulary::ActionKind, usize> = BTreeMap::new();
    let mut failed: BTreeMap<orgsync_core::vocabulary::ActionKind, usize> = BTreeMap::new();
    let mut unconfirmed: BTreeMap<orgsync_core::vocabulary::ActionKind, usize> = BTreeMap::new();
    for o in &report.outcomes {
        let into = if o.ok {
            &mut applied
        } else if o.unconfirmed {
            &mut unconfirmed
        } else {
            &mut failed
        };
        *into.entry(o.kind).or_insert(0) += 1;
    }
    let value = serde_json::json!({
        "applied": applied,
        "failed": failed,
        "unconfirmed": unconfirmed,
        "interrupted": report.interrupted,
        "not_attempted": report.not_attempted,
        "stopped": report.stopped,
        "review": review,
    });
    let mut text = serde_json::to_string_pretty(&value)?;
    text.push('\n');
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// `2 manual steps for 5 subjects are left for a person to do by hand`.
fn manual_left(plan: &orgsync_core::vocabulary::Plan) -> String {
    let steps = plan.manual_steps.len();
    let subjects = plan.manual_step_count();
    format!(
        "{steps} manual step{} for {subjects} subject{} {} left for a person to do by hand",
        if steps == 1 { "" } else { "s" },
        if subjects == 1 { "" } else { "s" },
        if steps == 1 { "is" } else { "are" },
    )
}

/// Refuses a plan file made from another configuration commit than the one being applied: the
/// reviewed plan must be the plan of the configuration whose commit records the apply. A commit
/// with uncommitted configuration changes (`-dirty`) only matches when the configuration is
/// byte for byte the same (its digest).
///
/// Returns true when the plan comes from another configuration and `--allow-config-mismatch`
/// lets it through.
fn check_config_commit(plan: &Plan, loaded: &Loaded, allow: bool) -> anyhow::Result<bool> {
    let planned = plan.digests.config_commit.as_deref();
    let current = loaded.commit.as_ref().map(ToString::to_string);
    let same = match (planned.map(ConfigCommit::parse), loaded.commit.as_ref()) {
        (None, None) => true,
        (Some((id, dirty)), Some(now)) => {
            id == now.commit.id
                && (!(dirty || now.dirty) || plan.digests.config == loaded.config.digest)
        }
        _ => false,
    };
    if same {
        return Ok(false);
    }
    let describe = |c: Option<&str>| match c {
        Some(c) => {
            let (id, dirty) = ConfigCommit::parse(c);
            format!(
                "commit {}{}",
                orgsync_core::ledger::short(id),
                if dirty {
                    " with uncommitted changes"
                } else {
                    ""
                }
            )
        }
        None => "a configuration outside any git repository".to_owned(),
    };
    let (planned, current) = (describe(planned), describe(current.as_deref()));
    if allow {
        super::err(&format!(
            "warning: the plan was made from {planned}; applying it with the configuration at {current} (--allow-config-mismatch)\n"
        ));
        return Ok(true);
    }
    bail!(
        "the plan was made from {planned}, but the configuration being applied is at {current}: plan again, or pass --allow-config-mismatch to apply it anyway"
    )
}

/// The plan orgsync makes now from the plan file's recorded inputs — its configuration, its
/// `at` day, the source and target as they are — when the file says exactly that; otherwise why
/// not (stale, or changed after it was made). The re-plan, not the file, is what gets applied:
/// protected accounts and safety limits come from the configuration, never from the file.
///
/// The recorded configuration is the one being applied (`check_config_commit` tied them
/// together), except with `--allow-config-mismatch`: then it is read at the plan's commit, which
/// must be a clean one (uncommitted changes cannot be read back).
fn replan(
    file: &Plan,
    loaded: &Loaded,
    mismatch: bool,
) -> anyhow::Result<(Plan, pipeline::Fetched)> {
    let at_commit;
    let recorded = if mismatch {
        let Some((id, false)) = file
            .digests
            .config_commit
            .as_deref()
            .map(ConfigCommit::parse)
        else {
            bail!(
                "the plan's configuration cannot be read back to check the plan (it had uncommitted changes, or was not in git): plan again"
            );
        };
        at_commit = loaded.at(id)?;
        &at_commit
    } else {
        loaded
    };
    let fetched = pipeline::fetch(recorded)?;
    // Compared with the same previous configuration as the file: the same causes.
    let mut trusted = pipeline::make_plan_as(
        recorded,
        &fetched,
        file.at,
        file.digests.previous_config_commit.as_deref(),
    );
    verify(file, &trusted)?;
    // The record's plan digest names the reviewed file.
    trusted.created_at.clone_from(&file.created_at);
    Ok((trusted, fetched))
}

/// Records that the apply starts (a [`ApplyRecord::started`] record), and shares it with the
/// remote when the lease is there: a runner killed half-way leaves it behind for the next one.
fn record_started(loaded: &Loaded, plan: &Plan, run: &RunFacts<'_>) -> anyhow::Result<()> {
    let (Some(ledger), Some(commit)) = (&loaded.ledger, &loaded.commit) else {
        return Ok(());
    };
    let mut record =
        ApplyRecord::started(plan, &ledger.config_dir(), commit, ledger.actor(), now());
    record.target = Some(loaded.target_key());
    run.fill(&mut record);
    ledger
        .append_record(&record)
        .context("cannot record that the apply starts; nothing was applied")?;
    share_records(loaded);
    Ok(())
}

/// Pushes the apply records to the configuration's remote (whatever the lease: a file
/// target's is local). A push that fails is a warning: the records are in this clone, and the
/// next run pushes them.
fn share_records(loaded: &Loaded) {
    let Some(repo) = &loaded.repo else { return };
    let Some(remote) = pipeline::remote(repo) else {
        return;
    };
    if let Err(e) = remote.push_notes(repo) {
        super::err(&format!(
            "warning: the apply records were not pushed to `{}` ({e}); they are in this clone, \
             and the next apply pushes them\n",
            remote.name()
        ));
    }
}

fn now() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// Records the apply as a git note on the configuration commit, or says why it cannot.
fn record(
    loaded: &Loaded,
    plan: &Plan,
    report: &ApplyReport,
    run: &RunFacts<'_>,
) -> anyhow::Result<()> {
    let (Some(ledger), Some(commit)) = (&loaded.ledger, &loaded.commit) else {
        let why = if loaded.repo.is_some() {
            "the repository has no commits yet"
        } else {
            "the configuration is not in a git repository"
        };
        super::err(&format!("Not recorded: {why}.\n"));
        return Ok(());
    };
    let time = now();
    let mut record = ApplyRecord::new(
        plan,
        report,
        &ledger.config_dir(),
        commit,
        ledger.actor(),
        time,
    );
    record.target = Some(loaded.target_key());
    run.fill(&mut record);
    ledger
        .append_record(&record)
        .context("the apply ran, but recording it failed")?;
    super::err(&format!(
        "Recorded the apply on {}{} ({}): git notes --ref orgsync show {}\n",
        commit.commit.short(),
        if commit.dirty {
            ", whose configuration files have uncommitted changes"
        } else {
            ""
        },
        orgsync_repo::NOTES_REF,
        commit.commit.short()
    ));
    share_records(loaded);
    Ok(())
}
