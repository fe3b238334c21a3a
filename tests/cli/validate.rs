//! `orgsync validate`: every broken configuration yields a message a person can act on without
//! reading the source — file:line:column, the key path, what was expected, and a hint.
//!
//! The corpus is `tests/fixtures/invalid/<case>/`, one problem per directory. Each case is run in
//! text and JSON format and pinned by a snapshot named after it. Cases that cannot be committed
//! (a 10 MB file) are generated into a temporary directory.

use std::path::Path;

use serde_json::Value;

use crate::common::{self, Run};

/// Declares one test per corpus directory, and the list that [`every_fixture_has_a_test`]
/// checks the directory against.
macro_rules! invalid_cases {
    ($($test:ident => $case:literal,)*) => {
        const INVALID_CASES: &[&str] = &[$($case),*];
        mod invalid {
            $(
                #[test]
                fn $test() {
                    super::check_invalid_case($case);
                }
            )*
        }
    };
}

invalid_cases! {
    // Wrong types.
    type_string_for_number => "type-string-for-number",
    type_number_for_identifier => "type-number-for-identifier",
    type_list_for_mapping => "type-list-for-mapping",
    type_bool => "type-bool",
    // Unknown keys, at several depths, with a did-you-mean.
    unknown_key_top_level => "unknown-key-top-level",
    unknown_key_policy => "unknown-key-policy",
    unknown_key_source => "unknown-key-source",
    unknown_key_mapping_entry => "unknown-key-mapping-entry",
    unknown_key_safety => "unknown-key-safety",
    unknown_source_kind => "unknown-source-kind",
    unknown_target_kind => "unknown-target-kind",
    // Enum typos.
    enum_unmapped_communities => "enum-unmapped-communities",
    enum_functions_from => "enum-functions-from",
    enum_managed_field => "enum-managed-field",
    enum_match_strategy => "enum-match-strategy",
    // Missing keys and sections.
    missing_source_path => "missing-source-path",
    missing_mapping_target => "missing-mapping-target",
    missing_source => "missing-source",
    missing_target => "missing-target",
    missing_version => "missing-version",
    // YAML syntax.
    tabs_indentation => "tabs-indentation",
    bad_indentation => "bad-indentation",
    unclosed_flow_mapping => "unclosed-flow-mapping",
    unclosed_quote => "unclosed-quote",
    duplicate_key => "duplicate-key",
    multiple_documents => "multiple-documents",
    alias_bomb => "alias-bomb",
    // Mappings.
    duplicate_mapping => "duplicate-mapping",
    identifier_two_targets => "identifier-two-targets",
    mapping_target_excluded => "mapping-target-excluded",
    mapping_test_location => "mapping-test-location",
    // Globs.
    invalid_glob_test_locations => "invalid-glob-test-locations",
    invalid_glob_exclusion => "invalid-glob-exclusion",
    invalid_glob_mapping_source => "invalid-glob-mapping-source",
    // Secrets.
    literal_secret_afas_source => "literal-secret-afas-source",
    literal_secret_scim_target => "literal-secret-scim-target",
    literal_secret_google_credentials => "literal-secret-google-credentials",
    literal_secret_manusplus_password => "literal-secret-manusplus-password",
    env_reference_bad_name => "env-reference-bad-name",
    // Google Workspace and ManusPlus sources.
    google_subject_not_an_email => "google-subject-not-an-email",
    google_org_units_with_location => "google-org-units-with-location",
    manusplus_path_without_slash => "manusplus-path-without-slash",
    // Version.
    version_unsupported => "version-unsupported",
    version_as_string => "version-as-string",
    // Files.
    empty_file => "empty-file",
    comments_only => "comments-only",
    top_level_list => "top-level-list",
    non_utf8 => "non-utf8",
    section_in_two_files => "section-in-two-files",
    no_orgsync_yaml => "no-orgsync-yaml",
    // Semantic checks.
    unknown_timezone => "unknown-timezone",
    exclusion_two_conditions => "exclusion-two-conditions",
    exclusion_equals_without_attribute => "exclusion-equals-without-attribute",
    protected_two_keys => "protected-two-keys",
    max_removals_over_100_percent => "max-removals-over-100-percent",
    max_removals_words => "max-removals-words",
    // Issue 10: rules that silently never match, settings that silently disable safety,
    // values that only failed later, errors at the wrong line.
    exclusion_attribute_undeclared => "exclusion-attribute-undeclared",
    mapping_source_empty_string => "mapping-source-empty-string",
    mapping_source_empty_list => "mapping-source-empty-list",
    protected_email_empty => "protected-email-empty",
    include_communities_empty => "include-communities-empty",
    match_duplicate_strategy => "match-duplicate-strategy",
    managed_fields_duplicate => "managed-fields-duplicate",
    managed_fields_empty => "managed-fields-empty",
    max_removals_empty_mapping => "max-removals-empty-mapping",
    max_removals_percent_null => "max-removals-percent-null",
    max_removals_count_null => "max-removals-count-null",
    delimiter_two_characters => "delimiter-two-characters",
    delimiter_empty => "delimiter-empty",
    date_format_parses_nothing => "date-format-parses-nothing",
    column_name_empty => "column-name-empty",
    columns_two_fields_one_column => "columns-two-fields-one-column",
    source_path_empty => "source-path-empty",
    source_path_directory => "source-path-directory",
    source_path_configuration_file => "source-path-configuration-file",
    source_path_equals_target_path => "source-path-equals-target-path",
    scim_base_url_not_http => "scim-base-url-not-http",
    afas_environment_url => "afas-environment-url",
    afas_connector_empty => "afas-connector-empty",
    afas_order_by_empty_field => "afas-order-by-empty-field",
    afas_environment_and_base_url_missing => "afas-environment-and-base-url-missing",
    recruitee_company_id_not_a_number => "recruitee-company-id-not-a-number",
    applicants_field_unknown_value => "applicants-field-unknown-value",
    applicants_environment_and_base_url_missing => "applicants-environment-and-base-url-missing",
    retention_days_too_large => "retention-days-too-large",
    version_decimal => "version-decimal",
    // Valid YAML, valid types, meaningless values.
    exclusion_attribute_typo => "exclusion-attribute-typo",
    exclusion_function_column_null => "exclusion-function-column-null",
    functions_from_department_column_null => "functions-from-department-column-null",
    column_required_null => "column-required-null",
    attribute_column_empty => "attribute-column-empty",
    afas_column_on_a_default_column => "afas-column-on-a-default-column",
    delimiter_on_json_export => "delimiter-on-json-export",
    records_on_csv_export => "records-on-csv-export",
    date_format_without_year => "date-format-without-year",
    target_path_empty => "target-path-empty",
    target_path_directory => "target-path-directory",
    target_path_configuration_file => "target-path-configuration-file",
    afas_base_url_not_http => "afas-base-url-not-http",
    afas_connector_with_space => "afas-connector-with-space",
    afas_page_size_zero => "afas-page-size-zero",
    scim_base_url_with_query => "scim-base-url-with-query",
    scim_group_prefixes_equal => "scim-group-prefixes-equal",
    scim_group_prefix_empty => "scim-group-prefix-empty",
    scim_user_prefix_empty => "scim-user-prefix-empty",
    revolut_page_size_over_limit => "revolut-page-size-over-limit",
    revolut_default_role_owner => "revolut-default-role-owner",
    revolut_base_url_not_http => "revolut-base-url-not-http",
    scim_concurrency_zero => "scim-concurrency-zero",
    timeout_zero => "timeout-zero",
    retention_days_decimal => "retention-days-decimal",
    protected_email_not_an_address => "protected-email-not-an-address",
    protected_pattern_everyone => "protected-pattern-everyone",
    exclusion_matches_everyone => "exclusion-matches-everyone",
    exclusion_reason_empty => "exclusion-reason-empty",
    exclusion_equals_empty => "exclusion-equals-empty",
    test_location_matches_everything => "test-location-matches-everything",
    test_location_empty => "test-location-empty",
    include_entry_empty => "include-entry-empty",
    mapping_name_empty => "mapping-name-empty",
    function_mapping_source_empty_list => "function-mapping-source-empty-list",
    adopt_unmanaged_without_email_match => "adopt-unmanaged-without-email-match",
    max_removals_unlimited_typo => "max-removals-unlimited-typo",
    // Issue 11: a limit for every blast radius, with the same care as max_removals.
    safety_limits_empty => "safety-limits-empty",
    safety_limits_over_100_percent => "safety-limits-over-100-percent",
    safety_limit_unknown_kind => "safety-limit-unknown-kind",
    // Issue 20: every problem in one run; the configured columns against the export;
    // overlapping mappings; entries and paths outside the configuration; places and hints.
    every_error_in_one_run => "every-error-in-one-run",
    errors_in_two_files => "errors-in-two-files",
    errors_in_one_list => "errors-in-one-list",
    source_column_end_no_row_has => "source-column-end-no-row-has",
    source_column_first_name_no_row_has => "source-column-first-name-no-row-has",
    source_column_function_in_use_no_row_has => "source-column-function-in-use-no-row-has",
    source_column_csv_header_lacks_it => "source-column-csv-header-lacks-it",
    mapping_glob_overlaps_literal => "mapping-glob-overlaps-literal",
    mapping_globs_overlap => "mapping-globs-overlap",
    function_mapping_glob_overlaps_literal => "function-mapping-glob-overlaps-literal",
    mapping_test_location_by_name => "mapping-test-location-by-name",
    yaml_entry_is_a_directory => "yaml-entry-is-a-directory",
    target_path_absolute => "target-path-absolute",
    target_path_outside => "target-path-outside",
    target_path_climbs_out => "target-path-climbs-out",
    version_empty => "version-empty",
    source_empty => "source-empty",
    tab_after_plain_scalar => "tab-after-plain-scalar",
    max_removals_negative => "max-removals-negative",
    safety_limit_negative_in_both => "safety-limit-negative-in-both",
    // Issue 20: the common slips, swept.
    bom_then_error => "bom-then-error",
    bom_in_second_file => "bom-in-second-file",
    crlf_then_error => "crlf-then-error",
    crlf_duplicate_key => "crlf-duplicate-key",
    type_string_for_list => "type-string-for-list",
    type_mapping_for_list => "type-mapping-for-list",
    type_string_for_bool => "type-string-for-bool",
    type_quoted_number => "type-quoted-number",
    type_number_with_unit => "type-number-with-unit",
    type_string_for_section => "type-string-for-section",
    type_number_for_mapping_target => "type-number-for-mapping-target",
    unknown_key_identity => "unknown-key-identity",
    unknown_key_exclusion_rule => "unknown-key-exclusion-rule",
    unknown_key_functions => "unknown-key-functions",
    unknown_key_target => "unknown-key-target",
    unknown_key_case => "unknown-key-case",
    duplicate_key_in_flow_mapping => "duplicate-key-in-flow-mapping",
    duplicate_section => "duplicate-section",
    invalid_glob_include => "invalid-glob-include",
    invalid_glob_protected_pattern => "invalid-glob-protected-pattern",
    date_format_unknown_directive => "date-format-unknown-directive",
    timezone_offset => "timezone-offset",
    empty_second_file => "empty-second-file",
    whitespace_only_file => "whitespace-only-file",
    empty_mapping_list_entry => "empty-mapping-list-entry",
    key_without_colon => "key-without-colon",
    key_without_colon_above_a_key => "key-without-colon-above-a-key",
    glob_starting_with_star_unquoted => "glob-starting-with-star-unquoted",
    windows_path_in_double_quotes => "windows-path-in-double-quotes",
    non_breaking_space_indentation => "non-breaking-space-indentation",
    yaml_merge_key => "yaml-merge-key",
    list_item_without_space => "list-item-without-space",
    unknown_key_in_fallback => "unknown-key-in-fallback",
    colon_in_unquoted_value => "colon-in-unquoted-value",
    exclusion_without_reason => "exclusion-without-reason",
    type_mapping_for_protected_list => "type-mapping-for-protected-list",
    list_item_misindented => "list-item-misindented",
    // Keys added for causes, first syncs, audits and SCIM batches.
    scim_members_per_patch_zero => "scim-members-per-patch-zero",
    safety_first_sync_invites_negative => "safety-first-sync-invites-negative",
    policy_max_removal_lag_days_not_a_number => "policy-max-removal-lag-days-not-a-number",
    function_mapping_notify => "function-mapping-notify",
    community_mapping_notify_not_a_bool => "community-mapping-notify-not-a-bool",
}

const INVALID: &str = "tests/fixtures/invalid";

/// Runs one corpus case in both formats: exit code 1, JSON of the documented shape, and one
/// snapshot (named after the case) holding both runs.
fn check_invalid_case(case: &str) {
    let dir = format!("{INVALID}/{case}");
    let text = common::orgsync(&["validate", "-C", &dir]);
    let json = common::orgsync(&["validate", "-C", &dir, "--format", "json"]);
    assert_invalid(&text, &json);
    // Each case's EXPECTED lists the `file:line` of every error it must report, and no more:
    // all of them in one run, each at its place.
    let expected = std::fs::read_to_string(common::repo().join(&dir).join("EXPECTED"))
        .unwrap_or_else(|e| panic!("{dir}/EXPECTED: {e} (list the file:line of each error)"));
    let mut want: Vec<&str> = expected.lines().filter(|l| !l.trim().is_empty()).collect();
    want.sort_unstable();
    let mut have: Vec<String> = json_errors(&json)
        .iter()
        .map(|e| format!("{}:{}", e["file"].as_str().unwrap_or_default(), e["line"]))
        .collect();
    have.sort_unstable();
    have.dedup();
    json.assert_that(
        have == want,
        &format!("the errors are at {have:?}, expected at {want:?}"),
    );
    common::settings(&text).bind(|| {
        insta::assert_snapshot!(case, format!("{}\n{}", text.snapshot(), json.snapshot()));
    });
}

/// The contract of a refused configuration, in both formats.
fn assert_invalid(text: &Run, json: &Run) {
    text.assert_code(1);
    text.assert_that(
        text.stdout.is_empty(),
        "text format: errors go to stderr, stdout stays empty",
    );
    text.assert_that(
        text.stderr.contains("  --> "),
        "text format: every error names file:line:column",
    );
    json.assert_code(1);
    let errors = json_errors(json);
    json.assert_that(!errors.is_empty(), "JSON format: at least one error");
    for e in &errors {
        let message = e["message"].as_str().unwrap_or_default();
        for vague in [
            "not valid under any of",
            "does not match the pattern",
            "cannot read the configuration:",
            "expected nothing",
        ] {
            json.assert_that(
                !message.contains(vague),
                &format!("a message says something vague ({vague:?}): {message}"),
            );
        }
    }
}

/// Parses `validate --format json`: one object, valid or not (`schemas/validate.schema.json`),
/// whose `errors` are `{file, line, column, path, message[, hint]}`.
fn json_errors(run: &Run) -> Vec<Value> {
    let value: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON: {e}\n{}", run.report()));
    run.assert_that(
        value["valid"] == false
            && value["files"].is_array()
            && value["warnings"].is_array()
            && value["env"].is_array()
            && value["todos"].is_array(),
        "JSON format: {valid: false, files, errors, warnings, env, todos}",
    );
    let Some(Value::Array(errors)) = value.get("errors").cloned() else {
        panic!("JSON format: expected a list of errors\n{}", run.report());
    };
    for e in &errors {
        let Value::Object(fields) = e else {
            panic!(
                "JSON format: expected objects in the list\n{}",
                run.report()
            );
        };
        let mut keys: Vec<&str> = fields.keys().map(String::as_str).collect();
        keys.retain(|k| *k != "hint");
        keys.sort_unstable();
        run.assert_that(
            keys == ["column", "file", "line", "message", "path"],
            &format!(
                "JSON format: keys must be file, line, column, path, message[, hint]; got {keys:?}"
            ),
        );
        run.assert_that(
            e["file"].as_str().is_some_and(|f| !f.is_empty())
                && e["line"].as_u64().is_some_and(|l| l >= 1)
                && e["column"].as_u64().is_some_and(|c| c >= 1)
                && e["path"].is_string()
                && e["message"].as_str().is_some_and(|m| !m.is_empty())
                && (e.get("hint").is_none() || e["hint"].as_str().is_some_and(|h| !h.is_empty())),
            &format!("JSON format: malformed error {e}"),
        );
    }
    errors
}

#[test]
fn every_fixture_has_a_test() {
    let mut on_disk: Vec<String> = std::fs::read_dir(common::repo().join(INVALID))
        .expect("the invalid corpus exists")
        .map(|e| {
            e.expect("a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    on_disk.sort();
    let mut declared: Vec<String> = INVALID_CASES.iter().map(|c| (*c).to_owned()).collect();
    declared.sort();
    assert_eq!(
        on_disk, declared,
        "every directory of {INVALID} needs a line in invalid_cases! (and every line a directory)"
    );
    assert!(
        declared.len() >= 170,
        "the corpus covers at least 170 cases"
    );
}

#[test]
fn every_example_is_valid() {
    let examples = common::repo().join("examples");
    let mut dirs: Vec<_> = std::fs::read_dir(&examples)
        .expect("examples/ exists")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.join("orgsync.yaml").is_file())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no example configuration under examples/");
    for dir in dirs {
        let rel = dir
            .strip_prefix(common::repo())
            .expect("under the repository");
        let rel = rel.to_str().expect("a UTF-8 path");
        let text = common::orgsync(&["validate", "-C", rel]);
        text.assert_code(0).assert_that(
            text.stdout.starts_with("The configuration is valid") && text.stderr.is_empty(),
            "a valid configuration says so on stdout and nothing on stderr",
        );
        let json = common::orgsync(&["validate", "-C", rel, "--format", "json"]);
        json.assert_code(0);
        let report: Value = serde_json::from_str(&json.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON: {e}\n{}", json.report()));
        json.assert_that(
            report["valid"] == true
                && report["errors"] == serde_json::json!([])
                && report["env"].is_array()
                && report["todos"].is_array(),
            "JSON format: a valid configuration is {valid: true, files, errors: [], warnings, env, todos}",
        );
    }
}

/// `validate --format json` on a valid configuration says what the text report says: the
/// environment variables it needs at run time and the mappings still marked `todo: true`.
#[test]
fn valid_configuration_as_json_lists_env_and_todos() {
    let config = b"version: 1\n\
source: { kind: afas, environment: \"12345\", token: \"${env:AFAS_TOKEN}\" }\n\
target: { kind: scim, base_url: \"https://app.example/scim/v2\", token: { env: SCIM_TOKEN } }\n";
    let mappings = b"communities:\n  - { source: \"1001\", target: Amsterdam }\n  - { source: [\"1006\", \"1007\"], target: Haarlem, todo: true }\nfunctions:\n  map:\n    - { source: F-TLP, target: Procurement, todo: true }\n";
    let tmp = common::temp_config(&[("orgsync.yaml", config), ("mappings.yaml", mappings)]);
    let dir = path_str(tmp.path());
    let text = common::orgsync(&["validate", "-C", dir]);
    let json = common::orgsync(&["validate", "-C", dir, "--format", "json"]);
    text.assert_code(0);
    json.assert_code(0);
    common::settings(&text).bind(|| {
        insta::assert_snapshot!(
            "valid-env-and-todos",
            format!("{}\n{}", text.snapshot(), json.snapshot())
        );
    });
    let report: Value = serde_json::from_str(&json.stdout).expect("stdout is JSON");
    assert_eq!(
        report["env"],
        serde_json::json!([
            { "name": "AFAS_TOKEN", "for": "source.token" },
            { "name": "SCIM_TOKEN", "for": "target.token" }
        ]),
        "{}",
        json.report()
    );
    let todos = report["todos"].as_array().expect("a list of to-dos");
    assert_eq!(todos.len(), 2, "{}", json.report());
    assert_eq!(todos[0]["kind"], "community");
    assert_eq!(todos[0]["source"], serde_json::json!(["1006", "1007"]));
    assert_eq!(todos[0]["file"], "mappings.yaml");
    assert_eq!(todos[0]["line"], 3);
    assert_eq!(todos[1]["path"], "/functions/map/0");
}

/// Positive control: a YAML export named by `source.path` is data, not configuration — read as
/// configuration, every one of its keys would be an error.
#[test]
fn yaml_data_file_named_by_source_path_is_not_configuration() {
    let dir = "tests/fixtures/valid/yaml-data-file-not-config";
    let run = common::orgsync(&["validate", "-C", dir]);
    run.assert_code(0);
    common::settings(&run).bind(|| {
        insta::assert_snapshot!("yaml-data-file-not-config", run.snapshot());
    });

    // The control controls: once source.path names another file, the export is configuration
    // again and is refused.
    let root = common::repo().join(dir);
    let config = std::fs::read_to_string(root.join("orgsync.yaml")).expect("read orgsync.yaml");
    let export = std::fs::read(root.join("hr-export.yaml")).expect("read hr-export.yaml");
    let elsewhere = config.replace("path: hr-export.yaml", "path: hr-export.csv");
    assert_ne!(
        config, elsewhere,
        "the fixture names hr-export.yaml in source.path"
    );
    let tmp = common::temp_config(&[
        ("orgsync.yaml", elsewhere.as_bytes()),
        ("hr-export.yaml", &export),
    ]);
    let run = common::orgsync(&["validate", "-C", path_str(tmp.path())]);
    run.assert_code(1).assert_that(
        run.stderr.contains("hr-export.yaml:"),
        "hr-export.yaml is read as configuration when source.path does not name it",
    );
}

/// A 10 MB file is refused by its size, before it is parsed; generated here, not committed.
#[test]
fn ten_megabyte_file_is_refused() {
    let config = b"version: 1\nsource: { kind: file, path: hr-export.json }\ntarget: { kind: file, path: workspace.json }\n";
    let row =
        "- { id: \"E000001\", email: someone@example.com, first_name: Some, last_name: One }\n";
    let export = row.repeat(10_000_000 / row.len() + 1);
    let export = &export.as_bytes()[..10_000_000];
    let tmp = common::temp_config(&[("orgsync.yaml", config), ("people.yaml", export)]);
    let dir = path_str(tmp.path());

    let text = common::orgsync(&["validate", "-C", dir]);
    let json = common::orgsync(&["validate", "-C", dir, "--format", "json"]);
    assert_invalid(&text, &json);
    text.assert_that(
        text.stderr.contains("people.yaml:1:1")
            && text
                .stderr
                .contains("the file is 10.0 MB; configuration files are limited to 1 MB"),
        "the size limit names the file and both sizes",
    );
    common::settings(&text).bind(|| {
        insta::assert_snapshot!(
            "ten-megabyte-file",
            format!("{}\n{}", text.snapshot(), json.snapshot())
        );
    });

    // Named by source.path, the same file is a data export and no concern of validate.
    let named = String::from_utf8_lossy(config).replace("hr-export.json", "people.yaml");
    std::fs::write(tmp.path().join("orgsync.yaml"), named).expect("rewrite orgsync.yaml");
    common::orgsync(&["validate", "-C", dir]).assert_code(0);
}

/// A billion-laughs file expands to about 400 million nodes. It must be refused before it is
/// expanded: under a 256 MiB address-space limit an expansion would die on allocation (another
/// exit status, no such message) instead of taking the machine down. (`ulimit -v` is Linux's.)
#[cfg(target_os = "linux")]
#[test]
fn alias_bomb_is_refused_within_a_small_memory_limit() {
    let run = common::orgsync_with_memory_limit(
        256 * 1024,
        &["validate", "-C", "tests/fixtures/invalid/alias-bomb"],
    );
    run.assert_code(1).assert_that(
        run.stderr
            .contains("error: aliases expand to more than 200000 nodes")
            && run.stderr.contains("orgsync.yaml:9:12"),
        "the alias bomb is refused with its own message, at the alias that crosses the limit",
    );
}

/// Secret values reach no output: not the message, not the quoted source line, not JSON.
#[test]
fn literal_secret_values_never_appear_in_output() {
    let header = "version: 1\n";
    let file_source = "source: { kind: file, path: hr-export.json }\n";
    let file_target = "target: { kind: file, path: workspace.json }\n";
    // (configuration, the secret in it)
    let generated: Vec<(String, &str)> = vec![
        // In a flow mapping, beside another error on the same line.
        (
            format!(
                "{header}{file_source}target: {{ kind: scim, base_url: 5, token: s3cr3t-flow-7f2a }}\n"
            ),
            "s3cr3t-flow-7f2a",
        ),
        // A number.
        (
            format!(
                "{header}source: {{ kind: afas, environment: \"1\", token: 8675309123 }}\n{file_target}"
            ),
            "8675309123",
        ),
        // Quoted, in a file that does not parse (the quote is not closed).
        (
            format!(
                "{header}{file_source}target:\n  kind: scim\n  base_url: https://x.example\n  token: \"s3cr3t-unclosed-91b\n"
            ),
            "s3cr3t-unclosed-91b",
        ),
        // A duplicate key whose line holds the secret.
        (
            format!(
                "{header}{file_source}target:\n  kind: scim\n  base_url: https://x.example\n  token: ${{env:SCIM_TOKEN}}\n  token: s3cr3t-duplicate-44c\n"
            ),
            "s3cr3t-duplicate-44c",
        ),
        // A block scalar.
        (
            format!(
                "{header}{file_target}source:\n  kind: afas\n  environment: \"1\"\n  token: |\n    s3cr3t-block-0d1\n"
            ),
            "s3cr3t-block-0d1",
        ),
        // An unknown key on the secret's line.
        (
            format!(
                "{header}{file_source}target: {{ kind: scim, base_ur: https://x.example, token: 's3cr3t-typo-e55' }}\n"
            ),
            "s3cr3t-typo-e55",
        ),
    ];
    let mut dirs: Vec<(tempfile::TempDir, &str)> = generated
        .iter()
        .map(|(config, secret)| {
            (
                common::temp_config(&[("orgsync.yaml", config.as_bytes())]),
                *secret,
            )
        })
        .collect();
    let mut checked = 0;
    for (case, secret) in [
        ("literal-secret-afas-source", "AFAS-SECRET-9f8e7d6c5b4a"),
        ("literal-secret-scim-target", "scim-secret-0a1b2c3d4e5f"),
    ] {
        let dir = common::repo().join(INVALID).join(case);
        let text = std::fs::read_to_string(dir.join("orgsync.yaml")).expect("read the fixture");
        assert!(text.contains(secret), "{case} holds {secret}");
        let tmp = common::temp_config(&[("orgsync.yaml", text.as_bytes())]);
        dirs.push((tmp, secret));
    }
    for (tmp, secret) in &dirs {
        let dir = path_str(tmp.path());
        for args in [
            vec!["validate", "-C", dir],
            vec!["validate", "-C", dir, "--format", "json"],
            vec!["-vvv", "validate", "-C", dir],
        ] {
            let run = common::orgsync(&args);
            run.assert_code(1).assert_that(
                !run.stdout.contains(secret) && !run.stderr.contains(secret),
                &format!("the secret {secret:?} appears in the output"),
            );
            checked += 1;
        }
    }
    assert_eq!(checked, dirs.len() * 3);
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

// ---------------------------------------------------------------------------------------------
// `validate --online` against the AFAS emulator.

const AFAS_TOKEN: &str = "afas-token-validate-5d1";

/// Runs orgsync in `dir` (as `-C`) with the AFAS token in the environment.
fn run_online(dir: &Path, args: &[&str]) -> Run {
    let mut cmd = assert_cmd::Command::cargo_bin("orgsync").expect("the orgsync binary is built");
    cmd.args(args)
        .arg("-C")
        .arg(dir)
        .current_dir(common::repo())
        .env("NO_COLOR", "1")
        .env("AFAS_TOKEN", AFAS_TOKEN)
        .env("GIT_CEILING_DIRECTORIES", common::repo())
        .env_remove("RUST_LOG");
    let output = cmd.output().expect("orgsync runs");
    Run {
        command: format!("orgsync {} -C {}", args.join(" "), dir.display()),
        dir: dir.to_owned(),
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// An AFAS source at `base_url` with `source_extra` (indented by two) and a file target.
fn afas_config(base_url: &str, source_extra: &str, rest: &str) -> tempfile::TempDir {
    let yaml = format!(
        "version: 1\nsource:\n  kind: afas\n  base_url: {base_url}\n  token: ${{env:AFAS_TOKEN}}\n  page_size: 50\n{source_extra}target: {{ kind: file, path: workspace.json }}\npolicy: {{ unmapped_communities: create }}\n{rest}"
    );
    common::temp_config(&[("orgsync.yaml", yaml.as_bytes())])
}

/// A GetConnector as a customer defines it: AFAS's common names, except the work e-mail is
/// `Mail_werk`, and without department or manager fields.
fn customer_connector() -> orgsync_sandbox::afas::AfasData {
    use orgsync_sandbox::generate::{GenerateOptions, generate};
    let g = generate(&GenerateOptions::new(60, 3));
    let mut data = orgsync_sandbox::afas::AfasData::from_snapshot("Profit_Medewerkers", &g.source);
    let dropped = [
        "Afdeling_code",
        "Afdeling_omschrijving",
        "Persoonsnummer_leidinggevende",
    ];
    for row in &mut data.rows {
        for f in dropped {
            row.remove(f);
        }
        if let Some(mail) = row.remove("Email_werk") {
            row.insert("Mail_werk".to_owned(), mail);
        }
    }
    data.fields.retain(|f| !dropped.contains(&f.as_str()));
    for f in &mut data.fields {
        if f == "Email_werk" {
            *f = "Mail_werk".to_owned();
        }
    }
    data
}

fn start_emulator(
    data: orgsync_sandbox::afas::AfasData,
) -> (orgsync_sandbox::serve::Running, String) {
    use orgsync_sandbox::{afas, serve};
    let server = serve::spawn(afas::router(data, AFAS_TOKEN, serve::Faults::default()), 0)
        .expect("the AFAS emulator starts");
    let url = format!("{}{}", server.url(), afas::BASE_PATH);
    (server, url)
}

/// Regression (issue 10): a `columns:` block that names one field keeps AFAS's defaults for
/// the others (it used to replace them all with orgsync's generic names, and the plan failed
/// with "no person identifier"), and `validate --online` demands no department or manager field
/// of a configuration that never uses them.
#[test]
fn online_afas_partial_columns_merge_with_the_defaults_and_check_only_what_is_used() {
    let (_server, url) = start_emulator(customer_connector());
    let dir = afas_config(
        &url,
        "  connector: Profit_Medewerkers\n  columns:\n    email: Mail_werk\n",
        "",
    );
    let online = run_online(dir.path(), &["validate", "--online"]);
    online.assert_code(0).assert_that(
        online
            .stdout
            .contains("Online: the source and the target answer and match the configuration."),
        "validate --online passes for a configuration that sets only some columns",
    );
    let plan = run_online(
        dir.path(),
        &["plan", "--format", "json", "--at", "2025-06-02"],
    );
    plan.assert_code(0);
    let plan: Value = serde_json::from_str(&plan.stdout).expect("plan JSON");
    let invites = plan["summary"]["invite"].as_u64().unwrap_or_default();
    assert!(
        invites > 10,
        "the people are read with AFAS's field names and invited: {invites} invites"
    );

    // The same columns, once the configuration uses departments: now the field is demanded,
    // with the way out.
    let dir = afas_config(
        &url,
        "  connector: Profit_Medewerkers\n  columns:\n    email: Mail_werk\n",
        "functions: { from: department }\n",
    );
    let online = run_online(dir.path(), &["validate", "--online"]);
    online.assert_code(1).assert_that(
        online.stderr.contains(
            "error: source.columns.department: the GetConnector `Profit_Medewerkers` has no field `Afdeling_code`",
        ) && !online.stderr.contains("source.columns.manager"),
        "a used optional column the connector lacks is an error; an unused one is not checked",
    );
}

/// Regression (issue 10): a column the configuration declares itself is checked online, even
/// an optional one nothing else uses; `null` switches it off.
#[test]
fn online_afas_declared_column_the_connector_lacks_is_an_error() {
    let (_server, url) = start_emulator(customer_connector());
    let dir = afas_config(
        &url,
        "  connector: Profit_Medewerkers\n  columns:\n    email: Mail_werk\n    manager: Persoonsnummer_leidinggevende\n    attributes: { contract_type: Soort_medewerker }\n",
        "",
    );
    let online = run_online(dir.path(), &["validate", "--online"]);
    online.assert_code(1).assert_that(
        online.stderr.contains(
            "error: source.columns.manager: the GetConnector `Profit_Medewerkers` has no field `Persoonsnummer_leidinggevende` (set `columns.manager: null` if it has no such field)",
        ) && online.stderr.contains(
            "error: source.columns.attributes.contract_type: the GetConnector `Profit_Medewerkers` has no field `Soort_medewerker`",
        ) && online.stderr.contains("found 2 problems"),
        "both declared columns are reported, with the key and a way out",
    );
    let dir = afas_config(
        &url,
        "  connector: Profit_Medewerkers\n  columns:\n    email: Mail_werk\n    manager: null\n",
        "",
    );
    run_online(dir.path(), &["validate", "--online"]).assert_code(0);
}

/// Regression (issue 10): a misspelt GetConnector is found in `/metainfo`'s list with a "did
/// you mean", in one request instead of retries of a deterministic error.
#[test]
fn online_afas_misspelt_connector_gets_a_did_you_mean() {
    let (server, url) = start_emulator(customer_connector());
    let dir = afas_config(
        &url,
        "  connector: Profit_Medewerker\n  columns: { email: Mail_werk }\n",
        "",
    );
    let online = run_online(dir.path(), &["validate", "--online"]);
    online.assert_code(1).assert_that(
        online.stderr.contains(
            "source.connector: AFAS has no GetConnector `Profit_Medewerker` that this token may use (did you mean `Profit_Medewerkers`?)",
        ),
        "the connector's near miss is offered",
    );
    drop(server);
}

/// `validate --online` against `orgsync sandbox afas` itself (the emulator as a user runs it)
/// passes for a configuration that sets only some columns.
#[test]
fn online_against_orgsync_sandbox_afas_with_only_some_columns() {
    use std::net::TcpStream;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let port = std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("orgsync"))
        .args(["sandbox", "afas", "--people", "40", "--token", AFAS_TOKEN])
        .args(["--port", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("orgsync sandbox afas starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the emulator did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let url = format!("http://127.0.0.1:{port}/ProfitRestServices");
    let dir = afas_config(
        &url,
        "  columns:\n    community_name: Organisatorische_eenheid_omschrijving\n    manager: null\n    department: null\n    department_name: null\n",
        "",
    );
    let online = run_online(dir.path(), &["validate", "--online"]);
    let _ = child.kill();
    let _ = child.wait();
    online.assert_code(0);
}

/// Regression (issue 10): `validate --ref` checks the data paths too, in the work tree where
/// they are read: a `source.path` that names a directory is refused.
#[test]
fn validate_at_a_ref_refuses_a_source_path_that_is_a_directory() {
    let tmp = common::temp_config(&[(
        "orgsync.yaml",
        b"version: 1\nsource: { kind: file, path: exports }\ntarget: { kind: file, path: workspace.json }\n",
    )]);
    std::fs::create_dir(tmp.path().join("exports")).expect("create exports/");
    let git = |args: &[&str]| common::git(tmp.path(), args);
    git(&["init", "-q"]);
    git(&["add", "orgsync.yaml"]);
    git(&["commit", "-q", "-m", "config"]);
    let run = common::orgsync_in(tmp.path(), &["validate", "--ref", "HEAD"]);
    run.assert_code(1).assert_that(
        run.stderr
            .contains("error: `exports` is a directory, not the export file")
            && run.stderr.contains("--> orgsync.yaml:2:23 at source.path"),
        "the directory is reported at source.path",
    );
}

/// Regression: `validate --online --format json` printed the online verdict as text after the
/// JSON, so the output was not one JSON document. Now the problems are in it, and exit 1 says
/// there are some.
#[test]
fn online_json_is_one_document_with_the_problems() {
    let (_server, url) = start_emulator(customer_connector());
    let dir = afas_config(
        &url,
        "  connector: Profit_Medewerkers\n  columns:\n    email: Mail_werk\n    manager: Persoonsnummer_leidinggevende\n",
        "",
    );
    let online = run_online(dir.path(), &["validate", "--online", "--format", "json"]);
    online.assert_code(1);
    let value: Value = serde_json::from_str(&online.stdout)
        .unwrap_or_else(|e| panic!("one JSON document ({e}):\n{}", online.stdout));
    assert_eq!(value["valid"], true, "{value}");
    assert_eq!(value["online"]["ok"], false, "{value}");
    let problems = value["online"]["problems"].as_array().unwrap();
    assert!(
        problems.len() == 1
            && problems[0]
                .as_str()
                .unwrap()
                .contains("source.columns.manager"),
        "{value}"
    );

    let dir = afas_config(
        &url,
        "  connector: Profit_Medewerkers\n  columns:\n    email: Mail_werk\n",
        "",
    );
    let online = run_online(dir.path(), &["validate", "--online", "--format", "json"]);
    online.assert_code(0);
    let value: Value = serde_json::from_str(&online.stdout).expect("one JSON document");
    assert_eq!(value["online"]["ok"], true, "{value}");
}

/// Regression (issue 20): a configured column that no row of the export has passed validate —
/// `end: Einddatumx` kept a leaver and counted an ended 2022 employment as current. Now a
/// required or used column is an error (see the corpus), and an optional one nothing uses is a
/// warning: valid, exit 0, said on stderr and in the JSON `warnings`.
#[test]
fn an_optional_column_no_row_has_is_a_warning() {
    let config = b"version: 1\nsource:\n  kind: file\n  path: hr-export.json\n  columns:\n    manager: Leidinggevende\ntarget: { kind: file, path: workspace.json }\n";
    let export = br#"[{ "id": "1", "email": "a@example.com", "first_name": "A", "last_name": "B", "start": "2020-01-01", "end": null, "community": "1001" }]"#;
    let tmp = common::temp_config(&[("orgsync.yaml", config), ("hr-export.json", export)]);
    let dir = path_str(tmp.path());
    let text = common::orgsync(&["validate", "-C", dir]);
    text.assert_code(0).assert_that(
        text.stderr.starts_with("warning: no row of the export `hr-export.json` (1 row) has the column `Leidinggevende`")
            && text.stderr.contains("--> orgsync.yaml:6:5 at source.columns.manager")
            && text.stdout.starts_with("The configuration is valid"),
        "the warning names the column, the export and the key; the configuration is valid",
    );
    let json = common::orgsync(&["validate", "-C", dir, "--format", "json"]);
    json.assert_code(0);
    let report: Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(report["valid"], true, "{report}");
    assert_eq!(report["errors"], serde_json::json!([]), "{report}");
    assert_eq!(
        report["warnings"][0]["path"], "source.columns.manager",
        "{report}"
    );
    assert_eq!(report["warnings"][0]["line"], 6, "{report}");

    // The control: the column is there, nothing is said.
    let export = br#"[{ "id": "1", "email": "a@example.com", "first_name": "A", "last_name": "B", "start": "2020-01-01", "end": null, "community": "1001", "Leidinggevende": null }]"#;
    std::fs::write(tmp.path().join("hr-export.json"), export).expect("rewrite the export");
    let text = common::orgsync(&["validate", "-C", dir]);
    text.assert_code(0).assert_that(
        text.stderr.is_empty(),
        "no warning once a row has the column",
    );
}
