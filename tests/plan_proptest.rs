//! Property: plan → apply → plan again gives an empty plan (the sync converges in one apply;
//! in two when a returning person's account was past retention and is anonymized first), for
//! random small sources, targets and configurations. Identifiers are drawn from small pools so
//! that matches, collisions, moves, removals and renamed identifiers all happen; communities,
//! functions and departments share numeric codes, as AFAS's do; people have several employment
//! rows, ended and future ones included.

use std::collections::{BTreeMap, HashSet};

use jiff::civil::{Date, date};
use proptest::prelude::*;
use proptest::sample::{select, subsequence};

use orgsync_core::config::{
    Columns, CommunityMapping, Config, ExclusionRule, FallbackPolicy, FileSourceConfig,
    FileTargetConfig, FunctionMapping, FunctionSourceField, FunctionsConfig, IdentityConfig,
    IncludeConfig, Locations, ManagedField, MatchKey, MaxRemovals, OneOrMany, PolicyConfig,
    ProtectedRule, SafetyConfig, SourceConfig, TargetConfig, UnmappedFunctionAction,
    UnmappedFunctionPolicy, UnmappedPolicy,
};
use orgsync_core::memory::apply_plan;
use orgsync_core::model::{
    Account, AccountStatus, Employment, Person, SourceGroup, SourceSnapshot, TargetGroup,
    TargetSnapshot,
};
use orgsync_core::plan::{PlanInput, build};
use orgsync_core::vocabulary::{ActionKind, DiagnosticKind, Digests, Plan};

const TODAY: Date = date(2026, 6, 15);
const PEOPLE: [&str; 10] = ["p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9"];
const COMMUNITIES: [(&str, &str); 6] = [
    ("10", "Amsterdam"),
    ("20", "Utrecht"),
    ("30", "Test Lab"),
    ("40", "Rotterdam"),
    ("50", "Temp Pool"),
    ("60", "Delivery"),
];
const FUNCTIONS: [(&str, &str); 4] = [
    ("10", "Guest Relations"),
    ("20", "Kitchen"),
    ("30", "Bar"),
    ("40", "Teamlead"),
];
const DEPARTMENTS: [(&str, &str); 3] = [("10", "Front"), ("20", "Back"), ("30", "Office")];
const EMAILS: [&str; 7] = [
    "e0@x.test",
    "e1@x.test",
    "E1@X.test",
    "e2@x.test",
    "e3@x.test",
    "e4@x.test",
    "e5@x.test",
];
const COMMUNITY_NAMES: [&str; 5] = ["Amsterdam", "Utrecht", "Delivery", "HQ", "Nowhere"];
const GROUP_NAMES: [&str; 4] = ["Guest Relations", "Kitchen", "No function", "Bar"];

fn day(offset: i64) -> Date {
    TODAY.saturating_add(jiff::Span::new().days(offset))
}

fn ids<const N: usize>(pool: [(&'static str, &'static str); N]) -> Vec<&'static str> {
    pool.iter().map(|(id, _)| *id).collect()
}

fn employment() -> impl Strategy<Value = Employment> {
    (
        proptest::option::of(-60i64..30),
        proptest::option::weighted(0.3, -40i64..60),
        proptest::option::weighted(0.9, select(ids(COMMUNITIES))),
        proptest::option::weighted(0.7, select(ids(FUNCTIONS))),
        proptest::option::weighted(0.5, select(ids(DEPARTMENTS))),
    )
        .prop_map(|(start, end, community, function, department)| Employment {
            start: start.map(day),
            end: end.map(day),
            community: community.map(str::to_owned),
            function: function.map(str::to_owned),
            department: department.map(str::to_owned),
        })
}

fn person(id: &'static str) -> impl Strategy<Value = Person> {
    (
        proptest::option::weighted(0.85, select(EMAILS.to_vec())),
        proptest::option::weighted(0.05, select(EMAILS.to_vec())),
        select(vec!["Ann", "Bob", ""]),
        select(vec!["Smit", "de Vries"]),
        proptest::collection::vec(employment(), 0..=3),
        proptest::bool::weighted(0.15),
    )
        .prop_map(
            move |(email, conflicting, first, last, employments, intern)| Person {
                id: id.to_owned(),
                email: email.map(str::to_owned),
                conflicting_emails: conflicting.into_iter().map(str::to_owned).collect(),
                first_name: first.to_owned(),
                last_name: last.to_owned(),
                employments,
                manager: None,
                attributes: if intern {
                    BTreeMap::from([("contract_type".to_owned(), "intern".to_owned())])
                } else {
                    BTreeMap::new()
                },
            },
        )
}

fn groups(pool: Vec<(&'static str, &'static str)>) -> impl Strategy<Value = Vec<SourceGroup>> {
    let n = pool.len();
    subsequence(pool, 0..=n).prop_map(|l| {
        l.into_iter()
            .map(|(id, name)| SourceGroup {
                id: id.to_owned(),
                name: name.to_owned(),
            })
            .collect()
    })
}

fn source() -> impl Strategy<Value = SourceSnapshot> {
    (
        subsequence(PEOPLE.to_vec(), 0..=PEOPLE.len())
            .prop_flat_map(|ids| ids.into_iter().map(person).collect::<Vec<_>>()),
        groups(COMMUNITIES.to_vec()),
        groups(FUNCTIONS.to_vec()),
        groups(DEPARTMENTS.to_vec()),
    )
        .prop_map(
            |(persons, communities, functions, departments)| SourceSnapshot {
                persons,
                communities,
                functions,
                departments,
                unlisted: Vec::new(),
                left: Vec::new(),
            },
        )
}

fn target_groups(
    prefix: &'static str,
    names: &'static [&'static str],
    source_ids: Vec<&'static str>,
) -> impl Strategy<Value = Vec<TargetGroup>> {
    proptest::collection::vec(
        (
            select(names.to_vec()),
            subsequence(source_ids, 0..=2),
            proptest::bool::ANY,
        ),
        0..4,
    )
    .prop_map(move |l| {
        l.into_iter()
            .enumerate()
            .map(|(i, (name, ids, managed))| TargetGroup {
                id: format!("{prefix}{i}"),
                name: name.to_owned(),
                source_ids: ids.into_iter().map(str::to_owned).collect(),
                managed,
            })
            .collect()
    })
}

fn account() -> impl Strategy<Value = Account> {
    (
        proptest::option::weighted(0.8, select(PEOPLE.to_vec())),
        proptest::option::weighted(0.8, select(EMAILS.to_vec())),
        select(vec!["Ann", "Bob", ""]),
        select(vec!["Smit", "Jansen"]),
        proptest::bool::weighted(0.7),
        select(vec![
            AccountStatus::Active,
            AccountStatus::Active,
            AccountStatus::Removed,
            AccountStatus::Anonymized,
        ]),
        proptest::option::of(-100i64..=0),
        subsequence(vec!["t0", "t1", "t2", "t3", "t9"], 0..=2),
        subsequence(vec!["g0", "g1", "g2"], 0..=2),
    )
        .prop_map(
            |(external_id, email, first, last, managed, status, removed, communities, fgs)| {
                Account {
                    id: String::new(),
                    external_id: external_id.map(str::to_owned),
                    email: email.map(str::to_owned),
                    first_name: first.to_owned(),
                    last_name: last.to_owned(),
                    managed,
                    status,
                    removed_at: removed.filter(|_| status != AccountStatus::Active).map(day),
                    communities: communities.into_iter().map(str::to_owned).collect(),
                    function_groups: fgs.into_iter().map(str::to_owned).collect(),
                    protected: false,
                }
            },
        )
}

fn target() -> impl Strategy<Value = TargetSnapshot> {
    let mut all_function_ids = ids(FUNCTIONS);
    all_function_ids.extend(ids(DEPARTMENTS));
    all_function_ids.sort_unstable();
    all_function_ids.dedup();
    (
        proptest::collection::vec(account(), 0..10),
        target_groups("t", &COMMUNITY_NAMES, ids(COMMUNITIES)),
        target_groups("g", &GROUP_NAMES, all_function_ids),
    )
        .prop_map(|(mut accounts, communities, function_groups)| {
            // A real target has one account per external id.
            let mut seen = HashSet::new();
            for (i, a) in accounts.iter_mut().enumerate() {
                a.id = format!("a{i}");
                if let Some(x) = &a.external_id
                    && !seen.insert(x.clone())
                {
                    a.external_id = None;
                }
            }
            TargetSnapshot {
                accounts,
                communities,
                function_groups,
            }
        })
}

fn config() -> impl Strategy<Value = Config> {
    let community_mapping = (
        select(vec!["10", "20", "60", "90", "[12]0"]),
        select(COMMUNITY_NAMES.to_vec()),
        proptest::option::of(select(vec!["Amsterdam", "Utrecht"])),
    )
        .prop_map(|(source, target, name)| CommunityMapping {
            source: OneOrMany::One(source.to_owned()),
            target: target.to_owned(),
            name: name.map(str::to_owned),
            todo: None,
            notify: None,
        });
    let function_mapping = (
        select(vec!["10", "20", "30", "90", "*"]),
        select(vec!["Guest Relations", "Kitchen", "Bar", "No function"]),
    )
        .prop_map(|(source, target)| FunctionMapping {
            source: OneOrMany::One(source.to_owned()),
            target: target.to_owned(),
            name: None,
            todo: None,
        });
    let functions = proptest::option::of((
        select(vec![
            FunctionSourceField::Function,
            FunctionSourceField::Department,
        ]),
        select(vec![
            UnmappedFunctionPolicy::Fallback(FallbackPolicy {
                fallback: "No function".to_owned(),
            }),
            UnmappedFunctionPolicy::Simple(UnmappedFunctionAction::Create),
        ]),
        proptest::collection::vec(function_mapping, 0..3),
    ))
    .prop_map(|f| {
        f.map(|(from, unmapped, map)| FunctionsConfig {
            from,
            unmapped,
            map,
        })
    });
    let all_fields = vec![
        ManagedField::FirstName,
        ManagedField::LastName,
        ManagedField::Email,
        ManagedField::Communities,
        ManagedField::FunctionGroups,
    ];
    (
        (
            select(vec![
                vec![MatchKey::ExternalId, MatchKey::Email],
                vec![MatchKey::Email, MatchKey::ExternalId],
                vec![MatchKey::ExternalId],
                vec![MatchKey::Email],
            ]),
            proptest::bool::ANY,
            select(vec![UnmappedPolicy::Create, UnmappedPolicy::Hold]),
            prop_oneof![
                3 => Just(all_fields.clone()),
                1 => subsequence(all_fields, 0..=5),
            ],
            select(vec![0u32, 30]),
            proptest::bool::ANY,
        ),
        (
            proptest::collection::vec(community_mapping, 0..4),
            functions,
            proptest::bool::ANY,
            proptest::bool::ANY,
            proptest::bool::ANY,
            proptest::bool::ANY,
            proptest::bool::ANY,
        ),
    )
        .prop_map(
            |(
                (match_on, adopt, unmapped, managed_fields, retention_days, notify),
                (communities, functions, exclude, test, include, protect, allow_removal),
            )| {
                let mut exclude_rules = Vec::new();
                if exclude {
                    exclude_rules.push(ExclusionRule {
                        reason: "interns are onboarded by hand".to_owned(),
                        person: None,
                        community: None,
                        function: None,
                        attribute: Some("contract_type".to_owned()),
                        equals: Some("intern".to_owned()),
                        matches: None,
                    });
                    exclude_rules.push(ExclusionRule {
                        reason: "Rotterdam is managed by hand".to_owned(),
                        person: None,
                        community: Some("40".to_owned()),
                        function: None,
                        attribute: None,
                        equals: None,
                        matches: None,
                    });
                }
                Config {
                    version: 1,
                    source: SourceConfig::File(FileSourceConfig {
                        path: "hr.json".to_owned(),
                        format: None,
                        records: None,
                        delimiter: None,
                        date_format: None,
                        columns: Columns::default(),
                    }),
                    target: TargetConfig::File(FileTargetConfig {
                        path: "workspace.json".to_owned(),
                        allow_outside_config_dir: false,
                    }),
                    identity: IdentityConfig {
                        match_on,
                        adopt_unmanaged: adopt,
                    },
                    policy: PolicyConfig {
                        retention_days,
                        notify_transfers: notify,
                        unmapped_communities: unmapped,
                        managed_fields,
                        ..PolicyConfig::default()
                    },
                    safety: SafetyConfig {
                        max_removals: MaxRemovals::Count(1_000_000),
                        max_anonymizations: MaxRemovals::Count(1_000_000),
                        max_moves: MaxRemovals::Count(1_000_000),
                        max_notifying_moves: MaxRemovals::Count(1_000_000),
                        max_updates: MaxRemovals::Count(1_000_000),
                        max_invites: MaxRemovals::Count(1_000_000),
                        max_group_removals: MaxRemovals::Count(1_000_000),
                        allow_community_removal: allow_removal,
                        first_sync_invites: 1_000_000,
                    },
                    protected: if protect {
                        vec![ProtectedRule {
                            email: Some("e0@x.test".to_owned()),
                            id: None,
                            pattern: None,
                        }]
                    } else {
                        Vec::new()
                    },
                    communities,
                    functions,
                    exclude: exclude_rules,
                    test_locations: if test {
                        vec!["Test*".to_owned(), "temp*".to_owned()]
                    } else {
                        Vec::new()
                    },
                    include: include.then(|| IncludeConfig {
                        communities: vec!["10".to_owned(), "20".to_owned(), "60".to_owned()],
                    }),
                    locations: Locations::default(),
                    digest: String::new(),
                    files: Vec::new(),
                }
            },
        )
}

fn plan(config: &Config, source: &SourceSnapshot, target: &TargetSnapshot) -> Plan {
    build(PlanInput {
        config,
        source,
        target,
        today: TODAY,
        created_at: "2026-06-15T02:00:00Z".to_owned(),
        digests: Digests::default(),
        recorded: None,
        capabilities: &orgsync_core::capabilities::TargetCapabilities::default(),
        previous: None,
        placed: None,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn plan_apply_plan_converges(config in config(), source in source(), target in target()) {
        let first = plan(&config, &source, &target);
        prop_assert!(first.safety.safe, "generous limits: {:?}", first.safety);
        prop_assert_eq!(&first, &plan(&config, &source, &target), "plans are deterministic");

        let applied = apply_plan(&target, &first, TODAY);
        prop_assert!(applied.is_ok(), "apply failed: {:?}\nplan: {:#?}", applied, first.actions);
        let state = applied.unwrap_or_default();

        let mut second = plan(&config, &source, &state);
        // A returning person whose account was past retention is held while it is anonymized,
        // and invited by the next plan: nothing else may be left.
        if first.held.contains_key(&DiagnosticKind::RetentionPassed) && !second.actions.is_empty() {
            prop_assert!(
                second.actions.iter().all(|a| a.kind() != ActionKind::Remove),
                "nothing is removed on the second run: {:#?}",
                second.actions
            );
            let applied = apply_plan(&state, &second, TODAY);
            prop_assert!(applied.is_ok(), "second apply failed: {:?}", applied);
            let state = applied.unwrap_or_default();
            second = plan(&config, &source, &state);
        }
        prop_assert!(
            second.actions.is_empty(),
            "second plan not empty:\n{:#?}\nfirst plan:\n{:#?}\nstate:\n{:#?}",
            second.actions,
            first.actions,
            state
        );

        let mut active = HashSet::new();
        for a in state.accounts.iter().filter(|a| a.managed && a.status == AccountStatus::Active) {
            if let Some(x) = &a.external_id {
                prop_assert!(active.insert(x.clone()), "two active managed accounts for {}", x);
            }
        }
    }
}
