//! The `file` target's guards, end to end: a `target.path` outside the configuration directory
//! needs `allow_outside_config_dir: true`, and a JSON file that is not a workspace is refused.

use std::path::Path;

use crate::common::{orgsync_in, repo};

/// The quickstart in `<tmp>/config`, with its workspace moved to `target_path`.
fn quickstart(root: &Path, target_path: &str, allow: bool) {
    let config = root.join("config");
    std::fs::create_dir(&config).expect("config dir");
    for entry in std::fs::read_dir(repo().join("examples/quickstart")).expect("quickstart") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), config.join(entry.file_name())).expect("copy");
    }
    let yaml = std::fs::read_to_string(config.join("orgsync.yaml")).expect("read");
    let allow = if allow {
        "\n  allow_outside_config_dir: true"
    } else {
        ""
    };
    let yaml = yaml.replace(
        "  path: workspace.json",
        &format!("  path: {target_path}{allow}"),
    );
    std::fs::write(config.join("orgsync.yaml"), yaml).expect("write");
}

#[test]
fn a_target_path_outside_the_configuration_directory_needs_an_opt_in() {
    let root = tempfile::tempdir().expect("tmp");
    quickstart(root.path(), "../elsewhere.json", false);
    let important = root.path().join("elsewhere.json");
    std::fs::write(&important, r#"{"important": true}"#).expect("write");
    let r = orgsync_in(root.path(), &["apply", "-C", "config", "--auto-approve"]);
    r.assert_code(1).assert_that(
        r.stderr.contains("allow_outside_config_dir"),
        "the error names the opt-in",
    );

    // With the opt-in the path is used — and a file that is not a workspace is still refused.
    let root = tempfile::tempdir().expect("tmp");
    quickstart(root.path(), "../elsewhere.json", true);
    let important = root.path().join("elsewhere.json");
    std::fs::write(&important, r#"{"important": true}"#).expect("write");
    let r = orgsync_in(root.path(), &["apply", "-C", "config", "--auto-approve"]);
    r.assert_code(1).assert_that(
        r.stderr.contains("not an orgsync workspace"),
        "a non-workspace is refused",
    );
    assert_eq!(
        std::fs::read_to_string(&important).expect("read"),
        r#"{"important": true}"#
    );
    std::fs::remove_file(&important).expect("rm");
    let r = orgsync_in(root.path(), &["apply", "-C", "config", "--auto-approve"]);
    r.assert_code(0);
    assert!(important.exists(), "written outside with the opt-in");
}
