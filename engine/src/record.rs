//! One record of the log: its kind, its byte layout, caller-side encoding and validation.
//!
//! A record is encoded and almost entirely checksummed in the appending caller's task
//! ([`EncodedRecord::encode`]); the writer only stamps the two fields it alone knows (the segment
//! id and the offset where its group starts) and finishes the CRC over them, which costs a few
//! bytes of CRC work per record whatever the payload size.

use crate::error::{Error, Result};

/// What a record is, as the pump stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A P-binlog, indexed by its start TS.
    Prewrite,
    /// A C-binlog, indexed by its commit TS; carries its prewrite's position in the index.
    Commit,
    /// A rollback of a prewrite (commit TS 0 from TiDB), indexed by its commit TS.
    Rollback,
    /// A rollback with `start_ts == commit_ts` written by the pump when idle, indexed by that TS;
    /// it advances the watermark and is served to drainers.
    Fake,
}

impl Kind {
    /// The on-disk code. Zero is never used so that zero-filled space never parses as a record.
    pub(crate) fn code(self) -> u8 {
        match self {
            Kind::Prewrite => 1,
            Kind::Commit => 2,
            Kind::Rollback => 3,
            Kind::Fake => 4,
        }
    }

    /// The kind for an on-disk code, `None` for anything else.
    pub(crate) fn from_code(code: u8) -> Option<Kind> {
        match code {
            1 => Some(Kind::Prewrite),
            2 => Some(Kind::Commit),
            3 => Some(Kind::Rollback),
            4 => Some(Kind::Fake),
            _ => None,
        }
    }

    /// Whether `pull_commits` serves records of this kind.
    pub fn is_pulled(self) -> bool {
        matches!(self, Kind::Commit | Kind::Fake)
    }

    /// A lower-case name for logs and tools.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Prewrite => "prewrite",
            Kind::Commit => "commit",
            Kind::Rollback => "rollback",
            Kind::Fake => "fake",
        }
    }
}

/// A binlog to append: what the server hands the engine after decoding the protobuf.
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    /// What the record is.
    pub kind: Kind,
    /// The transaction's start TS.
    pub start_ts: u64,
    /// The transaction's commit TS (0 for a real rollback).
    pub commit_ts: u64,
    /// The marshalled binlog; the engine never parses it.
    pub payload: &'a [u8],
}

impl Record<'_> {
    /// The TS the record is indexed by: start TS for a prewrite, commit TS for everything else.
    pub fn key_ts(&self) -> u64 {
        key_ts(self.kind, self.start_ts, self.commit_ts)
    }
}

/// The index key of a record (see [`Record::key_ts`]).
pub(crate) fn key_ts(kind: Kind, start_ts: u64, commit_ts: u64) -> u64 {
    match kind {
        Kind::Prewrite => start_ts,
        _ => commit_ts,
    }
}

/// Size of the fixed record header.
pub const RECORD_HEADER_LEN: usize = 32;
/// Records start on multiples of this, so a recovery scan can step over whole words.
pub const RECORD_ALIGN: usize = 8;

/// The number of bytes a record with `payload_len` bytes of payload occupies, padding included.
pub fn record_span(payload_len: usize) -> usize {
    (RECORD_HEADER_LEN + payload_len).next_multiple_of(RECORD_ALIGN)
}

// Format (all integers little-endian, records start 8-byte aligned):
// { crc32 u32 | payload_len u32 | kind u8 | flags u8 (0) | reserved u16 (0) | group_start u32
//   | start_ts u64 | commit_ts u64 | payload [payload_len] | zero padding to a multiple of 8 }
//   offsets:  0            4                 8         9            10              12
//             16         24          32
//
// crc32 (crc32fast, IEEE) covers, in this order:
//   bytes 4..12 | bytes 16..32 | payload | segment_id u64 | group_start u32
// The caller hashes everything up to the payload; the writer appends the segment id and the
// offset of the first record of the group this record was written in. The segment id makes a
// record from another file (or from a recycled file's previous life) fail its CRC; the group
// start lets recovery tell a torn final group from damage followed by later groups.
/// A record encoded by its caller, waiting for the writer to place it.
pub struct EncodedRecord {
    bytes: Vec<u8>,
    partial_crc: crc32fast::Hasher,
    kind: Kind,
    start_ts: u64,
    commit_ts: u64,
}

impl EncodedRecord {
    /// Encodes `record` and hashes all of it but the writer's fields. Fails, before any work on
    /// the payload, if the payload is larger than `max_payload`.
    pub fn encode(record: &Record<'_>, max_payload: usize) -> Result<EncodedRecord> {
        let payload_len = record.payload.len();
        if payload_len > max_payload {
            return Err(Error::RecordTooLarge {
                size: payload_len,
                max: max_payload,
            });
        }
        let mut bytes = Vec::with_capacity(record_span(payload_len));
        bytes.extend_from_slice(&[0u8; 4]);
        bytes.extend_from_slice(&(payload_len as u32).to_le_bytes());
        bytes.push(record.kind.code());
        bytes.extend_from_slice(&[0u8; 3]);
        bytes.extend_from_slice(&[0u8; 4]);
        bytes.extend_from_slice(&record.start_ts.to_le_bytes());
        bytes.extend_from_slice(&record.commit_ts.to_le_bytes());
        bytes.extend_from_slice(record.payload);
        bytes.resize(record_span(payload_len), 0);

        let mut partial_crc = crc32fast::Hasher::new();
        partial_crc.update(&bytes[4..12]);
        partial_crc.update(&bytes[16..RECORD_HEADER_LEN + payload_len]);
        Ok(EncodedRecord {
            bytes,
            partial_crc,
            kind: record.kind,
            start_ts: record.start_ts,
            commit_ts: record.commit_ts,
        })
    }

    /// Bytes the record occupies in a segment.
    pub fn span(&self) -> usize {
        self.bytes.len()
    }

    /// The record's kind.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The record's start TS.
    pub fn start_ts(&self) -> u64 {
        self.start_ts
    }

    /// The record's commit TS.
    pub fn commit_ts(&self) -> u64 {
        self.commit_ts
    }

    /// The payload length.
    pub fn payload_len(&self) -> u32 {
        u32::from_le_bytes(self.bytes[4..8].try_into().expect("4 bytes"))
    }

    /// Appends the finished record to `out`: stamps the writer's fields and the final CRC.
    pub fn place(&self, segment_id: u64, group_start: u32, out: &mut Vec<u8>) {
        let at = out.len();
        out.extend_from_slice(&self.bytes);
        let mut crc = self.partial_crc.clone();
        crc.update(&segment_id.to_le_bytes());
        crc.update(&group_start.to_le_bytes());
        out[at..at + 4].copy_from_slice(&crc.finalize().to_le_bytes());
        out[at + 12..at + 16].copy_from_slice(&group_start.to_le_bytes());
    }
}

/// A record read back from a segment, borrowing its payload.
#[derive(Clone, Copy, Debug)]
pub struct RecordView<'a> {
    /// What the record is.
    pub kind: Kind,
    /// Its start TS.
    pub start_ts: u64,
    /// Its commit TS.
    pub commit_ts: u64,
    /// Offset of the first record of the group it was written in.
    pub group_start: u32,
    /// Its payload.
    pub payload: &'a [u8],
}

impl RecordView<'_> {
    /// Bytes the record occupies in its segment.
    pub fn span(&self) -> usize {
        record_span(self.payload.len())
    }

    /// The TS the record is indexed by.
    pub fn key_ts(&self) -> u64 {
        key_ts(self.kind, self.start_ts, self.commit_ts)
    }
}

/// Why the bytes at an offset are not a valid record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordFault {
    /// Fewer bytes remain than the header or the payload needs.
    Truncated,
    /// The header holds values no writer produces (unknown kind, flags, bad group start, ...).
    BadHeader,
    /// The header is plausible but the CRC does not match.
    CrcMismatch,
}

impl RecordFault {
    /// A short description for error messages.
    pub fn describe(self) -> &'static str {
        match self {
            RecordFault::Truncated => "truncated record",
            RecordFault::BadHeader => "invalid record header",
            RecordFault::CrcMismatch => "record checksum mismatch",
        }
    }
}

/// Parses and checks the record at `offset` of a segment whose bytes are `data`.
///
pub fn read_record(
    data: &[u8],
    offset: usize,
    segment_id: u64,
) -> std::result::Result<RecordView<'_>, RecordFault> {
    let header = data
        .get(offset..offset + RECORD_HEADER_LEN)
        .ok_or(RecordFault::Truncated)?;
    let field_u32 = |at: usize| u32::from_le_bytes(header[at..at + 4].try_into().expect("4 bytes"));
    let field_u64 = |at: usize| u64::from_le_bytes(header[at..at + 8].try_into().expect("8 bytes"));
    let payload_len = field_u32(4) as usize;
    let kind = Kind::from_code(header[8]).ok_or(RecordFault::BadHeader)?;
    let group_start = field_u32(12);
    if header[9..12] != [0, 0, 0]
        || group_start as usize > offset
        || !(group_start as usize).is_multiple_of(RECORD_ALIGN)
    {
        return Err(RecordFault::BadHeader);
    }
    let payload = data
        .get(offset + RECORD_HEADER_LEN..offset + RECORD_HEADER_LEN + payload_len)
        .ok_or(RecordFault::Truncated)?;
    let mut crc = crc32fast::Hasher::new();
    crc.update(&header[4..12]);
    crc.update(&header[16..RECORD_HEADER_LEN]);
    crc.update(payload);
    crc.update(&segment_id.to_le_bytes());
    crc.update(&group_start.to_le_bytes());
    if crc.finalize() != field_u32(0) {
        return Err(RecordFault::CrcMismatch);
    }
    Ok(RecordView {
        kind,
        start_ts: field_u64(16),
        commit_ts: field_u64(24),
        group_start,
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(kind: Kind, payload: &[u8]) -> EncodedRecord {
        let record = Record {
            kind,
            start_ts: 7,
            commit_ts: 9,
            payload,
        };
        EncodedRecord::encode(&record, 1 << 20).unwrap()
    }

    #[test]
    fn round_trip_every_kind_and_padding() {
        for kind in [Kind::Prewrite, Kind::Commit, Kind::Rollback, Kind::Fake] {
            for len in [0usize, 1, 7, 8, 9, 100] {
                let payload: Vec<u8> = (0..len as u8).collect();
                let encoded = encode(kind, &payload);
                assert_eq!(encoded.span() % RECORD_ALIGN, 0);
                assert_eq!(encoded.payload_len() as usize, len);
                let mut out = vec![0u8; 16];
                encoded.place(42, 16, &mut out);
                let view = read_record(&out, 16, 42).unwrap();
                assert_eq!(view.kind, kind);
                assert_eq!(
                    (view.start_ts, view.commit_ts, view.group_start),
                    (7, 9, 16)
                );
                assert_eq!(view.payload, &payload[..]);
                assert_eq!(view.span(), encoded.span());
            }
        }
    }

    #[test]
    fn another_segment_id_or_a_flipped_bit_fails() {
        let encoded = encode(Kind::Commit, b"hello world");
        let mut out = Vec::new();
        encoded.place(1, 0, &mut out);
        assert_eq!(
            read_record(&out, 0, 2).unwrap_err(),
            RecordFault::CrcMismatch
        );
        // Every bit of the header and payload is covered (the zero padding carries nothing).
        for bit in 0..(RECORD_HEADER_LEN + 11) * 8 {
            let mut damaged = out.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            assert!(read_record(&damaged, 0, 1).is_err(), "bit {bit}");
        }
        assert_eq!(
            read_record(&out[..out.len() - 8], 0, 1).unwrap_err(),
            RecordFault::Truncated
        );
    }

    #[test]
    fn zeros_truncations_and_oversized_appends_are_rejected() {
        assert_eq!(
            read_record(&[0u8; 64], 0, 1).unwrap_err(),
            RecordFault::BadHeader
        );
        let encoded = encode(Kind::Prewrite, &[1u8; 100]);
        let mut out = Vec::new();
        encoded.place(1, 0, &mut out);
        assert_eq!(
            read_record(&out[..out.len() - 8], 0, 1).unwrap_err(),
            RecordFault::Truncated
        );
        assert!(matches!(
            EncodedRecord::encode(
                &Record {
                    kind: Kind::Prewrite,
                    start_ts: 1,
                    commit_ts: 0,
                    payload: &[0u8; 10]
                },
                9
            ),
            Err(Error::RecordTooLarge { size: 10, max: 9 })
        ));
    }
}
