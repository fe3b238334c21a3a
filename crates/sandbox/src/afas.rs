//! An AFAS Profit emulator (ProfitRestServices), faithful to the wire format in `vendor-apis.md`:
//! GetConnector paging (`skip`/`take`/`orderbyfieldids` with one field or several, comma-separated,
//! `-Field` descending; rows that tie come in another order on every request, as AFAS promises no
//! order among them; `-1/-1` for everything, 500 for an invalid combination; with
//! `--short-page-every N` every Nth page that has rows, the last one too, loses half of them;
//! with [`AfasFaults::cut_last_row`] the listing's last row is missing from every read), filters
//! as AFAS documents them (`filterfieldids`/`filtervalues`/`operatortypes`: `,` between the
//! conditions of a group, which must all hold, `;` between groups, of which one must; operators
//! 1–14; see `Filter`), `metainfo`, AfasToken auth, AFAS error bodies, and UpdateConnectors:
//! `HrCreateApplicant` (POST, 201 `{"results":{"HrCreateApplicant":{"CaId":"…"}}}` as in AFAS's
//! onboarding how-to; mandatory fields, a date and the gender code checked as its metainfo at
//! `/metainfo/update/HrCreateApplicant` says [I: the field codes are KnPerson's], a validation
//! error a 500 with the AFAS error body; no duplicate detection: the same person twice is two
//! applicants), the GetConnector `orgsync_applicants` listing the applicants created (for
//! orgsync's lookup after a lost answer), and `KnEmployee`, a simplification that edits
//! the GetConnector's rows so a demo can change the HR data: POST adds a row, PUT updates the
//! rows of `@EmId`, DELETE `/connectors/KnEmployee/EmId/{id}` removes them. Its `Fields` use the
//! GetConnector's field names (real KnEmployee fields differ).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::serve::{Faults, Gate, Vendor, error, guarded};
use orgsync_core::config::Columns;
use orgsync_core::model::{SourceGroup, SourceSnapshot};

/// The base path of the API.
pub const BASE_PATH: &str = "/ProfitRestServices";

/// What the emulator serves.
#[derive(Debug, Clone)]
pub struct AfasData {
    /// The GetConnector's id.
    pub connector: String,
    /// Its rows, one per employment.
    pub rows: Vec<Map<String, Value>>,
    /// Its field names, for metainfo.
    pub fields: Vec<String>,
    /// The identifier field (KnEmployee's key).
    pub key: String,
}

impl AfasData {
    /// The rows of `source` as an AFAS GetConnector with AFAS's common field names
    /// ([`Columns::afas`]): one row per employment, dates as `YYYY-MM-DDT00:00:00Z`, name
    /// prefixes (`van der`) in `Voorvoegsel`.
    pub fn from_snapshot(connector: &str, source: &SourceSnapshot) -> AfasData {
        let c = Columns::afas();
        let field = |f: &Option<String>| f.clone().expect("AFAS's defaults name every field");
        let prefix_column = field(&c.last_name_prefix);
        let name_of = |groups: &[SourceGroup], id: &str| {
            groups
                .iter()
                .find(|g| g.id == id)
                .map_or_else(|| id.to_owned(), |g| g.name.clone())
        };
        let date = |d: Option<jiff::civil::Date>| match d {
            Some(d) => json!(format!("{d}T00:00:00Z")),
            None => Value::Null,
        };
        let mut rows = Vec::with_capacity(source.persons.len());
        for p in &source.persons {
            let (prefix, last) = split_prefix(&p.last_name);
            // One row per employment, as AFAS's GetConnectors return them (ended ones too).
            for e in p.rows() {
                let mut row = Map::new();
                row.insert(c.id.clone(), json!(p.id));
                row.insert(c.email.clone(), json!(p.email));
                row.insert(c.first_name.clone(), json!(p.first_name));
                row.insert(prefix_column.clone(), json!(prefix));
                row.insert(c.last_name.clone(), json!(last));
                row.insert(c.start.clone(), date(e.start));
                row.insert(c.end.clone(), date(e.end));
                let community = e.community.as_deref();
                row.insert(c.community.clone(), json!(community));
                row.insert(
                    field(&c.community_name),
                    json!(community.map(|id| name_of(&source.communities, id))),
                );
                let function = e.function.as_deref();
                row.insert(field(&c.function), json!(function));
                row.insert(
                    field(&c.function_name),
                    json!(function.map(|id| name_of(&source.functions, id))),
                );
                let department = e.department.as_deref();
                row.insert(field(&c.department), json!(department));
                row.insert(
                    field(&c.department_name),
                    json!(department.map(|id| name_of(&source.departments, id))),
                );
                row.insert(field(&c.manager), json!(p.manager));
                rows.push(row);
            }
        }
        let fields = rows
            .first()
            .map(|r| r.keys().cloned().collect())
            .unwrap_or_default();
        AfasData {
            connector: connector.to_owned(),
            rows,
            fields,
            key: c.id,
        }
    }
}

/// `van der Berg` → (`van der`, `Berg`); names without a lowercase prefix are kept whole.
fn split_prefix(last_name: &str) -> (Option<&str>, &str) {
    match last_name.rfind(' ') {
        Some(i) if last_name.starts_with(|c: char| c.is_lowercase()) => {
            (Some(&last_name[..i]), &last_name[i + 1..])
        }
        _ => (None, last_name),
    }
}

struct Emulator {
    data: Mutex<AfasData>,
    /// Row order for the last `orderbyfieldids`, kept until the rows change: sorting 100k rows
    /// per page request would make the emulator, not the client, the bottleneck.
    sorted: Mutex<Option<Arc<Sorted>>>,
    /// GetConnector reads so far: each orders tied rows its own way.
    reads: AtomicU64,
    applicants: Applicants,
    afas: AfasFaults,
    gate: Arc<Gate>,
}

/// Faults of the AFAS emulator alone, besides the shared [`Faults`].
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct AfasFaults {
    /// Leave the last row of the GetConnector's listing out of every unfiltered read: the last
    /// page comes back one row short on every read (AFAS sends no totals, so nothing in the
    /// answers shows it), unlike `--short-page-every`, which a read of the page again undoes.
    /// Filtered reads (a person asked for by employee number) are whole.
    #[arg(long)]
    pub cut_last_row: bool,
}

/// The applicants the emulator created (each the `Fields` posted plus `CaId`), shared with a test.
pub type Applicants = Arc<Mutex<Vec<Value>>>;

/// The GetConnector that lists the applicants created.
pub const APPLICANTS_CONNECTOR: &str = "orgsync_applicants";

/// `HrCreateApplicant`'s fields as the emulator's metainfo describes them: (id, label, data
/// type, mandatory) [I].
pub const APPLICANT_FIELDS: [(&str, &str, &str, bool); 15] = [
    ("VcSn", "Volgnummer vacature", "int", false),
    ("FiNm", "Voornaam", "string", true),
    ("Is", "Voorvoegsel", "string", false),
    ("LaNm", "Achternaam", "string", true),
    ("DaBi", "Geboortedatum", "date", false),
    ("ViGe", "Geslacht", "string", false),
    ("EmAd", "E-mail", "string", true),
    ("TeNr", "Telefoonnummer", "string", false),
    ("Ad", "Straat", "string", false),
    ("HmNr", "Huisnummer", "string", false),
    ("HmAd", "Toevoeging aan huisnummer", "string", false),
    ("ZpCd", "Postcode", "string", false),
    ("Rs", "Woonplaats", "string", false),
    ("CoId", "Land", "string", false),
    ("Rm", "Opmerking", "string", false),
];

/// The rows in the order an `orderbyfieldids` asks for: by each comma-separated field in turn
/// (`-Field` descending), compared as text. Rows that tie on every field have no order of their
/// own, as in AFAS (an SQL `ORDER BY` with `OFFSET`): each request puts them in another order,
/// so paging by a key that is not unique per row can skip or repeat rows, as it does there.
struct Sorted {
    order: String,
    rows: Arc<Vec<usize>>,
    /// `(start, end)` of each run of two or more tied rows in `rows`.
    ties: Vec<(usize, usize)>,
}

impl Sorted {
    fn new(rows: &[Map<String, Value>], order: &str) -> Sorted {
        let fields: Vec<(&str, bool)> = order
            .split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(|f| match f.strip_prefix('-') {
                Some(f) => (f, true),
                None => (f, false),
            })
            .collect();
        let keys: Vec<Vec<String>> = rows
            .iter()
            .map(|r| fields.iter().map(|(f, _)| text(r.get(*f))).collect())
            .collect();
        let compare = |a: usize, b: usize| {
            fields
                .iter()
                .enumerate()
                .map(|(i, (_, desc))| {
                    let o = keys[a][i].cmp(&keys[b][i]);
                    if *desc { o.reverse() } else { o }
                })
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        };
        let mut order_rows: Vec<usize> = (0..rows.len()).collect();
        order_rows.sort_by(|&a, &b| compare(a, b));
        let mut ties = Vec::new();
        let mut start = 0;
        for i in 1..=order_rows.len() {
            if i == order_rows.len() || compare(order_rows[start], order_rows[i]).is_ne() {
                if i - start > 1 {
                    ties.push((start, i));
                }
                start = i;
            }
        }
        Sorted {
            order: order.to_owned(),
            rows: Arc::new(order_rows),
            ties,
        }
    }

    /// The order for request number `read`: tied rows shuffled with it as the seed.
    fn for_one_request(&self, read: u64) -> Arc<Vec<usize>> {
        if self.ties.is_empty() {
            return Arc::clone(&self.rows);
        }
        let mut rows = (*self.rows).clone();
        let mut state = read.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5DEE_CE66_D1CE_4E5B;
        let mut next = move || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        for &(start, end) in &self.ties {
            // Fisher–Yates within the run.
            for i in (start + 1..end).rev() {
                let j = start + (next() % (i - start + 1) as u64) as usize;
                rows.swap(i, j);
            }
        }
        Arc::new(rows)
    }
}

/// The `Authorization` header AFAS expects for `token` (AFAS's REST documentation: `AfasToken `
/// and the base64 of `<token><version>1</version><data>…</data></token>`). A token given as that
/// XML, or already as its base64, is taken as it is.
pub fn authorization(token: &str) -> String {
    use base64::Engine;
    let token = token.trim();
    let engine = base64::engine::general_purpose::STANDARD;
    if engine
        .decode(token)
        .is_ok_and(|xml| xml.starts_with(b"<token>"))
    {
        return format!("AfasToken {token}");
    }
    let xml = if token.starts_with("<token>") {
        token.to_owned()
    } else {
        format!("<token><version>1</version><data>{token}</data></token>")
    };
    format!("AfasToken {}", engine.encode(xml))
}

/// The emulator's routes under [`BASE_PATH`], accepting `token` (as the `AfasToken` header
/// orgsync sends for it).
pub fn router(data: AfasData, token: &str, faults: Faults) -> Router {
    router_with_applicants(data, token, faults, Applicants::default())
}

/// [`router`] with the AFAS emulator's own faults too.
pub fn router_with_faults(data: AfasData, token: &str, faults: Faults, afas: AfasFaults) -> Router {
    build(data, token, faults, Applicants::default(), afas)
}

/// [`router`], creating applicants into `applicants` (which a test reads).
pub fn router_with_applicants(
    data: AfasData,
    token: &str,
    faults: Faults,
    applicants: Applicants,
) -> Router {
    build(data, token, faults, applicants, AfasFaults::default())
}

fn build(
    data: AfasData,
    token: &str,
    faults: Faults,
    applicants: Applicants,
    afas: AfasFaults,
) -> Router {
    let gate = Arc::new(Gate::new(Vendor::Afas, authorization(token), faults));
    let state = Arc::new(Emulator {
        data: Mutex::new(data),
        sorted: Mutex::new(None),
        reads: AtomicU64::new(0),
        applicants,
        afas,
        gate: Arc::clone(&gate),
    });
    let api = Router::new()
        .route(
            "/connectors/{id}",
            get(get_connector).post(post_update).put(put_update),
        )
        .route(
            "/connectors/{id}/{field}/{value}",
            axum::routing::delete(delete_update),
        )
        .route("/metainfo", get(metainfo))
        .route("/metainfo/get/{id}", get(metainfo_get))
        .route("/metainfo/update/{id}", get(metainfo_update))
        .with_state(state);
    Router::new().nest(BASE_PATH, guarded(api, gate))
}

type Shared = State<Arc<Emulator>>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// A GetConnector filter as AFAS's REST documentation describes it: `filterfieldids`,
/// `filtervalues` and `operatortypes` hold one entry per condition at the same positions; `,`
/// joins the conditions of a group (all must hold) and `;` joins groups (one must hold), so
/// `filterfieldids=Nr;Nr&filtervalues=1;2&operatortypes=1;1` asks for employee 1 or 2. Without
/// `operatortypes` every condition is `=`. Operators: 1 `=`, 2 `>=`, 3 `<=`, 4 `>`, 5 `<`, 6
/// contains (`%text%`), 7 `!=`, 8 empty, 9 not empty, 10 starts with, 11 does not contain, 12
/// does not start with, 13 ends with, 14 does not end with. Values compare as Profit's SQL
/// database does [I]: text without regard to case, numbers as numbers, and a date in any of
/// the forms AFAS writes (`2024-01-01`, `2024-01-01T00:00:00`, with or without `Z`) as that
/// date and time.
#[derive(Debug)]
struct Filter {
    groups: Vec<Vec<Condition>>,
}

/// One condition of a filter, its value made comparable once.
#[derive(Debug)]
struct Condition {
    field: String,
    op: u8,
    /// The value as sent.
    value: String,
    /// `comparable` of the value.
    cmp: String,
    /// `comparable` of the value without the `%` around it (contains, starts with, …).
    pattern: String,
}

impl Condition {
    fn new(field: &str, op: u8, value: &str) -> Condition {
        Condition {
            field: field.to_owned(),
            op,
            value: value.to_owned(),
            cmp: comparable(value),
            pattern: comparable(value.trim_matches('%')),
        }
    }

    /// Whether a field whose `comparable` value is `a` passes.
    fn holds(&self, a: &str) -> bool {
        let (b, pattern) = (self.cmp.as_str(), self.pattern.as_str());
        match self.op {
            1 => a == b,
            2 => compare(a, b).is_ge(),
            3 => compare(a, b).is_le(),
            4 => compare(a, b).is_gt(),
            5 => compare(a, b).is_lt(),
            6 => a.contains(pattern),
            // `%text%` is "does not contain", a plain value "is not equal" (AFAS's help).
            7 if self.value.starts_with('%') && self.value.ends_with('%') => !a.contains(pattern),
            7 => a != b,
            8 => a.is_empty(),
            9 => !a.is_empty(),
            10 => a.starts_with(pattern),
            11 => !a.contains(pattern),
            12 => !a.starts_with(pattern),
            13 => a.ends_with(pattern),
            14 => !a.ends_with(pattern),
            _ => false,
        }
    }
}

impl Filter {
    /// The filter of a request, `None` without one; an error message (a 500, as AFAS answers)
    /// when it does not add up or names a field the GetConnector lacks.
    fn parse(
        q: &std::collections::HashMap<String, String>,
        fields: &[String],
    ) -> Result<Option<Filter>, String> {
        let Some(ids) = q.get("filterfieldids").filter(|f| !f.is_empty()) else {
            return Ok(None);
        };
        let split = |s: &str| -> Vec<Vec<String>> {
            s.split(';')
                .map(|g| g.split(',').map(str::to_owned).collect())
                .collect()
        };
        let ids = split(ids);
        let values = split(q.get("filtervalues").map_or("", String::as_str));
        let operators = q.get("operatortypes").map(|o| split(o));
        let shape = |g: &[Vec<String>]| g.iter().map(Vec::len).collect::<Vec<_>>();
        if shape(&values) != shape(&ids)
            || operators.as_ref().is_some_and(|o| shape(o) != shape(&ids))
        {
            return Err(
                "Het aantal filtervelden, filterwaarden en operatoren komt niet overeen".to_owned(),
            );
        }
        let mut groups = Vec::new();
        for (g, group) in ids.iter().enumerate() {
            let mut conditions = Vec::new();
            for (c, field) in group.iter().enumerate() {
                if !fields.iter().any(|f| f == field) {
                    return Err(format!("Het filterveld '{field}' bestaat niet"));
                }
                let op = match &operators {
                    Some(o) => match o[g][c].trim().parse::<u8>() {
                        Ok(op @ 1..=14) => op,
                        _ => return Err(format!("Ongeldig operatortype '{}'", o[g][c])),
                    },
                    None => 1,
                };
                conditions.push(Condition::new(field, op, &values[g][c]));
            }
            groups.push(conditions);
        }
        Ok(Some(Filter { groups }))
    }

    /// Which of `rows` pass. Each field's values are made comparable once, and groups that are
    /// one `=` (a person asked for by number) are answered from a set: a lookup ORs dozens of
    /// them, over every row.
    fn select(&self, rows: &[&Map<String, Value>]) -> Vec<bool> {
        let mut values: HashMap<&str, Vec<String>> = HashMap::new();
        for c in self.groups.iter().flatten() {
            values.entry(c.field.as_str()).or_insert_with(|| {
                rows.iter()
                    .map(|r| comparable(&text(r.get(&c.field))))
                    .collect()
            });
        }
        let mut equal: HashMap<&str, HashSet<&str>> = HashMap::new();
        let mut others: Vec<&[Condition]> = Vec::new();
        for group in &self.groups {
            match group.as_slice() {
                [c] if c.op == 1 => {
                    equal
                        .entry(c.field.as_str())
                        .or_default()
                        .insert(c.cmp.as_str());
                }
                _ => others.push(group),
            }
        }
        (0..rows.len())
            .map(|i| {
                equal
                    .iter()
                    .any(|(f, set)| set.contains(values[f][i].as_str()))
                    || others
                        .iter()
                        .any(|group| group.iter().all(|c| c.holds(&values[c.field.as_str()][i])))
            })
            .collect()
    }
}

/// A value as the database compares it: a date or date-time as `YYYY-MM-DDTHH:MM:SS`
/// (`2024-01-01`, `2024-01-01T00:00:00Z` and `2024-01-01T00:00:00` are one value), a number
/// written the one way (`0100` is `100`), other text in lower case, all trimmed.
fn comparable(value: &str) -> String {
    let v = value.trim();
    let b = v.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let is_date = digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(7) == Some(&b'-')
        && digits(8..10);
    if is_date {
        match v.len() {
            10 => return format!("{v}T00:00:00"),
            19 | 20 if b[10] == b'T' => return v[..19].to_owned(),
            _ => {}
        }
    }
    match v.parse::<f64>() {
        Ok(n) if n.is_finite() => n.to_string(),
        _ => v.to_lowercase(),
    }
}

/// Numbers as numbers, anything else as text.
fn compare(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
        _ => a.cmp(b),
    }
}

async fn get_connector(
    State(emu): Shared,
    Path(id): Path<String>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    if id.eq_ignore_ascii_case(APPLICANTS_CONNECTOR) {
        return applicants_connector(&emu, &q);
    }
    let data = lock(&emu.data);
    if !id.eq_ignore_ascii_case(&data.connector) {
        // A 500, as AFAS answers it (not a 404).
        return error(
            Vendor::Afas,
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("GetConnector {id} bestaat niet"),
        );
    }
    let num = |k: &str, d: i64| q.get(k).and_then(|v| v.parse::<i64>().ok()).unwrap_or(d);
    let (skip, take) = (num("skip", 0), num("take", 100));
    if (skip == -1) != (take == -1) || skip < -1 || take < -1 {
        return error(
            Vendor::Afas,
            StatusCode::INTERNAL_SERVER_ERROR,
            "Ongeldige combinatie van skip en take",
        );
    }
    let order: Arc<Vec<usize>> = match q.get("orderbyfieldids") {
        Some(order) => {
            let sorted = {
                let mut cache = lock(&emu.sorted);
                match &*cache {
                    Some(s) if s.order == *order => Arc::clone(s),
                    _ => {
                        let s = Arc::new(Sorted::new(&data.rows, order));
                        *cache = Some(Arc::clone(&s));
                        s
                    }
                }
            };
            sorted.for_one_request(emu.reads.fetch_add(1, Ordering::Relaxed))
        }
        None => Arc::new((0..data.rows.len()).collect()),
    };
    let mut rows: Vec<&Map<String, Value>> = order.iter().map(|&i| &data.rows[i]).collect();
    match Filter::parse(&q, &data.fields) {
        Ok(Some(filter)) => {
            let mut keep = filter.select(&rows).into_iter();
            rows.retain(|_| keep.next().unwrap_or(false));
        }
        // The listing itself: with the persistent cut, its last row is never sent.
        Ok(None) if emu.afas.cut_last_row => {
            rows.pop();
        }
        Ok(None) => {}
        Err(message) => {
            return error(Vendor::Afas, StatusCode::INTERNAL_SERVER_ERROR, &message);
        }
    }
    let page: Vec<&Map<String, Value>> = if skip == -1 {
        rows
    } else {
        rows.into_iter()
            .skip(skip as usize)
            .take(take as usize)
            .collect()
    };
    let mut page: Vec<Value> = page.into_iter().map(|r| Value::Object(r.clone())).collect();
    if !page.is_empty() && emu.gate.cut_this_page() {
        page.truncate(page.len() / 2);
    }
    axum::Json(json!({ "skip": skip, "take": take, "rows": page })).into_response()
}

/// The applicants as GetConnector rows: `Sollicitant` (the CaId), `Email`, `Voornaam`,
/// `Achternaam`; `=` filters and skip/take.
fn applicants_connector(emu: &Emulator, q: &std::collections::HashMap<String, String>) -> Response {
    let applicants = lock(&emu.applicants);
    let mut rows: Vec<Value> = applicants
        .iter()
        .map(|a| {
            json!({
                "Sollicitant": a["CaId"],
                "Email": a["EmAd"],
                "Voornaam": a["FiNm"],
                "Achternaam": a["LaNm"],
            })
        })
        .collect();
    if let (Some(fields), Some(values)) = (q.get("filterfieldids"), q.get("filtervalues")) {
        for (f, v) in fields.split(',').zip(values.split(',')) {
            rows.retain(|r| text(r.get(f)) == v);
        }
    }
    let num = |k: &str, d: usize| q.get(k).and_then(|v| v.parse::<usize>().ok()).unwrap_or(d);
    let page: Vec<Value> = rows
        .into_iter()
        .skip(num("skip", 0))
        .take(num("take", 100))
        .collect();
    axum::Json(json!({ "skip": num("skip", 0), "take": num("take", 100), "rows": page }))
        .into_response()
}

async fn metainfo_update(Path(id): Path<String>) -> Response {
    if id != "HrCreateApplicant" {
        return unknown_update(&id);
    }
    let fields: Vec<Value> = APPLICANT_FIELDS
        .iter()
        .map(|(f, label, data_type, mandatory)| {
            json!({ "fieldId": f, "primaryKey": false, "dataType": data_type, "label": label,
                    "mandatory": mandatory, "length": 255, "controlType": 1, "decimals": 0,
                    "decimalsFieldId": "", "notZero": false })
        })
        .collect();
    axum::Json(json!({ "name": id, "description": "Sollicitant", "fields": fields, "objects": [] }))
        .into_response()
}

/// Why AFAS would refuse these applicant fields, as its message would say it.
fn invalid_applicant(fields: &Map<String, Value>) -> Option<String> {
    for (f, v) in fields {
        let Some(def) = APPLICANT_FIELDS.iter().find(|d| d.0 == f) else {
            return Some(format!("Het veld '{f}' bestaat niet in HrCreateApplicant"));
        };
        let v = text(Some(v));
        if def.2 == "date"
            && jiff::civil::Date::strptime("%Y-%m-%d", v.get(..10).unwrap_or(&v)).is_err()
        {
            return Some(format!("Ongeldige datum '{v}' in veld {} ({})", def.1, f));
        }
        if def.2 == "int" && v.trim().parse::<i64>().is_err() {
            return Some(format!("Ongeldige waarde '{v}' in veld {} ({})", def.1, f));
        }
        if f == "ViGe" && !["M", "V", "O", "X"].contains(&v.as_str()) {
            return Some(format!("Ongeldige waarde '{v}' in veld Geslacht (ViGe)"));
        }
    }
    APPLICANT_FIELDS
        .iter()
        .find(|d| {
            d.3 && fields
                .get(d.0)
                .is_none_or(|v| text(Some(v)).trim().is_empty())
        })
        .map(|d| format!("Het veld {} ({}) is verplicht", d.1, d.0))
}

async fn metainfo(State(emu): Shared) -> Response {
    let data = lock(&emu.data);
    axum::Json(json!({
        "getConnectors": [
            { "id": data.connector, "description": "orgsync sandbox employees" },
            { "id": APPLICANTS_CONNECTOR, "description": "orgsync sandbox applicants" }
        ],
        "updateConnectors": [
            { "id": "KnEmployee", "description": "Medewerker" },
            { "id": "HrCreateApplicant", "description": "Sollicitant" }
        ],
    }))
    .into_response()
}

async fn metainfo_get(State(emu): Shared, Path(id): Path<String>) -> Response {
    if id.eq_ignore_ascii_case(APPLICANTS_CONNECTOR) {
        let fields: Vec<Value> = ["Sollicitant", "Email", "Voornaam", "Achternaam"]
            .iter()
            .map(|f| json!({ "id": f, "fieldId": f, "dataType": "string", "label": f, "length": 255 }))
            .collect();
        return axum::Json(
            json!({ "name": id, "description": "orgsync sandbox applicants", "fields": fields }),
        )
        .into_response();
    }
    let data = lock(&emu.data);
    if !id.eq_ignore_ascii_case(&data.connector) {
        return error(
            Vendor::Afas,
            StatusCode::NOT_FOUND,
            &format!("GetConnector {id} bestaat niet"),
        );
    }
    let fields: Vec<Value> = data
        .fields
        .iter()
        .map(|f| {
            json!({ "id": f, "fieldId": f, "dataType": "string", "label": f, "length": 255,
                    "controlType": 1, "decimals": 0, "decimalsFieldId": "" })
        })
        .collect();
    axum::Json(
        json!({ "name": data.connector, "description": "orgsync sandbox employees",
                       "fields": fields }),
    )
    .into_response()
}

/// The `Element` of an UpdateConnector body.
fn element<'b>(body: &'b Value, connector: &str) -> Option<&'b Value> {
    body.get(connector).and_then(|c| c.get("Element"))
}

async fn post_update(
    State(emu): Shared,
    Path(id): Path<String>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    match id.as_str() {
        "HrCreateApplicant" => {
            let Some(el) = element(&body, &id) else {
                return bad_body(&id);
            };
            let fields = match el.get("Fields") {
                Some(Value::Object(f)) => f.clone(),
                _ => Map::new(),
            };
            if let Some(why) = invalid_applicant(&fields) {
                return error(Vendor::Afas, StatusCode::INTERNAL_SERVER_ERROR, &why);
            }
            // No duplicate detection, as in AFAS: the same person twice is two applicants.
            let mut applicants = lock(&emu.applicants);
            let key = (applicants.len() + 64).to_string();
            let mut created = fields;
            created.insert("CaId".to_owned(), json!(key));
            applicants.push(Value::Object(created));
            (
                StatusCode::CREATED,
                axum::Json(json!({ "results": { "HrCreateApplicant": { "CaId": key } } })),
            )
                .into_response()
        }
        "KnEmployee" => {
            let Some(el) = element(&body, &id) else {
                return bad_body(&id);
            };
            let mut data = lock(&emu.data);
            let key = data.key.clone();
            let mut row = Map::new();
            for f in &data.fields {
                row.insert(f.clone(), Value::Null);
            }
            if let Some(Value::Object(fields)) = el.get("Fields") {
                row.extend(fields.clone());
            }
            if let Some(k) = el.get("@EmId") {
                row.insert(key.clone(), k.clone());
            }
            if text(row.get(&key)).is_empty() {
                return error(
                    Vendor::Afas,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Medewerker is verplicht",
                );
            }
            let emid = text(row.get(&key));
            data.rows.push(row);
            *lock(&emu.sorted) = None;
            (
                StatusCode::CREATED,
                axum::Json(json!({ "results": { "KnEmployee": { "EmId": emid } } })),
            )
                .into_response()
        }
        _ => unknown_update(&id),
    }
}

async fn put_update(
    State(emu): Shared,
    Path(id): Path<String>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if id != "KnEmployee" {
        return unknown_update(&id);
    }
    let Some(el) = element(&body, &id) else {
        return bad_body(&id);
    };
    let emid = text(el.get("@EmId"));
    let mut data = lock(&emu.data);
    let key = data.key.clone();
    let mut found = false;
    for row in data.rows.iter_mut().filter(|r| text(r.get(&key)) == emid) {
        found = true;
        if let Some(Value::Object(fields)) = el.get("Fields") {
            row.extend(fields.clone());
        }
    }
    *lock(&emu.sorted) = None;
    if !found {
        return error(
            Vendor::Afas,
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("Medewerker {emid} bestaat niet"),
        );
    }
    StatusCode::OK.into_response()
}

async fn delete_update(
    State(emu): Shared,
    Path((id, _field, value)): Path<(String, String, String)>,
) -> Response {
    if id != "KnEmployee" {
        return unknown_update(&id);
    }
    let mut data = lock(&emu.data);
    let key = data.key.clone();
    let before = data.rows.len();
    data.rows.retain(|r| text(r.get(&key)) != value);
    *lock(&emu.sorted) = None;
    if data.rows.len() == before {
        return error(
            Vendor::Afas,
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("Medewerker {value} bestaat niet"),
        );
    }
    StatusCode::OK.into_response()
}

fn bad_body(id: &str) -> Response {
    error(
        Vendor::Afas,
        StatusCode::INTERNAL_SERVER_ERROR,
        &format!("the body has no {id}.Element"),
    )
}

fn unknown_update(id: &str) -> Response {
    error(
        Vendor::Afas,
        StatusCode::NOT_FOUND,
        &format!("UpdateConnector {id} bestaat niet"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_ordered_by_each_field_in_turn_and_ties_have_no_order() {
        let rows: Vec<Map<String, Value>> = [("2", "b"), ("1", "b"), ("1", "a"), ("1", "a")]
            .iter()
            .map(|(id, start)| {
                let Value::Object(m) = json!({ "Nr": id, "Start": start }) else {
                    unreachable!()
                };
                m
            })
            .collect();
        let sorted = Sorted::new(&rows, "Nr,-Start");
        assert_eq!(*sorted.for_one_request(0), [1, 2, 3, 0]);
        // Rows 2 and 3 tie on both fields: requests disagree on their order.
        assert_eq!(sorted.ties, [(1, 3)]);
        let orders: std::collections::BTreeSet<Vec<usize>> = (0..16)
            .map(|r| (*sorted.for_one_request(r)).clone())
            .collect();
        assert_eq!(orders.len(), 2, "{orders:?}");
        assert!(Sorted::new(&rows, "Nr,Start,Start").ties.len() == 1);
    }

    #[test]
    fn filters_join_conditions_with_commas_and_groups_with_semicolons() {
        let row = |nr: &str, start: &str, unit: Value| {
            let Value::Object(m) = json!({ "Nr": nr, "Start": start, "Unit": unit }) else {
                unreachable!()
            };
            m
        };
        let rows = [
            row("100", "2024-01-01T00:00:00Z", json!("1001")),
            row("100", "2024-03-01T00:00:00Z", json!("1002")),
            row("200", "2024-01-01T00:00:00Z", Value::Null),
            row("A,B", "2024-01-01T00:00:00Z", json!("Keuken")),
        ];
        let fields: Vec<String> = ["Nr", "Start", "Unit"].map(String::from).to_vec();
        let pick = |query: &[(&str, &str)]| -> Result<Vec<usize>, String> {
            let q = query
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            let filter = Filter::parse(&q, &fields)?.expect("a filter");
            let rows: Vec<&Map<String, Value>> = rows.iter().collect();
            let keep = filter.select(&rows);
            Ok((0..rows.len()).filter(|&i| keep[i]).collect())
        };
        // A date matches in each form AFAS writes it; `,` is AND.
        assert_eq!(
            pick(&[
                ("filterfieldids", "Nr,Start"),
                ("filtervalues", "100,2024-01-01T00:00:00"),
                ("operatortypes", "1,1"),
            ]),
            Ok(vec![0])
        );
        assert_eq!(
            pick(&[("filterfieldids", "Start"), ("filtervalues", "2024-03-01")]),
            Ok(vec![1])
        );
        // `;` is OR; without operatortypes every condition is `=`.
        assert_eq!(
            pick(&[("filterfieldids", "Nr;Nr"), ("filtervalues", "200;100")]),
            Ok(vec![0, 1, 2])
        );
        // Empty, contains, starts with, does not contain, and `%text%` with 7.
        let op = |op: &str, value: &str| {
            pick(&[
                ("filterfieldids", "Unit"),
                ("filtervalues", value),
                ("operatortypes", op),
            ])
        };
        assert_eq!(op("8", ""), Ok(vec![2]));
        assert_eq!(op("9", ""), Ok(vec![0, 1, 3]));
        assert_eq!(op("6", "%keu%"), Ok(vec![3]));
        assert_eq!(op("10", "100"), Ok(vec![0, 1]));
        assert_eq!(op("7", "%100%"), Ok(vec![2, 3]));
        assert_eq!(op("2", "1002"), Ok(vec![1, 3]));
        assert_eq!(op("14", "2"), Ok(vec![0, 2, 3]));
        // A value with a separator cannot be asked for with `=`: a contains on a part of it
        // finds it among others.
        assert_eq!(
            pick(&[
                ("filterfieldids", "Nr"),
                ("filtervalues", "%B%"),
                ("operatortypes", "6")
            ]),
            Ok(vec![3])
        );
        // What does not add up is a 500 with AFAS's words.
        assert!(
            pick(&[("filterfieldids", "Nr,Start"), ("filtervalues", "100")])
                .unwrap_err()
                .contains("komt niet overeen")
        );
        assert!(
            pick(&[("filterfieldids", "Naam"), ("filtervalues", "x")])
                .unwrap_err()
                .contains("bestaat niet")
        );
        assert!(op("15", "x").unwrap_err().contains("operatortype"));
    }

    #[test]
    fn name_prefixes_are_split_off() {
        assert_eq!(split_prefix("van der Berg"), (Some("van der"), "Berg"));
        assert_eq!(split_prefix("El Amrani"), (None, "El Amrani"));
        assert_eq!(split_prefix("Jansen"), (None, "Jansen"));
    }
}
