//! A column value as it goes downstream: exact, in the shape MySQL accepts for the column's
//! type (the original's `formatData`, spec `original-drainer.md` §4.1).

use std::fmt;

/// One column value of a decoded row.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// Signed integers (`TINYINT` .. `BIGINT`, `YEAR`).
    Int(i64),
    /// Unsigned integers, `BIT` (as its bits), `ENUM` (its 1-based index) and `SET` (its bits).
    Uint(u64),
    /// `FLOAT` and `DOUBLE` (TiDB keeps both as a double).
    Float(f64),
    /// Strings and blobs as their bytes (binary strings are not text).
    Bytes(Vec<u8>),
    /// Values MySQL takes as text and that must stay exact: `DECIMAL` as its digits
    /// (`-12.340`), `DATE`/`DATETIME`/`TIMESTAMP` as `2024-01-02 03:04:05.678` (a timestamp in
    /// UTC), `TIME` as `-838:59:59.000000`, `JSON` as its JSON text.
    Text(String),
}

impl Value {
    /// Whether this is SQL NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

/// As an operator reads it in logs: text as text, bytes as text when UTF-8 and as hex otherwise.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Int(v) => write!(f, "{v}"),
            Value::Uint(v) => write!(f, "{v}"),
            Value::Float(v) => write!(f, "{v}"),
            Value::Text(v) => write!(f, "{v:?}"),
            Value::Bytes(v) => match std::str::from_utf8(v) {
                Ok(text) => write!(f, "{text:?}"),
                Err(_) => {
                    f.write_str("0x")?;
                    v.iter().try_for_each(|byte| write!(f, "{byte:02X}"))
                }
            },
        }
    }
}
