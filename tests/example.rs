//! Runs `examples/resource_server.rs` as a user would (`cargo run --example resource_server`,
//! no configuration), reads the tokens it prints, and exercises every route over HTTP.
//! Then runs it again pointed at an external issuer through `ISSUER` and `JWKS_URI`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use common::{TestIssuer, client};
use jwt_access_token::{Algorithm, TokenRequest};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Builds the example and returns its executable.
fn example_binary() -> String {
    let output = Command::new(env!("CARGO"))
        .args([
            "build",
            "--example",
            "resource_server",
            "--message-format=json",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::inherit())
        .output()
        .expect("cargo build --example resource_server");
    assert!(output.status.success(), "the example does not build");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["target"]["name"] == "resource_server")
        .find_map(|m| m["executable"].as_str().map(str::to_owned))
        .expect("the example's executable")
}

/// Kills the example when the test ends, pass or fail.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Starts the example with `env`, and reads its stdout until it says it is ready.
fn start(env: &[(&str, String)]) -> (Running, String, Vec<String>) {
    let port = free_port();
    let mut command = Command::new(example_binary());
    command
        .env_remove("ISSUER")
        .env_remove("JWKS_URI")
        .env("LISTEN", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("spawn the example");
    let stdout = child.stdout.take().expect("stdout");
    let running = Running(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .expect("the example printed nothing in time");
        // Configured: ready after the first line. Development issuer: after the curl list.
        let done = (line.starts_with("Resource server on") && !env.is_empty())
            || (line.is_empty() && lines.iter().any(|l: &String| l.starts_with("Try:")));
        lines.push(line);
        if done {
            break;
        }
    }
    (running, format!("http://127.0.0.1:{port}"), lines)
}

fn printed(lines: &[String], var: &str) -> String {
    let prefix = format!("  export {var}=");
    lines
        .iter()
        .find_map(|l| l.strip_prefix(&prefix).map(str::to_owned))
        .unwrap_or_else(|| panic!("no {var} in {lines:#?}"))
}

async fn call(method: reqwest::Method, url: String, token: Option<&str>) -> u16 {
    let mut request = client().request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("request").status().as_u16()
}

#[tokio::test]
async fn the_example_runs_with_its_development_issuer() {
    let (_running, base, lines) = start(&[]);
    let full = printed(&lines, "TOKEN");
    let full = full.as_str();
    let reader = printed(&lines, "READ_TOKEN");
    let reader = reader.as_str();
    use reqwest::Method as M;
    let cases = [
        (M::GET, "/health", None, 200),
        (M::GET, "/me", None, 401),
        (M::GET, "/me", Some(full), 200),
        (M::GET, "/me", Some("not-a-jwt"), 401),
        (M::GET, "/items", Some(reader), 200),
        (M::POST, "/items", Some(reader), 403),
        (M::POST, "/items", Some(full), 201),
        (M::GET, "/admin", Some(full), 200),
        (M::GET, "/admin", Some(reader), 403),
        (M::GET, "/eng", Some(full), 200),
        (M::GET, "/eng", Some(reader), 403),
        (M::GET, "/billing", Some(full), 200),
        (M::GET, "/billing", Some(reader), 403),
    ];
    for (method, path, token, expected) in cases {
        let status = call(method.clone(), format!("{base}{path}"), token).await;
        assert_eq!(
            status,
            expected,
            "{method} {path} with {}",
            if token.is_some() {
                "a token"
            } else {
                "no token"
            }
        );
    }
    let me: serde_json::Value = client()
        .get(format!("{base}/me"))
        .bearer_auth(full)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(me["sub"], "alice");
    assert_eq!(me["roles"], serde_json::json!(["admin"]));
    assert!(
        lines.iter().any(|l| l.contains("curl -i")),
        "prints curl commands"
    );
}

#[tokio::test]
async fn the_example_trusts_an_external_issuer_from_the_environment() {
    let issuer = TestIssuer::start(Algorithm::ES384).await;
    let audience = "https://items.example";
    let env = [
        ("ISSUER", issuer.url.clone()),
        ("JWKS_URI", issuer.jwks_uri()),
        ("AUDIENCE", audience.to_owned()),
    ];
    let (running, base, _) = tokio::task::spawn_blocking(move || start(&env))
        .await
        .expect("start");
    let _running = running;
    let token = issuer.mint(TokenRequest::new("carol", "c", [audience]).scope("items:read"));
    assert_eq!(
        call(reqwest::Method::GET, format!("{base}/items"), Some(&token)).await,
        200
    );
    let wrong_audience = issuer.token("items:read");
    assert_eq!(
        call(
            reqwest::Method::GET,
            format!("{base}/items"),
            Some(&wrong_audience)
        )
        .await,
        401
    );
}
