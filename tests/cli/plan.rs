//! `orgsync plan` and `orgsync apply` on the quickstart: the renderers as a user sees them, the
//! plan → apply → plan loop, and every refusal (stale, unsafe, errors, no terminal).

use crate::common::{copy_example, orgsync, orgsync_in, settings};

const AT: &str = "2026-11-22";

fn replace_in(dir: &std::path::Path, file: &str, from: &str, to: &str) {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(text.contains(from), "{file} does not contain {from:?}");
    std::fs::write(&path, text.replace(from, to)).expect("write");
}

#[test]
fn quickstart_plan_as_text() {
    let run = orgsync(&["plan", "-C", "examples/quickstart", "--at", AT]);
    run.assert_code(0);
    settings(&run).bind(|| insta::assert_snapshot!(run.snapshot()));
}

#[test]
fn quickstart_plan_as_markdown_masks_personal_data() {
    let run = orgsync(&[
        "plan",
        "-C",
        "examples/quickstart",
        "--at",
        AT,
        "--format",
        "markdown",
    ]);
    run.assert_code(0)
        .assert_that(
            !run.stdout.contains("lina.chaouch@"),
            "an e-mail address is shown unmasked",
        )
        .assert_that(
            !run.stdout.contains("Chaouch"),
            "a last name is shown in full",
        )
        .assert_that(
            !run.stdout.contains("Lina") && run.stdout.contains("**L. C.** (person 4302)"),
            "a first name is shown in full (names are masked to initials)",
        )
        .assert_that(
            run.stdout.contains("Invite"),
            "the summary lists the invites",
        );
    let mut settings = settings(&run);
    settings.add_filter(r"plan made \S+", "plan made [TIME]");
    settings.add_filter(r"orgsync \d+\.\d+\.\d+", "orgsync [VERSION]");
    settings.bind(|| insta::assert_snapshot!(run.snapshot()));

    let shown = orgsync(&[
        "plan",
        "-C",
        "examples/quickstart",
        "--at",
        AT,
        "--format",
        "markdown",
        "--show-pii",
    ]);
    shown.assert_code(0).assert_that(
        shown.stdout.contains("lina.chaouch@grandhotels.example"),
        "--show-pii shows e-mail addresses",
    );
}

#[test]
fn quickstart_plan_as_json_follows_the_contract() {
    let run = orgsync(&[
        "plan",
        "-C",
        "examples/quickstart",
        "--at",
        AT,
        "--format",
        "json",
    ]);
    run.assert_code(0);
    let plan: serde_json::Value = serde_json::from_str(&run.stdout).expect("stdout is JSON");
    let keys: Vec<&str> = plan
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "format_version",
            "created_at",
            "orgsync_version",
            "at",
            "summary",
            "held",
            "actions",
            "diagnostics",
            "safety",
            "digests"
        ]
    );
    assert_eq!(plan["format_version"], 1);
    assert_eq!(plan["summary"]["invite"], 3);
    assert_eq!(plan["summary"]["anonymize"], 1);
    assert_eq!(plan["safety"]["safe"], true);
    let restore = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "restore")
        .expect("a restore");
    assert_eq!(restore["subject"], "4201");
    assert_eq!(restore["target_id"], "u-45");
    assert_eq!(
        restore["changes"]["status"],
        serde_json::json!({"from": "removed", "to": "active"})
    );
    let kinds: Vec<&str> = plan["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "unmapped_community",
        "unmapped_function",
        "stale_mapping",
        "identifier_changed",
        "adoptable_account",
        "test_location",
        "excluded",
        "protected_account",
    ] {
        assert!(kinds.contains(&kind), "no {kind} diagnostic in {kinds:?}");
    }
    let mut settings = settings(&run);
    settings.add_filter(r#""created_at": "[^"]+""#, r#""created_at": "[TIME]""#);
    settings.add_filter(
        r#""orgsync_version": "[^"]+""#,
        r#""orgsync_version": "[VERSION]""#,
    );
    settings.bind(|| insta::assert_snapshot!(run.snapshot()));
}

#[test]
fn detailed_exitcode_is_two_with_changes() {
    orgsync(&[
        "plan",
        "-C",
        "examples/quickstart",
        "--at",
        AT,
        "--detailed-exitcode",
    ])
    .assert_code(2);
}

#[test]
fn usage_errors_exit_one_never_two() {
    let run = orgsync(&[
        "plan",
        "-C",
        "examples/quickstart",
        "--at",
        "22-11-2026",
        "--detailed-exitcode",
    ]);
    run.assert_code(1)
        .assert_that(run.stderr.contains("--at"), "the error names the flag");
}

#[test]
fn diff_shows_the_target_state_before_and_after() {
    let run = orgsync(&["plan", "-C", "examples/quickstart", "--at", AT, "--diff"]);
    run.assert_code(0)
        .assert_that(
            run.stdout.contains("--- target (before)"),
            "a unified diff header",
        )
        .assert_that(
            run.stdout.contains("+++ target (after)"),
            "a unified diff header",
        )
        .assert_that(
            run.stdout.contains("lina.chaouch@grandhotels.example"),
            "the invited account appears",
        );
}

#[test]
fn apply_then_plan_again_shows_no_changes() {
    let dir = copy_example("quickstart");
    let d = dir.path();
    orgsync_in(d, &["plan", "--at", AT, "--out", "plan.json"]).assert_code(0);
    let before = std::fs::read_to_string(d.join("workspace.json")).unwrap();

    let apply = orgsync_in(d, &["apply", "plan.json", "--auto-approve"]);
    apply.assert_code(0).assert_that(
        apply
            .stdout
            .contains("Apply complete: 9 succeeded, 0 failed."),
        "every action succeeds",
    );
    assert_ne!(
        before,
        std::fs::read_to_string(d.join("workspace.json")).unwrap(),
        "the workspace changed"
    );

    let again = orgsync_in(d, &["plan", "--at", AT, "--detailed-exitcode"]);
    again.assert_code(0).assert_that(
        again.stdout.contains(
            "No changes, but 8 people in scope are held until someone decides (2: their community is not mapped, 5: their community's identifier changed, 1: an unmanaged account, adoption is off)",
        ) && !again.stdout.contains("matches the configuration"),
        "the second plan is empty, and says who is still held",
    );

    // The same saved plan is now stale: the target changed since it was made.
    let stale = orgsync_in(d, &["apply", "plan.json", "--auto-approve"]);
    stale.assert_code(1).assert_that(
        stale
            .stderr
            .contains("the target changed since this plan was made"),
        "a stale plan is refused",
    );
}

#[test]
fn apply_in_one_step_without_a_terminal_needs_auto_approve() {
    let dir = copy_example("quickstart");
    let d = dir.path();
    let before = std::fs::read_to_string(d.join("workspace.json")).unwrap();
    let run = orgsync_in(d, &["apply", "--at", AT]);
    run.assert_code(1).assert_that(
        run.stderr.contains("--auto-approve"),
        "the error says what to pass",
    );
    assert_eq!(
        before,
        std::fs::read_to_string(d.join("workspace.json")).unwrap(),
        "nothing was applied"
    );

    orgsync_in(d, &["apply", "--at", AT, "--auto-approve"]).assert_code(0);
    orgsync_in(d, &["plan", "--at", AT, "--detailed-exitcode"]).assert_code(0);
}

/// A saved plan was the review: `apply PLANFILE` asks no second question (issue 14), also
/// without a terminal — and still refuses a plan that is not what orgsync plans now.
#[test]
fn apply_of_a_saved_plan_asks_no_second_question() {
    let dir = copy_example("quickstart");
    let d = dir.path();
    orgsync_in(d, &["plan", "--at", AT, "--out", "plan.json"]).assert_code(0);
    let run = orgsync_in(d, &["apply", "plan.json"]);
    run.assert_code(0).assert_that(
        run.stdout.contains("Apply complete") && !run.stdout.contains("Do you want to apply"),
        "applied without a prompt",
    );
    orgsync_in(d, &["plan", "--at", AT, "--detailed-exitcode"]).assert_code(0);
}

#[test]
fn an_unsafe_plan_is_refused_unless_removals_are_allowed() {
    let dir = copy_example("quickstart");
    let d = dir.path();
    // One removal is planned (a contract that ended); allow none.
    replace_in(
        d,
        "orgsync.yaml",
        r#"max_removals: "10%""#,
        "max_removals: 0",
    );
    let plan = orgsync_in(d, &["plan", "--at", AT, "--out", "plan.json"]);
    plan.assert_code(1).assert_that(
        plan.stderr.contains("unsafe"),
        "plan says the plan is unsafe",
    );
    assert!(
        d.join("plan.json").exists(),
        "an unsafe plan is still saved, for review and --force"
    );

    let refused = orgsync_in(d, &["apply", "plan.json", "--auto-approve"]);
    refused.assert_code(1).assert_that(
        refused.stderr.contains("unsafe"),
        "apply refuses an unsafe plan",
    );

    orgsync_in(
        d,
        &[
            "apply",
            "plan.json",
            "--auto-approve",
            "--allow-removals",
            "1",
        ],
    )
    .assert_code(0);
}

#[test]
fn a_source_without_people_never_removes_everyone() {
    let dir = copy_example("quickstart");
    let d = dir.path();
    std::fs::write(
        d.join("hr-export.json"),
        r#"{"skip": 0, "take": 100, "rows": []}"#,
    )
    .unwrap();
    let run = orgsync_in(
        d,
        &["plan", "--at", AT, "--out", "plan.json", "--format", "json"],
    );
    run.assert_code(1);
    assert!(
        !d.join("plan.json").exists(),
        "no plan file is written for a plan with errors"
    );
    let plan: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON on stdout");
    assert_eq!(plan["summary"]["remove"], 0, "nothing is removed");
    assert!(
        plan["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["kind"] == "safety" && d["severity"] == "error"),
        "an error diagnostic explains why"
    );
}

#[test]
fn a_source_that_cannot_be_read_gives_an_error_and_no_plan() {
    let dir = copy_example("quickstart");
    let d = dir.path();
    std::fs::write(
        d.join("hr-export.json"),
        r#"{"rows": [{"Medewerker": "1", "Begindatum_contract": "31-02-2024"}"#,
    )
    .unwrap();
    let run = orgsync_in(d, &["plan", "--at", AT, "--out", "plan.json"]);
    run.assert_code(1)
        .assert_that(
            run.stderr.contains("hr-export.json"),
            "the error names the file",
        )
        .assert_that(run.stdout.is_empty(), "no plan is printed");
    assert!(!d.join("plan.json").exists(), "no plan file is written");
}

#[test]
fn an_invalid_configuration_gives_located_errors_and_no_plan() {
    let dir = copy_example("quickstart");
    let d = dir.path();
    replace_in(
        d,
        "orgsync.yaml",
        "retention_days: 30",
        "retention_dayz: 30",
    );
    let run = orgsync_in(d, &["plan", "--at", AT]);
    run.assert_code(1)
        .assert_that(run.stderr.contains("orgsync.yaml:"), "the error is located")
        .assert_that(
            run.stderr.contains("did you mean `retention_days`?"),
            "with a hint",
        )
        .assert_that(run.stdout.is_empty(), "no plan is printed");
}

/// The README's quickstart block is orgsync's real output: every line of it is a line `plan`
/// prints, in the same order, and it leaves out no kind header, no action and neither the
/// `Plan:` nor the `Held:` line (detail lines may be left out).
#[test]
fn readme_quickstart_block_is_the_real_output() {
    let readme =
        std::fs::read_to_string(crate::common::repo().join("README.md")).expect("read README.md");
    let section = readme
        .split_once("## The quickstart, line by line")
        .expect("README has the quickstart section")
        .1;
    let after = section
        .split_once("Then the **actions**")
        .expect("the section introduces the actions")
        .1;
    let block = after
        .split_once("```\n")
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .expect("a fenced block follows")
        .0;
    let run = orgsync(&["plan", "-C", "examples/quickstart", "--at", AT]);
    run.assert_code(0);

    let printed: Vec<&str> = run.stdout.lines().collect();
    let mut at = 0;
    for line in block.lines().filter(|l| !l.is_empty()) {
        match printed[at..].iter().position(|p| *p == line) {
            Some(i) => at += i + 1,
            None => panic!(
                "README.md's quickstart block has a line orgsync does not print (here, in this \
                 order):\n{line}\n\nrun `cargo run -- plan -C examples/quickstart --at {AT}` and \
                 copy its lines\n{}",
                run.report()
            ),
        }
    }
    let essential = |l: &&&str| {
        let header = l
            .strip_suffix(')')
            .and_then(|l| l.rsplit_once(" ("))
            .is_some_and(|(title, n)| {
                !title.starts_with(' ') && n.chars().all(|c| c.is_ascii_digit())
            });
        header
            || ["  + ", "  ~ ", "  - "].iter().any(|p| l.starts_with(p))
            || l.starts_with("Plan: ")
            || l.starts_with("Held: ")
    };
    let shown: Vec<&str> = block.lines().collect();
    let start = printed
        .iter()
        .position(|l| l.starts_with("orgsync will perform"))
        .expect("the plan lists actions");
    for line in printed[start..].iter().filter(essential) {
        assert!(
            shown.contains(line),
            "README.md's quickstart block leaves out a line orgsync prints:\n{line}\n{}",
            run.report()
        );
    }
}

/// Issue 20 (explain cost more than a whole plan): explain now works out only the person's part
/// of the plan. On a generated organisation with churn (joiners, leavers, transfers, renamed
/// communities), for a sample of people — every 20th, everyone the plan acts on, and people who
/// left — explain gives exactly what the explanation from the whole plan gives: the same
/// scope steps, placements, account, actions and diagnostics.
#[test]
fn explain_of_one_person_equals_the_explanation_from_the_whole_plan() {
    use orgsync_connectors::file_source::FileSource;
    use orgsync_connectors::file_target::FileTarget;
    use orgsync_core::config::{SourceConfig, TargetConfig};
    use orgsync_core::connector::{Source, Target};
    use orgsync_core::explain::{explain, explain_person};
    use orgsync_core::plan::{PlanInput, build};
    use orgsync_sandbox::generate::{DEFAULT_TODAY, GenerateOptions, generate, write};

    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &generate(&GenerateOptions::new(1_000, 7))).unwrap();
    let config = orgsync_repo::load_dir(dir.path()).expect("a valid configuration");
    let (SourceConfig::File(s), TargetConfig::File(t)) = (&config.source, &config.target) else {
        panic!("a file source and target")
    };
    let source = FileSource::new(dir.path(), s).fetch().unwrap();
    let mut file_target = FileTarget::for_config(dir.path(), t).unwrap();
    let capabilities = file_target.capabilities();
    let target = file_target.fetch().unwrap();
    let plan = build(PlanInput {
        config: &config,
        source: &source,
        target: &target,
        today: DEFAULT_TODAY,
        created_at: String::new(),
        digests: Default::default(),
        recorded: None,
        capabilities: &capabilities,
        previous: None,
        placed: None,
    });
    let mut sample: Vec<&str> = source
        .persons
        .iter()
        .step_by(20)
        .map(|p| p.id.as_str())
        .collect();
    sample.extend(plan.actions.iter().map(|a| a.subject.as_str()));
    sample.sort_unstable();
    sample.dedup();
    let mut compared = 0;
    let mut kinds_seen = std::collections::BTreeSet::new();
    for id in sample {
        let Ok(whole) = explain(&config, &source, &target, &plan, DEFAULT_TODAY, id) else {
            continue; // a group's subject, not a person
        };
        let (one, _) = explain_person(
            PlanInput {
                config: &config,
                source: &source,
                target: &target,
                today: DEFAULT_TODAY,
                created_at: String::new(),
                digests: Default::default(),
                recorded: None,
                capabilities: &capabilities,
                previous: None,
                placed: None,
            },
            id,
        )
        .expect("explained");
        assert_eq!(one, whole, "explain {id}");
        kinds_seen.extend(whole.actions.iter().map(|a| a.kind().as_str()));
        compared += 1;
    }
    for kind in ["invite", "update", "move", "remove"] {
        assert!(
            kinds_seen.contains(kind),
            "the sample holds a {kind}: {kinds_seen:?}"
        );
    }
    assert!(compared >= 60, "{compared} people compared");
}
