#![forbid(unsafe_code)]
#![doc = include_str!("../README.md")]

pub mod bearer;
pub mod endpoints;
pub mod error;
pub mod integrations;
pub mod issue;
pub mod keys;
pub mod layer;
pub mod require;
pub mod validate;
pub mod verdicts;

mod algorithm;
mod grants;
mod token;
mod verifier;

pub use algorithm::Algorithm;
pub use endpoints::{ClientSecrets, IntrospectionEndpoint, RevocationEndpoint};
pub use error::{AuthError, ConfigError, KeySourceError, ValidationError};
pub use grants::{Anonymous, Grants};
pub use issue::{JwtAccessTokenIssuer, SigningKey, TokenRequest};
pub use keys::{KeySet, KeySource, RemoteKeySet, VerifyingKey};
pub use layer::{JwtAccessTokenLayer, JwtAccessTokenService};
pub use require::{Requirement, require};
pub use token::claims::{AccessTokenClaims, Audience, ExtraClaims, NumericDate, Scope};
pub use validate::{HmacSecret, RelaxableClaim, Validator};
pub use verdicts::VerdictCacheConfig;
pub use verifier::AccessTokenVerifier;

#[cfg(feature = "axum")]
pub use integrations::axum::Claims;
