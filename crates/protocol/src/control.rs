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
#[serde(rename_all = "snake_case")]
pub enum InputCategory {
    /// Touches.
    Touch,
    /// Keys.
    Key,
    /// Text input.
    Text,
}

impl InputCategory {
    /// Every category.
    pub const ALL: &'static [InputCategory] = &[InputCategory::Touch, InputCategory::Key, InputCategory::Text];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            InputCategory::Touch => "touch",
            InputCategory::Key => "key",
            InputCategory::Text => "text",
        }
    }
}

/// What a touch pointer does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
}

impl ControlMessage {
    /// The category this message belongs to.
    pub fn category(&self) -> InputCategory {
        match self {
            ControlMessage::Touch { .. } => InputCategory::Touch,
            ControlMessage::Key { .. } => InputCategory::Key,
            ControlMessage::Text { .. } => InputCategory::Text,
        }
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
