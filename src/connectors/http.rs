//! The one HTTP client every API connector shares: timeouts; retries with exponential backoff and
//! jitter on 429, 5xx and connection errors, honouring `Retry-After`; a request rate limit and a
//! bound on requests in flight per system; vendor error bodies turned into readable messages; a
//! tracing span per request; progress bars on a terminal.
//!
//! Connectors are async inside and sync outside: each fetch or apply phase runs on a
//! current-thread tokio runtime ([`runtime`]), so the sync `Source`/`Target` traits and the file
//! connectors stay as they are.
//!
//! Secrets: the credential is one `Authorization` header value marked sensitive; it is never put
//! in a span, a log line or an error. Spans carry the method and the path (at `-vv` the query
//! too, which may hold e-mail addresses in SCIM filters), the status and the duration.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use tokio::sync::Semaphore;
use tracing::Instrument;

use super::ConnectorError;

/// How one system is talked to.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// The system's name in messages ("AFAS Profit", "SCIM").
    pub system: &'static str,
    /// Base URL; request paths are appended to it.
    pub base_url: String,
    /// Per request, from sending to the last byte of the body.
    pub timeout: Duration,
    /// Retries after the first attempt (429, 5xx, connection errors).
    pub retries: u32,
    /// Most requests in flight at once.
    pub concurrency: usize,
    /// Most requests per second (0: unlimited).
    pub rate_limit: u32,
    /// First backoff delay; it doubles per retry, with jitter, up to `max_backoff`.
    pub min_backoff: Duration,
    /// Longest backoff delay.
    pub max_backoff: Duration,
    /// Longest `Retry-After` honoured (a longer one is cut to this).
    pub max_retry_after: Duration,
    /// Draw progress bars (on a terminal only).
    pub progress: bool,
    /// Where the credential comes from, for the message when it is refused
    /// (`$AFAS_TOKEN (source.token)`): never the credential itself.
    pub credential_hint: String,
    /// Media type sent as `Accept` and as the `Content-Type` of bodies.
    pub media_type: &'static str,
}

impl HttpSettings {
    /// Defaults for `system` at `base_url`: 30 s timeout, 5 retries from 200 ms up to 10 s, four
    /// requests in flight, no rate limit, JSON.
    pub fn new(system: &'static str, base_url: &str) -> HttpSettings {
        HttpSettings {
            system,
            base_url: base_url.trim_end_matches('/').to_owned(),
            timeout: Duration::from_secs(30),
            retries: 5,
            concurrency: 4,
            rate_limit: 0,
            min_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(120),
            progress: false,
            credential_hint: "the token".to_owned(),
            media_type: "application/json",
        }
    }
}

/// A failed request. Messages name the system, method and path, and the vendor's own error
/// message when it sent one; never a credential.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// 401: the credential was refused (expired, revoked, wrong environment).
    #[error(
        "{system} refused the credentials ({method} {path}: 401 Unauthorized){detail}: the token \
         may have expired or been revoked; check {hint}"
    )]
    Unauthorized {
        /// The system.
        system: &'static str,
        /// The method.
        method: Method,
        /// The path, without the query.
        path: String,
        /// `: <vendor message>` or empty.
        detail: String,
        /// Where the credential comes from.
        hint: String,
    },
    /// Any other non-success status (after the retries, for retryable ones).
    #[error("{system}: {method} {path}: {status}{detail}{retried}")]
    Status {
        /// The system.
        system: &'static str,
        /// The method.
        method: Method,
        /// The path, without the query.
        path: String,
        /// The status.
        status: StatusCode,
        /// `: <vendor message>` or empty.
        detail: String,
        /// ` (gave up after N retries)` or empty.
        retried: String,
        /// The response body, for the connector to interpret (409, 412, …).
        body: Vec<u8>,
    },
    /// No response: connection refused or reset, timeout, a body cut off.
    #[error("{system}: {method} {path}: {message}{retried}")]
    Transport {
        /// The system.
        system: &'static str,
        /// The method.
        method: Method,
        /// The path, without the query.
        path: String,
        /// What happened.
        message: String,
        /// ` (gave up after N retries)` or empty.
        retried: String,
    },
}

impl HttpError {
    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            HttpError::Unauthorized { .. } => Some(StatusCode::UNAUTHORIZED),
            HttpError::Status { status, .. } => Some(*status),
            HttpError::Transport { .. } => None,
        }
    }

    /// The response body of a status error.
    pub fn body(&self) -> &[u8] {
        match self {
            HttpError::Status { body, .. } => body,
            _ => &[],
        }
    }
}

impl From<HttpError> for ConnectorError {
    fn from(e: HttpError) -> Self {
        ConnectorError::Http(e.to_string())
    }
}

/// A successful response.
#[derive(Debug)]
pub struct Response {
    /// 2xx.
    pub status: StatusCode,
    /// Headers (`ETag`, `Location`, …).
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Vec<u8>,
}

impl Response {
    /// The body as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, String> {
        serde_json::from_slice(&self.body).map_err(|e| format!("unexpected response body: {e}"))
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Turns a vendor's error body into a sentence, when it is one of theirs.
pub type ErrorBody = fn(&[u8]) -> Option<String>;

/// The client of one system. Cheap to share behind an `Arc` between concurrent tasks: the
/// concurrency bound and the rate limit are the client's, so they hold across all of them.
pub struct HttpClient {
    settings: HttpSettings,
    client: reqwest::Client,
    auth: HeaderValue,
    permits: Semaphore,
    limiter: Option<DefaultDirectRateLimiter>,
    describe: ErrorBody,
    requests: AtomicU64,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("system", &self.settings.system)
            .field("base_url", &self.settings.base_url)
            .finish_non_exhaustive()
    }
}

/// A failed attempt, and whether another is worth it.
struct Failure {
    error: HttpError,
    retryable: bool,
    retry_after: Option<Duration>,
}

impl HttpClient {
    /// A client sending `authorization` (the full header value, e.g. `Bearer …`) with every
    /// request. `describe` reads the vendor's error bodies.
    pub fn new(
        settings: HttpSettings,
        authorization: &str,
        describe: ErrorBody,
    ) -> Result<HttpClient, ConnectorError> {
        // reqwest is built without a bundled crypto provider; ring is ours. Installing twice is
        // harmless (the second call just reports the first).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut auth = HeaderValue::from_str(authorization).map_err(|_| {
            ConnectorError::Http(format!(
                "{}: {} is not a valid header value",
                settings.system, settings.credential_hint
            ))
        })?;
        auth.set_sensitive(true);
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("orgsync/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConnectorError::Http(format!("{}: {e}", settings.system)))?;
        let limiter = std::num::NonZeroU32::new(settings.rate_limit).map(|n| {
            // A burst of a tenth of a second's worth keeps the rate smooth at the server.
            let burst = std::num::NonZeroU32::new((n.get() / 10).max(1)).unwrap_or(n);
            RateLimiter::direct(Quota::per_second(n).allow_burst(burst))
        });
        Ok(HttpClient {
            permits: Semaphore::new(settings.concurrency.max(1)),
            settings,
            client,
            auth,
            limiter,
            describe,
            requests: AtomicU64::new(0),
        })
    }

    /// The settings.
    pub fn settings(&self) -> &HttpSettings {
        &self.settings
    }

    /// Requests sent so far (attempts, retries included).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// `GET path` (path and query, appended to the base URL).
    pub async fn get(&self, path: &str) -> Result<Response, HttpError> {
        self.send(Method::GET, path, None, &[]).await
    }

    /// Sends a request, retrying as configured. `body` is JSON; `headers` are extra headers
    /// (`If-Match`). Any non-2xx status is an error.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
        headers: &[(&'static str, String)],
    ) -> Result<Response, HttpError> {
        self.send_with(method, path, body, headers, true).await
    }

    /// Like [`HttpClient::send`], but retries only what certainly was not processed (429): for
    /// a create, where after a 5xx or a lost connection the caller must first look whether the
    /// resource exists before trying again.
    pub async fn send_create(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<Response, HttpError> {
        self.send_with(Method::POST, path, Some(body), &[], false)
            .await
    }

    async fn send_with(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
        headers: &[(&'static str, String)],
        retry_unsure: bool,
    ) -> Result<Response, HttpError> {
        let body = body.map(|b| serde_json::to_vec(b).unwrap_or_default());
        let s = &self.settings;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(s.min_backoff)
            .with_max_delay(s.max_backoff)
            .with_max_times(s.retries as usize)
            .with_jitter();
        let max_retry_after = s.max_retry_after;
        let attempts = AtomicU64::new(0);
        let result = (|| async {
            attempts.fetch_add(1, Ordering::Relaxed);
            self.attempt(&method, path, body.as_deref(), headers).await
        })
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .when(|f: &Failure| {
            f.retryable && (retry_unsure || f.error.status() == Some(StatusCode::TOO_MANY_REQUESTS))
        })
        .adjust(move |f: &Failure, delay| match (f.retry_after, delay) {
            // Out of retries stays out of retries.
            (_, None) => None,
            (Some(after), Some(_)) => Some(after.min(max_retry_after)),
            (None, delay) => delay,
        })
        .notify(|f: &Failure, delay| {
            tracing::warn!("{}; retrying in {} ms", f.error, delay.as_millis());
        })
        .await;
        result.map_err(|mut f| {
            let retries = attempts.load(Ordering::Relaxed).saturating_sub(1);
            if f.retryable && retries > 0 {
                let note = format!(" (gave up after {retries} retries)");
                match &mut f.error {
                    HttpError::Status { retried, .. } | HttpError::Transport { retried, .. } => {
                        *retried = note;
                    }
                    HttpError::Unauthorized { .. } => {}
                }
            }
            f.error
        })
    }

    async fn attempt(
        &self,
        method: &Method,
        path: &str,
        body: Option<&[u8]>,
        headers: &[(&'static str, String)],
    ) -> Result<Response, Failure> {
        let bare = path.split('?').next().unwrap_or(path).to_owned();
        let span = tracing::info_span!(
            "http",
            system = self.settings.system,
            method = %method,
            path = %bare
        );
        async {
            let _permit = self.permits.acquire().await.map_err(|_| Failure {
                error: self.transport(method, &bare, "the client was shut down".to_owned()),
                retryable: false,
                retry_after: None,
            })?;
            if let Some(limiter) = &self.limiter {
                limiter.until_ready().await;
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            tracing::debug!("{method} {path}");
            let start = Instant::now();
            let url = format!("{}{}", self.settings.base_url, path);
            let mut request = self
                .client
                .request(method.clone(), url)
                .header(AUTHORIZATION, self.auth.clone())
                .header(ACCEPT, self.settings.media_type);
            for (name, value) in headers {
                request = request.header(*name, value.as_str());
            }
            if let Some(body) = body {
                request = request
                    .header(CONTENT_TYPE, self.settings.media_type)
                    .body(body.to_vec());
            }
            let response = match request.send().await {
                Ok(r) => r,
                Err(e) => {
                    tracing::info!(
                        ms = start.elapsed().as_millis() as u64,
                        "{method} {bare}: {}",
                        transport_message(&e)
                    );
                    return Err(Failure {
                        error: self.transport(method, &bare, transport_message(&e)),
                        retryable: !e.is_builder(),
                        retry_after: None,
                    });
                }
            };
            let status = response.status();
            let response_headers = response.headers().clone();
            let body = match response.bytes().await {
                Ok(b) => b.to_vec(),
                Err(e) => {
                    return Err(Failure {
                        error: self.transport(
                            method,
                            &bare,
                            format!(
                                "{status}, but the response was cut off: {}",
                                transport_message(&e)
                            ),
                        ),
                        retryable: true,
                        retry_after: None,
                    });
                }
            };
            let ms = start.elapsed().as_millis() as u64;
            tracing::info!(
                status = status.as_u16(),
                ms,
                "{method} {bare} {status} {ms} ms"
            );
            if status.is_success() {
                return Ok(Response {
                    status,
                    headers: response_headers,
                    body,
                });
            }
            let detail = (self.describe)(&body)
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            if status == StatusCode::UNAUTHORIZED {
                return Err(Failure {
                    error: HttpError::Unauthorized {
                        system: self.settings.system,
                        method: method.clone(),
                        path: bare.clone(),
                        detail,
                        hint: self.settings.credential_hint.clone(),
                    },
                    retryable: false,
                    retry_after: None,
                });
            }
            let retryable = status == StatusCode::TOO_MANY_REQUESTS
                || status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED;
            Err(Failure {
                error: HttpError::Status {
                    system: self.settings.system,
                    method: method.clone(),
                    path: bare.clone(),
                    status,
                    detail,
                    retried: String::new(),
                    body,
                },
                retryable,
                retry_after: retry_after(&response_headers),
            })
        }
        .instrument(span)
        .await
    }

    fn transport(&self, method: &Method, path: &str, message: String) -> HttpError {
        HttpError::Transport {
            system: self.settings.system,
            method: method.clone(),
            path: path.to_owned(),
            message,
            retried: String::new(),
        }
    }

    /// A progress bar on stderr (hidden unless progress is on and stderr is a terminal).
    /// `len: None` counts without a total.
    pub fn progress(&self, len: Option<u64>, message: &str) -> ProgressBar {
        if !self.settings.progress {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
        let template = match len {
            Some(_) => "{msg} [{bar:30}] {pos}/{len} ({per_sec}, eta {eta})",
            None => "{spinner} {msg} {pos} ({per_sec})",
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(message.to_owned());
        bar
    }
}

/// reqwest's message without the URL (it is in the span already) and with its cause.
fn transport_message(e: &reqwest::Error) -> String {
    let mut message = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "cannot connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
}

/// `Retry-After` as seconds or as an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let secs = when.as_second() - jiff::Timestamp::now().as_second();
    Some(Duration::from_secs(secs.max(0) as u64))
}

/// A current-thread tokio runtime for one fetch or apply phase.
pub fn runtime() -> Result<tokio::runtime::Runtime, ConnectorError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ConnectorError::Http(format!("cannot start the HTTP runtime: {e}")))
}

/// A shared client.
pub type Shared = Arc<HttpClient>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn the_credential_is_not_in_debug_output() {
        let client = HttpClient::new(
            HttpSettings::new("Test", "http://127.0.0.1:9"),
            "Bearer hunter2-secret",
            |_| None,
        )
        .unwrap();
        assert!(!format!("{client:?}").contains("hunter2"));
        assert!(!format!("{:?}", client.auth).contains("hunter2"));
    }
}
