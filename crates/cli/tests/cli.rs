//! The `cloudphone` binary as a user runs it: `up` in one process, CLI commands in others.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_cloudphone");

struct Up {
    child: Child,
    data_dir: tempfile::TempDir,
    url: String,
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cloudphone up` on a free port, its stdout piped.
fn spawn_up(data_dir: &std::path::Path) -> Child {
    Command::new(BIN)
        .args(["up", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn up() -> Up {
    let data_dir = tempfile::tempdir().unwrap();
    let mut child = spawn_up(data_dir.path());
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("`up` printed its console URL").unwrap();
        if let Some(rest) = line.trim().strip_prefix("console:") {
            break rest.trim().trim_end_matches('/').to_owned();
        }
    };
    // Keep reading, as a terminal would (a server whose stdout closes survives too: see below).
    std::thread::spawn(move || lines.for_each(drop));
    Up { child, data_dir, url }
}

impl Up {
    fn cli(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .arg("--data-dir")
            .arg(self.data_dir.path())
            .args(args)
            .env_remove("CLOUDPHONE_URL")
            .env_remove("CLOUDPHONE_ACCESS_KEY")
            .env_remove("CLOUDPHONE_SECRET_KEY")
            .output()
            .unwrap()
    }
}

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn create_shell_screenshot_list_view_delete() {
    let platform = up();
    let ids = stdout(&platform.cli(&["instance", "create", "--count", "3"]));
    let ids: Vec<&str> = ids.lines().collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.iter().all(|id| id.starts_with("cp-")));

    let model = platform.cli(&["instance", "shell", ids[0], "--", "getprop", "ro.product.model"]);
    assert_eq!(stdout(&model), "Pixel 7\n");
    let missing = platform.cli(&["instance", "shell", ids[0], "--", "nosuch", "-x"]);
    assert_eq!(missing.status.code(), Some(127));
    assert_eq!(String::from_utf8_lossy(&missing.stderr), "sh: nosuch: not found\n");

    let png = platform.data_dir.path().join("shot.png");
    stdout(&platform.cli(&["instance", "screenshot", ids[1], "-o", png.to_str().unwrap()]));
    assert_eq!(&std::fs::read(&png).unwrap()[..4], b"\x89PNG");

    let listed: serde_json::Value =
        serde_json::from_str(&stdout(&platform.cli(&["instance", "list", "--json"]))).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 3);
    assert!(stdout(&platform.cli(&["instance", "list"])).starts_with("ID"));

    let view = stdout(&platform.cli(&["view", ids[2]]));
    assert!(view.starts_with(&format!("{}/view#token=", platform.url)), "{view}");

    stdout(&platform.cli(&["instance", "delete", ids[2]]));
    let gone = platform.cli(&["instance", "get", ids[2]]);
    assert_eq!(gone.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&gone.stderr).contains("instance.not_found"));
}

#[test]
fn environment_credentials_and_clear_errors() {
    let platform = up();
    let credentials: serde_json::Value =
        serde_json::from_slice(&std::fs::read(platform.data_dir.path().join("credentials.json")).unwrap()).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let with_env = Command::new(BIN)
        .arg("--data-dir")
        .arg(elsewhere.path())
        .args(["instance", "create"])
        .env("CLOUDPHONE_URL", &platform.url)
        .env("CLOUDPHONE_ACCESS_KEY", credentials["access_key"].as_str().unwrap())
        .env("CLOUDPHONE_SECRET_KEY", credentials["secret_key"].as_str().unwrap())
        .output()
        .unwrap();
    assert!(stdout(&with_env).starts_with("cp-"));

    let nothing = Command::new(BIN)
        .arg("--data-dir")
        .arg(elsewhere.path())
        .args(["instance", "list"])
        .env_remove("CLOUDPHONE_URL")
        .env_remove("CLOUDPHONE_ACCESS_KEY")
        .env_remove("CLOUDPHONE_SECRET_KEY")
        .output()
        .unwrap();
    assert_eq!(nothing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&nothing.stderr).contains("no credentials"));

    let wrong_secret = Command::new(BIN)
        .args(["instance", "list"])
        .env("CLOUDPHONE_URL", &platform.url)
        .env("CLOUDPHONE_ACCESS_KEY", credentials["access_key"].as_str().unwrap())
        .env("CLOUDPHONE_SECRET_KEY", "wrong")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&wrong_secret.stderr).contains("auth.bad_signature"));
}

/// A server whose stdout is closed right after start keeps serving (no broken-pipe panic).
#[test]
fn survives_a_closed_stdout() {
    let data_dir = tempfile::tempdir().unwrap();
    let mut child = spawn_up(data_dir.path());
    // Nobody will ever read: the banner meets a broken pipe.
    drop(child.stdout.take());
    let credentials = data_dir.path().join("credentials.json");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !credentials.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // credentials.json is written just before the banner; give the banner time to fail.
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "the server died");
    let platform = Up { child, data_dir, url: String::new() };
    assert!(stdout(&platform.cli(&["instance", "create"])).starts_with("cp-"));
}

#[test]
fn identity_and_lifecycle_commands() {
    let platform = up();
    let id = stdout(&platform.cli(&["instance", "create", "--model", "Pixel 8", "--country", "FR"]));
    let id = id.trim();
    let props = stdout(&platform.cli(&["instance", "props", id]));
    assert!(props.contains("[ro.product.model]: [Pixel 8]"), "{props}");
    assert!(props.contains("MCCMNC=20801"), "{props}");

    let set = stdout(&platform.cli(&[
        "instance",
        "setprop",
        id,
        "ro.product.model=Pixel 8 Pro",
        "persist.sys.locale=fr-FR",
        "--modem",
        "OpName=Free",
    ]));
    assert!(set.contains("after restart: ro.product.model") && set.contains("applied: OpName"), "{set}");
    let bad = platform.cli(&["instance", "setprop", id, "--modem", "IMEI=42"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("property.invalid"));

    assert_eq!(stdout(&platform.cli(&["instance", "restart", id])).trim(), format!("{id} running"));
    assert_eq!(stdout(&platform.cli(&["instance", "shell", id, "--", "getprop", "ro.product.model"])), "Pixel 8 Pro\n");
    stdout(&platform.cli(&["instance", "locale", id, "--timezone", "Europe/Paris"]));
    assert_eq!(
        stdout(&platform.cli(&["instance", "shell", id, "--", "getprop", "persist.sys.timezone"])),
        "Europe/Paris\n"
    );
    assert_eq!(stdout(&platform.cli(&["instance", "stop", id])).trim(), format!("{id} stopped"));
    assert_eq!(stdout(&platform.cli(&["instance", "start", id])).trim(), format!("{id} running"));
    assert_eq!(stdout(&platform.cli(&["instance", "reset", id])).trim(), format!("{id} running"));
    stdout(&platform.cli(&["instance", "new-device", id, "--model", "SM-S911B"]));
    assert_eq!(stdout(&platform.cli(&["instance", "shell", id, "--", "getprop", "ro.product.model"])), "SM-S911B\n");

    let wifi = platform.data_dir.path().join("wifi.json");
    std::fs::write(&wifi, r#"[{"ssid":"Cafe","bssid":"02:11:22:33:44:55","mac":"02:aa:bb:cc:dd:ee","ip":"10.0.0.7","gateway":"10.0.0.1","dns1":"10.0.0.1","level":-60,"frequency":2437}]"#).unwrap();
    stdout(&platform.cli(&["instance", "wifi", id, wifi.to_str().unwrap()]));
    assert!(stdout(&platform.cli(&["instance", "props", id, "--json"])).contains("\"Cafe\""));

    let models = stdout(&platform.cli(&["catalogue", "models"]));
    assert!(models.lines().count() >= 30 && models.contains("Galaxy S23"));
    assert!(stdout(&platform.cli(&["catalogue", "countries"])).contains("Asia/Tokyo"));
}

#[test]
fn apps_and_files_commands() {
    let platform = up();
    let id = stdout(&platform.cli(&["instance", "create"]));
    let id = id.trim();
    let apk = platform.data_dir.path().join("hello.apk");
    std::fs::write(
        &apk,
        cloudphone_apk::fixture::build(&cloudphone_apk::fixture::App::new("com.example.cli", "CLI App")),
    )
    .unwrap();
    assert_eq!(stdout(&platform.cli(&["instance", "install", id, apk.to_str().unwrap()])), "com.example.cli 1.0 (1)\n");
    assert!(stdout(&platform.cli(&["instance", "apps", id])).contains("com.example.cli"));
    assert_eq!(
        stdout(&platform.cli(&["instance", "start-app", id, "com.example.cli"])),
        "com.example.cli/com.example.cli.MainActivity\n"
    );
    assert!(stdout(&platform.cli(&["instance", "apps", id])).starts_with("* com.example.cli"));
    stdout(&platform.cli(&["instance", "stop-app", id, "com.example.cli"]));
    stdout(&platform.cli(&["instance", "clear-app", id, "com.example.cli"]));
    stdout(&platform.cli(&["instance", "uninstall", id, "com.example.cli"]));
    assert_eq!(stdout(&platform.cli(&["instance", "apps", id])), "");
    let bad =
        platform.cli(&["instance", "install", id, platform.data_dir.path().join("credentials.json").to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("app.invalid_apk"));

    let local = platform.data_dir.path().join("note.txt");
    std::fs::write(&local, "pushed").unwrap();
    assert!(
        stdout(&platform.cli(&["instance", "push", id, local.to_str().unwrap(), "/sdcard/Download/note.txt"]))
            .starts_with("/storage/emulated/0/Download/note.txt: 6 bytes")
    );
    assert!(stdout(&platform.cli(&["instance", "ls", id, "/sdcard/Download"])).contains("note.txt"));
    let back = platform.data_dir.path().join("back.txt");
    stdout(&platform.cli(&["instance", "pull", id, "/sdcard/Download/note.txt", back.to_str().unwrap()]));
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "pushed");
    stdout(&platform.cli(&["instance", "rm", id, "/sdcard/Download/note.txt"]));
    let gone = platform.cli(&["instance", "pull", id, "/sdcard/Download/note.txt", back.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&gone.stderr).contains("file.not_found"));
}

#[test]
fn location_clipboard_playback_camera_mic_record_commands() {
    let platform = up();
    let id = stdout(&platform.cli(&["instance", "create"]));
    let id = id.trim();
    stdout(&platform.cli(&["instance", "location", id, "--lat", "-33.8568", "--lon", "151.2153", "--accuracy", "4"]));
    assert!(
        stdout(&platform.cli(&["instance", "shell", id, "--", "dumpsys", "location"]))
            .contains("-33.856800,151.215300")
    );
    stdout(&platform.cli(&["instance", "clipboard", id, "hello there"]));
    assert_eq!(stdout(&platform.cli(&["instance", "clipboard", id])), "hello there\n");

    let csv = platform.data_dir.path().join("trace.csv");
    std::fs::write(&csv, "time_ms,sensor,x,y,z\n0,gravity,0,9.8,0\n").unwrap();
    assert!(
        stdout(&platform.cli(&["instance", "play", id, csv.to_str().unwrap()])).starts_with("playing 1 sensors events")
    );
    let bad = platform.data_dir.path().join("bad.csv");
    std::fs::write(&bad, "0,gravity,x").unwrap();
    assert!(
        String::from_utf8_lossy(&platform.cli(&["instance", "play", id, bad.to_str().unwrap()]).stderr)
            .contains("playback.invalid_script")
    );

    let picture = platform.data_dir.path().join("p.png");
    let mut png_bytes = Vec::new();
    {
        let mut e = png::Encoder::new(&mut png_bytes, 3, 2);
        e.set_color(png::ColorType::Rgb);
        e.write_header().unwrap().write_image_data(&[9u8; 18]).unwrap();
    }
    std::fs::write(&picture, png_bytes).unwrap();
    assert_eq!(
        stdout(&platform.cli(&["instance", "camera", id, picture.to_str().unwrap()])),
        "camera shows a 3x2 picture\n"
    );
    let wav = platform.data_dir.path().join("a.wav");
    std::fs::write(&wav, cloudphone_device::virtual_phone::media::encode_wav(8000, &[100; 800])).unwrap();
    assert_eq!(
        stdout(&platform.cli(&["instance", "mic", id, wav.to_str().unwrap()])),
        "microphone plays 800 samples at 8000 Hz\n"
    );
    let out = platform.data_dir.path().join("out.wav");
    stdout(&platform.cli(&["instance", "record", id, "--ms", "200", "-o", out.to_str().unwrap()]));
    assert_eq!(&std::fs::read(&out).unwrap()[..4], b"RIFF");
}

#[test]
fn tenant_and_key_commands() {
    let platform = up();
    let created = stdout(&platform.cli(&["tenant", "create", "Acme"]));
    let field = |text: &str, name: &str| {
        text.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_owned()).expect(name)
    };
    let (tenant, ak) = (field(&created, "tenant_id:"), field(&created, "access_key:"));
    assert!(stdout(&platform.cli(&["tenant", "list"])).contains("Acme"));
    assert!(stdout(&platform.cli(&["key", "list", &tenant])).contains(&ak));
    let rotated = stdout(&platform.cli(&["key", "rotate", &ak]));
    let new_ak = field(&rotated, "access_key:");
    let keys = stdout(&platform.cli(&["key", "list", &tenant]));
    assert!(keys.lines().any(|l| l.starts_with(&ak) && l.ends_with("disabled")), "{keys}");
    assert!(keys.lines().any(|l| l.starts_with(&new_ak) && l.ends_with("enabled")), "{keys}");
    let missing = platform.cli(&["key", "disable", "AKNONE"]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("key.not_found"));
}

#[test]
fn batches_tasks_and_callbacks_commands() {
    let platform = up();
    let ids = stdout(&platform.cli(&["instance", "create", "--count", "2"]));
    let ids: Vec<&str> = ids.lines().collect();
    assert_eq!(ids.len(), 2);

    // Several ids run as one batch; the summary goes to stderr.
    let restarted = platform.cli(&["instance", "restart", ids[0], ids[1]]);
    assert!(restarted.status.success(), "{}", String::from_utf8_lossy(&restarted.stderr));
    assert!(String::from_utf8_lossy(&restarted.stderr).contains("2 phone(s) done"));

    // A batch where one phone fails exits 1 and says which and why.
    stdout(&platform.cli(&["instance", "stop", ids[1]]));
    let shell = platform.cli(&["batch", "instance.shell", ids[0], ids[1], "--params", r#"{"command": "id"}"#]);
    assert_eq!(shell.status.code(), Some(1));
    let why = String::from_utf8_lossy(&shell.stderr);
    assert!(why.contains(&format!("{} failed instance.not_running", ids[1])), "{why}");
    assert!(why.contains("partly_failed"), "{why}");

    // Tasks: a table by default, JSON with --json, filters.
    let table = stdout(&platform.cli(&["task", "list", "--kind", "batch"]));
    assert!(table.starts_with("ID"), "{table}");
    assert_eq!(table.lines().count(), 1 + 3, "create, restart and shell batches: {table}");
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&platform.cli(&["task", "list", "--instance", ids[1], "--json"]))).unwrap();
    let kinds: Vec<&str> = json["tasks"].as_array().unwrap().iter().map(|t| t["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["instance.shell", "instance.stop", "instance.restart", "instance.create"]);
    let newest = json["tasks"][0]["id"].as_str().unwrap();
    let shown = stdout(&platform.cli(&["task", "get", newest, "--json"]));
    assert!(shown.contains("\"instance.not_running\""), "{shown}");
    let cancel = platform.cli(&["task", "cancel", newest]);
    assert!(!cancel.status.success());
    assert!(String::from_utf8_lossy(&cancel.stderr).contains("task.not_cancellable"));

    // Callbacks: set shows the secret once, deliveries list the attempts.
    let set = stdout(&platform.cli(&["callback", "set", "http://127.0.0.1:9/hook"]));
    assert!(set.contains("secret: whsec_"), "{set}");
    assert_eq!(stdout(&platform.cli(&["callback", "get"])), "http://127.0.0.1:9/hook\n");
    stdout(&platform.cli(&["callback", "test"]));
    let deliveries = stdout(&platform.cli(&["callback", "deliveries"]));
    assert!(deliveries.lines().nth(1).is_some_and(|l| l.contains("ping")), "{deliveries}");
    stdout(&platform.cli(&["callback", "delete"]));
    assert!(!platform.cli(&["callback", "get"]).status.success());
}

#[test]
fn sensors_location_media_sessions_and_async_shell_commands() {
    let platform = up();
    let id = stdout(&platform.cli(&["instance", "create"])).trim().to_owned();

    stdout(&platform.cli(&[
        "instance",
        "sensors",
        &id,
        "--feed",
        "accelerometer=0,9.81,0",
        "--feed",
        "gyroscope=0.1,0,0",
    ]));
    let table = stdout(&platform.cli(&["instance", "sensors", &id]));
    assert!(table.lines().any(|l| l.starts_with("accelerometer") && l.contains("9.810")), "{table}");
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&platform.cli(&["instance", "sensors", &id, "--json"]))).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);
    let bad = platform.cli(&["instance", "sensors", &id, "--feed", "thermometer=1,2,3"]);
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("unknown sensor"));

    stdout(&platform.cli(&["instance", "location", &id, "--lat", "48.8584", "--lon", "2.2945"]));
    let location: serde_json::Value =
        serde_json::from_str(&stdout(&platform.cli(&["instance", "location", &id]))).unwrap();
    assert_eq!(location["fix"]["latitude"], 48.8584);

    let playback: serde_json::Value =
        serde_json::from_str(&stdout(&platform.cli(&["instance", "playback", &id]))).unwrap();
    assert!(playback.is_null(), "nothing played yet: {playback}");
    stdout(&platform.cli(&["instance", "playback", &id, "--stop"]));
    let camera: serde_json::Value = serde_json::from_str(&stdout(&platform.cli(&["instance", "camera", &id]))).unwrap();
    assert_eq!(camera["frames"], 0);
    stdout(&platform.cli(&["instance", "camera", &id, "--off"]));
    let mic: serde_json::Value = serde_json::from_str(&stdout(&platform.cli(&["instance", "mic", &id]))).unwrap();
    assert_eq!(mic["samples"], 0, "nothing fed yet: {mic}");
    stdout(&platform.cli(&["instance", "mic", &id, "--off"]));

    assert_eq!(
        stdout(&platform.cli(&["instance", "restart-app", &id, "com.android.settings"])).trim(),
        "com.android.settings/.Settings"
    );
    let task = stdout(&platform.cli(&["instance", "shell", &id, "--async", "--", "getprop", "ro.product.model"]));
    let task = task.trim();
    assert!(task.starts_with("tk-"), "{task}");
    let ended: serde_json::Value =
        serde_json::from_str(&stdout(&platform.cli(&["task", "get", task, "--wait", "30", "--json"]))).unwrap();
    assert_eq!(ended["result"]["stdout"], "Pixel 7\n");

    let grant: serde_json::Value = serde_json::from_str(&stdout(&platform.cli(&[
        "session",
        "create",
        &id,
        "--end-user",
        "user-1",
        "--ttl",
        "120",
    ])))
    .unwrap();
    let token = grant["session_token"].as_str().unwrap();
    assert_eq!(grant["end_user"], "user-1");
    assert_eq!(grant["role"], "controller");
    // Shared as a spectator link, which goes with the token it came from.
    let link: serde_json::Value = serde_json::from_str(&stdout(&platform.cli(&["session", "share", token]))).unwrap();
    assert_eq!((link["role"].as_str(), link["end_user"].as_str()), (Some("spectator"), Some("user-1")));
    let link_token = link["session_token"].as_str().unwrap();
    let watcher: serde_json::Value =
        serde_json::from_str(&stdout(&platform.cli(&["session", "create", &id, "--spectator", "--resolution", "12"])))
            .unwrap();
    assert_eq!(
        (watcher["quality"]["short_side"].as_u64(), watcher["quality"]["long_side"].as_u64()),
        (Some(540), Some(960))
    );
    assert_eq!((watcher["role"].as_str(), watcher["allow"].as_array().map(Vec::len)), (Some("spectator"), Some(0)));
    stdout(&platform.cli(&["session", "revoke", token]));
    let shared_again = platform.cli(&["session", "share", link_token]);
    assert!(String::from_utf8_lossy(&shared_again.stderr).contains("session.token_invalid"), "revoked with its source");
    let again = platform.cli(&["session", "revoke", token]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("session.token_invalid"));
}

#[test]
fn connect_watches_a_phone_natively_and_records_the_stream() {
    let platform = up();
    let id = stdout(&platform.cli(&["instance", "create"])).trim().to_owned();
    let recording = platform.data_dir.path().join("out.h264");
    let sound = platform.data_dir.path().join("out.wav");
    // The Recorder's tone button plays 1 s of 440 Hz; it is pressed once the viewer listens.
    stdout(&platform.cli(&["instance", "shell", &id, "--", "monkey", "-p", "com.cloudphone.recorder", "1"]));
    let connect = Command::new(BIN)
        .arg("--data-dir")
        .arg(platform.data_dir.path())
        .args(["connect", &id, "--duration", "4s", "--stats-json", "--record", recording.to_str().unwrap()])
        .args(["--record-audio", sound.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    stdout(&platform.cli(&["instance", "shell", &id, "--", "input", "tap", "360", "1050"]));
    let out = connect.wait_with_output().unwrap();
    let stats: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(stats["frames_decoded"].as_u64().unwrap() >= 1, "{stats}");
    assert_eq!((stats["width"].as_u64(), stats["height"].as_u64()), (Some(720), Some(1280)), "{stats}");
    assert!(stats["first_frame_ms"].as_u64().unwrap() < 3000, "{stats}");
    let packets = stats["audio_packets"].as_u64().unwrap();
    assert!((40..=60).contains(&packets), "a second of tone is about 50 packets of 20 ms: {stats}");
    assert!(stats["audio_peak_dbfs"].as_f64().unwrap() > -26.0, "{stats}");
    let wav = std::fs::read(&sound).unwrap();
    assert_eq!(&wav[..4], b"RIFF");
    assert!(wav.len() > 44 + 2 * 40 * 960, "the tone is in the WAV: {} bytes", wav.len());
    let video = std::fs::read(&recording).unwrap();
    assert!(video.starts_with(&[0, 0, 0, 1]), "Annex B from the first byte");
    assert_eq!(video.len() as u64, stats["video_bytes"].as_u64().unwrap());

    let latency: serde_json::Value =
        serde_json::from_str(&stdout(&platform.cli(&["bench", "latency", &id, "--samples", "4", "--json"]))).unwrap();
    assert_eq!(latency["samples"], 4);
    let (p50, p99) = (latency["p50_ms"].as_f64().unwrap(), latency["p99_ms"].as_f64().unwrap());
    assert!(0.0 < p50 && p50 <= p99, "{latency}");

    let bad = platform.cli(&["connect", "cp-nosuch", "--duration", "1s"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("instance.not_found"));
    let nonsense = platform.cli(&["connect", &id, "--duration", "soon"]);
    assert!(!nonsense.status.success());
}
