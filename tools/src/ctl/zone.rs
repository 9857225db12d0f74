//! `-time-zone`: the zoned time `generate_meta` adds to the savepoint, from the system's time
//! zone database through the C library (`TZ`, `localtime_r`), so no zone data is bundled.

use std::path::{Component, Path, PathBuf};

use super::Error;

extern "C" {
    /// POSIX `tzset(3)`, which the `libc` crate does not declare: reloads the zone from `TZ`.
    fn tzset();
}

/// Where zone files are when `TZDIR` is not set.
const DEFAULT_ZONE_DIR: &str = "/usr/share/zoneinfo";

/// Makes `zone` (an IANA name such as `Asia/Shanghai`, or `UTC`) the process's local time zone
/// by setting `TZ`. Fails, naming it, if the system has no such zone.
///
/// It changes the environment, so it must run before the process starts other threads.
pub(crate) fn install(zone: &str) -> Result<(), Error> {
    let unknown = || Error::UnknownTimeZone(zone.to_owned());
    let relative = Path::new(zone);
    if zone.is_empty()
        || !relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
    {
        return Err(unknown());
    }
    let dir =
        std::env::var_os("TZDIR").map_or_else(|| PathBuf::from(DEFAULT_ZONE_DIR), PathBuf::from);
    if !dir.join(relative).is_file() {
        return Err(unknown());
    }
    std::env::set_var("TZ", zone);
    // SAFETY: tzset only reads `TZ` and the zone file; no other thread runs yet (see above).
    unsafe { tzset() };
    Ok(())
}

/// The local time of the TSO `ts` to the second, in Go's layout: `2019-04-28 17:29:57 +0800 CST`.
pub(crate) fn local_time(ts: u64) -> String {
    let seconds = (binlog_node::tso::physical_ms(ts) / 1000) as libc::time_t;
    // SAFETY: `tm` is plain data that localtime_r fills; both pointers are valid for the call.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    if unsafe { libc::localtime_r(&seconds, &mut tm) }.is_null() {
        return format!("<{seconds} s after the epoch: out of range>");
    }
    let offset_minutes = tm.tm_gmtoff / 60;
    let sign = if offset_minutes < 0 { '-' } else { '+' };
    let abbreviation = if tm.tm_zone.is_null() {
        String::new()
    } else {
        // SAFETY: glibc's tm_zone points at a NUL-terminated static abbreviation.
        unsafe { std::ffi::CStr::from_ptr(tm.tm_zone) }
            .to_string_lossy()
            .into_owned()
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} {sign}{:02}{:02} {abbreviation}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        offset_minutes.abs() / 60,
        offset_minutes.abs() % 60,
    )
}
