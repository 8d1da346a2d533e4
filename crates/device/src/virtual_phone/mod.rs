//! The virtual phone: an Android-like device modelled in Rust.
//!
//! It has Android's system properties, a launcher and built-in apps drawn in software
//! ([`ui`]), multi-touch, keys and text input, and a shell answering the common Android
//! commands with Android's output formats ([`shell`]). It is a pure state machine: callers
//! feed it inputs and time and take pictures out.

mod identity;
mod shell;
mod ui;

use std::collections::BTreeMap;

use cloudphone_protocol::ControlMessage;
use cloudphone_protocol::control::{KeyAction, TouchAction};
use serde::{Deserialize, Serialize};

use crate::keycode::KeyCode;
use crate::{Device, DeviceError, Frame, ShellOutput};

pub use identity::default_properties;
pub use ui::App;

/// How far (pixels) a pointer may move between down and up and still count as a tap.
const TAP_SLOP: f32 = 30.0;
/// How many touch points the Touch app keeps on screen.
const MAX_TRAIL: usize = 400;

/// What of a phone survives a restart of the phone or of the process.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PhoneState {
    /// `ro.*` identity and `persist.*` properties (other properties are lost at reboot, as on
    /// Android).
    pub properties: BTreeMap<String, String>,
    /// The Notes app's text.
    #[serde(default)]
    pub notes: String,
}

/// Where a pointer went down and where it is.
#[derive(Clone, Copy, Debug)]
struct Pointer {
    start: (f32, f32),
    at: (f32, f32),
}

/// Which screen is in front.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Screen {
    /// The home screen with the app icons.
    Launcher,
    /// An app in the foreground.
    App(App),
}

/// A virtual Android phone.
pub struct VirtualPhone {
    width: u32,
    height: u32,
    density: u32,
    properties: BTreeMap<String, String>,
    notes: String,
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

    /// Boots a phone from its persisted state (or a factory state from [`default_properties`]).
    pub fn boot(state: PhoneState) -> VirtualPhone {
        let mut properties = identity::runtime_properties();
        properties.extend(state.properties);
        VirtualPhone {
            width: Self::DEFAULT_WIDTH,
            height: Self::DEFAULT_HEIGHT,
            density: Self::DEFAULT_DENSITY,
            properties,
            notes: state.notes,
            screen: Screen::Launcher,
            pointers: BTreeMap::new(),
            trail: Vec::new(),
            clock: "00:00".into(),
            dirty: true,
            seq: 0,
            state_version: 0,
        }
    }

    /// A factory-new phone whose serial number and ids derive from `seed` (the instance id).
    pub fn factory(seed: &str) -> VirtualPhone {
        VirtualPhone::boot(PhoneState { properties: default_properties(seed), notes: String::new() })
    }

    /// The state to persist.
    pub fn state(&self) -> PhoneState {
        let properties = self
            .properties
            .iter()
            .filter(|(k, _)| k.starts_with("ro.") || k.starts_with("persist."))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        PhoneState { properties, notes: self.notes.clone() }
    }

    /// The screen in front.
    pub fn screen(&self) -> Screen {
        self.screen
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
            if name.starts_with("ro.") || name.starts_with("persist.") {
                self.state_version += 1;
            }
            self.dirty = true;
        }
        true
    }

    /// The Notes app's text.
    pub fn notes(&self) -> &str {
        &self.notes
    }

    /// Screen density in dpi.
    pub fn density(&self) -> u32 {
        self.density
    }

    fn show(&mut self, screen: Screen) {
        if self.screen != screen {
            self.screen = screen;
            self.trail.clear();
            self.dirty = true;
        }
    }

    /// A touch at screen coordinates (pixels of this phone).
    pub fn touch(&mut self, action: TouchAction, pointer_id: u32, x: f32, y: f32) {
        let x = x.clamp(0.0, self.width as f32 - 1.0);
        let y = y.clamp(0.0, self.height as f32 - 1.0);
        if self.screen == Screen::App(App::Touch) && action != TouchAction::Cancel {
            self.trail.push((x, y));
            if self.trail.len() > MAX_TRAIL {
                self.trail.remove(0);
            }
            self.dirty = true;
        }
        match action {
            TouchAction::Down => {
                self.pointers.insert(pointer_id, Pointer { start: (x, y), at: (x, y) });
            }
            TouchAction::Move => {
                if let Some(p) = self.pointers.get_mut(&pointer_id) {
                    p.at = (x, y);
                }
            }
            TouchAction::Up => {
                if let Some(p) = self.pointers.remove(&pointer_id) {
                    let moved = ((x - p.start.0).powi(2) + (y - p.start.1).powi(2)).sqrt();
                    // A tap is a single pointer that barely moved.
                    if moved <= TAP_SLOP && self.pointers.is_empty() {
                        self.tap(x, y);
                    }
                }
            }
            TouchAction::Cancel => {
                self.pointers.remove(&pointer_id);
            }
        }
        if self.screen == Screen::App(App::Touch) {
            self.dirty = true;
        }
    }

    fn tap(&mut self, x: f32, y: f32) {
        match ui::hit_test(self.screen, self.width as f32, self.height as f32, x, y) {
            Some(ui::Target::Open(app)) => self.show(Screen::App(app)),
            Some(ui::Target::Key(key)) => self.key(key),
            None => {}
        }
    }

    /// A key press.
    pub fn key(&mut self, key: KeyCode) {
        match key {
            KeyCode::HOME => self.show(Screen::Launcher),
            KeyCode::BACK => self.show(Screen::Launcher),
            KeyCode::DEL if self.screen == Screen::App(App::Notes) && self.notes.pop().is_some() => {
                self.notes_changed()
            }
            KeyCode::ENTER if self.screen == Screen::App(App::Notes) => self.type_text("\n"),
            _ => {}
        }
    }

    /// Text typed into the focused field (the Notes app's; elsewhere no field has focus and
    /// the text goes nowhere, as on Android).
    pub fn type_text(&mut self, text: &str) {
        if self.screen == Screen::App(App::Notes) && !text.is_empty() {
            self.notes.push_str(text);
            self.notes_changed();
        }
    }

    fn notes_changed(&mut self) {
        self.state_version += 1;
        self.dirty = true;
    }

    fn render(&mut self) -> Frame {
        let view = ui::View {
            width: self.width,
            height: self.height,
            screen: self.screen,
            clock: &self.clock,
            properties: &self.properties,
            notes: &self.notes,
            trail: &self.trail,
            pointers: self.pointers.values().map(|p| p.at).collect(),
            density: self.density,
        };
        let rgba = ui::draw(&view);
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
        }
        Ok(())
    }

    fn shell(&mut self, line: &str) -> ShellOutput {
        shell::run(self, line)
    }

    fn tick(&mut self, unix_millis: u64) {
        let minutes_of_day = (unix_millis / 60_000) % (24 * 60);
        let clock = format!("{:02}:{:02}", minutes_of_day / 60, minutes_of_day % 60);
        if clock != self.clock {
            self.clock = clock;
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
        ui::icon_center(app, 720.0, 1280.0)
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
        assert_eq!(phone.screen(), Screen::App(App::Settings));
        let settings = phone.take_frame().unwrap();
        assert_ne!(home.rgba, settings.rgba);
        phone.key(KeyCode::BACK);
        assert_eq!(phone.screen(), Screen::Launcher);
        assert_eq!(phone.take_frame().unwrap().rgba, home.rgba);
    }

    #[test]
    fn a_drag_is_not_a_tap() {
        let mut phone = VirtualPhone::factory("t3");
        let (x, y) = icon_center(App::Notes);
        phone.touch(TouchAction::Down, 0, x, y);
        phone.touch(TouchAction::Move, 0, x + 200.0, y);
        phone.touch(TouchAction::Up, 0, x + 200.0, y);
        assert_eq!(phone.screen(), Screen::Launcher);
    }

    #[test]
    fn nav_bar_home_button() {
        let mut phone = VirtualPhone::factory("t4");
        let (x, y) = icon_center(App::Notes);
        tap(&mut phone, x, y);
        assert_eq!(phone.screen(), Screen::App(App::Notes));
        tap(&mut phone, 360.0, 1280.0 - 48.0);
        assert_eq!(phone.screen(), Screen::Launcher);
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
        assert_eq!(phone.screen(), Screen::App(App::Settings));
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
        let state = phone.state();
        assert_eq!(state.properties.get("persist.sys.locale").map(String::as_str), Some("de-DE"));
        assert!(!state.properties.contains_key("debug.cloudphone.x"), "non-persist properties die with the boot");
    }
}
