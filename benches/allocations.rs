//! Heap allocations per request, counted with a counting global allocator.
//!
//! `cargo bench --bench allocations` prints, per algorithm, the allocations of: cloning the
//! verified claims (one per heap object the claims own: the claims themselves), the
//! validator, the layer without the verdict cache and on a cache hit (each minus a bare
//! service's), so that "no allocation beyond the claims" can be checked by eye and by the
//! final line.

mod common;
use common::{Body, answer, ready};

use jwt_access_token::{
    AccessTokenClaims, AccessTokenVerifier, Algorithm, ExtraClaims, JwtAccessTokenIssuer,
    JwtAccessTokenLayer, KeySet, SigningKey, TokenRequest, Validator,
};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;
use std::time::Duration;
use tower::{Service, ServiceBuilder};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const ISS: &str = "https://as.example";
const AUD: &str = "https://api.example";

/// Allocations made by `f`, run after one warm-up call.
fn count(mut f: impl FnMut() -> bool) -> Option<usize> {
    if !f() {
        return None;
    }
    let region = Region::new(GLOBAL);
    let ok = f();
    let allocations = region.change().allocations;
    ok.then_some(allocations)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "| algorithm | claims clone | validator | layer, no cache (− bare) | layer, cache hit (− bare) | bare service |"
    );
    println!("|---|---|---|---|---|---|");
    let mut overhead_free = true;
    for alg in [
        Algorithm::RS256,
        Algorithm::PS256,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ] {
        let issuer = JwtAccessTokenIssuer::new(ISS, SigningKey::generate(alg, "k1")?)?;
        let token = issuer.mint(
            &TokenRequest::new("alice", "client-1", [AUD])
                .scope("items:read items:write")
                .roles(["editor"])
                .lifetime(Duration::from_secs(3600)),
        )?;
        let keys = KeySet::from_jwks(&issuer.jwks().to_string())?;
        let validator = Validator::new(ISS, [AUD])?;
        let claims: AccessTokenClaims<ExtraClaims> = validator.validate(&token, &keys)?;
        let authorization = http::HeaderValue::from_str(&format!("Bearer {token}"))?;
        let request = || {
            let mut r = http::Request::new(Body::new());
            r.headers_mut()
                .insert(http::header::AUTHORIZATION, authorization.clone());
            r
        };
        let mut bare = tower::service_fn(answer as fn(_) -> _);
        let verifier = AccessTokenVerifier::new(validator.clone(), keys.clone())?;
        let mut no_cache = ServiceBuilder::new()
            .layer(JwtAccessTokenLayer::new(
                verifier.clone().without_verdict_cache(),
            ))
            .service(tower::service_fn(answer as fn(_) -> _));
        let mut cached = ServiceBuilder::new()
            .layer(JwtAccessTokenLayer::new(verifier))
            .service(tower::service_fn(answer as fn(_) -> _));
        let through = |service: &mut dyn FnMut(http::Request<Body>) -> bool| service(request());

        let claims_clone = count(|| std::hint::black_box(claims.clone()).exp.as_secs() > 0);
        let validate = count(|| validator.validate::<ExtraClaims>(&token, &keys).is_ok());
        let bare_n = count(|| {
            through(&mut |r| {
                ready(bare.call(r))
                    .and_then(Result::ok)
                    .is_some_and(|r: http::Response<Body>| r.status() == 200)
            })
        });
        let no_cache_n = count(|| {
            through(&mut |r| {
                ready(no_cache.call(r))
                    .and_then(Result::ok)
                    .is_some_and(|r: http::Response<Body>| r.status() == 200)
            })
        });
        // Past admission (the second verification), so that the counted call is a hit.
        let _ = ready(cached.call(request()));
        let cached_n = count(|| {
            through(&mut |r| {
                ready(cached.call(r))
                    .and_then(Result::ok)
                    .is_some_and(|r: http::Response<Body>| r.status() == 200)
            })
        });
        let (Some(c), Some(v), Some(b), Some(n), Some(h)) =
            (claims_clone, validate, bare_n, no_cache_n, cached_n)
        else {
            println!("| {alg} | a variant refused the token | | | | |");
            overhead_free = false;
            continue;
        };
        println!(
            "| {alg} | {c} | {v} | {} | {} | {b} |",
            n.saturating_sub(b),
            h.saturating_sub(b)
        );
        overhead_free &= v <= c;
    }
    println!();
    println!(
        "validator allocations beyond the claims' own: {}",
        if overhead_free {
            "none"
        } else {
            "some (see the table)"
        }
    );
    Ok(())
}
