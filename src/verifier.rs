//! The validator joined to its key source, for one issuer or several: what the layer calls
//! for every token.

use crate::error::{AuthError, ConfigError, KeySourceError, ValidationError};
use crate::keys::{KeySource, Lookup};
use crate::token::CompactJws;
use crate::token::claims::{AccessTokenClaims, ExtraClaims, NumericDate, peek_issuer};
use crate::token::decode_segment;
use crate::validate::Validator;
use crate::verdicts::{VerdictCache, VerdictCacheConfig};
use serde::de::DeserializeOwned;
use std::marker::PhantomData;
use std::sync::Arc;

/// Verifies access tokens from one or more trusted issuers, each a [`Validator`] (issuer,
/// audiences, algorithms, leeway) with its own [`KeySource`] and cache.
///
/// With several issuers, the token's unverified `iss` only chooses which issuer's
/// configuration and keys to use; a token naming any other issuer is refused before any key
/// lookup or network call, and keys are never shared between issuers, so one issuer's key
/// cannot verify another issuer's token.
///
/// `X` is the type the claims outside RFC 9068 are read into.
///
/// ```
/// use jwt_access_token::{AccessTokenVerifier, RemoteKeySet, Validator};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let verifier = AccessTokenVerifier::new(
///     Validator::new("https://login.example", ["https://api.example"])?,
///     RemoteKeySet::discover("https://login.example")?,
/// )?
/// .with_issuer(
///     Validator::new("https://partner.example", ["api://partner"])?,
///     RemoteKeySet::from_jwks_uri("https://partner.example/keys")?,
/// )?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct AccessTokenVerifier<X = ExtraClaims> {
    issuers: Arc<[TrustedIssuer]>,
    /// The largest size cap among the issuers: applied before `iss` is read.
    max_token_bytes: usize,
    verdicts: Option<VerdictCache<X>>,
    claims: PhantomData<fn() -> X>,
}

#[derive(Debug)]
struct TrustedIssuer {
    validator: Validator,
    keys: KeySource,
}

impl<X> Clone for AccessTokenVerifier<X> {
    fn clone(&self) -> Self {
        AccessTokenVerifier {
            issuers: self.issuers.clone(),
            max_token_bytes: self.max_token_bytes,
            verdicts: self.verdicts.clone(),
            claims: PhantomData,
        }
    }
}

fn trusted(validator: Validator, keys: KeySource) -> Result<TrustedIssuer, ConfigError> {
    if let KeySource::Remote(remote) = &keys
        && let Some(issuer) = remote.discovery_issuer()
        && issuer != validator.issuer()
    {
        return Err(ConfigError::IssuerMismatch {
            validator: validator.issuer().to_owned(),
            key_source: issuer.to_owned(),
        });
    }
    let keys = match keys {
        KeySource::Remote(remote) => KeySource::Remote(remote.labelled(validator.issuer())),
        other => other,
    };
    Ok(TrustedIssuer { validator, keys })
}

impl AccessTokenVerifier {
    /// Trusts one issuer: its validator and its key source. A key source found by discovery
    /// must have been discovered from the validator's issuer. The claims outside RFC 9068 are
    /// kept as a JSON object; see [`AccessTokenVerifier::with_extra_claims`] for your own type.
    pub fn new(validator: Validator, keys: impl Into<KeySource>) -> Result<Self, ConfigError> {
        let issuer = trusted(validator, keys.into())?;
        Ok(AccessTokenVerifier {
            max_token_bytes: issuer.validator.max_bytes(),
            issuers: Arc::from(vec![issuer]),
            verdicts: Some(VerdictCache::new(VerdictCacheConfig::default())),
            claims: PhantomData,
        })
    }
}

impl<X: DeserializeOwned + Send + Sync + 'static> AccessTokenVerifier<X> {
    /// The same verifier without the verdict cache: every request verifies its signature.
    pub fn without_verdict_cache(mut self) -> Self {
        self.verdicts = None;
        self
    }

    /// The same verifier with a verdict cache of these bounds (see the
    /// [`verdicts`](crate::verdicts) module for its rules); on by default with 32 MiB and 5
    /// minutes.
    pub fn verdict_cache(mut self, config: VerdictCacheConfig) -> Self {
        self.verdicts = Some(VerdictCache::new(config));
        self
    }

    fn rebuilt(&self, issuers: Vec<TrustedIssuer>) -> Self {
        AccessTokenVerifier {
            max_token_bytes: issuers
                .iter()
                .map(|t| t.validator.max_bytes())
                .max()
                .unwrap_or(0),
            issuers: Arc::from(issuers),
            // A new set of issuers starts with an empty cache of the same bounds.
            verdicts: self
                .verdicts
                .as_ref()
                .map(|c| VerdictCache::new(c.config())),
            claims: PhantomData,
        }
    }

    /// Trusts another issuer, with its own validator and key source. The same issuer twice
    /// is a configuration error.
    pub fn with_issuer(
        self,
        validator: Validator,
        keys: impl Into<KeySource>,
    ) -> Result<Self, ConfigError> {
        if self
            .issuers
            .iter()
            .any(|t| t.validator.issuer() == validator.issuer())
        {
            return Err(ConfigError::Invalid(format!(
                "issuer {:?} is configured twice",
                validator.issuer()
            )));
        }
        let issuer = trusted(validator, keys.into())?;
        let mut issuers: Vec<TrustedIssuer> = Vec::with_capacity(self.issuers.len() + 1);
        issuers.extend(self.issuers.iter().map(|t| TrustedIssuer {
            validator: t.validator.clone(),
            keys: t.keys.clone(),
        }));
        issuers.push(issuer);
        Ok(self.rebuilt(issuers))
    }

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
    pub fn with_extra_claims<Y: DeserializeOwned + Send + Sync + 'static>(
        self,
    ) -> AccessTokenVerifier<Y> {
        AccessTokenVerifier {
            verdicts: self
                .verdicts
                .as_ref()
                .map(|c| VerdictCache::new(c.config())),
            issuers: self.issuers,
            max_token_bytes: self.max_token_bytes,
            claims: PhantomData,
        }
    }

    /// The same verifier with every issuer accepting sender-constrained (`cnf`) tokens: for
    /// the authorization server's own introspection, never for a resource server.
    pub(crate) fn accepting_sender_constrained(self) -> Self {
        let issuers: Vec<TrustedIssuer> = self
            .issuers
            .iter()
            .map(|t| TrustedIssuer {
                validator: t.validator.clone().accept_sender_constrained_as_bearer(),
                keys: t.keys.clone(),
            })
            .collect();
        self.rebuilt(issuers)
    }

    /// The validators of the trusted issuers, in the order they were added.
    pub fn validators(&self) -> impl Iterator<Item = &Validator> {
        self.issuers.iter().map(|t| &t.validator)
    }

    /// Fetches every issuer's keys now, to fail fast at start-up when one cannot be reached.
    pub async fn prefetch(&self) -> Result<(), KeySourceError> {
        for issuer in self.issuers.iter() {
            issuer.keys.prefetch().await?;
        }
        Ok(())
    }

    /// The trusted issuer this token claims to come from, with its index; with one issuer,
    /// that one (its validator checks `iss` after the signature).
    fn issuer_for(&self, token: &str) -> Result<(usize, &TrustedIssuer), ValidationError> {
        if let [only] = &*self.issuers {
            return Ok((0, only));
        }
        let jws = CompactJws::split(token, self.max_token_bytes)?;
        let payload = decode_segment(jws.payload, "payload is not base64url")?;
        let iss = peek_issuer(&payload)?;
        self.issuers
            .iter()
            .enumerate()
            .find(|(_, t)| t.validator.issuer() == iss)
            .ok_or(ValidationError::WrongIssuer(iss))
    }

    /// A cached verdict for exactly these token bytes, if one is still good: same key-set
    /// generation, and `exp`/`nbf` still hold.
    fn cached_verdict(
        &self,
        token: &str,
        now: NumericDate,
    ) -> Option<Result<Arc<AccessTokenClaims<X>>, AuthError>> {
        let cache = self.verdicts.as_ref()?;
        let verdict = cache.get(token)?;
        let issuer = self.issuers.get(verdict.issuer)?;
        if issuer.keys.generation() != verdict.generation || !issuer.keys.still_serving() {
            cache.remove(token);
            return None;
        }
        match issuer.validator.check_times(&verdict.claims, now) {
            Ok(()) => Some(Ok(verdict.claims)),
            Err(e) => {
                cache.remove(token);
                Some(Err(e.into()))
            }
        }
    }

    fn remember(
        &self,
        token: &str,
        claims: AccessTokenClaims<X>,
        index: usize,
        generation: u64,
        now: NumericDate,
    ) -> Arc<AccessTokenClaims<X>> {
        let claims = Arc::new(claims);
        if let (Some(cache), Some(issuer)) = (&self.verdicts, self.issuers.get(index)) {
            let life = issuer.validator.remaining_life(&claims, now);
            cache.insert(token, claims.clone(), index, generation, life);
        }
        claims
    }

    /// Verifies `token` without waiting, if the keys needed are at hand; `None` if the key
    /// set must be fetched first (then call [`AccessTokenVerifier::verify`]).
    pub fn verify_cached(
        &self,
        token: &str,
    ) -> Option<Result<Arc<AccessTokenClaims<X>>, AuthError>> {
        let now = NumericDate::now();
        if let Some(answer) = self.cached_verdict(token, now) {
            return Some(answer);
        }
        let (index, issuer) = match self.issuer_for(token) {
            Ok(found) => found,
            Err(e) => return Some(Err(e.into())),
        };
        let validator = &issuer.validator;
        let parsed = match validator.parse(token) {
            Ok(p) => p,
            Err(e) => return Some(Err(e.into())),
        };
        // The generation is the one of the set the key came from: a verdict is never
        // credited to a set that did not verify it.
        let (verified, generation) = if let Some(secret) = validator.hmac_secret(&parsed) {
            (
                validator
                    .verify_hmac(&parsed, secret, now)
                    .map_err(AuthError::from),
                issuer.keys.generation(),
            )
        } else {
            match issuer.keys.lookup_cached(
                parsed.header.kid.as_ref().map(|k| k.as_str()),
                parsed.header.alg,
            ) {
                Lookup::Ready(Ok((key, generation))) => (
                    validator
                        .verify(&parsed, &key, now)
                        .map_err(AuthError::from),
                    generation,
                ),
                Lookup::Ready(Err(e)) => return Some(Err(e)),
                Lookup::NeedsFetch => return None,
            }
        };
        Some(verified.map(|claims| self.remember(token, claims, index, generation, now)))
    }

    /// Verifies `token`, fetching the issuer's keys if needed.
    pub async fn verify(&self, token: &str) -> Result<Arc<AccessTokenClaims<X>>, AuthError> {
        if let Some(result) = self.verify_cached(token) {
            return result;
        }
        let (index, issuer) = self.issuer_for(token)?;
        let parsed = issuer.validator.parse(token)?;
        let (key, generation) = issuer
            .keys
            .lookup(
                parsed.header.kid.as_ref().map(|k| k.as_str()),
                parsed.header.alg,
            )
            .await?;
        let now = NumericDate::now();
        let claims = issuer.validator.verify(&parsed, &key, now)?;
        Ok(self.remember(token, claims, index, generation, now))
    }
}
