//! The plan as JSON: the stable contract that scripts, the GitHub Action and `apply PLANFILE`
//! read. The shape is the serde form of [`Plan`]; this module adds nothing to it.

use orgsync_core::vocabulary::Plan;

/// Pretty JSON with a final newline: `--format json` and `plan --out FILE`.
pub fn json(plan: &Plan) -> String {
    let mut out = serde_json::to_string_pretty(plan).expect(SERIALISES);
    out.push('\n');
    out
}

/// The same JSON on one line, without a final newline.
#[cfg(test)]
fn json_compact(plan: &Plan) -> String {
    serde_json::to_string(plan).expect(SERIALISES)
}

/// A `Plan` holds only strings, numbers, dates and maps with string-like keys, so serialising
/// cannot fail; should a future field break that, fail loudly rather than emit half a plan.
const SERIALISES: &str = "a plan always serialises to JSON";

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::super::fixtures::{action, plan_with, sample_plan};
    use super::*;
    use orgsync_core::vocabulary::{ActionKind, Safety};

    #[test]
    fn pretty_plan() {
        insta::assert_snapshot!(json(&sample_plan()));
    }

    #[test]
    fn top_level_keys_are_the_contract() {
        let value: Value = serde_json::from_str(&json(&sample_plan())).unwrap();
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
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
    }

    #[test]
    fn kinds_are_snake_case() {
        let value: Value = serde_json::from_str(&json(&sample_plan())).unwrap();
        let summary: Vec<&str> = value["summary"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let expected: Vec<&str> = ActionKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(summary, expected);
        let kinds: Vec<&str> = value["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["kind"].as_str().unwrap())
            .collect();
        assert!(kinds.contains(&"create_community"));
        assert!(kinds.contains(&"remove_function_group"));
        assert_eq!(
            value["diagnostics"][0]["kind"], "duplicate_email",
            "diagnostic kinds are snake_case too"
        );
        assert_eq!(value["diagnostics"][0]["severity"], "error");
    }

    #[test]
    fn round_trips() {
        let plan = sample_plan();
        let back: Plan = serde_json::from_str(&json(&plan)).unwrap();
        assert_eq!(back, plan);
        let back: Plan = serde_json::from_str(&json_compact(&plan)).unwrap();
        assert_eq!(back, plan);
    }

    #[test]
    fn compact_is_one_line() {
        let plan = plan_with(
            vec![action(ActionKind::Invite, "1", None, "A B", &[], "new")],
            Vec::new(),
            Safety {
                safe: true,
                violations: Vec::new(),
            },
        );
        let out = json_compact(&plan);
        assert!(!out.contains('\n'));
        assert!(out.starts_with("{\"format_version\":1,"));
    }
}
