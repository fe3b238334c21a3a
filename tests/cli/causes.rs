//! Issue 20: every action says its true cause, and the review leads with what reaches people.
//! End to end, in git repositories holding generated organisations: a pull request that swaps two
//! community mappings e-mails nobody by default and its verdict says so; the apply on merge
//! computes the same notify values the review showed; a first sync of thousands needs an
//! allowance written in the configuration, which the pull request shows.

use std::path::Path;

use serde_json::Value;

use crate::common::{Run, git, orgsync_in};

/// The day generated organisations are "as of".
const AT: &str = "2025-06-02";

fn orgsync(dir: &Path, args: &[&str]) -> Run {
    orgsync_in(dir, args)
}

/// A generated organisation of `people`, committed on `main` in a repository of its own.
fn organisation(people: usize) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    orgsync_in(
        dir,
        &[
            "sandbox",
            "generate",
            "--people",
            &people.to_string(),
            "--out",
            dir.to_str().unwrap(),
        ],
    )
    .assert_code(0);
    std::fs::write(dir.join(".gitignore"), "*.lock\n*.json.new\n").unwrap();
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", "configuration"]);
    tmp
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e})\n{}", run.report()))
}

fn verdict(markdown: &str) -> &str {
    markdown
        .lines()
        .find_map(|l| l.strip_prefix("**Verdict:** "))
        .unwrap_or_else(|| panic!("no verdict:\n{markdown}"))
}

fn swap_1001_and_1002(dir: &Path, notify_1001: bool) {
    let path = dir.join("communities.yaml");
    let yaml = std::fs::read_to_string(&path).unwrap();
    let a = "  - { source: \"1001\", target: \"Amsterdam Centrum\" }\n";
    let b = "  - { source: \"1002\", target: \"Rotterdam Centrum\" }\n";
    assert!(yaml.contains(a) && yaml.contains(b), "{yaml}");
    let notify = if notify_1001 { ", notify: true" } else { "" };
    let yaml = yaml
        .replace(a, "SWAP_A")
        .replace(
            b,
            "  - { source: \"1002\", target: \"Amsterdam Centrum\" }\n",
        )
        .replace(
            "SWAP_A",
            &format!("  - {{ source: \"1001\", target: \"Rotterdam Centrum\"{notify} }}\n"),
        );
    std::fs::write(&path, yaml).unwrap();
}

/// The moves of a plan JSON: (subject, cause, notify).
fn moves(plan: &Value) -> Vec<(String, String, bool)> {
    plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "move")
        .map(|a| {
            (
                a["subject"].as_str().unwrap().to_owned(),
                a["cause"].as_str().unwrap_or("source").to_owned(),
                a["changes"]["notify"]["to"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// Regression (issue 20): a PR that swapped two community mappings moved 312 people with
/// `notify: true` and the reason of an HR transfer, and the verdict said "this PR: 447 changes …
/// safe". The moves are the configuration's, e-mail nobody unless the mapping says so, the verdict
/// leads with the people e-mailed, and the apply on merge notifies exactly as reviewed.
#[test]
fn a_mapping_swap_emails_nobody_by_default() {
    let org = organisation(3000);
    let dir = org.path();
    // Bring the target in line with main: the apply is recorded against main's commit.
    orgsync(dir, &["apply", "--auto-approve", "--force", "--at", AT]).assert_code(0);
    git(dir, &["checkout", "-q", "-b", "swap"]);
    swap_1001_and_1002(dir, false);
    git(dir, &["commit", "-q", "-am", "swap 1001 and 1002"]);

    let md = orgsync(
        dir,
        &["plan", "--base", "main", "--format", "markdown", "--at", AT],
    );
    md.assert_code(0);
    assert!(
        verdict(&md.stdout).starts_with("on merge: e-mails nobody; this PR: "),
        "{}",
        verdict(&md.stdout)
    );
    let plan_file = dir.join("plan.json");
    let run = orgsync(
        dir,
        &[
            "plan",
            "--base",
            "main",
            "--format",
            "json",
            "--at",
            AT,
            "--out",
            plan_file.to_str().unwrap(),
        ],
    );
    run.assert_code(0);
    let plan = json(&run);
    let swapped = moves(&plan);
    assert!(swapped.len() > 20, "the swap moves people: {swapped:?}");
    assert!(
        swapped
            .iter()
            .all(|(_, cause, notify)| cause == "configuration" && !notify),
        "{swapped:?}"
    );
    let reason = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "move")
        .unwrap()["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        reason.starts_with("community mapping 100") && reason.contains(" now maps to "),
        "{reason}"
    );

    // The apply on merge accepts the review record: the same actions, the same notify values.
    let review = orgsync(
        dir,
        &["show", plan_file.to_str().unwrap(), "--review-record"],
    );
    review.assert_code(0);
    let record = dir.join("review.json");
    std::fs::write(&record, &review.stdout).unwrap();
    git(dir, &["checkout", "-q", "main"]);
    git(dir, &["merge", "-q", "--ff-only", "swap"]);
    let apply = orgsync(
        dir,
        &["apply", "--reviewed", record.to_str().unwrap(), "--at", AT],
    );
    apply.assert_code(0);
    let all = plan["actions"].as_array().unwrap().len();
    assert!(
        apply.stdout.contains(&format!(
            "{all} of its {all} action(s) are planned now as reviewed"
        )) && apply.stdout.contains("Nothing arrived since the review."),
        "{}",
        apply.report()
    );
}

/// A mapping that says `notify: true` e-mails the people its change moves, and only them; the
/// verdict counts them and the PR lists them.
#[test]
fn a_mapping_that_says_notify_emails_its_people_and_the_verdict_counts_them() {
    let org = organisation(2000);
    let dir = org.path();
    orgsync(dir, &["apply", "--auto-approve", "--force", "--at", AT]).assert_code(0);
    git(dir, &["checkout", "-q", "-b", "swap"]);
    swap_1001_and_1002(dir, true);
    git(
        dir,
        &["commit", "-q", "-am", "swap 1001 and 1002, notify 1001"],
    );
    let run = orgsync(
        dir,
        &["plan", "--base", "main", "--format", "json", "--at", AT],
    );
    run.assert_code(0);
    let plan = json(&run);
    let notified = moves(&plan).iter().filter(|m| m.2).count();
    let silent = moves(&plan).iter().filter(|m| !m.2).count();
    assert!(notified > 0 && silent > 0, "{:?}", moves(&plan));
    let md = orgsync(
        dir,
        &["plan", "--base", "main", "--format", "markdown", "--at", AT],
    );
    md.assert_code(0);
    let v = verdict(&md.stdout);
    assert!(
        v.starts_with(&format!(
            "on merge: e-mails {notified} people ({notified} transfer notices, {notified} asked for by a mapping's `notify: true`), all by this PR; this PR:"
        )),
        "{v}"
    );
    assert!(
        md.stdout.contains(
            "**It makes the app e-mail these people** (a mapping it changes says `notify: true`):"
        ),
        "{}",
        md.stdout
    );
}

/// Regression (issue 20): a first sync of 20,000 people was "safe": percentages start at 10
/// managed accounts and no count limit applied. Without `safety.first_sync_invites` the plan is
/// unsafe and apply refuses it; with it, the pull request's verdict shows the allowance.
#[test]
fn a_first_sync_of_thousands_needs_an_allowance() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // The base has no configuration yet: the pull request adds it.
    std::fs::write(dir.join("README.md"), "HR sync\n").unwrap();
    std::fs::write(dir.join(".gitignore"), "*.lock\n").unwrap();
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", "start"]);
    git(dir, &["checkout", "-q", "-b", "add-orgsync"]);
    orgsync_in(
        dir,
        &[
            "sandbox",
            "generate",
            "--people",
            "20000",
            "--out",
            dir.to_str().unwrap(),
        ],
    )
    .assert_code(0);
    // An empty target: the first sync.
    std::fs::remove_file(dir.join("workspace.json")).unwrap();
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", "add orgsync"]);

    let plan = orgsync(
        dir,
        &[
            "plan",
            "--base",
            "main",
            "--format",
            "markdown",
            "--at",
            AT,
            "--detailed-exitcode",
        ],
    );
    plan.assert_code(3);
    let v = verdict(&plan.stdout);
    assert!(
        v.contains("first sync: the plan invites ")
            && v.contains("safety.first_sync_invites allows 100"),
        "{v}"
    );
    assert!(v.ends_with("unsafe: over the safety limits"), "{v}");
    // Refused, and refused again: a refused apply does not start (regression: its `started`
    // record made the next plan take the invites for a killed apply's, and not count them).
    for _ in 0..2 {
        let apply = orgsync(dir, &["apply", "--auto-approve", "--at", AT]);
        assert_eq!(apply.code, 1, "{}", apply.report());
        assert!(
            apply.stderr.contains("unsafe"),
            "refused as unsafe\n{}",
            apply.report()
        );
        assert!(
            !dir.join("workspace.json").exists(),
            "nothing was applied\n{}",
            apply.report()
        );
    }
    let history = orgsync(dir, &["history"]);
    assert!(
        !history.stdout.contains("started"),
        "no apply started\n{}",
        history.report()
    );

    // The allowance, written in the pull request.
    let path = dir.join("orgsync.yaml");
    let yaml = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        yaml.replace(
            "  allow_community_removal: false\n",
            "  allow_community_removal: false\n  first_sync_invites: 20000\n",
        ),
    )
    .unwrap();
    git(dir, &["commit", "-q", "-am", "allow the first sync"]);
    let plan = orgsync(
        dir,
        &[
            "plan",
            "--base",
            "main",
            "--format",
            "markdown",
            "--at",
            AT,
            "--detailed-exitcode",
        ],
    );
    plan.assert_code(2);
    let v = verdict(&plan.stdout);
    assert!(
        v.contains("first sync: the plan invites ")
            && v.contains("within safety.first_sync_invites (20000)")
            && v.ends_with("; safe"),
        "{v}"
    );
    assert!(v.starts_with("on merge: e-mails "), "{v}");
}

/// Regression (found with the first-sync rule): apply wrote its `started` record before the
/// safety check, so an unsafe plan it refused left a record of a "killed" apply, and the next
/// plan took the refused actions for that apply's leftovers and did not count them against the
/// limits: the second `apply` of the same unsafe plan went through.
#[test]
fn a_refused_apply_is_not_taken_for_a_killed_one() {
    let org = organisation(300);
    let dir = org.path();
    std::fs::remove_file(dir.join("workspace.json")).unwrap();
    git(dir, &["commit", "-q", "-am", "an empty target"]);
    for _ in 0..2 {
        let apply = orgsync(dir, &["apply", "--auto-approve", "--at", AT]);
        assert_eq!(apply.code, 1, "{}", apply.report());
        assert!(apply.stderr.contains("unsafe"), "{}", apply.report());
        assert!(!dir.join("workspace.json").exists(), "{}", apply.report());
    }
    let plan = orgsync(dir, &["plan", "--at", AT, "--format", "json"]);
    let plan: Value = serde_json::from_str(&plan.stdout).unwrap();
    assert_eq!(plan["safety"]["safe"], false, "{}", plan["safety"]);
}

/// `notify` on a community mapping is a yes/no, checked at its line; function mappings have none
/// (a function group update never e-mails).
#[test]
fn a_mapping_notify_is_validated_at_its_line() {
    let dir = crate::common::copy_example("quickstart");
    let path = dir.path().join("communities.yaml");
    let yaml = std::fs::read_to_string(&path).unwrap();
    let entry = "target: Amsterdam Zuid }";
    assert!(yaml.contains(entry), "{yaml}");
    std::fs::write(
        &path,
        yaml.replace(entry, "target: Amsterdam Zuid, notify: \"yes\" }"),
    )
    .unwrap();
    let run = orgsync(dir.path(), &["validate"]);
    run.assert_code(1);
    assert!(
        run.stderr.contains("communities.yaml:5:") && run.stderr.contains("communities[1].notify"),
        "{}",
        run.report()
    );
    std::fs::write(
        &path,
        yaml.replace(entry, "target: Amsterdam Zuid, notify: true }"),
    )
    .unwrap();
    orgsync(dir.path(), &["validate"]).assert_code(0);

    let functions = dir.path().join("functions.yaml");
    let yaml = std::fs::read_to_string(&functions).unwrap();
    let entry = "target: Guest Relations }";
    assert!(yaml.contains(entry), "{yaml}");
    std::fs::write(
        &functions,
        yaml.replacen(entry, "target: Guest Relations, notify: true }", 1),
    )
    .unwrap();
    let run = orgsync(dir.path(), &["validate"]);
    run.assert_code(1);
    assert!(
        run.stderr.contains("functions.yaml:7:") && run.stderr.contains("notify"),
        "{}",
        run.report()
    );
}

/// Regression (review of issue 20): explain worked out a person's part of the plan without the
/// previous configuration, so after a mapping swap it called a configuration move an HR transfer
/// that e-mails the person, while the plan said the configuration moves them silently.
#[test]
fn explain_tells_the_same_cause_as_the_plan_after_a_mapping_change() {
    let org = organisation(300);
    let dir = org.path();
    orgsync(dir, &["apply", "--auto-approve", "--force", "--at", AT]).assert_code(0);
    swap_1001_and_1002(dir, false);
    git(dir, &["commit", "-q", "-am", "swap 1001 and 1002"]);

    // Unsafe or not (a small organisation moves most of its people): the plan is printed.
    let plan = orgsync(
        dir,
        &[
            "plan",
            "--format",
            "json",
            "--detailed-exitcode",
            "--at",
            AT,
        ],
    );
    assert!(matches!(plan.code, 2 | 3), "{}", plan.report());
    let moved = moves(&json(&plan));
    let (subject, cause, notify) = moved
        .iter()
        .find(|(_, cause, _)| cause == "configuration")
        .unwrap_or_else(|| panic!("a configuration move in {moved:?}"))
        .clone();
    assert!(!notify, "{subject}: {cause}");

    let run = orgsync(dir, &["explain", &subject, "--format", "json", "--at", AT]);
    run.assert_code(0);
    let explained = json(&run);
    let mv = explained["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "move")
        .unwrap_or_else(|| panic!("a move in {explained:#}"));
    assert_eq!(mv["cause"], "configuration", "{mv:#}");
    assert_eq!(mv["changes"]["notify"]["to"], false, "{mv:#}");
}
