//! Signature verification cost of the two `jsonwebtoken` 12 crypto backends.
//!
//! For each of RS256, PS256, ES256, ES384 and EdDSA this measures, on one freshly
//! generated key and one token minted by [`JwtAccessTokenIssuer`]:
//!
//! - `aws_lc_rs`: `jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER` verifier factory + verify,
//! - `rust_crypto`: `jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER` verifier factory + verify,
//! - `jwt_access_token_validator`: this crate's full [`Validator::validate`] (parse, key
//!   selection, signature, claims).
//!
//! Factory + verify per iteration is exactly what `jsonwebtoken::crypto::verify` does per call.
//! Both backends are enabled for this bench, so providers are called explicitly.
//!
//! Run with: `cargo bench --bench backends`

use std::error::Error;
use std::hint::black_box;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::DecodingKey;
use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::jwk::Jwk;
use jwt_access_token::{
    Algorithm, ExtraClaims, JwtAccessTokenIssuer, KeySet, SigningKey, TokenRequest, Validator,
};

const ISSUER: &str = "https://as.example";
const AUDIENCE: &str = "https://api.example";

const BACKENDS: [(&str, &CryptoProvider); 2] = [
    ("aws_lc_rs", &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER),
    (
        "rust_crypto",
        &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER,
    ),
];

/// What `jsonwebtoken::crypto::verify` gets: algorithm, key, signing input, raw signature.
struct Signed {
    alg: jsonwebtoken::Algorithm,
    key: DecodingKey,
    message: Vec<u8>,
    signature: Vec<u8>,
}

struct Fixture {
    signed: Signed,
    token: String,
    keys: KeySet,
    validator: Validator,
}

fn to_jsonwebtoken(alg: Algorithm) -> Result<jsonwebtoken::Algorithm, Box<dyn Error>> {
    Ok(match alg {
        Algorithm::RS256 => jsonwebtoken::Algorithm::RS256,
        Algorithm::PS256 => jsonwebtoken::Algorithm::PS256,
        Algorithm::ES256 => jsonwebtoken::Algorithm::ES256,
        Algorithm::ES384 => jsonwebtoken::Algorithm::ES384,
        Algorithm::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        other => return Err(format!("{} is not benchmarked", other.as_str()).into()),
    })
}

fn factory_verify(provider: &CryptoProvider, signed: &Signed) -> bool {
    match (provider.verifier_factory)(&signed.alg, &signed.key) {
        Ok(verifier) => verifier.verify(&signed.message, &signed.signature).is_ok(),
        Err(_) => false,
    }
}

fn setup(alg: Algorithm) -> Result<Fixture, Box<dyn Error>> {
    let jwt_alg = to_jsonwebtoken(alg)?;
    let issuer = JwtAccessTokenIssuer::new(ISSUER, SigningKey::generate(alg, "k")?)?;
    let token = issuer.mint(&TokenRequest::new("alice", "app", [AUDIENCE]).scope("items:read"))?;

    let jwks = issuer.jwks();
    let jwk: Jwk = serde_json::from_value(jwks["keys"][0].clone())?;
    let (message, signature) = token
        .rsplit_once('.')
        .ok_or("token has no signature segment")?;
    let signed = Signed {
        alg: jwt_alg,
        key: DecodingKey::from_jwk(&jwk)?,
        message: message.as_bytes().to_vec(),
        signature: URL_SAFE_NO_PAD.decode(signature)?,
    };

    for (name, provider) in BACKENDS {
        if !factory_verify(provider, &signed) {
            return Err(format!("{name} does not verify the {} token", alg.as_str()).into());
        }
    }

    let keys = KeySet::from_jwks(&jwks.to_string())?;
    let validator = Validator::new(ISSUER, [AUDIENCE])?;
    validator.validate::<ExtraClaims>(&token, &keys)?;

    Ok(Fixture {
        signed,
        token,
        keys,
        validator,
    })
}

fn backends(c: &mut Criterion) {
    for alg in [
        Algorithm::RS256,
        Algorithm::PS256,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ] {
        let fixture = match setup(alg) {
            Ok(fixture) => fixture,
            Err(e) => {
                eprintln!("skipping {}: setup failed: {e}", alg.as_str());
                continue;
            }
        };

        let mut group = c.benchmark_group(alg.as_str());
        group
            .sample_size(30)
            .measurement_time(Duration::from_secs(3))
            .warm_up_time(Duration::from_secs(1));

        for (name, provider) in BACKENDS {
            group.bench_function(name, |b| {
                b.iter(|| factory_verify(provider, black_box(&fixture.signed)));
            });
        }

        group.bench_function("jwt_access_token_validator", |b| {
            b.iter(|| {
                fixture
                    .validator
                    .validate::<ExtraClaims>(black_box(&fixture.token), black_box(&fixture.keys))
                    .is_ok()
            });
        });

        group.finish();
    }
}

criterion_group!(benches, backends);
criterion_main!(benches);
