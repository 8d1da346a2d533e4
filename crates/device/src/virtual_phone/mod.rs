//! The virtual phone: an Android-like device modelled in Rust.
//!
//! It has Android's system properties, a launcher and built-in apps drawn in software
//! ([`ui`]), multi-touch, keys and text input, and a shell answering the common Android
//! commands with Android's output formats ([`shell`]). It is a pure state machine: callers
//! feed it inputs and time and take pictures out.

mod files;
pub mod hal;
pub mod media;
mod messages;
mod packages;
mod shell;
mod state;
mod ui;

use std::collections::{BTreeMap, HashMap};

use cloudphone_protocol::ControlMessage;
use cloudphone_protocol::control::{KeyAction, TouchAction};

use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::identity::{Change, Identity, IdentityError};
use crate::keycode::KeyCode;
use crate::storage::{MemStorage, SandboxPath, Storage};
use crate::{Device, DeviceError, Frame, ShellOutput};

pub use cloudphone_protocol::api::ChangeReport;
pub use packages::{InstalledPackage, PackageError, SYSTEM_PACKAGES, SystemPackage};
pub use state::{DEFAULT_COUNTRY, DEFAULT_MODEL, NewDevice, PhoneState, STATE_FORMAT};
pub use ui::App;

/// How far (pixels) a pointer may move between down and up and still count as a tap.
const TAP_SLOP: f32 = 30.0;
/// How many touch points the Touch app keeps on screen.
const MAX_TRAIL: usize = 400;
/// How long a still pointer must stay down to be a long press (Android's default timeout).
pub const LONG_PRESS_MS: u64 = 500;
/// How many apps the recents screen lists.
const MAX_RECENTS: usize = 8;
/// The media volume steps (Android's `STREAM_MUSIC` has 15).
pub const MAX_VOLUME: u32 = 15;
/// How long the volume overlay stays after a volume key.
const VOLUME_OVERLAY_MS: u64 = 2000;

/// The label a package shows (its package name when it has none).
fn label_of(package: &InstalledPackage) -> &str {
    package.info.label.as_deref().unwrap_or(&package.info.package)
}

/// Properties a running Android reports that no identity carries.
fn runtime_properties(density: u32) -> BTreeMap<String, String> {
    [
        ("sys.boot_completed", "1".to_owned()),
        ("dev.bootcomplete", "1".to_owned()),
        ("init.svc.adbd", "running".to_owned()),
        ("service.adb.root", "0".to_owned()),
        ("ro.sf.lcd_density", density.to_string()),
        ("ro.debuggable", "0".to_owned()),
        ("ro.secure", "1".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Where a pointer went down and where it is.
#[derive(Clone, Copy, Debug)]
struct Pointer {
    start: (f32, f32),
    at: (f32, f32),
    down_ms: u64,
}

/// Which screen is in front.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Screen {
    /// The home screen with the app icons.
    Launcher,
    /// A built-in app in the foreground.
    Builtin(App),
    /// An installed app's activity in the foreground (by package).
    Installed(String),
    /// The recent apps (APP_SWITCH).
    Recents,
}

/// Folders every Android has.
const BASE_DIRS: &[&str] = &[
    "/storage/emulated/0/Download",
    "/storage/emulated/0/DCIM",
    "/storage/emulated/0/Pictures",
    "/storage/emulated/0/Music",
    "/storage/emulated/0/Movies",
    "/storage/emulated/0/Documents",
    "/data/local/tmp",
    "/data/data",
    "/data/app",
    "/data/system",
];

/// A virtual Android phone.
pub struct VirtualPhone {
    width: u32,
    height: u32,
    density: u32,
    /// What persists.
    state: PhoneState,
    /// Every system property as `getprop` shows it now.
    properties: BTreeMap<String, String>,
    /// The phone's files.
    storage: Box<dyn Storage>,
    /// Randomness for ids the phone makes (install tokens, SSAIDs).
    rng: StdRng,
    /// Decoded launcher icons by package (`None`: the APK has no bitmap icon).
    icons: HashMap<String, Option<ui::Icon>>,
    /// The activity shown for an installed app.
    foreground_activity: Option<String>,
    /// The phone's clock, unix milliseconds.
    clock_ms: u64,
    /// Screen rotation in quarter turns.
    rotation: u32,
    /// How far the current screen's content is scrolled up, pixels.
    scroll: f32,
    /// Whether the display is on (POWER toggles it).
    screen_on: bool,
    /// Apps opened, most recent first.
    recents: Vec<ui::Launch>,
    /// Until when the volume overlay shows, unix milliseconds.
    volume_overlay_until: u64,
    /// Sensors, location, clipboard.
    hal: hal::Hal,
    /// What the camera received.
    camera: media::Camera,
    /// What the microphone hears.
    mic: media::Microphone,
    /// What the phone plays.
    speaker: media::Speaker,
    /// Messages between viewers and apps.
    messages: messages::AppMessages,
    /// A HAL value shown on screen changed; redrawn at the next tick, not at the sensor rate.
    hal_redraw: bool,
    screen: Screen,
    pointers: BTreeMap<u32, Pointer>,
    trail: Vec<(f32, f32)>,
    clock: String,
    dirty: bool,
    seq: u64,
    state_version: u64,
}

impl VirtualPhone {
    /// Default screen width.
    pub const DEFAULT_WIDTH: u32 = 720;
    /// Default screen height.
    pub const DEFAULT_HEIGHT: u32 = 1280;
    /// Default density (dpi).
    pub const DEFAULT_DENSITY: u32 = 320;

    /// Boots a phone with its files in memory (tests, examples).
    pub fn boot(state: PhoneState) -> VirtualPhone {
        let seed = state.identity.android_id.bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64));
        VirtualPhone::boot_with(state, Box::new(MemStorage::new()), seed)
    }

    /// Boots a phone from its persisted state and files; `ro.*` changes made while it ran take
    /// effect now. `seed` seeds the ids the phone makes.
    pub fn boot_with(mut state: PhoneState, mut storage: Box<dyn Storage>, seed: u64) -> VirtualPhone {
        let applied_pending = !state.pending.is_empty();
        let pending = std::mem::take(&mut state.pending);
        state.identity.system.extend(pending);
        for dir in BASE_DIRS {
            // A folder that cannot be made shows up as an error when used; booting goes on.
            let _ = storage.create_dir_all(&SandboxPath::absolute(dir));
        }
        let mut phone = VirtualPhone {
            width: Self::DEFAULT_WIDTH,
            height: Self::DEFAULT_HEIGHT,
            density: Self::DEFAULT_DENSITY,
            state,
            properties: BTreeMap::new(),
            storage,
            rng: StdRng::seed_from_u64(seed),
            icons: HashMap::new(),
            foreground_activity: None,
            clock_ms: 0,
            rotation: 0,
            scroll: 0.0,
            screen_on: true,
            recents: Vec::new(),
            volume_overlay_until: 0,
            hal: hal::Hal::default(),
            camera: media::Camera::default(),
            mic: media::Microphone::default(),
            speaker: media::Speaker::default(),
            messages: messages::AppMessages::default(),
            hal_redraw: false,
            screen: Screen::Launcher,
            pointers: BTreeMap::new(),
            trail: Vec::new(),
            clock: "00:00".into(),
            dirty: true,
            seq: 0,
            state_version: u64::from(applied_pending),
        };
        phone.rebuild_properties();
        // The rotation is a persisted setting, as on Android.
        if let Some(turns) = phone.setting("system", "user_rotation").and_then(|v| v.parse().ok()) {
            let _ = phone.set_rotation(turns);
        }
        phone
    }

    /// Marks persistent state changed and the screen for redrawing.
    fn changed(&mut self) {
        self.state_version += 1;
        self.dirty = true;
    }

    /// The property view of a fresh boot: runtime, identity, modem, then `persist.*`.
    fn rebuild_properties(&mut self) {
        let identity = &self.state.identity;
        let mut properties = runtime_properties(self.density);
        properties.extend(identity.system.clone());
        properties.extend(identity.modem_properties());
        properties.insert("persist.sys.locale".into(), identity.factory_locale.clone());
        properties.insert("persist.sys.timezone".into(), identity.factory_timezone.clone());
        properties.extend(self.state.persist.clone());
        self.properties = properties;
    }

    /// A factory-new default phone whose ids derive from `seed` (the instance id).
    pub fn factory(seed: &str) -> VirtualPhone {
        VirtualPhone::boot(PhoneState::for_seed(seed))
    }

    /// The state to persist.
    pub fn state(&self) -> PhoneState {
        self.state.clone()
    }

    /// Who the phone is now.
    pub fn identity(&self) -> &Identity {
        &self.state.identity
    }

    /// `ro.*` changes waiting for the next boot.
    pub fn pending(&self) -> &BTreeMap<String, String> {
        &self.state.pending
    }

    /// Applies a batch of changes: all are validated first, and a refused batch changes nothing.
    pub fn apply(&mut self, changes: &[Change]) -> Result<ChangeReport, IdentityError> {
        for change in changes {
            change.validate(&self.state.identity)?;
        }
        let mut report = ChangeReport::default();
        for change in changes {
            let key = change.key();
            if change.needs_restart() {
                report.pending_restart.push(key);
            } else {
                report.applied.push(key);
            }
            let identity = &mut self.state.identity;
            match change.clone() {
                Change::Property(k, v) if k.starts_with("ro.") => {
                    self.state.pending.insert(k, v);
                }
                Change::Property(k, v) => {
                    if k.starts_with("persist.") {
                        self.state.persist.insert(k.clone(), v.clone());
                    }
                    self.properties.insert(k, v);
                    self.refresh_clock();
                }
                Change::Modem(k, v) => {
                    let m = &mut identity.modem;
                    match k.as_str() {
                        "IMEI" => m.imei = v,
                        "ICCID" => m.iccid = v,
                        "IMSI" => m.imsi = v,
                        "MCCMNC" => m.mccmnc = v,
                        "OpName" => m.operator = v,
                        "PhoneNum" => m.phone_number = v,
                        _ => unreachable!("validated above"),
                    }
                    self.properties.extend(identity.modem_properties());
                }
                Change::AndroidId(v) => identity.android_id = v,
                Change::Ssaid(package, v) => {
                    identity.ssaid.insert(package, v);
                }
                Change::BluetoothMac(v) => identity.bluetooth_mac = v,
                Change::Wifi(list) => identity.wifi = list,
            }
        }
        self.state_version += 1;
        self.dirty = true;
        Ok(report)
    }

    /// A value from `settings` (`system`, `secure`, `global`), as `settings get` reports it.
    pub fn setting(&self, namespace: &str, key: &str) -> Option<String> {
        let identity = &self.state.identity;
        match (namespace, key) {
            ("secure", "android_id") => Some(identity.android_id.clone()),
            ("secure", "bluetooth_address") => Some(identity.bluetooth_mac.to_uppercase()),
            ("global", "device_name") => Some(identity.system.get("ro.product.model").cloned().unwrap_or_default()),
            _ => self.state.settings.get(namespace).and_then(|m| m.get(key)).cloned(),
        }
    }

    /// Every setting of a namespace, including those the identity provides.
    pub fn settings_in(&self, namespace: &str) -> BTreeMap<String, String> {
        let mut all = self.state.settings.get(namespace).cloned().unwrap_or_default();
        let derived: &[&str] = match namespace {
            "secure" => &["android_id", "bluetooth_address"],
            "global" => &["device_name"],
            _ => &[],
        };
        for key in derived {
            if let Some(v) = self.setting(namespace, key) {
                all.insert((*key).to_owned(), v);
            }
        }
        all
    }

    /// The phone's time zone (`persist.sys.timezone`).
    pub fn timezone(&self) -> &str {
        self.property("persist.sys.timezone").unwrap_or("UTC")
    }

    /// Redraws the status bar clock when the local minute changed (time passing, or a new zone).
    fn refresh_clock(&mut self) {
        let clock = crate::clock::status_bar(self.clock_ms, self.timezone());
        if clock != self.clock {
            self.clock = clock;
            self.dirty = true;
        }
    }

    /// The panel's size in its natural (upright) orientation.
    pub fn physical_size(&self) -> (u32, u32) {
        (Self::DEFAULT_WIDTH, Self::DEFAULT_HEIGHT)
    }

    /// The screen's rotation in quarter turns (0 upright, 1 on its left side, ...).
    pub fn rotation(&self) -> u32 {
        self.rotation
    }

    /// Rotates the screen: a quarter turn swaps width and height, and the layout follows.
    pub fn set_rotation(&mut self, quarter_turns: u32) -> Result<(), DeviceError> {
        if quarter_turns > 3 {
            return Err(DeviceError::InvalidInput(format!(
                "rotation {quarter_turns}: give 0, 1, 2 or 3 quarter turns"
            )));
        }
        if quarter_turns != self.rotation {
            self.rotation = quarter_turns;
            let (short, long) = (Self::DEFAULT_WIDTH, Self::DEFAULT_HEIGHT);
            (self.width, self.height) = if quarter_turns % 2 == 1 { (long, short) } else { (short, long) };
            self.pointers.clear();
            self.trail.clear();
            self.dirty = true;
        }
        let value = quarter_turns.to_string();
        if self.setting("system", "user_rotation").as_deref() != Some(value.as_str()) {
            self.state.settings.entry("system".into()).or_default().insert("user_rotation".into(), value);
            self.state_version += 1;
        }
        Ok(())
    }

    /// Stores a setting (`settings put`); `system user_rotation` rotates the screen.
    pub fn put_setting(&mut self, namespace: &str, key: &str, value: &str) {
        if (namespace, key) == ("system", "user_rotation")
            && let Some(turns) = value.parse().ok().filter(|t: &u32| *t <= 3)
        {
            let _ = self.set_rotation(turns);
            return;
        }
        self.state.settings.entry(namespace.to_owned()).or_default().insert(key.to_owned(), value.to_owned());
        self.state_version += 1;
    }

    /// The screen in front.
    pub fn screen(&self) -> &Screen {
        &self.screen
    }

    /// The phone's files.
    pub fn storage(&mut self) -> &mut dyn Storage {
        self.storage.as_mut()
    }

    /// One system property.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties.get(name).map(String::as_str)
    }

    /// All system properties, sorted by name.
    pub fn properties(&self) -> &BTreeMap<String, String> {
        &self.properties
    }

    /// Sets a property with Android's rule: an existing `ro.*` property cannot change while
    /// the phone runs. Returns whether it was set.
    pub fn set_property(&mut self, name: &str, value: &str) -> bool {
        if name.starts_with("ro.") && self.properties.contains_key(name) {
            return false;
        }
        if self.properties.get(name).map(String::as_str) != Some(value) {
            self.properties.insert(name.to_owned(), value.to_owned());
            if name.starts_with("persist.") {
                self.state.persist.insert(name.to_owned(), value.to_owned());
                self.state_version += 1;
            }
            self.refresh_clock();
            self.dirty = true;
        }
        true
    }

    /// The Notes app's text.
    pub fn notes(&self) -> &str {
        &self.state.notes
    }

    /// Screen density in dpi.
    pub fn density(&self) -> u32 {
        self.density
    }

    fn show(&mut self, screen: Screen) {
        let opened = match &screen {
            Screen::Builtin(app) => Some(ui::Launch::Builtin(*app)),
            Screen::Installed(p) => Some(ui::Launch::Installed(p.clone())),
            _ => None,
        };
        if let Some(app) = opened {
            self.recents.retain(|r| *r != app);
            self.recents.insert(0, app);
            self.recents.truncate(MAX_RECENTS);
        }
        if self.screen != screen {
            self.screen = screen;
            self.trail.clear();
            self.scroll = 0.0;
            self.dirty = true;
        }
    }

    /// How far the current screen can scroll.
    fn max_scroll(&self) -> f32 {
        let (w, h) = (self.width as f32, self.height as f32);
        let content = match &self.screen {
            Screen::Launcher => ui::launcher_content_height(self.launcher_targets().len(), w, h),
            Screen::Builtin(App::Notes) => ui::notes_content_height(&self.state.notes, w) + 24.0,
            _ => return 0.0,
        };
        (content - ui::viewport_bottom(h)).max(0.0)
    }

    /// Scrolls the current screen's content by `dy` pixels (positive: towards the end).
    pub fn scroll_by(&mut self, dy: f32) {
        let to = (self.scroll + dy).clamp(0.0, self.max_scroll());
        if to != self.scroll {
            self.scroll = to;
            self.dirty = true;
        }
    }

    /// How far the current screen is scrolled.
    pub fn scroll_offset(&self) -> f32 {
        self.scroll
    }

    /// The media volume, 0 to [`MAX_VOLUME`] (a persisted setting, as on Android).
    pub fn volume(&self) -> u32 {
        self.setting("system", "volume_music").and_then(|v| v.parse().ok()).unwrap_or(8).min(MAX_VOLUME)
    }

    fn set_volume(&mut self, volume: u32) {
        self.state
            .settings
            .entry("system".into())
            .or_default()
            .insert("volume_music".into(), volume.min(MAX_VOLUME).to_string());
        self.state_version += 1;
        self.volume_overlay_until = self.clock_ms + VOLUME_OVERLAY_MS;
        self.dirty = true;
    }

    /// Whether the display is on.
    pub fn screen_on(&self) -> bool {
        self.screen_on
    }

    fn set_screen_on(&mut self, on: bool) {
        if self.screen_on != on {
            self.screen_on = on;
            self.pointers.clear();
            self.dirty = true;
        }
    }

    /// A long press at (x, y): in Notes it pastes the clipboard (where Android offers "Paste").
    pub fn long_press(&mut self, _x: f32, _y: f32) {
        if self.screen_on && self.screen == Screen::Builtin(App::Notes) {
            let text = self.hal.clipboard.text.clone();
            self.type_text(&text);
        }
    }

    /// A touch at screen coordinates (pixels of this phone).
    pub fn touch(&mut self, action: TouchAction, pointer_id: u32, x: f32, y: f32) {
        if !self.screen_on {
            // A dark screen takes no touches.
            return;
        }
        let x = x.clamp(0.0, self.width as f32 - 1.0);
        let y = y.clamp(0.0, self.height as f32 - 1.0);
        if self.screen == Screen::Builtin(App::Touch) && action != TouchAction::Cancel {
            self.trail.push((x, y));
            if self.trail.len() > MAX_TRAIL {
                self.trail.remove(0);
            }
            self.dirty = true;
        }
        match action {
            TouchAction::Down => {
                self.pointers.insert(pointer_id, Pointer { start: (x, y), at: (x, y), down_ms: self.clock_ms });
            }
            TouchAction::Move => {
                let mut drag = 0.0;
                if let Some(p) = self.pointers.get_mut(&pointer_id) {
                    // Content follows a finger dragged past the tap slop.
                    let far = ((x - p.start.0).powi(2) + (y - p.start.1).powi(2)).sqrt() > TAP_SLOP;
                    if far {
                        drag = p.at.1 - y;
                    }
                    p.at = (x, y);
                }
                if drag != 0.0 && self.pointers.len() == 1 && self.screen != Screen::Builtin(App::Touch) {
                    self.scroll_by(drag);
                }
            }
            TouchAction::Up => {
                if let Some(p) = self.pointers.remove(&pointer_id) {
                    let moved = ((x - p.start.0).powi(2) + (y - p.start.1).powi(2)).sqrt();
                    // A tap is a single pointer that barely moved; held long, a long press.
                    if moved <= TAP_SLOP && self.pointers.is_empty() {
                        if self.clock_ms.saturating_sub(p.down_ms) >= LONG_PRESS_MS {
                            self.long_press(x, y);
                        } else {
                            self.tap(x, y);
                        }
                    }
                }
            }
            TouchAction::Cancel => {
                self.pointers.remove(&pointer_id);
            }
        }
        if self.screen == Screen::Builtin(App::Touch) {
            self.dirty = true;
        }
    }

    fn tap(&mut self, x: f32, y: f32) {
        self.speaker.click();
        let launcher = if self.screen == Screen::Recents { self.recents.clone() } else { self.launcher_targets() };
        match ui::hit_test(&self.screen, &launcher, self.scroll, self.width as f32, self.height as f32, x, y) {
            Some(ui::Target::Open(ui::Launch::Builtin(app))) => self.show(Screen::Builtin(app)),
            Some(ui::Target::Open(ui::Launch::Installed(package))) => {
                // A launcher icon exists only for an installed app with a launcher activity.
                let _ = self.start_app(&package, None);
            }
            Some(ui::Target::Key(key)) => self.key(key),
            Some(ui::Target::PlayTone) => self.speaker.tone(440.0, 1000, 0.25),
            None => {}
        }
    }

    /// The sensors, location and clipboard.
    pub fn hal(&self) -> &hal::Hal {
        &self.hal
    }

    /// A motion sensor reading.
    pub fn sensor(&mut self, reading: &cloudphone_protocol::control::SensorReading) -> Result<(), DeviceError> {
        self.hal.sensor(reading, self.clock_ms.saturating_mul(1_000_000))?;
        self.hal_redraw |= self.screen == Screen::Builtin(App::Sensors);
        Ok(())
    }

    /// A location fix.
    pub fn set_location(
        &mut self,
        fix: &cloudphone_protocol::control::LocationFix,
        source: hal::LocationSource,
    ) -> Result<(), DeviceError> {
        self.hal.location(fix, source, self.clock_ms)?;
        self.hal_redraw |= self.screen == Screen::Builtin(App::Location);
        Ok(())
    }

    /// Replaces the clipboard.
    pub fn set_clipboard(&mut self, text: &str, origin: hal::ClipboardOrigin) -> Result<(), DeviceError> {
        self.hal.set_clipboard(text, origin)
    }

    /// What the camera has received.
    pub fn camera(&self) -> &media::Camera {
        &self.camera
    }

    /// A camera frame (or an injected picture).
    pub fn camera_frame(&mut self, frame: media::CameraFrame, source: media::CameraSource) -> Result<(), DeviceError> {
        let (w, h) = (frame.width, frame.height);
        if w == 0
            || h == 0
            || w > media::MAX_PICTURE_SIDE
            || h > media::MAX_PICTURE_SIDE
            || frame.rgba.len() != (w * h * 4) as usize
        {
            return Err(DeviceError::InvalidInput(format!("camera frame of {w}x{h} with {} bytes", frame.rgba.len())));
        }
        self.camera.frame = Some(frame);
        self.camera.frames += 1;
        self.camera.source = Some(source);
        self.hal_redraw |= self.screen == Screen::Builtin(App::Camera);
        Ok(())
    }

    /// Turns an injected camera source off: the camera shows nothing until frames come again.
    pub fn clear_camera(&mut self) {
        self.camera.frame = None;
        self.camera.source = None;
        self.hal_redraw |= self.screen == Screen::Builtin(App::Camera);
    }

    /// What the microphone hears.
    pub fn microphone(&self) -> &media::Microphone {
        &self.mic
    }

    /// A block of microphone samples (mono, 16-bit).
    pub fn mic_samples(
        &mut self,
        samples: &[i16],
        sample_rate: u32,
        source: media::MicSource,
    ) -> Result<(), DeviceError> {
        if !(8_000..=192_000).contains(&sample_rate) {
            return Err(DeviceError::InvalidInput(format!("microphone sample rate {sample_rate}")));
        }
        self.mic.level_db = media::level_dbfs(samples);
        self.mic.samples += samples.len() as u64;
        self.mic.sample_rate = sample_rate;
        self.mic.source = Some(source);
        self.hal_redraw |= self.screen == Screen::Builtin(App::Recorder);
        Ok(())
    }

    /// Whether the phone has sound waiting to be played (else `take_audio` would be silence).
    pub fn audio_pending(&self) -> bool {
        self.speaker.is_playing()
    }

    /// The next `n` samples the phone plays (mono, 16-bit, [`media::OUTPUT_RATE`]), silence when
    /// it plays nothing.
    pub fn take_audio(&mut self, n: usize) -> Vec<i16> {
        let gain = self.volume() as f32 / MAX_VOLUME as f32;
        let mut samples = self.speaker.take(n);
        if gain < 1.0 {
            samples.iter_mut().for_each(|s| *s = (*s as f32 * gain) as i16);
        }
        samples
    }

    /// Clipboard changes made on the phone since the last call (for viewers).
    pub fn take_clipboard_changes(&mut self) -> Vec<hal::Clipboard> {
        self.hal.take_clipboard_changes()
    }

    /// A key press.
    pub fn key(&mut self, key: KeyCode) {
        if !self.screen_on && !matches!(key, KeyCode::POWER | KeyCode::WAKEUP) {
            return;
        }
        match key {
            KeyCode::POWER => self.set_screen_on(!self.screen_on),
            KeyCode::WAKEUP => self.set_screen_on(true),
            KeyCode::SLEEP => self.set_screen_on(false),
            KeyCode::VOLUME_UP => self.set_volume(self.volume() + 1),
            KeyCode::VOLUME_DOWN => self.set_volume(self.volume().saturating_sub(1)),
            KeyCode::VOLUME_MUTE => self.set_volume(0),
            KeyCode::APP_SWITCH => self.show(Screen::Recents),
            KeyCode::PASTE if self.screen == Screen::Builtin(App::Notes) => {
                let text = self.hal.clipboard.text.clone();
                self.type_text(&text);
            }
            KeyCode::COPY if self.screen == Screen::Builtin(App::Notes) => {
                let text = self.state.notes.clone();
                // Notes are far below the clipboard limit only if short; a refused copy copies nothing.
                let _ = self.hal.set_clipboard(&text, hal::ClipboardOrigin::Phone);
            }
            KeyCode::HOME => self.show(Screen::Launcher),
            KeyCode::BACK => self.show(Screen::Launcher),
            KeyCode::DEL if self.screen == Screen::Builtin(App::Notes) && self.state.notes.pop().is_some() => {
                self.notes_changed()
            }
            KeyCode::ENTER if self.screen == Screen::Builtin(App::Notes) => self.type_text("\n"),
            _ => {}
        }
    }

    /// Text typed into the focused field (the Notes app's; elsewhere no field has focus and
    /// the text goes nowhere, as on Android).
    pub fn type_text(&mut self, text: &str) {
        if self.screen == Screen::Builtin(App::Notes) && !text.is_empty() {
            self.state.notes.push_str(text);
            self.notes_changed();
        }
    }

    fn notes_changed(&mut self) {
        self.state_version += 1;
        self.dirty = true;
    }

    /// What the launcher shows, in order: built-in apps, then installed apps by label.
    fn launcher_targets(&self) -> Vec<ui::Launch> {
        let mut installed: Vec<&InstalledPackage> =
            self.state.packages.values().filter(|p| p.info.launcher_activity.is_some()).collect();
        installed.sort_by_key(|p| label_of(p).to_lowercase());
        App::ALL
            .iter()
            .map(|a| ui::Launch::Builtin(*a))
            .chain(installed.into_iter().map(|p| ui::Launch::Installed(p.info.package.clone())))
            .collect()
    }

    /// Decodes the icons of installed apps not decoded yet.
    fn load_icons(&mut self) {
        let missing: Vec<String> =
            self.state.packages.keys().filter(|p| !self.icons.contains_key(*p)).cloned().collect();
        for package in missing {
            let icon = self.storage.read(&packages::icon_path(&package)).ok().and_then(|png| ui::Icon::from_png(&png));
            self.icons.insert(package, icon);
        }
    }

    fn render(&mut self) -> Frame {
        self.load_icons();
        let launcher = self
            .launcher_targets()
            .into_iter()
            .map(|launch| {
                let (label, icon) = match &launch {
                    ui::Launch::Builtin(app) => (app.label(), None),
                    ui::Launch::Installed(p) => (
                        self.state.packages.get(p).map(label_of).unwrap_or_default(),
                        self.icons.get(p).and_then(Option::as_ref),
                    ),
                };
                ui::LauncherEntry { launch, label, icon }
            })
            .collect();
        let installed = match &self.screen {
            Screen::Installed(p) => self.state.packages.get(p).map(|pkg| ui::InstalledView {
                label: label_of(pkg),
                package: &pkg.info.package,
                version: format!(
                    "version {} ({})",
                    pkg.info.version_name.as_deref().unwrap_or("?"),
                    pkg.info.version_code
                ),
                activity: self.foreground_activity.as_deref().unwrap_or(""),
                icon: self.icons.get(p).and_then(Option::as_ref),
            }),
            _ => None,
        };
        let view = ui::View {
            width: self.width,
            height: self.height,
            screen: self.screen.clone(),
            clock: &self.clock,
            properties: &self.properties,
            identity: &self.state.identity,
            notes: &self.state.notes,
            trail: &self.trail,
            pointers: self.pointers.values().map(|p| p.at).collect(),
            density: self.density,
            launcher,
            installed,
            recents: self
                .recents
                .iter()
                .map(|r| match r {
                    ui::Launch::Builtin(app) => (r.clone(), app.label()),
                    ui::Launch::Installed(p) => {
                        (r.clone(), self.state.packages.get(p).map(label_of).unwrap_or_default())
                    }
                })
                .collect(),
            volume_overlay: (self.clock_ms < self.volume_overlay_until).then(|| self.volume()),
            scroll: self.scroll,
            hal: &self.hal,
            camera: &self.camera,
            mic: &self.mic,
            now_ms: self.clock_ms,
        };
        let rgba = if self.screen_on { ui::draw(&view) } else { vec![0; (self.width * self.height * 4) as usize] };
        self.seq += 1;
        self.dirty = false;
        Frame { width: self.width, height: self.height, rgba, seq: self.seq }
    }

    /// Scales a point from a viewer's picture of `width x height` to this screen.
    fn scale(&self, x: f32, y: f32, width: u32, height: u32) -> Result<(f32, f32), DeviceError> {
        if width == 0 || height == 0 || !x.is_finite() || !y.is_finite() {
            return Err(DeviceError::InvalidInput(format!("touch at ({x}, {y}) in a {width}x{height} picture")));
        }
        Ok((x * self.width as f32 / width as f32, y * self.height as f32 / height as f32))
    }
}

impl Device for VirtualPhone {
    fn screen_size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn inject(&mut self, message: &ControlMessage) -> Result<(), DeviceError> {
        match message {
            ControlMessage::Touch { action, pointer_id, x, y, width, height } => {
                let (x, y) = self.scale(*x, *y, *width, *height)?;
                self.touch(*action, *pointer_id, x, y);
            }
            ControlMessage::Key { action, keycode } => {
                let key = KeyCode::parse(keycode).ok_or_else(|| DeviceError::UnknownKey(keycode.clone()))?;
                // Android acts on key up; a press is down then up.
                if matches!(action, KeyAction::Up | KeyAction::Press) {
                    self.key(key);
                }
            }
            ControlMessage::Text { text } => self.type_text(text),
            ControlMessage::Scroll { x, y, dy, width, height, .. } => {
                self.scale(*x, *y, *width, *height)?;
                if !dy.is_finite() {
                    return Err(DeviceError::InvalidInput("scroll amount must be a number".into()));
                }
                if self.screen_on {
                    self.scroll_by(dy * self.height as f32 / *height as f32);
                }
            }
            ControlMessage::Sensor(reading) => self.sensor(reading)?,
            ControlMessage::Location(fix) => self.set_location(fix, hal::LocationSource::Viewer)?,
            ControlMessage::Clipboard { text } => self.set_clipboard(text, hal::ClipboardOrigin::Viewer)?,
            ControlMessage::Rotate { rotation } => self.set_rotation(*rotation)?,
            ControlMessage::AppMessage { package, data } => self.message_to_app(package, data)?,
            // Stream quality is the gateway's; a phone has nothing to do with it.
            ControlMessage::Quality { .. } => {
                return Err(DeviceError::InvalidInput("stream quality is not phone input".into()));
            }
        }
        Ok(())
    }

    fn shell(&mut self, line: &str) -> ShellOutput {
        shell::run(self, line)
    }

    fn tick(&mut self, unix_millis: u64) {
        let overlay_was_on = self.clock_ms < self.volume_overlay_until;
        self.clock_ms = unix_millis;
        self.refresh_clock();
        if overlay_was_on && self.clock_ms >= self.volume_overlay_until {
            self.dirty = true;
        }
        if std::mem::take(&mut self.hal_redraw) {
            self.dirty = true;
        }
    }

    fn take_frame(&mut self) -> Option<Frame> {
        self.dirty.then(|| self.render())
    }

    fn screenshot(&mut self) -> Frame {
        self.render()
    }

    fn state_version(&self) -> u64 {
        self.state_version
    }

    fn persistent_state(&self) -> serde_json::Value {
        serde_json::to_value(self.state()).expect("PhoneState is plain data")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tap(phone: &mut VirtualPhone, x: f32, y: f32) {
        phone.touch(TouchAction::Down, 0, x, y);
        phone.touch(TouchAction::Up, 0, x, y);
    }

    fn icon_center(app: App) -> (f32, f32) {
        let index = App::ALL.iter().position(|a| *a == app).expect("a built-in app");
        ui::icon_center(index, 720.0, 1280.0)
    }

    #[test]
    fn frames_only_when_the_picture_changes() {
        let mut phone = VirtualPhone::factory("t1");
        phone.tick(0);
        let first = phone.take_frame().expect("first frame");
        assert_eq!((first.width, first.height), (720, 1280));
        assert_eq!(first.rgba.len(), 720 * 1280 * 4);
        assert!(phone.take_frame().is_none(), "nothing changed");
        phone.tick(30_000);
        assert!(phone.take_frame().is_none(), "same minute, same clock");
        phone.tick(60_000);
        let second = phone.take_frame().expect("clock changed");
        assert_eq!(second.seq, first.seq + 1);
        assert_ne!(first.rgba, second.rgba);
    }

    #[test]
    fn tapping_an_icon_opens_the_app_and_back_returns() {
        let mut phone = VirtualPhone::factory("t2");
        let home = phone.take_frame().unwrap();
        let (x, y) = icon_center(App::Settings);
        tap(&mut phone, x, y);
        assert_eq!(phone.screen(), &Screen::Builtin(App::Settings));
        let settings = phone.take_frame().unwrap();
        assert_ne!(home.rgba, settings.rgba);
        phone.key(KeyCode::BACK);
        assert_eq!(phone.screen(), &Screen::Launcher);
        assert_eq!(phone.take_frame().unwrap().rgba, home.rgba);
    }

    #[test]
    fn a_drag_is_not_a_tap() {
        let mut phone = VirtualPhone::factory("t3");
        let (x, y) = icon_center(App::Notes);
        phone.touch(TouchAction::Down, 0, x, y);
        phone.touch(TouchAction::Move, 0, x + 200.0, y);
        phone.touch(TouchAction::Up, 0, x + 200.0, y);
        assert_eq!(phone.screen(), &Screen::Launcher);
    }

    #[test]
    fn nav_bar_home_button() {
        let mut phone = VirtualPhone::factory("t4");
        let (x, y) = icon_center(App::Notes);
        tap(&mut phone, x, y);
        assert_eq!(phone.screen(), &Screen::Builtin(App::Notes));
        tap(&mut phone, 360.0, 1280.0 - 48.0);
        assert_eq!(phone.screen(), &Screen::Launcher);
    }

    #[test]
    fn notes_take_text_and_persist() {
        let mut phone = VirtualPhone::factory("t5");
        phone.type_text("ignored on the launcher");
        assert_eq!(phone.notes(), "");
        let (x, y) = icon_center(App::Notes);
        tap(&mut phone, x, y);
        let v0 = phone.state_version();
        phone.inject(&ControlMessage::Text { text: "héllo".into() }).unwrap();
        phone.inject(&ControlMessage::Key { action: KeyAction::Press, keycode: "KEYCODE_DEL".into() }).unwrap();
        assert_eq!(phone.notes(), "héll");
        assert!(phone.state_version() > v0);
        let again = VirtualPhone::boot(phone.state());
        assert_eq!(again.notes(), "héll");
        assert_eq!(again.property("ro.serialno"), phone.property("ro.serialno"));
    }

    #[test]
    fn viewer_coordinates_are_scaled() {
        let mut phone = VirtualPhone::factory("t6");
        let (x, y) = icon_center(App::Settings);
        for action in [TouchAction::Down, TouchAction::Up] {
            let msg = ControlMessage::Touch { action, pointer_id: 1, x: x / 2.0, y: y / 2.0, width: 360, height: 640 };
            phone.inject(&msg).unwrap();
        }
        assert_eq!(phone.screen(), &Screen::Builtin(App::Settings));
        let bad =
            ControlMessage::Touch { action: TouchAction::Down, pointer_id: 1, x: 1.0, y: 1.0, width: 0, height: 640 };
        assert!(matches!(phone.inject(&bad), Err(DeviceError::InvalidInput(_))));
        let bad_key = ControlMessage::Key { action: KeyAction::Press, keycode: "KEYCODE_TELEPORT".into() };
        assert_eq!(phone.inject(&bad_key), Err(DeviceError::UnknownKey("KEYCODE_TELEPORT".into())));
    }

    #[test]
    fn ro_properties_are_read_only_while_running() {
        let mut phone = VirtualPhone::factory("t7");
        let model = phone.property("ro.product.model").unwrap().to_owned();
        assert!(!phone.set_property("ro.product.model", "Other"));
        assert_eq!(phone.property("ro.product.model"), Some(model.as_str()));
        assert!(phone.set_property("persist.sys.locale", "de-DE"));
        assert!(phone.set_property("debug.cloudphone.x", "1"));
        let again = VirtualPhone::boot(phone.state());
        assert_eq!(again.property("persist.sys.locale"), Some("de-DE"));
        assert_eq!(again.property("debug.cloudphone.x"), None, "non-persist properties die with the boot");
    }
}

#[cfg(test)]
mod identity_tests {
    use super::*;

    #[test]
    fn ro_changes_wait_for_the_next_boot() {
        let mut phone = VirtualPhone::factory("i1");
        let report = phone
            .apply(&[
                Change::Property("ro.product.model".into(), "Pixel 7 Pro".into()),
                Change::Property("persist.sys.timezone".into(), "Asia/Tokyo".into()),
                Change::Modem("OpName".into(), "Test Operator".into()),
            ])
            .unwrap();
        assert_eq!(report.pending_restart, vec!["ro.product.model"]);
        assert_eq!(report.applied, vec!["persist.sys.timezone", "OpName"]);
        assert_eq!(phone.property("ro.product.model"), Some("Pixel 7"), "unchanged while running");
        assert_eq!(phone.property("persist.sys.timezone"), Some("Asia/Tokyo"));
        assert_eq!(phone.property("gsm.sim.operator.alpha"), Some("Test Operator"));
        let rebooted = VirtualPhone::boot(phone.state());
        assert_eq!(rebooted.property("ro.product.model"), Some("Pixel 7 Pro"));
        assert!(rebooted.pending().is_empty());
        assert_eq!(rebooted.property("persist.sys.timezone"), Some("Asia/Tokyo"));
        assert_eq!(rebooted.identity().modem.operator, "Test Operator");
    }

    #[test]
    fn a_refused_batch_changes_nothing() {
        let mut phone = VirtualPhone::factory("i2");
        let before = phone.state();
        let result = phone.apply(&[
            Change::Property("persist.sys.locale".into(), "fr-FR".into()),
            Change::Modem("IMEI".into(), "123".into()),
        ]);
        assert!(matches!(result, Err(IdentityError::InvalidValue { .. })));
        assert_eq!(phone.state(), before);
        assert_eq!(phone.property("persist.sys.locale"), Some("en-US"));
    }

    #[test]
    fn sensor_and_location_apps_show_live_values_at_tick_rate() {
        use cloudphone_protocol::control::{LocationFix, SensorKind, SensorReading};
        let mut phone = VirtualPhone::factory("i4");
        let started = phone.shell("am start -n com.cloudphone.sensors/.MainActivity");
        assert_eq!(phone.screen(), &Screen::Builtin(App::Sensors), "{started:?}");
        phone.tick(1_000);
        let empty = phone.take_frame().expect("the app's first picture");
        for i in 0..50 {
            phone
                .sensor(&SensorReading {
                    sensor: SensorKind::Accelerometer,
                    values: [0.1 * i as f32, 9.8, 0.0],
                    timestamp_ns: None,
                })
                .unwrap();
        }
        assert!(phone.take_frame().is_none(), "no redraw per reading");
        phone.tick(1_100);
        let live = phone.take_frame().expect("one redraw at the tick");
        assert_ne!(live.rgba, empty.rgba);
        assert_eq!(phone.hal().sensors[&SensorKind::Accelerometer].count, 50);

        phone.shell("monkey -p com.cloudphone.location 1");
        phone.tick(1_200);
        let no_fix = phone.take_frame().unwrap();
        let fix = LocationFix {
            latitude: 35.6586,
            longitude: 139.7454,
            altitude: None,
            speed: Some(1.0),
            bearing: Some(45.0),
            accuracy: Some(3.0),
        };
        phone.inject(&ControlMessage::Location(fix)).unwrap();
        phone.tick(1_300);
        assert_ne!(phone.take_frame().unwrap().rgba, no_fix.rgba);
        assert_eq!(phone.hal().location.as_ref().unwrap().source, hal::LocationSource::Viewer);
    }

    #[test]
    fn notes_copy_and_paste_through_the_clipboard() {
        let mut phone = VirtualPhone::factory("i5");
        phone.inject(&ControlMessage::Clipboard { text: "pasted".into() }).unwrap();
        phone.shell("am start -n com.cloudphone.notes/.MainActivity");
        phone.shell("input keyevent KEYCODE_PASTE");
        assert_eq!(phone.notes(), "pasted");
        assert!(phone.take_clipboard_changes().is_empty(), "the viewer's own paste is not echoed");
        phone.shell("input text %sand%smore && input keyevent KEYCODE_COPY");
        let changes = phone.take_clipboard_changes();
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].text, "pasted and more");
        assert_eq!(phone.hal().clipboard.text, "pasted and more");
    }

    #[test]
    fn rotation_swaps_the_screen_and_keeps_working() {
        let mut phone = VirtualPhone::factory("i6");
        assert_eq!(phone.shell("settings put system user_rotation 1").exit_code, 0);
        let frame = phone.take_frame().unwrap();
        assert_eq!((frame.width, frame.height), (1280, 720));
        assert_eq!(phone.screen_size(), (1280, 720));
        assert_eq!(phone.shell("wm size").stdout, "Physical size: 720x1280\n", "the panel itself does not change");
        // Icons moved with the layout: the Sensors icon (index 3) is on the first row now.
        let (x, y) = ui::icon_center(3, 1280.0, 720.0);
        assert!(y < 300.0);
        phone.shell(&format!("input tap {x} {y}"));
        assert_eq!(phone.screen(), &Screen::Builtin(App::Sensors));
        assert!(phone.set_rotation(4).is_err());
        let rebooted = VirtualPhone::boot(phone.state());
        assert_eq!(rebooted.screen_size(), (1280, 720), "the rotation persists");
        phone.shell("settings put system user_rotation 0");
        assert_eq!(phone.take_frame().unwrap().width, 720);
    }

    #[test]
    fn camera_microphone_and_speaker() {
        let mut phone = VirtualPhone::factory("i7");
        phone.shell("monkey -p com.cloudphone.camera 1");
        phone.tick(100);
        let empty = phone.take_frame().unwrap();
        let frame = media::CameraFrame { width: 2, height: 2, rgba: [255, 0, 0, 255].repeat(4) };
        phone.camera_frame(frame, media::CameraSource::Picture).unwrap();
        phone.tick(200);
        let shown = phone.take_frame().unwrap();
        assert_ne!(shown.rgba, empty.rgba);
        let middle = ((640 * 720 + 360) * 4) as usize;
        assert_eq!(&shown.rgba[middle..middle + 3], &[255, 0, 0], "the red picture fills the viewfinder");
        let bad = media::CameraFrame { width: 2, height: 2, rgba: vec![0; 3] };
        assert!(phone.camera_frame(bad, media::CameraSource::Viewer).is_err());

        phone.shell("monkey -p com.cloudphone.recorder 1");
        let loud: Vec<i16> = (0..4800).map(|i| if i % 2 == 0 { 16_000 } else { -16_000 }).collect();
        phone.mic_samples(&loud, 48_000, media::MicSource::Viewer).unwrap();
        assert!((phone.microphone().level_db - (-6.2)).abs() < 0.3, "{}", phone.microphone().level_db);
        assert!(phone.mic_samples(&loud, 7, media::MicSource::Viewer).is_err());

        // The speaker: silence, then the tone the Recorder's button plays, then a click per tap.
        assert!(phone.take_audio(4800).iter().all(|s| *s == 0), "nothing tapped yet: silence");
        let (bx, by) = (360.0, 1280.0 - 96.0 - 180.0 + 48.0);
        phone.touch(TouchAction::Down, 0, bx, by);
        phone.touch(TouchAction::Up, 0, bx, by);
        let out = phone.take_audio(48_000);
        assert!(media::level_dbfs(&out[1000..40_000]) > -30.0, "the tone plays (at the default volume)");
    }

    #[test]
    fn power_volume_and_recents_keys() {
        let mut phone = VirtualPhone::factory("k1");
        phone.tick(1_000);
        let home = phone.take_frame().unwrap();
        phone.shell("input keyevent KEYCODE_POWER");
        let dark = phone.take_frame().unwrap();
        assert!(dark.rgba.iter().all(|b| *b == 0), "the display is off");
        assert!(phone.shell("dumpsys power").stdout.contains("mWakefulness=Asleep"));
        phone.shell("input tap 90 240");
        assert_eq!(phone.screen(), &Screen::Launcher, "a dark screen takes no taps");
        phone.shell("input keyevent KEYCODE_POWER");
        assert_eq!(phone.take_frame().unwrap().rgba, home.rgba);

        assert_eq!(phone.volume(), 8);
        phone.shell("input keyevent KEYCODE_VOLUME_UP KEYCODE_VOLUME_UP");
        assert_eq!(phone.volume(), 10);
        assert_eq!(phone.shell("settings get system volume_music").stdout, "10\n");
        let overlay = phone.take_frame().unwrap();
        assert_ne!(overlay.rgba, home.rgba, "the volume overlay shows");
        phone.tick(4_000);
        assert_eq!(phone.take_frame().unwrap().rgba, home.rgba, "and goes away");
        phone.shell("input keyevent KEYCODE_VOLUME_MUTE");
        phone.speaker.tone(440.0, 100, 0.5);
        assert!(phone.take_audio(4800).iter().all(|s| *s == 0), "muted");
        assert_eq!(VirtualPhone::boot(phone.state()).volume(), 0, "the volume persists");

        phone.shell(
            "monkey -p com.cloudphone.notes 1; monkey -p com.cloudphone.sensors 1; input keyevent KEYCODE_APP_SWITCH",
        );
        assert_eq!(phone.screen(), &Screen::Recents);
        assert_eq!(phone.recents, vec![ui::Launch::Builtin(App::Sensors), ui::Launch::Builtin(App::Notes)]);
        // The second card is Notes.
        phone.shell("input tap 360 264");
        assert_eq!(phone.screen(), &Screen::Builtin(App::Notes));
        phone.shell("input keyevent KEYCODE_APP_SWITCH && input tap 360 1100");
        assert_eq!(phone.screen(), &Screen::Launcher, "a tap beside the cards goes home");
    }

    #[test]
    fn long_press_pastes_in_notes() {
        let mut phone = VirtualPhone::factory("k2");
        phone.set_clipboard("held", hal::ClipboardOrigin::Viewer).unwrap();
        phone.shell("monkey -p com.cloudphone.notes 1");
        phone.tick(10_000);
        phone.touch(TouchAction::Down, 0, 300.0, 400.0);
        phone.tick(10_200);
        phone.touch(TouchAction::Up, 0, 300.0, 400.0);
        assert_eq!(phone.notes(), "", "200 ms is a tap");
        phone.touch(TouchAction::Down, 0, 300.0, 400.0);
        phone.tick(10_800);
        phone.touch(TouchAction::Up, 0, 300.0, 400.0);
        assert_eq!(phone.notes(), "held");
        phone.shell("input swipe 300 400 300 400 600");
        assert_eq!(phone.notes(), "heldheld", "a still swipe is a long press");
    }

    #[test]
    fn dragging_and_the_wheel_scroll_long_content() {
        let mut phone = VirtualPhone::factory("k3");
        // Nothing to scroll on a launcher that fits.
        phone.shell("input swipe 360 900 360 300");
        assert_eq!(phone.scroll_offset(), 0.0);
        phone.shell("monkey -p com.cloudphone.notes 1");
        for i in 0..40 {
            phone.shell(&format!("input text line{i} && input keyevent ENTER"));
        }
        let top = phone.screenshot();
        phone.shell("input swipe 360 900 360 500");
        let scrolled = phone.scroll_offset();
        assert!(scrolled > 300.0, "dragged up by about 400 px: {scrolled}");
        assert_ne!(phone.screenshot().rgba, top.rgba);
        phone
            .inject(&ControlMessage::Scroll { x: 100.0, y: 100.0, dx: 0.0, dy: -10_000.0, width: 720, height: 1280 })
            .unwrap();
        assert_eq!(phone.scroll_offset(), 0.0, "the wheel scrolls back, clamped at the top");
        assert_eq!(phone.screenshot().rgba, top.rgba);
        phone
            .inject(&ControlMessage::Scroll { x: 1.0, y: 1.0, dx: 0.0, dy: 10_000.0, width: 720, height: 1280 })
            .unwrap();
        let bottom = phone.scroll_offset();
        assert!(bottom > 0.0 && bottom < 2_000.0, "clamped at the end: {bottom}");
        let bad = ControlMessage::Scroll { x: 1.0, y: 1.0, dx: 0.0, dy: f32::NAN, width: 720, height: 1280 };
        assert!(phone.inject(&bad).is_err());
    }

    #[test]
    fn the_clock_follows_the_time_zone() {
        let mut phone = VirtualPhone::factory("t8");
        phone.shell("setprop persist.sys.timezone UTC");
        phone.tick(1_700_000_000_000);
        assert_eq!(phone.clock, "22:13");
        assert_eq!(phone.shell("date").stdout, "Tue Nov 14 22:13:20 UTC 2023\n");
        phone.take_frame();
        phone.apply(&[Change::Property("persist.sys.timezone".into(), "Asia/Kolkata".into())]).unwrap();
        assert_eq!(phone.clock, "03:43", "India is 5:30 ahead");
        assert!(phone.take_frame().is_some(), "the status bar is redrawn at once");
        assert_eq!(phone.shell("date").stdout, "Wed Nov 15 03:43:20 IST 2023\n");
    }

    #[test]
    fn about_phone_shows_identity_changes() {
        let mut phone = VirtualPhone::factory("i3");
        phone.shell("input tap 90 240");
        let before = phone.screenshot();
        phone.apply(&[Change::Property("persist.sys.locale".into(), "ja-JP".into())]).unwrap();
        assert!(phone.take_frame().is_some(), "a change redraws");
        assert_ne!(phone.screenshot().rgba, before.rgba);
    }
}
