//! Parsers of the command line's values (durations, sizes, the value-size distribution, rates
//! and fractions), and the small random generator the clients draw from.

use std::fmt;
use std::str::FromStr;

use binlog_node::config::go_values::ReadableSize;

/// A duration: a Go duration (`500ms`, `10s`, `1h30m`) or a bare number of seconds, as the
/// pump's and drainer's configs take them.
pub use binlog_node::config::go_values::parse_duration;

/// A byte size in the pump's grammar (go-humanize's): `KB`, `MB` are powers of 10, `KiB`,
/// `MiB` powers of 2, a bare number is bytes (see [`ReadableSize`]).
fn parse_size(text: &str) -> Result<u64, String> {
    text.parse::<ReadableSize>().map(|size| size.0)
}

/// A fraction in `[0, 1]`.
pub fn parse_fraction(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(value) if (0.0..=1.0).contains(&value) => Ok(value),
        _ => Err(format!(
            "invalid fraction {text:?}: expected a number from 0 to 1"
        )),
    }
}

/// A positive rate (per second).
pub fn parse_rate(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(value) if value.is_finite() && value > 0.0 => Ok(value),
        _ => Err(format!(
            "invalid rate {text:?}: expected a positive number per second"
        )),
    }
}

/// The largest value size accepted: far above what a pump takes by default.
const MAX_VALUE_SIZE: u64 = 1 << 30;

/// How the size of each prewrite value's row is drawn: `SIZE` (fixed) or `MIN..MAX`
/// (uniform, both included).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValueSize {
    /// Smallest size, bytes.
    pub min: u64,
    /// Largest size, bytes.
    pub max: u64,
}

impl ValueSize {
    /// Draws one size.
    pub fn sample(&self, rng: &mut Rng) -> usize {
        let span = self.max - self.min + 1;
        (self.min + rng.next_u64() % span) as usize
    }
}

impl FromStr for ValueSize {
    type Err = String;

    fn from_str(text: &str) -> Result<ValueSize, String> {
        let (min, max) = match text.split_once("..") {
            Some((min, max)) => (parse_size(min)?, parse_size(max)?),
            None => {
                let size = parse_size(text)?;
                (size, size)
            }
        };
        if min > max {
            return Err(format!(
                "invalid size range {text:?}: minimum above maximum"
            ));
        }
        if max > MAX_VALUE_SIZE {
            return Err(format!("value size {text:?} is above the 1 GiB limit"));
        }
        Ok(ValueSize { min, max })
    }
}

impl fmt::Display for ValueSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.min == self.max {
            write!(f, "{}B", self.min)
        } else {
            write!(f, "{}B..{}B", self.min, self.max)
        }
    }
}

/// SplitMix64: a tiny, fast, seedable generator; plenty for sizes, choices and filler bytes.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform draw from `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(len);
        out
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert!(parse_duration("10x").is_err());
        assert!(parse_duration("s").is_err());
    }

    #[test]
    fn sizes_and_distributions() {
        assert_eq!(parse_size("1KiB"), Ok(1024));
        assert_eq!(parse_size("256b"), Ok(256));
        assert_eq!(parse_size("2MiB"), Ok(2 << 20));
        assert_eq!(parse_size("2M"), Ok(2_000_000));
        assert!(parse_size("5 parsecs").is_err());
        assert!("2GiB".parse::<ValueSize>().is_err());
        let fixed: ValueSize = "1KiB".parse().unwrap();
        assert_eq!((fixed.min, fixed.max), (1024, 1024));
        let range: ValueSize = "256B..16KiB".parse().unwrap();
        assert_eq!((range.min, range.max), (256, 16384));
        let mut rng = Rng::new(1);
        for _ in 0..1000 {
            let size = range.sample(&mut rng) as u64;
            assert!((256..=16384).contains(&size));
        }
        assert!("2KiB..1KiB".parse::<ValueSize>().is_err());
        assert_eq!(rng.bytes(13).len(), 13);
    }

    #[test]
    fn fractions_and_rates() {
        assert_eq!(parse_fraction("0.25"), Ok(0.25));
        assert!(parse_fraction("1.5").is_err());
        assert!(parse_rate("0").is_err());
        assert_eq!(parse_rate("100"), Ok(100.0));
    }

    #[test]
    fn value_size_1mb_means_what_the_pumps_1mb_means() {
        // The pump reads `[storage] stop-write-at-available-space = "1MB"` as 10^6 bytes (see
        // its config tests), as the original does.
        let mb: ValueSize = "1MB".parse().unwrap();
        assert_eq!((mb.min, mb.max), (1_000_000, 1_000_000));
        assert_eq!(ReadableSize(mb.min), "1MB".parse::<ReadableSize>().unwrap());
        let mib: ValueSize = "1KB..1MiB".parse().unwrap();
        assert_eq!((mib.min, mib.max), (1_000, 1 << 20));
    }
}
