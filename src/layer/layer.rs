use super::service::JwtAccessTokenService;
use crate::token::claims::ExtraClaims;
use crate::verifier::AccessTokenVerifier;
use std::sync::Arc;
use tower_layer::Layer;

/// Authenticates requests with RFC 9068 access tokens; see the [module docs](crate::layer).
///
/// On success the verified claims, as `Arc<`[`AccessTokenClaims<X>`](crate::AccessTokenClaims)`>`
/// (shared with the verdict cache, never copied), and their [`Grants`](crate::Grants) are
/// inserted into the request extensions. With axum, take them with the
/// [`Claims`](crate::Claims) extractor; with tonic, with
/// [`integrations::tonic::claims`](crate::integrations).
#[derive(Debug)]
pub struct JwtAccessTokenLayer<X = ExtraClaims> {
    pub(crate) shared: Arc<Shared<X>>,
}

#[derive(Debug)]
pub(crate) struct Shared<X> {
    pub(crate) verifier: AccessTokenVerifier<X>,
    pub(crate) realm: Option<Arc<str>>,
    pub(crate) allow_anonymous: bool,
}

impl<X> Clone for JwtAccessTokenLayer<X> {
    fn clone(&self) -> Self {
        JwtAccessTokenLayer {
            shared: self.shared.clone(),
        }
    }
}

impl<X> JwtAccessTokenLayer<X> {
    /// A layer that requires a valid access token on every request.
    pub fn new(verifier: AccessTokenVerifier<X>) -> Self {
        JwtAccessTokenLayer {
            shared: Arc::new(Shared {
                verifier,
                realm: None,
                allow_anonymous: false,
            }),
        }
    }

    fn map(self, f: impl FnOnce(&mut Shared<X>)) -> Self {
        let mut shared = Arc::try_unwrap(self.shared).unwrap_or_else(|s| Shared {
            verifier: s.verifier.clone(),
            realm: s.realm.clone(),
            allow_anonymous: s.allow_anonymous,
        });
        f(&mut shared);
        JwtAccessTokenLayer {
            shared: Arc::new(shared),
        }
    }

    /// The `realm` of the `WWW-Authenticate` challenges (RFC 6750 §3).
    pub fn realm(self, realm: impl Into<String>) -> Self {
        let realm: Arc<str> = realm.into().into();
        self.map(|s| s.realm = Some(realm))
    }

    /// Let requests without any credentials through, marked [`Anonymous`](crate::Anonymous);
    /// a request with an invalid token is still refused. Route requirements answer anonymous
    /// requests with 401.
    pub fn allow_anonymous(self) -> Self {
        self.map(|s| s.allow_anonymous = true)
    }
}

impl<S, X> Layer<S> for JwtAccessTokenLayer<X> {
    type Service = JwtAccessTokenService<S, X>;

    fn layer(&self, inner: S) -> Self::Service {
        JwtAccessTokenService {
            inner,
            shared: self.shared.clone(),
        }
    }
}
