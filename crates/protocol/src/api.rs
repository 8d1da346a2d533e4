//! The JSON bodies of the OpenAPI, shared by the server and its clients.

use serde::{Deserialize, Serialize};

use crate::InstanceStatus;
use crate::control::InputCategory;

/// `POST /v1/instances` body (all optional; an empty body creates one phone).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CreateInstances {
    /// How many phones to create (1 to 100, default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
}

/// An instance (a cloud phone).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Instance {
    /// Opaque id.
    pub id: String,
    /// Lifecycle state.
    pub status: InstanceStatus,
    /// The same state as a VMOS `padStatus` code.
    pub pad_status: u16,
    /// Creation time, RFC 3339 UTC.
    pub created_at: String,
    /// Last status change, RFC 3339 UTC.
    pub updated_at: String,
}

/// A list of instances (`GET /v1/instances`, and what `POST /v1/instances` created).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct InstanceList {
    /// The instances, oldest first.
    pub instances: Vec<Instance>,
}

/// `POST /v1/instances/{id}/shell` body.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ShellRequest {
    /// The command line, as `adb shell '<line>'` takes it.
    pub command: String,
}

/// What a shell command printed and its exit status.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ShellResult {
    /// Exit status (127: command not found).
    pub exit_code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// `POST /v1/instances/{id}/sessions` body.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CreateSession {
    /// Input categories the viewer may send; default all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow: Option<Vec<InputCategory>>,
}

/// What a viewer needs to open a session.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionGrant {
    /// The instance it opens.
    pub instance_id: String,
    /// The bearer token for the signalling request (short-lived).
    pub session_token: String,
    /// When the token expires, RFC 3339 UTC.
    pub expires_at: String,
    /// Where to POST the SDP offer.
    pub signalling_url: String,
    /// A page that shows the phone (the token travels in the URL fragment, never to servers).
    pub view_url: String,
    /// The input categories the session may send.
    pub allow: Vec<InputCategory>,
}

/// Signalling request body (`POST /v1/signalling/offer`, `Authorization: Bearer <token>`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SignallingOffer {
    /// Always `"offer"` when present.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The SDP offer, with the viewer's ICE candidates.
    pub sdp: String,
}

/// Signalling answer body.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SignallingAnswer {
    /// Always `"answer"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The SDP answer with the gateway's candidate.
    pub sdp: String,
    /// The instance the session shows.
    pub instance_id: String,
}
