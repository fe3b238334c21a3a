//! A generated organisation for trying orgsync and for load tests: a configuration directory, an
//! HR export and a workspace that has drifted from it the way real ones do (new hires, leavers,
//! transfers, function changes, removed accounts, a few hand-made accounts).
//!
//! Everything is derived from a seed with a small PRNG (SplitMix64), so a seed always gives the
//! same files, and "today" is an option rather than the clock for the same reason.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use jiff::civil::{Date, date};
use serde::Serialize;

use orgsync_core::model::write_workspace;
use orgsync_core::model::{
    Account, AccountStatus, Employment, Person, SourceGroup, SourceSnapshot, TargetGroup,
    TargetSnapshot,
};

/// The day a generated organisation is "as of" unless told otherwise: plan it with `--at
/// 2025-06-02` to see exactly the generated churn.
pub const DEFAULT_TODAY: Date = date(2025, 6, 2);

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateOptions {
    /// People in the source export.
    pub people: usize,
    /// Seed: the same seed (and `today`) gives the same files.
    pub seed: u64,
    /// The day the data is "as of": new hires start around it, leavers ended before it.
    pub today: Date,
}

impl GenerateOptions {
    /// `people` people from `seed`, as of [`DEFAULT_TODAY`].
    pub fn new(people: usize, seed: u64) -> GenerateOptions {
        GenerateOptions {
            people,
            seed,
            today: DEFAULT_TODAY,
        }
    }
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions::new(1000, 1)
    }
}

/// How much churn was generated, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// People in the source.
    pub people: usize,
    /// Accounts in the workspace.
    pub accounts: usize,
    /// Source people without an account yet.
    pub new_hires: usize,
    /// New hires whose e-mail an unmanaged account already uses.
    pub adoptable: usize,
    /// Active managed accounts of people who left (gone from the source, or their end date
    /// passed).
    pub leavers: usize,
    /// Accounts in another community than the source says.
    pub moved: usize,
    /// Accounts in another function group than the source says.
    pub function_changed: usize,
    /// Accounts already removed.
    pub removed: usize,
    /// Of those, removed longer ago than the 30-day retention.
    pub past_retention: usize,
    /// Accounts orgsync does not manage.
    pub unmanaged: usize,
    /// People only in the test location.
    pub test_location_people: usize,
    /// Source communities (locations).
    pub communities: usize,
    /// Source functions.
    pub functions: usize,
}

/// A generated organisation.
#[derive(Debug, Clone)]
pub struct Generated {
    /// `orgsync.yaml`: source, target, identity, policy, safety, protected accounts, test
    /// locations.
    pub orgsync_yaml: String,
    /// `communities.yaml`: the community mappings.
    pub communities_yaml: String,
    /// `functions.yaml`: the function mappings and the fallback.
    pub functions_yaml: String,
    /// The source, exactly as the `file` source reads `source.json` back.
    pub source: SourceSnapshot,
    /// The target, exactly as the `file` target reads `workspace.json` back.
    pub workspace: TargetSnapshot,
    /// What was generated.
    pub stats: Stats,
}

/// Generates an organisation. A million people take a few seconds and about a gigabyte: the
/// result holds every person and account in memory.
pub fn generate(opts: &GenerateOptions) -> Generated {
    Generator::new(opts).run()
}

/// Writes `orgsync.yaml`, `communities.yaml`, `functions.yaml`, `source.json` and
/// `workspace.json` into `dir` (created when missing).
pub fn write(dir: &Path, g: &Generated) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("orgsync.yaml"), &g.orgsync_yaml)?;
    std::fs::write(dir.join("communities.yaml"), &g.communities_yaml)?;
    std::fs::write(dir.join("functions.yaml"), &g.functions_yaml)?;

    let mut w = BufWriter::with_capacity(1 << 20, File::create(dir.join("source.json"))?);
    write_source(&mut w, &g.source)?;
    w.flush()?;

    let mut w = BufWriter::with_capacity(1 << 20, File::create(dir.join("workspace.json"))?);
    write_workspace(&mut w, &g.workspace)?;
    w.flush()
}

/// One row of `source.json`, with orgsync's default column names.
#[derive(Serialize)]
struct Row<'a> {
    id: &'a str,
    email: Option<&'a str>,
    first_name: &'a str,
    last_name: &'a str,
    start: Option<Date>,
    end: Option<Date>,
    community: Option<&'a str>,
    community_name: Option<&'a str>,
    function: Option<&'a str>,
    function_name: Option<&'a str>,
    department: Option<&'a str>,
    department_name: Option<&'a str>,
    manager: Option<&'a str>,
}

/// A JSON list with one row per line; a person in several communities gets one row for each.
fn write_source<W: Write>(w: &mut W, s: &SourceSnapshot) -> io::Result<()> {
    let names = |groups: &[SourceGroup]| -> HashMap<String, String> {
        groups
            .iter()
            .map(|g| (g.id.clone(), g.name.clone()))
            .collect()
    };
    let (communities, functions, departments) = (
        names(&s.communities),
        names(&s.functions),
        names(&s.departments),
    );
    w.write_all(b"[")?;
    let mut first = true;
    for p in &s.persons {
        for e in p.rows() {
            let community = e.community.as_deref();
            let function = e.function.as_deref();
            let department = e.department.as_deref();
            let row = Row {
                id: &p.id,
                email: p.email.as_deref(),
                first_name: &p.first_name,
                last_name: &p.last_name,
                start: e.start,
                end: e.end,
                community,
                community_name: community
                    .and_then(|c| communities.get(c))
                    .map(String::as_str),
                function,
                function_name: function.and_then(|f| functions.get(f)).map(String::as_str),
                department,
                department_name: department
                    .and_then(|d| departments.get(d))
                    .map(String::as_str),
                manager: p.manager.as_deref(),
            };
            w.write_all(if first { b"\n" } else { b",\n" })?;
            first = false;
            serde_json::to_writer(&mut *w, &row)?;
        }
    }
    w.write_all(b"\n]\n")
}

/// SplitMix64: tiny, fast, and good enough for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next()) * n as u128) >> 64) as usize
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

const FIRST_NAMES: &[&str] = &[
    "Sanne",
    "Daan",
    "Emma",
    "Lucas",
    "Julia",
    "Sem",
    "Tess",
    "Finn",
    "Sophie",
    "Levi",
    "Anna",
    "Noah",
    "Zoë",
    "Milan",
    "Evi",
    "Jesse",
    "Lotte",
    "Bram",
    "Fleur",
    "Thijs",
    "Lisa",
    "Luuk",
    "Sara",
    "Ruben",
    "Eva",
    "Thomas",
    "Noor",
    "Max",
    "Iris",
    "Lars",
    "Femke",
    "Stijn",
    "Roos",
    "Jasper",
    "Maud",
    "Gijs",
    "Anouk",
    "Koen",
    "Isa",
    "Tim",
    "Lieke",
    "Mohamed",
    "Fatima",
    "Yusuf",
    "Amira",
    "Mehmet",
    "Elif",
    "Priya",
    "Arjun",
    "Wei",
    "Mei",
    "Pieter",
    "Marieke",
    "Joost",
    "Ingrid",
    "Hendrik",
    "Willemijn",
    "Kees",
    "Annelies",
    "Bas",
    "Charlotte",
    "Dirk",
    "Esther",
    "Floris",
    "Hanna",
    "Ivo",
    "Jolien",
    "Karim",
    "Linda",
    "Martijn",
    "Nadia",
    "Olaf",
    "Petra",
    "Quinten",
    "Rianne",
    "Sander",
    "Tamara",
    "Ugo",
    "Vera",
    "Wouter",
    "Yara",
];

const LAST_NAMES: &[&str] = &[
    "Jansen",
    "Vries",
    "Berg",
    "Bakker",
    "Dijk",
    "Visser",
    "Smit",
    "Meijer",
    "Boer",
    "Mulder",
    "Groot",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "Leeuwen",
    "Dekker",
    "Brouwer",
    "Wit",
    "Dijkstra",
    "Smits",
    "Graaf",
    "Linden",
    "Kok",
    "Jacobs",
    "Haan",
    "Vermeulen",
    "Heuvel",
    "Veen",
    "Broek",
    "Bruijn",
    "Schouten",
    "Beek",
    "Willems",
    "Vliet",
    "Hoek",
    "Maas",
    "Verhoeven",
    "Koster",
    "Prins",
    "Blom",
    "Huisman",
    "Peeters",
    "Kuipers",
    "Vink",
    "Postma",
    "Yilmaz",
    "Kaya",
    "Bennani",
    "El Amrani",
    "Nguyen",
    "Chen",
    "Kumar",
    "Santos",
    "Silva",
    "Kowalski",
    "Nowak",
    "Schmidt",
    "Müller",
    "Dubois",
    "Rossi",
    "Wolters",
    "Timmermans",
    "Gerritsen",
    "Kramer",
    "Evers",
    "Sluis",
    "Hermans",
    "Molenaar",
    "Scholten",
];

const PREFIXES: &[&str] = &["van", "de", "van der", "van den", "van de", "ter", "den"];

const CITIES: &[&str] = &[
    "Amsterdam",
    "Rotterdam",
    "Den Haag",
    "Utrecht",
    "Eindhoven",
    "Groningen",
    "Tilburg",
    "Almere",
    "Breda",
    "Nijmegen",
    "Apeldoorn",
    "Haarlem",
    "Arnhem",
    "Enschede",
    "Amersfoort",
    "Zaandam",
    "'s-Hertogenbosch",
    "Zwolle",
    "Leiden",
    "Maastricht",
    "Dordrecht",
    "Ede",
    "Alkmaar",
    "Delft",
    "Deventer",
    "Venlo",
    "Hilversum",
    "Leeuwarden",
    "Gouda",
    "Antwerpen",
    "Gent",
    "Brussel",
    "Brugge",
    "Leuven",
];

const QUARTERS: &[&str] = &[
    "Centrum", "Noord", "Zuid", "Oost", "West", "Station", "Haven", "Airport", "Plaza", "Park",
];

/// Departments: (id, name).
const DEPARTMENTS: &[(&str, &str)] = &[
    ("D-MGT", "Management"),
    ("D-FO", "Front Office"),
    ("D-HK", "Housekeeping"),
    ("D-KIT", "Kitchen"),
    ("D-FB", "Food & Beverage"),
    ("D-SE", "Sales & Events"),
    ("D-TEC", "Technical"),
    ("D-SEC", "Security"),
    ("D-SO", "Support Office"),
    ("D-WEL", "Wellness"),
    ("D-TRN", "Trainees"),
];

/// Functions: (id, name, department index, weight, function group or `None` when unmapped).
const FUNCTIONS: &[(&str, &str, usize, u32, Option<&str>)] = &[
    ("F-MGR", "Location Manager", 0, 0, Some("Management")),
    ("F-AMGR", "Assistant Manager", 0, 4, Some("Management")),
    (
        "F-GR",
        "Guest Relations Agent",
        1,
        30,
        Some("Guest Relations"),
    ),
    ("F-RES", "Reservations Agent", 1, 12, Some("Front Office")),
    ("F-REC", "Receptionist", 1, 40, Some("Front Office")),
    ("F-CON", "Concierge", 1, 6, Some("Guest Relations")),
    ("F-NA", "Night Auditor", 1, 6, Some("Front Office")),
    ("F-PORT", "Porter", 1, 10, Some("Front Office")),
    ("F-HK", "Housekeeper", 2, 80, Some("Housekeeping")),
    (
        "F-HKS",
        "Housekeeping Supervisor",
        2,
        8,
        Some("Housekeeping"),
    ),
    ("F-LAU", "Laundry Attendant", 2, 12, Some("Housekeeping")),
    ("F-CHEF", "Chef", 3, 6, Some("Chefs")),
    ("F-SOUS", "Sous Chef", 3, 6, Some("Chefs")),
    ("F-CDP", "Chef de Partie", 3, 14, Some("Kitchen")),
    ("F-COOK", "Cook", 3, 40, Some("Kitchen")),
    ("F-DISH", "Dishwasher", 3, 25, Some("Kitchen")),
    ("F-PAT", "Pastry Chef", 3, 4, Some("Chefs")),
    ("F-WAIT", "Waiter", 4, 70, Some("Food & Beverage")),
    ("F-BAR", "Bartender", 4, 25, Some("Food & Beverage")),
    ("F-BARI", "Barista", 4, 15, Some("Food & Beverage")),
    ("F-HOST", "Host", 4, 10, Some("Food & Beverage")),
    ("F-SOM", "Sommelier", 4, 3, Some("Food & Beverage")),
    ("F-FBM", "F&B Manager", 4, 4, Some("Management")),
    ("F-EVT", "Event Coordinator", 5, 6, Some("Sales & Events")),
    ("F-SAL", "Sales Manager", 5, 4, Some("Sales & Events")),
    ("F-REV", "Revenue Manager", 5, 2, Some("Sales & Events")),
    (
        "F-MKT",
        "Marketing Specialist",
        5,
        3,
        Some("Sales & Events"),
    ),
    ("F-MNT", "Maintenance Technician", 6, 12, Some("Technical")),
    ("F-ENG", "Chief Engineer", 6, 3, Some("Technical")),
    ("F-SEC", "Security Officer", 7, 10, Some("Security")),
    ("F-HR", "HR Advisor", 8, 3, Some("Support Office")),
    (
        "F-PAY",
        "Payroll Administrator",
        8,
        2,
        Some("Support Office"),
    ),
    (
        "F-FIN",
        "Financial Controller",
        8,
        2,
        Some("Support Office"),
    ),
    ("F-ACC", "Accountant", 8, 2, Some("Support Office")),
    ("F-IT", "IT Support", 8, 2, Some("Support Office")),
    ("F-PUR", "Purchaser", 8, 2, Some("Support Office")),
    ("F-SPA", "Spa Therapist", 9, 5, None),
    ("F-FIT", "Fitness Instructor", 9, 3, None),
    ("F-TRN", "Trainee", 10, 10, None),
    ("F-INT", "Intern", 10, 6, None),
];

/// The function group for people whose function is not mapped.
const FALLBACK_GROUP: &str = "No function";
const MAIL_DOMAIN: &str = "sandbox.example";
const RETENTION_DAYS: i64 = 30;
/// Identifier and name of the test location (the `Test*` glob in `test_locations`).
const TEST_LOCATION: (&str, &str) = ("0999", "Test Locatie Amsterdam");
/// A location that closed: orgsync created its community, its identifier is gone now.
const CLOSED_LOCATION: (&str, &str) = ("0998", "Utrecht Oudegracht");

/// How a location stands in the configuration and the target.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LocationKind {
    /// Mapped in `communities.yaml` onto a community made by hand.
    Mapped,
    /// Not mapped; orgsync created its community earlier (it carries the source identifier).
    Created,
    /// Not mapped and not in the target yet: a location that is opening, staffed with new
    /// hires. The next apply creates it.
    New,
}

struct Location {
    id: String,
    name: String,
    kind: LocationKind,
    /// Target community id, when it exists.
    target: Option<String>,
    /// The location's manager (its first person).
    manager: Option<usize>,
}

/// What happens to one source person on the target side.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Churn {
    InSync,
    NewHire,
    Moved,
    FunctionChanged,
    LeftByEndDate,
    TestOnly,
}

struct Generator {
    rng: Rng,
    /// A stream of its own for the ended employment rows, so that adding them left every other
    /// generated person (and the examples that name them) as it was.
    history: Rng,
    opts: GenerateOptions,
    /// `days[i]` is today + (i - PAST_DAYS) days.
    days: Vec<Date>,
    locations: Vec<Location>,
    /// Indexes of the locations that exist in the target, and of those that are opening.
    established: Vec<usize>,
    opening: Vec<usize>,
    /// Cumulative function weights, for weighted picks.
    function_weights: Vec<u32>,
    /// Function group names and their target ids (index into `FUNCTIONS` → group index).
    groups: Vec<(String, String)>,
    function_group: Vec<usize>,
    /// Uses of each e-mail address stem, to keep addresses unique.
    mail_stems: HashMap<(u16, u16, u8), u32>,
    /// Which groups some person names: the source snapshot lists only those.
    used: Used,
    stats: Stats,
}

struct Used {
    locations: Vec<bool>,
    test_location: bool,
    functions: Vec<bool>,
    departments: Vec<bool>,
}

const PAST_DAYS: i64 = 12 * 366;
const FUTURE_DAYS: i64 = 120;

impl Generator {
    fn new(opts: &GenerateOptions) -> Generator {
        let mut rng = Rng(opts.seed ^ 0x6f72_6773_796e_6321);
        let today = opts.today;
        let days = (-PAST_DAYS..=FUTURE_DAYS)
            .map(|d| today.saturating_add(jiff::Span::new().days(d)))
            .collect();

        let n_locations = (opts.people / 150).max(1);
        let mut locations = Vec::with_capacity(n_locations);
        let mut next_community = 1;
        for i in 0..n_locations {
            let city = CITIES[i % CITIES.len()];
            let quarter = QUARTERS[(i / CITIES.len()) % QUARTERS.len()];
            let round = i / (CITIES.len() * QUARTERS.len());
            let name = if round == 0 {
                format!("{city} {quarter}")
            } else {
                format!("{city} {quarter} {}", round + 1)
            };
            let r = rng.unit();
            let kind = if i == 0 || r < 0.945 {
                LocationKind::Mapped
            } else if r < 0.995 {
                LocationKind::Created
            } else {
                LocationKind::New
            };
            let target = (kind != LocationKind::New).then(|| {
                next_community += 1;
                format!("c-{}", next_community - 1)
            });
            locations.push(Location {
                id: (1001 + i).to_string(),
                name,
                kind,
                target,
                manager: None,
            });
        }

        let mut total = 0;
        let function_weights = FUNCTIONS
            .iter()
            .map(|f| {
                total += f.3;
                total
            })
            .collect();

        let mut groups: Vec<(String, String)> = Vec::new();
        let mut function_group = Vec::new();
        for f in FUNCTIONS {
            let name = f.4.unwrap_or(FALLBACK_GROUP);
            let i = match groups.iter().position(|(n, _)| n == name) {
                Some(i) => i,
                None => {
                    groups.push((name.to_owned(), format!("g-{}", groups.len() + 1)));
                    groups.len() - 1
                }
            };
            function_group.push(i);
        }

        let (opening, established): (Vec<usize>, Vec<usize>) =
            (0..locations.len()).partition(|&i| locations[i].kind == LocationKind::New);
        Generator {
            rng,
            history: Rng(opts.seed ^ 0x6869_7374_6f72_7921),
            opts: opts.clone(),
            days,
            locations,
            established,
            opening,
            function_weights,
            groups,
            function_group,
            mail_stems: HashMap::new(),
            used: Used {
                locations: vec![false; n_locations],
                test_location: false,
                functions: vec![false; FUNCTIONS.len()],
                departments: vec![false; DEPARTMENTS.len()],
            },
            stats: Stats::default(),
        }
    }

    fn day(&self, offset: i64) -> Date {
        self.days[(offset.clamp(-PAST_DAYS, FUTURE_DAYS) + PAST_DAYS) as usize]
    }

    /// `base` days from today, plus `direction` × (0..spread) days.
    fn random_day(&mut self, base: i64, spread: usize, direction: i64) -> Date {
        let offset = base + direction * self.rng.below(spread) as i64;
        self.day(offset)
    }

    fn pick_function(&mut self) -> usize {
        let total = *self.function_weights.last().unwrap_or(&1);
        let r = self.rng.below(total as usize) as u32;
        self.function_weights.partition_point(|&w| w <= r)
    }

    /// A name and a unique e-mail address.
    fn name(&mut self) -> (String, String, String) {
        let f = self.rng.below(FIRST_NAMES.len());
        let l = self.rng.below(LAST_NAMES.len());
        let p = if self.rng.chance(0.25) {
            1 + self.rng.below(PREFIXES.len())
        } else {
            0
        };
        let first = FIRST_NAMES[f];
        let last = match p {
            0 => LAST_NAMES[l].to_owned(),
            p => format!("{} {}", PREFIXES[p - 1], LAST_NAMES[l]),
        };
        let n = self
            .mail_stems
            .entry((f as u16, l as u16, p as u8))
            .or_insert(0);
        *n += 1;
        let mut email = String::with_capacity(40);
        push_mail_part(&mut email, first);
        email.push('.');
        push_mail_part(&mut email, &last);
        if *n > 1 {
            let _ = write!(email, "{n}");
        }
        email.push('@');
        email.push_str(MAIL_DOMAIN);
        (first.to_owned(), last, email)
    }

    fn run(mut self) -> Generated {
        let people = self.opts.people;
        let mut persons: Vec<Person> = Vec::with_capacity(people);
        let mut churn = Vec::with_capacity(people);
        let mut next_id = 100_001usize;
        for _ in 0..people {
            let id = next_id.to_string();
            next_id += 1;
            let (first_name, last_name, email) = self.name();
            let r = self.rng.unit();
            // 2% new hires, 3% moved, 1% changed function, 0.5% left by end date (another
            // 0.5% left the source altogether, below), 0.2% only in the test location.
            let kind = if r < 0.020 {
                Churn::NewHire
            } else if r < 0.050 {
                Churn::Moved
            } else if r < 0.060 {
                Churn::FunctionChanged
            } else if r < 0.065 {
                Churn::LeftByEndDate
            } else if r < 0.067 {
                Churn::TestOnly
            } else {
                Churn::InSync
            };
            let mut person = Person {
                id,
                email: Some(email),
                first_name,
                last_name,
                ..Person::default()
            };
            let mut location = None;
            let mut places: Vec<String> = Vec::new();
            if kind == Churn::TestOnly {
                places.push(TEST_LOCATION.0.to_owned());
                self.used.test_location = true;
            } else {
                // Opening locations are staffed with a quarter of the new hires.
                let opening =
                    kind == Churn::NewHire && !self.opening.is_empty() && self.rng.chance(0.25);
                let l = if opening {
                    self.opening[self.rng.below(self.opening.len())]
                } else {
                    self.established[self.rng.below(self.established.len())]
                };
                places.push(self.locations[l].id.clone());
                self.used.locations[l] = true;
                location = Some(l);
                if self.established.len() > 1 && self.rng.chance(0.01) {
                    let other = self.established[self.rng.below(self.established.len())];
                    if other != l {
                        places.push(self.locations[other].id.clone());
                        self.used.locations[other] = true;
                    }
                }
            }
            // The first person of a location manages it; the others report to them.
            let function = match location.map(|l| self.locations[l].manager) {
                Some(None) => 0,
                _ => self.pick_function(),
            };
            if let Some(l) = location {
                match self.locations[l].manager {
                    None => self.locations[l].manager = Some(persons.len()),
                    Some(m) => person.manager = Some(persons[m].id.clone()),
                }
            }
            let (fid, _, dept, _, _) = FUNCTIONS[function];
            self.used.functions[function] = true;
            self.used.departments[dept] = true;
            let start = Some(match kind {
                Churn::NewHire => self.random_day(-10, 16, 1),
                _ => self.random_day(-30, 10 * 365, -1),
            });
            let end = if kind == Churn::LeftByEndDate {
                Some(self.random_day(-1, 60, -1))
            } else if kind == Churn::InSync && self.rng.chance(0.005) {
                // Leaving soon: still in scope today.
                Some(self.random_day(1, 90, 1))
            } else {
                None
            };
            // HR systems keep ended employments as rows: one in eight people has an earlier
            // employment elsewhere, in another function, that ended the day before this one
            // began. It places nobody today.
            if kind != Churn::TestOnly
                && let Some(begin) = start
                && self.history.chance(0.125)
            {
                let l = self.established[self.history.below(self.established.len())];
                let (old_fid, _, old_dept, _, _) = FUNCTIONS[self.history.below(FUNCTIONS.len())];
                let ended = begin.yesterday().unwrap_or(begin);
                person.employments.push(Employment {
                    start: Some(
                        ended.saturating_sub(
                            jiff::Span::new().days(
                                i64::try_from(30 + self.history.below(5 * 365)).unwrap_or(365),
                            ),
                        ),
                    ),
                    end: Some(ended),
                    community: Some(self.locations[l].id.clone()),
                    function: Some(old_fid.to_owned()),
                    department: Some(DEPARTMENTS[old_dept].0.to_owned()),
                });
            }
            for c in places {
                person.employments.push(Employment {
                    start,
                    end,
                    community: Some(c),
                    function: Some(fid.to_owned()),
                    department: Some(DEPARTMENTS[dept].0.to_owned()),
                });
            }
            persons.push(person);
            churn.push((kind, function));
        }

        let mut accounts = Vec::with_capacity(people + people / 50 + 8);
        for (person, &(kind, function)) in persons.iter().zip(&churn) {
            match kind {
                Churn::TestOnly => {
                    self.stats.test_location_people += 1;
                    continue;
                }
                Churn::NewHire => {
                    self.stats.new_hires += 1;
                    // Someone made an account by hand for one in ten new hires.
                    if self.rng.chance(0.1) {
                        self.stats.adoptable += 1;
                        self.stats.unmanaged += 1;
                        accounts.push(Account {
                            email: person.email.clone(),
                            first_name: person.first_name.clone(),
                            last_name: person.last_name.clone(),
                            ..Account::default()
                        });
                    }
                    continue;
                }
                _ => {}
            }
            // The latest employment rows are the ones the account was made for (an earlier
            // employment ended before they began).
            let latest = person.employments.iter().filter_map(|e| e.start).max();
            let mut communities: Vec<String> = person
                .employments
                .iter()
                .filter(|e| e.start == latest)
                .filter_map(|e| e.community.as_deref())
                .filter_map(|c| self.location_of(c).and_then(|l| l.target.clone()))
                .collect();
            let mut group = self.function_group[function];
            match kind {
                Churn::Moved => {
                    // Another location that exists in the target; a few tries are plenty.
                    let n = self.locations.len();
                    let other = (0..8)
                        .map(|_| self.rng.below(n))
                        .filter_map(|l| self.locations[l].target.as_ref())
                        .find(|t| !communities.contains(t))
                        .cloned();
                    if let Some(other) = other {
                        communities = vec![other];
                        self.stats.moved += 1;
                    }
                }
                Churn::FunctionChanged if self.groups.len() > 1 => {
                    group = (group + 1 + self.rng.below(self.groups.len() - 1)) % self.groups.len();
                    self.stats.function_changed += 1;
                }
                Churn::LeftByEndDate => self.stats.leavers += 1,
                _ => {}
            }
            accounts.push(Account {
                id: String::new(),
                external_id: Some(person.id.clone()),
                email: person.email.clone(),
                first_name: person.first_name.clone(),
                last_name: person.last_name.clone(),
                managed: true,
                status: AccountStatus::Active,
                removed_at: None,
                communities,
                function_groups: vec![self.groups[group].1.clone()],
                protected: false,
            });
        }

        // People who are gone from the source: leavers still active, accounts removed earlier
        // (some longer ago than the retention), and a few already anonymized.
        let gone = people / 200 + usize::from(people >= 100);
        let removed = people / 200 + usize::from(people >= 100);
        let anonymized = people / 1000;
        for n in 0..gone + removed + anonymized {
            let id = next_id.to_string();
            next_id += 1;
            let (first_name, last_name, email) = self.name();
            let location = self.rng.below(self.locations.len());
            let group = self.rng.below(self.groups.len());
            let mut account = Account {
                external_id: Some(id),
                email: Some(email),
                first_name,
                last_name,
                managed: true,
                communities: self.locations[location].target.iter().cloned().collect(),
                function_groups: vec![self.groups[group].1.clone()],
                ..Account::default()
            };
            if n < gone {
                self.stats.leavers += 1;
            } else if n < gone + removed {
                let ago = self.rng.below(2 * RETENTION_DAYS as usize) as i64;
                account.status = AccountStatus::Removed;
                account.removed_at = Some(self.day(-ago));
                self.stats.removed += 1;
                self.stats.past_retention += usize::from(ago > RETENTION_DAYS);
            } else {
                account = Account {
                    external_id: account.external_id,
                    managed: true,
                    status: AccountStatus::Anonymized,
                    removed_at: Some(self.random_day(-RETENTION_DAYS - 1, 300, -1)),
                    ..Account::default()
                };
            }
            accounts.push(account);
        }

        // Accounts made by hand: an administrator (protected in the configuration), a shared
        // tablet and a support login.
        for (email, first, last) in [
            ("admin", "Workspace", "Admin"),
            ("frontdesk", "Front Desk", "Tablet"),
            ("support", "Vendor", "Support"),
        ] {
            self.stats.unmanaged += 1;
            accounts.push(Account {
                email: Some(format!("{email}@{MAIL_DOMAIN}")),
                first_name: first.to_owned(),
                last_name: last.to_owned(),
                communities: self.locations[0].target.iter().cloned().collect(),
                ..Account::default()
            });
        }

        // Accounts are listed in creation order, which has nothing to do with the source's.
        for i in (1..accounts.len()).rev() {
            let j = self.rng.below(i + 1);
            accounts.swap(i, j);
        }
        for (i, a) in accounts.iter_mut().enumerate() {
            a.id = format!("u-{}", i + 1);
        }

        let workspace = TargetSnapshot {
            accounts,
            communities: self.target_communities(),
            function_groups: self
                .groups
                .iter()
                .map(|(name, id)| TargetGroup {
                    id: id.clone(),
                    name: name.clone(),
                    source_ids: Vec::new(),
                    managed: false,
                })
                .collect(),
        };
        let source = self.source_snapshot(persons);
        self.stats.people = source.persons.len();
        self.stats.accounts = workspace.accounts.len();
        self.stats.communities = source.communities.len();
        self.stats.functions = source.functions.len();
        Generated {
            orgsync_yaml: self.orgsync_yaml(),
            communities_yaml: self.communities_yaml(),
            functions_yaml: self.functions_yaml(),
            source,
            workspace,
            stats: self.stats,
        }
    }

    fn location_of(&self, id: &str) -> Option<&Location> {
        let n: usize = id.parse().ok()?;
        self.locations.get(n.checked_sub(1001)?)
    }

    fn target_communities(&self) -> Vec<TargetGroup> {
        let mut out: Vec<TargetGroup> = self
            .locations
            .iter()
            .filter_map(|l| {
                let id = l.target.clone()?;
                let created = l.kind == LocationKind::Created;
                Some(TargetGroup {
                    id,
                    name: l.name.clone(),
                    source_ids: if created { vec![l.id.clone()] } else { vec![] },
                    managed: created,
                })
            })
            .collect();
        let next = out.len() + 1;
        out.push(TargetGroup {
            id: format!("c-{next}"),
            name: CLOSED_LOCATION.1.to_owned(),
            source_ids: vec![CLOSED_LOCATION.0.to_owned()],
            managed: true,
        });
        out.push(TargetGroup {
            id: format!("c-{}", next + 1),
            name: "Company News".to_owned(),
            source_ids: Vec::new(),
            managed: false,
        });
        out
    }

    /// The snapshot the `file` source reads back: groups that some person names, sorted by id.
    fn source_snapshot(&self, persons: Vec<Person>) -> SourceSnapshot {
        let used = &self.used;
        let group = |id: &str, name: &str| SourceGroup {
            id: id.to_owned(),
            name: name.to_owned(),
        };
        let mut communities: Vec<SourceGroup> = self
            .locations
            .iter()
            .zip(&used.locations)
            .filter(|(_, used)| **used)
            .map(|(l, _)| group(&l.id, &l.name))
            .collect();
        if used.test_location {
            communities.push(group(TEST_LOCATION.0, TEST_LOCATION.1));
        }
        communities.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        let mut functions: Vec<SourceGroup> = FUNCTIONS
            .iter()
            .zip(&used.functions)
            .filter(|(_, used)| **used)
            .map(|(f, _)| group(f.0, f.1))
            .collect();
        functions.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        let mut departments: Vec<SourceGroup> = DEPARTMENTS
            .iter()
            .zip(&used.departments)
            .filter(|(_, used)| **used)
            .map(|(d, _)| group(d.0, d.1))
            .collect();
        departments.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        SourceSnapshot {
            persons,
            communities,
            functions,
            departments,
            unlisted: Vec::new(),
            left: Vec::new(),
        }
    }

    fn orgsync_yaml(&self) -> String {
        format!(
            "\
# Generated by `orgsync sandbox generate` (seed {seed}, {people} people, as of {today}).
# Plan it with `orgsync plan --at {today}` to see the generated churn exactly.
version: 1
source:
  kind: file
  path: source.json   # orgsync's default column names: id, email, first_name, …
target:
  kind: file
  path: workspace.json
identity:
  match: [external_id, email]
  adopt_unmanaged: false
policy:
  timezone: Europe/Amsterdam
  invite_lead_days: 7
  retention_days: {RETENTION_DAYS}
  notify_transfers: true
  unmapped_communities: create
safety:
  max_removals: \"20%\"
  allow_community_removal: false
protected:
  - email: admin@{MAIL_DOMAIN}
test_locations: [\"Test*\", \"Temp*\"]
",
            seed = self.opts.seed,
            people = self.opts.people,
            today = self.opts.today,
        )
    }

    fn communities_yaml(&self) -> String {
        let mut out = String::from(
            "# Source locations mapped onto the communities made by hand in the app.\n\
             # Locations not listed here are created by orgsync (`unmapped_communities: create`).\n\
             communities:\n",
        );
        for l in &self.locations {
            if l.kind == LocationKind::Mapped {
                let _ = writeln!(
                    out,
                    "  - {{ source: {}, target: {} }}",
                    yaml_str(&l.id),
                    yaml_str(&l.name)
                );
            }
        }
        out
    }

    fn functions_yaml(&self) -> String {
        let mut out = format!(
            "# Source functions mapped onto function groups; the others land in {}.\n\
             functions:\n  from: function\n  unmapped: {{ fallback: {} }}\n  map:\n",
            yaml_str(FALLBACK_GROUP),
            yaml_str(FALLBACK_GROUP)
        );
        for (name, _) in &self.groups {
            if name == FALLBACK_GROUP {
                continue;
            }
            // Only the functions someone holds: the source lists no other, and a mapping that
            // names one it does not list is a `stale_mapping` warning on the first plan.
            let sources: Vec<String> = FUNCTIONS
                .iter()
                .zip(&self.used.functions)
                .filter(|(f, used)| **used && f.4 == Some(name.as_str()))
                .map(|(f, _)| yaml_str(f.0))
                .collect();
            if sources.is_empty() {
                continue;
            }
            let _ = writeln!(
                out,
                "    - {{ source: [{}], target: {} }}",
                sources.join(", "),
                yaml_str(name)
            );
        }
        out
    }
}

/// Appends a name part to an e-mail local part: lower case, ASCII letters only.
fn push_mail_part(out: &mut String, name: &str) {
    for c in name.chars() {
        match c {
            'a'..='z' | 'A'..='Z' => out.push(c.to_ascii_lowercase()),
            'ë' | 'é' => out.push('e'),
            'ü' => out.push('u'),
            _ => {}
        }
    }
}

/// A double-quoted YAML scalar.
fn yaml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use orgsync_connectors::file_source::FileSource;
    use orgsync_connectors::file_target::FileTarget;
    use orgsync_connectors::{Source, Target};
    use orgsync_core::config::{
        ConfigFile, FileSourceConfig, MaxRemovals, SourceConfig, TargetConfig,
    };

    #[test]
    fn a_seed_always_gives_the_same_organisation() {
        let a = generate(&GenerateOptions::new(2_000, 42));
        let b = generate(&GenerateOptions::new(2_000, 42));
        assert_eq!(a.source, b.source);
        assert_eq!(a.workspace, b.workspace);
        assert_eq!(a.orgsync_yaml, b.orgsync_yaml);
        assert_eq!(a.communities_yaml, b.communities_yaml);
        assert_eq!(a.functions_yaml, b.functions_yaml);
        assert_eq!(a.stats, b.stats);
        let c = generate(&GenerateOptions::new(2_000, 43));
        assert_ne!(a.source, c.source);
    }

    #[test]
    fn churn_is_roughly_as_documented() {
        let people = 20_000;
        let g = generate(&GenerateOptions::new(people, 7));
        let s = &g.stats;
        let pct = |n: usize| n as f64 * 100.0 / people as f64;
        assert_eq!(s.people, people);
        assert_eq!(g.source.persons.len(), people);
        assert!((1.6..2.4).contains(&pct(s.new_hires)), "{s:?}");
        assert!((0.8..1.2).contains(&pct(s.leavers)), "{s:?}");
        assert!((2.5..3.5).contains(&pct(s.moved)), "{s:?}");
        assert!((0.8..1.2).contains(&pct(s.function_changed)), "{s:?}");
        assert!((0.4..0.6).contains(&pct(s.removed)), "{s:?}");
        assert!(
            s.past_retention > 0 && s.past_retention < s.removed,
            "{s:?}"
        );
        assert!(s.unmanaged >= 3 && pct(s.unmanaged) < 0.5, "{s:?}");
        assert!(s.test_location_people > 0, "{s:?}");
        // About one location per 150 people (plus the test location), 40 functions.
        assert!((120..=134).contains(&s.communities), "{s:?}");
        assert_eq!(s.functions, 40);
        assert_eq!(s.accounts, g.workspace.accounts.len());

        let removed = g
            .workspace
            .accounts
            .iter()
            .filter(|a| a.status == AccountStatus::Removed)
            .count();
        assert_eq!(removed, s.removed);
        let managed_active = g
            .workspace
            .accounts
            .iter()
            .filter(|a| a.managed && a.status == AccountStatus::Active)
            .count();
        // Comfortably inside the 20% removal limit of the generated configuration.
        assert!(s.leavers * 100 < managed_active * 5, "{s:?}");
    }

    #[test]
    fn identifiers_and_addresses_are_unique() {
        let g = generate(&GenerateOptions::new(30_000, 3));
        let ids: HashSet<&str> = g.source.persons.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids.len(), g.source.persons.len());
        let mails: HashSet<&str> = g
            .source
            .persons
            .iter()
            .filter_map(|p| p.email.as_deref())
            .collect();
        assert_eq!(mails.len(), g.source.persons.len());
        let accounts: HashSet<&str> = g.workspace.accounts.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(accounts.len(), g.workspace.accounts.len());
        // Managers are people of the export.
        assert!(
            g.source
                .persons
                .iter()
                .filter_map(|p| p.manager.as_deref())
                .all(|m| ids.contains(m))
        );
    }

    #[test]
    fn configuration_files_parse_and_point_at_existing_groups() {
        let g = generate(&GenerateOptions::new(5_000, 1));
        let main: ConfigFile = serde_saphyr::from_str(&g.orgsync_yaml).unwrap();
        assert_eq!(main.version, Some(1));
        match main.source.unwrap() {
            SourceConfig::File(FileSourceConfig { path, .. }) => assert_eq!(path, "source.json"),
            other => panic!("{other:?}"),
        }
        match main.target.unwrap() {
            TargetConfig::File(f) => assert_eq!(f.path, "workspace.json"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            main.safety.unwrap().max_removals,
            MaxRemovals::Percent("20%".to_owned())
        );
        assert_eq!(main.test_locations.unwrap(), ["Test*", "Temp*"]);

        let communities: ConfigFile = serde_saphyr::from_str(&g.communities_yaml).unwrap();
        let communities = communities.communities.unwrap();
        let names: HashSet<&str> = g
            .workspace
            .communities
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert!(
            communities.len() * 10 >= 33 * 8,
            "most of the 33 locations are mapped"
        );
        assert!(
            communities
                .iter()
                .all(|m| names.contains(m.target.as_str()))
        );

        let functions: ConfigFile = serde_saphyr::from_str(&g.functions_yaml).unwrap();
        let functions = functions.functions.unwrap();
        let groups: HashSet<&str> = g
            .workspace
            .function_groups
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        assert!(groups.contains(FALLBACK_GROUP));
        assert!(
            functions
                .map
                .iter()
                .all(|m| groups.contains(m.target.as_str()))
        );
        let mapped: usize = functions
            .map
            .iter()
            .map(|m| m.source.as_slice().len())
            .sum();
        assert_eq!(mapped, 36);
    }

    /// What `write` puts on disk is what the file connectors read back.
    #[test]
    fn written_files_read_back_through_the_file_connectors() {
        let g = generate(&GenerateOptions::new(3_000, 9));
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &g).unwrap();
        let main: ConfigFile = serde_saphyr::from_str(
            &std::fs::read_to_string(dir.path().join("orgsync.yaml")).unwrap(),
        )
        .unwrap();
        let Some(SourceConfig::File(cfg)) = main.source else {
            panic!("a file source");
        };
        let source = FileSource::new(dir.path(), &cfg).fetch().unwrap();
        assert_eq!(source, g.source);
        let workspace = FileTarget::new(&dir.path().join("workspace.json"))
            .fetch()
            .unwrap();
        assert_eq!(workspace, g.workspace);
        let config = orgsync_repo::load_dir(dir.path())
            .unwrap_or_else(|e| panic!("the generated configuration is invalid: {e:?}"));
        let mapped = g
            .communities_yaml
            .lines()
            .filter(|l| l.starts_with("  - "))
            .count();
        assert_eq!(config.communities.len(), mapped);
    }

    #[test]
    fn tiny_organisations_work() {
        for people in [0, 1, 10] {
            let g = generate(&GenerateOptions::new(people, 5));
            assert_eq!(g.source.persons.len(), people);
            assert!(g.workspace.accounts.len() >= 3);
        }
    }
}
