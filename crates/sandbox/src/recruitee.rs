//! A Recruitee emulator, faithful to the wire format in `vendor-apis.md` and to answers captured
//! in public client code: `GET /c/{company}/candidates` (`limit`/`offset`; without them every
//! candidate) wrapped as `{"candidates","generated_at","references"}`, placements that carry only
//! a `stage_id` resolved through `references` (`type: "Stage"` with `category`, `type: "Offer"`
//! with `title`), `hired_at` on hired placements, and `GET /c/{company}/candidates/{id}` whose
//! `candidate.fields` hold the profile fields (birth date, gender, address) that the list does
//! not. Candidates are ordered by `created_at`, newest first, and candidates imported in one
//! batch share it: such ties come in another order on every request (no order is promised among
//! them), so paging can repeat or skip them as a real server's can. Bearer token; the shared
//! [`Faults`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::civil::Date;
use serde_json::{Value, json};

use super::serve::{Faults, Gate, Vendor, error, guarded};

/// The hired stage's id in the emulator's pipeline.
pub const HIRED_STAGE: u64 = 8_080_464;
/// The offer stage's id.
pub const OFFER_STAGE: u64 = 8_080_463;

/// What the emulator serves. Tests change it while the emulator runs (hire someone, edit a
/// field) through the shared handle of [`RecruiteeData::shared`].
#[derive(Debug, Clone)]
pub struct RecruiteeData {
    /// The company id in the path.
    pub company_id: String,
    /// Jobs: (offer id, title).
    pub jobs: Vec<(u64, String)>,
    /// Stages: (id, name, category).
    pub stages: Vec<(u64, String, String)>,
    /// Candidates in their detail form (with `fields`); the list leaves `fields` out.
    pub candidates: Vec<Value>,
}

/// A handle on the data that the running emulator reads.
pub type SharedData = Arc<Mutex<RecruiteeData>>;

const FIRST: [&str; 16] = [
    "Anna", "Daan", "Emma", "Sem", "Julia", "Lucas", "Sophie", "Noah", "Fleur", "Milan", "Sara",
    "Levi", "Lotte", "Finn", "Noor", "Jesse",
];
const LAST: [&str; 16] = [
    "de Vries",
    "Jansen",
    "van den Berg",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "de Boer",
    "Mulder",
    "de Groot",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "van Leeuwen",
    "Dekker",
];
const CITIES: [&str; 6] = [
    "Amsterdam",
    "Utrecht",
    "Rotterdam",
    "Den Haag",
    "Eindhoven",
    "Zwolle",
];

/// SplitMix64.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// A profile field as the detail answer carries it [I].
pub fn profile_field(name: &str, kind: &str, value: &str) -> Value {
    let v = if kind == "date" {
        json!({ "date": value })
    } else {
        json!({ "text": value })
    };
    json!({ "id": null, "kind": kind, "name": name, "fixed": false, "values": [v],
            "visible": true, "origin": "manual" })
}

impl RecruiteeData {
    /// `people` candidates (seeded), about a third of them hired in the `Hired` stage over the
    /// 60 days before `today`; the others in earlier stages. Candidates come in import batches
    /// that share a `created_at`.
    pub fn generate(people: usize, seed: u64, today: Date) -> RecruiteeData {
        let mut dice = Dice(seed ^ 0x5EED);
        let jobs = vec![
            (1_192_594, "Barista".to_owned()),
            (1_192_595, "Shift lead".to_owned()),
            (1_192_596, "Host".to_owned()),
        ];
        let stages = vec![
            (8_080_459, "Applied".to_owned(), "apply".to_owned()),
            (
                8_080_461,
                "On-site interview".to_owned(),
                "interview".to_owned(),
            ),
            (OFFER_STAGE, "Offer".to_owned(), "offer".to_owned()),
            (HIRED_STAGE, "Hired".to_owned(), "hire".to_owned()),
        ];
        let mut candidates = Vec::with_capacity(people);
        for i in 0..people {
            let id = 46_000_000 + i as u64;
            let first = FIRST[dice.below(16) as usize];
            let last = LAST[dice.below(16) as usize];
            let name = format!("{first} {last}");
            let email = format!(
                "{}.{}.{id}@example.com",
                first.to_lowercase(),
                last.replace(' ', "").to_lowercase()
            );
            // Import batches of up to 7 share a created_at (to the microsecond).
            let batch = i / (1 + (seed as usize % 7));
            let created = today
                .checked_sub(jiff::Span::new().days(90 - (batch % 80) as i64))
                .unwrap_or(today);
            let created_at = format!("{created}T09:00:00.000000Z");
            let job = jobs[dice.below(3) as usize].0;
            let hired = dice.below(3) == 0;
            let stage = if hired {
                HIRED_STAGE
            } else {
                stages[dice.below(3) as usize].0
            };
            let hired_at = hired.then(|| {
                let day = today
                    .checked_sub(jiff::Span::new().days(dice.below(60) as i64))
                    .unwrap_or(today);
                format!("{day}T11:22:49.178555Z")
            });
            let mut placements = vec![placement(id, id * 2, job, stage, hired_at.as_deref())];
            if dice.below(5) == 0 {
                // A second application, for another job, still open.
                let other = jobs.iter().map(|j| j.0).find(|j| *j != job).unwrap_or(job);
                placements.push(placement(id, id * 2 + 1, other, 8_080_459, None));
            }
            let birth = format!(
                "{}-{:02}-{:02}",
                1970 + dice.below(35),
                1 + dice.below(12),
                1 + dice.below(28)
            );
            let gender = ["female", "male", "non-binary"][dice.below(3) as usize];
            let city = CITIES[dice.below(6) as usize];
            let fields = vec![
                profile_field("Date of birth", "date", &birth),
                profile_field("Gender", "single_line", gender),
                profile_field("Street", "single_line", "Keizersgracht"),
                profile_field(
                    "House number",
                    "single_line",
                    &(1 + dice.below(400)).to_string(),
                ),
                profile_field(
                    "Postal code",
                    "single_line",
                    &format!("{} AB", 1000 + dice.below(8999)),
                ),
                profile_field("City", "single_line", city),
                profile_field("Country", "single_line", "NL"),
                profile_field(
                    "Shirt size",
                    "single_line",
                    ["S", "M", "L"][dice.below(3) as usize],
                ),
            ];
            candidates.push(json!({
                "id": id,
                "name": name,
                "emails": [email],
                "phones": [format!("+316{:08}", dice.below(100_000_000))],
                "created_at": created_at,
                "updated_at": created_at,
                "placements": placements,
                "fields": fields,
                "source": "career_site",
                "example": false,
            }));
        }
        RecruiteeData {
            company_id: "89712".to_owned(),
            jobs,
            stages,
            candidates,
        }
    }

    /// The data behind a handle the emulator and a test share.
    pub fn shared(self) -> SharedData {
        Arc::new(Mutex::new(self))
    }

    /// Ids of the candidates with a placement in the `Hired` stage.
    pub fn hired(&self) -> Vec<String> {
        self.candidates
            .iter()
            .filter(|c| {
                c["placements"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().any(|p| p["stage_id"] == json!(HIRED_STAGE)))
            })
            .map(|c| c["id"].to_string())
            .collect()
    }

    /// Moves candidate `id`'s first placement to the `Hired` stage, hired at `day`.
    pub fn hire(&mut self, id: &str, day: Date) {
        for c in &mut self.candidates {
            if id_is(c, id)
                && let Some(p) = c["placements"].get_mut(0)
            {
                p["stage_id"] = json!(HIRED_STAGE);
                p["hired_at"] = json!(format!("{day}T10:00:00.000000Z"));
            }
        }
    }

    /// Sets profile field `name` of candidate `id` to `value`.
    pub fn set_field(&mut self, id: &str, name: &str, value: &str) {
        for c in &mut self.candidates {
            if !id_is(c, id) {
                continue;
            }
            if let Some(fields) = c["fields"].as_array_mut() {
                for f in fields.iter_mut() {
                    if f["name"] == json!(name) {
                        f["values"] = json!([{ "text": value }]);
                    }
                }
            }
        }
    }

    fn references(&self) -> Vec<Value> {
        let mut refs: Vec<Value> = self
            .jobs
            .iter()
            .map(|(id, title)| {
                json!({ "id": id, "type": "Offer", "kind": "job", "title": title,
                        "status": "published", "department_id": null })
            })
            .collect();
        refs.extend(self.stages.iter().map(|(id, name, category)| {
            json!({ "id": id, "type": "Stage", "name": name, "category": category,
                    "locked": false, "position": 1 })
        }));
        refs
    }
}

/// True when candidate `c` has the id `id` (as text).
fn id_is(c: &Value, id: &str) -> bool {
    c["id"].as_u64().is_some_and(|n| n.to_string() == id)
}

/// A configuration for the Recruitee emulator at `url` and an AFAS applicants target at
/// `afas_url`.
pub fn config_yaml(url: &str, company_id: &str, afas_url: &str) -> String {
    format!(
        "# orgsync: hired candidates in Recruitee → applicants in AFAS (sandbox).\n\
         version: 1\n\
         source:\n  kind: recruitee\n  company_id: \"{company_id}\"\n  base_url: {url}\n  token: ${{env:RECRUITEE_TOKEN}}\n  fields:\n    extra: [Shirt size]\n\
         target:\n  kind: afas_applicants\n  base_url: {afas_url}\n  token: ${{env:AFAS_TOKEN}}\n  lookup:\n    connector: {lookup}\n    email_field: Email\n    id_field: Sollicitant\n\
         identity:\n  match: [external_id, email]\n\
         policy:\n  managed_fields: [first_name, last_name, email]\n",
        lookup = super::afas::APPLICANTS_CONNECTOR,
    )
}

fn placement(candidate: u64, id: u64, job: u64, stage: u64, hired_at: Option<&str>) -> Value {
    json!({
        "candidate_id": candidate,
        "id": id,
        "offer_id": job,
        "stage_id": stage,
        "hired_at": hired_at,
        "hired_by_id": hired_at.map(|_| 316_973),
        // Not reliable in Recruitee's answers (false on hired placements): orgsync ignores it.
        "hired_in_this_placement": false,
        "job_starts_at": null,
        "position": 1,
    })
}

struct Emulator {
    data: SharedData,
    reads: AtomicU64,
    gate: Arc<Gate>,
}

/// The emulator's routes under `/c/{company_id}`, accepting `Authorization: Bearer <token>`.
pub fn router(data: SharedData, token: &str, faults: Faults) -> Router {
    let gate = Arc::new(Gate::new(
        Vendor::Recruitee,
        format!("Bearer {token}"),
        faults,
    ));
    let state = Arc::new(Emulator {
        data,
        reads: AtomicU64::new(0),
        gate: Arc::clone(&gate),
    });
    let api = Router::new()
        .route("/c/{company}/candidates", get(list))
        .route("/c/{company}/candidates/{id}", get(detail))
        .with_state(state);
    guarded(api, gate)
}

type Shared = State<Arc<Emulator>>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn not_found() -> Response {
    error(Vendor::Recruitee, StatusCode::NOT_FOUND, "Not found")
}

async fn list(
    State(emu): Shared,
    Path(company): Path<String>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let data = lock(&emu.data);
    if company != data.company_id {
        return not_found();
    }
    // Newest first; ties on created_at in another order on every request.
    let read = emu.reads.fetch_add(1, Ordering::Relaxed);
    let mut dice = Dice(read.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut order: Vec<(String, u64, usize)> = data
        .candidates
        .iter()
        .enumerate()
        .map(|(i, c)| {
            (
                c["created_at"].as_str().unwrap_or_default().to_owned(),
                dice.next(),
                i,
            )
        })
        .collect();
    order.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let num = |k: &str| q.get(k).and_then(|v| v.parse::<usize>().ok());
    let rows: Vec<usize> = match (num("limit"), num("offset")) {
        (None, None) => order.iter().map(|o| o.2).collect(),
        (limit, offset) => order
            .iter()
            .skip(offset.unwrap_or(0))
            .take(limit.unwrap_or(usize::MAX))
            .map(|o| o.2)
            .collect(),
    };
    let mut page: Vec<Value> = rows
        .iter()
        .map(|&i| {
            let mut c = data.candidates[i].clone();
            if let Some(o) = c.as_object_mut() {
                o.remove("fields");
            }
            c
        })
        .collect();
    if !page.is_empty() && emu.gate.cut_this_page() {
        page.truncate(page.len() / 2);
    }
    axum::Json(json!({
        "candidates": page,
        "generated_at": jiff::Timestamp::now().to_string(),
        "references": data.references(),
    }))
    .into_response()
}

async fn detail(State(emu): Shared, Path((company, id)): Path<(String, String)>) -> Response {
    let data = lock(&emu.data);
    if company != data.company_id {
        return not_found();
    }
    let Some(c) = data.candidates.iter().find(|c| id_is(c, &id)) else {
        return not_found();
    };
    axum::Json(json!({ "candidate": c, "references": data.references() })).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_candidates_are_partly_hired_and_share_created_at() {
        let d = RecruiteeData::generate(60, 3, "2026-06-01".parse().unwrap());
        let hired = d.hired().len();
        assert!(hired > 5 && hired < 40, "{hired}");
        let mut created: Vec<&str> = d
            .candidates
            .iter()
            .map(|c| c["created_at"].as_str().unwrap())
            .collect();
        let all = created.len();
        created.dedup();
        assert!(created.len() < all, "some candidates tie on created_at");
    }
}
