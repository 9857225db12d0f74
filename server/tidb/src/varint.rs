//! Go's `encoding/binary` varints, which TiDB's codec and binary JSON use for lengths and
//! integers: LEB128 (`Uvarint`: 7 bits a byte, low first, the top bit set on all bytes but the
//! last, at most 10 bytes) and its zigzag form for signed values (`Varint`).

/// Go's `binary.Uvarint`, with its errors: the value and the bytes it used.
pub fn uvarint(buf: &[u8]) -> std::result::Result<(u64, usize), &'static str> {
    let mut value = 0u64;
    let mut shift = 0u32;
    for (i, &byte) in buf.iter().enumerate() {
        if i == 10 {
            return Err("varint larger than 64 bits");
        }
        if byte < 0x80 {
            if i == 9 && byte > 1 {
                return Err("varint larger than 64 bits");
            }
            return Ok((value | u64::from(byte) << shift, i + 1));
        }
        value |= u64::from(byte & 0x7F) << shift;
        shift += 7;
    }
    Err("varint truncated")
}

/// Go's zigzag: `binary.Varint` from the unsigned value.
pub fn zigzag(unsigned: u64) -> i64 {
    let value = (unsigned >> 1) as i64;
    if unsigned & 1 != 0 {
        !value
    } else {
        value
    }
}
