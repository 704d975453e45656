//! Several trusted issuers behind one layer, over real HTTP: each with its own audiences,
//! algorithms, key source and cache; the unverified `iss` only selects among them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use common::{TestIssuer, get_with, serve_app};
use jwt_access_token::{
    AccessTokenVerifier, Algorithm, AuthError, KeySet, RemoteKeySet, TokenRequest, ValidationError,
    Validator,
};
use serde_json::json;

struct Two {
    a: TestIssuer,
    b: TestIssuer,
    verifier: AccessTokenVerifier,
}

/// Issuer A (discovered, audience api-a, ES256 only) and issuer B (explicit jwks_uri,
/// audience api-b). Both sign with kid "key-1": only the issuer tells their keys apart.
async fn two() -> Two {
    let a = TestIssuer::start(Algorithm::ES256).await;
    let b = TestIssuer::start(Algorithm::ES256).await;
    let verifier = AccessTokenVerifier::new(
        Validator::new(a.url.clone(), ["api-a"])
            .unwrap()
            .algorithms([Algorithm::ES256])
            .unwrap(),
        RemoteKeySet::discover(&a.url).unwrap(),
    )
    .unwrap()
    .with_issuer(
        Validator::new(b.url.clone(), ["api-b"]).unwrap(),
        RemoteKeySet::from_jwks_uri(&b.jwks_uri()).unwrap(),
    )
    .unwrap();
    Two { a, b, verifier }
}

fn claims_for(issuer: &TestIssuer, aud: &str) -> serde_json::Value {
    json!({"iss":issuer.url,"aud":aud,"sub":"s","client_id":"c","iat":1,"jti":"j","exp":4_000_000_000u64})
}

#[tokio::test]
async fn each_issuer_is_accepted_with_its_own_audience() {
    let t = two().await;
    let from_a = t.a.mint(TokenRequest::new("alice", "c", ["api-a"]));
    let from_b = t.b.mint(TokenRequest::new("bob", "c", ["api-b"]));
    assert_eq!(
        t.verifier.verify(&from_a).await.unwrap().sub.as_deref(),
        Some("alice")
    );
    assert_eq!(
        t.verifier.verify(&from_b).await.unwrap().sub.as_deref(),
        Some("bob")
    );
    assert_eq!((t.a.jwks_hits(), t.b.jwks_hits()), (1, 1));
    // Audiences are per issuer: B's token for A's audience is refused.
    let b_for_a = t.b.mint(TokenRequest::new("bob", "c", ["api-a"]));
    assert!(matches!(
        t.verifier.verify(&b_for_a).await,
        Err(AuthError::InvalidToken(ValidationError::WrongAudience(_)))
    ));
}

#[tokio::test]
async fn one_issuers_key_never_verifies_another_issuers_token() {
    let t = two().await;
    // Warm both caches.
    t.verifier
        .verify(&t.a.mint(TokenRequest::new("a", "c", ["api-a"])))
        .await
        .unwrap();
    t.verifier
        .verify(&t.b.mint(TokenRequest::new("b", "c", ["api-b"])))
        .await
        .unwrap();
    // Signed by A's key-1, claiming to come from B, with B's audience and A's kid.
    let forged = t.a.sign_raw(
        &json!({"typ":"at+jwt","alg":"ES256","kid":"key-1"}),
        &claims_for(&t.b, "api-b"),
    );
    assert_eq!(
        t.verifier.verify(&forged).await.err(),
        Some(AuthError::InvalidToken(ValidationError::InvalidSignature))
    );
}

#[tokio::test]
async fn an_unknown_issuer_is_refused_without_any_network_call() {
    let t = two().await;
    let c = TestIssuer::start(Algorithm::ES256).await;
    let token = c.sign_raw(
        &json!({"typ":"at+jwt","alg":"ES256","kid":"key-1"}),
        &claims_for(&c, "api-a"),
    );
    assert_eq!(
        t.verifier.verify(&token).await.err(),
        Some(AuthError::InvalidToken(ValidationError::WrongIssuer(
            c.url.clone()
        )))
    );
    assert_eq!(
        (
            t.a.jwks_hits(),
            t.a.metadata_hits(),
            t.b.jwks_hits(),
            c.jwks_hits()
        ),
        (0, 0, 0, 0)
    );
    // Over HTTP too: 401 invalid_token.
    let app = serve_app(t.verifier.clone()).await;
    let (status, challenge, _) = get_with(&format!("{app}/me"), Some(&token)).await;
    assert_eq!(status, 401);
    assert!(
        challenge
            .unwrap()
            .contains("the token's issuer is not accepted")
    );
    assert_eq!((t.a.jwks_hits(), t.b.jwks_hits()), (0, 0));
}

#[tokio::test]
async fn per_issuer_algorithms_and_a_duplicate_iss_are_enforced() {
    let t = two().await;
    let rs = TestIssuer::start(Algorithm::RS256).await;
    // A allows only ES256: a token claiming A with RS256 is refused before any fetch.
    let token = rs.sign_raw(
        &json!({"typ":"at+jwt","alg":"RS256","kid":"key-1"}),
        &claims_for(&t.a, "api-a"),
    );
    assert_eq!(
        t.verifier.verify(&token).await.err(),
        Some(AuthError::InvalidToken(
            ValidationError::AlgorithmNotAllowed("RS256".into())
        ))
    );
    assert_eq!(t.a.jwks_hits(), 0);
    // Two `iss` members never select an issuer.
    let payload = format!(
        r#"{{"iss":"{}","iss":"{}","aud":"api-b","sub":"s","client_id":"c","iat":1,"jti":"j","exp":4000000000}}"#,
        t.a.url, t.b.url
    );
    let header = r#"{"typ":"at+jwt","alg":"ES256","kid":"key-1"}"#;
    let dup = t.b.sign_raw_bytes(header.as_bytes(), payload.as_bytes());
    assert_eq!(
        t.verifier.verify(&dup).await.err(),
        Some(AuthError::InvalidToken(ValidationError::DuplicateMember(
            "iss".into()
        )))
    );
}

#[tokio::test]
async fn static_and_remote_key_sources_mix_and_the_same_issuer_twice_is_refused() {
    let a = TestIssuer::start(Algorithm::EdDSA).await;
    let b = TestIssuer::start(Algorithm::PS256).await;
    let verifier = AccessTokenVerifier::new(
        Validator::new(a.url.clone(), ["api"]).unwrap(),
        KeySet::from_jwks(&a.jwks().to_string()).unwrap(),
    )
    .unwrap()
    .with_issuer(
        Validator::new(b.url.clone(), ["api"]).unwrap(),
        RemoteKeySet::from_jwks_uri(&b.jwks_uri()).unwrap(),
    )
    .unwrap();
    assert!(
        verifier
            .verify(&a.mint(TokenRequest::new("a", "c", ["api"])))
            .await
            .is_ok()
    );
    assert!(
        verifier
            .verify(&b.mint(TokenRequest::new("b", "c", ["api"])))
            .await
            .is_ok()
    );
    assert_eq!((a.jwks_hits(), b.jwks_hits()), (0, 1));
    let again = verifier.with_issuer(Validator::new(a.url.clone(), ["x"]).unwrap(), KeySet::new());
    assert!(again.is_err());
}
