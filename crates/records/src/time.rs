//! ISO 8601 timestamps as ALB writes them (`2026-11-27T09:30:05.123456Z`), parsed without a
//! date library because the format is fixed and this runs on every line.

/// An instant in UTC, in microseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction]Z`. Fractions longer than microseconds are truncated.
    pub fn parse(text: &[u8]) -> Option<Timestamp> {
        let (minute_start, within) = parse_parts(text)?;
        Some(Timestamp(minute_start + within))
    }

    /// Microseconds since the Unix epoch.
    pub const fn micros(self) -> i64 {
        self.0
    }

    /// The start of the UTC hour this instant falls in.
    pub const fn hour_start(self) -> Timestamp {
        Timestamp(self.0 - self.0.rem_euclid(MICROS_PER_HOUR))
    }
}

const MICROS_PER_HOUR: i64 = 3_600_000_000;

/// The start of the minute `text` names and the microseconds after it, in microseconds.
#[inline]
fn parse_parts(text: &[u8]) -> Option<(i64, i64)> {
    let &[y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1, b'T', h0, h1, b':', n0, n1, b':', ..] = text
    else {
        return None;
    };
    let date = eight_digits([y0, y1, y2, y3, m0, m1, d0, d1])? as i64;
    let clock = eight_digits([h0, h1, n0, n1, b'0', b'0', b'0', b'0'])? as i64 / 10_000;
    let (year, month, day) = (date / 10_000, date / 100 % 100, date % 100);
    let (hour, minute) = (clock / 100, clock % 100);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    let within = micros_within_minute(&text[MINUTE_PREFIX..])?;
    let days = days_from_civil(year, month, day);
    let minutes = days * 1_440 + hour * 60 + minute;
    Some((minutes * 60_000_000, within))
}

/// The minute of the last timestamp read, so that the next one in the same minute (nearly every
/// `time` of a log, which AWS writes in order) is read from its seconds alone.
#[derive(Clone, Debug, Default)]
pub(crate) struct MinuteCache {
    /// `YYYY-MM-DDTHH:MM:` of that minute, and the instant (µs since the epoch) it starts.
    last: Option<([u8; MINUTE_PREFIX], i64)>,
}

impl MinuteCache {
    /// [`Timestamp::parse`], with the date arithmetic done once per minute.
    #[inline]
    pub(crate) fn parse(&mut self, text: &[u8]) -> Option<Timestamp> {
        let prefix = text.get(..MINUTE_PREFIX)?;
        if let Some((last, start)) = &self.last
            && same_minute(prefix, last)
        {
            return Some(Timestamp(start + micros_within_minute(&text[MINUTE_PREFIX..])?));
        }
        let (start, within) = parse_parts(text)?;
        let mut last = [0u8; MINUTE_PREFIX];
        last.copy_from_slice(prefix);
        self.last = Some((last, start));
        Some(Timestamp(start + within))
    }
}

/// `YYYY-MM-DDTHH:MM:`, the part of a timestamp that names its minute.
const MINUTE_PREFIX: usize = 17;

/// Eight ASCII digits as a number, or `None` if any byte is not a digit (SWAR: every byte's high
/// nibble must be 3 and its low nibble at most 9, then pairs, quads and halves are combined).
#[inline]
fn eight_digits(bytes: [u8; 8]) -> Option<u64> {
    const HIGH_NIBBLES: u64 = 0xf0f0_f0f0_f0f0_f0f0;
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    let word = u64::from_le_bytes(bytes);
    let digits_only = (word & HIGH_NIBBLES) == ZEROS
        && (word.wrapping_add(0x0606_0606_0606_0606) & HIGH_NIBBLES) == ZEROS;
    if !digits_only {
        return None;
    }
    let mut value = word & 0x0f0f_0f0f_0f0f_0f0f;
    value = (value.wrapping_mul(10) + (value >> 8)) & 0x00ff_00ff_00ff_00ff;
    value = (value.wrapping_mul(100) + (value >> 16)) & 0x0000_ffff_0000_ffff;
    value = (value.wrapping_mul(10_000) + (value >> 32)) & 0xffff_ffff;
    Some(value)
}

/// Whether two minute prefixes are equal, compared as two words rather than through `memcmp`.
#[inline]
fn same_minute(a: &[u8], b: &[u8]) -> bool {
    let word = |text: &[u8], at: usize| -> u128 {
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&text[at..at + 16]);
        u128::from_ne_bytes(bytes)
    };
    a.len() == MINUTE_PREFIX
        && b.len() == MINUTE_PREFIX
        && word(a, 0) == word(b, 0)
        && a[MINUTE_PREFIX - 1] == b[MINUTE_PREFIX - 1]
}

/// `SS[.fraction]Z` as microseconds since the start of the minute (a leap second is 60).
#[inline]
fn micros_within_minute(text: &[u8]) -> Option<i64> {
    // What ALB writes on every line, `SS.ffffffZ`: the eight digits `SSffffff` read as one
    // number are the microseconds, checked and converted eight bytes at a time.
    if let &[tens, units, b'.', f0, f1, f2, f3, f4, f5, b'Z'] = text {
        let micros = eight_digits([tens, units, f0, f1, f2, f3, f4, f5])?;
        // A leap second is 60; 61 or more is not a time.
        return (micros < 61_000_000).then_some(micros as i64);
    }
    let [tens, units, rest @ ..] = text else { return None };
    let second = digits(&[*tens, *units])?;
    if second > 60 {
        return None;
    }
    let rest = rest.strip_suffix(b"Z")?;
    let mut micros = 0i64;
    if let Some((&b'.', fraction)) = rest.split_first() {
        if fraction.is_empty() {
            return None;
        }
        let mut scale = 100_000i64;
        for &byte in fraction {
            if !byte.is_ascii_digit() {
                return None;
            }
            micros += i64::from(byte - b'0') * scale;
            scale /= 10;
        }
    } else if !rest.is_empty() {
        return None;
    }
    Some(second * 1_000_000 + micros)
}

/// RFC 3339 in UTC, as ALB writes it: `2026-11-27T09:30:05.123456Z`, or without the fraction
/// when it is zero (`2026-11-27T09:00:00Z`).
impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let seconds = self.0.div_euclid(1_000_000);
        let micros = self.0.rem_euclid(1_000_000);
        let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
        let second_of_day = seconds.rem_euclid(86_400);
        let (hour, minute, second) =
            (second_of_day / 3_600, second_of_day % 3_600 / 60, second_of_day % 60);
        write!(f, "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}")?;
        if micros != 0 {
            write!(f, ".{micros:06}")?;
        }
        f.write_str("Z")
    }
}

fn digits(text: &[u8]) -> Option<i64> {
    let mut value = 0i64;
    for &byte in text {
        if !byte.is_ascii_digit() {
            return None;
        }
        value = value * 10 + i64::from(byte - b'0');
    }
    Some(value)
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (the inverse of
/// [`days_from_civil`], from the same source).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_alb_timestamps_to_unix_micros() {
        // 2018-07-02T22:23:00Z is 1530570180 s after the epoch.
        let t = Timestamp::parse(b"2018-07-02T22:23:00.186641Z").unwrap();
        assert_eq!(t.micros(), 1_530_570_180_186_641);
        let t = Timestamp::parse(b"1970-01-01T00:00:00Z").unwrap();
        assert_eq!(t.micros(), 0);
        let t = Timestamp::parse(b"2024-02-29T12:00:00.5Z").unwrap();
        assert_eq!(t.micros(), 1_709_208_000_500_000);
    }

    #[test]
    fn formats_as_rfc3339_and_round_trips() {
        for text in [
            "2018-07-02T22:23:00.186641Z",
            "1970-01-01T00:00:00Z",
            "2024-02-29T12:00:00.500000Z",
            "1969-12-31T23:59:59.999999Z",
            "2000-03-01T00:00:00Z",
            "2100-12-31T23:59:59Z",
        ] {
            let t = Timestamp::parse(text.as_bytes()).unwrap();
            assert_eq!(t.to_string(), text);
        }
    }

    #[test]
    fn hour_start_truncates_to_the_utc_hour() {
        let t = Timestamp::parse(b"2026-11-27T09:30:05.123456Z").unwrap();
        assert_eq!(t.hour_start().to_string(), "2026-11-27T09:00:00Z");
        let before_epoch = Timestamp::parse(b"1969-12-31T23:59:59Z").unwrap();
        assert_eq!(before_epoch.hour_start().to_string(), "1969-12-31T23:00:00Z");
    }

    #[test]
    fn six_digit_fractions_read_like_any_other() {
        // Six digits take the unrolled path, seven (truncated to six) the general one.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for second in 0..=61 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let fraction = seed % 1_000_000;
            let six = format!("2026-11-27T09:30:{second:02}.{fraction:06}Z");
            let seven = format!("2026-11-27T09:30:{second:02}.{fraction:06}9Z");
            assert_eq!(Timestamp::parse(six.as_bytes()), Timestamp::parse(seven.as_bytes()));
            assert_eq!(Timestamp::parse(six.as_bytes()).is_some(), second <= 60, "{six}");
        }
        assert_eq!(Timestamp::parse(b"2026-11-27T09:30:05.12345xZ"), None);
        assert_eq!(Timestamp::parse(b"2026-11-27T09:30:x5.123456Z"), None);
    }

    #[test]
    fn eight_digits_reads_every_digit_and_refuses_every_other_byte() {
        assert_eq!(eight_digits(*b"00000000"), Some(0));
        assert_eq!(eight_digits(*b"12345678"), Some(12_345_678));
        assert_eq!(eight_digits(*b"99999999"), Some(99_999_999));
        for position in 0..8 {
            for byte in 0..=255u8 {
                let mut bytes = *b"31415926";
                bytes[position] = byte;
                let expected = bytes.iter().try_fold(0u64, |n, &b| {
                    b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
                });
                assert_eq!(eight_digits(bytes), expected, "{bytes:?}");
            }
        }
    }

    #[test]
    fn the_minute_cache_agrees_with_parse() {
        for known_text in [&b"2026-11-27T09:30:05.123456Z"[..], b"2016-12-31T23:59:60.500000Z"] {
            check_minute_cache_against_parse(known_text);
        }
    }

    /// After `known_text`, every text reads as [`Timestamp::parse`] reads it.
    fn check_minute_cache_against_parse(known_text: &[u8]) {
        for text in [
            &b"2016-12-31T23:59:60.400000Z"[..],
            b"2016-12-31T23:59:59.999999Z",
            b"2026-11-27T09:30:05.120000Z",
            b"2026-11-27T09:30:00Z",
            b"2026-11-27T09:30:59.999999Z",
            b"2026-11-27T09:29:59.999000Z",
            b"2026-11-26T09:30:05.120000Z",
            b"2026-11-27T09:30:05.Z",
            b"2026-11-27T09:30:61.000000Z",
            b"2026-11-27T09:30:0x.000000Z",
            b"2026-11-27T09:30:05.1234567Z",
            b"2026-11-27T09:30:05",
            b"-",
        ] {
            let mut cache = MinuteCache::default();
            assert_eq!(cache.parse(known_text), Timestamp::parse(known_text));
            assert_eq!(
                cache.parse(text),
                Timestamp::parse(text),
                "{}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn rejects_text_that_is_not_a_timestamp() {
        for bad in [
            &b""[..],
            b"-",
            b"2018-07-02 22:23:00.186641Z",
            b"2018-07-02T22:23:00.186641",
            b"2018-13-02T22:23:00.186641Z",
            b"2018-07-02T22:23:00.Z",
            b"2018-07-02T22:23:00,1Z",
            b"20x8-07-02T22:23:00.186641Z",
        ] {
            assert_eq!(Timestamp::parse(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }
}
