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

/// Whether a URL may be fetched: https, or http to a loopback host (for development and
/// tests); never anything else.
pub(crate) fn is_allowed_url(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => is_loopback(url),
        _ => false,
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
    if !is_allowed_url(&url) {
        return Err(ConfigError::InsecureUrl(s.to_owned()));
    }
    Ok(url)
}

/// The client this crate uses when none is given.
pub(crate) fn default_client() -> Result<reqwest::Client, ConfigError> {
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error("too many redirects")
        } else if !is_allowed_url(attempt.url()) {
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

/// GETs `url` and returns the body, if the answer is 200 and at most `max_bytes` long.
pub(crate) async fn get_bounded(
    client: &reqwest::Client,
    url: &Url,
    timeout: Duration,
    max_bytes: usize,
) -> Result<Vec<u8>, KeySourceError> {
    let fetch_error = |e: reqwest::Error| KeySourceError::Fetch {
        url: url.to_string(),
        reason: e.to_string(),
    };
    let work = async {
        let mut response = client
            .get(url.clone())
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(fetch_error)?;
        // A caller-supplied client may follow redirects anywhere: check where we ended up.
        if !is_allowed_url(response.url()) {
            return Err(KeySourceError::Fetch {
                url: url.to_string(),
                reason: format!("redirected to a URL that is not https: {}", response.url()),
            });
        }
        if response.status() != reqwest::StatusCode::OK {
            return Err(KeySourceError::Status {
                url: url.to_string(),
                status: response.status().as_u16(),
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
        Ok(body)
    };
    // tokio's timer (not reqwest's) so that the whole exchange, body included, is bounded
    // and tests can drive it with a paused clock.
    tokio::time::timeout(timeout, work)
        .await
        .unwrap_or_else(|_| {
            Err(KeySourceError::Fetch {
                url: url.to_string(),
                reason: format!("no complete answer within {timeout:?}"),
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

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
