//! The JSON bodies of the OpenAPI, shared by the server and its clients.

use serde::{Deserialize, Serialize};

use crate::InstanceStatus;
use crate::control::InputCategory;

/// `POST /v1/instances` body (all optional; an empty body creates one phone).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateInstances {
    /// How many phones to create (1 to 100, default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// A catalogue model (model, code name or market name; default Pixel 7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// An ISO country for SIM, locale and time zone (default US).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

/// An instance (a cloud phone).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InstanceList {
    /// The instances, oldest first.
    pub instances: Vec<Instance>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `POST /v1/instances/{id}/shell` body.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ShellRequest {
    /// The command line, as `adb shell '<line>'` takes it.
    pub command: String,
}

/// What a shell command printed and its exit status.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateSession {
    /// Input categories the viewer may send; default all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow: Option<Vec<InputCategory>>,
    /// The end user the token is for (the developer's own id for them: 1 to 128 characters of
    /// `A-Z a-z 0-9 . _ : @ -`); consent and data rights attach to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_user: Option<String>,
    /// How long the token may open sessions, 60 to 86400 seconds (default 600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<u32>,
    /// A session with no input (touch, key, text, clipboard) for this long is recycled, after an
    /// `idle_warning` event: 10 to 7200 seconds (default 300; VMOS `setAutoRecycleTime`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout_seconds: Option<u32>,
    /// `controller` (default) sends input; `spectator` only watches and listens (no input
    /// category may then be allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<SessionRole>,
    /// Group control: other phones of the tenant (up to 50, running) that receive a copy of
    /// this controller's touches, keys and text, each scaled to its own screen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<Vec<String>>,
    /// The video quality sessions start at, by VMOS profile ids (default 720x1280, 30 fps,
    /// 4 Mbit/s); a `quality` message changes it mid-session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<QualityIds>,
}

/// VMOS stream profile ids (docs/protocol.md section 3); each one left out keeps the default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct QualityIds {
    /// Resolution id, 7 (144x256) to 17 (1080x1920).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<u8>,
    /// Frame-rate id, 1 to 9.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fps: Option<u8>,
    /// Bitrate id, 1 to 15.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitrate: Option<u8>,
}

/// What a session may do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SessionRole {
    /// Watches, listens and sends the input its categories allow.
    #[default]
    Controller,
    /// Watches and listens only.
    Spectator,
}

impl SessionRole {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionRole::Controller => "controller",
            SessionRole::Spectator => "spectator",
        }
    }

    /// The role named `name`; anything but `spectator` controls (the stored default).
    pub fn parse(name: &str) -> SessionRole {
        if name == SessionRole::Spectator.as_str() { SessionRole::Spectator } else { SessionRole::Controller }
    }
}

/// `POST /v1/signalling/share` (`Authorization: Bearer <session token>`): a link to the same
/// phone for someone else, no more than the sharer may do.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ShareSession {
    /// `spectator` (default), or `controller` when the sharer is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<SessionRole>,
    /// How long the link may open sessions: 60 s up to what is left of the sharer's token
    /// (default: all of it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<u32>,
}

/// `POST /v1/sessions/revoke`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RevokeSession {
    /// The token to revoke.
    pub session_token: String,
}

/// What a viewer needs to open a session.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionGrant {
    /// The instance it opens.
    pub instance_id: String,
    /// The bearer token for the signalling request (short-lived).
    pub session_token: String,
    /// When the token expires, RFC 3339 UTC.
    pub expires_at: String,
    /// Where to POST the SDP offer.
    pub signalling_url: String,
    /// Where the token's holder asks for a link to share the session
    /// (`POST`, `Authorization: Bearer <session_token>`, body [`ShareSession`]).
    pub share_url: String,
    /// A page that shows the phone (the token travels in the URL fragment, never to servers).
    pub view_url: String,
    /// The input categories the session may send.
    pub allow: Vec<InputCategory>,
    /// The end user the token is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_user: Option<String>,
    /// Seconds without input before a session is recycled.
    pub idle_timeout_seconds: u32,
    /// `controller` or `spectator`.
    pub role: SessionRole,
    /// The phones a controller's input is mirrored to (group control).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group: Vec<String>,
    /// The video quality sessions start at.
    pub quality: crate::quality::StreamQuality,
}

/// Signalling request body (`POST /v1/signalling/offer`, `Authorization: Bearer <token>`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignallingOffer {
    /// Always `"offer"` when present.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The SDP offer, with the viewer's ICE candidates.
    pub sdp: String,
}

/// Signalling answer body.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignallingAnswer {
    /// Always `"answer"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The SDP answer with the gateway's candidate.
    pub sdp: String,
    /// The instance the session shows.
    pub instance_id: String,
}

/// The SIM and radio identity.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Modem {
    /// 15 digits, the last a Luhn check digit.
    pub imei: String,
    /// 19 or 20 digits starting `89`, the last a Luhn check digit.
    pub iccid: String,
    /// MCC + MNC + subscriber number, 14 or 15 digits.
    pub imsi: String,
    /// MCC + MNC, 5 or 6 digits.
    pub mccmnc: String,
    /// Operator name.
    pub operator: String,
    /// The line's number in international form (`+4915112345678`).
    pub phone_number: String,
    /// ISO country of the SIM (lower case, as Android reports it).
    pub country_iso: String,
}

/// A Wi-Fi network the phone sees (the first one is the connected one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WifiNetwork {
    /// Network name, 1 to 32 bytes.
    pub ssid: String,
    /// Access point MAC (`aa:bb:cc:dd:ee:ff`).
    pub bssid: String,
    /// This phone's MAC on the network.
    pub mac: String,
    /// This phone's IPv4 address.
    pub ip: String,
    /// Gateway IPv4 address.
    pub gateway: String,
    /// First DNS server.
    pub dns1: String,
    /// Second DNS server.
    #[serde(default)]
    pub dns2: String,
    /// Signal level in dBm (-127 to 0).
    pub level: i32,
    /// Channel frequency in MHz (2400 to 7125).
    pub frequency: u32,
}

/// What a batch of changes did: which keys act now, which at the next boot.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChangeReport {
    /// Keys in effect now.
    pub applied: Vec<String>,
    /// Keys stored that take effect at the next boot.
    pub pending_restart: Vec<String>,
}

/// What "new device" should draw.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewDevice {
    /// A catalogue model (model, code name or market name); default: a random one.
    #[serde(default)]
    pub model: Option<String>,
    /// An ISO country code; default: the phone's current country.
    #[serde(default)]
    pub country: Option<String>,
    /// Keep apps, files, settings and notes (default: wipe them, as a new phone has none).
    #[serde(default)]
    pub keep_user_data: bool,
}

/// A phone's identity and properties (`GET /v1/instances/{id}/properties`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PropertiesView {
    /// Every system property, as `getprop` shows it now.
    pub system: std::collections::BTreeMap<String, String>,
    /// `ro.*` changes stored for the next boot.
    pub pending_restart: std::collections::BTreeMap<String, String>,
    /// The SIM and radio.
    pub modem: Modem,
    /// `Settings.Secure.ANDROID_ID`.
    pub android_id: String,
    /// Per-package SSAIDs.
    pub ssaid: std::collections::BTreeMap<String, String>,
    /// Bluetooth MAC.
    pub bluetooth_mac: String,
    /// Visible Wi-Fi networks, connected one first.
    pub wifi: Vec<WifiNetwork>,
}

/// `PATCH /v1/instances/{id}/properties`: every key is validated before any is applied.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PropertiesPatch {
    /// System properties: `ro.*` at the next boot, others (`persist.*` kept across boots) now.
    #[serde(default)]
    pub system: std::collections::BTreeMap<String, String>,
    /// Modem fields by their VMOS names: `IMEI`, `ICCID`, `IMSI`, `MCCMNC`, `OpName`, `PhoneNum`.
    #[serde(default)]
    pub modem: std::collections::BTreeMap<String, String>,
    /// Settings by their VMOS names: `android_id`, `bt/mac`, `ssaid/<package>`.
    #[serde(default)]
    pub settings: std::collections::BTreeMap<String, String>,
}

/// `PUT /v1/instances/{id}/wifi`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WifiList {
    /// The networks, connected one first (may be empty: no Wi-Fi).
    pub networks: Vec<WifiNetwork>,
}

/// `PUT /v1/instances/{id}/locale`: either or both.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LocaleRequest {
    /// BCP 47 locale, e.g. `de-DE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// IANA time zone, e.g. `Europe/Berlin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

/// One catalogue model (`GET /v1/catalogue/models`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CatalogueModel {
    /// `ro.product.model`.
    pub model: String,
    /// The name people know it by.
    pub market_name: String,
    /// `ro.product.brand`.
    pub brand: String,
    /// `ro.product.manufacturer`.
    pub manufacturer: String,
    /// `ro.product.device`.
    pub device: String,
    /// Android version.
    pub android_version: String,
    /// API level.
    pub sdk: u32,
    /// `ro.build.fingerprint`.
    pub fingerprint: String,
}

/// One country (`GET /v1/catalogue/countries`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CatalogueCountry {
    /// ISO 3166-1 alpha-2.
    pub code: String,
    /// MCC + MNC of its operator.
    pub mccmnc: String,
    /// Operator name.
    pub operator: String,
    /// Default locale.
    pub locale: String,
    /// Default time zone.
    pub timezone: String,
}

/// An app on a phone (`GET /v1/instances/{id}/apps`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppInfo {
    /// Package name.
    pub package: String,
    /// Label (default language).
    pub label: Option<String>,
    /// `versionCode`.
    pub version_code: i64,
    /// `versionName`.
    pub version_name: Option<String>,
    /// `minSdkVersion`.
    pub min_sdk: Option<u32>,
    /// `targetSdkVersion`.
    pub target_sdk: Option<u32>,
    /// Requested permissions.
    pub permissions: Vec<String>,
    /// The activity the launcher starts.
    pub launcher_activity: Option<String>,
    /// Whether it is in front now.
    pub foreground: bool,
    /// First install, RFC 3339 UTC.
    pub installed_at: String,
    /// Last update, RFC 3339 UTC.
    pub updated_at: String,
}

/// The installed apps of a phone.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppList {
    /// The apps, by package name.
    pub apps: Vec<AppInfo>,
    /// The package in front (`com.android.launcher3` on the home screen).
    pub foreground: Option<String>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `POST /v1/instances/{id}/apps/{package}/start`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StartApp {
    /// An activity (`.Settings` or fully qualified); default the launcher activity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<String>,
}

/// What was started.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StartedApp {
    /// `package/activity`.
    pub component: String,
}

/// A file or folder in a phone.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileEntry {
    /// Its name.
    pub name: String,
    /// `file` or `directory`.
    pub kind: String,
    /// Size in bytes (0 for folders).
    pub size: u64,
    /// Last change, RFC 3339 UTC.
    pub modified_at: String,
}

/// `GET /v1/instances/{id}/files?path=`: a path and, for a folder, its entries.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileListing {
    /// The resolved path (`/sdcard` is `/storage/emulated/0`).
    pub path: String,
    /// The path itself.
    pub entry: FileEntry,
    /// A folder's entries, by name.
    pub entries: Vec<FileEntry>,
    /// Pass as `cursor` (with the same `path`) for the next page of entries; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `PUT /v1/instances/{id}/files?path=`: where the upload went.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileWritten {
    /// The resolved path.
    pub path: String,
    /// Bytes written.
    pub size: u64,
}

/// `PUT /v1/instances/{id}/clipboard` and its `GET`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ClipboardText {
    /// The text.
    pub text: String,
}

/// `POST /v1/instances/{id}/sensors`: readings to feed the phone's sensors.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SensorReadings {
    /// The readings, in order.
    pub readings: Vec<crate::control::SensorReading>,
}

/// The latest reading of one sensor (`GET /v1/instances/{id}/sensors`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SensorStatus {
    /// Which sensor.
    pub sensor: crate::control::SensorKind,
    /// x, y, z in its unit.
    pub values: [f32; 3],
    /// The unit.
    pub unit: String,
    /// When measured, nanoseconds.
    pub timestamp_ns: u64,
    /// Readings since boot.
    pub count: u64,
    /// Recent rate.
    pub rate_hz: f32,
}

/// The current location (`GET /v1/instances/{id}/location`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LocationStatus {
    /// The fix, if there is one.
    pub fix: Option<crate::control::LocationFix>,
    /// `viewer`, `api` or `route`.
    pub source: Option<String>,
    /// When it arrived, RFC 3339 UTC.
    pub updated_at: Option<String>,
}

/// `POST /v1/instances/{id}/playback`: scripted sensor readings or a GPX route.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PlaybackRequest {
    /// `sensors` (CSV: `time_ms,sensor,x,y,z`) or `gpx`.
    pub kind: String,
    /// The script's text.
    pub script: String,
    /// Speed factor, 0.1 to 100 (default 1: real time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<f64>,
    /// Start over at the end (default false).
    #[serde(default, rename = "loop")]
    pub looped: bool,
    /// For GPX points without times: metres per second (default 1.4, walking).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_speed: Option<f64>,
}

/// What a playback is doing.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlaybackStatus {
    /// `sensors` or `gpx`.
    pub kind: String,
    /// Events in one pass.
    pub events: usize,
    /// One pass at real speed, milliseconds.
    pub duration_ms: u64,
    /// Speed factor.
    pub speed: f64,
    /// Whether it starts over at the end.
    #[serde(rename = "loop")]
    pub looped: bool,
    /// Events applied so far.
    pub played: u64,
    /// Whether it still runs.
    pub running: bool,
}

/// The camera (`GET /v1/instances/{id}/camera`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CameraStatus {
    /// Frames received since boot.
    pub frames: u64,
    /// `viewer`, `picture` or `video`, when something is shown.
    pub source: Option<String>,
    /// Size of the frame shown.
    pub width: Option<u32>,
    /// Size of the frame shown.
    pub height: Option<u32>,
}

/// The microphone (`GET /v1/instances/{id}/microphone`, and what an injected file is).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MicrophoneStatus {
    /// Level of the latest block, dBFS.
    pub level_db: f32,
    /// Samples received since boot (or in the injected file).
    pub samples: u64,
    /// Sample rate.
    pub sample_rate: u32,
    /// `viewer` or `file`.
    pub source: Option<String>,
}

/// `POST /v1/admin/tenants`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    /// A display name, 1 to 100 characters.
    pub name: String,
}

/// A tenant.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TenantInfo {
    /// Opaque id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// May manage tenants and keys.
    pub admin: bool,
    /// Creation time, RFC 3339 UTC.
    pub created_at: String,
}

/// A new access key pair. The secret is shown this once; only an encrypted copy is kept.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewKey {
    /// The tenant it signs for.
    pub tenant_id: String,
    /// The key id.
    pub access_key: String,
    /// The secret.
    pub secret_key: String,
}

/// A tenant created with its first key.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedTenant {
    /// The tenant.
    pub tenant: TenantInfo,
    /// Its first key.
    pub key: NewKey,
}

/// An access key as listed (never with its secret).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyInfo {
    /// The key id.
    pub access_key: String,
    /// Creation time, RFC 3339 UTC.
    pub created_at: String,
    /// Refused for signing.
    pub disabled: bool,
}

/// `PUT /v1/callback` body.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CallbackRequest {
    /// Where events are POSTed (`http://` or `https://`, at most 2048 characters).
    pub url: String,
    /// The signing secret (16 to 128 printable ASCII characters); default: a new random one,
    /// returned once in the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// A tenant's callback endpoint.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallbackView {
    /// Where events are POSTed.
    pub url: String,
    /// The signing secret: only in the answer to the `PUT` that set it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Last change, RFC 3339 UTC.
    pub updated_at: String,
}

/// One attempt at a delivery.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryAttemptView {
    /// Its number, from 1.
    pub attempt: u32,
    /// When, RFC 3339 UTC.
    pub at: String,
    /// Where it was sent.
    pub url: String,
    /// The receiver's HTTP status, if it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// What went wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: u64,
}

/// A delivery of an event to the callback URL.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryView {
    /// Opaque id (`dl-…`).
    pub id: String,
    /// The event (`ev-…`; the same on redeliveries).
    pub event_id: String,
    /// The event's type (`task.ended`, `instance.status`, `ping`).
    pub event_type: String,
    /// The event's business code.
    pub business_code: u16,
    /// `pending`, `delivered` or `failed` (given up after the retry window).
    pub status: String,
    /// Attempts made.
    pub attempts: u32,
    /// When the next attempt is due (pending only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    /// The last attempt's HTTP status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status_code: Option<u16>,
    /// The last attempt's error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When it was delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<String>,
    /// When it was queued.
    pub created_at: String,
    /// The JSON body sent.
    pub event: serde_json::Value,
    /// Every attempt (only on `GET /v1/callback/deliveries/{id}`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempt_log: Vec<DeliveryAttemptView>,
}

/// A page of deliveries, newest first.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryList {
    /// The deliveries.
    pub deliveries: Vec<DeliveryView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `POST /v1/instances` answer: the phones (booting) and the task creating them (a batch when
/// more than one).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedInstances {
    /// The new phones, as they are now.
    pub instances: Vec<Instance>,
    /// The task to follow.
    pub task: crate::TaskView,
}

/// `GET /healthz`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// Always `ok` when the server answers.
    pub status: String,
    /// The server's version.
    pub version: String,
}

/// A page of tenants (`GET /v1/admin/tenants`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TenantList {
    /// The tenants, oldest first.
    pub tenants: Vec<TenantInfo>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A page of a tenant's keys (`GET /v1/admin/tenants/{tenant}/keys`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyList {
    /// The keys, oldest first, never with secrets.
    pub keys: Vec<KeyInfo>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A page of the model catalogue (`GET /v1/catalogue/models`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ModelList {
    /// The models.
    pub models: Vec<CatalogueModel>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A page of the country catalogue (`GET /v1/catalogue/countries`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CountryList {
    /// The countries.
    pub countries: Vec<CatalogueCountry>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `GET /v1/instances/{id}/sensors`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SensorList {
    /// The latest reading of each sensor that has had one.
    pub sensors: Vec<SensorStatus>,
}

/// `GET /v1/instances/{id}/playback`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlaybackView {
    /// The current or last playback; null when there was none.
    pub playback: Option<PlaybackStatus>,
}
