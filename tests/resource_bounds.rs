//! Resource bounds, measured: what an anonymous sender (or a hostile key server) can make the
//! resource server spend. Time bounds are loose (CI is 2 shared cores, debug build) and no
//! assertion depends on a sleep; memory is the process's resident set from /proc/self/statm.
//!
//! The tests run one at a time (a shared lock), so that one test's allocations do not show up
//! in another's memory figures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use axum::Router;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{AUDIENCE, TestIssuer, serve};
use http::{Request, Response, StatusCode, header};
use jwt_access_token::{
    AccessTokenVerifier, Algorithm, AuthError, JwtAccessTokenLayer, KeySet, NumericDate,
    RemoteKeySet, SigningKey, ValidationError, Validator,
};
use serde_json::json;
use std::convert::Infallible;
use std::time::{Duration, Instant};
use tower::{Layer, ServiceExt, service_fn};

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Loose: a debug build on a busy 2-core machine.
const TIME_BOUND: Duration = Duration::from_secs(5);

/// The resident set size of this process, in bytes (Linux); 0 elsewhere.
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A tower service: the layer over a handler that says "handler".
fn layered(
    verifier: AccessTokenVerifier,
) -> impl tower::Service<
    Request<String>,
    Response = Response<String>,
    Error = Infallible,
    Future = impl Send,
> + Clone {
    JwtAccessTokenLayer::new(verifier).layer(service_fn(|_req: Request<String>| async {
        Ok::<_, Infallible>(Response::new(String::from("handler")))
    }))
}

/// A 1 MiB `Authorization` header through the layer: refused (400/401) at once, without
/// decoding it, whatever its shape.
#[tokio::test]
async fn a_one_mebibyte_authorization_header_is_refused_quickly() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let key = SigningKey::generate(Algorithm::ES256, "k").expect("key");
    let keys = KeySet::from_jwks(&json!({"keys":[key.public_jwk()]}).to_string()).expect("keys");
    let verifier = AccessTokenVerifier::new(
        Validator::new("https://as.example", ["https://api.example"]).expect("validator"),
        keys,
    )
    .expect("verifier");
    let service = layered(verifier);
    let mib = 1 << 20;
    let segment = "e".repeat(mib / 3);
    let shapes = [
        format!("Bearer {}", "a".repeat(mib)),
        format!("Bearer {segment}.{segment}.{segment}"),
        format!("Bearer {}", "a.".repeat(mib / 2)),
        format!("Bearer {}", "=".repeat(mib)),
        format!("Bearer {}x", " ".repeat(mib)),
        format!("Basic {}", "a".repeat(mib)),
        "B".repeat(mib),
    ];
    let before = rss_bytes();
    let started = Instant::now();
    for value in &shapes {
        let request = Request::get("/")
            .header(header::AUTHORIZATION, value.as_str())
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
    let elapsed = started.elapsed();
    let grown = rss_bytes().saturating_sub(before);
    eprintln!(
        "1 MiB Authorization header: {} shapes in {elapsed:?}, RSS +{} KiB",
        shapes.len(),
        grown / 1024
    );
    assert!(elapsed < TIME_BOUND, "{elapsed:?}");
    assert!(grown < 64 << 20, "RSS grew by {grown} bytes");
}

/// 10 000 distinct unknown `kid`s against a remote key set on a real JWKS server: at most two
/// JWKS fetches (the cold start, nothing else within the cooldown), memory bounded (nothing
/// is cached per kid).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_unknown_kids_cost_at_most_two_jwks_fetches() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let issuer = TestIssuer::start(Algorithm::ES256).await;
    let verifier = AccessTokenVerifier::new(
        Validator::new(issuer.url.clone(), [AUDIENCE]).expect("validator"),
        RemoteKeySet::from_jwks_uri(&issuer.jwks_uri()).expect("keys"),
    )
    .expect("verifier");
    let service = layered(verifier);
    let good = issuer.token("");
    let mut parts = good.splitn(2, '.');
    let (_, rest) = (parts.next(), parts.next().expect("payload and signature"));
    let tokens: Vec<String> = (0..10_000)
        .map(|i| {
            let header = json!({"typ":"at+jwt","alg":"ES256","kid":format!("unknown-{i:05}-{}", "k".repeat(64))});
            format!("{}.{rest}", b64(header.to_string().as_bytes()))
        })
        .collect();
    let before = rss_bytes();
    let started = Instant::now();
    // In waves of 500 concurrent requests: the cold start is shared, the rest is throttled.
    for wave in tokens.chunks(500) {
        let mut tasks = tokio::task::JoinSet::new();
        for token in wave {
            let request = Request::get("/")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(String::new())
                .expect("request");
            let service = service.clone();
            tasks.spawn(async move { service.oneshot(request).await.expect("infallible") });
        }
        while let Some(response) = tasks.join_next().await {
            assert_eq!(response.expect("task").status(), StatusCode::UNAUTHORIZED);
        }
    }
    let elapsed = started.elapsed();
    let grown = rss_bytes().saturating_sub(before);
    eprintln!(
        "10 000 unknown kids: {} JWKS fetches, {elapsed:?}, RSS +{} KiB",
        issuer.jwks_hits(),
        grown / 1024
    );
    assert!(issuer.jwks_hits() <= 2, "{} fetches", issuer.jwks_hits());
    assert!(elapsed < Duration::from_secs(30), "{elapsed:?}");
    assert!(grown < 64 << 20, "RSS grew by {grown} bytes");
    // The real key still works, without another fetch.
    let request = Request::get("/")
        .header(header::AUTHORIZATION, format!("Bearer {good}"))
        .body(String::new())
        .expect("request");
    let response = service.oneshot(request).await.expect("infallible");
    assert_eq!(response.into_body(), "handler");
    assert!(issuer.jwks_hits() <= 2);
}

/// A JWKS document of 100 000 keys (17 MB) made of one real key under many kids.
fn huge_jwks(count: usize) -> (SigningKey, String) {
    let key = SigningKey::generate(Algorithm::ES256, "key-0").expect("key");
    let jwk = key.public_jwk().clone();
    let mut out = String::with_capacity(count * 200);
    out.push_str("{\"keys\":[");
    for i in 0..count {
        let mut entry = jwk.clone();
        entry["kid"] = json!(format!("key-{i}"));
        if i > 0 {
            out.push(',');
        }
        out.push_str(&entry.to_string());
    }
    out.push_str("]}");
    (key, out)
}

/// A JWKS of 100 000 keys: a static set keeps the first 256 (the cap) in bounded time and
/// memory; a remote set refuses the document by size (256 KiB by default) and, with the size
/// cap raised, keeps 256 keys too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwks_of_100_000_keys_is_refused_or_truncated_to_the_cap() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (key, document) = huge_jwks(100_000);
    let size = document.len();

    let before = rss_bytes();
    let started = Instant::now();
    let (set, skipped) = KeySet::from_jwks_lenient(document.as_bytes()).expect("a JWKS");
    let elapsed = started.elapsed();
    let grown = rss_bytes().saturating_sub(before);
    eprintln!(
        "static JWKS of 100 000 keys ({} KiB): {} kept, {} skipped, {elapsed:?}, RSS +{} KiB",
        size / 1024,
        set.len(),
        skipped.len(),
        grown / 1024
    );
    assert_eq!(set.len(), 256);
    assert_eq!(
        skipped.len(),
        1,
        "the entries beyond the cap, reported once"
    );
    assert!(elapsed < TIME_BOUND, "{elapsed:?}");
    // The entries beyond the cap are scanned, not built: far less than the 17 MB document.
    assert!(grown < 32 << 20, "RSS grew by {grown} bytes");
    drop((set, skipped));

    // The same document from a key server.
    let body = document.clone();
    let server = serve(Router::new().route(
        "/jwks",
        get(move || {
            let body = body.clone();
            async move { ([("content-type", "application/json")], body) }
        }),
    ))
    .await;
    let validator = Validator::new("https://as.example", [AUDIENCE]).expect("validator");
    let now = NumericDate::now().as_secs();
    let token = key
        .sign_compact(
            br#"{"typ":"at+jwt","alg":"ES256","kid":"key-7"}"#,
            json!({"iss":"https://as.example","aud":AUDIENCE,"sub":"s","client_id":"c","iat":now,"jti":"j","exp":now + 60})
                .to_string()
                .as_bytes(),
        )
        .expect("sign");
    let by_default = AccessTokenVerifier::new(
        validator.clone(),
        RemoteKeySet::from_jwks_uri(&format!("{server}/jwks")).expect("keys"),
    )
    .expect("verifier");
    let started = Instant::now();
    let refused = by_default.verify(&token).await;
    assert!(
        matches!(refused, Err(AuthError::KeysUnavailable(_))),
        "{refused:?}"
    );
    assert!(started.elapsed() < TIME_BOUND, "{:?}", started.elapsed());

    let roomy = AccessTokenVerifier::new(
        validator,
        RemoteKeySet::from_jwks_uri(&format!("{server}/jwks"))
            .expect("keys")
            .max_response_bytes(64 << 20)
            .timeout(Duration::from_secs(20)),
    )
    .expect("verifier");
    let started = Instant::now();
    assert!(
        roomy.verify(&token).await.is_ok(),
        "key-7 is within the cap"
    );
    let beyond = key
        .sign_compact(
            br#"{"typ":"at+jwt","alg":"ES256","kid":"key-99999"}"#,
            b"{}",
        )
        .expect("sign");
    assert!(matches!(
        roomy.verify(&beyond).await,
        Err(AuthError::InvalidToken(ValidationError::UnknownKey(_)))
    ));
    eprintln!(
        "remote JWKS of 100 000 keys with a 64 MiB cap: {:?}",
        started.elapsed()
    );
    assert!(started.elapsed() < Duration::from_secs(20));
}

/// Deeply nested claims: refused cleanly (serde_json's recursion limit), never a stack
/// overflow, in bounded time, even with the size cap raised to let a huge nesting in.
#[tokio::test]
async fn deeply_nested_claims_are_refused_cleanly() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let key = SigningKey::generate(Algorithm::EdDSA, "k").expect("key");
    let keys = KeySet::from_jwks(&json!({"keys":[key.public_jwk()]}).to_string()).expect("keys");
    let validator = Validator::new("https://as.example", ["https://api.example"])
        .expect("validator")
        .max_token_bytes(8 << 20);
    let header = br#"{"typ":"at+jwt","alg":"EdDSA","kid":"k"}"#;
    let started = Instant::now();
    for depth in [129, 10_000, 1_000_000] {
        for (open, close) in [("[", "]"), (r#"{"a":"#, "}")] {
            let payload = format!(
                r#"{{"iss":"https://as.example","aud":"https://api.example","exp":4000000000,"deep":{}0{}}}"#,
                open.repeat(depth),
                close.repeat(depth)
            );
            let token = key.sign_compact(header, payload.as_bytes()).expect("sign");
            let result = validator.validate::<jwt_access_token::ExtraClaims>(&token, &keys);
            assert!(
                matches!(result, Err(ValidationError::InvalidClaims(_))),
                "{depth} {open}: {result:?}"
            );
        }
    }
    let elapsed = started.elapsed();
    eprintln!("nesting up to 1 000 000 levels refused in {elapsed:?}");
    assert!(elapsed < TIME_BOUND, "{elapsed:?}");
}
