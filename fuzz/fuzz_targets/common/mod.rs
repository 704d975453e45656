//! What every target shares: fixed keys (so that a crash reproduces), the issuer's key set, a
//! validator with every algorithm family and an HMAC secret, and a fixed clock.
#![allow(dead_code)]

use jwt_access_token::{
    Algorithm, HmacSecret, KeySet, NumericDate, SigningKey, Validator,
};
use serde_json::json;
use std::sync::OnceLock;

pub const ISS: &str = "https://as.example";
pub const AUD: &str = "https://api.example";
/// The fixed clock of every validation.
pub const NOW: i64 = 1_800_000_000;
/// The leeway of the validator (its default).
pub const LEEWAY: i64 = 60;
pub const HMAC_SECRET: &[u8; 32] = b"fuzzing-secret-fuzzing-secret-32";

/// Test-only keys, made with `openssl genpkey`.
const ES256_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgO4/3FuvdLja/yXqY
zaeXbZSbRgRotNCFEpC/1yS6+rShRANCAARqHPEciB3ehAgo55ifBhPj3zAITWnq
tROmeFHPGO08m+tIuD3GsMYTQkYA6Q88vZzPNqNbdefM7hXOkSmvM4nb
-----END PRIVATE KEY-----
";
const EDDSA_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEICal5J9uV35nf0BsdV/LsT92JrB9AlzkIRYct2Yb16xq
-----END PRIVATE KEY-----
";
const RS256_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC4BG9Okx79UKX5
rRe2tm4H4hRmDICRYZ1Qh/Pyy5cyFbJicO/toGcybp3qWuhdBicx6R5XWIaXNqPc
P6uDYuVUV0MVoNg7FxDlBykdstD4WfOCrOk9JEyoubwvFNqsjKa95eEL11aCHAlY
TMUR41pA7EBkHksCyqfVzvS5VBriWflatYh04pkBlhBVKXpuwrP1X6A0f86KYeze
LdTSiDozlZTJQMMvZjXaMkiruagr1qzJt7/95YVArPgWeEW70GLyqfsnb6jCUQb0
urEm2Aa5HzZ5/mk54KG6d9drmFF+EqNCFzOrBLWuCY2ANKNWC53RQfv6mU3J/GRk
vxSr0KQHAgMBAAECggEAOA2JxjqEVw9I74vtTEe3rokMQ6WNSDueytgO1Cd179iy
FNBoFU8mADO3wJpea2+jYs2q41pg7RDEyyNN4GCwkIdgNOdg1mcJS2pp+NTuWKg1
x9lZ1rkG7OJe00yb67GQXQn4Cj5W6J0Xr6D66p8BcANG/fhISxpmE3fODeHzqnzO
ufLf7+odJlgOuFLTfRQhaZ/mD53uWqFL7qZPy+Sn7d9XFRHZDWQcw9MC+HPeylPE
swKIVAmve/n1pJXXL9pgei/Nmi0RWv+/au6tFsV46H2+5ZkXZv0p5ofPNv37SPQK
xIXb/BNPHjTo0jYLyFSJtWZVNTwjvQ4tc+LAf0d4CQKBgQDx23ydrjcHmr4PrbBG
np6s0HLp41ezRmb4rhwAifPGcVjms4zpiH6ZfwZa8d5HRrqSc4Krj25Z8r7V4H1R
7DjoxTiV9Vt+PK/SkWBp7UNqFwkzf578HzzzxIOgmtLjaSjM9EMerh+WiWEL+BAx
jd5w8+RTnXF4E1r6pbA/V8cvjQKBgQDCxxq7RFD+Qab9TWSB302idJt3EFU1OfTk
010jIkuXDkCrNP5KVLpq/5mp8lj1Rpar8/Y59ZAxwlNRVMBC2PIfuXy78sj8kuAS
8qtcw1ataDRCAJEXq9+lChP+nJbGFDQ0mjliBVRJvKuYnOsipFR+BuAuvIVsNcqp
FPYhQdPi4wKBgQCTArMwtWDFwo2cwhrQEkKpENuIx6PbWQPmTQ7AVRpUmTlMof8Z
RNqPOuMGDNbrxFZMBuJ6neiZzC+rmZUTYt8EvjyzCjze8sx81dkhChNcPTxejUh6
QBKwqdbInNNrX9RpIGBcGcMhocfXmqVdObroNZeoK595OWqnyGblWdm9UQKBgBst
31wMT2T7Ukr8Vq8Msu+dZ+g4Xjt8J+EaYV+6tGOSuJFrZqSGqDCwFAgz6hfnzrSV
6WDzFDjtTeUGd4GcdkTZBD/RxBwCfsQGGsVp+Jlf9hLTs2tjL2T/QAUCYsOnJBXH
A4TbC4Tyj9tO4jzGQ4gGe5fp9JBB/VKUuzeu0NtTAoGAVnQsiQ0k5OiJBD08NTql
Tp+TbKMW93EKKa2+W5S29g3BJ/mGHHUb6gDYAy7+5AnRO9LCsWOSxlnFp/lNzx/l
BN4wWnUEg3Qh97VY3RTJSQpQZYrEO6ckvh+MD9tR/fbxnzlk1xrjbc16m3Cnqh5r
dQJx9s4/sLBNrsJizFqk92o=
-----END PRIVATE KEY-----
";

/// The claims of the issuer's own valid tokens (valid at `NOW`).
pub const CLAIMS: &str = r#"{"iss":"https://as.example","aud":"https://api.example","sub":"alice","client_id":"app","iat":1799999990,"jti":"id-1","exp":1800000300,"scope":"a b","roles":["r"],"groups":[{"value":"g"}]}"#;

pub struct Fixture {
    pub es256: SigningKey,
    pub eddsa: SigningKey,
    pub rs256: SigningKey,
    pub keys: KeySet,
    pub validator: Validator,
    /// The issuer's own tokens, one per key, over `CLAIMS`.
    pub valid: Vec<String>,
}

impl Fixture {
    /// Whether `token` is signed over the exact bytes of one of the issuer's own tokens: the
    /// only tokens that may pass, since the fuzzer holds no key.
    pub fn is_issuers_own(&self, token: &str) -> bool {
        let input = token.rsplit_once('.').map_or("", |(input, _)| input);
        self.valid
            .iter()
            .any(|v| v.rsplit_once('.').is_some_and(|(own, _)| own == input))
    }
}

/// The header the issuer puts on tokens signed with `key`.
pub fn header_of(key: &SigningKey) -> String {
    json!({"typ":"at+jwt","alg":key.alg().as_str(),"kid":key.kid()}).to_string()
}

pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let es256 = SigningKey::from_pem(Algorithm::ES256, "es", ES256_PEM).expect("es256");
        let eddsa = SigningKey::from_pem(Algorithm::EdDSA, "ed", EDDSA_PEM).expect("eddsa");
        let rs256 = SigningKey::from_pem(Algorithm::RS256, "rs", RS256_PEM).expect("rs256");
        let jwks = json!({"keys": [es256.public_jwk(), eddsa.public_jwk(), rs256.public_jwk()]});
        let keys = KeySet::from_jwks(&jwks.to_string()).expect("key set");
        let validator = Validator::new(ISS, [AUD])
            .expect("validator")
            .with_hmac_secret(HmacSecret::new(Algorithm::HS256, HMAC_SECRET).expect("secret"));
        let valid = [&es256, &eddsa, &rs256]
            .iter()
            .map(|k| {
                k.sign_compact(header_of(k).as_bytes(), CLAIMS.as_bytes())
                    .expect("sign")
            })
            .collect();
        Fixture {
            es256,
            eddsa,
            rs256,
            keys,
            validator,
            valid,
        }
    })
}

pub fn now() -> NumericDate {
    NumericDate::from_secs(NOW)
}
