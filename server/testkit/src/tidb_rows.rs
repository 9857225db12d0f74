//! Binlog rows as TiDB writes them, for fixtures: real TiDB cannot be built here, so this is an
//! encoder written from TiDB's own encode side (not by inverting any decoder of this project,
//! and without depending on `binlog-tidb`). Every function names the TiDB function it follows;
//! the sources are pingcap/tidb `pkg/util/codec/{codec,number,bytes,float,decimal}.go`,
//! `pkg/tablecodec/tablecodec.go`, `pkg/types/{mydecimal,time,json_binary}.go` and
//! `pkg/table/tables/tables.go` (`AddRecord`/`UpdateRecord`/`RemoveRecord` and their
//! `add*Binlog`).
//!
//! The pieces:
//! - [`TidbDatum`]: a `types.Datum` before `tablecodec.flatten` (an int, a string, a decimal
//!   from its digits, a time from its fields, a duration, an enum/set/bit value, JSON, NULL).
//! - [`encode_value`] and [`encode_key`]: `codec.EncodeValue` and `codec.EncodeKey`.
//! - [`encode_old_row`]: `tablecodec.EncodeOldRow` (flatten, then `(colID, value)` pairs).
//! - [`insert_row`], [`update_row`], [`delete_row`]: the bytes `addInsertBinlog`,
//!   `addUpdateBinlog` and `addDeleteBinlog` put in a `TableMutation`.

/// `codec.NilFlag` and the other datum flags (`pkg/util/codec/codec.go`).
pub mod flag {
    /// NULL.
    pub const NIL: u8 = 0;
    /// Memcomparable bytes.
    pub const BYTES: u8 = 1;
    /// Length-prefixed bytes.
    pub const COMPACT_BYTES: u8 = 2;
    /// Memcomparable int64.
    pub const INT: u8 = 3;
    /// Memcomparable uint64.
    pub const UINT: u8 = 4;
    /// Memcomparable float64.
    pub const FLOAT: u8 = 5;
    /// Decimal.
    pub const DECIMAL: u8 = 6;
    /// Memcomparable duration nanoseconds.
    pub const DURATION: u8 = 7;
    /// Zigzag varint.
    pub const VARINT: u8 = 8;
    /// Varint.
    pub const UVARINT: u8 = 9;
    /// Binary JSON.
    pub const JSON: u8 = 10;
}

/// `model.ExtraHandleID`: the column ID of the handle appended to deletes and updates of tables
/// without an int or common handle.
pub const EXTRA_HANDLE_ID: i64 = -1;

/// A date and time by its fields (a `types.Time`'s `CoreTime`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TidbTime {
    /// Year.
    pub year: u32,
    /// Month (0 in zero dates).
    pub month: u32,
    /// Day (0 in zero dates).
    pub day: u32,
    /// Hour.
    pub hour: u32,
    /// Minute.
    pub minute: u32,
    /// Second.
    pub second: u32,
    /// Microsecond.
    pub microsecond: u32,
}

impl TidbTime {
    /// The zero time `0000-00-00 00:00:00`.
    pub const ZERO: TidbTime = TidbTime {
        year: 0,
        month: 0,
        day: 0,
        hour: 0,
        minute: 0,
        second: 0,
        microsecond: 0,
    };

    /// A date at midnight.
    pub fn date(year: u32, month: u32, day: u32) -> Self {
        TidbTime {
            year,
            month,
            day,
            ..TidbTime::ZERO
        }
    }

    /// A date and time.
    pub fn datetime(
        year: u32,
        month: u32,
        day: u32,
        hour: u32,
        minute: u32,
        second: u32,
        microsecond: u32,
    ) -> Self {
        TidbTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
            microsecond,
        }
    }

    /// `Time.ToPackedUint` (`pkg/types/time.go`): 0 for the zero time, else
    /// `((ymd << 17 | hms) << 24) | microsecond` with `ymd = (year*13 + month) << 5 | day` and
    /// `hms = hour << 12 | minute << 6 | second`.
    pub fn to_packed_uint(&self) -> u64 {
        if *self == TidbTime::ZERO {
            return 0;
        }
        let ymd = ((u64::from(self.year) * 13 + u64::from(self.month)) << 5) | u64::from(self.day);
        let hms = u64::from(self.hour) << 12 | u64::from(self.minute) << 6 | u64::from(self.second);
        ((ymd << 17 | hms) << 24) | u64::from(self.microsecond)
    }

    /// `FromDate` (`pkg/types/time.go`), then `Time.CoreTime()` (the fsp/type bits cleared):
    /// year at bit 50, month 46, day 41, hour 36, minute 30, second 24, microsecond 4.
    pub fn core_time(&self) -> u64 {
        u64::from(self.microsecond) << 4
            | u64::from(self.second) << 24
            | u64::from(self.minute) << 30
            | u64::from(self.hour) << 36
            | u64::from(self.day) << 41
            | u64::from(self.month) << 46
            | u64::from(self.year) << 50
    }
}

/// A JSON value as TiDB's `appendBinaryJSON` takes it (`pkg/types/json_binary.go`): the JSON
/// types, plus the opaque, time and duration values only SQL can put in a JSON column.
#[derive(Clone, Debug, PartialEq)]
pub enum TidbJson {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer above `i64::MAX` (or any, when asked for).
    Uint(u64),
    /// A double.
    Float(f64),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<TidbJson>),
    /// An object; TiDB sorts its keys bytewise.
    Object(Vec<(String, TidbJson)>),
    /// An opaque value: a MySQL type code and bytes.
    Opaque {
        /// The MySQL type code.
        mysql_type: u8,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// A date.
    Date(TidbTime),
    /// A datetime.
    Datetime(TidbTime),
    /// A timestamp.
    Timestamp(TidbTime),
    /// A time: nanoseconds and fsp.
    Duration {
        /// Nanoseconds.
        nanos: i64,
        /// Fraction digits.
        fsp: u32,
    },
}

impl From<&serde_json::Value> for TidbJson {
    /// As `UnmarshalJSON` with `UseNumber` and `appendBinaryNumber`: an integer that fits
    /// int64 is an int64, else one that fits uint64 a uint64, else a double.
    fn from(value: &serde_json::Value) -> Self {
        match value {
            serde_json::Value::Null => TidbJson::Null,
            serde_json::Value::Bool(flag) => TidbJson::Bool(*flag),
            serde_json::Value::Number(number) => {
                if let Some(int) = number.as_i64() {
                    TidbJson::Int(int)
                } else if let Some(uint) = number.as_u64() {
                    TidbJson::Uint(uint)
                } else {
                    TidbJson::Float(number.as_f64().expect("a JSON number"))
                }
            }
            serde_json::Value::String(text) => TidbJson::String(text.clone()),
            serde_json::Value::Array(items) => {
                TidbJson::Array(items.iter().map(TidbJson::from).collect())
            }
            serde_json::Value::Object(map) => TidbJson::Object(
                map.iter()
                    .map(|(key, value)| (key.clone(), TidbJson::from(value)))
                    .collect(),
            ),
        }
    }
}

impl TidbJson {
    /// `CreateBinaryJSON`: the type code and the value bytes.
    pub fn to_binary(&self) -> (u8, Vec<u8>) {
        let mut buf = Vec::new();
        let code = append_binary_json(&mut buf, self);
        (code, buf)
    }
}

const JSON_OBJECT: u8 = 0x01;
const JSON_ARRAY: u8 = 0x03;
const JSON_LITERAL: u8 = 0x04;
const JSON_INT64: u8 = 0x09;
const JSON_UINT64: u8 = 0x0a;
const JSON_FLOAT64: u8 = 0x0b;
const JSON_STRING: u8 = 0x0c;
const JSON_OPAQUE: u8 = 0x0d;
const JSON_DATE: u8 = 0x0e;
const JSON_DATETIME: u8 = 0x0f;
const JSON_TIMESTAMP: u8 = 0x10;
const JSON_DURATION: u8 = 0x11;

/// `appendBinaryJSON`: appends the value's bytes, returns its type code.
// Format (containers): { count u32 | size u32 | key entries { offset u32 | length u16 }*
//   (objects) | value entries { type u8 | literal byte or offset u32 }* | keys | values }
fn append_binary_json(buf: &mut Vec<u8>, value: &TidbJson) -> u8 {
    match value {
        TidbJson::Null => {
            buf.push(0x00); // JSONLiteralNil
            JSON_LITERAL
        }
        TidbJson::Bool(true) => {
            buf.push(0x01); // JSONLiteralTrue
            JSON_LITERAL
        }
        TidbJson::Bool(false) => {
            buf.push(0x02); // JSONLiteralFalse
            JSON_LITERAL
        }
        TidbJson::Int(int) => {
            buf.extend_from_slice(&(*int as u64).to_le_bytes()); // appendBinaryUint64
            JSON_INT64
        }
        TidbJson::Uint(uint) => {
            buf.extend_from_slice(&uint.to_le_bytes());
            JSON_UINT64
        }
        TidbJson::Float(float) => {
            buf.extend_from_slice(&float.to_bits().to_le_bytes()); // appendBinaryFloat64
            JSON_FLOAT64
        }
        TidbJson::String(text) => {
            // appendBinaryString: PutUvarint(len), then the bytes.
            put_uvarint(buf, text.len() as u64);
            buf.extend_from_slice(text.as_bytes());
            JSON_STRING
        }
        TidbJson::Opaque { mysql_type, bytes } => {
            // appendBinaryOpaque: the type code, PutUvarint(len), the bytes.
            buf.push(*mysql_type);
            put_uvarint(buf, bytes.len() as u64);
            buf.extend_from_slice(bytes);
            JSON_OPAQUE
        }
        TidbJson::Date(time) => {
            buf.extend_from_slice(&time.core_time().to_le_bytes());
            JSON_DATE
        }
        TidbJson::Datetime(time) => {
            buf.extend_from_slice(&time.core_time().to_le_bytes());
            JSON_DATETIME
        }
        TidbJson::Timestamp(time) => {
            buf.extend_from_slice(&time.core_time().to_le_bytes());
            JSON_TIMESTAMP
        }
        TidbJson::Duration { nanos, fsp } => {
            // appendBinaryUint64(Duration), appendBinaryUint32(Fsp).
            buf.extend_from_slice(&(*nanos as u64).to_le_bytes());
            buf.extend_from_slice(&fsp.to_le_bytes());
            JSON_DURATION
        }
        TidbJson::Array(items) => {
            // appendBinaryArray: count, a size placeholder, value entries, then the values.
            let doc = buf.len();
            buf.extend_from_slice(&(items.len() as u32).to_le_bytes());
            buf.extend_from_slice(&[0; 4]);
            let entries = buf.len();
            buf.resize(buf.len() + items.len() * 5, 0);
            for (i, item) in items.iter().enumerate() {
                append_binary_val_elem(buf, doc, entries + i * 5, item);
            }
            let size = (buf.len() - doc) as u32;
            buf[doc + 4..doc + 8].copy_from_slice(&size.to_le_bytes());
            JSON_ARRAY
        }
        TidbJson::Object(fields) => {
            // appendBinaryObject: count, a size placeholder, key entries, value entries, the
            // keys sorted with cmp.Compare (bytewise), then the values in that order.
            let mut fields: Vec<&(String, TidbJson)> = fields.iter().collect();
            fields.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            let doc = buf.len();
            buf.extend_from_slice(&(fields.len() as u32).to_le_bytes());
            buf.extend_from_slice(&[0; 4]);
            let key_entries = buf.len();
            buf.resize(buf.len() + fields.len() * 6, 0);
            let value_entries = buf.len();
            buf.resize(buf.len() + fields.len() * 5, 0);
            for (i, (key, _)) in fields.iter().enumerate() {
                let entry = key_entries + i * 6;
                let key_offset = (buf.len() - doc) as u32;
                buf[entry..entry + 4].copy_from_slice(&key_offset.to_le_bytes());
                buf[entry + 4..entry + 6].copy_from_slice(&(key.len() as u16).to_le_bytes());
                buf.extend_from_slice(key.as_bytes());
            }
            for (i, (_, value)) in fields.iter().enumerate() {
                append_binary_val_elem(buf, doc, value_entries + i * 5, value);
            }
            let size = (buf.len() - doc) as u32;
            buf[doc + 4..doc + 8].copy_from_slice(&size.to_le_bytes());
            JSON_OBJECT
        }
    }
}

/// `appendBinaryValElem`: a literal goes inline into its entry; any other value after the
/// entries, its entry holding its offset from the container's start.
fn append_binary_val_elem(buf: &mut Vec<u8>, doc: usize, entry: usize, value: &TidbJson) {
    let elem = buf.len();
    let code = append_binary_json(buf, value);
    if code == JSON_LITERAL {
        let literal = buf[elem];
        buf.truncate(elem);
        buf[entry] = JSON_LITERAL;
        buf[entry + 1] = literal;
        return;
    }
    buf[entry] = code;
    buf[entry + 1..entry + 5].copy_from_slice(&((elem - doc) as u32).to_le_bytes());
}

/// A `types.Datum` as TiDB holds a column value before `tablecodec.flatten`.
#[derive(Clone, Debug, PartialEq)]
pub enum TidbDatum {
    /// `KindNull`.
    Null,
    /// `KindInt64`.
    Int(i64),
    /// `KindUint64`.
    Uint(u64),
    /// `KindFloat64` (a `FLOAT` column's value is its float32 widened).
    Float(f64),
    /// `KindString`/`KindBytes` (encoded alike).
    Bytes(Vec<u8>),
    /// `KindMysqlDecimal` with the datum's length and frac (`SetLength`/`SetFrac`).
    Decimal {
        /// `[-]digits[.digits]`.
        digits: String,
        /// Precision written (0: the value's own, as `EncodeDecimal` does).
        precision: u8,
        /// Frac written.
        frac: u8,
    },
    /// `KindMysqlTime` (a timestamp already in UTC: the statement time zone is UTC here).
    Time(TidbTime),
    /// `KindMysqlDuration`, nanoseconds.
    Duration(i64),
    /// `KindMysqlEnum`, the 1-based index.
    Enum(u64),
    /// `KindMysqlSet`, the bits.
    Set(u64),
    /// `KindMysqlBit`, the value.
    Bit(u64),
    /// `KindMysqlJSON`.
    Json(TidbJson),
}

impl TidbDatum {
    /// A string datum.
    pub fn bytes(bytes: impl AsRef<[u8]>) -> Self {
        TidbDatum::Bytes(bytes.as_ref().to_vec())
    }

    /// A decimal datum of `DECIMAL(precision, frac)`.
    pub fn decimal(digits: &str, precision: u8, frac: u8) -> Self {
        TidbDatum::Decimal {
            digits: digits.to_string(),
            precision,
            frac,
        }
    }

    /// A JSON datum from JSON text's value.
    pub fn json(value: &serde_json::Value) -> Self {
        TidbDatum::Json(TidbJson::from(value))
    }
}

/// `tablecodec.flatten`: times to their packed uint (timestamps are already UTC here), durations
/// to nanoseconds, enum/set/bit to their uint; anything else as it is.
pub fn flatten(datum: &TidbDatum) -> TidbDatum {
    match datum {
        TidbDatum::Time(time) => TidbDatum::Uint(time.to_packed_uint()),
        TidbDatum::Duration(nanos) => TidbDatum::Int(*nanos),
        TidbDatum::Enum(value) | TidbDatum::Set(value) | TidbDatum::Bit(value) => {
            TidbDatum::Uint(*value)
        }
        other => other.clone(),
    }
}

/// `codec.EncodeValue` of one datum (`encode` with `comparable1 = false`), not flattened.
pub fn encode_value(buf: &mut Vec<u8>, datum: &TidbDatum) {
    encode(buf, datum, false);
}

/// `codec.EncodeKey` of one datum (`encode` with `comparable1 = true`; strings as their bytes,
/// which is their key under binary collations).
pub fn encode_key(buf: &mut Vec<u8>, datum: &TidbDatum) {
    encode(buf, datum, true);
}

/// `codec.encode`.
fn encode(buf: &mut Vec<u8>, datum: &TidbDatum, comparable: bool) {
    match datum {
        TidbDatum::Null => buf.push(flag::NIL),
        TidbDatum::Int(value) => encode_signed_int(buf, *value, comparable),
        TidbDatum::Uint(value) => encode_unsigned_int(buf, *value, comparable),
        TidbDatum::Float(value) => {
            buf.push(flag::FLOAT);
            encode_float(buf, *value);
        }
        TidbDatum::Bytes(bytes) => {
            // encodeBytes
            if comparable {
                buf.push(flag::BYTES);
                encode_bytes(buf, bytes);
            } else {
                buf.push(flag::COMPACT_BYTES);
                put_varint(buf, bytes.len() as i64); // EncodeCompactBytes
                buf.extend_from_slice(bytes);
            }
        }
        TidbDatum::Time(time) => {
            // EncodeMySQLTime: uintFlag and EncodeUint of the packed time, in both forms.
            buf.push(flag::UINT);
            buf.extend_from_slice(&time.to_packed_uint().to_be_bytes());
        }
        TidbDatum::Duration(nanos) => {
            buf.push(flag::DURATION);
            encode_int(buf, *nanos);
        }
        TidbDatum::Decimal {
            digits,
            precision,
            frac,
        } => {
            buf.push(flag::DECIMAL);
            encode_decimal(buf, digits, *precision, *frac);
        }
        TidbDatum::Enum(value) | TidbDatum::Set(value) | TidbDatum::Bit(value) => {
            encode_unsigned_int(buf, *value, comparable)
        }
        TidbDatum::Json(json) => {
            let (code, value) = json.to_binary();
            buf.push(flag::JSON);
            buf.push(code);
            buf.extend_from_slice(&value);
        }
    }
}

/// `encodeSignedInt`.
fn encode_signed_int(buf: &mut Vec<u8>, value: i64, comparable: bool) {
    if comparable {
        buf.push(flag::INT);
        encode_int(buf, value);
    } else {
        buf.push(flag::VARINT);
        put_varint(buf, value);
    }
}

/// `encodeUnsignedInt`.
fn encode_unsigned_int(buf: &mut Vec<u8>, value: u64, comparable: bool) {
    if comparable {
        buf.push(flag::UINT);
        buf.extend_from_slice(&value.to_be_bytes()); // EncodeUint
    } else {
        buf.push(flag::UVARINT);
        put_uvarint(buf, value);
    }
}

/// `EncodeInt`: big-endian `uint64(v) ^ signMask`.
fn encode_int(buf: &mut Vec<u8>, value: i64) {
    buf.extend_from_slice(&((value as u64) ^ (1 << 63)).to_be_bytes());
}

/// `EncodeFloat` (`encodeFloatToCmpUint64`): set the sign bit of a non-negative value, flip
/// every bit of a negative one, then `EncodeUint`.
fn encode_float(buf: &mut Vec<u8>, value: f64) {
    let mut bits = value.to_bits();
    if bits & (1 << 63) == 0 {
        bits |= 1 << 63;
    } else {
        bits = !bits;
    }
    buf.extend_from_slice(&bits.to_be_bytes());
}

/// `EncodeBytes`: 8-byte groups padded with zeros, each followed by `0xFF - padding`; an exact
/// multiple of 8 gets a whole padding group at the end.
// Format: { 8 bytes | 0xFF - pad }*, the last group padded with `pad` zeros
fn encode_bytes(buf: &mut Vec<u8>, data: &[u8]) {
    let mut index = 0;
    loop {
        let remain = data.len() - index;
        if remain >= 8 {
            buf.extend_from_slice(&data[index..index + 8]);
            buf.push(0xFF);
            index += 8;
        } else {
            let pad = 8 - remain;
            buf.extend_from_slice(&data[index..]);
            buf.extend(std::iter::repeat_n(0, pad));
            buf.push(0xFF - pad as u8);
            return;
        }
    }
}

/// Go's `binary.PutUvarint`.
fn put_uvarint(buf: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        buf.push(value as u8 | 0x80);
        value >>= 7;
    }
    buf.push(value as u8);
}

/// Go's `binary.PutVarint`: zigzag, then `PutUvarint`.
fn put_varint(buf: &mut Vec<u8>, value: i64) {
    let mut unsigned = (value as u64) << 1;
    if value < 0 {
        unsigned = !unsigned;
    }
    put_uvarint(buf, unsigned);
}

/// `codec.EncodeDecimal`: precision and frac bytes (precision 0: the value's own, as
/// `PrecisionAndFrac` gives them), then `MyDecimal.WriteBin`.
fn encode_decimal(buf: &mut Vec<u8>, digits: &str, precision: u8, frac: u8) {
    let (negative, int, fraction) = split_decimal(digits);
    let (precision, frac) = if precision == 0 {
        let own = (int.len() + fraction.len()).max(1);
        (own as u8, fraction.len() as u8)
    } else {
        (precision, frac.min(30))
    };
    buf.push(precision);
    buf.push(frac);
    write_bin(buf, negative, &int, &fraction, precision, frac);
}

/// A decimal's sign, significant integer digits and fraction digits (as `MyDecimal` keeps
/// `digitsInt` after `removeLeadingZeros` and `digitsFrac`).
fn split_decimal(text: &str) -> (bool, Vec<u8>, Vec<u8>) {
    let (negative, body) = match text.strip_prefix('-') {
        Some(body) => (true, body),
        None => (false, text),
    };
    let (int, fraction) = body.split_once('.').unwrap_or((body, ""));
    let digits = |part: &str| -> Vec<u8> {
        part.bytes()
            .map(|b| {
                assert!(b.is_ascii_digit(), "{text:?} is not a decimal");
                b - b'0'
            })
            .collect()
    };
    let int: Vec<u8> = digits(int).into_iter().skip_while(|&d| d == 0).collect();
    (negative, int, digits(fraction))
}

/// Bytes a partial group of n digits takes (`dig2bytes`).
const DIG2BYTES: [usize; 10] = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];

/// `MyDecimal.WriteBin` for a value that fits (precision, frac): the integer digits cut into
/// 9-digit words from the point leftwards (the leftmost partial word in `dig2bytes` bytes), the
/// fraction's from the point rightwards (the rightmost partial word likewise), big-endian, every
/// byte XORed with the sign mask (all ones when negative; zero for a zero that has no fraction
/// digits: `digitsIntFrom+fracSizeFrom == 0`), then the first byte's top bit flipped.
// Format: { leading integer group | integer words (4 B)* | fraction words (4 B)* |
//           trailing fraction group }, big-endian, XOR mask, first bit flipped
fn write_bin(
    buf: &mut Vec<u8>,
    negative: bool,
    int: &[u8],
    fraction: &[u8],
    precision: u8,
    frac: u8,
) {
    let int_digits = usize::from(precision - frac);
    let frac_digits = usize::from(frac);
    assert!(
        int.len() <= int_digits,
        "{} integer digits do not fit DECIMAL({precision},{frac})",
        int.len()
    );
    assert!(
        fraction.len() <= frac_digits,
        "{} fraction digits do not fit DECIMAL({precision},{frac}) (TiDB rounds first)",
        fraction.len()
    );
    let mask: u8 = if negative && !(int.is_empty() && fraction.is_empty()) {
        0xFF
    } else {
        0
    };
    let mut padded_int = vec![0u8; int_digits - int.len()];
    padded_int.extend_from_slice(int);
    let mut padded_frac = fraction.to_vec();
    padded_frac.resize(frac_digits, 0);
    let start = buf.len();
    let put_group = |buf: &mut Vec<u8>, digits: &[u8]| {
        let value = digits.iter().fold(0u32, |acc, &d| acc * 10 + u32::from(d));
        let width = DIG2BYTES[digits.len()];
        buf.extend(value.to_be_bytes()[4 - width..].iter().map(|b| b ^ mask));
    };
    let lead = int_digits % 9;
    if lead > 0 {
        put_group(buf, &padded_int[..lead]);
    }
    for word in padded_int[lead..].chunks(9) {
        put_group(buf, word);
    }
    for word in padded_frac.chunks(9) {
        put_group(buf, word);
    }
    if buf.len() > start {
        buf[start] ^= 0x80;
    }
}

/// `tablecodec.EncodeOldRow`: each column ID as an int datum and its value flattened, all
/// through `codec.EncodeValue`; a row of no columns is one `NilFlag` byte.
// Format: { (column ID varint datum, flattened value datum)* } or { NilFlag }
pub fn encode_old_row(columns: &[(i64, TidbDatum)]) -> Vec<u8> {
    let mut buf = Vec::new();
    if columns.is_empty() {
        buf.push(flag::NIL);
        return buf;
    }
    for (id, value) in columns {
        encode_value(&mut buf, &TidbDatum::Int(*id));
        encode_value(&mut buf, &flatten(value));
    }
    buf
}

/// A row's handle (`kv.Handle`).
#[derive(Clone, Debug, PartialEq)]
pub enum Handle {
    /// `kv.IntHandle`: the int primary key, or `_tidb_rowid`.
    Int(i64),
    /// `kv.CommonHandle`: the clustered primary key's column values, in key order (as
    /// `AddRecord` takes them from the row, before `EncodeKey`; no prefix columns here).
    Common(Vec<TidbDatum>),
}

impl Handle {
    /// `Handle.Data()`: an int handle's `NewIntDatum`; a common handle's datums as
    /// `codec.DecodeOne` reads back each `EncodeKey`ed column: `EncodeKey` writes a time as
    /// `uintFlag` (so it comes back a uint), enum/set/bit as `uintFlag` (a uint), a string as
    /// `bytesFlag` (bytes), and keeps ints, uints, floats, decimals and durations as they are.
    pub fn data(&self) -> Vec<TidbDatum> {
        match self {
            Handle::Int(handle) => vec![TidbDatum::Int(*handle)],
            Handle::Common(datums) => datums
                .iter()
                .map(|datum| match datum {
                    TidbDatum::Time(time) => TidbDatum::Uint(time.to_packed_uint()),
                    TidbDatum::Enum(v) | TidbDatum::Set(v) | TidbDatum::Bit(v) => {
                        TidbDatum::Uint(*v)
                    }
                    other => other.clone(),
                })
                .collect(),
        }
    }

    /// The record key's handle part, `EncodeKey` of the values (`AddRecord`; an int handle is
    /// `EncodeInt` without a flag in a record key).
    pub fn encoded_key(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        match self {
            Handle::Int(handle) => encode_int(&mut buf, *handle),
            Handle::Common(datums) => datums.iter().for_each(|d| encode_key(&mut buf, d)),
        }
        buf
    }
}

/// An inserted row (`addInsertBinlog`): `codec.EncodeValue(h.Data()...)`, then
/// `EncodeOldRow` of the columns `AddRecord` wrote (callers leave out what `CanSkip` skips:
/// the `pk_is_handle` column, whole common-handle columns, NULLs without any default, virtual
/// generated columns).
// Format: { EncodeValue(handle data...) | EncodeOldRow(columns) }
pub fn insert_row(handle: &Handle, columns: &[(i64, TidbDatum)]) -> Vec<u8> {
    let mut buf = Vec::new();
    for datum in handle.data() {
        encode_value(&mut buf, &datum);
    }
    buf.extend_from_slice(&encode_old_row(columns));
    buf
}

/// An updated row (`UpdateRecord` then `addUpdateBinlog`): `EncodeOldRow(old)` then
/// `EncodeOldRow(new)` over the same column IDs, each with the column -1 holding the int handle
/// appended when the table has neither an int nor a common handle (`extra_handle`).
// Format: { EncodeOldRow(old [+ (-1, handle)]) | EncodeOldRow(new [+ (-1, handle)]) }
pub fn update_row(
    column_ids: &[i64],
    old: &[TidbDatum],
    new: &[TidbDatum],
    extra_handle: Option<i64>,
) -> Vec<u8> {
    assert_eq!(column_ids.len(), old.len(), "one old value per column");
    assert_eq!(column_ids.len(), new.len(), "one new value per column");
    let image = |values: &[TidbDatum]| {
        let mut columns: Vec<(i64, TidbDatum)> = column_ids
            .iter()
            .copied()
            .zip(values.iter().cloned())
            .collect();
        if let Some(handle) = extra_handle {
            columns.push((EXTRA_HANDLE_ID, TidbDatum::Int(handle)));
        }
        encode_old_row(&columns)
    };
    let mut buf = image(old);
    buf.extend_from_slice(&image(new));
    buf
}

/// A deleted row (`RemoveRecord` then `addDeleteBinlog`): `EncodeOldRow` of every column, with
/// the column -1 holding the int handle's `Data()` appended when the table has neither an int
/// nor a common handle (`extra_handle`).
// Format: { EncodeOldRow(columns [+ (-1, handle)]) }
pub fn delete_row(columns: &[(i64, TidbDatum)], extra_handle: Option<i64>) -> Vec<u8> {
    let mut columns = columns.to_vec();
    if let Some(handle) = extra_handle {
        columns.extend(
            Handle::Int(handle)
                .data()
                .into_iter()
                .map(|datum| (EXTRA_HANDLE_ID, datum)),
        );
    }
    encode_old_row(&columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_varints() {
        let mut buf = Vec::new();
        put_varint(&mut buf, -1);
        put_varint(&mut buf, 1);
        put_varint(&mut buf, -65);
        assert_eq!(buf, [0x01, 0x02, 0x81, 0x01]);
    }

    #[test]
    fn encode_bytes_doc_examples() {
        // The examples in EncodeBytes' doc comment.
        let cases: [(&[u8], &[u8]); 4] = [
            (&[], &[0, 0, 0, 0, 0, 0, 0, 0, 247]),
            (&[1, 2, 3], &[1, 2, 3, 0, 0, 0, 0, 0, 250]),
            (&[1, 2, 3, 0], &[1, 2, 3, 0, 0, 0, 0, 0, 251]),
            (
                &[1, 2, 3, 4, 5, 6, 7, 8],
                &[1, 2, 3, 4, 5, 6, 7, 8, 255, 0, 0, 0, 0, 0, 0, 0, 0, 247],
            ),
        ];
        for (input, expect) in cases {
            let mut buf = Vec::new();
            encode_bytes(&mut buf, input);
            assert_eq!(buf, expect);
        }
    }

    #[test]
    fn write_bin_doc_examples() {
        // WriteBin's doc comment: 1234567890.1234 as (14, 4) is 81 0D FB 38 D2 04 D2, and
        // -1234567890.1234 is 7E F2 04 C7 2D FB 2D.
        let mut buf = Vec::new();
        encode_decimal(&mut buf, "1234567890.1234", 14, 4);
        assert_eq!(buf, [14, 4, 0x81, 0x0D, 0xFB, 0x38, 0xD2, 0x04, 0xD2]);
        buf.clear();
        encode_decimal(&mut buf, "-1234567890.1234", 14, 4);
        assert_eq!(buf, [14, 4, 0x7E, 0xF2, 0x04, 0xC7, 0x2D, 0xFB, 0x2D]);
    }
}
