//! Many viewers of one phone: time to first frame, input-to-picture latency and the server's CPU
//! per viewer, for 1, 5 and 20 native viewers (WebRTC over loopback, H.264 decoded by each).
//!
//! The platform runs as its own process (`cloudphone up`, built with this benchmark) so its CPU
//! time can be read from `/proc/<pid>/stat` apart from the viewers'. For each count:
//! - all viewers connect at once; each reports the time from its offer to its first decoded
//!   picture;
//! - one of them measures input-to-picture latency (a tap or BACK, until its decoded picture
//!   changes) 20 times while the others watch every change;
//! - the server's CPU is read over that busy stretch and over 3 s of a still screen.
//!
//! Writes `target/bench-reports/viewers.md` and `viewers.json`. Run: `./dev bench`, or
//! `cargo bench -p cloudphone --bench viewers`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cloudphone_sdk::Client;
use cloudphone_sdk::api::CreateSession;
use cloudphone_sdk::viewer::Viewer;

/// Latency samples per viewer count.
const SAMPLES: usize = 20;
/// How long the still-screen CPU is measured.
const STILL: Duration = Duration::from_secs(3);

/// The platform under test, in its own process.
struct Platform {
    child: Child,
    _data: tempfile::TempDir,
    client: Client,
}

impl Platform {
    fn start(extra: &[&str]) -> Platform {
        let data = tempfile::tempdir().expect("a temporary folder");
        let mut child = Command::new(env!("CARGO_BIN_EXE_cloudphone"))
            .args(["up", "--listen", "127.0.0.1:0", "--rate-limit", "0", "--max-sessions-per-phone", "64"])
            .args(extra)
            .arg("--data-dir")
            .arg(data.path())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("cloudphone up starts");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        while let Some(Ok(line)) = lines.next() {
            if line.trim().starts_with("console:") {
                break;
            }
        }
        std::thread::spawn(move || lines.for_each(drop));
        let credentials: serde_json::Value =
            serde_json::from_slice(&std::fs::read(data.path().join("credentials.json")).expect("credentials"))
                .expect("credentials JSON");
        let field = |name: &str| credentials[name].as_str().expect("a credentials field").to_owned();
        let client = Client::new(field("api_url"), field("access_key"), field("secret_key"));
        Platform { child, _data: data, client }
    }

    /// The server's CPU time so far (user + system), from `/proc/<pid>/stat`.
    fn cpu(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command name (which may hold spaces) start after the last ')'.
        let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
        let ticks: u64 = [11, 12].iter().filter_map(|i| fields.get(*i)?.parse::<u64>().ok()).sum();
        Duration::from_secs_f64(ticks as f64 / clock_ticks_per_second())
    }
}

impl Drop for Platform {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `getconf CLK_TCK` (100 on Linux everywhere that matters).
fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

struct Row {
    setup: &'static str,
    viewers: usize,
    first_frame_ms: (f64, f64),
    latency_ms: (f64, f64),
    busy_cpu_percent: f64,
    still_cpu_percent: f64,
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted.get(((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1))).copied().unwrap_or(f64::NAN)
}

/// Connects a viewer and waits for its first picture; returns it with the time that took.
async fn connect(client: &Client, id: &str) -> (Viewer, f64) {
    let grant = client.create_session(id, &CreateSession::default()).await.expect("a session token");
    let mut viewer = Viewer::connect(&grant.signalling_url, &grant.session_token).await.expect("a viewer connects");
    let until = Instant::now() + Duration::from_secs(30);
    while viewer.stats().first_frame_ms.is_none() || !viewer.control_open() {
        viewer.next_event(Duration::from_millis(100)).await.expect("the session runs");
        assert!(Instant::now() < until, "no first picture within 30 s");
    }
    let first = viewer.stats().first_frame_ms.unwrap_or_default() as f64;
    (viewer, first)
}

async fn measure(platform: &Platform, setup: &'static str, viewers: usize) -> Row {
    let client = &platform.client;
    let id = client.create_instances(1).await.expect("a phone").remove(0).id;
    // All at once, as a class opening the same phone.
    let joins: Vec<_> = (0..viewers)
        .map(|_| {
            let (client, id) = (client.clone(), id.clone());
            tokio::spawn(async move { connect(&client, &id).await })
        })
        .collect();
    let mut connected = Vec::new();
    for join in joins {
        connected.push(join.await.expect("a viewer task"));
    }
    let mut first: Vec<f64> = connected.iter().map(|(_, ms)| *ms).collect();
    first.sort_by(f64::total_cmp);
    let (mut controller, _) = connected.remove(0);

    // The others watch: each drives its own session (decoding every picture) until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let watchers: Vec<_> = connected
        .into_iter()
        .map(|(mut viewer, _)| {
            let stop = stop.clone();
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if viewer.next_event(Duration::from_millis(50)).await.is_err() {
                        break;
                    }
                }
                viewer.stats().frames_decoded
            })
        })
        .collect();

    let (cpu, wall) = (platform.cpu(), Instant::now());
    let mut latency: Vec<f64> = controller
        .input_latency(SAMPLES)
        .await
        .expect("latency measured")
        .iter()
        .map(|d| d.as_secs_f64() * 1000.0)
        .collect();
    let busy_cpu_percent = (platform.cpu() - cpu).as_secs_f64() / wall.elapsed().as_secs_f64() * 100.0;
    latency.sort_by(f64::total_cmp);

    // A still screen: the controller keeps its session alive while nothing changes.
    let (cpu, wall) = (platform.cpu(), Instant::now());
    while wall.elapsed() < STILL {
        controller.next_event(Duration::from_millis(100)).await.expect("the session runs");
    }
    let still_cpu_percent = (platform.cpu() - cpu).as_secs_f64() / wall.elapsed().as_secs_f64() * 100.0;

    stop.store(true, Ordering::Relaxed);
    for watcher in watchers {
        let frames = watcher.await.expect("a watcher task");
        assert!(frames > 0, "every watcher decoded pictures");
    }
    let _ = client.delete_instance(&id).await;
    Row {
        setup,
        viewers,
        first_frame_ms: (percentile(&first, 0.5), percentile(&first, 1.0)),
        latency_ms: (percentile(&latency, 0.5), percentile(&latency, 0.99)),
        busy_cpu_percent,
        still_cpu_percent,
    }
}

#[tokio::main]
async fn main() {
    let mut rows = Vec::new();
    // The default (loss-based bandwidth estimate), then TWCC on, whose pacer has a price.
    for (setup, extra, counts) in [("default", &[][..], &[1, 5, 20][..]), ("--twcc", &["--twcc"][..], &[1, 20][..])] {
        let platform = Platform::start(extra);
        for &viewers in counts {
            rows.push(measure(&platform, setup, viewers).await);
            eprintln!("{setup}: {viewers} viewers measured");
        }
    }
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut report = format!(
        "# Viewers of one phone\n\n\
         Native viewers (str0m + openh264, each decoding every picture) of one virtual phone over \
         loopback, all in this process; the platform in its own (`cloudphone up`), whose CPU is \
         read from /proc. Latency: input to the first decoded picture that differs, {SAMPLES} \
         samples (taps and BACK) by one viewer while the others watch. Server CPU in % of one \
         core, while busy (the latency run: the screen changing about twice a second) and over \
         {} s of a still screen. {cores} cores shared by server and viewers.\n\n\
         | `up` | viewers | first frame p50 ms | first frame max ms | latency p50 ms | latency p99 ms | server CPU busy % | per viewer % | server CPU still % |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
        STILL.as_secs()
    );
    let mut json = Vec::new();
    for r in &rows {
        report.push_str(&format!(
            "| {} | {} | {:.0} | {:.0} | {:.1} | {:.1} | {:.1} | {:.2} | {:.1} |\n",
            r.setup,
            r.viewers,
            r.first_frame_ms.0,
            r.first_frame_ms.1,
            r.latency_ms.0,
            r.latency_ms.1,
            r.busy_cpu_percent,
            r.busy_cpu_percent / r.viewers as f64,
            r.still_cpu_percent
        ));
        json.push(serde_json::json!({
            "setup": r.setup,
            "viewers": r.viewers,
            "first_frame_p50_ms": r.first_frame_ms.0, "first_frame_max_ms": r.first_frame_ms.1,
            "latency_p50_ms": r.latency_ms.0, "latency_p99_ms": r.latency_ms.1,
            "server_cpu_busy_percent": r.busy_cpu_percent,
            "server_cpu_per_viewer_percent": r.busy_cpu_percent / r.viewers as f64,
            "server_cpu_still_percent": r.still_cpu_percent,
        }));
    }
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-reports");
    std::fs::create_dir_all(&out).expect("report folder");
    std::fs::write(out.join("viewers.md"), &report).expect("write report");
    std::fs::write(out.join("viewers.json"), serde_json::to_string_pretty(&json).expect("json")).expect("write json");
    print!("{report}");
}
