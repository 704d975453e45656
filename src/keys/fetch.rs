//! Bounded HTTP GETs for JWKS and metadata documents: https only (loopback excepted), a
//! time limit, a size cap, and few redirects.

use crate::error::{ConfigError, KeySourceError};
use reqwest::Url;
use std::net::IpAddr;
use std::time::Duration;

/// Redirects followed at most, each to an allowed URL.
const MAX_REDIRECTS: usize = 3;

/// The `User-Agent` of the client this crate builds.
pub(crate) const USER_AGENT: &str = concat!("jwt-access-token/", env!("CARGO_PKG_VERSION"));

/// Which URLs one key source may fetch: https always; plain http only to a loopback host, and
/// only when the configured URL is itself plain http on loopback (development and tests).
/// Metadata (`jwks_uri`) and redirects come from the issuer, so a remote https issuer (say, a
/// tenant's own identity provider) can never point this server at its own loopback services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UrlPolicy {
    loopback_http: bool,
}

impl UrlPolicy {
    /// The policy for a key source configured with `url` (already checked by
    /// [`parse_allowed_url`]).
    pub(crate) fn for_configured(url: &Url) -> Self {
        UrlPolicy {
            loopback_http: url.scheme() == "http" && is_loopback(url),
        }
    }

    /// Whether `url` may be fetched under this policy.
    pub(crate) fn allows(self, url: &Url) -> bool {
        match url.scheme() {
            "https" => true,
            "http" => self.loopback_http && is_loopback(url),
            _ => false,
        }
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Parses a configured URL and checks it is allowed.
pub(crate) fn parse_allowed_url(s: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(s).map_err(|e| ConfigError::InvalidUrl {
        url: s.to_owned(),
        reason: e.to_string(),
    })?;
    // What the operator configures may be plain http on loopback.
    if !(UrlPolicy {
        loopback_http: true,
    })
    .allows(&url)
    {
        return Err(ConfigError::InsecureUrl(s.to_owned()));
    }
    Ok(url)
}

/// The client this crate uses when none is given; its redirects follow `urls`.
pub(crate) fn default_client(urls: UrlPolicy) -> Result<reqwest::Client, ConfigError> {
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error("too many redirects")
        } else if !urls.allows(attempt.url()) {
            attempt.error("redirect to a URL that is not https")
        } else {
            attempt.follow()
        }
    });
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .redirect(policy)
        .build()
        .map_err(|e| ConfigError::Invalid(format!("cannot build the HTTP client: {e}")))
}

/// What one GET brought back.
#[derive(Debug)]
pub(crate) struct Fetched {
    /// The body; `None` for 304 Not Modified.
    pub body: Option<Vec<u8>>,
    /// The `ETag`, for the next conditional request.
    pub etag: Option<String>,
    /// How long the answer says it stays fresh (`Cache-Control: max-age`, else `Expires`).
    pub max_age: Option<Duration>,
    pub status: u16,
}

/// GETs `url`: 200 (or 304 when `etag` is given) with a body of at most `max_bytes`, ending on
/// a URL `urls` allows. The caller bounds the time.
pub(crate) async fn get_bounded(
    client: &reqwest::Client,
    url: &Url,
    max_bytes: usize,
    etag: Option<&str>,
    urls: UrlPolicy,
) -> Result<Fetched, KeySourceError> {
    let fetch_error = |e: reqwest::Error| KeySourceError::Fetch {
        url: url.to_string(),
        reason: e.to_string(),
    };
    let mut request = client
        .get(url.clone())
        .header(http::header::ACCEPT, "application/json");
    if let Some(etag) = etag {
        request = request.header(http::header::IF_NONE_MATCH, etag);
    }
    let mut response = request.send().await.map_err(fetch_error)?;
    // A caller-supplied client may follow redirects anywhere: check where we ended up.
    if !urls.allows(response.url()) {
        return Err(KeySourceError::Fetch {
            url: url.to_string(),
            reason: format!("redirected to a URL that is not https: {}", response.url()),
        });
    }
    let status = response.status().as_u16();
    let headers = response.headers();
    let etag_out = headers
        .get(http::header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let max_age = max_age(headers);
    if status == 304 && etag.is_some() {
        return Ok(Fetched {
            body: None,
            etag: etag_out.or(etag.map(str::to_owned)),
            max_age,
            status,
        });
    }
    if status != 200 {
        return Err(KeySourceError::Status {
            url: url.to_string(),
            status,
        });
    }
    let too_large = || KeySourceError::TooLarge {
        url: url.to_string(),
        limit: max_bytes,
    };
    if response
        .content_length()
        .is_some_and(|n| n > max_bytes as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(fetch_error)? {
        if body.len() + chunk.len() > max_bytes {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Fetched {
        body: Some(body),
        etag: etag_out,
        max_age,
        status,
    })
}

/// The freshness lifetime the server gives (RFC 9111 §4.2.1): `Cache-Control: max-age`
/// first; `no-cache` / `no-store` mean zero; else `Expires` minus `Date` (or now).
pub(crate) fn max_age(headers: &http::HeaderMap) -> Option<Duration> {
    let directives = headers
        .get_all(http::header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|d| d.trim().to_ascii_lowercase());
    let mut max_age = None;
    for directive in directives {
        if directive == "no-cache" || directive == "no-store" {
            return Some(Duration::ZERO);
        }
        if let Some(secs) = directive.strip_prefix("max-age=") {
            max_age = secs
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    if max_age.is_some() {
        return max_age;
    }
    let date = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok())
    };
    let expires = date(http::header::EXPIRES)?;
    let now = date(http::header::DATE).unwrap_or_else(std::time::SystemTime::now);
    Some(expires.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                http::HeaderValue::from_str(v).expect("value"),
            );
        }
        h
    }

    #[test]
    fn freshness_from_cache_control_and_expires() {
        let secs = |pairs: &[(&str, &str)]| max_age(&headers(pairs)).map(|d| d.as_secs());
        assert_eq!(
            secs(&[("cache-control", "public, max-age=3600")]),
            Some(3600)
        );
        assert_eq!(secs(&[("cache-control", "max-age=60, no-cache")]), Some(0));
        assert_eq!(secs(&[("cache-control", "no-store")]), Some(0));
        assert_eq!(secs(&[("cache-control", "max-age=abc")]), None);
        assert_eq!(
            secs(&[
                ("date", "Fri, 04 Dec 2026 10:00:00 GMT"),
                ("expires", "Fri, 04 Dec 2026 11:00:00 GMT")
            ]),
            Some(3600)
        );
        assert_eq!(
            secs(&[
                ("date", "Fri, 04 Dec 2026 10:00:00 GMT"),
                ("expires", "Fri, 04 Dec 2026 09:00:00 GMT")
            ]),
            Some(0)
        );
        assert_eq!(
            secs(&[
                ("cache-control", "max-age=5"),
                ("expires", "Fri, 04 Dec 2099 11:00:00 GMT")
            ]),
            Some(5)
        );
        assert_eq!(secs(&[("expires", "0")]), None);
        assert_eq!(secs(&[]), None);
    }

    #[test]
    fn loopback_http_only_when_the_configured_url_is_loopback_http() {
        let url = |s: &str| Url::parse(s).expect("url");
        let remote = UrlPolicy::for_configured(&url("https://idp.example/jwks"));
        let local = UrlPolicy::for_configured(&url("http://127.0.0.1:8080/jwks"));
        let local_https = UrlPolicy::for_configured(&url("https://localhost/jwks"));
        for target in [
            "http://127.0.0.1:2375/containers/json",
            "http://localhost:8500/v1/kv/secret",
            "http://[::1]/admin",
        ] {
            assert!(!remote.allows(&url(target)), "{target}");
            assert!(!local_https.allows(&url(target)), "{target}");
            assert!(local.allows(&url(target)), "{target}");
        }
        for policy in [remote, local, local_https] {
            assert!(policy.allows(&url("https://keys.example/jwks")));
            assert!(!policy.allows(&url("http://keys.example/jwks")));
            assert!(!policy.allows(&url("http://169.254.169.254/latest/meta-data")));
            assert!(!policy.allows(&url("file:///etc/passwd")));
        }
    }

    #[test]
    fn only_https_or_loopback_http() {
        for ok in [
            "https://idp.example/jwks",
            "http://127.0.0.1:8080/jwks",
            "http://127.8.9.1/jwks",
            "http://localhost/jwks",
            "http://[::1]:9/jwks",
        ] {
            assert!(parse_allowed_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://idp.example/jwks",
            "http://10.0.0.1/jwks",
            "http://localhost.evil.example/jwks",
            "ftp://idp.example/jwks",
            "file:///etc/passwd",
        ] {
            assert!(
                matches!(parse_allowed_url(bad), Err(ConfigError::InsecureUrl(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            parse_allowed_url("not a url"),
            Err(ConfigError::InvalidUrl { .. })
        ));
    }
}
