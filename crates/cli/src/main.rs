//! `cloudphone`: runs the platform (`cloudphone up`) and is the command-line client of its API.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use cloudphone_protocol::{TaskKind, TaskStatus, TaskView};
use cloudphone_sdk::Client;
use cloudphone_sdk::api::{
    CreateInstances, CreateSession, LocaleRequest, NewDevice, PropertiesPatch, SessionRole, ShareSession,
};
use cloudphone_sdk::task::BatchRequest;
use cloudphone_sdk::viewer::{Viewer, ViewerEvent};

#[derive(Parser)]
#[command(name = "cloudphone", version, about = "Self-hosted cloud phones: run the platform and drive it")]
struct Cli {
    /// Data directory of `up`; the CLI reads credentials.json from it.
    #[arg(long, global = true, env = "CLOUDPHONE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs everything in one process: API, device host, streaming, web pages (SQLite).
    Up {
        /// Address the API and pages listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// A PostgreSQL database (`postgres://user@host/db`) instead of the embedded SQLite file.
        #[arg(long, env = "CLOUDPHONE_DATABASE")]
        database: Option<String>,
        /// The key encrypting secrets at rest, 64 hex digits (default: DATA_DIR/master.key).
        #[arg(long, env = "CLOUDPHONE_MASTER_KEY", hide_env_values = true)]
        master_key: Option<String>,
        /// Requests per second each access key may make (0: no limit).
        #[arg(long, default_value_t = 100.0)]
        rate_limit: f64,
        /// How many requests a key may make at once after a quiet spell.
        #[arg(long, default_value_t = 200)]
        rate_burst: u32,
        /// How many viewer sessions one phone may have open at once.
        #[arg(long, default_value_t = 8)]
        max_sessions_per_phone: usize,
        /// How many viewer sessions one tenant may have open at once.
        #[arg(long, default_value_t = 200)]
        max_sessions_per_tenant: usize,
        /// Run TWCC (delay-based) bandwidth estimation in every viewer session, besides the
        /// loss-based one: reacts earlier, costs CPU and latency (see docs/protocol.md).
        #[arg(long)]
        twcc: bool,
    },
    /// Manages cloud phones.
    #[command(subcommand)]
    Instance(InstanceCommand),
    /// Prints a URL that shows the phone's live screen in a browser.
    View {
        /// Instance id.
        id: String,
    },
    /// Manages tenants (admin tenants only).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manages access keys (admin tenants only).
    #[command(subcommand)]
    Key(KeyCommand),
    /// Watches and listens to a phone natively for a while (WebRTC; H.264 and Opus decoded here)
    /// and reports what came.
    Connect {
        /// Instance id.
        id: String,
        /// How long: `5s`, `1500ms`.
        #[arg(long, default_value = "5s", value_parser = parse_duration)]
        duration: std::time::Duration,
        /// Print the counters as JSON (first_frame_ms, frames_decoded, width, height, …).
        #[arg(long)]
        stats_json: bool,
        /// Write the received video (H.264 Annex B) to this file.
        #[arg(long)]
        record: Option<PathBuf>,
        /// Write the phone's sound, decoded, to this WAV file (mono, 48 kHz; silence is skipped).
        #[arg(long)]
        record_audio: Option<PathBuf>,
    },
    /// Measures the platform.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Issues and revokes SDK session tokens.
    #[command(subcommand)]
    Session(SessionCommand),
    /// Follows and cancels tasks (every asynchronous operation is one).
    #[command(subcommand)]
    Task(TaskCommand),
    /// Runs one operation over many phones, with a progress bar.
    Batch {
        /// instance.restart, instance.reset, instance.start, instance.stop, instance.new_device,
        /// instance.shell, app.start, app.stop, app.restart, app.clear, app.uninstall.
        operation: String,
        /// Instance ids.
        #[arg(required = true)]
        ids: Vec<String>,
        /// The operation's parameters as JSON, e.g. '{"command": "id"}' or '{"package": "…"}'.
        #[arg(long, default_value = "{}")]
        params: String,
    },
    /// Configures the callback URL and reads its delivery log.
    #[command(subcommand)]
    Callback(CallbackCommand),
    /// Lists the device models and countries phones can be created as.
    Catalogue {
        /// `models` or `countries`.
        #[arg(value_parser = ["models", "countries"])]
        what: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Input-to-picture latency over a native session: taps and BACK on the launcher, each
    /// timed until the changed picture is decoded here; prints p50 and p99.
    Latency {
        /// Instance id (a virtual phone on its launcher).
        id: String,
        /// How many inputs.
        #[arg(long, default_value_t = 20)]
        samples: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum SessionCommand {
    /// Issues a session token for one phone (and end user); prints the grant as JSON.
    Create {
        /// Instance id.
        id: String,
        /// The end user it is for (your id for them).
        #[arg(long)]
        end_user: Option<String>,
        /// How long it may open sessions, 60 to 86400 seconds.
        #[arg(long)]
        ttl: Option<u32>,
        /// Recycle a session after this many seconds without input (10 to 7200; default 300).
        #[arg(long)]
        idle_timeout: Option<u32>,
        /// Only watch and listen: send no input.
        #[arg(long)]
        spectator: bool,
        /// Group control: mirror this controller's touches, keys and text to these phones too
        /// (comma-separated ids).
        #[arg(long, value_delimiter = ',', conflicts_with = "spectator")]
        group: Vec<String>,
        /// Start at this VMOS resolution id (7: 144x256 … 15: 720x1280 … 17: 1080x1920).
        #[arg(long)]
        resolution: Option<u8>,
        /// Start at this VMOS frame-rate id (1: 20, 2: 25, 3: 30, 4: 60, 5: 1, 6: 5, 7: 10, 8: 15, 9: 2 fps).
        #[arg(long)]
        fps: Option<u8>,
        /// Start at this VMOS bitrate id (1 to 12: Mbit/s; 13, 14, 15: 200, 400, 600 kbit/s).
        #[arg(long)]
        bitrate: Option<u8>,
    },
    /// Shares the session a token opens: prints a new grant (a spectator link unless
    /// `--controller`) as JSON, as the token's holder would get it.
    Share {
        /// The session token to share.
        token: String,
        /// Let the link control the phone too (only a controller's token may).
        #[arg(long)]
        controller: bool,
        /// How long the link may open sessions (default: as long as the token).
        #[arg(long)]
        ttl: Option<u32>,
    },
    /// Revokes a session token (and the links shared from it).
    Revoke {
        /// The token.
        token: String,
    },
}

#[derive(Subcommand)]
enum TaskCommand {
    /// Shows a task.
    Get {
        /// Task id.
        id: String,
        /// Wait (up to this many seconds) for it to end.
        #[arg(long, default_value_t = 0)]
        wait: u64,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Lists tasks, newest first.
    List {
        /// Only this status (pending, running, done, failed, partly_failed, cancelled, timeout).
        #[arg(long)]
        status: Option<String>,
        /// Only this kind (instance.restart, app.install, batch, …).
        #[arg(long)]
        kind: Option<String>,
        /// Only tasks on this phone.
        #[arg(long)]
        instance: Option<String>,
        /// Only the children of this batch.
        #[arg(long)]
        batch: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Cancels a pending task, or a batch's pending children.
    Cancel {
        /// Task id.
        id: String,
    },
}

#[derive(Subcommand)]
enum CallbackCommand {
    /// Sets the callback URL; prints the signing secret (shown only now).
    Set {
        /// http:// or https:// URL.
        url: String,
        /// Your own secret (16 to 128 printable characters) instead of a random one.
        #[arg(long)]
        secret: Option<String>,
    },
    /// Shows the callback URL.
    Get,
    /// Removes the callback URL.
    Delete,
    /// Sends a ping event and shows its delivery.
    Test,
    /// Lists deliveries, newest first.
    Deliveries {
        /// Only pending, delivered or failed ones.
        #[arg(long)]
        status: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Shows one delivery with its attempts, as JSON.
    Delivery {
        /// Delivery id.
        id: String,
    },
    /// Sends a delivery's event again.
    Redeliver {
        /// Delivery id.
        id: String,
    },
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Creates a tenant and prints its first key pair (the secret is shown only now).
    Create {
        /// Display name.
        name: String,
    },
    /// Lists tenants.
    List,
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Adds a key pair to a tenant and prints it (the secret is shown only now).
    Add {
        /// Tenant id.
        tenant: String,
    },
    /// Lists a tenant's keys (never their secrets).
    List {
        /// Tenant id.
        tenant: String,
    },
    /// Disables a key.
    Disable {
        /// Access key id.
        access_key: String,
    },
    /// Replaces a key with a new one and disables the old; prints the new pair.
    Rotate {
        /// Access key id.
        access_key: String,
    },
}

#[derive(Subcommand)]
enum InstanceCommand {
    /// Creates phones and prints their ids, one per line.
    Create {
        /// How many.
        #[arg(long, default_value_t = 1)]
        count: u32,
        /// Device model from the catalogue (model, code name or market name).
        #[arg(long)]
        model: Option<String>,
        /// ISO country for SIM, locale and time zone.
        #[arg(long)]
        country: Option<String>,
    },
    /// Reboots a phone (pending ro.* changes take effect); with several ids, a batch with a progress bar.
    Restart {
        /// Instance ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Shuts a phone down, keeping its state; with several ids, a batch with a progress bar.
    Stop {
        /// Instance ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Boots a stopped phone; with several ids, a batch with a progress bar.
    Start {
        /// Instance ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Factory reset: wipes user data, keeps the identity; with several ids, a batch with a progress bar.
    Reset {
        /// Instance ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Gives a phone a fresh identity ("one-key new device").
    NewDevice {
        /// Instance id.
        id: String,
        /// Device model from the catalogue (default: a random one).
        #[arg(long)]
        model: Option<String>,
        /// ISO country (default: the phone's current one).
        #[arg(long)]
        country: Option<String>,
        /// Keep apps, files, settings and notes.
        #[arg(long)]
        keep_user_data: bool,
    },
    /// Shows a phone's identity and properties.
    Props {
        /// Instance id.
        id: String,
        /// Print JSON instead of `[key]: [value]` lines.
        #[arg(long)]
        json: bool,
    },
    /// Changes properties (KEY=VALUE; ro.* at the next restart), modem fields and settings.
    Setprop {
        /// Instance id.
        id: String,
        /// System properties, KEY=VALUE.
        #[arg(value_parser = parse_pair)]
        system: Vec<(String, String)>,
        /// Modem fields (IMEI, ICCID, IMSI, MCCMNC, OpName, PhoneNum), KEY=VALUE.
        #[arg(long = "modem", value_parser = parse_pair)]
        modem: Vec<(String, String)>,
        /// Settings (android_id, bt/mac, ssaid/<package>), KEY=VALUE.
        #[arg(long = "setting", value_parser = parse_pair)]
        settings: Vec<(String, String)>,
    },
    /// Sets locale and/or time zone.
    Locale {
        /// Instance id.
        id: String,
        /// BCP 47 locale, e.g. de-DE.
        #[arg(long)]
        locale: Option<String>,
        /// IANA time zone, e.g. Europe/Berlin.
        #[arg(long)]
        timezone: Option<String>,
    },
    /// Installs (or updates) an APK.
    Install {
        /// Instance id.
        id: String,
        /// The APK file.
        apk: PathBuf,
    },
    /// Lists the installed apps.
    Apps {
        /// Instance id.
        id: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Brings an app to the front.
    StartApp {
        /// Instance id.
        id: String,
        /// Package name.
        package: String,
        /// An activity (default: the launcher one).
        #[arg(long)]
        activity: Option<String>,
    },
    /// Force-stops an app.
    StopApp {
        /// Instance id.
        id: String,
        /// Package name.
        package: String,
    },
    /// Deletes an app's data.
    ClearApp {
        /// Instance id.
        id: String,
        /// Package name.
        package: String,
    },
    /// Uninstalls an app.
    Uninstall {
        /// Instance id.
        id: String,
        /// Package name.
        package: String,
    },
    /// Copies a local file into the phone.
    Push {
        /// Instance id.
        id: String,
        /// Local file.
        local: PathBuf,
        /// Path in the phone (e.g. /sdcard/Download/file.txt).
        remote: String,
    },
    /// Copies a file out of the phone.
    Pull {
        /// Instance id.
        id: String,
        /// Path in the phone.
        remote: String,
        /// Local file.
        local: PathBuf,
    },
    /// Lists a folder in the phone.
    Ls {
        /// Instance id.
        id: String,
        /// Path in the phone.
        #[arg(default_value = "/sdcard")]
        path: String,
    },
    /// Removes a file or folder in the phone.
    Rm {
        /// Instance id.
        id: String,
        /// Path in the phone.
        path: String,
        /// Remove folders with their contents.
        #[arg(short, long)]
        recursive: bool,
    },
    /// Shows the phone's location (JSON), or sets it with --lat and --lon.
    Location {
        /// Instance id.
        id: String,
        /// Latitude, degrees.
        #[arg(long, allow_hyphen_values = true, requires = "lon")]
        lat: Option<f64>,
        /// Longitude, degrees.
        #[arg(long, allow_hyphen_values = true, requires = "lat")]
        lon: Option<f64>,
        /// Altitude, metres.
        #[arg(long, allow_hyphen_values = true)]
        alt: Option<f64>,
        /// Accuracy, metres.
        #[arg(long)]
        accuracy: Option<f32>,
    },
    /// Shows the phone's clipboard, or sets it to TEXT.
    Clipboard {
        /// Instance id.
        id: String,
        /// New clipboard text.
        text: Option<String>,
    },
    /// Plays a sensor CSV trace or a GPX route into the phone (see docs/playback.md).
    Play {
        /// Instance id.
        id: String,
        /// The script file (.csv or .gpx).
        file: PathBuf,
        /// Speed factor (0.1 to 100).
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// Start over at the end.
        #[arg(long = "loop")]
        looped: bool,
    },
    /// Shows a PNG or JPEG picture, or loops an H.264 (Annex B) video, as the phone's camera;
    /// without a file, shows what the camera has (JSON).
    Camera {
        /// Instance id.
        id: String,
        /// The picture or video file.
        picture: Option<PathBuf>,
        /// Turn the injected picture or video off.
        #[arg(long, conflicts_with = "picture")]
        off: bool,
    },
    /// Feeds a 16-bit PCM WAV file into the phone's microphone; without a file, shows what it
    /// hears (JSON).
    Mic {
        /// Instance id.
        id: String,
        /// The WAV file.
        wav: Option<PathBuf>,
        /// Stop feeding the file.
        #[arg(long, conflicts_with = "wav")]
        off: bool,
        /// Start over at the end.
        #[arg(long = "loop")]
        looped: bool,
    },
    /// Shows the sensors' latest readings, or feeds readings (`--feed accelerometer=0,9.81,0`).
    Sensors {
        /// Instance id.
        id: String,
        /// SENSOR=X,Y,Z (accelerometer, magnetometer, gyroscope, gravity); repeatable.
        #[arg(long = "feed", value_parser = parse_pair)]
        feed: Vec<(String, String)>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Shows the current or last playback (JSON), or stops it.
    Playback {
        /// Instance id.
        id: String,
        /// Stop it.
        #[arg(long)]
        stop: bool,
    },
    /// Stops an app, then starts it.
    RestartApp {
        /// Instance id.
        id: String,
        /// Package name.
        package: String,
    },
    /// Saves the last milliseconds of what the phone played as WAV.
    Record {
        /// Instance id.
        id: String,
        /// How much, 1 to 10000 ms.
        #[arg(long, default_value_t = 5000)]
        ms: u32,
        /// Output file.
        #[arg(short = 'o', long)]
        output: PathBuf,
    },
    /// Replaces the Wi-Fi list from a JSON file (`[{"ssid": ..., "bssid": ..., ...}]`).
    Wifi {
        /// Instance id.
        id: String,
        /// The JSON file.
        file: PathBuf,
    },
    /// Lists phones.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Shows one phone.
    Get {
        /// Instance id.
        id: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Runs a shell command on a phone; exits with the command's exit code.
    Shell {
        /// Instance id.
        id: String,
        /// Run it as a task (VMOS `asyncCmd`): print the task id and return at once.
        #[arg(long = "async")]
        background: bool,
        /// The command and its arguments (after `--`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        command: Vec<String>,
    },
    /// Saves the phone's screen as PNG.
    Screenshot {
        /// Instance id.
        id: String,
        /// Output file.
        #[arg(short = 'o', long)]
        output: PathBuf,
    },
    /// Deletes a phone and everything it stored.
    Delete {
        /// Instance id.
        id: String,
    },
}

/// Shows a spinner on stderr while `work` runs (uploads and downloads can take a while).
async fn with_spinner<T>(message: String, work: impl std::future::Future<Output = T>) -> T {
    let spinner = indicatif::ProgressBar::new_spinner().with_message(message);
    spinner.enable_steady_tick(std::time::Duration::from_millis(100));
    let result = work.await;
    spinner.finish_and_clear();
    result
}

/// A progress bar of an upload's bytes on stderr, and the callback that moves it; once every
/// byte is out it turns into a spinner while the server runs the upload's task.
fn upload_bar(total: usize, message: String) -> (indicatif::ProgressBar, cloudphone_sdk::UploadProgress) {
    let bar = indicatif::ProgressBar::new(total as u64).with_message(message).with_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec})")
            .expect("the template parses")
            .progress_chars("=> "),
    );
    let handle = bar.clone();
    let progress = std::sync::Arc::new(move |sent: u64| {
        handle.set_position(sent);
        if sent >= handle.length().unwrap_or(0) {
            handle.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {msg}: waiting for the phone").expect("parses"),
            );
            handle.enable_steady_tick(std::time::Duration::from_millis(100));
        }
    });
    (bar, progress)
}

/// Parses `accelerometer` and `0,9.81,0` into a reading.
fn parse_reading(sensor: &str, values: &str) -> anyhow::Result<cloudphone_sdk::control::SensorReading> {
    let sensor = serde_json::from_value(serde_json::Value::String(sensor.to_owned()))
        .map_err(|_| anyhow::anyhow!("unknown sensor {sensor:?}: accelerometer, magnetometer, gyroscope or gravity"))?;
    let parsed: Vec<f32> = values
        .split(',')
        .map(|v| v.trim().parse::<f32>())
        .collect::<Result<_, _>>()
        .map_err(|_| anyhow::anyhow!("expected X,Y,Z numbers, got {values:?}"))?;
    let values: [f32; 3] = parsed.try_into().map_err(|_| anyhow::anyhow!("expected three values X,Y,Z"))?;
    Ok(cloudphone_sdk::control::SensorReading { sensor, values, timestamp_ns: None })
}

/// Parses `5s`, `1500ms` or `2` (seconds).
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let (number, unit) = match text.strip_suffix("ms") {
        Some(n) => (n, 0.001),
        None => (text.strip_suffix('s').unwrap_or(text), 1.0),
    };
    number
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n >= 0.0 && *n * unit <= 86_400.0)
        .map(|n| std::time::Duration::from_secs_f64(n * unit))
        .ok_or_else(|| format!("expected a duration like 5s or 1500ms, got {text:?}"))
}

/// Parses `KEY=VALUE`.
fn parse_pair(s: &str) -> Result<(String, String), String> {
    s.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())).ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

/// Prints an instance's id and status after a lifecycle operation.
fn print_status(instance: &cloudphone_sdk::api::Instance) {
    println!("{} {}", instance.id, instance.status.as_str());
}

/// Tasks as a table.
fn print_tasks(tasks: &[TaskView]) {
    println!("{:<25} {:<20} {:<14} {:<20} {:>8}  ERROR", "ID", "KIND", "STATUS", "INSTANCE", "ATTEMPTS");
    for t in tasks {
        println!(
            "{:<25} {:<20} {:<14} {:<20} {:>8}  {}",
            t.id,
            t.kind.as_str(),
            t.status.as_str(),
            t.instance_id.as_deref().unwrap_or("-"),
            t.attempts,
            t.error.as_ref().map(|e| format!("{}: {}", e.code, e.message)).unwrap_or_default()
        );
    }
}

/// Follows a task to its end. A batch shows a progress bar of its children on stderr; a single
/// task a spinner.
async fn follow(client: &Client, task: TaskView, verb: &str) -> anyhow::Result<TaskView> {
    let poll = std::time::Duration::from_millis(250);
    if task.kind != TaskKind::Batch {
        let id = task.id.clone();
        return Ok(with_spinner(format!("{verb} ({id})"), client.wait_task(&id, cloudphone_sdk::TASK_WAIT)).await?);
    }
    let bar = indicatif::ProgressBar::new(task.children.len() as u64).with_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} phones ({elapsed})")
            .expect("the template parses")
            .progress_chars("=> "),
    );
    bar.set_message(verb.to_owned());
    loop {
        let current = client.task(&task.id).await?;
        let children = client.tasks(&[("parent_id", &task.id)], None, 500).await?.tasks;
        bar.set_position(children.iter().filter(|c| c.status.is_final()).count() as u64);
        if current.status.is_final() {
            bar.finish_and_clear();
            return Ok(current);
        }
        tokio::time::sleep(poll).await;
    }
}

/// After a task that did not end `done`: says which phones failed and why; exit code 1.
async fn report_failures(client: &Client, task: &TaskView) -> anyhow::Result<ExitCode> {
    let failed: Vec<TaskView> = if task.kind == TaskKind::Batch {
        client.tasks(&[("parent_id", &task.id)], None, 500).await?.tasks
    } else {
        vec![task.clone()]
    };
    let mut bad = 0;
    for t in failed.iter().filter(|t| t.status != TaskStatus::Done) {
        bad += 1;
        let why = t.error.as_ref().map(|e| format!("{}: {}", e.code, e.message)).unwrap_or_default();
        eprintln!("{} {} {why}", t.instance_id.as_deref().unwrap_or("-"), t.status.as_str());
    }
    if bad == 0 && task.status == TaskStatus::Done {
        eprintln!("{}: {} phone(s) done", task.id, failed.len());
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("{}: {}", task.id, task.status.as_str());
    Ok(ExitCode::from(1))
}

/// `instance restart|stop|start|reset ID…`: one phone prints its new status; several run as a
/// batch with a progress bar.
async fn lifecycle(client: &Client, kind: TaskKind, ids: Vec<String>) -> anyhow::Result<ExitCode> {
    if let [id] = ids.as_slice() {
        let instance = match kind {
            TaskKind::Restart => client.restart(id).await?,
            TaskKind::Stop => client.stop(id).await?,
            TaskKind::Start => client.start(id).await?,
            _ => client.reset(id).await?,
        };
        print_status(&instance);
        return Ok(ExitCode::SUCCESS);
    }
    let request =
        BatchRequest { operation: kind.as_str().to_owned(), instance_ids: ids, params: serde_json::json!({}) };
    let task = follow(client, client.batch(&request).await?, kind.as_str()).await?;
    report_failures(client, &task).await
}

/// `$XDG_DATA_HOME/cloudphone`, else `~/.local/share/cloudphone`.
fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("cloudphone");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    home.join(".local/share/cloudphone")
}

/// The API client from `CLOUDPHONE_URL/ACCESS_KEY/SECRET_KEY`, completed from credentials.json.
fn client(data_dir: &std::path::Path) -> anyhow::Result<Client> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (url, ak, sk) = (env("CLOUDPHONE_URL"), env("CLOUDPHONE_ACCESS_KEY"), env("CLOUDPHONE_SECRET_KEY"));
    if let (Some(url), Some(ak), Some(sk)) = (&url, &ak, &sk) {
        return Ok(Client::new(url, ak, sk));
    }
    let path = data_dir.join(cloudphone_server::credentials::FILE_NAME);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "no credentials: set CLOUDPHONE_URL, CLOUDPHONE_ACCESS_KEY and CLOUDPHONE_SECRET_KEY, \
             or run `cloudphone up` so {} exists",
            path.display()
        )
    })?;
    let file: cloudphone_server::Credentials =
        serde_json::from_str(&text).with_context(|| format!("{} is not a valid credentials file", path.display()))?;
    Ok(Client::new(url.unwrap_or(file.api_url), ak.unwrap_or(file.access_key), sk.unwrap_or(file.secret_key)))
}

/// Prints a line for the operator. A server keeps running when nobody reads its stdout any
/// more (a closed pipe), so write errors are ignored rather than fatal as with `println!`.
fn say(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

async fn up(config: cloudphone_server::Config) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,str0m=warn,tower_http=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let server = cloudphone_server::start(config).await?;
    let url = &server.credentials.api_url;
    say(&format!(
        "cloudphone is running\n  console:     {url}/\n  API:         {url}/v1\n  credentials: {}",
        server.credentials_path.display()
    ));
    tokio::select! {
        result = server.wait() => result,
        _ = tokio::signal::ctrl_c() => {
            say("stopping");
            Ok(())
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let data_dir = cli.data_dir.unwrap_or_else(default_data_dir);
    match cli.command {
        Command::Up {
            listen,
            database,
            master_key,
            rate_limit,
            rate_burst,
            max_sessions_per_phone,
            max_sessions_per_tenant,
            twcc,
        } => {
            let config = cloudphone_server::Config {
                database,
                master_key,
                rate_limit: cloudphone_server::ratelimit::RateLimit { per_second: rate_limit, burst: rate_burst },
                session_limits: cloudphone_server::services::SessionLimits {
                    per_phone: max_sessions_per_phone,
                    per_tenant: max_sessions_per_tenant,
                },
                twcc,
                ..cloudphone_server::Config::new(data_dir, listen)
            };
            up(config).await.map(|_| ExitCode::SUCCESS)
        }
        Command::Tenant(command) => {
            let client = client(&data_dir)?;
            match command {
                TenantCommand::Create { name } => {
                    let created = client.create_tenant(&name).await?;
                    println!("tenant_id:  {}", created.tenant.id);
                    println!("access_key: {}\nsecret_key: {}", created.key.access_key, created.key.secret_key);
                }
                TenantCommand::List => {
                    for t in client.tenants().await? {
                        println!(
                            "{:<22} {:<6} {:<26} {}",
                            t.id,
                            if t.admin { "admin" } else { "" },
                            t.created_at,
                            t.name
                        );
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Key(command) => {
            let client = client(&data_dir)?;
            match command {
                KeyCommand::Add { tenant } => {
                    let key = client.add_key(&tenant).await?;
                    println!("access_key: {}\nsecret_key: {}", key.access_key, key.secret_key);
                }
                KeyCommand::List { tenant } => {
                    for k in client.keys(&tenant).await? {
                        println!(
                            "{:<24} {:<26} {}",
                            k.access_key,
                            k.created_at,
                            if k.disabled { "disabled" } else { "enabled" }
                        );
                    }
                }
                KeyCommand::Disable { access_key } => client.disable_key(&access_key).await?,
                KeyCommand::Rotate { access_key } => {
                    let key = client.rotate_key(&access_key).await?;
                    println!("access_key: {}\nsecret_key: {}", key.access_key, key.secret_key);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Catalogue { what, json } => {
            let client = client(&data_dir)?;
            if what == "models" {
                let models = client.catalogue_models().await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&models)?);
                } else {
                    for m in models {
                        println!("{:<22} {:<24} Android {:<3} {}", m.model, m.market_name, m.android_version, m.brand);
                    }
                }
            } else {
                let countries = client.catalogue_countries().await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&countries)?);
                } else {
                    for c in countries {
                        println!("{}  {:<7} {:<14} {:<6} {}", c.code, c.mccmnc, c.operator, c.locale, c.timezone);
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::View { id } => {
            let grant = client(&data_dir)?.create_session(&id, &CreateSession::default()).await?;
            println!("{}", grant.view_url);
            Ok(ExitCode::SUCCESS)
        }
        Command::Connect { id, duration, stats_json, record, record_audio } => {
            let client = client(&data_dir)?;
            let grant = client.create_session(&id, &CreateSession::default()).await?;
            let mut viewer = Viewer::connect(&grant.signalling_url, &grant.session_token).await?;
            if let Some(path) = &record {
                viewer.record_to(path)?;
            }
            if let Some(path) = &record_audio {
                viewer.record_audio_to(path)?;
            }
            let end = std::time::Instant::now() + duration;
            while let Some(left) = end.checked_duration_since(std::time::Instant::now()) {
                match viewer.next_event(left).await? {
                    Some(ViewerEvent::Closed) => break,
                    Some(_) => {}
                    None => break,
                }
            }
            let stats = viewer.stats();
            if stats_json {
                println!("{}", serde_json::to_string_pretty(stats)?);
            } else {
                println!(
                    "{} frames of {}x{} in {:?}, the first after {} ms, {} KiB of video, {} packets of sound",
                    stats.frames_decoded,
                    stats.width,
                    stats.height,
                    duration,
                    stats.first_frame_ms.map_or("-".into(), |ms| ms.to_string()),
                    stats.video_bytes / 1024,
                    stats.audio_packets
                );
            }
            if stats.frames_decoded == 0 {
                eprintln!("no picture arrived");
                return Ok(ExitCode::from(1));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(BenchCommand::Latency { id, samples, json }) => {
            let client = client(&data_dir)?;
            let grant = client.create_session(&id, &CreateSession::default()).await?;
            let mut viewer = Viewer::connect(&grant.signalling_url, &grant.session_token).await?;
            let mut latencies = viewer.input_latency(samples.max(1)).await?;
            latencies.sort();
            let ms = |q: f64| {
                let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
                latencies[i].as_secs_f64() * 1000.0
            };
            let (p50, p99, max) = (ms(0.5), ms(0.99), ms(1.0));
            if json {
                let report =
                    serde_json::json!({"samples": latencies.len(), "p50_ms": p50, "p99_ms": p99, "max_ms": max});
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "input to picture over {} inputs: p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms",
                    latencies.len()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Session(command) => {
            let client = client(&data_dir)?;
            match command {
                SessionCommand::Create {
                    id,
                    end_user,
                    ttl,
                    idle_timeout,
                    spectator,
                    group,
                    resolution,
                    fps,
                    bitrate,
                } => {
                    let quality = (resolution.is_some() || fps.is_some() || bitrate.is_some())
                        .then_some(cloudphone_sdk::api::QualityIds { resolution, fps, bitrate });
                    let request = CreateSession {
                        end_user,
                        ttl_seconds: ttl,
                        idle_timeout_seconds: idle_timeout,
                        role: spectator.then_some(SessionRole::Spectator),
                        group: (!group.is_empty()).then_some(group),
                        quality,
                        ..Default::default()
                    };
                    println!("{}", serde_json::to_string_pretty(&client.create_session(&id, &request).await?)?);
                }
                SessionCommand::Share { token, controller, ttl } => {
                    let request =
                        ShareSession { role: controller.then_some(SessionRole::Controller), ttl_seconds: ttl };
                    let url = format!("{}/v1/signalling/share", client.base_url());
                    let grant = cloudphone_sdk::share_session(&url, &token, &request).await?;
                    println!("{}", serde_json::to_string_pretty(&grant)?);
                }
                SessionCommand::Revoke { token } => client.revoke_session(&token).await?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Task(command) => {
            let client = client(&data_dir)?;
            match command {
                TaskCommand::Get { id, wait, json } => {
                    let task = if wait == 0 {
                        client.task(&id).await?
                    } else {
                        client.wait_task(&id, std::time::Duration::from_secs(wait)).await?
                    };
                    if json {
                        println!("{}", serde_json::to_string_pretty(&task)?);
                    } else {
                        print_tasks(std::slice::from_ref(&task));
                        if let Some(result) = &task.result {
                            println!("result: {result}");
                        }
                    }
                }
                TaskCommand::List { status, kind, instance, batch, limit, json } => {
                    let mut filters = Vec::new();
                    filters.extend(status.as_deref().map(|v| ("status", v)));
                    filters.extend(kind.as_deref().map(|v| ("kind", v)));
                    filters.extend(instance.as_deref().map(|v| ("instance_id", v)));
                    filters.extend(batch.as_deref().map(|v| ("parent_id", v)));
                    let page = client.tasks(&filters, None, limit).await?;
                    if json {
                        println!("{}", serde_json::to_string_pretty(&page)?);
                    } else {
                        print_tasks(&page.tasks);
                    }
                }
                TaskCommand::Cancel { id } => print_tasks(&[client.cancel_task(&id).await?]),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Batch { operation, ids, params } => {
            let client = client(&data_dir)?;
            let params = serde_json::from_str(&params).context("--params is not JSON")?;
            let task = client.batch(&BatchRequest { operation, instance_ids: ids, params }).await?;
            let task = follow(&client, task, "running").await?;
            report_failures(&client, &task).await
        }
        Command::Callback(command) => {
            let client = client(&data_dir)?;
            match command {
                CallbackCommand::Set { url, secret } => {
                    let view = client.set_callback(&url, secret.as_deref()).await?;
                    println!("url:    {}\nsecret: {}", view.url, view.secret.unwrap_or_default());
                }
                CallbackCommand::Get => println!("{}", client.callback().await?.url),
                CallbackCommand::Delete => client.delete_callback().await?,
                CallbackCommand::Test => println!("{}", serde_json::to_string_pretty(&client.test_callback().await?)?),
                CallbackCommand::Deliveries { status, limit, json } => {
                    let page = client.deliveries(status.as_deref(), None, limit).await?;
                    if json {
                        println!("{}", serde_json::to_string_pretty(&page)?);
                    } else {
                        println!("{:<26} {:<16} {:>5} {:<10} {:>8}  LAST", "ID", "EVENT", "CODE", "STATUS", "ATTEMPTS");
                        for d in &page.deliveries {
                            let last = d.last_error.clone().or(d.last_status_code.map(|c| format!("HTTP {c}")));
                            println!(
                                "{:<26} {:<16} {:>5} {:<10} {:>8}  {}",
                                d.id,
                                d.event_type,
                                d.business_code,
                                d.status,
                                d.attempts,
                                last.unwrap_or_default()
                            );
                        }
                    }
                }
                CallbackCommand::Delivery { id } => {
                    println!("{}", serde_json::to_string_pretty(&client.delivery(&id).await?)?)
                }
                CallbackCommand::Redeliver { id } => println!("{}", client.redeliver(&id).await?.id),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Instance(command) => {
            let client = client(&data_dir)?;
            match command {
                InstanceCommand::Create { count, model, country } => {
                    let request = CreateInstances { count: Some(count), model, country };
                    let created = client.submit_create(&request).await?;
                    let task = follow(&client, created.task, "creating").await?;
                    for instance in &created.instances {
                        println!("{}", instance.id);
                    }
                    if task.status != TaskStatus::Done {
                        return report_failures(&client, &task).await;
                    }
                }
                InstanceCommand::Restart { ids } => return lifecycle(&client, TaskKind::Restart, ids).await,
                InstanceCommand::Stop { ids } => return lifecycle(&client, TaskKind::Stop, ids).await,
                InstanceCommand::Start { ids } => return lifecycle(&client, TaskKind::Start, ids).await,
                InstanceCommand::Reset { ids } => return lifecycle(&client, TaskKind::Reset, ids).await,
                InstanceCommand::NewDevice { id, model, country, keep_user_data } => {
                    print_status(&client.new_device(&id, &NewDevice { model, country, keep_user_data }).await?)
                }
                InstanceCommand::Props { id, json } => {
                    let props = client.properties(&id).await?;
                    if json {
                        println!("{}", serde_json::to_string_pretty(&props)?);
                    } else {
                        for (k, v) in &props.system {
                            println!("[{k}]: [{v}]");
                        }
                        let m = &props.modem;
                        println!(
                            "modem: IMEI={} ICCID={} IMSI={} MCCMNC={} OpName={} PhoneNum={}",
                            m.imei, m.iccid, m.imsi, m.mccmnc, m.operator, m.phone_number
                        );
                        println!("android_id: {}\nbt/mac: {}", props.android_id, props.bluetooth_mac);
                        for (k, v) in &props.pending_restart {
                            println!("pending restart: [{k}]: [{v}]");
                        }
                    }
                }
                InstanceCommand::Setprop { id, system, modem, settings } => {
                    let patch = PropertiesPatch {
                        system: system.into_iter().collect(),
                        modem: modem.into_iter().collect(),
                        settings: settings.into_iter().collect(),
                    };
                    let report = client.patch_properties(&id, &patch).await?;
                    for key in report.applied {
                        println!("applied: {key}");
                    }
                    for key in report.pending_restart {
                        println!("after restart: {key}");
                    }
                }
                InstanceCommand::Locale { id, locale, timezone } => {
                    client.set_locale(&id, &LocaleRequest { locale, timezone }).await?;
                }
                InstanceCommand::Install { id, apk } => {
                    let bytes = std::fs::read(&apk).with_context(|| format!("cannot read {}", apk.display()))?;
                    let (bar, progress) = upload_bar(bytes.len(), format!("installing {}", apk.display()));
                    let info = client.install_app_with_progress(&id, bytes, Some(progress)).await;
                    bar.finish_and_clear();
                    let info = info?;
                    println!(
                        "{} {} ({})",
                        info.package,
                        info.version_name.as_deref().unwrap_or("?"),
                        info.version_code
                    );
                }
                InstanceCommand::Apps { id, json } => {
                    let apps = client.apps(&id).await?;
                    if json {
                        println!("{}", serde_json::to_string_pretty(&apps)?);
                    } else {
                        for a in apps.apps {
                            let mark = if a.foreground { "*" } else { " " };
                            println!(
                                "{mark} {:<40} {:<24} {}",
                                a.package,
                                a.label.as_deref().unwrap_or(""),
                                a.version_name.as_deref().unwrap_or("")
                            );
                        }
                    }
                }
                InstanceCommand::StartApp { id, package, activity } => {
                    println!("{}", client.start_app(&id, &package, activity.as_deref()).await?.component);
                }
                InstanceCommand::StopApp { id, package } => client.stop_app(&id, &package).await?,
                InstanceCommand::ClearApp { id, package } => client.clear_app(&id, &package).await?,
                InstanceCommand::Uninstall { id, package } => client.uninstall_app(&id, &package).await?,
                InstanceCommand::Push { id, local, remote } => {
                    let bytes = std::fs::read(&local).with_context(|| format!("cannot read {}", local.display()))?;
                    let size = bytes.len();
                    let (bar, progress) = upload_bar(size, format!("pushing {}", local.display()));
                    let written = client.write_file_with_progress(&id, &remote, bytes, Some(progress)).await;
                    bar.finish_and_clear();
                    let written = written?;
                    println!("{}: {} bytes", written.path, written.size);
                }
                InstanceCommand::Pull { id, remote, local } => {
                    let bytes = with_spinner(format!("pulling {remote}"), client.read_file(&id, &remote)).await?;
                    std::fs::write(&local, &bytes).with_context(|| format!("cannot write {}", local.display()))?;
                    println!("{}: {} bytes", local.display(), bytes.len());
                }
                InstanceCommand::Ls { id, path } => {
                    let listing = client.list_files(&id, &path).await?;
                    let entries = if listing.entry.kind == "directory" { listing.entries } else { vec![listing.entry] };
                    for e in entries {
                        let kind = if e.kind == "directory" { "d" } else { "-" };
                        println!("{kind} {:>10} {} {}", e.size, e.modified_at, e.name);
                    }
                }
                InstanceCommand::Rm { id, path, recursive } => client.remove_file(&id, &path, recursive).await?,
                InstanceCommand::Location { id, lat, lon, alt, accuracy } => {
                    let (Some(lat), Some(lon)) = (lat, lon) else {
                        println!("{}", serde_json::to_string_pretty(&client.location(&id).await?)?);
                        return Ok(ExitCode::SUCCESS);
                    };
                    let fix = cloudphone_sdk::control::LocationFix {
                        latitude: lat,
                        longitude: lon,
                        altitude: alt,
                        speed: None,
                        bearing: None,
                        accuracy,
                    };
                    client.set_location(&id, &fix).await?;
                }
                InstanceCommand::Clipboard { id, text } => match text {
                    Some(text) => client.set_clipboard(&id, &text).await?,
                    None => println!("{}", client.clipboard(&id).await?),
                },
                InstanceCommand::Play { id, file, speed, looped } => {
                    let script =
                        std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
                    let kind =
                        if file.extension().is_some_and(|e| e.eq_ignore_ascii_case("gpx")) { "gpx" } else { "sensors" };
                    let request = cloudphone_sdk::api::PlaybackRequest {
                        kind: kind.into(),
                        script,
                        speed: Some(speed),
                        looped,
                        route_speed: None,
                    };
                    let status = client.play(&id, &request).await?;
                    println!(
                        "playing {} {} events over {} ms{}",
                        status.events,
                        status.kind,
                        status.duration_ms,
                        if looped { ", looped" } else { "" }
                    );
                }
                InstanceCommand::Camera { id, off: true, .. } => client.clear_camera(&id).await?,
                InstanceCommand::Camera { id, picture: None, .. } => {
                    println!("{}", serde_json::to_string_pretty(&client.camera(&id).await?)?)
                }
                InstanceCommand::Camera { id, picture: Some(picture), .. } => {
                    let bytes =
                        std::fs::read(&picture).with_context(|| format!("cannot read {}", picture.display()))?;
                    let status = client.inject_picture(&id, bytes).await?;
                    let what = if status.source.as_deref() == Some("video") { "video" } else { "picture" };
                    println!("camera shows a {}x{} {what}", status.width.unwrap_or(0), status.height.unwrap_or(0));
                }
                InstanceCommand::Mic { id, off: true, .. } => client.stop_audio(&id).await?,
                InstanceCommand::Mic { id, wav: None, .. } => {
                    println!("{}", serde_json::to_string_pretty(&client.microphone(&id).await?)?)
                }
                InstanceCommand::Mic { id, wav: Some(wav), looped, .. } => {
                    let bytes = std::fs::read(&wav).with_context(|| format!("cannot read {}", wav.display()))?;
                    let status = client.inject_audio(&id, bytes, looped).await?;
                    println!("microphone plays {} samples at {} Hz", status.samples, status.sample_rate);
                }
                InstanceCommand::Sensors { id, feed, json } => {
                    if !feed.is_empty() {
                        let readings = feed
                            .iter()
                            .map(|(sensor, values)| parse_reading(sensor, values))
                            .collect::<anyhow::Result<Vec<_>>>()?;
                        client.send_sensors(&id, readings).await?;
                        return Ok(ExitCode::SUCCESS);
                    }
                    let sensors = client.sensors(&id).await?;
                    if json {
                        println!("{}", serde_json::to_string_pretty(&sensors)?);
                    } else {
                        println!(
                            "{:<14} {:>10} {:>10} {:>10} {:<6} {:>8} {:>8}",
                            "SENSOR", "X", "Y", "Z", "UNIT", "COUNT", "HZ"
                        );
                        for s in &sensors {
                            let [x, y, z] = s.values;
                            let name = serde_json::to_value(s.sensor)?.as_str().unwrap_or_default().to_owned();
                            println!(
                                "{name:<14} {x:>10.3} {y:>10.3} {z:>10.3} {:<6} {:>8} {:>8.1}",
                                s.unit, s.count, s.rate_hz
                            );
                        }
                    }
                }
                InstanceCommand::Playback { id, stop: true } => client.stop_playback(&id).await?,
                InstanceCommand::Playback { id, stop: false } => {
                    println!("{}", serde_json::to_string_pretty(&client.playback(&id).await?)?)
                }
                InstanceCommand::RestartApp { id, package } => {
                    let started = client.restart_app(&id, &package).await?;
                    println!("{}", started.component);
                }
                InstanceCommand::Record { id, ms, output } => {
                    let wav = client.record_audio(&id, ms).await?;
                    std::fs::write(&output, &wav).with_context(|| format!("cannot write {}", output.display()))?;
                }
                InstanceCommand::Wifi { id, file } => {
                    let text =
                        std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
                    let networks = serde_json::from_str(&text)
                        .with_context(|| format!("{} is not a JSON list of Wi-Fi networks", file.display()))?;
                    client.set_wifi(&id, networks).await?;
                }
                InstanceCommand::List { json } => {
                    let instances = client.list_instances().await?;
                    if json {
                        println!("{}", serde_json::to_string_pretty(&instances)?);
                    } else {
                        println!("{:<20} {:<10} CREATED", "ID", "STATUS");
                        for i in instances {
                            println!("{:<20} {:<10} {}", i.id, i.status.as_str(), i.created_at);
                        }
                    }
                }
                InstanceCommand::Get { id, json } => {
                    let i = client.instance(&id).await?;
                    if json {
                        println!("{}", serde_json::to_string_pretty(&i)?);
                    } else {
                        println!(
                            "id:         {}\nstatus:     {} ({})\ncreated at: {}",
                            i.id,
                            i.status.as_str(),
                            i.pad_status,
                            i.created_at
                        );
                    }
                }
                InstanceCommand::Shell { id, command, background: true } => {
                    let request = cloudphone_sdk::api::ShellRequest { command: command.join(" ") };
                    println!("{}", client.submit_task(&id, "shell/async", Some(&request)).await?.id);
                }
                InstanceCommand::Shell { id, command, background: false } => {
                    let out = client.shell(&id, &command.join(" ")).await?;
                    print!("{}", out.stdout);
                    eprint!("{}", out.stderr);
                    return Ok(ExitCode::from(out.exit_code.clamp(0, 255) as u8));
                }
                InstanceCommand::Screenshot { id, output } => {
                    let png = client.screenshot(&id).await?;
                    std::fs::write(&output, png).with_context(|| format!("cannot write {}", output.display()))?;
                }
                InstanceCommand::Delete { id } => client.delete_instance(&id).await?,
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
