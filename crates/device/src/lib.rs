//! The [`Device`] trait, the one interface the rest of the platform drives phones through, and
//! its default backend, the [`VirtualPhone`]: an Android-like phone modelled in Rust.
//!
//! A device is a plain state machine: input goes in (control messages, shell commands, the
//! time), pictures and command output come out. It does no I/O of its own and owns no threads;
//! the device host (crate `cloudphone-host`) gives it time, persists it and streams it.

pub mod clock;
pub mod identity;
pub mod keycode;
pub mod playback;
mod render;
pub mod storage;
pub mod virtual_phone;

use cloudphone_protocol::ControlMessage;

pub use virtual_phone::{NewDevice, PhoneState, VirtualPhone};

/// One picture of the screen, tightly packed RGBA (8 bits each, opaque).
#[derive(Clone, Debug)]
pub struct Frame {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 4` bytes, row after row.
    pub rgba: Vec<u8>,
    /// Increases by one with every new picture of this device.
    pub seq: u64,
}

impl Frame {
    /// Encodes the frame as a PNG file.
    pub fn to_png(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, self.width, self.height);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        // Writing into a Vec cannot fail and the size is consistent by construction.
        let mut writer = enc.write_header().expect("PNG header to a Vec");
        writer.write_image_data(&self.rgba).expect("PNG data of the frame's own size");
        writer.finish().expect("PNG end to a Vec");
        out
    }
}

/// What a shell command printed and how it exited, as `adb shell` would report it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShellOutput {
    /// The exit status (0 success, 127 command not found, ...).
    pub exit_code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Why a device refused an input.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DeviceError {
    /// The input names a key this device does not know.
    #[error("unknown key code {0:?}")]
    UnknownKey(String),
    /// The input is outside what the device accepts (coordinates, sizes).
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

/// A phone as the platform sees it from outside.
pub trait Device: Send {
    /// The current screen size in pixels (width, height).
    fn screen_size(&self) -> (u32, u32);

    /// Delivers one input from a viewer (touch, key, text).
    fn inject(&mut self, message: &ControlMessage) -> Result<(), DeviceError>;

    /// Runs a shell command line, as `adb shell '<line>'` would.
    fn shell(&mut self, line: &str) -> ShellOutput;

    /// Advances the device's clock to `unix_millis`; the status bar clock follows it.
    fn tick(&mut self, unix_millis: u64);

    /// The new picture if the screen changed since the last call, else `None`. Pictures are
    /// made only when something visible changed.
    fn take_frame(&mut self) -> Option<Frame>;

    /// The current picture, whether or not it changed.
    fn screenshot(&mut self) -> Frame;

    /// A counter that increases whenever state worth persisting changed.
    fn state_version(&self) -> u64;

    /// The state to persist, as JSON (properties, user data).
    fn persistent_state(&self) -> serde_json::Value;
}
