//! A resource server protected by RFC 9068 access tokens: the crate's main job, runnable.
//!
//! ```text
//! cargo run --example resource_server
//! ```
//!
//! Configured by environment:
//! - `ISSUER`: the authorization server's issuer identifier. Without it, a development issuer
//!   is started on loopback (RFC 8414 metadata and a JWKS), and ready-to-use tokens and `curl`
//!   commands are printed.
//! - `AUDIENCE`: this resource server's identifier (default `https://api.example`).
//! - `JWKS_URI`: the issuer's JWKS; without it, keys are found by discovery from `ISSUER`.
//! - `LISTEN`: the address to listen on (default `127.0.0.1:3000`).
//!
//! Routes: `GET /health` (open), `GET /me` (any valid token; answers the claims),
//! `GET /items` (scope `items:read`), `POST /items` (scope `items:write`), `GET /admin`
//! (role `admin`), `GET /eng` (group `engineering`), `GET /billing` (entitlement `billing`).

use axum::routing::get;
use axum::{Json, Router};
use jwt_access_token::require::{entitlement, group, require, role, scope};
use jwt_access_token::{
    AccessTokenVerifier, Algorithm, Claims, JwtAccessTokenIssuer, JwtAccessTokenLayer,
    RemoteKeySet, SigningKey, TokenRequest, Validator,
};
use serde_json::Value;
use std::error::Error;
use std::sync::Arc;

type BoxError = Box<dyn Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,jwt_access_token=debug".into()),
        )
        .with_writer(std::io::stderr)
        .init();

    let listen = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let audience = std::env::var("AUDIENCE").unwrap_or_else(|_| "https://api.example".into());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    let base = format!("http://{}", listener.local_addr()?);

    let (issuer_id, dev_issuer) = match std::env::var("ISSUER") {
        Ok(issuer) => (issuer, None),
        Err(_) => {
            let dev = start_development_issuer().await?;
            (dev.issuer().to_owned(), Some(dev))
        }
    };

    let keys = match std::env::var("JWKS_URI") {
        Ok(uri) => RemoteKeySet::from_jwks_uri(&uri)?,
        Err(_) => RemoteKeySet::discover(&issuer_id)?,
    };
    let verifier =
        AccessTokenVerifier::new(Validator::new(issuer_id.clone(), [audience.clone()])?, keys)?;
    // Fail fast with a clear message if the issuer cannot be reached.
    verifier.prefetch().await?;

    println!("Resource server on {base}, trusting issuer {issuer_id} for audience {audience}");
    if let Some(dev) = &dev_issuer {
        print_try_it(dev, &base, &audience)?;
    }
    axum::serve(listener, app(verifier)).await?;
    Ok(())
}

/// The routes, each with its requirement; `/health` stays outside the authentication layer.
fn app(verifier: AccessTokenVerifier) -> Router {
    Router::new()
        .route("/me", get(me))
        .route(
            "/items",
            get(|| async { Json(serde_json::json!(["apple", "pear"])) })
                .route_layer(require(scope("items:read")))
                .merge(
                    axum::routing::post(|| async {
                        (axum::http::StatusCode::CREATED, "created\n")
                    })
                    .route_layer(require(scope("items:write"))),
                ),
        )
        .route(
            "/admin",
            get(|| async { "admin area\n" }).route_layer(require(role("admin"))),
        )
        .route(
            "/eng",
            get(|| async { "engineering area\n" }).route_layer(require(group("engineering"))),
        )
        .route(
            "/billing",
            get(|| async { "billing area\n" }).route_layer(require(entitlement("billing"))),
        )
        .layer(JwtAccessTokenLayer::new(verifier).realm("resource_server example"))
        .route("/health", get(|| async { "ok\n" }))
}

async fn me(Claims(claims): Claims) -> Json<Value> {
    Json(serde_json::to_value(&*claims).unwrap_or_default())
}

/// An authorization server on loopback that publishes RFC 8414 metadata and its JWKS, built
/// on the crate's own token generator.
async fn start_development_issuer() -> Result<Arc<JwtAccessTokenIssuer>, BoxError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let issuer_id = format!("http://{}", listener.local_addr()?);
    let issuer = Arc::new(JwtAccessTokenIssuer::new(
        issuer_id.clone(),
        SigningKey::generate(Algorithm::RS256, "dev-1")?,
    )?);
    let metadata = issuer.metadata(&format!("{issuer_id}/jwks"));
    let jwks = issuer.jwks();
    let routes = Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            get(move || async move { Json(metadata) }),
        )
        .route("/jwks", get(move || async move { Json(jwks) }));
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, routes).await {
            tracing::error!(error = %e, "development issuer stopped");
        }
    });
    Ok(issuer)
}

fn print_try_it(dev: &JwtAccessTokenIssuer, base: &str, audience: &str) -> Result<(), BoxError> {
    let hour = std::time::Duration::from_secs(3600);
    let everything = dev.mint(
        &TokenRequest::new("alice", "example-client", [audience])
            .scope("items:read items:write")
            .roles(["admin"])
            .groups(["engineering"])
            .entitlements(["billing"])
            .lifetime(hour),
    )?;
    let reader = dev.mint(
        &TokenRequest::new("bob", "example-client", [audience])
            .scope("items:read")
            .lifetime(hour),
    )?;
    println!(
        "Development issuer on {} (RFC 8414 metadata, JWKS at /jwks)",
        dev.issuer()
    );
    println!();
    println!(
        "A token with scope \"items:read items:write\", role admin, group engineering, entitlement billing:"
    );
    println!("  export TOKEN={everything}");
    println!("A token with scope \"items:read\" only:");
    println!("  export READ_TOKEN={reader}");
    println!();
    println!("Try:");
    println!("  curl -i {base}/health");
    println!("  curl -i {base}/me                                             # 401, no token");
    println!("  curl -i -H \"Authorization: Bearer $TOKEN\" {base}/me");
    println!("  curl -i -H \"Authorization: Bearer $READ_TOKEN\" {base}/items");
    println!(
        "  curl -i -X POST -H \"Authorization: Bearer $READ_TOKEN\" {base}/items   # 403 insufficient_scope"
    );
    println!("  curl -i -X POST -H \"Authorization: Bearer $TOKEN\" {base}/items");
    println!("  curl -i -H \"Authorization: Bearer $TOKEN\" {base}/admin");
    println!("  curl -i -H \"Authorization: Bearer $TOKEN\" {base}/eng");
    println!("  curl -i -H \"Authorization: Bearer $TOKEN\" {base}/billing");
    println!("  curl -i -H \"Authorization: Bearer $READ_TOKEN\" {base}/billing      # 403");
    println!();
    Ok(())
}
