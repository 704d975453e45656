//! The remote key set over real HTTP: a real issuer on 127.0.0.1 that counts its JWKS
//! requests and can fail on command. Every row of the cache policy table in
//! `src/keys/remote.rs` is exercised with exact fetch counts.
//!
//! Real clocks with short durations (hundreds of milliseconds): tokio's paused clock would
//! auto-advance while the network I/O is pending.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use common::{AUDIENCE, Metadata, Mode, TestIssuer};
use jwt_access_token::{
    AccessTokenVerifier, Algorithm, AuthError, ConfigError, KeySourceError, RemoteKeySet,
    TokenRequest, ValidationError, Validator,
};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Short enough to sleep past, long enough that a burst of local requests fits inside.
const COOLDOWN: Duration = Duration::from_millis(300);
/// The fetch timeout used by the tests.
const TIMEOUT: Duration = Duration::from_millis(500);
/// Time for a background refresh against the local issuer to finish.
const SETTLE: Duration = Duration::from_millis(100);

/// A verifier for `issuer` over its `jwks_uri`, with the test cooldown and timeout, then
/// `configure` applied.
fn verifier_with(
    issuer: &TestIssuer,
    configure: impl FnOnce(RemoteKeySet) -> RemoteKeySet,
) -> AccessTokenVerifier {
    let keys = RemoteKeySet::from_jwks_uri(&issuer.jwks_uri())
        .expect("jwks uri")
        .cooldown(COOLDOWN)
        .timeout(TIMEOUT);
    AccessTokenVerifier::new(
        Validator::new(issuer.url.clone(), [AUDIENCE]).expect("validator"),
        configure(keys),
    )
    .expect("verifier")
}

fn verifier(issuer: &TestIssuer) -> AccessTokenVerifier {
    verifier_with(issuer, |keys| keys)
}

/// A verifier whose keys are found by discovery from the issuer's URL.
fn discovering_verifier(issuer: &TestIssuer) -> AccessTokenVerifier {
    let keys = RemoteKeySet::discover(&issuer.url)
        .expect("issuer url")
        .cooldown(COOLDOWN)
        .timeout(TIMEOUT);
    AccessTokenVerifier::new(
        Validator::new(issuer.url.clone(), [AUDIENCE]).expect("validator"),
        keys,
    )
    .expect("verifier")
}

/// A valid token (signed by the issuer's current key) whose header names `kid` instead.
fn token_with_kid(issuer: &TestIssuer, kid: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    issuer.sign_raw(
        &json!({"typ":"at+jwt","alg":"ES256","kid":kid}),
        &json!({
            "iss": issuer.url,
            "aud": AUDIENCE,
            "sub": "alice",
            "client_id": "client-1",
            "iat": now,
            "jti": format!("jti-{kid}"),
            "exp": now + 600,
        }),
    )
}

#[track_caller]
fn assert_unknown_key<T: std::fmt::Debug>(result: Result<T, AuthError>, kid: &str) {
    match result {
        Err(AuthError::InvalidToken(ValidationError::UnknownKey(k))) if k == kid => {}
        other => panic!("expected UnknownKey({kid:?}), got {other:?}"),
    }
}

#[track_caller]
fn assert_ok<T: std::fmt::Debug>(result: Result<T, AuthError>, what: &str) {
    if let Err(e) = result {
        panic!("{what}: expected Ok, got {e:?}");
    }
}

/// 100 requests arriving together on a cold cache share one fetch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_cold_start_fetches_once() {
    let issuer = TestIssuer::start(Algorithm::ES256).await;
    let verifier = Arc::new(verifier(&issuer));
    let tokens: Vec<String> = (0..100).map(|_| issuer.token("items:read")).collect();
    let barrier = Arc::new(tokio::sync::Barrier::new(tokens.len()));
    let tasks: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let verifier = verifier.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                verifier.verify(&token).await
            })
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        let claims = task.await.expect("task");
        match claims {
            Ok(c) => assert_eq!(c.sub.as_deref(), Some("alice"), "request {i}"),
            Err(e) => panic!("request {i}: {e:?}"),
        }
    }
    assert_eq!(issuer.jwks_hits(), 1);
}

/// Once cached, a key serves every later request without a fetch.
#[tokio::test]
async fn cached_key_serves_without_refetch() {
    let issuer = TestIssuer::start(Algorithm::ES256).await;
    let verifier = verifier(&issuer);
    assert_ok(verifier.verify(&issuer.token("")).await, "first");
    assert_eq!(issuer.jwks_hits(), 1);
    for i in 0..50 {
        // A fresh token each time, and a clone of the verifier (clones share the cache).
        let token = issuer.token("items:read");
        assert_ok(
            verifier.clone().verify(&token).await,
            &format!("request {i}"),
        );
        // The cache answers without waiting at all.
        assert!(verifier.verify_cached(&token).is_some_and(|r| r.is_ok()));
    }
    assert_eq!(issuer.jwks_hits(), 1);
}

/// A flood of random `kid`s costs the issuer at most one fetch per cooldown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kid_flood_costs_at_most_one_fetch_per_cooldown() {
    let issuer = TestIssuer::start(Algorithm::ES256).await;
    let verifier = Arc::new(verifier(&issuer));
    // Minted before the first fetch, so the flood below starts right after it.
    let flood: Vec<String> = (0..200)
        .map(|i| token_with_kid(&issuer, &format!("rand-{i}")))
        .collect();
    let started = Instant::now();
    assert_ok(verifier.verify(&issuer.token("")).await, "initial");
    assert_eq!(issuer.jwks_hits(), 1);

    // Inside the cooldown of the initial fetch: rejected at once, no fetch at all.
    for (i, token) in flood.iter().enumerate() {
        assert_unknown_key(verifier.verify(token).await, &format!("rand-{i}"));
    }
    assert!(
        started.elapsed() < COOLDOWN,
        "the flood took {:?}, longer than the cooldown: the count below is meaningless",
        started.elapsed()
    );
    assert_eq!(issuer.jwks_hits(), 1, "no fetch inside the cooldown");

    // After the cooldown, 200 concurrent unknown kids: exactly one refetch between them.
    tokio::time::sleep(COOLDOWN + Duration::from_millis(50)).await;
    let flood: Vec<String> = (0..200)
        .map(|i| token_with_kid(&issuer, &format!("again-{i}")))
        .collect();
    let tasks: Vec<_> = flood
        .into_iter()
        .enumerate()
        .map(|(i, token)| {
            let verifier = verifier.clone();
            tokio::spawn(async move { (i, verifier.verify(&token).await) })
        })
        .collect();
    for task in tasks {
        let (i, result) = task.await.expect("task");
        assert_unknown_key(result, &format!("again-{i}"));
    }
    assert_eq!(issuer.jwks_hits(), 2, "one refetch for the whole flood");
    // The known key still works, without a fetch.
    assert_ok(verifier.verify(&issuer.token("")).await, "known key");
    assert_eq!(issuer.jwks_hits(), 2);
}

/// A rotated-in key is picked up by the first request after the cooldown.
#[tokio::test]
async fn rotation_is_picked_up_after_the_cooldown() {
    let issuer = TestIssuer::start(Algorithm::ES256).await;
    let verifier = verifier(&issuer);
    let old = issuer.token("");
    assert_ok(verifier.verify(&old).await, "key-1");
    assert_eq!(issuer.jwks_hits(), 1);

    issuer.rotate(Algorithm::ES256, "key-2");
    let new = issuer.token("");
    assert_unknown_key(verifier.verify(&new).await, "key-2");
    assert_unknown_key(verifier.verify(&new).await, "key-2");
    assert_eq!(issuer.jwks_hits(), 1, "no refetch inside the cooldown");

    tokio::time::sleep(COOLDOWN + Duration::from_millis(50)).await;
    assert_ok(verifier.verify(&new).await, "key-2 after the cooldown");
    assert_eq!(issuer.jwks_hits(), 2);
    // Both keys are now cached: no further fetch for either.
    assert_ok(verifier.verify(&new).await, "key-2 again");
    assert_ok(verifier.verify(&old).await, "key-1 still published");
    assert_eq!(issuer.jwks_hits(), 2);
}

/// A stale set whose refresh fails (500, then a non-JWKS body) keeps serving.
#[tokio::test]
async fn outage_keeps_the_cached_set_serving() {
    let issuer = TestIssuer::start(Algorithm::ES256).await;
    let lifetime = Duration::from_millis(100);
    // Backoff capped at the cooldown, so that each step below may fetch again.
    let verifier = verifier_with(&issuer, |k| k.lifetime(lifetime).max_backoff(COOLDOWN));
    let token = issuer.token("");
    assert_ok(verifier.verify(&token).await, "initial");
    assert_eq!(issuer.jwks_hits(), 1);

    for mode in [Mode::Error500, Mode::Garbage] {
        issuer.set_mode(mode);
        // Past both the lifetime and the cooldown, so that the count below holds whether or
        // not failed refreshes are throttled.
        tokio::time::sleep(COOLDOWN + Duration::from_millis(50)).await;
        let before = issuer.jwks_hits();
        // Stale: served from the cache at once, and one background refresh starts.
        let answered = tokio::time::timeout(Duration::from_millis(50), verifier.verify(&token))
            .await
            .expect("a stale cached key answers without waiting for the refresh");
        assert_ok(answered, &format!("{mode:?}: stale"));
        tokio::time::sleep(SETTLE).await;
        assert_eq!(
            issuer.jwks_hits(),
            before + 1,
            "{mode:?}: one background refresh"
        );
        // The refresh failed; the cached set still serves.
        assert_ok(verifier.verify(&token).await, &format!("{mode:?}: after"));
        assert_ok(
            verifier.verify(&issuer.token("")).await,
            &format!("{mode:?}: new token, same key"),
        );
    }

    // Back to normal: the next refresh succeeds and keys rotated meanwhile become known.
    issuer.set_mode(Mode::Normal);
    issuer.rotate(Algorithm::ES256, "key-2");
    let rotated = issuer.token("");
    tokio::time::sleep(COOLDOWN + Duration::from_millis(50)).await;
    let before = issuer.jwks_hits();
    assert_ok(verifier.verify(&token).await, "stale, recovering");
    tokio::time::sleep(SETTLE).await;
    assert_eq!(issuer.jwks_hits(), before + 1, "one successful refresh");
    assert_ok(
        verifier.verify(&rotated).await,
        "key-2 from the refreshed set",
    );
    assert_ok(verifier.verify(&token).await, "key-1, fresh again");
    assert_eq!(
        issuer.jwks_hits(),
        before + 1,
        "fresh again: no more refreshes"
    );
}

/// During an outage, a stale set does not refetch on every request: at most one failed
/// refresh per cooldown, like unknown kids.
#[tokio::test]
async fn failed_background_refresh_is_throttled() {
    let issuer = TestIssuer::start(Algorithm::ES256).await;
    let verifier = verifier_with(&issuer, |k| k.lifetime(Duration::from_millis(100)));
    let token = issuer.token("");
    assert_ok(verifier.verify(&token).await, "initial");
    issuer.set_mode(Mode::Error500);
    tokio::time::sleep(COOLDOWN + Duration::from_millis(50)).await;
    // 20 requests over ~100 ms, well inside one cooldown.
    for i in 0..20 {
        assert_ok(verifier.verify(&token).await, &format!("request {i}"));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(SETTLE).await;
    assert_eq!(issuer.jwks_hits(), 2, "one failed refresh per cooldown");
}

/// A hanging issuer never delays requests whose key is cached; the request that waits for
/// the fetch is released by the fetch timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hanging_issuer_delays_only_the_request_that_needs_a_fetch() {
    let issuer = TestIssuer::start(Algorithm::ES256).await;
    let verifier = Arc::new(verifier(&issuer));
    let token = issuer.token("");
    assert_ok(verifier.verify(&token).await, "initial");
    assert_eq!(issuer.jwks_hits(), 1);

    issuer.set_mode(Mode::Hang);
    tokio::time::sleep(COOLDOWN + Duration::from_millis(50)).await;
    let unknown = token_with_kid(&issuer, "rand-1");
    let waiting = {
        let verifier = verifier.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let result = verifier.verify(&unknown).await;
            (started.elapsed(), result)
        })
    };
    // Let the refetch reach the issuer: the fetch lock is now held by a hanging request.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(issuer.jwks_hits(), 2, "the unknown kid triggered a refetch");
    assert!(!waiting.is_finished(), "the refetch is still hanging");

    for i in 0..5 {
        let answered = tokio::time::timeout(Duration::from_millis(300), verifier.verify(&token))
            .await
            .unwrap_or_else(|_| panic!("cached key {i} waited for the hanging fetch"));
        assert_ok(answered, &format!("cached key {i}"));
    }
    // Another unknown kid meanwhile shares the fetch under way (single flight): no new
    // fetch, and it is released with the first.
    let other = token_with_kid(&issuer, "rand-2");
    let second = {
        let verifier = verifier.clone();
        tokio::spawn(async move { verifier.verify(&other).await })
    };

    let (elapsed, result) = waiting.await.expect("task");
    assert!(
        elapsed >= TIMEOUT - Duration::from_millis(150) && elapsed < Duration::from_secs(2),
        "the waiting request took {elapsed:?}, fetch timeout {TIMEOUT:?}"
    );
    // The refetch failed: the kid may be a real rotation, so this is an outage (503), not
    // a bad token.
    for result in [result, second.await.expect("task")] {
        assert!(
            matches!(
                result,
                Err(AuthError::KeysUnavailable(KeySourceError::Fetch { .. }))
            ),
            "{result:?}"
        );
    }
    assert_eq!(issuer.jwks_hits(), 2);
    // And the cached key is still served.
    assert_ok(verifier.verify(&token).await, "after the timeout");
}

/// A stale set under a hanging issuer: one background refresh at a time, and the cached key
/// keeps answering at once while it hangs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_background_refresh_at_a_time() {
    let issuer = TestIssuer::start(Algorithm::ES256).await;
    let verifier = verifier_with(&issuer, |k| k.lifetime(Duration::from_millis(100)));
    let token = issuer.token("");
    assert_ok(verifier.verify(&token).await, "initial");
    issuer.set_mode(Mode::Hang);
    tokio::time::sleep(COOLDOWN + Duration::from_millis(50)).await;

    let started = Instant::now();
    for i in 0..20 {
        let answered = tokio::time::timeout(Duration::from_millis(100), verifier.verify(&token))
            .await
            .unwrap_or_else(|_| panic!("stale request {i} waited for the refresh"));
        assert_ok(answered, &format!("stale request {i}"));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(started.elapsed() < TIMEOUT, "{:?}", started.elapsed());
    // All 20 found the refresh in flight; once it times out, nothing is queued behind it.
    tokio::time::sleep(TIMEOUT + Duration::from_millis(200)).await;
    assert_eq!(issuer.jwks_hits(), 2, "one refresh for 20 stale requests");
}

/// Cold start against a hanging issuer: 503 after the fetch timeout, not a hang.
#[tokio::test]
async fn cold_start_against_a_hanging_issuer_times_out_with_503() {
    let issuer = TestIssuer::start(Algorithm::ES256).await;
    issuer.set_mode(Mode::Hang);
    let verifier = verifier(&issuer);
    let started = Instant::now();
    let result = verifier.verify(&issuer.token("")).await;
    let elapsed = started.elapsed();
    assert!(
        matches!(
            result,
            Err(AuthError::KeysUnavailable(KeySourceError::Fetch { .. }))
        ),
        "{result:?}"
    );
    assert!(
        elapsed >= TIMEOUT - Duration::from_millis(150) && elapsed < Duration::from_secs(2),
        "{elapsed:?}"
    );
    assert_eq!(issuer.jwks_hits(), 1);
}

/// A key the issuer stops publishing stops verifying once the set is refreshed by age.
#[tokio::test]
async fn removed_key_is_rejected_after_a_routine_refresh() {
    let issuer = TestIssuer::start(Algorithm::ES256).await;
    let lifetime = Duration::from_millis(200);
    let verifier = verifier_with(&issuer, |k| k.lifetime(lifetime));
    let old = issuer.token("");
    assert_ok(verifier.verify(&old).await, "key-1");
    assert_eq!(issuer.jwks_hits(), 1);

    issuer.rotate(Algorithm::ES256, "key-2");
    issuer.drop_retired_keys();
    assert_eq!(issuer.jwks()["keys"].as_array().map(Vec::len), Some(1));

    // Still fresh: key-1 keeps verifying from the cache.
    assert_ok(verifier.verify(&old).await, "key-1, fresh cache");
    assert_eq!(issuer.jwks_hits(), 1);

    // Past the lifetime and the throttle that the first fetch armed.
    tokio::time::sleep(lifetime.max(COOLDOWN) + Duration::from_millis(50)).await;
    // Stale: this request is still served from the old set, and starts the refresh.
    assert_ok(verifier.verify(&old).await, "key-1, stale cache");
    tokio::time::sleep(SETTLE).await;
    assert_eq!(issuer.jwks_hits(), 2);
    assert_unknown_key(verifier.verify(&old).await, "key-1");
    assert_ok(verifier.verify(&issuer.token("")).await, "key-2");
    assert_eq!(issuer.jwks_hits(), 2, "the refresh was inside the cooldown");
}

/// A key the issuer stops publishing stops verifying once an unknown kid refetches the set.
#[tokio::test]
async fn removed_key_is_rejected_after_an_unknown_kid_refetch() {
    let issuer = TestIssuer::start(Algorithm::ES256).await;
    let verifier = verifier(&issuer);
    let old = issuer.token("");
    assert_ok(verifier.verify(&old).await, "key-1");

    issuer.rotate(Algorithm::ES256, "key-2");
    issuer.drop_retired_keys();
    let new = issuer.token("");
    tokio::time::sleep(COOLDOWN + Duration::from_millis(50)).await;
    assert_ok(verifier.verify(&new).await, "key-2 refetched");
    assert_eq!(issuer.jwks_hits(), 2);
    // key-1 is gone, and its rejection does not fetch (inside the cooldown).
    assert_unknown_key(verifier.verify(&old).await, "key-1");
    assert_eq!(issuer.jwks_hits(), 2);
}

/// Cold start with the JWKS endpoint down: 503, and no refetch inside the cooldown.
#[tokio::test]
async fn cold_start_with_endpoint_down_is_503_and_respects_the_cooldown() {
    let issuer = TestIssuer::start(Algorithm::ES256).await;
    issuer.set_mode(Mode::Error500);
    let verifier = verifier(&issuer);
    let token = issuer.token("");
    let expected = KeySourceError::Status {
        url: issuer.jwks_uri(),
        status: 500,
    };

    let first = verifier.verify(&token).await;
    assert_eq!(first, Err(AuthError::KeysUnavailable(expected.clone())));
    assert_eq!(first.err().map(|e| e.status().as_u16()), Some(503));
    assert_eq!(issuer.jwks_hits(), 1);

    // Inside the cooldown: the last error, at once, without a fetch.
    for _ in 0..10 {
        assert_eq!(
            verifier.verify(&token).await,
            Err(AuthError::KeysUnavailable(expected.clone()))
        );
    }
    assert_eq!(issuer.jwks_hits(), 1);

    // After the cooldown, the issuer is back: one fetch, and the token verifies.
    issuer.set_mode(Mode::Normal);
    tokio::time::sleep(COOLDOWN + Duration::from_millis(50)).await;
    assert_ok(verifier.verify(&token).await, "recovered");
    assert_eq!(issuer.jwks_hits(), 2);
}

/// Discovery through RFC 8414 metadata; the `jwks_uri` found is reused by later fetches.
#[tokio::test]
async fn discovery_through_rfc8414_metadata() {
    let issuer = TestIssuer::start_with(Algorithm::ES256, Metadata::Rfc8414).await;
    let verifier = discovering_verifier(&issuer);
    assert_ok(verifier.verify(&issuer.token("")).await, "discovered");
    assert_eq!((issuer.metadata_hits(), issuer.jwks_hits()), (1, 1));

    // A refetch for a rotated key goes straight to the known jwks_uri.
    issuer.rotate(Algorithm::ES256, "key-2");
    tokio::time::sleep(COOLDOWN + Duration::from_millis(50)).await;
    assert_ok(verifier.verify(&issuer.token("")).await, "key-2");
    assert_eq!((issuer.metadata_hits(), issuer.jwks_hits()), (1, 2));
}

/// No RFC 8414 metadata (404): OpenID discovery is used instead.
#[tokio::test]
async fn discovery_falls_back_to_openid_configuration() {
    let issuer = TestIssuer::start_with(Algorithm::ES256, Metadata::OpenIdOnly).await;
    let verifier = discovering_verifier(&issuer);
    assert_ok(verifier.verify(&issuer.token("")).await, "discovered");
    assert_eq!((issuer.metadata_hits(), issuer.jwks_hits()), (2, 1));
}

/// Metadata naming another issuer is refused, and its `jwks_uri` is never fetched.
#[tokio::test]
async fn discovery_refuses_metadata_of_another_issuer() {
    let issuer = TestIssuer::start_with(Algorithm::ES256, Metadata::WrongIssuer).await;
    let verifier = discovering_verifier(&issuer);
    let result = verifier.verify(&issuer.token("")).await;
    assert_eq!(
        result,
        Err(AuthError::KeysUnavailable(KeySourceError::IssuerMismatch {
            expected: issuer.url.clone(),
            found: "https://impostor.example".into(),
        }))
    );
    assert_eq!(issuer.jwks_hits(), 0);
    assert_eq!(
        issuer.metadata_hits(),
        1,
        "no fallback past a mismatching document"
    );
    assert!(
        verifier.prefetch().await.is_err(),
        "prefetch reports it too"
    );
}

/// `prefetch` fails fast on a failing endpoint and fills the cache otherwise.
#[tokio::test]
async fn prefetch_fails_fast_then_fills_the_cache() {
    let issuer = TestIssuer::start(Algorithm::ES256).await;
    issuer.set_mode(Mode::Error500);
    let verifier = verifier(&issuer);
    let started = Instant::now();
    assert_eq!(
        verifier.prefetch().await,
        Err(KeySourceError::Status {
            url: issuer.jwks_uri(),
            status: 500
        })
    );
    assert!(started.elapsed() < TIMEOUT, "{:?}", started.elapsed());
    assert_eq!(issuer.jwks_hits(), 1);

    issuer.set_mode(Mode::Normal);
    assert_eq!(verifier.prefetch().await, Ok(()));
    assert_eq!(issuer.jwks_hits(), 2);
    let token = issuer.token("");
    assert!(
        verifier.verify_cached(&token).is_some_and(|r| r.is_ok()),
        "the prefetched set answers without waiting"
    );
    assert_ok(verifier.verify(&token).await, "after prefetch");
    // A cached set makes prefetch a no-op.
    assert_eq!(verifier.prefetch().await, Ok(()));
    assert_eq!(issuer.jwks_hits(), 2);

    // Discovery too.
    let issuer = TestIssuer::start(Algorithm::ES256).await;
    let verifier = discovering_verifier(&issuer);
    assert_eq!(verifier.prefetch().await, Ok(()));
    assert_eq!((issuer.metadata_hits(), issuer.jwks_hits()), (1, 1));
}

/// Configuration mistakes are refused when building, never on a request.
#[tokio::test]
async fn insecure_urls_and_mismatched_issuers_are_config_errors() {
    assert_eq!(
        RemoteKeySet::from_jwks_uri("http://idp.example/jwks").err(),
        Some(ConfigError::InsecureUrl("http://idp.example/jwks".into()))
    );
    assert_eq!(
        RemoteKeySet::discover("http://10.0.0.1").err(),
        Some(ConfigError::InsecureUrl("http://10.0.0.1".into()))
    );
    assert!(matches!(
        RemoteKeySet::from_jwks_uri("not a url"),
        Err(ConfigError::InvalidUrl { .. })
    ));
    let mismatch = AccessTokenVerifier::new(
        Validator::new("https://a.example", ["x"]).expect("validator"),
        RemoteKeySet::discover("https://b.example").expect("keys"),
    );
    assert_eq!(
        mismatch.err(),
        Some(ConfigError::IssuerMismatch {
            validator: "https://a.example".into(),
            key_source: "https://b.example".into(),
        })
    );
    // The same issuer, and an explicit jwks_uri on any host, are fine.
    assert!(
        AccessTokenVerifier::new(
            Validator::new("https://a.example", ["x"]).expect("validator"),
            RemoteKeySet::discover("https://a.example").expect("keys"),
        )
        .is_ok()
    );
    assert!(
        AccessTokenVerifier::new(
            Validator::new("https://a.example", ["x"]).expect("validator"),
            RemoteKeySet::from_jwks_uri("https://keys.example/jwks").expect("keys"),
        )
        .is_ok()
    );
}

/// A JWKS larger than the cap is refused: 503 on a cold cache.
#[tokio::test]
async fn oversized_jwks_is_refused() {
    let issuer = TestIssuer::start(Algorithm::ES256).await;
    let verifier = verifier_with(&issuer, |k| k.max_response_bytes(64));
    assert!(issuer.jwks().to_string().len() > 64);
    assert_eq!(
        verifier.verify(&issuer.token("")).await,
        Err(AuthError::KeysUnavailable(KeySourceError::TooLarge {
            url: issuer.jwks_uri(),
            limit: 64,
        }))
    );
    assert_eq!(issuer.jwks_hits(), 1);

    // The same document under a cap it fits is accepted.
    let size = issuer.jwks().to_string().len();
    let verifier = verifier_with(&issuer, |k| k.max_response_bytes(size));
    assert_ok(verifier.verify(&issuer.token("")).await, "fits");
    assert_eq!(issuer.jwks_hits(), 2);
}

/// `TokenRequest` tokens with a custom audience list still go through the remote set.
#[tokio::test]
async fn minted_tokens_with_extra_audiences_verify() {
    let issuer = TestIssuer::start(Algorithm::ES256).await;
    let verifier = verifier(&issuer);
    let token = issuer.mint(TokenRequest::new(
        "bob",
        "client-2",
        ["https://other.example", AUDIENCE],
    ));
    let claims = verifier.verify(&token).await.expect("verified");
    assert_eq!(claims.sub.as_deref(), Some("bob"));
    assert_eq!(issuer.jwks_hits(), 1);
}

/// Failed fetches back off: the wait doubles from the cooldown up to the cap.
#[tokio::test]
async fn failures_back_off_doubling_up_to_the_cap() {
    let issuer = TestIssuer::start(Algorithm::ES256).await;
    issuer.set_mode(Mode::Error500);
    let cooldown = Duration::from_millis(200);
    let verifier = verifier_with(&issuer, |k| {
        k.cooldown(cooldown).max_backoff(Duration::from_millis(800))
    });
    let token = issuer.token("");
    let start = Instant::now();
    // (when, fetches expected after the request): failure 1 at 0 waits 200 ms, failure 2
    // at 300 waits 400 ms (until 700), failure 3 at 750 waits 800 ms (until 1550), failure 4
    // at 1600 waits 800 ms (capped).
    let schedule = [(0, 1), (300, 2), (600, 2), (750, 3), (1400, 3), (1600, 4)];
    for (at, hits) in schedule {
        let at = Duration::from_millis(at);
        tokio::time::sleep(at.saturating_sub(start.elapsed())).await;
        let result = verifier.verify(&token).await;
        assert!(
            matches!(result, Err(AuthError::KeysUnavailable(_))),
            "{result:?}"
        );
        assert_eq!(issuer.jwks_hits(), hits, "at {at:?}");
    }
    // Recovery after the backoff: the next allowed fetch succeeds and the key verifies.
    issuer.set_mode(Mode::Normal);
    tokio::time::sleep(Duration::from_millis(2450).saturating_sub(start.elapsed())).await;
    assert_ok(verifier.verify(&token).await, "after the backoff");
    assert_eq!(issuer.jwks_hits(), 5);
}

/// A requester that goes away mid-fetch (client disconnect, outer timeout) does not abort
/// the fetch: it completes for everyone else, and no throttle is left without keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_request_does_not_abort_the_fetch() {
    let issuer = TestIssuer::start(Algorithm::ES256).await;
    issuer.set_mode(Mode::Slow);
    let verifier = Arc::new(verifier(&issuer));
    let token = issuer.token("");
    let cancelled = tokio::time::timeout(Duration::from_millis(100), verifier.verify(&token)).await;
    assert!(
        cancelled.is_err(),
        "the slow fetch outlives the 100 ms requester"
    );
    issuer.set_mode(Mode::Normal);
    // The fetch finishes on its own; the next request uses its result, without a new fetch.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_ok(verifier.verify(&token).await, "after the cancelled request");
    assert_eq!(issuer.jwks_hits(), 1);
}

/// `Cache-Control: max-age` sets the lifetime (within the bounds), and a refresh of an
/// unchanged set is a conditional GET answered 304.
#[tokio::test]
async fn cache_control_sets_the_lifetime_and_etag_revalidates() {
    let issuer = TestIssuer::start(Algorithm::ES256).await;
    issuer.set_cache_control(Some("public, max-age=1"));
    let verifier = verifier_with(&issuer, |k| {
        k.cooldown(Duration::from_millis(50))
            .lifetime(Duration::from_secs(3600))
            .lifetime_bounds(Duration::from_millis(100), Duration::from_secs(60))
    });
    let token = issuer.token("");
    assert_ok(verifier.verify(&token).await, "initial");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_ok(verifier.verify(&token).await, "fresh");
    assert_eq!(
        issuer.jwks_hits(),
        1,
        "fresh for max-age=1, not refreshed at 500 ms"
    );
    // Past 90 % of max-age=1 (the default lifetime would be an hour): a background refresh.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_ok(verifier.verify(&token).await, "stale");
    tokio::time::sleep(SETTLE).await;
    assert_eq!(issuer.jwks_hits(), 2);
    assert_eq!(
        issuer.not_modified(),
        1,
        "the unchanged set was revalidated with If-None-Match"
    );
    assert_ok(verifier.verify(&token).await, "after 304");
    assert_eq!(issuer.jwks_hits(), 2, "the 304 renewed the lifetime");
}

/// A `max-age` beyond the upper bound is cut to it; `no-store` counts as the lower bound.
#[tokio::test]
async fn cache_lifetimes_are_bounded() {
    let issuer = TestIssuer::start(Algorithm::ES256).await;
    issuer.set_cache_control(Some("max-age=86400"));
    let verifier = verifier_with(&issuer, |k| {
        k.cooldown(Duration::from_millis(50))
            .lifetime_bounds(Duration::from_millis(200), Duration::from_millis(300))
    });
    let token = issuer.token("");
    assert_ok(verifier.verify(&token).await, "initial");
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_ok(verifier.verify(&token).await, "past the upper bound");
    tokio::time::sleep(SETTLE).await;
    assert_eq!(issuer.jwks_hits(), 2, "max-age=86400 was cut to 300 ms");

    issuer.set_cache_control(Some("no-store"));
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_ok(
        verifier.verify(&token).await,
        "refresh that learns no-store",
    );
    tokio::time::sleep(SETTLE).await;
    assert_eq!(issuer.jwks_hits(), 3);
    // no-store: the lower bound (200 ms), not a fetch per request.
    for _ in 0..20 {
        assert_ok(verifier.verify(&token).await, "within the lower bound");
    }
    assert_eq!(issuer.jwks_hits(), 3);
}

/// Unusable entries are skipped; the rest of the set serves.
#[tokio::test]
async fn one_bad_key_does_not_break_the_set() {
    let issuer = TestIssuer::start(Algorithm::ES256).await;
    issuer.set_mode(Mode::OneBadKey);
    let verifier = verifier(&issuer);
    assert_ok(verifier.verify(&issuer.token("")).await, "the good key");
    let hmac = token_with_kid(&issuer, "hmac");
    let result = verifier.verify(&hmac).await;
    assert!(
        matches!(
            result,
            Err(AuthError::InvalidToken(ValidationError::UnknownKey(_)))
        ),
        "{result:?}"
    );
}

/// A huge body is cut off at the cap and never replaces the cached set.
#[tokio::test]
async fn a_huge_body_is_refused_and_the_cache_keeps_serving() {
    let issuer = TestIssuer::start(Algorithm::ES256).await;
    let verifier = verifier_with(&issuer, |k| {
        k.lifetime(Duration::from_millis(100))
            .max_response_bytes(64 * 1024)
    });
    let token = issuer.token("");
    assert_ok(verifier.verify(&token).await, "initial");
    issuer.set_mode(Mode::Huge);
    tokio::time::sleep(COOLDOWN + Duration::from_millis(50)).await;
    assert_ok(verifier.verify(&token).await, "stale, refresh starts");
    tokio::time::sleep(SETTLE).await;
    assert_eq!(issuer.jwks_hits(), 2);
    assert_ok(verifier.verify(&token).await, "the cached set still serves");
}

/// Past `max_stale`, the last good set no longer serves: 503 until the issuer answers.
#[tokio::test]
async fn the_last_good_set_serves_only_up_to_max_stale() {
    let issuer = TestIssuer::start(Algorithm::ES256).await;
    let verifier = verifier_with(&issuer, |k| {
        k.lifetime(Duration::from_millis(100))
            .max_backoff(COOLDOWN)
            .max_stale(Duration::from_millis(500))
    });
    let token = issuer.token("");
    assert_ok(verifier.verify(&token).await, "initial");
    issuer.set_mode(Mode::Error500);
    tokio::time::sleep(COOLDOWN + Duration::from_millis(50)).await;
    assert_ok(verifier.verify(&token).await, "stale but within max_stale");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let result = verifier.verify(&token).await;
    assert!(
        matches!(result, Err(AuthError::KeysUnavailable(_))),
        "{result:?}"
    );
}
