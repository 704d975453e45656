//! A tonic gRPC server protected by RFC 9068 access tokens, with per-method requirements.
//!
//! ```text
//! cargo run --example grpc_server --features tonic
//! ```
//!
//! Service `demo.Items` (hand-written, so no `protoc` is needed):
//! - `/demo.Items/WhoAmI`: any valid token; answers the subject, client and scope;
//! - `/demo.Items/List`: scope `items:read`;
//! - `/demo.Items/Add`: scope `items:write`;
//! - `/demo.Items/Purge`: role `admin`.
//!
//! Refusals are gRPC-native: `grpc-status` 16 (UNAUTHENTICATED), 7 (PERMISSION_DENIED) or 14
//! (UNAVAILABLE), with the RFC 6750 `www-authenticate` challenge in the metadata. Without
//! `ISSUER` a development issuer signs tokens (static keys); with `ISSUER` (and optional
//! `JWKS_URI`, `AUDIENCE`) the server trusts that issuer. `LISTEN` defaults to
//! `127.0.0.1:50051`. On start it calls itself once with each token and prints the answers.

use jwt_access_token::integrations::tonic::claims;
use jwt_access_token::require::{RequireByPathLayer, role, scope};
use jwt_access_token::{
    AccessTokenVerifier, Algorithm, JwtAccessTokenIssuer, JwtAccessTokenLayer, KeySet, KeySource,
    RemoteKeySet, SigningKey, TokenRequest, Validator,
};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tonic::codegen::http;
use tonic::transport::{Channel, Server};
use tonic::{Status, body::Body};
use tonic_prost::ProstCodec;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The messages of `demo.Items`.
pub mod messages {
    /// No fields.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Empty {}

    /// Who the token says the caller is.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct WhoAmIReply {
        /// `sub`.
        #[prost(string, tag = "1")]
        pub subject: String,
        /// `client_id`.
        #[prost(string, tag = "2")]
        pub client_id: String,
        /// `scope`.
        #[prost(string, tag = "3")]
        pub scope: String,
    }

    /// The items.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ItemList {
        /// The item names.
        #[prost(string, repeated, tag = "1")]
        pub items: Vec<String>,
    }

    /// An item to add.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct NewItem {
        /// Its name.
        #[prost(string, tag = "1")]
        pub name: String,
    }
}

use messages::{Empty, ItemList, NewItem, WhoAmIReply};

/// The `demo.Items` service: what `tonic-build` would generate, written out.
#[derive(Clone, Default)]
pub struct ItemsService {
    items: Arc<Mutex<Vec<String>>>,
}

impl tonic::server::NamedService for ItemsService {
    const NAME: &'static str = "demo.Items";
}

type Unary<Req, Res> = tower::util::ServiceFn<
    Box<
        dyn FnMut(tonic::Request<Req>) -> std::future::Ready<Result<tonic::Response<Res>, Status>>
            + Send,
    >,
>;

fn unary<Req: 'static, Res: 'static>(
    f: impl Fn(tonic::Request<Req>) -> Result<Res, Status> + Send + 'static,
) -> Unary<Req, Res> {
    tower::service_fn(Box::new(move |request| {
        std::future::ready(f(request).map(tonic::Response::new))
    }))
}

impl tower::Service<http::Request<Body>> for ItemsService {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let items = self.items.clone();
        Box::pin(async move {
            Ok(match request.uri().path() {
                "/demo.Items/WhoAmI" => {
                    let handler = unary(|request: tonic::Request<Empty>| {
                        let claims = claims(&request)?;
                        Ok(WhoAmIReply {
                            subject: claims.sub.clone().unwrap_or_default(),
                            client_id: claims.client_id.clone().unwrap_or_default(),
                            scope: claims.scope.to_string(),
                        })
                    });
                    tonic::server::Grpc::new(ProstCodec::default())
                        .unary(handler, request)
                        .await
                }
                "/demo.Items/List" => {
                    let handler = unary(move |_: tonic::Request<Empty>| {
                        let items = items.lock().map_err(|_| Status::internal("poisoned"))?;
                        Ok(ItemList {
                            items: items.clone(),
                        })
                    });
                    tonic::server::Grpc::new(ProstCodec::default())
                        .unary(handler, request)
                        .await
                }
                "/demo.Items/Add" => {
                    let handler = unary(move |request: tonic::Request<NewItem>| {
                        let mut items = items.lock().map_err(|_| Status::internal("poisoned"))?;
                        items.push(request.into_inner().name);
                        Ok(ItemList {
                            items: items.clone(),
                        })
                    });
                    tonic::server::Grpc::new(ProstCodec::default())
                        .unary(handler, request)
                        .await
                }
                "/demo.Items/Purge" => {
                    let handler = unary(move |_: tonic::Request<Empty>| {
                        items
                            .lock()
                            .map_err(|_| Status::internal("poisoned"))?
                            .clear();
                        Ok(Empty {})
                    });
                    tonic::server::Grpc::new(ProstCodec::default())
                        .unary(handler, request)
                        .await
                }
                _ => Status::unimplemented("no such method").into_http(),
            })
        })
    }
}

/// Serves `demo.Items` on `listener`, behind the authentication layer and the per-method
/// requirements.
pub async fn serve(
    listener: tokio::net::TcpListener,
    verifier: AccessTokenVerifier,
) -> Result<(), tonic::transport::Error> {
    let per_method = RequireByPathLayer::new()
        .path("/demo.Items/List", scope("items:read"))
        .path("/demo.Items/Add", scope("items:write"))
        .path("/demo.Items/Purge", role("admin"));
    Server::builder()
        .layer(JwtAccessTokenLayer::new(verifier).realm("grpc example"))
        .layer(per_method)
        .add_service(ItemsService::default())
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
        .await
}

/// Calls one unary method of `demo.Items` with an optional bearer token.
pub async fn call<Req, Res>(
    channel: Channel,
    method: &'static str,
    token: Option<&str>,
    message: Req,
) -> Result<Res, Status>
where
    Req: prost::Message + Send + Sync + 'static,
    Res: prost::Message + Default + Send + Sync + 'static,
{
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let mut request = tonic::Request::new(message);
    if let Some(token) = token {
        let value = format!("Bearer {token}")
            .parse()
            .map_err(|_| Status::invalid_argument("token"))?;
        request.metadata_mut().insert("authorization", value);
    }
    let path = http::uri::PathAndQuery::from_static(method);
    Ok(grpc
        .unary(request, path, ProstCodec::default())
        .await?
        .into_inner())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let listen = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:50051".into());
    let audience = std::env::var("AUDIENCE").unwrap_or_else(|_| "https://api.example".into());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    let address = listener.local_addr()?;

    let (issuer_id, keys, dev): (String, KeySource, Option<JwtAccessTokenIssuer>) =
        match std::env::var("ISSUER") {
            Ok(issuer) => {
                let keys = match std::env::var("JWKS_URI") {
                    Ok(uri) => RemoteKeySet::from_jwks_uri(&uri)?,
                    Err(_) => RemoteKeySet::discover(&issuer)?,
                };
                (issuer, keys.into(), None)
            }
            Err(_) => {
                let dev = JwtAccessTokenIssuer::new(
                    "https://dev-issuer.example",
                    SigningKey::generate(Algorithm::ES256, "dev-1")?,
                )?;
                let keys = KeySet::from_jwks(&dev.jwks().to_string())?;
                (dev.issuer().to_owned(), keys.into(), Some(dev))
            }
        };
    let verifier =
        AccessTokenVerifier::new(Validator::new(issuer_id.clone(), [audience.clone()])?, keys)?;
    verifier.prefetch().await?;
    let server = tokio::spawn(serve(listener, verifier));
    println!("gRPC server demo.Items on http://{address}, trusting {issuer_id} for {audience}");

    if let Some(dev) = dev {
        let reader = dev.mint(
            &TokenRequest::new("bob", "grpc-client", [audience.as_str()]).scope("items:read"),
        )?;
        let admin = dev.mint(
            &TokenRequest::new("alice", "grpc-client", [audience.as_str()])
                .scope("items:read items:write")
                .roles(["admin"]),
        )?;
        println!("  export READ_TOKEN={reader}");
        println!("  export ADMIN_TOKEN={admin}");
        let channel = Channel::from_shared(format!("http://{address}"))?
            .connect()
            .await?;
        let who: Result<WhoAmIReply, _> = call(
            channel.clone(),
            "/demo.Items/WhoAmI",
            Some(&admin),
            Empty {},
        )
        .await;
        println!("WhoAmI with ADMIN_TOKEN: {who:?}");
        let add: Result<ItemList, _> = call(
            channel.clone(),
            "/demo.Items/Add",
            Some(&reader),
            NewItem {
                name: "pear".into(),
            },
        )
        .await;
        println!(
            "Add with READ_TOKEN: {:?}",
            add.map_err(|s| (s.code(), s.message().to_owned()))
        );
        let add: Result<ItemList, _> = call(
            channel.clone(),
            "/demo.Items/Add",
            Some(&admin),
            NewItem {
                name: "pear".into(),
            },
        )
        .await;
        println!("Add with ADMIN_TOKEN: {add:?}");
        let none: Result<ItemList, _> = call(channel, "/demo.Items/List", None, Empty {}).await;
        println!(
            "List without a token: {:?}",
            none.map_err(|s| (s.code(), s.message().to_owned()))
        );
    }
    server.await??;
    Ok(())
}
