//! The device host: runs phones, keeps their state on disk, and turns their screens into H.264
//! streams (one per quality in use, shared by its viewers) and their sound into one Opus stream.
//!
//! Each running phone is a [`Phone`]: the device behind a mutex, a clock ticker, its screen's
//! encoders ([`video`]) and, while anyone listens, its audio thread ([`audio`]). Every change goes through [`Phone`]'s methods, which publish the new picture
//! (if the screen changed) and persist the state (if it changed) before they return.

mod audio;
pub mod disk;
mod video;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cloudphone_device::identity::{Change, Identity, IdentityError};
use cloudphone_device::playback::{Scripted, Timeline};
use cloudphone_device::storage::{FsError, Metadata, SandboxPath};
use cloudphone_device::virtual_phone::media::{self, OUTPUT_RATE};
use cloudphone_device::virtual_phone::{ChangeReport, InstalledPackage, PackageError};
use cloudphone_device::{Device, Frame, NewDevice, PhoneState, ShellOutput, VirtualPhone};
use cloudphone_media::{EncodedFrame, LoopingVideo};
use cloudphone_protocol::ControlMessage;
use cloudphone_protocol::control::ControlEvent;
use cloudphone_protocol::quality::StreamQuality;
use tokio::sync::broadcast;

pub use cloudphone_device::DeviceError;

/// How often a phone's clock is advanced (live sensor and location screens redraw at this rate).
const TICK: Duration = Duration::from_millis(100);
/// How many phone events a viewer may lag behind before it skips some.
const EVENT_BUFFER: usize = 64;

/// Why a host operation failed.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// No phone with this id runs on this host.
    #[error("no phone {0} on this host")]
    NotRunning(String),
    /// Reading or writing the phone's files failed.
    #[error("phone storage at {path}: {source}")]
    Storage {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The phone has no saved state (it was never created on this host, or its files are gone).
    #[error("phone {0} has no saved state on this host")]
    NoState(String),
    /// A change to the phone's identity was refused; nothing changed.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// A package operation failed; nothing changed.
    #[error(transparent)]
    Package(#[from] PackageError),
    /// A file operation inside the phone failed.
    #[error("{path}: {error}")]
    File {
        /// The path inside the phone.
        path: String,
        /// What failed.
        error: FsError,
    },
    /// The persisted state is not readable.
    #[error("phone state at {path} is corrupt: {source}")]
    CorruptState {
        /// The file.
        path: PathBuf,
        /// The error.
        source: serde_json::Error,
    },
}

/// A phone's identity and properties, as the API shows them.
#[derive(Clone, Debug)]
pub struct IdentityView {
    /// Who the phone is.
    pub identity: Identity,
    /// Every system property as `getprop` shows it.
    pub properties: std::collections::BTreeMap<String, String>,
    /// `ro.*` changes waiting for the next boot.
    pub pending: std::collections::BTreeMap<String, String>,
}

/// What a phone's camera has received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CameraView {
    /// Frames since boot.
    pub frames: u64,
    /// Where the one shown came from.
    pub source: Option<media::CameraSource>,
    /// Size of the one shown.
    pub size: Option<(u32, u32)>,
}

/// A script being played into a phone.
struct Playback {
    task: tokio::task::JoinHandle<()>,
    status: PlaybackStatus,
    played: Arc<AtomicU64>,
}

/// What a playback is doing.
#[derive(Clone, Debug, PartialEq)]
pub struct PlaybackStatus {
    /// `sensors` or `gpx`.
    pub kind: String,
    /// Events in one pass.
    pub events: usize,
    /// Length of one pass at real speed.
    pub duration_ms: u64,
    /// Speed factor (2.0 plays twice as fast).
    pub speed: f64,
    /// Whether it starts over at the end.
    pub looped: bool,
    /// Events applied so far (all passes).
    pub played: u64,
    /// Whether it still runs.
    pub running: bool,
}

/// A path in a phone and, for a folder, its entries.
#[derive(Clone, Debug)]
pub struct Listing {
    /// The resolved path.
    pub path: String,
    /// What it is.
    pub meta: Metadata,
    /// A folder's entries (name and what each is).
    pub entries: Vec<(String, Metadata)>,
}

/// A running phone.
pub struct Phone {
    id: String,
    state_path: PathBuf,
    device: Mutex<VirtualPhone>,
    saved_version: AtomicU64,
    /// Held from taking a state snapshot until it is on disk, so writes never interleave and an
    /// older snapshot never lands after a newer one.
    persisting: Mutex<()>,
    /// The scripted input being played, if any.
    playback: Mutex<Option<Playback>>,
    /// A video file looping into the camera, if any: its stop flag.
    camera_feed: Mutex<Option<Arc<std::sync::atomic::AtomicBool>>>,
    /// An audio file being fed into the microphone, if any.
    mic_feed: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// The last seconds of what the phone played.
    audio_out: Mutex<audio::AudioLog>,
    /// The phone's sound for listeners (see [`Phone::subscribe_audio`]).
    audio: broadcast::Sender<Arc<cloudphone_media::AudioPacket>>,
    /// Whether the audio stream thread runs.
    audio_streaming: Mutex<bool>,
    /// Opus packets made since boot, added to the host's total.
    audio_packets: Arc<AtomicU64>,
    /// Set when the host stops this phone: a retired phone never writes its state again (a
    /// viewer still holding it cannot undo a reset).
    retired: std::sync::atomic::AtomicBool,
    /// The screen's encoders, one per stream quality in use.
    screen: video::Encoders,
    /// Clipboard, rotation and foreground changes, for viewers.
    events: broadcast::Sender<ControlEvent>,
    /// The rotation and foreground package viewers were last told of.
    told: Mutex<(u32, Option<String>)>,
    ticker: tokio::task::JoinHandle<()>,
}

impl Phone {
    /// The phone's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn device(&self) -> std::sync::MutexGuard<'_, VirtualPhone> {
        // A panic while holding the lock would be a bug in the device model; the state it
        // left is still the best we have, so keep serving it.
        self.device.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs a shell command line.
    pub fn shell(&self, line: &str) -> Result<ShellOutput, HostError> {
        self.with_device(|d| d.shell(line))
    }

    /// Delivers one viewer input.
    pub fn inject(&self, message: &ControlMessage) -> Result<(), DeviceError> {
        if self.is_retired() {
            return Err(DeviceError::InvalidInput(format!("phone {} is not running", self.id)));
        }
        let result = self.device().inject(message);
        self.publish_events();
        if let Err(e) = self.settle() {
            tracing::error!(phone = %self.id, error = %e, "could not persist phone state");
        }
        result
    }

    /// The current screen as a picture.
    pub fn screenshot(&self) -> Frame {
        self.device().screenshot()
    }

    /// Applies a batch of identity changes (all or nothing) and persists them.
    pub fn apply(&self, changes: &[Change]) -> Result<ChangeReport, HostError> {
        Ok(self.with_device(|d| d.apply(changes))??)
    }

    /// The phone's identity and properties now.
    pub fn identity(&self) -> IdentityView {
        let device = self.device();
        IdentityView {
            identity: device.identity().clone(),
            properties: device.properties().clone(),
            pending: device.pending().clone(),
        }
    }

    /// Runs a device operation, then publishes and persists what it changed.
    fn with_device<T>(&self, f: impl FnOnce(&mut VirtualPhone) -> T) -> Result<T, HostError> {
        if self.is_retired() {
            return Err(HostError::NotRunning(self.id.clone()));
        }
        let result = f(&mut self.device());
        self.settle()?;
        Ok(result)
    }

    /// Installs (or updates) an APK.
    pub fn install(&self, apk: &[u8]) -> Result<InstalledPackage, HostError> {
        Ok(self.with_device(|d| d.install(apk, false))??)
    }

    /// Removes a package with its data.
    pub fn uninstall(&self, package: &str) -> Result<(), HostError> {
        Ok(self.with_device(|d| d.uninstall(package))??)
    }

    /// Deletes an app's data.
    pub fn clear_data(&self, package: &str) -> Result<(), HostError> {
        Ok(self.with_device(|d| d.clear_data(package))??)
    }

    /// Brings an app to the front; returns the component started.
    pub fn start_app(&self, package: &str, activity: Option<&str>) -> Result<String, HostError> {
        Ok(self.with_device(|d| d.start_app(package, activity))??)
    }

    /// Stops an app.
    pub fn stop_app(&self, package: &str) -> Result<(), HostError> {
        Ok(self.with_device(|d| d.stop_app(package))??)
    }

    /// Takes motion sensor readings.
    pub fn sensors(&self, readings: &[cloudphone_protocol::control::SensorReading]) -> Result<(), DeviceError> {
        let mut device = self.device();
        readings.iter().try_for_each(|r| device.sensor(r))
    }

    /// Sets the location, as the API injects it.
    pub fn set_location(&self, fix: &cloudphone_protocol::control::LocationFix) -> Result<(), DeviceError> {
        self.device().set_location(fix, cloudphone_device::virtual_phone::hal::LocationSource::Api)
    }

    /// Sets the clipboard, as the API sets it.
    pub fn set_clipboard(&self, text: &str) -> Result<(), DeviceError> {
        self.device().set_clipboard(text, cloudphone_device::virtual_phone::hal::ClipboardOrigin::Api)
    }

    /// The sensors, location and clipboard now.
    pub fn hal(&self) -> cloudphone_device::virtual_phone::hal::Hal {
        self.device().hal().clone()
    }

    /// Moves what the phone played since the last drain into the recent-audio log.
    fn drain_audio(&self) {
        let mut log = self.audio_out.lock().unwrap_or_else(|p| p.into_inner());
        let n = log.due();
        if n == 0 {
            return;
        }
        let mut device = self.device();
        // Silence is only counted, never stored: an idle phone keeps no audio in memory.
        let samples = device.audio_pending().then(|| device.take_audio(n));
        drop(device);
        log.advance(n, samples);
    }

    /// The last `ms` milliseconds of what the phone played (mono, 16-bit, 48 kHz).
    pub fn recent_audio(&self, ms: u32) -> Vec<i16> {
        self.drain_audio();
        let log = self.audio_out.lock().unwrap_or_else(|p| p.into_inner());
        log.recent(OUTPUT_RATE as usize * ms as usize / 1000)
    }

    /// Shows a picture (PNG or JPEG) as the camera's source.
    pub fn inject_picture(&self, bytes: &[u8]) -> Result<(u32, u32), DeviceError> {
        let frame = media::decode_picture(bytes)?;
        self.stop_camera_feed();
        let size = (frame.width, frame.height);
        self.device().camera_frame(frame, media::CameraSource::Picture)?;
        Ok(size)
    }

    /// Loops an H.264 (Annex B) video file into the camera at `fps`, replacing any picture or
    /// video shown. Returns the size of its first picture.
    pub fn inject_video(self: &Arc<Self>, stream: Vec<u8>, fps: f64) -> Result<(u32, u32), DeviceError> {
        if !(1.0..=60.0).contains(&fps) {
            return Err(DeviceError::InvalidInput(format!("video at {fps} fps: give 1 to 60")));
        }
        let mut video = LoopingVideo::new(stream).map_err(|e| DeviceError::InvalidInput(format!("video: {e}")))?;
        let first = video.next_picture().map_err(|e| DeviceError::InvalidInput(format!("video: {e}")))?;
        let size = (first.width, first.height);
        self.stop_camera_feed();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        *self.camera_feed.lock().unwrap_or_else(|p| p.into_inner()) = Some(stop.clone());
        let weak = Arc::downgrade(self);
        let period = Duration::from_secs_f64(1.0 / fps);
        // Decoding is CPU work: a thread of its own, not the async runtime's.
        let spawned = std::thread::Builder::new().name(format!("camera-{}", self.id)).spawn(move || {
            let mut picture = Ok(first);
            let mut due = Instant::now();
            loop {
                let Some(phone) = weak.upgrade().filter(|p| !p.is_retired()) else { return };
                if stop.load(Ordering::Acquire) {
                    return;
                }
                match picture {
                    Ok(p) => {
                        let frame = media::CameraFrame { width: p.width, height: p.height, rgba: p.rgba };
                        let _ = phone.device().camera_frame(frame, media::CameraSource::Video);
                    }
                    Err(e) => {
                        tracing::warn!(phone = %phone.id, error = %e, "camera video stopped");
                        return;
                    }
                }
                drop(phone);
                picture = video.next_picture();
                due += period;
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
            }
        });
        spawned.map_err(|e| DeviceError::InvalidInput(format!("video: cannot start: {e}")))?;
        Ok(size)
    }

    fn stop_camera_feed(&self) {
        if let Some(stop) = self.camera_feed.lock().unwrap_or_else(|p| p.into_inner()).take() {
            stop.store(true, Ordering::Release);
        }
    }

    /// Turns an injected picture or video off.
    pub fn clear_camera(&self) {
        self.stop_camera_feed();
        self.device().clear_camera();
    }

    /// What the camera has received.
    pub fn camera(&self) -> CameraView {
        let device = self.device();
        let camera = device.camera();
        CameraView {
            frames: camera.frames,
            source: camera.source,
            size: camera.frame.as_ref().map(|f| (f.width, f.height)),
        }
    }

    /// What the microphone hears now.
    pub fn microphone(&self) -> media::Microphone {
        self.device().microphone().clone()
    }

    /// Feeds a WAV file into the microphone in real time (20 ms blocks), replacing any feed.
    pub fn inject_audio(self: &Arc<Self>, wav: &[u8], looped: bool) -> Result<media::Pcm, DeviceError> {
        let pcm = media::decode_wav(wav)?;
        if pcm.samples.is_empty() {
            return Err(DeviceError::InvalidInput("audio: the file has no samples".into()));
        }
        self.stop_audio_injection();
        let weak = Arc::downgrade(self);
        let feed = pcm.clone();
        let task = tokio::spawn(async move {
            let block = (feed.sample_rate / 50) as usize;
            let mut interval = tokio::time::interval(Duration::from_millis(20));
            loop {
                for chunk in feed.samples.chunks(block) {
                    interval.tick().await;
                    let Some(phone) = weak.upgrade().filter(|p| !p.is_retired()) else { return };
                    let _ = phone.device().mic_samples(chunk, feed.sample_rate, media::MicSource::File);
                }
                if !looped {
                    return;
                }
            }
        });
        *self.mic_feed.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
        Ok(pcm)
    }

    /// A picture from a viewer's camera: it replaces any injected picture or video.
    pub fn feed_camera(&self, frame: media::CameraFrame) -> Result<(), DeviceError> {
        self.stop_camera_feed();
        self.device().camera_frame(frame, media::CameraSource::Viewer)
    }

    /// Samples from a viewer's microphone: they replace any injected audio file.
    pub fn feed_microphone(&self, samples: &[i16], sample_rate: u32) -> Result<(), DeviceError> {
        self.stop_audio_injection();
        self.device().mic_samples(samples, sample_rate, media::MicSource::Viewer)
    }

    /// Stops feeding an audio file into the microphone.
    pub fn stop_audio_injection(&self) {
        if let Some(task) = self.mic_feed.lock().unwrap_or_else(|p| p.into_inner()).take() {
            task.abort();
        }
    }

    /// Plays a script into the phone, replacing any playback running. Must be called inside a
    /// tokio runtime.
    pub fn play(self: &Arc<Self>, kind: &str, timeline: Timeline, speed: f64, looped: bool) -> PlaybackStatus {
        self.stop_playback();
        let played = Arc::new(AtomicU64::new(0));
        let status = PlaybackStatus {
            kind: kind.to_owned(),
            events: timeline.events.len(),
            duration_ms: timeline.duration_ms(),
            speed,
            looped,
            played: 0,
            running: true,
        };
        let weak = Arc::downgrade(self);
        let counter = played.clone();
        let task = tokio::spawn(async move {
            loop {
                let start = tokio::time::Instant::now();
                for (offset, event) in &timeline.events {
                    tokio::time::sleep_until(start + Duration::from_secs_f64(*offset as f64 / 1000.0 / speed)).await;
                    let Some(phone) = weak.upgrade().filter(|p| !p.is_retired()) else { return };
                    let result = match event {
                        Scripted::Sensor(reading) => {
                            // Stamp with real time, so rates read right whatever the tick.
                            let now_ns =
                                SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
                            phone.device().sensor(&cloudphone_protocol::control::SensorReading {
                                timestamp_ns: Some(now_ns),
                                ..reading.clone()
                            })
                        }
                        Scripted::Location(fix) => phone
                            .device()
                            .set_location(fix, cloudphone_device::virtual_phone::hal::LocationSource::Route),
                    };
                    if let Err(e) = result {
                        tracing::warn!(phone = %phone.id, error = %e, "scripted input refused");
                    }
                    counter.fetch_add(1, Ordering::Relaxed);
                }
                if !looped || timeline.events.is_empty() {
                    return;
                }
            }
        });
        *self.playback.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(Playback { task, status: status.clone(), played });
        status
    }

    /// Stops the playback, if one runs.
    pub fn stop_playback(&self) {
        if let Some(p) = self.playback.lock().unwrap_or_else(|p| p.into_inner()).take() {
            p.task.abort();
        }
    }

    /// The current (or last) playback.
    pub fn playback(&self) -> Option<PlaybackStatus> {
        self.playback.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|p| PlaybackStatus {
            played: p.played.load(Ordering::Relaxed),
            running: !p.task.is_finished(),
            ..p.status.clone()
        })
    }

    /// The installed packages and the package in front.
    pub fn packages(&self) -> (Vec<InstalledPackage>, Option<String>) {
        let device = self.device();
        (device.installed().cloned().collect(), device.foreground_package())
    }

    /// The bytes of a file in the phone.
    pub fn read_file(&self, path: &str) -> Result<Vec<u8>, HostError> {
        let p = SandboxPath::absolute(path);
        self.device().storage().read(&p).map_err(|error| HostError::File { path: p.to_string(), error })
    }

    /// Writes a file in the phone (in a writable area; missing folders are made).
    pub fn write_file(&self, path: &str, data: &[u8]) -> Result<String, HostError> {
        let p = SandboxPath::absolute(path);
        let file_error = |error| HostError::File { path: p.to_string(), error };
        if !p.writable() {
            return Err(file_error(FsError::ReadOnly));
        }
        let mut device = self.device();
        let storage = device.storage();
        storage.create_dir_all(&p.parent()).map_err(file_error)?;
        storage.write(&p, data).map_err(file_error)?;
        Ok(p.to_string())
    }

    /// What a path is, and for a folder its entries with theirs.
    pub fn list_files(&self, path: &str) -> Result<Listing, HostError> {
        let p = SandboxPath::absolute(path);
        let file_error = |error| HostError::File { path: p.to_string(), error };
        let mut device = self.device();
        let storage = device.storage();
        let meta = storage.metadata(&p).map_err(file_error)?;
        let mut entries = Vec::new();
        if meta.is_dir {
            for name in storage.list(&p).map_err(file_error)? {
                if let Ok(m) = storage.metadata(&p.join(&name)) {
                    entries.push((name, m));
                }
            }
        }
        Ok(Listing { path: p.to_string(), meta, entries })
    }

    /// Removes a file, or a folder (with its contents when `recursive`).
    pub fn remove_file(&self, path: &str, recursive: bool) -> Result<(), HostError> {
        let p = SandboxPath::absolute(path);
        let file_error = |error| HostError::File { path: p.to_string(), error };
        if !p.writable() {
            return Err(file_error(FsError::ReadOnly));
        }
        self.device().storage().remove(&p, recursive).map_err(file_error)
    }

    /// Subscribes to the phone's screen at `quality`, shared with every viewer of that quality.
    /// Call [`Phone::request_keyframe`] once ready to receive, so the stream starts with a
    /// picture the viewer can decode. `None` when no encoder can be started.
    pub fn subscribe_video(&self, quality: StreamQuality) -> Option<broadcast::Receiver<Arc<EncodedFrame>>> {
        self.screen.subscribe(quality)
    }

    /// The screen's size now, pixels (it turns with the phone).
    pub fn screen_size(&self) -> (u32, u32) {
        self.device().screen_size()
    }

    /// The stream qualities being encoded now.
    pub fn video_qualities(&self) -> Vec<StreamQuality> {
        self.screen.qualities()
    }

    /// A new receiver of the phone's events: clipboard changes made on the phone, rotation,
    /// the app in front. Sent as they happen (within a clock tick).
    pub fn subscribe_events(&self) -> broadcast::Receiver<ControlEvent> {
        self.events.subscribe()
    }

    /// Tells viewers what changed since they were last told.
    fn publish_events(&self) {
        let mut news = Vec::new();
        {
            let mut device = self.device();
            news.extend(device.take_clipboard_changes().into_iter().map(|c| ControlEvent::Clipboard { text: c.text }));
            news.extend(
                device
                    .take_app_messages()
                    .into_iter()
                    .map(|(package, data)| ControlEvent::AppMessage { package, data }),
            );
            let mut told = self.told.lock().unwrap_or_else(|p| p.into_inner());
            let rotation = device.rotation();
            if rotation != told.0 {
                let (width, height) = device.screen_size();
                news.push(ControlEvent::Rotation { rotation, width, height });
                told.0 = rotation;
            }
            let foreground = device.foreground_package();
            if foreground != told.1 {
                if let Some(package) = &foreground {
                    news.push(ControlEvent::Foreground { package: package.clone() });
                }
                told.1 = foreground;
            }
        }
        for event in news {
            // No viewer is no error: the news is simply not needed.
            let _ = self.events.send(event);
        }
    }

    /// Asks the encoder for a keyframe of the current screen now. The picture is drawn afresh:
    /// an unwatched phone's encoder keeps no picture (idle phones hold no pixel buffers).
    pub fn request_keyframe(&self, quality: StreamQuality) {
        let frame = self.device().screenshot();
        self.screen.keyframe(quality, Arc::new(frame));
    }

    fn is_retired(&self) -> bool {
        self.retired.load(Ordering::Acquire)
    }

    /// Publishes a changed picture and persists changed state.
    fn settle(&self) -> Result<(), HostError> {
        let _persisting = self.persisting.lock().unwrap_or_else(|p| p.into_inner());
        if self.is_retired() {
            return Ok(());
        }
        let (frame, state) = {
            let mut device = self.device();
            let frame = device.take_frame();
            let version = device.state_version();
            let state =
                (version != self.saved_version.load(Ordering::Acquire)).then(|| (version, device.persistent_state()));
            (frame, state)
        };
        if let Some(frame) = frame {
            self.screen.publish(Arc::new(frame));
        }
        if let Some((version, state)) = state {
            write_atomically(&self.state_path, &serde_json::to_vec_pretty(&state).expect("JSON value serialises"))?;
            self.saved_version.store(version, Ordering::Release);
        }
        Ok(())
    }

    fn tick(&self) {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
        self.device().tick(now);
        self.drain_audio();
        self.publish_events();
        if let Err(e) = self.settle() {
            tracing::error!(phone = %self.id, error = %e, "could not persist phone state");
        }
    }
}

impl Drop for Phone {
    fn drop(&mut self) {
        self.ticker.abort();
        self.stop_playback();
        self.stop_audio_injection();
        self.stop_camera_feed();
        self.screen.stop();
    }
}

/// Writes a file so a crash leaves either the old or the new content, never a torn one.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), HostError> {
    let storage = |source| HostError::Storage { path: path.to_owned(), source };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(storage)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(storage)?;
    std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(storage)?;
    std::fs::rename(&tmp, path).map_err(storage)
}

/// The phones running on this machine.
pub struct DeviceHost {
    dir: PathBuf,
    phones: Mutex<HashMap<String, Arc<Phone>>>,
    frames_encoded: Arc<AtomicU64>,
    audio_packets: Arc<AtomicU64>,
}

/// Counters of a host, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostStats {
    /// Phones running now.
    pub running: usize,
    /// Pictures encoded since the host started.
    pub frames_encoded: u64,
    /// Opus packets (20 ms of sound each) encoded since the host started.
    pub audio_packets: u64,
    /// Screen encoders running now (one per phone and stream quality in use).
    pub encoders: usize,
}

impl DeviceHost {
    /// A host keeping phone state under `dir/phones/<id>/`.
    pub fn new(dir: impl Into<PathBuf>) -> DeviceHost {
        DeviceHost {
            dir: dir.into(),
            phones: Mutex::new(HashMap::new()),
            frames_encoded: Arc::default(),
            audio_packets: Arc::default(),
        }
    }

    /// Counters for metrics.
    pub fn stats(&self) -> HostStats {
        let phones = self.phones();
        HostStats {
            running: phones.len(),
            encoders: phones.values().map(|p| p.video_qualities().len()).sum(),
            frames_encoded: self.frames_encoded.load(Ordering::Relaxed),
            audio_packets: self.audio_packets.load(Ordering::Relaxed),
        }
    }

    fn phone_dir(&self, id: &str) -> PathBuf {
        self.dir.join("phones").join(id)
    }

    fn phones(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Phone>>> {
        self.phones.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn state_path(&self, id: &str) -> PathBuf {
        self.phone_dir(id).join("state.json")
    }

    fn load(&self, id: &str) -> Result<PhoneState, HostError> {
        let path = self.state_path(id);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| HostError::CorruptState { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(HostError::NoState(id.to_owned())),
            Err(source) => Err(HostError::Storage { path, source }),
        }
    }

    fn save(&self, id: &str, state: &PhoneState) -> Result<(), HostError> {
        write_atomically(&self.state_path(id), &serde_json::to_vec_pretty(state).expect("PhoneState serialises"))
    }

    /// Creates a phone with `state` (stored first) and boots it.
    pub fn create(&self, id: &str, state: &PhoneState) -> Result<Arc<Phone>, HostError> {
        self.save(id, state)?;
        self.boot(id)
    }

    /// Boots the phone `id` from its saved state. Must be called inside a tokio runtime (the
    /// clock ticker is a task). Booting a running phone returns it.
    pub fn boot(&self, id: &str) -> Result<Arc<Phone>, HostError> {
        if let Some(phone) = self.phones().get(id) {
            return Ok(phone.clone());
        }
        let state_path = self.state_path(id);
        let fs_dir = self.phone_dir(id).join("fs");
        let storage = disk::DiskStorage::new(&fs_dir).map_err(|source| HostError::Storage { path: fs_dir, source })?;
        let device = VirtualPhone::boot_with(self.load(id)?, Box::new(storage), rand::random());
        let phone = Arc::new_cyclic(|weak: &std::sync::Weak<Phone>| {
            let weak = weak.clone();
            let ticker = tokio::spawn(async move {
                let mut interval = tokio::time::interval(TICK);
                interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                loop {
                    interval.tick().await;
                    let Some(phone) = weak.upgrade() else { return };
                    if phone.is_retired() {
                        return;
                    }
                    phone.tick();
                }
            });
            Phone {
                id: id.to_owned(),
                state_path,
                device: Mutex::new(device),
                saved_version: AtomicU64::new(u64::MAX),
                persisting: Mutex::new(()),
                playback: Mutex::new(None),
                mic_feed: Mutex::new(None),
                camera_feed: Mutex::new(None),
                audio_out: Mutex::new(audio::AudioLog::new()),
                audio: broadcast::channel(audio::AUDIO_BUFFER).0,
                audio_streaming: Mutex::new(false),
                audio_packets: self.audio_packets.clone(),
                retired: std::sync::atomic::AtomicBool::new(false),
                screen: video::Encoders::new(id, self.frames_encoded.clone()),
                events: broadcast::channel(EVENT_BUFFER).0,
                told: Mutex::new((0, None)),
                ticker,
            }
        });
        // The first settle writes the state back, with any ro.* changes this boot applied.
        phone.tick();
        self.phones().insert(id.to_owned(), phone.clone());
        Ok(phone)
    }

    /// A running phone.
    pub fn phone(&self, id: &str) -> Result<Arc<Phone>, HostError> {
        self.phones().get(id).cloned().ok_or_else(|| HostError::NotRunning(id.to_owned()))
    }

    /// Stops a phone; its state stays on disk. Stopping a stopped phone does nothing.
    pub fn stop(&self, id: &str) -> Result<(), HostError> {
        let Some(phone) = self.phones().remove(id) else { return Ok(()) };
        let result = phone.settle();
        // From here on nothing of this instance writes: a later boot reads what is on disk.
        let _persisting = phone.persisting.lock().unwrap_or_else(|p| p.into_inner());
        phone.retired.store(true, Ordering::Release);
        result
    }

    /// Reboots a phone: `ro.*` changes made while it ran take effect.
    pub fn restart(&self, id: &str) -> Result<Arc<Phone>, HostError> {
        self.stop(id)?;
        self.boot(id)
    }

    /// Transforms the saved state of a phone while it is down, then boots it. The phone keeps
    /// running unchanged when the transformation is refused.
    fn rebuild(
        &self,
        id: &str,
        wipe_files: bool,
        transform: impl FnOnce(&mut PhoneState) -> Result<(), HostError>,
    ) -> Result<Arc<Phone>, HostError> {
        if let Some(phone) = self.phones().get(id) {
            phone.settle()?;
        }
        let mut state = self.load(id)?;
        transform(&mut state)?;
        self.stop(id)?;
        if wipe_files {
            let fs_dir = self.phone_dir(id).join("fs");
            match std::fs::remove_dir_all(&fs_dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(HostError::Storage { path: fs_dir, source }),
            }
        }
        self.save(id, &state)?;
        self.boot(id)
    }

    /// Factory reset: user data is wiped, the identity stays (with a new android_id).
    pub fn reset(&self, id: &str) -> Result<Arc<Phone>, HostError> {
        self.rebuild(id, true, |state| {
            state.factory_reset(&mut rand::rng());
            Ok(())
        })
    }

    /// "One-key new device": a fresh identity from the catalogue.
    pub fn renew(&self, id: &str, request: &NewDevice) -> Result<Arc<Phone>, HostError> {
        self.rebuild(id, PhoneState::wipes_files(Some(request)), |state| Ok(state.renew(request, &mut rand::rng())?))
    }

    /// Stops a phone if it runs and deletes everything it stored.
    pub fn destroy(&self, id: &str) -> Result<(), HostError> {
        if let Some(phone) = self.phones().remove(id) {
            let _persisting = phone.persisting.lock().unwrap_or_else(|p| p.into_inner());
            phone.retired.store(true, Ordering::Release);
        }
        let dir = self.phone_dir(id);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(HostError::Storage { path: dir, source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloudphone_media::{EncoderSettings, VideoEncoder};

    #[tokio::test]
    async fn state_survives_stop_and_a_new_host() {
        let dir = tempfile::tempdir().unwrap();
        let host = DeviceHost::new(dir.path());
        let phone = host.create("cp-a", &PhoneState::for_seed("cp-a")).unwrap();
        let serial = phone.shell("getprop ro.serialno").unwrap().stdout;
        phone.shell("setprop persist.sys.locale fr-FR").unwrap();
        host.stop("cp-a").unwrap();
        assert!(matches!(host.phone("cp-a"), Err(HostError::NotRunning(_))));

        let host = DeviceHost::new(dir.path());
        let phone = host.boot("cp-a").unwrap();
        assert_eq!(phone.shell("getprop ro.serialno").unwrap().stdout, serial);
        assert_eq!(phone.shell("getprop persist.sys.locale").unwrap().stdout, "fr-FR\n");
        host.destroy("cp-a").unwrap();
        assert!(!dir.path().join("phones/cp-a").exists());
        assert!(matches!(host.boot("cp-a"), Err(HostError::NoState(_))), "no silent new identity");
    }

    #[tokio::test]
    async fn lifecycle_restart_reset_renew() {
        let dir = tempfile::tempdir().unwrap();
        let host = DeviceHost::new(dir.path());
        let phone = host.create("cp-l", &PhoneState::for_seed("cp-l")).unwrap();
        let report = phone.apply(&[Change::Property("ro.product.model".into(), "Pixel 7 Pro".into())]).unwrap();
        assert_eq!(report.pending_restart, vec!["ro.product.model"]);
        phone.shell("setprop persist.sys.locale de-DE").unwrap();
        let phone = host.restart("cp-l").unwrap();
        assert_eq!(phone.shell("getprop ro.product.model").unwrap().stdout, "Pixel 7 Pro\n");
        let android_id = phone.shell("settings get secure android_id").unwrap().stdout;

        let phone = host.reset("cp-l").unwrap();
        assert_eq!(phone.shell("getprop persist.sys.locale").unwrap().stdout, "en-US\n", "user data wiped");
        assert_eq!(phone.shell("getprop ro.product.model").unwrap().stdout, "Pixel 7 Pro\n", "identity kept");
        assert_ne!(phone.shell("settings get secure android_id").unwrap().stdout, android_id);

        let imei = phone.identity().identity.modem.imei;
        let bad = NewDevice { model: Some("Nokia 3310".into()), ..Default::default() };
        assert!(matches!(host.renew("cp-l", &bad), Err(HostError::Identity(_))));
        assert_eq!(host.phone("cp-l").unwrap().identity().identity.modem.imei, imei, "still running, unchanged");
        let phone = host.renew("cp-l", &NewDevice { model: Some("SM-S911B".into()), ..Default::default() }).unwrap();
        assert_eq!(phone.shell("getprop ro.product.model").unwrap().stdout, "SM-S911B\n");
        assert_ne!(phone.identity().identity.modem.imei, imei);

        host.stop("cp-l").unwrap();
        host.stop("cp-l").unwrap();
        assert!(host.phone("cp-l").is_err());
        assert_eq!(host.boot("cp-l").unwrap().shell("getprop ro.product.model").unwrap().stdout, "SM-S911B\n");
    }

    #[tokio::test]
    async fn concurrent_changes_persist_the_newest_state() {
        let dir = tempfile::tempdir().unwrap();
        let host = Arc::new(DeviceHost::new(dir.path()));
        let phone = host.create("cp-race", &PhoneState::for_seed("cp-race")).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let phone = phone.clone();
                std::thread::spawn(move || {
                    for i in 0..50 {
                        phone.shell(&format!("setprop persist.t{t} {i}")).expect("no torn writes");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        host.stop("cp-race").unwrap();
        let phone = host.boot("cp-race").unwrap();
        for t in 0..4 {
            assert_eq!(phone.shell(&format!("getprop persist.t{t}")).unwrap().stdout, "49\n");
        }
    }

    #[tokio::test]
    async fn a_retired_phone_cannot_undo_a_reset() {
        let dir = tempfile::tempdir().unwrap();
        let host = DeviceHost::new(dir.path());
        let old = host.create("cp-old", &PhoneState::for_seed("cp-old")).unwrap();
        old.shell("setprop persist.sys.locale de-DE").unwrap();
        let new = host.reset("cp-old").unwrap();
        // Someone (a viewer session) still holds the old instance and acts on it.
        assert!(matches!(old.shell("setprop persist.sys.locale fr-FR"), Err(HostError::NotRunning(_))));
        assert!(old.inject(&ControlMessage::Text { text: "x".into() }).is_err());
        assert_eq!(new.shell("getprop persist.sys.locale").unwrap().stdout, "en-US\n");
        host.stop("cp-old").unwrap();
        assert_eq!(host.boot("cp-old").unwrap().shell("getprop persist.sys.locale").unwrap().stdout, "en-US\n");
    }

    #[tokio::test]
    async fn playback_feeds_the_phone_at_scaled_speed() {
        use cloudphone_device::playback::{parse_gpx, parse_sensor_csv};
        let dir = tempfile::tempdir().unwrap();
        let host = DeviceHost::new(dir.path());
        let phone = host.create("cp-play", &PhoneState::for_seed("cp-play")).unwrap();
        let csv: String = (0..20).map(|i| format!("{},accelerometer,0,{}.0,0\n", i * 100, i)).collect();
        // 1.9 s of readings at 10x speed: done in about 0.2 s.
        let status = phone.play("sensors", parse_sensor_csv(&csv).unwrap(), 10.0, false);
        assert_eq!((status.events, status.duration_ms), (20, 1900));
        tokio::time::sleep(Duration::from_millis(600)).await;
        let now = phone.playback().unwrap();
        assert!(!now.running && now.played == 20, "{now:?}");
        let hal = phone.hal();
        let accel = &hal.sensors[&cloudphone_protocol::control::SensorKind::Accelerometer];
        assert_eq!((accel.count, accel.values[1]), (20, 19.0));

        let gpx = r#"<gpx><trkseg><trkpt lat="1" lon="1"><time>2024-01-01T00:00:00Z</time></trkpt><trkpt lat="1.001" lon="1"><time>2024-01-01T00:01:00Z</time></trkpt></trkseg></gpx>"#;
        phone.play("gpx", parse_gpx(gpx, 1.4).unwrap(), 1.0, true);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let fix = phone.hal().location.unwrap();
        assert_eq!((fix.fix.latitude, fix.source), (1.0, cloudphone_device::virtual_phone::hal::LocationSource::Route));
        assert!(phone.playback().unwrap().running, "a looped route keeps running");
        phone.stop_playback();
        assert!(phone.playback().is_none());
    }

    #[tokio::test]
    async fn picture_microphone_feed_and_recorded_output() {
        let dir = tempfile::tempdir().unwrap();
        let host = DeviceHost::new(dir.path());
        let phone = host.create("cp-media", &PhoneState::for_seed("cp-media")).unwrap();
        let mut png_bytes = Vec::new();
        {
            let mut e = png::Encoder::new(&mut png_bytes, 8, 6);
            e.set_color(png::ColorType::Rgb);
            e.write_header().unwrap().write_image_data(&[0, 200, 0].repeat(48)).unwrap();
        }
        assert_eq!(phone.inject_picture(&png_bytes).unwrap(), (8, 6));
        assert_eq!(
            phone.camera(),
            CameraView { frames: 1, source: Some(media::CameraSource::Picture), size: Some((8, 6)) }
        );
        assert!(phone.inject_picture(b"nope").is_err());
        phone.clear_camera();
        assert_eq!(phone.camera().size, None);

        // A looping video: frames keep coming, from the video source.
        let mut encoder = VideoEncoder::new(EncoderSettings::default());
        let mut stream = Vec::new();
        for (i, shade) in [30u8, 220].into_iter().enumerate() {
            stream.extend(encoder.encode(&[shade, 0, 0, 255].repeat(32 * 24), 32, 24, i as u64).unwrap().data);
        }
        assert_eq!(phone.inject_video(stream, 30.0).unwrap(), (32, 24));
        tokio::time::sleep(Duration::from_millis(300)).await;
        let CameraView { frames, source, size } = phone.camera();
        assert!(frames >= 5, "{frames} frames in 0.3 s at 30 fps");
        assert_eq!((source, size), (Some(media::CameraSource::Video), Some((32, 24))));
        assert!(phone.inject_video(b"garbage".to_vec(), 30.0).is_err());
        phone.clear_camera();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let stopped = phone.camera().frames;
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(phone.camera().frames, stopped, "no frames after clearing");

        // 0.2 s of a loud tone into the microphone, in real time.
        let tone: Vec<i16> = (0..3200).map(|i| ((i as f32 * 0.3).sin() * 20_000.0) as i16).collect();
        let pcm = phone.inject_audio(&media::encode_wav(16_000, &tone), false).unwrap();
        assert_eq!(pcm.samples.len(), 3200);
        tokio::time::sleep(Duration::from_millis(400)).await;
        let mic = phone.microphone();
        assert_eq!((mic.samples, mic.sample_rate, mic.source), (3200, 16_000, Some(media::MicSource::File)));
        assert!(mic.level_db > -10.0);

        // A tap clicks; the recording of the last second has it.
        phone.shell("input tap 10 600").unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;
        let recent = phone.recent_audio(1000);
        // The phone is about 0.7 s old: the recording has that much, at 48 kHz.
        assert!((20_000..=48_000).contains(&recent.len()), "{} samples", recent.len());
        assert!(recent.iter().any(|s| s.unsigned_abs() > 1000), "the click is in the recording");
    }

    #[tokio::test]
    async fn listeners_hear_sound_as_opus_and_silence_costs_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let host = DeviceHost::new(dir.path());
        let phone = host.create("cp-au", &PhoneState::for_seed("cp-au")).unwrap();
        let mut listener = phone.subscribe_audio();
        // A quiet phone sends nothing.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(listener.try_recv().is_err(), "silence is not sent");

        // A tap clicks (10 ms): one or two frames of sound.
        phone.shell("input tap 10 600").unwrap();
        let first = tokio::time::timeout(Duration::from_secs(2), listener.recv()).await.unwrap().unwrap();
        assert_eq!(first.position % cloudphone_media::audio::FRAME_SAMPLES as u64, 0);
        let mut decoder = cloudphone_media::AudioDecoder::new().unwrap();
        let loud = decoder.decode(&first.data).unwrap().iter().any(|s| s.unsigned_abs() > 1000);
        let mut packets = vec![first];
        while let Ok(Ok(p)) = tokio::time::timeout(Duration::from_millis(150), listener.recv()).await {
            packets.push(p);
        }
        assert!((1..=3).contains(&packets.len()), "{} packets for a click", packets.len());
        let loud = loud
            || packets[1..].iter().any(|p| decoder.decode(&p.data).unwrap().iter().any(|s| s.unsigned_abs() > 1000));
        assert!(loud, "the click is audible after decoding");
        assert!(host.stats().audio_packets >= packets.len() as u64);

        // The last listener gone, the stream thread ends; a new listener starts it again.
        drop(listener);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!*phone.audio_streaming.lock().unwrap());
        let mut again = phone.subscribe_audio();
        phone.shell("input tap 10 600").unwrap();
        tokio::time::timeout(Duration::from_secs(2), again.recv()).await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn corrupt_state_is_reported_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("phones/cp-b/state.json");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"{broken").unwrap();
        let host = DeviceHost::new(dir.path());
        assert!(matches!(host.boot("cp-b"), Err(HostError::CorruptState { .. })));
        assert_eq!(std::fs::read(&path).unwrap(), b"{broken");
    }

    #[tokio::test]
    async fn viewers_get_a_keyframe_then_changes() {
        let dir = tempfile::tempdir().unwrap();
        let host = DeviceHost::new(dir.path());
        let phone = host.create("cp-c", &PhoneState::for_seed("cp-c")).unwrap();
        let full = StreamQuality::default();
        let mut video = phone.subscribe_video(full).unwrap();
        phone.request_keyframe(full);
        let first = tokio::time::timeout(Duration::from_secs(10), video.recv()).await.unwrap().unwrap();
        assert!(first.keyframe);
        assert_eq!((first.width, first.height), (720, 1280));
        phone.shell("input tap 90 240").unwrap();
        let next = tokio::time::timeout(Duration::from_secs(10), video.recv()).await.unwrap().unwrap();
        assert!(next.timestamp_us > first.timestamp_us, "the change arrives as a new picture");
    }

    #[tokio::test]
    async fn one_encoder_per_quality_shared_scaled_paced_and_ended_when_unwatched() {
        let dir = tempfile::tempdir().unwrap();
        let host = DeviceHost::new(dir.path());
        let phone = host.create("cp-q", &PhoneState::for_seed("cp-q")).unwrap();
        let full = StreamQuality::default();
        let small = full.with_ids(Some(11), Some(6), Some(14)).unwrap(); // 360x640, 5 fps, 400 kbit/s
        let mut a = phone.subscribe_video(full).unwrap();
        let mut b = phone.subscribe_video(full).unwrap();
        let mut c = phone.subscribe_video(small).unwrap();
        assert_eq!(phone.video_qualities().len(), 2, "two viewers of one quality share its encoder");
        let recv = |rx: &mut broadcast::Receiver<Arc<EncodedFrame>>| {
            let mut rx = rx.resubscribe();
            async move { tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap().unwrap() }
        };
        let (next_a, next_b) = (recv(&mut a), recv(&mut b));
        phone.request_keyframe(full);
        let (fa, fb) = (next_a.await, next_b.await);
        assert!(Arc::ptr_eq(&fa, &fb), "both viewers get the very same encoded picture");
        let next_c = recv(&mut c);
        phone.request_keyframe(small);
        let fc = next_c.await;
        assert_eq!((fc.width, fc.height, fc.keyframe), (360, 640, true), "scaled to the quality");

        // Pacing: 20 changes in a burst make at most a handful of 5 fps pictures, the last of
        // them showing the last change.
        phone.shell("am start -n com.cloudphone.notes/.MainActivity").unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        while c.try_recv().is_ok() {}
        let before = host.stats().frames_encoded;
        let burst = Instant::now();
        for _ in 0..20 {
            phone.shell("input text x").unwrap();
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(600)).await;
        let most = (burst.elapsed().as_secs_f64() * 5.0).ceil() as usize + 1;
        let mut small_pictures = 0;
        while c.try_recv().is_ok() {
            small_pictures += 1;
        }
        assert!(
            (1..=most).contains(&small_pictures) && small_pictures < 20,
            "{small_pictures} pictures at 5 fps for 20 changes (at most {most})"
        );
        assert!(host.stats().frames_encoded > before);

        // Unwatched encoders end at the next picture.
        drop((a, b));
        phone.shell("input text y").unwrap();
        assert_eq!(phone.video_qualities(), vec![small]);
    }
}
