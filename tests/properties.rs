//! Property tests: attacks the test generates itself.
//!
//! - any single-byte change anywhere in a valid token (its text, or the decoded header,
//!   payload or signature) is rejected;
//! - any token re-signed with a key not in the issuer's set is rejected;
//! - arbitrary bytes as a token, and as an `Authorization` header through the tower layer,
//!   never panic, and always answer 400 or 401;
//! - the verdict never depends on JSON member order;
//! - a duplicate member (top level or nested, header or claims) is rejected, never read
//!   either way.
//!
//! Case counts keep the file to a few seconds in a debug build.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderValue, Request, Response, StatusCode, header};
use jwt_access_token::{
    AccessTokenClaims, AccessTokenVerifier, Algorithm, ExtraClaims, JwtAccessTokenLayer, KeySet,
    NumericDate, SigningKey, ValidationError, Validator,
};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::OnceLock;
use tower::{Layer, ServiceExt, service_fn};

const ISS: &str = "https://as.example";
const AUD: &str = "https://api.example";
const NOW: i64 = 1_800_000_000;

/// The issuer's keys, some valid tokens, and attackers' keys (some reusing the issuer's kids).
struct World {
    keys: Vec<SigningKey>,
    set: KeySet,
    validator: Validator,
    tokens: Vec<String>,
    attackers: Vec<SigningKey>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let keys: Vec<SigningKey> = [
            (Algorithm::ES256, "es"),
            (Algorithm::ES384, "es384"),
            (Algorithm::RS256, "rs"),
            (Algorithm::PS256, "ps"),
            (Algorithm::EdDSA, "ed"),
        ]
        .into_iter()
        .map(|(alg, kid)| SigningKey::generate(alg, kid).expect("key"))
        .collect();
        let jwks = json!({"keys": keys.iter().map(|k| k.public_jwk().clone()).collect::<Vec<_>>()});
        let set = KeySet::from_jwks(&jwks.to_string()).expect("key set");
        let tokens = keys
            .iter()
            .map(|k| {
                k.sign_compact(
                    header_of(k).to_string().as_bytes(),
                    base_claims().to_string().as_bytes(),
                )
                .expect("sign")
            })
            .collect();
        let attackers = [
            (Algorithm::ES256, "es"),
            (Algorithm::ES256, "attacker"),
            (Algorithm::ES384, "es384"),
            (Algorithm::RS256, "rs"),
            (Algorithm::PS256, "rs"),
            (Algorithm::EdDSA, "ed"),
            (Algorithm::EdDSA, "es"),
        ]
        .into_iter()
        .map(|(alg, kid)| SigningKey::generate(alg, kid).expect("key"))
        .collect();
        World {
            keys,
            set,
            validator: Validator::new(ISS, [AUD]).expect("validator"),
            tokens,
            attackers,
        }
    })
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    })
}

fn base_claims() -> Value {
    json!({"iss":ISS,"aud":AUD,"sub":"alice","client_id":"app","iat":NOW - 10,"jti":"id-1","exp":NOW + 300,"scope":"a b","roles":["r"]})
}

fn header_of(key: &SigningKey) -> Value {
    json!({"typ":"at+jwt","alg":key.alg().as_str(),"kid":key.kid()})
}

fn check(token: &str) -> Result<AccessTokenClaims, ValidationError> {
    let w = world();
    w.validator
        .validate_at(token, &w.set, NumericDate::from_secs(NOW))
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).expect("base64url")
}

/// A JSON object's text from members given as (name, JSON text), in this order.
fn object(members: &[(String, String)]) -> String {
    let body: Vec<String> = members
        .iter()
        .map(|(name, value)| format!("{}:{value}", json!(name)))
        .collect();
    format!("{{{}}}", body.join(","))
}

fn members_of(value: &Value) -> Vec<(String, String)> {
    value
        .as_object()
        .expect("object")
        .iter()
        .map(|(k, v)| (k.clone(), v.to_string()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Tampering
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any single-byte change anywhere in the token's text is rejected.
    #[test]
    fn any_single_byte_change_in_the_text_is_rejected(
        which in 0usize..5,
        position in any::<Index>(),
        byte in 0u8..0x80,
    ) {
        let token = &world().tokens[which];
        prop_assert!(check(token).is_ok());
        let mut bytes = token.as_bytes().to_vec();
        let i = position.index(bytes.len());
        prop_assume!(bytes[i] != byte);
        bytes[i] = byte;
        let changed = String::from_utf8(bytes).expect("ASCII");
        let verdict = check(&changed);
        prop_assert!(verdict.is_err(), "{changed} passed");
    }

    /// Any single-byte change in the decoded header, payload or signature, encoded again
    /// canonically, is rejected.
    #[test]
    fn any_single_byte_change_in_a_decoded_segment_is_rejected(
        which in 0usize..5,
        segment in 0usize..3,
        position in any::<Index>(),
        byte in any::<u8>(),
    ) {
        let token = &world().tokens[which];
        let mut parts: Vec<Vec<u8>> = token.split('.').map(unb64).collect();
        let i = position.index(parts[segment].len());
        prop_assume!(parts[segment][i] != byte);
        parts[segment][i] = byte;
        let changed = parts.iter().map(|p| b64(p)).collect::<Vec<_>>().join(".");
        prop_assert!(check(&changed).is_err(), "{changed} passed");
    }
}

fn claim_variants() -> impl Strategy<Value = Value> {
    (
        prop_oneof![
            Just(ISS.to_owned()),
            Just("https://evil.example".to_owned())
        ],
        prop_oneof![
            Just(json!(AUD)),
            Just(json!(["x", AUD])),
            Just(json!("https://other"))
        ],
        prop_oneof![Just(NOW + 300), Just(NOW - 3600), Just(i64::MAX)],
        "[a-z]{1,8}",
        "[a-z: ]{0,20}",
        any::<bool>(),
    )
        .prop_map(|(iss, aud, exp, sub, scope, admin)| {
            let mut c = base_claims();
            c["iss"] = json!(iss);
            c["aud"] = aud;
            c["exp"] = json!(exp);
            c["sub"] = json!(sub);
            c["scope"] = json!(scope);
            if admin {
                c["roles"] = json!(["admin"]);
            }
            c
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Any token signed with a key that is not in the issuer's set is rejected, whatever its
    /// claims, its algorithm, and whether it names one of the issuer's kids, another kid, or
    /// none.
    #[test]
    fn tokens_signed_with_a_foreign_key_are_rejected(
        attacker in 0usize..7,
        kid in prop_oneof![Just(None), Just(Some(None)), Just(Some(Some("es"))), Just(Some(Some("rs"))), Just(Some(Some("ed")))],
        claims in claim_variants(),
    ) {
        let key = &world().attackers[attacker];
        let mut header = json!({"typ":"at+jwt","alg":key.alg().as_str()});
        match kid {
            None => header["kid"] = json!(key.kid()),
            Some(Some(kid)) => header["kid"] = json!(kid),
            Some(None) => {}
        }
        let token = key
            .sign_compact(header.to_string().as_bytes(), claims.to_string().as_bytes())
            .expect("sign");
        let verdict = check(&token);
        prop_assert!(
            matches!(
                verdict,
                Err(ValidationError::InvalidSignature
                    | ValidationError::UnknownKey(_)
                    | ValidationError::KeyMismatch { .. }
                    | ValidationError::NoKeyForAlgorithm(_)
                    | ValidationError::AmbiguousKey { .. })
            ),
            "{header} {claims}: {verdict:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Arbitrary input
// ---------------------------------------------------------------------------------------------

/// Strings that look like tokens: base64url-ish segments, dots, and a few odd characters.
fn token_like() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            8 => "[A-Za-z0-9_-]{0,40}",
            2 => Just("eyJ".to_owned()),
            2 => Just(".".to_owned()),
            1 => "[=+/ \\t%\\\\\"]",
            1 => any::<char>().prop_map(String::from),
        ],
        0..16,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Arbitrary bytes as a token: never a panic, never a pass.
    #[test]
    fn arbitrary_bytes_as_a_token_are_refused(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let token = String::from_utf8_lossy(&bytes);
        prop_assert!(check(&token).is_err());
    }

    /// Token-shaped garbage, and valid segments recombined with garbage: never a pass.
    #[test]
    fn token_shaped_garbage_is_refused(garbage in token_like(), which in 0usize..5, slot in 0usize..4) {
        prop_assert!(check(&garbage).is_err());
        let token = &world().tokens[which];
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        if slot < 3 {
            prop_assume!(parts[slot] != garbage);
            parts[slot] = garbage.clone();
        } else {
            parts.push(garbage.clone());
        }
        let mixed = parts.join(".");
        prop_assert!(check(&mixed).is_err(), "{mixed} passed");
    }
}

/// The layer over a handler that answers 200 "handler".
fn service() -> impl tower::Service<
    Request<String>,
    Response = Response<String>,
    Error = Infallible,
    Future = impl Send,
> + Clone {
    let w = world();
    let verifier = AccessTokenVerifier::new(w.validator.clone(), w.set.clone()).expect("verifier");
    JwtAccessTokenLayer::new(verifier).layer(service_fn(|_req: Request<String>| async {
        Ok::<_, Infallible>(Response::new(String::from("handler")))
    }))
}

fn answer(value: HeaderValue) -> (StatusCode, String) {
    let request = Request::get("/")
        .header(header::AUTHORIZATION, value)
        .body(String::new())
        .expect("request");
    let response = runtime()
        .block_on(service().oneshot(request))
        .expect("infallible");
    (response.status(), response.into_body())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Arbitrary bytes as the `Authorization` header value, through the tower layer: 400 or
    /// 401, never the handler, never a panic.
    #[test]
    fn arbitrary_authorization_headers_get_400_or_401(
        bytes in prop::collection::vec(any::<u8>(), 0..400),
        bearer in any::<bool>(),
    ) {
        let mut value = if bearer { b"Bearer ".to_vec() } else { Vec::new() };
        value.extend(&bytes);
        // Bytes that HTTP cannot carry (CR, LF, NUL, DEL...) never reach a service.
        let Ok(value) = HeaderValue::from_bytes(&value) else {
            return Ok(());
        };
        let (status, body) = answer(value);
        prop_assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::UNAUTHORIZED,
            "{status}"
        );
        prop_assert_ne!(body, "handler");
    }

    /// Token-shaped garbage after `Bearer `: 400 or 401.
    #[test]
    fn token_shaped_authorization_headers_get_400_or_401(garbage in token_like()) {
        let Ok(value) = HeaderValue::from_str(&format!("Bearer {garbage}")) else {
            return Ok(());
        };
        let (status, body) = answer(value);
        prop_assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::UNAUTHORIZED,
            "{status}"
        );
        prop_assert_ne!(body, "handler");
    }
}

/// The control for the two properties above: a valid token does reach the handler.
#[test]
fn the_layer_lets_a_valid_token_through() {
    let key = &world().keys[0];
    let now = NumericDate::now().as_secs();
    let mut claims = base_claims();
    claims["iat"] = json!(now);
    claims["exp"] = json!(now + 300);
    let token = key
        .sign_compact(
            header_of(key).to_string().as_bytes(),
            claims.to_string().as_bytes(),
        )
        .expect("sign");
    let value = HeaderValue::from_str(&format!("Bearer {token}")).expect("ascii");
    assert_eq!(answer(value), (StatusCode::OK, "handler".to_owned()));
}

// ---------------------------------------------------------------------------------------------
// JSON member order and duplicates
// ---------------------------------------------------------------------------------------------

/// Claims as members (name, JSON text): the base claims in some variant, plus extra claims.
fn claim_members() -> impl Strategy<Value = Vec<(String, String)>> {
    (
        claim_variants(),
        prop::collection::btree_map(
            "[a-z_]{1,6}",
            prop_oneof![
                any::<i64>().prop_map(|n| json!(n)),
                "[ -~]{0,12}".prop_map(|s| json!(s)),
                prop::collection::vec("[a-z]{0,4}", 0..4).prop_map(|v| json!(v)),
                Just(json!({"value":"g","display":"G"})),
                Just(json!(null)),
            ],
            0..5,
        ),
    )
        .prop_map(|(claims, extra)| {
            let mut members = members_of(&claims);
            for (name, value) in extra {
                if !members.iter().any(|(n, _)| *n == name) {
                    members.push((name, value.to_string()));
                }
            }
            members
        })
}

fn header_members() -> impl Strategy<Value = Vec<(String, String)>> {
    (0usize..5, any::<bool>(), any::<bool>()).prop_map(|(which, extra, cty)| {
        let key = &world().keys[which];
        let mut members = members_of(&header_of(key));
        members.push(("which".to_owned(), which.to_string()));
        if extra {
            members.push((
                "x5u".to_owned(),
                json!("https://ignored.example").to_string(),
            ));
        }
        if cty {
            members.push(("cty".to_owned(), json!("at+jwt").to_string()));
        }
        members
    })
}

/// JSON object members as (name, JSON text), in document order.
type Members = Vec<(String, String)>;

/// Two orders of the same members.
fn two_orders(
    members: impl Strategy<Value = Members>,
) -> impl Strategy<Value = (Members, Members)> {
    members.prop_flat_map(|m| (Just(m.clone()), Just(m).prop_shuffle()))
}

fn signed(header: &[(String, String)], claims: &[(String, String)]) -> String {
    let which: usize = header
        .iter()
        .find(|(n, _)| n == "which")
        .and_then(|(_, v)| v.parse().ok())
        .expect("which key");
    world().keys[which]
        .sign_compact(object(header).as_bytes(), object(claims).as_bytes())
        .expect("sign")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Shuffling the members of the header and of the claims (and signing again) never changes
    /// the verdict nor the claims.
    #[test]
    fn member_order_never_changes_the_verdict(
        (header_a, header_b) in two_orders(header_members()),
        (claims_a, claims_b) in two_orders(claim_members()),
    ) {
        let a = check(&signed(&header_a, &claims_a));
        let b = check(&signed(&header_b, &claims_b));
        prop_assert_eq!(a, b);
    }
}

/// Where a duplicate goes.
#[derive(Debug, Clone, Copy)]
enum Place {
    Header,
    Claims,
    /// Inside a SCIM group object in `groups`.
    Group,
    /// Inside `cnf`.
    Cnf,
    /// Two levels down in an extra claim.
    Deep,
}

fn json_values() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(json!(AUD).to_string()),
        Just(json!(ISS).to_string()),
        Just(json!("none").to_string()),
        Just(json!("ES256").to_string()),
        Just(json!("at+jwt").to_string()),
        Just(json!("admin").to_string()),
        Just((NOW + 300).to_string()),
        Just(json!(["admin"]).to_string()),
        "[a-z]{0,6}".prop_map(|s| json!(s).to_string()),
        any::<i32>().prop_map(|n| n.to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    /// A duplicate member anywhere (header or claims, top level or nested, same value or
    /// another) is refused as a duplicate: never read as the first or the last.
    #[test]
    fn duplicate_members_are_refused_not_read(
        place in prop_oneof![Just(Place::Header), Just(Place::Claims), Just(Place::Group), Just(Place::Cnf), Just(Place::Deep)],
        top_name in prop_oneof![
            Just("aud"), Just("iss"), Just("exp"), Just("sub"), Just("scope"), Just("iat"),
            Just("nbf"), Just("jti"), Just("client_id"), Just("roles"), Just("groups"), Just("tenant"),
        ],
        header_name in prop_oneof![Just("alg"), Just("typ"), Just("kid"), Just("crit"), Just("jku"), Just("cty")],
        nested_name in prop_oneof![Just("value"), Just("jkt"), Just("display"), Just("x")],
        first in json_values(),
        second in json_values(),
        position in any::<Index>(),
        which in 0usize..5,
    ) {
        let key = &world().keys[which];
        let mut header = members_of(&header_of(key));
        let mut claims = members_of(&base_claims());
        let (members, name, value) = match place {
            Place::Header => (&mut header, header_name, second.clone()),
            Place::Claims => (&mut claims, top_name, second.clone()),
            Place::Group | Place::Cnf | Place::Deep => {
                let inner = object(&[
                    (nested_name.to_owned(), first.clone()),
                    ("other".to_owned(), "1".to_owned()),
                    (nested_name.to_owned(), second.clone()),
                ]);
                let (claim, text) = match place {
                    Place::Group => ("groups", format!("[{inner}]")),
                    Place::Cnf => ("cnf", inner),
                    _ => ("ext", format!(r#"{{"a":[{{"b":{inner}}}]}}"#)),
                };
                claims.retain(|(n, _)| n != claim);
                claims.push((claim.to_owned(), text));
                let token = key
                    .sign_compact(object(&header).as_bytes(), object(&claims).as_bytes())
                    .expect("sign");
                let lenient = world().validator.clone().accept_sender_constrained_as_bearer();
                let verdict = lenient.validate_at::<ExtraClaims>(&token, &world().set, NumericDate::from_secs(NOW));
                prop_assert_eq!(verdict.err(), Some(ValidationError::DuplicateMember(nested_name.to_owned())));
                return Ok(());
            }
        };
        if !members.iter().any(|(n, _)| n == name) {
            members.push((name.to_owned(), first.clone()));
        }
        let at = position.index(members.len() + 1);
        members.insert(at, (name.to_owned(), value));
        let token = key
            .sign_compact(object(&header).as_bytes(), object(&claims).as_bytes())
            .expect("sign");
        prop_assert_eq!(check(&token).err(), Some(ValidationError::DuplicateMember(name.to_owned())));
    }
}
