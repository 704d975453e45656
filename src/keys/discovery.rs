//! Finding an issuer's `jwks_uri`: RFC 8414 metadata first, then OpenID Connect Discovery.
//!
//! The metadata's `issuer` must equal the configured issuer exactly (RFC 8414 §3.3), or the
//! document is not used: otherwise one issuer's metadata could point us at another's keys.

use super::fetch::{UrlPolicy, get_bounded};
use crate::error::KeySourceError;
use reqwest::Url;

/// The metadata locations for `issuer`, in the order they are tried.
pub(crate) fn well_known_urls(issuer: &Url) -> Vec<Url> {
    let path = issuer.path().trim_end_matches('/');
    let mut urls = Vec::with_capacity(2);
    // RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path.
    let mut rfc8414 = issuer.clone();
    rfc8414.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
    rfc8414.set_query(None);
    urls.push(rfc8414);
    // OpenID Connect Discovery 1.0 §4: appended to the issuer.
    let mut openid = issuer.clone();
    openid.set_path(&format!("{path}/.well-known/openid-configuration"));
    openid.set_query(None);
    urls.push(openid);
    urls
}

/// Fetches the metadata and returns its `jwks_uri`, which must be a URL `urls` allows.
pub(crate) async fn discover_jwks_uri(
    client: &reqwest::Client,
    issuer: &str,
    issuer_url: &Url,
    max_bytes: usize,
    urls: UrlPolicy,
) -> Result<Url, KeySourceError> {
    #[derive(serde::Deserialize)]
    struct Metadata {
        issuer: String,
        jwks_uri: Option<String>,
    }
    let mut last_failure = String::from("no metadata location");
    for url in well_known_urls(issuer_url) {
        let body = match get_bounded(client, &url, max_bytes, None, urls).await {
            Ok(fetched) => fetched.body.unwrap_or_default(),
            Err(e) => {
                tracing::debug!(%url, error = %e, "metadata not found here");
                last_failure = e.to_string();
                continue;
            }
        };
        let invalid = |reason: String| KeySourceError::InvalidDocument {
            url: url.to_string(),
            reason,
        };
        let metadata: Metadata =
            serde_json::from_slice(&body).map_err(|e| invalid(e.to_string()))?;
        if metadata.issuer != issuer {
            return Err(KeySourceError::IssuerMismatch {
                expected: issuer.to_owned(),
                found: metadata.issuer,
            });
        }
        let jwks_uri = metadata
            .jwks_uri
            .ok_or_else(|| invalid("no `jwks_uri`".into()))?;
        let jwks_uri = Url::parse(&jwks_uri).map_err(|e| invalid(format!("`jwks_uri`: {e}")))?;
        if !urls.allows(&jwks_uri) {
            return Err(invalid(format!("`jwks_uri` {jwks_uri} is not https")));
        }
        tracing::info!(%issuer, %url, %jwks_uri, "issuer metadata discovered");
        return Ok(jwks_uri);
    }
    Err(KeySourceError::Discovery {
        issuer: issuer.to_owned(),
        reason: last_failure,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(issuer: &str) -> Vec<String> {
        let u = Url::parse(issuer).expect("url");
        well_known_urls(&u).into_iter().map(String::from).collect()
    }

    #[test]
    fn rfc8414_inserts_and_openid_appends() {
        assert_eq!(
            urls("https://as.example"),
            vec![
                "https://as.example/.well-known/oauth-authorization-server",
                "https://as.example/.well-known/openid-configuration"
            ]
        );
        assert_eq!(
            urls("https://as.example/tenant/one/"),
            vec![
                "https://as.example/.well-known/oauth-authorization-server/tenant/one",
                "https://as.example/tenant/one/.well-known/openid-configuration"
            ]
        );
    }
}
