//! TiDB's datum codec (`pkg/util/codec/codec.go`): one flag byte, then the value. Both forms
//! are read: the memcomparable one `codec.EncodeKey` writes (index and record keys, so a
//! clustered primary key) and the compact one `codec.EncodeValue` writes (rows).
//!
//! | flag | name | bytes after the flag |
//! |---|---|---|
//! | 0 | `NilFlag` | none (SQL NULL) |
//! | 1 | `bytesFlag` | memcomparable groups: 8 data bytes and a marker `0xFF - pad`, until a marker below `0xFF` (`EncodeBytes`) |
//! | 2 | `compactBytesFlag` | zigzag varint length, then the bytes (`EncodeCompactBytes`) |
//! | 3 | `intFlag` | 8 bytes big-endian, sign bit flipped (`EncodeInt`) |
//! | 4 | `uintFlag` | 8 bytes big-endian (`EncodeUint`) |
//! | 5 | `floatFlag` | 8 bytes: the IEEE bits, sign bit set when positive, all bits flipped when negative (`EncodeFloat`) |
//! | 6 | `decimalFlag` | precision byte, frac byte, `MyDecimal.WriteBin` (see [`crate::decimal`]) |
//! | 7 | `durationFlag` | nanoseconds as `intFlag` does (`EncodeInt`) |
//! | 8 | `varintFlag` | zigzag varint (Go's `binary.PutVarint`) |
//! | 9 | `uvarintFlag` | LEB128 varint (Go's `binary.PutUvarint`) |
//! | 10 | `jsonFlag` | JSON type code, then TiDB's binary JSON (see [`crate::json`]) |
//! | 250 | `maxFlag` | none (the maximum value, only in key ranges) |
//!
//! Rows are written with `EncodeValue` after `tablecodec.flatten`, so a row's values only use
//! flags 0, 2, 5, 6, 8, 9 and 10. Decoding here checks the framing (lengths, markers, varint
//! overflow) and reads fixed-size values; decimals and JSON are kept as their bytes and checked
//! only when a column's value is made from them ([`crate::decimal`], [`crate::json`]), as
//! TiDB's `CutOne` only frames a value it skips.

use crate::decimal;
use crate::error::{Error, Result};
use crate::json;
use crate::value::Value;
use crate::varint::{put_uvarint, put_varint, uvarint, zigzag};

/// `NilFlag`.
pub const NIL_FLAG: u8 = 0;
/// `bytesFlag` (memcomparable bytes).
pub const BYTES_FLAG: u8 = 1;
/// `compactBytesFlag`.
pub const COMPACT_BYTES_FLAG: u8 = 2;
/// `intFlag` (memcomparable int64).
pub const INT_FLAG: u8 = 3;
/// `uintFlag` (memcomparable uint64).
pub const UINT_FLAG: u8 = 4;
/// `floatFlag` (memcomparable float64).
pub const FLOAT_FLAG: u8 = 5;
/// `decimalFlag`.
pub const DECIMAL_FLAG: u8 = 6;
/// `durationFlag` (memcomparable nanoseconds).
pub const DURATION_FLAG: u8 = 7;
/// `varintFlag`.
pub const VARINT_FLAG: u8 = 8;
/// `uvarintFlag`.
pub const UVARINT_FLAG: u8 = 9;
/// `jsonFlag`.
pub const JSON_FLAG: u8 = 10;
/// `vectorFloat32Flag` (TiDB v8.4+, never in a binlog).
pub const VECTOR_FLOAT32_FLAG: u8 = 20;
/// `maxFlag`.
pub const MAX_FLAG: u8 = 250;

/// One decoded datum, as `codec.DecodeOne` would give it (before the column's type is applied).
#[derive(Clone, Debug, PartialEq)]
pub enum Datum<'a> {
    /// SQL NULL (flag 0).
    Null,
    /// A signed integer (flags 3 and 8).
    Int(i64),
    /// An unsigned integer (flags 4 and 9): also packed times, enum, set and bit values.
    Uint(u64),
    /// A double (flag 5).
    Float(f64),
    /// Bytes (flags 1 and 2).
    Bytes(Vec<u8>),
    /// A decimal (flag 6): its precision, its frac and its `WriteBin` bytes, not yet checked.
    Decimal {
        /// Total digits.
        precision: u8,
        /// Digits after the point.
        frac: u8,
        /// `decimal::bin_size(precision, frac)` bytes.
        bin: &'a [u8],
    },
    /// A duration in nanoseconds (flag 7; rows carry durations as flag 8 instead).
    Duration(i64),
    /// Binary JSON (flag 10): its type code and value bytes, not yet checked.
    Json {
        /// The JSON type code (`JSONTypeCode*`).
        type_code: u8,
        /// The value bytes.
        value: &'a [u8],
    },
    /// The maximum value (flag 250; only key ranges use it).
    Max,
}

impl Datum<'_> {
    /// What kind of datum this is, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Datum::Null => "NULL",
            Datum::Int(_) => "an int",
            Datum::Uint(_) => "a uint",
            Datum::Float(_) => "a float",
            Datum::Bytes(_) => "bytes",
            Datum::Decimal { .. } => "a decimal",
            Datum::Duration(_) => "a duration",
            Datum::Json { .. } => "JSON",
            Datum::Max => "the max value",
        }
    }
}

/// Reads datums one after another from a buffer, keeping the byte offset for errors.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// The offset of the next byte to read.
    pub fn offset(&self) -> usize {
        self.pos
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos.min(self.buf.len())..]
    }

    fn error(&self, offset: usize, reason: impl Into<String>) -> Error {
        Error::Datum {
            offset,
            reason: reason.into(),
        }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let rest = self.rest();
        if rest.len() < n {
            return Err(self.error(
                self.pos,
                format!(
                    "{what} needs {n} bytes, {} are left (truncated)",
                    rest.len()
                ),
            ));
        }
        let bytes = &rest[..n];
        self.pos += n;
        Ok(bytes)
    }

    fn take8(&mut self, what: &str) -> Result<u64> {
        let bytes = self.take(8, what)?;
        Ok(u64::from_be_bytes(bytes.try_into().expect("8 bytes")))
    }

    fn uvarint(&mut self, what: &str) -> Result<u64> {
        let start = self.pos;
        match uvarint(self.rest()) {
            Ok((value, n)) => {
                self.pos += n;
                Ok(value)
            }
            Err(reason) => Err(self.error(start, format!("{what}: {reason}"))),
        }
    }

    fn varint(&mut self, what: &str) -> Result<i64> {
        let unsigned = self.uvarint(what)?;
        Ok(zigzag(unsigned))
    }

    /// Reads one datum (`codec.DecodeOne`).
    // Format: { flag u8 | value, by flag (see the table above) }
    pub fn datum(&mut self) -> Result<Datum<'a>> {
        let start = self.pos;
        let flag = *self
            .take(1, "a datum flag")
            .map_err(|_| self.error(start, "a datum is missing (no bytes left)"))?
            .first()
            .expect("1 byte");
        let datum = match flag {
            NIL_FLAG => Datum::Null,
            BYTES_FLAG => Datum::Bytes(self.memcomparable_bytes()?),
            // Format: { zigzag varint length | bytes }
            COMPACT_BYTES_FLAG => {
                let at = self.pos;
                let len = self.varint("compact bytes length")?;
                let len = usize::try_from(len)
                    .map_err(|_| self.error(at, format!("negative compact bytes length {len}")))?;
                Datum::Bytes(self.take(len, "compact bytes")?.to_vec())
            }
            INT_FLAG => Datum::Int((self.take8("an int")? ^ (1 << 63)) as i64),
            UINT_FLAG => Datum::Uint(self.take8("a uint")?),
            FLOAT_FLAG => Datum::Float(decode_cmp_float(self.take8("a float")?)),
            // Format: { precision u8 | frac u8 | WriteBin bytes (decimal::bin_size) }
            DECIMAL_FLAG => {
                let at = self.pos;
                let head = self.take(2, "a decimal's precision and frac")?;
                let (precision, frac) = (head[0], head[1]);
                let size = decimal::bin_size(precision, frac)
                    .map_err(|reason| self.error(at, format!("decimal: {reason}")))?;
                Datum::Decimal {
                    precision,
                    frac,
                    bin: self.take(size, "a decimal")?,
                }
            }
            DURATION_FLAG => Datum::Duration((self.take8("a duration")? ^ (1 << 63)) as i64),
            VARINT_FLAG => Datum::Int(self.varint("a varint")?),
            UVARINT_FLAG => Datum::Uint(self.uvarint("a uvarint")?),
            // Format: { JSON type code u8 | binary JSON value (json::peek_size) }
            JSON_FLAG => {
                let at = self.pos;
                let size = json::peek_size(self.rest())
                    .map_err(|reason| self.error(at, format!("JSON: {reason}")))?;
                let bytes = self.take(size, "a JSON value")?;
                Datum::Json {
                    type_code: bytes[0],
                    value: &bytes[1..],
                }
            }
            MAX_FLAG => Datum::Max,
            VECTOR_FLOAT32_FLAG => {
                return Err(self.error(start, "vector (flag 20) datums are not supported"))
            }
            other => return Err(self.error(start, format!("invalid datum flag {other}"))),
        };
        Ok(datum)
    }

    /// `codec.DecodeBytes`: groups of 8 bytes and a marker `0xFF - padding`.
    // Format: { 8 bytes | marker 0xFF - pad }*, ending at the first marker below 0xFF, whose
    // `pad` last bytes are zeros
    fn memcomparable_bytes(&mut self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let at = self.pos;
            let group = self.take(9, "a memcomparable bytes group")?;
            let pad = 0xFF - group[8];
            if pad > 8 {
                return Err(self.error(at + 8, format!("invalid bytes marker {:#04x}", group[8])));
            }
            let real = 8 - usize::from(pad);
            out.extend_from_slice(&group[..real]);
            if pad != 0 {
                if group[real..8].iter().any(|&b| b != 0) {
                    return Err(self.error(at, "non-zero padding in memcomparable bytes"));
                }
                return Ok(out);
            }
        }
    }
}

/// `codec.decodeCmpUintToFloat`.
/// Appends `value` as `codec.EncodeValue` writes the datum TiDB's translators make of it (the
/// original drainer's `pb_binlog` column values): NULL as flag 0, signed integers as a varint
/// (8), unsigned ones as a uvarint (9), doubles as a comparable float (5), and text and bytes
/// as compact bytes (2).
// Format: { flag u8 | value, by flag (see the table above) }
pub fn encode_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(NIL_FLAG),
        Value::Int(v) => {
            out.push(VARINT_FLAG);
            put_varint(*v, out);
        }
        Value::Uint(v) => {
            out.push(UVARINT_FLAG);
            put_uvarint(*v, out);
        }
        Value::Float(v) => {
            out.push(FLOAT_FLAG);
            out.extend_from_slice(&encode_cmp_float(*v).to_be_bytes());
        }
        Value::Bytes(bytes) => encode_compact_bytes(bytes, out),
        Value::Text(text) => encode_compact_bytes(text.as_bytes(), out),
    }
}

// Format: { 2 | zigzag varint length | bytes }
fn encode_compact_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    out.push(COMPACT_BYTES_FLAG);
    put_varint(bytes.len() as i64, out);
    out.extend_from_slice(bytes);
}

/// `codec.EncodeFloat`'s bits: the sign bit set when positive, every bit flipped when negative.
fn encode_cmp_float(f: f64) -> u64 {
    const SIGN: u64 = 1 << 63;
    let bits = f.to_bits();
    if f >= 0.0 {
        bits | SIGN
    } else {
        !bits
    }
}

fn decode_cmp_float(u: u64) -> f64 {
    const SIGN: u64 = 1 << 63;
    let bits = if u & SIGN != 0 { u & !SIGN } else { !u };
    f64::from_bits(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(bytes: &[u8]) -> Result<Datum<'_>> {
        let mut reader = Reader::new(bytes);
        let datum = reader.datum()?;
        assert!(reader.is_empty(), "left over: {:?}", reader.rest());
        Ok(datum)
    }

    #[test]
    fn encoded_values_read_back_as_the_datums_tidb_would_decode() {
        let encode = |value: Value| {
            let mut out = Vec::new();
            encode_value(&value, &mut out);
            out
        };
        assert_eq!(encode(Value::Null), [0]);
        assert_eq!(encode(Value::Int(-3)), [8, 0x05]);
        assert_eq!(encode(Value::Uint(300)), [9, 0xAC, 0x02]);
        assert_eq!(encode(Value::Text("ab".into())), [2, 4, b'a', b'b']);
        assert_eq!(
            encode(Value::Float(1.0)),
            [5, 0xBF, 0xF0, 0, 0, 0, 0, 0, 0],
            "EncodeFloat(1.0): the sign bit set on 0x3FF0..."
        );
        let cases = [
            (Value::Int(i64::MIN), Datum::Int(i64::MIN)),
            (Value::Uint(u64::MAX), Datum::Uint(u64::MAX)),
            (Value::Float(-2.5), Datum::Float(-2.5)),
            (Value::Float(0.0), Datum::Float(0.0)),
            (Value::Bytes(vec![0, 255]), Datum::Bytes(vec![0, 255])),
            (Value::Bytes(Vec::new()), Datum::Bytes(Vec::new())),
        ];
        for (value, datum) in cases {
            assert_eq!(one(&encode(value.clone())).unwrap(), datum, "{value:?}");
        }
    }

    #[test]
    fn fixed_width_forms() {
        // EncodeInt(-1): uint64(-1) ^ signMask = 0x7FFF_FFFF_FFFF_FFFF.
        assert_eq!(
            one(&[3, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]).unwrap(),
            Datum::Int(-1)
        );
        assert_eq!(one(&[4, 0, 0, 0, 0, 0, 0, 1, 0]).unwrap(), Datum::Uint(256));
        // EncodeFloat(1.0): 0x3FF0... with the sign bit set.
        assert_eq!(
            one(&[5, 0xBF, 0xF0, 0, 0, 0, 0, 0, 0]).unwrap(),
            Datum::Float(1.0)
        );
        // EncodeFloat(-2.0): all bits of 0xC000... flipped.
        assert_eq!(
            one(&[5, 0x3F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]).unwrap(),
            Datum::Float(-2.0)
        );
        assert_eq!(
            one(&[7, 0x80, 0, 0, 0, 0, 0, 0, 5]).unwrap(),
            Datum::Duration(5)
        );
    }

    #[test]
    fn varints_follow_go() {
        assert_eq!(one(&[8, 0x01]).unwrap(), Datum::Int(-1));
        assert_eq!(one(&[8, 0x02]).unwrap(), Datum::Int(1));
        assert_eq!(one(&[9, 0xAC, 0x02]).unwrap(), Datum::Uint(300));
        let max = [
            9, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01,
        ];
        assert_eq!(one(&max).unwrap(), Datum::Uint(u64::MAX));
        let over = [
            9, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02,
        ];
        assert!(one(&over).is_err());
        let eleven = [
            9, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0,
        ];
        assert!(one(&eleven).is_err());
        assert!(one(&[9, 0x80]).is_err());
    }

    #[test]
    fn bytes_both_forms() {
        // The examples in EncodeBytes' doc comment.
        assert_eq!(
            one(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 247]).unwrap(),
            Datum::Bytes(vec![])
        );
        assert_eq!(
            one(&[1, 1, 2, 3, 0, 0, 0, 0, 0, 250]).unwrap(),
            Datum::Bytes(vec![1, 2, 3])
        );
        assert_eq!(
            one(&[1, 1, 2, 3, 4, 5, 6, 7, 8, 255, 0, 0, 0, 0, 0, 0, 0, 0, 247]).unwrap(),
            Datum::Bytes(vec![1, 2, 3, 4, 5, 6, 7, 8])
        );
        assert!(
            one(&[1, 1, 2, 3, 0, 0, 0, 9, 0, 250]).is_err(),
            "bad padding"
        );
        assert!(
            one(&[1, 1, 2, 3, 0, 0, 0, 0, 0, 240]).is_err(),
            "bad marker"
        );
        assert_eq!(
            one(&[2, 6, b'a', b'b', b'c']).unwrap(),
            Datum::Bytes(b"abc".to_vec())
        );
        assert!(one(&[2, 1]).is_err(), "negative length");
        assert!(one(&[2, 8, b'a']).is_err(), "short");
    }

    #[test]
    fn errors_name_the_offset() {
        let mut reader = Reader::new(&[8, 2, 0xEE]);
        reader.datum().unwrap();
        match reader.datum() {
            Err(Error::Datum { offset, reason }) => {
                assert_eq!(offset, 2);
                assert!(reason.contains("238"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert!(Reader::new(&[]).datum().is_err());
        assert!(Reader::new(&[20, 0]).datum().is_err());
        assert_eq!(Reader::new(&[250]).datum().unwrap(), Datum::Max);
    }
}
