//! Calendar dates from unix time (UTC), for `date` and `ls -l`: no clock, no time zone data.

/// A UTC date and time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// 0 = Sunday.
    pub weekday: u32,
}

impl DateTime {
    /// The UTC date and time of `unix_ms`.
    pub fn from_unix_ms(unix_ms: u64) -> DateTime {
        let secs = (unix_ms / 1000) as i64;
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        // Howard Hinnant's days-to-civil algorithm.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        DateTime {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: (rem % 3600 / 60) as u32,
            second: (rem % 60) as u32,
            weekday: (days + 4).rem_euclid(7) as u32,
        }
    }

    /// `Mon Nov 23 15:03:22 UTC 2026`, as toybox `date` prints.
    pub fn date_command(&self) -> String {
        const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
        const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
        format!(
            "{} {} {:02} {:02}:{:02}:{:02} UTC {}",
            DAYS[self.weekday as usize],
            MONTHS[(self.month - 1) as usize],
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.year
        )
    }

    /// `2026-11-23 15:03`, as toybox `ls -l` prints.
    pub fn ls_time(&self) -> String {
        format!("{}-{:02}-{:02} {:02}:{:02}", self.year, self.month, self.day, self.hour, self.minute)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(DateTime::from_unix_ms(0).date_command(), "Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(DateTime::from_unix_ms(1_700_000_000_000).date_command(), "Tue Nov 14 22:13:20 UTC 2023");
        assert_eq!(DateTime::from_unix_ms(951_782_400_000).ls_time(), "2000-02-29 00:00");
    }
}
