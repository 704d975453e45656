//! One verification key: a JWK (RFC 7517) or a PEM public key, bound to what it may verify.
//!
//! The key is parsed once, when the key set is loaded; a request only looks it up.

use crate::algorithm::{Algorithm, KeyFamily};
use crate::error::ConfigError;
use crate::token::decode_segment;
use aws_lc_rs::signature::{self as sig, ParsedPublicKey, VerificationAlgorithm};
use jsonwebtoken::DecodingKey;
use serde_json::{Map, Value};
use std::sync::OnceLock;

/// RFC 7518 §3.3: RSA keys of 2048 bits or larger MUST be used.
const MIN_RSA_BITS: usize = 2048;
/// The largest modulus the aws-lc-rs verifiers accept (`RSA_PKCS1_2048_8192_*`,
/// `RSA_PSS_2048_8192_*`): a larger key would load and then never verify anything.
const MAX_RSA_BITS: usize = 8192;
/// aws-lc refuses public exponents over 33 bits (a DoS bound, `rsa_check_public_key`).
const MAX_RSA_EXPONENT_BITS: usize = 33;

/// A public key ready for signature verification, with the JWK parameters that limit it.
#[derive(Clone)]
pub struct VerifyingKey {
    kid: Option<String>,
    family: KeyFamily,
    /// The JWK's own `alg`, if any: the token's `alg` must equal it.
    jwk_alg: Option<String>,
    /// Why `use` / `key_ops` forbid verification, if they do.
    not_for_verification: Option<&'static str>,
    /// The public key as aws-lc-rs reads it: SubjectPublicKeyInfo DER for RSA, the
    /// uncompressed point for EC, the 32 raw bytes for Ed25519.
    public: Box<[u8]>,
    /// The key parsed once per algorithm, on first use (one RSA key may serve RS256 and
    /// PS512 alike, and aws-lc-rs binds the parsed key to one algorithm).
    parsed: [OnceLock<Option<ParsedPublicKey>>; Algorithm::ALL.len()],
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("family", &self.family)
            .field("alg", &self.jwk_alg)
            .finish_non_exhaustive()
    }
}

impl VerifyingKey {
    /// Reads one JWK. Private keys, symmetric keys, unknown key types and curves, and RSA
    /// keys under 2048 bits are refused with the reason.
    pub fn from_jwk(jwk: &Value) -> Result<Self, ConfigError> {
        let Value::Object(jwk) = jwk else {
            return Err(invalid("a JWK must be a JSON object"));
        };
        let kty = member_str(jwk, "kty")?.ok_or_else(|| invalid("`kty` is missing"))?;
        // A JWKS that leaks private parameters is a misconfigured issuer; never use it.
        if ["d", "p", "q", "dp", "dq", "qi", "k"]
            .iter()
            .any(|m| jwk.contains_key(*m))
        {
            return Err(invalid("the JWK holds private or symmetric key material"));
        }
        let (family, public) = match kty {
            "RSA" => {
                let n = member_bytes(jwk, "n")?;
                let e = member_bytes(jwk, "e")?;
                (KeyFamily::Rsa, rsa_spki(&n, &e)?)
            }
            "EC" => {
                let (family, size) = match member_str(jwk, "crv")? {
                    Some("P-256") => (KeyFamily::EcP256, 32),
                    Some("P-384") => (KeyFamily::EcP384, 48),
                    _ => return Err(invalid("unsupported or missing EC `crv`")),
                };
                let x = member_bytes(jwk, "x")?;
                let y = member_bytes(jwk, "y")?;
                if x.len() != size || y.len() != size {
                    return Err(invalid("EC coordinates do not fit the curve"));
                }
                let mut point = Vec::with_capacity(1 + 2 * size);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                (family, point)
            }
            "OKP" => {
                if member_str(jwk, "crv")? != Some("Ed25519") {
                    return Err(invalid("unsupported or missing OKP `crv`"));
                }
                let x = member_bytes(jwk, "x")?;
                if x.len() != 32 {
                    return Err(invalid("Ed25519 `x` must be 32 bytes"));
                }
                (KeyFamily::Ed25519, x)
            }
            "oct" => return Err(invalid("symmetric keys are never taken from a JWKS")),
            _ => return Err(invalid("unsupported `kty`")),
        };
        let not_for_verification = match (member_str(jwk, "use")?, jwk.get("key_ops")) {
            (Some(u), _) if u != "sig" => Some("its `use` is not \"sig\""),
            (_, Some(Value::Array(ops))) if !ops.iter().any(|o| o == "verify") => {
                Some("its `key_ops` lack \"verify\"")
            }
            (_, Some(Value::Array(_)) | None) => None,
            (_, Some(_)) => return Err(invalid("`key_ops` must be an array")),
        };
        VerifyingKey::new(
            member_str(jwk, "kid")?.map(str::to_owned),
            family,
            member_str(jwk, "alg")?.map(str::to_owned),
            not_for_verification,
            public,
        )
    }

    /// Reads a PEM public key (RSA, EC P-256/P-384 or Ed25519, as SPKI `PUBLIC KEY` or
    /// PKCS#1 `RSA PUBLIC KEY`).
    pub fn from_pem(pem: &str, kid: Option<&str>) -> Result<Self, ConfigError> {
        let pem = pem.as_bytes();
        let bytes = |k: &DecodingKey| {
            k.try_get_as_bytes()
                .map(<[u8]>::to_vec)
                .map_err(|e| ConfigError::InvalidKey(e.to_string()))
        };
        // jsonwebtoken reads the PEM; aws-lc-rs gets the key material.
        let (family, public) = if let Ok(k) = DecodingKey::from_rsa_pem(pem) {
            let public = aws_lc_rs::rsa::PublicKey::from_der(&bytes(&k)?)
                .map_err(|e| ConfigError::InvalidKey(format!("RSA public key: {e}")))?;
            let c = aws_lc_rs::rsa::PublicKeyComponents::<Vec<u8>>::from(&public);
            (KeyFamily::Rsa, rsa_spki(&c.n, &c.e)?)
        } else if let Ok(k) = DecodingKey::from_ec_pem(pem) {
            let point = bytes(&k)?;
            match point.len() {
                65 => (KeyFamily::EcP256, point),
                97 => (KeyFamily::EcP384, point),
                _ => return Err(ConfigError::InvalidKey("unsupported EC curve".into())),
            }
        } else if let Ok(k) = DecodingKey::from_ed_pem(pem) {
            (KeyFamily::Ed25519, bytes(&k)?)
        } else {
            return Err(ConfigError::InvalidKey(
                "not an RSA, EC or Ed25519 public key in PEM form".into(),
            ));
        };
        VerifyingKey::new(kid.map(str::to_owned), family, None, None, public)
    }

    /// Parses the key for its first fitting algorithm now, so that a key aws-lc-rs refuses
    /// (a point off the curve, a malformed modulus) is refused at load, not on a request.
    fn new(
        kid: Option<String>,
        family: KeyFamily,
        jwk_alg: Option<String>,
        not_for_verification: Option<&'static str>,
        public: Vec<u8>,
    ) -> Result<Self, ConfigError> {
        let key = VerifyingKey {
            kid,
            family,
            jwk_alg,
            not_for_verification,
            public: public.into_boxed_slice(),
            parsed: Default::default(),
        };
        let first = Algorithm::ALL.into_iter().find(|a| {
            a.family() == family && key.jwk_alg.as_deref().is_none_or(|j| j == a.as_str())
        });
        if let Some(alg) = first
            && key.parsed_for(alg).is_none()
        {
            return Err(invalid("the key material is not a valid public key"));
        }
        Ok(key)
    }

    /// The key parsed for `alg`, parsing it on first use.
    fn parsed_for(&self, alg: Algorithm) -> Option<&ParsedPublicKey> {
        let slot = self.parsed.get(alg as usize)?;
        slot.get_or_init(|| ParsedPublicKey::new(verification_algorithm(alg)?, &self.public).ok())
            .as_ref()
    }

    /// The key id.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Whether `use` and `key_ops` allow verification at all.
    pub(crate) fn can_verify(&self) -> bool {
        self.not_for_verification.is_none()
    }

    /// Whether this key may verify `alg` (RFC 9068 §4 step 4): the key type and curve fit,
    /// the JWK `alg` (if any) is the same, `use` (if any) is `sig`, `key_ops` (if any)
    /// contain `verify`. The error names the binding that failed.
    pub(crate) fn fits(&self, alg: Algorithm) -> Result<(), &'static str> {
        if self.family != alg.family() {
            return Err(match (self.family, alg.family()) {
                (KeyFamily::EcP256 | KeyFamily::EcP384, KeyFamily::EcP256 | KeyFamily::EcP384) => {
                    "the key's curve does not fit the algorithm"
                }
                _ => "the key type does not fit the algorithm",
            });
        }
        if let Some(jwk_alg) = &self.jwk_alg
            && jwk_alg != alg.as_str()
        {
            return Err("the key's JWK `alg` differs from the token's");
        }
        match self.not_for_verification {
            Some(reason) => Err(reason),
            None => Ok(()),
        }
    }

    /// Verifies `signature` over `message` with `alg`, which must already fit this key:
    /// aws-lc-rs with the key parsed once, no allocation.
    pub(crate) fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        self.parsed_for(alg)
            .is_some_and(|key| key.verify_sig(message, signature).is_ok())
    }
}

/// The aws-lc-rs algorithm for a JWS `alg` with a public key (none for HMAC).
fn verification_algorithm(alg: Algorithm) -> Option<&'static dyn VerificationAlgorithm> {
    Some(match alg {
        Algorithm::RS256 => &sig::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &sig::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &sig::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &sig::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &sig::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &sig::RSA_PSS_2048_8192_SHA512,
        Algorithm::ES256 => &sig::ECDSA_P256_SHA256_FIXED,
        Algorithm::ES384 => &sig::ECDSA_P384_SHA384_FIXED,
        Algorithm::EdDSA => &sig::ED25519,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => return None,
    })
}

/// The SubjectPublicKeyInfo DER of an RSA public key from its big-endian modulus and
/// exponent, refused unless the verifier could use it: a modulus of 2048 to 8192 bits,
/// counted in bits (a 256-byte modulus whose top byte is small is under 2048 bits), odd; an
/// exponent that is odd, at least 3 (e = 1 would make every padded hash its own signature)
/// and at most 33 bits. aws-lc-rs checks the same again; refusing here names the reason when
/// the key set loads.
fn rsa_spki(n: &[u8], e: &[u8]) -> Result<Vec<u8>, ConfigError> {
    use aws_lc_rs::encoding::AsDer;
    let n = strip_leading_zeros(n);
    let e = strip_leading_zeros(e);
    let n_bits = bit_length(n);
    if n_bits < MIN_RSA_BITS {
        return Err(invalid("RSA modulus under 2048 bits"));
    }
    if n_bits > MAX_RSA_BITS {
        return Err(invalid("RSA modulus over 8192 bits"));
    }
    if n.last().is_some_and(|b| b % 2 == 0) {
        return Err(invalid("RSA modulus is even"));
    }
    let e_is_odd = e.last().is_some_and(|b| b % 2 == 1);
    let e_at_least_3 = bit_length(e) >= 2;
    if !e_is_odd || !e_at_least_3 || bit_length(e) > MAX_RSA_EXPONENT_BITS {
        return Err(invalid("RSA exponent is out of range"));
    }
    let components = aws_lc_rs::rsa::PublicKeyComponents { n, e };
    let der = components
        .as_der()
        .map_err(|_| invalid("the RSA key is not valid"))?;
    Ok(der.as_ref().to_vec())
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// The number of significant bits of a big-endian integer without leading zero bytes.
fn bit_length(bytes: &[u8]) -> usize {
    match bytes.first() {
        None => 0,
        Some(top) => (bytes.len() - 1) * 8 + (8 - top.leading_zeros() as usize),
    }
}

fn invalid(reason: &str) -> ConfigError {
    ConfigError::InvalidKey(reason.to_owned())
}

fn member_str<'a>(jwk: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, ConfigError> {
    match jwk.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ConfigError::InvalidKey(format!(
            "`{name}` must be a string"
        ))),
    }
}

fn member_bytes(jwk: &Map<String, Value>, name: &str) -> Result<Vec<u8>, ConfigError> {
    let s = member_str(jwk, name)?
        .ok_or_else(|| ConfigError::InvalidKey(format!("`{name}` is missing")))?;
    decode_segment(s, "").map_err(|_| ConfigError::InvalidKey(format!("`{name}` is not base64url")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const N_2048: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

    #[test]
    fn rsa_jwk_binds_to_rsa_algorithms() {
        let k = VerifyingKey::from_jwk(&json!({"kty":"RSA","kid":"r","n":N_2048,"e":"AQAB"}));
        let Ok(k) = k else { panic!("{k:?}") };
        assert_eq!(k.kid(), Some("r"));
        assert_eq!(k.fits(Algorithm::RS256), Ok(()));
        assert_eq!(k.fits(Algorithm::PS512), Ok(()));
        assert!(k.fits(Algorithm::ES256).is_err());
        assert!(k.fits(Algorithm::HS256).is_err());
    }

    #[test]
    fn jwk_alg_use_and_key_ops_bind() {
        let base = json!({"kty":"RSA","n":N_2048,"e":"AQAB"});
        let with = |k: &str, v: Value| {
            let mut j = base.clone();
            j[k] = v;
            VerifyingKey::from_jwk(&j).map(|key| key.fits(Algorithm::RS256))
        };
        assert_eq!(with("alg", json!("RS256")), Ok(Ok(())));
        assert!(matches!(with("alg", json!("PS256")), Ok(Err(_))));
        assert_eq!(with("use", json!("sig")), Ok(Ok(())));
        assert!(matches!(with("use", json!("enc")), Ok(Err(_))));
        assert_eq!(with("key_ops", json!(["verify"])), Ok(Ok(())));
        assert!(matches!(with("key_ops", json!(["encrypt"])), Ok(Err(_))));
        assert!(with("key_ops", json!("verify")).is_err());
    }

    #[test]
    fn points_off_the_curve_are_refused_at_load() {
        let x = crate::token::encode_segment(&[1; 32]);
        assert!(VerifyingKey::from_jwk(&json!({"kty":"EC","crv":"P-256","x":x,"y":x})).is_err());
    }

    #[test]
    fn unusable_jwks_are_refused() {
        let cases = [
            json!({"kty":"oct","k":"c2VjcmV0"}),
            json!({"kty":"RSA","n":N_2048,"e":"AQAB","d":"AQAB"}),
            json!({"kty":"RSA","n":"AQAB","e":"AQAB"}),
            json!({"kty":"EC","crv":"P-521","x":"AA","y":"AA"}),
            json!({"kty":"EC","crv":"P-256","x":"AA","y":"AA"}),
            json!({"kty":"OKP","crv":"X25519","x":"AA"}),
            json!({"kty":"XYZ"}),
            json!({"n":N_2048}),
            json!("RSA"),
            json!({"kty":"RSA","n":N_2048,"e":"AQAB","kid":5}),
        ];
        for jwk in cases {
            assert!(VerifyingKey::from_jwk(&jwk).is_err(), "{jwk}");
        }
    }

    #[test]
    fn rsa_sizes_are_counted_in_bits_and_exponents_checked() {
        let n = |top: u8, len: usize| {
            let mut n = vec![0xa7u8; len];
            n[0] = top;
            crate::token::encode_segment(&n)
        };
        let key = |n: String, e: &str| VerifyingKey::from_jwk(&json!({"kty":"RSA","n":n,"e":e}));
        assert!(key(N_2048.into(), "AQAB").is_ok());
        assert!(key(n(0x80, 256), "AQAB").is_ok(), "exactly 2048 bits");
        assert!(key(n(0x7f, 256), "AQAB").is_err(), "2047 bits in 256 bytes");
        assert!(key(n(0x01, 256), "AQAB").is_err(), "2041 bits in 256 bytes");
        assert!(key(n(0xff, 1024), "AQAB").is_ok(), "8192 bits");
        assert!(key(n(0x01, 1025), "AQAB").is_err(), "8193 bits");
        let mut even = crate::token::encode_segment(&[0xc5u8; 256]);
        even.pop();
        even.push('A');
        assert!(key(even, "AQAB").is_err(), "even modulus");
        for e in ["AQ", "Ag", "AA", "AAE", "BA", "AQAAAAAB", "AgAAAAE"] {
            assert!(key(N_2048.into(), e).is_err(), "e = {e}");
        }
        for e in ["Aw", "AQAB", "AAEAAQ", "AQAAAAE"] {
            assert!(key(N_2048.into(), e).is_ok(), "e = {e}");
        }
        assert_eq!(bit_length(&[]), 0);
        assert_eq!(bit_length(&[1]), 1);
        assert_eq!(bit_length(&[0x80, 0]), 16);
    }

    #[test]
    fn curves_are_told_apart() {
        let real = crate::SigningKey::generate(Algorithm::ES256, "k").expect("key");
        let mut jwk = real.public_jwk().clone();
        jwk.as_object_mut().expect("object").remove("alg");
        let k = VerifyingKey::from_jwk(&jwk);
        let Ok(k) = k else { panic!() };
        assert_eq!(k.fits(Algorithm::ES256), Ok(()));
        assert_eq!(
            k.fits(Algorithm::ES384),
            Err("the key's curve does not fit the algorithm")
        );
    }
}
