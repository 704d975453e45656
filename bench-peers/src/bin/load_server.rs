//! HTTP load target for `load.sh`: the one-route app (`GET /` → static string) on
//! 127.0.0.1, protected by one implementation.
//!
//! ```text
//! load_server mint  --alg RS256 --count 10000 --out DIR
//!     new key; writes DIR/jwks.json, DIR/alg, DIR/token.txt (one token, for the
//!     repeated-token run) and DIR/tokens.txt (COUNT distinct tokens, one a line)
//! load_server [serve] --impl bare|ours|ours-nocache|jwt-authorizer|jwt-authorizer-url|axum-jwks|tower-oauth2|tower-oauth2-aws-lc
//!                   [--workers 1] [--port 8080] [--fixture DIR] [--tokens 10000] [--max-seconds 300]
//!     serves until Ctrl-C/SIGTERM or --max-seconds; mints into DIR first if DIR has no
//!     fixture; checks 200 with the token and 401 without before listening; prints
//!     `LISTENING 127.0.0.1:PORT`, `TOKEN <jwt>` and `TOKENS_FILE <path>`.
//!     Exits with status 3 (and `SKIP <reason>` on stderr) if the implementation cannot
//!     be built or does not answer 200/401 as expected.
//! ```

// A measurement tool: argument and setup errors end the process with a message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bench_peers::{App, BoxError, Fixture, Impl, Keys, build, mint, serve_jwks};
use jwt_access_token::Algorithm;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn parse_alg(s: &str) -> Result<Algorithm, BoxError> {
    Ok(match s {
        "RS256" => Algorithm::RS256,
        "PS256" => Algorithm::PS256,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        other => return Err(format!("unsupported --alg {other}").into()),
    })
}

/// Mints `count` distinct tokens (different `sub`, and a fresh `jti` each) on all cores.
fn mint_fixture(alg: Algorithm, count: usize, out: &Path) -> Result<(), BoxError> {
    let started = Instant::now();
    std::fs::create_dir_all(out)?;
    let fx = Fixture::generate(alg)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = count.div_ceil(threads);
    let issuer = &fx.issuer;
    let chunks: Vec<Result<String, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut text = String::new();
                    for i in (t * per)..((t + 1) * per).min(count) {
                        let token =
                            mint(issuer, &format!("user-{i}")).map_err(|e| e.to_string())?;
                        text.push_str(&token);
                        text.push('\n');
                    }
                    Ok(text)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("minting thread panicked".into()))
            })
            .collect()
    });
    let mut all = String::new();
    for chunk in chunks {
        all.push_str(&chunk?);
    }
    std::fs::write(out.join("tokens.txt"), all)?;
    std::fs::write(out.join("token.txt"), format!("{}\n", fx.token))?;
    std::fs::write(out.join("jwks.json"), &fx.keys.jwks_json)?;
    std::fs::write(out.join("alg"), alg.as_str())?;
    eprintln!(
        "minted {count} {} tokens into {} in {:.1}s",
        alg.as_str(),
        out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn read_fixture(dir: &Path) -> Result<(Keys, String), BoxError> {
    let alg = parse_alg(std::fs::read_to_string(dir.join("alg"))?.trim())?;
    let jwks_json = std::fs::read_to_string(dir.join("jwks.json"))?;
    let token = std::fs::read_to_string(dir.join("token.txt"))?
        .trim()
        .to_owned();
    Ok((Keys { alg, jwks_json }, token))
}

async fn serve(app: App, listener: tokio::net::TcpListener, max: Duration) {
    let server = async move {
        let _ = match app {
            App::Axum08(router) => axum::serve(listener, router).await,
            App::Axum07(router) => axum07::serve(listener, router).await,
        };
    };
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let sigterm = async move {
        match term.as_mut() {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = server => {}
        () = tokio::time::sleep(max) => eprintln!("stopping: --max-seconds reached"),
        _ = tokio::signal::ctrl_c() => {}
        () = sigterm => {}
    }
}

fn run_serve(args: &[String]) -> Result<ExitCode, BoxError> {
    let imp_name = arg(args, "--impl").ok_or("--impl is required")?;
    let imp = Impl::parse(&imp_name).ok_or_else(|| format!("unknown --impl {imp_name}"))?;
    let workers: usize = arg(args, "--workers").map_or(Ok(1), |s| s.parse())?;
    let port: u16 = arg(args, "--port").map_or(Ok(8080), |s| s.parse())?;
    let max = Duration::from_secs(arg(args, "--max-seconds").map_or(Ok(300), |s| s.parse())?);
    let dir =
        PathBuf::from(arg(args, "--fixture").unwrap_or_else(|| "/tmp/bench-peers-fixture".into()));
    if !dir.join("jwks.json").exists() {
        let alg = parse_alg(&arg(args, "--alg").unwrap_or_else(|| "RS256".into()))?;
        let count: usize = arg(args, "--tokens").map_or(Ok(10_000), |s| s.parse())?;
        mint_fixture(alg, count, &dir)?;
    }
    let (keys, token) = read_fixture(&dir)?;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let jwks_url = if imp.needs_jwks_url() {
            Some(serve_jwks(keys.jwks_json.clone()).await?)
        } else {
            None
        };
        let app = match build(imp, &keys, jwks_url.as_deref()).await {
            Ok(app) => app,
            Err(e) => {
                eprintln!("SKIP {imp}: setup failed: {e}");
                return Ok(ExitCode::from(3));
            }
        };
        // Also warms key caches (jwt-authorizer-url fetches its JWKS here).
        if let Err(why) = app.check(imp, &token).await {
            eprintln!("SKIP {why}");
            return Ok(ExitCode::from(3));
        }
        let listener =
            tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
        println!("LISTENING {}", listener.local_addr()?);
        println!("IMPL {imp} WORKERS {workers} ALG {}", keys.alg.as_str());
        println!("TOKEN {token}");
        println!("TOKENS_FILE {}", dir.join("tokens.txt").display());
        serve(app, listener, max).await;
        Ok(ExitCode::SUCCESS)
    })
}

fn run() -> Result<ExitCode, BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("mint") => {
            let alg = parse_alg(&arg(&args, "--alg").unwrap_or_else(|| "RS256".into()))?;
            let count: usize = arg(&args, "--count").map_or(Ok(10_000), |s| s.parse())?;
            let out = PathBuf::from(arg(&args, "--out").ok_or("--out is required")?);
            mint_fixture(alg, count, &out)?;
            Ok(ExitCode::SUCCESS)
        }
        Some("serve") => run_serve(&args),
        // `load_server --impl ours --workers 2` is `serve`.
        Some(flag) if flag.starts_with("--") => run_serve(&args),
        _ => Err("usage: load_server mint --alg RS256 --count N --out DIR | load_server serve --impl NAME [--workers N] [--port P] [--fixture DIR] [--max-seconds S]".into()),
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
