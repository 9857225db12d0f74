//! The three fields of a `Binlog` the pump stores it by (`tp`, `start_ts`, `commit_ts`), read
//! without decoding the rest: TiDB's row data (`prewrite_value`) can be megabytes, and the pump
//! should copy it once, into the engine record, not also into a decoded [`Binlog`].
//!
//! [`BinlogHead::decode`] accepts and refuses exactly what decoding a whole [`Binlog`] does
//! (prost's derived decoder), with the same error texts: every key, every known field's wire
//! type and every length is checked; the other fields are checked and skipped, not copied.

use binlog_engine::record::Kind;
use prost::encoding::{
    check_wire_type, decode_key, int32, int64, skip_field, DecodeContext, WireType,
};
use prost::DecodeError;

use super::{Binlog, BinlogType};

/// The fields of a `Binlog` that say how it is stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BinlogHead {
    /// `tp`, a [`BinlogType`] (unknown values are kept, as prost keeps them).
    pub tp: i32,
    /// `start_ts`.
    pub start_ts: i64,
    /// `commit_ts`.
    pub commit_ts: i64,
}

impl BinlogHead {
    /// Reads the head of an encoded `Binlog`; fails where `Binlog::decode` fails, with its error.
    pub fn decode(mut buf: &[u8]) -> Result<BinlogHead, DecodeError> {
        let mut head = BinlogHead::default();
        // Decoded only so that their errors are the derived decoder's; ints cost nothing.
        let (mut ddl_job_id, mut ddl_schema_state) = (0i64, 0i32);
        let ctx = DecodeContext::default();
        while !buf.is_empty() {
            let (tag, wire_type) = decode_key(&mut buf)?;
            let buf = &mut buf;
            let (field, result) = match tag {
                1 => (
                    "tp",
                    int32::merge(wire_type, &mut head.tp, buf, ctx.clone()),
                ),
                2 => (
                    "start_ts",
                    int64::merge(wire_type, &mut head.start_ts, buf, ctx.clone()),
                ),
                3 => (
                    "commit_ts",
                    int64::merge(wire_type, &mut head.commit_ts, buf, ctx.clone()),
                ),
                4 => ("prewrite_key", skip_bytes(wire_type, tag, buf, &ctx)),
                5 => ("prewrite_value", skip_bytes(wire_type, tag, buf, &ctx)),
                6 => ("ddl_query", skip_bytes(wire_type, tag, buf, &ctx)),
                7 => (
                    "ddl_job_id",
                    int64::merge(wire_type, &mut ddl_job_id, buf, ctx.clone()),
                ),
                8 => (
                    "ddl_schema_state",
                    int32::merge(wire_type, &mut ddl_schema_state, buf, ctx.clone()),
                ),
                // Unknown fields are skipped without naming a field, as the derived decoder does.
                _ => {
                    skip_field(wire_type, tag, buf, ctx.clone())?;
                    continue;
                }
            };
            result.map_err(|mut error| {
                error.push("Binlog", field);
                error
            })?;
        }
        Ok(head)
    }

    /// Whether this is a fake binlog (see [`Binlog::fake`]).
    pub fn is_fake(&self) -> bool {
        self.tp == BinlogType::Rollback as i32
            && self.start_ts > 0
            && self.start_ts == self.commit_ts
    }

    /// The engine record kind this binlog is stored as, or `None` for the obsolete
    /// `PreDDL`/`PostDDL` types and unknown values.
    pub fn engine_kind(&self) -> Option<Kind> {
        match BinlogType::try_from(self.tp).ok()? {
            BinlogType::Prewrite => Some(Kind::Prewrite),
            BinlogType::Commit => Some(Kind::Commit),
            BinlogType::Rollback if self.is_fake() => Some(Kind::Fake),
            BinlogType::Rollback => Some(Kind::Rollback),
            BinlogType::PreDdl | BinlogType::PostDdl => None,
        }
    }
}

impl Binlog {
    /// The fields this binlog is stored by.
    pub fn head(&self) -> BinlogHead {
        BinlogHead {
            tp: self.tp,
            start_ts: self.start_ts,
            commit_ts: self.commit_ts,
        }
    }
}

/// Skips a `bytes` field as `bytes::merge` reads it (wire type, then length), without the copy.
fn skip_bytes(
    wire_type: WireType,
    tag: u32,
    buf: &mut &[u8],
    ctx: &DecodeContext,
) -> Result<(), DecodeError> {
    check_wire_type(WireType::LengthDelimited, wire_type)?;
    skip_field(wire_type, tag, buf, ctx.clone())
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    /// A field `tag` with wire type `wire_type` and the raw bytes that follow the key.
    fn field(tag: u32, wire_type: u8, rest: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        prost::encoding::encode_varint(u64::from(tag << 3 | u32::from(wire_type)), &mut out);
        out.extend_from_slice(rest);
        out
    }

    #[test]
    fn reads_the_head_and_fails_as_the_whole_decode_does() {
        let binlog = Binlog {
            tp: BinlogType::Commit as i32,
            start_ts: 7,
            commit_ts: 9,
            prewrite_key: Some(b"key".to_vec()),
            prewrite_value: Some(vec![1; 1000]),
            ddl_query: Some(b"create table t (a int)".to_vec()),
            ddl_job_id: 3,
            ddl_schema_state: 2,
        };
        let encoded = binlog.encode_to_vec();
        assert_eq!(BinlogHead::decode(&encoded).unwrap(), binlog.head());

        let mut cases = vec![
            Vec::new(),
            vec![0],                                         // tag 0
            vec![0xff],                                      // truncated key
            field(1, 2, &[1, 1]),                            // tp as bytes
            field(2, 0, &[0xff]),                            // truncated varint
            field(4, 0, &[1]),                               // prewrite_key as a varint
            field(5, 2, &[5, 1]),       // prewrite_value longer than the buffer
            field(6, 5, &[0, 0, 0, 0]), // ddl_query as fixed32
            field(7, 2, &[0]),          // ddl_job_id as bytes
            field(8, 1, &[0; 8]),       // ddl_schema_state as fixed64
            field(9, 2, &[3, 1]),       // unknown field longer than the buffer
            field(10, 0, &[1]),         // unknown field: skipped
            field(11, 4, &[]),          // unexpected end group
            [field(3, 0, &[5]), field(3, 0, &[6])].concat(), // the last value wins
        ];
        cases.push([encoded.clone(), field(12, 1, &[0; 8])].concat());
        for case in cases {
            let whole = Binlog::decode(&case[..])
                .map(|binlog| binlog.head())
                .map_err(|e| e.to_string());
            let head = BinlogHead::decode(&case).map_err(|e| e.to_string());
            assert_eq!(head, whole, "{case:02x?}");
        }
    }
}
