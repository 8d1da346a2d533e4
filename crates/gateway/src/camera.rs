//! A session's camera: the viewer's H.264 decoded on a thread of its own and passed to the gate.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use cloudphone_media::VideoDecoder;
use cloudphone_protocol::{ApiError, ErrorCode};

use crate::{GatewayTotals, PhoneLink, UpstreamMedia};

/// Access units waiting for the camera thread; more are dropped (and a keyframe asked for)
/// rather than queued: a camera is live, old pictures are worthless.
const CAMERA_QUEUE: usize = 4;

/// A session's camera decoding thread.
pub(crate) struct CameraFeed {
    pub(crate) units: std::sync::mpsc::SyncSender<Arc<[u8]>>,
    /// Microseconds spent decoding and pictures decoded since the last statistics report.
    decoding: Arc<(AtomicU64, AtomicU64)>,
}

/// What the camera thread tells its session.
#[derive(Debug)]
pub(crate) enum CameraNote {
    /// A picture could not be decoded (lost packets): ask the viewer for a keyframe.
    NeedKeyframe,
    /// The gate refused the camera; the thread has stopped.
    Refused(ApiError),
}

impl CameraFeed {
    /// The mean time to decode a picture since the last call, milliseconds (none decoded: `None`).
    pub(crate) fn take_decode_ms(&self) -> Option<f64> {
        let us = self.decoding.0.swap(0, Ordering::Relaxed);
        let pictures = self.decoding.1.swap(0, Ordering::Relaxed);
        (pictures > 0).then(|| us as f64 / 1000.0 / pictures as f64)
    }

    /// Starts a thread that decodes the viewer's camera and passes pictures to the gate.
    pub(crate) fn start(
        link: Arc<dyn PhoneLink>,
        notes: tokio::sync::mpsc::UnboundedSender<CameraNote>,
        totals: Arc<GatewayTotals>,
    ) -> std::io::Result<CameraFeed> {
        let (units, queue) = std::sync::mpsc::sync_channel::<Arc<[u8]>>(CAMERA_QUEUE);
        let decoding = Arc::new((AtomicU64::new(0), AtomicU64::new(0)));
        let counters = decoding.clone();
        std::thread::Builder::new().name("camera-decoder".into()).spawn(move || {
            let mut decoder = match VideoDecoder::new() {
                Ok(decoder) => decoder,
                Err(e) => {
                    let _ = notes.send(CameraNote::Refused(ApiError::with_message(ErrorCode::Internal, e.to_string())));
                    return;
                }
            };
            // Ends when the session drops its sender.
            while let Ok(unit) = queue.recv() {
                let started = Instant::now();
                let decoded = decoder.decode(&unit);
                if let Ok(Some(_)) = decoded {
                    counters.0.fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
                    counters.1.fetch_add(1, Ordering::Relaxed);
                }
                match decoded {
                    Ok(Some(picture)) => {
                        if let Err(e) = link.deliver_media(UpstreamMedia::Camera(picture)) {
                            let _ = notes.send(CameraNote::Refused(e));
                            return;
                        }
                        totals.camera_frames_received.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::debug!(error = %e, "camera picture not decodable");
                        let _ = notes.send(CameraNote::NeedKeyframe);
                    }
                }
            }
        })?;
        Ok(CameraFeed { units, decoding })
    }
}
