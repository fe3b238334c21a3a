//! `orgsync schema`: the committed `schemas/` are exactly what the binary generates (editors and
//! CI validate YAML against them), and without `--out` it prints the configuration schema.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::common;

const STALE: &str = "schemas/ is stale: run `cargo run -- schema --out schemas`";

#[test]
fn committed_schemas_are_up_to_date() {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let out = tmp.path().join("schemas");
    let run = common::orgsync(&["schema", "--out", out.to_str().expect("a UTF-8 path")]);
    run.assert_code(0);
    common::settings(&run).bind(|| {
        insta::assert_snapshot!("schema-out", run.snapshot());
    });

    let names = |dir: &std::path::Path| -> BTreeSet<String> {
        std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
            .map(|e| {
                e.expect("a directory entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .filter(|n| n.ends_with(".json"))
            .collect()
    };
    let committed_dir = common::repo().join("schemas");
    let generated = names(&out);
    let committed = names(&committed_dir);
    assert!(
        !generated.is_empty(),
        "orgsync schema --out wrote nothing\n{}",
        run.report()
    );
    assert_eq!(
        generated, committed,
        "{STALE} (the generated and committed file names differ)"
    );
    for name in &generated {
        let want = std::fs::read_to_string(out.join(name)).expect("read a generated schema");
        let have =
            std::fs::read_to_string(committed_dir.join(name)).expect("read a committed schema");
        if want != have {
            let line = want
                .lines()
                .zip(have.lines())
                .position(|(a, b)| a != b)
                .map_or_else(
                    || want.lines().count().min(have.lines().count()) + 1,
                    |i| i + 1,
                );
            panic!("{STALE} (schemas/{name} differs from the generated one from line {line})");
        }
    }
}

#[test]
fn schema_without_out_prints_the_configuration_schema_as_json() {
    let run = common::orgsync(&["schema"]);
    run.assert_code(0);
    let printed: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is not valid JSON: {e}\n{}", run.report()));
    run.assert_that(
        printed.get("$schema").and_then(Value::as_str).is_some()
            && printed
                .get("properties")
                .and_then(|p| p.get("version"))
                .is_some(),
        "the printed schema is a JSON Schema of orgsync.yaml",
    );
    // The same schema `--out` writes (whether schemas/ is current is the test above's concern).
    let tmp = tempfile::tempdir().expect("a temporary directory");
    common::orgsync(&[
        "schema",
        "--out",
        tmp.path().to_str().expect("a UTF-8 path"),
    ])
    .assert_code(0);
    let written: Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("orgsync.schema.json"))
            .expect("read the written orgsync.schema.json"),
    )
    .expect("the written schema is JSON");
    run.assert_that(
        printed == written,
        "`orgsync schema` prints the orgsync.schema.json that `--out` writes",
    );
}

/// Validates `json` (the output of `run`) against `schemas/<schema>` with check-jsonschema, a
/// validator independent of the one orgsync uses (on the PATH: scripts/test.sh puts .venv/bin
/// there; a missing tool fails the test).
fn check_against(schema: &str, json: &str, run: &common::Run) {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let file = tmp.path().join("output.json");
    std::fs::write(&file, json).expect("write the output");
    let out = std::process::Command::new("check-jsonschema")
        .arg("--schemafile")
        .arg(common::repo().join("schemas").join(schema))
        .arg(&file)
        .output()
        .expect(
            "check-jsonschema is not on the PATH: run scripts/test.sh, or `pip install -r scripts/requirements-dev.txt`",
        );
    assert!(
        out.status.success(),
        "the output does not match schemas/{schema}:\n{}{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        run.report()
    );
}

/// Regression (issue 20): validate, explain and history JSON had no schema, and the plan schema
/// lacked the `pull_request` of `plan --base` and the `masked` of `--masked-out`. Every JSON
/// output, real, checked against its committed schema — and the schemas are strict enough to
/// refuse what is not that output.
#[test]
fn every_json_output_matches_its_schema() {
    let tmp = common::copy_example("quickstart");
    let dir = tmp.path();
    common::commit_all(dir);
    let at = ["--at", "2026-11-22"];

    // validate: valid, and invalid (one shape).
    let valid = common::orgsync_in(dir, &["validate", "--format", "json"]);
    valid.assert_code(0);
    check_against("validate.schema.json", &valid.stdout, &valid);
    let broken = common::temp_config(&[(
        "orgsync.yaml",
        b"version: 1\nsource: { kind: file, path: hr.json }\ntarget: { kind: file, path: ../ws.json }\npolicy: { retention_days: 30.0 }\n",
    )]);
    let invalid = common::orgsync_in(broken.path(), &["validate", "--format", "json"]);
    invalid.assert_code(1);
    check_against("validate.schema.json", &invalid.stdout, &invalid);

    // plan, its masked copy, and a pull-request plan against the commit.
    let masked = dir.join("masked.json");
    let plan = common::orgsync_in(
        dir,
        &[
            "plan",
            "--format",
            "json",
            "--masked-out",
            masked.to_str().expect("UTF-8"),
            at[0],
            at[1],
        ],
    );
    plan.assert_code(0);
    check_against("plan.schema.json", &plan.stdout, &plan);
    let masked = std::fs::read_to_string(&masked).expect("--masked-out wrote the plan");
    assert!(masked.contains("\"masked\": true"), "{masked}");
    check_against("plan.schema.json", &masked, &plan);
    let communities = dir.join("communities.yaml");
    let text = std::fs::read_to_string(&communities).expect("communities.yaml");
    std::fs::write(
        &communities,
        text.replace("target: Amsterdam Zuid }", "target: Amsterdam Centrum }"),
    )
    .expect("edit communities.yaml");
    let pr = common::orgsync_in(
        dir,
        &["plan", "--base", "HEAD", "--format", "json", at[0], at[1]],
    );
    pr.assert_code(0);
    let value: Value = serde_json::from_str(&pr.stdout).expect("plan --base JSON");
    assert!(
        value["pull_request"]["base"]["commit"].is_string(),
        "{value}"
    );
    check_against("plan.schema.json", &pr.stdout, &pr);
    std::fs::write(&communities, text).expect("restore communities.yaml");

    // explain, then history after an apply.
    let explain = common::orgsync_in(dir, &["explain", "4001", "--format", "json", at[0], at[1]]);
    explain.assert_code(0);
    check_against("explain.schema.json", &explain.stdout, &explain);
    common::orgsync_in(dir, &["apply", "--auto-approve", at[0], at[1]]).assert_code(0);
    let history = common::orgsync_in(dir, &["history", "--format", "json"]);
    history.assert_code(0);
    let entries: Value = serde_json::from_str(&history.stdout).expect("history JSON");
    assert_eq!(entries.as_array().map(Vec::len), Some(1), "{entries}");
    check_against("history.schema.json", &history.stdout, &history);

    // The control controls: the old validate shape (a bare list of errors) and a plan with an
    // unknown `pull_request` key are refused.
    let old = serde_json::to_string(&serde_json::json!([
        { "file": "orgsync.yaml", "line": 1, "column": 1, "path": "", "message": "m" }
    ]))
    .expect("JSON");
    let refused = std::process::Command::new("check-jsonschema")
        .arg("--schemafile")
        .arg(common::repo().join("schemas/validate.schema.json"))
        .arg({
            let f = dir.join("old.json");
            std::fs::write(&f, old).expect("write");
            f
        })
        .status()
        .expect("check-jsonschema runs");
    assert!(
        !refused.success(),
        "the validate schema accepts a bare list"
    );
    let mut bad = value.clone();
    bad["pull_request"]["base"]["surprise"] = Value::Bool(true);
    let refused = std::process::Command::new("check-jsonschema")
        .arg("--schemafile")
        .arg(common::repo().join("schemas/plan.schema.json"))
        .arg({
            let f = dir.join("bad.json");
            std::fs::write(&f, bad.to_string()).expect("write");
            f
        })
        .status()
        .expect("check-jsonschema runs");
    assert!(
        !refused.success(),
        "the plan schema accepts an unknown pull_request.base key"
    );
}
