//! Progress on stderr: the bars of long fetches, and an apply's progress over all of its actions.
//!
//! An apply reports each action as it finishes ([`ActionProgress`]). On a terminal that advances
//! one bar whose total is every action of the plan (group creates and removals included). Off a
//! terminal (a CI log) each finished action is a line of its own, written at once —
//! `invite 10234: done (0.4 s)`, `move 10235: failed: …` — so a job killed by its timeout shows
//! everything done until then; and every [`every`] a line with the count so far, which a long
//! wait (a throttled server) would otherwise leave silent. A line names the action's kind and
//! subject (a source identifier), never a name or an e-mail address.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use orgsync_core::connector::{ActionProgress, Finished};

/// A progress bar on stderr with `message`, its rate with one decimal (`12.5/s`); `len: None`
/// counts without a total.
pub fn bar(len: Option<u64>, message: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
    let template = match len {
        Some(_) => "{msg} [{bar:30}] {pos}/{len} ({rate}, eta {eta})",
        None => "{spinner} {msg} {pos} ({rate})",
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        let style = style
            .with_key(
                "rate",
                |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{}", rate(state.per_sec()));
                },
            )
            .progress_chars("=> ");
        bar.set_style(style);
    }
    bar.set_message(message.to_owned());
    bar
}

/// `12.5/s`: one decimal, whatever the rate.
fn rate(per_sec: f64) -> String {
    format!("{per_sec:.1}/s")
}

/// The interval of the count lines off a terminal: 10 s, or `ORGSYNC_PROGRESS_SECS`.
pub fn every() -> Duration {
    std::env::var("ORGSYNC_PROGRESS_SECS")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .map_or(Duration::from_secs(10), Duration::from_secs_f64)
}

/// An apply's progress over `total` actions: a bar when stderr is a terminal and `bars` is on,
/// else a line per finished action and a count line every [`every`] — with `json`
/// (`--log-format json`) each as a JSON log line. Keep the [`Applying`] until the apply is over:
/// dropping it clears the bar and stops the count lines.
pub fn apply(total: u64, bars: bool, json: bool) -> (ActionProgress, Applying) {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    if std::io::stderr().is_terminal() && !json {
        let shown = if bars {
            bar(Some(total), "applying")
        } else {
            ProgressBar::hidden()
        };
        let on = shown.clone();
        let progress = ActionProgress::new(move |f: Finished<'_>| {
            on.inc(1);
            if f.error.is_some() {
                on.println(line(&f));
            }
        });
        return (
            progress,
            Applying {
                bar: Some(shown),
                stop,
            },
        );
    }
    let count = Arc::clone(&done);
    let progress = ActionProgress::new(move |f: Finished<'_>| {
        count.fetch_add(1, Ordering::Relaxed);
        let text = if json { json_line(&f) } else { line(&f) } + "\n";
        write_now(&text);
    });
    count_lines(total, done, Arc::clone(&stop), every(), json);
    (progress, Applying { bar: None, stop })
}

/// Writes `text` to stderr at once, scrubbed of secrets.
fn write_now(text: &str) {
    let text = orgsync_core::redact::scrub(text);
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(text.as_bytes());
    let _ = stderr.flush();
}

/// A log line as `--log-format json` writes them: `timestamp`, `level`, `fields`.
fn json_log(level: &str, fields: serde_json::Value) -> String {
    serde_json::json!({
        "timestamp": jiff::Timestamp::now().to_string(),
        "level": level,
        "fields": fields,
    })
    .to_string()
}

/// One finished action as a JSON log line: its [`line`] as the message, and its kind, subject,
/// result (`done`, `failed`, `unconfirmed`), seconds and error as fields.
pub fn json_line(f: &Finished<'_>) -> String {
    let result = match (f.error, f.unconfirmed) {
        (None, _) => "done",
        (Some(_), true) => "unconfirmed",
        (Some(_), false) => "failed",
    };
    let mut fields = serde_json::json!({
        "message": line(f),
        "kind": f.kind.as_str(),
        "subject": f.subject,
        "result": result,
    });
    if let Some(d) = f.elapsed {
        fields["secs"] = serde_json::json!((d.as_secs_f64() * 10.0).round() / 10.0);
    }
    if let Some(e) = f.error {
        fields["error"] = e.into();
    }
    json_log(if f.error.is_some() { "WARN" } else { "INFO" }, fields)
}

/// Prints `applying: N/TOTAL done after S s (R/s)` every `every` until `stop`.
fn count_lines(
    total: u64,
    done: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    every: Duration,
    json: bool,
) {
    let start = Instant::now();
    std::thread::spawn(move || {
        let tick = Duration::from_millis(100).min(every);
        let mut next = start + every;
        loop {
            std::thread::sleep(tick);
            if stop.load(Ordering::Relaxed) {
                return;
            }
            if Instant::now() < next {
                continue;
            }
            next += every;
            let n = done.load(Ordering::Relaxed);
            let secs = start.elapsed().as_secs_f64();
            let message = format!(
                "applying: {n}/{total} done after {secs:.0} s ({})",
                rate(n as f64 / secs.max(0.001))
            );
            let text = if json {
                json_log(
                    "INFO",
                    serde_json::json!({ "message": message, "done": n, "total": total }),
                )
            } else {
                message
            };
            write_now(&(text + "\n"));
        }
    });
}

/// The line of one finished action: `invite 10234: done (0.4 s)`, `move 10235: failed: …`.
/// Control characters (from HR or a vendor's answer) are escaped: one action, one line.
pub fn line(f: &Finished<'_>) -> String {
    let head = format!("{} {}", f.kind.as_str(), f.subject);
    let took = f
        .elapsed
        .map(|d| format!(" ({:.1} s)", d.as_secs_f64()))
        .unwrap_or_default();
    let text = match f.error {
        None => format!("{head}: done{took}"),
        Some(e) if f.unconfirmed => format!("{head}: unconfirmed{took}: {e}"),
        Some(e) => format!("{head}: failed{took}: {e}"),
    };
    escape_controls(&text)
}

/// `text` with control characters and bidirectional overrides written as `\u{…}` escapes.
fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control()
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)
        {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// An apply's progress while it runs; dropping it ends the bar and the count lines.
#[derive(Debug)]
pub struct Applying {
    bar: Option<ProgressBar>,
    stop: Arc<AtomicBool>,
}

impl Drop for Applying {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orgsync_core::vocabulary::ActionKind;

    #[test]
    fn a_line_names_kind_and_subject_and_stays_one_line() {
        let mut f = Finished {
            kind: ActionKind::Invite,
            subject: "10234",
            error: None,
            unconfirmed: false,
            elapsed: Some(Duration::from_millis(412)),
        };
        assert_eq!(line(&f), "invite 10234: done (0.4 s)");
        f.kind = ActionKind::Move;
        f.error = Some("SCIM: PATCH /Users/u-1: 500\nPlan: 0 to invite");
        f.elapsed = None;
        assert_eq!(
            line(&f),
            "move 10234: failed: SCIM: PATCH /Users/u-1: 500\\u{a}Plan: 0 to invite"
        );
        assert_eq!(rate(12.34567), "12.3/s");
        let object: serde_json::Value = serde_json::from_str(&json_line(&f)).unwrap();
        assert_eq!(object["level"], "WARN");
        assert_eq!(object["fields"]["result"], "failed");
        assert_eq!(object["fields"]["subject"], "10234");
        assert!(!json_line(&f).contains('\n'));
    }
}
