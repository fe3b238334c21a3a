//! The ManusPlus source end to end: the real `orgsync sandbox manusplus --config-out` and the
//! real `orgsync plan`/`apply` against it, into the file target, with and without faults.

use serde_json::Value;

use crate::google::{Sandbox, actions, run};

const AT: &str = "2025-06-02";

fn env() -> Vec<(&'static str, String)> {
    vec![("MANUS_PASSWORD", "sandbox-password".to_owned())]
}

/// `sandbox manusplus --config-out` → `plan` → `apply` → `plan` again, with the emulator
/// expiring tokens (re-granted), answering 429 and 5xx, resetting connections and cutting
/// pages: the plan is the one a clean emulator gives, and after the apply nothing is left.
#[test]
fn manusplus_to_file_target_with_faults_plans_what_a_clean_fetch_plans_and_converges() {
    let clean = Sandbox::start("manusplus", &[]);
    let plan = run(
        clean.path(),
        &env(),
        &["plan", "--format", "json", "--at", AT],
    );
    plan.assert_code(0);
    let expected = actions(&serde_json::from_str::<Value>(&plan.stdout).expect("plan JSON"));
    assert!(
        expected.iter().any(|(k, _)| k == "remove") && expected.iter().any(|(k, _)| k == "invite"),
        "the generated churn shows: {expected:?}"
    );

    let faulty = Sandbox::start(
        "manusplus",
        &[
            "--expire-token-after",
            "3",
            "--throttle-every",
            "4",
            "--retry-after",
            "0",
            "--error-rate",
            "0.1",
            "--reset-rate",
            "0.05",
            "--short-page-every",
            "3",
        ],
    );
    let dir = faulty.path();
    let yaml = std::fs::read_to_string(dir.join("orgsync.yaml")).expect("orgsync.yaml");
    std::fs::write(
        dir.join("orgsync.yaml"),
        yaml.replace(
            "  community_level: 1\n",
            "  community_level: 1\n  page_size: 25\n  retries: 8\n",
        ),
    )
    .expect("write orgsync.yaml");
    let plan = run(dir, &env(), &["plan", "--format", "json", "--at", AT]);
    plan.assert_code(0);
    let got = actions(&serde_json::from_str::<Value>(&plan.stdout).expect("plan JSON"));
    assert_eq!(got, expected, "{}", plan.report());
    plan.assert_that(
        !plan.stderr.contains("sandbox-password") && !plan.stderr.contains("manus-sandbox-"),
        "neither the password nor a token is printed",
    );
    run(dir, &env(), &["apply", "--auto-approve", "--at", AT]).assert_code(0);
    let again = run(dir, &env(), &["plan", "--detailed-exitcode", "--at", AT]);
    again.assert_code(0);
    assert!(again.stdout.contains("No changes"), "{}", again.report());
}

/// A wrong password: exit 1, the refusal explained, the password not printed.
#[test]
fn a_refused_data_service_user_fails_the_plan() {
    let sandbox = Sandbox::start("manusplus", &[]);
    let wrong = run(
        sandbox.path(),
        &[("MANUS_PASSWORD", "not-the-password-42".to_owned())],
        &["plan", "--at", AT],
    );
    wrong.assert_code(1).assert_that(
        wrong
            .stderr
            .contains("ManusPlus refused the data service user")
            && !wrong.stderr.contains("not-the-password-42"),
        "the refusal is explained without the password",
    );
}

/// The warnings of a plan (JSON): kind and count, sorted.
fn warnings(plan: &Value) -> Vec<(String, u64)> {
    let mut w: Vec<(String, u64)> = plan["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .filter(|d| d["severity"] != "info")
        .map(|d| {
            (
                d["kind"].as_str().unwrap().to_owned(),
                d["count"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    w.sort();
    w
}

/// Issue 21: `orgsync sandbox manusplus --config-out` wrote function mappings with codes
/// (`F-ACC`, …) while its data uses UUIDs, and the generator mapped functions nobody holds: the
/// first plan showed 16 `stale_mapping` warnings. Every `sandbox <kind> --config-out` that plans
/// on its own (ManusPlus and Google into the file workspace, a file source into Revolut) plans
/// against its own data with no warning about the configuration: no warning at all into Revolut,
/// and for the HR sources exactly the warnings the same generated people give with the file
/// source — the generated churn (a new function nobody mapped yet, a location that closed) is the
/// data's, not the configuration's. (`sandbox afas` needs a SCIM server, `sandbox recruitee` an
/// AFAS one: their own tests plan them.)
#[test]
fn sandbox_configurations_plan_against_their_own_data_without_configuration_warnings() {
    let generated = tempfile::tempdir().unwrap();
    let r = crate::common::orgsync(&[
        "sandbox",
        "generate",
        "--people",
        "150",
        "--seed",
        "42",
        "--out",
        generated.path().to_str().unwrap(),
    ]);
    r.assert_code(0);
    let files = run(
        generated.path(),
        &[],
        &["plan", "--format", "json", "--at", AT],
    );
    files.assert_code(0);
    let files = warnings(&serde_json::from_str(&files.stdout).unwrap());
    assert!(
        files.iter().all(|(k, _)| k != "stale_mapping"),
        "the generator maps only functions someone holds: {files:?}"
    );

    for kind in ["manusplus", "google", "revolut"] {
        let sandbox = Sandbox::start(kind, &[]);
        let env = match kind {
            "manusplus" => env(),
            "google" => crate::google::key_env(&sandbox),
            _ => vec![("REVOLUT_TOKEN", "sandbox-token".to_owned())],
        };
        let plan = run(
            sandbox.path(),
            &env,
            &["plan", "--format", "json", "--at", AT],
        );
        plan.assert_code(0);
        let plan: Value = serde_json::from_str(&plan.stdout).unwrap();
        let got = warnings(&plan);
        if kind == "revolut" {
            assert!(got.is_empty(), "{kind}: {plan:#}");
        } else {
            assert_eq!(
                got, files,
                "{kind}: only the generated churn warns: {plan:#}"
            );
        }
    }
}
