//! The tower middleware that authenticates every request with an RFC 9068 access token.
//!
//! ```
//! use jwt_access_token::{AccessTokenVerifier, JwtAccessTokenLayer, KeySet, Validator};
//! use jwt_access_token::{Algorithm, JwtAccessTokenIssuer, SigningKey, TokenRequest, AccessTokenClaims};
//! use http::{Request, Response, StatusCode, header};
//! use std::convert::Infallible;
//! use std::sync::Arc;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let issuer = JwtAccessTokenIssuer::new("https://as.example", SigningKey::generate(Algorithm::EdDSA, "k1")?)?;
//! let keys = KeySet::from_jwks(&issuer.jwks().to_string())?;
//! let verifier = AccessTokenVerifier::new(Validator::new("https://as.example", ["https://api.example"])?, keys)?;
//!
//! let service = ServiceBuilder::new()
//!     .layer(JwtAccessTokenLayer::new(verifier).realm("api"))
//!     .service(service_fn(|req: Request<String>| async move {
//!         // The verified claims are shared: `Arc<AccessTokenClaims<X>>`.
//!         let claims = req.extensions().get::<Arc<AccessTokenClaims>>();
//!         Ok::<_, Infallible>(Response::new(claims.and_then(|c| c.sub.clone()).unwrap_or_default()))
//!     }));
//!
//! let token = issuer.mint(&TokenRequest::new("alice", "app", ["https://api.example"]))?;
//! let request = Request::get("/").header(header::AUTHORIZATION, format!("Bearer {token}")).body(String::new())?;
//! let response = service.clone().oneshot(request).await?;
//! assert_eq!(response.into_body(), "alice");
//!
//! let response = service.oneshot(Request::get("/").body(String::new())?).await?;
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer realm=\"api\"");
//! # Ok(()) }
//! ```

mod future;
#[allow(clippy::module_inception)]
mod layer;
mod service;

pub use future::ResponseFuture;
pub use layer::JwtAccessTokenLayer;
pub use service::JwtAccessTokenService;
