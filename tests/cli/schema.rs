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
