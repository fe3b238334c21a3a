//! Scope: who takes part in the sync today. Exclusion rules, the employment window, test
//! locations and partial sync, in that order of precedence for the reason a person is left out.
//!
//! People out of scope are treated as if they were not in the source: their managed accounts are
//! removed by the plan (within the safety limits), and they count for nothing in mapping — except
//! people outside a partial sync's include-list, whose accounts are left alone.

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use globset::{Glob, GlobBuilder, GlobMatcher, GlobSet, GlobSetBuilder};
use jiff::Span;
use jiff::civil::Date;

use crate::config::{Config, ExclusionRule, FunctionSourceField, ManagedField};
use crate::model::{Employment, Person, SourceGroup, SourceSnapshot};
use crate::vocabulary::{Diagnostic, DiagnosticKind, Severity};

/// Identifier patterns compiled once. A pattern without glob characters (`*?[{\`) is a literal
/// and compares by hash lookup — exactly for identifiers, case-insensitively when asked; a glob
/// compares case-insensitively. Lookups return the index of the first pattern that matches, so
/// ordered rules ("first mapping wins") need no scan.
#[derive(Debug, Clone)]
pub struct Patterns {
    literals: HashMap<String, usize>,
    literal_ci: bool,
    globs: GlobSet,
    glob_index: Vec<usize>,
}

impl Patterns {
    /// Compiles `patterns`. With `literal_ci` literals match ignoring case (e-mail addresses,
    /// names); without it they must be equal (identifiers). An invalid glob is taken literally
    /// (validation reports it; the engine must not fail on it).
    pub fn new<'s>(patterns: impl IntoIterator<Item = &'s str>, literal_ci: bool) -> Patterns {
        let mut literals = HashMap::new();
        let mut builder = GlobSetBuilder::new();
        let mut glob_index = Vec::new();
        for (i, p) in patterns.into_iter().enumerate() {
            if is_glob(p) {
                if let Some(glob) = ci_glob(p) {
                    builder.add(glob);
                    glob_index.push(i);
                }
            } else {
                let key = if literal_ci {
                    p.to_lowercase()
                } else {
                    p.to_owned()
                };
                literals.entry(key).or_insert(i);
            }
        }
        let globs = builder.build().unwrap_or_else(|_| GlobSet::empty());
        Patterns {
            literals,
            literal_ci,
            globs,
            glob_index,
        }
    }

    /// True when there are no patterns.
    pub fn is_empty(&self) -> bool {
        self.literals.is_empty() && self.glob_index.is_empty()
    }

    /// Index of the first pattern matching `s`.
    pub fn first_match(&self, s: &str) -> Option<usize> {
        let literal = if self.literals.is_empty() {
            None
        } else if self.literal_ci {
            self.literals.get(&s.to_lowercase()).copied()
        } else {
            self.literals.get(s).copied()
        };
        if self.glob_index.is_empty() {
            return literal;
        }
        // Most names match no glob: told without listing the matches.
        let candidate = globset::Candidate::new(s);
        if !self.globs.is_match_candidate(&candidate) {
            return literal;
        }
        let glob = self
            .globs
            .matches_candidate(&candidate)
            .into_iter()
            .map(|g| self.glob_index[g])
            .min();
        match (literal, glob) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// True when some pattern matches `s`.
    pub fn is_match(&self, s: &str) -> bool {
        let literal = if self.literals.is_empty() {
            false
        } else if self.literal_ci {
            self.literals.contains_key(&s.to_lowercase())
        } else {
            self.literals.contains_key(s)
        };
        literal || (!self.glob_index.is_empty() && self.globs.is_match(s))
    }
}

/// True when `p` has glob syntax; anything else is a literal identifier.
pub fn is_glob(p: &str) -> bool {
    p.contains(['*', '?', '[', '{', '\\'])
}

/// A case-insensitive glob; an invalid one is taken literally. `None` only if even the escaped
/// pattern fails to compile, which `globset::escape` rules out.
fn ci_glob(p: &str) -> Option<Glob> {
    let build = |p: &str| {
        GlobBuilder::new(p)
            .case_insensitive(true)
            .literal_separator(false)
            .build()
    };
    build(p).or_else(|_| build(&globset::escape(p))).ok()
}

/// Why a source person takes no part in the sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutOfScope {
    /// Matched exclusion rule `n` (index into `config.exclude`).
    Excluded(usize),
    /// Not employed today, and the first employment starts on this date, later than
    /// `invite_lead_days` from today.
    NotStarted(Date),
    /// Every employment has ended; the last one on this date.
    Ended(Date),
    /// Every current employment is at a test location.
    OnlyTestLocations,
    /// Partial sync is on and none of the person's communities is included: the person and
    /// their account are left alone (not removed, not moved).
    NotIncluded,
}

impl OutOfScope {
    /// Why, as a sentence fragment for plan reasons ("contract ended on 2026-10-31").
    pub fn describe(&self, config: &Config) -> String {
        match self {
            OutOfScope::Excluded(i) => match config.exclude.get(*i) {
                Some(rule) => format!("excluded: {}", rule.reason),
                None => "excluded".to_owned(),
            },
            OutOfScope::NotStarted(d) => {
                format!("starts on {d}, not yet within the invite lead time")
            }
            OutOfScope::Ended(d) => format!("contract ended on {d}"),
            OutOfScope::OnlyTestLocations => "only in test locations".to_owned(),
            OutOfScope::NotIncluded => "not in the communities included by partial sync".to_owned(),
        }
    }
}

/// A person in scope.
#[derive(Debug, Clone, Copy)]
pub struct ScopedPerson<'a> {
    /// The source person.
    pub person: &'a Person,
    /// Not employed today: placed by the employment that starts on this day, within the invite
    /// lead time.
    pub starts: Option<Date>,
    communities: (u32, u32),
    functions: (u32, u32),
}

/// Where function groups come from: the one place that reads `functions.from`.
impl FunctionSourceField {
    /// The identifier this field gives for one employment.
    pub fn of(self, e: &Employment) -> Option<&str> {
        match self {
            FunctionSourceField::Function => e.function.as_deref(),
            FunctionSourceField::Department => e.department.as_deref(),
        }
    }

    /// The groups of this field the source lists (with their names).
    pub fn listed(self, source: &SourceSnapshot) -> &[SourceGroup] {
        match self {
            FunctionSourceField::Function => &source.functions,
            FunctionSourceField::Department => &source.departments,
        }
    }
}

/// Who takes part in the sync.
#[derive(Debug, Clone)]
pub struct Scope<'a> {
    /// People in scope, in source order.
    pub persons: Vec<ScopedPerson<'a>>,
    /// People outside the communities included by partial sync: matched to their accounts, so
    /// that those are kept, but never written.
    pub untouched: Vec<&'a Person>,
    /// Every source person out of scope, by source identifier, with the reason.
    pub out_of_scope: HashMap<&'a str, OutOfScope>,
    /// Source communities that are test locations: treated as if they did not exist.
    pub test_communities: HashSet<&'a str>,
    /// Source communities that exist (listed by the source or named by any employment), test
    /// locations left out.
    pub known_communities: HashSet<&'a str>,
    /// Source community names by identifier (the identifier when the source lists no name).
    pub community_names: HashMap<&'a str, &'a str>,
    /// Where function groups come from, when functions are synced (`functions.from`).
    pub function_field: Option<FunctionSourceField>,
    /// Source function (or department) identifiers that exist, listed or named by any
    /// employment, with their names.
    pub function_names: HashMap<&'a str, &'a str>,
    /// Partial sync: the known source communities it includes (`None`: no partial sync).
    pub included: Option<HashSet<&'a str>>,
    /// Scope diagnostics: `excluded`, `test_location`, rules that can never match.
    pub diagnostics: Vec<Diagnostic>,
    /// Flat storage of every scoped person's effective communities and function identifiers
    /// (one allocation each, not one per person: the engine handles a million people).
    community_ids: Vec<&'a str>,
    function_ids: Vec<&'a str>,
}

impl<'a> Scope<'a> {
    /// A scoped person's effective source communities: those of the employments that place
    /// them today, test locations and, with partial sync, communities outside the include-list
    /// left out; no duplicates.
    pub fn communities(&self, p: &ScopedPerson<'a>) -> &[&'a str] {
        &self.community_ids[p.communities.0 as usize..p.communities.1 as usize]
    }

    /// A scoped person's source function (or department, by `functions.from`) identifiers,
    /// from the employments that place them today; no duplicates. Empty when functions are
    /// not synced.
    pub fn functions(&self, p: &ScopedPerson<'a>) -> &[&'a str] {
        &self.function_ids[p.functions.0 as usize..p.functions.1 as usize]
    }

    /// The scoped person with this source identifier.
    pub fn find(&self, id: &str) -> Option<&ScopedPerson<'a>> {
        self.persons.iter().find(|sp| sp.person.id == id)
    }
}

/// One compiled condition of an exclusion rule.
enum Condition<'a> {
    Person(Patterns),
    /// Matching source identifiers, resolved once over every identifier the source uses.
    Community(HashSet<&'a str>),
    Function(HashSet<&'a str>),
    AttrEquals(&'a str, &'a str),
    AttrMatches(&'a str, GlobMatcher),
    /// A condition that cannot be evaluated (`attribute` without `equals`/`matches`).
    Never,
}

impl Condition<'_> {
    /// Whether the condition holds for `p`, whose employments that count are `employments`.
    fn matches(&self, p: &Person, employments: &[&Employment]) -> bool {
        match self {
            Condition::Person(pat) => pat.is_match(&p.id),
            Condition::Community(ids) => employments
                .iter()
                .any(|e| e.community.as_deref().is_some_and(|c| ids.contains(c))),
            Condition::Function(ids) => employments
                .iter()
                .any(|e| e.function.as_deref().is_some_and(|f| ids.contains(f))),
            Condition::AttrEquals(k, v) => p.attributes.get(*k).is_some_and(|a| a == v),
            Condition::AttrMatches(k, g) => p.attributes.get(*k).is_some_and(|a| g.is_match(a)),
            Condition::Never => false,
        }
    }
}

/// Compiles a rule's conditions. A rule has exactly one condition after validation; should it
/// have several, all must match; with none (or `attribute` without a predicate) it matches no one
/// (the caller skips rules without conditions).
fn compile_rule<'a>(
    rule: &'a ExclusionRule,
    community_ids: &HashSet<&'a str>,
    function_ids: &HashSet<&'a str>,
) -> Vec<Condition<'a>> {
    let mut out = Vec::new();
    let resolve = |pattern: &str, ids: &HashSet<&'a str>| {
        let pat = Patterns::new([pattern], false);
        ids.iter().copied().filter(|id| pat.is_match(id)).collect()
    };
    if let Some(p) = &rule.person {
        out.push(Condition::Person(Patterns::new([p.as_str()], false)));
    }
    if let Some(c) = &rule.community {
        out.push(Condition::Community(resolve(c, community_ids)));
    }
    if let Some(f) = &rule.function {
        out.push(Condition::Function(resolve(f, function_ids)));
    }
    if let Some(attr) = &rule.attribute {
        if let Some(v) = &rule.equals {
            out.push(Condition::AttrEquals(attr, v));
        }
        match rule.matches.as_deref().map(ci_glob) {
            Some(Some(g)) => out.push(Condition::AttrMatches(attr, g.compile_matcher())),
            Some(None) => out.push(Condition::Never),
            None => {}
        }
        if rule.equals.is_none() && rule.matches.is_none() {
            out.push(Condition::Never);
        }
    }
    out
}

/// The employments that place `p` today into `out`: the current ones; for someone not employed
/// today, the first upcoming ones when they start within the lead time (`Ok(Some(start))`).
/// A person with no employment rows at all is in scope with nothing to place.
fn placing<'p>(
    p: &'p Person,
    today: Date,
    latest_start: Date,
    out: &mut Vec<&'p Employment>,
) -> Result<Option<Date>, OutOfScope> {
    out.clear();
    out.extend(p.employments.iter().filter(|e| e.is_current(today)));
    if !out.is_empty() || p.employments.is_empty() {
        return Ok(None);
    }
    let next = p
        .employments
        .iter()
        .filter_map(|e| e.start.filter(|s| *s > today))
        .min();
    match next {
        Some(start) if start <= latest_start => {
            out.extend(p.employments.iter().filter(|e| e.is_current(start)));
            Ok(Some(start))
        }
        // Someone whose employment ended is a leaver until the next one is near, not a future
        // hire: their account is removed now, and they are invited again (or restored) then.
        next => match p
            .employments
            .iter()
            .filter_map(|e| e.end)
            .filter(|e| *e < today)
            .max()
        {
            Some(last) => Err(OutOfScope::Ended(last)),
            None => Err(OutOfScope::NotStarted(next.unwrap_or(today))),
        },
    }
}

/// Decides who is in scope on `today` (a civil date in the configured time zone).
///
/// Precedence of reasons: an exclusion rule, then the employment window, then test locations,
/// then partial sync. Each employment has its own window; a person's placement today is what
/// their current employments say (rule 4). Exclusion rules on communities and functions look at
/// those employments too (at all of them for someone not employed today).
pub fn resolve<'a>(config: &'a Config, source: &'a SourceSnapshot, today: Date) -> Scope<'a> {
    // Every community identifier the source uses, with its name.
    let mut community_names: HashMap<&str, &str> = source
        .communities
        .iter()
        .map(|c| (c.id.as_str(), c.name.as_str()))
        .collect();
    for p in &source.persons {
        for c in p.employments.iter().filter_map(|e| e.community.as_deref()) {
            community_names.entry(c).or_insert(c);
        }
    }
    // Function identifiers, only when a rule needs them.
    let mut rule_function_ids: HashSet<&str> = HashSet::new();
    if config.exclude.iter().any(|r| r.function.is_some()) {
        rule_function_ids.extend(source.functions.iter().map(|f| f.id.as_str()));
        rule_function_ids.extend(
            source
                .persons
                .iter()
                .flat_map(|p| p.employments.iter().filter_map(|e| e.function.as_deref())),
        );
    }
    let function_field = config
        .functions
        .as_ref()
        .filter(|_| {
            config
                .policy
                .managed_fields
                .contains(&ManagedField::FunctionGroups)
        })
        .map(|f| f.from);
    let mut function_names: HashMap<&str, &str> = HashMap::new();
    if let Some(field) = function_field {
        function_names.extend(
            field
                .listed(source)
                .iter()
                .map(|g| (g.id.as_str(), g.name.as_str())),
        );
        for p in &source.persons {
            for f in p.employments.iter().filter_map(|e| field.of(e)) {
                function_names.entry(f).or_insert(f);
            }
        }
    }

    let test = Patterns::new(config.test_locations.iter().map(String::as_str), true);
    // Test community → index of the first test-location pattern that caught it.
    let mut test_pattern: HashMap<&str, usize> = HashMap::new();
    if !test.is_empty() {
        for (id, name) in &community_names {
            if let Some(i) = [test.first_match(id), test.first_match(name)]
                .into_iter()
                .flatten()
                .min()
            {
                test_pattern.insert(id, i);
            }
        }
    }
    let test_communities: HashSet<&str> = test_pattern.keys().copied().collect();
    let known_communities: HashSet<&str> = community_names
        .keys()
        .copied()
        .filter(|id| !test_communities.contains(id))
        .collect();

    let included: Option<HashSet<&str>> = config
        .include
        .as_ref()
        .filter(|inc| !inc.communities.is_empty())
        .map(|inc| {
            let pat = Patterns::new(inc.communities.iter().map(String::as_str), false);
            known_communities
                .iter()
                .copied()
                .filter(|id| pat.is_match(id))
                .collect()
        });

    let all_community_ids: HashSet<&str> = community_names.keys().copied().collect();
    let rules: Vec<Vec<Condition>> = config
        .exclude
        .iter()
        .map(|r| compile_rule(r, &all_community_ids, &rule_function_ids))
        .collect();

    let latest_start =
        today.saturating_add(Span::new().days(i64::from(config.policy.invite_lead_days)));

    let mut persons = Vec::with_capacity(source.persons.len());
    let mut untouched = Vec::new();
    let mut community_ids: Vec<&str> = Vec::with_capacity(source.persons.len());
    let mut function_ids: Vec<&str> = Vec::with_capacity(if function_field.is_some() {
        source.persons.len()
    } else {
        0
    });
    let mut out_of_scope = HashMap::new();
    let mut excluded_counts = vec![0usize; rules.len()];
    let mut only_test_counts: HashMap<&str, usize> = HashMap::new();
    let mut employments: Vec<&Employment> = Vec::new();
    let is_test = |e: &Employment| {
        e.community
            .as_deref()
            .is_some_and(|c| test_communities.contains(c))
    };

    for p in &source.persons {
        let window = placing(p, today, latest_start, &mut employments);
        let counted: Vec<&Employment>;
        let for_rules: &[&Employment] = if employments.is_empty() {
            counted = p.employments.iter().collect();
            &counted
        } else {
            &employments
        };
        let excluded = rules
            .iter()
            .position(|conds| !conds.is_empty() && conds.iter().all(|c| c.matches(p, for_rules)));
        if let Some(i) = excluded {
            excluded_counts[i] += 1;
            out_of_scope.insert(p.id.as_str(), OutOfScope::Excluded(i));
            continue;
        }
        let starts = match window {
            Ok(starts) => starts,
            Err(out) => {
                out_of_scope.insert(p.id.as_str(), out);
                continue;
            }
        };
        if !employments.is_empty() && employments.iter().all(|e| is_test(e)) {
            let mut seen: Vec<&str> = Vec::new();
            for c in employments.iter().filter_map(|e| e.community.as_deref()) {
                if !seen.contains(&c) {
                    seen.push(c);
                    *only_test_counts.entry(c).or_default() += 1;
                }
            }
            out_of_scope.insert(p.id.as_str(), OutOfScope::OnlyTestLocations);
            continue;
        }
        let c_start = community_ids.len();
        for c in employments
            .iter()
            .filter(|e| !is_test(e))
            .filter_map(|e| e.community.as_deref())
        {
            let kept = included.as_ref().is_none_or(|inc| inc.contains(c));
            if kept && !community_ids[c_start..].contains(&c) {
                community_ids.push(c);
            }
        }
        if included.is_some() && community_ids.len() == c_start {
            out_of_scope.insert(p.id.as_str(), OutOfScope::NotIncluded);
            untouched.push(p);
            continue;
        }
        let f_start = function_ids.len();
        if let Some(field) = function_field {
            for f in employments
                .iter()
                .filter(|e| !is_test(e))
                .filter_map(|e| field.of(e))
            {
                if !function_ids[f_start..].contains(&f) {
                    function_ids.push(f);
                }
            }
        }
        persons.push(ScopedPerson {
            person: p,
            starts,
            communities: (index(c_start), index(community_ids.len())),
            functions: (index(f_start), index(function_ids.len())),
        });
    }

    let mut diagnostics = Vec::new();
    for (i, count) in excluded_counts.iter().enumerate() {
        if *count == 0 {
            continue;
        }
        let rule = &config.exclude[i];
        diagnostics.push(Diagnostic {
            kind: DiagnosticKind::Excluded,
            severity: Severity::Info,
            message: format!("{} excluded: {}", people(*count), rule.reason),
            subject: None,
            count: *count,
            hint: None,
            location: config.locations.get(&format!("/exclude/{i}")),
            concerns: Default::default(),
        });
    }
    diagnostics.extend(absent_attributes(config, source));
    for (id, pattern) in &test_pattern {
        let count = only_test_counts.get(id).copied().unwrap_or(0);
        let name = community_names.get(id).copied().unwrap_or(id);
        diagnostics.push(Diagnostic {
            kind: DiagnosticKind::TestLocation,
            severity: Severity::Info,
            message: format!(
                "test location {id} \"{name}\" is left out: {} only there and not provisioned",
                people_are(count)
            ),
            subject: Some((*id).to_owned()),
            count,
            hint: None,
            location: config.locations.get(&format!("/test_locations/{pattern}")),
            concerns: Default::default(),
        });
    }

    Scope {
        persons,
        untouched,
        out_of_scope,
        test_communities,
        known_communities,
        community_names,
        function_field,
        function_names,
        included,
        diagnostics,
        community_ids,
        function_ids,
    }
}

/// Exclusion rules on an attribute that no person in the source carries: such a rule can never
/// match, and the people it was written for would be provisioned. An error: the plan must not
/// be applied until the source delivers the attribute or the rule is corrected.
fn absent_attributes(config: &Config, source: &SourceSnapshot) -> Vec<Diagnostic> {
    if source.persons.is_empty() {
        // The empty-source guard speaks for this case.
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, rule) in config.exclude.iter().enumerate() {
        let Some(attr) = rule.attribute.as_deref() else {
            continue;
        };
        if source
            .persons
            .iter()
            .any(|p| p.attributes.contains_key(attr))
        {
            continue;
        }
        out.push(Diagnostic {
            kind: DiagnosticKind::RuleNeverMatches,
            severity: Severity::Error,
            message: format!(
                "exclusion rule {} ({}) is on attribute `{attr}`, which no person in the source carries: it can never match",
                i + 1,
                rule.reason
            ),
            subject: Some(attr.to_owned()),
            count: 0,
            hint: Some(format!(
                "declare the column under source.columns.attributes.{attr}, or correct the attribute name"
            )),
            location: config
                .locations
                .get(&format!("/exclude/{i}/attribute"))
                .or_else(|| config.locations.get(&format!("/exclude/{i}"))),
            concerns: Default::default(),
        });
    }
    out
}

fn index(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

/// "1 person" / "3 people".
pub fn people(n: usize) -> String {
    if n == 1 {
        "1 person".to_owned()
    } else {
        format!("{n} people")
    }
}

/// "1 person is" / "3 people are".
pub(crate) fn people_are(n: usize) -> String {
    if n == 1 {
        "1 person is".to_owned()
    } else {
        format!("{n} people are")
    }
}

/// Small builders for the unit tests of the pure core (scope, mapping, plan).
#[cfg(test)]
pub(crate) mod testing {
    use jiff::civil::{Date, date};

    use crate::config::{
        Columns, Config, FileSourceConfig, FileTargetConfig, IdentityConfig, Locations,
        PolicyConfig, SafetyConfig, SourceConfig, TargetConfig, yaml,
    };
    use crate::model::{
        Account, Employment, Person, SourceGroup, SourceSnapshot, TargetGroup, TargetSnapshot,
    };
    use crate::plan::PlanInput;
    use crate::vocabulary::{Digests, Plan};

    /// "Today" in the tests.
    pub const TODAY: Date = date(2026, 6, 15);

    /// `TODAY` plus `days`.
    pub fn day(days: i64) -> Date {
        TODAY.saturating_add(jiff::Span::new().days(days))
    }

    /// The defaults of every section, nothing mapped.
    pub fn config() -> Config {
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
            identity: IdentityConfig::default(),
            policy: PolicyConfig::default(),
            safety: SafetyConfig::default(),
            protected: Vec::new(),
            communities: Vec::new(),
            functions: None,
            exclude: Vec::new(),
            test_locations: Vec::new(),
            include: None,
            locations: Locations::default(),
            digest: String::new(),
            files: Vec::new(),
        }
    }

    /// Records where `section` was written, from its YAML text (as the loader does).
    pub fn locate(config: &mut Config, section: &str, file: &str, text: &str) {
        let node = yaml::parse(text).ok().flatten().expect("test YAML parses");
        let (_, positions) = yaml::to_json(&node);
        config.locations.insert(section, file, positions);
    }

    /// A person with one open employment per community (one without a community when there
    /// are none), with an e-mail address derived from the id.
    pub fn person(id: &str, communities: &[&str]) -> Person {
        let mut employments: Vec<Employment> = communities
            .iter()
            .map(|c| Employment {
                community: Some((*c).to_owned()),
                ..Employment::default()
            })
            .collect();
        if employments.is_empty() {
            employments.push(Employment::default());
        }
        Person {
            id: id.to_owned(),
            email: Some(format!("{id}@example.com")),
            first_name: "Ann".to_owned(),
            last_name: format!("Person {id}"),
            employments,
            ..Person::default()
        }
    }

    /// One employment with these dates, in `community`.
    pub fn employment(community: &str, start: Option<Date>, end: Option<Date>) -> Employment {
        Employment {
            start,
            end,
            community: Some(community.to_owned()),
            ..Employment::default()
        }
    }

    /// Gives a person's employments these functions: the i-th employment the i-th function
    /// (more functions than employments add employments without a community).
    pub fn set_functions(p: &mut Person, functions: &[&str]) {
        set_field(p, functions, |e, v| e.function = v);
    }

    /// The same for departments.
    pub fn set_departments(p: &mut Person, departments: &[&str]) {
        set_field(p, departments, |e, v| e.department = v);
    }

    fn set_field(p: &mut Person, values: &[&str], set: impl Fn(&mut Employment, Option<String>)) {
        for e in &mut p.employments {
            set(e, None);
        }
        for (i, v) in values.iter().enumerate() {
            if i >= p.employments.len() {
                p.employments.push(Employment::default());
            }
            set(&mut p.employments[i], Some((*v).to_owned()));
        }
    }

    /// Sets the start of every employment.
    pub fn set_start(p: &mut Person, start: Option<Date>) {
        for e in &mut p.employments {
            e.start = start;
        }
    }

    /// Sets the end of every employment.
    pub fn set_end(p: &mut Person, end: Option<Date>) {
        for e in &mut p.employments {
            e.end = end;
        }
    }

    /// A managed, active account matching `person(ext, …)` by external id and e-mail.
    pub fn account(id: &str, ext: &str, communities: &[&str]) -> Account {
        Account {
            id: id.to_owned(),
            external_id: Some(ext.to_owned()),
            email: Some(format!("{ext}@example.com")),
            first_name: "Ann".to_owned(),
            last_name: format!("Person {ext}"),
            managed: true,
            communities: communities.iter().map(|c| (*c).to_owned()).collect(),
            ..Account::default()
        }
    }

    /// A target group.
    pub fn group(id: &str, name: &str, source_ids: &[&str], managed: bool) -> TargetGroup {
        TargetGroup {
            id: id.to_owned(),
            name: name.to_owned(),
            source_ids: source_ids.iter().map(|s| (*s).to_owned()).collect(),
            managed,
        }
    }

    /// A source group.
    pub fn sg(id: &str, name: &str) -> SourceGroup {
        SourceGroup {
            id: id.to_owned(),
            name: name.to_owned(),
        }
    }

    /// A source with these people and communities.
    pub fn source(persons: Vec<Person>, communities: &[(&str, &str)]) -> SourceSnapshot {
        SourceSnapshot {
            persons,
            communities: communities.iter().map(|(i, n)| sg(i, n)).collect(),
            ..SourceSnapshot::default()
        }
    }

    /// A target with these accounts and communities.
    pub fn target(accounts: Vec<Account>, communities: Vec<TargetGroup>) -> TargetSnapshot {
        TargetSnapshot {
            accounts,
            communities,
            function_groups: Vec::new(),
        }
    }

    /// The plan for `TODAY`.
    pub fn plan(config: &Config, source: &SourceSnapshot, target: &TargetSnapshot) -> Plan {
        crate::plan::build(PlanInput {
            config,
            source,
            target,
            today: TODAY,
            created_at: "2026-06-15T02:00:00Z".to_owned(),
            digests: Digests::default(),
            recorded: None,
            capabilities: &crate::capabilities::TargetCapabilities::default(),
            previous: None,
            placed: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::testing::{
        TODAY, config, day, locate, person, set_end, set_functions, set_start, source,
    };
    use super::*;
    use crate::config::IncludeConfig;

    fn rule(reason: &str) -> ExclusionRule {
        ExclusionRule {
            reason: reason.to_owned(),
            person: None,
            community: None,
            function: None,
            attribute: None,
            equals: None,
            matches: None,
        }
    }

    fn ids<'a>(scope: &Scope<'a>) -> Vec<&'a str> {
        scope.persons.iter().map(|p| p.person.id.as_str()).collect()
    }

    #[test]
    fn patterns_literals_are_exact_globs_ignore_case_and_the_first_wins() {
        let p = Patterns::new(["F-*", "f-gr", "F-GR"], false);
        assert_eq!(p.first_match("F-GR"), Some(0), "the glob comes first");
        assert_eq!(p.first_match("f-gr"), Some(0), "globs ignore case");
        let p = Patterns::new(["F-GR", "x*"], false);
        assert_eq!(p.first_match("F-GR"), Some(0));
        assert_eq!(p.first_match("f-gr"), None, "identifiers compare exactly");
        assert_eq!(p.first_match("X1"), Some(1));
        let ci = Patterns::new(["Admin@Example.com"], true);
        assert!(ci.is_match("admin@example.COM"));
    }

    #[test]
    fn the_first_matching_exclusion_rule_records_the_reason() {
        let mut c = config();
        let mut interns = rule("interns are onboarded by hand");
        interns.attribute = Some("contract_type".to_owned());
        interns.equals = Some("intern".to_owned());
        let mut hq = rule("HQ is managed by hand");
        hq.community = Some("9000".to_owned());
        c.exclude = vec![interns, hq];
        locate(
            &mut c,
            "exclude",
            "exclusions.yaml",
            "exclude:\n  - { reason: a, attribute: contract_type, equals: intern }\n  - { reason: b, community: \"9000\" }\n",
        );
        let mut both = person("1", &["9000"]);
        both.attributes = BTreeMap::from([("contract_type".to_owned(), "intern".to_owned())]);
        let hq_only = person("2", &["1001", "9000"]);
        let kept = person("3", &["1001"]);
        let s = source(vec![both, hq_only, kept], &[]);
        let scope = resolve(&c, &s, TODAY);
        assert_eq!(ids(&scope), ["3"]);
        assert_eq!(scope.out_of_scope["1"], OutOfScope::Excluded(0));
        assert_eq!(
            scope.out_of_scope["2"],
            OutOfScope::Excluded(1),
            "any community matches"
        );
        let excluded: Vec<_> = scope
            .diagnostics
            .iter()
            .filter(|d| d.kind == DiagnosticKind::Excluded)
            .collect();
        assert_eq!(excluded.len(), 2);
        assert_eq!(excluded[0].count, 1);
        assert_eq!(
            excluded[0].message,
            "1 person excluded: interns are onboarded by hand"
        );
        assert_eq!(excluded[0].severity, Severity::Info);
        let at = excluded[1]
            .location
            .as_ref()
            .expect("location of /exclude/1");
        assert_eq!((at.file.as_str(), at.line), ("exclusions.yaml", 3));
    }

    #[test]
    fn exclusion_by_person_glob_function_and_attribute_glob() {
        let mut c = config();
        let mut by_person = rule("external staff");
        by_person.person = Some("EXT-*".to_owned());
        let mut by_function = rule("board");
        by_function.function = Some("F-BOARD".to_owned());
        let mut by_attr = rule("temps");
        by_attr.attribute = Some("contract".to_owned());
        by_attr.matches = Some("temp*".to_owned());
        let mut exact = rule("exact only");
        exact.attribute = Some("kind".to_owned());
        exact.equals = Some("x".to_owned());
        c.exclude = vec![by_person, by_function, by_attr, exact];
        let ext = person("ext-7", &["1"]);
        let mut board = person("2", &["1"]);
        set_functions(&mut board, &["F-BOARD"]);
        let mut temp = person("3", &["1"]);
        temp.attributes = BTreeMap::from([("contract".to_owned(), "Temporary".to_owned())]);
        let mut not_exact = person("4", &["1"]);
        not_exact.attributes = BTreeMap::from([("kind".to_owned(), "X".to_owned())]);
        let s = source(vec![ext, board, temp, not_exact], &[]);
        let scope = resolve(&c, &s, TODAY);
        assert_eq!(
            ids(&scope),
            ["4"],
            "`equals` is exact, `matches` ignores case"
        );
        assert_eq!(scope.out_of_scope["ext-7"], OutOfScope::Excluded(0));
        assert_eq!(scope.out_of_scope["2"], OutOfScope::Excluded(1));
        assert_eq!(scope.out_of_scope["3"], OutOfScope::Excluded(2));
    }

    #[test]
    fn test_locations_match_name_or_identifier_and_only_there_means_out_of_scope() {
        let mut c = config();
        c.test_locations = vec!["test*".to_owned(), "T-*".to_owned()];
        let s = source(
            vec![
                person("1", &["1001", "9001"]),
                person("2", &["9001"]),
                person("3", &["T-2", "9001"]),
                person("4", &[]),
            ],
            &[
                ("1001", "Amsterdam"),
                ("9001", "Test Lab"),
                ("T-2", "Pilot"),
            ],
        );
        let scope = resolve(&c, &s, TODAY);
        assert_eq!(ids(&scope), ["1", "4"]);
        assert_eq!(scope.communities(&scope.persons[0]), ["1001"]);
        assert_eq!(scope.out_of_scope["2"], OutOfScope::OnlyTestLocations);
        assert!(scope.test_communities.contains("9001") && scope.test_communities.contains("T-2"));
        assert!(!scope.known_communities.contains("9001"));
        let mut diags: Vec<_> = scope
            .diagnostics
            .iter()
            .filter(|d| d.kind == DiagnosticKind::TestLocation)
            .map(|d| (d.subject.clone().unwrap_or_default(), d.count))
            .collect();
        diags.sort();
        assert_eq!(diags, [("9001".to_owned(), 2), ("T-2".to_owned(), 1)]);
    }

    #[test]
    fn partial_sync_keeps_only_included_people_and_communities() {
        let mut c = config();
        c.include = Some(IncludeConfig {
            communities: vec!["10*".to_owned(), "2001".to_owned()],
        });
        let s = source(
            vec![
                person("1", &["1001", "3001"]),
                person("2", &["3001"]),
                person("3", &["2001"]),
            ],
            &[],
        );
        let scope = resolve(&c, &s, TODAY);
        assert_eq!(ids(&scope), ["1", "3"]);
        assert_eq!(scope.communities(&scope.persons[0]), ["1001"]);
        assert_eq!(scope.out_of_scope["2"], OutOfScope::NotIncluded);
        // An empty include-list is no partial sync.
        c.include = Some(IncludeConfig::default());
        assert_eq!(ids(&resolve(&c, &s, TODAY)), ["1", "2", "3"]);
    }

    #[test]
    fn employment_window_is_inclusive_at_both_ends_with_the_lead_time() {
        let mut c = config();
        c.policy.invite_lead_days = 7;
        let at = |id: &str, start: Option<i64>, end: Option<i64>| {
            let mut p = person(id, &["1"]);
            set_start(&mut p, start.map(day));
            set_end(&mut p, end.map(day));
            p
        };
        let s = source(
            vec![
                at("lead-edge", Some(7), None),
                at("too-early", Some(8), None),
                at("ends-today", Some(-100), Some(0)),
                at("ended", None, Some(-1)),
                at("open", None, None),
            ],
            &[],
        );
        let scope = resolve(&c, &s, TODAY);
        assert_eq!(ids(&scope), ["lead-edge", "ends-today", "open"]);
        assert_eq!(
            scope.out_of_scope["too-early"],
            OutOfScope::NotStarted(day(8))
        );
        assert_eq!(scope.out_of_scope["ended"], OutOfScope::Ended(day(-1)));
        assert_eq!(
            OutOfScope::Ended(date_of(2026, 10, 31)).describe(&c),
            "contract ended on 2026-10-31"
        );
    }

    fn date_of(y: i16, m: i8, d: i8) -> Date {
        jiff::civil::date(y, m, d)
    }
}
