//! The one redaction layer: every secret value orgsync resolves is registered here, with the
//! encodings it travels in (base64, the AFAS token XML and its base64, percent-encoding), and
//! every message that leaves the process — stdout, stderr, the `error:` line, log lines, retry
//! warnings, progress lines, and the error messages connectors hand back (which end up in apply
//! records) — goes through [`scrub`].
//!
//! Why a registry and not "never format a secret": the leaks that matter come from the outside.
//! A vendor's error body may echo the `Authorization` header it was sent; a proxy may quote the
//! URL. orgsync cannot know where a server puts it, so it looks for the values themselves.
//!
//! Values shorter than [`MIN_LEN`] characters are not registered: scrubbing every `t` out of
//! the output would make it unreadable, and such a value is no secret anyway.

use std::borrow::Cow;
use std::sync::RwLock;

use base64::Engine;

/// What a secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Shorter values are not scrubbed (see the module docs).
pub const MIN_LEN: usize = 6;

/// Registered values, longest first (so that a value containing another is replaced whole).
static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

fn add(values: impl IntoIterator<Item = String>) {
    let mut secrets = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    for v in values {
        if v.chars().count() >= MIN_LEN && !secrets.contains(&v) {
            secrets.push(v);
        }
    }
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// The forms a value travels in besides itself.
fn encodings(value: &str) -> Vec<String> {
    let engines = [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::URL_SAFE,
    ];
    let xml = format!("<token><version>1</version><data>{value}</data></token>");
    let percents = percent_forms(value);
    let mut out = vec![value.to_owned(), xml.clone()];
    out.extend(percents.iter().cloned());
    out.extend(percents.iter().map(|p| lower_hex(p)));
    for plain in [value, xml.as_str()] {
        for engine in &engines {
            let encoded = engine.encode(plain);
            // Without padding too: `=` is often stripped or escaped on the way.
            out.push(encoded.trim_end_matches('=').to_owned());
            out.push(encoded);
        }
    }
    for plain in [value, xml.as_str()]
        .into_iter()
        .chain(percents.iter().map(String::as_str))
    {
        out.extend(inside_base64(plain));
    }
    // A value that already is an encoding: its decoded forms (the AFAS token stored as base64,
    // or as XML) are as secret as the value.
    for engine in &engines {
        if let Ok(decoded) = engine.decode(value.trim())
            && let Ok(text) = String::from_utf8(decoded)
        {
            out.extend(xml_data(&text));
            out.push(text);
        }
    }
    out.extend(xml_data(value));
    out
}

/// The percent-encodings `value` travels in: as orgsync writes it in a URL
/// ([`percent_encode`]), as a form body carries it (`application/x-www-form-urlencoded`: `*-._`
/// kept, a space as `+`), and with every byte but letters and digits escaped, as a server or
/// proxy that echoes a request URL-encoded writes it; and each of those escaped once more that
/// way (a form body, already encoded, echoed URL-encoded). Upper-case hex; [`encodings`] adds
/// the lower-case spellings.
fn percent_forms(value: &str) -> Vec<String> {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    const FORM: &percent_encoding::AsciiSet = &NON_ALPHANUMERIC
        .remove(b'*')
        .remove(b'-')
        .remove(b'.')
        .remove(b'_');
    let every = |v: &str| utf8_percent_encode(v, NON_ALPHANUMERIC).to_string();
    let form = utf8_percent_encode(value, FORM)
        .to_string()
        .replace("%20", "+");
    let mut out = Vec::new();
    for once in [percent_encode(value), form, every(value)] {
        let twice = every(&once);
        for v in [once, twice] {
            if !out.contains(&v) {
                out.push(v);
            }
        }
    }
    out
}

/// `text` with the hex digits of its `%XX` escapes in lower case (`%2b`).
fn lower_hex(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut hex = 0;
    for c in text.chars() {
        if hex > 0 {
            hex -= 1;
            out.push(c.to_ascii_lowercase());
        } else {
            hex = if c == '%' { 2 } else { 0 };
            out.push(c);
        }
    }
    out
}

/// What `plain` looks like inside a longer base64 text — a whole request or response encoded at
/// once, where `plain` starts at any byte: for each of the three alignments of its first byte
/// to base64's 3-byte groups, and in both alphabets, the characters that only its own bytes
/// decide (those at its edges also carry bits of its neighbours, and are left out).
fn inside_base64(plain: &str) -> Vec<String> {
    let engines = [
        base64::engine::general_purpose::STANDARD_NO_PAD,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    let mut out = Vec::new();
    for offset in 0..3usize {
        let mut bytes = vec![0u8; offset];
        bytes.extend_from_slice(plain.as_bytes());
        // Characters wholly inside `plain`: from the first whose 6 bits start at or after its
        // first byte, to the last that ends at or before its last byte.
        let skip = (offset * 8).div_ceil(6);
        let end = bytes.len() * 8 / 6;
        for engine in &engines {
            let encoded = engine.encode(&bytes);
            if let Some(fragment) = encoded.get(skip..end) {
                out.push(fragment.to_owned());
            }
        }
    }
    out
}

/// The `<data>` of an AFAS token XML.
fn xml_data(text: &str) -> Option<String> {
    let start = text.find("<data>")? + "<data>".len();
    let end = text[start..].find("</data>")? + start;
    Some(text[start..end].to_owned())
}

/// Percent-encodes a path segment or query value as the connectors write it: everything but the
/// unreserved characters of RFC 3986 (`A–Z a–z 0–9 - _ . ~`). Defined here, once, so that a secret
/// is scrubbed in exactly the form it takes in a URL.
pub fn percent_encode(value: &str) -> String {
    const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(value, UNRESERVED).to_string()
}

/// Registers a secret value (a resolved token) and its encodings.
pub fn register(value: &str) {
    let mut all = encodings(value);
    // Trimmed, as the connectors use it.
    if value.trim() != value {
        all.extend(encodings(value.trim()));
    }
    all.extend(escaped_forms(&all));
    add(all);
}

/// The forms a log line writes `values` in when they hold a quote, a backslash or a control
/// character: escaped as in a JSON string (`--log-format json`) and as Rust's `Debug` does (a
/// field logged with `?`).
fn escaped_forms(values: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for v in values {
        if let Ok(json) = serde_json::to_string(v) {
            out.push(json[1..json.len() - 1].to_owned());
        }
        let debug = format!("{v:?}");
        out.push(debug[1..debug.len() - 1].to_owned());
    }
    out.retain(|e| !values.contains(e));
    out
}

/// Registers an `Authorization` header value (`Bearer …`, `AfasToken …`): the whole value, and
/// the credential after the scheme with its encodings.
pub fn register_authorization(header: &str) {
    add([header.to_owned()]);
    add(inside_base64(header));
    let credential = header.split_once(' ').map_or(header, |(_, c)| c);
    register(credential);
}

/// `text` with every registered secret replaced by [`REDACTED`].
pub fn scrub(text: &str) -> Cow<'_, str> {
    let secrets = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    let mut out = Cow::Borrowed(text);
    for s in secrets.iter() {
        if out.contains(s.as_str()) {
            out = Cow::Owned(out.replace(s.as_str(), REDACTED));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_and_its_encodings_are_scrubbed() {
        let secret = "canary-Zq9-unit-1";
        register(secret);
        let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
        let xml = format!("<token><version>1</version><data>{secret}</data></token>");
        let xml64 = base64::engine::general_purpose::STANDARD.encode(&xml);
        for leak in [
            format!("Authorization: Bearer {secret}"),
            format!("echo {b64}"),
            format!("AfasToken {xml64}"),
            format!("body {xml}"),
            format!("url ?token={}", percent_encode(secret)),
        ] {
            let out = scrub(&leak);
            assert!(!out.contains(secret) && !out.contains(&b64) && !out.contains(&xml64));
            assert!(out.contains(REDACTED), "{out}");
        }
        assert_eq!(scrub("nothing here"), "nothing here");
    }

    #[test]
    fn a_stored_base64_token_is_scrubbed_in_every_form() {
        let data = "hexdata-unit-2-ABCDEF";
        let xml = format!("<token><version>1</version><data>{data}</data></token>");
        let stored = base64::engine::general_purpose::STANDARD.encode(&xml);
        register_authorization(&format!("AfasToken {stored}"));
        for leak in [stored.as_str(), xml.as_str(), data] {
            assert!(!scrub(leak).contains(data), "{leak}");
        }
    }

    /// Regression (secrets in other encodings): a server that echoes the whole request
    /// base64-encoded carries the token at any byte offset; each alignment is scrubbed, in both
    /// alphabets.
    #[test]
    fn a_secret_inside_a_base64_encoded_request_is_scrubbed_at_any_offset() {
        let secret = "canary+unit/3-Kq8Zw";
        register_authorization(&format!("Bearer {secret}"));
        for prefix in ["", "G", "GE", "GET /Users HTTP/1.1\nauthorization: Bearer "] {
            for suffix in ["", "\n", "\naccept: */*\n\n{\"a\":1}"] {
                let request = format!("{prefix}{secret}{suffix}");
                for engine in [
                    base64::engine::general_purpose::STANDARD,
                    base64::engine::general_purpose::URL_SAFE_NO_PAD,
                ] {
                    let encoded = engine.encode(&request);
                    let out = scrub(&encoded);
                    assert!(out.contains(REDACTED), "{prefix:?}: {encoded} → {out}");
                    // What is left decodes to nothing that holds the secret.
                    let left: String = out.replace(REDACTED, "");
                    let decoded = base64::engine::general_purpose::STANDARD_NO_PAD
                        .decode(left.trim_end_matches('='))
                        .or_else(|_| {
                            base64::engine::general_purpose::URL_SAFE_NO_PAD
                                .decode(left.trim_end_matches('='))
                        })
                        .unwrap_or_default();
                    assert!(
                        !String::from_utf8_lossy(&decoded).contains(secret),
                        "{prefix:?}"
                    );
                }
            }
        }
    }

    /// Regression (issue 19, a token percent-encoded by an echoing server leaked): a server
    /// that echoes the request URL-encoded escapes every byte but letters and digits — the `-`,
    /// `.` and `_` of a token too, which orgsync's own percent-encoding keeps — and escapes a
    /// form body's `%2B` once more (`%252B`). Only `+` and `/` made a canary differ before, so
    /// `Bearer%20ya29%2Esandbox%2D1%2D…` and a password's `%252B…` went out as they were.
    #[test]
    fn a_token_percent_encoded_by_an_echoing_server_is_scrubbed() {
        let token = "ya29.sandbox-4_unit~x";
        let password = "canary+unit/pass-5.Q";
        register_authorization(&format!("Bearer {token}"));
        register(password);
        for leak in [
            "authorization%3A%20Bearer%20ya29%2Esandbox%2D4%5Funit%7Ex%0A",
            "authorization%3a%20Bearer%20ya29%2esandbox%2d4%5funit%7ex%0a",
            // The form body `password=canary%2Bunit%2Fpass-5.Q`, echoed URL-encoded.
            "password%3Dcanary%252Bunit%252Fpass%2D5%2EQ%26",
            // A form body with the password in it, and a query.
            "grant_type=password&password=canary%2Bunit%2Fpass-5.Q",
            "?token=ya29.sandbox-4_unit%7Ex",
        ] {
            let out = scrub(leak);
            assert!(out.contains(REDACTED), "{leak} → {out}");
            for part in ["sandbox", "4%5F", "4%5f", "unit", "5%2EQ", "5.Q"] {
                assert!(!out.contains(part), "{leak} → {out}");
            }
        }
        // The base64 of a request whose form body carries the password escaped twice.
        let request = "POST /app/token\n\npassword%3Dcanary%252Bunit%252Fpass%2D5%2EQ";
        let encoded = base64::engine::general_purpose::STANDARD.encode(request);
        assert!(scrub(&encoded).contains(REDACTED), "{encoded}");
    }

    /// Regression (JSON logs): a secret with a quote or a backslash is written escaped in a JSON
    /// log line, which the plain value no longer matches.
    #[test]
    fn a_secret_escaped_in_a_json_log_line_is_scrubbed() {
        let secret = "canary\"unit\\5-Jx";
        register(secret);
        let line = serde_json::json!({ "fields": { "message": format!("sent {secret}") } });
        let line = line.to_string();
        assert!(
            !line.contains(secret),
            "the test needs an escaped form: {line}"
        );
        let out = scrub(&line);
        assert!(
            out.contains(REDACTED) && !out.contains("unit\\\\5"),
            "{out}"
        );
        let debug = format!("{:?}", format!("sent {secret}"));
        assert!(scrub(&debug).contains(REDACTED), "{debug}");
    }

    #[test]
    fn short_values_are_not_scrubbed() {
        register("abc");
        assert_eq!(scrub("abc abc"), "abc abc");
    }
}
