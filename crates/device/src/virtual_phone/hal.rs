//! The phone's hardware endpoints, HAL-like: motion sensors, location, clipboard. Readings are
//! validated (Android units, finite values, valid ranges) and kept with their timestamps.

use std::collections::BTreeMap;

use cloudphone_protocol::control::{LocationFix, SensorKind, SensorReading};
use serde::{Deserialize, Serialize};

use crate::DeviceError;

/// The latest reading of one sensor and how many came.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SensorState {
    /// x, y, z in the sensor's unit.
    pub values: [f32; 3],
    /// When it was measured, nanoseconds.
    pub timestamp_ns: u64,
    /// Readings received since boot.
    pub count: u64,
    /// Readings per second, over the last two readings' spacing.
    pub rate_hz: f32,
}

/// Where a location fix came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LocationSource {
    /// The viewer's device (through the session).
    Viewer,
    /// The API (`PUT /location`, VMOS `gpsInjectInfo`).
    Api,
    /// A GPX route being played back.
    Route,
}

/// The current location.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CurrentLocation {
    /// The fix.
    pub fix: LocationFix,
    /// Where it came from.
    pub source: LocationSource,
    /// When it arrived, unix milliseconds.
    pub time_ms: u64,
}

/// Who changed the clipboard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClipboardOrigin {
    /// The viewer pasted into the phone.
    Viewer,
    /// Something on the phone copied (these changes go to viewers).
    Phone,
    /// The API.
    Api,
}

/// The clipboard.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clipboard {
    /// The text.
    pub text: String,
    /// Increases with every change.
    pub seq: u64,
    /// Who made the last change.
    pub origin: Option<ClipboardOrigin>,
}

/// The largest clipboard text accepted (Android's binder limit is near 1 MB).
pub const MAX_CLIPBOARD_BYTES: usize = 256 * 1024;

/// The endpoints' state.
#[derive(Clone, Debug, Default)]
pub struct Hal {
    /// Latest reading per sensor.
    pub sensors: BTreeMap<SensorKind, SensorState>,
    /// Current location.
    pub location: Option<CurrentLocation>,
    /// Clipboard.
    pub clipboard: Clipboard,
    /// Phone-side clipboard changes not yet taken by viewers.
    pending_clipboard: Vec<Clipboard>,
}

fn check_finite(what: &str, values: &[f64]) -> Result<(), DeviceError> {
    if values.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(DeviceError::InvalidInput(format!("{what}: values must be finite numbers")))
    }
}

impl Hal {
    /// Takes a reading; `now_ns` stamps it when it has no timestamp.
    pub fn sensor(&mut self, reading: &SensorReading, now_ns: u64) -> Result<(), DeviceError> {
        check_finite(reading.sensor.as_str(), &reading.values.map(f64::from))?;
        let timestamp_ns = reading.timestamp_ns.unwrap_or(now_ns);
        let state = self.sensors.entry(reading.sensor).or_insert(SensorState {
            values: [0.0; 3],
            timestamp_ns,
            count: 0,
            rate_hz: 0.0,
        });
        if state.count > 0 && timestamp_ns > state.timestamp_ns {
            state.rate_hz = 1e9 / (timestamp_ns - state.timestamp_ns) as f32;
        }
        state.values = reading.values;
        state.timestamp_ns = timestamp_ns;
        state.count += 1;
        Ok(())
    }

    /// Takes a location fix.
    pub fn location(&mut self, fix: &LocationFix, source: LocationSource, now_ms: u64) -> Result<(), DeviceError> {
        check_finite("location", &[fix.latitude, fix.longitude, fix.altitude.unwrap_or(0.0)])?;
        check_finite(
            "location",
            &[fix.speed.unwrap_or(0.0), fix.bearing.unwrap_or(0.0), fix.accuracy.unwrap_or(0.0)].map(f64::from),
        )?;
        let bad = |what: &str| Err(DeviceError::InvalidInput(format!("location: {what}")));
        if !(-90.0..=90.0).contains(&fix.latitude) {
            return bad("latitude must be between -90 and 90");
        }
        if !(-180.0..=180.0).contains(&fix.longitude) {
            return bad("longitude must be between -180 and 180");
        }
        if fix.speed.is_some_and(|s| s < 0.0) || fix.accuracy.is_some_and(|a| a < 0.0) {
            return bad("speed and accuracy cannot be negative");
        }
        if fix.bearing.is_some_and(|b| !(0.0..360.0).contains(&b)) {
            return bad("bearing must be at least 0 and below 360");
        }
        self.location = Some(CurrentLocation { fix: fix.clone(), source, time_ms: now_ms });
        Ok(())
    }

    /// Replaces the clipboard text. Changes made on the phone are queued for viewers.
    pub fn set_clipboard(&mut self, text: &str, origin: ClipboardOrigin) -> Result<(), DeviceError> {
        if text.len() > MAX_CLIPBOARD_BYTES {
            return Err(DeviceError::InvalidInput(format!("clipboard text over {MAX_CLIPBOARD_BYTES} bytes")));
        }
        self.clipboard = Clipboard { text: text.to_owned(), seq: self.clipboard.seq + 1, origin: Some(origin) };
        if origin == ClipboardOrigin::Phone {
            self.pending_clipboard.push(self.clipboard.clone());
        }
        Ok(())
    }

    /// Phone-side clipboard changes since the last call (for viewers).
    pub fn take_clipboard_changes(&mut self) -> Vec<Clipboard> {
        std::mem::take(&mut self.pending_clipboard)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensors_keep_latest_count_and_rate() {
        let mut hal = Hal::default();
        let reading =
            |t| SensorReading { sensor: SensorKind::Accelerometer, values: [0.0, 9.81, 0.1], timestamp_ns: Some(t) };
        hal.sensor(&reading(1_000_000_000), 0).unwrap();
        hal.sensor(&reading(1_020_000_000), 0).unwrap();
        let s = &hal.sensors[&SensorKind::Accelerometer];
        assert_eq!((s.count, s.values[1]), (2, 9.81));
        assert!((s.rate_hz - 50.0).abs() < 0.01);
        let bad = SensorReading { sensor: SensorKind::Gyroscope, values: [f32::NAN, 0.0, 0.0], timestamp_ns: None };
        assert!(hal.sensor(&bad, 5).is_err());
        assert!(!hal.sensors.contains_key(&SensorKind::Gyroscope));
    }

    #[test]
    fn locations_are_validated() {
        let mut hal = Hal::default();
        let fix = |lat, lon| LocationFix {
            latitude: lat,
            longitude: lon,
            altitude: None,
            speed: Some(1.5),
            bearing: Some(90.0),
            accuracy: Some(5.0),
        };
        hal.location(&fix(52.52, 13.405), LocationSource::Api, 7).unwrap();
        assert_eq!(hal.location.as_ref().unwrap().time_ms, 7);
        for (lat, lon) in [(91.0, 0.0), (0.0, 181.0), (f64::NAN, 0.0)] {
            assert!(hal.location(&fix(lat, lon), LocationSource::Api, 8).is_err());
        }
        let mut bearing = fix(0.0, 0.0);
        bearing.bearing = Some(360.0);
        assert!(hal.location(&bearing, LocationSource::Api, 9).is_err());
        assert_eq!(hal.location.as_ref().unwrap().fix.latitude, 52.52, "a refused fix changes nothing");
    }

    #[test]
    fn clipboard_changes_on_the_phone_go_to_viewers() {
        let mut hal = Hal::default();
        hal.set_clipboard("from viewer", ClipboardOrigin::Viewer).unwrap();
        assert!(hal.take_clipboard_changes().is_empty(), "no echo back to the viewer");
        hal.set_clipboard("copied on phone", ClipboardOrigin::Phone).unwrap();
        let changes = hal.take_clipboard_changes();
        assert_eq!((changes.len(), changes[0].text.as_str(), changes[0].seq), (1, "copied on phone", 2));
        assert!(hal.set_clipboard(&"x".repeat(MAX_CLIPBOARD_BYTES + 1), ClipboardOrigin::Api).is_err());
    }
}
