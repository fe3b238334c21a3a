//! Recruitee → AFAS applicants end to end (issue 13, seed 004): the real binary against the
//! Recruitee emulator and the AFAS emulator's UpdateConnector, with lost answers (processed but
//! never answered), kill -9 in the middle of sends, AFAS validation errors and changed candidate
//! data. The one rule every test checks: nobody is ever sent to AFAS twice, and nothing
//! personal reaches the git notes.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use orgsync_sandbox::afas::{self, AfasData, Applicants};
use orgsync_sandbox::recruitee::{self, RecruiteeData, SharedData};
use orgsync_sandbox::serve::{Faults, Running, spawn};
use serde_json::Value;

use crate::common::{Run, repo};
use crate::http::commit_all;

pub(crate) const REC_TOKEN: &str = "recruitee-token-9d1f2c";
pub(crate) const AFAS_TOKEN: &str = "afas-token-applicants-77ab";
pub(crate) const AT: &str = "2026-06-01";

/// Both emulators and a committed configuration directory.
pub(crate) struct Setup {
    pub(crate) recruitee: SharedData,
    pub(crate) applicants: Applicants,
    pub(crate) dir: tempfile::TempDir,
    _servers: (Running, Running),
}

impl Setup {
    /// `people` candidates; AFAS with `faults`; with or without the lookup GetConnector.
    pub(crate) fn new(people: usize, faults: Faults, lookup: bool) -> Setup {
        Setup::with_data(
            RecruiteeData::generate(people, 11, AT.parse().unwrap()),
            faults,
            lookup,
        )
    }

    pub(crate) fn with_data(data: RecruiteeData, faults: Faults, lookup: bool) -> Setup {
        let company = data.company_id.clone();
        let recruitee = data.shared();
        let rec = spawn(
            recruitee::router(recruitee.clone(), REC_TOKEN, Faults::default()),
            0,
        )
        .unwrap();
        let applicants = Applicants::default();
        let empty = AfasData {
            connector: "orgsync_employees".into(),
            rows: Vec::new(),
            fields: Vec::new(),
            key: "Medewerker".into(),
        };
        let afas_server = spawn(
            afas::router_with_applicants(empty, AFAS_TOKEN, faults, applicants.clone()),
            0,
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut yaml = recruitee::config_yaml(
            &rec.url(),
            &company,
            &format!("{}{}", afas_server.url(), afas::BASE_PATH),
        );
        if !lookup {
            let start = yaml.find("  lookup:\n").unwrap();
            let end = yaml.find("identity:").unwrap();
            yaml.replace_range(start..end, "");
        }
        // Lost answers are not retried anyway; keep the tests quick.
        yaml = yaml.replace(
            "  token: ${env:AFAS_TOKEN}\n",
            "  token: ${env:AFAS_TOKEN}\n  timeout_secs: 5\n",
        );
        std::fs::write(dir.path().join("orgsync.yaml"), yaml).unwrap();
        commit_all(dir.path());
        Setup {
            recruitee,
            applicants,
            dir,
            _servers: (rec, afas_server),
        }
    }

    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let bin = assert_cmd::cargo::cargo_bin("orgsync");
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .env_remove("GITHUB_ACTOR")
            .env("GIT_CEILING_DIRECTORIES", repo())
            .env("RECRUITEE_TOKEN", REC_TOKEN)
            .env("AFAS_TOKEN", AFAS_TOKEN);
        cmd
    }

    pub(crate) fn run(&self, args: &[&str]) -> Run {
        let output = self.command(args).output().expect("orgsync runs");
        Run {
            command: format!("orgsync {}", args.join(" ")),
            dir: self.dir.path().to_owned(),
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    pub(crate) fn apply(&self) -> Run {
        self.run(&["apply", "--auto-approve", "--at", AT])
    }

    pub(crate) fn plan_json(&self) -> Value {
        let r = self.run(&["plan", "--format", "json", "--at", AT]);
        r.assert_code(0);
        serde_json::from_str(&r.stdout).expect("plan JSON")
    }

    /// Ids of the hired candidates, by their e-mail address.
    pub(crate) fn hired_emails(&self) -> BTreeMap<String, String> {
        let data = self.recruitee.lock().unwrap();
        let hired = data.hired();
        data.candidates
            .iter()
            .filter(|c| hired.contains(&c["id"].to_string()))
            .map(|c| {
                (
                    c["emails"][0].as_str().unwrap().to_owned(),
                    c["id"].to_string(),
                )
            })
            .collect()
    }

    /// How often each e-mail address was sent to AFAS.
    pub(crate) fn sent(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for a in self.applicants.lock().unwrap().iter() {
            *out.entry(a["EmAd"].as_str().unwrap_or_default().to_owned())
                .or_default() += 1;
        }
        out
    }

    /// Asserts that nobody was sent twice; returns how many were sent.
    pub(crate) fn assert_never_twice(&self, context: &str) -> usize {
        let sent = self.sent();
        let twice: Vec<_> = sent.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "{context}: sent twice: {twice:?}");
        sent.len()
    }

    /// Every note under refs/notes/orgsync.
    pub(crate) fn notes(&self) -> String {
        let repo = git2::Repository::open(self.dir.path()).unwrap();
        let mut out = String::new();
        if let Ok(notes) = repo.notes(Some("refs/notes/orgsync")) {
            for n in notes {
                let (_, commit) = n.unwrap();
                let note = repo.find_note(Some("refs/notes/orgsync"), commit).unwrap();
                out.push_str(note.message().unwrap_or_default());
            }
        }
        out
    }

    /// Commits the configuration again (after an edit).
    pub(crate) fn recommit(&self) {
        let ok = Command::new("git")
            .args([
                "-c",
                "user.name=Carol Operator",
                "-c",
                "user.email=carol@ops.example",
            ])
            .args(["commit", "-qam", "edit"])
            .current_dir(self.dir.path())
            .status()
            .unwrap()
            .success();
        assert!(ok, "git commit");
    }

    /// Asserts that `text` holds no applicant data that only AFAS may see (phone, birth date,
    /// postal code). Names and e-mail addresses show in a plan's text as for any invite.
    pub(crate) fn assert_no_applicant_data(&self, text: &str, what: &str) {
        self.assert_absent(text, what, false);
    }

    /// Asserts that `text` holds no candidate's personal data (names, e-mail, phone, birth
    /// date, address).
    pub(crate) fn assert_no_personal_data(&self, text: &str, what: &str) {
        self.assert_absent(text, what, true);
    }

    fn assert_absent(&self, text: &str, what: &str, names: bool) {
        let data = self.recruitee.lock().unwrap();
        for c in &data.candidates {
            let mut values: Vec<String> = vec![c["phones"][0].as_str().unwrap().to_owned()];
            if names {
                values.push(c["name"].as_str().unwrap().to_owned());
                values.push(c["emails"][0].as_str().unwrap().to_owned());
            }
            for f in c["fields"].as_array().unwrap() {
                let v = &f["values"][0];
                let v = v["text"]
                    .as_str()
                    .or(v["date"].as_str())
                    .unwrap_or_default();
                if ["Date of birth", "Postal code"]
                    .contains(&f["name"].as_str().unwrap_or_default())
                {
                    values.push(v.to_owned());
                }
            }
            for v in values {
                assert!(!text.contains(&v), "{what} holds `{v}`:\n{text}");
            }
        }
    }
}

#[test]
fn hired_candidates_are_sent_once_and_new_hires_later() {
    let s = Setup::new(40, Faults::default(), false);
    let hired = s.hired_emails();
    assert!(hired.len() >= 5, "{hired:?}");

    let plan = s.plan_json();
    assert_eq!(plan["summary"]["invite"], hired.len());
    let total: u64 = plan["summary"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(
        total,
        hired.len() as u64,
        "a create-only plan holds sends only"
    );
    // The plan carries a digest of the applicant data, never the data.
    let text = serde_json::to_string(&plan).unwrap();
    assert!(text.contains("hmac-sha256:"));
    for key in ["birth_date", "DaBi", "postal_code", "phone"] {
        assert!(!text.contains(key), "the plan names {key}");
    }

    let r = s.apply();
    r.assert_code(0);
    assert_eq!(s.assert_never_twice("first apply"), hired.len());
    // AFAS received the applicant data (birth date, gender code, address, e-mail).
    for a in s.applicants.lock().unwrap().iter() {
        for f in [
            "FiNm", "LaNm", "DaBi", "ViGe", "EmAd", "TeNr", "Ad", "HmNr", "ZpCd", "Rs",
        ] {
            assert!(a.get(f).is_some(), "{f} not sent: {a}");
        }
        assert!(
            ["M", "V", "X"].contains(&a["ViGe"].as_str().unwrap()),
            "{a}"
        );
    }

    // The badges: who sent whom, when, the applicant id; identifiers only.
    let notes = s.notes();
    let badges: Vec<Value> = notes
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["badge"] == "afas_applicant")
        .collect();
    let sent: Vec<&Value> = badges.iter().filter(|b| b["state"] == "sent").collect();
    assert_eq!(sent.len(), hired.len());
    assert!(
        sent.iter()
            .all(|b| b["actor"] == "Carol Operator" && b["applicant_id"].is_string())
    );
    assert_eq!(
        badges.iter().filter(|b| b["state"] == "in_flight").count(),
        hired.len(),
        "a badge before every send"
    );
    s.assert_no_personal_data(&notes, "the git notes");

    // Nothing left to send; applying again sends nobody.
    let again = s.run(&["plan", "--at", AT, "--detailed-exitcode"]);
    again.assert_code(0);
    assert!(
        again.stdout.contains("never sent again"),
        "{}",
        again.report()
    );
    s.apply().assert_code(0);
    s.assert_never_twice("second apply");

    // A new hire is sent on the next run, alone.
    let next = {
        let data = s.recruitee.lock().unwrap();
        let hired = data.hired();
        data.candidates
            .iter()
            .map(|c| c["id"].to_string())
            .find(|id| !hired.contains(id))
            .unwrap()
    };
    s.recruitee.lock().unwrap().hire(&next, AT.parse().unwrap());
    let plan = s.plan_json();
    assert_eq!(plan["summary"]["invite"], 1);
    assert_eq!(plan["actions"][0]["subject"], next);
    s.apply().assert_code(0);
    assert_eq!(s.assert_never_twice("new hire"), hired.len() + 1);
}

/// Lost answers (`--error-rate`: half of those errors were processed by AFAS first): with the
/// lookup, repeated applies converge on everyone sent exactly once.
#[test]
fn lost_answers_are_looked_up_and_never_sent_twice() {
    let faults = Faults {
        error_rate: 0.4,
        fault_seed: 7,
        ..Faults::default()
    };
    let s = Setup::new(48, faults, true);
    let hired = s.hired_emails();
    let mut rounds = 0;
    loop {
        rounds += 1;
        let r = s.apply();
        s.assert_never_twice(&format!("round {rounds}"));
        s.assert_no_applicant_data(&r.stdout, "apply's output");
        s.assert_no_applicant_data(&r.stderr, "apply's errors");
        if r.code == 0 && s.sent().len() == hired.len() {
            break;
        }
        assert!(
            rounds < 25,
            "no convergence after {rounds} applies:\n{}",
            r.report()
        );
    }
    let sent = s.sent();
    assert_eq!(
        sent.keys().collect::<Vec<_>>(),
        hired.keys().collect::<Vec<_>>()
    );
    assert!(rounds > 1, "the faults should have failed some sends");
    let found = s
        .notes()
        .lines()
        .filter(|l| l.contains("\"found\":true"))
        .count();
    assert!(
        found >= 1,
        "some lost answers were processed: the lookup found them"
    );
    s.assert_no_personal_data(&s.notes(), "the git notes");
}

/// Without the lookup, an unconfirmed send is held as a manual step (a warning, not in the
/// plan); once a person checked AFAS and listed the missing ones under `target.resend`, they
/// are sent, and still nobody twice.
#[test]
fn without_a_lookup_unconfirmed_sends_are_held_for_a_person() {
    let faults = Faults {
        error_rate: 0.5,
        fault_seed: 3,
        ..Faults::default()
    };
    let s = Setup::new(40, faults, false);
    let hired = s.hired_emails();
    let r = s.apply();
    assert_eq!(r.code, 1, "{}", r.report());
    assert!(r.stdout.contains("the answer was lost"), "{}", r.report());
    s.assert_never_twice("first apply");

    let plan = s.plan_json();
    let held: Vec<String> = plan["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "send_interrupted")
        .map(|d| d["subject"].as_str().unwrap().to_owned())
        .collect();
    assert!(!held.is_empty(), "{plan}");
    assert_eq!(plan["held"]["send_interrupted"], held.len());
    // And a manual step, by candidate id (the target-capability seam's vocabulary).
    let mut sorted = held.clone();
    sorted.sort();
    let step = plan["manual_steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["capability"] == "lookup")
        .unwrap_or_else(|| panic!("{plan}"));
    assert_eq!(step["subjects"], serde_json::json!(sorted));
    let planned: Vec<&str> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["subject"].as_str().unwrap())
        .collect();
    assert!(
        held.iter().all(|h| !planned.contains(&h.as_str())),
        "held ones are not planned"
    );
    let text = s.run(&["plan", "--at", AT]);
    assert!(
        text.stdout
            .contains("manual step: look for the candidate in AFAS"),
        "{}",
        text.report()
    );

    // Applying again (faults still on) never sends a held one.
    let _ = s.apply();
    s.assert_never_twice("second apply");

    // A person checks AFAS: the held candidates that are not there go under target.resend.
    let sent = s.sent();
    let missing: Vec<String> = held
        .iter()
        .filter(|id| {
            let email = hired.iter().find(|(_, i)| i == id).unwrap().0;
            !sent.contains_key(email)
        })
        .cloned()
        .collect();
    let path = s.dir.path().join("orgsync.yaml");
    let yaml = std::fs::read_to_string(&path).unwrap().replace(
        "  timeout_secs: 5\n",
        &format!(
            "  timeout_secs: 5\n  resend: [{}]\n",
            missing
                .iter()
                .map(|m| format!("\"{m}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    std::fs::write(&path, yaml).unwrap();
    s.recommit();
    for _ in 0..20 {
        let _ = s.apply();
        s.assert_never_twice("after resend");
    }
    // Every listed one is now in AFAS once, or — when its resend was lost too — held again.
    let plan = s.plan_json();
    let held_again: Vec<&str> = plan["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "send_interrupted")
        .filter_map(|d| d["subject"].as_str())
        .collect();
    let sent = s.sent();
    for id in &missing {
        let email = hired.iter().find(|(_, i)| *i == id).unwrap().0;
        assert!(
            sent.get(email) == Some(&1) || held_again.contains(&id.as_str()),
            "{id}: neither sent once nor held: {plan}"
        );
    }
    assert!(
        missing.iter().any(|id| {
            let email = hired.iter().find(|(_, i)| *i == id).unwrap().0;
            sent.get(email) == Some(&1)
        }) || missing.is_empty(),
        "no resend went through"
    );
}

/// kill -9 while sends are in flight (AFAS finishes a create the client stopped waiting for):
/// the next applies look the unconfirmed ones up and send each candidate exactly once.
#[test]
fn kill_9_mid_apply_never_sends_anyone_twice() {
    let faults = Faults {
        slow_create_ms: 150,
        ..Faults::default()
    };
    let s = Setup::new(45, faults, true);
    let hired = s.hired_emails();
    for delay in [400u64, 900, 1500] {
        let (out, err) = (
            s.dir.path().join("apply.out"),
            s.dir.path().join("apply.err"),
        );
        let mut child = s
            .command(&["apply", "--auto-approve", "--at", AT])
            .stdout(Stdio::from(std::fs::File::create(&out).unwrap()))
            .stderr(Stdio::from(std::fs::File::create(&err).unwrap()))
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        let _ = Command::new("kill")
            .args(["-KILL", &child.id().to_string()])
            .status();
        let _ = child.wait();
        // Let AFAS finish the create the killed apply was waiting for.
        std::thread::sleep(Duration::from_millis(300));
        s.assert_never_twice(&format!("kill -9 after {delay} ms"));
    }
    let unconfirmed = s.plan_json()["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "send_interrupted")
        .map(|d| d["count"].as_u64().unwrap())
        .sum::<u64>();
    let r = s.apply();
    r.assert_code(0);
    assert_eq!(s.assert_never_twice("after the kills"), hired.len());
    // One send at a time: each kill leaves at most one send unconfirmed.
    assert!(
        unconfirmed <= 3,
        "{unconfirmed} unconfirmed sends after three kills"
    );
    let r = s.run(&["plan", "--at", AT, "--detailed-exitcode"]);
    r.assert_code(0);
}

/// A timeout whose request AFAS processed after all (the create lands after the client gave up):
/// the send is unconfirmed, never retried blindly; the next apply finds it by the lookup.
#[test]
fn a_timeout_whose_create_landed_is_found_not_resent() {
    let faults = Faults {
        slow_create_ms: 1_600,
        ..Faults::default()
    };
    let s = Setup::new(8, faults, true);
    let path = s.dir.path().join("orgsync.yaml");
    let yaml = std::fs::read_to_string(&path)
        .unwrap()
        .replace("  timeout_secs: 5\n", "  timeout_secs: 1\n");
    std::fs::write(&path, yaml).unwrap();
    s.recommit();
    let hired = s.hired_emails();
    let first = s.apply();
    assert_eq!(first.code, 1, "{}", first.report());
    assert!(
        first.stdout.contains("the answer was lost"),
        "{}",
        first.report()
    );
    // The creates land in AFAS after the client gave up.
    std::thread::sleep(Duration::from_millis(2_000));
    assert_eq!(s.assert_never_twice("after the timeouts"), hired.len());
    let plan = s.plan_json();
    assert_eq!(
        plan["summary"]["invite"],
        hired.len(),
        "unconfirmed: looked up, still planned"
    );
    let second = s.apply();
    second.assert_code(0);
    assert_eq!(s.assert_never_twice("after the lookup"), hired.len());
    let found = s
        .notes()
        .lines()
        .filter(|l| l.contains("\"found\":true"))
        .count();
    assert_eq!(found, hired.len(), "every one found, none posted again");
    // Resolved by itself: nothing held, nothing to do.
    let plan = s.plan_json();
    assert_eq!(plan["held"], serde_json::json!({}), "{plan}");
    s.run(&["plan", "--at", AT, "--detailed-exitcode"])
        .assert_code(0);
}

/// Regression (issue 21): a lost answer AFAS did process stayed held forever without a lookup
/// (`send_interrupted`, a manual step, `--detailed-exitcode` 2 on every plan), and the only
/// lever, `resend`, made a duplicate applicant. `target.sent` is the opposite lever: the person
/// who found the applicants in AFAS lists them; the plan says so, the next apply records them as
/// sent (a `checked` badge), and they are never sent, even once the list is gone.
#[test]
fn a_processed_lost_answer_checked_by_hand_is_recorded_as_sent_not_held_forever() {
    let faults = Faults {
        slow_create_ms: 1_600,
        ..Faults::default()
    };
    let s = Setup::new(8, faults, false);
    let path = s.dir.path().join("orgsync.yaml");
    let yaml = std::fs::read_to_string(&path)
        .unwrap()
        .replace("  timeout_secs: 5\n", "  timeout_secs: 1\n");
    std::fs::write(&path, &yaml).unwrap();
    s.recommit();
    let hired = s.hired_emails();
    assert!(!hired.is_empty());
    let first = s.apply();
    assert_eq!(first.code, 1, "{}", first.report());
    // The creates land in AFAS after the client gave up.
    std::thread::sleep(Duration::from_millis(2_000));
    assert_eq!(s.assert_never_twice("after the timeouts"), hired.len());
    let plan = s.plan_json();
    assert_eq!(plan["held"]["send_interrupted"], hired.len(), "{plan}");
    s.run(&["plan", "--at", AT, "--detailed-exitcode"])
        .assert_code(2);

    // A person found them all in AFAS.
    let mut ids: Vec<&String> = hired.values().collect();
    ids.sort();
    let list = ids
        .iter()
        .map(|i| format!("\"{i}\""))
        .collect::<Vec<_>>()
        .join(", ");
    std::fs::write(
        &path,
        yaml.replace(
            "  timeout_secs: 1\n",
            &format!("  timeout_secs: 1\n  sent: [{list}]\n"),
        ),
    )
    .unwrap();
    s.recommit();
    let plan = s.plan_json();
    assert_eq!(plan["held"], serde_json::json!({}), "{plan}");
    assert!(
        plan["manual_steps"].as_array().is_none_or(Vec::is_empty),
        "{plan}"
    );
    assert_eq!(plan["actions"], serde_json::json!([]), "{plan}");
    let vouched = plan["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| {
            d["kind"] == "already_sent" && d["message"].as_str().unwrap().contains("target.sent")
        })
        .count();
    assert_eq!(vouched, hired.len(), "{plan}");
    let md = s.run(&["plan", "--at", AT, "--format", "markdown"]);
    assert!(md.stdout.contains("target.sent"), "{}", md.report());
    s.run(&["plan", "--at", AT, "--detailed-exitcode"])
        .assert_code(0);

    let applied = s.apply();
    applied.assert_code(0);
    assert!(
        applied.stdout.contains("Recorded as sent"),
        "{}",
        applied.report()
    );
    let checked = s
        .notes()
        .lines()
        .filter(|l| l.contains("\"checked\":true"))
        .count();
    assert_eq!(checked, hired.len(), "{}", s.notes());

    // The badge, not the list, is what remembers: without the list nothing is sent or held.
    std::fs::write(&path, &yaml).unwrap();
    s.recommit();
    let plan = s.plan_json();
    assert_eq!(plan["held"], serde_json::json!({}), "{plan}");
    assert_eq!(plan["actions"], serde_json::json!([]), "{plan}");
    s.apply().assert_code(0);
    assert_eq!(s.assert_never_twice("after the check"), hired.len());
}

/// Issue 21: the vacancy mapping is validated like the other mappings: an empty vacancy, or a
/// mapping no field sends, is an error at its line; a hire of an unmapped job is a warning that
/// names the job and says what is sent instead (the fallback).
#[test]
fn the_vacancy_mapping_is_validated_and_an_unmapped_job_falls_back_with_a_warning() {
    let s = Setup::new(12, Faults::default(), false);
    let path = s.dir.path().join("orgsync.yaml");
    let yaml = std::fs::read_to_string(&path).unwrap();
    let with = |block: &str| {
        std::fs::write(
            &path,
            yaml.replace(
                "  timeout_secs: 5\n",
                &format!("  timeout_secs: 5\n{block}"),
            ),
        )
        .unwrap();
    };
    with("  vacancies:\n    map: { \"1\": \"\" }\n");
    let r = s.run(&["validate"]);
    r.assert_code(1);
    assert!(
        r.stderr.contains("orgsync.yaml:") && r.stderr.contains("empty AFAS vacancy"),
        "{}",
        r.report()
    );
    with(
        "  fields: { FiNm: first_name, LaNm: last_name, EmAd: email }\n  vacancies:\n    fallback: \"7\"\n",
    );
    let r = s.run(&["validate"]);
    r.assert_code(1);
    assert!(r.stderr.contains("VcSn: vacancy"), "{}", r.report());

    with("  vacancies:\n    map: { \"no such job\": \"3\" }\n    fallback: \"7\"\n");
    s.recommit();
    let plan = s.plan_json();
    let hires = plan["summary"]["invite"].as_u64().unwrap();
    assert!(hires > 0, "{plan}");
    let warned: u64 = plan["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| {
            d["message"]
                .as_str()
                .unwrap()
                .contains("fallback vacancy 7")
        })
        .map(|d| d["count"].as_u64().unwrap())
        .sum();
    assert_eq!(warned, hires, "{plan}");
    s.apply().assert_code(0);
    let vacancies: Vec<Value> = s
        .applicants
        .lock()
        .unwrap()
        .iter()
        .map(|a| a["VcSn"].clone())
        .collect();
    assert_eq!(vacancies.len() as u64, hires);
    assert!(vacancies.iter().all(|v| v == "7"), "{vacancies:?}");
}

/// `sent` and `resend` naming one candidate contradict each other: refused with the line.
#[test]
fn a_candidate_both_sent_and_resent_is_invalid() {
    let s = Setup::new(2, Faults::default(), false);
    let path = s.dir.path().join("orgsync.yaml");
    let yaml = std::fs::read_to_string(&path).unwrap().replace(
        "  timeout_secs: 5\n",
        "  timeout_secs: 5\n  resend: [\"42\"]\n  sent: [\"42\"]\n",
    );
    std::fs::write(&path, yaml).unwrap();
    let r = s.run(&["validate"]);
    r.assert_code(1);
    assert!(
        r.stderr.contains("orgsync.yaml") && r.stderr.contains("both `sent`"),
        "{}",
        r.report()
    );
}

/// An AFAS validation error (500 with the error body) fails that candidate with AFAS's message
/// — without the data it quotes — and the others are sent.
#[test]
fn an_afas_validation_error_fails_that_candidate_only() {
    let mut data = RecruiteeData::generate(30, 11, AT.parse().unwrap());
    let bad = data.hired()[0].clone();
    data.set_field(&bad, "Date of birth", "31-02-1990");
    let s = Setup::with_data(data, Faults::default(), false);
    let hired = s.hired_emails();
    let r = s.apply();
    assert_eq!(r.code, 1, "{}", r.report());
    let line = r
        .stdout
        .lines()
        .find(|l| l.contains(&bad) && l.contains("invite"))
        .unwrap_or_else(|| panic!("{}", r.report()));
    assert!(
        line.contains("FAILED") && line.contains("AFAS refused the applicant: Ongeldige datum"),
        "{line}"
    );
    assert!(
        !line.contains("31-02-1990"),
        "the message quotes the birth date: {line}"
    );
    assert_eq!(s.assert_never_twice("validation"), hired.len() - 1);
    let notes = s.notes();
    assert!(notes.contains("\"not_sent\""), "{notes}");
    assert!(!notes.contains("31-02-1990"), "{notes}");
    // Corrected in Recruitee: sent on the next run.
    s.recruitee
        .lock()
        .unwrap()
        .set_field(&bad, "Date of birth", "1990-02-28");
    s.apply().assert_code(0);
    assert_eq!(s.assert_never_twice("corrected"), hired.len());
}

/// A saved plan applies as it was reviewed when nothing changed (the candidates come back in
/// another order on every request: the snapshot does not depend on it).
#[test]
fn a_saved_plan_applies_when_nothing_changed() {
    let s = Setup::new(60, Faults::default(), false);
    s.run(&["plan", "--at", AT, "--out", "plan.json"])
        .assert_code(0);
    let r = s.run(&["apply", "plan.json"]);
    r.assert_code(0);
    assert_eq!(s.assert_never_twice("saved plan"), s.hired_emails().len());
}

/// A saved plan whose candidate changed in Recruitee before apply is refused, not applied with
/// other data than was reviewed.
#[test]
fn a_candidate_changed_after_the_plan_is_not_sent() {
    let s = Setup::new(25, Faults::default(), false);
    let r = s.run(&["plan", "--at", AT, "--out", "plan.json"]);
    r.assert_code(0);
    let first = s.hired_emails().values().next().unwrap().clone();
    s.recruitee
        .lock()
        .unwrap()
        .set_field(&first, "Postal code", "9999 ZZ");
    let r = s.run(&["apply", "plan.json"]);
    assert_eq!(r.code, 1, "{}", r.report());
    assert!(
        r.stderr
            .contains("the source changed since this plan was made"),
        "{}",
        r.report()
    );
    assert_eq!(s.sent().len(), 0, "nothing sent from a stale plan");
    s.assert_no_applicant_data(&r.stderr, "the refusal");
}

#[test]
fn outside_git_the_target_says_why_it_needs_a_repository() {
    let s = Setup::new(10, Faults::default(), false);
    std::fs::remove_dir_all(s.dir.path().join(".git")).unwrap();
    let r = s.run(&["plan", "--at", AT]);
    assert_eq!(r.code, 1, "{}", r.report());
    assert!(
        r.stderr.contains("is not in a git repository") && r.stderr.contains("badges"),
        "{}",
        r.report()
    );
}

#[test]
fn validate_online_checks_the_field_mapping_against_the_metainfo() {
    let s = Setup::new(5, Faults::default(), true);
    s.run(&["validate", "--online"]).assert_code(0);
    let path = s.dir.path().join("orgsync.yaml");
    let yaml = std::fs::read_to_string(&path).unwrap().replace(
        "  timeout_secs: 5\n",
        "  timeout_secs: 5\n  fields:\n    FiNm: first_name\n    LaNmm: last_name\n",
    );
    std::fs::write(&path, yaml).unwrap();
    let r = s.run(&["validate", "--online"]);
    assert_eq!(r.code, 1, "{}", r.report());
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(
        all.contains("target.fields.LaNmm") && all.contains("did you mean LaNm"),
        "{}",
        r.report()
    );
    assert!(all.contains("requires EmAd"), "{}", r.report());
}

/// Offline validation names file, line and key of a bad mapping value.
#[test]
fn a_mapping_to_an_unknown_value_is_invalid_offline() {
    let s = Setup::new(3, Faults::default(), false);
    let path = s.dir.path().join("orgsync.yaml");
    let yaml = std::fs::read_to_string(&path).unwrap().replace(
        "  timeout_secs: 5\n",
        "  timeout_secs: 5\n  fields:\n    DaBi: birthdate\n",
    );
    std::fs::write(&path, yaml).unwrap();
    let r = s.run(&["validate"]);
    assert_eq!(r.code, 1, "{}", r.report());
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(
        all.contains("orgsync.yaml:")
            && all.contains("birthdate")
            && all.contains("did you mean `birth_date`"),
        "{}",
        r.report()
    );
}

/// Regression (found by the canary): `plan --diff` failed for this target with "cannot compute
/// the state after the plan: invite …: unknown account field applicant" — the state after the
/// plan is simulated on the workspace model, which holds no applicant details. Now it shows the
/// applicants to come, by e-mail.
#[test]
fn plan_diff_shows_the_applicants_to_come() {
    let s = Setup::new(20, Faults::default(), false);
    let r = s.run(&["plan", "--at", AT, "--diff", "--show-pii"]);
    r.assert_code(0);
    let (first, _) = s
        .hired_emails()
        .into_iter()
        .next()
        .expect("a hired candidate");
    r.assert_that(
        r.stdout.contains(&first),
        "the diff shows a hired candidate's address",
    );
}
