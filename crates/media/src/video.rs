//! H.264: the screen encoder shared by a phone's viewers, a decoder for viewers' cameras, and
//! looping video files for the camera.

use crate::MediaError;
use openh264::OpenH264API;
use openh264::encoder::{BitRate, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, UsageType};
use openh264::formats::{RgbaSliceU8, YUVBuffer};

/// One encoded picture.
#[derive(Clone, Debug)]
pub struct EncodedFrame {
    /// H.264 NAL units in Annex B form (start codes), SPS/PPS included on keyframes.
    pub data: Vec<u8>,
    /// Whether this is an IDR picture a decoder can start from.
    pub keyframe: bool,
    /// Capture time in microseconds since the encoder started (drives RTP timestamps).
    pub timestamp_us: u64,
    /// Picture width.
    pub width: u32,
    /// Picture height.
    pub height: u32,
    /// How long colour conversion and encoding took, microseconds.
    pub encode_us: u32,
}

/// Encoder settings.
#[derive(Clone, Copy, Debug)]
pub struct EncoderSettings {
    /// Target bitrate in bits per second.
    pub bitrate_bps: u32,
    /// Highest frame rate the stream is paced for.
    pub max_fps: f32,
}

impl Default for EncoderSettings {
    fn default() -> Self {
        EncoderSettings { bitrate_bps: 4_000_000, max_fps: 30.0 }
    }
}

/// An H.264 encoder that adapts to picture size changes (rotation) by starting over.
pub struct VideoEncoder {
    settings: EncoderSettings,
    inner: Option<(Encoder, u32, u32)>,
    yuv: Option<YUVBuffer>,
    force_keyframe: bool,
}

impl VideoEncoder {
    /// A new encoder; the first picture it encodes is a keyframe.
    pub fn new(settings: EncoderSettings) -> Self {
        VideoEncoder { settings, inner: None, yuv: None, force_keyframe: true }
    }

    /// Makes the next encoded picture a keyframe (a viewer joined or lost packets).
    pub fn request_keyframe(&mut self) {
        self.force_keyframe = true;
    }

    /// Frees the codec and its buffers (nobody watches); the next picture starts a new stream
    /// with a keyframe.
    pub fn release(&mut self) {
        self.inner = None;
        self.yuv = None;
        self.force_keyframe = true;
    }

    /// Encodes one RGBA picture taken at `timestamp_us`.
    pub fn encode(
        &mut self,
        rgba: &[u8],
        width: u32,
        height: u32,
        timestamp_us: u64,
    ) -> Result<EncodedFrame, MediaError> {
        if width == 0 || height == 0 || !width.is_multiple_of(2) || !height.is_multiple_of(2) {
            return Err(MediaError::BadSize { width, height });
        }
        if rgba.len() != width as usize * height as usize * 4 {
            return Err(MediaError::BadBuffer { len: rgba.len(), width, height });
        }
        if !matches!(self.inner, Some((_, w, h)) if w == width && h == height) {
            let config = EncoderConfig::new()
                .bitrate(BitRate::from_bps(self.settings.bitrate_bps))
                .max_frame_rate(FrameRate::from_hz(self.settings.max_fps))
                .usage_type(UsageType::ScreenContentRealTime)
                // Keyframes come on request (join, loss); no periodic ones on a static screen.
                .intra_frame_period(IntraFramePeriod::from_num_frames(0))
                // Not supported for screen content; say so rather than have openh264 warn.
                .adaptive_quantization(false)
                .background_detection(false)
                // Frames come only on screen damage: a skipped one would hide a change until the
                // next one, so never skip (rate control then works through QP only).
                .skip_frames(false);
            let encoder = Encoder::with_api_config(OpenH264API::from_source(), config)
                .map_err(|e| MediaError::Codec(e.to_string()))?;
            self.inner = Some((encoder, width, height));
            self.yuv = None;
            self.force_keyframe = true;
        }
        let (encoder, _, _) = self.inner.as_mut().expect("set above");
        let started = std::time::Instant::now();
        let source = RgbaSliceU8::new(rgba, (width as usize, height as usize));
        let yuv = match self.yuv.as_mut() {
            Some(buf) => {
                buf.read_rgba8(source);
                buf
            }
            None => self.yuv.insert(YUVBuffer::from_rgba8_source(source)),
        };
        if std::mem::take(&mut self.force_keyframe) {
            encoder.force_intra_frame();
        }
        let bitstream = encoder.encode(yuv).map_err(|e| MediaError::Codec(e.to_string()))?;
        let keyframe = matches!(bitstream.frame_type(), FrameType::IDR | FrameType::I);
        let encode_us = started.elapsed().as_micros().min(u32::MAX as u128) as u32;
        Ok(EncodedFrame { data: bitstream.to_vec(), keyframe, timestamp_us, width, height, encode_us })
    }
}

/// A decoded picture, straight RGBA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedPicture {
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// `width * height * 4` bytes.
    pub rgba: Vec<u8>,
}

/// The largest video accepted, per side.
const MAX_VIDEO_SIDE: usize = 1920;

/// Shrinks an RGBA picture to `width` x `height` by averaging each destination pixel's block of
/// source pixels (sharp text stays legible, unlike point sampling). The target must not be
/// larger than the source; an equal size is a copy.
pub fn scale_rgba(rgba: &[u8], src_width: u32, src_height: u32, width: u32, height: u32) -> Vec<u8> {
    let (sw, sh, dw, dh) = (src_width as usize, src_height as usize, width as usize, height as usize);
    if (sw, sh) == (dw, dh) || dw == 0 || dh == 0 || rgba.len() < sw * sh * 4 {
        return rgba.to_vec();
    }
    let mut out = Vec::with_capacity(dw * dh * 4);
    for dy in 0..dh {
        let (y0, y1) = (dy * sh / dh, ((dy + 1) * sh / dh).max(dy * sh / dh + 1).min(sh));
        for dx in 0..dw {
            let (x0, x1) = (dx * sw / dw, ((dx + 1) * sw / dw).max(dx * sw / dw + 1).min(sw));
            let mut sum = [0u32; 4];
            for y in y0..y1 {
                for px in rgba[(y * sw + x0) * 4..(y * sw + x1) * 4].chunks_exact(4) {
                    for c in 0..4 {
                        sum[c] += u32::from(px[c]);
                    }
                }
            }
            let n = ((y1 - y0) * (x1 - x0)) as u32;
            out.extend(sum.iter().map(|s| (s / n) as u8));
        }
    }
    out
}

/// Decodes H.264 access units (Annex B) from a viewer's camera into RGBA pictures.
pub struct VideoDecoder {
    inner: openh264::decoder::Decoder,
}

impl VideoDecoder {
    /// A new decoder.
    pub fn new() -> Result<VideoDecoder, MediaError> {
        Ok(VideoDecoder { inner: openh264::decoder::Decoder::new().map_err(|e| MediaError::Codec(e.to_string()))? })
    }

    /// Decodes one access unit. `Ok(None)` when it completes no picture (parameter sets only,
    /// or a delta whose reference was lost: ask the sender for a keyframe).
    pub fn decode(&mut self, access_unit: &[u8]) -> Result<Option<DecodedPicture>, MediaError> {
        use openh264::formats::YUVSource;
        let Some(yuv) = self.inner.decode(access_unit).map_err(|e| MediaError::Codec(e.to_string()))? else {
            return Ok(None);
        };
        let (w, h) = yuv.dimensions();
        if w == 0 || h == 0 || w > MAX_VIDEO_SIDE || h > MAX_VIDEO_SIDE {
            return Err(MediaError::BadSize { width: w as u32, height: h as u32 });
        }
        let mut rgba = vec![0; w * h * 4];
        yuv.write_rgba8(&mut rgba);
        Ok(Some(DecodedPicture { width: w as u32, height: h as u32, rgba }))
    }
}

/// Plays an H.264 Annex B file picture by picture, starting over at the end. Only one picture
/// is decoded at a time, so a long file costs its own size in memory, not its pictures'.
pub struct LoopingVideo {
    stream: Vec<u8>,
    /// Byte ranges of the NAL units in `stream`.
    nals: Vec<std::ops::Range<usize>>,
    next: usize,
    decoder: VideoDecoder,
}

impl LoopingVideo {
    /// Reads a file; fails unless it decodes to at least one picture of a sane size.
    pub fn new(stream: Vec<u8>) -> Result<LoopingVideo, MediaError> {
        let base = stream.as_ptr() as usize;
        let nals: Vec<std::ops::Range<usize>> = openh264::nal_units(&stream)
            .map(|nal| {
                let start = nal.as_ptr() as usize - base;
                start..start + nal.len()
            })
            .collect();
        if nals.is_empty() {
            return Err(MediaError::Codec("not an H.264 Annex B stream (no start codes)".into()));
        }
        let decoder = VideoDecoder::new()?;
        let mut video = LoopingVideo { stream, nals, next: 0, decoder };
        video.next_picture()?;
        video.restart()?;
        Ok(video)
    }

    fn restart(&mut self) -> Result<(), MediaError> {
        self.next = 0;
        self.decoder = VideoDecoder::new()?;
        Ok(())
    }

    /// The next picture, from the start again after the last.
    pub fn next_picture(&mut self) -> Result<DecodedPicture, MediaError> {
        // At most two passes: the rest of this one, then a whole new one.
        let mut restarted = false;
        loop {
            if self.next >= self.nals.len() {
                if restarted {
                    return Err(MediaError::Codec("the stream has no decodable picture".into()));
                }
                self.restart()?;
                restarted = true;
            }
            let range = self.nals[self.next].clone();
            self.next += 1;
            if let Some(picture) = self.decoder.decode(&self.stream[range])? {
                return Ok(picture);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openh264::decoder::Decoder;
    use openh264::formats::YUVSource;

    fn picture(width: u32, height: u32, shade: u8) -> Vec<u8> {
        (0..width * height).flat_map(|i| [shade, (i % 251) as u8, 128, 255]).collect()
    }

    /// NAL unit types present in an Annex B stream.
    fn nal_types(data: &[u8]) -> Vec<u8> {
        let mut types = Vec::new();
        let mut i = 0;
        while i + 3 < data.len() {
            if data[i..i + 3] == [0, 0, 1] {
                types.push(data[i + 3] & 0x1f);
                i += 3;
            } else {
                i += 1;
            }
        }
        types
    }

    #[test]
    fn first_frame_is_a_decodable_keyframe_with_parameter_sets() {
        let mut enc = VideoEncoder::new(EncoderSettings::default());
        let frame = enc.encode(&picture(320, 240, 10), 320, 240, 0).unwrap();
        assert!(frame.keyframe);
        let types = nal_types(&frame.data);
        assert!(types.contains(&7) && types.contains(&8) && types.contains(&5), "SPS, PPS, IDR in {types:?}");
        let mut dec = Decoder::new().unwrap();
        let yuv = dec.decode(&frame.data).unwrap().expect("a picture");
        assert_eq!(yuv.dimensions(), (320, 240));
    }

    #[test]
    fn keyframes_only_on_request() {
        let mut enc = VideoEncoder::new(EncoderSettings::default());
        assert!(enc.encode(&picture(64, 64, 1), 64, 64, 0).unwrap().keyframe);
        assert!(!enc.encode(&picture(64, 64, 2), 64, 64, 33_000).unwrap().keyframe);
        enc.request_keyframe();
        assert!(enc.encode(&picture(64, 64, 3), 64, 64, 66_000).unwrap().keyframe);
        // A new size (rotation) restarts the stream with a keyframe.
        assert!(enc.encode(&picture(32, 64, 3), 32, 64, 99_000).unwrap().keyframe);
        // So does a release.
        enc.release();
        assert!(enc.encode(&picture(32, 64, 4), 32, 64, 132_000).unwrap().keyframe);
    }

    #[test]
    fn a_looping_video_plays_its_pictures_in_order_and_again() {
        let mut enc = VideoEncoder::new(EncoderSettings::default());
        let mut stream = Vec::new();
        for (i, shade) in [20u8, 200, 110].into_iter().enumerate() {
            stream.extend(
                enc.encode(&[shade, shade, shade, 255].repeat(64 * 48), 64, 48, i as u64 * 33_000).unwrap().data,
            );
        }
        let mut video = LoopingVideo::new(stream).unwrap();
        let shades: Vec<u8> = (0..6).map(|_| video.next_picture().unwrap().rgba[0]).collect();
        let near = |a: u8, b: u8| a.abs_diff(b) < 12;
        assert!(near(shades[0], 20) && near(shades[1], 200) && near(shades[2], 110), "{shades:?}");
        assert!(near(shades[3], 20) && near(shades[4], 200), "then again from the start: {shades:?}");
        assert!(LoopingVideo::new(b"no start codes here".to_vec()).is_err());
        assert!(LoopingVideo::new(vec![0, 0, 0, 1, 0x65, 1, 2, 3]).is_err(), "a start code but no picture");
    }

    #[test]
    fn scaling_averages_blocks() {
        // A 4x2 picture: left half black, right half white, halved to 2x1.
        let mut src = Vec::new();
        for _ in 0..2 {
            src.extend([0, 0, 0, 255].repeat(2));
            src.extend([255, 255, 255, 255].repeat(2));
        }
        assert_eq!(scale_rgba(&src, 4, 2, 2, 1), vec![0, 0, 0, 255, 255, 255, 255, 255]);
        // Alternating columns average to grey.
        let stripes: Vec<u8> =
            (0..4).flat_map(|i| if i % 2 == 0 { [0, 0, 0, 255] } else { [200, 200, 200, 255] }).collect();
        assert_eq!(scale_rgba(&stripes, 4, 1, 2, 1), vec![100, 100, 100, 255, 100, 100, 100, 255]);
        assert_eq!(scale_rgba(&stripes, 4, 1, 4, 1), stripes, "the same size is a copy");
        let big = picture(720, 1280, 50);
        assert_eq!(scale_rgba(&big, 720, 1280, 360, 640).len(), 360 * 640 * 4);
    }

    #[test]
    fn bad_input_is_an_error() {
        let mut enc = VideoEncoder::new(EncoderSettings::default());
        assert!(matches!(enc.encode(&[0; 12], 3, 1, 0), Err(MediaError::BadSize { .. })));
        assert!(matches!(enc.encode(&[0; 12], 2, 2, 0), Err(MediaError::BadBuffer { .. })));
    }
}
