//! Per-route requirements on `scope`, `roles`, `groups` and `entitlements`.
//!
//! A [`Requirement`] is built from [`scope`], [`role`], [`group`] and [`entitlement`],
//! combined with [`Requirement::and`] / [`Requirement::or`] (or [`all_of`] / [`any_of`]).
//! Matching is exact per element: `items:readonly` never satisfies `items:read`, and a role
//! named `"admin editor"` is one role, never split. [`RequireLayer`] enforces one per route,
//! after [`JwtAccessTokenLayer`](crate::JwtAccessTokenLayer):
//!
//! ```
//! use axum::{Router, routing::{get, post}};
//! use jwt_access_token::require::{require, role, scope};
//!
//! let app: Router = Router::new()
//!     .route("/items", post(|| async { "created" })
//!         .route_layer(require(scope("items:write").and(role("editor").or(role("admin"))))));
//! ```
//!
//! A token that lacks what the route needs gets 403 with
//! `WWW-Authenticate: Bearer error="insufficient_scope", scope="..."`; an anonymous request
//! gets 401; a route without the authentication layer around it answers 500 and logs, never
//! letting the request through.

mod layer;

pub use layer::{
    RequireByPathLayer, RequireByPathService, RequireFuture, RequireLayer, RequireService, require,
};

use crate::grants::Grants;
use std::fmt;

/// What a route requires of the verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Requirement {
    /// This scope was granted.
    Scope(String),
    /// This role is in `roles`.
    Role(String),
    /// This group is in `groups`.
    Group(String),
    /// This entitlement is in `entitlements`.
    Entitlement(String),
    /// Every one of these holds.
    AllOf(Vec<Requirement>),
    /// At least one of these holds.
    AnyOf(Vec<Requirement>),
}

/// Requires the scope `s`.
pub fn scope(s: impl Into<String>) -> Requirement {
    Requirement::Scope(s.into())
}

/// Requires the role `r`.
pub fn role(r: impl Into<String>) -> Requirement {
    Requirement::Role(r.into())
}

/// Requires the group `g`.
pub fn group(g: impl Into<String>) -> Requirement {
    Requirement::Group(g.into())
}

/// Requires the entitlement `e`.
pub fn entitlement(e: impl Into<String>) -> Requirement {
    Requirement::Entitlement(e.into())
}

/// Requires every one of `requirements` (an empty list always holds).
pub fn all_of(requirements: impl IntoIterator<Item = Requirement>) -> Requirement {
    Requirement::AllOf(requirements.into_iter().collect())
}

/// Requires at least one of `requirements` (an empty list never holds).
pub fn any_of(requirements: impl IntoIterator<Item = Requirement>) -> Requirement {
    Requirement::AnyOf(requirements.into_iter().collect())
}

impl Requirement {
    /// Both this and `other`.
    pub fn and(self, other: Requirement) -> Requirement {
        match self {
            Requirement::AllOf(mut list) => {
                list.push(other);
                Requirement::AllOf(list)
            }
            first => Requirement::AllOf(vec![first, other]),
        }
    }

    /// This or `other`.
    pub fn or(self, other: Requirement) -> Requirement {
        match self {
            Requirement::AnyOf(mut list) => {
                list.push(other);
                Requirement::AnyOf(list)
            }
            first => Requirement::AnyOf(vec![first, other]),
        }
    }

    /// Whether `grants` satisfy this requirement.
    pub fn is_satisfied_by(&self, grants: &Grants) -> bool {
        match self {
            Requirement::Scope(s) => grants.scope().contains(s),
            Requirement::Role(r) => grants.roles().iter().any(|x| x == r),
            Requirement::Group(g) => grants.groups().iter().any(|x| x == g),
            Requirement::Entitlement(e) => grants.entitlements().iter().any(|x| x == e),
            Requirement::AllOf(list) => list.iter().all(|r| r.is_satisfied_by(grants)),
            Requirement::AnyOf(list) => list.iter().any(|r| r.is_satisfied_by(grants)),
        }
    }

    /// The scopes this requirement names, in order, each once: the `scope` attribute of the
    /// 403 challenge (RFC 6750 §3).
    pub fn scopes(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_scopes(&mut out);
        out
    }

    fn collect_scopes<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Requirement::Scope(s) if !out.contains(&s.as_str()) => out.push(s),
            Requirement::AllOf(list) | Requirement::AnyOf(list) => {
                list.iter().for_each(|r| r.collect_scopes(out))
            }
            _ => {}
        }
    }

    /// What is missing from `grants`, for the client's `error_description`; `None` if
    /// nothing is.
    pub fn missing(&self, grants: &Grants) -> Option<String> {
        if self.is_satisfied_by(grants) {
            return None;
        }
        Some(match self {
            Requirement::AllOf(list) => list
                .iter()
                .filter_map(|r| r.missing(grants))
                .collect::<Vec<_>>()
                .join("; "),
            other => format!("requires {other}"),
        })
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, items: &[Requirement], sep: &str| {
            for (i, r) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(sep)?;
                }
                match r {
                    Requirement::AllOf(_) | Requirement::AnyOf(_) => write!(f, "({r})")?,
                    _ => write!(f, "{r}")?,
                }
            }
            Ok(())
        };
        match self {
            Requirement::Scope(s) => write!(f, "scope {s}"),
            Requirement::Role(r) => write!(f, "role {r}"),
            Requirement::Group(g) => write!(f, "group {g}"),
            Requirement::Entitlement(e) => write!(f, "entitlement {e}"),
            Requirement::AllOf(items) => list(f, items, " and "),
            Requirement::AnyOf(items) => list(f, items, " or "),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AccessTokenClaims;

    fn grants(scope: &str, roles: &[&str], groups: &[&str], entitlements: &[&str]) -> Grants {
        let claims = serde_json::json!({
            "iss": "i", "aud": "a", "exp": 1, "scope": scope,
            "roles": roles, "groups": groups, "entitlements": entitlements,
        });
        let claims =
            AccessTokenClaims::<crate::ExtraClaims>::from_json(claims.to_string().as_bytes())
                .expect("claims");
        Grants::of(std::sync::Arc::new(claims))
    }

    #[test]
    fn exact_element_matching() {
        let g = grants(
            "items:readonly",
            &["admin editor"],
            &["eng"],
            &["billing-read"],
        );
        assert!(!scope("items:read").is_satisfied_by(&g));
        assert!(scope("items:readonly").is_satisfied_by(&g));
        assert!(!role("admin").is_satisfied_by(&g));
        assert!(role("admin editor").is_satisfied_by(&g));
        assert!(!group("engineering").is_satisfied_by(&g));
        assert!(!entitlement("billing").is_satisfied_by(&g));
    }

    #[test]
    fn kinds_do_not_mix() {
        let g = grants("admin", &["items:read"], &[], &[]);
        assert!(!role("admin").is_satisfied_by(&g));
        assert!(!scope("items:read").is_satisfied_by(&g));
    }

    #[test]
    fn all_of_and_any_of() {
        let r = scope("items:write").and(role("editor").or(role("admin")));
        assert!(r.is_satisfied_by(&grants("items:write", &["admin"], &[], &[])));
        assert!(r.is_satisfied_by(&grants("items:write", &["editor"], &[], &[])));
        assert!(!r.is_satisfied_by(&grants("items:write", &["viewer"], &[], &[])));
        assert!(!r.is_satisfied_by(&grants("items:read", &["admin"], &[], &[])));
        assert!(all_of([]).is_satisfied_by(&grants("", &[], &[], &[])));
        assert!(!any_of([]).is_satisfied_by(&grants("a", &[], &[], &[])));
    }

    #[test]
    fn scopes_and_missing_text() {
        let r = scope("a").and(scope("b").or(role("x"))).and(scope("a"));
        assert_eq!(r.scopes(), vec!["a", "b"]);
        let g = grants("a", &[], &[], &[]);
        assert_eq!(r.missing(&g).as_deref(), Some("requires scope b or role x"));
        let r = role("admin").and(group("eng"));
        assert_eq!(
            r.missing(&grants("", &[], &["eng"], &[])).as_deref(),
            Some("requires role admin")
        );
        assert_eq!(r.missing(&grants("", &["admin"], &["eng"], &[])), None);
    }
}
