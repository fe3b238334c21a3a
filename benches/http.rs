//! HTTP connector throughput: `cargo bench --bench http`.
//!
//! - `apply`: invites through the SCIM target against the SCIM emulator limited to 20 and to 100
//!   requests/s (429 + `Retry-After: 1` beyond), with **no** `rate_limit` configured: the client
//!   must learn the limit. Reports the requests the server accepted per second over the apply
//!   against the limit (the goal: at least 95%, and 0 failed actions).
//! - `fetch`: 100k AFAS rows (the generator's people as a GetConnector, 1,000 rows per page)
//!   from the AFAS emulator answering each request after 50 ms, with 1 and with 5 (the AFAS
//!   default) pages in flight. Reports pages/s against the ideal of the bound: in-flight / 50 ms.
//!   `BENCH_ONLY=fetch` runs only it.
//!
//! - `revolut`: invites through the Revolut target against the Revolut emulator limited to 20
//!   requests/s (`REVOLUT_LIMIT`), with the same `rate_limit` configured (Revolut publishes no
//!   limit): invites/s against the limit (goal: at least 90%). `BENCH_ONLY=revolut` runs only it.
//! - `revolut, every 4th request 429`: 100 invites against the Revolut emulator answering every
//!   4th request with 429 + `Retry-After: 1` (throttling that does not depend on the rate), no
//!   `rate_limit` configured, 1 and 4 (the default) in flight. Ideal = the same apply without
//!   the 429s + the waits the server asked for (429s × 1 s, spread over the requests in flight);
//!   goal: at most 1.5 × the ideal. `BENCH_ONLY=revolut-throttled` runs only it.
//!
//! All run in process, the emulator on its own thread. Without `--bench` (as `cargo test
//! --all-targets` runs it) it does a small smoke run instead.

#![allow(clippy::print_stdout)] // a benchmark prints its report

use std::collections::HashMap;
use std::time::Instant;

use orgsync_connectors::afas::AfasSource;
use orgsync_connectors::scim::ScimTarget;
use orgsync_connectors::{Kit, Source, Target};
use orgsync_core::apply::run::{ApplyOptions, apply};
use orgsync_core::config::{AfasSourceConfig, ScimTargetConfig};
use orgsync_core::digest;
use orgsync_core::model::{TargetGroup, TargetSnapshot};
use orgsync_core::vocabulary::{Action, Changes, Digests, GroupRef, Invite, Plan, Safety};
use orgsync_sandbox::afas::{self, AfasData};
use orgsync_sandbox::generate::{DEFAULT_TODAY, GenerateOptions, generate};
use orgsync_sandbox::scim::{self, ScimData};
use orgsync_sandbox::serve::{Faults, spawn};
use serde_json::json;

const TOKEN: &str = "bench-token";

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    if std::env::var("BENCH_ONLY").is_ok_and(|o| o == "fetch") {
        for in_flight in [1, 5] {
            bench_fetch(if full { 100_000 } else { 5_000 }, 50, in_flight);
        }
        return;
    }
    if std::env::var("BENCH_ONLY").is_ok_and(|o| o == "revolut-throttled") {
        bench_revolut_throttled(full, &[1, 4]);
        return;
    }
    let people = if full { 100_000 } else { 5_000 };
    // About a minute per limit in full; a few seconds in the smoke run.
    for (limit, invites) in [
        (20, if full { 1_200 } else { 40 }),
        (100, if full { 6_000 } else { 150 }),
    ] {
        // `BENCH_LIMIT=20 cargo bench --bench http` runs one limit.
        if std::env::var("BENCH_LIMIT").is_ok_and(|l| l != limit.to_string()) {
            continue;
        }
        bench_apply(invites, limit);
    }
    // `BENCH_ONLY=revolut cargo bench --bench http` runs only this one.
    // `REVOLUT_LIMIT=100` measures at another limit (default 20/s, a minute in full).
    let revolut_limit: u32 = std::env::var("REVOLUT_LIMIT")
        .ok()
        .and_then(|l| l.parse().ok())
        .unwrap_or(20);
    let revolut_invites = if full {
        60 * revolut_limit as usize
    } else {
        30
    };
    bench_revolut_invites(revolut_invites, revolut_limit);
    if std::env::var("BENCH_ONLY").is_ok_and(|o| o == "revolut") {
        return;
    }
    bench_revolut_throttled(full, if full { &[1, 4] } else { &[4] });
    for in_flight in [1, 5] {
        bench_fetch(people, 50, in_flight);
    }
}

/// Revolut invites through the apply runner against the Revolut emulator limited to `limit`
/// requests/s, with the same `rate_limit` configured (Revolut publishes none): the invites must
/// reach at least 90% of it.
fn bench_revolut_invites(invites: usize, limit: u32) {
    use orgsync_connectors::revolut::RevolutTarget;
    use orgsync_core::config::RevolutTargetConfig;
    use orgsync_sandbox::revolut::{self as rv, RevolutData};
    // `REVOLUT_LATENCY_MS=100`: every answer 100 ms late, as over the internet.
    let latency_ms: u64 = std::env::var("REVOLUT_LATENCY_MS")
        .ok()
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let faults = Faults {
        rate_limit: limit,
        latency_ms,
        ..Faults::default()
    };
    let server = spawn(rv::router(RevolutData::seeded(5), TOKEN, faults), 0).expect("emulator");
    let cfg: RevolutTargetConfig = serde_json::from_value(json!({
        "base_url": format!("{}{}", server.url(), rv::BASE_PATH),
        "token": "${env:BENCH_TOKEN}",
        "rate_limit": limit,
    }))
    .expect("config");
    let mut target = RevolutTarget::new(&cfg, Default::default(), &kit()).expect("target");
    let state = target.fetch().expect("fetch");
    let plan = revolut_invite_plan(invites, &state);
    let start = Instant::now();
    let report = apply(
        &mut target,
        &plan,
        &ApplyOptions {
            today: DEFAULT_TODAY,
            force: false,
            allow: Default::default(),
            interrupt: Default::default(),
        },
    )
    .expect("apply");
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(
        report.failed,
        0,
        "{:?}",
        report.outcomes.iter().find(|o| !o.ok)
    );
    let rate = invites as f64 / secs;
    println!(
        "revolut: {invites} invites at a limit of {limit}/s with rate_limit {limit}, {latency_ms} ms \
         latency, concurrency 4: {secs:.1} s (the apply's reads included) = {rate:.1} invites/s \
         ({:.1}% of the limit); {} answered 429; {} failed",
        100.0 * rate / f64::from(limit),
        target.client().throttled(),
        report.failed,
    );
    assert_eq!(target.fetch().expect("fetch").accounts.len(), 6 + invites);
}

/// A plan of `invites` Revolut invites on `state`.
fn revolut_invite_plan(invites: usize, state: &TargetSnapshot) -> Plan {
    let actions: Vec<Action> = (0..invites)
        .map(|i| {
            let id = (700_000 + i).to_string();
            Action {
                subject: id.clone(),
                target_id: None,
                name: format!("Person {i}"),
                changes: Changes::Invite(Invite {
                    email: Some(format!("r{i}@bench.example")),
                    external_id: Some(id),
                    ..Invite::default()
                }),
                reason: "bench".to_owned(),
                cause: Default::default(),
            }
        })
        .collect();
    Plan {
        format_version: orgsync_core::vocabulary::FORMAT_VERSION,
        created_at: String::new(),
        orgsync_version: String::new(),
        at: DEFAULT_TODAY,
        summary: Plan::count_actions(&actions),
        held: Default::default(),
        actions,
        manual_steps: Vec::new(),
        diagnostics: Vec::new(),
        safety: Safety {
            safe: true,
            violations: Vec::new(),
        },
        digests: Digests {
            target: digest::of_json(state),
            ..Digests::default()
        },
    }
}

/// `invites` Revolut invites through the apply runner, `in_flight` at a time, against the
/// Revolut emulator with `faults`, no `rate_limit` configured: the apply's wall time (its
/// reads included), the 429s the client got, and the requests it sent.
fn revolut_apply(invites: usize, in_flight: u32, faults: Faults) -> (f64, u64, u64) {
    use orgsync_connectors::revolut::RevolutTarget;
    use orgsync_core::config::RevolutTargetConfig;
    use orgsync_sandbox::revolut::{self as rv, RevolutData};
    let server = spawn(rv::router(RevolutData::seeded(5), TOKEN, faults), 0).expect("emulator");
    let cfg: RevolutTargetConfig = serde_json::from_value(json!({
        "base_url": format!("{}{}", server.url(), rv::BASE_PATH),
        "token": "${env:BENCH_TOKEN}",
        "concurrency": in_flight,
    }))
    .expect("config");
    let mut target = RevolutTarget::new(&cfg, Default::default(), &kit()).expect("target");
    let state = target.fetch().expect("fetch");
    let plan = revolut_invite_plan(invites, &state);
    let (requests, throttled) = (target.client().requests(), target.client().throttled());
    let start = Instant::now();
    let report = apply(
        &mut target,
        &plan,
        &ApplyOptions {
            today: DEFAULT_TODAY,
            force: false,
            allow: Default::default(),
            interrupt: Default::default(),
        },
    )
    .expect("apply");
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(
        (report.failed, report.unconfirmed),
        (0, 0),
        "{:?}",
        report.outcomes.iter().find(|o| !o.ok)
    );
    assert_eq!(target.fetch().expect("fetch").accounts.len(), 6 + invites);
    (
        secs,
        target.client().throttled() - throttled,
        target.client().requests() - requests,
    )
}

/// Regression: a server that answers every 4th request with 429 + `Retry-After: 1` (whatever
/// the rate) made the client's pace settle near 1 request/s: each such 429 cut the rate again.
/// The apply must take at most 1.5 × what the requests themselves take plus the waits the server
/// asked for (checked in the full run: 100 invites).
fn bench_revolut_throttled(full: bool, in_flight: &[u32]) {
    let invites = if full { 100 } else { 8 };
    let ratios: Vec<f64> = in_flight
        .iter()
        .map(|&n| revolut_throttled(invites, n))
        .collect();
    if full {
        assert!(
            ratios.iter().all(|r| *r <= 1.5),
            "{ratios:.2?} × the ideal (goal ≤ 1.5×)"
        );
    }
}

/// One run of [`bench_revolut_throttled`]: its time against the ideal.
fn revolut_throttled(invites: usize, in_flight: u32) -> f64 {
    let (unthrottled, _, _) = revolut_apply(invites, in_flight, Faults::default());
    let retry_after = 1;
    let (secs, throttled, requests) = revolut_apply(
        invites,
        in_flight,
        Faults {
            throttle_every: Some(4),
            retry_after,
            ..Faults::default()
        },
    );
    // The waits the server asked for, spread over the requests in flight.
    let waits = (throttled * retry_after) as f64 / f64::from(in_flight);
    let ideal = unthrottled + waits;
    let ratio = secs / ideal;
    println!(
        "revolut, every 4th request 429 + Retry-After: {retry_after}: {invites} invites, \
         {in_flight} in flight, no rate_limit: {secs:.1} s ({requests} requests, {throttled} \
         answered 429); the same without 429s {unthrottled:.2} s + the waits asked for \
         {waits:.1} s = {ideal:.1} s: {ratio:.2}× (goal ≤ 1.5×)"
    );
    ratio
}

fn bench_apply(invites: usize, limit: u32) {
    // One community to put everyone in, as a workspace has.
    let seed = TargetSnapshot {
        communities: vec![TargetGroup {
            id: "c-1".to_owned(),
            name: "Amsterdam Centrum".to_owned(),
            source_ids: vec!["1001".to_owned()],
            managed: true,
        }],
        ..TargetSnapshot::default()
    };
    let faults = Faults {
        rate_limit: limit,
        ..Faults::default()
    };
    let server = spawn(
        scim::router(
            ScimData::from_workspace(&seed, &Default::default()),
            TOKEN,
            faults,
        ),
        0,
    )
    .expect("SCIM emulator");
    let cfg: ScimTargetConfig = serde_json::from_value(json!({
        "base_url": format!("{}{}", server.url(), scim::BASE_PATH),
        "token": "${env:BENCH_TOKEN}",
        "concurrency": 16,
    }))
    .expect("config");
    let mut target = ScimTarget::new(&cfg, "Europe/Amsterdam", &kit()).expect("target");
    let state = target.fetch().expect("fetch");
    let community = GroupRef {
        id: state.communities[0].id.clone(),
        name: "Amsterdam Centrum".to_owned(),
        foreign: false,
    };
    let actions: Vec<Action> = (0..invites)
        .map(|i| {
            let id = (500_000 + i).to_string();
            Action {
                subject: id.clone(),
                target_id: None,
                name: format!("Person {id}"),
                changes: Changes::Invite(Invite {
                    email: Some(format!("p{id}@bench.example")),
                    external_id: Some(id.clone()),
                    first_name: Some("Person".to_owned()),
                    last_name: Some(id.clone()),
                    communities: Some(vec![community.clone()]),
                    ..Invite::default()
                }),
                reason: "bench".to_owned(),
                cause: Default::default(),
            }
        })
        .collect();
    let plan = Plan {
        format_version: orgsync_core::vocabulary::FORMAT_VERSION,
        created_at: String::new(),
        orgsync_version: String::new(),
        at: DEFAULT_TODAY,
        summary: Plan::count_actions(&actions),
        held: Default::default(),
        actions,
        manual_steps: Vec::new(),
        diagnostics: Vec::new(),
        safety: Safety {
            safe: true,
            violations: Vec::new(),
        },
        digests: Digests {
            target: digest::of_json(&state),
            ..Digests::default()
        },
    };
    let before = target.client().requests();
    let throttled_before = target.client().throttled();
    let start = Instant::now();
    let report = apply(
        &mut target,
        &plan,
        &ApplyOptions {
            today: DEFAULT_TODAY,
            force: false,
            allow: Default::default(),
            interrupt: Default::default(),
        },
    )
    .expect("apply");
    let secs = start.elapsed().as_secs_f64();
    let requests = target.client().requests() - before;
    let throttled = target.client().throttled() - throttled_before;
    let accepted = requests - throttled;
    assert_eq!(
        report.failed,
        0,
        "{:?}",
        report.outcomes.iter().find(|o| !o.ok)
    );
    let rate = accepted as f64 / secs;
    println!(
        "apply: {invites} invites at a limit of {limit}/s, no rate_limit configured: {accepted} \
         requests accepted in {secs:.1} s = {rate:.1} req/s ({:.1}% of the limit); {throttled} \
         answered 429; {} failed actions; the client's pace at the end {:.1}/s",
        100.0 * rate / f64::from(limit),
        report.failed,
        target.client().pace().unwrap_or(0.0)
    );
    let check = target.fetch().expect("fetch");
    assert_eq!(check.accounts.len(), invites);
}

fn bench_fetch(people: usize, latency_ms: u64, in_flight: u32) {
    let g = generate(&GenerateOptions::new(people, 42));
    let data = AfasData::from_snapshot("orgsync_employees", &g.source);
    let rows = data.rows.len();
    let faults = Faults {
        latency_ms,
        ..Faults::default()
    };
    let server = spawn(afas::router(data, TOKEN, faults), 0).expect("AFAS emulator");
    let cfg: AfasSourceConfig = serde_json::from_value(json!({
        "environment": "bench",
        "base_url": format!("{}{}", server.url(), afas::BASE_PATH),
        "token": "${env:BENCH_TOKEN}",
        "page_size": 1000,
        "concurrency": in_flight,
    }))
    .expect("config");
    let env: HashMap<&str, &str> = HashMap::from([("BENCH_TOKEN", TOKEN)]);
    let mut source = AfasSource::new(
        &cfg,
        &Kit::new(move |k| env.get(k).map(|v| (*v).to_owned()), false).unwrap(),
    )
    .expect("source");
    let start = Instant::now();
    let snapshot = source.fetch().expect("fetch");
    let secs = start.elapsed().as_secs_f64();
    let pages = source.client().requests();
    let ideal = f64::from(in_flight) * 1000.0 / latency_ms as f64;
    let rate = pages as f64 / secs;
    println!(
        "fetch: {rows} rows ({} people), {pages} pages of 1000 in {secs:.2} s = {rate:.1} pages/s; \
         {in_flight} in flight at {latency_ms} ms: ideal {ideal:.0} pages/s ({:.0}%)",
        snapshot.persons.len(),
        100.0 * rate / ideal
    );
}

/// The benchmarks' kit: one runtime, the benchmark token for every secret.
fn kit() -> Kit {
    Kit::new(|_| Some(TOKEN.to_owned()), false).expect("kit")
}
