//! What the vendor emulators share: fault injection, credential checks and running a server on a
//! background thread (for the tests and benchmarks) or in the foreground (`orgsync sandbox`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// Faults an emulator injects, to show how a connector copes.
#[derive(Debug, Clone, Default, PartialEq, clap::Args)]
pub struct Faults {
    /// Delay every response by this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub latency_ms: u64,
    /// Answer every Nth request with 429 Too Many Requests and a Retry-After.
    #[arg(long, value_name = "N")]
    pub throttle_every: Option<u64>,
    /// The Retry-After of injected 429s, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 1)]
    pub retry_after: u64,
    /// Answer this share of requests (0 to 1) with a 503. Half of those are processed first
    /// and only the answer is lost, as when a proxy times out.
    #[arg(long, value_name = "RATE", default_value_t = 0.0)]
    pub error_rate: f64,
    /// Cut every Nth page that has rows short, the last one too (fewer rows or resources than
    /// the page should hold).
    #[arg(long, value_name = "N")]
    pub short_page_every: Option<u64>,
    /// The token expires after N requests: every later request gets 401.
    #[arg(long, value_name = "N")]
    pub expire_token_after: Option<u64>,
    /// Serve at most this many requests per second; more get 429 with Retry-After (0: no limit).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub rate_limit: u32,
    /// POSTs (creates) take this many milliseconds more, and the resource is created at the
    /// end of it even when the client gave up waiting: a slow create behind a client timeout.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub slow_create_ms: u64,
    /// Drop the connection of this share of requests (0 to 1) without a complete answer, as a
    /// reset would. Half of those are processed first.
    #[arg(long, value_name = "RATE", default_value_t = 0.0)]
    pub reset_rate: f64,
    /// Seed of the error-rate dice.
    #[arg(long, value_name = "SEED", default_value_t = 1)]
    pub fault_seed: u64,
    /// The status of the `--error-rate` errors (default 503; e.g. 500).
    #[arg(long, value_name = "STATUS")]
    pub error_status: Option<u16>,
    /// Quote the request's `Authorization` header in every error body: those the fault layer
    /// sends (401, 429, 5xx), the emulator's own (400, 404, 409, …) and the token URL's refusals,
    /// as some vendors and proxies do: a client must never print it.
    #[arg(long)]
    pub echo_authorization: bool,
    /// Quote the whole request — method, path and query, every header, the body — in every
    /// error body (as `--echo-authorization` lists them), in four forms: plain, URL-encoded,
    /// base64 and base64url, as a debugging proxy or a careless vendor might. A client must
    /// print none of them.
    #[arg(long)]
    pub echo_request: bool,
}

/// Whose error bodies to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vendor {
    /// `{"externalMessage", "errorNumber", "profitLogReference"}`.
    Afas,
    /// RFC 7644 error messages.
    Scim,
    /// Google APIs: `{"error": {"code", "message", "errors": [{"domain", "reason", "message"}]}}`.
    Google,
    /// ManusPlus [I]: `{"error", "error_description"}` (OAuth-style; no published format).
    ManusPlus,
    /// `{"error": ["…"]}` [I: Recruitee's error shape is not documented publicly].
    Recruitee,
    /// Revolut Business: `{"code": 401, "message": "…"}`.
    Revolut,
}

/// An error response in the vendor's format.
pub fn error(vendor: Vendor, status: StatusCode, message: &str) -> Response {
    let (body, media) = error_body(vendor, status, message);
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    response
}

/// The body and media type of [`error`].
fn error_body(
    vendor: Vendor,
    status: StatusCode,
    message: &str,
) -> (serde_json::Value, &'static str) {
    match vendor {
        Vendor::Afas => (
            serde_json::json!({
                "externalMessage": message,
                "errorNumber": -2147024809,
                "profitLogReference": "sandbox",
            }),
            "application/json",
        ),
        Vendor::Scim => (
            serde_json::json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                "status": status.as_u16().to_string(),
                "detail": message,
            }),
            "application/scim+json",
        ),
        Vendor::Recruitee => (
            serde_json::json!({ "error": [message] }),
            "application/json",
        ),
        Vendor::Revolut => (
            serde_json::json!({ "code": status.as_u16(), "message": message }),
            "application/json",
        ),
        Vendor::Google => (
            google_error_body(status, google_reason(status), message),
            "application/json; charset=UTF-8",
        ),
        Vendor::ManusPlus => (
            serde_json::json!({
                "error": status.canonical_reason().unwrap_or("error").to_lowercase().replace(' ', "_"),
                "error_description": message,
            }),
            "application/json",
        ),
    }
}

/// A Google error body with `reason` (`userRateLimitExceeded`, `invalid`, …).
pub fn google_error_body(status: StatusCode, reason: &str, message: &str) -> serde_json::Value {
    let domain = match reason {
        "userRateLimitExceeded" | "quotaExceeded" | "rateLimitExceeded" => "usageLimits",
        _ => "global",
    };
    serde_json::json!({
        "error": {
            "code": status.as_u16(),
            "message": message,
            "errors": [{ "domain": domain, "reason": reason, "message": message }],
        }
    })
}

fn google_reason(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authError",
        403 => "forbidden",
        404 => "notFound",
        429 => "rateLimitExceeded",
        400 => "invalid",
        _ => "backendError",
    }
}

/// The credentials an emulator that grants tokens was sent (assertions) and issued (access
/// tokens), in order: for a test to look for in everything a client printed and wrote.
pub type Credentials = Arc<Mutex<Vec<String>>>;

/// Checks a presented `Authorization` header for emulators that issue tokens themselves
/// (Google, ManusPlus): `Err(message)` is a 401 with that message.
pub type TokenCheck = Arc<dyn Fn(Option<&str>) -> Result<(), String> + Send + Sync>;

/// Fault and credential state of one emulator.
pub struct Gate {
    vendor: Vendor,
    faults: Faults,
    /// The `Authorization` header value that is accepted.
    authorization: String,
    /// Instead of `authorization`: the emulator's own check of issued tokens.
    check: Option<TokenCheck>,
    requests: AtomicU64,
    pages: AtomicU64,
    dice: Mutex<u64>,
    limiter: Option<DefaultDirectRateLimiter>,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("vendor", &self.vendor)
            .field("faults", &self.faults)
            .finish_non_exhaustive()
    }
}

impl Gate {
    /// A gate accepting `authorization` and injecting `faults`.
    pub fn new(vendor: Vendor, authorization: String, faults: Faults) -> Gate {
        let limiter = std::num::NonZeroU32::new(faults.rate_limit).map(|n| {
            let burst = std::num::NonZeroU32::new((n.get() / 10).max(1)).unwrap_or(n);
            RateLimiter::direct(Quota::per_second(n).allow_burst(burst))
        });
        Gate {
            vendor,
            dice: Mutex::new(faults.fault_seed),
            faults,
            authorization,
            check: None,
            requests: AtomicU64::new(0),
            pages: AtomicU64::new(0),
            limiter,
        }
    }

    /// A gate that asks `check` about the presented token instead of comparing it with one
    /// value (`expire_token_after` is then the emulator's business too).
    pub fn with_check(vendor: Vendor, check: TokenCheck, faults: Faults) -> Gate {
        let mut gate = Gate::new(vendor, String::new(), faults);
        gate.check = Some(check);
        gate
    }

    /// Requests seen so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Called once per page served: true when this page must be cut short.
    pub fn cut_this_page(&self) -> bool {
        let n = self.pages.fetch_add(1, Ordering::Relaxed) + 1;
        self.faults
            .short_page_every
            .is_some_and(|k| k > 0 && n.is_multiple_of(k))
    }

    /// A roll of the dice in `[0, 1)` (SplitMix64).
    fn roll(&self) -> f64 {
        let mut state = self.dice.lock().unwrap_or_else(|e| e.into_inner());
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl Faults {
    /// Error bodies quote the request (or its `Authorization` header).
    fn echoes(&self) -> bool {
        self.echo_authorization || self.echo_request
    }
}

/// `message`, quoting the presented `Authorization` header, and the whole request (`dump`),
/// when the faults say so.
fn echoed(faults: &Faults, message: &str, presented: Option<&str>, dump: Option<&str>) -> String {
    let mut out = match (faults.echo_authorization, presented) {
        (true, Some(header)) => format!("{message} (the request had Authorization: {header})"),
        (true, None) => format!("{message} (the request had no Authorization header)"),
        (false, _) => message.to_owned(),
    };
    if let Some(dump) = dump {
        use base64::Engine;
        let encoded =
            percent_encoding::utf8_percent_encode(dump, percent_encoding::NON_ALPHANUMERIC);
        out.push_str(&format!(
            " [request: {dump}] [urlencoded: {encoded}] [base64: {}] [base64url: {}]",
            base64::engine::general_purpose::STANDARD.encode(dump),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(dump),
        ));
    }
    out
}

/// The request as text: request line, headers, blank line, body. The body is buffered and put
/// back, so the emulator behind sees the request unchanged.
async fn dump(request: Request) -> (Request, String) {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 16 << 20)
        .await
        .unwrap_or_default();
    let mut text = format!("{} {}\n", parts.method, parts.uri);
    for (name, value) in &parts.headers {
        text.push_str(&format!(
            "{name}: {}\n",
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    text.push('\n');
    text.push_str(&String::from_utf8_lossy(&bytes));
    (
        Request::from_parts(parts, axum::body::Body::from(bytes)),
        text,
    )
}

/// The presented `Authorization` header and, when the faults echo the request, the request as
/// text (the request itself is given back unchanged).
async fn inspect(f: &Faults, request: Request) -> (Request, Option<String>, Option<String>) {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if f.echo_request {
        let (request, text) = dump(request).await;
        (request, presented, Some(text))
    } else {
        (request, presented, None)
    }
}

/// `response` as it is, or, when it is an error (4xx, 5xx) and the faults echo, with its
/// message quoting the request (`say`): an emulator's own refusals (a 400 for a bad field, a
/// token URL's `invalid_grant`) carry what they were sent as the injected errors do. A body
/// of another shape (an extractor's plain-text rejection) becomes the vendor's error body.
async fn echo_into(
    response: Response,
    vendor: Vendor,
    f: &Faults,
    say: &(dyn Fn(&str) -> String + Send + Sync),
) -> Response {
    let status = response.status();
    if !f.echoes() || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 16 << 20)
        .await
        .unwrap_or_default();
    let mut json = serde_json::from_slice::<serde_json::Value>(&bytes).ok();
    let quoted = json.as_mut().is_some_and(|v| quote_in(v, say));
    let body = match json {
        Some(v) if quoted => v.to_string(),
        _ => {
            let text = String::from_utf8_lossy(&bytes);
            let text = match text.trim() {
                "" => status.canonical_reason().unwrap_or("error"),
                t => t,
            };
            let (body, media) = error_body(vendor, status, &say(text));
            parts
                .headers
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
            body.to_string()
        }
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(body))
}

/// Puts `say(message)` in place of an error body's message, whichever vendor's shape it has;
/// false when it has none of them.
fn quote_in(v: &mut serde_json::Value, say: &(dyn Fn(&str) -> String + Send + Sync)) -> bool {
    use serde_json::Value;
    let Some(obj) = v.as_object_mut() else {
        return false;
    };
    for key in ["error_description", "externalMessage", "detail", "message"] {
        if let Some(Value::String(m)) = obj.get_mut(key) {
            *m = say(m);
            return true;
        }
    }
    let code = match obj.get_mut("error") {
        // Google APIs: {"error": {"message"}}.
        Some(Value::Object(e)) => {
            return match e.get_mut("message") {
                Some(Value::String(m)) => {
                    *m = say(m);
                    true
                }
                _ => false,
            };
        }
        // Recruitee: {"error": ["…"]}.
        Some(Value::Array(list)) => {
            return match list.first_mut() {
                Some(Value::String(m)) => {
                    *m = say(m);
                    true
                }
                _ => false,
            };
        }
        // OAuth without a description: {"error": "unsupported_grant_type"}.
        Some(Value::String(code)) => code.clone(),
        _ => return false,
    };
    obj.insert("error_description".to_owned(), Value::String(say(&code)));
    true
}

/// `router` (a token URL, which takes no `Authorization` header and sits outside a [`Gate`])
/// with its error bodies quoting the request when `faults` echo; otherwise unchanged. No other
/// fault applies to it.
pub fn echoing(router: Router, vendor: Vendor, faults: &Faults) -> Router {
    if !faults.echoes() {
        return router;
    }
    let state = Arc::new((vendor, faults.clone()));
    router.layer(middleware::from_fn_with_state(state, echo_fn))
}

async fn echo_fn(
    State(state): State<Arc<(Vendor, Faults)>>,
    request: Request,
    next: Next,
) -> Response {
    let (vendor, f) = &*state;
    let (request, presented, dumped) = inspect(f, request).await;
    let response = next.run(request).await;
    let say = |message: &str| echoed(f, message, presented.as_deref(), dumped.as_deref());
    echo_into(response, *vendor, f, &say).await
}

fn throttled(retry_after: u64, vendor: Vendor, message: &str) -> Response {
    let mut r = error(vendor, StatusCode::TOO_MANY_REQUESTS, message);
    if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

async fn gate(State(gate): State<Arc<Gate>>, request: Request, next: Next) -> Response {
    let n = gate.requests.fetch_add(1, Ordering::Relaxed) + 1;
    let f = &gate.faults;
    if f.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(f.latency_ms)).await;
    }
    let (request, presented, dumped) = inspect(f, request).await;
    let say = |message: &str| echoed(f, message, presented.as_deref(), dumped.as_deref());
    if let Some(limiter) = &gate.limiter
        && limiter.check().is_err()
    {
        return throttled(1, gate.vendor, &say("too many requests"));
    }
    if let Some(check) = &gate.check {
        if let Err(why) = check(presented.as_deref()) {
            return error(gate.vendor, StatusCode::UNAUTHORIZED, &say(&why));
        }
    } else if presented.as_deref() != Some(gate.authorization.as_str()) {
        return error(gate.vendor, StatusCode::UNAUTHORIZED, &say("invalid token"));
    }
    if gate.check.is_none() && f.expire_token_after.is_some_and(|k| n > k) {
        return error(
            gate.vendor,
            StatusCode::UNAUTHORIZED,
            &say("the token has expired"),
        );
    }
    if f.throttle_every
        .is_some_and(|k| k > 0 && n.is_multiple_of(k))
    {
        return throttled(f.retry_after, gate.vendor, &say("too many requests"));
    }
    if f.reset_rate > 0.0 && gate.roll() < f.reset_rate {
        if gate.roll() < 0.5 {
            let _ = next.run(request).await;
        }
        return reset();
    }
    if f.slow_create_ms > 0 && request.method() == axum::http::Method::POST {
        // In a task of its own: the create completes even when the client hangs up, as a slow
        // server's does.
        let delay = Duration::from_millis(f.slow_create_ms);
        let task = tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            next.run(request).await
        });
        let response = task
            .await
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
        return echo_into(response, gate.vendor, f, &say).await;
    }
    if f.error_rate > 0.0 && gate.roll() < f.error_rate {
        // Half the time the request is processed and only the answer is lost.
        if gate.roll() < 0.5 {
            let _ = next.run(request).await;
        }
        let status = f
            .error_status
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        return error(
            gate.vendor,
            status,
            &say("the service is temporarily unavailable"),
        );
    }
    let response = next.run(request).await;
    echo_into(response, gate.vendor, f, &say).await
}

/// A response whose body fails right after the status line: hyper drops the connection
/// mid-answer, which the client sees as a reset.
fn reset() -> Response {
    Response::new(axum::body::Body::new(ResetBody))
}

/// A body whose first frame is an error.
struct ResetBody;

impl axum::body::HttpBody for ResetBody {
    type Data = axum::body::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::task::Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection reset by the sandbox",
        ))))
    }
}

/// Puts `gate` in front of `router`.
pub fn guarded(router: Router, gate: Arc<Gate>) -> Router {
    router.layer(middleware::from_fn_with_state(gate, gate_fn))
}

// `from_fn_with_state` wants a plain fn item.
async fn gate_fn(state: State<Arc<Gate>>, request: Request, next: Next) -> Response {
    gate(state, request, next).await
}

/// A fault-injecting proxy in front of another server (`upstream`, e.g.
/// `http://127.0.0.1:8080`): the same faults as the emulators', for servers nobody here wrote
/// (`scim2-server`). Requests are forwarded with their method, path, query, body and headers;
/// `authorization` is the header value the proxy accepts (and forwards).
pub fn proxy(upstream: &str, vendor: Vendor, authorization: &str, faults: Faults) -> Router {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let gate = Arc::new(Gate::new(vendor, authorization.to_owned(), faults));
    let state = Arc::new((
        reqwest::Client::new(),
        upstream.trim_end_matches('/').to_owned(),
    ));
    guarded(Router::new().fallback(forward).with_state(state), gate)
}

async fn forward(
    State(state): State<Arc<(reqwest::Client, String)>>,
    request: Request,
) -> Response {
    let (client, upstream) = &*state;
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 64 << 20).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut out = client.request(parts.method, format!("{upstream}{path}"));
    for (name, value) in &parts.headers {
        if name != header::HOST && name != header::CONTENT_LENGTH {
            out = out.header(name, value);
        }
    }
    let answer = match out.body(body).send().await {
        Ok(a) => a,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let status = answer.status();
    let headers = answer.headers().clone();
    let bytes = answer.bytes().await.unwrap_or_default();
    let mut response = (status, bytes).into_response();
    for name in [header::CONTENT_TYPE, header::ETAG, header::LOCATION] {
        if let Some(v) = headers.get(&name) {
            response.headers_mut().insert(name, v.clone());
        }
    }
    response
}

/// A server running on a background thread until dropped.
#[derive(Debug)]
pub struct Running {
    /// `http://127.0.0.1:PORT`.
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// `http://host:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serves `router` on 127.0.0.1:`port` (0: any free port) on a background thread.
pub fn spawn(router: Router, port: u16) -> std::io::Result<Running> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                return;
            };
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
    });
    Ok(Running {
        addr,
        shutdown: Some(tx),
        thread: Some(thread),
    })
}

/// Serves `router` on `listener` until the process ends (`orgsync sandbox`).
pub fn serve_forever(router: Router, listener: std::net::TcpListener) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        axum::serve(listener, router).await
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reset_is_a_transport_error_for_the_client() {
        let router = Router::new().route("/", axum::routing::get(|| async { reset() }));
        let server = spawn(router, 0).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _ = rustls::crypto::ring::default_provider().install_default();
        let result = rt.block_on(async {
            let r = reqwest::get(server.url()).await?;
            r.bytes().await
        });
        assert!(result.is_err(), "{result:?}");
    }
}
