//! Interop with Authlib, the reference Python implementation of RFC 9068: tokens minted by
//! its `JWTBearerTokenGenerator` (`tests/interop/authlib/mint.py`) against our `Validator`, and
//! tokens minted by our `JwtAccessTokenIssuer` against its `JWTBearerTokenValidator`
//! (`tests/interop/authlib/validate.py`). Each point where the two disagree is pinned here and
//! recorded in the README's "Interoperability" section.
//!
//! Needs the virtual environment `tests/interop/authlib/.venv` (`.ci/run` creates it). When it
//! is missing the tests fail with the command that creates it: they never skip.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use jwt_access_token::{
    AccessTokenClaims, Algorithm, JwtAccessTokenIssuer, KeySet, NumericDate, SigningKey,
    TokenRequest, ValidationError, Validator,
};
use serde_json::{Value, json};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

const AUDIENCE: &str = "https://api.example";
/// The issuer of the tokens Authlib mints (mint.py's default).
const AUTHLIB_ISSUER: &str = "https://authlib.example";
/// The issuer of the tokens we mint.
const OUR_ISSUER: &str = "https://as.example";

/// The crate root: where `cargo test` runs us from (at run time, so a binary built from
/// another checkout in a shared target directory still looks here), else where we were built.
fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

fn dir() -> PathBuf {
    manifest_dir().join("tests/interop/authlib")
}

fn python() -> PathBuf {
    let python = dir().join(".venv/bin/python");
    assert!(
        python.is_file(),
        "Authlib interop needs the virtual environment {}: run \
         `python3 -m venv tests/interop/authlib/.venv && \
         tests/interop/authlib/.venv/bin/pip install -r tests/interop/authlib/requirements.txt` \
         (.ci/run does it)",
        python.display()
    );
    python
}

/// Runs a script of tests/interop/authlib with `args` and `stdin`; its stdout as JSON.
fn run(script: &str, args: &[&str], stdin: Option<&Value>) -> Value {
    let mut child = Command::new(python())
        .arg(dir().join(script))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
    let mut pipe = child.stdin.take().expect("stdin");
    if let Some(input) = stdin {
        pipe.write_all(input.to_string().as_bytes())
            .expect("write stdin");
    }
    drop(pipe);
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{script} {args:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{script} printed no JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// A token from Authlib's JWTBearerTokenGenerator: {"token", "jwks", "issuer", "header", "claims"}.
fn authlib_mint(args: &[&str]) -> Value {
    run("mint.py", args, None)
}

/// What Authlib's validator is asked: a token, the JWKS, the issuer it trusts, and the scopes
/// the route requires (its resource server is always `AUDIENCE`).
type Check<'a> = (&'a str, &'a Value, &'a str, Option<&'a [&'a str]>);

/// Authlib's JWTBearerTokenValidator's verdicts, from one process: each {"valid": true,
/// "header", "claims"} or {"valid": false, "error", "cause"}.
fn authlib_validate_all(checks: &[Check<'_>]) -> Vec<Value> {
    let batch = checks
        .iter()
        .map(|(token, jwks, issuer, scopes)| {
            json!({"token": token, "jwks": jwks, "issuer": issuer,
                   "resource_server": AUDIENCE, "scopes": scopes})
        })
        .collect();
    let verdicts = run("validate.py", &[], Some(&Value::Array(batch)));
    let verdicts = verdicts.as_array().expect("an array of verdicts").clone();
    assert_eq!(verdicts.len(), checks.len());
    verdicts
}

/// Authlib's verdict on one token of `OUR_ISSUER`.
fn authlib_validate(token: &str, jwks: &Value, scopes: Option<&[&str]>) -> Value {
    authlib_validate_all(&[(token, jwks, OUR_ISSUER, scopes)]).remove(0)
}

fn our_validator(issuer: &str) -> Validator {
    Validator::new(issuer, [AUDIENCE]).expect("validator")
}

/// Our validator on an Authlib-minted token, with the JWKS it printed.
fn validate_minted(
    minted: &Value,
    validator: &Validator,
) -> Result<AccessTokenClaims, ValidationError> {
    let keys = KeySet::from_jwks(&minted["jwks"].to_string()).expect("Authlib's JWKS");
    validator.validate(minted["token"].as_str().expect("token"), &keys)
}

fn our_issuer(alg: Algorithm) -> JwtAccessTokenIssuer {
    JwtAccessTokenIssuer::new(
        OUR_ISSUER,
        SigningKey::generate(alg, "ours-1").expect("key"),
    )
    .expect("issuer")
}

/// A token with this exact header and claims, signed with `issuer`'s key.
fn sign_raw(issuer: &JwtAccessTokenIssuer, header: &str, claims: &Value) -> String {
    issuer
        .signing_key()
        .sign_compact(header.as_bytes(), claims.to_string().as_bytes())
        .expect("sign")
}

/// Valid RFC 9068 claims from `OUR_ISSUER`, issued now for five minutes.
fn claims_now() -> Value {
    let now = NumericDate::now().as_secs();
    json!({"iss": OUR_ISSUER, "aud": AUDIENCE, "sub": "alice", "client_id": "c", "iat": now,
           "exp": now + 300, "jti": "j-1", "scope": "items:read"})
}

fn assert_authlib_refuses(verdict: &Value, cause: &str) {
    assert_eq!(verdict["valid"], false, "{verdict}");
    assert_eq!(verdict["error"], "invalid_token", "{verdict}");
    assert!(
        verdict["cause"]
            .as_str()
            .unwrap_or_default()
            .contains(cause),
        "expected a cause containing {cause:?}: {verdict}"
    );
}

#[test]
fn authlib_tokens_are_accepted_by_our_validator() {
    let validator = our_validator(AUTHLIB_ISSUER);

    // Client credentials, RS256 from a key set: Authlib's header carries typ and kid.
    let minted = authlib_mint(&["--alg", "RS256", "--scope", "items:read items:write"]);
    assert_eq!(
        minted["header"],
        json!({"typ": "at+jwt", "alg": "RS256", "kid": "authlib-key-1"})
    );
    let mut names: Vec<&str> = minted["claims"]
        .as_object()
        .expect("claims")
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "aud",
            "client_id",
            "exp",
            "iat",
            "iss",
            "jti",
            "scope",
            "sub"
        ]
    );
    let claims = validate_minted(&minted, &validator).expect("accepted");
    assert_eq!(claims.sub.as_deref(), Some("authlib-client"));
    assert_eq!(claims.client_id.as_deref(), Some("authlib-client"));
    assert!(claims.scope.contains("items:read") && claims.scope.contains("items:write"));
    assert!(claims.jti.is_some() && claims.iat.is_some());

    // A user's token, ES256 from a bare key (no kid: our single ES256 key is chosen),
    // several audiences, and RFC 9068 §2.2.3.1 authorization claims.
    let minted = authlib_mint(&[
        "--alg",
        "ES256",
        "--no-kid",
        "--user",
        "alice",
        "--audience",
        AUDIENCE,
        "--audience",
        "https://other.example",
        "--claims",
        r#"{"roles": ["editor"], "groups": ["engineering"]}"#,
    ]);
    assert_eq!(minted["header"], json!({"typ": "at+jwt", "alg": "ES256"}));
    assert_eq!(
        minted["claims"]["aud"],
        json!([AUDIENCE, "https://other.example"])
    );
    let claims = validate_minted(&minted, &validator).expect("accepted");
    assert_eq!(claims.sub.as_deref(), Some("alice"));
    assert_eq!(claims.roles, ["editor"]);
    assert_eq!(claims.groups, ["engineering"]);
}

#[test]
fn bad_authlib_tokens_are_refused_by_both() {
    let validator = our_validator(AUTHLIB_ISSUER);
    let expired = authlib_mint(&["--expires-in", "-120"]);
    assert!(matches!(
        validate_minted(&expired, &validator),
        Err(ValidationError::Expired { .. })
    ));
    let elsewhere = authlib_mint(&["--audience", "https://other.example"]);
    assert!(matches!(
        validate_minted(&elsewhere, &validator),
        Err(ValidationError::WrongAudience(_))
    ));
    let foreign = authlib_mint(&["--issuer", "https://impostor.example"]);
    assert!(matches!(
        validate_minted(&foreign, &validator),
        Err(ValidationError::WrongIssuer(_))
    ));
    // Authlib's own validator agrees on each.
    let token = |m: &Value| m["token"].as_str().expect("token").to_owned();
    let (expired_token, elsewhere_token, foreign_token) =
        (token(&expired), token(&elsewhere), token(&foreign));
    let verdicts = authlib_validate_all(&[
        (&expired_token, &expired["jwks"], AUTHLIB_ISSUER, None),
        (&elsewhere_token, &elsewhere["jwks"], AUTHLIB_ISSUER, None),
        (&foreign_token, &foreign["jwks"], AUTHLIB_ISSUER, None),
    ]);
    assert_authlib_refuses(&verdicts[0], "ExpiredTokenError");
    assert_authlib_refuses(&verdicts[1], "Invalid claim: 'aud'");
    assert_authlib_refuses(&verdicts[2], "Invalid claim: 'iss'");
}

#[test]
fn our_tokens_are_accepted_by_authlib() {
    for alg in [Algorithm::RS256, Algorithm::ES256] {
        let issuer = our_issuer(alg);
        let token = issuer
            .mint(
                &TokenRequest::new("alice", "shop", [AUDIENCE, "https://other.example"])
                    .scope("items:read items:write")
                    .roles(["editor"])
                    .groups(["engineering"])
                    .claim("tenant", json!("acme")),
            )
            .expect("mint");
        let jwks = issuer.jwks();
        let verdicts = authlib_validate_all(&[
            (&token, &jwks, OUR_ISSUER, Some(&["items:read"])),
            (&token, &jwks, OUR_ISSUER, Some(&["items:delete"])),
        ]);
        let verdict = &verdicts[0];
        assert_eq!(verdict["valid"], true, "{alg}: {verdict}");
        assert_eq!(
            verdict["header"],
            json!({"typ": "at+jwt", "alg": alg.as_str(), "kid": "ours-1"})
        );
        let claims = &verdict["claims"];
        assert_eq!(claims["sub"], "alice", "{alg}");
        assert_eq!(claims["client_id"], "shop", "{alg}");
        assert_eq!(claims["scope"], "items:read items:write", "{alg}");
        assert_eq!(claims["roles"], json!(["editor"]), "{alg}");
        assert_eq!(claims["tenant"], "acme", "{alg}");
        // Authlib's scope check on the same token: a scope the token lacks is refused.
        let verdict = &verdicts[1];
        assert_eq!(verdict["valid"], false, "{alg}: {verdict}");
        assert_eq!(verdict["error"], "insufficient_scope", "{alg}: {verdict}");
    }
}

#[test]
fn bad_tokens_of_ours_are_refused_by_both() {
    let issuer = our_issuer(Algorithm::RS256);
    let jwks = issuer.jwks();
    let keys = KeySet::from_jwks(&jwks.to_string()).expect("keys");
    let ours = our_validator(OUR_ISSUER);
    let long_ago = NumericDate::from_secs(NumericDate::now().as_secs() - 3600);
    let expired = issuer
        .mint_at(&TokenRequest::new("alice", "shop", [AUDIENCE]), long_ago)
        .expect("mint");
    let elsewhere = issuer
        .mint(&TokenRequest::new(
            "alice",
            "shop",
            ["https://other.example"],
        ))
        .expect("mint");
    let id_token = sign_raw(
        &issuer,
        r#"{"typ":"JWT","alg":"RS256","kid":"ours-1"}"#,
        &claims_now(),
    );
    let mut no_client = claims_now();
    no_client.as_object_mut().unwrap().remove("client_id");
    let no_client = sign_raw(
        &issuer,
        r#"{"typ":"at+jwt","alg":"RS256","kid":"ours-1"}"#,
        &no_client,
    );
    let forged = {
        let other = our_issuer(Algorithm::RS256);
        other
            .mint(&TokenRequest::new("mallory", "shop", [AUDIENCE]))
            .expect("mint")
    };
    type OursSays = fn(&ValidationError) -> bool;
    let cases: [(&str, &str, OursSays, &str); 5] = [
        (
            "expired",
            &expired,
            |e| matches!(e, ValidationError::Expired { .. }),
            "ExpiredTokenError",
        ),
        (
            "wrong audience",
            &elsewhere,
            |e| matches!(e, ValidationError::WrongAudience(_)),
            "Invalid claim: 'aud'",
        ),
        (
            "typ JWT",
            &id_token,
            |e| matches!(e, ValidationError::WrongType(_)),
            "Invalid claim: 'typ'",
        ),
        (
            "no client_id",
            &no_client,
            |e| matches!(e, ValidationError::MissingClaim("client_id")),
            "Missing claim: 'client_id'",
        ),
        (
            "another key",
            &forged,
            |e| matches!(e, ValidationError::InvalidSignature),
            "BadSignatureError",
        ),
    ];
    let checks: Vec<Check<'_>> = cases
        .iter()
        .map(|(_, token, _, _)| (*token, &jwks, OUR_ISSUER, None))
        .collect();
    let verdicts = authlib_validate_all(&checks);
    for ((name, token, ours_says, authlib_says), verdict) in cases.into_iter().zip(verdicts) {
        let ours = ours.validate::<jwt_access_token::ExtraClaims>(token, &keys);
        assert!(ours.as_ref().is_err_and(ours_says), "{name}: ours {ours:?}");
        assert_eq!(verdict["valid"], false, "{name}: {verdict}");
        assert!(
            verdict["cause"]
                .as_str()
                .unwrap_or_default()
                .contains(authlib_says),
            "{name}: {verdict}"
        );
    }
}

/// RFC 9068 §2.1 and §4: `typ` MUST be `at+jwt`. Authlib checks `typ` only when present; we
/// require it, so that an ID token or any other JWT from the same issuer never passes.
#[test]
fn disagreement_missing_typ() {
    let issuer = our_issuer(Algorithm::RS256);
    let token = sign_raw(&issuer, r#"{"alg":"RS256","kid":"ours-1"}"#, &claims_now());
    let keys = KeySet::from_jwks(&issuer.jwks().to_string()).expect("keys");
    assert!(matches!(
        our_validator(OUR_ISSUER).validate::<jwt_access_token::ExtraClaims>(&token, &keys),
        Err(ValidationError::MissingType)
    ));
    assert_eq!(
        authlib_validate(&token, &issuer.jwks(), None)["valid"],
        true
    );
}

/// RFC 7519 §4.1.4/§4.1.5 allow "some small leeway" for clock skew. Ours is 60 s by default;
/// Authlib's JWTBearerTokenValidator uses none. With `Validator::leeway(0)` we agree.
#[test]
fn disagreement_clock_leeway() {
    let issuer = our_issuer(Algorithm::ES256);
    let keys = KeySet::from_jwks(&issuer.jwks().to_string()).expect("keys");
    let now = NumericDate::now().as_secs();
    let request = TokenRequest::new("alice", "shop", [AUDIENCE]).lifetime(Duration::from_secs(300));
    // Expired 30 s ago; issued 30 s in the future.
    let just_expired = issuer
        .mint_at(&request, NumericDate::from_secs(now - 330))
        .expect("mint");
    let from_the_future = issuer
        .mint_at(&request, NumericDate::from_secs(now + 30))
        .expect("mint");
    let lenient = our_validator(OUR_ISSUER);
    let strict = our_validator(OUR_ISSUER).leeway(Duration::ZERO);
    let jwks = issuer.jwks();
    let verdicts = authlib_validate_all(&[
        (&just_expired, &jwks, OUR_ISSUER, None),
        (&from_the_future, &jwks, OUR_ISSUER, None),
    ]);
    for ((name, token, cause), verdict) in [
        ("expired 30 s ago", &just_expired, "ExpiredTokenError"),
        (
            "issued in 30 s",
            &from_the_future,
            "The token was issued in the future",
        ),
    ]
    .into_iter()
    .zip(verdicts)
    {
        let ours = lenient.validate::<jwt_access_token::ExtraClaims>(token, &keys);
        assert!(ours.is_ok(), "{name}: {ours:?}");
        assert!(
            strict
                .validate::<jwt_access_token::ExtraClaims>(token, &keys)
                .is_err(),
            "{name}"
        );
        assert_authlib_refuses(&verdict, cause);
    }
    // Authlib-minted, expired 30 s ago: the same split the other way round.
    let minted = authlib_mint(&["--expires-in", "-30"]);
    assert!(validate_minted(&minted, &our_validator(AUTHLIB_ISSUER)).is_ok());
    assert!(
        validate_minted(
            &minted,
            &our_validator(AUTHLIB_ISSUER).leeway(Duration::ZERO)
        )
        .is_err()
    );
}

/// RFC 9068 §2.1 only requires RS256 of both sides. Authlib's validator calls joserfc without
/// an algorithm list, so it accepts only joserfc's "recommended" ones (HS256, RS256, ES256):
/// our PS256, ES384 and EdDSA tokens are valid here and refused there.
#[test]
fn disagreement_algorithms_beyond_rs256_and_es256() {
    let algs = [Algorithm::PS256, Algorithm::ES384, Algorithm::EdDSA];
    let minted: Vec<(String, Value)> = algs
        .iter()
        .map(|&alg| {
            let issuer = our_issuer(alg);
            let token = issuer
                .mint(&TokenRequest::new("alice", "shop", [AUDIENCE]))
                .expect("mint");
            (token, issuer.jwks())
        })
        .collect();
    let checks: Vec<Check<'_>> = minted
        .iter()
        .map(|(token, jwks)| (token.as_str(), jwks, OUR_ISSUER, None))
        .collect();
    let verdicts = authlib_validate_all(&checks);
    for ((alg, (token, jwks)), verdict) in algs.iter().zip(&minted).zip(verdicts) {
        let keys = KeySet::from_jwks(&jwks.to_string()).expect("keys");
        let ours =
            our_validator(OUR_ISSUER).validate::<jwt_access_token::ExtraClaims>(token, &keys);
        assert!(ours.is_ok(), "{alg}: {ours:?}");
        assert_authlib_refuses(&verdict, "UnsupportedAlgorithmError");
    }
}

/// RFC 7519 §4: claim names MUST be unique; a parser either rejects duplicates or takes the
/// last. We reject (which `aud` would a library before us have read?); Authlib takes the last.
#[test]
fn disagreement_duplicate_claims() {
    let issuer = our_issuer(Algorithm::RS256);
    let now = NumericDate::now().as_secs();
    let payload = format!(
        r#"{{"iss":"{OUR_ISSUER}","aud":"https://other.example","aud":"{AUDIENCE}","sub":"alice","client_id":"c","iat":{now},"exp":{},"jti":"j"}}"#,
        now + 300
    );
    let token = issuer
        .signing_key()
        .sign_compact(
            br#"{"typ":"at+jwt","alg":"RS256","kid":"ours-1"}"#,
            payload.as_bytes(),
        )
        .expect("sign");
    let keys = KeySet::from_jwks(&issuer.jwks().to_string()).expect("keys");
    assert!(matches!(
        our_validator(OUR_ISSUER).validate::<jwt_access_token::ExtraClaims>(&token, &keys),
        Err(ValidationError::DuplicateMember(m)) if m == "aud"
    ));
    let verdict = authlib_validate(&token, &issuer.jwks(), None);
    assert_eq!(verdict["valid"], true, "{verdict}");
    assert_eq!(verdict["claims"]["aud"], AUDIENCE, "the last one wins");
}

/// RFC 9068 §2.2.3 / RFC 8693 §4.2: `scope` is one space-separated string. We refuse an array;
/// Authlib accepts it (its scope check turns either form into a list).
#[test]
fn disagreement_scope_as_an_array() {
    let issuer = our_issuer(Algorithm::RS256);
    let mut claims = claims_now();
    claims["scope"] = json!(["items:read", "items:write"]);
    let token = sign_raw(
        &issuer,
        r#"{"typ":"at+jwt","alg":"RS256","kid":"ours-1"}"#,
        &claims,
    );
    let keys = KeySet::from_jwks(&issuer.jwks().to_string()).expect("keys");
    assert!(matches!(
        our_validator(OUR_ISSUER).validate::<jwt_access_token::ExtraClaims>(&token, &keys),
        Err(ValidationError::ClaimType { claim: "scope", .. })
    ));
    let verdict = authlib_validate(&token, &issuer.jwks(), Some(&["items:write"]));
    assert_eq!(verdict["valid"], true, "{verdict}");
}

/// RFC 8725 §3.1: the caller chooses the algorithms, and no other is used. Authlib's validator
/// verifies with whatever `get_jwks` returns, an HS256 secret in a JWKS included (and HS256 is
/// one of joserfc's default algorithms); a JWKS is published (RFC 8414 §2), so we never take
/// an HMAC key from one (the entry is skipped) and accept HS256 only with an explicit
/// `HmacSecret`.
#[test]
fn disagreement_hmac_keys_in_a_jwks() {
    use base64::Engine;
    use jwt_access_token::HmacSecret;
    let minted = authlib_mint(&["--alg", "HS256"]);
    let token = minted["token"].as_str().expect("token");
    assert_eq!(minted["header"]["alg"], "HS256");
    let jwks = minted["jwks"].to_string();
    assert!(
        KeySet::from_jwks(&jwks).is_err(),
        "a JWKS of one symmetric key has no usable key"
    );
    assert!(matches!(
        our_validator(AUTHLIB_ISSUER)
            .validate::<jwt_access_token::ExtraClaims>(token, &KeySet::new()),
        Err(ValidationError::AlgorithmNotAllowed(a)) if a == "HS256"
    ));
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(minted["jwks"]["keys"][0]["k"].as_str().expect("k"))
        .expect("base64url");
    let with_secret = our_validator(AUTHLIB_ISSUER)
        .with_hmac_secret(HmacSecret::new(Algorithm::HS256, &secret).expect("secret"));
    let claims = with_secret.validate::<jwt_access_token::ExtraClaims>(token, &KeySet::new());
    assert!(claims.is_ok(), "{claims:?}");
    // Authlib's validator takes the secret from the JWKS it is handed.
    let reissued = authlib_mint(&["--alg", "HS256", "--issuer", OUR_ISSUER]);
    let verdict = authlib_validate(
        reissued["token"].as_str().expect("token"),
        &reissued["jwks"],
        None,
    );
    assert_eq!(verdict["valid"], true, "{verdict}");
}
