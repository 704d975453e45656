//! Token revocation (RFC 7009): JWT access tokens are declined, other tokens are handed on.

use super::{
    AuthenticatedClient, BoxError, BoxFuture, ClientAuthenticator, Front, ResponseFuture,
    has_three_segments, is_jwt_access_token, oauth_error,
};
use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body::Body;
use http_body_util::Full;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower_service::Service;

/// The RFC 7009 revocation endpoint: a tower service answering `http::Response<Full<Bytes>>`;
/// see the [module docs](crate::endpoints) for an example and the request checks every
/// endpoint makes.
///
/// After the calling client is authenticated, the `token` is answered as follows:
///
/// | token | answer |
/// |---|---|
/// | a JWT access token (see [recognition](crate::endpoints#which-tokens-are-jwt-access-tokens)), or any three-segment token with `token_type_hint=access_token` | 400 `{"error":"unsupported_token_type"}` (RFC 7009 §2.2.1): a self-contained token stays valid until its `exp`, whatever the server does |
/// | anything else | the [`handler`](Self::handler)'s [`RevocationOutcome`]; without one, 200 (RFC 7009 §2.2: an invalid or unknown token is answered 200 too) |
///
/// The JWT is not verified first: the answer is the same for a valid, expired or forged one,
/// so it tells the caller nothing, and no key is fetched. An opaque token with
/// `token_type_hint=access_token` still reaches the handler, since a hint never ends the
/// search (RFC 7009 §2.1).
#[derive(Clone)]
pub struct RevocationEndpoint {
    front: Front,
    handler: Option<Arc<dyn RevocationHandler>>,
}

impl std::fmt::Debug for RevocationEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevocationEndpoint")
            .field("front", &self.front)
            .field("handler", &self.handler.is_some())
            .finish()
    }
}

impl RevocationEndpoint {
    /// An endpoint for clients that `authenticator` accepts, without a handler.
    pub fn new(authenticator: impl ClientAuthenticator) -> Self {
        RevocationEndpoint {
            front: Front::new(authenticator),
            handler: None,
        }
    }

    /// Revokes the server's other tokens (refresh tokens, opaque tokens).
    pub fn handler(mut self, handler: impl RevocationHandler) -> Self {
        self.handler = Some(Arc::new(handler));
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
        let hinted_access_token = accepted.token_type_hint.as_deref() == Some("access_token");
        if is_jwt_access_token(&accepted.token)
            || (hinted_access_token && has_three_segments(&accepted.token))
        {
            tracing::debug!(
                client_id = %accepted.client.client_id,
                "revocation of a JWT access token declined: it is valid until it expires"
            );
            return oauth_error(StatusCode::BAD_REQUEST, "unsupported_token_type", None);
        }
        let outcome = match &self.handler {
            Some(handler) => {
                handler
                    .revoke(RevocationRequest {
                        client: accepted.client,
                        token: accepted.token,
                        token_type_hint: accepted.token_type_hint,
                    })
                    .await
            }
            None => RevocationOutcome::Revoked,
        };
        match outcome {
            RevocationOutcome::Revoked => empty(StatusCode::OK),
            RevocationOutcome::UnsupportedTokenType => {
                oauth_error(StatusCode::BAD_REQUEST, "unsupported_token_type", None)
            }
            RevocationOutcome::Unavailable => {
                tracing::error!("revocation handler unavailable");
                // RFC 7009 §2.2.1: 503, and the client assumes the token still exists.
                let mut response = oauth_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    Some("the token cannot be revoked now; try again later"),
                );
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                response
            }
        }
    }
}

impl<B> Service<Request<B>> for RevocationEndpoint
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
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

/// 200 with an empty body (RFC 7009 §2.2: the client ignores the body).
fn empty(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A token the revocation endpoint hands to the [`RevocationHandler`].
#[derive(Clone)]
#[non_exhaustive]
pub struct RevocationRequest {
    /// The authenticated client asking. RFC 7009 §2.1: revoke only tokens issued to it.
    pub client: AuthenticatedClient,
    /// The token, as received.
    pub token: String,
    /// The client's `token_type_hint`, if any.
    pub token_type_hint: Option<String>,
}

impl std::fmt::Debug for RevocationRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevocationRequest")
            .field("client", &self.client)
            .field("token_type_hint", &self.token_type_hint)
            .finish_non_exhaustive()
    }
}

/// What the handler did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RevocationOutcome {
    /// 200: revoked, or nothing to revoke (unknown, invalid or already revoked token; a token
    /// of another client, left alone). RFC 7009 §2.2 answers all of these alike.
    Revoked,
    /// 400 `unsupported_token_type`: a type of token this server cannot revoke.
    UnsupportedTokenType,
    /// 503 with `Retry-After`: the store cannot be reached; the token still exists.
    Unavailable,
}

/// Revokes the server's other tokens (refresh tokens, opaque access tokens). Revoking a
/// refresh token should also revoke what was issued with it where the server can
/// (RFC 7009 §2.1); JWT access tokens issued from it still live until their `exp`.
///
/// Implemented for every `Fn(RevocationRequest) -> impl Future<Output = RevocationOutcome>`:
///
/// ```
/// use jwt_access_token::endpoints::{ClientSecrets, RevocationEndpoint, RevocationOutcome, RevocationRequest};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let endpoint = RevocationEndpoint::new(ClientSecrets::new().client("app", "secret")?)
///     .handler(|request: RevocationRequest| async move {
///         // Delete request.token from the store if request.client issued it.
///         RevocationOutcome::Revoked
///     });
/// # Ok(()) }
/// ```
pub trait RevocationHandler: Send + Sync + 'static {
    /// Revokes `request.token` if it is one of the server's tokens issued to the client.
    fn revoke(&self, request: RevocationRequest) -> BoxFuture<'static, RevocationOutcome>;
}

impl<F, Fut> RevocationHandler for F
where
    F: Fn(RevocationRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = RevocationOutcome> + Send + 'static,
{
    fn revoke(&self, request: RevocationRequest) -> BoxFuture<'static, RevocationOutcome> {
        Box::pin(self(request))
    }
}
