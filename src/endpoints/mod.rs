//! The authorization server's endpoints for its JWT access tokens: introspection (RFC 7662),
//! which needs no token database, and revocation (RFC 7009), which declines them.
//!
//! Both are tower services for any request body (`B: http_body::Body`) that answer
//! `http::Response<http_body_util::Full<Bytes>>` and never fail (`Error = Infallible`), so
//! they mount as they are with axum's `Router::route_service`, or serve under hyper directly.
//! Both authenticate the calling client first (RFC 6749 §2.3.1: `client_secret_basic` and
//! `client_secret_post` with [`ClientSecrets`], anything else through
//! [`ClientAuthenticator`]).
//!
//! ```
//! use jwt_access_token::endpoints::{ClientSecrets, IntrospectionEndpoint, RevocationEndpoint};
//! use jwt_access_token::{AccessTokenVerifier, Algorithm, JwtAccessTokenIssuer, KeySet, SigningKey};
//! use jwt_access_token::{TokenRequest, Validator};
//! use http::{Request, StatusCode, header};
//! use http_body_util::BodyExt;
//! use std::time::Duration;
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let issuer = JwtAccessTokenIssuer::new("https://as.example", SigningKey::generate(Algorithm::ES256, "k1")?)?;
//!
//! // The authorization server verifies its own tokens with its own public keys, for every
//! // audience it mints for, on its own clock (no leeway).
//! let verifier = AccessTokenVerifier::new(
//!     Validator::new("https://as.example", ["https://api.example"])?.leeway(Duration::ZERO),
//!     KeySet::from_jwks(&issuer.jwks().to_string())?,
//! )?;
//! let clients = ClientSecrets::new().client("resource-server", "s3cret")?;
//! let introspect = IntrospectionEndpoint::new(verifier, clients.clone());
//! let revoke = RevocationEndpoint::new(clients);
//!
//! let token = issuer.mint(&TokenRequest::new("alice", "app", ["https://api.example"]).scope("items:read"))?;
//! let form = |path: &str, body: String| {
//!     Request::post(path)
//!         .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
//!         // client_secret_basic: "resource-server:s3cret"
//!         .header(header::AUTHORIZATION, "Basic cmVzb3VyY2Utc2VydmVyOnMzY3JldA==")
//!         .body(body)
//! };
//!
//! let response = introspect.clone().oneshot(form("/introspect", format!("token={token}"))?).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
//! let body: serde_json::Value = serde_json::from_slice(&response.into_body().collect().await?.to_bytes())?;
//! assert_eq!((body["active"].as_bool(), body["sub"].as_str()), (Some(true), Some("alice")));
//!
//! // A self-contained token cannot be revoked before it expires (RFC 7009 §2.2.1).
//! let response = revoke.clone().oneshot(form("/revoke", format!("token={token}"))?).await?;
//! assert_eq!(response.status(), StatusCode::BAD_REQUEST);
//! let body = response.into_body().collect().await?.to_bytes();
//! assert_eq!(&body[..], br#"{"error":"unsupported_token_type"}"#);
//!
//! // With axum, both mount as they are:
//! let app: axum::Router = axum::Router::new()
//!     .route_service("/introspect", introspect)
//!     .route_service("/revoke", revoke);
//! # Ok(()) }
//! ```
//!
//! Every answer carries `Cache-Control: no-store`. Requests are checked in this order, and
//! the first failure answers:
//!
//! | check | answer |
//! |---|---|
//! | method is `POST` | 405 with `Allow: POST` |
//! | `Content-Length`, then the body as read, within the cap (default 16 KiB) | 413 |
//! | `Content-Type: application/x-www-form-urlencoded`; the form decodes (UTF-8), no parameter repeated (RFC 6749 §3.2) | 400 `invalid_request` |
//! | client authentication | see [`ClientAuthError`]: 401 `invalid_client` (with `WWW-Authenticate: Basic` when Basic was attempted or is accepted), 400 `invalid_request` for several credentials, 503 when the authenticator's store is down |
//! | `token` present | 400 `invalid_request` |
//!
//! # Which tokens are JWT access tokens
//!
//! A token is recognised as one of this crate's tokens when it has exactly three
//! dot-separated segments and its first segment decodes to a JSON object whose `typ` is
//! `at+jwt` or `application/at+jwt` (RFC 9068 §2.1; any letter case). Nothing is verified
//! for the recognition itself; it only decides where the token goes. Opaque tokens, JWE, and
//! JWTs of other types (a JWT refresh token, an ID token) are the server's other tokens and go
//! to the pluggable fallback or handler.

mod client_auth;
mod introspection;
mod revocation;

pub use client_auth::{
    AuthenticatedClient, ClientAuthError, ClientAuthMethod, ClientAuthenticator,
    ClientSecretCredentials, ClientSecrets,
};
pub use introspection::{
    FallbackAnswer, FallbackRequest, IntrospectionEndpoint, IntrospectionFallback,
};
pub use revocation::{RevocationEndpoint, RevocationHandler, RevocationOutcome, RevocationRequest};

use crate::error::quoted_safe;
use crate::token::decode_segment;
use crate::token::header::is_access_token_type;
use bytes::Bytes;
use http::request::Parts;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body::Body;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use serde_json::{Value, json};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// A boxed, sendable future: what the pluggable parts ([`ClientAuthenticator`],
/// [`IntrospectionFallback`], [`RevocationHandler`]) return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The boxed error type of request bodies (what `http_body_util::Limited` needs).
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The default cap on a request body. A form with a token (at most 8 KiB by the validator's
/// default) and client credentials fits with room to spare.
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024;

/// The default `realm` of the `WWW-Authenticate: Basic` challenge.
const DEFAULT_REALM: &str = "oauth";

/// The decoded parameters of an `application/x-www-form-urlencoded` request body.
///
/// Parameters without a value are treated as omitted (RFC 6749 §3.1); a parameter given
/// twice is refused (RFC 6749 §3.2).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct FormParams {
    pairs: Vec<(String, String)>,
}

impl std::fmt::Debug for FormParams {
    /// Names only: values are tokens and secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set()
            .entries(self.pairs.iter().map(|(k, _)| k))
            .finish()
    }
}

/// Why a request body is not an acceptable form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormError {
    /// A name or value is not UTF-8 once percent-decoded.
    #[error("the form is not UTF-8")]
    NotUtf8,
    /// A parameter appears more than once (RFC 6749 §3.2).
    #[error("the parameter `{0}` is repeated")]
    Repeated(String),
}

impl FormParams {
    /// Decodes a form body: `+` is a space, `%XX` a byte, and the result must be UTF-8.
    pub fn parse(body: &[u8]) -> Result<Self, FormError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            let (name, value) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &pair[pair.len()..]),
            };
            let name = form_decode(name).ok_or(FormError::NotUtf8)?;
            let value = form_decode(value).ok_or(FormError::NotUtf8)?;
            if value.is_empty() {
                continue;
            }
            if pairs.iter().any(|(n, _)| *n == name) {
                return Err(FormError::Repeated(name));
            }
            pairs.push((name, value));
        }
        Ok(FormParams { pairs })
    }

    /// The value of `name`, if present and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every parameter, in the order received.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

/// `application/x-www-form-urlencoded` decoding of one name or value (WHATWG URL §5.1):
/// `+` is a space, `%XX` a byte (an invalid escape stays as it is), and UTF-8 is required.
pub(crate) fn form_decode(bytes: &[u8]) -> Option<String> {
    let spaced: Vec<u8> = bytes
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    let decoded: Vec<u8> = percent_encoding::percent_decode(&spaced).collect();
    String::from_utf8(decoded).ok()
}

/// Whether `token` is recognised as a JWT access token: three segments and a header whose
/// `typ` is `at+jwt` (see the [module docs](self#which-tokens-are-jwt-access-tokens)).
pub(crate) fn is_jwt_access_token(token: &str) -> bool {
    if !has_three_segments(token) {
        return false;
    }
    let Some(header) = token.split('.').next() else {
        return false;
    };
    let Ok(bytes) = decode_segment(header, "header is not base64url") else {
        return false;
    };
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(header)) => header
            .get("typ")
            .and_then(Value::as_str)
            .is_some_and(is_access_token_type),
        _ => false,
    }
}

/// Exactly three non-empty dot-separated segments: the shape of a compact JWS.
pub(crate) fn has_three_segments(token: &str) -> bool {
    let segments: Vec<&str> = token.split('.').collect();
    segments.len() == 3 && segments.iter().all(|s| !s.is_empty())
}

/// The response future of both endpoints: they never fail, every outcome is an answer.
pub struct ResponseFuture {
    inner: BoxFuture<'static, Response<Full<Bytes>>>,
}

impl ResponseFuture {
    fn new(future: impl Future<Output = Response<Full<Bytes>>> + Send + 'static) -> Self {
        ResponseFuture {
            inner: Box::pin(future),
        }
    }
}

impl Future for ResponseFuture {
    type Output = Result<Response<Full<Bytes>>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx).map(Ok)
    }
}

impl std::fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

/// What both endpoints share: the client authenticator, the Basic realm, the body cap.
#[derive(Clone)]
pub(crate) struct Front {
    pub(crate) authenticator: Arc<dyn ClientAuthenticator>,
    pub(crate) realm: Arc<str>,
    pub(crate) max_body_bytes: usize,
}

impl std::fmt::Debug for Front {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Front")
            .field("realm", &self.realm)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

/// A request that passed the checks every endpoint makes.
pub(crate) struct Accepted {
    pub(crate) client: AuthenticatedClient,
    pub(crate) token: String,
    pub(crate) token_type_hint: Option<String>,
}

impl Front {
    pub(crate) fn new(authenticator: impl ClientAuthenticator) -> Self {
        Front {
            authenticator: Arc::new(authenticator),
            realm: Arc::from(DEFAULT_REALM),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }

    /// Method, body, form, client authentication, `token`: in this order, the first failure
    /// is the answer.
    pub(crate) async fn accept<B>(
        &self,
        request: Request<B>,
    ) -> Result<Accepted, Response<Full<Bytes>>>
    where
        B: Body,
        B::Error: Into<BoxError>,
    {
        let (parts, form) = self.read_form(request).await?;
        let client = match self.authenticator.authenticate(&parts, &form).await {
            Ok(client) => client,
            Err(e) => return Err(self.client_auth_failed(&parts, &e)),
        };
        let Some(token) = form.get("token") else {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                Some("the `token` parameter is missing"),
            ));
        };
        Ok(Accepted {
            token: token.to_owned(),
            token_type_hint: form.get("token_type_hint").map(str::to_owned),
            client,
        })
    }

    async fn read_form<B>(
        &self,
        request: Request<B>,
    ) -> Result<(Parts, FormParams), Response<Full<Bytes>>>
    where
        B: Body,
        B::Error: Into<BoxError>,
    {
        let (parts, body) = request.into_parts();
        if parts.method != Method::POST {
            let mut response = oauth_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request",
                Some("the method must be POST"),
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            return Err(response);
        }
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.max_body_bytes as u64) {
            return Err(too_large());
        }
        if !is_form(&parts) {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                Some("the body must be application/x-www-form-urlencoded"),
            ));
        }
        let bytes = match Limited::new(body, self.max_body_bytes).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => return Err(too_large()),
            Err(e) => {
                tracing::debug!(error = %e, "endpoint request body could not be read");
                return Err(oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    Some("the request body could not be read"),
                ));
            }
        };
        match FormParams::parse(&bytes) {
            Ok(form) => Ok((parts, form)),
            Err(FormError::Repeated(_)) => Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                Some("a parameter is repeated"),
            )),
            Err(_) => Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                Some("the form is not valid UTF-8"),
            )),
        }
    }

    /// RFC 6749 §5.2: 401 `invalid_client`, with a Basic challenge when the client tried Basic
    /// (a MUST there) or the authenticator accepts it (RFC 9110 §11.6.1: a 401 names a scheme).
    fn client_auth_failed(&self, parts: &Parts, error: &ClientAuthError) -> Response<Full<Bytes>> {
        match error {
            ClientAuthError::Unavailable(reason) => {
                tracing::error!(%reason, "client authentication unavailable");
            }
            other => tracing::debug!(reason = %other, "client authentication failed"),
        }
        let mut response = oauth_error(error.status(), error.error_code(), error.description());
        if error.status() == StatusCode::UNAUTHORIZED
            && (basic_attempted(parts) || self.authenticator.accepts_basic())
        {
            let challenge = format!("Basic realm=\"{}\"", quoted_safe(&self.realm));
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
        }
        if error.status() == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

fn is_form(parts: &Parts) -> bool {
    parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| {
            essence
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Whether the request carries `Authorization: Basic …` (scheme in any letter case).
fn basic_attempted(parts: &Parts) -> bool {
    parts
        .headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .any(|v| {
            v.as_bytes()
                .get(..6)
                .is_some_and(|s| s.eq_ignore_ascii_case(b"basic "))
        })
}

fn too_large() -> Response<Full<Bytes>> {
    oauth_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "invalid_request",
        Some("the request body is too large"),
    )
}

/// A JSON answer with `Cache-Control: no-store`.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// An RFC 6749 §5.2 error answer.
pub(crate) fn oauth_error(
    status: StatusCode,
    code: &str,
    description: Option<&str>,
) -> Response<Full<Bytes>> {
    let body = match description {
        Some(d) => json!({"error": code, "error_description": d}),
        None => json!({"error": code}),
    };
    json_response(status, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_strictly() {
        let form = FormParams::parse(b"token=a.b.c&token_type_hint=access_token&x=%41+b%2B&empty=")
            .expect("form");
        assert_eq!(form.get("token"), Some("a.b.c"));
        assert_eq!(form.get("x"), Some("A b+"));
        assert_eq!(form.get("empty"), None);
        assert_eq!(form.iter().count(), 3);
        assert_eq!(
            FormParams::parse(b"token=a&token=b"),
            Err(FormError::Repeated("token".into()))
        );
        // An empty value counts as omitted, so it is no repetition.
        assert!(FormParams::parse(b"token=&token=b").is_ok());
        assert_eq!(FormParams::parse(b"token=%FF"), Err(FormError::NotUtf8));
        assert_eq!(form_decode(b"%zz%4"), Some("%zz%4".into()));
        assert_eq!(format!("{form:?}"), r#"{"token", "token_type_hint", "x"}"#);
    }

    #[test]
    fn jwt_access_tokens_are_recognised_by_shape_and_typ() {
        use crate::token::encode_segment;
        let with = |header: &str| format!("{}.e30.c2ln", encode_segment(header.as_bytes()));
        assert!(is_jwt_access_token(&with(
            r#"{"typ":"at+jwt","alg":"ES256"}"#
        )));
        assert!(is_jwt_access_token(&with(
            r#"{"typ":"Application/AT+JWT"}"#
        )));
        for not in [
            with(r#"{"typ":"JWT","alg":"ES256"}"#),
            with(r#"{"alg":"ES256"}"#),
            with(r#"["at+jwt"]"#),
            format!("{}.e30", encode_segment(br#"{"typ":"at+jwt"}"#)),
            format!("{}..c2ln", encode_segment(br#"{"typ":"at+jwt"}"#)),
            "opaque-refresh-token".into(),
            "a.b.c".into(),
            "a.b.c.d.e".into(),
        ] {
            assert!(!is_jwt_access_token(&not), "{not}");
        }
        assert!(has_three_segments("a.b.c"));
        assert!(!has_three_segments("a.b.c.d"));
    }
}
