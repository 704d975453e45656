use super::future::ResponseFuture;
use super::layer::Shared;
use crate::bearer::bearer_token;
use crate::error::AuthError;
use crate::grants::{Anonymous, Grants};
use crate::token::claims::AccessTokenClaims;
use http::{Request, Response};
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower_service::Service;

/// The service of [`JwtAccessTokenLayer`](crate::JwtAccessTokenLayer).
#[derive(Debug)]
pub struct JwtAccessTokenService<S, X> {
    pub(crate) inner: S,
    pub(crate) shared: Arc<Shared<X>>,
}

impl<S: Clone, X> Clone for JwtAccessTokenService<S, X> {
    fn clone(&self) -> Self {
        JwtAccessTokenService {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
        }
    }
}

impl<S, X, ReqBody, ResBody> Service<Request<ReqBody>> for JwtAccessTokenService<S, X>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
    X: DeserializeOwned + Clone + Send + Sync + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let shared = &self.shared;
        let token = match bearer_token(&request) {
            Ok(Some(token)) => token,
            Ok(None) if shared.allow_anonymous => {
                request.extensions_mut().insert(Anonymous {
                    realm: shared.realm.clone(),
                });
                return ResponseFuture::inner(self.inner.call(request));
            }
            Ok(None) => return self.refuse(AuthError::MissingCredentials, request.headers()),
            Err(e) => return self.refuse(e.into(), request.headers()),
        };
        match shared.verifier.verify_cached(token) {
            Some(Ok(claims)) => {
                insert_claims(&mut request, claims, &shared.realm);
                ResponseFuture::inner(self.inner.call(request))
            }
            Some(Err(e)) => self.refuse(e, request.headers()),
            None => {
                // The key set must be fetched: the rest runs in a boxed future. The inner
                // service that `poll_ready` readied goes with it; a clone stays behind.
                let token = token.to_owned();
                let clone = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, clone);
                let shared = self.shared.clone();
                ResponseFuture::boxed(Box::pin(async move {
                    match shared.verifier.verify(&token).await {
                        Ok(claims) => {
                            insert_claims(&mut request, claims, &shared.realm);
                            inner.call(request).await
                        }
                        Err(e) => {
                            e.log();
                            Ok(e.respond(shared.realm.as_deref(), request.headers()))
                        }
                    }
                }))
            }
        }
    }
}

impl<S, X> JwtAccessTokenService<S, X> {
    fn refuse<F, B, E>(
        &self,
        error: AuthError,
        request_headers: &http::HeaderMap,
    ) -> ResponseFuture<F>
    where
        F: std::future::Future<Output = Result<Response<B>, E>>,
        B: Default,
    {
        error.log();
        ResponseFuture::refused(error.respond(self.shared.realm.as_deref(), request_headers))
    }
}

/// Inserts the verified claims (shared, not copied) and their grants.
fn insert_claims<B, X: Send + Sync + 'static>(
    request: &mut Request<B>,
    claims: Arc<AccessTokenClaims<X>>,
    realm: &Option<Arc<str>>,
) {
    let grants = Grants::with_realm(claims.clone(), realm.clone());
    request.extensions_mut().insert(grants);
    request.extensions_mut().insert(claims);
}
