//! `-time-zone`: the zoned time `generate_meta` adds to the savepoint, from the system's time
//! zone database (`TZDIR`, else `/usr/share/zoneinfo`, read by jiff), so no zone data is
//! bundled.

use jiff::tz::TimeZone;

use super::Error;

/// The zone `name` (an IANA name such as `Asia/Shanghai`, or `UTC`) from the system's database.
/// Fails, naming it, if there is no such zone. The name must match exactly: jiff also finds
/// zones under another letter case, which would print a name the system does not have.
pub(crate) fn lookup(name: &str) -> Result<TimeZone, Error> {
    TimeZone::get(name)
        .ok()
        .filter(|zone| zone.iana_name() == Some(name))
        .ok_or_else(|| Error::UnknownTimeZone(name.to_owned()))
}

/// The time of the TSO `ts` in `zone` to the second, in Go's layout:
/// `2019-04-28 17:29:57 +0800 CST`.
pub(crate) fn local_time(ts: u64, zone: &TimeZone) -> String {
    let seconds = binlog_node::tso::physical_ms(ts) / 1000;
    // A TSO's 46 physical bits (year 4199) are always in jiff's range (year 9999).
    match i64::try_from(seconds).map(jiff::Timestamp::from_second) {
        Ok(Ok(time)) => time
            .to_zoned_datetime(zone.clone())
            .strftime("%Y-%m-%d %H:%M:%S %z %Z")
            .to_string(),
        _ => format!("<{seconds} s after the epoch: out of range>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_layout_in_the_named_zone() {
        let ts = binlog_node::tso::compose_ts(1_556_443_797_000, 0);
        let shanghai = lookup("Asia/Shanghai").unwrap();
        assert_eq!(local_time(ts, &shanghai), "2019-04-28 17:29:57 +0800 CST");
        let utc = lookup("UTC").unwrap();
        assert_eq!(local_time(ts, &utc), "2019-04-28 09:29:57 +0000 UTC");
        for unknown in ["", "Mars/Olympus", "asia/shanghai", "../zoneinfo/UTC"] {
            assert!(lookup(unknown).is_err(), "{unknown}");
        }
    }
}
