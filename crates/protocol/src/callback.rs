//! Callbacks: the events the platform POSTs to a tenant's callback URL, how they are signed and
//! how failed deliveries are retried. `docs/callbacks.md` is the developer-facing version.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The header carrying the signature: `t=<unix seconds>,v1=<hex HMAC-SHA256>`.
pub const SIGNATURE_HEADER: &str = "X-CP-Callback-Signature";
/// The header carrying the event id (the same on every redelivery: deduplicate on it).
pub const EVENT_ID_HEADER: &str = "X-CP-Event-Id";
/// The header carrying the delivery id (one per delivery of an event).
pub const DELIVERY_ID_HEADER: &str = "X-CP-Delivery-Id";
/// The business code of an instance status change (VMOS `taskBusinessType` 999).
pub const INSTANCE_STATUS_CODE: u16 = 999;
/// How long a delivery is retried before it is given up: a day and an hour.
pub const RETRY_WINDOW_MS: i64 = 25 * 60 * 60 * 1000;
/// The first retry's delay; each next one doubles, up to [`MAX_RETRY_DELAY_MS`].
pub const FIRST_RETRY_DELAY_MS: i64 = 1000;
/// The longest delay between two attempts.
pub const MAX_RETRY_DELAY_MS: i64 = 60 * 60 * 1000;
/// How far a receiver should accept a signature's time from its own clock.
pub const SIGNATURE_TOLERANCE_S: i64 = 300;

/// What an event reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum EventType {
    /// A task ended (`data.task` is the task).
    #[serde(rename = "task.ended")]
    TaskEnded,
    /// A phone's status changed (`data.status`, `data.pad_status`).
    #[serde(rename = "instance.status")]
    InstanceStatus,
    /// Sent by `POST /v1/callback/test`.
    #[serde(rename = "ping")]
    Ping,
}

impl EventType {
    /// The dotted name used in JSON and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::TaskEnded => "task.ended",
            EventType::InstanceStatus => "instance.status",
            EventType::Ping => "ping",
        }
    }
}

/// The JSON body of a callback.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    /// Unique and stable across redeliveries; ordered by creation.
    pub event_id: String,
    /// What happened.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// The stable numeric code: 999 for status changes, the task kind's code for task ends.
    pub business_code: u16,
    /// The tenant it belongs to.
    pub tenant_id: String,
    /// The phone it is about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// When it happened, RFC 3339 UTC.
    pub created_at: String,
    /// The details (a task, or a status).
    pub data: serde_json::Value,
}

/// The signature header's value for `body` sent at `timestamp` (unix seconds).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", hex::encode(mac(secret, timestamp, body)))
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// Why a receiver refuses a callback.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The header is not `t=…,v1=…`.
    #[error("the signature header is malformed")]
    Malformed,
    /// The time is too far from the receiver's clock (a replay, or a wrong clock).
    #[error("the signature time is outside the tolerance")]
    Stale,
    /// The MAC does not match.
    #[error("the signature does not match the body")]
    Mismatch,
}

/// Checks a callback as a receiver should: the header parses, its time is within
/// [`SIGNATURE_TOLERANCE_S`] of `now` (unix seconds), and the MAC matches, compared in
/// constant time.
pub fn verify(secret: &str, header: &str, body: &[u8], now: i64) -> Result<(), VerifyError> {
    let mut timestamp = None;
    let mut signature = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signature = hex::decode(value).ok(),
            _ => {}
        }
    }
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(VerifyError::Malformed);
    };
    if (now - timestamp).abs() > SIGNATURE_TOLERANCE_S {
        return Err(VerifyError::Stale);
    }
    let mut check = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    check.update(timestamp.to_string().as_bytes());
    check.update(b".");
    check.update(body);
    check.verify_slice(&signature).map_err(|_| VerifyError::Mismatch)
}

/// How long to wait after the `attempt`-th failed attempt (1-based): 1 s, 2 s, 4 s, … up to an
/// hour. The caller adds jitter.
pub fn retry_delay_ms(attempt: u32) -> i64 {
    let exponent = attempt.saturating_sub(1).min(30);
    (FIRST_RETRY_DELAY_MS << exponent).min(MAX_RETRY_DELAY_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Vector {
        secret: String,
        timestamp: i64,
        body: String,
        header: String,
    }

    #[test]
    fn signature_matches_the_shared_vector() {
        let vector: Vector = serde_json::from_str(include_str!("../vectors/callback.json")).unwrap();
        let header = sign(&vector.secret, vector.timestamp, vector.body.as_bytes());
        assert_eq!(header, vector.header);
        assert_eq!(verify(&vector.secret, &header, vector.body.as_bytes(), vector.timestamp + 10), Ok(()));
    }

    #[test]
    fn verify_refuses_what_it_must() {
        let header = sign("s3cret", 1_700_000_000, b"{}");
        assert_eq!(verify("s3cret", &header, b"{} ", 1_700_000_000), Err(VerifyError::Mismatch));
        assert_eq!(verify("other", &header, b"{}", 1_700_000_000), Err(VerifyError::Mismatch));
        assert_eq!(verify("s3cret", &header, b"{}", 1_700_000_000 + 301), Err(VerifyError::Stale));
        assert_eq!(verify("s3cret", "v1=00", b"{}", 1_700_000_000), Err(VerifyError::Malformed));
        assert_eq!(verify("s3cret", "t=1,v1=zz", b"{}", 1), Err(VerifyError::Malformed));
    }

    #[test]
    fn retries_back_off_to_an_hour_and_cover_a_day() {
        assert_eq!(retry_delay_ms(1), 1000);
        assert_eq!(retry_delay_ms(2), 2000);
        assert_eq!(retry_delay_ms(13), MAX_RETRY_DELAY_MS);
        assert_eq!(retry_delay_ms(u32::MAX), MAX_RETRY_DELAY_MS);
        // Attempts keep coming for the whole window: about 36 of them.
        let mut elapsed = 0;
        let mut attempts = 1;
        while elapsed + retry_delay_ms(attempts) <= RETRY_WINDOW_MS {
            elapsed += retry_delay_ms(attempts);
            attempts += 1;
        }
        assert!(elapsed >= 24 * 60 * 60 * 1000, "retries span at least 24 h");
        assert!((30..40).contains(&attempts), "{attempts} attempts");
    }
}
