//! Prometheus metrics at `GET /metrics` (text exposition format 0.0.4): HTTP requests by route,
//! method and status with their latency, and the state of phones, viewers and encoding.

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
/// (count, total seconds).
type RequestTotals = (u64, f64);

/// Request counters.
#[derive(Default)]
pub struct HttpMetrics {
    requests: Mutex<BTreeMap<RequestKey, RequestTotals>>,
}

impl HttpMetrics {
    fn record(&self, route: String, method: String, status: u16, seconds: f64) {
        let mut requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        let entry = requests.entry((route, method, status)).or_default();
        entry.0 += 1;
        entry.1 += seconds;
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
    for ((route, method, status), (count, _)) in &requests {
        let _ = writeln!(
            out,
            "cloudphone_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {count}",
            label(route)
        );
    }
    out.push_str("# HELP cloudphone_http_request_duration_seconds Time to answer HTTP requests.\n");
    out.push_str("# TYPE cloudphone_http_request_duration_seconds summary\n");
    for ((route, method, status), (count, sum)) in &requests {
        let labels = format!("route=\"{}\",method=\"{method}\",status=\"{status}\"", label(route));
        let _ = writeln!(out, "cloudphone_http_request_duration_seconds_sum{{{labels}}} {sum}");
        let _ = writeln!(out, "cloudphone_http_request_duration_seconds_count{{{labels}}} {count}");
    }
    let host = app.instances.host_stats();
    out.push_str("# HELP cloudphone_phones_running Phones running on this host.\n");
    out.push_str("# TYPE cloudphone_phones_running gauge\n");
    let _ = writeln!(out, "cloudphone_phones_running {}", host.running);
    out.push_str("# HELP cloudphone_video_frames_encoded_total Pictures encoded to H.264.\n");
    out.push_str("# TYPE cloudphone_video_frames_encoded_total counter\n");
    let _ = writeln!(out, "cloudphone_video_frames_encoded_total {}", host.frames_encoded);
    out.push_str("# HELP cloudphone_viewer_sessions Viewer sessions open now.\n");
    out.push_str("# TYPE cloudphone_viewer_sessions gauge\n");
    let _ = writeln!(out, "cloudphone_viewer_sessions {}", app.sessions.open_sessions());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out)
}
