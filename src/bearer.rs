//! RFC 6750 §2: the bearer token of a request, or why there is none.
//!
//! The token is taken only from `Authorization: Bearer <b64token>` (§2.1; the scheme
//! compares case-insensitively). A token in the URI query (§2.3) is refused: URIs end up in
//! logs and `Referer` headers. Form-body tokens (§2.2) are not read, since reading them would
//! consume the body.
//!
//! ```
//! use jwt_access_token::bearer::{bearer_token, BearerError};
//!
//! let req = http::Request::get("/").header("authorization", "bearer abc.def.ghi").body(()).unwrap();
//! assert_eq!(bearer_token(&req), Ok(Some("abc.def.ghi")));
//!
//! let req = http::Request::get("/").header("authorization", "Basic dXNlcjpwdw==").body(()).unwrap();
//! assert_eq!(bearer_token(&req), Ok(None));
//!
//! let req = http::Request::get("/?access_token=abc").body(()).unwrap();
//! assert_eq!(bearer_token(&req), Err(BearerError::TokenInQuery));
//! ```

use http::{Request, header};

/// Why the request's credentials are malformed (answered with 400 `invalid_request`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BearerError {
    /// More than one `Authorization` header.
    #[error("more than one Authorization header")]
    SeveralHeaders,
    /// A token in the header and in the query as well (RFC 6750 §3.1: more than one method).
    #[error("the token is sent in more than one way")]
    SeveralMethods,
    /// A token in the URI query, which this server does not accept.
    #[error("access tokens in the URI query are not accepted")]
    TokenInQuery,
    /// The header is not `Bearer` followed by one b64token.
    #[error("malformed Bearer credentials")]
    Malformed,
}

impl BearerError {
    /// The client-facing text.
    pub fn description(self) -> &'static str {
        match self {
            BearerError::SeveralHeaders => "more than one Authorization header",
            BearerError::SeveralMethods => "the access token is sent in more than one way",
            BearerError::TokenInQuery => "access tokens in the URI query are not accepted",
            BearerError::Malformed => "malformed Bearer credentials",
        }
    }
}

impl From<BearerError> for crate::error::AuthError {
    fn from(e: BearerError) -> Self {
        crate::error::AuthError::InvalidRequest(e.description())
    }
}

/// The bearer token of `request`: `Ok(None)` when there are no bearer credentials at all (no
/// header, or another scheme such as `Basic`).
pub fn bearer_token<B>(request: &Request<B>) -> Result<Option<&str>, BearerError> {
    let in_query = request.uri().query().is_some_and(has_access_token_param);
    let mut headers = request.headers().get_all(header::AUTHORIZATION).iter();
    let Some(value) = headers.next() else {
        return if in_query {
            Err(BearerError::TokenInQuery)
        } else {
            Ok(None)
        };
    };
    if headers.next().is_some() {
        return Err(BearerError::SeveralHeaders);
    }
    let value = value.to_str().map_err(|_| BearerError::Malformed)?;
    let value = value.trim_matches(|c| c == ' ' || c == '\t');
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return if in_query {
            Err(BearerError::TokenInQuery)
        } else {
            Ok(None)
        };
    }
    if in_query {
        return Err(BearerError::SeveralMethods);
    }
    let token = rest.trim_start_matches(' ');
    if !is_b64token(token) {
        return Err(BearerError::Malformed);
    }
    Ok(Some(token))
}

/// RFC 6750 §2.1: `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    // Branch-free per byte, so the compiler can check many bytes at once.
    !body.is_empty() && body.bytes().fold(true, |ok, b| ok & is_b64token_byte(b))
}

fn is_b64token_byte(b: u8) -> bool {
    let lower = b | 0x20;
    (lower.wrapping_sub(b'a') < 26)
        | (b.wrapping_sub(b'0') < 10)
        | (b == b'-')
        | (b == b'.')
        | (b == b'_')
        | (b == b'~')
        | (b == b'+')
        | (b == b'/')
}

fn has_access_token_param(query: &str) -> bool {
    query.split('&').any(|pair| {
        let name = pair.split('=').next().unwrap_or("");
        name == "access_token" || percent_decoded_eq(name, "access_token")
    })
}

/// Whether `name`, percent-decoded, is `expected` (so `access%5Ftoken` is caught too).
fn percent_decoded_eq(name: &str, expected: &str) -> bool {
    let bytes = name.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(b) => {
                    decoded.push(b);
                    i += 3;
                    continue;
                }
                None => return false,
            }
        }
        decoded.push(bytes[i]);
        i += 1;
    }
    decoded == expected.as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(headers: &[&str], uri: &str) -> Request<()> {
        let mut b = Request::get(uri);
        for h in headers {
            b = b.header(header::AUTHORIZATION, *h);
        }
        b.body(()).expect("request")
    }

    #[test]
    fn bearer_scheme_any_case() {
        for h in [
            "Bearer a.b.c",
            "bearer a.b.c",
            "BEARER a.b.c",
            "Bearer   a.b.c",
            "Bearer a.b.c ",
        ] {
            assert_eq!(bearer_token(&req(&[h], "/")), Ok(Some("a.b.c")), "{h}");
        }
        assert_eq!(
            bearer_token(&req(&["Bearer abc+/=="], "/")),
            Ok(Some("abc+/=="))
        );
    }

    #[test]
    fn no_credentials() {
        assert_eq!(bearer_token(&req(&[], "/")), Ok(None));
        assert_eq!(bearer_token(&req(&["Basic dXNlcg=="], "/")), Ok(None));
        assert_eq!(bearer_token(&req(&["Bearerx a.b.c"], "/")), Ok(None));
        assert_eq!(bearer_token(&req(&["DPoP a.b.c"], "/?x=1")), Ok(None));
    }

    #[test]
    fn malformed() {
        for h in [
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "Bearer a,b",
            "Bearer =abc",
            "Bearer a\"b",
            "Bearer a=b",
        ] {
            assert_eq!(
                bearer_token(&req(&[h], "/")),
                Err(BearerError::Malformed),
                "{h:?}"
            );
        }
        let mut r = req(&[], "/");
        r.headers_mut().insert(
            header::AUTHORIZATION,
            http::HeaderValue::from_bytes(b"Bearer \xffabc").expect("opaque bytes"),
        );
        assert_eq!(bearer_token(&r), Err(BearerError::Malformed));
    }

    #[test]
    fn several_headers_or_methods() {
        assert_eq!(
            bearer_token(&req(&["Bearer a", "Bearer b"], "/")),
            Err(BearerError::SeveralHeaders)
        );
        assert_eq!(
            bearer_token(&req(&["Bearer a", "Basic b"], "/")),
            Err(BearerError::SeveralHeaders)
        );
        assert_eq!(
            bearer_token(&req(&["Bearer a"], "/?access_token=a")),
            Err(BearerError::SeveralMethods)
        );
        assert_eq!(
            bearer_token(&req(&["Bearer a"], "/?x=1&access%5ftoken=a")),
            Err(BearerError::SeveralMethods)
        );
    }

    #[test]
    fn the_byte_check_is_rfc6750_b64token_for_every_byte() {
        for b in 0..=255u8 {
            let expected =
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
            assert_eq!(is_b64token_byte(b), expected, "byte {b:#04x}");
        }
    }

    #[test]
    fn query_tokens_are_refused() {
        assert_eq!(
            bearer_token(&req(&[], "/?access_token=abc")),
            Err(BearerError::TokenInQuery)
        );
        assert_eq!(
            bearer_token(&req(&["Basic x"], "/?access_token")),
            Err(BearerError::TokenInQuery)
        );
        assert_eq!(bearer_token(&req(&[], "/?my_access_token=abc")), Ok(None));
        assert_eq!(bearer_token(&req(&[], "/?x=%zz")), Ok(None));
    }
}
