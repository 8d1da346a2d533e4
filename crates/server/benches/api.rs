//! Signed requests per second and latency percentiles of the API, for one read endpoint
//! (`GET /v1/instances/{id}`) and one write endpoint (`POST /v1/instances/{id}/sessions`, which
//! stores a token), on SQLite and, when `CLOUDPHONE_TEST_POSTGRES_URL` is set, PostgreSQL.
//! Every request is signed, verified and spends a nonce, as in production; the rate limit is off.
//! Writes `target/bench-reports/api.md` and `api.json`. Run: `cargo bench -p cloudphone-server --bench api`.

use std::time::{Duration, Instant};

use cloudphone_sdk::{Client, SigningOverride};
use cloudphone_server::Config;
use reqwest::Method;

/// Concurrent clients.
const CLIENTS: usize = 8;
/// How long each measurement runs.
const RUN: Duration = Duration::from_secs(4);

struct Measured {
    requests: usize,
    errors: usize,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

async fn measure(client: &Client, method: Method, path: String, body: &'static str) -> Measured {
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..CLIENTS {
        let (client, method, path) = (client.clone(), method.clone(), path.clone());
        workers.push(tokio::spawn(async move {
            let (mut latencies, mut errors) = (Vec::new(), 0);
            while started.elapsed() < RUN {
                let t = Instant::now();
                let body = body.as_bytes().to_vec();
                match client.send_signed(method.clone(), &path, &[], body, &SigningOverride::default()).await {
                    Ok(response) => {
                        let _ = response.bytes().await;
                        latencies.push(t.elapsed());
                    }
                    Err(_) => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    let (mut all, mut errors) = (Vec::new(), 0);
    for worker in workers {
        let (latencies, e) = worker.await.expect("a worker finishes");
        all.extend(latencies);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let at = |q: f64| all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1))).copied();
    let ms = |d: Option<Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0);
    Measured {
        requests: all.len(),
        errors,
        per_second: all.len() as f64 / elapsed,
        p50_ms: ms(at(0.5)),
        p99_ms: ms(at(0.99)),
    }
}

async fn run(backend: &str, database: Option<String>) -> Vec<(String, Measured)> {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let config = Config {
        database,
        rate_limit: cloudphone_server::ratelimit::RateLimit { per_second: 0.0, burst: 0 },
        ..Config::new(dir.path().to_owned(), "127.0.0.1:0".parse().expect("an address"))
    };
    let server = cloudphone_server::start(config).await.expect("server starts");
    let c = &server.credentials;
    let client = Client::new(&c.api_url, &c.access_key, &c.secret_key);
    let id = client.create_instances(1).await.expect("a phone").remove(0).id;
    let read = measure(&client, Method::GET, format!("/v1/instances/{id}"), "").await;
    let write = measure(&client, Method::POST, format!("/v1/instances/{id}/sessions"), "{}").await;
    server.abort();
    vec![
        (format!("{backend}: read `GET /v1/instances/{{id}}`"), read),
        (format!("{backend}: write `POST /v1/instances/{{id}}/sessions`"), write),
    ]
}

#[tokio::main]
async fn main() {
    let mut rows = run("SQLite", None).await;
    match std::env::var(cloudphone_store::TEST_POSTGRES_ENV) {
        Ok(server) => {
            let url = cloudphone_store::create_scratch_postgres(&server).await.expect("a scratch database");
            rows.extend(run("PostgreSQL", Some(url)).await);
        }
        Err(_) => eprintln!("skipping PostgreSQL: {} is not set", cloudphone_store::TEST_POSTGRES_ENV),
    }
    let mut report = format!(
        "# API: signed requests\n\n{CLIENTS} concurrent clients for {} s per row over loopback; every request \
         signed, verified and its nonce stored; rate limit off; {} cores.\n\n\
         | endpoint | requests | errors | req/s | p50 ms | p99 ms |\n| --- | ---: | ---: | ---: | ---: | ---: |\n",
        RUN.as_secs(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    let mut json = Vec::new();
    for (name, m) in &rows {
        report.push_str(&format!(
            "| {name} | {} | {} | {:.0} | {:.2} | {:.2} |\n",
            m.requests, m.errors, m.per_second, m.p50_ms, m.p99_ms
        ));
        json.push(serde_json::json!({
            "endpoint": name, "requests": m.requests, "errors": m.errors,
            "per_second": m.per_second, "p50_ms": m.p50_ms, "p99_ms": m.p99_ms,
        }));
    }
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-reports");
    std::fs::create_dir_all(&out).expect("report folder");
    std::fs::write(out.join("api.md"), &report).expect("write report");
    std::fs::write(out.join("api.json"), serde_json::to_string_pretty(&json).expect("json")).expect("write json");
    print!("{report}");
}
