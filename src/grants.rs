//! What the authentication layer leaves in the request extensions for the requirement layers:
//! either the token's [`Grants`] or the mark of an [`Anonymous`] request.

use crate::token::claims::{AccessTokenClaims, Scope};
use std::sync::Arc;

/// The authorization-relevant claims of a verified token, independent of the claims type
/// `X`, so that requirement layers work whatever `X` the application chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grants {
    /// `scope`.
    pub scope: Scope,
    /// `roles`.
    pub roles: Vec<String>,
    /// `groups`.
    pub groups: Vec<String>,
    /// `entitlements`.
    pub entitlements: Vec<String>,
    pub(crate) realm: Option<Arc<str>>,
}

impl Grants {
    pub(crate) fn of<X>(claims: &AccessTokenClaims<X>, realm: Option<Arc<str>>) -> Self {
        Grants {
            scope: claims.scope.clone(),
            roles: claims.roles.clone(),
            groups: claims.groups.clone(),
            entitlements: claims.entitlements.clone(),
            realm,
        }
    }
}

/// Marks a request that came without credentials through a layer that allows anonymous
/// requests. A route requirement answers it with 401, not 403.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anonymous {
    pub(crate) realm: Option<Arc<str>>,
}
