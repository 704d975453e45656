//! Memory under many distinct tokens: `cargo bench --bench memory` feeds N distinct valid
//! tokens (default 1 000 000; `TOKENS=...` to change), each twice so that every one is
//! admitted to the verdict cache, through a verifier with the default
//! bounds (verdict cache on, 32 MiB) and prints the process RSS before, after, and at its
//! peak, read from /proc/self/status. EdDSA keeps minting cheap; the cache does not care
//! which algorithm signed.

use jwt_access_token::{
    AccessTokenVerifier, Algorithm, JwtAccessTokenIssuer, KeySet, SigningKey, TokenRequest,
    Validator,
};
use std::time::{Duration, Instant};

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::var("TOKENS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let issuer = JwtAccessTokenIssuer::new(
        "https://as.example",
        SigningKey::generate(Algorithm::EdDSA, "k")?,
    )?;
    let keys = KeySet::from_jwks(&issuer.jwks().to_string())?;
    let verifier = AccessTokenVerifier::new(
        Validator::new("https://as.example", ["https://api.example"])?,
        keys,
    )?;
    let request = TokenRequest::new("alice", "client-1", ["https://api.example"])
        .scope("items:read items:write")
        .roles(["editor"])
        .lifetime(Duration::from_secs(3600));
    let before = status_kib("VmRSS:").unwrap_or(0);
    let started = Instant::now();
    let mut accepted = 0usize;
    let mut token_bytes = 0usize;
    for i in 0..n {
        // Distinct bytes per token (jti is random, and sub differs).
        let token = issuer.mint(&request.clone().claim("n", serde_json::json!(i)))?;
        token_bytes += token.len();
        // Twice: a token is admitted to the verdict cache on its second verification.
        if let (Some(Ok(_)), Some(Ok(_))) = (
            verifier.verify_cached(&token),
            verifier.verify_cached(&token),
        ) {
            accepted += 1;
        }
        if i > 0 && i % 200_000 == 0 {
            eprintln!("{i} tokens, RSS {} KiB", status_kib("VmRSS:").unwrap_or(0));
        }
    }
    let after = status_kib("VmRSS:").unwrap_or(0);
    let peak = status_kib("VmHWM:").unwrap_or(0);
    println!(
        "| distinct tokens | accepted | avg token bytes | RSS before | RSS after | RSS peak | time |"
    );
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| {n} | {accepted} | {} | {} MiB | {} MiB | {} MiB | {:.1} s |",
        token_bytes / n.max(1),
        before / 1024,
        after / 1024,
        peak / 1024,
        started.elapsed().as_secs_f64()
    );
    if accepted != n {
        return Err(format!("only {accepted} of {n} tokens were accepted").into());
    }
    Ok(())
}
