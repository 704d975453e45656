//! Errors, and the one place that turns them into HTTP answers.
//!
//! Every refusal is typed. [`std::fmt::Display`] gives the precise reason, for logs and
//! `tracing`; [`ValidationError::description`] gives the short, non-leaking text that goes to
//! the client in `error_description` (RFC 6750 §3).

use crate::algorithm::Algorithm;
use http::{HeaderValue, Response, StatusCode, header};

/// Why a token failed validation (RFC 9068 §4), in the order the checks run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// The token is longer than the configured cap; nothing was decoded.
    #[error("token is {size} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// Length of the token received.
        size: usize,
        /// The configured cap.
        limit: usize,
    },
    /// Five segments: a JWE. RFC 9068 access tokens are signed, not encrypted, here.
    #[error("token has five segments: encrypted tokens (JWE) are not supported")]
    Encrypted,
    /// Not a compact JWS (segments, base64url, UTF-8).
    #[error("token is not a compact JWS: {0}")]
    Malformed(&'static str),
    /// The JOSE header is not a JSON object of the expected shape.
    #[error("token header is invalid: {0}")]
    InvalidHeader(String),
    /// No `typ` header: ID tokens and other JWTs must never pass as access tokens.
    #[error("token header has no `typ`; RFC 9068 access tokens carry typ \"at+jwt\"")]
    MissingType,
    /// A `typ` other than `at+jwt` / `application/at+jwt`.
    #[error("token header `typ` is {0:?}, not \"at+jwt\"")]
    WrongType(String),
    /// An `alg` outside the allow-list (this includes `none` in any letter case).
    #[error("algorithm {0:?} is not allowed")]
    AlgorithmNotAllowed(String),
    /// A `crit` header: no critical extension is understood, so RFC 7515 §4.1.11 says reject.
    #[error("token header has `crit`; no critical extension is supported")]
    CriticalHeader,
    /// The header names a `kid` the issuer's key set does not have.
    #[error("no key with kid {0:?} in the issuer's key set")]
    UnknownKey(String),
    /// No `kid`, and no key of the issuer's set fits the algorithm.
    #[error("token has no `kid` and no key of the issuer fits {0}")]
    NoKeyForAlgorithm(Algorithm),
    /// No `kid`, and more than one key fits: the token is not tried against several keys.
    #[error("token has no `kid` and {count} keys of the issuer fit {alg}")]
    AmbiguousKey {
        /// The token's algorithm.
        alg: Algorithm,
        /// How many keys fit it.
        count: usize,
    },
    /// The selected key cannot be used with this token's algorithm.
    #[error("key {kid:?} cannot verify {alg}: {reason}")]
    KeyMismatch {
        /// The key's id, if it has one.
        kid: Option<String>,
        /// The token's algorithm.
        alg: Algorithm,
        /// Which binding failed (kty, crv, JWK `alg`, `use`, `key_ops`).
        reason: &'static str,
    },
    /// The signature does not verify with the selected key.
    #[error("signature does not verify")]
    InvalidSignature,
    /// The payload is not a JSON object.
    #[error("token claims are not a JSON object: {0}")]
    InvalidClaims(String),
    /// A member appears twice in the header or the claims; it is not read either way.
    #[error("token has the member {0:?} twice")]
    DuplicateMember(String),
    /// A registered claim has the wrong JSON type (for example a date as a string).
    #[error("claim `{claim}` must be {expected}")]
    ClaimType {
        /// The claim's name.
        claim: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// A claim required by RFC 9068 §2.2 (and not relaxed) is absent.
    #[error("required claim `{0}` is missing")]
    MissingClaim(&'static str),
    /// The token carries `cnf` (RFC 7800): it is bound to a key (DPoP, mTLS) that this
    /// server does not check, so accepting it as a bearer token would defeat the binding.
    #[error("token is sender-constrained (`cnf`); proof of possession is not checked here")]
    SenderConstrained,
    /// `iss` is not exactly the configured issuer.
    #[error("issuer {0:?} is not the configured issuer")]
    WrongIssuer(String),
    /// `aud` contains none of the configured audiences.
    #[error("audience {0:?} contains no configured audience")]
    WrongAudience(Vec<String>),
    /// `exp` is in the past (beyond the leeway).
    #[error("token expired at {exp} (now {now})")]
    Expired {
        /// The token's `exp`.
        exp: i64,
        /// The validation time.
        now: i64,
    },
    /// `nbf` is in the future (beyond the leeway).
    #[error("token is not valid before {nbf} (now {now})")]
    NotYetValid {
        /// The token's `nbf`.
        nbf: i64,
        /// The validation time.
        now: i64,
    },
    /// `iat` is in the future (beyond the leeway).
    #[error("token claims to be issued at {iat}, in the future (now {now})")]
    IssuedInFuture {
        /// The token's `iat`.
        iat: i64,
        /// The validation time.
        now: i64,
    },
}

impl ValidationError {
    /// The short text for the client's `error_description`: never echoes token contents or
    /// configuration.
    pub fn description(&self) -> &'static str {
        use ValidationError as E;
        match self {
            E::TooLarge { .. } => "the token is too large",
            E::Encrypted => "encrypted tokens are not supported",
            E::Malformed(_) | E::InvalidHeader(_) | E::InvalidClaims(_) | E::DuplicateMember(_) => {
                "the token is malformed"
            }
            E::MissingType | E::WrongType(_) => "the token is not an access token",
            E::AlgorithmNotAllowed(_) | E::CriticalHeader => "the token's header is not accepted",
            E::UnknownKey(_)
            | E::NoKeyForAlgorithm(_)
            | E::AmbiguousKey { .. }
            | E::KeyMismatch { .. } => "the token's signing key is not known",
            E::InvalidSignature => "the token's signature is invalid",
            E::ClaimType { .. } | E::MissingClaim(_) => {
                "a required claim is missing or has the wrong type"
            }
            E::SenderConstrained => "sender-constrained tokens are not accepted here",
            E::WrongIssuer(_) => "the token's issuer is not accepted",
            E::WrongAudience(_) => "the token is not meant for this resource",
            E::Expired { .. } => "the token has expired",
            E::NotYetValid { .. } => "the token is not valid yet",
            E::IssuedInFuture { .. } => "the token is issued in the future",
        }
    }
}

/// Why keys could not be had from a key source (network, HTTP, JWKS or metadata problems).
///
/// When no usable cached key exists this is answered with 503: it says nothing about the
/// token, so it must never become a 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeySourceError {
    /// The request failed (connect, timeout, TLS, redirect policy).
    #[error("fetching {url} failed: {reason}")]
    Fetch {
        /// What was fetched.
        url: String,
        /// The transport error.
        reason: String,
    },
    /// A status other than 200.
    #[error("{url} answered HTTP {status}")]
    Status {
        /// What was fetched.
        url: String,
        /// The status received.
        status: u16,
    },
    /// The body exceeded the configured cap.
    #[error("{url} answered more than {limit} bytes")]
    TooLarge {
        /// What was fetched.
        url: String,
        /// The configured cap.
        limit: usize,
    },
    /// The body is not a JWKS / metadata document.
    #[error("{url} did not answer a valid document: {reason}")]
    InvalidDocument {
        /// What was fetched.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The JWKS holds no key this crate can verify with.
    #[error("{url} holds no usable signature key")]
    NoUsableKeys {
        /// What was fetched.
        url: String,
    },
    /// Discovery metadata names another issuer (RFC 8414 §3.3).
    #[error("metadata issuer {found:?} is not the configured issuer {expected:?}")]
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// What the metadata says.
        found: String,
    },
    /// Neither RFC 8414 nor OpenID discovery produced metadata.
    #[error("discovery for {issuer} failed: {reason}")]
    Discovery {
        /// The configured issuer.
        issuer: String,
        /// The last failure.
        reason: String,
    },
}

/// A configuration mistake, reported when building, never on a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required value is empty.
    #[error("{0} must not be empty")]
    Empty(&'static str),
    /// A URL that is not https (plain http is allowed only for loopback hosts).
    #[error("{0} must be an https URL (http only for loopback hosts)")]
    InsecureUrl(String),
    /// A URL that does not parse.
    #[error("{url} is not a valid URL: {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// The parser's complaint.
        reason: String,
    },
    /// A key that cannot be used.
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// A JWKS document that cannot be used.
    #[error("invalid key set: {0}")]
    InvalidKeySet(String),
    /// The key source's issuer differs from the validator's issuer.
    #[error("key source issuer {key_source:?} differs from validator issuer {validator:?}")]
    IssuerMismatch {
        /// The validator's issuer.
        validator: String,
        /// The key source's issuer.
        key_source: String,
    },
    /// A value outside what the crate accepts.
    #[error("{0}")]
    Invalid(String),
}

/// The outcome of a refused request, one variant per kind of HTTP answer (RFC 6750 §3.1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No credentials: no `Authorization` header, or another scheme. 401 without error code.
    #[error("no bearer token in the request")]
    MissingCredentials,
    /// Malformed request: several credentials, a malformed header. 400 `invalid_request`.
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
    /// The token failed validation. 401 `invalid_token`.
    #[error("invalid token: {0}")]
    InvalidToken(ValidationError),
    /// Keys could not be had and none is cached. 503.
    #[error("no key available: {0}")]
    KeysUnavailable(KeySourceError),
    /// The token lacks what the route requires. 403 `insufficient_scope`.
    #[error("insufficient scope: {description}")]
    InsufficientScope {
        /// The scopes the route requires, space separated (may be empty).
        scope: String,
        /// What is missing, for the client.
        description: String,
    },
    /// A requirement layer found no verified token: the authentication layer is missing.
    /// 500: a misconfiguration must never let a request through.
    #[error("no verified token in the request: JwtAccessTokenLayer is missing around this route")]
    NotAuthenticated,
}

impl From<ValidationError> for AuthError {
    fn from(e: ValidationError) -> Self {
        AuthError::InvalidToken(e)
    }
}

impl AuthError {
    /// The HTTP status of this answer.
    pub fn status(&self) -> StatusCode {
        match self {
            AuthError::MissingCredentials | AuthError::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            AuthError::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            AuthError::KeysUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AuthError::InsufficientScope { .. } => StatusCode::FORBIDDEN,
            AuthError::NotAuthenticated => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The RFC 6750 `error` code, if this answer has one.
    pub fn error_code(&self) -> Option<&'static str> {
        match self {
            AuthError::InvalidRequest(_) => Some("invalid_request"),
            AuthError::InvalidToken(_) => Some("invalid_token"),
            AuthError::InsufficientScope { .. } => Some("insufficient_scope"),
            _ => None,
        }
    }

    /// The `WWW-Authenticate` challenge (RFC 6750 §3), or `None` for 500/503 answers,
    /// which are not about the credentials.
    pub fn www_authenticate(&self, realm: Option<&str>) -> Option<HeaderValue> {
        let mut params: Vec<(&str, String)> = Vec::new();
        if let Some(realm) = realm {
            params.push(("realm", realm.to_owned()));
        }
        match self {
            AuthError::MissingCredentials => {}
            AuthError::InvalidRequest(reason) => {
                params.push(("error", "invalid_request".into()));
                params.push(("error_description", (*reason).into()));
            }
            AuthError::InvalidToken(e) => {
                params.push(("error", "invalid_token".into()));
                params.push(("error_description", e.description().into()));
            }
            AuthError::InsufficientScope { scope, description } => {
                params.push(("error", "insufficient_scope".into()));
                params.push(("error_description", description.clone()));
                if !scope.is_empty() {
                    params.push(("scope", scope.clone()));
                }
            }
            AuthError::KeysUnavailable(_) | AuthError::NotAuthenticated => return None,
        }
        let mut value = String::from("Bearer");
        for (i, (name, v)) in params.iter().enumerate() {
            value.push_str(if i == 0 { " " } else { ", " });
            value.push_str(name);
            value.push_str("=\"");
            value.push_str(&quoted_safe(v));
            value.push('"');
        }
        // Every byte is printable ASCII after `quoted_safe`, so this cannot fail.
        HeaderValue::from_str(&value).ok()
    }

    /// Builds the complete answer with an empty body.
    pub fn to_response<B: Default>(&self, realm: Option<&str>) -> Response<B> {
        let mut response = Response::new(B::default());
        *response.status_mut() = self.status();
        if let Some(challenge) = self.www_authenticate(realm) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
        }
        if matches!(self, AuthError::KeysUnavailable(_)) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }

    /// The gRPC status code of this answer: UNAUTHENTICATED (16) for 400/401,
    /// PERMISSION_DENIED (7) for 403, UNAVAILABLE (14) for 503, INTERNAL (13) for 500.
    pub fn grpc_status(&self) -> u16 {
        match self {
            AuthError::MissingCredentials
            | AuthError::InvalidRequest(_)
            | AuthError::InvalidToken(_) => 16,
            AuthError::InsufficientScope { .. } => 7,
            AuthError::KeysUnavailable(_) => 14,
            AuthError::NotAuthenticated => 13,
        }
    }

    /// The short text of this answer, for `grpc-message` and logs that go to clients.
    pub fn client_message(&self) -> String {
        match self {
            AuthError::MissingCredentials => "no bearer token".into(),
            AuthError::InvalidRequest(reason) => (*reason).into(),
            AuthError::InvalidToken(e) => e.description().into(),
            AuthError::KeysUnavailable(_) => "the token cannot be verified right now".into(),
            AuthError::InsufficientScope { description, .. } => description.clone(),
            AuthError::NotAuthenticated => "internal error".into(),
        }
    }

    /// Builds the gRPC answer: a Trailers-Only response (HTTP 200, `content-type:
    /// application/grpc`, `grpc-status`, percent-encoded `grpc-message`), keeping the RFC
    /// 6750 `www-authenticate` challenge.
    pub fn to_grpc_response<B: Default>(&self, realm: Option<&str>) -> Response<B> {
        let mut response = Response::new(B::default());
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        headers.insert("grpc-status", HeaderValue::from(self.grpc_status()));
        if let Ok(message) = HeaderValue::from_str(&grpc_percent_encode(&self.client_message())) {
            headers.insert("grpc-message", message);
        }
        if let Some(challenge) = self.www_authenticate(realm) {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }

    /// The answer for `request_headers`: gRPC-native for `application/grpc*` requests, HTTP
    /// otherwise.
    pub(crate) fn respond<B: Default>(
        &self,
        realm: Option<&str>,
        request_headers: &http::HeaderMap,
    ) -> Response<B> {
        if is_grpc(request_headers) {
            self.to_grpc_response(realm)
        } else {
            self.to_response(realm)
        }
    }

    /// Logs the refusal at a level that fits its cause: 5xx are the operator's problem.
    pub(crate) fn log(&self) {
        match self {
            AuthError::KeysUnavailable(e) => {
                tracing::error!(error = %e, "bearer token refused: key source unavailable")
            }
            AuthError::NotAuthenticated => tracing::error!("{self}"),
            _ => tracing::debug!(reason = %self, "bearer token refused"),
        }
    }
}

/// Whether the request is gRPC (`content-type: application/grpc`, `application/grpc+proto`, …).
pub(crate) fn is_grpc(headers: &http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            let ct = ct.trim_start();
            ct.len() >= 16
                && ct[..16].eq_ignore_ascii_case("application/grpc")
                && matches!(ct.as_bytes().get(16), None | Some(b'+' | b';'))
        })
}

/// gRPC's `grpc-message` encoding: bytes outside printable ASCII, and `%`, as `%XX`.
fn grpc_percent_encode(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for b in message.bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// RFC 6750 allows only %x20-21 / %x23-5B / %x5D-7E inside the quoted values; anything else
/// becomes `?` so that configuration text can never break the header.
pub(crate) fn quoted_safe(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\x20'..='\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E' => c,
            _ => '?',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_credentials_challenge_has_no_error_code() {
        let h = AuthError::MissingCredentials.www_authenticate(None);
        assert_eq!(h, Some(HeaderValue::from_static("Bearer")));
        let h = AuthError::MissingCredentials.www_authenticate(Some("api"));
        assert_eq!(h, Some(HeaderValue::from_static("Bearer realm=\"api\"")));
    }

    #[test]
    fn invalid_token_challenge() {
        let e = AuthError::InvalidToken(ValidationError::Expired { exp: 1, now: 2 });
        let h = e.www_authenticate(Some("api"));
        assert_eq!(
            h,
            Some(HeaderValue::from_static(
                "Bearer realm=\"api\", error=\"invalid_token\", error_description=\"the token has expired\""
            ))
        );
        assert_eq!(e.status(), StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn quoted_values_cannot_break_the_header() {
        let e = AuthError::InsufficientScope {
            scope: "a\"b".into(),
            description: "x\\y\nz é".into(),
        };
        let h = e.www_authenticate(None);
        assert_eq!(
            h,
            Some(HeaderValue::from_static(
                "Bearer error=\"insufficient_scope\", error_description=\"x?y?z ?\", scope=\"a?b\""
            ))
        );
    }

    #[test]
    fn grpc_answers_are_trailers_only_with_the_challenge_kept() {
        let e = AuthError::InsufficientScope {
            scope: "items:write".into(),
            description: "requires scope items:write, 100%".into(),
        };
        let r: Response<()> = e.to_grpc_response(Some("api"));
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["grpc-status"], "7");
        assert_eq!(
            r.headers()["grpc-message"],
            "requires scope items:write, 100%25"
        );
        assert_eq!(r.headers()["content-type"], "application/grpc");
        assert!(
            r.headers()[header::WWW_AUTHENTICATE]
                .to_str()
                .is_ok_and(|h| h.contains("insufficient_scope"))
        );
        let outage = AuthError::KeysUnavailable(KeySourceError::NoUsableKeys { url: "u".into() });
        assert_eq!(
            outage.to_grpc_response::<()>(None).headers()["grpc-status"],
            "14"
        );
        assert_eq!(AuthError::MissingCredentials.grpc_status(), 16);
        assert_eq!(AuthError::InvalidRequest("x").grpc_status(), 16);
        assert_eq!(AuthError::NotAuthenticated.grpc_status(), 13);
    }

    #[test]
    fn grpc_content_types() {
        let with = |ct: &str| {
            let mut h = http::HeaderMap::new();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_str(ct).expect("value"),
            );
            is_grpc(&h)
        };
        assert!(with("application/grpc"));
        assert!(with("application/grpc+proto"));
        assert!(with("Application/GRPC;charset=x"));
        assert!(!with("application/grpc-web"));
        assert!(!with("application/json"));
        assert!(!with("application/grp"));
        assert!(!is_grpc(&http::HeaderMap::new()));
    }

    #[test]
    fn outage_is_503_without_challenge() {
        let e = AuthError::KeysUnavailable(KeySourceError::NoUsableKeys { url: "u".into() });
        let r: Response<()> = e.to_response(None);
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(r.headers().get(header::WWW_AUTHENTICATE).is_none());
    }
}
