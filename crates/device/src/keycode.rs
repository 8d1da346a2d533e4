//! Android key codes (`android.view.KeyEvent`), by name and number.

/// `(number, name without the KEYCODE_ prefix)` for the keys the platform handles.
const KEYS: &[(u32, &str)] = &[
    (3, "HOME"),
    (4, "BACK"),
    (5, "CALL"),
    (6, "ENDCALL"),
    (19, "DPAD_UP"),
    (20, "DPAD_DOWN"),
    (21, "DPAD_LEFT"),
    (22, "DPAD_RIGHT"),
    (23, "DPAD_CENTER"),
    (24, "VOLUME_UP"),
    (25, "VOLUME_DOWN"),
    (26, "POWER"),
    (61, "TAB"),
    (62, "SPACE"),
    (66, "ENTER"),
    (67, "DEL"),
    (82, "MENU"),
    (84, "SEARCH"),
    (111, "ESCAPE"),
    (112, "FORWARD_DEL"),
    (164, "VOLUME_MUTE"),
    (187, "APP_SWITCH"),
    (223, "SLEEP"),
    (224, "WAKEUP"),
    (277, "CUT"),
    (278, "COPY"),
    (279, "PASTE"),
];

/// An Android key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyCode(pub u32);

impl KeyCode {
    /// HOME.
    pub const HOME: KeyCode = KeyCode(3);
    /// BACK.
    pub const BACK: KeyCode = KeyCode(4);
    /// ENTER.
    pub const ENTER: KeyCode = KeyCode(66);
    /// DEL (backspace).
    pub const DEL: KeyCode = KeyCode(67);
    /// APP_SWITCH (recents).
    pub const APP_SWITCH: KeyCode = KeyCode(187);
    /// VOLUME_UP.
    pub const VOLUME_UP: KeyCode = KeyCode(24);
    /// VOLUME_DOWN.
    pub const VOLUME_DOWN: KeyCode = KeyCode(25);
    /// POWER.
    pub const POWER: KeyCode = KeyCode(26);
    /// VOLUME_MUTE.
    pub const VOLUME_MUTE: KeyCode = KeyCode(164);
    /// SLEEP.
    pub const SLEEP: KeyCode = KeyCode(223);
    /// WAKEUP.
    pub const WAKEUP: KeyCode = KeyCode(224);
    /// COPY.
    pub const COPY: KeyCode = KeyCode(278);
    /// PASTE.
    pub const PASTE: KeyCode = KeyCode(279);

    /// Parses `KEYCODE_BACK`, `BACK` or `4` (case-insensitive names), as `input keyevent` does.
    pub fn parse(s: &str) -> Option<KeyCode> {
        if let Ok(n) = s.parse::<u32>() {
            return KEYS.iter().any(|(k, _)| *k == n).then_some(KeyCode(n));
        }
        let upper = s.to_ascii_uppercase();
        let name = upper.strip_prefix("KEYCODE_").unwrap_or(&upper);
        KEYS.iter().find(|(_, n)| *n == name).map(|(k, _)| KeyCode(*k))
    }

    /// The `KEYCODE_*` name.
    pub fn name(self) -> String {
        KEYS.iter()
            .find(|(k, _)| *k == self.0)
            .map(|(_, n)| format!("KEYCODE_{n}"))
            .unwrap_or_else(|| self.0.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_numbers() {
        assert_eq!(KeyCode::parse("KEYCODE_BACK"), Some(KeyCode::BACK));
        assert_eq!(KeyCode::parse("back"), Some(KeyCode::BACK));
        assert_eq!(KeyCode::parse("3"), Some(KeyCode::HOME));
        assert_eq!(KeyCode::parse("KEYCODE_APP_SWITCH"), Some(KeyCode::APP_SWITCH));
        assert_eq!(KeyCode::parse("KEYCODE_WARP"), None);
        assert_eq!(KeyCode::parse("9999"), None);
        assert_eq!(KeyCode::HOME.name(), "KEYCODE_HOME");
    }
}
