//! Google Workspace → Revolut Business (issue 12), the seed's own pairing: the real `orgsync
//! sandbox google` process and the Revolut emulator, both injecting faults, and the real `plan`
//! and `apply` between them. Each active Google user becomes one Revolut member, once; suspended
//! users are not invited; what Revolut's API cannot do (communities) is a manual step, never done;
//! a second run has nothing left to do.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use orgsync_sandbox::revolut::{self as emulator, RevolutData};
use orgsync_sandbox::serve::{Faults, spawn};
use serde_json::Value;

use crate::google::{Sandbox, actions, key_env, run};

const AT: &str = "2025-06-02";
const TOKEN: &str = "revolut-token-google-7c1e";

#[test]
fn google_to_revolut_with_faults_on_both_sides_invites_each_active_user_once_and_converges() {
    let google = Sandbox::start(
        "google",
        &[
            "--short-page-every",
            "3",
            "--quota-403-every",
            "4",
            "--throttle-every",
            "5",
            "--expire-token-after",
            "6",
        ],
    );
    let data = Arc::new(Mutex::new(RevolutData::seeded(3)));
    let faults = Faults {
        throttle_every: Some(25),
        error_rate: 0.05,
        ..Faults::default()
    };
    let team = spawn(emulator::router_shared(Arc::clone(&data), TOKEN, faults), 0)
        .expect("the Revolut emulator starts");
    let before = data.lock().unwrap().len();

    // The sandbox's configuration, pointed at Revolut: everyone gets the default role (no
    // function mapping), and the config is committed (Revolut ownership lives in the records).
    let dir = google.path();
    let yaml = std::fs::read_to_string(dir.join("orgsync.yaml")).unwrap();
    let file_target = "target:\n  kind: file\n  path: workspace.json\n";
    assert!(yaml.contains(file_target), "{yaml}");
    let yaml = yaml.replace(
        file_target,
        &format!(
            "target:\n  kind: revolut\n  base_url: {}{}\n  token: ${{env:REVOLUT_TOKEN}}\n  retries: 8\n",
            team.url(),
            emulator::BASE_PATH
        ),
    );
    // A first sync of the whole team: its allowance is written in, as its pull request would.
    let yaml = yaml.replace(
        "  allow_community_removal: false\n",
        "  allow_community_removal: false\n  first_sync_invites: 10000\n",
    );
    assert!(yaml.contains("first_sync_invites"), "{yaml}");
    std::fs::write(dir.join("orgsync.yaml"), yaml).unwrap();
    std::fs::remove_file(dir.join("functions.yaml")).unwrap();
    std::fs::remove_file(dir.join("workspace.json")).unwrap();
    crate::common::commit_all(dir);
    let mut env = key_env(&google);
    env.push(("REVOLUT_TOKEN", TOKEN.to_owned()));

    let plan = run(dir, &env, &["plan", "--format", "json", "--at", AT]);
    plan.assert_code(0);
    let plan: Value = serde_json::from_str(&plan.stdout).expect("plan JSON");
    let planned = actions(&plan);
    let invites: BTreeSet<&str> = planned
        .iter()
        .filter(|(k, _)| k == "invite")
        .map(|(_, s)| s.as_str())
        .collect();
    assert!(
        invites.len() > 50,
        "the active users are invited: {planned:?}"
    );
    assert!(
        planned.iter().all(|(k, _)| k == "invite"),
        "an empty team: invites only, no removal of the owner or the foreign members: {planned:?}"
    );
    let steps = plan["manual_steps"].as_array().cloned().unwrap_or_default();
    assert!(
        steps.iter().any(|s| s["capability"] == "communities"),
        "Revolut has no communities: a manual step, not a silent skip: {steps:?}"
    );

    let applied = run(dir, &env, &["apply", "--auto-approve", "--at", AT]);
    applied.assert_code(0);
    let emails: Vec<String> = {
        let d = data.lock().unwrap();
        d.members.values().map(|m| m.email.to_lowercase()).collect()
    };
    let unique: BTreeSet<&String> = emails.iter().collect();
    assert_eq!(
        unique.len(),
        emails.len(),
        "nobody invited twice: {emails:?}"
    );
    assert_eq!(
        emails.len(),
        before + invites.len(),
        "each invite is one member"
    );

    let again = run(dir, &env, &["plan", "--format", "json", "--at", AT]);
    again.assert_code(0);
    let again: Value = serde_json::from_str(&again.stdout).expect("plan JSON");
    assert!(
        actions(&again).is_empty(),
        "converged: {:?}",
        actions(&again)
    );
    for secret in [TOKEN, "PRIVATE KEY"] {
        for out in [&applied.stdout, &applied.stderr] {
            assert!(!out.contains(secret), "a secret in the output");
        }
    }
}

/// Issue 21 (the outside run was Google → Revolut): a member invited by hand whose person left
/// — a suspended Google user, whom the source leaves out — kept access and no plan mentioned
/// it. It is never touched (foreign), and the plan warns "unmanaged account … matches a leaver
/// by e-mail".
#[test]
fn a_hand_invited_member_of_a_suspended_google_user_is_reported_never_touched() {
    use orgsync_sandbox::generate::{GenerateOptions, generate};
    use orgsync_sandbox::google::GoogleData;

    let google = Sandbox::start("google", &[]);
    // The address of a suspended user of the sandbox's data (150 people, seed 42).
    let opts = GenerateOptions::new(150, 42);
    let users = GoogleData::from_snapshot(&generate(&opts).source, opts.today).users;
    let suspended = users
        .iter()
        .find(|u| u["suspended"] == true)
        .and_then(|u| u["primaryEmail"].as_str())
        .expect("the sandbox has a suspended user")
        .to_owned();
    let mut seeded = RevolutData::seeded(1);
    let at: jiff::Timestamp = "2024-04-01T09:00:00Z".parse().unwrap();
    let hand = seeded.add(&suspended, "By", "Hand", emulator::MEMBER, at);
    let data = Arc::new(Mutex::new(seeded));
    let team = spawn(
        emulator::router_shared(Arc::clone(&data), TOKEN, Faults::default()),
        0,
    )
    .expect("the Revolut emulator starts");
    let dir = google.path();
    let yaml = std::fs::read_to_string(dir.join("orgsync.yaml"))
        .unwrap()
        .replace(
            "target:\n  kind: file\n  path: workspace.json\n",
            &format!(
                "target:\n  kind: revolut\n  base_url: {}{}\n  token: ${{env:REVOLUT_TOKEN}}\n",
                team.url(),
                emulator::BASE_PATH
            ),
        )
        // A first sync: its allowance written in, as its pull request would.
        .replace(
            "  allow_community_removal: false\n",
            "  allow_community_removal: false\n  first_sync_invites: 10000\n",
        );
    assert!(yaml.contains("first_sync_invites"), "{yaml}");
    std::fs::write(dir.join("orgsync.yaml"), yaml).unwrap();
    std::fs::remove_file(dir.join("functions.yaml")).unwrap();
    std::fs::remove_file(dir.join("workspace.json")).unwrap();
    crate::common::commit_all(dir);
    let mut env = key_env(&google);
    env.push(("REVOLUT_TOKEN", TOKEN.to_owned()));

    let plan = run(dir, &env, &["plan", "--format", "json", "--at", AT]);
    plan.assert_code(0);
    let plan: Value = serde_json::from_str(&plan.stdout).expect("plan JSON");
    assert!(
        plan["actions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["target_id"] != hand.as_str()),
        "never touched"
    );
    let warning = plan["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "unmanaged_leaver")
        .unwrap_or_else(|| panic!("a warning: {:#}", plan["diagnostics"]));
    assert_eq!(warning["severity"], "warning");
    assert!(
        warning["message"].as_str().unwrap().starts_with(&format!(
            "unmanaged account {suspended} matches a leaver by e-mail"
        )),
        "{warning:#}"
    );
    run(dir, &env, &["apply", "--auto-approve", "--at", AT]).assert_code(0);
    assert!(
        data.lock().unwrap().members.contains_key(&hand),
        "still there: foreign"
    );
}
