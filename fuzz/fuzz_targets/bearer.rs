//! The Authorization header parser (`bearer::bearer_token`) on requests built from the
//! fuzzer's bytes: the first line is the URI query, each following line (at most three) an
//! `Authorization` header value.
//!
//! Oracles: a token is returned only for exactly one `Authorization` header and no
//! `access_token` in the query; it is a non-empty RFC 6750 b64token taken from that header.
#![no_main]

use http::{HeaderValue, Request, header};
use jwt_access_token::bearer::bearer_token;
use libfuzzer_sys::fuzz_target;

fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

fuzz_target!(|data: &[u8]| {
    let mut lines = data.split(|b| *b == b'\n');
    let query = lines.next().unwrap_or_default();
    let uri = format!("/p?{}", String::from_utf8_lossy(query));
    let mut builder = Request::get("/");
    if let Ok(uri) = http::Uri::try_from(uri.as_str()) {
        builder = builder.uri(uri);
    }
    let mut headers = 0;
    for line in lines.take(3) {
        if let Ok(value) = HeaderValue::from_bytes(line) {
            builder = builder.header(header::AUTHORIZATION, value);
            headers += 1;
        }
    }
    let Ok(request) = builder.body(()) else {
        return;
    };
    if let Ok(Some(token)) = bearer_token(&request) {
        assert_eq!(headers, 1, "a token out of {headers} headers");
        assert!(is_b64token(token), "{token:?}");
        let value = request.headers()[header::AUTHORIZATION]
            .to_str()
            .expect("a returned token comes from a text header");
        assert!(value.contains(token));
        let query = request.uri().query().unwrap_or_default();
        assert!(
            !query.split('&').any(|p| p.split('=').next() == Some("access_token")),
            "query {query:?}"
        );
    }
});
