//! Stream quality: the picture's size, the highest frame rate and the bitrate of a viewer's
//! video, chosen with VMOS's profile ids (`setStreamConfig`) or left at the default.
//!
//! Every viewer asking for the same quality of the same phone shares one encoder. The gateway
//! may lower the bitrate below the chosen one, a step of [`BITRATE_LADDER_KBPS`] at a time, when
//! the viewer's bandwidth estimate says it cannot take more.

use serde::{Deserialize, Serialize};

/// What a viewer's video is made to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StreamQuality {
    /// The picture's shorter side at most, pixels (the phone's own size when smaller).
    pub short_side: u32,
    /// The picture's longer side at most, pixels.
    pub long_side: u32,
    /// The most pictures a second (a static screen sends none at all).
    pub max_fps: u32,
    /// The encoder's target bitrate, kbit/s.
    pub bitrate_kbps: u32,
}

/// VMOS resolution ids: `(id, short side, long side)`. Ids 7, 12, 15 and 17 are VMOS's; the
/// ones between are the 9:16 steps cloudphone fills in.
pub const RESOLUTIONS: &[(u8, u32, u32)] = &[
    (7, 144, 256),
    (8, 180, 320),
    (9, 216, 384),
    (10, 288, 512),
    (11, 360, 640),
    (12, 540, 960),
    (13, 576, 1024),
    (14, 648, 1152),
    (15, 720, 1280),
    (16, 900, 1600),
    (17, 1080, 1920),
];

/// VMOS frame-rate ids: `(id, frames a second)`.
pub const FRAME_RATES: &[(u8, u32)] = &[(1, 20), (2, 25), (3, 30), (4, 60), (5, 1), (6, 5), (7, 10), (8, 15), (9, 2)];

/// VMOS bitrate ids: `(id, kbit/s)`: 1 to 12 are that many Mbit/s, 13 to 15 are 200, 400 and
/// 600 kbit/s.
pub const BITRATES: &[(u8, u32)] = &[
    (1, 1000),
    (2, 2000),
    (3, 3000),
    (4, 4000),
    (5, 5000),
    (6, 6000),
    (7, 7000),
    (8, 8000),
    (9, 9000),
    (10, 10000),
    (11, 11000),
    (12, 12000),
    (13, 200),
    (14, 400),
    (15, 600),
];

/// The bitrates the gateway steps through when bandwidth is short, kbit/s.
pub const BITRATE_LADDER_KBPS: &[u32] = &[200, 400, 600, 1000, 1500, 2000, 3000, 4000, 6000, 8000, 12000];

impl Default for StreamQuality {
    /// 720x1280 at up to 30 fps and 4 Mbit/s (VMOS ids 15, 3, 4).
    fn default() -> Self {
        StreamQuality { short_side: 720, long_side: 1280, max_fps: 30, bitrate_kbps: 4000 }
    }
}

fn lookup<T: Copy>(table: &[(u8, T)], id: u8, what: &str) -> Result<T, String> {
    table.iter().find(|(i, _)| *i == id).map(|(_, v)| *v).ok_or_else(|| {
        let ids: Vec<String> = table.iter().map(|(i, _)| i.to_string()).collect();
        format!("unknown {what} id {id} (known: {})", ids.join(", "))
    })
}

impl StreamQuality {
    /// This quality with the profile ids given changed; the others stay.
    pub fn with_ids(self, resolution: Option<u8>, fps: Option<u8>, bitrate: Option<u8>) -> Result<Self, String> {
        let mut q = self;
        if let Some(id) = resolution {
            let sides = RESOLUTIONS.iter().map(|(i, s, l)| (*i, (*s, *l))).collect::<Vec<_>>();
            (q.short_side, q.long_side) = lookup(&sides, id, "resolution")?;
        }
        if let Some(id) = fps {
            q.max_fps = lookup(FRAME_RATES, id, "frame rate")?;
        }
        if let Some(id) = bitrate {
            q.bitrate_kbps = lookup(BITRATES, id, "bitrate")?;
        }
        Ok(q)
    }

    /// The picture size for a phone picture of `width` x `height`: the same orientation and
    /// aspect, within the quality's sides, never larger than the phone's, even sides (H.264 4:2:0).
    pub fn fit(&self, width: u32, height: u32) -> (u32, u32) {
        let (short, long) = (width.min(height).max(1), width.max(height).max(1));
        let scale = (self.short_side as f64 / short as f64).min(self.long_side as f64 / long as f64).min(1.0);
        let even = |v: u32| ((v as f64 * scale) as u32 & !1).max(2);
        (even(width), even(height))
    }

    /// The same quality at `bitrate_kbps`.
    pub fn at_bitrate(self, bitrate_kbps: u32) -> Self {
        StreamQuality { bitrate_kbps, ..self }
    }
}

/// The ladder's highest step at or below `kbps` (its lowest step when none is).
pub fn ladder_step_at_most(kbps: u32) -> u32 {
    BITRATE_LADDER_KBPS.iter().rev().copied().find(|s| *s <= kbps).unwrap_or(BITRATE_LADDER_KBPS[0])
}

/// The ladder's next step above `kbps`, if any.
pub fn ladder_step_above(kbps: u32) -> Option<u32> {
    BITRATE_LADDER_KBPS.iter().copied().find(|s| *s > kbps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_ids_set_what_they_name() {
        let q = StreamQuality::default().with_ids(Some(11), Some(8), Some(14)).unwrap();
        assert_eq!(q, StreamQuality { short_side: 360, long_side: 640, max_fps: 15, bitrate_kbps: 400 });
        let only_fps = StreamQuality::default().with_ids(None, Some(4), None).unwrap();
        assert_eq!(only_fps, StreamQuality { max_fps: 60, ..StreamQuality::default() });
        let error = StreamQuality::default().with_ids(Some(99), None, None).unwrap_err();
        assert!(error.contains("unknown resolution id 99") && error.contains("15"), "{error}");
        assert!(StreamQuality::default().with_ids(None, Some(0), None).is_err());
        assert!(StreamQuality::default().with_ids(None, None, Some(16)).is_err());
    }

    #[test]
    fn pictures_fit_keeping_orientation_and_never_grow() {
        let half = StreamQuality::default().with_ids(Some(11), None, None).unwrap();
        assert_eq!(half.fit(720, 1280), (360, 640));
        assert_eq!(half.fit(1280, 720), (640, 360), "a turned phone stays turned");
        assert_eq!(StreamQuality::default().with_ids(Some(17), None, None).unwrap().fit(720, 1280), (720, 1280));
        // Another aspect: the tighter side decides, sizes stay even.
        assert_eq!(half.fit(1080, 2400), (288, 640));
        assert_eq!(half.fit(1, 1), (2, 2));
    }

    #[test]
    fn the_ladder_steps_down_and_up() {
        assert_eq!(ladder_step_at_most(2500), 2000);
        assert_eq!(ladder_step_at_most(50), 200);
        assert_eq!(ladder_step_above(2000), Some(3000));
        assert_eq!(ladder_step_above(12000), None);
    }
}
