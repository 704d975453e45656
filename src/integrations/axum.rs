//! axum support (feature `axum`): the [`Claims`] extractor and `IntoResponse` for
//! [`AuthError`].
//!
//! ```
//! use axum::{Router, routing::get};
//! use jwt_access_token::Claims;
//!
//! async fn me(Claims(claims): Claims) -> String {
//!     format!("hello {}", claims.sub.as_deref().unwrap_or_default())
//! }
//!
//! async fn maybe(claims: Option<Claims>) -> &'static str {
//!     if claims.is_some() { "signed in" } else { "anonymous" }
//! }
//!
//! let app: Router = Router::new().route("/me", get(me)).route("/", get(maybe));
//! ```

use crate::error::AuthError;
use crate::token::claims::{AccessTokenClaims, ExtraClaims};
use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use std::convert::Infallible;
use std::sync::Arc;

/// The verified claims of the request's access token.
///
/// Rejects with 500 when [`JwtAccessTokenLayer`](crate::JwtAccessTokenLayer) did not run
/// for the route (a misconfiguration, never a reason to let a request through). Use
/// `Option<Claims<X>>` on routes behind a layer that allows anonymous requests.
#[derive(Debug, Clone)]
pub struct Claims<X = ExtraClaims>(pub Arc<AccessTokenClaims<X>>);

impl<X> std::ops::Deref for Claims<X> {
    type Target = AccessTokenClaims<X>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<S, X> FromRequestParts<S> for Claims<X>
where
    S: Send + Sync,
    X: Send + Sync + 'static,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Arc<AccessTokenClaims<X>>>() {
            Some(claims) => Ok(Claims(claims.clone())),
            None => {
                let error = AuthError::NotAuthenticated;
                error.log();
                Err(error)
            }
        }
    }
}

impl<S, X> OptionalFromRequestParts<S> for Claims<X>
where
    S: Send + Sync,
    X: Send + Sync + 'static,
{
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Arc<AccessTokenClaims<X>>>()
            .cloned()
            .map(Claims))
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        self.to_response(None)
    }
}
