//! The layer on a bare hyper 1 service: no axum, no router, to show that the core needs no
//! framework.
//!
//! ```text
//! cargo run --example hyper_server
//! ```
//!
//! A development issuer signs a token (printed with `curl` commands); `GET /` answers the
//! token's subject, `GET /items` needs scope `items:read` (through a
//! [`RequireByPathLayer`](jwt_access_token::require::RequireByPathLayer)). `LISTEN` defaults to
//! `127.0.0.1:3001`.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use jwt_access_token::require::{RequireByPathLayer, scope};
use jwt_access_token::{
    AccessTokenClaims, AccessTokenVerifier, Algorithm, JwtAccessTokenIssuer, JwtAccessTokenLayer,
    KeySet, SigningKey, TokenRequest, Validator,
};
use std::convert::Infallible;
use std::sync::Arc;
use tower::ServiceBuilder;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The application: a plain async function from request to response.
async fn handle(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let subject = request
        .extensions()
        .get::<Arc<AccessTokenClaims>>()
        .and_then(|c| c.sub.clone())
        .unwrap_or_default();
    let (status, body) = match request.uri().path() {
        "/" => (StatusCode::OK, format!("hello {subject}\n")),
        "/items" => (StatusCode::OK, "apple\npear\n".to_owned()),
        _ => (StatusCode::NOT_FOUND, "not found\n".to_owned()),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    Ok(response)
}

/// Accepts connections on `listener` and serves each with hyper's HTTP/1 server, the
/// authentication layer and the per-path requirements in front of [`handle`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    verifier: AccessTokenVerifier,
) -> Result<(), BoxError> {
    let service = ServiceBuilder::new()
        .layer(JwtAccessTokenLayer::new(verifier))
        .layer(RequireByPathLayer::new().path("/items", scope("items:read")))
        .service_fn(handle);
    loop {
        let (stream, _) = listener.accept().await?;
        let service = TowerToHyperService::new(service.clone());
        tokio::spawn(async move {
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, "connection ended");
            }
        });
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let listen = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:3001".into());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    let base = format!("http://{}", listener.local_addr()?);
    let issuer = JwtAccessTokenIssuer::new(
        "https://dev-issuer.example",
        SigningKey::generate(Algorithm::EdDSA, "dev-1")?,
    )?;
    let keys = KeySet::from_jwks(&issuer.jwks().to_string())?;
    let verifier = AccessTokenVerifier::new(
        Validator::new(issuer.issuer(), ["https://api.example"])?,
        keys,
    )?;
    let token = issuer.mint(
        &TokenRequest::new("alice", "hyper-client", ["https://api.example"]).scope("items:read"),
    )?;
    println!("hyper server on {base}");
    println!("  export TOKEN={token}");
    println!("  curl -i -H \"Authorization: Bearer $TOKEN\" {base}/items");
    println!("  curl -i {base}/items        # 401");
    serve(listener, verifier).await
}
