//! Scripted input: sensor traces (CSV) and GPX routes, parsed into a timeline the host plays
//! into a phone at real or scaled speed ("sensor data dynamic simulation").
//!
//! Sensor CSV (documented in `docs/playback.md`): one reading per line,
//! `time_ms,sensor,x,y,z`, times relative to the start and non-decreasing, `sensor` one of
//! `accelerometer`, `magnetometer`, `gyroscope`, `gravity`; a first line starting with
//! `time_ms` is a header; blank lines and lines starting with `#` are skipped.
//!
//! GPX: the `<trkpt>`, `<rtept>` or `<wpt>` points in order, with `lat`/`lon` attributes and
//! optional `<ele>` and `<time>`. With times, points play at their spacing and speed and
//! bearing come from consecutive points; without, they play at `speed_without_times` m/s.

use cloudphone_protocol::control::{LocationFix, SensorKind, SensorReading};

/// One scripted input.
#[derive(Clone, Debug, PartialEq)]
pub enum Scripted {
    /// A sensor reading.
    Sensor(SensorReading),
    /// A location fix.
    Location(LocationFix),
}

/// Inputs with their offsets from the start, in milliseconds, in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Timeline {
    /// `(offset_ms, input)`, offsets non-decreasing.
    pub events: Vec<(u64, Scripted)>,
}

impl Timeline {
    /// The offset of the last event.
    pub fn duration_ms(&self) -> u64 {
        self.events.last().map(|(t, _)| *t).unwrap_or(0)
    }
}

/// Why a script was refused (with the line or point it concerns).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ScriptError(pub String);

/// The most events a script may have.
pub const MAX_EVENTS: usize = 1_000_000;

/// Parses a sensor trace.
pub fn parse_sensor_csv(text: &str) -> Result<Timeline, ScriptError> {
    let mut events = Vec::new();
    let mut last = 0u64;
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        let n = number + 1;
        if line.is_empty() || line.starts_with('#') || (n == 1 && line.starts_with("time_ms")) {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let [time, sensor, x, y, z] = fields.as_slice() else {
            return Err(ScriptError(format!("line {n}: expected time_ms,sensor,x,y,z")));
        };
        let time: u64 =
            time.parse().map_err(|_| ScriptError(format!("line {n}: time_ms {time:?} is not a whole number")))?;
        if time < last {
            return Err(ScriptError(format!("line {n}: time_ms goes backwards ({time} after {last})")));
        }
        let sensor =
            SensorKind::parse(sensor).ok_or_else(|| ScriptError(format!("line {n}: unknown sensor {sensor:?}")))?;
        let mut values = [0f32; 3];
        for (slot, text) in values.iter_mut().zip([x, y, z]) {
            *slot = text
                .parse()
                .ok()
                .filter(|v: &f32| v.is_finite())
                .ok_or_else(|| ScriptError(format!("line {n}: {text:?} is not a number")))?;
        }
        if events.len() == MAX_EVENTS {
            return Err(ScriptError(format!("more than {MAX_EVENTS} readings")));
        }
        last = time;
        events.push((time, Scripted::Sensor(SensorReading { sensor, values, timestamp_ns: None })));
    }
    if events.is_empty() {
        return Err(ScriptError("no readings".into()));
    }
    Ok(Timeline { events })
}

/// Metres between two points (haversine on a sphere of Earth's mean radius).
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, lo1, la2, lo2) = (a.0.to_radians(), a.1.to_radians(), b.0.to_radians(), b.1.to_radians());
    let h = ((la2 - la1) / 2.0).sin().powi(2) + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * 6_371_008.8 * h.sqrt().asin()
}

/// Initial bearing from `a` to `b`, degrees 0 to 360.
pub fn bearing_deg(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, la2, dlo) = (a.0.to_radians(), b.0.to_radians(), (b.1 - a.1).to_radians());
    let y = dlo.sin() * la2.cos();
    let x = la1.cos() * la2.sin() - la1.sin() * la2.cos() * dlo.cos();
    (y.atan2(x).to_degrees() + 360.0) % 360.0
}

/// The value of `name="…"` in a tag's attribute text.
fn attribute(tag: &str, name: &str) -> Option<String> {
    for quote in ['"', '\''] {
        let key = format!("{name}={quote}");
        if let Some(start) = tag.find(&key).filter(|i| *i == 0 || tag.as_bytes()[i - 1].is_ascii_whitespace()) {
            let rest = &tag[start + key.len()..];
            return rest.find(quote).map(|end| rest[..end].to_owned());
        }
    }
    None
}

/// The text of the first `<name>…</name>` in `body`.
fn child(body: &str, name: &str) -> Option<String> {
    let start = body.find(&format!("<{name}>"))? + name.len() + 2;
    let end = body[start..].find(&format!("</{name}>"))?;
    Some(body[start..start + end].trim().to_owned())
}

/// Seconds since the epoch of an RFC 3339 UTC time (`2024-05-01T10:00:05Z`, fractions allowed).
fn parse_time(text: &str) -> Option<f64> {
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':');
    let (h, min) = (t.next()?.parse::<i64>().ok()?, t.next()?.parse::<i64>().ok()?);
    let s: f64 = t.next()?.parse().ok()?;
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + h * 3600 + min * 60) as f64 + s)
}

/// Parses a GPX document into location fixes.
pub fn parse_gpx(text: &str, speed_without_times: f64) -> Result<Timeline, ScriptError> {
    struct Point {
        lat: f64,
        lon: f64,
        ele: Option<f64>,
        time: Option<f64>,
    }
    let mut points = Vec::new();
    for tag in ["trkpt", "rtept", "wpt"] {
        let mut rest = text;
        while let Some(start) = rest.find(&format!("<{tag}")) {
            let after = &rest[start + tag.len() + 1..];
            if !after.starts_with(|c: char| c.is_whitespace() || c == '>' || c == '/') {
                rest = after;
                continue;
            }
            let open_end =
                after.find('>').ok_or_else(|| ScriptError(format!("point {}: unclosed <{tag}>", points.len() + 1)))?;
            let attributes = &after[..open_end];
            let (body, next) = if attributes.ends_with('/') {
                ("", &after[open_end + 1..])
            } else {
                let close = format!("</{tag}>");
                let end =
                    after.find(&close).ok_or_else(|| ScriptError(format!("point {}: no {close}", points.len() + 1)))?;
                (&after[open_end + 1..end], &after[end + close.len()..])
            };
            let n = points.len() + 1;
            let coordinate = |name: &str, limit: f64| -> Result<f64, ScriptError> {
                attribute(attributes, name)
                    .and_then(|v| v.parse::<f64>().ok())
                    .filter(|v| v.is_finite() && v.abs() <= limit)
                    .ok_or_else(|| ScriptError(format!("point {n}: missing or invalid {name}")))
            };
            points.push(Point {
                lat: coordinate("lat", 90.0)?,
                lon: coordinate("lon", 180.0)?,
                ele: child(body, "ele").and_then(|e| e.parse().ok()),
                time: child(body, "time").and_then(|t| parse_time(&t)),
            });
            if points.len() > MAX_EVENTS {
                return Err(ScriptError(format!("more than {MAX_EVENTS} points")));
            }
            rest = next;
        }
        if !points.is_empty() {
            break;
        }
    }
    if points.is_empty() {
        return Err(ScriptError("no <trkpt>, <rtept> or <wpt> points".into()));
    }
    if !(speed_without_times.is_finite() && speed_without_times > 0.0) {
        return Err(ScriptError("the speed for untimed points must be above 0".into()));
    }
    let timed = points.iter().all(|p| p.time.is_some());
    let mut events = Vec::with_capacity(points.len());
    let mut offset_s = 0.0;
    for (i, p) in points.iter().enumerate() {
        let here = (p.lat, p.lon);
        let (speed, bearing) = match i.checked_sub(1).map(|j| &points[j]) {
            None => (0.0, None),
            Some(prev) => {
                let meters = distance_m((prev.lat, prev.lon), here);
                let seconds = match (timed, prev.time, p.time) {
                    (true, Some(a), Some(b)) => (b - a).max(0.0),
                    _ => meters / speed_without_times,
                };
                offset_s += seconds;
                let speed = if seconds > 0.0 { meters / seconds } else { 0.0 };
                (speed, (meters > 0.0).then(|| bearing_deg((prev.lat, prev.lon), here) as f32))
            }
        };
        events.push((
            (offset_s * 1000.0).round() as u64,
            Scripted::Location(LocationFix {
                latitude: p.lat,
                longitude: p.lon,
                altitude: p.ele,
                speed: Some(speed as f32),
                bearing,
                accuracy: Some(5.0),
            }),
        ));
    }
    Ok(Timeline { events })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensor_csv() {
        let t = parse_sensor_csv(
            "time_ms,sensor,x,y,z\n# walking\n0,accelerometer,0,9.81,0\n\n20,gyroscope,0.1,0,0\n40,gravity,0,9.8,0.1\n",
        )
        .unwrap();
        assert_eq!(t.events.len(), 3);
        assert_eq!(t.duration_ms(), 40);
        assert!(
            matches!(&t.events[1].1, Scripted::Sensor(r) if r.sensor == SensorKind::Gyroscope && r.values[0] == 0.1)
        );
        for (bad, why) in [
            ("0,accelerometer,1,2\n", "expected time_ms"),
            ("0,barometer,1,2,3\n", "unknown sensor"),
            ("10,gravity,1,2,3\n5,gravity,1,2,3\n", "backwards"),
            ("0,gravity,1,x,3\n", "not a number"),
            ("0,gravity,1,NaN,3\n", "not a number"),
            ("-1,gravity,1,2,3\n", "whole number"),
            ("# nothing\n", "no readings"),
        ] {
            let e = parse_sensor_csv(bad).unwrap_err().0;
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }

    #[test]
    fn gpx_with_times_gives_speed_and_bearing() {
        let gpx = r#"<?xml version="1.0"?><gpx version="1.1"><trk><trkseg>
            <trkpt lat="52.5200" lon="13.4050"><ele>34</ele><time>2024-05-01T10:00:00Z</time></trkpt>
            <trkpt lat="52.5209" lon="13.4050"><ele>35</ele><time>2024-05-01T10:00:10Z</time></trkpt>
            <trkpt lat='52.5209' lon='13.4065'><time>2024-05-01T10:00:20.5Z</time></trkpt>
        </trkseg></trk></gpx>"#;
        let t = parse_gpx(gpx, 1.4).unwrap();
        assert_eq!(t.events.iter().map(|(o, _)| *o).collect::<Vec<_>>(), vec![0, 10_000, 20_500]);
        let Scripted::Location(second) = &t.events[1].1 else { panic!() };
        assert!((second.speed.unwrap() - 10.0).abs() < 0.1, "100 m in 10 s: {:?}", second.speed);
        assert!(second.bearing.unwrap() < 1.0 || second.bearing.unwrap() > 359.0, "due north");
        assert_eq!(second.altitude, Some(35.0));
        let Scripted::Location(third) = &t.events[2].1 else { panic!() };
        assert!((third.bearing.unwrap() - 90.0).abs() < 1.0, "due east");
    }

    #[test]
    fn gpx_without_times_plays_at_a_given_speed() {
        let gpx = r#"<gpx><rte><rtept lat="0" lon="0"/><rtept lat="0" lon="0.001"/></rte></gpx>"#;
        let t = parse_gpx(gpx, 10.0).unwrap();
        let meters = distance_m((0.0, 0.0), (0.0, 0.001));
        assert_eq!(t.events[1].0, (meters / 10.0 * 1000.0).round() as u64);
        assert!(parse_gpx("<gpx></gpx>", 1.0).unwrap_err().0.contains("no <trkpt>"));
        assert!(parse_gpx(r#"<gpx><wpt lat="91" lon="0"/></gpx>"#, 1.0).unwrap_err().0.contains("lat"));
        assert!(parse_gpx(r#"<gpx><wpt lat="1" lon="0"/></gpx>"#, 0.0).is_err());
    }

    #[test]
    fn times_parse() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(parse_time("2023-11-14T22:13:20Z"), Some(1_700_000_000.0));
        assert_eq!(parse_time("2024-02-29T00:00:00.5Z"), Some(1_709_164_800.5));
        assert_eq!(parse_time("not a time"), None);
    }
}
