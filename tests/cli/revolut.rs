//! The Revolut Business target end to end: a file source → `orgsync plan`/`apply` → the Revolut
//! emulator (`src/sandbox/revolut.rs`), in process so that each test can look at the team it
//! left. The configuration lives in a git repository: the apply records there are orgsync's
//! record of which members it manages (Revolut has no field to mark them).

use std::path::Path;
use std::sync::{Arc, Mutex};

use orgsync_connectors::revolut::{Ownership, RevolutTarget};
use orgsync_connectors::{ApplyContext, Kit, Target};
use orgsync_core::config::{RevolutTargetConfig, Secret};
use orgsync_sandbox::revolut::{self as emulator, RevolutData};
use orgsync_sandbox::serve::{Faults, Running, spawn};
use serde_json::{Value, json};

use crate::common::Run;
use crate::common::commit_all;

const TOKEN: &str = "revolut-token-5d1f0c9a42";
const AT: &str = "2025-06-02";
const OWNER_EMAIL: &str = "owner@acme-business.example";

/// The emulator on a free port, with its team reachable.
struct Team {
    data: Arc<Mutex<RevolutData>>,
    server: Running,
}

impl Team {
    fn start(data: RevolutData, faults: Faults) -> Team {
        let data = Arc::new(Mutex::new(data));
        let server = spawn(emulator::router_shared(Arc::clone(&data), TOKEN, faults), 0)
            .expect("the emulator starts");
        Team { data, server }
    }

    fn url(&self) -> String {
        format!("{}{}", self.server.url(), emulator::BASE_PATH)
    }

    /// Member e-mail addresses (lower case), sorted, with repeats kept.
    fn emails(&self) -> Vec<String> {
        let d = self.data.lock().unwrap();
        let mut e: Vec<String> = d.members.values().map(|m| m.email.to_lowercase()).collect();
        e.sort();
        e
    }

    fn role_of(&self, email: &str) -> Option<String> {
        let d = self.data.lock().unwrap();
        d.members
            .values()
            .find(|m| m.email.eq_ignore_ascii_case(email))
            .map(|m| m.role_id.clone())
    }

    fn id_of(&self, email: &str) -> Option<String> {
        let d = self.data.lock().unwrap();
        d.members
            .values()
            .find(|m| m.email.eq_ignore_ascii_case(email))
            .map(|m| m.id.clone())
    }
}

fn person(id: &str, first: &str, last: &str, function: &str) -> Value {
    json!({
        "id": id,
        "email": format!("{}.{}@people.example", first.to_lowercase(), last.to_lowercase()),
        "first_name": first,
        "last_name": last,
        "start": "2020-01-01",
        "end": null,
        "community": "1001",
        "community_name": "Amsterdam",
        "function": function,
        "function_name": function,
    })
}

fn people(n: usize) -> Vec<Value> {
    (1..=n)
        .map(|i| {
            person(
                &format!("{}", 5000 + i),
                "Ann",
                &format!("Person{i}"),
                if i == 1 { "F-FIN" } else { "F-WAIT" },
            )
        })
        .collect()
}

fn email(i: usize) -> String {
    format!("ann.person{i}@people.example")
}

fn orgsync_yaml(url: &str, extra: &str) -> String {
    format!(
        "version: 1
source: {{ kind: file, path: source.json }}
target:
  kind: revolut
  base_url: {url}
  token: ${{env:REVOLUT_TOKEN}}
  retries: 6
identity: {{ match: [external_id, email], adopt_unmanaged: true }}
policy:
  managed_fields: [email, function_groups]
safety: {{ max_removals: 10 }}
protected:
  - email: {OWNER_EMAIL}
{extra}"
    )
}

const FUNCTIONS: &str = "functions:
  from: function
  unmapped: { fallback: Member }
  map:
    - { source: F-FIN, target: Finance }
";

/// A configuration directory in a git repository.
fn config(url: &str, source: &[Value], extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    write_source(dir.path(), source);
    std::fs::write(dir.path().join("orgsync.yaml"), orgsync_yaml(url, extra)).unwrap();
    std::fs::write(dir.path().join("functions.yaml"), FUNCTIONS).unwrap();
    commit_all(dir.path());
    dir
}

fn write_source(dir: &Path, source: &[Value]) {
    std::fs::write(
        dir.join("source.json"),
        serde_json::to_string_pretty(&Value::Array(source.to_vec())).unwrap(),
    )
    .unwrap();
}

fn run(dir: &Path, args: &[&str]) -> Run {
    let mut cmd = assert_cmd::Command::cargo_bin("orgsync").expect("the orgsync binary is built");
    cmd.args(args)
        .arg("-C")
        .arg(dir)
        .env("NO_COLOR", "1")
        .env("REVOLUT_TOKEN", TOKEN)
        .env("GIT_CEILING_DIRECTORIES", dir.parent().unwrap_or(dir))
        .env_remove("RUST_LOG")
        .env_remove("GITHUB_ACTOR");
    let output = cmd.output().expect("orgsync runs");
    Run {
        command: format!("orgsync {} -C {}", args.join(" "), dir.display()),
        dir: dir.to_owned(),
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn plan_json(dir: &Path) -> Value {
    let r = run(dir, &["plan", "--format", "json", "--at", AT]);
    r.assert_code(0);
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("plan JSON: {e}\n{}", r.report()))
}

fn apply(dir: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["apply", "--auto-approve", "--at", AT];
    args.extend_from_slice(extra);
    run(dir, &args)
}

fn kinds(plan: &Value) -> Vec<(String, String)> {
    plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap().to_owned(),
                a["subject"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn file_source_to_revolut_invites_with_roles_converges_and_removes_a_leaver_for_good() {
    let team = Team::start(RevolutData::seeded(5), Faults::default());
    let dir = config(&team.url(), &people(4), "");
    let first = plan_json(dir.path());
    assert_eq!(first["summary"]["invite"], 4, "{first:#}");
    let invite = &first["actions"][0];
    assert_eq!(invite["subject"], "5001");
    assert_eq!(
        invite["changes"]["function_groups"]["to"][0]["name"], "Finance",
        "roles are the function groups: {invite:#}"
    );
    assert!(
        invite["changes"].get("first_name").is_none(),
        "Revolut takes no names on an invite"
    );
    let applied = apply(dir.path(), &[]);
    applied.assert_code(0);
    applied.assert_that(
        applied
            .stdout
            .contains("Apply complete: 4 succeeded, 0 failed."),
        "all four invited",
    );
    assert_eq!(
        team.role_of(&email(1)).as_deref(),
        Some(emulator::FINANCE_ROLE)
    );
    assert_eq!(team.role_of(&email(2)).as_deref(), Some(emulator::MEMBER));
    assert_eq!(team.emails().len(), 6 + 4);

    // Re-plan: nothing to do, and the foreign members and the owner are left alone.
    let again = run(dir.path(), &["plan", "--detailed-exitcode", "--at", AT]);
    again.assert_code(0);
    again.assert_that(
        again
            .stdout
            .contains("No changes. The target matches the configuration."),
        "the second plan is empty",
    );

    // Person 5003 leaves: removed for good, and the plan says so.
    let mut left = people(4);
    left.remove(2);
    write_source(dir.path(), &left);
    commit_all(dir.path());
    let text = run(dir.path(), &["plan", "--at", AT]);
    text.assert_code(0);
    text.assert_that(
        text.stdout.contains("removes access for good"),
        "the removal says it is permanent",
    );
    let plan = plan_json(dir.path());
    assert_eq!(kinds(&plan), [("remove".to_owned(), "5003".to_owned())]);
    assert_eq!(plan["actions"][0]["changes"]["status"]["to"], "deleted");
    assert!(plan["actions"][0]["changes"].get("removed_at").is_none());
    let gone_id = team.id_of(&email(3)).expect("invited");
    apply(dir.path(), &[]).assert_code(0);
    assert_eq!(team.id_of(&email(3)), None, "deleted at Revolut");
    assert!(
        team.emails().contains(&OWNER_EMAIL.to_owned()),
        "the owner stays"
    );
    assert_eq!(
        team.emails()
            .iter()
            .filter(|e| e.ends_with("@external.example"))
            .count(),
        5,
        "foreign members are never touched"
    );
    run(dir.path(), &["plan", "--detailed-exitcode", "--at", AT]).assert_code(0);

    // The rehire is a new invitation: a new member, not a restore.
    write_source(dir.path(), &people(4));
    commit_all(dir.path());
    let rehire = plan_json(dir.path());
    assert_eq!(kinds(&rehire), [("invite".to_owned(), "5003".to_owned())]);
    apply(dir.path(), &[]).assert_code(0);
    let new_id = team.id_of(&email(3)).expect("invited again");
    assert_ne!(new_id, gone_id);
    run(dir.path(), &["plan", "--detailed-exitcode", "--at", AT]).assert_code(0);
}

#[test]
fn removals_over_the_limit_are_refused_until_allowed() {
    let team = Team::start(RevolutData::seeded(0), Faults::default());
    let dir = config(&team.url(), &people(12), "");
    apply(dir.path(), &[]).assert_code(0);
    let mut fewer = people(12);
    fewer.truncate(9);
    write_source(dir.path(), &fewer);
    std::fs::write(
        dir.path().join("orgsync.yaml"),
        orgsync_yaml(&team.url(), "").replace("max_removals: 10", "max_removals: 2"),
    )
    .unwrap();
    commit_all(dir.path());
    let unsafe_plan = run(dir.path(), &["plan", "--format", "json", "--at", AT]);
    unsafe_plan.assert_code(1);
    let plan: Value = serde_json::from_str(&unsafe_plan.stdout).expect("plan JSON");
    assert_eq!(plan["summary"]["remove"], 3);
    assert_eq!(plan["safety"]["safe"], false);
    assert_eq!(plan["safety"]["violations"][0]["rule"], "max_removals");
    let refused = apply(dir.path(), &[]);
    refused.assert_code(1);
    assert_eq!(team.emails().len(), 1 + 12, "nothing was removed");
    apply(dir.path(), &["--allow-removals", "3"]).assert_code(0);
    assert_eq!(team.emails().len(), 1 + 9);
}

#[test]
fn lost_answers_and_throttling_never_invite_anyone_twice() {
    let faults = Faults {
        error_rate: 0.35,
        throttle_every: Some(7),
        retry_after: 1,
        fault_seed: 7,
        ..Faults::default()
    };
    let team = Team::start(RevolutData::seeded(2), faults);
    let dir = config(&team.url(), &people(15), "");
    // Faults may fail some actions even after retries; applying again converges.
    let mut outputs = String::new();
    for _ in 0..4 {
        let r = apply(dir.path(), &[]);
        outputs.push_str(&r.stdout);
        if r.code == 0 && r.stdout.contains("Nothing to apply") {
            break;
        }
    }
    // A blind re-POST after a lost answer would meet the member it had created.
    assert!(
        !outputs.contains("already exists"),
        "an invite was sent twice:\n{outputs}"
    );
    let emails = team.emails();
    let mut unique = emails.clone();
    unique.dedup();
    assert_eq!(emails, unique, "one member per address");
    for i in 1..=15 {
        assert!(emails.contains(&email(i)), "{} invited", email(i));
    }
    assert_eq!(emails.len(), 3 + 15);
    // Invites whose answer was lost were found by e-mail and recorded as orgsync's: the next
    // plan has nothing to do (reads are retried through the faults).
    run(dir.path(), &["plan", "--detailed-exitcode", "--at", AT]).assert_code(0);
}

/// A create slower than the client's timeout still completes at the server: the invite is
/// looked for until the timeout has passed again, never re-sent at once.
#[test]
fn an_invite_that_times_out_but_completes_is_not_sent_twice() {
    let team = Team::start(
        RevolutData::seeded(0),
        Faults {
            slow_create_ms: 1_500,
            ..Faults::default()
        },
    );
    let dir = config(&team.url(), &people(2), "");
    let yaml = std::fs::read_to_string(dir.path().join("orgsync.yaml")).unwrap();
    std::fs::write(
        dir.path().join("orgsync.yaml"),
        yaml.replace("  retries: 6\n", "  retries: 6\n  timeout_secs: 1\n"),
    )
    .unwrap();
    commit_all(dir.path());
    let r = apply(dir.path(), &[]);
    r.assert_code(0);
    r.assert_that(
        r.stdout.contains("Apply complete: 2 succeeded, 0 failed."),
        "both invites taken as done once they showed up",
    );
    assert_eq!(team.emails(), [email(1), email(2), OWNER_EMAIL.to_owned()]);
    assert_eq!(
        team.data.lock().unwrap().invites_received,
        2,
        "each invite was POSTed once"
    );
    run(dir.path(), &["plan", "--detailed-exitcode", "--at", AT]).assert_code(0);
}

/// kill -9 in the middle of an apply: the invites it sent are not in any apply record, so
/// the next plan finds those members by e-mail and adopts them; nobody is invited twice.
#[test]
fn after_kill_9_mid_apply_the_next_run_adopts_what_was_invited_and_invites_no_one_twice() {
    let team = Team::start(
        RevolutData::seeded(1),
        Faults {
            latency_ms: 150,
            ..Faults::default()
        },
    );
    let dir = config(&team.url(), &people(12), "");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("orgsync"))
        .args(["apply", "--auto-approve", "--at", AT, "-C"])
        .arg(dir.path())
        .env("REVOLUT_TOKEN", TOKEN)
        .env("GIT_CEILING_DIRECTORIES", dir.path().parent().unwrap())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("orgsync starts");
    // Wait until a few invites went through, then kill it without a chance to record.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while team.data.lock().unwrap().invites_received < 4 {
        assert!(std::time::Instant::now() < deadline, "no invites arrived");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().expect("kill -9");
    let _ = child.wait();
    let sent = team.data.lock().unwrap().invites_received;
    assert!(sent < 12, "killed mid-apply ({sent} sent)");

    let plan = plan_json(dir.path());
    let adopted = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "update" && a["changes"]["managed"]["to"] == true)
        .count();
    let invites = plan["summary"]["invite"].as_u64().unwrap() as usize;
    let arrived = team.emails().len() - 2;
    assert_eq!(adopted, arrived, "what arrived is adopted: {plan:#}");
    assert_eq!(invites, 12 - arrived, "the rest is invited");
    apply(dir.path(), &[]).assert_code(0);
    let emails = team.emails();
    let mut unique = emails.clone();
    unique.dedup();
    assert_eq!(emails, unique, "one member per address");
    assert_eq!(emails.len(), 2 + 12);
    assert_eq!(
        team.data.lock().unwrap().invites_received,
        12,
        "every invite was POSTed exactly once over both runs"
    );
    run(dir.path(), &["plan", "--detailed-exitcode", "--at", AT]).assert_code(0);
}

/// Roles cannot be created through the API: `validate --online` names a mapped role that does
/// not exist, before any plan.
#[test]
fn validate_online_names_a_role_that_does_not_exist_at_revolut() {
    let team = Team::start(RevolutData::seeded(1), Faults::default());
    let dir = config(&team.url(), &people(2), "");
    let ok = run(dir.path(), &["validate", "--online"]);
    ok.assert_code(0);
    std::fs::write(
        dir.path().join("functions.yaml"),
        FUNCTIONS.replace("target: Finance", "target: Sales"),
    )
    .unwrap();
    let bad = run(dir.path(), &["validate", "--online"]);
    bad.assert_code(1);
    bad.assert_that(
        bad.stderr.contains(
            "the role \"Sales\" does not exist at Revolut (roles: Admin, Finance, Member, Viewer)",
        ),
        "the missing role and the ones there are",
    );
    // A role named by its id or in another case: the plan finds roles by name, so the check
    // says which name to use.
    std::fs::write(
        dir.path().join("functions.yaml"),
        FUNCTIONS.replace("target: Finance", "target: finance"),
    )
    .unwrap();
    let near = run(dir.path(), &["validate", "--online"]);
    near.assert_code(1);
    near.assert_that(
        near.stderr
            .contains("the role \"finance\" is named \"Finance\" at Revolut"),
        "the role's name is given",
    );
    std::fs::write(
        dir.path().join("functions.yaml"),
        FUNCTIONS.replace("target: Finance", "target: Sales"),
    )
    .unwrap();
    // Planned anyway: the role to create is a manual step, and its person is invited with the
    // default role until it exists.
    commit_all(dir.path());
    let plan = plan_json(dir.path());
    let steps: Vec<(&str, &str)> = plan["manual_steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["what"].as_str().unwrap(),
                m["subjects"][0].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("create the function group in Revolut", "F-FIN"),
            (
                "place in the function groups to be created in Revolut",
                "5001"
            ),
        ],
        "{plan:#}"
    );
    apply(dir.path(), &[]).assert_code(0);
    assert_eq!(team.role_of(&email(1)).as_deref(), Some(emulator::MEMBER));
}

#[test]
fn an_expired_token_fails_the_plan_and_never_leaks_it() {
    let team = Team::start(
        RevolutData::seeded(3),
        Faults {
            expire_token_after: Some(1),
            ..Faults::default()
        },
    );
    let dir = config(&team.url(), &people(3), "");
    let r = run(dir.path(), &["plan", "--at", AT]);
    r.assert_code(1);
    r.assert_that(
        r.stderr.contains("refused the credentials") && r.stderr.contains("$REVOLUT_TOKEN"),
        "the error names the variable to fix",
    );
    r.assert_that(
        !r.stderr.contains(TOKEN) && !r.stdout.contains(TOKEN),
        "the token never appears",
    );
}

#[test]
fn manual_steps_for_what_revolut_cannot_do_are_shown_and_never_done() {
    let team = Team::start(RevolutData::seeded(0), Faults::default());
    let dir = config(&team.url(), &people(3), "");
    apply(dir.path(), &[]).assert_code(0);
    // Now ask for names too: Revolut cannot write them (the invitees have none yet).
    std::fs::write(
        dir.path().join("orgsync.yaml"),
        orgsync_yaml(&team.url(), "").replace(
            "managed_fields: [email, function_groups]",
            "managed_fields: [first_name, email, function_groups]",
        ),
    )
    .unwrap();
    commit_all(dir.path());
    let plan = plan_json(dir.path());
    assert!(plan["actions"].as_array().unwrap().is_empty(), "{plan:#}");
    let step = &plan["manual_steps"][0];
    assert_eq!(step["capability"], "first_name");
    assert_eq!(step["what"], "change the first name in Revolut");
    assert_eq!(step["subjects"], json!(["5001", "5002", "5003"]));
    assert!(
        plan["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["kind"] == "manual_step" && d["count"] == 3),
        "a manual_step diagnostic"
    );
    let text = run(dir.path(), &["plan", "--detailed-exitcode", "--at", AT]);
    text.assert_code(2);
    text.assert_that(
        text.stdout
            .contains("! change the first name in Revolut: 3 people (update): 5001, 5002, 5003")
            && text
                .stdout
                .contains("No changes orgsync can make, but 1 manual step"),
        "the text plan lists the step by identifier",
    );
    let md = run(dir.path(), &["plan", "--format", "markdown", "--at", AT]);
    md.assert_code(0);
    md.assert_that(
        md.stdout.contains("### Manual steps (1)")
            && md.stdout.contains("- [ ] change the first name in Revolut"),
        "the Markdown plan has a checklist",
    );
    md.assert_that(
        !md.stdout.contains("@people.example"),
        "no e-mail address in the Markdown",
    );
    let applied = apply(dir.path(), &[]);
    applied.assert_code(0);
    applied.assert_that(
        applied
            .stdout
            .contains("Nothing for orgsync to apply; 1 manual step for 3 subjects is left"),
        "apply says the steps are not done",
    );
}

fn target_for(team: &Team, page_size: u32, owned: Ownership) -> RevolutTarget {
    let cfg = RevolutTargetConfig {
        base_url: team.url(),
        token: Secret::Env("REVOLUT_TOKEN".to_owned()),
        default_role: "Member".to_owned(),
        page_size,
        rate_limit: 0,
        concurrency: 1,
        http: orgsync_core::config::HttpConfig {
            timeout_secs: 10,
            retries: 3,
        },
    };
    RevolutTarget::new(
        &cfg,
        owned,
        &Kit::new(|v| (v == "REVOLUT_TOKEN").then(|| TOKEN.to_owned()), false).expect("kit"),
    )
    .expect("a target")
}

/// Regression-style: 250 members created in one millisecond straddle three pages of 100; paging
/// by `created_before` alone would lose all but the first page of them.
#[test]
fn members_sharing_a_created_at_across_page_boundaries_are_all_listed() {
    let mut data = RevolutData::seeded(4);
    let instant: jiff::Timestamp = "2025-01-10T08:00:00.123Z".parse().unwrap();
    for i in 0..250 {
        data.add(
            &format!("tie{i}@people.example"),
            "T",
            "Ie",
            emulator::MEMBER,
            instant,
        );
    }
    let later: jiff::Timestamp = "2025-02-01T08:00:00Z".parse().unwrap();
    for i in 0..30 {
        data.add(
            &format!("late{i}@people.example"),
            "L",
            "Ate",
            emulator::MEMBER,
            later,
        );
    }
    let team = Team::start(data, Faults::default());
    let members = target_for(&team, 100, Ownership::new())
        .list_members()
        .expect("listed");
    assert_eq!(members.len(), 5 + 250 + 30);
    let mut ids: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), members.len(), "no member twice");

    // More members in one instant than the largest page: an error, never a partial listing.
    let mut data = RevolutData::new();
    for i in 0..1001 {
        data.add(
            &format!("same{i}@people.example"),
            "S",
            "Ame",
            emulator::MEMBER,
            instant,
        );
    }
    let team = Team::start(data, Faults::default());
    let err = target_for(&team, 100, Ownership::new())
        .list_members()
        .expect_err("cannot page through");
    assert!(err.to_string().contains("share the creation time"), "{err}");
}

#[test]
fn pages_cut_short_are_read_past_not_taken_for_the_end() {
    let mut data = RevolutData::seeded(0);
    let base: jiff::Timestamp = "2025-01-10T08:00:00Z".parse().unwrap();
    for i in 0..120 {
        let at = base + jiff::SignedDuration::from_secs(i / 4);
        data.add(
            &format!("p{i}@people.example"),
            "P",
            "Erson",
            emulator::MEMBER,
            at,
        );
    }
    let team = Team::start(
        data,
        Faults {
            short_page_every: Some(2),
            ..Faults::default()
        },
    );
    let members = target_for(&team, 25, Ownership::new())
        .list_members()
        .expect("listed");
    assert_eq!(members.len(), 121, "every member despite cut pages");
}

#[test]
fn the_owner_is_never_managed_nor_removed() {
    let team = Team::start(RevolutData::seeded(1), Faults::default());
    let owner = team.id_of(OWNER_EMAIL).unwrap();
    // Even a ledger that claims the owner does not make it managed.
    let mut target = target_for(
        &team,
        100,
        Ownership::from([(owner.clone(), "9".to_owned())]),
    );
    let snapshot = target.begin_apply().expect("read");
    let account = snapshot.accounts.iter().find(|a| a.id == owner).unwrap();
    assert!(!account.managed, "the owner is foreign");
    let remove = orgsync_core::vocabulary::Action {
        subject: "9".to_owned(),
        target_id: Some(owner.clone()),
        name: "Olivia Owner".to_owned(),
        changes: orgsync_core::vocabulary::Changes::bare(
            orgsync_core::vocabulary::ActionKind::Remove,
        ),
        reason: "edited plan".to_owned(),
        cause: Default::default(),
    };
    let mut ctx = ApplyContext {
        today: jiff::civil::date(2025, 6, 2),
        interrupt: Default::default(),
        created: Default::default(),
        accounts: Default::default(),
        progress: Default::default(),
    };
    let err = target.execute(&remove, &mut ctx).expect_err("refused");
    assert!(err.to_string().contains("owner"), "{err}");
    assert!(team.id_of(OWNER_EMAIL).is_some());
}

/// `orgsync sandbox revolut --config-out DIR`: serves a team and writes a configuration that
/// plans, applies and then plans nothing (once DIR is a repository, for the records).
#[test]
fn sandbox_revolut_serves_and_writes_a_configuration_that_converges() {
    let out = tempfile::tempdir().expect("a temporary directory");
    let port = crate::http::free_port();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("orgsync"))
        .args(["sandbox", "revolut", "--people", "60", "--token", TOKEN])
        .args(["--port", &port.to_string(), "--config-out"])
        .arg(out.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("orgsync sandbox revolut starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the emulator did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    commit_all(out.path());
    let first = run(out.path(), &["plan", "--at", AT]);
    let applied = apply(out.path(), &[]);
    let again = run(out.path(), &["plan", "--detailed-exitcode", "--at", AT]);
    let _ = child.kill();
    let _ = child.wait();
    first
        .assert_code(0)
        .assert_that(first.stdout.contains("to invite"), "the plan invites");
    applied.assert_code(0);
    again.assert_code(0);
}

/// The owner of the documented examples: a person in HR with the owner's address.
fn owner_person() -> Value {
    let mut p = person("4000", "Olivia", "Owner", "F-FIN");
    p["email"] = json!(OWNER_EMAIL);
    p
}

/// [`config`] without the `protected` entry for the owner.
fn config_unprotected(url: &str, source: &[Value]) -> tempfile::TempDir {
    let dir = config(url, source, "");
    std::fs::write(
        dir.path().join("orgsync.yaml"),
        orgsync_yaml(url, "").replace(&format!("protected:\n  - email: {OWNER_EMAIL}\n"), ""),
    )
    .unwrap();
    commit_all(dir.path());
    dir
}

/// Issue 21: with `adopt_unmanaged: true` (examples/revolut) and no `protected` entry, the plan
/// adopted the owner and planned `function_groups: [Owner] → [Member, Owner]`. The owner is
/// recognised by its role — the documented examples write its id `owner` and `OWNER` — and is
/// never adopted, changed or removed; a member's role change is one role, and Revolut's API has
/// none: a manual step, never a set.
#[test]
fn the_owner_is_never_adopted_or_changed_without_a_protected_entry() {
    for owner_role in ["owner", "OWNER"] {
        let mut data = RevolutData::seeded(2);
        if owner_role != emulator::OWNER {
            let name = data.roles.remove(emulator::OWNER).unwrap();
            data.roles.insert(owner_role.to_owned(), name);
            for m in data.members.values_mut() {
                if m.role_id == emulator::OWNER {
                    m.role_id = owner_role.to_owned();
                }
            }
        }
        // Invited by hand as a Viewer; HR maps their function onto Member.
        let at: jiff::Timestamp = "2024-04-01T09:00:00Z".parse().unwrap();
        data.add(&email(2), "Ann", "Person2", "viewer", at);
        let team = Team::start(data, Faults::default());
        let mut source = people(2);
        source.push(owner_person());
        let dir = config_unprotected(&team.url(), &source);
        let owner = team.id_of(OWNER_EMAIL).unwrap();

        let plan = plan_json(dir.path());
        for a in plan["actions"].as_array().unwrap() {
            assert_ne!(a["target_id"], json!(owner), "{owner_role}: {a:#}");
            assert_ne!(a["subject"], "4000", "{owner_role}: {a:#}");
            if let Some(to) = a["changes"]["function_groups"]["to"].as_array() {
                assert!(to.len() <= 1, "{owner_role}: one role each: {a:#}");
            }
        }
        assert!(
            plan["diagnostics"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| { d["kind"] == "protected_account" && d["subject"] == OWNER_EMAIL }),
            "{owner_role}: the owner is left alone, and the plan says so: {plan:#}"
        );
        let steps: Vec<(&str, &str)> = plan["manual_steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["what"].as_str().unwrap(),
                    m["subjects"][0].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            steps,
            [(
                "change their function group to \"Member\" in Revolut",
                "5002"
            )],
            "{owner_role}: the role change is one role, by hand: {plan:#}"
        );
        let text = run(dir.path(), &["plan", "--at", AT]);
        text.assert_that(
            !text.stdout.contains("Owner]") && !text.stdout.contains(", Owner"),
            "no plan line gives the owner's role",
        );

        let applied = apply(dir.path(), &[]);
        applied.assert_code(0);
        assert_eq!(team.role_of(OWNER_EMAIL).as_deref(), Some(owner_role));
        assert_eq!(team.role_of(&email(2)).as_deref(), Some("viewer"));
        assert_eq!(
            team.role_of(&email(1)).as_deref(),
            Some(emulator::FINANCE_ROLE)
        );
        // Adopted by hand's member stays adopted; the owner is never in the records.
        let again = plan_json(dir.path());
        assert!(again["actions"].as_array().unwrap().is_empty(), "{again:#}");
    }
}

/// Issue 21: `validate --online` refused `default_role: "Member"` — "is not a role of this
/// Revolut business (roles: …, Member, …)" — where the role's id is `member` (the documented
/// example). The check and the apply resolve a role one way: the apply invites with `member`.
#[test]
fn validate_online_accepts_default_role_member_whose_id_is_lower_case() {
    let team = Team::start(RevolutData::seeded(1), Faults::default());
    let dir = config(&team.url(), &people(1), "");
    // No functions: everyone gets default_role.
    std::fs::remove_file(dir.path().join("functions.yaml")).unwrap();
    std::fs::write(
        dir.path().join("orgsync.yaml"),
        orgsync_yaml(&team.url(), "")
            .replace("[email, function_groups]", "[email]")
            .replace("  retries: 6\n", "  retries: 6\n  default_role: Member\n"),
    )
    .unwrap();
    commit_all(dir.path());
    let ok = run(dir.path(), &["validate", "--online"]);
    ok.assert_code(0);
    ok.assert_that(!ok.stderr.contains("is not a role"), "Member is a role");
    apply(dir.path(), &[]).assert_code(0);
    assert_eq!(team.role_of(&email(1)).as_deref(), Some(emulator::MEMBER));

    // A role that is not there is still named, by the same rule.
    std::fs::write(
        dir.path().join("orgsync.yaml"),
        orgsync_yaml(&team.url(), "")
            .replace("[email, function_groups]", "[email]")
            .replace("  retries: 6\n", "  retries: 6\n  default_role: Staff\n"),
    )
    .unwrap();
    let bad = run(dir.path(), &["validate", "--online"]);
    bad.assert_code(1);
    bad.assert_that(
        bad.stderr.contains(
            "\"Staff\" is not a role of this Revolut business (roles: Admin, Finance, Member, Viewer)",
        ),
        "an unknown role is named",
    );
}

/// Issue 21: a read-only token gave 49 identical `403 This action is forbidden` failures. The
/// apply stops at the first 403 on a write, says why (the token's scope), and records the rest
/// as not attempted.
#[test]
fn a_read_only_token_stops_the_apply_at_the_first_403() {
    let mut data = RevolutData::seeded(1);
    data.read_only = true;
    let team = Team::start(data, Faults::default());
    let dir = config(&team.url(), &people(49), "");
    let report = dir.path().join("report.json");
    let r = apply(dir.path(), &["--report", report.to_str().unwrap()]);
    r.assert_code(1);
    r.assert_that(
        r.stdout
            .contains("Apply stopped: the target refused a write with 403")
            && r.stdout.contains("WRITE scope"),
        "the apply stops and names the token's scope",
    );
    let sent = team.data.lock().unwrap().invites_received;
    let concurrency = 4;
    assert!(
        (1..=concurrency).contains(&sent),
        "only the invites in flight were sent, not 49: {sent}"
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(report["interrupted"], false, "{report:#}");
    assert!(report["stopped"].as_str().unwrap().contains("403"));
    assert_eq!(
        report["not_attempted"]["invite"].as_u64().unwrap() + sent,
        49,
        "every invite not sent is recorded as not attempted: {report:#}"
    );
    assert_eq!(team.emails().len(), 2, "nothing was invited");
}

/// Issue 21: a member invited by hand (unmanaged) whose person left HR kept access and no plan
/// mentioned it. It is never touched (foreign), but the plan warns about it.
#[test]
fn an_unmanaged_member_matching_a_leaver_is_reported_never_touched() {
    let mut data = RevolutData::seeded(1);
    let at: jiff::Timestamp = "2024-04-01T09:00:00Z".parse().unwrap();
    data.add(&email(3), "Ann", "Person3", emulator::MEMBER, at);
    let team = Team::start(data, Faults::default());
    let mut source = people(3);
    source[2]["end"] = json!("2025-03-31");
    let dir = config(&team.url(), &source, "");
    let plan = plan_json(dir.path());
    let hand = team.id_of(&email(3)).unwrap();
    assert!(
        plan["actions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["target_id"] != json!(hand) && a["subject"] != "5003"),
        "never touched: {plan:#}"
    );
    let warning = plan["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "unmanaged_leaver")
        .unwrap_or_else(|| panic!("a warning: {plan:#}"));
    assert_eq!(warning["severity"], "warning");
    assert!(
        warning["message"].as_str().unwrap().starts_with(&format!(
            "unmanaged account {} matches a leaver by e-mail (5003",
            email(3)
        )),
        "{warning:#}"
    );
    let text = run(dir.path(), &["plan", "--at", AT]);
    text.assert_that(
        text.stdout.contains("matches a leaver by e-mail"),
        "the text plan shows it",
    );
    apply(dir.path(), &[]).assert_code(0);
    assert_eq!(team.id_of(&email(3)), Some(hand), "still there: foreign");
}
