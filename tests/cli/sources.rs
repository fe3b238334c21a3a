//! API sources end to end against their emulators, measured against the `file` source on the
//! same data: the plan from AFAS is the plan from the export.
//!
//! The AFAS tie test runs 5,000 people with 7- and 100-row pages in CI. The long run is
//! 100,000 people with 100- and 1,000-row pages, best in release:
//! `ORGSYNC_AFAS_TIES_PEOPLE=100000 cargo test --release --test cli afas_ties -- --nocapture`.

use std::path::Path;
use std::time::Instant;

use orgsync_core::model::AccountStatus;
use orgsync_sandbox::afas::{self, AfasData, AfasFaults};
use orgsync_sandbox::generate::{GenerateOptions, Generated, generate, write};
use orgsync_sandbox::serve::{Faults, spawn};
use serde_json::Value;

use crate::http::{AFAS_TOKEN, AT, run, start_afas};

/// People, seed and page sizes of the tie test: `ORGSYNC_AFAS_TIES_PEOPLE`, 5,000 by default.
/// The seeds put ties on page edges of both sizes (seed 3: 5 at 7 rows and 2 at 100 of 5,000
/// people; seed 2: 11 at 100 and 1 at 1,000 of 100,000 people); the test checks that they do.
fn tie_run() -> (usize, u64, [usize; 2]) {
    let people = std::env::var("ORGSYNC_AFAS_TIES_PEOPLE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    if people < 20_000 {
        (people, 3, [7, 100])
    } else {
        (people, 2, [100, 1000])
    }
}

/// The plan's content: everything but when and from which inputs it was made (the digests
/// differ: the configurations name another source, and tied rows come in AFAS's order).
fn content(plan: &Value) -> Value {
    let mut plan = plan.clone();
    if let Some(o) = plan.as_object_mut() {
        for volatile in ["created_at", "digests"] {
            o.remove(volatile);
        }
    }
    plan
}

/// Where `a` and `b` first differ (a JSON path and both values), if they do.
fn first_difference(a: &Value, b: &Value, at: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => x.keys().chain(y.keys()).find_map(|k| {
            let null = Value::Null;
            first_difference(
                x.get(k).unwrap_or(&null),
                y.get(k).unwrap_or(&null),
                &format!("{at}.{k}"),
            )
        }),
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (a, b))| first_difference(a, b, &format!("{at}[{i}]"))),
        _ if a == b => None,
        _ => Some(format!("{at}: {a} (AFAS) vs {b} (file)")),
    }
}

/// A copy of the generated configuration in `file_dir` that reads the people from the AFAS
/// emulator at `url` instead, `page_size` rows a page.
fn afas_dir(file_dir: &Path, url: &str, page_size: usize) -> tempfile::TempDir {
    let yaml = std::fs::read_to_string(file_dir.join("orgsync.yaml")).unwrap();
    let (before, rest) = yaml.split_once("source:\n").expect("a source block");
    let after = &rest[rest.find("target:\n").expect("a target block")..];
    let dir = tempfile::tempdir().expect("a temporary directory");
    for f in ["communities.yaml", "functions.yaml", "workspace.json"] {
        std::fs::copy(file_dir.join(f), dir.path().join(f)).unwrap();
    }
    // As many lines as the file source's block: diagnostics point at lines after it.
    let source = format!(
        "source: {{ kind: afas, base_url: \"{url}\",\n  token: \"${{env:AFAS_TOKEN}}\", \
         page_size: {page_size} }}\n# the same people, from the AFAS emulator\n"
    );
    let file_block = &yaml[before.len()..yaml.len() - after.len()];
    assert_eq!(source.lines().count(), file_block.lines().count());
    std::fs::write(
        dir.path().join("orgsync.yaml"),
        format!("{before}{source}{after}"),
    )
    .unwrap();
    dir
}

/// The employee number on the last row AFAS serves by default (employee number, then contract
/// start), when it is that person's only row and they have an active managed account.
fn last_listed(g: &Generated, data: &AfasData) -> Option<String> {
    let key = |r: &serde_json::Map<String, Value>| {
        let text = |f: &str| r[f].as_str().unwrap_or_default().to_owned();
        (text("Medewerker"), text("Begindatum_contract"))
    };
    let (id, _) = data.rows.iter().map(key).max()?;
    let rows = data.rows.iter().filter(|r| key(r).0 == id).count();
    let active = g.workspace.accounts.iter().any(|a| {
        a.managed && a.status == AccountStatus::Active && a.external_id.as_deref() == Some(&id)
    });
    (rows == 1 && active).then_some(id)
}

/// Regression: an AFAS last page cut by one row on every read (AFAS sends no totals, so
/// nothing showed it) lacked an active employee, and apply removed and deactivated them: 1 of
/// 39 removals, under `max_removals`. Now the person is asked for directly, found and kept,
/// and the plan says the listing was incomplete; the plan is otherwise the file source's, less
/// that person's own actions.
#[test]
fn a_person_a_cut_afas_listing_lacks_is_kept_not_removed() {
    // The first seed whose last row is an active employee's only row.
    let (g, data, last) = (1..100)
        .find_map(|seed| {
            let g = generate(&GenerateOptions::new(400, seed));
            let data = AfasData::from_snapshot("orgsync_employees", &g.source);
            let last = last_listed(&g, &data)?;
            Some((g, data, last))
        })
        .expect("a seed whose last row is an active employee's only row");
    let file_dir = tempfile::tempdir().expect("a temporary directory");
    write(file_dir.path(), &g).expect("write the generated organisation");
    let from_file = plan(file_dir.path());

    let cut = AfasFaults { cut_last_row: true };
    let server = spawn(
        afas::router_with_faults(data, AFAS_TOKEN, Faults::default(), cut),
        0,
    )
    .expect("AFAS emulator");
    let url = format!("{}{}", server.url(), afas::BASE_PATH);
    let dir = afas_dir(file_dir.path(), &url, 25);
    let from_afas = plan(dir.path());

    let actions_of = |plan: &Value, kind: &str| -> Vec<String> {
        plan["actions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["kind"] == kind)
            .map(|a| a["subject"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(
        actions_of(&from_afas, "remove"),
        actions_of(&from_file, "remove"),
        "the same removals as from the whole data"
    );
    let incomplete: Vec<&Value> = from_afas["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "listing_incomplete")
        .collect();
    assert_eq!(incomplete.len(), 1, "{:#}", from_afas["diagnostics"]);
    let email = g
        .source
        .persons
        .iter()
        .find(|p| p.id == last)
        .and_then(|p| p.email.clone())
        .expect("the person has an e-mail address");
    assert!(
        incomplete[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains(&email)),
        "the diagnostic names {email} ({last}): {:#}",
        incomplete[0]
    );
}

fn plan(dir: &Path) -> Value {
    let r = run(dir, &["plan", "--format", "json", "--at", AT]);
    r.assert_code(0);
    serde_json::from_str(&r.stdout).expect("plan JSON")
}

/// Regression: a person with two employments starting on one day (a full-time and a
/// part-time contract; 1% of the generated people have one in a second location) ties on the
/// default order, and when the pair fell across a page edge the fetch failed ("the rows at skip
/// 6699 and 6700 both have …") — on the nights page edges landed there. Now the plan from AFAS,
/// at either page size, is the plan from the same people in a file. The timings go to stderr
/// (`--nocapture`) for the long run.
#[test]
#[allow(clippy::print_stderr)]
fn afas_ties_across_page_edges_give_the_plan_of_the_file_source() {
    let (people, seed, page_sizes) = tie_run();
    let g = generate(&GenerateOptions::new(people, seed));
    let data = AfasData::from_snapshot("orgsync_employees", &g.source);
    let mut keys: Vec<(String, String)> = data
        .rows
        .iter()
        .map(|r| {
            let text = |f: &str| r[f].as_str().unwrap_or_default().to_owned();
            (text("Medewerker"), text("Begindatum_contract"))
        })
        .collect();
    keys.sort();

    let file_dir = tempfile::tempdir().expect("a temporary directory");
    write(file_dir.path(), &g).expect("write the generated organisation");
    let started = Instant::now();
    let from_file = content(&plan(file_dir.path()));
    eprintln!("file source: {:.1} s", started.elapsed().as_secs_f64());
    let (_afas, url) = start_afas(data, Faults::default());
    for page_size in page_sizes {
        let edges = (page_size..keys.len())
            .step_by(page_size)
            .filter(|&i| keys[i - 1] == keys[i])
            .count();
        assert!(
            edges > 0,
            "{people} people, seed {seed}: no tie falls on an edge of {page_size}-row pages"
        );
        let dir = afas_dir(file_dir.path(), &url, page_size);
        let started = Instant::now();
        let from_afas = content(&plan(dir.path()));
        eprintln!(
            "AFAS, {people} people, {page_size}-row pages, {edges} ties on page edges: {:.1} s",
            started.elapsed().as_secs_f64()
        );
        if let Some(difference) = first_difference(&from_afas, &from_file, "plan") {
            panic!(
                "{page_size}-row pages: the AFAS plan differs from the file plan at {difference}"
            );
        }
    }
}
