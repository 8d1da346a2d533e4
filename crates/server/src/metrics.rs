//! Prometheus metrics at `GET /metrics` (text exposition format 0.0.4): HTTP requests by route,
//! method and status with their latency histogram, rate-limit refusals, phones, tasks and
//! callback deliveries by status, delivery attempts, viewers and encoding.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;

/// (route template, method, status).
type RequestKey = (String, String, u16);

/// The upper bounds (seconds) of the latency histogram's buckets.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// One series: count, total seconds, and how many fell at or under each bucket's bound.
#[derive(Clone, Default)]
struct RequestTotals {
    count: u64,
    seconds: f64,
    buckets: [u64; BUCKETS.len()],
}

/// Request counters.
#[derive(Default)]
pub struct HttpMetrics {
    requests: Mutex<BTreeMap<RequestKey, RequestTotals>>,
}

impl HttpMetrics {
    fn record(&self, route: String, method: String, status: u16, seconds: f64) {
        let mut requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        let entry = requests.entry((route, method, status)).or_default();
        entry.count += 1;
        entry.seconds += seconds;
        for (bound, n) in BUCKETS.iter().zip(entry.buckets.iter_mut()) {
            if seconds <= *bound {
                *n += 1;
            }
        }
    }
}

/// Middleware: counts every request under its route template (not its raw path, so ids do not
/// explode the label space).
pub async fn track(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    app.http_metrics.record(route, method, response.status().as_u16(), started.elapsed().as_secs_f64());
    response
}

/// Escapes a label value.
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// `GET /metrics`.
pub async fn render(State(app): State<AppState>) -> impl IntoResponse {
    let mut out = String::new();
    let requests = app.http_metrics.requests.lock().unwrap_or_else(|p| p.into_inner()).clone();
    out.push_str("# HELP cloudphone_http_requests_total HTTP requests answered.\n");
    out.push_str("# TYPE cloudphone_http_requests_total counter\n");
    for ((route, method, status), totals) in &requests {
        let _ = writeln!(
            out,
            "cloudphone_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {}",
            label(route),
            totals.count
        );
    }
    out.push_str("# HELP cloudphone_http_request_duration_seconds Time to answer HTTP requests.\n");
    out.push_str("# TYPE cloudphone_http_request_duration_seconds histogram\n");
    for ((route, method, status), totals) in &requests {
        let labels = format!("route=\"{}\",method=\"{method}\",status=\"{status}\"", label(route));
        for (bound, n) in BUCKETS.iter().zip(totals.buckets) {
            let _ = writeln!(out, "cloudphone_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {n}");
        }
        let _ =
            writeln!(out, "cloudphone_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}", totals.count);
        let _ = writeln!(out, "cloudphone_http_request_duration_seconds_sum{{{labels}}} {}", totals.seconds);
        let _ = writeln!(out, "cloudphone_http_request_duration_seconds_count{{{labels}}} {}", totals.count);
    }
    out.push_str("# HELP cloudphone_rate_limited_total Requests refused by the per-key rate limit.\n");
    out.push_str("# TYPE cloudphone_rate_limited_total counter\n");
    let _ = writeln!(out, "cloudphone_rate_limited_total {}", app.rate_limiter.refused());

    // Stored state: every series is written, zero or not, so a dashboard sees all of them.
    let store = &app.store;
    let (instances, tasks, deliveries) =
        match (store.instance_counts().await, store.task_counts().await, store.delivery_counts().await) {
            (Ok(i), Ok(t), Ok(d)) => (i, t, d),
            (i, t, d) => {
                let error = [i.err(), t.err(), d.err()].into_iter().flatten().next().map(|e| e.to_string());
                tracing::error!(error, "metrics: reading the store failed");
                return (
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                    "the store cannot be read\n".to_owned(),
                );
            }
        };
    let count = |rows: &[(String, i64)], name: &str| rows.iter().find(|(n, _)| n == name).map_or(0, |(_, c)| *c);
    out.push_str("# HELP cloudphone_instances Phones by status (all tenants).\n");
    out.push_str("# TYPE cloudphone_instances gauge\n");
    for status in cloudphone_protocol::InstanceStatus::ALL {
        let _ = writeln!(
            out,
            "cloudphone_instances{{status=\"{}\"}} {}",
            status.as_str(),
            count(&instances, status.as_str())
        );
    }
    out.push_str("# HELP cloudphone_tasks Tasks by status (all tenants).\n");
    out.push_str("# TYPE cloudphone_tasks gauge\n");
    for status in cloudphone_protocol::TaskStatus::ALL {
        let _ = writeln!(out, "cloudphone_tasks{{status=\"{}\"}} {}", status.as_str(), count(&tasks, status.as_str()));
    }
    out.push_str("# HELP cloudphone_callback_deliveries Callback deliveries by status.\n");
    out.push_str("# TYPE cloudphone_callback_deliveries gauge\n");
    for status in ["pending", "delivered", "failed"] {
        let _ = writeln!(out, "cloudphone_callback_deliveries{{status=\"{status}\"}} {}", count(&deliveries, status));
    }
    let stats = app.dispatcher.stats();
    let load = |n: &std::sync::atomic::AtomicU64| n.load(std::sync::atomic::Ordering::Relaxed);
    out.push_str("# HELP cloudphone_callback_attempts_total Callback delivery attempts by outcome.\n");
    out.push_str("# TYPE cloudphone_callback_attempts_total counter\n");
    let _ = writeln!(out, "cloudphone_callback_attempts_total{{outcome=\"delivered\"}} {}", load(&stats.delivered));
    let _ = writeln!(out, "cloudphone_callback_attempts_total{{outcome=\"failed\"}} {}", load(&stats.failed_attempts));
    out.push_str("# HELP cloudphone_callback_given_up_total Callback deliveries given up.\n");
    out.push_str("# TYPE cloudphone_callback_given_up_total counter\n");
    let _ = writeln!(out, "cloudphone_callback_given_up_total {}", load(&stats.given_up));

    let host = app.instances.host_stats();
    let totals = app.sessions.gateway_totals();
    // (name, type, help, value) of the metrics without labels.
    let unlabelled: [(&str, &str, &str, String); 10] = [
        ("cloudphone_phones_running", "gauge", "Phones running on this host.", host.running.to_string()),
        (
            "cloudphone_video_encoders",
            "gauge",
            "Screen encoders running (one per phone and stream quality in use).",
            host.encoders.to_string(),
        ),
        (
            "cloudphone_video_frames_encoded_total",
            "counter",
            "Pictures encoded to H.264.",
            host.frames_encoded.to_string(),
        ),
        (
            "cloudphone_audio_packets_encoded_total",
            "counter",
            "Opus packets (20 ms each) of phones' sound encoded.",
            host.audio_packets.to_string(),
        ),
        ("cloudphone_viewer_sessions", "gauge", "Viewer sessions open now.", app.sessions.open_sessions().to_string()),
        (
            "cloudphone_viewer_frames_sent_total",
            "counter",
            "Video pictures sent to viewers.",
            load(&totals.frames_sent).to_string(),
        ),
        (
            "cloudphone_viewer_video_bytes_sent_total",
            "counter",
            "Video bytes sent to viewers.",
            load(&totals.video_bytes_sent).to_string(),
        ),
        (
            "cloudphone_viewer_audio_packets_sent_total",
            "counter",
            "Opus packets of phones' sound sent to viewers.",
            load(&totals.audio_packets_sent).to_string(),
        ),
        (
            "cloudphone_viewer_camera_frames_received_total",
            "counter",
            "Pictures from viewers' cameras decoded and passed to the gate.",
            load(&totals.camera_frames_received).to_string(),
        ),
        (
            "cloudphone_viewer_microphone_packets_received_total",
            "counter",
            "Opus packets from viewers' microphones decoded and passed to the gate.",
            load(&totals.microphone_packets_received).to_string(),
        ),
    ];
    for (name, kind, help, value) in &unlabelled {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
    }
    out.push_str("# HELP cloudphone_viewer_rtt_seconds Round-trip times to viewers, one per 2 s report.\n");
    out.push_str("# TYPE cloudphone_viewer_rtt_seconds summary\n");
    let _ = writeln!(out, "cloudphone_viewer_rtt_seconds_sum {}", load(&totals.rtt_us_sum) as f64 / 1e6);
    let _ = writeln!(out, "cloudphone_viewer_rtt_seconds_count {}", load(&totals.rtt_samples));
    (axum::http::StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out)
}
