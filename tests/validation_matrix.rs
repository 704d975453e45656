//! Every check of the validator (RFC 9068 §4), each with a case that passes and one that
//! fails, on the pure validator (no I/O) with a fixed clock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use jwt_access_token::{
    AccessTokenClaims, Algorithm, HmacSecret, KeySet, NumericDate, RelaxableClaim, SigningKey,
    ValidationError, Validator,
};
use serde_json::{Value, json};

const ISS: &str = "https://as.example";
const AUD: &str = "https://api.example";
const NOW: i64 = 1_800_000_000;

fn claims() -> Value {
    json!({"iss":ISS,"aud":AUD,"sub":"alice","client_id":"app","iat":NOW - 10,"jti":"id-1","exp":NOW + 300,"scope":"a b"})
}

fn header(key: &SigningKey) -> Value {
    json!({"typ":"at+jwt","alg":key.alg().as_str(),"kid":key.kid()})
}

fn sign(key: &SigningKey, header: &Value, claims: &Value) -> String {
    key.sign_compact(header.to_string().as_bytes(), claims.to_string().as_bytes())
        .expect("sign")
}

fn keys_of(jwks: &[Value]) -> KeySet {
    KeySet::from_jwks(&json!({ "keys": jwks }).to_string()).expect("key set")
}

struct Fixture {
    key: SigningKey,
    keys: KeySet,
    validator: Validator,
}

fn fixture(alg: Algorithm) -> Fixture {
    let key = SigningKey::generate(alg, "k1").expect("key");
    let keys = keys_of(&[key.public_jwk().clone()]);
    Fixture {
        key,
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

    fn token(&self, claims: &Value) -> String {
        sign(&self.key, &header(&self.key), claims)
    }

    fn with_header(&self, header: &Value) -> String {
        sign(&self.key, header, &claims())
    }
}

fn with(mut c: Value, name: &str, value: Value) -> Value {
    c[name] = value;
    c
}

fn without(mut c: Value, name: &str) -> Value {
    c.as_object_mut().expect("object").remove(name);
    c
}

#[test]
fn step1_size_cap() {
    let f = fixture(Algorithm::ES256);
    let big = f.token(&with(claims(), "pad", json!("x".repeat(9000))));
    assert!(matches!(
        f.check(&big),
        Err(ValidationError::TooLarge { limit: 8192, .. })
    ));
    let roomy = f.validator.clone().max_token_bytes(16 * 1024);
    assert!(f.check_with(&roomy, &big).is_ok());
    assert!(f.check(&f.token(&claims())).is_ok());
}

#[test]
fn step2_segments() {
    let f = fixture(Algorithm::ES256);
    assert_eq!(
        f.check("eyJh.eyJh.eyJh.eyJh.eyJh").err(),
        Some(ValidationError::Encrypted)
    );
    assert!(matches!(
        f.check("a.b.c.d"),
        Err(ValidationError::Malformed(_))
    ));
    let token = f.token(&claims());
    assert!(matches!(
        f.check(&format!("{token}=")),
        Err(ValidationError::Malformed(_))
    ));
    assert!(matches!(
        f.check(&format!("{token}.")),
        Err(ValidationError::Malformed(_))
    ));
}

#[test]
fn step3_typ_is_required_and_must_be_at_jwt() {
    let f = fixture(Algorithm::ES256);
    for typ in ["at+jwt", "AT+JWT", "application/at+jwt"] {
        assert!(
            f.check(&f.with_header(&json!({"typ":typ,"alg":"ES256","kid":"k1"})))
                .is_ok(),
            "{typ}"
        );
    }
    assert_eq!(
        f.check(&f.with_header(&json!({"alg":"ES256","kid":"k1"})))
            .err(),
        Some(ValidationError::MissingType)
    );
    assert_eq!(
        f.check(&f.with_header(&json!({"typ":"JWT","alg":"ES256","kid":"k1"})))
            .err(),
        Some(ValidationError::WrongType("JWT".into()))
    );
}

#[test]
fn step3_alg_allow_list() {
    let f = fixture(Algorithm::ES256);
    let token = f.token(&claims());
    assert!(f.check(&token).is_ok());
    let only_rsa = f
        .validator
        .clone()
        .algorithms([Algorithm::RS256])
        .expect("algs");
    assert_eq!(
        f.check_with(&only_rsa, &token).err(),
        Some(ValidationError::AlgorithmNotAllowed("ES256".into()))
    );
    for alg in ["none", "None", "NONE"] {
        let unsigned = format!(
            "{}.{}.",
            b64(&json!({"typ":"at+jwt","alg":alg}).to_string()),
            b64(&claims().to_string())
        );
        assert!(f.check(&unsigned).is_err(), "{alg}");
        let signed = f.with_header(&json!({"typ":"at+jwt","alg":alg,"kid":"k1"}));
        assert_eq!(
            f.check(&signed).err(),
            Some(ValidationError::AlgorithmNotAllowed(alg.into()))
        );
    }
    assert!(
        f.validator.clone().algorithms([Algorithm::HS256]).is_err(),
        "HMAC needs an explicit secret"
    );
}

#[test]
fn step3_hmac_only_with_an_explicit_secret() {
    let f = fixture(Algorithm::RS256);
    let secret = [7u8; 32];
    let hs_token = |secret: &[u8]| {
        let input = format!(
            "{}.{}",
            b64(r#"{"typ":"at+jwt","alg":"HS256"}"#),
            b64(&claims().to_string())
        );
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
        let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
        format!("{input}.{}", b64_bytes(tag.as_ref()))
    };
    // Without a secret: refused before any key is looked at.
    assert_eq!(
        f.check(&hs_token(&secret)).err(),
        Some(ValidationError::AlgorithmNotAllowed("HS256".into()))
    );
    // HS/RS confusion: the public key's bytes as an HMAC secret never pass.
    let public_n = f.key.public_jwk()["n"].as_str().expect("n").to_owned();
    assert!(f.check(&hs_token(public_n.as_bytes())).is_err());
    let with_secret = f
        .validator
        .clone()
        .with_hmac_secret(HmacSecret::new(Algorithm::HS256, &secret).expect("secret"));
    assert!(f.check_with(&with_secret, &hs_token(&secret)).is_ok());
    assert_eq!(
        f.check_with(&with_secret, &hs_token(&[8u8; 32])).err(),
        Some(ValidationError::InvalidSignature)
    );
    assert!(
        HmacSecret::new(Algorithm::HS256, &[1u8; 16]).is_err(),
        "short secrets are refused"
    );
    // RS256 tokens keep working beside the secret.
    assert!(f.check_with(&with_secret, &f.token(&claims())).is_ok());
}

#[test]
fn step3_crit_is_refused() {
    let f = fixture(Algorithm::ES256);
    let token =
        f.with_header(&json!({"typ":"at+jwt","alg":"ES256","kid":"k1","crit":["b64"],"b64":false}));
    assert_eq!(f.check(&token).err(), Some(ValidationError::CriticalHeader));
}

#[test]
fn step3_keys_named_by_the_token_are_never_used() {
    let f = fixture(Algorithm::ES256);
    let attacker = SigningKey::generate(Algorithm::ES256, "k1").expect("key");
    let header = json!({"typ":"at+jwt","alg":"ES256","kid":"k1","jwk":attacker.public_jwk(),"jku":"http://127.0.0.1:9/jwks","x5u":"http://127.0.0.1:9/x5u"});
    let forged = sign(&attacker, &header, &claims());
    assert_eq!(
        f.check(&forged).err(),
        Some(ValidationError::InvalidSignature)
    );
    // The same header signed with the real key is fine: the extra members are ignored.
    assert!(f.check(&sign(&f.key, &header, &claims())).is_ok());
}

#[test]
fn step4_key_selection_by_kid_or_single_fit() {
    let f = fixture(Algorithm::ES256);
    assert_eq!(
        f.check(&f.with_header(&json!({"typ":"at+jwt","alg":"ES256","kid":"other"})))
            .err(),
        Some(ValidationError::UnknownKey("other".into()))
    );
    // No kid: tried only because exactly one key fits ES256.
    let no_kid = f.with_header(&json!({"typ":"at+jwt","alg":"ES256"}));
    assert!(f.check(&no_kid).is_ok());
    let second = SigningKey::generate(Algorithm::ES256, "k2").expect("key");
    let two = Fixture {
        keys: keys_of(&[f.key.public_jwk().clone(), second.public_jwk().clone()]),
        ..fixture_from(&f)
    };
    assert_eq!(
        two.check(&no_kid).err(),
        Some(ValidationError::AmbiguousKey {
            alg: Algorithm::ES256,
            count: 2
        })
    );
    assert!(
        two.check(&f.token(&claims())).is_ok(),
        "with a kid, two keys are fine"
    );
}

#[test]
fn step4_key_must_fit_the_algorithm() {
    let f = fixture(Algorithm::ES256);
    let jwk = f.key.public_jwk().clone();
    let cases = [
        (
            "kty",
            json!({"typ":"at+jwt","alg":"RS256","kid":"k1"}),
            jwk.clone(),
        ),
        (
            "crv",
            json!({"typ":"at+jwt","alg":"ES384","kid":"k1"}),
            jwk.clone(),
        ),
        (
            "jwk alg",
            header(&f.key),
            with(jwk.clone(), "alg", json!("ES384")),
        ),
        (
            "use",
            header(&f.key),
            with(jwk.clone(), "use", json!("enc")),
        ),
        (
            "key_ops",
            header(&f.key),
            with(without(jwk.clone(), "use"), "key_ops", json!(["sign"])),
        ),
    ];
    for (name, header, jwk) in cases {
        let g = Fixture {
            keys: keys_of(&[jwk]),
            ..fixture_from(&f)
        };
        let token = sign(&f.key, &header, &claims());
        assert!(
            matches!(g.check(&token), Err(ValidationError::KeyMismatch { .. })),
            "{name}: {:?}",
            g.check(&token)
        );
    }
    let ok_ops = Fixture {
        keys: keys_of(&[with(without(jwk, "use"), "key_ops", json!(["verify"]))]),
        ..fixture_from(&f)
    };
    assert!(ok_ops.check(&f.token(&claims())).is_ok());
}

#[test]
fn step5_signature() {
    let f = fixture(Algorithm::RS256);
    let token = f.token(&claims());
    assert!(f.check(&token).is_ok());
    // Change one claim, keep the signature.
    let (input, signature) = token.rsplit_once('.').expect("dot");
    let (head, _) = input.split_once('.').expect("dot");
    let tampered = format!(
        "{head}.{}.{signature}",
        b64(&with(claims(), "sub", json!("mallory")).to_string())
    );
    assert_eq!(
        f.check(&tampered).err(),
        Some(ValidationError::InvalidSignature)
    );
    // Signature of another token.
    let other = f.token(&with(claims(), "jti", json!("id-2")));
    let spliced = format!("{input}.{}", other.rsplit_once('.').expect("dot").1);
    assert_eq!(
        f.check(&spliced).err(),
        Some(ValidationError::InvalidSignature)
    );
}

#[test]
fn step6_issuer_is_exact() {
    let f = fixture(Algorithm::ES256);
    for iss in [
        "https://as.example/",
        "https://AS.example",
        "https://as.example.evil",
        "",
    ] {
        assert_eq!(
            f.check(&f.token(&with(claims(), "iss", json!(iss)))).err(),
            Some(ValidationError::WrongIssuer(iss.into()))
        );
    }
}

#[test]
fn step6_audience_one_or_many() {
    let f = fixture(Algorithm::ES256);
    assert!(
        f.check(&f.token(&with(claims(), "aud", json!(["https://x", AUD]))))
            .is_ok()
    );
    assert!(matches!(
        f.check(&f.token(&with(claims(), "aud", json!(["https://x"])))),
        Err(ValidationError::WrongAudience(_))
    ));
    assert!(matches!(
        f.check(&f.token(&with(claims(), "aud", json!([])))),
        Err(ValidationError::WrongAudience(_))
    ));
    assert!(matches!(
        f.check(&f.token(&with(claims(), "aud", json!("https://api.example.evil")))),
        Err(ValidationError::WrongAudience(_))
    ));
    let either = Validator::new(ISS, ["https://x", "https://y"]).expect("validator");
    assert!(
        f.check_with(
            &either,
            &f.token(&with(claims(), "aud", json!("https://y")))
        )
        .is_ok()
    );
}

#[test]
fn step6_times_with_one_leeway() {
    let f = fixture(Algorithm::ES256);
    let at = |name: &str, t: i64| f.check(&f.token(&with(claims(), name, json!(t))));
    assert!(at("exp", NOW - 59).is_ok(), "inside the 60 s leeway");
    assert!(matches!(
        at("exp", NOW - 60),
        Err(ValidationError::Expired { .. })
    ));
    assert!(at("nbf", NOW + 60).is_ok());
    assert!(matches!(
        at("nbf", NOW + 61),
        Err(ValidationError::NotYetValid { .. })
    ));
    assert!(at("iat", NOW + 60).is_ok());
    assert!(matches!(
        at("iat", NOW + 61),
        Err(ValidationError::IssuedInFuture { .. })
    ));
    let strict = f.validator.clone().leeway(std::time::Duration::ZERO);
    let token = f.token(&with(claims(), "exp", json!(NOW)));
    assert!(matches!(
        f.check_with(&strict, &token),
        Err(ValidationError::Expired { .. })
    ));
    assert!(
        f.check_with(&strict, &f.token(&with(claims(), "exp", json!(NOW + 1))))
            .is_ok()
    );
}

#[test]
fn step6_required_claims_and_their_relaxation() {
    let f = fixture(Algorithm::ES256);
    let relaxable = [
        ("sub", RelaxableClaim::Sub),
        ("client_id", RelaxableClaim::ClientId),
        ("iat", RelaxableClaim::Iat),
        ("jti", RelaxableClaim::Jti),
    ];
    for (name, claim) in relaxable {
        let token = f.token(&without(claims(), name));
        assert!(
            matches!(f.check(&token), Err(ValidationError::MissingClaim(n)) if n == name),
            "{name}"
        );
        let relaxed = f.validator.clone().allow_missing(claim);
        assert!(f.check_with(&relaxed, &token).is_ok(), "{name}");
    }
    for name in ["iss", "aud", "exp"] {
        let token = f.token(&without(claims(), name));
        assert_eq!(
            f.check(&token).err(),
            Some(ValidationError::MissingClaim(match name {
                "iss" => "iss",
                "aud" => "aud",
                _ => "exp",
            }))
        );
    }
}

#[test]
fn step6_claim_types_and_duplicates() {
    let f = fixture(Algorithm::ES256);
    for name in ["exp", "iat", "nbf"] {
        let token = f.token(&with(claims(), name, json!(NOW.to_string())));
        assert!(
            matches!(f.check(&token), Err(ValidationError::ClaimType { claim, .. }) if claim == name),
            "{name}"
        );
    }
    let token = f.token(&with(claims(), "client_id", json!(42)));
    assert!(matches!(
        f.check(&token),
        Err(ValidationError::ClaimType {
            claim: "client_id",
            ..
        })
    ));
    // Two `aud` members: rejected, not read either way.
    let payload = format!(
        r#"{{"iss":"{ISS}","aud":"https://other","aud":"{AUD}","sub":"a","client_id":"c","iat":{NOW},"jti":"j","exp":{}}}"#,
        NOW + 60
    );
    let token = f
        .key
        .sign_compact(header(&f.key).to_string().as_bytes(), payload.as_bytes())
        .expect("sign");
    assert_eq!(
        f.check(&token).err(),
        Some(ValidationError::DuplicateMember("aud".into()))
    );
}

#[test]
fn member_order_does_not_change_the_verdict() {
    let f = fixture(Algorithm::ES256);
    let c = claims();
    let mut reversed: Vec<(String, Value)> =
        c.as_object().expect("object").clone().into_iter().collect();
    reversed.reverse();
    let body = format!(
        "{{{}}}",
        reversed
            .iter()
            .map(|(k, v)| format!("{}:{v}", json!(k)))
            .collect::<Vec<_>>()
            .join(",")
    );
    let token = f
        .key
        .sign_compact(
            r#"{"kid":"k1","alg":"ES256","typ":"at+jwt"}"#.as_bytes(),
            body.as_bytes(),
        )
        .expect("sign");
    let a = f.check(&token).expect("valid");
    let b = f.check(&f.token(&c)).expect("valid");
    assert_eq!(a.sub, b.sub);
    assert_eq!(a.scope, b.scope);
}

fn fixture_from(f: &Fixture) -> Fixture {
    Fixture {
        key: SigningKey::generate(Algorithm::ES256, "unused").expect("key"),
        keys: f.keys.clone(),
        validator: f.validator.clone(),
    }
}

fn b64(s: &str) -> String {
    b64_bytes(s.as_bytes())
}

fn b64_bytes(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[test]
fn a_second_hmac_secret_replaces_the_first_and_its_algorithm() {
    let f = fixture(Algorithm::RS256);
    let v = f
        .validator
        .clone()
        .with_hmac_secret(HmacSecret::new(Algorithm::HS256, &[1u8; 32]).expect("secret"))
        .with_hmac_secret(HmacSecret::new(Algorithm::HS512, &[2u8; 64]).expect("secret"));
    let algs: Vec<Algorithm> = v.allowed_algorithms().collect();
    assert!(algs.contains(&Algorithm::HS512));
    assert!(!algs.contains(&Algorithm::HS256));
}

#[test]
fn step6_sender_constrained_tokens_are_refused_unless_accepted() {
    let f = fixture(Algorithm::ES256);
    let bound = f.token(&with(
        claims(),
        "cnf",
        json!({"jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}),
    ));
    assert_eq!(
        f.check(&bound).err(),
        Some(ValidationError::SenderConstrained)
    );
    let lenient = f.validator.clone().accept_sender_constrained_as_bearer();
    assert!(f.check_with(&lenient, &bound).is_ok());
}
