//! Media for streams. Video: RGBA screen pictures to H.264 access units (Annex B) with openh264
//! (Constrained Baseline, what every WebRTC browser decodes), and H.264 back to pictures for the
//! cameras of viewers. Audio: 20 ms Opus packets of the phone's sound, and viewers' Opus back to
//! samples for the phone's microphone.
//!
//! One [`VideoEncoder`] serves every viewer of a phone: it encodes only when the screen
//! changed or a viewer needs a keyframe, so a static screen costs no CPU and no bits. Silence is
//! not encoded either (see [`audio`]).

pub mod audio;
mod video;

pub use audio::{AudioDecoder, AudioEncoder, AudioPacket};
pub use video::*;

/// Why encoding or decoding failed.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The picture's size is unusable (H.264 4:2:0 needs even, non-zero sizes).
    #[error("cannot encode a {width}x{height} picture: sizes must be even and non-zero")]
    BadSize {
        /// Width.
        width: u32,
        /// Height.
        height: u32,
    },
    /// The pixel buffer does not match the size.
    #[error("pixel buffer of {len} bytes does not hold a {width}x{height} RGBA picture")]
    BadBuffer {
        /// Bytes given.
        len: usize,
        /// Width.
        width: u32,
        /// Height.
        height: u32,
    },
    /// openh264 reported an error.
    #[error("H.264: {0}")]
    Codec(String),
    /// libopus reported an error, or a packet is not Opus.
    #[error("Opus: {0}")]
    Opus(String),
}
