//! Token parsing and validation against a fixed key set, at a fixed time.
//!
//! The input is either the token itself (first byte even), or the decoded header, payload and
//! signature separated by 0xff bytes (first byte odd), which this target encodes: so the JSON
//! readers behind the base64url are reached with arbitrary bytes too. The validator accepts
//! ES256, EdDSA and RS256 keys and an HS256 secret.
//!
//! Oracle: besides "no panic, no hang", nothing may pass unless it is signed over exactly the
//! bytes of one of the issuer's own tokens: the fuzzer holds no key.
#![no_main]

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_access_token::ExtraClaims;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let f = common::fixture();
    let token = match data.split_first() {
        Some((mode, rest)) if mode & 1 == 1 => {
            let mut parts = rest.splitn(3, |b| *b == 0xff);
            let mut next = || URL_SAFE_NO_PAD.encode(parts.next().unwrap_or_default());
            let (header, payload, signature) = (next(), next(), next());
            format!("{header}.{payload}.{signature}")
        }
        Some((_, rest)) => String::from_utf8_lossy(rest).into_owned(),
        None => String::new(),
    };
    let verdict = f
        .validator
        .validate_at::<ExtraClaims>(&token, &f.keys, common::now());
    if let Ok(claims) = verdict {
        assert!(
            f.is_issuers_own(&token),
            "a token passed without a key: {token} -> {claims:?}"
        );
    }
});
