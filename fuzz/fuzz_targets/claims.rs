//! The claims model, reached through a valid signature: the fuzzer's bytes are signed with
//! the issuer's EdDSA key, so everything after the signature check (claims JSON, types,
//! times, required claims, `cnf`, the caller's extra claims) sees arbitrary input.
//!
//! First byte even: a fixed valid header, the rest is the payload. First byte odd: header and
//! payload separated by the first 0xff byte.
//!
//! Oracles: accepted claims satisfy every RFC 9068 §4 rule the validator promises (issuer,
//! audience, times with the leeway, required claims, no `cnf`), and they survive a round trip:
//! serialized, signed again and validated, they are the same claims.
#![no_main]

mod common;

use common::{AUD, ISS, LEEWAY, NOW};
use jwt_access_token::{AccessTokenClaims, ExtraClaims};
use libfuzzer_sys::fuzz_target;

const HEADER: &[u8] = br#"{"typ":"at+jwt","alg":"EdDSA","kid":"ed"}"#;

fn validate(f: &common::Fixture, header: &[u8], payload: &[u8]) -> Option<AccessTokenClaims> {
    let token = f.eddsa.sign_compact(header, payload).expect("sign");
    f.validator
        .validate_at::<ExtraClaims>(&token, &f.keys, common::now())
        .ok()
}

fuzz_target!(|data: &[u8]| {
    let f = common::fixture();
    let (header, payload) = match data.split_first() {
        Some((mode, rest)) if mode & 1 == 1 => match rest.iter().position(|b| *b == 0xff) {
            Some(at) => (&rest[..at], &rest[at + 1..]),
            None => (rest, &b"{}"[..]),
        },
        Some((_, rest)) => (HEADER, rest),
        None => return,
    };
    let Some(claims) = validate(f, header, payload) else {
        return;
    };
    assert_eq!(claims.iss, ISS);
    assert!(claims.aud.contains(AUD), "{:?}", claims.aud);
    assert!(claims.exp.as_secs().saturating_add(LEEWAY) > NOW, "{}", claims.exp);
    if let Some(nbf) = claims.nbf {
        assert!(nbf.as_secs() <= NOW + LEEWAY, "nbf {nbf}");
    }
    let iat = claims.iat.expect("iat is required");
    assert!(iat.as_secs() <= NOW + LEEWAY, "iat {iat}");
    assert!(claims.sub.is_some() && claims.client_id.is_some() && claims.jti.is_some());
    assert!(claims.cnf.is_none());
    let json = serde_json::to_vec(&claims).expect("claims serialize");
    let again = validate(f, HEADER, &json);
    assert_eq!(
        again.as_ref(),
        Some(&claims),
        "round trip of {}",
        String::from_utf8_lossy(&json)
    );
});
