//! The phone's camera, microphone and speaker: what the camera source received, the microphone
//! level, and the sound the phone makes (key clicks, the Recorder's test tone). Also the file
//! formats these take: PNG/JPEG pictures and 16-bit PCM WAV.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::DeviceError;

// The API's audio format and level, defined once in the protocol.
pub use cloudphone_protocol::audio::{encode_wav, level_dbfs};

/// Sample rate of the phone's audio output.
pub const OUTPUT_RATE: u32 = 48_000;
/// The most audio output buffered before the oldest is dropped (10 s).
const MAX_OUTPUT: usize = OUTPUT_RATE as usize * 10;
/// The largest picture accepted, per side.
pub const MAX_PICTURE_SIDE: u32 = 4096;

/// Where camera frames come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CameraSource {
    /// The viewer's camera, through the session.
    Viewer,
    /// A picture injected through the API.
    Picture,
    /// A video file looping through the API.
    Video,
}

/// One camera frame, straight RGBA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CameraFrame {
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// `width * height * 4` bytes.
    pub rgba: Vec<u8>,
}

/// What the camera has received.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Camera {
    /// The latest frame.
    pub frame: Option<CameraFrame>,
    /// Frames received since boot.
    pub frames: u64,
    /// Where the latest came from.
    pub source: Option<CameraSource>,
}

/// Where microphone audio comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MicSource {
    /// The viewer's microphone, through the session.
    Viewer,
    /// An audio file injected through the API.
    File,
}

/// What the microphone hears.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Microphone {
    /// Level of the latest block, dBFS (-90 for silence).
    pub level_db: f32,
    /// Samples received since boot.
    pub samples: u64,
    /// Sample rate of the latest block.
    pub sample_rate: u32,
    /// Where the latest came from.
    pub source: Option<MicSource>,
}

/// The phone's speaker: mono 16-bit samples at [`OUTPUT_RATE`], waiting to be played.
#[derive(Clone, Debug, Default)]
pub struct Speaker {
    pending: VecDeque<i16>,
}

impl Speaker {
    fn push(&mut self, samples: impl IntoIterator<Item = i16>) {
        self.pending.extend(samples);
        let excess = self.pending.len().saturating_sub(MAX_OUTPUT);
        self.pending.drain(..excess);
    }

    /// A short click, as a key press makes.
    pub fn click(&mut self) {
        let n = OUTPUT_RATE as usize / 100;
        self.push((0..n).map(|i| {
            let decay = 1.0 - i as f32 / n as f32;
            ((i as f32 * 0.9).sin() * 12_000.0 * decay * decay) as i16
        }));
    }

    /// A sine tone.
    pub fn tone(&mut self, hz: f32, ms: u32, amplitude: f32) {
        let n = (OUTPUT_RATE * ms / 1000) as usize;
        let step = std::f32::consts::TAU * hz / OUTPUT_RATE as f32;
        self.push((0..n).map(|i| ((i as f32 * step).sin() * amplitude * i16::MAX as f32) as i16));
    }

    /// The next `n` samples of output: what is pending, then silence.
    pub fn take(&mut self, n: usize) -> Vec<i16> {
        let have = n.min(self.pending.len());
        let mut out: Vec<i16> = self.pending.drain(..have).collect();
        out.resize(n, 0);
        out
    }

    /// Whether anything but silence is pending.
    pub fn is_playing(&self) -> bool {
        !self.pending.is_empty()
    }
}

/// Decodes a PNG or JPEG picture to straight RGBA.
pub fn decode_picture(bytes: &[u8]) -> Result<CameraFrame, DeviceError> {
    let bad = |why: String| DeviceError::InvalidInput(format!("picture: {why}"));
    let frame = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = decoder.read_info().map_err(|e| bad(e.to_string()))?;
        let (w, h) = (reader.info().width, reader.info().height);
        check_size(w, h)?;
        let mut buf = vec![0; reader.output_buffer_size().ok_or_else(|| bad("too large".into()))?];
        let info = reader.next_frame(&mut buf).map_err(|e| bad(e.to_string()))?;
        let data = &buf[..info.buffer_size()];
        let rgba = match info.color_type {
            png::ColorType::Rgba => data.to_vec(),
            png::ColorType::Rgb => data.chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect(),
            png::ColorType::GrayscaleAlpha => data.chunks_exact(2).flat_map(|p| [p[0], p[0], p[0], p[1]]).collect(),
            png::ColorType::Grayscale => data.iter().flat_map(|g| [*g, *g, *g, 255]).collect(),
            png::ColorType::Indexed => return Err(bad("indexed colour was not expanded".into())),
        };
        CameraFrame { width: w, height: h, rgba }
    } else if bytes.starts_with(&[0xff, 0xd8]) {
        let mut decoder = jpeg_decoder::Decoder::new(std::io::Cursor::new(bytes));
        decoder.read_info().map_err(|e| bad(e.to_string()))?;
        let info = decoder.info().ok_or_else(|| bad("no image information".into()))?;
        check_size(info.width as u32, info.height as u32)?;
        let pixels = decoder.decode().map_err(|e| bad(e.to_string()))?;
        let rgba = match info.pixel_format {
            jpeg_decoder::PixelFormat::RGB24 => pixels.chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect(),
            jpeg_decoder::PixelFormat::L8 => pixels.iter().flat_map(|g| [*g, *g, *g, 255]).collect(),
            other => return Err(bad(format!("unsupported JPEG pixel format {other:?}"))),
        };
        CameraFrame { width: info.width as u32, height: info.height as u32, rgba }
    } else {
        return Err(bad("not a PNG or JPEG file".into()));
    };
    Ok(frame)
}

fn check_size(w: u32, h: u32) -> Result<(), DeviceError> {
    if w == 0 || h == 0 || w > MAX_PICTURE_SIDE || h > MAX_PICTURE_SIDE {
        return Err(DeviceError::InvalidInput(format!("picture of {w}x{h}: sides must be 1 to {MAX_PICTURE_SIDE}")));
    }
    Ok(())
}

/// A decoded WAV file, mixed down to mono.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pcm {
    /// Samples per second.
    pub sample_rate: u32,
    /// Mono samples.
    pub samples: Vec<i16>,
}

/// Reads a 16-bit PCM WAV file (any channel count, mixed to mono).
pub fn decode_wav(bytes: &[u8]) -> Result<Pcm, DeviceError> {
    let bad = |why: &str| DeviceError::InvalidInput(format!("audio: {why}"));
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(bad("not a WAV file"));
    }
    let (mut format, mut data) = (None, None);
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("4 bytes")) as usize;
        let body = bytes.get(at + 8..at + 8 + size).ok_or_else(|| bad("a chunk runs past the end"))?;
        match id {
            b"fmt " if body.len() >= 16 => format = Some(body),
            b"data" => data = Some(body),
            _ => {}
        }
        at += 8 + size + size % 2;
    }
    let format = format.ok_or_else(|| bad("no fmt chunk"))?;
    let data = data.ok_or_else(|| bad("no data chunk"))?;
    let u16_at = |i: usize| u16::from_le_bytes([format[i], format[i + 1]]);
    let (codec, channels, rate, bits) =
        (u16_at(0), u16_at(2), u32::from_le_bytes(format[4..8].try_into().expect("4 bytes")), u16_at(14));
    if codec != 1 || bits != 16 {
        return Err(bad("only 16-bit PCM WAV is supported"));
    }
    if channels == 0 || !(8_000..=192_000).contains(&rate) {
        return Err(bad("channels must be at least 1 and the rate 8000 to 192000 Hz"));
    }
    let frame = channels as usize * 2;
    let samples = data
        .chunks_exact(frame)
        .map(|f| {
            let sum: i32 = f.chunks_exact(2).map(|s| i16::from_le_bytes([s[0], s[1]]) as i32).sum();
            (sum / channels as i32) as i16
        })
        .collect();
    Ok(Pcm { sample_rate: rate, samples })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wav_round_trip_and_levels() {
        let mut speaker = Speaker::default();
        speaker.tone(1000.0, 100, 0.5);
        let samples = speaker.take(4800);
        assert!(!speaker.is_playing());
        let level = level_dbfs(&samples);
        assert!((level - (-9.03)).abs() < 0.2, "a half-scale sine is about -9 dBFS: {level}");
        assert_eq!(level_dbfs(&[0; 100]), -90.0);
        let wav = encode_wav(OUTPUT_RATE, &samples);
        assert_eq!(decode_wav(&wav).unwrap(), Pcm { sample_rate: OUTPUT_RATE, samples: samples.clone() });
        assert_eq!(speaker.take(10), vec![0; 10], "silence after the tone");
        for bad in [&b"RIFF0000WAVE"[..], b"not audio at all", &wav[..30]] {
            assert!(decode_wav(bad).is_err());
        }
    }

    #[test]
    fn pictures_decode_or_are_refused() {
        let mut png_bytes = Vec::new();
        {
            let mut e = png::Encoder::new(&mut png_bytes, 4, 2);
            e.set_color(png::ColorType::Rgb);
            let mut w = e.write_header().unwrap();
            w.write_image_data(&[200, 10, 20].repeat(8)).unwrap();
        }
        let frame = decode_picture(&png_bytes).unwrap();
        assert_eq!((frame.width, frame.height, &frame.rgba[..4]), (4, 2, &[200u8, 10, 20, 255][..]));
        assert!(decode_picture(b"GIF89a....").is_err());
        assert!(decode_picture(&png_bytes[..20]).is_err());
        assert!(decode_picture(&[0xff, 0xd8, 0xff, 0x00]).is_err());
    }
}
