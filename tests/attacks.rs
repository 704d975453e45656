//! The negative matrix: one named test per attack of SECURITY.md's threat model.
//!
//! Token-level attacks run on the pure validator with a fixed clock; forged tokens are made
//! with `SigningKey::sign_compact` (or by hand, byte by byte). Attacks that live in HTTP or in
//! the key cache run against real servers on 127.0.0.1 (`tests/common`), or through the tower
//! layer with `oneshot`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{AUDIENCE, Mode, TestIssuer, get_with, serve_app};
use http::{Request, Response, StatusCode, header};
use jwt_access_token::{
    AccessTokenClaims, AccessTokenVerifier, Algorithm, AuthError, HmacSecret, JwtAccessTokenLayer,
    KeySet, NumericDate, RemoteKeySet, SigningKey, ValidationError, Validator, VerifyingKey,
};
use serde_json::{Value, json};
use std::convert::Infallible;
use std::time::{Duration, Instant};
use tower::{Layer, ServiceExt, service_fn};

const ISS: &str = "https://as.example";
const AUD: &str = "https://api.example";
const NOW: i64 = 1_800_000_000;

/// Order of the P-256 group (SEC 2), big-endian.
const P256_N: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
/// Order of the P-384 group (SEC 2), big-endian.
const P384_N: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973";
/// Order of the Ed25519 group, L = 2^252 + 27742317777372353535851937790883648493, big-endian.
const ED25519_L: &str = "1000000000000000000000000000000014def9dea2f79cd65812631a5cf5d3ed";

/// A real 1024-bit RSA public key (made with `openssl genrsa 1024`).
const RSA_1024_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDON/5KS54G2Jb3tyH4YVRVa2rY
8vf+5UrqxVz/rjAgzj8/EcSey9Hudtu/JiuJWPrwSEn5dogkMnZ7iKNolZxqZ6Pe
t/2ul2quloAYhG6aiMboZEO5c6tGUPGEZrnfsVXRn2VIjQZ2jf7qUwO2PZ9yZdND
cpZrTuHW8V93IMHYOQIDAQAB
-----END PUBLIC KEY-----
";

/// A test-only 2048-bit RSA private key (made with `openssl genpkey`), to sign with PS256 and
/// RS256 under one key.
const TEST_RSA_PKCS8: &str = "-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCYdAKl0wufwPzC
bGqQhWEXdBo4OiRquGB+Phq/Y0B3ijY79o4PGUG3xtNW1+c32kelYHkTV+WbA/4h
zN7UuMaJQiYdDuKk31uGO430F1kACsJD3++2zn3JnIzn6nCBdn3MqwNueORG5Qvp
13GBH/M9l/nK5iZvzrYS1++ozhhxwPV0hM+GDqxjm0fFNYeOUKOwdvdZ7HixSdD8
uUg8zqIeQlNmnsaXRN0n/WzOsS27I0HZ2P/QrJNHi9M0A2JjUPepiBRHURPOhaxO
cZJNuDjceSc7zjU64gpUC8jQACMVaMSbFvXIawtLHnx9AVhXF1RUXNQCjzS1YCWR
DuEHgNK9AgMBAAECggEADDGFL7GqVZf4L22/9TixzBAtc69Uz9NY5mf9uC6OTrFX
hqLA+Hyu6K3GpATHOcyj29qUPIOUefpPBnGOJgn0WTCY/0x8PK8fsSQMxcfjRrFV
mdusntyzq18x1u/FmVk6lRbdgqW5LmFt+0FP0wHU8Ol5oWyYiOtJ3UZ3pPL8+gYT
DwREmDslu4RXvSzsQrS2YWT4I1+nRH96b8EvLHxv4C1bTBFKRytcBNdRQ57cPbJA
irXdld0pIZAE0BgiSsa+0QKvda/Bemsf6sMleQa5CRzcinBwoP+MTM+YadeAB6ee
4NdmwecCjwWArZWoG3YEbC6z0WOnd9VcxA72L+XKOQKBgQDKqWzKJhYzYRISzPop
pYqvivqNKP3m6sPL4O8RrnaGGJJWhvTXJxA7y/6cutrNGsed3qAkThn0P+ANixkQ
0XF2beO+eT7gEQ8LPpAA7xyXniezRV5L4nnqCNKEe7XpbUb2EJfIIAdgEV/iE5Rz
C+r1Z+9e55NoKnqCW7RqpLps9QKBgQDAk7giEVD7eW4TpgpvAjtSKvaYZnHgoVuF
dRXhQEIKiEuKRwnsSkmx6wcAFsL7qXRafkK+u53RVcf1RaEBUfECSfB54OmMUAwu
Xrc/+LVwJOo2eOkZ7jwuZAOxMZUEAxxx9Pzu3GCRypKT3Pk2Qyt/VJgkdMM59Dax
UH8dtsQxqQKBgBgyjIPCcmomD/NguAna8yksjefm2hIFO+WO8NyKmSo/qtFcAcXi
qySIodjy0ockyGrIFxTeomiwa78SOabxavu5+TRX47L7NnGgQa9q3V4ZCyJziOPE
ocvYy9H3t2usmYltx8GkWV0WFf23WsU1yhMNGt6ZBdetIr2H143YJ041AoGBAKYQ
PB6UlCLmybeD3UdwwzrN9avh2517R3LETsPZJ5nxgkKRk8sBHJ+iLn0zI5zkuYM3
kdLr8uGLeUzWaEq9IHl6zTYsbvkiJf7uilNN4xf7nUSv60MDHz5Z3J02RmwZSrQy
MNLBkzzlVJTRXs4eCipZBoGZdqhJIcixw4waCQFRAoGAXJtVR8CmX6b+x3OsV/sF
H50a9nBt/maLItKCJe9qa1QXvCFfj+kZxiG3fI97DLV1rRcDKC1s7bN3gl2EYtJl
HlA25BjV4qO0xSa6YGR4zi0F9ngAm/ZwqhL/EUypqCL+/lq4UYm9/tYqIXX6gHoV
3X0lazfmBSuc34hzpDqQnHw=
-----END PRIVATE KEY-----
";

// ---------------------------------------------------------------------------------------------
// Fixture: one issuer with an ES256, an ES384, an RS256 and an EdDSA key, a validator, a clock.
// ---------------------------------------------------------------------------------------------

struct Fixture {
    es256: SigningKey,
    es384: SigningKey,
    rs256: SigningKey,
    eddsa: SigningKey,
    keys: KeySet,
    validator: Validator,
}

fn fixture() -> Fixture {
    let es256 = SigningKey::generate(Algorithm::ES256, "es").expect("key");
    let es384 = SigningKey::generate(Algorithm::ES384, "es384").expect("key");
    let rs256 = SigningKey::generate(Algorithm::RS256, "rs").expect("key");
    let eddsa = SigningKey::generate(Algorithm::EdDSA, "ed").expect("key");
    let keys = keys_of(&[
        es256.public_jwk().clone(),
        es384.public_jwk().clone(),
        rs256.public_jwk().clone(),
        eddsa.public_jwk().clone(),
    ]);
    Fixture {
        es256,
        es384,
        rs256,
        eddsa,
        keys,
        validator: Validator::new(ISS, [AUD]).expect("validator"),
    }
}

impl Fixture {
    fn check(&self, token: &str) -> Result<AccessTokenClaims, ValidationError> {
        self.validator
            .validate_at(token, &self.keys, NumericDate::from_secs(NOW))
    }

    fn check_with(
        &self,
        validator: &Validator,
        token: &str,
    ) -> Result<AccessTokenClaims, ValidationError> {
        validator.validate_at(token, &self.keys, NumericDate::from_secs(NOW))
    }

    /// A valid token signed with `key`, with its usual header.
    fn token(&self, key: &SigningKey, claims: &Value) -> String {
        sign(key, &header_of(key), claims)
    }
}

fn keys_of(jwks: &[Value]) -> KeySet {
    KeySet::from_jwks(&json!({ "keys": jwks }).to_string()).expect("key set")
}

fn claims() -> Value {
    json!({"iss":ISS,"aud":AUD,"sub":"alice","client_id":"app","iat":NOW - 10,"jti":"id-1","exp":NOW + 300,"scope":"a b"})
}

fn header_of(key: &SigningKey) -> Value {
    json!({"typ":"at+jwt","alg":key.alg().as_str(),"kid":key.kid()})
}

fn sign(key: &SigningKey, header: &Value, claims: &Value) -> String {
    key.sign_compact(header.to_string().as_bytes(), claims.to_string().as_bytes())
        .expect("sign")
}

/// Signs raw header and payload bytes (for JSON that `serde_json::Value` cannot express,
/// such as duplicate members or invalid UTF-8).
fn sign_raw(key: &SigningKey, header: &[u8], payload: &[u8]) -> String {
    key.sign_compact(header, payload).expect("sign")
}

fn with(mut c: Value, name: &str, value: Value) -> Value {
    c[name] = value;
    c
}

fn without(mut c: Value, name: &str) -> Value {
    c.as_object_mut().expect("object").remove(name);
    c
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).expect("base64url")
}

/// The three segments of a compact token.
fn segments(token: &str) -> (String, String, String) {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        panic!("not three segments: {token}");
    };
    (h.to_owned(), p.to_owned(), s.to_owned())
}

/// The same token with another signature.
fn with_signature(token: &str, signature: &[u8]) -> String {
    let (h, p, _) = segments(token);
    format!("{h}.{p}.{}", b64(signature))
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// a - b for big-endian unsigned integers of the same length, a >= b.
fn be_sub(a: &[u8], b: &[u8]) -> Vec<u8> {
    assert_eq!(a.len(), b.len());
    let mut out = vec![0u8; a.len()];
    let mut borrow = 0i16;
    for i in (0..a.len()).rev() {
        let mut d = a[i] as i16 - b[i] as i16 - borrow;
        borrow = 0;
        if d < 0 {
            d += 256;
            borrow = 1;
        }
        out[i] = d as u8;
    }
    assert_eq!(borrow, 0, "a < b");
    out
}

/// a + b for big-endian unsigned integers of the same length; the result may be one byte
/// longer.
fn be_add(a: &[u8], b: &[u8]) -> Vec<u8> {
    assert_eq!(a.len(), b.len());
    let mut out = vec![0u8; a.len() + 1];
    let mut carry = 0u16;
    for i in (0..a.len()).rev() {
        let s = a[i] as u16 + b[i] as u16 + carry;
        out[i + 1] = s as u8;
        carry = s >> 8;
    }
    out[0] = carry as u8;
    if out[0] == 0 {
        out.remove(0);
    }
    out
}

/// ASN.1 DER `SEQUENCE { INTEGER r, INTEGER s }` from a fixed-length `r || s` signature.
fn ecdsa_der(fixed: &[u8]) -> Vec<u8> {
    fn integer(bytes: &[u8]) -> Vec<u8> {
        let first = bytes
            .iter()
            .position(|b| *b != 0)
            .unwrap_or(bytes.len() - 1);
        let mut v = bytes[first..].to_vec();
        if v[0] & 0x80 != 0 {
            v.insert(0, 0);
        }
        let mut out = vec![0x02, v.len() as u8];
        out.extend(v);
        out
    }
    let (r, s) = fixed.split_at(fixed.len() / 2);
    let body: Vec<u8> = [integer(r), integer(s)].concat();
    let mut out = vec![0x30];
    if body.len() >= 0x80 {
        out.push(0x81);
    }
    out.push(body.len() as u8);
    out.extend(body);
    out
}

// ---------------------------------------------------------------------------------------------
// Algorithm attacks
// ---------------------------------------------------------------------------------------------

/// `alg: none` (RFC 8725 §2.1), in every letter case, with an empty, a garbage or a real
/// signature: there is no `none` algorithm to allow.
#[test]
fn alg_none_in_any_letter_case_is_refused() {
    let f = fixture();
    for alg in [
        "none",
        "None",
        "NONE",
        "nOnE",
        "nonE",
        "none ",
        " none",
        "none\u{0}",
    ] {
        let header = json!({"typ":"at+jwt","alg":alg});
        let unsigned = format!(
            "{}.{}.",
            b64(header.to_string().as_bytes()),
            b64(claims().to_string().as_bytes())
        );
        assert_eq!(
            f.check(&unsigned).err(),
            Some(ValidationError::Malformed(
                "unsigned token (empty signature)"
            )),
            "{alg:?}"
        );
        let garbage = format!("{unsigned}AAAA");
        assert_eq!(
            f.check(&garbage).err(),
            Some(ValidationError::AlgorithmNotAllowed(alg.into())),
            "{alg:?}"
        );
        // A real signature over a header that names `none` changes nothing.
        let signed = sign(
            &f.es256,
            &json!({"typ":"at+jwt","alg":alg,"kid":"es"}),
            &claims(),
        );
        assert_eq!(
            f.check(&signed).err(),
            Some(ValidationError::AlgorithmNotAllowed(alg.into())),
            "{alg:?}"
        );
    }
}

/// HS/RS key confusion (CVE-2015-9235 and its many siblings): an HMAC token keyed with the
/// issuer's public key, in any of its encodings, never passes; HMAC needs an explicit secret,
/// and even then a JWKS key is never used as an HMAC key.
#[test]
fn hmac_keyed_with_the_public_key_is_refused() {
    let f = fixture();
    let hs256 = |secret: &[u8], kid: Option<&str>| {
        let mut header = json!({"typ":"at+jwt","alg":"HS256"});
        if let Some(kid) = kid {
            header["kid"] = json!(kid);
        }
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims().to_string().as_bytes())
        );
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
        let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
        format!("{input}.{}", b64(tag.as_ref()))
    };
    let pem = f.rs256.public_key_pem().expect("pem");
    let jwk = f.rs256.public_jwk().to_string();
    let n = unb64(f.rs256.public_jwk()["n"].as_str().expect("n"));
    let secrets: [&[u8]; 3] = [pem.as_bytes(), jwk.as_bytes(), &n];
    for secret in secrets {
        for kid in [None, Some("rs")] {
            assert_eq!(
                f.check(&hs256(secret, kid)).err(),
                Some(ValidationError::AlgorithmNotAllowed("HS256".into())),
                "{kid:?}"
            );
        }
    }
    // With a configured secret, an HMAC token naming the RSA key's kid is checked with the
    // secret, never with the JWKS key.
    let with_secret = f
        .validator
        .clone()
        .with_hmac_secret(HmacSecret::new(Algorithm::HS256, &[9u8; 32]).expect("secret"));
    for secret in secrets {
        assert_eq!(
            f.check_with(&with_secret, &hs256(secret, Some("rs"))).err(),
            Some(ValidationError::InvalidSignature)
        );
    }
    assert!(
        f.check_with(&with_secret, &hs256(&[9u8; 32], Some("rs")))
            .is_ok()
    );
}

/// Asymmetric family confusion: a header naming another family or curve than the key its
/// `kid` selects is refused before any signature check.
#[test]
fn algorithm_family_confusion_is_refused() {
    let f = fixture();
    let cases = [
        ("RS256", "es"),
        ("PS256", "es"),
        ("ES256", "rs"),
        ("ES384", "es"),
        ("ES256", "es384"),
        ("EdDSA", "es"),
        ("ES256", "ed"),
        ("RS256", "ed"),
    ];
    for (alg, kid) in cases {
        let key = match kid {
            "es" => &f.es256,
            "es384" => &f.es384,
            "rs" => &f.rs256,
            _ => &f.eddsa,
        };
        let token = sign(key, &json!({"typ":"at+jwt","alg":alg,"kid":kid}), &claims());
        assert!(
            matches!(f.check(&token), Err(ValidationError::KeyMismatch { .. })),
            "{alg} with {kid}: {:?}",
            f.check(&token)
        );
    }
    // A JWK that names its algorithm binds it: RS256 key, PS256 token.
    let pinned = keys_of(&[f.rs256.public_jwk().clone()]);
    let ps = sign(
        &f.rs256,
        &json!({"typ":"at+jwt","alg":"PS256","kid":"rs"}),
        &claims(),
    );
    assert!(matches!(
        f.validator.validate_at::<jwt_access_token::ExtraClaims>(
            &ps,
            &pinned,
            NumericDate::from_secs(NOW)
        ),
        Err(ValidationError::KeyMismatch { .. })
    ));
}

/// Look-alike `alg` and `typ` values (NUL, trailing space, full-width or Cyrillic letters,
/// wrong case for `alg`) are other values.
#[test]
fn look_alike_alg_and_typ_values_are_refused() {
    let f = fixture();
    for alg in [
        "ES256\u{0}",
        "ES256 ",
        "es256",
        "ＥＳ256",
        "E\u{0405}256",
        "ES256\n",
    ] {
        let token = sign(
            &f.es256,
            &json!({"typ":"at+jwt","alg":alg,"kid":"es"}),
            &claims(),
        );
        assert_eq!(
            f.check(&token).err(),
            Some(ValidationError::AlgorithmNotAllowed(alg.into())),
            "{alg:?}"
        );
    }
    for typ in [
        "at+jwt\u{0}",
        "\u{0430}t+jwt",
        "at+jwt ",
        "at+jwt\n",
        "at\u{2b}jwt;x",
    ] {
        let token = sign(
            &f.es256,
            &json!({"typ":typ,"alg":"ES256","kid":"es"}),
            &claims(),
        );
        assert_eq!(
            f.check(&token).err(),
            Some(ValidationError::WrongType(typ.into())),
            "{typ:?}"
        );
    }
    // The same value spelled with JSON escapes is the same value.
    let escaped = sign_raw(
        &f.es256,
        br#"{"typ":"\u0061t+jwt","alg":"\u0045S256","kid":"es"}"#,
        claims().to_string().as_bytes(),
    );
    assert!(f.check(&escaped).is_ok());
}

// ---------------------------------------------------------------------------------------------
// Header attacks
// ---------------------------------------------------------------------------------------------

/// `kid` injection: path traversal, SQL, NUL, URLs, a huge kid. The kid is only ever a key
/// in the issuer's in-memory map; it never reaches a file, a database or a URL, and it is
/// escaped wherever it is displayed.
#[test]
fn kid_injection_is_only_a_map_lookup() {
    let f = fixture();
    let huge = "k".repeat(4000);
    let kids = [
        "../../../../../../dev/null",
        "/etc/passwd",
        "..\\..\\windows\\win.ini",
        "' OR '1'='1' --",
        "es' UNION SELECT 'secret",
        "\u{0}",
        "es\u{0}",
        "es ",
        "ES",
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "file:///dev/null",
        "http://127.0.0.1:9/jwks",
        "es\r\nX-Injected: 1",
        "",
        huge.as_str(),
    ];
    for kid in kids {
        let token = sign(
            &f.es256,
            &json!({"typ":"at+jwt","alg":"ES256","kid":kid}),
            &claims(),
        );
        let error = f.check(&token).err();
        assert_eq!(
            error,
            Some(ValidationError::UnknownKey(kid.into())),
            "{kid:?}"
        );
        // Logs get an escaped kid (no line injection), clients a fixed text.
        let shown = error
            .map(|e| (e.to_string(), e.description()))
            .unwrap_or_default();
        assert!(!shown.0.contains('\n') && !shown.0.contains('\r') && !shown.0.contains('\0'));
        assert_eq!(shown.1, "the token's signing key is not known");
    }
    // The classic pairing of `kid: /dev/null` with an empty HMAC secret.
    let hs = format!(
        "{}.{}.{}",
        b64(br#"{"typ":"at+jwt","alg":"HS256","kid":"../../../../dev/null"}"#),
        b64(claims().to_string().as_bytes()),
        b64(aws_lc_rs::hmac::sign(
            &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, b""),
            b"x"
        )
        .as_ref())
    );
    assert_eq!(
        f.check(&hs).err(),
        Some(ValidationError::AlgorithmNotAllowed("HS256".into()))
    );
    // A non-string kid is malformed, not coerced.
    for kid in [json!(1), json!(null), json!(["es"]), json!({"kid":"es"})] {
        let token = sign(
            &f.es256,
            &json!({"typ":"at+jwt","alg":"ES256","kid":kid}),
            &claims(),
        );
        assert!(
            matches!(f.check(&token), Err(ValidationError::InvalidHeader(_))),
            "{kid}"
        );
    }
}

/// `jku`, `x5u`, `jwk`, `x5c` (RFC 8725 §3.10): keys and key URLs named by the token are never
/// used, and never fetched. The attacker's own server counts the requests it gets: none.
#[tokio::test]
async fn key_carrying_headers_are_never_followed() {
    let victim = TestIssuer::start(Algorithm::ES256).await;
    let attacker = TestIssuer::start(Algorithm::ES256).await;
    let verifier = AccessTokenVerifier::new(
        Validator::new(victim.url.clone(), [AUDIENCE]).expect("validator"),
        RemoteKeySet::from_jwks_uri(&victim.jwks_uri()).expect("keys"),
    )
    .expect("verifier");
    assert!(verifier.verify(&victim.token("")).await.is_ok());
    let now = NumericDate::now().as_secs();
    let claims = json!({"iss":victim.url,"aud":AUDIENCE,"sub":"mallory","client_id":"c","iat":now,"jti":"j","exp":now + 300});
    let attacker_jwk = attacker.jwks()["keys"][0].clone();
    for kid in ["key-1", "attacker-key"] {
        let header = json!({
            "typ":"at+jwt","alg":"ES256","kid":kid,
            "jku": attacker.jwks_uri(),
            "x5u": format!("{}/.well-known/openid-configuration", attacker.url),
            "jwk": attacker_jwk,
            "x5c": ["MIIBszCCAVmgAwIBAgIUQ"],
        });
        let forged = attacker.sign_raw(&header, &claims);
        let result = verifier.verify(&forged).await;
        assert!(
            matches!(
                result,
                Err(AuthError::InvalidToken(
                    ValidationError::InvalidSignature | ValidationError::UnknownKey(_)
                ))
            ),
            "{kid}: {result:?}"
        );
    }
    assert_eq!(attacker.jwks_hits(), 0, "the token's jku was fetched");
    assert_eq!(attacker.metadata_hits(), 0, "the token's x5u was fetched");
    assert!(victim.jwks_hits() <= 2);
}

/// `crit` (RFC 7515 §4.1.11): no extension is understood, so any `crit` is refused, even an
/// empty or malformed one.
#[test]
fn crit_is_refused_in_every_shape() {
    let f = fixture();
    for crit in [
        json!(["b64"]),
        json!(["exp"]),
        json!([]),
        json!("b64"),
        json!(null),
        json!(["crit"]),
    ] {
        let header =
            json!({"typ":"at+jwt","alg":"ES256","kid":"es","crit":crit,"b64":false,"exp":1});
        let token = sign(&f.es256, &header, &claims());
        assert_eq!(
            f.check(&token).err(),
            Some(ValidationError::CriticalHeader),
            "{crit}"
        );
    }
    // `b64: false` without `crit` is an unknown member and changes nothing (RFC 7797 §6).
    let header = json!({"typ":"at+jwt","alg":"ES256","kid":"es","b64":false});
    assert!(f.check(&sign(&f.es256, &header, &claims())).is_ok());
}

/// JWE (five segments) and JWE-looking headers are refused, never decrypted.
#[test]
fn encrypted_tokens_are_refused() {
    let f = fixture();
    let protected = b64(br#"{"alg":"RSA-OAEP-256","enc":"A256GCM","typ":"at+jwt","cty":"JWT"}"#);
    assert_eq!(
        f.check(&format!("{protected}.AAAA.AAAA.AAAA.AAAA")).err(),
        Some(ValidationError::Encrypted)
    );
    assert_eq!(
        f.check(&format!("{protected}...AAAA.")).err(),
        Some(ValidationError::Encrypted)
    );
    for alg in ["RSA-OAEP-256", "dir", "A256KW", "ECDH-ES"] {
        let token = sign(
            &f.es256,
            &json!({"typ":"at+jwt","alg":alg,"enc":"A256GCM","kid":"es"}),
            &claims(),
        );
        assert_eq!(
            f.check(&token).err(),
            Some(ValidationError::AlgorithmNotAllowed(alg.into()))
        );
    }
}

/// Nested JWTs (`cty: JWT`, RFC 7519 §5.2): the payload must be the claims object itself; an
/// inner token is never unwrapped, whatever it holds.
#[test]
fn nested_jwts_are_not_unwrapped() {
    let f = fixture();
    let inner = f.token(&f.es256, &claims());
    let header = json!({"typ":"at+jwt","cty":"JWT","alg":"ES256","kid":"es"}).to_string();
    for payload in [
        inner.clone(),
        json!(inner).to_string(),
        format!("[{}]", json!(inner)),
    ] {
        let outer = sign_raw(&f.es256, header.as_bytes(), payload.as_bytes());
        assert!(
            matches!(f.check(&outer), Err(ValidationError::InvalidClaims(_))),
            "{:?}",
            f.check(&outer)
        );
    }
}

/// ID tokens, logout tokens, DPoP proofs, request objects and other JWTs signed by the same
/// issuer are not access tokens (RFC 9068 §4, RFC 8725 §3.11): `typ` tells them apart.
#[test]
fn other_jwt_types_are_not_access_tokens() {
    let f = fixture();
    // An OpenID Connect ID token: typ JWT (or none), aud = the client, nonce, at_hash.
    let id_claims = json!({"iss":ISS,"aud":AUD,"sub":"alice","iat":NOW,"exp":NOW + 300,"nonce":"n","at_hash":"x","client_id":"app","jti":"i"});
    let id_token = sign(
        &f.es256,
        &json!({"typ":"JWT","alg":"ES256","kid":"es"}),
        &id_claims,
    );
    assert_eq!(
        f.check(&id_token).err(),
        Some(ValidationError::WrongType("JWT".into()))
    );
    let untyped = sign(&f.es256, &json!({"alg":"ES256","kid":"es"}), &id_claims);
    assert_eq!(f.check(&untyped).err(), Some(ValidationError::MissingType));
    for typ in [
        "jwt",
        "application/jwt",
        "logout+jwt",
        "secevent+jwt",
        "dpop+jwt",
        "oauth-authz-req+jwt",
        "token-introspection+jwt",
        "client-authentication+jwt",
        "at+jwt+jwt",
        "application/at+jwt; charset=utf-8",
        "",
    ] {
        let token = sign(
            &f.es256,
            &json!({"typ":typ,"alg":"ES256","kid":"es"}),
            &claims(),
        );
        assert_eq!(
            f.check(&token).err(),
            Some(ValidationError::WrongType(typ.into())),
            "{typ}"
        );
    }
    for typ in [json!(1), json!(null), json!(["at+jwt"])] {
        let token = sign(
            &f.es256,
            &json!({"typ":typ,"alg":"ES256","kid":"es"}),
            &claims(),
        );
        assert!(
            matches!(f.check(&token), Err(ValidationError::InvalidHeader(_))),
            "{typ}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Issuer and audience attacks
// ---------------------------------------------------------------------------------------------

/// Cross-issuer key confusion: with two trusted issuers, issuer B's token signed with issuer
/// A's key (same kid, same algorithm) is refused, and so is a token naming an issuer nobody
/// configured.
#[test]
fn one_issuers_key_never_signs_for_another() {
    let a = SigningKey::generate(Algorithm::ES256, "shared-kid").expect("key");
    let b = SigningKey::generate(Algorithm::ES256, "shared-kid").expect("key");
    let verifier = AccessTokenVerifier::new(
        Validator::new("https://a.example", [AUD]).expect("validator"),
        keys_of(&[a.public_jwk().clone()]),
    )
    .expect("verifier")
    .with_issuer(
        Validator::new("https://b.example", [AUD]).expect("validator"),
        keys_of(&[b.public_jwk().clone()]),
    )
    .expect("verifier");
    let now = NumericDate::now().as_secs();
    let for_issuer = |iss: &str| json!({"iss":iss,"aud":AUD,"sub":"s","client_id":"c","iat":now,"jti":"j","exp":now + 300});
    let verify = |token: &str| {
        verifier
            .verify_cached(token)
            .expect("static keys never wait")
    };
    assert!(verify(&sign(&a, &header_of(&a), &for_issuer("https://a.example"))).is_ok());
    assert!(verify(&sign(&b, &header_of(&b), &for_issuer("https://b.example"))).is_ok());
    assert_eq!(
        verify(&sign(&a, &header_of(&a), &for_issuer("https://b.example"))).err(),
        Some(AuthError::InvalidToken(ValidationError::InvalidSignature))
    );
    assert_eq!(
        verify(&sign(&b, &header_of(&b), &for_issuer("https://a.example"))).err(),
        Some(AuthError::InvalidToken(ValidationError::InvalidSignature))
    );
    assert_eq!(
        verify(&sign(&a, &header_of(&a), &for_issuer("https://c.example"))).err(),
        Some(AuthError::InvalidToken(ValidationError::WrongIssuer(
            "https://c.example".into()
        )))
    );
    // A duplicate `iss` cannot choose one issuer's keys and be checked against the other's.
    let two = format!(
        r#"{{"iss":"https://b.example","iss":"https://a.example","aud":"{AUD}","sub":"s","client_id":"c","iat":{now},"jti":"j","exp":{}}}"#,
        now + 300
    );
    assert_eq!(
        verify(&sign_raw(
            &a,
            header_of(&a).to_string().as_bytes(),
            two.as_bytes()
        ))
        .err(),
        Some(AuthError::InvalidToken(ValidationError::DuplicateMember(
            "iss".into()
        )))
    );
    // One issuer, exact comparison: no prefix, suffix, case or slash games.
    let f = fixture();
    for iss in [
        "https://as.example/",
        "https://AS.example",
        "https://as.example.evil",
        "https://as.example#",
        "http://as.example",
        "https://as.example\u{0}",
    ] {
        assert_eq!(
            f.check(&f.token(&f.es256, &with(claims(), "iss", json!(iss))))
                .err(),
            Some(ValidationError::WrongIssuer(iss.into())),
            "{iss:?}"
        );
    }
}

/// Audience confusion: a token for another resource (or for a client: an ID token's `aud`)
/// is refused; the comparison is exact, on each array element.
#[test]
fn audience_confusion_is_refused() {
    let f = fixture();
    for aud in [
        json!("https://other.example"),
        json!("https://api.example/"),
        json!("https://API.example"),
        json!("https://api.example.evil"),
        json!("https://api.exampl"),
        json!(format!("{AUD} https://other.example")),
        json!([]),
        json!(["https://other.example"]),
        json!([""]),
    ] {
        assert!(
            matches!(
                f.check(&f.token(&f.es256, &with(claims(), "aud", aud.clone()))),
                Err(ValidationError::WrongAudience(_))
            ),
            "{aud}"
        );
    }
    for aud in [
        json!([[AUD]]),
        json!({"aud":AUD}),
        json!(null),
        json!(1),
        json!([AUD, 1]),
    ] {
        assert!(
            matches!(
                f.check(&f.token(&f.es256, &with(claims(), "aud", aud.clone()))),
                Err(ValidationError::ClaimType { claim: "aud", .. })
            ),
            "{aud}"
        );
    }
    assert_eq!(
        f.check(&f.token(&f.es256, &without(claims(), "aud"))).err(),
        Some(ValidationError::MissingClaim("aud"))
    );
    assert!(
        f.check(&f.token(&f.es256, &with(claims(), "aud", json!(["x", AUD]))))
            .is_ok()
    );
}

// ---------------------------------------------------------------------------------------------
// Time attacks
// ---------------------------------------------------------------------------------------------

/// Expired and not-yet-valid tokens, at the leeway's edges and at the integers' edges: no
/// overflow turns an old token into a fresh one.
#[test]
fn expired_and_future_tokens_are_refused_without_overflow() {
    let f = fixture();
    let at = |name: &str, value: Value| f.check(&f.token(&f.es256, &with(claims(), name, value)));
    assert!(matches!(
        at("exp", json!(NOW - 60)),
        Err(ValidationError::Expired { .. })
    ));
    assert!(at("exp", json!(NOW - 59)).is_ok());
    for exp in [
        json!(0),
        json!(-1),
        json!(i64::MIN),
        json!(-1e300),
        json!(NOW as f64 - 60.5),
    ] {
        assert!(
            matches!(at("exp", exp.clone()), Err(ValidationError::Expired { .. })),
            "{exp}"
        );
    }
    for nbf in [
        json!(NOW + 61),
        json!(i64::MAX),
        json!(u64::MAX),
        json!(1e300),
    ] {
        assert!(
            matches!(
                at("nbf", nbf.clone()),
                Err(ValidationError::NotYetValid { .. })
            ),
            "{nbf}"
        );
    }
    for iat in [json!(NOW + 61), json!(i64::MAX), json!(1e300)] {
        assert!(
            matches!(
                at("iat", iat.clone()),
                Err(ValidationError::IssuedInFuture { .. })
            ),
            "{iat}"
        );
    }
    for (name, value) in [
        ("exp", json!("9999999999")),
        ("nbf", json!(true)),
        ("iat", json!([1])),
    ] {
        assert!(
            matches!(at(name, value), Err(ValidationError::ClaimType { .. })),
            "{name}"
        );
    }
    // The largest leeway saturates; it does not wrap an expired token into a valid one.
    let lax = f.validator.clone().leeway(Duration::MAX);
    let ancient = f.token(&f.es256, &with(claims(), "exp", json!(i64::MIN)));
    assert!(matches!(
        f.check_with(&lax, &ancient),
        Err(ValidationError::Expired { .. })
    ));
    // A clock at the end of time.
    let end = f.validator.validate_at::<jwt_access_token::ExtraClaims>(
        &f.token(&f.es256, &with(claims(), "exp", json!(i64::MAX))),
        &f.keys,
        NumericDate::from_secs(i64::MAX),
    );
    assert!(matches!(end, Err(ValidationError::Expired { .. })));
}

// ---------------------------------------------------------------------------------------------
// Signature attacks
// ---------------------------------------------------------------------------------------------

/// Signature stripping and splicing: an empty, missing, truncated, extended or borrowed
/// signature never passes.
#[test]
fn stripped_and_spliced_signatures_are_refused() {
    let f = fixture();
    for key in [&f.es256, &f.rs256, &f.eddsa, &f.es384] {
        let token = f.token(key, &claims());
        let (h, p, s) = segments(&token);
        let sig = unb64(&s);
        for stripped in [
            format!("{h}.{p}."),
            format!("{h}.{p}"),
            format!("{h}.{p}.."),
            format!("{h}..{s}"),
            format!(".{p}.{s}"),
        ] {
            assert!(
                matches!(f.check(&stripped), Err(ValidationError::Malformed(_))),
                "{stripped}"
            );
        }
        let mut extended = sig.clone();
        extended.push(0);
        let mut prefixed = vec![0u8];
        prefixed.extend(&sig);
        let other = unb64(&segments(&f.token(key, &with(claims(), "jti", json!("other")))).2);
        for bad in [
            &sig[..sig.len() - 1],
            &extended,
            &prefixed,
            &other,
            &[0u8; 1][..],
        ] {
            assert_eq!(
                f.check(&with_signature(&token, bad)).err(),
                Some(ValidationError::InvalidSignature),
                "{}: {} bytes",
                key.alg(),
                bad.len()
            );
        }
    }
}

/// Base64url malleability: padding, the standard alphabet, whitespace, percent-encoding and
/// non-canonical trailing bits are refused, so one token has exactly one spelling.
#[test]
fn non_canonical_base64_is_refused() {
    let f = fixture();
    for key in [&f.eddsa, &f.es256, &f.rs256] {
        let token = f.token(key, &claims());
        let (h, p, s) = segments(&token);
        // A segment whose last character carries unused bits has twins that decode to the
        // same bytes; all of them are refused.
        if let Some(twin) = trailing_bits_twin(&s) {
            assert_eq!(
                f.check(&format!("{h}.{p}.{twin}")).err(),
                Some(ValidationError::Malformed("signature is not base64url")),
                "{} signature twin",
                key.alg()
            );
        }
        if let Some(twin) = trailing_bits_twin(&h) {
            assert_eq!(
                f.check(&format!("{twin}.{p}.{s}")).err(),
                Some(ValidationError::Malformed("header is not base64url")),
                "{} header twin",
                key.alg()
            );
        }
        let standard = |x: &str| x.replace('-', "+").replace('_', "/");
        let mut variants = vec![
            format!("{h}.{p}.{s}=="),
            format!("{h}=.{p}.{s}"),
            format!("{h}.{p}=.{s}"),
            format!("{h}.{p}.{s} "),
            format!("{h}.{p}. {s}"),
            format!("{h}.{p}.{s}\n"),
            format!("{h}.{p}\n.{s}"),
            format!("{h}%2E{p}.{s}"),
            format!("{h}.{p}.{}", &s[..s.len() - 1]),
        ];
        if standard(&token) != token {
            variants.push(standard(&token));
        }
        for variant in variants {
            let result = f.check(&variant);
            assert!(
                matches!(
                    result,
                    Err(ValidationError::Malformed(_) | ValidationError::InvalidSignature)
                ),
                "{variant:?}: {result:?}"
            );
        }
    }
}

/// The segment with its last character changed in the bits decoding ignores, if it has such
/// bits: the same bytes, another spelling.
fn trailing_bits_twin(segment: &str) -> Option<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let unused = match segment.len() % 4 {
        2 => 0b1111,
        3 => 0b11,
        _ => return None,
    };
    let last = *segment.as_bytes().last()?;
    let value = ALPHABET.iter().position(|c| *c == last)?;
    let twin = ALPHABET[value | unused] as char;
    assert_eq!(unb64(segment), {
        let mut lenient = segment[..segment.len() - 1].to_owned();
        lenient.push(ALPHABET[value & !unused] as char);
        unb64(&lenient)
    });
    Some(format!("{}{twin}", &segment[..segment.len() - 1]))
}

/// ECDSA signature encodings: JWS uses fixed-length `r || s` (RFC 7518 §3.4); an ASN.1 DER
/// signature, a zero-padded one, or one of the wrong curve's length is refused.
#[test]
fn ecdsa_der_and_wrong_length_signatures_are_refused() {
    let f = fixture();
    for key in [&f.es256, &f.es384] {
        let token = f.token(key, &claims());
        let fixed = unb64(&segments(&token).2);
        assert!(f.check(&token).is_ok());
        let der = ecdsa_der(&fixed);
        assert_eq!(
            f.check(&with_signature(&token, &der)).err(),
            Some(ValidationError::InvalidSignature),
            "{} DER",
            key.alg()
        );
        let (r, s) = fixed.split_at(fixed.len() / 2);
        let padded = [&[0u8][..], r, &[0u8][..], s].concat();
        assert_eq!(
            f.check(&with_signature(&token, &padded)).err(),
            Some(ValidationError::InvalidSignature),
            "{} zero-padded",
            key.alg()
        );
    }
}

/// ECDSA `s` malleability: `(r, n - s)` is also a valid signature (RFC 7518 does not ask for
/// low-S, and issuers do not normalize), so it verifies. This crate never uses the token
/// string as an identity (no replay cache, no revocation list keyed by the token's bytes);
/// `jti` is the identifier. The test pins that behaviour so that a change is noticed.
#[test]
fn ecdsa_high_s_twin_verifies_so_token_bytes_are_not_an_identity() {
    let f = fixture();
    for (key, order) in [(&f.es256, P256_N), (&f.es384, P384_N)] {
        let token = f.token(key, &claims());
        let fixed = unb64(&segments(&token).2);
        let (r, s) = fixed.split_at(fixed.len() / 2);
        let twin_s = be_sub(&hex(order), s);
        let twin = with_signature(&token, &[r, &twin_s].concat());
        assert_ne!(twin, token);
        let (a, b) = (
            f.check(&token).expect("valid"),
            f.check(&twin).expect("the twin verifies"),
        );
        assert_eq!(a, b, "same claims, same verdict");
    }
}

/// Ed25519 `S` malleability: `S + L` (non-canonical, RFC 8032 §5.1.7) is refused.
#[test]
fn ed25519_non_canonical_s_is_refused() {
    let f = fixture();
    let token = f.token(&f.eddsa, &claims());
    let sig = unb64(&segments(&token).2);
    let (r, s_le) = sig.split_at(32);
    let s_be: Vec<u8> = s_le.iter().rev().copied().collect();
    let sum = be_add(&s_be, &hex(ED25519_L));
    assert_eq!(sum.len(), 32, "S + L still fits 256 bits");
    let twin_le: Vec<u8> = sum.iter().rev().copied().collect();
    assert_eq!(
        f.check(&with_signature(&token, &[r, &twin_le].concat()))
            .err(),
        Some(ValidationError::InvalidSignature)
    );
}

/// Psychic signatures (CVE-2022-21449): `r = s = 0`, `r = s = n`, and other degenerate
/// values never verify.
#[test]
fn psychic_ecdsa_signatures_are_refused() {
    let f = fixture();
    for (key, order) in [(&f.es256, P256_N), (&f.es384, P384_N)] {
        let token = f.token(key, &claims());
        let size = hex(order).len();
        let n = hex(order);
        let one = {
            let mut v = vec![0u8; size];
            v[size - 1] = 1;
            v
        };
        let real = unb64(&segments(&token).2);
        let (real_r, real_s) = real.split_at(size);
        let cases: Vec<Vec<u8>> = vec![
            vec![0; 2 * size],
            [n.clone(), n.clone()].concat(),
            [one.clone(), one.clone()].concat(),
            [vec![0; size], real_s.to_vec()].concat(),
            [real_r.to_vec(), vec![0; size]].concat(),
            [n.clone(), real_s.to_vec()].concat(),
            vec![0xff; 2 * size],
        ];
        for (i, sig) in cases.iter().enumerate() {
            assert_eq!(
                f.check(&with_signature(&token, sig)).err(),
                Some(ValidationError::InvalidSignature),
                "{} case {i}",
                key.alg()
            );
        }
    }
    // Ed25519: an all-zero signature, and R = identity.
    let token = f.token(&f.eddsa, &claims());
    let mut identity = vec![0u8; 64];
    identity[0] = 1;
    for sig in [vec![0u8; 64], identity] {
        assert_eq!(
            f.check(&with_signature(&token, &sig)).err(),
            Some(ValidationError::InvalidSignature)
        );
    }
}

/// RSA signature encodings: a signature one byte longer (leading zero), `s + n`, all zeros,
/// all ones are refused; PKCS#1 v1.5 and PSS are not interchangeable.
#[test]
fn rsa_signature_encoding_tricks_are_refused() {
    let f = fixture();
    let token = f.token(&f.rs256, &claims());
    let sig = unb64(&segments(&token).2);
    let n = unb64(f.rs256.public_jwk()["n"].as_str().expect("n"));
    let cases = [
        [&[0u8][..], &sig].concat(),
        be_add(&sig, &n),
        vec![0u8; sig.len()],
        vec![0xffu8; sig.len()],
        {
            let mut one = vec![0u8; sig.len()];
            one[sig.len() - 1] = 1;
            one
        },
    ];
    for (i, bad) in cases.iter().enumerate() {
        assert_eq!(
            f.check(&with_signature(&token, bad)).err(),
            Some(ValidationError::InvalidSignature),
            "case {i}"
        );
    }
    // The same key signs PS256: its signature is not an RS256 one, and the other way round.
    let ps = SigningKey::from_pem(Algorithm::PS256, "twin", TEST_RSA_PKCS8).expect("key");
    let rs = SigningKey::from_pem(Algorithm::RS256, "twin", TEST_RSA_PKCS8).expect("key");
    let mut jwk = rs.public_jwk().clone();
    jwk.as_object_mut().expect("object").remove("alg");
    let both = keys_of(&[jwk]);
    let check = |token: &str| {
        f.validator.validate_at::<jwt_access_token::ExtraClaims>(
            token,
            &both,
            NumericDate::from_secs(NOW),
        )
    };
    let ps_token = sign(
        &ps,
        &json!({"typ":"at+jwt","alg":"PS256","kid":"twin"}),
        &claims(),
    );
    let rs_token = sign(
        &rs,
        &json!({"typ":"at+jwt","alg":"RS256","kid":"twin"}),
        &claims(),
    );
    assert!(check(&ps_token).is_ok() && check(&rs_token).is_ok());
    let relabel = |token: &str, alg: &str| {
        let (_, p, s) = segments(token);
        let header = json!({"typ":"at+jwt","alg":alg,"kid":"twin"});
        format!("{}.{p}.{s}", b64(header.to_string().as_bytes()))
    };
    assert_eq!(
        check(&relabel(&ps_token, "RS256")).err(),
        Some(ValidationError::InvalidSignature)
    );
    assert_eq!(
        check(&relabel(&rs_token, "PS256")).err(),
        Some(ValidationError::InvalidSignature)
    );
}

/// A JWK with RSA public exponent 1 makes "signature = padded hash" verify for anyone; such
/// a key (and other degenerate exponents) is never used.
#[test]
fn degenerate_rsa_exponents_cannot_be_used_to_forge() {
    let f = fixture();
    let n = f.rs256.public_jwk()["n"].as_str().expect("n").to_owned();
    let header = json!({"typ":"at+jwt","alg":"RS256","kid":"weak"});
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims().to_string().as_bytes())
    );
    // EMSA-PKCS1-v1_5 of SHA-256(input): with e = 1 this is its own signature.
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, input.as_bytes());
    let digest_info = [
        &hex("3031300d060960864801650304020105000420")[..],
        digest.as_ref(),
    ]
    .concat();
    let k = unb64(&n).len();
    let mut em = vec![0x00, 0x01];
    em.extend(std::iter::repeat_n(0xff, k - 3 - digest_info.len()));
    em.push(0x00);
    em.extend(&digest_info);
    let forged = format!("{input}.{}", b64(&em));
    for e in ["AQ", "Ag", "AA", "AAE"] {
        let jwk = json!({"kty":"RSA","kid":"weak","n":n,"e":e});
        match KeySet::from_jwks(&json!({ "keys": [jwk] }).to_string()) {
            Err(_) => {} // refused when loaded: the best outcome
            Ok(keys) => {
                let result = f.validator.validate_at::<jwt_access_token::ExtraClaims>(
                    &forged,
                    &keys,
                    NumericDate::from_secs(NOW),
                );
                assert_eq!(
                    result.err(),
                    Some(ValidationError::InvalidSignature),
                    "e = {e}"
                );
            }
        }
    }
}

/// RSA keys under 2048 bits (RFC 7518 §3.3), however they are spelled, are never loaded.
#[test]
fn rsa_keys_under_2048_bits_are_refused() {
    assert!(KeySet::from_pem(RSA_1024_PEM, Some("small")).is_err());
    assert!(VerifyingKey::from_pem(RSA_1024_PEM, None).is_err());
    let small = {
        let mut n = vec![0xc5u8; 128];
        n[127] |= 1;
        n
    };
    // 1024 bits; the same with leading zero bytes up to 256 bytes; 2047 bits in 256 bytes.
    let padded = [vec![0u8; 128], small.clone()].concat();
    let mut bits_2047 = vec![0xa7u8; 256];
    bits_2047[0] = 0x7f;
    let mut bits_2041 = vec![0xa7u8; 256];
    bits_2041[0] = 0x01;
    for (name, n) in [
        ("1024", small),
        ("1024 padded", padded),
        ("2047", bits_2047),
        ("2041", bits_2041),
    ] {
        let jwk = json!({"kty":"RSA","kid":"small","n":b64(&n),"e":"AQAB"});
        assert!(VerifyingKey::from_jwk(&jwk).is_err(), "{name}");
        let (set, skipped) =
            KeySet::from_jwks_lenient(json!({ "keys": [jwk] }).to_string().as_bytes())
                .expect("jwks");
        assert!(set.is_empty() && skipped.len() == 1, "{name}");
    }
}

/// Timing side channels: the HMAC tag is compared in constant time by aws-lc-rs
/// (`hmac::verify` → `CRYPTO_memcmp`); this test pins that every near miss (first byte,
/// last byte, truncated, extended) is refused the same way. Timing itself is not measured:
/// on a shared 2-core CI machine nanosecond differences are noise.
#[test]
fn hmac_near_misses_are_refused_alike() {
    let f = fixture();
    let secret = [3u8; 32];
    let validator = f
        .validator
        .clone()
        .with_hmac_secret(HmacSecret::new(Algorithm::HS256, &secret).expect("secret"));
    let input = format!(
        "{}.{}",
        b64(br#"{"typ":"at+jwt","alg":"HS256"}"#),
        b64(claims().to_string().as_bytes())
    );
    let tag = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &secret),
        input.as_bytes(),
    )
    .as_ref()
    .to_vec();
    assert!(
        f.check_with(&validator, &format!("{input}.{}", b64(&tag)))
            .is_ok()
    );
    let flip = |i: usize| {
        let mut t = tag.clone();
        t[i] ^= 1;
        t
    };
    let near_misses = [
        flip(0),
        flip(15),
        flip(31),
        tag[..31].to_vec(),
        [&tag[..], &[0]].concat(),
        vec![0; 32],
    ];
    for (i, bad) in near_misses.iter().enumerate() {
        assert_eq!(
            f.check_with(&validator, &format!("{input}.{}", b64(bad)))
                .err(),
            Some(ValidationError::InvalidSignature),
            "near miss {i}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// JSON attacks
// ---------------------------------------------------------------------------------------------

/// Duplicate members (RFC 8725 §2.8 / RFC 7515 §4): refused at every level, in the header and
/// in the claims, including escaped spellings of the same name and members of nested objects
/// (a SCIM group's `value`, `cnf`), so no two parsers can read one token two ways.
#[test]
fn duplicate_members_are_refused_at_every_level() {
    let f = fixture();
    let base = claims().to_string();
    let body = &base[1..base.len() - 1];
    let header_ok = r#""typ":"at+jwt","alg":"ES256","kid":"es""#;
    let header_cases = [
        (
            r#"{"typ":"at+jwt","alg":"ES256","alg":"none","kid":"es"}"#,
            "alg",
        ),
        (
            r#"{"typ":"JWT","typ":"at+jwt","alg":"ES256","kid":"es"}"#,
            "typ",
        ),
        (
            r#"{"typ":"at+jwt","alg":"ES256","kid":"es","kid":"rs"}"#,
            "kid",
        ),
        (
            r#"{"typ":"at+jwt","alg":"ES256","kid":"es","\u006bid":"rs"}"#,
            "kid",
        ),
        (
            r#"{"typ":"at+jwt","alg":"ES256","kid":"es","jwk":{"kty":"EC","kty":"RSA"}}"#,
            "kty",
        ),
    ];
    for (header, name) in header_cases {
        let token = sign_raw(&f.es256, header.as_bytes(), base.as_bytes());
        assert_eq!(
            f.check(&token).err(),
            Some(ValidationError::DuplicateMember(name.into())),
            "{header}"
        );
    }
    let claim_cases = [
        (format!(r#"{{{body},"aud":"https://other"}}"#), "aud"),
        (format!(r#"{{"iss":"https://evil",{body}}}"#), "iss"),
        (format!(r#"{{{body},"exp":{}}}"#, NOW + 99_999), "exp"),
        (format!(r#"{{{body},"sub":"admin"}}"#), "sub"),
        (format!(r#"{{{body},"scope":"admin"}}"#), "scope"),
        (format!(r#"{{{body},"\u0073ub":"admin"}}"#), "sub"),
        (format!(r#"{{{body},"tenant":"a","tenant":"b"}}"#), "tenant"),
        (
            format!(r#"{{{body},"groups":[{{"value":"users","value":"admins"}}]}}"#),
            "value",
        ),
        (format!(r#"{{{body},"x":{{"y":{{"z":1,"z":2}}}}}}"#), "z"),
        (format!(r#"{{{body},"x":[1,{{"a":1,"a":1}}]}}"#), "a"),
    ];
    for (payload, name) in &claim_cases {
        let token = sign_raw(
            &f.es256,
            format!("{{{header_ok}}}").as_bytes(),
            payload.as_bytes(),
        );
        assert_eq!(
            f.check(&token).err(),
            Some(ValidationError::DuplicateMember((*name).into())),
            "{payload}"
        );
    }
    let lenient = f.validator.clone().accept_sender_constrained_as_bearer();
    let cnf = format!(r#"{{{body},"cnf":{{"jkt":"a","jkt":"b"}}}}"#);
    let token = sign_raw(
        &f.es256,
        format!("{{{header_ok}}}").as_bytes(),
        cnf.as_bytes(),
    );
    assert_eq!(
        f.check_with(&lenient, &token).err(),
        Some(ValidationError::DuplicateMember("jkt".into()))
    );
}

/// Huge numbers: beyond `f64`, beyond `u64`, thousands of digits. Out-of-range numbers are
/// malformed; in-range extremes saturate, never wrap.
#[test]
fn huge_numbers_are_refused_or_saturate() {
    let f = fixture();
    let base = claims().to_string();
    let header = br#"{"typ":"at+jwt","alg":"ES256","kid":"es"}"#;
    let digits = "9".repeat(5000);
    let payload =
        |exp: &str| base.replace(&format!("\"exp\":{}", NOW + 300), &format!("\"exp\":{exp}"));
    for exp in ["1e400", "-1e400", "1e999999999", digits.as_str()] {
        let token = sign_raw(&f.es256, header, payload(exp).as_bytes());
        let result = f.check(&token);
        assert!(
            matches!(result, Err(ValidationError::InvalidClaims(_))),
            "{}: {result:?}",
            &exp[..exp.len().min(20)]
        );
    }
    // Far future: saturates to i64::MAX and is a valid (if silly) expiry.
    for exp in ["18446744073709551616", "1e300", "9223372036854775808"] {
        let token = sign_raw(&f.es256, header, payload(exp).as_bytes());
        assert_eq!(
            f.check(&token).map(|c| c.exp.as_secs()),
            Ok(i64::MAX),
            "{exp}"
        );
    }
    // Numbers in extra claims are the caller's, and as bounded.
    let big_extra = base.replace("\"scope\"", &format!("\"n\":{digits},\"scope\""));
    assert!(
        f.check(&sign_raw(&f.es256, header, big_extra.as_bytes()))
            .is_err()
    );
}

/// Floats are read correctly rounded, as every other JSON parser reads them: otherwise a
/// fractional `exp` just above a midpoint floors to the second before (a one-second
/// disagreement with other components about validity), and extra claims differ in the last
/// bits. Regression for the `claims` fuzz target's round-trip crash (SECURITY.md).
#[test]
fn floats_are_read_correctly_rounded() {
    let f = fixture();
    let header = header_of(&f.es256).to_string();
    let base = claims().to_string();
    let exp = "1800000299.999999880790710449218751";
    let payload = base.replace(&format!("\"exp\":{}", NOW + 300), &format!("\"exp\":{exp}"));
    let token = sign_raw(&f.es256, header.as_bytes(), payload.as_bytes());
    let at = |now: i64| {
        f.validator.validate_at::<jwt_access_token::ExtraClaims>(
            &token,
            &f.keys,
            NumericDate::from_secs(now),
        )
    };
    assert_eq!(at(NOW).map(|c| c.exp.as_secs()), Ok(1_800_000_300));
    // Valid at the last second a correctly rounding reader allows, like every other one.
    assert!(at(1_800_000_300 + 59).is_ok());
    assert!(matches!(
        at(1_800_000_300 + 60),
        Err(ValidationError::Expired { .. })
    ));

    // The fuzz crash, minimized: an extra claim's float, read, serialized, signed again and
    // read again, must be the same claims.
    let long = "102.2222222222222222222222222222222222222222222222222222222222222222225";
    let payload = base.replace(
        "\"scope\"",
        &format!("\"tenant\":{{\"id\":[{long},null,true]}},\"scope\""),
    );
    let token = sign_raw(&f.es256, header.as_bytes(), payload.as_bytes());
    let first = f.check(&token).expect("valid");
    assert_eq!(
        first.extra["tenant"]["id"][0].as_f64(),
        Some(long.parse::<f64>().expect("float"))
    );
    let again = sign_raw(
        &f.es256,
        header.as_bytes(),
        &serde_json::to_vec(&first).expect("serialize"),
    );
    assert_eq!(f.check(&again), Ok(first));
}

/// Deep nesting: past serde_json's recursion limit (128), refused cleanly, never a stack
/// overflow, in the header and in the claims.
#[test]
fn deeply_nested_json_is_refused() {
    let f = fixture();
    // A roomy size cap, so that the nesting, not the size, is what is refused.
    let roomy = f.validator.clone().max_token_bytes(1 << 20);
    let base = claims().to_string();
    let header_ok = header_of(&f.es256).to_string();
    for depth in [129, 1_000, 10_000] {
        let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let objects = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
        for value in [&nested, &objects] {
            let payload = base.replace("\"scope\"", &format!("\"deep\":{value},\"scope\""));
            let token = sign_raw(&f.es256, header_ok.as_bytes(), payload.as_bytes());
            assert!(
                matches!(
                    f.check_with(&roomy, &token),
                    Err(ValidationError::InvalidClaims(_))
                ),
                "{depth}"
            );
            let header = header_ok.replace("\"typ\"", &format!("\"deep\":{value},\"typ\""));
            let token = sign_raw(&f.es256, header.as_bytes(), base.as_bytes());
            assert!(
                matches!(
                    f.check_with(&roomy, &token),
                    Err(ValidationError::InvalidHeader(_))
                ),
                "{depth}"
            );
        }
    }
    // Within the limit, nesting is fine.
    let payload = base.replace(
        "\"scope\"",
        &format!("\"deep\":{}{},\"scope\"", "[".repeat(100), "]".repeat(100)),
    );
    assert!(
        f.check(&sign_raw(
            &f.es256,
            header_ok.as_bytes(),
            payload.as_bytes()
        ))
        .is_ok()
    );
}

/// Oversized tokens and headers: the size cap applies to the whole token, before any
/// decoding, so a huge header or payload costs one length comparison.
#[test]
fn oversized_tokens_are_refused_before_decoding() {
    let f = fixture();
    let junk = "!".repeat(8193);
    assert_eq!(
        f.check(&junk).err(),
        Some(ValidationError::TooLarge {
            size: 8193,
            limit: 8192
        })
    );
    let dots = ".".repeat(1 << 20);
    assert!(matches!(
        f.check(&dots),
        Err(ValidationError::TooLarge { .. })
    ));
    let big_header = json!({"typ":"at+jwt","alg":"ES256","kid":"es","x":"h".repeat(7000)});
    let token = sign(&f.es256, &big_header, &claims());
    assert!(matches!(
        f.check(&token),
        Err(ValidationError::TooLarge { .. })
    ));
    let fits = json!({"typ":"at+jwt","alg":"ES256","kid":"es","x":"h".repeat(5000)});
    assert!(f.check(&sign(&f.es256, &fits, &claims())).is_ok());
}

/// Invalid UTF-8 and lone surrogates in the header or the claims; non-ASCII in the token
/// itself.
#[test]
fn invalid_utf8_is_refused() {
    let f = fixture();
    let header_ok = header_of(&f.es256).to_string();
    let base = claims().to_string();
    let bad_payloads: [Vec<u8>; 5] = [
        base.replace("alice", "al\u{0}ice")
            .into_bytes()
            .into_iter()
            .map(|b| if b == 0 { 0xff } else { b })
            .collect(),
        base.replace("alice", r"\ud800").into_bytes(),
        base.replace("alice", r"\udc00\ud800").into_bytes(),
        [&b"\xef\xbb\xbf"[..], base.as_bytes()].concat(),
        base.replace("alice", "\u{0}")
            .into_bytes()
            .into_iter()
            .map(|b| if b == 0 { 0xc0 } else { b })
            .collect(),
    ];
    for payload in &bad_payloads {
        let token = sign_raw(&f.es256, header_ok.as_bytes(), payload);
        assert!(
            matches!(f.check(&token), Err(ValidationError::InvalidClaims(_))),
            "{payload:?}"
        );
    }
    let bad_header = [
        &br#"{"typ":"at+jwt","alg":"ES256","kid":"e"#[..],
        &[0xfe],
        br#""}"#,
    ]
    .concat();
    let token = sign_raw(&f.es256, &bad_header, base.as_bytes());
    assert!(matches!(
        f.check(&token),
        Err(ValidationError::InvalidHeader(_))
    ));
    let token = f.token(&f.es256, &claims());
    for odd in [
        format!("é{token}"),
        token.replacen('.', "\u{2024}", 1),
        format!("{token}\u{200b}"),
    ] {
        assert!(
            matches!(f.check(&odd), Err(ValidationError::Malformed(_))),
            "{odd:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP attacks
// ---------------------------------------------------------------------------------------------

async fn http_app() -> (TestIssuer, String) {
    let issuer = TestIssuer::start(Algorithm::ES256).await;
    let verifier = AccessTokenVerifier::new(
        Validator::new(issuer.url.clone(), [AUDIENCE]).expect("validator"),
        RemoteKeySet::from_jwks_uri(&issuer.jwks_uri()).expect("keys"),
    )
    .expect("verifier");
    let app = serve_app(verifier).await;
    (issuer, app)
}

/// Header smuggling: two `Authorization` headers (whatever their schemes), or credentials a
/// proxy joined with a comma, are refused with 400, never resolved to one of them.
#[tokio::test]
async fn several_authorization_headers_are_refused() {
    let (issuer, app) = http_app().await;
    let good = issuer.token("items:read");
    let client = common::client();
    let pairs = [
        (format!("Bearer {good}"), "Bearer x.y.z".to_owned()),
        ("Bearer x.y.z".to_owned(), format!("Bearer {good}")),
        (format!("Bearer {good}"), format!("Bearer {good}")),
        ("Basic dXNlcjpwdw==".to_owned(), format!("Bearer {good}")),
    ];
    for (first, second) in pairs {
        let response = client
            .get(format!("{app}/me"))
            .header("authorization", &first)
            .header("Authorization", &second)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 400);
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert!(challenge.contains("invalid_request"), "{challenge}");
    }
    for joined in [
        format!("Bearer {good}, Bearer x.y.z"),
        format!("Bearer {good},Bearer {good}"),
        format!("Bearer {good} {good}"),
    ] {
        let (status, _, _) = get_raw(&app, &joined).await;
        assert_eq!(status, 400, "{joined}");
    }
    // The good token alone passes: the refusals above are about the smuggling.
    let (status, _, _) = get_with(&format!("{app}/me"), Some(&good)).await;
    assert_eq!(status, 200);
}

async fn get_raw(app: &str, authorization: &str) -> (u16, Option<String>, String) {
    let response = common::client()
        .get(format!("{app}/me"))
        .header("authorization", authorization)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().expect("ascii").to_owned());
    (status, challenge, response.text().await.expect("body"))
}

/// A token in the URI query (alone, or with one in the header) is refused: RFC 6750 §2.3
/// tokens leak into logs and `Referer`, and two tokens are two answers.
#[tokio::test]
async fn tokens_in_the_query_are_refused() {
    let (issuer, app) = http_app().await;
    let good = issuer.token("");
    let client = common::client();
    for query in [
        format!("access_token={good}"),
        format!("x=1&access_token={good}"),
        format!("access%5Ftoken={good}"),
        format!("%61ccess_token={good}"),
        "access_token".to_owned(),
    ] {
        for header in [None, Some(good.as_str())] {
            let mut request = client.get(format!("{app}/me?{query}"));
            if let Some(token) = header {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.expect("request");
            assert_eq!(
                response.status(),
                400,
                "{query} with header: {}",
                header.is_some()
            );
        }
    }
}

/// Oversized `Authorization` headers through the tower layer: refused with 400/401 in
/// bounded time, whatever the bytes (the size cap comes before any decoding).
#[tokio::test]
async fn oversized_authorization_headers_are_refused_quickly() {
    let f = fixture();
    let verifier = AccessTokenVerifier::new(f.validator.clone(), f.keys.clone()).expect("verifier");
    let service =
        JwtAccessTokenLayer::new(verifier).layer(service_fn(|_req: Request<String>| async {
            Ok::<_, Infallible>(Response::new(String::from("handler")))
        }));
    let started = Instant::now();
    for value in [
        format!("Bearer {}", "a".repeat(64 * 1024)),
        format!("Bearer {}", "a.".repeat(32 * 1024)),
        format!("Bearer {}", "=".repeat(64 * 1024)),
        format!(
            "Bearer {}.{}.{}",
            "e".repeat(30_000),
            "e".repeat(30_000),
            "e".repeat(30_000)
        ),
        format!("{}Bearer x", " ".repeat(64 * 1024)),
    ] {
        let request = Request::get("/")
            .header(header::AUTHORIZATION, value)
            .body(String::new())
            .expect("request");
        let response = service.clone().oneshot(request).await.expect("infallible");
        assert!(
            matches!(
                response.status(),
                StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED
            ),
            "{}",
            response.status()
        );
        assert_ne!(response.into_body(), "handler");
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// Sender-constrained tokens (`cnf`, RFC 7800) are not downgraded to bearer tokens: with the
/// `Bearer` scheme they are refused (401 invalid_token), and the `DPoP` scheme is not read as
/// bearer credentials at all (401 without an error code).
#[tokio::test]
async fn sender_constrained_tokens_are_not_downgraded_to_bearer() {
    let f = fixture();
    for cnf in [
        json!({"jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}),
        json!({"x5t#S256":"bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}),
        json!({}),
    ] {
        let token = f.token(&f.es256, &with(claims(), "cnf", cnf.clone()));
        assert_eq!(
            f.check(&token).err(),
            Some(ValidationError::SenderConstrained),
            "{cnf}"
        );
    }
    for cnf in [json!("jkt"), json!(["jkt"]), json!(null)] {
        let token = f.token(&f.es256, &with(claims(), "cnf", cnf.clone()));
        assert!(
            matches!(
                f.check(&token),
                Err(ValidationError::ClaimType { claim: "cnf", .. })
            ),
            "{cnf}"
        );
    }
    let (issuer, app) = http_app().await;
    let now = NumericDate::now().as_secs();
    let bound = issuer.sign_raw(
        &json!({"typ":"at+jwt","alg":"ES256","kid":"key-1"}),
        &json!({"iss":issuer.url,"aud":AUDIENCE,"sub":"alice","client_id":"c","iat":now,"jti":"j","exp":now + 300,"cnf":{"jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}),
    );
    let (status, challenge, _) = get_raw(&app, &format!("Bearer {bound}")).await;
    assert_eq!(status, 401);
    assert!(challenge.unwrap_or_default().contains("sender-constrained"));
    let (status, challenge, _) = get_raw(&app, &format!("DPoP {bound}")).await;
    assert_eq!(status, 401);
    assert_eq!(challenge.as_deref(), Some("Bearer realm=\"test\""));
}

/// Error answers never reflect the token: `error_description` is a fixed text, so a token
/// cannot inject into the `WWW-Authenticate` header or the client's view.
#[tokio::test]
async fn refusals_never_reflect_token_contents() {
    let (issuer, app) = http_app().await;
    let now = NumericDate::now().as_secs();
    let marker = "INJECTED\\\" error=\\\"none";
    let token = issuer.sign_raw(
        &json!({"typ":"at+jwt","alg":"ES256","kid":marker}),
        &json!({"iss":marker,"aud":marker,"sub":"s","client_id":"c","iat":now,"jti":"j","exp":now + 300}),
    );
    let (status, challenge, body) = get_with(&format!("{app}/me"), Some(&token)).await;
    assert_eq!(status, 401);
    let challenge = challenge.unwrap_or_default();
    assert!(
        !challenge.contains("INJECTED") && !body.contains("INJECTED"),
        "{challenge} {body}"
    );
}

// ---------------------------------------------------------------------------------------------
// Key-source attacks
// ---------------------------------------------------------------------------------------------

/// JWKS fetch amplification: random `kid`s cost the issuer at most one fetch per cooldown
/// (30 s by default), however many arrive. (10 000 of them: `tests/resource_bounds.rs`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_kids_do_not_amplify_jwks_fetches() {
    let issuer = TestIssuer::start(Algorithm::ES256).await;
    let verifier = AccessTokenVerifier::new(
        Validator::new(issuer.url.clone(), [AUDIENCE]).expect("validator"),
        RemoteKeySet::from_jwks_uri(&issuer.jwks_uri()).expect("keys"),
    )
    .expect("verifier");
    let good = issuer.token("");
    let (_, payload, signature) = segments(&good);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..500 {
        let header = json!({"typ":"at+jwt","alg":if i % 2 == 0 { "ES256" } else { "RS256" },"kid":format!("random-{i}")});
        let token = format!(
            "{}.{payload}.{signature}",
            b64(header.to_string().as_bytes())
        );
        let verifier = verifier.clone();
        tasks.spawn(async move { verifier.verify(&token).await });
    }
    while let Some(result) = tasks.join_next().await {
        assert!(matches!(
            result.expect("task"),
            Err(AuthError::InvalidToken(ValidationError::UnknownKey(_)))
        ));
    }
    // No kid and an algorithm no key fits: the same throttle.
    let header = json!({"typ":"at+jwt","alg":"PS512"});
    let token = format!(
        "{}.{payload}.{signature}",
        b64(header.to_string().as_bytes())
    );
    assert!(verifier.verify(&token).await.is_err());
    assert!(
        issuer.jwks_hits() <= 2,
        "{} JWKS fetches",
        issuer.jwks_hits()
    );
    assert!(verifier.verify(&good).await.is_ok());
}

/// SSRF: only configured URLs are fetched; they must be https (plain http only for loopback
/// hosts); `file:`, cloud metadata addresses over http, and look-alike hosts are refused
/// when the key source is built, before any request.
#[test]
fn only_configured_https_urls_are_fetched() {
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://10.0.0.1/jwks",
        "http://localhost.evil.example/jwks",
        "http://127.0.0.1.nip.io/jwks",
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_INFO",
        "ftp://as.example/jwks",
        "data:application/json,{\"keys\":[]}",
    ] {
        assert!(RemoteKeySet::from_jwks_uri(url).is_err(), "{url}");
        assert!(RemoteKeySet::discover(url).is_err(), "{url}");
    }
}

/// Cache poisoning: a broken, hostile or oversized JWKS answer never replaces the good set; a
/// symmetric or encryption key in the JWKS is never used; a token cannot add a key.
#[tokio::test]
async fn the_key_cache_cannot_be_poisoned() {
    let issuer = TestIssuer::start(Algorithm::ES256).await;
    let verifier = AccessTokenVerifier::new(
        Validator::new(issuer.url.clone(), [AUDIENCE]).expect("validator"),
        RemoteKeySet::from_jwks_uri(&issuer.jwks_uri())
            .expect("keys")
            .cooldown(Duration::ZERO)
            .max_response_bytes(64 * 1024),
    )
    .expect("verifier");
    let good = issuer.token("");
    assert!(verifier.verify(&good).await.is_ok());
    let (_, payload, signature) = segments(&good);
    let with_kid = |alg: &str, kid: &str| {
        let header = json!({"typ":"at+jwt","alg":alg,"kid":kid});
        format!(
            "{}.{payload}.{signature}",
            b64(header.to_string().as_bytes())
        )
    };
    for mode in [Mode::Garbage, Mode::Huge, Mode::Error500] {
        issuer.set_mode(mode);
        let result = verifier.verify(&with_kid("ES256", "rotated")).await;
        assert!(
            matches!(result, Err(AuthError::KeysUnavailable(_))),
            "{mode:?}: {result:?}"
        );
        assert!(
            verifier.verify(&good).await.is_ok(),
            "{mode:?} replaced the good set"
        );
    }
    issuer.set_mode(Mode::OneBadKey);
    assert!(matches!(
        verifier.verify(&with_kid("HS256", "hmac")).await,
        Err(AuthError::InvalidToken(
            ValidationError::AlgorithmNotAllowed(_)
        ))
    ));
    for (alg, kid) in [("RS256", "hmac"), ("RS256", "bad"), ("ES256", "bad")] {
        let result = verifier.verify(&with_kid(alg, kid)).await;
        assert!(
            matches!(
                result,
                Err(AuthError::InvalidToken(ValidationError::UnknownKey(_)))
            ),
            "{kid}: {result:?}"
        );
    }
    assert!(verifier.verify(&good).await.is_ok());
}

/// Oversized JWKS and log flooding: a key set keeps at most 256 keys, the entries beyond
/// are scanned (never built) and reported once; unusable entries do not count toward the cap.
/// (100 000 keys, from a real server too: `tests/resource_bounds.rs`.)
#[test]
fn oversized_jwks_documents_are_capped() {
    let f = fixture();
    let jwk = f.es256.public_jwk().clone();
    let entries: Vec<String> = (0..2_000)
        .map(|i| {
            let mut entry = jwk.clone();
            entry["kid"] = json!(format!("k{i}"));
            entry.to_string()
        })
        .collect();
    let document = format!(r#"{{"keys":[{}]}}"#, entries.join(","));
    let (set, skipped) = KeySet::from_jwks_lenient(document.as_bytes()).expect("a JWKS");
    assert_eq!(set.len(), 256);
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].index, 256);
    // Thousands of tiny unusable entries, then a good key: the good key is kept.
    let tiny = format!(r#"{{"keys":[{}{}]}}"#, "{},".repeat(20_000), jwk);
    let (set, skipped) = KeySet::from_jwks_lenient(tiny.as_bytes()).expect("a JWKS");
    assert_eq!((set.len(), skipped.len()), (1, 20_000));
}

/// Key guessing: a token without `kid` is never tried against several keys; it is verified
/// only when exactly one key of the issuer fits its algorithm.
#[test]
fn kidless_tokens_are_not_tried_against_every_key() {
    let f = fixture();
    let other = SigningKey::generate(Algorithm::ES256, "es-2").expect("key");
    let two = keys_of(&[f.es256.public_jwk().clone(), other.public_jwk().clone()]);
    let token = sign(&other, &json!({"typ":"at+jwt","alg":"ES256"}), &claims());
    let result = f.validator.validate_at::<jwt_access_token::ExtraClaims>(
        &token,
        &two,
        NumericDate::from_secs(NOW),
    );
    assert_eq!(
        result.err(),
        Some(ValidationError::AmbiguousKey {
            alg: Algorithm::ES256,
            count: 2
        })
    );
    // With one fitting key it is tried, and only that key.
    assert_eq!(
        f.check(&token).err(),
        Some(ValidationError::InvalidSignature)
    );
    let own = sign(&f.es256, &json!({"typ":"at+jwt","alg":"ES256"}), &claims());
    assert!(f.check(&own).is_ok());
}
