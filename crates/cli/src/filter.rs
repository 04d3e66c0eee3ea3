//! `--since`, `--until` and `--load-balancer`: which objects to take, decided from the object
//! name alone so that a listing is filtered before anything is downloaded.

use alb_lines::AccessLogName;

/// Seconds an access-log object covers: its name gives the end of a 5-minute interval.
const INTERVAL_SECONDS: i64 = 300;

#[derive(Debug, Clone, Default)]
pub struct NameFilter {
    /// Seconds since the epoch (UTC).
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub load_balancers: Vec<String>,
}

impl NameFilter {
    /// `Err(reason)` when the object is filtered out.
    pub fn check(&self, name: &AccessLogName<'_>) -> Result<(), String> {
        if !self.load_balancers.is_empty()
            && !self
                .load_balancers
                .iter()
                .any(|wanted| *wanted == name.load_balancer() || wanted == name.load_balancer_name)
        {
            return Err("another load balancer than --load-balancer".to_string());
        }
        if self.since.is_none() && self.until.is_none() {
            return Ok(());
        }
        let end = parse_name_time(name.end_time)
            .ok_or_else(|| format!("interval end {:?} in the name is not a time", name.end_time))?;
        if self.since.is_some_and(|since| end <= since) {
            return Err("interval ends before --since".to_string());
        }
        if self.until.is_some_and(|until| end - INTERVAL_SECONDS >= until) {
            return Err("interval starts after --until".to_string());
        }
        Ok(())
    }
}

/// `yyyymmddThhmmZ` from an object name.
fn parse_name_time(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 14 || b[8] != b'T' || b[13] != b'Z' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
    };
    to_epoch(num(0..4)?, num(4..6)?, num(6..8)?, num(9..11)?, num(11..13)?, 0)
}

/// `--since`/`--until` values: `2026-11-27`, `2026-11-27T09:30`, `2026-11-27T09:30:00` (all UTC,
/// an optional trailing `Z`).
pub fn parse_utc(text: &str) -> Result<i64, String> {
    let bad = || {
        format!(
            "{text:?} is not a UTC time like 2026-11-27, 2026-11-27T09:30 or 2026-11-27T09:30:00Z"
        )
    };
    let trimmed = text.strip_suffix('Z').unwrap_or(text);
    let (date, time) = trimmed.split_once(['T', ' ']).unwrap_or((trimmed, "00:00"));
    let numbers = |part: &str, sep: char| -> Result<Vec<i64>, String> {
        part.split(sep)
            .map(|n| {
                if n.is_empty() || !n.bytes().all(|c| c.is_ascii_digit()) {
                    return Err(bad());
                }
                n.parse().map_err(|_| bad())
            })
            .collect()
    };
    let (date, time) = (numbers(date, '-')?, numbers(time, ':')?);
    let ([y, mo, d], [h, mi, rest @ ..]) = (date.as_slice(), time.as_slice()) else {
        return Err(bad());
    };
    let s = match rest {
        [] => 0,
        [s] => *s,
        _ => return Err(bad()),
    };
    to_epoch(*y, *mo, *d, *h, *mi, s).ok_or_else(bad)
}

fn to_epoch(year: i64, month: i64, day: i64, hour: i64, minute: i64, second: i64) -> Option<i64> {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1970..=9999).contains(&year)
        || !(1..=12).contains(&month)
        || day < 1
        || day > month_days[usize::try_from(month - 1).ok()?]
        || !(0..24).contains(&hour)
        || !(0..60).contains(&minute)
        || !(0..60).contains(&second)
    {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = "123456789012_elasticloadbalancing_us-east-1_app.shop-web.50dc6c495c0c9188_20261127T0935Z_10.0.1.5_abc.log.gz";

    #[test]
    fn utc_times_parse() {
        assert_eq!(parse_utc("1970-01-01"), Ok(0));
        assert_eq!(parse_utc("2026-11-27T09:35:00Z"), Ok(1_795_772_100));
        assert_eq!(parse_utc("2026-11-27T09:35"), parse_utc("2026-11-27 09:35:00"));
        assert_eq!(parse_name_time("20261127T0935Z"), Some(1_795_772_100));
        for bad in
            ["", "2026-13-01", "2026-02-30", "yesterday", "2026-11-27T25:00", "2026-11-27T09"]
        {
            assert!(parse_utc(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn interval_and_load_balancer_decide() {
        let name = alb_lines::access_log_name(NAME).unwrap();
        let at = |t: &str| Some(parse_utc(t).unwrap());
        let filter = |since, until, lbs: &[&str]| NameFilter {
            since,
            until,
            load_balancers: lbs.iter().map(|s| s.to_string()).collect(),
        };
        // The object covers 09:30-09:35.
        assert!(filter(None, None, &[]).check(&name).is_ok());
        assert!(filter(at("2026-11-27T09:34"), at("2026-11-27T09:31"), &[]).check(&name).is_ok());
        assert!(filter(at("2026-11-27T09:35"), None, &[]).check(&name).is_err());
        assert!(filter(None, at("2026-11-27T09:30"), &[]).check(&name).is_err());
        assert!(filter(None, None, &["shop-web"]).check(&name).is_ok());
        assert!(filter(None, None, &["app/shop-web/50dc6c495c0c9188"]).check(&name).is_ok());
        let other = filter(None, None, &["app/shop-web/0000"]).check(&name).unwrap_err();
        assert!(other.contains("--load-balancer"), "{other}");
    }
}
