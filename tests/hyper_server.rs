//! `examples/hyper_server.rs` (the layer on a bare hyper 1 service, no axum) over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

#[allow(dead_code, missing_docs)]
#[path = "../examples/hyper_server.rs"]
mod example;

use jwt_access_token::{
    AccessTokenVerifier, Algorithm, JwtAccessTokenIssuer, KeySet, SigningKey, TokenRequest,
    Validator,
};

#[tokio::test]
async fn the_layer_works_on_bare_hyper() {
    let issuer = JwtAccessTokenIssuer::new(
        "https://as.example",
        SigningKey::generate(Algorithm::ES384, "k").unwrap(),
    )
    .unwrap();
    let keys = KeySet::from_jwks(&issuer.jwks().to_string()).unwrap();
    let verifier =
        AccessTokenVerifier::new(Validator::new(issuer.issuer(), ["api"]).unwrap(), keys).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(example::serve(listener, verifier));
    let client = reqwest::Client::new();
    let get = |path: &str, token: Option<String>| {
        let mut request = client.get(format!("{base}{path}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };

    let reader = issuer
        .mint(&TokenRequest::new("alice", "c", ["api"]).scope("items:read"))
        .unwrap();
    let nobody = issuer
        .mint(&TokenRequest::new("bob", "c", ["api"]))
        .unwrap();

    let r = get("/", Some(reader.clone())).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "hello alice\n");
    assert_eq!(get("/items", Some(reader)).await.unwrap().status(), 200);

    let r = get("/items", Some(nobody)).await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("scope=\"items:read\"")
    );

    let r = get("/", None).await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    assert_eq!(r.text().await.unwrap(), "", "refusals have an empty body");
}
