//! The error catalogue: every failure the platform reports to a client has one entry here.
//!
//! The wire form is `{"error": {"code": "<code>", "message": "<text>"}}` with the entry's HTTP
//! status. Codes are stable strings: clients match on them, never on messages.
//! `docs/errors.md` is generated from [`ErrorCode::ALL`] (a test keeps it in step).

use serde::{Deserialize, Serialize};

macro_rules! catalogue {
    ($( $(#[$doc:meta])* $variant:ident = ($code:literal, $status:literal, $message:literal), )*) => {
        /// One entry of the error catalogue.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
        }

        impl ErrorCode {
            /// Every entry, in catalogue order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The stable string code clients match on.
            pub fn code(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)* }
            }

            /// The HTTP status this error is answered with.
            pub fn http_status(self) -> u16 {
                match self { $(ErrorCode::$variant => $status,)* }
            }

            /// The default human-readable message.
            pub fn message(self) -> &'static str {
                match self { $(ErrorCode::$variant => $message,)* }
            }

            /// Looks an entry up by its string code.
            pub fn from_code(code: &str) -> Option<ErrorCode> {
                match code { $($code => Some(ErrorCode::$variant),)* _ => None }
            }
        }
    };
}

catalogue! {
    /// A required authentication header is absent.
    AuthMissing = ("auth.missing", 401, "authentication headers X-CP-Access-Key, X-CP-Timestamp, X-CP-Nonce and X-CP-Signature are required"),
    /// The access key is not known (or disabled).
    AuthUnknownKey = ("auth.unknown_key", 401, "the access key is not known"),
    /// The timestamp is malformed or outside the accepted window.
    AuthExpiredTimestamp = ("auth.expired_timestamp", 401, "the request timestamp is outside the accepted window of 300 seconds"),
    /// The nonce was already used inside the window.
    AuthReplayedNonce = ("auth.replayed_nonce", 401, "the nonce was already used; every request needs a fresh one"),
    /// The nonce is empty, too long or has characters outside the allowed set.
    AuthInvalidNonce = ("auth.invalid_nonce", 401, "the nonce must be 1 to 64 characters of A-Z a-z 0-9 - _ ."),
    /// The signature does not match the request.
    AuthBadSignature = ("auth.bad_signature", 401, "the signature does not match the request"),
    /// The access key was disabled (rotated or revoked).
    AuthKeyDisabled = ("auth.key_disabled", 401, "the access key is disabled"),
    /// The caller's tenant may not do this (tenant and key management needs an admin tenant).
    Forbidden = ("auth.forbidden", 403, "this tenant may not do this"),
    /// No tenant with that id.
    TenantNotFound = ("tenant.not_found", 404, "the tenant does not exist"),
    /// No access key with that id.
    KeyNotFound = ("key.not_found", 404, "the access key does not exist"),
    /// A session token is unknown, expired or for another phone.
    SessionTokenInvalid = ("session.token_invalid", 401, "the session token is unknown or expired"),
    /// The body is not valid JSON of the expected shape.
    InvalidBody = ("request.invalid_body", 400, "the request body is not valid JSON of the expected shape"),
    /// The body has a field the endpoint does not know (a typo, or a newer client).
    UnknownField = ("request.unknown_field", 400, "the request body has a field this endpoint does not take"),
    /// A field of the body has the wrong JSON type (a string for a number, say).
    WrongType = ("request.wrong_type", 400, "a field of the request body has the wrong type"),
    /// A required field of the body is absent.
    MissingField = ("request.missing_field", 400, "a required field of the request body is missing"),
    /// The body is larger than the endpoint accepts.
    BodyTooLarge = ("request.body_too_large", 413, "the request body is larger than this endpoint accepts"),
    /// A parameter has a value outside its allowed range.
    InvalidParameter = ("request.invalid_parameter", 400, "a parameter has an invalid value"),
    /// A pagination cursor that this server did not issue (or from another list).
    InvalidCursor = ("request.invalid_cursor", 400, "the cursor is not valid for this list"),
    /// No route matches the path.
    RouteNotFound = ("request.route_not_found", 404, "no endpoint at this path"),
    /// The route exists but not for this HTTP method.
    MethodNotAllowed = ("request.method_not_allowed", 405, "this endpoint does not accept this HTTP method"),
    /// The instance does not exist (or belongs to another tenant).
    InstanceNotFound = ("instance.not_found", 404, "the instance does not exist"),
    /// The instance exists but is not running.
    InstanceNotRunning = ("instance.not_running", 409, "the instance is not running"),
    /// A property or setting value does not have its key's format.
    PropertyInvalid = ("property.invalid", 400, "a property value is invalid"),
    /// The key is in a namespace only the system writes, or unknown there.
    PropertyReadOnly = ("property.read_only", 400, "the property cannot be set"),
    /// No device model of that name in the catalogue.
    UnknownModel = ("catalogue.unknown_model", 400, "no device model of that name in the catalogue"),
    /// No country of that code.
    UnknownCountry = ("catalogue.unknown_country", 400, "no country of that code"),
    /// The uploaded file is not a usable APK.
    AppInvalidApk = ("app.invalid_apk", 400, "the file is not a valid APK"),
    /// The APK needs a newer Android than the phone has.
    AppOlderSdk = ("app.older_sdk", 400, "the APK needs a newer Android version"),
    /// A lower versionCode than the installed one.
    AppVersionDowngrade = ("app.version_downgrade", 409, "the APK is older than the installed version"),
    /// A system package cannot be replaced or removed.
    AppSystemPackage = ("app.system_package", 409, "system packages cannot be replaced or removed"),
    /// No such package on the phone.
    AppNotInstalled = ("app.not_installed", 404, "the package is not installed"),
    /// No such activity in the package.
    AppNoActivity = ("app.no_activity", 404, "the activity does not exist"),
    /// No file or folder at that path in the phone.
    FileNotFound = ("file.not_found", 404, "no such file or folder"),
    /// A folder where a file was expected.
    FileIsDirectory = ("file.is_directory", 400, "the path is a folder"),
    /// A file where a folder was expected.
    FileNotDirectory = ("file.not_directory", 400, "a part of the path is a file"),
    /// Outside the writable areas (/sdcard, /data/local/tmp, app data).
    FileReadOnly = ("file.read_only", 403, "the path is on a read-only part of the phone"),
    /// A folder that is not empty (give recursive=true).
    FileNotEmpty = ("file.not_empty", 409, "the folder is not empty"),
    /// The path crosses a link the sandbox does not follow.
    FileDenied = ("file.denied", 403, "permission denied"),
    /// A sensor reading, location fix or clipboard text is out of range.
    DeviceInputInvalid = ("device.invalid_input", 400, "the value is outside what the phone accepts"),
    /// A playback script (sensor CSV, GPX) cannot be read; the message says where.
    PlaybackInvalidScript = ("playback.invalid_script", 400, "the playback script is invalid"),
    /// The shell command is empty.
    ShellEmptyCommand = ("shell.empty_command", 400, "the shell command is empty"),
    /// The phone or the tenant has as many viewer sessions open as it may.
    SessionLimitReached = ("session.limit_reached", 429, "too many viewer sessions are open; close one first"),
    /// The WebRTC offer could not be accepted.
    SignallingBadOffer = ("signalling.bad_offer", 400, "the SDP offer could not be accepted"),
    /// A control-channel message is not valid JSON of a known type.
    ControlInvalidMessage = ("control.invalid_message", 400, "the control message is not valid"),
    /// The phone refused a control message (unknown key, coordinates out of range).
    ControlRejected = ("control.rejected", 422, "the phone refused the input"),
    /// The session was not opened for this category of input.
    ControlNotAllowed = ("control.not_allowed", 403, "this session may not send this kind of input"),
    /// Too many requests from this access key; wait as `Retry-After` says.
    RateLimited = ("request.rate_limited", 429, "too many requests for this access key; retry after the time in Retry-After"),
    /// No task with that id (or it belongs to another tenant).
    TaskNotFound = ("task.not_found", 404, "the task does not exist"),
    /// Only pending tasks (and batches with pending children) can be cancelled.
    TaskNotCancellable = ("task.not_cancellable", 409, "the task is running or has ended and cannot be cancelled"),
    /// The server stopped while the task ran, and the task is not safe to run twice.
    TaskInterrupted = ("task.interrupted", 500, "the server stopped while the task ran; it was not run again because it may not be safe to repeat"),
    /// The task was cancelled before it ran (by the caller, or with its batch).
    TaskCancelled = ("task.cancelled", 409, "the task was cancelled before it ran"),
    /// Some of a batch's tasks did not succeed (the batch's `result` counts them).
    TaskBatchFailed = ("task.batch_failed", 409, "some of the batch's tasks did not succeed"),
    /// A result was asked of a task that is still pending or running.
    TaskNotEnded = ("task.not_ended", 409, "the task has not ended yet"),
    /// The task ran past its deadline.
    TaskTimedOut = ("task.timeout", 504, "the task did not finish before its deadline"),
    /// The tenant has no callback URL configured.
    CallbackNotConfigured = ("callback.not_configured", 404, "no callback URL is configured"),
    /// No delivery with that id (or it belongs to another tenant).
    DeliveryNotFound = ("callback.delivery_not_found", 404, "the callback delivery does not exist"),
    /// Something failed inside the server; the message says what.
    Internal = ("internal", 500, "internal error"),
}

/// An error as it travels on the wire: a catalogue entry plus a specific message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// The catalogue entry.
    pub code: ErrorCode,
    /// A message for humans, more specific than the catalogue's default when useful.
    pub message: String,
}

impl ApiError {
    /// An error with the catalogue's default message.
    pub fn new(code: ErrorCode) -> Self {
        ApiError { code, message: code.message().to_owned() }
    }

    /// An error with a specific message.
    pub fn with_message(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into() }
    }

    /// The JSON body `{"error": {"code", "message"}}`.
    pub fn to_body(&self) -> ErrorBody {
        ErrorBody { error: ErrorDetail { code: self.code.code().to_owned(), message: self.message.clone() } }
    }
}

impl From<ErrorCode> for ApiError {
    fn from(code: ErrorCode) -> Self {
        ApiError::new(code)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.code(), self.message)
    }
}

impl std::error::Error for ApiError {}

/// The JSON envelope of an error response.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// The error itself.
    pub error: ErrorDetail,
}

/// The inside of [`ErrorBody`]; `code` is kept as a string so clients of an older version
/// still read codes added later.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// The stable string code.
    pub code: String,
    /// The human-readable message.
    pub message: String,
}

/// Renders the catalogue as the Markdown of `docs/errors.md`.
pub fn catalogue_markdown() -> String {
    let mut out = String::from(
        "# Error catalogue\n\n\
         Generated from `crates/protocol/src/error.rs` (`cargo run -p cloudphone-protocol --example errors-doc`);\n\
         a test fails when this file and the code differ.\n\n\
         Every error response has the body `{\"error\": {\"code\": \"...\", \"message\": \"...\"}}`.\n\
         Match on `code`; the message is for humans and may be more specific than the one below.\n\n\
         | code | HTTP status | meaning |\n| --- | --- | --- |\n",
    );
    for code in ErrorCode::ALL {
        out.push_str(&format!("| `{}` | {} | {} |\n", code.code(), code.http_status(), code.message()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.code()), "duplicate code {}", code.code());
            assert_eq!(ErrorCode::from_code(code.code()), Some(*code));
            assert!((400..600).contains(&code.http_status()));
        }
    }

    #[test]
    fn body_shape() {
        let body = ApiError::with_message(ErrorCode::InstanceNotFound, "no instance cp-1").to_body();
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(json, serde_json::json!({"error": {"code": "instance.not_found", "message": "no instance cp-1"}}));
    }

    #[test]
    fn docs_match_the_catalogue() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/errors.md");
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert_eq!(
            on_disk,
            catalogue_markdown(),
            "docs/errors.md is stale: run `cargo run -p cloudphone-protocol --example errors-doc > docs/errors.md`"
        );
    }
}
