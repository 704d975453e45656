//! What the authentication layer leaves in the request extensions for the requirement layers:
//! either the token's [`Grants`] or the mark of an [`Anonymous`] request.

use crate::token::claims::{AccessTokenClaims, Scope};
use std::fmt;
use std::sync::Arc;

/// The authorization-relevant claims of a verified token, whatever the claims type `X` the
/// application chose: a view of the same shared claims the layer inserts (no copy).
#[derive(Clone)]
pub struct Grants {
    claims: Arc<dyn GrantedAccess>,
    pub(crate) realm: Option<Arc<str>>,
}

/// The four claims requirements look at, for any claims type.
trait GrantedAccess: Send + Sync {
    fn scope(&self) -> &Scope;
    fn roles(&self) -> &[String];
    fn groups(&self) -> &[String];
    fn entitlements(&self) -> &[String];
}

impl<X: Send + Sync> GrantedAccess for AccessTokenClaims<X> {
    fn scope(&self) -> &Scope {
        &self.scope
    }
    fn roles(&self) -> &[String] {
        &self.roles
    }
    fn groups(&self) -> &[String] {
        &self.groups
    }
    fn entitlements(&self) -> &[String] {
        &self.entitlements
    }
}

impl Grants {
    /// The grants of verified claims (the layer builds them; this is for tests of your own
    /// services).
    pub fn of<X: Send + Sync + 'static>(claims: Arc<AccessTokenClaims<X>>) -> Self {
        Grants {
            claims,
            realm: None,
        }
    }

    pub(crate) fn with_realm<X: Send + Sync + 'static>(
        claims: Arc<AccessTokenClaims<X>>,
        realm: Option<Arc<str>>,
    ) -> Self {
        Grants { claims, realm }
    }

    /// `scope`.
    pub fn scope(&self) -> &Scope {
        self.claims.scope()
    }

    /// `roles`.
    pub fn roles(&self) -> &[String] {
        self.claims.roles()
    }

    /// `groups`.
    pub fn groups(&self) -> &[String] {
        self.claims.groups()
    }

    /// `entitlements`.
    pub fn entitlements(&self) -> &[String] {
        self.claims.entitlements()
    }
}

impl fmt::Debug for Grants {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Grants")
            .field("scope", self.scope())
            .field("roles", &self.roles())
            .field("groups", &self.groups())
            .field("entitlements", &self.entitlements())
            .finish()
    }
}

/// Marks a request that came without credentials through a layer that allows anonymous
/// requests. A route requirement answers it with 401, not 403.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anonymous {
    pub(crate) realm: Option<Arc<str>>,
}
