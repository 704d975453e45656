//! Validation cost per algorithm, keys already loaded: the floor, this crate's validator, and
//! jsonwebtoken's `decode`.
//!
//! - `floor`: the least a correct check can do: split, decode, one signature check with an
//!   aws-lc-rs key parsed beforehand, a borrowed serde parse of header and claims, and the
//!   `typ`/`alg`/`iss`/`aud`/`exp` comparisons. No strictness beyond that.
//! - `validator`: `Validator::validate` with a `KeySet` (every RFC 9068 check, typed claims).
//! - `jsonwebtoken_decode`: `jsonwebtoken::decode` (aws-lc-rs backend) into a serde struct
//!   with `Validation` for the algorithm, issuer and audience.
//!
//! - `bare_service`: a request with the `Authorization` header through a `service_fn` that
//!   answers at once (the cost every variant below shares).
//! - `layer_no_cache`: the same through `JwtAccessTokenLayer` with the verdict cache off: every
//!   request verifies (a new token each time costs the same).
//! - `layer_cache_hit`: the same with the verdict cache on and the token seen before.
//!
//! `cargo bench --bench validation`; the tokens are asserted valid in the setup.

mod common;
use common::{Body, answer, ready};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use jwt_access_token::{
    AccessTokenClaims, Algorithm, JwtAccessTokenIssuer, KeySet, SigningKey, TokenRequest, Validator,
};
use serde::Deserialize;
use std::convert::Infallible;
use std::hint::black_box;
use std::time::Duration;
use tower::{Service, ServiceBuilder, ServiceExt};

const ISS: &str = "https://as.example";
const AUD: &str = "https://api.example";

struct Fixture {
    alg: Algorithm,
    token: String,
    keys: KeySet,
    validator: Validator,
    floor_key: aws_lc_rs::signature::ParsedPublicKey,
    jwt_key: jsonwebtoken::DecodingKey,
}

fn setup(alg: Algorithm) -> Result<Fixture, Box<dyn std::error::Error>> {
    let issuer = JwtAccessTokenIssuer::new(ISS, SigningKey::generate(alg, "k1")?)?;
    let token = issuer.mint(
        &TokenRequest::new("alice", "client-1", [AUD])
            .scope("items:read items:write")
            .roles(["editor"])
            .lifetime(Duration::from_secs(24 * 3600)),
    )?;
    let jwk = issuer.jwks()["keys"][0].clone();
    let keys = KeySet::from_jwks(&issuer.jwks().to_string())?;
    let validator = Validator::new(ISS, [AUD])?;
    let floor_key = floor_key(alg, &jwk)?;
    let jwt_key = jsonwebtoken::DecodingKey::from_jwk(&serde_json::from_value(jwk)?)?;
    let f = Fixture {
        alg,
        token,
        keys,
        validator,
        floor_key,
        jwt_key,
    };
    // Every contender must accept the token, or the comparison means nothing.
    let _: AccessTokenClaims = f.validator.validate(&f.token, &f.keys)?;
    if !floor(&f) {
        return Err("the floor refused the token".into());
    }
    jwt_decode(&f)?;
    Ok(f)
}

fn floor_key(
    alg: Algorithm,
    jwk: &serde_json::Value,
) -> Result<aws_lc_rs::signature::ParsedPublicKey, Box<dyn std::error::Error>> {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature as s;
    let b = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap_or_default());
    let (algorithm, bytes): (&'static dyn s::VerificationAlgorithm, Vec<u8>) = match alg {
        Algorithm::RS256 | Algorithm::PS256 => {
            let (n, e) = (b("n")?, b("e")?);
            let der = aws_lc_rs::rsa::PublicKeyComponents {
                n: n.as_slice(),
                e: e.as_slice(),
            }
            .as_der()
            .map_err(|_| "rsa der")?;
            let algorithm: &'static dyn s::VerificationAlgorithm = if alg == Algorithm::RS256 {
                &s::RSA_PKCS1_2048_8192_SHA256
            } else {
                &s::RSA_PSS_2048_8192_SHA256
            };
            (algorithm, der.as_ref().to_vec())
        }
        Algorithm::ES256 | Algorithm::ES384 => {
            let mut point = vec![4u8];
            point.extend(b("x")?);
            point.extend(b("y")?);
            let algorithm: &'static dyn s::VerificationAlgorithm = if alg == Algorithm::ES256 {
                &s::ECDSA_P256_SHA256_FIXED
            } else {
                &s::ECDSA_P384_SHA384_FIXED
            };
            (algorithm, point)
        }
        _ => (&s::ED25519, b("x")?),
    };
    Ok(s::ParsedPublicKey::new(algorithm, bytes)?)
}

#[derive(Deserialize)]
struct FloorHeader<'a> {
    typ: &'a str,
    alg: &'a str,
}

#[derive(Deserialize)]
struct FloorClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    exp: i64,
}

/// The floor: nothing but what any correct check must do.
fn floor(f: &Fixture) -> bool {
    let Some((input, signature)) = f.token.rsplit_once('.') else {
        return false;
    };
    let Some((header, payload)) = input.split_once('.') else {
        return false;
    };
    let mut sig = [0u8; 512];
    let Ok(n) = URL_SAFE_NO_PAD.decode_slice(signature, &mut sig) else {
        return false;
    };
    if f.floor_key.verify_sig(input.as_bytes(), &sig[..n]).is_err() {
        return false;
    }
    let mut h = [0u8; 256];
    let Ok(n) = URL_SAFE_NO_PAD.decode_slice(header, &mut h) else {
        return false;
    };
    let Ok(h) = serde_json::from_slice::<FloorHeader>(&h[..n]) else {
        return false;
    };
    let mut p = [0u8; 1024];
    let Ok(n) = URL_SAFE_NO_PAD.decode_slice(payload, &mut p) else {
        return false;
    };
    let Ok(c) = serde_json::from_slice::<FloorClaims>(&p[..n]) else {
        return false;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    h.typ == "at+jwt" && h.alg == f.alg.as_str() && c.iss == ISS && c.aud == AUD && c.exp > now
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct JwtClaims {
    iss: String,
    sub: String,
    aud: String,
    exp: i64,
    iat: i64,
    jti: String,
    client_id: String,
    scope: String,
}

fn jwt_decode(f: &Fixture) -> Result<JwtClaims, jsonwebtoken::errors::Error> {
    let alg = match f.alg {
        Algorithm::RS256 => jsonwebtoken::Algorithm::RS256,
        Algorithm::PS256 => jsonwebtoken::Algorithm::PS256,
        Algorithm::ES256 => jsonwebtoken::Algorithm::ES256,
        Algorithm::ES384 => jsonwebtoken::Algorithm::ES384,
        _ => jsonwebtoken::Algorithm::EdDSA,
    };
    let mut validation = jsonwebtoken::Validation::new(alg);
    validation.set_issuer(&[ISS]);
    validation.set_audience(&[AUD]);
    jsonwebtoken::decode::<JwtClaims>(&f.token, &f.jwt_key, &validation).map(|d| d.claims)
}

fn request(authorization: &http::HeaderValue) -> http::Request<Body> {
    let mut request = http::Request::new(Body::new());
    request
        .headers_mut()
        .insert(http::header::AUTHORIZATION, authorization.clone());
    request
}

/// One request through `service`; true when it answered 200.
fn call<S>(service: &mut S, authorization: &http::HeaderValue) -> bool
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>,
{
    ready(service.call(request(authorization)))
        .and_then(Result::ok)
        .is_some_and(|r| r.status() == http::StatusCode::OK)
}

type App = tower::util::ServiceFn<
    fn(http::Request<Body>) -> std::future::Ready<Result<http::Response<Body>, Infallible>>,
>;

fn app() -> App {
    tower::service_fn(answer as fn(_) -> _)
}

fn layered(
    f: &Fixture,
    cache: bool,
) -> Result<
    impl Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible> + Clone,
    Box<dyn std::error::Error>,
> {
    let verifier = jwt_access_token::AccessTokenVerifier::new(f.validator.clone(), f.keys.clone())?;
    let verifier = if cache {
        verifier
    } else {
        verifier.without_verdict_cache()
    };
    Ok(ServiceBuilder::new()
        .layer(jwt_access_token::JwtAccessTokenLayer::new(verifier))
        .service(app()))
}

fn bench(c: &mut Criterion) {
    // Both jsonwebtoken backends are compiled into the benches: name the one `decode` uses.
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    for alg in [
        Algorithm::RS256,
        Algorithm::PS256,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ] {
        let f = match setup(alg) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("skipping {alg}: {e}");
                continue;
            }
        };
        let mut group = c.benchmark_group(alg.as_str());
        group
            .sample_size(40)
            .measurement_time(Duration::from_secs(3))
            .warm_up_time(Duration::from_secs(1));
        group.bench_function("floor", |b| b.iter(|| black_box(floor(black_box(&f)))));
        group.bench_function("validator", |b| {
            b.iter(|| {
                black_box(
                    f.validator
                        .validate::<jwt_access_token::ExtraClaims>(black_box(&f.token), &f.keys)
                        .is_ok(),
                )
            })
        });
        group.bench_function("jsonwebtoken_decode", |b| {
            b.iter(|| black_box(jwt_decode(black_box(&f)).is_ok()))
        });
        let Ok(authorization) = http::HeaderValue::from_str(&format!("Bearer {}", f.token)) else {
            continue;
        };
        let mut bare = app();
        let (Ok(mut no_cache), Ok(mut cached)) = (layered(&f, false), layered(&f, true)) else {
            eprintln!("skipping the layer for {alg}");
            continue;
        };
        // The layer must really accept the token, with and without the cache.
        let ok = ready(bare.ready()).is_some()
            && call(&mut bare, &authorization)
            && call(&mut no_cache, &authorization)
            && call(&mut cached, &authorization)
            && call(&mut cached, &authorization);
        if !ok {
            eprintln!("skipping the layer for {alg}: the token was refused");
            continue;
        }
        group.bench_function("bare_service", |b| {
            b.iter(|| black_box(call(&mut bare, black_box(&authorization))))
        });
        group.bench_function("layer_no_cache", |b| {
            b.iter(|| black_box(call(&mut no_cache, black_box(&authorization))))
        });
        group.bench_function("layer_cache_hit", |b| {
            b.iter(|| black_box(call(&mut cached, black_box(&authorization))))
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
