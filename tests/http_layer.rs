//! The layer over real HTTP: a real issuer (metadata + JWKS) and a real axum server on
//! 127.0.0.1, called with reqwest. Covers every RFC 6750 answer and every route requirement.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use common::{AUDIENCE, Mode, TestIssuer, client, get_with, serve, serve_app};
use jwt_access_token::{
    AccessTokenVerifier, Algorithm, JwtAccessTokenLayer, RemoteKeySet, TokenRequest, Validator,
};
use serde_json::{Value, json};

async fn setup(alg: Algorithm) -> (TestIssuer, String) {
    let issuer = TestIssuer::start(alg).await;
    let keys = RemoteKeySet::discover(&issuer.url).expect("keys");
    let verifier = AccessTokenVerifier::new(
        Validator::new(issuer.url.clone(), [AUDIENCE]).expect("validator"),
        keys,
    )
    .expect("verifier");
    let app = serve_app(verifier).await;
    (issuer, app)
}

#[tokio::test]
async fn every_asymmetric_algorithm_is_accepted_end_to_end() {
    for alg in [
        Algorithm::RS256,
        Algorithm::PS256,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ] {
        let (issuer, app) = setup(alg).await;
        let token = issuer.token("items:read");
        let (status, _, body) = get_with(&format!("{app}/me"), Some(&token)).await;
        assert_eq!(status, 200, "{alg}: {body}");
        let claims: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(claims["sub"], "alice", "{alg}");
        assert_eq!(claims["iss"], issuer.url, "{alg}");
        assert_eq!(claims["scope"], "items:read", "{alg}");
        let (status, _, _) = get_with(&format!("{app}/items"), Some(&token)).await;
        assert_eq!(status, 200, "{alg}");
        // A token signed by another issuer's key of the same algorithm is refused.
        let other = TestIssuer::start(alg).await;
        let forged = other.sign_raw(
            &json!({"typ":"at+jwt","alg":alg.as_str(),"kid":"key-1"}),
            &json!({"iss":issuer.url,"aud":AUDIENCE,"sub":"mallory","client_id":"c","iat":1,"jti":"j","exp":4000000000u64}),
        );
        let (status, challenge, _) = get_with(&format!("{app}/me"), Some(&forged)).await;
        assert_eq!(status, 401, "{alg}");
        assert_eq!(
            challenge.as_deref(),
            Some(
                "Bearer realm=\"test\", error=\"invalid_token\", error_description=\"the token's signature is invalid\""
            )
        );
    }
}

#[tokio::test]
async fn missing_credentials_get_a_bare_challenge() {
    let (_issuer, app) = setup(Algorithm::ES256).await;
    let (status, challenge, _) = get_with(&format!("{app}/me"), None).await;
    assert_eq!(
        (status, challenge.as_deref()),
        (401, Some("Bearer realm=\"test\""))
    );
    // Another scheme is not bearer credentials either.
    let r = client()
        .get(format!("{app}/me"))
        .basic_auth("u", Some("p"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer realm=\"test\"");
    // Open routes stay open.
    assert_eq!(get_with(&format!("{app}/health"), None).await.0, 200);
}

#[tokio::test]
async fn malformed_requests_are_400_invalid_request() {
    let (issuer, app) = setup(Algorithm::ES256).await;
    let token = issuer.token("items:read");
    let two_headers = client()
        .get(format!("{app}/me"))
        .header("authorization", format!("Bearer {token}"))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .expect("send");
    let header_and_query = client()
        .get(format!("{app}/me?access_token={token}"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    let query_only = client()
        .get(format!("{app}/me?access_token={token}"))
        .send()
        .await
        .expect("send");
    let malformed = client()
        .get(format!("{app}/me"))
        .header("authorization", "Bearer a b")
        .send()
        .await
        .expect("send");
    for (name, r) in [
        ("two headers", two_headers),
        ("header and query", header_and_query),
        ("query only", query_only),
        ("malformed", malformed),
    ] {
        assert_eq!(r.status(), 400, "{name}");
        let challenge = r.headers()["www-authenticate"]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert!(
            challenge.starts_with("Bearer realm=\"test\", error=\"invalid_request\""),
            "{name}: {challenge}"
        );
    }
}

#[tokio::test]
async fn invalid_tokens_are_401_invalid_token_with_a_short_description() {
    let (issuer, app) = setup(Algorithm::RS256).await;
    let exp = 4_000_000_000u64;
    let base = json!({"iss":issuer.url,"aud":AUDIENCE,"sub":"a","client_id":"c","iat":1,"jti":"j","exp":exp});
    let with = |k: &str, v: Value| {
        let mut c = base.clone();
        c[k] = v;
        c
    };
    let at = json!({"typ":"at+jwt","alg":"RS256","kid":"key-1"});
    let cases = [
        (
            "id token typ",
            issuer.sign_raw(&json!({"typ":"JWT","alg":"RS256","kid":"key-1"}), &base),
            "the token is not an access token",
        ),
        (
            "no typ",
            issuer.sign_raw(&json!({"alg":"RS256","kid":"key-1"}), &base),
            "the token is not an access token",
        ),
        (
            "expired",
            issuer.sign_raw(&at, &with("exp", json!(1000))),
            "the token has expired",
        ),
        (
            "wrong audience",
            issuer.sign_raw(&at, &with("aud", json!("https://other.example"))),
            "the token is not meant for this resource",
        ),
        (
            "wrong issuer",
            issuer.sign_raw(&at, &with("iss", json!("https://impostor.example"))),
            "the token's issuer is not accepted",
        ),
        (
            "unknown kid",
            issuer.sign_raw(&json!({"typ":"at+jwt","alg":"RS256","kid":"nope"}), &base),
            "the token's signing key is not known",
        ),
        (
            "jwe",
            "a.b.c.d.e".to_string(),
            "encrypted tokens are not supported",
        ),
        (
            "garbage",
            "abc.def.ghi".to_string(),
            "the token is malformed",
        ),
    ];
    for (name, token, description) in cases {
        let (status, challenge, _) = get_with(&format!("{app}/me"), Some(&token)).await;
        assert_eq!(status, 401, "{name}");
        assert_eq!(
            challenge.as_deref(),
            Some(format!("Bearer realm=\"test\", error=\"invalid_token\", error_description=\"{description}\"").as_str()),
            "{name}"
        );
    }
}

#[tokio::test]
async fn route_requirements_answer_403_insufficient_scope() {
    let (issuer, app) = setup(Algorithm::ES256).await;
    let reader = issuer.token("items:readonly");
    let (status, challenge, _) = get_with(&format!("{app}/items"), Some(&reader)).await;
    assert_eq!(status, 403);
    assert_eq!(
        challenge.as_deref(),
        Some(
            "Bearer realm=\"test\", error=\"insufficient_scope\", error_description=\"requires scope items:read\", scope=\"items:read\""
        )
    );

    let full = issuer.mint(
        TokenRequest::new("alice", "c", [AUDIENCE])
            .scope("items:read items:write")
            .roles(["admin"])
            .groups(["engineering"])
            .entitlements(["billing"]),
    );
    for path in ["/items", "/edit", "/admin", "/eng", "/billing"] {
        assert_eq!(
            get_with(&format!("{app}{path}"), Some(&full)).await.0,
            200,
            "{path}"
        );
    }

    let writer_viewer = issuer.mint(
        TokenRequest::new("bob", "c", [AUDIENCE])
            .scope("items:write")
            .roles(["viewer"]),
    );
    let (status, challenge, _) = get_with(&format!("{app}/edit"), Some(&writer_viewer)).await;
    assert_eq!(status, 403);
    assert_eq!(
        challenge.as_deref(),
        Some(
            "Bearer realm=\"test\", error=\"insufficient_scope\", error_description=\"requires role editor or role admin\", scope=\"items:write\""
        )
    );
    let writer_editor = issuer.mint(
        TokenRequest::new("bob", "c", [AUDIENCE])
            .scope("items:write")
            .roles(["editor"]),
    );
    assert_eq!(
        get_with(&format!("{app}/edit"), Some(&writer_editor))
            .await
            .0,
        200
    );

    // Substrings never match: a role string "admin editor" is one role.
    let tricky = issuer.mint(
        TokenRequest::new("eve", "c", [AUDIENCE])
            .roles(["admin editor"])
            .groups(["engineering-team"])
            .entitlements(["billing:read"]),
    );
    for path in ["/admin", "/eng", "/billing"] {
        let (status, challenge, _) = get_with(&format!("{app}{path}"), Some(&tricky)).await;
        assert_eq!(status, 403, "{path}");
        let challenge = challenge.expect("challenge");
        assert!(
            challenge.contains("error=\"insufficient_scope\""),
            "{challenge}"
        );
        assert!(
            !challenge.contains("scope=\""),
            "no scope is required here: {challenge}"
        );
    }
}

#[tokio::test]
async fn a_requirement_without_the_authentication_layer_answers_500() {
    let (issuer, app) = setup(Algorithm::ES256).await;
    let token = issuer.token("x");
    let (status, challenge, body) = get_with(&format!("{app}/misconfigured"), Some(&token)).await;
    assert_eq!(status, 500);
    assert_eq!(challenge, None);
    assert_ne!(body, "leak");
}

#[tokio::test]
async fn anonymous_mode_lets_credential_free_requests_through_but_not_bad_tokens() {
    let issuer = TestIssuer::start(Algorithm::ES256).await;
    let verifier = AccessTokenVerifier::new(
        Validator::new(issuer.url.clone(), [AUDIENCE]).expect("validator"),
        RemoteKeySet::from_jwks_uri(&issuer.jwks_uri()).expect("keys"),
    )
    .expect("verifier");
    let app = serve(common::app(
        JwtAccessTokenLayer::new(verifier).allow_anonymous(),
    ))
    .await;
    assert_eq!(
        get_with(&format!("{app}/maybe"), None).await,
        (200, None, "anonymous".into())
    );
    let token = issuer.token("");
    assert_eq!(
        get_with(&format!("{app}/maybe"), Some(&token)).await.2,
        "alice"
    );
    assert_eq!(
        get_with(&format!("{app}/maybe"), Some("abc.def.ghi"))
            .await
            .0,
        401
    );
    // A route requirement answers an anonymous request with 401, not 403.
    let (status, challenge, _) = get_with(&format!("{app}/items"), None).await;
    assert_eq!((status, challenge.as_deref()), (401, Some("Bearer")));
    // The Claims extractor on a route reached anonymously: 500, never a handler without claims.
    assert_eq!(get_with(&format!("{app}/me"), None).await.0, 500);
}

#[tokio::test]
async fn key_set_outage_without_cached_keys_is_503_never_401() {
    let issuer = TestIssuer::start(Algorithm::ES256).await;
    issuer.set_mode(Mode::Error500);
    let (_, app) = {
        let verifier = AccessTokenVerifier::new(
            Validator::new(issuer.url.clone(), [AUDIENCE]).expect("validator"),
            RemoteKeySet::from_jwks_uri(&issuer.jwks_uri()).expect("keys"),
        )
        .expect("verifier");
        ((), serve_app(verifier).await)
    };
    let token = issuer.token("items:read");
    let r = client()
        .get(format!("{app}/me"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 503);
    assert!(r.headers().get("www-authenticate").is_none());
    assert_eq!(r.headers()["retry-after"], "5");
}

#[derive(Debug, Clone, serde::Deserialize)]
struct Tenant {
    tenant: String,
}

#[tokio::test]
async fn a_custom_claims_type_reaches_the_handler_and_requirements_still_apply() {
    use axum::{Router, routing::get};
    use jwt_access_token::Claims;
    use jwt_access_token::require::{require, scope};

    let issuer = TestIssuer::start(Algorithm::EdDSA).await;
    let verifier = AccessTokenVerifier::new(
        Validator::new(issuer.url.clone(), [AUDIENCE]).expect("validator"),
        RemoteKeySet::from_jwks_uri(&issuer.jwks_uri()).expect("keys"),
    )
    .expect("verifier")
    .with_extra_claims::<Tenant>();
    let app = serve(
        Router::new()
            .route(
                "/tenant",
                get(|Claims(c): Claims<Tenant>| async move { c.extra.tenant.clone() }),
            )
            .route(
                "/items",
                get(|Claims(c): Claims<Tenant>| async move { c.extra.tenant.clone() })
                    .route_layer(require(scope("items:read"))),
            )
            .layer(JwtAccessTokenLayer::new(verifier)),
    )
    .await;
    let acme = issuer.mint(
        TokenRequest::new("a", "c", [AUDIENCE])
            .scope("items:read")
            .claim("tenant", json!("acme")),
    );
    assert_eq!(
        get_with(&format!("{app}/tenant"), Some(&acme)).await,
        (200, None, "acme".into())
    );
    assert_eq!(
        get_with(&format!("{app}/items"), Some(&acme)).await.2,
        "acme"
    );
    let no_scope =
        issuer.mint(TokenRequest::new("a", "c", [AUDIENCE]).claim("tenant", json!("acme")));
    assert_eq!(
        get_with(&format!("{app}/items"), Some(&no_scope)).await.0,
        403
    );
    // Claims that do not fit the application's type: refused as malformed, not a handler error.
    let no_tenant = issuer.token("items:read");
    let (status, challenge, _) = get_with(&format!("{app}/tenant"), Some(&no_tenant)).await;
    assert_eq!(status, 401);
    assert_eq!(
        challenge.as_deref(),
        Some("Bearer error=\"invalid_token\", error_description=\"the token is malformed\"")
    );
}
