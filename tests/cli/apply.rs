//! `orgsync apply` (issue 11): a plan file is not trusted, and safety covers every blast radius.

use serde_json::{Value, json};

use crate::common::{copy_example, orgsync_in, settings};

const AT: &str = "2026-11-22";

fn read(dir: &std::path::Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap()
}

fn replace_in(dir: &std::path::Path, file: &str, from: &str, to: &str) {
    let text = read(dir, file);
    assert!(text.contains(from), "{file} holds {from:?}");
    std::fs::write(dir.join(file), text.replace(from, to)).unwrap();
}

/// The action of `kind` on `subject` in a plan's JSON.
fn action_mut<'a>(plan: &'a mut Value, kind: &str, subject: &str) -> &'a mut Value {
    plan["actions"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|a| a["kind"] == kind && a["subject"] == subject)
        .unwrap_or_else(|| panic!("the plan has {kind} {subject}"))
}

/// An account action on `target_id` that orgsync did not plan.
fn forged(kind: &str, subject: &str, target_id: &str, changes: Value) -> Value {
    json!({ "kind": kind, "subject": subject, "target_id": target_id, "name": "Forged",
            "changes": changes, "reason": "hand-written" })
}

/// One edit of a saved plan: what it is, whether it starts from an unsafe plan, and the edit.
type Edit = (&'static str, bool, Box<dyn Fn(&mut Value)>);

/// The probe's fault list: each edit of a saved plan, and whether it starts from an unsafe plan
/// (`max_removals: 0`).
fn edits() -> Vec<Edit> {
    vec![
        (
            "an update's e-mail set to the protected admin's address",
            false,
            Box::new(|p| {
                action_mut(p, "update", "4008")["changes"]["email"] = json!({ "from": "milan.hendriks@grandhotels.example", "to": "admin@grandhotels.example" });
            }),
        ),
        (
            "the protected admin's e-mail changed",
            false,
            Box::new(|p| {
                let a = forged(
                    "update",
                    "admin",
                    "u-47",
                    json!({ "email": { "from": "admin@grandhotels.example", "to": "attacker@evil.example" } }),
                );
                p["actions"].as_array_mut().unwrap().insert(3, a);
            }),
        ),
        (
            "an active account anonymized",
            false,
            Box::new(|p| {
                let a = forged(
                    "anonymize",
                    "4001",
                    "u-1",
                    json!({ "email": { "from": "sanne.jansen@grandhotels.example", "to": null },
                            "status": { "from": "active", "to": "anonymized" } }),
                );
                p["actions"].as_array_mut().unwrap().push(a);
                p["summary"]["anonymize"] = json!(2);
            }),
        ),
        (
            "safety.safe flipped on an unsafe plan",
            true,
            Box::new(|p| p["safety"] = json!({ "safe": true, "violations": [] })),
        ),
        (
            "every active account removed, marked safe",
            false,
            Box::new(|p| {
                let actions = p["actions"].as_array_mut().unwrap();
                for i in 1..=20 {
                    actions.push(forged(
                        "remove",
                        &format!("{}", 4000 + i),
                        &format!("u-{i}"),
                        json!({ "status": { "from": "active", "to": "removed" } }),
                    ));
                }
                p["summary"]["remove"] = json!(21);
            }),
        ),
        (
            "a diagnostic removed",
            false,
            Box::new(|p| {
                p["diagnostics"].as_array_mut().unwrap().remove(0);
            }),
        ),
        (
            "an action repeated",
            false,
            Box::new(|p| {
                let remove = action_mut(p, "remove", "4030").clone();
                p["actions"].as_array_mut().unwrap().push(remove);
            }),
        ),
        (
            "an action taken out",
            false,
            Box::new(|p| {
                p["actions"]
                    .as_array_mut()
                    .unwrap()
                    .retain(|a| a["kind"] != "restore");
            }),
        ),
        (
            "a reason changed",
            false,
            Box::new(|p| {
                action_mut(p, "remove", "4030")["reason"] = json!("asked to leave");
            }),
        ),
        (
            "the summary counts changed",
            false,
            Box::new(|p| p["summary"]["invite"] = json!(0)),
        ),
        (
            "a move made silent",
            false,
            Box::new(|p| {
                action_mut(p, "move", "4017")["changes"]["notify"]["to"] = json!(false);
            }),
        ),
        (
            "the counts of people held changed",
            false,
            Box::new(|p| p["held"] = json!({})),
        ),
        (
            "the date moved",
            false,
            Box::new(|p| p["at"] = json!("2026-11-23")),
        ),
        (
            "the actions reordered",
            false,
            Box::new(|p| p["actions"].as_array_mut().unwrap().reverse()),
        ),
        (
            "a field an update never writes added to its changes",
            false,
            Box::new(|p| {
                action_mut(p, "update", "4008")["changes"]["status"] =
                    json!({ "from": "active", "to": "removed" });
            }),
        ),
        (
            "a value of the wrong type in a move",
            false,
            Box::new(|p| {
                action_mut(p, "move", "4017")["changes"]["notify"]["to"] = json!("yes");
            }),
        ),
    ]
}

/// Regression (issue 11 §1): 13 of 13 hand-edited plan files were applied. Every edit of the
/// fault list is refused with "this plan was changed after it was made", exit 1, and the
/// workspace is left as it was.
#[test]
fn an_edited_plan_file_is_refused_and_nothing_is_written() {
    let mut refused = 0;
    for (what, unsafe_plan, edit) in edits() {
        let dir = copy_example("quickstart");
        let d = dir.path();
        if unsafe_plan {
            replace_in(
                d,
                "orgsync.yaml",
                r#"max_removals: "10%""#,
                "max_removals: 0",
            );
        }
        let plan = orgsync_in(d, &["plan", "--at", AT, "--out", "plan.json"]);
        plan.assert_code(if unsafe_plan { 1 } else { 0 });
        let mut json: Value = serde_json::from_str(&read(d, "plan.json")).unwrap();
        let original = json.clone();
        edit(&mut json);
        assert_ne!(json, original, "{what}: the edit changes the file");
        std::fs::write(
            d.join("plan.json"),
            serde_json::to_string_pretty(&json).unwrap(),
        )
        .unwrap();
        let before = read(d, "workspace.json");

        let run = orgsync_in(d, &["apply", "plan.json", "--auto-approve"]);
        run.assert_code(1)
            .assert_that(
                run.stderr
                    .contains("this plan was changed after it was made"),
                &format!("{what}: the error says the plan was changed"),
            )
            .assert_that(run.stdout.is_empty(), "nothing is printed as applied");
        assert_eq!(
            before,
            read(d, "workspace.json"),
            "{what}: nothing was written"
        );
        refused += 1;
        if what == "the protected admin's e-mail changed" {
            settings(&run).bind(|| insta::assert_snapshot!(run.snapshot()));
        }
    }
    assert_eq!(refused, edits().len());
}

/// A plan is checked against the configuration being applied: a plan made while the limits
/// allowed it is refused once the configuration changed, and an unedited plan applies.
#[test]
fn a_plan_file_is_checked_against_the_configuration_being_applied() {
    let dir = copy_example("quickstart");
    let d = dir.path();
    orgsync_in(d, &["plan", "--at", AT, "--out", "plan.json"]).assert_code(0);
    replace_in(
        d,
        "orgsync.yaml",
        r#"max_removals: "10%""#,
        "max_removals: 0",
    );
    let before = read(d, "workspace.json");
    let refused = orgsync_in(d, &["apply", "plan.json", "--auto-approve"]);
    refused.assert_code(1).assert_that(
        refused
            .stderr
            .contains("the configuration changed since this plan was made"),
        "the plan's configuration is not the one being applied",
    );
    assert_eq!(before, read(d, "workspace.json"), "nothing was written");

    replace_in(
        d,
        "orgsync.yaml",
        "max_removals: 0",
        r#"max_removals: "10%""#,
    );
    let ok = orgsync_in(d, &["apply", "plan.json", "--auto-approve"]);
    ok.assert_code(0).assert_that(
        ok.stdout.contains("Apply complete: 9 succeeded, 0 failed."),
        "an unedited plan applies",
    );
}

/// Regression (issue 11 §2): a swapped community mapping moved and e-mailed most people and the
/// plan was "safe". Now it is unsafe: `plan --detailed-exitcode` exits 3, apply refuses it, and
/// the one-off overrides for moves and notifying moves apply it.
#[test]
fn a_swapped_mapping_is_unsafe_until_its_moves_are_allowed() {
    let dir = copy_example("quickstart");
    let d = dir.path();
    replace_in(
        d,
        "communities.yaml",
        "{ source: \"1001\", name: Amsterdam Centrum, target: Amsterdam Centrum }",
        "{ source: \"1001\", name: Amsterdam Centrum, target: Rotterdam }",
    );
    replace_in(
        d,
        "communities.yaml",
        "{ source: \"1003\", name: Rotterdam, target: Rotterdam }",
        "{ source: \"1003\", name: Rotterdam, target: Amsterdam Centrum }",
    );
    let plan = orgsync_in(
        d,
        &[
            "plan",
            "--at",
            AT,
            "--out",
            "plan.json",
            "--detailed-exitcode",
        ],
    );
    plan.assert_code(3)
        .assert_that(
            plan.stderr
                .contains("safety.max_notifying_moves allows 10%"),
            "the notifying moves are over their own limit",
        )
        .assert_that(
            plan.stderr.contains("--allow-notifying-moves"),
            "the warning names the override",
        );
    let json: Value = serde_json::from_str(&read(d, "plan.json")).unwrap();
    let moves = json["summary"]["move"].as_u64().unwrap();
    assert!(moves > 10, "the swap moves many people ({moves})");

    let before = read(d, "workspace.json");
    let refused = orgsync_in(d, &["apply", "plan.json", "--auto-approve"]);
    refused.assert_code(1);
    assert_eq!(before, read(d, "workspace.json"), "nothing was written");
    settings(&refused).bind(|| insta::assert_snapshot!(refused.stderr));

    let n = moves.to_string();
    let too_few = orgsync_in(
        d,
        &["apply", "plan.json", "--auto-approve", "--allow-moves", &n],
    );
    too_few.assert_code(1).assert_that(
        too_few.stderr.contains("--allow-notifying-moves"),
        "allowing moves does not allow e-mailing everyone",
    );
    orgsync_in(
        d,
        &[
            "apply",
            "plan.json",
            "--auto-approve",
            "--allow-moves",
            &n,
            "--allow-notifying-moves",
            &n,
        ],
    )
    .assert_code(0);
}

/// Adds `n` new hires to the quickstart's HR export, ids from 4900.
fn hire_n(dir: &std::path::Path, n: usize) {
    let path = dir.join("hr-export.json");
    let mut export: Value = serde_json::from_str(&read(dir, "hr-export.json")).unwrap();
    let rows = export["rows"].as_array_mut().unwrap();
    for i in 0..n {
        let mut row = rows[0].clone();
        let id = format!("{}", 4900 + i);
        row["Medewerker"] = json!(id);
        row["Achternaam"] = json!(format!("Nieuw{id}"));
        row["Email_werk"] = json!(format!("new.{id}@grandhotels.example"));
        row["Begindatum_contract"] = json!("2026-11-01T00:00:00Z");
        rows.push(row);
    }
    std::fs::write(path, serde_json::to_string_pretty(&export).unwrap()).unwrap();
}

/// Review = apply (issue 14): `apply --reviewed` applies the reviewed plan plus the HR changes
/// that arrived since, and the one-off allowances cover what was reviewed, never the drift:
/// drift over a limit on its own is refused whatever `--allow-*` says, and nothing is written.
#[test]
fn apply_reviewed_takes_drift_only_within_the_limits() {
    let dir = copy_example("quickstart");
    let d = dir.path();
    replace_in(
        d,
        "orgsync.yaml",
        "  max_removals: \"10%\"",
        "  max_removals: \"10%\"\n  max_invites: 3",
    );
    let plan = orgsync_in(d, &["plan", "--at", AT, "--out", "plan.json"]);
    plan.assert_code(0);
    let record = orgsync_in(d, &["show", "plan.json", "--review-record"]);
    record.assert_code(0);
    std::fs::write(d.join("review.json"), &record.stdout).unwrap();

    // Four hires since the review: over max_invites (3) on their own.
    let saved = read(d, "hr-export.json");
    hire_n(d, 4);
    let before = read(d, "workspace.json");
    let refused = orgsync_in(
        d,
        &[
            "apply",
            "--at",
            AT,
            "--reviewed",
            "review.json",
            "--allow-invites",
            "10",
        ],
    );
    refused
        .assert_code(1)
        .assert_that(
            refused
                .stderr
                .contains("arrived since the review and, on their own, break the safety limits"),
            "the drift is refused",
        )
        .assert_that(
            refused.stdout.contains("invite 4903"),
            "the drift is listed",
        );
    assert_eq!(before, read(d, "workspace.json"), "nothing was written");

    // One hire: within the limit on its own; the whole plan (4 invites) needs its allowance.
    std::fs::write(d.join("hr-export.json"), &saved).unwrap();
    hire_n(d, 1);
    let applied = orgsync_in(
        d,
        &[
            "apply",
            "--at",
            AT,
            "--reviewed",
            "review.json",
            "--allow-invites",
            "4",
            "--report",
            "report.json",
        ],
    );
    applied
        .assert_code(0)
        .assert_that(
            applied.stdout.contains("Arrived since the review (not reviewed; applied only within the safety limits): 1 invite"),
            "the drift is listed apart",
        );
    let report: Value = serde_json::from_str(&read(d, "report.json")).unwrap();
    assert_eq!(report["applied"]["invite"], 4, "{report}");
    assert_eq!(report["review"]["drift"]["invite"], 1, "{report}");
    let text = read(d, "report.json");
    assert!(
        !text.contains("grandhotels"),
        "the report holds counts only: {text}"
    );

    // A plan file is not a review record.
    let wrong = orgsync_in(d, &["apply", "--at", AT, "--reviewed", "plan.json"]);
    wrong.assert_code(1).assert_that(
        wrong.stderr.contains("this is a plan, not a review record"),
        "says what it is",
    );
}
