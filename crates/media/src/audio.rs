//! Opus, as WebRTC carries it: 48 kHz, 20 ms packets. The phone's speaker is mono, so is what
//! we send; what viewers send (mono or stereo) is decoded to mono for the phone's microphone.
//!
//! Silence is never encoded: the phone's audio thread skips silent 20 ms frames and the RTP
//! timestamps jump over them, as WebRTC's own discontinuous transmission does. An idle phone
//! costs no audio CPU and sends no audio bits.

use crate::MediaError;

/// Samples per second of every Opus stream here.
pub const SAMPLE_RATE: u32 = 48_000;
/// Samples in one 20 ms frame (mono).
pub const FRAME_SAMPLES: usize = SAMPLE_RATE as usize / 50;
/// The most samples one Opus packet can hold (120 ms), per channel.
const MAX_PACKET_SAMPLES: usize = SAMPLE_RATE as usize * 120 / 1000;
/// The largest encoded packet we make (Opus' own recommendation for a buffer).
const MAX_PACKET_BYTES: usize = 4000;

/// One encoded 20 ms frame of the phone's sound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudioPacket {
    /// The Opus packet.
    pub data: Vec<u8>,
    /// The first sample's position in the phone's output, 48 kHz samples since boot (drives
    /// RTP timestamps, so gaps of silence keep their length).
    pub position: u64,
}

fn opus_error(e: opus::Error) -> MediaError {
    MediaError::Opus(e.to_string())
}

/// A mono Opus encoder for 20 ms frames.
pub struct AudioEncoder {
    inner: opus::Encoder,
    out: Vec<u8>,
}

impl AudioEncoder {
    /// An encoder for general audio (the phone plays music as well as voices) at `bitrate_bps`.
    pub fn new(bitrate_bps: i32) -> Result<AudioEncoder, MediaError> {
        let mut inner =
            opus::Encoder::new(SAMPLE_RATE, opus::Channels::Mono, opus::Application::Audio).map_err(opus_error)?;
        inner.set_bitrate(opus::Bitrate::Bits(bitrate_bps)).map_err(opus_error)?;
        // Viewers ask for in-band FEC in the SDP (useinbandfec=1); give them some.
        inner.set_inband_fec(true).map_err(opus_error)?;
        inner.set_packet_loss_perc(5).map_err(opus_error)?;
        Ok(AudioEncoder { inner, out: vec![0; MAX_PACKET_BYTES] })
    }

    /// Encodes one 20 ms frame of [`FRAME_SAMPLES`] mono samples.
    pub fn encode(&mut self, frame: &[i16]) -> Result<Vec<u8>, MediaError> {
        if frame.len() != FRAME_SAMPLES {
            return Err(MediaError::Opus(format!("a frame holds {FRAME_SAMPLES} samples, not {}", frame.len())));
        }
        let n = self.inner.encode(frame, &mut self.out).map_err(opus_error)?;
        Ok(self.out[..n].to_vec())
    }

    /// Forgets the past (after a gap of silence), so the next frame does not lean on sound that
    /// was never sent.
    pub fn reset(&mut self) -> Result<(), MediaError> {
        self.inner.reset_state().map_err(opus_error)
    }
}

/// Decodes Opus packets (mono or stereo) to mono 48 kHz samples.
pub struct AudioDecoder {
    inner: opus::Decoder,
    out: Vec<i16>,
}

impl AudioDecoder {
    /// A new decoder.
    pub fn new() -> Result<AudioDecoder, MediaError> {
        let inner = opus::Decoder::new(SAMPLE_RATE, opus::Channels::Mono).map_err(opus_error)?;
        Ok(AudioDecoder { inner, out: vec![0; MAX_PACKET_SAMPLES] })
    }

    /// Decodes one packet. A damaged packet is an error; the decoder stays usable.
    pub fn decode(&mut self, packet: &[u8]) -> Result<&[i16], MediaError> {
        if packet.is_empty() {
            return Err(MediaError::Opus("an empty packet".into()));
        }
        let n = self.inner.decode(packet, &mut self.out, false).map_err(opus_error)?;
        Ok(&self.out[..n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(hz: f32, frames: usize) -> Vec<i16> {
        let step = std::f32::consts::TAU * hz / SAMPLE_RATE as f32;
        (0..frames * FRAME_SAMPLES).map(|i| ((i as f32 * step).sin() * 12_000.0) as i16).collect()
    }

    fn rms(samples: &[i16]) -> f64 {
        (samples.iter().map(|s| (*s as f64).powi(2)).sum::<f64>() / samples.len().max(1) as f64).sqrt()
    }

    /// Counts rising zero crossings per second: a cheap pitch estimate.
    fn pitch(samples: &[i16]) -> f64 {
        let rising = samples.windows(2).filter(|w| w[0] < 0 && w[1] >= 0).count();
        rising as f64 * SAMPLE_RATE as f64 / samples.len() as f64
    }

    #[test]
    fn a_tone_survives_encoding_and_decoding() {
        let mut encoder = AudioEncoder::new(64_000).unwrap();
        let mut decoder = AudioDecoder::new().unwrap();
        let input = tone(440.0, 25);
        let mut output = Vec::new();
        for frame in input.chunks(FRAME_SAMPLES) {
            let packet = encoder.encode(frame).unwrap();
            assert!(packet.len() > 10 && packet.len() < 400, "a 20 ms packet of {} bytes", packet.len());
            output.extend_from_slice(decoder.decode(&packet).unwrap());
        }
        assert_eq!(output.len(), input.len());
        // Past the codec's start-up delay, the level and the pitch are the tone's.
        let settled = &output[FRAME_SAMPLES * 5..];
        let (want, got) = (rms(&input), rms(settled));
        assert!((got / want - 1.0).abs() < 0.2, "level {got:.0} vs {want:.0}");
        assert!((pitch(settled) - 440.0).abs() < 10.0, "pitch {:.1}", pitch(settled));
    }

    #[test]
    fn bad_input_is_an_error_and_the_decoder_goes_on() {
        let mut encoder = AudioEncoder::new(32_000).unwrap();
        assert!(encoder.encode(&[0; 100]).is_err());
        let mut decoder = AudioDecoder::new().unwrap();
        assert!(decoder.decode(&[]).is_err());
        // A TOC byte announcing a code-3 packet with no frame count: malformed.
        assert!(decoder.decode(&[0x03]).is_err());
        let packet = encoder.encode(&tone(300.0, 1)).unwrap();
        assert_eq!(decoder.decode(&packet).unwrap().len(), FRAME_SAMPLES);
        encoder.reset().unwrap();
        assert!(!encoder.encode(&[0; FRAME_SAMPLES]).unwrap().is_empty());
    }
}
