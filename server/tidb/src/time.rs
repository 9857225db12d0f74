//! TiDB's times as rows and binary JSON carry them, and as MySQL takes them back as text.
//!
//! - A `DATE`/`DATETIME`/`TIMESTAMP` in a row is `Time.ToPackedUint` (`pkg/types/time.go`),
//!   timestamps in UTC (`tablecodec.flatten` converts them before packing):
//!   `((((year*13 + month) << 5 | day) << 17 | hour << 12 | minute << 6 | second) << 24) | microsecond`,
//!   and 0 for the zero time.
//! - A time inside binary JSON is the `CoreTime` bit field instead (`pkg/types/core_time.go`):
//!   year at bit 50 (14 bits), month 46 (4), day 41 (5), hour 36 (5), minute 30 (6), second 24
//!   (6), microsecond 4 (20), the low 4 bits being fsp and type.
//! - A `TIME` is a duration in nanoseconds (`time.Duration`).
//!
//! Text is what `Time.String` and `Duration.String` print: `YYYY-MM-DD`,
//! `YYYY-MM-DD hh:mm:ss[.f…]` and `[-]hh:mm:ss[.f…]`, with as many fraction digits as the
//! column's fsp (hours of a `TIME` may exceed 24).

/// A date and time of day, as its fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DateTime {
    /// 0..=9999.
    pub year: u16,
    /// 0..=12 (0 in zero dates).
    pub month: u8,
    /// 0..=31 (0 in zero dates).
    pub day: u8,
    /// 0..=23.
    pub hour: u8,
    /// 0..=59.
    pub minute: u8,
    /// 0..=59.
    pub second: u8,
    /// 0..=999999.
    pub microsecond: u32,
}

/// The fraction digits a column's `Decimal` asks for (`UnspecifiedFsp` -1 means 0, as
/// `NewTime` has it; more than 6 cannot be stored).
pub fn fsp(decimal: i64) -> usize {
    decimal.clamp(0, 6) as usize
}

impl DateTime {
    /// `Time.FromPackedUint`, checking that each field is in its range.
    // Format: { 0 (1 bit) | year*13+month (17) | day (5) | hour (5) | minute (6) |
    //           second (6) | microsecond (24) }, most significant first
    pub fn from_packed(packed: u64) -> Result<DateTime, String> {
        if packed == 0 {
            return Ok(DateTime::default());
        }
        let ymdhms = packed >> 24;
        let ymd = ymdhms >> 17;
        let ym = ymd >> 5;
        let hms = ymdhms & ((1 << 17) - 1);
        let hour = hms >> 12;
        let year = ym / 13;
        if year > 9999 || hour > 23 {
            return Err(format!(
                "packed time {packed:#x} has year {year} and hour {hour}"
            ));
        }
        DateTime {
            year: year as u16,
            month: (ym % 13) as u8,
            day: (ymd & 31) as u8,
            hour: hour as u8,
            minute: ((hms >> 6) & 63) as u8,
            second: (hms & 63) as u8,
            microsecond: (packed & ((1 << 24) - 1)) as u32,
        }
        .checked()
        .map_err(|reason| format!("packed time {packed:#x}: {reason}"))
    }

    /// A `CoreTime` (the time inside binary JSON), checking that each field is in its range.
    // Format: { year (14 bits) | month (4) | day (5) | hour (5) | minute (6) | second (6) |
    //           microsecond (20) | fsp and type (4) }, most significant first
    pub fn from_core_time(core: u64) -> Result<DateTime, String> {
        let field = |offset: u32, width: u32| (core >> offset) & ((1 << width) - 1);
        let year = field(50, 14);
        if year > 9999 {
            return Err(format!("core time {core:#x} has year {year}"));
        }
        DateTime {
            year: year as u16,
            month: field(46, 4) as u8,
            day: field(41, 5) as u8,
            hour: field(36, 5) as u8,
            minute: field(30, 6) as u8,
            second: field(24, 6) as u8,
            microsecond: field(4, 20) as u32,
        }
        .checked()
        .map_err(|reason| format!("core time {core:#x}: {reason}"))
    }

    fn checked(self) -> Result<DateTime, String> {
        if self.month > 12
            || self.day > 31
            || self.hour > 23
            || self.minute > 59
            || self.second > 59
            || self.microsecond > 999_999
        {
            return Err(format!("a field is out of range ({self:?})"));
        }
        Ok(self)
    }

    /// `YYYY-MM-DD`.
    pub fn date_text(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }

    /// `YYYY-MM-DD hh:mm:ss` and `fsp` fraction digits (truncated, as `Time.String` prints).
    pub fn datetime_text(&self, fsp: usize) -> String {
        let mut text = format!(
            "{} {:02}:{:02}:{:02}",
            self.date_text(),
            self.hour,
            self.minute,
            self.second
        );
        push_fraction(&mut text, self.microsecond, fsp);
        text
    }

    /// Parses `YYYY-MM-DD` or `YYYY-MM-DD hh:mm:ss[.f…]` (an origin default as TiDB stores
    /// it; a `T` between date and time is taken too). Fraction digits beyond 6 are cut.
    pub fn parse(text: &str) -> Result<DateTime, String> {
        let bad = || format!("{text:?} is not a date or datetime");
        let text = text.trim();
        let (date, time) = match text.split_once([' ', 'T']) {
            Some((date, time)) => (date, Some(time)),
            None => (text, None),
        };
        let mut parts = date.split('-');
        let (Some(year), Some(month), Some(day), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let mut value = DateTime {
            year: number(year, 4).ok_or_else(bad)? as u16,
            month: number(month, 2).ok_or_else(bad)? as u8,
            day: number(day, 2).ok_or_else(bad)? as u8,
            ..DateTime::default()
        };
        if let Some(time) = time {
            let (clock, micros) = split_fraction(time).ok_or_else(bad)?;
            let mut parts = clock.split(':');
            let (Some(hour), Some(minute), Some(second), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(bad());
            };
            value.hour = number(hour, 2).ok_or_else(bad)? as u8;
            value.minute = number(minute, 2).ok_or_else(bad)? as u8;
            value.second = number(second, 2).ok_or_else(bad)? as u8;
            value.microsecond = micros;
        }
        value.checked().map_err(|_| bad())
    }
}

/// A `TIME` as `Duration.String` prints it: `[-]hh:mm:ss` and `fsp` fraction digits (of the
/// whole microseconds, truncated).
pub fn duration_text(nanos: i64, fsp: usize) -> String {
    let sign = if nanos < 0 { "-" } else { "" };
    let abs = nanos.unsigned_abs();
    let seconds = abs / 1_000_000_000;
    let micros = (abs % 1_000_000_000 / 1000) as u32;
    let mut text = format!(
        "{sign}{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    );
    push_fraction(&mut text, micros, fsp);
    text
}

/// Parses `[-]h…:mm:ss[.f…]` (a `TIME` origin default as TiDB stores it) into nanoseconds.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let bad = || format!("{text:?} is not a time");
    let trimmed = text.trim();
    let (negative, body) = match trimmed.strip_prefix('-') {
        Some(body) => (true, body),
        None => (false, trimmed),
    };
    let (clock, micros) = split_fraction(body).ok_or_else(bad)?;
    let mut parts = clock.split(':');
    let (Some(hours), Some(minutes), Some(seconds), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let hours = number(hours, 7).ok_or_else(bad)?;
    let minutes = number(minutes, 2).ok_or_else(bad)?;
    let seconds = number(seconds, 2).ok_or_else(bad)?;
    if minutes > 59 || seconds > 59 {
        return Err(bad());
    }
    let nanos = ((hours * 3600 + minutes * 60 + seconds) * 1_000_000 + u64::from(micros)) * 1000;
    let nanos = i64::try_from(nanos).map_err(|_| bad())?;
    Ok(if negative { -nanos } else { nanos })
}

fn push_fraction(text: &mut String, microsecond: u32, fsp: usize) {
    if fsp > 0 {
        let digits = format!("{microsecond:06}");
        text.push('.');
        text.push_str(&digits[..fsp.min(6)]);
    }
}

/// `clock[.fraction]` into the clock and the fraction as microseconds (digits beyond 6 cut).
fn split_fraction(text: &str) -> Option<(&str, u32)> {
    match text.split_once('.') {
        None => Some((text, 0)),
        Some((clock, fraction)) => {
            if fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let mut digits: String = fraction.chars().take(6).collect();
            while digits.len() < 6 {
                digits.push('0');
            }
            Some((clock, digits.parse().ok()?))
        }
    }
}

/// Up to `max_digits` ASCII digits.
fn number(text: &str, max_digits: usize) -> Option<u64> {
    if text.is_empty() || text.len() > max_digits || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_round_trip_by_hand() {
        // 2024-01-02 03:04:05.000006: ymd = (2024*13+1)<<5 | 2, hms = 3<<12 | 4<<6 | 5.
        let ymd: u64 = ((2024 * 13 + 1) << 5) | 2;
        let hms: u64 = (3 << 12) | (4 << 6) | 5;
        let packed = ((ymd << 17 | hms) << 24) | 6;
        let t = DateTime::from_packed(packed).unwrap();
        assert_eq!(t.datetime_text(6), "2024-01-02 03:04:05.000006");
        assert_eq!(t.datetime_text(0), "2024-01-02 03:04:05");
        assert_eq!(t.date_text(), "2024-01-02");
        assert_eq!(
            DateTime::from_packed(0).unwrap().datetime_text(2),
            "0000-00-00 00:00:00.00"
        );
        // Month 13 (ym % 13 cannot be 13, but hour 24 can be packed).
        let bad = ((ymd << 17 | (24 << 12)) << 24) | 6;
        assert!(DateTime::from_packed(bad).is_err());
        assert!(DateTime::from_packed((ymd << 17) << 24 | 1_000_000).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(duration_text(0, 0), "00:00:00");
        let max = (838 * 3600 + 59 * 60 + 59) * 1_000_000_000i64;
        assert_eq!(duration_text(-max, 6), "-838:59:59.000000");
        assert_eq!(duration_text(1_500_000_000, 3), "00:00:01.500");
        assert_eq!(duration_text(i64::MIN, 1).chars().next(), Some('-'));
        assert_eq!(parse_duration("-838:59:59.5").unwrap(), -max - 500_000_000);
        assert_eq!(parse_duration("12:34:56").unwrap(), 45_296_000_000_000);
        assert!(parse_duration("12:60:00").is_err());
    }

    #[test]
    fn parsing_defaults() {
        let t = DateTime::parse("2020-02-29 23:59:58.123").unwrap();
        assert_eq!(t.datetime_text(6), "2020-02-29 23:59:58.123000");
        assert_eq!(
            DateTime::parse("1999-12-31").unwrap().date_text(),
            "1999-12-31"
        );
        assert!(DateTime::parse("1999-13-31").is_err());
        assert!(DateTime::parse("CURRENT_TIMESTAMP").is_err());
    }
}
