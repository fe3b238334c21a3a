//! Google Workspace fetch against the Directory API quota: `cargo bench --bench google`.
//!
//! 100k users (the generator's people as Google users) from the Google emulator with its
//! quota set to Google's default 2,400 queries per minute (over it: 403
//! `userRateLimitExceeded`), fetched with `maxResults=500` and the source's
//! `queries_per_minute: 2400`. Google pages are sequential (each `nextPageToken` comes with the
//! page before), so the quota-bound ideal is one request every 25 ms: requests / 40 per second.
//! Reports the fetch time against that ideal (the goal: at least 80%) and the 403s seen.
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) it does a small smoke run.

#![allow(clippy::print_stdout)] // a benchmark prints its report

use std::time::Instant;

use orgsync_connectors::google::GoogleSource;
use orgsync_connectors::{Kit, Source};
use orgsync_core::config::GoogleSourceConfig;
use orgsync_sandbox::generate::{GenerateOptions, generate};
use orgsync_sandbox::google::{ADMIN, GoogleData, GoogleFaults, SandboxKey, router};
use orgsync_sandbox::serve::{Faults, spawn};

const QUOTA_PER_MINUTE: u32 = 2400;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let people = if full { 100_000 } else { 5_000 };
    let opts = GenerateOptions::new(people, 42);
    let generated = generate(&opts);
    let data = GoogleData::from_snapshot(&generated.source, opts.today);
    let users = data.users.len();
    let key = SandboxKey::generate();
    let google = GoogleFaults {
        quota_per_minute: QUOTA_PER_MINUTE,
        ..GoogleFaults::default()
    };
    let server = spawn(router(data, &key, Faults::default(), google), 0).expect("the emulator");
    let cfg: GoogleSourceConfig = serde_json::from_value(serde_json::json!({
        "credentials": "${env:GOOGLE_SERVICE_ACCOUNT}",
        "subject": ADMIN,
        "base_url": server.url(),
        "page_size": 500,
        "queries_per_minute": QUOTA_PER_MINUTE,
    }))
    .expect("a configuration");
    let key_file = key.key_file(&format!("{}/token", server.url()));
    let mut source = GoogleSource::new(
        &cfg,
        &Kit::new(move |_| Some(key_file.clone()), false).unwrap(),
    )
    .expect("a source");
    let started = Instant::now();
    let snapshot = source.fetch().expect("the fetch");
    let elapsed = started.elapsed().as_secs_f64();
    let requests = source.client().requests();
    let ideal = requests as f64 / (f64::from(QUOTA_PER_MINUTE) / 60.0);
    println!(
        "google fetch: {users} users ({} active) in {requests} requests ({} refused over quota), \
         {elapsed:.2} s; quota-bound ideal {ideal:.2} s at {QUOTA_PER_MINUTE}/min: {:.0}% of ideal",
        snapshot.persons.len(),
        source.client().throttled(),
        100.0 * ideal / elapsed,
    );
}
