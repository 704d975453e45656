//! The validator: RFC 9068 §4, pure and synchronous, no I/O.
//!
//! Checks run in this order, and the first failure is the answer:
//!
//! 1. size cap (default 8 KiB) before any decoding;
//! 2. exactly three base64url segments (five: "encrypted tokens are not supported");
//! 3. header: `typ` is `at+jwt` / `application/at+jwt` (any case, required), `alg` in the
//!    allow-list, no `crit`, no duplicate member;
//! 4. key: chosen from the issuer's keys only, by `kid` (or the single key fitting `alg`),
//!    bound by kty/crv, JWK `alg`, `use` and `key_ops`;
//! 5. signature;
//! 6. claims: JSON types, `iss` exactly, `aud` contains a configured audience, `exp`, `nbf`,
//!    `iat` with one leeway, then the RFC 9068 §2.2 required claims; a `cnf` (sender-
//!    constrained token) is refused unless explicitly accepted.
//!
//! ```
//! use jwt_access_token::{Algorithm, JwtAccessTokenIssuer, KeySet, SigningKey, TokenRequest, Validator};
//!
//! let signing = SigningKey::generate(Algorithm::ES256, "k1")?;
//! let issuer = JwtAccessTokenIssuer::new("https://as.example", signing)?;
//! let keys = KeySet::from_jwks(&issuer.jwks().to_string())?;
//! let token = issuer.mint(&TokenRequest::new("alice", "app", ["https://api.example"]).scope("items:read"))?;
//!
//! let validator = Validator::new("https://as.example", ["https://api.example"])?;
//! let claims: jwt_access_token::AccessTokenClaims = validator.validate(&token, &keys)?;
//! assert!(claims.scope.contains("items:read"));
//!
//! // An ID token (typ JWT) never passes as an access token.
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::algorithm::{Algorithm, AlgorithmSet};
use crate::error::{ConfigError, ValidationError};
use crate::keys::{KeySet, VerifyingKey};
use crate::token::CompactJws;
use crate::token::claims::{AccessTokenClaims, NumericDate};
use crate::token::header::Header;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// Defaults, each with its reason.
mod defaults {
    use std::time::Duration;
    /// Real access tokens are 1–2 KiB; 8 KiB leaves room for many groups and roles while
    /// keeping the work an anonymous sender can cause small.
    pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
    /// Clock skew between issuer and resource server; the common value across Spring,
    /// auth0's node library and Authlib's validators is 0–60 s.
    pub const LEEWAY: Duration = Duration::from_secs(60);
}

/// A claim that RFC 9068 §2.2 requires but an identity provider may omit; see
/// [`Validator::allow_missing`]. `iss`, `aud` and `exp` are not here: RFC 9068 §4 needs them
/// for the checks themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RelaxableClaim {
    /// `sub`.
    Sub,
    /// `client_id`.
    ClientId,
    /// `iat`.
    Iat,
    /// `jti`.
    Jti,
}

/// A shared secret for HMAC tokens. It is the only way HS256/384/512 are ever accepted:
/// keys from a JWKS never verify HMAC tokens.
#[derive(Clone)]
pub struct HmacSecret {
    alg: Algorithm,
    key: aws_lc_rs::hmac::Key,
}

impl std::fmt::Debug for HmacSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HmacSecret")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl HmacSecret {
    /// A secret for one HMAC algorithm. RFC 7518 §3.2: the secret must be at least as long as
    /// the hash output (32, 48 or 64 bytes).
    pub fn new(alg: Algorithm, secret: &[u8]) -> Result<Self, ConfigError> {
        let min = match alg {
            Algorithm::HS256 => 32,
            Algorithm::HS384 => 48,
            Algorithm::HS512 => 64,
            _ => {
                return Err(ConfigError::Invalid(format!(
                    "{alg} is not an HMAC algorithm"
                )));
            }
        };
        if secret.len() < min {
            return Err(ConfigError::Invalid(format!(
                "{alg} needs a secret of at least {min} bytes"
            )));
        }
        let hmac = match alg {
            Algorithm::HS256 => aws_lc_rs::hmac::HMAC_SHA256,
            Algorithm::HS384 => aws_lc_rs::hmac::HMAC_SHA384,
            _ => aws_lc_rs::hmac::HMAC_SHA512,
        };
        Ok(HmacSecret {
            alg,
            key: aws_lc_rs::hmac::Key::new(hmac, secret),
        })
    }
}

/// Validates access tokens for one issuer. Build it once; it is cheap to share.
#[derive(Debug, Clone)]
pub struct Validator {
    issuer: String,
    audiences: Vec<String>,
    algorithms: AlgorithmSet,
    leeway: i64,
    max_token_bytes: usize,
    relaxed: Vec<RelaxableClaim>,
    hmac: Option<HmacSecret>,
    accept_cnf: bool,
}

impl Validator {
    /// A validator for tokens from `issuer` (compared exactly) meant for any of `audiences`.
    pub fn new<I, S>(issuer: impl Into<String>, audiences: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let issuer = issuer.into();
        let audiences: Vec<String> = audiences.into_iter().map(Into::into).collect();
        if issuer.is_empty() {
            return Err(ConfigError::Empty("issuer"));
        }
        if audiences.is_empty() || audiences.iter().any(String::is_empty) {
            return Err(ConfigError::Empty("audience"));
        }
        Ok(Validator {
            issuer,
            audiences,
            algorithms: AlgorithmSet::of(Algorithm::ASYMMETRIC),
            leeway: defaults::LEEWAY.as_secs() as i64,
            max_token_bytes: defaults::MAX_TOKEN_BYTES,
            relaxed: Vec::new(),
            hmac: None,
            accept_cnf: false,
        })
    }

    /// Accept only these asymmetric algorithms (default: RS256/384/512, PS256/384/512,
    /// ES256, ES384, EdDSA). HMAC algorithms are refused here: use
    /// [`Validator::with_hmac_secret`].
    pub fn algorithms(
        mut self,
        algs: impl IntoIterator<Item = Algorithm>,
    ) -> Result<Self, ConfigError> {
        let algs: Vec<Algorithm> = algs.into_iter().collect();
        if let Some(hs) = algs.iter().find(|a| a.is_hmac()) {
            return Err(ConfigError::Invalid(format!(
                "{hs} needs an explicit shared secret: use with_hmac_secret"
            )));
        }
        let mut set = AlgorithmSet::of(algs);
        if set.is_empty() {
            return Err(ConfigError::Empty("algorithm list"));
        }
        if let Some(h) = &self.hmac {
            set.insert(h.alg);
        }
        self.algorithms = set;
        Ok(self)
    }

    /// Also accept HMAC tokens verified with this secret (compared in constant time). A
    /// second call replaces the first secret, and its algorithm.
    pub fn with_hmac_secret(mut self, secret: HmacSecret) -> Self {
        if let Some(previous) = &self.hmac {
            self.algorithms.remove(previous.alg);
        }
        self.algorithms.insert(secret.alg);
        self.hmac = Some(secret);
        self
    }

    /// The clock skew allowed for `exp`, `nbf` and `iat` (default 60 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = i64::try_from(leeway.as_secs()).unwrap_or(i64::MAX);
        self
    }

    /// The largest token accepted, in bytes (default 8 KiB).
    pub fn max_token_bytes(mut self, max: usize) -> Self {
        self.max_token_bytes = max;
        self
    }

    /// Accept tokens without this RFC 9068 §2.2 claim (for identity providers that omit it).
    pub fn allow_missing(mut self, claim: RelaxableClaim) -> Self {
        if !self.relaxed.contains(&claim) {
            self.relaxed.push(claim);
        }
        self
    }

    /// Accept tokens that carry `cnf` as plain bearer tokens. By default they are refused:
    /// such a token is bound to a key (RFC 9449 DPoP, RFC 8705 mTLS) whose proof this crate
    /// does not check yet, and accepting it as bearer would let a thief use it.
    pub fn accept_sender_constrained_as_bearer(mut self) -> Self {
        self.accept_cnf = true;
        self
    }

    /// The configured issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The configured audiences.
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    /// The size cap, in bytes.
    pub fn max_bytes(&self) -> usize {
        self.max_token_bytes
    }

    /// The accepted algorithms.
    pub fn allowed_algorithms(&self) -> impl Iterator<Item = Algorithm> {
        self.algorithms.iter()
    }

    /// Validates `token` against a fixed key set at the current system time.
    pub fn validate<X: DeserializeOwned + 'static>(
        &self,
        token: &str,
        keys: &KeySet,
    ) -> Result<AccessTokenClaims<X>, ValidationError> {
        self.validate_at(token, keys, NumericDate::now())
    }

    /// Validates `token` against a fixed key set at the time `now`.
    pub fn validate_at<X: DeserializeOwned + 'static>(
        &self,
        token: &str,
        keys: &KeySet,
        now: NumericDate,
    ) -> Result<AccessTokenClaims<X>, ValidationError> {
        let parsed = self.parse(token)?;
        match self.hmac_secret(&parsed) {
            Some(secret) => self.verify_hmac(&parsed, secret, now),
            None => {
                let key = keys.select(
                    parsed.header.kid.as_ref().map(|k| k.as_str()),
                    parsed.header.alg,
                )?;
                self.verify(&parsed, key, now)
            }
        }
    }

    /// `exp`, `nbf` and `iat` against `now`, with the leeway. Also run on every verdict
    /// cache hit, since the clock moves between hits.
    pub(crate) fn check_times<X>(
        &self,
        claims: &AccessTokenClaims<X>,
        now: NumericDate,
    ) -> Result<(), ValidationError> {
        let now = now.as_secs();
        let exp = claims.exp.as_secs();
        if exp.saturating_add(self.leeway) <= now {
            return Err(ValidationError::Expired { exp, now });
        }
        if let Some(nbf) = claims.nbf.map(NumericDate::as_secs)
            && nbf > now.saturating_add(self.leeway)
        {
            return Err(ValidationError::NotYetValid { nbf, now });
        }
        if let Some(iat) = claims.iat.map(NumericDate::as_secs)
            && iat > now.saturating_add(self.leeway)
        {
            return Err(ValidationError::IssuedInFuture { iat, now });
        }
        Ok(())
    }

    /// How long `claims` stay valid after `now`, leeway included.
    pub(crate) fn remaining_life<X>(
        &self,
        claims: &AccessTokenClaims<X>,
        now: NumericDate,
    ) -> std::time::Duration {
        let left = claims
            .exp
            .as_secs()
            .saturating_add(self.leeway)
            .saturating_sub(now.as_secs());
        std::time::Duration::from_secs(u64::try_from(left).unwrap_or(0))
    }

    /// Steps 1–3: size, segments, header.
    pub(crate) fn parse<'a>(&self, token: &'a str) -> Result<Parsed<'a>, ValidationError> {
        let jws = CompactJws::split(token, self.max_token_bytes)?;
        let header = Header::parse(jws.header, self.algorithms)?;
        Ok(Parsed { jws, header })
    }

    /// The HMAC secret for this token, if it is an HMAC token (its `alg` passed the
    /// allow-list, so a secret for it is configured).
    pub(crate) fn hmac_secret(&self, parsed: &Parsed<'_>) -> Option<&HmacSecret> {
        self.hmac.as_ref().filter(|h| h.alg == parsed.header.alg)
    }

    pub(crate) fn verify_hmac<X: DeserializeOwned + 'static>(
        &self,
        parsed: &Parsed<'_>,
        secret: &HmacSecret,
        now: NumericDate,
    ) -> Result<AccessTokenClaims<X>, ValidationError> {
        let mut buf = [0u8; 512];
        let signature = parsed.jws.signature_bytes(&mut buf)?;
        // aws-lc-rs compares the tags in constant time.
        if aws_lc_rs::hmac::verify(
            &secret.key,
            parsed.jws.signing_input.as_bytes(),
            signature.as_slice(),
        )
        .is_err()
        {
            return Err(ValidationError::InvalidSignature);
        }
        self.check_claims(parsed, now)
    }

    /// Steps 5–6 with a key the key set selected (and therefore bound to `alg`).
    pub(crate) fn verify<X: DeserializeOwned + 'static>(
        &self,
        parsed: &Parsed<'_>,
        key: &VerifyingKey,
        now: NumericDate,
    ) -> Result<AccessTokenClaims<X>, ValidationError> {
        let mut buf = [0u8; 512];
        let signature = parsed.jws.signature_bytes(&mut buf)?;
        if !key.verify(
            parsed.header.alg,
            parsed.jws.signing_input.as_bytes(),
            signature.as_slice(),
        ) {
            return Err(ValidationError::InvalidSignature);
        }
        self.check_claims(parsed, now)
    }

    fn check_claims<X: DeserializeOwned + 'static>(
        &self,
        parsed: &Parsed<'_>,
        now: NumericDate,
    ) -> Result<AccessTokenClaims<X>, ValidationError> {
        let mut buf = [0u8; 2048];
        let payload = parsed.jws.payload_bytes(&mut buf)?;
        let claims = AccessTokenClaims::<X>::from_json(payload.as_slice())?;
        if claims.iss != self.issuer {
            return Err(ValidationError::WrongIssuer(claims.iss));
        }
        if !self.audiences.iter().any(|a| claims.aud.contains(a)) {
            return Err(ValidationError::WrongAudience(claims.aud.to_vec()));
        }
        self.check_times(&claims, now)?;
        let required = [
            (RelaxableClaim::Sub, "sub", claims.sub.is_some()),
            (
                RelaxableClaim::ClientId,
                "client_id",
                claims.client_id.is_some(),
            ),
            (RelaxableClaim::Iat, "iat", claims.iat.is_some()),
            (RelaxableClaim::Jti, "jti", claims.jti.is_some()),
        ];
        for (claim, name, present) in required {
            if !present && !self.relaxed.contains(&claim) {
                return Err(ValidationError::MissingClaim(name));
            }
        }
        if claims.cnf.is_some() && !self.accept_cnf {
            return Err(ValidationError::SenderConstrained);
        }
        Ok(claims)
    }
}

/// A token that passed steps 1–3.
pub(crate) struct Parsed<'a> {
    pub(crate) jws: CompactJws<'a>,
    pub(crate) header: Header,
}
