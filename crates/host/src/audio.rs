//! A phone's sound: the log of what it played lately (for recordings through the API) and the
//! Opus stream its listeners share.
//!
//! The log counts time in samples and keeps only the sounding stretches, so an idle phone holds
//! no audio in memory. The stream is read from the same log: one thread per phone, started by
//! the first listener and gone with the last, cuts 20 ms frames, encodes the sounding ones and
//! skips the silent ones (their RTP time still passes, so the gaps keep their length).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use cloudphone_device::virtual_phone::media::OUTPUT_RATE;
use cloudphone_media::audio::FRAME_SAMPLES;
use cloudphone_media::{AudioEncoder, AudioPacket};
use tokio::sync::broadcast;

use crate::Phone;

/// How much of the phone's audio output is kept (10 s).
pub(crate) const RECENT_AUDIO_SAMPLES: usize = OUTPUT_RATE as usize * 10;
/// Opus packets buffered per listener before a slow one skips some (1 s).
pub(crate) const AUDIO_BUFFER: usize = 50;
/// The bitrate of the phone's sound (mono).
const AUDIO_BITRATE: i32 = 64_000;
/// How often the stream looks for new sound: one frame's time.
const FRAME_TIME: Duration = Duration::from_millis(20);

/// What a phone played lately: the sounding stretches with their positions; silence between
/// them is only counted.
pub(crate) struct AudioLog {
    /// Samples elapsed since the phone booted.
    pub(crate) position: u64,
    /// When samples were last counted.
    drained_at: Instant,
    /// `(first sample's position, samples)`, oldest first, none older than the window.
    chunks: std::collections::VecDeque<(u64, Vec<i16>)>,
}

impl AudioLog {
    pub(crate) fn new() -> AudioLog {
        AudioLog { position: 0, drained_at: Instant::now(), chunks: std::collections::VecDeque::new() }
    }

    /// Samples played since the last call (and marks them counted).
    pub(crate) fn due(&mut self) -> usize {
        let n = (self.drained_at.elapsed().as_secs_f64() * OUTPUT_RATE as f64) as usize;
        self.drained_at += Duration::from_secs_f64(n as f64 / OUTPUT_RATE as f64);
        n.min(RECENT_AUDIO_SAMPLES)
    }

    /// Counts `n` samples, keeping them when they are not silence.
    pub(crate) fn advance(&mut self, n: usize, samples: Option<Vec<i16>>) {
        if let Some(samples) = samples.filter(|s| s.iter().any(|v| *v != 0)) {
            self.chunks.push_back((self.position, samples));
        }
        self.position += n as u64;
        let oldest = self.position.saturating_sub(RECENT_AUDIO_SAMPLES as u64);
        while self.chunks.front().is_some_and(|(start, s)| start + s.len() as u64 <= oldest) {
            self.chunks.pop_front();
        }
    }

    /// The `n` samples from position `start`, silence filled in; `None` when all of them are
    /// silence (or older than the window).
    fn range(&self, start: u64, n: usize) -> Option<Vec<i16>> {
        let end = start + n as u64;
        let mut out: Option<Vec<i16>> = None;
        for (chunk_start, samples) in &self.chunks {
            let chunk_end = chunk_start + samples.len() as u64;
            if chunk_end <= start || *chunk_start >= end {
                continue;
            }
            let out = out.get_or_insert_with(|| vec![0; n]);
            let from = start.max(*chunk_start);
            let to = end.min(chunk_end);
            out[(from - start) as usize..(to - start) as usize]
                .copy_from_slice(&samples[(from - chunk_start) as usize..(to - chunk_start) as usize]);
        }
        out
    }

    /// The last `n` samples (at most the window), silence filled in.
    pub(crate) fn recent(&self, n: usize) -> Vec<i16> {
        let n = n.min(RECENT_AUDIO_SAMPLES).min(self.position as usize);
        self.range(self.position - n as u64, n).unwrap_or_else(|| vec![0; n])
    }
}

impl Phone {
    /// A new receiver of the phone's sound: Opus packets of 20 ms, sounding frames only, each
    /// with its position (48 kHz samples since boot) for RTP timestamps.
    pub fn subscribe_audio(self: &Arc<Self>) -> broadcast::Receiver<Arc<AudioPacket>> {
        let mut streaming = self.audio_streaming.lock().unwrap_or_else(|p| p.into_inner());
        // Subscribed under the flag's lock: the stream thread checks for listeners under it too,
        // so it cannot leave just as this listener arrives.
        let receiver = self.audio.subscribe();
        if !*streaming {
            let weak = Arc::downgrade(self);
            let spawned =
                std::thread::Builder::new().name(format!("audio-{}", self.id)).spawn(move || stream_thread(weak));
            match spawned {
                Ok(_) => *streaming = true,
                Err(e) => tracing::error!(phone = %self.id, error = %e, "cannot start the audio stream"),
            }
        }
        receiver
    }
}

/// Cuts, encodes and sends the phone's sound while anyone listens; ends with the last listener
/// or the phone.
fn stream_thread(phone: Weak<Phone>) {
    let mut encoder = match AudioEncoder::new(AUDIO_BITRATE) {
        Ok(encoder) => encoder,
        Err(e) => {
            tracing::error!(error = %e, "no audio encoder");
            if let Some(phone) = phone.upgrade() {
                *phone.audio_streaming.lock().unwrap_or_else(|p| p.into_inner()) = false;
            }
            return;
        }
    };
    // The next frame to send; `None` until the first look (the stream starts at "now").
    let mut next: Option<u64> = None;
    // Whether the last frame looked at was silent: the encoder then starts afresh.
    let mut after_gap = true;
    loop {
        let Some(phone) = phone.upgrade() else { return };
        {
            let mut streaming = phone.audio_streaming.lock().unwrap_or_else(|p| p.into_inner());
            if phone.audio.receiver_count() == 0 || phone.retired.load(Ordering::Acquire) {
                *streaming = false;
                return;
            }
        }
        phone.drain_audio();
        let frames: Vec<(u64, Option<Vec<i16>>)> = {
            let log = phone.audio_out.lock().unwrap_or_else(|p| p.into_inner());
            let mut at = next.unwrap_or(log.position - log.position % FRAME_SAMPLES as u64);
            let mut frames = Vec::new();
            while at + FRAME_SAMPLES as u64 <= log.position {
                frames.push((at, log.range(at, FRAME_SAMPLES)));
                at += FRAME_SAMPLES as u64;
            }
            next = Some(at);
            frames
        };
        for (position, samples) in frames {
            let Some(samples) = samples else {
                after_gap = true;
                continue;
            };
            if std::mem::take(&mut after_gap) {
                let _ = encoder.reset();
            }
            match encoder.encode(&samples) {
                Ok(data) => {
                    phone.audio_packets.fetch_add(1, Ordering::Relaxed);
                    let _ = phone.audio.send(Arc::new(AudioPacket { data, position }));
                }
                Err(e) => tracing::warn!(phone = %phone.id, error = %e, "audio encoding failed"),
            }
        }
        drop(phone);
        std::thread::sleep(FRAME_TIME);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_keeps_sound_with_its_position_and_counts_silence() {
        let mut log = AudioLog::new();
        log.advance(100, None);
        log.advance(4, Some(vec![1, 2, 3, 4]));
        log.advance(50, Some(vec![0; 50]));
        assert_eq!(log.position, 154);
        assert_eq!(log.range(0, 100), None, "silence is not stored");
        assert_eq!(log.range(98, 8), Some(vec![0, 0, 1, 2, 3, 4, 0, 0]));
        assert_eq!(log.range(104, 50), None);
        assert_eq!(log.recent(6), vec![0; 6]);
        assert_eq!(log.recent(56)[2..6], [1, 2, 3, 4]);
        assert_eq!(log.chunks.len(), 1, "silence is not stored");
        // Past the window, sound is forgotten; the recording still has the window's length.
        log.advance(RECENT_AUDIO_SAMPLES, None);
        assert_eq!(log.range(100, 4), None);
        assert!(log.chunks.is_empty());
        assert_eq!(log.recent(usize::MAX).len(), RECENT_AUDIO_SAMPLES);
    }
}
