//! TiDB's binary JSON (`pkg/types/json_binary.go`) read into the text MySQL prints.
//!
//! A value is a type code and bytes:
//!
//! | code | type | bytes |
//! |---|---|---|
//! | 0x01 | object | `count u32, size u32`, `count` key entries `(offset u32, length u16)`, `count` value entries, the keys, the values |
//! | 0x03 | array | `count u32, size u32`, `count` value entries, the values |
//! | 0x04 | literal | 0x00 null, 0x01 true, 0x02 false |
//! | 0x09 | int64 | 8 bytes |
//! | 0x0a | uint64 | 8 bytes |
//! | 0x0b | double | 8 bytes (IEEE bits) |
//! | 0x0c | string | uvarint length, UTF-8 bytes |
//! | 0x0d | opaque | MySQL type byte, uvarint length, bytes |
//! | 0x0e, 0x0f, 0x10 | date, datetime, timestamp | 8 bytes: a `CoreTime` |
//! | 0x11 | time | 8 bytes nanoseconds, 4 bytes fsp |
//!
//! All integers are little-endian. `size` is the container's whole length from its `count`;
//! offsets are from the container's start. A value entry is a type code and 4 bytes: a literal's
//! byte inline, any other value's offset. Keys are sorted bytewise.
//!
//! The text follows `BinaryJSON.MarshalJSON`, which prints as MySQL does: `", "` and `": "`
//! between items, strings with `\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f` and `\u00XX`
//! escapes (other text unescaped, invalid UTF-8 as `\ufffd`, U+2028/9 escaped), doubles in the
//! shortest form that reads back the same (`.0` added to whole numbers, an exponent below
//! 1e-15 and from 1e15), opaque values as `"base64:type<N>:<base64>"`, times and durations
//! quoted with 6 fraction digits.

use crate::time::{duration_text, DateTime};
use crate::varint::uvarint;

const OBJECT: u8 = 0x01;
const ARRAY: u8 = 0x03;
const LITERAL: u8 = 0x04;
const INT64: u8 = 0x09;
const UINT64: u8 = 0x0a;
const FLOAT64: u8 = 0x0b;
const STRING: u8 = 0x0c;
const OPAQUE: u8 = 0x0d;
const DATE: u8 = 0x0e;
const DATETIME: u8 = 0x0f;
const TIMESTAMP: u8 = 0x10;
const DURATION: u8 = 0x11;

const HEADER_SIZE: usize = 8;
const KEY_ENTRY_SIZE: usize = 6;
const VALUE_ENTRY_SIZE: usize = 5;
/// TiDB refuses documents deeper than 100 (`maxJSONDepth`); a little slack, and a bound on
/// recursion for hostile input.
const MAX_DEPTH: usize = 128;

/// The length of the JSON value (type code included) at the start of `b`
/// (`types.PeekBytesAsJSON`), checked against the bytes there.
pub fn peek_size(b: &[u8]) -> Result<usize, String> {
    let Some((&code, value)) = b.split_first() else {
        return Err("no type code".into());
    };
    let size = match code {
        OBJECT | ARRAY => {
            if value.len() < HEADER_SIZE {
                return Err("container header truncated".into());
            }
            u32_at(value, 4) as usize
        }
        STRING => {
            let (len, n) = uvarint(value).map_err(|r| format!("string: {r}"))?;
            usize::try_from(len)
                .ok()
                .and_then(|len| len.checked_add(n))
                .ok_or("string length overflows")?
        }
        OPAQUE => {
            if value.is_empty() {
                return Err("opaque value truncated".into());
            }
            let (len, n) = uvarint(&value[1..]).map_err(|r| format!("opaque: {r}"))?;
            usize::try_from(len)
                .ok()
                .and_then(|len| len.checked_add(n + 1))
                .ok_or("opaque length overflows")?
        }
        INT64 | UINT64 | FLOAT64 | DATE | DATETIME | TIMESTAMP => 8,
        LITERAL => 1,
        DURATION => 12,
        other => return Err(format!("unknown type code {other:#04x}")),
    };
    if size > value.len() {
        return Err(format!(
            "value of type {code:#04x} needs {size} bytes, {} are left",
            value.len()
        ));
    }
    Ok(size + 1)
}

/// The JSON text of a binary JSON value, or why its bytes are not a JSON value.
pub fn to_text(type_code: u8, value: &[u8]) -> Result<String, String> {
    let mut out = String::new();
    // A document is a tree, so its text is at most a few times its bytes (6 characters for a
    // control byte in a string, 28 for an 8-byte datetime); hostile bytes can point many entries
    // at one value and ask for far more.
    let budget = value.len().saturating_mul(8).saturating_add(64);
    write_value(&mut out, type_code, value, 0, budget)?;
    Ok(out)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn fixed<const N: usize>(value: &[u8], what: &str) -> Result<(), String> {
    if value.len() < N {
        return Err(format!("{what} needs {N} bytes, has {}", value.len()));
    }
    Ok(())
}

fn write_value(
    out: &mut String,
    code: u8,
    value: &[u8],
    depth: usize,
    budget: usize,
) -> Result<(), String> {
    if out.len() > budget {
        return Err(format!(
            "its values overlap: the text would pass {budget} bytes"
        ));
    }
    match code {
        OBJECT | ARRAY => write_container(out, code, value, depth, budget),
        LITERAL => {
            let text = match value.first() {
                Some(0x00) => "null",
                Some(0x01) => "true",
                Some(0x02) => "false",
                Some(other) => return Err(format!("unknown literal {other:#04x}")),
                None => return Err("literal truncated".into()),
            };
            out.push_str(text);
            Ok(())
        }
        INT64 => {
            fixed::<8>(value, "int64")?;
            out.push_str(&(u64_at(value, 0) as i64).to_string());
            Ok(())
        }
        UINT64 => {
            fixed::<8>(value, "uint64")?;
            out.push_str(&u64_at(value, 0).to_string());
            Ok(())
        }
        FLOAT64 => {
            fixed::<8>(value, "double")?;
            write_double(out, f64::from_bits(u64_at(value, 0)))
        }
        STRING => {
            let (len, n) = uvarint(value).map_err(|r| format!("string: {r}"))?;
            let bytes = usize::try_from(len)
                .ok()
                .and_then(|len| value.get(n..n.checked_add(len)?))
                .ok_or("string truncated")?;
            write_string(out, bytes);
            Ok(())
        }
        OPAQUE => {
            let (&mysql_type, rest) = value.split_first().ok_or("opaque value truncated")?;
            let (len, n) = uvarint(rest).map_err(|r| format!("opaque: {r}"))?;
            let bytes = usize::try_from(len)
                .ok()
                .and_then(|len| rest.get(n..n.checked_add(len)?))
                .ok_or("opaque value truncated")?;
            out.push_str(&format!("\"base64:type{mysql_type}:"));
            base64(out, bytes);
            out.push('"');
            Ok(())
        }
        DATE | DATETIME | TIMESTAMP => {
            fixed::<8>(value, "time")?;
            let time = DateTime::from_core_time(u64_at(value, 0))?;
            let text = if code == DATE {
                time.date_text()
            } else {
                time.datetime_text(6)
            };
            write_string(out, text.as_bytes());
            Ok(())
        }
        DURATION => {
            fixed::<12>(value, "time")?;
            write_string(out, duration_text(u64_at(value, 0) as i64, 6).as_bytes());
            Ok(())
        }
        other => Err(format!("unknown type code {other:#04x}")),
    }
}

// Format: { count u32 | size u32 | key entries { offset u32 | length u16 }* (objects only) |
//           value entries { type u8 | literal byte or offset u32 }* | keys | values }
fn write_container(
    out: &mut String,
    code: u8,
    value: &[u8],
    depth: usize,
    budget: usize,
) -> Result<(), String> {
    if depth >= MAX_DEPTH {
        return Err(format!("nested deeper than {MAX_DEPTH}"));
    }
    if value.len() < HEADER_SIZE {
        return Err("container header truncated".into());
    }
    let count = u32_at(value, 0) as usize;
    let size = u32_at(value, 4) as usize;
    if size > value.len() || size < HEADER_SIZE {
        return Err(format!(
            "container size {size} does not fit its {} bytes",
            value.len()
        ));
    }
    let doc = &value[..size];
    let is_object = code == OBJECT;
    let key_entries = if is_object { count * KEY_ENTRY_SIZE } else { 0 };
    let entries_end = count
        .checked_mul(KEY_ENTRY_SIZE * usize::from(is_object) + VALUE_ENTRY_SIZE)
        .and_then(|n| n.checked_add(HEADER_SIZE))
        .filter(|&end| end <= size)
        .ok_or_else(|| format!("{count} entries do not fit a container of {size} bytes"))?;
    debug_assert!(entries_end <= doc.len());
    out.push(if is_object { '{' } else { '[' });
    for i in 0..count {
        if i > 0 {
            out.push_str(", ");
        }
        if is_object {
            let entry = HEADER_SIZE + i * KEY_ENTRY_SIZE;
            let offset = u32_at(doc, entry) as usize;
            let len = usize::from(u16::from_le_bytes([doc[entry + 4], doc[entry + 5]]));
            let key = doc
                .get(offset..offset + len)
                .ok_or_else(|| format!("key {i} at {offset}+{len} is outside the object"))?;
            write_string(out, key);
            out.push_str(": ");
        }
        let entry = HEADER_SIZE + key_entries + i * VALUE_ENTRY_SIZE;
        let elem_code = doc[entry];
        if elem_code == LITERAL {
            write_value(out, LITERAL, &doc[entry + 1..entry + 2], depth + 1, budget)?;
            continue;
        }
        let offset = u32_at(doc, entry + 1) as usize;
        let elem = doc
            .get(offset..)
            .filter(|_| offset >= entries_end)
            .ok_or_else(|| format!("value {i} at {offset} is outside the container"))?;
        write_value(out, elem_code, elem, depth + 1, budget)?;
    }
    out.push(if is_object { '}' } else { ']' });
    Ok(())
}

/// `marshalFloat64To`: shortest round-trip digits, an exponent below 1e-15 and from 1e15
/// (`e-7`, `e21`), a `.0` on whole numbers.
fn write_double(out: &mut String, f: f64) -> Result<(), String> {
    if !f.is_finite() {
        return Err(format!("double {f} is not a JSON number"));
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-15..1e15).contains(&abs) {
        out.push_str(&format!("{f:e}"));
    } else {
        let text = f.to_string();
        let whole = !text.contains('.');
        out.push_str(&text);
        if whole {
            out.push_str(".0");
        }
    }
    Ok(())
}

/// `jsonMarshalStringTo`.
fn write_string(out: &mut String, s: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for chunk in s.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '\u{2028}' => out.push_str("\\u2028"),
                '\u{2029}' => out.push_str("\\u2029"),
                c if (c as u32) < 0x20 => {
                    out.push_str("\\u00");
                    out.push(char::from(HEX[(c as usize) >> 4]));
                    out.push(char::from(HEX[(c as usize) & 0xF]));
                }
                c => out.push(c),
            }
        }
        // Go's utf8.DecodeRune gives RuneError of size 1 for each byte of a bad sequence.
        for _ in chunk.invalid() {
            out.push_str("\\ufffd");
        }
    }
    out.push('"');
}

/// Standard base64 with padding (Go's `base64.StdEncoding`).
fn base64(out: &mut String, bytes: &[u8]) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_as_tidb_prints_them() {
        let text = |f: f64| {
            let mut out = String::new();
            write_double(&mut out, f).unwrap();
            out
        };
        assert_eq!(text(3.0), "3.0");
        assert_eq!(text(-0.0), "-0.0");
        assert_eq!(text(0.1), "0.1");
        assert_eq!(text(1.5e-7), "0.00000015");
        assert_eq!(text(1e-16), "1e-16");
        assert_eq!(text(1e15), "1e15");
        assert_eq!(text(123456789012345.6), "123456789012345.6");
        assert_eq!(text(-2.5e300), "-2.5e300");
        assert!(write_double(&mut String::new(), f64::NAN).is_err());
    }

    #[test]
    fn strings_escape_as_go() {
        let mut out = String::new();
        write_string(&mut out, b"a\"\\\n\x01\xff\xe2\x80\xa8\xc3\xa9<");
        assert_eq!(out, r#""a\"\\\n\u0001\ufffd\u2028é<""#);
    }

    #[test]
    fn base64_pads() {
        for (input, expect) in [
            (&b""[..], ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
        ] {
            let mut out = String::new();
            base64(&mut out, input);
            assert_eq!(out, expect);
        }
    }

    #[test]
    fn hand_built_object() {
        // {"a": 1}: count 1, size 8 + 6 + 5 + 1 + 8 = 28, key at 19 (len 1), value at 20.
        let mut v = vec![];
        v.extend_from_slice(&1u32.to_le_bytes());
        v.extend_from_slice(&28u32.to_le_bytes());
        v.extend_from_slice(&19u32.to_le_bytes());
        v.extend_from_slice(&1u16.to_le_bytes());
        v.push(INT64);
        v.extend_from_slice(&20u32.to_le_bytes());
        v.push(b'a');
        v.extend_from_slice(&1i64.to_le_bytes());
        assert_eq!(v.len(), 28);
        assert_eq!(to_text(OBJECT, &v).unwrap(), r#"{"a": 1}"#);
        let mut framed = vec![OBJECT];
        framed.extend_from_slice(&v);
        framed.push(0xEE);
        assert_eq!(peek_size(&framed).unwrap(), 29);
        // A value offset pointing into the entries is refused.
        v[15] = 3;
        assert!(to_text(OBJECT, &v).is_err());
    }
}
