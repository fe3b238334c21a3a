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

/// Issue 20 (explain cost more than a whole plan): explain now plans only the people and
/// accounts linked to the person by an identifier or an address. On a generated organisation
/// with churn (joiners, leavers, transfers, renamed communities, hand-made accounts), with
/// identity knots added by hand (two people sharing an address, an identifier changed in HR,
/// an account whose address is one person's and whose external id is another's, a removed
/// account past retention) and compared with the configuration before a mapping swap, for a
/// sample of people — every 5th, everyone the plan acts on, and people who left — explain gives
/// exactly what the explanation from the whole plan gives: the same scope steps, placements,
/// account, actions and causes, and the same diagnostics — those the plan sums over many people
/// ("2 unmanaged accounts match people …") are told for the person and whom they are linked to.
#[test]
fn explain_of_one_person_equals_the_explanation_from_the_whole_plan() {
    use orgsync_connectors::file_source::FileSource;
    use orgsync_connectors::file_target::FileTarget;
    use orgsync_core::config::{SourceConfig, TargetConfig};
    use orgsync_core::connector::{Source, Target};
    use orgsync_core::explain::{explain, explain_person};
    use orgsync_core::model::AccountStatus;
    use orgsync_core::plan::{PlanInput, build};
    use orgsync_sandbox::generate::{DEFAULT_TODAY, GenerateOptions, generate, write};

    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &generate(&GenerateOptions::new(1_000, 7))).unwrap();
    let config = orgsync_repo::load_dir(dir.path()).expect("a valid configuration");
    let (SourceConfig::File(s), TargetConfig::File(t)) = (&config.source, &config.target) else {
        panic!("a file source and target")
    };
    let mut source = FileSource::new(dir.path(), s).fetch().unwrap();
    let mut file_target = FileTarget::for_config(dir.path(), t).unwrap();
    let capabilities = file_target.capabilities();
    let mut target = file_target.fetch().unwrap();

    // Identity knots. Two people share an address.
    let shared = source.persons[10].email.clone();
    source.persons[11].email = shared;
    // An identifier changed in HR: the account still carries the old one.
    source.persons[20].id = format!("{}-new", source.persons[20].id);
    // An account with one person's address and another's external id.
    let (a_email, b_id) = (
        source.persons[30].email.clone(),
        source.persons[31].id.clone(),
    );
    let mut knot = target.accounts[0].clone();
    knot.id = "u-knot".to_owned();
    knot.email = a_email;
    knot.external_id = Some(b_id);
    target.accounts.push(knot);
    // A removed account past retention with a current person's address.
    let mut expired = target.accounts[1].clone();
    expired.id = "u-expired".to_owned();
    expired.external_id = Some("gone-1".to_owned());
    expired.email = source.persons[40].email.clone();
    expired.status = AccountStatus::Removed;
    expired.removed_at = Some(DEFAULT_TODAY.saturating_sub(jiff::Span::new().days(400)));
    target.accounts.push(expired);

    // The configuration of the newest apply: the first two community mappings the other way
    // round, so that people move because of the configuration.
    let mut before = config.clone();
    let [a, b, ..] = &mut before.communities[..] else {
        panic!("two community mappings")
    };
    std::mem::swap(&mut a.target, &mut b.target);
    before.digest = "before".to_owned();

    let input = || PlanInput {
        config: &config,
        source: &source,
        target: &target,
        today: DEFAULT_TODAY,
        created_at: String::new(),
        digests: Default::default(),
        recorded: None,
        capabilities: &capabilities,
        previous: Some(&before),
        placed: None,
    };
    let plan = build(input());
    let mut sample: Vec<&str> = source
        .persons
        .iter()
        .step_by(5)
        .map(|p| p.id.as_str())
        .collect();
    for i in [10, 11, 20, 30, 31, 40] {
        sample.push(source.persons[i].id.as_str());
    }
    sample.extend(plan.actions.iter().map(|a| a.subject.as_str()));
    sample.sort_unstable();
    sample.dedup();
    let mut compared = 0;
    let mut kinds_seen = std::collections::BTreeSet::new();
    let mut causes_seen = std::collections::BTreeSet::new();
    for id in sample {
        let Ok(whole) = explain(&config, &source, &target, &plan, DEFAULT_TODAY, id) else {
            continue; // a group's subject, not a person
        };
        let (mut one, _) = explain_person(input(), id).expect("explained");
        let key =
            |d: &orgsync_core::vocabulary::Diagnostic| (d.kind, d.severity, d.subject.clone());
        assert_eq!(
            one.diagnostics.iter().map(key).collect::<Vec<_>>(),
            whole.diagnostics.iter().map(key).collect::<Vec<_>>(),
            "explain {id}"
        );
        for d in one.diagnostics.iter().filter(|d| d.subject.is_none()) {
            assert!(
                d.concerns.contains(id) && d.count <= 2,
                "explain {id}: {d:?}"
            );
        }
        one.diagnostics.clone_from(&whole.diagnostics);
        assert_eq!(one, whole, "explain {id}");
        kinds_seen.extend(whole.actions.iter().map(|a| a.kind().as_str()));
        causes_seen.extend(whole.actions.iter().map(|a| format!("{:?}", a.cause)));
        compared += 1;
    }
    for kind in ["invite", "update", "move", "remove"] {
        assert!(
            kinds_seen.contains(kind),
            "the sample holds a {kind}: {kinds_seen:?}"
        );
    }
    assert!(
        causes_seen.iter().any(|c| c.contains("Configuration")),
        "the sample holds a move by the configuration: {causes_seen:?}"
    );
    assert!(compared >= 250, "{compared} people compared");
}

/// Issue 20 (explain ≤ 0.1× a plan): explain reads a JSON export and workspace for the person's
/// keys alone (skimmed, then the linked rows read by the file's own reader). On a generated
/// organisation rewritten the way other tools write JSON — pretty-printed, `\u` escapes for
/// every non-ASCII letter, escaped quotes in names, identifiers as numbers, an address in
/// capitals, a person sharing another's address, an account linking two people — what is read
/// for each sampled person equals what a whole read restricted to them holds: the same people
/// (rows merged alike), the same groups with the same names, the same accounts. The same again
/// from a CSV export of those rows, and from an object holding them (the AFAS shape).
/// explain starts reading the export and the workspace that orgsync.yaml names while the
/// configuration is still being loaded and checked. A configuration that does not load is
/// reported as ever, at its file and line with exit code 1; a configuration whose source is in
/// another file is read after it is loaded; both explain the same person the same way.
#[test]
fn explain_reports_a_broken_configuration_though_it_started_reading_the_data() {
    let dir = copy_example("quickstart");
    let args = ["explain", "4001", "--at", "2025-06-02"];
    let before = orgsync_in(dir.path(), &args);
    before.assert_that(before.code == 0, "it explains");
    // A mapping with a key no mapping has, on line 6.
    let path = dir.path().join("communities.yaml");
    let good = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = good.lines().collect();
    lines.insert(
        5,
        "  - { source: \"1099\", target: Elsewhere, colour: red }",
    );
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let r = orgsync_in(dir.path(), &args);
    r.assert_that(r.code == 1, "a broken configuration fails")
        .assert_that(
            r.stderr.contains("communities.yaml:6"),
            "at its file and line",
        )
        .assert_that(r.stdout.is_empty(), "nothing is explained");
    std::fs::write(&path, good).unwrap();
    // The source section in a file of its own: not guessed, read after loading.
    let root = dir.path().join("orgsync.yaml");
    let text = std::fs::read_to_string(&root).unwrap();
    let start = text.find("source:").unwrap();
    let end = text.find("target:").unwrap();
    std::fs::write(dir.path().join("source.yaml"), &text[start..end]).unwrap();
    std::fs::write(&root, format!("{}{}", &text[..start], &text[end..])).unwrap();
    let after = orgsync_in(dir.path(), &args);
    after.assert_that(after.code == 0, "it explains");
    // The same, but for where orgsync.yaml's rules now are.
    let rules_elsewhere = |out: &str| {
        out.lines()
            .map(|l| l.split("(orgsync.yaml:").next().unwrap_or(l).to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        rules_elsewhere(&after.stdout),
        rules_elsewhere(&before.stdout)
    );
}

#[test]
fn explain_reads_the_same_people_and_accounts_from_the_files_as_from_a_whole_read() {
    use orgsync_connectors::file_source::FileSource;
    use orgsync_connectors::file_target::FileTarget;
    use orgsync_core::config::{SourceConfig, TargetConfig};
    use orgsync_core::connector::{Source, Target};
    use orgsync_core::focus::{linked, read_linked};
    use orgsync_sandbox::generate::{GenerateOptions, generate, write};
    use serde_json::Value;

    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &generate(&GenerateOptions::new(600, 11))).unwrap();
    // Rewrite the export as another tool would.
    let path = dir.path().join("source.json");
    let mut rows: Vec<Value> = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert!(rows.len() > 12);
    let shared = rows[3]["email"].clone();
    rows[4]["email"] = shared;
    rows[5]["last_name"] = Value::from("O\"Brien Zoë");
    rows[6]["email"] = Value::from(rows[6]["email"].as_str().unwrap().to_uppercase());
    rows[7]["id"] = Value::from(rows[7]["id"].as_str().unwrap().parse::<u64>().unwrap());
    rows[8]["community"] = Value::from("9999");
    rows[8]["community_name"] = Value::from("Amsterdam \"Zuid\" é");
    let knot_email = rows[9]["email"].clone();
    let knot_id = rows[10]["id"].clone();
    // Python's json.dumps(indent=2): ASCII only, every other letter escaped.
    let pretty = serde_json::to_string_pretty(&rows).unwrap();
    let mut ascii = String::new();
    for c in pretty.chars() {
        if c.is_ascii() {
            ascii.push(c);
        } else {
            let mut buf = [0u16; 2];
            for u in c.encode_utf16(&mut buf) {
                ascii.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    std::fs::write(&path, ascii).unwrap();
    let ws = dir.path().join("workspace.json");
    let mut workspace: Value = serde_json::from_slice(&std::fs::read(&ws).unwrap()).unwrap();
    let accounts = workspace["accounts"].as_array_mut().unwrap();
    let mut knot = accounts[0].clone();
    knot["id"] = Value::from("u-knot");
    knot["email"] = knot_email;
    knot["external_id"] = knot_id;
    accounts.push(knot);
    std::fs::write(&ws, serde_json::to_string_pretty(&workspace).unwrap()).unwrap();

    let config = orgsync_repo::load_dir(dir.path()).expect("a valid configuration");
    let (SourceConfig::File(s), TargetConfig::File(t)) = (&config.source, &config.target) else {
        panic!("a file source and target")
    };
    let mut file_source = FileSource::new(dir.path(), s);
    let mut file_target = FileTarget::for_config(dir.path(), t).unwrap();
    let source = file_source.fetch().unwrap();
    let target = file_target.fetch().unwrap();
    let source_part = file_source
        .part()
        .unwrap()
        .expect("a JSON export is skimmed");
    let target_part = file_target.part().unwrap().expect("a workspace is skimmed");
    assert!(!source_part.is_empty());

    let mut queries: Vec<String> = source
        .persons
        .iter()
        .step_by(7)
        .map(|p| p.id.clone())
        .collect();
    for i in 3..=10 {
        queries.push(source.persons[i].id.clone());
    }
    queries.push(source.persons[6].email.clone().unwrap().to_lowercase());
    queries.extend(
        target
            .accounts
            .iter()
            .step_by(50)
            .filter_map(|a| a.email.clone()),
    );
    queries.push("nobody@example.com".to_owned());
    let mut linked_more = 0;
    for q in &queries {
        let whole = linked(&source, &target, q);
        let part = read_linked(source_part.as_ref(), target_part.as_ref(), q).unwrap();
        assert_eq!(part.source, whole.source, "the source part of {q}");
        assert_eq!(part.target, whole.target, "the target part of {q}");
        if whole.source.persons.len() + whole.target.accounts.len() > 2 {
            linked_more += 1;
        }
    }
    assert!(
        linked_more >= 2,
        "the knots link more than one person and account"
    );
    // Names with escapes read the same.
    assert!(
        source
            .communities
            .iter()
            .any(|c| c.id == "9999" && c.name == "Amsterdam \"Zuid\" é")
    );

    // The same rows as a CSV export (every field quoted, a name with a comma, a quote and a
    // line break in it, CRLF line ends): the CSV reader's own records, skimmed.
    let columns: Vec<String> = rows[0].as_object().unwrap().keys().cloned().collect();
    let field = |v: &Value| match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let odd_id = rows[12]["id"].clone();
    for r in rows.iter_mut().filter(|r| r["id"] == odd_id) {
        r["last_name"] = Value::from("de Vries,\r\n \"Jr\"");
    }
    let mut csv_text = String::new();
    for line in std::iter::once(columns.clone()).chain(
        rows.iter()
            .map(|r| columns.iter().map(|c| field(&r[c.as_str()])).collect()),
    ) {
        let quoted: Vec<String> = line
            .iter()
            .map(|f| format!("\"{}\"", f.replace('"', "\"\"")))
            .collect();
        csv_text.push_str(&quoted.join(","));
        csv_text.push_str("\r\n");
    }
    std::fs::write(dir.path().join("source.csv"), csv_text).unwrap();
    // The export `file` read whole and skimmed, with the configuration pointed at it.
    let yaml = std::fs::read_to_string(dir.path().join("orgsync.yaml")).unwrap();
    let read_export = |file: &str| {
        std::fs::write(
            dir.path().join("orgsync.yaml"),
            yaml.replace("path: source.json", &format!("path: {file}")),
        )
        .unwrap();
        let config = orgsync_repo::load_dir(dir.path()).expect("a valid configuration");
        let SourceConfig::File(s) = &config.source else {
            panic!("a file source")
        };
        let mut file_source = FileSource::new(dir.path(), s);
        let source = file_source.fetch().unwrap();
        let part = file_source.part().unwrap();
        (source, part)
    };
    let (source, source_part) = read_export("source.csv");
    let source_part = source_part.expect("a CSV export is skimmed");
    queries.push(field(&odd_id));
    for q in &queries {
        let whole = linked(&source, &target, q);
        let part = read_linked(source_part.as_ref(), target_part.as_ref(), q).unwrap();
        assert_eq!(part.source, whole.source, "the CSV part of {q}");
        assert_eq!(part.target, whole.target, "the target part of {q}");
    }
    let odd = source
        .persons
        .iter()
        .find(|p| p.id == field(&odd_id))
        .unwrap();
    assert_eq!(odd.last_name, "de Vries,\r\n \"Jr\"");

    // And as AFAS's GetConnector writes it: an object holding the rows, among other members.
    let wrapped =
        serde_json::json!({ "skip": 0, "rows": rows, "take": 5, "more": [{ "rows": [] }] });
    std::fs::write(dir.path().join("wrapped.json"), wrapped.to_string()).unwrap();
    let (source, source_part) = read_export("wrapped.json");
    let source_part = source_part.expect("an object holding rows is skimmed");
    for q in &queries {
        let whole = linked(&source, &target, q);
        let part = read_linked(source_part.as_ref(), target_part.as_ref(), q).unwrap();
        assert_eq!(part.source, whole.source, "the wrapped part of {q}");
    }
}
