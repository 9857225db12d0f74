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

/// Go's `binary.PutUvarint`: appends `value` to `out`.
pub fn put_uvarint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Go's `binary.PutVarint`: appends `value` zigzagged to `out`.
pub fn put_varint(value: i64, out: &mut Vec<u8>) {
    put_uvarint(((value << 1) ^ (value >> 63)) as u64, out);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_and_read_back_at_the_edges() {
        for value in [0i64, 1, -1, 63, -64, 64, 300, i64::MIN, i64::MAX] {
            let mut out = Vec::new();
            put_varint(value, &mut out);
            let (unsigned, used) = uvarint(&out).unwrap();
            assert_eq!((zigzag(unsigned), used), (value, out.len()));
        }
        let mut out = Vec::new();
        put_uvarint(300, &mut out);
        assert_eq!(out, [0xAC, 0x02], "Go's PutUvarint(300)");
        out.clear();
        put_varint(-3, &mut out);
        assert_eq!(out, [0x05], "Go's PutVarint(-3)");
        out.clear();
        put_uvarint(u64::MAX, &mut out);
        assert_eq!(uvarint(&out).unwrap(), (u64::MAX, 10));
    }
}
