//! TiDB's (and MySQL's) binary decimal, `MyDecimal.WriteBin`/`FromBin` in
//! `pkg/types/mydecimal.go`, read into exact digits.
//!
//! For a `DECIMAL(precision, frac)` the integer digits are cut into groups of 9 from the point
//! leftwards and the fraction digits into groups of 9 from the point rightwards. A full group is
//! 4 bytes big-endian; the leftmost partial integer group and the rightmost partial fraction
//! group take only the bytes their digits need (`dig2bytes`: 1-2 digits 1 byte, 3-4 digits 2,
//! 5-6 digits 3, 7-9 digits 4). A negative number has every byte inverted; then the first byte's
//! top bit is flipped, so a positive number starts with that bit set. Example from
//! `mydecimal.go`: `1234567890.1234` as (14, 4) is `81 0D FB 38 D2 04 D2`, and
//! `-1234567890.1234` is `7E F2 04 C7 2D FB 2D`.

/// Largest precision of a MySQL/TiDB `DECIMAL` (`mysql.MaxDecimalWidth`).
pub const MAX_PRECISION: u8 = 65;
/// Largest scale of a MySQL/TiDB `DECIMAL` (`mysql.MaxDecimalScale`).
pub const MAX_SCALE: u8 = 30;

const DIGITS_PER_WORD: usize = 9;
const WORD_SIZE: usize = 4;
/// Bytes a partial group of `n` digits takes (`dig2bytes`).
const DIG2BYTES: [usize; 10] = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];

/// The size of `WriteBin`'s output for (precision, frac) (`DecimalBinSize`), or why that shape
/// is impossible.
pub fn bin_size(precision: u8, frac: u8) -> Result<usize, String> {
    if precision == 0 || precision > MAX_PRECISION {
        return Err(format!(
            "impossible precision {precision} (1..={MAX_PRECISION})"
        ));
    }
    if frac > MAX_SCALE || frac > precision {
        return Err(format!(
            "impossible frac {frac} for precision {precision} (at most {MAX_SCALE} and the precision)"
        ));
    }
    let int_digits = usize::from(precision - frac);
    let frac = usize::from(frac);
    Ok(int_digits / DIGITS_PER_WORD * WORD_SIZE
        + DIG2BYTES[int_digits % DIGITS_PER_WORD]
        + frac / DIGITS_PER_WORD * WORD_SIZE
        + DIG2BYTES[frac % DIGITS_PER_WORD])
}

/// An exact decimal as its digits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decimal {
    negative: bool,
    /// Integer digits without leading zeros (empty for 0).
    int: Vec<u8>,
    /// Fraction digits, as many as the value carries (trailing zeros kept).
    frac: Vec<u8>,
}

impl Decimal {
    /// Reads `WriteBin` bytes of the shape (precision, frac) (`MyDecimal.FromBin`), checking
    /// that every group holds a number of its width.
    // Format: { leading integer group (dig2bytes[int % 9] B) | integer words (4 B)* |
    //           fraction words (4 B)* | trailing fraction group (dig2bytes[frac % 9] B) },
    //         big-endian, every byte inverted when negative, then the first bit flipped
    pub fn from_bin(precision: u8, frac: u8, bin: &[u8]) -> Result<Decimal, String> {
        let size = bin_size(precision, frac)?;
        if bin.len() < size {
            return Err(format!(
                "decimal({precision},{frac}) needs {size} bytes, has {}",
                bin.len()
            ));
        }
        let mut bytes = bin[..size].to_vec();
        let negative = bytes[0] & 0x80 == 0;
        bytes[0] ^= 0x80;
        if negative {
            bytes.iter_mut().for_each(|b| *b = !*b);
        }
        let int_digits = usize::from(precision - frac);
        let frac_digits = usize::from(frac);
        let mut groups: Vec<(usize, usize)> = Vec::new(); // (digits, bytes)
        if int_digits % DIGITS_PER_WORD > 0 {
            let digits = int_digits % DIGITS_PER_WORD;
            groups.push((digits, DIG2BYTES[digits]));
        }
        groups.extend(std::iter::repeat_n(
            (DIGITS_PER_WORD, WORD_SIZE),
            int_digits / DIGITS_PER_WORD,
        ));
        let int_groups = groups.len();
        groups.extend(std::iter::repeat_n(
            (DIGITS_PER_WORD, WORD_SIZE),
            frac_digits / DIGITS_PER_WORD,
        ));
        if frac_digits % DIGITS_PER_WORD > 0 {
            let digits = frac_digits % DIGITS_PER_WORD;
            groups.push((digits, DIG2BYTES[digits]));
        }
        let mut int = Vec::with_capacity(int_digits);
        let mut fraction = Vec::with_capacity(frac_digits);
        let mut at = 0;
        for (index, (digits, width)) in groups.into_iter().enumerate() {
            let value = bytes[at..at + width]
                .iter()
                .fold(0u64, |acc, &b| acc << 8 | u64::from(b));
            at += width;
            if value >= 10u64.pow(digits as u32) {
                return Err(format!(
                    "decimal({precision},{frac}) group {index} holds {value}, more than {digits} digits"
                ));
            }
            let text = format!("{value:0digits$}");
            // A partial fraction group holds the fraction's rightmost digits as a number of
            // that many digits (`WriteBin` divides the word by powers10[9 - digits]).
            let digits = text.bytes().map(|b| b - b'0');
            if index < int_groups {
                int.extend(digits);
            } else {
                fraction.extend(digits);
            }
        }
        Ok(Decimal::new(negative, int, fraction))
    }

    fn new(negative: bool, int: Vec<u8>, frac: Vec<u8>) -> Decimal {
        let first = int.iter().position(|&d| d != 0).unwrap_or(int.len());
        let int = int[first..].to_vec();
        let zero = int.is_empty() && frac.iter().all(|&d| d == 0);
        Decimal {
            negative: negative && !zero,
            int,
            frac,
        }
    }

    /// Parses `[+-]digits[.digits]` (a decimal origin default as TiDB stores it).
    pub fn parse(text: &str) -> Result<Decimal, String> {
        let trimmed = text.trim();
        let (negative, body) = match trimmed.as_bytes().first() {
            Some(b'-') => (true, &trimmed[1..]),
            Some(b'+') => (false, &trimmed[1..]),
            _ => (false, trimmed),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        let digits = |part: &str| -> Option<Vec<u8>> {
            part.bytes()
                .map(|b| b.is_ascii_digit().then(|| b - b'0'))
                .collect()
        };
        match (digits(int), digits(frac)) {
            (Some(int), Some(frac)) if !(int.is_empty() && frac.is_empty()) => {
                Ok(Decimal::new(negative, int, frac))
            }
            _ => Err(format!("{text:?} is not a decimal number")),
        }
    }

    /// The digits with exactly `scale` fraction digits (zeros added, or rounded half away from
    /// zero as MySQL rounds), or as many as the value carries when `scale` is `None`.
    pub fn to_text(&self, scale: Option<usize>) -> String {
        let scale = scale.unwrap_or(self.frac.len());
        let mut int = self.int.clone();
        let mut frac = self.frac.clone();
        if frac.len() > scale {
            let round_up = frac[scale] >= 5;
            frac.truncate(scale);
            if round_up {
                let mut carry = true;
                for digit in frac.iter_mut().rev().chain(int.iter_mut().rev()) {
                    if *digit == 9 {
                        *digit = 0;
                    } else {
                        *digit += 1;
                        carry = false;
                        break;
                    }
                }
                if carry {
                    int.insert(0, 1);
                }
            }
        }
        frac.resize(scale, 0);
        let zero = int.iter().all(|&d| d == 0) && frac.iter().all(|&d| d == 0);
        let mut out = String::with_capacity(int.len() + frac.len() + 3);
        if self.negative && !zero {
            out.push('-');
        }
        if int.is_empty() {
            out.push('0');
        }
        out.extend(int.iter().map(|&d| char::from(b'0' + d)));
        if scale > 0 {
            out.push('.');
            out.extend(frac.iter().map(|&d| char::from(b'0' + d)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_doc_comment_examples() {
        let bin = [0x81, 0x0D, 0xFB, 0x38, 0xD2, 0x04, 0xD2];
        assert_eq!(bin_size(14, 4).unwrap(), 7);
        let d = Decimal::from_bin(14, 4, &bin).unwrap();
        assert_eq!(d.to_text(None), "1234567890.1234");
        let neg = [0x7E, 0xF2, 0x04, 0xC7, 0x2D, 0xFB, 0x2D];
        assert_eq!(
            Decimal::from_bin(14, 4, &neg).unwrap().to_text(None),
            "-1234567890.1234"
        );
    }

    #[test]
    fn impossible_shapes_and_groups() {
        assert!(bin_size(0, 0).is_err());
        assert!(bin_size(66, 0).is_err());
        assert!(bin_size(40, 31).is_err());
        assert!(bin_size(3, 4).is_err());
        assert_eq!(bin_size(65, 30).unwrap(), 30);
        // A 1-byte group of 2 digits holding 100.
        assert!(Decimal::from_bin(2, 0, &[0x80 | 100]).is_err());
        assert!(Decimal::from_bin(14, 4, &[0x81, 0x0D]).is_err());
    }

    #[test]
    fn rescaling() {
        let d = Decimal::parse("-12.34").unwrap();
        assert_eq!(d.to_text(Some(3)), "-12.340");
        assert_eq!(d.to_text(Some(1)), "-12.3");
        assert_eq!(Decimal::parse("9.95").unwrap().to_text(Some(1)), "10.0");
        assert_eq!(Decimal::parse("99.5").unwrap().to_text(Some(0)), "100");
        assert_eq!(Decimal::parse("-0.004").unwrap().to_text(Some(2)), "0.00");
        assert_eq!(Decimal::parse(".5").unwrap().to_text(None), "0.5");
        assert!(Decimal::parse("1e5").is_err());
        assert!(Decimal::parse("-").is_err());
    }
}
