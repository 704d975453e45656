//! The authorization-server side: minting RFC 9068 access tokens and publishing their keys.
//!
//! ```
//! use jwt_access_token::{Algorithm, JwtAccessTokenIssuer, SigningKey, TokenRequest};
//!
//! let issuer = JwtAccessTokenIssuer::new("https://as.example", SigningKey::generate(Algorithm::RS256, "2026-12")?)?;
//! let token = issuer.mint(
//!     &TokenRequest::new("alice", "shop-frontend", ["https://api.example"])
//!         .scope("items:read items:write")
//!         .roles(["editor"]),
//! )?;
//! assert_eq!(token.split('.').count(), 3);
//! assert_eq!(issuer.jwks()["keys"][0]["kid"], "2026-12");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::algorithm::{Algorithm, KeyFamily};
use crate::error::ConfigError;
use crate::token::claims::{Audience, NumericDate, Scope};
use crate::token::encode_segment;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};
use serde_json::{Map, Value, json};
use std::time::Duration;

/// The lifetime of minted tokens unless configured: short, because a JWT access token
/// cannot be revoked before it expires (RFC 7009 does not reach it).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(5 * 60);

/// Claims the generator sets itself; a [`TokenRequest::claim`] may not override them.
const REGISTERED: [&str; 16] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "client_id",
    "scope",
    "groups",
    "roles",
    "entitlements",
    "auth_time",
    "acr",
    "amr",
    "cnf",
];

/// A private signing key with its `kid` and `alg`.
pub struct SigningKey {
    alg: Algorithm,
    kid: String,
    pair: Pair,
    public_jwk: Value,
}

enum Pair {
    Rsa(aws_lc_rs::rsa::KeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn key_error(e: impl std::fmt::Display) -> ConfigError {
    ConfigError::InvalidKey(e.to_string())
}

impl SigningKey {
    /// A fresh key for `alg` (RSA 2048 for RS*/PS*, P-256/P-384, Ed25519).
    pub fn generate(alg: Algorithm, kid: impl Into<String>) -> Result<Self, ConfigError> {
        let pair = match alg.family() {
            KeyFamily::Rsa => Pair::Rsa(
                aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                    .map_err(key_error)?,
            ),
            KeyFamily::EcP256 => Pair::Ec(
                EcdsaKeyPair::generate(&sig::ECDSA_P256_SHA256_FIXED_SIGNING).map_err(key_error)?,
            ),
            KeyFamily::EcP384 => Pair::Ec(
                EcdsaKeyPair::generate(&sig::ECDSA_P384_SHA384_FIXED_SIGNING).map_err(key_error)?,
            ),
            KeyFamily::Ed25519 => Pair::Ed(Ed25519KeyPair::generate().map_err(key_error)?),
            KeyFamily::Hmac => return Err(hmac_refused()),
        };
        Self::with_pair(alg, kid.into(), pair)
    }

    /// A key from a PEM private key (PKCS#8, or PKCS#1 for RSA, or SEC1 for EC).
    pub fn from_pem(
        alg: Algorithm,
        kid: impl Into<String>,
        pem: &str,
    ) -> Result<Self, ConfigError> {
        use jsonwebtoken::EncodingKey;
        let pem = pem.as_bytes();
        let pair = match alg.family() {
            KeyFamily::Rsa => {
                let der = EncodingKey::from_rsa_pem(pem).map_err(key_error)?;
                let der = der.as_bytes();
                Pair::Rsa(
                    aws_lc_rs::rsa::KeyPair::from_der(der)
                        .or_else(|_| aws_lc_rs::rsa::KeyPair::from_pkcs8(der))
                        .map_err(key_error)?,
                )
            }
            KeyFamily::EcP256 | KeyFamily::EcP384 => {
                let der = EncodingKey::from_ec_pem(pem).map_err(key_error)?;
                let signing = if alg == Algorithm::ES256 {
                    &sig::ECDSA_P256_SHA256_FIXED_SIGNING
                } else {
                    &sig::ECDSA_P384_SHA384_FIXED_SIGNING
                };
                Pair::Ec(EcdsaKeyPair::from_pkcs8(signing, der.as_bytes()).map_err(key_error)?)
            }
            KeyFamily::Ed25519 => {
                let der = EncodingKey::from_ed_pem(pem).map_err(key_error)?;
                Pair::Ed(
                    Ed25519KeyPair::from_pkcs8_maybe_unchecked(der.as_bytes())
                        .map_err(key_error)?,
                )
            }
            KeyFamily::Hmac => return Err(hmac_refused()),
        };
        Self::with_pair(alg, kid.into(), pair)
    }

    fn with_pair(alg: Algorithm, kid: String, pair: Pair) -> Result<Self, ConfigError> {
        if kid.is_empty() {
            return Err(ConfigError::Empty("kid"));
        }
        let mut jwk = match &pair {
            Pair::Rsa(k) => {
                let c = aws_lc_rs::rsa::PublicKeyComponents::<Vec<u8>>::from(k.public_key());
                json!({"kty": "RSA", "n": encode_segment(&c.n), "e": encode_segment(&c.e)})
            }
            Pair::Ec(k) => {
                let point = k.public_key().as_ref();
                let size = (point.len().saturating_sub(1)) / 2;
                let (x, y) = point.get(1..).unwrap_or_default().split_at(size);
                let crv = if size == 32 { "P-256" } else { "P-384" };
                json!({"kty": "EC", "crv": crv, "x": encode_segment(x), "y": encode_segment(y)})
            }
            Pair::Ed(k) => {
                json!({"kty": "OKP", "crv": "Ed25519", "x": encode_segment(k.public_key().as_ref())})
            }
        };
        jwk["kid"] = json!(kid);
        jwk["alg"] = json!(alg.as_str());
        jwk["use"] = json!("sig");
        Ok(SigningKey {
            alg,
            kid,
            pair,
            public_jwk: jwk,
        })
    }

    /// The signing algorithm.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK, with `kid`, `alg` and `use: sig`.
    pub fn public_jwk(&self) -> &Value {
        &self.public_jwk
    }

    /// The public key as PEM (`PUBLIC KEY`, SubjectPublicKeyInfo), for resource servers
    /// configured with [`KeySet::from_pem`](crate::KeySet::from_pem).
    pub fn public_key_pem(&self) -> Result<String, ConfigError> {
        use aws_lc_rs::encoding::AsDer;
        let der = match &self.pair {
            Pair::Rsa(k) => k
                .public_key()
                .as_der()
                .map_err(key_error)?
                .as_ref()
                .to_vec(),
            Pair::Ec(k) => k
                .public_key()
                .as_der()
                .map_err(key_error)?
                .as_ref()
                .to_vec(),
            Pair::Ed(k) => k
                .public_key()
                .as_der()
                .map_err(key_error)?
                .as_ref()
                .to_vec(),
        };
        Ok(pem("PUBLIC KEY", &der))
    }

    /// Signs raw bytes with this key's algorithm.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, ConfigError> {
        let rng = SystemRandom::new();
        match &self.pair {
            Pair::Rsa(k) => {
                let padding: &'static dyn sig::RsaEncoding = match self.alg {
                    Algorithm::RS256 => &sig::RSA_PKCS1_SHA256,
                    Algorithm::RS384 => &sig::RSA_PKCS1_SHA384,
                    Algorithm::RS512 => &sig::RSA_PKCS1_SHA512,
                    Algorithm::PS256 => &sig::RSA_PSS_SHA256,
                    Algorithm::PS384 => &sig::RSA_PSS_SHA384,
                    _ => &sig::RSA_PSS_SHA512,
                };
                let mut out = vec![0; k.public_modulus_len()];
                k.sign(padding, &rng, message, &mut out)
                    .map_err(key_error)?;
                Ok(out)
            }
            Pair::Ec(k) => Ok(k.sign(&rng, message).map_err(key_error)?.as_ref().to_vec()),
            Pair::Ed(k) => Ok(k.sign(message).as_ref().to_vec()),
        }
    }

    /// Signs a compact JWS from raw header and payload JSON, as given. A low-level tool for
    /// tests and interop: [`JwtAccessTokenIssuer::mint`] is what issues tokens.
    pub fn sign_compact(
        &self,
        header_json: &[u8],
        payload_json: &[u8],
    ) -> Result<String, ConfigError> {
        let input = format!(
            "{}.{}",
            encode_segment(header_json),
            encode_segment(payload_json)
        );
        let signature = self.sign(input.as_bytes())?;
        Ok(format!("{input}.{}", encode_segment(&signature)))
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn hmac_refused() -> ConfigError {
    ConfigError::Invalid(
        "RFC 9068 tokens are signed with asymmetric keys here; HMAC is not offered".into(),
    )
}

/// What one token is for: the grant's subject, client, audiences, and authorization.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    sub: String,
    client_id: String,
    aud: Audience,
    scope: Scope,
    groups: Vec<String>,
    roles: Vec<String>,
    entitlements: Vec<String>,
    auth_time: Option<NumericDate>,
    acr: Option<String>,
    amr: Vec<String>,
    extra: Map<String, Value>,
    lifetime: Option<Duration>,
}

impl TokenRequest {
    /// A token for `sub` (the resource owner; for client-credentials grants, the client
    /// itself), issued to `client_id`, for `audiences` (e.g. RFC 8707 resource indicators).
    pub fn new<I, S>(sub: impl Into<String>, client_id: impl Into<String>, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        TokenRequest {
            sub: sub.into(),
            client_id: client_id.into(),
            aud: Audience::many(audiences),
            scope: Scope::default(),
            groups: Vec::new(),
            roles: Vec::new(),
            entitlements: Vec::new(),
            auth_time: None,
            acr: None,
            amr: Vec::new(),
            extra: Map::new(),
            lifetime: None,
        }
    }

    /// The granted scopes, space separated.
    pub fn scope(mut self, scope: &str) -> Self {
        self.scope = Scope::parse(scope);
        self
    }

    /// `groups`.
    pub fn groups<I: IntoIterator<Item = S>, S: Into<String>>(mut self, groups: I) -> Self {
        self.groups = groups.into_iter().map(Into::into).collect();
        self
    }

    /// `roles`.
    pub fn roles<I: IntoIterator<Item = S>, S: Into<String>>(mut self, roles: I) -> Self {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// `entitlements`.
    pub fn entitlements<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        entitlements: I,
    ) -> Self {
        self.entitlements = entitlements.into_iter().map(Into::into).collect();
        self
    }

    /// `auth_time`, `acr` and `amr` of the end user's authentication (RFC 9068 §2.2.1).
    pub fn authentication(
        mut self,
        auth_time: NumericDate,
        acr: Option<&str>,
        amr: &[&str],
    ) -> Self {
        self.auth_time = Some(auth_time);
        self.acr = acr.map(str::to_owned);
        self.amr = amr.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Another claim; registered names are refused when minting.
    pub fn claim(mut self, name: impl Into<String>, value: Value) -> Self {
        self.extra.insert(name.into(), value);
        self
    }

    /// A lifetime for this token instead of the issuer's.
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = Some(lifetime);
        self
    }
}

/// Mints RFC 9068 access tokens and publishes the keys that verify them.
#[derive(Debug)]
pub struct JwtAccessTokenIssuer {
    issuer: String,
    signing: SigningKey,
    published: Vec<Value>,
    lifetime: Duration,
}

impl JwtAccessTokenIssuer {
    /// An issuer named `issuer` (its `iss`) signing with `signing`.
    pub fn new(issuer: impl Into<String>, signing: SigningKey) -> Result<Self, ConfigError> {
        let issuer = issuer.into();
        if issuer.is_empty() {
            return Err(ConfigError::Empty("issuer"));
        }
        Ok(JwtAccessTokenIssuer {
            issuer,
            signing,
            published: Vec::new(),
            lifetime: DEFAULT_LIFETIME,
        })
    }

    /// The lifetime of minted tokens (default 5 minutes).
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Signs from now on with `next`; the previous public key stays in [`Self::jwks`] so
    /// that tokens it signed keep verifying until they expire.
    pub fn rotate(&mut self, next: SigningKey) {
        let previous = std::mem::replace(&mut self.signing, next);
        self.published.push(previous.public_jwk);
    }

    /// Stops publishing retired keys (once their tokens have expired).
    pub fn drop_retired_keys(&mut self) {
        self.published.clear();
    }

    /// The issuer identifier.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The current signing key.
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    /// The public JWKS: the signing key first, then the retired ones still published.
    pub fn jwks(&self) -> Value {
        let mut keys = vec![self.signing.public_jwk.clone()];
        keys.extend(self.published.iter().cloned());
        json!({ "keys": keys })
    }

    /// The RFC 8414 metadata fields this issuer can vouch for.
    pub fn metadata(&self, jwks_uri: &str) -> Value {
        json!({ "issuer": self.issuer, "jwks_uri": jwks_uri })
    }

    /// Mints a token valid from now.
    pub fn mint(&self, request: &TokenRequest) -> Result<String, ConfigError> {
        self.mint_at(request, NumericDate::now())
    }

    /// Mints a token as if issued at `now`.
    pub fn mint_at(&self, request: &TokenRequest, now: NumericDate) -> Result<String, ConfigError> {
        if let Some(name) = request
            .extra
            .keys()
            .find(|k| REGISTERED.contains(&k.as_str()))
        {
            return Err(ConfigError::Invalid(format!(
                "`{name}` is set by the issuer, not by claim()"
            )));
        }
        let mut jti = [0u8; 16];
        aws_lc_rs::rand::fill(&mut jti).map_err(key_error)?;
        let exp = now.plus(request.lifetime.unwrap_or(self.lifetime));
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(self.issuer));
        claims.insert("sub".into(), json!(request.sub));
        claims.insert("aud".into(), json!(request.aud));
        claims.insert("exp".into(), json!(exp));
        claims.insert("iat".into(), json!(now));
        claims.insert("jti".into(), json!(encode_segment(&jti)));
        claims.insert("client_id".into(), json!(request.client_id));
        if !request.scope.is_empty() {
            claims.insert("scope".into(), json!(request.scope));
        }
        for (name, list) in [
            ("groups", &request.groups),
            ("roles", &request.roles),
            ("entitlements", &request.entitlements),
            ("amr", &request.amr),
        ] {
            if !list.is_empty() {
                claims.insert(name.into(), json!(list));
            }
        }
        if let Some(t) = request.auth_time {
            claims.insert("auth_time".into(), json!(t));
        }
        if let Some(acr) = &request.acr {
            claims.insert("acr".into(), json!(acr));
        }
        claims.extend(request.extra.clone());
        let header =
            json!({"typ": "at+jwt", "alg": self.signing.alg.as_str(), "kid": self.signing.kid});
        self.signing.sign_compact(
            header.to_string().as_bytes(),
            Value::Object(claims).to_string().as_bytes(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AccessTokenClaims, KeySet, Validator};

    #[test]
    fn every_algorithm_round_trips_through_the_validator() {
        let validator = Validator::new("https://as", ["api"]).expect("validator");
        for alg in Algorithm::ASYMMETRIC {
            let issuer = JwtAccessTokenIssuer::new(
                "https://as",
                SigningKey::generate(alg, "k").expect("key"),
            )
            .expect("issuer");
            let keys = KeySet::from_jwks(&issuer.jwks().to_string()).expect("jwks");
            let token = issuer
                .mint(&TokenRequest::new("u", "c", ["api"]).scope("a b"))
                .expect("mint");
            let claims: AccessTokenClaims = validator
                .validate(&token, &keys)
                .unwrap_or_else(|e| panic!("{alg}: {e}"));
            assert_eq!(claims.sub.as_deref(), Some("u"));
            assert_eq!(claims.client_id.as_deref(), Some("c"));
            assert!(claims.jti.is_some());
        }
    }

    #[test]
    fn registered_claims_cannot_be_overridden() {
        let issuer = JwtAccessTokenIssuer::new(
            "https://as",
            SigningKey::generate(Algorithm::ES256, "k").expect("key"),
        )
        .expect("issuer");
        let r =
            issuer.mint(&TokenRequest::new("u", "c", ["api"]).claim("iss", json!("https://evil")));
        assert!(r.is_err());
    }

    #[test]
    fn rotation_keeps_the_old_key_published() {
        let mut issuer = JwtAccessTokenIssuer::new(
            "https://as",
            SigningKey::generate(Algorithm::ES256, "old").expect("key"),
        )
        .expect("issuer");
        issuer.rotate(SigningKey::generate(Algorithm::ES256, "new").expect("key"));
        let kids: Vec<_> = issuer.jwks()["keys"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|k| k["kid"].clone())
            .collect();
        assert_eq!(kids, vec![json!("new"), json!("old")]);
        issuer.drop_retired_keys();
        assert_eq!(issuer.jwks()["keys"].as_array().map(Vec::len), Some(1));
    }

    fn private_pkcs8_pem(key: &SigningKey) -> String {
        use aws_lc_rs::encoding::AsDer;
        let der = match &key.pair {
            Pair::Rsa(k) => k.as_der().expect("der").as_ref().to_vec(),
            Pair::Ec(k) => k.to_pkcs8v1().expect("der").as_ref().to_vec(),
            Pair::Ed(k) => k.to_pkcs8v1().expect("der").as_ref().to_vec(),
        };
        pem("PRIVATE KEY", &der)
    }

    #[test]
    fn pem_keys_round_trip_for_every_algorithm() {
        let validator = Validator::new("https://as", ["api"]).expect("validator");
        for alg in Algorithm::ASYMMETRIC {
            let generated = SigningKey::generate(alg, "g").expect("key");
            let loaded =
                SigningKey::from_pem(alg, "p", &private_pkcs8_pem(&generated)).expect("from_pem");
            assert_eq!(
                loaded.public_jwk()["x"],
                generated.public_jwk()["x"],
                "{alg}"
            );
            assert_eq!(
                loaded.public_jwk()["n"],
                generated.public_jwk()["n"],
                "{alg}"
            );
            let issuer = JwtAccessTokenIssuer::new("https://as", loaded).expect("issuer");
            let token = issuer
                .mint(&TokenRequest::new("u", "c", ["api"]))
                .expect("mint");
            let keys = KeySet::from_pem(&generated.public_key_pem().expect("pem"), Some("p"))
                .expect("key set");
            let claims: Result<AccessTokenClaims, _> = validator.validate(&token, &keys);
            assert!(claims.is_ok(), "{alg}: {claims:?}");
            // The PEM key has no JWK `alg`, but still binds by type: another family never fits.
            let other = if alg.as_str().starts_with('E') {
                "RS256"
            } else {
                "ES256"
            };
            let header = format!(r#"{{"typ":"at+jwt","alg":"{other}","kid":"p"}}"#);
            let forged = generated
                .sign_compact(header.as_bytes(), b"{}")
                .expect("sign");
            assert!(
                validator
                    .validate::<crate::ExtraClaims>(&forged, &keys)
                    .is_err(),
                "{alg}"
            );
        }
        assert!(SigningKey::from_pem(Algorithm::RS256, "x", "not a pem").is_err());
        assert!(
            KeySet::from_pem(
                "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
                None
            )
            .is_err()
        );
    }

    #[test]
    fn hmac_signing_is_not_offered() {
        assert!(SigningKey::generate(Algorithm::HS256, "k").is_err());
    }
}
