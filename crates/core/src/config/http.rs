//! What every connector that speaks HTTP shares: the timeout and retries block written at the
//! connector's own level, and the check that a configured URL is one paths can be added to.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::error::{At, ConfigError};

/// How orgsync talks to a system over HTTP: the keys every API connector has, written at the
/// connector's own level (`source.timeout_secs`, `target.retries`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HttpConfig {
    /// Seconds before one request is given up. The system may still finish it: a create whose
    /// answer did not come is looked up before it is ever sent again.
    #[serde(default = "default_timeout_secs")]
    #[schemars(range(min = 1))]
    pub timeout_secs: u64,
    /// Retries of a request that failed with 429 (or the system's own "over quota" answer), a
    /// 5xx or a connection error, with exponential backoff and jitter; a `Retry-After` from the
    /// server is honoured. A create whose answer was lost is looked up, never re-sent blindly.
    /// 0: no retries.
    #[serde(default = "default_retries")]
    pub retries: u32,
}

impl Default for HttpConfig {
    fn default() -> HttpConfig {
        HttpConfig {
            timeout_secs: default_timeout_secs(),
            retries: default_retries(),
        }
    }
}

fn default_timeout_secs() -> u64 {
    60
}
fn default_retries() -> u32 {
    5
}

/// An absolute `http`/`https` URL with a host and no query or fragment.
pub(crate) fn http_url(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url.trim()).map_err(|e| e.to_string())?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "its scheme is `{}`, not http or https",
            parsed.scheme()
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("it has no host".to_owned());
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err("a base URL has no `?query` or `#fragment`: paths are added to it".to_owned());
    }
    Ok(())
}

/// A URL that is not one, with the connector's usual URL as the example to follow.
pub(crate) fn url_errors(
    pointer: &str,
    url: &str,
    example: &str,
    at: At<'_>,
    errs: &mut Vec<ConfigError>,
) {
    if let Err(why) = http_url(url) {
        errs.push(
            at(pointer, format!("\"{url}\" is not an http(s) URL: {why}"))
                .hint(format!("write the whole URL, like `{example}`")),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_http_with_a_host() {
        assert!(http_url("https://app.example.com/scim/v2").is_ok());
        assert!(http_url("http://127.0.0.1:8402/scim/v2").is_ok());
        for bad in [
            "app.example.com/scim",
            "ftp://x.example/scim",
            "https://x.example/?a=1",
            "mailto:a@b.c",
            "",
        ] {
            assert!(http_url(bad).is_err(), "{bad}");
        }
    }
}
