//! The introspection (RFC 7662) and revocation (RFC 7009) endpoints over real HTTP: an axum
//! server on 127.0.0.1 mounting them with `Router::route_service`, called with reqwest.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use axum::Router;
use common::{AUDIENCE, client, serve};
use jwt_access_token::endpoints::{
    AuthenticatedClient, BoxFuture, ClientAuthError, ClientAuthMethod, ClientAuthenticator,
    ClientSecrets, FallbackAnswer, FallbackRequest, FormParams, IntrospectionEndpoint,
    RevocationEndpoint, RevocationOutcome, RevocationRequest,
};
use jwt_access_token::{
    AccessTokenVerifier, Algorithm, JwtAccessTokenIssuer, KeySet, NumericDate, RemoteKeySet,
    SigningKey, TokenRequest, Validator,
};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ISSUER: &str = "https://as.example";
/// A second resource server, with its own audience.
const OTHER_AUDIENCE: &str = "https://reports.example";
const FORM: &str = "application/x-www-form-urlencoded";

/// Calls the fallback or the handler received: (client id, token, hint).
type Calls = Arc<Mutex<Vec<(String, String, Option<String>)>>>;

fn issuer() -> JwtAccessTokenIssuer {
    JwtAccessTokenIssuer::new(
        ISSUER,
        SigningKey::generate(Algorithm::ES256, "as-key").expect("key"),
    )
    .expect("issuer")
}

fn validator() -> Validator {
    Validator::new(ISSUER, [AUDIENCE, OTHER_AUDIENCE])
        .expect("validator")
        .leeway(Duration::ZERO)
}

fn clients() -> ClientSecrets {
    ClientSecrets::new()
        .client("rs", "rs-secret")
        .and_then(|c| c.client("reports", "reports-secret"))
        .expect("clients")
}

struct Server {
    url: String,
    fallback_calls: Calls,
    revocations: Calls,
}

/// Both endpoints with every hook: `reports` may only introspect tokens meant for it; the
/// username is `sub@example` except for `svc`; the fallback knows `rt_good` (active) and
/// `rt_revoked` (inactive); the handler revokes anything.
async fn full_server(verifier: AccessTokenVerifier) -> Server {
    let fallback_calls = Calls::default();
    let revocations = Calls::default();
    let calls = fallback_calls.clone();
    let introspect = IntrospectionEndpoint::new(verifier, clients())
        .realm("test-as")
        .authorize(|client, claims| {
            client.client_id != "reports" || claims.aud.contains(OTHER_AUDIENCE)
        })
        .username(|claims| {
            claims
                .sub
                .as_deref()
                .filter(|s| *s != "svc")
                .map(|s| format!("{s}@example"))
        })
        .fallback(move |request: FallbackRequest| {
            calls.lock().expect("lock").push((
                request.client.client_id.clone(),
                request.token.clone(),
                request.token_type_hint.clone(),
            ));
            async move {
                match request.token.as_str() {
                    "rt_good" => {
                        let mut members = serde_json::Map::new();
                        members.insert("client_id".into(), json!(request.client.client_id));
                        members.insert("scope".into(), json!("offline_access"));
                        FallbackAnswer::Active(members)
                    }
                    "rt_revoked" => FallbackAnswer::Inactive,
                    "rt_store_down" => FallbackAnswer::Unavailable,
                    _ => FallbackAnswer::Unknown,
                }
            }
        });
    let calls = revocations.clone();
    let revoke = RevocationEndpoint::new(clients()).realm("test-as").handler(
        move |request: RevocationRequest| {
            calls.lock().expect("lock").push((
                request.client.client_id.clone(),
                request.token.clone(),
                request.token_type_hint.clone(),
            ));
            async move {
                match request.token.as_str() {
                    "store_down" => RevocationOutcome::Unavailable,
                    "unsupported" => RevocationOutcome::UnsupportedTokenType,
                    _ => RevocationOutcome::Revoked,
                }
            }
        },
    );
    let url = serve(
        Router::new()
            .route_service("/introspect", introspect)
            .route_service("/revoke", revoke),
    )
    .await;
    Server {
        url,
        fallback_calls,
        revocations,
    }
}

/// Both endpoints with no hook at all.
async fn bare_server(verifier: AccessTokenVerifier) -> String {
    serve(
        Router::new()
            .route_service(
                "/introspect",
                IntrospectionEndpoint::new(verifier, clients()),
            )
            .route_service("/revoke", RevocationEndpoint::new(clients())),
    )
    .await
}

fn local_verifier(issuer: &JwtAccessTokenIssuer) -> AccessTokenVerifier {
    let keys = KeySet::from_jwks(&issuer.jwks().to_string()).expect("jwks");
    AccessTokenVerifier::new(validator(), keys).expect("verifier")
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {:?}", self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().expect("ascii"))
    }
}

/// POSTs a form with Basic credentials (`None`: no Authorization header).
async fn post(url: &str, basic: Option<(&str, &str)>, body: &str) -> Answer {
    let mut request = client()
        .post(url)
        .header("content-type", FORM)
        .body(body.to_owned());
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.expect("send");
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.text().await.expect("body"),
    }
}

async fn introspect(server: &str, token: &str) -> Answer {
    post(
        &format!("{server}/introspect"),
        Some(("rs", "rs-secret")),
        &format!("token={token}"),
    )
    .await
}

fn assert_inactive(answer: &Answer, what: &str) {
    assert_eq!(answer.status, 200, "{what}: {}", answer.body);
    // RFC 7662 §2.2: nothing but `active`, whatever the reason.
    assert_eq!(answer.body, r#"{"active":false}"#, "{what}");
    assert_eq!(answer.header("cache-control"), Some("no-store"), "{what}");
}

#[tokio::test]
async fn an_active_token_is_described() {
    let issuer = issuer();
    let server = full_server(local_verifier(&issuer)).await;
    let token = issuer
        .mint(
            &TokenRequest::new("alice", "shop", [AUDIENCE])
                .scope("items:read items:write")
                .roles(["editor"]),
        )
        .expect("mint");
    let answer = introspect(&server.url, &token).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let body = answer.json();
    let iat = body["iat"].as_i64().expect("iat");
    assert!((iat - NumericDate::now().as_secs()).abs() < 5, "{body}");
    assert_eq!(
        body["exp"].as_i64(),
        Some(iat + 300),
        "the generator's 5 minutes"
    );
    assert!(
        body["jti"].as_str().is_some_and(|j| j.len() >= 22),
        "{body}"
    );
    let mut expected = json!({
        "active": true,
        "scope": "items:read items:write",
        "client_id": "shop",
        "username": "alice@example",
        "token_type": "Bearer",
        "sub": "alice",
        "aud": AUDIENCE,
        "iss": ISSUER,
    });
    for member in ["iat", "exp", "jti"] {
        expected[member] = body[member].clone();
    }
    // Exactly these members: roles and other claims are not disclosed.
    assert_eq!(body, expected);
    // A JWT access token was never handed to the fallback.
    assert!(server.fallback_calls.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn the_username_hook_may_say_nothing_and_a_dpop_bound_token_is_not_bearer() {
    let issuer = issuer();
    let server = full_server(local_verifier(&issuer)).await;
    let token = issuer
        .mint(&TokenRequest::new("svc", "svc", [AUDIENCE, OTHER_AUDIENCE]))
        .expect("mint");
    let body = introspect(&server.url, &token).await.json();
    assert_eq!(body["active"], true);
    assert!(body.get("username").is_none(), "{body}");
    assert!(body.get("scope").is_none(), "no scope granted: {body}");
    assert_eq!(body["aud"], json!([AUDIENCE, OTHER_AUDIENCE]));

    // RFC 9449 §6.2: a token bound to a DPoP key is introspected as DPoP, with its `cnf`.
    let now = NumericDate::now().as_secs();
    let bound = issuer
        .signing_key()
        .sign_compact(
            json!({"typ":"at+jwt","alg":"ES256","kid":"as-key"})
                .to_string()
                .as_bytes(),
            json!({"iss":ISSUER,"aud":AUDIENCE,"sub":"alice","client_id":"spa","iat":now,
                   "exp":now + 60,"jti":"j1","cnf":{"jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}})
            .to_string()
            .as_bytes(),
        )
        .expect("sign");
    let body = introspect(&server.url, &bound).await.json();
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    assert_eq!(
        body["cnf"]["jkt"],
        "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
    );
}

#[tokio::test]
async fn expired_foreign_tampered_and_malformed_tokens_are_inactive() {
    let issuer = issuer();
    let server = full_server(local_verifier(&issuer)).await;
    let request = TokenRequest::new("alice", "shop", [AUDIENCE]).scope("items:read");

    let an_hour_ago = NumericDate::from_secs(NumericDate::now().as_secs() - 3600);
    let expired = issuer
        .mint_at(
            &request.clone().lifetime(Duration::from_secs(60)),
            an_hour_ago,
        )
        .expect("mint");
    // Another issuer, with its own key: unknown `kid`, wrong `iss`.
    let foreign_issuer = JwtAccessTokenIssuer::new(
        "https://evil.example",
        SigningKey::generate(Algorithm::ES256, "as-key").expect("key"),
    )
    .expect("issuer");
    let foreign = foreign_issuer.mint(&request).expect("mint");
    // Our issuer's name and kid, another key: the signature fails.
    let impostor = JwtAccessTokenIssuer::new(
        ISSUER,
        SigningKey::generate(Algorithm::ES256, "as-key").expect("key"),
    )
    .expect("issuer")
    .mint(&request)
    .expect("mint");
    // A valid token whose payload was swapped for a more generous one.
    let valid = issuer.mint(&request).expect("mint");
    let parts: Vec<&str> = valid.split('.').collect();
    let generous = base64url(
        json!({"iss":ISSUER,"aud":AUDIENCE,"sub":"mallory","client_id":"shop",
               "iat":1,"jti":"x","exp":4_000_000_000u64,"scope":"admin"})
        .to_string()
        .as_bytes(),
    );
    let tampered = format!("{}.{generous}.{}", parts[0], parts[2]);
    // An access-token header with a payload that is not base64url JSON.
    let malformed = format!("{}.%%%.{}", parts[0], parts[2]);
    // A token meant for a resource server this issuer does not serve.
    let elsewhere = issuer
        .mint(&TokenRequest::new(
            "alice",
            "shop",
            ["https://unknown.example"],
        ))
        .expect("mint");

    // The valid token is active: the server is not simply answering `false`.
    assert_eq!(introspect(&server.url, &valid).await.json()["active"], true);
    for (what, token) in [
        ("expired", &expired),
        ("foreign", &foreign),
        ("impostor", &impostor),
        ("tampered", &tampered),
        ("malformed", &malformed),
        ("other audience", &elsewhere),
    ] {
        assert_inactive(&introspect(&server.url, token).await, what);
    }
    // They were all recognised as JWT access tokens: none went to the fallback.
    assert!(server.fallback_calls.lock().expect("lock").is_empty());
}

fn base64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn other_tokens_go_to_the_fallback() {
    let issuer = issuer();
    let server = full_server(local_verifier(&issuer)).await;

    let answer = introspect(&server.url, "rt_good").await;
    assert_eq!(
        answer.json(),
        json!({"active": true, "client_id": "rs", "scope": "offline_access"})
    );
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    assert_inactive(&introspect(&server.url, "rt_revoked").await, "revoked");
    // Unknown to the fallback and not a JWT: inactive.
    assert_inactive(&introspect(&server.url, "no.such").await, "unknown");
    // Three segments but not an access-token header (a JWT of another kind): the fallback's.
    let id_token = issuer
        .signing_key()
        .sign_compact(br#"{"typ":"JWT","alg":"ES256"}"#, b"{}")
        .expect("sign");
    assert_inactive(&introspect(&server.url, &id_token).await, "id token");
    let calls = server.fallback_calls.lock().expect("lock").clone();
    let tokens: Vec<&str> = calls.iter().map(|(_, t, _)| t.as_str()).collect();
    assert_eq!(
        tokens,
        ["rt_good", "rt_revoked", "no.such", id_token.as_str()]
    );
    assert!(
        calls
            .iter()
            .all(|(client, _, hint)| client == "rs" && hint.is_none())
    );

    // The fallback's store is down: 503, not a verdict on the token.
    let answer = introspect(&server.url, "rt_store_down").await;
    assert_eq!(answer.status, 503);
    assert_eq!(answer.json()["error"], "temporarily_unavailable");
}

#[tokio::test]
async fn a_hint_orders_the_search_but_never_ends_it() {
    let issuer = issuer();
    let server = full_server(local_verifier(&issuer)).await;
    let url = format!("{}/introspect", server.url);
    let rs = Some(("rs", "rs-secret"));
    let token = issuer
        .mint(&TokenRequest::new("alice", "shop", [AUDIENCE]))
        .expect("mint");

    // A refresh-token hint goes to the fallback first, even for a JWT ...
    let answer = post(
        &url,
        rs,
        &format!("token={token}&token_type_hint=refresh_token"),
    )
    .await;
    // ... which does not know it, so the JWT is verified after all (RFC 7662 §2.1).
    assert_eq!(answer.json()["sub"], "alice", "{}", answer.body);
    let answer = post(&url, rs, "token=rt_good&token_type_hint=refresh_token").await;
    assert_eq!(answer.json()["scope"], "offline_access");
    // An access-token hint on an opaque token: still searched in the fallback.
    let answer = post(&url, rs, "token=rt_revoked&token_type_hint=access_token").await;
    assert_inactive(&answer, "hinted access token");
    // An access-token hint on a JWT: verified locally, the fallback is not asked.
    let answer = post(
        &url,
        rs,
        &format!("token={token}&token_type_hint=access_token"),
    )
    .await;
    assert_eq!(answer.json()["active"], true);

    let calls = server.fallback_calls.lock().expect("lock").clone();
    assert_eq!(
        calls,
        vec![
            ("rs".into(), token.clone(), Some("refresh_token".into())),
            ("rs".into(), "rt_good".into(), Some("refresh_token".into())),
            (
                "rs".into(),
                "rt_revoked".into(),
                Some("access_token".into())
            ),
        ]
    );
}

#[tokio::test]
async fn without_a_fallback_other_tokens_are_inactive() {
    let issuer = issuer();
    let server = bare_server(local_verifier(&issuer)).await;
    assert_inactive(&introspect(&server, "rt_good").await, "opaque");
    let token = issuer
        .mint(&TokenRequest::new("alice", "shop", [AUDIENCE]))
        .expect("mint");
    let answer = post(
        &format!("{server}/introspect"),
        Some(("rs", "rs-secret")),
        &format!("token={token}&token_type_hint=refresh_token"),
    )
    .await;
    assert_eq!(
        answer.json()["active"],
        true,
        "the hint never ends the search"
    );
    // No hook: no username, and every client may introspect.
    assert!(answer.json().get("username").is_none());
    let answer = post(
        &format!("{server}/introspect"),
        Some(("reports", "reports-secret")),
        &format!("token={token}"),
    )
    .await;
    assert_eq!(answer.json()["active"], true);
}

#[tokio::test]
async fn the_authorize_hook_limits_what_a_client_may_learn() {
    let issuer = issuer();
    let server = full_server(local_verifier(&issuer)).await;
    let url = format!("{}/introspect", server.url);
    let for_api = issuer
        .mint(&TokenRequest::new("alice", "shop", [AUDIENCE]))
        .expect("mint");
    let for_reports = issuer
        .mint(&TokenRequest::new("alice", "shop", [OTHER_AUDIENCE]))
        .expect("mint");
    let reports = Some(("reports", "reports-secret"));
    assert_inactive(
        &post(&url, reports, &format!("token={for_api}")).await,
        "not its token",
    );
    let answer = post(&url, reports, &format!("token={for_reports}")).await;
    assert_eq!(answer.json()["aud"], OTHER_AUDIENCE, "{}", answer.body);
    // The unrestricted client sees both.
    assert_eq!(
        introspect(&server.url, &for_api).await.json()["active"],
        true
    );
    assert_eq!(
        introspect(&server.url, &for_reports).await.json()["active"],
        true
    );
}

#[tokio::test]
async fn a_key_outage_is_503_never_inactive() {
    // A JWKS URI on a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let keys = RemoteKeySet::from_jwks_uri(&format!("http://127.0.0.1:{port}/jwks"))
        .expect("keys")
        .timeout(Duration::from_secs(2));
    let verifier = AccessTokenVerifier::new(validator(), keys).expect("verifier");
    let server = full_server(verifier).await;
    let token = issuer()
        .mint(&TokenRequest::new("alice", "shop", [AUDIENCE]))
        .expect("mint");
    let answer = introspect(&server.url, &token).await;
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert_eq!(answer.json()["error"], "temporarily_unavailable");
    assert_eq!(answer.header("retry-after"), Some("5"));
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    assert!(answer.header("www-authenticate").is_none());
    // Tokens that need no key are still answered.
    assert_eq!(
        introspect(&server.url, "rt_good").await.json()["active"],
        true
    );
    assert_inactive(&introspect(&server.url, "nonsense").await, "opaque");
}

#[tokio::test]
async fn bad_client_credentials_are_refused_at_both_endpoints() {
    let issuer = issuer();
    let server = full_server(local_verifier(&issuer)).await;
    let token = issuer
        .mint(&TokenRequest::new("alice", "shop", [AUDIENCE]))
        .expect("mint");
    for endpoint in ["introspect", "revoke"] {
        let url = format!("{}/{endpoint}", server.url);
        let form = format!("token={token}");
        let cases = [
            ("wrong secret", Some(("rs", "nope")), form.clone()),
            (
                "unknown client",
                Some(("nobody", "rs-secret")),
                form.clone(),
            ),
            ("no credentials", None, form.clone()),
            (
                "client_id without a secret",
                None,
                format!("{form}&client_id=rs"),
            ),
            (
                "wrong post secret",
                None,
                format!("{form}&client_id=rs&client_secret=nope"),
            ),
        ];
        for (what, basic, body) in cases {
            let answer = post(&url, basic, &body).await;
            assert_eq!(answer.status, 401, "{endpoint} {what}: {}", answer.body);
            assert_eq!(
                answer.json(),
                json!({"error": "invalid_client", "error_description": "client authentication failed"}),
                "{endpoint} {what}"
            );
            assert_eq!(
                answer.header("www-authenticate"),
                Some("Basic realm=\"test-as\""),
                "{endpoint} {what}"
            );
            assert_eq!(answer.header("cache-control"), Some("no-store"));
        }
        // Two mechanisms at once: RFC 6749 §5.2 names this `invalid_request`.
        let answer = post(
            &url,
            Some(("rs", "rs-secret")),
            &format!("{form}&client_id=rs&client_secret=rs-secret"),
        )
        .await;
        assert_eq!(answer.status, 400, "{endpoint}: {}", answer.body);
        assert_eq!(answer.json()["error"], "invalid_request");
        // client_secret_post with the right secret is accepted.
        let answer = post(
            &url,
            None,
            &format!("{form}&client_id=rs&client_secret=rs-secret"),
        )
        .await;
        assert_ne!(answer.status, 401, "{endpoint}: {}", answer.body);
    }
    // Nothing reached the handler.
    assert!(server.revocations.lock().expect("lock").is_empty());
}

/// A resource server authenticating with a bearer token of its own (RFC 7662 §2.1 allows
/// it): a pluggable authenticator that does not accept Basic.
struct BearerClients;

impl ClientAuthenticator for BearerClients {
    fn authenticate<'a>(
        &'a self,
        parts: &'a http::request::Parts,
        _form: &'a FormParams,
    ) -> BoxFuture<'a, Result<AuthenticatedClient, ClientAuthError>> {
        Box::pin(async move {
            match parts.headers.get("authorization").map(|v| v.as_bytes()) {
                Some(b"Bearer rs-credential") => Ok(AuthenticatedClient::new(
                    "rs",
                    ClientAuthMethod::Other("bearer".into()),
                )),
                Some(_) => Err(ClientAuthError::InvalidCredentials),
                None => Err(ClientAuthError::MissingCredentials),
            }
        })
    }
}

#[tokio::test]
async fn a_pluggable_authenticator_and_the_basic_challenge() {
    let issuer = issuer();
    let url = serve(Router::new().route_service(
        "/introspect",
        IntrospectionEndpoint::new(local_verifier(&issuer), BearerClients),
    ))
    .await;
    let url = format!("{url}/introspect");
    let token = issuer
        .mint(&TokenRequest::new("alice", "shop", [AUDIENCE]))
        .expect("mint");
    let send = |auth: Option<&'static str>| {
        let mut request = client()
            .post(&url)
            .header("content-type", FORM)
            .body(format!("token={token}"));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        request.send()
    };
    let ok = send(Some("Bearer rs-credential")).await.expect("send");
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.json::<Value>().await.expect("json")["active"], true);
    // A 401 to a Basic attempt names Basic (RFC 6749 §5.2) ...
    let basic = send(Some("Basic cnM6cnMtc2VjcmV0")).await.expect("send");
    assert_eq!(basic.status(), 401);
    assert_eq!(basic.headers()["www-authenticate"], "Basic realm=\"oauth\"");
    // ... but an authenticator that does not take Basic does not offer it otherwise.
    for auth in [None, Some("Bearer wrong")] {
        let r = send(auth).await.expect("send");
        assert_eq!(r.status(), 401, "{auth:?}");
        assert!(r.headers().get("www-authenticate").is_none(), "{auth:?}");
    }
}

#[tokio::test]
async fn malformed_requests_are_refused() {
    let issuer = issuer();
    let server = full_server(local_verifier(&issuer)).await;
    for endpoint in ["introspect", "revoke"] {
        let url = format!("{}/{endpoint}", server.url);
        let get = client()
            .get(&url)
            .basic_auth("rs", Some("rs-secret"))
            .send()
            .await
            .expect("send");
        assert_eq!(get.status(), 405, "{endpoint}");
        assert_eq!(get.headers()["allow"], "POST");
        assert_eq!(get.headers()["cache-control"], "no-store");

        let rs = Some(("rs", "rs-secret"));
        for (what, body) in [
            ("no token", "token_type_hint=access_token"),
            ("empty token", "token="),
            ("repeated token", "token=a&token=b"),
            ("not UTF-8", "token=%FF"),
        ] {
            let answer = post(&url, rs, body).await;
            assert_eq!(answer.status, 400, "{endpoint} {what}: {}", answer.body);
            assert_eq!(
                answer.json()["error"],
                "invalid_request",
                "{endpoint} {what}"
            );
        }
        let json = client()
            .post(&url)
            .basic_auth("rs", Some("rs-secret"))
            .json(&json!({"token": "rt_good"}))
            .send()
            .await
            .expect("send");
        assert_eq!(json.status(), 400, "{endpoint}: JSON body");

        // 16 KiB is the cap; just under passes the size check, just over does not.
        let under = format!("token=rt_good&pad={}", "a".repeat(16 * 1024 - 19));
        assert_eq!(under.len(), 16 * 1024 - 1);
        assert_eq!(post(&url, rs, &under).await.status, 200, "{endpoint}");
        let over = format!("token=rt_good&pad={}", "a".repeat(16 * 1024));
        let answer = post(&url, rs, &over).await;
        assert_eq!(answer.status, 413, "{endpoint}");
        assert_eq!(answer.json()["error"], "invalid_request");
    }
    assert!(
        server
            .fallback_calls
            .lock()
            .expect("lock")
            .iter()
            .all(|(_, token, _)| token == "rt_good")
    );
}

/// A body that streams `pad=` and 1 KiB chunks of padding, then `&token=opaque`, without
/// announcing its length, as a chunked upload does.
struct Chunks {
    sent: usize,
    total: usize,
}

impl http_body::Body for Chunks {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let chunk = match self.sent {
            n if n == self.total => return std::task::Poll::Ready(None),
            0 => "pad=".to_owned(),
            n if n + 1 == self.total => "&token=opaque".to_owned(),
            _ => "x".repeat(1024),
        };
        self.sent += 1;
        std::task::Poll::Ready(Some(Ok(http_body::Frame::data(bytes::Bytes::from(chunk)))))
    }
}

#[tokio::test]
async fn a_body_without_length_is_cut_at_the_cap() {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let issuer = issuer();
    let endpoint = IntrospectionEndpoint::new(local_verifier(&issuer), clients());
    let request = |chunks: usize| {
        http::Request::post("/introspect")
            .header("content-type", FORM)
            .header("authorization", "Basic cnM6cnMtc2VjcmV0") // rs:rs-secret
            .body(Chunks {
                sent: 0,
                total: chunks,
            })
            .expect("request")
    };
    let response = endpoint.clone().oneshot(request(64)).await.expect("call");
    assert_eq!(response.status(), 413);
    // The same stream is read whole under a larger cap, and a shorter one under the default.
    for (endpoint, chunks) in [
        (endpoint.clone().max_body_bytes(128 * 1024), 64),
        (endpoint, 4),
    ] {
        let response = endpoint.oneshot(request(chunks)).await.expect("call");
        assert_eq!(response.status(), 200, "{chunks}");
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        assert_eq!(&body[..], br#"{"active":false}"#);
    }
}

/// A body that fails when read.
struct Broken;

impl http_body::Body for Broken {
    type Data = bytes::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::task::Poll::Ready(Some(Err(std::io::Error::other("connection reset"))))
    }
}

#[tokio::test]
async fn a_declared_length_over_the_cap_is_refused_before_reading() {
    use tower::ServiceExt;
    let endpoint = RevocationEndpoint::new(clients());
    let request = |length: Option<&str>| {
        let mut request = http::Request::post("/revoke").header("content-type", FORM);
        if let Some(length) = length {
            request = request.header("content-length", length);
        }
        request.body(Broken).expect("request")
    };
    // Not read at all: the broken body is never polled.
    let response = endpoint
        .clone()
        .oneshot(request(Some("16385")))
        .await
        .expect("call");
    assert_eq!(response.status(), 413);
    // Read, and failing: 400.
    for length in [None, Some("16384")] {
        let response = endpoint
            .clone()
            .oneshot(request(length))
            .await
            .expect("call");
        assert_eq!(response.status(), 400, "{length:?}");
    }
}

#[tokio::test]
async fn jwt_access_tokens_cannot_be_revoked() {
    let issuer = issuer();
    let server = full_server(local_verifier(&issuer)).await;
    let url = format!("{}/revoke", server.url);
    let rs = Some(("rs", "rs-secret"));
    let token = issuer
        .mint(&TokenRequest::new("alice", "shop", [AUDIENCE]))
        .expect("mint");
    let expired = issuer
        .mint_at(
            &TokenRequest::new("alice", "shop", [AUDIENCE]).lifetime(Duration::from_secs(1)),
            NumericDate::from_secs(1_000_000_000),
        )
        .expect("mint");
    for (what, body) in [
        ("valid", format!("token={token}")),
        (
            "with its hint",
            format!("token={token}&token_type_hint=access_token"),
        ),
        (
            "with a refresh hint",
            format!("token={token}&token_type_hint=refresh_token"),
        ),
        ("expired", format!("token={expired}")),
        // Three segments that are not readable, declared an access token.
        ("hinted", "token=a.b.c&token_type_hint=access_token".into()),
    ] {
        let answer = post(&url, rs, &body).await;
        assert_eq!(answer.status, 400, "{what}: {}", answer.body);
        assert_eq!(
            answer.body, r#"{"error":"unsupported_token_type"}"#,
            "{what}"
        );
        assert_eq!(answer.header("cache-control"), Some("no-store"));
    }
    assert!(server.revocations.lock().expect("lock").is_empty());
    // The token is, as documented, still active.
    assert_eq!(introspect(&server.url, &token).await.json()["active"], true);
}

#[tokio::test]
async fn other_tokens_go_to_the_revocation_handler() {
    let issuer = issuer();
    let server = full_server(local_verifier(&issuer)).await;
    let url = format!("{}/revoke", server.url);
    for (basic, body) in [
        (
            Some(("rs", "rs-secret")),
            "token=rt_1&token_type_hint=refresh_token",
        ),
        (
            None,
            "token=rt_2&client_id=reports&client_secret=reports-secret",
        ),
        // An opaque token declared an access token is still searched for (RFC 7009 §2.1).
        (
            Some(("rs", "rs-secret")),
            "token=opaque&token_type_hint=access_token",
        ),
        // Three segments that are not an access token: not declined.
        (Some(("rs", "rs-secret")), "token=a.b.c"),
    ] {
        let answer = post(&url, basic, body).await;
        assert_eq!(answer.status, 200, "{body}: {}", answer.body);
        assert_eq!(answer.body, "", "{body}");
        assert_eq!(answer.header("cache-control"), Some("no-store"));
    }
    assert_eq!(
        server.revocations.lock().expect("lock").clone(),
        vec![
            ("rs".into(), "rt_1".into(), Some("refresh_token".into())),
            ("reports".into(), "rt_2".into(), None),
            ("rs".into(), "opaque".into(), Some("access_token".into())),
            ("rs".into(), "a.b.c".into(), None),
        ]
    );
    let rs = Some(("rs", "rs-secret"));
    let answer = post(&url, rs, "token=store_down").await;
    assert_eq!(
        (answer.status, answer.header("retry-after")),
        (503, Some("5"))
    );
    assert_eq!(answer.json()["error"], "temporarily_unavailable");
    let answer = post(&url, rs, "token=unsupported").await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.body, r#"{"error":"unsupported_token_type"}"#);
}

#[tokio::test]
async fn without_a_handler_revocation_answers_200() {
    let issuer = issuer();
    let server = bare_server(local_verifier(&issuer)).await;
    let url = format!("{server}/revoke");
    let answer = post(&url, Some(("rs", "rs-secret")), "token=anything").await;
    assert_eq!((answer.status, answer.body.as_str()), (200, ""));
    let token = issuer
        .mint(&TokenRequest::new("alice", "shop", [AUDIENCE]))
        .expect("mint");
    let answer = post(&url, Some(("rs", "rs-secret")), &format!("token={token}")).await;
    assert_eq!(answer.status, 400);
}
