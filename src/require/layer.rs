use super::Requirement;
use crate::error::AuthError;
use crate::grants::{Anonymous, Grants};
use crate::layer::ResponseFuture;
use http::{Request, Response};
use std::sync::Arc;
use std::task::{Context, Poll};
use tower_layer::Layer;
use tower_service::Service;

/// The future of [`RequireService`]: the inner future, or the refusal.
pub type RequireFuture<F> = ResponseFuture<F>;

/// Enforces a [`Requirement`] on the verified token of each request; see the
/// [module docs](crate::require).
#[derive(Debug, Clone)]
pub struct RequireLayer {
    requirement: Arc<Requirement>,
}

/// A layer enforcing `requirement` (for axum's `route_layer`).
pub fn require(requirement: Requirement) -> RequireLayer {
    RequireLayer::new(requirement)
}

impl RequireLayer {
    /// A layer enforcing `requirement`.
    pub fn new(requirement: Requirement) -> Self {
        RequireLayer {
            requirement: Arc::new(requirement),
        }
    }
}

impl<S> Layer<S> for RequireLayer {
    type Service = RequireService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireService {
            inner,
            requirement: self.requirement.clone(),
        }
    }
}

/// The service of [`RequireLayer`].
#[derive(Debug, Clone)]
pub struct RequireService<S> {
    inner: S,
    requirement: Arc<Requirement>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequireService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = RequireFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let (error, realm) = if let Some(grants) = request.extensions().get::<Grants>() {
            match self.requirement.missing(grants) {
                None => return ResponseFuture::inner(self.inner.call(request)),
                Some(description) => (
                    AuthError::InsufficientScope {
                        scope: self.requirement.scopes().join(" "),
                        description,
                    },
                    grants.realm.clone(),
                ),
            }
        } else if let Some(anonymous) = request.extensions().get::<Anonymous>() {
            (AuthError::MissingCredentials, anonymous.realm.clone())
        } else {
            (AuthError::NotAuthenticated, None)
        };
        error.log();
        ResponseFuture::refused(error.to_response(realm.as_deref()))
    }
}
