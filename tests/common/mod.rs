//! Real servers on 127.0.0.1 for the integration tests: an issuer that serves RFC 8414 /
//! OpenID metadata and a JWKS (and can fail on command), and the protected axum app.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use jwt_access_token::require::{entitlement, group, require, role, scope};
use jwt_access_token::{
    AccessTokenVerifier, Algorithm, Claims, JwtAccessTokenIssuer, JwtAccessTokenLayer, SigningKey,
    TokenRequest,
};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const AUDIENCE: &str = "https://api.example";

/// How the test issuer answers JWKS requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Normal,
    Error500,
    Garbage,
    Hang,
    /// Answers normally after 300 ms.
    Slow,
    /// A body over any small size cap.
    Huge,
    /// A set whose first entry is unusable (an encryption key with a malformed modulus).
    OneBadKey,
}

/// Which metadata documents the issuer serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metadata {
    Rfc8414,
    OpenIdOnly,
    /// RFC 8414 metadata that names another issuer.
    WrongIssuer,
}

struct IssuerState {
    issuer: Mutex<JwtAccessTokenIssuer>,
    jwks_hits: AtomicUsize,
    not_modified: AtomicUsize,
    cache_control: Mutex<Option<String>>,
    metadata_hits: AtomicUsize,
    mode: Mutex<Mode>,
    metadata: Metadata,
}

/// An authorization server on 127.0.0.1 built on the crate's generator.
#[derive(Clone)]
pub struct TestIssuer {
    pub url: String,
    state: Arc<IssuerState>,
}

impl TestIssuer {
    pub async fn start(alg: Algorithm) -> TestIssuer {
        Self::start_with(alg, Metadata::Rfc8414).await
    }

    pub async fn start_with(alg: Algorithm, metadata: Metadata) -> TestIssuer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let key = SigningKey::generate(alg, "key-1").expect("key");
        let issuer = JwtAccessTokenIssuer::new(url.clone(), key).expect("issuer");
        let state = Arc::new(IssuerState {
            issuer: Mutex::new(issuer),
            jwks_hits: AtomicUsize::new(0),
            not_modified: AtomicUsize::new(0),
            cache_control: Mutex::new(None),
            metadata_hits: AtomicUsize::new(0),
            mode: Mutex::new(Mode::Normal),
            metadata,
        });
        let routes = Router::new()
            .route("/jwks", get(jwks))
            .route("/.well-known/oauth-authorization-server", get(rfc8414))
            .route("/.well-known/openid-configuration", get(openid))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, routes).await });
        TestIssuer { url, state }
    }

    pub fn jwks_uri(&self) -> String {
        format!("{}/jwks", self.url)
    }

    pub fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }

    pub fn metadata_hits(&self) -> usize {
        self.state.metadata_hits.load(Ordering::SeqCst)
    }

    /// JWKS answers that were 304 Not Modified.
    pub fn not_modified(&self) -> usize {
        self.state.not_modified.load(Ordering::SeqCst)
    }

    /// The `Cache-Control` header of JWKS answers.
    pub fn set_cache_control(&self, value: Option<&str>) {
        *self.state.cache_control.lock().expect("lock") = value.map(str::to_owned);
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.state.mode.lock().expect("lock") = mode;
    }

    pub fn jwks(&self) -> Value {
        self.state.issuer.lock().expect("lock").jwks()
    }

    /// Signs with a new key from now on; the old one stays published.
    pub fn rotate(&self, alg: Algorithm, kid: &str) {
        let key = SigningKey::generate(alg, kid).expect("key");
        self.state.issuer.lock().expect("lock").rotate(key);
    }

    /// Stops publishing retired keys.
    pub fn drop_retired_keys(&self) {
        self.state.issuer.lock().expect("lock").drop_retired_keys();
    }

    pub fn mint(&self, request: TokenRequest) -> String {
        self.state
            .issuer
            .lock()
            .expect("lock")
            .mint(&request)
            .expect("mint")
    }

    /// A token for the test audience with these scopes.
    pub fn token(&self, scopes: &str) -> String {
        self.mint(TokenRequest::new("alice", "client-1", [AUDIENCE]).scope(scopes))
    }

    /// Signs raw header and payload bytes with the current key.
    pub fn sign_raw_bytes(&self, header: &[u8], payload: &[u8]) -> String {
        let issuer = self.state.issuer.lock().expect("lock");
        issuer
            .signing_key()
            .sign_compact(header, payload)
            .expect("sign")
    }

    /// Signs raw header and claims JSON with the current key.
    pub fn sign_raw(&self, header: &Value, claims: &Value) -> String {
        let issuer = self.state.issuer.lock().expect("lock");
        issuer
            .signing_key()
            .sign_compact(header.to_string().as_bytes(), claims.to_string().as_bytes())
            .expect("sign")
    }
}

async fn jwks(State(state): State<Arc<IssuerState>>, headers: axum::http::HeaderMap) -> Response {
    state.jwks_hits.fetch_add(1, Ordering::SeqCst);
    let mode = *state.mode.lock().expect("lock");
    let normal = |state: &IssuerState| {
        let body = state.issuer.lock().expect("lock").jwks().to_string();
        // A strong validator derived from the content, as real servers do.
        let etag = format!(
            "\"{:x}\"",
            body.bytes()
                .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64))
        );
        let cache_control = state.cache_control.lock().expect("lock").clone();
        let mut response =
            if headers.get("if-none-match").and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
                state.not_modified.fetch_add(1, Ordering::SeqCst);
                StatusCode::NOT_MODIFIED.into_response()
            } else {
                ([("content-type", "application/json")], body).into_response()
            };
        response
            .headers_mut()
            .insert("etag", etag.parse().expect("etag"));
        if let Some(cc) = cache_control {
            response
                .headers_mut()
                .insert("cache-control", cc.parse().expect("cache-control"));
        }
        response
    };
    match mode {
        Mode::Normal => normal(&state),
        Mode::Slow => {
            tokio::time::sleep(Duration::from_millis(300)).await;
            normal(&state)
        }
        Mode::Huge => "x".repeat(1024 * 1024).into_response(),
        Mode::OneBadKey => {
            let mut jwks = state.issuer.lock().expect("lock").jwks();
            if let Some(keys) = jwks["keys"].as_array_mut() {
                keys.insert(
                    0,
                    json!({"kty":"RSA","kid":"bad","use":"enc","n":"AQAB","e":"AQAB"}),
                );
                keys.insert(1, json!({"kty":"oct","kid":"hmac","k":"c2VjcmV0"}));
            }
            Json(jwks).into_response()
        }
        Mode::Error500 => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        Mode::Garbage => "<html>not a jwks</html>".into_response(),
        Mode::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
    }
}

fn metadata_document(state: &IssuerState, issuer: &str) -> Value {
    let issuer_id = state.issuer.lock().expect("lock").issuer().to_owned();
    let jwks_uri = format!("{issuer_id}/jwks");
    json!({"issuer": issuer, "jwks_uri": jwks_uri, "token_endpoint": format!("{issuer_id}/token")})
}

async fn rfc8414(State(state): State<Arc<IssuerState>>) -> Response {
    state.metadata_hits.fetch_add(1, Ordering::SeqCst);
    let issuer_id = state.issuer.lock().expect("lock").issuer().to_owned();
    match state.metadata {
        Metadata::Rfc8414 => Json(metadata_document(&state, &issuer_id)).into_response(),
        Metadata::OpenIdOnly => StatusCode::NOT_FOUND.into_response(),
        Metadata::WrongIssuer => {
            Json(metadata_document(&state, "https://impostor.example")).into_response()
        }
    }
}

async fn openid(State(state): State<Arc<IssuerState>>) -> Response {
    state.metadata_hits.fetch_add(1, Ordering::SeqCst);
    let issuer_id = state.issuer.lock().expect("lock").issuer().to_owned();
    Json(metadata_document(&state, &issuer_id)).into_response()
}

/// The protected app used by the HTTP tests.
pub fn app(layer: JwtAccessTokenLayer) -> Router {
    Router::new()
        .route("/me", get(|Claims(c): Claims| async move { Json(serde_json::to_value(&*c).unwrap_or_default()) }))
        .route(
            "/maybe",
            get(|c: Option<Claims>| async move { c.and_then(|c| c.0.sub.clone()).unwrap_or_else(|| "anonymous".into()) }),
        )
        .route("/items", get(|| async { "items" }).route_layer(require(scope("items:read"))))
        .route(
            "/edit",
            get(|| async { "edit" }).route_layer(require(scope("items:write").and(role("editor").or(role("admin"))))),
        )
        .route("/admin", get(|| async { "admin" }).route_layer(require(role("admin"))))
        .route("/eng", get(|| async { "eng" }).route_layer(require(group("engineering"))))
        .route("/billing", get(|| async { "billing" }).route_layer(require(entitlement("billing"))))
        .layer(layer)
        // Deliberately outside the authentication layer: must answer 500, never 200.
        .route("/misconfigured", get(|| async { "leak" }).route_layer(require(scope("x"))))
        .route("/health", get(|| async { "ok" }))
}

/// Serves `router` on 127.0.0.1 and returns its base URL.
pub async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

/// Starts the app protected by `verifier` and returns its base URL.
pub async fn serve_app(verifier: AccessTokenVerifier) -> String {
    serve(app(JwtAccessTokenLayer::new(verifier).realm("test"))).await
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// GETs `url` with an optional bearer token; returns status, WWW-Authenticate and body.
pub async fn get_with(url: &str, token: Option<&str>) -> (u16, Option<String>, String) {
    let mut request = client().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().expect("ascii").to_owned());
    (status, challenge, response.text().await.expect("body"))
}
