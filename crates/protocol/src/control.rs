//! Messages a viewer sends to a phone on the `control` data channel (JSON text frames).
//!
//! Version 1 carries touches, keys and text. Coordinates are given in the viewer's picture of
//! the screen together with that picture's size, so the phone can scale them when its own
//! size differs (a rotated or resized phone, a scaled stream). See `docs/protocol.md`.

use serde::{Deserialize, Serialize};

/// Version of the control-channel format.
pub const CONTROL_PROTOCOL_VERSION: u32 = 1;
/// Label of the data channel carrying [`ControlMessage`]s.
pub const CONTROL_CHANNEL_LABEL: &str = "control";
/// The largest control message accepted, in bytes.
pub const MAX_CONTROL_MESSAGE_BYTES: usize = 64 * 1024;

/// The kinds of upstream input, the unit a session is allowed (and later consented) by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum InputCategory {
    /// Touches.
    Touch,
    /// Keys.
    Key,
    /// Text input.
    Text,
    /// Motion sensors (accelerometer, magnetometer, gyroscope, gravity): optional data.
    Sensor,
    /// Location fixes: optional data.
    Location,
    /// Clipboard contents: optional data.
    Clipboard,
    /// The viewer's camera, as a video track into the phone's camera: optional data.
    Camera,
    /// The viewer's microphone, as an audio track into the phone's microphone: optional data.
    Microphone,
    /// Messages between the viewer and an app in the phone (edge-cloud messaging).
    AppMessage,
}

impl InputCategory {
    /// Every category.
    pub const ALL: &'static [InputCategory] = &[
        InputCategory::Touch,
        InputCategory::Key,
        InputCategory::Text,
        InputCategory::Sensor,
        InputCategory::Location,
        InputCategory::Clipboard,
        InputCategory::Camera,
        InputCategory::Microphone,
        InputCategory::AppMessage,
    ];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            InputCategory::Touch => "touch",
            InputCategory::Key => "key",
            InputCategory::Text => "text",
            InputCategory::Sensor => "sensor",
            InputCategory::Location => "location",
            InputCategory::Clipboard => "clipboard",
            InputCategory::Camera => "camera",
            InputCategory::Microphone => "microphone",
            InputCategory::AppMessage => "app_message",
        }
    }
}

/// What a touch pointer does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TouchAction {
    /// The pointer touches the screen.
    Down,
    /// The pointer moves while touching.
    Move,
    /// The pointer leaves the screen.
    Up,
    /// The gesture is aborted (no click is delivered).
    Cancel,
}

/// Whether a key goes down, up, or both (a press).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum KeyAction {
    /// Key down.
    Down,
    /// Key up.
    Up,
    /// Down then up.
    Press,
}

/// One message from a viewer to a phone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ControlMessage {
    /// A touch pointer event.
    Touch {
        /// What the pointer does.
        action: TouchAction,
        /// Pointer id, stable from down to up (multi-touch).
        pointer_id: u32,
        /// X in the viewer's picture, 0 at the left edge.
        x: f32,
        /// Y in the viewer's picture, 0 at the top edge.
        y: f32,
        /// Width of the viewer's picture, in the same units as `x`.
        width: u32,
        /// Height of the viewer's picture, in the same units as `y`.
        height: u32,
    },
    /// A scroll (mouse wheel, trackpad) at a point: content moves by `dy` (positive: towards
    /// the end) in the viewer's picture units.
    Scroll {
        /// X in the viewer's picture.
        x: f32,
        /// Y in the viewer's picture.
        y: f32,
        /// Horizontal amount.
        dx: f32,
        /// Vertical amount.
        dy: f32,
        /// Width of the viewer's picture.
        width: u32,
        /// Height of the viewer's picture.
        height: u32,
    },
    /// An Android key, by its `KEYCODE_*` name (`KEYCODE_BACK`) or bare name (`BACK`).
    Key {
        /// Down, up or press.
        action: KeyAction,
        /// The key code name.
        keycode: String,
    },
    /// Text typed into the focused field.
    Text {
        /// The text, any Unicode.
        text: String,
    },
    /// A motion sensor reading from the viewer's device, in Android's units.
    Sensor(SensorReading),
    /// A location fix from the viewer's device.
    Location(LocationFix),
    /// The viewer's clipboard, copied into the phone's.
    Clipboard {
        /// The text.
        text: String,
    },
    /// Asks the phone to turn its screen (VMOS `setPhoneRotation`); a `rotation` event follows.
    Rotate {
        /// Quarter turns from upright, 0 to 3.
        rotation: u32,
    },
    /// Changes this session's video quality (VMOS `setStreamConfig`) by profile ids: each one
    /// given changes, the others stay. Handled by the gateway; it never reaches the phone. A
    /// `quality` event answers.
    Quality {
        /// Resolution id ([`crate::quality::RESOLUTIONS`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resolution: Option<u8>,
        /// Frame-rate id ([`crate::quality::FRAME_RATES`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fps: Option<u8>,
        /// Bitrate id ([`crate::quality::BITRATES`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bitrate: Option<u8>,
    },
    /// A message for an app in the phone (edge-cloud messaging): delivered to the installed
    /// package's inbox, where the app reads it.
    AppMessage {
        /// The receiving package.
        package: String,
        /// The message, any text (JSON, say) up to [`MAX_APP_MESSAGE_BYTES`].
        data: String,
    },
}

/// The largest app message, in bytes of its `data`, either way.
pub const MAX_APP_MESSAGE_BYTES: usize = 16 * 1024;

/// The motion sensors a phone takes readings for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SensorKind {
    /// m/s², including gravity (Android `TYPE_ACCELEROMETER`, 1).
    Accelerometer,
    /// µT (Android `TYPE_MAGNETIC_FIELD`, 2).
    Magnetometer,
    /// rad/s (Android `TYPE_GYROSCOPE`, 4).
    Gyroscope,
    /// m/s² (Android `TYPE_GRAVITY`, 9).
    Gravity,
}

impl SensorKind {
    /// Every kind.
    pub const ALL: &'static [SensorKind] =
        &[SensorKind::Accelerometer, SensorKind::Magnetometer, SensorKind::Gyroscope, SensorKind::Gravity];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            SensorKind::Accelerometer => "accelerometer",
            SensorKind::Magnetometer => "magnetometer",
            SensorKind::Gyroscope => "gyroscope",
            SensorKind::Gravity => "gravity",
        }
    }

    /// Parses the snake_case name.
    pub fn parse(name: &str) -> Option<SensorKind> {
        SensorKind::ALL.iter().copied().find(|k| k.as_str() == name)
    }

    /// Android's sensor type number.
    pub fn android_type(self) -> u32 {
        match self {
            SensorKind::Accelerometer => 1,
            SensorKind::Magnetometer => 2,
            SensorKind::Gyroscope => 4,
            SensorKind::Gravity => 9,
        }
    }

    /// The unit of the values.
    pub fn unit(self) -> &'static str {
        match self {
            SensorKind::Accelerometer | SensorKind::Gravity => "m/s²",
            SensorKind::Magnetometer => "µT",
            SensorKind::Gyroscope => "rad/s",
        }
    }
}

/// One sensor reading: x, y, z in the kind's unit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SensorReading {
    /// Which sensor.
    pub sensor: SensorKind,
    /// x, y, z.
    pub values: [f32; 3],
    /// When it was measured, nanoseconds (the phone stamps it on arrival when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_ns: Option<u64>,
}

/// A location fix.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LocationFix {
    /// Degrees, -90 to 90.
    pub latitude: f64,
    /// Degrees, -180 to 180.
    pub longitude: f64,
    /// Metres above WGS84.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub altitude: Option<f64>,
    /// Metres per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<f32>,
    /// Degrees from north, 0 to 360.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearing: Option<f32>,
    /// Horizontal accuracy, metres (68% radius).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f32>,
}

/// What the gateway sends a viewer on the control channel (down), one JSON object per message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ControlEvent {
    /// Something on the phone changed its clipboard (never an echo of the viewer's own paste).
    Clipboard {
        /// The new text.
        text: String,
    },
    /// The screen turned; the video continues at the new size.
    Rotation {
        /// Quarter turns from upright (0 to 3).
        rotation: u32,
        /// The picture's width now.
        width: u32,
        /// The picture's height now.
        height: u32,
    },
    /// Another app came to the front.
    Foreground {
        /// Its package (`com.android.launcher3` on the home screen).
        package: String,
    },
    /// How the session is doing, every 2 s (VMOS `onRunInformation`).
    Stats {
        /// Round-trip time to the viewer, milliseconds, once measured.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rtt_ms: Option<f64>,
        /// Fraction of video packets the viewer reports lost (0 to 1), once reported.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        loss: Option<f64>,
        /// Video pictures sent per second over the interval (0 on a static screen).
        fps: f64,
        /// Video sent over the interval, kbit/s.
        bitrate_kbps: f64,
        /// The phone's sound sent over the interval, kbit/s (0 while it is silent).
        #[serde(default)]
        audio_kbps: f64,
        /// The bandwidth estimate towards the viewer, kbit/s, once there is one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bandwidth_kbps: Option<f64>,
        /// The video codec (`H264`).
        codec: String,
        /// The picture's width.
        width: u32,
        /// The picture's height.
        height: u32,
        /// Mean time to encode a picture over the interval, milliseconds (none sent: absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        encode_ms: Option<f64>,
        /// Mean time to decode a picture of the viewer's camera over the interval, milliseconds
        /// (no camera: absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        decode_ms: Option<f64>,
    },
    /// The session has had no input for a while and will be recycled in `seconds_left` unless
    /// some comes (VMOS idle recycle; any touch, key, text or clipboard input counts).
    IdleWarning {
        /// Seconds until it ends.
        seconds_left: u32,
    },
    /// The server is ending the session; the connection closes next.
    SessionEnded {
        /// `idle` (no input for the idle timeout) or `revoked` (its token was revoked).
        reason: String,
    },
    /// The session's video quality now: after a `quality` request, or when the gateway changed
    /// the bitrate for the viewer's bandwidth (VMOS `onChangeResolution`).
    Quality {
        /// The picture's width now (the phone's size fitted into the profile).
        width: u32,
        /// The picture's height now.
        height: u32,
        /// The most pictures a second.
        max_fps: u32,
        /// The bitrate asked of the encoder now, kbit/s.
        bitrate_kbps: u32,
        /// `requested` (a `quality` message), `bandwidth` (the estimate fell or recovered) or
        /// `lagging` (the viewer fell behind the stream).
        reason: String,
    },
    /// An app in the phone sent the viewer a message (edge-cloud messaging).
    AppMessage {
        /// The sending package.
        package: String,
        /// The message.
        data: String,
    },
    /// An upstream message was refused or could not be read; it was not delivered.
    Error {
        /// The error catalogue code (`control.invalid_message`, `control.not_allowed`, …).
        code: String,
        /// What was wrong.
        message: String,
    },
}

impl ControlEvent {
    /// The event as the JSON text sent on the channel.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("control events serialise")
    }
}

impl ControlMessage {
    /// Whether this is the end user acting (touch, scroll, key, text, clipboard), which keeps a
    /// session from being recycled as idle; sensor and location feeds and app messages flow by
    /// themselves.
    pub fn is_user_input(&self) -> bool {
        !matches!(
            self,
            ControlMessage::Sensor(_)
                | ControlMessage::Location(_)
                | ControlMessage::AppMessage { .. }
                | ControlMessage::Quality { .. }
        )
    }

    /// The category this message belongs to; `None` for session control the gateway handles
    /// itself (`quality`), which never reaches the phone.
    pub fn category(&self) -> Option<InputCategory> {
        Some(match self {
            ControlMessage::Touch { .. } | ControlMessage::Scroll { .. } => InputCategory::Touch,
            // Turning the screen is device control, like the navigation keys.
            ControlMessage::Key { .. } | ControlMessage::Rotate { .. } => InputCategory::Key,
            ControlMessage::Text { .. } => InputCategory::Text,
            ControlMessage::Sensor(_) => InputCategory::Sensor,
            ControlMessage::Location(_) => InputCategory::Location,
            ControlMessage::Clipboard { .. } => InputCategory::Clipboard,
            ControlMessage::AppMessage { .. } => InputCategory::AppMessage,
            ControlMessage::Quality { .. } => return None,
        })
    }

    /// Parses one JSON text frame; the error says what is wrong with it.
    pub fn parse(bytes: &[u8]) -> Result<ControlMessage, String> {
        if bytes.len() > MAX_CONTROL_MESSAGE_BYTES {
            return Err(format!("control message of {} bytes exceeds {MAX_CONTROL_MESSAGE_BYTES}", bytes.len()));
        }
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the value looks like on the wire (floats as written, not widened to f64), with every
    /// number as a float: `90` and `90.0` are the same number to every JSON reader.
    fn wire_value(value: &impl Serialize) -> serde_json::Value {
        fn floats(v: serde_json::Value) -> serde_json::Value {
            match v {
                serde_json::Value::Number(n) => serde_json::json!(n.as_f64().unwrap()),
                serde_json::Value::Array(a) => a.into_iter().map(floats).collect(),
                serde_json::Value::Object(o) => o.into_iter().map(|(k, v)| (k, floats(v))).collect(),
                other => other,
            }
        }
        floats(serde_json::from_str(&serde_json::to_string(value).unwrap()).unwrap())
    }

    /// The vectors the browser SDK is tested against too (web/tests/protocol.test.mjs).
    #[test]
    fn shared_vectors() {
        let vectors: serde_json::Value = serde_json::from_str(include_str!("../vectors/control.json")).unwrap();
        assert_eq!(vectors["version"], CONTROL_PROTOCOL_VERSION);
        for m in vectors["messages"].as_array().unwrap() {
            let name = &m["name"];
            let parsed =
                ControlMessage::parse(m["wire"].to_string().as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(parsed.category().map_or("none", InputCategory::as_str), m["category"], "{name}");
            assert_eq!(wire_value(&parsed), wire_value(&m["wire"]), "{name} round-trips");
        }
        for m in vectors["invalid"].as_array().unwrap() {
            let text = m["text"].as_str().unwrap();
            assert!(ControlMessage::parse(text.as_bytes()).is_err(), "{} is refused", m["name"]);
        }
        for e in vectors["events"].as_array().unwrap() {
            let event: ControlEvent =
                serde_json::from_value(e["wire"].clone()).unwrap_or_else(|err| panic!("{}: {err}", e["name"]));
            assert_eq!(wire_value(&event), wire_value(&e["wire"]), "{} round-trips", e["name"]);
        }
        let kinds: std::collections::BTreeSet<&str> =
            vectors["messages"].as_array().unwrap().iter().map(|m| m["wire"]["type"].as_str().unwrap()).collect();
        assert_eq!(kinds.len(), 10, "every message type has a vector: {kinds:?}");
    }

    #[test]
    fn touch_wire_form() {
        let json = r#"{"type":"touch","action":"down","pointer_id":0,"x":10.5,"y":20,"width":720,"height":1280}"#;
        let msg = ControlMessage::parse(json.as_bytes()).unwrap();
        assert_eq!(
            msg,
            ControlMessage::Touch {
                action: TouchAction::Down,
                pointer_id: 0,
                x: 10.5,
                y: 20.0,
                width: 720,
                height: 1280
            }
        );
        let back: serde_json::Value = serde_json::to_value(&msg).unwrap();
        assert_eq!(back["type"], "touch");
        assert_eq!(back["action"], "down");
    }

    #[test]
    fn key_and_text() {
        let key = ControlMessage::parse(br#"{"type":"key","action":"press","keycode":"KEYCODE_BACK"}"#).unwrap();
        assert_eq!(key, ControlMessage::Key { action: KeyAction::Press, keycode: "KEYCODE_BACK".into() });
        let text = ControlMessage::parse("{\"type\":\"text\",\"text\":\"héllo 世界\"}".as_bytes()).unwrap();
        assert_eq!(text, ControlMessage::Text { text: "héllo 世界".into() });
    }

    #[test]
    fn sensor_location_clipboard_wire_forms() {
        let sensor = ControlMessage::parse(br#"{"type":"sensor","sensor":"gyroscope","values":[0.1,0,-0.2]}"#).unwrap();
        assert_eq!(sensor.category(), Some(InputCategory::Sensor));
        let fix =
            ControlMessage::parse(br#"{"type":"location","latitude":52.52,"longitude":13.405,"accuracy":5}"#).unwrap();
        assert_eq!(fix.category(), Some(InputCategory::Location));
        let clip = ControlMessage::parse(br#"{"type":"clipboard","text":"copied"}"#).unwrap();
        assert_eq!(clip, ControlMessage::Clipboard { text: "copied".into() });
        assert!(ControlMessage::parse(br#"{"type":"sensor","sensor":"barometer","values":[1,2,3]}"#).is_err());
        assert!(ControlMessage::parse(br#"{"type":"sensor","sensor":"gravity","values":[1,2]}"#).is_err());
    }

    #[test]
    fn malformed_is_an_error_not_a_panic() {
        for bad in [
            &b"not json"[..],
            br#"{"type":"warp"}"#,
            br#"{"type":"text"}"#,
            br#"{"type":"text","text":"a","extra":1}"#,
            b"\xff\xfe",
        ] {
            assert!(ControlMessage::parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        assert!(ControlMessage::parse(&vec![b' '; MAX_CONTROL_MESSAGE_BYTES + 1]).is_err());
    }
}
