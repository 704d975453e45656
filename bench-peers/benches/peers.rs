//! Per-request cost through a one-route axum router (`GET /` → static string), the same
//! token for every request, protected by: nothing, our `JwtAccessTokenLayer`, and each peer.
//!
//! For RS256 and ES256 (axum-jwks supports RSA keys only): one fresh key, one token minted
//! by `JwtAccessTokenIssuer`, its JWKS given to every implementation. Setup asserts 200
//! with the token and 401 without it or with a tampered signature; an implementation that
//! fails that is skipped with the reason printed. Requests go through
//! `tower::ServiceExt::oneshot` on a tokio current-thread runtime (`b.to_async(&rt)`).
//!
//! At the end a markdown table of criterion medians and ratios to the bare router is
//! printed and written to `$CARGO_TARGET_DIR/criterion/peers.md`.
//!
//! Run: `CARGO_TARGET_DIR=/tmp/target-peers cargo bench --manifest-path bench-peers/Cargo.toml --bench peers`

// A measurement tool: setup failures abort the run loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use bench_peers::{App, Fixture, Impl, bearer, build, serve_jwks, status_of};
use bytes::Bytes;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};
use http::{HeaderValue, Request, Response};
use http_body_util::Empty;
use jwt_access_token::Algorithm;
use tokio::runtime::Runtime;
use tower::Service;

const ALGS: [Algorithm; 2] = [Algorithm::RS256, Algorithm::ES256];

fn group_name(alg: Algorithm) -> String {
    format!("router-{}", alg.as_str())
}

fn bench_service<S, B>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &Runtime,
    id: &str,
    svc: S,
    auth: &HeaderValue,
) where
    S: Service<Request<Empty<Bytes>>, Response = Response<B>> + Clone,
{
    group.bench_function(id, |b| {
        b.to_async(rt).iter(|| async {
            let status = status_of(&svc, Some(auth)).await;
            assert_eq!(status, 200);
            black_box(status)
        })
    });
}

fn criterion_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("criterion")
}

/// A criterion result written after `since`: (median, fastest sample), per iteration, in ns.
///
/// The fastest sample (least time per iteration among the 100 samples) is shown next to
/// the median because this 2-core machine is shared: it is the figure least disturbed by
/// other processes.
fn result_ns(dir: &Path, group: &str, id: &str, since: SystemTime) -> Option<(f64, f64)> {
    let base = dir.join(group).join(id).join("new");
    let read = |name: &str| -> Option<serde_json::Value> {
        let path = base.join(name);
        let modified = std::fs::metadata(&path).ok()?.modified().ok()?;
        if modified < since {
            return None;
        }
        serde_json::from_slice(&std::fs::read(&path).ok()?).ok()
    };
    let median = read("estimates.json")?["median"]["point_estimate"].as_f64()?;
    let sample = read("sample.json")?;
    let iters = sample["iters"].as_array()?;
    let times = sample["times"].as_array()?;
    let fastest = iters
        .iter()
        .zip(times)
        .filter_map(|(n, t)| Some(t.as_f64()? / n.as_f64()?))
        .fold(f64::INFINITY, f64::min);
    Some((median, fastest))
}

fn fmt_time(ns: f64) -> String {
    if ns >= 1000.0 {
        format!("{:.2} µs", ns / 1000.0)
    } else {
        format!("{ns:.0} ns")
    }
}

fn table(
    dir: &Path,
    since: SystemTime,
    skipped: &BTreeMap<(String, &'static str), String>,
) -> String {
    let mut out = String::new();
    for alg in ALGS {
        let group = group_name(alg);
        out.push_str(&format!(
            "\n{}: per request through the router (criterion median; fastest of 100 samples)\n\n",
            alg.as_str()
        ));
        out.push_str("| implementation | median | − bare | × bare | fastest sample | × bare |\n");
        out.push_str("|---|---:|---:|---:|---:|---:|\n");
        let bare = result_ns(dir, &group, Impl::Bare.name(), since);
        for imp in Impl::ALL {
            let cells = match (result_ns(dir, &group, imp.name(), since), bare) {
                (Some((m, f)), Some((bm, bf))) => format!(
                    "{} | {} | {:.1}× | {} | {:.1}×",
                    fmt_time(m),
                    fmt_time(m - bm),
                    m / bm,
                    fmt_time(f),
                    f / bf
                ),
                (Some((m, f)), None) => format!("{} | – | – | {} | –", fmt_time(m), fmt_time(f)),
                (None, _) if skipped.contains_key(&(group.clone(), imp.name())) => {
                    "skipped | – | – | – | –".to_owned()
                }
                (None, _) => "not run | – | – | – | –".to_owned(),
            };
            out.push_str(&format!("| {imp} | {cells} |\n"));
        }
    }
    for ((group, imp), why) in skipped {
        out.push_str(&format!("\nSkipped {imp} in {group}: {why}\n"));
    }
    out
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn main() {
    let started = SystemTime::now();
    let load_before = loadavg();
    let dir = criterion_dir();
    let mut c = Criterion::default()
        .output_directory(&dir)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut skipped = BTreeMap::new();

    for alg in ALGS {
        let fx = Fixture::generate(alg).unwrap();
        let jwks_url = rt.block_on(serve_jwks(fx.keys.jwks_json.clone())).unwrap();
        let auth = bearer(&fx.token).unwrap();
        let group_id = group_name(alg);
        let mut group = c.benchmark_group(group_id.as_str());
        for imp in Impl::ALL {
            // Built right before it is measured: the tower-oauth2 variants select the
            // process-wide jsonwebtoken 11 backend when built.
            let app = match rt.block_on(build(imp, &fx.keys, Some(&jwks_url))) {
                Ok(app) => app,
                Err(e) => {
                    let why = format!("setup failed: {e}");
                    println!("SKIP {imp} ({}): {why}", alg.as_str());
                    skipped.insert((group_id.clone(), imp.name()), why);
                    continue;
                }
            };
            if let Err(why) = rt.block_on(app.check(imp, &fx.token)) {
                println!("SKIP {imp} ({}): {why}", alg.as_str());
                skipped.insert((group_id.clone(), imp.name()), why);
                continue;
            }
            match app {
                App::Axum08(router) => bench_service(&mut group, &rt, imp.name(), router, &auth),
                App::Axum07(router) => bench_service(&mut group, &rt, imp.name(), router, &auth),
            }
        }
        group.finish();
    }
    c.final_summary();

    let md = format!(
        "{}\nLoad average (1/5/15 min) before: {load_before}; after: {}; took {:.0} s.\n",
        table(&dir, started, &skipped),
        loadavg(),
        started.elapsed().map_or(0.0, |d| d.as_secs_f64())
    );
    println!("\n{md}");
    let _ = std::fs::create_dir_all(&dir);
    if std::fs::write(dir.join("peers.md"), &md).is_ok() {
        println!("(written to {})", dir.join("peers.md").display());
    }
}
