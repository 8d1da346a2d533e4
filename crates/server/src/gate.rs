//! The upstream gate: every message a viewer sends passes here before it reaches the phone.
//!
//! A session is opened with the input categories it may send; anything else is refused with
//! a typed error and counted. The privacy layer's consent rules will plug in here.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use cloudphone_gateway::PhoneLink;
use cloudphone_host::Phone;
use cloudphone_media::EncodedFrame;
use cloudphone_protocol::control::InputCategory;
use cloudphone_protocol::{ApiError, ControlMessage, ErrorCode};
use tokio::sync::broadcast;

/// A viewer's connection to one phone, gated by the categories the session allows.
pub struct GatedPhone {
    phone: Arc<Phone>,
    allowed: BTreeSet<InputCategory>,
    refused: AtomicU64,
}

impl GatedPhone {
    /// Gates `phone` to the `allowed` categories.
    pub fn new(phone: Arc<Phone>, allowed: BTreeSet<InputCategory>) -> GatedPhone {
        GatedPhone { phone, allowed, refused: AtomicU64::new(0) }
    }

    /// How many messages the gate refused so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

impl PhoneLink for GatedPhone {
    fn subscribe_video(&self) -> broadcast::Receiver<Arc<EncodedFrame>> {
        self.phone.subscribe_video()
    }

    fn request_keyframe(&self) {
        self.phone.request_keyframe();
    }

    fn deliver(&self, message: ControlMessage) -> Result<(), ApiError> {
        let category = message.category();
        if !self.allowed.contains(&category) {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(ApiError::with_message(
                ErrorCode::ControlNotAllowed,
                format!("this session may not send {} input", category.as_str()),
            ));
        }
        self.phone.inject(&message).map_err(|e| ApiError::with_message(ErrorCode::ControlRejected, e.to_string()))
    }
}
