//! Local time on the phone: unix time shown in the phone's time zone (`persist.sys.timezone`),
//! with the IANA time zone database bundled in the binary (no host files needed).

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// Whether `name` is a time zone the database knows.
pub fn is_known_zone(name: &str) -> bool {
    name == "UTC" || jiff::tz::db().get(name).is_ok()
}

fn zoned(unix_ms: u64, zone: &str) -> jiff::ZonedDateTime {
    let tz = jiff::tz::db().get(zone).unwrap_or(TimeZone::UTC);
    Timestamp::from_millisecond(unix_ms as i64).unwrap_or(Timestamp::UNIX_EPOCH).to_zoned_datetime(tz)
}

/// `HH:MM` for the status bar.
pub fn status_bar(unix_ms: u64, zone: &str) -> String {
    zoned(unix_ms, zone).strftime("%H:%M").to_string()
}

/// `Mon Nov 23 15:03:22 CET 2026`, as toybox `date` prints.
pub fn date_command(unix_ms: u64, zone: &str) -> String {
    zoned(unix_ms, zone).strftime("%a %b %d %H:%M:%S %Z %Y").to_string()
}

/// `2026-11-23 15:03`, as toybox `ls -l` prints.
pub fn ls_time(unix_ms: u64, zone: &str) -> String {
    zoned(unix_ms, zone).strftime("%Y-%m-%d %H:%M").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times() {
        assert_eq!(date_command(0, "UTC"), "Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(date_command(1_700_000_000_000, "UTC"), "Tue Nov 14 22:13:20 UTC 2023");
        assert_eq!(date_command(1_700_000_000_000, "Asia/Tokyo"), "Wed Nov 15 07:13:20 JST 2023");
        assert_eq!(status_bar(1_700_000_000_000, "Europe/Berlin"), "23:13");
        // Summer time in Berlin.
        assert_eq!(status_bar(1_690_000_000_000, "Europe/Berlin"), "06:26");
        assert_eq!(ls_time(951_782_400_000, "UTC"), "2000-02-29 00:00");
        assert!(is_known_zone("America/Argentina/Buenos_Aires") && is_known_zone("UTC"));
        assert!(!is_known_zone("Mars/Olympus") && !is_known_zone("nowhere"));
    }
}
