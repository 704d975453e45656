//! The layer in front of a real tonic server, called by a real tonic client on 127.0.0.1:
//! gRPC-native refusals, per-method requirements, claims in the handler. The service is the
//! one of `examples/grpc_server.rs`, included as it is.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

#[allow(dead_code, missing_docs)]
#[path = "../examples/grpc_server.rs"]
mod example;

use example::messages::{Empty, ItemList, NewItem, WhoAmIReply};
use jwt_access_token::{
    AccessTokenVerifier, Algorithm, JwtAccessTokenIssuer, KeySet, RemoteKeySet, SigningKey,
    TokenRequest, Validator,
};
use tonic::Code;
use tonic::transport::Channel;

const AUD: &str = "https://api.example";

struct Running {
    issuer: JwtAccessTokenIssuer,
    channel: Channel,
    url: String,
}

async fn start(verifier: Option<AccessTokenVerifier>, issuer: JwtAccessTokenIssuer) -> Running {
    let verifier = verifier.unwrap_or_else(|| {
        let keys = KeySet::from_jwks(&issuer.jwks().to_string()).unwrap();
        AccessTokenVerifier::new(Validator::new(issuer.issuer(), [AUD]).unwrap(), keys).unwrap()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(example::serve(listener, verifier));
    let channel = Channel::from_shared(url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    Running {
        issuer,
        channel,
        url,
    }
}

async fn running() -> Running {
    let issuer = JwtAccessTokenIssuer::new(
        "https://as.example",
        SigningKey::generate(Algorithm::RS256, "k").unwrap(),
    )
    .unwrap();
    start(None, issuer).await
}

impl Running {
    fn token(&self, scope: &str, roles: &[&str]) -> String {
        self.issuer
            .mint(
                &TokenRequest::new("alice", "grpc-client", [AUD])
                    .scope(scope)
                    .roles(roles.iter().copied()),
            )
            .unwrap()
    }
}

fn challenge(status: &tonic::Status) -> String {
    status
        .metadata()
        .get("www-authenticate")
        .expect("www-authenticate kept")
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn claims_reach_the_handler() {
    let r = running().await;
    let token = r.token("items:read", &[]);
    let who: WhoAmIReply = example::call(
        r.channel.clone(),
        "/demo.Items/WhoAmI",
        Some(&token),
        Empty {},
    )
    .await
    .unwrap();
    assert_eq!(
        who,
        WhoAmIReply {
            subject: "alice".into(),
            client_id: "grpc-client".into(),
            scope: "items:read".into()
        }
    );
}

#[tokio::test]
async fn missing_and_invalid_tokens_are_unauthenticated_with_the_challenge() {
    let r = running().await;
    let status =
        example::call::<_, WhoAmIReply>(r.channel.clone(), "/demo.Items/WhoAmI", None, Empty {})
            .await
            .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(challenge(&status), "Bearer realm=\"grpc example\"");

    let status = example::call::<_, WhoAmIReply>(
        r.channel.clone(),
        "/demo.Items/WhoAmI",
        Some("abc.def.ghi"),
        Empty {},
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "the token is malformed");
    assert!(challenge(&status).contains("error=\"invalid_token\""));

    let other = JwtAccessTokenIssuer::new(
        "https://as.example",
        SigningKey::generate(Algorithm::RS256, "k").unwrap(),
    )
    .unwrap();
    let forged = other
        .mint(&TokenRequest::new("mallory", "c", [AUD]).scope("items:read items:write"))
        .unwrap();
    let status = example::call::<_, ItemList>(
        r.channel.clone(),
        "/demo.Items/List",
        Some(&forged),
        Empty {},
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "the token's signature is invalid");
}

#[tokio::test]
async fn per_method_requirements_are_permission_denied() {
    let r = running().await;
    let reader = r.token("items:read", &[]);
    let writer = r.token("items:read items:write", &[]);
    let admin = r.token("items:read", &["admin"]);

    let listed: ItemList = example::call(
        r.channel.clone(),
        "/demo.Items/List",
        Some(&reader),
        Empty {},
    )
    .await
    .unwrap();
    assert!(listed.items.is_empty());
    let status = example::call::<_, ItemList>(
        r.channel.clone(),
        "/demo.Items/Add",
        Some(&reader),
        NewItem { name: "x".into() },
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(status.message(), "requires scope items:write");
    assert!(challenge(&status).contains("error=\"insufficient_scope\", error_description=\"requires scope items:write\", scope=\"items:write\""));

    let added: ItemList = example::call(
        r.channel.clone(),
        "/demo.Items/Add",
        Some(&writer),
        NewItem {
            name: "pear".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(added.items, vec!["pear"]);
    let status = example::call::<_, Empty>(
        r.channel.clone(),
        "/demo.Items/Purge",
        Some(&writer),
        Empty {},
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(status.message(), "requires role admin");
    example::call::<_, Empty>(
        r.channel.clone(),
        "/demo.Items/Purge",
        Some(&admin),
        Empty {},
    )
    .await
    .unwrap();
    let listed: ItemList = example::call(
        r.channel.clone(),
        "/demo.Items/List",
        Some(&reader),
        Empty {},
    )
    .await
    .unwrap();
    assert!(listed.items.is_empty(), "purged");
}

#[tokio::test]
async fn key_outage_is_unavailable() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let issuer = JwtAccessTokenIssuer::new(
        "https://as.example",
        SigningKey::generate(Algorithm::ES256, "k").unwrap(),
    )
    .unwrap();
    let keys = RemoteKeySet::from_jwks_uri(&format!("http://127.0.0.1:{closed}/jwks")).unwrap();
    let verifier =
        AccessTokenVerifier::new(Validator::new(issuer.issuer(), [AUD]).unwrap(), keys).unwrap();
    let r = start(Some(verifier), issuer).await;
    let token = r.token("items:read", &[]);
    let status = example::call::<_, WhoAmIReply>(
        r.channel.clone(),
        "/demo.Items/WhoAmI",
        Some(&token),
        Empty {},
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert!(status.metadata().get("www-authenticate").is_none());
}

#[tokio::test]
async fn grpc_refusals_are_http_200_trailers_only() {
    let r = running().await;
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let response = client
        .post(format!("{}/demo.Items/List", r.url))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(vec![0u8, 0, 0, 0, 0])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["grpc-status"], "16");
    assert_eq!(response.headers()["grpc-message"], "no bearer token");
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer realm=\"grpc example\""
    );
}
