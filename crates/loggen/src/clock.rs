//! UTC calendar arithmetic and fast ISO 8601 timestamp writing.
//!
//! The crate needs only proleptic-Gregorian UTC (no zones, no leap seconds), so it carries
//! Howard Hinnant's `days_from_civil` / `civil_from_days` instead of a date-time dependency.
//! Every line holds two timestamps; [`TsWriter`] caches the `yyyy-mm-ddThh:mm:ss` text of the
//! last second it wrote, so the calendar math runs about once per simulated second rather than
//! twice per line (this matters for the corpus throughput).

/// Days since 1970-01-01 for a proleptic Gregorian date (month 1-12, day 1-31).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`]: (year, month 1-12, day 1-31).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Unix seconds of a UTC wall-clock time. No validation: out-of-range fields roll over, as
/// in `timegm`.
pub fn unix_seconds(year: i64, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> i64 {
    days_from_civil(year, month, day) * 86_400
        + i64::from(hour) * 3600
        + i64::from(minute) * 60
        + i64::from(second)
}

/// UTC broken-down time of unix seconds: (year, month, day, hour, minute, second).
pub fn utc_fields(unix_s: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = unix_s.div_euclid(86_400);
    let sod = unix_s.rem_euclid(86_400) as u32;
    let (y, m, d) = civil_from_days(days);
    (y, m, d, sod / 3600, sod / 60 % 60, sod % 60)
}

/// Writes `yyyy-mm-ddThh:mm:ss.ffffffZ` for unix microseconds, caching the per-second prefix.
#[derive(Debug)]
pub(crate) struct TsWriter {
    sec: i64,
    prefix: [u8; 19],
}

impl TsWriter {
    pub(crate) fn new() -> Self {
        TsWriter { sec: i64::MIN, prefix: [b'0'; 19] }
    }

    pub(crate) fn write(&mut self, out: &mut Vec<u8>, unix_us: i64) {
        let sec = unix_us.div_euclid(1_000_000);
        let micros = unix_us.rem_euclid(1_000_000) as u32;
        if sec != self.sec {
            self.sec = sec;
            let (y, mo, d, h, mi, s) = utc_fields(sec);
            let p = &mut self.prefix;
            // Years outside 0..=9999 cannot occur for ALB logs; clamp rather than mis-align.
            let y = y.clamp(0, 9999) as u32;
            put_digits(&mut p[0..4], y);
            p[4] = b'-';
            put_digits(&mut p[5..7], mo);
            p[7] = b'-';
            put_digits(&mut p[8..10], d);
            p[10] = b'T';
            put_digits(&mut p[11..13], h);
            p[13] = b':';
            put_digits(&mut p[14..16], mi);
            p[16] = b':';
            put_digits(&mut p[17..19], s);
        }
        out.extend_from_slice(&self.prefix);
        let mut frac = [b'.', 0, 0, 0, 0, 0, 0, b'Z'];
        put_digits(&mut frac[1..7], micros);
        out.extend_from_slice(&frac);
    }
}

/// Writes `v` zero-padded into exactly `dst.len()` ASCII digits (high digits dropped).
pub(crate) fn put_digits(dst: &mut [u8], mut v: u32) {
    for b in dst.iter_mut().rev() {
        *b = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trips_over_four_centuries() {
        for days in (-200_000..200_000).step_by(37) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(unix_seconds(2026, 11, 27, 9, 30, 0), 1_795_771_800);
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
        assert_eq!(utc_fields(1_795_771_800 + 59), (2026, 11, 27, 9, 30, 59));
    }

    #[test]
    fn timestamps_have_microseconds_and_z() {
        let mut w = TsWriter::new();
        let mut out = Vec::new();
        w.write(&mut out, 1_795_771_800 * 1_000_000 + 3_412);
        out.push(b' ');
        w.write(&mut out, 1_795_771_800 * 1_000_000 + 999_999);
        out.push(b' ');
        w.write(&mut out, 1_795_771_801 * 1_000_000);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "2026-11-27T09:30:00.003412Z 2026-11-27T09:30:00.999999Z 2026-11-27T09:30:01.000000Z"
        );
    }
}
