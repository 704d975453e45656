//! tonic support (feature `tonic`): the verified claims from a gRPC handler, and
//! `From<AuthError> for tonic::Status`.
//!
//! The same [`JwtAccessTokenLayer`](crate::JwtAccessTokenLayer) protects a tonic server
//! (`Server::builder().layer(...)`); requests with `content-type: application/grpc*` get
//! gRPC-native refusals (HTTP 200, `grpc-status` 16 / 7 / 14, `grpc-message`, and the RFC 6750
//! `www-authenticate` header kept). Per-method requirements go in a
//! [`RequireByPathLayer`](crate::require::RequireByPathLayer) keyed by
//! `/package.Service/Method`. In a handler:
//!
//! ```
//! use jwt_access_token::integrations::tonic::claims;
//!
//! fn who_am_i(request: &tonic::Request<()>) -> Result<String, tonic::Status> {
//!     let claims = claims(request)?;
//!     Ok(claims.sub.clone().unwrap_or_default())
//! }
//!
//! // Without the layer there are no claims: the handler answers INTERNAL, never proceeds.
//! assert_eq!(who_am_i(&tonic::Request::new(())).unwrap_err().code(), tonic::Code::Internal);
//! ```

use crate::error::AuthError;
use crate::token::claims::{AccessTokenClaims, ExtraClaims};
use std::sync::Arc;

/// The verified claims of the request's access token, as inserted by
/// [`JwtAccessTokenLayer`](crate::JwtAccessTokenLayer). Without them (the layer is not in
/// front of this service, or the request was let through anonymously) the answer is a
/// `Status` to return: INTERNAL for a missing layer is logged; use
/// [`claims_if_present`] on services that allow anonymous requests.
pub fn claims<T>(request: &tonic::Request<T>) -> Result<&AccessTokenClaims, tonic::Status> {
    claims_as::<T, ExtraClaims>(request)
}

/// [`claims`] for a verifier built with
/// [`with_extra_claims::<X>()`](crate::AccessTokenVerifier::with_extra_claims).
pub fn claims_as<T, X: Send + Sync + 'static>(
    request: &tonic::Request<T>,
) -> Result<&AccessTokenClaims<X>, tonic::Status> {
    request
        .extensions()
        .get::<Arc<AccessTokenClaims<X>>>()
        .map(|c| &**c)
        .ok_or_else(|| {
            let error = AuthError::NotAuthenticated;
            error.log();
            error.into()
        })
}

/// The verified claims, or `None` for a request let through anonymously.
pub fn claims_if_present<T>(request: &tonic::Request<T>) -> Option<&AccessTokenClaims> {
    request
        .extensions()
        .get::<Arc<AccessTokenClaims>>()
        .map(|c| &**c)
}

impl From<AuthError> for tonic::Status {
    fn from(error: AuthError) -> Self {
        let code = match error.grpc_status() {
            16 => tonic::Code::Unauthenticated,
            7 => tonic::Code::PermissionDenied,
            14 => tonic::Code::Unavailable,
            _ => tonic::Code::Internal,
        };
        tonic::Status::new(code, error.client_message())
    }
}
