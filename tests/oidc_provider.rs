//! Interop with a real, certified OpenID provider: oidc-provider (npm), started from
//! `tests/interop/oidc-provider/server.mjs` on 127.0.0.1 and configured to issue RFC 9068 JWT
//! access tokens for the client credentials grant with a resource indicator (RFC 8707).
//! Real tokens from its token endpoint are sent to our axum app, whose keys are found by
//! discovery against the provider's own metadata.
//!
//! Needs `node` and `npm ci --prefix tests/interop/oidc-provider` (`.ci/run` does it). When
//! either is missing the tests fail with that instruction: they never skip.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use axum::Router;
use axum::routing::get;
use base64::Engine;
use common::{AUDIENCE, client, get_with, serve, serve_app};
use jwt_access_token::require::{require, scope};
use jwt_access_token::{AccessTokenVerifier, JwtAccessTokenLayer, RemoteKeySet, Validator};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

const CLIENT_ID: &str = "interop-client";
const CLIENT_SECRET: &str = "interop-secret";

/// The crate root: where `cargo test` runs us from (at run time, so a binary built from
/// another checkout in a shared target directory still looks here), else where we were built.
fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

fn interop_dir() -> PathBuf {
    manifest_dir().join("tests/interop/oidc-provider")
}

/// The provider process; killed when dropped.
struct OidcProvider {
    child: Child,
    issuer: String,
    /// The signing key's `kid` at start.
    kid: String,
    stderr: Arc<Mutex<String>>,
}

impl OidcProvider {
    fn start() -> OidcProvider {
        let dir = interop_dir();
        match Command::new("node").arg("--version").output() {
            Ok(out) if out.status.success() => {}
            other => panic!(
                "oidc-provider interop needs `node` on PATH (it is not: {other:?}); \
                 install Node.js 20+ and run `npm ci --prefix tests/interop/oidc-provider` \
                 (.ci/run does the npm part)"
            ),
        }
        assert!(
            dir.join("node_modules/oidc-provider/package.json")
                .is_file(),
            "oidc-provider is not installed in {}: run `npm ci --prefix tests/interop/oidc-provider` \
             (.ci/run does it)",
            dir.display()
        );
        let mut child = Command::new("node")
            .arg(dir.join("server.mjs"))
            .arg("0")
            .current_dir(&dir)
            // Closing our end of stdin also stops the server, should this process die.
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn node tests/interop/oidc-provider/server.mjs");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().expect("stderr");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = tx.send(lines.next());
            // Keep draining so the server never blocks on a full pipe.
            for _ in lines {}
        });
        let mut provider = OidcProvider {
            child,
            issuer: String::new(),
            kid: String::new(),
            stderr,
        };
        let first = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Some(Ok(line))) => line,
            other => panic!(
                "oidc-provider did not print its URL ({other:?}); stderr:\n{}",
                provider.stderr()
            ),
        };
        let ready: Value = serde_json::from_str(&first)
            .unwrap_or_else(|e| panic!("first line {first:?} is not JSON: {e}"));
        provider.issuer = ready["issuer"].as_str().expect("issuer").to_owned();
        provider.kid = ready["kid"].as_str().expect("kid").to_owned();
        provider
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// A token from the token endpoint: client credentials, client_secret_basic, for the
    /// resource indicator `resource` (none: the provider issues an opaque token).
    async fn token(&self, resource: Option<&str>, scope: &str) -> String {
        let mut body = format!("grant_type=client_credentials&scope={}", encode(scope));
        if let Some(resource) = resource {
            body.push_str(&format!("&resource={}", encode(resource)));
        }
        let response = client()
            .post(format!("{}/token", self.issuer))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("token request");
        let status = response.status();
        let json: Value = response.json().await.expect("token response");
        assert_eq!(
            status,
            200,
            "token endpoint: {json}; stderr:\n{}",
            self.stderr()
        );
        assert_eq!(json["token_type"], "Bearer");
        json["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// Restarts the provider with a new signing key first and the old one still published.
    async fn rotate(&self) -> String {
        let r: Value = client()
            .post(format!("{}/test-admin/rotate", self.issuer))
            .send()
            .await
            .expect("rotate")
            .json()
            .await
            .expect("rotate json");
        r["kid"].as_str().expect("kid").to_owned()
    }

    /// The requests the provider served, as "METHOD /path".
    async fn served(&self) -> Vec<String> {
        client()
            .get(format!("{}/test-admin/requests", self.issuer))
            .send()
            .await
            .expect("requests")
            .json()
            .await
            .expect("requests json")
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn decode_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).expect("segment");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("json")
}

fn verifier(provider: &OidcProvider) -> AccessTokenVerifier {
    AccessTokenVerifier::new(
        Validator::new(provider.issuer.clone(), [AUDIENCE]).expect("validator"),
        RemoteKeySet::discover(&provider.issuer)
            .expect("keys")
            .cooldown(Duration::from_millis(200)),
    )
    .expect("verifier")
}

#[tokio::test]
async fn provider_tokens_are_rfc9068_and_accepted_after_discovery() {
    let provider = OidcProvider::start();
    let token = provider.token(Some(AUDIENCE), "items:read").await;

    // What oidc-provider issues: typ at+jwt, RS256, its kid; every RFC 9068 §2.2 claim.
    let header = decode_part(&token, 0);
    assert_eq!(header["typ"], "at+jwt", "{header}");
    assert_eq!(header["alg"], "RS256", "{header}");
    assert_eq!(header["kid"], provider.kid.as_str(), "{header}");
    let claims = decode_part(&token, 1);
    let mut names: Vec<&str> = claims
        .as_object()
        .expect("claims")
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "aud",
            "client_id",
            "exp",
            "iat",
            "iss",
            "jti",
            "scope",
            "sub"
        ],
        "{claims}"
    );
    assert_eq!(claims["iss"], provider.issuer.as_str());
    assert_eq!(claims["aud"], AUDIENCE, "one audience, as a string");
    assert_eq!(
        claims["sub"], CLIENT_ID,
        "client credentials: sub is the client"
    );
    assert_eq!(claims["client_id"], CLIENT_ID);
    assert_eq!(claims["scope"], "items:read");

    let app = serve_app(verifier(&provider)).await;
    let (status, _, body) = get_with(&format!("{app}/me"), Some(&token)).await;
    assert_eq!(
        status,
        200,
        "{body}; provider stderr:\n{}",
        provider.stderr()
    );
    let seen: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(seen["sub"], CLIENT_ID);
    assert_eq!(seen["client_id"], CLIENT_ID);
    assert_eq!(seen["iss"], provider.issuer.as_str());
    let (status, _, _) = get_with(&format!("{app}/items"), Some(&token)).await;
    assert_eq!(status, 200, "items:read satisfies /items");

    // Discovery used the provider's RFC 8414 metadata (tried first, and it answers), then
    // the jwks_uri named there; OpenID discovery was never needed.
    let served = provider.served().await;
    let metadata: Vec<&String> = served
        .iter()
        .filter(|r| r.contains("/.well-known/"))
        .collect();
    assert_eq!(
        metadata,
        ["GET /.well-known/oauth-authorization-server"],
        "{served:?}"
    );
    assert!(served.contains(&"GET /jwks".to_owned()), "{served:?}");
    // Its metadata says so itself.
    let doc: Value = client()
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            provider.issuer
        ))
        .send()
        .await
        .expect("metadata")
        .json()
        .await
        .expect("metadata json");
    assert_eq!(doc["issuer"], provider.issuer.as_str());
    assert_eq!(doc["jwks_uri"], format!("{}/jwks", provider.issuer));

    // Without a resource indicator the provider issues an opaque token: never accepted.
    let opaque = provider.token(None, "items:read").await;
    assert_eq!(opaque.split('.').count(), 1, "{opaque}");
    let (status, challenge, _) = get_with(&format!("{app}/me"), Some(&opaque)).await;
    assert_eq!(status, 401);
    assert!(
        challenge
            .as_deref()
            .unwrap_or_default()
            .contains("error=\"invalid_token\""),
        "{challenge:?}"
    );
}

#[tokio::test]
async fn scope_requirements_are_enforced_on_provider_tokens() {
    let provider = OidcProvider::start();
    let router = Router::new()
        .route(
            "/read",
            get(|| async { "read" }).route_layer(require(scope("items:read"))),
        )
        .route(
            "/write",
            get(|| async { "written" }).route_layer(require(scope("items:write"))),
        )
        .layer(JwtAccessTokenLayer::new(verifier(&provider)).realm("interop"));
    let app = serve(router).await;

    let reader = provider.token(Some(AUDIENCE), "items:read").await;
    assert_eq!(get_with(&format!("{app}/read"), Some(&reader)).await.0, 200);
    let (status, challenge, _) = get_with(&format!("{app}/write"), Some(&reader)).await;
    assert_eq!(status, 403);
    assert_eq!(
        challenge.as_deref(),
        Some(
            "Bearer realm=\"interop\", error=\"insufficient_scope\", \
             error_description=\"requires scope items:write\", scope=\"items:write\""
        )
    );

    let writer = provider
        .token(Some(AUDIENCE), "items:read items:write")
        .await;
    assert_eq!(decode_part(&writer, 1)["scope"], "items:read items:write");
    assert_eq!(
        get_with(&format!("{app}/write"), Some(&writer)).await.0,
        200
    );
    assert_eq!(get_with(&format!("{app}/read"), Some(&writer)).await.0, 200);
}

#[tokio::test]
async fn tokens_signed_after_the_provider_rotates_its_key_are_accepted() {
    let provider = OidcProvider::start();
    let app = serve_app(verifier(&provider)).await;
    let before = provider.token(Some(AUDIENCE), "items:read").await;
    assert_eq!(get_with(&format!("{app}/me"), Some(&before)).await.0, 200);

    let new_kid = provider.rotate().await;
    assert_ne!(new_kid, provider.kid);
    let after = provider.token(Some(AUDIENCE), "items:read").await;
    assert_eq!(
        decode_part(&after, 0)["kid"],
        new_kid.as_str(),
        "the provider signs with the new key"
    );
    // Our cache refetches on the unknown kid once its cooldown (200 ms here) has passed.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _, body) = get_with(&format!("{app}/me"), Some(&after)).await;
    assert_eq!(
        status,
        200,
        "{body}; provider stderr:\n{}",
        provider.stderr()
    );
    // The old key is still published: tokens it signed keep working.
    assert_eq!(get_with(&format!("{app}/me"), Some(&before)).await.0, 200);

    let served = provider.served().await;
    let jwks_fetches = served.iter().filter(|r| *r == "GET /jwks").count();
    assert_eq!(
        jwks_fetches, 2,
        "one fetch at start, one for the new kid: {served:?}"
    );
    assert_eq!(
        served
            .iter()
            .filter(|r| r.contains("/.well-known/"))
            .count(),
        1,
        "the discovered jwks_uri is reused: {served:?}"
    );
}
