//! The validator joined to its key source: what the layer calls for every token.

use crate::error::{AuthError, ConfigError, KeySourceError};
use crate::keys::{KeySource, Lookup};
use crate::token::claims::{AccessTokenClaims, ExtraClaims, NumericDate};
use crate::validate::Validator;
use serde::de::DeserializeOwned;
use std::marker::PhantomData;

/// Verifies access tokens of one issuer: a [`Validator`] and the issuer's [`KeySource`].
///
/// `X` is the type the claims outside RFC 9068 are read into.
#[derive(Debug)]
pub struct AccessTokenVerifier<X = ExtraClaims> {
    validator: Validator,
    keys: KeySource,
    claims: PhantomData<fn() -> X>,
}

impl<X> Clone for AccessTokenVerifier<X> {
    fn clone(&self) -> Self {
        AccessTokenVerifier {
            validator: self.validator.clone(),
            keys: self.keys.clone(),
            claims: PhantomData,
        }
    }
}

impl AccessTokenVerifier {
    /// Joins a validator and a key source. A key source found by discovery must have been
    /// discovered from the validator's issuer. The claims outside RFC 9068 are kept as a JSON
    /// object; see [`AccessTokenVerifier::with_extra_claims`] for your own type.
    pub fn new(validator: Validator, keys: impl Into<KeySource>) -> Result<Self, ConfigError> {
        let keys = keys.into();
        if let KeySource::Remote(remote) = &keys
            && let Some(issuer) = remote.discovery_issuer()
            && issuer != validator.issuer()
        {
            return Err(ConfigError::IssuerMismatch {
                validator: validator.issuer().to_owned(),
                key_source: issuer.to_owned(),
            });
        }
        Ok(AccessTokenVerifier {
            validator,
            keys,
            claims: PhantomData,
        })
    }
}

impl<X: DeserializeOwned> AccessTokenVerifier<X> {
    /// The same verifier, reading the claims outside RFC 9068 into `Y` (a token whose claims
    /// do not fit `Y` is refused as malformed).
    ///
    /// ```
    /// # use jwt_access_token::{AccessTokenVerifier, KeySet, Validator};
    /// #[derive(Clone, serde::Deserialize)]
    /// struct Tenant { tenant: String }
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let keys = KeySet::new();
    /// let verifier = AccessTokenVerifier::new(Validator::new("https://as.example", ["api"])?, keys)?
    ///     .with_extra_claims::<Tenant>();
    /// # Ok(()) }
    /// ```
    pub fn with_extra_claims<Y: DeserializeOwned>(self) -> AccessTokenVerifier<Y> {
        AccessTokenVerifier {
            validator: self.validator,
            keys: self.keys,
            claims: PhantomData,
        }
    }

    /// The validator.
    pub fn validator(&self) -> &Validator {
        &self.validator
    }

    /// The key source.
    pub fn key_source(&self) -> &KeySource {
        &self.keys
    }

    /// Fetches the keys now, to fail fast at start-up when the issuer cannot be reached.
    pub async fn prefetch(&self) -> Result<(), KeySourceError> {
        self.keys.prefetch().await
    }

    /// Verifies `token` without waiting, if the keys needed are at hand; `None` if the key
    /// set must be fetched first (then call [`AccessTokenVerifier::verify`]).
    pub fn verify_cached(&self, token: &str) -> Option<Result<AccessTokenClaims<X>, AuthError>> {
        let parsed = match self.validator.parse(token) {
            Ok(p) => p,
            Err(e) => return Some(Err(e.into())),
        };
        let now = NumericDate::now();
        if let Some(secret) = self.validator.hmac_secret(&parsed) {
            return Some(
                self.validator
                    .verify_hmac(&parsed, secret, now)
                    .map_err(Into::into),
            );
        }
        match self
            .keys
            .lookup_cached(parsed.header.kid.as_deref(), parsed.header.alg)
        {
            Lookup::Ready(Ok(key)) => Some(
                self.validator
                    .verify(&parsed, &key, now)
                    .map_err(Into::into),
            ),
            Lookup::Ready(Err(e)) => Some(Err(e)),
            Lookup::NeedsFetch => None,
        }
    }

    /// Verifies `token`, fetching the issuer's keys if needed.
    pub async fn verify(&self, token: &str) -> Result<AccessTokenClaims<X>, AuthError> {
        if let Some(result) = self.verify_cached(token) {
            return result;
        }
        let parsed = self.validator.parse(token)?;
        let key = self
            .keys
            .lookup(parsed.header.kid.as_deref(), parsed.header.alg)
            .await?;
        Ok(self.validator.verify(&parsed, &key, NumericDate::now())?)
    }
}
