//! Client authentication at the endpoints (RFC 6749 §2.3): `client_secret_basic` and
//! `client_secret_post` built in, anything else through [`ClientAuthenticator`].

use super::{BoxFuture, FormParams, form_decode};
use crate::error::ConfigError;
use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::request::Parts;
use http::{StatusCode, header};
use std::collections::HashMap;
use std::sync::Arc;

/// How a client authenticated, by its RFC 7591 `token_endpoint_auth_method` name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClientAuthMethod {
    /// HTTP Basic with the form-urlencoded client id and secret (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body (RFC 6749 §2.3.1).
    ClientSecretPost,
    /// Another method, by its registered name (`private_key_jwt`, `tls_client_auth`, ...).
    Other(String),
}

impl ClientAuthMethod {
    /// The registered name.
    pub fn as_str(&self) -> &str {
        match self {
            ClientAuthMethod::ClientSecretBasic => "client_secret_basic",
            ClientAuthMethod::ClientSecretPost => "client_secret_post",
            ClientAuthMethod::Other(name) => name,
        }
    }
}

/// A client whose credentials the endpoint accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthenticatedClient {
    /// The client identifier.
    pub client_id: String,
    /// How it authenticated.
    pub method: ClientAuthMethod,
}

impl AuthenticatedClient {
    /// A client authenticated with `method`.
    pub fn new(client_id: impl Into<String>, method: ClientAuthMethod) -> Self {
        AuthenticatedClient {
            client_id: client_id.into(),
            method,
        }
    }
}

/// Why client authentication failed, and the answer (RFC 6749 §5.2).
///
/// | variant | answer |
/// |---|---|
/// | `MissingCredentials`, `Malformed`, `UnsupportedMethod`, `InvalidCredentials` | 401 `invalid_client` |
/// | `MultipleCredentials` | 400 `invalid_request` (§5.2 names "more than one mechanism" there) |
/// | `Unavailable` | 503 `temporarily_unavailable`, `Retry-After: 5` |
///
/// The answer never says which of the 401 cases it was; the log does (debug level).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientAuthError {
    /// No client credentials at all.
    #[error("no client credentials in the request")]
    MissingCredentials,
    /// More than one mechanism (or Authorization header) in one request (RFC 6749 §2.3).
    #[error("the request uses more than one client authentication mechanism")]
    MultipleCredentials,
    /// Credentials that cannot be read (a broken Basic header, a secret without client id).
    #[error("malformed client credentials: {0}")]
    Malformed(&'static str),
    /// A method this authenticator (or this client's registration) does not accept.
    #[error("client authentication method {0:?} is not accepted")]
    UnsupportedMethod(String),
    /// Unknown client or wrong secret: deliberately one case.
    #[error("unknown client or wrong credentials")]
    InvalidCredentials,
    /// The authenticator's store could not be reached: says nothing about the client.
    #[error("client authentication is unavailable: {0}")]
    Unavailable(String),
}

impl ClientAuthError {
    /// The HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        match self {
            ClientAuthError::MultipleCredentials => StatusCode::BAD_REQUEST,
            ClientAuthError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// The OAuth `error` code of the answer.
    pub fn error_code(&self) -> &'static str {
        match self {
            ClientAuthError::MultipleCredentials => "invalid_request",
            ClientAuthError::Unavailable(_) => "temporarily_unavailable",
            _ => "invalid_client",
        }
    }

    /// The `error_description` sent to the client: the same for every 401.
    pub fn description(&self) -> Option<&'static str> {
        match self {
            ClientAuthError::MultipleCredentials => {
                Some("the request uses more than one client authentication mechanism")
            }
            ClientAuthError::Unavailable(_) => Some("client authentication is unavailable"),
            _ => Some("client authentication failed"),
        }
    }
}

/// Authenticates the client calling an endpoint.
///
/// [`ClientSecrets`] implements it for `client_secret_basic` and `client_secret_post`;
/// implement it for other methods (`private_key_jwt`, mutual TLS, a bearer token for the
/// resource server) or for secrets kept in a database. `parts` gives the headers and the
/// extensions (where a TLS terminator may put a client certificate); `form` the body.
///
/// ```
/// use jwt_access_token::endpoints::{AuthenticatedClient, BoxFuture, ClientAuthError};
/// use jwt_access_token::endpoints::{ClientAuthenticator, ClientSecretCredentials, FormParams};
///
/// struct FromDatabase;
///
/// impl ClientAuthenticator for FromDatabase {
///     fn authenticate<'a>(
///         &'a self,
///         parts: &'a http::request::Parts,
///         form: &'a FormParams,
///     ) -> BoxFuture<'a, Result<AuthenticatedClient, ClientAuthError>> {
///         Box::pin(async move {
///             let presented = ClientSecretCredentials::from_request(parts, form)?;
///             // Look the client up and compare the secret's hash in constant time here.
///             # let _ = presented;
///             Err(ClientAuthError::Unavailable("no database in this example".into()))
///         })
///     }
///
///     fn accepts_basic(&self) -> bool {
///         true
///     }
/// }
/// ```
pub trait ClientAuthenticator: Send + Sync + 'static {
    /// Authenticates the request's client, or says why not.
    fn authenticate<'a>(
        &'a self,
        parts: &'a Parts,
        form: &'a FormParams,
    ) -> BoxFuture<'a, Result<AuthenticatedClient, ClientAuthError>>;

    /// Whether HTTP Basic is accepted: then every 401 names it in `WWW-Authenticate`
    /// (otherwise only those answering a Basic attempt do). Default `false`.
    fn accepts_basic(&self) -> bool {
        false
    }
}

impl<T: ClientAuthenticator + ?Sized> ClientAuthenticator for Arc<T> {
    fn authenticate<'a>(
        &'a self,
        parts: &'a Parts,
        form: &'a FormParams,
    ) -> BoxFuture<'a, Result<AuthenticatedClient, ClientAuthError>> {
        (**self).authenticate(parts, form)
    }

    fn accepts_basic(&self) -> bool {
        (**self).accepts_basic()
    }
}

/// A client id and secret as presented, by `client_secret_basic` or `client_secret_post`.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecretCredentials {
    client_id: String,
    secret: String,
    method: ClientAuthMethod,
}

impl std::fmt::Debug for ClientSecretCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSecretCredentials")
            .field("client_id", &self.client_id)
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

impl ClientSecretCredentials {
    /// Reads the credentials of a request (RFC 6749 §2.3.1):
    ///
    /// - `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))`: both parts are
    ///   form-urlencoded before base64, so they are decoded after the split (a client that
    ///   does not encode a `%` or `+` in its secret will not match);
    /// - or `client_id` and `client_secret` in the form.
    ///
    /// More than one mechanism (Basic and a body secret, an `Authorization` header given
    /// twice, a `client_assertion` beside a secret) is [`ClientAuthError::MultipleCredentials`];
    /// a `client_id` in the body beside Basic is allowed only if it is the same id.
    pub fn from_request(parts: &Parts, form: &FormParams) -> Result<Self, ClientAuthError> {
        let mut headers = parts.headers.get_all(header::AUTHORIZATION).iter();
        let authorization = headers.next();
        let mechanisms = usize::from(authorization.is_some())
            + headers.count()
            + usize::from(form.get("client_secret").is_some())
            + usize::from(
                form.get("client_assertion").is_some()
                    || form.get("client_assertion_type").is_some(),
            );
        if mechanisms > 1 {
            return Err(ClientAuthError::MultipleCredentials);
        }
        if let Some(value) = authorization {
            let (client_id, secret) = basic_credentials(value.as_bytes())?;
            if form.get("client_id").is_some_and(|id| id != client_id) {
                return Err(ClientAuthError::Malformed(
                    "the body's client_id differs from the Basic credentials",
                ));
            }
            return Ok(ClientSecretCredentials {
                client_id,
                secret,
                method: ClientAuthMethod::ClientSecretBasic,
            });
        }
        if form.get("client_assertion").is_some() || form.get("client_assertion_type").is_some() {
            let kind = form
                .get("client_assertion_type")
                .unwrap_or("client_assertion");
            return Err(ClientAuthError::UnsupportedMethod(kind.to_owned()));
        }
        match (form.get("client_id"), form.get("client_secret")) {
            (Some(id), Some(secret)) => Ok(ClientSecretCredentials {
                client_id: id.to_owned(),
                secret: secret.to_owned(),
                method: ClientAuthMethod::ClientSecretPost,
            }),
            (None, Some(_)) => Err(ClientAuthError::Malformed(
                "client_secret without client_id",
            )),
            // A client id alone is the `none` method of public clients: no credentials.
            (_, None) => Err(ClientAuthError::MissingCredentials),
        }
    }

    /// The client identifier presented.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The secret presented.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// `client_secret_basic` or `client_secret_post`.
    pub fn method(&self) -> &ClientAuthMethod {
        &self.method
    }
}

/// Decodes `Basic <base64>` into the form-decoded client id and secret.
fn basic_credentials(value: &[u8]) -> Result<(String, String), ClientAuthError> {
    let malformed = ClientAuthError::Malformed;
    let value = std::str::from_utf8(value).map_err(|_| malformed("Authorization is not ASCII"))?;
    let (scheme, encoded) = value
        .split_once(' ')
        .ok_or(malformed("Authorization has no credentials"))?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(ClientAuthError::UnsupportedMethod(scheme.to_owned()));
    }
    let decoded = STANDARD
        .decode(encoded.trim_start_matches(' '))
        .map_err(|_| malformed("Basic credentials are not base64"))?;
    let (id, secret) = decoded
        .iter()
        .position(|b| *b == b':')
        .map(|i| (&decoded[..i], &decoded[i + 1..]))
        .ok_or(malformed("Basic credentials have no colon"))?;
    let id = form_decode(id).ok_or(malformed("Basic client id is not UTF-8"))?;
    let secret = form_decode(secret).ok_or(malformed("Basic secret is not UTF-8"))?;
    if id.is_empty() {
        return Err(malformed("Basic client id is empty"));
    }
    Ok((id, secret))
}

/// Client ids and secrets for `client_secret_basic` and `client_secret_post`.
///
/// Secrets are kept as SHA-256 digests and compared in constant time; an unknown client id
/// costs the same comparison, against a digest no secret has. Clone it to share it between
/// the endpoints (or wrap it in an `Arc`).
///
/// ```
/// use jwt_access_token::endpoints::{ClientAuthMethod, ClientSecrets};
///
/// let clients = ClientSecrets::new()
///     .client("api-gateway", "a long random secret")?
///     .client_with_method("legacy", "another one", ClientAuthMethod::ClientSecretPost)?;
/// # Ok::<(), jwt_access_token::ConfigError>(())
/// ```
#[derive(Clone, Default)]
pub struct ClientSecrets {
    clients: HashMap<String, Registered>,
}

#[derive(Clone)]
struct Registered {
    digest: Vec<u8>,
    /// The only method this client may use; `None`: either.
    method: Option<ClientAuthMethod>,
}

impl std::fmt::Debug for ClientSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.clients.keys()).finish()
    }
}

impl ClientSecrets {
    /// No clients yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A client that may use `client_secret_basic` or `client_secret_post`.
    pub fn client(
        self,
        client_id: impl Into<String>,
        secret: impl AsRef<[u8]>,
    ) -> Result<Self, ConfigError> {
        self.register(client_id.into(), secret.as_ref(), None)
    }

    /// A client that must use `method` (its registered `token_endpoint_auth_method`):
    /// `ClientSecretBasic` or `ClientSecretPost`.
    pub fn client_with_method(
        self,
        client_id: impl Into<String>,
        secret: impl AsRef<[u8]>,
        method: ClientAuthMethod,
    ) -> Result<Self, ConfigError> {
        if !matches!(
            method,
            ClientAuthMethod::ClientSecretBasic | ClientAuthMethod::ClientSecretPost
        ) {
            return Err(ConfigError::Invalid(format!(
                "ClientSecrets checks client secrets; {} needs its own ClientAuthenticator",
                method.as_str()
            )));
        }
        self.register(client_id.into(), secret.as_ref(), Some(method))
    }

    fn register(
        mut self,
        client_id: String,
        secret: &[u8],
        method: Option<ClientAuthMethod>,
    ) -> Result<Self, ConfigError> {
        if client_id.is_empty() {
            return Err(ConfigError::Empty("client id"));
        }
        if secret.is_empty() {
            return Err(ConfigError::Empty("client secret"));
        }
        if self.clients.contains_key(&client_id) {
            return Err(ConfigError::Invalid(format!(
                "client {client_id:?} is registered twice"
            )));
        }
        let digest = digest(&SHA256, secret).as_ref().to_vec();
        self.clients
            .insert(client_id, Registered { digest, method });
        Ok(self)
    }

    /// Checks the request's `client_secret_basic` or `client_secret_post` credentials.
    pub fn check(
        &self,
        parts: &Parts,
        form: &FormParams,
    ) -> Result<AuthenticatedClient, ClientAuthError> {
        let presented = ClientSecretCredentials::from_request(parts, form)?;
        let registered = self.clients.get(presented.client_id());
        // An unknown client is compared against a digest of nothing, which no secret has
        // (empty secrets are refused), so both cases cost one digest and one comparison.
        let unknown = digest(&SHA256, b"");
        let expected = registered.map_or(unknown.as_ref(), |r| r.digest.as_slice());
        let equal = verify_slices_are_equal(
            digest(&SHA256, presented.secret().as_bytes()).as_ref(),
            expected,
        )
        .is_ok();
        match registered {
            Some(r) if equal => match &r.method {
                Some(only) if *only != presented.method => Err(ClientAuthError::UnsupportedMethod(
                    presented.method.as_str().to_owned(),
                )),
                _ => Ok(AuthenticatedClient::new(
                    presented.client_id,
                    presented.method,
                )),
            },
            _ => Err(ClientAuthError::InvalidCredentials),
        }
    }
}

impl ClientAuthenticator for ClientSecrets {
    fn authenticate<'a>(
        &'a self,
        parts: &'a Parts,
        form: &'a FormParams,
    ) -> BoxFuture<'a, Result<AuthenticatedClient, ClientAuthError>> {
        Box::pin(std::future::ready(self.check(parts, form)))
    }

    fn accepts_basic(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Request;

    fn parts(authorization: &[&str]) -> Parts {
        let mut request = Request::post("/");
        for value in authorization {
            request = request.header(header::AUTHORIZATION, *value);
        }
        request.body(()).expect("request").into_parts().0
    }

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    fn form(body: &str) -> FormParams {
        FormParams::parse(body.as_bytes()).expect("form")
    }

    fn secrets() -> ClientSecrets {
        ClientSecrets::new()
            .client("rs", "s3cret")
            .and_then(|s| s.client("a b+c", "p%ss:wörd"))
            .and_then(|s| {
                s.client_with_method("post-only", "pw", ClientAuthMethod::ClientSecretPost)
            })
            .expect("clients")
    }

    #[test]
    fn basic_and_post_authenticate() {
        let s = secrets();
        assert_eq!(
            s.check(&parts(&[&basic("rs", "s3cret")]), &form("token=t")),
            Ok(AuthenticatedClient::new(
                "rs",
                ClientAuthMethod::ClientSecretBasic
            ))
        );
        assert_eq!(
            s.check(&parts(&[]), &form("client_id=rs&client_secret=s3cret")),
            Ok(AuthenticatedClient::new(
                "rs",
                ClientAuthMethod::ClientSecretPost
            ))
        );
        // The same client id in the body beside Basic is fine.
        assert!(
            s.check(&parts(&[&basic("rs", "s3cret")]), &form("client_id=rs"))
                .is_ok()
        );
        assert_eq!(
            s.check(&parts(&[&basic("rs", "s3cret")]), &form("client_id=other")),
            Err(ClientAuthError::Malformed(
                "the body's client_id differs from the Basic credentials"
            ))
        );
    }

    #[test]
    fn basic_parts_are_form_decoded() {
        let s = secrets();
        // RFC 6749 §2.3.1: urlencode each part, then base64.
        let header = basic("a+b%2Bc", "p%25ss%3Aw%C3%B6rd");
        assert_eq!(
            s.check(&parts(&[&header]), &form("")).map(|c| c.client_id),
            Ok("a b+c".into())
        );
        // Not encoded: `%ss` stays literal but `+` is read as a space, so the id differs.
        let raw = basic("a b+c", "p%ss:wörd");
        assert_eq!(
            s.check(&parts(&[&raw]), &form("")),
            Err(ClientAuthError::InvalidCredentials)
        );
        // Lower-case scheme.
        let lower = basic("rs", "s3cret").replacen("Basic", "basic", 1);
        assert!(s.check(&parts(&[&lower]), &form("")).is_ok());
    }

    #[test]
    fn failures_are_typed() {
        let s = secrets();
        let cases: [(Parts, &str, ClientAuthError); 10] = [
            (
                parts(&[&basic("rs", "wrong")]),
                "",
                ClientAuthError::InvalidCredentials,
            ),
            (
                parts(&[&basic("nobody", "s3cret")]),
                "",
                ClientAuthError::InvalidCredentials,
            ),
            (
                parts(&[]),
                "client_id=rs",
                ClientAuthError::MissingCredentials,
            ),
            (parts(&[]), "", ClientAuthError::MissingCredentials),
            (
                parts(&[&basic("rs", "s3cret")]),
                "client_id=rs&client_secret=s3cret",
                ClientAuthError::MultipleCredentials,
            ),
            (
                parts(&[&basic("rs", "s3cret"), &basic("rs", "s3cret")]),
                "",
                ClientAuthError::MultipleCredentials,
            ),
            (
                parts(&[]),
                "client_secret=s3cret",
                ClientAuthError::Malformed("client_secret without client_id"),
            ),
            (
                parts(&["Bearer abc"]),
                "",
                ClientAuthError::UnsupportedMethod("Bearer".into()),
            ),
            (
                parts(&["Basic !!!"]),
                "",
                ClientAuthError::Malformed("Basic credentials are not base64"),
            ),
            (
                parts(&[&basic("post-only", "pw")]),
                "",
                ClientAuthError::UnsupportedMethod("client_secret_basic".into()),
            ),
        ];
        for (p, body, expected) in cases {
            assert_eq!(s.check(&p, &form(body)), Err(expected.clone()), "{body}");
            assert_eq!(
                expected.status(),
                if expected == ClientAuthError::MultipleCredentials {
                    StatusCode::BAD_REQUEST
                } else {
                    StatusCode::UNAUTHORIZED
                }
            );
        }
        assert_eq!(
            s.check(
                &parts(&[]),
                &form("client_id=rs&client_assertion_type=urn:x&client_assertion=j")
            ),
            Err(ClientAuthError::UnsupportedMethod("urn:x".into()))
        );
        assert!(
            s.check(&parts(&[]), &form("client_id=post-only&client_secret=pw"))
                .is_ok()
        );
    }

    #[test]
    fn configuration_mistakes_are_refused() {
        assert!(ClientSecrets::new().client("", "s").is_err());
        assert!(ClientSecrets::new().client("a", "").is_err());
        assert!(
            ClientSecrets::new()
                .client("a", "s")
                .and_then(|s| s.client("a", "t"))
                .is_err()
        );
        assert!(
            ClientSecrets::new()
                .client_with_method("a", "s", ClientAuthMethod::Other("private_key_jwt".into()))
                .is_err()
        );
        let debug = format!("{:?}", secrets());
        assert!(!debug.contains("s3cret"), "{debug}");
    }
}
