//! The fault matrix: faults a real network and real servers produce — 429 with `Retry-After`
//! (a rate limit, and throttling regardless of the rate), 503s (half of them after the request
//! was processed), connection resets (half after processing), creates slower than the client's
//! timeout — injected in front of the SCIM target: orgsync's emulator, and `scim2-server` (a
//! real implementation nobody here wrote) behind the sandbox's fault proxy; and in front of the
//! AFAS source (429s, 503s, resets, late and cut pages — the last one too —, an expiring token).
//!
//! Each cell asserts what matters to the people being synced: converged within two applies (the
//! plan after them is empty), no account lost (the end state equals a fault-free run's), none
//! duplicated, no group duplicated.
//!
//! Sized for CI (small organisations, short waits): the whole matrix runs in about a minute.
//! The long loops and the throughput figures are `cargo bench --bench http`.

use std::path::Path;
use std::time::Instant;

use orgsync_core::model::TargetSnapshot;
use orgsync_sandbox::serve::{Faults, Running, Vendor, proxy, spawn};

use crate::http::{
    AT, SCIM_TOKEN, Scim2Server, afas_people, assert_no_duplicates, config_dir, normalized,
    read_scim, run, start_afas, start_scim_emulator,
};

/// Where the SCIM target lives in a cell.
#[derive(Debug, Clone, Copy)]
enum Server {
    Emulator,
    Scim2Server,
}

/// A SCIM target with `faults` in front: the emulator's own gate, or the fault proxy in front
/// of a fresh scim2-server.
struct Target {
    _front: Running,
    _scim2: Option<Scim2Server>,
    url: String,
}

fn target(server: Server, faults: Faults) -> Target {
    match server {
        Server::Emulator => {
            let (front, url) = start_scim_emulator(faults);
            Target {
                _front: front,
                _scim2: None,
                url,
            }
        }
        Server::Scim2Server => {
            let scim2 = Scim2Server::start();
            let upstream = format!("http://127.0.0.1:{}", scim2.port);
            let front = spawn(
                proxy(
                    &upstream,
                    Vendor::Scim,
                    &format!("Bearer {SCIM_TOKEN}"),
                    faults,
                ),
                0,
            )
            .expect("the fault proxy");
            let url = format!("{}/v2", front.url());
            Target {
                _front: front,
                _scim2: Some(scim2),
                url,
            }
        }
    }
}

/// Applies until a run reports no failure, at most `applies` times; returns how many it took.
fn apply_until_done(dir: &Path, applies: usize) -> usize {
    for n in 1..=applies {
        let r = run(dir, &["apply", "--auto-approve", "--at", AT]);
        if r.code == 0 && r.stdout.contains(" 0 failed") {
            return n;
        }
    }
    applies + 1
}

/// One cell: people from the AFAS emulator into `server` with `faults`; returns the end state.
fn cell(server: Server, name: &str, faults: Faults, extra_target: &str) -> (TargetSnapshot, usize) {
    cell_with(server, name, Faults::default(), faults, extra_target)
}

/// One cell with faults on either side: `afas_faults` in front of the source, `faults` in front
/// of the target.
fn cell_with(
    server: Server,
    name: &str,
    afas_faults: Faults,
    faults: Faults,
    extra_target: &str,
) -> (TargetSnapshot, usize) {
    let start = Instant::now();
    let (_afas, afas_url) = start_afas(afas_people(30), afas_faults);
    let scim = target(server, faults);
    let dir = config_dir(&afas_url, &scim.url, "", extra_target);
    let applies = apply_until_done(dir.path(), 2);
    let last = run(dir.path(), &["plan", "--at", AT]);
    last.assert_code(0).assert_that(
        last.stdout.contains("No changes"),
        &format!("{server:?} / {name}: converged within two applies (took {applies})"),
    );
    let state = read_scim(&scim.url);
    assert_no_duplicates(&state);
    // Shown with --nocapture: the matrix's timings.
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "{server:?} / {name}: {} accounts, {applies} apply(s), {:.1} s",
            state.accounts.len(),
            start.elapsed().as_secs_f64()
        );
    }
    (state, applies)
}

fn matrix(server: Server) {
    let (reference, _) = cell(server, "no faults", Faults::default(), "");
    assert!(reference.accounts.len() > 20, "the organisation is synced");
    let cells = [
        (
            "a rate limit of 25 requests/s (429 + Retry-After: 1)",
            Faults {
                rate_limit: 25,
                ..Faults::default()
            },
            "",
        ),
        (
            "every 7th request 429 with Retry-After: 1",
            Faults {
                throttle_every: Some(7),
                retry_after: 1,
                ..Faults::default()
            },
            "",
        ),
        (
            "15% 503s, half after processing",
            Faults {
                error_rate: 0.15,
                fault_seed: 3,
                ..Faults::default()
            },
            "",
        ),
        (
            "10% connection resets, half after processing",
            Faults {
                reset_rate: 0.1,
                fault_seed: 5,
                ..Faults::default()
            },
            "",
        ),
        (
            "creates slower than the timeout",
            Faults {
                slow_create_ms: 1_400,
                ..Faults::default()
            },
            "  timeout_secs: 1\n  concurrency: 8\n",
        ),
    ];
    for (name, faults, extra) in cells {
        let (state, _) = cell(server, name, faults, extra);
        assert_eq!(
            normalized(&state),
            normalized(&reference),
            "{server:?} / {name}: the same end state as without faults (no account lost)"
        );
    }
}

/// The same matrix on the source side: faults in front of the AFAS emulator (whose pages are 25
/// rows, so 30 people take two pages and a cut can hit the last one), into a fault-free target.
/// A source fault may slow a plan down or fail it, never change what is planned.
#[test]
fn fault_matrix_on_the_afas_source() {
    let (reference, _) = cell(Server::Emulator, "no faults", Faults::default(), "");
    let cells = [
        (
            "a rate limit of 20 requests/s (429 + Retry-After: 1)",
            Faults {
                rate_limit: 20,
                ..Faults::default()
            },
        ),
        (
            "every 7th request 429 with Retry-After: 1",
            Faults {
                throttle_every: Some(7),
                retry_after: 1,
                ..Faults::default()
            },
        ),
        (
            "20% 503s",
            Faults {
                error_rate: 0.2,
                fault_seed: 7,
                ..Faults::default()
            },
        ),
        (
            "15% connection resets",
            Faults {
                reset_rate: 0.15,
                fault_seed: 11,
                ..Faults::default()
            },
        ),
        (
            "every 2nd page cut short, the last one too",
            Faults {
                short_page_every: Some(2),
                ..Faults::default()
            },
        ),
        (
            "every page 150 ms late",
            Faults {
                latency_ms: 150,
                ..Faults::default()
            },
        ),
    ];
    for (name, afas_faults) in cells {
        let (state, _) = cell_with(Server::Emulator, name, afas_faults, Faults::default(), "");
        assert_eq!(
            normalized(&state),
            normalized(&reference),
            "AFAS / {name}: the same end state as without faults (nobody removed for a fault)"
        );
    }
}

/// An AFAS token that expires part-way fails the fetch: no plan, nothing applied, nothing
/// removed — never a plan made from the pages read before it expired.
#[test]
fn an_afas_token_that_expires_part_way_applies_nothing() {
    let (_afas, afas_url) = start_afas(
        afas_people(30),
        Faults {
            expire_token_after: Some(1),
            ..Faults::default()
        },
    );
    let scim = target(Server::Emulator, Faults::default());
    let dir = config_dir(&afas_url, &scim.url, "", "");
    let r = run(dir.path(), &["apply", "--auto-approve", "--at", AT]);
    r.assert_code(1).assert_that(
        r.stderr.contains("cannot read the source"),
        "the fetch fails",
    );
    assert!(read_scim(&scim.url).accounts.is_empty(), "nothing applied");
}

#[test]
fn fault_matrix_on_the_scim_emulator() {
    matrix(Server::Emulator);
}

#[test]
fn fault_matrix_on_scim2_server() {
    matrix(Server::Scim2Server);
}

/// Regression (issue 11): a `POST /Groups` slower than `timeout_secs` was followed by an
/// immediate lookup that found nothing and a second POST: duplicate groups (1–13 a run on the
/// emulator, 8 on scim2-server). Now the lookup waits for the slow create to land.
#[test]
fn a_create_slower_than_the_timeout_makes_no_duplicate_group() {
    for server in [Server::Emulator, Server::Scim2Server] {
        let faults = Faults {
            slow_create_ms: 1_600,
            ..Faults::default()
        };
        let (_afas, afas_url) = start_afas(afas_people(12), Faults::default());
        let scim = target(server, faults);
        let dir = config_dir(
            &afas_url,
            &scim.url,
            "",
            "  timeout_secs: 1\n  concurrency: 8\n",
        );
        let r = run(dir.path(), &["apply", "--auto-approve", "--at", AT]);
        r.assert_code(0)
            .assert_that(r.stdout.contains(" 0 failed"), "every action succeeded");
        let state = read_scim(&scim.url);
        assert_no_duplicates(&state);
        let again = run(dir.path(), &["plan", "--at", AT]);
        again.assert_code(0).assert_that(
            again.stdout.contains("No changes"),
            "converged in one apply",
        );
    }
}

/// A SCIM token that expires part-way through an apply (401 from then on) fails the actions
/// left, not the ones done: with a working token the next apply does only what is left, and the
/// end state is a fault-free run's — no account lost, none duplicated.
#[test]
fn a_scim_token_that_expires_mid_apply_loses_and_duplicates_nothing() {
    let (_afas, afas_url) = start_afas(afas_people(30), Faults::default());
    let expiring = target(
        Server::Scim2Server,
        Faults {
            expire_token_after: Some(25),
            ..Faults::default()
        },
    );
    let scim2 = expiring
        ._scim2
        .as_ref()
        .expect("scim2-server behind the proxy");
    let dir = config_dir(&afas_url, &expiring.url, "", "  retries: 1\n");
    let first = run(dir.path(), &["apply", "--auto-approve", "--at", AT]);
    first.assert_code(1).assert_that(
        first.stdout.contains("FAILED") && !first.stdout.contains(" 0 failed"),
        "the actions after the expiry fail",
    );
    let partial = read_scim(&scim2.base_url);
    assert_no_duplicates(&partial);

    // A fresh token: straight to the server.
    let direct = config_dir(&afas_url, &scim2.base_url, "", "");
    let second = run(direct.path(), &["apply", "--auto-approve", "--at", AT]);
    second
        .assert_code(0)
        .assert_that(second.stdout.contains(" 0 failed"), "the rest is applied");
    let last = run(direct.path(), &["plan", "--at", AT]);
    last.assert_code(0)
        .assert_that(last.stdout.contains("No changes"), "converged");
    let state = read_scim(&scim2.base_url);
    assert_no_duplicates(&state);
    let (reference, _) = cell(Server::Emulator, "no faults", Faults::default(), "");
    assert_eq!(
        normalized(&state),
        normalized(&reference),
        "no account lost"
    );
}
