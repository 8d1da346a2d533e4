//! The upstream gate: every message a viewer sends (control messages, camera pictures,
//! microphone samples) passes here before it reaches the phone.
//!
//! A session is opened with the input categories it may send; anything else is refused with
//! a typed error and counted. The privacy layer's consent rules will plug in here.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use cloudphone_device::virtual_phone::media::CameraFrame;
use cloudphone_gateway::{PhoneLink, UpstreamMedia};
use cloudphone_host::Phone;
use cloudphone_media::{AudioPacket, EncodedFrame};
use cloudphone_protocol::control::{ControlEvent, InputCategory};
use cloudphone_protocol::quality::StreamQuality;
use cloudphone_protocol::{ApiError, ControlMessage, ErrorCode};
use tokio::sync::broadcast;

/// A viewer's connection to one phone, gated by the categories the session allows; with group
/// control, the phones that get a copy of its touches, keys and text.
pub struct GatedPhone {
    phone: Arc<Phone>,
    allowed: BTreeSet<InputCategory>,
    group: Vec<Arc<Phone>>,
    refused: AtomicU64,
}

/// The input group control mirrors: what drives an app, not personal data or messages.
const MIRRORED: [InputCategory; 3] = [InputCategory::Touch, InputCategory::Key, InputCategory::Text];

impl GatedPhone {
    /// Gates `phone` to the `allowed` categories, mirroring input to `group`.
    pub fn new(phone: Arc<Phone>, allowed: BTreeSet<InputCategory>, group: Vec<Arc<Phone>>) -> GatedPhone {
        GatedPhone { phone, allowed, group, refused: AtomicU64::new(0) }
    }

    /// Refuses (and counts) what the session was not opened for.
    fn check(&self, category: InputCategory) -> Result<(), ApiError> {
        if self.allowed.contains(&category) {
            return Ok(());
        }
        self.refused.fetch_add(1, Ordering::Relaxed);
        Err(ApiError::with_message(
            ErrorCode::ControlNotAllowed,
            format!("this session may not send {} input", category.as_str()),
        ))
    }

    /// How many messages the gate refused so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

impl PhoneLink for GatedPhone {
    fn subscribe_video(&self, quality: StreamQuality) -> Option<broadcast::Receiver<Arc<EncodedFrame>>> {
        self.phone.subscribe_video(quality)
    }

    fn request_keyframe(&self, quality: StreamQuality) {
        self.phone.request_keyframe(quality);
    }

    fn screen_size(&self) -> (u32, u32) {
        self.phone.screen_size()
    }

    fn deliver(&self, message: ControlMessage) -> Result<(), ApiError> {
        // Session control (quality) is the gateway's own business and never comes here.
        let category = message.category().ok_or_else(|| {
            ApiError::with_message(ErrorCode::ControlRejected, "session control is not for the phone")
        })?;
        self.check(category)?;
        self.phone.inject(&message).map_err(rejected)?;
        // Touch coordinates travel with the viewer's picture size, so each phone scales them
        // to its own screen. A member that refuses (stopped since) just misses this one.
        if MIRRORED.contains(&category) {
            for member in &self.group {
                if let Err(e) = member.inject(&message) {
                    tracing::debug!(phone = member.id(), error = %e, "group member refused mirrored input");
                }
            }
        }
        Ok(())
    }

    fn deliver_media(&self, media: UpstreamMedia) -> Result<(), ApiError> {
        self.check(media.category())?;
        match media {
            UpstreamMedia::Camera(p) => {
                self.phone.feed_camera(CameraFrame { width: p.width, height: p.height, rgba: p.rgba })
            }
            UpstreamMedia::Microphone(samples) => {
                self.phone.feed_microphone(&samples, cloudphone_media::audio::SAMPLE_RATE)
            }
        }
        .map_err(rejected)
    }

    fn subscribe_audio(&self) -> broadcast::Receiver<Arc<AudioPacket>> {
        self.phone.subscribe_audio()
    }

    fn subscribe_events(&self) -> broadcast::Receiver<ControlEvent> {
        self.phone.subscribe_events()
    }

    /// The phone's clipboard goes down only to sessions opened for the clipboard: it is the
    /// same personal data in the other direction. Likewise apps' messages, to sessions opened
    /// for app messages.
    fn may_receive(&self, event: &ControlEvent) -> bool {
        match event {
            ControlEvent::Clipboard { .. } => self.allowed.contains(&InputCategory::Clipboard),
            ControlEvent::AppMessage { .. } => self.allowed.contains(&InputCategory::AppMessage),
            _ => true,
        }
    }
}

/// The phone refused what the gate let through (a bad key name, a package not installed).
fn rejected(e: cloudphone_host::DeviceError) -> ApiError {
    ApiError::with_message(ErrorCode::ControlRejected, e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloudphone_host::DeviceHost;
    use cloudphone_protocol::control::{KeyAction, TouchAction};

    #[tokio::test]
    async fn only_allowed_categories_reach_the_phone() {
        let dir = tempfile::tempdir().unwrap();
        let host = DeviceHost::new(dir.path());
        let phone = host.create("cp-gate", &cloudphone_device::PhoneState::for_seed("cp-gate")).unwrap();
        let gate = GatedPhone::new(
            phone.clone(),
            [InputCategory::Touch, InputCategory::Key].into_iter().collect(),
            Vec::new(),
        );

        // Open Notes by touch (allowed), then try to type (not allowed).
        for action in [TouchAction::Down, TouchAction::Up] {
            let touch = ControlMessage::Touch { action, pointer_id: 0, x: 270.0, y: 240.0, width: 720, height: 1280 };
            gate.deliver(touch).unwrap();
        }
        let refused = gate.deliver(ControlMessage::Text { text: "secret".into() }).unwrap_err();
        assert_eq!(refused.code, ErrorCode::ControlNotAllowed);
        assert_eq!(gate.refused(), 1);
        assert_eq!(phone.shell("input text visible").unwrap().exit_code, 0);

        // An allowed category the phone itself refuses comes back as control.rejected.
        let bad_key = ControlMessage::Key { action: KeyAction::Press, keycode: "KEYCODE_NOPE".into() };
        assert_eq!(gate.deliver(bad_key).unwrap_err().code, ErrorCode::ControlRejected);
        // Only the shell's text reached the Notes field (the phone persists it).
        let state: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("phones/cp-gate/state.json")).unwrap()).unwrap();
        assert_eq!(state["notes"], "visible");
    }
}
