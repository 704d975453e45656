//! Shared setup for the peer comparison (issue 6): one key, one token, and the same
//! one-route axum app (`GET /` → a static string) protected by each implementation.
//!
//! Used by `benches/peers.rs` (criterion, in process) and `src/bin/load_server.rs`
//! (HTTP on 127.0.0.1, driven by `load.sh` with wrk).

use std::error::Error;
use std::fmt;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::header::AUTHORIZATION;
use http::{HeaderValue, Request, Response};
use http_body_util::Empty;
use jwt_access_token::{
    AccessTokenVerifier, Algorithm, JwtAccessTokenIssuer, JwtAccessTokenLayer, KeySet, SigningKey,
    TokenRequest, Validator,
};
use serde::Deserialize;
use tower::{Service, ServiceExt};

/// Boxed error for setup code.
pub type BoxError = Box<dyn Error + Send + Sync>;

/// `iss` of every token.
pub const ISSUER: &str = "https://as.example";
/// `aud` of every token, and the audience every implementation is configured with.
pub const AUDIENCE: &str = "https://api.example";
/// `kid` of the signing key.
pub const KID: &str = "k1";
/// The protected route's body.
pub const BODY: &str = "hello";
/// Lifetime of minted tokens: long enough for any bench or load run.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(4 * 3600);

/// The verification material every implementation gets: the public JWKS as JSON text.
#[derive(Clone, Debug)]
pub struct Keys {
    /// Signing algorithm of the key.
    pub alg: Algorithm,
    /// `{"keys":[…]}` with one public key (`kid`, `alg`, `use: sig`).
    pub jwks_json: String,
}

/// A fresh signing key, its JWKS and one minted token.
pub struct Fixture {
    /// The issuer (holds the private key) for minting more tokens.
    pub issuer: JwtAccessTokenIssuer,
    /// Public key material.
    pub keys: Keys,
    /// One valid token (`typ: at+jwt`, `kid`, `iss`, `aud`, `exp`, `iat`, `jti`, `sub`,
    /// `client_id`, `scope`).
    pub token: String,
}

impl Fixture {
    /// A new key for `alg` and one token.
    pub fn generate(alg: Algorithm) -> Result<Self, BoxError> {
        let issuer = JwtAccessTokenIssuer::new(ISSUER, SigningKey::generate(alg, KID)?)?;
        let jwks_json = issuer.jwks().to_string();
        let token = mint(&issuer, "alice")?;
        Ok(Fixture {
            issuer,
            keys: Keys { alg, jwks_json },
            token,
        })
    }
}

/// One token for `sub`, like the issue's example (`scope: items:read`).
pub fn mint(issuer: &JwtAccessTokenIssuer, sub: &str) -> Result<String, BoxError> {
    Ok(issuer.mint(
        &TokenRequest::new(sub, "client", [AUDIENCE])
            .scope("items:read")
            .lifetime(TOKEN_LIFETIME),
    )?)
}

/// The implementations under comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Impl {
    /// The router with no authentication at all.
    Bare,
    /// `JwtAccessTokenLayer` with the verifier's default configuration.
    Ours,
    /// `JwtAccessTokenLayer` with the verdict cache turned off (once that exists; see
    /// [`ours_verifier`]): every request pays the full verification.
    OursNoCache,
    /// jwt-authorizer 0.15, key set from JWKS text (`JwtAuthorizer::from_jwks_text`).
    JwtAuthorizer,
    /// jwt-authorizer 0.15, key set from a JWKS URL on 127.0.0.1 (`from_jwks_url`, its
    /// README's example): its key store sits behind a `tokio::sync::Mutex` per request.
    JwtAuthorizerUrl,
    /// axum-jwks 0.12 (`Jwks::from_jwk_set`, the `Claims<T>` extractor of its docs).
    AxumJwks,
    /// tower-oauth2-resource-server 0.12, static JWKS, its default backend (RustCrypto).
    TowerOauth2,
    /// The same with jsonwebtoken's aws-lc-rs backend (its `jwt-aws-lc-rs` feature).
    TowerOauth2AwsLc,
}

impl Impl {
    /// Every implementation, in table order.
    pub const ALL: [Impl; 8] = [
        Impl::Bare,
        Impl::Ours,
        Impl::OursNoCache,
        Impl::JwtAuthorizer,
        Impl::JwtAuthorizerUrl,
        Impl::AxumJwks,
        Impl::TowerOauth2,
        Impl::TowerOauth2AwsLc,
    ];

    /// Command-line and table name.
    pub fn name(self) -> &'static str {
        match self {
            Impl::Bare => "bare",
            Impl::Ours => "ours",
            Impl::OursNoCache => "ours-nocache",
            Impl::JwtAuthorizer => "jwt-authorizer",
            Impl::JwtAuthorizerUrl => "jwt-authorizer-url",
            Impl::AxumJwks => "axum-jwks",
            Impl::TowerOauth2 => "tower-oauth2",
            Impl::TowerOauth2AwsLc => "tower-oauth2-aws-lc",
        }
    }

    /// The implementation called `name`.
    pub fn parse(name: &str) -> Option<Impl> {
        Impl::ALL.into_iter().find(|i| i.name() == name)
    }

    /// Whether this implementation needs a JWKS endpoint (see [`serve_jwks`]).
    pub fn needs_jwks_url(self) -> bool {
        self == Impl::JwtAuthorizerUrl
    }
}

impl fmt::Display for Impl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The protected app: axum 0.8 for everyone but jwt-authorizer, whose rejection converts
/// only into axum 0.7's `Response`.
#[derive(Clone)]
pub enum App {
    /// An axum 0.8 router.
    Axum08(axum::Router),
    /// An axum 0.7 router.
    Axum07(axum07::Router),
}

/// The one place where "ours" is configured.
///
/// `verdict_cache: false` must give a verifier that verifies every request in full.
/// With `verdict_cache` false, every request verifies its signature.
pub fn ours_verifier(keys: &Keys, verdict_cache: bool) -> Result<AccessTokenVerifier, BoxError> {
    let verifier = AccessTokenVerifier::new(
        Validator::new(ISSUER, [AUDIENCE])?,
        KeySet::from_jwks(&keys.jwks_json)?,
    )?;
    if verdict_cache {
        Ok(verifier)
    } else {
        Ok(verifier.without_verdict_cache())
    }
}

/// Claims that the peers deserialize (ours always parses the full RFC 9068 set).
#[derive(Clone, Debug, Deserialize)]
pub struct PeerClaims {
    /// `sub`.
    pub sub: String,
}

impl axum_jwks::ParseTokenClaims for PeerClaims {
    type Rejection = axum_jwks::TokenError;
}

#[derive(Clone)]
struct AxumJwksState {
    jwks: axum_jwks::Jwks,
}

impl axum::extract::FromRef<AxumJwksState> for axum_jwks::Jwks {
    fn from_ref(state: &AxumJwksState) -> Self {
        state.jwks.clone()
    }
}

async fn axum_jwks_handler(_claims: axum_jwks::Claims<PeerClaims>) -> &'static str {
    BODY
}

fn bare_router() -> axum::Router {
    axum::Router::new().route("/", axum::routing::get(|| async { BODY }))
}

/// Builds the app for `imp`. `jwks_url` is required for [`Impl::needs_jwks_url`].
///
/// For the tower-oauth2 variants this also selects the jsonwebtoken 11 backend
/// process-wide (see [`tower_oauth2_backend`]): build, check and measure one at a time.
pub async fn build(imp: Impl, keys: &Keys, jwks_url: Option<&str>) -> Result<App, BoxError> {
    Ok(match imp {
        Impl::Bare => App::Axum08(bare_router()),
        Impl::Ours | Impl::OursNoCache => {
            let verifier = ours_verifier(keys, imp == Impl::Ours)?;
            App::Axum08(bare_router().layer(JwtAccessTokenLayer::new(verifier)))
        }
        Impl::JwtAuthorizer | Impl::JwtAuthorizerUrl => {
            use jwt_authorizer::{IntoLayer, JwtAuthorizer, RegisteredClaims, Validation};
            let builder = if imp == Impl::JwtAuthorizerUrl {
                let url = jwks_url.ok_or("jwt-authorizer-url needs a JWKS URL")?;
                JwtAuthorizer::<RegisteredClaims>::from_jwks_url(url)
            } else {
                JwtAuthorizer::<RegisteredClaims>::from_jwks_text(&keys.jwks_json)
            };
            let authorizer = builder
                .validation(Validation::new().iss(&[ISSUER]).aud(&[AUDIENCE]))
                .build()
                .await?;
            App::Axum07(
                axum07::Router::new()
                    .route("/", axum07::routing::get(|| async { BODY }))
                    .layer(authorizer.into_layer()),
            )
        }
        Impl::AxumJwks => {
            let set: jsonwebtoken9::jwk::JwkSet = serde_json::from_str(&keys.jwks_json)?;
            // axum-jwks checks `aud` (and exp); it has no `iss` setting.
            let jwks = axum_jwks::Jwks::from_jwk_set(set, Some(AUDIENCE), None)?;
            App::Axum08(
                axum::Router::new()
                    .route("/", axum::routing::get(axum_jwks_handler))
                    .with_state(AxumJwksState { jwks }),
            )
        }
        Impl::TowerOauth2 | Impl::TowerOauth2AwsLc => {
            use tower_oauth2_resource_server::claims::DefaultClaims;
            use tower_oauth2_resource_server::server::OAuth2ResourceServer;
            use tower_oauth2_resource_server::tenant::TenantConfiguration;
            use tower_oauth2_resource_server::validation::ClaimsValidationSpec;
            tower_oauth2_backend(imp == Impl::TowerOauth2AwsLc);
            let tenant = TenantConfiguration::static_builder(keys.jwks_json.clone())
                .audiences(&[AUDIENCE])
                // The static builder has no issuer to discover: check `iss` like the others.
                .claims_validation(
                    ClaimsValidationSpec::new()
                        .exp(true)
                        .iss(ISSUER)
                        .aud(&vec![AUDIENCE.to_owned()]),
                )
                .build()?;
            let server = OAuth2ResourceServer::<DefaultClaims>::builder()
                .add_tenant(tenant)
                .build()
                .await?;
            App::Axum08(bare_router().layer(server.into_layer()))
        }
    })
}

/// Which jsonwebtoken 11 backend tower-oauth2-resource-server uses.
static TOWER_OAUTH2_AWS_LC: AtomicBool = AtomicBool::new(false);

fn switch_verifier(
    alg: &jsonwebtoken11::Algorithm,
    key: &jsonwebtoken11::DecodingKey,
) -> jsonwebtoken11::errors::Result<Box<dyn jsonwebtoken11::crypto::JwtVerifier>> {
    if TOWER_OAUTH2_AWS_LC.load(Ordering::Relaxed) {
        (jsonwebtoken11::crypto::aws_lc::DEFAULT_PROVIDER.verifier_factory)(alg, key)
    } else {
        (jsonwebtoken11::crypto::rust_crypto::DEFAULT_PROVIDER.verifier_factory)(alg, key)
    }
}

fn switch_signer(
    alg: &jsonwebtoken11::Algorithm,
    key: &jsonwebtoken11::EncodingKey,
) -> jsonwebtoken11::errors::Result<Box<dyn jsonwebtoken11::crypto::JwtSigner>> {
    if TOWER_OAUTH2_AWS_LC.load(Ordering::Relaxed) {
        (jsonwebtoken11::crypto::aws_lc::DEFAULT_PROVIDER.signer_factory)(alg, key)
    } else {
        (jsonwebtoken11::crypto::rust_crypto::DEFAULT_PROVIDER.signer_factory)(alg, key)
    }
}

/// Selects the jsonwebtoken 11 crypto backend behind tower-oauth2-resource-server.
///
/// Built alone, that crate gets exactly one backend from its features (`jwt-rust-crypto`
/// by default, `jwt-aws-lc-rs` optionally). Here both are compiled in, so a process-wide
/// provider is installed once that forwards each `verifier_factory` call to the selected
/// backend's own factory (one relaxed atomic load on top of the real path). Only
/// jsonwebtoken **11** is affected: our crate uses jsonwebtoken 12 and aws-lc-rs directly,
/// the other peers jsonwebtoken 9.
pub fn tower_oauth2_backend(aws_lc: bool) {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    TOWER_OAUTH2_AWS_LC.store(aws_lc, Ordering::Relaxed);
    INSTALLED.get_or_init(|| {
        let provider: &'static jsonwebtoken11::crypto::CryptoProvider =
            Box::leak(Box::new(jsonwebtoken11::crypto::CryptoProvider {
                signer_factory: switch_signer,
                verifier_factory: switch_verifier,
                key_utils: jsonwebtoken11::crypto::rust_crypto::DEFAULT_PROVIDER
                    .key_utils
                    .clone(),
            }));
        // Fails only if a provider is already installed, which nothing else here does.
        let _ = provider.install_default();
    });
}

/// Serves `jwks_json` at `http://127.0.0.1:<port>/jwks` on the current tokio runtime, for
/// implementations that fetch their keys. Returns the URL.
pub async fn serve_jwks(jwks_json: String) -> Result<String, BoxError> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr()?;
    let app = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || {
            let body = jwks_json.clone();
            async move { ([(http::header::CONTENT_TYPE, "application/json")], body) }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}/jwks"))
}

/// `Bearer <token>` as a header value whose clone is a reference-count increment.
pub fn bearer(token: &str) -> Result<HeaderValue, BoxError> {
    Ok(HeaderValue::from_maybe_shared(Bytes::from(format!(
        "Bearer {token}"
    )))?)
}

/// `GET /`, with `Authorization` if given.
pub fn request(auth: Option<&HeaderValue>) -> Request<Empty<Bytes>> {
    let mut req = Request::new(Empty::new());
    *req.uri_mut() = http::Uri::from_static("/");
    if let Some(value) = auth {
        req.headers_mut().insert(AUTHORIZATION, value.clone());
    }
    req
}

/// Sends one request through `svc` (a clone, as `oneshot` consumes it) and returns the status.
pub async fn status_of<S, B>(svc: &S, auth: Option<&HeaderValue>) -> u16
where
    S: Service<Request<Empty<Bytes>>, Response = Response<B>> + Clone,
{
    match svc.clone().oneshot(request(auth)).await {
        Ok(resp) => resp.status().as_u16(),
        Err(_) => 0,
    }
}

impl App {
    /// Status for one `GET /` through this app.
    pub async fn status(&self, auth: Option<&HeaderValue>) -> u16 {
        match self {
            App::Axum08(r) => status_of(r, auth).await,
            App::Axum07(r) => status_of(r, auth).await,
        }
    }

    /// Checks that the app answers 200 with `token` and, unless `imp` is bare, 401
    /// without a token and with a tampered one. The first call also warms any key cache.
    pub async fn check(&self, imp: Impl, token: &str) -> Result<(), String> {
        let auth = bearer(token).map_err(|e| e.to_string())?;
        let with = self.status(Some(&auth)).await;
        if with != 200 {
            return Err(format!("{imp}: {with} for a valid token (expected 200)"));
        }
        if imp == Impl::Bare {
            return Ok(());
        }
        let without = self.status(None).await;
        if without != 401 {
            return Err(format!("{imp}: {without} without a token (expected 401)"));
        }
        // Change one character inside the signature (not the last one, whose low bits
        // may be padding).
        let mut bad = token.to_owned();
        let at = bad.len() - 10;
        let other = if bad[at..].starts_with('A') { "B" } else { "A" };
        bad.replace_range(at..at + 1, other);
        let tampered = self
            .status(Some(&bearer(&bad).map_err(|e| e.to_string())?))
            .await;
        if tampered != 401 {
            return Err(format!(
                "{imp}: {tampered} for a tampered token (expected 401)"
            ));
        }
        Ok(())
    }
}
