//! Scaling from 1 to 2 threads, in process (no load generator competing for the cores):
//! `cargo bench --bench scaling` runs k threads against one shared verifier for a fixed time
//! and prints operations per second and the 1 → 2 ratio, for a repeated token (verdict cache
//! hits) and for full verification (cache off). A lock on the request path would show as a
//! ratio well under 2 on an otherwise idle 2-core machine.

use jwt_access_token::{
    AccessTokenVerifier, Algorithm, JwtAccessTokenIssuer, KeySet, SigningKey, TokenRequest,
    Validator,
};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Operations per second of `threads` threads; thread `i` verifies `tokens[i % tokens.len()]`.
fn throughput(
    verifier: &AccessTokenVerifier,
    tokens: &[String],
    threads: usize,
    run: Duration,
) -> f64 {
    let stop = AtomicBool::new(false);
    let done = AtomicU64::new(0);
    let started = Instant::now();
    std::thread::scope(|s| {
        for i in 0..threads {
            let token = tokens[i % tokens.len()].as_str();
            let (stop, done) = (&stop, &done);
            s.spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    if let Some(Ok(_)) = verifier.verify_cached(token) {
                        n += 1;
                    }
                }
                done.fetch_add(n, Ordering::Relaxed);
            });
        }
        std::thread::sleep(run);
        stop.store(true, Ordering::Relaxed);
    });
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let run = Duration::from_secs(2);
    let issuer = JwtAccessTokenIssuer::new(
        "https://as.example",
        SigningKey::generate(Algorithm::RS256, "k")?,
    )?;
    let keys = KeySet::from_jwks(&issuer.jwks().to_string())?;
    let mint = |sub: &str| {
        issuer.mint(
            &TokenRequest::new(sub, "c", ["https://api.example"])
                .lifetime(Duration::from_secs(3600)),
        )
    };
    let one = vec![mint("alice")?];
    let per_thread = vec![mint("alice")?, mint("bob")?];
    let cached = AccessTokenVerifier::new(
        Validator::new(issuer.issuer(), ["https://api.example"])?,
        keys,
    )?;
    let uncached = cached.clone().without_verdict_cache();
    println!("| path | 1 thread (ops/s) | 2 threads (ops/s) | 1 → 2 |");
    println!("|---|---:|---:|---:|");
    let cases = [
        (
            "verdict cache hit, one token for both threads",
            &cached,
            &one,
        ),
        (
            "verdict cache hit, a token per thread",
            &cached,
            &per_thread,
        ),
        ("full verification (RS256), one token", &uncached, &one),
    ];
    for (name, verifier, tokens) in cases {
        let one_thread = throughput(verifier, tokens, 1, run);
        let two_threads = throughput(verifier, tokens, 2, run);
        println!(
            "| {name} | {one_thread:.0} | {two_threads:.0} | {:.2}× |",
            two_threads / one_thread.max(1.0)
        );
    }
    Ok(())
}
