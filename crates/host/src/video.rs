//! A phone's screen for viewers: one encoder per stream quality in use, shared by every viewer
//! of that quality.
//!
//! Each encoder is a thread fed the phone's new pictures. It encodes only while someone watches
//! and only when the screen changed or a viewer needs a keyframe (damage-driven), at most
//! `max_fps` pictures a second (a burst of changes is coalesced to the newest picture), scaled
//! to the quality's size. An encoder nobody watches is ended at the next picture. All of a
//! phone's encoders stamp pictures on one clock, so a viewer switching quality keeps a
//! monotonic RTP timeline.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use cloudphone_device::Frame;
use cloudphone_media::{EncodedFrame, EncoderSettings, VideoEncoder, scale_rgba};
use cloudphone_protocol::quality::StreamQuality;
use tokio::sync::broadcast;

/// Encoded frames buffered per viewer before a slow one skips to the next keyframe.
const VIDEO_BUFFER: usize = 32;

/// Commands for an encoder thread.
enum Command {
    Frame(Arc<Frame>),
    Keyframe,
}

struct Encoder {
    commands: mpsc::Sender<Command>,
    video: broadcast::Sender<Arc<EncodedFrame>>,
}

/// The encoders of one phone, by quality.
pub(crate) struct Encoders {
    phone: String,
    /// The one clock of every encoder's timestamps.
    epoch: Instant,
    /// Pictures encoded, the host's total.
    encoded: Arc<AtomicU64>,
    running: Mutex<HashMap<StreamQuality, Encoder>>,
}

impl Encoders {
    pub(crate) fn new(phone: &str, encoded: Arc<AtomicU64>) -> Encoders {
        Encoders { phone: phone.to_owned(), epoch: Instant::now(), encoded, running: Mutex::default() }
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<StreamQuality, Encoder>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A receiver of the stream at `quality`, starting its encoder when none runs. `None` when
    /// no thread can be started.
    pub(crate) fn subscribe(&self, quality: StreamQuality) -> Option<broadcast::Receiver<Arc<EncodedFrame>>> {
        let mut running = self.running();
        if let Some(encoder) = running.get(&quality) {
            return Some(encoder.video.subscribe());
        }
        let (commands, queue) = mpsc::channel();
        let video = broadcast::channel(VIDEO_BUFFER).0;
        let (sender, epoch, encoded) = (video.clone(), self.epoch, self.encoded.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("encoder-{}-{}p", self.phone, quality.short_side))
            .spawn(move || encoder_thread(quality, epoch, queue, sender, encoded));
        if let Err(e) = spawned {
            tracing::error!(phone = %self.phone, error = %e, "cannot start an encoder");
            return None;
        }
        let receiver = video.subscribe();
        running.insert(quality, Encoder { commands, video });
        Some(receiver)
    }

    /// Hands a new picture to every encoder, and ends the encoders nobody watches any more.
    pub(crate) fn publish(&self, frame: Arc<Frame>) {
        // Dropping an encoder's command sender ends its thread.
        self.running().retain(|_, encoder| {
            encoder.video.receiver_count() > 0 && encoder.commands.send(Command::Frame(frame.clone())).is_ok()
        });
    }

    /// Asks the encoder of `quality` for a keyframe of `frame` (the screen now).
    pub(crate) fn keyframe(&self, quality: StreamQuality, frame: Arc<Frame>) {
        if let Some(encoder) = self.running().get(&quality) {
            let _ = encoder.commands.send(Command::Frame(frame));
            let _ = encoder.commands.send(Command::Keyframe);
        }
    }

    /// The qualities being encoded now.
    pub(crate) fn qualities(&self) -> Vec<StreamQuality> {
        self.running().keys().copied().collect()
    }

    /// Ends every encoder.
    pub(crate) fn stop(&self) {
        self.running().clear();
    }
}

/// Runs one encoder: coalesces pictures to the newest, paces them to `max_fps`, encodes only
/// while someone watches, and answers keyframe requests by re-encoding the current picture.
fn encoder_thread(
    quality: StreamQuality,
    epoch: Instant,
    commands: mpsc::Receiver<Command>,
    video: broadcast::Sender<Arc<EncodedFrame>>,
    encoded: Arc<AtomicU64>,
) {
    let settings =
        EncoderSettings { bitrate_bps: quality.bitrate_kbps.saturating_mul(1000), max_fps: quality.max_fps as f32 };
    let mut encoder = VideoEncoder::new(settings);
    let interval = Duration::from_secs_f64(1.0 / f64::from(quality.max_fps.max(1)));
    let mut current: Option<Arc<Frame>> = None;
    // A picture (or a keyframe) waits to be encoded.
    let mut pending = false;
    let mut keyframe = false;
    let mut last_encode: Option<Instant> = None;
    loop {
        let due = last_encode.map(|t| t + interval).filter(|due| pending && *due > Instant::now());
        let first = match due {
            // Something waits for its time: sleep until then unless more comes.
            Some(due) => match commands.recv_timeout(due - Instant::now()) {
                Ok(command) => Some(command),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            },
            None if pending => None,
            None => match commands.recv() {
                Ok(command) => Some(command),
                Err(_) => return,
            },
        };
        for command in first.into_iter().chain(commands.try_iter()) {
            match command {
                Command::Frame(f) => current = Some(f),
                Command::Keyframe => keyframe = true,
            }
            pending = true;
        }
        if video.receiver_count() == 0 {
            // Nobody watches: spend no CPU and hold no memory. Whoever comes next asks for a
            // keyframe, which brings a fresh picture.
            (current, pending, keyframe) = (None, false, false);
            encoder.release();
            continue;
        }
        if !pending || last_encode.is_some_and(|t| t.elapsed() < interval) {
            continue;
        }
        pending = false;
        let Some(frame) = current.as_ref() else { continue };
        if std::mem::take(&mut keyframe) {
            encoder.request_keyframe();
        }
        let started = Instant::now();
        let (width, height) = quality.fit(frame.width, frame.height);
        let scaled;
        let rgba = if (width, height) == (frame.width, frame.height) {
            &frame.rgba
        } else {
            scaled = scale_rgba(&frame.rgba, frame.width, frame.height, width, height);
            &scaled
        };
        let scale_us = started.elapsed().as_micros() as u32;
        last_encode = Some(started);
        match encoder.encode(rgba, width, height, epoch.elapsed().as_micros() as u64) {
            Ok(mut picture) => {
                picture.encode_us = picture.encode_us.saturating_add(scale_us);
                encoded.fetch_add(1, Ordering::Relaxed);
                let _ = video.send(Arc::new(picture));
            }
            Err(e) => tracing::error!(error = %e, "encoding failed"),
        }
    }
}
