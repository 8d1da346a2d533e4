//! The wire contract of cloudphone, defined once and shared by the server, the device side
//! and the SDKs.
//!
//! - [`audio`]: the API's WAV files and dBFS levels;
//! - [`error`]: the one error catalogue (stable string codes, HTTP statuses, messages);
//! - [`signing`]: the AK/SK request signature of the OpenAPI;
//! - [`control`]: messages a viewer sends to a phone over the control data channel;
//! - [`quality`]: stream quality profiles (VMOS ids) and the bitrate ladder;
//! - [`status`]: instance lifecycle states;
//! - [`task`]: task kinds, statuses and their VMOS codes;
//! - [`callback`]: callback events, their signature and retry schedule.
//!
//! Everything here is plain data and pure functions: no I/O, no clocks.

pub mod api;
pub mod audio;
pub mod callback;
pub mod control;
pub mod error;
pub mod quality;
pub mod signing;
pub mod status;
pub mod task;

pub use control::ControlMessage;
pub use error::{ApiError, ErrorCode};
pub use status::InstanceStatus;
pub use task::{TaskKind, TaskStatus, TaskView};

/// A unix time in milliseconds as RFC 3339 UTC (`2026-11-23T10:00:00.123Z`), the one time format
/// of every JSON body. Out-of-range times give an empty string rather than a panic.
pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}
