//! The verdict cache: repeated token bytes skip the signature, under every rule of
//! `src/verdicts.rs`. A hit is observable: the same shared claims come back (`Arc::ptr_eq`).
//! A token is admitted on its second verification, so hits start with its third use.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use common::{AUDIENCE, Mode, TestIssuer};
use jwt_access_token::{
    AccessTokenVerifier, Algorithm, AuthError, JwtAccessTokenIssuer, KeySet, NumericDate,
    RemoteKeySet, SigningKey, TokenRequest, ValidationError, Validator, VerdictCacheConfig,
};
use std::sync::Arc;
use std::time::Duration;

fn static_verifier(issuer: &JwtAccessTokenIssuer) -> AccessTokenVerifier {
    let keys = KeySet::from_jwks(&issuer.jwks().to_string()).unwrap();
    AccessTokenVerifier::new(
        Validator::new(issuer.issuer(), [AUDIENCE])
            .unwrap()
            .leeway(Duration::ZERO),
        keys,
    )
    .unwrap()
}

fn issuer() -> JwtAccessTokenIssuer {
    JwtAccessTokenIssuer::new(
        "https://as.example",
        SigningKey::generate(Algorithm::ES256, "k").unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn a_repeated_token_is_a_hit_and_another_token_is_not() {
    let issuer = issuer();
    let verifier = static_verifier(&issuer);
    let token = issuer
        .mint(&TokenRequest::new("alice", "c", [AUDIENCE]))
        .unwrap();
    let once = verifier.verify(&token).await.unwrap();
    let first = verifier.verify(&token).await.unwrap();
    assert!(
        !Arc::ptr_eq(&once, &first),
        "the second use verifies again (and admits)"
    );
    let second = verifier.verify(&token).await.unwrap();
    assert!(
        Arc::ptr_eq(&first, &second),
        "the second verification is served from the cache"
    );
    let other = issuer
        .mint(&TokenRequest::new("alice", "c", [AUDIENCE]))
        .unwrap();
    let third = verifier.verify(&other).await.unwrap();
    assert!(!Arc::ptr_eq(&first, &third));
}

#[tokio::test]
async fn without_the_cache_every_request_verifies() {
    let issuer = issuer();
    let verifier = static_verifier(&issuer).without_verdict_cache();
    let token = issuer
        .mint(&TokenRequest::new("alice", "c", [AUDIENCE]))
        .unwrap();
    let first = verifier.verify(&token).await.unwrap();
    let second = verifier.verify(&token).await.unwrap();
    assert!(!Arc::ptr_eq(&first, &second));
    assert_eq!(first, second);
}

#[tokio::test]
async fn a_tampered_copy_of_a_cached_token_is_still_refused() {
    let issuer = issuer();
    let verifier = static_verifier(&issuer);
    let token = issuer
        .mint(&TokenRequest::new("alice", "c", [AUDIENCE]))
        .unwrap();
    verifier.verify(&token).await.unwrap();
    let mut bytes = token.clone().into_bytes();
    let last = bytes.len() - 2;
    bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    assert!(verifier.verify(&tampered).await.is_err());
}

#[tokio::test]
async fn exp_is_checked_again_on_every_hit() {
    let issuer = issuer();
    let verifier = static_verifier(&issuer);
    // Issued 2 s in the past with a 3 s life: valid now, expired in about a second.
    let now = NumericDate::now().as_secs();
    let token = issuer
        .mint_at(
            &TokenRequest::new("alice", "c", [AUDIENCE]).lifetime(Duration::from_secs(3)),
            NumericDate::from_secs(now - 2),
        )
        .unwrap();
    verifier.verify(&token).await.unwrap();
    let first = verifier.verify(&token).await.unwrap();
    assert!(Arc::ptr_eq(&first, &verifier.verify(&token).await.unwrap()));
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert!(matches!(
        verifier.verify(&token).await,
        Err(AuthError::InvalidToken(ValidationError::Expired { .. }))
    ));
}

#[tokio::test]
async fn entries_live_at_most_max_ttl() {
    let issuer = issuer();
    let verifier = static_verifier(&issuer).verdict_cache(VerdictCacheConfig {
        max_bytes: 1 << 20,
        max_ttl: Duration::from_millis(200),
    });
    let token = issuer
        .mint(&TokenRequest::new("alice", "c", [AUDIENCE]))
        .unwrap();
    verifier.verify(&token).await.unwrap();
    let first = verifier.verify(&token).await.unwrap();
    assert!(Arc::ptr_eq(&first, &verifier.verify(&token).await.unwrap()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let later = verifier.verify(&token).await.unwrap();
    assert!(!Arc::ptr_eq(&first, &later), "verified again after max_ttl");
}

/// A key that leaves the issuer's set stops verifying cached tokens as soon as the set is
/// refreshed, even though their verdicts were cached.
#[tokio::test]
async fn a_key_leaving_the_set_clears_its_verdicts() {
    let issuer = TestIssuer::start(Algorithm::ES256).await;
    let keys = RemoteKeySet::from_jwks_uri(&issuer.jwks_uri())
        .unwrap()
        .cooldown(Duration::from_millis(100));
    let verifier = AccessTokenVerifier::new(
        Validator::new(issuer.url.clone(), [AUDIENCE]).unwrap(),
        keys,
    )
    .unwrap();
    let old = issuer.token("");
    verifier.verify(&old).await.unwrap();
    let first = verifier.verify(&old).await.unwrap();
    assert!(
        Arc::ptr_eq(&first, &verifier.verify(&old).await.unwrap()),
        "cached"
    );

    issuer.rotate(Algorithm::ES256, "key-2");
    issuer.drop_retired_keys();
    tokio::time::sleep(Duration::from_millis(150)).await;
    // A token from the new key makes the set refresh (unknown kid after the cooldown).
    verifier.verify(&issuer.token("")).await.unwrap();
    assert_eq!(issuer.jwks_hits(), 2);
    assert!(matches!(
        verifier.verify(&old).await,
        Err(AuthError::InvalidToken(ValidationError::UnknownKey(_)))
    ));
}

/// Repeated tokens alone keep the key set fresh: a hit on a set that is due starts the
/// routine background refresh.
#[tokio::test]
async fn hits_keep_the_key_set_fresh_and_respect_max_stale() {
    let issuer = TestIssuer::start(Algorithm::ES256).await;
    let keys = RemoteKeySet::from_jwks_uri(&issuer.jwks_uri())
        .unwrap()
        .cooldown(Duration::from_millis(100))
        .max_backoff(Duration::from_millis(100))
        .lifetime(Duration::from_millis(200))
        .max_stale(Duration::from_millis(600));
    let verifier = AccessTokenVerifier::new(
        Validator::new(issuer.url.clone(), [AUDIENCE]).unwrap(),
        keys,
    )
    .unwrap();
    let token = issuer.token("");
    verifier.verify(&token).await.unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;
    verifier.verify(&token).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(issuer.jwks_hits(), 2, "the hit started a routine refresh");

    // The issuer goes down: past max_stale even cached verdicts stop (503), never 200.
    issuer.set_mode(Mode::Error500);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(matches!(
        verifier.verify(&token).await,
        Err(AuthError::KeysUnavailable(_))
    ));
}
