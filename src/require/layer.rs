use super::Requirement;
use crate::error::AuthError;
use crate::grants::{Anonymous, Grants};
use crate::layer::ResponseFuture;
use http::{Request, Response};
use std::collections::HashMap;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower_layer::Layer;
use tower_service::Service;

/// The future of [`RequireService`] and [`RequireByPathService`]: the inner future, or the
/// refusal.
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
        enforce(Some(&self.requirement), request, &mut self.inner)
    }
}

/// Enforces requirements chosen by the request path: per gRPC method
/// (`/package.Service/Method`) on a tonic server, or per path on any tower service where no
/// router offers per-route layers. Paths match exactly; a path without an entry needs the
/// [`otherwise`](RequireByPathLayer::otherwise) requirement, or only a verified token.
///
/// ```
/// use jwt_access_token::require::{RequireByPathLayer, role, scope};
///
/// let per_method = RequireByPathLayer::new()
///     .path("/shop.Items/List", scope("items:read"))
///     .path("/shop.Items/Delete", scope("items:write").and(role("admin")))
///     .otherwise(scope("items:read"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct RequireByPathLayer {
    table: Arc<PathTable>,
}

#[derive(Debug, Default)]
struct PathTable {
    by_path: HashMap<String, Requirement>,
    otherwise: Option<Requirement>,
}

impl RequireByPathLayer {
    /// A layer with no entries yet.
    pub fn new() -> Self {
        RequireByPathLayer::default()
    }

    fn edit(self, f: impl FnOnce(&mut PathTable)) -> Self {
        let mut table = Arc::try_unwrap(self.table).unwrap_or_else(|shared| PathTable {
            by_path: shared.by_path.clone(),
            otherwise: shared.otherwise.clone(),
        });
        f(&mut table);
        RequireByPathLayer {
            table: Arc::new(table),
        }
    }

    /// Requests to exactly `path` need `requirement`.
    pub fn path(self, path: impl Into<String>, requirement: Requirement) -> Self {
        let path = path.into();
        self.edit(|t| {
            t.by_path.insert(path, requirement);
        })
    }

    /// Requests to any other path need `requirement` (default: only a verified token).
    pub fn otherwise(self, requirement: Requirement) -> Self {
        self.edit(|t| t.otherwise = Some(requirement))
    }
}

impl<S> Layer<S> for RequireByPathLayer {
    type Service = RequireByPathService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireByPathService {
            inner,
            table: self.table.clone(),
        }
    }
}

/// The service of [`RequireByPathLayer`].
#[derive(Debug, Clone)]
pub struct RequireByPathService<S> {
    inner: S,
    table: Arc<PathTable>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequireByPathService<S>
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
        let table = self.table.clone();
        let requirement = table
            .by_path
            .get(request.uri().path())
            .or(table.otherwise.as_ref());
        enforce(requirement, request, &mut self.inner)
    }
}

/// Lets the request through if it carries verified grants meeting `requirement` (or any
/// verified grants when there is none); otherwise answers the refusal.
fn enforce<S, ReqBody, ResBody>(
    requirement: Option<&Requirement>,
    request: Request<ReqBody>,
    inner: &mut S,
) -> RequireFuture<S::Future>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    let (error, realm) = if let Some(grants) = request.extensions().get::<Grants>() {
        match requirement.and_then(|r| r.missing(grants).map(|d| (r, d))) {
            None => return ResponseFuture::inner(inner.call(request)),
            Some((requirement, description)) => (
                AuthError::InsufficientScope {
                    scope: requirement.scopes().join(" "),
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
    ResponseFuture::refused(error.respond(realm.as_deref(), request.headers()))
}
