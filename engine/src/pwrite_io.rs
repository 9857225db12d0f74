//! The portable backend: one `pwrite` and one `fdatasync` per call.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use crate::log_io::{IoFailure, LogIo, Written};

/// `pwrite` + `fdatasync`.
pub struct PwriteIo;

impl LogIo for PwriteIo {
    fn name(&self) -> &'static str {
        "pwrite"
    }

    fn write_at(
        &mut self,
        file: &File,
        offset: u64,
        buf: &[u8],
        sync: bool,
    ) -> Result<Written, IoFailure> {
        let bytes = loop {
            match file.write_at(buf, offset) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                result => break result.map_err(IoFailure::Write)?,
            }
        };
        let synced = sync && bytes == buf.len();
        if synced {
            file.sync_data().map_err(IoFailure::Sync)?;
        }
        Ok(Written { bytes, synced })
    }

    fn sync(&mut self, file: &File) -> io::Result<()> {
        file.sync_data()
    }
}
