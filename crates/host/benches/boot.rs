//! Boot time and idle memory of virtual phones. Writes `target/bench-reports/boot.md` and
//! `boot.json` and prints the same table. Run: `cargo bench -p cloudphone-host --bench boot`.

use std::time::{Duration, Instant};

use cloudphone_device::{Device, PhoneState, VirtualPhone};
use cloudphone_host::DeviceHost;

const BOOTS: usize = 200;
const IDLE_PHONES: usize = 50;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Resident memory of this process in bytes (Linux).
fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0);
    pages * 4096
}

fn main() {
    // 1. Device boot: state to a running phone with its first picture drawn.
    let states: Vec<PhoneState> = (0..BOOTS).map(|i| PhoneState::for_seed(&format!("bench-{i}"))).collect();
    let mut boots = Vec::with_capacity(BOOTS);
    for state in states {
        let started = Instant::now();
        let mut phone = VirtualPhone::boot(state);
        let frame = phone.take_frame().expect("a first picture");
        boots.push(started.elapsed());
        std::hint::black_box(frame);
    }
    boots.sort();

    // 2. Host boot: create (state written to disk) and running, and idle memory per phone.
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let (host_boots, idle_per_phone) = runtime.block_on(async {
        let host = DeviceHost::new(dir.path());
        let mut phones = Vec::with_capacity(IDLE_PHONES);
        // Warm up allocator and code paths with one phone not counted.
        host.create("warm-up", &PhoneState::for_seed("warm-up")).expect("create");
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = rss_bytes();
        let mut times = Vec::with_capacity(IDLE_PHONES);
        for i in 0..IDLE_PHONES {
            let id = format!("idle-{i}");
            let state = PhoneState::for_seed(&id);
            let started = Instant::now();
            phones.push(host.create(&id, &state).expect("create"));
            times.push(started.elapsed());
        }
        // Let every phone settle into idle (first frame handed to its encoder, clocks ticking).
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = rss_bytes();
        times.sort();
        (times, after.saturating_sub(before) / IDLE_PHONES as u64)
    });

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let report = format!(
        "# Virtual phone boot and idle memory\n\n\
         | measure | value |\n| --- | --- |\n\
         | device boot to first picture, median ({BOOTS} boots) | {:.2} ms |\n\
         | device boot to first picture, p99 | {:.2} ms |\n\
         | host create (state on disk, running), median ({IDLE_PHONES} phones) | {:.2} ms |\n\
         | host create, p99 | {:.2} ms |\n\
         | idle resident memory per phone ({IDLE_PHONES} phones) | {:.2} MiB |\n",
        ms(percentile(&boots, 0.5)),
        ms(percentile(&boots, 0.99)),
        ms(percentile(&host_boots, 0.5)),
        ms(percentile(&host_boots, 0.99)),
        idle_per_phone as f64 / (1024.0 * 1024.0),
    );
    let json = serde_json::json!({
        "device_boot_median_ms": ms(percentile(&boots, 0.5)),
        "device_boot_p99_ms": ms(percentile(&boots, 0.99)),
        "host_create_median_ms": ms(percentile(&host_boots, 0.5)),
        "host_create_p99_ms": ms(percentile(&host_boots, 0.99)),
        "idle_rss_per_phone_bytes": idle_per_phone,
    });
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-reports");
    std::fs::create_dir_all(&out).expect("report folder");
    std::fs::write(out.join("boot.md"), &report).expect("write report");
    std::fs::write(out.join("boot.json"), serde_json::to_string_pretty(&json).expect("json")).expect("write json");
    print!("{report}");
}
