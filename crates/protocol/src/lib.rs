//! The wire contract of cloudphone, defined once and shared by the server, the device side
//! and the SDKs.
//!
//! - [`error`]: the one error catalogue (stable string codes, HTTP statuses, messages);
//! - [`signing`]: the AK/SK request signature of the OpenAPI;
//! - [`control`]: messages a viewer sends to a phone over the control data channel;
//! - [`status`]: instance lifecycle states.
//!
//! Everything here is plain data and pure functions: no I/O, no clocks.

pub mod api;
pub mod control;
pub mod error;
pub mod signing;
pub mod status;

pub use control::ControlMessage;
pub use error::{ApiError, ErrorCode};
pub use status::InstanceStatus;
