//! What users of Terraform and ripgrep expect of a command line: `--version` with the commit,
//! shell completions, a man page, `show` for a saved plan, `init` for a new configuration.

use crate::common::{self, orgsync};

/// `--version` names the commit the binary was built from (`build.rs`), or `unknown` when it
/// was built outside a git checkout.
#[test]
fn version_names_the_git_commit() {
    let run = orgsync(&["--version"]);
    run.assert_code(0);
    let version = env!("CARGO_PKG_VERSION");
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(common::repo())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    match commit {
        Some(commit) => run.assert_that(
            run.stdout == format!("orgsync {version} (rev {commit})\n"),
            &format!("--version names the checkout's commit {commit}"),
        ),
        None => run.assert_that(
            run.stdout == format!("orgsync {version} (rev unknown)\n"),
            "--version says the commit is unknown outside a git checkout",
        ),
    };
    let sub = orgsync(&["plan", "--version"]);
    sub.assert_code(0)
        .assert_that(sub.stdout.contains("(rev "), "subcommands print it too");
}

/// Every shell clap_complete knows gets a script naming the subcommands and their flags; the
/// bash one is valid bash.
#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let run = orgsync(&["completions", shell]);
        run.assert_code(0).assert_that(
            run.stdout.contains("detailed-exitcode")
                && run.stdout.contains("completions")
                && run.stderr.is_empty(),
            &format!("the {shell} script completes plan's flags and the subcommands"),
        );
        if shell == "bash"
            && let Ok(out) = std::process::Command::new("bash")
                .args(["-n", "-c", &run.stdout])
                .output()
        {
            run.assert_that(
                out.status.success(),
                &format!(
                    "bash -n rejects the script: {}",
                    String::from_utf8_lossy(&out.stderr)
                ),
            );
        }
    }
    let run = orgsync(&["completions", "tcsh"]);
    run.assert_code(1).assert_that(
        run.stderr.contains("invalid value 'tcsh'"),
        "an unknown shell is a usage error naming it",
    );
}

/// `orgsync man` prints the main page; `--out DIR` writes it and one page per subcommand, as
/// packagers install them into `share/man/man1`.
#[test]
fn man_pages() {
    let run = orgsync(&["man"]);
    run.assert_code(0).assert_that(
        run.stdout.contains(".TH orgsync 1") && run.stdout.contains("orgsync\\-plan(1)"),
        "a roff page for section 1 that names the subcommands' pages",
    );
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let out = tmp.path().join("man1");
    let run = orgsync(&["man", "--out", out.to_str().expect("a UTF-8 path")]);
    run.assert_code(0);
    for page in [
        "orgsync.1",
        "orgsync-plan.1",
        "orgsync-apply.1",
        "orgsync-sandbox-afas.1",
    ] {
        let text = std::fs::read_to_string(out.join(page))
            .unwrap_or_else(|e| panic!("{page} is not written: {e}\n{}", run.report()));
        run.assert_that(text.starts_with(".ie"), &format!("{page} is roff"));
    }
}

/// Regression (issue 20): the man pages had no EXIT STATUS or ENVIRONMENT section. Every page
/// has both; every exit code `main` can return (read from src/main.rs) and every environment
/// variable the sources read (`env::var("…")`, `env::var_os("…")`) is in them.
#[test]
fn man_pages_have_exit_status_and_environment() {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let out = tmp.path().join("man1");
    let run = orgsync(&["man", "--out", out.to_str().expect("a UTF-8 path")]);
    run.assert_code(0);
    let main_rs =
        std::fs::read_to_string(crate::common::repo().join("src/main.rs")).expect("src/main.rs");
    let codes: Vec<String> = main_rs
        .lines()
        .filter_map(|l| l.trim().strip_prefix("ExitStatus::"))
        .filter_map(|l| l.split_once("=> "))
        .map(|(_, code)| code.trim_end_matches(',').trim().to_owned())
        .collect();
    assert!(codes.len() >= 5, "the exit codes of main: {codes:?}");
    let mut vars = std::collections::BTreeSet::new();
    let mut stack = vec![
        crate::common::repo().join("src"),
        crate::common::repo().join("crates"),
    ];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("a source directory") {
            let path = entry.expect("an entry").path();
            if path.is_dir() && !path.ends_with("tests") {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("a source file");
                for pattern in ["env::var(\"", "env::var_os(\""] {
                    for part in text.split(pattern).skip(1) {
                        let name: String = part.chars().take_while(|c| *c != '"').collect();
                        vars.insert(name);
                    }
                }
            }
        }
    }
    // The build's own variable, and git's that orgsync only passes on.
    vars.remove("ORGSYNC_GIT_COMMIT");
    vars.remove("GIT_CEILING_DIRECTORIES");
    vars.insert("ORGSYNC_REMOTE".to_owned()); // read through a constant
    for page in [
        "orgsync.1",
        "orgsync-plan.1",
        "orgsync-apply.1",
        "orgsync-validate.1",
    ] {
        let text = std::fs::read_to_string(out.join(page))
            .unwrap_or_else(|e| panic!("{page} is not written: {e}\n{}", run.report()));
        let exit = text.find(".SH \"EXIT STATUS\"");
        let env = text.find(".SH ENVIRONMENT");
        assert!(
            exit.is_some() && env.is_some(),
            "{page} has EXIT STATUS and ENVIRONMENT"
        );
        for code in &codes {
            assert!(
                text.contains(&format!(".TP\n\\fB{code}\\fR\n")),
                "{page} documents exit code {code}"
            );
        }
        for var in &vars {
            assert!(
                text.contains(&format!("\\fB{var}\\fR")),
                "{page} documents the environment variable {var}"
            );
        }
    }
}

/// `show PLANFILE` renders a saved plan exactly as `plan` rendered it when it was saved, in each
/// format; Markdown masks personal data unless `--show-pii`, like `plan`.
#[test]
fn show_renders_a_saved_plan_as_plan_did() {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let file = tmp.path().join("plan.json");
    let file = file.to_str().expect("a UTF-8 path");
    for format in ["text", "markdown", "json"] {
        let planned = orgsync(&[
            "plan",
            "-C",
            "examples/quickstart",
            "--at",
            "2026-11-22",
            "--format",
            format,
            "--out",
            file,
        ]);
        planned.assert_code(0);
        let shown = orgsync(&["show", file, "--format", format]);
        shown.assert_code(0).assert_that(
            shown.stdout == planned.stdout && shown.stderr.is_empty(),
            &format!(
                "show --format {format} prints what plan printed:\n{}",
                planned.report()
            ),
        );
    }
    let saved = std::fs::read_to_string(file).expect("read the plan");
    let shown = orgsync(&["show", file, "--format", "json"]);
    shown.assert_that(
        shown.stdout == saved,
        "show --format json prints the plan file",
    );
    let masked = orgsync(&["show", file, "--format", "markdown"]);
    masked.assert_that(
        !masked.stdout.contains("Chaouch") && !masked.stdout.contains("lina.chaouch@"),
        "show --format markdown masks personal data",
    );
    let shown = orgsync(&["show", file, "--format", "markdown", "--show-pii"]);
    shown.assert_that(
        shown.stdout.contains("Lina Chaouch") && shown.stdout.contains("lina.chaouch@"),
        "--show-pii shows names and e-mail addresses",
    );
}

/// A file that is not an orgsync plan, or a plan of another format version, is refused with a
/// message that says which, exit code 1.
#[test]
fn show_refuses_what_is_not_a_plan_of_this_format() {
    let tmp = common::temp_config(&[
        (
            "newer.json",
            br#"{"format_version": 2, "actions": "whatever"}"#,
        ),
        ("workspace.json", br#"{"accounts": [], "communities": []}"#),
        ("half.json", br#"{"format_version": 1, "actions": []}"#),
        ("notes.txt", b"not json at all\n"),
    ]);
    let mut snapshot = String::new();
    for name in [
        "newer.json",
        "workspace.json",
        "half.json",
        "notes.txt",
        "missing.json",
    ] {
        let run = common::orgsync_in(tmp.path(), &["show", name]);
        run.assert_code(1)
            .assert_that(run.stdout.is_empty(), "nothing on stdout");
        snapshot.push_str(&run.snapshot());
        snapshot.push('\n');
    }
    let run = common::orgsync_in(tmp.path(), &["show", "newer.json"]);
    common::settings(&run).bind(|| insta::assert_snapshot!("show-refusals", snapshot));
}

/// `init DIR` writes a configuration that validates and plans at once, its schemas (with a
/// stable `$id`, pointed at by every modeline), and the workflows for DIR; a second `init`
/// writes nothing and says which files exist.
#[test]
fn init_then_validate_and_plan() {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let root = tmp.path();
    let run = common::orgsync_in(root, &["init", "hr/orgsync"]);
    run.assert_code(0);
    common::settings(&run).bind(|| insta::assert_snapshot!("init", run.snapshot()));

    let validate = common::orgsync_in(root, &["validate", "-C", "hr/orgsync"]);
    validate.assert_code(0);
    let plan = common::orgsync_in(
        root,
        &[
            "plan",
            "-C",
            "hr/orgsync",
            "--at",
            "2026-01-01",
            "--detailed-exitcode",
        ],
    );
    plan.assert_code(2).assert_that(
        plan.stdout
            .contains("Plan: 2 communities to create, 3 function groups to create, 3 to invite."),
        "the sample plans its invites",
    );

    let dir = root.join("hr/orgsync");
    for name in ["orgsync.yaml", "communities.yaml", "functions.yaml"] {
        let text = std::fs::read_to_string(dir.join(name)).expect("read a written file");
        run.assert_that(
            text.starts_with("# yaml-language-server: $schema=schemas/orgsync.schema.json\n"),
            &format!("{name} points its editor at the written schema"),
        );
    }
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("schemas/orgsync.schema.json")).expect("the schema"),
    )
    .expect("JSON");
    assert_eq!(
        schema["$id"], "https://orgsync.dev/schemas/v1/orgsync.schema.json",
        "the schema has a stable $id"
    );
    let committed = std::fs::read_to_string(common::repo().join("schemas/orgsync.schema.json"))
        .expect("the committed schema");
    assert_eq!(
        std::fs::read_to_string(dir.join("schemas/orgsync.schema.json")).expect("the schema"),
        committed,
        "init writes the schemas `orgsync schema --out` writes"
    );
    let workflow = std::fs::read_to_string(root.join(".github/workflows/orgsync-plan.yml"))
        .expect("the plan workflow");
    run.assert_that(
        workflow.contains("\"hr/orgsync/**\"") && workflow.contains("config: hr/orgsync\n"),
        "the workflows name the configuration directory",
    );

    // Again: nothing is overwritten, not even the files that do not exist yet are written.
    std::fs::write(dir.join("communities.yaml"), "communities: []\n").expect("edit");
    std::fs::remove_file(dir.join("functions.yaml")).expect("remove");
    let again = common::orgsync_in(root, &["init", "hr/orgsync"]);
    again.assert_code(1).assert_that(
        again.stderr.contains("writes nothing over existing files")
            && again.stderr.contains("hr/orgsync/orgsync.yaml")
            && !dir.join("functions.yaml").exists()
            && std::fs::read_to_string(dir.join("communities.yaml")).expect("read")
                == "communities: []\n",
        "a second init refuses and writes nothing",
    );
}

/// `orgsync ARGS` in `dir` with colour left to orgsync (no `NO_COLOR`), plus `env`; stdout and
/// stderr are pipes.
fn colour_run(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> (String, String) {
    let mut cmd = assert_cmd::Command::cargo_bin("orgsync").expect("the orgsync binary is built");
    cmd.args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("RUST_LOG")
        .env_remove("ORGSYNC_LOG_FORMAT")
        .env("GIT_CEILING_DIRECTORIES", common::repo())
        .env_remove("GITHUB_ACTOR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let output = cmd.output().expect("orgsync runs");
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Regression (issue 20: CI logs): `-v` logs and warnings on stderr carried ANSI colour when
/// redirected, although colour is for terminals only, and there was no `--color`. Into a pipe:
/// no escape code; `--color always` colours both streams; `--color never` wins over
/// `CLICOLOR_FORCE`.
#[test]
fn logs_into_a_pipe_carry_no_escape_codes_and_color_is_a_choice() {
    let dir = common::copy_example("quickstart");
    let plan = ["-v", "plan", "--at", "2025-06-02"];
    let (out, err) = colour_run(dir.path(), &plan, &[]);
    assert!(err.contains("INFO"), "-v logs: {err}");
    assert!(
        !out.contains('\x1b') && !err.contains('\x1b'),
        "no escape codes into pipes:\n{err}"
    );
    let (out, err) = colour_run(
        dir.path(),
        &[&["--color", "always"], &plan[..]].concat(),
        &[],
    );
    assert!(out.contains('\x1b'), "--color always colours the plan");
    assert!(err.contains('\x1b'), "--color always colours the logs");
    let (out, err) = colour_run(
        dir.path(),
        &[&["--color", "never"], &plan[..]].concat(),
        &[("CLICOLOR_FORCE", "1")],
    );
    assert!(
        !out.contains('\x1b') && !err.contains('\x1b'),
        "--color never wins over CLICOLOR_FORCE"
    );
    let (out, _) = colour_run(dir.path(), &plan, &[("CLICOLOR_FORCE", "1")]);
    assert!(out.contains('\x1b'), "CLICOLOR_FORCE still forces colour");
}

/// Issue 20 (CI-grade logs): `--log-format json` (or `ORGSYNC_LOG_FORMAT=json`) writes every log
/// line as one JSON object — level, timestamp, message, the request's span — never coloured,
/// not even with `--color always`; the plan on stdout is unchanged.
#[test]
fn json_logs_are_one_object_per_line() {
    let dir = common::copy_example("quickstart");
    let plan = ["-vv", "plan", "--at", "2025-06-02"];
    let (text_out, text_err) = colour_run(dir.path(), &plan, &[]);
    let check = |err: &str| {
        assert!(
            !err.contains('\x1b'),
            "no escape codes in JSON logs:\n{err}"
        );
        let mut levels = std::collections::BTreeSet::new();
        for line in err.lines() {
            let object: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {line}"));
            let level = object["level"].as_str().expect("a level");
            levels.insert(level.to_owned());
            assert!(object["timestamp"].is_string(), "a timestamp: {line}");
            assert!(object["fields"]["message"].is_string(), "a message: {line}");
        }
        assert!(levels.contains("INFO"), "-vv logs: {levels:?}\n{err}");
    };
    let (out, err) = colour_run(
        dir.path(),
        &[&["--color", "always", "--log-format", "json"], &plan[..]].concat(),
        &[],
    );
    assert!(
        out.contains('\x1b'),
        "--color always still colours the plan"
    );
    check(&err);
    let (out, err) = colour_run(dir.path(), &plan, &[("ORGSYNC_LOG_FORMAT", "json")]);
    assert_eq!(
        out, text_out,
        "the plan does not change with the log format"
    );
    check(&err);
    assert!(
        text_err.contains("INFO") && !text_err.starts_with('{'),
        "{text_err}"
    );
    let (_, err) = colour_run(dir.path(), &["--log-format", "yaml", "validate"], &[]);
    assert!(err.contains("possible values: text, json"), "{err}");

    // An apply's line per action is a JSON log line too.
    let (out, err) = colour_run(
        dir.path(),
        &[
            "--log-format",
            "json",
            "apply",
            "--auto-approve",
            "--at",
            "2025-06-02",
        ],
        &[],
    );
    assert!(out.contains("Apply complete: 2 succeeded"), "{out}\n{err}");
    let actions: Vec<serde_json::Value> = err
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("a JSON object"))
        .filter(|o: &serde_json::Value| o["fields"]["kind"].is_string())
        .collect();
    assert_eq!(actions.len(), 2, "{err}");
    for a in &actions {
        assert_eq!(a["level"], "INFO");
        assert_eq!(a["fields"]["kind"], "update");
        assert_eq!(a["fields"]["result"], "done");
        assert!(a["fields"]["secs"].is_number(), "{a}");
    }
    assert!(!err.contains("\nupdate 4008: done"), "no plain line: {err}");
}

/// Regression (issue 20: explain printed HR names raw): an `ESC]0;…BEL` in a last name
/// retitled the terminal and a line break printed a fake `Plan: 0 to invite` line; a
/// right-to-left override (U+202E) reached the terminal from explain and from the text plan.
/// Each is shown as an escape, never obeyed.
#[test]
fn explain_and_plan_show_control_characters_in_names_as_escapes() {
    let dir = common::copy_example("quickstart");
    let path = dir.path().join("hr-export.json");
    let mut export: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let row = export["rows"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["Medewerker"] == "4001")
        .expect("person 4001");
    row["Achternaam"] = "Jansen\u{1b}]0;owned\u{7}\nPlan: 0 to invite\u{202e}nesnaJ".into();
    std::fs::write(&path, serde_json::to_string(&export).unwrap()).unwrap();
    for args in [
        &["explain", "4001", "--at", "2025-06-02"][..],
        &["plan", "--at", "2025-06-02", "--show-pii"][..],
    ] {
        let r = common::orgsync_in(dir.path(), args);
        r.assert_that(r.code == 0 || r.code == 2, "it runs");
        r.assert_that(
            !r.stdout.contains('\u{1b}')
                && !r.stdout.contains('\u{7}')
                && !r.stdout.contains('\u{202e}'),
            "no raw control character or override",
        )
        .assert_that(
            !r.stdout.lines().any(|l| l.starts_with("Plan: 0 to invite")),
            "no line of its own from a name",
        );
        if args[0] == "explain" {
            r.assert_that(
                r.stdout
                    .contains("\\u{1b}]0;owned\\u{7}\\nPlan: 0 to invite\\u{202e}"),
                "the name is shown with its escapes",
            );
        }
    }
}

/// Regression (issue 20: explain named the fallback wrongly): someone whose only function is
/// unmapped under `functions.unmapped: { fallback: No function }` lands in "No function", as the
/// plan says, but explain printed "F-TLP → nowhere: held". With a second, mapped function the
/// fallback does not apply and explain says so (not "held").
#[test]
fn explain_names_the_no_function_fallback() {
    let dir = common::copy_example("quickstart");
    let explain = ["explain", "4024", "--at", "2025-06-02"];
    let r = common::orgsync_in(dir.path(), &explain);
    r.assert_code(0)
        .assert_that(
            r.stdout
                .contains("F-TLP \"Teamlead Procurement\" → No function (g-8), the fallback"),
            "the unmapped function lands in the fallback",
        )
        .assert_that(!r.stdout.contains("nowhere"), "nothing is held");
    let plan = common::orgsync_in(dir.path(), &["plan", "--at", "2025-06-02", "--show-pii"]);
    plan.assert_that(
        plan.stdout
            .contains("function_groups: [Reservations] → [No function]"),
        "the plan puts them in No function",
    );
    let json = common::orgsync_in(dir.path(), &[&explain[..], &["--format", "json"]].concat());
    let e: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    let placed = &e["function_groups"];
    assert_eq!(placed.as_array().map(Vec::len), Some(1), "{placed}");
    assert_eq!(placed[0]["target"]["name"], "No function");
    assert_eq!(placed[0]["fallback"], true);

    // A second, mapped function: the fallback does not apply.
    let path = dir.path().join("hr-export.json");
    let mut export: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let rows = export["rows"].as_array_mut().unwrap();
    let mut second = rows
        .iter()
        .find(|r| r["Medewerker"] == "4024")
        .expect("person 4024")
        .clone();
    second["Functie_code"] = "F-WAIT".into();
    second["Functie_omschrijving"] = "Waiter".into();
    rows.push(second);
    std::fs::write(&path, serde_json::to_string(&export).unwrap()).unwrap();
    let r = common::orgsync_in(dir.path(), &explain);
    r.assert_code(0)
        .assert_that(
            r.stdout
                .contains("F-TLP \"Teamlead Procurement\" → nowhere: another of theirs is mapped")
                && r.stdout.contains("so the fallback does not apply")
                && r.stdout.contains("F-WAIT \"Waiter\" → Service"),
            "the mapped function places them, the fallback does not apply",
        )
        .assert_that(!r.stdout.contains("No function ("), "not in the fallback");
}
