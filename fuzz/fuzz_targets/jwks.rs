//! JWKS parsing (`KeySet::from_jwks_lenient`) and PEM parsing, then the issuer's own tokens
//! verified against whatever key set the fuzzer made: so aws-lc sees fuzzed key material
//! (moduli, exponents, curve points) under the kids the tokens name.
//!
//! Oracles: the key cap holds, skipped entries are reported in order, nothing panics.
#![no_main]

mod common;

use jwt_access_token::{ExtraClaims, KeySet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let f = common::fixture();
    if let Ok((set, skipped)) = KeySet::from_jwks_lenient(data) {
        assert!(set.len() <= 256, "{} keys", set.len());
        assert!(
            skipped.windows(2).all(|w| w[0].index < w[1].index),
            "{skipped:?}"
        );
        for token in &f.valid {
            let _ = f
                .validator
                .validate_at::<ExtraClaims>(token, &set, common::now());
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(set) = KeySet::from_pem(text, Some("es")) {
            assert_eq!(set.len(), 1);
            let _ = f
                .validator
                .validate_at::<ExtraClaims>(&f.valid[0], &set, common::now());
        }
    }
});
