//! Token introspection (RFC 7662) for JWT access tokens, verified locally: no database.

use super::{AuthenticatedClient, ClientAuthenticator};
use super::{
    BoxError, BoxFuture, Front, ResponseFuture, is_jwt_access_token, json_response, oauth_error,
};
use crate::error::AuthError;
use crate::token::claims::{AccessTokenClaims, ExtraClaims};
use crate::verifier::AccessTokenVerifier;
use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body::Body;
use http_body_util::Full;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower_service::Service;

type Authorize<X> = dyn Fn(&AuthenticatedClient, &AccessTokenClaims<X>) -> bool + Send + Sync;
type Username<X> = dyn Fn(&AccessTokenClaims<X>) -> Option<String> + Send + Sync;

/// The RFC 7662 introspection endpoint: a tower service answering
/// `http::Response<Full<Bytes>>`; see the [module docs](crate::endpoints) for an example and
/// the request checks every endpoint makes.
///
/// After the calling client is authenticated, the `token` is answered as follows:
///
/// | token | answer (200 unless said) |
/// |---|---|
/// | a JWT access token that verifies, and [`authorize`](Self::authorize) (if set) allows | `active: true` with `scope`, `client_id`, `username` (from [`username`](Self::username), if set), `token_type`, `exp`, `iat`, `nbf`, `sub`, `aud`, `iss`, `jti`, `cnf`, those the token has |
/// | a JWT access token that fails verification (expired, signature, issuer, audience, malformed), or that `authorize` refuses | `{"active":false}`, nothing else (RFC 7662 §2.2) |
/// | any token while the verifier's key source is down and no key is cached | 503 `temporarily_unavailable`, `Retry-After: 5` |
/// | not a JWT access token (opaque, JWE, a JWT of another `typ`), or a `token_type_hint` other than `access_token` | the [`fallback`](Self::fallback) first; without one, or when it does not know the token, a JWT access token is verified as above and anything else is `{"active":false}` |
///
/// `token_type` is `Bearer`, or `DPoP` for a token bound to a DPoP key (`cnf.jkt`, RFC 9449
/// §6.2), so that a resource server never accepts a DPoP-bound token as a bearer token.
///
/// The verifier is the one a resource server would use, configured for this issuer: give its
/// [`Validator`](crate::Validator) every audience the issuer mints for (a token for any other
/// audience answers inactive), and consider `leeway(Duration::ZERO)`, since the issuer's own
/// clock decides whether its token is still active.
pub struct IntrospectionEndpoint<X = ExtraClaims> {
    front: Front,
    verifier: AccessTokenVerifier<X>,
    fallback: Option<Arc<dyn IntrospectionFallback>>,
    authorize: Option<Arc<Authorize<X>>>,
    username: Option<Arc<Username<X>>>,
}

impl<X> Clone for IntrospectionEndpoint<X> {
    fn clone(&self) -> Self {
        IntrospectionEndpoint {
            front: self.front.clone(),
            verifier: self.verifier.clone(),
            fallback: self.fallback.clone(),
            authorize: self.authorize.clone(),
            username: self.username.clone(),
        }
    }
}

impl<X> std::fmt::Debug for IntrospectionEndpoint<X> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectionEndpoint")
            .field("front", &self.front)
            .field("fallback", &self.fallback.is_some())
            .field("authorize", &self.authorize.is_some())
            .field("username", &self.username.is_some())
            .finish_non_exhaustive()
    }
}

impl<X: DeserializeOwned + Send + Sync + 'static> IntrospectionEndpoint<X> {
    /// An endpoint verifying tokens with `verifier`, for clients that `authenticator` accepts.
    pub fn new(verifier: AccessTokenVerifier<X>, authenticator: impl ClientAuthenticator) -> Self {
        IntrospectionEndpoint {
            front: Front::new(authenticator),
            // Introspection reports `cnf` to the resource server, which checks the proof of
            // possession: a sender-constrained token is active here (RFC 9449 §6.2).
            verifier: verifier.accepting_sender_constrained(),
            fallback: None,
            authorize: None,
            username: None,
        }
    }

    /// Answers for the server's other tokens (refresh tokens, opaque tokens); see
    /// [`IntrospectionFallback`]. Without one, they are `{"active":false}`.
    pub fn fallback(mut self, fallback: impl IntrospectionFallback) -> Self {
        self.fallback = Some(Arc::new(fallback));
        self
    }

    /// Decides whether `client` may learn about this verified token (for example: only
    /// resource servers named in its `aud`); `false` answers `{"active":false}`. Without it,
    /// every authenticated client may introspect every token. The fallback's tokens are not
    /// seen here: the fallback receives the client and decides itself.
    pub fn authorize(
        mut self,
        authorize: impl Fn(&AuthenticatedClient, &AccessTokenClaims<X>) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.authorize = Some(Arc::new(authorize));
        self
    }

    /// The `username` member of active answers: a human-readable identifier of the resource
    /// owner (RFC 7662 §2.2), for example looked up from `sub`. Omitted when it returns `None`.
    pub fn username(
        mut self,
        username: impl Fn(&AccessTokenClaims<X>) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.username = Some(Arc::new(username));
        self
    }

    /// The `realm` of the `WWW-Authenticate: Basic` challenge (default `oauth`).
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.front.realm = Arc::from(realm.into());
        self
    }

    /// The largest request body accepted, in bytes (default 16 KiB); larger ones answer 413.
    pub fn max_body_bytes(mut self, max: usize) -> Self {
        self.front.max_body_bytes = max;
        self
    }

    async fn handle<B>(self, request: Request<B>) -> Response<Full<Bytes>>
    where
        B: Body,
        B::Error: Into<BoxError>,
    {
        let accepted = match self.front.accept(request).await {
            Ok(accepted) => accepted,
            Err(response) => return response,
        };
        let recognised = is_jwt_access_token(&accepted.token);
        let hint_elsewhere = accepted
            .token_type_hint
            .as_deref()
            .is_some_and(|hint| hint != "access_token");
        // RFC 7662 §2.1: the hint orders the search, it never ends it.
        if (hint_elsewhere || !recognised)
            && let Some(fallback) = &self.fallback
        {
            let request = FallbackRequest {
                client: accepted.client.clone(),
                token: accepted.token.clone(),
                token_type_hint: accepted.token_type_hint.clone(),
            };
            match fallback.introspect(request).await {
                FallbackAnswer::Unknown => {}
                FallbackAnswer::Inactive => return inactive(),
                FallbackAnswer::Active(mut members) => {
                    members.insert("active".into(), Value::Bool(true));
                    return json_response(StatusCode::OK, &Value::Object(members));
                }
                FallbackAnswer::Unavailable => {
                    tracing::error!("introspection fallback unavailable");
                    return unavailable();
                }
            }
        }
        if !recognised {
            return inactive();
        }
        match self.verifier.verify(&accepted.token).await {
            Ok(claims) => {
                if let Some(authorize) = &self.authorize
                    && !authorize(&accepted.client, &claims)
                {
                    tracing::debug!(
                        client_id = %accepted.client.client_id,
                        "introspection of this token is not allowed for the client"
                    );
                    return inactive();
                }
                let username = self.username.as_ref().and_then(|f| f(&claims));
                json_response(StatusCode::OK, &active(&claims, username))
            }
            // An outage says nothing about the token. Answering `active: false` would tell
            // the resource server that a valid token is revoked or forged: it would refuse
            // every caller (and may cache that verdict) for as long as the keys are away. A
            // 503 lets it retry, fail closed for now, or fall back to its own validation.
            Err(AuthError::KeysUnavailable(e)) => {
                tracing::error!(error = %e, "introspection: the issuer's keys are unavailable");
                unavailable()
            }
            Err(e) => {
                tracing::debug!(
                    reason = %e,
                    client_id = %accepted.client.client_id,
                    "introspected token is not active"
                );
                inactive()
            }
        }
    }
}

impl<B, X> Service<Request<B>> for IntrospectionEndpoint<X>
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
    X: DeserializeOwned + Send + Sync + 'static,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        ResponseFuture::new(self.clone().handle(request))
    }
}

/// The members of an active answer (RFC 7662 §2.2).
fn active<X>(claims: &AccessTokenClaims<X>, username: Option<String>) -> Value {
    let mut members = Map::new();
    members.insert("active".into(), Value::Bool(true));
    if !claims.scope.is_empty() {
        members.insert("scope".into(), json!(claims.scope));
    }
    if let Some(client_id) = &claims.client_id {
        members.insert("client_id".into(), json!(client_id));
    }
    if let Some(username) = username {
        members.insert("username".into(), json!(username));
    }
    let dpop = claims
        .cnf
        .as_ref()
        .is_some_and(|cnf| cnf.contains_key("jkt"));
    let token_type = if dpop { "DPoP" } else { "Bearer" };
    members.insert("token_type".into(), json!(token_type));
    members.insert("exp".into(), json!(claims.exp));
    if let Some(iat) = claims.iat {
        members.insert("iat".into(), json!(iat));
    }
    if let Some(nbf) = claims.nbf {
        members.insert("nbf".into(), json!(nbf));
    }
    if let Some(sub) = &claims.sub {
        members.insert("sub".into(), json!(sub));
    }
    members.insert("aud".into(), json!(claims.aud));
    members.insert("iss".into(), json!(claims.iss));
    if let Some(jti) = &claims.jti {
        members.insert("jti".into(), json!(jti));
    }
    if let Some(cnf) = &claims.cnf {
        members.insert("cnf".into(), Value::Object(cnf.clone()));
    }
    Value::Object(members)
}

/// RFC 7662 §2.2: an inactive token is answered with `active` alone, whatever the reason.
fn inactive() -> Response<Full<Bytes>> {
    json_response(StatusCode::OK, &json!({"active": false}))
}

fn unavailable() -> Response<Full<Bytes>> {
    let mut response = oauth_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        Some("the token cannot be checked now; try again later"),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    response
}

/// A token the introspection endpoint hands to the [`IntrospectionFallback`].
#[derive(Clone)]
#[non_exhaustive]
pub struct FallbackRequest {
    /// The authenticated client asking: the fallback decides what it may learn.
    pub client: AuthenticatedClient,
    /// The token, as received.
    pub token: String,
    /// The client's `token_type_hint`, if any.
    pub token_type_hint: Option<String>,
}

impl std::fmt::Debug for FallbackRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FallbackRequest")
            .field("client", &self.client)
            .field("token_type_hint", &self.token_type_hint)
            .finish_non_exhaustive()
    }
}

/// What the fallback knows about a token.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FallbackAnswer {
    /// Not one of its tokens: the endpoint goes on (a JWT access token is verified; anything
    /// else is inactive).
    Unknown,
    /// One of its tokens, not active (revoked, expired, or not for this client):
    /// `{"active":false}`.
    Inactive,
    /// Active, with these members (RFC 7662 §2.2: `scope`, `client_id`, `exp`, ...);
    /// `active: true` is set by the endpoint.
    Active(Map<String, Value>),
    /// Its store cannot be reached: 503, never an answer about the token.
    Unavailable,
}

/// Introspects the server's other tokens: refresh tokens, opaque access tokens.
///
/// Implemented for every `Fn(FallbackRequest) -> impl Future<Output = FallbackAnswer>`:
///
/// ```
/// use jwt_access_token::endpoints::{FallbackAnswer, FallbackRequest, IntrospectionEndpoint};
/// # use jwt_access_token::endpoints::ClientSecrets;
/// # use jwt_access_token::{AccessTokenVerifier, KeySet, Validator};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let verifier = AccessTokenVerifier::new(Validator::new("https://as.example", ["api"])?, KeySet::new())?;
/// # let clients = ClientSecrets::new().client("rs", "secret")?;
/// let endpoint = IntrospectionEndpoint::new(verifier, clients).fallback(|request: FallbackRequest| async move {
///     // Look the refresh token up in the database here.
///     if request.token.starts_with("rt_") { FallbackAnswer::Inactive } else { FallbackAnswer::Unknown }
/// });
/// # Ok(()) }
/// ```
pub trait IntrospectionFallback: Send + Sync + 'static {
    /// What is known about `request.token`.
    fn introspect(&self, request: FallbackRequest) -> BoxFuture<'static, FallbackAnswer>;
}

impl<F, Fut> IntrospectionFallback for F
where
    F: Fn(FallbackRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = FallbackAnswer> + Send + 'static,
{
    fn introspect(&self, request: FallbackRequest) -> BoxFuture<'static, FallbackAnswer> {
        Box::pin(self(request))
    }
}
